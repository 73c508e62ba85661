/* v6.h - IPv6 VIPs, at tc: a client's packet to a v6 VIP goes to its pod,
 * DNATed here or to the pod's node, in IPv4 (protocol 41, "6in4") or in
 * IPv6 (ip6ip6) as the node is known, which takes it off and DNATs it; the
 * pod's replies leave as the VIP (tc egress). Tables: nosnat_vips6,
 * nosnat_flows6, nosnat_flow6_new, nosnat_pods6 (nosnat_abi.h); VIP ids,
 * Maglev tables and backend slots are shared with IPv4.
 *
 * The walk (walk6) is written once for both hooks. tc ingress runs all of
 * it, in global functions of its own; XDP runs it as a program of its own
 * (nosnat_xdp6, tail-called by XDP's entry point for a frame that may be a
 * v6 VIP's), so that none of it adds to the v4 walk's verifier budget or
 * stack, and finishes an established flow's packets to pods on other nodes
 * (xdp_walk6_flow); the rest it passes on untouched, for tc. */
#ifndef NOSNAT_V6_H
#define NOSNAT_V6_H

#include <linux/ipv6.h>
#include "maps.h"
#include "parse.h"
#include "stats.h"
#include "lookup.h"
#include "nat.h"
#include "skb.h"
#include "deliver.h"

#ifndef ETH_P_IPV6
#define ETH_P_IPV6	0x86DD
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6	58
#endif
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV6
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6	(1ULL << 8)	/* Linux 6.3+ */
#endif

/* Extension headers walked before the transport header, at most. */
#define V6_EXT_MAX	4
/* What tc pulls into the linear area for a v6 packet that may be ours: L2
 * with two tags, an outer IPv4 header with options (6in4), the IPv6 header,
 * some extension headers, TCP with options. */
#define V6_PULL_LEN	256

struct pkt6 {
	void *data_end;
	struct ipv6hdr *ip6;
	void *l4;		/* TCP/UDP header (NULL: none, or a fragment) */
	__u32 l2_len;
	__u32 l4_off;		/* from the frame's start */
	__u8 proto;		/* the transport protocol, past extension headers */
	__u8 fragment;		/* a fragment header was seen */
};

/* L2, up to two VLAN tags: the ethertype after them, the offset of L3. */
static __always_inline __be16 l2_proto(void *data, void *data_end, __u32 *off)
{
	struct ethhdr *eth = data;
	__be16 proto;

	*off = sizeof(*eth);
	if ((void *)(eth + 1) > data_end)
		return 0;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_tag *vt = data + *off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vt + 1) > data_end)
			return 0;
		proto = vt->proto;
		*off += sizeof(*vt);
	}
	return proto;
}

/* The 16 bytes of an IPv6 address, folded to the 32 bits the address
 * filters and backend slots hold (nosnat_addr6_fold). */
static __always_inline __be32 addr6_fold(const struct in6_addr *a)
{
	__u32 f = a->in6_u.u6_addr32[0] ^ a->in6_u.u6_addr32[1] ^ a->in6_u.u6_addr32[2] ^
		  a->in6_u.u6_addr32[3];

	return f ? f : 1;
}

static __always_inline int addr6_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return a->in6_u.u6_addr32[0] == b->in6_u.u6_addr32[0] &&
	       a->in6_u.u6_addr32[1] == b->in6_u.u6_addr32[1] &&
	       a->in6_u.u6_addr32[2] == b->in6_u.u6_addr32[2] &&
	       a->in6_u.u6_addr32[3] == b->in6_u.u6_addr32[3];
}

/* This node's v6 address folded as a v6 node's slot holds it (0: none). */
static __always_inline __be32 node6_fold(const struct nosnat_cfg *cfg)
{
	const struct in6_addr *a = (const struct in6_addr *)cfg->node_ip6;

	if (!(a->in6_u.u6_addr32[0] | a->in6_u.u6_addr32[1] | a->in6_u.u6_addr32[2] |
	      a->in6_u.u6_addr32[3]))
		return 0;
	return addr6_fold(a);
}

/* Is pod id (slot be) on this node, by its v4 node address or its v6 one?
 * A v6 node is compared whole: two node addresses may share a fold (per
 * rack /64s do), and a pod on the other would be taken for this node's. */
static __always_inline int be_here6(const struct nosnat_backend *be, __u32 id,
				    const struct nosnat_cfg *cfg)
{
	const struct nosnat_be6 *n6;

	if (!(be->flags & NOSNAT_BE_NODE6))
		return be->node == cfg->node_ip;
	if (be->node != node6_fold(cfg))
		return 0;
	n6 = bpf_map_lookup_elem(&nosnat_be_node6, &id);
	return n6 && addr6_eq((const struct in6_addr *)n6->addr,
			      (const struct in6_addr *)cfg->node_ip6);
}

/* A tunnel's tag (walk6's tag argument) that came in ip6ip6: this node is
 * known by its v6 address to the node that sent it. */
#define TAG_VIA6	0x10000
/* ... and one that came in GUE (its decap counted so). */
#define TAG_GUE		0x20000

/* The node address a tagged packet's pod here is known by. */
static __always_inline __be32 tag_here(const struct nosnat_cfg *cfg, __u32 tag)
{
	return (tag & TAG_VIA6) ? node6_fold(cfg) : cfg->node_ip;
}

/* a, which the address filter let through: a VIP's address? */
static __always_inline int vip6_addr_known(const struct in6_addr *a)
{
	struct nosnat_be6 k;

	__builtin_memcpy(k.addr, a, 16);
	return bpf_map_lookup_elem(&nosnat_vip6_addr, &k) != NULL;
}

static __always_inline int is_vip6_addr(const struct in6_addr *a)
{
	return vip_filter_hit(addr6_fold(a)) && vip6_addr_known(a);
}

/* A tunnel's inner IPv6 header at inner: to a v6 VIP address, maybe (the
 * filter)? Then XDP passes the tunnel on counted as tc's to take off. */
static __always_inline int inner6_maybe(const void *inner, const void *data_end)
{
	const struct ipv6hdr *ip6 = inner;

	return (const void *)(ip6 + 1) <= data_end && vip_filter_hit(addr6_fold(&ip6->daddr));
}

enum { PARSE6_OK = 0, PARSE6_NOT_IPV6, PARSE6_MALFORMED };

/* The IPv6 header at off, its extension headers (hop-by-hop, routing,
 * destination options, fragment; at most V6_EXT_MAX) walked to the
 * transport header. linear: the whole packet is in [data, data_end). */
static __always_inline int parse6(void *data, void *data_end, __u32 off, struct pkt6 *p,
				  __u32 skb_len)
{
	struct ipv6hdr *ip6 = data + (off & 0x1ff);
	__u8 nh;

	p->data_end = data_end;
	p->l4 = NULL;
	p->fragment = 0;
	if ((void *)(ip6 + 1) > data_end)
		return PARSE6_MALFORMED;
	p->ip6 = ip6;
	if (ip6->version != 6 ||
	    (off & 0x1ff) + sizeof(*ip6) + ntohs_bounded(ip6->payload_len) > skb_len)
		return PARSE6_MALFORMED;
	p->l2_len = off & 0x1ff;
	off = (off & 0x1ff) + sizeof(*ip6);
	nh = ip6->nexthdr;
#pragma unroll
	for (int i = 0; i < V6_EXT_MAX; i++) {
		struct ipv6_opt_hdr *h = data + off;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_FRAGMENT)
			break;
		if ((void *)(h + 1) > data_end)
			return PARSE6_MALFORMED;
		if (nh == IPPROTO_FRAGMENT) {
			p->fragment = 1;
			off += 8;
		} else {
			off += ((__u32)h->hdrlen + 1) * 8;
		}
		nh = h->nexthdr;
	}
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	    nh == IPPROTO_FRAGMENT)
		return PARSE6_MALFORMED;	/* more than we walk: not ours to judge */
	if (off > 0x7ff)
		return PARSE6_MALFORMED;	/* headers beyond 2 KiB: not walked */
	p->proto = nh;
	p->l4_off = off;
	return PARSE6_OK;
}

/* parse6 as a global function per hook: its loop over extension headers
 * verified once, not again at every place a v6 packet is parsed. Packed:
 * rc | proto << 8 | fragment << 16 | l4_off << 32. */
static __always_inline __u64 parse6_packed(ctx_t c, __u32 off)
{
	struct pkt6 p = {};
	int rc;

	rc = parse6(ctx_data(c), ctx_data_end(c), off, &p, ctx_len(c));
	return (__u64)rc | (__u64)p.proto << 8 | (__u64)p.fragment << 16 | (__u64)p.l4_off << 32;
}

__attribute__((noinline)) __u64 nosnat_parse6_skb(struct __sk_buff *skb, __u32 off)
{
	if (!skb)
		return PARSE6_MALFORMED;
	return parse6_packed(CTX_SKB(skb), off);
}

__attribute__((noinline)) __u64 nosnat_parse6_xdp(struct xdp_md *ctx, __u32 off)
{
	if (!ctx)
		return PARSE6_MALFORMED;
	return parse6_packed(CTX_XDP(ctx), off);
}

/* p from the packet at L3 offset off; its pointers taken afresh. */
static __always_inline int pkt6_parse(ctx_t c, __u32 off, struct pkt6 *p)
{
	__u64 r = c.tc ? nosnat_parse6_skb(ctx_skb(c), off & 0x1f)
		       : nosnat_parse6_xdp(ctx_xdp(c), off & 0x1f);
	void *data = ctx_data(c), *data_end = ctx_data_end(c);

	p->data_end = data_end;
	p->ip6 = data + (off & 0x1f);
	p->l4 = NULL;
	p->l2_len = off & 0x1f;
	p->proto = (r >> 8) & 0xff;
	p->fragment = (r >> 16) & 1;
	p->l4_off = (r >> 32) & 0x7ff;
	if ((void *)(p->ip6 + 1) > data_end)
		return PARSE6_MALFORMED;
	return r & 0xff;
}

/* The TCP or UDP header at p->l4_off and its ports (p->l4 set). */
static __always_inline int parse6_ports(struct pkt6 *p, void *data, __be16 *sport, __be16 *dport)
{
	void *l4 = data + (p->l4_off & 0x7ff);

	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > p->data_end || th->doff < 5 ||
		    l4 + th->doff * 4 > p->data_end)
			return PARSE6_MALFORMED;
	} else if ((void *)((struct udphdr *)l4 + 1) > p->data_end) {
		return PARSE6_MALFORMED;
	}
	*sport = ((__be16 *)l4)[0];
	*dport = ((__be16 *)l4)[1];
	p->l4 = l4;
	return PARSE6_OK;
}

/* The flow hash that picks a v6 flow's Maglev slot: every node agrees. */
static __always_inline __u32 flow6_hash(const struct nosnat_flow6_key *k)
{
	return nosnat_flow_hash(addr6_fold((const struct in6_addr *)k->src),
				addr6_fold((const struct in6_addr *)k->dst), k->sport, k->dport,
				k->proto);
}

/* Key words as memory holds them: lo's bytes first. */
static __always_inline __u64 key_word(__u32 lo, __u32 hi)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)hi << 32 | lo;
#else
	return (__u64)lo << 32 | hi;
#endif
}

/* struct nosnat_flow6_key's last word: sport, dport, proto, pad 0. */
static __always_inline __u64 flow6_key_tail(__be16 sport, __be16 dport, __u8 proto)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)proto << 32 | (__u32)dport << 16 | sport;
#else
	return (__u64)sport << 48 | (__u64)dport << 32 | (__u64)proto << 24;
