/* conntrack.h - the kernel's conntrack as the pod node's durable record of
 * VIP flows: look an entry up (ct kfuncs, kernel 6.1+), read or set its mark. */
#ifndef NOSNAT_CONNTRACK_H
#define NOSNAT_CONNTRACK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "nosnat_abi.h"
#include "ctx.h"

/* Set by the loader when the kernel offers the conntrack kfuncs; when 0,
 * every call below is dead code the verifier removes (and the weak kfunc
 * references may stay unresolved). */
const volatile __u32 nosnat_have_ct = 0;

/* The fields of the kernel's struct nf_conn we use; CO-RE finds them. */
struct ip_ct_tcp {
	__u8 state;		/* enum tcp_conntrack */
} __attribute__((preserve_access_index));

union nf_conntrack_proto {
	struct ip_ct_tcp tcp;
} __attribute__((preserve_access_index));

struct nf_conn {
	__u32 mark;
	union nf_conntrack_proto proto;
} __attribute__((preserve_access_index));

/* enum tcp_conntrack: past the handshake from here on; ended */
#define CT_TCP_ESTABLISHED	3
#define CT_TCP_TIME_WAIT	7
#define CT_TCP_CLOSE		8

/* The kfuncs' options, the 12-byte layout every kernel since 6.1 accepts. */
struct bpf_ct_opts___nosnat {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

#define CT_NETNS_CURRENT	(-1)	/* BPF_F_CURRENT_NETNS */

/* The kfuncs' tuple: struct bpf_sock_tuple's IPv4 half, all they read of
 * it (tuple_sz). The whole union is 36 bytes of stack where 12 do, and a
 * verifier before 6.9 rounds each frame up to 32 bytes (16 since, with a
 * JIT) before it adds a call chain's frames up to 512: tc ingress, its
 * walk and local_owner_skb came to 544 on 6.1. */
struct bpf_sock_tuple___nosnat {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple___nosnat *tuple,
					 __u32 tuple_sz, struct bpf_ct_opts___nosnat *opts,
					 __u32 opts_sz) __ksym __weak;
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *ctx, struct bpf_sock_tuple___nosnat *tuple,
					 __u32 tuple_sz, struct bpf_ct_opts___nosnat *opts,
					 __u32 opts_sz) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym __weak;

/* A flow's addresses as one direction of a connection shows them. */
struct ct_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

static __always_inline void ct_tuple_fill(struct bpf_sock_tuple___nosnat *bt,
					  const struct ct_tuple *t)
{
	bt->saddr = t->saddr;
	bt->daddr = t->daddr;
	bt->sport = t->sport;
	bt->dport = t->dport;
}

/* This node's conntrack entry of t (either direction's tuple finds it),
 * referenced: the caller releases it. NULL: none, or conntrack not used. */
static __always_inline struct nf_conn *ct_lookup(ctx_t c, const struct ct_tuple *t)
{
	struct bpf_ct_opts___nosnat o = { .netns_id = CT_NETNS_CURRENT, .l4proto = t->proto };
	struct bpf_sock_tuple___nosnat bt;

	if (!nosnat_have_ct)
		return NULL;
	ct_tuple_fill(&bt, t);
	if (c.tc)
		return bpf_skb_ct_lookup(ctx_skb(c), &bt, sizeof(bt), &o, sizeof(o));
	return bpf_xdp_ct_lookup(ctx_xdp(c), &bt, sizeof(bt), &o, sizeof(o));
}

/* What a lookup found. */
enum ct_found {
	CT_NONE = 0,		/* no such connection (or conntrack not used) */
	CT_OURS,		/* the connection, with this VIP's mark (now) */
	CT_OTHER,		/* the connection, with another mark in our bits */
};

/* How a lookup may set the VIP's mark. */
enum ct_claim_mode {
	CT_LOOK = 0,		/* never */
	CT_CLAIM,		/* on an entry that has none of our bits (a flow in
				 * nosnat_flows: nosnat recorded it itself) */
	CT_CLAIM_HANDSHAKE,	/* the same, only while conntrack has a TCP
				 * connection in its handshake (a flow coming out of
				 * the new-flow table at its first ACK) */
};

