/* ctx.h - one walk, two hooks: a packet's context is an xdp_md (XDP) or an
 * __sk_buff (tc ingress), with a wrapper per primitive both can do. */
#ifndef NOSNAT_CTX_H
#define NOSNAT_CTX_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Which hook runs the walk. Every entry point passes a constant, and the
 * walk is inlined into it, so each program keeps only its own side of
 * every ctx_* below: the other side's helpers are never in its code. */
enum hook_kind { AT_XDP = 0, AT_TC = 1 };

typedef struct {
	void *p;		/* struct xdp_md * or struct __sk_buff * */
	int tc;			/* enum hook_kind */
} ctx_t;

#define CTX_XDP(x)	((ctx_t){ .p = (x), .tc = AT_XDP })
#define CTX_SKB(s)	((ctx_t){ .p = (s), .tc = AT_TC })
#define ctx_xdp(c)	((struct xdp_md *)(c).p)
#define ctx_skb(c)	((struct __sk_buff *)(c).p)

static __always_inline void *ctx_data(ctx_t c)
{
	return c.tc ? (void *)(long)ctx_skb(c)->data : (void *)(long)ctx_xdp(c)->data;
}

static __always_inline void *ctx_data_end(ctx_t c)
{
	return c.tc ? (void *)(long)ctx_skb(c)->data_end : (void *)(long)ctx_xdp(c)->data_end;
}

static __always_inline __u32 ctx_ingress_ifindex(ctx_t c)
{
	return c.tc ? ctx_skb(c)->ingress_ifindex : ctx_xdp(c)->ingress_ifindex;
}

/* The packet's bytes: an skb's, its fragments too; a frame's. */
static __always_inline __u32 ctx_len(ctx_t c)
{
	return c.tc ? ctx_skb(c)->len : (__u32)(ctx_xdp(c)->data_end - ctx_xdp(c)->data);
}

/* The whole packet is in [data, data_end) at XDP; an skb may keep its
 * payload in fragments beyond data_end. */
static __always_inline int ctx_linear(ctx_t c)
{
	return !c.tc;
}

/* Bring the first len bytes (at most the packet) into [data, data_end):
 * a no-op at XDP, where they are there already. */
static __always_inline int ctx_pull(ctx_t c, __u32 len)
{
	struct __sk_buff *skb = ctx_skb(c);

	if (!c.tc)
		return 0;
	if (len > skb->len)
		len = skb->len;
	if ((void *)(long)skb->data + len <= (void *)(long)skb->data_end)
		return 0;
	return bpf_skb_pull_data(skb, len);
}

/* Where a verdict sends the packet: hook-neutral; each entry point maps it
 * to its own return codes (nosnat.bpf.c). */
enum outcome {
	OUT_PASS = 0,		/* on up the stack (XDP: to tc ingress next) */
	OUT_DROP,
	OUT_TX,			/* back out of the interface it came in on */
	OUT_REDIRECT,		/* out of verdict.ifindex, L2 header written */
	OUT_NEIGH,		/* tc: out of verdict.ifindex, the kernel's
				 * neighbour code writes the L2 header */
	OUT_TUNNEL,		/* within the walk only: a tunnel to this node,
				 * walked next by its own global function
				 * (verdict.ifindex: 1 GUE, 0 IPIP, TUNNEL_6IN4);
				 * never the verdict a packet leaves with */
};
#define TUNNEL_6IN4	2
#define TUNNEL_GUE6	3	/* GUE (to this node's port) around IPv6 */

#endif
