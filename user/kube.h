/* kube.h - Kubernetes objects nosnat follows (Service, EndpointSlice, Node),
 * parsed from the API's JSON with json-c, and the resolution of a config's
 * `service:` entries into VIPs and backends. Pure: no I/O, so it is unit
 * tested and fuzzed; kube_client.c does the HTTP. */
#ifndef NOSNAT_KUBE_H
#define NOSNAT_KUBE_H

#include <stdio.h>
#include <json-c/json.h>
#include "config.h"

#define KUBE_MAX_PORTS		32
#define KUBE_MAX_ENDPOINTS	1000	/* per EndpointSlice (the API caps at 1000) */

struct kube_port {
	char name[64];		/* "" when unnamed */
	__u16 port;		/* Service: port; EndpointSlice: the pod's port */
	__u8 proto;		/* IPPROTO_TCP/UDP; 0 for others (SCTP) */
	__u16 target_port;	/* Service: targetPort when a number */
	char target_name[64];	/* Service: targetPort when a name */
};

struct kube_service {
	char ns[64], name[KUBE_NAME_LEN];
	__be32 lb_ip;		/* the first IPv4 status.loadBalancer.ingress ip, 0 if none */
	__u8 lb_ip6[16];	/* the first IPv6 one, all zero if none */
	struct kube_port ports[KUBE_MAX_PORTS];
	size_t n_ports;
};

struct kube_endpoint {
	__be32 addr;		/* IPv4; an IPv6 slice's endpoint: the fold of addr6 */
	__u8 addr6[16];		/* an IPv6 slice's endpoint; zero: IPv4 */
	char node[KUBE_NAME_LEN];
	int ready, serving, terminating;
};

struct kube_slice {
	char ns[64], name[KUBE_NAME_LEN], service[64];
	struct kube_port ports[KUBE_MAX_PORTS];
	size_t n_ports;
	struct kube_endpoint *eps;	/* malloc'd */
	size_t n_eps;
	size_t n_invalid;		/* endpoints skipped: no usable address or node */
	int v6;				/* addressType IPv6 (else IPv4) */
};

struct kube_node {
	char name[KUBE_NAME_LEN];
	__be32 ip;		/* the first IPv4 InternalIP, 0 if none */
	__u8 ip6[16];		/* the first IPv6 InternalIP, zero if none */
};

/* Parse one object; 0 or -EINVAL with a reason in err. */
int kube_parse_service(json_object *o, struct kube_service *s, char *err, size_t errlen);
int kube_parse_slice(json_object *o, struct kube_slice *s, char *err, size_t errlen);
int kube_parse_node(json_object *o, struct kube_node *n, char *err, size_t errlen);
void kube_slice_free(struct kube_slice *s);
/* metadata.namespace/name of any object; -EINVAL when missing. */
int kube_object_key(json_object *o, char *ns, size_t nslen, char *name, size_t namelen);

/* What the watches know at one moment. */
struct kube_snapshot {
	const struct kube_service *svcs;
	size_t n_svcs;
	const struct kube_slice *slices;
	size_t n_slices;
	const struct kube_node *nodes;
	size_t n_nodes;
};

/* One resolution: base + Kubernetes -> the full configuration to apply. */
struct kube_resolve {
	const struct config *base;	/* the file */
	const struct kube_snapshot *snap;
	__be32 node_ip;			/* this node's address (0: unknown) */
	__u8 node_ip6[16];		/* its IPv6 address (zero: none) */
	const struct config *prev;	/* the configuration applied last (NULL: none) */
	FILE *log;			/* notes, one a line (may be NULL) */
	size_t rejected;		/* out: Services skipped */
};

/* Nodes: the InternalIPs of both families are known nodes (nosnat_nodes,
 * nosnat_nodes6). A v4 pod's node is its Node's IPv4 address; a v6 pod's
 * the IPv4 one when the Node has one (6in4), else its IPv6 one (ip6ip6).
 * Each Service is resolved on its own: one that breaks a rule of
 * config_check_vips / config_check_pod_ids (its VIP a node's address or no
 * unicast one, more endpoints on this node than NOSNAT_MAX_LOCAL, a VIP
 * port twice, a pod port behind too many VIP ports, limits) is skipped and
 * counted in r->rejected, its VIP ports from r->prev kept when they still
 * fit, and the others are resolved as usual. Problems that only skip
 * something are one line each on r->log. Returns -EINVAL with err only
 * when nothing can be built (a static backend on no Kubernetes node). */
int kube_resolve(struct kube_resolve *r, struct config *out, char *err, size_t errlen);

#endif
