// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nosnat dataplane entry points. Each program calls into bpf/lib and counts
 * its verdict exactly once, on the way out. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "nosnat_abi.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/conntrack.h"
#include "lib/lookup.h"
#include "lib/nat.h"
#include "lib/encap.h"
#include "lib/icmp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Enough for Ethernet, two VLAN tags, IPv4 and TCP with options. */
#define TC_PULL_LEN 142

static __always_inline const struct nosnat_cfg *cfg_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nosnat_cfg, &zero);
}

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

/* Encapsulate p to node with outer ID id and send it. partial: its L4 sum
 * is the partial (offload) kind, completed here. An ICMP error that does
 * not fit is dropped: ICMP errors never cause ICMP. */
static __always_inline void encap_send(struct xdp_md *ctx, struct pkt *p,
				       const struct nosnat_cfg *cfg, __be32 node, __u16 id,
				       int partial, struct verdict *v)
{
	__u64 bytes = bpf_ntohs(p->ip->tot_len);

	if (cfg->mtu && bytes + sizeof(struct iphdr) > cfg->mtu) {
		/* Too big for the tunnel. With DF the sender learns the MTU (an
		 * ICMP error never causes one; a CPU sends at most
		 * NOSNAT_ICMP_PER_SEC a second), by the way encapsulated frames
		 * leave: on a tc uplink XDP_TX would be lost. */
		if (p->proto == IPPROTO_ICMP || !(p->ip->frag_off & bpf_htons(IP_DF)))
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
		else if (rate_over(RATE_ICMP, NOSNAT_ICMP_PER_SEC))
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_LIMITED);
		else if (icmp_frag_needed(ctx, p, cfg->node_ip, cfg->mtu - sizeof(struct iphdr)))
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
		else if (!(cfg->flags & NOSNAT_CFG_ENCAP_VIA_TC))
			set_verdict(v, XDP_TX, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED);
		else {
			hand_to_tc(ctx, cfg->ifindex, NOSNAT_R_ICMP_FRAG_NEEDED, v);
			if (v->ret == XDP_PASS)
				set_verdict(v, XDP_PASS, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED);
		}
		return;
	}
	if (partial && l4_csum_complete(ctx, p)) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	/* the client's IP options ride in every segment of the flow too */
	if (p->proto == IPPROTO_TCP && p->l4)
		mss_clamp_xdp(p->l4, p->data_end, cfg->mss_max - ((p->ip_len & 0x3c) - sizeof(struct iphdr)));
	if (encap_ipip(ctx, p, cfg->node_ip, node, id)) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	encap_forward(ctx, p, cfg, v);
}

/* What vip_deliver needs to know besides the pick. */
struct deliver {
	const struct nosnat_flow_key *k;	/* the client's flow to the VIP */
	const struct nosnat_cfg *cfg;
	int syn;		/* tcp_syn() */
	int from_node;		/* arrived in IPIP from another node */
	int second_ok;		/* may still be sent on once (no second chance yet) */
};

/* Does this node's conntrack hold the pod be's connection for flow k, with
 * the VIP's mark? claim: mark an entry that has none yet. */
static __always_inline enum ct_found pod_has_flow(struct xdp_md *ctx,
						  const struct nosnat_flow_key *k,
						  const struct nosnat_backend *be, __u32 mask,
						  int claim)
{
	struct ct_tuple t = { .saddr = k->src, .daddr = be->addr, .sport = k->sport,
			      .dport = be->port, .proto = k->proto };

	return ct_check_xdp(ctx, &t, nosnat_vip_mark(k->dst, k->dport, k->proto, mask), mask,
			    claim);
}

/* A VIP packet for a pod on this node. A flow nosnat saw begin gets the
 * VIP's mark on its conntrack entry, once. A flow without any entry is
 * delivered and recorded only if the pod's conntrack entry carries that
 * mark; else it goes to the previous Maglev table's pod, once (a node
 * whose tables changed since the connection began). Returns 1 when pk now
 * names a pod on another node (second chance). A subprogram of its own:
 * established flows never call it, and inlined twice it doubled the size
 * of the XDP program. */
