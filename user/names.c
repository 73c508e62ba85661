// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "nosnat_abi.h"
#include "names.h"

static const char *const actions[NOSNAT_ACT_MAX] = {
#define X(id, name) [NOSNAT_ACT_##id] = #name,
	NOSNAT_ACTIONS(X)
#undef X
};

static const char *const reasons[NOSNAT_R_MAX] = {
#define X(id, name, kind) [NOSNAT_R_##id] = #name,
	NOSNAT_REASONS(X)
#undef X
};

static const enum reason_kind kinds[NOSNAT_R_MAX] = {
#define X(id, name, kind) [NOSNAT_R_##id] = REASON_##kind,
	NOSNAT_REASONS(X)
#undef X
};

static const char *const hooks[NOSNAT_HOOK_MAX] = {
#define X(id, name) [NOSNAT_HOOK_##id] = #name,
	NOSNAT_HOOKS(X)
#undef X
};

enum reason_kind reason_kind(unsigned int r)
{
	return r < NOSNAT_R_MAX ? kinds[r] : REASON_DROP;
}

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

const char *cfg_hook_name(unsigned int flags)
{
	return flags & NOSNAT_CFG_HOOK_TC ? "tc" : "xdp";
}

int cfg_xdp_metadata(unsigned int flags)
{
	return !(flags & NOSNAT_CFG_HOOK_TC) && (flags & NOSNAT_CFG_XDP_META);
}
