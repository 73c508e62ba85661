// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* BPF unit tests: crafted packets through BPF_PROG_TEST_RUN against the
 * production object, with maps configured by the loader's own code.
 * Each test asserts the verdict, the exact output bytes and that exactly
 * one {hook, action, reason} counter moved. Runs in a private netns. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "nosnat.skel.h"
#include "bench.skel.h"
#include "ct_helper.skel.h"
#include "nosnat_abi.h"
#include "../../bpf/lib/hash.h"
#include "apply.h"
#include "attach.h"
#include "config.h"
#include "maglev.h"
#include "ops.h"
#include "scratch.h"
#include "state.h"
#include "verify.h"
#include "vips.h"
#include "pkt.h"
#include <time.h>
#include <sys/resource.h>

static struct nosnat_bpf *skel;
static struct nosnat_maps maps;
static struct state st;		/* with its scratch: st.tmp = &st_tmp in main */
static struct scratch st_tmp;
static int dummy_ifindex;	/* the "uplink": a veth in a private netns */

#define FAIL(fmt, ...) do { \
	fprintf(stderr, "    %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
	return -1; } while (0)
#define CHECK(cond, fmt, ...) do { if (!(cond)) FAIL(fmt, ##__VA_ARGS__); } while (0)

/* --- harness ------------------------------------------------------------ */

struct run {
	uint8_t out[4096];
	uint8_t *pkt;		/* output packet (after any XDP metadata) */
	uint32_t len;
	uint32_t meta_len;
	uint32_t ret;
};

static int run_xdp(const uint8_t *in, size_t len, int ifindex, struct run *r)
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
	r->meta_len = ctx_out.data;
	r->pkt = r->out + ctx_out.data;
	r->len = o.data_size_out - ctx_out.data;
	return 0;
}

static int run_tc(int prog_fd, const uint8_t *in, size_t len, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	r->ret = o.retval;
	r->pkt = r->out;
	r->len = o.data_size_out;
	return 0;
}

static uint64_t stats_now[NOSNAT_STATS_SLOTS];

static uint64_t counter(int fd, __u32 key, int field, int nfields)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[256 * 3] = {}, sum = 0;

	if (ncpu > 256 || bpf_map_lookup_elem(fd, &key, vals))
		return UINT64_MAX;
	for (int c = 0; c < ncpu; c++)
		sum += vals[c * nfields + field];
	return sum;
}

static void stats_snap(void)
{
	for (__u32 i = 0; i < NOSNAT_STATS_SLOTS; i++)
		stats_now[i] = counter(maps.stats, i, 0, 2);
}

/* Exactly one packet counted since the snapshot, in this slot. */
static int stats_moved(__u32 hook, __u32 action, __u32 reason)
{
	__u32 want = nosnat_stat_slot(hook, action, reason);
	uint64_t total = 0, here = 0;

	for (__u32 i = 0; i < NOSNAT_STATS_SLOTS; i++) {
		uint64_t d = counter(maps.stats, i, 0, 2) - stats_now[i];

		total += d;
		if (i == want)
			here = d;
		else if (d)
			fprintf(stderr, "    counter slot %u moved by %llu\n", i, (unsigned long long)d);
	}
	return total == 1 && here == 1;
}

static void hexdiff(const uint8_t *got, size_t glen, const uint8_t *want, size_t wlen)
{
	size_t n = glen > wlen ? glen : wlen;

	fprintf(stderr, "    got %zu bytes, want %zu\n", glen, wlen);
	for (size_t i = 0; i < n; i++)
		if (i >= glen || i >= wlen || got[i] != want[i])
			fprintf(stderr, "    [%zu] got %02x want %02x\n", i, i < glen ? got[i] : 0,
				i < wlen ? want[i] : 0);
}

#define CHECK_BYTES(r, want, wlen) do { \
	if ((r)->len != (wlen) || memcmp((r)->pkt, (want), (wlen))) { \
		hexdiff((r)->pkt, (r)->len, (want), (wlen)); \
		FAIL("output bytes differ"); } } while (0)

/* --- configuration through the loader's code --------------------------- */

/* Entries of a flow table, walking its keys. */
static uint64_t count_entries_of(int fd)
{
	struct nosnat_flow_key key, next;
	uint64_t n = 0;

	if (bpf_map_get_next_key(fd, NULL, &key))
		return 0;
	do
		n++;
	while (!bpf_map_get_next_key(fd, &key, &next) && (key = next, 1));
	return n;
}

/* Empty the flow table. The next key is fetched before deleting: a deleted
 * key would restart the walk. */
static void map_clear(int fd)
{
	struct nosnat_flow_key key, next;
	int more;

	if (bpf_map_get_next_key(fd, NULL, &key))
		return;
	do {
		more = !bpf_map_get_next_key(fd, &key, &next);
		bpf_map_delete_elem(fd, &key);
		key = next;
	} while (more);
}

static int cfg_reset(void)
{
	struct nosnat_cfg cfg = {
		.node_ip = ip4(T_NODE_SELF), .ifindex = (__u32)dummy_ifindex,
		.mtu = 1500, .mss_max = 1440, .ct_mark_mask = NOSNAT_DEFAULT_CT_MARK_MASK,
	};
	__u32 zero = 0;

	if (bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY) || state_read(&maps, &st))
		return -1;
	while (st.n_vips)
		if (op_vip_del(&maps, &st, &st.vips[0].key))
			return -1;
	while (st.n_nodes)
		if (op_node_del(&maps, &st, st.nodes[0]))
			return -1;
	map_clear(maps.flows);
	map_clear(maps.flows_new);
	{	/* no next hop cached by an earlier test */
		static struct nosnat_nexthop none[256];
		int fd = bpf_map__fd(skel->maps.nosnat_nexthop);

		for (__u32 slot = 0; slot < NOSNAT_NEXTHOP_SLOTS; slot++)
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
static int ct_use(int on)
{
	struct nosnat_cfg cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(maps.cfg, &zero, &cfg))
		return -1;
	cfg.ct_mark_mask = on ? NOSNAT_DEFAULT_CT_MARK_MASK : 0;
	return bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY);
}

/* The flow key of T_CLIENT's TCP connection from sport to the mail VIP. */
static struct nosnat_flow_key client_flow(uint16_t sport)
{
	return (struct nosnat_flow_key){ .src = ip4(T_CLIENT), .dst = ip4(T_VIP), .sport = htons(sport),
					 .dport = htons(25), .proto = IPPROTO_TCP };
}

static struct nosnat_vip_key vkey(const char *addr, uint16_t port, uint8_t proto)
{
	return (struct nosnat_vip_key){ .addr = ip4(addr), .port = htons(port), .proto = proto };
}

static int add_vip(const char *addr, uint16_t port, uint8_t proto)
{
	struct nosnat_vip_key k = vkey(addr, port, proto);

	return op_vip_add(&maps, &st, &k);
}

static int add_be(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port,
		  const char *node, uint16_t weight)
{
	struct nosnat_vip_key k = vkey(vip, port, proto);

	return op_backend_add(&maps, &st, &k, ip4(pod), htons(pod_port), ip4(node), weight);
}

static int del_be(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port)
{
	struct nosnat_vip_key k = vkey(vip, port, proto);

	return op_backend_del(&maps, &st, &k, ip4(pod), htons(pod_port));
}

/* The mail VIP, 192.0.2.10:25/tcp, with one backend. */
static int mail_vip(const char *pod, uint16_t port, const char *node)
{
	return add_vip(T_VIP, 25, IPPROTO_TCP) ||
	       add_be(T_VIP, 25, IPPROTO_TCP, pod, port, node, 1);
}

/* --- packets ------------------------------------------------------------ */

/* Linux's SYN options: MSS, SACK permitted, timestamps, NOP, window scale. */
static uint8_t syn_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
static uint8_t syn_opts_1440[20] = { 2, 4, 0x05, 0xa0, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };

static struct l4_spec tcp(uint16_t sport, uint16_t dport, uint8_t flags)
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

static struct ip_spec ipv4(const char *src, const char *dst)
{
	return (struct ip_spec){ .saddr = ip4(src), .daddr = ip4(dst), .id = 0x1234,
				 .frag = 0x4000, .ttl = 63 };
}

/* eth(router -> self) around ip/l4 */
static size_t frame(uint8_t *buf, const struct ip_spec *ip, const struct l4_spec *l4, int vlans)
{
	uint8_t l3[2048];
	size_t n = build_ip(l3, ip, l4);

	return build_eth(buf, MAC_SELF, MAC_ROUTER, vlans, 0x0800, l3, n);
}

/* --- tests -------------------------------------------------------------- */

static int expect_local(const uint8_t *in, size_t n, const uint8_t *want, size_t wn);

static int t_local_syn(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40000, 25, TH_SYN);
	struct nosnat_flow_key fk = client_flow(40000);
	struct nosnat_pod_key pk = { .addr = ip4(T_POD_LOCAL), .port = htons(2525),
				     .proto = IPPROTO_TCP };
	struct nosnat_pod pod;
	struct nosnat_flow f;
	size_t n, wn;
	__u32 vid;
	int bid;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	vid = st.vips[0].val.id;
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);

	CHECK(!expect_local(in, n, want, wn), "local delivery");
	CHECK(counter(maps.vip_stat, vid, 0, 3) == 1, "vip packets");
	CHECK(counter(maps.vip_stat, vid, 1, 3) == n - 14, "vip bytes (IP length)");
	CHECK(counter(maps.vip_stat, vid, 2, 3) == 1, "vip new flows");
	bid = state_find_backend(&st, vid, ip4(T_POD_LOCAL), htons(2525));
	CHECK(bpf_map_lookup_elem(maps.flows, &fk, &f), "a SYN's flow is not established");
	CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &f), "flow entry missing from the new-flow table");
	CHECK(f.backend_id == (__u32)bid && f.backend_addr == ip4(T_POD_LOCAL) && f.syn_ack == htonl(1001),
	      "flow value: backend %u addr %x syn_ack %u", f.backend_id, f.backend_addr, ntohl(f.syn_ack));
	{
		struct nosnat_vip_id vi;
		__u32 x = nosnat_pod_index(&pk);
		struct nosnat_pod dir;

		CHECK(!bpf_map_lookup_elem(maps.vip_ids, &vid, &vi), "vip ids");
		CHECK(!bpf_map_lookup_elem(maps.pods, &pk, &pod) && pod.count == 1 &&
		      pod.slots[0].id == (__u32)bid && pod.slots[0].vip_ref == vi.ref &&
		      pod.slots[0].vip_addr == ip4(T_VIP) && pod.slots[0].vip_port == htons(25) &&
		      f.vip_ref == vi.ref, "the pod's replies are looked for: slot %u ref %u/%u",
		      pod.slots[0].id, pod.slots[0].vip_ref, vi.ref);
		CHECK(!bpf_map_lookup_elem(maps.pod_dir, &x, &dir) && !memcmp(&dir, &pod, sizeof(dir)),
		      "the directory holds the pod at its index %u", x);
	}
	return 0;
}

static int t_remote_syn(void)
{
	uint8_t in[256], inner[256], outer[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40001, 25, TH_SYN);
	struct run r;
	size_t n, in_n, out_n, wn;
	__u16 tag = backend_tag(ip4(T_POD_B), htons(2525));

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	n = frame(in, &ip, &l, 0);
	l.opts = syn_opts_1440;		/* clamped: 1500 - 20 (IPIP) - 20 - 20 */
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), tag, 0, 0x4000, inner, in_n);
	wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);

	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	CHECK(r.ret == XDP_TX, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "counter");

	/* Arriving on another interface than the next hop's: redirect. */
	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_REDIRECT, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "counter");
	return 0;
}

/* MSS after a NOP: its value sits at an odd offset, where the checksum
 * update must be byte-swapped. */
static int t_mss_odd_offset(void)
{
	static uint8_t opts[8] = { 1, 2, 4, 0x23, 0x28, 1, 1, 0 };	/* NOP, MSS 9000, pad */
	static uint8_t opts_c[8] = { 1, 2, 4, 0x05, 0xa0, 1, 1, 0 };
	uint8_t in[256], inner[256], outer[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40050, 25, TH_SYN);
	struct run r;
	size_t n, in_n, out_n, wn;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	l.opts = opts;
	l.opts_len = sizeof(opts);
	n = frame(in, &ip, &l, 0);
	l.opts = opts_c;
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
			   backend_tag(ip4(T_POD_B), htons(2525)), 0, 0x4000, inner, in_n);
	wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	CHECK(r.ret == XDP_TX, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

static int t_remote_no_neigh(void)
{
	uint8_t in[256], inner[256], outer[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40002, 25, TH_ACK);
	struct nosnat_meta meta;
	struct run r;
	size_t n, in_n, out_n, wn;

	CHECK(!mail_vip(T_POD_C, 25, T_NODE_C), "mail VIP");
	n = frame(in, &ip, &l, 0);
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_C),
			   backend_tag(ip4(T_POD_C), htons(25)), 0, 0x4000, inner, in_n);
	/* MACs untouched: the kernel's neighbour code fills them in later */
	wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, out_n);

	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	CHECK(r.ret == XDP_PASS, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(r.meta_len == sizeof(meta), "metadata length %u", r.meta_len);
	memcpy(&meta, r.out, sizeof(meta));
	CHECK(meta.magic == NOSNAT_META_MAGIC && meta.ifindex == (__u32)dummy_ifindex,
	      "metadata %x/%u", meta.magic, meta.ifindex);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NEIGH_FALLBACK), "counter");

	/* A veth uplink (encap via tc): even a resolved next hop goes to tc. */
	{
		struct nosnat_cfg cfg;
		__u32 zero = 0;

		CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
		cfg.flags |= NOSNAT_CFG_ENCAP_VIA_TC;
		CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
		CHECK(!add_vip(T_VIP, 26, IPPROTO_TCP), "vip add");
		CHECK(!add_be(T_VIP, 26, IPPROTO_TCP, T_POD_B, 26, T_NODE_B, 1), "be add");
		ip = ipv4(T_CLIENT, T_VIP);
		l = tcp(40002, 26, TH_ACK);
		n = frame(in, &ip, &l, 0);
		in_n = build_ip(inner, &ip, &l);
		out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
				   backend_tag(ip4(T_POD_B), htons(26)), 0, 0x4000, inner, in_n);
		wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, out_n);
		stats_snap();
		CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
		CHECK(r.ret == XDP_PASS && r.meta_len == sizeof(meta), "verdict %u meta %u", r.ret, r.meta_len);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_TC_FORWARD), "counter");
	}
	return 0;
}

static int t_existing_flow_sticks(void)
{
	struct maglev_backend mb[2] = {
		{ .addr = ip4(T_POD_LOCAL), .port = htons(2525), .weight = 1 },
		{ .addr = ip4(T_POD_LOCAL2), .port = htons(2525), .weight = 1 },
	};
	static uint32_t table[NOSNAT_MAGLEV_SIZE];
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l;
	uint16_t moved = 0, fresh = 0;
	struct run r;
	size_t n, wn;

	CHECK(!maglev_build(mb, 2, NOSNAT_MAGLEV_SIZE, table), "maglev");
	/* Find a flow the new table would send to the second pod, and a
	 * second such flow that starts only after the change. */
	for (uint16_t p = 41000; p < 42000 && !fresh; p++) {
		__u32 h = nosnat_flow_hash(ip4(T_CLIENT), ip4(T_VIP), htons(p), htons(25),
					   IPPROTO_TCP);

		if (table[h % NOSNAT_MAGLEV_SIZE] != 1)
			continue;
		if (!moved)
			moved = p;
		else
			fresh = p;
	}
	CHECK(moved && fresh, "no flow found that the new table moves");

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	l = tcp(moved, 25, TH_SYN);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1), "backend add");

	l = tcp(moved, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!expect_local(in, n, want, wn), "local delivery");

	/* A new flow follows the new table: the second pod. */
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(fresh, 25, TH_SYN);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL2);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "new SYN");
	CHECK_BYTES(&r, want, wn);
	return 0;
}

