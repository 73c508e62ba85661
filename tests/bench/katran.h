/* katran.h - Katran's XDP balancer in the benchmark (katran.c): opened at
 * run time from an object built by scripts/katran_build.sh, its maps filled
 * here. None of Katran's code is in this repository. */
#ifndef NOSNAT_BENCH_KATRAN_H
#define NOSNAT_BENCH_KATRAN_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>

/* Weak: bench.c links without katran.c (an earlier tree given this bench.c
 * by scripts/bench_compare.sh), and then measures no Katran. */
#define KATRAN_WEAK __attribute__((weak))

/* The object to measure: NOSNAT_KATRAN_OBJ (empty: none), else
 * katran/balancer.bpf.o beside the test_bpf binary. NULL: none. */
KATRAN_WEAK const char *katran_obj_path(void);

/* Load a fresh copy of the object and fill its maps as the minimal
 * balancer's are: one TCP VIP (the frame ack's destination and port), 10
 * backends on node `node`, the default gateway's MAC `gw_mac`, per-CPU LRUs
 * of lru_entries, the established frame's flow recorded on this CPU. Then
 * check its output frames (IPIP to node, the inner packet untouched; the
 * non-VIP frame passed unchanged). IPv6 frames make the VIP an IPv6 one,
 * its backends on the node of v6 address node6 (16 bytes; else unused),
 * sent in ip6ip6. 0 or -1 with the reason on stderr. */
KATRAN_WEAK int katran_load(const char *path, __be32 node, const uint8_t *node6, const uint8_t gw_mac[6],
		const uint8_t *other,
		size_t other_len, const uint8_t *ack, size_t ack_len, const uint8_t *syn,
		size_t syn_len, const uint8_t *rsyn, size_t rsyn_len, uint32_t lru_entries);
KATRAN_WEAK void katran_unload(void);
KATRAN_WEAK int katran_prog_fd(void);

/* New LRUs of `entries` for every CPU, the one this process runs on
 * scrambled (bench_lru_scramble_keys) as nosnat's tables are before a
 * new-flow row. */
KATRAN_WEAK int katran_set_lru(uint32_t entries);
KATRAN_WEAK uint32_t katran_lru_entries(void);

/* What a row must have done to Katran's counters. */
enum katran_row { KATRAN_NON_VIP, KATRAN_ESTABLISHED, KATRAN_SYN_AGAIN, KATRAN_NEW_FLOW };

/* Before a row's timed runs, then after them with the rounds Katran ran:
 * -1 (and why, on stderr) if its counters show another path than row's. */
KATRAN_WEAK void katran_row_begin(void);
KATRAN_WEAK int katran_row_check(enum katran_row row, const char *name, uint64_t rounds);

/* One timed run's last output frame (data, len, verdict): is it what the
 * row's frame must give? Checked after every timed run. */
KATRAN_WEAK int katran_out_ok(enum katran_row row, const uint8_t *in, size_t in_len, const uint8_t *out,
		  size_t out_len, uint32_t verdict, int vary);

/* The conditions of the build (scripts/katran_build.sh's .info file) and of
 * this run, as "katran_info" lines. */
KATRAN_WEAK void katran_write_info(FILE *out, const char *path);

/* bench.c: fill an LRU with the n keys at keys (key_size bytes each), then
 * delete them in a shuffled order (its free entries no longer in address
 * order). */
void bench_lru_scramble_keys(int fd, void *keys, size_t key_size, size_t value_size, __u32 n);

#endif
