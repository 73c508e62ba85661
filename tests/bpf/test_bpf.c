// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* BPF unit tests: crafted packets through BPF_PROG_TEST_RUN against the
 * production object, with maps configured by the loader's own code.
 * Each test asserts the verdict, the exact output bytes and that exactly
 * one {hook, action, reason} counter moved. Runs in a private netns.
 * Usage: test_bpf [NAME-SUBSTRING] | test_bpf --bench FILE [REPEAT] */
#include "harness.h"

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

/* The verifier's budget is a resource: each program, as this mode loads it,
 * is verified in under half of the kernel's 1M-instruction limit (IPv6
 * has to fit beside it). */
#define VERIFIED_INSNS_MAX 500000

int verifier_budget(void)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		CHECK(!bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len), "prog info");
		CHECK(info.verified_insns > 0, "%s: the kernel reports no verified count",
		      bpf_program__name(p));
		CHECK(info.verified_insns <= VERIFIED_INSNS_MAX, "%s: %u instructions verified, over %u",
		      bpf_program__name(p), info.verified_insns, VERIFIED_INSNS_MAX);
		printf("  info  %s: %u instructions verified\n", bpf_program__name(p),
		       info.verified_insns);
		n++;
	}
	CHECK(n >= 3, "%d programs", n);
	return 0;
}

struct test {
	const char *name;
	int (*fn)(void);
	unsigned int modes;	/* 0: every mode; else the modes' bits (META_ONLY...) */
};

/* What XDP's metadata hand-off alone does (the tc twin's part): not run
 * where that walk is tc's. */
#define META_ONLY	(1u << MODE_XDP_META)
/* XDP in front of tc, with or without metadata */
#define XDP_BOTH	(1u << MODE_XDP_META | 1u << MODE_XDP_NOMETA)
/* Once is enough: no packet walks (loader code, the object itself). */
#define ONCE		(1u << MODE_MAX)

static const char *const mode_names[MODE_MAX] = {
	[MODE_XDP_META] = "xdp", [MODE_XDP_NOMETA] = "xdp-nometa", [MODE_TC] = "tc",
};

static int t_csum_complete(void);

