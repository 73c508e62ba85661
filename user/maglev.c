// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Weighted Maglev: every backend walks its own permutation of the slots
 * (offset + j * skip mod M) and, round by round, claims as many free slots
 * up to its weight, until it holds its exact share of M (largest-remainder
 * rounding: within one slot of M * weight / total). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "maglev.h"

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

struct perm {
	uint32_t idx;		/* into the caller's array */
	uint32_t skip, slot;	/* slot: the next one of its permutation to try */
	uint32_t target, got;	/* slots owed by weight, slots taken */
	uint64_t key;
	uint64_t rem;		/* remainder of M * weight / total */
	uint8_t addr6[16];	/* a v6 pod's address: ties of key broken by it */
};

static int cmp_perm(const void *a, const void *b)
{
	const struct perm *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	/* two v6 pods whose hashes collide: still one order on every node */
	return memcmp(x->addr6, y->addr6, sizeof(x->addr6));
}

static int addr6_zero(const uint8_t *a)
{
	for (int i = 0; i < 16; i++)
		if (a[i])
			return 0;
	return 1;
}

/* A backend's identity: a v4 pod's address and port as they are; a v6
 * pod's whole address hashed, with its port. Nothing node-specific. */
static uint64_t backend_key(const struct maglev_backend *b)
{
	uint64_t hi = 0, lo = 0;

	if (addr6_zero(b->addr6))
		return ((uint64_t)b->addr << 16) | b->port;
	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | b->addr6[i];
		lo = lo << 8 | b->addr6[8 + i];
	}
	return mix64(hi ^ mix64(lo ^ 0x6d61676c65763661ULL)) << 16 | b->port;
}

/* Exact shares: floor(M * w / W) each, the leftover slots to the largest
 * remainders (ties by canonical order). Rounding costs at most one slot. */
static void assign_targets(struct perm *p, size_t live, const struct maglev_backend *be,
			   uint32_t m)
{
	uint64_t total = 0, given = 0;

	for (size_t i = 0; i < live; i++)
		total += be[p[i].idx].weight;
	for (size_t i = 0; i < live; i++) {
		uint64_t share = (uint64_t)m * be[p[i].idx].weight;

		p[i].target = (uint32_t)(share / total);
		p[i].rem = share % total;
		p[i].got = 0;
		given += p[i].target;
	}
	while (given < m) {
		size_t best = 0;

		for (size_t i = 1; i < live; i++)
			if (p[i].rem > p[best].rem)
				best = i;
		p[best].target++;
		p[best].rem = 0;
		given++;
	}
}

int maglev_build(const struct maglev_backend *be, size_t n, uint32_t m, uint32_t *table)
{
	struct perm *p;
	uint64_t *taken;	/* one bit per slot: probes stay in L1 (8 KiB at M=65537) */
	size_t live = 0, filled = 0;

	if (m < 2 || m > UINT32_MAX / 2 || (n && !be) || !table)
		return -EINVAL;
	for (uint32_t i = 0; i < m; i++)
		table[i] = MAGLEV_EMPTY;
	p = calloc(n ? n : 1, sizeof(*p));
	taken = calloc((m + 63) / 64, sizeof(*taken));
	if (!p || !taken) {
		free(p);
		free(taken);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t key = backend_key(&be[i]);

		if (!be[i].weight)
			continue;
		p[live].idx = i;
		p[live].key = key;
		memcpy(p[live].addr6, be[i].addr6, sizeof(p[live].addr6));
		p[live].slot = mix64(key ^ 0x6d61676c65764f66ULL) % m;	/* offset */
		p[live].skip = mix64(key ^ 0x6d61676c65765368ULL) % (m - 1) + 1;
		live++;
	}
	/* Canonical order, so every node builds the same table. */
	qsort(p, live, sizeof(*p), cmp_perm);
	assign_targets(p, live, be, m);
	while (live && filled < m) {
		for (size_t i = 0; i < live && filled < m; i++) {
			for (uint32_t w = 0; w < be[p[i].idx].weight && p[i].got < p[i].target; w++) {
				/* (offset + j * skip) mod M, one addition per step:
				 * a division per probe made builds 5x slower */
				uint32_t slot = p[i].slot;

				while (taken[slot / 64] & (1ULL << (slot % 64))) {
					slot += p[i].skip;
					if (slot >= m)
						slot -= m;
				}
				taken[slot / 64] |= 1ULL << (slot % 64);
				table[slot] = p[i].idx;
				slot += p[i].skip;
				p[i].slot = slot >= m ? slot - m : slot;
				p[i].got++;
				filled++;
			}
		}
	}
	free(p);
	free(taken);
	return 0;
}
