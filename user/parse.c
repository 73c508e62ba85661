// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Command-line value parsers: strict, whole-string, no side effects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "parse.h"

int parse_ipv4(const char *s, __be32 *addr)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = a.s_addr;
	return 0;
}

int parse_ipv6(const char *s, __u8 *a6)
{
	struct in6_addr a;

	if (!s || inet_pton(AF_INET6, s, &a) != 1 || IN6_IS_ADDR_UNSPECIFIED(&a))
		return -EINVAL;
	memcpy(a6, &a, 16);
	return 0;
}

int addr6_set(const __u8 *a6)
{
	static const __u8 zero[16];

	return memcmp(a6, zero, sizeof(zero)) != 0;
}

int vip_same_addr(const struct vip_key *a, const struct vip_key *b)
{
	return a->v6 == b->v6 && a->addr == b->addr && !memcmp(a->addr6, b->addr6, sizeof(a->addr6));
}

struct nosnat_vip_key vip_key_ids(const struct vip_key *k)
{
	/* its first 8 bytes (v6: NOSNAT_VIP_ID_V6 in pad) */
	return (struct nosnat_vip_key){ .addr = k->addr, .port = k->port, .proto = k->proto,
					.pad = k->v6 };
}

struct nosnat_vip6_key vip_key6(const struct vip_key *k)
{
	struct nosnat_vip6_key k6 = { .port = k->port, .proto = k->proto };

	memcpy(k6.addr, k->addr6, sizeof(k6.addr));
	return k6;
}

struct vip_key vip_key_from4(const struct nosnat_vip_key *k)
{
	return (struct vip_key){ .addr = k->addr, .port = k->port, .proto = k->proto };
}

struct vip_key vip_key_from6(const struct nosnat_vip6_key *k)
{
	struct vip_key v = { .addr = nosnat_addr6_fold(k->addr), .port = k->port, .proto = k->proto,
			     .v6 = NOSNAT_VIP_ID_V6 };

	memcpy(v.addr6, k->addr, sizeof(v.addr6));
	return v;
}

/* Split "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" in buf (written to):
 * *host the address, *port_s the port or NULL. */
static int split_host_port(char *buf, char **host, char **port_s)
{
	char *colon;

	*port_s = NULL;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			return -EINVAL;
		*close = '\0';
		*host = buf + 1;
		if (close[1] == ':')
			*port_s = close + 2;
		else if (close[1])
			return -EINVAL;
		return 0;
	}
	*host = buf;
	colon = strchr(buf, ':');
	if (colon && strchr(colon + 1, ':'))	/* a bare v6 address: no port */
		return 0;
	if (colon) {
		*colon = '\0';
		*port_s = colon + 1;
	}
	return 0;
}

int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_encap(const char *s, __u8 *encap)
{
	if (s && !strcmp(s, "ipip"))
		*encap = NOSNAT_ENCAP_IPIP;
	else if (s && !strcmp(s, "gue"))
		*encap = NOSNAT_ENCAP_GUE;
	else
		return -EINVAL;
	return 0;
}

int parse_decap(const char *s, __u8 *decap)
{
	__u8 bits = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		size_t n = strcspn(s, ",");
		__u8 bit;

		if (n == 4 && !strncmp(s, "ipip", 4))
			bit = NOSNAT_DECAP_IPIP;
		else if (n == 3 && !strncmp(s, "gue", 3))
			bit = NOSNAT_DECAP_GUE;
		else
			return -EINVAL;
		if (bits & bit)
			return -EINVAL;	/* named twice: a slip, said so */
		bits |= bit;
		s += n;
		if (*s == ',' && !*++s)
			return -EINVAL;	/* a trailing comma */
	}
	*decap = bits;
	return 0;
}

const char *encap_name(__u8 encap)
{
	return encap == NOSNAT_ENCAP_GUE ? "gue" : "ipip";
}

