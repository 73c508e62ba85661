// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Flows: spoofed sources, floods, draining, replies following the flow,
 * the pod directory, caches, VIP ids, the address filter, next hops. */
#include "harness.h"

/* A SYN flood from random sources against a table of NOSNAT_FLOW_ENTRIES:
 * measure what LRU eviction does to an active and to an idle flow. */
int t_syn_flood(void)
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
	handshakes = (uint64_t)hs_count(maps.flows_new);
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
int t_syn_skips_draining(void)
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
	/* ... and the rest of the new connection follows its SYN, not the
	 * old entry back to the draining pod */
	ip = ipv4(T_CLIENT, T_VIP);
	for (int i = 0; i < 2; i++) {
		l = tcp(40072, 25, TH_ACK);
		l.seq = 1001 + 100 * (uint32_t)i;
		n = frame(in, &ip, &l, 0);
		ip.daddr = ip4(T_POD_LOCAL2);
		l.dport = 2525;
		wn = frame(want, &ip, &l, 0);
		ip.daddr = ip4(T_VIP);
		CHECK(!expect_local(in, n, want, wn), "the new connection's packet %d", i);
	}
	return 0;
}

/* A client reuses a port of an established flow after the VIP's table
 * changed (a pod added), its pods on another node: the SYN does not look at
 * the old entry. Its pick is Maglev's; the first packet after it promotes
 * the handshake over the old entry, and every later packet goes to the
 * SYN's pod. A flow without a new SYN stays where it was. (A pod here: a
 * SYN takes the older connection's entry, t_flow_cache.) */
#define T_POD_B2 "198.18.2.3"

static __u16 outer_tag(const struct run *r)
{
	return (__u16)(ntohs(*(const __be16 *)(r->pkt + 14 + 4)) & NOSNAT_ID_TAG_MASK);
}

/* count connections from the client on ports first, ... to the VIP, its
 * pods on node B: SYN and ACK, each sent by XDP_TX (or tc's redirect). */
static int connect_to_b(uint16_t first, int count)
{
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	uint8_t in[256];
	struct l4_spec l;
	struct run r;
	size_t n;

	for (uint16_t p = first; p < first + count; p++) {
		l = tcp(p, 25, TH_SYN);
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "SYN %u", p);
		l = tcp(p, 25, TH_ACK);
		l.seq = 1001;
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "ACK %u", p);
	}
	return 0;
}

int t_port_reuse_after_change(void)
{
	enum { PORTS = 32 };
	__u16 tag1 = backend_tag(ip4(T_POD_B), htons(2525));
	__u16 tag2 = backend_tag(ip4(T_POD_B2), htons(2525));
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	uint16_t port = 0, kept = 0;
	struct nosnat_flow f;
	uint8_t in[256];
	struct l4_spec l;
	struct run r;
	size_t n;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	CHECK(!connect_to_b(40130, PORTS), "connections to pod 1");
	for (uint16_t p = 40130; p < 40130 + PORTS; p++) {
		struct nosnat_flow_key fk = client_flow(p);

		CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && f.backend_addr == ip4(T_POD_B) &&
		      (f.flags & NOSNAT_FLOW_MAGLEV), "flow %u established, by Maglev", p);
	}
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_B2, 2525, T_NODE_B, 1), "pod 2");
	/* a SYN again on each port until one goes to pod 2 */
	for (uint16_t p = 40130; p < 40130 + PORTS && !port; p++) {
		l = tcp(p, 25, TH_SYN);
		l.seq = 5000;
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "SYN again %u", p);
		CHECK(outer_tag(&r) == tag1 || outer_tag(&r) == tag2, "SYN again %u: tag %#x", p,
		      outer_tag(&r));
		if (outer_tag(&r) == tag2)
			port = p;
		else
			kept = p;
	}
	CHECK(port && kept, "of %d reused ports none went to the new pod, or all did", PORTS);
	/* the new connection's packets: pod 2, the old entry replaced */
	for (int i = 0; i < 3; i++) {
		struct nosnat_flow_key fk = client_flow(port);

		l = tcp(port, 25, TH_ACK);
		l.seq = 5001 + 100 * (uint32_t)i;
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX) &&
		      outer_tag(&r) == tag2, "packet %d of the new connection: tag %#x", i, outer_tag(&r));
		CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && f.backend_addr == ip4(T_POD_B2),
		      "the flow's entry names pod 2");
	}
	/* the other ports stay on pod 1: those whose SYN again went there
	 * (their new connections), and the old connections (the ports after
	 * the one found never saw a SYN again; pod 2 may be Maglev's pick for
	 * some of them now) */
	for (uint16_t p = 40130; p < 40130 + PORTS; p++) {
		if (p == port)
			continue;
		l = tcp(p, 25, TH_ACK);
		l.seq = p < port ? 5001 : 90000;
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX) &&
		      outer_tag(&r) == tag1, "connection on port %u stays on pod 1", p);
	}
	return 0;
}

