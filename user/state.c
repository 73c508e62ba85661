// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Pinned maps as the loader's state: read, validate, apply in safe order. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "maglev.h"
#include "parse.h"
#include "state.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524		/* the kernel's "operation not supported" */
#endif

static int on_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC ? 0 : -ENOTDIR;
}

int pin_dir_prepare(const char *pin_dir, int create)
{
	char parent[PATH_MAX];
	char *slash;
	int rc;

	if (strlen(pin_dir) >= sizeof(parent) - 1)
		return -ENAMETOOLONG;
	strcpy(parent, pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		strcpy(parent, "/");

	if (!strcmp(pin_dir, NOSNAT_DEFAULT_PIN_DIR) && on_bpffs("/sys/fs/bpf") == -ENOTDIR) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") && errno != EBUSY) {
			err("cannot mount bpffs at /sys/fs/bpf: %s", strerror(errno));
			return -errno;
		}
	}
	rc = on_bpffs(pin_dir);
	if (rc == -EACCES) {
		err("pin directory %s: %s (it is root's, mode 0700)", pin_dir, strerror(-rc));
		return rc;
	}
	if (rc == -ENOENT) {
		rc = on_bpffs(parent);
		if (rc == -ENOENT) {
			err("pin directory %s: parent %s does not exist", pin_dir, parent);
			return rc;
		}
		if (rc == -ENOTDIR) {
			err("pin directory %s is not on a bpffs (mount -t bpf bpf %s)", pin_dir, parent);
			return rc;
		}
		if (!create) {
			err("no nosnat state under %s (run 'nosnat attach' first)", pin_dir);
			return -ENOENT;
		}
		if (mkdir(pin_dir, 0700) && errno != EEXIST) {
			rc = -errno;
			err("cannot create %s: %s", pin_dir, strerror(errno));
			return rc;
		}
		return 0;
	}
	if (rc == -ENOTDIR) {
		err("pin directory %s is not on a bpffs (mount -t bpf bpf %s)", pin_dir, pin_dir);
		return rc;
	}
	if (rc) {
		err("pin directory %s: %s", pin_dir, strerror(-rc));
		return rc;
	}
	return 0;
}

static int open_pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

void maps_open_none(struct nosnat_maps *m)
{
	memset(m, 0xff, sizeof(*m));	/* every fd -1 */
}

int maps_open(const char *pin_dir, struct nosnat_maps *m)
{
	struct { int *fd; const char *name; } t[] = {
#define X(field, map, name) { &m->field, name },
		NOSNAT_PINNED_MAPS(X)
#undef X
	};

	m->lock_fd = -1;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		*t[i].fd = -1;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		*t[i].fd = open_pinned(pin_dir, t[i].name);
		if (*t[i].fd < 0) {
			int rc = -errno;

			if (rc == -ENOENT)
				err("no map %s under %s (run 'nosnat attach' first)", t[i].name, pin_dir);
			else if (rc == -EPERM || rc == -EACCES)
				err("cannot open %s/%s: %s (the pins are root's, mode 0600; needs root with CAP_BPF)",
				    pin_dir, t[i].name, strerror(-rc));
			else
				err("cannot open %s/%s: %s", pin_dir, t[i].name, strerror(-rc));
			maps_close(m);
			return rc;
		}
	}
	return 0;
}

void maps_close(struct nosnat_maps *m)
{
	int *fds[] = {
#define X(field, map, name) &m->field,
		NOSNAT_PINNED_MAPS(X)
#undef X
		&m->lock_fd,
	};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

#define LOCK_WAIT_MS 30000

/* Writers serialise on the pin directory. Wait a bounded time: a process
 * that never lets go must not freeze every other command (or a daemon,
 * which cannot act on SIGTERM while it waits). */
static int lock_dir(const char *pin_dir, struct nosnat_maps *m, int op)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), waited = 0, rc;

	if (fd < 0) {
		rc = -errno;
		err("cannot lock %s: %s", pin_dir, strerror(errno));
		return rc;
	}
	while (flock(fd, op | LOCK_NB)) {
		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS) {
			rc = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			err("cannot lock %s: %s", pin_dir, rc == -ETIMEDOUT ?
			    "another nosnat command has held it for 30 s" : strerror(-rc));
			close(fd);
			return rc;
		}
		usleep(20000);
		waited += 20;
	}
	m->lock_fd = fd;
	return 0;
}

int maps_lock(const char *pin_dir, struct nosnat_maps *m)
{
	return lock_dir(pin_dir, m, LOCK_EX);
}

int maps_lock_shared(const char *pin_dir, struct nosnat_maps *m)
{
	return lock_dir(pin_dir, m, LOCK_SH);
}

/* A whole array map in one or a few syscalls. */
int array_read(int fd, void *values, size_t value_size, __u32 n)
{
	static __u32 keys[NOSNAT_MAGLEV_SIZE];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 in = 0, out = 0, done = 0;
	void *inp = NULL;

	while (done < n) {
		__u32 count = n - done;
		int rc = bpf_map_lookup_batch(fd, inp, &out, keys, (char *)values + done * value_size,
					      &count, &opts);

		done += count;
		if (rc && errno == ENOENT)
			break;
		if (rc) {
			/* older kernels: one by one */
			for (__u32 i = done; i < n; i++)
				if (bpf_map_lookup_elem(fd, &i, (char *)values + i * value_size))
					return -errno;
			return 0;
		}
		in = out;
		inp = &in;
	}
	return done == n ? 0 : -EIO;
}

