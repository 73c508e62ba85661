/* deliver.h - a VIP packet whose pod is chosen: DNAT to a pod here (proven when
 * no entry says so) or IPIP/GUE to its node, second chance too; ICMP errors alike. */
#ifndef NOSNAT_DELIVER_H
#define NOSNAT_DELIVER_H

#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "stats.h"
#include "conntrack.h"
#include "lookup.h"
#include "nat.h"
#include "encap.h"
#include "icmp.h"
#include "skb.h"

static __always_inline int tcp_syn(const struct pkt *p)
{
	const struct tcphdr *th = p->l4;

	if (p->proto != IPPROTO_TCP || !th || (void *)(th + 1) > p->data_end)
		return 0;
	return th->syn && !th->ack;
}

/* What the pod's SYN-ACK must acknowledge: the SYN's sequence number + 1. */
static __always_inline __be32 syn_ack_of(const struct pkt *p, int syn)
{
	if (!syn)	/* tcp_syn() checked the header */
		return 0;
	return bpf_htonl(bpf_ntohl(((const struct tcphdr *)p->l4)->seq) + 1);
}

/* A TCP segment's sequence number (0 for anything else). */
static __always_inline __be32 tcp_seq_of(const struct pkt *p)
{
	const struct tcphdr *th = p->l4;

	if (p->proto != IPPROTO_TCP || !th || (void *)(th + 1) > p->data_end)
		return 0;
	return th->seq;
}

/* The MSS clamp for p's segment: the client's IP options ride in every
 * segment of the flow too. */
static __always_inline __u16 mss_max_for(const struct pkt *p, const struct nosnat_cfg *cfg)
{
	return cfg->mss_max - ((p->ip_len & 0x3c) - sizeof(struct iphdr));
}

/* Encapsulate p to node with outer ID id (IPIP or GUE: nosnat_cfg) and
 * send it, the way to node in *rt (known: XDP asked for it already, before
 * it changed anything). l4: p is TCP/UDP, whose sum may be the partial
 * (offload) kind.
 * XDP: a frame it sends gets the sum completed and its SYN's MSS clamped
 * here; a frame for the tc twin keeps its sum as it came, and the twin
 * clamps, knowing which kind the skb holds. tc: the skb keeps its sum as it
 * came (the kernel finishes a partial one inside the tunnel), its SYN's MSS
 * clamped with the helpers, and leaves with the neighbour's MAC when it is
 * known, else through the neighbour code. An ICMP error that does not fit
 * is dropped: ICMP errors never cause ICMP. */
