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

/* The next VIP entry (its val read already): key and name. */
static void vip_entry_fill(const struct nosnat_maps *m, struct state *s, struct vip_key k)
{
	struct vip_entry *v = &s->vips[s->n_vips++];
	struct nosnat_vip_meta meta = {};

	v->vk = k;
	bpf_map_lookup_elem(m->vip_meta, &v->val.id, &meta);
	memcpy(v->name, meta.name, sizeof(v->name));
	v->name[sizeof(v->name) - 1] = '\0';
}

int state_read(const struct nosnat_maps *m, struct state *s)
{
	struct nosnat_vip_key key, next, *prev = NULL;
	struct nosnat_vip6_key key6, next6, *prev6 = NULL;
	__be32 nk, nkey, *nprev = NULL;
	__u32 zero = 0, val;
	int rc;

	struct scratch *tmp = s->tmp;

	memset(s, 0, sizeof(*s));
	s->tmp = tmp;
	if (bpf_map_lookup_elem(m->cfg, &zero, &s->cfg))
		return -errno;
	while (!bpf_map_get_next_key(m->vips, prev, &next)) {
		if (s->n_vips >= NOSNAT_MAX_VIPS)
			break;
		if (!bpf_map_lookup_elem(m->vips, &next, &s->vips[s->n_vips].val))
			vip_entry_fill(m, s, vip_key_from4(&next));
		key = next;
		prev = &key;
	}
	while (!bpf_map_get_next_key(m->vips6, prev6, &next6)) {
		if (s->n_vips >= NOSNAT_MAX_VIPS)
			break;
		if (!bpf_map_lookup_elem(m->vips6, &next6, &s->vips[s->n_vips].val))
			vip_entry_fill(m, s, vip_key_from6(&next6));
		key6 = next6;
		prev6 = &key6;
	}
	while (!bpf_map_get_next_key(m->nodes, nprev, &nk)) {
		if (s->n_nodes >= NOSNAT_MAX_NODES)
			break;
		if (!bpf_map_lookup_elem(m->nodes, &nk, &val))
			s->nodes[s->n_nodes++] = nk;
		nkey = nk;
		nprev = &nkey;
	}
	{
		struct nosnat_be6 n6, n6key, *n6prev = NULL;

		while (!bpf_map_get_next_key(m->nodes6, n6prev, &n6)) {
			if (s->n_nodes6 >= NOSNAT_MAX_NODES)
				break;
			if (!bpf_map_lookup_elem(m->nodes6, &n6, &val))
				s->nodes6[s->n_nodes6++] = n6;
			n6key = n6;
			n6prev = &n6key;
		}
	}
	rc = array_read(m->backends, s->be, sizeof(s->be[0]), NOSNAT_MAX_BACKENDS);
	if (!rc)
		rc = array_read(m->be6, s->be6, sizeof(s->be6[0]), NOSNAT_MAX_BACKENDS);
	return rc ? rc : array_read(m->be_node6, s->be_node6, sizeof(s->be_node6[0]), NOSNAT_MAX_BACKENDS);
}

struct vip_entry *state_find_vip_any(struct state *s, const struct vip_key *k)
{
	for (size_t i = 0; i < s->n_vips; i++)
		if (!memcmp(&s->vips[i].vk, k, sizeof(*k)))
			return &s->vips[i];
	return NULL;
}

int state_be_is(const struct state *s, __u32 id, __be32 addr, const __u8 *a6, __be16 port)
{
	return s->be[id].addr == addr && s->be[id].port == port &&
	       !memcmp(s->be6[id].addr, a6, sizeof(s->be6[id].addr));
}

int state_find_backend_any(const struct state *s, __u32 vip_id, __be32 addr, const __u8 *a6,
			   __be16 port)
{
	for (int i = 0; i < NOSNAT_MAX_BACKENDS; i++) {
		const struct nosnat_backend *b = &s->be[i];

		if ((b->flags & NOSNAT_BE_IN_USE) && b->vip_id == vip_id &&
		    state_be_is(s, (__u32)i, addr, a6, port))
			return i;
	}
	return -1;
}

struct vip_entry *state_find_vip(struct state *s, const struct nosnat_vip_key *k)
{
	struct vip_key vk = vip_key_from4(k);

	return k->pad ? NULL : state_find_vip_any(s, &vk);
}

int state_find_backend(const struct state *s, __u32 vip_id, __be32 addr, __be16 port)
{
	static const __u8 none[16];

	return state_find_backend_any(s, vip_id, addr, none, port);
}

int state_has_node(const struct state *s, __be32 node)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i] == node)
			return 1;
	return 0;
}

int state_has_node6(const struct state *s, const __u8 *node6)
{
	for (size_t i = 0; i < s->n_nodes6; i++)
		if (!memcmp(s->nodes6[i].addr, node6, sizeof(s->nodes6[i].addr)))
			return 1;
	return 0;
}

int state_be_local(const struct state *s, __u32 id)
{
	if (s->be[id].flags & NOSNAT_BE_NODE6)
		return addr6_set(s->cfg.node_ip6) &&
		       !memcmp(s->be_node6[id].addr, s->cfg.node_ip6, sizeof(s->cfg.node_ip6));
	return s->cfg.node_ip && s->be[id].node == s->cfg.node_ip;
}

int state_be_node_is(const struct state *s, __u32 id, __be32 node, const __u8 *node6)
{
	if (!!(s->be[id].flags & NOSNAT_BE_NODE6) != addr6_set(node6))
		return 0;
	return s->be[id].node == node &&
	       !memcmp(s->be_node6[id].addr, node6, sizeof(s->be_node6[id].addr));
}

const char *state_be_node_str(const struct state *s, __u32 id, char *buf)
{
	return addr_str(s->be[id].node, s->be[id].flags & NOSNAT_BE_NODE6 ? s->be_node6[id].addr : NULL,
			buf);
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
