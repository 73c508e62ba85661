// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Single-packet cases as a table: one row is a setup, one input frame, the
 * verdict of the uplink's ingress, the exact output (untouched, DNAT,
 * encapsulated, decapsulated, an ICMP error back) and the one counter that
 * moves, and the test
 * modes it holds in (all but where said). test_bpf runs every row as a
 * test of its own in each mode, after a map reset. A case that
 * needs more than one packet or a look into the maps stays a function in
 * its area's file. */
#include "harness.h"

enum case_setup {
	MAIL_LOCAL,		/* VIP:25/tcp -> the local pod's 2525 */
	VIP_ONLY,		/* VIP:25/tcp without backends */
	VIP_DRAINING,		/* VIP:25/tcp with one backend of weight 0 */
	DNS_LOCAL,		/* VIP:53/udp -> the local pod's 5353 */
	MAIL_REMOTE,		/* VIP:25/tcp -> node B's pod's 2525 */
	MAIL_LOCAL_NODE_BIT,	/* MAIL_LOCAL, and a VIP (UDP 4789) at an address
				 * whose bit in the VIP address filter is this
				 * node's address's: the filter says "maybe a VIP"
				 * of everything sent to the node */
};

enum case_out {
	OUT_SAME,		/* leaves exactly as it came */
	OUT_DNAT_LOCAL,		/* the input with destination T_POD_LOCAL and the setup's pod port */
	OUT_NONE,		/* dropped: no output to compare */
	OUT_ENCAP,		/* the input in IPIP from this node to node B, the outer ID
				 * its pod's tag, a SYN's MSS clamped to 1440; MACs of
				 * the next hop */
	OUT_DECAP_LOCAL,	/* an IPIP input's inner packet, DNATed as OUT_DNAT_LOCAL,
				 * behind the frame's own Ethernet header */
	OUT_FRAG_NEEDED,	/* ICMP fragmentation needed (MTU 1480) from this node back
				 * to the sender, quoting its IP header and 8 bytes */
};

enum case_frame {
	F_PLAIN,
	F_IPIP,			/* encapsulated from ipip_from */
	F_ARP,			/* a broadcast ARP request */
	F_LATER_FRAGMENT,	/* an IP fragment with offset 1480: no L4 header */
	F_TCP_CUT,		/* a consistent IP header, 10 bytes of TCP header */
	F_IPIP_INNER_CUT,	/* IPIP from ipip_from, the inner IP header cut at 12 bytes */
	F_FULL,			/* TCP filled to 1500 bytes of IP: cannot grow by a tunnel */
	F_GUE,			/* in GUE from ipip_from to gue_port (0: the default) */
	F_GUE_HEADER,		/* F_GUE with a GUE header (variant 0) before the inner packet */
	F_GUE_INNER_CUT,	/* F_GUE, the inner IP header cut at 12 bytes */
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
	uint16_t gue_port;	/* F_GUE*: the UDP port; 0: NOSNAT_DEFAULT_GUE_PORT */
	__u8 decap;		/* what this node takes off (NOSNAT_DECAP_*); 0: both */
	struct frame_edit edit;
	__u32 verdict;
	enum case_out out;
	__u32 action, reason;
	unsigned int modes;	/* the test modes the row runs in (MODE_BIT); 0: all */
};

/* What a row expects: the verdict, the output, the counter that moves. */
#define EXPECT(v, o, a, r)	.verdict = (v), .out = (o), .action = (a), .reason = (r)
#define PASS_SAME	EXPECT(XDP_PASS, OUT_SAME, NOSNAT_ACT_PASS, NOSNAT_R_NONE)
#define PASS_SAME_R(r)	EXPECT(XDP_PASS, OUT_SAME, NOSNAT_ACT_PASS, (r))
#define DROP(r)		EXPECT(XDP_DROP, OUT_NONE, NOSNAT_ACT_DROP, (r))
#define LOCAL		EXPECT(XDP_PASS, OUT_DNAT_LOCAL, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE)
#define ENCAP		EXPECT(XDP_TX, OUT_ENCAP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE)
#define DECAP		EXPECT(XDP_PASS, OUT_DECAP_LOCAL, NOSNAT_ACT_DECAP, NOSNAT_R_NONE)
#define DECAP_GUE	EXPECT(XDP_PASS, OUT_DECAP_LOCAL, NOSNAT_ACT_DECAP, NOSNAT_R_GUE)
#define FRAG_NEEDED	EXPECT(XDP_TX, OUT_FRAG_NEEDED, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED)
/* BPF_PROG_TEST_RUN refuses an skb shorter than its L3 header (the kernel's
 * receive path pulls one in before tc): such frames run at XDP only */
