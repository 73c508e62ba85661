// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Single-packet cases as a table: one row is a setup, one input frame, the
 * XDP verdict, the exact output and the one counter that moves. test_bpf
 * runs every row as a test of its own, after a map reset. A case that
 * needs more than one packet or a look into the maps stays a function in
 * its area's file. */
#include "harness.h"

enum case_setup {
	MAIL_LOCAL,		/* VIP:25/tcp -> the local pod's 2525 */
	VIP_ONLY,		/* VIP:25/tcp without backends */
	VIP_DRAINING,		/* VIP:25/tcp with one backend of weight 0 */
	DNS_LOCAL,		/* VIP:53/udp -> the local pod's 5353 */
};

enum case_out {
	OUT_SAME,		/* leaves exactly as it came */
	OUT_DNAT_LOCAL,		/* the input with destination T_POD_LOCAL and the setup's pod port */
	OUT_NONE,		/* dropped: no output to compare */
};

enum case_frame {
	F_PLAIN,
	F_IPIP,			/* encapsulated from ipip_from */
	F_ARP,			/* a broadcast ARP request */
	F_LATER_FRAGMENT,	/* an IP fragment with offset 1480: no L4 header */
	F_TCP_CUT,		/* a consistent IP header, 10 bytes of TCP header */
	F_IPIP_INNER_CUT,	/* IPIP from ipip_from, the inner IP header cut at 12 bytes */
};

/* A frame changed after it is built: cut to a length, bytes overwritten. */
struct frame_edit {
	size_t cut;		/* 0: whole */
	struct { size_t off; uint8_t val; } patch[2];	/* off 0: none */
};

struct pkt_case {
	const char *name;
	enum case_setup setup;
	enum case_frame frame;
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t flags;
	uint16_t frag;		/* IP flags and offset; 0: DF, as ipv4() makes */
	int vlans;
	const char *ipip_from;
	int ip_options;		/* router alert and NOPs */
	int udp_no_csum;
	struct frame_edit edit;
	__u32 verdict;
	enum case_out out;
	__u32 action, reason;
};

#define PASS_SAME	XDP_PASS, OUT_SAME, NOSNAT_ACT_PASS, NOSNAT_R_NONE
#define PASS_SAME_R(r)	XDP_PASS, OUT_SAME, NOSNAT_ACT_PASS, (r)
#define DROP(reason)	XDP_DROP, OUT_NONE, NOSNAT_ACT_DROP, (reason)
#define LOCAL		XDP_PASS, OUT_DNAT_LOCAL, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE

