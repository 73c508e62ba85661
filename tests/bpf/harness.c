// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The harness: netns and object setup, packets through BPF_PROG_TEST_RUN,
 * counters, configuration through the loader's code. */
#include "harness.h"

struct nosnat_bpf *skel;
struct nosnat_maps maps;
struct state st;		/* with its scratch: st.tmp = &st_tmp in main */
struct scratch st_tmp;
int dummy_ifindex;	/* the "uplink": a veth in a private netns */

/* --- harness ------------------------------------------------------------ */


/* XDP alone: its verdict, its frame, the metadata it left (r->meta_len
 * bytes at r->out). */
int run_xdp_only(const uint8_t *in, size_t len, int ifindex, struct run *r)
{
	struct xdp_md ctx_in = { .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex };
	struct xdp_md ctx_out = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1,
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
		    .ctx_out = &ctx_out, .ctx_size_out = sizeof(ctx_out));

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.nosnat_xdp), &o))
		return -errno;
	r->ret = o.retval;
	last_via_tc = 0;
	r->meta_len = ctx_out.data;
	r->pkt = r->out + ctx_out.data;
	r->len = o.data_size_out - ctx_out.data;
	r->tc_ret = -1;
	return 0;
}

int test_mode;		/* enum test_mode: which way the uplink's ingress runs */
/* run_xdp also proves that a frame XDP passed on for tc left the flow-event
 * counters as they were (row by row; a flood's every packet would take
 * twice NOSNAT_R_MAX reads more, and the floods measure budgets per second) */
int handoff_strict;
int test_encap_gue;	/* the object loaded as with --encap gue */
int test_no_xdp6_tail;	/* ... as on a kernel that refuses XDP's v6 tail call */
int last_via_tc;	/* the last run_xdp's verdict was tc ingress's walk */

/* tc runs get skbs with a complete checksum (CHECKSUM_COMPLETE, as a NIC's
 * receive path makes), which the kernel checks after the run */
int test_csum_complete;

static __u32 tc_run_flags(void)
{
	return test_csum_complete ? BPF_F_TEST_SKB_CHECKSUM_COMPLETE : 0;
}

/* Does this kernel make such skbs (Linux 6.11+)? 1 yes, 0 no, -1 unknown. */
int csum_complete_probe(void)
{
	uint8_t arp[60] = { [12] = 0x08, [13] = 0x06 }, out[128];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = arp, .data_size_in = sizeof(arp),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1,
		    .flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE);

	if (!bpf_prog_test_run_opts(bpf_program__fd(skel->progs.nosnat_tc_egress), &o))
		return 1;
	return errno == EINVAL ? 0 : -1;
}

/* tc ingress's verdict as the XDP verdict a test expects of the walk:
 * TC_ACT_REDIRECT stands for XDP_TX (out of the uplink again, as nearly
 * every test's frame goes); tests where it went elsewhere say so. */
static uint32_t xdp_equivalent(int tc_ret)
{
	if (tc_ret == TC_ACT_OK)
		return XDP_PASS;
	if (tc_ret == TC_ACT_REDIRECT)
		return XDP_TX;
	return XDP_DROP;
}

/* The production tc ingress program on a frame XDP passed on untouched
 * (or on every frame at --hook tc): its walk decides. */
int run_tc_walk(const uint8_t *in, size_t len, int ifindex, struct run *r)
{
	struct __sk_buff ctx_in = { .ingress_ifindex = (uint32_t)ifindex };
	uint8_t pkt[sizeof(r->out)];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1,
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in), .flags = tc_run_flags());

	memcpy(pkt, in, len);	/* in may be r->pkt */
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.nosnat_tc_ingress), &o))
		return -errno;
	r->tc_ret = (int)o.retval;
	r->ret = xdp_equivalent(r->tc_ret);
	r->meta_len = 0;
	r->pkt = r->out;
	r->len = o.data_size_out;
	last_via_tc = 1;
	return 0;
}

