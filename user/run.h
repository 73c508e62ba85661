/* run.h - long-running mode: attach, apply, follow the config file (inotify,
 * SIGHUP), write metrics every interval, exit on SIGTERM leaving the
 * dataplane in place. */
#ifndef NOSNAT_RUN_H
#define NOSNAT_RUN_H

#include "attach.h"

struct run_opts {
	const char *config;
	const char *iface;	/* NULL or "auto": the interface holding the node address */
	const char *textfile;	/* NULL: no metrics file */
	__be32 node_ip;		/* 0: from the config's node, else the interface */
	unsigned int interval;	/* seconds between metrics writes */
	int detach_on_exit;
	enum xdp_mode mode;
	enum encap_via via;
	struct flow_opts flow;
	int kube;			/* follow Kubernetes (service: entries, nodes: kubernetes) */
	const char *kubeconfig;		/* NULL: in-cluster */
	const char *kube_sa_dir;
	unsigned int kube_stall_timeout;
	unsigned int kube_watch_timeout;
};

int run_daemon(const char *pin_dir, const struct run_opts *o);
/* Load, validate and apply FILE under the pin dir's lock; logs each change.
 * Returns the number of changes or -errno. Records the outcome. */
int apply_file(const char *pin_dir, const char *file, int dry_run, FILE *out);
/* The interface that holds addr. */
int iface_by_addr(__be32 addr, char *ifname, size_t len);

#endif