static const struct pkt_case cases[] = {
	/* not ours: untouched */
	{ "non-VIP TCP passes untouched", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_OTHER, IPPROTO_TCP,
	  40003, 25, TH_SYN, 0, 0, NULL, 0, 0, {0}, PASS_SAME },
	{ "TCP to the node itself (ssh) passes untouched", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_NODE_SELF,
	  IPPROTO_TCP, 40003, 22, TH_SYN, 0, 0, NULL, 0, 0, {0}, PASS_SAME },
	{ "ARP passes untouched", MAIL_LOCAL, F_ARP, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0, 0, {0},
	  PASS_SAME },
	{ "the VIP on an unconfigured port passes untouched", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40004, 80, TH_SYN, 0, 0, NULL, 0, 0, {0}, PASS_SAME },
	{ "the VIP on an unconfigured protocol (UDP) passes untouched", MAIL_LOCAL, F_PLAIN,
	  T_CLIENT, T_VIP, IPPROTO_UDP, 40004, 25, 0, 0, 0, NULL, 0, 0, {0}, PASS_SAME },
	{ "someone else's IPIP (Calico's, say) passes untouched", MAIL_LOCAL, F_IPIP, T_CLIENT,
	  T_POD_LOCAL, IPPROTO_TCP, 40006, 25, TH_SYN, 0, 0, T_STRANGER, 0, 0, {0}, PASS_SAME },
	{ "a node's IPIP to a pod (not a VIP) passes untouched", MAIL_LOCAL, F_IPIP, T_CLIENT,
	  T_POD_LOCAL, IPPROTO_TCP, 40006, 25, TH_SYN, 0, 0, T_NODE_B, 0, 0, {0}, PASS_SAME },
	{ "a later fragment to a non-VIP passes untouched", MAIL_LOCAL, F_LATER_FRAGMENT, T_CLIENT,
	  T_OTHER, IPPROTO_TCP, 0, 0, 0, 185, 0, NULL, 0, 0, {0}, PASS_SAME },
	/* ours, refused */
	{ "a VIP without backends: dropped", VIP_ONLY, F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP,
	  40005, 25, TH_SYN, 0, 0, NULL, 0, 0, {0}, DROP(NOSNAT_R_NO_BACKEND) },
	{ "a VIP with only draining backends: dropped", VIP_DRAINING, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40005, 25, TH_SYN, 0, 0, NULL, 0, 0, {0}, DROP(NOSNAT_R_NO_BACKEND) },
	{ "IPIP to a VIP from an unknown source: dropped", MAIL_LOCAL, F_IPIP, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40006, 25, TH_SYN, 0, 0, T_STRANGER, 0, 0, {0}, DROP(NOSNAT_R_UNKNOWN_ENCAP_SRC) },
	{ "the first fragment of VIP traffic: dropped", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40010, 25, TH_ACK, 0x2000, 0, NULL, 0, 0, {0}, DROP(NOSNAT_R_FRAGMENT) },
	{ "a later fragment of VIP traffic: dropped", MAIL_LOCAL, F_LATER_FRAGMENT, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 0, 0, 0, 185, 0, NULL, 0, 0, {0}, DROP(NOSNAT_R_FRAGMENT) },
	{ "source = the VIP: dropped as spoofed", MAIL_LOCAL, F_PLAIN, T_VIP, T_VIP, IPPROTO_TCP,
	  25, 25, TH_SYN, 0, 0, NULL, 0, 0, {0}, DROP(NOSNAT_R_SPOOFED) },
	{ "source = this node: dropped as spoofed", MAIL_LOCAL, F_PLAIN, T_NODE_SELF, T_VIP,
	  IPPROTO_TCP, 25, 25, TH_SYN, 0, 0, NULL, 0, 0, {0}, DROP(NOSNAT_R_SPOOFED) },
	{ "encapsulated from a node, inner source = the VIP: dropped as spoofed", MAIL_LOCAL, F_IPIP,
	  T_VIP, T_VIP, IPPROTO_TCP, 25, 25, TH_SYN, 0, 0, T_NODE_B, 0, 0, {0}, DROP(NOSNAT_R_SPOOFED) },
	/* ours, delivered */
	{ "another node as a client of the VIP: delivered", MAIL_LOCAL, F_PLAIN, T_NODE_B, T_VIP,
	  IPPROTO_TCP, 25, 25, TH_SYN, 0, 0, NULL, 0, 0, {0}, LOCAL },
	{ "IPv4 options: delivered with them", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP,
	  40009, 25, TH_SYN, 0, 0, NULL, 1,  0, {0}, LOCAL },
	{ "802.1Q: delivered with its tag", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP,
	  40013, 25, TH_SYN, 0, 1, NULL, 0, 0, {0}, LOCAL },
	{ "QinQ: delivered with both tags", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP,
	  40014, 25, TH_SYN, 0, 2, NULL, 0, 0, {0}, LOCAL },
	/* headers that end early or lie */
	{ "a VLAN tag announced, the frame ends: untouched", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, NULL, 0, 0,
	  { .cut = 14, .patch = { { 12, 0x81 }, { 13, 0x00 } } }, PASS_SAME },
	{ "IPv4 announced, no IP header: untouched, malformed", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, NULL, 0, 0, { .cut = 14 },
	  PASS_SAME_R(NOSNAT_R_MALFORMED) },
	{ "IP header cut before the destination: untouched, malformed", MAIL_LOCAL, F_PLAIN, T_CLIENT,
	  T_VIP, IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, NULL, 0, 0, { .cut = 14 + 12 },
	  PASS_SAME_R(NOSNAT_R_MALFORMED) },
	{ "total length beyond the frame: dropped, malformed", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, NULL, 0, 0, { .cut = 14 + 20 + 10 },
	  DROP(NOSNAT_R_MALFORMED) },
	{ "a consistent IP header, the TCP header cut: dropped, malformed", MAIL_LOCAL, F_TCP_CUT,
	  T_CLIENT, T_VIP, IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, NULL, 0, 0, {0},
	  DROP(NOSNAT_R_MALFORMED) },
	{ "TCP data offset beyond the packet: dropped, malformed", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, NULL, 0, 0, { .patch = { { 14 + 20 + 12, 0xf0 } } },
	  DROP(NOSNAT_R_MALFORMED) },
	{ "IHL below 5: dropped, malformed", MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP, 40008,
	  25, TH_SYN, 0, 0, NULL, 0, 0, { .patch = { { 14, 0x44 } } }, DROP(NOSNAT_R_MALFORMED) },
	{ "IPIP from a node, the inner IP header cut: untouched, malformed", MAIL_LOCAL,
	  F_IPIP_INNER_CUT, T_CLIENT, T_VIP, IPPROTO_TCP, 40008, 25, TH_SYN, 0, 0, T_NODE_B, 0, 0, {0},
	  PASS_SAME_R(NOSNAT_R_MALFORMED) },
	/* the IP packet ends before its L4 header does; the frame goes on
	 * (padding, whatever it holds): the header is not there */
	{ "IP length ends inside the TCP header, padding after: dropped, malformed", MAIL_LOCAL,
	  F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP, 40015, 25, TH_SYN, 0, 0, NULL, 0, 0,
	  { .patch = { { 14 + 2, 0 }, { 14 + 3, 20 + 10 } } }, DROP(NOSNAT_R_MALFORMED) },
	{ "IP length ends inside the TCP options (data offset), padding after: dropped, malformed",
	  MAIL_LOCAL, F_PLAIN, T_CLIENT, T_VIP, IPPROTO_TCP, 40016, 25, TH_SYN, 0, 0, NULL, 0, 0,
	  { .patch = { { 14 + 2, 0 }, { 14 + 3, 20 + 20 } } }, DROP(NOSNAT_R_MALFORMED) },
	{ "IP length ends inside the UDP header, padding after: dropped, malformed", DNS_LOCAL,
	  F_PLAIN, T_CLIENT, T_VIP, IPPROTO_UDP, 40017, 53, 0, 0, 0, NULL, 0, 0,
	  { .patch = { { 14 + 2, 0 }, { 14 + 3, 20 + 4 } } }, DROP(NOSNAT_R_MALFORMED) },
	/* UDP */
	{ "UDP to the VIP, with a checksum: delivered", DNS_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_UDP, 40011, 53, 0, 0, 0, NULL, 0, 0, {0}, LOCAL },
	{ "UDP to the VIP, checksum 0 (none): delivered", DNS_LOCAL, F_PLAIN, T_CLIENT, T_VIP,
	  IPPROTO_UDP, 40011, 53, 0, 0, 0, NULL, 0, 1, {0}, LOCAL },
};

