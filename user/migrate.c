// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* migrate.c - attach over pins that another nosnat build made. A pinned map
 * whose layout differs from this build's is carried over where its contents
 * allow (flows: each entry's common prefix; verdict counters: by hook,
 * action and reason), made anew where attach rewrites it anyway (node
 * config, caches), and refused, naming what differs, where neither works
 * (the configuration: VIPs, backends, nodes). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "nosnat_abi.h"
#include "log.h"
#include "mapio.h"
#include "migrate.h"

enum migrate_kind { MIG_REFUSE, MIG_FLOWS, MIG_STATS, MIG_FRESH, MIG_HANDSHAKES };

static enum migrate_kind kind_of(const char *name, __u32 old_type)
{
	/* the v6 flows: the same values under a longer key */
	if (!strcmp(name, NOSNAT_MAP_FLOWS) || !strcmp(name, NOSNAT_MAP_FLOWS6))
		return MIG_FLOWS;
	/* handshakes, v4's and v6's: an older build's LRU hash is read entry
	 * by entry into the sets; sets of another layout start empty (a
	 * handshake under way then recovers as a lost one) */
	if (!strcmp(name, NOSNAT_MAP_FLOWS_NEW) || !strcmp(name, NOSNAT_MAP_FLOW6_NEW))
		return old_type == BPF_MAP_TYPE_LRU_HASH ? MIG_HANDSHAKES : MIG_FRESH;
	if (!strcmp(name, NOSNAT_MAP_STATS))
		return MIG_STATS;
	/* nosnat_ctl: the reload counters start over, as a process's do */
	if (!strcmp(name, NOSNAT_MAP_CFG) || !strcmp(name, NOSNAT_MAP_NEXTHOP) ||
	    !strcmp(name, NOSNAT_MAP_FLOW_EVENTS) || !strcmp(name, NOSNAT_MAP_CTL))
		return MIG_FRESH;
	return MIG_REFUSE;
}

/* What differs between a pinned map and this build's definition, or NULL. */
static const char *differs(const struct bpf_map_info *info, const struct bpf_map *m, char *buf,
			   size_t len)
{
	if (info->type != bpf_map__type(m))
		snprintf(buf, len, "map type %u, this build's %u", info->type, bpf_map__type(m));
	else if (info->key_size != bpf_map__key_size(m))
		snprintf(buf, len, "key size %u, this build's %u", info->key_size, bpf_map__key_size(m));
	else if (info->value_size != bpf_map__value_size(m))
		snprintf(buf, len, "value size %u, this build's %u", info->value_size,
			 bpf_map__value_size(m));
	else if (info->max_entries != bpf_map__max_entries(m))
		snprintf(buf, len, "%u entries, this build's %u", info->max_entries,
			 bpf_map__max_entries(m));
	else if (info->map_flags != bpf_map__map_flags(m))
		snprintf(buf, len, "flags %#x, this build's %#x", info->map_flags, bpf_map__map_flags(m));
	else
		return NULL;
	return buf;
}

/* Read every entry of an old flow table, each value cut or zero-padded to
 * new_vs bytes (layouts only grow at the end). */
static int flows_read(struct migrated_map *mm, __u32 key_size, __u32 old_vs, __u32 new_vs)
{
	size_t cap = 1024;
	void *key = calloc(1, key_size), *next = calloc(1, key_size), *val = calloc(1, old_vs);
	int rc = 0, more;

	mm->keys = malloc(cap * key_size);
	mm->vals = malloc(cap * new_vs);
	if (!key || !next || !val || !mm->keys || !mm->vals) {
		rc = -ENOMEM;
		goto out;
	}
	more = !bpf_map_get_next_key(mm->old_fd, NULL, next);
	while (more) {
		memcpy(key, next, key_size);
		more = !bpf_map_get_next_key(mm->old_fd, key, next);
		if (bpf_map_lookup_elem(mm->old_fd, key, val))
			continue;	/* gone meanwhile (LRU) */
		if (mm->n == cap) {
			void *k, *v;

			cap *= 2;
			k = realloc(mm->keys, cap * key_size);
			if (k)
				mm->keys = k;
			v = realloc(mm->vals, cap * new_vs);
			if (v)
				mm->vals = v;
			if (!k || !v) {
				rc = -ENOMEM;
				goto out;
			}
		}
		memcpy((char *)mm->keys + mm->n * key_size, key, key_size);
		memset((char *)mm->vals + mm->n * new_vs, 0, new_vs);
		memcpy((char *)mm->vals + mm->n * new_vs, val, old_vs < new_vs ? old_vs : new_vs);
		mm->n++;
	}
out:
	free(key);
	free(next);
	free(val);
	return rc;
}