static __always_inline void encap_send(ctx_t c, struct pkt *p, const struct nosnat_cfg *cfg,
				       __be32 node, __u16 id, int l4, struct route *rt,
				       int known, struct verdict *v)
{
	__u64 bytes = bpf_ntohs(p->ip->tot_len);
	__u64 seg = c.tc ? skb_segment_len(ctx_skb(c), p) : bytes;
	struct outer_hdr o;
	__u32 grow;

	outer_hdr_of(p, cfg, node, id, &o);
	grow = outer_len();
	if (cfg->mtu && seg + grow > cfg->mtu) {
		/* Too big for the tunnel. With DF the sender learns the MTU (an
		 * ICMP error never causes one; a CPU sends at most
		 * NOSNAT_ICMP_PER_SEC a second), by the way encapsulated frames
		 * leave: on a tc uplink XDP_TX would be lost. */
		if (p->proto == IPPROTO_ICMP || !(p->ip->frag_off & bpf_htons(IP_DF)))
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
		else if (rate_over(RATE_ICMP, NOSNAT_ICMP_PER_SEC))
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_LIMITED);
		else if (c.tc) {
			if (skb_frag_needed(ctx_skb(c), p, cfg->node_ip, cfg->mtu - grow))
				set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
			else
				set_verdict(v, OUT_TX, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED);
		} else if (xdp_frag_needed(ctx_xdp(c), p, cfg->node_ip, cfg->mtu - grow))
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
		else if (!(cfg->flags & NOSNAT_CFG_ENCAP_VIA_TC))
			set_verdict(v, OUT_TX, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED);
		else {
			xdp_hand_to_tc(ctx_xdp(c), cfg->ifindex, NOSNAT_R_ICMP_FRAG_NEEDED, v);
			if (v->out == OUT_PASS)
				set_verdict(v, OUT_PASS, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED);
		}
		return;
	}
	if (c.tc) {
		struct __sk_buff *skb = ctx_skb(c);

		/* a GRO train's segments are what must fit the route */
		if (skb_route(skb, cfg->node_ip, node, o.tos, (__u16)(seg + grow), rt)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FIB_FAILED);
			return;
		}
		if (p->proto == IPPROTO_TCP && p->l4) {
			struct tcphdr *th = p->l4;

			if ((void *)(th + 1) <= p->data_end && th->syn)
				mss_clamp_skb(skb, p->l2_len + p->ip_len, mss_max_for(p, cfg));
		}
		if (skb_encap(skb, p, &o)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		if (rt->to_tc) {
			set_verdict(v, OUT_NEIGH, NOSNAT_ACT_ENCAP, NOSNAT_R_NEIGH_FALLBACK);
			v->ifindex = rt->ifindex;
			return;
		}
		frame_send(c, rt, v);
		return;
	}
	/* known: XDP asked for the way to this node before anything changed
	 * (xdp_sends_to), with the same TOS and length */
	if (!known &&
	    nosnat_route(ctx_xdp(c), node, (__u32)o.tos << 16 | (__u16)(bytes + grow), rt)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FIB_FAILED);
		return;
	}
	if (!rt->to_tc) {
		if (l4 && l4_csum_partial(p) && l4_csum_complete(ctx_xdp(c), p)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		if (p->proto == IPPROTO_TCP && p->l4) {
			struct tcphdr *th = p->l4;

			if ((void *)(th + 1) <= p->data_end && th->syn)
				nosnat_mss_clamp_xdp(ctx_xdp(c), p->l2_len + p->ip_len,
						     mss_max_for(p, cfg));
		}
	}
	if (xdp_encap(ctx_xdp(c), p, &o)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	xdp_encap_forward(ctx_xdp(c), rt, v);
}

/* A VIP packet for a pod here. tc rewrites it with the skb's checksum
 * helpers. XDP tells the tc twin the rewrite (it knows whether the skb's
 * checksum is partial); only while the twin attached is one that would not
 * (an older nosnat's, for the moment it takes over) does XDP rewrite, as a
 * complete sum: a partial one so rewritten is wrong, but a pod's stack
 * does not check it. (Without metadata XDP never gets here: it passed the
 * packet on to tc untouched.) */
static __always_inline int local_rewrite(ctx_t c, struct pkt *p, const struct nosnat_cfg *cfg,
					 const struct nosnat_backend *be, __u8 action)
{
	__be32 vip = p->ip->daddr;
	__be16 vip_port = 0;
	struct nosnat_meta *meta;
	__u8 proto = p->proto;

	if (p->l4 && (void *)((__be16 *)p->l4 + 2) <= p->data_end)
		vip_port = ((__be16 *)p->l4)[1];	/* dest port: TCP and UDP alike */
	else
		return -1;
	if (c.tc)
		return skb_dnat(ctx_skb(c), p, be->addr, be->port);
	if (!(cfg->flags & NOSNAT_CFG_TWIN_DNAT))
		return dnat_xdp(p, be);
	meta = meta_push(ctx_xdp(c));
	if (!meta)
		return pkt_refresh(c, p) ? -1 : dnat_xdp(p, be);
	meta->magic = NOSNAT_META_LOCAL;
	meta->vip = vip;
	meta->pod = be->addr;
	meta->vip_port = vip_port;
	meta->pod_port = be->port;
	meta->proto = proto;
	meta->action = action;
	return 0;
}

/* What vip_deliver needs to know besides the pick. */
struct deliver {
	const struct nosnat_flow_key *k;	/* the client's flow to the VIP */
	const struct nosnat_cfg *cfg;
	struct route *rt;	/* the way to the pod's node, when it is sent there */
	int syn;		/* tcp_syn() */
	int from_node;		/* arrived in IPIP from another node */
	int second_ok;		/* may still be sent on once (no second chance yet) */
	int rt_known;		/* XDP: *rt asked for already (xdp_sends_to) */
};

/* Does this node's conntrack hold the pod be's connection for flow k, with
 * the VIP's mark? claim: mark an entry that has none yet. */
static __always_inline enum ct_found pod_has_flow(ctx_t c, const struct nosnat_flow_key *k,
						  const struct nosnat_backend *be, __u32 mask,
						  int claim, int *open)
{
	struct ct_tuple t = { .saddr = k->src, .daddr = be->addr, .sport = k->sport,
			      .dport = be->port, .proto = k->proto };

	return ct_check(c, &t, nosnat_vip_mark(k->dst, k->dport, k->proto, mask), mask,
			    claim, open);
}

/* A VIP packet for a pod on this node. A flow nosnat saw begin gets the
 * VIP's mark on its conntrack entry, once. A flow without any entry is
 * delivered and recorded only if the pod's conntrack entry carries that
 * mark; else it goes to the previous Maglev table's pod, once (a node
 * whose tables changed since the connection began). Returns 1 when pk now
 * names a pod on another node (second chance). A subprogram per hook
 * (local_owner_xdp, _skb): established flows never call it, and inlined
 * twice it doubled the size of the XDP program. */
static __always_inline int local_owner(ctx_t c, struct pick *pk, const struct deliver *d)
{
	__u32 mask = d->cfg->ct_mark_mask, prev_id = 0;
	struct nosnat_backend *prev = NULL;
	struct nosnat_flow *f;

	if (pk->state == PICK_ESTABLISHED || pk->state == PICK_PROMOTED ||
	    pk->state == PICK_PROVING) {
		int open = 0;

		if (d->syn || !nosnat_have_ct || !mask)
			return 0;
		/* claimed only for a flow nosnat saw begin (ct_claim); an
		 * entry of another VIP's, or another connection, refuses it */
		switch (pod_has_flow(c, d->k, pk->be, mask,
				     pk->state == PICK_ESTABLISHED ? CT_CLAIM : CT_CLAIM_HANDSHAKE,
				     &open)) {
		case CT_OTHER:
			pk->reason = NOSNAT_R_CT_OTHER_VIP;
			return 0;
		case CT_NONE:	/* past the handshake, not tracked: said once a flow,
				 * and no proof will come */
			count_flow_event(NOSNAT_R_CT_UNTRACKED);
			break;
		default:	/* ours: established once conntrack says the handshake
				 * is over (a blind ACK never gets it there) */
			if (pk->state == PICK_PROVING && !open)
				return 0;
			break;
		}
		if (pk->state == PICK_PROVING)
			flow_establish(d->k);
		f = bpf_map_lookup_elem(&nosnat_flows, d->k);
		if (f)
			f->flags |= NOSNAT_FLOW_CT_SEEN;
		if (pk->f)
			pk->f->flags |= NOSNAT_FLOW_CT_SEEN;	/* this CPU's copy */
		return 0;
	}

	if (pk->state != PICK_RECOVERED)
		return 0;
	if (!nosnat_have_ct || !mask) {		/* no proof to be had: Maglev's word */
		flow_record(&nosnat_flows, d->k, pk->id, pk->be, pk->vip_id, 0, 0, 0);
		return 0;
	}
	if (pod_has_flow(c, d->k, pk->be, mask, CT_LOOK, NULL) == CT_OURS) {
		flow_record(&nosnat_flows, d->k, pk->id, pk->be, pk->vip_id, 0, NOSNAT_FLOW_CT_SEEN, 0);
		pk->reason = NOSNAT_R_CT_RECOVERED;
		return 0;
	}
	if (d->second_ok)
		prev = maglev_prev_backend(pk->vip_id, flow_hash(d->k), &prev_id);
	if (prev && prev_id != pk->id) {
		if (prev->node == d->cfg->node_ip) {
			if (pod_has_flow(c, d->k, prev, mask, CT_LOOK, NULL) == CT_OURS) {
				pk->be = prev;
				pk->id = prev_id;
				flow_record(&nosnat_flows, d->k, prev_id, prev, pk->vip_id, 0,
					    NOSNAT_FLOW_CT_SEEN, 0);
				pk->reason = NOSNAT_R_CT_RECOVERED;
				return 0;
			}
		} else if (bpf_map_lookup_elem(&nosnat_nodes, &prev->node)) {
			pk->be = prev;
			pk->id = prev_id;
			pk->reason = NOSNAT_R_SECOND_CHANCE;
			return 1;
		}
	}
	pk->reason = NOSNAT_R_NOT_OWNED;
	return 0;
}

static __attribute__((noinline)) int local_owner_xdp(struct xdp_md *ctx, struct pick *pk,
						     const struct deliver *d)
{
	return local_owner(CTX_XDP(ctx), pk, d);
}

static __attribute__((noinline)) int local_owner_skb(struct __sk_buff *skb, struct pick *pk,
						     const struct deliver *d)
{
	return local_owner(CTX_SKB(skb), pk, d);
}

/* A packet that went to its pod (delivered here or sent to its node): only
 * then is it the pod's, and a new flow one of the VIP's. A packet dropped
 * or answered with ICMP on the way counts for neither. */
static __always_inline void count_delivered(const struct pick *pk, __u64 bytes)
{
	count_backend(pk->id, bytes);
	if (pk->new_flow == 1)
		count_vip_flow(pk->vip_id);
	if (pk->handed_on)
		pk->handed_on->flags &= ~NOSNAT_FLOW_HANDED_ON;
}

/* A VIP packet whose pod is chosen (pk): DNAT locally or encapsulate. */
static __always_inline void vip_deliver(ctx_t c, struct pkt *p, struct pick *pk,
					const struct deliver *d, struct verdict *v)
{
	const struct nosnat_cfg *cfg = d->cfg;
	__u64 bytes = bpf_ntohs(p->ip->tot_len);
	struct nosnat_backend *be;
	int second = 0;
	__u16 id;

	if (pk->new_flow == NEW_FLOW_SPOOFED) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_SPOOFED);
		return;
	}
	count_vip(pk->vip_id, bytes, 0);	/* every packet to the VIP; flows once delivered */
	if (!pk->be) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_BACKEND);
		return;
	}
	/* the common case, an established flow whose conntrack entry was
	 * seen (or with no conntrack to see), needs no word from local_owner */
	if (pk->be->node == cfg->node_ip &&
	    !(pk->state == PICK_ESTABLISHED &&
	      (!nosnat_have_ct || !cfg->ct_mark_mask || (pk->f && (pk->f->flags & NOSNAT_FLOW_CT_SEEN)))))
		second = c.tc ? local_owner_skb(ctx_skb(c), pk, d) : local_owner_xdp(ctx_xdp(c), pk, d);
	if (pk->reason == NOSNAT_R_CT_OTHER_VIP) {
		flow_forget(d->k);
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_CT_OTHER_VIP);
		return;
	}
	if (pk->reason)
		count_flow_event(pk->reason);
	be = pk->be;

	if (be->node == cfg->node_ip) {
		/* The pod's replies find this flow (tc egress). A SYN again on
		 * an established flow: its SYN-ACK must acknowledge this one. */
		__be32 syn_ack = syn_ack_of(p, d->syn);
		struct nosnat_flow *f = pk->f;

		if (d->syn && f && f->syn_ack != syn_ack) {
			f->syn_ack = syn_ack;
			/* a new connection on an older one's entry: its own
			 * conntrack entry is claimed by its next packet */
			f->flags &= ~NOSNAT_FLOW_CT_SEEN;
		}
		__u8 action = d->from_node ? NOSNAT_ACT_DECAP : NOSNAT_ACT_LOCAL;

		if (local_rewrite(c, p, cfg, be, action)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		set_verdict(v, OUT_PASS, action, pk->reason);
		count_delivered(pk, bytes);
		return;
	}
	if (d->from_node && !second) {	/* never bounce a packet between nodes */
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_BACKEND);
		return;
	}

	/* Sent on by second chance from the ingress node: where the flow
	 * goes now, recorded like any recovered flow bound elsewhere
	 * (unproven: the small table, until its next packet). Its later
	 * packets go there directly, without the second-chance bit. */
	if (second && !d->from_node)
		flow_record(&nosnat_flow_new, d->k, pk->id, be, pk->vip_id, 0, 0, 0);
	id = backend_tag_of(be, c.tc) | (second ? NOSNAT_ID_SECOND_CHANCE : 0);
	encap_send(c, p, cfg, be->node, id, 1, d->rt, d->rt_known, v);
	if (v->action == NOSNAT_ACT_ENCAP)
		count_delivered(pk, bytes);
	/* how the pod was found, unless how the frame left is news (the
	 * tunnel's kind is not: it is the node's) */
	if (v->action == NOSNAT_ACT_ENCAP && encap_plain(v->reason) && pk->reason != NOSNAT_R_NONE)
		v->reason = pk->reason;
}

