// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The imperative changes (node, vip, backend commands) as edits of the
 * desired state: the state the maps hold, as a configuration, changed by
 * one command, then converged by the same engine as apply (apply.c). Its
 * validation is the one set of invariants (limits, nodes of backends, slot
 * peaks), its converge the one writer of slots and tables. What stays here
 * is what the command means: that the thing to add is new, the thing to
 * remove exists. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "apply.h"
#include "ops.h"
#include "scratch.h"

/* A backend change of one VIP, made while the desired state is written. */
struct be_edit {
	const struct vip_key *vip;	/* NULL: none */
	const struct config_backend *add;	/* appended to its backends */
	__be32 del_addr;			/* removed from them (0: none) */
	const __u8 *del_addr6;			/* its v6 address (zero: v4) */
	__be16 del_port;
};

/* s as a configuration: its nodes, and each VIP with its name and its
 * backends in slot order, e applied. */
static struct config *desired(struct state *s, const struct be_edit *e)
{
	struct config *cfg = &s->tmp->ops.cfg;
	struct be_index *ix = &s->tmp->apply.ix;

	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->nodes, s->nodes, s->n_nodes * sizeof(s->nodes[0]));
	cfg->n_nodes = s->n_nodes;
	memcpy(cfg->nodes6, s->nodes6, s->n_nodes6 * sizeof(s->nodes6[0]));
	cfg->n_nodes6 = s->n_nodes6;
	be_index_build(s, ix);
	for (size_t i = 0; i < s->n_vips; i++) {
		const struct vip_entry *v = &s->vips[i];
		struct config_vip *cv = &cfg->vips[cfg->n_vips++];
		int edited = e && e->vip && !memcmp(e->vip, &v->vk, sizeof(v->vk));

		cv->vk = v->vk;
		snprintf(cv->name, sizeof(cv->name), "%s", v->name);
		cv->first_be = cfg->n_bes;
		for (__u32 k = v->val.id < NOSNAT_MAX_VIPS ? ix->start[v->val.id] : 0;
		     v->val.id < NOSNAT_MAX_VIPS && k < ix->start[v->val.id + 1]; k++) {
			const struct nosnat_backend *b = &s->be[ix->ids[k]];

			if (edited && e->del_addr &&
			    state_be_is(s, ix->ids[k], e->del_addr, e->del_addr6, e->del_port))
				continue;
			cfg->bes[cfg->n_bes] = (struct config_backend){
				.addr = b->addr, .node = b->node, .port = b->port, .weight = b->weight,
			};
			memcpy(cfg->bes[cfg->n_bes].addr6, s->be6[ix->ids[k]].addr, sizeof(s->be6[0].addr));
			if (b->flags & NOSNAT_BE_NODE6)
				memcpy(cfg->bes[cfg->n_bes].node6, s->be_node6[ix->ids[k]].addr,
				       sizeof(s->be_node6[0].addr));
			cfg->n_bes++;
		}
		if (edited && e->add)
			cfg->bes[cfg->n_bes++] = *e->add;
		cv->n_be = cfg->n_bes - cv->first_be;
	}
	return cfg;
}

static struct config_vip *desired_vip(struct config *cfg, const struct vip_key *k)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (!memcmp(&cfg->vips[i].vk, k, sizeof(*k)))
			return &cfg->vips[i];
	return NULL;
}

/* Converge the maps to cfg; 0 or the engine's error (-E2BIG, -EMLINK,
 * -ENOSPC, -EHOSTUNREACH: an invariant; else a map operation). */
static int converge(const struct nosnat_maps *m, struct state *s, const struct config *cfg)
{
	char err[256];
	int rc = config_apply(m, s, cfg, "command", 0, NULL, err, sizeof(err));

	return rc < 0 ? rc : 0;
}

int op_node_add(const struct nosnat_maps *m, struct state *s, __be32 node)
{
	struct config *cfg;

	if (state_has_node(s, node))
		return -EEXIST;
	if (s->n_nodes >= NOSNAT_MAX_NODES)
		return -ENOSPC;
	cfg = desired(s, NULL);
	cfg->nodes[cfg->n_nodes++] = node;
	return converge(m, s, cfg);
}

int op_node_del(const struct nosnat_maps *m, struct state *s, __be32 node)
{
	struct config *cfg;
	size_t i;
	int rc;

	if (!state_has_node(s, node))
		return -ENOENT;
	cfg = desired(s, NULL);
	for (i = 0; cfg->nodes[i] != node; i++)
		;
	cfg->nodes[i] = cfg->nodes[--cfg->n_nodes];
	rc = converge(m, s, cfg);
	return rc == -EHOSTUNREACH ? -EBUSY : rc;	/* backends still run there */
}

