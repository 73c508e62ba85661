/* twin.h - the tc ingress twin: what XDP decided and only the skb can finish
 * exactly, because only the skb knows whether its checksum is partial. */
#ifndef NOSNAT_TWIN_H
#define NOSNAT_TWIN_H

#include <linux/pkt_cls.h>
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "stats.h"
#include "nat.h"
#include "skb.h"
#include "walk.h"

/* Enough for Ethernet, two VLAN tags, IPv4 and TCP with options. */
#define TWIN_PULL_LEN 142

/* A VIP packet XDP chose a pod here for: dst vip:vip_port -> pod:pod_port.
 * The IP header sum is always complete; the L4 one goes through the helper
 * with BPF_F_PSEUDO_HDR, right for a partial and a complete sum alike (and
 * for a GRO train, partial too). A packet that is not the one XDP
 * described is dropped: rewritten on a guess it could reset a connection,
 * passed on as the VIP's the kernel would do so. */
static __always_inline void twin_local_dnat(struct __sk_buff *skb, const struct nosnat_meta *m,
					    struct verdict *v)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__be16 sport = 0, dport = 0;
	struct pkt p = {};
	int rc;

	rc = parse_l2_l3(data, data_end, &p, 0);
	if (rc == PARSE_OK)
		rc = parse_ports(&p, &sport, &dport);
	if (rc != PARSE_OK || !p.l4) {
		__u32 want = skb->len < TWIN_PULL_LEN ? skb->len : TWIN_PULL_LEN;

		if (bpf_skb_pull_data(skb, want))
			goto bad;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		rc = parse_l2_l3(data, data_end, &p, 0);
		if (rc == PARSE_OK)
			rc = parse_ports(&p, &sport, &dport);
	}
	if (rc != PARSE_OK || !p.l4 || p.fragment || p.proto != m->proto ||
	    p.ip->daddr != m->vip || dport != m->vip_port)
		goto bad;

	if (skb_dnat(skb, &p, m->pod, m->pod_port))
		goto bad;
	set_verdict(v, OUT_PASS, m->action, NOSNAT_R_NONE);
	return;
bad:
	set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
}

/* The inner TCP header's offset in an encapsulated frame if it is a SYN
 * whose header lies in [data, data_end); 0 if it is not a SYN; -1 if the
 * headers are not all there. */
