// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The packet walk: local and remote delivery, MSS, decapsulation, headers
 * that lie, options, fragments, UDP, VLANs, the tc reply, ICMP frag needed,
 * partial checksums. */
#include "harness.h"

/* --- tests -------------------------------------------------------------- */

int expect_local(const uint8_t *in, size_t n, const uint8_t *want, size_t wn);

int t_local_syn(void)
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
	CHECK(!hs_get(maps.flows_new, &fk, &f), "flow entry missing from the new-flow table");
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

int t_remote_syn(void)
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
	CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "counter");

	/* Arriving on another interface than the next hop's: redirect. */
	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(verdict_is(&r, XDP_REDIRECT), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "counter");
	return 0;
}

/* The outer header always carries DF, also over a packet without it: an
 * atomic datagram, never fragmented between nodes, whose ID (the pod's tag)
 * need not be unique (RFC 6864). The ID without DF would have let the
 * fragments of two packets reassemble into one. */
int t_outer_df_always(void)
{
	uint8_t in[256], inner[256], outer[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40090, .dport = 53,
			     .payload = "query", .payload_len = 5 };
	struct run r;
	size_t n, in_n, out_n, wn;

	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_B, 53, T_NODE_B, 1), "be add");
	ip.frag = 0;		/* no DF */
	ip.id = 0x4242;
	n = frame(in, &ip, &u, 0);
	in_n = build_ip(inner, &ip, &u);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), backend_tag(ip4(T_POD_B), htons(53)),
			   0, 0x4000, inner, in_n);
	wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

/* MSS after a NOP: its value sits at an odd offset, where the checksum
 * update must be byte-swapped. */
int t_mss_odd_offset(void)
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
	CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

int t_remote_no_neigh(void)
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
	meta = r.meta;
	CHECK(meta.magic == NOSNAT_META_MAGIC && meta.ifindex == (__u32)dummy_ifindex,
	      "metadata %x/%u", meta.magic, meta.ifindex);
	CHECK(r.tc_ret == TC_ACT_REDIRECT, "the twin's verdict %d", r.tc_ret);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NEIGH_FALLBACK), "counter");
	CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP, NOSNAT_R_TC_FORWARD),
	      "the twin's counter");

	/* A veth uplink (encap via tc): even a resolved next hop goes to tc. */
	{
		CHECK(!cfg_flags(NOSNAT_CFG_ENCAP_VIA_TC, 0), "cfg");
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
		CHECK(r.ret == XDP_PASS && r.meta.magic == NOSNAT_META_MAGIC && r.tc_ret == TC_ACT_REDIRECT,
		      "verdict %u meta %x twin %d", r.ret, r.meta.magic, r.tc_ret);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_TC_FORWARD), "counter");
	}
	return 0;
}

/* A new flow to a pod on another node whose next hop is not resolved, as
 * each mode takes it: XDP without metadata picks the pod, records the flow
 * marked handed on and passes the SYN on untouched and uncounted (it cannot
 * hand the neighbour's work to tc); tc's walk finds that entry, encapsulates
 * and leaves the MACs to the kernel's neighbour code, counting the new
 * flow once and clearing the mark. Every mode ends with the same frame. */