int state_read(const struct nosnat_maps *m, struct state *s)
{
	struct nosnat_vip_key key, next, *prev = NULL;
	__be32 nk, nkey, *nprev = NULL;
	__u32 zero = 0, val;

	memset(s, 0, sizeof(*s));
	if (bpf_map_lookup_elem(m->cfg, &zero, &s->cfg))
		return -errno;
	while (!bpf_map_get_next_key(m->vips, prev, &next)) {
		struct vip_entry *v = &s->vips[s->n_vips];

		if (s->n_vips >= NOSNAT_MAX_VIPS)
			break;
		if (!bpf_map_lookup_elem(m->vips, &next, &v->val)) {
			struct nosnat_vip_meta meta = {};

			v->key = next;
			bpf_map_lookup_elem(m->vip_meta, &v->val.id, &meta);
			memcpy(v->name, meta.name, sizeof(v->name));
			v->name[sizeof(v->name) - 1] = '\0';
			s->n_vips++;
		}
		key = next;
		prev = &key;
	}
	while (!bpf_map_get_next_key(m->nodes, nprev, &nk)) {
		if (s->n_nodes >= NOSNAT_MAX_NODES)
			break;
		if (!bpf_map_lookup_elem(m->nodes, &nk, &val))
			s->nodes[s->n_nodes++] = nk;
		nkey = nk;
		nprev = &nkey;
	}
	return array_read(m->backends, s->be, sizeof(s->be[0]), NOSNAT_MAX_BACKENDS);
}

struct vip_entry *state_find_vip(struct state *s, const struct nosnat_vip_key *k)
{
	for (size_t i = 0; i < s->n_vips; i++)
		if (!memcmp(&s->vips[i].key, k, sizeof(*k)))
			return &s->vips[i];
	return NULL;
}

int state_find_backend(const struct state *s, __u32 vip_id, __be32 addr, __be16 port)
{
	for (int i = 0; i < NOSNAT_MAX_BACKENDS; i++) {
		const struct nosnat_backend *b = &s->be[i];

		if ((b->flags & NOSNAT_BE_IN_USE) && b->vip_id == vip_id && b->addr == addr &&
		    b->port == port)
			return i;
	}
	return -1;
}

int state_has_node(const struct state *s, __be32 node)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i] == node)
			return 1;
	return 0;
}

int percpu_sum(int fd, __u32 key, size_t n, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * n, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		free(vals);
		return -errno;
	}
	memset(out, 0, n * sizeof(*out));
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < n; i++)
			out[i] += vals[(size_t)c * n + i];
	free(vals);
	return 0;
}

static int zero_percpu(int fd, __u32 key, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zeros;
	int rc;

	if (ncpu < 0)
		return ncpu;
	zeros = calloc(ncpu, (value_size + 7) & ~7UL);
	if (!zeros)
		return -ENOMEM;
	rc = bpf_map_update_elem(fd, &key, zeros, BPF_ANY) ? -errno : 0;
	free(zeros);
	return rc;
}

/* The backend slots of a VIP, in id order (one scan of the slots). */
size_t state_vip_backends(const struct state *s, __u32 vip_id, __u32 *ids)
{
	size_t n = 0;

	for (__u32 i = 0; i < NOSNAT_MAX_BACKENDS; i++)
		if ((s->be[i].flags & NOSNAT_BE_IN_USE) && s->be[i].vip_id == vip_id)
			ids[n++] = i;
	return n;
}

void be_index_build(const struct state *s, struct be_index *ix)
{
	__u32 fill[NOSNAT_MAX_VIPS];

	memset(ix->start, 0, sizeof(ix->start));
	for (__u32 i = 0; i < NOSNAT_MAX_BACKENDS; i++)
		if ((s->be[i].flags & NOSNAT_BE_IN_USE) && s->be[i].vip_id < NOSNAT_MAX_VIPS)
			ix->start[s->be[i].vip_id + 1]++;
	for (__u32 v = 0; v < NOSNAT_MAX_VIPS; v++) {
		ix->start[v + 1] += ix->start[v];
		fill[v] = ix->start[v];
	}
	for (__u32 i = 0; i < NOSNAT_MAX_BACKENDS; i++)
		if ((s->be[i].flags & NOSNAT_BE_IN_USE) && s->be[i].vip_id < NOSNAT_MAX_VIPS)
			ix->ids[fill[s->be[i].vip_id]++] = i;
}

/* Does the table in map fd hold these slots? */
static int table_holds(int fd, const __u32 *table)
{
	size_t len = sizeof(struct nosnat_maglev_slots);
	void *a = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	int same = a != MAP_FAILED && !memcmp(a, table, len);

	if (a != MAP_FAILED)
		munmap(a, len);
	return same;
}

/* Build a VIP's Maglev table in a fresh inner map (*inner; -1 when no
 * backend takes new flows, or when cur, the table serving now, holds the
 * same slots: *same then) and its local list. Nothing is swapped yet. */
static int vip_prepare(const struct state *s, __u32 vip_id, int cur, int *inner, int *same,
		       __u32 *active, struct nosnat_local *local)
{
	static struct maglev_backend mb[NOSNAT_MAX_BACKENDS];
	static __u32 ids[NOSNAT_MAX_BACKENDS], table[NOSNAT_MAGLEV_SIZE];
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_MMAPABLE);
	size_t n = state_vip_backends(s, vip_id, ids);
	__u32 zero = 0;
	void *mem;
	int fd, rc;

	*inner = -1;
	*same = 0;
	*active = 0;
	memset(local, 0, sizeof(*local));
	for (size_t i = 0; i < n; i++) {
		const struct nosnat_backend *b = &s->be[ids[i]];

		mb[i] = (struct maglev_backend){ .addr = b->addr, .port = b->port, .weight = b->weight };
		if (b->weight)
			(*active)++;
		if (b->node == s->cfg.node_ip && local->count < NOSNAT_MAX_LOCAL)
			local->ids[local->count++] = ids[i];
	}
	if (!*active)
		return 0;
	rc = maglev_build(mb, n, NOSNAT_MAGLEV_SIZE, table);
	if (rc)
		return rc;
	for (__u32 i = 0; i < NOSNAT_MAGLEV_SIZE; i++)
		table[i] = ids[table[i]];
	_Static_assert(sizeof(table) == sizeof(struct nosnat_maglev_slots), "table layout");
	if (cur >= 0 && table_holds(cur, table)) {
		*same = 1;
		return 0;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nosnat_mg", sizeof(__u32),
			    sizeof(struct nosnat_maglev_slots), 1, &mopts);
	if (fd < 0)
		return -errno;
	mem = mmap(NULL, sizeof(table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		if (bpf_map_update_elem(fd, &zero, table, BPF_ANY)) {
			rc = -errno;
			close(fd);
			return rc;
		}
	} else {
		memcpy(mem, table, sizeof(table));
		munmap(mem, sizeof(table));
	}
	*inner = fd;
	return 0;
}

