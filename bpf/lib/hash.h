/* hash.h - the flow hash every node computes alike (Jenkins lookup3 final
 * mix over three words), so all nodes pick the same Maglev slot. */
#ifndef NOSNAT_HASH_H
#define NOSNAT_HASH_H

#include <linux/types.h>
#include "nosnat_abi.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define NOSNAT_HASH_SEED 0x6e6f736eU

static __always_inline __u32 rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

static __always_inline __u32 hash_3words(__u32 a, __u32 b, __u32 c)
{
	a += NOSNAT_HASH_SEED + 0xdeadbeef + 12;
	b += NOSNAT_HASH_SEED + 0xdeadbeef + 12;
	c += NOSNAT_HASH_SEED + 0xdeadbeef + 12;
	c ^= b; c -= rol32(b, 14);
	a ^= c; a -= rol32(c, 11);
	b ^= a; b -= rol32(a, 25);
	c ^= b; c -= rol32(b, 16);
	a ^= c; a -= rol32(c, 4);
	b ^= a; b -= rol32(a, 14);
	c ^= b; c -= rol32(b, 24);
	return c;
}

/* The flow hash that picks a Maglev slot; every node must agree on it. */
static __always_inline __u32 nosnat_flow_hash(__be32 src, __be32 dst, __be16 sport,
					      __be16 dport, __u8 proto)
{
	return hash_3words(src, dst, (((__u32)sport << 16) | dport) ^ proto);
}

/* 15-bit tag naming a backend pod across nodes (its id is node-local); the
 * outer ID's top bit is NOSNAT_ID_SECOND_CHANCE. */
static __always_inline __u16 backend_tag(__be32 addr, __be16 port)
{
	__u32 h = hash_3words(addr, port, 0x7467);

	return (__u16)(h ^ (h >> 16)) & NOSNAT_ID_TAG_MASK;
}

/* The tag word the loader writes for be (nosnat_backend.tag). */
static __always_inline __u32 backend_tag_word(const struct nosnat_backend *be)
{
	return NOSNAT_BE_TAG_KNOWN | backend_tag(be->addr, be->port);
}

#endif
