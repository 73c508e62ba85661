/* walk.h - the packet walk of uplink ingress, written once for XDP and tc
 * ingress: parse, VIP or tunnel, pick, deliver, ICMP; a hook-neutral verdict. */
#ifndef NOSNAT_WALK_H
#define NOSNAT_WALK_H

#include <linux/pkt_cls.h>
#include "ctx.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "lookup.h"
#include "deliver.h"
#include "decap.h"
#include "v6.h"

/* What tc pulls into the linear area for a packet that may be ours: L2 with
 * two tags, an outer and an inner IPv4 header with options, and TCP with
 * options or an ICMP error's quote. */
#define WALK_PULL_LEN	256

/* XDP without metadata finishes only what needs no hand-off: a packet for
 * a pod on another node that fits the tunnel and whose next hop XDP can
 * send to. All else is passed on untouched, and tc ingress does the whole
 * walk. Could XDP send it to node? */
static __always_inline int xdp_sends_to(struct xdp_md *ctx, const struct pkt *p,
					const struct nosnat_cfg *cfg, __be32 node, struct route *rt)
{
	__u32 bytes = bpf_ntohs(p->ip->tot_len) + outer_len();

	if (node == cfg->node_ip || (cfg->flags & NOSNAT_CFG_ENCAP_VIA_TC) ||
	    (cfg->mtu && bytes > cfg->mtu))
		return 0;
	/* this CPU's answer of this tick asked for here, without the call */
	return route_cached(ctx->ingress_ifindex, node, rt) ||
	       (!nosnat_route(ctx, node, (__u32)p->ip->tos << 16 | (__u16)bytes, rt) && !rt->to_tc);
}

/* An established flow's packet (not a SYN) is known to be XDP's before
 * anything changes (a flow recorded, a budget spent, a counter moved). Its
 * pick is then made (pk), and the walk does not make it again. A newer
 * handshake on the flow's addresses and ports: no pick, tc promotes it. */
static __always_inline int xdp_finishes(struct xdp_md *ctx, const struct pkt *p,
					const struct nosnat_flow_key *k,
					const struct nosnat_cfg *cfg, struct pick *pk,
					struct route *rt)
{
	return pick_established(k, tcp_seq_of(p), pk) &&
	       xdp_sends_to(ctx, p, cfg, pk->be->node, rt);
}

/* A SYN is picked first: what the pick changed, a flow recorded in
 * nosnat_flow_new, is what tc's walk of the same SYN finds again (a SYN
 * again: the same pod, no second insert), and the mark tells tc that the
 * new flow is still to be counted. Dropped SYNs (spoofed, no pod) end here
 * too. */
static __always_inline int xdp_finishes_syn(struct xdp_md *ctx, const struct pkt *p,
					    const struct nosnat_flow_key *k,
					    const struct nosnat_cfg *cfg, struct pick *pk,
					    struct route *rt)
{
	struct nosnat_flow *nf;

	if (pk->new_flow == NEW_FLOW_SPOOFED || !pk->be ||
	    xdp_sends_to(ctx, p, cfg, pk->be->node, rt))
		return 1;
	if (pk->new_flow == 1 && !pk->handed_on) {
		nf = hs_lookup(k);
		if (nf && nf->backend_id == pk->id)
			nf->flags |= NOSNAT_FLOW_HANDED_ON;
	}
	return 0;
}

/* UDP that may be to the GUE port (its header not in the linear area: may
 * be), before the walk reads its ports: a GUE packet's inner headers are
 * wanted in the linear area too. */
static __always_inline int gue_port_maybe(const struct pkt *p)
{
	const struct nosnat_cfg *cfg = cfg_get();
	struct udphdr *uh = (void *)p->ip + (p->ip_len & 0x3c);

	if (!cfg || !(cfg->decap & NOSNAT_DECAP_GUE) || p->ip->daddr != cfg->node_ip)
		return 0;
	return (void *)(uh + 1) > p->data_end || uh->dest == cfg->gue_port;
}

/* Could the packet be ours? Then tc wants all its headers at hand: a
 * tunnel's inner ones too (WALK_TUNNEL), else those of a VIP's packet. */
enum { WALK_NOT_OURS = 0, WALK_VIP, WALK_TUNNEL };

static __always_inline int walk_candidate(const struct pkt *p)
{
	if (p->proto == IPPROTO_IPIP)
		return WALK_TUNNEL;
	if (p->proto == IPPROTO_UDP && !p->fragment && gue_port_maybe(p))
		return WALK_TUNNEL;
	return (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || p->proto == IPPROTO_ICMP) &&
	       vip_filter_hit(p->ip->daddr) ? WALK_VIP : WALK_NOT_OURS;
}

