/* nat.h - destination NAT of VIP packets to the pod (XDP, incremental
 * checksums; partial ones completed before IPIP) and TCP MSS clamping. */
#ifndef NOSNAT_NAT_H
#define NOSNAT_NAT_H

#include "maps.h"
#include "parse.h"
#include "csum.h"

#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
#define TCP_MAX_OPT_ITER 12

/* A packet that Linux sent with checksum offload and that crossed a veth
 * (a lab, some VMs) arrives as CHECKSUM_PARTIAL: its TCP/UDP check holds
 * only the folded pseudo-header sum, for "hardware" to finish. XDP cannot
 * see ip_summed, but that value gives it away; a complete checksum equals
 * it by chance once in 65536 packets. Real uplinks never deliver these. */
static __always_inline __sum16 *l4_check(struct pkt *p)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if (!th || (void *)(th + 1) > p->data_end)
			return NULL;
		return &th->check;
	}
	{
		struct udphdr *uh = p->l4;

		if (!uh || (void *)(uh + 1) > p->data_end)
			return NULL;
		return &uh->check;
	}
}

static __always_inline int l4_csum_partial(struct pkt *p)
{
	struct iphdr *ip = p->ip;
	__sum16 *check = l4_check(p);
	__u32 len = bpf_ntohs(ip->tot_len) - p->ip_len;
	__u32 sum;

	if (!check || !*check)
		return 0;
	sum = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) +
	      (ip->daddr >> 16) + bpf_htons((__u16)p->proto) + bpf_htons((__u16)len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return *check == (__u16)sum;
}

/* The partial form of the check is a plain (uncomplemented) sum: an address
 * change moves it the other way from a complete checksum. */
static __always_inline void csum_partial_replace4(__sum16 *check, __be32 from, __be32 to)
{
	__sum16 inv = ~*check;

	csum_replace4(&inv, from, to);
	*check = ~inv;
}

#define CSUM_MAX_WORDS	((1500 - 20) / 4)
#define L4_MAX_OFFSET	128	/* Ethernet, two VLAN tags, IPv4 with options */

/* The folded one's-complement sum of len bytes at l4_off, or -1. A global
 * function: the verifier walks its loop once, not once for every path
 * that leads here (inlined, the loop was two thirds of the program's
 * verification). */
__attribute__((noinline)) int nosnat_l4_sum(struct xdp_md *ctx, __u32 l4_off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *l4;
	__u64 sum = 0;
	__u32 i;

	if (l4_off > L4_MAX_OFFSET)
		return -1;
	l4 = data + l4_off;
	for (i = 0; i < CSUM_MAX_WORDS; i++) {
		__u32 *w = l4 + i * 4;

		if (i * 4 + 4 > len)
			break;
		if ((void *)(w + 1) > data_end)
			return -1;
		sum += *w;
	}
	if (i == CSUM_MAX_WORDS && i * 4 < len)
		return -1;		/* longer than any packet we encapsulate */
	{
		__u8 *t = l4 + (i & 0x1ff) * 4;
		__u32 rest = len - i * 4;

		if (rest >= 1) {
			if ((void *)(t + 1) > data_end)
				return -1;
			sum += t[0];	/* little-endian word view, low byte first */
		}
		if (rest >= 2) {
			if ((void *)(t + 2) > data_end)
				return -1;
			sum += (__u32)t[1] << 8;
		}
		if (rest >= 3) {
			if ((void *)(t + 3) > data_end)
				return -1;
			sum += t[2];
		}
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (__u16)~csum_fold((__u32)(sum & 0xffff) + (__u32)(sum >> 16));
}

/* Turn a partial check into a complete one, in software, before the packet
 * leaves as a frame (XDP_TX): nobody downstream would finish it. The
 * partial value in the check field is the pseudo-header's share of the sum. */
static __always_inline int l4_csum_complete(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	__u32 len = bpf_ntohs(p->ip->tot_len) - p->ip_len;
	__u32 off = (__u32)((void *)p->l4 - data);
	__u32 check_off = off + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							  : offsetof(struct udphdr, check));
	__sum16 *check;
	int sum;

	if (!p->l4)
		return -1;
	sum = nosnat_l4_sum(ctx, off, len);
	if (sum < 0)
		return -1;
	/* pointers are taken afresh after the call */
	data = (void *)(long)ctx->data;
	check = data + (check_off & 0xff);
	if ((void *)(check + 1) > (void *)(long)ctx->data_end)
		return -1;
	*check = (__u16)~(__u16)sum;
	if (!*check && p->proto == IPPROTO_UDP)
		*check = 0xffff;
	return 0;
}