static __attribute__((noinline)) int local_owner(struct xdp_md *ctx, struct pick *pk,
						 const struct deliver *d)
{
	__u32 mask = d->cfg->ct_mark_mask, prev_id = 0;
	struct nosnat_backend *prev = NULL;
	struct nosnat_flow *f;

	if (pk->state == PICK_ESTABLISHED || pk->state == PICK_PROMOTED) {
		if (d->syn || !nosnat_have_ct || !mask)
			return 0;
		pod_has_flow(ctx, d->k, pk->be, mask, 1);
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
		flow_record(&nosnat_flows, d->k, pk->id, pk->be, pk->vip_id, 0, 0);
		return 0;
	}
	if (pod_has_flow(ctx, d->k, pk->be, mask, 0) == CT_OURS) {
		flow_record(&nosnat_flows, d->k, pk->id, pk->be, pk->vip_id, 0, NOSNAT_FLOW_CT_SEEN);
		pk->reason = NOSNAT_R_CT_RECOVERED;
		return 0;
	}
	if (d->second_ok)
		prev = maglev_prev_backend(pk->vip_id, flow_hash(d->k), &prev_id);
	if (prev && prev_id != pk->id) {
		if (prev->node == d->cfg->node_ip) {
			if (pod_has_flow(ctx, d->k, prev, mask, 0) == CT_OURS) {
				pk->be = prev;
				pk->id = prev_id;
				flow_record(&nosnat_flows, d->k, prev_id, prev, pk->vip_id, 0,
					    NOSNAT_FLOW_CT_SEEN);
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

/* A VIP packet whose pod is chosen (pk): DNAT locally or encapsulate. */
static __always_inline void vip_deliver(struct xdp_md *ctx, struct pkt *p, struct pick *pk,
					const struct deliver *d, struct verdict *v)
{
	const struct nosnat_cfg *cfg = d->cfg;
	__u64 bytes = bpf_ntohs(p->ip->tot_len);
	struct nosnat_backend *be;
	int partial, second = 0;
	__u16 id;

	if (pk->new_flow == NEW_FLOW_SPOOFED) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_SPOOFED);
		return;
	}
	count_vip(pk->vip_id, bytes, pk->new_flow == 1);
	if (!pk->be) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_BACKEND);
		return;
	}
	/* the common case, an established flow whose conntrack entry was
	 * seen, needs no word from local_owner */
	if (pk->be->node == cfg->node_ip &&
	    !(pk->state == PICK_ESTABLISHED && pk->f && (pk->f->flags & NOSNAT_FLOW_CT_SEEN)))
		second = local_owner(ctx, pk, d);
	if (pk->reason)
		count_flow_event(pk->reason);
	be = pk->be;
	count_backend(pk->id, bytes);

	partial = l4_csum_partial(p);
	if (be->node == cfg->node_ip) {
		/* The pod's replies find this flow (tc egress). A SYN again on
		 * an established flow: its SYN-ACK must acknowledge this one. */
		__be32 syn_ack = syn_ack_of(p, d->syn);
		struct nosnat_flow *f = pk->f;

		if (d->syn && f && f->syn_ack != syn_ack)
			f->syn_ack = syn_ack;
		if (dnat_xdp(p, be, partial)) {
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		set_verdict(v, XDP_PASS, d->from_node ? NOSNAT_ACT_DECAP : NOSNAT_ACT_LOCAL,
			    pk->reason);
		return;
	}
	if (d->from_node && !second) {	/* never bounce a packet between nodes */
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_BACKEND);
		return;
	}

	/* Sent on by second chance from the ingress node: where the flow
	 * goes now, recorded like any recovered flow bound elsewhere
	 * (unproven: the small table, until its next packet). Its later
	 * packets go there directly, without the second-chance bit. */
	if (second && !d->from_node)
		flow_record(&nosnat_flow_new, d->k, pk->id, be, pk->vip_id, 0, 0);
	id = backend_tag(be->addr, be->port) | (second ? NOSNAT_ID_SECOND_CHANCE : 0);
	encap_send(ctx, p, cfg, be->node, id, partial, v);
	/* how the pod was found, unless how the frame left is news */
	if (v->action == NOSNAT_ACT_ENCAP && v->reason == NOSNAT_R_NONE)
		v->reason = pk->reason;
}