/* Above the new-flow budget a SYN for a pod elsewhere is not recorded, so
 * no handshake can supersede an older connection's entry on a reused port
 * once the table changed: the limited SYN ends that entry itself, and the
 * new connection's next packets go where its SYN went, Maglev's pod now,
 * not to the old entry's. */
int t_port_reuse_limited(void)
{
	enum { PORTS = 32 };
	__u16 tag2 = backend_tag(ip4(T_POD_B2), htons(2525));
	__u32 slot = 0;
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct nosnat_flow f;
	uint64_t limited0 = 0;
	int to2 = 0, rc = -1;
	cpu_set_t old;
	uint8_t in[256];
	struct l4_spec l;
	struct run r;
	size_t n;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	CHECK(!connect_to_b(40170, PORTS), "connections to pod 1");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_B2, 2525, T_NODE_B, 1), "pod 2");
	CHECK(!new_flow_budget_cpu0(1, &old), "budget");
	l = tcp(40169, 25, TH_SYN);	/* the second's one recorded SYN */
	n = frame(in, &ip, &l, 0);
	if (run_xdp(in, n, dummy_ifindex, &r) || !verdict_is(&r, XDP_TX))
		goto out;
	/* counted by the hook that finished it (walk_hook: this run's) */
	slot = nosnat_stat_slot(walk_hook(), NOSNAT_ACT_ENCAP, NOSNAT_R_NEW_FLOW_LIMITED);
	limited0 = counter(maps.stats, slot, 0, 2);
	for (uint16_t p = 40170; p < 40170 + PORTS; p++) {
		struct nosnat_flow_key fk = client_flow(p);
		__u16 tag;

		l = tcp(p, 25, TH_SYN);
		l.seq = 5000;
		n = frame(in, &ip, &l, 0);
		if (run_xdp(in, n, dummy_ifindex, &r) || !verdict_is(&r, XDP_TX))
			goto out;
		tag = outer_tag(&r);
		if (!bpf_map_lookup_elem(maps.flows, &fk, &f) || !hs_get(maps.flows_new, &fk, &f)) {
			fprintf(stderr, "    limited SYN %u: the older entry or a handshake left\n", p);
			goto out;
		}
		for (int i = 0; i < 2; i++) {
			l = tcp(p, 25, TH_ACK);
			l.seq = 5001 + 100 * (uint32_t)i;
			n = frame(in, &ip, &l, 0);
			if (run_xdp(in, n, dummy_ifindex, &r) || !verdict_is(&r, XDP_TX) ||
			    outer_tag(&r) != tag) {
				fprintf(stderr, "    port %u, packet %d: not to its SYN's pod\n", p, i);
				goto out;
			}
		}
		to2 += tag == tag2;
	}
	rc = 0;
out:
	return reuse_limited_done(&old, rc, slot, limited0, PORTS, to2);
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
int t_reply_follows_flow(void)
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
int t_pod_dir_shared_index(void)
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
 * replaced when the flow is re-picked, and a SYN never takes it. The
 * test keeps to one CPU so that the copies are there to be used. */
