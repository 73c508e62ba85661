// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* YAML configuration: libyaml's document API gives every node its position,
 * so each error names FILE:LINE:COL. Everything is checked here; apply only
 * ever sees a configuration that is whole and consistent. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <yaml.h>
#include "config.h"
#include "parse.h"
#include "ydoc.h"

#define MAX_PORTS_PER_SERVICE 64

struct ctx {
	const char *file;
	yaml_document_t *doc;
	struct config *cfg;
	char *err;
	size_t errlen;
};

static int failf(struct ctx *c, size_t line, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int failf(struct ctx *c, size_t line, size_t col, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Quoted input may carry newlines or escapes: one line, printable. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->file, line, col, msg);
	return -EINVAL;
}

#define FAIL_AT(c, n, ...) failf(c, (n)->start_mark.line + 1, (n)->start_mark.column + 1, __VA_ARGS__)

static yaml_node_t *get(struct ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static const char *type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static int want_type(struct ctx *c, yaml_node_t *n, yaml_node_type_t t, const char *what)
{
	if (n->type == t)
		return 0;
	return FAIL_AT(c, n, "%s must be %s, not %s", what,
		       t == YAML_SCALAR_NODE ? "a scalar" : t == YAML_SEQUENCE_NODE ? "a list" : "a mapping",
		       type_name(n));
}

/* n's text; n is a scalar (checked by the caller) */
static const char *scalar(yaml_node_t *n)
{
	return ydoc_scalar(n);
}

/* A scalar that must not contain NUL bytes (libyaml allows them). */
static int get_str(struct ctx *c, yaml_node_t *n, const char *what, const char **out)
{
	if (want_type(c, n, YAML_SCALAR_NODE, what))
		return -EINVAL;
	if (strlen(scalar(n)) != n->data.scalar.length)
		return FAIL_AT(c, n, "%s contains a NUL byte", what);
	*out = scalar(n);
	return 0;
}

const char *config_not_unicast(__be32 a)
{
	__u32 h = ntohl(a);

	if (h >> 24 == 0)
		return "'this network' (0.0.0.0/8)";
	if (h >> 24 == 127)
		return "loopback";
	if (h >> 28 == 14)
		return "multicast";
	if (h >> 28 == 15)
		return h == 0xffffffff ? "broadcast" : "reserved (240.0.0.0/4)";
	return NULL;
}

const char *config_not_unicast6(const __u8 *a6)
{
	struct in6_addr a;

	memcpy(&a, a6, sizeof(a));
	if (IN6_IS_ADDR_UNSPECIFIED(&a))
		return "the unspecified address (::)";
	if (IN6_IS_ADDR_LOOPBACK(&a))
		return "loopback";
	if (IN6_IS_ADDR_MULTICAST(&a))
		return "multicast";
	if (IN6_IS_ADDR_LINKLOCAL(&a))
		return "link-local (fe80::/10)";
	if (IN6_IS_ADDR_V4MAPPED(&a))
		return "IPv4-mapped (::ffff:0:0/96)";
	return NULL;
}

/* An IPv4 address that is a host's unicast address. */
static int get_ipv4(struct ctx *c, yaml_node_t *n, const char *what, __be32 *out)
{
	const char *s, *why;

	if (get_str(c, n, what, &s))
		return -EINVAL;
	if (parse_ipv4(s, out) || !*out)
		return FAIL_AT(c, n, "%s: invalid IPv4 address '%.64s'", what, s);
	why = config_not_unicast(*out);
	if (why)
		return FAIL_AT(c, n, "%s: %.64s is %s, not a host's address", what, s, why);
	return 0;
}

/* A VIP, pod or node address of either family, a host's unicast address: v4 in
 * *out (a6 zeroed), v6 in a6 (*out its fold). */
static int get_ip_any(struct ctx *c, yaml_node_t *n, const char *what, __be32 *out, __u8 *a6)
{
	const char *s, *why;

	if (get_str(c, n, what, &s))
		return -EINVAL;
	memset(a6, 0, 16);
	if (!strchr(s, ':'))
		return get_ipv4(c, n, what, out);
	if (inet_pton(AF_INET6, s, a6) != 1)
		return FAIL_AT(c, n, "%s: invalid IPv6 address '%.64s'", what, s);
	why = config_not_unicast6(a6);
	if (why)
		return FAIL_AT(c, n, "%s: %.64s is %s, not a host's address", what, s, why);
	*out = nosnat_addr6_fold(a6);
	return 0;
}

static int get_uint(struct ctx *c, yaml_node_t *n, const char *what, unsigned long min,
		    unsigned long max, unsigned long *out)
{
	const char *s;

	if (get_str(c, n, what, &s))
		return -EINVAL;
	if (parse_uint(s, min, max, out))
		return FAIL_AT(c, n, "%s must be a whole number from %lu to %lu, not '%.64s'", what,
			       min, max, s);
	return 0;
}

/* Walk a mapping's pairs; each key must be one of keys[]. */
typedef int (*pair_fn)(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

static int each_pair(struct ctx *c, yaml_node_t *map, const char *what, const char *const *keys,
		     pair_fn fn, void *arg)
{
	yaml_node_pair_t *p;

	if (want_type(c, map, YAML_MAPPING_NODE, what))
		return -EINVAL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get(c, p->key), *v = get(c, p->value);
		const char *ks;
		int known = 0, rc;

		if (!k || !v)
			return FAIL_AT(c, map, "%s: broken mapping", what);
		if (get_str(c, k, "a key", &ks))
			return -EINVAL;
		for (const char *const *kk = keys; *kk; kk++)
			if (!strcmp(*kk, ks))
				known = 1;
		if (!known)
			return FAIL_AT(c, k, "unknown key '%.64s' in %s", ks, what);
		/* a key given twice would silently override: refuse */
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *qk = get(c, q->key);

			if (qk && qk->type == YAML_SCALAR_NODE && !strcmp(scalar(qk), ks))
				return FAIL_AT(c, k, "key '%.64s' given twice in %s", ks, what);
		}
		rc = fn(c, ks, k, v, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* Addresses that must differ: a VIP is no node's address (this node's, a
 * listed one, a backend's node) and no backend's own. */
static int cross_check(struct ctx *c)
{
	const struct config *cfg = c->cfg;
	char vs[VIP_STR_LEN], a[ADDR_STR_LEN];

	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		if (!v->vk.v6 &&
		    ((cfg->has_node && cfg->node == v->key.addr) || config_lists_node(cfg, v->key.addr)))
			return failf(c, v->line, v->col, "VIP %s is a node's address",
				     ip_str(v->key.addr, a));
		if (v->vk.v6 && ((cfg->has_node6 && !memcmp(cfg->node6, v->vk.addr6, sizeof(cfg->node6))) ||
				 config_lists_node6(cfg, v->vk.addr6)))
			return failf(c, v->line, v->col, "VIP %s is a node's address",
				     vip_addr_str(&v->vk, a));
		for (size_t b = 0; b < v->n_be; b++) {
			const struct config_backend *cb = &cfg->bes[v->first_be + b];

			if (cb->addr == v->key.addr && !memcmp(cb->addr6, v->vk.addr6, sizeof(cb->addr6)))
				return failf(c, cb->line, cb->col, "backend of %s is the VIP itself",
					     vip_str(&v->vk, vs));
			if (!v->vk.v6 && cb->node == v->key.addr)
				return failf(c, cb->line, cb->col, "backend of %s runs on the VIP's address",
					     vip_str(&v->vk, vs));
		}
	}
	return 0;
}

/* --- nodes ---------------------------------------------------------- */

static int parse_nodes(struct ctx *c, yaml_node_t *seq)
{
	struct config *cfg = c->cfg;

	if (want_type(c, seq, YAML_SEQUENCE_NODE, "nodes"))
		return -EINVAL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		yaml_node_t *n = get(c, *i);
		__be32 a;
		__u8 a6[16];

		if (!n || get_ip_any(c, n, "node", &a, a6))
			return n ? -EINVAL : FAIL_AT(c, seq, "nodes: broken list");
		if (addr6_set(a6)) {	/* a node of an IPv6 node network */
			if (config_lists_node6(cfg, a6))
				return FAIL_AT(c, n, "node %s listed twice", scalar(n));
			if (cfg->n_nodes6 >= NOSNAT_MAX_NODES)
				return FAIL_AT(c, n, "more than %d IPv6 nodes", NOSNAT_MAX_NODES);
			memcpy(cfg->nodes6[cfg->n_nodes6++].addr, a6, sizeof(a6));
			continue;
		}
		for (size_t j = 0; j < cfg->n_nodes; j++)
			if (cfg->nodes[j] == a)
				return FAIL_AT(c, n, "node %s listed twice", scalar(n));
		if (cfg->n_nodes >= NOSNAT_MAX_NODES)
			return FAIL_AT(c, n, "more than %d nodes", NOSNAT_MAX_NODES);
		cfg->nodes[cfg->n_nodes++] = a;
	}
	return 0;
}

/* --- services ------------------------------------------------------- */

struct port_entry {
	__be16 port, target;
	yaml_node_t *at;
};

struct service {
	yaml_node_t *at;
	const char *name;
	yaml_node_t *kube;	/* "service: ns/name" */
	int has_proto;
	__be32 vip;		/* the v4 VIP, when has_vip */
	__u8 vip6[16];		/* the v6 VIP, when has_vip6 */
	int has_vip, has_vip6;
	yaml_node_t *vip_at;
	__u8 proto;
	struct port_entry ports[MAX_PORTS_PER_SERVICE];
	size_t n_ports;
	yaml_node_t *backends;
};

struct backend_tmp {
	__be32 addr, node;	/* addr: v4, or the fold of addr6; node likewise */
	__u8 addr6[16];		/* a v6 pod; zero: v4 */
	__u8 node6[16];		/* a v6 node; zero: v4 */
	unsigned long weight;
	int has_addr, has_node;
};

static int port_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct port_entry *pe = arg;
	unsigned long u;

	(void)k;
	if (get_uint(c, v, key, 1, 65535, &u))
		return -EINVAL;
	if (!strcmp(key, "port"))
		pe->port = htons((uint16_t)u);
	else
		pe->target = htons((uint16_t)u);
	return 0;
}