size_t pkt_cases_count(void)
{
	return sizeof(cases) / sizeof(cases[0]);
}

const char *pkt_case_name(size_t i)
{
	return cases[i].name;
}

static size_t case_frame(uint8_t *buf, const struct pkt_case *c, const char *dst, uint16_t dport)
{
	static const uint8_t opts[8] = { 0x94, 0x04, 0, 0, 1, 1, 1, 0 };
	struct ip_spec ip;
	struct l4_spec l;

	if (c->frame == F_ARP) {
		static const uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1,
						 0x08, 0x06 };

		memcpy(buf, arp, sizeof(arp));
		return sizeof(arp);
	}
	ip = ipv4(c->src, dst);
	if (c->frag)
		ip.frag = c->frag;
	if (c->ip_options) {
		ip.opts = opts;
		ip.opts_len = sizeof(opts);
	}
	if (c->frame == F_LATER_FRAGMENT) {
		l = (struct l4_spec){ .payload = "later fragment bytes", .payload_len = 20 };
		ip.proto = c->proto;
	} else if (c->proto == IPPROTO_UDP) {
		l = (struct l4_spec){ .proto = IPPROTO_UDP, .sport = c->sport, .dport = dport,
				      .payload = "query", .payload_len = 5,
				      .udp_no_csum = c->udp_no_csum };
	} else {
		l = tcp(c->sport, dport, c->flags);
	}
	if (c->frame == F_TCP_CUT || c->frame == F_IPIP_INNER_CUT) {
		uint8_t l3[256], whole[256];
		size_t n = build_ip(whole, &ip, &l), l3n;

		if (c->frame == F_IPIP_INNER_CUT) {	/* the inner header's first 12 bytes */
			l3n = build_ipip(l3, ip4(c->ipip_from), ip4(T_NODE_SELF), 0, 0, 0x4000, whole, 12);
			return build_eth(buf, MAC_SELF, MAC_B, 0, 0x0800, l3, l3n);
		}
		/* the IP header says TCP and its length covers 10 bytes of it */
		{
			struct l4_spec raw = { .payload = whole + 20, .payload_len = 10 };

			(void)n;
			ip.proto = IPPROTO_TCP;
			l3n = build_ip(l3, &ip, &raw);
			return build_eth(buf, MAC_SELF, MAC_ROUTER, 0, 0x0800, l3, l3n);
		}
	}
	if (c->frame == F_IPIP)
		return ipip_frame(buf, c->ipip_from, 0, &ip, &l);
	return frame(buf, &ip, &l, c->vlans);
}

