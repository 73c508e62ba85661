// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Rendering of the configuration and the counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "names.h"
#include "parse.h"
#include "mapio.h"
#include "scratch.h"
#include "show.h"

/* JSON through json-c: values escaped and numbers written by the library. */
static void jput(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *jaddr(__be32 addr)
{
	char a[INET_ADDRSTRLEN];

	return json_object_new_string(ip_str(addr, a));
}

/* An address of either family (a6 set: v6), as text. */
static json_object *jaddr_any(__be32 addr, const __u8 *a6)
{
	char a[ADDR_STR_LEN];

	return json_object_new_string(addr_str(addr, a6, a));
}

/* A VIP port's object begins with "vip", "port", "proto". */
static json_object *jvip(const struct vip_key *k)
{
	json_object *e = json_object_new_object();

	jput(e, "vip", jaddr_any(k->addr, k->addr6));
	jput(e, "port", json_object_new_int(ntohs(k->port)));
	jput(e, "proto", json_object_new_string(proto_name(k->proto)));
	return e;
}

/* One line of JSON on f; o is freed. */
static int json_print(FILE *f, json_object *o)
{
	const char *txt = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	int rc = txt ? 0 : -ENOMEM;

	if (txt)
		fprintf(f, "%s\n", txt);
	json_object_put(o);
	return rc;
}

/* A slot's node address, either family. */
static json_object *jnode(const struct state *s, __u32 id)
{
	char a[ADDR_STR_LEN];

	return json_object_new_string(state_be_node_str(s, id, a));
}

static json_object *list_backends_json(const struct state *s, __u32 vip_id)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < NOSNAT_MAX_BACKENDS; i++) {
		const struct nosnat_backend *b = &s->be[i];
		json_object *o;

		if (!(b->flags & NOSNAT_BE_IN_USE) || b->vip_id != vip_id)
			continue;
		o = json_object_new_object();
		jput(o, "id", json_object_new_int(i));
		jput(o, "address", jaddr_any(b->addr, s->be6[i].addr));
		jput(o, "port", json_object_new_int(ntohs(b->port)));
		jput(o, "node", jnode(s, (__u32)i));
		jput(o, "weight", json_object_new_int(b->weight));
		jput(o, "local", json_object_new_boolean(state_be_local(s, (__u32)i)));
		json_object_array_add(arr, o);
	}
	return arr;
}

static int cmp_vip(const void *x, const void *y)
{
	return vip_key_cmp(&((const struct vip_entry *)x)->vk, &((const struct vip_entry *)y)->vk);
}

static void sorted_vips(const struct state *s, struct vip_entry *out)
{
	memcpy(out, s->vips, s->n_vips * sizeof(*out));
	qsort(out, s->n_vips, sizeof(*out), cmp_vip);
}

/* Column widths of the human listings: at least the v4 ones (VIP 26,
 * BACKEND 22, NODE 16), wider when a v6 VIP, backend or node needs it. */
struct widths {
	int vip, be, node;
};

static struct widths col_widths(const struct state *s)
{
	struct widths w = { 26, 22, 16 };
	char buf[VIP_STR_LEN];
	int n;

	for (__u32 b = 0; b < NOSNAT_MAX_BACKENDS; b++)
		if ((s->be[b].flags & NOSNAT_BE_IN_USE) &&
		    (n = (int)strlen(state_be_node_str(s, b, buf))) + 1 > w.node)
			w.node = n + 1;

	for (size_t i = 0; i < s->n_vips; i++)
		if ((n = (int)strlen(vip_str(&s->vips[i].vk, buf))) > w.vip)
			w.vip = n;
	for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++)
		if ((s->be[b].flags & NOSNAT_BE_IN_USE) &&
		    (n = (int)strlen(ep_str(s->be[b].addr, s->be6[b].addr, s->be[b].port, buf))) > w.be)
			w.be = n;
	return w;
}

static int cmp_be32(const void *x, const void *y)
{
	__u32 a = ntohl(*(const __be32 *)x), b = ntohl(*(const __be32 *)y);

	return a < b ? -1 : a > b;
}

static int cmp_addr6(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(struct nosnat_be6));
}

