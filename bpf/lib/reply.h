/* reply.h - tc egress: a pod's replies (and its ICMP errors) on a client's
 * flow through a VIP leave with the VIP as their source; nothing else. */
#ifndef NOSNAT_REPLY_H
#define NOSNAT_REPLY_H

#include <linux/pkt_cls.h>
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "stats.h"
#include "conntrack.h"
#include "lookup.h"
#include "nat.h"
#include "icmp.h"

/* Enough for Ethernet, two VLAN tags, IPv4 and TCP with options. */
#define TC_PULL_LEN 142

/* Enough for Ethernet, two VLAN tags, IPv4 with options, an ICMP header
 * and the quoted IPv4 header with options and 8 bytes of L4. */
#define TC_ICMP_PULL_LEN 166

/* tc egress: an ICMP error a pod sends about a VIP flow (port unreachable
 * for a UDP client, fragmentation needed from its stack) leaves as the
 * VIP's, or the client's stack would not match it to its socket. The flow
 * is found as a reply's is. */
static __always_inline void tc_icmp_from_pod(struct __sk_buff *skb, struct verdict *v)
{
	__u32 want = skb->len < TC_ICMP_PULL_LEN ? skb->len : TC_ICMP_PULL_LEN;
	const struct nosnat_pod_slot *sl;
	const struct nosnat_cfg *cfg;
	struct nosnat_flow_key fk;
	struct nosnat_pod_key pk;
	struct nosnat_flow *f;
	struct icmp_quote iq;
	struct pkt p = {};

	if (bpf_skb_pull_data(skb, want) ||
	    parse_l2_l3((void *)(long)skb->data, (void *)(long)skb->data_end, &p, 0) != PARSE_OK ||
	    p.proto != IPPROTO_ICMP || p.fragment || icmp_quote_parse(&p, &iq) != ICMP_QUOTE_OK)
		return;
	/* about a packet the pod got (quoted: client -> pod), from the pod,
	 * to that client: a pod speaks for the VIP to the flow's client only */
	if ((iq.q->protocol != IPPROTO_TCP && iq.q->protocol != IPPROTO_UDP) ||
	    iq.q->daddr != p.ip->saddr || iq.q->saddr != p.ip->daddr ||
	    (iq.q->frag_off & bpf_htons(IP_OFFSET)))
		return;
	pk = (struct nosnat_pod_key){ .addr = iq.q->daddr, .port = iq.ports[1],
				      .proto = iq.q->protocol };
	sl = reply_flow(&pk, iq.q->saddr, iq.ports[0], 0, &fk, &f);
	if (!sl && nosnat_have_ct && (cfg = cfg_get()) && cfg->ct_mark_mask)
		sl = reply_flow_ct(skb, &pk, iq.q->saddr, iq.ports[0], cfg->ct_mark_mask, &fk);
	if (!sl)
		return;
	icmp_rewrite_from_pod(&p, &iq, fk.dst, fk.dport);
	count_backend(sl->id, skb->len);
	set_verdict(v, OUT_PASS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_ICMP_ERROR);
}

/* tc egress: a pod's reply to a client that came through a VIP leaves with
 * the VIP as its source. Anything without the matching flow is untouched. */
/* A later fragment of a pod's UDP reply whose first fragment left as the
 * VIP's: the same source address (its IP header sum mended). */
static __always_inline void tc_reply_later_fragment(struct pkt *p, struct verdict *v)
{
	struct nosnat_frag_key k = { .pod = p->ip->saddr, .client = p->ip->daddr, .id = p->ip->id };
	struct nosnat_frag_val *f = bpf_map_lookup_elem(&nosnat_frags, &k);
	__be32 vip;

	if (!f)
		return;		/* not a VIP flow's: untouched */
	vip = f->vip;
	if (bpf_ktime_get_ns() - f->born > NOSNAT_FRAG_LIFETIME_MS * 1000000ULL) {
		bpf_map_delete_elem(&nosnat_frags, &k);
		return;		/* another datagram's, with an old one's ID */
	}
	if (!(p->ip->frag_off & bpf_htons(IP_MF)))
		bpf_map_delete_elem(&nosnat_frags, &k);	/* the last one */
	csum_replace4(&p->ip->check, p->ip->saddr, vip);
	p->ip->saddr = vip;
	set_verdict(v, OUT_PASS, NOSNAT_ACT_REPLY_NAT, NOSNAT_R_NONE);
}

