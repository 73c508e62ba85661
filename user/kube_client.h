/* kube_client.h - LIST+WATCH of the Services, EndpointSlices and Nodes a
 * configuration names, every watch's requests on one libcurl multi handle
 * in one thread (json-c for the objects). The daemon is woken through an
 * eventfd and takes a snapshot when it wants one. */
#ifndef NOSNAT_KUBE_CLIENT_H
#define NOSNAT_KUBE_CLIENT_H

#include <stdint.h>
#include "config.h"
#include "kube.h"

struct kube_opts {
	const char *kubeconfig;		/* NULL: in-cluster */
	const char *sa_dir;		/* service-account directory (in-cluster) */
	unsigned int stall_timeout;	/* seconds without a byte: reconnect */
	unsigned int watch_timeout;	/* timeoutSeconds of each watch request */
	int allow_http;			/* plain http:// servers (tests only: the
					 * token would travel in clear) */
	unsigned int list_limit;	/* objects per LIST page (0: 500) */
};

struct kube_client;

int kube_start(const struct kube_opts *o, const struct config *cfg, int notify_fd,
	       struct kube_client **out);
void kube_stop(struct kube_client *kc);
/* Every watch has listed at least once. */
int kube_synced(struct kube_client *kc);
/* A deep copy of the caches; release with kube_snapshot_free(). */
int kube_snapshot_take(struct kube_client *kc, struct kube_snapshot *snap);
void kube_snapshot_free(struct kube_snapshot *snap);
void kube_status(struct kube_client *kc, int *connected, uint64_t *last_sync, uint64_t *restarts,
		 uint64_t *invalid_endpoints);

#endif