static size_t case_edit(uint8_t *buf, size_t n, const struct frame_edit *e)
{
	for (int i = 0; i < 2; i++)
		if (e->patch[i].off && e->patch[i].off < n)
			buf[e->patch[i].off] = e->patch[i].val;
	return e->cut && e->cut < n ? e->cut : n;
}

int pkt_case_run(size_t i)
{
	const struct pkt_case *c = &cases[i];
	uint8_t in[512], want[512];
	size_t n, wn = 0;
	struct run r;

	switch (c->setup) {
	case MAIL_LOCAL:
		CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
		break;
	case VIP_DRAINING:
		CHECK(!add_vip(T_VIP, 25, IPPROTO_TCP), "vip add");
		CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 0), "backend add");
		break;
	case VIP_ONLY:
		CHECK(!add_vip(T_VIP, 25, IPPROTO_TCP), "vip add");
		break;
	case DNS_LOCAL:
		CHECK(!add_vip(T_VIP, 53, IPPROTO_UDP), "vip add");
		CHECK(!add_be(T_VIP, 53, IPPROTO_UDP, T_POD_LOCAL, 5353, T_NODE_SELF, 1), "backend add");
		break;
	}
	n = case_edit(in, case_frame(in, c, c->dst, c->dport), &c->edit);
	if (c->out == OUT_SAME) {
		memcpy(want, in, n);
		wn = n;
	} else if (c->out == OUT_DNAT_LOCAL) {
		wn = case_frame(want, c, T_POD_LOCAL, c->setup == DNS_LOCAL ? 5353 : 2525);
	}
	if (test_mode == MODE_TC && n < 14 + 20) {
		/* as in the fuzzer: test_run refuses an skb shorter than its L3
		 * header (the kernel's own receive path pulls it first) */
		printf("  info  not run at tc alone: a %zu-byte frame\n", n);
		return 0;
	}
	stats_snap();
	CHECK(!run_xdp(in, n, 1, &r), "test run");
	CHECK(verdict_is(&r, c->verdict), "verdict %u, want %u", r.ret, c->verdict);
	if (c->out != OUT_NONE)
		CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, c->action, c->reason), "counter");
	return 0;
}
