/* pods.h - this node's pods as the reply path finds them (pods.c). */
#ifndef NOSNAT_PODS_H
#define NOSNAT_PODS_H

#include "state.h"

/* Make nosnat_pods list exactly the slots of this node's pods (in use or
 * being freed). */
int pods_sync(const struct nosnat_maps *m, const struct state *s);
/* Work out this node's nosnat_pods entries as s makes them, into
 * s->tmp->pods (ents, and the directory's plan); *n: how many. */
int pod_plan(const struct nosnat_maps *m, const struct state *s, size_t *n);
/* Work out this node's nosnat_pods6 entries as s makes them, into
 * s->tmp->pods (keys6, ents6, n6; sorted by key). */
int pod6_plan(const struct nosnat_maps *m, const struct state *s);
/* What nosnat_pod_dir should hold at index x (after pod_plan). */
void pod_dir_want(const struct state *s, __u32 x, struct nosnat_pod *want);

#endif
