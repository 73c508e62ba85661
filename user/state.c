// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The loader's in-memory view of the pinned maps: read whole, searched. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "ctx.h"
#include "mapio.h"
#include "parse.h"
#include "state.h"

int state_read(const struct nosnat_maps *m, struct state *s)
{
	struct nosnat_vip_key key, next, *prev = NULL;
	__be32 nk, nkey, *nprev = NULL;
	__u32 zero = 0, val;

	struct scratch *tmp = s->tmp;

	memset(s, 0, sizeof(*s));
	s->tmp = tmp;
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

struct ctx *ctx_new(void)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (c)
		c->st.tmp = &c->tmp;
	return c;
}
