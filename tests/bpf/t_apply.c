// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* apply: any state to any state, and the pod port limit. */
#include "harness.h"

/* --- apply: any state to any state ----------------------------------- */

static uint32_t rng = 12345;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

static void random_config(struct config *c)
{
	static const char *const nodes[] = { T_NODE_SELF, T_NODE_B, T_NODE_C, "198.51.100.14",
					     "198.51.100.15" };
	static const char *const vips[] = { "192.0.2.10", "192.0.2.11" };
	static const uint16_t ports[] = { 25, 465, 587 };
	__be32 chosen[5];
	size_t n_chosen = 0;

	memset(c, 0, offsetof(struct config, vips));
	c->n_vips = c->n_bes = 0;
	for (size_t i = 0; i < 5; i++)
		if (i == 0 || rnd(3))
			chosen[n_chosen++] = c->nodes[c->n_nodes++] = ip4(nodes[i]);
	for (size_t v = 0; v < 2; v++)
		for (size_t p = 0; p < 3; p++) {
			struct config_vip *cv;
			size_t nb = rnd(6);

			if (!rnd(3))
				continue;
			cv = &c->vips[c->n_vips++];
			memset(cv, 0, sizeof(*cv));
			cv->key = (struct nosnat_vip_key){ .addr = ip4(vips[v]), .port = htons(ports[p]),
							   .proto = rnd(4) ? IPPROTO_TCP : IPPROTO_UDP };
			/* a VIP:port may appear once per protocol; keep it unique */
			for (size_t j = 0; j + 1 < c->n_vips; j++)
				if (!memcmp(&c->vips[j].key, &cv->key, sizeof(cv->key)))
					cv->key.proto = cv->key.proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
			if (rnd(2))
				snprintf(cv->name, sizeof(cv->name), "svc%u", rnd(3));
			cv->first_be = c->n_bes;
			for (size_t b = 0; b < 8 && cv->n_be < nb; b++) {
				if (rnd(2))
					continue;
				c->bes[c->n_bes++] = (struct config_backend){
					.addr = htonl(0xc6120100u + (uint32_t)b),	/* 198.18.1.x */
					.node = chosen[rnd((uint32_t)n_chosen)],
					.port = htons((uint16_t)(2525 + rnd(2))),
					.weight = (uint16_t)rnd(4),
				};
				/* same pod twice with the same port would be a duplicate */
				for (size_t j = cv->first_be; j + 1 < c->n_bes; j++)
					if (c->bes[j].addr == c->bes[c->n_bes - 1].addr)
						c->bes[c->n_bes - 1].port = c->bes[j].port = htons(2525);
				for (size_t j = cv->first_be; j + 1 < c->n_bes; j++)
					if (c->bes[j].addr == c->bes[c->n_bes - 1].addr) {
						c->n_bes--;
						break;
					}
				cv->n_be = c->n_bes - cv->first_be;
			}
		}
}

