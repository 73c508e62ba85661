/* encap.h - IPIP or GUE between nodes, XDP's side (skb.h has tc's): encapsulate
 * towards a backend's node and forward (fib lookup, XDP_TX/redirect, tc
 * hand-off), decapsulate, and ICMP fragmentation-needed for what cannot grow. */
#ifndef NOSNAT_ENCAP_H
#define NOSNAT_ENCAP_H

#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "stats.h"
#include "clock.h"
#include "hash.h"

#define AF_INET			2	/* <sys/socket.h> is not for BPF */
#define ICMP_DEST_UNREACH	3
#define ICMP_FRAG_NEEDED	4

/* <linux/icmp.h> drags in libc headers; this is the part we write. */
struct icmp_frag_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 unused;
	__be16 mtu;		/* next-hop MTU, RFC 1191 */
};

/* Ethernet header plus up to two VLAN tags, carried across a head move. */
struct l2_hdr {
	__u8 bytes[sizeof(struct ethhdr) + 2 * sizeof(struct vlan_tag)];
};

static __always_inline int l2_save(void *data, void *data_end, __u32 l2_len, struct l2_hdr *h)
{
	if (data + sizeof(h->bytes) <= data_end && l2_len == sizeof(h->bytes)) {
		__builtin_memcpy(h->bytes, data, sizeof(h->bytes));
		return 0;
	}
	if (data + 18 <= data_end && l2_len == 18) {
		__builtin_memcpy(h->bytes, data, 18);
		return 0;
	}
	if (data + 14 <= data_end && l2_len == 14) {
		__builtin_memcpy(h->bytes, data, 14);
		return 0;
	}
	return -1;
}

static __always_inline int l2_restore(void *data, void *data_end, __u32 l2_len,
				      const struct l2_hdr *h)
{
	if (data + sizeof(h->bytes) <= data_end && l2_len == sizeof(h->bytes)) {
		__builtin_memcpy(data, h->bytes, sizeof(h->bytes));
		return 0;
	}
	if (data + 18 <= data_end && l2_len == 18) {
		__builtin_memcpy(data, h->bytes, 18);
		return 0;
	}
	if (data + 14 <= data_end && l2_len == 14) {
		__builtin_memcpy(data, h->bytes, 14);
		return 0;
	}
	return -1;
}

/* Copy a plain Ethernet header within the frame, in words (the regions
 * must not overlap: callers move it by a whole IPv4 header, >= 20 bytes). */
static __always_inline void eth_move(void *to, const void *from)
{
	*(__u64 *)to = *(const __u64 *)from;
	*(__u32 *)(to + 8) = *(const __u32 *)(from + 8);
	*(__u16 *)(to + 12) = *(const __u16 *)(from + 12);
}

/* What this node wraps a packet to another node in: set by the loader
 * (--encap gue), a constant to the verifier, which then walks only that
 * kind's code (a branch on nosnat_cfg would have it walk every step after
 * an encapsulation twice). Decapsulation takes nosnat_cfg.decap instead:
 * what a node takes off may change while the cluster rolls. */
const volatile __u32 nosnat_encap_gue = 0;

/* The outer headers of a packet to another node: IPv4, and UDP for GUE. */
struct outer_hdr {
	__be32 src;		/* this node */
	__be32 dst;		/* the pod's node */
	__be16 sport;		/* GUE: from the flow's hash */
	__be16 dport;		/* GUE: the port */
	__u16 inner_len;
	__u16 tag;		/* the outer IP ID: the chosen pod's tag */
	__u8 tos;
	__u8 pad[3];
};

/* Bytes the outer headers add. */
static __always_inline __u32 outer_len(void)
{
	return nosnat_encap_gue ? NOSNAT_GUE_OVERHEAD : NOSNAT_IPIP_OVERHEAD;
}

/* GUE's outer source port for a flow's addresses and ports (ports_proto:
 * the first 4 bytes of its TCP/UDP header as read, xor its protocol): a
 * global function, its hash verified once, not at every way out (on
 * Debian 12's kernel XDP with metadata, loaded to send GUE, came within
 * 6k of its budget with it inlined). */
__attribute__((noinline)) __u32 nosnat_gue_sport(__u32 saddr, __u32 daddr, __u32 ports_proto)
{
	__u32 h = hash_3words(saddr, daddr, ports_proto);

	return bpf_htons(0xc000 | ((h ^ (h >> 16)) & 0x3fff));
}

