// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* IPv6 VIPs at tc (lib/v6.h): a client's packet DNATed to a pod here, in
 * 6in4 to a pod's node, taken off 6in4 from a node, the pod's reply as the
 * VIP; extension headers, fragments, neighbour discovery. Exact bytes. */
#include "harness.h"

#define T6_CLIENT	"2001:db8:c::2"
#define T6_CLIENT2	"2001:db8:c::3"
#define T6_VIP		"2001:db8::25"
#define T6_OTHER	"2001:db8::99"		/* not a VIP */
#define T6_POD_LOCAL	"2001:db8:18:1::2"
#define T6_POD_B	"2001:db8:18:2::2"
#define T6_POD_C	"2001:db8:18:3::2"

/* Linux's SYN options, MSS 1460; and as 6in4 leaves it on a 1500-byte
 * uplink: 1500 - 20 (IPv4) - 40 (IPv6) - 20 (TCP) = 1420. */
static uint8_t syn6_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
static uint8_t syn6_opts_1420[20] = { 2, 4, 0x05, 0x8c, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3,
				      3, 7 };

static __be32 fold6(const uint8_t a[16])
{
	return nosnat_addr6_fold(a);
}

/* The v6 VIP vip:port/proto with one pod pod:pod_port on node, made by
 * the loader's own code. */
int v6_vip(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port,
	   const char *node)
{
	char spec[96];
	struct vip_key k;
	__u8 a6[16];
	int rc;

	snprintf(spec, sizeof(spec), "[%s]:%u/%s", vip, port, proto == IPPROTO_TCP ? "tcp" : "udp");
	CHECK(!parse_vip_spec(spec, &k), "VIP spec %s", spec);
	ip6(pod, a6);
	rc = op_vip_add_any(&maps, &st, &k);
	CHECK(!rc || rc == -EEXIST, "vip add %s: %d", spec, rc);
	CHECK(!op_backend_add_any(&maps, &st, &k, fold6(a6), a6, htons(pod_port), ip4(node), 1),
	      "backend add %s", pod);
	return 0;
}

static struct ip6_spec ipv6(const char *src, const char *dst)
{
	struct ip6_spec ip = { .hlim = 63 };

	ip6(src, ip.saddr);
	ip6(dst, ip.daddr);
	return ip;
}

static struct l4_spec tcp6(uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct l4_spec l = tcp(sport, dport, flags);

	if (flags & TH_SYN) {
		l.opts = syn6_opts;
		l.opts_len = sizeof(syn6_opts);
	}
	return l;
}

/* eth(router -> self) around a v6 packet */
static size_t frame6(uint8_t *buf, const struct ip6_spec *ip, const struct l4_spec *l)
{
	uint8_t l3[4096];

	return build_eth(buf, MAC_SELF, MAC_ROUTER, 0, 0x86dd, l3, build_ip6(l3, ip, l));
}

/* What node outer_src sends this node: ip/l in 6in4, outer ID id. */
static size_t frame6in4(uint8_t *buf, const char *outer_src, uint16_t id,
			const struct ip6_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2100];
	size_t in_n = build_ip6(inner, ip, l);
	size_t out_n = build_tun4(outer, ip4(outer_src), ip4(T_NODE_SELF), id, 0, 41, inner, in_n);

	return build_eth(buf, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, out_n);
}

static uint16_t tag6(const char *pod, uint16_t port)
{
	uint8_t a[16];

	ip6(pod, a);
	return backend_tag(fold6(a), htons(port));
}

/* The uplink's ingress as the test mode runs it (XDP's v6 walk, then tc's
 * where XDP passed it on); tc's walk alone where XDP's v6 walk is not
 * loaded (a kernel that refuses its tail call: XDP passes v6 on uncounted). */
/* What a pod here gets of ip/l, a client's TCP packet to the VIP's port:
 * the same to the pod's address and port 2525. */
static size_t frame6_here(uint8_t *buf, struct ip6_spec ip, struct l4_spec l)
{
	ip6(T6_POD_LOCAL, ip.daddr);
	l.dport = 2525;
	return frame6(buf, &ip, &l);
}

static int run6(const uint8_t *in, size_t n, struct run *r)
{
	if (test_mode != MODE_TC && !skel->rodata->nosnat_xdp6_tail)
		return run_tc_walk(in, n, dummy_ifindex, r);
	return run_xdp(in, n, dummy_ifindex, r);
}

/* A frame through the uplink's ingress as the test mode runs it: XDP's v6
 * walk, then tc's when XDP passed it on (or tc's alone): the verdict (tc's,
 * or XDP's own: tc's redirect stands for XDP_TX and XDP_REDIRECT), the
 * bytes, one counter at the hook that finished it. */
static int tc_in(const uint8_t *in, size_t n, int tc_ret, const uint8_t *want, size_t wn,
		 __u32 action, __u32 reason)
{
	struct run r;
	int rc;

	if (test_mode != MODE_TC && !skel->rodata->nosnat_xdp6_tail) {
		/* a kernel that refuses XDP's v6 tail call: XDP passes v6 on
		 * untouched and uncounted, and tc ingress walks it */
		stats_snap();
		CHECK(!run_xdp_only(in, n, dummy_ifindex, &r) && r.ret == XDP_PASS, "XDP's pass");
		CHECK_BYTES(&r, in, n);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "XDP uncounted");
	}
	stats_snap();
	handoff_strict = 1;
	rc = run6(in, n, &r);
	handoff_strict = 0;
	CHECK(!rc, "test run: %d", rc);
	if (last_via_tc)
		CHECK(r.tc_ret == tc_ret, "verdict %d, want %d", r.tc_ret, tc_ret);
	else
		CHECK(tc_ret == TC_ACT_OK ? r.ret == XDP_PASS
		      : tc_ret == TC_ACT_REDIRECT ? r.ret == XDP_TX || r.ret == XDP_REDIRECT
						  : r.ret == XDP_DROP,
		      "XDP's verdict %u, want tc's %d", r.ret, tc_ret);
	if (want)
		CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, action, reason), "counter");
	return 0;
}

/* The id of v6 VIP vip:25/tcp. */
static __u32 v6_vip_id(const char *vip)
{
	uint8_t a[16];

	ip6(vip, a);
	for (size_t i = 0; i < st.n_vips; i++)
		if (st.vips[i].vk.v6 && !memcmp(st.vips[i].vk.addr6, a, 16) &&
		    st.vips[i].vk.port == htons(25))
			return st.vips[i].val.id;
	return ~0U;
}

/* ... and which hook finished it: XDP's v6 walk (xdp 1) or tc's. */
static int tc_in_at(int xdp, const uint8_t *in, size_t n, int tc_ret, const uint8_t *want,
		    size_t wn, __u32 action, __u32 reason)
{
	int at_tc = test_mode == MODE_TC || !xdp || !skel->rodata->nosnat_xdp6_tail;

	CHECK(!tc_in(in, n, tc_ret, want, wn, action, reason), "run");
	CHECK(last_via_tc == at_tc, "finished at %s, want %s", last_via_tc ? "tc" : "XDP",
	      at_tc ? "tc" : "XDP");
	return 0;
}

/* A segment of payload bytes on l's flow (ip: client -> vip) that fills
 * the uplink but not its tunnel: its sender gets packet too big (MTU mtu)
 * from the address it sent to, quoting its IPv6 header and 8 bytes, built
 * at tc (XDP passes it on). */
static int too_big6(const struct ip6_spec *ip, struct l4_spec l, const char *vip,
		    size_t payload, uint32_t mtu)
{
	static uint8_t zeros[1500], in[2048], want[256];
	uint8_t msg[56] = { 2, 0, 0, 0, 0, 0, (uint8_t)(mtu >> 8), (uint8_t)mtu };
	struct ip6_spec back = ipv6(vip, T6_CLIENT);
	struct l4_spec icmp = { .proto = 58, .payload = msg, .payload_len = sizeof(msg) };
	uint8_t l3[128];
	size_t n, wn;

	l.payload = zeros;
	l.payload_len = payload;
	n = frame6(in, ip, &l);
	memcpy(msg + 8, in + 14, 48);
	back.hlim = 64;
	wn = build_eth(want, MAC_ROUTER, MAC_SELF, 0, 0x86dd, l3, build_ip6(l3, &back, &icmp));
	return tc_in_at(0, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_DROP,
			NOSNAT_R_ICMP_FRAG_NEEDED);
}

static int tc_out_why(const uint8_t *in, size_t n, const uint8_t *want, size_t wn, __u32 action,
		      __u32 reason)
{
	struct run r;

	stats_snap();
	CHECK(!run_tc(bpf_program__fd(skel->progs.nosnat_tc_egress), in, n, &r), "tc run");
	CHECK(r.ret == TC_ACT_OK, "verdict %u", r.ret);
	CHECK_BYTES(&r, want, wn);
	CHECK(stats_moved(NOSNAT_HOOK_TC_EGRESS, action, reason), "counter");
	return 0;
}

static int tc_out(const uint8_t *in, size_t n, const uint8_t *want, size_t wn, __u32 action)
{
	return tc_out_why(in, n, want, wn, action, NOSNAT_R_NONE);
}