/* XDP_PASS with exactly want as output, counted once under action/reason. */
/* in through XDP (arriving on ifindex): verdict ret, exactly want out, and
 * one packet counted as {xdp, action, reason}. */
static int expect_xdp(const uint8_t *in, size_t n, int ifindex, __u32 ret, const uint8_t *want,
		      size_t wn, __u32 action, __u32 reason)
{
	struct run r;

	stats_snap();
	CHECK(!run_xdp(in, n, ifindex, &r), "test run");
	CHECK(r.ret == ret, "verdict %u, want %u", r.ret, ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, action, reason), "counter");
	return 0;
}

static int expect_pass(const uint8_t *in, size_t n, const uint8_t *want, size_t wn,
		       __u32 action, __u32 reason)
{
	return expect_xdp(in, n, 1, XDP_PASS, want, wn, action, reason);
}

/* A frame DNATed to a local pod. */
static int expect_local(const uint8_t *in, size_t n, const uint8_t *want, size_t wn)
{
	return expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE);
}

/* Packets that are not ours leave exactly as they came. */
static int expect_untouched(const uint8_t *in, size_t n, __u32 reason)
{
	return expect_pass(in, n, in, n, NOSNAT_ACT_PASS, reason);
}

static int expect_drop(const uint8_t *in, size_t n, __u32 reason)
{
	struct run r;

	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_DROP, "verdict %u", r.ret);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, reason), "counter");
	return 0;
}

static int t_non_vip(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_OTHER);
	struct l4_spec l = tcp(40003, 25, TH_SYN);
	uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!expect_untouched(in, frame(in, &ip, &l, 0), NOSNAT_R_NONE), "non-VIP TCP");
	ip.daddr = ip4(T_NODE_SELF);	/* to the node itself, e.g. ssh */
	l = tcp(40003, 22, TH_SYN);
	CHECK(!expect_untouched(in, frame(in, &ip, &l, 0), NOSNAT_R_NONE), "to the node");
	CHECK(!expect_untouched(arp, sizeof(arp), NOSNAT_R_NONE), "ARP");
	return 0;
}

static int t_vip_other_port(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40004, 80, TH_SYN);

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!expect_untouched(in, frame(in, &ip, &l, 0), NOSNAT_R_NONE), "VIP:80");
	l = (struct l4_spec){ .proto = IPPROTO_UDP, .sport = 40004, .dport = 25 };
	CHECK(!expect_untouched(in, frame(in, &ip, &l, 0), NOSNAT_R_NONE), "VIP:25/udp");
	return 0;
}

static int t_no_backend(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40005, 25, TH_SYN);

	CHECK(!add_vip(T_VIP, 25, IPPROTO_TCP), "vip add");
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_NO_BACKEND), "no backends");
	/* draining only (weight 0): no new flows */
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 0), "backend add");
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_NO_BACKEND), "draining");
	return 0;
}

static size_t ipip_frame(uint8_t *buf, const char *outer_src, uint16_t id,
			 const struct ip_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2048];
	size_t in_n = build_ip(inner, ip, l);
	size_t out_n = build_ipip(outer, ip4(outer_src), ip4(T_NODE_SELF), id, 0, 0x4000, inner, in_n);

	return build_eth(buf, MAC_SELF, MAC_B, 0, 0x0800, outer, out_n);
}

/* What this node sends to node to_node: ip/l in IPIP with outer ID id. */
static size_t encap_frame(uint8_t *buf, const char *to_node, uint16_t id, const struct ip_spec *ip,
			  const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2048];
	size_t in_n = build_ip(inner, ip, l);
	size_t out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(to_node), id, 0, 0x4000, inner, in_n);

	return build_eth(buf, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
}

static int t_ipip_unknown_source(void)
{
	uint8_t in[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40006, 25, TH_SYN);

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!expect_drop(in, ipip_frame(in, T_STRANGER, 0, &ip, &l), NOSNAT_R_UNKNOWN_ENCAP_SRC),
	      "forged encapsulation");
	/* Someone else's tunnel (e.g. Calico IPIP): inner dst is not a VIP. */
	ip.daddr = ip4(T_POD_LOCAL);
	CHECK(!expect_untouched(in, ipip_frame(in, T_STRANGER, 0, &ip, &l), NOSNAT_R_NONE),
	      "foreign IPIP");
	CHECK(!expect_untouched(in, ipip_frame(in, T_NODE_B, 0, &ip, &l), NOSNAT_R_NONE),
	      "node IPIP to a pod");
	return 0;
}

static int t_ipip_known_node(void)
{
	uint8_t in[512], want[512], reply[256], want_reply[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40007, 25, TH_SYN);
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1), "backend add");
	/* The ingress node chose the second pod; its tag says so. */
	n = ipip_frame(in, T_NODE_B, backend_tag(ip4(T_POD_LOCAL2), htons(2525)), &ip, &l);
	ip.daddr = ip4(T_POD_LOCAL2);
	l.dport = 2525;
	{
		uint8_t l3[256];
		size_t l3n = build_ip(l3, &ip, &l);

		wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x0800, l3, l3n);
	}
	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_PASS, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DECAP, NOSNAT_R_NONE), "counter");

	/* The pod's SYN-ACK: source back to the VIP, MSS lowered for the
	 * encapsulated client->pod direction. */
	{
		struct ip_spec rip = ipv4(T_POD_LOCAL2, T_CLIENT);
		struct l4_spec rl = tcp(2525, 40007, TH_SYN | TH_ACK);
		int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
		size_t rn = frame(reply, &rip, &rl, 0), wrn;

		rip.saddr = ip4(T_VIP);
		rl.sport = 25;
		rl.opts = syn_opts_1440;
		wrn = frame(want_reply, &rip, &rl, 0);
		stats_snap();
		CHECK(!run_tc(fd, reply, rn, &r), "tc run");
		CHECK(r.ret == TC_ACT_OK, "tc verdict %u", r.ret);
		CHECK_BYTES(&r, want_reply, wrn);
		CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_NONE), "counter");
	}
	return 0;
}

static int t_truncated(void)
{
	uint8_t in[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40008, 25, TH_SYN);
	size_t n;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	/* (test_run refuses frames shorter than an Ethernet header) */
	/* A VLAN tag announced, the frame ends */
	{
		uint8_t v[14];

		memcpy(v, in, 12);
		v[12] = 0x81;
		v[13] = 0x00;
		CHECK(!expect_untouched(v, sizeof(v), NOSNAT_R_NONE), "vlan tag");
	}
	/* IPv4 announced, no header at all */
	CHECK(!expect_untouched(in, 14, NOSNAT_R_MALFORMED), "no ip header");
	/* IPv4 header cut before the destination: whose, nobody can say */
	CHECK(!expect_untouched(in, 14 + 12, NOSNAT_R_MALFORMED), "ip header");
	/* tot_len promises more than the frame holds */
	CHECK(!expect_drop(in, 14 + 20 + 10, NOSNAT_R_MALFORMED), "ip payload");
	/* consistent IP header, TCP header cut */
	{
		uint8_t l3[256];
		struct l4_spec raw = { .payload = in + 14 + 20, .payload_len = 10 };
		struct ip_spec t = ip;
		size_t l3n;

		t.proto = IPPROTO_TCP;
		l3n = build_ip(l3, &t, &raw);
		n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
		CHECK(!expect_drop(in, n, NOSNAT_R_MALFORMED), "tcp header");
	}
	/* TCP data offset beyond the packet */
	n = frame(in, &ip, &l, 0);
	in[14 + 20 + 12] = 0xf0;
	CHECK(!expect_drop(in, n, NOSNAT_R_MALFORMED), "tcp doff");
	/* IHL below 5 */
	n = frame(in, &ip, &l, 0);
	in[14] = 0x44;
	CHECK(!expect_drop(in, n, NOSNAT_R_MALFORMED), "ihl");
	/* IPIP from a node whose inner header is cut */
	n = ipip_frame(in, T_NODE_B, 0, &ip, &l);
	{
		uint8_t outer[256];
		size_t on = build_ipip(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), 0, 0, 0x4000,
				       in + 14 + 20, 12);

		n = build_eth(in, MAC_SELF, MAC_B, 0, 0x0800, outer, on);
		CHECK(!expect_untouched(in, n, NOSNAT_R_MALFORMED), "inner ip header");
	}
	return 0;
}

static int t_ip_options(void)
{
	static const uint8_t opts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };	/* router alert, NOPs */
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40009, 25, TH_SYN);
	size_t n, wn;

	ip.opts = opts;
	ip.opts_len = sizeof(opts);
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!expect_local(in, n, want, wn), "local delivery");
	return 0;
}

static int t_fragments(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40010, 25, TH_ACK);

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	ip.frag = 0x2000;	/* MF, offset 0 */
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_FRAGMENT), "first fragment");
	ip.frag = 185;		/* offset 1480, last */
	l = (struct l4_spec){ .payload = "later fragment bytes", .payload_len = 20 };
	ip.proto = IPPROTO_TCP;
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_FRAGMENT), "later fragment");
	ip.daddr = ip4(T_OTHER);
	CHECK(!expect_untouched(in, frame(in, &ip, &l, 0), NOSNAT_R_NONE), "non-VIP fragment");
	return 0;
}

static int t_udp(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = { .proto = IPPROTO_UDP, .sport = 40011, .dport = 53,
			     .payload = "query", .payload_len = 5 };
	size_t n, wn;

	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "backend add");
	for (int zero = 0; zero < 2; zero++) {
		ip.daddr = ip4(T_VIP);
		l.dport = 53;
		l.udp_no_csum = zero;
		n = frame(in, &ip, &l, 0);
		ip.daddr = ip4(T_POD_LOCAL);
		l.dport = 5353;
		wn = frame(want, &ip, &l, 0);
		CHECK(!expect_local(in, n, want, wn), "local delivery");
	}
	return 0;
}

static int t_vlan(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip;
	struct l4_spec l;
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	for (int tags = 1; tags <= 2; tags++) {
		ip = ipv4(T_CLIENT, T_VIP);
		l = tcp((uint16_t)(40012 + tags), 25, TH_SYN);
		n = frame(in, &ip, &l, tags);
		ip.daddr = ip4(T_POD_LOCAL);
		l.dport = 2525;
		wn = frame(want, &ip, &l, tags);
		stats_snap();
		CHECK(!run_xdp(in, n, 1, &r), "test run");
		CHECK(r.ret == XDP_PASS, "verdict %u (%d tags)", r.ret, tags);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "counter");
	}
	return 0;
}

static int t_tc_reply(void)
{
	uint8_t in[256], reply[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40020, 25, TH_SYN);
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");

	/* Before any client came through the VIP: the pod's packet is its own. */
	ip = ipv4(T_POD_LOCAL, T_CLIENT);
	l = tcp(2525, 40020, TH_SYN | TH_ACK);
	n = frame(reply, &ip, &l, 0);
	stats_snap();
	CHECK(!run_tc(fd, reply, n, &r), "tc run");
	CHECK(r.ret == TC_ACT_OK, "verdict %u", r.ret);
	CHECK_BYTES(&r, reply, n);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");

	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40020, 25, TH_SYN);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "client SYN");

	/* Now the reply leaves as the VIP, its MSS lowered (a failover may
	 * encapsulate this flow later). */
	ip = ipv4(T_POD_LOCAL, T_CLIENT);
	l = tcp(2525, 40020, TH_SYN | TH_ACK);
	n = frame(reply, &ip, &l, 0);
	ip.saddr = ip4(T_VIP);
	l.sport = 25;
	l.opts = syn_opts_1440;
	wn = frame(want, &ip, &l, 0);
	stats_snap();
	CHECK(!run_tc(fd, reply, n, &r), "tc run");
	CHECK(r.ret == TC_ACT_OK, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_NONE), "counter");

	/* Same pod, another client (or the pod reached by its own address). */
	ip = ipv4(T_POD_LOCAL, T_CLIENT2);
	l = tcp(2525, 40020, TH_ACK);
	n = frame(reply, &ip, &l, 0);
	stats_snap();
	CHECK(!run_tc(fd, reply, n, &r), "tc run");
	CHECK_BYTES(&r, reply, n);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");

	/* UDP reply with a checksum */
	{
		struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40021, .dport = 53,
				     .payload = "q", .payload_len = 1 };

		CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
		CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 53, T_NODE_SELF, 1), "be add");
		ip = ipv4(T_CLIENT, T_VIP);
		n = frame(in, &ip, &u, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "udp query");
		ip = ipv4(T_POD_LOCAL, T_CLIENT);
		u = (struct l4_spec){ .proto = IPPROTO_UDP, .sport = 53, .dport = 40021,
				      .payload = "answer", .payload_len = 6 };
		n = frame(reply, &ip, &u, 0);
		ip.saddr = ip4(T_VIP);
		wn = frame(want, &ip, &u, 0);
		CHECK(!run_tc(fd, reply, n, &r), "tc run");
		CHECK_BYTES(&r, want, wn);
	}
	return 0;
}

static int t_icmp_frag_needed(void)
{
	static uint8_t payload[1500];
	uint8_t in[2048], orig_l3[2048], want[256], icmp[64], l3[128];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40030, 25, TH_ACK);
	struct run r;
	size_t n, l3n, wn;
	uint16_t c;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	l.payload = payload;
	l.payload_len = 1500 - 40;	/* a full 1500-byte packet: +20 does not fit */
	n = frame(in, &ip, &l, 0);
	build_ip(orig_l3, &ip, &l);
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = 3;
	icmp[1] = 4;
	icmp[6] = 1480 >> 8;
	icmp[7] = 1480 & 0xff;
	memcpy(icmp + 8, orig_l3, 28);
	c = csum16(icmp, 36, 0);
	memcpy(icmp + 2, &c, 2);
	{
		struct ip_spec o = { .saddr = ip4(T_NODE_SELF), .daddr = ip4(T_CLIENT),
				     .proto = IPPROTO_ICMP, .tos = 0xc0, .ttl = 64 };
		struct l4_spec p = { .payload = icmp, .payload_len = 36 };

		l3n = build_ip(l3, &o, &p);
	}
	wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_TX, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED), "counter");

	/* With IP options: the quote is the whole header and 8 bytes */
	{
		static const uint8_t nops[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };	/* NOPs, EOL */
		uint8_t big[128];

		ip.opts = nops;
		ip.opts_len = sizeof(nops);
		l.payload_len = 1500 - 48;
		n = frame(in, &ip, &l, 0);
		build_ip(orig_l3, &ip, &l);
		memset(big, 0, sizeof(big));
		big[0] = 3;
		big[1] = 4;
		big[6] = 1480 >> 8;
		big[7] = 1480 & 0xff;
		memcpy(big + 8, orig_l3, 28 + 8);
		c = csum16(big, 44, 0);
		memcpy(big + 2, &c, 2);
		{
			struct ip_spec o = { .saddr = ip4(T_NODE_SELF), .daddr = ip4(T_CLIENT),
					     .proto = IPPROTO_ICMP, .tos = 0xc0, .ttl = 64 };
			struct l4_spec p = { .payload = big, .payload_len = 44 };

			l3n = build_ip(l3, &o, &p);
		}
		wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
		stats_snap();
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_TX, "options: verdict %u", r.ret);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED), "counter");

		/* a veth uplink (encap via tc): the error leaves the way
		 * encapsulated frames do, through the tc twin */
		{
			struct nosnat_cfg cfg;
			struct nosnat_meta meta;
			__u32 zero = 0;

			CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
			cfg.flags |= NOSNAT_CFG_ENCAP_VIA_TC;
			CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
			wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
			stats_snap();
			CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "tc: verdict %u", r.ret);
			CHECK(r.meta_len == sizeof(meta), "metadata length %u", r.meta_len);
			memcpy(&meta, r.out, sizeof(meta));
			CHECK(meta.magic == NOSNAT_META_MAGIC && meta.ifindex == (__u32)dummy_ifindex,
			      "metadata %x/%u", meta.magic, meta.ifindex);
			CHECK_BYTES(&r, want, wn);
			CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED), "counter");
		}
		ip.opts = NULL;
		ip.opts_len = 0;
		l.payload_len = 1500 - 40;
	}

	/* Without DF nothing may be sent back: dropped, counted */
	ip.frag = 0;
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_TOO_BIG), "no DF");

	/* At most NOSNAT_ICMP_PER_SEC a second from one CPU, then dropped, counted */
	{
		cpu_set_t one, old;
		int sent = 0, limited = 0, rc = -1;
		__u32 slot = nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_LIMITED);

		ip.frag = 0x4000;
		n = frame(in, &ip, &l, 0);
		CHECK(!sched_getaffinity(0, sizeof(old), &old), "affinity");
		CPU_ZERO(&one);
		CPU_SET(0, &one);
		CHECK(!sched_setaffinity(0, sizeof(one), &one), "to CPU 0");
		usleep(1100000);	/* a fresh second of this CPU's budget */
		for (int i = 0; i < NOSNAT_ICMP_PER_SEC + 20; i++) {
			uint64_t before = counter(maps.stats, slot, 0, 2);

			if (run_xdp(in, n, 1, &r))
				goto out;
			if (counter(maps.stats, slot, 0, 2) != before)
				limited += r.ret == XDP_DROP;
			else
				sent += r.ret == XDP_TX || r.ret == XDP_PASS;
		}
		rc = 0;