static int parse_ports(struct ctx *c, yaml_node_t *seq, struct service *svc)
{
	static const char *const keys[] = { "port", "targetPort", NULL };

	if (want_type(c, seq, YAML_SEQUENCE_NODE, "ports"))
		return -EINVAL;
	if (seq->data.sequence.items.top == seq->data.sequence.items.start)
		return FAIL_AT(c, seq, "ports is empty");
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		yaml_node_t *n = get(c, *i);
		struct port_entry pe = { .at = n };
		unsigned long u;

		if (!n)
			return FAIL_AT(c, seq, "ports: broken list");
		if (svc->n_ports >= MAX_PORTS_PER_SERVICE)
			return FAIL_AT(c, n, "more than %d ports in one service", MAX_PORTS_PER_SERVICE);
		if (n->type == YAML_MAPPING_NODE) {
			if (each_pair(c, n, "a port", keys, port_pair, &pe))
				return -EINVAL;
			if (!pe.port)
				return FAIL_AT(c, n, "port mapping without 'port'");
			if (!pe.target)
				pe.target = pe.port;
		} else {
			if (get_uint(c, n, "port", 1, 65535, &u))
				return -EINVAL;
			pe.port = pe.target = htons((uint16_t)u);
		}
		for (size_t j = 0; j < svc->n_ports; j++)
			if (svc->ports[j].port == pe.port)
				return FAIL_AT(c, n, "port %u listed twice", ntohs(pe.port));
		svc->ports[svc->n_ports++] = pe;
	}
	return 0;
}

