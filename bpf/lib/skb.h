/* skb.h - the walk's steps that only tc does, on the skb: rewrites through
 * the checksum helpers, room for the outer header made and taken, the way
 * out through the kernel's neighbour code, ICMP fragmentation-needed. */
#ifndef NOSNAT_SKB_H
#define NOSNAT_SKB_H

#include <linux/pkt_cls.h>
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "encap.h"
#include "stats.h"

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4	(1ULL << 7)	/* Linux 6.3+ */
#endif
#define EINVAL_ 22

/* dst VIP:port -> pod:pod_port on p (TCP/UDP, headers in the linear area).
 * The IP header sum is always complete and fixed in place; the L4 one goes
 * through the helper with BPF_F_PSEUDO_HDR, right for a partial and a
 * complete sum alike (and for a GRO train, partial too). */
static __always_inline int skb_dnat(struct __sk_buff *skb, struct pkt *p, __be32 pod,
				    __be16 pod_port)
{
	__u32 l4 = p->l2_len + p->ip_len;
	__u32 csum_off = l4 + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
						       : offsetof(struct udphdr, check));
	__u64 pseudo = BPF_F_PSEUDO_HDR | (p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
	__be16 *port = p->l4 + 2;	/* destination port: TCP and UDP alike */
	__be32 vip = p->ip->daddr;
	__be16 vip_port;
	int no_sum;

	if (!p->l4 || (void *)(port + 3) > p->data_end)	/* through UDP's check */
		return -1;
	vip_port = *port;
	no_sum = p->proto == IPPROTO_UDP && !port[2];	/* UDP's check, 0: none */
	/* headers in place (the prologue made the linear part private) */
	csum_replace4(&p->ip->check, vip, pod);
	p->ip->daddr = pod;
	*port = pod_port;
	if (bpf_l4_csum_replace(skb, csum_off, vip, pod, pseudo | sizeof(pod)) ||
	    bpf_l4_csum_replace(skb, csum_off, vip_port, pod_port,
				(pseudo & BPF_F_MARK_MANGLED_0) | sizeof(pod_port)))
		return -1;
	/* A complete sum (CHECKSUM_COMPLETE, a NIC's) covers the port: the
	 * helpers keep it where the L4 sum's change offsets the port's, but a
	 * datagram without a sum has none, and the port's change is added.
	 * (The address's change is offset by the IP header's sum.) */
	if (no_sum)
		bpf_csum_update(skb, (__u16)~vip_port + (__u32)pod_port);
	return 0;
}

/* The interface towards node, from the kernel's FIB, and its neighbour's
 * and its own MAC when the neighbour is resolved (rt->to_tc 0) or not
 * (NOSNAT_R_NEIGH_FALLBACK: the neighbour code resolves it on the way
 * out). -1: no route. A resolved answer is this CPU's for the rest of the
 * tick, as at XDP (nosnat_route): the FIB is asked once per node and tick. */
static __always_inline int skb_route(struct __sk_buff *skb, __be32 src, __be32 node, __u8 tos,
				     __u16 tot_len, struct route *rt)
{
	long rc;

	if (route_cached(skb->ingress_ifindex, node, rt))
		return 0;

	/* filled only when the FIB is asked */
	struct bpf_fib_lookup fib = {
		.family = AF_INET, .tos = tos, .l4_protocol = IPPROTO_IPIP, .tot_len = tot_len,
		.ifindex = skb->ingress_ifindex, .ipv4_src = src, .ipv4_dst = node,
	};

	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(rt->dmac, fib.dmac, ETH_ALEN);
		__builtin_memcpy(rt->smac, fib.smac, ETH_ALEN);
		rt->ifindex = fib.ifindex;
		route_remember(skb->ingress_ifindex, node, &fib);
		return 0;
	}
	/* the sizes were checked already (segments, for a GRO train) */
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH || rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		rt->to_tc = NOSNAT_R_NEIGH_FALLBACK;
		rt->ifindex = fib.ifindex;
		return rt->ifindex ? 0 : -1;
	}
	return -1;
}

/* Make room for the outer headers between L2 and the inner IPv4 header and
 * write them: the skb learns it is encapsulated (a GRO train is segmented
 * as IPIP or as a UDP tunnel on the way out, inner checksums as they came). */
static __always_inline int skb_encap(struct __sk_buff *skb, struct pkt *p,
				     const struct outer_hdr *o)
{
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;

	if (nosnat_encap_gue)
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
	if (bpf_skb_adjust_room(skb, outer_len(), BPF_ADJ_ROOM_MAC, flags))
		return -1;
	return outer_ipv4_place((void *)(long)skb->data, (void *)(long)skb->data_end, p, o);
}

