// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "nosnat_abi.h"
#include "names.h"

static const char *const actions[NOSNAT_ACT_MAX] = {
	[NOSNAT_ACT_PASS] = "pass",
	[NOSNAT_ACT_LOCAL] = "local",
	[NOSNAT_ACT_ENCAP] = "encap",
	[NOSNAT_ACT_DECAP] = "decap",
	[NOSNAT_ACT_REPLY_NAT] = "reply_nat",
	[NOSNAT_ACT_DROP] = "drop",
};

static const char *const reasons[NOSNAT_R_MAX] = {
	[NOSNAT_R_NONE] = "none",
	[NOSNAT_R_NEIGH_FALLBACK] = "neigh_fallback",
	[NOSNAT_R_ICMP_FRAG_NEEDED] = "icmp_frag_needed",
	[NOSNAT_R_NO_BACKEND] = "no_backend",
	[NOSNAT_R_UNKNOWN_ENCAP_SRC] = "unknown_encap_src",
	[NOSNAT_R_ENCAP_NOT_VIP] = "encap_not_vip",
	[NOSNAT_R_FRAGMENT] = "fragment",
	[NOSNAT_R_MALFORMED] = "malformed",
	[NOSNAT_R_FIB_FAILED] = "fib_failed",
	[NOSNAT_R_TOO_BIG] = "too_big",
	[NOSNAT_R_NO_NODE_IP] = "no_node_ip",
	[NOSNAT_R_TC_FORWARD] = "tc_forward",
	[NOSNAT_R_SPOOFED] = "spoofed",
	[NOSNAT_R_NEW_FLOW_LIMITED] = "new_flow_limited",
	[NOSNAT_R_RECOVERED] = "recovered",
	[NOSNAT_R_CT_RECOVERED] = "ct_recovered",
	[NOSNAT_R_SECOND_CHANCE] = "second_chance",
	[NOSNAT_R_NOT_OWNED] = "not_owned",
	[NOSNAT_R_ICMP_ERROR] = "icmp_error",
	[NOSNAT_R_ICMP_NO_FLOW] = "icmp_no_flow",
	[NOSNAT_R_ICMP_LIMITED] = "icmp_limited",
};

static const char *const hooks[NOSNAT_HOOK_MAX] = {
	[NOSNAT_HOOK_XDP] = "xdp",
	[NOSNAT_HOOK_TC_INGRESS] = "tc_ingress",
	[NOSNAT_HOOK_TC_EGRESS] = "tc_egress",
};

_Static_assert(sizeof(reasons) / sizeof(reasons[0]) == NOSNAT_R_MAX, "reason names");

const char *action_name(unsigned int a)
{
	return a < NOSNAT_ACT_MAX && actions[a] ? actions[a] : "unknown";
}

const char *reason_name(unsigned int r)
{
	return r < NOSNAT_R_MAX && reasons[r] ? reasons[r] : "unknown";
}

const char *hook_name(unsigned int h)
{
	return h < NOSNAT_HOOK_MAX && hooks[h] ? hooks[h] : "unknown";
}