out:
		sched_setaffinity(0, sizeof(old), &old);
		CHECK(!rc, "runs");
		/* the budget is per second: a run crossing its end gets a few more */
		CHECK(sent >= NOSNAT_ICMP_PER_SEC && sent + limited == NOSNAT_ICMP_PER_SEC + 20 && limited > 0,
		      "%d sent, %d limited", sent, limited);
	}
	return 0;
}

/* A client whose SYN carries IP options sends them in every segment: the
 * clamp leaves room for them inside the tunnel's MTU. */
static int t_mss_clamp_ip_options(void)
{
	static const uint8_t nops[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	static uint8_t syn_opts_1432[20] = { 2, 4, 0x05, 0x98, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
	uint8_t in[256], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40060, 25, TH_SYN);
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	ip.opts = nops;
	ip.opts_len = sizeof(nops);
	n = frame(in, &ip, &l, 0);
	l.opts = syn_opts_1432;		/* 1500 - 20 (IPIP) - 20 - 8 (options) - 20 */
	wn = encap_frame(want, T_NODE_B, backend_tag(ip4(T_POD_B), htons(2525)), &ip, &l);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_TX, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

static int t_backend_removed_flow_moves(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40040, 25, TH_SYN);
	struct nosnat_vip_key k = vkey(T_VIP, 25, IPPROTO_TCP);
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN");
	/* The pod goes away and another takes its place. */
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1), "backend add");
	CHECK(!op_backend_del(&maps, &st, &k, ip4(T_POD_LOCAL), htons(2525)), "backend del");
	l = tcp(40040, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL2);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "ACK");
	CHECK_BYTES(&r, want, wn);
	return 0;
}

/* --- apply: any state to any state ----------------------------------- */

static uint32_t rng = 12345;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

static void random_config(struct config *c)
{
	static const char *const nodes[] = { T_NODE_SELF, T_NODE_B, T_NODE_C, "198.51.100.14",
					     "198.51.100.15" };
	static const char *const vips[] = { "192.0.2.10", "192.0.2.11" };
	static const uint16_t ports[] = { 25, 465, 587 };
	__be32 chosen[5];
	size_t n_chosen = 0;

	memset(c, 0, offsetof(struct config, vips));
	c->n_vips = c->n_bes = 0;
	for (size_t i = 0; i < 5; i++)
		if (i == 0 || rnd(3))
			chosen[n_chosen++] = c->nodes[c->n_nodes++] = ip4(nodes[i]);
	for (size_t v = 0; v < 2; v++)
		for (size_t p = 0; p < 3; p++) {
			struct config_vip *cv;
			size_t nb = rnd(6);

			if (!rnd(3))
				continue;
			cv = &c->vips[c->n_vips++];
			memset(cv, 0, sizeof(*cv));
			cv->key = (struct nosnat_vip_key){ .addr = ip4(vips[v]), .port = htons(ports[p]),
							   .proto = rnd(4) ? IPPROTO_TCP : IPPROTO_UDP };
			/* a VIP:port may appear once per protocol; keep it unique */
			for (size_t j = 0; j + 1 < c->n_vips; j++)
				if (!memcmp(&c->vips[j].key, &cv->key, sizeof(cv->key)))
					cv->key.proto = cv->key.proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
			if (rnd(2))
				snprintf(cv->name, sizeof(cv->name), "svc%u", rnd(3));
			cv->first_be = c->n_bes;
			for (size_t b = 0; b < 8 && cv->n_be < nb; b++) {
				if (rnd(2))
					continue;
				c->bes[c->n_bes++] = (struct config_backend){
					.addr = htonl(0xc6120100u + (uint32_t)b),	/* 198.18.1.x */
					.node = chosen[rnd((uint32_t)n_chosen)],
					.port = htons((uint16_t)(2525 + rnd(2))),
					.weight = (uint16_t)rnd(4),
				};
				/* same pod twice with the same port would be a duplicate */
				for (size_t j = cv->first_be; j + 1 < c->n_bes; j++)
					if (c->bes[j].addr == c->bes[c->n_bes - 1].addr)
						c->bes[c->n_bes - 1].port = c->bes[j].port = htons(2525);
				for (size_t j = cv->first_be; j + 1 < c->n_bes; j++)
					if (c->bes[j].addr == c->bes[c->n_bes - 1].addr) {
						c->n_bes--;
						break;
					}
				cv->n_be = c->n_bes - cv->first_be;
			}
		}
}

/* The maps say exactly what the config says. */
static int state_matches(const struct config *c, const struct state *prev)
{
	static struct state now;
	static uint32_t table[NOSNAT_MAGLEV_SIZE];

	CHECK(!state_read(&maps, &now), "state read");
	CHECK(now.n_vips == c->n_vips, "%zu VIPs, want %zu", now.n_vips, c->n_vips);
	CHECK(now.n_nodes == c->n_nodes, "%zu nodes, want %zu", now.n_nodes, c->n_nodes);
	for (size_t i = 0; i < c->n_nodes; i++)
		CHECK(state_has_node(&now, c->nodes[i]), "node missing");
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct config_vip *cv = &c->vips[i];
		struct vip_entry *v = state_find_vip(&now, &cv->key);
		struct nosnat_local local = {};
		unsigned int count = 0, active = 0, want_local = 0;
		__u32 inner_id, slot;
		int inner;

		CHECK(v, "VIP %zu missing", i);
		CHECK(!strcmp(v->name, cv->name), "name '%s' want '%s'", v->name, cv->name);
		for (size_t b = 0; b < cv->n_be; b++) {
			const struct config_backend *cb = &c->bes[cv->first_be + b];
			int id = state_find_backend(&now, v->val.id, cb->addr, cb->port);

			CHECK(id >= 0, "backend missing");
			CHECK(now.be[id].weight == cb->weight && now.be[id].node == cb->node, "backend fields");
			active += cb->weight > 0;
			want_local += cb->node == now.cfg.node_ip;
			/* a backend that stayed keeps its slot, so its flows stay */
			if (prev) {
				struct nosnat_vip_key k = cv->key;
				const struct vip_entry *pv = NULL;

				for (size_t j = 0; j < prev->n_vips; j++)
					if (!memcmp(&prev->vips[j].key, &k, sizeof(k)))
						pv = &prev->vips[j];
				if (pv) {
					int old = state_find_backend(prev, pv->val.id, cb->addr, cb->port);

					CHECK(old < 0 || old == id, "backend moved from slot %d to %d", old, id);
				}
			}
		}
		for (int id = 0; id < NOSNAT_MAX_BACKENDS; id++)
			if ((now.be[id].flags & NOSNAT_BE_IN_USE) && now.be[id].vip_id == v->val.id)
				count++;
		CHECK(count == cv->n_be, "%u backends, want %zu", count, cv->n_be);
		CHECK(v->val.active == active, "active %u want %u", v->val.active, active);
		CHECK(!bpf_map_lookup_elem(maps.local, &v->val.id, &local) && local.count == want_local,
		      "local list %u want %u", local.count, want_local);
		if (!active) {
			CHECK(bpf_map_lookup_elem(maps.maglev, &v->val.id, &inner_id), "stale Maglev table");
			continue;
		}
		CHECK(!bpf_map_lookup_elem(maps.maglev, &v->val.id, &inner_id), "no Maglev table");
		inner = bpf_map_get_fd_by_id(inner_id);
		CHECK(inner >= 0, "inner map");
		slot = 0;
		CHECK(!bpf_map_lookup_elem(inner, &slot, table), "table read");
		close(inner);
		for (slot = 0; slot < NOSNAT_MAGLEV_SIZE; slot += 97) {
			const struct nosnat_backend *b = &now.be[table[slot] % NOSNAT_MAX_BACKENDS];

			CHECK(table[slot] < NOSNAT_MAX_BACKENDS && (b->flags & NOSNAT_BE_IN_USE) &&
			      b->vip_id == v->val.id && b->weight > 0, "slot %u -> %u", slot, table[slot]);
		}
	}
	return 0;
}

static int t_apply_converges(void)
{
	static struct config c;
	static struct state before;
	char err[512];
	int rc;

	CHECK(!state_read(&maps, &st), "state");
	/* imperative leftovers that apply must remove */
	CHECK(!add_vip("192.0.2.99", 80, IPPROTO_TCP), "vip add");
	CHECK(!add_be("192.0.2.99", 80, IPPROTO_TCP, T_POD_LOCAL, 80, T_NODE_SELF, 1), "be add");
	for (int round = 0; round < 40; round++) {
		random_config(&c);
		memcpy(&before, &st, sizeof(before));
		rc = config_apply(&maps, &st, &c, "random", 0, NULL, err, sizeof(err));
		CHECK(rc >= 0, "round %d: %s", round, err);
		if (state_matches(&c, &before))
			FAIL("round %d: state differs from the config", round);
		/* applying the same again changes nothing */
		rc = config_apply(&maps, &st, &c, "random", 0, NULL, err, sizeof(err));
		CHECK(rc == 0, "round %d: re-apply made %d changes", round, rc);
		CHECK(!state_verify(&maps, &st, stderr), "round %d: maps disagree", round);
	}
	return 0;
}

/* A pod port answers for at most NOSNAT_POD_IDS VIP ports of a protocol:
 * one more is refused, by apply (naming the line) and by 'backend add',
 * and nothing changes. */
static int t_pod_port_limit(void)
{
	static struct config c;
	static struct state before;
	char err[512];
	int rc;

	memset(&c, 0, offsetof(struct config, vips));
	c.n_vips = c.n_bes = 0;
	c.nodes[c.n_nodes++] = ip4(T_NODE_SELF);
	for (int i = 0; i <= NOSNAT_POD_IDS; i++) {
		struct config_vip *cv = &c.vips[c.n_vips++];

		memset(cv, 0, sizeof(*cv));
		cv->key = vkey(T_VIP, (uint16_t)(1000 + i), IPPROTO_TCP);
		cv->first_be = c.n_bes;
		cv->n_be = 1;
		c.bes[c.n_bes++] = (struct config_backend){ .addr = ip4(T_POD_LOCAL), .node = ip4(T_NODE_SELF),
							    .port = htons(2525), .weight = 1,
							    .line = (unsigned int)(10 + i), .col = 7 };
	}
	memcpy(&before, &st, sizeof(before));
	rc = config_apply(&maps, &st, &c, "pods.yaml", 0, NULL, err, sizeof(err));
	CHECK(rc == -EMLINK && strstr(err, "pods.yaml:1") && strstr(err, T_POD_LOCAL ":2525") &&
	      strstr(err, "more than 7 VIP ports"), "refused: %d %s", rc, err);
	CHECK(!memcmp(&before, &st, sizeof(st)) && st.n_vips == 0, "nothing changed");

	c.n_vips--;	/* seven: accepted */
	c.n_bes--;
	rc = config_apply(&maps, &st, &c, "pods.yaml", 0, NULL, err, sizeof(err));
	CHECK(rc > 0, "seven applied: %s", err);
	CHECK(!add_vip(T_VIP, 2000, IPPROTO_TCP), "eighth VIP port");
	CHECK(add_be(T_VIP, 2000, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 1) == -EMLINK,
	      "eighth backend refused");
	CHECK(!add_be(T_VIP, 2000, IPPROTO_TCP, T_POD_LOCAL, 2526, T_NODE_SELF, 1), "another port is fine");
	CHECK(!state_verify(&maps, &st, stderr), "maps agree");
	return 0;
}

/* Packets from a Linux sender over veth carry a partial check. Local
 * delivery keeps that form (the pod's stack trusts it); a packet that
 * leaves as an encapsulated frame gets its checksum completed. */
static int t_partial_checksums(void)
{
	uint8_t in[1024], want[1024], inner[1024], outer[1024];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40060, 25, TH_SYN);
	static uint8_t payload[301];
	struct run r;
	size_t n, wn, in_n, out_n;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	l4_set_partial(in + 14);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	l4_set_partial(want + 14);
	CHECK(!expect_local(in, n, want, wn), "local delivery keeps the partial form");

	/* UDP too */
	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "be add");
	{
		struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40061, .dport = 53,
				     .payload = "q", .payload_len = 1 };

		ip = ipv4(T_CLIENT, T_VIP);
		n = frame(in, &ip, &u, 0);
		l4_set_partial(in + 14);
		ip.daddr = ip4(T_POD_LOCAL);
		u.dport = 5353;
		wn = frame(want, &ip, &u, 0);
		l4_set_partial(want + 14);
		CHECK(!expect_local(in, n, want, wn), "udp local delivery");
	}

	/* Remote: complete checksums (odd payload length), then the MSS clamp. */
	CHECK(!cfg_reset(), "reset");
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	for (int syn = 0; syn < 2; syn++) {
		ip = ipv4(T_CLIENT, T_VIP);
		l = tcp(40062, 25, syn ? TH_SYN : TH_ACK | TH_PSH);
		if (!syn) {
			for (size_t i = 0; i < sizeof(payload); i++)
				payload[i] = (uint8_t)(i * 7 + 3);
			l.payload = payload;
			l.payload_len = sizeof(payload);
		}
		n = frame(in, &ip, &l, 0);
		l4_set_partial(in + 14);
		if (syn)
			l.opts = syn_opts_1440;
		in_n = build_ip(inner, &ip, &l);
		out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
				   backend_tag(ip4(T_POD_B), htons(2525)), 0, 0x4000, inner, in_n);
		wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
		CHECK(r.ret == XDP_TX, "verdict %u", r.ret);
		CHECK_BYTES(&r, want, wn);
	}
	return 0;
}

/* --- hostile packets ------------------------------------------------------ */

static uint64_t stats_total(__u32 hook)
{
	uint64_t t = 0;

	for (__u32 a = 0; a < NOSNAT_ACT_MAX; a++)
		for (__u32 r = 0; r < NOSNAT_R_MAX; r++)
			t += counter(maps.stats, nosnat_stat_slot(hook, a, r), 0, 2);
	return t;
}

static uint32_t frng = 0x1234567;

static uint32_t fr(uint32_t n)
{
	frng ^= frng << 13;
	frng ^= frng >> 17;
	frng ^= frng << 5;
	return n ? frng % n : 0;
}

/* Seeds: every kind of packet the programs distinguish. */
static size_t fuzz_seeds(uint8_t seeds[][2048], size_t *lens)
{
	static const uint8_t ipopts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };
	static uint8_t payload[600];
	size_t n = 0;
	struct ip_spec ip;
	struct l4_spec l;
	uint8_t inner[2048], outer[2048];
	size_t in_n, out_n;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
