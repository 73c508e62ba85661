/* vips.h - VIP tables, the VIP index and address filter, backend slots,
 * nodes (vips.c). */
#ifndef NOSNAT_VIPS_H
#define NOSNAT_VIPS_H

#include "state.h"

/* Rewrite the VIP address filter and the VIP id -> key array from s (after
 * attach: maps created empty, or by an older nosnat). */
int vip_index_sync(const struct nosnat_maps *m, const struct state *s);
/* Rebuild one VIP's Maglev table, local list and active count. */
int vip_sync(const struct nosnat_maps *m, struct state *s, struct vip_entry *v);
/* The same for n VIPs, their tables swapped in a few batch updates. */
int vip_sync_many(const struct nosnat_maps *m, struct state *s, struct vip_entry **vs, size_t n);
/* Building blocks for batched changes (apply): a free backend slot, writing
 * a slot (after s->be[id] is set), releasing one, naming a VIP. */
int be_alloc(const struct state *s);
int be_write(const struct nosnat_maps *m, struct state *s, __u32 id, int fresh);
int be_release(const struct nosnat_maps *m, struct state *s, __u32 id);
int be_tags_fill(const struct nosnat_maps *m, struct state *s);
int vip_set_name(const struct nosnat_maps *m, struct vip_entry *v, const char *name);
/* The primitives of the apply engine (apply.c), each checking its own
 * preconditions (-EEXIST, -ENOENT, -ENOSPC, -EBUSY) with no map touched:
 * a node into or out of nosnat_nodes; a VIP created with a fresh id and
 * counters (no backend yet) or removed with its slots, tables and index. */
int node_insert(const struct nosnat_maps *m, struct state *s, __be32 node);
int node_remove(const struct nosnat_maps *m, struct state *s, __be32 node);
/* The same for a v6 node (nosnat_nodes6). */
int node6_insert(const struct nosnat_maps *m, struct state *s, const __u8 *node6);
int node6_remove(const struct nosnat_maps *m, struct state *s, const __u8 *node6);
int vip_create(const struct nosnat_maps *m, struct state *s, const struct vip_key *k);
int vip_remove(const struct nosnat_maps *m, struct state *s, const struct vip_key *k);
/* The address filter: bits of addresses, set and tested; written from s's
 * VIP addresses plus extra (0: none). */
void filter_set(struct nosnat_addr_filter *f, __be32 addr);
int filter_has(const struct nosnat_addr_filter *f, __be32 addr);
int filter_write(const struct nosnat_maps *m, const struct state *s, __be32 extra);
/* The VIP:port entries of k's address in nosnat_vip_addr (v6:
 * nosnat_vip6_addr); 0 when it has none. */
__u32 vip_addr_refs(const struct nosnat_maps *m, const struct vip_key *k);
/* The reference of a VIP id's next owner: the generation counts on. */
__u32 vip_ref_next(__u32 id, __u32 old_ref);

#endif
