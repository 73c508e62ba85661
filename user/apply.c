// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Converge: validate against the live state first, then change the maps in
 * an order where traffic always sees a consistent state:
 *   node address, removed VIPs, new nodes, each VIP (new and changed
 *   backends written, one Maglev table swap, removed slots freed), removed
 *   nodes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "apply.h"
#include "ctx.h"
#include "log.h"
#include "mapio.h"
#include "pods.h"
#include "scratch.h"
#include "vips.h"
#include "parse.h"

static int cfg_has_vip(const struct config *cfg, const struct vip_key *k)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (!memcmp(&cfg->vips[i].vk, k, sizeof(*k)))
			return 1;
	return 0;
}

static int pod_use_cmp(const void *a, const void *b)
{
	const struct pod_use *x = a, *y = b;
	int c = memcmp(x->addr6, y->addr6, sizeof(x->addr6));

	if (c)
		return c;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (x->proto > y->proto) - (x->proto < y->proto);
}

static int validate(const struct state *s, const struct config *cfg, __be32 node_ip,
		    const __u8 *node_ip6, const char *file, char *err, size_t errlen)
{
	size_t peak = 0;
	char bs[EP_STR_LEN];
	int rc;

	/* an address of either family (a node of an IPv6-only node network
	 * has no IPv4 one) */
	if (!node_ip && !addr6_set(node_ip6)) {
		snprintf(err, errlen, "%s:1:1: this node's address is unknown (set 'node' or attach with --node-ip)",
			 file);
		return -EINVAL;
	}
	/* The same rules for every source: a VIP is not this node's address
	 * (nor a node's), backends on known nodes, the local limit. */
	rc = config_check_vips(cfg, 0, node_ip, node_ip6, file, err, errlen);
	if (rc)
		return rc;
	/* A pod port answers for at most NOSNAT_POD_IDS VIP ports of a protocol
	 * (its replies are matched against each one's flows). */
	{
		struct pod_use *p = s->tmp->apply.uses;
		size_t n = 0;

		for (size_t i = 0; i < cfg->n_vips; i++)
			for (size_t b = 0; b < cfg->vips[i].n_be && n < NOSNAT_MAX_BACKENDS; b++) {
				const struct config_backend *cb = &cfg->bes[cfg->vips[i].first_be + b];

				p[n] = (struct pod_use){ .addr = cb->addr, .port = cb->port,
							 .proto = cfg->vips[i].key.proto, .cb = cb };
				memcpy(p[n++].addr6, cb->addr6, sizeof(cb->addr6));
			}
		qsort(p, n, sizeof(p[0]), pod_use_cmp);
		for (size_t i = NOSNAT_POD_IDS; i < n; i++) {
			const struct config_backend *cb = p[i].cb;

			if (pod_use_cmp(&p[i], &p[i - NOSNAT_POD_IDS]))
				continue;
			snprintf(err, errlen, "%s:%u:%u: backend %s serves more than %d VIP ports of one protocol",
				 file, cb->line, cb->col, ep_str(cb->addr, cb->addr6, cb->port, bs), NOSNAT_POD_IDS);
			return -EMLINK;
		}
	}
	/* Removed VIPs free their slots first; kept backends keep theirs; new
	 * ones need a slot while the removed backends of kept VIPs still hold
	 * theirs (until their table is swapped). */
	{
		__u8 *kept = s->tmp->apply.kept;
		struct be_index *ix = &s->tmp->apply.ix;

		memset(kept, 0, sizeof(s->tmp->apply.kept));
		for (size_t i = 0; i < s->n_vips; i++)
			if (s->vips[i].val.id < NOSNAT_MAX_VIPS)
				kept[s->vips[i].val.id] = (__u8)cfg_has_vip(cfg, &s->vips[i].vk);
		be_index_build(s, ix);
		peak = 0;
		for (int id = 0; id < NOSNAT_MAX_BACKENDS; id++)
			if ((s->be[id].flags & NOSNAT_BE_IN_USE) && s->be[id].vip_id < NOSNAT_MAX_VIPS &&
			    kept[s->be[id].vip_id])
				peak++;
		for (size_t i = 0; i < cfg->n_vips; i++) {
			const struct config_vip *v = &cfg->vips[i];
			const struct vip_entry *e = NULL;
			const __u32 *ids = NULL;
			size_t n = 0;

			for (size_t j = 0; j < s->n_vips && !e; j++)
				if (!memcmp(&s->vips[j].vk, &v->vk, sizeof(v->vk)))
					e = &s->vips[j];
			if (e && e->val.id < NOSNAT_MAX_VIPS) {
				ids = &ix->ids[ix->start[e->val.id]];
				n = ix->start[e->val.id + 1] - ix->start[e->val.id];
			}
			for (size_t b = 0; b < v->n_be; b++) {
				const struct config_backend *cb = &cfg->bes[v->first_be + b];
				int found = 0;

				for (size_t k = 0; k < n && !found; k++)
					found = state_be_is(s, ids[k], cb->addr, cb->addr6, cb->port);
				peak += !found;
			}
		}
	}
	if (peak > NOSNAT_MAX_BACKENDS) {
		snprintf(err, errlen, "%s:1:1: this change needs more than %d backend slots at once; apply it in two steps",
			 file, NOSNAT_MAX_BACKENDS);
		return -ENOSPC;
	}
	return 0;
}

