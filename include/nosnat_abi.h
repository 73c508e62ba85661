/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* nosnat_abi.h - the one contract between the BPF programs and the loader:
 * map key/value layouts, limits, map names, actions and drop reasons. */
#ifndef NOSNAT_ABI_H
#define NOSNAT_ABI_H

#include <linux/types.h>

#define NOSNAT_MAGLEV_SIZE	65537	/* prime; slots per VIP table */
#define NOSNAT_MAX_VIPS		1024	/* VIP:port/proto entries: 1 << NOSNAT_VIP_ID_BITS */
#define NOSNAT_MAX_BACKENDS	16384	/* backend slots, all VIPs */
#define NOSNAT_MAX_NODES	1024
#define NOSNAT_MAX_LOCAL	16	/* local backends per VIP on one node */
#define NOSNAT_FLOW_ENTRIES	262144
#define NOSNAT_NEW_FLOW_ENTRIES	65536	/* flows before the client's first non-SYN */
#define NOSNAT_POD_IDS		7	/* VIP:ports one pod:port/proto may serve */
#define NOSNAT_MAX_WEIGHT	1000
#define NOSNAT_IPIP_OVERHEAD	20
#define NOSNAT_GUE_OVERHEAD	28	/* outer IPv4 + UDP; the inner IPv4 header follows
					 * the UDP header at once (GUE variant 1, as the
					 * kernel's fou with ipproto 4 sends it) */
#define NOSNAT_DEFAULT_GUE_PORT	5555

/* Pinned map names (<= 15 chars so bpftool shows them whole). */
#define NOSNAT_MAP_CFG		"nosnat_cfg"
#define NOSNAT_MAP_VIPS		"nosnat_vips"
#define NOSNAT_MAP_BACKENDS	"nosnat_backends"
#define NOSNAT_MAP_NODES	"nosnat_nodes"
#define NOSNAT_MAP_VIP_ADDR	"nosnat_vip_addr"
#define NOSNAT_MAP_MAGLEV	"nosnat_maglev"
#define NOSNAT_MAP_LOCAL	"nosnat_local"
#define NOSNAT_MAP_FLOWS	"nosnat_flows"
#define NOSNAT_MAP_FLOWS_NEW	"nosnat_flow_new"
#define NOSNAT_MAP_MAGLEV_PREV	"nosnat_mag_prev"
#define NOSNAT_MAP_FLOW_EVENTS	"nosnat_flow_ev"
#define NOSNAT_MAP_PODS		"nosnat_pods"
#define NOSNAT_MAP_STATS	"nosnat_stats"
#define NOSNAT_MAP_VIP_STATS	"nosnat_vip_stat"
#define NOSNAT_MAP_BE_STATS	"nosnat_be_stat"
#define NOSNAT_MAP_VIP_FILTER	"nosnat_vip_filt"
#define NOSNAT_MAP_POD_FILTER	"nosnat_pod_filt"
#define NOSNAT_MAP_POD_DIR	"nosnat_pod_dir"
#define NOSNAT_MAP_VIP_IDS	"nosnat_vip_ids"
#define NOSNAT_MAP_NEXTHOP	"nosnat_nexthop"
#define NOSNAT_MAP_VIP_META	"nosnat_vip_meta"
#define NOSNAT_MAP_CTL		"nosnat_ctl"
#define NOSNAT_MAP_VIP_GEN	"nosnat_vip_gen"
#define NOSNAT_MAP_VIPS6	"nosnat_vips6"
#define NOSNAT_MAP_VIP6_ADDR	"nosnat_vip6_addr"
#define NOSNAT_MAP_BE6		"nosnat_be6"
#define NOSNAT_MAP_FLOWS6	"nosnat_flows6"
#define NOSNAT_MAP_PODS6	"nosnat_pods6"
#define NOSNAT_MAP_FLOW6_NEW	"nosnat_flow6_new"
#define NOSNAT_MAP_NODES6	"nosnat_nodes6"
#define NOSNAT_MAP_BE_NODE6	"nosnat_be_node6"
/* Every map pinned under the pin dir, once: X(field, map, name). field is
 * the loader's fd of it (struct nosnat_maps), map the BPF map (the
 * skeleton's member), name the pin's name above. The fd struct, the loader's
 * open and close lists, detach's unpins and the tests' fd table are made
 * from this list; a test checks it against the skeleton both ways. */
#define NOSNAT_PINNED_MAPS(X)					\
	X(cfg, nosnat_cfg, NOSNAT_MAP_CFG)			\
	X(vips, nosnat_vips, NOSNAT_MAP_VIPS)			\
	X(vip_addr, nosnat_vip_addr, NOSNAT_MAP_VIP_ADDR)	\
	X(vip_filt, nosnat_vip_filt, NOSNAT_MAP_VIP_FILTER)	\
	X(vip_ids, nosnat_vip_ids, NOSNAT_MAP_VIP_IDS)		\
	X(backends, nosnat_backends, NOSNAT_MAP_BACKENDS)	\
	X(nodes, nosnat_nodes, NOSNAT_MAP_NODES)		\
	X(maglev, nosnat_maglev, NOSNAT_MAP_MAGLEV)		\
	X(maglev_prev, nosnat_mag_prev, NOSNAT_MAP_MAGLEV_PREV)	\
	X(local, nosnat_local, NOSNAT_MAP_LOCAL)		\
	X(flows, nosnat_flows, NOSNAT_MAP_FLOWS)		\
	X(flows_new, nosnat_flow_new, NOSNAT_MAP_FLOWS_NEW)	\
	X(flow_ev, nosnat_flow_ev, NOSNAT_MAP_FLOW_EVENTS)	\
	X(pods, nosnat_pods, NOSNAT_MAP_PODS)			\
	X(pod_dir, nosnat_pod_dir, NOSNAT_MAP_POD_DIR)		\
	X(pod_filt, nosnat_pod_filt, NOSNAT_MAP_POD_FILTER)	\
	X(stats, nosnat_stats, NOSNAT_MAP_STATS)		\
	X(vip_stat, nosnat_vip_stat, NOSNAT_MAP_VIP_STATS)	\
	X(be_stat, nosnat_be_stat, NOSNAT_MAP_BE_STATS)		\
	X(nexthop, nosnat_nexthop, NOSNAT_MAP_NEXTHOP)		\
	X(vip_meta, nosnat_vip_meta, NOSNAT_MAP_VIP_META)	\
	X(ctl, nosnat_ctl, NOSNAT_MAP_CTL)			\
	X(vip_gen, nosnat_vip_gen, NOSNAT_MAP_VIP_GEN)		\
	X(vips6, nosnat_vips6, NOSNAT_MAP_VIPS6)		\
	X(vip6_addr, nosnat_vip6_addr, NOSNAT_MAP_VIP6_ADDR)	\
	X(be6, nosnat_be6, NOSNAT_MAP_BE6)			\
	X(flows6, nosnat_flows6, NOSNAT_MAP_FLOWS6)		\
	X(pods6, nosnat_pods6, NOSNAT_MAP_PODS6)		\
	X(flow6_new, nosnat_flow6_new, NOSNAT_MAP_FLOW6_NEW)	\
	X(nodes6, nosnat_nodes6, NOSNAT_MAP_NODES6)		\
	X(be_node6, nosnat_be_node6, NOSNAT_MAP_BE_NODE6)

/* The pins' ABI version: raised whenever a pinned map's layout or meaning
 * changes. attach records it in nosnat_ctl.abi and, over pins of another
 * ABI, says which met before user/migrate.c carries them over (or refuses,
 * naming the field that differs). 0: pins of a nosnat that recorded none.
 *   1 - flows in two tables, conntrack mark, previous Maglev tables
 *   2 - nosnat_ctl: last_result (readiness) and abi
 *   3 - nosnat_ctl: daemon (who applied the configuration in force)
 *   4 - nosnat_ctl: partial (an apply failed part-way)
 *   5 - nosnat_vip_gen; flows: gen, NOSNAT_FLOW_MAGLEV; nosnat_flow_new
 *       an array of sets (struct nosnat_hs_set) instead of an LRU hash: an
 *       older build refuses these pins (detach first to go back), a newer
 *       one carries an LRU's handshakes into the sets
 *   6 - nosnat_cfg: gue_port, encap, decap (cfg is written anew by every
 *       attach, so either build takes the other's pins)
 *   7 - IPv6 VIPs: nosnat_vips6, nosnat_vip6_addr, nosnat_be6,
 *       nosnat_flows6, nosnat_flow6_new, nosnat_pods6, nosnat_nodes6,
 *       nosnat_be_node6 (created empty over older pins; an older build
 *       ignores them); nosnat_cfg: node_ip6 (cfg is written anew by every
 *       attach)
 *   8 - nosnat_flow6_new an array of sets (struct nosnat_hs6_set) instead
 *       of an LRU hash, as nosnat_flow_new at 5: an older build refuses
 *       these pins (detach first to go back), a newer one carries an LRU's
 *       v6 handshakes into the sets
 *   9 - nosnat_backends: tag (was padding; written by every apply and by
 *       attach over older pins; either build takes the other's pins: a
 *       program finding no tag computes it, an older one ignores it) */
#define NOSNAT_ABI_VERSION	9

/* Maps pinned by earlier versions that no version uses now: X(name). attach
 * refuses pins holding one (their flows cannot be carried over), detach
 * removes them. */
#define NOSNAT_RETIRED_MAPS(X)						\
	X("nosnat_rnat")		/* reverse NAT, before pod matching */

/* Actions, reasons and hooks, each listed once: X(ID, name[, kind]) makes
 * NOSNAT_ACT_ID / NOSNAT_R_ID / NOSNAT_HOOK_ID and the name that stats and
 * metrics show (user/names.c), so that no value can lack its name. Values
 * are positions: add only at the end (nosnat_stats is indexed by them; an
 * attach over older pins re-indexes the counters). */

/* What happened to a packet. */
#define NOSNAT_ACTIONS(X)						\
	X(PASS, pass)		/* not ours: left untouched */		\
	X(LOCAL, local)		/* VIP -> local pod, DNAT + XDP_PASS */	\
	X(ENCAP, encap)		/* VIP -> pod on another node, IPIP sent */ \
	X(DECAP, decap)		/* IPIP from a node -> local pod */	\
	X(REPLY_NAT, reply_nat)	/* reply src pod:port -> VIP:port (tc) */ \
	X(DROP, drop)

/* Why. One list for every program; doubles as the metrics label. kind:
 * PLAIN (how a packet went its ordinary way), DROP (nosnat_drops_total),
 * FLOW (how a flow without an entry was handled: nosnat_flow_events_total). */
#define NOSNAT_REASONS(X)						\
	X(NONE, none, PLAIN)		/* the ordinary case of the action */ \
	X(NEIGH_FALLBACK, neigh_fallback, PLAIN) /* encap handed to tc for neighbour resolution */ \
	X(ICMP_FRAG_NEEDED, icmp_frag_needed, DROP) /* too big with DF: ICMP sent to client */ \
	X(NO_BACKEND, no_backend, DROP)					\
	X(UNKNOWN_ENCAP_SRC, unknown_encap_src, DROP)			\
	X(ENCAP_NOT_VIP, encap_not_vip, DROP) /* IPIP from a node, inner dst not a VIP */ \
	X(FRAGMENT, fragment, DROP)					\
	X(MALFORMED, malformed, DROP)					\
	X(FIB_FAILED, fib_failed, DROP)					\
	X(TOO_BIG, too_big, DROP)	/* too big without DF, or ICMP impossible */ \
	X(NO_NODE_IP, no_node_ip, DROP)	/* attached without a node address */ \
	X(TC_FORWARD, tc_forward, PLAIN) /* encapsulated, sent on by the tc twin (veth uplink) */ \
	X(SPOOFED, spoofed, DROP)	/* VIP packet claiming a VIP or this node as source */ \
	X(NEW_FLOW_LIMITED, new_flow_limited, FLOW) /* above the new-flow rate: Maglev only, not recorded */ \
	X(RECOVERED, recovered, FLOW)	/* no flow entry: recomputed from the Maglev table */ \
	X(CT_RECOVERED, ct_recovered, FLOW) /* no flow entry: proven by the conntrack mark */ \
	X(SECOND_CHANCE, second_chance, FLOW) /* the pod here lacks the connection: sent once to \
					       * the previous table's pod */ \
	X(NOT_OWNED, not_owned, FLOW)	/* no pod here has the connection, no second chance \
					 * left: delivered unrecorded (the pod resets it) */ \
	X(ICMP_ERROR, icmp_error, PLAIN) /* an ICMP error about a VIP flow, sent to its pod */ \
	X(ICMP_NO_FLOW, icmp_no_flow, DROP) /* an ICMP error about a VIP flow nobody here knows */ \
	X(ICMP_LIMITED, icmp_limited, DROP) /* too big with DF, but this CPU sent its \
					     * NOSNAT_ICMP_PER_SEC frag-needed already */ \
	X(CT_OTHER_VIP, ct_other_vip, DROP) /* the pod's conntrack entry of the flow names \
					     * another VIP, or is a connection nosnat did not \
					     * see begin: not this VIP's */ \
	X(CT_UNTRACKED, ct_untracked, FLOW) /* a VIP flow past its handshake that this \
					     * node's conntrack does not hold: conntrack \
					     * tracks nothing here, and a lost flow entry of a \
					     * pod here cannot be recovered */ \
	X(TO_TC, to_tc, PLAIN)		/* XDP could not finish it (no metadata room, \
					 * a neighbour to resolve): passed on untouched \
					 * and uncounted elsewhere; tc ingress did the rest */ \
	X(GUE, gue, PLAIN)		/* encap: sent in GUE; decap: taken off GUE (none: \
					 * IPIP, either way) */

/* Where a verdict was reached. */
#define NOSNAT_HOOKS(X)							\
	X(XDP, xdp)			/* uplink ingress, XDP */		\
	X(TC_INGRESS, tc_ingress)	/* uplink ingress, tc: whatever XDP passed on, or \
					 * all of it with --hook tc */ \
	X(TC_EGRESS, tc_egress)		/* uplink egress, tc (reply NAT) */

enum nosnat_action {
#define X(id, name) NOSNAT_ACT_##id,
	NOSNAT_ACTIONS(X)
#undef X
	NOSNAT_ACT_MAX,
};

enum nosnat_reason {
#define X(id, name, kind) NOSNAT_R_##id,
	NOSNAT_REASONS(X)
#undef X
	NOSNAT_R_MAX,
};

enum nosnat_hook {
#define X(id, name) NOSNAT_HOOK_##id,
	NOSNAT_HOOKS(X)
#undef X
	NOSNAT_HOOK_MAX,
};

/* nosnat_stats is indexed by nosnat_stat_slot(hook, action, reason). */
#define NOSNAT_STATS_SLOTS	(NOSNAT_HOOK_MAX * NOSNAT_ACT_MAX * NOSNAT_R_MAX)
#define nosnat_stat_slot(hook, action, reason) \
	(((hook) * NOSNAT_ACT_MAX + (action)) * NOSNAT_R_MAX + (reason))

/* nosnat_cfg flags */
#define NOSNAT_CFG_ENCAP_VIA_TC	0x1	/* hand every encapsulated frame to tc: on a veth
					 * uplink XDP_TX is lost unless the peer runs XDP */
#define NOSNAT_CFG_TWIN_DNAT	0x2	/* the tc ingress twin rewrites packets for pods
					 * here (NOSNAT_META_LOCAL); without it, as while
					 * an older nosnat takes over, XDP rewrites them */
#define NOSNAT_CFG_HOOK_TC	0x4	/* no XDP program attached: tc ingress runs the
					 * whole dataplane (--hook tc) */
#define NOSNAT_CFG_XDP_META	0x8	/* XDP hands work to tc through metadata; clear:
					 * the program was loaded without it (a kernel
					 * that refuses bpf_xdp_adjust_meta, --xdp-meta
					 * off) and passes what it cannot finish untouched */

/* How nodes carry a VIP packet to a pod's node (nosnat_cfg.encap), and what
 * a node takes off (nosnat_cfg.decap, bits). */
enum nosnat_encap {
	NOSNAT_ENCAP_IPIP = 0,	/* IPv4 in IPv4, protocol 4 */
	NOSNAT_ENCAP_GUE = 1,	/* IPv4 in UDP to gue_port (GUE variant 1) */
};
#define NOSNAT_DECAP_IPIP	0x1
#define NOSNAT_DECAP_GUE	0x2

/* nosnat_cfg: one-element array, written by attach. */
struct nosnat_cfg {
	__be32 node_ip;		/* this node's address on the uplink */
	__u32 ifindex;		/* the uplink */
	__u16 mtu;		/* uplink MTU */
	__u16 mss_max;		/* clamp for encapsulated TCP SYN/SYN-ACK */
	__u32 flags;
	__u32 new_flow_limit;	/* SYNs recorded per CPU and second on the way to
				 * another node; 0 = no limit */
	__u32 ct_mark_mask;	/* conntrack mark bits that record a VIP flow on the
				 * pod's node; 0 = conntrack not used */
	__be16 gue_port;	/* GUE's UDP port: sent to, and taken off when
				 * decap has NOSNAT_DECAP_GUE */
	__u8 encap;		/* enum nosnat_encap: what this node sends */
	__u8 decap;		/* NOSNAT_DECAP_*: what it takes from known nodes */
	__u8 node_ip6[16];	/* this node's IPv6 address on the uplink (all zero:
				 * none): the source of ip6ip6 to v6 nodes, and
				 * where they send theirs */
};
_Static_assert(sizeof(struct nosnat_cfg) == 44, "nosnat_cfg size");

#define NOSNAT_DEFAULT_NEW_FLOW_LIMIT	100000
#define NOSNAT_FRAG_LIFETIME_MS		100	/* a pod's UDP reply's fragments leave within it */
#define NOSNAT_ICMP_PER_SEC		100	/* frag-needed a CPU sends per second, at most */
#define NOSNAT_DEFAULT_CT_MARK_MASK	0x00ffff00u

/* The conntrack mark value (within mask) that says "this connection came
 * through VIP addr:port/proto". Never 0 under a non-empty mask: 0 is every
 * connection nosnat did not make. */
static inline __u32 nosnat_vip_mark(__be32 addr, __be16 port, __u8 proto, __u32 mask)
{
	__u64 v = ((__u64)addr << 32) | ((__u32)port << 8) | proto;
	__u32 m;

	/* every input bit reaches every output bit (murmur3's finaliser):
	 * any mask sees the whole VIP */
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	v *= 0xc4ceb9fe1a85ec53ULL;
	v ^= v >> 33;
	m = (__u32)v & mask;
	return m ? m : mask & -mask;
}

/* nosnat_vips key: what a client addresses. */
struct nosnat_vip_key {
	__be32 addr;
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};
_Static_assert(sizeof(struct nosnat_vip_key) == 8, "vip key size");

/* One VIP's Maglev table: the single value of an inner map of
 * nosnat_maglev. One value, so the loader can fill it with one memcpy
 * (mmap) or one update before swapping it in. */
struct nosnat_maglev_slots {
	__u32 backend[NOSNAT_MAGLEV_SIZE];	/* backend id per slot */
};

/* Address filters, one bit per hash of an address, set for every address of
 * the set (more bits may be set, never fewer). nosnat_vip_filt holds the VIP
 * addresses: a packet whose destination's bit is clear is not ours, and XDP
 * passes it without a hash lookup. nosnat_pod_filt holds this node's pods
 * (nosnat_pods): tc egress passes a packet from any other source as cheaply. */
#define NOSNAT_ADDR_FILTER_BITS	65536
struct nosnat_addr_filter {
	__u64 bits[NOSNAT_ADDR_FILTER_BITS / 64];
};

static inline __u32 nosnat_addr_filter_bit(__be32 addr)
{
	return ((__u32)addr * 0x9e3779b1U) >> 16;	/* Fibonacci hashing, top 16 bits */
}

/* nosnat_vip_ids: array by VIP id, the key that id serves now (all zero when
 * free) and its reference: the id plus a generation counted up each time the
 * id is given to a VIP and each time it is taken back. A flow records the
 * reference, so an established flow proves its VIP with one array lookup and
 * one comparison (a matching reference serves the key the flow was found
 * by), and the flows of a deleted VIP never come back to life when the id
 * (and even the same key and backend slots) is used again. */
#define NOSNAT_VIP_ID_BITS	10
#define nosnat_vip_ref(id, gen)	((__u32)(id) | ((__u32)(gen) << NOSNAT_VIP_ID_BITS))
#define nosnat_vip_ref_id(ref)	((ref) & (NOSNAT_MAX_VIPS - 1))

struct nosnat_vip_id {
	struct nosnat_vip_key key;
	__u32 ref;
};
_Static_assert(sizeof(struct nosnat_vip_id) == 12, "vip id size");
_Static_assert(NOSNAT_MAX_VIPS == 1 << NOSNAT_VIP_ID_BITS, "VIP ids fill the id bits");

struct nosnat_vip {
	__u32 id;		/* index into nosnat_maglev, nosnat_local, stats */
	__u32 active;		/* backends with weight > 0 in the table */
};
_Static_assert(sizeof(struct nosnat_vip) == 8, "vip size");

#define NOSNAT_BE_IN_USE	0x1
#define NOSNAT_BE_NODE6		0x2	/* the pod's node is an IPv6 address (a v6 VIP's
					 * pod only): node holds its fold, nosnat_be_node6
					 * the address; ip6ip6 carries its packets */