/* This node's pod of VIP vip_id whose tag the ingress node sent, or NULL. */
static __always_inline struct nosnat_backend *local_by_tag(__u32 vip_id, __be32 node_ip, __u16 tag,
							  __u32 *id)
{
	struct nosnat_local *local = bpf_map_lookup_elem(&nosnat_local, &vip_id);

	if (!local)
		return NULL;
	for (__u32 i = 0; i < NOSNAT_MAX_LOCAL; i++) {
		struct nosnat_backend *be;

		if (i >= local->count)
			break;
		*id = local->ids[i];
		be = backend_get(*id, vip_id);
		if (be && be->node == node_ip && backend_tag(be->addr, be->port) == tag)
			return be;
	}
	return NULL;
}

/* An ICMP error to a VIP address (p at its outer IPv4 header; from_node:
 * it came in IPIP with outer ID tag). If it quotes a reply of a VIP flow,
 * it goes where the flow goes: its pod here gets it as its own error, a pod
 * elsewhere gets it encapsulated. The flow is found as a client's packet
 * finds it (tables, then Maglev on the ingress node or the tag on the
 * pod's node); a pod here must be proven by its conntrack mark when no
 * table names it. Errors about anything else pass untouched. */
static __always_inline void icmp_to_vip(struct xdp_md *ctx, struct pkt *p,
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
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
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
		if (!be) {
			f = bpf_map_lookup_elem(&nosnat_flow_new, &k);
			be = flow_backend(f, 0);
		}
		if (be && nosnat_vip_ref_id(f->vip_ref) == vip->id &&
		    (!from_node || be->node == cfg->node_ip)) {
			id = f->backend_id;
		} else {
			be = from_node ? local_by_tag(vip->id, cfg->node_ip, tag, &id) :
					 maglev_backend(vip->id, flow_hash(&k), &id);
			/* a pod here without a table's word: its conntrack's */
			if (be && be->node == cfg->node_ip && nosnat_have_ct && mask &&
			    pod_has_flow(ctx, &k, be, mask, 0) != CT_OURS)
				be = NULL;
		}
	}
	if (!be) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_NO_FLOW);
		return;
	}
	count_backend(id, bpf_ntohs(p->ip->tot_len));
	if (be->node == cfg->node_ip) {
		icmp_rewrite_to_pod(p, &iq, be->addr, be->port);
		set_verdict(v, XDP_PASS, from_node ? NOSNAT_ACT_DECAP : NOSNAT_ACT_LOCAL,
			    NOSNAT_R_ICMP_ERROR);
		return;
	}
	if (from_node) {	/* never bounce a packet between nodes */
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_NO_FLOW);
		return;
	}
	encap_send(ctx, p, cfg, be->node, backend_tag(be->addr, be->port), 0, v);
	if (v->action == NOSNAT_ACT_ENCAP && v->reason == NOSNAT_R_NONE)
		v->reason = NOSNAT_R_ICMP_ERROR;
}

/* The VIP an encapsulated, unfragmented TCP/UDP packet is for, or NULL. */
static __always_inline struct nosnat_vip *inner_vip(struct iphdr *inner, void *data_end)
{
	__u32 ihl = inner->ihl * 4, proto = inner->protocol;
	__be16 *ports;

	/* TCP or UDP tested in one branch: two (one per protocol) would let the
	 * verifier carry a known protocol on and walk all that follows twice */
	if (inner->version != 4 || ihl < sizeof(*inner) ||
	    (inner->frag_off & bpf_htons(IP_MF | IP_OFFSET)) ||
	    (proto - IPPROTO_TCP) * (proto - IPPROTO_UDP))
		return NULL;
	ports = (void *)inner + (ihl & 0x3c);
	if ((void *)(ports + 2) > data_end)
		return NULL;
	return vip_lookup(inner->daddr, ports[1], (__u8)proto);
}

/* From a node, to a VIP address, but the inner header names no VIP:port
 * (another port or protocol, a fragment, cut short). The verdict as the
 * decapsulated packet shows it; nothing is delivered. */
