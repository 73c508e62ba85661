// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Katran's XDP balancer (github.com/facebookincubator/katran,
 * katran/lib/bpf/balancer.bpf.c) in the benchmark, beside nosnat and the
 * minimal balancer. The object is built from Katran's own sources by
 * scripts/katran_build.sh and opened here at run time; this file only
 * fills its maps, as Katran's loader (katran/lib/KatranLb.cpp) does for one
 * TCP VIP, IPv4 with IPIP backends or IPv6 with ip6ip6 backends (reals
 * flagged F_IPV6), and checks what it does.
 *
 * The map layouts below are Katran's (balancer_structs.h), written out for
 * the maps' keys and values; their sizes are checked against the object's
 * maps when it is opened. */
#include "../bpf/harness.h"
#include "katran.h"
#include <sys/stat.h>

struct kt_flow_key {		/* struct flow_key */
	__be32 src[4];
	__be32 dst[4];
	__be16 sport, dport;
	__u8 proto;
	__u8 pad[3];
};

struct kt_lru_val {		/* struct real_pos_lru */
	__u32 pos;
	__u32 pad;
	__u64 atime;
};

struct kt_vip_key {		/* struct vip_definition */
	__be32 addr[4];
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct kt_vip_meta {		/* struct vip_meta */
	__u32 flags;
	__u32 vip_num;
};

struct kt_real {		/* struct real_definition */
	__be32 addr[4];
	__u8 flags;
	__u8 pad[3];
};

struct kt_ctl {			/* struct ctl_value: index 0, the gateway's MAC */
	__u8 mac[6];
	__u8 pad[2];
};

struct kt_stats {		/* struct lb_stats */
	__u64 v1, v2;
};

/* Katran's stats map: per VIP below MAX_VIPS, its own counters above
 * (balancer_consts.h). */
enum {
	KT_LRU_CNTRS = 0,		/* v1 packets to VIPs, v2 LRU misses */
	KT_LRU_MISS_CNTR = 1,		/* v1 TCP SYN misses, v2 other TCP misses */
	KT_FALLBACK_LRU_CNTR = 3,	/* v1: no per-CPU LRU for this CPU */
	KT_ENCAP_FAIL_CNTR = 7,
	KT_CH_DROP_STATS = 9,
	KT_XDP_TOTAL_CNTR = 16,
	KT_XDP_TX_CNTR = 17,
	KT_XDP_DROP_CNTR = 18,
	KT_XDP_PASS_CNTR = 19,
	KT_NCOUNTERS = 20,
};

#define KT_VIP_NUM	7	/* the VIP's number (its Maglev ring's place) */
#define KT_F_IPV6	1	/* a real's flags: reached over IPv6 (ip6ip6) */
#define KT_REALS	10	/* backends in use, numbered from 1 as Katran's */
#define KT_MAX_CPUS	1024

static struct {
	struct bpf_object *obj;
	int prog, stats, lru_mapping, ch_rings, reals, vip_map, ctl;
	uint32_t max_vips, ring_size, lru_entries;
	int inner[KT_MAX_CPUS];
	int ncpus;
	int v6;			/* the VIP and its reals are IPv6 */
	__be32 node;
	uint8_t node6[16];
	uint8_t gw_mac[6];
	struct kt_stats before[KT_NCOUNTERS];
} kt = { .obj = NULL };

const char *katran_obj_path(void)
{
	static char path[4096];
	const char *env = getenv("NOSNAT_KATRAN_OBJ");
	struct stat sb;
	ssize_t n;
	char *slash;

	if (env)
		return *env ? env : NULL;
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n <= 0)
		return NULL;
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return NULL;
	strcpy(slash + 1, "katran/balancer.bpf.o");
	return stat(path, &sb) ? NULL : path;
}

int katran_prog_fd(void)
{
	return kt.obj ? kt.prog : -1;
}

uint32_t katran_lru_entries(void)
{
	return kt.lru_entries;
}