/* The VIP mark of a connection: kept when it is already this VIP's,
 * refused for another VIP's mark, set on an unmarked entry as mode allows.
 * An unmarked TCP connection already open when a flow's first ACK comes
 * was not made by the handshake nosnat saw (one made straight to the pod,
 * say, that a forged SYN+ACK through the VIP names): refused. */
static __always_inline enum ct_found ct_claim(struct nf_conn *ct, __u32 want, __u32 mask,
					      int mode, int tcp)
{
	__u32 mark = ct->mark, have = mark & mask;

	if (have == want)
		return CT_OURS;
	if (have || (mode == CT_CLAIM_HANDSHAKE && tcp &&
		     ct->proto.tcp.state >= CT_TCP_ESTABLISHED))
		return CT_OTHER;
	ct->mark = (mark & ~mask) | want;
	return CT_OURS;
}

/* Does this node's conntrack know the connection t (the packet's own
 * direction, after DNAT), with VIP mark want? claim (enum ct_claim_mode):
 * whether the mark may be set on an entry that has none of our bits.
 * open (when not NULL): whether a TCP connection is past its handshake. */
static __always_inline enum ct_found ct_check(ctx_t c, const struct ct_tuple *t,
					      __u32 want, __u32 mask, int claim, int *open)
{
	struct nf_conn *ct;
	enum ct_found r;

	if (!nosnat_have_ct || !mask)
		return CT_NONE;
	ct = ct_lookup(c, t);
	if (!ct)
		return CT_NONE;
	/* A TCP connection that has ended (TIME_WAIT, CLOSE: kept for 120 s
	 * and 10 s) proves nothing about a packet now: its client may have
	 * reused the port for a connection to another pod, whose packets,
	 * delivered here on its word, this pod would reset. */
	if (t->proto == IPPROTO_TCP && (ct->proto.tcp.state == CT_TCP_TIME_WAIT ||
					ct->proto.tcp.state == CT_TCP_CLOSE)) {
		bpf_ct_release(ct);
		return CT_NONE;
	}
	if (open)	/* a TCP connection past its handshake */
		*open = t->proto == IPPROTO_TCP && ct->proto.tcp.state >= CT_TCP_ESTABLISHED;
	if (claim)
		r = ct_claim(ct, want, mask, claim, t->proto == IPPROTO_TCP);
	else
		r = (ct->mark & mask) == want ? CT_OURS : CT_OTHER;
	bpf_ct_release(ct);
	return r;
}

/* IPv6: the kfuncs' tuple is struct bpf_sock_tuple's IPv6 half (the
 * size tells them the family). */
struct bpf_sock_tuple6___nosnat {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
};

/* tc: this node's conntrack entry of the v6 connection t (either
 * direction's tuple), referenced; NULL when none or conntrack not used. */
static __always_inline struct nf_conn *ct6_lookup_skb(struct __sk_buff *skb,
						      struct bpf_sock_tuple6___nosnat *t,
						      __u8 proto)
{
	struct bpf_ct_opts___nosnat o = { .netns_id = CT_NETNS_CURRENT, .l4proto = proto };

	if (!nosnat_have_ct)
		return NULL;
	/* the kfunc reads tuple_sz bytes of the tuple: 36, the IPv6 half */
	return bpf_skb_ct_lookup(skb, (struct bpf_sock_tuple___nosnat *)t, sizeof(*t), &o,
				 sizeof(o));
}

/* tc: the VIP mark bits of connection t (a reply's direction), 0 when the
 * connection has none or is unknown. */
static __always_inline __u32 ct_mark_skb(struct __sk_buff *skb, const struct ct_tuple *t,
					 __u32 mask)
{
	struct nf_conn *ct;
	__u32 mark;

	if (!nosnat_have_ct || !mask)
		return 0;
	ct = ct_lookup(CTX_SKB(skb), t);
	if (!ct)
		return 0;
	mark = ct->mark & mask;
	bpf_ct_release(ct);
	return mark;
}

#endif