static __always_inline int twin_inner_syn(void *data, void *data_end, __u32 *ihl_out)
{
	struct iphdr *inner;
	struct tcphdr *th;
	struct pkt p = {};
	__u32 ihl;

	if (parse_l2_l3(data, data_end, &p, 0) != PARSE_OK)
		return -1;
	if (p.proto != (nosnat_encap_gue ? IPPROTO_UDP : IPPROTO_IPIP))
		return 0;
	inner = (void *)p.ip + (p.ip_len & 0x3c) + outer_len() - sizeof(struct iphdr);
	if ((void *)(inner + 1) > data_end)
		return -1;
	if (inner->protocol != IPPROTO_TCP || (inner->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
		return 0;
	ihl = inner->ihl * 4;
	if (ihl < sizeof(*inner) || ihl > 60)
		return 0;
	th = (void *)inner + ihl;
	if ((void *)(th + 1) > data_end)
		return -1;
	if (!th->syn)
		return 0;
	*ihl_out = ihl;
	return (int)(p.l2_len + p.ip_len + outer_len() - sizeof(struct iphdr) + ihl);
}

/* An encapsulated frame XDP handed over: its SYN's MSS is clamped here,
 * where the helper knows the inner sum's kind (XDP left it as it came).
 * Headers are pulled into the linear area only for a SYN, or when they
 * are not there to tell. */
static __always_inline void twin_encap_clamp(struct __sk_buff *skb)
{
	__u32 want = skb->len < TWIN_PULL_LEN + outer_len() ?
		     skb->len : TWIN_PULL_LEN + outer_len();
	const struct nosnat_cfg *cfg;
	__u32 ihl = sizeof(struct iphdr);
	int l4;

	l4 = twin_inner_syn((void *)(long)skb->data, (void *)(long)skb->data_end, &ihl);
	if (l4 < 0) {
		if (bpf_skb_pull_data(skb, want))
			return;
		l4 = twin_inner_syn((void *)(long)skb->data, (void *)(long)skb->data_end, &ihl);
	}
	/* a SYN: its options too, wherever they are (SYNs are few) */
	if (l4 <= 0 || bpf_skb_pull_data(skb, want))
		return;
	cfg = cfg_get();
	if (!cfg)
		return;
	/* the client's IP options ride in every segment of the flow too */
	mss_clamp_skb(skb, (__u32)l4, cfg->mss_max - (ihl - sizeof(struct iphdr)));
}

/* Is pod:pod_port one of this node's pods of the VIP vip:vip_port/proto? */
static __always_inline int twin_local_backend(const struct nosnat_meta *m, __be32 node_ip)
{
	struct nosnat_vip *vip = vip_lookup(m->vip, m->vip_port, m->proto);
	__u32 id = 0;

	if (!vip)
		return 0;
	for (__u32 i = 0; i < NOSNAT_MAX_LOCAL; i++) {
		struct nosnat_local *local = bpf_map_lookup_elem(&nosnat_local, &vip->id);
		struct nosnat_backend *be;

		if (!local || i >= local->count)
			break;
		id = local->ids[i];
		be = backend_get(id, vip->id);
		if (be && be->node == node_ip && be->addr == m->pod && be->port == m->pod_port)
			return 1;
	}
	return 0;
}

/* Is p (parsed to its IPv4 header) this node's encapsulation, IPIP or GUE
 * as it sends them? */
static __always_inline int twin_own_tunnel(const struct pkt *p, const struct nosnat_cfg *cfg)
{
	struct udphdr *uh = (void *)p->ip + (p->ip_len & 0x3c);

	if (!nosnat_encap_gue)
		return p->proto == IPPROTO_IPIP;
	return p->proto == IPPROTO_UDP && (void *)(uh + 1) <= p->data_end &&
	       uh->dest == cfg->gue_port;
}

/* The way out of a frame XDP handed over, asked of the FIB (not of the
 * metadata), else the uplink: its outer header must be this node's, to a
 * known node in its tunnel or an ICMP error of its own. 0 and rt->ifindex,
 * else -1. */
static __always_inline int twin_handed_frame(struct __sk_buff *skb, const struct nosnat_cfg *cfg,
					     struct route *rt)
{
	struct pkt p = {};
	__be32 dst;

	if (parse_l2_l3((void *)(long)skb->data, (void *)(long)skb->data_end, &p, 0) != PARSE_OK ||
	    p.ip->saddr != cfg->node_ip || p.fragment)
		return -1;
	dst = p.ip->daddr;
	if (twin_own_tunnel(&p, cfg) ? !bpf_map_lookup_elem(&nosnat_nodes, &dst)
				     : p.proto != IPPROTO_ICMP)
		return -1;
	/* no route the FIB knows: the uplink's neighbour code decides */
	if (skb_route(skb, cfg->node_ip, dst, p.ip->tos, bpf_ntohs(p.ip->tot_len), rt))
		rt->ifindex = cfg->ifindex;
	return 0;
}

/* What XDP left in the metadata (m, a copy): carried out, unless it would
 * steer nosnat somewhere XDP could not have meant (metadata can come from
 * another XDP program too: a chain, a redirect into a veth uplink). A
 * rewrite goes only to one of the VIP's pods here, a hand-off only of a
 * frame of this node's, out of the interface the FIB names (or the uplink). -1: not trusted,
 * the packet is to be walked as if XDP had said nothing. A subprogram: its
 * stack is not the walk's. */
static __attribute__((noinline)) int twin_from_xdp(struct __sk_buff *skb,
						   const struct nosnat_meta *m, struct verdict *v)
{
	const struct nosnat_cfg *cfg = cfg_get();
	struct route rt = {};

	if (!cfg)
		return -1;
	if (m->magic == NOSNAT_META_LOCAL) {
		if (!twin_local_backend(m, cfg->node_ip))
			return -1;
		twin_local_dnat(skb, m, v);
		return 0;
	}
	if (twin_handed_frame(skb, cfg, &rt))
		return -1;
	twin_encap_clamp(skb);
	set_verdict(v, OUT_NEIGH, NOSNAT_ACT_ENCAP, NOSNAT_R_TC_FORWARD);
	v->ifindex = rt.ifindex;
	return 0;
}

/* tc ingress with what XDP left (m; magic 0: nothing): the twin's verdict
 * packed, or TWIN_NO_META when the walk is to do the packet. Called from a
 * global function of the entry point's (nosnat.bpf.c), so that m's copy
 * sits on that function's stack, not under the walk's. */
#define TWIN_NO_META	(~0ULL)

static __always_inline __u64 twin_run(struct __sk_buff *skb, const struct nosnat_meta *m)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!m->magic || twin_from_xdp(skb, m, &v))
		return TWIN_NO_META;
	return verdict_pack(&v);
}

/* tc ingress's verdict: the twin's, else the walk's. */
static __always_inline void tc_ingress_run(struct __sk_buff *skb, __u64 twin, struct verdict *v)
{
	if (twin == TWIN_NO_META)
		walk_skb(skb, v);
	else
		verdict_unpack(twin, v);
}

#endif
