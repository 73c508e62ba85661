// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "pkt.h"

const uint8_t MAC_ROUTER[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t MAC_SELF[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x11 };
const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x12 };

uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

uint16_t csum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static uint32_t pseudo_sum(uint32_t s, uint32_t d, uint8_t proto, size_t len)
{
	uint32_t hs = ntohl(s), hd = ntohl(d);

	return (hs >> 16) + (hs & 0xffff) + (hd >> 16) + (hd & 0xffff) + proto + (uint32_t)len;
}

/* memcpy with a NULL source is undefined even for 0 bytes */
static void copy(void *dst, const void *src, size_t len)
{
	if (len)
		memcpy(dst, src, len);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* The L4 header and payload at t, its sum over the pseudo-header whose
 * address words add up to addr_sum (ICMPv6, protocol 58, gets its sum too;
 * ICMP for IPv4 comes whole from the caller); returns its length. */
static size_t build_l4(uint8_t *t, const struct l4_spec *l4, uint32_t addr_sum)
{
	size_t l4len = 0;
	uint16_t c;

	if (l4->proto == IPPROTO_TCP) {
		size_t thl = 20 + l4->opts_len;

		memset(t, 0, thl);
		put16(t, l4->sport);
		put16(t + 2, l4->dport);
		put32(t + 4, l4->seq);
		put32(t + 8, l4->ack);
		t[12] = (uint8_t)((thl / 4) << 4);
		t[13] = l4->flags;
		put16(t + 14, 64240);
		copy(t + 20, l4->opts, l4->opts_len);
		copy(t + thl, l4->payload, l4->payload_len);
		l4len = thl + l4->payload_len;
		c = csum16(t, l4len, addr_sum + IPPROTO_TCP + (uint32_t)l4len);
		memcpy(t + 16, &c, 2);
	} else if (l4->proto == IPPROTO_UDP) {
		l4len = 8 + l4->payload_len;
		put16(t, l4->sport);
		put16(t + 2, l4->dport);
		put16(t + 4, (uint16_t)l4len);
		put16(t + 6, 0);
		copy(t + 8, l4->payload, l4->payload_len);
		if (!l4->udp_no_csum) {
			c = csum16(t, l4len, addr_sum + IPPROTO_UDP + (uint32_t)l4len);
			if (!c)
				c = 0xffff;
			memcpy(t + 6, &c, 2);
		}
	} else if (l4->payload_len) {
		copy(t, l4->payload, l4->payload_len);
		l4len = l4->payload_len;
		if (l4->proto == 58 && l4len >= 4) {
			put16(t + 2, 0);
			c = csum16(t, l4len, addr_sum + 58 + (uint32_t)l4len);
			memcpy(t + 2, &c, 2);
		}
	}
	return l4len;
}

size_t build_ip(uint8_t *buf, const struct ip_spec *ip, const struct l4_spec *l4)
{
	size_t ihl = 20 + ip->opts_len;
	uint8_t *h = buf;
	size_t l4len = build_l4(buf + ihl, l4, pseudo_sum(ip->saddr, ip->daddr, 0, 0));
	uint16_t c;

	h[0] = 0x40 | (uint8_t)(ihl / 4);
	h[1] = ip->tos;
	put16(h + 2, (uint16_t)(ihl + l4len));
	put16(h + 4, ip->id);
	put16(h + 6, ip->frag);
	h[8] = ip->ttl ? ip->ttl : 64;
	h[9] = ip->proto ? ip->proto : l4->proto;
	put16(h + 10, 0);
	memcpy(h + 12, &ip->saddr, 4);
	memcpy(h + 16, &ip->daddr, 4);
	copy(h + 20, ip->opts, ip->opts_len);
	c = csum16(h, ihl, 0);
	memcpy(h + 10, &c, 2);
	return ihl + l4len;
}

size_t build_ipip(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint8_t tos,
		  uint16_t frag, const uint8_t *inner, size_t inner_len)
{
	struct ip_spec o = { .saddr = src, .daddr = dst, .proto = IPPROTO_IPIP, .tos = tos,
			     .ttl = 64, .id = id, .frag = frag };
	struct l4_spec l = { .payload = inner, .payload_len = inner_len };

	return build_ip(buf, &o, &l);
}

void ip6(const char *s, uint8_t out[16])
{
	inet_pton(AF_INET6, s, out);
}

size_t build_ip6(uint8_t *buf, const struct ip6_spec *ip, const struct l4_spec *l4)
{
	uint8_t *h = buf;
	uint32_t sum = 0;
	size_t l4len;

	for (int i = 0; i < 16; i += 2)
		sum += (uint32_t)(ip->saddr[i] << 8 | ip->saddr[i + 1]) +
		       (uint32_t)(ip->daddr[i] << 8 | ip->daddr[i + 1]);
	l4len = build_l4(buf + 40 + ip->ext_len, l4, sum);
	h[0] = 0x60 | (ip->tclass >> 4);
	h[1] = (uint8_t)(ip->tclass << 4);
	h[2] = h[3] = 0;
	put16(h + 4, (uint16_t)(ip->ext_len + l4len));
	h[6] = ip->ext_len ? ip->first_nh : l4->proto;
	h[7] = ip->hlim ? ip->hlim : 64;
	memcpy(h + 8, ip->saddr, 16);
	memcpy(h + 24, ip->daddr, 16);
	copy(h + 40, ip->ext, ip->ext_len);
	return 40 + ip->ext_len + l4len;
}

size_t build_tun4(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint8_t tos,
		  uint8_t proto, const uint8_t *inner, size_t inner_len)
{
	struct ip_spec o = { .saddr = src, .daddr = dst, .proto = proto, .tos = tos,
			     .ttl = 64, .id = id, .frag = 0x4000 };
	struct l4_spec l = { .payload = inner, .payload_len = inner_len };

	return build_ip(buf, &o, &l);
}

size_t build_gue(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint16_t sport,
		 uint16_t dport, const uint8_t *inner, size_t inner_len)
{
	static uint8_t udp[2048];
	struct ip_spec o = { .saddr = src, .daddr = dst, .proto = IPPROTO_UDP, .ttl = 64, .id = id,
			     .frag = 0x4000 };
	struct l4_spec l = { .payload = udp, .payload_len = 8 + inner_len };

	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + inner_len));
	put16(udp + 6, 0);
	memcpy(udp + 8, inner, inner_len);
	return build_ip(buf, &o, &l);
}