/* tc ingress's walk alone on a frame: its verdict, bytes and counter. */
int expect_tc_walk(const uint8_t *in, size_t n, const uint8_t *want, size_t wn, __u32 action,
		   __u32 reason)
{
	struct run r;

	stats_snap();
	CHECK(!run_tc_walk(in, n, 1, &r), "test run");
	CHECK(r.tc_ret == TC_ACT_OK, "verdict %d", r.tc_ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, action, reason), "counter");
	return 0;
}

/* A frame through the uplink's ingress, as the test mode runs it: XDP, then
 * the tc twin when XDP left it work (r->meta, r->tc_ret); XDP without
 * metadata, then tc's walk when XDP passed it on for tc to finish; tc's
 * walk alone. r->pkt is what the stack (or the way out) then gets. */
int run_xdp(const uint8_t *in, size_t len, int ifindex, struct run *r)
{
	__u32 to_tc = nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_PASS, NOSNAT_R_TO_TC);
	uint64_t before, ev[NOSNAT_R_MAX];
	int rc;

	last_via_tc = 0;
	if (test_mode == MODE_TC)
		return run_tc_walk(in, len, ifindex, r);
	before = counter(maps.stats, to_tc, 0, 2);
	for (__u32 i = 0; handoff_strict && i < NOSNAT_R_MAX; i++)
		ev[i] = counter(maps.flow_ev, i, 0, 1);
	rc = run_xdp_only(in, len, ifindex, r);
	if (rc)
		return rc;
	/* passed on untouched, no metadata (with metadata too: GUE to this
	 * node, a driver without room, XDP's v6 walk): tc ingress walks it
	 * whole. Untouched it must be: tc walks what XDP leaves. */
	if (r->ret == XDP_PASS && counter(maps.stats, to_tc, 0, 2) != before) {
		if (r->meta_len || r->len != len || memcmp(r->pkt, in, len)) {
			fprintf(stderr, "    XDP passed a frame on for tc, but changed it\n");
			return -EBADMSG;
		}
		for (__u32 i = 0; handoff_strict && i < NOSNAT_R_MAX; i++)
			if (counter(maps.flow_ev, i, 0, 1) != ev[i]) {
				fprintf(stderr, "    XDP passed a frame on for tc, but counted flow event %u\n", i);
				return -EBADMSG;
			}
		return run_tc_walk(in, len, ifindex, r);
	}
	if (test_mode == MODE_XDP_META)
		return run_twin(r, ifindex);
	return 0;
}

/* The hook whose counters the last run_xdp's walk moved: XDP's own, or tc
 * ingress's when XDP passed the packet on (or tc alone runs). */
__u32 walk_hook(void)
{
	return test_mode == MODE_TC || last_via_tc ? NOSNAT_HOOK_TC_INGRESS : NOSNAT_HOOK_XDP;
}

/* Does a verdict of the last run_xdp stand for want? tc's redirect stands
 * for XDP_TX and XDP_REDIRECT alike (bytes and counters tell them apart). */
int verdict_is(const struct run *r, uint32_t want)
{
	if (last_via_tc && r->tc_ret == TC_ACT_REDIRECT)
		return want == XDP_TX || want == XDP_REDIRECT;
	return r->ret == want;
}

/* The tc ingress twin (tests/bpf/tc_twin.bpf.c) over the same maps. */
static struct tc_twin_bpf *twin;

static int twin_load(void)
{
	struct bpf_map *m;

	twin = tc_twin_bpf__open();
	if (!twin)
		return -1;
	twin->rodata->nosnat_encap_gue = test_encap_gue;	/* as attach loads both */
	bpf_object__for_each_map(m, twin->obj) {
		struct bpf_map *same = bpf_object__find_map_by_name(skel->obj, bpf_map__name(m));

		bpf_map__set_pin_path(m, NULL);
		if (same && bpf_map__reuse_fd(m, bpf_map__fd(same)))
			return -1;
	}
	if (tc_twin_bpf__load(twin))
		return -1;
	return 0;
}

/* What the twin does with a frame XDP passed with nosnat's metadata: the
 * packet the stack (or the neighbour code) then gets, in r->pkt. */
