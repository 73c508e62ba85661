// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Benchmarks (test_bpf --bench FILE): nosnat's paths timed against the
 * same frames through reference programs (tests/bench/bench.bpf.c). */
#include "../bpf/harness.h"
#include "bench.h"
#include "katran.h"

/* --- benchmarks (test_bpf --bench FILE) ---------------------------------- */


static struct bench_bpf *bskel;
static FILE *bout;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define BENCH_RUNS 31

/* The last run's verdict and output frame (its last round's). */
static uint8_t bench_out[4096];
static __u32 bench_out_len, bench_ret;

/* One BPF_PROG_TEST_RUN of `repeat` rounds: average ns per round. */
static double bench_run(int harness_fd, int target_fd, int prog_array, const uint8_t *pkt,
			size_t len, int vary, int ifindex, int xdp, uint32_t repeat)
{
	struct bench_frame f = { .len = (__u32)len, .vary = (__u32)vary };
	uint8_t *out = bench_out;
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	struct __sk_buff skb = { .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(bench_out), .repeat = repeat);
	__u32 zero = 0;

	memcpy(f.data, pkt, sizeof(f.data));
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_frame), &zero, &f, BPF_ANY);
	bpf_map_update_elem(prog_array, &zero, &target_fd, BPF_ANY);
	if (xdp) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	} else {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(harness_fd, &o))
		return -1;
	bench_ret = o.retval;
	bench_out_len = o.data_size_out;
	return o.duration;
}

/* A tc path that resizes the skb (encapsulation) cannot run again on the
 * skb it changed: the kernel refuses to encapsulate an skb twice or cut an
 * encapsulated one back. Such rows get a fresh skb every round, one test
 * run each (at most BENCH_FRESH_ROUNDS), the harness's empty program
 * measured the same way; the per-run timer is in both sides of the pair. */
#define BENCH_FRESH_ROUNDS 4000
static int bench_fresh_skb;

static double bench_run_fresh(int harness_fd, int target_fd, int prog_array, const uint8_t *pkt,
			      size_t len, int vary, int ifindex, uint32_t repeat)
{
	uint32_t rounds = repeat < BENCH_FRESH_ROUNDS ? repeat : BENCH_FRESH_ROUNDS;
	double sum = 0;

	for (uint32_t i = 0; i < rounds; i++) {
		double d = bench_run(harness_fd, target_fd, prog_array, pkt, len, vary, ifindex, 0, 1);

		if (d < 0)
			return -1;
		sum += d;
	}
	return sum / rounds;
}

/* Each path is measured in several fresh loads of the programs and maps:
 * the cost of a path differs between loads by up to a third on this
 * machine (where the kernel happens to place the maps and the JITed code),
 * far more than between runs within one load. The median load is kept. */
#define BENCH_LOADS 3
#define BENCH_MAX_PATHS 32

static struct bench_result {
	const char *name;
	double diff[BENCH_LOADS], best[BENCH_LOADS], total[BENCH_LOADS], floor[BENCH_LOADS];
	int n;
} bres[BENCH_MAX_PATHS];
static int n_bres;

static void bench_record(const char *name, double diff, double best, double total, double floor_ns)
{
	struct bench_result *r = NULL;

	for (int i = 0; i < n_bres && !r; i++)
		if (!strcmp(bres[i].name, name))
			r = &bres[i];
	if (!r) {
		if (n_bres == BENCH_MAX_PATHS)
			return;
		r = &bres[n_bres++];
		r->name = name;
		r->n = 0;
	}
	if (r->n < BENCH_LOADS) {
		r->diff[r->n] = diff;
		r->best[r->n] = best;
		r->total[r->n] = total;
		r->floor[r->n++] = floor_ns;
	}
}

/* Write each path's median load (by cost), then forget them. */
static void bench_flush(void)
{
	for (int i = 0; i < n_bres; i++) {
		struct bench_result *r = &bres[i];
		int order[BENCH_LOADS], m;

		for (int k = 0; k < r->n; k++)
			order[k] = k;
		for (int a = 0; a < r->n; a++)
			for (int b = a + 1; b < r->n; b++)
				if (r->diff[order[b]] < r->diff[order[a]]) {
					int t = order[a];

					order[a] = order[b];
					order[b] = t;
				}
		m = order[r->n / 2];
		fprintf(bout, "path\t%s\t%.1f\t%.1f\t%.1f\t%.1f\n", r->name, r->diff[m], r->total[m],
			r->floor[m], r->best[m]);
	}
	n_bres = 0;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* The harness alone and the harness with the program under test, measured
 * in turns (BENCH_RUNS pairs) so that both sides of a pair see the same
 * machine: the program's cost is the median of the pairs' differences.
 * Returns that median; *lo and *hi the smallest and largest difference,
 * *total and *floor_out the medians of each side. -1: no pair ran. */
static double bench_pairs(int target, const uint8_t *pkt, size_t len, int vary, int ifindex,
			  int xdp, uint32_t repeat, double *lo, double *hi, double *total,
			  double *floor_out)
{
	int hx = bpf_program__fd(bskel->progs.bench_xdp), ht = bpf_program__fd(bskel->progs.bench_tc);
	int harness = xdp ? hx : ht;
	int arr = bpf_map__fd(xdp ? bskel->maps.bench_xdp_next : bskel->maps.bench_tc_next);
	int empty = bpf_program__fd(xdp ? bskel->progs.bench_xdp_empty : bskel->progs.bench_tc_empty);
	double floor_ns[BENCH_RUNS], tot[BENCH_RUNS], diff[BENCH_RUNS], f, t, d;
	__u32 zero = 0;
	__u64 round0 = 0;
	int n = 0;

	/* New-flow rows: the client counter runs on across runs (2^24 distinct
	 * clients), so every round of every run is a flow the table never saw. */
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_round), &zero, &round0, BPF_ANY);
	for (int r = 0; r < BENCH_RUNS; r++) {
		if (bench_fresh_skb && !xdp) {
			f = bench_run_fresh(harness, empty, arr, pkt, len, vary, ifindex, repeat);
			t = bench_run_fresh(harness, target, arr, pkt, len, vary, ifindex, repeat);
		} else {
			f = bench_run(harness, empty, arr, pkt, len, vary, ifindex, xdp, repeat);
			t = bench_run(harness, target, arr, pkt, len, vary, ifindex, xdp, repeat);
		}
		if (f < 0 || t < 0)
			continue;
		floor_ns[n] = f;
		tot[n] = t;
		diff[n++] = t - f;
	}
	if (!n)
		return -1;
	d = median(diff, n);
	*lo = diff[0];		/* sorted now */
	*hi = diff[n - 1];
	*total = median(tot, n);
	*floor_out = median(floor_ns, n);
	return d;
}

/* Is row name measured in this run? (NOSNAT_BENCH_PATH: profiling one.) */
static int bench_wanted(const char *name)
{
	const char *only = getenv("NOSNAT_BENCH_PATH");

	return !only || strstr(name, only);
}

/* Put an LRU flow table where a node's table is after a while: nodes
 * freed in no particular order of memory. A table never used hands out
 * its preallocated entries in address order, and an emptied one in the
 * order they were deleted; inserts and evictions then walk memory in
 * sequence, which a busy node never does, and the first new-flow row run
 * on a fresh table would look cheaper than the next. So before each
 * new-flow row the table is filled with other flows (198.19.0.0/16) and
 * those are deleted in a shuffled order. */
void bench_lru_scramble_keys(int fd, void *keys, size_t key_size, size_t value_size, __u32 n)
{
	uint8_t *vals = calloc(n, value_size), *k = keys, *t = malloc(key_size);
	__u32 count = n, seed = 12345;

	if (!vals || !t) {
		free(vals);
		free(t);
		return;
	}
	bpf_map_update_batch(fd, keys, vals, &count, NULL);
	free(vals);
	for (__u32 i = n - 1; i > 0; i--) {
		__u32 j;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		memcpy(t, k + (size_t)i * key_size, key_size);
		memcpy(k + (size_t)i * key_size, k + (size_t)j * key_size, key_size);
		memcpy(k + (size_t)j * key_size, t, key_size);
	}
	free(t);
	for (__u32 i = 0; i < n; i++)
		bpf_map_delete_elem(fd, k + (size_t)i * key_size);	/* some were evicted: ENOENT */
}

static void bench_lru_scramble(int fd, size_t value_size)
{
	enum { N = NOSNAT_FLOW_ENTRIES };
	static struct nosnat_flow_key keys[N];

	map_clear(fd);
	for (__u32 i = 0; i < N; i++)
		keys[i] = (struct nosnat_flow_key){ .src = htonl(0xc6130000u | (i & 0xffff)),
						    .dst = ip4(T_VIP), .sport = htons((uint16_t)(1 + (i >> 16))),
						    .dport = htons(25), .proto = IPPROTO_TCP };
	bench_lru_scramble_keys(fd, keys, sizeof(keys[0]), value_size, N);
}

/* The same for the v6 flow table (clients 2001:db8:1913::/64). */
static void bench_lru_scramble6(int fd)
{
	enum { N = NOSNAT_FLOW6_ENTRIES };
	static struct nosnat_flow6_key keys[N];

	map_clear(fd);
	for (__u32 i = 0; i < N; i++) {
		struct nosnat_flow6_key *k = &keys[i];

		memset(k, 0, sizeof(*k));
		ip6("2001:db8:1913::", k->src);
		k->src[14] = (uint8_t)(i >> 8);
		k->src[15] = (uint8_t)i;
		ip6("2001:db8::25", k->dst);
		k->sport = htons((uint16_t)(1 + (i >> 16)));
		k->dport = htons(25);
		k->proto = IPPROTO_TCP;
	}
	bench_lru_scramble_keys(fd, keys, sizeof(keys[0]), sizeof(struct nosnat_flow), N);
}