int t_v6_local(void)
{
	uint8_t in[512], want[512];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l = tcp6(40100, 25, TH_SYN);
	struct nosnat_flow6_key fk = { .sport = htons(40100), .dport = htons(25),
				       .proto = IPPROTO_TCP };
	struct nosnat_flow f;
	size_t n, wn;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");

	/* XDP's v6 walk leaves a pod here to tc (which knows the skb's kind
	 * of sum), untouched, counted as passed on; a v6 packet to no VIP
	 * address stays in XDP's entry point, untouched and uncounted */
	if (test_mode != MODE_TC && skel->rodata->nosnat_xdp6_tail) {
		struct ip6_spec other = ipv6(T6_CLIENT, T6_OTHER);
		struct run r;

		n = frame6(in, &ip, &l);
		stats_snap();
		CHECK(!run_xdp_only(in, n, 1, &r), "xdp run");
		CHECK(r.ret == XDP_PASS, "xdp verdict %u", r.ret);
		CHECK_BYTES(&r, in, n);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_PASS, NOSNAT_R_TO_TC), "xdp counter");
		n = frame6(in, &other, &l);
		stats_snap();
		CHECK(!run_xdp_only(in, n, 1, &r), "xdp run");
		CHECK(r.ret == XDP_PASS, "xdp verdict %u", r.ret);
		CHECK_BYTES(&r, in, n);
		CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "xdp counter");
	}

	/* the SYN: to the pod's address and port, the flow recorded */
	n = frame6(in, &ip, &l);
	ip6(T6_POD_LOCAL, ip.daddr);
	l.dport = 2525;
	wn = frame6(want, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "SYN");
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	CHECK(!hs6_get(maps.flow6_new, &fk, &f), "handshake recorded");
	CHECK(f.syn_ack == htonl(1001), "flow's syn_ack %x", ntohl(f.syn_ack));
	CHECK(bpf_map_lookup_elem(maps.flows6, &fk, &f), "a handshake among the established flows");

	/* the pod's SYN-ACK leaves as the VIP, its MSS lowered for 6in4 (a
	 * failover may encapsulate this flow later) */
	ip = ipv6(T6_POD_LOCAL, T6_CLIENT);
	l = tcp6(2525, 40100, TH_SYN | TH_ACK);
	n = frame6(in, &ip, &l);
	ip6(T6_VIP, ip.saddr);
	l.sport = 25;
	l.opts = syn6_opts_1420;
	wn = frame6(want, &ip, &l);
	CHECK(!tc_out(in, n, want, wn, NOSNAT_ACT_REPLY_NAT), "SYN-ACK");

	/* the client's data, and the pod's answer */
	{
		static const char data[] = "EHLO client.example\r\n";

		ip = ipv6(T6_CLIENT, T6_VIP);
		l = tcp6(40100, 25, TH_ACK | TH_PSH);
		l.payload = data;
		l.payload_len = sizeof(data) - 1;
		n = frame6(in, &ip, &l);
		ip6(T6_POD_LOCAL, ip.daddr);
		l.dport = 2525;
		wn = frame6(want, &ip, &l);
		CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "data");
		/* the client's first packet after its SYN: the flow established */
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f), "flow established");
		CHECK(hs6_get(maps.flow6_new, &fk, &f), "still a handshake");

		ip = ipv6(T6_POD_LOCAL, T6_CLIENT);
		l = tcp6(2525, 40100, TH_ACK | TH_PSH);
		l.payload = data;
		l.payload_len = sizeof(data) - 1;
		n = frame6(in, &ip, &l);
		ip6(T6_VIP, ip.saddr);
		l.sport = 25;
		wn = frame6(want, &ip, &l);
		CHECK(!tc_out(in, n, want, wn, NOSNAT_ACT_REPLY_NAT), "reply");
	}

	/* the same pod to a client that came some other way: its own */
	ip = ipv6(T6_POD_LOCAL, T6_CLIENT2);
	l = tcp6(2525, 40100, TH_ACK);
	n = frame6(in, &ip, &l);
	CHECK(!tc_out(in, n, in, n, NOSNAT_ACT_PASS), "not a VIP flow's reply");

	/* UDP with its checksum, and without one (0: a tunnel's, RFC 6935),
	 * which 0 it stays */
	{
		struct l4_spec u;

		CHECK(!v6_vip(T6_VIP, 53, IPPROTO_UDP, T6_POD_LOCAL, 5353, T_NODE_SELF), "udp VIP");
		for (int no_sum = 0; no_sum < 2; no_sum++) {
			u = (struct l4_spec){ .proto = IPPROTO_UDP, .sport = 40101 + no_sum,
					      .dport = 53, .payload = "query", .payload_len = 5,
					      .udp_no_csum = no_sum };
			ip = ipv6(T6_CLIENT, T6_VIP);
			n = frame6(in, &ip, &u);
			ip6(T6_POD_LOCAL, ip.daddr);
			u.dport = 5353;
			wn = frame6(want, &ip, &u);
			CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE),
			      "udp%s", no_sum ? ", no sum" : "");
		}

		ip = ipv6(T6_POD_LOCAL, T6_CLIENT);
		u = (struct l4_spec){ .proto = IPPROTO_UDP, .sport = 5353, .dport = 40101,
				      .payload = "answer", .payload_len = 6 };
		n = frame6(in, &ip, &u);
		ip6(T6_VIP, ip.saddr);
		u.sport = 53;
		wn = frame6(want, &ip, &u);
		CHECK(!tc_out(in, n, want, wn, NOSNAT_ACT_REPLY_NAT), "udp reply");
	}
	return 0;
}

/* A v6 flow to a pod here past its handshake that conntrack does not hold
 * (no netfilter rule in this namespace makes it track): counted once,
 * ct_untracked, as v4's, and the flow marked as seen, so that its later
 * packets do not ask conntrack again; every packet still delivered. */
int t_v6_untracked_counted(void)
{
	uint8_t in[512], want[512];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l;
	struct nosnat_flow6_key fk = { .sport = htons(40195), .dport = htons(25),
				       .proto = IPPROTO_TCP };
	struct nosnat_flow f;
	uint64_t before;
	size_t n, wn;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");
	before = counter(maps.flow_ev, NOSNAT_R_CT_UNTRACKED, 0, 1);
	for (int i = 0; i < 5; i++) {	/* SYN, then four packets past it */
		l = tcp6(40195, 25, i ? TH_ACK : TH_SYN);
		n = frame6(in, &ip, &l);
		wn = frame6_here(want, ip, l);
		CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "packet %d", i);
		/* the first packet past the SYN moves the handshake's entry;
		 * conntrack is asked from the next on, once */
		CHECK(counter(maps.flow_ev, NOSNAT_R_CT_UNTRACKED, 0, 1) - before == (i > 1),
		      "after packet %d: untracked counted %llu times", i,
		      (unsigned long long)(counter(maps.flow_ev, NOSNAT_R_CT_UNTRACKED, 0, 1) - before));
	}
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f), "flow established");
	CHECK(f.flags & NOSNAT_FLOW_CT_SEEN, "flow not marked as seen: flags %#x", f.flags);
	return 0;
}

/* What this node sends node B for ip/l: 6in4, the outer ID the pod's tag. */
static size_t to_node6(uint8_t *buf, const char *node, const uint8_t *dmac, const uint8_t *smac,
		       uint16_t id, const struct ip6_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2100];
	size_t in_n = build_ip6(inner, ip, l);
	size_t out_n = build_tun4(outer, ip4(T_NODE_SELF), ip4(node), id, ip->tclass, 41, inner,
				  in_n);

	return build_eth(buf, dmac, smac, 0, 0x0800, outer, out_n);
}

int t_v6_remote(void)
{
	uint8_t in[2048], want[2100];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l = tcp6(40110, 25, TH_SYN), w;
	size_t n, wn;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "v6 VIP");

	/* the SYN: in 6in4 to node B, MSS lowered by 20, traffic class kept */
	ip.tclass = 0x28;
	n = frame6(in, &ip, &l);
	w = l;
	w.opts = syn6_opts_1420;
	wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &w);
	/* a pod elsewhere whose next hop is known: XDP's walk picks, records
	 * and clamps, as tc's would */
	CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE),
	      "SYN");
	CHECK(counter(maps.vip_stat, v6_vip_id(T6_VIP), 2, 3) == 1, "the new flow counted");

	/* the flow's next packet: the same way, untouched inside (it ends
	 * the handshake, the flow moves to the established ones) */
	l = tcp6(40110, 25, TH_ACK);
	n = frame6(in, &ip, &l);
	wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &l);
	CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE),
	      "ACK");
	{
		struct nosnat_flow6_key fk = { .sport = htons(40110), .dport = htons(25),
					       .proto = IPPROTO_TCP };
		struct nosnat_flow f;

		ip6(T6_CLIENT, fk.src);
		ip6(T6_VIP, fk.dst);
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) &&
		      hs6_get(maps.flow6_new, &fk, &f), "the handshake over");
	}

	/* established: XDP sends it itself, the same bytes */
	l = tcp6(40110, 25, TH_ACK | TH_PSH);
	l.payload = (const uint8_t *)"EHLO mail.example\r\n";
	l.payload_len = 19;
	n = frame6(in, &ip, &l);
	wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &l);
	CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE),
	      "established");
	/* ... with a partial sum (a local sender's, through a veth): XDP makes
	 * it whole before the frame leaves (nobody after would); tc leaves it
	 * for the kernel to finish inside the tunnel */
	{
		uint8_t part[2048];
		size_t l4 = 14 + 40;
		uint32_t sum = 0;
		uint16_t psum;

		memcpy(part, in, n);
		for (int i = 0; i < 16; i++)	/* the pseudo-header's share */
			sum += (uint32_t)part[22 + 2 * i] << 8 | part[23 + 2 * i];
		sum += (uint32_t)(n - l4) + IPPROTO_TCP;
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		psum = htons((uint16_t)sum);
		memcpy(part + l4 + 16, &psum, 2);
		wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &l);
		if (test_mode == MODE_TC)
			memcpy(want + 14 + 20 + 40 + 16, &psum, 2);
		CHECK(!tc_in_at(1, part, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP,
				NOSNAT_R_NONE), "partial sum");
	}

	/* a segment that fills the uplink has no room for 6in4: its sender
	 * gets packet too big (MTU 1480) from the address it sent to,
	 * quoting its IPv6 header and 8 bytes */
	CHECK(!too_big6(&ip, l, T6_VIP, 1500 - 40 - 20, 1480), "too big");

	/* a pod on node C, whose neighbour is unresolved: the neighbour code
	 * writes the MACs on the way out */
	{
		struct ip6_spec ic = ipv6(T6_CLIENT, "2001:db8::26");

		CHECK(!v6_vip("2001:db8::26", 25, IPPROTO_TCP, T6_POD_C, 2525, T_NODE_C), "VIP C");
		l = tcp6(40111, 25, TH_SYN);
		n = frame6(in, &ic, &l);
		w = l;
		w.opts = syn6_opts_1420;
		wn = to_node6(want, T_NODE_C, MAC_SELF, MAC_ROUTER, tag6(T6_POD_C, 2525), &ic, &w);
		/* XDP cannot send it: passed on before the pick wrote anything,
		 * the new flow counted once, by tc */
		CHECK(!tc_in_at(0, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP,
				NOSNAT_R_NONE), "to C");
		CHECK(counter(maps.vip_stat, v6_vip_id("2001:db8::26"), 2, 3) == 1,
		      "the new flow counted once");
		/* established, too: XDP cannot write the MACs, tc's neighbour
		 * code does */
		for (int i = 0; i < 2; i++) {
			l = tcp6(40111, 25, TH_ACK);
			n = frame6(in, &ic, &l);
			wn = to_node6(want, T_NODE_C, MAC_SELF, MAC_ROUTER, tag6(T6_POD_C, 2525),
				      &ic, &l);
			CHECK(!tc_in_at(0, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP,
					NOSNAT_R_NONE), "to C, %d", i);
		}
	}

	/* a client's ACK with no flow (this node's table lost it): the same
	 * pod again, by the VIP's Maglev table */
	map_clear(maps.flows6);
	l = tcp6(40110, 25, TH_ACK);
	n = frame6(in, &ip, &l);
	wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &l);
	CHECK(!tc_in_at(0, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP,
			NOSNAT_R_RECOVERED), "recovered");
	return 0;
}

/* A v6 client reuses a port of an established flow after the VIP's table
 * changed (a pod added), its pods on another node: the SYN neither reads
 * nor deletes the old entry. The first packet after the SYN finds that
 * entry recorded under the older table and a handshake it belongs to, and
 * the handshake's pod gets the whole new connection; a flow without a new
 * SYN stays where it was, its entry made current again where Maglev still
 * gives its pod (as v4's, t_port_reuse_after_change). */