/* The inner map now serving VIP id in outer (-1: none). */
static int table_fd(int outer, __u32 id)
{
	__u32 inner_id;

	if (bpf_map_lookup_elem(outer, &id, &inner_id))
		return -1;
	return bpf_map_get_fd_by_id(inner_id);
}

/* Swap tables in: keys[i] gets fds[i], in one batch update (one RCU wait). */
static int tables_swap(int outer, __u32 *keys, __u32 *fds, size_t nb)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 count = (__u32)nb;

	if (!nb || !bpf_map_update_batch(outer, keys, fds, &count, &bopts))
		return 0;
	if (errno != EINVAL && errno != ENOTSUP && errno != ENOTSUPP)
		return -errno;
	for (size_t i = count; i < nb; i++)	/* old kernel */
		if (bpf_map_update_elem(outer, &keys[i], &fds[i], BPF_ANY))
			return -errno;
	return 0;
}

/* Swapping an inner map waits for an RCU grace period (the kernel makes
 * sure no program still uses the old table): ~8 ms here, per update call.
 * One batch update swaps many tables for one wait. */
#define SYNC_CHUNK 64		/* tables (256 KiB each) built before a swap */

int vip_sync_many(const struct nosnat_maps *m, struct state *s, struct vip_entry **vs, size_t n)
{
	for (size_t base = 0; base < n; base += SYNC_CHUNK) {
		size_t k = n - base < SYNC_CHUNK ? n - base : SYNC_CHUNK, nb = 0;
		static struct nosnat_local local[SYNC_CHUNK];
		__u32 active[SYNC_CHUNK], keys[SYNC_CHUNK], fds[SYNC_CHUNK];
		int inner[SYNC_CHUNK], rc = 0;

		__u32 pkeys[SYNC_CHUNK], pfds[SYNC_CHUNK];
		int cur[SYNC_CHUNK], same[SYNC_CHUNK];
		size_t np = 0;

		for (size_t i = 0; i < k; i++)
			inner[i] = cur[i] = -1, same[i] = 0;
		for (size_t i = 0; i < k && !rc; i++) {
			__u32 id = vs[base + i]->val.id;

			/* An unchanged table stays; a changed one's predecessor is
			 * kept as the previous table (second chances). */
			cur[i] = table_fd(m->maglev, id);
			rc = vip_prepare(s, id, cur[i], &inner[i], &same[i], &active[i], &local[i]);
			if (rc)
				break;
			if (same[i])
				continue;
			if (cur[i] >= 0) {
				pkeys[np] = id;
				pfds[np++] = (__u32)cur[i];
			}
			if (inner[i] >= 0) {
				keys[nb] = id;
				fds[nb++] = (__u32)inner[i];
			}
		}
		/* The moment packets switch tables: one update for the chunk. */
		if (!rc)
			rc = tables_swap(m->maglev_prev, pkeys, pfds, np);
		if (!rc)
			rc = tables_swap(m->maglev, keys, fds, nb);
		for (size_t i = 0; i < k; i++)
			if (cur[i] >= 0)
				close(cur[i]);
		for (size_t i = 0; i < k; i++)
			if (inner[i] >= 0)
				close(inner[i]);
		for (size_t i = 0; i < k && !rc; i++) {
			struct vip_entry *v = vs[base + i];

			if (inner[i] < 0 && !same[i] && bpf_map_delete_elem(m->maglev, &v->val.id) &&
			    errno != ENOENT)
				rc = -errno;
			else if (bpf_map_update_elem(m->local, &v->val.id, &local[i], BPF_ANY))
				rc = -errno;
			if (rc)
				break;
			v->val.active = active[i];
			if (bpf_map_update_elem(m->vips, &v->key, &v->val, BPF_EXIST))
				rc = -errno;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int vip_sync(const struct nosnat_maps *m, struct state *s, struct vip_entry *v)
{
	return vip_sync_many(m, s, &v, 1);
}

int op_node_add(const struct nosnat_maps *m, struct state *s, __be32 node)
{
	__u32 one = 1;

	if (state_has_node(s, node))
		return -EEXIST;
	if (s->n_nodes >= NOSNAT_MAX_NODES)
		return -ENOSPC;
	if (bpf_map_update_elem(m->nodes, &node, &one, BPF_NOEXIST))
		return -errno;
	s->nodes[s->n_nodes++] = node;
	return 0;
}

int op_node_del(const struct nosnat_maps *m, struct state *s, __be32 node)
{
	size_t i;

	if (!state_has_node(s, node))
		return -ENOENT;
	for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++)
		if ((s->be[b].flags & NOSNAT_BE_IN_USE) && s->be[b].node == node)
			return -EBUSY;
	if (bpf_map_delete_elem(m->nodes, &node))
		return -errno;
	for (i = 0; i < s->n_nodes && s->nodes[i] != node; i++)
		;
	s->nodes[i] = s->nodes[--s->n_nodes];
	return 0;
}

static void filter_set(struct nosnat_addr_filter *f, __be32 addr)
{
	__u32 bit = nosnat_addr_filter_bit(addr);

	f->bits[bit / 64] |= 1ULL << (bit % 64);
}

static int filter_has(const struct nosnat_addr_filter *f, __be32 addr)
{
	__u32 bit = nosnat_addr_filter_bit(addr);

	return (f->bits[bit / 64] >> (bit % 64)) & 1;
}

/* The filter of exactly s's VIP addresses, plus extra (0: none). Bits that
 * stay set are never cleared on the way, so packets see at least the old
 * or the new set at any moment. */
static int filter_write(const struct nosnat_maps *m, const struct state *s, __be32 extra)
{
	static struct nosnat_addr_filter f;
	__u32 zero = 0;

	memset(&f, 0, sizeof(f));
	for (size_t i = 0; i < s->n_vips; i++)
		filter_set(&f, s->vips[i].key.addr);
	if (extra)
		filter_set(&f, extra);
	return bpf_map_update_elem(m->vip_filt, &zero, &f, BPF_ANY) ? -errno : 0;
}

/* The reference of a VIP id's next owner: the generation counts on. */
static __u32 vip_ref_next(__u32 id, __u32 old_ref)
{
	__u32 gen = (old_ref >> NOSNAT_VIP_ID_BITS) + 1;

	gen &= (1U << (32 - NOSNAT_VIP_ID_BITS)) - 1;
	return nosnat_vip_ref(id, gen ? gen : 1);	/* generation 0: never a live VIP */
}

/* Make nosnat_vip_ids name exactly s's VIPs. An entry that names its VIP
 * already keeps its reference: re-attaching keeps every flow. */
int vip_index_sync(const struct nosnat_maps *m, const struct state *s)
{
	static struct nosnat_vip_id want[NOSNAT_MAX_VIPS];
	static __u8 live[NOSNAT_MAX_VIPS];
	int rc;

	memset(live, 0, sizeof(live));
	for (size_t i = 0; i < s->n_vips; i++)
		if (s->vips[i].val.id < NOSNAT_MAX_VIPS)
			live[s->vips[i].val.id] = 1;
	if (array_read(m->vip_ids, want, sizeof(want[0]), NOSNAT_MAX_VIPS))
		memset(want, 0, sizeof(want));
	for (size_t i = 0; i < s->n_vips; i++) {
		__u32 id = s->vips[i].val.id;
		struct nosnat_vip_id *w;

		if (id >= NOSNAT_MAX_VIPS)
			continue;
		w = &want[id];
		if (memcmp(&w->key, &s->vips[i].key, sizeof(w->key)) || nosnat_vip_ref_id(w->ref) != id ||
		    !(w->ref >> NOSNAT_VIP_ID_BITS)) {
			w->key = s->vips[i].key;
			w->ref = vip_ref_next(id, w->ref);
		}
	}
	for (__u32 id = 0; id < NOSNAT_MAX_VIPS; id++) {
		static const struct nosnat_vip_key none;

		if (live[id] || !memcmp(&want[id].key, &none, sizeof(none)))
			continue;
		memset(&want[id].key, 0, sizeof(want[id].key));
		want[id].ref = vip_ref_next(id, want[id].ref);	/* its flows are over */
	}
	rc = filter_write(m, s, 0);
	for (__u32 id = 0; !rc && id < NOSNAT_MAX_VIPS; id++)
		if (bpf_map_update_elem(m->vip_ids, &id, &want[id], BPF_ANY))
			rc = -errno;
	return rc;
}

/* Backend slots as nosnat_pods sees them: (address, port, protocol), id,
 * and the VIP (id and key) the slot serves. */
struct pod_ref {
	struct nosnat_pod_key key;
	__u32 id;
	__u32 vip_id;
	struct nosnat_vip_key vip;
};

static int pod_ref_cmp(const void *a, const void *b)
{
	const struct pod_ref *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The slots of s's pods on this node, sorted; returns how many. */
static size_t pod_refs(const struct state *s, struct pod_ref *out)
{
	static struct nosnat_vip_key vip[NOSNAT_MAX_VIPS];
	static __u8 known[NOSNAT_MAX_VIPS];
	size_t n = 0;

	memset(known, 0, sizeof(known));
	for (size_t i = 0; i < s->n_vips; i++)
		if (s->vips[i].val.id < NOSNAT_MAX_VIPS) {
			vip[s->vips[i].val.id] = s->vips[i].key;
			known[s->vips[i].val.id] = 1;
		}
	for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS; id++) {
		const struct nosnat_backend *b = &s->be[id];

		/* a slot on its way out still answers its flows until freed */
		if (!(b->flags & (NOSNAT_BE_IN_USE | STATE_BE_FREEING)) || b->vip_id >= NOSNAT_MAX_VIPS ||
		    !known[b->vip_id] || b->node != s->cfg.node_ip)
			continue;
		out[n] = (struct pod_ref){
			.key = { .addr = b->addr, .port = b->port, .proto = vip[b->vip_id].proto },
			.id = id, .vip_id = b->vip_id, .vip = vip[b->vip_id],
		};
		n++;
	}
	qsort(out, n, sizeof(out[0]), pod_ref_cmp);
	return n;
}

/* Scratch of pods_sync and state_verify: the entries wanted, the VIP
 * references read, the directory's plan, nosnat_pod_dir as read (verify). */
static struct nosnat_pod pod_ents[NOSNAT_MAX_BACKENDS], pod_dir_cur[NOSNAT_POD_DIR_SLOTS];
static struct nosnat_vip_id pod_vip_ids[NOSNAT_MAX_VIPS];
static __u8 pod_vip_read[NOSNAT_MAX_VIPS];
static int pod_dir_first[NOSNAT_POD_DIR_SLOTS];
static __u8 pod_dir_more[NOSNAT_POD_DIR_SLOTS];

/* VIP id's reference as nosnat_vip_ids holds it, read once per plan. */
static int pod_vip_ref(const struct nosnat_maps *m, __u32 vip_id, __u32 *ref)
{
	if (!pod_vip_read[vip_id]) {
		if (bpf_map_lookup_elem(m->vip_ids, &vip_id, &pod_vip_ids[vip_id]))
			return -errno;
		pod_vip_read[vip_id] = 1;
	}
	*ref = pod_vip_ids[vip_id].ref;
	return 0;
}

/* Work out this node's nosnat_pods entries as s makes them (pod_ents,
 * sorted by key, *n of them; each slot names its VIP by the reference
 * nosnat_vip_ids holds), and which of them nosnat_pod_dir holds: per index
 * the smallest key, NOSNAT_POD_MORE where more keys share it. */
static int pod_plan(const struct nosnat_maps *m, const struct state *s, size_t *n)
{
	static struct pod_ref refs[NOSNAT_MAX_BACKENDS];
	size_t nr = pod_refs(s, refs), k = 0;

	memset(pod_vip_read, 0, sizeof(pod_vip_read));
	for (size_t i = 0; i < nr; k++) {
		struct nosnat_pod *want = &pod_ents[k];

		memset(want, 0, sizeof(*want));
		want->key = refs[i].key;
		for (size_t j = i; i < nr && !memcmp(&refs[i].key, &refs[j].key, sizeof(refs[j].key)); i++) {
			struct nosnat_pod_slot *sl = &want->slots[want->count];
			int rc;

			if (want->count == NOSNAT_POD_IDS)
				continue;
			rc = pod_vip_ref(m, refs[i].vip_id, &sl->vip_ref);
			if (rc)
				return rc;
			sl->id = refs[i].id;
			sl->vip_addr = refs[i].vip.addr;
			sl->vip_port = refs[i].vip.port;
			want->count++;
		}
	}
	*n = k;
	memset(pod_dir_first, 0xff, sizeof(pod_dir_first));
	memset(pod_dir_more, 0, sizeof(pod_dir_more));
	for (size_t i = 0; i < k; i++) {
		__u32 x = nosnat_pod_index(&pod_ents[i].key);

		if (pod_dir_first[x] < 0)
			pod_dir_first[x] = (int)i;
		else
			pod_dir_more[x] = 1;
	}
	return 0;
}

/* What nosnat_pod_dir should hold at index x (after pod_plan). */
static void pod_dir_want(__u32 x, struct nosnat_pod *want)
{
	memset(want, 0, sizeof(*want));
	if (pod_dir_first[x] < 0)
		return;
	*want = pod_ents[pod_dir_first[x]];
	want->flags = pod_dir_more[x] ? NOSNAT_POD_MORE : 0;
}

int pod_vips(const struct state *s, __be32 addr, __be16 port, __u8 proto)
{
	int n = 0;

	for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS; id++) {
		const struct nosnat_backend *b = &s->be[id];

		if (!(b->flags & NOSNAT_BE_IN_USE) || b->addr != addr || b->port != port)
			continue;
		for (size_t i = 0; i < s->n_vips; i++)
			if (s->vips[i].val.id == b->vip_id)
				n += s->vips[i].key.proto == proto;
	}
	return n;
}

/* Write the pod filter: bits of the pods in ents, plus those of every pod
 * key still in nosnat_pods when with_map. */
static int pod_filter_write(const struct nosnat_maps *m, const struct nosnat_pod *ents, size_t n,
			    int with_map)
{
	static struct nosnat_addr_filter f, cur;
	struct nosnat_pod_key key, cursor, *prev = NULL;
	__u32 zero = 0;

	memset(&f, 0, sizeof(f));
	for (size_t i = 0; i < n; i++)
		filter_set(&f, ents[i].key.addr);
	while (with_map && !bpf_map_get_next_key(m->pods, prev, &key)) {
		filter_set(&f, key.addr);
		cursor = key;
		prev = &cursor;
	}
	if (!bpf_map_lookup_elem(m->pod_filt, &zero, &cur) && !memcmp(&cur, &f, sizeof(f)))
		return 0;
	return bpf_map_update_elem(m->pod_filt, &zero, &f, BPF_ANY) ? -errno : 0;
}

/* Is key among the n sorted entries of pod_ents? */
static int pod_wanted(const struct nosnat_pod_key *key, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(&pod_ents[mid].key, key, sizeof(*key)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !memcmp(&pod_ents[lo].key, key, sizeof(*key));
}

/* Each step leaves a reply able to find its pod, old or new: filter bits
 * first, complete table next, the directory, stale entries, stale bits.
 * Every key the directory holds is in nosnat_pods too, so the elements to
 * look at are those of the keys wanted and of the keys the table has. */
int pods_sync(const struct nosnat_maps *m, const struct state *s)
{
	static struct nosnat_pod_key have[NOSNAT_MAX_BACKENDS];
	static __u64 touch[NOSNAT_POD_DIR_SLOTS / 64];
	struct nosnat_pod_key key, cursor, *prev = NULL;
	size_t n = 0, n_have = 0;
	int rc = pod_plan(m, s, &n);

	/* The filter lets new pods through before their entries exist ... */
	if (!rc)
		rc = pod_filter_write(m, pod_ents, n, 1);
	if (rc)
		return rc;
	while (!bpf_map_get_next_key(m->pods, prev, &key) && n_have < NOSNAT_MAX_BACKENDS) {
		have[n_have++] = key;
		cursor = key;
		prev = &cursor;
	}
	/* ... each pod's entry as it should be, written where it differs ... */
	for (size_t i = 0; i < n; i++) {
		struct nosnat_pod cur;

		if ((bpf_map_lookup_elem(m->pods, &pod_ents[i].key, &cur) ||
		     memcmp(&cur, &pod_ents[i], sizeof(cur))) &&
		    bpf_map_update_elem(m->pods, &pod_ents[i].key, &pod_ents[i], BPF_ANY))
			return -errno;
	}
	/* ... the directory, where it differs. An element is written in place,
	 * not atomically: one that changes from one key to another is first
	 * emptied with NOSNAT_POD_MORE set (lookups go to nosnat_pods), so that
	 * no reader sees one pod's key with another's slots. (Within one key a
	 * torn read is harmless: a slot is used only for a flow that proves it.) */
	memset(touch, 0, sizeof(touch));
	for (size_t i = 0; i < n + n_have; i++) {
		__u32 x = nosnat_pod_index(i < n ? &pod_ents[i].key : &have[i - n]);
		struct nosnat_pod want, cur;

		if (touch[x / 64] & (1ULL << (x % 64)))
			continue;
		touch[x / 64] |= 1ULL << (x % 64);
		if (bpf_map_lookup_elem(m->pod_dir, &x, &cur))
			return -errno;
		pod_dir_want(x, &want);
		if (!memcmp(&cur, &want, sizeof(want)))
			continue;
		if (cur.key.addr && want.key.addr && memcmp(&cur.key, &want.key, sizeof(want.key))) {
			struct nosnat_pod gap = { .flags = NOSNAT_POD_MORE };

			if (bpf_map_update_elem(m->pod_dir, &x, &gap, BPF_ANY))
				return -errno;
		}
		if (bpf_map_update_elem(m->pod_dir, &x, &want, BPF_ANY))
			return -errno;
	}
	/* ... the entries of pods that are gone deleted ... */
	for (size_t i = 0; i < n_have; i++)
		if (!pod_wanted(&have[i], n) && bpf_map_delete_elem(m->pods, &have[i]) && errno != ENOENT)
			return -errno;
	/* ... and only then their bits cleared */
	return pod_filter_write(m, pod_ents, n, 0);
}

int op_vip_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k)
{
	static __u8 used[NOSNAT_MAX_VIPS];
	struct vip_entry *v;
	struct nosnat_local none = {};
	__u32 id, refs = 0;

	if (state_find_vip(s, k))
		return -EEXIST;
	if (s->n_vips >= NOSNAT_MAX_VIPS)
		return -ENOSPC;
	memset(used, 0, sizeof(used));
	for (size_t i = 0; i < s->n_vips; i++)
		used[s->vips[i].val.id] = 1;
	for (id = 0; id < NOSNAT_MAX_VIPS && used[id]; id++)
		;
	/* Fresh per-VIP state first, the VIP itself last. */
	if (zero_percpu(m->vip_stat, id, sizeof(struct nosnat_vip_counter)) ||
	    bpf_map_update_elem(m->local, &id, &none, BPF_ANY))
		return -errno;
	if ((bpf_map_delete_elem(m->maglev, &id) && errno != ENOENT) ||
	    (bpf_map_delete_elem(m->maglev_prev, &id) && errno != ENOENT))
		return -errno;
	bpf_map_lookup_elem(m->vip_addr, &k->addr, &refs);
	refs++;
	if (bpf_map_update_elem(m->vip_addr, &k->addr, &refs, BPF_ANY))
		return -errno;
	{
		struct nosnat_vip_meta meta = {};

		if (bpf_map_update_elem(m->vip_meta, &id, &meta, BPF_ANY))
			return -errno;
	}
	/* The id serves this key and the filter lets its address through
	 * before a packet can find the VIP. */
	{
		struct nosnat_vip_id vi = {};

		bpf_map_lookup_elem(m->vip_ids, &id, &vi);
		vi.key = *k;
		vi.ref = vip_ref_next(id, vi.ref);	/* no flow of an earlier owner matches */
		if (bpf_map_update_elem(m->vip_ids, &id, &vi, BPF_ANY))
			return -errno;
	}
	{
		__u32 zero = 0;
		static struct nosnat_addr_filter f;

		if (bpf_map_lookup_elem(m->vip_filt, &zero, &f))
			return -errno;
		if (!filter_has(&f, k->addr) && filter_write(m, s, k->addr))
			return -errno;
	}
	v = &s->vips[s->n_vips];
	memset(v, 0, sizeof(*v));
	v->key = *k;
	v->val = (struct nosnat_vip){ .id = id, .active = 0 };
	if (bpf_map_update_elem(m->vips, k, &v->val, BPF_NOEXIST))
		return -errno;
	s->n_vips++;
	return 0;
}

int op_vip_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k)
{
	struct vip_entry *v = state_find_vip(s, k);
	__u32 id, refs = 0;
	int others = 0;

	if (!v)
		return -ENOENT;
	id = v->val.id;
	/* Stop matching packets first, then release what the VIP held. */
	if (bpf_map_delete_elem(m->vips, k))
		return -errno;
	for (size_t i = 0; i < s->n_vips; i++)
		if (&s->vips[i] != v && s->vips[i].key.addr == k->addr)
			others++;
	if (others) {
		refs = others;
		bpf_map_update_elem(m->vip_addr, &k->addr, &refs, BPF_ANY);
	} else {
		bpf_map_delete_elem(m->vip_addr, &k->addr);
	}
	bpf_map_delete_elem(m->maglev, &id);
	bpf_map_delete_elem(m->maglev_prev, &id);
	for (__u32 i = 0; i < NOSNAT_MAX_BACKENDS; i++) {
		struct nosnat_backend *b = &s->be[i];

		if (!(b->flags & NOSNAT_BE_IN_USE) || b->vip_id != id)
			continue;
		memset(b, 0, sizeof(*b));
		bpf_map_update_elem(m->backends, &i, b, BPF_ANY);
	}
	{
		struct nosnat_vip_id vi = {};

		bpf_map_lookup_elem(m->vip_ids, &id, &vi);
		memset(&vi.key, 0, sizeof(vi.key));
		vi.ref = vip_ref_next(id, vi.ref);	/* no flow of it matches any more */
		bpf_map_update_elem(m->vip_ids, &id, &vi, BPF_ANY);
	}
	*v = s->vips[--s->n_vips];
	if (!others)
		filter_write(m, s, 0);	/* its bit, unless another address shares it */
	return pods_sync(m, s);
}