int t_syn_no_neigh(void)
{
	static uint8_t opts[8] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 };	/* NOP, MSS 1460, pad */
	static uint8_t opts_c[8] = { 1, 2, 4, 0x05, 0xa0, 1, 1, 0 };
	uint8_t in[256], inner[256], outer[512], want[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40052, 25, TH_SYN);
	struct nosnat_flow_key fk = client_flow(40052);
	struct nosnat_flow f;
	struct run r;
	size_t n, in_n, out_n, wn;
	__u32 vid;

	CHECK(!mail_vip(T_POD_C, 25, T_NODE_C), "mail VIP");
	vid = st.vips[0].val.id;
	l.opts = opts;
	l.opts_len = sizeof(opts);
	n = frame(in, &ip, &l, 0);
	l.opts = opts_c;	/* the MSS clamped for the tunnel */
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_C),
			   backend_tag(ip4(T_POD_C), htons(25)), 0, 0x4000, inner, in_n);
	wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, out_n);
	if (test_mode == MODE_XDP_NOMETA) {
		stats_snap();
		CHECK(!run_xdp_only(in, n, dummy_ifindex, &r) && r.ret == XDP_PASS, "XDP: %u", r.ret);
		CHECK_BYTES(&r, in, n);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_PASS, NOSNAT_R_TO_TC), "XDP's counter");
		CHECK(!hs_get(maps.flows_new, &fk, &f) &&
		      (f.flags & NOSNAT_FLOW_HANDED_ON) && f.backend_addr == ip4(T_POD_C),
		      "XDP's pick, recorded and marked");
		CHECK(counter(maps.vip_stat, vid, 0, 3) == 0, "XDP counted the VIP's packet");
	}
	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	if (test_mode == MODE_XDP_META)
		CHECK(r.ret == XDP_PASS && r.meta.magic == NOSNAT_META_MAGIC &&
		      r.tc_ret == TC_ACT_REDIRECT, "XDP %u, the twin %d", r.ret, r.tc_ret);
	else
		CHECK(last_via_tc && r.tc_ret == TC_ACT_REDIRECT, "tc's walk: %d", r.tc_ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(!hs_get(maps.flows_new, &fk, &f) && !(f.flags & NOSNAT_FLOW_HANDED_ON) &&
	      f.backend_addr == ip4(T_POD_C), "the flow, unmarked");
	CHECK(counter(maps.vip_stat, vid, 2, 3) == 1, "one new flow");
	CHECK(counter(maps.vip_stat, vid, 0, 3) == 1, "one VIP packet");
	return 0;
}

int t_existing_flow_sticks(void)
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
int expect_xdp(const uint8_t *in, size_t n, int ifindex, __u32 ret, const uint8_t *want,
		      size_t wn, __u32 action, __u32 reason)
{
	struct run r;

	stats_snap();
	CHECK(!run_xdp(in, n, ifindex, &r), "test run");
	CHECK(verdict_is(&r, ret), "verdict %u, want %u", r.ret, ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, action, reason), "counter");
	return 0;
}

int expect_pass(const uint8_t *in, size_t n, const uint8_t *want, size_t wn,
		       __u32 action, __u32 reason)
{
	return expect_xdp(in, n, 1, XDP_PASS, want, wn, action, reason);
}

/* A frame DNATed to a local pod. */
int expect_local(const uint8_t *in, size_t n, const uint8_t *want, size_t wn)
{
	return expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE);
}

/* Packets that are not ours leave exactly as they came. */
int expect_untouched(const uint8_t *in, size_t n, __u32 reason)
{
	return expect_pass(in, n, in, n, NOSNAT_ACT_PASS, reason);
}

int expect_drop(const uint8_t *in, size_t n, __u32 reason)
{
	struct run r;

	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_DROP, "verdict %u", r.ret);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, reason), "counter");
	return 0;
}

/* What node outer_src sends this node: ip/l in IPIP, outer ID id, outer TOS tos. */
size_t ipip_frame_tos(uint8_t *buf, const char *outer_src, uint16_t id, uint8_t tos,
		      const struct ip_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2048];
	size_t in_n = build_ip(inner, ip, l);
	size_t out_n = build_ipip(outer, ip4(outer_src), ip4(T_NODE_SELF), id, tos, 0x4000, inner, in_n);

	return build_eth(buf, MAC_SELF, MAC_B, 0, 0x0800, outer, out_n);
}

size_t ipip_frame(uint8_t *buf, const char *outer_src, uint16_t id,
			 const struct ip_spec *ip, const struct l4_spec *l)
{
	return ipip_frame_tos(buf, outer_src, id, 0, ip, l);
}

/* What this node sends to node to_node: ip/l in IPIP with outer ID id. */
size_t encap_frame(uint8_t *buf, const char *to_node, uint16_t id, const struct ip_spec *ip,
			  const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2048];
	size_t in_n = build_ip(inner, ip, l);
	size_t out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(to_node), id, 0, 0x4000, inner, in_n);

	return build_eth(buf, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
}

int t_ipip_known_node(void)
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

int t_tc_reply(void)
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