#endif
}

/* struct nosnat_vip6_key's last word (port, proto, pad 0) from a flow
 * key's last word: its bytes 2-5 (dport, proto, a pad byte). The same
 * shift in either byte order: little-endian drops sport's low bytes,
 * big-endian keeps the low 32 bits of what sport no longer tops. */
static __always_inline __u32 vip6_key_tail(__u64 flow_tail)
{
	return (__u32)(flow_tail >> 16);
}

/* A v6 key is written in whole words, as the words it is read in (the
 * slot hashes, the key compares, the kernel's hash): a load that spans
 * several narrower stores cannot take its bytes from them and waits
 * until they reach the cache (13 of an established flow's 88 ns here,
 * when the key was copied in with byte and 4-byte stores).
 *
 * An address (16 bytes, 4-byte aligned) into two key words at w. */
static __always_inline void key6_addr(nosnat_key_word *w, const void *addr)
{
	const __u32 *a = addr;

	w[0] = key_word(a[0], a[1]);
	w[1] = key_word(a[2], a[3]);
}

/* k's addresses: ip6's source and destination, in that order */
static __always_inline void flow6_key_addrs(struct nosnat_flow6_key *k, const struct ipv6hdr *ip6)
{
	key6_addr((nosnat_key_word *)k->src, &ip6->saddr);
	key6_addr((nosnat_key_word *)k->dst, &ip6->daddr);
}

static __always_inline int flow6_key_eq(const struct nosnat_flow6_key *a,
					const struct nosnat_flow6_key *b)
{
	const nosnat_key_word *x = (const nosnat_key_word *)a, *y = (const nosnat_key_word *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/* Per-CPU direct-mapped copies of busy v6 flows' entries, as v4's
 * nosnat_flow_cache (lookup.h, flow_lookup): valid during the jiffy they
 * were made in, checked like the entry (flow_backend), taken only while
 * current (flow_current), and made only of an entry found not superseded.
 * Every write of an entry in nosnat_flows6 on this CPU ends its copy here;
 * another CPU's ends with its jiffy. Not pinned: empty with every load. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << NOSNAT_FLOW6_CACHE_BITS);
	__type(key, __u32);
	__type(value, struct nosnat_flow6_cache_entry);
} nosnat_flow6_cache SEC(".maps");

/* This CPU's slot for k (the slot may hold another flow's copy). */
static __always_inline struct nosnat_flow6_cache_entry *
flow6_cache_slot(const struct nosnat_flow6_key *k)
{
	__u32 idx = nosnat_flow6_cache_slot(k);

	return bpf_map_lookup_elem(&nosnat_flow6_cache, &idx);
}

/* End this CPU's copy of k, if it holds one (the slot emptied whatever it
 * holds, as v4's flow_cache_drop). */
static __always_inline void flow6_cache_drop(const struct nosnat_flow6_key *k)
{
	struct nosnat_flow6_cache_entry *c = flow6_cache_slot(k);

	if (c)
		c->jiffy = 0;
}

static __always_inline void flow6_cache_fill(const struct nosnat_flow6_key *k,
					     const struct nosnat_flow *f)
{
	struct nosnat_flow6_cache_entry *c = flow6_cache_slot(k);

	if (c) {
		c->key = *k;
		c->flow = *f;
		c->jiffy = bpf_jiffies64();
	}
}

static __always_inline struct nosnat_hs6_set *hs6_set(const struct nosnat_flow6_key *k)
{
	__u32 i = nosnat_hs6_set_of(k);

	return bpf_map_lookup_elem(&nosnat_flow6_new, &i);
}

/* nosnat_flow6_new's sets: nosnat_hs6_way, _record, _take, hs6_free_way,
 * hs6_lookup */
HS_TABLE(6, struct nosnat_hs6_set, struct nosnat_flow6_key, flow6_key_eq, nosnat_hs6_check)

/* Flow k recorded in nosnat_flows6 (table: that map) or among the
 * handshakes (NULL). */
static __always_inline void flow6_record(void *table, const struct nosnat_flow6_key *k, __u32 id,
					 const struct nosnat_backend *be, __u32 vip_id,
					 __be32 syn_ack, __u32 gen, __u32 flags)
{
	const struct nosnat_vip_id *vi = bpf_map_lookup_elem(&nosnat_vip_ids, &vip_id);
	struct nosnat_flow f = {
		.backend_id = id, .backend_addr = be->addr, .syn_ack = syn_ack,
		.vip_ref = vi ? vi->ref : 0, .flags = NOSNAT_FLOW_MAGLEV | flags, .gen = gen,
	};
	struct nosnat_hs6_set *s;

	flow6_cache_drop(k);	/* an established entry, or a newer handshake */
	if (table) {
		bpf_map_update_elem(table, k, &f, BPF_ANY);
		return;
	}
	s = hs6_set(k);
	if (s)
		nosnat_hs6_record(s, k, &f);
}

/* Is a TCP packet (sequence number seq) on established flow f's addresses
 * and ports at the ingress node a newer connection's (a client's reused
 * port)? As v4's flow_superseded: a flow recorded under the VIP's Maglev
 * table in force names the pod the newer connection's SYN picked too;
 * otherwise a handshake in nosnat_flow6_new whose SYN this segment is
 * within 64 KiB of supersedes it. Without one, a flow whose pod Maglev
 * still gives is made current again, so that it pays this once per change
 * of its VIP's table (a write XDP may make and then pass the packet on:
 * tc's walk would make the same). */
static __always_inline int flow6_superseded(const struct nosnat_flow6_key *k,
					    struct nosnat_flow *f, __be32 seq)
{
	__u32 vip_id = nosnat_vip_ref_id(f->vip_ref);

	if (k->proto != IPPROTO_TCP || flow_current(f, vip_id))
		return 0;
	if (handshake_holds(hs6_lookup(k), seq))
		return 1;
	flow_make_current(f, vip_id, flow6_hash(k));
	return 0;
}

static __always_inline int xdp_declines6(ctx_t c, const struct pkt6 *p,
					 const struct nosnat_backend *be, __u32 id,
					 const struct nosnat_cfg *cfg, int writes);

/* An established v6 flow's pod (a packet past the SYN), found before its
 * VIP is: the entry names the VIP it was recorded for, whose reference
 * flow_backend checks is still the one that VIP key holds, so no VIP
 * lookup is needed (as v4's ingress_pick). At the ingress node, this
 * CPU's copy made during the same jiffy (an array, not a hash of the
 * 40-byte key), taken while current; else the entry, unless a newer
 * handshake on its addresses and ports supersedes it (flow6_superseded).
 * On the pod's node (tag) only a pod here, or a flow it sent on. NULL
 * when neither says; with *reason NOSNAT_R_TO_TC when XDP declines it
 * (xdp_declines6). */
static __always_inline struct nosnat_backend *
pick6_established(ctx_t c, const struct pkt6 *p, const struct nosnat_flow6_key *k,
		  const struct nosnat_cfg *cfg, __be32 seq, __u32 tag, __u32 *id, __u32 *reason,
		  struct nosnat_flow **fp)
{
	struct nosnat_flow *f;
	struct nosnat_backend *be;
	/* the copy's slot is not kept across calls: the walk's frame is the
	 * second of three */
	struct nosnat_flow6_cache_entry *ce = tag == ~0U ? flow6_cache_slot(k) : NULL;

	if (ce && ce->jiffy == bpf_jiffies64() && flow6_key_eq(&ce->key, k)) {
		f = &ce->flow;
		be = flow_backend(f, 0);
		if (be && (k->proto != IPPROTO_TCP ||
			   flow_current(f, nosnat_vip_ref_id(f->vip_ref)))) {
			if (xdp_declines6(c, p, be, f->backend_id, cfg, 0))
				goto to_tc;
			*id = f->backend_id;
			*fp = f;
			return be;
		}
	}
	f = bpf_map_lookup_elem(&nosnat_flows6, k);
	be = flow_backend(f, 0);
	if (be && f &&
	    (tag == ~0U ? !flow6_superseded(k, f, seq)
			: be_here6(be, f->backend_id, cfg) || (f->flags & NOSNAT_FLOW_SENT_ON))) {
		if (xdp_declines6(c, p, be, f->backend_id, cfg, 0))
			goto to_tc;
		/* not superseded: this CPU's copy, unless the walk is to
		 * write the entry (a pod here whose conntrack entry is still
		 * to be claimed: CT_SEEN, walk6) */
		if (tag == ~0U && ((f->flags & NOSNAT_FLOW_CT_SEEN) || !nosnat_have_ct ||
				   !cfg->ct_mark_mask || !be_here6(be, f->backend_id, cfg)))
			flow6_cache_fill(k, f);
		*id = f->backend_id;
		*fp = f;
		return be;
	}
	return NULL;
to_tc:
	*reason = NOSNAT_R_TO_TC;
	return NULL;
}

/* The pod of a v6 VIP packet that pick6_established did not place. A SYN
 * looks only at the handshakes (a SYN again goes where the first went), a
 * later packet at the handshakes, whose entry it moves over (the
 * handshake is over).
 * Failing both, the VIP's Maglev table picks, and the flow is recorded:
 * a flow's first packet (a SYN, a UDP datagram) among the handshakes,
 * so that a flood churns that small table alone (and,
 * above this CPU's new-flow budget, a SYN to a pod elsewhere not at all:
 * its next packet picks the same pod again); a TCP packet past its SYN
 * (recovered: its entry was lost) among the established flows. On the
 * pod's node (tag: the outer ID the ingress node sent, else ~0) only a pod
 * here will do: the flow's, else the one the ingress node chose.
 * XDP (xdp_declines6) takes only a pod on another node, and asks before
 * anything is written whether it can send the packet: if not, NULL with
 * *reason NOSNAT_R_TO_TC, nothing changed, and tc's walk picks again. A
 * recovery (a flow's entry lost) is always tc's: it may need conntrack. */
static __always_inline struct nosnat_backend *
pick6(ctx_t c, const struct pkt6 *p, const struct nosnat_flow6_key *k, __u32 vip_id,
      const struct nosnat_cfg *cfg, int syn, __be32 syn_ack, __u32 tag, __u32 *id,
      __u32 *reason, int *new_flow)
{
	struct nosnat_flow hc;
	struct nosnat_backend *be = NULL;
	struct nosnat_hs6_set *hs;
	__u32 gen;
	int w, limited;

	/* the handshake: a copy still k's once taken (another CPU may give
	 * the way to another flow meanwhile), decided on and moved as taken */
	hs = hs6_set(k);
	w = hs ? nosnat_hs6_take(hs, k, &hc) : -1;
	be = w >= 0 ? flow_backend(&hc, syn) : NULL;
	if (be && nosnat_vip_ref_id(hc.vip_ref) == vip_id &&
	    (tag == ~0U || be_here6(be, hc.backend_id, cfg))) {
		if (xdp_declines6(c, p, be, hc.backend_id, cfg, !syn))
			goto to_tc;
		*id = hc.backend_id;
		if (!syn && hs) {	/* the handshake is over: its entry moves */
			flow6_cache_drop(k);
			bpf_map_update_elem(&nosnat_flows6, k, &hc, BPF_ANY);
			hs6_free_way(hs, w, k);
		}
		return be;
	}
	gen = maglev_gen(vip_id);
	if (tag != ~0U) {
		be = local_by_tag(vip_id, tag_here(cfg, tag), (__u16)(tag & NOSNAT_ID_TAG_MASK), id);
		gen = GEN_NONE;		/* the ingress node's choice, not this table's */
	} else {
		be = maglev_backend(vip_id, flow6_hash(k), id);
		gen = maglev_gen_after(vip_id, gen);
	}
	if (!be || (syn && !be->weight))
		return NULL;
	if (!c.tc && !syn && k->proto == IPPROTO_TCP)
		goto to_tc;		/* a recovery */
	if (xdp_declines6(c, p, be, *id, cfg, 1))
		goto to_tc;
	if (!syn && k->proto == IPPROTO_TCP) {
		*reason = NOSNAT_R_RECOVERED;
		flow6_record(&nosnat_flows6, k, *id, be, vip_id, 0, gen, 0);
		return be;
	}
	*new_flow = 1;
	/* a new connection on these addresses and ports to a pod here, or on
	 * the pod's node: the entry of an older one (a client's reused port)
	 * is over, and the new one's conntrack entry is claimed anew. Looked
	 * for first: a delete takes the bucket's lock, and nearly every SYN
	 * is a new client's, with no entry to delete. A pod elsewhere: the
	 * ingress node does not look (flow6_superseded), unless above the
	 * new-flow budget: nothing is recorded then, so no handshake can
	 * supersede the older entry */
	limited = syn && tag == ~0U && !be_here6(be, *id, cfg) && new_flow_limited(cfg);
	if (syn && (tag != ~0U || be_here6(be, *id, cfg) || limited) &&
	    bpf_map_lookup_elem(&nosnat_flows6, k)) {
		flow6_cache_drop(k);
		bpf_map_delete_elem(&nosnat_flows6, k);
	}
	if (limited) {
		*reason = NOSNAT_R_NEW_FLOW_LIMITED;
		return be;
	}
	flow6_record(NULL, k, *id, be, vip_id, syn_ack, gen, 0);
	return be;
to_tc:
	*reason = NOSNAT_R_TO_TC;
	return NULL;
}

/* The conntrack mark of a v6 VIP: nosnat_vip_mark of its address's fold. */
static __always_inline __u32 vip6_mark(const __u8 *vip, __be16 port, __u8 proto, __u32 mask)
{
	return nosnat_vip_mark(addr6_fold((const struct in6_addr *)vip), port, proto, mask);
}

/* The pod's conntrack entry of flow k (the client's tuple to pod:port)
 * gets the VIP's mark, unless it has one: this node's durable record that
 * the connection came through the VIP, for its replies when the flow's
 * entry is gone (evicted, or every map wiped by an upgrade). CT_OURS:
 * marked; CT_OTHER: another VIP's mark; CT_NONE: no such connection (or
 * one that has ended, as ct_check says). */
static __always_inline enum ct_found ct6_claim(struct __sk_buff *skb,
					       const struct nosnat_flow6_key *k,
					       const struct nosnat_be6 *pod, __be16 pod_port,
					       __u32 mask)
{
	struct bpf_sock_tuple6___nosnat t = { .sport = k->sport, .dport = pod_port };
	enum ct_found r = CT_NONE;
	struct nf_conn *ct;

	__builtin_memcpy(t.saddr, k->src, 16);
	__builtin_memcpy(t.daddr, pod->addr, 16);
	ct = ct6_lookup_skb(skb, &t, k->proto);
	if (!ct)
		return CT_NONE;
	if (k->proto != IPPROTO_TCP || (ct->proto.tcp.state != CT_TCP_TIME_WAIT &&
					ct->proto.tcp.state != CT_TCP_CLOSE))
		r = ct_claim(ct, vip6_mark(k->dst, k->dport, k->proto, mask), mask, CT_CLAIM,
			     k->proto == IPPROTO_TCP);
	bpf_ct_release(ct);
	return r;
}

/* dst VIP:port -> pod:pod_port. The L4 sum takes the address change
 * through the helper's pseudo-header mode, right for a partial sum and a
 * complete one alike; IPv6 has no header sum. */
static __always_inline int skb_dnat6(struct __sk_buff *skb, struct pkt6 *p,
				     const struct nosnat_be6 *pod, __be16 pod_port, int dst)
{
	__u32 addr_off = p->l2_len + (dst ? offsetof(struct ipv6hdr, daddr)
					  : offsetof(struct ipv6hdr, saddr));
	__u32 port_off = p->l4_off + (dst ? 2 : 0);
	__u32 csum_off = p->l4_off + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							      : offsetof(struct udphdr, check));
	__u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	struct nosnat_be6 old;
	__be16 old_port;
	__s64 diff;

	if (bpf_skb_load_bytes(skb, addr_off, &old, sizeof(old)) ||
	    bpf_skb_load_bytes(skb, port_off, &old_port, sizeof(old_port)))
		return -1;
	diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)pod, sizeof(*pod), 0);
	if (diff < 0)
		return -1;
	/* a complete sum (CHECKSUM_COMPLETE) covers the address: the store
	 * adds its change, the helper's pseudo-header mode takes the L4
	 * sum's change off again; the port's change and the L4 sum's cancel */
	if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | mangled) ||
	    bpf_l4_csum_replace(skb, csum_off, old_port, pod_port, mangled | sizeof(pod_port)) ||
	    bpf_skb_store_bytes(skb, addr_off, pod, sizeof(*pod), BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb, port_off, &pod_port, sizeof(pod_port), 0))
		return -1;
	return 0;
}