int be_alloc(const struct state *s)
{
	for (int id = 0; id < NOSNAT_MAX_BACKENDS; id++)
		if (!(s->be[id].flags & (NOSNAT_BE_IN_USE | STATE_BE_FREEING)))
			return id;
	return -ENOSPC;
}

int be_write(const struct nosnat_maps *m, struct state *s, __u32 id, int fresh)
{
	int rc;

	if (fresh) {
		rc = zero_percpu(m->be_stat, id, sizeof(struct nosnat_counter));
		if (rc)
			return rc;
	}
	return bpf_map_update_elem(m->backends, &id, &s->be[id], BPF_ANY) ? -errno : 0;
}

int be_release(const struct nosnat_maps *m, struct state *s, __u32 id)
{
	memset(&s->be[id], 0, sizeof(s->be[id]));
	return bpf_map_update_elem(m->backends, &id, &s->be[id], BPF_ANY) ? -errno : 0;
}

int vip_set_name(const struct nosnat_maps *m, struct vip_entry *v, const char *name)
{
	struct nosnat_vip_meta meta = {};

	snprintf(meta.name, sizeof(meta.name), "%s", name);
	if (bpf_map_update_elem(m->vip_meta, &v->val.id, &meta, BPF_ANY))
		return -errno;
	memcpy(v->name, meta.name, sizeof(v->name));
	return 0;
}

