/* apply.h - converge the maps to a parsed configuration: per-VIP table
 * swaps, flows of remaining backends untouched, one line per change. */
#ifndef NOSNAT_APPLY_H
#define NOSNAT_APPLY_H

#include <stdio.h>
#include "config.h"
#include "state.h"

/* Validate cfg against the live state, then (unless dry_run) change the maps:
 * the one engine behind apply, run and the node/vip/backend commands (ops.c).
 * Writes one line per change to out (may be NULL). Returns the number of
 * changes; or, with "FILE:LINE:COL: message" in err and no map touched, the
 * invariant cfg breaks: -EINVAL (no node address; a VIP that is this
 * node's or a node's address, or no unicast one), -EEXIST (a VIP port
 * twice), -E2BIG (backends of a VIP on this node), -EHOSTUNREACH (a
 * backend's node not in nodes), -EMLINK (VIP ports behind one pod port),
 * -ENOSPC (backend slots); see config_check_vips; or -errno with a
 * message in err when a map operation failed. */
int config_apply(const struct nosnat_maps *m, struct state *s, const struct config *cfg,
		 const char *file, int dry_run, FILE *out, char *err, size_t errlen);

/* Apply a parsed configuration under the pin dir's lock (st: a state to read
 * the maps into, with its scratch) and record the outcome in nosnat_ctl;
 * record: count it as a reload (a configuration file; Kubernetes updates
 * are not). Returns the number of changes or -errno; errors are logged. */
int apply_parsed(struct state *st, const char *pin_dir, const struct config *cfg, const char *file,
		 int dry_run, int record, __u64 daemon, FILE *out);
/* A configuration that could not even be parsed, recorded as a failure. */
void apply_record_failure(const char *pin_dir, __u64 daemon);
struct ctx;
/* Load, validate and apply FILE under the pin dir's lock; logs each change.
 * Returns the number of changes or -errno. Records the outcome. */
int apply_file(struct ctx *c, const char *pin_dir, const char *file, int dry_run, FILE *out);

/* Record the outcome of a configuration load in nosnat_ctl. */
void ctl_record(const struct nosnat_maps *m, int ok, int count, __u64 daemon);
void ctl_pending(const struct nosnat_maps *m, __u64 daemon);
int ctl_get(const struct nosnat_maps *m, struct nosnat_ctl *ctl);
/* Mark (1) or clear (0) an apply under way; a mark left says it failed part-way. */
int ctl_partial_set(const struct nosnat_maps *m, int partial);
/* A process's start time (/proc/PID/stat's starttime; pid 0: this one), 0
 * when unknown: who the daemon is, in nosnat_ctl and for nosnat health. */
__u64 proc_start_time(int pid);

#endif