const struct test tests[] = {
	{ "every program verified in under 500k instructions", verifier_budget, 0 },
	{ "every program verified in under 500k instructions, loaded to send GUE", t_gue_budget, 0 },
	{ "GUE to a pod on another node: exact bytes, source port by flow, MSS and MTU for 28 bytes",
	  t_gue_encap, 0 },
	{ "SYN to VIP, local backend: DNAT + flow entry for the replies", t_local_syn, 0 },
	{ "SYN to VIP, remote backend: IPIP, MSS clamped, XDP_TX/redirect", t_remote_syn, 0 },
	{ "MSS option at an odd offset clamped with a valid checksum", t_mss_odd_offset, 0 },
	{ "MSS clamped for a client whose packets carry IP options", t_mss_clamp_ip_options, 0 },
	{ "the outer ID's tag from the backend's slot; computed where older pins hold none", t_backend_tag_older_pins, 0 },
	{ "remote backend, next hop unresolved (or veth uplink): handed to tc", t_remote_no_neigh, META_ONLY },
	{ "new flow, pod elsewhere, next hop unresolved: tc's neighbour code, the flow counted once", t_syn_no_neigh, 0 },
	{ "existing flow keeps its backend after a backend is added", t_existing_flow_sticks, 0 },
	{ "flow of a removed backend moves to a remaining one", t_backend_removed_flow_moves, 0 },
	{ "a SYN on a reused client port skips a draining backend", t_syn_skips_draining, 0 },
	{ "a client port reused after the table changed: the SYN's pod gets the whole new connection, the old ones stay", t_port_reuse_after_change, 0 },
	{ "a SYN on a reused client port above the new-flow budget ends the older entry: the new connection follows its SYN", t_port_reuse_limited, 0 },
	{ "handshake sets: a full set gives its oldest way to a new SYN; a torn way reads as empty", t_handshake_sets, 0 },
	{ "IPIP from a known node: decap + DNAT to the tagged pod; tc SYN-ACK", t_ipip_known_node, 0 },
	{ "tc egress rewrites replies only of a client's flow through the VIP", t_tc_reply, 0 },
	{ "IPv6 VIP, pod here: DNAT at tc, the reply as the VIP, MSS clamped; XDP passes v6", t_v6_local, 0 },
	{ "IPv6 flow to a pod here past its handshake that conntrack does not hold: counted once, ct_untracked, not asked again", t_v6_untracked_counted, 0 },
	{ "IPv6 VIP, pod on another node: 6in4, MSS for 20 bytes, packet too big back, neighbour code, recovered", t_v6_remote, 0 },
	{ "IPv6: a client port reused after the table changed: the SYN leaves the old entry, its pod gets the whole new connection, the old ones stay", t_v6_port_reuse_after_change, 0 },
	{ "IPv6: a SYN on a reused client port above the new-flow budget ends the older entry: the new connection follows its SYN", t_v6_port_reuse_limited, 0 },
	{ "IPv6: a SYN on a reused client port to a pod here (directly, and from a node in 6in4) ends the older entry; the new connection's replaces it", t_v6_reused_port_here, 0 },
	{ "IPv6 in 6in4 from a known node: taken off + DNAT to the tagged pod, CE kept; strangers dropped", t_v6_decap, 0 },
	{ "IPv6 extension headers skipped, fragments dropped, ND/RA/echo and other ports untouched", t_v6_headers, 0 },
	{ "ICMPv6 errors about v6 VIP flows: packet too big to the pod (here, in 6in4, taken off), the pod's own as the VIP's", t_v6_icmp, 0 },
	{ "IPv6 handshake sets: a full set gives its oldest way to a new SYN, an ACK moves its entry, a torn way reads as empty", t_v6_handshake_sets, 0 },
	{ "IPv6 SYN flood beyond the handshake table: established v6 flows stay, each with its pod", t_v6_syn_flood, 0 },
	{ "IPv6 flow without an entry whose new pod here lacks it: once to the previous table's pod, recorded", t_v6_second_chance, 0 },
	{ "IPv6 over an IPv6 node network: ip6ip6 with the tag in the flow label, MSS and MTU for 40 bytes, taken off from known v6 nodes only", t_v6_node6, 0 },
	{ "IPv6 node network: the way to a v6 node cached per tick and CPU, for its address and incoming interface only (XDP and tc)", t_v6_nexthop_cache, 0 },
	{ "IPv6 flow cache: a busy flow's copy followed within its jiffy, never after, never once not current, a SYN's handshake or its pod's removal ends it", t_v6_flow_cache, 0 },
	{ "IPv6: an established flow's entry is followed only while its VIP lives: deleted, its id given to another port, the flow passes untouched", t_v6_stale_entry, 0 },
	{ "IPv6 in GUE (a node that sends GUE): exact bytes out, taken off from a node, strangers dropped", t_v6_gue, 0 },
	{ "IPv6 where the kernel refuses XDP's v6 tail call: XDP passes v6 on untouched, tc walks it, the same bytes", t_v6_without_xdp_tail_call, XDP_BOTH },
	{ "decapsulation keeps the outer CE mark on an ECN-capable inner packet (RFC 6040)", t_decap_keeps_ce, 0 },
	{ "a pod's fragmented UDP reply: every fragment leaves as the VIP's", t_udp_reply_fragments, 0 },
	{ "too big for the tunnel with DF: ICMP fragmentation needed (IP options, tc uplink, rate limit)", t_icmp_frag_needed, 0 },
	{ "partial checksums (veth offload): left to the tc twin locally, completed before XDP sends", t_partial_checksums, META_ONLY },
	{ "a complete checksum equal to the pseudo-header sum: valid on every rewriting path", t_csum_equal_to_pseudo, 0 },
	{ "the outer header carries DF over a packet without it (atomic: its ID is the tag)", t_outer_df_always, 0 },
	{ "verify reads Maglev tables through a program (CAP_BPF) and finds a wrong slot", t_verify_reads_maglev_tables, ONCE },
	{ "no metadata room (a driver's, or the helper pruned): XDP passes untouched, uncounted; tc's walk does the rest", t_meta_refused_at_run_time, XDP_BOTH },
	{ "metadata steers nothing on its own word: a forged rewrite or hand-off is walked instead", t_twin_distrusts_metadata, 0 },
	{ "an older tc twin attached (no NOSNAT_CFG_TWIN_DNAT): XDP rewrites for the pod itself", t_without_the_twin_xdp_rewrites, META_ONLY },
	{ "apply converges from any state to any state (40 random configs)", t_apply_converges, ONCE },
	{ "a pod port behind more than 7 VIP ports is refused", t_pod_port_limit, ONCE },
	{ "an apply that failed part-way is converged by the next one", t_apply_partial_failure, ONCE },
	{ "packet fuzzer: mutated packets through XDP and both tc programs", t_packet_fuzz, 0 },
	{ "SYN flood beyond both tables: established flows, active or idle, stay", t_syn_flood, 0 },
	{ "SYN+ACK flood of 2.5x the table, pod here without conntrack: promotions within the budget, established flows stay", t_syn_ack_flood, 0 },
	{ "replies follow the flow: evicted, re-created, two VIP ports, other slot", t_reply_follows_flow, 0 },
	{ "pod ports sharing a directory index: both answered, the survivor moves in", t_pod_dir_shared_index, 0 },
	{ "flow cache: one jiffy at most, checked like the entry, re-picks and stale SYN-ACKs end it, SYNs never take it", t_flow_cache, 0 },
	{ "a flow whose VIP id now serves another VIP is not followed", t_vip_id_reused, 0 },
	{ "address filter: a non-VIP sharing a VIP's bit passes; bit cleared last", t_vip_filter, 0 },
	{ "next hop cached per tick and CPU, looked up again after (XDP and tc)", t_nexthop_cache, 0 },
	{ "a direct connection on an old VIP flow's tuple keeps the pod's address", t_stale_tuple, 0 },
	{ "the handshake's ACK promotes the flow and marks the pod's conntrack entry", t_handshake_marks_conntrack, 0 },
	{ "a SYN through the VIP on a connection open straight to the pod claims nothing", t_syn_on_open_connection_claims_nothing, 0 },
	{ "a flow nosnat recorded, on its connection open and unmarked: claimed, not refused", t_established_flow_claims_open_connection, 0 },
	{ "a flow past its handshake that conntrack does not hold: counted once, ct_untracked", t_untracked_counted, 0 },
	{ "replies without a flow entry: rewritten only on the VIP's conntrack mark", t_reply_without_entry, 0 },
	{ "non-SYN without a flow entry: Maglev on the ingress node, conntrack on the pod's", t_non_syn_without_entry, 0 },
	{ "second chance: sent once to the previous table's pod, never twice, only to nodes", t_second_chance, 0 },
	{ "new-flow limit: SYNs to other nodes above the rate go unrecorded", t_new_flow_limit, 0 },
	{ "verify: VIP ports of one pod port sharing a conntrack mark", t_verify_mark_collision, ONCE },
	{ "verify: v6 VIP ports of one pod port sharing a conntrack mark", t_v6_verify_mark_collision, ONCE },
	{ "one list of pinned maps, matching the BPF object both ways", t_pinned_maps_listed, ONCE },
	{ "ICMP error about a local VIP flow: the pod's own (frag needed, 8/40/all L4 bytes, time exceeded)", t_icmp_error_local, 0 },
	{ "ICMP error about a remote VIP flow: encapsulated, rewritten on the pod's node", t_icmp_error_remote, 0 },
	{ "ICMP: truncated quote, unknown VIP flow, not a VIP flow, echo", t_icmp_not_ours, 0 },
	{ "a pod's port unreachable for a UDP VIP flow leaves as the VIP's", t_icmp_from_pod, 0 },
	{ "a NIC's complete checksum (CHECKSUM_COMPLETE) stays true on every path up to a pod here", t_csum_complete, 0 },
};