/* The handshake table as a busy node's is: every way of every set holds
 * another flow (198.19.0.0/16), so that each new flow takes the place of
 * the oldest in its set, as it would there. */
static void bench_hs_fill(int fd)
{
	struct nosnat_hs_set *sets = calloc(NOSNAT_HS_SETS, sizeof(*sets));
	struct nosnat_flow f = { .backend_id = 1, .backend_addr = ip4(T_POD_B) };

	if (!sets)
		return;
	for (__u32 i = 0; i < 4 * NOSNAT_NEW_FLOW_ENTRIES; i++) {
		struct nosnat_flow_key k = { .src = htonl(0xc6130000u | (i & 0xffff)),
					     .dst = ip4(T_VIP), .sport = htons((uint16_t)(1 + (i >> 16))),
					     .dport = htons(25), .proto = IPPROTO_TCP };

		hs_place(sets, &k, &f);
	}
	hs_write_all(fd, sets);
	free(sets);
}

/* The same for the v6 handshake sets (clients 2001:db8:1913::/64). */
static void bench_hs6_fill(int fd)
{
	struct nosnat_hs6_set *sets = calloc(NOSNAT_HS6_SETS, sizeof(*sets));
	struct nosnat_flow f = { .backend_id = 1, .backend_addr = 1 };

	if (!sets)
		return;
	for (__u32 i = 0; i < 4 * NOSNAT_NEW_FLOW6_ENTRIES; i++) {
		struct nosnat_flow6_key k = { .dport = htons(25), .proto = IPPROTO_TCP };

		ip6("2001:db8:1913::", k.src);
		k.src[13] = (uint8_t)(i >> 16);
		k.src[14] = (uint8_t)(i >> 8);
		k.src[15] = (uint8_t)i;
		ip6("2001:db8::25", k.dst);
		k.sport = htons((uint16_t)(1 + (i & 0x7fff)));
		hs6_place(sets, &k, &f);
	}
	hs6_write_all(fd, sets);
	free(sets);
}

/* This load's cost of one head move by the harness (see bench_xdp_grow),
 * to take off the paths that change the frame's size. */
static double bench_head_move;

static void bench_prog(const char *name, int target, const uint8_t *pkt, size_t len, int vary,
		       int ifindex, int xdp, uint32_t repeat, int resized)
{
	double lo, hi, t, f, d, extra = resized ? bench_head_move : 0;

	if (!bench_wanted(name))
		return;
	if (len < BENCH_HDR) {	/* the harness would stop before the program */
		printf("  note  %s: a frame of %zu bytes, under the %d the harness restores: not measured\n",
		       name, len, BENCH_HDR);
		return;
	}
	d = bench_pairs(target, pkt, len, vary, ifindex, xdp, repeat, &lo, &hi, &t, &f);
	if (d < 0)
		return;
	bench_record(name, d - extra, lo - extra, t, f + extra);
	printf("  %-44s %7.1f ns  (harness %5.1f ns%s; pairs from %.0f to %.0f ns)\n", name,
	       d - extra, f + extra, resized ? " with its head move" : "", lo - extra, hi - extra);
}

/* Measured once per load, before the paths (also when profiling one). */
static void bench_measure_head_move(const uint8_t *pkt, size_t len, uint32_t repeat)
{
	double lo, hi, t, f, d;

	d = bench_pairs(bpf_program__fd(bskel->progs.bench_xdp_grow), pkt, len, 0, 1, 1, repeat,
			&lo, &hi, &t, &f);
	bench_head_move = d > 0 ? d / 2 : 0;
	fprintf(bout, "head_move\t%.1f\n", bench_head_move);
	printf("  harness head move (taken off resized paths): %.1f ns\n", bench_head_move);
}

static void bench_path(const char *name, const uint8_t *pkt, size_t len, int vary, int ifindex,
		       int xdp, uint32_t repeat)
{
	bench_prog(name, bpf_program__fd(xdp ? skel->progs.nosnat_xdp : skel->progs.nosnat_tc_egress),
		   pkt, len, vary, ifindex, xdp, repeat, 0);
}

/* tc ingress's own walk (--hook tc, or what XDP passed on): the row is
 * kept only if every round took the path, its verdict counted each time. */
static __u32 bench_tc_reason;	/* the reason tc's rows count (NONE; GUE for GUE's) */

static void bench_path_tc(const char *name, const uint8_t *pkt, size_t len, int vary,
			  int ifindex, uint32_t repeat, __u32 action)
{
	__u32 reason = action == NOSNAT_ACT_ENCAP || action == NOSNAT_ACT_DECAP ? bench_tc_reason
										  : NOSNAT_R_NONE;
	__u32 slot = nosnat_stat_slot(NOSNAT_HOOK_TC_INGRESS, action, reason);
	uint64_t before = counter(maps.stats, slot, 0, 2), moved, rounds;

	if (!bench_wanted(name))
		return;
	bench_fresh_skb = action == NOSNAT_ACT_ENCAP || action == NOSNAT_ACT_DECAP;
	rounds = bench_fresh_skb && repeat > BENCH_FRESH_ROUNDS ? BENCH_FRESH_ROUNDS : repeat;
	bench_prog(name, bpf_program__fd(skel->progs.nosnat_tc_ingress), pkt, len, vary, ifindex,
		   0, repeat, 0);
	bench_fresh_skb = 0;
	moved = counter(maps.stats, slot, 0, 2) - before;
	if (moved < rounds * BENCH_RUNS)
		printf("  note  %s: the path was taken %llu times of %llu: not its cost\n", name,
		       (unsigned long long)moved, (unsigned long long)(rounds * BENCH_RUNS));
}

/* A path whose frame leaves longer or shorter than it came (IPIP). */
static void bench_path_resized(const char *name, const uint8_t *pkt, size_t len, int vary,
			       int ifindex, uint32_t repeat)
{
	bench_prog(name, bpf_program__fd(skel->progs.nosnat_xdp), pkt, len, vary, ifindex, 1,
		   repeat, 1);
}

/* The reference lookups (bench.bpf.c), their maps filled from the frame so
 * that each hits: checked before it is timed. */

static void bench_refs(const uint8_t *pkt, size_t len, uint32_t repeat)
{
	const uint8_t *ip = pkt + 14, *ports = ip + 20;
	struct bench_ref_flow fk = {0};
	__u64 vk, one = 1;
	struct run r;

	memcpy(&fk.src, ip + 12, 4);
	memcpy(&fk.dst, ip + 16, 4);
	memcpy(&fk.sport, ports, 2);
	memcpy(&fk.dport, ports + 2, 2);
	fk.proto = ip[9];
	vk = ((__u64)fk.dst << 32) | ((__u32)fk.dport << 8) | ip[9];
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_ref_lru), &fk, &fk, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_ref_hash), &vk, &one, BPF_ANY);
	for (__u32 i = 1; i < 4096; i++) {	/* neighbours, as in a live table */
		struct bench_ref_flow o = fk;
		__u64 ov = vk + ((__u64)i << 32);

		o.src ^= htonl(i);
		bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_ref_lru), &o, &o, BPF_ANY);
		if (i < 64)
			bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_ref_hash), &ov, &one, BPF_ANY);
	}
	if (run_tc(bpf_program__fd(bskel->progs.bench_ref_lru_lookup), pkt, len, &r) ||
	    r.ret != XDP_PASS || run_tc(bpf_program__fd(bskel->progs.bench_ref_hash_lookup), pkt, len, &r) ||
	    r.ret != XDP_PASS) {
		fprintf(stderr, "bench: a reference lookup missed\n");
		return;
	}
	bench_prog("reference: one LRU hash lookup (flow key, hit)",
		   bpf_program__fd(bskel->progs.bench_ref_lru_lookup), pkt, len, 0, 1, 1, repeat, 0);
	bench_prog("reference: one hash lookup (VIP key, hit)",
		   bpf_program__fd(bskel->progs.bench_ref_hash_lookup), pkt, len, 0, 1, 1, repeat, 0);
}

/* The order of round r's runs: the r-th permutation of n (n! of them in
 * turn), so that no program always runs first or after the same one. With
 * more permutations than rounds, the rounds spread evenly over all n!: the
 * first 31 of 720 would all start with the same program. */
static void bench_order(int r, int n, int *order)
{
	int left[8], fact = 1, k;

	for (int i = 0; i < n; i++) {
		left[i] = i;
		fact *= i + 1;
	}
	k = fact > BENCH_RUNS ? (int)((long long)r * fact / BENCH_RUNS) : r % fact;
	for (int i = 0; i < n; i++) {
		int m = n - i, pick;

		fact /= m;
		pick = k / fact;
		k %= fact;
		order[i] = left[pick];
		for (int j = pick; j < m - 1; j++)
			left[j] = left[j + 1];
	}
}

