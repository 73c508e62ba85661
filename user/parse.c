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

int parse_vip_spec(const char *s, struct nosnat_vip_key *key)
{
	char buf[64], *colon, *slash;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	colon = strchr(buf, ':');
	if (!slash || !colon || colon > slash)
		return -EINVAL;
	*colon = *slash = '\0';
	memset(key, 0, sizeof(*key));
	if (parse_ipv4(buf, &key->addr) || parse_port(colon + 1, &key->port) ||
	    parse_proto(slash + 1, &key->proto))
		return -EINVAL;
	return 0;
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

const char *vip_str(const struct nosnat_vip_key *k, char *buf)
{
	char a[INET_ADDRSTRLEN];

	snprintf(buf, 32, "%s:%u/%s", ip_str(k->addr, a), ntohs(k->port), proto_name(k->proto));
	return buf;
}

int vip_key_cmp(const struct nosnat_vip_key *a, const struct nosnat_vip_key *b)
{
	if (a->addr != b->addr)
		return ntohl(a->addr) < ntohl(b->addr) ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return a->proto - b->proto;
}
