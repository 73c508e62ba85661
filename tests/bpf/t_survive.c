// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Connections that survive: conntrack marks, entries lost, second chances,
 * the new-flow limit. */
#include "harness.h"

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
int ct_insert(const char *src, const char *dst, uint16_t sport, uint16_t dport, uint32_t mark)
{
	return ct_op(1, src, dst, sport, dport, &mark);
}

/* Its mark, or -1 when there is no such connection. */
static int64_t ct_mark(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	uint32_t mark = 0;

	return ct_op(2, src, dst, sport, dport, &mark) ? -1 : (int64_t)mark;
}

uint32_t mail_mark(void)
{
	return nosnat_vip_mark(ip4(T_VIP), htons(25), IPPROTO_TCP, NOSNAT_DEFAULT_CT_MARK_MASK);
}

static uint64_t flow_events(__u32 reason)
{
	return counter(maps.flow_ev, reason, 0, 1);
}

/* A real connection client:cport -> pod:2525 over this namespace's
 * loopback, tracked (an nft rule makes conntrack follow it), past its
 * handshake: fds[3] its sockets. 0, or -1 (set up nothing to undo). */
static int direct_connection(uint16_t cport, int fds[3])
{
	static const char *const setup[] = {
		"ip addr replace " T_CLIENT "/32 dev lo",
		"ip addr replace " T_POD_LOCAL "/32 dev lo",
		"nft add table inet nsnt_ct",
		"nft add chain inet nsnt_ct out '{ type filter hook output priority 0; }'",
		"nft add rule inet nsnt_ct out ct state established,related,new accept",
	};
	struct sockaddr_in pod = { .sin_family = AF_INET, .sin_port = htons(2525) };
	struct sockaddr_in cli = { .sin_family = AF_INET, .sin_port = htons(cport) };
	int one = 1;

	fds[0] = fds[1] = fds[2] = -1;
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (system(setup[i]))
			return -1;
	pod.sin_addr.s_addr = ip4(T_POD_LOCAL);
	cli.sin_addr.s_addr = ip4(T_CLIENT);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || fds[1] < 0 ||
	    setsockopt(fds[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fds[0], (void *)&pod, sizeof(pod)) || listen(fds[0], 4) ||
	    bind(fds[1], (void *)&cli, sizeof(cli)) || connect(fds[1], (void *)&pod, sizeof(pod)) ||
	    (fds[2] = accept(fds[0], NULL, NULL)) < 0) {
		fprintf(stderr, "    the direct connection: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void direct_connection_end(int fds[3])
{
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (system("nft delete table inet nsnt_ct; ip addr del " T_CLIENT "/32 dev lo; "
		   "ip addr del " T_POD_LOCAL "/32 dev lo"))
		fprintf(stderr, "    cleanup of the direct connection failed\n");
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

int t_handshake_marks_conntrack(void)
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
	CHECK(!hs_get(maps.flows_new, &fk, &f) && bpf_map_lookup_elem(maps.flows, &fk, &f),
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
	/* conntrack has not seen the handshake end (a blind ACK never makes
	 * it): the flow stays in the new-flow table, its replies find it */
	CHECK(!hs_get(maps.flows_new, &fk, &f) && bpf_map_lookup_elem(maps.flows, &fk, &f),
	      "promoted on the ACK alone");
	{	/* the handshake over (a real connection, claimed at its ACK):
		 * the flow's next packet promotes it */
		struct nosnat_flow_key pk = client_flow(40202);
		uint32_t mark = mail_mark();
		int fds[3], ok;

		ok = !direct_connection(40202, fds);
		if (ok) {
			l = tcp(40202, 25, TH_SYN);
			ip = ipv4(T_CLIENT, T_VIP);
			n = frame(in, &ip, &l, 0);
			ok = !run_xdp(in, n, 1, &(struct run){}) &&
			     !ct_op(3, T_CLIENT, T_POD_LOCAL, 40202, 2525, &mark);
			l = tcp(40202, 25, TH_ACK);
			n = frame(in, &ip, &l, 0);
			ok = ok && !run_xdp(in, n, 1, &(struct run){}) &&
			     hs_get(maps.flows_new, &pk, &f) &&
			     !bpf_map_lookup_elem(maps.flows, &pk, &f) && (f.flags & NOSNAT_FLOW_CT_SEEN) &&
			     f.syn_ack == htonl(1001);
		}
		direct_connection_end(fds);
		CHECK(ok, "a flow whose handshake conntrack saw end was not established");
	}

	/* an entry that carries another VIP's mark in our bits keeps it, and
	 * the flow is refused: its connection is that VIP's (a spoofer who
	 * knows the client's port would move it to this VIP port) */
	l = tcp(40201, 25, TH_SYN);
	ip = ipv4(T_CLIENT, T_VIP);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &(struct run){}), "SYN");
	CHECK(!ct_insert(T_CLIENT, T_POD_LOCAL, 40201, 2525, 0x00abcd00), "conntrack entry");
	l = tcp(40201, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	fk = client_flow(40201);
	CHECK(!expect_drop(in, n, NOSNAT_R_CT_OTHER_VIP), "ACK of another VIP's connection");
	CHECK(ct_mark(T_CLIENT, T_POD_LOCAL, 40201, 2525) == 0x00abcd00, "another's mark overwritten");
	CHECK(bpf_map_lookup_elem(maps.flows, &fk, &f) && hs_get(maps.flows_new, &fk, &f),
	      "the refused flow is still recorded");
	return 0;
}

/* A connection made straight to the pod, open, and a SYN through the VIP
 * on its addresses and ports, then its ACK (a spoofer who knows the
 * client's port): the flow may not claim that connection for the VIP, or
 * the pod's replies on it would leave from the VIP. Its handshake is over
 * already when the flow's first ACK comes, which no handshake of a flow
 * nosnat saw begin can be. */
int t_syn_on_open_connection_claims_nothing(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40230, 25, TH_SYN);
	struct nosnat_flow_key fk = client_flow(40230);
	struct nosnat_flow f;
	int fds[3], rc = -1;
	size_t n;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	if (direct_connection(40230, fds))
		goto out;
	if (ct_mark(T_CLIENT, T_POD_LOCAL, 40230, 2525) != 0) {
		fprintf(stderr, "    the direct connection is not tracked, unmarked\n");
		goto out;
	}
	if (!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF)) {
		n = frame(in, &ip, &l, 0);
		if (run_xdp(in, n, 1, &(struct run){}) || hs_get(maps.flows_new, &fk, &f)) {
			fprintf(stderr, "    the SYN's flow was not recorded\n");
			goto out;
		}
		l = tcp(40230, 25, TH_ACK);
		n = frame(in, &ip, &l, 0);
		if (expect_drop(in, n, NOSNAT_R_CT_OTHER_VIP))
			goto out;
		if (ct_mark(T_CLIENT, T_POD_LOCAL, 40230, 2525) != 0) {
			fprintf(stderr, "    the direct connection was claimed for the VIP\n");
			goto out;
		}
		rc = 0;
	}
out:
	direct_connection_end(fds);
	return rc;
}

/* Replies with no flow entry anywhere: rewritten only on the word of the
 * connection's conntrack mark. */
int t_reply_without_entry(void)
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
int t_non_syn_without_entry(void)
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
	CHECK(!hs_get(maps.flows_new, &fk, &f) && bpf_map_lookup_elem(maps.flows, &fk, &f),
	      "recorded in the new-flow table");
	CHECK(!expect_xdp(in, n, dummy_ifindex, XDP_TX, want, wn, NOSNAT_ACT_ENCAP, NOSNAT_R_NONE), "how it left");
	CHECK(!bpf_map_lookup_elem(maps.flows, &fk, &f) && hs_get(maps.flows_new, &fk, &f),
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
	CHECK(bpf_map_lookup_elem(maps.flows, &fk, &f) && hs_get(maps.flows_new, &fk, &f),
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
int t_second_chance(void)
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

		CHECK(!hs_get(maps.flows_new, &fk, &f) && f.backend_addr == ip4(T_POD_B),
		      "second chance not recorded");
		stats_snap();
		CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "verdict %u", r.ret);
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
	CHECK(!run_xdp(in, n, dummy_ifindex, &r) && verdict_is(&r, XDP_TX), "verdict %u", r.ret);
	CHECK(stats_moved(NOSNAT_HOOK_XDP, NOSNAT_ACT_ENCAP, NOSNAT_R_SECOND_CHANCE), "counter");
	return 0;
}

/* Above --new-flow-limit SYNs per CPU and second, SYNs towards other nodes
 * go by Maglev unrecorded; SYNs to this node's pods are always recorded
 * (their SYN-ACK needs the entry). */
int t_new_flow_limit(void)
{
	uint8_t in[256], first[512];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct nosnat_cfg cfg;
	struct nosnat_flow f;
	struct run r;
	__u32 zero = 0;
	size_t n, fn = 0;
	cpu_set_t old;
	int rc = -1, limited = 0, recorded = 0;

	CHECK(!mail_vip(T_POD_B, 2525, T_NODE_B), "mail VIP");
	CHECK(!new_flow_budget_cpu0(3, &old), "budget");
	for (uint16_t p = 0; p < 5; p++) {
		struct l4_spec l = tcp((uint16_t)(40400 + p), 25, TH_SYN);
		struct nosnat_flow_key fk = client_flow((uint16_t)(40400 + p));

		n = frame(in, &ip, &l, 0);
		stats_snap();
		if (run_xdp(in, n, dummy_ifindex, &r) || !verdict_is(&r, XDP_TX))
			goto out;
		if (p == 0) {
			memcpy(first, r.pkt, r.len);
			fn = r.len;
		} else if (r.len != fn || memcmp(r.pkt + 14, first + 14, 20 + 12)) {
			fprintf(stderr, "    SYN %u left differently\n", p);	/* same pod, same node */
			goto out;
		}
		if (counter(maps.stats, nosnat_stat_slot(walk_hook(), NOSNAT_ACT_ENCAP,
							 NOSNAT_R_NEW_FLOW_LIMITED), 0, 2) !=
		    stats_now[nosnat_stat_slot(walk_hook(), NOSNAT_ACT_ENCAP, NOSNAT_R_NEW_FLOW_LIMITED)])
			limited += !hs_get(maps.flows_new, &fk, &f) ? 100 : 1;
		else
			recorded += !hs_get(maps.flows_new, &fk, &f);
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
		CHECK(!hs_get(maps.flows_new, &fk, &f), "local SYN %u not recorded", p);
	}
	return 0;
}

/* verify reads each Maglev table through the reader program (what it needs
 * is CAP_BPF, not CAP_SYS_ADMIN): the very table the map holds, so a slot
 * naming a backend that is not the VIP's is found. */
int t_verify_reads_maglev_tables(void)
{
	static struct nosnat_maglev_slots by_id, by_prog;
	struct maglev_read_bpf *r;
	__u32 inner_id, vid, zero = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int inner, problems;

	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	CHECK(!add_be(T_VIP, 25, IPPROTO_TCP, T_POD_B, 2525, T_NODE_B, 1), "be add");
	CHECK(!state_read(&maps, &st), "read");
	vid = st.vips[0].val.id;
	CHECK(!bpf_map_lookup_elem(maps.maglev, &vid, &inner_id), "table");
	inner = bpf_map_get_fd_by_id(inner_id);
	CHECK(inner >= 0 && !bpf_map_lookup_elem(inner, &zero, &by_id), "by ID");
	r = maglev_reader_open(maps.maglev);
	CHECK(r, "reader: %s", strerror(errno));
	CHECK(!maglev_reader_get(r, vid, &by_prog), "read");
	CHECK(!memcmp(&by_id, &by_prog, sizeof(by_id)), "the reader's copy differs");
	CHECK(maglev_reader_get(r, vid + 1, &by_prog) == -ENOENT, "a VIP id without a table");
	maglev_reader_close(r);
	CHECK(state_verify(&maps, &st, stderr) == 0, "agree");
	by_id.backend[7] = 999;		/* a backend slot nobody uses */
	CHECK(!bpf_map_update_elem(inner, &zero, &by_id, BPF_ANY), "corrupt slot 7");
	close(inner);
	out = open_memstream(&buf, &len);
	CHECK(out, "memstream");
	problems = state_verify(&maps, &st, out);
	fclose(out);
	CHECK(problems == 1 && strstr(buf, "Maglev slot 7 names backend 999, not an active one of it"),
	      "%d problems: %s", problems, buf);
	free(buf);
	return 0;
}

/* verify: two VIP ports of one pod port that share a conntrack mark value
 * would let a reply be proven for the wrong VIP. */
int t_verify_mark_collision(void)
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

/* A pod's VIP flow past its handshake that conntrack does not hold (no
 * netfilter rule in the namespace makes it track): counted once for the
 * flow, ct_untracked, so that health and the daemon can say recovery
 * through marks is not in force. */
int t_untracked_counted(void)
{
	uint8_t in[256];
	struct ip_spec ip = ipv4(T_CLIENT, T_VIP);
	struct l4_spec l = tcp(40240, 25, TH_SYN);
	uint64_t before;
	size_t n;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	before = flow_events(NOSNAT_R_CT_UNTRACKED);
	n = frame(in, &ip, &l, 0);
	CHECK(!run_xdp(in, n, 1, &(struct run){}), "SYN");
	CHECK(flow_events(NOSNAT_R_CT_UNTRACKED) == before, "a SYN counted as untracked");
	l = tcp(40240, 25, TH_ACK);
	n = frame(in, &ip, &l, 0);
	for (int i = 0; i < 3; i++)
		CHECK(!run_xdp(in, n, 1, &(struct run){}), "packet %d", i);
	CHECK(flow_events(NOSNAT_R_CT_UNTRACKED) == before + 1, "untracked counted %llu times, want 1",
	      (unsigned long long)(flow_events(NOSNAT_R_CT_UNTRACKED) - before));
	return 0;
}

/* A flow nosnat recorded itself (in nosnat_flows, its conntrack entry not
 * seen yet: conntrack marks turned on after it began, say) on a connection
 * open and unmarked: its packet is delivered and the entry claimed, never
 * refused as another connection would be. */
int t_established_flow_claims_open_connection(void)
{
	uint8_t in[256], want[256];
	struct nosnat_flow_key fk = client_flow(40250);
	struct nosnat_flow f;
	int fds[3], rc = -1, bid;
	size_t n, wn;
	__u32 vid;

	CHECK(ct_kfuncs_available(), "this kernel has no conntrack kfuncs");
	CHECK(!mail_vip(T_POD_LOCAL, 2525, T_NODE_SELF), "mail VIP");
	vid = st.vips[0].val.id;
	bid = state_find_backend(&st, vid, ip4(T_POD_LOCAL), htons(2525));
	{
		struct nosnat_vip_id vi;

		CHECK(!bpf_map_lookup_elem(maps.vip_ids, &vid, &vi), "vip id");
		f = (struct nosnat_flow){ .backend_id = (__u32)bid,
					  .backend_addr = ip4(T_POD_LOCAL), .vip_ref = vi.ref };
	}
	CHECK(!bpf_map_update_elem(maps.flows, &fk, &f, BPF_ANY), "the flow entry");
	if (!direct_connection(40250, fds)) {
		mail_frames(40250, TH_ACK, in, &n, want, &wn);
		if (!expect_local(in, n, want, wn) &&
		    ct_mark(T_CLIENT, T_POD_LOCAL, 40250, 2525) == (int64_t)mail_mark())
			rc = 0;
		else
			fprintf(stderr, "    the recorded flow's connection was refused or not claimed\n");
	}
	direct_connection_end(fds);
	return rc;
}
