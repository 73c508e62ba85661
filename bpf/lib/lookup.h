/* lookup.h - from a VIP packet to a backend: VIP table, flow table (sticky
 * flows), per-VIP Maglev table, and this node's own backends of a VIP. */
#ifndef NOSNAT_LOOKUP_H
#define NOSNAT_LOOKUP_H

#include "maps.h"
#include "hash.h"
#include "conntrack.h"

/* A pod's tag computed, for a slot without one: a global function,
 * verified once rather than again on every path that reaches a tag (inline
 * at XDP's delivery, 20k of nosnat_xdp's verified instructions on 6.18,
 * 15k on 6.1). */
__attribute__((noinline)) __u32 nosnat_backend_tag_hash(__u32 addr, __u32 port)
{
	return backend_tag(addr, (__be16)port);
}

/* be's tag: as the loader wrote it, else computed (pins of a build before
 * ABI 9). The hash is a chain of 21 dependent steps: 4 ns of an established
 * flow's packet to another node, measured. inl: computed inline, without
 * the call, where the call does not fit or costs:
 * - tc's (its tunnel walk's chain of calls) and the v6 walks': their
 *   chains are at 6.1's 512 bytes of stack, and 6.1 counts a frame as 32
 *   bytes at the least (tc ingress, refused: "combined stack size of 4
 *   calls is 544");
 * - on the pod's node's pick (select_local_backend) the call, never made,
 *   still made XDP's decapsulation 8 ns slower (what lives across it is
 *   kept in the four registers a call spares, and spilled). */
static __always_inline __u16 backend_tag_of(const struct nosnat_backend *be, int inl)
{
	__u32 t = be->tag;

	if (t & NOSNAT_BE_TAG_KNOWN)
		return (__u16)(t & NOSNAT_ID_TAG_MASK);
	if (inl)
		return backend_tag(be->addr, be->port);
	return (__u16)nosnat_backend_tag_hash(be->addr, be->port);
}

static __always_inline struct nosnat_vip *vip_lookup(__be32 addr, __be16 port, __u8 proto)
{
	struct nosnat_vip_key k = { .addr = addr, .port = port, .proto = proto };

	return bpf_map_lookup_elem(&nosnat_vips, &k);
}

/* Could addr be in the filter's set? One bit of an array value: a clear
 * bit means certainly not. */
static __always_inline int addr_filter_hit(void *filter_map, __be32 addr)
{
	__u32 zero = 0, bit = nosnat_addr_filter_bit(addr);
	const struct nosnat_addr_filter *f = bpf_map_lookup_elem(filter_map, &zero);

	if (!f)
		return 1;
	return (f->bits[(bit >> 6) & (NOSNAT_ADDR_FILTER_BITS / 64 - 1)] >> (bit & 63)) & 1;
}

/* Could addr be a VIP? "No" is the answer for nearly every packet a node gets. */
static __always_inline int vip_filter_hit(__be32 addr)
{
	return addr_filter_hit(&nosnat_vip_filt, addr);
}

/* Could addr be one of this node's pods (nosnat_pods)? */
static __always_inline int pod_filter_hit(__be32 addr)
{
	return addr_filter_hit(&nosnat_pod_filt, addr);
}

/* Any port: for fragments, malformed packets, IPIP inner headers. */
static __always_inline int is_vip_addr(__be32 addr)
{
	return vip_filter_hit(addr) && bpf_map_lookup_elem(&nosnat_vip_addr, &addr) != NULL;
}

/* This CPU's flow-cache slot for k (by a multiplicative hash of the key;
 * the slot may hold another flow's copy). */
static __always_inline struct flow_cache_entry *flow_cache_slot(const struct nosnat_flow_key *k)
{
	__u64 h = (((__u64)k->src << 32) | k->dst) * 0x9e3779b97f4a7c15ULL ^
		  ((((__u64)k->sport << 16) | k->dport) << 8 | k->proto) * 0xc2b2ae3d27d4eb4fULL;
	__u32 idx = (__u32)(h >> (64 - FLOW_CACHE_BITS));

	return bpf_map_lookup_elem(&nosnat_flow_cache, &idx);
}

static __always_inline int flow_key_eq(const struct nosnat_flow_key *a, const struct nosnat_flow_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport &&
	       a->proto == b->proto;
}

/* nosnat_flow_new (nosnat_abi.h): k's set, and k's way in it. */
static __always_inline struct nosnat_hs_set *hs_set(const struct nosnat_flow_key *k)
{
	__u32 i = nosnat_hs_set_of(k);

	return bpf_map_lookup_elem(&nosnat_flow_new, &i);
}

/* A handshake table's operations (nosnat_abi.h: nosnat_flow_new's sets for
 * v4, nosnat_flow6_new's for v6), written once for a set type, its key
 * type, the key's equality and the way's check; sfx names them (none for
 * v4: nosnat_hs_way, ...; 6: nosnat_hs6_way, ...).
 *
 * nosnat_hs<sfx>_way: the way of set s that holds k's handshake, or -1. A
 * global function: its loop is verified once, not at each of the table's
 * many callers.
 *
 * nosnat_hs<sfx>_record: a handshake recorded in set s: k's own way, else a
 * free one, else the way the set filled longest ago. The check goes last,
 * after a barrier: a reader meanwhile sees a way that is not k's.
 *
 * nosnat_hs<sfx>_take: a copy of k's handshake into *out, taken only if the
 * way still holds k with a matching check after the copy (another CPU may
 * have taken it meanwhile); its way, or -1.
 *
 * hs<sfx>_free_way: way w of set s freed, if it still holds k's handshake.
 *
 * hs<sfx>_lookup: k's handshake entry, or NULL (its set from hs<sfx>_set,
 * which the table defines before it instantiates these). */