int run_twin(struct run *r, int ifindex)
{
	/* the frame arrives where XDP saw it: the twin asks the FIB from there */
	struct __sk_buff ctx_in = { .ingress_ifindex = (uint32_t)ifindex };
	struct nosnat_meta meta;
	uint8_t pkt[sizeof(r->out)];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .repeat = 1,
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in), .flags = tc_run_flags());

	if (r->ret != XDP_PASS || r->meta_len != sizeof(meta))
		return 0;
	memcpy(&meta, r->out, sizeof(meta));
	if (meta.magic != NOSNAT_META_LOCAL && meta.magic != NOSNAT_META_MAGIC)
		return 0;
	r->meta = meta;
	if (!twin && twin_load())
		return -EINVAL;
	twin->bss->twin_meta = meta;
	memcpy(pkt, r->pkt, r->len);
	o.data_size_in = r->len;
	if (bpf_prog_test_run_opts(bpf_program__fd(twin->progs.tc_twin), &o))
		return -errno;
	r->tc_ret = (int)o.retval;
	r->meta_len = 0;
	r->pkt = r->out;
	r->len = o.data_size_out;
	return 0;
}

/* The twin's program, to carry out m (for the benchmark), or -1. */
int twin_prog(const struct nosnat_meta *m)
{
	if (!twin && twin_load())
		return -1;
	twin->bss->twin_meta = *m;
	return bpf_program__fd(twin->progs.tc_twin);
}

void twin_unload(void)
{
	tc_twin_bpf__destroy(twin);
	twin = NULL;
}

int run_tc(int prog_fd, const uint8_t *in, size_t len, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1,
		    .flags = tc_run_flags());

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	r->ret = o.retval;
	r->pkt = r->out;
	r->len = o.data_size_out;
	return 0;
}

uint64_t stats_now[NOSNAT_STATS_SLOTS];

uint64_t counter(int fd, __u32 key, int field, int nfields)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[256 * 3] = {}, sum = 0;

	if (ncpu > 256 || bpf_map_lookup_elem(fd, &key, vals))
		return UINT64_MAX;
	for (int c = 0; c < ncpu; c++)
		sum += vals[c * nfields + field];
	return sum;
}

void stats_snap(void)
{
	for (__u32 i = 0; i < NOSNAT_STATS_SLOTS; i++)
		stats_now[i] = counter(maps.stats, i, 0, 2);
}

/* Exactly one packet counted by this hook since the snapshot, in this
 * slot (the tc twin's count after XDP's is the other hook's). */
int stats_moved(__u32 hook, __u32 action, __u32 reason)
{
	if (hook == NOSNAT_HOOK_XDP && last_via_tc)	/* XDP passed it on: tc's count */
		hook = NOSNAT_HOOK_TC_INGRESS;

	__u32 want = nosnat_stat_slot(hook, action, reason);
	__u32 first = nosnat_stat_slot(hook, 0, 0), end = nosnat_stat_slot(hook + 1, 0, 0);
	uint64_t total = 0, here = 0;

	for (__u32 i = first; i < end; i++) {
		uint64_t d = counter(maps.stats, i, 0, 2) - stats_now[i];

		total += d;
		if (i == want)
			here = d;
		else if (d)
			fprintf(stderr, "    counter slot %u moved by %llu\n", i, (unsigned long long)d);
	}
	return total == 1 && here == 1;
}

void hexdiff(const uint8_t *got, size_t glen, const uint8_t *want, size_t wlen)
{
	size_t n = glen > wlen ? glen : wlen;

	fprintf(stderr, "    got %zu bytes, want %zu\n", glen, wlen);
	for (size_t i = 0; i < n; i++)
		if (i >= glen || i >= wlen || got[i] != want[i])
			fprintf(stderr, "    [%zu] got %02x want %02x\n", i, i < glen ? got[i] : 0,
				i < wlen ? want[i] : 0);
}


/* --- configuration through the loader's code --------------------------- */

/* Entries of a flow table, walking its keys. */
uint64_t count_entries_of(int fd)
{
	__u8 key[64], next[64];	/* any flow key: v4's 16 bytes, v6's 40 */
	uint64_t n = 0;

	if (bpf_map_get_next_key(fd, NULL, key))
		return 0;
	do
		n++;
	while (!bpf_map_get_next_key(fd, key, next) && (memcpy(key, next, sizeof(key)), 1));
	return n;
}

