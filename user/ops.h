/* ops.h - one change at a time, for the node/vip/backend commands (ops.c). */
#ifndef NOSNAT_OPS_H
#define NOSNAT_OPS_H

#include "state.h"

/* Changes. Each validates first (-EEXIST, -ENOENT, -ENOSPC, -EBUSY, -EINVAL
 * with no map touched), then applies. */
int op_node_add(const struct nosnat_maps *m, struct state *s, __be32 node);
int op_node_del(const struct nosnat_maps *m, struct state *s, __be32 node);
/* The same for a node of an IPv6 node network (nosnat_nodes6). */
int op_node6_add(const struct nosnat_maps *m, struct state *s, const __u8 *node6);
int op_node6_del(const struct nosnat_maps *m, struct state *s, const __u8 *node6);
/* VIPs and backends of either family: a backend's pod address is addr (v4)
 * or a6 (v6, addr its fold; all zero for v4), of the VIP's family. */
int op_vip_add_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k);
int op_vip_del_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k);
int op_backend_add_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k,
		       __be32 addr, const __u8 *a6, __be16 port, __be32 node, __u16 weight);
/* The same, the pod's node either an IPv4 address (node; node6 NULL or
 * zero) or an IPv6 one (node6; node ignored): a v6 VIP's pod only, else
 * -EAFNOSUPPORT with no map touched. */
int op_backend_add_on(const struct nosnat_maps *m, struct state *s, const struct vip_key *k,
		      __be32 addr, const __u8 *a6, __be16 port, __be32 node, const __u8 *node6,
		      __u16 weight);
int op_backend_del_any(const struct nosnat_maps *m, struct state *s, const struct vip_key *k,
		       __be32 addr, const __u8 *a6, __be16 port);
/* The same for v4 VIPs and pods (k: a nosnat_vips key; one with the v6
 * mark is -EINVAL): the BPF tests' and benchmarks' interface. */
int op_vip_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k);
int op_vip_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k);
int op_backend_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port, __be32 node, __u16 weight);
int op_backend_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port);

#endif
