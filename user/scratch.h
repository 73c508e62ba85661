/* scratch.h - the loader's large temporaries, in one place.
 *
 * Tables of up to 16384 backends or 65537 Maglev slots do not fit on a
 * stack, and keeping them in static buffers hid who shares what. They live
 * here instead: struct ctx (ctx.h) holds one scratch, created in main, and
 * every struct state it owns points at it (s->tmp), so a function that is
 * given a state has its temporaries. Each group belongs to the file named;
 * no field is used by two functions that can be active at once. */
#ifndef NOSNAT_SCRATCH_H
#define NOSNAT_SCRATCH_H

#include <stdint.h>
#include "nosnat_abi.h"
#include "maglev.h"
#include "config.h"
#include "state.h"

#define SYNC_CHUNK 64		/* tables (256 KiB each) built before a swap */

struct config_backend;

/* Backend slots as nosnat_pods sees them: (address, port, protocol), id,
 * and the VIP (id and key) the slot serves. */
struct pod_ref {
	struct nosnat_pod_key key;
	__u32 id;
	__u32 vip_id;
	struct vip_key vip;
};

/* A v6 pod's slot as nosnat_pods6 sees it (pods.c). */
struct pod6_ref {
	struct nosnat_pod6_key key;
	__u32 id;
	__u32 vip_id;
};

/* One backend line of a config: its pod port and protocol (apply). */
struct pod_use {
	__u8 addr6[16];		/* a v6 pod; zero: v4 */
	__be32 addr;
	__be16 port;
	__u8 proto;
	const struct config_backend *cb;
};

struct scratch {
	struct scratch_vips {			/* vips.c */
		struct maglev_backend mb[NOSNAT_MAX_BACKENDS];	/* vip_prepare */
		__u32 ids[NOSNAT_MAX_BACKENDS];
		__u32 table[NOSNAT_MAGLEV_SIZE];
		struct nosnat_local local[SYNC_CHUNK];		/* vip_sync_many */
		struct nosnat_addr_filter filter;		/* filter_write */
		struct nosnat_vip_id want[NOSNAT_MAX_VIPS];	/* vip_index_sync */
		__u8 live[NOSNAT_MAX_VIPS];
		struct nosnat_addr_filter filter_seen;		/* vip_create */
	} vips;
	struct scratch_pods {			/* pods.c; verify.c reads the plan */
		struct vip_key vip[NOSNAT_MAX_VIPS];		/* pod_refs */
		__u8 known[NOSNAT_MAX_VIPS];
		struct pod_ref refs[NOSNAT_MAX_BACKENDS];	/* pod_plan */
		/* the plan: entries wanted, VIP references read, the directory */
		struct nosnat_pod ents[NOSNAT_MAX_BACKENDS];
		struct nosnat_vip_id vip_ids[NOSNAT_MAX_VIPS];
		__u8 vip_read[NOSNAT_MAX_VIPS];
		int dir_first[NOSNAT_POD_DIR_SLOTS];
		__u8 dir_more[NOSNAT_POD_DIR_SLOTS];
		struct nosnat_addr_filter filter, filter_cur;	/* pod_filter_write */
		struct nosnat_pod_key have[NOSNAT_MAX_BACKENDS]; /* pods_sync */
		__u64 touch[NOSNAT_POD_DIR_SLOTS / 64];
		/* v6 pods (nosnat_pods6): slots, the plan (keys6[i] -> ents6[i]) */
		struct pod6_ref refs6[NOSNAT_MAX_BACKENDS];
		struct nosnat_pod6_key keys6[NOSNAT_MAX_BACKENDS];
		struct nosnat_pod6 ents6[NOSNAT_MAX_BACKENDS];
		size_t n6;
		struct nosnat_pod6_key have6[NOSNAT_MAX_BACKENDS];
	} pods;
	struct scratch_ops {			/* ops.c */
		struct config cfg;	/* the desired state a command edits */
	} ops;
	struct scratch_verify {			/* verify.c */
		struct nosnat_maglev_slots table;
		struct nosnat_addr_filter filter;
		struct nosnat_pod dir_cur[NOSNAT_POD_DIR_SLOTS];
	} verify;
	struct scratch_apply {			/* apply.c */
		struct pod_use uses[NOSNAT_MAX_BACKENDS];	/* config_validate */
		__u8 kept[NOSNAT_MAX_VIPS];
		struct be_index ix;
		__u8 keep[NOSNAT_MAX_BACKENDS];			/* converge_vip */
		__u32 mine[NOSNAT_MAX_BACKENDS];
	} apply;
	struct vip_entry *attach_vips[NOSNAT_MAX_VIPS];		/* attach.c */
	struct vip_entry show_vips[NOSNAT_MAX_VIPS];		/* show.c */
};
_Static_assert(sizeof(((struct scratch *)0)->vips.table) == sizeof(struct nosnat_maglev_slots),
	       "a built table is the inner map's value");

#endif