/* skb_dnat6 (dst) or its reverse for a reply (!dst), the address and port
 * written in place where the walk found them in the linear area, as it
 * reads them: three helper calls where skb_dnat6 makes seven (32 ns of a
 * reply's 77, measured). The sums as skb_dnat6 keeps them: the L4 sum by
 * the helper, which knows a partial sum from a complete one; a complete
 * one (CHECKSUM_COMPLETE, which covers the address) given back what the
 * pseudo-header mode took off it, since the address and the L4 sum's
 * change cancel in the packet. Headers elsewhere: skb_dnat6. */
static __always_inline int skb_nat6(struct __sk_buff *skb, struct pkt6 *p,
				    const struct nosnat_be6 *to, __be16 to_port, int dst)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + (p->l2_len & 0x1f);
	__be16 *ports = data + (p->l4_off & 0x7ff);
	__u32 csum_off = p->l4_off + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							      : offsetof(struct udphdr, check));
	__u64 mangled = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 *a, w[4];
	__be16 old_port;
	__u64 sum = 0;
	__u32 diff;

	if ((void *)(ip6 + 1) > data_end || (void *)(ports + 4) > data_end)
		return skb_dnat6(skb, p, to, to_port, dst);
	a = dst ? (__u32 *)&ip6->daddr : (__u32 *)&ip6->saddr;
	__builtin_memcpy(w, to->addr, sizeof(w));
	/* bpf_csum_diff's sum: the old words' complements and the new */
#pragma unroll
	for (int i = 0; i < 4; i++) {
		sum += (__u32)~a[i];
		sum += w[i];
		a[i] = w[i];
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	diff = (__u32)((sum & 0xffffffff) + (sum >> 32));
	old_port = ports[dst ? 1 : 0];
	ports[dst ? 1 : 0] = to_port;
	/* a datagram without a sum (0, a tunnel's, RFC 6935): the helpers
	 * leave it, and a complete sum takes the port's change too */
	if (mangled && !ports[3]) {
		__u32 pd = (__u16)~old_port + (__u32)to_port;

		diff += pd;
		diff += diff < pd;
	}
	if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | mangled) ||
	    bpf_l4_csum_replace(skb, csum_off, old_port, to_port, mangled | sizeof(to_port)))
		return -1;
	bpf_csum_update(skb, diff);
	return 0;
}

/* ICMPv6 errors (destination unreachable, packet too big, time exceeded,
 * parameter problem): types 1 to 4. */
struct icmp6_err {
	__u8 type;
	__u8 code;
	__sum16 check;
	__be32 rest;		/* the MTU of packet too big */
};


/* One party of an ICMPv6 error's flow changed: its address in the outer
 * header (at outer_off: in the pseudo-header the sum covers) and in the
 * quote (quoted_off), and its quoted port; the ICMPv6 sum kept right (the
 * quoted L4 sum, beyond what errors are matched by, is left). */
static __always_inline int icmp6_rewrite(struct __sk_buff *skb, __u32 csum_off, __u32 outer_off,
					 __u32 quoted_off, __u32 port_off,
					 const struct nosnat_be6 *to, __be16 to_port)
{
	struct nosnat_be6 from;
	__be16 from_port;
	__s64 diff;

	if (bpf_skb_load_bytes(skb, outer_off, &from, sizeof(from)) ||
	    bpf_skb_load_bytes(skb, port_off, &from_port, sizeof(from_port)))
		return -1;
	diff = bpf_csum_diff((__be32 *)&from, sizeof(from), (__be32 *)to, sizeof(*to), 0);
	if (diff < 0)
		return -1;
	/* the outer address: in the pseudo-header (a complete sum gets the
	 * store's change, the helper takes the ICMP sum's off); the quoted
	 * address and port: in the message, their changes and the sum's
	 * cancel */
	if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR) ||
	    bpf_l4_csum_replace(skb, csum_off, 0, diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, from_port, to_port, sizeof(to_port)) ||
	    bpf_skb_store_bytes(skb, outer_off, to, sizeof(*to), BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb, quoted_off, to, sizeof(*to), 0) ||
	    bpf_skb_store_bytes(skb, port_off, &to_port, sizeof(to_port), 0))
		return -1;
	return 0;
}

/* The MSS a v6 SYN (or SYN-ACK) may announce: the uplink's MTU less the
 * tunnel (ovh: 6in4's 20 bytes, ip6ip6's 40),
 * the IPv6 header with the extension headers this segment carries, TCP. */
static __always_inline __u32 mss6_max(const struct nosnat_cfg *cfg, const struct pkt6 *p,
				      __u32 ovh)
{
	return cfg->mtu - ovh - sizeof(struct tcphdr) -
	       ((p->l4_off - p->l2_len) & 0x7ff);
}

/* The bytes the tunnel to be's node adds: ip6ip6 to a v6 node; to a v4
 * one GUE where this node sends GUE (a load-time constant: the verifier
 * walks one of them), else 6in4. */
static __always_inline __u32 tunnel6_overhead(const struct nosnat_backend *be)
{
	if (be->flags & NOSNAT_BE_NODE6)
		return NOSNAT_IP6IP6_OVERHEAD;
	return nosnat_encap_gue ? NOSNAT_GUE_OVERHEAD : NOSNAT_6IN4_OVERHEAD;
}

/* The outer IPv4 header of 6in4 to node (protocol 41; UDP for GUE; DF, ID
 * the pod's tag), after the room for it was made at l2_len. */
static __always_inline int outer6in4(ctx_t c, __u32 l2_len, __be32 src, __be32 node,
				     __u8 tclass, __u16 tag, __u8 proto)
{
	/* written in place (built on the stack, the headers would crowd the
	 * third frame of tc's call chain); the ethertype is 2 bytes before */
	void *data = ctx_data(c), *data_end = ctx_data_end(c);
	struct iphdr *o = data + (l2_len & 0x1f);
	__be16 *ethertype = data + ((l2_len - 2) & 0x1e);

	if ((void *)(o + 1) > data_end || (void *)(ethertype + 1) > data_end)
		return -1;
	o->version = 4;
	o->ihl = 5;
	o->tos = tclass;
	o->tot_len = bpf_htons(ctx_len(c) - l2_len);
	o->id = bpf_htons(tag);
	o->frag_off = bpf_htons(IP_DF);
	o->ttl = 64;
	o->protocol = proto;
	o->check = 0;
	o->saddr = src;
	o->daddr = node;
	o->check = ipv4_hdr_csum(o);
	*ethertype = bpf_htons(ETH_P_IP);
	return 0;
}