/* Empty the flow table. The next key is fetched before deleting: a deleted
 * key would restart the walk. */
void map_clear(int fd)
{
	__u8 key[64], next[64];	/* any flow key: v4's 16 bytes, v6's 40 */
	int more;

	if (bpf_map_get_next_key(fd, NULL, &key))
		return;
	do {
		more = !bpf_map_get_next_key(fd, &key, &next);
		bpf_map_delete_elem(fd, &key);
		memcpy(key, next, sizeof(key));
	} while (more);
}

/* A new-flow budget of limit SYNs a second, this process on CPU 0 (whose
 * budget that is) just after the start of one of the budget's seconds
 * (bpf_ktime_get_ns() >> 30, CLOCK_MONOTONIC): a test has all of it
 * before the count starts again. *old: the affinity to restore. */
int new_flow_budget_cpu0(__u32 limit, cpu_set_t *old)
{
	struct nosnat_cfg cfg;
	struct timespec ts;
	cpu_set_t one;
	__u32 zero = 0;
	uint64_t now;

	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	cfg.new_flow_limit = limit;
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	CHECK(!sched_getaffinity(0, sizeof(*old), old), "affinity");
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(!sched_setaffinity(0, sizeof(one), &one), "to CPU 0");
	CHECK(!clock_gettime(CLOCK_MONOTONIC, &ts), "clock");
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	usleep((useconds_t)(((((now >> 30) + 1) << 30) - now) / 1000 + 1000));
	return 0;
}

/* The end of a reused-port test under the budget new_flow_budget_cpu0
 * set: the affinity it changed back, then the test's verdicts. rc: 0 when
 * every port's packets followed its SYN's pod; the ports' SYNs counted as
 * limited at stats slot since limited0, every one; to2: ports whose new
 * connection went to the new pod (some must). */
int reuse_limited_done(const cpu_set_t *old, int rc, __u32 slot, uint64_t limited0, uint64_t ports,
		       int to2)
{
	sched_setaffinity(0, sizeof(*old), old);
	CHECK(!rc, "run");
	CHECK(counter(maps.stats, slot, 0, 2) - limited0 == ports, "not every SYN again was limited");
	CHECK(to2, "no reused port went to the new pod");
	return 0;
}

int cfg_reset(void)
{
	struct nosnat_cfg cfg = {
		.node_ip = ip4(T_NODE_SELF), .ifindex = (__u32)dummy_ifindex,
		.mtu = 1500, .mss_max = 1440, .ct_mark_mask = NOSNAT_DEFAULT_CT_MARK_MASK,
		.flags = NOSNAT_CFG_TWIN_DNAT,	/* as attach sets it */
		/* attach's defaults: IPIP sent, IPIP and GUE taken off */
		.encap = NOSNAT_ENCAP_IPIP, .gue_port = htons(NOSNAT_DEFAULT_GUE_PORT),
		.decap = NOSNAT_DECAP_IPIP | NOSNAT_DECAP_GUE,
	};
	__u32 zero = 0;

	/* the last test's VIPs and nodes go under the cfg they were made
	 * with (a pod on this node's v6 address is this node's only while
	 * cfg has that address), then the fresh cfg */
	if (state_read(&maps, &st))
		return -1;
	while (st.n_vips)
		if (op_vip_del_any(&maps, &st, &st.vips[0].vk))
			return -1;
	while (st.n_nodes)
		if (op_node_del(&maps, &st, st.nodes[0]))
			return -1;
	while (st.n_nodes6)
		if (op_node6_del(&maps, &st, st.nodes6[0].addr))
			return -1;
	if (bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY) || state_read(&maps, &st))
		return -1;
	map_clear(maps.flows);
	map_clear(maps.flows6);
	hs6_clear(maps.flow6_new);
	hs_clear(maps.flows_new);
	{	/* every CPU's budgets fresh: an earlier test's ICMP or new
		 * flows must not spend this one's second */
		static __u64 zero_rates[256 * 2];	/* a window per CPU: second, count */
		int fd = bpf_map__fd(skel->maps.nosnat_rate);

		for (__u32 k = 0; k < bpf_map__max_entries(skel->maps.nosnat_rate); k++)
			if (bpf_map_update_elem(fd, &k, zero_rates, BPF_ANY))
				return -1;
	}
	{	/* no next hop cached by an earlier test */
		static struct nosnat_nexthop none[256];
		int fd = bpf_map__fd(skel->maps.nosnat_nexthop);

		for (__u32 slot = 0; slot < NOSNAT_NEXTHOP_SLOTS; slot++)
			if (bpf_map_update_elem(fd, &slot, none, BPF_ANY))
				return -1;
	}
	{	/* no copy of a v6 flow of an earlier test (a VIP and pod of the
		 * same ids and addresses within the jiffy would take it) */
		static struct nosnat_flow6_cache_entry none[256];
		int fd = bpf_map__fd(skel->maps.nosnat_flow6_cache);

		for (__u32 slot = 0; slot < bpf_map__max_entries(skel->maps.nosnat_flow6_cache); slot++)
			if (bpf_map_update_elem(fd, &slot, none, BPF_ANY))
				return -1;
	}
	{	/* nor a v6 node's */
		static struct nosnat_nexthop6 none[256];
		int fd = bpf_map__fd(skel->maps.nosnat_nexthop6);

		for (__u32 slot = 0; slot < NOSNAT_NEXTHOP6_SLOTS; slot++)
			if (bpf_map_update_elem(fd, &slot, none, BPF_ANY))
				return -1;
	}
	if (op_node_add(&maps, &st, ip4(T_NODE_B)) || op_node_add(&maps, &st, ip4(T_NODE_C)))
		return -1;
	return 0;
}