#define SEED(expr) do { lens[n] = (expr); n++; } while (0)
	ip = ipv4(T_CLIENT, T_VIP); l = tcp(40000, 25, TH_SYN);
	SEED(frame(seeds[n], &ip, &l, 0));
	SEED(frame(seeds[n], &ip, &l, 1));
	SEED(frame(seeds[n], &ip, &l, 2));
	ip.opts = ipopts; ip.opts_len = 8;
	SEED(frame(seeds[n], &ip, &l, 0));
	ip = ipv4(T_CLIENT, T_VIP); l = tcp(40001, 25, TH_ACK | TH_PSH);
	l.payload = payload; l.payload_len = sizeof(payload);
	SEED(frame(seeds[n], &ip, &l, 0));
	SEED(frame(seeds[n], &ip, &l, 0)); l4_set_partial(seeds[n - 1] + 14);
	l = (struct l4_spec){ .proto = IPPROTO_UDP, .sport = 40002, .dport = 53, .payload = "q", .payload_len = 1 };
	SEED(frame(seeds[n], &ip, &l, 0));
	ip.frag = 0x2000;
	SEED(frame(seeds[n], &ip, &l, 0));
	ip = ipv4(T_CLIENT, T_VIP); l = tcp(40003, 25, TH_SYN);
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), 7, 0, 0x4000, inner, in_n);
	SEED(build_eth(seeds[n], MAC_SELF, MAC_B, 0, 0x0800, outer, out_n));
	out_n = build_ipip(outer, ip4(T_STRANGER), ip4(T_NODE_SELF), 7, 0, 0x4000, inner, in_n);
	SEED(build_eth(seeds[n], MAC_SELF, MAC_B, 0, 0x0800, outer, out_n));
	ip = ipv4(T_POD_LOCAL, T_CLIENT); l = tcp(2525, 40000, TH_SYN | TH_ACK);
	SEED(frame(seeds[n], &ip, &l, 0));
	ip = ipv4(T_CLIENT, T_OTHER); l = (struct l4_spec){ .payload = payload, .payload_len = 64 };
	ip.proto = IPPROTO_ICMP;
	SEED(frame(seeds[n], &ip, &l, 0));
	/* IPv6 and ARP: only their ethertype matters to us */
	memcpy(seeds[n], MAC_SELF, 6); memcpy(seeds[n] + 6, MAC_ROUTER, 6);
	seeds[n][12] = 0x86; seeds[n][13] = 0xdd; memset(seeds[n] + 14, 0x60, 60);
	SEED(74);
	memcpy(seeds[n], MAC_SELF, 6); memcpy(seeds[n] + 6, MAC_ROUTER, 6);
	seeds[n][12] = 0x08; seeds[n][13] = 0x06; memset(seeds[n] + 14, 0, 28);
	SEED(42);
#undef SEED
	return n;
}

static void mutate(uint8_t *p, size_t *len, size_t cap)
{
	static const size_t hot[] = { 12, 13, 14, 16, 17, 20, 21, 22, 23, 24, 25, 34, 35, 36, 37, 46, 47,
				      50, 54, 55, 56 };
	int ops = 1 + (int)fr(4);

	while (ops--) {
		switch (fr(7)) {
		case 0:	/* truncate */
			*len = 14 + fr((uint32_t)(*len - 13));
			break;
		case 1:	/* flip bytes anywhere */
			p[fr((uint32_t)*len)] ^= (uint8_t)(1 + fr(255));
			break;
		case 2:	/* a header field: lengths, IHL, flags, protocol, offsets */
			{
				size_t o = hot[fr(sizeof(hot) / sizeof(hot[0]))];

				if (o < *len)
					p[o] = (uint8_t)fr(256);
			}
			break;
		case 3:	/* grow with junk */
			{
				size_t add = fr(64);

				for (size_t i = 0; i < add && *len < cap; i++)
					p[(*len)++] = (uint8_t)fr(256);
			}
			break;
		case 4:	/* VLAN tag stack */
			if (*len + 4 <= cap) {
				memmove(p + 16, p + 12, *len - 12);
				p[12] = 0x81;
				p[13] = 0x00;
				p[14] = 0;
				p[15] = (uint8_t)fr(256);
				*len += 4;
			}
			break;
		case 5:	/* IHL / data offset lies */
			if (*len > 46) {
				p[14] = (uint8_t)(0x40 | fr(16));
				p[46] = (uint8_t)(fr(16) << 4);
			}
			break;
		default:	/* random bytes after Ethernet */
			for (size_t i = 14; i < *len; i++)
				if (!fr(8))
					p[i] = (uint8_t)fr(256);
		}
	}
}

/* Every output is plausible: known verdict, no growth beyond one outer
 * header, encapsulation only towards a node, one counter per packet. */
static int t_packet_fuzz(void)
{
	static uint8_t seeds[16][2048], pkt[2048];
	size_t lens[16], n_seeds, runs = 200000;
	const char *env = getenv("NOSNAT_FUZZ_PACKETS");
	uint64_t x0, e0, i0, verdicts[8] = { 0 }, tc_skipped = 0;
	int tce = bpf_program__fd(skel->progs.nosnat_tc_egress);
	int tci = bpf_program__fd(skel->progs.nosnat_tc_ingress);
	__be32 node_b = ip4(T_NODE_B), node_c = ip4(T_NODE_C);

	if (env)
		runs = strtoul(env, NULL, 10);
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_B, 2525, T_NODE_B, 1), "be add");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_C, 2525, T_NODE_C, 1), "be add");
	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_B, 53, T_NODE_B, 1), "be add");
	n_seeds = fuzz_seeds(seeds, lens);
	x0 = stats_total(NOSNAT_HOOK_XDP);
	e0 = stats_total(NOSNAT_HOOK_TC_EGRESS);
	i0 = stats_total(NOSNAT_HOOK_TC_INGRESS);
	for (size_t i = 0; i < runs; i++) {
		size_t s = fr((uint32_t)n_seeds), len = lens[s];
		struct run r;
		int ifindex = fr(2) ? dummy_ifindex : 1;

		memcpy(pkt, seeds[s], len);
		if (i % 16)	/* one in 16 goes through unmutated */
			mutate(pkt, &len, sizeof(pkt));
		CHECK(!run_xdp(pkt, len, ifindex, &r), "xdp run %zu", i);
		CHECK(r.ret <= XDP_REDIRECT && r.ret != XDP_ABORTED, "run %zu: XDP verdict %u", i, r.ret);
		verdicts[r.ret]++;
		CHECK(r.len <= len + NOSNAT_IPIP_OVERHEAD, "run %zu: %u bytes out of %zu", i, r.len, len);
		if (r.len > len) {	/* grew: must be our IPIP, towards a node */
			size_t l2 = 14;
			__be32 dst;

			while (l2 + 4 <= r.len && (r.pkt[l2 - 2] == 0x81 || r.pkt[l2 - 2] == 0x88))
				l2 += 4;
			CHECK(r.len >= l2 + 20 && r.pkt[l2 + 9] == IPPROTO_IPIP, "run %zu: grew but not IPIP", i);
			memcpy(&dst, r.pkt + l2 + 16, 4);
			CHECK(dst == node_b || dst == node_c, "run %zu: encapsulated to a non-node", i);
		}
		/* test_run refuses skbs shorter than their L3 header (no real
		 * skb reaches tc like that): those exercise XDP only */
		if (len < 14 + 40) {
			tc_skipped++;
			continue;
		}
		CHECK(!run_tc(tce, pkt, len, &r), "tc egress run %zu", i);
		CHECK(!run_tc(tci, pkt, len, &r), "tc ingress run %zu", i);
		CHECK(r.ret == TC_ACT_OK, "run %zu: tc ingress verdict %u without a mark", i, r.ret);
	}
	CHECK(stats_total(NOSNAT_HOOK_XDP) - x0 == runs, "XDP counted %llu of %zu packets",
	      (unsigned long long)(stats_total(NOSNAT_HOOK_XDP) - x0), runs);
	CHECK(stats_total(NOSNAT_HOOK_TC_EGRESS) - e0 == runs - tc_skipped, "tc egress counts");
	CHECK(stats_total(NOSNAT_HOOK_TC_INGRESS) - i0 == runs - tc_skipped, "tc ingress counts");
	printf("  info  %zu fuzzed packets: XDP pass %llu, drop %llu, tx %llu, redirect %llu; "
	       "tc egress and ingress ran on %llu\n",
	       runs, (unsigned long long)verdicts[XDP_PASS], (unsigned long long)verdicts[XDP_DROP],
	       (unsigned long long)verdicts[XDP_TX], (unsigned long long)verdicts[XDP_REDIRECT],
	       (unsigned long long)(runs - tc_skipped));
	return 0;
}

static int t_spoofed_sources(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_VIP, T_VIP);
	struct l4_spec l = tcp(25, 25, TH_SYN);

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_SPOOFED), "source = the VIP");
	ip.saddr = ip4(T_NODE_SELF);
	CHECK(!expect_drop(in, frame(in, &ip, &l, 0), NOSNAT_R_SPOOFED), "source = this node");
	ip.saddr = ip4(T_VIP);
	CHECK(!expect_drop(in, ipip_frame(in, T_NODE_B, 0, &ip, &l), NOSNAT_R_SPOOFED),
	      "encapsulated, inner source = the VIP");
	/* another node may be a client of the VIP (its traffic is not ours to judge) */
	ip.saddr = ip4(T_NODE_B);
	{
		uint8_t want[256];
		size_t n = frame(in, &ip, &l, 0), wn;

		ip.daddr = ip4(T_POD_LOCAL);
		l.dport = 2525;
		wn = frame(want, &ip, &l, 0);
		CHECK(!expect_local(in, n, want, wn), "a node as client");
	}
	return 0;
}

/* A SYN flood from random sources against a table of NOSNAT_FLOW_ENTRIES:
 * measure what LRU eviction does to an active and to an idle flow. */
static int t_syn_flood(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l;
	struct nosnat_flow_key active = client_flow(41001);
	struct nosnat_flow_key idle = active;
	struct nosnat_flow f;
	size_t flood = NOSNAT_FLOW_ENTRIES + NOSNAT_FLOW_ENTRIES / 4, n;
	const char *env = getenv("NOSNAT_FLOOD_SYNS");
	struct run r;
	uint64_t established, handshakes;

	if (env)
		flood = strtoul(env, NULL, 10);
	idle.sport = htons(41002);
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1), "be add");
	for (int k = 0; k < 2; k++) {	/* two connections: SYN, then the handshake's ACK */
		l = tcp(k ? 41002 : 41001, 25, TH_SYN);
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN %d", k);
		l = tcp(k ? 41002 : 41001, 25, TH_ACK);
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "ACK %d", k);
	}
	for (size_t i = 0; i < flood; i++) {
		struct ip_spec fip = ipv4(T_CLIENT, T_VIP);

		fip.saddr = htonl(0xc6120000u | (uint32_t)(i & 0x1ffff));	/* 198.18/15 */
		l = tcp((uint16_t)(1024 + (i >> 17)), 25, TH_SYN);
		n = frame(in, &fip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "flood %zu", i);
		if (i % 1000 == 0) {	/* the active flow keeps talking */
			l = tcp(41001, 25, TH_ACK);
			n = frame(in, &ip, &l, 0);
			CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "active");
		}
	}
	established = count_entries_of(maps.flows);
	handshakes = count_entries_of(maps.flows_new);
	printf("  info  %zu flood SYNs: %llu entries in the new-flow table (%d), %llu established\n",
	       flood, (unsigned long long)handshakes, NOSNAT_NEW_FLOW_ENTRIES,
	       (unsigned long long)established);
	CHECK(!bpf_map_lookup_elem(maps.flows, &active, &f), "the active flow was evicted");
	CHECK(!bpf_map_lookup_elem(maps.flows, &idle, &f), "the idle flow was evicted");
	CHECK(established == 2, "the flood reached the established table (%llu entries)",
	      (unsigned long long)established);
	CHECK(handshakes > NOSNAT_NEW_FLOW_ENTRIES / 2, "the flood did not fill the new-flow table");
	return 0;
}

/* A new connection that reuses a client port of an old flow must not
 * follow it to a draining backend; established flows stay where they are. */
static int t_syn_skips_draining(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip;
	struct l4_spec l;
	size_t n, wn;
	int id;

	/* one pod draining (weight 0), one active */
	CHECK(!add_vip(T_VIP, 25, IPPROTO_TCP), "vip add");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 0), "draining pod");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1), "active pod");
	/* an old flow on a client port, pinned to the draining pod */
	id = state_find_backend(&st, st.vips[0].val.id, ip4(T_POD_LOCAL), htons(2525));
	{
		struct nosnat_flow_key fk = client_flow(40072);
		struct nosnat_vip_id vi;
		struct nosnat_flow fv = { .backend_id = (__u32)id, .backend_addr = ip4(T_POD_LOCAL) };

		CHECK(!bpf_map_lookup_elem(maps.vip_ids, &st.vips[0].val.id, &vi), "vip ref");
		fv.vip_ref = vi.ref;

		CHECK(id >= 0 && !bpf_map_update_elem(maps.flows, &fk, &fv, BPF_ANY), "pin");
	}
	/* established packet of the pinned flow: stays on the draining pod */
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40072, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!expect_local(in, n, want, wn), "established flow drains in place");
	/* a new SYN on that same client port: the active pod */
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40072, 25, TH_SYN);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL2);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!expect_local(in, n, want, wn), "new connection avoids the draining pod");
	return 0;
}

static int pod_bit(const char *addr)
{
	static struct nosnat_addr_filter f;
	__u32 zero = 0, bit = nosnat_addr_filter_bit(ip4(addr));

	if (bpf_map_lookup_elem(maps.pod_filt, &zero, &f))
		return -1;
	return (int)((f.bits[bit / 64] >> (bit % 64)) & 1);
}

/* Replies are matched to the flow of the request: gone with the flow (LRU
 * eviction), back with it; a pod port behind two VIP ports answers as the
 * one the client used, and only for flows of its own slot. */
static int t_reply_follows_flow(void)
{
	uint8_t in[256], reply[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40090, 25, TH_ACK);
	struct nosnat_flow_key fk = client_flow(40090);
	struct nosnat_pod_key pk = { .addr = ip4(T_POD_LOCAL), .port = htons(2525),
				     .proto = IPPROTO_TCP };
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	struct nosnat_pod pod;
	struct run r;
	size_t n, rn, wn;

	CHECK(!ct_use(0), "conntrack off: Maglev's word re-creates a local flow");

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_vip(T_VIP, 587, IPPROTO_TCP), "second VIP port");
	CHECK(!add_be(T_VIP, 587, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 1), "same pod port");
	CHECK(!bpf_map_lookup_elem(maps.pods, &pk, &pod) && pod.count == 2, "two slots for the pod");
	CHECK(pod_bit(T_POD_LOCAL), "pod filter bit set");

	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "established packet, port 25");
	ip = ipv4(T_POD_LOCAL, T_CLIENT);
	l = tcp(2525, 40090, TH_ACK);
	rn = frame(reply, &ip, &l, 0);
	ip.saddr = ip4(T_VIP);
	l.sport = 25;
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);

	/* the flow evicted: one jiffy on (a copy in the flow cache serves that
	 * long), the reply is the pod's own again */
	CHECK(!bpf_map_delete_elem(maps.flows, &fk), "evict");
	usleep(20000);
	stats_snap();
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");

	/* the client's next packet re-creates it (one pod: Maglev agrees) */
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "next packet");
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);

	/* the same client port through port 587 instead: answered as 587 */
	CHECK(!bpf_map_delete_elem(maps.flows, &fk), "forget port 25");
	usleep(20000);	/* past the jiffy of the flow cache's copies */
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40090, 587, TH_ACK);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "established packet, port 587");
	ip = ipv4(T_VIP, T_CLIENT);
	l = tcp(587, 40090, TH_ACK);
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);

	/* a flow of another slot (pod on another node) is not this pod's */
	{
		struct nosnat_flow f;

		fk.dport = htons(587);
		CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f), "flow 587");
		f.backend_id = pod.slots[0].id == f.backend_id ? pod.slots[1].id : pod.slots[0].id;
		CHECK(!bpf_map_update_elem(maps.flows, &fk, &f, BPF_EXIST), "point it at the other slot");
		usleep(20000);
		CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
		CHECK_BYTES(&r, reply, rn);
	}

	/* the pod leaves port 587: one slot left; gone from nosnat_pods last */
	CHECK(!del_be(T_VIP, 587, IPPROTO_TCP, T_POD_LOCAL, 2525), "backend del");
	CHECK(!bpf_map_lookup_elem(maps.pods, &pk, &pod) && pod.count == 1, "one slot left");
	CHECK(!del_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, 2525), "backend del");
	CHECK(bpf_map_lookup_elem(maps.pods, &pk, &pod), "pod forgotten");
	CHECK(!pod_bit(T_POD_LOCAL), "pod filter bit cleared");
	return 0;
}