static __always_inline void tc_reply_nat(struct __sk_buff *skb, struct verdict *v)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__be16 sport = 0, dport = 0;
	struct pkt p = {};
	int rc, first_frag;

	rc = parse_l2_l3(data, data_end, &p, 0);
	if (rc == PARSE_OK && !pod_filter_hit(p.ip->saddr))
		return;		/* the common case: not from one of this node's pods */
	if (rc == PARSE_OK && p.proto == IPPROTO_ICMP && !p.fragment) {
		__u8 *type = (void *)p.ip + (p.ip_len & 0x3c);

		/* only errors can be about a VIP flow: an echo reply, say, is
		 * not pulled into the linear area for nothing */
		if ((void *)(type + 1) <= data_end && *type != ICMP_DEST_UNREACH &&
		    *type != ICMP_TIME_EXCEEDED)
			return;
		tc_icmp_from_pod(skb, v);
		return;
	}
	if (rc == PARSE_OK && p.proto == IPPROTO_UDP && (p.ip->frag_off & bpf_htons(IP_OFFSET))) {
		tc_reply_later_fragment(&p, v);
		return;
	}
	/* a UDP reply's first fragment carries its ports: handled as a whole
	 * datagram would be, and remembered for the fragments after it */
	first_frag = rc == PARSE_OK && p.proto == IPPROTO_UDP && p.fragment;
	if (rc == PARSE_OK && (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) &&
	    (!p.fragment || first_frag))
		rc = parse_ports(&p, &sport, &dport);
	if (rc == PARSE_MALFORMED) {
		/* Headers may sit partly outside the linear area: pull them in. */
		__u32 want = skb->len < TC_PULL_LEN ? skb->len : TC_PULL_LEN;

		if (bpf_skb_pull_data(skb, want))
			return;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (parse_l2_l3(data, data_end, &p, 0) != PARSE_OK)
			return;
		if ((p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) || (p.fragment && !first_frag))
			return;
		rc = parse_ports(&p, &sport, &dport);
	}
	if (rc != PARSE_OK || !p.l4 || (p.fragment && !first_frag))
		return;
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return;

	struct nosnat_pod_key pk = { .addr = p.ip->saddr, .port = sport, .proto = p.proto };
	const struct nosnat_pod_slot *sl;
	struct nosnat_flow_key fk;
	struct nosnat_flow *f = NULL;
	__u32 reason = NOSNAT_R_NONE;
	int syn_ack = 0;

	if (p.proto == IPPROTO_TCP) {	/* parse_ports read the whole header */
		struct tcphdr *th = p.l4;

		syn_ack = th->syn && th->ack;
	}
	sl = reply_flow(&pk, p.ip->daddr, dport, syn_ack, &fk, &f);
	if (!sl) {
		const struct nosnat_cfg *cfg;

		if (syn_ack || !nosnat_have_ct)
			return;
		cfg = cfg_get();
		if (!cfg || !cfg->ct_mark_mask)
			return;
		sl = reply_flow_ct(skb, &pk, p.ip->daddr, dport, cfg->ct_mark_mask, &fk);
		if (!sl)
			return;
		reason = NOSNAT_R_CT_RECOVERED;
		count_flow_event(reason);
	}

	__u32 l4 = p.l2_len + p.ip_len;
	__u32 csum_off = l4 + (p.proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
						      : offsetof(struct udphdr, check));
	__u64 pseudo = BPF_F_PSEUDO_HDR | (p.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
	__be32 old_ip = p.ip->saddr, new_ip = fk.dst, client = p.ip->daddr;
	__be16 ip_id = p.ip->id;
	__be16 new_port = fk.dport;

	if (syn_ack) {
		struct tcphdr *th = p.l4;

		/* The SYN through the VIP was another one: this connection was
		 * made some other way (straight to the pod) on the addresses and
		 * ports of an old VIP flow. Not ours, and the flow is stale.
		 * (A SYN's data, TCP Fast Open, may be acked with it: up to 64k.)
		 * f is the handshake's entry, or the LRU's: a SYN-ACK never
		 * takes a cached copy. */
		if (f && f->syn_ack && bpf_ntohl(th->ack_seq) - bpf_ntohl(f->syn_ack) > 0xffff) {
			flow_forget(&fk);
			return;
		}
	}
	count_backend(sl->id, skb->len);
	/* Headers in place (the program's prologue made the linear part
	 * private to this skb); only the L4 checksum needs the helper, which
	 * knows whether the skb carries a partial (offloaded) checksum. */
	{
		__be16 *port = p.l4;	/* source port: first field of TCP and UDP */

		if ((void *)(port + 1) > p.data_end) {
			set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
			return;
		}
		csum_replace4(&p.ip->check, old_ip, new_ip);
		p.ip->saddr = new_ip;
		*port = new_port;
	}
	if (bpf_l4_csum_replace(skb, csum_off, old_ip, new_ip, pseudo | sizeof(new_ip)) ||
	    bpf_l4_csum_replace(skb, csum_off, sport, new_port,
				(pseudo & BPF_F_MARK_MANGLED_0) | sizeof(new_port))) {
		set_verdict(v, OUT_DROP, NOSNAT_ACT_DROP, NOSNAT_R_MALFORMED);
		return;
	}
	set_verdict(v, OUT_PASS, NOSNAT_ACT_REPLY_NAT, reason);
	if (first_frag) {
		struct nosnat_frag_key k = { .pod = old_ip, .client = client, .id = ip_id };
		struct nosnat_frag_val f = { .vip = new_ip, .born = bpf_ktime_get_ns() };

		bpf_map_update_elem(&nosnat_frags, &k, &f, BPF_ANY);
		return;
	}

	/* The SYN-ACK tells the client how big its segments may be. Clamp it
	 * for every VIP flow, not only those encapsulated now: after a VIP
	 * failover a flow that began locally is encapsulated too, and many
	 * clients never see the ICMP that would teach them the smaller MTU. */
	if (syn_ack) {
		const struct nosnat_cfg *cfg = cfg_get();

		if (cfg)
			mss_clamp_skb(skb, l4, cfg->mss_max);
	}
}

/* tc egress's v4 walk as a global function: its frame apart from the
 * entry point's, so that the v6 walk's (lib/v6.h) never adds to it. */
__attribute__((noinline)) __u64 nosnat_reply_skb(struct __sk_buff *skb)
{
	struct verdict v = { .out = OUT_PASS, .action = NOSNAT_ACT_PASS };

	if (!skb)
		return 0;
	tc_reply_nat(skb, &v);
	return verdict_pack(&v);
}

#endif
