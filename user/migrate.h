/* migrate.h - carrying pinned maps over to this build's layouts at attach. */
#ifndef NOSNAT_MIGRATE_H
#define NOSNAT_MIGRATE_H

#include <limits.h>
#include <stddef.h>
#include <bpf/libbpf.h>

#define MIGRATE_MAX 12	/* at least every map kind_of carries over or makes anew */

struct migrated_map {
	char path[PATH_MAX];
	char name[32];
	int kind;
	int old_fd;
	int unpinned;
	__u32 key_size, new_value_size;
	void *keys, *vals;	/* what goes into the new map */
	size_t n;
};

struct migration {
	struct migrated_map maps[MIGRATE_MAX];
	size_t n;
};

/* Before load: read each pinned map whose layout differs and that can be
 * carried over, and unpin it (kept open); refuse (-EINVAL, one line naming
 * the map and what differs) when one cannot. */
int pins_migrate_begin(struct bpf_object *obj, const char *pin_dir, struct migration *mg);
/* After load: write what was read into this build's maps. */
int pins_migrate_finish(struct bpf_object *obj, struct migration *mg);
/* Load failed: pin the old maps back where they were. */
void pins_migrate_abort(struct migration *mg);
void pins_migrate_done(struct migration *mg);

#endif