static __always_inline void ipip_not_vip(struct xdp_md *ctx, struct pkt *p, struct verdict *v)
{
	__be16 sport = 0, dport = 0;

	if (decap_ipip(ctx, p) ||
	    parse_l2_l3((void *)(long)ctx->data, (void *)(long)ctx->data_end, p, 1) != PARSE_OK ||
	    parse_ports(p, &sport, &dport) != PARSE_OK)
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
	else if (p->fragment)
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
	else
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
}

/* IPIP addressed to this node. Ours only if the inner dst is a VIP. */
static __always_inline void handle_ipip(struct xdp_md *ctx, struct pkt *p,
					const struct nosnat_cfg *cfg, struct verdict *v)
{
	struct iphdr *outer = p->ip, *inner = (void *)outer + (p->ip_len & 0x3c);
	struct nosnat_vip *vip;
	__be16 sport = 0, dport = 0;
	__be32 outer_src;
	__u32 vip_id;
	__u16 tag;

	if (p->fragment)
		return;		/* not reassembled here; the kernel's business */
	if ((void *)(inner + 1) > p->data_end) {
		set_verdict(v, XDP_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
		return;
	}
	/* Ours only if the inner packet is for a VIP, and that must be known
	 * before anything changes: other tunnels leave as they came. The
	 * exact VIP when the inner header shows it, so that no lookup is
	 * needed after decapsulation. */
	if (!vip_filter_hit(inner->daddr))
		return;
	vip = inner_vip(inner, p->data_end);
	if (!vip && !is_vip_addr(inner->daddr))
		return;		/* someone else's tunnel (e.g. Calico IPIP) */
	outer_src = outer->saddr;
	if (!bpf_map_lookup_elem(&nosnat_nodes, &outer_src)) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC);
		return;
	}
	if (!vip && inner->protocol == IPPROTO_ICMP) {	/* an error about a VIP flow? */
		tag = bpf_ntohs(outer->id) & NOSNAT_ID_TAG_MASK;
		if (decap_ipip(ctx, p) ||
		    parse_l2_l3((void *)(long)ctx->data, (void *)(long)ctx->data_end, p, 1) != PARSE_OK) {
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		if (p->fragment || p->proto != IPPROTO_ICMP) {
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
			return;
		}
		icmp_to_vip(ctx, p, cfg, 1, tag, v);
		if (v->action == NOSNAT_ACT_PASS)	/* decapsulated, yet not one: gone */
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
		return;
	}
	if (!vip) {	/* a VIP's address but no VIP's port, or cut: a drop, and why */
		ipip_not_vip(ctx, p, v);
		return;
	}
	vip_id = vip->id;
	tag = bpf_ntohs(outer->id);
	if (decap_ipip(ctx, p)) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (parse_l2_l3((void *)(long)ctx->data, (void *)(long)ctx->data_end, p, 1) != PARSE_OK ||
	    parse_ports(p, &sport, &dport) != PARSE_OK) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (p->fragment) {
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
		return;
	}
	if (!p->l4) {		/* not TCP/UDP after all: cannot be (inner_vip), say so */
		set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
		return;
	}
	{
		struct nosnat_flow_key k = {
			.src = p->ip->saddr, .dst = p->ip->daddr,
			.sport = sport, .dport = dport, .proto = p->proto,
		};
		int syn = tcp_syn(p);
		struct deliver d = { .k = &k, .cfg = cfg, .syn = syn, .from_node = 1,
				     .second_ok = !(tag & NOSNAT_ID_SECOND_CHANCE) };
		struct pick pk = {};

		select_local_backend(&k, vip_id, cfg->node_ip, tag & NOSNAT_ID_TAG_MASK, syn,
				     syn_ack_of(p, syn), &pk);
		vip_deliver(ctx, p, &pk, &d, v);
	}
}

