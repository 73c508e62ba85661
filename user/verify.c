// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nosnat verify: the pinned maps checked against each other, one check per
 * invariant, one line per problem. */
#include <errno.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "parse.h"
#include "maglev.h"
#include "maglev_read.h"
#include "mapio.h"
#include "pods.h"
#include "scratch.h"
#include "verify.h"
#include "../bpf/lib/hash.h"
#include "vips.h"

int state_verify(const struct nosnat_maps *m, const struct state *s, FILE *out)
{
	struct nosnat_maglev_slots *table = &s->tmp->verify.table;
	struct nosnat_addr_filter *filt = &s->tmp->verify.filter;
	struct nosnat_pod *pod_dir_cur = s->tmp->verify.dir_cur;
	const struct nosnat_pod *pod_ents = s->tmp->pods.ents;
	struct maglev_read_bpf *reader = NULL;
	int problems = 0, reader_err = 0;
	char vs[VIP_STR_LEN], a[ADDR_STR_LEN];

#define PROBLEM(...) do { fprintf(out, __VA_ARGS__); fputc('\n', out); problems++; } while (0)
	for (size_t i = 0; i < s->n_vips; i++) {
		const struct vip_entry *v = &s->vips[i];
		struct nosnat_local local = {};
		unsigned int active = 0, refs_want = 0, refs = 0, want_local = 0;
		__u32 inner_id, zero = 0;
		int inner;

		vip_str(&v->vk, vs);
		if (v->val.id >= NOSNAT_MAX_VIPS)
			PROBLEM("%s: id %u out of range", vs, v->val.id);
		for (size_t j = 0; j < i; j++)
			if (s->vips[j].val.id == v->val.id)
				PROBLEM("%s: id %u shared with another VIP", vs, v->val.id);
		for (size_t j = 0; j < s->n_vips; j++)
			refs_want += vip_same_addr(&s->vips[j].vk, &v->vk);
		refs = vip_addr_refs(m, &v->vk);
		if (refs != refs_want)
			PROBLEM("%s: address refcount %u, want %u", vs, refs, refs_want);
		{
			struct nosnat_vip_id idk = {};
			struct nosnat_vip_key want_key = vip_key_ids(&v->vk);
			__u32 zero = 0;

			if (bpf_map_lookup_elem(m->vip_ids, &v->val.id, &idk) ||
			    memcmp(&idk.key, &want_key, sizeof(idk.key)) ||
			    nosnat_vip_ref_id(idk.ref) != v->val.id || !(idk.ref >> NOSNAT_VIP_ID_BITS))
				PROBLEM("%s: id %u does not name it in %s", vs, v->val.id,
					NOSNAT_MAP_VIP_IDS);
			if (bpf_map_lookup_elem(m->vip_filt, &zero, filt) || !filter_has(filt, v->key.addr))
				PROBLEM("%s: address filter bit clear (packets would pass)", vs);
		}
		for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
			const struct nosnat_backend *be = &s->be[b];

			if (!(be->flags & NOSNAT_BE_IN_USE) || be->vip_id != v->val.id)
				continue;
			active += be->weight > 0;
			want_local += state_be_local(s, (__u32)b);
		}
		if (active != v->val.active)
			PROBLEM("%s: active %u, but %u backends take new flows", vs, v->val.active, active);
		if (bpf_map_lookup_elem(m->local, &v->val.id, &local) || local.count != want_local)
			PROBLEM("%s: %u local backends listed, %u on this node", vs, local.count, want_local);
		for (__u32 k = 0; k < local.count && k < NOSNAT_MAX_LOCAL; k++) {
			const struct nosnat_backend *be = &s->be[local.ids[k] % NOSNAT_MAX_BACKENDS];

			if (local.ids[k] >= NOSNAT_MAX_BACKENDS || !(be->flags & NOSNAT_BE_IN_USE) ||
			    be->vip_id != v->val.id || !state_be_local(s, local.ids[k]))
				PROBLEM("%s: local list names backend %u wrongly", vs, local.ids[k]);
		}
		if (bpf_map_lookup_elem(m->maglev, &v->val.id, &inner_id)) {
			if (active)
				PROBLEM("%s: no Maglev table but %u active backends", vs, active);
			continue;
		}
		if (!active)
			PROBLEM("%s: a Maglev table but no active backend", vs);
		/* through the reader program (CAP_BPF); by ID only where that
		 * cannot load (which needs CAP_SYS_ADMIN) */
		if (!reader && !reader_err) {
			reader = maglev_reader_open(m->maglev);
			if (!reader)
				reader_err = errno;
		}
		if (reader) {
			int rc = maglev_reader_get(reader, v->val.id, table);

			if (rc) {
				PROBLEM("%s: cannot read its Maglev table: %s", vs, strerror(-rc));
				continue;
			}
		} else {
			inner = bpf_map_get_fd_by_id(inner_id);
			if (inner < 0 || bpf_map_lookup_elem(inner, &zero, table)) {
				PROBLEM("%s: cannot read its Maglev table: %s (reader program: %s)", vs,
					strerror(errno), strerror(reader_err));
				if (inner >= 0)
					close(inner);
				continue;
			}
			close(inner);
		}
		for (__u32 slot = 0; slot < NOSNAT_MAGLEV_SIZE; slot++) {
			__u32 id = table->backend[slot];
			const struct nosnat_backend *be = &s->be[id % NOSNAT_MAX_BACKENDS];

			if (id >= NOSNAT_MAX_BACKENDS || !(be->flags & NOSNAT_BE_IN_USE) ||
			    be->vip_id != v->val.id || !be->weight) {
				PROBLEM("%s: Maglev slot %u names backend %u, not an active one of it", vs, slot, id);
				break;
			}
		}
	}
	for (int b = 0; b < NOSNAT_MAX_BACKENDS; b++) {
		const struct nosnat_backend *be = &s->be[b];
		int owner = 0;

		const __u8 *a6 = s->be6[b].addr;
		int v6 = addr6_set(a6);

		if (!(be->flags & NOSNAT_BE_NODE6) && addr6_set(s->be_node6[b].addr))
			PROBLEM("%s[%d] holds %s, but the slot's node is not IPv6", NOSNAT_MAP_BE_NODE6, b,
				addr_str(0, s->be_node6[b].addr, a));
		if (!(be->flags & NOSNAT_BE_IN_USE)) {
			if (v6 && !(be->flags & STATE_BE_FREEING))
				PROBLEM("%s[%d] holds %s, but the slot is free", NOSNAT_MAP_BE6, b,
					addr_str(0, a6, a));
			continue;
		}
		addr_str(be->addr, a6, a);
		for (size_t i = 0; i < s->n_vips; i++)
			if (s->vips[i].val.id == be->vip_id) {
				owner = 1;
				if (!!s->vips[i].vk.v6 != v6)
					PROBLEM("backend %d (%s) is IPv%c, its VIP %s is not", b, a,
						v6 ? '6' : '4', vip_str(&s->vips[i].vk, vs));
			}
		if (!owner)
			PROBLEM("backend %d (%s) belongs to no VIP", b, a);
		if (be->tag && be->tag != backend_tag_word(be))	/* 0: an older build's slot */
			PROBLEM("backend %d (%s): tag %#x in %s, not its own %#x (its node would "
				"take its packets for another pod's)", b, a, be->tag, NOSNAT_MAP_BACKENDS,
				backend_tag_word(be));
		if (v6 && be->addr != nosnat_addr6_fold(a6))
			PROBLEM("backend %d (%s): address %#x in %s is not its fold", b, a, ntohl(be->addr),
				NOSNAT_MAP_BACKENDS);
		if (be->flags & NOSNAT_BE_NODE6) {
			const __u8 *n6 = s->be_node6[b].addr;

			if (!v6)
				PROBLEM("backend %d (%s) is IPv4 but on IPv6 node %s", b, a, addr_str(0, n6, vs));
			if (!addr6_set(n6))
				PROBLEM("backend %d (%s) has an IPv6 node but %s[%d] is zero", b, a,
					NOSNAT_MAP_BE_NODE6, b);
			else if (be->node != nosnat_addr6_fold(n6))
				PROBLEM("backend %d (%s): node %#x in %s is not the fold of %s", b, a,
					ntohl(be->node), NOSNAT_MAP_BACKENDS, addr_str(0, n6, vs));
			else if (memcmp(n6, s->cfg.node_ip6, sizeof(s->cfg.node_ip6)) && !state_has_node6(s, n6))
				PROBLEM("backend %d (%s) on unknown node %s", b, a, addr_str(0, n6, vs));
		} else if (be->node != s->cfg.node_ip && !state_has_node(s, be->node)) {
			PROBLEM("backend %d (%s) on unknown node %s", b, a, ip_str(be->node, vs));
		}
	}
	{	/* nosnat_pods and nosnat_pod_dir: exactly this node's pods, each with its slots */
		struct nosnat_pod_key key, cursor, *prev = NULL;
		size_t n = 0, have_keys = 0;
		__u32 zero_key = 0;

		if (pod_plan(m, s, &n) ||
		    array_read(m->pod_dir, pod_dir_cur, sizeof(pod_dir_cur[0]), NOSNAT_POD_DIR_SLOTS))
			PROBLEM("cannot read %s or %s", NOSNAT_MAP_VIP_IDS, NOSNAT_MAP_POD_DIR);
		for (size_t i = 0; i < n; i++) {
			const struct nosnat_pod *want = &pod_ents[i];
			struct nosnat_pod cur = {};

			if (bpf_map_lookup_elem(m->pods, &want->key, &cur) || memcmp(&cur, want, sizeof(cur)))
				PROBLEM("pod %s:%u: %s lists %u slots, want %u (first %u, VIP %s:%u ref %u)",
					ip_str(want->key.addr, a), ntohs(want->key.port), NOSNAT_MAP_PODS,
					cur.count, want->count, want->slots[0].id,
					ip_str(want->slots[0].vip_addr, vs), ntohs(want->slots[0].vip_port),
					want->slots[0].vip_ref);
			/* a reply proven by its conntrack mark must name one VIP */
			for (__u32 x = 0; s->cfg.ct_mark_mask && x < want->count && x < NOSNAT_POD_IDS; x++)
				for (__u32 y = 0; y < x; y++) {
					const struct nosnat_pod_slot *sx = &want->slots[x], *sy = &want->slots[y];
					__u32 mask = s->cfg.ct_mark_mask;

					if (nosnat_vip_mark(sx->vip_addr, sx->vip_port, want->key.proto, mask) ==
					    nosnat_vip_mark(sy->vip_addr, sy->vip_port, want->key.proto, mask))
						PROBLEM("pod %s:%u: VIP ports %u and %u share a conntrack mark under "
							"mask %#x (attach with another --ct-mark-mask)",
							ip_str(want->key.addr, a), ntohs(want->key.port),
							ntohs(sx->vip_port), ntohs(sy->vip_port), mask);
				}
		}
		while (!bpf_map_get_next_key(m->pods, prev, &key)) {
			have_keys++;
			cursor = key;
			prev = &cursor;
		}
		if (have_keys != n)
			PROBLEM("%s has %zu pods, want %zu", NOSNAT_MAP_PODS, have_keys, n);
		for (__u32 x = 0; x < NOSNAT_POD_DIR_SLOTS; x++) {
			struct nosnat_pod want;

			pod_dir_want(s, x, &want);
			if (!memcmp(&pod_dir_cur[x], &want, sizeof(want)))
				continue;
			PROBLEM("%s[%u]: pod %s:%u, %u slots, flags %u; want %s:%u, %u slots, flags %u",
				NOSNAT_MAP_POD_DIR, x, ip_str(pod_dir_cur[x].key.addr, a),
				ntohs(pod_dir_cur[x].key.port), pod_dir_cur[x].count, pod_dir_cur[x].flags,
				ip_str(want.key.addr, vs), ntohs(want.key.port), want.count, want.flags);
			break;
		}
		if (bpf_map_lookup_elem(m->pod_filt, &zero_key, filt))
			PROBLEM("cannot read %s", NOSNAT_MAP_POD_FILTER);
		else
			for (size_t i = 0; i < n; i++)
				if (!filter_has(filt, pod_ents[i].key.addr)) {
					PROBLEM("pod %s: filter bit clear (its replies would pass as they are)",
						ip_str(pod_ents[i].key.addr, a));
					break;
				}
	}
	{	/* nosnat_pods6: exactly this node's v6 pods, each with its slots */
		const struct scratch_pods *pt = &s->tmp->pods;
		struct nosnat_pod6_key key, cursor, *prev = NULL;
		size_t have_keys = 0;
		__u32 zero_key = 0;

		if (pod6_plan(m, s))
			PROBLEM("cannot read %s", NOSNAT_MAP_VIP_IDS);
		for (size_t i = 0; i < pt->n6; i++) {
			struct nosnat_pod6 cur = {};

			if (bpf_map_lookup_elem(m->pods6, &pt->keys6[i], &cur) ||
			    memcmp(&cur, &pt->ents6[i], sizeof(cur)))
				PROBLEM("pod [%s]:%u: %s lists %u slots, want %u (first %u)",
					addr_str(0, pt->keys6[i].addr, a), ntohs(pt->keys6[i].port),
					NOSNAT_MAP_PODS6, cur.count, pt->ents6[i].count, pt->ents6[i].slots[0].id);
			/* a reply proven by its conntrack mark must name one VIP (a v6
			 * VIP's mark is nosnat_vip_mark of its address's fold) */
			for (__u32 x = 0; s->cfg.ct_mark_mask && x < pt->ents6[i].count && x < NOSNAT_POD_IDS;
			     x++)
				for (__u32 y = 0; y < x; y++) {
					const struct nosnat_pod6_slot *sx = &pt->ents6[i].slots[x];
					const struct nosnat_pod6_slot *sy = &pt->ents6[i].slots[y];
					__u32 mask = s->cfg.ct_mark_mask;
					__u8 proto = pt->keys6[i].proto;

					if (nosnat_vip_mark(nosnat_addr6_fold(sx->vip_addr), sx->vip_port, proto,
							    mask) ==
					    nosnat_vip_mark(nosnat_addr6_fold(sy->vip_addr), sy->vip_port, proto,
							    mask))
						PROBLEM("pod [%s]:%u: VIP ports %u and %u share a conntrack mark "
							"under mask %#x (attach with another --ct-mark-mask)",
							addr_str(0, pt->keys6[i].addr, a), ntohs(pt->keys6[i].port),
							ntohs(sx->vip_port), ntohs(sy->vip_port), mask);
				}
		}
		while (!bpf_map_get_next_key(m->pods6, prev, &key)) {
			have_keys++;
			cursor = key;
			prev = &cursor;
		}
		if (have_keys != pt->n6)
			PROBLEM("%s has %zu pods, want %zu", NOSNAT_MAP_PODS6, have_keys, pt->n6);
		if (!bpf_map_lookup_elem(m->pod_filt, &zero_key, filt))
			for (size_t i = 0; i < pt->n6; i++)
				if (!filter_has(filt, nosnat_addr6_fold(pt->keys6[i].addr))) {
					PROBLEM("pod %s: filter bit clear (its replies would pass as they are)",
						addr_str(0, pt->keys6[i].addr, a));
					break;
				}
	}
#undef PROBLEM
	maglev_reader_close(reader);
	return problems;
}
