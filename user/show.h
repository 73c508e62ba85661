/* show.h - `list` and `stats`: read the pinned maps, print aligned columns
 * or JSON. Read-only; no daemon needed. */
#ifndef NOSNAT_SHOW_H
#define NOSNAT_SHOW_H

#include <stdio.h>
#include "state.h"

void show_list(FILE *f, const struct state *s, int json);
int show_stats(FILE *f, const struct nosnat_maps *m, const struct state *s, int json);

#endif
