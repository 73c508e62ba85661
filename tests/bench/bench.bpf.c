// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Benchmark harness: BPF_PROG_TEST_RUN with repeat runs a program again on
 * the frame it already changed (an encapsulated or DNATed packet on the
 * second round). These programs restore the saved frame first (length and
 * header bytes), then tail-call the program under test; the same harness
 * tail-calling an empty program gives the cost to subtract. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../../bpf/lib/hash.h"	/* the minimal balancer's flow hash: Jenkins, as Katran's */
#include "bench.h"

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

static __always_inline void vary_source(__u8 *ip_saddr_low, __u32 mode)
{
	__u32 zero = 0;
	__u64 *r = bpf_map_lookup_elem(&bench_round, &zero);
	__u64 v;

	if (!r)
		return;
	v = ++(*r);
	if (mode == 2)
		v &= (1 << 19) - 1;
	/* 198.18.x.y: 2^16 clients, then 2^16 more per source port below */
	ip_saddr_low[0] = (__u8)(v >> 8);
	ip_saddr_low[1] = (__u8)v;
	ip_saddr_low[7] = (__u8)(v >> 16);	/* TCP source port, low byte (IP options: none) */
}

/* Set where the kernel lets XDP use metadata (the object under test then
 * leaves the tc twin some): when 0 the strip below is never verified. */
const volatile __u32 bench_xdp_meta = 0;

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
		vary_source(data + 14 + 14, f->vary);	/* low half of the IPv4 source, and sport */
	/* the metadata the last round's program left (the tc twin's work):
	 * gone, as the stack would take it, so that every round leaves its own */
	{
		void *meta = (void *)(long)ctx->data_meta;

		data = (void *)(long)ctx->data;
		if (bench_xdp_meta && meta + sizeof(struct nosnat_meta) <= data &&
		    bpf_xdp_adjust_meta(ctx, (int)sizeof(struct nosnat_meta)))
			return XDP_ABORTED;
	}
	bpf_tail_call(ctx, &bench_xdp_next, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bench_xdp_empty(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

/* The harness's own head move: a path that grows or shrinks the frame
 * makes the harness move the head back each round, which the empty
 * program never does. This one grows the frame by an IPv4 header as
 * encapsulation does; against the empty program it costs two moves (its
 * own and the harness's), and half of that is taken off such paths. */
SEC("xdp")
int bench_xdp_grow(struct xdp_md *ctx)
{
	return bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)) ? XDP_ABORTED : XDP_PASS;
}

SEC("tc")
int bench_tc(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_frame, &zero);

	if (!f)
		return TC_ACT_SHOT;
	/* a round that encapsulated grew the skb: back to the frame's length */
	if (skb->len != f->len && bpf_skb_change_tail(skb, f->len, 0))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, f->data, BENCH_HDR, 0))
		return TC_ACT_SHOT;
	if (f->vary) {
		void *data = (void *)(long)skb->data;

		if (data + 14 + 14 + 8 > (void *)(long)skb->data_end)
			return TC_ACT_SHOT;
		vary_source(data + 14 + 14, f->vary);
	}
	bpf_tail_call(skb, &bench_tc_next, 0);
	return TC_ACT_SHOT;
}

SEC("tc")
int bench_tc_empty(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

/* References, measured like the paths: what one map lookup costs on this
 * machine. A flow-table balancer's established packet needs at least the
 * LRU lookup (Katran's looks up its VIP in a hash and the flow in an LRU).
 * The keys come from the packet as the dataplane's do; the loader fills
 * the maps so that both lookups hit. */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);		/* NOSNAT_FLOW_ENTRIES */
	__type(key, struct bench_ref_flow);
	__type(value, struct bench_ref_flow);
} bench_ref_lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);		/* NOSNAT_MAX_VIPS */
	__type(key, __u64);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} bench_ref_hash SEC(".maps");

/* Ethernet, IPv4 without options, TCP: the bench frames. */
static __always_inline struct iphdr *bench_ip(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + 14;

	if ((void *)(ip + 1) + 4 > data_end)
		return NULL;
	return ip;
}

