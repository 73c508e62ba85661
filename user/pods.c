// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nosnat_pods, nosnat_pod_dir and the pod filter: this node's pods as the
 * tc egress reply path finds them, changed in an order that never strands a
 * reply. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "parse.h"
#include "pods.h"
#include "scratch.h"
#include "vips.h"

static int pod_ref_cmp(const void *a, const void *b)
{
	const struct pod_ref *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The slots of s's pods on this node, sorted; returns how many. */
static size_t pod_refs(const struct state *s, struct pod_ref *out)
{
	struct vip_key *vip = s->tmp->pods.vip;
	__u8 *known = s->tmp->pods.known;
	size_t n = 0;

	memset(known, 0, sizeof(s->tmp->pods.known));
	for (size_t i = 0; i < s->n_vips; i++)
		if (s->vips[i].val.id < NOSNAT_MAX_VIPS) {
			vip[s->vips[i].val.id] = s->vips[i].vk;
			known[s->vips[i].val.id] = 1;
		}
	for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS; id++) {
		const struct nosnat_backend *b = &s->be[id];

		/* a slot on its way out still answers its flows until freed */
		if (!(b->flags & (NOSNAT_BE_IN_USE | STATE_BE_FREEING)) || b->vip_id >= NOSNAT_MAX_VIPS ||
		    !known[b->vip_id] || !state_be_local(s, id) || addr6_set(s->be6[id].addr))
			continue;	/* v6 pods: nosnat_pods6 */
		out[n] = (struct pod_ref){
			.key = { .addr = b->addr, .port = b->port, .proto = vip[b->vip_id].proto },
			.id = id, .vip_id = b->vip_id, .vip = vip[b->vip_id],
		};
		n++;
	}
	qsort(out, n, sizeof(out[0]), pod_ref_cmp);
	return n;
}

/* VIP id's reference as nosnat_vip_ids holds it, read once per plan. */
static int pod_vip_ref(const struct nosnat_maps *m, struct scratch_pods *pt, __u32 vip_id,
		       __u32 *ref)
{
	if (!pt->vip_read[vip_id]) {
		if (bpf_map_lookup_elem(m->vip_ids, &vip_id, &pt->vip_ids[vip_id]))
			return -errno;
		pt->vip_read[vip_id] = 1;
	}
	*ref = pt->vip_ids[vip_id].ref;
	return 0;
}

/* Work out this node's nosnat_pods entries as s makes them (pt->ents,
 * sorted by key, *n of them; each slot names its VIP by the reference
 * nosnat_vip_ids holds), and which of them nosnat_pod_dir holds: per index
 * the smallest key, NOSNAT_POD_MORE where more keys share it. */
int pod_plan(const struct nosnat_maps *m, const struct state *s, size_t *n)
{
	struct scratch_pods *pt = &s->tmp->pods;
	struct pod_ref *refs = pt->refs;
	size_t nr = pod_refs(s, refs), k = 0;

	memset(pt->vip_read, 0, sizeof(pt->vip_read));
	for (size_t i = 0; i < nr; k++) {
		struct nosnat_pod *want = &pt->ents[k];

		memset(want, 0, sizeof(*want));
		want->key = refs[i].key;
		for (size_t j = i; i < nr && !memcmp(&refs[i].key, &refs[j].key, sizeof(refs[j].key)); i++) {
			struct nosnat_pod_slot *sl = &want->slots[want->count];
			int rc;

			if (want->count == NOSNAT_POD_IDS)
				continue;
			rc = pod_vip_ref(m, pt, refs[i].vip_id, &sl->vip_ref);
			if (rc)
				return rc;
			sl->id = refs[i].id;
			sl->vip_addr = refs[i].vip.addr;
			sl->vip_port = refs[i].vip.port;
			want->count++;
		}
	}
	*n = k;
	memset(pt->dir_first, 0xff, sizeof(pt->dir_first));
	memset(pt->dir_more, 0, sizeof(pt->dir_more));
	for (size_t i = 0; i < k; i++) {
		__u32 x = nosnat_pod_index(&pt->ents[i].key);

		if (pt->dir_first[x] < 0)
			pt->dir_first[x] = (int)i;
		else
			pt->dir_more[x] = 1;
	}
	return 0;
}