/* A TCP or UDP packet (not a later fragment) whose headers, TCP options
 * included, are all in the linear area already. */
static __always_inline int walk_headers_linear(const struct pkt *p, int rc)
{
	void *l4;

	if (rc != PARSE_OK || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return 0;
	l4 = (void *)p->ip + (p->ip_len & 0x3c);
	if (p->proto == IPPROTO_UDP)
		return l4 + sizeof(struct udphdr) <= p->data_end;
	if (l4 + sizeof(struct tcphdr) > p->data_end)
		return 0;
	return l4 + ((((struct tcphdr *)l4)->doff & 0xf) << 2) <= p->data_end;
}

/* A tunnel addressed to this node, of a kind it takes off (gue: GUE, else
 * IPIP), walked on its own at tc: a global function, verified once.
 * Inlined, it would be walked by the verifier once for IPIP and again for
 * GUE (the outer headers end at other offsets), deliver and all. */
static __always_inline __u64 tunnel_walk(ctx_t c, __u32 gue)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };
	const struct nosnat_cfg *cfg = cfg_get();
	struct pkt p = {};

	if (!cfg || pkt_parse(c, &p) != PARSE_OK) {
		set_verdict(&v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return verdict_pack(&v);
	}
	/* 8 more for GUE's UDP header, as a number: no branch */
	p.tun_len = (p.ip_len & 0x3c) + ((gue & 1) << 3);
	handle_tunnel(c, &p, cfg, &v);
	/* what was taken off, counted by kind: a cluster that changes over
	 * sees when no node sends IPIP any more */
	if ((gue & 1) && v.action == NOSNAT_ACT_DECAP && v.reason == NOSNAT_R_NONE)
		v.reason = NOSNAT_R_GUE;
	return verdict_pack(&v);
}

__attribute__((noinline)) __u64 nosnat_tunnel_skb(struct __sk_buff *skb, __u32 gue)
{
	if (!skb)
		return OUT_PASS;
	return tunnel_walk(CTX_SKB(skb), gue);
}

/* XDP at a tunnel to this node of a kind it takes off: IPIP taken off
 * here when XDP hands work to tc through metadata; GUE, and every tunnel
 * without metadata, goes to tc whole. A second kind walked here would be
 * walked twice by the verifier (XDP's budget, 500k on Debian 12's kernel,
 * has no room for that), and a call to tc's way of doing it would put its
 * stack under the walk's. */
static __always_inline void xdp_tunnel(struct xdp_md *ctx, struct pkt *p,
				       const struct nosnat_cfg *cfg, int finish_all,
				       struct verdict *v)
{
	if (!finish_all || p->proto == IPPROTO_UDP) {
		struct iphdr *inner = (void *)p->ip + (p->ip_len & 0x3c) +
				      (p->proto == IPPROTO_UDP ? sizeof(struct udphdr) : 0);

		/* someone else's tunnel (Calico's IPIP) stays XDP's pass */
		if (p->fragment)
			return;
		if ((void *)(inner + 1) > p->data_end)
			set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
		else if (inner->version == 6 ? inner6_maybe(inner, p->data_end)
					     : vip_filter_hit(inner->daddr))
			to_tc(v);
		return;
	}
	p->tun_len = p->ip_len & 0x3c;
	handle_tunnel(CTX_XDP(ctx), p, cfg, v);
}

/* The walk. finish_all: every step may be taken (tc; XDP with metadata
 * room); else XDP finishes only what xdp_finishes says. */