/* The outer headers for p (its inner header at p->ip, unchanged yet).
 * GUE's source port comes from the flow's addresses and ports, so that a
 * NIC's RSS spreads one node pair's flows over the receiving node's
 * queues, in the ephemeral range (RFC 6335) as UDP tunnels do. */
static __always_inline void outer_hdr_of(const struct pkt *p, const struct nosnat_cfg *cfg,
					 __be32 dst, __u16 tag, struct outer_hdr *o)
{
	o->src = cfg->node_ip;
	o->dst = dst;
	o->tag = tag;
	o->tos = p->ip->tos;
	o->inner_len = bpf_ntohs(p->ip->tot_len);
	o->sport = 0;
	o->dport = 0;
	if (nosnat_encap_gue) {
		__u32 ports = 0;

		if (p->l4 && p->l4 + 4 <= p->data_end)
			ports = *(__u32 *)p->l4;
		o->sport = (__be16)nosnat_gue_sport(p->ip->saddr, p->ip->daddr, ports ^ p->proto);
		o->dport = cfg->gue_port;
	}
}

/* The outer IPv4 header (this node -> backend's node), and GUE's UDP header
 * after it, for both hooks. The outer IP ID carries the chosen pod's tag,
 * TOS comes from the inner header, and DF is always set: the outer datagram
 * is atomic, never fragmented between nodes, so its ID need not be unique
 * (RFC 6864 4.1) and no two packets can reassemble into one. (A packet that
 * does not fit the uplink is never encapsulated: encap_send. A receiving
 * node never takes a fragmented outer datagram whole either: fragments go
 * to the kernel as they came.) The header sum from the values, not read
 * back. GUE's UDP sum is 0, "none", as IPv4 allows (RFC 768): the inner
 * packet carries its own. */
static __always_inline void outer_ipv4_write(struct iphdr *outer, const struct outer_hdr *o)
{
	__u8 proto = nosnat_encap_gue ? IPPROTO_UDP : IPPROTO_IPIP;
	__be16 df = bpf_htons(IP_DF);
	__be16 ver_tos = bpf_htons(0x4500 | o->tos);
	__be16 tot_len = bpf_htons(o->inner_len + outer_len()), id = bpf_htons(o->tag);
	__be16 ttl_proto = bpf_htons((64 << 8) | proto);
	__u32 sum;

	sum = ver_tos + tot_len + id + df + ttl_proto + (o->src & 0xffff) + (o->src >> 16) +
	      (o->dst & 0xffff) + (o->dst >> 16);
	*(__be16 *)outer = ver_tos;
	outer->tot_len = tot_len;
	outer->id = id;
	outer->frag_off = df;
	*(__be16 *)&outer->ttl = ttl_proto;
	outer->check = csum_fold(sum);
	outer->saddr = o->src;
	outer->daddr = o->dst;
}

/* The outer headers written at p->l2_len of the frame [data, data_end),
 * room made for them already; p then points at the outer IPv4 header. */
static __always_inline int outer_ipv4_place(void *data, void *data_end, struct pkt *p,
					    const struct outer_hdr *o)
{
	struct iphdr *outer = data + (p->l2_len & 0x1f);
	struct udphdr *uh = (void *)(outer + 1);

	if ((void *)(uh + 1) > data_end)
		return -1;
	outer_ipv4_write(outer, o);
	if (nosnat_encap_gue) {
		uh->source = o->sport;
		uh->dest = o->dport;
		uh->len = bpf_htons(o->inner_len + sizeof(*uh));
		uh->check = 0;
	}
	p->ip = outer;
	p->data_end = data_end;
	return 0;
}

/* XDP: room for grow bytes of outer headers between L2 (l2_len bytes, up
 * to two tags) and L3: the frame's head moved, the L2 header after it. */
static __always_inline int xdp_head_grow(struct xdp_md *ctx, __u32 l2_len, __u32 grow)
{
	struct l2_hdr l2;
	void *data, *data_end;

	grow &= 0x3f;
	/* Plain Ethernet: the old header ends up 20 bytes in or more, clear
	 * of the new one, and is copied across. VLAN tags would overlap: saved. */
	if (l2_len != sizeof(struct ethhdr) &&
	    l2_save((void *)(long)ctx->data, (void *)(long)ctx->data_end, l2_len, &l2))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)grow))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (l2_len == sizeof(struct ethhdr)) {
		void *from = data + grow;

		if (data + sizeof(struct ethhdr) > data_end || from + sizeof(struct ethhdr) > data_end)
			return -1;
		eth_move(data, from);
		return 0;
	}
	return l2_restore(data, data_end, l2_len, &l2);
}