/* nosnat against the minimal balancer and, where its sources were there,
 * Katran (katran_row >= 0), in turns: each of BENCH_RUNS rounds runs the
 * harness alone, nosnat's path, the balancer's and Katran's, on the same
 * frame and in an order that changes from round to round, so that all see
 * the same moment of this shared machine; the ratio of their costs is
 * taken per round and its median kept (with the median cost of each).
 * Katran's output frame is checked after each of its runs, its counters
 * after the row. with_versus: write the nosnat / minimal line (a row
 * measured again for a second LRU size of Katran's does not). model_fd < 0:
 * no minimal balancer in the turns (it has no IPv6), only nosnat and
 * Katran.
 *
 * Where this kernel gives XDP no metadata, nosnat's XDP passes a new flow
 * (and a repeated SYN) on to tc ingress, whose walk does the work: then
 * nosnat's figure is its XDP pass plus that walk, the tc harness (a fresh
 * skb each round) and its empty program run in the same turns; what the
 * stack spends building the skb between the two is in neither (the rows
 * say "xdp+tc"). */
#define BENCH_KATRAN_NONE (-1)
static int bench_versus(const char *name, int model_fd, const uint8_t *pkt, size_t len, int vary,
			uint32_t repeat, int resized, int with_versus, int katran_row,
			const char *katran_name)
{
	int harness = bpf_program__fd(bskel->progs.bench_xdp);
	int arr = bpf_map__fd(bskel->maps.bench_xdp_next);
	int kfd = katran_row != BENCH_KATRAN_NONE ? katran_prog_fd() : -1;
	int progs[4] = { bpf_program__fd(bskel->progs.bench_xdp_empty),
			 bpf_program__fd(skel->progs.nosnat_xdp), model_fd, kfd };
	int np = kfd >= 0 ? 4 : 3, tc_unit = -1, model = model_fd >= 0;
	int ht = bpf_program__fd(bskel->progs.bench_tc), tarr = bpf_map__fd(bskel->maps.bench_tc_next);
	int tempty = bpf_program__fd(bskel->progs.bench_tc_empty);
	int tnosnat = bpf_program__fd(skel->progs.nosnat_tc_ingress);
	__u32 slot = nosnat_stat_slot(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE);
	uint64_t tc_before = 0, tc_rounds = 0;
	double a[BENCH_RUNS], b[BENCH_RUNS], k[BENCH_RUNS], ab[BENCH_RUNS], ak[BENCH_RUNS];
	double bk[BENCH_RUNS], extra = resized ? bench_head_move : 0;
	uint64_t krounds = 0;
	__u32 zero = 0;
	__u64 round0 = 0;
	int n = 0, to_tc = 0;
	const char *path;

	if (!bench_wanted(katran_name ? katran_name : name) && !bench_wanted(name))
		return 0;
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_round), &zero, &round0, BPF_ANY);
	/* does nosnat's XDP pass this row's packet on to tc? */
	if (resized && test_mode != MODE_XDP_META &&
	    bench_run(harness, progs[1], arr, pkt, len, vary, dummy_ifindex, 1, 1) >= 0 &&
	    bench_ret == XDP_PASS) {
		to_tc = 1;
		tc_unit = np++;
		tc_before = counter(maps.stats, slot, 0, 2);
	}
	if (kfd >= 0)
		katran_row_begin();
	for (int r = 0; r < BENCH_RUNS; r++) {
		double t[5] = { -1, -1, -1, -1, -1 }, f, tc = 0;
		int order[5];

		bench_order(r, np, order);
		for (int i = 0; i < np; i++) {
			int p = order[i];

			if (p == tc_unit) {	/* nosnat's tc walk, against the tc harness alone */
				double te, tn;

				bench_fresh_skb = 1;
				te = bench_run_fresh(ht, tempty, tarr, pkt, len, vary, dummy_ifindex, repeat);
				tn = bench_run_fresh(ht, tnosnat, tarr, pkt, len, vary, dummy_ifindex, repeat);
				bench_fresh_skb = 0;
				tc_rounds += repeat < BENCH_FRESH_ROUNDS ? repeat : BENCH_FRESH_ROUNDS;
				t[p] = te < 0 || tn < 0 ? -1 : 0;
				tc = tn - te;
				continue;
			}
			if (p == 2 && !model)
				continue;
			t[p] = bench_run(harness, progs[p], arr, pkt, len, vary, dummy_ifindex, 1, repeat);
			if (p == 1 && t[p] >= 0 && resized && to_tc != (bench_ret == XDP_PASS)) {
				fprintf(stderr, "bench: FAIL %s: nosnat's XDP verdict %u changed within the row\n",
					name, bench_ret);
				return -1;
			}
			if (p != 3 || t[p] < 0)
				continue;
			krounds += repeat;
			if (!katran_out_ok((enum katran_row)katran_row, pkt, len, bench_out, bench_out_len,
					   bench_ret, vary)) {
				fprintf(stderr, "bench: FAIL Katran, %s: its output frame (verdict %u, %u bytes) "
					"is not the row's\n", katran_name, bench_ret, bench_out_len);
				return -1;
			}
		}
		f = t[0];
		if (f < 0 || t[1] < 0 || (model && (t[2] < 0 || t[2] - f - extra <= 0)) ||
		    (kfd >= 0 && (t[3] < 0 || t[3] - f - extra <= 0)) || (to_tc && t[tc_unit] < 0))
			continue;
		/* nosnat's XDP pass leaves the frame's size alone: no head move */
		a[n] = to_tc ? t[1] - f + tc : t[1] - f - extra;
		b[n] = model ? t[2] - f - extra : 0;
		ab[n] = model ? a[n] / b[n] : 0;
		if (kfd >= 0) {
			k[n] = t[3] - f - extra;
			ak[n] = a[n] / k[n];
			bk[n] = b[n] / k[n];
		}
		n++;
	}
	if (kfd >= 0 && katran_row_check((enum katran_row)katran_row, katran_name, krounds))
		return -1;
	if (to_tc && counter(maps.stats, slot, 0, 2) - tc_before < tc_rounds) {
		fprintf(stderr, "bench: FAIL %s: nosnat's tc walk encapsulated %llu of %llu packets\n",
			name, (unsigned long long)(counter(maps.stats, slot, 0, 2) - tc_before),
			(unsigned long long)tc_rounds);
		return -1;
	}
	if (!n)
		return 0;
	/* the last column: where nosnat did the row's work */
	path = to_tc ? "xdp+tc" : "xdp";
	if (to_tc)
		printf("  note  %s: nosnat's XDP passes it to tc (no XDP metadata on this kernel): "
		       "nosnat's figure is that pass plus tc's walk\n", name);
	if (with_versus && model) {
		fprintf(bout, "versus\t%s\t%.1f\t%.1f\t%.3f\t%s\n", name, median(a, n), median(b, n),
			median(ab, n), path);
		printf("  versus: %-36s nosnat %7.1f ns, minimal %7.1f ns, ratio %.2f\n", name,
		       median(a, n), median(b, n), median(ab, n));
	}
	if (kfd >= 0 && model) {
		fprintf(bout, "katran\t%s\t%.1f\t%.1f\t%.3f\t%.1f\t%.3f\t%u\t%s\n", katran_name,
			median(a, n), median(k, n), median(ak, n), median(b, n), median(bk, n),
			katran_lru_entries(), path);
		printf("  katran: %-46s nosnat %7.1f ns, Katran %7.1f ns, ratio %.2f "
		       "(minimal / Katran %.2f)\n", katran_name, median(a, n), median(k, n),
		       median(ak, n), median(bk, n));
	} else if (kfd >= 0) {	/* no minimal balancer: "-" in its columns */
		fprintf(bout, "katran\t%s\t%.1f\t%.1f\t%.3f\t-\t-\t%u\t%s\n", katran_name,
			median(a, n), median(k, n), median(ak, n), katran_lru_entries(), path);
		printf("  katran: %-46s nosnat %7.1f ns, Katran %7.1f ns, ratio %.2f\n", katran_name,
		       median(a, n), median(k, n), median(ak, n));
	}
	return 0;
}

/* Katran's per-CPU LRU sizes: nosnat's new-flow table's, its flow table's */
#define KATRAN_LRU_SMALL NOSNAT_NEW_FLOW_ENTRIES
#define KATRAN_LRU_LARGE NOSNAT_FLOW_ENTRIES

/* New flows one packet per test run, against Katran in the same way.
 * tc cannot run nosnat's walk again on the skb it encapsulated (above), so
 * tc's own new flow for a pod elsewhere is timed one skb per test run, a
 * syscall apart: the program starts with cold caches each time. Set
 * against Katran's XDP in a hot loop that would compare two conditions,
 * not two programs; here every program gets one fresh packet per run, in
 * turns, min(repeat, BENCH_FRESH_ROUNDS) runs each per round: the XDP
 * harness alone, nosnat's XDP (where XDP itself sends a new flow on), the
 * minimal balancer and Katran (its output frame checked after each run),
 * then the tc harness alone and nosnat's tc walk. Katran's LRU is at the
 * new-flow table's size; every table is full and evicting before the
 * first timed run, and both programs' counters are checked after the row
 * against the runs each made. */