/* Two pod ports whose keys share an index of nosnat_pod_dir: the smaller
 * key sits there (with NOSNAT_POD_MORE), the other is found in nosnat_pods;
 * replies of both are rewritten, and when the smaller goes the other moves
 * into the directory. */
static int t_pod_dir_shared_index(void)
{
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	struct nosnat_pod_key k1 = { .addr = ip4(T_POD_LOCAL), .proto = IPPROTO_TCP }, k2 = k1;
	uint16_t p1 = 0, p2 = 0;
	uint8_t in[256], reply[2][256], want[2][256];
	size_t n, rn[2], wn[2];
	struct nosnat_pod dir, pod;
	struct run r;
	__u32 x;

	CHECK(!ct_use(0), "conntrack off: Maglev's word re-creates a local flow");

	for (uint16_t a = 3000; a < 3200 && !p1; a++)
		for (uint16_t b = a + 1; b < 40000 && !p1; b++) {
			k1.port = htons(a);
			k2.port = htons(b);
			if (nosnat_pod_index(&k1) == nosnat_pod_index(&k2)) {
				p1 = a;
				p2 = b;
			}
		}
	CHECK(p1, "two ports sharing an index");
	x = nosnat_pod_index(&k1);
	CHECK(!add_vip(T_VIP, 25, IPPROTO_TCP) && !add_vip(T_VIP, 587, IPPROTO_TCP), "VIPs");
	CHECK(!add_be(T_VIP, 587, IPPROTO_TCP, T_POD_LOCAL, p2, T_NODE_SELF, 1), "pod port %u", p2);
	CHECK(!bpf_map_lookup_elem(maps.pod_dir, &x, &dir) && dir.key.port == htons(p2) && !dir.flags,
	      "alone at index %u", x);
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, p1, T_NODE_SELF, 1), "pod port %u", p1);
	CHECK(!bpf_map_lookup_elem(maps.pod_dir, &x, &dir) && dir.key.port == htons(p1) &&
	      dir.flags == NOSNAT_POD_MORE, "the smaller key in the directory, more behind it");
	CHECK(!bpf_map_lookup_elem(maps.pods, &k2, &pod) && pod.count == 1, "the other in nosnat_pods");
	CHECK(!state_verify(&maps, &st, stderr), "maps agree");

	for (int i = 0; i < 2; i++) {
		uint16_t vport = i ? 587 : 25, pport = i ? p2 : p1, cport = (uint16_t)(40100 + i);
		struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
		struct l4_spec l = tcp(cport, vport, TH_ACK);

		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "request through port %u", vport);
		ip = ipv4(T_POD_LOCAL, T_CLIENT);
		l = tcp(pport, cport, TH_ACK);
		rn[i] = frame(reply[i], &ip, &l, 0);
		ip.saddr = ip4(T_VIP);
		l.sport = vport;
		wn[i] = frame(want[i], &ip, &l, 0);
		CHECK(!run_tc(fd, reply[i], rn[i], &r) && r.ret == TC_ACT_OK, "tc run");
		CHECK_BYTES(&r, want[i], wn[i]);
	}

	/* the smaller key goes: the other takes its place, found directly */
	CHECK(!del_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, p1), "backend del");
	CHECK(!bpf_map_lookup_elem(maps.pod_dir, &x, &dir) && dir.key.port == htons(p2) && !dir.flags &&
	      dir.count == 1, "moved into the directory");
	CHECK(bpf_map_lookup_elem(maps.pods, &k1, &pod), "gone from nosnat_pods");
	CHECK(!state_verify(&maps, &st, stderr), "maps agree");
	CHECK(!run_tc(fd, reply[1], rn[1], &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want[1], wn[1]);
	CHECK(!run_tc(fd, reply[0], rn[0], &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply[0], rn[0]);
	return 0;
}

/* The per-CPU flow cache (flow_lookup): a copy serves one jiffy at most,
 * is checked like the entry (a removed backend is not followed), is
 * replaced when the flow is re-picked, and a SYN always asks the LRU. The
 * test keeps to one CPU so that the copies are there to be used. */
static int t_flow_cache(void)
{
	uint8_t in[256], want[256], want2[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40120, 25, TH_SYN);
	struct nosnat_flow_key fk = client_flow(40120);
	struct nosnat_flow f;
	cpu_set_t one, old;
	struct run r;
	size_t n, wn, wn2;
	int rc = -1;

	CHECK(!ct_use(0), "conntrack off: Maglev's word re-creates a local flow");

	CHECK(!sched_getaffinity(0, sizeof(old), &old), "affinity");
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(!sched_setaffinity(0, sizeof(one), &one), "to CPU 0");
	if (mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF))
		goto out;
	n = frame(in, &ip, &l, 0);
	if (run_xdp(in, n, 1, &r) || r.ret != XDP_PASS)
		goto out;
	l = tcp(40120, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL2);
	wn2 = frame(want2, &ip, &l, 0);
	for (int i = 0; i < 3; i++)	/* LRU hit, then (likely) the copy */
		if (expect_local(in, n, want, wn))
			goto out;

	/* evicted: one jiffy on, the next packet has made the entry again */
	if (bpf_map_delete_elem(maps.flows, &fk))
		goto out;
	usleep(20000);
	if (expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_RECOVERED) ||
	    bpf_map_lookup_elem(maps.flows, &fk, &f)) {
		fprintf(stderr, "  evicted flow not made again after a jiffy\n");
		goto out;
	}

	/* its pod leaves: the copy is not followed, the flow moves */
	if (expect_local(in, n, want, wn) ||
	    add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1) ||
	    del_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, 2525))
		goto out;
	for (int i = 0; i < 3; i++)
		if (expect_pass(in, n, want2, wn2, NOSNAT_ACT_LOCAL, i ? NOSNAT_R_NONE : NOSNAT_R_RECOVERED)) {
			fprintf(stderr, "  packet %d went to the removed pod\n", i);
			goto out;
		}
	if (bpf_map_lookup_elem(maps.flows, &fk, &f) || f.backend_addr != ip4(T_POD_LOCAL2)) {
		fprintf(stderr, "  entry not re-picked\n");
		goto out;
	}

	/* a SYN again on the cached flow: its ISN reaches the entry */
	ip.daddr = ip4(T_VIP);
	l = tcp(40120, 25, TH_SYN);
	l.seq = 77000;
	n = frame(in, &ip, &l, 0);
	if (run_xdp(in, n, 1, &r) || r.ret != XDP_PASS || bpf_map_lookup_elem(maps.flows, &fk, &f) ||
	    f.syn_ack != htonl(77001)) {
		fprintf(stderr, "  SYN did not reach the entry (syn_ack %u)\n", ntohl(f.syn_ack));
		goto out;
	}

	/* replies: rewritten (and copied); a SYN-ACK of another connection on
	 * the tuple ends the entry and this CPU's copy, so the next reply is
	 * the pod's own at once */
	{
		int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
		uint8_t reply[256], synack[256], rwant[256];
		size_t rn, sn, rwn;

		ip = ipv4(T_POD_LOCAL2, T_CLIENT);
		l = tcp(2525, 40120, TH_ACK);
		rn = frame(reply, &ip, &l, 0);
		l = tcp(2525, 40120, TH_SYN | TH_ACK);
		l.ack = 500001;	/* not the VIP's SYN (77001), nor within 64k of it */
		sn = frame(synack, &ip, &l, 0);
		ip.saddr = ip4(T_VIP);
		l = tcp(25, 40120, TH_ACK);
		rwn = frame(rwant, &ip, &l, 0);
		for (int i = 0; i < 2; i++)
			if (run_tc(fd, reply, rn, &r) || r.ret != TC_ACT_OK || r.len != rwn ||
			    memcmp(r.pkt, rwant, rwn)) {
				fprintf(stderr, "  reply %d not rewritten\n", i);
				goto out;
			}
		if (run_tc(fd, synack, sn, &r) || r.len != sn || memcmp(r.pkt, synack, sn) ||
		    !bpf_map_lookup_elem(maps.flows, &fk, &f)) {
			fprintf(stderr, "  stale SYN-ACK rewritten or entry kept\n");
			goto out;
		}
		if (run_tc(fd, reply, rn, &r) || r.len != rn || memcmp(r.pkt, reply, rn)) {
			fprintf(stderr, "  reply after the stale SYN-ACK rewritten from a copy\n");
			goto out;
		}
	}
	rc = 0;
out:
	sched_setaffinity(0, sizeof(old), &old);
	CHECK(!rc, "flow cache");
	return 0;
}

/* A flow remembers its VIP by id. Once that id serves another VIP (and
 * even the backend slot and pod are the same), the old flow is not ours. */
static int t_vip_id_reused(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40091, 25, TH_SYN);
	struct nosnat_vip_key old_k = vkey(T_VIP, 25, IPPROTO_TCP);
	struct run r;
	size_t n;
	int old_id, new_id;
	__u32 old_vip;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	old_vip = st.vips[0].val.id;
	old_id = state_find_backend(&st, old_vip, ip4(T_POD_LOCAL), htons(2525));
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN");
	CHECK(!op_vip_del(&maps, &st, &old_k), "vip del");
	CHECK(!add_vip(T_VIP, 587, IPPROTO_TCP), "vip add");
	CHECK(!add_be(T_VIP, 587, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 1), "be add");
	new_id = state_find_backend(&st, st.vips[0].val.id, ip4(T_POD_LOCAL), htons(2525));
	CHECK(st.vips[0].val.id == old_vip && new_id == old_id,
	      "the test needs the id and slot reused (vip %u/%u, slot %d/%d)",
	      st.vips[0].val.id, old_vip, new_id, old_id);
	l = tcp(40091, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	CHECK(!expect_untouched(in, n, NOSNAT_R_NONE), "stale flow of a deleted VIP");
	return 0;
}

/* The address filter: a non-VIP address sharing a VIP's bit still passes
 * untouched (after the exact lookup); the bit goes with the last VIP. */
static int t_vip_filter(void)
{
	static struct nosnat_addr_filter f;
	uint8_t in[256];
	struct ip_spec ip;
	struct l4_spec l = tcp(40092, 25, TH_SYN);
	__u32 bit = nosnat_addr_filter_bit(ip4(T_VIP)), zero = 0;
	__be32 twin = 0;
	struct nosnat_vip_key k = vkey(T_VIP, 25, IPPROTO_TCP);

	for (uint32_t a = 0xc6120000u; a < 0xc6140000u && !twin; a++)	/* 198.18.0.0/15 */
		if (nosnat_addr_filter_bit(htonl(a)) == bit)
			twin = htonl(a);
	CHECK(twin, "no address of 198.18.0.0/15 shares the VIP's bit");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!bpf_map_lookup_elem(maps.vip_filt, &zero, &f), "filter");
	CHECK((f.bits[bit / 64] >> (bit % 64)) & 1, "VIP bit clear");
	ip = ipv4(T_CLIENT, T_VIP);
	ip.daddr = twin;
	CHECK(!expect_untouched(in, frame(in, &ip, &l, 0), NOSNAT_R_NONE), "twin address");
	CHECK(!add_vip(T_VIP, 587, IPPROTO_TCP), "second port");
	CHECK(!op_vip_del(&maps, &st, &k), "vip del");
	CHECK(!bpf_map_lookup_elem(maps.vip_filt, &zero, &f), "filter");
	CHECK((f.bits[bit / 64] >> (bit % 64)) & 1, "bit cleared while a VIP uses the address");
	k.port = htons(587);
	CHECK(!op_vip_del(&maps, &st, &k), "vip del");
	CHECK(!bpf_map_lookup_elem(maps.vip_filt, &zero, &f), "filter");
	CHECK(!((f.bits[bit / 64] >> (bit % 64)) & 1), "bit left set with no VIP");
	return 0;
}

static int nexthop_read(__be32 node, struct nosnat_nexthop *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct nosnat_nexthop vals[256];
	__u32 slot = nosnat_nexthop_slot(node);

	if (ncpu > 256 || bpf_map_lookup_elem(bpf_map__fd(skel->maps.nosnat_nexthop), &slot, vals))
		return -1;
	int found = -1;

	/* the CPU that ran the program last holds the newest tick */
	for (int c = 0; c < ncpu; c++)
		if (vals[c].node == node && (found < 0 || (int)(vals[c].tick - out->tick) > 0)) {
			*out = vals[c];
			found = 0;
		}
	return found;
}

static int nexthop_write(const struct nosnat_nexthop *nh)
{
	int ncpu = libbpf_num_possible_cpus();
	struct nosnat_nexthop vals[256];
	__u32 slot = nosnat_nexthop_slot(nh->node);

	if (ncpu > 256)
		return -1;
	for (int c = 0; c < ncpu; c++)
		vals[c] = *nh;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.nosnat_nexthop), &slot, vals, BPF_ANY);
}

/* The next hop of encapsulated packets is looked up once per tick and CPU:
 * a cached answer is used within its tick, never after. */
static int t_nexthop_cache(void)
{
	static const uint8_t forged[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40093, 25, TH_ACK);
	struct nosnat_nexthop nh, now;
	struct run r;
	size_t n;
	int tries;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_TX, "first packet");
	CHECK(!memcmp(r.pkt, MAC_B, 6), "dst MAC");
	CHECK(!nexthop_read(ip4(T_NODE_B), &nh), "no cache entry");
	CHECK(!memcmp(nh.dmac, MAC_B, 6) && !memcmp(nh.smac, MAC_SELF, 6) &&
	      nh.out_ifindex == (__u32)dummy_ifindex && nh.in_ifindex == (__u32)dummy_ifindex,
	      "cache entry content");

	/* within the tick: the cached MACs are used (shown by forging one) */
	for (tries = 0; tries < 5; tries++) {
		CHECK(!nexthop_read(ip4(T_NODE_B), &nh), "entry");
		memcpy(nh.dmac, forged, 6);
		CHECK(!nexthop_write(&nh), "forge");
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_TX, "cached");
		CHECK(!nexthop_read(ip4(T_NODE_B), &now), "entry");
		if (now.tick == nh.tick)
			break;	/* else the tick ended in between: try again */
	}
	CHECK(tries < 5, "the tick kept ending");
	CHECK(!memcmp(r.pkt, forged, 6), "cached next hop not used within its tick");

	/* an entry of an earlier tick is looked up again */
	nh.tick -= 1;
	CHECK(!nexthop_write(&nh), "age");
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_TX, "refresh");
	CHECK(!memcmp(r.pkt, MAC_B, 6), "stale next hop used");
	CHECK(!nexthop_read(ip4(T_NODE_B), &now) && !memcmp(now.dmac, MAC_B, 6) &&
	      now.tick != nh.tick, "entry not refreshed");
	return 0;
}

/* A flow entry outlives its connection. A later connection made straight
 * to the pod on the same addresses and ports must not have its replies
 * rewritten: its SYN-ACK acks a SYN the VIP never saw. */