/* XDP: prepend the outer headers by moving the frame's head. */
static __always_inline int xdp_encap(struct xdp_md *ctx, struct pkt *p, const struct outer_hdr *o)
{
	if (xdp_head_grow(ctx, p->l2_len, outer_len()))
		return -1;
	return outer_ipv4_place((void *)(long)ctx->data, (void *)(long)ctx->data_end, p, o);
}

/* Set by the loader when the kernel lets XDP programs call
 * bpf_xdp_adjust_meta (some refuse it at verification): when 0, every call
 * is dead code the verifier never walks, and XDP passes on untouched
 * whatever it cannot finish for tc ingress to do whole. */
const volatile __u32 nosnat_xdp_meta = 0;

/* Room for what the tc twin is to do, zeroed, in the frame's metadata; NULL
 * where the driver has none (the frame's pointers are to be taken anew
 * either way). */
static __always_inline struct nosnat_meta *meta_push(struct xdp_md *ctx)
{
	struct nosnat_meta *meta;

	if (!nosnat_xdp_meta)
		return NULL;
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return NULL;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return NULL;
	__builtin_memset(meta, 0, sizeof(*meta));
	return meta;
}

/* Whether this interface's driver gives XDP metadata room (ena, hv_netvsc
 * and sfc give none): asked once, of the first packet, and remembered for
 * the load (a load serves one interface). To be called before the frame's
 * pointers are taken: the probe moves them. */
__u32 nosnat_xdp_meta_room;	/* 0: not asked yet, 1: room, 2: none */

static __always_inline int xdp_meta_room(struct xdp_md *ctx)
{
	if (!nosnat_xdp_meta)
		return 0;
	if (!nosnat_xdp_meta_room) {
		if (bpf_xdp_adjust_meta(ctx, -4)) {
			nosnat_xdp_meta_room = 2;
		} else {
			bpf_xdp_adjust_meta(ctx, 4);
			nosnat_xdp_meta_room = 1;
		}
	}
	return nosnat_xdp_meta_room == 1;
}

/* Pass the encapsulated frame up with a mark in its metadata; the tc
 * ingress twin sees the mark and sends it with bpf_redirect_neigh(), i.e.
 * through the kernel's routing and neighbour resolution. */
static __always_inline void xdp_hand_to_tc(struct xdp_md *ctx, __u32 ifindex, __u32 reason,
				       struct verdict *v)
{
	struct nosnat_meta *meta = meta_push(ctx);

	if (!meta) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FIB_FAILED);
		return;
	}
	meta->magic = NOSNAT_META_MAGIC;
	meta->ifindex = ifindex;
	set_verdict(v, OUT_PASS, NOSNAT_ACT_ENCAP, reason);
}

/* How an encapsulated packet leaves: as a frame XDP sends (XDP_TX or a
 * redirect, with these MACs), or up to the tc twin, which sends it through
 * the kernel's neighbour code. Decided before the packet changes: a frame
 * needs its checksum whole, the tc way keeps what the skb has. */
struct route {
	__u32 to_tc;		/* 0: a frame; else the verdict's reason for tc */
	__u32 ifindex;		/* out (frame) or the hand-off's interface */
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
};

/* This CPU's answer for the way to node during the current tick, for
 * packets that came in on in_ifindex: 1, in rt. Both hooks keep it. */
static __always_inline int route_cached(__u32 in_ifindex, __be32 node, struct route *rt)
{
	__u32 slot = nosnat_nexthop_slot(node);
	struct nosnat_nexthop *nh = bpf_map_lookup_elem(&nosnat_nexthop, &slot);

	if (!nh || nh->node != node || nh->tick != tick_now() || nh->in_ifindex != in_ifindex)
		return 0;
	__builtin_memcpy(rt->dmac, nh->dmac, ETH_ALEN);
	__builtin_memcpy(rt->smac, nh->smac, ETH_ALEN);
	rt->ifindex = nh->out_ifindex;
	rt->to_tc = 0;
	return 1;
}

/* The FIB's answer (a resolved neighbour) kept for the rest of the tick. */
static __always_inline void route_remember(__u32 in_ifindex, __be32 node,
					   const struct bpf_fib_lookup *fib)
{
	__u32 slot = nosnat_nexthop_slot(node);
	struct nosnat_nexthop *nh = bpf_map_lookup_elem(&nosnat_nexthop, &slot);

	if (!nh)
		return;
	nh->node = node;
	nh->in_ifindex = in_ifindex;
	nh->out_ifindex = fib->ifindex;
	nh->tick = tick_now();
	__builtin_memcpy(nh->dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib->smac, ETH_ALEN);
}