static int pod6_ref_cmp(const void *a, const void *b)
{
	const struct pod6_ref *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* As pod_plan, for this node's v6 pods (no directory). */
int pod6_plan(const struct nosnat_maps *m, const struct state *s)
{
	struct scratch_pods *pt = &s->tmp->pods;
	struct pod6_ref *refs = pt->refs6;
	struct vip_key *vip = pt->vip;
	__u8 *known = pt->known;
	size_t nr = 0, k = 0;

	memset(known, 0, sizeof(pt->known));
	memset(pt->vip_read, 0, sizeof(pt->vip_read));
	for (size_t i = 0; i < s->n_vips; i++)
		if (s->vips[i].val.id < NOSNAT_MAX_VIPS && s->vips[i].vk.v6) {
			vip[s->vips[i].val.id] = s->vips[i].vk;
			known[s->vips[i].val.id] = 1;
		}
	for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS; id++) {
		const struct nosnat_backend *b = &s->be[id];

		if (!(b->flags & (NOSNAT_BE_IN_USE | STATE_BE_FREEING)) || b->vip_id >= NOSNAT_MAX_VIPS ||
		    !known[b->vip_id] || !state_be_local(s, id) || !addr6_set(s->be6[id].addr))
			continue;
		refs[nr] = (struct pod6_ref){
			.key = { .port = b->port, .proto = vip[b->vip_id].proto },
			.id = id, .vip_id = b->vip_id,
		};
		memcpy(refs[nr].key.addr, s->be6[id].addr, sizeof(refs[nr].key.addr));
		nr++;
	}
	qsort(refs, nr, sizeof(refs[0]), pod6_ref_cmp);
	for (size_t i = 0; i < nr; k++) {
		struct nosnat_pod6 *want = &pt->ents6[k];

		memset(want, 0, sizeof(*want));
		pt->keys6[k] = refs[i].key;
		for (size_t j = i; i < nr && !memcmp(&refs[i].key, &refs[j].key, sizeof(refs[j].key)); i++) {
			struct nosnat_pod6_slot *sl = &want->slots[want->count];
			const struct vip_key *vk = &vip[refs[i].vip_id];
			int rc;

			if (want->count == NOSNAT_POD_IDS)
				continue;
			rc = pod_vip_ref(m, pt, refs[i].vip_id, &sl->vip_ref);
			if (rc)
				return rc;
			sl->id = refs[i].id;
			memcpy(sl->vip_addr, vk->addr6, sizeof(sl->vip_addr));
			sl->vip_port = vk->port;
			want->count++;
		}
	}
	pt->n6 = k;
	return 0;
}

/* What nosnat_pod_dir should hold at index x (after pod_plan). */
void pod_dir_want(const struct state *s, __u32 x, struct nosnat_pod *want)
{
	const struct scratch_pods *pt = &s->tmp->pods;

	memset(want, 0, sizeof(*want));
	if (pt->dir_first[x] < 0)
		return;
	*want = pt->ents[pt->dir_first[x]];
	want->flags = pt->dir_more[x] ? NOSNAT_POD_MORE : 0;
}

/* Write the pod filter: bits of the pods in ents and of the v6 pods planned
 * (pt->keys6), plus those of every pod key still in nosnat_pods and
 * nosnat_pods6 when with_map. */
static int pod_filter_write(const struct nosnat_maps *m, struct scratch_pods *pt,
			    const struct nosnat_pod *ents, size_t n,
			    int with_map)
{
	struct nosnat_addr_filter *f = &pt->filter, *cur = &pt->filter_cur;
	struct nosnat_pod_key key, cursor, *prev = NULL;
	struct nosnat_pod6_key key6, cursor6, *prev6 = NULL;
	__u32 zero = 0;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++)
		filter_set(f, ents[i].key.addr);
	for (size_t i = 0; i < pt->n6; i++)
		filter_set(f, nosnat_addr6_fold(pt->keys6[i].addr));
	while (with_map && !bpf_map_get_next_key(m->pods, prev, &key)) {
		filter_set(f, key.addr);
		cursor = key;
		prev = &cursor;
	}
	while (with_map && !bpf_map_get_next_key(m->pods6, prev6, &key6)) {
		filter_set(f, nosnat_addr6_fold(key6.addr));
		cursor6 = key6;
		prev6 = &cursor6;
	}
	if (!bpf_map_lookup_elem(m->pod_filt, &zero, cur) && !memcmp(cur, f, sizeof(*f)))
		return 0;
	return bpf_map_update_elem(m->pod_filt, &zero, f, BPF_ANY) ? -errno : 0;
}

