// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Metrics: names prefixed nosnat_, base units, _total only on counters,
 * HELP and TYPE on every family, every drop reason present even at zero. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mapio.h"
#include "metrics.h"

#define NOSNAT_ABI_STR_(x) #x
#define NOSNAT_ABI_STR_X(x) NOSNAT_ABI_STR_(x)
#define NOSNAT_ABI_STR NOSNAT_ABI_STR_X(NOSNAT_ABI_VERSION)
#include "names.h"
#include "parse.h"

/* Entries in a hash map: batched walk, falling back to key by key. */
static uint64_t count_entries(int fd, size_t key_size, size_t value_size)
{
	enum { BATCH = 4096 };
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 in = 0, out = 0, total = 0;
	void *inp = NULL, *buf = NULL;
	__u8 k[64], nk[64];	/* the largest key: nosnat_flows6's (40 bytes) */
	void *prev = NULL;

	if (key_size > sizeof(k))
		return 0;
	if (key_size <= 16 && value_size <= 16)
		buf = malloc(2 * BATCH * 16);	/* keys, then values */
	while (buf) {
		__u32 count = BATCH;
		int rc = bpf_map_lookup_batch(fd, inp, &out, buf, (__u8 *)buf + BATCH * 16, &count,
					      &opts);

		if (rc && errno != ENOENT)
			break;
		total += count;
		if (rc) {	/* ENOENT: that was the last batch */
			free(buf);
			return total;
		}
		in = out;
		inp = &in;
	}
	free(buf);
	total = 0;
	while (!bpf_map_get_next_key(fd, prev, nk)) {
		total++;
		memcpy(k, nk, key_size);
		prev = k;
	}
	return total;
}

int metrics_collect(const struct nosnat_maps *m, const struct state *s, struct metrics *mx)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	uint64_t c[3];
	__u32 zero = 0;
	int rc;

	mx->n_vips = mx->n_bes = 0;
	for (__u32 h = 0; h < NOSNAT_HOOK_MAX; h++)
		for (__u32 a = 0; a < NOSNAT_ACT_MAX; a++)
			for (__u32 r = 0; r < NOSNAT_R_MAX; r++) {
				rc = percpu_sum(m->stats, nosnat_stat_slot(h, a, r), 2, c);
				if (rc)
					return rc;
				mx->verdict[h][a][r][0] = c[0];
				mx->verdict[h][a][r][1] = c[1];
			}
	for (size_t i = 0; i < s->n_vips; i++) {
		struct metrics_vip *v = &mx->vips[mx->n_vips++];
		const struct vip_entry *e = &s->vips[i];

		memset(v, 0, sizeof(*v));
		v->key = e->vk;
		memcpy(v->name, e->name, sizeof(v->name));
		rc = percpu_sum(m->vip_stat, e->val.id, 3, c);
		if (rc)
			return rc;
		v->packets = c[0];
		v->bytes = c[1];
		v->flows = c[2];
		for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS; id++) {
			const struct nosnat_backend *b = &s->be[id];
			struct metrics_backend *mb;

			if (!(b->flags & NOSNAT_BE_IN_USE) || b->vip_id != e->val.id)
				continue;
			v->backends++;
			v->active += b->weight > 0;
			mb = &mx->bes[mx->n_bes++];
			memset(mb, 0, sizeof(*mb));
			mb->vip = e->vk;
			mb->addr = b->addr;
			memcpy(mb->addr6, s->be6[id].addr, sizeof(mb->addr6));
			mb->node = b->node;
			if (b->flags & NOSNAT_BE_NODE6)
				memcpy(mb->node6, s->be_node6[id].addr, sizeof(mb->node6));
			mb->port = b->port;
			rc = percpu_sum(m->be_stat, id, 2, c);
			if (rc)
				return rc;
			mb->packets = c[0];
			mb->bytes = c[1];
		}
	}
	mx->flows = count_entries(m->flows, sizeof(struct nosnat_flow_key), sizeof(struct nosnat_flow));
	{
		long hs = hs_count(m->flows_new);

		mx->flows_new = hs > 0 ? (uint64_t)hs : 0;
	}
	for (__u32 r = 0; r < NOSNAT_R_MAX; r++) {
		rc = percpu_sum(m->flow_ev, r, 1, c);
		if (rc)
			return rc;
		mx->flow_events[r] = c[0];
	}
	mx->pods = count_entries(m->pods, sizeof(struct nosnat_pod_key), sizeof(struct nosnat_pod)) +
		   count_entries(m->pods6, sizeof(struct nosnat_pod6_key), sizeof(struct nosnat_pod6));
	if (!bpf_obj_get_info_by_fd(m->flows, &info, &info_len))
		mx->flows_max = info.max_entries;
	mx->flows6 = count_entries(m->flows6, sizeof(struct nosnat_flow6_key), sizeof(struct nosnat_flow));
	memset(&info, 0, sizeof(info));
	info_len = sizeof(info);
	if (!bpf_obj_get_info_by_fd(m->flows6, &info, &info_len))
		mx->flows6_max = info.max_entries;
	{
		long hs = hs6_count(m->flow6_new);

		mx->flows6_new = hs > 0 ? (uint64_t)hs : 0;
	}
	mx->flows6_new_max = NOSNAT_NEW_FLOW6_ENTRIES;	/* sets x ways */
	mx->cfg_flags = s->cfg.flags;
	mx->cfg_encap = s->cfg.encap;
	mx->cfg_decap = s->cfg.decap;
	memset(&mx->ctl, 0, sizeof(mx->ctl));
	bpf_map_lookup_elem(m->ctl, &zero, &mx->ctl);
	return 0;
}

