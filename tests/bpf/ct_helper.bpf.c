// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ct_helper - for the BPF tests only: make a conntrack entry with a given
 * tuple and mark, or read one's mark, through the kernel's ct kfuncs, so
 * that nosnat's conntrack paths meet real entries in BPF_PROG_TEST_RUN. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct nf_conn {
	__u32 mark;
} __attribute__((preserve_access_index));

struct nf_conn___init {
	struct nf_conn ct;
} __attribute__((preserve_access_index));

struct bpf_ct_opts___test {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

extern struct nf_conn___init *bpf_xdp_ct_alloc(struct xdp_md *ctx, struct bpf_sock_tuple *t,
					       __u32 tsz, struct bpf_ct_opts___test *o,
					       __u32 osz) __ksym;
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *t, __u32 tsz,
					 struct bpf_ct_opts___test *o, __u32 osz) __ksym;
extern struct nf_conn *bpf_ct_insert_entry(struct nf_conn___init *ct) __ksym;
extern void bpf_ct_set_timeout(struct nf_conn___init *ct, __u32 timeout) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

/* In: the tuple (original direction), the mark, what to do. Out: result. */
__be32 ct_saddr, ct_daddr;
__be16 ct_sport, ct_dport;
__u8 ct_proto;
__u32 ct_mark;
__u32 ct_op;		/* 1: insert with ct_mark; 2: look up, mark into ct_mark;
			 * 3: set the mark of an existing entry to ct_mark */
__s32 ct_result;	/* 0 done; -1 alloc/lookup failed; -2 insert failed */

SEC("xdp")
int ct_helper(struct xdp_md *ctx)
{
	struct bpf_ct_opts___test o = { .netns_id = -1, .l4proto = ct_proto };
	struct bpf_sock_tuple t = {};
	struct nf_conn *ct;

	t.ipv4.saddr = ct_saddr;
	t.ipv4.daddr = ct_daddr;
	t.ipv4.sport = ct_sport;
	t.ipv4.dport = ct_dport;
	if (ct_op == 1) {
		struct nf_conn___init *n = bpf_xdp_ct_alloc(ctx, &t, sizeof(t.ipv4), &o, sizeof(o));

		ct_result = -1;
		if (!n)
			return XDP_PASS;
		bpf_ct_set_timeout(n, 600000);
		n->ct.mark = ct_mark;
		ct = bpf_ct_insert_entry(n);
		ct_result = -2;
		if (!ct)
			return XDP_PASS;
		bpf_ct_release(ct);
		ct_result = 0;
		return XDP_PASS;
	}
	ct = bpf_xdp_ct_lookup(ctx, &t, sizeof(t.ipv4), &o, sizeof(o));
	ct_result = -1;
	if (!ct)
		return XDP_PASS;
	if (ct_op == 3)		/* mark an existing entry */
		ct->mark = ct_mark;
	ct_mark = ct->mark;
	bpf_ct_release(ct);
	ct_result = 0;
	return XDP_PASS;
}