#define T6_POD_B2	"2001:db8:18:2::3"

/* A frame to a pod of the VIP on node B (XDP_TX, or tc's redirect): which
 * pod (1: T6_POD_B, 2: T6_POD_B2), by its exact bytes; 0: neither. */
static int to_b_pod(const uint8_t *in, size_t n, const struct ip6_spec *ip,
		    const struct l4_spec *l)
{
	static uint8_t want[2][2100];
	struct l4_spec w = *l;
	size_t wn[2];
	struct run r;

	if (w.flags & TH_SYN)
		w.opts = syn6_opts_1420;
	wn[0] = to_node6(want[0], T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), ip, &w);
	wn[1] = to_node6(want[1], T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B2, 2525), ip, &w);
	if (run6(in, n, &r) ||
	    !(last_via_tc ? r.tc_ret == TC_ACT_REDIRECT : r.ret == XDP_TX || r.ret == XDP_REDIRECT))
		return 0;
	for (int i = 0; i < 2; i++)
		if (r.len == wn[i] && !memcmp(r.pkt, want[i], wn[i]))
			return i + 1;
	return 0;
}

/* count v6 connections from the client on ports first, ... to the VIP,
 * all to pod 1 (T6_POD_B): SYN and ACK, exact bytes. */
static int connect6_to_b(uint16_t first, int count)
{
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	uint8_t in[512];
	struct l4_spec l;
	size_t n;

	for (uint16_t p = first; p < first + count; p++) {
		l = tcp6(p, 25, TH_SYN);
		n = frame6(in, &ip, &l);
		CHECK(to_b_pod(in, n, &ip, &l) == 1, "SYN %u", p);
		l = tcp6(p, 25, TH_ACK);
		l.seq = 1001;
		n = frame6(in, &ip, &l);
		CHECK(to_b_pod(in, n, &ip, &l) == 1, "ACK %u", p);
	}
	return 0;
}

/* CPU cpu's copy of k in nosnat_flow6_cache, its slot in *slot; -1: none
 * (read at once: one lookup of k's slot). */
static int flow6_copy(const struct nosnat_flow6_key *k, int cpu, __u32 *slot,
		      struct nosnat_flow6_cache_entry *e)
{
	static struct nosnat_flow6_cache_entry vals[256];

	*slot = nosnat_flow6_cache_slot(k);
	if (libbpf_num_possible_cpus() > 256 ||
	    bpf_map_lookup_elem(bpf_map__fd(skel->maps.nosnat_flow6_cache), slot, vals) ||
	    memcmp(&vals[cpu].key, k, sizeof(*k)) || !vals[cpu].jiffy)
		return -1;
	*e = vals[cpu];
	return 0;
}

/* e written to slot for every CPU. */
static int flow6_copy_write(__u32 slot, const struct nosnat_flow6_cache_entry *e)
{
	int ncpu = libbpf_num_possible_cpus();
	static struct nosnat_flow6_cache_entry vals[256];

	if (ncpu > 256)
		return -1;
	for (int c = 0; c < ncpu; c++)
		vals[c] = *e;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.nosnat_flow6_cache), &slot, vals, BPF_ANY);
}

/* A busy v6 flow's packets take this CPU's copy of its entry, made during
 * the same jiffy: used within its jiffy (a forged pod in it is followed),
 * never after, never once its VIP's table changed (not current), never
 * once a SYN on its addresses and ports recorded a handshake, never to a
 * pod removed. */
static int v6_flow_cache_rows(int cpu)
{
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct nosnat_flow6_key fk = { .sport = htons(40180), .dport = htons(25),
				       .proto = IPPROTO_TCP };
	struct nosnat_flow6_cache_entry e, now;
	struct nosnat_flow other = { 0 }, f;
	uint8_t in[512];
	struct l4_spec l;
	__u32 slot;
	size_t n;
	int pod, got = 0, tries, found = 0;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "v6 VIP");
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B2, 2525, T_NODE_B), "pod 2");
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	/* the flow: SYN, the ACK that ends the handshake, an established
	 * packet that finds the entry and copies it */
	l = tcp6(40180, 25, TH_SYN);
	n = frame6(in, &ip, &l);
	pod = to_b_pod(in, n, &ip, &l);
	CHECK(pod, "SYN to neither pod");
	l = tcp6(40180, 25, TH_ACK);
	n = frame6(in, &ip, &l);
	CHECK(to_b_pod(in, n, &ip, &l) == pod, "ACK");
	CHECK(to_b_pod(in, n, &ip, &l) == pod, "established");
	CHECK(!flow6_copy(&fk, cpu, &slot, &e), "no copy of the entry on this CPU");
	CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) && !memcmp(&e.flow, &f, sizeof(f)),
	      "the copy is not the entry");
	/* the other pod's entry (a flow of another port Maglev gives it) */
	for (uint16_t p = 40181; p < 40181 + 64 && !found; p++) {
		struct nosnat_flow6_key ok = fk;

		l = tcp6(p, 25, TH_SYN);
		n = frame6(in, &ip, &l);
		if (to_b_pod(in, n, &ip, &l) == 3 - pod) {
			l = tcp6(p, 25, TH_ACK);
			n = frame6(in, &ip, &l);
			CHECK(to_b_pod(in, n, &ip, &l) == 3 - pod, "other pod's ACK");
			ok.sport = htons(p);
			CHECK(!bpf_map_lookup_elem(maps.flows6, &ok, &other), "other pod's entry");
			found = 1;
		}
	}
	CHECK(found && other.backend_id != f.backend_id, "no port went to the other pod");

	/* within its jiffy: the copy is followed (a forged pod in it) */
	l = tcp6(40180, 25, TH_ACK);
	n = frame6(in, &ip, &l);
	for (tries = 0; tries < 50; tries++) {
		CHECK(to_b_pod(in, n, &ip, &l) == pod, "the entry's pod");
		CHECK(!flow6_copy(&fk, cpu, &slot, &e), "copy");
		e.flow.backend_id = other.backend_id;
		e.flow.backend_addr = other.backend_addr;
		CHECK(!flow6_copy_write(slot, &e), "forge");
		got = to_b_pod(in, n, &ip, &l);
		CHECK(!flow6_copy(&fk, cpu, &slot, &now), "copy after");
		if (now.jiffy == e.jiffy)
			break;	/* else the jiffy ended in between: again */
	}
	CHECK(tries < 50, "the jiffy kept ending");
	CHECK(got == 3 - pod, "a copy within its jiffy not followed (pod %d)", got);

	/* made in an earlier jiffy: not followed, made again of the entry */
	e.jiffy -= 1;
	CHECK(!flow6_copy_write(slot, &e), "age");
	CHECK(to_b_pod(in, n, &ip, &l) == pod, "an older jiffy's copy followed");
	CHECK(!flow6_copy(&fk, cpu, &slot, &now) && now.flow.backend_id != other.backend_id,
	      "copy not made again");

	/* not current (its VIP's table changed since): not followed */
	for (tries = 0; tries < 50; tries++) {
		CHECK(!flow6_copy(&fk, cpu, &slot, &e), "copy");
		e.flow.backend_id = other.backend_id;
		e.flow.backend_addr = other.backend_addr;
		e.flow.gen += 2;
		CHECK(!flow6_copy_write(slot, &e), "forge");
		got = to_b_pod(in, n, &ip, &l);
		CHECK(!flow6_copy(&fk, cpu, &slot, &now), "copy after");
		if (now.jiffy == e.jiffy)
			break;
	}
	CHECK(tries < 50, "the jiffy kept ending");
	CHECK(got == pod && now.flow.backend_id != other.backend_id,
	      "a copy of another table's followed (pod %d)", got);

	/* a SYN on its addresses and ports records a handshake: the copy ends */
	CHECK(!flow6_copy(&fk, cpu, &slot, &e), "copy");
	e.flow.backend_id = other.backend_id;
	e.flow.backend_addr = other.backend_addr;
	CHECK(!flow6_copy_write(slot, &e), "forge");
	l = tcp6(40180, 25, TH_SYN);
	l.seq = 70000;
	n = frame6(in, &ip, &l);
	CHECK(to_b_pod(in, n, &ip, &l), "SYN again");
	CHECK(flow6_copy(&fk, cpu, &slot, &now), "a SYN left the copy");

	/* its pod removed: not followed */
	l = tcp6(40180, 25, TH_ACK);
	l.seq = 70001;
	n = frame6(in, &ip, &l);
	CHECK(to_b_pod(in, n, &ip, &l) == pod, "the new connection");
	CHECK(!flow6_copy(&fk, cpu, &slot, &e), "copy");
	e.flow.backend_id = other.backend_id;
	e.flow.backend_addr = other.backend_addr;
	CHECK(!flow6_copy_write(slot, &e), "forge");
	{
		struct vip_key vk;
		__u8 a6[16];

		ip6(3 - pod == 1 ? T6_POD_B : T6_POD_B2, a6);
		CHECK(!parse_vip_spec("[" T6_VIP "]:25/tcp", &vk) &&
		      !op_backend_del_any(&maps, &st, &vk, fold6(a6), a6, htons(2525)),
		      "the other pod removed");
	}
	CHECK(to_b_pod(in, n, &ip, &l) == pod, "a removed pod's copy followed");
	return 0;
}

int t_v6_flow_cache(void)
{
	cpu_set_t one, old;
	int rc;

	CHECK(!sched_getaffinity(0, sizeof(old), &old), "affinity");
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(!sched_setaffinity(0, sizeof(one), &one), "to CPU 0");
	rc = v6_flow_cache_rows(0);
	sched_setaffinity(0, sizeof(old), &old);
	return rc;
}

/* An established v6 flow's entry is found before its VIP is (the walk
 * trusts the VIP reference the entry was recorded under): once the VIP is
 * deleted and its id given to another port of the address, neither the
 * entry, still in the table, nor this CPU's copy of it is followed. The
 * flow's next packet passes untouched, as a stranger's. */
int t_v6_stale_entry(void)
{
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct nosnat_flow6_key fk = { .sport = htons(40190), .dport = htons(25),
				       .proto = IPPROTO_TCP };
	struct vip_key vk;
	struct nosnat_flow f;
	uint8_t in[512];
	struct l4_spec l;
	__u32 old_vip;
	size_t n;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "v6 VIP");
	old_vip = st.vips[0].val.id;
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	l = tcp6(40190, 25, TH_SYN);
	n = frame6(in, &ip, &l);
	CHECK(to_b_pod(in, n, &ip, &l) == 1, "SYN");
	l = tcp6(40190, 25, TH_ACK);
	n = frame6(in, &ip, &l);
	CHECK(to_b_pod(in, n, &ip, &l) == 1, "ACK");
	CHECK(to_b_pod(in, n, &ip, &l) == 1, "established (its copy made)");
	CHECK(to_b_pod(in, n, &ip, &l) == 1, "established (its copy)");
	CHECK(!parse_vip_spec("[" T6_VIP "]:25/tcp", &vk) && !op_vip_del_any(&maps, &st, &vk),
	      "VIP deleted");
	CHECK(!v6_vip(T6_VIP, 587, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "another port");
	CHECK(st.vips[0].val.id == old_vip, "the test needs the VIP id reused (%u, was %u)",
	      st.vips[0].val.id, old_vip);
	CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) &&
	      nosnat_vip_ref_id(f.vip_ref) == old_vip, "the entry left in the table");
	CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE),
	      "a deleted VIP's flow followed");
	return 0;
}