size_t build_icmp_error(uint8_t *buf, const struct ip_spec *ip, uint8_t type, uint8_t code,
			uint16_t mtu, const uint8_t *q, size_t qlen)
{
	static uint8_t msg[1024];
	struct ip_spec i = *ip;
	struct l4_spec l = { .proto = IPPROTO_ICMP, .payload = msg, .payload_len = 8 + qlen };
	uint16_t c;

	memset(msg, 0, 8);
	msg[0] = type;
	msg[1] = code;
	msg[6] = (uint8_t)(mtu >> 8);
	msg[7] = (uint8_t)mtu;
	memcpy(msg + 8, q, qlen);
	c = csum16(msg, 8 + qlen, 0);
	memcpy(msg + 2, &c, 2);
	i.proto = IPPROTO_ICMP;
	return build_ip(buf, &i, &l);
}

size_t build_eth(uint8_t *buf, const uint8_t *dmac, const uint8_t *smac, int vlans,
		 uint16_t ethertype, const uint8_t *l3, size_t l3_len)
{
	size_t off = 12;

	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	for (int i = 0; i < vlans; i++) {
		put16(buf + off, i == 0 && vlans == 2 ? 0x88a8 : 0x8100);
		put16(buf + off + 2, (uint16_t)(100 + i));
		off += 4;
	}
	put16(buf + off, ethertype);
	off += 2;
	memcpy(buf + off, l3, l3_len);
	return off + l3_len;
}

void l4_set_partial(uint8_t *l3)
{
	size_t ihl = (size_t)(l3[0] & 0x0f) * 4;
	uint16_t tot = (uint16_t)(l3[2] << 8 | l3[3]);
	uint32_t s, d, sum;
	uint16_t c;

	memcpy(&s, l3 + 12, 4);
	memcpy(&d, l3 + 16, 4);
	sum = pseudo_sum(s, d, l3[9], tot - ihl);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = htons((uint16_t)sum);
	memcpy(l3 + ihl + (l3[9] == IPPROTO_TCP ? 16 : 6), &c, 2);
}
