/* stats.h - per-CPU counters: one slot per {hook, action, reason}, plus
 * per-VIP and per-backend packet/byte counts. No atomics: per-CPU maps. */
#ifndef NOSNAT_STATS_H
#define NOSNAT_STATS_H

#include "maps.h"
#include "ctx.h"

struct verdict {
	__u32 out;		/* enum outcome */
	__u32 ifindex;		/* OUT_REDIRECT, OUT_NEIGH */
	__u32 action;		/* enum nosnat_action */
	__u32 reason;		/* enum nosnat_reason */
};

static __always_inline void set_verdict(struct verdict *v, __u32 out, __u32 action, __u32 reason)
{
	v->out = out;
	v->action = action;
	v->reason = reason;
}

/* Passed on for tc to finish, untouched: counted as that at XDP alone. */
static __always_inline void to_tc(struct verdict *v)
{
	set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_TO_TC);
}

/* A verdict in one scalar, for the walk's global functions to return. */
static __always_inline __u64 verdict_pack(const struct verdict *v)
{
	return (__u64)v->ifindex << 32 | (v->reason & 0xff) << 16 | (v->action & 0xff) << 8 |
	       (v->out & 0xff);
}

static __always_inline void verdict_unpack(__u64 x, struct verdict *v)
{
	v->out = x & 0xff;
	v->action = (x >> 8) & 0xff;
	v->reason = (x >> 16) & 0xff;
	v->ifindex = x >> 32;
}

static __always_inline void count_verdict(__u32 hook, const struct verdict *v, __u64 bytes)
{
	__u32 key = nosnat_stat_slot(hook, v->action, v->reason);
	struct nosnat_counter *c;

	if (v->action >= NOSNAT_ACT_MAX || v->reason >= NOSNAT_R_MAX)
		return;
	c = bpf_map_lookup_elem(&nosnat_stats, &key);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void count_vip(__u32 vip_id, __u64 bytes, int new_flow)
{
	struct nosnat_vip_counter *c = bpf_map_lookup_elem(&nosnat_vip_stat, &vip_id);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		c->flows += new_flow;
	}
}

/* A new flow counted for its VIP once its first packet went to a pod. */
static __always_inline void count_vip_flow(__u32 vip_id)
{
	struct nosnat_vip_counter *c = bpf_map_lookup_elem(&nosnat_vip_stat, &vip_id);

	if (c)
		c->flows++;
}

static __always_inline void count_flow_event(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&nosnat_flow_ev, &reason);

	if (c)
		*c += 1;
}

static __always_inline void count_backend(__u32 id, __u64 bytes)
{
	struct nosnat_counter *c = bpf_map_lookup_elem(&nosnat_be_stat, &id);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

#endif
