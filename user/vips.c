// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* VIP tables: each VIP's Maglev table in an inner map (built, compared,
 * swapped in batches), its local list and active count; the VIP id index and
 * address filter; backend slots allocated, written and released. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "parse.h"
#include <bpf/libbpf.h>
#include "log.h"
#include "maglev.h"
#include "mapio.h"
#include "pods.h"
#include "scratch.h"
#include "vips.h"
#include "../bpf/lib/hash.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524		/* the kernel's "operation not supported" */
#endif

/* For tests only, in builds with -DNOSNAT_FAULTS (build/nosnat-faults, the
 * ASan build and the BPF tests; never build/nosnat): NAME=N in the
 * environment makes the Nth call (of this process) fail, as an allocation
 * the kernel refuses would. A release build reads no such variable. */
#ifdef NOSNAT_FAULTS
static int fault_injected(const char *name)
{
	static unsigned long calls;	/* one counter: one fault point */
	const char *v = getenv(name);

	return v && ++calls == strtoul(v, NULL, 10);
}
#define FAULT_POINT(name) fault_injected(name)
#else
#define FAULT_POINT(name) 0
#endif

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
	struct maglev_backend *mb = s->tmp->vips.mb;
	__u32 *ids = s->tmp->vips.ids, *table = s->tmp->vips.table;
	const size_t table_size = sizeof(s->tmp->vips.table);
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
		memcpy(mb[i].addr6, s->be6[ids[i]].addr, sizeof(mb[i].addr6));
		if (b->weight)
			(*active)++;
		if (state_be_local(s, ids[i]) && local->count < NOSNAT_MAX_LOCAL)
			local->ids[local->count++] = ids[i];
	}
	if (!*active)
		return 0;
	rc = maglev_build(mb, n, NOSNAT_MAGLEV_SIZE, table);
	if (rc)
		return rc;
	for (__u32 i = 0; i < NOSNAT_MAGLEV_SIZE; i++)
		table[i] = ids[table[i]];
	if (cur >= 0 && table_holds(cur, table)) {
		*same = 1;
		return 0;
	}
	if (FAULT_POINT("NOSNAT_FAULT_MAGLEV_CREATE"))
		return -ENOMEM;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nosnat_mg", sizeof(__u32),
			    sizeof(struct nosnat_maglev_slots), 1, &mopts);
	if (fd < 0)
		return -errno;
	mem = mmap(NULL, table_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		if (bpf_map_update_elem(fd, &zero, table, BPF_ANY)) {
			rc = -errno;
			close(fd);
			return rc;
		}
	} else {
		memcpy(mem, table, table_size);
		munmap(mem, table_size);
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
/* SYNC_CHUNK (scratch.h): tables (256 KiB each) built before a swap */

/* A VIP's entry in nosnat_vips, or nosnat_vips6 for a v6 one. */
static int vip_map_update(const struct nosnat_maps *m, const struct vip_key *k,
			  const struct nosnat_vip *val, __u64 flags)
{
	struct nosnat_vip_key k4 = vip_key_ids(k);
	struct nosnat_vip6_key k6 = vip_key6(k);

	if (k->v6 ? bpf_map_update_elem(m->vips6, &k6, val, flags)
		  : bpf_map_update_elem(m->vips, &k4, val, flags))
		return -errno;
	return 0;
}

static int vip_map_delete(const struct nosnat_maps *m, const struct vip_key *k)
{
	struct nosnat_vip_key k4 = vip_key_ids(k);
	struct nosnat_vip6_key k6 = vip_key6(k);

	if (k->v6 ? bpf_map_delete_elem(m->vips6, &k6) : bpf_map_delete_elem(m->vips, &k4))
		return -errno;
	return 0;
}

/* The count of VIP:port entries of k's address, in nosnat_vip_addr or
 * nosnat_vip6_addr: read (0 when absent), written (0 deletes it). */
__u32 vip_addr_refs(const struct nosnat_maps *m, const struct vip_key *k)
{
	struct nosnat_be6 a6;
	__u32 refs = 0;

	memcpy(a6.addr, k->addr6, sizeof(a6.addr));
	if (k->v6)
		bpf_map_lookup_elem(m->vip6_addr, &a6, &refs);
	else
		bpf_map_lookup_elem(m->vip_addr, &k->addr, &refs);
	return refs;
}

static int vip_addr_set(const struct nosnat_maps *m, const struct vip_key *k, __u32 refs)
{
	struct nosnat_be6 a6;
	int fd = k->v6 ? m->vip6_addr : m->vip_addr;
	const void *key = k->v6 ? (const void *)&a6 : (const void *)&k->addr;

	memcpy(a6.addr, k->addr6, sizeof(a6.addr));
	if (!refs)
		return bpf_map_delete_elem(fd, key) && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(fd, key, &refs, BPF_ANY) ? -errno : 0;
}

/* VIP id's Maglev generation (nosnat_abi.h): odd while a new table goes
 * in (gen_open), the next even one once it is in (gen_close, also after a
 * failed swap: an odd generation left behind would make no flow current). */
static int gen_set(const struct nosnat_maps *m, __u32 id, int close)
{
	__u32 gen = 0;

	if (bpf_map_lookup_elem(m->vip_gen, &id, &gen))
		return -errno;
	gen = close ? (gen | 1) + 1 : gen | 1;
	return bpf_map_update_elem(m->vip_gen, &id, &gen, BPF_ANY) ? -errno : 0;
}

int vip_sync_many(const struct nosnat_maps *m, struct state *s, struct vip_entry **vs, size_t n)
{
	for (size_t base = 0; base < n; base += SYNC_CHUNK) {
		size_t k = n - base < SYNC_CHUNK ? n - base : SYNC_CHUNK, nb = 0;
		struct nosnat_local *local = s->tmp->vips.local;
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
		/* The moment packets switch tables: one update for the chunk,
		 * inside an odd generation of each VIP whose table changes (a
		 * flow picked meanwhile is never taken for current). */
		size_t opened = 0;

		for (size_t i = 0; i < k && !rc; i++, opened = i)
			if (!same[i])
				rc = gen_set(m, vs[base + i]->val.id, 0);
		if (!rc)
			rc = tables_swap(m->maglev_prev, pkeys, pfds, np);
		if (!rc)
			rc = tables_swap(m->maglev, keys, fds, nb);
		/* a table deleted (no backend in use) is gone inside the window too */
		for (size_t i = 0; i < k && !rc; i++)
			if (inner[i] < 0 && !same[i] && bpf_map_delete_elem(m->maglev, &vs[base + i]->val.id) &&
			    errno != ENOENT)
				rc = -errno;
		for (size_t i = 0; i < opened; i++) {
			int grc = same[i] ? 0 : gen_set(m, vs[base + i]->val.id, 1);

			if (!rc)
				rc = grc;
		}
		for (size_t i = 0; i < k; i++)
			if (cur[i] >= 0)
				close(cur[i]);
		for (size_t i = 0; i < k; i++)
			if (inner[i] >= 0)
				close(inner[i]);
		for (size_t i = 0; i < k && !rc; i++) {
			struct vip_entry *v = vs[base + i];

			if (bpf_map_update_elem(m->local, &v->val.id, &local[i], BPF_ANY))
				rc = -errno;
			if (rc)
				break;
			v->val.active = active[i];
			rc = vip_map_update(m, &v->vk, &v->val, BPF_EXIST);
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

void filter_set(struct nosnat_addr_filter *f, __be32 addr)
{
	__u32 bit = nosnat_addr_filter_bit(addr);

	f->bits[bit / 64] |= 1ULL << (bit % 64);
}

int filter_has(const struct nosnat_addr_filter *f, __be32 addr)
{
	__u32 bit = nosnat_addr_filter_bit(addr);

	return (f->bits[bit / 64] >> (bit % 64)) & 1;
}

/* The filter of exactly s's VIP addresses, plus extra (0: none). Bits that
 * stay set are never cleared on the way, so packets see at least the old
 * or the new set at any moment. */
int filter_write(const struct nosnat_maps *m, const struct state *s, __be32 extra)
{
	struct nosnat_addr_filter *f = &s->tmp->vips.filter;
	__u32 zero = 0;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < s->n_vips; i++)
		filter_set(f, s->vips[i].key.addr);
	if (extra)
		filter_set(f, extra);
	return bpf_map_update_elem(m->vip_filt, &zero, f, BPF_ANY) ? -errno : 0;
}

/* The reference of a VIP id's next owner: the generation counts on. */
__u32 vip_ref_next(__u32 id, __u32 old_ref)
{
	__u32 gen = (old_ref >> NOSNAT_VIP_ID_BITS) + 1;

	gen &= (1U << (32 - NOSNAT_VIP_ID_BITS)) - 1;
	return nosnat_vip_ref(id, gen ? gen : 1);	/* generation 0: never a live VIP */
}

/* Make nosnat_vip_ids name exactly s's VIPs. An entry that names its VIP
 * already keeps its reference: re-attaching keeps every flow. */
int vip_index_sync(const struct nosnat_maps *m, const struct state *s)
{
	struct nosnat_vip_id *want = s->tmp->vips.want;
	__u8 *live = s->tmp->vips.live;
	int rc;

	memset(live, 0, sizeof(s->tmp->vips.live));
	for (size_t i = 0; i < s->n_vips; i++)
		if (s->vips[i].val.id < NOSNAT_MAX_VIPS)
			live[s->vips[i].val.id] = 1;
	if (array_read(m->vip_ids, want, sizeof(want[0]), NOSNAT_MAX_VIPS))
		memset(want, 0, sizeof(s->tmp->vips.want));
	for (size_t i = 0; i < s->n_vips; i++) {
		__u32 id = s->vips[i].val.id;
		struct nosnat_vip_id *w;
		struct nosnat_vip_key k;

		if (id >= NOSNAT_MAX_VIPS)
			continue;
		k = vip_key_ids(&s->vips[i].vk);
		w = &want[id];
		if (memcmp(&w->key, &k, sizeof(w->key)) || nosnat_vip_ref_id(w->ref) != id ||
		    !(w->ref >> NOSNAT_VIP_ID_BITS)) {
			w->key = k;
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
	/* the v6 addresses first: the slot never names a stale one; a v6
	 * node's address is zeroed only after the slot stops naming it */
	if (bpf_map_update_elem(m->be6, &id, &s->be6[id], BPF_ANY))
		return -errno;
	if ((s->be[id].flags & NOSNAT_BE_NODE6) &&
	    bpf_map_update_elem(m->be_node6, &id, &s->be_node6[id], BPF_ANY))
		return -errno;
	s->be[id].tag = backend_tag_word(&s->be[id]);
	if (bpf_map_update_elem(m->backends, &id, &s->be[id], BPF_ANY))
		return -errno;
	if (!(s->be[id].flags & NOSNAT_BE_NODE6) &&
	    bpf_map_update_elem(m->be_node6, &id, &s->be_node6[id], BPF_ANY))
		return -errno;
	return 0;
}

/* Pins of a build before ABI 9 hold backends without their tags: written
 * in place (nothing else of the slot changes), so that the programs need
 * not compute them. A tag already there is checked, not trusted. */
int be_tags_fill(const struct nosnat_maps *m, struct state *s)
{
	for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS; id++) {
		struct nosnat_backend *be = &s->be[id];

		if (!(be->flags & NOSNAT_BE_IN_USE) || be->tag == backend_tag_word(be))
			continue;
		be->tag = backend_tag_word(be);
		if (bpf_map_update_elem(m->backends, &id, be, BPF_EXIST))
			return -errno;
	}
	return 0;
}

int be_release(const struct nosnat_maps *m, struct state *s, __u32 id)
{
	memset(&s->be[id], 0, sizeof(s->be[id]));
	if (bpf_map_update_elem(m->backends, &id, &s->be[id], BPF_ANY))
		return -errno;
	memset(&s->be6[id], 0, sizeof(s->be6[id]));
	if (bpf_map_update_elem(m->be6, &id, &s->be6[id], BPF_ANY))
		return -errno;
	memset(&s->be_node6[id], 0, sizeof(s->be_node6[id]));
	return bpf_map_update_elem(m->be_node6, &id, &s->be_node6[id], BPF_ANY) ? -errno : 0;
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

int node_insert(const struct nosnat_maps *m, struct state *s, __be32 node)
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

int node_remove(const struct nosnat_maps *m, struct state *s, __be32 node)
{
	size_t i;

	if (!state_has_node(s, node))
		return -ENOENT;
	for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++)
		if ((s->be[b].flags & NOSNAT_BE_IN_USE) && !(s->be[b].flags & NOSNAT_BE_NODE6) &&
		    s->be[b].node == node)
			return -EBUSY;
	if (bpf_map_delete_elem(m->nodes, &node))
		return -errno;
	for (i = 0; i < s->n_nodes && s->nodes[i] != node; i++)
		;
	s->nodes[i] = s->nodes[--s->n_nodes];
	return 0;
}

int node6_insert(const struct nosnat_maps *m, struct state *s, const __u8 *node6)
{
	struct nosnat_be6 key;
	__u32 one = 1;

	if (state_has_node6(s, node6))
		return -EEXIST;
	if (s->n_nodes6 >= NOSNAT_MAX_NODES)
		return -ENOSPC;
	memcpy(key.addr, node6, sizeof(key.addr));
	if (bpf_map_update_elem(m->nodes6, &key, &one, BPF_NOEXIST))
		return -errno;
	s->nodes6[s->n_nodes6++] = key;
	return 0;
}

int node6_remove(const struct nosnat_maps *m, struct state *s, const __u8 *node6)
{
	struct nosnat_be6 key;
	size_t i;

	if (!state_has_node6(s, node6))
		return -ENOENT;
	for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++)
		if ((s->be[b].flags & NOSNAT_BE_IN_USE) && (s->be[b].flags & NOSNAT_BE_NODE6) &&
		    !memcmp(s->be_node6[b].addr, node6, sizeof(key.addr)))
			return -EBUSY;
	memcpy(key.addr, node6, sizeof(key.addr));
	if (bpf_map_delete_elem(m->nodes6, &key))
		return -errno;
	for (i = 0; i < s->n_nodes6 && memcmp(s->nodes6[i].addr, node6, sizeof(key.addr)); i++)
		;
	s->nodes6[i] = s->nodes6[--s->n_nodes6];
	return 0;
}

int vip_create(const struct nosnat_maps *m, struct state *s, const struct vip_key *k)
{
	__u8 used[NOSNAT_MAX_VIPS];
	struct vip_entry *v;
	struct nosnat_local none = {};
	__u32 id;
	int rc;

	if (state_find_vip_any(s, k))
		return -EEXIST;
	if (s->n_vips >= NOSNAT_MAX_VIPS)
		return -ENOSPC;
	memset(used, 0, sizeof(used));
	for (size_t i = 0; i < s->n_vips; i++)
		used[s->vips[i].val.id] = 1;
	for (id = 0; id < NOSNAT_MAX_VIPS && used[id]; id++)
		;
	/* Fresh per-VIP state first, the VIP itself last. */
	rc = zero_percpu(m->vip_stat, id, sizeof(struct nosnat_vip_counter));
	if (rc)
		return rc;
	if (bpf_map_update_elem(m->local, &id, &none, BPF_ANY))
		return -errno;
	if ((bpf_map_delete_elem(m->maglev, &id) && errno != ENOENT) ||
	    (bpf_map_delete_elem(m->maglev_prev, &id) && errno != ENOENT))
		return -errno;
	rc = vip_addr_set(m, k, vip_addr_refs(m, k) + 1);
	if (rc)
		return rc;
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
		vi.key = vip_key_ids(k);
		vi.ref = vip_ref_next(id, vi.ref);	/* no flow of an earlier owner matches */
		if (bpf_map_update_elem(m->vip_ids, &id, &vi, BPF_ANY))
			return -errno;
	}
	{
		__u32 zero = 0;
		struct nosnat_addr_filter *f = &s->tmp->vips.filter_seen;

		if (bpf_map_lookup_elem(m->vip_filt, &zero, f))
			return -errno;
		if (!filter_has(f, k->addr) && filter_write(m, s, k->addr))
			return -errno;
	}
	v = &s->vips[s->n_vips];
	memset(v, 0, sizeof(*v));
	v->vk = *k;
	v->val = (struct nosnat_vip){ .id = id, .active = 0 };
	rc = vip_map_update(m, k, &v->val, BPF_NOEXIST);
	if (rc)
		return rc;
	s->n_vips++;
	return 0;
}

int vip_remove(const struct nosnat_maps *m, struct state *s, const struct vip_key *k)
{
	struct vip_entry *v = state_find_vip_any(s, k);
	__u32 id, others = 0;
	int rc, shared = 0;

	if (!v)
		return -ENOENT;
	id = v->val.id;
	/* Stop matching packets first, then release what the VIP held. */
	rc = vip_map_delete(m, k);
	if (rc)
		return rc;
	for (size_t i = 0; i < s->n_vips; i++) {
		if (&s->vips[i] == v)
			continue;
		others += vip_same_addr(&s->vips[i].vk, k);
		shared |= s->vips[i].key.addr == k->addr;	/* its filter bit, anyway */
	}
	vip_addr_set(m, k, others);
	bpf_map_delete_elem(m->maglev, &id);
	bpf_map_delete_elem(m->maglev_prev, &id);
	for (__u32 i = 0; i < NOSNAT_MAX_BACKENDS; i++) {
		struct nosnat_backend *b = &s->be[i];

		if (!(b->flags & NOSNAT_BE_IN_USE) || b->vip_id != id)
			continue;
		memset(b, 0, sizeof(*b));
		bpf_map_update_elem(m->backends, &i, b, BPF_ANY);
		memset(&s->be6[i], 0, sizeof(s->be6[i]));
		bpf_map_update_elem(m->be6, &i, &s->be6[i], BPF_ANY);
		memset(&s->be_node6[i], 0, sizeof(s->be_node6[i]));
		bpf_map_update_elem(m->be_node6, &i, &s->be_node6[i], BPF_ANY);
	}
	{
		struct nosnat_vip_id vi = {};

		bpf_map_lookup_elem(m->vip_ids, &id, &vi);
		memset(&vi.key, 0, sizeof(vi.key));
		vi.ref = vip_ref_next(id, vi.ref);	/* no flow of it matches any more */
		bpf_map_update_elem(m->vip_ids, &id, &vi, BPF_ANY);
	}
	*v = s->vips[--s->n_vips];
	if (!shared)
		filter_write(m, s, 0);	/* its bit, unless another address shares it */
	return pods_sync(m, s);
}
