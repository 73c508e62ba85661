// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Map I/O helpers: whole arrays in batches, per-CPU values summed or zeroed,
 * the handshake table's sets. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "nosnat_abi.h"
#include "mapio.h"

/* A whole array map in one or a few syscalls. */
int array_read(int fd, void *values, size_t value_size, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 in = 0, out = 0, done = 0, *keys = calloc(n ? n : 1, sizeof(*keys));
	void *inp = NULL;
	int ret = 0;

	if (!keys)
		return -ENOMEM;
	while (done < n) {
		__u32 count = n - done;
		int rc = bpf_map_lookup_batch(fd, inp, &out, keys, (char *)values + done * value_size,
					      &count, &opts);

		done += count;
		if (rc && errno == ENOENT)
			break;
		if (rc) {
			/* older kernels: one by one */
			for (__u32 i = done; i < n && !ret; i++)
				if (bpf_map_lookup_elem(fd, &i, (char *)values + i * value_size))
					ret = -errno;
			done = n;
			break;
		}
		in = out;
		inp = &in;
	}
	free(keys);
	return ret ? ret : done == n ? 0 : -EIO;
}

int percpu_sum(int fd, __u32 key, size_t n, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu * n, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		free(vals);
		return -errno;
	}
	memset(out, 0, n * sizeof(*out));
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < n; i++)
			out[i] += vals[(size_t)c * n + i];
	free(vals);
	return 0;
}

int zero_percpu(int fd, __u32 key, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zeros;
	int rc;

	if (ncpu < 0)
		return ncpu;
	zeros = calloc(ncpu, (value_size + 7) & ~7UL);
	if (!zeros)
		return -ENOMEM;
	rc = bpf_map_update_elem(fd, &key, zeros, BPF_ANY) ? -errno : 0;
	free(zeros);
	return rc;
}

static int hs_key_eq(const struct nosnat_flow_key *a, const struct nosnat_flow_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto;
}

static int hs6_key_eq(const struct nosnat_flow6_key *a, const struct nosnat_flow6_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* The handshake tables' operations (mapio.h), written once for v4's sets
 * (hs_*) and v6's (hs6_*), as the dataplane's are (lib/lookup.h, HS_TABLE). */
#define HS_USER(sfx, set_t, key_t, n_sets, set_of, check_of, key_eq)			\
int hs##sfx##_way_live(const set_t *s, unsigned int w)					\
{											\
	return s->check[w] && s->key[w].proto && s->check[w] == check_of(&s->key[w], &s->flow[w]); \
}											\
											\
int hs##sfx##_get(int fd, const key_t *k, struct nosnat_flow *f)			\
{											\
	set_t s;									\
	__u32 i = set_of(k);								\
											\
	if (bpf_map_lookup_elem(fd, &i, &s))						\
		return -errno;								\
	for (unsigned int w = 0; w < NOSNAT_HS_WAYS; w++)				\
		if (key_eq(&s.key[w], k) && hs##sfx##_way_live(&s, w)) {		\
			*f = s.flow[w];							\
			return 0;							\
		}									\
	return -ENOENT;									\
}											\
											\
static unsigned int hs##sfx##_way_for(set_t *s, const key_t *k, int evict)		\
{											\
	unsigned int w, free = NOSNAT_HS_WAYS;						\
											\
	for (w = 0; w < NOSNAT_HS_WAYS; w++)						\
		if (key_eq(&s->key[w], k))						\
			return w;							\
	for (w = NOSNAT_HS_WAYS; w-- > 0;)						\
		if (!s->check[w])							\
			free = w;							\
	if (free < NOSNAT_HS_WAYS || !evict)						\
		return free;								\
	w = s->next & (NOSNAT_HS_WAYS - 1);						\
	s->next = w + 1;								\
	return w;									\
}											\
											\
static void hs##sfx##_write_way(set_t *s, unsigned int w, const key_t *k,		\
				const struct nosnat_flow *f)				\
{											\
	s->key[w] = *k;									\
	s->flow[w] = *f;								\
	s->check[w] = check_of(k, f);							\
}											\
											\
int hs##sfx##_put(int fd, const key_t *k, const struct nosnat_flow *f)			\
{											\
	set_t s;									\
	__u32 i = set_of(k);								\
											\
	if (bpf_map_lookup_elem(fd, &i, &s))						\
		return -errno;								\
	hs##sfx##_write_way(&s, hs##sfx##_way_for(&s, k, 1), k, f);			\
	return bpf_map_update_elem(fd, &i, &s, BPF_ANY) ? -errno : 0;			\
}											\
											\
int hs##sfx##_place(set_t *sets, const key_t *k, const struct nosnat_flow *f)		\
{											\
	set_t *s = &sets[set_of(k)];							\
	unsigned int w = hs##sfx##_way_for(s, k, 0);					\
											\
	if (w >= NOSNAT_HS_WAYS)							\
		return -ENOSPC;								\
	hs##sfx##_write_way(s, w, k, f);						\
	return 0;									\
}											\
											\
long hs##sfx##_count(int fd)								\
{											\
	set_t *sets = calloc(n_sets, sizeof(*sets));					\
	long n = 0;									\
											\
	if (!sets)									\
		return -1;								\
	if (array_read(fd, sets, sizeof(*sets), n_sets)) {				\
		free(sets);								\
		return -1;								\
	}										\
	for (__u32 i = 0; i < n_sets; i++)						\
		for (unsigned int w = 0; w < NOSNAT_HS_WAYS; w++)			\
			n += hs##sfx##_way_live(&sets[i], w);				\
	free(sets);									\
	return n;									\
}											\
											\
int hs##sfx##_write_all(int fd, const set_t *sets)					\
{											\
	LIBBPF_OPTS(bpf_map_batch_opts, opts);						\
	__u32 *keys = calloc(n_sets, sizeof(*keys)), count = n_sets;			\
	int rc = -ENOMEM;								\
											\
	if (keys) {									\
		for (__u32 i = 0; i < n_sets; i++)					\
			keys[i] = i;							\
		rc = bpf_map_update_batch(fd, keys, sets, &count, &opts) ? -errno : 0;	\
	}										\
	free(keys);									\
	return rc;									\
}											\
											\
int hs##sfx##_clear(int fd)								\
{											\
	set_t *sets = calloc(n_sets, sizeof(*sets));					\
	int rc = sets ? hs##sfx##_write_all(fd, sets) : -ENOMEM;			\
											\
	free(sets);									\
	return rc;									\
}

HS_USER(, struct nosnat_hs_set, struct nosnat_flow_key, NOSNAT_HS_SETS, nosnat_hs_set_of,
	nosnat_hs_check, hs_key_eq)
HS_USER(6, struct nosnat_hs6_set, struct nosnat_flow6_key, NOSNAT_HS6_SETS, nosnat_hs6_set_of,
	nosnat_hs6_check, hs6_key_eq)
