/* names.h - the one string table for actions, reasons and hooks; the same
 * words appear in `stats`, JSON and metrics labels. */
#ifndef NOSNAT_NAMES_H
#define NOSNAT_NAMES_H

const char *action_name(unsigned int action);
const char *reason_name(unsigned int reason);
const char *hook_name(unsigned int hook);

#endif