/* The maps say exactly what the config says. */
static int state_matches(const struct config *c, const struct state *prev)
{
	static struct state now;
	static uint32_t table[NOSNAT_MAGLEV_SIZE];

	CHECK(!state_read(&maps, &now), "state read");
	CHECK(now.n_vips == c->n_vips, "%zu VIPs, want %zu", now.n_vips, c->n_vips);
	CHECK(now.n_nodes == c->n_nodes, "%zu nodes, want %zu", now.n_nodes, c->n_nodes);
	for (size_t i = 0; i < c->n_nodes; i++)
		CHECK(state_has_node(&now, c->nodes[i]), "node missing");
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct config_vip *cv = &c->vips[i];
		struct vip_entry *v = state_find_vip(&now, &cv->key);
		struct nosnat_local local = {};
		unsigned int count = 0, active = 0, want_local = 0;
		__u32 inner_id, slot;
		int inner;

		CHECK(v, "VIP %zu missing", i);
		CHECK(!strcmp(v->name, cv->name), "name '%s' want '%s'", v->name, cv->name);
		for (size_t b = 0; b < cv->n_be; b++) {
			const struct config_backend *cb = &c->bes[cv->first_be + b];
			int id = state_find_backend(&now, v->val.id, cb->addr, cb->port);

			CHECK(id >= 0, "backend missing");
			CHECK(now.be[id].weight == cb->weight && now.be[id].node == cb->node, "backend fields");
			active += cb->weight > 0;
			want_local += cb->node == now.cfg.node_ip;
			/* a backend that stayed keeps its slot, so its flows stay */
			if (prev) {
				struct nosnat_vip_key k = cv->key;
				const struct vip_entry *pv = NULL;

				for (size_t j = 0; j < prev->n_vips; j++)
					if (!memcmp(&prev->vips[j].key, &k, sizeof(k)))
						pv = &prev->vips[j];
				if (pv) {
					int old = state_find_backend(prev, pv->val.id, cb->addr, cb->port);

					CHECK(old < 0 || old == id, "backend moved from slot %d to %d", old, id);
				}
			}
		}
		for (int id = 0; id < NOSNAT_MAX_BACKENDS; id++)
			if ((now.be[id].flags & NOSNAT_BE_IN_USE) && now.be[id].vip_id == v->val.id)
				count++;
		CHECK(count == cv->n_be, "%u backends, want %zu", count, cv->n_be);
		CHECK(v->val.active == active, "active %u want %u", v->val.active, active);
		CHECK(!bpf_map_lookup_elem(maps.local, &v->val.id, &local) && local.count == want_local,
		      "local list %u want %u", local.count, want_local);
		if (!active) {
			CHECK(bpf_map_lookup_elem(maps.maglev, &v->val.id, &inner_id), "stale Maglev table");
			continue;
		}
		CHECK(!bpf_map_lookup_elem(maps.maglev, &v->val.id, &inner_id), "no Maglev table");
		inner = bpf_map_get_fd_by_id(inner_id);
		CHECK(inner >= 0, "inner map");
		slot = 0;
		CHECK(!bpf_map_lookup_elem(inner, &slot, table), "table read");
		close(inner);
		for (slot = 0; slot < NOSNAT_MAGLEV_SIZE; slot += 97) {
			const struct nosnat_backend *b = &now.be[table[slot] % NOSNAT_MAX_BACKENDS];

			CHECK(table[slot] < NOSNAT_MAX_BACKENDS && (b->flags & NOSNAT_BE_IN_USE) &&
			      b->vip_id == v->val.id && b->weight > 0, "slot %u -> %u", slot, table[slot]);
		}
	}
	return 0;
}

int t_apply_converges(void)
{
	static struct config c;
	static struct state before;
	char err[512];
	int rc;

	CHECK(!state_read(&maps, &st), "state");
	/* imperative leftovers that apply must remove */
	CHECK(!add_vip("192.0.2.99", 80, IPPROTO_TCP), "vip add");
	CHECK(!add_be("192.0.2.99", 80, IPPROTO_TCP, T_POD_LOCAL, 80, T_NODE_SELF, 1), "be add");
	for (int round = 0; round < 40; round++) {
		random_config(&c);
		memcpy(&before, &st, sizeof(before));
		rc = config_apply(&maps, &st, &c, "random", 0, NULL, err, sizeof(err));
		CHECK(rc >= 0, "round %d: %s", round, err);
		if (state_matches(&c, &before))
			FAIL("round %d: state differs from the config", round);
		/* applying the same again changes nothing */
		rc = config_apply(&maps, &st, &c, "random", 0, NULL, err, sizeof(err));
		CHECK(rc == 0, "round %d: re-apply made %d changes", round, rc);
		CHECK(!state_verify(&maps, &st, stderr), "round %d: maps disagree", round);
	}
	return 0;
}

/* A pod port answers for at most NOSNAT_POD_IDS VIP ports of a protocol:
 * one more is refused, by apply (naming the line) and by 'backend add',
 * and nothing changes. */