#define BENCH_COLD_NAME "new flow (SYN), IPIP, one packet per test run"
static int bench_cold_new_flow(int model_fd, const uint8_t *pkt, size_t len, uint32_t repeat)
{
	enum { X_EMPTY, X_NOSNAT, X_MODEL, X_KATRAN, T_EMPTY, T_NOSNAT, UNITS };
	int hx = bpf_program__fd(bskel->progs.bench_xdp), xarr = bpf_map__fd(bskel->maps.bench_xdp_next);
	int ht = bpf_program__fd(bskel->progs.bench_tc), tarr = bpf_map__fd(bskel->maps.bench_tc_next);
	int fds[UNITS] = { bpf_program__fd(bskel->progs.bench_xdp_empty),
			   bpf_program__fd(skel->progs.nosnat_xdp), model_fd, katran_prog_fd(),
			   bpf_program__fd(bskel->progs.bench_tc_empty),
			   bpf_program__fd(skel->progs.nosnat_tc_ingress) };
	__u32 slot = nosnat_stat_slot(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE);
	uint32_t runs = repeat < BENCH_FRESH_ROUNDS ? repeat : BENCH_FRESH_ROUNDS;
	double x[BENCH_RUNS], tcv[BENCH_RUNS], k[BENCH_RUNS], m[BENCH_RUNS];
	double xk[BENCH_RUNS], tk[BENCH_RUNS], mk[BENCH_RUNS];
	uint64_t tc_before, krounds = 0, trounds = 0, moved;
	int n = 0, with_xdp, units[UNITS], nu = 0;
	__u32 zero = 0;
	__u64 round0 = 0;
	char kname[128], tname[128];

	snprintf(kname, sizeof(kname), BENCH_COLD_NAME ", Katran LRU %u/CPU", KATRAN_LRU_SMALL);
	snprintf(tname, sizeof(tname), BENCH_COLD_NAME ", tc, Katran LRU %u/CPU", KATRAN_LRU_SMALL);
	if (!bench_wanted(kname) && !bench_wanted(tname))
		return 0;
	if (katran_set_lru(KATRAN_LRU_SMALL))
		return -1;
	bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
	bench_hs_fill(maps.flows_new);
	bench_lru_scramble(bpf_map__fd(bskel->maps.bench_model_flows), sizeof(__u32));
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_round), &zero, &round0, BPF_ANY);
	/* Katran's and the minimal balancer's LRUs full (nosnat's handshake
	 * sets are, by bench_hs_fill): every timed flow evicts another */
	if (bench_run(hx, fds[X_KATRAN], xarr, pkt, len, 1, dummy_ifindex, 1, 2 * KATRAN_LRU_SMALL) < 0 ||
	    bench_run(hx, fds[X_MODEL], xarr, pkt, len, 1, dummy_ifindex, 1, 2 * NOSNAT_FLOW_ENTRIES) < 0 ||
	    bench_run(hx, fds[X_NOSNAT], xarr, pkt, len, 1, dummy_ifindex, 1, 1) < 0)
		return -1;
	/* nosnat's XDP in the row where it sends the new flow on itself (else
	 * it passes it to tc, whose walk is the tc unit) */
	with_xdp = bench_ret == XDP_TX;
	if (!with_xdp)
		printf("  note  %s: nosnat's XDP passes a new flow to tc (verdict %u): tc's walk alone\n",
		       kname, bench_ret);
	for (int u = 0; u < UNITS; u++)
		if (u != X_NOSNAT || with_xdp)
			units[nu++] = u;
	katran_row_begin();
	tc_before = counter(maps.stats, slot, 0, 2);
	for (int r = 0; r < BENCH_RUNS; r++) {
		double t[UNITS] = { 0 };
		int order[UNITS], ok = 1;

		bench_order(r, nu, order);
		for (int i = 0; i < nu && ok; i++) {
			int u = units[order[i]], tc = u >= T_EMPTY;
			double sum = 0;

			for (uint32_t j = 0; j < runs; j++) {
				double d = bench_run(tc ? ht : hx, fds[u], tc ? tarr : xarr, pkt, len, 1,
						     dummy_ifindex, !tc, 1);

				if (d < 0) {
					ok = 0;
					break;
				}
				sum += d;
				if (u == X_KATRAN) {
					krounds++;
					if (!katran_out_ok(KATRAN_NEW_FLOW, pkt, len, bench_out, bench_out_len,
							   bench_ret, 1)) {
						fprintf(stderr, "bench: FAIL Katran, %s: its output frame (verdict "
							"%u, %u bytes) is not the row's\n", kname, bench_ret,
							bench_out_len);
						return -1;
					}
				} else if (u == T_NOSNAT) {
					trounds++;
				} else if (u == X_NOSNAT && bench_ret != XDP_TX) {
					fprintf(stderr, "bench: FAIL %s: nosnat's XDP verdict %u changed within "
						"the row\n", kname, bench_ret);
					return -1;
				}
			}
			t[u] = sum / runs;
		}
		if (!ok)
			continue;
		x[n] = t[X_NOSNAT] - t[X_EMPTY];
		m[n] = t[X_MODEL] - t[X_EMPTY];
		k[n] = t[X_KATRAN] - t[X_EMPTY];
		tcv[n] = t[T_NOSNAT] - t[T_EMPTY];
		if ((with_xdp && x[n] <= 0) || m[n] <= 0 || k[n] <= 0 || tcv[n] <= 0)
			continue;
		xk[n] = x[n] / k[n];
		mk[n] = m[n] / k[n];
		tk[n] = tcv[n] / k[n];
		n++;
	}
	if (katran_row_check(KATRAN_NEW_FLOW, kname, krounds))
		return -1;
	moved = counter(maps.stats, slot, 0, 2) - tc_before;
	if (moved != trounds) {
		fprintf(stderr, "bench: FAIL %s: nosnat's tc walk encapsulated %llu of %llu packets\n",
			tname, (unsigned long long)moved, (unsigned long long)trounds);
		return -1;
	}
	if (!n)
		return 0;
	if (with_xdp) {
		fprintf(bout, "katran\t%s\t%.1f\t%.1f\t%.3f\t%.1f\t%.3f\t%u\t%s\n", kname, median(x, n),
			median(k, n), median(xk, n), median(m, n), median(mk, n), KATRAN_LRU_SMALL,
			"xdp");
		printf("  katran: %-46s nosnat %7.1f ns, Katran %7.1f ns, ratio %.2f\n", kname,
		       median(x, n), median(k, n), median(xk, n));
	}
	fprintf(bout, "katran\t%s\t%.1f\t%.1f\t%.3f\t%.1f\t%.3f\t%u\t%s\n", tname, median(tcv, n),
		median(k, n), median(tk, n), median(m, n), median(mk, n), KATRAN_LRU_SMALL, "tc");
	printf("  katran: %-46s nosnat %7.1f ns, Katran %7.1f ns, ratio %.2f\n", tname, median(tcv, n),
	       median(k, n), median(tk, n));
	return 0;
}

/* The minimal IPIP balancer (bench.bpf.c), its maps filled as nosnat's are
 * for the encapsulated rows: one VIP, its backends on another node, the
 * established frame's flow recorded. Checked before it is timed: both
 * frames leave by XDP_TX, in IPIP to that node. */

static int model_check(int fd, const uint8_t *pkt, size_t len, __be32 node)
{
	struct run r;
	__be32 daddr;

	if (run_tc(fd, pkt, len, &r) || r.ret != XDP_TX || r.len != len + 20)
		return -1;
	memcpy(&daddr, r.pkt + 14 + 16, 4);
	return r.pkt[14 + 9] == IPPROTO_IPIP && daddr == node ? 0 : -1;
}

static int bench_katran_info;

/* Katran's object, if any (and if katran.c is linked in: a tree that only
 * borrows bench.c, as scripts/bench_compare.sh's earlier one, has none). */
static const char *bench_katran_obj(void)
{
	return katran_obj_path ? katran_obj_path() : NULL;
}