int t_icmp_frag_needed(void)
{
	static uint8_t payload[1500];
	uint8_t in[2048], orig_l3[2048], want[256], l3[128];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40030, 25, TH_ACK);
	/* the node's frag-needed: internetwork control, as the kernel sends */
	const struct ip_spec node = { .saddr = ip4(T_NODE_SELF), .daddr = ip4(T_CLIENT),
				      .tos = 0xc0, .ttl = 64 };
	struct run r;
	size_t n, l3n, wn;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	l.payload = payload;
	l.payload_len = 1500 - 40;	/* a full 1500-byte packet: +20 does not fit */
	n = frame(in, &ip, &l, 0);
	build_ip(orig_l3, &ip, &l);
	l3n = build_icmp_error(l3, &node, 3, 4, 1480, orig_l3, 28);
	wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED), "counter");
	{	/* answered with ICMP, never sent: not the pod's packet, nor a flow */
		__u32 vid = st.vips[0].val.id;
		int bid = state_find_backend(&st, vid, ip4(T_POD_B), htons(2525));

		CHECK(counter(maps.vip_stat, vid, 0, 3) == 1, "the VIP's packet counted");
		CHECK(counter(maps.be_stat, (__u32)bid, 0, 2) == 0, "backend packets %llu, want 0",
		      (unsigned long long)counter(maps.be_stat, (__u32)bid, 0, 2));
		CHECK(counter(maps.vip_stat, vid, 2, 3) == 0, "VIP new flows %llu, want 0",
		      (unsigned long long)counter(maps.vip_stat, vid, 2, 3));
	}

	/* With IP options: the quote is the whole header and 8 bytes */
	{
		static const uint8_t nops[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };	/* NOPs, EOL */

		ip.opts = nops;
		ip.opts_len = sizeof(nops);
		l.payload_len = 1500 - 48;
		n = frame(in, &ip, &l, 0);
		build_ip(orig_l3, &ip, &l);
		l3n = build_icmp_error(l3, &node, 3, 4, 1480, orig_l3, 28 + 8);
		wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
		stats_snap();
		CHECK(!run_xdp(in, n, 1, &r) && verdict_is(&r, XDP_TX), "options: verdict %u", r.ret);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED), "counter");

		/* a veth uplink (encap via tc): the error leaves the way
		 * encapsulated frames do, through the tc twin; where tc walks
		 * itself, it sends the error back out of the uplink */
		if (test_mode != MODE_XDP_META) {
			CHECK(!cfg_flags(NOSNAT_CFG_ENCAP_VIA_TC, 0), "cfg");
			stats_snap();
			CHECK(!run_xdp(in, n, 1, &r) && last_via_tc && verdict_is(&r, XDP_TX),
			      "tc: verdict %u", r.ret);
			CHECK_BYTES(&r, want, wn);
			CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED), "counter");
		} else {
			struct nosnat_meta meta;

			CHECK(!cfg_flags(NOSNAT_CFG_ENCAP_VIA_TC, 0), "cfg");
			wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
			stats_snap();
			CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "tc: verdict %u", r.ret);
			meta = r.meta;
			CHECK(r.tc_ret == TC_ACT_REDIRECT, "the twin's verdict %d", r.tc_ret);
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
		__u32 slot = nosnat_stat_slot(walk_hook(), NOSNAT_ACT_DROP, NOSNAT_R_ICMP_LIMITED);

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
				sent += verdict_is(&r, XDP_TX) || r.ret == XDP_PASS;
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
int t_mss_clamp_ip_options(void)
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
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

/* The outer ID's tag is the one the loader wrote into the backend's slot;
 * pins of a build before ABI 9 hold none, and the programs compute it
 * then, until attach writes it in (be_tags_fill). */
