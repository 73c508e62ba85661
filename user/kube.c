// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kubernetes JSON -> nosnat's view, and the config resolution. Every field
 * is checked for type and range: the API server is trusted, a proxy or a
 * bug in between is not. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "kube.h"
#include "parse.h"

static int bad(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static json_object *field(json_object *o, const char *key, json_type t)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_is_type(v, t) ? v : NULL;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v = field(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* Copy a string that must fit; the empty string when absent. */
static int copy_str(char *dst, size_t len, const char *src)
{
	if (!src) {
		dst[0] = '\0';
		return 0;
	}
	if (strlen(src) >= len)
		return -EINVAL;
	strcpy(dst, src);
	return 0;
}

/* A JSON boolean that defaults when absent (conditions: nil means true). */
static int bool_field(json_object *o, const char *key, int dflt)
{
	json_object *v = field(o, key, json_type_boolean);

	return v ? json_object_get_boolean(v) : dflt;
}

static int port_field(json_object *o, const char *key, __u16 *port)
{
	json_object *v = field(o, key, json_type_int);
	int64_t p;

	if (!v)
		return -ENOENT;
	p = json_object_get_int64(v);
	if (p < 1 || p > 65535)
		return -EINVAL;
	*port = (__u16)p;
	return 0;
}

static __u8 proto_of(const char *s)
{
	if (!s || !strcmp(s, "TCP"))	/* the API defaults to TCP */
		return IPPROTO_TCP;
	if (!strcmp(s, "UDP"))
		return IPPROTO_UDP;
	return 0;
}

int kube_object_key(json_object *o, char *ns, size_t nslen, char *name, size_t namelen)
{
	json_object *md = field(o, "metadata", json_type_object);
	const char *n = str_field(md, "name");

	if (!n || !*n || copy_str(name, namelen, n) || copy_str(ns, nslen, str_field(md, "namespace")))
		return -EINVAL;
	return 0;
}

static int parse_ports(json_object *arr, struct kube_port *ports, size_t *n, int service,
		       char *err, size_t errlen)
{
	size_t len;

	*n = 0;
	if (!arr)
		return 0;
	len = json_object_array_length(arr);
	if (len > KUBE_MAX_PORTS)
		return bad(err, errlen, "%zu ports (at most %d)", len, KUBE_MAX_PORTS);
	for (size_t i = 0; i < len; i++) {
		json_object *p = json_object_array_get_idx(arr, i);
		struct kube_port *kp = &ports[*n];
		json_object *tp;

		memset(kp, 0, sizeof(*kp));
		if (!json_object_is_type(p, json_type_object))
			return bad(err, errlen, "port %zu is not an object", i);
		if (copy_str(kp->name, sizeof(kp->name), str_field(p, "name")))
			return bad(err, errlen, "port %zu: name too long", i);
		if (port_field(p, "port", &kp->port))
			return bad(err, errlen, "port %zu: port missing or out of range", i);
		kp->proto = proto_of(str_field(p, "protocol"));
		if (service) {
			tp = NULL;
			if (json_object_object_get_ex(p, "targetPort", &tp) && tp) {
				if (json_object_is_type(tp, json_type_int)) {
					if (port_field(p, "targetPort", &kp->target_port))
						return bad(err, errlen, "port %zu: targetPort out of range", i);
				} else if (json_object_is_type(tp, json_type_string)) {
					if (copy_str(kp->target_name, sizeof(kp->target_name),
						     json_object_get_string(tp)))
						return bad(err, errlen, "port %zu: targetPort name too long", i);
				} else {
					return bad(err, errlen, "port %zu: targetPort of a wrong type", i);
				}
			} else {
				kp->target_port = kp->port;	/* the API's default */
			}
		}
		(*n)++;
	}
	return 0;
}

int kube_parse_service(json_object *o, struct kube_service *s, char *err, size_t errlen)
{
	json_object *spec = field(o, "spec", json_type_object);
	json_object *ing = field(field(field(o, "status", json_type_object), "loadBalancer",
				       json_type_object), "ingress", json_type_array);

	memset(s, 0, sizeof(*s));
	if (kube_object_key(o, s->ns, sizeof(s->ns), s->name, sizeof(s->name)))
		return bad(err, errlen, "Service without metadata.namespace/name");
	if (!spec)
		return bad(err, errlen, "Service %s/%s without spec", s->ns, s->name);
	if (parse_ports(field(spec, "ports", json_type_array), s->ports, &s->n_ports, 1, err, errlen))
		return -EINVAL;
	/* the first ingress ip of each family (a dual-stack LoadBalancer lists
	 * both); odd addresses are not ours */
	for (size_t i = 0; ing && i < json_object_array_length(ing); i++) {
		const char *ip = str_field(json_object_array_get_idx(ing, i), "ip");
		__u8 a6[16];
		__be32 a;

		if (!ip)
			continue;
		if (!s->lb_ip && !parse_ipv4(ip, &a))
			s->lb_ip = a;
		else if (!addr6_set(s->lb_ip6) && !parse_ipv6(ip, a6) && !config_not_unicast6(a6))
			memcpy(s->lb_ip6, a6, sizeof(a6));
	}
	return 0;
}

int kube_parse_slice(json_object *o, struct kube_slice *s, char *err, size_t errlen)
{
	json_object *labels = field(field(o, "metadata", json_type_object), "labels", json_type_object);
	json_object *eps = field(o, "endpoints", json_type_array);
	const char *at = str_field(o, "addressType");
	size_t n;

	memset(s, 0, sizeof(*s));
	if (kube_object_key(o, s->ns, sizeof(s->ns), s->name, sizeof(s->name)))
		return bad(err, errlen, "EndpointSlice without metadata.namespace/name");
	if (copy_str(s->service, sizeof(s->service), str_field(labels, "kubernetes.io/service-name")) ||
	    !s->service[0])
		return bad(err, errlen, "EndpointSlice %s/%s without a service-name label", s->ns, s->name);
	if (parse_ports(field(o, "ports", json_type_array), s->ports, &s->n_ports, 0, err, errlen))
		return -EINVAL;
	if (!at || (strcmp(at, "IPv4") && strcmp(at, "IPv6")))
		return 0;	/* FQDN slices: nothing for a VIP */
	s->v6 = !strcmp(at, "IPv6");
	n = eps ? json_object_array_length(eps) : 0;
	if (n > KUBE_MAX_ENDPOINTS)
		return bad(err, errlen, "EndpointSlice %s/%s: %zu endpoints (at most %d)", s->ns, s->name,
			   n, KUBE_MAX_ENDPOINTS);
	s->eps = calloc(n ? n : 1, sizeof(*s->eps));
	if (!s->eps)
		return bad(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(eps, i);
		json_object *addrs = field(e, "addresses", json_type_array);
		json_object *cond = field(e, "conditions", json_type_object);
		struct kube_endpoint *ke = &s->eps[s->n_eps];
		const char *a;

		if (!addrs || json_object_array_length(addrs) < 1) {
			s->n_invalid++;
			continue;
		}
		a = json_object_get_string(json_object_array_get_idx(addrs, 0));
		if (!a || (s->v6 ? parse_ipv6(a, ke->addr6) || config_not_unicast6(ke->addr6)
				 : parse_ipv4(a, &ke->addr) || config_not_unicast(ke->addr)) ||
		    copy_str(ke->node, sizeof(ke->node), str_field(e, "nodeName"))) {
			memset(ke, 0, sizeof(*ke));
			s->n_invalid++;
			continue;
		}
		if (s->v6)
			ke->addr = nosnat_addr6_fold(ke->addr6);
		ke->ready = bool_field(cond, "ready", 1);
		ke->serving = bool_field(cond, "serving", ke->ready);
		ke->terminating = bool_field(cond, "terminating", 0);
		s->n_eps++;
	}
	return 0;
}

void kube_slice_free(struct kube_slice *s)
{
	free(s->eps);
	s->eps = NULL;
	s->n_eps = 0;
}

int kube_parse_node(json_object *o, struct kube_node *n, char *err, size_t errlen)
{
	char ns[64];
	json_object *addrs = field(field(o, "status", json_type_object), "addresses", json_type_array);
	size_t len = addrs ? json_object_array_length(addrs) : 0;

	memset(n, 0, sizeof(*n));
	if (kube_object_key(o, ns, sizeof(ns), n->name, sizeof(n->name)))
		return bad(err, errlen, "Node without metadata.name");
	for (size_t i = 0; i < len; i++) {
		json_object *a = json_object_array_get_idx(addrs, i);
		const char *type = str_field(a, "type"), *ip = str_field(a, "address");
		__be32 v;
		__u8 v6[16];

		/* the first InternalIP of each family that is a host's unicast address */
		if (!type || !ip || strcmp(type, "InternalIP"))
			continue;
		if (!n->ip && !parse_ipv4(ip, &v) && !config_not_unicast(v))
			n->ip = v;
		else if (!addr6_set(n->ip6) && !parse_ipv6(ip, v6) && !config_not_unicast6(v6))
			memcpy(n->ip6, v6, sizeof(v6));
	}
	return 0;
}

/* --- resolution ------------------------------------------------------- */

static const struct kube_node *node_named(const struct kube_snapshot *ks, const char *name)
{
	for (size_t i = 0; i < ks->n_nodes; i++)
		if (!strcmp(ks->nodes[i].name, name))
			return &ks->nodes[i];
	return NULL;
}

/* The address of the node a pod of family v6 runs on, as a backend's node
 * (*node; a v6 one in node6, *node its fold), if out knows that node: v4
 * for a v4 pod; for a v6 pod v4 when the Node has an IPv4 address (6in4),
 * else its IPv6 one (ip6ip6). 0, or -ENOENT. */
static int pod_node(const struct config *out, const struct kube_node *kn, int v6, __be32 *node,
		    __u8 *node6)
{
	memset(node6, 0, 16);
	*node = 0;
	if (!kn)
		return -ENOENT;
	if (kn->ip || !v6) {
		*node = kn->ip;
		return kn->ip && config_lists_node(out, kn->ip) ? 0 : -ENOENT;
	}
	if (!addr6_set(kn->ip6) || !config_lists_node6(out, kn->ip6))
		return -ENOENT;
	memcpy(node6, kn->ip6, 16);
	*node = nosnat_addr6_fold(node6);
	return 0;
}

/* The pod port of a Service port on one slice: by port name, as the
 * EndpointSlice controller names slice ports after Service ports. */
static int slice_port(const struct kube_slice *sl, const struct kube_port *sp, __u16 *port)
{
	for (size_t i = 0; i < sl->n_ports; i++)
		if (!strcmp(sl->ports[i].name, sp->name) && sl->ports[i].proto == sp->proto) {
			*port = sl->ports[i].port;
			return 0;
		}
	return -ENOENT;
}

static int add_vip_backends(struct config *out, size_t k, const struct config_kube_service *ks,
			    const struct kube_service *svc, const struct kube_port *sp,
			    const struct vip_key *vip, const struct kube_snapshot *snap, FILE *log,
			    char *err, size_t errlen)
{
	struct vip_key key = *vip;
	struct config_vip *v;
	char a[ADDR_STR_LEN];

	key.port = htons(sp->port);
	key.proto = sp->proto;
	if (out->n_vips >= NOSNAT_MAX_VIPS)
		return bad(err, errlen, "more than %d VIP ports", NOSNAT_MAX_VIPS);
	v = &out->vips[out->n_vips++];
	memset(v, 0, sizeof(*v));
	v->vk = key;
	snprintf(v->name, sizeof(v->name), "%s", ks->label);
	v->first_be = out->n_bes;
	v->line = ks->line;
	v->col = ks->col;
	v->ksvc = (unsigned int)k + 1;
	for (size_t s = 0; s < snap->n_slices; s++) {
		const struct kube_slice *sl = &snap->slices[s];
		__u16 pod_port;

		if (strcmp(sl->ns, svc->ns) || strcmp(sl->service, svc->name) || sl->v6 != !!key.v6)
			continue;	/* a VIP takes the endpoints of its family */
		if (slice_port(sl, sp, &pod_port))
			continue;
		for (size_t e = 0; e < sl->n_eps; e++) {
			const struct kube_endpoint *ep = &sl->eps[e];
			__u16 weight = ep->ready ? 1 : 0;
			__be32 nip;
			__u8 nip6[16];
			const struct kube_node *kn;
			size_t dup;

			if (!ep->ready && !(ep->serving && ep->terminating))
				continue;	/* not ready and not draining */
			kn = node_named(snap, ep->node);
			if (pod_node(out, kn, !!key.v6, &nip, nip6)) {
				config_say(log, "service %s/%s: endpoint %s on %s node '%s' skipped",
					   svc->ns, svc->name, addr_str(ep->addr, ep->addr6, a),
					   kn && !kn->ip && !key.v6 && addr6_set(kn->ip6)
						? "IPv6-only (an IPv4 pod needs an IPv4 node)" : "unknown",
					   ep->node);
				continue;
			}
			for (dup = v->first_be; dup < out->n_bes; dup++)
				if (out->bes[dup].addr == ep->addr &&
				    !memcmp(out->bes[dup].addr6, ep->addr6, sizeof(ep->addr6)))
					break;
			if (dup < out->n_bes) {	/* in two slices: ready wins */
				if (weight)
					out->bes[dup].weight = 1;
				continue;
			}
			if (out->n_bes >= NOSNAT_MAX_BACKENDS)
				return bad(err, errlen, "more than %d backends", NOSNAT_MAX_BACKENDS);
			out->bes[out->n_bes] = (struct config_backend){
				.addr = ep->addr, .node = nip, .port = htons(pod_port), .weight = weight,
				.line = ks->line, .col = ks->col,
			};
			memcpy(out->bes[out->n_bes].node6, nip6, sizeof(nip6));
			memcpy(out->bes[out->n_bes++].addr6, ep->addr6, sizeof(ep->addr6));
		}
	}
	v->n_be = out->n_bes - v->first_be;
	return 0;
}

/* The Service's VIP ports into out. 0, or -errno with why (out then holds
 * part of them: the caller rolls back). */
static int add_service(struct kube_resolve *r, struct config *out, size_t k, const struct kube_service *svc,
		       const struct vip_key *vip, char *why, size_t len)
{
	const struct config_kube_service *ks = &r->base->ksvcs[k];
	char a[ADDR_STR_LEN];

	/* a VIP is no Node's address, listed or not ('nodes' may be static) */
	for (size_t i = 0; i < r->snap->n_nodes; i++)
		if (vip->v6 ? !memcmp(r->snap->nodes[i].ip6, vip->addr6, sizeof(vip->addr6))
			    : r->snap->nodes[i].ip == vip->addr)
			return bad(why, len, "VIP %s is the address of Node %s", vip_addr_str(vip, a),
				   r->snap->nodes[i].name);
	for (size_t i = 0; i < svc->n_ports; i++) {
		const struct kube_port *sp = &svc->ports[i];
		int wanted = !ks->n_ports;

		for (size_t p = 0; p < ks->n_ports && !wanted; p++)
			wanted = htons(sp->port) == ks->ports[p];
		if (!wanted || !sp->proto || (ks->proto && sp->proto != ks->proto))
			continue;
		if (add_vip_backends(out, k, ks, svc, sp, vip, r->snap, r->log, why, len))
			return -EINVAL;
	}
	return 0;
}

/* The VIP ports the Service had in the configuration applied last, if
 * they still fit; 1 when they were added. */
static int add_last_good(struct kube_resolve *r, struct config *out, size_t k)
{
	const struct config_kube_service *ks = &r->base->ksvcs[k];
	const struct config *prev = r->prev;
	size_t vips0 = out->n_vips, bes0 = out->n_bes;
	char why[256];

	if (!prev)
		return 0;
	for (size_t i = 0; i < prev->n_vips; i++) {
		const struct config_vip *pv = &prev->vips[i];
		const struct config_kube_service *pks;
		struct config_vip *v;

		if (!pv->ksvc || pv->ksvc > prev->n_ksvcs)
			continue;
		pks = &prev->ksvcs[pv->ksvc - 1];
		if (strcmp(pks->ns, ks->ns) || strcmp(pks->name, ks->name))
			continue;
		if (out->n_vips >= NOSNAT_MAX_VIPS || out->n_bes + pv->n_be > NOSNAT_MAX_BACKENDS)
			goto none;
		v = &out->vips[out->n_vips++];
		*v = *pv;
		v->ksvc = (unsigned int)k + 1;
		v->first_be = out->n_bes;
		memcpy(&out->bes[out->n_bes], &prev->bes[pv->first_be], pv->n_be * sizeof(out->bes[0]));
		out->n_bes += pv->n_be;
	}
	if (out->n_vips == vips0)
		return 0;
	if (!config_check_vips(out, vips0, r->node_ip, r->node_ip6, NULL, why, sizeof(why)) &&
	    !config_check_pod_ids(out, vips0, NULL, why, sizeof(why)))
		return 1;
none:
	out->n_vips = vips0;
	out->n_bes = bes0;
	return 0;
}

int kube_resolve(struct kube_resolve *r, struct config *out, char *err, size_t errlen)
{
	const struct config *base = r->base;
	const struct kube_snapshot *snap = r->snap;
	FILE *log = r->log;
	char a[2 * ADDR_STR_LEN];

	memcpy(out, base, sizeof(*out));
	r->rejected = 0;
	for (size_t i = 0; i < snap->n_nodes; i++)
		if (!snap->nodes[i].ip && !addr6_set(snap->nodes[i].ip6))
			config_say(log, "node %s: no InternalIP that is a host's unicast address, skipped",
				   snap->nodes[i].name);
	if (base->nodes_from_kube) {
		out->n_nodes = 0;
		out->n_nodes6 = 0;
		for (size_t i = 0; i < snap->n_nodes; i++) {
			const struct kube_node *kn = &snap->nodes[i];

			if (kn->ip && !config_lists_node(out, kn->ip) && out->n_nodes < NOSNAT_MAX_NODES)
				out->nodes[out->n_nodes++] = kn->ip;
			if (addr6_set(kn->ip6) && !config_lists_node6(out, kn->ip6) &&
			    out->n_nodes6 < NOSNAT_MAX_NODES)
				memcpy(out->nodes6[out->n_nodes6++].addr, kn->ip6, sizeof(kn->ip6));
		}
		/* static backends must still be on known nodes */
		for (size_t b = 0; b < out->n_bes; b++) {
			const struct config_backend *cb = &out->bes[b];
			int known = addr6_set(cb->node6)
				? config_lists_node6(out, cb->node6) ||
				  (out->has_node6 && !memcmp(out->node6, cb->node6, sizeof(cb->node6)))
				: config_lists_node(out, cb->node) || (out->has_node && out->node == cb->node);

			if (!known)
				return bad(err, errlen, "line %u: backend's node is not a Kubernetes node",
					   cb->line);
		}
	}
	/* Each Service on its own: one that breaks a rule (a VIP that is a
	 * node's address, more local endpoints than the dataplane holds, a
	 * VIP port twice ...) is skipped, keeping the state applied last for
	 * it; the others are applied. */
	for (size_t k = 0; k < base->n_ksvcs; k++) {
		const struct config_kube_service *ks = &base->ksvcs[k];
		const struct kube_service *svc = NULL;
		size_t vips0 = out->n_vips, bes0 = out->n_bes;
		char why[256] = "";
		struct vip_key vips[2] = { { .addr = 0 }, { .v6 = NOSNAT_VIP_ID_V6 } };
		int rc = 0;

		for (size_t i = 0; i < snap->n_svcs; i++)
			if (!strcmp(snap->svcs[i].ns, ks->ns) && !strcmp(snap->svcs[i].name, ks->name))
				svc = &snap->svcs[i];
		if (!svc) {
			config_say(log, "service %s/%s: not found in Kubernetes", ks->ns, ks->name);
			continue;
		}
		/* the VIPs the file gives, else the LoadBalancer's of each family */
		vips[0].addr = ks->vip;
		memcpy(vips[1].addr6, ks->vip6, sizeof(ks->vip6));
		if (!ks->vip && !addr6_set(ks->vip6)) {
			vips[0].addr = svc->lb_ip;
			memcpy(vips[1].addr6, svc->lb_ip6, sizeof(svc->lb_ip6));
		}
		if (addr6_set(vips[1].addr6))
			vips[1].addr = nosnat_addr6_fold(vips[1].addr6);
		if (!vips[0].addr && !vips[1].addr) {
			config_say(log, "service %s/%s: no VIP yet (no status.loadBalancer.ingress ip)", ks->ns,
			      ks->name);
			continue;
		}
		for (size_t p = 0; p < ks->n_ports; p++) {
			int found = 0;

			for (size_t i = 0; i < svc->n_ports && !found; i++)
				found = htons(svc->ports[i].port) == ks->ports[p] && svc->ports[i].proto &&
					(!ks->proto || svc->ports[i].proto == ks->proto);
			if (!found)
				config_say(log, "service %s/%s: has no port %u", ks->ns, ks->name,
				      ntohs(ks->ports[p]));
		}
		for (int f = 0; f < 2 && !rc; f++)
			if (vips[f].addr)
				rc = add_service(r, out, k, svc, &vips[f], why, sizeof(why));
		if (!rc)
			rc = config_check_vips(out, vips0, r->node_ip, r->node_ip6, NULL, why, sizeof(why));
		if (!rc)
			rc = config_check_pod_ids(out, vips0, NULL, why, sizeof(why));
		if (!rc)
			continue;
		out->n_vips = vips0;
		out->n_bes = bes0;
		r->rejected++;
		if (vips[0].addr && vips[1].addr) {
			char a6[ADDR_STR_LEN];

			snprintf(a, sizeof(a), "%s", ip_str(vips[0].addr, a6));
			snprintf(a + strlen(a), sizeof(a) - strlen(a), ", %s", vip_addr_str(&vips[1], a6));
		} else {
			vip_addr_str(vips[0].addr ? &vips[0] : &vips[1], a);
		}
		config_say(log, "service %s/%s (VIP %s) skipped: %s; %s", ks->ns, ks->name, a, why,
			   add_last_good(r, out, k) ? "its last applied state stays" : "nothing applied for it");
	}
	return 0;
}