static int t_stale_tuple(void)
{
	uint8_t in[256], reply[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40095, 25, TH_SYN);
	struct nosnat_flow_key fk = client_flow(40095);
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	struct nosnat_flow rv;
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN through the VIP");
	CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &rv) && rv.syn_ack == htonl(1001), "flow records the SYN");

	/* the same client port again through the VIP, a new ISN: the entry follows */
	l.seq = 7000;
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "second SYN");
	CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &rv) && rv.syn_ack == htonl(7001), "flow follows the new SYN");
	ip = ipv4(T_POD_LOCAL, T_CLIENT);
	l = tcp(2525, 40095, TH_SYN | TH_ACK);
	l.ack = 7001;
	n = frame(reply, &ip, &l, 0);
	ip.saddr = ip4(T_VIP);
	l.sport = 25;
	l.opts = syn_opts_1440;
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_tc(fd, reply, n, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);

	/* a SYN-ACK that also acks 100 bytes of SYN data (TCP Fast Open) */
	ip = ipv4(T_POD_LOCAL, T_CLIENT);
	l = tcp(2525, 40095, TH_SYN | TH_ACK);
	l.ack = 7101;
	n = frame(reply, &ip, &l, 0);
	CHECK(!run_tc(fd, reply, n, &r) && r.ret == TC_ACT_OK && r.len == n &&
	      !memcmp(r.pkt + 26, &(__be32){ ip4(T_VIP) }, 4), "Fast Open SYN-ACK not rewritten");

	/* now a connection straight to the pod on that tuple: untouched */
	ip = ipv4(T_POD_LOCAL, T_CLIENT);
	l = tcp(2525, 40095, TH_SYN | TH_ACK);
	l.ack = 90001;
	n = frame(reply, &ip, &l, 0);
	stats_snap();
	CHECK(!run_tc(fd, reply, n, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, n);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");
	CHECK(bpf_map_lookup_elem(maps.flows, &fk, &rv) && bpf_map_lookup_elem(maps.flows_new, &fk, &rv),
	      "stale flow kept");
	l = tcp(2525, 40095, TH_ACK);
	n = frame(reply, &ip, &l, 0);
	CHECK(!run_tc(fd, reply, n, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, n);
	return 0;
}


/* --- connections that survive ------------------------------------------ */

static struct ct_helper_bpf *cskel;

/* Run the conntrack helper (tests/bpf/ct_helper.bpf.c) in this netns. */
static int ct_op(int op, const char *src, const char *dst, uint16_t sport, uint16_t dport,
		 uint32_t *mark)
{
	uint8_t pkt[64] = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);

	if (!cskel) {
		cskel = ct_helper_bpf__open_and_load();
		if (!cskel)
			return -1;
	}
	cskel->bss->ct_saddr = ip4(src);
	cskel->bss->ct_daddr = ip4(dst);
	cskel->bss->ct_sport = htons(sport);
	cskel->bss->ct_dport = htons(dport);
	cskel->bss->ct_proto = IPPROTO_TCP;
	cskel->bss->ct_mark = *mark;
	cskel->bss->ct_op = (uint32_t)op;
	if (bpf_prog_test_run_opts(bpf_program__fd(cskel->progs.ct_helper), &o))
		return -1;
	*mark = cskel->bss->ct_mark;
	return cskel->bss->ct_result;
}

/* A connection in this netns's conntrack: src:sport -> dst:dport, marked. */
static int ct_insert(const char *src, const char *dst, uint16_t sport, uint16_t dport, uint32_t mark)
{
	return ct_op(1, src, dst, sport, dport, &mark);
}

/* Its mark, or -1 when there is no such connection. */
static int64_t ct_mark(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	uint32_t mark = 0;

	return ct_op(2, src, dst, sport, dport, &mark) ? -1 : (int64_t)mark;
}

static uint32_t mail_mark(void)
{
	return nosnat_vip_mark(ip4(T_VIP), htons(25), IPPROTO_TCP, NOSNAT_DEFAULT_CT_MARK_MASK);
}

static uint64_t flow_events(__u32 reason)
{
	return counter(maps.flow_ev, reason, 0, 1);
}

/* The pod's reply of client port cport: the bytes it sends, and the same
 * from the VIP. */
static void pod_reply(uint16_t cport, uint8_t flags, uint8_t *reply, size_t *rn, uint8_t *want,
		      size_t *wn)
{
	struct ip_spec ip = ipv4(T_POD_LOCAL, T_CLIENT);
	struct l4_spec l = tcp(2525, cport, flags);

	*rn = frame(reply, &ip, &l, 0);
	ip.saddr = ip4(T_VIP);
	l.sport = 25;
	if (flags & TH_SYN)
		l.opts = syn_opts_1440;
	*wn = frame(want, &ip, &l, 0);
}

static int t_handshake_marks_conntrack(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40200, 25, TH_SYN);
	struct nosnat_flow_key fk = client_flow(40200);
	struct nosnat_flow f;
	size_t n, wn;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &(struct run){}), "SYN");
	CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &f) && bpf_map_lookup_elem(maps.flows, &fk, &f),
	      "the SYN's flow waits in the new-flow table");
	/* the kernel tracked the SYN (client -> pod, after DNAT); bit 0 is someone else's */
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40200, 2525, 0x1), "conntrack entry");
	l = tcp(40200, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!expect_local(in, n, want, wn), "the handshake's ACK");
	CHECK(ct_mark(T_CLIENT, T_POD_LOCAL, 40200, 2525) == (int64_t)(mail_mark() | 0x1),
	      "mark %llx, want the VIP's %x beside bit 0",
	      (long long)ct_mark(T_CLIENT, T_POD_LOCAL, 40200, 2525), mail_mark());
	CHECK(bpf_map_lookup_elem(maps.flows_new, &fk, &f), "promoted: gone from the new-flow table");
	CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && (f.flags & NOSNAT_FLOW_CT_SEEN) &&
	      f.syn_ack == htonl(1001), "established, conntrack seen (flags %x)", f.flags);

	/* an entry that carries another mark in our bits keeps it */
	l = tcp(40201, 25, TH_SYN);
	ip = ipv4(T_CLIENT, T_VIP);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &(struct run){}), "SYN");
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40201, 2525, 0x00abcd00), "conntrack entry");
	l = tcp(40201, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &(struct run){}), "ACK");
	CHECK(ct_mark(T_CLIENT, T_POD_LOCAL, 40201, 2525) == 0x00abcd00, "another's mark overwritten");
	return 0;
}

/* Replies with no flow entry anywhere: rewritten only on the word of the
 * connection's conntrack mark. */
static int t_reply_without_entry(void)
{
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	uint8_t reply[256], want[256];
	struct nosnat_flow_key fk = client_flow(40210);
	struct nosnat_flow f;
	struct run r;
	size_t rn, wn;
	uint64_t ev;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL2, 2525, T_NODE_SELF, 1), "second pod");

	/* no entry, no conntrack entry: the pod's own address stays */
	pod_reply(40210, TH_ACK, reply, &rn, want, &wn);
	stats_snap();
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");

	/* a connection made straight to the pod (conntrack knows it, unmarked) */
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40210, 2525, 0), "conntrack entry");
	stats_snap();
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");

	/* marked for a VIP this pod does not serve (192.0.2.11:25): untouched */
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40211, 2525,
			 nosnat_vip_mark(ip4("192.0.2.11"), htons(25), IPPROTO_TCP,
					 NOSNAT_DEFAULT_CT_MARK_MASK)), "conntrack entry");
	pod_reply(40211, TH_ACK, reply, &rn, want, &wn);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);

	/* marked for the mail VIP: rewritten, and the flow recorded again */
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40212, 2525, mail_mark()), "conntrack entry");
	pod_reply(40212, TH_ACK, reply, &rn, want, &wn);
	ev = flow_events(NOSNAT_R_CT_RECOVERED);
	stats_snap();
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_CT_RECOVERED), "counter");
	CHECK(flow_events(NOSNAT_R_CT_RECOVERED) == ev + 1, "flow event");
	fk.sport = htons(40212);
	CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && f.backend_addr == ip4(T_POD_LOCAL) &&
	      (f.flags & NOSNAT_FLOW_CT_SEEN), "flow recorded again");
	stats_snap();
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_NONE), "from the entry");

	/* "no mark" is remembered per CPU for one jiffy at most */
	pod_reply(40215, TH_ACK, reply, &rn, want, &wn);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40215, 2525, mail_mark()), "conntrack entry");
	usleep(20000);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);

	/* a SYN-ACK is never rewritten on conntrack's word */
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40213, 2525, mail_mark()), "conntrack entry");
	pod_reply(40213, TH_SYN | TH_ACK, reply, &rn, want, &wn);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);

	/* the other pod's reply for a connection marked on the first pod's entry */
	{
		struct ip_spec ip = ipv4(T_POD_LOCAL2, T_CLIENT);
		struct l4_spec l = tcp(2525, 40212, TH_ACK);

		CHECK(!bpf_map_delete_elem(maps.flows, &fk), "forget");
		usleep(20000);
		rn = frame(reply, &ip, &l, 0);
		CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
		CHECK_BYTES(&r, reply, rn);
	}

	/* conntrack not used (--conntrack off, or no kfuncs): as before */
	CHECK(!ct_use(0), "conntrack off");
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40214, 2525, mail_mark()), "conntrack entry");
	pod_reply(40214, TH_ACK, reply, &rn, want, &wn);
	CHECK(!run_tc(fd, reply, rn, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, rn);
	return 0;
}

/* A client's packet (not a SYN) that finds no flow entry. */
static int t_non_syn_without_entry(void)
{
	uint8_t in[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40220, 25, TH_ACK);
	struct nosnat_flow_key fk = client_flow(40220);
	struct nosnat_flow f;
	size_t n, wn;
	uint64_t ev;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	/* ingress node, pod elsewhere: Maglev's answer, recorded as unproven */
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	n = frame(in, &ip, &l, 0);
	wn = encap_frame(want, T_NODE_B, backend_tag(ip4(T_POD_B), htons(2525)), &ip, &l);
	ev = flow_events(NOSNAT_R_RECOVERED);
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_TX, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_RECOVERED), "how it left");
	CHECK(flow_events(NOSNAT_R_RECOVERED) == ev + 1, "flow event");
	CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &f) && bpf_map_lookup_elem(maps.flows, &fk, &f),
	      "recorded in the new-flow table");
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_TX, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "how it left");
	CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && bpf_map_lookup_elem(maps.flows_new, &fk, &f),
	      "promoted by its next packet");

	/* pod here: delivered, recorded only with the pod's marked conntrack entry */
	CHECK(!cfg_reset(), "reset");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	l = tcp(40221, 25, TH_ACK);
	ip = ipv4(T_CLIENT, T_VIP);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	fk.sport = htons(40221);
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NOT_OWNED), "no conntrack entry");
	CHECK(bpf_map_lookup_elem(maps.flows, &fk, &f) && bpf_map_lookup_elem(maps.flows_new, &fk, &f),
	      "not recorded on a guess");
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40221, 2525, 0), "unmarked conntrack entry");
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NOT_OWNED), "unmarked");
	CHECK(ct_mark(T_CLIENT, T_POD_LOCAL, 40221, 2525) == 0, "an unproven flow claimed the entry");
	l = tcp(40222, 25, TH_ACK);
	ip = ipv4(T_CLIENT, T_VIP);
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	fk.sport = htons(40222);
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40222, 2525, mail_mark()), "marked conntrack entry");
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_CT_RECOVERED), "marked");
	CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && (f.flags & NOSNAT_FLOW_CT_SEEN),
	      "recorded as established");
	CHECK(!expect_local(in, n, want, wn), "from the entry");
	return 0;
}

/* First client port at or after from whose flow the table gives pod. */
static uint16_t port_to(uint16_t from, const char *pod)
{
	for (uint32_t p = from; p < 65535; p++) {
		struct nosnat_flow_key k = client_flow((uint16_t)p);
		__u32 h = nosnat_flow_hash(k.src, k.dst, k.sport, k.dport, k.proto), inner_id, zero = 0;
		struct nosnat_maglev_slots *t = NULL;
		int fd;

		if (bpf_map_lookup_elem(maps.maglev, &st.vips[0].val.id, &inner_id))
			return 0;
		fd = bpf_map_get_fd_by_id(inner_id);
		t = malloc(sizeof(*t));
		if (fd < 0 || !t || bpf_map_lookup_elem(fd, &zero, t)) {
			free(t);
			return 0;
		}
		close(fd);
		if (st.be[t->backend[h % NOSNAT_MAGLEV_SIZE]].addr == ip4(pod)) {
			free(t);
			return (uint16_t)p;
		}
		free(t);
	}
	return 0;
}

/* Backends changed while the VIP moved: this node's table sends a flow to
 * its own new pod, which does not have it; the previous table's pod (on
 * node B) gets it, once. */
static int t_second_chance(void)
{
	uint8_t in[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l;
	struct run r;
	size_t n, wn;
	uint16_t port;
	__u16 tag_b = backend_tag(ip4(T_POD_B), htons(2525));
	__u16 tag_here = backend_tag(ip4(T_POD_LOCAL), htons(2525));
	uint64_t ev;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 1), "a pod here too");
	port = port_to(40300, T_POD_LOCAL);
	CHECK(port, "no client port maps to the new pod");
	l = tcp(port, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	wn = encap_frame(want, T_NODE_B, tag_b | NOSNAT_ID_SECOND_CHANCE, &ip, &l);

	/* straight from the client to this (new announcing) node */
	ev = flow_events(NOSNAT_R_SECOND_CHANCE);
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_TX, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_SECOND_CHANCE), "how it left");
	CHECK(flow_events(NOSNAT_R_SECOND_CHANCE) == ev + 1, "flow event");
	/* the ingress node records where the flow went; its next packets go
	 * there directly (no second-chance bit), the entry then established */
	{
		struct nosnat_flow_key fk = client_flow(port);
		struct nosnat_flow f;
		uint8_t direct[512];
		size_t dn = encap_frame(direct, T_NODE_B, tag_b, &ip, &l);

		CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &f) && f.backend_addr == ip4(T_POD_B),
		      "second chance not recorded");
		stats_snap();
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_TX, "verdict %u", r.ret);
		CHECK_BYTES(&r, direct, dn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "counter");
		CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && f.backend_addr == ip4(T_POD_B),
		      "not promoted");
		CHECK(!bpf_map_delete_elem(maps.flows, &fk), "forget it again");
		usleep(20000);
	}

	/* from another ingress node that picked the pod here: sent on once */
	n = ipip_frame(in, T_NODE_C, tag_here, &ip, &l);
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_TX, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_SECOND_CHANCE), "how it left");

	/* already a second chance: never sent on again, delivered here */
	n = ipip_frame(in, T_NODE_C, tag_here | NOSNAT_ID_SECOND_CHANCE, &ip, &l);
	{
		struct ip_spec dip = ip;
		struct l4_spec dl = l;
		uint8_t l3[256];
		size_t l3n;

		dip.daddr = ip4(T_POD_LOCAL);
		dl.dport = 2525;
		l3n = build_ip(l3, &dip, &dl);
		wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x0800, l3, l3n);
	}
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_PASS, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_NOT_OWNED), "how it left");

	/* the pod here does have it: delivered and recorded, no detour */
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, port, 2525, mail_mark()), "conntrack entry");
	n = ipip_frame(in, T_NODE_C, tag_here, &ip, &l);
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_PASS, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_CT_RECOVERED), "how it left");

	/* never to a node that is not in the node list */
	port = port_to((uint16_t)(port + 1), T_POD_LOCAL);
	CHECK(port, "no second client port maps to the new pod");
	l = tcp(port, 25, TH_ACK);
	ip = ipv4(T_CLIENT, T_VIP);
	n = frame(in, &ip, &l, 0);
	CHECK(!bpf_map_delete_elem(maps.nodes, &(__be32){ ip4(T_NODE_B) }), "forget node B");
	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_PASS, "verdict %u", r.ret);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_LOCAL, NOSNAT_R_NOT_OWNED), "counter");
	CHECK(!bpf_map_update_elem(maps.nodes, &(__be32){ ip4(T_NODE_B) }, &(__u32){ 1 }, BPF_ANY),
	      "node B back");

	/* an unchanged table is not swapped: the previous one stays */
	CHECK(!vip_sync(&maps, &st, &st.vips[0]), "sync");
	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && r.ret == XDP_TX, "verdict %u", r.ret);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_SECOND_CHANCE), "counter");
	return 0;
}

