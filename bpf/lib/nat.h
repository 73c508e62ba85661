/* nat.h - destination NAT of VIP packets to the pod (XDP, incremental
 * checksums; partial ones completed before IPIP) and TCP MSS clamping. */
#ifndef NOSNAT_NAT_H
#define NOSNAT_NAT_H

#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "ctx.h"

#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
#define TCP_MAX_OPT_ITER 12

/* A packet that Linux sent with checksum offload and that crossed a veth
 * (a lab, some VMs) arrives as CHECKSUM_PARTIAL: its TCP/UDP check holds
 * only the folded pseudo-header sum, for "hardware" to finish. XDP cannot
 * see ip_summed; the skb can, so whatever rewrites a checksum that may be
 * partial is done by the tc twin (twin.h). XDP completes the sum itself
 * only for a frame it sends (XDP_TX, redirect), where nobody else would:
 * there the value below tells which might be partial, and completing a
 * complete checksum that happens to equal it gives back the same value. */
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

#define CSUM_CHUNK	256	/* bytes per bpf_csum_diff() call (it takes up to 512) */
#define CSUM_MAX_CHUNKS	(NOSNAT_MAX_MTU / CSUM_CHUNK)
#define L4_MAX_OFFSET	128	/* Ethernet, two VLAN tags, IPv4 with options */

/* The folded one's-complement sum of len bytes at l4_off, or -1. A global
 * function: the verifier walks its loops once, not once for every path
 * that leads here. Whole chunks through the kernel's csum_partial, then
 * words, then the last bytes; where each loop ended is computed from len,
 * not carried out of it, so that every exit is one state to the verifier. */