/* ICMPv6 packet too big for a v6 packet that does not fit the tunnel,
 * built in a per-CPU scratch element (on the stack it would crowd the
 * walk's frame): the IPv6 header, the error, and the packet's first 48
 * bytes (its IPv6 header and 8 more: what the sender's stack matches the
 * error to its socket by). */
#define PTB6_QUOTE	48
struct ptb6_msg {
	struct ipv6hdr ip;
	struct icmp6_err icmp;
	__u8 quote[PTB6_QUOTE];
	__u8 macs[2 * ETH_ALEN];	/* the frame's, then swapped: not sent */
	__u8 swapped[2 * ETH_ALEN];
};
#define PTB6_LEN	offsetof(struct ptb6_msg, macs)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ptb6_msg);
} nosnat_ptb6_msg SEC(".maps");

/* Turn p into packet too big (MTU mtu) back to its sender, from the
 * address it was sent to, MACs swapped: it goes back out of the interface
 * it came in on. */
static __always_inline int skb_ptb6(struct __sk_buff *skb, __u32 l2_len, __u32 mtu)
{
	__u32 zero = 0;

	l2_len &= 0x1f;
	struct ptb6_msg *m = bpf_map_lookup_elem(&nosnat_ptb6_msg, &zero);
	__s64 sum;
	__u64 s;

	if (!m || bpf_skb_load_bytes(skb, l2_len, m->quote, sizeof(m->quote)) ||
	    bpf_skb_load_bytes(skb, 0, m->macs, sizeof(m->macs)))
		return -1;
	__builtin_memset(&m->ip, 0, sizeof(m->ip) + sizeof(m->icmp));
	m->ip.version = 6;
	m->ip.payload_len = bpf_htons(sizeof(m->icmp) + sizeof(m->quote));
	m->ip.nexthdr = IPPROTO_ICMPV6;
	m->ip.hop_limit = 64;
	__builtin_memcpy(&m->ip.saddr, m->quote + offsetof(struct ipv6hdr, daddr), 16);
	__builtin_memcpy(&m->ip.daddr, m->quote + offsetof(struct ipv6hdr, saddr), 16);
	m->icmp.type = 2;	/* packet too big */
	m->icmp.rest = bpf_htonl(mtu);
	/* the pseudo-header (addresses, upper-layer length, next header),
	 * then the message */
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&m->ip.saddr, 32, 0);
	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&m->icmp, sizeof(m->icmp) + sizeof(m->quote), sum);
	if (sum < 0)
		return -1;
	s = (__u64)(__u32)sum + bpf_htonl(sizeof(m->icmp) + sizeof(m->quote)) +
	    bpf_htonl(IPPROTO_ICMPV6);
	s = (s & 0xffffffff) + (s >> 32);
	m->icmp.check = csum_fold((__u32)s);
	__builtin_memcpy(m->swapped, m->macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(m->swapped + ETH_ALEN, m->macs, ETH_ALEN);
	if (bpf_skb_change_tail(skb, l2_len + PTB6_LEN, 0) ||
	    bpf_skb_store_bytes(skb, 0, m->swapped, sizeof(m->swapped), 0) ||
	    bpf_skb_store_bytes(skb, l2_len, m, PTB6_LEN, 0))
		return -1;
	return 0;
}

/* The way to a v6 node from the kernel's FIB, as skb_route for v4. */
/* The v6 FIB query, in a per-CPU scratch element: on the stack its 64
 * bytes would crowd the third frame of tc's call chain. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_fib_lookup);
} nosnat_fib6 SEC(".maps");

/* This CPU's answer for the way to a v6 node during the current tick, as
 * nosnat_nexthop's for v4 nodes (encap.h, route_cached): a v6 FIB lookup
 * costs more than the rest of an established packet's path. A resolved
 * neighbour only, the whole address compared. Not pinned: a cache, empty
 * with every load. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NOSNAT_NEXTHOP6_SLOTS);
	__type(key, __u32);
	__type(value, struct nosnat_nexthop6);
} nosnat_nexthop6 SEC(".maps");

static __always_inline int route6(ctx_t c, const __u8 *src, const __u8 *node, __u8 tclass,
				  __u16 tot_len, struct route *rt)
{
	/* node: a map value's address (nosnat_be_node6), 4-byte aligned.
	 * Little is kept across the FIB call: this frame is the third of
	 * XDP's chain, whose stack 6.1 counts in 32-byte steps */
	const __u32 *w = (const __u32 *)node;
	__u32 key = nosnat_nexthop6_slot(w);
	struct nosnat_nexthop6 *nh = bpf_map_lookup_elem(&nosnat_nexthop6, &key);
	struct bpf_fib_lookup *fib;
	long rc;

	if (nh && nh->tick == tick_now() && nh->in_ifindex == ctx_ingress_ifindex(c) &&
	    nh->node[0] == w[0] &&
	    nh->node[1] == w[1] && nh->node[2] == w[2] && nh->node[3] == w[3]) {
		__builtin_memcpy(rt->dmac, nh->dmac, ETH_ALEN);
		__builtin_memcpy(rt->smac, nh->smac, ETH_ALEN);
		rt->ifindex = nh->out_ifindex;
		rt->to_tc = 0;
		return 0;
	}
	key = 0;
	fib = bpf_map_lookup_elem(&nosnat_fib6, &key);
	if (!fib)
		return -1;
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = 10;	/* AF_INET6 */
	fib->l4_protocol = IPPROTO_IPV6;
	fib->tot_len = tot_len;
	fib->ifindex = ctx_ingress_ifindex(c);
	fib->flowinfo = bpf_htonl((__u32)tclass << 20);
	__builtin_memcpy(fib->ipv6_src, src, 16);
	__builtin_memcpy(fib->ipv6_dst, node, 16);
	rc = bpf_fib_lookup(c.p, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(rt->dmac, fib->dmac, ETH_ALEN);
		__builtin_memcpy(rt->smac, fib->smac, ETH_ALEN);
		rt->ifindex = fib->ifindex;
		/* kept for the rest of the tick (the slot found again) */
		key = nosnat_nexthop6_slot(w);
		nh = bpf_map_lookup_elem(&nosnat_nexthop6, &key);
		if (nh) {
			nh->node[0] = w[0];
			nh->node[1] = w[1];
			nh->node[2] = w[2];
			nh->node[3] = w[3];
			nh->in_ifindex = ctx_ingress_ifindex(c);
			nh->out_ifindex = fib->ifindex;
			nh->tick = tick_now();
			__builtin_memcpy(nh->dmac, fib->dmac, ETH_ALEN);
			__builtin_memcpy(nh->smac, fib->smac, ETH_ALEN);
		}
		return 0;
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH || rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		rt->to_tc = NOSNAT_R_NEIGH_FALLBACK;
		rt->ifindex = fib->ifindex;
		return rt->ifindex ? 0 : -1;
	}
	return -1;
}

/* XDP: does it leave p (for pod id, be) to tc? A pod here always (tc
 * rewrites it, knowing the skb's kind of sum); --encap-via tc. writes:
 * the pick is about to write a flow table, so XDP must be sure that it
 * can send the packet: it fits the tunnel, its headers are within the
 * reach of the MSS clamp and of a partial sum's completion, the next hop
 * is known (an established flow's packet
 * finds out in encap6_send, the pick having written nothing). */
static __always_inline int xdp_declines6(ctx_t c, const struct pkt6 *p,
					 const struct nosnat_backend *be, __u32 id,
					 const struct nosnat_cfg *cfg, int writes)
{
	const struct nosnat_be6 *n6;
	struct route rt = {};
	__u32 bytes;
	__u8 tclass;

	if (c.tc)
		return 0;
	if (be_here6(be, id, cfg) || (cfg->flags & NOSNAT_CFG_ENCAP_VIA_TC))
		return 1;
	if (!writes)
		return 0;
	/* within what the MSS clamp and a partial sum's completion reach */
	bytes = ctx_len(c) - (p->l2_len & 0x1f) + tunnel6_overhead(be);
	if (p->l4_off > L4_MAX_OFFSET || ctx_len(c) > NOSNAT_MAX_MTU ||
	    (cfg->mtu && bytes > cfg->mtu))
		return 1;
	/* the question encap6_send asks again, asked the same way: the
	 * packet's traffic class, its outer length */
	tclass = (p->ip6->priority << 4) | (p->ip6->flow_lbl[0] >> 4);
	if (!(be->flags & NOSNAT_BE_NODE6))
		return nosnat_route(ctx_xdp(c), be->node, (__u32)tclass << 16 | (__u16)bytes, &rt) ||
		       rt.to_tc;
	n6 = bpf_map_lookup_elem(&nosnat_be_node6, &id);
	return !n6 || route6(c, cfg->node_ip6, n6->addr, tclass, (__u16)bytes, &rt) || rt.to_tc;
}

/* The outer IPv6 header of ip6ip6 to node (next header 41, the tag in the
 * flow label), after the room for it was made at l2_len. */
static __always_inline int outer6in6(ctx_t c, __u32 l2_len, const __u8 *src, const __u8 *node,
				     __u8 tclass, __u16 tag)
{
	void *data = ctx_data(c), *data_end = ctx_data_end(c);
	struct ipv6hdr *o = data + (l2_len & 0x1f);

	if ((void *)(o + 1) > data_end)
		return -1;
	o->version = 6;
	o->priority = tclass >> 4;
	o->flow_lbl[0] = (__u8)((tclass & 0xf) << 4);
	o->flow_lbl[1] = (__u8)(tag >> 8);
	o->flow_lbl[2] = (__u8)tag;
	o->payload_len = bpf_htons(ctx_len(c) - l2_len - sizeof(struct ipv6hdr));
	o->nexthdr = IPPROTO_IPV6;
	o->hop_limit = 64;
	__builtin_memcpy(&o->saddr, src, 16);
	__builtin_memcpy(&o->daddr, node, 16);
	return 0;
}

/* GUE's source port for a v6 flow: the hash of its addresses' folds and
 * ports, as for v4 (RSS spreads a node pair's flows). */
/* What the encapsulation needs of a v6 packet: where its headers are, its
 * transport and traffic class (kept small: its frame is the third on the
 * stack, under the entry point's and the walk's). */
struct enc6 {
	__u16 l2_len;
	__u16 l4_off;
	__u8 proto;
	__u8 tclass;
	__u8 syn;		/* XDP clamps a SYN's MSS itself */
};

static __always_inline __be16 gue6_sport(ctx_t c, const struct enc6 *p)
{
	struct ipv6hdr *ip6 = ctx_data(c) + (p->l2_len & 0x1f);
	__u32 *ports = ctx_data(c) + (p->l4_off & 0x7ff);

	if ((void *)(ip6 + 1) > ctx_data_end(c) || (void *)(ports + 1) > ctx_data_end(c))
		return bpf_htons(0xc000);
	return (__be16)nosnat_gue_sport(addr6_fold(&ip6->saddr), addr6_fold(&ip6->daddr),
					*ports ^ p->proto);
}

/* The outer IPv4 and UDP headers of GUE to node (variant 1: the IPv6 packet
 * right after the UDP header; sum 0), after the room was made at l2_len. */