/* nosnat_backends: array indexed by backend id (unique per VIP + pod:port). */
struct nosnat_backend {
	__be32 addr;		/* pod address */
	__be32 node;		/* address of the node running the pod */
	__be16 port;		/* pod port */
	__u16 weight;		/* 0 = drain */
	__u32 vip_id;
	__u32 flags;		/* NOSNAT_BE_IN_USE */
	__u32 tag;		/* NOSNAT_BE_TAG_KNOWN | backend_tag(addr, port), as the
				 * loader wrote it; 0 from a build before ABI 9, and
				 * then the programs compute it (backend_tag_of) */
};
_Static_assert(sizeof(struct nosnat_backend) == 24, "backend size");

/* The backend's tag is in nosnat_backend.tag: the programs need not hash
 * its address and port for every packet sent to its node. */
#define NOSNAT_BE_TAG_KNOWN	0x10000

/* nosnat_local: per VIP id, the backends that run on this node. */
struct nosnat_local {
	__u32 count;
	__u32 ids[NOSNAT_MAX_LOCAL];
};
_Static_assert(sizeof(struct nosnat_local) == 4 + 4 * NOSNAT_MAX_LOCAL, "local size");

/* nosnat_flows key: the client's 5-tuple towards the VIP. */
struct nosnat_flow_key {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct nosnat_flow_key) == 16, "flow key size");