int t_v6_port_reuse_after_change(void)
{
	enum { PORTS = 32 };
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct nosnat_flow6_key fk = { .dport = htons(25), .proto = IPPROTO_TCP };
	int again[PORTS] = { 0 }, to1 = 0, to2 = 0, old = 0, current = 0;
	uint8_t in[512], b[16], b2[16];
	struct nosnat_flow f;
	struct l4_spec l;
	__u32 vip_id, gen;
	size_t n;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "v6 VIP");
	vip_id = v6_vip_id(T6_VIP);
	ip6(T6_POD_B, b);
	ip6(T6_POD_B2, b2);
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	CHECK(!connect6_to_b(40130, PORTS), "connections to pod 1");
	for (uint16_t p = 40130; p < 40130 + PORTS; p++) {
		fk.sport = htons(p);
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) && f.backend_addr == fold6(b) &&
		      (f.flags & NOSNAT_FLOW_MAGLEV), "flow %u established, by Maglev", p);
	}
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B2, 2525, T_NODE_B), "pod 2");
	/* a SYN again on ports until one went to each pod: the old entry
	 * stays (the SYN looked nowhere but among the handshakes) */
	for (int i = 0; i < PORTS && (!to2 || !to1); i++) {
		uint16_t p = (uint16_t)(40130 + i);

		l = tcp6(p, 25, TH_SYN);
		l.seq = 5000;
		n = frame6(in, &ip, &l);
		again[i] = to_b_pod(in, n, &ip, &l);
		CHECK(again[i], "SYN again %u: to neither pod", p);
		fk.sport = htons(p);
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) && f.backend_addr == fold6(b),
		      "SYN again %u: the older connection's entry untouched", p);
		to1 += again[i] == 1;
		to2 += again[i] == 2;
	}
	CHECK(to1 && to2, "of %d reused ports none went to the new pod, or all did", PORTS);
	/* a straggler of an older connection on a port whose new SYN went to
	 * pod 2, far from that SYN's sequence number: still pod 1, the
	 * handshake left for the new connection */
	for (int i = 0; i < PORTS; i++) {
		if (again[i] != 2)
			continue;
		l = tcp6((uint16_t)(40130 + i), 25, TH_ACK);
		l.seq = 90000;
		n = frame6(in, &ip, &l);
		CHECK(to_b_pod(in, n, &ip, &l) == 1, "an old connection's straggler on port %u",
		      40130 + i);
		fk.sport = htons((uint16_t)(40130 + i));
		CHECK(!hs6_get(maps.flow6_new, &fk, &f), "port %u: the new handshake taken",
		      40130 + i);
		break;
	}
	/* every connection's next packets: a new one's to its SYN's pod, the
	 * old entry replaced where that is pod 2; an old one's (no SYN again)
	 * to pod 1, where it was, pod 2 Maglev's pick for some of them now */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < PORTS; i++) {
			uint16_t p = (uint16_t)(40130 + i);
			int want = again[i] ? again[i] : 1;

			l = tcp6(p, 25, TH_ACK);
			l.seq = again[i] ? 5001 + 100 * (uint32_t)round : 90000;
			n = frame6(in, &ip, &l);
			CHECK(to_b_pod(in, n, &ip, &l) == want, "port %u, packet %d: want pod %d",
			      p, round, want);
			fk.sport = htons(p);
			CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) &&
			      f.backend_addr == fold6(want == 2 ? b2 : b),
			      "port %u's entry names pod %d", p, want);
			CHECK(hs6_get(maps.flow6_new, &fk, &f), "port %u: a handshake left", p);
			if (!again[i])
				old += 1;
		}
	}
	CHECK(old, "no old connection left without a SYN again");
	/* an old connection whose pod Maglev still gives is current again:
	 * its entry has the generation in force */
	CHECK(!bpf_map_lookup_elem(maps.vip_gen, &vip_id, &gen) && !(gen & 1), "the VIP's gen");
	for (int i = 0; i < PORTS; i++) {
		if (again[i])
			continue;
		fk.sport = htons((uint16_t)(40130 + i));
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f), "an old entry");
		current += f.gen == gen && (f.flags & NOSNAT_FLOW_MAGLEV);
	}
	CHECK(current, "no old connection was made current again");
	return 0;
}

/* ... and as v4's (t_port_reuse_limited): a SYN above the new-flow budget,
 * recorded nowhere, ends the older connection's entry itself. */
int t_v6_port_reuse_limited(void)
{
	enum { PORTS = 32 };
	__u32 slot = 0;
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct nosnat_flow6_key fk = { .dport = htons(25), .proto = IPPROTO_TCP };
	struct nosnat_flow f;
	uint64_t limited0 = 0;
	int to2 = 0, rc = -1;
	cpu_set_t old;
	uint8_t in[512];
	struct l4_spec l;
	size_t n;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "v6 VIP");
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	CHECK(!connect6_to_b(40170, PORTS), "connections to pod 1");
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B2, 2525, T_NODE_B), "pod 2");
	CHECK(!new_flow_budget_cpu0(1, &old), "budget");
	l = tcp6(40169, 25, TH_SYN);	/* the second's one recorded SYN */
	n = frame6(in, &ip, &l);
	if (!to_b_pod(in, n, &ip, &l))
		goto out;
	/* counted by the hook that finished it (walk_hook: this run's) */
	slot = nosnat_stat_slot(walk_hook(), NOSNAT_ACT_ENCAP, NOSNAT_R_NEW_FLOW_LIMITED);
	limited0 = counter(maps.stats, slot, 0, 2);
	for (uint16_t p = 40170; p < 40170 + PORTS; p++) {
		int pod;

		l = tcp6(p, 25, TH_SYN);
		l.seq = 5000;
		n = frame6(in, &ip, &l);
		pod = to_b_pod(in, n, &ip, &l);
		fk.sport = htons(p);
		if (!pod || !bpf_map_lookup_elem(maps.flows6, &fk, &f) ||
		    !hs6_get(maps.flow6_new, &fk, &f)) {
			fprintf(stderr, "    limited SYN %u: to neither pod, or the older entry or a "
					"handshake left\n", p);
			goto out;
		}
		for (int i = 0; i < 2; i++) {
			l = tcp6(p, 25, TH_ACK);
			l.seq = 5001 + 100 * (uint32_t)i;
			n = frame6(in, &ip, &l);
			if (to_b_pod(in, n, &ip, &l) != pod) {
				fprintf(stderr, "    port %u, packet %d: not to its SYN's pod\n", p, i);
				goto out;
			}
		}
		to2 += pod == 2;
	}
	rc = 0;
out:
	return reuse_limited_done(&old, rc, slot, limited0, PORTS, to2);
}

/* A SYN on a reused client port to a pod here, at the ingress node and on
 * the pod's node (from node B in 6in4): the older connection's entry is
 * ended by the SYN (the new connection's conntrack entry is claimed anew
 * by its next packet), which then records the new one from its
 * handshake. */
int t_v6_reused_port_here(void)
{
	uint16_t tag = tag6(T6_POD_LOCAL, 2525);
	struct nosnat_flow6_key fk = { .dport = htons(25), .proto = IPPROTO_TCP };
	uint8_t in[512], want[512], pod[16];
	struct nosnat_flow f;
	struct ip6_spec ip;
	struct l4_spec l;
	size_t n, wn;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");
	ip6(T6_CLIENT, fk.src);
	ip6(T6_VIP, fk.dst);
	ip6(T6_POD_LOCAL, pod);
	for (int from_b = 0; from_b < 2; from_b++) {
		uint16_t port = (uint16_t)(40180 + from_b);
		__u32 action = from_b ? NOSNAT_ACT_DECAP : NOSNAT_ACT_LOCAL;
		static const uint32_t seqs[2] = { 1000, 5000 };

		fk.sport = htons(port);
		for (int c = 0; c < 2; c++) {	/* the old connection, then the new */
			for (int ack = 0; ack < 2; ack++) {	/* its SYN, then its ACK */
				const char *what = ack ? "ACK" : "SYN", *at = from_b ? "from B" : "here";

				ip = ipv6(T6_CLIENT, T6_VIP);
				l = tcp6(port, 25, ack ? TH_ACK : TH_SYN);
				l.seq = seqs[c] + (uint32_t)ack;
				n = from_b ? frame6in4(in, T_NODE_B, tag, &ip, &l) : frame6(in, &ip, &l);
				wn = frame6_here(want, ip, l);
				CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, action, NOSNAT_R_NONE),
				      "%s: %s of connection %d", at, what, c);
				if (ack) {
					CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f) &&
					      f.syn_ack == htonl(seqs[c] + 1) && f.backend_addr == fold6(pod),
					      "%s: connection %d's entry", at, c);
					continue;
				}
				CHECK(bpf_map_lookup_elem(maps.flows6, &fk, &f),
				      "%s: connection %d's SYN left an entry among the established", at, c);
				CHECK(!hs6_get(maps.flow6_new, &fk, &f) && f.syn_ack == htonl(seqs[c] + 1),
				      "%s: connection %d's handshake", at, c);
			}
		}
	}
	return 0;
}

int t_v6_decap(void)
{
	uint8_t in[512], want[512];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l = tcp6(40120, 25, TH_SYN);
	uint16_t tag = tag6(T6_POD_LOCAL, 2525);
	size_t n, wn;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");

	/* from node B: taken off, to the tagged pod here */
	n = frame6in4(in, T_NODE_B, tag, &ip, &l);
	ip6(T6_POD_LOCAL, ip.daddr);
	l.dport = 2525;
	wn = frame6(want, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_NONE), "from B");

	/* ... and its reply leaves as the VIP */
	{
		struct ip6_spec rip = ipv6(T6_POD_LOCAL, T6_CLIENT);
		struct l4_spec rl = tcp6(2525, 40120, TH_SYN | TH_ACK);

		n = frame6(in, &rip, &rl);
		ip6(T6_VIP, rip.saddr);
		rl.sport = 25;
		rl.opts = syn6_opts_1420;
		wn = frame6(want, &rip, &rl);
		CHECK(!tc_out(in, n, want, wn, NOSNAT_ACT_REPLY_NAT), "reply");
	}

	/* congestion met between the nodes (CE outside) is kept on an
	 * ECN-capable packet (ECT(0) inside): RFC 6040 */
	{
		uint8_t inner[512], outer[600];
		struct ip6_spec e = ipv6(T6_CLIENT, T6_VIP);
		struct l4_spec el = tcp6(40123, 25, TH_ACK);
		size_t in_n, on;

		e.tclass = 0x02;	/* ECT(0) */
		in_n = build_ip6(inner, &e, &el);
		on = build_tun4(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), tag, 0x03, 41, inner, in_n);
		n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer, on);
		e.tclass = 0x03;	/* CE */
		ip6(T6_POD_LOCAL, e.daddr);
		el.dport = 2525;
		wn = frame6(want, &e, &el);
		CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_RECOVERED),
		      "CE kept");
	}

	/* from a stranger: dropped */
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40121, 25, TH_SYN);
	n = frame6in4(in, T_STRANGER, tag, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC),
	      "stranger");

	/* someone's 6in4 around a packet for no VIP: untouched */
	ip = ipv6(T6_CLIENT, T6_OTHER);
	n = frame6in4(in, T_NODE_B, tag, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "not a VIP");

	/* from a node, to the VIP's address but no VIP port: taken off, dropped */
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40122, 26, TH_SYN);
	n = frame6in4(in, T_NODE_B, tag, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP),
	      "no VIP port");
	return 0;
}