int t_backend_tag_older_pins(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40065, 25, TH_SYN);
	__u16 tag = backend_tag(ip4(T_POD_B), htons(2525));
	__u16 other = (tag ^ 0x2a5a) & NOSNAT_ID_TAG_MASK;
	struct nosnat_backend be;
	struct run r;
	__u32 id = 0;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	for (; id < NOSNAT_MAX_BACKENDS; id++)
		if ((st.be[id].flags & NOSNAT_BE_IN_USE) && st.be[id].addr == ip4(T_POD_B))
			break;
	CHECK(id < NOSNAT_MAX_BACKENDS, "pod B's slot");
	CHECK(!bpf_map_lookup_elem(maps.backends, &id, &be) && be.tag == (NOSNAT_BE_TAG_KNOWN | tag),
	      "tag written by apply: %#x", be.tag);
	n = frame(in, &ip, &l, 0);
	l.opts = syn_opts_1440;		/* clamped for the tunnel */
	wn = encap_frame(want, T_NODE_B, tag, &ip, &l);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "SYN: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);

	/* an older build's slot: no tag, computed */
	l = tcp(40065, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	wn = encap_frame(want, T_NODE_B, tag, &ip, &l);
	be.tag = 0;
	CHECK(!bpf_map_update_elem(maps.backends, &id, &be, BPF_EXIST), "tag cleared");
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "ACK: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);

	CHECK(!state_read(&maps, &st) && state_verify(&maps, &st, stderr) == 0, "verify: none is right");

	/* the slot's tag is what is sent, not computed again; verify says
	 * it is wrong */
	be.tag = NOSNAT_BE_TAG_KNOWN | other;
	CHECK(!bpf_map_update_elem(maps.backends, &id, &be, BPF_EXIST), "tag set");
	wn = encap_frame(want, T_NODE_B, other, &ip, &l);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "ACK: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	{
		char *buf = NULL, line[160];
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);
		int problems;

		CHECK(out && !state_read(&maps, &st), "read");
		problems = state_verify(&maps, &st, out);
		fclose(out);
		snprintf(line, sizeof(line), "backend %u (%s): tag %#x in nosnat_backends, not its own %#x",
			 id, T_POD_B, NOSNAT_BE_TAG_KNOWN | other, NOSNAT_BE_TAG_KNOWN | tag);
		CHECK(problems == 1 && strstr(buf, line), "%d problems: %s", problems, buf);
		free(buf);
	}

	/* attach over such pins writes the tag in, and nothing else */
	be.tag = 0;
	CHECK(!bpf_map_update_elem(maps.backends, &id, &be, BPF_EXIST), "tag cleared");
	CHECK(!state_read(&maps, &st) && !be_tags_fill(&maps, &st), "tags filled");
	{
		struct nosnat_backend now;

		be.tag = NOSNAT_BE_TAG_KNOWN | tag;
		CHECK(!bpf_map_lookup_elem(maps.backends, &id, &now) && !memcmp(&now, &be, sizeof(be)),
		      "slot after the fill: tag %#x", now.tag);
	}
	wn = encap_frame(want, T_NODE_B, tag, &ip, &l);
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "ACK: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

int t_backend_removed_flow_moves(void)
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

/* XDP left a frame for the tc twin to rewrite for a pod here: untouched,
 * with exactly this in its metadata. */