/* Old verdict counters, re-indexed by {hook, action, reason}: reasons are
 * only ever added at the end, so the old reason count follows from the size. */
static int stats_read(struct migrated_map *mm, __u32 old_entries)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 old_reasons = old_entries / (NOSNAT_HOOK_MAX * NOSNAT_ACT_MAX);
	size_t per = (size_t)ncpu * sizeof(struct nosnat_counter);

	if (ncpu <= 0)
		return -EINVAL;
	if (old_entries % (NOSNAT_HOOK_MAX * NOSNAT_ACT_MAX) || old_reasons > NOSNAT_R_MAX)
		return 0;	/* not a layout we can read: counters start again */
	mm->keys = calloc(old_entries, sizeof(__u32));
	mm->vals = calloc(old_entries, per);
	if (!mm->keys || !mm->vals)
		return -ENOMEM;
	for (__u32 h = 0; h < NOSNAT_HOOK_MAX; h++)
		for (__u32 a = 0; a < NOSNAT_ACT_MAX; a++)
			for (__u32 r = 0; r < old_reasons; r++) {
				__u32 old_slot = (h * NOSNAT_ACT_MAX + a) * old_reasons + r;

				if (bpf_map_lookup_elem(mm->old_fd, &old_slot,
							(char *)mm->vals + mm->n * per))
					continue;
				((__u32 *)mm->keys)[mm->n++] = nosnat_stat_slot(h, a, r);
			}
	return 0;
}

/* check: only look, and refuse what cannot be carried over; else read and
 * unpin what differs. */
static int migrate_pass(struct bpf_object *obj, const char *pin_dir, struct migration *mg,
			int check)
{
	struct bpf_map *m;
	int rc = 0;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info mi = {};
		__u32 len = sizeof(mi);
		struct migrated_map *mm;
		char why[96];
		int fd;

		if (!bpf_map__pin_path(m))
			continue;
		mm = &mg->maps[mg->n];
		snprintf(mm->path, sizeof(mm->path), "%s/%s", pin_dir, bpf_map__name(m));
		fd = bpf_obj_get(mm->path);
		if (fd < 0)
			continue;	/* not pinned yet: created on load */
		if (bpf_obj_get_info_by_fd(fd, &mi, &len) || !differs(&mi, m, why, sizeof(why))) {
			close(fd);
			continue;
		}
		mm->kind = kind_of(bpf_map__name(m), mi.type);
		if (mm->kind == MIG_REFUSE || (!check && mg->n == MIGRATE_MAX) ||
		    (mm->kind == MIG_FLOWS && (mi.type != bpf_map__type(m) ||
					       mi.key_size != bpf_map__key_size(m))) ||
		    (mm->kind == MIG_STATS && (mi.type != bpf_map__type(m) ||
					       mi.value_size != bpf_map__value_size(m)))) {
			err("pinned map %s was made by another nosnat version (%s) and cannot be "
			    "carried over: detach from every interface, then attach (established "
			    "flows survive on the pod's conntrack mark)", mm->path, why);
			close(fd);
			rc = -EINVAL;
			break;
		}
		if (check) {
			close(fd);
			continue;
		}
		mm->old_fd = fd;
		mm->new_value_size = bpf_map__value_size(m);
		mm->key_size = mi.key_size;
		snprintf(mm->name, sizeof(mm->name), "%s", bpf_map__name(m));
		mg->n++;
		if (mm->kind == MIG_FLOWS)
			rc = flows_read(mm, mi.key_size, mi.value_size, mm->new_value_size);
		else if (mm->kind == MIG_HANDSHAKES && (mi.key_size == sizeof(struct nosnat_flow_key) ||
							 mi.key_size == sizeof(struct nosnat_flow6_key)))
			rc = flows_read(mm, mi.key_size, mi.value_size, sizeof(struct nosnat_flow));
		else if (mm->kind == MIG_STATS)
			rc = stats_read(mm, mi.max_entries);
		if (rc) {
			err("cannot read the pinned map %s: %s", mm->path, strerror(-rc));
			break;
		}
		/* this build pins its own map here on load */
		if (unlink(mm->path)) {
			rc = -errno;
			err("cannot unpin %s: %s", mm->path, strerror(-rc));
			break;
		}
		mm->unpinned = 1;
		info("pinned map %s (%s): %s", mm->name, why,
		     mm->kind == MIG_FLOWS || mm->kind == MIG_HANDSHAKES ? "carrying its entries over" :
		     mm->kind == MIG_STATS ? "carrying its counters over" : "made anew");
	}
	return rc;
}