/* A NIC's receive path gives skbs a complete checksum (CHECKSUM_COMPLETE:
 * skb->csum, the sum of the packet from its IP header on), and the stack
 * trusts it: what tc passes up must keep it true, or the kernel reports a
 * "hw csum failure" and sums the packet again in software. The kernel's
 * test run makes such skbs (6.11+) and fails a run that left skb->csum
 * wrong (EBADMSG): every test whose packets go up to a pod here, again so.
 * (A packet sent out, encapsulated or an ICMP error, leaves through a
 * device, which reads no such sum.) */
static const char *const up_the_stack[] = {
	"SYN to VIP, local backend: DNAT + flow entry for the replies",
	"IPIP from a known node: decap + DNAT to the tagged pod; tc SYN-ACK",
	"a complete checksum equal to the pseudo-header sum: valid on every rewriting path",
	"decapsulation keeps the outer CE mark on an ECN-capable inner packet (RFC 6040)",
	"ICMP error about a local VIP flow: the pod's own (frag needed, 8/40/all L4 bytes, time exceeded)",
	"IPv6 VIP, pod here: DNAT at tc, the reply as the VIP, MSS clamped; XDP passes v6",
	"IPv6 in 6in4 from a known node: taken off + DNAT to the tagged pod, CE kept; strangers dropped",
	"ICMPv6 errors about v6 VIP flows: packet too big to the pod (here, in 6in4, taken off), the pod's own as the VIP's",
	"UDP to the VIP, with a checksum: delivered",
	"UDP to the VIP, checksum 0 (none): delivered",
	"IPIP from a node, a SYN for the pod here: decapsulated, DNAT",
	"GUE from a node, a SYN for the pod here: decapsulated, DNAT",
	"IPv4 options: delivered with them",
	"QinQ: delivered with both tags",
};

