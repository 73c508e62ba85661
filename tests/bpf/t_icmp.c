// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ICMP errors about VIP flows. */
#include "harness.h"

/* --- ICMP errors about VIP flows ---------------------------------------- */

#define T_HOP "203.0.113.1"	/* a router on the client's path */

/* The IPv4 packet of an ICMP error from `from` to `to` quoting q (qlen bytes). */
static size_t icmp_error_l3(uint8_t *buf, const char *from, const char *to, uint8_t type,
			    uint8_t code, uint16_t mtu, const uint8_t *q, size_t qlen)
{
	struct ip_spec ip = ipv4(from, to);

	ip.frag = 0;
	return build_icmp_error(buf, &ip, type, code, mtu, q, qlen);
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

int t_icmp_error_local(void)
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

int t_icmp_error_remote(void)
{
	uint8_t reply[512], q[512], l3[1024], outer[1200], in[1200], want[1200];
	size_t n, wn, rn, l3n, on;
	__u16 tag = backend_tag(ip4(T_POD_B), htons(2525));

	/* ingress node: the flow's pod is on node B, the error goes there */
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	rn = vip_reply_l3(reply, 40510, 0);
	l3n = icmp_error_l3(l3, T_HOP, T_VIP, 3, 4, 1400, reply, rn < 60 ? rn : 60);
	n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
	/* the outer header with DF, though the error has none (atomic) */
	on = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), tag, 0, 0x4000, l3, l3n);
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

int t_icmp_not_ours(void)
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
int t_icmp_from_pod(void)
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

	/* the same error sent to someone else than the quoted flow's client:
	 * never as the VIP's (a pod must not speak for the VIP to anyone) */
	l3n = icmp_error_l3(l3, T_POD_LOCAL, T_OTHER, 3, 3, 0, dgram, dn);
	en = build_eth(err, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3, l3n);
	stats_snap();
	CHECK(!run_tc(fd, err, en, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, err, en);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "counter");

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