#define HS_TABLE(sfx, set_t, key_t, key_eq, check_of)					\
__attribute__((noinline)) int nosnat_hs##sfx##_way(set_t *s, const key_t *k)		\
{											\
	if (!s || !k)									\
		return -1;								\
	for (int w = 0; w < NOSNAT_HS_WAYS; w++)					\
		if (key_eq(&s->key[w], k) && s->check[w] == check_of(k, &s->flow[w]))	\
			return w;							\
	return -1;									\
}											\
											\
__attribute__((noinline)) int nosnat_hs##sfx##_record(set_t *s, const key_t *k,		\
						      const struct nosnat_flow *f)	\
{											\
	__u32 w = NOSNAT_HS_WAYS, free = NOSNAT_HS_WAYS;				\
											\
	if (!s || !k || !f)								\
		return -1;								\
	for (int i = NOSNAT_HS_WAYS - 1; i >= 0; i--) {					\
		if (key_eq(&s->key[i], k))						\
			w = i;								\
		if (!s->check[i])							\
			free = i;							\
	}										\
	if (w == NOSNAT_HS_WAYS) {							\
		if (free < NOSNAT_HS_WAYS) {						\
			w = free;							\
		} else {								\
			w = s->next & (NOSNAT_HS_WAYS - 1);				\
			s->next = w + 1;						\
		}									\
	}										\
	w &= NOSNAT_HS_WAYS - 1;							\
	s->check[w] = 0;								\
	asm volatile("" ::: "memory");							\
	s->key[w] = *k;									\
	s->flow[w] = *f;								\
	asm volatile("" ::: "memory");							\
	s->check[w] = check_of(k, f);							\
	return 0;									\
}											\
											\
__attribute__((noinline)) int nosnat_hs##sfx##_take(set_t *s, const key_t *k,		\
						    struct nosnat_flow *out)		\
{											\
	if (!s || !k || !out)								\
		return -1;								\
	for (int w = 0; w < NOSNAT_HS_WAYS; w++) {					\
		if (!key_eq(&s->key[w], k) || s->check[w] != check_of(k, &s->flow[w]))	\
			continue;							\
		*out = s->flow[w];							\
		asm volatile("" ::: "memory");						\
		if (key_eq(&s->key[w], k) && s->check[w] == check_of(k, out))		\
			return w;							\
		return -1;								\
	}										\
	return -1;									\
}											\
											\
static __always_inline void hs##sfx##_free_way(set_t *s, int w, const key_t *k)	\
{											\
	w &= NOSNAT_HS_WAYS - 1;							\
	if (key_eq(&s->key[w], k)) {							\
		s->check[w] = 0;							\
		s->key[w].proto = 0;							\
	}										\
}											\
											\
static __always_inline struct nosnat_flow *hs##sfx##_lookup(const key_t *k)		\
{											\
	set_t *s = hs##sfx##_set(k);							\
	int w;										\
											\
	if (!s)										\
		return NULL;								\
	w = nosnat_hs##sfx##_way(s, k);							\
	if (w < 0)									\
		return NULL;								\
	return &s->flow[w & (NOSNAT_HS_WAYS - 1)];					\
}

HS_TABLE(, struct nosnat_hs_set, struct nosnat_flow_key, flow_key_eq, nosnat_hs_check)

/* nosnat_hs_way inlined: for local_owner's subprogram, one call deeper
 * than the stack allows a global function. */
static __always_inline int hs_way_inline(struct nosnat_hs_set *s, const struct nosnat_flow_key *k)
{
#pragma unroll
	for (int w = 0; w < NOSNAT_HS_WAYS; w++)
		if (flow_key_eq(&s->key[w], k) && s->check[w] == nosnat_hs_check(k, &s->flow[w]))
			return w;
	return -1;
}

static __always_inline void hs_record(const struct nosnat_flow_key *k, const struct nosnat_flow *f)
{
	struct nosnat_hs_set *s = hs_set(k);

	if (s)
		nosnat_hs_record(s, k, f);
}

/* k's handshake is over (promoted, or stale): its way freed. */
static __always_inline void hs_delete(const struct nosnat_flow_key *k)
{
	struct nosnat_hs_set *s = hs_set(k);
	int w;

	if (s && (w = nosnat_hs_way(s, k)) >= 0)
		hs_free_way(s, w, k);
}

/* End this CPU's copy of flow k, if it holds one: the slot is emptied
 * whatever it holds (another flow's copy only costs that flow one LRU
 * lookup), since reading the key first would wait for a cache miss on
 * every new flow. */
static __always_inline void flow_cache_drop(const struct nosnat_flow_key *k)
{
	struct flow_cache_entry *c = flow_cache_slot(k);

	if (c)
		c->jiffy = 0;
}

/* flow_lookup for a client's packet that is not a SYN; *lru: the entry is
 * the LRU's own, not this CPU's copy. The copy is made by flow_cache_fill,
 * once the entry is known not to be superseded (flow_superseded). */
static __always_inline struct nosnat_flow *flow_lookup_lru(const struct nosnat_flow_key *k,
							   int *lru)
{
	struct flow_cache_entry *c = flow_cache_slot(k);

	*lru = 0;
	if (c && c->jiffy == bpf_jiffies64() && flow_key_eq(&c->key, k))
		return &c->flow;
	*lru = 1;
	return bpf_map_lookup_elem(&nosnat_flows, k);
}

