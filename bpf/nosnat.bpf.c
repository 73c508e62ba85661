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
#include "lib/walk.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int nosnat_xdp(struct xdp_md *ctx)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };
	int meta = xdp_meta_room(ctx);	/* before the frame's pointers are taken */
	__u64 len = ctx->data_end - ctx->data;

	walk_xdp(ctx, &v, meta);
	count_verdict(NOSNAT_HOOK_XDP, &v, len);
	return xdp_ret(&v);
}

/* XDP's v6 walk (lib/v6.h: walk6, as tc's), tail-called by nosnat_xdp's
 * walk (walk.h) for a frame that may be a v6 VIP's. */
SEC("xdp")
int nosnat_xdp6(struct xdp_md *ctx)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };
	__u64 len = ctx->data_end - ctx->data;

	walk6(CTX_XDP(ctx), &v, ~0U);
	count_verdict(NOSNAT_HOOK_XDP, &v, len);
	return xdp_ret(&v);
}

/* What XDP left in the frame's metadata, done by the twin (lib/twin.h), as
 * a global function: the metadata's copy on its own stack, not on the entry
 * point's, under which the v6 walk and its encapsulation sit. TWIN_NO_META:
 * nothing left (or the twin declined): the walk's. */
__attribute__((noinline)) __u64 nosnat_twin_skb(struct __sk_buff *skb)
{
	struct nosnat_meta *meta, m = {};
	void *data;

	if (!skb)
		return TWIN_NO_META;
	meta = (void *)(long)skb->data_meta;
	data = (void *)(long)skb->data;
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
	return twin_run(skb, &m);
}

/* tc ingress: carries out what XDP left in the frame's metadata (a pod's
 * rewrite, a hand-off to the neighbour code; lib/twin.h); the whole walk
 * for anything else XDP passed on, or for every packet with --hook tc. A
 * frame without metadata (every one with --hook tc or without XDP's
 * metadata) skips the twin's call. */
SEC("tc")
int nosnat_tc_ingress(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };
	__u64 twin = TWIN_NO_META;

	if ((void *)(long)skb->data_meta < (void *)(long)skb->data)
		twin = nosnat_twin_skb(skb);
	tc_ingress_run(skb, twin, &v);
	count_verdict(NOSNAT_HOOK_TC_INGRESS, &v, skb->len);
	return tc_ret(skb, &v);
}

SEC("tc")
int nosnat_tc_egress(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		verdict_unpack(nosnat_reply6_skb(skb), &v);
	else
		verdict_unpack(nosnat_reply_skb(skb), &v);
	count_verdict(NOSNAT_HOOK_TC_EGRESS, &v, skb->len);
	return tc_ret(skb, &v);
}
