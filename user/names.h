/* names.h - the one string table for actions, reasons and hooks; the same
 * words appear in `stats`, JSON and metrics labels. */
#ifndef NOSNAT_NAMES_H
#define NOSNAT_NAMES_H

const char *action_name(unsigned int action);
const char *reason_name(unsigned int reason);
const char *hook_name(unsigned int hook);

/* What a reason says of a packet (its kind in NOSNAT_REASONS). */
enum reason_kind {
	REASON_PLAIN,	/* how a packet went its ordinary way */
	REASON_DROP,	/* counted in nosnat_drops_total */
	REASON_FLOW,	/* how a flow without an entry was handled (flow events) */
};
enum reason_kind reason_kind(unsigned int reason);

/* The way the dataplane runs, as nosnat_cfg's flags say: the hook ("xdp",
 * or "tc" with --hook tc) and whether XDP hands work to tc through
 * metadata (never without XDP). */
const char *cfg_hook_name(unsigned int cfg_flags);
int cfg_xdp_metadata(unsigned int cfg_flags);

#endif
