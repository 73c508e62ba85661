/* maglev.h - Maglev consistent hashing (Eisenbud et al., NSDI 2016) with
 * weights. Pure: the same backends give the same table on every node. */
#ifndef NOSNAT_MAGLEV_H
#define NOSNAT_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

struct maglev_backend {
	uint32_t addr;		/* pod address, network order: the identity (v6: unused) */
	uint16_t port;		/* pod port, network order */
	uint16_t weight;	/* 0 = not in the table */
	uint8_t addr6[16];	/* an IPv6 pod's address: the identity; all zero: IPv4 */
};

#define MAGLEV_EMPTY UINT32_MAX

/* Fill table[0..m) with indexes into be[]; m must be prime. Backends with
 * weight 0 get no slot; with no weighted backend every slot is EMPTY.
 * The result does not depend on the order of be[]. Returns 0 or -errno. */
int maglev_build(const struct maglev_backend *be, size_t n, uint32_t m, uint32_t *table);

#endif