/* The way to node for a packet of tot_len bytes (outer header included,
 * in the low 16 bits of tos_len; its TOS above) from this node; -1 when
 * there is none. A global function: verified once, not at every path to
 * each of its callers. */
__attribute__((noinline)) int nosnat_route(struct xdp_md *ctx, __be32 node, __u32 tos_len,
					   struct route *rt)
{
	const struct nosnat_cfg *cfg = cfg_get();
	struct bpf_fib_lookup fib;
	long rc;

	if (!ctx || !rt || !cfg)
		return -1;
	if (cfg->flags & NOSNAT_CFG_ENCAP_VIA_TC) {
		rt->to_tc = NOSNAT_R_TC_FORWARD;
		rt->ifindex = cfg->ifindex;
		return 0;
	}
	/* A route lookup costs as much as the rest of the path: reuse this
	 * CPU's answer for the node during the current tick. */
	if (route_cached(ctx->ingress_ifindex, node, rt))
		return 0;
	__builtin_memset(&fib, 0, sizeof(fib));	/* only when the FIB is asked */
	fib.family = AF_INET;
	fib.tos = (__u8)(tos_len >> 16);
	fib.l4_protocol = IPPROTO_IPIP;
	fib.tot_len = (__u16)tos_len;
	fib.ifindex = ctx->ingress_ifindex;
	fib.ipv4_src = cfg->node_ip;
	fib.ipv4_dst = node;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(rt->dmac, fib.dmac, ETH_ALEN);
		__builtin_memcpy(rt->smac, fib.smac, ETH_ALEN);
		rt->ifindex = fib.ifindex;
		route_remember(ctx->ingress_ifindex, node, &fib);
		return 0;
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* Let the kernel resolve the neighbour. */
		rt->to_tc = NOSNAT_R_NEIGH_FALLBACK;
		rt->ifindex = fib.ifindex ? fib.ifindex : cfg->ifindex;
		return 0;
	}
	return -1;
}

/* An encapsulation's verdict that says only that it left (in IPIP: none,
 * in GUE: gue), no more. */
static __always_inline int encap_plain(__u32 reason)
{
	return reason == NOSNAT_R_NONE || reason == NOSNAT_R_GUE;
}

/* A frame whose next hop is known leaves with its MACs written, out of the
 * interface the FIB named (back out of the one it came in on: OUT_TX). Both
 * hooks send a frame so. */