static int bench_model(const uint8_t *other, size_t other_len, const uint8_t *syn, size_t syn_len,
			const uint8_t *ack, size_t ack_len, const uint8_t *rsyn, size_t rsyn_len,
			uint32_t repeat)
{
	enum { RING = 65537, BACKENDS = 64, IN_USE = 10 };
	static __u32 keys[RING], vals[RING];
	struct model_vip_key vk = { .proto = IPPROTO_TCP };
	struct bench_ref_flow fk = { .proto = IPPROTO_TCP };
	struct { uint8_t dst[6], src[6]; } macs = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
	__be32 node = ip4(T_NODE_B);
	__u32 zero = 0, num = 7, backend = 3, count = RING;
	const char *kt;
	int fd = bpf_program__fd(bskel->progs.bench_model_ipip);

	memcpy(&vk.addr, ack + 14 + 16, 4);
	memcpy(&vk.port, ack + 14 + 20 + 2, 2);
	memcpy(&fk.src, ack + 14 + 12, 4);
	memcpy(&fk.dst, ack + 14 + 16, 4);
	memcpy(&fk.sport, ack + 14 + 20, 2);
	memcpy(&fk.dport, ack + 14 + 22, 2);
	for (__u32 i = 0; i < RING; i++) {
		keys[i] = i;
		vals[i] = i % IN_USE;
	}
	if (bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_model_vips), &vk, &num, BPF_ANY) ||
	    bpf_map_update_batch(bpf_map__fd(bskel->maps.bench_model_ring), keys, vals, &count, NULL) ||
	    bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_model_macs), &zero, &macs, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_model_flows), &fk, &backend, BPF_ANY)) {
		fprintf(stderr, "bench: model maps: %s\n", strerror(errno));
		return -1;
	}
	for (__u32 i = 0; i < BACKENDS; i++)
		bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_model_backends), &i, &node, BPF_ANY);
	if (model_check(fd, ack, ack_len, node) || model_check(fd, syn, syn_len, node)) {
		fprintf(stderr, "bench: the minimal balancer did not encapsulate\n");
		return -1;
	}
	{
		struct run r;

		if (run_tc(fd, other, other_len, &r) || r.ret != XDP_PASS || r.len != other_len ||
		    memcmp(r.pkt, other, other_len)) {
			fprintf(stderr, "bench: the minimal balancer changed a non-VIP packet\n");
			return -1;
		}
	}
	bench_prog("reference: minimal IPIP balancer, non-VIP packet", fd, other, other_len, 0, 1, 1,
		   repeat, 0);
	bench_prog("reference: minimal IPIP balancer, established flow", fd, ack, ack_len, 0, 1, 1,
		   repeat, 1);
	bench_prog("reference: minimal IPIP balancer, SYN, one 5-tuple again", fd, syn, syn_len, 0, 1,
		   1, repeat, 1);
	if (bench_wanted("reference: minimal IPIP balancer, new flow (SYN)"))
		bench_lru_scramble(bpf_map__fd(bskel->maps.bench_model_flows), sizeof(__u32));
	bench_prog("reference: minimal IPIP balancer, new flow (SYN)", fd, syn, syn_len, 1, 1, 1,
		   repeat, 1);

	/* Katran, where scripts/katran_build.sh built it: a fresh load with
	 * each of nosnat's, its frames checked before any row */
	kt = bench_katran_obj();
	if (kt && katran_load(kt, node, NULL, macs.dst, other, other_len, ack, ack_len, syn, syn_len, rsyn,
			      rsyn_len, KATRAN_LRU_SMALL)) {
		fprintf(stderr, "bench: FAIL Katran (%s) could not be measured\n", kt);
		return -1;
	}
	if (kt && !bench_katran_info) {
		katran_write_info(bout, kt);
		bench_katran_info = 1;
	}

	printf("nosnat (pod on another node) against the minimal balancer%s, in turns:\n",
	       kt ? " and Katran" : "");
	if (bench_versus("non-VIP packet", fd, other, other_len, 0, repeat, 0, 1, kt ? KATRAN_NON_VIP :
			 BENCH_KATRAN_NONE, "non-VIP packet") ||
	    bench_versus("established flow, IPIP", fd, ack, ack_len, 0, repeat, 1, 1,
			 kt ? KATRAN_ESTABLISHED : BENCH_KATRAN_NONE, "established flow, IPIP") ||
	    bench_versus("SYN, one 5-tuple again, IPIP", fd, rsyn, rsyn_len, 0, repeat, 1, 1,
			 kt ? KATRAN_SYN_AGAIN : BENCH_KATRAN_NONE, "SYN, one 5-tuple again, IPIP"))
		goto fail;
	/* new flows: Katran's per-CPU LRU at nosnat's new-flow table's size,
	 * then at its flow table's; every table scrambled before each row */
	for (int i = 0; i < (kt ? 2 : 1); i++) {
		static const __u32 lru[2] = { KATRAN_LRU_SMALL, KATRAN_LRU_LARGE };
		char kname[96];

		snprintf(kname, sizeof(kname), "new flow (SYN), IPIP, Katran LRU %u/CPU", lru[i]);
		if (!bench_wanted("new flow (SYN), IPIP") && !bench_wanted(kname))
			continue;
		bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
		bench_hs_fill(maps.flows_new);
		bench_lru_scramble(bpf_map__fd(bskel->maps.bench_model_flows), sizeof(__u32));
		if (kt && katran_set_lru(lru[i]))
			goto fail;
		if (bench_versus("new flow (SYN), IPIP", fd, syn, syn_len, 1, repeat, 1, i == 0,
				 kt ? KATRAN_NEW_FLOW : BENCH_KATRAN_NONE, kname))
			goto fail;
	}
	/* the same new flows, one packet per test run (tc's own among them),
	 * against Katran at the new-flow table's size */
	if (kt && bench_cold_new_flow(fd, syn, syn_len, repeat))
		goto fail;
	if (kt)
		katran_unload();
	return 0;
fail:
	if (kt)
		katran_unload();
	return -1;
}

static void prog_sizes(void)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		fprintf(bout, "prog\t%s\t%u\t%u\t%u\n", bpf_program__name(p), info.xlated_prog_len / 8,
			info.jited_prog_len, info.verified_insns);
		printf("  %-20s %6u instructions, %6u bytes JITed, %7u verified\n", bpf_program__name(p),
		       info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns);
	}
}

static size_t bench_frame_for(uint8_t *buf, const char *src, const char *dst, uint16_t sport,
			      uint16_t dport, uint8_t flags)
{
	static uint8_t payload[80];
	struct ip_spec ip = ipv4(src, dst);
	struct l4_spec l = tcp(sport, dport, flags);

	l.payload = payload;
	l.payload_len = sizeof(payload);	/* frames cover the 128 restored bytes */
	return frame(buf, &ip, &l, 0);
}

/* Make the TCP flow of frame pkt (TCP header at tcp_off) established as a
 * client's handshake does: its SYN, then the frame itself (the ACK moves
 * the flow from the new-flow table to the flow table). Rows that measure
 * established flows start from here: an ACK alone is not recorded on the
 * pod's node unless its conntrack entry proves it. */
static void bench_establish(const uint8_t *pkt, size_t len, size_t tcp_off, int ifindex)
{
	uint8_t syn[512];
	struct run r;

	if (len > sizeof(syn) || tcp_off + 14 > len)
		return;
	memcpy(syn, pkt, len);
	syn[tcp_off + 13] = TH_SYN;
	run_xdp(syn, len, ifindex, &r);
	run_xdp(pkt, len, ifindex, &r);
}

/* The same for IPv6 (2001:db8:c::/48 clients); what vary changes falls in
 * the client's address. */
static size_t bench_frame6(uint8_t *buf, const char *src, const char *dst, uint16_t sport,
			   uint16_t dport, uint8_t flags)
{
	static uint8_t payload[80];
	struct ip6_spec ip = { .hlim = 63 };
	struct l4_spec l = tcp(sport, dport, flags);
	uint8_t l3[512];

	ip6(src, ip.saddr);
	ip6(dst, ip.daddr);
	l.payload = payload;
	l.payload_len = sizeof(payload);
	return build_eth(buf, MAC_SELF, MAC_ROUTER, 0, 0x86dd, l3, build_ip6(l3, &ip, &l));
}

/* A v6 flow established: its SYN, then the frame, through tc's walk (XDP
 * passes v6 on). */
static void bench_establish6(const uint8_t *pkt, size_t len, int ifindex)
{
	uint8_t syn[512];
	struct run r;

	if (len > sizeof(syn))
		return;
	memcpy(syn, pkt, len);
	syn[14 + 40 + 13] = TH_SYN;
	run_tc_walk(syn, len, ifindex, &r);
	run_tc_walk(pkt, len, ifindex, &r);
}

/* The IPv6 rows: XDP's pass of a v6 packet, and tc's v6 walk. */
/* A v6 row of XDP's own walk, sending to node B: kept only if XDP took
 * that path every round. */
static void bench_path_xdp6(const char *name, const uint8_t *pkt, size_t n, int vary,
			    uint32_t repeat)
{
	__u32 slot = nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE);
	uint64_t before = counter(maps.stats, slot, 0, 2), moved;

	if (!bench_wanted(name))
		return;
	bench_path_resized(name, pkt, n, vary, dummy_ifindex, repeat);
	moved = counter(maps.stats, slot, 0, 2) - before;
	if (moved < (uint64_t)repeat * BENCH_RUNS)
		printf("  note  %s: the path was taken %llu times of %llu: not its cost\n", name,
		       (unsigned long long)moved, (unsigned long long)repeat * BENCH_RUNS);
}

