/* lookup.h - from a VIP packet to a backend: VIP table, flow table (sticky
 * flows), per-VIP Maglev table, and this node's own backends of a VIP. */
#ifndef NOSNAT_LOOKUP_H
#define NOSNAT_LOOKUP_H

#include "maps.h"
#include "hash.h"

static __always_inline struct nosnat_vip *vip_lookup(__be32 addr, __be16 port, __u8 proto)
{
	struct nosnat_vip_key k = { .addr = addr, .port = port, .proto = proto };

	return bpf_map_lookup_elem(&nosnat_vips, &k);
}

static __always_inline __u32 flow_hash(const struct nosnat_flow_key *k)
{
	return nosnat_flow_hash(k->src, k->dst, k->sport, k->dport, k->proto);
}

/* A backend slot, only while it still belongs to this VIP. */
static __always_inline struct nosnat_backend *backend_get(__u32 id, __u32 vip_id)
{
	struct nosnat_backend *be = bpf_map_lookup_elem(&nosnat_backends, &id);

	if (!be || !(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != vip_id)
		return NULL;
	return be;
}

/* The flow's recorded backend, if that pod is still configured. A SYN (a
 * new connection, perhaps on a reused client port) does not follow an old
 * flow to a draining backend. */
static __always_inline struct nosnat_backend *
flow_backend(const struct nosnat_flow_key *k, __u32 vip_id, __u32 *id, int syn)
{
	struct nosnat_flow *f = bpf_map_lookup_elem(&nosnat_flows, k);
	struct nosnat_backend *be;

	if (!f)
		return NULL;
	be = backend_get(f->backend_id, vip_id);
	if (!be || be->addr != f->backend_addr || (syn && !be->weight))
		return NULL;
	*id = f->backend_id;
	return be;
}

/* Checked once per flow, before it is created: a VIP or this node never
 * sends to a VIP from outside. Established flows passed it already. */
static __always_inline int source_spoofed(const struct nosnat_flow_key *k, __be32 node_ip)
{
	__be32 src = k->src;

	return src == node_ip || bpf_map_lookup_elem(&nosnat_vip_addr, &src) != NULL;
}

#define NEW_FLOW_SPOOFED (-1)	/* *new_flow when the source is refused */

static __always_inline struct nosnat_backend *
maglev_backend(__u32 vip_id, __u32 hash, __u32 *id)
{
	void *inner = bpf_map_lookup_elem(&nosnat_maglev, &vip_id);
	struct nosnat_maglev_slots *table;
	__u32 slot = hash % NOSNAT_MAGLEV_SIZE, zero = 0;

	if (!inner)
		return NULL;
	table = bpf_map_lookup_elem(inner, &zero);
	/* The compiler knows slot < M; the verifier must be told. */
	asm volatile("" : "+r"(slot));
	if (!table || slot >= NOSNAT_MAGLEV_SIZE)
		return NULL;
	*id = table->backend[slot];
	return backend_get(*id, vip_id);
}

static __always_inline void flow_record(const struct nosnat_flow_key *k, __u32 id,
					const struct nosnat_backend *be)
{
	struct nosnat_flow f = { .backend_id = id, .backend_addr = be->addr };

	bpf_map_update_elem(&nosnat_flows, k, &f, BPF_ANY);
}

/* Ingress node: known flow, else Maglev. */
static __always_inline struct nosnat_backend *
select_backend(const struct nosnat_flow_key *k, const struct nosnat_vip *vip,
	       __be32 node_ip, __u32 *id, int *new_flow, int syn)
{
	struct nosnat_backend *be = flow_backend(k, vip->id, id, syn);

	if (be)
		return be;
	if (source_spoofed(k, node_ip)) {
		*new_flow = NEW_FLOW_SPOOFED;
		return NULL;
	}
	if (!vip->active)
		return NULL;
	be = maglev_backend(vip->id, flow_hash(k), id);
	if (!be)
		return NULL;
	flow_record(k, *id, be);
	*new_flow = 1;
	return be;
}

/* Backend node, packet decapsulated: known flow, else the pod the ingress
 * node chose (by tag), else Maglev if that is local, else one of this node's
 * own backends by flow hash. Never a pod on another node. */
static __always_inline struct nosnat_backend *
select_local_backend(const struct nosnat_flow_key *k, const struct nosnat_vip *vip,
		     __be32 node_ip, __u16 tag, __u32 *id, int *new_flow, int syn)
{
	struct nosnat_backend *be = flow_backend(k, vip->id, id, syn);
	struct nosnat_local *local;
	__u32 hash, fallback = 0, have_fallback = 0;

	if (be && be->node == node_ip)
		return be;
	if (source_spoofed(k, node_ip)) {
		*new_flow = NEW_FLOW_SPOOFED;
		return NULL;
	}
	local = bpf_map_lookup_elem(&nosnat_local, &vip->id);
	if (!local)
		return NULL;
	hash = flow_hash(k);
	for (__u32 i = 0; i < NOSNAT_MAX_LOCAL; i++) {
		__u32 bid;

		if (i >= local->count)
			break;
		bid = local->ids[i];
		be = backend_get(bid, vip->id);
		if (!be || be->node != node_ip)
			continue;
		if (backend_tag(be->addr, be->port) == tag && (!syn || be->weight)) {
			*id = bid;
			goto found;
		}
		if (be->weight && (!have_fallback || (hash % (i + 1)) == 0)) {
			fallback = bid;
			have_fallback = 1;
		}
	}
	be = maglev_backend(vip->id, hash, id);
	if (be && be->node == node_ip)
		goto found;
	if (!have_fallback)
		return NULL;
	*id = fallback;
	be = backend_get(fallback, vip->id);
	if (!be)
		return NULL;
found:
	flow_record(k, *id, be);
	*new_flow = 1;
	return be;
}

#endif