/* This node's pod of VIP vip_id whose tag the ingress node sent, or NULL. */
static __always_inline struct nosnat_backend *local_by_tag(__u32 vip_id, __be32 node_ip, __u16 tag,
							  __u32 *id)
{
	__u64 scan = nosnat_local_scan(vip_id, node_ip, tag, 0, 0);

	if (!(scan & LOCAL_TAGGED))
		return NULL;
	*id = (__u32)scan;
	return backend_get(*id, vip_id);
}

/* An ICMP error to a VIP address (p at its outer IPv4 header; from_node:
 * it came in IPIP with outer ID tag). If it quotes a reply of a VIP flow,
 * it goes where the flow goes: its pod here gets it as its own error, a pod
 * elsewhere gets it encapsulated. The flow is found as a client's packet
 * finds it (tables, then Maglev on the ingress node or the tag on the
 * pod's node); a pod here must be proven by its conntrack mark when no
 * table names it. Errors about anything else pass untouched. */
static __always_inline void icmp_to_vip(ctx_t c, struct pkt *p,
					const struct nosnat_cfg *cfg, int from_node, __u16 tag,
					struct verdict *v)
{
	struct nosnat_backend *be = NULL;
	struct icmp_quote iq;
	struct nosnat_flow *f;
	struct nosnat_vip *vip;
	__u32 id = 0, mask = cfg->ct_mark_mask;
	int rc = icmp_quote_parse(p, &iq);