static int expect_told_twin(const uint8_t *in, size_t n, const char *vip, uint16_t vport,
			    const char *pod, uint16_t pport, uint8_t proto, uint8_t action)
{
	struct nosnat_meta want = { .magic = NOSNAT_META_LOCAL, .vip = ip4(vip), .pod = ip4(pod),
				    .vip_port = htons(vport), .pod_port = htons(pport),
				    .proto = proto, .action = action };
	struct run r;

	CHECK(!run_xdp_only(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_PASS, "verdict %u", r.ret);
	CHECK(r.meta_len == sizeof(want) && !memcmp(r.out, &want, sizeof(want)),
	      "metadata (%u bytes) is not the rewrite", r.meta_len);
	CHECK_BYTES(&r, in, n);
	return 0;
}

/* Packets from a Linux sender over veth carry a partial check, which only
 * the skb can tell from a complete one. Local delivery: XDP leaves the
 * packet as it came and tells the tc twin the rewrite (whose helpers know
 * the skb's kind; the e2e tests send both kinds through it). A frame XDP
 * sends itself gets its checksum completed, at any length up to a jumbo
 * MTU; a frame for the tc twin keeps its partial sum and its MSS (tc
 * clamps it, knowing the kind). */
int t_partial_checksums(void)
{
	static uint8_t in[4096], want[4096], inner[4096], outer[4096], payload[3001];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40060, 25, TH_SYN);
	struct run r;
	size_t n, wn, in_n, out_n;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	n = frame(in, &ip, &l, 0);
	l4_set_partial(in + 14);
	CHECK(!expect_told_twin(in, n, T_VIP, 25, T_POD_LOCAL, 2525, IPPROTO_TCP, NOSNAT_ACT_LOCAL),
	      "TCP for a pod here");

	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "be add");
	{
		struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40061, .dport = 53,
				     .payload = "q", .payload_len = 1 };

		n = frame(in, &ip, &u, 0);
		l4_set_partial(in + 14);
		CHECK(!expect_told_twin(in, n, T_VIP, 53, T_POD_LOCAL, 5353, IPPROTO_UDP,
					NOSNAT_ACT_LOCAL), "UDP for a pod here");
	}

	/* Remote, sent by XDP: complete checksums (odd payload lengths, one
	 * beyond the 1480 bytes a 1500 MTU allows: a jumbo uplink), then the
	 * MSS clamp. */
	CHECK(!cfg_reset(), "reset");
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	{
		struct nosnat_cfg cfg;
		__u32 zero = 0;

		CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
		cfg.mtu = 9000;
		CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	}
	for (int c = 0; c < 3; c++) {
		ip = ipv4(T_CLIENT, T_VIP);
		l = tcp(40062, 25, c == 0 ? TH_SYN : TH_ACK | TH_PSH);
		if (c) {
			l.payload = payload;
			l.payload_len = c == 1 ? 301 : sizeof(payload);
		}
		n = frame(in, &ip, &l, 0);
		l4_set_partial(in + 14);
		if (c == 0)
			l.opts = syn_opts_1440;
		in_n = build_ip(inner, &ip, &l);
		out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
				   backend_tag(ip4(T_POD_B), htons(2525)), 0, 0x4000, inner, in_n);
		wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run %d", c);
		CHECK(verdict_is(&r, XDP_TX), "case %d: verdict %u", c, r.ret);
		CHECK_BYTES(&r, want, wn);
	}

	/* Remote through the tc twin: the inner packet exactly as it came. */
	CHECK(!cfg_flags(NOSNAT_CFG_ENCAP_VIA_TC, 0), "cfg");
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40063, 25, TH_SYN);
	n = frame(in, &ip, &l, 0);
	l4_set_partial(in + 14);
	memcpy(inner, in + 14, n - 14);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
			   backend_tag(ip4(T_POD_B), htons(2525)), 0, 0x4000, inner, n - 14);
	wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, out_n);
	CHECK(!run_xdp_only(in, n, dummy_ifindex, &r), "test run");
	CHECK(r.ret == XDP_PASS, "tc: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

/* While the tc twin attached is an older nosnat's (one that knows only
 * hand-offs: the moment an older version takes over), the loader's cfg
 * lacks NOSNAT_CFG_TWIN_DNAT and XDP rewrites packets for pods here
 * itself: nothing is left for a twin that would pass them on as the VIP's. */
int t_without_the_twin_xdp_rewrites(void)
{
	uint8_t in[256], want[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40080, 25, TH_SYN);
	struct run r;
	size_t n, wn;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!cfg_flags(0, NOSNAT_CFG_TWIN_DNAT), "cfg");
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_xdp_only(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_PASS && r.meta_len == 0, "verdict %u, metadata %u bytes", r.ret, r.meta_len);
	CHECK_BYTES(&r, want, wn);
	return 0;
}

/* Payload bytes 0 and 1 chosen so that the packet's complete L4 checksum
 * equals its pseudo-header sum: the value a partial checksum holds, which
 * XDP cannot tell from one. */
static int craft_check_is_pseudo(const struct ip_spec *ip, const struct l4_spec *l,
				 uint8_t *payload)
{
	uint8_t a[2048], b[2048];

	for (uint32_t x = 0; x < 0x10000; x++) {
		size_t n, off;

		payload[0] = (uint8_t)(x >> 8);
		payload[1] = (uint8_t)x;
		n = build_ip(a, ip, l);
		off = (size_t)(a[0] & 0x0f) * 4 + (l->proto == IPPROTO_TCP ? 16 : 6);
		memcpy(b, a, n);
		l4_set_partial(b);
		if (!memcmp(a + off, b + off, 2) && (a[off] | a[off + 1]))
			return 0;
	}
	return -1;
}

/* A complete checksum that happens to equal the pseudo-header sum (once in
 * 65536 packets): on every path that rewrites addresses or ports the packet
 * leaves with a valid checksum (the expected frames' are computed anew). */