static int backend_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct backend_tmp *b = arg;

	(void)k;
	if (!strcmp(key, "address")) {
		b->has_addr = 1;
		return get_ip_any(c, v, "address", &b->addr, b->addr6);
	}
	if (!strcmp(key, "node")) {
		b->has_node = 1;
		return get_ip_any(c, v, "node", &b->node, b->node6);
	}
	return get_uint(c, v, "weight", 0, NOSNAT_MAX_WEIGHT, &b->weight);
}

/* One VIP address of a service into svc: its v4 or its v6 one. */
static int service_vip_addr(struct ctx *c, yaml_node_t *n, struct service *svc)
{
	__be32 a;
	__u8 a6[16];

	if (get_ip_any(c, n, "vip", &a, a6))
		return -EINVAL;
	if (addr6_set(a6)) {
		if (svc->has_vip6)
			return FAIL_AT(c, n, "vip: a service has one IPv6 address, not two");
		memcpy(svc->vip6, a6, sizeof(svc->vip6));
		svc->has_vip6 = 1;
	} else {
		if (svc->has_vip)
			return FAIL_AT(c, n, "vip: a service has one IPv4 address, not two");
		svc->vip = a;
		svc->has_vip = 1;
	}
	return 0;
}

/* vip: one address, or a list of one IPv4 and one IPv6 address (dual stack). */
static int parse_service_vip(struct ctx *c, yaml_node_t *v, struct service *svc)
{
	svc->vip_at = v;
	if (v->type != YAML_SEQUENCE_NODE)
		return service_vip_addr(c, v, svc);
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return FAIL_AT(c, v, "vip is an empty list");
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
		yaml_node_t *n = get(c, *i);

		if (!n)
			return FAIL_AT(c, v, "vip: broken list");
		if (service_vip_addr(c, n, svc))
			return -EINVAL;
	}
	return 0;
}

