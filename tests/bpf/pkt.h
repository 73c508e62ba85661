/* pkt.h - a small packet builder for the BPF unit tests: IPv4 + TCP/UDP
 * with options, IPIP wrapping, Ethernet with VLAN tags. Checksums are
 * always computed in full, so an expected packet is an independent check. */
#ifndef NOSNAT_TEST_PKT_H
#define NOSNAT_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

/* Canonical test addresses (documentation ranges only). */
#define T_CLIENT	"203.0.113.2"
#define T_CLIENT2	"203.0.113.3"
#define T_VIP		"192.0.2.10"
#define T_OTHER		"192.0.2.99"	/* not a VIP */
#define T_NODE_SELF	"198.51.100.11"
#define T_NODE_B	"198.51.100.12"	/* neighbour resolved */
#define T_NODE_C	"198.51.100.13"	/* no neighbour entry */
#define T_STRANGER	"198.51.100.66"	/* not a node */
#define T_POD_LOCAL	"198.18.1.2"
#define T_POD_LOCAL2	"198.18.1.3"
#define T_POD_B		"198.18.2.2"
#define T_POD_C		"198.18.3.2"
#define T6_NODE_SELF	"2001:db8:100::11"	/* the nodes by v6 addresses */
#define T6_NODE_B	"2001:db8:100::12"	/* neighbour resolved */
#define T6_NODE_C	"2001:db8:100::13"	/* no neighbour entry */

struct l4_spec {
	uint8_t proto;			/* IPPROTO_TCP/UDP/...; 0 = none */
	uint16_t sport, dport;		/* host order */
	uint8_t flags;			/* TCP flags byte */
	uint32_t seq, ack;
	const uint8_t *opts;		/* TCP options */
	size_t opts_len;		/* multiple of 4 */
	const void *payload;
	size_t payload_len;
	int udp_no_csum;
};

struct ip_spec {
	uint32_t saddr, daddr;		/* network order */
	uint8_t proto, tos, ttl;
	uint16_t id;			/* host order */
	uint16_t frag;			/* host order: flags | offset */
	const uint8_t *opts;
	size_t opts_len;		/* multiple of 4 */
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

uint32_t ip4(const char *s);
uint16_t csum16(const void *data, size_t len, uint32_t init);
/* IPv4 header + L4 into buf; returns length. */
size_t build_ip(uint8_t *buf, const struct ip_spec *ip, const struct l4_spec *l4);
/* Outer IPv4 (IPIP) around an IPv4 packet; returns length. */
/* IPv4 + UDP (sum 0) to dport + the inner packet: GUE variant 1, as nosnat
 * sends it; outer ID id, DF set. */
size_t build_gue(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint16_t sport,
		 uint16_t dport, const uint8_t *inner, size_t inner_len);
size_t build_ipip(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint8_t tos,
		  uint16_t frag, const uint8_t *inner, size_t inner_len);
/* An ICMP error (type, code, next-hop MTU) quoting qlen bytes of q, in the
 * IPv4 header ip (its protocol set here); returns length. */
size_t build_icmp_error(uint8_t *buf, const struct ip_spec *ip, uint8_t type, uint8_t code,
			uint16_t mtu, const uint8_t *q, size_t qlen);
/* Ethernet (+ n VLAN tags) around an L3 packet; returns length. */
size_t build_eth(uint8_t *buf, const uint8_t *dmac, const uint8_t *smac, int vlans,
		 uint16_t ethertype, const uint8_t *l3, size_t l3_len);

/* Give the IPv4 packet at l3 the check a CHECKSUM_PARTIAL packet carries
 * over a veth: the folded pseudo-header sum, not complemented. */
void l4_set_partial(uint8_t *l3);

/* IPv6: the header, extension headers as given (ext_len bytes, each with
 * its own next-header byte; first_nh the header's own), then L4 as for
 * IPv4, the sum over the v6 pseudo-header. */
struct ip6_spec {
	uint8_t saddr[16], daddr[16];
	uint8_t tclass, hlim;
	const uint8_t *ext;
	size_t ext_len;
	uint8_t first_nh;	/* 0: l4's protocol */
};

void ip6(const char *s, uint8_t out[16]);
size_t build_ip6(uint8_t *buf, const struct ip6_spec *ip, const struct l4_spec *l4);
/* An outer IPv4 of protocol proto (IPIP 4, 6in4 41) around inner. */
size_t build_tun4(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint8_t tos,
		  uint8_t proto, const uint8_t *inner, size_t inner_len);

extern const uint8_t MAC_ROUTER[6], MAC_SELF[6], MAC_B[6];

#endif