/* Take the outer headers (tun_outer_len(p) bytes after L2) away. */
static __always_inline int skb_decap(struct __sk_buff *skb, struct pkt *p)
{
	__s32 diff = -(__s32)tun_outer_len(p);
	long rc;

	/* GUE too: the kernel has no flag for an outer UDP header going, and
	 * needs none (its GRO took no UDP tunnel to this port apart) */
	ecn_decap(p, p->data_end);
	rc = bpf_skb_adjust_room(skb, diff, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_DECAP_L3_IPV4);
	if (rc == -EINVAL_)	/* a kernel before the flags: the skb as it is */
		rc = bpf_skb_adjust_room(skb, diff, BPF_ADJ_ROOM_MAC, 0);
	return rc ? -1 : 0;
}

/* The bytes of an ICMP "fragmentation needed" after L2, built in a per-CPU
 * scratch element: on the stack they would crowd the walk's frame. */
struct skb_frag_msg {
	struct iphdr ip;
	struct icmp_frag_hdr icmp;
	__u8 quote[ICMP_QUOTE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct skb_frag_msg);
} nosnat_frag_msg SEC(".maps");

/* Turn the packet into ICMP "fragmentation needed" back to its sender,
 * quoting its IP header (with options) and 8 bytes, MACs swapped; it goes
 * back out of the interface it came in on. */
static __always_inline int skb_frag_needed(struct __sk_buff *skb, struct pkt *p, __be32 node_ip,
					   __u16 mtu)
{
	__u32 l2_len = p->l2_len & 0x1f, qlen = (p->ip_len & 0x3c) + 8, zero = 0;
	struct skb_frag_msg *mp = bpf_map_lookup_elem(&nosnat_frag_msg, &zero);
	__u8 macs[2 * ETH_ALEN], swapped[2 * ETH_ALEN];
	__s64 sum;

	if (!mp || qlen < sizeof(struct iphdr) + 8 || qlen > ICMP_QUOTE_MAX)
		return -1;
	__builtin_memset(mp, 0, sizeof(*mp));
	if (bpf_skb_load_bytes(skb, l2_len, mp->quote, qlen) ||
	    bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
		return -1;
	if (bpf_skb_change_tail(skb, l2_len + sizeof(mp->ip) + sizeof(mp->icmp) + qlen, 0))
		return -1;
	mp->ip.version = 4;
	mp->ip.ihl = 5;
	mp->ip.tos = 0xc0;	/* internetwork control, as the kernel sends */
	mp->ip.tot_len = bpf_htons(sizeof(mp->ip) + sizeof(mp->icmp) + qlen);
	mp->ip.ttl = 64;
	mp->ip.protocol = IPPROTO_ICMP;
	mp->ip.saddr = node_ip;
	mp->ip.daddr = ((struct iphdr *)mp->quote)->saddr;
	mp->ip.check = ipv4_hdr_csum(&mp->ip);
	mp->icmp.type = ICMP_DEST_UNREACH;
	mp->icmp.code = ICMP_FRAG_NEEDED;
	mp->icmp.mtu = bpf_htons(mtu);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&mp->icmp, sizeof(mp->icmp) + qlen, 0);
	if (sum < 0)
		return -1;
	mp->icmp.checksum = csum_fold((__u32)sum);
	__builtin_memcpy(swapped, macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(swapped + ETH_ALEN, macs, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) ||
	    bpf_skb_store_bytes(skb, l2_len, mp, sizeof(mp->ip) + sizeof(mp->icmp) + qlen, 0))
		return -1;
	return 0;
}

/* The payload of one segment of p: a GRO train is sent as segments of
 * gso_size, each with the headers again; anything else as it is. */
static __always_inline __u32 skb_segment_len(struct __sk_buff *skb, struct pkt *p)
{
	__u32 l4_hdr = 0;

	if (!skb->gso_size)
		return bpf_ntohs(p->ip->tot_len);
	if (p->proto == IPPROTO_TCP && p->l4) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end)
			return bpf_ntohs(p->ip->tot_len);
		l4_hdr = th->doff * 4;
	} else if (p->proto == IPPROTO_UDP) {
		l4_hdr = sizeof(struct udphdr);
	}
	return p->ip_len + l4_hdr + skb->gso_size;
}

#endif
