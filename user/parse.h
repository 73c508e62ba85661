/* parse.h - pure parsers for the command line: addresses, ports, VIP specs,
 * backends, weights. No I/O; every function returns 0 or -EINVAL. */
#ifndef NOSNAT_PARSE_H
#define NOSNAT_PARSE_H

#include <stdint.h>
#include <stddef.h>
#include "nosnat_abi.h"

/* A VIP as the loader names it, either family. Its first 8 bytes are the
 * VIP's nosnat_vip_ids key (for a v4 VIP also its nosnat_vips key): a v6
 * VIP has v6 = NOSNAT_VIP_ID_V6 (that key's pad), its fold
 * (nosnat_addr6_fold) in addr, the value the address filters take, and its
 * address in addr6; a v4 VIP has v6 = 0 and addr6 all zero. So code that
 * knows only v4 keys (struct nosnat_vip_key) reads a prefix of it: see
 * VIP_KEY_VIEWS. Compared whole (memcmp): always zero-initialised. */
struct vip_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 v6;		/* 0: IPv4; NOSNAT_VIP_ID_V6: IPv6 */
	__u8 addr6[16];
};
_Static_assert(sizeof(struct vip_key) == 24, "vip_key has no padding");
_Static_assert(__builtin_offsetof(struct vip_key, v6) == __builtin_offsetof(struct nosnat_vip_key, pad) &&
	       __builtin_offsetof(struct vip_key, addr6) == sizeof(struct nosnat_vip_key),
	       "a vip_key begins with its nosnat_vip_ids key");

/* A VIP in a struct, seen whole (vk) and as its v4-style key (key: the
 * first 8 bytes, nosnat_vip_ids' key of it), for the code and tests that
 * know only v4 keys: assigning a v4 nosnat_vip_key to key (addr6 zero)
 * makes vk that v4 VIP. */
#define VIP_KEY_VIEWS			\
	union {				\
		struct vip_key vk;	\
		struct nosnat_vip_key key; \
	}

/* A VIP's key in nosnat_vip_ids (for v4 also its nosnat_vips key); a v6
 * VIP's nosnat_vips6 key. */
struct nosnat_vip_key vip_key_ids(const struct vip_key *k);
struct nosnat_vip6_key vip_key6(const struct vip_key *k);
/* A loader key from nosnat_vips' and nosnat_vips6' keys. */
struct vip_key vip_key_from4(const struct nosnat_vip_key *k);
struct vip_key vip_key_from6(const struct nosnat_vip6_key *k);
/* Do two VIPs have the same address (family and all)? */
int vip_same_addr(const struct vip_key *a, const struct vip_key *b);
/* Is this 16-byte address set (a v6 address; all zero: v4)? */
int addr6_set(const __u8 *a6);

int parse_ipv4(const char *s, __be32 *addr);
/* An IPv6 address (no brackets) into a6; the unspecified address (::) is
 * refused. */
int parse_ipv6(const char *s, __u8 *a6);
int parse_port(const char *s, __be16 *port);
int parse_proto(const char *s, __u8 *proto);
int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* "VIP:PORT/PROTO" or "[V6]:PORT/PROTO" */
int parse_vip_spec(const char *s, struct vip_key *key);
/* "ADDR[:PORT]" (IPv4); port 0 when absent */
int parse_addr_port(const char *s, __be32 *addr, __be16 *port);
/* "ADDR[:PORT]", "V6" or "[V6][:PORT]": brackets are needed when a port
 * follows a v6 address. v4: *addr, a6 zeroed; v6: a6, *addr its fold.
 * Port 0 when absent. */
int parse_addr_port_any(const char *s, __be32 *addr, __u8 *a6, __be16 *port);

/* "ipip" or "gue": enum nosnat_encap */
int parse_encap(const char *s, __u8 *encap);
/* "ipip", "gue", or both comma-separated ("ipip,gue"): NOSNAT_DECAP_* bits */
int parse_decap(const char *s, __u8 *decap);
const char *encap_name(__u8 encap);
/* "ipip", "gue", "ipip,gue" or "none" */
const char *decap_name(__u8 decap);

const char *proto_name(__u8 proto);
/* Order of VIP keys for listings: v4 before v6, then address, port,
 * protocol (host order). */
int vip_key_cmp(const struct vip_key *a, const struct vip_key *b);
/* "a.b.c.d" into buf (>= 16 bytes) */
const char *ip_str(__be32 addr, char *buf);
/* Sizes of the buffers of the renderings below. */
#define ADDR_STR_LEN	46	/* INET6_ADDRSTRLEN */
#define EP_STR_LEN	56	/* "[" v6 "]:65535" */
#define VIP_STR_LEN	64	/* "[" v6 "]:65535/proto" */
/* An address of either family (a6 set: v6; else addr), no brackets, into
 * buf (>= ADDR_STR_LEN bytes) */
const char *addr_str(__be32 addr, const __u8 *a6, char *buf);
/* "a.b.c.d:port" or "[v6]:port" into buf (>= EP_STR_LEN bytes) */
const char *ep_str(__be32 addr, const __u8 *a6, __be16 port, char *buf);
/* "a.b.c.d:port/proto" or "[v6]:port/proto" into buf (>= VIP_STR_LEN bytes) */
const char *vip_str(const struct vip_key *k, char *buf);
/* The VIP's address alone, no brackets (>= ADDR_STR_LEN bytes) */
const char *vip_addr_str(const struct vip_key *k, char *buf);

#endif
