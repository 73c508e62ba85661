/* clock.h - the coarse clock of caches that must not go stale for long
 * (the next-hop cache): jiffies in ticks of
 * 2^NOSNAT_TICK_SHIFT, 0.128 s at HZ=1000, 1.28 s at HZ=100. */
#ifndef NOSNAT_CLOCK_H
#define NOSNAT_CLOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "nosnat_abi.h"

static __always_inline __u32 tick_now(void)
{
	return (__u32)(bpf_jiffies64() >> NOSNAT_TICK_SHIFT);
}

#endif