static int service_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct service *svc = arg;
	const char *s;

	(void)k;
	if (!strcmp(key, "name")) {
		if (get_str(c, v, "name", &s))
			return -EINVAL;
		if (strlen(s) >= CONFIG_NAME_LEN || !*s)
			return FAIL_AT(c, v, "name must be 1 to %d characters", CONFIG_NAME_LEN - 1);
		for (const char *p = s; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
			      *p == '/'))
				return FAIL_AT(c, v, "name '%.64s': only letters, digits, - _ . /", s);
		svc->name = s;
		return 0;
	}
	if (!strcmp(key, "vip"))
		return parse_service_vip(c, v, svc);
	if (!strcmp(key, "protocol")) {
		if (get_str(c, v, "protocol", &s))
			return -EINVAL;
		if (parse_proto(s, &svc->proto))
			return FAIL_AT(c, v, "protocol must be tcp or udp, not '%.64s'", s);
		svc->has_proto = 1;
		return 0;
	}
	if (!strcmp(key, "service")) {
		if (want_type(c, v, YAML_SCALAR_NODE, "service"))
			return -EINVAL;
		svc->kube = v;
		return 0;
	}
	if (!strcmp(key, "ports"))
		return parse_ports(c, v, svc);
	if (want_type(c, v, YAML_SEQUENCE_NODE, "backends"))
		return -EINVAL;
	svc->backends = v;
	return 0;
}

static int node_known(const struct config *cfg, __be32 node, const __u8 *node6)
{
	if (addr6_set(node6))
		return (cfg->has_node6 && !memcmp(cfg->node6, node6, sizeof(cfg->node6))) ||
		       config_lists_node6(cfg, node6);
	return (cfg->has_node && cfg->node == node) || config_lists_node(cfg, node);
}