int t_flow_cache(void)
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

	/* a SYN again on the cached flow: its ISN reaches the entry (a pod
	 * here: an older connection's entry is taken, not the copy) */
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
int t_vip_id_reused(void)
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
int t_vip_filter(void)
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
int t_nexthop_cache(void)
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
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "first packet");
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
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "cached");
		CHECK(!nexthop_read(ip4(T_NODE_B), &now), "entry");
		if (now.tick == nh.tick)
			break;	/* else the tick ended in between: try again */
	}
	CHECK(tries < 5, "the tick kept ending");
	CHECK(!memcmp(r.pkt, forged, 6), "cached next hop not used within its tick");

	/* an entry of an earlier tick is looked up again */
	nh.tick -= 1;
	CHECK(!nexthop_write(&nh), "age");
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "refresh");
	CHECK(!memcmp(r.pkt, MAC_B, 6), "stale next hop used");
	CHECK(!nexthop_read(ip4(T_NODE_B), &now) && !memcmp(now.dmac, MAC_B, 6) &&
	      now.tick != nh.tick, "entry not refreshed");
	return 0;
}

/* A flow entry outlives its connection. A later connection made straight
 * to the pod on the same addresses and ports must not have its replies
 * rewritten: its SYN-ACK acks a SYN the VIP never saw. */
int t_stale_tuple(void)
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
	CHECK(!hs_get(maps.flows_new, &fk, &rv) && rv.syn_ack == htonl(1001), "flow records the SYN");

	/* the same client port again through the VIP, a new ISN: the entry follows */
	l.seq = 7000;
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "second SYN");
	CHECK(!hs_get(maps.flows_new, &fk, &rv) && rv.syn_ack == htonl(7001), "flow follows the new SYN");
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
	CHECK(bpf_map_lookup_elem(maps.flows, &fk, &rv) && hs_get(maps.flows_new, &fk, &rv),
	      "stale flow kept");
	l = tcp(2525, 40095, TH_ACK);
	n = frame(reply, &ip, &l, 0);
	CHECK(!run_tc(fd, reply, n, &r) && r.ret == TC_ACT_OK, "tc run");
	CHECK_BYTES(&r, reply, n);
	return 0;
}

/* A blind flood of SYN+ACK pairs (each forged 5-tuple: its SYN, then an
 * ACK), 2.5 times the established table, where nothing but the table
 * records a flow: a pod on this node without conntrack marks (for a pod
 * elsewhere, the SYNs already spend the budget). Promotions spend the
 * new-flow budget, so the flood cannot push an idle or an active
 * established flow out of the table. */
int t_syn_ack_flood(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l;
	struct nosnat_flow_key active = client_flow(41011), idle = client_flow(41012);
	struct nosnat_flow f;
	struct nosnat_cfg cfg;
	size_t flood = NOSNAT_FLOW_ENTRIES * 5 / 2, n;
	const char *env = getenv("NOSNAT_FLOOD_SYNS");
	__u32 zero = 0;
	struct run r;
	uint64_t established;

	if (env)
		flood = strtoul(env, NULL, 10);
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!ct_use(0), "no conntrack");
	for (int k = 0; k < 2; k++) {	/* two connections: SYN, then the handshake's ACK */
		l = tcp(k ? 41012 : 41011, 25, TH_SYN);
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN %d", k);
		l = tcp(k ? 41012 : 41011, 25, TH_ACK);
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "ACK %d", k);
	}
	CHECK(!bpf_map_lookup_elem(maps.flows, &idle, &f), "not established");
	/* a budget the test run can exceed: 1000 new flows a second */
	CHECK(!bpf_map_lookup_elem(maps.cfg, &zero, &cfg), "cfg");
	cfg.new_flow_limit = 1000;
	CHECK(!bpf_map_update_elem(maps.cfg, &zero, &cfg, BPF_ANY), "cfg");
	for (size_t i = 0; i < flood; i++) {
		struct ip_spec fip = ipv4(T_CLIENT, T_VIP);

		fip.saddr = htonl(0xc6120000u | (uint32_t)(i & 0x1ffff));	/* 198.18/15 */
		l = tcp((uint16_t)(1024 + (i >> 17)), 25, TH_SYN);
		n = frame(in, &fip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r), "flood SYN %zu", i);
		l.flags = TH_ACK;
		n = frame(in, &fip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r), "flood ACK %zu", i);
		if (i % 1000 == 0) {	/* the active flow keeps talking */
			l = tcp(41011, 25, TH_ACK);
			n = frame(in, &ip, &l, 0);
			CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "active");
		}
	}
	established = count_entries_of(maps.flows);
	printf("  info  %zu flood SYN+ACK pairs: %llu established of %u\n", flood,
	       (unsigned long long)established, NOSNAT_FLOW_ENTRIES);
	CHECK(!bpf_map_lookup_elem(maps.flows, &active, &f), "the active flow was evicted");
	CHECK(!bpf_map_lookup_elem(maps.flows, &idle, &f), "the idle flow was evicted");
	CHECK(established < NOSNAT_FLOW_ENTRIES / 4, "the flood filled the established table");
	return 0;
}