/* Work left for after every VIP's backends are written: tables to swap (in
 * batches: each swap call waits for a grace period) and slots to free. */
struct pending {
	struct be_index ix;		/* slots per VIP id when converging began */
	struct vip_entry *sync[NOSNAT_MAX_VIPS];
	size_t n_sync;
	__u32 drop[NOSNAT_MAX_BACKENDS];
	size_t n_drop;
};

/* Slot id's node as cb gives it: v4, or a v6 node (NOSNAT_BE_NODE6, the
 * fold, nosnat_be_node6's address). */
static void be_set_node(struct state *s, __u32 id, const struct config_backend *cb)
{
	s->be[id].node = cb->node;
	s->be[id].flags &= ~NOSNAT_BE_NODE6;
	if (addr6_set(cb->node6))
		s->be[id].flags |= NOSNAT_BE_NODE6;
	memcpy(s->be_node6[id].addr, cb->node6, sizeof(s->be_node6[id].addr));
}

/* Converge one VIP's backends; queue its table swap if anything changed. */
static int converge_vip(const struct nosnat_maps *m, struct state *s, const struct config *cfg,
			const struct config_vip *cv, int dry, int force, FILE *out,
			struct pending *pd)
{
	__u8 *keep = s->tmp->apply.keep;
	__u32 *mine = s->tmp->apply.mine;
	struct vip_entry *v = state_find_vip_any(s, &cv->vk);
	size_t n_mine = 0;
	int changes = 0, rc;
	char vs[VIP_STR_LEN], bs[EP_STR_LEN], n1[ADDR_STR_LEN];

	vip_str(&cv->vk, vs);
	if (!v) {
		config_say(out, "+ vip %s%s%s", vs, cv->name[0] ? " " : "", cv->name);
		changes++;
		if (!dry) {
			rc = vip_create(m, s, &cv->vk);
			if (rc)
				return rc;
			v = state_find_vip_any(s, &cv->vk);
			if (!v)
				return -ENOENT;
		}
	} else if (strcmp(v->name, cv->name)) {
		config_say(out, "~ vip %s name '%s' -> '%s'", vs, v->name, cv->name);
		changes++;
	}
	if (v && !dry && strcmp(v->name, cv->name)) {
		rc = vip_set_name(m, v, cv->name);
		if (rc)
			return rc;
	}