/* DNS-1123 label: lower-case letters, digits and '-', 1-63 characters. */
static int dns_label(const char *s, size_t len)
{
	if (!len || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int parse_kube_service(struct ctx *c, struct service *svc)
{
	struct config *cfg = c->cfg;
	struct config_kube_service *k;
	const char *s, *slash;

	if (svc->backends)
		return FAIL_AT(c, svc->backends, "a Kubernetes service takes its backends from its EndpointSlices");
	if (get_str(c, svc->kube, "service", &s))
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || !dns_label(s, (size_t)(slash - s)) || !dns_label(slash + 1, strlen(slash + 1)))
		return FAIL_AT(c, svc->kube, "service must be NAMESPACE/NAME (DNS labels), not '%.64s'", s);
	if (cfg->n_ksvcs >= CONFIG_MAX_KUBE_SERVICES)
		return FAIL_AT(c, svc->kube, "more than %d Kubernetes services", CONFIG_MAX_KUBE_SERVICES);
	for (size_t p = 0; p < svc->n_ports; p++)
		if (svc->ports[p].target != svc->ports[p].port)
			return FAIL_AT(c, svc->ports[p].at, "targetPort comes from the Kubernetes Service");
	for (size_t i = 0; i < cfg->n_ksvcs; i++)	/* the Service itself, not its label */
		if (strlen(cfg->ksvcs[i].ns) == (size_t)(slash - s) &&
		    !strncmp(cfg->ksvcs[i].ns, s, (size_t)(slash - s)) &&
		    !strcmp(cfg->ksvcs[i].name, slash + 1))
			return FAIL_AT(c, svc->kube, "service %s listed twice", s);
	k = &cfg->ksvcs[cfg->n_ksvcs++];
	memset(k, 0, sizeof(*k));
	snprintf(k->ns, sizeof(k->ns), "%.*s", (int)(slash - s), s);
	snprintf(k->name, sizeof(k->name), "%s", slash + 1);
	snprintf(k->label, sizeof(k->label), "%s", svc->name ? svc->name : s);
	k->vip = svc->has_vip ? svc->vip : 0;
	if (svc->has_vip6)
		memcpy(k->vip6, svc->vip6, sizeof(k->vip6));
	k->proto = svc->has_proto ? svc->proto : 0;
	for (size_t p = 0; p < svc->n_ports; p++)
		k->ports[k->n_ports++] = svc->ports[p].port;
	k->line = svc->kube->start_mark.line + 1;
	k->col = svc->kube->start_mark.column + 1;
	return 0;
}

static int parse_service(struct ctx *c, yaml_node_t *n)
{
	static const char *const keys[] = { "name", "vip", "protocol", "ports", "backends",
					    "service", NULL };
	static const char *const bkeys[] = { "address", "node", "weight", NULL };
	struct config *cfg = c->cfg;
	struct service svc = { .at = n, .proto = IPPROTO_TCP };
	size_t first_be = cfg->n_bes, n_be = 0;

	if (each_pair(c, n, "a service", keys, service_pair, &svc))
		return -EINVAL;
	if (svc.kube)
		return parse_kube_service(c, &svc);
	if (!svc.has_vip && !svc.has_vip6)
		return FAIL_AT(c, n, "service without 'vip'");
	if (!svc.n_ports)
		return FAIL_AT(c, n, "service without 'ports'");

	/* Backends, with pod port per VIP port filled in below. */
	struct backend_tmp bt[NOSNAT_MAX_LOCAL * 64];
	yaml_node_t *bat[NOSNAT_MAX_LOCAL * 64];

	if (svc.backends) {
		for (yaml_node_item_t *i = svc.backends->data.sequence.items.start;
		     i < svc.backends->data.sequence.items.top; i++) {
			yaml_node_t *b = get(c, *i);

			if (!b)
				return FAIL_AT(c, svc.backends, "backends: broken list");
			if (n_be >= sizeof(bt) / sizeof(bt[0]))
				return FAIL_AT(c, b, "more than %zu backends in one service",
					       sizeof(bt) / sizeof(bt[0]));
			bt[n_be] = (struct backend_tmp){ .weight = 1 };
			bat[n_be] = b;
			if (each_pair(c, b, "a backend", bkeys, backend_pair, &bt[n_be]))
				return -EINVAL;
			if (!bt[n_be].has_addr)
				return FAIL_AT(c, b, "backend without 'address'");
			if (!bt[n_be].has_node)
				return FAIL_AT(c, b, "backend without 'node'");
			/* Kubernetes' Nodes come and go: a static backend's node could be
			 * checked only at run time, where one gone would stop every
			 * apply, Kubernetes services' too */
			if (cfg->nodes_from_kube && !node_known(cfg, bt[n_be].node, bt[n_be].node6))
				return FAIL_AT(c, b, "a static backend's node under 'nodes: kubernetes' "
					       "(list 'nodes', or give the service by 'service:')");
			if (!node_known(cfg, bt[n_be].node, bt[n_be].node6))
				return FAIL_AT(c, b, "backend's node is not in 'nodes'");
			/* IPv4 crosses an IPv4 node network only */
			if (addr6_set(bt[n_be].node6) && !addr6_set(bt[n_be].addr6)) {
				char a[ADDR_STR_LEN], nb[ADDR_STR_LEN];

				return FAIL_AT(c, b, "backend %s is IPv4 but its node %s is IPv6: "
					       "an IPv4 VIP's pods need IPv4 nodes",
					       addr_str(bt[n_be].addr, NULL, a), addr_str(0, bt[n_be].node6, nb));
			}
			for (size_t j = 0; j < n_be; j++)
				if (bt[j].addr == bt[n_be].addr &&
				    !memcmp(bt[j].addr6, bt[n_be].addr6, sizeof(bt[j].addr6)))
					return FAIL_AT(c, b, "backend address listed twice");
			/* a backend serves the VIP of its own family */
			if (addr6_set(bt[n_be].addr6) ? !svc.has_vip6 : !svc.has_vip) {
				char a[ADDR_STR_LEN];

				return FAIL_AT(c, b, "backend %s is IPv%c but the service has no IPv%c vip",
					       addr_str(bt[n_be].addr, bt[n_be].addr6, a),
					       addr6_set(bt[n_be].addr6) ? '6' : '4',
					       addr6_set(bt[n_be].addr6) ? '6' : '4');
			}
			n_be++;
		}
	}

	/* One VIP port per port and family, v4 first; each takes the backends
	 * of its family. */
	for (size_t q = 0; q < 2 * svc.n_ports; q++) {
		size_t p = q / 2;
		int v6 = q % 2;
		struct config_vip *v;
		struct vip_key key = { .addr = svc.vip, .port = svc.ports[p].port, .proto = svc.proto };
		char vs[VIP_STR_LEN];

		if (v6 ? !svc.has_vip6 : !svc.has_vip)
			continue;
		if (v6) {
			key.v6 = NOSNAT_VIP_ID_V6;
			memcpy(key.addr6, svc.vip6, sizeof(key.addr6));
			key.addr = nosnat_addr6_fold(key.addr6);
		}
		for (size_t j = 0; j < cfg->n_vips; j++)
			if (!memcmp(&cfg->vips[j].vk, &key, sizeof(key)))
				return FAIL_AT(c, svc.ports[p].at, "%s is already defined on line %u",
					       vip_str(&key, vs), cfg->vips[j].line);
		if (cfg->n_vips >= NOSNAT_MAX_VIPS)
			return FAIL_AT(c, svc.ports[p].at, "more than %d VIP ports", NOSNAT_MAX_VIPS);
		if (cfg->n_bes + n_be > NOSNAT_MAX_BACKENDS)
			return FAIL_AT(c, svc.ports[p].at, "more than %d backends in all",
				       NOSNAT_MAX_BACKENDS);
		v = &cfg->vips[cfg->n_vips++];
		v->vk = key;
		snprintf(v->name, sizeof(v->name), "%s", svc.name ? svc.name : "");
		v->first_be = cfg->n_bes;
		v->line = svc.ports[p].at->start_mark.line + 1;
		v->col = svc.ports[p].at->start_mark.column + 1;
		for (size_t b = 0; b < n_be; b++) {
			struct config_backend *cb;

			if (addr6_set(bt[b].addr6) != v6)
				continue;
			cb = &cfg->bes[cfg->n_bes++];
			*cb = (struct config_backend){
				.addr = bt[b].addr, .node = bt[b].node, .port = svc.ports[p].target,
				.weight = (__u16)bt[b].weight,
				.line = bat[b]->start_mark.line + 1,
				.col = bat[b]->start_mark.column + 1,
			};
			memcpy(cb->addr6, bt[b].addr6, sizeof(cb->addr6));
			memcpy(cb->node6, bt[b].node6, sizeof(cb->node6));
		}
		v->n_be = cfg->n_bes - v->first_be;
	}
	(void)first_be;
	return 0;
}

static int parse_services(struct ctx *c, yaml_node_t *seq)
{
	if (want_type(c, seq, YAML_SEQUENCE_NODE, "services"))
		return -EINVAL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		yaml_node_t *n = get(c, *i);

		if (!n)
			return FAIL_AT(c, seq, "services: broken list");
		if (parse_service(c, n))
			return -EINVAL;
	}
	return 0;
}