static void bench_paths6(uint32_t repeat)
{
	uint8_t pkt[512];
	size_t n;

	cfg_reset();
	v6_vip("2001:db8::25", 25, IPPROTO_TCP, "2001:db8:18:1::2", 2525, T_NODE_SELF);
	v6_vip("2001:db8::26", 25, IPPROTO_TCP, "2001:db8:18:2::2", 2525, T_NODE_B);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::99", 40000, 25, TH_ACK);
	bench_path("xdp: non-VIP v6 packet (pass)", pkt, n, 0, 1, 1, repeat);
	bench_path_tc("tc: non-VIP v6 packet (pass)", pkt, n, 0, 1, repeat, NOSNAT_ACT_PASS);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::25", 40001, 25, TH_SYN);
	if (bench_wanted("tc: v6 VIP SYN, new flow, local pod")) {
		bench_lru_scramble6(maps.flows6);
		bench_hs6_fill(maps.flow6_new);
	}
	bench_path_tc("tc: v6 VIP SYN, new flow, local pod", pkt, n, 1, 1, repeat, NOSNAT_ACT_LOCAL);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::25", 40002, 25, TH_ACK);
	bench_establish6(pkt, n, 1);
	bench_path_tc("tc: v6 VIP established flow, local pod", pkt, n, 0, 1, repeat, NOSNAT_ACT_LOCAL);
	n = bench_frame6(pkt, "2001:db8:18:1::2", "2001:db8:c::2", 2525, 40002, TH_ACK);
	bench_path("tc egress: v6 reply NAT", pkt, n, 0, 1, 0, repeat);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::26", 40003, 25, TH_SYN);
	if (bench_wanted("tc: v6 VIP SYN, new flow, 6in4"))
		bench_hs6_fill(maps.flow6_new);
	bench_path_tc("tc: v6 VIP SYN, new flow, 6in4", pkt, n, 1, dummy_ifindex, repeat,
		      NOSNAT_ACT_ENCAP);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::26", 40004, 25, TH_ACK);
	bench_establish6(pkt, n, dummy_ifindex);
	bench_path_tc("tc: v6 VIP established flow, 6in4", pkt, n, 0, dummy_ifindex, repeat,
		      NOSNAT_ACT_ENCAP);
	/* XDP's v6 walk (a tail call away) sends it itself */
	bench_path_xdp6("xdp: v6 VIP established flow, 6in4", pkt, n, 0, repeat);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::26", 40005, 25, TH_SYN);
	if (bench_wanted("xdp: v6 VIP SYN, new flow, 6in4"))
		bench_hs6_fill(maps.flow6_new);
	bench_path_xdp6("xdp: v6 VIP SYN, new flow, 6in4", pkt, n, 1, repeat);
	/* a pod on a node known by its v6 address: ip6ip6 */
	if (!(bench_wanted("xdp: v6 VIP established flow, ip6ip6") ||
	      bench_wanted("xdp: v6 VIP SYN, new flow, ip6ip6")) || node6_setup() ||
	    v6_vip_on6("2001:db8::27", 25, "2001:db8:18:3::2", 2525, T6_NODE_B))
		return;
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::27", 40006, 25, TH_ACK);
	bench_establish6(pkt, n, dummy_ifindex);
	bench_path_xdp6("xdp: v6 VIP established flow, ip6ip6", pkt, n, 0, repeat);
	n = bench_frame6(pkt, "2001:db8:c::2", "2001:db8::27", 40007, 25, TH_SYN);
	if (bench_wanted("xdp: v6 VIP SYN, new flow, ip6ip6"))
		bench_hs6_fill(maps.flow6_new);
	bench_path_xdp6("xdp: v6 VIP SYN, new flow, ip6ip6", pkt, n, 1, repeat);
}

/* nosnat's v6 frame for a pod on node B known by its v6 address: ip6ip6
 * (next header 41) to T6_NODE_B, 40 bytes more, the inner IPv6 header and
 * TCP's first 16 bytes as sent (a SYN's MSS is clamped: its option and
 * sum change); sent by XDP itself or by tc's walk where XDP passes it on. */
static int nosnat_ip6ip6_ok(const uint8_t *pkt, size_t len)
{
	struct run r;
	uint8_t node[16];
	int ok;

	ip6(T6_NODE_B, node);
	if (run_xdp_only(pkt, len, dummy_ifindex, &r))
		return 0;
	if (r.ret == XDP_PASS && run_tc_walk(pkt, len, dummy_ifindex, &r))
		return 0;
	ok = r.len == len + 40 && r.pkt[12] == 0x86 && r.pkt[13] == 0xdd && r.pkt[14 + 6] == 41 &&
	     !memcmp(r.pkt + 14 + 24, node, 16) && !memcmp(r.pkt + 14 + 40, pkt + 14, 40 + 16);
	if (!ok)
		fprintf(stderr, "bench: nosnat's v6 frame did not leave in ip6ip6 to node B (verdict %u, "
			"%u bytes)\n", r.ret, r.len);
	return ok;
}

/* IPv6 against Katran, alike: a v6 VIP whose backends are on a node known
 * by its v6 address, so that both send ip6ip6 (Katran: reals flagged
 * F_IPV6; nosnat: the node by v6 address). The rows of the v4 table, in
 * the same turns less the minimal balancer (it has no IPv6). Only where
 * Katran was built: nosnat's own v6 paths are in the per-packet table. */
static int bench_katran6(uint32_t repeat)
{
	static const uint8_t gw[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t other[512], ack[512], syn[512], rsyn[512], node[16];
	size_t other_n, ack_n, syn_n, rsyn_n;
	const char *kt = bench_katran_obj();
	struct nosnat_cfg cfg;
	__u32 zero = 0;

	if (!kt)
		return 0;
	{	/* any of its rows wanted (NOSNAT_BENCH_PATH) */
		static const char *const rows[] = {
			"v6: non-VIP packet", "v6: established flow, ip6ip6",
			"v6: SYN, one 5-tuple again, ip6ip6",
			"v6: new flow (SYN), ip6ip6, Katran LRU 65536/CPU",
			"v6: new flow (SYN), ip6ip6, Katran LRU 262144/CPU",
		};
		int any = 0;

		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			any |= bench_wanted(rows[i]);
		if (!any)
			return 0;
	}
	cfg_reset();
	if (!bpf_map_lookup_elem(maps.cfg, &zero, &cfg)) {	/* as the v4 rows */
		cfg.new_flow_limit = 100000000;
		bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY);
	}
	if (node6_setup() || v6_vip_on6("2001:db8::26", 25, "2001:db8:18:2::2", 2525, T6_NODE_B)) {
		fprintf(stderr, "bench: v6 nodes for the Katran rows\n");
		return -1;
	}
	other_n = bench_frame6(other, "2001:db8:c::2", "2001:db8::99", 40000, 25, TH_ACK);
	ack_n = bench_frame6(ack, "2001:db8:c::2", "2001:db8::26", 40020, 25, TH_ACK);
	syn_n = bench_frame6(syn, "2001:db8:c::2", "2001:db8::26", 40021, 25, TH_SYN);
	rsyn_n = bench_frame6(rsyn, "2001:db8:c::2", "2001:db8::26", 40022, 25, TH_SYN);
	bench_establish6(ack, ack_n, dummy_ifindex);
	if (!nosnat_ip6ip6_ok(ack, ack_n) || !nosnat_ip6ip6_ok(rsyn, rsyn_n) ||
	    !nosnat_ip6ip6_ok(syn, syn_n))
		return -1;
	ip6(T6_NODE_B, node);
	if (katran_load(kt, 0, node, gw, other, other_n, ack, ack_n, syn, syn_n, rsyn, rsyn_n,
			KATRAN_LRU_SMALL)) {
		fprintf(stderr, "bench: FAIL Katran (%s) could not be measured with IPv6\n", kt);
		return -1;
	}
	printf("nosnat (v6, pod on a node known by its v6 address) against Katran, in turns:\n");
	if (bench_versus("v6: non-VIP packet", -1, other, other_n, 0, repeat, 0, 0, KATRAN_NON_VIP,
			 "v6: non-VIP packet") ||
	    bench_versus("v6: established flow, ip6ip6", -1, ack, ack_n, 0, repeat, 1, 0,
			 KATRAN_ESTABLISHED, "v6: established flow, ip6ip6") ||
	    bench_versus("v6: SYN, one 5-tuple again, ip6ip6", -1, rsyn, rsyn_n, 0, repeat, 1, 0,
			 KATRAN_SYN_AGAIN, "v6: SYN, one 5-tuple again, ip6ip6"))
		goto fail;
	for (int i = 0; i < 2; i++) {
		static const __u32 lru[2] = { KATRAN_LRU_SMALL, KATRAN_LRU_LARGE };
		char kname[96];

		snprintf(kname, sizeof(kname), "v6: new flow (SYN), ip6ip6, Katran LRU %u/CPU", lru[i]);
		if (!bench_wanted(kname))
			continue;
		bench_lru_scramble6(maps.flows6);
		bench_hs6_fill(maps.flow6_new);
		if (katran_set_lru(lru[i]) ||
		    bench_versus(kname, -1, syn, syn_n, 1, repeat, 1, 0, KATRAN_NEW_FLOW, kname))
			goto fail;
	}
	katran_unload();
	return 0;
fail:
	katran_unload();
	return -1;
}