static __always_inline void frame_send(ctx_t c, const struct route *rt, struct verdict *v)
{
	struct ethhdr *eth = ctx_data(c);

	if ((void *)(eth + 1) > ctx_data_end(c)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	__builtin_memcpy(eth->h_dest, rt->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, rt->smac, ETH_ALEN);
	/* a node loaded to send GUE counts it so (a constant to the verifier) */
	__u32 reason = nosnat_encap_gue ? NOSNAT_R_GUE : NOSNAT_R_NONE;

	if (rt->ifindex == ctx_ingress_ifindex(c)) {
		set_verdict(v, OUT_TX, NOSNAT_ACT_ENCAP, reason);
	} else {
		set_verdict(v, OUT_REDIRECT, NOSNAT_ACT_ENCAP, reason);
		v->ifindex = rt->ifindex;
	}
}

/* XDP: send the encapsulated frame the way rt says. */
static __always_inline void xdp_encap_forward(struct xdp_md *ctx, const struct route *rt,
					      struct verdict *v)
{
	if (rt->to_tc)
		xdp_hand_to_tc(ctx, rt->ifindex, rt->to_tc, v);
	else
		frame_send(CTX_XDP(ctx), rt, v);
}

#ifndef INET_ECN_MASK
#define INET_ECN_MASK	3
#define INET_ECN_CE	3
#endif

/* The bytes of a tunnel's outer headers (p at the outer IPv4 header):
 * IPv4 with options, and UDP after it for GUE. A number the tunnel walk
 * worked out once (walk.h), not a branch on the protocol at every use:
 * each branch would make the verifier walk all that follows twice. */
static __always_inline __u32 tun_outer_len(const struct pkt *p)
{
	return p->tun_len & 0x7c;
}

/* RFC 6040 (normal mode): congestion a router marked on the outer header
 * between nodes (CE) is kept on an ECN-capable inner packet, its header sum
 * mended. A Not-ECT inner packet is left alone (our outer copies the inner
 * ECN field, so no router should have marked it). */
static __always_inline void ecn_decap(struct pkt *p, void *data_end)
{
	struct iphdr *outer = p->ip, *inner = (void *)outer + tun_outer_len(p);
	__be16 old;

	if ((void *)(inner + 1) > data_end)
		return;
	if ((outer->tos & INET_ECN_MASK) != INET_ECN_CE || !(inner->tos & INET_ECN_MASK) ||
	    (inner->tos & INET_ECN_MASK) == INET_ECN_CE)
		return;
	old = *(__be16 *)inner;			/* version, IHL and TOS */
	inner->tos |= INET_ECN_CE;
	csum_replace2(&inner->check, old, *(__be16 *)inner);
}

/* XDP: strip the outer headers (p->ip on: IPv4, and UDP for GUE). */
static __always_inline int xdp_decap(struct xdp_md *ctx, struct pkt *p)
{
	__u32 l2_len = p->l2_len, outer_len = tun_outer_len(p);
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct l2_hdr l2;

	ecn_decap(p, data_end);

	/* Plain Ethernet moves forward over the outer headers before they go
	 * (as xdp_encap moves it back); VLAN tags would overlap: saved. */
	if (l2_len == sizeof(struct ethhdr) && outer_len >= sizeof(struct iphdr)) {
		void *to = data + outer_len;

		if (data + sizeof(struct ethhdr) > data_end || to + sizeof(struct ethhdr) > data_end)
			return -1;
		eth_move(to, data);
		return bpf_xdp_adjust_head(ctx, outer_len) ? -1 : 0;
	}
	if (l2_save(data, data_end, l2_len, &l2))
		return -1;
	if (bpf_xdp_adjust_head(ctx, outer_len))
		return -1;
	return l2_restore((void *)(long)ctx->data, (void *)(long)ctx->data_end, l2_len, &l2);
}

/* XDP: turn the frame into ICMP "fragmentation needed" back to its sender,
 * quoting the IP header (with its options) and 8 bytes of the original. */
#define ICMP_QUOTE_MAX	(60 + 8)

static __always_inline int xdp_frag_needed(struct xdp_md *ctx, struct pkt *p,
					    __be32 node_ip, __u16 mtu)
{
	__u32 l2_len = p->l2_len, grow = sizeof(struct iphdr) + sizeof(struct icmp_frag_hdr);
	__u32 quote_len = (p->ip_len & 0x3c) + 8, len_icmp = sizeof(struct icmp_frag_hdr) + quote_len;
	struct l2_hdr l2;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct icmp_frag_hdr *icmp;
	void *data, *data_end;
	__u8 mac[ETH_ALEN];
	__u32 sum = 0;
	int len;

	if (quote_len < sizeof(struct iphdr) + 8)
		return -1;
	if (l2_save((void *)(long)ctx->data, (void *)(long)ctx->data_end, l2_len, &l2))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)grow))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	len = data_end - data;
	if (bpf_xdp_adjust_tail(ctx, (int)(l2_len + sizeof(struct iphdr) + len_icmp) - len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (l2_restore(data, data_end, l2_len, &l2))
		return -1;
	eth = data;
	ip = data + (l2_len & 0x1f);
	icmp = (void *)(ip + 1);
	struct iphdr *quote = (void *)(icmp + 1);

	if ((void *)(eth + 1) > data_end || (void *)(quote + 1) > data_end)
		return -1;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0xc0;		/* internetwork control, as the kernel sends */
	ip->tot_len = bpf_htons(sizeof(struct iphdr) + len_icmp);
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->check = 0;
	ip->saddr = node_ip;
	ip->daddr = quote->saddr;
	ip->check = ipv4_hdr_csum(ip);

	icmp->type = ICMP_DEST_UNREACH;
	icmp->code = ICMP_FRAG_NEEDED;
	icmp->checksum = 0;
	icmp->unused = 0;
	icmp->mtu = bpf_htons(mtu);
	{
		__u16 *w = (void *)icmp;

		/* the ICMP message is len_icmp bytes (even: 8 + 4n + 8) */
		for (int i = 0; i < (int)(sizeof(*icmp) + ICMP_QUOTE_MAX) / 2; i++) {
			if (i * 2 >= (int)len_icmp || (void *)(w + i + 1) > data_end)
				break;
			sum += w[i];
		}
	}
	icmp->checksum = csum_fold(sum);
	return 0;
}

#endif
