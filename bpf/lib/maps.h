/* maps.h - every map of the dataplane, pinned by name under the pin dir.
 * Layouts come from include/nosnat_abi.h; the loader owns their contents. */
#ifndef NOSNAT_MAPS_H
#define NOSNAT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "nosnat_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nosnat_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_cfg SEC(".maps");

static __always_inline const struct nosnat_cfg *cfg_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nosnat_cfg, &zero);
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, struct nosnat_vip_key);
	__type(value, struct nosnat_vip);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vips SEC(".maps");

/* VIP addresses (any port), to recognise fragments of VIP traffic. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __be32);
	__type(value, __u32);		/* number of VIP:port entries */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nosnat_addr_filter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip_filt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct nosnat_vip_id);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct nosnat_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_NODES);
	__type(key, __be32);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_nodes SEC(".maps");

/* nosnat_maglev, per VIP id its Maglev table, and the table's layout */
#include "maglev_maps.h"

/* Per VIP id, the table it had before the last change that altered it
 * (kept until the next one): where a flow older than the change went. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct nosnat_maglev_table);
} nosnat_mag_prev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct nosnat_local);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NOSNAT_FLOW_ENTRIES);
	__type(key, struct nosnat_flow_key);
	__type(value, struct nosnat_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_flows SEC(".maps");

/* Flows that have not shown more than a SYN yet (nosnat_abi.h): promoted to
 * nosnat_flows by the client's first non-SYN packet. Sets of ways, by the
 * flow key's hash (lib/lookup.h, hs_*). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_HS_SETS);
	__type(key, __u32);
	__type(value, struct nosnat_hs_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_flow_new SEC(".maps");

/* Per-CPU budgets of the current second: SYNs recorded on their way to
 * another node (cfg->new_flow_limit), frag-needed sent (NOSNAT_ICMP_PER_SEC).
 * Not pinned: a new load starts with fresh budgets. */
enum rate_budget { RATE_NEW_FLOWS, RATE_ICMP, RATE_BUDGETS };

struct rate_window {
	__u64 second;		/* bpf_ktime_get_ns() >> 30 */
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RATE_BUDGETS);
	__type(key, __u32);
	__type(value, struct rate_window);
} nosnat_rate SEC(".maps");

/* A pod's UDP reply the kernel had to fragment: the first fragment carries
 * the ports and finds the flow; the later ones (no ports) are known by the
 * datagram's addresses and IP ID and leave as the VIP too, while the entry
 * lives: until the last fragment, NOSNAT_FRAG_LIFETIME_MS at most (a
 * datagram's fragments leave within moments; a later datagram may reuse
 * the ID). Per load. */
struct nosnat_frag_key {
	__be32 pod;
	__be32 client;
	__be16 id;
	__u16 pad;
};

struct nosnat_frag_val {
	__be32 vip;		/* the VIP's address */
	__u32 pad;
	__u64 born;		/* bpf_ktime_get_ns() of the first fragment */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct nosnat_frag_key);
	__type(value, struct nosnat_frag_val);
} nosnat_frags SEC(".maps");

/* Spend one of this CPU's budget of the current second; 1 when it is over
 * limit (0: no limit). */
static __always_inline int rate_over(__u32 budget, __u32 limit)
{
	struct rate_window *r;
	__u64 second;

	if (!limit)
		return 0;
	r = bpf_map_lookup_elem(&nosnat_rate, &budget);
	if (!r)
		return 0;
	second = bpf_ktime_get_ns() >> 30;
	if (r->second != second) {
		r->second = second;
		r->count = 0;
	}
	return ++r->count > limit;
}

/* Per-CPU direct-mapped copies of busy flows' entries, for XDP's requests
 * and tc egress's replies alike (lookup.h, flow_lookup). Not pinned: a
 * fresh, empty cache with every load. */
#define FLOW_CACHE_BITS 10
/* A cache entry that says "this connection (client -> pod, keyed by the
 * pod's address and port) has no VIP's conntrack mark": tc egress asks
 * conntrack once per jiffy, not once per reply, for a pod's direct
 * connections. Its key names a pod, never a VIP, so flow_lookup never
 * matches it. */
#define FLOW_CACHE_NOT_VIP 0x80000000u
struct flow_cache_entry {
	struct nosnat_flow_key key;
	struct nosnat_flow flow;
	__u64 jiffy;		/* valid during this jiffy only */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << FLOW_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct flow_cache_entry);
} nosnat_flow_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nosnat_addr_filter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_pod_filt SEC(".maps");

/* The directory of nosnat_pods, by nosnat_pod_index of the key: tc egress
 * looks here first (an array lookup), in nosnat_pods only for a key that
 * shares its index with a smaller one (NOSNAT_POD_MORE). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_POD_DIR_SLOTS);
	__type(key, __u32);
	__type(value, struct nosnat_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_pod_dir SEC(".maps");

/* Local pods, for tc egress: which backend slots a reply could belong to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_BACKENDS);
	__type(key, struct nosnat_pod_key);
	__type(value, struct nosnat_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NOSNAT_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct nosnat_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_stats SEC(".maps");

/* Per reason, packets whose pod was found another way than by a flow entry
 * (recovered, ct_recovered, second_chance, new_flow_limited, not_owned),
 * whatever their verdict's reason says about how they left. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NOSNAT_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_flow_ev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct nosnat_vip_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip_stat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NOSNAT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct nosnat_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_be_stat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NOSNAT_NEXTHOP_SLOTS);
	__type(key, __u32);
	__type(value, struct nosnat_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_nexthop SEC(".maps");

/* Per VIP id, its Maglev table's generation (nosnat_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip_gen SEC(".maps");

/* IPv6 (nosnat_abi.h): VIPs, their addresses, pods' v6 addresses by
 * backend id, flows, this node's pods. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, struct nosnat_vip6_key);
	__type(value, struct nosnat_vip);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vips6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, struct nosnat_be6);	/* the address */
	__type(value, __u32);		/* number of VIP:port entries */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip6_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct nosnat_be6);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_be6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NOSNAT_FLOW6_ENTRIES);
	__type(key, struct nosnat_flow6_key);
	__type(value, struct nosnat_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_NODES);
	__type(key, struct nosnat_be6);	/* a v6 node's address */
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_nodes6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct nosnat_be6);	/* the pod's node's v6 address, or zero */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_be_node6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);	/* sets of handshakes (nosnat_abi.h) */
	__uint(max_entries, NOSNAT_HS6_SETS);
	__type(key, __u32);
	__type(value, struct nosnat_hs6_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_flow6_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NOSNAT_MAX_BACKENDS);
	__type(key, struct nosnat_pod6_key);
	__type(value, struct nosnat_pod6);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_pods6 SEC(".maps");

/* Control plane only: service names and reload bookkeeping (see ABI). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NOSNAT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct nosnat_vip_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_vip_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nosnat_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} nosnat_ctl SEC(".maps");

#endif