void show_list(FILE *f, const struct state *s, int json)
{
	struct vip_entry *v = s->tmp->show_vips;
	__be32 nodes[NOSNAT_MAX_NODES];
	struct nosnat_be6 nodes6[NOSNAT_MAX_NODES];
	char a[ADDR_STR_LEN], n[ADDR_STR_LEN], vs[VIP_STR_LEN];
	struct widths w = col_widths(s);
	int v6 = addr6_set(s->cfg.node_ip6);

	sorted_vips(s, v);
	memcpy(nodes, s->nodes, s->n_nodes * sizeof(nodes[0]));
	qsort(nodes, s->n_nodes, sizeof(nodes[0]), cmp_be32);
	memcpy(nodes6, s->nodes6, s->n_nodes6 * sizeof(nodes6[0]));
	qsort(nodes6, s->n_nodes6, sizeof(nodes6[0]), cmp_addr6);
	if (json) {
		json_object *o = json_object_new_object(), *ns = json_object_new_array(),
			    *vs_arr = json_object_new_array();

		/* a node of an IPv6-only node network has no v4 address: "" */
		jput(o, "node", s->cfg.node_ip ? jaddr(s->cfg.node_ip) : json_object_new_string(""));
		jput(o, "node_ip6", json_object_new_string(v6 ? addr_str(0, s->cfg.node_ip6, a) : ""));
		jput(o, "ifindex", json_object_new_int64(s->cfg.ifindex));
		jput(o, "mtu", json_object_new_int64(s->cfg.mtu));
		jput(o, "encap", json_object_new_string(encap_name(s->cfg.encap)));
		jput(o, "decap", json_object_new_string(decap_name(s->cfg.decap)));
		jput(o, "gue_port", json_object_new_int64(ntohs(s->cfg.gue_port)));
		for (size_t i = 0; i < s->n_nodes; i++)
			json_object_array_add(ns, jaddr(nodes[i]));
		for (size_t i = 0; i < s->n_nodes6; i++)	/* v6 nodes after v4 ones */
			json_object_array_add(ns, json_object_new_string(addr_str(0, nodes6[i].addr, a)));
		jput(o, "nodes", ns);
		for (size_t i = 0; i < s->n_vips; i++) {
			json_object *e = jvip(&v[i].vk);

			jput(e, "id", json_object_new_int64(v[i].val.id));
			jput(e, "active", json_object_new_int64(v[i].val.active));
			jput(e, "backends", list_backends_json(s, v[i].val.id));
			json_object_array_add(vs_arr, e);
		}
		jput(o, "vips", vs_arr);
		json_print(f, o);
		return;
	}
	if (s->cfg.node_ip) {
		fprintf(f, "node %s", ip_str(s->cfg.node_ip, a));
		if (v6)
			fprintf(f, ", %s", addr_str(0, s->cfg.node_ip6, a));
	} else {		/* an IPv6-only node network */
		fprintf(f, "node %s", v6 ? addr_str(0, s->cfg.node_ip6, a) : "(none)");
	}
	fprintf(f, " (ifindex %u, mtu %u, sends %s, takes %s off, GUE port %u)\n", s->cfg.ifindex,
		s->cfg.mtu, encap_name(s->cfg.encap), decap_name(s->cfg.decap), ntohs(s->cfg.gue_port));
	fprintf(f, "nodes:");
	for (size_t i = 0; i < s->n_nodes; i++)
		fprintf(f, " %s", ip_str(nodes[i], a));
	for (size_t i = 0; i < s->n_nodes6; i++)
		fprintf(f, " %s", addr_str(0, nodes6[i].addr, a));
	fprintf(f, "%s\n", s->n_nodes + s->n_nodes6 ? "" : " (none)");
	fprintf(f, "%-*s %-*s %-*s %6s %s\n", w.vip, "VIP", w.be, "BACKEND", w.node, "NODE", "WEIGHT", "");
	for (size_t i = 0; i < s->n_vips; i++) {
		int any = 0;

		vip_str(&v[i].vk, vs);
		for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];
			char bp[EP_STR_LEN];

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v[i].val.id)
				continue;
			ep_str(be->addr, s->be6[b].addr, be->port, bp);
			fprintf(f, "%-*s %-*s %-*s %6u %s\n", w.vip, any ? "" : vs, w.be, bp, w.node,
				state_be_node_str(s, (__u32)b, n), be->weight, state_be_local(s, (__u32)b) ? "local" :
				!be->weight ? "draining" : "");
			any = 1;
		}
		if (!any)
			fprintf(f, "%-*s %-*s\n", w.vip, vs, w.be, "(no backends)");
	}
}

/* The way the dataplane runs, as cfg's flags say (names.h). */
static json_object *dataplane_json(const struct nosnat_cfg *cfg)
{
	json_object *o = json_object_new_object();

	jput(o, "hook", json_object_new_string(cfg_hook_name(cfg->flags)));
	jput(o, "xdp_metadata", json_object_new_boolean(cfg_xdp_metadata(cfg->flags)));
	jput(o, "encap", json_object_new_string(encap_name(cfg->encap)));
	return o;
}

/* Counters as one JSON object: the dataplane's mode, verdicts, VIPs,
 * backends. */
