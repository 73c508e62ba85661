// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Lab only: veth drops XDP_TX/redirected frames unless the receiving peer
 * has an XDP program, so the bridge-side peers of node uplinks get this. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