/* nosnat_flows holds established flows (the client sent more than a SYN);
 * nosnat_flow_new (struct nosnat_hs_set, below) the flows before that, so
 * that a flood of SYNs churns only the small table. Layouts only grow at the end: an
 * attach over older pins copies each entry's common prefix. */
#define NOSNAT_FLOW_CT_SEEN	0x1	/* pod's node: its conntrack entry was looked up
					 * and claimed with the VIP's mark (or absent) */
#define NOSNAT_FLOW_MAGLEV	0x4	/* the pod is what the VIP's Maglev table of
					 * generation gen gives the flow's hash */
#define NOSNAT_FLOW_SENT_ON	0x8	/* nosnat_flows6 of a pod's node: a flow a node
					 * sent here that no pod here owns, sent on once
					 * to the previous table's pod on a third node
					 * (its second chance): its packets follow */
#define NOSNAT_FLOW_HANDED_ON	0x2	/* nosnat_flow_new: XDP without metadata recorded
					 * the SYN and passed it on untouched; whoever
					 * delivers it counts the new flow */

struct nosnat_flow {
	__u32 backend_id;
	__be32 backend_addr;	/* guards against a reused backend slot */
	__u32 vip_ref;		/* VIP id + generation, see nosnat_vip_ids */
	__be32 syn_ack;		/* client's ISN + 1 from the SYN through the VIP, 0 if not
				 * seen: a SYN-ACK of the pod acking anything else (beyond
				 * 64k of SYN data) belongs to another connection on the
				 * same addresses and ports, say one made straight to the
				 * pod, and the flow is stale */
	__u32 flags;		/* NOSNAT_FLOW_* */
	__u32 gen;		/* nosnat_vip_gen's value when the pod was picked */
#ifdef NOSNAT_TEST_FLOW_SPARE	/* tests only: a later build whose flow layout grew */
	__u32 spare;
#endif
};
#ifdef NOSNAT_TEST_FLOW_SPARE
_Static_assert(sizeof(struct nosnat_flow) == 28, "flow size");
#else
_Static_assert(sizeof(struct nosnat_flow) == 24, "flow size");
#endif

