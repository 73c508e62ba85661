/* bench.h - what the benchmark's BPF programs (bench.bpf.c) and its driver
 * (bench.c) share: the saved frame and the reference programs' keys. */
#ifndef NOSNAT_BENCH_H
#define NOSNAT_BENCH_H

#include <linux/types.h>

#define BENCH_HDR 128		/* header bytes restored each round */

struct bench_frame {
	__u32 len;
	__u32 vary;		/* 1: a new client address every round (new flows);
				 * 2: the next of 2^19 clients every round, over again */
	__u8 data[BENCH_HDR];
};

/* The reference programs' flow key and the minimal balancer's VIP key. */
struct bench_ref_flow {
	__be32 src, dst;
	__be16 sport, dport;
	__u32 proto;
};

struct model_vip_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

#endif
