/* csum.h - Internet checksum arithmetic (RFC 1071/1624) for XDP, where the
 * skb helpers are unavailable: full IPv4 header sums and 16/32-bit updates. */
#ifndef NOSNAT_CSUM_H
#define NOSNAT_CSUM_H

#include <linux/types.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field change. */
static __always_inline void csum_replace2(__sum16 *csum, __be16 from, __be16 to)
{
	__u32 sum = (__u16)~*csum;

	sum += (__u16)~from;
	sum += (__u16)to;
	*csum = csum_fold(sum);
}

static __always_inline void csum_replace4(__sum16 *csum, __be32 from, __be32 to)
{
	__u32 sum = (__u16)~*csum;

	sum += (__u16)~(from & 0xffff);
	sum += (__u16)~(from >> 16);
	sum += (to & 0xffff);
	sum += (to >> 16);
	*csum = csum_fold(sum);
}

/* Checksum of a 20-byte IPv4 header whose check field is zero. */
static __always_inline __sum16 ipv4_hdr_csum(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold(sum);
}

#endif
