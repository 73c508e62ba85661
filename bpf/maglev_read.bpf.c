// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* maglev_read - copies a VIP's Maglev table out of nosnat_maglev for
 * nosnat verify. User space gets only an inner map's ID from a map of maps,
 * and turning an ID into an fd needs CAP_SYS_ADMIN, which the DaemonSet
 * does not have; loading and running this program needs CAP_BPF (and
 * CAP_PERFMON for the copy), which it does. Run with BPF_PROG_RUN. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* the pinned map, as the dataplane defines it (the loader reuses its fd) */
#include "lib/maglev_maps.h"

/* where the table is copied to: this load's own */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct nosnat_maglev_slots));
} read_buf SEC(".maps");

struct read_args {
	__u32 vip_id;
	__s32 result;		/* 0: copied; -2: no table; -1: failed */
};

SEC("syscall")
int read_maglev(struct read_args *args)
{
	__u32 zero = 0, id = args->vip_id;
	struct nosnat_maglev_slots *out;
	void *inner, *t;

	args->result = -1;
	out = bpf_map_lookup_elem(&read_buf, &zero);
	if (!out)
		return 0;
	inner = bpf_map_lookup_elem(&nosnat_maglev, &id);
	if (!inner) {
		args->result = -2;
		return 0;
	}
	t = bpf_map_lookup_elem(inner, &zero);
	if (!t)
		return 0;
	if (bpf_probe_read_kernel(out, sizeof(*out), t))
		return 0;
	args->result = 0;
	return 0;
}