/* --- top level ------------------------------------------------------- */

struct top {
	yaml_node_t *node, *nodes, *services, *encap, *gue_port, *decap;
};

static int top_pair(struct ctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct top *t = arg;

	(void)c;
	(void)k;
	if (!strcmp(key, "node"))
		t->node = v;
	else if (!strcmp(key, "nodes"))
		t->nodes = v;
	else if (!strcmp(key, "encap"))
		t->encap = v;
	else if (!strcmp(key, "gue_port"))
		t->gue_port = v;
	else if (!strcmp(key, "decap"))
		t->decap = v;
	else
		t->services = v;
	return 0;
}

/* One of this node's addresses (node:), either family, each once. */
static int this_node_addr(struct ctx *c, yaml_node_t *n)
{
	struct config *cfg = c->cfg;
	__be32 a;
	__u8 a6[16];

	if (get_ip_any(c, n, "node", &a, a6))
		return -EINVAL;
	if (addr6_set(a6)) {
		if (cfg->has_node6)
			return FAIL_AT(c, n, "node: this node has one IPv6 address, not two");
		memcpy(cfg->node6, a6, sizeof(cfg->node6));
		cfg->has_node6 = 1;
		return 0;
	}
	if (cfg->has_node)
		return FAIL_AT(c, n, "node: this node has one IPv4 address, not two");
	cfg->node = a;
	cfg->has_node = 1;
	return 0;
}

/* node: one address, or a list of one IPv4 and one IPv6 address. */
static int parse_this_node(struct ctx *c, yaml_node_t *v)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return this_node_addr(c, v);
	if (v->data.sequence.items.top == v->data.sequence.items.start)
		return FAIL_AT(c, v, "node is an empty list");
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
		yaml_node_t *n = get(c, *i);

		if (!n)
			return FAIL_AT(c, v, "node: broken list");
		if (this_node_addr(c, n))
			return -EINVAL;
	}
	return 0;
}

/* encap: ipip|gue, gue_port: PORT, decap: what this node takes off, a list
 * ([ipip, gue]) or one word; the command line's flags win over these. */
static int parse_tunnel(struct ctx *c, const struct top *t)
{
	struct config *cfg = c->cfg;
	unsigned long u;
	const char *s;

	if (t->encap) {
		if (get_str(c, t->encap, "encap", &s))
			return -EINVAL;
		if (parse_encap(s, &cfg->encap))
			return FAIL_AT(c, t->encap, "encap must be ipip or gue, not '%.64s'", s);
		cfg->tun_set |= CONFIG_HAS_ENCAP;
	}
	if (t->gue_port) {
		if (get_uint(c, t->gue_port, "gue_port", 1, 65535, &u))
			return -EINVAL;
		cfg->gue_port = (__u16)u;
		cfg->tun_set |= CONFIG_HAS_GUE_PORT;
	}
	if (t->decap && t->decap->type == YAML_SEQUENCE_NODE) {
		__u8 bits = 0, bit;

		for (yaml_node_item_t *i = t->decap->data.sequence.items.start;
		     i < t->decap->data.sequence.items.top; i++) {
			yaml_node_t *n = get(c, *i);

			if (!n || get_str(c, n, "decap", &s))
				return n ? -EINVAL : FAIL_AT(c, t->decap, "decap: broken list");
			if (parse_decap(s, &bit) || (bits & bit))
				return FAIL_AT(c, n, "decap lists ipip and gue, each once, not '%.64s'", s);
			bits |= bit;
		}
		if (!bits)
			return FAIL_AT(c, t->decap, "decap: an empty list takes nothing off (ipip, gue or both)");
		cfg->decap = bits;
		cfg->tun_set |= CONFIG_HAS_DECAP;
	} else if (t->decap) {
		if (get_str(c, t->decap, "decap", &s))
			return -EINVAL;
		if (parse_decap(s, &cfg->decap))
			return FAIL_AT(c, t->decap, "decap must be ipip, gue or a list of both, not '%.64s'", s);
		cfg->tun_set |= CONFIG_HAS_DECAP;
	}
	return 0;
}

