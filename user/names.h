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

#endif