static __always_inline void dp_walk(ctx_t c, struct verdict *v, int finish_all)
{
	const struct nosnat_cfg *cfg;
	__be16 sport = 0, dport = 0;
	struct pkt p = {};
	int rc, cand = WALK_NOT_OURS;

	rc = parse_l2_l3(ctx_data(c), ctx_data_end(c), &p, ctx_linear(c));
	if (rc == PARSE_NOT_IPV4) {
		/* a v6 VIP's frame, maybe: XDP's v6 walk (v6.h), a program of
		 * its own, is next. Its slot empty (a moment of an upgrade),
		 * the frame passes on untouched, and tc ingress walks it.
		 * Here, not before the walk: a test ahead of it split the
		 * states the verifier walks it in (54k instructions more). */
		if (!c.tc && nosnat_xdp6_tail && xdp_v6_maybe(ctx_xdp(c)))
			bpf_tail_call(ctx_xdp(c), &nosnat_xdp6_jmp, 0);
		return;
	}
	if (c.tc && (rc == PARSE_MALFORMED || (cand = walk_candidate(&p)))) {
		/* headers may sit beyond the linear area: pulled, read again;
		 * a VIP's TCP or UDP packet whose headers are all there
		 * already (a GRO or TSO skb's are) is not pulled: pulling 256
		 * bytes of a 64 KiB skb whose head holds only its headers
		 * copies payload, often into a new head */
		if ((cand == WALK_TUNNEL || !walk_headers_linear(&p, rc)) &&
		    ctx_pull(c, WALK_PULL_LEN))
			return;
		p = (struct pkt){};
		rc = pkt_parse(c, &p);
		if (rc == PARSE_NOT_IPV4)
			return;
	}
	if (rc == PARSE_MALFORMED) {
		/* Can we tell whose it is? Only a readable dst says. */
		if (p.ip && is_vip_addr(p.ip->daddr))
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		else
			set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
		return;
	}
	if (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) {
		if (!vip_filter_hit(p.ip->daddr)) {
			/* the common case: not a VIP address. TCP is gone
			 * before its header is read, and UDP unless it may be
			 * GUE to this node (its port, read as tc's pull does) */
			if (p.proto == IPPROTO_TCP || p.fragment || !gue_port_maybe(&p))
				return;
			if (parse_ports(&p, &sport, &dport) != PARSE_OK) {
				set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
				return;
			}
			if (!gue_for_node(&p, dport, cfg_get()))
				return;
			goto tunnel;
		}
		if (p.fragment) {
			if (is_vip_addr(p.ip->daddr))
				set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
			return;
		}
		if (parse_ports(&p, &sport, &dport) != PARSE_OK) {
			if (is_vip_addr(p.ip->daddr))
				set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			else
				set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
			return;
		}
		cfg = cfg_get();
		/* GUE to this node, whose address shares its filter bit with a
		 * VIP's (no VIP is a node's address: apply refuses it) */
		if (p.proto == IPPROTO_UDP && gue_for_node(&p, dport, cfg))
			goto tunnel;
		if (!cfg || !cfg->node_ip) {
			if (vip_lookup(p.ip->daddr, dport, p.proto))
				set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_NO_NODE_IP);
			return;
		}

		struct nosnat_flow_key k = {
			.src = p.ip->saddr, .dst = p.ip->daddr,
			.sport = sport, .dport = dport, .proto = p.proto,
		};
		int syn = tcp_syn(&p);
		struct route rt = {};
		struct deliver d = { .k = &k, .cfg = cfg, .syn = syn, .second_ok = 1, .rt = &rt };
		struct pick pk = {};

		/* a driver that refused metadata room where the kernel allows it
		 * (rare: ena, hv_netvsc, sfc) passes every VIP packet on; a
		 * program loaded without it keeps the established fast path and
		 * new flows to pods on other nodes */
		if (!c.tc && !finish_all &&
		    (nosnat_xdp_meta ||
		     (!syn && !xdp_finishes(ctx_xdp(c), &p, &k, cfg, &pk, &rt)))) {
			if (vip_lookup(k.dst, k.dport, k.proto))
				to_tc(v);
			return;
		}
		/* picked already: XDP's established flow (xdp_finishes) */
		if (!pk.state && !ingress_pick(&k, cfg, syn, syn_ack_of(&p, syn), tcp_seq_of(&p), &pk))
			return;		/* no VIP:port of that address */
		if (!c.tc && !finish_all && syn &&
		    !xdp_finishes_syn(ctx_xdp(c), &p, &k, cfg, &pk, &rt)) {
			to_tc(v);
			return;
		}
		/* what XDP without metadata finishes, it knows the way of
		 * (xdp_sends_to): not asked again */
		d.rt_known = !c.tc && !finish_all;
		vip_deliver(c, &p, &pk, &d, v);
		return;
	}
	if (p.proto == IPPROTO_ICMP && !p.fragment) {
		if (!vip_filter_hit(p.ip->daddr))
			return;		/* the common case: not to a VIP address */
		cfg = cfg_get();
		if (!cfg || !cfg->node_ip || !is_vip_addr(p.ip->daddr))
			return;
		if (!c.tc && !finish_all) {
			to_tc(v);
			return;
		}
		icmp_to_vip(c, &p, cfg, 0, 0, v);
		return;
	}
	if (p.proto == IPPROTO_IPV6 && !p.fragment) {
		/* 6in4 to this node: the v6 tunnel walk (v6.h) is next, at tc;
		 * XDP passes it on */
		cfg = cfg_get();
		if (cfg && cfg->node_ip && p.ip->daddr == cfg->node_ip) {
			if (!c.tc) {
				if (inner6_maybe((void *)p.ip + (p.ip_len & 0x3c), p.data_end))
					to_tc(v);
				return;
			}
			v->out = OUT_TUNNEL;
			v->ifindex = TUNNEL_6IN4;
		}
		return;
	}
	if (p.proto != IPPROTO_IPIP)
		return;