int t_csum_equal_to_pseudo(void)
{
	uint8_t in[512], want[512], l3[512], inner[512], outer[512], payload[40];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40070, 25, TH_ACK | TH_PSH);
	struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40071, .dport = 53,
			     .payload = payload, .payload_len = sizeof(payload) };
	struct run r;
	size_t n, wn, in_n, out_n;

	memset(payload, 'm', sizeof(payload));
	l.payload = payload;
	l.payload_len = sizeof(payload);
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "be add");

	/* local TCP: the twin rewrites, as complete */
	CHECK(!craft_check_is_pseudo(&ip, &l, payload), "crafted");
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_PASS && r.tc_ret == TC_ACT_OK, "local TCP: verdicts %u/%d", r.ret, r.tc_ret);
	CHECK_BYTES(&r, want, wn);

	/* local UDP */
	ip = ipv4(T_CLIENT, T_VIP);
	CHECK(!craft_check_is_pseudo(&ip, &u, payload), "crafted");
	n = frame(in, &ip, &u, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	u.dport = 5353;
	wn = frame(want, &ip, &u, 0);
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_PASS && r.tc_ret == TC_ACT_OK, "local UDP: verdicts %u/%d", r.ret, r.tc_ret);
	CHECK_BYTES(&r, want, wn);

	/* decapsulated, then for a pod here */
	ip = ipv4(T_CLIENT, T_VIP);
	l = tcp(40072, 25, TH_ACK | TH_PSH);
	l.payload = payload;
	l.payload_len = sizeof(payload);
	CHECK(!craft_check_is_pseudo(&ip, &l, payload), "crafted");
	n = ipip_frame(in, T_NODE_B, backend_tag(ip4(T_POD_LOCAL), htons(2525)), &ip, &l);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x0800, l3, build_ip(l3, &ip, &l));
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(r.ret == XDP_PASS && r.tc_ret == TC_ACT_OK, "decap: verdicts %u/%d", r.ret, r.tc_ret);
	CHECK_BYTES(&r, want, wn);

	/* to another node, sent by XDP (a SYN: completed, then clamped) and
	 * through the tc twin (clamped there) */
	CHECK(!cfg_reset(), "reset");
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	for (int via_tc = 0; via_tc < 2; via_tc++) {
		if (via_tc)
			CHECK(!cfg_flags(NOSNAT_CFG_ENCAP_VIA_TC, 0), "cfg");
		ip = ipv4(T_CLIENT, T_VIP);
		l = tcp((uint16_t)(40073 + via_tc), 25, TH_SYN);
		l.payload = payload;	/* a SYN with data (TCP Fast Open) */
		l.payload_len = sizeof(payload);
		CHECK(!craft_check_is_pseudo(&ip, &l, payload), "crafted");
		n = frame(in, &ip, &l, 0);
		l.opts = syn_opts_1440;
		in_n = build_ip(inner, &ip, &l);
		out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
				   backend_tag(ip4(T_POD_B), htons(2525)), 0, 0x4000, inner, in_n);
		/* the twin hands the frame to the neighbour code as it came;
		 * tc's own walk writes the MACs it knows, as XDP does */
		if (via_tc && test_mode == MODE_XDP_META)
			wn = build_eth(want, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, out_n);
		else
			wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
		if (test_mode == MODE_XDP_META) {
			CHECK(r.ret == (via_tc ? XDP_PASS : XDP_TX), "encap %d: verdict %u", via_tc, r.ret);
			CHECK(!via_tc || r.tc_ret == TC_ACT_REDIRECT, "the twin's verdict %d", r.tc_ret);
		} else {
			CHECK(verdict_is(&r, XDP_TX), "encap %d: verdict %u", via_tc, r.ret);
		}
		CHECK_BYTES(&r, want, wn);
	}
	return 0;
}

/* RFC 6040: a CE mark a router set on the outer header between nodes is
 * kept on an ECN-capable inner packet (checksum mended); a Not-ECT one and
 * an unmarked outer header change nothing. */
int t_decap_keeps_ce(void)
{
	static const struct { uint8_t outer, inner, want; } c[] = {
		{ 3, 2, 3 },	/* CE over ECT(0): CE */
		{ 3, 1, 3 },	/* CE over ECT(1): CE */
		{ 3, 0, 0 },	/* CE over Not-ECT: left */
		{ 2, 2, 2 },	/* no mark */
		{ 3, 3, 3 },	/* already CE */
	};

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t in[512], want[512], l3[256];
		struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
		struct l4_spec l = tcp((uint16_t)(40100 + i), 25, TH_SYN);
		struct run r;
		size_t n, wn;

		ip.tos = c[i].inner;
		n = ipip_frame_tos(in, T_NODE_B, backend_tag(ip4(T_POD_LOCAL), htons(2525)), c[i].outer,
				   &ip, &l);
		ip.tos = c[i].want;
		ip.daddr = ip4(T_POD_LOCAL);
		l.dport = 2525;
		wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x0800, l3, build_ip(l3, &ip, &l));
		stats_snap();
		CHECK(!run_xdp(in, n, 1, &r), "test run");
		CHECK(r.ret == XDP_PASS, "case %zu: verdict %u", i, r.ret);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DECAP, NOSNAT_R_NONE), "case %zu: counter", i);
	}
	return 0;
}

