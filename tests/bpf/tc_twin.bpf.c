// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tc_twin - for the BPF tests only: nosnat_tc_ingress's work (bpf/lib/
 * twin.h, tc_ingress_run: the very code it runs) on what XDP left in a
 * frame's metadata. BPF_PROG_TEST_RUN cannot give an skb metadata, so the
 * harness copies XDP's into twin_meta; only the read of skb->data_meta is
 * not this program's. The maps are the tested object's. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "nosnat_abi.h"
#include "../../bpf/lib/maps.h"
#include "../../bpf/lib/stats.h"
#include "../../bpf/lib/twin.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct nosnat_meta twin_meta;

/* nosnat_twin_skb's part, the metadata from twin_meta */
__attribute__((noinline)) __u64 tc_twin_meta(struct __sk_buff *skb)
{
	struct nosnat_meta m = twin_meta;

	if (!skb)
		return TWIN_NO_META;
	return twin_run(skb, &m);
}

SEC("tc")
int tc_twin(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	tc_ingress_run(skb, tc_twin_meta(skb), &v);
	count_verdict(NOSNAT_HOOK_TC_INGRESS, &v, skb->len);
	return tc_ret(skb, &v);
}