static int t_csum_complete(void)
{
	const size_t n_tests = sizeof(tests) / sizeof(tests[0]);
	int rc = 0, have = csum_complete_probe();

	CHECK(have >= 0, "probe");
	if (!have) {
		printf("  info  this kernel makes no CHECKSUM_COMPLETE test skbs (before 6.11): not run\n");
		return 0;
	}
	for (size_t k = 0; k < sizeof(up_the_stack) / sizeof(up_the_stack[0]); k++) {
		size_t i;
		int r;

		for (i = 0; i < n_tests + pkt_cases_count(); i++)
			if (!strcmp(up_the_stack[k], i < n_tests ? tests[i].name : pkt_case_name(i - n_tests)))
				break;
		CHECK(i < n_tests + pkt_cases_count(), "no test '%s'", up_the_stack[k]);
		CHECK(!cfg_reset(), "map reset");
		test_csum_complete = 1;
		r = i < n_tests ? tests[i].fn() : pkt_case_run(i - n_tests);
		test_csum_complete = 0;
		if (r) {
			fprintf(stderr, "    with a complete checksum: %s\n", up_the_stack[k]);
			rc = -1;
		}
	}
	return rc;
}

/* The tests in one mode: the object loaded as that mode loads it. */
static void run_mode(int argc, char **argv, int *passed, int *failed, int first_mode)
{
	const size_t n_tests = sizeof(tests) / sizeof(tests[0]);
	const char *mode = mode_names[test_mode];

	/* the functions, then the rows of the single-packet table (t_cases.c) */
	for (size_t i = 0; i < n_tests + pkt_cases_count(); i++) {
		const char *name = i < n_tests ? tests[i].name : pkt_case_name(i - n_tests);
		unsigned int modes = i < n_tests ? tests[i].modes : pkt_case_modes(i - n_tests);

		if (argc > 1 && !strstr(name, argv[1]))
			continue;
		if ((modes & ONCE) ? !first_mode : (modes && !(modes & (1u << test_mode))))
			continue;
		if (cfg_reset()) {
			fprintf(stderr, "bpf: map reset failed\n");
			(*failed)++;
			continue;
		}
		if (i < n_tests ? tests[i].fn() : pkt_case_run(i - n_tests)) {
			printf("  FAIL  [%s] %s\n", mode, name);
			(*failed)++;
		} else {
			printf("  ok    [%s] %s\n", mode, name);
			(*passed)++;
		}
	}
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, first = 1;
	/* a kernel may refuse XDP's metadata helper at verification */
	int meta = xdp_meta_probe() > 0;

	st.tmp = &st_tmp;
	test_mode = meta ? MODE_XDP_META : MODE_XDP_NOMETA;
	if (setup_netns() || setup_skel()) {
		fprintf(stderr, "bpf: setup failed (root, BTF kernel needed)\n");
		printf("bpf: 0 passed, 1 failed\n");
		return 1;
	}
	if (argc > 2 && !strcmp(argv[1], "--bench"))
		return bench_main(argv[2], argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 200000);
	for (int m = 0; m < MODE_MAX; m++) {
		if (m == MODE_XDP_META && !meta) {
			printf("  skip  [xdp] every test: this kernel refuses bpf_xdp_adjust_meta "
			       "to XDP programs (xdp_meta_probe)\n");
			continue;
		}
		if (m != test_mode) {	/* the object as this mode loads it */
			twin_unload();
			nosnat_bpf__destroy(skel);
			test_mode = m;
			/* a fresh namespace: no conntrack entry of the last mode's */
			if (setup_netns() || setup_skel()) {
				fprintf(stderr, "bpf: cannot load the object for mode %s\n", mode_names[m]);
				failed++;
				continue;
			}
		}
		run_mode(argc, argv, &passed, &failed, first);
		first = 0;
	}
	twin_unload();
	nosnat_bpf__destroy(skel);
	if (!passed && !failed)
		failed = 1;	/* ran nothing: that is a failure */
	printf("bpf: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