/* nosnat_flow_new: the handshakes, a set-associative table (an array of
 * sets, not a hash map): a flow's set is a multiplicative hash of its key,
 * and it takes a free way of that set, else the way the set filled longest
 * ago (first in, first out: a handshake's entry survives the next
 * NOSNAT_HS_WAYS inserts into its set, about NOSNAT_NEW_FLOW_ENTRIES in
 * all, as an LRU of that size would keep it). A lookup reads one set, an
 * insert writes it: no bucket walk, no list to take an entry from, no lock.
 * A way whose check does not match its key and flow (torn by two CPUs
 * writing the set at once) is read as empty: the flow's next packet
 * recovers it as a lost handshake. An empty way has proto 0. */
#define NOSNAT_HS_WAYS		4
#define NOSNAT_HS_SET_BITS	14
#define NOSNAT_HS_SETS		(1U << NOSNAT_HS_SET_BITS)
_Static_assert(NOSNAT_HS_SETS * NOSNAT_HS_WAYS == NOSNAT_NEW_FLOW_ENTRIES, "handshake sets");

struct nosnat_hs_set {
	struct nosnat_flow_key key[NOSNAT_HS_WAYS];
	struct nosnat_flow flow[NOSNAT_HS_WAYS];
	__u32 check[NOSNAT_HS_WAYS];	/* nosnat_hs_check of the way, 0 when empty */
	__u32 next;			/* the way an insert into a full set takes */
	__u32 pad[3];
};

