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

int hs_way_live(const struct nosnat_hs_set *s, unsigned int w)
{
	return s->check[w] && s->key[w].proto && s->check[w] == nosnat_hs_check(&s->key[w], &s->flow[w]);
}

static int hs_key_eq(const struct nosnat_flow_key *a, const struct nosnat_flow_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto;
}

int hs_get(int fd, const struct nosnat_flow_key *k, struct nosnat_flow *f)
{
	struct nosnat_hs_set s;
	__u32 i = nosnat_hs_set_of(k);

	if (bpf_map_lookup_elem(fd, &i, &s))
		return -errno;
	for (unsigned int w = 0; w < NOSNAT_HS_WAYS; w++)
		if (hs_key_eq(&s.key[w], k) && hs_way_live(&s, w)) {
			*f = s.flow[w];
			return 0;
		}
	return -ENOENT;
}

static unsigned int hs_way_for(struct nosnat_hs_set *s, const struct nosnat_flow_key *k, int evict)
{
	unsigned int w, free = NOSNAT_HS_WAYS;

	for (w = 0; w < NOSNAT_HS_WAYS; w++)
		if (hs_key_eq(&s->key[w], k))
			return w;
	for (w = NOSNAT_HS_WAYS; w-- > 0;)
		if (!s->check[w])
			free = w;
	if (free < NOSNAT_HS_WAYS || !evict)
		return free;
	w = s->next & (NOSNAT_HS_WAYS - 1);
	s->next = w + 1;
	return w;
}

static void hs_write_way(struct nosnat_hs_set *s, unsigned int w, const struct nosnat_flow_key *k,
			 const struct nosnat_flow *f)
{
	s->key[w] = *k;
	s->flow[w] = *f;
	s->check[w] = nosnat_hs_check(k, f);
}

int hs_put(int fd, const struct nosnat_flow_key *k, const struct nosnat_flow *f)
{
	struct nosnat_hs_set s;
	__u32 i = nosnat_hs_set_of(k);

	if (bpf_map_lookup_elem(fd, &i, &s))
		return -errno;
	hs_write_way(&s, hs_way_for(&s, k, 1), k, f);
	return bpf_map_update_elem(fd, &i, &s, BPF_ANY) ? -errno : 0;
}

int hs_place(struct nosnat_hs_set *sets, const struct nosnat_flow_key *k,
	     const struct nosnat_flow *f)
{
	struct nosnat_hs_set *s = &sets[nosnat_hs_set_of(k)];
	unsigned int w = hs_way_for(s, k, 0);

	if (w >= NOSNAT_HS_WAYS)
		return -ENOSPC;
	hs_write_way(s, w, k, f);
	return 0;
}

long hs_count(int fd)
{
	struct nosnat_hs_set *sets = calloc(NOSNAT_HS_SETS, sizeof(*sets));
	long n = 0;

	if (!sets)
		return -1;
	if (array_read(fd, sets, sizeof(*sets), NOSNAT_HS_SETS)) {
		free(sets);
		return -1;
	}
	for (__u32 i = 0; i < NOSNAT_HS_SETS; i++)
		for (unsigned int w = 0; w < NOSNAT_HS_WAYS; w++)
			n += hs_way_live(&sets[i], w);
	free(sets);
	return n;
}

int hs_write_all(int fd, const struct nosnat_hs_set *sets)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys = calloc(NOSNAT_HS_SETS, sizeof(*keys)), count = NOSNAT_HS_SETS;
	int rc = -ENOMEM;

	if (keys) {
		for (__u32 i = 0; i < NOSNAT_HS_SETS; i++)
			keys[i] = i;
		rc = bpf_map_update_batch(fd, keys, sets, &count, &opts) ? -errno : 0;
	}
	free(keys);
	return rc;
}

int hs_clear(int fd)
{
	struct nosnat_hs_set *sets = calloc(NOSNAT_HS_SETS, sizeof(*sets));
	int rc = sets ? hs_write_all(fd, sets) : -ENOMEM;

	free(sets);
	return rc;
}
