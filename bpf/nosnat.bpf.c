// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nosnat dataplane entry points: the packet walk (README, "How it works").
 * Each program calls into bpf/lib and counts its verdict exactly once, on
 * the way out. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "nosnat_abi.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/lookup.h"
#include "lib/deliver.h"
#include "lib/decap.h"
#include "lib/reply.h"
#include "lib/twin.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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

/* tc ingress twin: carries out what XDP left in the frame's metadata (a
 * pod's rewrite, a hand-off to the neighbour code; lib/twin.h). */
SEC("tc")
int nosnat_tc_ingress(struct __sk_buff *skb)
{
	struct verdict v = { .ret = TC_ACT_OK, .action = NOSNAT_ACT_PASS };
	struct nosnat_meta *meta = (void *)(long)skb->data_meta, m = {};
	void *data = (void *)(long)skb->data;

	/* a hand-off needs magic and ifindex only: an older XDP program (the
	 * moment after an upgrade attached this twin) leaves just those */
	if ((void *)meta + 8 <= data && meta->magic == NOSNAT_META_MAGIC) {
		m.magic = meta->magic;
		m.ifindex = meta->ifindex;
		meta->magic = 0;	/* done once, whatever comes after */
	} else if ((void *)(meta + 1) <= data && meta->magic == NOSNAT_META_LOCAL) {
		m = *meta;
		meta->magic = 0;
	}
	if (m.magic)
		twin_from_xdp(skb, &m, &v);
	count_verdict(NOSNAT_HOOK_TC_INGRESS, &v, skb->len);
	return v.ret;
}

SEC("tc")
int nosnat_tc_egress(struct __sk_buff *skb)
{
	struct verdict v = { .ret = TC_ACT_OK, .action = NOSNAT_ACT_PASS };

	tc_reply_nat(skb, &v);
	count_verdict(NOSNAT_HOOK_TC_EGRESS, &v, skb->len);
	return v.ret;
}