static __always_inline void flow_cache_fill(const struct nosnat_flow_key *k,
					    const struct nosnat_flow *f)
{
	struct flow_cache_entry *c = flow_cache_slot(k);

	if (c) {
		c->key = *k;
		c->flow = *f;
		c->jiffy = bpf_jiffies64();
	}
}

/* The flow entry of k. A busy flow's packets find a per-CPU copy made
 * during the same jiffy (an array lookup, not a hash lookup: ~40 ns here);
 * any other packet looks the LRU up, which keeps the entry fresh there
 * (replies find it) and notices an entry evicted or deleted since, at most
 * one jiffy late. The copy is checked like the original (flow_backend): a
 * backend or VIP removed is never followed. A SYN always asks the LRU (it
 * may move the entry's syn_ack). */
static __always_inline struct nosnat_flow *flow_lookup(const struct nosnat_flow_key *k, int syn)
{
	struct flow_cache_entry *c;
	struct nosnat_flow *f;
	__u64 now;

	if (syn)	/* nearly always a new flow: no cold slot to look at */
		return bpf_map_lookup_elem(&nosnat_flows, k);
	/* written out, not flow_lookup_lru + flow_cache_fill: tc egress's
	 * reply_flow loops over a pod's slots, and the extra state doubled
	 * what its verifier walks (268k -> 560k instructions) */
	c = flow_cache_slot(k);
	now = bpf_jiffies64();
	if (c && c->jiffy == now && flow_key_eq(&c->key, k))
		return &c->flow;
	f = bpf_map_lookup_elem(&nosnat_flows, k);
	if (c && f) {
		c->key = *k;
		c->flow = *f;
		c->jiffy = now;
	}
	return f;
}

static __always_inline __u32 flow_hash(const struct nosnat_flow_key *k)
{
	return nosnat_flow_hash(k->src, k->dst, k->sport, k->dport, k->proto);
}