/* nosnat_hs_set_of and nosnat_hs_check place and check pinned entries: a
 * change to either is a change of the pins' ABI version. */
static inline __u32 nosnat_hs_set_of(const struct nosnat_flow_key *k)
{
	__u64 h = (((__u64)k->src << 32) | k->dst) * 0x9e3779b97f4a7c15ULL ^
		  ((((__u64)k->sport << 16) | k->dport) << 8 | k->proto) * 0xc2b2ae3d27d4eb4fULL;

	h ^= h >> 29;		/* the low input bits reach the top bits too */
	h *= 0xbf58476d1ce4e5b9ULL;
	return (__u32)(h >> (64 - NOSNAT_HS_SET_BITS));
}

/* What a way's check must be: its key and the parts of its flow that are
 * written once (syn_ack, flags and gen change in place). Never 0. */
static inline __u32 nosnat_hs_check(const struct nosnat_flow_key *k, const struct nosnat_flow *f)
{
	__u64 h = (((__u64)k->src << 32) | k->dst) * 0xff51afd7ed558ccdULL ^
		  ((((__u64)k->sport << 16) | k->dport) << 8 | k->proto) * 0xc4ceb9fe1a85ec53ULL ^
		  (((__u64)f->backend_id << 32) | f->backend_addr) * 0x9e3779b97f4a7c15ULL ^
		  (__u64)f->vip_ref * 0xc2b2ae3d27d4eb4fULL;

	return (__u32)(h >> 32) | 1;
}