unsigned int vip_local_count(const struct state *s, __u32 vip_id, __be32 node_ip)
{
	unsigned int n = 0;

	for (int id = 0; id < NOSNAT_MAX_BACKENDS; id++)
		if ((s->be[id].flags & NOSNAT_BE_IN_USE) && s->be[id].vip_id == vip_id &&
		    s->be[id].node == node_ip)
			n++;
	return n;
}

int op_backend_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port, __be32 node, __u16 weight)
{
	struct vip_entry *v = state_find_vip(s, k);
	int id, rc;

	if (!v)
		return -ENOENT;
	if (!port)
		port = k->port;
	if (weight > NOSNAT_MAX_WEIGHT || !addr || !node)
		return -EINVAL;
	if (state_find_backend(s, v->val.id, addr, port) >= 0)
		return -EEXIST;
	if (node != s->cfg.node_ip && !state_has_node(s, node))
		return -EHOSTUNREACH;
	if (node == s->cfg.node_ip && vip_local_count(s, v->val.id, node) >= NOSNAT_MAX_LOCAL)
		return -E2BIG;
	if (pod_vips(s, addr, port, k->proto) >= NOSNAT_POD_IDS)
		return -EMLINK;
	id = be_alloc(s);
	if (id < 0)
		return id;
	s->be[id] = (struct nosnat_backend){
		.addr = addr, .node = node, .port = port, .weight = weight,
		.vip_id = v->val.id, .flags = NOSNAT_BE_IN_USE,
	};
	rc = be_write(m, s, id, 1);
	if (!rc)	/* its replies are recognised before a flow can choose it */
		rc = pods_sync(m, s);
	if (rc)
		return rc;
	return vip_sync(m, s, v);
}

