/* state.h - the loader's view of the pinned maps: the whole configuration
 * read into memory and searched. Changing it: ops.h (one change), vips.h
 * (VIP tables), pods.h (this node's pods); checking it: verify.h. */
#ifndef NOSNAT_STATE_H
#define NOSNAT_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "nosnat_abi.h"
#include "parse.h"
#include "pins.h"

struct vip_entry {
	VIP_KEY_VIEWS;			/* vk: the VIP, either family (parse.h) */
	struct nosnat_vip val;
	char name[NOSNAT_VIP_NAME_LEN];
};

struct scratch;

struct state {
	struct scratch *tmp;	/* the owner's temporaries (scratch.h); kept by state_read */
	struct nosnat_cfg cfg;
	struct vip_entry vips[NOSNAT_MAX_VIPS];
	size_t n_vips;
	struct nosnat_backend be[NOSNAT_MAX_BACKENDS];
	struct nosnat_be6 be6[NOSNAT_MAX_BACKENDS];	/* a v6 pod's address by slot; zero: v4 */
	struct nosnat_be6 be_node6[NOSNAT_MAX_BACKENDS];	/* NOSNAT_BE_NODE6: its node's
								 * v6 address; else zero */
	__be32 nodes[NOSNAT_MAX_NODES];
	size_t n_nodes;
	struct nosnat_be6 nodes6[NOSNAT_MAX_NODES];	/* the known v6 nodes */
	size_t n_nodes6;
};


int state_read(const struct nosnat_maps *m, struct state *s);

struct vip_entry *state_find_vip_any(struct state *s, const struct vip_key *k);
/* Slot id holds pod addr (v4; v6: the fold of a6) and a6 (zero for v4), port. */
int state_be_is(const struct state *s, __u32 id, __be32 addr, const __u8 *a6, __be16 port);
int state_find_backend_any(const struct state *s, __u32 vip_id, __be32 addr, const __u8 *a6,
			   __be16 port);
/* The same for v4 VIPs (k: a nosnat_vips key) and pods: the tests' interface. */
struct vip_entry *state_find_vip(struct state *s, const struct nosnat_vip_key *k);
int state_find_backend(const struct state *s, __u32 vip_id, __be32 addr, __be16 port);
int state_has_node(const struct state *s, __be32 node);
int state_has_node6(const struct state *s, const __u8 *node6);
/* Is slot id's pod on this node: its node this node's v4 address, or (a
 * NOSNAT_BE_NODE6 slot) its v6 one? */
int state_be_local(const struct state *s, __u32 id);
/* Does slot id's node equal node (v4), or node6 when that is set (node its fold)? */
int state_be_node_is(const struct state *s, __u32 id, __be32 node, const __u8 *node6);
/* Slot id's node address as text, either family (>= ADDR_STR_LEN bytes). */
const char *state_be_node_str(const struct state *s, __u32 id, char *buf);
/* The slots in use by a VIP id, in id order, into ids; returns how many. */
size_t state_vip_backends(const struct state *s, __u32 vip_id, __u32 *ids);

/* Every VIP id's slots at once (one pass): ids[start[v] .. start[v + 1]). */
struct be_index {
	__u32 start[NOSNAT_MAX_VIPS + 1];
	__u32 ids[NOSNAT_MAX_BACKENDS];
};
void be_index_build(const struct state *s, struct be_index *ix);


/* Loader-only mark in s->be[].flags (never written to the map): out of its
 * VIP's next table, its slot freed only after that table is swapped in, so
 * no other backend may take it before. */
#define STATE_BE_FREEING	0x80000000u


#endif