tunnel:
	/* IPIP, or GUE (UDP to this node's port): ours only if this node
	 * takes that kind off and a VIP is inside */
	cfg = cfg_get();
	if (!cfg || !cfg->node_ip || p.ip->daddr != cfg->node_ip || !decap_accepts(&p, cfg))
		return;
	/* XDP takes IPIP off itself when it hands work to tc through
	 * metadata; GUE, and every tunnel without metadata, goes to tc whole:
	 * a second kind walked here would be walked twice by the verifier
	 * (XDP's budget, 500k on Debian 12's kernel, has no room for that),
	 * and a call to tc's way of doing it puts its stack under the
	 * walk's */
	if (!c.tc) {
		xdp_tunnel(ctx_xdp(c), &p, cfg, finish_all, v);
		return;
	}
	/* tc: the entry point calls the tunnel walk next (walk_skb): called
	 * from here, its stack would add to the walk's */
	v->out = OUT_TUNNEL;
	v->ifindex = p.proto == IPPROTO_UDP;
}

/* tc's walk as a global function: verified once, on its own, not again for
 * every state the entry point reaches it in (the tc twin's checks before it
 * multiplied those), and its stack apart from the twin's. XDP inlines the
 * walk: every packet the node receives crosses it. */
__attribute__((noinline)) __u64 nosnat_walk_skb(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!skb)
		return verdict_pack(&v);
	dp_walk(CTX_SKB(skb), &v, 1);
	return verdict_pack(&v);
}

/* XDP's walk, inlined: every packet the node receives comes this way,
 * most of them to leave at the address filter, without a call. */
static __always_inline void walk_xdp(struct xdp_md *ctx, struct verdict *v, int finish_all)
{
	dp_walk(CTX_XDP(ctx), v, nosnat_xdp_meta && finish_all);
}

/* ... and tc's. */
static __always_inline void walk_skb(struct __sk_buff *skb, struct verdict *v)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		verdict_unpack(nosnat_walk6_skb(skb, ~0U), v);
		if (v->out != OUT_TUNNEL)
			return;
		/* ip6ip6 to this node: taken off, then the inner packet
		 * walked for a pod here (by the flow label's tag) */
		verdict_unpack(nosnat_tunnel66_skb(skb), v);
		if (v->out == OUT_TUNNEL)
			verdict_unpack(nosnat_walk6_skb(skb, v->ifindex), v);
		return;
	}
	verdict_unpack(nosnat_walk_skb(skb), v);
	if (v->out != OUT_TUNNEL)
		return;
	if (v->ifindex != TUNNEL_6IN4) {
		verdict_unpack(nosnat_tunnel_skb(skb, v->ifindex), v);
		/* GUE with IPv6 inside: the v6 tunnel walk, as for 6in4 */
		if (v->out != OUT_TUNNEL || v->ifindex != TUNNEL_GUE6)
			return;
	}
	/* 6in4 (or GUE): taken off, then the inner packet walked for a pod
	 * here (by the outer ID's tag) */
	verdict_unpack(nosnat_tunnel6_skb(skb, v->ifindex == TUNNEL_GUE6), v);
	if (v->out == OUT_TUNNEL)
		verdict_unpack(nosnat_walk6_skb(skb, v->ifindex), v);
}

/* The hook-neutral verdict as XDP's return code. */
static __always_inline int xdp_ret(const struct verdict *v)
{
	switch (v->out) {
	case OUT_PASS:
		return XDP_PASS;
	case OUT_TX:
		return XDP_TX;
	case OUT_REDIRECT:
		return bpf_redirect(v->ifindex, 0);
	default:		/* OUT_NEIGH is tc's alone */
		return XDP_DROP;
	}
}

/* ... and as tc's. */
static __always_inline int tc_ret(struct __sk_buff *skb, const struct verdict *v)
{
	switch (v->out) {
	case OUT_PASS:
		return TC_ACT_OK;
	case OUT_TX:
		return bpf_redirect(skb->ingress_ifindex, 0);
	case OUT_REDIRECT:
		return bpf_redirect(v->ifindex, 0);
	case OUT_NEIGH:
		return bpf_redirect_neigh(v->ifindex, NULL, 0, 0);
	default:
		return TC_ACT_SHOT;
	}
}

#endif