/* A backend slot, only while it still belongs to this VIP. */
static __always_inline struct nosnat_backend *backend_get(__u32 id, __u32 vip_id)
{
	struct nosnat_backend *be = bpf_map_lookup_elem(&nosnat_backends, &id);

	if (!be || !(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != vip_id)
		return NULL;
	return be;
}

/* The recorded backend of flow f, if the VIP it was recorded for still
 * exists (its id's reference unchanged: deleting or re-adding a VIP moves
 * the reference on, and a live reference always serves the key its flows
 * were found by) and the pod is still configured: two array lookups, no
 * hash. A SYN (a new connection, perhaps on a reused client port) does not
 * follow an old flow to a draining backend. */
static __always_inline struct nosnat_backend *
flow_backend(const struct nosnat_flow *f, int syn)
{
	const struct nosnat_vip_id *vi;
	struct nosnat_backend *be;
	__u32 vip_id;

	if (!f)
		return NULL;
	vip_id = nosnat_vip_ref_id(f->vip_ref);
	vi = bpf_map_lookup_elem(&nosnat_vip_ids, &vip_id);
	if (!vi || vi->ref != f->vip_ref)
		return NULL;
	be = backend_get(f->backend_id, vip_id);
	if (!be || be->addr != f->backend_addr || (syn && !be->weight))
		return NULL;
	return be;
}

/* Checked once per flow, before it is created: a VIP or this node never
 * sends to a VIP from outside. Established flows passed it already. */
static __always_inline int source_spoofed(const struct nosnat_flow_key *k, __be32 node_ip)
{
	__be32 src = k->src;

	return src == node_ip || is_vip_addr(src);
}

#define NEW_FLOW_SPOOFED (-1)	/* pick.new_flow when the source is refused */

/* How a VIP packet's pod was chosen. */
enum pick_state {
	PICK_NONE = 0,		/* no pod */
	PICK_ESTABLISHED,	/* nosnat_flows (or this CPU's copy) */
	PICK_PROMOTED,		/* nosnat_flow_new, moved to nosnat_flows by this packet */
	PICK_NEW,		/* a flow's first packet (TCP SYN, UDP miss) */
	PICK_RECOVERED,		/* a TCP non-SYN with no entry: recomputed */
	PICK_HANDSHAKE,		/* nosnat_flow_new's entry, not promoted (budget) */
	PICK_PROVING,		/* nosnat_flow_new's entry of a pod here, promoted once its
				 * conntrack entry shows the handshake over (local_owner) */
};

/* The pod a VIP packet goes to, and how it was found. */
struct pick {
	struct nosnat_backend *be;
	struct nosnat_flow *f;	/* the entry when PICK_ESTABLISHED */
	__u32 id;		/* backend id of be */
	__u32 vip_id;
	__u32 state;		/* enum pick_state */
	__u32 reason;		/* NOSNAT_R_NONE, _NEW_FLOW_LIMITED, _RECOVERED */
	__u32 flags;		/* the entry's NOSNAT_FLOW_* (established, promoted) */
	int new_flow;		/* 1: counted as a new flow; NEW_FLOW_SPOOFED */
	struct nosnat_flow *handed_on;	/* nosnat_flow_new's entry, NOSNAT_FLOW_HANDED_ON */
};

static __always_inline struct nosnat_backend *
maglev_in(void *outer, __u32 vip_id, __u32 hash, __u32 *id)
{
	void *inner = bpf_map_lookup_elem(outer, &vip_id);
	struct nosnat_maglev_slots *table;
	__u32 slot = hash % NOSNAT_MAGLEV_SIZE, zero = 0;

	if (!inner)
		return NULL;
	table = bpf_map_lookup_elem(inner, &zero);
	/* The compiler knows slot < M; the verifier must be told. */
	asm volatile("" : "+r"(slot));
	if (!table || slot >= NOSNAT_MAGLEV_SIZE)
		return NULL;
	*id = table->backend[slot];
	return backend_get(*id, vip_id);
}

static __always_inline struct nosnat_backend *
maglev_backend(__u32 vip_id, __u32 hash, __u32 *id)
{
	return maglev_in(&nosnat_maglev, vip_id, hash, id);
}

/* The pod the VIP's table before its last change gave this hash. */
static __always_inline struct nosnat_backend *
maglev_prev_backend(__u32 vip_id, __u32 hash, __u32 *id)
{
	return maglev_in(&nosnat_mag_prev, vip_id, hash, id);
}

/* Record flow k in table (nosnat_flows or nosnat_flow_new); gen only with
 * NOSNAT_FLOW_MAGLEV in flags. */
static __always_inline void flow_record(void *table, const struct nosnat_flow_key *k, __u32 id,
					const struct nosnat_backend *be, __u32 vip_id,
					__be32 syn_ack, __u32 flags, __u32 gen)
{
	const struct nosnat_vip_id *vi = bpf_map_lookup_elem(&nosnat_vip_ids, &vip_id);
	struct nosnat_flow f = {
		.backend_id = id, .backend_addr = be->addr, .syn_ack = syn_ack,
		.vip_ref = vi ? vi->ref : 0,	/* 0 never matches: the flow re-picks */
		.flags = flags, .gen = gen,
	};

	if (table == (void *)&nosnat_flow_new) {
		hs_record(k, &f);
		/* this CPU's copy of an older connection on the same addresses
		 * and ports is over too: flow_superseded never asks a copy (the
		 * slot is written blind, no key read: it is in this CPU's cache) */
		flow_cache_drop(k);
		return;
	}
	bpf_map_update_elem(table, k, &f, BPF_ANY);
	flow_cache_drop(k);	/* a copy of the old entry is over */
}

#define ANY_VIP	(~0U)

/* The VIP's Maglev generation (nosnat_abi.h), read as a seqlock's count
 * around a pick: maglev_gen() before, maglev_gen_after() with its answer
 * after; an odd answer is never in force. */
#define GEN_NONE 1U

static __always_inline __u32 maglev_gen(__u32 vip_id)
{
	__u32 *g = bpf_map_lookup_elem(&nosnat_vip_gen, &vip_id);

	return g ? *(volatile __u32 *)g : GEN_NONE;
}

static __always_inline __u32 maglev_gen_after(__u32 vip_id, __u32 before)
{
	return maglev_gen(vip_id) == before ? before : GEN_NONE;
}

/* Does f still name the pod the VIP's Maglev table in force gives it? */
static __always_inline int flow_current(const struct nosnat_flow *f, __u32 vip_id)
{
	return (f->flags & NOSNAT_FLOW_MAGLEV) && !(f->gen & 1) && f->gen == maglev_gen(vip_id);
}

/* Is there a handshake on k's addresses and ports that this TCP segment
 * (sequence number seq) belongs to? Within 64 KiB after its SYN: the
 * first packets of a connection, before its entry is promoted; a blind
 * sender must hit that window, as it must a TCP receive window. */
#define HANDSHAKE_SEQ_WINDOW	(1U << 16)

/* Either family's handshake entry nf (NULL: none): a handshake whose pod
 * or VIP is gone supersedes nothing, the older entry, still valid, stays. */
static __always_inline int handshake_holds(const struct nosnat_flow *nf, __be32 seq)
{
	return nf && nf->syn_ack && bpf_ntohl(seq) - bpf_ntohl(nf->syn_ack) < HANDSHAKE_SEQ_WINDOW &&
	       flow_backend(nf, 0);
}

static __always_inline int flow_newer_handshake(const struct nosnat_flow_key *k, __be32 seq)
{
	return handshake_holds(hs_lookup(k), seq);
}

/* An entry not current and not superseded: current again if the VIP's
 * Maglev table in force (hash: the flow's) still gives its pod. */
static __always_inline void flow_make_current(struct nosnat_flow *f, __u32 vip_id, __u32 hash)
{
	struct nosnat_backend *be;
	__u32 gen = maglev_gen(vip_id), id;

	be = maglev_backend(vip_id, hash, &id);
	if (be && id == f->backend_id && be->addr == f->backend_addr &&
	    maglev_gen_after(vip_id, gen) == gen && !(gen & 1)) {
		f->gen = gen;
		f->flags |= NOSNAT_FLOW_MAGLEV;
	}
}

/* A SYN looks up only nosnat_flow_new: an established flow on the same
 * addresses and ports (a client reusing its port, the connection before
 * long over) is not looked for. Where that flow is current, the SYN's pick
 * is its pod anyway. Where it is not (recorded under an older table, or
 * not by Maglev: second chance, recovery), the new connection's first
 * packets find it first: a TCP packet of such a flow checks for a newer
 * handshake in nosnat_flow_new (flow_newer_handshake), and if there is
 * one the flow is superseded (the handshake's entry is promoted over it).
 * Without one, a flow whose pod Maglev still gives is made current again
 * (only the LRU's entry, f_lru: flow_make_current), so that it pays the
 * check once per change of its VIP's table. */
static __always_inline int flow_superseded(const struct nosnat_flow_key *k,
					   struct nosnat_flow *f, int f_lru, __u32 vip_id,
					   __be32 seq)
{
	/* this CPU's copy is made only of an entry found not superseded, and
	 * a SYN that records a handshake drops it (flow_record) */
	if (!f_lru || k->proto != IPPROTO_TCP || flow_current(f, vip_id))
		return 0;
	if (flow_newer_handshake(k, seq))
		return 1;
	flow_make_current(f, vip_id, flow_hash(k));
	return 0;
}

/* k's entry in nosnat_flow_new while it is still valid (flow_backend; syn:
 * not a draining pod) for vip_id (or ANY_VIP: a live reference serves the
 * key the flow was found by) and on node (0: any); its pod in *be. */
static __always_inline struct nosnat_flow *
handshake_entry(const struct nosnat_flow_key *k, __u32 vip_id, __be32 node, int syn,
		struct nosnat_backend **be)
{
	struct nosnat_flow *nf = hs_lookup(k);

	*be = flow_backend(nf, syn);
	if (!*be || (vip_id != ANY_VIP && nosnat_vip_ref_id(nf->vip_ref) != vip_id) ||
	    (node && (*be)->node != node))
		return NULL;
	return nf;
}

/* A SYN again (a retransmission, or a flood of one 5-tuple) of a flow still
 * in nosnat_flow_new: its entry, its SYN's sequence number taken, no new
 * pick and no insert. A SYN looks nowhere else (flow_superseded). */
static __always_inline int flow_again(const struct nosnat_flow_key *k, __u32 vip_id,
				      __be32 node, __be32 syn_ack, struct pick *pk)
{
	struct nosnat_backend *be;
	struct nosnat_flow *nf = handshake_entry(k, vip_id, node, 1, &be);

	if (!nf)
		return 0;
	pk->be = be;
	if (nf->syn_ack != syn_ack)
		nf->syn_ack = syn_ack;
	pk->vip_id = nosnat_vip_ref_id(nf->vip_ref);
	pk->id = nf->backend_id;
	pk->state = PICK_NEW;
	if (nf->flags & NOSNAT_FLOW_HANDED_ON) {
		/* XDP recorded it and passed it on: this is its first walk
		 * that may deliver it (vip_deliver clears the mark then) */
		pk->new_flow = 1;
		pk->handed_on = nf;
	}
	return 1;
}

/* Above cfg->new_flow_limit SYNs in this CPU's current second? */
static __always_inline int new_flow_limited(const struct nosnat_cfg *cfg)
{
	return rate_over(RATE_NEW_FLOWS, cfg->new_flow_limit);
}

/* The client's first packet after its SYN: the flow leaves nosnat_flow_new
 * for nosnat_flows. Where nothing outlives the entry (a pod elsewhere,
 * whose node recomputes it by Maglev and second chance; any pod without
 * conntrack marks), a blind SYN+ACK flood must not fill the table of
 * established flows faster than a SYN flood fills the new-flow table: such
 * promotions spend the new-flow budget, and above it the packet goes
 * where the handshake's entry says (PICK_HANDSHAKE), the flow staying in
 * the small table. A pod here with conntrack marks is the durable record. */
static __always_inline int flow_promote(const struct nosnat_flow_key *k, __u32 vip_id,
					__be32 node, const struct nosnat_cfg *cfg, struct pick *pk)
{
	struct nosnat_hs_set *s = hs_set(k);
	struct nosnat_backend *be;
	struct nosnat_flow copy;
	int w;

	/* a copy of k's handshake, still k's once copied (nosnat_hs_take) */
	if (!s || (w = nosnat_hs_take(s, k, &copy)) < 0)
		return 0;
	be = flow_backend(&copy, 0);
	if (!be || (vip_id != ANY_VIP && nosnat_vip_ref_id(copy.vip_ref) != vip_id) ||
	    (node && be->node != node))
		return 0;
	pk->be = be;
	copy.flags &= ~NOSNAT_FLOW_HANDED_ON;
	pk->flags = copy.flags;
	pk->id = copy.backend_id;
	if (be->node == cfg->node_ip && nosnat_have_ct && cfg->ct_mark_mask) {
		/* a pod here: its conntrack entry is claimed at once, and the
		 * flow promoted only on the entry's word that the handshake
		 * is over, which a blind SYN+ACK never gets (UDP: at once) */
		if (k->proto == IPPROTO_TCP) {
			pk->state = PICK_PROVING;
			return 1;
		}
	} else if (new_flow_limited(cfg) &&
		   /* a handshake that supersedes an older connection's entry
		    * (a reused port) does not grow nosnat_flows */
		   !bpf_map_lookup_elem(&nosnat_flows, k)) {
		pk->state = PICK_HANDSHAKE;
		pk->reason = NOSNAT_R_NEW_FLOW_LIMITED;
		return 1;
	}
	bpf_map_update_elem(&nosnat_flows, k, &copy, BPF_ANY);
	hs_free_way(s, w, k);	/* the way it was copied from, no second scan */
	flow_cache_drop(k);
	pk->id = copy.backend_id;
	pk->state = PICK_PROMOTED;
	return 1;
}

/* k's handshake proven: its entry moves from nosnat_flow_new to
 * nosnat_flows, its conntrack entry seen. */
static __always_inline void flow_establish(const struct nosnat_flow_key *k)
{
	struct nosnat_hs_set *s = hs_set(k);
	struct nosnat_flow copy;
	int w;

	if (!s)
		return;
	w = hs_way_inline(s, k);
	if (w < 0)
		return;
	w &= NOSNAT_HS_WAYS - 1;
	copy = s->flow[w];
	/* still k's after the copy (another CPU may have taken the way) */
	if (!flow_key_eq(&s->key[w], k) || s->check[w] != nosnat_hs_check(k, &copy))
		return;
	copy.flags = (copy.flags & ~NOSNAT_FLOW_HANDED_ON) | NOSNAT_FLOW_CT_SEEN;
	bpf_map_update_elem(&nosnat_flows, k, &copy, BPF_ANY);
	hs_free_way(s, w, k);
	flow_cache_drop(k);
}

/* A flow found stale: gone from both tables and from this CPU's cache. */
static __always_inline void flow_forget(const struct nosnat_flow_key *k)
{
	bpf_map_delete_elem(&nosnat_flows, k);
	hs_delete(k);
	flow_cache_drop(k);
}

/* This node's entry for pod key pk, if it has one: the directory element
 * at pk's index when it holds pk, the complete table only when other keys
 * share the index. */
static __always_inline const struct nosnat_pod *pod_lookup(const struct nosnat_pod_key *pk)
{
	__u32 idx = nosnat_pod_index(pk);
	const struct nosnat_pod *pod = bpf_map_lookup_elem(&nosnat_pod_dir, &idx);

	if (!pod)
		return NULL;
	if (pod->key.addr == pk->addr && pod->key.port == pk->port && pod->key.proto == pk->proto)
		return pod;
	if (!(pod->flags & NOSNAT_POD_MORE))
		return NULL;
	return bpf_map_lookup_elem(&nosnat_pods, pk);
}

/* A pod's reply (pod, client, ports and protocol in pk and the arguments):
 * the flow it answers, if a client's flow through a VIP chose this pod.
 * Sets *fk to the flow's key and *fp to the entry (for a SYN-ACK, syn_ack
 * set, the handshake's or the LRU's own; else perhaps this CPU's copy);
 * returns the pod's slot
 * for that VIP. Anything else, a connection made straight to the pod, say,
 * has no such flow and stays untouched. The flow proves the slot: it was
 * recorded for this backend id and address, and for the VIP's reference
 * the slot names (so for the VIP address and port the key was built from). */
static __always_inline const struct nosnat_pod_slot *
reply_flow(const struct nosnat_pod_key *pk, __be32 client, __be16 client_port, int syn_ack,
	   struct nosnat_flow_key *fk, struct nosnat_flow **fp)
{
	const struct nosnat_pod *pod = pod_lookup(pk);

	if (!pod)
		return NULL;
	for (__u32 i = 0; i < NOSNAT_POD_IDS; i++) {
		const struct nosnat_pod_slot *sl = &pod->slots[i];
		struct nosnat_flow *f;

		if (i >= pod->count)
			break;
		*fk = (struct nosnat_flow_key){
			.src = client, .dst = sl->vip_addr, .sport = client_port,
			.dport = sl->vip_port, .proto = pk->proto,
		};
		/* a handshake's flow lives in the small table until the client
		 * (or, for a pod here, its conntrack) shows it over: the
		 * SYN-ACK, a server's greeting, a UDP reply answer it there. A
		 * SYN-ACK asks it first: a SYN never looks at nosnat_flows, so
		 * on a client's reused port the flow there is the old one. */
		f = syn_ack ? hs_lookup(fk) : flow_lookup(fk, 0);
		if (!f || f->backend_id != sl->id || f->backend_addr != pk->addr ||
		    f->vip_ref != sl->vip_ref) {
			f = syn_ack ? flow_lookup(fk, 1) : hs_lookup(fk);
			if (!f || f->backend_id != sl->id || f->backend_addr != pk->addr ||
			    f->vip_ref != sl->vip_ref)
				continue;
		}
		*fp = f;
		return sl;
	}
	return NULL;
}

/* A pod's reply that no table explains (its flow was evicted, wiped, or
 * recorded by an earlier load): the VIP whose mark this node's conntrack
 * entry of the connection carries, if the pod serves that VIP; the flow is
 * recorded again. Never for a SYN-ACK: a handshake's flow is in a table. */
static __always_inline const struct nosnat_pod_slot *
reply_flow_ct(struct __sk_buff *skb, const struct nosnat_pod_key *pk, __be32 client,
	      __be16 client_port, __u32 mask, struct nosnat_flow_key *fk)
{
	struct ct_tuple t = { .saddr = pk->addr, .daddr = client, .sport = pk->port,
			      .dport = client_port, .proto = pk->proto };
	struct nosnat_flow_key nk = { .src = client, .dst = pk->addr, .sport = client_port,
				      .dport = pk->port, .proto = pk->proto };
	const struct nosnat_pod *pod;
	struct flow_cache_entry *c;
	__u32 mark;
	__u64 now;

	pod = pod_lookup(pk);
	if (!pod)
		return NULL;
	/* A connection gets its mark at the handshake's ACK, when its flow is
	 * in nosnat_flows already (replies find it there first): "no mark"
	 * stays true for the jiffy it is kept. */
	c = flow_cache_slot(&nk);
	now = bpf_jiffies64();
	if (c && c->jiffy == now && c->flow.flags == FLOW_CACHE_NOT_VIP && flow_key_eq(&c->key, &nk))
		return NULL;
	mark = ct_mark_skb(skb, &t, mask);
	if (!mark) {
		if (c) {
			c->key = nk;
			c->flow = (struct nosnat_flow){ .flags = FLOW_CACHE_NOT_VIP };
			c->jiffy = now;
		}
		return NULL;
	}
	for (__u32 i = 0; i < NOSNAT_POD_IDS; i++) {
		const struct nosnat_pod_slot *sl = &pod->slots[i];
		struct nosnat_flow f = {
			.backend_id = sl->id, .backend_addr = pk->addr, .vip_ref = sl->vip_ref,
			.flags = NOSNAT_FLOW_CT_SEEN,
		};

		if (i >= pod->count)
			break;
		if (nosnat_vip_mark(sl->vip_addr, sl->vip_port, pk->proto, mask) != mark)
			continue;
		*fk = (struct nosnat_flow_key){
			.src = client, .dst = sl->vip_addr, .sport = client_port,
			.dport = sl->vip_port, .proto = pk->proto,
		};
		bpf_map_update_elem(&nosnat_flows, fk, &f, BPF_ANY);
		flow_cache_drop(fk);
		return sl;
	}
	return NULL;
}

/* A client's packet (not a SYN) of an established flow: its entry (this
 * CPU's copy, else the LRU's, then copied) unless superseded by a newer
 * handshake, as pk. 0, pk untouched: no such entry. */
static __always_inline int pick_established(const struct nosnat_flow_key *k, __be32 seq,
					    struct pick *pk)
{
	struct nosnat_backend *be;
	struct nosnat_flow *f;
	int f_lru;

	f = flow_lookup_lru(k, &f_lru);
	be = flow_backend(f, 0);
	if (!be || flow_superseded(k, f, f_lru, nosnat_vip_ref_id(f->vip_ref), seq))
		return 0;
	if (f_lru)
		flow_cache_fill(k, f);
	pk->be = be;
	pk->f = f;
	pk->id = f->backend_id;
	pk->vip_id = nosnat_vip_ref_id(f->vip_ref);
	pk->state = PICK_ESTABLISHED;
	return 1;
}

/* Ingress node, no usable entry in nosnat_flows: a SYN (or a UDP packet)
 * goes to nosnat_flow_new unless this CPU is over its new-flow budget and
 * the pod is elsewhere (Maglev alone then; the flow's next packet records
 * it); a later packet promotes its entry; a TCP packet without any entry is
 * recomputed from the Maglev table. A local pod's recomputed flow is
 * recorded only once the pod is known to own it (vip_deliver). */
static __always_inline void select_backend(const struct nosnat_flow_key *k,
					   const struct nosnat_vip *vip,
					   const struct nosnat_cfg *cfg, int syn, __be32 syn_ack,
					   struct pick *pk)
{
	int opening = syn || k->proto == IPPROTO_UDP;
	__u32 gen;

	pk->vip_id = vip->id;
	if (source_spoofed(k, cfg->node_ip)) {
		pk->new_flow = NEW_FLOW_SPOOFED;
		return;
	}
	if (!syn && flow_promote(k, vip->id, 0, cfg, pk))	/* SYNs: flow_again, earlier */
		return;
	if (!vip->active)
		return;
	gen = maglev_gen(vip->id);
	pk->be = maglev_backend(vip->id, flow_hash(k), &pk->id);
	if (!pk->be)
		return;
	gen = maglev_gen_after(vip->id, gen);
	if (!opening) {
		pk->state = PICK_RECOVERED;
		pk->reason = NOSNAT_R_RECOVERED;
		/* unproven: the small table, within the new-flow budget */
		if (pk->be->node != cfg->node_ip && !new_flow_limited(cfg))
			flow_record(&nosnat_flow_new, k, pk->id, pk->be, vip->id, 0,
				    NOSNAT_FLOW_MAGLEV, gen);
		return;
	}
	if (syn && pk->be->node == cfg->node_ip) {
		/* A pod here: its conntrack entry is claimed for the VIP when
		 * the handshake ends, which a leftover handshake entry behind
		 * an older connection's flow (a reused port) would try later,
		 * too late. So, here alone, a SYN takes an older connection's
		 * entry and its pod (not a draining one), as before the SYN
		 * skipped nosnat_flows; vip_deliver has it claimed anew. */
		struct nosnat_flow *f = flow_lookup(k, 1);
		struct nosnat_backend *be = flow_backend(f, 1);

		if (be && nosnat_vip_ref_id(f->vip_ref) == vip->id) {
			pk->be = be;
			pk->id = f->backend_id;
			pk->f = f;
			pk->state = PICK_ESTABLISHED;
			return;
		}
	}
	pk->state = PICK_NEW;
	pk->new_flow = 1;
	if (pk->be->node != cfg->node_ip && new_flow_limited(cfg)) {
		pk->reason = NOSNAT_R_NEW_FLOW_LIMITED;
		/* no handshake recorded, so none can supersede an older
		 * connection's entry on these addresses and ports (a reused
		 * port): it is over now, and the next packet picks as this
		 * SYN did. Above the budget only: a delete is dearer than the
		 * lookup that nearly always misses */
		if (syn && bpf_map_lookup_elem(&nosnat_flows, k)) {
			bpf_map_delete_elem(&nosnat_flows, k);
			flow_cache_drop(k);
		}
		return;
	}
	flow_record(&nosnat_flow_new, k, pk->id, pk->be, vip->id, syn_ack, NOSNAT_FLOW_MAGLEV, gen);
}

/* Ingress node: the pod for a client's packet to a VIP address, from its
 * handshake's entry (a SYN again), its established entry (no VIP lookup at
 * all), else select_backend. 0 when the address has no such VIP:port. */
static __always_inline int ingress_pick(const struct nosnat_flow_key *k,
					const struct nosnat_cfg *cfg, int syn, __be32 syn_ack,
					__be32 seq, struct pick *pk)
{
	struct nosnat_vip *vip;

	/* a SYN: its handshake's entry if it is one again, else a new pick
	 * (flow_superseded: no look at nosnat_flows) */
	if (syn) {
		if (flow_again(k, ANY_VIP, 0, syn_ack, pk))
			return 1;
	} else if (pick_established(k, seq, pk)) {
		return 1;
	}
	vip = vip_lookup(k->dst, k->dport, k->proto);
	if (!vip)
		return 0;
	select_backend(k, vip, cfg, syn, syn_ack, pk);
	return 1;
}

/* What nosnat_local_scan found, above the id in the low 32 bits. */
#define LOCAL_HERE	(1ULL << 32)	/* the VIP has pods on this node */
#define LOCAL_TAGGED	(1ULL << 33)	/* the id is the tagged pod's */
#define LOCAL_FALLBACK	(1ULL << 34)	/* the id is one in use, by hash */

/* This node's pods of VIP vip_id, for the one the ingress node tagged (a
 * draining one not for a SYN), and failing that one in use, picked by
 * hash. A global function: its loop, a tag hashed per pod, is verified
 * once, not again for every state a decapsulated packet or an ICMP error
 * reaches it in (tens of thousands of instructions on 6.1). */
__attribute__((noinline)) __u64 nosnat_local_scan(__u32 vip_id, __u32 node_ip, __u32 tag,
						 __u32 syn, __u32 hash)
{
	struct nosnat_local *local = bpf_map_lookup_elem(&nosnat_local, &vip_id);
	__u32 fallback = 0, have_fallback = 0;

	if (!local)
		return 0;
	for (__u32 i = 0; i < NOSNAT_MAX_LOCAL; i++) {
		struct nosnat_backend *be;
		__u32 bid;

		if (i >= local->count)
			break;
		bid = local->ids[i];
		be = backend_get(bid, vip_id);
		if (!be || be->node != node_ip)
			continue;
		if (backend_tag_of(be, 1) == tag && (!syn || be->weight))
			return LOCAL_HERE | LOCAL_TAGGED | bid;
		if (be->weight && (!have_fallback || (hash % (i + 1)) == 0)) {
			fallback = bid;
			have_fallback = 1;
		}
	}
	return LOCAL_HERE | (have_fallback ? LOCAL_FALLBACK | fallback : 0);
}

/* Backend node, packet decapsulated: known flow, else the pod the ingress
 * node chose (by tag), else Maglev if that is local, else one of this node's
 * own backends by flow hash. Never a pod on another node (but see
 * vip_deliver's second chance). */
static __always_inline void select_local_backend(const struct nosnat_flow_key *k, __u32 vip_id,
						 const struct nosnat_cfg *cfg, __u16 tag, int syn,
						 __be32 syn_ack, __be32 seq, struct pick *pk)
{
	__be32 node_ip = cfg->node_ip;
	struct nosnat_backend *be = NULL;
	struct nosnat_flow *f = NULL;
	__u32 hash, id = 0;
	__u64 scan;
	int f_lru = 0;

	/* a SYN: its handshake again, else an older connection's entry on
	 * its addresses and ports, as before, and its pod if not draining
	 * (vip_deliver has the new connection claimed anew), else the pod
	 * the ingress node tagged */
	if (syn && flow_again(k, vip_id, node_ip, syn_ack, pk))
		return;
	if (syn) {
		f = flow_lookup(k, 1);
		be = flow_backend(f, 1);
	} else {
		f = flow_lookup_lru(k, &f_lru);
		be = flow_backend(f, 0);
	}
	pk->vip_id = vip_id;
	if (be && nosnat_vip_ref_id(f->vip_ref) == vip_id && be->node == node_ip &&
	    /* the ingress node tagged another pod: its client's newer
	     * connection on a reused port, if a handshake here says so (else
	     * the entry wins: a VIP that moved to a node whose table differs) */
	    !(f_lru && k->proto == IPPROTO_TCP && backend_tag_of(be, 1) != tag &&
	      flow_newer_handshake(k, seq))) {
		if (f_lru)
			flow_cache_fill(k, f);
		pk->be = be;
		pk->id = f->backend_id;
		pk->f = f;
		pk->state = PICK_ESTABLISHED;
		return;
	}
	if (source_spoofed(k, node_ip)) {
		pk->new_flow = NEW_FLOW_SPOOFED;
		return;
	}
	if (!syn && flow_promote(k, vip_id, node_ip, cfg, pk))
		return;
	hash = flow_hash(k);
	scan = nosnat_local_scan(vip_id, node_ip, tag, syn, hash);
	if (!(scan & LOCAL_HERE))
		return;
	if (scan & LOCAL_TAGGED) {
		id = (__u32)scan;
		be = backend_get(id, vip_id);
		if (!be)
			return;
		goto found;
	}
	be = maglev_backend(vip_id, hash, &id);
	if (be && be->node == node_ip)
		goto found;
	if (!(scan & LOCAL_FALLBACK))
		return;
	id = (__u32)scan;
	be = backend_get(id, vip_id);
	if (!be)
		return;
found:
	pk->be = be;
	pk->id = id;
	if (!syn && k->proto == IPPROTO_TCP) {	/* ownership decided at delivery */
		pk->state = PICK_RECOVERED;
		pk->reason = NOSNAT_R_RECOVERED;
		return;
	}
	pk->state = PICK_NEW;
	pk->new_flow = 1;
	flow_record(&nosnat_flow_new, k, id, be, vip_id, syn_ack, 0, 0);
}

#endif