	/* This VIP's slots, found in one scan; new ones join the list. */
	if (v && v->val.id < NOSNAT_MAX_VIPS) {
		n_mine = pd->ix.start[v->val.id + 1] - pd->ix.start[v->val.id];
		memcpy(mine, &pd->ix.ids[pd->ix.start[v->val.id]], n_mine * sizeof(mine[0]));
	}
	for (size_t i = 0; i < n_mine; i++)
		keep[mine[i]] = 0;
	for (size_t b = 0; b < cv->n_be; b++) {
		const struct config_backend *cb = &cfg->bes[cv->first_be + b];
		int id = -1;

		for (size_t i = 0; i < n_mine && id < 0; i++)
			if (state_be_is(s, mine[i], cb->addr, cb->addr6, cb->port) &&
			    (s->be[mine[i]].flags & NOSNAT_BE_IN_USE))
				id = (int)mine[i];

		ep_str(cb->addr, cb->addr6, cb->port, bs);
		if (id >= 0) {
			struct nosnat_backend *be = &s->be[id];

			int same_node = state_be_node_is(s, (__u32)id, cb->node, cb->node6);

			keep[id] = 1;
			if (be->weight == cb->weight && same_node)
				continue;
			if (be->weight != cb->weight)
				config_say(out, "~ backend %s %s weight %u -> %u", vs, bs, be->weight, cb->weight);
			if (!same_node)
				config_say(out, "~ backend %s %s node -> %s", vs, bs, addr_str(cb->node, cb->node6, n1));
			changes++;
			if (!dry) {
				be->weight = cb->weight;
				be_set_node(s, (__u32)id, cb);
				rc = be_write(m, s, id, 0);
				if (rc)
					return rc;
			}
			continue;
		}
		config_say(out, "+ backend %s %s node %s weight %u", vs, bs, addr_str(cb->node, cb->node6, n1),
			   cb->weight);
		changes++;
		if (dry)
			continue;
		id = be_alloc(s);
		if (id < 0)
			return id;
		s->be[id] = (struct nosnat_backend){
			.addr = cb->addr, .node = cb->node, .port = cb->port, .weight = cb->weight,
			.vip_id = v->val.id, .flags = NOSNAT_BE_IN_USE,
		};
		memcpy(s->be6[id].addr, cb->addr6, sizeof(s->be6[id].addr));
		be_set_node(s, (__u32)id, cb);
		keep[id] = 1;
		mine[n_mine++] = (__u32)id;
		rc = be_write(m, s, id, 1);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n_mine; i++) {
		__u32 id = mine[i];
		struct nosnat_backend *be = &s->be[id];

		if (!(be->flags & NOSNAT_BE_IN_USE) || keep[id])
			continue;
		config_say(out, "- backend %s %s", vs, ep_str(be->addr, s->be6[id].addr, be->port, bs));
		changes++;
		if (!dry) {
			be->flags = STATE_BE_FREEING;	/* out of the new table */
			pd->drop[pd->n_drop++] = id;
		}
	}
	if (dry || (!changes && !force))
		return changes;
	pd->sync[pd->n_sync++] = v;
	return changes;
}

/* Swap the queued tables, then free the slots no table names any more. */
static int finish_pending(const struct nosnat_maps *m, struct state *s, struct pending *pd)
{
	int rc = vip_sync_many(m, s, pd->sync, pd->n_sync);

	for (size_t i = 0; !rc && i < pd->n_drop; i++)
		rc = be_release(m, s, pd->drop[i]);
	pd->n_sync = pd->n_drop = 0;
	return rc;
}

