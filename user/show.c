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
#include "names.h"
#include "parse.h"
#include "mapio.h"
#include "scratch.h"
#include "show.h"

static void list_backends_json(FILE *f, const struct state *s, __u32 vip_id)
{
	char a[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];
	int first = 1;

	fprintf(f, "[");
	for (int i = 0; i < NOSNAT_MAX_BACKENDS; i++) {
		const struct nosnat_backend *b = &s->be[i];

		if (!(b->flags & NOSNAT_BE_IN_USE) || b->vip_id != vip_id)
			continue;
		fprintf(f, "%s{\"id\":%d,\"address\":\"%s\",\"port\":%u,\"node\":\"%s\","
			"\"weight\":%u,\"local\":%s}", first ? "" : ",", i, ip_str(b->addr, a),
			ntohs(b->port), ip_str(b->node, n), b->weight,
			b->node == s->cfg.node_ip ? "true" : "false");
		first = 0;
	}
	fprintf(f, "]");
}

static int cmp_vip(const void *x, const void *y)
{
	return vip_key_cmp(&((const struct vip_entry *)x)->key, &((const struct vip_entry *)y)->key);
}

static void sorted_vips(const struct state *s, struct vip_entry *out)
{
	memcpy(out, s->vips, s->n_vips * sizeof(*out));
	qsort(out, s->n_vips, sizeof(*out), cmp_vip);
}

static int cmp_be32(const void *x, const void *y)
{
	__u32 a = ntohl(*(const __be32 *)x), b = ntohl(*(const __be32 *)y);

	return a < b ? -1 : a > b;
}

void show_list(FILE *f, const struct state *s, int json)
{
	struct vip_entry *v = s->tmp->show_vips;
	__be32 nodes[NOSNAT_MAX_NODES];
	char a[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN], vs[32];

	sorted_vips(s, v);
	memcpy(nodes, s->nodes, s->n_nodes * sizeof(nodes[0]));
	qsort(nodes, s->n_nodes, sizeof(nodes[0]), cmp_be32);
	if (json) {
		fprintf(f, "{\"node\":\"%s\",\"ifindex\":%u,\"mtu\":%u,\"nodes\":[",
			ip_str(s->cfg.node_ip, a), s->cfg.ifindex, s->cfg.mtu);
		for (size_t i = 0; i < s->n_nodes; i++)
			fprintf(f, "%s\"%s\"", i ? "," : "", ip_str(nodes[i], a));
		fprintf(f, "],\"vips\":[");
		for (size_t i = 0; i < s->n_vips; i++) {
			fprintf(f, "%s{\"vip\":\"%s\",\"port\":%u,\"proto\":\"%s\",\"id\":%u,"
				"\"active\":%u,\"backends\":", i ? "," : "", ip_str(v[i].key.addr, a),
				ntohs(v[i].key.port), proto_name(v[i].key.proto), v[i].val.id,
				v[i].val.active);
			list_backends_json(f, s, v[i].val.id);
			fprintf(f, "}");
		}
		fprintf(f, "]}\n");
		return;
	}
	fprintf(f, "node %s (ifindex %u, mtu %u)\n", ip_str(s->cfg.node_ip, a), s->cfg.ifindex,
		s->cfg.mtu);
	fprintf(f, "nodes:");
	for (size_t i = 0; i < s->n_nodes; i++)
		fprintf(f, " %s", ip_str(nodes[i], a));
	fprintf(f, "%s\n", s->n_nodes ? "" : " (none)");
	fprintf(f, "%-26s %-22s %-16s %6s %s\n", "VIP", "BACKEND", "NODE", "WEIGHT", "");
	for (size_t i = 0; i < s->n_vips; i++) {
		int any = 0;

		vip_str(&v[i].key, vs);
		for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];
			char bp[32];

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v[i].val.id)
				continue;
			snprintf(bp, sizeof(bp), "%s:%u", ip_str(be->addr, a), ntohs(be->port));
			fprintf(f, "%-26s %-22s %-16s %6u %s\n", any ? "" : vs, bp, ip_str(be->node, n),
				be->weight, be->node == s->cfg.node_ip ? "local" :
				!be->weight ? "draining" : "");
			any = 1;
		}
		if (!any)
			fprintf(f, "%-26s %-22s\n", vs, "(no backends)");
	}
}