/* Above --new-flow-limit SYNs per CPU and second, SYNs towards other nodes
 * go by Maglev unrecorded; SYNs to this node's pods are always recorded
 * (their SYN-ACK needs the entry). */
static int t_new_flow_limit(void)
{
	uint8_t in[256], first[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct nosnat_cfg cfg;
	struct nosnat_flow f;
	struct run r;
	__u32 zero = 0;
	size_t n, fn = 0;
	cpu_set_t one, old;
	int rc = -1, limited = 0, recorded = 0;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	cfg.new_flow_limit = 3;
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	CHECK(!sched_getaffinity(0, sizeof(old), &old), "affinity");
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(!sched_setaffinity(0, sizeof(one), &one), "to CPU 0");
	usleep(1100000);	/* a fresh second of this CPU's budget */
	for (uint16_t p = 0; p < 5; p++) {
		struct l4_spec l = tcp((uint16_t)(40400 + p), 25, TH_SYN);
		struct nosnat_flow_key fk = client_flow((uint16_t)(40400 + p));

		n = frame(in, &ip, &l, 0);
		stats_snap();
		if (run_xdp(in, n, dummy_ifindex, &r) || r.ret != XDP_TX)
			goto out;
		if (p == 0) {
			memcpy(first, r.pkt, r.len);
			fn = r.len;
		} else if (r.len != fn || memcmp(r.pkt + 14, first + 14, 20 + 12)) {
			fprintf(stderr, "    SYN %u left differently\n", p);	/* same pod, same node */
			goto out;
		}
		if (counter(maps.stats, nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP,
							 NOSNAT_R_NEW_FLOW_LIMITED), 0, 2) !=
		    stats_now[nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NEW_FLOW_LIMITED)])
			limited += !bpf_map_lookup_elem(maps.flows_new, &fk, &f) ? 100 : 1;
		else
			recorded += !bpf_map_lookup_elem(maps.flows_new, &fk, &f);
	}
	rc = 0;
out:
	sched_setaffinity(0, sizeof(old), &old);
	CHECK(!rc, "SYN run");
	CHECK(recorded == 3 && limited == 2, "%d recorded, %d limited (>= 100: a limited one recorded)",
	      recorded, limited);
	/* local pods: never limited */
	CHECK(!cfg_reset(), "reset");
	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	cfg.new_flow_limit = 1;
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	for (uint16_t p = 0; p < 4; p++) {
		struct l4_spec l = tcp((uint16_t)(40410 + p), 25, TH_SYN);
		struct nosnat_flow_key fk = client_flow((uint16_t)(40410 + p));

		n = frame(in, &ip, &l, 0);
		stats_snap();
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "local SYN");
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "counter");
		CHECK(!bpf_map_lookup_elem(maps.flows_new, &fk, &f), "local SYN %u not recorded", p);
	}
	return 0;
}

/* verify: two VIP ports of one pod port that share a conntrack mark value
 * would let a reply be proven for the wrong VIP. */
static int t_verify_mark_collision(void)
{
	struct nosnat_cfg cfg;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	__u32 zero = 0;
	int problems;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_vip(T_VIP, 587, IPPROTO_TCP), "second VIP port");
	CHECK(!add_be(T_VIP, 587, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 1), "same pod port");
	out = open_memstream(&buf, &len);
	CHECK(out && !state_read(&maps, &st), "read");
	problems = state_verify(&maps, &st, out);
	fflush(out);
	CHECK(problems == 0, "default mask: %s", buf);
	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	cfg.ct_mark_mask = 0x100;	/* one bit: every VIP has the same mark */
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY) && !state_read(&maps, &st), "cfg");
	problems = state_verify(&maps, &st, out);
	fclose(out);
	CHECK(problems == 1 && strstr(buf, "VIP ports 587 and 25 share a conntrack mark under mask 0x100"),
	      "%d problems: %s", problems, buf);
	free(buf);
	return 0;
}

/* --- ICMP errors about VIP flows ---------------------------------------- */

#define T_HOP "203.0.113.1"	/* a router on the client's path */

/* The IPv4 packet of an ICMP error from `from` to `to` quoting q (qlen bytes). */
static size_t icmp_error_l3(uint8_t *buf, const char *from, const char *to, uint8_t type,
			    uint8_t code, uint16_t mtu, const uint8_t *q, size_t qlen)
{
	static uint8_t msg[1024];
	struct ip_spec ip = ipv4(from, to);
	struct l4_spec l = { .proto = IPPROTO_ICMP, .payload = msg, .payload_len = 8 + qlen };
	uint16_t c;

	memset(msg, 0, 8);
	msg[0] = type;
	msg[1] = code;
	msg[6] = (uint8_t)(mtu >> 8);
	msg[7] = (uint8_t)mtu;
	memcpy(msg + 8, q, qlen);
	c = csum16(msg, 8 + qlen, 0);
	memcpy(msg + 2, &c, 2);
	ip.frag = 0;
	return build_ip(buf, &ip, &l);
}

/* The pod's reply through the VIP as it crossed the hop (VIP:25 -> client),
 * with 100 bytes of data; and the same packet as the pod sent it. */
static size_t vip_reply_l3(uint8_t *buf, uint16_t cport, int as_pod)
{
	static uint8_t data[100];
	struct ip_spec ip = ipv4(T_VIP, T_CLIENT);
	struct l4_spec l = tcp(25, cport, TH_ACK);

	l.payload = data;
	l.payload_len = sizeof(data);
	if (as_pod) {
		ip.saddr = ip4(T_POD_LOCAL);
		l.sport = 2525;
	}
	return build_ip(buf, &ip, &l);
}

/* q's first qlen bytes as the pod sent them: source address and port the
 * pod's, quoted IPv4 sum recomputed; the quoted L4 sum left as it was. */
static void quote_as_pod(uint8_t *q, const char *pod, uint16_t pod_port)
{
	uint16_t c;

	memcpy(q + 12, &(uint32_t){ ip4(pod) }, 4);
	memset(q + 10, 0, 2);
	c = csum16(q, 20, 0);
	memcpy(q + 10, &c, 2);
	q[20] = (uint8_t)(pod_port >> 8);
	q[21] = (uint8_t)pod_port;
}

static int establish_local(uint16_t cport)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(cport, 25, TH_SYN);
	struct run r;
	size_t n = frame(in, &ip, &l, 0);

	if (run_xdp(in, n, 1, &r) || r.ret != XDP_PASS)
		return -1;
	l = tcp(cport, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	return run_xdp(in, n, 1, &r) || r.ret != XDP_PASS ? -1 : 0;
}

static int t_icmp_error_local(void)
{
	uint8_t reply[512], q[512], l3[1024], in[1200], want[1200];
	size_t n, wn, rn, l3n;
	static const size_t quotes[] = { 28, 60, 160 };	/* 8 bytes of L4, the TCP header, all */

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!establish_local(40500), "flow");
	rn = vip_reply_l3(reply, 40500, 0);
	for (size_t i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++) {
		size_t ql = quotes[i] < rn ? quotes[i] : rn;

		/* frag needed, next-hop MTU 1400: to the pod, quoting its own packet */
		l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, ql);
		n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
		memcpy(q, reply, ql);
		quote_as_pod(q, T_POD_LOCAL, 2525);
		l3n = icmp_error_l3(l3, T_HOP, T_POD_LOCAL, 3, 4, 1400, q, ql);
		wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
		CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_ICMP_ERROR),
		      "frag needed quoting %zu bytes", ql);
	}
	/* time exceeded alike */
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 11, 0, 0, reply, 28);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	memcpy(q, reply, 28);
	quote_as_pod(q, T_POD_LOCAL, 2525);
	l3n = icmp_error_l3(l3, T_HOP, T_POD_LOCAL, 11, 0, 0, q, 28);
	wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_ICMP_ERROR), "time exceeded");
	return 0;
}

static int t_icmp_error_remote(void)
{
	uint8_t reply[512], q[512], l3[1024], outer[1200], in[1200], want[1200];
	size_t n, wn, rn, l3n, on;
	__u16 tag = backend_tag(ip4(T_POD_B), htons(2525));

	/* ingress node: the flow's pod is on node B, the error goes there */
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	rn = vip_reply_l3(reply, 40510, 0);
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, rn < 60 ? rn : 60);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	on = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), tag, 0, 0, l3, l3n);
	wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, on);
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_TX, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_ICMP_ERROR), "how it left");

	/* the pod's node: decapsulated and rewritten, on its flow entry */
	CHECK(!cfg_reset(), "reset");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!establish_local(40511), "flow");
	rn = vip_reply_l3(reply, 40511, 0);
	tag = backend_tag(ip4(T_POD_LOCAL), htons(2525));
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, 60);
	on = build_ipip(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), tag, 0, 0, l3, l3n);
	n = build_eth(in, MAC_SELF, MAC_B, 0, 0x0800, outer, on);
	memcpy(q, reply, 60);
	quote_as_pod(q, T_POD_LOCAL, 2525);
	l3n = icmp_error_l3(l3, T_HOP, T_POD_LOCAL, 3, 4, 1400, q, 60);
	wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x0800, l3, l3n);
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_ICMP_ERROR), "decap + rewrite");

	/* no entry: the tag's pod, on its conntrack mark only */
	rn = vip_reply_l3(reply, 40512, 0);
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, 60);
	on = build_ipip(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), tag, 0, 0, l3, l3n);
	n = build_eth(in, MAC_SELF, MAC_B, 0, 0x0800, outer, on);
	CHECK(!expect_drop(in, n, NOSNAT_R_ICMP_NO_FLOW), "unproven: dropped");
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40512, 2525, mail_mark()), "conntrack entry");
	memcpy(q, reply, 60);
	quote_as_pod(q, T_POD_LOCAL, 2525);
	l3n = icmp_error_l3(l3, T_HOP, T_POD_LOCAL, 3, 4, 1400, q, 60);
	wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x0800, l3, l3n);
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_ICMP_ERROR), "proven by its mark");
	return 0;
}

static int t_icmp_not_ours(void)
{
	uint8_t reply[512], l3[1024], in[1200];
	struct ip_spec ip;
	struct l4_spec l;
	size_t n, l3n;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!establish_local(40520), "flow");
	vip_reply_l3(reply, 40520, 0);
	/* quote cut inside the L4's first 8 bytes: dropped, counted */
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, 24);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	CHECK(!expect_drop(in, n, NOSNAT_R_MALFORMED), "truncated quote");
	/* about a VIP flow nobody knows (a pod here, no entry, no conntrack): dropped */
	vip_reply_l3(reply, 40521, 0);
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, 28);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	CHECK(!expect_drop(in, n, NOSNAT_R_ICMP_NO_FLOW), "unknown VIP flow");
	/* about a port of the VIP address that is no VIP: untouched */
	ip = ipv4(T_VIP, T_CLIENT);
	l = tcp(80, 40522, TH_ACK);
	build_ip(reply, &ip, &l);
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, 28);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	CHECK(!expect_untouched(in, n, NOSNAT_R_NONE), "not a VIP port");
	/* to a node's own address about its own packet: untouched */
	ip = ipv4(T_NODE_SELF, T_CLIENT);
	l = tcp(22, 40523, TH_ACK);
	build_ip(reply, &ip, &l);
	l3n = icmp_error_l3(l3, T_HOP, T_NODE_SELF, 3, 4, 1400, reply, 28);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	CHECK(!expect_untouched(in, n, NOSNAT_R_NONE), "not to a VIP");
	/* an echo request to the VIP: the kernel's, as before */
	{
		static const uint8_t echo[8] = { 8, 0, 0xf7, 0xfe, 0, 1, 0, 1 };

		ip = ipv4(T_CLIENT, T_VIP);
		l = (struct l4_spec){ .proto = IPPROTO_ICMP, .payload = echo, .payload_len = sizeof(echo) };
		l3n = build_ip(l3, &ip, &l);
		n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
		CHECK(!expect_untouched(in, n, NOSNAT_R_NONE), "echo");
	}
	return 0;
}