	if (rc == ICMP_NOT_ERROR)
		return;		/* an echo, say: the kernel's, as before */
	if (rc == ICMP_TRUNCATED) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if ((iq.q->protocol != IPPROTO_TCP && iq.q->protocol != IPPROTO_UDP) ||
	    iq.q->saddr != p->ip->daddr || (iq.q->frag_off & bpf_htons(IP_OFFSET)))
		return;		/* not about a reply of a VIP flow */
	vip = vip_lookup(iq.q->saddr, iq.ports[0], iq.q->protocol);
	if (!vip)
		return;
	{
		struct nosnat_flow_key k = {
			.src = iq.q->daddr, .dst = iq.q->saddr, .sport = iq.ports[1],
			.dport = iq.ports[0], .proto = iq.q->protocol,
		};

		f = flow_lookup(&k, 0);
		be = flow_backend(f, 0);
		if (!be || nosnat_vip_ref_id(f->vip_ref) != vip->id ||
		    (from_node && be->node != cfg->node_ip))
			f = handshake_entry(&k, vip->id, from_node ? cfg->node_ip : 0, 0, &be);
		if (f) {
			id = f->backend_id;
		} else {
			be = from_node ? local_by_tag(vip->id, cfg->node_ip, tag, &id) :
					 maglev_backend(vip->id, flow_hash(&k), &id);
			/* a pod here without a table's word: its conntrack's */
			if (be && be->node == cfg->node_ip && nosnat_have_ct && mask &&
			    pod_has_flow(c, &k, be, mask, CT_LOOK, NULL) != CT_OURS)
				be = NULL;
		}
	}
	if (!be) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_NO_FLOW);
		return;
	}
	if (be->node == cfg->node_ip) {
		icmp_rewrite_to_pod(p, &iq, be->addr, be->port);
		set_verdict(v, OUT_PASS, from_node ? NOSNAT_ACT_DECAP : NOSNAT_ACT_LOCAL,
			    NOSNAT_R_ICMP_ERROR);
		count_backend(id, bpf_ntohs(p->ip->tot_len));
		return;
	}
	if (from_node) {	/* never bounce a packet between nodes */
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_NO_FLOW);
		return;
	}
	{
		__u64 bytes = bpf_ntohs(p->ip->tot_len);	/* before the outer header */

		struct route rt = {};

		encap_send(c, p, cfg, be->node, backend_tag_of(be, c.tc), 0, &rt, 0, v);
		if (v->action == NOSNAT_ACT_ENCAP)
			count_backend(id, bytes);
	}
	if (v->action == NOSNAT_ACT_ENCAP && encap_plain(v->reason))
		v->reason = NOSNAT_R_ICMP_ERROR;
}

#endif