const char *decap_name(__u8 decap)
{
	static const char *const names[] = { "none", "ipip", "gue", "ipip,gue" };

	return names[decap & 3];
}

int parse_port(const char *s, __be16 *port)
{
	unsigned long v;

	if (parse_uint(s, 1, 65535, &v))
		return -EINVAL;
	*port = htons((uint16_t)v);
	return 0;
}

int parse_proto(const char *s, __u8 *proto)
{
	if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else
		return -EINVAL;
	return 0;
}

int parse_vip_spec(const char *s, struct vip_key *key)
{
	char buf[VIP_STR_LEN], *slash, *host, *port_s;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strrchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	memset(key, 0, sizeof(*key));
	if (split_host_port(buf, &host, &port_s) || !port_s || parse_port(port_s, &key->port) ||
	    parse_proto(slash + 1, &key->proto))
		goto bad;
	if (buf[0] == '[') {
		if (parse_ipv6(host, key->addr6))
			goto bad;
		key->v6 = NOSNAT_VIP_ID_V6;
		key->addr = nosnat_addr6_fold(key->addr6);
	} else if (parse_ipv4(host, &key->addr)) {
		goto bad;
	}
	return 0;
bad:
	memset(key, 0, sizeof(*key));
	return -EINVAL;
}

int parse_addr_port_any(const char *s, __be32 *addr, __u8 *a6, __be16 *port)
{
	char buf[EP_STR_LEN], *host, *port_s;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	*port = 0;
	*addr = 0;
	memset(a6, 0, 16);
	if (split_host_port(buf, &host, &port_s) || (port_s && parse_port(port_s, port)))
		return -EINVAL;
	if (buf[0] == '[' || strchr(host, ':')) {
		if (parse_ipv6(host, a6))
			return -EINVAL;
		*addr = nosnat_addr6_fold(a6);
		return 0;
	}
	return parse_ipv4(host, addr);
}

int parse_addr_port(const char *s, __be32 *addr, __be16 *port)
{
	char buf[32], *colon;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	*port = 0;
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (parse_port(colon + 1, port))
			return -EINVAL;
	}
	return parse_ipv4(buf, addr);
}

const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

const char *ip_str(__be32 addr, char *buf)
{
	struct in_addr a = { .s_addr = addr };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

const char *addr_str(__be32 addr, const __u8 *a6, char *buf)
{
	if (a6 && addr6_set(a6))
		return inet_ntop(AF_INET6, a6, buf, ADDR_STR_LEN) ? buf : "?";
	return ip_str(addr, buf);
}

const char *ep_str(__be32 addr, const __u8 *a6, __be16 port, char *buf)
{
	char a[ADDR_STR_LEN];
	int v6 = a6 && addr6_set(a6);

	snprintf(buf, EP_STR_LEN, "%s%s%s:%u", v6 ? "[" : "", addr_str(addr, a6, a), v6 ? "]" : "",
		 ntohs(port));
	return buf;
}

const char *vip_addr_str(const struct vip_key *k, char *buf)
{
	return addr_str(k->addr, k->v6 ? k->addr6 : NULL, buf);
}

const char *vip_str(const struct vip_key *k, char *buf)
{
	char ep[EP_STR_LEN];

	snprintf(buf, VIP_STR_LEN, "%s/%s", ep_str(k->addr, k->v6 ? k->addr6 : NULL, k->port, ep),
		 proto_name(k->proto));
	return buf;
}

int vip_key_cmp(const struct vip_key *a, const struct vip_key *b)
{
	if (a->v6 != b->v6)
		return a->v6 - b->v6;
	if (a->v6) {
		int c = memcmp(a->addr6, b->addr6, sizeof(a->addr6));

		if (c)
			return c < 0 ? -1 : 1;
	} else if (a->addr != b->addr)
		return ntohl(a->addr) < ntohl(b->addr) ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return a->proto - b->proto;
}
