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

/* nosnat_flow_new and nosnat_flow6_new, the handshakes' sets (nosnat_abi.h):
 * hs_* for v4, hs6_* for v6. */
struct nosnat_flow_key;
struct nosnat_flow6_key;
struct nosnat_flow;
struct nosnat_hs_set;
struct nosnat_hs6_set;
/* Is way w of set s a live entry? */
int hs_way_live(const struct nosnat_hs_set *s, unsigned int w);
int hs6_way_live(const struct nosnat_hs6_set *s, unsigned int w);
/* k's handshake entry into *f: 0, or -ENOENT. */
int hs_get(int fd, const struct nosnat_flow_key *k, struct nosnat_flow *f);
int hs6_get(int fd, const struct nosnat_flow6_key *k, struct nosnat_flow *f);
/* Record k's handshake as the dataplane would (its way, a free one, else
 * the set's oldest). */
int hs_put(int fd, const struct nosnat_flow_key *k, const struct nosnat_flow *f);
int hs6_put(int fd, const struct nosnat_flow6_key *k, const struct nosnat_flow *f);
/* Place k's handshake in an in-memory copy of the table: 0, or -ENOSPC
 * when its set has no free way. */
int hs_place(struct nosnat_hs_set *sets, const struct nosnat_flow_key *k,
	     const struct nosnat_flow *f);
int hs6_place(struct nosnat_hs6_set *sets, const struct nosnat_flow6_key *k,
	      const struct nosnat_flow *f);
/* Live entries in the table (-1 on error); every way emptied; every set
 * written from sets (NOSNAT_HS_SETS or NOSNAT_HS6_SETS of them). */
long hs_count(int fd);
long hs6_count(int fd);
int hs_clear(int fd);
int hs6_clear(int fd);
int hs_write_all(int fd, const struct nosnat_hs_set *sets);
int hs6_write_all(int fd, const struct nosnat_hs6_set *sets);

#endif