int op_node6_add(const struct nosnat_maps *m, struct state *s, const __u8 *node6)
{
	struct config *cfg;

	if (!addr6_set(node6))
		return -EINVAL;
	if (state_has_node6(s, node6))
		return -EEXIST;
	if (s->n_nodes6 >= NOSNAT_MAX_NODES)
		return -ENOSPC;
	cfg = desired(s, NULL);
	memcpy(cfg->nodes6[cfg->n_nodes6++].addr, node6, sizeof(cfg->nodes6[0].addr));
	return converge(m, s, cfg);
}

int op_node6_del(const struct nosnat_maps *m, struct state *s, const __u8 *node6)
{
	struct config *cfg;
	size_t i;
	int rc;

	if (!state_has_node6(s, node6))
		return -ENOENT;
	cfg = desired(s, NULL);
	for (i = 0; memcmp(cfg->nodes6[i].addr, node6, sizeof(cfg->nodes6[i].addr)); i++)
		;
	cfg->nodes6[i] = cfg->nodes6[--cfg->n_nodes6];
	rc = converge(m, s, cfg);
	return rc == -EHOSTUNREACH ? -EBUSY : rc;	/* backends still run there */
}

int op_vip_add_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k)
{
	struct config *cfg;

	if (state_find_vip_any(s, k))
		return -EEXIST;
	if (s->n_vips >= NOSNAT_MAX_VIPS)
		return -ENOSPC;
	cfg = desired(s, NULL);
	cfg->vips[cfg->n_vips++] = (struct config_vip){ .vk = *k, .first_be = cfg->n_bes };
	return converge(m, s, cfg);
}

int op_vip_del_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k)
{
	struct config *cfg;
	struct config_vip *cv;

	if (!state_find_vip_any(s, k))
		return -ENOENT;
	cfg = desired(s, NULL);
	cv = desired_vip(cfg, k);
	*cv = cfg->vips[--cfg->n_vips];	/* its backends stay in bes, named by no VIP */
	return converge(m, s, cfg);
}

int op_backend_add_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k,
		       __be32 addr, const __u8 *a6, __be16 port, __be32 node, __u16 weight)
{
	return op_backend_add_on(m, s, k, addr, a6, port, node, NULL, weight);
}

int op_backend_add_on(const struct nosnat_maps *m, struct state *s, const struct vip_key *k,
		      __be32 addr, const __u8 *a6, __be16 port, __be32 node, const __u8 *node6,
		      __u16 weight)
{
	struct vip_entry *v = state_find_vip_any(s, k);
	struct config_backend add;
	struct be_edit e = { .vip = k, .add = &add };

	if (!v)
		return -ENOENT;
	if (!port)
		port = k->port;
	if (node6 && addr6_set(node6)) {
		if (!k->v6)
			return -EAFNOSUPPORT;	/* IPv4 crosses IPv4 node networks only */
		node = nosnat_addr6_fold(node6);
	} else {
		node6 = NULL;
	}
	if (weight > NOSNAT_MAX_WEIGHT || !addr || !node || addr6_set(a6) != !!k->v6)
		return -EINVAL;
	if (state_find_backend_any(s, v->val.id, addr, a6, port) >= 0)
		return -EEXIST;
	add = (struct config_backend){ .addr = addr, .node = node, .port = port, .weight = weight };
	memcpy(add.addr6, a6, sizeof(add.addr6));
	if (node6)
		memcpy(add.node6, node6, sizeof(add.node6));
	return converge(m, s, desired(s, &e));
}

int op_backend_del_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k,
		       __be32 addr, const __u8 *a6, __be16 port)
{
	struct vip_entry *v = state_find_vip_any(s, k);
	struct be_edit e = { .vip = k };

	if (!v)
		return -ENOENT;
	if (!port)
		port = k->port;
	if (state_find_backend_any(s, v->val.id, addr, a6, port) < 0)
		return -ESRCH;
	e.del_addr = addr;
	e.del_addr6 = a6;
	e.del_port = port;
	return converge(m, s, desired(s, &e));
}

/* The v4 interface (the BPF tests' and benchmarks'): k names a v4 VIP. A
 * key with the v6 mark is refused, a v6 VIP being named by its address. */
static const __u8 no_addr6[16];

int op_vip_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k)
{
	struct vip_key vk = vip_key_from4(k);

	return k->pad ? -EINVAL : op_vip_add_any(m, s, &vk);
}

int op_vip_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k)
{
	struct vip_key vk = vip_key_from4(k);

	return k->pad ? -EINVAL : op_vip_del_any(m, s, &vk);
}

int op_backend_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port, __be32 node, __u16 weight)
{
	struct vip_key vk = vip_key_from4(k);

	return k->pad ? -EINVAL : op_backend_add_any(m, s, &vk, addr, no_addr6, port, node, weight);
}

int op_backend_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port)
{
	struct vip_key vk = vip_key_from4(k);

	return k->pad ? -EINVAL : op_backend_del_any(m, s, &vk, addr, no_addr6, port);
}