#define AT_XDP_ONLY	.modes = MODE_BIT(MODE_XDP_META) | MODE_BIT(MODE_XDP_NOMETA)

static const struct pkt_case cases[] = {
	/* not ours: untouched */
	{ .name = "non-VIP TCP passes untouched", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_CLIENT, .dst = T_OTHER, .proto = IPPROTO_TCP, .sport = 40003, .dport = 25,
	  .flags = TH_SYN, PASS_SAME },
	{ .name = "TCP to the node itself (ssh) passes untouched", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_NODE_SELF, .proto = IPPROTO_TCP,
	  .sport = 40003, .dport = 22, .flags = TH_SYN, PASS_SAME },
	{ .name = "ARP passes untouched", .setup = MAIL_LOCAL, .frame = F_ARP, PASS_SAME },
	{ .name = "the VIP on an unconfigured port passes untouched", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40004,
	  .dport = 80, .flags = TH_SYN, PASS_SAME },
	{ .name = "the VIP on an unconfigured protocol (UDP) passes untouched",
	  .setup = MAIL_LOCAL, .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_UDP, .sport = 40004, .dport = 25, PASS_SAME },
	{ .name = "someone else's IPIP (Calico's, say) passes untouched", .setup = MAIL_LOCAL,
	  .frame = F_IPIP, .src = T_CLIENT, .dst = T_POD_LOCAL, .proto = IPPROTO_TCP,
	  .sport = 40006, .dport = 25, .flags = TH_SYN, .ipip_from = T_STRANGER, PASS_SAME },
	{ .name = "a node's IPIP to a pod (not a VIP) passes untouched", .setup = MAIL_LOCAL,
	  .frame = F_IPIP, .src = T_CLIENT, .dst = T_POD_LOCAL, .proto = IPPROTO_TCP,
	  .sport = 40006, .dport = 25, .flags = TH_SYN, .ipip_from = T_NODE_B, PASS_SAME },
	{ .name = "a later fragment to a non-VIP passes untouched", .setup = MAIL_LOCAL,
	  .frame = F_LATER_FRAGMENT, .src = T_CLIENT, .dst = T_OTHER, .proto = IPPROTO_TCP,
	  .frag = 185, PASS_SAME },
	/* ours, refused */
	{ .name = "a VIP without backends: dropped", .setup = VIP_ONLY, .frame = F_PLAIN,
	  .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40005, .dport = 25,
	  .flags = TH_SYN, DROP(NOSNAT_R_NO_BACKEND) },
	{ .name = "a VIP with only draining backends: dropped", .setup = VIP_DRAINING,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40005,
	  .dport = 25, .flags = TH_SYN, DROP(NOSNAT_R_NO_BACKEND) },
	{ .name = "IPIP to a VIP from an unknown source: dropped", .setup = MAIL_LOCAL,
	  .frame = F_IPIP, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40006,
	  .dport = 25, .flags = TH_SYN, .ipip_from = T_STRANGER, DROP(NOSNAT_R_UNKNOWN_ENCAP_SRC) },
	{ .name = "the first fragment of VIP traffic: dropped", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40010,
	  .dport = 25, .flags = TH_ACK, .frag = 0x2000, DROP(NOSNAT_R_FRAGMENT) },
	{ .name = "a later fragment of VIP traffic: dropped", .setup = MAIL_LOCAL,
	  .frame = F_LATER_FRAGMENT, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP,
	  .frag = 185, DROP(NOSNAT_R_FRAGMENT) },
	{ .name = "source = the VIP: dropped as spoofed", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_VIP, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 25, .dport = 25,
	  .flags = TH_SYN, DROP(NOSNAT_R_SPOOFED) },
	{ .name = "source = this node: dropped as spoofed", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_NODE_SELF, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 25, .dport = 25,
	  .flags = TH_SYN, DROP(NOSNAT_R_SPOOFED) },
	{ .name = "encapsulated from a node, inner source = the VIP: dropped as spoofed",
	  .setup = MAIL_LOCAL, .frame = F_IPIP, .src = T_VIP, .dst = T_VIP, .proto = IPPROTO_TCP,
	  .sport = 25, .dport = 25, .flags = TH_SYN, .ipip_from = T_NODE_B, DROP(NOSNAT_R_SPOOFED) },
	/* ours, delivered */
	{ .name = "another node as a client of the VIP: delivered", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_NODE_B, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 25,
	  .dport = 25, .flags = TH_SYN, LOCAL },
	{ .name = "IPv4 options: delivered with them", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40009, .dport = 25,
	  .flags = TH_SYN, .ip_options = 1, LOCAL },
	{ .name = "802.1Q: delivered with its tag", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40013, .dport = 25,
	  .flags = TH_SYN, .vlans = 1, LOCAL },
	{ .name = "QinQ: delivered with both tags", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40014, .dport = 25,
	  .flags = TH_SYN, .vlans = 2, LOCAL },
	/* headers that end early or lie */
	{ .name = "a VLAN tag announced, the frame ends: untouched", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40008,
	  .dport = 25, .flags = TH_SYN,
	  .edit = { .cut = 14, .patch = { { 12, 0x81 }, { 13, 0x00 } } }, PASS_SAME },
	{ .name = "IPv4 announced, no IP header: untouched, malformed", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40008,
	  .dport = 25, .flags = TH_SYN, .edit = { .cut = 14 },
	  PASS_SAME_R(NOSNAT_R_MALFORMED), AT_XDP_ONLY },
	{ .name = "IP header cut before the destination: untouched, malformed",
	  .setup = MAIL_LOCAL, .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40008, .dport = 25, .flags = TH_SYN,
	  .edit = { .cut = 14 + 12 }, PASS_SAME_R(NOSNAT_R_MALFORMED), AT_XDP_ONLY },
	{ .name = "total length beyond the frame: dropped, malformed", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40008,
	  .dport = 25, .flags = TH_SYN, .edit = { .cut = 14 + 20 + 10 }, DROP(NOSNAT_R_MALFORMED) },
	{ .name = "a consistent IP header, the TCP header cut: dropped, malformed",
	  .setup = MAIL_LOCAL, .frame = F_TCP_CUT, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40008, .dport = 25, .flags = TH_SYN,
	  DROP(NOSNAT_R_MALFORMED) },
	{ .name = "TCP data offset beyond the packet: dropped, malformed", .setup = MAIL_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40008,
	  .dport = 25, .flags = TH_SYN, .edit = { .patch = { { 14 + 20 + 12, 0xf0 } } },
	  DROP(NOSNAT_R_MALFORMED) },
	{ .name = "IHL below 5: dropped, malformed", .setup = MAIL_LOCAL, .frame = F_PLAIN,
	  .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40008, .dport = 25,
	  .flags = TH_SYN, .edit = { .patch = { { 14, 0x44 } } }, DROP(NOSNAT_R_MALFORMED) },
	{ .name = "IPIP from a node, the inner IP header cut: untouched, malformed",
	  .setup = MAIL_LOCAL, .frame = F_IPIP_INNER_CUT, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40008, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, PASS_SAME_R(NOSNAT_R_MALFORMED) },
	/* the IP packet ends before its L4 header does; the frame goes on
	 * (padding, whatever it holds): the header is not there */
	{ .name = "IP length ends inside the TCP header, padding after: dropped, malformed",
	  .setup = MAIL_LOCAL, .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40015, .dport = 25, .flags = TH_SYN,
	  .edit = { .patch = { { 14 + 2, 0 }, { 14 + 3, 20 + 10 } } }, DROP(NOSNAT_R_MALFORMED) },
	{ .name = "IP length ends inside the TCP options (data offset), padding after: dropped, malformed",
	  .setup = MAIL_LOCAL, .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40016, .dport = 25, .flags = TH_SYN,
	  .edit = { .patch = { { 14 + 2, 0 }, { 14 + 3, 20 + 20 } } }, DROP(NOSNAT_R_MALFORMED) },
	{ .name = "IP length ends inside the UDP header, padding after: dropped, malformed",
	  .setup = DNS_LOCAL, .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_UDP, .sport = 40017, .dport = 53,
	  .edit = { .patch = { { 14 + 2, 0 }, { 14 + 3, 20 + 4 } } }, DROP(NOSNAT_R_MALFORMED) },
	/* UDP */
	{ .name = "UDP to the VIP, with a checksum: delivered", .setup = DNS_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_UDP, .sport = 40011,
	  .dport = 53, LOCAL },
	{ .name = "UDP to the VIP, checksum 0 (none): delivered", .setup = DNS_LOCAL,
	  .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_UDP, .sport = 40011,
	  .dport = 53, .udp_no_csum = 1, LOCAL },
	/* to a pod on another node, from one */
	{ .name = "SYN for a pod on another node: IPIP to it, tagged, MSS clamped",
	  .setup = MAIL_REMOTE, .frame = F_PLAIN, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40018, .dport = 25, .flags = TH_SYN, ENCAP },
	{ .name = "IPIP from a node, a SYN for the pod here: decapsulated, DNAT",
	  .setup = MAIL_LOCAL, .frame = F_IPIP, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40019, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, DECAP },
	/* GUE (IPv4 in UDP): taken off only from a node, to its port, around a
	 * VIP's packet, when this node takes GUE off; else not ours */
	{ .name = "GUE from a node, a SYN for the pod here: decapsulated, DNAT",
	  .setup = MAIL_LOCAL, .frame = F_GUE, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40021, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, DECAP_GUE },
	{ .name = "GUE from a node, this node's address sharing a VIP's filter bit: decapsulated",
	  .setup = MAIL_LOCAL_NODE_BIT, .frame = F_GUE, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40028, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, DECAP_GUE },
	{ .name = "GUE to a VIP from an unknown source: dropped", .setup = MAIL_LOCAL,
	  .frame = F_GUE, .src = T_CLIENT, .dst = T_VIP, .proto = IPPROTO_TCP, .sport = 40022,
	  .dport = 25, .flags = TH_SYN, .ipip_from = T_STRANGER, DROP(NOSNAT_R_UNKNOWN_ENCAP_SRC) },
	{ .name = "a node's UDP to another port than GUE's (a VIP inside): untouched",
	  .setup = MAIL_LOCAL, .frame = F_GUE, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40023, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, .gue_port = NOSNAT_DEFAULT_GUE_PORT + 1, PASS_SAME },
	{ .name = "a node's GUE to a pod (not a VIP, someone's fou) passes untouched",
	  .setup = MAIL_LOCAL, .frame = F_GUE, .src = T_CLIENT, .dst = T_POD_LOCAL,
	  .proto = IPPROTO_TCP, .sport = 40024, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, PASS_SAME },
	{ .name = "GUE with a GUE header (variant 0, not what nosnat sends): untouched",
	  .setup = MAIL_LOCAL, .frame = F_GUE_HEADER, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40025, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, PASS_SAME },
	{ .name = "GUE from a node where this node takes only IPIP off: untouched",
	  .setup = MAIL_LOCAL, .frame = F_GUE, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40026, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, .decap = NOSNAT_DECAP_IPIP, PASS_SAME },
	{ .name = "IPIP from a node where this node takes only GUE off: untouched",
	  .setup = MAIL_LOCAL, .frame = F_IPIP, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40027, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, .decap = NOSNAT_DECAP_GUE, PASS_SAME },
	{ .name = "GUE from a node, the inner IP header cut: untouched, malformed",
	  .setup = MAIL_LOCAL, .frame = F_GUE_INNER_CUT, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40028, .dport = 25, .flags = TH_SYN,
	  .ipip_from = T_NODE_B, PASS_SAME_R(NOSNAT_R_MALFORMED) },
	{ .name = "a DF segment too big for the tunnel: ICMP fragmentation needed back",
	  .setup = MAIL_REMOTE, .frame = F_FULL, .src = T_CLIENT, .dst = T_VIP,
	  .proto = IPPROTO_TCP, .sport = 40020, .dport = 25, .flags = TH_ACK, FRAG_NEEDED },
};

