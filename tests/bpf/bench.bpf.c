// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Benchmark harness: BPF_PROG_TEST_RUN with repeat runs a program again on
 * the frame it already changed (an encapsulated or DNATed packet on the
 * second round). These programs restore the saved frame first (length and
 * header bytes), then tail-call the program under test; the same harness
 * tail-calling an empty program gives the cost to subtract. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define BENCH_HDR 128		/* header bytes restored each round */

struct bench_frame {
	__u32 len;
	__u32 vary;		/* 1: a new client address every round (new flows) */
	__u8 data[BENCH_HDR];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_frame);
} bench_frame SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_round SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_xdp_next SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_tc_next SEC(".maps");

static __always_inline void vary_source(__u8 *ip_saddr_low)
{
	__u32 zero = 0;
	__u64 *r = bpf_map_lookup_elem(&bench_round, &zero);

	if (!r)
		return;
	(*r)++;
	/* 198.18.x.y: 2^16 clients, then 2^16 more per source port below */
	ip_saddr_low[0] = (__u8)(*r >> 8);
	ip_saddr_low[1] = (__u8)*r;
	ip_saddr_low[7] = (__u8)(*r >> 16);	/* TCP source port, low byte (IP options: none) */
}

SEC("xdp")
int bench_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_frame, &zero);
	void *data, *data_end;
	int delta;

	if (!f)
		return XDP_ABORTED;
	delta = (int)(ctx->data_end - ctx->data) - (int)f->len;
	if (delta && bpf_xdp_adjust_head(ctx, delta))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + BENCH_HDR > data_end)
		return XDP_ABORTED;
	/* in 8-byte words (data sits at offset 8): a byte-wise copy would
	 * cost more than most of the paths measured */
#pragma unroll
	for (int i = 0; i < BENCH_HDR / 8; i++)
		((__u64 *)data)[i] = ((const __u64 *)f->data)[i];
	if (f->vary)
		vary_source(data + 14 + 14);	/* low half of the IPv4 source, and sport */
	bpf_tail_call(ctx, &bench_xdp_next, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bench_xdp_empty(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("tc")
int bench_tc(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_frame, &zero);

	if (!f || bpf_skb_store_bytes(skb, 0, f->data, BENCH_HDR, 0))
		return TC_ACT_SHOT;
	bpf_tail_call(skb, &bench_tc_next, 0);
	return TC_ACT_SHOT;
}

SEC("tc")
int bench_tc_empty(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