/* A pod's UDP reply the kernel fragmented (a large DNS-style answer): the
 * first fragment (with the ports) and the later ones all leave as the
 * VIP's; a later fragment of another datagram is left alone. */
int t_udp_reply_fragments(void)
{
	static uint8_t answer[1000];
	int fd = bpf_program__fd(skel->progs.nosnat_tc_egress);
	uint8_t in[256], f1[2048], f2[512], w1[2048], w2[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = { .proto = IPPROTO_UDP, .sport = 40600, .dport = 53,
			     .payload = "query", .payload_len = 5 };
	struct ip_spec rip = ipv4(T_POD_LOCAL, T_CLIENT);
	struct l4_spec first = { .proto = IPPROTO_UDP, .sport = 5353, .dport = 40600,
				 .payload = answer, .payload_len = sizeof(answer) };
	struct l4_spec later = { .payload = answer, .payload_len = 200 };
	struct run r;
	size_t n, n1, n2, wn1, wn2;

	for (size_t i = 0; i < sizeof(answer); i++)
		answer[i] = (uint8_t)(i * 7);
	CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
	CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "backend add");
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "the client's query");

	rip.id = 0x4242;
	rip.frag = 0x2000;			/* MF, offset 0 */
	n1 = frame(f1, &rip, &first, 0);
	rip.frag = 0x0000 | (1008 / 8);		/* the rest, at offset 1008 */
	rip.proto = IPPROTO_UDP;
	n2 = frame(f2, &rip, &later, 0);
	/* as they must leave: from the VIP, port 53 in the first */
	rip = ipv4(T_VIP, T_CLIENT);
	rip.id = 0x4242;
	rip.frag = 0x2000;
	first.sport = 53;
	wn1 = frame(w1, &rip, &first, 0);
	rip.frag = 1008 / 8;
	rip.proto = IPPROTO_UDP;
	wn2 = frame(w2, &rip, &later, 0);

	stats_snap();
	CHECK(!run_tc(fd, f1, n1, &r) && r.ret == TC_ACT_OK, "first fragment");
	CHECK_BYTES(&r, w1, wn1);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_NONE), "first: counter");
	stats_snap();
	CHECK(!run_tc(fd, f2, n2, &r) && r.ret == TC_ACT_OK, "later fragment");
	CHECK_BYTES(&r, w2, wn2);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_NONE), "later: counter");
	/* the last fragment ended the datagram: the same ID again is another
	 * datagram's, untouched */
	CHECK(!run_tc(fd, f2, n2, &r) && r.ret == TC_ACT_OK, "the last fragment again");
	CHECK_BYTES(&r, f2, n2);
	/* a datagram's fragments leave within moments: a middle fragment
	 * (MF set) long after its first one is another datagram's */
	CHECK(!run_tc(fd, f1, n1, &r) && r.ret == TC_ACT_OK, "first fragment again");
	f2[14 + 6] |= 0x20;	/* MF */
	{
		uint16_t c;

		memset(f2 + 14 + 10, 0, 2);
		c = csum16(f2 + 14, 20, 0);
		memcpy(f2 + 14 + 10, &c, 2);
	}
	usleep(NOSNAT_FRAG_LIFETIME_MS * 1000 * 3 / 2);
	CHECK(!run_tc(fd, f2, n2, &r) && r.ret == TC_ACT_OK, "a late middle fragment");
	CHECK_BYTES(&r, f2, n2);
	/* another datagram's later fragment: nothing remembered, untouched */
	f2[14 + 4] = 0x43;	/* IP ID 0x4342 */
	{
		uint16_t c;

		memset(f2 + 14 + 10, 0, 2);
		c = csum16(f2 + 14, 20, 0);
		memcpy(f2 + 14 + 10, &c, 2);
	}
	memcpy(w2, f2, n2);
	CHECK(!run_tc(fd, f2, n2, &r) && r.ret == TC_ACT_OK, "unknown fragment");
	CHECK_BYTES(&r, w2, n2);
	return 0;
}

/* A driver that gives XDP no metadata room (ena, hv_netvsc, sfc) on a kernel
 * that allows the helper: XDP learns it from its first packet and passes
 * what it cannot finish untouched, counted to_tc and nothing else (no flow
 * recorded, no VIP counter moved); tc ingress's walk of the same packet
 * then does what XDP would have done with metadata. The program loaded
 * without the helper (xdp-nometa) picks a SYN's pod first: a pod here is
 * tc's, so the SYN is passed on untouched with its flow recorded and
 * marked, and tc's walk finds that entry (no second insert) and counts the
 * new flow once, clearing the mark. */