/* Use the pod node's conntrack as the record of VIP flows (the default),
 * or not: then a local flow without an entry is delivered on Maglev's word
 * (as on kernels without the ct kfuncs). */
int ct_use(int on)
{
	struct nosnat_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(maps.cfg, &zero, &cfg))
		return -1;
	cfg.ct_mark_mask = on ? NOSNAT_DEFAULT_CT_MARK_MASK : 0;
	return bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY);
}

/* Set and clear bits of the loader's cfg flags, as attach options would. */
int cfg_flags(__u32 set, __u32 clear)
{
	struct nosnat_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(maps.cfg, &zero, &cfg))
		return -1;
	cfg.flags = (cfg.flags | set) & ~clear;
	return bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY);
}

/* The flow key of T_CLIENT's TCP connection from sport to the mail VIP. */
struct nosnat_flow_key client_flow(uint16_t sport)
{
	return (struct nosnat_flow_key){ .src = ip4(T_CLIENT), .dst = ip4(T_VIP), .sport = htons(sport),
					 .dport = htons(25), .proto = IPPROTO_TCP };
}

struct nosnat_vip_key vkey(const char *addr, uint16_t port, uint8_t proto)
{
	return (struct nosnat_vip_key){ .addr = ip4(addr), .port = htons(port), .proto = proto };
}

int add_vip(const char *addr, uint16_t port, uint8_t proto)
{
	struct nosnat_vip_key k = vkey(addr, port, proto);

	return op_vip_add(&maps, &st, &k);
}

int add_be(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port,
		  const char *node, uint16_t weight)
{
	struct nosnat_vip_key k = vkey(vip, port, proto);

	return op_backend_add(&maps, &st, &k, ip4(pod), htons(pod_port), ip4(node), weight);
}

int del_be(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port)
{
	struct nosnat_vip_key k = vkey(vip, port, proto);

	return op_backend_del(&maps, &st, &k, ip4(pod), htons(pod_port));
}

/* The mail VIP, 192.0.2.10:25/tcp, with one backend. */
int mail_vip(const char *pod, uint16_t port, const char *node)
{
	return add_vip(T_VIP, 25, IPPROTO_TCP) ||
	       add_be(T_VIP, 25, IPPROTO_TCP, pod, port, node, 1);
}

/* --- packets ------------------------------------------------------------ */

/* Linux's SYN options: MSS, SACK permitted, timestamps, NOP, window scale. */
static uint8_t syn_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
uint8_t syn_opts_1440[20] = { 2, 4, 0x05, 0xa0, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };

