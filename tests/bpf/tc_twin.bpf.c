// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tc_twin - for the BPF tests only: the tc ingress twin's work (bpf/lib/
 * twin.h, the very code nosnat_tc_ingress runs) on what XDP left in a
 * frame's metadata. BPF_PROG_TEST_RUN cannot give an skb metadata, so the
 * harness copies XDP's into twin_meta; the maps are the tested object's. */
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

SEC("tc")
int tc_twin(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	twin_from_xdp(skb, &twin_meta, &v);
	count_verdict(NOSNAT_HOOK_TC_INGRESS, &v, skb->len);
	if (v.out == OUT_NEIGH)
		return bpf_redirect_neigh(v.ifindex, NULL, 0, 0);
	return v.out == OUT_PASS ? TC_ACT_OK : TC_ACT_SHOT;
}