int t_v6_headers(void)
{
	uint8_t in[512], want[512];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l = tcp6(40130, 25, TH_SYN);
	size_t n, wn;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");

	/* hop-by-hop and destination options (PadN each): skipped, kept */
	{
		static const uint8_t ext[16] = { 60, 0, 1, 4, 0, 0, 0, 0,
						 IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0 };

		ip.ext = ext;
		ip.ext_len = sizeof(ext);
		ip.first_nh = 0;	/* hop-by-hop */
		n = frame6(in, &ip, &l);
		ip6(T6_POD_LOCAL, ip.daddr);
		l.dport = 2525;
		wn = frame6(want, &ip, &l);
		CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "options");
	}

	/* a fragment header (first fragment) to the VIP: dropped */
	{
		static const uint8_t frag[8] = { IPPROTO_TCP, 0, 0, 1, 0, 0, 0x12, 0x34 };

		ip = ipv6(T6_CLIENT, T6_VIP);
		ip.ext = frag;
		ip.ext_len = sizeof(frag);
		ip.first_nh = 44;
		l = tcp6(40131, 25, TH_SYN);
		n = frame6(in, &ip, &l);
		CHECK(!tc_in(in, n, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT),
		      "fragment");
	}

	/* neighbour solicitation for the VIP's address (MetalLB answers it),
	 * a router advertisement, an echo request to the VIP: untouched */
	{
		uint8_t ns[24] = { 135, 0, 0, 0, 0, 0, 0, 0 };
		uint8_t ra[16] = { 134, 0, 0, 0, 64, 0, 0x07, 0x08 };
		uint8_t echo[12] = { 128, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g' };
		struct l4_spec icmp = { .proto = 58, .payload = ns, .payload_len = sizeof(ns) };

		ip6(T6_VIP, ns + 8);
		ip = ipv6("2001:db8:c::1", T6_VIP);
		ip.hlim = 255;
		n = frame6(in, &ip, &icmp);
		CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "NS");

		ip = ipv6("fe80::1", "ff02::1");
		ip.hlim = 255;
		icmp.payload = ra;
		icmp.payload_len = sizeof(ra);
		n = frame6(in, &ip, &icmp);
		CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "RA");

		ip = ipv6(T6_CLIENT, T6_VIP);
		icmp.payload = echo;
		icmp.payload_len = sizeof(echo);
		n = frame6(in, &ip, &icmp);
		CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "echo");
	}

	/* TCP to an address that is no VIP, and to the VIP's address on
	 * another port: untouched */
	ip = ipv6(T6_CLIENT, T6_OTHER);
	l = tcp6(40132, 25, TH_SYN);
	n = frame6(in, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "not a VIP");
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40132, 80, TH_SYN);
	n = frame6(in, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "another port");

	/* a packet shorter than its header says, to the VIP: dropped */
	l = tcp6(40133, 25, TH_SYN);
	n = frame6(in, &ip, &l);
	CHECK(!tc_in(in, n - 8, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED), "cut");

	/* a SYN from the VIP's own address: refused */
	ip = ipv6(T6_VIP, T6_VIP);
	n = frame6(in, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_SPOOFED), "spoofed");

	/* an address that is no VIP's but shares the VIP's address-filter
	 * bit: its packets cut short, its fragments and its ICMPv6 errors
	 * pass untouched, as its TCP does (only a VIP's are dropped or
	 * walked) */
	{
		static const uint8_t frag[8] = { IPPROTO_TCP, 0, 0, 1, 0, 0, 0x12, 0x35 };
		uint8_t vip[16], twin[16], err[56] = { 1, 4 };	/* port unreachable */
		struct l4_spec icmp = { .proto = 58, .payload = err, .payload_len = sizeof(err) };
		__u32 bit;
		int found = 0;

		ip6(T6_VIP, vip);
		bit = nosnat_addr_filter_bit(nosnat_addr6_fold(vip));
		memcpy(twin, vip, 16);
		for (uint32_t i = 1; i < (1u << 20) && !found; i++) {
			twin[12] = (uint8_t)(i >> 16);
			twin[14] = (uint8_t)(i >> 8);
			twin[15] = (uint8_t)i;
			found = memcmp(twin, vip, 16) &&
				nosnat_addr_filter_bit(nosnat_addr6_fold(twin)) == bit;
		}
		CHECK(found, "no address of 2001:db8::/96 shares the VIP's bit");
		ip = ipv6(T6_CLIENT, T6_VIP);
		memcpy(ip.daddr, twin, 16);
		l = tcp6(40134, 25, TH_SYN);
		n = frame6(in, &ip, &l);
		CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "twin: SYN");
		CHECK(!tc_in(in, n - 8, TC_ACT_OK, in, n - 8, NOSNAT_ACT_PASS, NOSNAT_R_NONE),
		      "twin: cut");
		ip.ext = frag;
		ip.ext_len = sizeof(frag);
		ip.first_nh = 44;
		n = frame6(in, &ip, &l);
		CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE),
		      "twin: fragment");
		ip = ipv6("2001:db8:c::1", T6_VIP);
		memcpy(ip.daddr, twin, 16);
		memcpy(err + 8, in + 14, 48);
		n = frame6(in, &ip, &icmp);
		CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "twin: ICMPv6");
	}
	return 0;
}

/* An ICMPv6 error (type, code, rest) from src to dst quoting the packet q. */
static size_t icmp6_frame(uint8_t *buf, const char *src, const char *dst, uint8_t type,
			  uint8_t code, uint32_t rest, const uint8_t *q, size_t qlen)
{
	static uint8_t msg[1500];
	struct ip6_spec ip = ipv6(src, dst);
	struct l4_spec l = { .proto = 58, .payload = msg, .payload_len = 8 + qlen };

	msg[0] = type;
	msg[1] = code;
	msg[2] = msg[3] = 0;
	msg[4] = rest >> 24;
	msg[5] = rest >> 16;
	msg[6] = rest >> 8;
	msg[7] = rest;
	memcpy(msg + 8, q, qlen);
	return frame6(buf, &ip, &l);
}

/* The quoted packet q with one party changed as nosnat changes it: the
 * address at off (8: source, 24: destination), the port at 40 + port_off;
 * the quoted L4 sum is left as it was. */
static void requote6(uint8_t *q, size_t off, const char *addr, size_t port_off, uint16_t port)
{
	ip6(addr, q + off);
	q[40 + port_off] = port >> 8;
	q[40 + port_off + 1] = port & 0xff;
}

/* A pod's reply as the client got it (VIP:25 -> client:port): what errors
 * quote. */
static size_t quoted6(uint8_t *buf, const char *from, uint16_t from_port, uint16_t client_port)
{
	static uint8_t data[1200];
	struct ip6_spec ip = ipv6(from, T6_CLIENT);
	struct l4_spec l = tcp6(from_port, client_port, TH_ACK);

	l.payload = data;
	l.payload_len = sizeof(data);
	return build_ip6(buf, &ip, &l);
}

int t_v6_icmp(void)
{
	uint8_t in[2048], want[2100], q[1400], qp[1400];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l = tcp6(40140, 25, TH_SYN);
	size_t n, wn, qn;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");
	n = frame6(in, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, NULL, 0, NOSNAT_ACT_LOCAL, NOSNAT_R_NONE), "SYN");

	/* a 1280-byte hop's packet too big about the pod's reply: to the pod,
	 * quoting the reply as the pod sent it (its address and port) */
	qn = quoted6(q, T6_VIP, 25, 40140);
	n = icmp6_frame(in, "2001:db8:f::1", T6_VIP, 2, 0, 1280, q, 1232 - 8 - 40);
	memcpy(qp, q, qn);
	requote6(qp, 8, T6_POD_LOCAL, 0, 2525);
	wn = icmp6_frame(want, "2001:db8:f::1", T6_POD_LOCAL, 2, 0, 1280, qp, 1232 - 8 - 40);
	CHECK(qn > 1232 - 8 - 40, "quote");
	CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_ICMP_ERROR), "PTB");

	/* the pod's own error about the client's packet (port unreachable)
	 * leaves as the VIP's, quoting the packet as the client sent it */
	{
		uint8_t cq[128], cqv[128];
		struct ip6_spec ci = ipv6(T6_CLIENT, T6_POD_LOCAL);
		struct l4_spec cl = tcp6(40140, 2525, TH_ACK);
		size_t cn = build_ip6(cq, &ci, &cl);

		n = icmp6_frame(in, T6_POD_LOCAL, T6_CLIENT, 1, 4, 0, cq, cn);
		memcpy(cqv, cq, cn);
		requote6(cqv, 24, T6_VIP, 2, 25);
		wn = icmp6_frame(want, T6_VIP, T6_CLIENT, 1, 4, 0, cqv, cn);
		CHECK(!tc_out_why(in, n, want, wn, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_ICMP_ERROR),
		      "pod's error");
		/* the same error to someone else: the pod's own business */
		n = icmp6_frame(in, T6_POD_LOCAL, T6_CLIENT2, 1, 4, 0, cq, cn);
		CHECK(!tc_out(in, n, in, n, NOSNAT_ACT_PASS), "pod's error, other client");
	}

	/* about a VIP port nobody serves: untouched (the kernel's) */
	qn = quoted6(q, T6_VIP, 80, 40140);
	n = icmp6_frame(in, "2001:db8:f::1", T6_VIP, 2, 0, 1280, q, 200);
	CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "other port");

	/* a pod on node B: the error follows the flow there, in 6in4 as it came */
	{
		uint8_t outer[2100];
		size_t on;

		CHECK(!v6_vip("2001:db8::27", 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "VIP B");
		qn = quoted6(q, "2001:db8::27", 25, 40141);
		n = icmp6_frame(in, "2001:db8:f::1", "2001:db8::27", 2, 0, 1280, q, 300);
		on = build_tun4(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), tag6(T6_POD_B, 2525), 0, 41,
				in + 14, n - 14);
		wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer, on);
		CHECK(!tc_in(in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_ICMP_ERROR),
		      "to B");
	}

	/* ... and node B, given it in 6in4, makes it its pod's (here: a pod
	 * of this node, the error from node B with the pod's tag) */
	{
		uint8_t inner[1400], outer[1500];
		size_t in_n;

		qn = quoted6(q, T6_VIP, 25, 40142);
		in_n = icmp6_frame(inner, "2001:db8:f::1", T6_VIP, 2, 0, 1280, q, 300) - 14;
		n = build_eth(in, MAC_SELF, MAC_ROUTER, 0, 0x0800, outer,
			      build_tun4(outer, ip4(T_NODE_B), ip4(T_NODE_SELF),
					 tag6(T6_POD_LOCAL, 2525), 0, 41, inner + 14, in_n));
		memcpy(qp, q, qn);
		requote6(qp, 8, T6_POD_LOCAL, 0, 2525);
		wn = icmp6_frame(want, "2001:db8:f::1", T6_POD_LOCAL, 2, 0, 1280, qp, 300);
		CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_ICMP_ERROR),
		      "from B");
	}
	return 0;
}

