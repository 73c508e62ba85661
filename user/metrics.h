/* metrics.h - Prometheus text exposition (node_exporter textfile format):
 * collect a snapshot from the maps, render it (pure), write it atomically. */
#ifndef NOSNAT_METRICS_H
#define NOSNAT_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "state.h"

struct metrics_vip {
	struct vip_key key;
	char name[NOSNAT_VIP_NAME_LEN];
	uint64_t packets, bytes, flows;
	unsigned int backends, active;
};

struct metrics_backend {
	struct vip_key vip;
	__be32 addr, node;	/* addr: a v6 pod's fold; node: a v6 node's */
	__u8 node6[16];		/* a v6 node's address; zero: node is v4 */
	__u8 addr6[16];		/* a v6 pod's address; zero: v4 */
	__be16 port;
	uint64_t packets, bytes;
};

struct metrics {
	const char *version;
	uint64_t verdict[NOSNAT_HOOK_MAX][NOSNAT_ACT_MAX][NOSNAT_R_MAX][2];	/* packets, bytes */
	struct metrics_vip vips[NOSNAT_MAX_VIPS];
	size_t n_vips;
	struct metrics_backend bes[NOSNAT_MAX_BACKENDS];
	size_t n_bes;
	uint64_t flows, flows_max, flows_new, pods;	/* pods: v4 and v6 */
	uint64_t flows6, flows6_max;			/* nosnat_flows6 */
	uint64_t flows6_new, flows6_new_max;		/* nosnat_flow6_new */
	uint64_t flow_events[NOSNAT_R_MAX];	/* nosnat_flow_ev, by reason */
	struct nosnat_ctl ctl;
	__u32 cfg_flags;	/* nosnat_cfg's: the hook, XDP metadata (names.h) */
	__u8 cfg_encap;		/* nosnat_cfg's: what the node sends, takes off */
	__u8 cfg_decap;
	/* the daemon (run), when it writes them (has_daemon) */
	int has_daemon;
	uint64_t daemon_reattaches;
	/* verify after the daemon's last apply, once one ran (has_verify) */
	int has_verify;
	uint64_t verify_problems;
	/* Kubernetes discovery, when run --kube is used (has_kube) */
	int has_kube, kube_connected;
	uint64_t kube_last_sync, kube_watch_restarts, kube_invalid_endpoints;
	uint64_t kube_rejected_services;	/* skipped at the last resolution */
};

int metrics_collect(const struct nosnat_maps *m, const struct state *s, struct metrics *mx);
/* Families sorted, series sorted (mx's arrays are sorted in place), no
 * timestamps. */
void metrics_render(FILE *f, struct metrics *mx);
/* PATH.tmp-style temp file in the same directory (not ending in .prom),
 * mode 0644, fsync, rename. */
int metrics_write_textfile(const char *path, struct metrics *mx);

#endif