/* A pod's own ICMP errors about a VIP flow leave as the VIP's. */
static int t_icmp_from_pod(void)
{
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	uint8_t in[256], dgram[256], q[256], l3[512], err[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = { .proto = IPPROTO_UDP, .sport = 40530, .dport = 53,
			     .payload = "query", .payload_len = 5 };
	struct run r;
	size_t n, dn, en, wn, l3n;
	uint16_t c;

	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "backend add");
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "the client's datagram");
	/* the pod has nothing on 5353: port unreachable, quoting the datagram
	 * as it arrived (client -> pod:5353) */
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 5353;
	dn = build_ip(dgram, &ip, &l);
	l3n = icmp_error_l3(l3, T_POD_LOCAL, T_CLIENT, 3, 3, 0, dgram, dn);
	en = build_eth(err, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
	/* as the client must see it: from the VIP, quoting client -> VIP:53 */
	memcpy(q, dgram, dn);
	memcpy(q + 16, &(uint32_t){ ip4(T_VIP) }, 4);
	q[22] = 0;
	q[23] = 53;
	memset(q + 10, 0, 2);
	c = csum16(q, 20, 0);
	memcpy(q + 10, &c, 2);
	l3n = icmp_error_l3(l3, T_VIP, T_CLIENT, 3, 3, 0, q, dn);
	wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
	stats_snap();
	CHECK(!run_tc(fd, err, en, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_ICMP_ERROR), "counter");

	/* the pod's echo reply to the client: not an error, untouched */
	{
		static const uint8_t echo_reply[8] = { 0, 0, 0xff, 0xfe, 0, 1, 0, 1 };
		struct ip_spec eip = ipv4(T_POD_LOCAL, T_CLIENT);
		struct l4_spec el = { .proto = IPPROTO_ICMP, .payload = echo_reply,
				      .payload_len = sizeof(echo_reply) };

		l3n = build_ip(l3, &eip, &el);
		en = build_eth(err, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
		stats_snap();
		CHECK(!run_tc(fd, err, en, &r) && r.ret == TC_ACT_OK, "tc run");
		CHECK_BYTES(&r, err, en);
		CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");
	}

	/* the same error about a datagram of another client port: no such flow, untouched */
	l.sport = 40531;
	dn = build_ip(dgram, &ip, &l);
	l3n = icmp_error_l3(l3, T_POD_LOCAL, T_CLIENT, 3, 3, 0, dgram, dn);
	en = build_eth(err, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
	stats_snap();
	CHECK(!run_tc(fd, err, en, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, err, en);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");
	return 0;
}

/* NOSNAT_PINNED_MAPS is the one list of pinned maps: each entry's name is
 * its BPF map's, and every map the object pins is in it. */
static int t_pinned_maps_listed(void)
{
	struct nosnat_bpf *o = nosnat_bpf__open();
	struct bpf_map *m;
	int listed = 0, pinned = 0;

	CHECK(o, "open");
#define X(field, map, name) \
	CHECK(!strcmp(name, #map) && !strcmp(bpf_map__name(o->maps.map), name) && \
	      bpf_map__pin_path(o->maps.map), "%s: listed as %s, not pinned by that name", #map, name); \
	listed++;
	NOSNAT_PINNED_MAPS(X)
#undef X
	bpf_object__for_each_map(m, o->obj) {
		int found = 0;

		if (!bpf_map__pin_path(m))
			continue;	/* per-load caches and counters: not pinned */
		pinned++;
#define X(field, map, name) found |= !strcmp(bpf_map__name(m), name);
		NOSNAT_PINNED_MAPS(X)
#undef X
		CHECK(found, "map %s is pinned but not in NOSNAT_PINNED_MAPS", bpf_map__name(m));
	}
	nosnat_bpf__destroy(o);
	CHECK(listed == pinned, "%d listed, %d pinned", listed, pinned);
	return 0;
}

struct test {
	const char *name;
	int (*fn)(void);
};

static const struct test tests[] = {
	{ "SYN to VIP, local backend: DNAT + flow entry for the replies", t_local_syn },
	{ "SYN to VIP, remote backend: IPIP, MSS clamped, XDP_TX/redirect", t_remote_syn },
	{ "MSS option at an odd offset clamped with a valid checksum", t_mss_odd_offset },
	{ "MSS clamped for a client whose packets carry IP options", t_mss_clamp_ip_options },
	{ "remote backend, next hop unresolved (or veth uplink): handed to tc", t_remote_no_neigh },
	{ "existing flow keeps its backend after a backend is added", t_existing_flow_sticks },
	{ "flow of a removed backend moves to a remaining one", t_backend_removed_flow_moves },
	{ "a SYN on a reused client port skips a draining backend", t_syn_skips_draining },
	{ "non-VIP packets pass untouched", t_non_vip },
	{ "VIP on an unconfigured port or protocol passes untouched", t_vip_other_port },
	{ "VIP without (or with only draining) backends: dropped", t_no_backend },
	{ "IPIP from an unknown source dropped; foreign tunnels pass", t_ipip_unknown_source },
	{ "IPIP from a known node: decap + DNAT to the tagged pod; tc SYN-ACK", t_ipip_known_node },
	{ "truncated and lying headers at every layer", t_truncated },
	{ "IPv4 options", t_ip_options },
	{ "fragments of VIP traffic dropped", t_fragments },
	{ "UDP VIP, with and without checksum", t_udp },
	{ "802.1Q and QinQ", t_vlan },
	{ "tc egress rewrites replies only of a client's flow through the VIP", t_tc_reply },
	{ "too big for the tunnel with DF: ICMP fragmentation needed (IP options, tc uplink, rate limit)", t_icmp_frag_needed },
	{ "partial checksums (veth offload): kept locally, completed before IPIP", t_partial_checksums },
	{ "apply converges from any state to any state (40 random configs)", t_apply_converges },
	{ "a pod port behind more than 7 VIP ports is refused", t_pod_port_limit },
	{ "packet fuzzer: mutated packets through XDP and both tc programs", t_packet_fuzz },
	{ "spoofed sources: a VIP or this node as source is dropped", t_spoofed_sources },
	{ "SYN flood beyond both tables: established flows, active or idle, stay", t_syn_flood },
	{ "replies follow the flow: evicted, re-created, two VIP ports, other slot", t_reply_follows_flow },
	{ "pod ports sharing a directory index: both answered, the survivor moves in", t_pod_dir_shared_index },
	{ "flow cache: one jiffy at most, checked like the entry, re-picks and stale SYN-ACKs end it, SYNs ask the LRU", t_flow_cache },
	{ "a flow whose VIP id now serves another VIP is not followed", t_vip_id_reused },
	{ "address filter: a non-VIP sharing a VIP's bit passes; bit cleared last", t_vip_filter },
	{ "next hop cached per tick and CPU, looked up again after", t_nexthop_cache },
	{ "a direct connection on an old VIP flow's tuple keeps the pod's address", t_stale_tuple },
	{ "the handshake's ACK promotes the flow and marks the pod's conntrack entry", t_handshake_marks_conntrack },
	{ "replies without a flow entry: rewritten only on the VIP's conntrack mark", t_reply_without_entry },
	{ "non-SYN without a flow entry: Maglev on the ingress node, conntrack on the pod's", t_non_syn_without_entry },
	{ "second chance: sent once to the previous table's pod, never twice, only to nodes", t_second_chance },
	{ "new-flow limit: SYNs to other nodes above the rate go unrecorded", t_new_flow_limit },
	{ "verify: VIP ports of one pod port sharing a conntrack mark", t_verify_mark_collision },
	{ "one list of pinned maps, matching the BPF object both ways", t_pinned_maps_listed },
	{ "ICMP error about a local VIP flow: the pod's own (frag needed, 8/40/all L4 bytes, time exceeded)", t_icmp_error_local },
	{ "ICMP error about a remote VIP flow: encapsulated, rewritten on the pod's node", t_icmp_error_remote },
	{ "ICMP: truncated quote, unknown VIP flow, not a VIP flow, echo", t_icmp_not_ours },
	{ "a pod's port unreachable for a UDP VIP flow leaves as the VIP's", t_icmp_from_pod },
};

static int setup_netns(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"sysctl -qw net.ipv4.ip_forward=1",	/* bpf_fib_lookup needs it, as a node does */
		"ip link add nsnt0 type veth peer name nsnt1",
		"ip link set nsnt1 up",
		"ip link set nsnt0 address 02:00:00:00:00:11 mtu 1500 up",
		"ip addr add " T_NODE_SELF "/24 dev nsnt0",
		"ip neigh replace " T_NODE_B " lladdr 02:00:00:00:00:12 dev nsnt0 nud permanent",
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

static int reload_maps(void)
{
	maps = (struct nosnat_maps){
#define X(field, map, name) .field = bpf_map__fd(skel->maps.map),
		NOSNAT_PINNED_MAPS(X)
#undef X
		.lock_fd = -1,
	};
	return 0;
}

static int setup_skel(void)
{
	struct bpf_map *m;

	skel = nosnat_bpf__open();
	if (!skel)
		return -1;
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);	/* private maps, nothing pinned */
	skel->rodata->nosnat_have_ct = ct_kfuncs_available();
	if (nosnat_bpf__load(skel))
		return -1;
	return reload_maps();
}


/* --- benchmarks (test_bpf --bench FILE) ---------------------------------- */

struct bench_frame_v {
	__u32 len;
	__u32 vary;
	__u8 data[128];
};

static struct bench_bpf *bskel;
static FILE *bout;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define BENCH_RUNS 31

/* One BPF_PROG_TEST_RUN of `repeat` rounds: average ns per round. */
static double bench_run(int harness_fd, int target_fd, int prog_array, const uint8_t *pkt,
			size_t len, int vary, int ifindex, int xdp, uint32_t repeat)
{
	struct bench_frame_v f = { .len = (__u32)len, .vary = (__u32)vary };
	static uint8_t out[4096];
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat);
	__u32 zero = 0;

	memcpy(f.data, pkt, sizeof(f.data));
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_frame), &zero, &f, BPF_ANY);
	bpf_map_update_elem(prog_array, &zero, &target_fd, BPF_ANY);
	if (xdp) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	if (bpf_prog_test_run_opts(harness_fd, &o))
		return -1;
	return o.duration;
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
		f = bench_run(harness, empty, arr, pkt, len, vary, ifindex, xdp, repeat);
		t = bench_run(harness, target, arr, pkt, len, vary, ifindex, xdp, repeat);
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
static void bench_lru_scramble(int fd, size_t value_size)
{
	enum { N = NOSNAT_FLOW_ENTRIES };
	static struct nosnat_flow_key keys[N];
	uint8_t *vals = calloc(N, value_size);
	__u32 count = N, seed = 12345;

	if (!vals)
		return;
	map_clear(fd);
	for (__u32 i = 0; i < N; i++)
		keys[i] = (struct nosnat_flow_key){ .src = htonl(0xc6130000u | (i & 0xffff)),
						    .dst = ip4(T_VIP), .sport = htons((uint16_t)(1 + (i >> 16))),
						    .dport = htons(25), .proto = IPPROTO_TCP };
	bpf_map_update_batch(fd, keys, vals, &count, NULL);
	free(vals);
	for (__u32 i = N - 1; i > 0; i--) {
		__u32 j;
		struct nosnat_flow_key t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = keys[i];
		keys[i] = keys[j];
		keys[j] = t;
	}
	for (__u32 i = 0; i < N; i++)
		bpf_map_delete_elem(fd, &keys[i]);	/* some were evicted: ENOENT */
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

/* A path whose frame leaves longer or shorter than it came (IPIP). */
static void bench_path_resized(const char *name, const uint8_t *pkt, size_t len, int vary,
			       int ifindex, uint32_t repeat)
{
	bench_prog(name, bpf_program__fd(skel->progs.nosnat_xdp), pkt, len, vary, ifindex, 1,
		   repeat, 1);
}

/* The reference lookups (bench.bpf.c), their maps filled from the frame so
 * that each hits: checked before it is timed. */
struct bench_ref_flow {		/* as bench.bpf.c's */
	__be32 src, dst;
	__be16 sport, dport;
	__u32 proto;
};

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

/* nosnat against the minimal balancer, in turns: each of BENCH_RUNS
 * rounds runs the harness alone, then nosnat's path, then the balancer's,
 * on the same frame, so that both see the same moment of this shared
 * machine; the ratio of their costs is taken per round and its median
 * kept (with the median cost of each). */
static void bench_versus(const char *name, int model_fd, const uint8_t *pkt, size_t len, int vary,
			 uint32_t repeat, int resized)
{
	int harness = bpf_program__fd(bskel->progs.bench_xdp);
	int arr = bpf_map__fd(bskel->maps.bench_xdp_next);
	int empty = bpf_program__fd(bskel->progs.bench_xdp_empty);
	int nosnat = bpf_program__fd(skel->progs.nosnat_xdp);
	double a[BENCH_RUNS], b[BENCH_RUNS], ratio[BENCH_RUNS], extra = resized ? bench_head_move : 0;
	__u32 zero = 0;
	__u64 round0 = 0;
	int n = 0;

	if (!bench_wanted(name))
		return;
	bpf_map_update_elem(bpf_map__fd(bskel->maps.bench_round), &zero, &round0, BPF_ANY);
	for (int r = 0; r < BENCH_RUNS; r++) {
		double f = bench_run(harness, empty, arr, pkt, len, vary, dummy_ifindex, 1, repeat);
		double x = bench_run(harness, nosnat, arr, pkt, len, vary, dummy_ifindex, 1, repeat);
		double y = bench_run(harness, model_fd, arr, pkt, len, vary, dummy_ifindex, 1, repeat);

		if (f < 0 || x < 0 || y < 0 || y - f - extra <= 0)
			continue;
		a[n] = x - f - extra;
		b[n] = y - f - extra;
		ratio[n] = a[n] / b[n];
		n++;
	}
	if (!n)
		return;
	fprintf(bout, "versus\t%s\t%.1f\t%.1f\t%.3f\n", name, median(a, n), median(b, n),
		median(ratio, n));
	printf("  versus: %-36s nosnat %7.1f ns, minimal %7.1f ns, ratio %.2f\n", name, median(a, n),
	       median(b, n), median(ratio, n));
}

/* The minimal IPIP balancer (bench.bpf.c), its maps filled as nosnat's are
 * for the encapsulated rows: one VIP, its backends on another node, the
 * established frame's flow recorded. Checked before it is timed: both
 * frames leave by XDP_TX, in IPIP to that node. */
struct model_vip_key {		/* as bench.bpf.c's */
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

static int model_check(int fd, const uint8_t *pkt, size_t len, __be32 node)
{
	struct run r;
	__be32 daddr;

	if (run_tc(fd, pkt, len, &r) || r.ret != XDP_TX || r.len != len + 20)
		return -1;
	memcpy(&daddr, r.pkt + 14 + 16, 4);
	return r.pkt[14 + 9] == IPPROTO_IPIP && daddr == node ? 0 : -1;
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

	printf("nosnat (pod on another node) against the minimal balancer, in turns:\n");
	bench_versus("non-VIP packet", fd, other, other_len, 0, repeat, 0);
	bench_versus("established flow, IPIP", fd, ack, ack_len, 0, repeat, 1);
	bench_versus("SYN, one 5-tuple again, IPIP", fd, rsyn, rsyn_len, 0, repeat, 1);
	if (bench_wanted("new flow (SYN), IPIP")) {
		bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
		bench_lru_scramble(maps.flows_new, sizeof(struct nosnat_flow));
		bench_lru_scramble(bpf_map__fd(bskel->maps.bench_model_flows), sizeof(__u32));
	}
	bench_versus("new flow (SYN), IPIP", fd, syn, syn_len, 1, repeat, 1);
	return 0;
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
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40001, 25, TH_SYN);
	if (bench_wanted("xdp: VIP SYN, new flow, local pod")) {
		bench_lru_scramble(maps.flows, sizeof(struct nosnat_flow));
		bench_lru_scramble(maps.flows_new, sizeof(struct nosnat_flow));
	}
	bench_path("xdp: VIP SYN, new flow, local pod", pkt, n, 1, 1, 1, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40002, 25, TH_ACK);
	bench_establish(pkt, n, 34, 1);
	bench_path("xdp: VIP established flow, local pod", pkt, n, 0, 1, 1, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40007, 25, TH_SYN);
	bench_path("xdp: VIP SYN, one 5-tuple again, local pod", pkt, n, 0, 1, 1, repeat);
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
	n = bench_frame_for(pkt, T_POD_LOCAL, T_CLIENT, 2525, 40002, TH_ACK);
	bench_path("tc egress: reply NAT", pkt, n, 0, 1, 0, repeat);
	n = bench_frame_for(pkt, T_POD_LOCAL, T_CLIENT2, 2525, 40002, TH_ACK);
	bench_path("tc egress: a pod, no VIP flow (pass)", pkt, n, 0, 1, 0, repeat);
	n = bench_frame_for(pkt, T_NODE_SELF, T_CLIENT2, 40003, 443, TH_ACK);
	bench_path("tc egress: not from a pod (pass)", pkt, n, 0, 1, 0, repeat);

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
		bench_lru_scramble(maps.flows_new, sizeof(struct nosnat_flow));
	}
	bench_path_resized("xdp: VIP SYN, new flow, encapsulated", syn, syn_n, 1, dummy_ifindex, repeat);
	n = bench_frame_for(pkt, T_CLIENT, T_VIP, 40005, 25, TH_ACK);
	bench_establish(pkt, n, 34, dummy_ifindex);
	bench_path_resized("xdp: VIP established flow, encapsulated", pkt, n, 0, dummy_ifindex, repeat);
	rsyn_n = bench_frame_for(rsyn, T_CLIENT, T_VIP, 40009, 25, TH_SYN);
	bench_path_resized("xdp: VIP SYN, one 5-tuple again, encapsulated", rsyn, rsyn_n, 0,
			   dummy_ifindex, repeat);
	bench_refs(pkt, n, repeat);
	other_n = bench_frame_for(other, T_CLIENT, T_OTHER, 40000, 25, TH_ACK);
	return bench_model(other, other_n, syn, syn_n, pkt, n, rsyn, rsyn_n, repeat);
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

static int bench_main(const char *outfile, uint32_t repeat)
{
	bout = fopen(outfile, "w");
	if (!bout)
		return 1;
	bskel = bench_bpf__open_and_load();
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
			if (bench_paths(repeat))
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

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	st.tmp = &st_tmp;
	if (setup_netns() || setup_skel()) {
		fprintf(stderr, "bpf: setup failed (root, BTF kernel needed)\n");
		printf("bpf: 0 passed, 1 failed\n");
		return 1;
	}
	if (argc > 2 && !strcmp(argv[1], "--bench"))
		return bench_main(argv[2], argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 200000);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		if (cfg_reset()) {
			fprintf(stderr, "bpf: map reset failed\n");
			failed++;
			continue;
		}
		if (tests[i].fn()) {
			printf("  FAIL  %s\n", tests[i].name);
			failed++;
		} else {
			printf("  ok    %s\n", tests[i].name);
			passed++;
		}
	}
	nosnat_bpf__destroy(skel);
	if (!passed && !failed)
		failed = 1;	/* ran nothing: that is a failure */
	printf("bpf: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