/* Rewrite dst VIP:port -> pod:port; the L4 header is at p->l4. */
static __always_inline int dnat_xdp(struct pkt *p, const struct nosnat_backend *be, int partial)
{
	struct iphdr *ip = p->ip;
	__be32 old_addr = ip->daddr;

	if (!p->l4)
		return -1;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end)
			return -1;
		if (partial) {
			/* ports are summed later, with the payload */
			csum_partial_replace4(&th->check, old_addr, be->addr);
		} else {
			csum_replace4(&th->check, old_addr, be->addr);
			csum_replace2(&th->check, th->dest, be->port);
		}
		th->dest = be->port;
	} else {
		struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > p->data_end)
			return -1;
		if (partial) {
			csum_partial_replace4(&uh->check, old_addr, be->addr);
		} else if (uh->check) {
			csum_replace4(&uh->check, old_addr, be->addr);
			csum_replace2(&uh->check, uh->dest, be->port);
			if (!uh->check)
				uh->check = 0xffff;
		}
		uh->dest = be->port;
	}
	csum_replace4(&ip->check, old_addr, be->addr);
	ip->daddr = be->addr;
	return 0;
}

/* Find the MSS option of a TCP header; returns its offset from th or -1.
 * Senders put MSS first in practice; the walk gives up after a dozen
 * options, which keeps the verifier's work small. */
static __always_inline int tcp_mss_offset(struct tcphdr *th, void *data_end)
{
	__u8 *opt = (__u8 *)(th + 1);
	__u32 optlen = th->doff * 4 - sizeof(*th);
	__u32 off = 0;

#pragma unroll
	for (int i = 0; i < TCP_MAX_OPT_ITER; i++) {
		__u8 *o;
		__u8 kind, len;

		if (off >= optlen || off >= 40)
			return -1;
		o = opt + off;
		if ((void *)(o + 4) > data_end)
			return -1;
		kind = o[0];
		if (kind == TCPOPT_EOL)
			return -1;
		if (kind == TCPOPT_NOP) {
			off++;
			continue;
		}
		len = o[1];
		if (kind == TCPOPT_MSS)
			return (len == 4 && off + 4 <= optlen) ? (int)(sizeof(*th) + off) : -1;
		if (len < 2)
			return -1;
		off += len;
	}
	return -1;
}

/* The one MSS clamp of both paths: the MSS option of th when it is above
 * mss_max, its offset from th (else -1) and its value in *cur. XDP and the
 * skb path differ only in how they write the new value and its checksum. */
static __always_inline int mss_to_clamp(struct tcphdr *th, void *data_end, __u16 mss_max,
					__be16 *cur)
{
	__be16 *mss;
	int off;

	if (!mss_max)
		return -1;
	off = tcp_mss_offset(th, data_end);
	if (off < 0)
		return -1;
	mss = (void *)th + (off & 0x3f) + 2;
	if ((void *)(mss + 1) > data_end || bpf_ntohs(*mss) <= mss_max)
		return -1;
	*cur = *mss;
	return off;
}

/* A 16-bit field at an odd offset adds to the sum byte-swapped. */
static __always_inline __be16 csum_word_at(int off, __be16 v)
{
	return off & 1 ? __builtin_bswap16(v) : v;
}

/* XDP: lower the MSS option of a SYN to mss_max, checksum kept valid. */
static __always_inline void mss_clamp_xdp(struct tcphdr *th, void *data_end, __u16 mss_max)
{
	__be16 cur, clamp = bpf_htons(mss_max), *mss;
	int off;

	if (!th->syn)
		return;
	off = mss_to_clamp(th, data_end, mss_max, &cur);
	if (off < 0)
		return;
	mss = (void *)th + (off & 0x3f) + 2;
	if ((void *)(mss + 1) > data_end)
		return;
	csum_replace2(&th->check, csum_word_at(off, cur), csum_word_at(off, clamp));
	*mss = clamp;
}

#endif