int config_parse(const char *file, const char *buf, size_t len, struct config *cfg,
		 char *err, size_t errlen)
{
	static const char *const keys[] = { "node", "nodes", "services", "encap", "gue_port", "decap",
					    NULL };
	yaml_document_t doc;
	struct ydoc_err ye;
	struct ctx c = { .file = file, .doc = &doc, .cfg = cfg, .err = err, .errlen = errlen };
	struct top t = {};
	yaml_node_t *root;
	int rc = 0;

	memset(cfg, 0, offsetof(struct config, vips));
	cfg->n_vips = 0;
	cfg->n_bes = 0;
	if (len > CONFIG_MAX_BYTES)
		return failf(&c, 1, 1, "file too large (%zu bytes, at most %d)", len, CONFIG_MAX_BYTES);
	rc = ydoc_load(buf, len, &doc, &ye);
	if (rc == -ENODATA)
		return failf(&c, 1, 1, "empty configuration");
	if (rc)
		return failf(&c, ye.line, ye.col, "%s", ye.msg);
	root = yaml_document_get_root_node(&doc);
	if (root->type != YAML_MAPPING_NODE) {
		rc = FAIL_AT(&c, root, "the configuration must be a mapping (node, nodes, services, encap, gue_port, decap)");
		goto out;
	}
	rc = each_pair(&c, root, "the configuration", keys, top_pair, &t);
	if (rc)
		goto out;
	if (t.node) {
		rc = parse_this_node(&c, t.node);
		if (rc)
			goto out;
	}
	rc = parse_tunnel(&c, &t);
	if (rc)
		goto out;
	if (t.nodes && t.nodes->type == YAML_SCALAR_NODE && !strcmp(scalar(t.nodes), "kubernetes"))
		cfg->nodes_from_kube = 1;
	else if (t.nodes && (rc = parse_nodes(&c, t.nodes)))
		goto out;
	if (t.services && (rc = parse_services(&c, t.services)))
		goto out;
	rc = cross_check(&c);
	if (rc)
		goto out;
out:
	yaml_document_delete(&doc);
	return rc;
}

int config_load(const char *file, struct config *cfg, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, rc;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s:1:1: cannot open: %s", file, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s:1:1: not a regular file", file);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s:1:1: file too large (%lld bytes, at most %d)", file,
			 (long long)st.st_size, CONFIG_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, CONFIG_MAX_BYTES + 1);
	close(fd);
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s:1:1: cannot read: %s", file, strerror(errno));
		free(buf);
		return rc;
	}
	rc = config_parse(file, buf, (size_t)n, cfg, err, errlen);
	free(buf);
	return rc;
}

int config_needs_kube(const struct config *cfg)
{
	return cfg->n_ksvcs || cfg->nodes_from_kube;
}

const char *config_vip_problem(const struct config *cfg, __be32 vip, __be32 node_ip)
{
	const char *why = config_not_unicast(vip);

	if (why)
		return why;
	if ((node_ip && vip == node_ip) || (cfg->has_node && cfg->node == vip))
		return "this node's address";
	if (config_lists_node(cfg, vip))
		return "a node's address";
	return NULL;
}

const char *config_vip_key_problem(const struct config *cfg, const struct vip_key *k, __be32 node_ip,
				   const __u8 *node_ip6)
{
	const char *why;

	if (!k->v6)
		return config_vip_problem(cfg, k->addr, node_ip);
	why = config_not_unicast6(k->addr6);
	if (why)
		return why;
	if ((node_ip6 && !memcmp(node_ip6, k->addr6, sizeof(k->addr6))) ||
	    (cfg->has_node6 && !memcmp(cfg->node6, k->addr6, sizeof(k->addr6))))
		return "this node's address";
	if (config_lists_node6(cfg, k->addr6))
		return "a node's address";
	return NULL;
}