int op_backend_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port)
{
	struct vip_entry *v = state_find_vip(s, k);
	int id, rc;

	if (!v)
		return -ENOENT;
	if (!port)
		port = k->port;
	id = state_find_backend(s, v->val.id, addr, port);
	if (id < 0)
		return -ESRCH;
	/* New table without it first; then free the slot (its flows re-pick). */
	s->be[id].flags = 0;
	rc = vip_sync(m, s, v);
	if (rc) {
		s->be[id].flags = NOSNAT_BE_IN_USE;
		return rc;
	}
	rc = be_release(m, s, id);
	return rc ? rc : pods_sync(m, s);
}

int state_verify(const struct nosnat_maps *m, const struct state *s, FILE *out)
{
	static struct nosnat_maglev_slots table;
	static struct nosnat_addr_filter filt;
	char vs[32], a[16];
	int problems = 0;

#define PROBLEM(...) do { fprintf(out, __VA_ARGS__); fputc('\n', out); problems++; } while (0)
	for (size_t i = 0; i < s->n_vips; i++) {
		const struct vip_entry *v = &s->vips[i];
		struct nosnat_local local = {};
		unsigned int active = 0, refs_want = 0, refs = 0, want_local = 0;
		__u32 inner_id, zero = 0;
		int inner;

		vip_str(&v->key, vs);
		if (v->val.id >= NOSNAT_MAX_VIPS)
			PROBLEM("%s: id %u out of range", vs, v->val.id);
		for (size_t j = 0; j < i; j++)
			if (s->vips[j].val.id == v->val.id)
				PROBLEM("%s: id %u shared with another VIP", vs, v->val.id);
		for (size_t j = 0; j < s->n_vips; j++)
			refs_want += s->vips[j].key.addr == v->key.addr;
		if (bpf_map_lookup_elem(m->vip_addr, &v->key.addr, &refs) || refs != refs_want)
			PROBLEM("%s: address refcount %u, want %u", vs, refs, refs_want);
		{
			struct nosnat_vip_id idk = {};
			__u32 zero = 0;

			if (bpf_map_lookup_elem(m->vip_ids, &v->val.id, &idk) ||
			    memcmp(&idk.key, &v->key, sizeof(idk.key)) ||
			    nosnat_vip_ref_id(idk.ref) != v->val.id || !(idk.ref >> NOSNAT_VIP_ID_BITS))
				PROBLEM("%s: id %u does not name it in %s", vs, v->val.id,
					NOSNAT_MAP_VIP_IDS);
			if (bpf_map_lookup_elem(m->vip_filt, &zero, &filt) || !filter_has(&filt, v->key.addr))
				PROBLEM("%s: address filter bit clear (packets would pass)", vs);
		}
		for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v->val.id)
				continue;
			active += be->weight > 0;
			want_local += be->node == s->cfg.node_ip;
		}
		if (active != v->val.active)
			PROBLEM("%s: active %u, but %u backends take new flows", vs, v->val.active, active);
		if (bpf_map_lookup_elem(m->local, &v->val.id, &local) || local.count != want_local)
			PROBLEM("%s: %u local backends listed, %u on this node", vs, local.count, want_local);
		for (__u32 k = 0; k < local.count && k < NOSNAT_MAX_LOCAL; k++) {
			const struct nosnat_backend *be = &s->be[local.ids[k] % NOSNAT_MAX_BACKENDS];

			if (local.ids[k] >= NOSNAT_MAX_BACKENDS || !(be->flags & NOSNAT_BE_IN_USE) ||
			    be->vip_id != v->val.id || be->node != s->cfg.node_ip)
				PROBLEM("%s: local list names backend %u wrongly", vs, local.ids[k]);
		}
		if (bpf_map_lookup_elem(m->maglev, &v->val.id, &inner_id)) {
			if (active)
				PROBLEM("%s: no Maglev table but %u active backends", vs, active);
			continue;
		}
		if (!active)
			PROBLEM("%s: a Maglev table but no active backend", vs);
		inner = bpf_map_get_fd_by_id(inner_id);
		if (inner < 0 || bpf_map_lookup_elem(inner, &zero, &table)) {
			PROBLEM("%s: cannot read its Maglev table: %s", vs, strerror(errno));
			if (inner >= 0)
				close(inner);
			continue;
		}
		close(inner);
		for (__u32 slot = 0; slot < NOSNAT_MAGLEV_SIZE; slot++) {
			__u32 id = table.backend[slot];
			const struct nosnat_backend *be = &s->be[id % NOSNAT_MAX_BACKENDS];

			if (id >= NOSNAT_MAX_BACKENDS || !(be->flags & NOSNAT_BE_IN_USE) ||
			    be->vip_id != v->val.id || !be->weight) {
				PROBLEM("%s: Maglev slot %u names backend %u, not an active one of it", vs, slot, id);
				break;
			}
		}
	}
	for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
		const struct nosnat_backend *be = &s->be[b];
		int owner = 0;

		if (!(be->flags & NOSNAT_BE_IN_USE))
			continue;
		for (size_t i = 0; i < s->n_vips; i++)
			owner |= s->vips[i].val.id == be->vip_id;
		if (!owner)
			PROBLEM("backend %d (%s) belongs to no VIP", b, ip_str(be->addr, a));
		if (be->node != s->cfg.node_ip && !state_has_node(s, be->node))
			PROBLEM("backend %d (%s) on unknown node %s", b, ip_str(be->addr, a),
				ip_str(be->node, vs));
	}
	{	/* nosnat_pods and nosnat_pod_dir: exactly this node's pods, each with its slots */
		struct nosnat_pod_key key, cursor, *prev = NULL;
		size_t n = 0, have_keys = 0;
		__u32 zero_key = 0;

		if (pod_plan(m, s, &n) ||
		    array_read(m->pod_dir, pod_dir_cur, sizeof(pod_dir_cur[0]), NOSNAT_POD_DIR_SLOTS))
			PROBLEM("cannot read %s or %s", NOSNAT_MAP_VIP_IDS, NOSNAT_MAP_POD_DIR);
		for (size_t i = 0; i < n; i++) {
			const struct nosnat_pod *want = &pod_ents[i];
			struct nosnat_pod cur = {};

			if (bpf_map_lookup_elem(m->pods, &want->key, &cur) || memcmp(&cur, want, sizeof(cur)))
				PROBLEM("pod %s:%u: %s lists %u slots, want %u (first %u, VIP %s:%u ref %u)",
					ip_str(want->key.addr, a), ntohs(want->key.port), NOSNAT_MAP_PODS,
					cur.count, want->count, want->slots[0].id,
					ip_str(want->slots[0].vip_addr, vs), ntohs(want->slots[0].vip_port),
					want->slots[0].vip_ref);
			/* a reply proven by its conntrack mark must name one VIP */
			for (__u32 x = 0; s->cfg.ct_mark_mask && x < want->count && x < NOSNAT_POD_IDS; x++)
				for (__u32 y = 0; y < x; y++) {
					const struct nosnat_pod_slot *sx = &want->slots[x], *sy = &want->slots[y];
					__u32 mask = s->cfg.ct_mark_mask;

					if (nosnat_vip_mark(sx->vip_addr, sx->vip_port, want->key.proto, mask) ==
					    nosnat_vip_mark(sy->vip_addr, sy->vip_port, want->key.proto, mask))
						PROBLEM("pod %s:%u: VIP ports %u and %u share a conntrack mark under "
							"mask %#x (attach with another --ct-mark-mask)",
							ip_str(want->key.addr, a), ntohs(want->key.port),
							ntohs(sx->vip_port), ntohs(sy->vip_port), mask);
				}
		}
		while (!bpf_map_get_next_key(m->pods, prev, &key)) {
			have_keys++;
			cursor = key;
			prev = &cursor;
		}
		if (have_keys != n)
			PROBLEM("%s has %zu pods, want %zu", NOSNAT_MAP_PODS, have_keys, n);
		for (__u32 x = 0; x < NOSNAT_POD_DIR_SLOTS; x++) {
			struct nosnat_pod want;

			pod_dir_want(x, &want);
			if (!memcmp(&pod_dir_cur[x], &want, sizeof(want)))
				continue;
			PROBLEM("%s[%u]: pod %s:%u, %u slots, flags %u; want %s:%u, %u slots, flags %u",
				NOSNAT_MAP_POD_DIR, x, ip_str(pod_dir_cur[x].key.addr, a),
				ntohs(pod_dir_cur[x].key.port), pod_dir_cur[x].count, pod_dir_cur[x].flags,
				ip_str(want.key.addr, vs), ntohs(want.key.port), want.count, want.flags);
			break;
		}
		if (bpf_map_lookup_elem(m->pod_filt, &zero_key, &filt))
			PROBLEM("cannot read %s", NOSNAT_MAP_POD_FILTER);
		else
			for (size_t i = 0; i < n; i++)
				if (!filter_has(&filt, pod_ents[i].key.addr)) {
					PROBLEM("pod %s: filter bit clear (its replies would pass as they are)",
						ip_str(pod_ents[i].key.addr, a));
					break;
				}
	}
#undef PROBLEM
	return problems;
}
