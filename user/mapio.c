// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Map I/O helpers: whole arrays in batches, per-CPU values summed or zeroed. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
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