static int map_fd(const char *name, size_t key, size_t value)
{
	struct bpf_map *m = bpf_object__find_map_by_name(kt.obj, name);

	if (!m) {
		fprintf(stderr, "katran: no map %s in the object\n", name);
		return -1;
	}
	if ((key && bpf_map__key_size(m) != key) || (value && bpf_map__value_size(m) != value)) {
		fprintf(stderr, "katran: map %s has key %u value %u bytes, the bench expects %zu and %zu\n",
			name, bpf_map__key_size(m), bpf_map__value_size(m), key, value);
		return -1;
	}
	return bpf_map__fd(m);
}

/* Katran's counters, summed over the CPUs. */
static int read_counters(struct kt_stats *c)
{
	int n = libbpf_num_possible_cpus();
	struct kt_stats *v = calloc((size_t)n, sizeof(*v));

	if (!v)
		return -1;
	for (__u32 i = 0; i < KT_NCOUNTERS; i++) {
		__u32 key = kt.max_vips + i;

		c[i] = (struct kt_stats){ 0, 0 };
		if (bpf_map_lookup_elem(kt.stats, &key, v)) {
			free(v);
			return -1;
		}
		for (int cpu = 0; cpu < n; cpu++) {
			c[i].v1 += v[cpu].v1;
			c[i].v2 += v[cpu].v2;
		}
	}
	free(v);
	return 0;
}

static int is_v6(const uint8_t *frame)
{
	return frame[12] == 0x86 && frame[13] == 0xdd;
}

static struct kt_flow_key flow_of(const uint8_t *frame)
{
	const uint8_t *ip = frame + 14, *l4 = ip + (is_v6(frame) ? 40 : 20);
	struct kt_flow_key k;

	memset(&k, 0, sizeof(k));
	if (is_v6(frame)) {
		memcpy(k.src, ip + 8, 16);
		memcpy(k.dst, ip + 24, 16);
		k.proto = ip[6];
	} else {
		memcpy(&k.src[0], ip + 12, 4);
		memcpy(&k.dst[0], ip + 16, 4);
		k.proto = ip[9];
	}
	memcpy(&k.sport, l4, 2);
	memcpy(&k.dport, l4 + 2, 2);
	return k;
}

static uint64_t count_entries(int fd)
{
	struct kt_flow_key k, next;
	uint64_t n = 0;

	if (bpf_map_get_next_key(fd, NULL, &k))
		return 0;
	do
		n++;
	while (!bpf_map_get_next_key(fd, &k, &next) && (k = next, 1));
	return n;
}

/* One LRU per possible CPU (Katran's loader makes one per forwarding core,
 * with no flags: not BPF_F_NO_COMMON_LRU), each in lru_mapping at its
 * CPU's index, as KatranLb::initLrus and attachLrus do. */
int katran_set_lru(uint32_t entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = 0);
	int cpu = sched_getcpu();

	for (int i = 0; i < kt.ncpus; i++) {
		char name[16];
		int fd;

		snprintf(name, sizeof(name), "katran_lru%d", i);
		fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, name, sizeof(struct kt_flow_key),
				    sizeof(struct kt_lru_val), entries, &o);
		if (fd < 0 || bpf_map_update_elem(kt.lru_mapping, &(__u32){ (__u32)i }, &fd, BPF_ANY)) {
			fprintf(stderr, "katran: LRU of %u for CPU %d: %s\n", entries, i, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (kt.inner[i] >= 0)
			close(kt.inner[i]);
		kt.inner[i] = fd;
	}
	kt.lru_entries = entries;
	if (cpu < 0 || cpu >= kt.ncpus)
		return -1;
	{	/* other clients (198.19.0.0/16, 2001:db8:1913::/64) in and out
		 * in a shuffled order */
		struct kt_flow_key *keys = calloc(entries, sizeof(*keys));

		if (!keys)
			return -1;
		for (__u32 i = 0; i < entries; i++) {
			if (kt.v6) {
				ip6("2001:db8:1913::", (uint8_t *)keys[i].src);
				keys[i].src[3] = htonl(i & 0xffff);
				ip6("2001:db8::25", (uint8_t *)keys[i].dst);
			} else {
				keys[i].src[0] = htonl(0xc6130000u | (i & 0xffff));
				keys[i].dst[0] = ip4(T_VIP);
			}
			keys[i].sport = htons((uint16_t)(1 + (i >> 16)));
			keys[i].dport = htons(25);
			keys[i].proto = IPPROTO_TCP;
		}
		bench_lru_scramble_keys(kt.inner[cpu], keys, sizeof(*keys), sizeof(struct kt_lru_val),
					entries);
		free(keys);
	}
	return 0;
}

