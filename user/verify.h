/* verify.h - nosnat verify (verify.c). */
#ifndef NOSNAT_VERIFY_H
#define NOSNAT_VERIFY_H

#include <stdio.h>
#include "state.h"

/* Check that the maps agree with each other (tables, local lists, counts,
 * address refcounts, nodes). Prints one line per problem; returns how many. */
int state_verify(const struct nosnat_maps *m, const struct state *s, FILE *out);

#endif