static __always_inline int outer_gue6(ctx_t c, __u32 l2_len, const struct nosnat_cfg *cfg,
				      __be32 node, __u8 tclass, __u16 tag, __be16 sport)
{
	struct udphdr *u;

	if (outer6in4(c, l2_len, cfg->node_ip, node, tclass, tag, IPPROTO_UDP))
		return -1;
	u = ctx_data(c) + (l2_len & 0x1f) + sizeof(struct iphdr);
	if ((void *)(u + 1) > ctx_data_end(c))
		return -1;
	u->source = sport;
	u->dest = cfg->gue_port;
	u->len = bpf_htons(ctx_len(c) - l2_len - sizeof(struct iphdr));
	u->check = 0;
	return 0;
}

/* XDP: is p's L4 sum the partial (offload) kind, its field holding the
 * pseudo-header's share alone? A frame from a local sender through a veth
 * may carry one; a NIC's never do. */
static __always_inline int xdp_csum_partial6(ctx_t c, const struct enc6 *p)
{
	struct ipv6hdr *ip6 = ctx_data(c) + (p->l2_len & 0x1f);
	__u16 *check = ctx_data(c) + (p->l4_off & 0x7ff) +
		       (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
						: offsetof(struct udphdr, check));
	__u32 *w = (__u32 *)&ip6->saddr;
	__u64 sum;

	if ((void *)(ip6 + 1) > ctx_data_end(c) || (void *)(check + 1) > ctx_data_end(c))
		return 1;	/* not readable: tc's */
	if (!*check)
		return 0;
	sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7] +
	      bpf_htonl(ctx_len(c) - (p->l4_off & 0x7ff)) + bpf_htonl(p->proto);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return *check == (__u16)sum;
}

/* p (a v6 VIP packet for pod id, be, on another node) to that node, out
 * the way the FIB says: in IPv4 (6in4) to a v4 node, in IPv6 (ip6ip6) to a
 * v6 one (a SYN's MSS clamped by the caller, encap6_call). A packet too big
 * for the tunnel gets packet too big back (below). XDP (an established
 * flow's packet) finishes only a frame it can send as it is: one too big,
 * one whose sum is partial, one whose next hop the neighbour code is to
 * resolve (or --encap-via tc) is passed on untouched, and tc does it. */
static __always_inline void encap6_send(ctx_t c, const struct enc6 *p,
					const struct nosnat_cfg *cfg,
					const struct nosnat_backend *be, __u32 id, __u16 tag,
					int error, struct verdict *v)
{
	__u32 l2_len = p->l2_len & 0x1f, seg = ctx_len(c) - l2_len;
	__u8 tclass = p->tclass;
	int node6 = be->flags & NOSNAT_BE_NODE6;
	__u32 ovh = tunnel6_overhead(be);
	const struct nosnat_be6 *n6 = NULL;
	__be32 node = be->node;
	struct route rt = {};
	__be16 sport;

	if (node6) {
		n6 = bpf_map_lookup_elem(&nosnat_be_node6, &id);
		if (!n6 || !node6_fold(cfg)) {	/* no v6 address here to send from */
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_NODE_IP);
			return;
		}
	} else if (!cfg->node_ip) {		/* nor a v4 one */
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_NODE_IP);
		return;
	}
	if (c.tc && ctx_skb(c)->gso_size) {
		struct tcphdr *th = ctx_data(c) + (p->l4_off & 0x7ff);

		if ((void *)(th + 1) > ctx_data_end(c))
			return;
		seg = p->l4_off - l2_len + ctx_skb(c)->gso_size +
		      (p->proto == IPPROTO_TCP ? ((th->doff & 0xf) << 2) : 8);
	}
	if (cfg->mtu && seg + ovh > cfg->mtu) {
		/* every v6 packet is DF: its sender learns the tunnel's MTU
		 * (rate-limited per CPU; a GRO train's sender would get it for
		 * a segment it never sent; ICMP errors never cause ICMP) */
		if (!c.tc)
			to_tc(v);	/* packet too big is built at tc */
		else if (error || ctx_skb(c)->gso_size)
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
		else if (rate_over(RATE_ICMP, NOSNAT_ICMP_PER_SEC))
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_LIMITED);
		else if (skb_ptb6(ctx_skb(c), l2_len, cfg->mtu - ovh))
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_TOO_BIG);
		else
			set_verdict(v, OUT_TX, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_FRAG_NEEDED);
		return;
	}
	if (!c.tc && (cfg->flags & NOSNAT_CFG_ENCAP_VIA_TC)) {
		to_tc(v);
		return;
	}
	if (n6 ? route6(c, cfg->node_ip6, n6->addr, tclass, seg + ovh, &rt)
	       : c.tc ? skb_route(ctx_skb(c), cfg->node_ip, node, tclass, seg + ovh, &rt)
		      : nosnat_route(ctx_xdp(c), node, (__u32)tclass << 16 | (__u16)(seg + ovh), &rt)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FIB_FAILED);
		return;
	}
	/* the neighbour code's, at tc; a partial sum XDP cannot make whole
	 * too (as v4's, nat.h; made whole only now: a frame passed on keeps
	 * the sum the skb expects) */
	if (!c.tc && (rt.to_tc || (xdp_csum_partial6(c, p) &&
				   l4_csum_finish(ctx_xdp(c), p->l4_off & 0x7ff,
						  ctx_len(c) - (p->l4_off & 0x7ff), p->proto)))) {
		to_tc(v);
		return;
	}
	/* a SYN's MSS, for the tunnel (at tc the caller clamped it) */
	if (!c.tc && p->syn && cfg->mtu)
		nosnat_mss_clamp_xdp(ctx_xdp(c), p->l4_off,
				     cfg->mtu - ovh - sizeof(struct tcphdr) - ((p->l4_off - l2_len) & 0x7ff));
	/* read before the room is made: GUE's source port, the flow's hash */
	sport = nosnat_encap_gue && !n6 ? gue6_sport(c, p) : 0;
	if (!c.tc) {
		if (xdp_head_grow(ctx_xdp(c), l2_len, ovh)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
	} else if (n6 ? bpf_skb_adjust_room(ctx_skb(c), NOSNAT_IP6IP6_OVERHEAD, BPF_ADJ_ROOM_MAC,
					    BPF_F_ADJ_ROOM_ENCAP_L3_IPV6)
		      : nosnat_encap_gue ? bpf_skb_adjust_room(ctx_skb(c), NOSNAT_GUE_OVERHEAD,
							       BPF_ADJ_ROOM_MAC,
							       BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
								       BPF_F_ADJ_ROOM_ENCAP_L4_UDP)
					 : bpf_skb_adjust_room(ctx_skb(c), NOSNAT_6IN4_OVERHEAD,
							       BPF_ADJ_ROOM_MAC,
							       BPF_F_ADJ_ROOM_ENCAP_L3_IPV4)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (n6 ? outer6in6(c, l2_len, cfg->node_ip6, n6->addr, tclass, tag)
	       : nosnat_encap_gue ? outer_gue6(c, l2_len, cfg, node, tclass, tag, sport)
				  : outer6in4(c, l2_len, cfg->node_ip, node, tclass, tag, IPPROTO_IPV6)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (rt.to_tc) {		/* tc: the neighbour code resolves the next hop */
		set_verdict(v, OUT_NEIGH, NOSNAT_ACT_ENCAP,
			    nosnat_encap_gue && !node6 ? NOSNAT_R_GUE : NOSNAT_R_NONE);
		v->ifindex = rt.ifindex;
		return;
	}
	frame_send(c, &rt, v);	/* counts GUE as GUE, else none */
	if (v->action == NOSNAT_ACT_ENCAP && node6)
		v->reason = NOSNAT_R_NONE;	/* ip6ip6, GUE or not */
}

/* encap6_send as a global function per hook: verified once, not again at
 * each of the walk's three ways to it (6in4 and ip6ip6 doubled what each
 * cost). args: l2_len | l4_off << 8 | proto << 24 | tag << 32 | error << 49 |
 * syn << 50 | ENCAP6_COUNT(vip id, new flow).
 *
 * XDP counts a packet sent here, for its VIP and its pod, not in the walk
 * after the call: the walk would keep the VIP's id, the length and the
 * new-flow bit across the call, spilled, and reload them (6 ns of a 70 ns
 * established flow, measured). tc's walk counts after the call: this frame
 * is the third of tc's chain, which 6.1's 512 bytes (in 32-byte steps)
 * leave no room to grow. */
#define ENCAP6_COUNT(vip_id, new_flow) \
	(1ULL << 51 | (__u64)((vip_id) & (NOSNAT_MAX_VIPS - 1)) << 52 | (__u64)((new_flow) & 1) << 62)
static __always_inline __u64 encap6_run(ctx_t c, __u32 id, __u64 args)
{
	struct verdict v = { .out = OUT_DROP, .action = NOSNAT_ACT_DROP,
			     .reason = NOSNAT_R_MALFORMED };
	const struct nosnat_cfg *cfg = cfg_get();
	const struct nosnat_backend *be;
	struct ipv6hdr *ip6;
	struct enc6 e;
	__u32 len;

	if (!cfg)
		return verdict_pack(&v);
	be = bpf_map_lookup_elem(&nosnat_backends, &id);
	if (!be)
		return verdict_pack(&v);
	e.l2_len = args & 0x1f;
	e.l4_off = (args >> 8) & 0x7ff;
	e.proto = (args >> 24) & 0xff;
	e.syn = (args >> 50) & 1;
	ip6 = ctx_data(c) + e.l2_len;
	if ((void *)(ip6 + 1) > ctx_data_end(c))
		return verdict_pack(&v);
	e.tclass = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	len = ctx_len(c);	/* as it came: before the room is made */
	encap6_send(c, &e, cfg, be, id, (__u16)(args >> 32), (args >> 49) & 1, &v);
	if (!c.tc && ((args >> 51) & 1) && v.action == NOSNAT_ACT_ENCAP) {
		count_vip((args >> 52) & (NOSNAT_MAX_VIPS - 1), len, (args >> 62) & 1);
		count_backend(id, len);
	}
	return verdict_pack(&v);
}

__attribute__((noinline)) __u64 nosnat_encap6_skb(struct __sk_buff *skb, __u32 id, __u64 args)
{
	struct verdict v = { .out = OUT_DROP, .action = NOSNAT_ACT_DROP,
			     .reason = NOSNAT_R_MALFORMED };

	if (!skb)
		return verdict_pack(&v);
	return encap6_run(CTX_SKB(skb), id, args);
}

__attribute__((noinline)) __u64 nosnat_encap6_xdp(struct xdp_md *ctx, __u32 id, __u64 args)
{
	struct verdict v = { .out = OUT_DROP, .action = NOSNAT_ACT_DROP,
			     .reason = NOSNAT_R_MALFORMED };

	if (!ctx)
		return verdict_pack(&v);
	return encap6_run(CTX_XDP(ctx), id, args);
}

/* A SYN's MSS is clamped here, for be's tunnel, before the call (tc: XDP
 * leaves SYNs to tc): called from within it, the clamp's frame would be a
 * fourth on the stack. */
static __always_inline void encap6_call(ctx_t c, const struct pkt6 *p,
					const struct nosnat_cfg *cfg,
					const struct nosnat_backend *be, __u32 id, __u16 tag,
					int syn, int error, __u64 count, struct verdict *v)
{
	__u64 args = (p->l2_len & 0x1f) | (__u64)(p->l4_off & 0x7ff) << 8 |
		     (__u64)p->proto << 24 | (__u64)tag << 32 | (__u64)(error & 1) << 49 |
		     (__u64)(syn & 1) << 50 | count;

	if (!c.tc) {
		verdict_unpack(nosnat_encap6_xdp(ctx_xdp(c), id, args), v);
		return;
	}
	if (syn && cfg->mtu)
		nosnat_mss_clamp_skb(ctx_skb(c), p->l4_off, mss6_max(cfg, p, tunnel6_overhead(be)));
	verdict_unpack(nosnat_encap6_skb(ctx_skb(c), id, args), v);
}

/* An ICMPv6 error to a v6 VIP (p at its outer header; tag as for walk6):
 * if it quotes a reply of a VIP flow (VIP:port -> client), it goes where
 * the flow goes: a pod here gets it as its own error (to the pod, quoting
 * the pod's packet), a pod elsewhere gets it in its tunnel. Packet too big above
 * all: without it a v6 path with a smaller hop stalls every download. */
static __always_inline void icmp6_to_vip(struct __sk_buff *skb, struct pkt6 *p,
					 const struct nosnat_cfg *cfg, __u32 tag, struct verdict *v)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u32 ic_off = p->l4_off & 0x7ff, l2 = p->l2_len & 0x1f, id = 0;
	struct icmp6_err *ic = data + ic_off;
	struct nosnat_backend *be = NULL;
	struct ipv6hdr *ip6 = data + l2, *q;
	struct nosnat_vip *vip;
	struct nosnat_flow *f;
	__be16 *ports;
	__u8 qproto;

	if ((void *)(ic + 1) > data_end || ic->type < 1 || ic->type > 4)
		return;		/* not an error (echo, ND, MLD): the kernel's */
	q = (void *)(ic + 1);
	ports = (void *)(q + 1);
	if ((void *)(ip6 + 1) > data_end || (void *)(ports + 2) > data_end)
		return;
	qproto = q->nexthdr;
	/* about a packet from the VIP (a pod's reply): quoted source = VIP */
	if ((qproto != IPPROTO_TCP && qproto != IPPROTO_UDP) || !addr6_eq(&q->saddr, &ip6->daddr))
		return;

	struct nosnat_vip6_key vk = { .port = ports[0], .proto = qproto };
	struct nosnat_flow6_key k = { .sport = ports[1], .dport = ports[0], .proto = qproto };

	__builtin_memcpy(vk.addr, &q->saddr, 16);
	__builtin_memcpy(k.src, &q->daddr, 16);
	__builtin_memcpy(k.dst, &q->saddr, 16);
	vip = bpf_map_lookup_elem(&nosnat_vips6, &vk);
	if (!vip)
		return;
	__u32 vip_id = vip->id;

	f = bpf_map_lookup_elem(&nosnat_flows6, &k);
	be = flow_backend(f, 0);
	if (be && f && (tag == ~0U || be_here6(be, f->backend_id, cfg)))
		id = f->backend_id;
	else if (tag != ~0U)
		be = local_by_tag(vip_id, tag_here(cfg, tag), (__u16)(tag & NOSNAT_ID_TAG_MASK), &id);
	else
		be = maglev_backend(vip_id, flow6_hash(&k), &id);
	if (!be) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_NO_FLOW);
		return;
	}
	if (be_here6(be, id, cfg)) {
		const struct nosnat_be6 *pod = bpf_map_lookup_elem(&nosnat_be6, &id);

		if (!pod || icmp6_rewrite(skb, ic_off + offsetof(struct icmp6_err, check),
					  l2 + offsetof(struct ipv6hdr, daddr),
					  ic_off + sizeof(*ic) + offsetof(struct ipv6hdr, saddr),
					  ic_off + sizeof(*ic) + sizeof(*q), pod, be->port)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		count_backend(id, skb->len);
		set_verdict(v, OUT_PASS, tag == ~0U ? NOSNAT_ACT_LOCAL : NOSNAT_ACT_DECAP,
			    NOSNAT_R_ICMP_ERROR);
		return;
	}
	if (tag != ~0U) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ICMP_NO_FLOW);
		return;
	}
	{
		__u32 len = skb->len;

		encap6_call(CTX_SKB(skb), p, cfg, be, id, backend_tag_of(be, 1), 0, 1, 0, v);
		if (v->action == NOSNAT_ACT_ENCAP) {
			v->reason = NOSNAT_R_ICMP_ERROR;
			count_backend(id, len);
		}
	}
}