SEC("xdp")
int bench_ref_lru_lookup(struct xdp_md *ctx)
{
	struct iphdr *ip = bench_ip(ctx);
	struct bench_ref_flow k;
	__be16 *ports;

	if (!ip)
		return XDP_ABORTED;
	ports = (void *)(ip + 1);
	k = (struct bench_ref_flow){ .src = ip->saddr, .dst = ip->daddr, .sport = ports[0],
				     .dport = ports[1], .proto = ip->protocol };
	return bpf_map_lookup_elem(&bench_ref_lru, &k) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int bench_ref_hash_lookup(struct xdp_md *ctx)
{
	struct iphdr *ip = bench_ip(ctx);
	__u64 k;

	if (!ip)
		return XDP_ABORTED;
	k = ((__u64)ip->daddr << 32) | ((__u32)((__be16 *)(ip + 1))[1] << 8) | ip->protocol;
	return bpf_map_lookup_elem(&bench_ref_hash, &k) ? XDP_PASS : XDP_DROP;
}

/* A minimal flow-table balancer: the same-run reference for nosnat's
 * encapsulated paths. It does what a Katran-style IPIP balancer does for
 * a TCP packet to a VIP and nothing more (no DNAT, no reply path, no MSS
 * clamp, no spoofing check, no VLANs, no IP options, one next hop): parse;
 * the VIP in a hash; the flow in an LRU (a SYN skips it); without a flow,
 * a Maglev slot (M = 65537) and an LRU insert; the backend from an array;
 * two per-CPU counters; IPIP with the header sum; MACs from an array;
 * XDP_TX. Its flow hash is nosnat's (a Jenkins mix, like Katran's): a
 * weaker one would walk the Maglev table of the bench's consecutive
 * clients in a pattern, cheaper than real clients' and nosnat's.
 * Written for this harness, not taken from any project. */
#define MODEL_RING	65537
#define MODEL_BACKENDS	64


struct model_counter {
	__u64 packets, bytes;
};

struct model_macs {
	__u8 dst[6], src[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct model_vip_key);
	__type(value, __u32);			/* the VIP's number */
	__uint(map_flags, BPF_F_NO_PREALLOC);
} bench_model_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);		/* NOSNAT_FLOW_ENTRIES */
	__type(key, struct bench_ref_flow);
	__type(value, __u32);			/* backend number */
} bench_model_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MODEL_RING);
	__type(key, __u32);
	__type(value, __u32);
} bench_model_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MODEL_BACKENDS);
	__type(key, __u32);
	__type(value, __be32);			/* the backend's node */
} bench_model_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1024 + MODEL_BACKENDS);
	__type(key, __u32);
	__type(value, struct model_counter);
} bench_model_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct model_macs);
} bench_model_macs SEC(".maps");

static __always_inline void model_count(__u32 key, __u64 bytes)
{
	struct model_counter *c = bpf_map_lookup_elem(&bench_model_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

SEC("xdp")
int bench_model_ipip(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data, *neth;
	struct iphdr *ip = data + sizeof(*eth), *outer;
	struct model_vip_key vk = {};
	struct bench_ref_flow fk;
	struct model_macs *macs;
	__u32 *vip_num, *bid, ring_slot, zero = 0, backend, sum = 0;
	__be32 *node, src;
	__be16 *ports;
	__u8 *tcp_flags;
	__u16 tot;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	ports = (void *)(ip + 1);
	tcp_flags = (__u8 *)ports + 13;
	if ((void *)(tcp_flags + 1) > data_end)
		return XDP_PASS;
	vk.addr = ip->daddr;
	vk.port = ports[1];
	vk.proto = ip->protocol;
	vip_num = bpf_map_lookup_elem(&bench_model_vips, &vk);
	if (!vip_num)
		return XDP_PASS;
	tot = bpf_ntohs(ip->tot_len);
	model_count(*vip_num & 1023, tot);
	fk = (struct bench_ref_flow){ .src = ip->saddr, .dst = ip->daddr, .sport = ports[0],
				      .dport = ports[1], .proto = ip->protocol };
	bid = (*tcp_flags & 0x02) ? NULL : bpf_map_lookup_elem(&bench_model_flows, &fk);
	if (bid) {
		backend = *bid;
	} else {
		__u32 *slot;

		ring_slot = nosnat_flow_hash(fk.src, fk.dst, fk.sport, fk.dport, IPPROTO_TCP) %
			    MODEL_RING;
		slot = bpf_map_lookup_elem(&bench_model_ring, &ring_slot);
		if (!slot)
			return XDP_DROP;
		backend = *slot;
		bpf_map_update_elem(&bench_model_flows, &fk, &backend, BPF_ANY);
	}
	node = bpf_map_lookup_elem(&bench_model_backends, &backend);
	macs = bpf_map_lookup_elem(&bench_model_macs, &zero);
	if (!node || !macs)
		return XDP_DROP;
	model_count(1024 + (backend & (MODEL_BACKENDS - 1)), tot);
	src = ip->daddr;

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	neth = data;
	outer = data + sizeof(*neth);
	if ((void *)(outer + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(neth->h_dest, macs->dst, 6);
	__builtin_memcpy(neth->h_source, macs->src, 6);
	neth->h_proto = bpf_htons(ETH_P_IP);
	outer->version = 4;
	outer->ihl = 5;
	outer->tos = 0;
	outer->tot_len = bpf_htons(tot + sizeof(*outer));
	outer->id = 0;
	outer->frag_off = 0;
	outer->ttl = 64;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = src;
	outer->daddr = *node;
#pragma unroll
	for (int i = 0; i < (int)sizeof(*outer) / 2; i++)
		sum += ((__u16 *)outer)[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	outer->check = (__u16)~sum;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
