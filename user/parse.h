/* parse.h - pure parsers for the command line: addresses, ports, VIP specs,
 * backends, weights. No I/O; every function returns 0 or -EINVAL. */
#ifndef NOSNAT_PARSE_H
#define NOSNAT_PARSE_H

#include <stdint.h>
#include <stddef.h>
#include "nosnat_abi.h"

int parse_ipv4(const char *s, __be32 *addr);
int parse_port(const char *s, __be16 *port);
int parse_proto(const char *s, __u8 *proto);
int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* "VIP:PORT/PROTO" */
int parse_vip_spec(const char *s, struct nosnat_vip_key *key);
/* "ADDR[:PORT]"; port 0 when absent */
int parse_addr_port(const char *s, __be32 *addr, __be16 *port);

/* "ipip" or "gue": enum nosnat_encap */
int parse_encap(const char *s, __u8 *encap);
/* "ipip", "gue", or both comma-separated ("ipip,gue"): NOSNAT_DECAP_* bits */
int parse_decap(const char *s, __u8 *decap);
const char *encap_name(__u8 encap);
/* "ipip", "gue", "ipip,gue" or "none" */
const char *decap_name(__u8 decap);

const char *proto_name(__u8 proto);
/* Order of VIP keys for listings: address, port, protocol (host order). */
int vip_key_cmp(const struct nosnat_vip_key *a, const struct nosnat_vip_key *b);
/* "a.b.c.d" into buf (>= 16 bytes) */
const char *ip_str(__be32 addr, char *buf);
/* "a.b.c.d:port/proto" into buf (>= 32 bytes) */
const char *vip_str(const struct nosnat_vip_key *k, char *buf);

#endif