/* An older build's handshakes (an LRU hash, v4's or v6's by its key) into
 * this build's sets. */
static int handshakes_write(int fd, const struct migrated_map *mm, size_t *placed)
{
	const struct nosnat_flow *vals = mm->vals;
	int rc;

	if (mm->key_size == sizeof(struct nosnat_flow6_key)) {
		struct nosnat_hs6_set *sets6 = calloc(NOSNAT_HS6_SETS, sizeof(*sets6));

		if (!sets6)
			return -ENOMEM;
		for (size_t e = 0; e < mm->n; e++)
			*placed += !hs6_place(sets6, (const struct nosnat_flow6_key *)mm->keys + e,
					      vals + e);
		rc = hs6_write_all(fd, sets6);
		free(sets6);
		return rc;
	}
	struct nosnat_hs_set *sets = calloc(NOSNAT_HS_SETS, sizeof(*sets));

	if (!sets)
		return -ENOMEM;
	for (size_t e = 0; e < mm->n; e++)
		*placed += !hs_place(sets, (const struct nosnat_flow_key *)mm->keys + e, vals + e);
	rc = hs_write_all(fd, sets);
	free(sets);
	return rc;
}

int pins_migrate_begin(struct bpf_object *obj, const char *pin_dir, struct migration *mg)
{
	int rc;

	memset(mg, 0, sizeof(*mg));
	rc = migrate_pass(obj, pin_dir, mg, 1);
	if (!rc)
		rc = migrate_pass(obj, pin_dir, mg, 0);
	if (rc)
		pins_migrate_abort(mg);
	return rc;
}

int pins_migrate_finish(struct bpf_object *obj, struct migration *mg)
{
	size_t moved = 0, lost = 0;

	for (size_t i = 0; i < mg->n; i++) {
		struct migrated_map *mm = &mg->maps[i];
		struct bpf_map *m = bpf_object__find_map_by_name(obj, mm->name);
		int fd = m ? bpf_map__fd(m) : -1;
		size_t vs = mm->kind == MIG_STATS ?
			(size_t)libbpf_num_possible_cpus() * sizeof(struct nosnat_counter) :
			mm->new_value_size;
		size_t ks = mm->kind == MIG_STATS ? sizeof(__u32) : mm->key_size;

		if (fd < 0)
			continue;
		if (mm->kind == MIG_HANDSHAKES) {
			size_t placed = 0;
			int rc = handshakes_write(fd, mm, &placed);

			moved += placed;
			lost += mm->n - placed;
			if (rc)
				err("the handshakes could not be carried over: %s", strerror(-rc));
			continue;
		}
		for (size_t e = 0; e < mm->n; e++) {
			if (bpf_map_update_elem(fd, (char *)mm->keys + e * ks, (char *)mm->vals + e * vs,
						BPF_ANY))
				lost++;
			else if (mm->kind == MIG_FLOWS)
				moved++;
		}
	}
	if (moved || lost)
		info("flows carried over to the new layout: %zu (%zu could not be)", moved, lost);
	pins_migrate_done(mg);
	return 0;
}

void pins_migrate_abort(struct migration *mg)
{
	for (size_t i = 0; i < mg->n; i++) {
		struct migrated_map *mm = &mg->maps[i];

		if (mm->unpinned && bpf_obj_pin(mm->old_fd, mm->path))
			err("cannot pin %s back: %s", mm->path, strerror(errno));
		mm->unpinned = 0;
	}
	pins_migrate_done(mg);
}

void pins_migrate_done(struct migration *mg)
{
	for (size_t i = 0; i < mg->n; i++) {
		close(mg->maps[i].old_fd);
		free(mg->maps[i].keys);
		free(mg->maps[i].vals);
	}
	memset(mg, 0, sizeof(*mg));
}