int t_pod_port_limit(void)
{
	static struct config c;
	static struct state before;
	char err[512];
	int rc;

	memset(&c, 0, offsetof(struct config, vips));
	c.n_vips = c.n_bes = 0;
	c.nodes[c.n_nodes++] = ip4(T_NODE_SELF);
	for (int i = 0; i <= NOSNAT_POD_IDS; i++) {
		struct config_vip *cv = &c.vips[c.n_vips++];

		memset(cv, 0, sizeof(*cv));
		cv->key = vkey(T_VIP, (uint16_t)(1000 + i), IPPROTO_TCP);
		cv->first_be = c.n_bes;
		cv->n_be = 1;
		c.bes[c.n_bes++] = (struct config_backend){ .addr = ip4(T_POD_LOCAL), .node = ip4(T_NODE_SELF),
							    .port = htons(2525), .weight = 1,
							    .line = (unsigned int)(10 + i), .col = 7 };
	}
	memcpy(&before, &st, sizeof(before));
	rc = config_apply(&maps, &st, &c, "pods.yaml", 0, NULL, err, sizeof(err));
	CHECK(rc == -EMLINK && strstr(err, "pods.yaml:1") && strstr(err, T_POD_LOCAL ":2525") &&
	      strstr(err, "more than 7 VIP ports"), "refused: %d %s", rc, err);
	CHECK(!memcmp(&before, &st, sizeof(st)) && st.n_vips == 0, "nothing changed");

	c.n_vips--;	/* seven: accepted */
	c.n_bes--;
	rc = config_apply(&maps, &st, &c, "pods.yaml", 0, NULL, err, sizeof(err));
	CHECK(rc > 0, "seven applied: %s", err);
	CHECK(!add_vip(T_VIP, 2000, IPPROTO_TCP), "eighth VIP port");
	CHECK(add_be(T_VIP, 2000, IPPROTO_TCP, T_POD_LOCAL, 2525, T_NODE_SELF, 1) == -EMLINK,
	      "eighth backend refused");
	CHECK(!add_be(T_VIP, 2000, IPPROTO_TCP, T_POD_LOCAL, 2526, T_NODE_SELF, 1), "another port is fine");
	CHECK(!state_verify(&maps, &st, stderr), "maps agree");
	return 0;
}

/* An apply that fails part-way (a Maglev table the kernel will not
 * allocate) leaves slots whose tables were never swapped in; the next apply
 * of the same file must converge, not report "0 changes". */
int t_apply_partial_failure(void)
{
	static struct config c;
	char err[512];
	struct nosnat_ctl ctl;
	int rc, problems;

	memset(&c, 0, offsetof(struct config, vips));
	c.n_vips = c.n_bes = 0;
	c.nodes[c.n_nodes++] = ip4(T_NODE_B);
	for (int i = 0; i < 2; i++) {
		struct config_vip *cv = &c.vips[c.n_vips++];

		memset(cv, 0, sizeof(*cv));
		cv->key = vkey(T_VIP, (uint16_t)(25 + i), IPPROTO_TCP);
		cv->first_be = c.n_bes;
		cv->n_be = 2;
		cv->line = (unsigned int)(3 + i);
		c.bes[c.n_bes++] = (struct config_backend){ .addr = ip4(T_POD_LOCAL), .node = ip4(T_NODE_SELF),
							    .port = htons(2525), .weight = 1, .line = 4, .col = 7 };
		c.bes[c.n_bes++] = (struct config_backend){ .addr = ip4(T_POD_B), .node = ip4(T_NODE_B),
							    .port = htons(2525), .weight = 1, .line = 5, .col = 7 };
	}
	setenv("NOSNAT_FAULT_MAGLEV_CREATE", "2", 1);	/* the second table */
	rc = config_apply(&maps, &st, &c, "mail.yaml", 0, NULL, err, sizeof(err));
	unsetenv("NOSNAT_FAULT_MAGLEV_CREATE");
	CHECK(rc == -ENOMEM && strstr(err, "failed part-way"), "the fault: %d %s", rc, err);
	CHECK(!ctl_get(&maps, &ctl) && ctl.partial == 1, "the partial mark left");
	CHECK(!state_read(&maps, &st), "state");
	problems = state_verify(&maps, &st, fopen("/dev/null", "w"));
	CHECK(problems > 0, "the maps should disagree after the failure, verify found %d problems", problems);

	rc = config_apply(&maps, &st, &c, "mail.yaml", 0, NULL, err, sizeof(err));
	CHECK(rc > 0, "the same file again converged with %d changes: %s", rc, err);
	CHECK(!ctl_get(&maps, &ctl) && ctl.partial == 0, "the partial mark cleared");
	CHECK(!state_read(&maps, &st), "state");
	CHECK(!state_verify(&maps, &st, stderr), "maps agree after converging");
	rc = config_apply(&maps, &st, &c, "mail.yaml", 0, NULL, err, sizeof(err));
	CHECK(rc == 0, "and a third apply changes nothing: %d", rc);
	return 0;
}