/* verify: two v6 VIP ports of one pod port whose conntrack marks (of the
 * VIP address's fold) coincide under the mask: a reply proven by its mark
 * could not say which VIP it belongs to. */
int t_v6_verify_mark_collision(void)
{
	struct nosnat_cfg cfg;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	__u32 zero = 0;
	int problems;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");
	CHECK(!v6_vip(T6_VIP, 587, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "second port");
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
	CHECK(problems == 1 &&
	      strstr(buf, "pod [2001:db8:18:1::2]:2525: VIP ports 587 and 25 share a conntrack mark under mask 0x100"),
	      "%d problems: %s", problems, buf);
	free(buf);
	return 0;
}

/* nosnat_flow6_new's sets, as v4's (t_handshake_sets): five SYNs whose v6
 * keys share a set of four ways leave the first one's entry to the fifth;
 * the next packet of a flow moves its entry to nosnat_flows6 and frees its
 * way; a way whose check does not match (torn by two writers) reads as
 * empty. */
int t_v6_handshake_sets(void)
{
	enum { WAYS = NOSNAT_HS_WAYS, N = NOSNAT_HS_WAYS + 1 };
	struct nosnat_flow6_key keys[N], k = { .dport = htons(25), .proto = IPPROTO_TCP };
	struct ip6_spec ip;
	struct l4_spec l;
	struct nosnat_hs6_set set;
	struct nosnat_flow f;
	uint8_t in[512], pod[16];
	__u32 target = 0;
	int found = 0;
	size_t n;
	struct run r;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");
	ip6(T6_POD_LOCAL, pod);
	ip6("2001:db8:f200::", k.src);
	ip6(T6_VIP, k.dst);
	for (uint32_t c = 1; c < 65536 && found < N; c++) {
		k.src[14] = (uint8_t)(c >> 8);
		k.src[15] = (uint8_t)c;
		k.sport = htons((uint16_t)(40000 + (c & 0xff)));
		if (!found)
			target = nosnat_hs6_set_of(&k);
		if (nosnat_hs6_set_of(&k) == target)
			keys[found++] = k;
	}
	CHECK(found == N, "only %d keys for one set", found);
	for (int i = 0; i < N; i++) {
		ip = ipv6("2001:db8:f200::", T6_VIP);
		memcpy(ip.saddr, keys[i].src, 16);
		l = tcp6(ntohs(keys[i].sport), 25, TH_SYN);
		n = frame6(in, &ip, &l);
		CHECK(!run6(in, n, &r), "SYN %d", i);
		CHECK(!hs6_get(maps.flow6_new, &keys[i], &f) && f.backend_addr == fold6(pod),
		      "SYN %d's handshake recorded", i);
	}
	CHECK(hs6_get(maps.flow6_new, &keys[0], &f), "the oldest handshake of the full set stayed");
	for (int i = 1; i < N; i++)
		CHECK(!hs6_get(maps.flow6_new, &keys[i], &f), "handshake %d evicted early", i);
	CHECK(hs6_count(maps.flow6_new) == WAYS, "%ld handshakes, want %d",
	      hs6_count(maps.flow6_new), WAYS);

	/* the client's next packet: the entry moves, its way is free */
	ip = ipv6("2001:db8:f200::", T6_VIP);
	memcpy(ip.saddr, keys[2].src, 16);
	l = tcp6(ntohs(keys[2].sport), 25, TH_ACK);
	n = frame6(in, &ip, &l);
	CHECK(!run6(in, n, &r), "ACK");
	CHECK(!bpf_map_lookup_elem(maps.flows6, &keys[2], &f) && f.backend_addr == fold6(pod) &&
	      hs6_get(maps.flow6_new, &keys[2], &f), "the ACK's handshake moved to the established");
	CHECK(hs6_count(maps.flow6_new) == WAYS - 1, "%ld handshakes after the move",
	      hs6_count(maps.flow6_new));

	/* a torn way: as if another CPU wrote half of it */
	CHECK(!bpf_map_lookup_elem(maps.flow6_new, &target, &set), "read the set");
	for (int w = 0; w < WAYS; w++)
		if (!memcmp(&set.key[w], &keys[1], sizeof(keys[1])))
			set.flow[w].backend_id ^= 1;
	CHECK(!bpf_map_update_elem(maps.flow6_new, &target, &set, BPF_ANY), "tear a way");
	CHECK(hs6_get(maps.flow6_new, &keys[1], &f), "a torn way read as a handshake");
	CHECK(hs6_count(maps.flow6_new) == WAYS - 2, "%ld handshakes with one torn",
	      hs6_count(maps.flow6_new));
	/* and by the dataplane: the torn flow's ACK is recovered as a lost
	 * handshake's, to the same pod, and recorded among the established */
	ip = ipv6("2001:db8:f200::", T6_VIP);
	memcpy(ip.saddr, keys[1].src, 16);
	l = tcp6(ntohs(keys[1].sport), 25, TH_ACK);
	n = frame6(in, &ip, &l);
	stats_snap();
	CHECK(!run6(in, n, &r), "the torn flow's ACK");
	CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_LOCAL, NOSNAT_R_RECOVERED),
	      "the torn flow's ACK recovered");
	CHECK(!bpf_map_lookup_elem(maps.flows6, &keys[1], &f) && f.backend_addr == fold6(pod),
	      "the torn flow recorded again");
	return 0;
}

/* A v6 SYN flood, more SYNs than the handshake table holds: it churns that
 * table alone; the established flows stay (their pod, their replies). */
int t_v6_syn_flood(void)
{
	uint8_t in[512];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	struct l4_spec l = tcp6(40150, 25, TH_SYN);
	uint64_t established;
	size_t n;
	struct run r;

	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "v6 VIP");
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "second pod");
	/* 8 established flows */
	for (uint16_t p = 0; p < 8; p++) {
		l = tcp6(40150 + p, 25, TH_SYN);
		n = frame6(in, &ip, &l);
		CHECK(!run6(in, n, &r), "SYN");
		l = tcp6(40150 + p, 25, TH_ACK);
		n = frame6(in, &ip, &l);
		CHECK(!run6(in, n, &r), "ACK");
	}
	established = count_entries_of(maps.flows6);
	CHECK(established == 8, "%llu established", (unsigned long long)established);
	/* the flood: every SYN from another address and port (through XDP's
	 * walk first in the XDP modes: it records those to pod B itself) */
	ip = ipv6("2001:db8:f100::", T6_VIP);
	stats_snap();
	for (uint32_t i = 0; i < NOSNAT_NEW_FLOW6_ENTRIES + NOSNAT_NEW_FLOW6_ENTRIES / 4; i++) {
		ip.saddr[13] = (uint8_t)(i >> 16);
		ip.saddr[14] = (uint8_t)(i >> 8);
		ip.saddr[15] = (uint8_t)i;
		l = tcp6((uint16_t)(1024 + (i & 0x7fff)), 25, TH_SYN);
		n = frame6(in, &ip, &l);
		CHECK(!run6(in, n, &r), "flood SYN %u", i);
	}
	if (test_mode != MODE_TC && skel->rodata->nosnat_xdp6_tail) {	/* those to pod B, XDP sent */
		__u32 at_xdp = nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE);
		__u32 limited = nosnat_stat_slot(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP,
						 NOSNAT_R_NEW_FLOW_LIMITED);
		uint64_t sent = counter(maps.stats, at_xdp, 0, 2) - stats_now[at_xdp] +
				counter(maps.stats, limited, 0, 2) - stats_now[limited];

		CHECK(sent > 4096, "XDP sent %llu flood SYNs to pod B", (unsigned long long)sent);
	}
	CHECK(count_entries_of(maps.flows6) == established, "the flood reached the established flows");
	/* the sets take the flood (each SYN a free way, else its set's oldest) */
	CHECK(hs6_count(maps.flow6_new) > NOSNAT_NEW_FLOW6_ENTRIES / 2, "%ld handshakes kept",
	      hs6_count(maps.flow6_new));
	printf("  info  %u flood SYNs: %llu handshakes kept (%u), %llu established\n",
	       NOSNAT_NEW_FLOW6_ENTRIES + NOSNAT_NEW_FLOW6_ENTRIES / 4,
	       (unsigned long long)hs6_count(maps.flow6_new), NOSNAT_NEW_FLOW6_ENTRIES,
	       (unsigned long long)established);
	/* each established flow still goes to its pod, exactly as before */
	ip = ipv6(T6_CLIENT, T6_VIP);
	for (uint16_t p = 0; p < 8; p++) {
		struct nosnat_flow6_key fk = { .sport = htons(40150 + p), .dport = htons(25),
					       .proto = IPPROTO_TCP };
		struct nosnat_flow f;

		ip6(T6_CLIENT, fk.src);
		ip6(T6_VIP, fk.dst);
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f), "flow %u", p);
		l = tcp6(40150 + p, 25, TH_ACK);
		n = frame6(in, &ip, &l);
		stats_snap();
		CHECK(!run6(in, n, &r), "ACK");
		{
			struct nosnat_backend be;

			CHECK(!bpf_map_lookup_elem(maps.backends, &f.backend_id, &be), "slot");
			CHECK(stats_moved(NOSNAT_HOOK_XDP,
					  be.node == ip4(T_NODE_SELF) ? NOSNAT_ACT_LOCAL : NOSNAT_ACT_ENCAP,
					  NOSNAT_R_NONE), "flow %u's pod", p);
		}
	}
	return 0;
}

/* A pod added here after flows to pod B began, and this node's table lost
 * them (the VIP moved here): Maglev now gives some of them the pod here,
 * which has no conntrack entry of them; they go once to the previous
 * table's pod, in 6in4 with the second chance's bit, and are recorded so.
 * The others go to B as they always did. */
