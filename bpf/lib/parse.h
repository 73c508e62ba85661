/* parse.h - bounds-checked header walk shared by the XDP and tc programs:
 * Ethernet (+ up to two VLAN tags), IPv4 with options, TCP/UDP ports. */
#ifndef NOSNAT_PARSE_H
#define NOSNAT_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "ctx.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF		0x2000
#define IP_DF		0x4000
#define IP_OFFSET	0x1fff

/* bpf_ntohs() whose result every verifier can bound. Older verifiers
 * (Debian 12's 6.1, its backports' 6.12; not 6.18) drop all bounds of a
 * byte swap's result, so a length read this way cannot move a packet
 * pointer or bound one ("math between pkt pointer and register with
 * unbounded min value"). The mask gives the range back; the empty asm
 * keeps clang from dropping it as redundant. One ALU instruction. */
static __always_inline __u32 ntohs_bounded(__be16 v)
{
	__u32 h = bpf_ntohs(v);

	asm volatile("" : "+r"(h));
	return h & 0xffff;
}

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

enum parse_result {
	PARSE_OK = 0,
	PARSE_NOT_IPV4,		/* not ours: pass */
	PARSE_MALFORMED,	/* claims IPv4 but headers are cut or lie */
};

struct pkt {
	void *data_end;
	struct iphdr *ip;
	void *l4;		/* NULL for non-first fragments */
	__u32 l2_len;		/* bytes before the IP header */
	__u32 ip_len;		/* IP header length incl. options */
	__u8 proto;
	__u8 fragment;		/* MF set or offset != 0 */
	__u8 tun_len;		/* a tunnel's outer headers (IPv4, and UDP for GUE),
				 * set by the tunnel walk (walk.h) */
};

/* Walk L2 and the IPv4 header. Sets p->ip, p->l2_len, p->ip_len.
 * linear: the whole packet is in [data, data_end) (XDP), so tot_len must
 * fit; an skb may keep its payload in fragments beyond data_end (tc). */
static __always_inline int parse_l2_l3(void *data, void *data_end, struct pkt *p, int linear)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__be16 proto;

	p->data_end = data_end;
	if ((void *)(eth + 1) > data_end)
		return PARSE_NOT_IPV4;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_tag *vt = data + off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vt + 1) > data_end)
			return PARSE_NOT_IPV4;
		proto = vt->proto;
		off += sizeof(*vt);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IPV4;

	struct iphdr *ip = data + off;

	if ((void *)(ip + 1) > data_end)
		return PARSE_MALFORMED;
	p->ip = ip;		/* readable: callers may look at the addresses */
	__u32 ihl = ip->ihl * 4;

	if (ip->version != 4 || ihl < sizeof(*ip))
		return PARSE_MALFORMED;
	if ((void *)ip + ihl > data_end)
		return PARSE_MALFORMED;
	__u32 tot_len = ntohs_bounded(ip->tot_len);

	if (tot_len < ihl)
		return PARSE_MALFORMED;
	if (linear && (void *)ip + tot_len > data_end)
		return PARSE_MALFORMED;
	p->l2_len = off;
	p->ip_len = ihl;
	p->proto = ip->protocol;
	p->fragment = (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
	p->l4 = NULL;
	return PARSE_OK;
}

/* parse_l2_l3 on the hook's packet. An skb's payload may lie beyond its
 * linear area, but not beyond the skb: a packet shorter than its IP length
 * says is cut, at tc as at XDP. */
static __always_inline int pkt_parse(ctx_t c, struct pkt *p)
{
	int rc = parse_l2_l3(ctx_data(c), ctx_data_end(c), p, ctx_linear(c));

	if (c.tc && rc == PARSE_OK && p->l2_len + bpf_ntohs(p->ip->tot_len) > ctx_skb(c)->len)
		rc = PARSE_MALFORMED;
	return rc;
}

/* Locate the TCP/UDP header and its ports. First fragments carry ports too,
 * later ones do not; callers treat any fragment of VIP traffic alike. The
 * header must lie within the IP packet (tot_len), not only within the
 * frame: bytes after tot_len are padding, whatever they hold. */
static __always_inline int parse_ports(struct pkt *p, __be16 *sport, __be16 *dport)
{
	void *l4 = (void *)p->ip + (p->ip_len & 0x3c);
	__u32 l4_room = bpf_ntohs(p->ip->tot_len) - p->ip_len;	/* >= 0: parse_l2_l3 */

	if (p->ip->frag_off & bpf_htons(IP_OFFSET))
		return PARSE_OK;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > p->data_end || l4_room < sizeof(*th))
			return PARSE_MALFORMED;
		if (th->doff < 5 || l4 + th->doff * 4 > p->data_end || th->doff * 4 > l4_room)
			return PARSE_MALFORMED;
		*sport = th->source;
		*dport = th->dest;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > p->data_end || l4_room < sizeof(*uh))
			return PARSE_MALFORMED;
		*sport = uh->source;
		*dport = uh->dest;
	} else {
		return PARSE_OK;
	}
	p->l4 = l4;
	return PARSE_OK;
}

#endif