struct l4_spec tcp(uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct l4_spec l = { .proto = IPPROTO_TCP, .sport = sport, .dport = dport,
			     .flags = flags, .seq = 1000, .ack = flags & TH_ACK ? 2000 : 0 };

	if ((flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
		l.ack = 1001;	/* a SYN-ACK acks the SYN: every test SYN has seq 1000 */

	if (flags & TH_SYN) {
		l.opts = syn_opts;
		l.opts_len = sizeof(syn_opts);
	}
	return l;
}

struct ip_spec ipv4(const char *src, const char *dst)
{
	return (struct ip_spec){ .saddr = ip4(src), .daddr = ip4(dst), .id = 0x1234,
				 .frag = 0x4000, .ttl = 63 };
}

/* A client's packet (flags) from port to the mail VIP's port 25, and the
 * same as the local pod gets it (T_POD_LOCAL:2525): in and want. */
void mail_frames(uint16_t port, uint8_t flags, uint8_t *in, size_t *n, uint8_t *want, size_t *wn)
{
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(port, 25, flags);

	*n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	*wn = frame(want, &ip, &l, 0);
}

/* eth(router -> self) around ip/l4 */
size_t frame(uint8_t *buf, const struct ip_spec *ip, const struct l4_spec *l4, int vlans)
{
	uint8_t l3[4096];
	size_t n = build_ip(l3, ip, l4);

	return build_eth(buf, MAC_SELF, MAC_ROUTER, vlans, 0x0800, l3, n);
}

int setup_netns(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"sysctl -qw net.ipv4.ip_forward=1",	/* bpf_fib_lookup needs it, as a node does */
		"sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1",
		"ip link add nsnt0 type veth peer name nsnt1",
		"ip link set nsnt1 up",
		"ip link set nsnt0 address 02:00:00:00:00:11 mtu 1500 up",
		"ip addr add " T_NODE_SELF "/24 dev nsnt0",
		"ip neigh replace " T_NODE_B " lladdr 02:00:00:00:00:12 dev nsnt0 nud permanent",
		/* an IPv6 node network beside it: this node and B by v6 addresses */
		"ip -6 addr add " T6_NODE_SELF "/64 dev nsnt0 nodad",
		"ip -6 neigh replace " T6_NODE_B " lladdr 02:00:00:00:00:12 dev nsnt0 nud permanent",
	};

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (system(cmds[i])) {
			fprintf(stderr, "setup failed: %s\n", cmds[i]);
			return -1;
		}
	dummy_ifindex = (int)if_nametoindex("nsnt0");
	return dummy_ifindex ? 0 : -1;
}

int reload_maps(void)
{
	maps = (struct nosnat_maps){
#define X(field, map, name) .field = bpf_map__fd(skel->maps.map),
		NOSNAT_PINNED_MAPS(X)
#undef X
		.lock_fd = -1,
	};
	return 0;
}

/* The object loaded anew as attach loads it with --encap gue (gue 1) or
 * without, the maps empty and reset. */
int reload_encap(int gue)
{
	twin_unload();
	nosnat_bpf__destroy(skel);
	skel = NULL;
	test_encap_gue = gue;
	if (setup_skel())
		return -1;
	return cfg_reset();
}

int setup_skel(void)
{
	struct bpf_map *m;

	skel = nosnat_bpf__open();
	if (!skel)
		return -1;
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);	/* private maps, nothing pinned */
	skel->rodata->nosnat_have_ct = ct_kfuncs_available();
	skel->rodata->nosnat_xdp_meta = test_mode == MODE_XDP_META;
	skel->rodata->nosnat_encap_gue = test_encap_gue;
	skel->rodata->nosnat_xdp6_tail = !test_no_xdp6_tail && xdp_tail_call_probe();
	if (nosnat_bpf__load(skel))
		return -1;
	/* XDP's v6 walk in the slot XDP's entry point tail-calls, as attach
	 * fills it */
	{
		__u32 zero = 0;
		int fd = bpf_program__fd(skel->progs.nosnat_xdp6);

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.nosnat_xdp6_jmp), &zero, &fd, BPF_ANY))
			return -1;
	}
	return reload_maps();
}