static int bench_paths(uint32_t repeat)
{
	uint8_t pkt[512], inner[512], outer[512], syn[512], other[512], rsyn[512];
	struct ip_spec ip;
	struct l4_spec l;
	size_t n, in_n, out_n, syn_n, other_n, rsyn_n;

	printf("per-packet cost, BPF_PROG_TEST_RUN, %u rounds, median of %d paired runs (harness subtracted):\n",
	       repeat, BENCH_RUNS);
	cfg_reset();
	mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF);
	n = bench_frame_for(pkt, T_CLIENT, T_OTHER, 40000, 25, TH_ACK);
	bench_measure_head_move(pkt, n, repeat);
	bench_path("xdp: non-VIP packet (pass)", pkt, n, 0, 1, 1, repeat);
	{	/* UDP is asked whether it is GUE to this node as well */
		struct ip_spec uip = ipv4(T_CLIENT, T_OTHER);
		static const uint8_t query[100];	/* the frame as long as the harness restores */
		struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40000, .dport = 53,
				     .payload = query, .payload_len = sizeof(query) };
		uint8_t upkt[256];
		size_t un = frame(upkt, &uip, &u, 0);

		bench_path("xdp: non-VIP UDP packet (pass)", upkt, un, 0, 1, 1, repeat);
	}
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40001, 25, TH_SYN);
	if (bench_wanted("xdp: VIP SYN, new flow, local pod")) {
		bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
		bench_hs_fill(maps.flows_new);
	}
	bench_path("xdp: VIP SYN, new flow, local pod", pkt, n, 1, 1, 1, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40002, 25, TH_ACK);
	bench_establish(pkt, n, 34, 1);
	bench_path("xdp: VIP established flow, local pod", pkt, n, 0, 1, 1, repeat);
	{	/* what XDP leaves the tc twin for that packet: the rewrite */
		struct nosnat_meta m = { .magic = NOSNAT_META_LOCAL, .vip = ip4(T_VIP),
					 .pod = ip4(T_POD_LOCAL), .vip_port = htons(25),
					 .pod_port = htons(2525), .proto = IPPROTO_TCP,
					 .action = NOSNAT_ACT_LOCAL };

		bench_prog("tc ingress: the twin's rewrite for a local pod", twin_prog(&m), pkt, n,
			   0, 1, 0, repeat, 0);
	}
	bench_path_tc("tc: VIP established flow, local pod", pkt, n, 0, 1, repeat, NOSNAT_ACT_LOCAL);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40007, 25, TH_SYN);
	bench_path("xdp: VIP SYN, one 5-tuple again, local pod", pkt, n, 0, 1, 1, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_OTHER, 40000, 25, TH_ACK);
	bench_path_tc("tc: non-VIP packet (pass)", pkt, n, 0, 1, repeat, NOSNAT_ACT_PASS);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40010, 25, TH_SYN);
	bench_path_tc("tc: VIP SYN, new flow, local pod", pkt, n, 1, 1, repeat, NOSNAT_ACT_LOCAL);
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40003, 25, TH_ACK);
	{
		static uint8_t payload[60];

		l.payload = payload;
		l.payload_len = sizeof(payload);
	}
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), 0, 0, 0x4000, inner, in_n);
	n = build_eth(pkt, MAC_SELF, MAC_B, 0, 0x0800, outer, out_n);
	bench_establish(pkt, n, 54, 1);
	bench_path_resized("xdp: IPIP from a node, decap + DNAT", pkt, n, 0, 1, repeat);
	bench_path_tc("tc: IPIP from a node, decap + DNAT", pkt, n, 0, 1, repeat, NOSNAT_ACT_DECAP);
	n = bench_frame_for(pkt, T_POD_LOCAL, T_CLIENT, 2525, 40002, TH_ACK);
	bench_path("tc egress: reply NAT", pkt, n, 0, 1, 0, repeat);
	n = bench_frame_for(pkt, T_POD_LOCAL, T_CLIENT2, 2525, 40002, TH_ACK);
	bench_path("tc egress: a pod, no VIP flow (pass)", pkt, n, 0, 1, 0, repeat);
	n = bench_frame_for(pkt, T_NODE_SELF, T_CLIENT2, 40003, 443, TH_ACK);
	bench_path("tc egress: not from a pod (pass)", pkt, n, 0, 1, 0, repeat);

	bench_paths6(repeat);

	cfg_reset();
	{	/* the new-flow limit checked on every SYN, as by default, but
		 * never reached: the rows measure recording new flows */
		struct nosnat_cfg cfg;
		__u32 zero = 0;

		if (!bpf_map_lookup_elem(maps.cfg, &zero, &cfg)) {
			cfg.new_flow_limit = 100000000;
			bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY);
		}
	}
	mail_vip(T_POD_B, 2525, T_NODE_B);
	syn_n = bench_frame_for(syn, T_CLIENT, T_VIP, 40004, 25, TH_SYN);
	if (bench_wanted("xdp: VIP SYN, new flow, encapsulated")) {
		bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
		bench_hs_fill(maps.flows_new);
	}
	bench_path_resized("xdp: VIP SYN, new flow, encapsulated", syn, syn_n, 1, dummy_ifindex, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40005, 25, TH_ACK);
	bench_establish(pkt, n, 34, dummy_ifindex);
	bench_path_resized("xdp: VIP established flow, encapsulated", pkt, n, 0, dummy_ifindex, repeat);
	bench_path_tc("tc: VIP established flow, encapsulated", pkt, n, 0, dummy_ifindex, repeat,
		      NOSNAT_ACT_ENCAP);
	{
		uint8_t tsyn[512];
		size_t tsyn_n = bench_frame_for(tsyn, T_CLIENT, T_VIP, 40011, 25, TH_SYN);

		bench_path_tc("tc: VIP SYN, new flow, encapsulated", tsyn, tsyn_n, 1, dummy_ifindex,
			      repeat, NOSNAT_ACT_ENCAP);
	}
	rsyn_n = bench_frame_for(rsyn, T_CLIENT, T_VIP, 40009, 25, TH_SYN);
	bench_path_resized("xdp: VIP SYN, one 5-tuple again, encapsulated", rsyn, rsyn_n, 0,
			   dummy_ifindex, repeat);
	bench_refs(pkt, n, repeat);
	other_n = bench_frame_for(other, T_CLIENT, T_OTHER, 40000, 25, TH_ACK);
	return bench_model(other, other_n, syn, syn_n, pkt, n, rsyn, rsyn_n, repeat) ||
	       bench_katran6(repeat);
}

/* The rows of encapsulated paths again, loaded to send GUE: a frame is
 * checked to leave as GUE to node B before its row is timed. */
static int bench_gue_paths(uint32_t repeat)
{
	uint8_t syn[512], pkt[512], tsyn[512];
	size_t syn_n, n, tsyn_n;
	struct nosnat_cfg cfg;
	struct run r;
	__u32 zero = 0;

	if (reload_encap(1))
		return -1;
	if (!bpf_map_lookup_elem(maps.cfg, &zero, &cfg)) {	/* as for the IPIP rows */
		cfg.new_flow_limit = 100000000;
		cfg.encap = NOSNAT_ENCAP_GUE;
		cfg.mss_max = 1500 - NOSNAT_GUE_OVERHEAD - 40;
		bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY);
	}
	mail_vip(T_POD_B, 2525, T_NODE_B);
	/* in the order of the IPIP rows: the tables filled for the new flows
	 * first, then the established flow recorded */
	syn_n = bench_frame_for(syn, T_CLIENT, T_VIP, 40104, 25, TH_SYN);
	if (bench_wanted("xdp: VIP SYN, new flow, GUE")) {
		bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
		bench_hs_fill(maps.flows_new);
	}
	if (run_xdp(syn, syn_n, dummy_ifindex, &r) || r.len < 14 + 28 || r.pkt[14 + 9] != IPPROTO_UDP ||
	    r.pkt[14 + 22] != NOSNAT_DEFAULT_GUE_PORT >> 8 ||
	    r.pkt[14 + 23] != (NOSNAT_DEFAULT_GUE_PORT & 0xff)) {
		printf("  note  the GUE rows: the frame does not leave as GUE; not measured\n");
		return reload_encap(0);
	}
	bench_path_resized("xdp: VIP SYN, new flow, GUE", syn, syn_n, 1, dummy_ifindex, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40105, 25, TH_ACK);
	bench_establish(pkt, n, 34, dummy_ifindex);
	bench_path_resized("xdp: VIP established flow, GUE", pkt, n, 0, dummy_ifindex, repeat);
	bench_tc_reason = NOSNAT_R_GUE;	/* GUE's encap and decap count so */
	bench_path_tc("tc: VIP established flow, GUE", pkt, n, 0, dummy_ifindex, repeat,
		      NOSNAT_ACT_ENCAP);
	tsyn_n = bench_frame_for(tsyn, T_CLIENT, T_VIP, 40111, 25, TH_SYN);
	bench_path_tc("tc: VIP SYN, new flow, GUE", tsyn, tsyn_n, 1, dummy_ifindex, repeat,
		      NOSNAT_ACT_ENCAP);
	{	/* a node's GUE to a pod here: XDP's part (without metadata: its
		 * pass to tc) */
		static uint8_t payload[60];
		uint8_t in[512], inner[512], outer[600];
		struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
		struct l4_spec l = tcp(40106, 25, TH_ACK);
		size_t in_n, out_n, fn;

		l.payload = payload;
		l.payload_len = sizeof(payload);
		reload_encap(0);	/* a node that sends IPIP takes GUE off as well */
		mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF);
		in_n = build_ip(inner, &ip, &l);
		out_n = build_gue(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), 0, 49999,
				  NOSNAT_DEFAULT_GUE_PORT, inner, in_n);
		fn = build_eth(in, MAC_SELF, MAC_B, 0, 0x0800, outer, out_n);
		bench_establish(in, fn, 62, 1);
		bench_path_resized("xdp: GUE from a node, decap + DNAT", in, fn, 0, 1, repeat);
		bench_path_tc("tc: GUE from a node, decap + DNAT", in, fn, 0, 1, repeat,
			      NOSNAT_ACT_DECAP);
	}
	bench_tc_reason = NOSNAT_R_NONE;
	return 0;
}