/* nosnat_vip_gen, by VIP id: the generation of the VIP's Maglev table,
 * raised to an odd value before a new table is swapped in and to the next
 * even one after. A flow recorded (NOSNAT_FLOW_MAGLEV) under the even
 * generation still in force has the pod Maglev gives its hash now: a SYN
 * on its addresses and ports would pick that pod too, which is why a SYN
 * need not look it up (lib/lookup.h, flow_superseded). */

/* Coarse clock of the dataplane: jiffies >> 7, a tick of 0.128 s at HZ=1000
 * (1.28 s at HZ=100). A cached next hop lives until the tick ends. */
#define NOSNAT_TICK_SHIFT	7

/* nosnat_nexthop: per-CPU cache of bpf_fib_lookup results for the outer
 * header of encapsulated packets, slot by hash of the remote node. */
#define NOSNAT_NEXTHOP_SLOTS	1024
struct nosnat_nexthop {
	__be32 node;		/* the remote node (outer destination) */
	__u32 in_ifindex;	/* looked up for packets arriving here */
	__u32 out_ifindex;
	__u32 tick;		/* valid during this tick only */
	__u8 dmac[6];
	__u8 smac[6];
	__u32 pad;
};
_Static_assert(sizeof(struct nosnat_nexthop) == 32, "nexthop size");

static inline __u32 nosnat_nexthop_slot(__be32 node)
{
	return ((__u32)node * 0x9e3779b1U) >> 22;	/* top 10 bits */
}

/* nosnat_nexthop6: the same for nodes known by a v6 address (ip6ip6), the
 * whole address compared. Not pinned: a cache, empty with every load. */
#define NOSNAT_NEXTHOP6_SLOTS	256
struct nosnat_nexthop6 {
	__u32 node[4];		/* the remote node's v6 address */
	__u32 in_ifindex;
	__u32 out_ifindex;
	__u32 tick;
	__u8 dmac[6];
	__u8 smac[6];
};
_Static_assert(sizeof(struct nosnat_nexthop6) == 40, "nexthop6 size");

static inline __u32 nosnat_nexthop6_slot(const __u32 *node)
{
	return ((node[0] ^ node[1] ^ node[2] ^ node[3]) * 0x9e3779b1U) >> 24;	/* top 8 bits */
}

/* nosnat_pods: this node's pods as their replies show them (address, port,
 * protocol) -> the backend slots they fill, one per VIP:port they serve. A
 * reply is rewritten to the VIP only if the flow table holds the matching
 * flow: client address and port, through that VIP, to that slot. Replies
 * and requests share the one flow entry (and its LRU fate).
 *
 * nosnat_pod_dir is the fast way in: an array indexed by a hash of the key
 * (nosnat_pod_index), each element the entry of the smallest key with that
 * index, NOSNAT_POD_MORE set if other keys share it (those only in
 * nosnat_pods). A reply finds its pod with an array lookup instead of a hash
 * lookup; nosnat_pods stays the complete table. */
struct nosnat_pod_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct nosnat_pod_key) == 8, "pod key size");

/* One VIP:port a pod port serves: its slot, and the VIP as its flows name it. */
struct nosnat_pod_slot {
	__u32 id;		/* backend id */
	__u32 vip_ref;		/* the VIP's reference (nosnat_vip_ids) */
	__be32 vip_addr;
	__be16 vip_port;
	__u16 pad;
};
_Static_assert(sizeof(struct nosnat_pod_slot) == 16, "pod slot size");

#define NOSNAT_POD_MORE		0x1	/* nosnat_pod_dir: more keys share this index */
#define NOSNAT_POD_DIR_BITS	14
#define NOSNAT_POD_DIR_SLOTS	(1 << NOSNAT_POD_DIR_BITS)

struct nosnat_pod {
	struct nosnat_pod_key key;	/* all zero: an empty nosnat_pod_dir element */
	__u32 count;
	__u32 flags;			/* NOSNAT_POD_MORE (nosnat_pod_dir only) */
	struct nosnat_pod_slot slots[NOSNAT_POD_IDS];	/* by backend id, ascending */
};
_Static_assert(sizeof(struct nosnat_pod) == 128, "pod size");

static inline __u32 nosnat_pod_index(const struct nosnat_pod_key *k)
{
	__u64 v = ((__u64)k->addr << 32) | ((__u32)k->port << 8) | k->proto;

	return (__u32)((v * 0x9e3779b97f4a7c15ULL) >> (64 - NOSNAT_POD_DIR_BITS));
}

struct nosnat_counter {
	__u64 packets;
	__u64 bytes;
};

struct nosnat_vip_counter {
	__u64 packets;
	__u64 bytes;
	__u64 flows;
};

/* Control-plane records, kept in pinned maps so that every nosnat command
 * (and a restarted daemon) sees them. The BPF programs never read these. */