/* Label values: escape backslash, double quote and newline. */
static void label(FILE *f, const char *name, const char *value, int first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void vip_labels(FILE *f, const struct vip_key *k, const char *service)
{
	char a[ADDR_STR_LEN], port[8];

	snprintf(port, sizeof(port), "%u", ntohs(k->port));
	label(f, "vip", vip_addr_str(k, a), 1);
	label(f, "port", port, 0);
	label(f, "proto", proto_name(k->proto), 0);
	if (service)
		label(f, "service", service, 0);
}

static int cmp_vip(const void *x, const void *y)
{
	return vip_key_cmp(&((const struct metrics_vip *)x)->key, &((const struct metrics_vip *)y)->key);
}

static int cmp_be(const void *x, const void *y)
{
	const struct metrics_backend *a = x, *b = y;
	int c = vip_key_cmp(&a->vip, &b->vip);

	if (c)
		return c;
	c = memcmp(a->addr6, b->addr6, sizeof(a->addr6));
	if (c)
		return c;
	if (a->addr != b->addr)
		return ntohl(a->addr) < ntohl(b->addr) ? -1 : 1;
	return ntohs(a->port) - ntohs(b->port);
}

static int is_flow_event(unsigned int r)
{
	return reason_kind(r) == REASON_FLOW;
}

static int is_drop_reason(unsigned int r)
{
	return reason_kind(r) == REASON_DROP;
}

enum vip_field { VF_PACKETS, VF_BYTES, VF_FLOWS, VF_BACKENDS, VF_ACTIVE };

static uint64_t vip_value(const struct metrics_vip *v, enum vip_field field)
{
	switch (field) {
	case VF_PACKETS: return v->packets;
	case VF_BYTES: return v->bytes;
	case VF_FLOWS: return v->flows;
	case VF_BACKENDS: return v->backends;
	default: return v->active;
	}
}

static void vip_family(FILE *f, const char *name, const char *type, const char *help,
		       const struct metrics_vip *vips, size_t n, enum vip_field field)
{
	family(f, name, type, help);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s{", name);
		vip_labels(f, &vips[i].key, vips[i].name);
		fprintf(f, "} %llu\n", (unsigned long long)vip_value(&vips[i], field));
	}
}

static void backend_family(FILE *f, const char *name, const char *help,
			   const struct metrics_backend *bes, size_t n, int bytes)
{
	char node[ADDR_STR_LEN], bp[EP_STR_LEN];

	family(f, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		ep_str(bes[i].addr, bes[i].addr6, bes[i].port, bp);
		fprintf(f, "%s{", name);
		vip_labels(f, &bes[i].vip, NULL);
		label(f, "backend", bp, 0);
		label(f, "node", addr_str(bes[i].node, bes[i].node6, node), 0);
		fprintf(f, "} %llu\n", (unsigned long long)(bytes ? bes[i].bytes : bes[i].packets));
	}
}

/* Sum over reasons, one series per hook and action. */
static void hook_action_family(FILE *f, const char *name, const char *help,
			       const struct metrics *mx, int bytes)
{
	family(f, name, "counter", help);
	for (unsigned int h = 0; h < NOSNAT_HOOK_MAX; h++)
		for (unsigned int act = 0; act < NOSNAT_ACT_MAX; act++) {
			uint64_t sum = 0;

			for (unsigned int r = 0; r < NOSNAT_R_MAX; r++)
				sum += mx->verdict[h][act][r][bytes];
			fprintf(f, "%s{", name);
			label(f, "hook", hook_name(h), 1);
			label(f, "action", action_name(act), 0);
			fprintf(f, "} %llu\n", (unsigned long long)sum);
		}
}

static void scalar_family(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_render(FILE *f, struct metrics *mx)
{
	struct metrics_vip *vips = mx->vips;
	struct metrics_backend *bes = mx->bes;
	size_t nv = mx->n_vips, nb = mx->n_bes;

	/* series in label order: sorted where they are */
	qsort(vips, nv, sizeof(vips[0]), cmp_vip);
	qsort(bes, nb, sizeof(bes[0]), cmp_be);

	/* families in name order */
	backend_family(f, "nosnat_backend_bytes_total",
		       "Bytes sent to or replied from a backend on this node.", bes, nb, 1);
	backend_family(f, "nosnat_backend_packets_total",
		       "Packets sent to or replied from a backend on this node.", bes, nb, 0);
	vip_family(f, "nosnat_backends", "gauge", "Backends configured for a VIP (including draining ones).",
		   vips, nv, VF_BACKENDS);
	vip_family(f, "nosnat_backends_active", "gauge",
		   "Backends of a VIP that take new flows (weight above 0).", vips, nv, VF_ACTIVE);
	family(f, "nosnat_build_info", "gauge", "nosnat build, value 1.");
	fprintf(f, "nosnat_build_info{");
	label(f, "abi", NOSNAT_ABI_STR, 1);
	label(f, "version", mx->version ? mx->version : "unknown", 0);
	fprintf(f, "} 1\n");
	hook_action_family(f, "nosnat_bytes_total", "Bytes by hook and action.", mx, 1);
	scalar_family(f, "nosnat_config_last_reload_success_timestamp_seconds", "gauge",
		      "Unix time of the last configuration applied successfully (0: never).",
		      mx->ctl.last_success);
	scalar_family(f, "nosnat_config_reload_failures_total", "counter",
		      "Configurations rejected or failed.", mx->ctl.reload_failures);
	scalar_family(f, "nosnat_config_reloads_total", "counter",
		      "Configurations applied successfully.", mx->ctl.reloads);
	if (mx->has_daemon)
		scalar_family(f, "nosnat_daemon_reattaches_total", "counter",
			      "Times the daemon found the dataplane gone and attached again.",
			      mx->daemon_reattaches);
	family(f, "nosnat_dataplane_info", "gauge",
	       "The way the dataplane runs, value 1: hook xdp (XDP in front of tc) or tc (tc alone), "
	       "and whether XDP hands work to tc through metadata; what the node sends other nodes "
	       "(encap: ipip or gue) and takes off (decap).");
	fprintf(f, "nosnat_dataplane_info{");
	label(f, "hook", cfg_hook_name(mx->cfg_flags), 1);
	label(f, "xdp_metadata", cfg_xdp_metadata(mx->cfg_flags) ? "yes" : "no", 0);
	label(f, "encap", encap_name(mx->cfg_encap), 0);
	label(f, "decap", decap_name(mx->cfg_decap), 0);
	fprintf(f, "} 1\n");
	family(f, "nosnat_drops_total", "counter", "Packets dropped (or answered with ICMP) by reason.");
	for (unsigned int r = 0; r < NOSNAT_R_MAX; r++) {
		uint64_t sum = 0;

		if (!is_drop_reason(r))
			continue;
		for (unsigned int h = 0; h < NOSNAT_HOOK_MAX; h++)
			sum += mx->verdict[h][NOSNAT_ACT_DROP][r][0];
		fprintf(f, "nosnat_drops_total{");
		label(f, "reason", reason_name(r), 1);
		fprintf(f, "} %llu\n", (unsigned long long)sum);
	}
	scalar_family(f, "nosnat_flow6_table_capacity", "gauge",
		      "Size of the flow table of IPv6 VIPs (LRU, established flows).",
		      mx->flows6_max);
	scalar_family(f, "nosnat_flow6_table_entries", "gauge",
		      "Flows of IPv6 VIPs in their flow table.", mx->flows6);
	scalar_family(f, "nosnat_new_flow6_table_capacity", "gauge",
		      "Size of the handshake table of IPv6 VIPs (sets of 4: flows before the "
		      "client's second packet).", mx->flows6_new_max);
	scalar_family(f, "nosnat_new_flow6_table_entries", "gauge",
		      "Flows of IPv6 VIPs in their handshake table.", mx->flows6_new);
	family(f, "nosnat_flow_events_total", "counter",
	       "Packets whose pod was found without a flow entry, by how: recovered (Maglev), "
	       "ct_recovered (the pod's conntrack mark), second_chance (sent on to the previous "
	       "table's pod), not_owned (no pod here has the connection), new_flow_limited "
	       "(above the new-flow rate, not recorded).");
	for (unsigned int r = 0; r < NOSNAT_R_MAX; r++) {
		if (!is_flow_event(r))
			continue;
		fprintf(f, "nosnat_flow_events_total{");
		label(f, "event", reason_name(r), 1);
		fprintf(f, "} %llu\n", (unsigned long long)mx->flow_events[r]);
	}
	scalar_family(f, "nosnat_flow_table_capacity", "gauge", "Size of the flow table (LRU).",
		      mx->flows_max);
	scalar_family(f, "nosnat_flow_table_entries", "gauge",
		      "Established flows in the flow table.", mx->flows);
	if (mx->has_kube) {
		scalar_family(f, "nosnat_kube_connected", "gauge",
			      "1 while the Kubernetes watch is connected.", mx->kube_connected ? 1 : 0);
		scalar_family(f, "nosnat_kube_invalid_endpoints_total", "counter",
			      "EndpointSlice endpoints skipped: no usable address (of the slice's family) or node.",
			      mx->kube_invalid_endpoints);
		scalar_family(f, "nosnat_kube_last_sync_timestamp_seconds", "gauge",
			      "Unix time of the last state received from Kubernetes.", mx->kube_last_sync);
		scalar_family(f, "nosnat_kube_rejected_services", "gauge",
			      "Kubernetes Services skipped at the last sync for breaking a rule (each logged).",
			      mx->kube_rejected_services);
		scalar_family(f, "nosnat_kube_watch_restarts_total", "counter",
			      "Kubernetes watches restarted.", mx->kube_watch_restarts);
	}
	scalar_family(f, "nosnat_local_pods", "gauge",
		      "Local pod address:port pairs whose replies are matched to VIP flows.", mx->pods);
	scalar_family(f, "nosnat_new_flow_table_capacity", "gauge",
		      "Size of the table of flows that have not completed a handshake (sets of 4).",
		      NOSNAT_NEW_FLOW_ENTRIES);
	scalar_family(f, "nosnat_new_flow_table_entries", "gauge",
		      "Flows that have not completed a handshake.", mx->flows_new);
	hook_action_family(f, "nosnat_packets_total", "Packets by hook and action.", mx, 0);
	if (mx->has_daemon && mx->has_verify)
		scalar_family(f, "nosnat_verify_inconsistencies", "gauge",
			      "Inconsistencies nosnat verify found in the maps after the daemon's last apply.",
			      mx->verify_problems);
	vip_family(f, "nosnat_vip_bytes_total", "counter",
		   "Bytes (IP length) of VIP packets seen by this node.", vips, nv, VF_BYTES);
	vip_family(f, "nosnat_vip_flows_total", "counter", "New flows of a VIP seen by this node.",
		   vips, nv, VF_FLOWS);
	vip_family(f, "nosnat_vip_packets_total", "counter", "VIP packets seen by this node.",
		   vips, nv, VF_PACKETS);
}

int metrics_write_textfile(const char *path, struct metrics *mx)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	FILE *f;
	int fd, rc = 0;

	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (!dir[0])
			strcpy(dir, "/");
	} else {
		strcpy(dir, ".");
	}
	/* same directory (rename stays atomic), a name node_exporter ignores */
	if (snprintf(tmp, sizeof(tmp), "%s/.nosnat.prom.tmp.XXXXXX", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	/* mkstemp makes 0600, which a non-root node_exporter cannot read */
	if (fchmod(fd, 0644)) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	metrics_render(f, mx);
	if (fflush(f) || fsync(fileno(f)))
		rc = -errno;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}
