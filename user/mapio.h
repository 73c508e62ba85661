/* mapio.h - map I/O helpers (mapio.c). */
#ifndef NOSNAT_MAPIO_H
#define NOSNAT_MAPIO_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

/* Sum the n u64 counters of a per-CPU value over all CPUs. */
int percpu_sum(int fd, __u32 key, size_t n, uint64_t *out);
/* Read all n values of an array map (batched). */
int array_read(int fd, void *values, size_t value_size, __u32 n);
/* Set a per-CPU value to zero on every CPU. */
int zero_percpu(int fd, __u32 key, size_t value_size);

#endif