/* What Katran must make of frame in: IPIP to the backend's node, the
 * gateway's MAC, the inner packet as it came. */
static int encap_ok(const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len,
		    uint32_t verdict, int vary)
{
	const uint8_t *oip = out + 14;
	uint32_t sum = 0;
	__be32 daddr;

	if (verdict != XDP_TX || out_len != in_len + 20)
		return 0;
	if (memcmp(out, kt.gw_mac, 6) || memcmp(out + 6, in, 6) || out[12] != 0x08 || out[13] != 0)
		return 0;
	memcpy(&daddr, oip + 16, 4);
	if (oip[0] != 0x45 || oip[9] != IPPROTO_IPIP || daddr != kt.node ||
	    (size_t)((oip[2] << 8) | oip[3]) != in_len - 14 + 20)
		return 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(oip[i] << 8 | oip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	if (sum != 0xffff)
		return 0;
	if (vary)	/* the harness changed the client's address and port */
		return !memcmp(out + 34, in + 14, 12) &&
		       !memcmp(out + 34 + 16, in + 14 + 16, 4) && !memcmp(out + 34 + 22, in + 14 + 22, in_len - 14 - 22);
	return !memcmp(out + 34, in + 14, in_len - 14);
}

/* ... and of a v6 frame: ip6ip6 to the backend's node (its v6 address),
 * the gateway's MAC, the inner packet as it came. The outer source is
 * Katran's own (its prefix and the client's address and port), not
 * checked. */
static int encap6_ok(const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len,
		     uint32_t verdict, int vary)
{
	const uint8_t *oip = out + 14, *inner = out + 14 + 40;

	if (verdict != XDP_TX || out_len != in_len + 40)
		return 0;
	if (memcmp(out, kt.gw_mac, 6) || memcmp(out + 6, in, 6) || !is_v6(out))
		return 0;
	if ((oip[0] >> 4) != 6 || oip[6] != 41 /* IPv6 in IPv6 */ ||
	    (size_t)((oip[4] << 8) | oip[5]) != in_len - 14 || memcmp(oip + 24, kt.node6, 16))
		return 0;
	/* the inner IPv6 header, less the bytes the harness varies (the
	 * client's address: 14 + 14, 14 + 15 and 14 + 21 of the frame) */
	if (vary)
		return !memcmp(inner, in + 14, 14) && !memcmp(inner + 16, in + 14 + 16, 5) &&
		       !memcmp(inner + 22, in + 14 + 22, in_len - 14 - 22);
	return !memcmp(inner, in + 14, in_len - 14);
}

int katran_out_ok(enum katran_row row, const uint8_t *in, size_t in_len, const uint8_t *out,
		  size_t out_len, uint32_t verdict, int vary)
{
	if (row == KATRAN_NON_VIP)
		return verdict == XDP_PASS && out_len == in_len && !memcmp(out, in, in_len);
	return is_v6(in) ? encap6_ok(in, in_len, out, out_len, verdict, vary)
			 : encap_ok(in, in_len, out, out_len, verdict, vary);
}

static int check_frame(enum katran_row row, const char *what, const uint8_t *in, size_t len)
{
	struct run r;

	if (run_tc(kt.prog, in, len, &r) || !katran_out_ok(row, in, len, r.pkt, r.len, r.ret, 0)) {
		fprintf(stderr, "katran: the %s frame came out wrong (verdict %u, %u bytes)\n", what,
			r.ret, r.len);
		hexdiff(r.pkt, r.len, in, len);
		return -1;
	}
	return 0;
}

void katran_unload(void)
{
	for (int i = 0; i < kt.ncpus; i++)
		if (kt.inner[i] >= 0)
			close(kt.inner[i]);
	kt.ncpus = 0;
	if (kt.obj)
		bpf_object__close(kt.obj);
	kt.obj = NULL;
}

int katran_load(const char *path, __be32 node, const uint8_t *node6, const uint8_t gw_mac[6],
		const uint8_t *other,
		size_t other_len, const uint8_t *ack, size_t ack_len, const uint8_t *syn,
		size_t syn_len, const uint8_t *rsyn, size_t rsyn_len, uint32_t lru_entries)
{
	struct bpf_program *p;
	struct bpf_map *m;
	struct kt_vip_key vk;
	struct kt_vip_meta vm = { .flags = 0, .vip_num = KT_VIP_NUM };
	struct kt_ctl ctl;
	struct kt_flow_key fk;
	struct kt_lru_val lv = { .pos = 1 + 3 % KT_REALS };
	__u32 *ring_keys = NULL, *ring_vals = NULL, count, zero = 0;
	int err;

	katran_unload();
	memset(&kt, 0, sizeof(kt));
	for (int i = 0; i < KT_MAX_CPUS; i++)
		kt.inner[i] = -1;
	kt.node = node;
	kt.v6 = is_v6(ack);
	if (kt.v6 && !node6) {
		fprintf(stderr, "katran: v6 frames and no v6 node\n");
		return -1;
	}
	if (kt.v6)
		memcpy(kt.node6, node6, 16);
	memcpy(kt.gw_mac, gw_mac, 6);
	kt.obj = bpf_object__open_file(path, NULL);
	if (!kt.obj) {
		fprintf(stderr, "katran: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	p = bpf_object__find_program_by_name(kt.obj, "balancer_ingress");
	if (!p || bpf_program__type(p) != BPF_PROG_TYPE_XDP) {
		fprintf(stderr, "katran: no XDP program balancer_ingress in %s\n", path);
		goto fail;
	}
	bpf_object__for_each_program(p, kt.obj)	/* the balancer alone */
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "balancer_ingress"));
	bpf_object__for_each_map(m, kt.obj)
		bpf_map__set_pin_path(m, NULL);
	err = bpf_object__load(kt.obj);
	if (err) {
		fprintf(stderr, "katran: load %s: %s\n", path, strerror(-err));
		goto fail;
	}
	kt.prog = bpf_program__fd(bpf_object__find_program_by_name(kt.obj, "balancer_ingress"));
	kt.stats = map_fd("stats", sizeof(__u32), sizeof(struct kt_stats));
	kt.lru_mapping = map_fd("lru_mapping", sizeof(__u32), sizeof(__u32));
	kt.ch_rings = map_fd("ch_rings", sizeof(__u32), sizeof(__u32));
	kt.reals = map_fd("reals", sizeof(__u32), sizeof(struct kt_real));
	kt.vip_map = map_fd("vip_map", sizeof(struct kt_vip_key), sizeof(struct kt_vip_meta));
	kt.ctl = map_fd("ctl_array", sizeof(__u32), sizeof(struct kt_ctl));
	if (kt.stats < 0 || kt.lru_mapping < 0 || kt.ch_rings < 0 || kt.reals < 0 || kt.vip_map < 0 ||
	    kt.ctl < 0 || map_fd("fallback_cache", sizeof(struct kt_flow_key), sizeof(struct kt_lru_val)) < 0)
		goto fail;
	/* MAX_VIPS and RING_SIZE as the object was built: the stats map has
	 * 2 * MAX_VIPS entries, ch_rings MAX_VIPS rings of RING_SIZE */
	kt.max_vips = bpf_map__max_entries(bpf_object__find_map_by_name(kt.obj, "stats")) / 2;
	kt.ring_size = bpf_map__max_entries(bpf_object__find_map_by_name(kt.obj, "ch_rings")) / kt.max_vips;
	kt.ncpus = libbpf_num_possible_cpus();
	if (kt.ncpus > (int)bpf_map__max_entries(bpf_object__find_map_by_name(kt.obj, "lru_mapping")) ||
	    kt.ncpus > KT_MAX_CPUS || kt.max_vips <= KT_VIP_NUM + KT_NCOUNTERS) {
		fprintf(stderr, "katran: %d CPUs, %u VIPs: not what the bench can fill\n", kt.ncpus,
			kt.max_vips);
		goto fail;
	}

	/* the VIP: the established frame's destination, port and protocol */
	fk = flow_of(ack);
	memset(&vk, 0, sizeof(vk));
	memcpy(vk.addr, fk.dst, sizeof(vk.addr));
	vk.port = fk.dport;
	vk.proto = IPPROTO_TCP;
	memset(&ctl, 0, sizeof(ctl));
	memcpy(ctl.mac, gw_mac, 6);
	if (bpf_map_update_elem(kt.vip_map, &vk, &vm, BPF_ANY) ||
	    bpf_map_update_elem(kt.ctl, &zero, &ctl, BPF_ANY))
		goto fail_errno;
	for (__u32 i = 1; i <= KT_REALS; i++) {
		struct kt_real r;

		memset(&r, 0, sizeof(r));
		if (kt.v6) {
			memcpy(r.addr, kt.node6, 16);
			r.flags = KT_F_IPV6;
		} else {
			r.addr[0] = node;
		}
		if (bpf_map_update_elem(kt.reals, &i, &r, BPF_ANY))
			goto fail_errno;
	}
	/* its Maglev ring: the backends in turn, as the minimal balancer's */
	ring_keys = calloc(kt.ring_size, sizeof(*ring_keys));
	ring_vals = calloc(kt.ring_size, sizeof(*ring_vals));
	if (!ring_keys || !ring_vals)
		goto fail;
	for (__u32 i = 0; i < kt.ring_size; i++) {
		ring_keys[i] = KT_VIP_NUM * kt.ring_size + i;
		ring_vals[i] = 1 + i % KT_REALS;
	}
	count = kt.ring_size;
	if (bpf_map_update_batch(kt.ch_rings, ring_keys, ring_vals, &count, NULL))
		goto fail_errno;
	free(ring_keys);
	free(ring_vals);
	ring_keys = ring_vals = NULL;
	if (katran_set_lru(lru_entries))
		goto fail;
	/* the established frame's flow, recorded on this CPU */
	fk = flow_of(ack);
	if (bpf_map_update_elem(kt.inner[sched_getcpu()], &fk, &lv, BPF_ANY))
		goto fail_errno;

	/* its frames, before any is timed */
	katran_row_begin();
	if (check_frame(KATRAN_NON_VIP, "non-VIP", other, other_len) ||
	    katran_row_check(KATRAN_NON_VIP, "non-VIP (check)", 1))
		goto fail;
	katran_row_begin();
	if (check_frame(KATRAN_ESTABLISHED, "established", ack, ack_len) ||
	    katran_row_check(KATRAN_ESTABLISHED, "established (check)", 1))
		goto fail;
	katran_row_begin();
	if (check_frame(KATRAN_SYN_AGAIN, "SYN", syn, syn_len) ||
	    check_frame(KATRAN_SYN_AGAIN, "SYN again", rsyn, rsyn_len) ||
	    katran_row_check(KATRAN_SYN_AGAIN, "SYN (check)", 2))
		goto fail;
	fk = flow_of(rsyn);
	if (bpf_map_lookup_elem(kt.inner[sched_getcpu()], &fk, &lv)) {
		fprintf(stderr, "katran: a SYN was not recorded in this CPU's LRU\n");
		goto fail;
	}
	return 0;

fail_errno:
	fprintf(stderr, "katran: filling its maps: %s\n", strerror(errno));
fail:
	free(ring_keys);
	free(ring_vals);
	katran_unload();
	return -1;
}

void katran_row_begin(void)
{
	if (read_counters(kt.before))
		memset(kt.before, 0xff, sizeof(kt.before));
}

#define MOVED(c, f) (now[c].f - kt.before[c].f)

int katran_row_check(enum katran_row row, const char *name, uint64_t rounds)
{
	struct kt_stats now[KT_NCOUNTERS];
	uint64_t want_pass = row == KATRAN_NON_VIP ? rounds : 0, want_tx = rounds - want_pass;
	uint64_t want_syn_miss = row == KATRAN_SYN_AGAIN || row == KATRAN_NEW_FLOW ? rounds : 0;
	const char *bad = NULL;
	char why[160];

	if (read_counters(now))
		bad = "its counters could not be read";
	else if (MOVED(KT_XDP_TOTAL_CNTR, v1) != rounds)
		bad = "not every round reached it";
	else if (MOVED(KT_XDP_PASS_CNTR, v1) != want_pass || MOVED(KT_XDP_TX_CNTR, v1) != want_tx ||
		 MOVED(KT_XDP_DROP_CNTR, v1))
		bad = "verdicts (pass, tx, drop) other than the row's";
	else if (MOVED(KT_LRU_CNTRS, v1) != want_tx)
		bad = "packets to the VIP other than the row's";
	else if (MOVED(KT_LRU_MISS_CNTR, v1) != want_syn_miss || MOVED(KT_LRU_MISS_CNTR, v2))
		bad = "LRU misses other than the row's (SYNs miss by design; others must hit)";
	else if (MOVED(KT_FALLBACK_LRU_CNTR, v1))
		bad = "no per-CPU LRU for this CPU: the fallback LRU was used";
	else if (MOVED(KT_CH_DROP_STATS, v1) || MOVED(KT_CH_DROP_STATS, v2) ||
		 MOVED(KT_ENCAP_FAIL_CNTR, v1))
		bad = "drops in the Maglev lookup or the encapsulation";
	if (!bad && row == KATRAN_NEW_FLOW) {
		/* every round inserted (its flood guard never held one back):
		 * the LRU of this CPU holds as many flows as it can */
		uint64_t want = rounds < kt.lru_entries ? rounds : kt.lru_entries;
		uint64_t have = count_entries(kt.inner[sched_getcpu()]);

		if (have < want / 2) {
			snprintf(why, sizeof(why), "its LRU holds %llu flows after %llu new ones",
				 (unsigned long long)have, (unsigned long long)rounds);
			bad = why;
		}
	}
	if (bad) {
		fprintf(stderr, "bench: FAIL Katran, %s: %s; the row did not measure the path it names\n",
			name, bad);
		return -1;
	}
	return 0;
}

void katran_write_info(FILE *out, const char *path)
{
	char info[4200], line[512];
	FILE *f;

	snprintf(info, sizeof(info), "%s.info", path);
	f = fopen(info, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strchr(line, '\t'))
				fprintf(out, "katran_info\t%s%s", line, strchr(line, '\n') ? "" : "\n");
		fclose(f);
	}
	fprintf(out, "katran_info\tobject\t%s\n", path);
	fprintf(out, "katran_info\tring_size\t%u\n", kt.ring_size);
	fprintf(out, "katran_info\tmax_vips\t%u\n", kt.max_vips);
	fprintf(out, "katran_info\tcpus\t%d\n", kt.ncpus);
}