/* The handshake table's sets (nosnat_abi.h): five SYNs whose keys share a
 * set of four ways leave the first one's entry to the fifth (the oldest
 * goes), and a way whose check does not match (torn by two writers) reads
 * as empty: the flow's ACK then recovers as a lost handshake's does. */
int t_handshake_sets(void)
{
	enum { WAYS = NOSNAT_HS_WAYS, N = NOSNAT_HS_WAYS + 1 };
	struct nosnat_flow_key keys[N], k;
	struct nosnat_hs_set set;
	struct nosnat_flow f;
	uint8_t in[256], want[256];
	struct ip_spec ip;
	struct l4_spec l;
	struct run r;
	__u32 target, idx;
	size_t n, wn;
	int found = 0;

	CHECK(!ct_use(0), "conntrack off: Maglev's word re-creates a local flow");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	keys[found++] = client_flow(40200);
	target = nosnat_hs_set_of(&keys[0]);
	for (uint32_t c = 2; c < 255 && found < N; c++)
		for (uint16_t p = 40201; p < 41200 && found < N; p++) {
			k = (struct nosnat_flow_key){ .src = htonl(0xcb007100u | c), .dst = ip4(T_VIP),
						      .sport = htons(p), .dport = htons(25),
						      .proto = IPPROTO_TCP };
			if (nosnat_hs_set_of(&k) == target)
				keys[found++] = k;
		}
	CHECK(found == N, "only %d keys for one set", found);
	for (int i = 0; i < N; i++) {
		ip = ipv4(T_CLIENT, T_VIP);
		ip.saddr = keys[i].src;
		l = tcp(ntohs(keys[i].sport), 25, TH_SYN);
		n = frame(in, &ip, &l, 0);
		CHECK(!run_xdp(in, n, 1, &r) && r.ret == XDP_PASS, "SYN %d", i);
		CHECK(!hs_get(maps.flows_new, &keys[i], &f) && f.backend_addr == ip4(T_POD_LOCAL),
		      "SYN %d's handshake recorded", i);
	}
	CHECK(hs_get(maps.flows_new, &keys[0], &f), "the oldest handshake of the full set stayed");
	for (int i = 1; i < N; i++)
		CHECK(!hs_get(maps.flows_new, &keys[i], &f), "handshake %d evicted early", i);
	CHECK((long)hs_count(maps.flows_new) == WAYS, "%ld handshakes, want %d",
	      hs_count(maps.flows_new), WAYS);

	/* a torn way: as if another CPU wrote half of it */
	idx = target;
	CHECK(!bpf_map_lookup_elem(maps.flows_new, &idx, &set), "read the set");
	for (int w = 0; w < WAYS; w++)
		if (set.key[w].src == keys[1].src && set.key[w].sport == keys[1].sport)
			set.flow[w].backend_id ^= 1;
	CHECK(!bpf_map_update_elem(maps.flows_new, &idx, &set, BPF_ANY), "tear a way");
	CHECK(hs_get(maps.flows_new, &keys[1], &f), "a torn way read as a handshake");
	ip = ipv4(T_CLIENT, T_VIP);
	ip.saddr = keys[1].src;
	l = tcp(ntohs(keys[1].sport), 25, TH_ACK);
	l.seq = 1001;
	n = frame(in, &ip, &l, 0);
	ip.daddr = ip4(T_POD_LOCAL);
	l.dport = 2525;
	wn = frame(want, &ip, &l, 0);
	CHECK(!expect_pass(in, n, want, wn, NOSNAT_ACT_LOCAL, NOSNAT_R_RECOVERED),
	      "the torn handshake's ACK, recovered");
	CHECK(!bpf_map_lookup_elem(maps.flows, &keys[1], &f) && f.backend_addr == ip4(T_POD_LOCAL),
	      "recorded again");
	return 0;
}