#define NOSNAT_VIP_NAME_LEN	64

struct nosnat_vip_meta {	/* nosnat_vip_meta, by VIP id */
	char name[NOSNAT_VIP_NAME_LEN];	/* service name from the config, or "" */
};

struct nosnat_ctl {		/* nosnat_ctl, one element */
	__u64 reloads;			/* configurations applied by apply/run */
	__u64 reload_failures;		/* rejected or failed */
	__u64 last_success;		/* unix time of the last good one */
	__u32 last_result;		/* NOSNAT_CTL_*: the configuration in force */
	__u32 abi;			/* NOSNAT_ABI_VERSION of the last attach */
	__u64 daemon;			/* who applied it: the daemon's start time
					 * (/proc/PID/stat's starttime), 0: the CLI */
	__u32 partial;			/* an apply failed part-way: the next one
					 * re-syncs every VIP's table */
	__u32 pad;
};
/* last_result: a daemon sets PENDING (and itself as daemon) when it starts,
 * then APPLIED or FAILED with each configuration it tries; `nosnat health`
 * (the readiness probe) is ready only while it is APPLIED and, when a daemon
 * applied it, that daemon runs in the probe's PID namespace: over pins an
 * earlier daemon left, a new one is not ready before it has applied its own. */
#define NOSNAT_CTL_PENDING	0
#define NOSNAT_CTL_APPLIED	1
#define NOSNAT_CTL_FAILED	2
_Static_assert(sizeof(struct nosnat_ctl) == 48, "ctl size");

/* The outer IPv4 ID of a packet between nodes: the chosen pod's 15-bit tag
 * (backend_tag), and this bit when a node that found no owner among its own
 * pods forwarded it to the previous Maglev table's pod (at most once). */
#define NOSNAT_ID_SECOND_CHANCE	0x8000
#define NOSNAT_ID_TAG_MASK	0x7fff

/* The largest uplink MTU whose packets XDP completes partial checksums of
 * (jumbo frames; attach warns above it). */
#define NOSNAT_MAX_MTU		9216

/* XDP -> tc ingress, in the frame's metadata area: what XDP decided and
 * only the skb can finish exactly. NOSNAT_META_MAGIC: an encapsulated frame
 * to send from ifindex through the kernel's neighbour code (its inner
 * checksum is left as it came: partial or complete, the skb knows; tc
 * clamps a SYN's MSS). NOSNAT_META_LOCAL: a VIP packet for a pod here,
 * rewritten by tc from vip:vip_port to pod:pod_port with the skb's
 * checksum helpers, which handle partial (offloaded) and complete sums
 * alike; action is what XDP counted (local or decap). */
#define NOSNAT_META_MAGIC	0x6e6f736eU	/* "nosn" */
#define NOSNAT_META_LOCAL	0x6e6f736cU	/* "nosl" */
struct nosnat_meta {
	__u32 magic;
	__u32 ifindex;		/* hand-off: the interface to send from */
	__be32 vip;		/* local: the rewrite, vip:vip_port -> pod:pod_port */
	__be32 pod;
	__be16 vip_port;
	__be16 pod_port;
	__u8 proto;
	__u8 action;
	__u8 pad[2];
};
_Static_assert(sizeof(struct nosnat_meta) == 24, "meta size (XDP allows 32)");

/* IPv6. A v6 VIP shares the VIP ids with v4 ones (nosnat_maglev,
 * nosnat_mag_prev, nosnat_local, nosnat_vip_ids, nosnat_vip_gen, the
 * counters and nosnat_vip_meta are by id), and its backends the backend
 * slots: nosnat_backends[id] holds node (the pod's node, an IPv4 address:
 * the node network is IPv4, a v6 packet crosses it in IPv4, protocol 41),
 * port, weight, vip_id and flags as for v4, and as addr the fold of the
 * pod's v6 address (nosnat_addr6_fold, never 0); nosnat_be6[id] the whole
 * address. The address filters (nosnat_vip_filt, nosnat_pod_filt) hold v6
 * addresses by their fold too. A v6 VIP's pod may be on a node known by
 * its IPv6 address (an IPv6 node network): its slot then has
 * NOSNAT_BE_NODE6, node the fold of that address, and nosnat_be_node6[id]
 * the address; nosnat_nodes6 holds the known v6 node addresses (key: the
 * 16 bytes, value: 1). A v6 VIP's nosnat_vip_ids key is
 * { fold, port, proto, NOSNAT_VIP_ID_V6 }, and its conntrack mark
 * nosnat_vip_mark(fold, port, proto, mask). */
#define NOSNAT_FLOW6_ENTRIES	65536
#define NOSNAT_6IN4_OVERHEAD	20	/* outer IPv4, protocol 41 */
#define NOSNAT_IP6IP6_OVERHEAD	40	/* outer IPv6, next header 41; its flow label
					 * carries the pod's tag (and the second
					 * chance's bit) as IPv4's ID does */
#define NOSNAT_VIP_ID_V6	6	/* nosnat_vip_id.key.pad of a v6 VIP */

static inline __be32 nosnat_addr6_fold(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;
	__u32 f = w[0] ^ w[1] ^ w[2] ^ w[3];

	return f ? f : 1;
}

/* nosnat_vips6 key, and nosnat_vip6_addr's key (the address alone). */
struct nosnat_vip6_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct nosnat_vip6_key) == 20, "vip6 key size");

/* nosnat_be6: array by backend id, a v6 pod's address (zero: a v4 one). */
struct nosnat_be6 {
	__u8 addr[16];
};

