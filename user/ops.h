/* ops.h - one change at a time, for the node/vip/backend commands (ops.c). */
#ifndef NOSNAT_OPS_H
#define NOSNAT_OPS_H

#include "state.h"

/* Changes. Each validates first (-EEXIST, -ENOENT, -ENOSPC, -EBUSY, -EINVAL
 * with no map touched), then applies. */
int op_node_add(const struct nosnat_maps *m, struct state *s, __be32 node);
int op_node_del(const struct nosnat_maps *m, struct state *s, __be32 node);
int op_vip_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k);
int op_vip_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k);
int op_backend_add(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port, __be32 node, __u16 weight);
int op_backend_del(const struct nosnat_maps *m, struct state *s, const struct nosnat_vip_key *k,
		   __be32 addr, __be16 port);

#endif
