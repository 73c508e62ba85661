/* config.h - the declarative YAML configuration (`nosnat apply`, `run`):
 * parsed with libyaml and validated whole before anything is applied.
 * Pure: parsing touches no map, so it can be unit-tested and fuzzed. */
#ifndef NOSNAT_CONFIG_H
#define NOSNAT_CONFIG_H

#include <stddef.h>
#include "nosnat_abi.h"

#define CONFIG_MAX_BYTES	(1 << 20)
#define CONFIG_NAME_LEN		64

struct config_backend {
	__be32 addr;
	__be32 node;
	__be16 port;		/* pod port (targetPort) */
	__u16 weight;
	unsigned int line, col;	/* where it was written, 1-based */
};

struct config_vip {
	struct nosnat_vip_key key;
	char name[CONFIG_NAME_LEN];	/* service name, may be empty */
	size_t first_be, n_be;		/* into config.bes */
	unsigned int line, col;
};

struct config {
	__be32 node;		/* valid when has_node */
	int has_node;
	__be32 nodes[NOSNAT_MAX_NODES];
	size_t n_nodes;
	struct config_vip vips[NOSNAT_MAX_VIPS];
	size_t n_vips;
	struct config_backend bes[NOSNAT_MAX_BACKENDS];
	size_t n_bes;
};

/* Parse and validate. On error returns -EINVAL and writes
 * "FILE:LINE:COL: message" into err. */
int config_parse(const char *file, const char *buf, size_t len, struct config *cfg,
		 char *err, size_t errlen);
/* Read FILE (at most CONFIG_MAX_BYTES) and parse it. */
int config_load(const char *file, struct config *cfg, char *err, size_t errlen);

#endif