int config_apply(const struct nosnat_maps *m, struct state *s, const struct config *cfg,
		 const char *file, int dry, FILE *out, char *err, size_t errlen)
{
	__be32 node_ip = cfg->has_node ? cfg->node : s->cfg.node_ip;
	__u8 node_ip6[16];
	int changes = 0, force = 0, rc;
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], vs[VIP_STR_LEN];
	struct pending *pd = NULL;
	struct nosnat_ctl ctl;

	memcpy(node_ip6, cfg->has_node6 ? cfg->node6 : s->cfg.node_ip6, sizeof(node_ip6));
	rc = validate(s, cfg, node_ip, node_ip6, file, err, errlen);
	if (rc)
		return rc;
	/* An apply that failed part-way left slots written whose tables may
	 * never have been swapped in: this one re-syncs every VIP (tables
	 * that hold their slots already are left alone by vip_sync_many). */
	if (ctl_get(m, &ctl) == 0 && ctl.partial) {
		config_say(out, "~ re-syncing every VIP after an apply that failed part-way");
		changes++;
		force = 1;
	}
	if (!dry && ctl_partial_set(m, 1)) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot write %s: %s", file, NOSNAT_MAP_CTL, strerror(-rc));
		return rc;
	}

	if (node_ip != s->cfg.node_ip || memcmp(node_ip6, s->cfg.node_ip6, sizeof(node_ip6))) {
		if (node_ip != s->cfg.node_ip)
			config_say(out, "~ node address %s -> %s", ip_str(s->cfg.node_ip, a), ip_str(node_ip, b));
		if (memcmp(node_ip6, s->cfg.node_ip6, sizeof(node_ip6)))
			config_say(out, "~ node IPv6 address %s -> %s",
				   addr6_set(s->cfg.node_ip6) ? addr_str(0, s->cfg.node_ip6, a) : "none",
				   addr_str(0, node_ip6, b));
		changes++;
		force = 1;	/* which backends are local changes everywhere */
		if (!dry) {
			__u32 zero = 0;

			s->cfg.node_ip = node_ip;
			memcpy(s->cfg.node_ip6, node_ip6, sizeof(node_ip6));
			if (bpf_map_update_elem(m->cfg, &zero, &s->cfg, BPF_ANY)) {
				rc = -errno;
				goto fail;
			}
		}
	}
	for (size_t i = 0; i < s->n_vips;) {
		struct vip_entry *v = &s->vips[i];

		if (cfg_has_vip(cfg, &v->vk)) {
			i++;
			continue;
		}
		config_say(out, "- vip %s%s%s", vip_str(&v->vk, vs), v->name[0] ? " " : "", v->name);
		changes++;
		if (dry) {
			i++;
			continue;
		}
		rc = vip_remove(m, s, &v->vk);	/* moves the last entry to i */
		if (rc)
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		if (state_has_node(s, cfg->nodes[i]))
			continue;
		config_say(out, "+ node %s", ip_str(cfg->nodes[i], a));
		changes++;
		if (!dry && (rc = node_insert(m, s, cfg->nodes[i])))
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_nodes6; i++) {
		if (state_has_node6(s, cfg->nodes6[i].addr))
			continue;
		config_say(out, "+ node %s", addr_str(0, cfg->nodes6[i].addr, a));
		changes++;
		if (!dry && (rc = node6_insert(m, s, cfg->nodes6[i].addr)))
			goto fail;
	}
	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		rc = -ENOMEM;
		goto fail;
	}
	be_index_build(s, &pd->ix);	/* VIPs added now have no slots yet */
	for (size_t i = 0; i < cfg->n_vips; i++) {
		rc = converge_vip(m, s, cfg, &cfg->vips[i], dry, force, out, pd);
		if (rc < 0)
			goto fail;
		changes += rc;
	}
	/* new pods' replies are recognised before their tables go in ... */
	if (!dry && (rc = pods_sync(m, s)))
		goto fail;
	rc = finish_pending(m, s, pd);
	if (rc < 0)
		goto fail;
	/* ... and the pods dropped are forgotten once their slots are free */
	if (!dry && (rc = pods_sync(m, s)))
		goto fail;
	for (size_t i = 0; i < s->n_nodes;) {
		__be32 n = s->nodes[i];

		int used = 0;

		for (int id = 0; id < NOSNAT_MAX_BACKENDS && !used; id++)
			used = (s->be[id].flags & NOSNAT_BE_IN_USE) && !(s->be[id].flags & NOSNAT_BE_NODE6) &&
			       s->be[id].node == n;
		/* only this node's own address can still be in use here */
		if (config_lists_node(cfg, n) || (used && n == node_ip)) {
			i++;
			continue;
		}
		config_say(out, "- node %s", ip_str(n, a));
		changes++;
		if (dry) {
			i++;
			continue;
		}
		rc = node_remove(m, s, n);	/* moves the last entry to i */
		if (rc)
			goto fail;
	}
	for (size_t i = 0; i < s->n_nodes6;) {
		struct nosnat_be6 n = s->nodes6[i];
		int used = 0;

		for (__u32 id = 0; id < NOSNAT_MAX_BACKENDS && !used; id++)
			used = (s->be[id].flags & NOSNAT_BE_IN_USE) && (s->be[id].flags & NOSNAT_BE_NODE6) &&
			       !memcmp(s->be_node6[id].addr, n.addr, sizeof(n.addr));
		if (config_lists_node6(cfg, n.addr) ||
		    (used && !memcmp(n.addr, node_ip6, sizeof(node_ip6)))) {
			i++;
			continue;
		}
		config_say(out, "- node %s", addr_str(0, n.addr, a));
		changes++;
		if (dry) {
			i++;
			continue;
		}
		rc = node6_remove(m, s, n.addr);	/* moves the last entry to i */
		if (rc)
			goto fail;
	}
	free(pd);
	if (!dry)
		ctl_partial_set(m, 0);	/* the maps are what cfg says */
	return changes;
