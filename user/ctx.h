/* ctx.h - what a nosnat command works with, created once in main and passed
 * down: the maps as read, a configuration, metrics, and the temporaries of
 * the state engine (scratch.h). The loader keeps no state in static buffers. */
#ifndef NOSNAT_CTX_H
#define NOSNAT_CTX_H

#include "config.h"
#include "metrics.h"
#include "scratch.h"
#include "state.h"

struct ctx {
	struct state st;	/* the pinned maps as read (st.tmp = &tmp) */
	struct config cfg;	/* a configuration file as parsed */
	struct metrics mx;
	struct scratch tmp;
};

/* Zeroed, st.tmp set; NULL when out of memory. Freed with free(). */
struct ctx *ctx_new(void);

#endif
