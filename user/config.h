/* config.h - the declarative YAML configuration (`nosnat apply`, `run`):
 * parsed with libyaml and validated whole before anything is applied.
 * Pure: parsing touches no map, so it can be unit-tested and fuzzed. */
#ifndef NOSNAT_CONFIG_H
#define NOSNAT_CONFIG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include "nosnat_abi.h"
#include "parse.h"

#define CONFIG_MAX_BYTES	(1 << 20)
#define CONFIG_NAME_LEN		64

struct config_backend {
	__be32 addr;		/* v4 pod; v6: the fold of addr6 */
	__u8 addr6[16];		/* a v6 pod's address; all zero: v4 */
	__be32 node;		/* the pod's node: IPv4, or the fold of node6 */
	__u8 node6[16];		/* a v6 pod's node known by its IPv6 address
				 * (ip6ip6); all zero: node is IPv4 */
	__be16 port;		/* pod port (targetPort) */
	__u16 weight;
	unsigned int line, col;	/* where it was written, 1-based */
};

struct config_vip {
	VIP_KEY_VIEWS;			/* vk: the VIP, either family (parse.h); its
					 * backends are of its family */
	char name[CONFIG_NAME_LEN];	/* service name, may be empty */
	size_t first_be, n_be;		/* into config.bes */
	unsigned int line, col;
	unsigned int ksvc;		/* 1 + its Kubernetes service in ksvcs; 0: static */
};

#define CONFIG_MAX_KUBE_SERVICES	64
#define CONFIG_MAX_KUBE_PORTS		64
#define KUBE_NAME_LEN			254	/* DNS subdomain + NUL */

/* A Kubernetes Service whose backends come from its EndpointSlices. */
struct config_kube_service {
	char ns[64];
	char name[64];
	char label[CONFIG_NAME_LEN];	/* "ns/name", the VIPs' service name */
	__be32 vip;			/* the v4 VIP given, or 0 */
	__u8 vip6[16];			/* the v6 VIP given, or zero; neither given:
					 * the Service's status.loadBalancer.ingress
					 * ips (its first of each family) */
	__u8 proto;			/* 0: every protocol of the Service's ports */
	__be16 ports[CONFIG_MAX_KUBE_PORTS];	/* empty: all the Service's ports */
	size_t n_ports;
	unsigned int line, col;
};

/* config.tun_set: which tunnel settings the file gives */
#define CONFIG_HAS_ENCAP	0x1
#define CONFIG_HAS_GUE_PORT	0x2
#define CONFIG_HAS_DECAP	0x4

struct config {
	__be32 node;		/* valid when has_node */
	int has_node;
	__u8 node6[16];		/* this node's IPv6 address, valid when has_node6 */
	int has_node6;
	unsigned int tun_set;	/* CONFIG_HAS_*: encap, gue_port, decap given */
	__u8 encap;		/* enum nosnat_encap */
	__u8 decap;		/* NOSNAT_DECAP_* */
	__u16 gue_port;		/* host order */
	int nodes_from_kube;	/* nodes: kubernetes */
	struct config_kube_service ksvcs[CONFIG_MAX_KUBE_SERVICES];
	size_t n_ksvcs;
	__be32 nodes[NOSNAT_MAX_NODES];
	size_t n_nodes;
	struct nosnat_be6 nodes6[NOSNAT_MAX_NODES];	/* the v6 nodes */
	size_t n_nodes6;
	struct config_vip vips[NOSNAT_MAX_VIPS];
	size_t n_vips;
	struct config_backend bes[NOSNAT_MAX_BACKENDS];
	size_t n_bes;
};

/* node is in cfg->nodes. */
static inline int config_lists_node(const struct config *cfg, __be32 node)
{
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i] == node)
			return 1;
	return 0;
}

/* node6 is in cfg->nodes6. */
static inline int config_lists_node6(const struct config *cfg, const __u8 *node6)
{
	for (size_t i = 0; i < cfg->n_nodes6; i++)
		if (!__builtin_memcmp(cfg->nodes6[i].addr, node6, sizeof(cfg->nodes6[i].addr)))
			return 1;
	return 0;
}

/* One line of a change list or a note to out; out may be NULL. */
static inline void __attribute__((format(printf, 2, 3))) config_say(FILE *out, const char *fmt, ...)
{
	va_list ap;

	if (!out)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

/* Why a is no host's unicast address (0.0.0.0/8, loopback, multicast,
 * broadcast, 240.0.0.0/4), NULL when it is one: every address, from the
 * file or from Kubernetes, is checked with it. */
const char *config_not_unicast(__be32 a);
/* The same for a v6 address: unspecified, loopback, multicast, link-local,
 * IPv4-mapped. */
const char *config_not_unicast6(const __u8 *a6);
/* Why vip cannot be a VIP here, NULL when it can: not a unicast address,
 * this node's (node_ip, or cfg's node) or a node's in cfg->nodes. */
const char *config_vip_problem(const struct config *cfg, __be32 vip, __be32 node_ip);
/* The same for a VIP of either family (a v6 one: config_not_unicast6, this
 * node's v6 address (node_ip6, may be NULL; or cfg's node6) or a node's in
 * cfg->nodes6). */
const char *config_vip_key_problem(const struct config *cfg, const struct vip_key *k, __be32 node_ip,
				   const __u8 *node_ip6);
/* The rules every VIP port from index from on must keep, whatever its
 * source (file, command, Kubernetes), with this node's addresses node_ip
 * (0: unknown) and node_ip6 (NULL or zero: none): config_vip_key_problem;
 * not defined twice; its backends unicast, neither the VIP nor on it, on a
 * known node (a v6 node: this node's node_ip6 or in nodes6, for a v6 VIP's
 * backend only), at most NOSNAT_MAX_LOCAL on this node. 0, or with
 * "[FILE:LINE:COL: ]message" in err: -EINVAL, -EEXIST (twice),
 * -EHOSTUNREACH (unknown node), -E2BIG (local backends). Pure. */
int config_check_vips(const struct config *cfg, size_t from, __be32 node_ip, const __u8 *node_ip6,
		      const char *file, char *err, size_t errlen);
/* No pod port of the VIP ports from index from on serves more than
 * NOSNAT_POD_IDS VIP ports of one protocol in all of cfg; -EMLINK with the
 * message in err. Quadratic: for a few VIP ports joining (apply sorts). */
int config_check_pod_ids(const struct config *cfg, size_t from, const char *file, char *err,
			 size_t errlen);

/* Parse and validate. On error returns -EINVAL and writes
 * "FILE:LINE:COL: message" into err. */
int config_parse(const char *file, const char *buf, size_t len, struct config *cfg,
		 char *err, size_t errlen);
/* Read FILE (at most CONFIG_MAX_BYTES) and parse it. */
int config_load(const char *file, struct config *cfg, char *err, size_t errlen);
/* Does cfg name Kubernetes services or take its nodes from Kubernetes? */
int config_needs_kube(const struct config *cfg);

#endif