/* The v6 walk, written once for both hooks. XDP finishes a packet for a
 * pod on another node that it can send as a frame (pick6, encap6_send);
 * the rest it passes on untouched, before anything changes, and tc walks
 * it: a pod here (tc rewrites it, knowing the skb's kind of sum), a flow
 * whose entry is lost (its recovery may need conntrack), a packet too big
 * for the tunnel (tc builds packet too big), a next hop the neighbour code
 * is to resolve, ICMPv6, tunnels to this node. tag: ~0 for a packet from a client; for one a node
 * sent in a tunnel (taken off already, at tc), its tag and second chance's
 * bit (the outer IPv4 ID or flow label), TAG_VIA6 when the tunnel was
 * ip6ip6: delivered only to a pod here. */
static __always_inline void walk6(ctx_t c, struct verdict *v, __u32 tag)
{
	struct __sk_buff *skb = ctx_skb(c);	/* tc's steps alone */
	void *data = ctx_data(c), *data_end = ctx_data_end(c);
	const struct nosnat_cfg *cfg;
	struct nosnat_vip *vip;
	struct nosnat_backend *be;
	struct nosnat_flow *f = NULL;
	struct pkt6 p = {};
	__be16 sport = 0, dport = 0;
	__u32 off, id = 0, reason = NOSNAT_R_NONE, len = ctx_len(c);
	int rc, syn = 0, new_flow = 0, sent_on;

	if (l2_proto(data, data_end, &off) != bpf_htons(ETH_P_IPV6))
		return;
	if (data + off + sizeof(struct ipv6hdr) > data_end) {
		if (ctx_pull(c, V6_PULL_LEN))
			return;
		data = ctx_data(c);
		data_end = ctx_data_end(c);
		if (data + (off & 0x1f) + sizeof(struct ipv6hdr) > data_end)
			return;
	}
	{
		struct ipv6hdr *ip6 = data + (off & 0x1f);

		/* IPv6 in IPv6 to this node's v6 address: the tunnel walk
		 * (tunnel66) is next, called by the entry point (walk_skb);
		 * XDP passes it on */
		if (ip6->nexthdr == IPPROTO_IPV6 && tag == ~0U) {
			cfg = cfg_get();
			if (cfg && node6_fold(cfg) &&
			    addr6_eq(&ip6->daddr, (const struct in6_addr *)cfg->node_ip6)) {
				if (c.tc)
					v->out = OUT_TUNNEL;
				else if (inner6_maybe(ip6 + 1, data_end))
					to_tc(v);
			}
			return;
		}
		/* the common case: not to a VIP address (neighbour discovery,
		 * router advertisements, MLD, anyone's traffic). Past the
		 * filter, a TCP or UDP packet's VIP:port lookup below says
		 * whether it is ours; whatever else is done to a packet (a
		 * malformed one or a fragment dropped, ICMPv6 walked) is done
		 * only once its address is known to be a VIP's: a stranger
		 * sharing a VIP's filter bit passes untouched */
		if (!vip_filter_hit(addr6_fold(&ip6->daddr)))
			return;
	}
	/* headers may sit beyond the linear area: pulled, read again; a
	 * GRO train's are all there already, and pulling 256 bytes of it
	 * would copy payload */
	rc = pkt6_parse(c, off, &p);
	data = ctx_data(c);
	data_end = p.data_end;
	if (rc != PARSE6_OK || ((p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) &&
				!p.fragment && parse6_ports(&p, data, &sport, &dport))) {
		struct ipv6hdr *ip6 = ctx_data(c) + (off & 0x1f);

		if ((void *)(ip6 + 1) > ctx_data_end(c) || !vip6_addr_known(&ip6->daddr))
			return;
		/* at XDP the frame holds it all: cut short */
		if (!c.tc || ctx_pull(c, V6_PULL_LEN)) {
			if (!c.tc)
				set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		rc = pkt6_parse(c, off, &p);
		data = ctx_data(c);
		data_end = p.data_end;
		if (rc == PARSE6_OK && (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) &&
		    !p.fragment && parse6_ports(&p, data, &sport, &dport))
			rc = PARSE6_MALFORMED;
	}
	if (rc != PARSE6_OK) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP && p.proto != IPPROTO_ICMPV6)
		return;		/* the kernel's */
	if ((p.fragment || p.proto == IPPROTO_ICMPV6) && !vip6_addr_known(&p.ip6->daddr))
		return;		/* not to a VIP's address */
	if (p.proto == IPPROTO_ICMPV6 && !p.fragment) {
		if (!c.tc) {
			to_tc(v);
			return;
		}
		/* an error's quote in the linear area (errors are small) */
		cfg = cfg_get();
		if (!cfg || (!cfg->node_ip && !node6_fold(cfg)) ||
		    ctx_pull(CTX_SKB(skb), V6_PULL_LEN) || pkt6_parse(CTX_SKB(skb), off, &p) != PARSE6_OK)
			return;
		icmp6_to_vip(skb, &p, cfg, tag, v);
		return;
	}
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return;		/* the kernel's */
	if (p.fragment) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_FRAGMENT);
		return;
	}

	struct nosnat_flow6_key k;

	/* in whole words (key6_addr) */
	flow6_key_addrs(&k, p.ip6);
	((nosnat_key_word *)&k)[4] = flow6_key_tail(sport, dport, p.proto);

	__be32 seq = 0;
	__u32 vip_id;

	if (p.proto == IPPROTO_TCP) {
		struct tcphdr *th = data + (p.l4_off & 0x7ff);

		if ((void *)(th + 1) > data_end)
			return;
		syn = th->syn && !th->ack;
		seq = th->seq;
	}
	cfg = cfg_get();
	/* a node address of either family, else nothing is ours to send */
	be = NULL;
	if (!syn && cfg && (cfg->node_ip || node6_fold(cfg)))
		be = pick6_established(c, &p, &k, cfg, seq, tag, &id, &reason, &f);
	if (be) {
		vip_id = nosnat_vip_ref_id(f->vip_ref);
	} else {
		if (reason == NOSNAT_R_TO_TC) {
			to_tc(v);	/* nothing changed: tc's walk picks */
			return;
		}
		/* the VIP's key laid over the flow key's tail, whose place it
		 * takes for the lookup (the walk's frame is the second of
		 * three on the stack): the destination, then port and
		 * protocol in one word */
		{
			struct nosnat_vip6_key *vk = (void *)k.dst;
			__u64 tail = ((nosnat_key_word *)&k)[4];

			*(__u32 *)&vk->port = vip6_key_tail(tail);
			vip = bpf_map_lookup_elem(&nosnat_vips6, vk);
			((nosnat_key_word *)&k)[4] = tail;
		}
		if (!vip)
			return;		/* a VIP's address, another port: not ours */
		if (!cfg || (!cfg->node_ip && !node6_fold(cfg))) {
			set_verdict(v, OUT_PASS, NOSNAT_ACT_PASS, NOSNAT_R_NO_NODE_IP);
			return;
		}
		if (tag == ~0U && syn && is_vip6_addr(&p.ip6->saddr)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_SPOOFED);
			return;
		}
		vip_id = vip->id;
		be = pick6(c, &p, &k, vip_id, cfg, syn, syn ? bpf_htonl(bpf_ntohl(seq) + 1) : 0, tag,
			   &id, &reason, &new_flow);
	}
	if (!be) {
		if (!c.tc && reason == NOSNAT_R_TO_TC)
			to_tc(v);	/* nothing changed: tc's walk picks */
		else
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_BACKEND);
		return;
	}
	/* A flow without an entry (its table lost it, or the VIP moved here)
	 * that Maglev gives a pod here: the pod's conntrack says whether it has
	 * the connection. If not, the table changed since it began (a pod
	 * added): it goes once to the previous table's pod, here or on its
	 * node (the outer ID says it had its second chance), and is recorded
	 * so. */
	if (c.tc && reason == NOSNAT_R_RECOVERED && be_here6(be, id, cfg) && nosnat_have_ct &&
	    cfg->ct_mark_mask && (tag == ~0U || !(tag & NOSNAT_ID_SECOND_CHANCE))) {
		const struct nosnat_be6 *pod = bpf_map_lookup_elem(&nosnat_be6, &id);
		struct nosnat_backend *prev;
		__u32 pid = 0;

		if (pod && ct6_claim(skb, &k, pod, be->port, cfg->ct_mark_mask) != CT_OURS) {
			prev = maglev_prev_backend(vip_id, flow6_hash(&k), &pid);
			/* a previous pod here must prove it has the connection;
			 * one elsewhere is its node's to judge */
			if (prev && pid != id && be_here6(prev, pid, cfg)) {
				const struct nosnat_be6 *ppod = bpf_map_lookup_elem(&nosnat_be6, &pid);

				if (!ppod ||
				    ct6_claim(skb, &k, ppod, prev->port, cfg->ct_mark_mask) != CT_OURS)
					prev = NULL;
			}
			if (prev && pid != id) {
				/* recorded: on the pod's node, a flow sent on to a
				 * third node is followed there from now on */
				flow6_record(&nosnat_flows6, &k, pid, prev, vip_id, 0, GEN_NONE,
					     tag != ~0U && !be_here6(prev, pid, cfg) ?
						     NOSNAT_FLOW_SENT_ON : 0);
				reason = NOSNAT_R_SECOND_CHANCE;
				be = prev;
				id = pid;
			}
		}
	}
	if (reason != NOSNAT_R_NONE)
		count_flow_event(reason);
	if (c.tc && be_here6(be, id, cfg)) {	/* XDP left it to tc (pick6) */
		const struct nosnat_be6 *pod = bpf_map_lookup_elem(&nosnat_be6, &id);

		if (!pod) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		/* past the SYN, once per flow: the pod's conntrack entry marked;
		 * none there (conntrack tracks nothing here, say): said once a
		 * flow, as v4 does, and no proof will come, so not asked again */
		if (f && !syn && !(f->flags & NOSNAT_FLOW_CT_SEEN) && nosnat_have_ct &&
		    cfg->ct_mark_mask) {
			enum ct_found r = ct6_claim(skb, &k, pod, be->port, cfg->ct_mark_mask);

			if (r == CT_NONE)
				count_flow_event(NOSNAT_R_CT_UNTRACKED);
			if (r != CT_OTHER)	/* f is the entry: pick6 copies none without */
				f->flags |= NOSNAT_FLOW_CT_SEEN;
		}
		if (skb_nat6(skb, &p, pod, be->port, 1)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		set_verdict(v, OUT_PASS, tag == ~0U ? NOSNAT_ACT_LOCAL : NOSNAT_ACT_DECAP, reason);
		if (tag != ~0U && (tag & TAG_GUE) && reason == NOSNAT_R_NONE)
			v->reason = NOSNAT_R_GUE;
		count_vip(vip_id, len, new_flow);
		count_backend(id, len);
		return;
	}
	sent_on = reason == NOSNAT_R_SECOND_CHANCE || (f && (f->flags & NOSNAT_FLOW_SENT_ON));
	if (tag != ~0U && !sent_on) {	/* a node sent it here, and no pod here has it */
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_NO_BACKEND);
		return;
	}
	encap6_call(c, &p, cfg, be, id,
		    backend_tag_of(be, 1) | (sent_on ? NOSNAT_ID_SECOND_CHANCE : 0),
		    syn, 0, c.tc ? 0 : ENCAP6_COUNT(vip_id, new_flow), v);
	/* counted only if sent (one too big or without a route was not
	 * delivered): at XDP by the call, at tc here */
	if (v->action != NOSNAT_ACT_ENCAP)
		return;
	if (reason != NOSNAT_R_NONE)
		v->reason = reason;
	if (c.tc) {
		count_vip(vip_id, len, new_flow);
		count_backend(id, len);
	}
}

