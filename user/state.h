/* state.h - the loader's view of the pinned maps: open them, read the whole
 * configuration into memory, validate a change against it, then apply it
 * in an order where every packet sees a consistent state. */
#ifndef NOSNAT_STATE_H
#define NOSNAT_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "nosnat_abi.h"

#define NOSNAT_DEFAULT_PIN_DIR "/sys/fs/bpf/nosnat"

/* An fd per pinned map (NOSNAT_PINNED_MAPS), and the pin dir's lock. */
struct nosnat_maps {
#define X(field, map, name) int field;
	NOSNAT_PINNED_MAPS(X)
#undef X
	int lock_fd;
};

struct vip_entry {
	struct nosnat_vip_key key;
	struct nosnat_vip val;
	char name[NOSNAT_VIP_NAME_LEN];
};

struct state {
	struct nosnat_cfg cfg;
	struct vip_entry vips[NOSNAT_MAX_VIPS];
	size_t n_vips;
	struct nosnat_backend be[NOSNAT_MAX_BACKENDS];
	__be32 nodes[NOSNAT_MAX_NODES];
	size_t n_nodes;
};

/* Pin directory: exists, is on a bpffs (mounting /sys/fs/bpf when it is the
 * default and missing). create: make the directory. */
int pin_dir_prepare(const char *pin_dir, int create);
int maps_open(const char *pin_dir, struct nosnat_maps *m);
/* Mark every fd closed, so maps_close() is a no-op. */
void maps_open_none(struct nosnat_maps *m);
void maps_close(struct nosnat_maps *m);
/* Exclusive lock for writers, held until maps_close(). */
int maps_lock(const char *pin_dir, struct nosnat_maps *m);

int state_read(const struct nosnat_maps *m, struct state *s);
/* Check that the maps agree with each other (tables, local lists, counts,
 * address refcounts, nodes). Prints one line per problem; returns how many. */
int state_verify(const struct nosnat_maps *m, const struct state *s, FILE *out);
/* Shared lock: readers that need a state no writer is halfway through. */
int maps_lock_shared(const char *pin_dir, struct nosnat_maps *m);

/* Sum the n u64 counters of a per-CPU value over all CPUs. */
int percpu_sum(int fd, __u32 key, size_t n, uint64_t *out);
/* Read all n values of an array map (batched). */
int array_read(int fd, void *values, size_t value_size, __u32 n);
struct vip_entry *state_find_vip(struct state *s, const struct nosnat_vip_key *k);
int state_find_backend(const struct state *s, __u32 vip_id, __be32 addr, __be16 port);
int state_has_node(const struct state *s, __be32 node);
/* The slots in use by a VIP id, in id order, into ids; returns how many. */
size_t state_vip_backends(const struct state *s, __u32 vip_id, __u32 *ids);

/* Every VIP id's slots at once (one pass): ids[start[v] .. start[v + 1]). */
struct be_index {
	__u32 start[NOSNAT_MAX_VIPS + 1];
	__u32 ids[NOSNAT_MAX_BACKENDS];
};
void be_index_build(const struct state *s, struct be_index *ix);

/* Changes. Each validates first (-EEXIST, -ENOENT, -ENOSPC, -EBUSY, -EINVAL
 * with no map touched), then applies. */
int op_node_add(const struct nosnat_maps *m, struct state *s, __be32 node);
int op_node_del(const struct nosnat_maps *m, struct state *s, __be32 node);
int op_vip_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k);
int op_vip_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k);
int op_backend_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port, __be32 node, __u16 weight);
int op_backend_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port);
/* Rewrite the VIP address filter and the VIP id -> key array from s (after
 * attach: maps created empty, or by an older nosnat). */
int vip_index_sync(const struct nosnat_maps *m, const struct state *s);
/* Make nosnat_pods list exactly the slots of this node's pods (in use or
 * being freed). */
int pods_sync(const struct nosnat_maps *m, const struct state *s);
/* In-use slots (any node) of pod addr:port behind VIPs of protocol proto. */
int pod_vips(const struct state *s, __be32 addr, __be16 port, __u8 proto);
/* Rebuild one VIP's Maglev table, local list and active count. */
int vip_sync(const struct nosnat_maps *m, struct state *s, struct vip_entry *v);
/* The same for n VIPs, their tables swapped in a few batch updates. */
int vip_sync_many(const struct nosnat_maps *m, struct state *s, struct vip_entry **vs, size_t n);

/* Loader-only mark in s->be[].flags (never written to the map): out of its
 * VIP's next table, its slot freed only after that table is swapped in, so
 * no other backend may take it before. */
#define STATE_BE_FREEING	0x80000000u

/* Building blocks for batched changes (apply): a free backend slot, writing
 * a slot (after s->be[id] is set), releasing one, naming a VIP. */
int be_alloc(const struct state *s);
int be_write(const struct nosnat_maps *m, struct state *s, __u32 id, int fresh);
int be_release(const struct nosnat_maps *m, struct state *s, __u32 id);
int vip_set_name(const struct nosnat_maps *m, struct vip_entry *v, const char *name);
/* Count local backends of a VIP id for node ip. */
unsigned int vip_local_count(const struct state *s, __u32 vip_id, __be32 node_ip);

#endif