size_t pkt_cases_count(void)
{
	return sizeof(cases) / sizeof(cases[0]);
}

const char *pkt_case_name(size_t i)
{
	return cases[i].name;
}

unsigned int pkt_case_modes(size_t i)
{
	return cases[i].modes;
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
	if (c->frame == F_FULL) {
		static uint8_t payload[1500 - 40];

		l.payload = payload;
		l.payload_len = sizeof(payload);
	}
	if (c->frame == F_GUE || c->frame == F_GUE_HEADER || c->frame == F_GUE_INNER_CUT) {
		uint8_t inner[256], l3[512];
		uint16_t port = c->gue_port ? c->gue_port : NOSNAT_DEFAULT_GUE_PORT;
		size_t in_n = 4, l3n;

		if (c->frame == F_GUE_HEADER)	/* version 0, no flags, protocol 4 */
			memcpy(inner, "\x00\x00\x04\x00", 4);
		else
			in_n = 0;
		in_n += build_ip(inner + in_n, &ip, &l);
		if (c->frame == F_GUE_INNER_CUT)
			in_n = 12;
		l3n = build_gue(l3, ip4(c->ipip_from), ip4(T_NODE_SELF), 0, 49999, port, inner, in_n);
		return build_eth(buf, MAC_SELF, MAC_B, 0, 0x0800, l3, l3n);
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

/* OUT_ENCAP and OUT_DECAP_LOCAL: the row's packet as it leaves through a
 * tunnel or comes out of one. */
static size_t case_expect_tunnel(uint8_t *buf, const struct pkt_case *c)
{
	uint8_t inner[256], outer[512];
	struct ip_spec ip = ipv4(c->src, c->dst);
	struct l4_spec l = tcp(c->sport, c->dport, c->flags);
	size_t in_n, out_n;

	if (c->out == OUT_DECAP_LOCAL) {
		ip.daddr = ip4(T_POD_LOCAL);
		l.dport = 2525;
		in_n = build_ip(inner, &ip, &l);
		return build_eth(buf, MAC_SELF, MAC_B, 0, 0x0800, inner, in_n);
	}
	if (c->flags & TH_SYN)
		l.opts = syn_opts_1440;		/* 1500 - 20 (IPIP) - 20 - 20 */
	in_n = build_ip(inner, &ip, &l);
	out_n = build_ipip(outer, ip4(T_NODE_SELF), ip4(T_NODE_B),
			   backend_tag(ip4(T_POD_B), htons(2525)), 0, 0x4000, inner, in_n);
	return build_eth(buf, MAC_B, MAC_SELF, 0, 0x0800, outer, out_n);
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
	uint8_t in[2048], want[512];
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
	case MAIL_REMOTE:
		CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
		break;
	case MAIL_LOCAL_NODE_BIT: {
		__u32 bit = nosnat_addr_filter_bit(ip4(T_NODE_SELF)), a;
		char addr[INET_ADDRSTRLEN];

		CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
		/* 198.18.0.0/15 holds 2^17 addresses for 2^16 bits */
		for (a = 0; a < (1u << 17); a++)
			if (nosnat_addr_filter_bit(htonl(0xc6120000u + a)) == bit &&
			    htonl(0xc6120000u + a) != ip4(T_VIP))
				break;
		CHECK(a < (1u << 17), "no address in 198.18.0.0/15 shares the node's bit");
		CHECK(inet_ntop(AF_INET, &(__be32){ htonl(0xc6120000u + a) }, addr, sizeof(addr)),
		      "address");
		CHECK(!add_vip(addr, 4789, IPPROTO_UDP), "the VIP sharing the node's bit");
		break;
	}
	}

	if (c->decap) {
		struct nosnat_cfg cfg;
		__u32 zero = 0;

		CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
		cfg.decap = c->decap;
		CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	}
	n = case_edit(in, case_frame(in, c, c->dst, c->dport), &c->edit);
	if (c->out == OUT_SAME) {
		memcpy(want, in, n);
		wn = n;
	} else if (c->out == OUT_DNAT_LOCAL) {
		wn = case_frame(want, c, T_POD_LOCAL, c->setup == DNS_LOCAL ? 5353 : 2525);
	} else if (c->out == OUT_ENCAP || c->out == OUT_DECAP_LOCAL) {
		wn = case_expect_tunnel(want, c);
	} else if (c->out == OUT_FRAG_NEEDED) {
		/* the node's error: internetwork control, as the kernel sends */
		const struct ip_spec node = { .saddr = ip4(T_NODE_SELF), .daddr = ip4(c->src),
					      .tos = 0xc0, .ttl = 64 };
		uint8_t l3[128];

		wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x0800, l3,
			       build_icmp_error(l3, &node, 3, 4, 1480, in + 14, 28));
	}
	stats_snap();
	CHECK(!run_xdp(in, n, c->out == OUT_ENCAP ? dummy_ifindex : 1, &r), "test run");
	CHECK(verdict_is(&r, c->verdict), "verdict %u, want %u", r.ret, c->verdict);
	if (c->out != OUT_NONE)
		CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, c->action, c->reason), "counter");
	return 0;
}