/* XDP's v6 walk, a program of its own that XDP's entry point tail-calls
 * (slot 0; the loader fills it and pins the array beside the interface's
 * XDP link): verified apart from the v4 walk, within its own budget, its
 * stack apart from the v4 walk's 360 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nosnat_xdp6_jmp SEC(".maps");

/* Set by the loader where the kernel lets a program with bpf-to-bpf calls
 * tail-call (xdp_tail_call_probe): when 0 the tail call is dead code the
 * verifier never sees, and XDP passes v6 on to tc, which walks it. */
const volatile __u32 nosnat_xdp6_tail = 0;

/* Could this frame be a v6 VIP's? Its destination in the VIP address
 * filter (an untagged frame: a tagged one is left to tc). The rest of the
 * node's v6 traffic (neighbour discovery, anyone's) stays in XDP's entry
 * point, untouched, without a tail call. */
static __always_inline int xdp_v6_maybe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return 0;
	/* ip6ip6 (to this node, maybe): its walk says so */
	return ip6->nexthdr == IPPROTO_IPV6 || vip_filter_hit(addr6_fold(&ip6->daddr));
}

/* tc ingress: a v6 packet, walked on its own (global: verified once, its
 * stack apart from the v4 walk's). */
__attribute__((noinline)) __u64 nosnat_walk6_skb(struct __sk_buff *skb, __u32 tag)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!skb)
		return 0;
	walk6(CTX_SKB(skb), &v, tag);
	/* taken off a tunnel, yet not for a VIP:port */
	if (tag != ~0U && (v.action == NOSNAT_ACT_PASS || v.out == OUT_TUNNEL))
		set_verdict(&v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_ENCAP_NOT_VIP);
	return verdict_pack(&v);
}

/* RFC 6040 on decapsulation: congestion met between the nodes (CE on the
 * outer header) is kept on an ECN-capable inner packet, whose traffic
 * class's low two bits are the top of its second byte. */
static __always_inline void ecn6_decap(struct __sk_buff *skb, const struct ipv6hdr *inner,
				       __u32 off, int outer_ce)
{
	__u8 b = ((const __u8 *)inner)[1] | 0x30;

	/* the store keeps a complete sum (CHECKSUM_COMPLETE) right: IPv6 has
	 * no header sum whose change would cancel this one */
	if (outer_ce && (((const __u8 *)inner)[1] & 0x30))
		bpf_skb_store_bytes(skb, off + 1, &b, 1, BPF_F_RECOMPUTE_CSUM);
}

/* 6in4 to this node (p at the outer IPv4 header): ours only from a known
 * node and with a v6 VIP inside; taken off, the inner packet walked for a
 * pod here. Anything else leaves as it came. */
static __always_inline void tunnel6(struct __sk_buff *skb, __u32 gue, struct verdict *v)
{
	struct pkt p = {};
	struct ipv6hdr *inner;
	__be32 src;
	__s32 diff;
	__u16 tag;
	long rc;

	/* the outer headers: IPv4, and UDP for GUE (the walk checked its
	 * port), as a number: no branch */
	__u32 outer;

	if (pkt_parse(CTX_SKB(skb), &p) != PARSE_OK || p.fragment)
		return;
	outer = (p.ip_len & 0x3c) + ((gue & 1) << 3);
	inner = (void *)p.ip + (outer & 0x7c);
	if ((void *)(inner + 1) > p.data_end) {
		if (ctx_pull(CTX_SKB(skb), V6_PULL_LEN) || pkt_parse(CTX_SKB(skb), &p) != PARSE_OK)
			return;
		outer = (p.ip_len & 0x3c) + ((gue & 1) << 3);
		inner = (void *)p.ip + (outer & 0x7c);
		if ((void *)(inner + 1) > p.data_end)
			return;
	}
	if (inner->version != 6)
		return;
	if (!is_vip6_addr(&inner->daddr))
		return;		/* someone else's 6in4 */
	src = p.ip->saddr;
	if (!bpf_map_lookup_elem(&nosnat_nodes, &src)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC);
		return;
	}
	tag = bpf_ntohs(p.ip->id);	/* the pod's tag, and the second chance's bit */
	ecn6_decap(skb, inner, (p.l2_len & 0x1f) + (outer & 0x7c),
		   (p.ip->tos & INET_ECN_MASK) == INET_ECN_CE);
	diff = -(__s32)(outer & 0x7c);
	rc = bpf_skb_adjust_room(skb, diff, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_DECAP_L3_IPV6);
	if (rc == -EINVAL_) {
		/* a kernel before the flag: skb->protocol made IPv6 by the
		 * 4-to-6 helper (which makes 20 bytes of room), then the
		 * room and the outer header go */
		rc = bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0);
		if (!rc)
			rc = bpf_skb_adjust_room(skb, diff - 20, BPF_ADJ_ROOM_MAC, 0);
	}
	if (rc) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	{
		__be16 ip6_proto = bpf_htons(ETH_P_IPV6);

		if (bpf_skb_store_bytes(skb, (p.l2_len & 0x1f) - 2, &ip6_proto,
					sizeof(ip6_proto), 0)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
	}
	/* the inner packet is walked next, by the entry point (walk_skb):
	 * called from here, the walk would be verified a second time */
	v->out = OUT_TUNNEL;
	v->ifindex = tag;
}

/* gue: the tunnel is GUE (IPv4 + UDP to this node's port), else 6in4. */
__attribute__((noinline)) __u64 nosnat_tunnel6_skb(struct __sk_buff *skb, __u32 gue)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!skb)
		return 0;
	tunnel6(skb, gue, &v);
	/* what was taken off, counted by kind (walk6 counts the decap) */
	if (v.out == OUT_TUNNEL && (gue & 1))
		v.ifindex |= TAG_GUE;
	return verdict_pack(&v);
}

/* IPv6 in IPv6 to this node's v6 address (the walk saw to that): ours only
 * from a known v6 node and with a v6 VIP inside; taken off, the inner
 * packet is walked next for a pod here (walk_skb), with the tag the flow
 * label carries. Anything else leaves as it came. */