/* nosnat_flows6 key: the client's 5-tuple towards the v6 VIP; value struct
 * nosnat_flow as for v4 (backend_addr: the fold). nosnat_flow6_new, sets
 * of the same keys and values (struct nosnat_hs6_set, as nosnat_flow_new's
 * for v4), holds v6 flows that have shown only their first packet (a SYN,
 * a UDP datagram): a flood churns that table alone, and the flow's next
 * packet moves its entry to nosnat_flows6. The key is 8-byte aligned: the
 * sets' hash and compare read it as five words. */
#define NOSNAT_NEW_FLOW6_ENTRIES	16384
struct nosnat_flow6_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
} __attribute__((aligned(8)));
_Static_assert(sizeof(struct nosnat_flow6_key) == 40, "flow6 key size");

#define NOSNAT_HS6_SET_BITS	12
#define NOSNAT_HS6_SETS		(1U << NOSNAT_HS6_SET_BITS)
_Static_assert(NOSNAT_HS6_SETS * NOSNAT_HS_WAYS == NOSNAT_NEW_FLOW6_ENTRIES, "v6 handshake sets");

struct nosnat_hs6_set {
	struct nosnat_flow6_key key[NOSNAT_HS_WAYS];
	struct nosnat_flow flow[NOSNAT_HS_WAYS];
	__u32 check[NOSNAT_HS_WAYS];	/* nosnat_hs6_check of the way, 0 when empty */
	__u32 next;			/* the way an insert into a full set takes */
	__u32 pad[3];
};
_Static_assert(sizeof(struct nosnat_hs6_set) ==
	       NOSNAT_HS_WAYS * (sizeof(struct nosnat_flow6_key) + sizeof(struct nosnat_flow) + 4) + 16,
	       "v6 handshake set size");

/* A v6 key read as five words (may_alias: the key is bytes to C). */
typedef __u64 __attribute__((may_alias)) nosnat_key_word;

/* A v6 key's five words, folded (the addresses' halves) into three. */
static inline void nosnat_flow6_fold(const struct nosnat_flow6_key *k, __u64 *src, __u64 *dst,
				     __u64 *rest)
{
	const nosnat_key_word *w = (const nosnat_key_word *)k;

	*src = w[0] ^ w[1];
	*dst = w[2] ^ w[3];
	*rest = w[4];
}

/* As nosnat_hs_set_of and nosnat_hs_check, for a v6 key (the same rule: a
 * change to either is a change of the pins' ABI version). */
static inline __u32 nosnat_hs6_set_of(const struct nosnat_flow6_key *k)
{
	__u64 a, b, c, h;

	nosnat_flow6_fold(k, &a, &b, &c);
	h = a * 0x9e3779b97f4a7c15ULL ^ b * 0xc2b2ae3d27d4eb4fULL ^ c * 0x165667b19e3779f9ULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return (__u32)(h >> (64 - NOSNAT_HS6_SET_BITS));
}

static inline __u32 nosnat_hs6_check(const struct nosnat_flow6_key *k, const struct nosnat_flow *f)
{
	__u64 a, b, c, h;

	nosnat_flow6_fold(k, &a, &b, &c);
	h = a * 0xff51afd7ed558ccdULL ^ b * 0xc4ceb9fe1a85ec53ULL ^ c * 0x27d4eb2f165667c5ULL ^
	    (((__u64)f->backend_id << 32) | f->backend_addr) * 0x9e3779b97f4a7c15ULL ^
	    (__u64)f->vip_ref * 0xc2b2ae3d27d4eb4fULL;
	return (__u32)(h >> 32) | 1;
}

/* nosnat_flow6_cache: per-CPU copies of busy v6 flows' entries, each valid
 * during the jiffy it was made in (bpf/lib/v6.h), a slot by the key's
 * folded words (another flow's copy may hold it). Not pinned: empty with
 * every load. */
#define NOSNAT_FLOW6_CACHE_BITS	10
struct nosnat_flow6_cache_entry {
	struct nosnat_flow6_key key;
	struct nosnat_flow flow;
	__u64 jiffy;
};

static inline __u32 nosnat_flow6_cache_slot(const struct nosnat_flow6_key *k)
{
	__u64 a, b, c;

	nosnat_flow6_fold(k, &a, &b, &c);
	return (__u32)((a * 0x9e3779b97f4a7c15ULL ^ (b ^ c) * 0xc2b2ae3d27d4eb4fULL) >>
		       (64 - NOSNAT_FLOW6_CACHE_BITS));
}

/* nosnat_pods6: this node's v6 pods as their replies show them, as
 * nosnat_pods for v4 (no directory: v6 replies take the hash lookup). */
struct nosnat_pod6_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct nosnat_pod6_key) == 20, "pod6 key size");

struct nosnat_pod6_slot {
	__u32 id;		/* backend id */
	__u32 vip_ref;		/* the VIP's reference (nosnat_vip_ids) */
	__u8 vip_addr[16];
	__be16 vip_port;
	__u16 pad;
};
_Static_assert(sizeof(struct nosnat_pod6_slot) == 28, "pod6 slot size");

struct nosnat_pod6 {
	__u32 count;
	__u32 pad;
	struct nosnat_pod6_slot slots[NOSNAT_POD_IDS];	/* by backend id, ascending */
};
_Static_assert(sizeof(struct nosnat_pod6) == 8 + 28 * NOSNAT_POD_IDS, "pod6 size");

#endif /* NOSNAT_ABI_H */