__attribute__((noinline)) int nosnat_l4_sum(struct xdp_md *ctx, __u64 l4_off, __u64 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *l4, *words;
	__u64 sum = 0;
	__u32 i;

	if (l4_off > L4_MAX_OFFSET || len > NOSNAT_MAX_MTU)
		return -1;
	l4 = data + l4_off;
	for (i = 0; i < CSUM_MAX_CHUNKS; i++) {
		void *c = l4 + i * CSUM_CHUNK;
		__s64 part;

		if ((i + 1) * CSUM_CHUNK > len)
			break;
		if (c + CSUM_CHUNK > data_end)
			return -1;
		part = bpf_csum_diff(NULL, 0, c, CSUM_CHUNK, 0);
		if (part < 0)
			return -1;
		sum += (__u32)part;
	}
	words = l4 + (len & ~(__u64)(CSUM_CHUNK - 1));
	for (i = 0; i < CSUM_CHUNK / 4; i++) {
		__u32 *w = words + i * 4;

		if (i * 4 + 4 > (len & (CSUM_CHUNK - 1)))
			break;
		if ((void *)(w + 1) > data_end)
			return -1;
		sum += *w;
	}
	{
		__u8 *t = words + (len & (CSUM_CHUNK - 4));
		__u32 rest = len & 3;

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
static __always_inline int l4_csum_finish(struct xdp_md *ctx, __u32 off, __u32 len, __u8 proto)
{
	__u32 check_off = off + (proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
						 : offsetof(struct udphdr, check));
	__sum16 *check;
	int sum;

	sum = nosnat_l4_sum(ctx, off, len);
	if (sum < 0)
		return -1;
	/* pointers are taken afresh after the call */
	check = (void *)(long)ctx->data + (check_off & 0xff);
	if ((void *)(check + 1) > (void *)(long)ctx->data_end)
		return -1;
	*check = (__u16)~(__u16)sum;
	if (!*check && proto == IPPROTO_UDP)
		*check = 0xffff;
	return 0;
}

static __always_inline int l4_csum_complete(struct xdp_md *ctx, struct pkt *p)
{
	if (!p->l4)
		return -1;
	return l4_csum_finish(ctx, (__u32)((void *)p->l4 - (void *)(long)ctx->data),
			      bpf_ntohs(p->ip->tot_len) - p->ip_len, p->proto);
}

/* p's pointers again after a helper that may have moved the frame (which
 * the verifier assumes of any that could): same offsets, checked anew. */
static __always_inline int pkt_refresh(ctx_t c, struct pkt *p)
{
	void *data = ctx_data(c);
	void *data_end = ctx_data_end(c);
	struct iphdr *ip = data + (p->l2_len & 0x1f);

	if ((void *)(ip + 1) > data_end)
		return -1;
	p->ip = ip;
	p->data_end = data_end;
	if (p->l4)
		p->l4 = (void *)ip + (p->ip_len & 0x3c);
	return 0;
}

/* Rewrite dst VIP:port -> pod:port in XDP, for a complete checksum: only
 * where the tc twin cannot be told (a driver without XDP metadata, which
 * is a NIC's: those never deliver partial checksums). */
static __always_inline int dnat_xdp(struct pkt *p, const struct nosnat_backend *be)
{
	struct iphdr *ip = p->ip;
	__be32 old_addr = ip->daddr;

	if (!p->l4)
		return -1;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end)
			return -1;
		csum_replace4(&th->check, old_addr, be->addr);
		csum_replace2(&th->check, th->dest, be->port);
		th->dest = be->port;
	} else {
		struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > p->data_end)
			return -1;
		if (uh->check) {
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

/* XDP: lower the MSS option of the SYN whose TCP header is l4_off bytes
 * into the frame to mss_max, checksum kept valid. A global function, like
 * nosnat_l4_sum: its option walk is verified once, not again for every
 * state a sending path reaches it in (on 6.1 that was a fifth of
 * nosnat_xdp's count with metadata, some 125k instructions). */
__attribute__((noinline)) int nosnat_mss_clamp_xdp(struct xdp_md *ctx, __u32 l4_off,
						  __u32 mss_max)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__be16 cur, clamp = bpf_htons(mss_max), *mss;
	struct tcphdr *th;
	int off;

	if (l4_off > L4_MAX_OFFSET)
		return -1;
	th = data + l4_off;
	if ((void *)(th + 1) > data_end || !th->syn)
		return -1;
	off = mss_to_clamp(th, data_end, mss_max, &cur);
	if (off < 0)
		return -1;
	mss = (void *)th + (off & 0x3f) + 2;
	if ((void *)(mss + 1) > data_end)
		return -1;
	csum_replace2(&th->check, csum_word_at(off, cur), csum_word_at(off, clamp));
	*mss = clamp;
	return 0;
}

/* tc: lower the MSS option of the TCP header at l4 to mss_max. The helper
 * keeps the checksum right for a partial and a complete one alike. A
 * global function, as XDP's: tc ingress clamps on three ways (towards
 * another node, a second chance, the twin's hand-off), and each inlined
 * walk of the options cost some 50k verified instructions. */
__attribute__((noinline)) int nosnat_mss_clamp_skb(struct __sk_buff *skb, __u32 l4,
						  __u32 mss_max)
{
	void *data, *data_end;
	struct tcphdr *th;
	__be16 cur, clamp = bpf_htons(mss_max);
	int off;

	if (!skb || l4 > L4_MAX_OFFSET)
		return -1;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	th = data + l4;
	if ((void *)(th + 1) > data_end)
		return -1;
	off = mss_to_clamp(th, data_end, mss_max, &cur);
	if (off < 0)
		return -1;
	bpf_l4_csum_replace(skb, l4 + offsetof(struct tcphdr, check), csum_word_at(off, cur),
			    csum_word_at(off, clamp), sizeof(clamp));
	bpf_skb_store_bytes(skb, l4 + off + 2, &clamp, sizeof(clamp), 0);
	return 0;
}

static __always_inline void mss_clamp_skb(struct __sk_buff *skb, __u32 l4, __u16 mss_max)
{
	nosnat_mss_clamp_skb(skb, l4, mss_max);
}

#endif
