/* harness.h - the BPF tests' harness: the production object loaded into a
 * private network namespace, maps configured through the loader's code,
 * packets run through BPF_PROG_TEST_RUN, counters compared. The tests are
 * t_*.c, one file per area; test_bpf.c lists them; tests/bench/bench.c
 * measures. */
#ifndef NOSNAT_TEST_HARNESS_H
#define NOSNAT_TEST_HARNESS_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "nosnat_abi.h"
#include "nosnat.skel.h"
#include "bench.skel.h"
#include "ct_helper.skel.h"
#include "tc_twin.skel.h"
#include "nosnat_abi.h"
#include "../../bpf/lib/hash.h"
#include "apply.h"
#include "attach.h"
#include "config.h"
#include "maglev.h"
#include "ops.h"
#include "scratch.h"
#include "state.h"
#include "verify.h"
#include "maglev_read.h"
#include "mapio.h"
#include "vips.h"
#include "pkt.h"
#include <time.h>
#include <sys/resource.h>

#define FAIL(fmt, ...) do { \
	fprintf(stderr, "    %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
	return -1; } while (0)
#define CHECK(cond, fmt, ...) do { if (!(cond)) FAIL(fmt, ##__VA_ARGS__); } while (0)
#define CHECK_BYTES(r, want, wlen) do { \
	if ((r)->len != (wlen) || memcmp((r)->pkt, (want), (wlen))) { \
		hexdiff((r)->pkt, (r)->len, (want), (wlen)); \
		FAIL("output bytes differ"); } } while (0)

struct run {
	uint8_t out[4096];
	uint8_t *pkt;		/* output packet (after any XDP metadata) */
	uint32_t len;
	uint32_t meta_len;	/* XDP's metadata, still at out (when no twin ran) */
	uint32_t ret;		/* XDP's verdict */
	int tc_ret;		/* the tc twin's, when XDP left it work; else -1 */
	struct nosnat_meta meta;	/* what XDP left it */
};

/* How the uplink's ingress runs (the e2e suite's three modes). */
enum test_mode {
	MODE_XDP_META,		/* XDP hands work to tc through metadata */
	MODE_XDP_NOMETA,	/* XDP without metadata: tc finishes what it passes on */
	MODE_TC,		/* tc ingress alone (--hook tc) */
	MODE_MAX,
};
#define MODE_BIT(m)	(1u << (m))
extern int test_mode;
extern int test_encap_gue;
extern int test_no_xdp6_tail;
extern int test_csum_complete;
int csum_complete_probe(void);
#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)	/* Linux 6.11+ */
#endif
int reload_encap(int gue);
extern int last_via_tc;
int verdict_is(const struct run *r, uint32_t want);
__u32 walk_hook(void);
int run_tc_walk(const uint8_t *in, size_t len, int ifindex, struct run *r);
int expect_tc_walk(const uint8_t *in, size_t n, const uint8_t *want, size_t wn, __u32 action,
		   __u32 reason);
int t_meta_refused_at_run_time(void);
int t_twin_distrusts_metadata(void);
int t_syn_on_open_connection_claims_nothing(void);
int t_untracked_counted(void);
int t_established_flow_claims_open_connection(void);

extern int dummy_ifindex;
extern struct nosnat_bpf *skel;
extern struct nosnat_maps maps;
extern struct scratch st_tmp;
extern struct state st;
extern uint64_t stats_now[NOSNAT_STATS_SLOTS];
extern uint8_t syn_opts_1440[20];

/* harness.c */
void hexdiff(const uint8_t *got, size_t glen, const uint8_t *want, size_t wlen);
int run_xdp(const uint8_t *in, size_t len, int ifindex, struct run *r);
extern int handoff_strict;
int run_xdp_only(const uint8_t *in, size_t len, int ifindex, struct run *r);
int run_twin(struct run *r, int ifindex);
void twin_unload(void);
int twin_prog(const struct nosnat_meta *m);
int run_tc(int prog_fd, const uint8_t *in, size_t len, struct run *r);
uint64_t counter(int fd, __u32 key, int field, int nfields);
void stats_snap(void);
int stats_moved(__u32 hook, __u32 action, __u32 reason);
uint64_t count_entries_of(int fd);
void map_clear(int fd);
int cfg_reset(void);
int new_flow_budget_cpu0(__u32 limit, cpu_set_t *old);
int reuse_limited_done(const cpu_set_t *old, int rc, __u32 slot, uint64_t limited0, uint64_t ports,
		       int to2);
int cfg_flags(__u32 set, __u32 clear);
int ct_use(int on);
struct nosnat_flow_key client_flow(uint16_t sport);
struct nosnat_vip_key vkey(const char *addr, uint16_t port, uint8_t proto);
int add_vip(const char *addr, uint16_t port, uint8_t proto);
int add_be(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port,
		  const char *node, uint16_t weight);