static __always_inline void xdp_process(struct xdp_md *ctx, struct verdict *v)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct nosnat_cfg *cfg;
	__be16 sport = 0, dport = 0;
	struct pkt p = {};
	int rc;

	rc = parse_l2_l3(data, data_end, &p, 1);
	if (rc == PARSE_NOT_IPV4)
		return;
	if (rc == PARSE_MALFORMED) {
		/* Can we tell whose it is? Only a readable dst says. */
		if (p.ip && is_vip_addr(p.ip->daddr))
			set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		else
			set_verdict(v, XDP_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
		return;
	}
	if (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) {
		if (p.fragment) {
			if (is_vip_addr(p.ip->daddr))
				set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
			return;
		}
		if (parse_ports(&p, &sport, &dport) != PARSE_OK) {
			if (is_vip_addr(p.ip->daddr))
				set_verdict(v, XDP_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			else
				set_verdict(v, XDP_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
			return;
		}
		if (!vip_filter_hit(p.ip->daddr))
			return;		/* the common case: not a VIP address */
		cfg = cfg_get();
		if (!cfg || !cfg->node_ip) {
			if (vip_lookup(p.ip->daddr, dport, p.proto))
				set_verdict(v, XDP_PASS, NOSNAT_ACT_PASS, NOSNAT_R_NO_NODE_IP);
			return;
		}

		struct nosnat_flow_key k = {
			.src = p.ip->saddr, .dst = p.ip->daddr,
			.sport = sport, .dport = dport, .proto = p.proto,
		};
		int syn = tcp_syn(&p);
		struct deliver d = { .k = &k, .cfg = cfg, .syn = syn, .second_ok = 1 };
		struct pick pk = {};

		if (!ingress_pick(&k, cfg, syn, syn_ack_of(&p, syn), &pk))
			return;		/* no VIP:port of that address */
		vip_deliver(ctx, &p, &pk, &d, v);
		return;
	}
	if (p.proto == IPPROTO_ICMP && !p.fragment) {
		if (!vip_filter_hit(p.ip->daddr))
			return;		/* the common case: not to a VIP address */
		cfg = cfg_get();
		if (!cfg || !cfg->node_ip || !is_vip_addr(p.ip->daddr))
			return;
		icmp_to_vip(ctx, &p, cfg, 0, 0, v);
		return;
	}
	if (p.proto == IPPROTO_IPIP) {
		cfg = cfg_get();
		if (!cfg || !cfg->node_ip || p.ip->daddr != cfg->node_ip)
			return;
		handle_ipip(ctx, &p, cfg, v);
	}
}

SEC("xdp")
int nosnat_xdp(struct xdp_md *ctx)
{
	struct verdict v = { .ret = XDP_PASS, .action = NOSNAT_ACT_PASS };
	__u64 len = ctx->data_end - ctx->data;

	xdp_process(ctx, &v);
	count_verdict(NOSNAT_HOOK_XDP, &v, len);
	return v.ret;
}

/* tc ingress twin: encapsulated frames XDP could not address (no neighbour
 * entry yet) go out through the kernel's neighbour resolution. */
SEC("tc")
int nosnat_tc_ingress(struct __sk_buff *skb)
{
	struct verdict v = { .ret = TC_ACT_OK, .action = NOSNAT_ACT_PASS };
	struct nosnat_meta *meta = (void *)(long)skb->data_meta;
	void *data = (void *)(long)skb->data;

	if ((void *)(meta + 1) <= data && meta->magic == NOSNAT_META_MAGIC) {
		__u32 ifindex = meta->ifindex;

		meta->magic = 0;
		set_verdict(&v, bpf_redirect_neigh(ifindex, NULL, 0, 0),
			    NOSNAT_ACT_ENCAP, NOSNAT_R_TC_FORWARD);
		if (v.ret != TC_ACT_REDIRECT)
			set_verdict(&v, TC_ACT_SHOT, NOSNAT_ACT_DROP, NOSNAT_R_FIB_FAILED);
	}
	count_verdict(NOSNAT_HOOK_TC_INGRESS, &v, skb->len);
	return v.ret;
}

/* Enough for Ethernet, two VLAN tags, IPv4 with options, an ICMP header
 * and the quoted IPv4 header with options and 8 bytes of L4. */
#define TC_ICMP_PULL_LEN 166

/* tc egress: an ICMP error a pod sends about a VIP flow (port unreachable
 * for a UDP client, fragmentation needed from its stack) leaves as the
 * VIP's, or the client's stack would not match it to its socket. The flow
 * is found as a reply's is. */
static __always_inline void tc_icmp_from_pod(struct __sk_buff *skb, struct verdict *v)
{
	__u32 want = skb->len < TC_ICMP_PULL_LEN ? skb->len : TC_ICMP_PULL_LEN;
	const struct nosnat_pod_slot *sl;
	const struct nosnat_cfg *cfg;
	struct nosnat_flow_key fk;
	struct nosnat_pod_key pk;
	struct nosnat_flow *f;
	struct icmp_quote iq;
	struct pkt p = {};

	if (bpf_skb_pull_data(skb, want) ||
	    parse_l2_l3((void *)(long)skb->data, (void *)(long)skb->data_end, &p, 0) != PARSE_OK ||
	    p.proto != IPPROTO_ICMP || p.fragment || icmp_quote_parse(&p, &iq) != ICMP_QUOTE_OK)
		return;
	if ((iq.q->protocol != IPPROTO_TCP && iq.q->protocol != IPPROTO_UDP) ||
	    iq.q->daddr != p.ip->saddr || (iq.q->frag_off & bpf_htons(IP_OFFSET)))
		return;
	pk = (struct nosnat_pod_key){ .addr = iq.q->daddr, .port = iq.ports[1],
				      .proto = iq.q->protocol };
	sl = reply_flow(&pk, iq.q->saddr, iq.ports[0], 0, &fk, &f);
	if (!sl && nosnat_have_ct && (cfg = cfg_get()) && cfg->ct_mark_mask)
		sl = reply_flow_ct(skb, &pk, iq.q->saddr, iq.ports[0], cfg->ct_mark_mask, &fk);
	if (!sl)
		return;
	icmp_rewrite_from_pod(&p, &iq, fk.dst, fk.dport);
	count_backend(sl->id, skb->len);
	set_verdict(v, TC_ACT_OK, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_ICMP_ERROR);
}

/* tc egress: a pod's reply to a client that came through a VIP leaves with
 * the VIP as its source. Anything without the matching flow is untouched. */
static __always_inline void tc_reply_nat(struct __sk_buff *skb, struct verdict *v)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__be16 sport = 0, dport = 0;
	struct pkt p = {};
	int rc;

	rc = parse_l2_l3(data, data_end, &p, 0);
	if (rc == PARSE_OK && !pod_filter_hit(p.ip->saddr))
		return;		/* the common case: not from one of this node's pods */
	if (rc == PARSE_OK && p.proto == IPPROTO_ICMP && !p.fragment) {
		tc_icmp_from_pod(skb, v);
		return;
	}
	if (rc == PARSE_OK && (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) && !p.fragment)
		rc = parse_ports(&p, &sport, &dport);
	if (rc == PARSE_MALFORMED) {
		/* Headers may sit partly outside the linear area: pull them in. */
		__u32 want = skb->len < TC_PULL_LEN ? skb->len : TC_PULL_LEN;

		if (bpf_skb_pull_data(skb, want))
			return;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (parse_l2_l3(data, data_end, &p, 0) != PARSE_OK)
			return;
		if ((p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) || p.fragment)
			return;
		rc = parse_ports(&p, &sport, &dport);
	}
	if (rc != PARSE_OK || !p.l4 || p.fragment)
		return;
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return;

	struct nosnat_pod_key pk = { .addr = p.ip->saddr, .port = sport, .proto = p.proto };
	const struct nosnat_pod_slot *sl;
	struct nosnat_flow_key fk;
	struct nosnat_flow *f = NULL;
	__u32 reason = NOSNAT_R_NONE;
	int syn_ack = 0;

	if (p.proto == IPPROTO_TCP) {	/* parse_ports read the whole header */
		struct tcphdr *th = p.l4;

		syn_ack = th->syn && th->ack;
	}
	sl = reply_flow(&pk, p.ip->daddr, dport, syn_ack, &fk, &f);
	if (!sl) {
		const struct nosnat_cfg *cfg;

		if (syn_ack || !nosnat_have_ct)
			return;
		cfg = cfg_get();
		if (!cfg || !cfg->ct_mark_mask)
			return;
		sl = reply_flow_ct(skb, &pk, p.ip->daddr, dport, cfg->ct_mark_mask, &fk);
		if (!sl)
			return;
		reason = NOSNAT_R_CT_RECOVERED;
		count_flow_event(reason);
	}

	__u32 l4 = p.l2_len + p.ip_len;
	__u32 csum_off = l4 + (p.proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
						      : offsetof(struct udphdr, check));
	__u64 pseudo = BPF_F_PSEUDO_HDR | (p.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
	__be32 old_ip = p.ip->saddr, new_ip = fk.dst;
	__be16 new_port = fk.dport;

	if (syn_ack) {
		struct tcphdr *th = p.l4;

		/* The SYN through the VIP was another one: this connection was
		 * made some other way (straight to the pod) on the addresses and
		 * ports of an old VIP flow. Not ours, and the flow is stale.
		 * (A SYN's data, TCP Fast Open, may be acked with it: up to 64k.)
		 * f is the LRU's entry: a SYN-ACK never takes a cached copy. */
		if (f && f->syn_ack && bpf_ntohl(th->ack_seq) - bpf_ntohl(f->syn_ack) > 0xffff) {
			flow_forget(&fk);
			return;
		}
	}
	count_backend(sl->id, skb->len);
	/* Headers in place (the program's prologue made the linear part
	 * private to this skb); only the L4 checksum needs the helper, which
	 * knows whether the skb carries a partial (offloaded) checksum. */
	{
		__be16 *port = p.l4;	/* source port: first field of TCP and UDP */

		if ((void *)(port + 1) > p.data_end) {
			set_verdict(v, TC_ACT_SHOT, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		csum_replace4(&p.ip->check, old_ip, new_ip);
		p.ip->saddr = new_ip;
		*port = new_port;
	}
	if (bpf_l4_csum_replace(skb, csum_off, old_ip, new_ip, pseudo | sizeof(new_ip)) ||
	    bpf_l4_csum_replace(skb, csum_off, sport, new_port,
				(pseudo & BPF_F_MARK_MANGLED_0) | sizeof(new_port))) {
		set_verdict(v, TC_ACT_SHOT, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	set_verdict(v, TC_ACT_OK, NOSNAT_ACT_REPLY_NAT, reason);

	/* The SYN-ACK tells the client how big its segments may be. Clamp it
	 * for every VIP flow, not only those encapsulated now: after a VIP
	 * failover a flow that began locally is encapsulated too, and many
	 * clients never see the ICMP that would teach them the smaller MTU. */
	if (syn_ack) {
		const struct nosnat_cfg *cfg = cfg_get();
		struct tcphdr *th;
		__be16 mss, clamp;
		int off;

		if (!cfg || !cfg->mss_max)
			return;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		th = data + (l4 & 0x7f);
		if ((void *)(th + 1) > data_end)
			return;
		off = tcp_mss_offset(th, data_end);
		if (off < 0)
			return;
		if (bpf_skb_load_bytes(skb, l4 + off + 2, &mss, sizeof(mss)))
			return;
		if (bpf_ntohs(mss) <= cfg->mss_max)
			return;
		clamp = bpf_htons(cfg->mss_max);
		if (off & 1)
			bpf_l4_csum_replace(skb, csum_off, __builtin_bswap16(mss),
					    __builtin_bswap16(clamp), sizeof(clamp));
		else
			bpf_l4_csum_replace(skb, csum_off, mss, clamp, sizeof(clamp));
		bpf_skb_store_bytes(skb, l4 + off + 2, &clamp, sizeof(clamp), 0);
	}
}

SEC("tc")
int nosnat_tc_egress(struct __sk_buff *skb)
{
	struct verdict v = { .ret = TC_ACT_OK, .action = NOSNAT_ACT_PASS };

	tc_reply_nat(skb, &v);
	count_verdict(NOSNAT_HOOK_TC_EGRESS, &v, skb->len);
	return v.ret;
}
