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
	__u8 node_ip6[16];	/* zero: likewise (else none) */
	unsigned int interval;	/* seconds between metrics writes */
	int detach_on_exit;
	enum attach_hook hook;
	enum xdp_mode mode;
	enum xdp_meta_use xdp_meta;
	enum encap_via via;
	struct flow_opts flow;
	struct tunnel_opts tun;		/* given flags win over the config's encap, gue_port, decap */
	int kube;			/* follow Kubernetes (service: entries, nodes: kubernetes) */
	const char *kubeconfig;		/* NULL: in-cluster */
	const char *kube_sa_dir;
	unsigned int kube_stall_timeout;
	unsigned int kube_watch_timeout;
	unsigned int kube_list_limit;	/* objects per LIST page */
};

struct ctx;
int run_daemon(struct ctx *c, const char *pin_dir, const struct run_opts *o);

#endif