fail:
	free(pd);
	snprintf(err, errlen, "%s: applying failed part-way: %s (the next apply re-syncs every VIP)",
		 file, strerror(-rc));
	return rc;
}

int ctl_get(const struct nosnat_maps *m, struct nosnat_ctl *ctl)
{
	__u32 zero = 0;

	memset(ctl, 0, sizeof(*ctl));
	return bpf_map_lookup_elem(m->ctl, &zero, ctl) ? -errno : 0;
}

int ctl_partial_set(const struct nosnat_maps *m, int partial)
{
	struct nosnat_ctl ctl;
	__u32 zero = 0;

	if (ctl_get(m, &ctl))
		return -1;
	if (ctl.partial == (__u32)partial)
		return 0;
	ctl.partial = (__u32)partial;
	return bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY);
}

/* The outcome of applying a configuration: last_result and who applied it
 * (daemon: its start time, 0: the CLI) always, the reload counters when
 * count (a configuration file; Kubernetes updates are not). */
void ctl_record(const struct nosnat_maps *m, int ok, int count, __u64 daemon)
{
	struct nosnat_ctl ctl = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->ctl, &zero, &ctl);
	if (ok && count) {
		ctl.reloads++;
		ctl.last_success = (__u64)time(NULL);
	} else if (count) {
		ctl.reload_failures++;
	}
	ctl.last_result = ok ? NOSNAT_CTL_APPLIED : NOSNAT_CTL_FAILED;
	ctl.daemon = daemon;
	bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY);
}

/* A daemon starting: nothing it applied is in force yet. */
void ctl_pending(const struct nosnat_maps *m, __u64 daemon)
{
	struct nosnat_ctl ctl = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(m->ctl, &zero, &ctl);
	ctl.last_result = NOSNAT_CTL_PENDING;
	ctl.daemon = daemon;
	bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY);
}

/* Apply a parsed configuration under the pin dir's lock and record the
 * outcome in nosnat_ctl; record: count it as a reload (a configuration
 * file; Kubernetes updates are not). */
int apply_parsed(struct state *st, const char *pin_dir, const struct config *cfg, const char *file,
		 int dry_run, int record, __u64 daemon, FILE *out)
{
	struct nosnat_maps m;
	char ebuf[512];
	int rc;

	rc = pin_dir_prepare(pin_dir, 0);
	if (rc)
		return rc;
	rc = maps_open(pin_dir, &m);
	if (rc)
		return rc;
	rc = maps_lock(pin_dir, &m);
	if (!rc) {
		rc = state_read(&m, st);
		if (rc)
			err("cannot read the maps under %s: %s", pin_dir, strerror(-rc));
	}
	if (!rc) {
		rc = config_apply(&m, st, cfg, file, dry_run, out, ebuf, sizeof(ebuf));
		if (rc < 0)
			err("%s", ebuf);
	}
	if (!dry_run)
		ctl_record(&m, rc >= 0, record, daemon);
	maps_close(&m);
	return rc;
}

void apply_record_failure(const char *pin_dir, __u64 daemon)
{
	struct nosnat_maps m;

	if (!maps_open(pin_dir, &m)) {
		ctl_record(&m, 0, 1, daemon);
		maps_close(&m);
	}
}

int apply_file(struct ctx *c, const char *pin_dir, const char *file, int dry_run, FILE *out)
{
	struct config *cfg = &c->cfg;
	char ebuf[512];
	int rc;

	rc = config_load(file, cfg, ebuf, sizeof(ebuf));
	if (!rc && config_needs_kube(cfg)) {
		snprintf(ebuf, sizeof(ebuf), "%s:%u:%u: Kubernetes services and nodes need 'nosnat run --kube'",
			 file, cfg->n_ksvcs ? cfg->ksvcs[0].line : 1, cfg->n_ksvcs ? cfg->ksvcs[0].col : 1);
		rc = -EINVAL;
	}
	if (rc) {
		err("%s", ebuf);
		if (!dry_run)
			apply_record_failure(pin_dir, 0);
		return rc;
	}
	return apply_parsed(&c->st, pin_dir, cfg, file, dry_run, 1, 0, out);
}

__u64 proc_start_time(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), pid ? "/proc/%d/stat" : "/proc/self/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name (which may hold spaces and parentheses), field 22 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}
