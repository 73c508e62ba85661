/* maglev_maps.h - the Maglev tables' map of maps: maps.h's, and what the
 * verify reader (bpf/maglev_read.bpf.c) opens over the pinned one. */
#ifndef NOSNAT_MAGLEV_MAPS_H
#define NOSNAT_MAGLEV_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "nosnat_abi.h"

/* One value holding the whole table; mmapable, so the loader fills a new
 * table with one memcpy. */
struct nosnat_maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	/* sizes, not BTF types: libbpf cannot size a 65537-slot array type */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct nosnat_maglev_slots));
};

/* Per VIP id, its Maglev table; the loader swaps whole tables in. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct nosnat_maglev_table);
} nosnat_maglev SEC(".maps");

#endif