int show_stats(FILE *f, const struct nosnat_maps *m, const struct state *s, int json)
{
	struct vip_entry *v = s->tmp->show_vips;
	char a[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN], vs[32];
	int first = 1, rc;
	uint64_t c[3];

	sorted_vips(s, v);
	fprintf(f, json ? "{\"verdicts\":[" : "%-11s %-10s %-18s %14s %16s\n", "HOOK", "ACTION",
		"REASON", "PACKETS", "BYTES");
	for (__u32 h = 0; h < NOSNAT_HOOK_MAX; h++)
		for (__u32 act = 0; act < NOSNAT_ACT_MAX; act++)
			for (__u32 r = 0; r < NOSNAT_R_MAX; r++) {
				rc = percpu_sum(m->stats, nosnat_stat_slot(h, act, r), 2, c);
				if (rc)
					return rc;
				if (!c[0])
					continue;
				if (json)
					fprintf(f, "%s{\"hook\":\"%s\",\"action\":\"%s\",\"reason\":\"%s\","
						"\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
						first ? "" : ",", hook_name(h), action_name(act),
						reason_name(r), c[0], c[1]);
				else
					fprintf(f, "%-11s %-10s %-18s %14" PRIu64 " %16" PRIu64 "\n",
						hook_name(h), action_name(act), reason_name(r), c[0], c[1]);
				first = 0;
			}
	fprintf(f, json ? "],\"vips\":[" : "\n%-26s %14s %16s %10s\n", "VIP", "PACKETS", "BYTES",
		"FLOWS");
	for (size_t i = 0; i < s->n_vips; i++) {
		rc = percpu_sum(m->vip_stat, v[i].val.id, 3, c);
		if (rc)
			return rc;
		if (json)
			fprintf(f, "%s{\"vip\":\"%s\",\"port\":%u,\"proto\":\"%s\",\"packets\":%" PRIu64
				",\"bytes\":%" PRIu64 ",\"flows\":%" PRIu64 "}", i ? "," : "",
				ip_str(v[i].key.addr, a), ntohs(v[i].key.port),
				proto_name(v[i].key.proto), c[0], c[1], c[2]);
		else
			fprintf(f, "%-26s %14" PRIu64 " %16" PRIu64 " %10" PRIu64 "\n",
				vip_str(&v[i].key, vs), c[0], c[1], c[2]);
	}
	fprintf(f, json ? "],\"backends\":[" : "\n%-26s %-22s %-16s %14s %16s\n", "VIP", "BACKEND",
		"NODE", "PACKETS", "BYTES");
	first = 1;
	for (size_t i = 0; i < s->n_vips; i++) {
		for (__u32 b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];
			char bp[32];

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v[i].val.id)
				continue;
			rc = percpu_sum(m->be_stat, b, 2, c);
			if (rc)
				return rc;
			snprintf(bp, sizeof(bp), "%s:%u", ip_str(be->addr, a), ntohs(be->port));
			if (json)
				fprintf(f, "%s{\"vip\":\"%s\",\"port\":%u,\"proto\":\"%s\","
					"\"backend\":\"%s\",\"backend_port\":%u,\"node\":\"%s\","
					"\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
					first ? "" : ",", ip_str(v[i].key.addr, vs), ntohs(v[i].key.port),
					proto_name(v[i].key.proto), ip_str(be->addr, a), ntohs(be->port),
					ip_str(be->node, n), c[0], c[1]);
			else
				fprintf(f, "%-26s %-22s %-16s %14" PRIu64 " %16" PRIu64 "\n",
					vip_str(&v[i].key, vs), bp, ip_str(be->node, n), c[0], c[1]);
			first = 0;
		}
	}
	if (json)
		fprintf(f, "]}\n");
	return 0;
}