static int show_stats_json(FILE *f, const struct nosnat_maps *m, const struct state *s,
			   const struct vip_entry *v)
{
	json_object *o = json_object_new_object(), *verdicts = json_object_new_array(),
		    *vips = json_object_new_array(), *bes = json_object_new_array();
	uint64_t c[3];
	int rc = 0;

	jput(o, "dataplane", dataplane_json(&s->cfg));
	jput(o, "verdicts", verdicts);
	jput(o, "vips", vips);
	jput(o, "backends", bes);
	for (__u32 h = 0; !rc && h < NOSNAT_HOOK_MAX; h++)
		for (__u32 act = 0; !rc && act < NOSNAT_ACT_MAX; act++)
			for (__u32 r = 0; !rc && r < NOSNAT_R_MAX; r++) {
				json_object *e;

				rc = percpu_sum(m->stats, nosnat_stat_slot(h, act, r), 2, c);
				if (rc || !c[0])
					continue;
				e = json_object_new_object();
				jput(e, "hook", json_object_new_string(hook_name(h)));
				jput(e, "action", json_object_new_string(action_name(act)));
				jput(e, "reason", json_object_new_string(reason_name(r)));
				jput(e, "packets", json_object_new_uint64(c[0]));
				jput(e, "bytes", json_object_new_uint64(c[1]));
				json_object_array_add(verdicts, e);
			}
	for (size_t i = 0; !rc && i < s->n_vips; i++) {
		json_object *e;

		rc = percpu_sum(m->vip_stat, v[i].val.id, 3, c);
		if (rc)
			break;
		e = jvip(&v[i].vk);
		jput(e, "packets", json_object_new_uint64(c[0]));
		jput(e, "bytes", json_object_new_uint64(c[1]));
		jput(e, "flows", json_object_new_uint64(c[2]));
		json_object_array_add(vips, e);
	}
	for (size_t i = 0; !rc && i < s->n_vips; i++)
		for (__u32 b = 0; !rc && b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];
			json_object *e;

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v[i].val.id)
				continue;
			rc = percpu_sum(m->be_stat, b, 2, c);
			if (rc)
				break;
			e = jvip(&v[i].vk);
			jput(e, "backend", jaddr_any(be->addr, s->be6[b].addr));
			jput(e, "backend_port", json_object_new_int(ntohs(be->port)));
			jput(e, "node", jnode(s, b));
			jput(e, "packets", json_object_new_uint64(c[0]));
			jput(e, "bytes", json_object_new_uint64(c[1]));
			json_object_array_add(bes, e);
		}
	if (rc) {
		json_object_put(o);
		return rc;
	}
	return json_print(f, o);
}

int show_stats(FILE *f, const struct nosnat_maps *m, const struct state *s, int json)
{
	struct vip_entry *v = s->tmp->show_vips;
	char n[ADDR_STR_LEN], vs[VIP_STR_LEN];
	struct widths w = col_widths(s);
	uint64_t c[3];
	int rc;

	sorted_vips(s, v);
	if (json)
		return show_stats_json(f, m, s, v);
	fprintf(f, "dataplane: hook %s, XDP metadata hand-off %s\n\n", cfg_hook_name(s->cfg.flags),
		cfg_xdp_metadata(s->cfg.flags) ? "yes" : "no");
	fprintf(f, "%-11s %-10s %-18s %14s %16s\n", "HOOK", "ACTION", "REASON", "PACKETS", "BYTES");
	for (__u32 h = 0; h < NOSNAT_HOOK_MAX; h++)
		for (__u32 act = 0; act < NOSNAT_ACT_MAX; act++)
			for (__u32 r = 0; r < NOSNAT_R_MAX; r++) {
				rc = percpu_sum(m->stats, nosnat_stat_slot(h, act, r), 2, c);
				if (rc)
					return rc;
				if (c[0])
					fprintf(f, "%-11s %-10s %-18s %14" PRIu64 " %16" PRIu64 "\n",
						hook_name(h), action_name(act), reason_name(r), c[0], c[1]);
			}
	fprintf(f, "\n%-*s %14s %16s %10s\n", w.vip, "VIP", "PACKETS", "BYTES", "FLOWS");
	for (size_t i = 0; i < s->n_vips; i++) {
		rc = percpu_sum(m->vip_stat, v[i].val.id, 3, c);
		if (rc)
			return rc;
		fprintf(f, "%-*s %14" PRIu64 " %16" PRIu64 " %10" PRIu64 "\n", w.vip, vip_str(&v[i].vk, vs),
			c[0], c[1], c[2]);
	}
	fprintf(f, "\n%-*s %-*s %-*s %14s %16s\n", w.vip, "VIP", w.be, "BACKEND", w.node, "NODE", "PACKETS",
		"BYTES");
	for (size_t i = 0; i < s->n_vips; i++) {
		for (__u32 b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];
			char bp[EP_STR_LEN];

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v[i].val.id)
				continue;
			rc = percpu_sum(m->be_stat, b, 2, c);
			if (rc)
				return rc;
			ep_str(be->addr, s->be6[b].addr, be->port, bp);
			fprintf(f, "%-*s %-*s %-*s %14" PRIu64 " %16" PRIu64 "\n", w.vip, vip_str(&v[i].vk, vs), w.be,
				bp, w.node, state_be_node_str(s, b, n), c[0], c[1]);
		}
	}
	return 0;
}