int t_v6_second_chance(void)
{
	uint8_t in[512], want[512];
	struct ip6_spec ip = ipv6(T6_CLIENT, T6_VIP);
	int seconds = 0, plain = 0;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "v6 VIP on B");
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "a pod here");
	for (uint16_t port = 41000; port < 41064; port++) {
		struct l4_spec l = tcp6(port, 25, TH_ACK);
		struct nosnat_flow6_key fk = { .sport = htons(port), .dport = htons(25),
					       .proto = IPPROTO_TCP };
		struct nosnat_flow f;
		struct run r;
		size_t n = frame6(in, &ip, &l), wn;
		uint64_t sc = counter(bpf_map__fd(skel->maps.nosnat_flow_ev), NOSNAT_R_SECOND_CHANCE, 0, 1);

		wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &l);
		stats_snap();
		CHECK(!run_tc_walk(in, n, dummy_ifindex, &r), "test run");
		CHECK(r.tc_ret == TC_ACT_REDIRECT, "port %u: verdict %d (the pod here has no such "
		      "connection)", port, r.tc_ret);
		ip6(T6_CLIENT, fk.src);
		ip6(T6_VIP, fk.dst);
		CHECK(!bpf_map_lookup_elem(maps.flows6, &fk, &f), "port %u: recorded", port);
		/* which way it went, read without stats_moved's complaint */
		if (counter(maps.stats, nosnat_stat_slot(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP,
							 NOSNAT_R_RECOVERED), 0, 2) !=
		    stats_now[nosnat_stat_slot(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP,
					       NOSNAT_R_RECOVERED)]) {
			CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP, NOSNAT_R_RECOVERED),
			      "port %u: counted once", port);
			CHECK_BYTES(&r, want, wn);
			plain++;
			continue;
		}
		/* its second chance: to B, the bit set, once, and recorded */
		wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF,
			      tag6(T6_POD_B, 2525) | NOSNAT_ID_SECOND_CHANCE, &ip, &l);
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP, NOSNAT_R_SECOND_CHANCE),
		      "port %u: counted", port);
		CHECK(counter(bpf_map__fd(skel->maps.nosnat_flow_ev), NOSNAT_R_SECOND_CHANCE, 0, 1) ==
		      sc + 1, "flow event");
		seconds++;
		/* the flow's next packet goes to B on its entry, no bit */
		wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &l);
		stats_snap();
		CHECK(!run_tc_walk(in, n, dummy_ifindex, &r), "test run");
		CHECK_BYTES(&r, want, wn);
		CHECK(stats_moved(NOSNAT_HOOK_TC_INGRESS, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "next");
	}
	CHECK(seconds > 0 && plain > 0, "%d second chances, %d to B by the table (64 ports: "
	      "both kinds expected)", seconds, plain);
	printf("  info  64 flows without entries: %d second chances, %d to B by the table\n", seconds,
	       plain);
	return 0;
}

/* --- an IPv6 node network: ip6ip6 between nodes ---------------------------- */

/* This node's v6 address in cfg, and nodes B and C known by theirs (the
 * loader's ops). */
int node6_setup(void)
{
	struct nosnat_cfg cfg;
	__u8 n[16];
	__u32 zero = 0;

	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	ip6(T6_NODE_SELF, cfg.node_ip6);
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY) && !state_read(&maps, &st), "cfg");
	ip6(T6_NODE_B, n);
	CHECK(!op_node6_add(&maps, &st, n), "node B by v6");
	ip6(T6_NODE_C, n);
	CHECK(!op_node6_add(&maps, &st, n), "node C by v6");
	return 0;
}

/* The v6 VIP vip:port/proto with one pod pod:port on the node known by
 * v6 address node6 (the loader's ops). */
int v6_vip_on6(const char *vip, uint16_t port, const char *pod, uint16_t pod_port,
	       const char *node6)
{
	char spec[96];
	struct vip_key k;
	__u8 a6[16], n6[16];
	int rc;

	snprintf(spec, sizeof(spec), "[%s]:%u/tcp", vip, port);
	CHECK(!parse_vip_spec(spec, &k), "VIP spec %s", spec);
	ip6(pod, a6);
	ip6(node6, n6);
	rc = op_vip_add_any(&maps, &st, &k);
	CHECK(!rc || rc == -EEXIST, "vip add %s: %d", spec, rc);
	CHECK(!op_backend_add_on(&maps, &st, &k, fold6(a6), a6, htons(pod_port), 0, n6, 1),
	      "backend add %s on %s", pod, node6);
	return 0;
}

/* What this node sends a v6 node: ip6ip6, the tag in the flow label. */
static size_t to_node6in6(uint8_t *buf, const char *node6, const uint8_t *dmac, uint16_t tag,
			  const struct ip6_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2100];
	size_t in_n = build_ip6(inner, ip, l);
	struct ip6_spec o = { .hlim = 64, .tclass = ip->tclass, .first_nh = 41 };
	struct l4_spec pl = { .proto = 41, .payload = inner, .payload_len = in_n };
	size_t on;

	ip6(T6_NODE_SELF, o.saddr);
	ip6(node6, o.daddr);
	on = build_ip6(outer, &o, &pl);
	outer[2] = tag >> 8;	/* the flow label's low 16 bits */
	outer[3] = tag & 0xff;
	return build_eth(buf, dmac, MAC_SELF, 0, 0x86dd, outer, on);
}

/* ... and what a v6 node sends this one. */
static size_t from_node6in6(uint8_t *buf, const char *node6, uint16_t tag,
			    const struct ip6_spec *ip, const struct l4_spec *l)
{
	uint8_t inner[2048], outer[2100];
	size_t in_n = build_ip6(inner, ip, l);
	struct ip6_spec o = { .hlim = 64 };
	struct l4_spec pl = { .proto = 41, .payload = inner, .payload_len = in_n };
	size_t on;

	ip6(node6, o.saddr);
	ip6(T6_NODE_SELF, o.daddr);
	on = build_ip6(outer, &o, &pl);
	outer[2] = tag >> 8;
	outer[3] = tag & 0xff;
	return build_eth(buf, MAC_SELF, MAC_B, 0, 0x86dd, outer, on);
}

static int node6_rows(void)
{
	static uint8_t syn6_opts_1400[20] = { 2, 4, 0x05, 0x78, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					      1, 3, 3, 7 };
	uint8_t in[2048], want[2100];
	struct ip6_spec ip = ipv6(T6_CLIENT, "2001:db8::26");
	struct l4_spec l = tcp6(40160, 25, TH_SYN), w;
	size_t n, wn;

	CHECK(!node6_setup(), "v6 nodes");
	CHECK(!v6_vip_on6("2001:db8::26", 25, T6_POD_B, 2525, T6_NODE_B), "VIP, pod B by v6 node");

	/* the SYN: ip6ip6 to B, the tag in the flow label, MSS for 40 bytes */
	ip.tclass = 0x28;
	n = frame6(in, &ip, &l);
	w = l;
	w.opts = syn6_opts_1400;
	wn = to_node6in6(want, T6_NODE_B, MAC_B, tag6(T6_POD_B, 2525), &ip, &w);
	CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE),
	      "SYN");
	/* the ACK ends the handshake; the next is established: XDP sends
	 * each in ip6ip6 itself, the same bytes */
	for (int i = 0; i < 2; i++) {
		l = tcp6(40160, 25, i ? TH_ACK | TH_PSH : TH_ACK);
		l.payload = i ? (const uint8_t *)"QUIT\r\n" : NULL;
		l.payload_len = i ? 6 : 0;
		n = frame6(in, &ip, &l);
		wn = to_node6in6(want, T6_NODE_B, MAC_B, tag6(T6_POD_B, 2525), &ip, &l);
		CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP,
				NOSNAT_R_NONE), "ACK %d", i);
	}
	l = tcp6(40160, 25, TH_ACK);

	/* too big for 40 bytes more: packet too big, MTU 1460 */
	CHECK(!too_big6(&ip, l, "2001:db8::26", 1500 - 40 - 20 - 20, 1460), "too big");

	/* a pod here known by this node's v6 address: what B sends it in
	 * ip6ip6 is taken off and DNATed; its SYN-ACK clamped for 40 bytes */
	CHECK(!v6_vip_on6(T6_VIP, 25, T6_POD_LOCAL, 2525, T6_NODE_SELF), "VIP, pod here by v6");
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40161, 25, TH_SYN);
	n = from_node6in6(in, T6_NODE_B, tag6(T6_POD_LOCAL, 2525), &ip, &l);
	ip6(T6_POD_LOCAL, ip.daddr);
	l.dport = 2525;
	wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x86dd, want + 1024, build_ip6(want + 1024, &ip, &l));
	CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_NONE), "from B");
	{
		struct ip6_spec rip = ipv6(T6_POD_LOCAL, T6_CLIENT);
		struct l4_spec rl = tcp6(2525, 40161, TH_SYN | TH_ACK);

		n = frame6(in, &rip, &rl);
		ip6(T6_VIP, rip.saddr);
		rl.sport = 25;
		rl.opts = syn6_opts_1400;
		wn = frame6(want, &rip, &rl);
		CHECK(!tc_out(in, n, want, wn, NOSNAT_ACT_REPLY_NAT), "SYN-ACK");
	}

	/* CE on the outer header kept on an ECN-capable inner packet */
	ip = ipv6(T6_CLIENT, T6_VIP);
	ip.tclass = 0x01;	/* ECT(1) */
	l = tcp6(40163, 25, TH_ACK);
	n = from_node6in6(in, T6_NODE_B, tag6(T6_POD_LOCAL, 2525), &ip, &l);
	in[14 + 1] |= 0x30;	/* the outer traffic class: CE */
	ip.tclass = 0x03;
	ip6(T6_POD_LOCAL, ip.daddr);
	l.dport = 2525;
	wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x86dd, want + 1024, build_ip6(want + 1024, &ip, &l));
	CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_RECOVERED), "CE kept");

	/* from a v6 address that is no node: dropped; around a packet for no
	 * VIP: untouched (someone else's tunnel) */
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40162, 25, TH_SYN);
	n = from_node6in6(in, "2001:db8:100::66", tag6(T6_POD_LOCAL, 2525), &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC),
	      "stranger");
	ip = ipv6(T6_CLIENT, T6_OTHER);
	n = from_node6in6(in, T6_NODE_B, 0, &ip, &l);
	CHECK(!tc_in(in, n, TC_ACT_OK, in, n, NOSNAT_ACT_PASS, NOSNAT_R_NONE), "not a VIP");
	return 0;
}

int t_v6_node6(void)
{
	return node6_rows();
}

