// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* GUE between nodes as a node that sends it (the object loaded as attach
 * loads it with --encap gue): the exact frames, at every hook. What a node
 * takes off, GUE or IPIP, is the single-packet table's (t_cases.c). */
#include "harness.h"

/* A SYN's options with the MSS GUE leaves on a 1500-byte uplink:
 * 1500 - 28 (IPv4 + UDP) - 20 - 20. */
static uint8_t syn_opts_1432[20] = { 2, 4, 0x05, 0x98, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3,
				     3, 7 };

/* The outer UDP source port for a flow: its hash, in 49152-65535. */
static uint16_t gue_sport(const struct ip_spec *ip, const struct l4_spec *l)
{
	uint8_t ports[4] = { l->sport >> 8, l->sport & 0xff, l->dport >> 8, l->dport & 0xff };
	uint32_t p, h;

	memcpy(&p, ports, 4);	/* as the program reads them: 4 bytes, host order */
	h = hash_3words(ip->saddr, ip->daddr, p ^ l->proto);
	return (uint16_t)(0xc000 | ((h ^ (h >> 16)) & 0x3fff));
}

/* What this node sends node B for ip/l: GUE to the default port, the
 * outer ID the pod's tag. */
static size_t gue_to_b(uint8_t *buf, const struct ip_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2100];
	size_t in_n = build_ip(inner, ip, l);
	size_t out_n = build_gue(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
				 backend_tag(ip4(T_POD_B), htons(2525)), gue_sport(ip, l),
				 NOSNAT_DEFAULT_GUE_PORT, inner, in_n);

	return build_eth(buf, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
}

static int gue_encap_rows(void)
{
	uint8_t in[2048], want[2200];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40031, 25, TH_SYN), l2;
	struct nosnat_cfg cfg;
	struct run r;
	__u32 zero = 0;
	size_t n, wn;

	/* as attach writes it for GUE on a 1500-byte uplink */
	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	cfg.encap = NOSNAT_ENCAP_GUE;
	cfg.mss_max = 1500 - NOSNAT_GUE_OVERHEAD - 20 - 20;
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");

	/* a SYN: in UDP to the port, MSS clamped for 28 bytes more */
	n = frame(in, &ip, &l, 0);
	l2 = l;
	l2.opts = syn_opts_1432;
	wn = gue_to_b(want, &ip, &l2);
	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_GUE), "counter");

	/* the flow's next packet: the same source port (one receive queue) */
	l = tcp(40031, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	wn = gue_to_b(want, &ip, &l);
	stats_snap();
	CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
	CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_GUE), "counter");

	/* another client port: its own source port (flows spread) */
	{
		struct l4_spec o = tcp(40032, 25, TH_SYN);

		CHECK(gue_sport(&ip, &o) != gue_sport(&ip, &l), "the test's two flows hash alike");
		n = frame(in, &ip, &o, 0);
		o.opts = syn_opts_1432;
		wn = gue_to_b(want, &ip, &o);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
		CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
		CHECK_BYTES(&r, want, wn);
	}

	/* UDP, whose ports feed the hash too */
	{
		struct l4_spec u = { .proto = IPPROTO_UDP, .sport = 40033, .dport = 53,
				     .payload = "query", .payload_len = 5 };

		CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
		CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_B, 2525, T_NODE_B, 1), "be add");
		n = frame(in, &ip, &u, 0);
		wn = gue_to_b(want, &ip, &u);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r), "test run");
		CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
		CHECK_BYTES(&r, want, wn);
	}

	/* a DF segment that fits IPIP's 20 bytes but not GUE's 28: the sender
	 * learns 1472 */
	{
		static uint8_t payload[1500 - 20 - 20 - 8];
		const struct ip_spec node = { .saddr = ip4(T_NODE_SELF), .daddr = ip4(T_CLIENT),
					      .tos = 0xc0, .ttl = 64 };
		uint8_t l3[128];

		l = tcp(40031, 25, TH_ACK);
		l.payload = payload;
		l.payload_len = sizeof(payload);
		n = frame(in, &ip, &l, 0);
		wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3,
			       build_icmp_error(l3, &node, 3, 4, 1472, in + 14, 28));
		stats_snap();
		CHECK(!run_xdp(in, n, 1, &r), "test run");
		CHECK(verdict_is(&r, XDP_TX), "verdict %u", r.ret);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED),
		      "counter");
	}
	return 0;
}

/* fn on the object loaded to send GUE, and the object back as every other
 * test has it, whatever fn said. */
static int with_gue(int (*fn)(void))
{
	int rc;

	if (reload_encap(1))
		FAIL("cannot load the object for GUE");
	rc = fn();
	if (reload_encap(0))
		FAIL("cannot load the object back for IPIP");
	return rc;
}

int t_gue_encap(void)
{
	return with_gue(gue_encap_rows);
}

/* GUE's code is what the verifier walks in a program loaded to send it. */
int t_gue_budget(void)
{
	return with_gue(verifier_budget);
}