static int checkf(char *err, size_t len, const char *file, unsigned int line, unsigned int col, int rc,
		  const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int checkf(char *err, size_t len, const char *file, unsigned int line, unsigned int col, int rc,
		  const char *fmt, ...)
{
	int n = file ? snprintf(err, len, "%s:%u:%u: ", file, line, col) : 0;
	va_list ap;

	if (n < 0 || (size_t)n >= len)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

int config_check_vips(const struct config *cfg, size_t from, __be32 node_ip, const __u8 *node_ip6,
		      const char *file, char *err, size_t errlen)
{
	char vs[VIP_STR_LEN], a[ADDR_STR_LEN], n[ADDR_STR_LEN], bs[EP_STR_LEN];

	if (node_ip6 && !addr6_set(node_ip6))
		node_ip6 = NULL;

	for (size_t i = from; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		const char *why = config_vip_key_problem(cfg, &v->vk, node_ip, node_ip6);
		unsigned int local = 0;

		vip_str(&v->vk, vs);
		if (why)
			return checkf(err, errlen, file, v->line, v->col, -EINVAL, "VIP %s is %s",
				      vip_addr_str(&v->vk, a), why);
		for (size_t j = 0; j < i; j++)
			if (!memcmp(&cfg->vips[j].vk, &v->vk, sizeof(v->vk)))
				return checkf(err, errlen, file, v->line, v->col, -EEXIST,
					      "%s is defined twice", vs);
		for (size_t b = 0; b < v->n_be; b++) {
			const struct config_backend *cb = &cfg->bes[v->first_be + b];

			int node6 = addr6_set(cb->node6);

			local += node6 ? node_ip6 && !memcmp(cb->node6, node_ip6, sizeof(cb->node6))
				       : node_ip && cb->node == node_ip;
			addr_str(cb->addr, cb->addr6, a);
			addr_str(cb->node, cb->node6, n);
			if (addr6_set(cb->addr6) != !!v->vk.v6)
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend %s of %s is IPv%c: a VIP takes backends of its own family",
					      a, vs, v->vk.v6 ? '4' : '6');
			if (cb->addr == v->key.addr && !memcmp(cb->addr6, v->vk.addr6, sizeof(cb->addr6)))
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend of %s is the VIP itself", vs);
			if (!v->vk.v6 && cb->node == v->key.addr)
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend of %s runs on the VIP's address", vs);
			if (v->vk.v6 && node6 && !memcmp(cb->node6, v->vk.addr6, sizeof(cb->node6)))
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend of %s runs on the VIP's address", vs);
			if (!v->vk.v6 && node6)
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend %s of %s runs on IPv6 node %s: an IPv4 VIP's pods need IPv4 nodes",
					      a, vs, n);
			if (node6 && cb->node != nosnat_addr6_fold(cb->node6))
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend %s of %s: node %s without its fold", a, vs, n);
			why = v->vk.v6 ? config_not_unicast6(cb->addr6) : config_not_unicast(cb->addr);
			if (why)
				return checkf(err, errlen, file, cb->line, cb->col, -EINVAL,
					      "backend %s of %s is %s", a, vs, why);
			if (node6 ? (!node_ip6 || memcmp(cb->node6, node_ip6, sizeof(cb->node6))) &&
				    !config_lists_node6(cfg, cb->node6)
				  : cb->node != node_ip && !config_lists_node(cfg, cb->node))
				return checkf(err, errlen, file, cb->line, cb->col, -EHOSTUNREACH,
					      "backend %s of %s runs on %s, which is not in nodes",
					      ep_str(cb->addr, cb->addr6, cb->port, bs), vs, n);
		}
		if (local > NOSNAT_MAX_LOCAL)
			return checkf(err, errlen, file, v->line, v->col, -E2BIG,
				      "%s has %u backends on this node (at most %d)", vs, local, NOSNAT_MAX_LOCAL);
	}
	return 0;
}

/* Does the pod port (addr, port, proto) serve the VIP port v? */
static int serves(const struct config *cfg, const struct config_vip *v, const struct config_backend *p,
		  __u8 proto)
{
	if (v->key.proto != proto)
		return 0;
	for (size_t b = 0; b < v->n_be; b++)
		if (cfg->bes[v->first_be + b].addr == p->addr && cfg->bes[v->first_be + b].port == p->port &&
		    !memcmp(cfg->bes[v->first_be + b].addr6, p->addr6, sizeof(p->addr6)))
			return 1;
	return 0;
}

int config_check_pod_ids(const struct config *cfg, size_t from, const char *file, char *err,
			 size_t errlen)
{
	char bs[EP_STR_LEN];

	for (size_t i = from; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		for (size_t b = 0; b < v->n_be; b++) {
			const struct config_backend *cb = &cfg->bes[v->first_be + b];
			unsigned int uses = 0;

			for (size_t j = 0; j < cfg->n_vips && uses <= NOSNAT_POD_IDS; j++)
				uses += serves(cfg, &cfg->vips[j], cb, v->key.proto);
			if (uses > NOSNAT_POD_IDS)
				return checkf(err, errlen, file, cb->line, cb->col, -EMLINK,
					      "backend %s serves more than %d VIP ports of one protocol",
					      ep_str(cb->addr, cb->addr6, cb->port, bs), NOSNAT_POD_IDS);
		}
	}
	return 0;
}