/* This CPU's cached way to v6 node node6 (the newest tick of any CPU's). */
static int nexthop6_read(const char *node6, struct nosnat_nexthop6 *out)
{
	int ncpu = libbpf_num_possible_cpus(), found = -1;
	struct nosnat_nexthop6 vals[256];
	__u32 a[4], slot;

	ip6(node6, (uint8_t *)a);
	slot = nosnat_nexthop6_slot(a);
	if (ncpu > 256 || bpf_map_lookup_elem(bpf_map__fd(skel->maps.nosnat_nexthop6), &slot, vals))
		return -1;
	for (int c = 0; c < ncpu; c++)
		if (!memcmp(vals[c].node, a, 16) && (found < 0 || (int)(vals[c].tick - out->tick) > 0)) {
			*out = vals[c];
			found = 0;
		}
	return found;
}

/* nh written for every CPU in the slot of the address in nh (or of
 * slot_of, when it is another address's slot). */
static int nexthop6_write(const struct nosnat_nexthop6 *nh, const __u32 *slot_of)
{
	int ncpu = libbpf_num_possible_cpus();
	struct nosnat_nexthop6 vals[256];
	__u32 slot = nosnat_nexthop6_slot(slot_of ? slot_of : nh->node);

	if (ncpu > 256)
		return -1;
	for (int c = 0; c < ncpu; c++)
		vals[c] = *nh;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.nosnat_nexthop6), &slot, vals, BPF_ANY);
}

/* One packet of the flow in, through the walk that sends it; its frame. */
static int node6_send(const uint8_t *in, size_t n, struct run *r)
{
	if (test_mode == MODE_TC || !skel->rodata->nosnat_xdp6_tail)
		return run_tc_walk(in, n, dummy_ifindex, r) || r->tc_ret != TC_ACT_REDIRECT ? -1 : 0;
	return run_xdp(in, n, dummy_ifindex, r) || !verdict_is(r, XDP_TX) ? -1 : 0;
}

/* The way to a v6 node is looked up once per tick and CPU, as a v4 node's:
 * a cached answer is used within its tick and for its own address and
 * incoming interface only, never after. */
int t_v6_nexthop_cache(void)
{
	static const uint8_t forged[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint8_t in[256];
	struct ip6_spec ip = ipv6(T6_CLIENT, "2001:db8::26");
	struct l4_spec l = tcp6(40170, 25, TH_SYN);
	struct nosnat_nexthop6 nh, now, other;
	struct run r;
	size_t n;
	int tries;

	CHECK(!node6_setup(), "v6 nodes");
	CHECK(!v6_vip_on6("2001:db8::26", 25, T6_POD_B, 2525, T6_NODE_B), "VIP, pod B by v6 node");
	n = frame6(in, &ip, &l);
	CHECK(!node6_send(in, n, &r), "SYN");
	l = tcp6(40170, 25, TH_ACK);
	n = frame6(in, &ip, &l);
	CHECK(!node6_send(in, n, &r) && !memcmp(r.pkt, MAC_B, 6), "first packet");
	CHECK(!nexthop6_read(T6_NODE_B, &nh), "no cache entry");
	CHECK(!memcmp(nh.dmac, MAC_B, 6) && !memcmp(nh.smac, MAC_SELF, 6) &&
	      nh.out_ifindex == (__u32)dummy_ifindex && nh.in_ifindex == (__u32)dummy_ifindex,
	      "cache entry content");

	/* within the tick: the cached MACs are used (shown by forging one) */
	for (tries = 0; tries < 5; tries++) {
		CHECK(!nexthop6_read(T6_NODE_B, &nh), "entry");
		memcpy(nh.dmac, forged, 6);
		CHECK(!nexthop6_write(&nh, NULL), "forge");
		CHECK(!node6_send(in, n, &r), "cached");
		CHECK(!nexthop6_read(T6_NODE_B, &now), "entry");
		if (now.tick == nh.tick)
			break;	/* else the tick ended in between: try again */
	}
	CHECK(tries < 5, "the tick kept ending");
	CHECK(!memcmp(r.pkt, forged, 6), "cached next hop not used within its tick");

	/* another address in the slot, another incoming interface, an
	 * earlier tick: each looked up again */
	other = nh;
	other.node[3] ^= htonl(1);
	CHECK(!nexthop6_write(&other, nh.node), "another address");
	CHECK(!node6_send(in, n, &r) && !memcmp(r.pkt, MAC_B, 6), "another address's way used");
	nh.in_ifindex += 1000;
	CHECK(!nexthop6_write(&nh, NULL), "another interface");
	CHECK(!node6_send(in, n, &r) && !memcmp(r.pkt, MAC_B, 6), "another interface's way used");
	nh.in_ifindex -= 1000;
	nh.tick -= 1;
	CHECK(!nexthop6_write(&nh, NULL), "age");
	CHECK(!node6_send(in, n, &r) && !memcmp(r.pkt, MAC_B, 6), "stale next hop used");
	CHECK(!nexthop6_read(T6_NODE_B, &now) && !memcmp(now.dmac, MAC_B, 6) &&
	      now.tick != nh.tick, "entry not refreshed");
	return 0;
}

/* --- GUE carrying v6 ---------------------------------------------------- */

/* GUE's source port for a v6 flow: the hash of the address folds. */
static uint16_t gue6_sport(const struct ip6_spec *ip, const struct l4_spec *l)
{
	uint8_t ports[4] = { l->sport >> 8, l->sport & 0xff, l->dport >> 8, l->dport & 0xff };
	uint32_t p, h;

	memcpy(&p, ports, 4);
	h = hash_3words(fold6(ip->saddr), fold6(ip->daddr), p ^ l->proto);
	return (uint16_t)(0xc000 | ((h ^ (h >> 16)) & 0x3fff));
}

static int gue6_rows(void)
{
	static uint8_t syn6_opts_1412[20] = { 2, 4, 0x05, 0x84, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					      1, 3, 3, 7 };
	uint8_t in[1024], want[1200], inner[1024], outer[1100];
	struct ip6_spec ip = ipv6(T6_CLIENT, "2001:db8::26");
	struct l4_spec l = tcp6(40170, 25, TH_SYN), w;
	size_t n, wn, in_n;

	CHECK(!v6_vip("2001:db8::26", 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B), "VIP, pod B");
	/* a SYN: IPv4 + UDP to the GUE port, the IPv6 packet right after;
	 * MSS 1500 - 28 - 40 - 20 */
	n = frame6(in, &ip, &l);
	w = l;
	w.opts = syn6_opts_1412;
	in_n = build_ip6(inner, &ip, &w);
	wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer,
		       build_gue(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), tag6(T6_POD_B, 2525),
				 gue6_sport(&ip, &l), NOSNAT_DEFAULT_GUE_PORT, inner, in_n));
	CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_GUE),
	      "SYN");
	/* the ACK ends the handshake; the next is established: XDP sends
	 * each in GUE itself, the same bytes */
	for (int i = 0; i < 2; i++) {
		l = tcp6(40170, 25, i ? TH_ACK | TH_PSH : TH_ACK);
		l.payload = i ? (const uint8_t *)"QUIT\r\n" : NULL;
		l.payload_len = i ? 6 : 0;
		n = frame6(in, &ip, &l);
		in_n = build_ip6(inner, &ip, &l);
		wn = build_eth(want, MAC_B, MAC_SELF, 0, 0x0800, outer,
			       build_gue(outer, ip4(T_NODE_SELF), ip4(T_NODE_B), tag6(T6_POD_B, 2525),
					 gue6_sport(&ip, &l), NOSNAT_DEFAULT_GUE_PORT, inner, in_n));
		CHECK(!tc_in_at(1, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP,
				NOSNAT_R_GUE), "established %d", i);
	}

	/* GUE with IPv6 inside, from node B: taken off, DNAT to the pod here */
	CHECK(!v6_vip(T6_VIP, 25, IPPROTO_TCP, T6_POD_LOCAL, 2525, T_NODE_SELF), "VIP, pod here");
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40171, 25, TH_SYN);
	in_n = build_ip6(inner, &ip, &l);
	n = build_eth(in, MAC_SELF, MAC_B, 0, 0x0800, outer,
		      build_gue(outer, ip4(T_NODE_B), ip4(T_NODE_SELF), tag6(T6_POD_LOCAL, 2525),
				0xc123, NOSNAT_DEFAULT_GUE_PORT, inner, in_n));
	ip6(T6_POD_LOCAL, ip.daddr);
	l.dport = 2525;
	wn = build_eth(want, MAC_SELF, MAC_B, 0, 0x86dd, inner, build_ip6(inner, &ip, &l));
	CHECK(!tc_in(in, n, TC_ACT_OK, want, wn, NOSNAT_ACT_DECAP, NOSNAT_R_GUE), "from B");
	/* ... from a stranger: dropped */
	ip = ipv6(T6_CLIENT, T6_VIP);
	l = tcp6(40172, 25, TH_SYN);
	in_n = build_ip6(inner, &ip, &l);
	n = build_eth(in, MAC_SELF, MAC_B, 0, 0x0800, outer,
		      build_gue(outer, ip4(T_STRANGER), ip4(T_NODE_SELF), tag6(T6_POD_LOCAL, 2525),
				0xc123, NOSNAT_DEFAULT_GUE_PORT, inner, in_n));
	CHECK(!tc_in(in, n, TC_ACT_SHOT, NULL, 0, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC),
	      "stranger");
	return 0;
}

int t_v6_gue(void)
{
	int rc;

	if (reload_encap(1))
		FAIL("cannot load the object for GUE");
	rc = gue6_rows();
	if (reload_encap(0))
		FAIL("cannot load the object back for IPIP");
	return rc;
}

/* A kernel that refuses a tail call beside bpf-to-bpf calls (the probe
 * says so; some JITs before x86-64's): XDP loads without its v6 walk and
 * passes every v6 packet on, untouched and uncounted, and tc ingress does
 * the whole walk, the same bytes out. */
int t_v6_without_xdp_tail_call(void)
{
	uint8_t in[512], want[600];
	struct ip6_spec ip = ipv6(T6_CLIENT, "2001:db8::26");
	struct l4_spec l;
	size_t n, wn;
	int rc = 0;

	test_no_xdp6_tail = 1;
	if (reload_encap(0)) {
		test_no_xdp6_tail = 0;
		FAIL("cannot load the object without XDP's v6 tail call");
	}
	if (skel->rodata->nosnat_xdp6_tail)
		rc = -1;
	else if (v6_vip("2001:db8::26", 25, IPPROTO_TCP, T6_POD_B, 2525, T_NODE_B))
		rc = -1;
	for (int i = 0; !rc && i < 3; i++) {	/* SYN, ACK, established */
		struct l4_spec w;

		l = tcp6(40180, 25, i ? TH_ACK : TH_SYN);
		w = l;
		if (!i)
			w.opts = syn6_opts_1420;
		n = frame6(in, &ip, &l);
		wn = to_node6(want, T_NODE_B, MAC_B, MAC_SELF, tag6(T6_POD_B, 2525), &ip, &w);
		rc = tc_in_at(0, in, n, TC_ACT_REDIRECT, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE);
	}
	test_no_xdp6_tail = 0;
	if (reload_encap(0))
		FAIL("cannot load the object back");
	CHECK(!rc, "v6 with XDP's v6 walk pruned");
	return 0;
}