static __always_inline void tunnel66(struct __sk_buff *skb, struct verdict *v)
{
	const struct nosnat_cfg *cfg = cfg_get();
	struct ipv6hdr *o, *in;
	struct nosnat_be6 src;
	void *data, *data_end;
	__u32 off, tag;
	long rc;

	if (!cfg || ctx_pull(CTX_SKB(skb), V6_PULL_LEN))
		return;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (l2_proto(data, data_end, &off) != bpf_htons(ETH_P_IPV6))
		return;
	o = data + (off & 0x1f);
	in = (void *)(o + 1);
	if ((void *)(in + 1) > data_end || o->nexthdr != IPPROTO_IPV6 || in->version != 6 ||
	    !node6_fold(cfg) || !addr6_eq(&o->daddr, (const struct in6_addr *)cfg->node_ip6))
		return;
	if (!is_vip6_addr(&in->daddr))
		return;		/* someone else's tunnel */
	__builtin_memcpy(src.addr, &o->saddr, 16);
	if (!bpf_map_lookup_elem(&nosnat_nodes6, &src)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_UNKNOWN_ENCAP_SRC);
		return;
	}
	tag = (__u32)o->flow_lbl[1] << 8 | o->flow_lbl[2];
	ecn6_decap(skb, in, (off & 0x1f) + sizeof(*o),
		   ((o->flow_lbl[0] >> 4) & INET_ECN_MASK) == INET_ECN_CE);
	rc = bpf_skb_adjust_room(skb, -(__s32)sizeof(*o), BPF_ADJ_ROOM_MAC,
				 BPF_F_ADJ_ROOM_DECAP_L3_IPV6);
	if (rc == -EINVAL_)	/* a kernel before the flag: none is needed, IPv6 stays */
		rc = bpf_skb_adjust_room(skb, -(__s32)sizeof(*o), BPF_ADJ_ROOM_MAC, 0);
	if (rc) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	v->out = OUT_TUNNEL;
	v->ifindex = tag | TAG_VIA6;
}

__attribute__((noinline)) __u64 nosnat_tunnel66_skb(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!skb)
		return 0;
	tunnel66(skb, &v);
	return verdict_pack(&v);
}

/* Does a flow table prove that the v6 flow fk went to pod slot sl (the
 * pod's address folded: fold)? The table asked first, then the other: a
 * flow is among the handshakes until the client's second packet. */
static __always_inline int flow6_proves(const struct nosnat_flow6_key *fk,
					const struct nosnat_pod6_slot *sl, __be32 fold,
					int handshake_first)
{
	const struct nosnat_flow *f;

	for (int t = 0; t < 2; t++) {
		f = (t ^ handshake_first) ? hs6_lookup(fk) : bpf_map_lookup_elem(&nosnat_flows6, fk);
		if (f && f->backend_id == sl->id && f->backend_addr == fold &&
		    f->vip_ref == sl->vip_ref)
			return 1;
	}
	return 0;
}

/* tc egress: an ICMPv6 error a pod sends about a v6 VIP flow (port
 * unreachable for a UDP client, packet too big) leaves as the VIP's,
 * quoting the client's packet as the client sent it; else the client's
 * stack would not match it to its socket. The flow proves it, as a reply's. */
static __always_inline void icmp6_from_pod(struct __sk_buff *skb, __u32 off, struct verdict *v)
{
	struct nosnat_pod6_key pk = {};
	const struct nosnat_pod6 *pod;
	struct pkt6 p = {};
	struct ipv6hdr *ip6, *q;
	struct icmp6_err *ic;
	__be16 *ports;
	__u32 ic_off;
	void *data, *data_end;

	if (ctx_pull(CTX_SKB(skb), V6_PULL_LEN) || pkt6_parse(CTX_SKB(skb), off, &p) != PARSE6_OK ||
	    p.proto != IPPROTO_ICMPV6 || p.fragment)
		return;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	ic_off = p.l4_off & 0x7ff;
	ip6 = data + (off & 0x1f);
	ic = data + ic_off;
	q = (void *)(ic + 1);
	ports = (void *)(q + 1);
	if ((void *)(ip6 + 1) > data_end || (void *)(ports + 2) > data_end ||
	    ic->type < 1 || ic->type > 4)
		return;
	/* about a packet the pod got (client -> pod), from the pod, to it */
	if ((q->nexthdr != IPPROTO_TCP && q->nexthdr != IPPROTO_UDP) ||
	    !addr6_eq(&q->daddr, &ip6->saddr) || !addr6_eq(&q->saddr, &ip6->daddr))
		return;
	__builtin_memcpy(pk.addr, &q->daddr, 16);
	pk.port = ports[1];
	pk.proto = q->nexthdr;
	pod = bpf_map_lookup_elem(&nosnat_pods6, &pk);
	if (!pod)
		return;

	struct nosnat_flow6_key fk = { .sport = ports[0], .proto = pk.proto };
	__be32 fold = addr6_fold(&q->daddr);

	__builtin_memcpy(fk.src, &q->saddr, 16);
	for (__u32 i = 0; i < NOSNAT_POD_IDS; i++) {
		const struct nosnat_pod6_slot *sl = &pod->slots[i];

		if (i >= pod->count)
			break;
		__builtin_memcpy(fk.dst, sl->vip_addr, 16);
		fk.dport = sl->vip_port;
		if (!flow6_proves(&fk, sl, fold, 0))	/* a first datagram's: a handshake's */
			continue;
		if (icmp6_rewrite(skb, ic_off + offsetof(struct icmp6_err, check),
				  (off & 0x1f) + offsetof(struct ipv6hdr, saddr),
				  ic_off + sizeof(*ic) + offsetof(struct ipv6hdr, daddr),
				  ic_off + sizeof(*ic) + sizeof(*q) + 2,
				  (const struct nosnat_be6 *)sl->vip_addr, sl->vip_port)) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		count_backend(sl->id, skb->len);
		set_verdict(v, OUT_PASS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_ICMP_ERROR);
		return;
	}
}

/* A reply leaves as the VIP: source pod:port -> VIP:port. 0: done. */
static __always_inline int reply6_nat(struct __sk_buff *skb, struct pkt6 *p,
				      const struct nosnat_pod6_slot *sl, __u32 reason,
				      struct verdict *v)
{
	count_backend(sl->id, skb->len);
	if (skb_nat6(skb, p, (const struct nosnat_be6 *)sl->vip_addr, sl->vip_port, 0)) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return -1;
	}
	set_verdict(v, OUT_PASS, NOSNAT_ACT_REPLY_NAT, reason);
	return 0;
}

/* The SYN-ACK tells the client how big its segments may be: clamped for
 * the tunnel a VIP flow may take (after a failover one that began here is
 * encapsulated too). */
static __always_inline void reply6_clamp(struct __sk_buff *skb, const struct pkt6 *p, __u32 id)
{
	const struct nosnat_cfg *cfg = cfg_get();
	const struct nosnat_backend *be = bpf_map_lookup_elem(&nosnat_backends, &id);

	/* the tunnel to this pod: ip6ip6 when it is known by its v6 node, GUE
	 * where the nodes send GUE (this node's setting stands for theirs) */
	if (cfg && cfg->mtu && be)
		nosnat_mss_clamp_skb(skb, p->l4_off, mss6_max(cfg, p, tunnel6_overhead(be)));
}

/* tc egress: a reply of one of this node's v6 pods to a client of a VIP
 * flow leaves as the VIP. The flow proves it: recorded for this pod's slot
 * and the VIP's reference. Anything else leaves untouched. */
static __always_inline void reply6(struct __sk_buff *skb, struct verdict *v)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct nosnat_pod6_key pk = {};
	const struct nosnat_pod6 *pod;
	struct pkt6 p = {};
	__be16 sport = 0, dport = 0;
	__u32 off;

	if (l2_proto(data, data_end, &off) != bpf_htons(ETH_P_IPV6))
		return;
	if (data + (off & 0x1f) + sizeof(struct ipv6hdr) > data_end) {
		if (ctx_pull(CTX_SKB(skb), V6_PULL_LEN))
			return;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + (off & 0x1f) + sizeof(struct ipv6hdr) > data_end)
			return;
	}
	if (!pod_filter_hit(addr6_fold(&((struct ipv6hdr *)(data + (off & 0x1f)))->saddr)))
		return;		/* the common case: not from one of this node's pods */
	if (((struct ipv6hdr *)(data + (off & 0x1f)))->nexthdr == IPPROTO_ICMPV6) {
		icmp6_from_pod(skb, off, v);
		return;
	}
	if (pkt6_parse(CTX_SKB(skb), off, &p) != PARSE6_OK ||
	    (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) || p.fragment ||
	    parse6_ports(&p, (void *)(long)skb->data, &sport, &dport) != PARSE6_OK) {
		if (ctx_pull(CTX_SKB(skb), V6_PULL_LEN))
			return;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (pkt6_parse(CTX_SKB(skb), off, &p) != PARSE6_OK ||
		    (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) || p.fragment ||
		    parse6_ports(&p, (void *)(long)skb->data, &sport, &dport) != PARSE6_OK)
			return;
	}
	__builtin_memcpy(pk.addr, &p.ip6->saddr, 16);
	pk.port = sport;
	pk.proto = p.proto;
	pod = bpf_map_lookup_elem(&nosnat_pods6, &pk);
	if (!pod)
		return;

	struct nosnat_flow6_key fk = { .sport = dport, .proto = p.proto };
	__be32 fold = addr6_fold(&p.ip6->saddr);
	__u32 mark = 0, reason = NOSNAT_R_NONE;
	int syn_ack = 0;

	if (p.proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)(long)skb->data + (p.l4_off & 0x7ff);

		if ((void *)(th + 1) > (void *)(long)skb->data_end)
			return;
		syn_ack = th->syn && th->ack;
	}
	__builtin_memcpy(fk.src, &p.ip6->daddr, 16);
	/* twice over the pod's slots: a flow's entry; else, when none has one
	 * (evicted, wiped), the VIP whose mark this node's conntrack entry of
	 * the connection carries (never for a SYN-ACK: a handshake's flow is
	 * in the table), recorded again */
	for (__u32 pass = 0; pass < 2; pass++) {
		if (pass) {
			const struct nosnat_cfg *cfg = cfg_get();
			struct bpf_sock_tuple6___nosnat t = { .sport = sport, .dport = dport };
			struct nf_conn *ct;

			if (syn_ack || !nosnat_have_ct || !cfg || !cfg->ct_mark_mask)
				return;
			__builtin_memcpy(t.saddr, &p.ip6->saddr, 16);
			__builtin_memcpy(t.daddr, &p.ip6->daddr, 16);
			ct = ct6_lookup_skb(skb, &t, p.proto);
			if (!ct)
				return;
			mark = ct->mark & cfg->ct_mark_mask;
			bpf_ct_release(ct);
			if (!mark)
				return;
			reason = NOSNAT_R_CT_RECOVERED;
		}
		for (__u32 i = 0; i < NOSNAT_POD_IDS; i++) {
			const struct nosnat_pod6_slot *sl = &pod->slots[i];

			if (i >= pod->count)
				break;
			__builtin_memcpy(fk.dst, sl->vip_addr, 16);
			fk.dport = sl->vip_port;
			if (pass) {
				const struct nosnat_cfg *cfg = cfg_get();
				struct nosnat_flow nf = { .backend_id = sl->id, .backend_addr = fold,
							  .vip_ref = sl->vip_ref,
							  .flags = NOSNAT_FLOW_CT_SEEN };

				if (!cfg || vip6_mark(sl->vip_addr, sl->vip_port, p.proto,
						      cfg->ct_mark_mask) != mark)
					continue;
				flow6_cache_drop(&fk);
				bpf_map_update_elem(&nosnat_flows6, &fk, &nf, BPF_ANY);
				count_flow_event(reason);
			} else if (!flow6_proves(&fk, sl, fold, syn_ack)) {
				continue;	/* a SYN-ACK asks the handshakes first */
			}
			if (reply6_nat(skb, &p, sl, reason, v))
				return;
			if (p.proto == IPPROTO_TCP && syn_ack)
				reply6_clamp(skb, &p, sl->id);
			return;
		}
	}
}

__attribute__((noinline)) __u64 nosnat_reply6_skb(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!skb)
		return 0;
	reply6(skb, &v);
	return verdict_pack(&v);
}

#endif