/* Is key among the n sorted entries of pt->ents? */
static int pod_wanted(const struct scratch_pods *pt, const struct nosnat_pod_key *key, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(&pt->ents[mid].key, key, sizeof(*key)) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !memcmp(&pt->ents[lo].key, key, sizeof(*key));
}

/* nosnat_pods6's entries as planned, written where they differ. */
static int pods6_write(const struct nosnat_maps *m, const struct scratch_pods *pt)
{
	for (size_t i = 0; i < pt->n6; i++) {
		struct nosnat_pod6 cur;

		if ((bpf_map_lookup_elem(m->pods6, &pt->keys6[i], &cur) ||
		     memcmp(&cur, &pt->ents6[i], sizeof(cur))) &&
		    bpf_map_update_elem(m->pods6, &pt->keys6[i], &pt->ents6[i], BPF_ANY))
			return -errno;
	}
	return 0;
}

/* nosnat_pods6's entries of v6 pods no longer planned, deleted. */
static int pods6_prune(const struct nosnat_maps *m, struct scratch_pods *pt)
{
	struct nosnat_pod6_key key, cursor, *prev = NULL;
	size_t n_have = 0;

	while (!bpf_map_get_next_key(m->pods6, prev, &key) && n_have < NOSNAT_MAX_BACKENDS) {
		pt->have6[n_have++] = key;
		cursor = key;
		prev = &cursor;
	}
	for (size_t i = 0; i < n_have; i++) {
		size_t lo = 0, hi = pt->n6;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (memcmp(&pt->keys6[mid], &pt->have6[i], sizeof(pt->have6[i])) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < pt->n6 && !memcmp(&pt->keys6[lo], &pt->have6[i], sizeof(pt->have6[i])))
			continue;
		if (bpf_map_delete_elem(m->pods6, &pt->have6[i]) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* Each step leaves a reply able to find its pod, old or new: filter bits
 * first, complete table next, the directory, stale entries, stale bits.
 * Every key the directory holds is in nosnat_pods too, so the elements to
 * look at are those of the keys wanted and of the keys the table has. */
int pods_sync(const struct nosnat_maps *m, const struct state *s)
{
	struct scratch_pods *pt = &s->tmp->pods;
	struct nosnat_pod_key *have = pt->have;
	__u64 *touch = pt->touch;
	struct nosnat_pod_key key, cursor, *prev = NULL;
	size_t n = 0, n_have = 0;
	int rc = pod_plan(m, s, &n);

	if (!rc)
		rc = pod6_plan(m, s);
	/* The filter lets new pods through before their entries exist ... */
	if (!rc)
		rc = pod_filter_write(m, pt, pt->ents, n, 1);
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

		if ((bpf_map_lookup_elem(m->pods, &pt->ents[i].key, &cur) ||
		     memcmp(&cur, &pt->ents[i], sizeof(cur))) &&
		    bpf_map_update_elem(m->pods, &pt->ents[i].key, &pt->ents[i], BPF_ANY))
			return -errno;
	}
	/* ... the directory, where it differs. An element is written in place,
	 * not atomically: one that changes from one key to another is first
	 * emptied with NOSNAT_POD_MORE set (lookups go to nosnat_pods), so that
	 * no reader sees one pod's key with another's slots. (Within one key a
	 * torn read is harmless: a slot is used only for a flow that proves it.) */
	memset(touch, 0, sizeof(pt->touch));
	for (size_t i = 0; i < n + n_have; i++) {
		__u32 x = nosnat_pod_index(i < n ? &pt->ents[i].key : &have[i - n]);
		struct nosnat_pod want, cur;

		if (touch[x / 64] & (1ULL << (x % 64)))
			continue;
		touch[x / 64] |= 1ULL << (x % 64);
		if (bpf_map_lookup_elem(m->pod_dir, &x, &cur))
			return -errno;
		pod_dir_want(s, x, &want);
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
	rc = pods6_write(m, pt);
	if (rc)
		return rc;
	/* ... the entries of pods that are gone deleted ... */
	for (size_t i = 0; i < n_have; i++)
		if (!pod_wanted(pt, &have[i], n) && bpf_map_delete_elem(m->pods, &have[i]) && errno != ENOENT)
			return -errno;
	rc = pods6_prune(m, pt);
	if (rc)
		return rc;
	/* ... and only then their bits cleared */
	return pod_filter_write(m, pt, pt->ents, n, 0);
}
