/* decap.h - IPIP or GUE addressed to this node: ours only from a known node
 * and for a VIP inside; decapsulated, the pod picked, delivered (deliver.h). */
#ifndef NOSNAT_DECAP_H
#define NOSNAT_DECAP_H

#include "deliver.h"

/* Strip the outer headers, the hook's way. */
static __always_inline int decap_tunnel(ctx_t c, struct pkt *p)
{
	return c.tc ? skb_decap(ctx_skb(c), p) : xdp_decap(ctx_xdp(c), p);
}

/* Does this node take a tunnel of p's kind off (nosnat_cfg.decap)? p is
 * IPIP, or UDP to the GUE port (gue_for_node). */
static __always_inline int decap_accepts(const struct pkt *p, const struct nosnat_cfg *cfg)
{
	return cfg->decap & (p->proto == IPPROTO_UDP ? NOSNAT_DECAP_GUE : NOSNAT_DECAP_IPIP);
}

/* UDP to this node's GUE port, which it takes off: a tunnel, perhaps ours.
 * Asked of UDP that is not to a VIP address, so the port is tested first. */
static __always_inline int gue_for_node(const struct pkt *p, __be16 dport,
					const struct nosnat_cfg *cfg)
{
	return cfg && dport == cfg->gue_port && dport && (cfg->decap & NOSNAT_DECAP_GUE) &&
	       p->ip->daddr == cfg->node_ip;
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
static __always_inline void tunnel_not_vip(ctx_t c, struct pkt *p, struct verdict *v)
{
	__be16 sport = 0, dport = 0;

	if (decap_tunnel(c, p) ||
	    pkt_parse(c, p) != PARSE_OK ||
	    parse_ports(p, &sport, &dport) != PARSE_OK)
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
	else if (p->fragment)
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
	else
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
}

/* IPIP or GUE addressed to this node, of a kind it takes off. Ours only if
 * the inner dst is a VIP. GUE's inner header follows its UDP header at
 * once (variant 1): anything else on the port is not ours. */
static __always_inline void handle_tunnel(ctx_t c, struct pkt *p,
					  const struct nosnat_cfg *cfg, struct verdict *v)
{
	struct iphdr *outer = p->ip, *inner = (void *)outer + (tun_outer_len(p) & 0x7c);
	struct nosnat_vip *vip;
	__be16 sport = 0, dport = 0;
	__be32 outer_src;
	__u32 vip_id;
	__u16 tag;

	if (p->fragment)
		return;		/* not reassembled here; the kernel's business */
	if ((void *)(inner + 1) > p->data_end) {
		set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_MALFORMED);
		return;
	}
	/* Ours only if the inner packet is for a VIP, and that must be known
	 * before anything changes: other tunnels leave as they came. The
	 * exact VIP when the inner header shows it, so that no lookup is
	 * needed after decapsulation. */
	/* GUE around an IPv6 packet: tc's v6 tunnel walk (v6.h) takes it */
	if (c.tc && p->proto == IPPROTO_UDP && inner->version == 6) {
		v->out = OUT_TUNNEL;
		v->ifindex = TUNNEL_GUE6;
		return;
	}
	if (!vip_filter_hit(inner->daddr) || (p->proto == IPPROTO_UDP && inner->version != 4))
		return;
	vip = inner_vip(inner, p->data_end);
	if (!vip && !is_vip_addr(inner->daddr))
		return;		/* someone else's tunnel (e.g. Calico IPIP) */
	outer_src = outer->saddr;
	if (!bpf_map_lookup_elem(&nosnat_nodes, &outer_src)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC);
		return;
	}
	if (!vip && inner->protocol == IPPROTO_ICMP) {	/* an error about a VIP flow? */
		tag = bpf_ntohs(outer->id) & NOSNAT_ID_TAG_MASK;
		if (decap_tunnel(c, p) ||
		    pkt_parse(c, p) != PARSE_OK) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		if (p->fragment || p->proto != IPPROTO_ICMP) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
			return;
		}
		icmp_to_vip(c, p, cfg, 1, tag, v);
		if (v->action == NOSNAT_ACT_PASS)	/* decapsulated, yet not one: gone */
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
		return;
	}
	if (!vip) {	/* a VIP's address but no VIP's port, or cut: a drop, and why */
		tunnel_not_vip(c, p, v);
		return;
	}
	vip_id = vip->id;
	tag = bpf_ntohs(outer->id);
	if (decap_tunnel(c, p)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (pkt_parse(c, p) != PARSE_OK ||
	    parse_ports(p, &sport, &dport) != PARSE_OK) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (p->fragment) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
		return;
	}
	if (!p->l4) {		/* not TCP/UDP after all: cannot be (inner_vip), say so */
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
		return;
	}
	{
		struct nosnat_flow_key k = {
			.src = p->ip->saddr, .dst = p->ip->daddr,
			.sport = sport, .dport = dport, .proto = p->proto,
		};
		int syn = tcp_syn(p);
		struct route rt = {};	/* second chance: on to the pod's node */
		struct deliver d = { .k = &k, .cfg = cfg, .syn = syn, .from_node = 1,
				     .second_ok = !(tag & NOSNAT_ID_SECOND_CHANCE), .rt = &rt };
		struct pick pk = {};

		select_local_backend(&k, vip_id, cfg, tag & NOSNAT_ID_TAG_MASK, syn,
				     syn_ack_of(p, syn), tcp_seq_of(p), &pk);
		vip_deliver(c, p, &pk, &d, v);
	}
}

#endif