int del_be(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port);
int mail_vip(const char *pod, uint16_t port, const char *node);
struct l4_spec tcp(uint16_t sport, uint16_t dport, uint8_t flags);
struct ip_spec ipv4(const char *src, const char *dst);
size_t frame(uint8_t *buf, const struct ip_spec *ip, const struct l4_spec *l4, int vlans);
void mail_frames(uint16_t port, uint8_t flags, uint8_t *in, size_t *n, uint8_t *want, size_t *wn);
int setup_netns(void);
int reload_maps(void);
int setup_skel(void);

/* t_dataplane.c */
int t_local_syn(void);
int t_remote_syn(void);
int t_mss_odd_offset(void);
int t_remote_no_neigh(void);
int t_port_reuse_after_change(void);
int t_port_reuse_limited(void);
int t_handshake_sets(void);
int t_syn_no_neigh(void);
int t_existing_flow_sticks(void);
int expect_xdp(const uint8_t *in, size_t n, int ifindex, __u32 ret, const uint8_t *want,
		      size_t wn, __u32 action, __u32 reason);
int expect_pass(const uint8_t *in, size_t n, const uint8_t *want, size_t wn,
		       __u32 action, __u32 reason);
int expect_local(const uint8_t *in, size_t n, const uint8_t *want, size_t wn);
int expect_untouched(const uint8_t *in, size_t n, __u32 reason);
int expect_drop(const uint8_t *in, size_t n, __u32 reason);
size_t ipip_frame_tos(uint8_t *buf, const char *outer_src, uint16_t id, uint8_t tos,
		      const struct ip_spec *ip, const struct l4_spec *l);
size_t ipip_frame(uint8_t *buf, const char *outer_src, uint16_t id,
			 const struct ip_spec *ip, const struct l4_spec *l);
size_t encap_frame(uint8_t *buf, const char *to_node, uint16_t id, const struct ip_spec *ip,
			  const struct l4_spec *l);
int t_ipip_known_node(void);
int t_tc_reply(void);
int t_icmp_frag_needed(void);
int t_mss_clamp_ip_options(void);
int t_backend_tag_older_pins(void);
int t_backend_removed_flow_moves(void);
int t_partial_checksums(void);
int t_csum_equal_to_pseudo(void);
int t_outer_df_always(void);
int t_verify_reads_maglev_tables(void);
int t_without_the_twin_xdp_rewrites(void);

/* t_apply.c */
int t_apply_converges(void);
int t_pod_port_limit(void);

/* t_fuzz.c */
int t_packet_fuzz(void);

/* t_flows.c */
int t_syn_flood(void);
int t_syn_ack_flood(void);
int t_syn_skips_draining(void);
int t_reply_follows_flow(void);
int t_pod_dir_shared_index(void);
int t_flow_cache(void);
int t_vip_id_reused(void);
int t_vip_filter(void);
int t_nexthop_cache(void);
int t_stale_tuple(void);

/* t_survive.c */
int ct_insert(const char *src, const char *dst, uint16_t sport, uint16_t dport, uint32_t mark);
uint32_t mail_mark(void);
int t_handshake_marks_conntrack(void);
int t_reply_without_entry(void);
int t_non_syn_without_entry(void);
int t_second_chance(void);
int t_new_flow_limit(void);
int t_verify_mark_collision(void);

/* t_v6.c */
/* The v6 VIP vip:port/proto with one pod pod:pod_port on node (the loader's ops). */
int v6_vip(const char *vip, uint16_t port, uint8_t proto, const char *pod, uint16_t pod_port,
	   const char *node);
/* This node's v6 address (T6_NODE_SELF) in cfg, nodes B and C known by
 * theirs; a v6 VIP whose one pod is on the node known by v6 address node6
 * (ip6ip6 between them). */
int node6_setup(void);
int v6_vip_on6(const char *vip, uint16_t port, const char *pod, uint16_t pod_port,
	       const char *node6);
int t_v6_local(void);
int t_v6_untracked_counted(void);
int t_v6_remote(void);
int t_v6_port_reuse_after_change(void);
int t_v6_port_reuse_limited(void);
int t_v6_reused_port_here(void);
int t_v6_decap(void);
int t_v6_nexthop_cache(void);
int t_v6_flow_cache(void);
int t_v6_stale_entry(void);
int t_v6_headers(void);
int t_v6_icmp(void);
int t_v6_syn_flood(void);
int t_v6_handshake_sets(void);
int t_v6_second_chance(void);
int t_v6_node6(void);
int t_v6_gue(void);
int t_v6_without_xdp_tail_call(void);
int t_v6_verify_mark_collision(void);

/* t_gue.c */
int t_gue_encap(void);
int t_gue_budget(void);
int verifier_budget(void);

/* t_icmp.c */
int t_icmp_error_local(void);
int t_icmp_error_remote(void);
int t_icmp_not_ours(void);
int t_icmp_from_pod(void);

/* bench.c */
int bench_main(const char *outfile, uint32_t repeat);

int t_decap_keeps_ce(void);
int t_udp_reply_fragments(void);
int t_apply_partial_failure(void);

/* t_cases.c: the single-packet table */
size_t pkt_cases_count(void);
const char *pkt_case_name(size_t i);
unsigned int pkt_case_modes(size_t i);
int pkt_case_run(size_t i);

#endif
