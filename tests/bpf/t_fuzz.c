// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Hostile packets: a mutation fuzzer through XDP and both tc programs. */
#include "harness.h"

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
	/* IPv6: to a v6 VIP (pod here, pod on B), with extension headers, in
	 * 6in4 from a node and a stranger, a pod's reply, packet too big */
	{
		static const uint8_t ext[16] = { 60, 0, 1, 4, 0, 0, 0, 0, IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0 };
		struct ip6_spec i6 = { .hlim = 64 };
		uint8_t msg[8 + 128] = { 2, 0, 0, 0, 0, 0, 5, 0 };
		struct l4_spec icmp = { .proto = 58, .payload = msg, .payload_len = sizeof(msg) };

		ip6("2001:db8:c::2", i6.saddr);
		ip6("2001:db8::25", i6.daddr);
		l = tcp(40010, 25, TH_SYN);
		in_n = build_ip6(inner, &i6, &l);
		SEED(build_eth(seeds[n], MAC_SELF, MAC_ROUTER, 0, 0x86dd, inner, in_n));
		out_n = build_tun4(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), 7, 0, 41, inner, in_n);
		SEED(build_eth(seeds[n], MAC_SELF, MAC_B, 0, 0x0800, outer, out_n));
		out_n = build_tun4(outer, ip4(T_STRANGER), ip4(T_NODE_SELF), 7, 0, 41, inner, in_n);
		SEED(build_eth(seeds[n], MAC_SELF, MAC_B, 0, 0x0800, outer, out_n));
		i6.ext = ext;
		i6.ext_len = sizeof(ext);
		i6.first_nh = 0;
		ip6("2001:db8::26", i6.daddr);
		l = tcp(40011, 25, TH_ACK | TH_PSH);
		l.payload = payload; l.payload_len = sizeof(payload);
		SEED(build_eth(seeds[n], MAC_SELF, MAC_ROUTER, 0, 0x86dd, inner, build_ip6(inner, &i6, &l)));
		i6 = (struct ip6_spec){ .hlim = 64 };
		ip6("2001:db8:18:1::2", i6.saddr);
		ip6("2001:db8:c::2", i6.daddr);
		l = tcp(2525, 40010, TH_SYN | TH_ACK);
		SEED(build_eth(seeds[n], MAC_SELF, MAC_ROUTER, 0, 0x86dd, inner, build_ip6(inner, &i6, &l)));
		ip6("2001:db8::25", i6.saddr);
		ip6("2001:db8:c::2", i6.daddr);
		l = tcp(25, 40010, TH_ACK);
		build_ip6(msg + 8, &i6, &l);
		ip6("2001:db8:f::1", i6.saddr);
		ip6("2001:db8::25", i6.daddr);
		SEED(build_eth(seeds[n], MAC_SELF, MAC_ROUTER, 0, 0x86dd, inner, build_ip6(inner, &i6, &icmp)));
	}
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
int t_packet_fuzz(void)
{
	static uint8_t seeds[32][2048], pkt[2048];
	size_t lens[32], n_seeds, runs = 200000;
	const char *env = getenv("NOSNAT_FUZZ_PACKETS");
	uint64_t x0, e0, i0, verdicts[8] = { 0 }, tc_skipped = 0, twin_runs = 0, tc_walks = 0;
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
	CHECK(!v6_vip("2001:db8::25", 25, IPPROTO_TCP, "2001:db8:18:1::2", 2525, T_NODE_SELF), "v6");
	CHECK(!v6_vip("2001:db8::26", 25, IPPROTO_TCP, "2001:db8:18:2::2", 2525, T_NODE_B), "v6");
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
		if (test_mode == MODE_TC && len < 14 + 40) {	/* see below */
			tc_skipped++;
			continue;
		}
		CHECK(!run_xdp(pkt, len, ifindex, &r), "xdp run %zu", i);
		CHECK(r.ret <= XDP_REDIRECT && r.ret != XDP_ABORTED, "run %zu: XDP verdict %u", i, r.ret);
		verdicts[r.ret]++;
		tc_walks += last_via_tc;	/* passed on (or --hook tc): tc's walk ran */
		/* XDP left the tc twin work (not passed on for tc's walk): it can do it */
		if (test_mode == MODE_XDP_META && !last_via_tc && r.tc_ret >= 0) {
			twin_runs++;
			CHECK(r.tc_ret == (r.meta.magic == NOSNAT_META_LOCAL ? TC_ACT_OK : TC_ACT_REDIRECT),
			      "run %zu: the twin's verdict %d on XDP's %x", i, r.tc_ret, r.meta.magic);
		}
		CHECK(r.len <= len + NOSNAT_IPIP_OVERHEAD, "run %zu: %u bytes out of %zu", i, r.len, len);
		if (r.len > len) {	/* grew: must be our IPIP (or 6in4), towards a node */
			size_t l2 = 14;
			__be32 dst;

			while (l2 + 4 <= r.len && (r.pkt[l2 - 2] == 0x81 || r.pkt[l2 - 2] == 0x88))
				l2 += 4;
			CHECK(r.len >= l2 + 20 && (r.pkt[l2 + 9] == IPPROTO_IPIP || r.pkt[l2 + 9] == 41),
			      "run %zu: grew but not IPIP", i);
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
		/* without a mark tc walks the packet itself: passed, dropped or sent */
		CHECK(r.ret == TC_ACT_OK || r.ret == TC_ACT_SHOT || r.ret == TC_ACT_REDIRECT,
		      "run %zu: tc ingress verdict %u without a mark", i, r.ret);
		CHECK(r.len <= len + NOSNAT_IPIP_OVERHEAD, "run %zu: tc: %u bytes out of %zu", i, r.len,
		      len);
		if (r.ret != TC_ACT_SHOT && r.len > len) {	/* grew: IPIP or 6in4, to a node */
			size_t l2 = 14;
			__be32 dst;

			while (l2 + 4 <= r.len && (r.pkt[l2 - 2] == 0x81 || r.pkt[l2 - 2] == 0x88))
				l2 += 4;
			CHECK(r.len >= l2 + 20 && r.pkt[l2 - 2] == 0x08 && r.pkt[l2 - 1] == 0 &&
			      (r.pkt[l2 + 9] == IPPROTO_IPIP || r.pkt[l2 + 9] == 41),
			      "run %zu: tc grew it but not into IPIP or 6in4", i);
			memcpy(&dst, r.pkt + l2 + 16, 4);
			CHECK(dst == node_b || dst == node_c, "run %zu: tc encapsulated to a non-node", i);
		}
	}
	CHECK(stats_total(NOSNAT_HOOK_XDP) - x0 == (test_mode == MODE_TC ? 0 : runs), "XDP counted %llu of %zu packets",
	      (unsigned long long)(stats_total(NOSNAT_HOOK_XDP) - x0), runs);
	CHECK(stats_total(NOSNAT_HOOK_TC_EGRESS) - e0 == runs - tc_skipped, "tc egress counts");
	CHECK(stats_total(NOSNAT_HOOK_TC_INGRESS) - i0 == runs - tc_skipped + twin_runs + tc_walks,
	      "tc ingress counts");
	printf("  info  %zu fuzzed packets: XDP pass %llu, drop %llu, tx %llu, redirect %llu; "
	       "tc egress and ingress ran on %llu, the twin's work on %llu\n",
	       runs, (unsigned long long)verdicts[XDP_PASS], (unsigned long long)verdicts[XDP_DROP],
	       (unsigned long long)verdicts[XDP_TX], (unsigned long long)verdicts[XDP_REDIRECT],
	       (unsigned long long)(runs - tc_skipped), (unsigned long long)twin_runs);
	return 0;
}