static long fdinfo_memlock(int fd)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The tables filled to 1,000,000 flows: memory and cost against empty. */
static int bench_scale(uint32_t repeat)
{
	enum { FILL = 1000000, BATCH = 10000 };
	static struct nosnat_flow_key fk[BATCH];
	static struct nosnat_flow fv[BATCH];
	uint8_t pkt[512];
	size_t n;
	__u32 ref;
	int bid;

	printf("scale: flow table of %d entries\n", 1 << 20);
	cfg_reset();
	mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF);
	bid = state_find_backend(&st, st.vips[0].val.id, ip4(T_POD_LOCAL), htons(2525));
	{
		struct nosnat_vip_id vi = {};

		bpf_map_lookup_elem(maps.vip_ids, &st.vips[0].val.id, &vi);
		ref = vi.ref;
	}
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40006, 25, TH_ACK);
	bench_establish(pkt, n, 34, 1);
	bench_path("xdp: established flow, table empty", pkt, n, 0, 1, 1, repeat);
	for (uint32_t done = 0; done < FILL; done += BATCH) {
		__u32 count = BATCH;

		for (uint32_t i = 0; i < BATCH; i++) {
			uint32_t c = done + i;

			fk[i] = (struct nosnat_flow_key){ .src = htonl(0xc6120000u | (c & 0x1ffff)),
							  .dst = ip4(T_VIP), .sport = htons((uint16_t)(1024 + (c >> 17))),
							  .dport = htons(25), .proto = IPPROTO_TCP };
			/* as established flows are: their conntrack entry seen */
			fv[i] = (struct nosnat_flow){ .backend_id = (__u32)bid, .backend_addr = ip4(T_POD_LOCAL),
						      .vip_ref = ref, .flags = NOSNAT_FLOW_CT_SEEN };
		}
		if (bpf_map_update_batch(maps.flows, fk, fv, &count, NULL)) {
			fprintf(stderr, "fill: %s\n", strerror(errno));
			return -1;
		}
	}
	bench_path("xdp: established flow, 1M flows in the table", pkt, n, 0, 1, 1, repeat);
	/* 2^19 of the flows filled in turn (198.18.0.0/16 by source port
	 * 1024-1031): the table's buckets and entries come cold from memory,
	 * as under many busy clients */
	n = bench_frame_for(pkt, "198.18.0.0", T_VIP, 1024, 25, TH_ACK);
	{
		__u64 made = counter(maps.vip_stat, st.vips[0].val.id, 2, 3);

		bench_path("xdp: established flows, 1M in the table, another each round", pkt, n, 2, 1, 1,
			   repeat);
		made = counter(maps.vip_stat, st.vips[0].val.id, 2, 3) - made;
		if (made)	/* then it measured new flows, not established ones */
			fprintf(stderr, "bench: %llu new flows in the established-flows row\n",
				(unsigned long long)made);
	}
	bench_flush();
	fprintf(bout, "memlock\tflows\t%ld\nmemlock\tpods\t%ld\n", fdinfo_memlock(maps.flows),
		fdinfo_memlock(maps.pods));
	printf("  memlock: flow table %ld bytes, local pods %ld bytes\n",
	       fdinfo_memlock(maps.flows), fdinfo_memlock(maps.pods));
	return 0;
}

/* Control plane: Maglev for 1,000 backends, 1,000 VIPs x 10 backends. */
static int bench_control(void)
{
	static struct maglev_backend mb[1000];
	static uint32_t table[NOSNAT_MAGLEV_SIZE];
	static struct config c, c2;
	double t[5], t0;
	char err[256];
	int rc;

	for (int i = 0; i < 1000; i++)
		mb[i] = (struct maglev_backend){ .addr = htonl(0xc6120000u + (uint32_t)i),
						 .port = htons(25), .weight = 1 };
	for (int r = 0; r < 5; r++) {
		t0 = now_s();
		maglev_build(mb, 1000, NOSNAT_MAGLEV_SIZE, table);
		t[r] = now_s() - t0;
	}
	qsort(t, 5, sizeof(t[0]), cmp_double);
	fprintf(bout, "control\tmaglev_1000\t%.6f\n", t[2]);
	printf("control plane:\n  Maglev table, 1000 backends, M=65537: %.2f ms (median of 5)\n", t[2] * 1e3);

	cfg_reset();
	memset(&c, 0, offsetof(struct config, vips));
	c.n_vips = c.n_bes = 0;
	c.nodes[c.n_nodes++] = ip4(T_NODE_B);
	c.nodes[c.n_nodes++] = ip4(T_NODE_C);
	for (int v = 0; v < 1000; v++) {
		struct config_vip *cv = &c.vips[c.n_vips++];

		memset(cv, 0, sizeof(*cv));
		cv->key = (struct nosnat_vip_key){ .addr = htonl(0xc0000200u + (uint32_t)(v / 250) + 10),
						   .port = htons((uint16_t)(1000 + v % 250)), .proto = IPPROTO_TCP };
		cv->first_be = c.n_bes;
		cv->n_be = 10;
		for (int b = 0; b < 10; b++)
			c.bes[c.n_bes++] = (struct config_backend){
				.addr = htonl(0xc6120000u + (uint32_t)(v * 10 + b)), .port = htons(25),
				.node = b % 2 ? ip4(T_NODE_B) : ip4(T_NODE_C), .weight = 1 };
	}
	state_read(&maps, &st);
	t0 = now_s();
	rc = config_apply(&maps, &st, &c, "bench", 0, NULL, err, sizeof(err));
	t[0] = now_s() - t0;
	if (rc < 0) {
		fprintf(stderr, "apply: %s\n", err);
		return -1;
	}
	memcpy(&c2, &c, sizeof(c));
	c2.bes[5000].weight = 2;	/* one backend of one VIP */
	t0 = now_s();
	rc = config_apply(&maps, &st, &c2, "bench", 0, NULL, err, sizeof(err));
	t[1] = now_s() - t0;
	fprintf(bout, "control\tapply_1000x10\t%.6f\ncontrol\tchange_one\t%.6f\n", t[0], t[1]);
	printf("  apply 1000 VIPs x 10 backends from empty: %.3f s; change one backend: %.2f ms (%d change)\n",
	       t[0], t[1] * 1e3, rc);
	cfg_reset();
	return 0;
}

/* What the dataplane's maps lock at their default sizes, no VIP configured
 * (each VIP adds its Maglev table, an inner map of its own). */
static void maps_memlock(void)
{
	struct bpf_map *m;
	long total = 0, pcpu = 0;

	bpf_object__for_each_map(m, skel->obj) {
		long v = fdinfo_memlock(bpf_map__fd(m));

		if (v < 0)
			continue;
		total += v;
		if (bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_ARRAY)
			pcpu += v;
	}
	fprintf(bout, "memlock\tall\t%ld\nmemlock\tpercpu\t%ld\n", total, pcpu);
	printf("  memlock of all maps: %ld bytes (per-CPU arrays %ld of them, %d CPUs)\n", total, pcpu,
	       libbpf_num_possible_cpus());
}

int bench_main(const char *outfile, uint32_t repeat)
{
	bout = fopen(outfile, "w");
	if (!bout)
		return 1;
	if (test_mode != MODE_XDP_META)
		printf("  note  XDP without metadata (this kernel refuses bpf_xdp_adjust_meta): the xdp\n"
		       "        rows of local pods and decapsulation measure XDP's part (for a SYN its\n"
		       "        pick, recorded) and its pass to tc ingress, whose walk does the rest\n");
	{	/* one CPU for the whole run: the programs in turns see the same
		 * core, and Katran's per-CPU LRU is this CPU's throughout */
		cpu_set_t one;
		int cpu = sched_getcpu();

		CPU_ZERO(&one);
		CPU_SET(cpu < 0 ? 0 : cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			fprintf(stderr, "bench: pinning to CPU %d: %s\n", cpu, strerror(errno));
		else
			fprintf(bout, "cpu\t%d\n", cpu < 0 ? 0 : cpu);
	}
	if (!bench_katran_obj()) {
		const char *why = getenv("NOSNAT_KATRAN_ABSENT");

		fprintf(bout, "katran_info\tabsent\t%s\n", why && *why ? why :
			"no Katran object (scripts/katran_build.sh builds one from Katran's sources)");
		printf("  note  Katran not measured: %s\n", why && *why ? why : "no object built");
	}
	bskel = bench_bpf__open();
	if (bskel) {
		bskel->rodata->bench_xdp_meta = test_mode == MODE_XDP_META;
		if (bench_bpf__load(bskel)) {
			bench_bpf__destroy(bskel);
			bskel = NULL;
		}
	}
	if (!bskel) {
		fprintf(stderr, "bench harness: %s\n", strerror(errno));
		return 1;
	}
	{
		const char *env = getenv("NOSNAT_BENCH_LOADS");
		int loads = getenv("NOSNAT_BENCH_QUICK") ? 1 : BENCH_LOADS;

		if (env && atoi(env) >= 1 && atoi(env) <= BENCH_LOADS)
			loads = atoi(env);

		for (int l = 0; l < loads; l++) {
			if (l) {	/* fresh programs and maps */
				nosnat_bpf__destroy(skel);
				if (setup_skel())
					return 1;
			}
			printf("load %d of %d:\n", l + 1, loads);
			if (bench_paths(repeat) || bench_gue_paths(repeat))
				return 1;
		}
		bench_flush();
		prog_sizes();
		maps_memlock();
	}
	if (getenv("NOSNAT_BENCH_QUICK")) {	/* the smoke check in make test */
		fclose(bout);
		return 0;
	}
	if (bench_control())
		return 1;
	nosnat_bpf__destroy(skel);
	skel = NULL;
	{
		/* tables of 2^20 for the scale run */
		struct bpf_map *m;

		skel = nosnat_bpf__open();
		if (!skel)
			return 1;
		bpf_object__for_each_map(m, skel->obj)
			bpf_map__set_pin_path(m, NULL);
		bpf_map__set_max_entries(skel->maps.nosnat_flows, 1 << 20);
		skel->rodata->nosnat_have_ct = ct_kfuncs_available();
		if (nosnat_bpf__load(skel) || reload_maps())
			return 1;
	}
	if (bench_scale(repeat))
		return 1;
	fclose(bout);
	bench_bpf__destroy(bskel);
	return 0;
}
