// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: command-line parsers (addresses, VIP specs, backends,
 * numbers). A parse that succeeds must round-trip through the printers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], buf[VIP_STR_LEN];
	struct vip_key k;
	__u8 a6[16];
	unsigned long u;
	__be32 a;
	__be16 p;
	__u8 proto;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!parse_vip_spec(s, &k)) {
		struct vip_key k2;

		vip_str(&k, buf);
		if (parse_vip_spec(buf, &k2) || memcmp(&k, &k2, sizeof(k)) || !k.port)
			abort();
	}
	if (!parse_ipv4(s, &a)) {
		__be32 a2;

		if (parse_ipv4(ip_str(a, buf), &a2) || a != a2)
			abort();
	}
	if (!parse_addr_port(s, &a, &p) && strchr(s, ':') && !p)
		abort();
	if (!parse_addr_port_any(s, &a, a6, &p)) {	/* either family, round trip */
		__be32 a2;
		__be16 p2;
		__u8 b6[16];

		if (!p)
			p = htons(1);
		if (parse_addr_port_any(ep_str(a, a6, p, buf), &a2, b6, &p2) || a != a2 || p != p2 ||
		    memcmp(a6, b6, sizeof(b6)))
			abort();
	}
	if (!parse_port(s, &p) && !p)
		abort();
	if (!parse_uint(s, 0, 1000, &u) && u > 1000)
		abort();
	parse_proto(s, &proto);
	return 0;
}
