/* icmp.h - ICMP errors about VIP flows: a router on a client's path answers a
 * reply the pod sent from the VIP; its quoted header names the flow, and the
 * rewrite makes the error the pod's own (outer destination, quoted source). */
#ifndef NOSNAT_ICMP_H
#define NOSNAT_ICMP_H

#include "parse.h"
#include "csum.h"

#define ICMP_DEST_UNREACH	3
#define ICMP_TIME_EXCEEDED	11
#define ICMP_FRAG_NEEDED	4

/* The fixed part every ICMP error has. */
struct icmp_err_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;		/* unused, or the next-hop MTU (frag needed) */
};

/* An ICMP error's quoted packet: a reply from VIP:port to the client. */
struct icmp_quote {
	struct icmp_err_hdr *icmp;
	struct iphdr *q;	/* the quoted IPv4 header */
	__be16 *ports;		/* the quoted L4's first 8 bytes: source, destination */
};

enum icmp_parse {
	ICMP_QUOTE_OK = 0,
	ICMP_NOT_ERROR,		/* echo and the like: not ours to handle */
	ICMP_TRUNCATED,		/* an error whose quote is cut short */
};

/* An ICMP error at p->l4's place: its quoted IPv4 header and at least the
 * 8 bytes of L4 every error carries, all within the packet. */
static __always_inline int icmp_quote_parse(struct pkt *p, struct icmp_quote *iq)
{
	struct icmp_err_hdr *ic = (void *)p->ip + (p->ip_len & 0x3c);
	struct iphdr *q;
	__u32 qlen;

	if ((void *)(ic + 1) > p->data_end)
		return ICMP_TRUNCATED;
	if (ic->type != ICMP_DEST_UNREACH && ic->type != ICMP_TIME_EXCEEDED)
		return ICMP_NOT_ERROR;
	q = (void *)(ic + 1);
	if ((void *)(q + 1) > p->data_end)
		return ICMP_TRUNCATED;
	qlen = q->ihl * 4;
	if (q->version != 4 || qlen < sizeof(*q))
		return ICMP_TRUNCATED;
	iq->ports = (void *)q + (qlen & 0x3c);
	if ((void *)iq->ports + 8 > p->data_end)
		return ICMP_TRUNCATED;
	iq->icmp = ic;
	iq->q = q;
	return ICMP_QUOTE_OK;
}

/* Change one party of an error's flow: its address in the outer header
 * and in the quoted one (the same address in both) and its quoted port,
 * keeping the outer, quoted IPv4 and ICMP sums right (the quoted L4 sum,
 * beyond what errors are matched by, is left). */
static __always_inline void icmp_rewrite(struct pkt *p, struct icmp_quote *iq, __be32 *outer,
					 __be32 *quoted, __be16 *port, __be32 to, __be16 to_port)
{
	__be32 from = *quoted;
	__be16 from_port = *port;
	__sum16 old_check = iq->q->check;

	csum_replace4(&p->ip->check, *outer, to);
	*outer = to;
	csum_replace4(&iq->q->check, from, to);
	*quoted = to;
	*port = to_port;
	csum_replace4(&iq->icmp->checksum, from, to);
	csum_replace2(&iq->icmp->checksum, old_check, iq->q->check);
	csum_replace2(&iq->icmp->checksum, from_port, to_port);
}

/* Make the error the pod's: to the pod's address, quoting the packet as the
 * pod sent it (its address and port as source). The MTU field stays. */
static __always_inline void icmp_rewrite_to_pod(struct pkt *p, struct icmp_quote *iq,
						 __be32 pod, __be16 pod_port)
{
	icmp_rewrite(p, iq, &p->ip->daddr, &iq->q->saddr, &iq->ports[0], pod, pod_port);
}

/* The other way: an error the pod sends about a VIP flow leaves as the
 * VIP's, quoting the client's packet as the client sent it (to VIP:port). */
static __always_inline void icmp_rewrite_from_pod(struct pkt *p, struct icmp_quote *iq,
						   __be32 vip, __be16 vip_port)
{
	icmp_rewrite(p, iq, &p->ip->saddr, &iq->q->daddr, &iq->ports[1], vip, vip_port);
}

#endif