int t_meta_refused_at_run_time(void)
{
	uint8_t in[256], want[256];
	struct nosnat_flow_key fk = client_flow(40090);
	struct nosnat_flow f;
	struct run r;
	size_t n, wn;
	__u32 vid;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	vid = st.vips[0].val.id;
	mail_frames(40090, TH_SYN, in, &n, want, &wn);
	skel->bss->nosnat_xdp_meta_room = 2;	/* as the first packet found it */
	stats_snap();
	CHECK(!run_xdp_only(in, n, 1, &r), "XDP run");
	skel->bss->nosnat_xdp_meta_room = 0;
	CHECK(r.ret == XDP_PASS && r.meta_len == 0, "XDP: verdict %u, %u bytes of metadata", r.ret,
	      r.meta_len);
	CHECK_BYTES(&r, in, n);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_PASS, NOSNAT_R_TO_TC), "XDP's counter");
	if (test_mode == MODE_XDP_META) {
		CHECK(hs_get(maps.flows_new, &fk, &f) &&
		      bpf_map_lookup_elem(maps.flows, &fk, &f), "XDP recorded the flow it passed on");
	} else {
		CHECK(!hs_get(maps.flows_new, &fk, &f) &&
		      (f.flags & NOSNAT_FLOW_HANDED_ON) && f.backend_addr == ip4(T_POD_LOCAL),
		      "XDP's pick, recorded and marked handed on");
	}
	CHECK(counter(maps.vip_stat, vid, 0, 3) == 0, "XDP counted the VIP's packet");
	CHECK(!expect_tc_walk(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "tc's walk");
	CHECK(counter(maps.vip_stat, vid, 0, 3) == 1, "the VIP's packet counted once, by tc");
	CHECK(counter(maps.vip_stat, vid, 2, 3) == 1, "the new flow counted once, by tc");
	if (test_mode == MODE_XDP_META) {
		CHECK(!hs_get(maps.flows_new, &fk, &f), "tc recorded no flow");
	} else {
		CHECK(!hs_get(maps.flows_new, &fk, &f) &&
		      !(f.flags & NOSNAT_FLOW_HANDED_ON), "tc's delivery cleared the mark");
		/* the SYN again: XDP passes it on, tc counts no second new flow */
		CHECK(!run_xdp(in, n, 1, &r) && last_via_tc, "the SYN again, passed on");
		CHECK(counter(maps.vip_stat, vid, 2, 3) == 1, "still one new flow");
	}
	return 0;
}

/* Metadata in front of a frame may come from another XDP program (a chain,
 * a redirect into a veth uplink), so it never steers nosnat on its own
 * word: a rewrite to a pod that is not one of the VIP's pods here, or a
 * hand-off of a frame that is not this node's own, is not carried out; tc
 * walks the packet as if XDP had said nothing. */
int t_twin_distrusts_metadata(void)
{
	uint8_t in[256], want[256];
	struct nosnat_meta forged = { .magic = NOSNAT_META_LOCAL, .vip = ip4(T_VIP),
				      .pod = ip4(T_POD_LOCAL2), .vip_port = htons(25),
				      .pod_port = htons(2525), .proto = IPPROTO_TCP,
				      .action = NOSNAT_ACT_LOCAL };
	struct run r;
	size_t n, wn;
	int fd;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	mail_frames(40095, TH_SYN, in, &n, want, &wn);
	/* "rewrite to 198.18.1.3", which serves no VIP: the VIP's own pod */
	fd = twin_prog(&forged);
	CHECK(fd >= 0, "twin");
	stats_snap();
	CHECK(!run_tc(fd, in, n, &r) && r.ret == TC_ACT_OK, "forged rewrite: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "counter");
	/* "send this out of ifindex 1": a client's packet is no frame of
	 * this node's to hand to the neighbour code; it reaches its pod */
	forged = (struct nosnat_meta){ .magic = NOSNAT_META_MAGIC, .ifindex = 1 };
	fd = twin_prog(&forged);
	mail_frames(40096, TH_SYN, in, &n, want, &wn);
	stats_snap();
	CHECK(!run_tc(fd, in, n, &r) && r.ret == TC_ACT_OK, "forged hand-off: verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "counter");
	return 0;
}
