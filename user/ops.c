// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The imperative changes (node, vip, backend commands): each validates
 * first, with no map touched, then applies. */
#include <errno.h>
#include <arpa/inet.h>
#include <string.h>
#include <bpf/bpf.h>
#include "parse.h"
#include "mapio.h"
#include "ops.h"
#include "pods.h"
#include "scratch.h"
#include "vips.h"

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

int op_vip_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k)
{
	__u8 used[NOSNAT_MAX_VIPS];
	struct vip_entry *v;
	struct nosnat_local none = {};
	__u32 id, refs = 0;
	int rc;

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
	rc = zero_percpu(m->vip_stat, id, sizeof(struct nosnat_vip_counter));
	if (rc)
		return rc;
	if (bpf_map_update_elem(m->local, &id, &none, BPF_ANY))
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
		struct nosnat_addr_filter *f = &s->tmp->ops.filter;

		if (bpf_map_lookup_elem(m->vip_filt, &zero, f))
			return -errno;
		if (!filter_has(f, k->addr) && filter_write(m, s, k->addr))
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
