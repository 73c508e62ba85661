// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests for the loader's pure parts: Maglev and argument parsing. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "apply.h"
#include "attach.h"
#include "config.h"
#include "maglev.h"
#include "mapio.h"
#include "metrics.h"
#include "kube.h"
#include "kube_creds.h"
#include "kube_http.h"
#include "names.h"
#include "ops.h"
#include "parse.h"
#include "pins.h"
#include "scratch.h"
#include "show.h"
#include "verify.h"

#define M NOSNAT_MAGLEV_SIZE

static int passed, failed;

#define EXPECT(cond, ...) do { \
	if (cond) { passed++; } else { failed++; \
		printf("  FAIL  %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
	} while (0)

static uint32_t table[M], table2[M];

static struct maglev_backend be(int i, uint16_t w)
{
	return (struct maglev_backend){ .addr = htonl(0xc6120000u + (uint32_t)i),	/* 198.18.x.x */
					.port = htons(2525), .weight = w };
}

static void counts(const uint32_t *t, size_t n, size_t *c)
{
	memset(c, 0, n * sizeof(*c));
	for (uint32_t i = 0; i < M; i++)
		if (t[i] < n)
			c[t[i]]++;
}

static void test_shares(const uint16_t *w, size_t n, const char *what)
{
	struct maglev_backend b[64];
	size_t c[64], total = 0, filled = 0;
	double worst = 0;

	for (size_t i = 0; i < n; i++) {
		b[i] = be((int)i, w[i]);
		total += w[i];
	}
	EXPECT(maglev_build(b, n, M, table) == 0, "build %s", what);
	counts(table, n, c);
	for (size_t i = 0; i < n; i++) {
		double want = (double)w[i] / (double)total, got = (double)c[i] / M;

		filled += c[i];
		if (w[i] && fabs(got - want) / want > worst)
			worst = fabs(got - want) / want;
		if (!w[i])
			EXPECT(c[i] == 0, "%s: weight-0 backend %zu got %zu slots", what, i, c[i]);
	}
	EXPECT(filled == M, "%s: %zu of %u slots filled", what, filled, M);
	EXPECT(worst <= 0.01, "%s: a share is %.3f%% off its weight", what, worst * 100);
}

static void test_maglev(void)
{
	static const uint16_t equal[7] = { 1, 1, 1, 1, 1, 1, 1 };
	static const uint16_t weighted[5] = { 1, 2, 3, 10, 0 };
	static const uint16_t extreme[3] = { 1, 1000, 7 };
	struct maglev_backend b[20], shuffled[20];
	size_t changed = 0, others = 0;

	test_shares(equal, 7, "7 equal");
	test_shares(weighted, 5, "weights 1,2,3,10,0");
	test_shares(extreme, 3, "weights 1,1000,7");

	/* Removing one of 20: only its slots move, plus at most ~1% of the rest. */
	for (int i = 0; i < 20; i++)
		b[i] = be(i, 1);
	EXPECT(maglev_build(b, 20, M, table) == 0, "build 20");
	EXPECT(maglev_build(b, 19, M, table2) == 0, "build 19");	/* #19 removed */
	for (uint32_t s = 0; s < M; s++) {
		if (table[s] == 19)
			continue;
		others++;
		if (table[s] != table2[s])
			changed++;
	}
	EXPECT((double)changed / (double)others <= 0.015,
	       "removal moved %zu of %zu other slots (%.2f%%)", changed, others,
	       100.0 * changed / others);
	printf("  info  removing 1 of 20 backends moved %.2f%% of the other slots\n",
	       100.0 * changed / others);

	/* Every node builds the same table whatever order it lists backends in. */
	for (int i = 0; i < 20; i++)
		shuffled[i] = b[(i * 7) % 20];
	EXPECT(maglev_build(shuffled, 20, M, table2) == 0, "build shuffled");
	changed = 0;
	for (uint32_t s = 0; s < M; s++)
		if (b[table[s]].addr != shuffled[table2[s]].addr)
			changed++;
	EXPECT(changed == 0, "order changed %zu slots", changed);

	/* Nodes running different nosnat versions must agree slot for slot:
	 * this table's FNV-1a hash was taken from the first release's build. */
	{
		struct maglev_backend g[7];
		uint64_t h = 1469598103934665603ULL;

		for (int i = 0; i < 7; i++)
			g[i] = (struct maglev_backend){ .addr = htonl(0xc6120000u + (uint32_t)i * 7),
							.port = htons(25), .weight = (uint16_t)(1 + i % 3) };
		EXPECT(maglev_build(g, 7, M, table) == 0, "build golden");
		for (uint32_t s = 0; s < M; s++) {
			h ^= table[s];
			h *= 1099511628211ULL;
		}
		EXPECT(h == 0x2c4e147e50a3c72bULL, "table differs from the released one (hash %016llx)",
		       (unsigned long long)h);
	}

	/* No weighted backend: every slot empty */
	b[0].weight = 0;
	EXPECT(maglev_build(b, 1, M, table) == 0 && table[0] == MAGLEV_EMPTY &&
	       table[M - 1] == MAGLEV_EMPTY, "empty table");
	EXPECT(maglev_build(NULL, 0, M, table) == 0 && table[12345] == MAGLEV_EMPTY, "no backends");
	EXPECT(maglev_build(b, 1, 1, table) != 0, "m=1 rejected");
}

static void test_parse(void)
{
	struct vip_key k;
	__be32 a;
	__be16 p;
	__u8 proto;
	unsigned long u;
	char buf[48];
	static const char *const bad_ip[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
					       " 1.2.3.4", "a.b.c.d", "1.2.3.-1", "::1", "01.2.3.4x" };
	static const char *const bad_vip[] = {
		"192.0.2.10", "192.0.2.10:25", "192.0.2.10/tcp", "192.0.2.10:0/tcp",
		"192.0.2.10:65536/tcp", "192.0.2.10:25/sctp", "192.0.2.10:25/TCP", ":25/tcp",
		"192.0.2.10:-1/tcp", "192.0.2.10:2x5/tcp", "192.0.2.10:25/tcp/udp",
		"192.0.2.10:25:26/tcp", "192.0.2.10:/tcp", "192.0.2.300:25/tcp",
		"192.0.2.10:25/", "this-is-a-very-long-string-that-does-not-fit-the-buffer:25/tcp",
	};
	static const char *const bad_ap[] = { "198.18.0.5:", "198.18.0.5:0", "198.18.0.5:70000",
					      "198.18.0.5:25:1", ":25", "x:25", "" };

	EXPECT(parse_ipv4("192.0.2.10", &a) == 0 && a == htonl(0xc000020a), "ipv4");
	for (size_t i = 0; i < sizeof(bad_ip) / sizeof(bad_ip[0]); i++)
		EXPECT(parse_ipv4(bad_ip[i], &a) != 0, "accepted address '%s'", bad_ip[i]);
	EXPECT(parse_port("25", &p) == 0 && p == htons(25), "port 25");
	EXPECT(parse_port("65535", &p) == 0 && p == htons(65535), "port 65535");
	EXPECT(parse_port("0", &p) != 0, "port 0 accepted");
	EXPECT(parse_port("65536", &p) != 0, "port 65536 accepted");
	EXPECT(parse_port("+25", &p) != 0, "port +25 accepted");
	EXPECT(parse_port("", &p) != 0, "empty port accepted");
	EXPECT(parse_proto("tcp", &proto) == 0 && proto == 6, "tcp");
	EXPECT(parse_proto("udp", &proto) == 0 && proto == 17, "udp");
	EXPECT(parse_proto("icmp", &proto) != 0, "icmp accepted");
	EXPECT(parse_uint("1000", 0, 1000, &u) == 0 && u == 1000, "weight 1000");
	EXPECT(parse_uint("1001", 0, 1000, &u) != 0, "weight 1001 accepted");
	EXPECT(parse_uint("-1", 0, 1000, &u) != 0, "weight -1 accepted");
	EXPECT(parse_uint("99999999999999999999999", 0, 1000, &u) != 0, "overflow accepted");

	EXPECT(parse_vip_spec("192.0.2.10:25/tcp", &k) == 0 && k.addr == htonl(0xc000020a) &&
	       k.port == htons(25) && k.proto == 6 && k.v6 == 0, "vip spec");
	EXPECT(!strcmp(vip_str(&k, buf), "192.0.2.10:25/tcp"), "vip_str round trip: %s", buf);
	EXPECT(parse_vip_spec("192.0.2.10:53/udp", &k) == 0 && k.proto == 17, "udp vip spec");
	for (size_t i = 0; i < sizeof(bad_vip) / sizeof(bad_vip[0]); i++)
		EXPECT(parse_vip_spec(bad_vip[i], &k) != 0, "accepted VIP '%s'", bad_vip[i]);

	EXPECT(parse_addr_port("198.18.0.5", &a, &p) == 0 && p == 0, "addr without port");
	EXPECT(parse_addr_port("198.18.0.5:2525", &a, &p) == 0 && p == htons(2525) &&
	       a == htonl(0xc6120005), "addr:port");
	for (size_t i = 0; i < sizeof(bad_ap) / sizeof(bad_ap[0]); i++)
		EXPECT(parse_addr_port(bad_ap[i], &a, &p) != 0, "accepted backend '%s'", bad_ap[i]);

	/* what nodes send and take off between them */
	{
		static const char *const bad_decap[] = { "", ",", "ipip,", ",gue", "gue,gue", "ipip,,gue",
							 "vxlan", "IPIP", "ipip gue", "gue,ipip,gue" };
		__u8 e = 9, d = 0;

		EXPECT(!parse_encap("ipip", &e) && e == NOSNAT_ENCAP_IPIP, "encap ipip");
		EXPECT(!parse_encap("gue", &e) && e == NOSNAT_ENCAP_GUE, "encap gue");
		EXPECT(parse_encap("fou", &e) && parse_encap("", &e) && parse_encap(NULL, &e),
		       "bad encap accepted");
		EXPECT(!parse_decap("ipip", &d) && d == NOSNAT_DECAP_IPIP, "decap ipip");
		EXPECT(!parse_decap("gue", &d) && d == NOSNAT_DECAP_GUE, "decap gue");
		EXPECT(!parse_decap("gue,ipip", &d) && d == (NOSNAT_DECAP_IPIP | NOSNAT_DECAP_GUE),
		       "decap both");
		EXPECT(!strcmp(decap_name(d), "ipip,gue") && !strcmp(encap_name(e), "gue"), "names");
		for (size_t i = 0; i < sizeof(bad_decap) / sizeof(bad_decap[0]); i++) {
			d = 0x7f;
			EXPECT(parse_decap(bad_decap[i], &d) && d == 0x7f, "accepted decap '%s'",
			       bad_decap[i]);
		}
	}

	/* every action and reason has a name (they become metric labels) */
	for (unsigned int r = 0; r < NOSNAT_R_MAX; r++)
		EXPECT(strcmp(reason_name(r), "unknown") != 0, "reason %u unnamed", r);
	for (unsigned int a2 = 0; a2 < NOSNAT_ACT_MAX; a2++)
		EXPECT(strcmp(action_name(a2), "unknown") != 0, "action %u unnamed", a2);
}

static struct config cfg;

/* "# expect: LINE:COL: text" on a bad file's first line (COL may be empty).
 * "# node-ip: ADDR" on the second: the file parses, and is refused where
 * apply checks it against the address this node was attached with. */
static void test_config_file(const char *dir, const char *name)
{
	char path[1024], first[256] = "", second[256] = "", want_pos[1100], err[1200];
	const char *want_text = "empty configuration";
	unsigned int line = 1;
	__be32 node_ip = 0;
	int col = 1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f && fgets(first, sizeof(first), f) && !strncmp(first, "# expect: ", 10)) {
		char *p = first + 10, *colon2;

		first[strcspn(first, "\n")] = '\0';
		line = (unsigned int)strtoul(p, &p, 10);
		col = p[1] == ':' ? -1 : (int)strtoul(p + 1, &p, 10);
		colon2 = strchr(p + (col == -1 ? 1 : 0), ':');
		want_text = colon2 ? colon2 + 2 : "";
		if (fgets(second, sizeof(second), f) && !strncmp(second, "# node-ip: ", 11)) {
			second[strcspn(second, "\n")] = '\0';
			EXPECT(!parse_ipv4(second + 11, &node_ip), "%s: bad node-ip line", name);
		}
	}
	if (f)
		fclose(f);
	if (node_ip) {
		int rc = config_load(path, &cfg, err, sizeof(err));

		EXPECT(rc == 0, "%s does not parse: %s", name, err);
		if (!rc)
			rc = config_check_vips(&cfg, 0, node_ip, NULL, path, err, sizeof(err));
		EXPECT(rc == -EINVAL, "%s accepted at apply (node %s): %d", name, second + 11, rc);
		snprintf(want_pos, sizeof(want_pos), "%s:%u:%d: ", path, line, col);
		EXPECT(rc && !strncmp(err, want_pos, strlen(want_pos)) && strstr(err, want_text),
		       "%s: %s (want %s%s)", name, err, want_pos, want_text);
		return;
	}
	if (!strncmp(name, "good", 4)) {
		int rc = config_load(path, &cfg, err, sizeof(err));

		EXPECT(rc == 0, "%s rejected: %s", name, err);
		return;
	}
	EXPECT(config_load(path, &cfg, err, sizeof(err)) == -EINVAL, "%s accepted", name);
	if (col < 0)
		snprintf(want_pos, sizeof(want_pos), "%s:%u:", path, line);
	else
		snprintf(want_pos, sizeof(want_pos), "%s:%u:%d: ", path, line, col);
	EXPECT(!strncmp(err, want_pos, strlen(want_pos)), "%s: error at the wrong place: %s (want %s)",
	       name, err, want_pos);
	EXPECT(strstr(err, want_text) != NULL, "%s: error '%s' lacks '%s'", name, err, want_text);
	EXPECT(!strchr(err, '\n'), "%s: error is more than one line", name);
}

static void test_config(const char *fixtures)
{
	char dir[700], err[1200], big[64] = "/tmp/nosnat-unit-big.XXXXXX";
	struct dirent **ents;
	int n, files = 0, fd;

	snprintf(dir, sizeof(dir), "%s/config", fixtures);
	n = scandir(dir, &ents, NULL, alphasort);
	EXPECT(n > 0, "no config fixtures in %s", dir);
	for (int i = 0; i < n; i++) {
		if (strstr(ents[i]->d_name, ".yaml")) {
			test_config_file(dir, ents[i]->d_name);
			files++;
		}
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
	EXPECT(files >= 20, "only %d config fixtures", files);

	/* The good file, in detail. */
	snprintf(dir, sizeof(dir), "%s/config/good-mail.yaml", fixtures);
	if (config_load(dir, &cfg, err, sizeof(err)) == 0) {
		EXPECT(cfg.has_node && cfg.node == htonl(0xc633640d), "node");
		EXPECT(cfg.n_nodes == 3, "nodes %zu", cfg.n_nodes);
		EXPECT(cfg.n_vips == 5, "VIP ports %zu", cfg.n_vips);
		EXPECT(cfg.n_bes == 8, "backends %zu", cfg.n_bes);
		EXPECT(!strcmp(cfg.vips[0].name, "mail") && cfg.vips[4].name[0] == 0, "names");
		EXPECT(cfg.vips[3].key.port == htons(993) &&
		       cfg.bes[cfg.vips[3].first_be].port == htons(10993), "targetPort");
		EXPECT(cfg.vips[0].key.port == htons(25) &&
		       cfg.bes[cfg.vips[0].first_be].port == htons(25), "targetPort default");
		EXPECT(cfg.bes[1].weight == 0 && cfg.bes[0].weight == 1, "weights");
		EXPECT(cfg.vips[4].key.proto == 17 && cfg.vips[4].n_be == 0, "udp service");
	}

	/* Dual stack: a VIP port per family, each with the backends of its family. */
	snprintf(dir, sizeof(dir), "%s/config/good-dual-stack.yaml", fixtures);
	if (config_load(dir, &cfg, err, sizeof(err)) == 0) {
		__u8 v6[16], pod6[16];
		char vs[VIP_STR_LEN];

		inet_pton(AF_INET6, "2001:db8::25", v6);
		inet_pton(AF_INET6, "2001:db8:19:3::17", pod6);
		EXPECT(cfg.n_vips == 5, "dual stack: VIP ports %zu", cfg.n_vips);
		EXPECT(cfg.n_bes == 7, "dual stack: backends %zu", cfg.n_bes);
		EXPECT(!cfg.vips[0].vk.v6 && cfg.vips[0].key.addr == inet_addr("192.0.2.10") &&
		       cfg.vips[0].n_be == 1 && cfg.bes[cfg.vips[0].first_be].addr == inet_addr("198.18.3.17"),
		       "dual stack: the v4 VIP port takes the v4 pod");
		EXPECT(cfg.vips[1].vk.v6 == NOSNAT_VIP_ID_V6 && !memcmp(cfg.vips[1].vk.addr6, v6, 16) &&
		       cfg.vips[1].key.port == htons(25) && cfg.vips[1].n_be == 2 &&
		       !memcmp(cfg.bes[cfg.vips[1].first_be].addr6, pod6, 16) &&
		       cfg.bes[cfg.vips[1].first_be].addr == nosnat_addr6_fold(pod6) &&
		       cfg.bes[cfg.vips[1].first_be + 1].weight == 0,
		       "dual stack: the v6 VIP port takes the v6 pods");
		EXPECT(!strcmp(vip_str(&cfg.vips[3].vk, vs), "[2001:db8::25]:993/tcp") &&
		       cfg.bes[cfg.vips[3].first_be].port == htons(10993), "dual stack: %s, targetPort", vs);
		EXPECT(!strcmp(vip_str(&cfg.vips[4].vk, vs), "[2001:db8::53]:53/udp") &&
		       !strcmp(cfg.vips[4].name, "dns6") && cfg.vips[4].n_be == 1, "v6 only: %s", vs);
		EXPECT(config_check_vips(&cfg, 0, cfg.node, NULL, dir, err, sizeof(err)) == 0,
		       "dual stack refused at apply: %s", err);
	}

	/* A Kubernetes service's VIPs of both families, given in the file. */
	snprintf(dir, sizeof(dir), "%s/config/good-kube-dual-stack.yaml", fixtures);
	if (config_load(dir, &cfg, err, sizeof(err)) == 0) {
		__u8 v6[16], dns6[16];

		inet_pton(AF_INET6, "2001:db8::25", v6);
		inet_pton(AF_INET6, "2001:db8::53", dns6);
		EXPECT(cfg.n_ksvcs == 2 && cfg.ksvcs[0].vip == inet_addr("192.0.2.10") &&
		       !memcmp(cfg.ksvcs[0].vip6, v6, 16) && !cfg.ksvcs[1].vip &&
		       !memcmp(cfg.ksvcs[1].vip6, dns6, 16) && cfg.ksvcs[1].proto == IPPROTO_UDP,
		       "Kubernetes services' VIPs of both families");
	}

	/* The tunnel settings, and their absence. */
	snprintf(dir, sizeof(dir), "%s/config/good-gue.yaml", fixtures);
	if (config_load(dir, &cfg, err, sizeof(err)) == 0)
		EXPECT(cfg.tun_set == (CONFIG_HAS_ENCAP | CONFIG_HAS_GUE_PORT | CONFIG_HAS_DECAP) &&
		       cfg.encap == NOSNAT_ENCAP_GUE && cfg.gue_port == 6080 &&
		       cfg.decap == (NOSNAT_DECAP_IPIP | NOSNAT_DECAP_GUE), "tunnel settings");
	snprintf(dir, sizeof(dir), "%s/config/good-mail.yaml", fixtures);
	if (config_load(dir, &cfg, err, sizeof(err)) == 0)
		EXPECT(cfg.tun_set == 0, "tunnel settings where the file gives none");
	EXPECT(config_parse("mem", "decap: gue\n", 11, &cfg, err, sizeof(err)) == 0 &&
	       cfg.tun_set == CONFIG_HAS_DECAP && cfg.decap == NOSNAT_DECAP_GUE, "decap as one word: %s",
	       err);

	/* A file of many megabytes is refused before it is read. */
	fd = mkstemp(big);
	if (fd >= 0) {
		EXPECT(ftruncate(fd, 5 << 20) == 0, "truncate");
		close(fd);
		EXPECT(config_load(big, &cfg, err, sizeof(err)) == -EFBIG && strstr(err, "too large") &&
		       strstr(err, ":1:1: "), "big file: %s", err);
		unlink(big);
	}
	/* Same through the in-memory parser (what the fuzzer drives). */
	{
		static char buf[(1 << 20) + 2];

		memset(buf, '#', sizeof(buf));
		EXPECT(config_parse("mem", buf, sizeof(buf), &cfg, err, sizeof(err)) == -EINVAL &&
		       strstr(err, "too large"), "big buffer: %s", err);
		EXPECT(config_parse("mem", "nodes: [\0]", 11, &cfg, err, sizeof(err)) == -EINVAL,
		       "NUL byte accepted");
	}
}

static struct metrics mx;

static void fill_metrics(void)
{
	memset(&mx, 0, sizeof(mx));
	mx.version = "1.2.3-test";
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_PASS][NOSNAT_R_NONE][0] = 1000;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_PASS][NOSNAT_R_NONE][1] = 64000;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_PASS][NOSNAT_R_MALFORMED][0] = 2;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_PASS][NOSNAT_R_TO_TC][0] = 5;	/* not a drop */
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_PASS][NOSNAT_R_TO_TC][1] = 400;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_ENCAP][NOSNAT_R_NONE][0] = 50;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_ENCAP][NOSNAT_R_NONE][1] = 70000;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_ENCAP][NOSNAT_R_NEIGH_FALLBACK][0] = 1;
	mx.verdict[NOSNAT_HOOK_TC_INGRESS][NOSNAT_ACT_ENCAP][NOSNAT_R_NEIGH_FALLBACK][0] = 1;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_DROP][NOSNAT_R_FRAGMENT][0] = 3;
	mx.verdict[NOSNAT_HOOK_XDP][NOSNAT_ACT_DROP][NOSNAT_R_UNKNOWN_ENCAP_SRC][0] = 4;
	mx.verdict[NOSNAT_HOOK_TC_EGRESS][NOSNAT_ACT_REPLY_NAT][NOSNAT_R_NONE][0] = 40;
	/* out of order on purpose: rendering sorts (v4 before v6) */
	mx.vips[0] = (struct metrics_vip){ .key = { htonl(0xc000020a), htons(465), 6 }, .name = "mail",
					   .packets = 7, .bytes = 700, .flows = 1, .backends = 1, .active = 1 };
	mx.vips[1] = (struct metrics_vip){ .key = { htonl(0xc000020a), htons(25), 6 }, .name = "mail",
					   .packets = 51, .bytes = 70000, .flows = 2, .backends = 2, .active = 1 };
	mx.n_vips = 3;
	mx.vips[2] = (struct metrics_vip){ .key = { .port = htons(25), .proto = 6, .v6 = NOSNAT_VIP_ID_V6 },
					   .name = "mail", .packets = 9, .bytes = 900, .flows = 1,
					   .backends = 1, .active = 1 };
	inet_pton(AF_INET6, "2001:db8::25", mx.vips[2].key.addr6);
	mx.vips[2].key.addr = nosnat_addr6_fold(mx.vips[2].key.addr6);
	mx.n_bes = 5;
	mx.bes[3] = (struct metrics_backend){ .vip = mx.vips[2].key, .node = htonl(0xc633640c),
					      .port = htons(2525), .packets = 9, .bytes = 900 };
	inet_pton(AF_INET6, "2001:db8:19:2::10", mx.bes[3].addr6);
	mx.bes[3].addr = nosnat_addr6_fold(mx.bes[3].addr6);
	/* a v6 pod on a node of an IPv6 node network: its node label is that address */
	mx.bes[4] = (struct metrics_backend){ .vip = mx.vips[2].key, .port = htons(2525), .packets = 4,
					      .bytes = 400 };
	inet_pton(AF_INET6, "2001:db8:19:3::10", mx.bes[4].addr6);
	mx.bes[4].addr = nosnat_addr6_fold(mx.bes[4].addr6);
	inet_pton(AF_INET6, "2001:db8:100::12", mx.bes[4].node6);
	mx.bes[4].node = nosnat_addr6_fold(mx.bes[4].node6);
	mx.bes[0] = (struct metrics_backend){ .vip = mx.vips[1].key, .addr = htonl(0xc6120302),
					      .node = htonl(0xc633640d), .port = htons(2525),
					      .packets = 30, .bytes = 40000 };
	mx.bes[1] = (struct metrics_backend){ .vip = mx.vips[1].key, .addr = htonl(0xc6120202),
					      .node = htonl(0xc633640c), .port = htons(2525),
					      .packets = 21, .bytes = 30000 };
	mx.bes[2] = (struct metrics_backend){ .vip = mx.vips[0].key, .addr = htonl(0xc6120202),
					      .node = htonl(0xc633640c), .port = htons(465),
					      .packets = 7, .bytes = 700 };
	mx.flows = 3;
	mx.flows_max = 262144;
	mx.flows_new = 4;
	mx.flows6 = 1;
	mx.flows6_max = NOSNAT_FLOW6_ENTRIES;
	mx.flows6_new = 2;
	mx.flows6_new_max = NOSNAT_NEW_FLOW6_ENTRIES;
	mx.flow_events[NOSNAT_R_CT_RECOVERED] = 8;
	mx.flow_events[NOSNAT_R_SECOND_CHANCE] = 2;
	mx.flow_events[NOSNAT_R_NEW_FLOW_LIMITED] = 650361;
	mx.pods = 2;
	mx.cfg_flags = NOSNAT_CFG_TWIN_DNAT | NOSNAT_CFG_XDP_META;
	mx.cfg_encap = NOSNAT_ENCAP_GUE;
	mx.cfg_decap = NOSNAT_DECAP_IPIP | NOSNAT_DECAP_GUE;
	mx.ctl = (struct nosnat_ctl){ .reloads = 5, .reload_failures = 1, .last_success = 1795000000 };
	mx.has_kube = 1;
	mx.has_daemon = 1;
	mx.daemon_reattaches = 1;
	mx.has_verify = 1;
	mx.verify_problems = 0;
	mx.kube_connected = 1;
	mx.kube_last_sync = 1795000100;
	mx.kube_watch_restarts = 2;
	mx.kube_invalid_endpoints = 3;
	mx.kube_rejected_services = 1;
}

static void test_metrics(const char *fixtures)
{
	char *buf = NULL, golden_path[600], *golden = NULL, *line, *save;
	size_t len = 0, glen = 0;
	FILE *f = open_memstream(&buf, &len);
	char seen[256][160];
	int n_seen = 0, dups = 0, bad = 0, drops = 0, events = 0;

	fill_metrics();
	metrics_render(f, &mx);
	fclose(f);
	snprintf(golden_path, sizeof(golden_path), "%s/metrics.golden", fixtures);
	f = fopen(golden_path, "r");
	if (f) {
		golden = calloc(1, 1 << 16);
		glen = fread(golden, 1, (1 << 16) - 1, f);
		fclose(f);
	}
	if (getenv("NOSNAT_UPDATE_GOLDEN")) {
		f = fopen(golden_path, "w");
		if (f) {
			fwrite(buf, 1, len, f);
			fclose(f);
		}
	} else {
		EXPECT(golden && glen == len && !memcmp(golden, buf, len),
		       "metrics differ from %s (NOSNAT_UPDATE_GOLDEN=1 rewrites it after review)",
		       golden_path);
	}
	/* What promtool does not check: duplicate series and timestamps. */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char series[160];
		int fields = 0;

		if (line[0] == '#')
			continue;
		for (char *p = line; *p; p++)
			if (*p == ' ')
				fields++;
		if (fields != 1)
			bad++;	/* a timestamp or a space in a label */
		snprintf(series, sizeof(series), "%.*s", (int)(strchr(line, ' ') - line), line);
		for (int i = 0; i < n_seen; i++)
			if (!strcmp(seen[i], series))
				dups++;
		if (n_seen < 256)
			strcpy(seen[n_seen++], series);
		if (!strncmp(line, "nosnat_drops_total{", 19))
			drops++;
		if (!strncmp(line, "nosnat_flow_events_total{", 25))
			events++;
	}
	EXPECT(dups == 0, "%d duplicate series", dups);
	EXPECT(bad == 0, "%d samples with more than a value", bad);
	{	/* every reason of its kind, from the one list */
		int want_drops = 0, want_events = 0;

#define X(id, name, kind) want_drops += REASON_##kind == REASON_DROP; \
			  want_events += REASON_##kind == REASON_FLOW;
		NOSNAT_REASONS(X)
#undef X
		EXPECT(drops == want_drops && want_drops == 13, "%d drop reasons rendered of %d", drops,
		       want_drops);
		EXPECT(events == want_events && want_events == 6, "%d flow events rendered of %d", events,
		       want_events);
	}
	free(buf);
	free(golden);
}

/* --hook, --xdp-meta, --mode values; the mode as cfg's flags say it, in
 * stats and metrics. */
static void test_dataplane_mode(void)
{
	static const struct { __u32 flags; const char *line; } modes[] = {
		{ NOSNAT_CFG_XDP_META, "nosnat_dataplane_info{hook=\"xdp\",xdp_metadata=\"yes\",encap=\"gue\",decap=\"ipip,gue\"} 1\n" },
		{ 0, "nosnat_dataplane_info{hook=\"xdp\",xdp_metadata=\"no\",encap=\"gue\",decap=\"ipip,gue\"} 1\n" },
		{ NOSNAT_CFG_HOOK_TC, "nosnat_dataplane_info{hook=\"tc\",xdp_metadata=\"no\",encap=\"gue\",decap=\"ipip,gue\"} 1\n" },
		/* no metadata without XDP, whatever a stale flag says */
		{ NOSNAT_CFG_HOOK_TC | NOSNAT_CFG_XDP_META,
		  "nosnat_dataplane_info{hook=\"tc\",xdp_metadata=\"no\",encap=\"gue\",decap=\"ipip,gue\"} 1\n" },
	};
	static const char *const bad[] = { "", "XDP", "tc ", "both", "native" };
	enum attach_hook h = ATTACH_HOOK_AUTO;
	enum xdp_meta_use u = XDP_META_AUTO;
	enum xdp_mode m = XDP_MODE_NATIVE;

	EXPECT(!parse_hook("tc", &h) && h == ATTACH_HOOK_TC, "--hook tc");
	EXPECT(!parse_hook("xdp", &h) && h == ATTACH_HOOK_XDP, "--hook xdp");
	EXPECT(!parse_hook("auto", &h) && h == ATTACH_HOOK_AUTO, "--hook auto");
	EXPECT(!parse_xdp_meta("off", &u) && u == XDP_META_OFF, "--xdp-meta off");
	EXPECT(!parse_xdp_meta("auto", &u) && u == XDP_META_AUTO, "--xdp-meta auto");
	EXPECT(!parse_xdp_mode("generic", &m) && m == XDP_MODE_GENERIC, "--mode generic");
	EXPECT(!parse_xdp_mode("native", &m) && m == XDP_MODE_NATIVE, "--mode native");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT(parse_hook(bad[i], &h) == -EINVAL && h == ATTACH_HOOK_AUTO,
		       "--hook '%s' accepted", bad[i]);
		EXPECT(parse_xdp_meta(bad[i], &u) == -EINVAL && u == XDP_META_AUTO,
		       "--xdp-meta '%s' accepted", bad[i]);
	}
	EXPECT(parse_xdp_mode("tc", &m) == -EINVAL, "--mode tc accepted");

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		fill_metrics();
		mx.cfg_flags = modes[i].flags | NOSNAT_CFG_TWIN_DNAT;
		metrics_render(f, &mx);
		fclose(f);
		EXPECT(buf && strstr(buf, modes[i].line), "flags 0x%x: no line %s", modes[i].flags,
		       modes[i].line);
		free(buf);
	}
}

static json_object *js(const char *text)
{
	return json_tokener_parse(text);
}

static struct config kbase, kout, kprev;
static size_t krejected;
static char knotes[4096];

/* kube_resolve into kout, its notes in knotes, skipped Services in krejected */
static int resolve(const struct config *base, const struct kube_snapshot *snap, __be32 node_ip,
		   const struct config *prev)
{
	FILE *f = fmemopen(knotes, sizeof(knotes), "w");
	struct kube_resolve r = { .base = base, .snap = snap, .node_ip = node_ip, .prev = prev, .log = f };
	char err[256];
	int rc = kube_resolve(&r, &kout, err, sizeof(err));

	if (f)
		fclose(f);
	krejected = r.rejected;
	return rc;
}

static void test_kube(void)
{
	static const char *svc_json =
		"{\"kind\":\"Service\",\"metadata\":{\"namespace\":\"mailserver\",\"name\":\"mailserver\"},"
		"\"spec\":{\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":25,\"targetPort\":\"smtp\"},"
		"{\"name\":\"imaps\",\"port\":993,\"targetPort\":10993},{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53},"
		"{\"name\":\"x\",\"protocol\":\"SCTP\",\"port\":9}]},"
		"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.10\"}]}}}";
	static const char *slice1 =
		"{\"metadata\":{\"namespace\":\"mailserver\",\"name\":\"s1\",\"labels\":{\"kubernetes.io/service-name\":\"mailserver\"}},"
		"\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"smtp\",\"port\":2525},{\"name\":\"imaps\",\"port\":10993}],"
		"\"endpoints\":[{\"addresses\":[\"198.18.2.2\"],\"conditions\":{\"ready\":true},\"nodeName\":\"node-b\"},"
		"{\"addresses\":[\"198.18.3.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true},\"nodeName\":\"node-c\"},"
		"{\"addresses\":[\"198.18.3.9\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true},\"nodeName\":\"node-c\"},"
		"{\"addresses\":[\"198.18.9.9\"],\"conditions\":{},\"nodeName\":\"node-gone\"},"
		"{\"addresses\":[\"not-an-ip\"],\"nodeName\":\"node-b\"}]}";
	/* the same pod in a second slice (during a slice split), ready there */
	static const char *slice2 =
		"{\"metadata\":{\"namespace\":\"mailserver\",\"name\":\"s2\",\"labels\":{\"kubernetes.io/service-name\":\"mailserver\"}},"
		"\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"smtp\",\"port\":2525}],"
		"\"endpoints\":[{\"addresses\":[\"198.18.3.2\"],\"conditions\":{\"ready\":true},\"nodeName\":\"node-c\"},"
		"{\"addresses\":[\"198.18.1.7\"],\"nodeName\":\"node-a\"}]}";
	static const char *const nodes_json[] = {
		"{\"metadata\":{\"name\":\"node-a\"},\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"node-a\"},{\"type\":\"InternalIP\",\"address\":\"198.51.100.11\"}]}}",
		"{\"metadata\":{\"name\":\"node-b\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"198.51.100.12\"}]}}",
		"{\"metadata\":{\"name\":\"node-c\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"198.51.100.13\"}]}}",
	};
	static const char *const bad[] = {
		"{}", "[]", "{\"metadata\":{}}", "{\"metadata\":{\"name\":5}}",
		"{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":{\"ports\":[{\"port\":70000}]}}",
		"{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":{\"ports\":[{\"port\":25,\"targetPort\":[1]}]}}",
		"{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":{\"ports\":[\"25\"]}}",
	};
	struct kube_service svc;
	struct kube_slice sl[2];
	struct kube_node nodes[3];
	struct kube_snapshot snap;
	char err[256];
	json_object *o;
	int ok;

	o = js(svc_json);
	EXPECT(o && !kube_parse_service(o, &svc, err, sizeof(err)), "service: %s", err);
	json_object_put(o);
	EXPECT(svc.n_ports == 4 && svc.lb_ip == htonl(0xc000020a), "service ports/LB IP");
	EXPECT(!strcmp(svc.ports[0].target_name, "smtp") && svc.ports[1].target_port == 10993 &&
	       svc.ports[2].proto == 17 && svc.ports[3].proto == 0 && svc.ports[1].proto == 6,
	       "targetPort by name and number, protocols");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kube_service tmp;

		o = js(bad[i]);
		EXPECT(kube_parse_service(o, &tmp, err, sizeof(err)) != 0, "bad service %zu accepted", i);
		json_object_put(o);
	}
	o = js(slice1);
	EXPECT(!kube_parse_slice(o, &sl[0], err, sizeof(err)), "slice: %s", err);
	json_object_put(o);
	EXPECT(sl[0].n_eps == 4, "slice endpoints %zu (the one without an IPv4 dropped)", sl[0].n_eps);
	EXPECT(sl[0].n_invalid == 1, "slice: %zu endpoints counted as skipped, want 1", sl[0].n_invalid);
	o = js(slice2);
	EXPECT(!kube_parse_slice(o, &sl[1], err, sizeof(err)), "slice 2: %s", err);
	json_object_put(o);
	{
		struct kube_slice tmp;

		o = js("{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"addressType\":\"IPv4\"}");
		EXPECT(kube_parse_slice(o, &tmp, err, sizeof(err)) != 0, "slice without a service label accepted");
		json_object_put(o);
	}
	for (int i = 0; i < 3; i++) {
		o = js(nodes_json[i]);
		EXPECT(!kube_parse_node(o, &nodes[i], err, sizeof(err)), "node %d", i);
		json_object_put(o);
	}
	EXPECT(nodes[0].ip == htonl(0xc633640b), "InternalIP chosen over Hostname");

	memset(&kbase, 0, sizeof(kbase));
	kbase.nodes_from_kube = 1;
	kbase.n_ksvcs = 1;
	strcpy(kbase.ksvcs[0].ns, "mailserver");
	strcpy(kbase.ksvcs[0].name, "mailserver");
	strcpy(kbase.ksvcs[0].label, "mail");
	snap = (struct kube_snapshot){ .svcs = &svc, .n_svcs = 1, .slices = sl, .n_slices = 2,
				       .nodes = nodes, .n_nodes = 3 };
	ok = !resolve(&kbase, &snap, 0, NULL);
	EXPECT(ok, "resolve: %s", err);
	/* 25/tcp, 993/tcp, 53/udp (SCTP skipped) */
	EXPECT(kout.n_nodes == 3 && kout.n_vips == 3, "nodes %zu VIP ports %zu", kout.n_nodes, kout.n_vips);
	if (ok && kout.n_vips == 3) {
		const struct config_vip *smtp = &kout.vips[0];
		int seen_b = 0, seen_c = 0, seen_a = 0;

		EXPECT(smtp->key.port == htons(25) && smtp->key.addr == htonl(0xc000020a) &&
		       !strcmp(smtp->name, "mail"), "smtp VIP");
		for (size_t b = 0; b < smtp->n_be; b++) {
			const struct config_backend *cb = &kout.bes[smtp->first_be + b];

			EXPECT(cb->port == htons(2525), "pod port from the slice");
			if (cb->addr == htonl(0xc6120202))
				seen_b = cb->weight == 1 && cb->node == htonl(0xc633640c);
			if (cb->addr == htonl(0xc6120302))
				seen_c = cb->weight == 1;	/* draining in s1, ready in s2: ready wins */
			if (cb->addr == htonl(0xc6120107))
				seen_a = cb->weight == 1;	/* conditions absent: ready */
		}
		EXPECT(smtp->n_be == 3 && seen_b && seen_c && seen_a,
		       "smtp backends %zu (b %d, c %d, a %d): not-serving and unknown-node ones skipped",
		       smtp->n_be, seen_b, seen_c, seen_a);
		EXPECT(kout.vips[1].key.port == htons(993) && kout.vips[1].n_be == 2 &&
		       kout.bes[kout.vips[1].first_be].port == htons(10993), "imaps via named slice port");
		EXPECT(kout.vips[2].key.proto == 17 && kout.vips[2].n_be == 0, "udp port, no slice port");
	}
	/* only port 25, a VIP override, and a service that does not exist */
	kbase.ksvcs[0].ports[0] = htons(25);
	kbase.ksvcs[0].n_ports = 1;
	kbase.ksvcs[0].vip = htonl(0xc000020b);
	kbase.n_ksvcs = 2;
	strcpy(kbase.ksvcs[1].ns, "other");
	strcpy(kbase.ksvcs[1].name, "missing");
	EXPECT(!resolve(&kbase, &snap, 0, NULL) && kout.n_vips == 1 &&
	       kout.vips[0].key.addr == htonl(0xc000020b), "port filter and VIP override");
	/* the draining pod alone: weight 0 */
	sl[1].n_eps = 0;
	kbase.n_ksvcs = 1;
	EXPECT(!resolve(&kbase, &snap, 0, NULL), "resolve");
	for (size_t b = 0; b < kout.vips[0].n_be; b++)
		if (kout.bes[kout.vips[0].first_be + b].addr == htonl(0xc6120302))
			EXPECT(kout.bes[kout.vips[0].first_be + b].weight == 0, "terminating pod drains");
	/* no LB IP yet: nothing for the service, no error */
	svc.lb_ip = 0;
	kbase.ksvcs[0].vip = 0;
	EXPECT(!resolve(&kbase, &snap, 0, NULL) && kout.n_vips == 0,
	       "service without a VIP yet");
	kube_slice_free(&sl[0]);
	kube_slice_free(&sl[1]);
}

/* A dual-stack Service: its LoadBalancer's v4 and v6 ingress ips become a
 * VIP port each, the IPv4 slice's endpoints the v4 one's backends, the
 * IPv6 slice's the v6 one's. */
static void test_kube6(void)
{
	static const char *svc_json =
		"{\"kind\":\"Service\",\"metadata\":{\"namespace\":\"mail\",\"name\":\"smtp\"},"
		"\"spec\":{\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":25}]},"
		"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"2001:db8::25\"},{\"ip\":\"192.0.2.10\"},"
		"{\"ip\":\"2001:db8::26\"}]}}}";
	static const char *slice4 =
		"{\"metadata\":{\"namespace\":\"mail\",\"name\":\"smtp-4\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"smtp\"}},\"addressType\":\"IPv4\","
		"\"ports\":[{\"name\":\"smtp\",\"port\":2525}],"
		"\"endpoints\":[{\"addresses\":[\"198.18.1.2\"],\"nodeName\":\"node-a\"}]}";
	static const char *slice6 =
		"{\"metadata\":{\"namespace\":\"mail\",\"name\":\"smtp-6\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"smtp\"}},\"addressType\":\"IPv6\","
		"\"ports\":[{\"name\":\"smtp\",\"port\":2525}],"
		"\"endpoints\":[{\"addresses\":[\"2001:db8:19:2::10\"],\"nodeName\":\"node-a\"},"
		"{\"addresses\":[\"2001:db8:19:3::10\"],\"nodeName\":\"node-b\",\"conditions\":{\"ready\":false,"
		"\"serving\":true,\"terminating\":true}},"
		"{\"addresses\":[\"fe80::1\"],\"nodeName\":\"node-b\"},"
		"{\"addresses\":[\"198.18.1.3\"],\"nodeName\":\"node-b\"}]}";
	struct kube_node nodes[2] = { { .name = "node-a" }, { .name = "node-b" } };
	struct kube_service svc;
	struct kube_slice sl[2];
	struct kube_snapshot snap = { .svcs = &svc, .n_svcs = 1, .slices = sl, .n_slices = 2,
				      .nodes = nodes, .n_nodes = 2 };
	__u8 want6[16], pod6[16];
	char err[256], vs[VIP_STR_LEN];
	json_object *o;

	nodes[0].ip = inet_addr("198.51.100.11");
	nodes[1].ip = inet_addr("198.51.100.12");
	o = js(svc_json);
	EXPECT(o && !kube_parse_service(o, &svc, err, sizeof(err)), "v6 service: %s", err);
	json_object_put(o);
	inet_pton(AF_INET6, "2001:db8::25", want6);
	EXPECT(svc.lb_ip == inet_addr("192.0.2.10") && !memcmp(svc.lb_ip6, want6, 16),
	       "the first LB ingress ip of each family");
	o = js(slice4);
	EXPECT(o && !kube_parse_slice(o, &sl[0], err, sizeof(err)) && !sl[0].v6 && sl[0].n_eps == 1,
	       "IPv4 slice: %s", err);
	json_object_put(o);
	o = js(slice6);
	EXPECT(o && !kube_parse_slice(o, &sl[1], err, sizeof(err)) && sl[1].v6 && sl[1].n_eps == 2 &&
	       sl[1].n_invalid == 2, "IPv6 slice: %zu endpoints, %zu invalid (link-local, v4)",
	       sl[1].n_eps, sl[1].n_invalid);
	json_object_put(o);
	inet_pton(AF_INET6, "2001:db8:19:2::10", pod6);
	EXPECT(sl[1].n_eps && !memcmp(sl[1].eps[0].addr6, pod6, 16) &&
	       sl[1].eps[0].addr == nosnat_addr6_fold(pod6), "v6 endpoint address");

	memset(&kbase, 0, sizeof(kbase));
	kbase.nodes_from_kube = 1;
	kbase.n_ksvcs = 1;
	snprintf(kbase.ksvcs[0].ns, sizeof(kbase.ksvcs[0].ns), "mail");
	snprintf(kbase.ksvcs[0].name, sizeof(kbase.ksvcs[0].name), "smtp");
	snprintf(kbase.ksvcs[0].label, sizeof(kbase.ksvcs[0].label), "mail/smtp");
	EXPECT(!resolve(&kbase, &snap, nodes[0].ip, NULL) && kout.n_vips == 2 && kout.n_bes == 3 &&
	       krejected == 0, "dual stack from Kubernetes: %zu VIP ports, %zu backends: %s", kout.n_vips,
	       kout.n_bes, knotes);
	if (kout.n_vips == 2) {
		const struct config_vip *v4 = &kout.vips[0], *v6 = &kout.vips[1];

		EXPECT(!v4->vk.v6 && v4->n_be == 1 && kout.bes[v4->first_be].addr == inet_addr("198.18.1.2"),
		       "the v4 VIP port takes the IPv4 slice");
		EXPECT(!strcmp(vip_str(&v6->vk, vs), "[2001:db8::25]:25/tcp") && v6->n_be == 2 &&
		       !memcmp(kout.bes[v6->first_be].addr6, pod6, 16) &&
		       kout.bes[v6->first_be].port == htons(2525) &&
		       kout.bes[v6->first_be].node == nodes[0].ip &&
		       kout.bes[v6->first_be].weight == 1 && kout.bes[v6->first_be + 1].weight == 0,
		       "the v6 VIP port takes the IPv6 slice: %s", vs);
	}
	/* the file's vip wins over the LoadBalancer's: only the family given */
	inet_pton(AF_INET6, "2001:db8::99", kbase.ksvcs[0].vip6);
	EXPECT(!resolve(&kbase, &snap, nodes[0].ip, NULL) && kout.n_vips == 1 && kout.vips[0].vk.v6 &&
	       !memcmp(kout.vips[0].vk.addr6, kbase.ksvcs[0].vip6, 16) && kout.vips[0].n_be == 2,
	       "a v6 vip given in the file");
	/* a broken v6 part skips the whole Service */
	memset(kbase.ksvcs[0].vip6, 0, 16);
	inet_pton(AF_INET6, "::1", svc.lb_ip6);
	EXPECT(!resolve(&kbase, &snap, nodes[0].ip, NULL) && kout.n_vips == 0 && krejected == 1 &&
	       strstr(knotes, "192.0.2.10, ::1") && strstr(knotes, "loopback"),
	       "a Service with a loopback v6 VIP: %s", knotes);
	kube_slice_free(&sl[0]);
	kube_slice_free(&sl[1]);
}

static struct kube_service ksvc(const char *ns, const char *name, const char *lb, int n_ports)
{
	struct kube_service v = {};

	snprintf(v.ns, sizeof(v.ns), "%s", ns);
	snprintf(v.name, sizeof(v.name), "%s", name);
	v.lb_ip = inet_addr(lb);
	for (int i = 0; i < n_ports; i++) {
		snprintf(v.ports[i].name, sizeof(v.ports[i].name), "p%d", i);
		v.ports[i].port = (__u16)(25 + i);
		v.ports[i].proto = IPPROTO_TCP;
		v.ports[i].target_port = 2525;
	}
	v.n_ports = (size_t)n_ports;
	return v;
}

/* n ready endpoints 198.18.X.1.. on node, for every port of svc (pod port 2525) */
static struct kube_slice kslice_of(const struct kube_service *svc, struct kube_endpoint *eps, int n,
				   int x, const char *node)
{
	struct kube_slice sl = { .eps = eps, .n_eps = (size_t)n };

	snprintf(sl.ns, sizeof(sl.ns), "%s", svc->ns);
	snprintf(sl.name, sizeof(sl.name), "%.60s-1", svc->name);
	snprintf(sl.service, sizeof(sl.service), "%.60s", svc->name);
	for (size_t i = 0; i < svc->n_ports; i++) {
		sl.ports[i] = svc->ports[i];
		sl.ports[i].port = 2525;
	}
	sl.n_ports = svc->n_ports;
	for (int i = 0; i < n; i++) {
		eps[i] = (struct kube_endpoint){ .addr = htonl(0xc6120000u | (uint32_t)x << 8 | (uint32_t)(i + 1)),
						 .ready = 1, .serving = 1 };
		snprintf(eps[i].node, sizeof(eps[i].node), "%s", node);
	}
	return sl;
}

static const struct config_vip *vip_of(const struct config *c, const char *addr)
{
	for (size_t i = 0; i < c->n_vips; i++)
		if (c->vips[i].key.addr == inet_addr(addr))
			return &c->vips[i];
	return NULL;
}

/* One Service that breaks a rule is skipped (its last applied state kept),
 * the others resolved; Kubernetes addresses get the static file's checks. */
static void test_kube_isolation(void)
{
	static struct kube_endpoint eps[4][20];
	static const char *const svc_names[] = { "big", "small", "third" };
	struct kube_node nodes[3] = { { .name = "node-a" }, { .name = "node-b" }, { .name = "node-c" } };
	struct kube_service svcs[3];
	struct kube_slice sl[3];
	struct kube_snapshot snap;
	const struct config_vip *v;
	__be32 self = inet_addr("198.51.100.11");

	nodes[0].ip = self;
	nodes[1].ip = inet_addr("198.51.100.12");
	nodes[2].ip = inet_addr("198.51.100.13");
	memset(&kbase, 0, sizeof(kbase));
	kbase.nodes_from_kube = 1;
	kbase.n_ksvcs = 3;
	for (int i = 0; i < 3; i++) {
		snprintf(kbase.ksvcs[i].ns, sizeof(kbase.ksvcs[i].ns), "tenant%d", i);
		snprintf(kbase.ksvcs[i].name, sizeof(kbase.ksvcs[i].name), "%s", svc_names[i]);
		snprintf(kbase.ksvcs[i].label, sizeof(kbase.ksvcs[i].label), "tenant%d/%s", i, svc_names[i]);
	}
	svcs[0] = ksvc("tenant0", "big", "192.0.2.20", 1);
	svcs[1] = ksvc("tenant1", "small", "192.0.2.21", 1);
	svcs[2] = ksvc("tenant2", "third", "192.0.2.22", 1);
	sl[0] = kslice_of(&svcs[0], eps[0], 16, 1, "node-a");	/* 16 here: the most there can be */
	sl[1] = kslice_of(&svcs[1], eps[1], 1, 2, "node-b");
	sl[2] = kslice_of(&svcs[2], eps[2], 2, 3, "node-c");
	snap = (struct kube_snapshot){ .svcs = svcs, .n_svcs = 3, .slices = sl, .n_slices = 3,
				       .nodes = nodes, .n_nodes = 3 };
	EXPECT(!resolve(&kbase, &snap, self, NULL) && krejected == 0 && kout.n_vips == 3,
	       "16 local endpoints: %zu rejected, %zu VIP ports (%s)", krejected, kout.n_vips, knotes);
	memcpy(&kprev, &kout, sizeof(kprev));	/* applied */

	/* the Deployment scales to 17 pods on this node: that Service alone is
	 * skipped, keeping the 16 applied; the other two follow their changes */
	sl[0] = kslice_of(&svcs[0], eps[0], 17, 1, "node-a");
	sl[1] = kslice_of(&svcs[1], eps[1], 2, 2, "node-b");
	EXPECT(!resolve(&kbase, &snap, self, &kprev) && krejected == 1, "17 local: %zu rejected (%s)",
	       krejected, knotes);
	v = vip_of(&kout, "192.0.2.21");
	EXPECT(v && v->n_be == 2, "the other Service's VIP: %zu backends, want 2", v ? v->n_be : 0);
	EXPECT(vip_of(&kout, "192.0.2.22") != NULL, "the third Service's VIP");
	v = vip_of(&kout, "192.0.2.20");
	EXPECT(v && v->n_be == 16, "the skipped Service keeps its applied 16: %zu", v ? v->n_be : 0);
	EXPECT(strstr(knotes, "service tenant0/big (VIP 192.0.2.20) skipped: 192.0.2.20:25/tcp has 17 "
			      "backends on this node (at most 16); its last applied state stays") != NULL,
	       "note: %s", knotes);
	EXPECT(!config_check_vips(&kout, 0, self, NULL, NULL, knotes, sizeof(knotes)) &&
	       !config_check_pod_ids(&kout, 0, NULL, knotes, sizeof(knotes)),
	       "the result breaks a rule: %s", knotes);
	/* never applied before: nothing for it */
	EXPECT(!resolve(&kbase, &snap, self, NULL) && krejected == 1 && !vip_of(&kout, "192.0.2.20") &&
	       vip_of(&kout, "192.0.2.21") && strstr(knotes, "; nothing applied for it"),
	       "no last state: %zu rejected (%s)", krejected, knotes);
	sl[0] = kslice_of(&svcs[0], eps[0], 3, 1, "node-a");

	/* VIPs that are a node's address: this node's, a listed one's, a
	 * Node's when 'nodes' is static; no unicast address */
	{
		static const struct { const char *lb; int static_nodes; const char *why; } bad_vips[] = {
			{ "198.51.100.11", 0, "VIP 198.51.100.11 is the address of Node node-a" },
			{ "198.51.100.13", 0, "VIP 198.51.100.13 is the address of Node node-c" },
			{ "198.51.100.13", 1, "VIP 198.51.100.13 is the address of Node node-c" },
			{ "127.0.0.5", 0, "VIP 127.0.0.5 is loopback" },
			{ "224.0.0.5", 0, "VIP 224.0.0.5 is multicast" },
			{ "255.255.255.255", 0, "VIP 255.255.255.255 is broadcast" },
			{ "0.1.2.3", 0, "VIP 0.1.2.3 is 'this network'" },
			{ "192.0.2.21", 0, "192.0.2.21:25/tcp is defined twice" },	/* the second's */
		};

		for (size_t i = 0; i < sizeof(bad_vips) / sizeof(bad_vips[0]); i++) {
			kbase.nodes_from_kube = !bad_vips[i].static_nodes;
			kbase.n_nodes = 0;
			if (bad_vips[i].static_nodes) {
				kbase.nodes[kbase.n_nodes++] = nodes[1].ip;
				kbase.nodes[kbase.n_nodes++] = nodes[0].ip;
			}
			svcs[2].lb_ip = inet_addr(bad_vips[i].lb);
			sl[2] = kslice_of(&svcs[2], eps[2], 1, 3, bad_vips[i].static_nodes ? "node-b" : "node-c");
			EXPECT(!resolve(&kbase, &snap, self, NULL) && krejected == 1 &&
			       strstr(knotes, bad_vips[i].why) && vip_of(&kout, "192.0.2.20") &&
			       (i == 7 || vip_of(&kout, "192.0.2.21")),
			       "VIP %s: %zu rejected, notes: %s", bad_vips[i].lb, krejected, knotes);
		}
		/* this node's address, from the attach alone (no Node has it) */
		kbase.nodes_from_kube = 0;
		kbase.n_nodes = 1;
		kbase.nodes[0] = nodes[1].ip;
		svcs[2].lb_ip = inet_addr("198.51.100.99");
		EXPECT(!resolve(&kbase, &snap, inet_addr("198.51.100.99"), NULL) && krejected >= 1 &&
		       strstr(knotes, "VIP 198.51.100.99 is this node's address"), "VIP = --node-ip: %s",
		       knotes);
		kbase.nodes_from_kube = 1;
		kbase.n_nodes = 0;
		svcs[2].lb_ip = inet_addr("192.0.2.22");
	}
	/* 8 VIP ports on one pod port: more than NOSNAT_POD_IDS */
	svcs[2] = ksvc("tenant2", "third", "192.0.2.22", NOSNAT_POD_IDS + 1);
	sl[2] = kslice_of(&svcs[2], eps[2], 1, 3, "node-c");
	EXPECT(!resolve(&kbase, &snap, self, NULL) && krejected == 1 && !vip_of(&kout, "192.0.2.22") &&
	       vip_of(&kout, "192.0.2.21") &&
	       strstr(knotes, "backend 198.18.3.1:2525 serves more than 7 VIP ports of one protocol"),
	       "8 VIP ports on a pod port: %zu rejected, %s", krejected, knotes);
	svcs[2].n_ports = NOSNAT_POD_IDS;
	sl[2].n_ports = NOSNAT_POD_IDS;
	EXPECT(!resolve(&kbase, &snap, self, NULL) && krejected == 0 && kout.n_vips == 2 + NOSNAT_POD_IDS,
	       "7 VIP ports: %zu rejected, %zu VIP ports", krejected, kout.n_vips);

	/* Kubernetes addresses get the unicast check: endpoints and Nodes */
	{
		static const char *const bad_eps[] = { "224.1.2.3", "127.0.0.9", "255.255.255.255",
						       "0.0.0.0", "240.0.0.1" };
		char text[512];
		struct kube_slice t;
		struct kube_node n;
		json_object *o;

		for (size_t i = 0; i < sizeof(bad_eps) / sizeof(bad_eps[0]); i++) {
			snprintf(text, sizeof(text),
				 "{\"metadata\":{\"namespace\":\"a\",\"name\":\"s\",\"labels\":"
				 "{\"kubernetes.io/service-name\":\"b\"}},\"addressType\":\"IPv4\","
				 "\"endpoints\":[{\"addresses\":[\"%s\"],\"nodeName\":\"node-a\"},"
				 "{\"addresses\":[\"198.18.1.1\"],\"nodeName\":\"node-a\"}]}", bad_eps[i]);
			o = js(text);
			EXPECT(o && !kube_parse_slice(o, &t, knotes, sizeof(knotes)) && t.n_eps == 1 &&
			       t.n_invalid == 1 && t.eps[0].addr == inet_addr("198.18.1.1"),
			       "endpoint %s not refused (%zu kept)", bad_eps[i], o ? t.n_eps : 0);
			json_object_put(o);
			kube_slice_free(&t);
			snprintf(text, sizeof(text),
				 "{\"metadata\":{\"name\":\"node-x\"},\"status\":{\"addresses\":["
				 "{\"type\":\"InternalIP\",\"address\":\"%s\"}]}}", bad_eps[i]);
			o = js(text);
			EXPECT(o && !kube_parse_node(o, &n, knotes, sizeof(knotes)) && n.ip == 0,
			       "Node InternalIP %s taken", bad_eps[i]);
			json_object_put(o);
		}
	}
}

/* list --json, through json-c: the exact line for a small state. */
static void test_show_json(void)
{
	static struct scratch tmp;
	static struct state s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *want =
		"{\"node\":\"198.51.100.11\",\"node_ip6\":\"2001:db8:100::11\",\"ifindex\":3,\"mtu\":1500,"
		"\"encap\":\"gue\",\"decap\":\"ipip,gue\",\"gue_port\":6080,"
		"\"nodes\":[\"198.51.100.12\",\"198.51.100.13\",\"2001:db8:100::12\",\"2001:db8:100::13\"],"
		"\"vips\":[{\"vip\":\"192.0.2.10\",\"port\":25,\"proto\":\"tcp\",\"id\":4,\"active\":1,"
		"\"backends\":[{\"id\":7,\"address\":\"198.18.1.2\",\"port\":2525,"
		"\"node\":\"198.51.100.11\",\"weight\":1,\"local\":true},"
		"{\"id\":9,\"address\":\"198.18.2.2\",\"port\":2525,"
		"\"node\":\"198.51.100.12\",\"weight\":0,\"local\":false}]},"
		"{\"vip\":\"192.0.2.11\",\"port\":53,\"proto\":\"udp\",\"id\":5,\"active\":0,"
		"\"backends\":[]},"
		"{\"vip\":\"2001:db8::25\",\"port\":25,\"proto\":\"tcp\",\"id\":6,\"active\":1,"
		"\"backends\":[{\"id\":11,\"address\":\"2001:db8:19:2::10\",\"port\":2525,"
		"\"node\":\"198.51.100.11\",\"weight\":1,\"local\":true},"
		"{\"id\":12,\"address\":\"2001:db8:19:3::10\",\"port\":2525,"
		"\"node\":\"2001:db8:100::12\",\"weight\":1,\"local\":false},"
		"{\"id\":13,\"address\":\"2001:db8:19:1::10\",\"port\":2525,"
		"\"node\":\"2001:db8:100::11\",\"weight\":1,\"local\":true}]}]}\n";

	s.tmp = &tmp;
	s.cfg = (struct nosnat_cfg){ .node_ip = inet_addr("198.51.100.11"), .ifindex = 3, .mtu = 1500,
				     .encap = NOSNAT_ENCAP_GUE, .gue_port = htons(6080),
				     .decap = NOSNAT_DECAP_IPIP | NOSNAT_DECAP_GUE };
	s.nodes[0] = inet_addr("198.51.100.13");	/* listed sorted */
	s.nodes[1] = inet_addr("198.51.100.12");
	s.n_nodes = 2;
	inet_pton(AF_INET6, "2001:db8:100::11", s.cfg.node_ip6);
	inet_pton(AF_INET6, "2001:db8:100::13", s.nodes6[0].addr);	/* listed sorted */
	inet_pton(AF_INET6, "2001:db8:100::12", s.nodes6[1].addr);
	s.n_nodes6 = 2;
	/* v6 pods on v6 nodes: another's (ip6ip6), and this node's by its v6 address */
	inet_pton(AF_INET6, "2001:db8:19:3::10", s.be6[12].addr);
	inet_pton(AF_INET6, "2001:db8:100::12", s.be_node6[12].addr);
	s.be[12] = (struct nosnat_backend){ .addr = nosnat_addr6_fold(s.be6[12].addr), .port = htons(2525),
					    .node = nosnat_addr6_fold(s.be_node6[12].addr), .weight = 1,
					    .vip_id = 6, .flags = NOSNAT_BE_IN_USE | NOSNAT_BE_NODE6 };
	inet_pton(AF_INET6, "2001:db8:19:1::10", s.be6[13].addr);
	memcpy(s.be_node6[13].addr, s.cfg.node_ip6, 16);
	s.be[13] = (struct nosnat_backend){ .addr = nosnat_addr6_fold(s.be6[13].addr), .port = htons(2525),
					    .node = nosnat_addr6_fold(s.cfg.node_ip6), .weight = 1,
					    .vip_id = 6, .flags = NOSNAT_BE_IN_USE | NOSNAT_BE_NODE6 };
	s.vips[0] = (struct vip_entry){ .key = { .addr = inet_addr("192.0.2.11"), .port = htons(53),
						 .proto = IPPROTO_UDP },
					.val = { .id = 5 } };
	s.vips[1] = (struct vip_entry){ .key = { .addr = inet_addr("192.0.2.10"), .port = htons(25),
						 .proto = IPPROTO_TCP },
					.val = { .id = 4, .active = 1 } };
	s.vips[2] = (struct vip_entry){ .vk = { .port = htons(25), .proto = IPPROTO_TCP,
						.v6 = NOSNAT_VIP_ID_V6 },
					.val = { .id = 6, .active = 1 } };
	inet_pton(AF_INET6, "2001:db8::25", s.vips[2].vk.addr6);
	s.vips[2].vk.addr = nosnat_addr6_fold(s.vips[2].vk.addr6);
	s.n_vips = 3;
	inet_pton(AF_INET6, "2001:db8:19:2::10", s.be6[11].addr);
	s.be[11] = (struct nosnat_backend){ .addr = nosnat_addr6_fold(s.be6[11].addr), .port = htons(2525),
					    .node = inet_addr("198.51.100.11"), .weight = 1, .vip_id = 6,
					    .flags = NOSNAT_BE_IN_USE };
	s.be[7] = (struct nosnat_backend){ .addr = inet_addr("198.18.1.2"), .port = htons(2525),
					   .node = inet_addr("198.51.100.11"), .weight = 1, .vip_id = 4,
					   .flags = NOSNAT_BE_IN_USE };
	s.be[9] = (struct nosnat_backend){ .addr = inet_addr("198.18.2.2"), .port = htons(2525),
					   .node = inet_addr("198.51.100.12"), .weight = 0, .vip_id = 4,
					   .flags = NOSNAT_BE_IN_USE };
	show_list(f, &s, 1);
	fclose(f);
	EXPECT(buf && !strcmp(buf, want), "list --json:\n  got  %s  want %s", buf ? buf : "(null)", want);
	free(buf);
}

/* --- IPv6 VIPs ------------------------------------------------------- */

static void test_parse6(void)
{
	struct vip_key k;
	__be32 a;
	__be16 p;
	__u8 a6[16], want6[16];
	char buf[VIP_STR_LEN];
	static const char *const bad_vip6[] = {
		"2001:db8::25:25/tcp", "[2001:db8::25]/tcp", "[2001:db8::25]:/tcp", "[2001:db8::25]:0/tcp",
		"[2001:db8::25]:25", "[2001:db8::25:25/tcp", "2001:db8::25]:25/tcp", "[::]:25/tcp",
		"[2001:db8::g]:25/tcp", "[2001:db8::25]:25/sctp", "[192.0.2.10]:25/tcp", "[]:25/tcp",
		"[2001:db8::25]x:25/tcp", "[2001:db8::25]:25:26/tcp",
		"[2001:0db8:0000:0000:0000:0000:0000:0025]:25/tcp-and-more-than-fits-the-buffer",
	};
	static const char *const bad_ap6[] = { "[2001:db8::10]:", "[2001:db8::10]:0", "[2001:db8::10",
					       "2001:db8::10]:25", "[::]:25", "::", "[2001:db8::10]25",
					       "[198.18.0.5]:25", "[2001:db8::10]:70000", "2001:db8::x" };

	inet_pton(AF_INET6, "2001:db8::25", want6);
	EXPECT(!parse_vip_spec("[2001:db8::25]:25/tcp", &k) && k.v6 == NOSNAT_VIP_ID_V6 &&
	       !memcmp(k.addr6, want6, 16) && k.addr == nosnat_addr6_fold(want6) &&
	       k.port == htons(25) && k.proto == IPPROTO_TCP, "v6 vip spec");
	EXPECT(!strcmp(vip_str(&k, buf), "[2001:db8::25]:25/tcp"), "v6 vip_str: %s", buf);
	EXPECT(vip_key_ids(&k).pad == NOSNAT_VIP_ID_V6 && vip_key_ids(&k).addr == k.addr,
	       "a v6 VIP's nosnat_vip_ids key");
	EXPECT(!parse_vip_spec("[2001:DB8:0::25]:53/udp", &k) && k.proto == IPPROTO_UDP &&
	       !strcmp(vip_str(&k, buf), "[2001:db8::25]:53/udp"), "v6 vip spec, canonical form: %s", buf);
	for (size_t i = 0; i < sizeof(bad_vip6) / sizeof(bad_vip6[0]); i++)
		EXPECT(parse_vip_spec(bad_vip6[i], &k) != 0, "accepted VIP '%s'", bad_vip6[i]);
	EXPECT(!parse_vip_spec("192.0.2.10:25/tcp", &k) && !k.v6 && !addr6_set(k.addr6), "v4 stays v4");

	inet_pton(AF_INET6, "2001:db8:19:2::10", want6);
	EXPECT(!parse_addr_port_any("[2001:db8:19:2::10]:2525", &a, a6, &p) && p == htons(2525) &&
	       !memcmp(a6, want6, 16) && a == nosnat_addr6_fold(want6), "[v6]:port");
	EXPECT(!strcmp(ep_str(a, a6, p, buf), "[2001:db8:19:2::10]:2525"), "ep_str v6: %s", buf);
	EXPECT(!parse_addr_port_any("[2001:db8:19:2::10]", &a, a6, &p) && p == 0 &&
	       !memcmp(a6, want6, 16), "[v6] without port");
	EXPECT(!parse_addr_port_any("2001:db8:19:2::10", &a, a6, &p) && p == 0 &&
	       !memcmp(a6, want6, 16), "bare v6 without port");
	EXPECT(!parse_addr_port_any("198.18.0.5:2525", &a, a6, &p) && a == htonl(0xc6120005) &&
	       p == htons(2525) && !addr6_set(a6), "v4 addr:port through the any parser");
	for (size_t i = 0; i < sizeof(bad_ap6) / sizeof(bad_ap6[0]); i++)
		EXPECT(parse_addr_port_any(bad_ap6[i], &a, a6, &p) != 0, "accepted backend '%s'",
		       bad_ap6[i]);
	/* the address checks of VIPs and pods */
	inet_pton(AF_INET6, "::1", a6);
	EXPECT(config_not_unicast6(a6) && !strcmp(config_not_unicast6(a6), "loopback"), "::1");
	inet_pton(AF_INET6, "ff02::1", a6);
	EXPECT(config_not_unicast6(a6) != NULL, "multicast");
	inet_pton(AF_INET6, "fe80::1", a6);
	EXPECT(config_not_unicast6(a6) != NULL, "link-local");
	inet_pton(AF_INET6, "::ffff:192.0.2.1", a6);
	EXPECT(config_not_unicast6(a6) != NULL, "v4-mapped");
	EXPECT(config_not_unicast6(want6) == NULL, "a unicast v6 address refused");
}

/* v6 backends in Maglev: every node the same table whatever the order, shares
 * by weight, and addresses that differ in one low bit spread. */
static void test_maglev6(void)
{
	struct maglev_backend b[16], shuffled[16];
	size_t c[16], changed = 0;

	for (int i = 0; i < 16; i++) {
		b[i] = (struct maglev_backend){ .port = htons(2525), .weight = 1 };
		inet_pton(AF_INET6, "2001:db8:19:2::10", b[i].addr6);
		b[i].addr6[15] = (uint8_t)(0x10 + i);
		b[i].addr = nosnat_addr6_fold(b[i].addr6);
	}
	EXPECT(maglev_build(b, 16, M, table) == 0, "build v6");
	counts(table, 16, c);
	for (int i = 0; i < 16; i++)
		EXPECT(c[i] >= M / 16 - 1 && c[i] <= M / 16 + 1, "v6 backend %d: %zu slots", i, c[i]);
	for (int i = 0; i < 16; i++)
		shuffled[i] = b[(i * 5) % 16];
	EXPECT(maglev_build(shuffled, 16, M, table2) == 0, "build v6 shuffled");
	for (uint32_t s = 0; s < M; s++)
		changed += memcmp(b[table[s]].addr6, shuffled[table2[s]].addr6, 16) != 0;
	EXPECT(changed == 0, "v6: order changed %zu slots", changed);
	/* two pods whose folds are equal (same words xor'ed) are still two backends */
	inet_pton(AF_INET6, "2001:db8::1", b[0].addr6);
	inet_pton(AF_INET6, "2001:db8:0:1::", b[1].addr6);
	b[0].addr = nosnat_addr6_fold(b[0].addr6);
	b[1].addr = nosnat_addr6_fold(b[1].addr6);
	EXPECT(b[0].addr == b[1].addr, "test addresses fold alike");
	EXPECT(maglev_build(b, 2, M, table) == 0, "build folded pair");
	counts(table, 2, c);
	EXPECT(c[0] >= M / 2 - 1 && c[1] >= M / 2 - 1, "folded pair: %zu and %zu slots", c[0], c[1]);
}

/* The maps of the production object (no program loaded, nothing pinned),
 * for the loader's code to work on as on pins. */
static struct bpf_object *maps_obj;

static int maps_create(const char *obj_path, struct nosnat_maps *m)
{
	struct bpf_program *prog;
	struct bpf_map *map;

	maps_obj = bpf_object__open_file(obj_path, NULL);
	if (!maps_obj)
		return -errno;
	bpf_object__for_each_program(prog, maps_obj)
		bpf_program__set_autoload(prog, false);
	bpf_object__for_each_map(map, maps_obj)
		bpf_map__set_pin_path(map, NULL);
	if (bpf_object__load(maps_obj)) {
		bpf_object__close(maps_obj);
		maps_obj = NULL;
		return -EINVAL;
	}
	*m = (struct nosnat_maps){
#define X(field, map, name) .field = bpf_object__find_map_fd_by_name(maps_obj, name),
		NOSNAT_PINNED_MAPS(X)
#undef X
		.lock_fd = -1,
	};
	return 0;
}

static struct vip_key vk_of(const char *spec)
{
	struct vip_key k = {};

	EXPECT(!parse_vip_spec(spec, &k), "test VIP %s", spec);
	return k;
}

/* A state, a scratch and a verify output, with the maps. */
static struct scratch st6_tmp;
static struct state st6, st6b;

static int verify_quiet(const struct nosnat_maps *m, struct state *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int problems;

	if (state_read(m, s))
		problems = -1;
	else
		problems = state_verify(m, s, f);
	fclose(f);
	if (problems)
		printf("  verify said:\n%s", buf ? buf : "");
	free(buf);
	return problems;
}

/* vip add/del and backend add/del of v6 VIPs through the loader, read back
 * from the maps as the next command would. */
static void test_state6(const char *self)
{
	char obj[700];
	struct nosnat_maps m;
	struct vip_key v4 = vk_of("192.0.2.10:25/tcp"), v6 = vk_of("[2001:db8::25]:25/tcp");
	struct vip_key c1 = vk_of("[2001:db8::1]:25/tcp"), c2 = vk_of("[2001:db8:0:1::]:25/tcp");
	__u8 pod_l[16], pod_r[16], zero6[16] = {};
	__be32 self_ip = inet_addr("198.51.100.11"), other = inet_addr("198.51.100.12");
	struct nosnat_cfg cfg = { .node_ip = self_ip, .mtu = 1500 };
	struct vip_entry *e4, *e6;
	__u32 zero = 0, id4, id6;
	int rc, bl, br;

	snprintf(obj, sizeof(obj), "%.*s/nosnat.bpf.o",
		 (int)(strrchr(self, '/') ? strrchr(self, '/') - self : 1), strrchr(self, '/') ? self : ".");
	if (geteuid()) {
		printf("  skip  v6 state round trips: need root for BPF maps\n");
		return;
	}
	rc = maps_create(obj, &m);
	EXPECT(!rc, "cannot create the maps of %s: %s", obj, strerror(-rc));
	if (rc)
		return;
	st6.tmp = st6b.tmp = &st6_tmp;
	EXPECT(!bpf_map_update_elem(m.cfg, &zero, &cfg, BPF_ANY) && !state_read(&m, &st6), "cfg");
	EXPECT(!op_node_add(&m, &st6, other), "node add");

	/* a v4 and a v6 VIP: ids from one space */
	EXPECT(!op_vip_add_any(&m, &st6, &v4), "vip add v4");
	EXPECT(!op_vip_add_any(&m, &st6, &v6), "vip add v6");
	EXPECT(op_vip_add_any(&m, &st6, &v6) == -EEXIST, "v6 VIP added twice");
	EXPECT(!state_read(&m, &st6b) && st6b.n_vips == 2, "read back: %zu VIPs", st6b.n_vips);
	e4 = state_find_vip_any(&st6b, &v4);
	e6 = state_find_vip_any(&st6b, &v6);
	EXPECT(e4 && e6 && e4->val.id != e6->val.id, "a v4 and a v6 VIP get distinct ids");
	if (!e4 || !e6)
		return;
	id4 = e4->val.id;
	id6 = e6->val.id;
	{
		struct nosnat_vip6_key k6 = vip_key6(&v6);
		struct nosnat_vip val = {};
		struct nosnat_vip_id vi = {};
		struct nosnat_be6 a6;
		struct nosnat_vip_key k4 = vip_key_ids(&v6);
		__u32 refs = 0;

		memcpy(a6.addr, v6.addr6, 16);
		EXPECT(!bpf_map_lookup_elem(m.vips6, &k6, &val) && val.id == id6, "nosnat_vips6 entry");
		EXPECT(bpf_map_lookup_elem(m.vips, &k4, &val), "a v6 VIP in nosnat_vips");
		EXPECT(!bpf_map_lookup_elem(m.vip6_addr, &a6, &refs) && refs == 1, "nosnat_vip6_addr %u",
		       refs);
		EXPECT(!bpf_map_lookup_elem(m.vip_ids, &id6, &vi) && !memcmp(&vi.key, &k4, sizeof(k4)) &&
		       vi.key.pad == NOSNAT_VIP_ID_V6 && nosnat_vip_ref_id(vi.ref) == id6,
		       "nosnat_vip_ids names the v6 VIP");
	}

	/* backends: one here, one on another node; families kept apart */
	inet_pton(AF_INET6, "2001:db8:19:2::10", pod_l);
	inet_pton(AF_INET6, "2001:db8:19:3::10", pod_r);
	EXPECT(!op_backend_add_any(&m, &st6, &v6, nosnat_addr6_fold(pod_l), pod_l, htons(2525), self_ip, 1),
	       "backend add v6, local");
	EXPECT(!op_backend_add_any(&m, &st6, &v6, nosnat_addr6_fold(pod_r), pod_r, htons(2525), other, 1),
	       "backend add v6, remote");
	EXPECT(op_backend_add_any(&m, &st6, &v6, inet_addr("198.18.1.2"), zero6, htons(2525), other, 1) ==
	       -EINVAL, "a v4 backend of a v6 VIP");
	EXPECT(op_backend_add_any(&m, &st6, &v4, nosnat_addr6_fold(pod_l), pod_l, htons(2525), other, 1) ==
	       -EINVAL, "a v6 backend of a v4 VIP");
	EXPECT(!op_backend_add_any(&m, &st6, &v4, inet_addr("198.18.1.2"), zero6, htons(2525), other, 1),
	       "backend add v4");
	EXPECT(!state_read(&m, &st6b), "read back");
	bl = state_find_backend_any(&st6b, id6, nosnat_addr6_fold(pod_l), pod_l, htons(2525));
	br = state_find_backend_any(&st6b, id6, nosnat_addr6_fold(pod_r), pod_r, htons(2525));
	EXPECT(bl >= 0 && br >= 0 && bl != br, "v6 backends read back: %d %d", bl, br);
	if (bl < 0 || br < 0)
		return;
	EXPECT(!memcmp(st6b.be6[bl].addr, pod_l, 16) && st6b.be[bl].addr == nosnat_addr6_fold(pod_l) &&
	       st6b.be[bl].node == self_ip && st6b.be[bl].vip_id == id6 && st6b.be[bl].addr != 0,
	       "slot of the local v6 pod");
	{
		int b4 = state_find_backend(&st6b, id4, inet_addr("198.18.1.2"), htons(2525));

		EXPECT(b4 >= 0 && !addr6_set(st6b.be6[b4].addr), "a v4 slot's nosnat_be6 is zero");
	}
	{	/* the reply path's entry of the local v6 pod */
		struct nosnat_pod6_key pk = { .port = htons(2525), .proto = IPPROTO_TCP };
		struct nosnat_pod6 pod = {};
		struct nosnat_vip_id vi = {};
		struct nosnat_local local = {};
		struct nosnat_pod_key k4, n4;
		struct nosnat_addr_filter *f = &st6_tmp.verify.filter;
		__u32 bit = nosnat_addr_filter_bit(nosnat_addr6_fold(pod_l));

		memcpy(pk.addr, pod_l, 16);
		bpf_map_lookup_elem(m.vip_ids, &id6, &vi);
		EXPECT(!bpf_map_lookup_elem(m.pods6, &pk, &pod) && pod.count == 1 &&
		       pod.slots[0].id == (__u32)bl && pod.slots[0].vip_ref == vi.ref &&
		       !memcmp(pod.slots[0].vip_addr, v6.addr6, 16) && pod.slots[0].vip_port == htons(25),
		       "nosnat_pods6 entry: count %u id %u", pod.count, pod.slots[0].id);
		memcpy(pk.addr, pod_r, 16);
		EXPECT(bpf_map_lookup_elem(m.pods6, &pk, &pod), "a remote pod in nosnat_pods6");
		EXPECT(bpf_map_get_next_key(m.pods, NULL, &k4), "a v6 pod in nosnat_pods");
		(void)n4;
		EXPECT(!bpf_map_lookup_elem(m.pod_filt, &zero, f) && ((f->bits[bit / 64] >> (bit % 64)) & 1),
		       "the pod filter has the local v6 pod's bit");
		EXPECT(!bpf_map_lookup_elem(m.local, &id6, &local) && local.count == 1 &&
		       local.ids[0] == (__u32)bl, "nosnat_local of the v6 VIP");
	}
	EXPECT(verify_quiet(&m, &st6b) == 0, "verify finds problems with v6 VIPs");
	{	/* the metrics count v6 flows and pods (keys longer than v4's) */
		struct nosnat_flow6_key fk = { .sport = htons(40000), .dport = htons(25),
					       .proto = IPPROTO_TCP };
		struct nosnat_flow fl = { .backend_id = (__u32)bl, .backend_addr = nosnat_addr6_fold(pod_l) };

		inet_pton(AF_INET6, "2001:db8:ff::1", fk.src);
		memcpy(fk.dst, v6.addr6, 16);
		EXPECT(!bpf_map_update_elem(m.flows6, &fk, &fl, BPF_ANY), "a v6 flow");
		fk.sport = htons(40001);
		EXPECT(!hs6_put(m.flow6_new, &fk, &fl), "a v6 handshake");
		EXPECT(!metrics_collect(&m, &st6b, &mx) && mx.flows6 == 1 &&
		       mx.flows6_max == NOSNAT_FLOW6_ENTRIES && mx.flows6_new == 1 &&
		       mx.flows6_new_max == NOSNAT_NEW_FLOW6_ENTRIES && mx.pods == 1 && mx.n_vips == 2 &&
		       mx.n_bes == 3, "metrics of v6: flows6 %llu of %llu, handshakes %llu, pods %llu",
		       (unsigned long long)mx.flows6, (unsigned long long)mx.flows6_max,
		       (unsigned long long)mx.flows6_new, (unsigned long long)mx.pods);
		hs6_clear(m.flow6_new);
		fk.sport = htons(40000);
		bpf_map_delete_elem(m.flows6, &fk);
	}

	/* deleting: the slot's v6 address goes with it */
	EXPECT(!op_backend_del_any(&m, &st6, &v6, nosnat_addr6_fold(pod_l), pod_l, htons(2525)),
	       "backend del v6");
	{
		struct nosnat_be6 got;
		struct nosnat_pod6_key pk;

		EXPECT(!bpf_map_lookup_elem(m.be6, &bl, &got) && !addr6_set(got.addr),
		       "nosnat_be6 zeroed on release");
		EXPECT(bpf_map_get_next_key(m.pods6, NULL, &pk), "nosnat_pods6 emptied");
	}
	EXPECT(op_backend_del_any(&m, &st6, &v6, nosnat_addr6_fold(pod_l), pod_l, htons(2525)) == -ESRCH,
	       "v6 backend deleted twice");
	EXPECT(verify_quiet(&m, &st6b) == 0, "verify after a v6 backend del");

	/* two v6 VIPs whose addresses fold alike stay two */
	EXPECT(c1.addr == c2.addr, "test VIPs fold alike");
	EXPECT(!op_vip_add_any(&m, &st6, &c1) && !op_vip_add_any(&m, &st6, &c2), "folded VIPs added");
	EXPECT(!state_read(&m, &st6b) && st6b.n_vips == 4 && state_find_vip_any(&st6b, &c1) &&
	       state_find_vip_any(&st6b, &c2) &&
	       state_find_vip_any(&st6b, &c1) != state_find_vip_any(&st6b, &c2),
	       "VIPs whose addresses fold alike read back apart");
	EXPECT(verify_quiet(&m, &st6b) == 0, "verify with folded VIPs");
	EXPECT(!op_vip_del_any(&m, &st6, &c1), "folded VIP del");
	EXPECT(!state_read(&m, &st6b) && !state_find_vip_any(&st6b, &c1) && state_find_vip_any(&st6b, &c2),
	       "the other folded VIP stays");
	EXPECT(!op_vip_del_any(&m, &st6, &c2), "folded VIP del");

	/* the v6 VIP deleted: its entries, its address count, its slots */
	EXPECT(!op_vip_del_any(&m, &st6, &v6), "vip del v6");
	{
		struct nosnat_vip6_key k6;
		struct nosnat_be6 a6, got;
		__u32 refs;

		memcpy(a6.addr, v6.addr6, 16);
		EXPECT(bpf_map_get_next_key(m.vips6, NULL, &k6), "nosnat_vips6 emptied");
		EXPECT(bpf_map_lookup_elem(m.vip6_addr, &a6, &refs), "nosnat_vip6_addr entry left");
		EXPECT(!bpf_map_lookup_elem(m.be6, &br, &got) && !addr6_set(got.addr),
		       "nosnat_be6 zeroed with its VIP");
	}
	EXPECT(!state_read(&m, &st6b) && st6b.n_vips == 1 && state_find_vip_any(&st6b, &v4) &&
	       state_find_vip_any(&st6b, &v4)->val.id == id4, "the v4 VIP stays");
	EXPECT(verify_quiet(&m, &st6b) == 0, "verify after the v6 VIP went");
	{	/* and verify does see a v6 address left in a free slot */
		struct nosnat_be6 junk, none = {};
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		int problems;

		memcpy(junk.addr, pod_r, 16);
		bpf_map_update_elem(m.be6, &br, &junk, BPF_ANY);
		problems = !state_read(&m, &st6b) ? state_verify(&m, &st6b, f) : -1;
		fclose(f);
		EXPECT(problems == 1 && out && strstr(out, "nosnat_be6[") && strstr(out, "the slot is free"),
		       "verify on a stale nosnat_be6 entry: %d: %s", problems, out ? out : "");
		free(out);
		bpf_map_update_elem(m.be6, &br, &none, BPF_ANY);
	}
	bpf_object__close(maps_obj);
	maps_obj = NULL;
}

/* --- IPv6 node networks ----------------------------------------------- */

static __u8 *a6_of(const char *s, __u8 *buf)
{
	EXPECT(inet_pton(AF_INET6, s, buf) == 1, "test address %s", s);
	return buf;
}

/* node: and nodes: of both families, backends on v6 nodes, as parsed and
 * as apply checks them. */
static void test_config_node6(const char *fixtures)
{
	char path[700], err[1200];
	__u8 self6[16], n12[16], n11[16];
	size_t on_v6 = 0, on_v4 = 0;

	a6_of("2001:db8:100::11", self6);
	a6_of("2001:db8:100::12", n12);
	a6_of("2001:db8:100::11", n11);
	snprintf(path, sizeof(path), "%s/config/good-node6.yaml", fixtures);
	EXPECT(config_load(path, &cfg, err, sizeof(err)) == 0, "good-node6: %s", err);
	EXPECT(cfg.has_node && cfg.node == inet_addr("198.51.100.11") && cfg.has_node6 &&
	       !memcmp(cfg.node6, self6, 16), "node: one address of each family");
	EXPECT(cfg.n_nodes == 2 && cfg.n_nodes6 == 2 && config_lists_node6(&cfg, n12) &&
	       config_lists_node6(&cfg, n11), "nodes: %zu v4, %zu v6", cfg.n_nodes, cfg.n_nodes6);
	for (size_t i = 0; i < cfg.n_vips; i++)
		for (size_t b = 0; b < cfg.vips[i].n_be; b++) {
			const struct config_backend *cb = &cfg.bes[cfg.vips[i].first_be + b];

			if (addr6_set(cb->node6)) {
				on_v6++;
				EXPECT(cfg.vips[i].vk.v6 && cb->node == nosnat_addr6_fold(cb->node6),
				       "a v6 node's backend: v6 VIP, node its fold");
			} else {
				on_v4++;
				EXPECT(cb->node == inet_addr("198.51.100.12"), "a v4 node's backend");
			}
		}
	EXPECT(on_v6 == 2 && on_v4 == 2, "backends on v6 nodes %zu, on v4 nodes %zu", on_v6, on_v4);
	EXPECT(config_check_vips(&cfg, 0, cfg.node, cfg.node6, path, err, sizeof(err)) == 0,
	       "good-node6 refused at apply: %s", err);
	/* without node6 known as this node's, 2001:db8:100::11 is still listed */
	cfg.has_node6 = 0;
	EXPECT(config_check_vips(&cfg, 0, cfg.node, NULL, path, err, sizeof(err)) == 0,
	       "a listed v6 node needs no node6: %s", err);
	/* a v6 node neither listed nor this node's */
	cfg.n_nodes6 = 1;	/* 2001:db8:100::11 only */
	EXPECT(config_check_vips(&cfg, 0, cfg.node, NULL, path, err, sizeof(err)) == -EHOSTUNREACH &&
	       strstr(err, "2001:db8:100::12, which is not in nodes"), "unknown v6 node: %s", err);
	/* ... but this node's v6 address is known without a list */
	cfg.n_nodes6 = 0;
	memcpy(cfg.nodes6[0].addr, n12, 16);
	cfg.n_nodes6 = 1;
	EXPECT(config_check_vips(&cfg, 0, cfg.node, self6, path, err, sizeof(err)) == 0,
	       "this node's v6 address as a backend's node: %s", err);
	/* a v4 VIP's backend on a v6 node: one line naming it */
	for (size_t b = 0; b < cfg.vips[0].n_be; b++) {
		struct config_backend *cb = &cfg.bes[cfg.vips[0].first_be + b];

		EXPECT(!cfg.vips[0].vk.v6, "the first VIP port is v4");
		memcpy(cb->node6, n12, 16);
		cb->node = nosnat_addr6_fold(n12);
	}
	EXPECT(config_check_vips(&cfg, 0, cfg.node, self6, path, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "runs on IPv6 node 2001:db8:100::12: an IPv4 VIP's pods need IPv4 nodes") &&
	       !strchr(err, '\n'), "a v4 VIP's pod on a v6 node: %s", err);
}

/* Nodes of both families from Kubernetes: each InternalIP a known node; a
 * v6 pod's node v4 when its Node has one (6in4), else v6 (ip6ip6). */
static void test_kube_node6(void)
{
	static const char *node_json[] = {
		"{\"metadata\":{\"name\":\"node-a\"},\"status\":{\"addresses\":["
		"{\"type\":\"InternalIP\",\"address\":\"2001:db8:100::11\"},"
		"{\"type\":\"ExternalIP\",\"address\":\"2001:db8:ff::11\"},"
		"{\"type\":\"InternalIP\",\"address\":\"198.51.100.11\"},"
		"{\"type\":\"InternalIP\",\"address\":\"2001:db8:100::99\"}]}}",
		"{\"metadata\":{\"name\":\"node-c\"},\"status\":{\"addresses\":["
		"{\"type\":\"InternalIP\",\"address\":\"fe80::13\"},"
		"{\"type\":\"InternalIP\",\"address\":\"2001:db8:100::13\"}]}}",
	};
	static const char *svc_json =
		"{\"kind\":\"Service\",\"metadata\":{\"namespace\":\"mail\",\"name\":\"smtp\"},"
		"\"spec\":{\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":25}]},"
		"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"2001:db8::25\"},{\"ip\":\"192.0.2.10\"}]}}}";
	static const char *slice4 =
		"{\"metadata\":{\"namespace\":\"mail\",\"name\":\"smtp-4\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"smtp\"}},\"addressType\":\"IPv4\","
		"\"ports\":[{\"name\":\"smtp\",\"port\":2525}],"
		"\"endpoints\":[{\"addresses\":[\"198.18.1.2\"],\"nodeName\":\"node-a\"},"
		"{\"addresses\":[\"198.18.3.2\"],\"nodeName\":\"node-c\"}]}";
	static const char *slice6 =
		"{\"metadata\":{\"namespace\":\"mail\",\"name\":\"smtp-6\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"smtp\"}},\"addressType\":\"IPv6\","
		"\"ports\":[{\"name\":\"smtp\",\"port\":2525}],"
		"\"endpoints\":[{\"addresses\":[\"2001:db8:19:1::10\"],\"nodeName\":\"node-a\"},"
		"{\"addresses\":[\"2001:db8:19:3::10\"],\"nodeName\":\"node-c\"}]}";
	struct kube_node nodes[2];
	struct kube_service svc;
	struct kube_slice sl[2];
	struct kube_snapshot snap = { .svcs = &svc, .n_svcs = 1, .slices = sl, .n_slices = 2,
				      .nodes = nodes, .n_nodes = 2 };
	__u8 a11[16], c13[16], pod_a[16], pod_c[16];
	char err[256];
	json_object *o;

	a6_of("2001:db8:100::11", a11);
	a6_of("2001:db8:100::13", c13);
	a6_of("2001:db8:19:1::10", pod_a);
	a6_of("2001:db8:19:3::10", pod_c);
	for (int i = 0; i < 2; i++) {
		o = js(node_json[i]);
		EXPECT(o && !kube_parse_node(o, &nodes[i], err, sizeof(err)), "node %d: %s", i, err);
		json_object_put(o);
	}
	EXPECT(nodes[0].ip == inet_addr("198.51.100.11") && !memcmp(nodes[0].ip6, a11, 16),
	       "a dual-stack Node: the first InternalIP of each family");
	EXPECT(!nodes[1].ip && !memcmp(nodes[1].ip6, c13, 16), "a v6-only Node (link-local skipped)");
	o = js(svc_json);
	EXPECT(o && !kube_parse_service(o, &svc, err, sizeof(err)), "service: %s", err);
	json_object_put(o);
	o = js(slice4);
	EXPECT(o && !kube_parse_slice(o, &sl[0], err, sizeof(err)), "slice4: %s", err);
	json_object_put(o);
	o = js(slice6);
	EXPECT(o && !kube_parse_slice(o, &sl[1], err, sizeof(err)), "slice6: %s", err);
	json_object_put(o);

	memset(&kbase, 0, sizeof(kbase));
	kbase.nodes_from_kube = 1;
	kbase.n_ksvcs = 1;
	snprintf(kbase.ksvcs[0].ns, sizeof(kbase.ksvcs[0].ns), "mail");
	snprintf(kbase.ksvcs[0].name, sizeof(kbase.ksvcs[0].name), "smtp");
	snprintf(kbase.ksvcs[0].label, sizeof(kbase.ksvcs[0].label), "mail/smtp");
	EXPECT(!resolve(&kbase, &snap, nodes[0].ip, NULL) && krejected == 0, "resolve: %s", knotes);
	EXPECT(kout.n_nodes == 1 && kout.nodes[0] == nodes[0].ip && kout.n_nodes6 == 2 &&
	       config_lists_node6(&kout, a11) && config_lists_node6(&kout, c13),
	       "Kubernetes nodes: %zu v4, %zu v6", kout.n_nodes, kout.n_nodes6);
	EXPECT(kout.n_vips == 2 && !kout.vips[0].vk.v6 && kout.vips[1].vk.v6, "two VIP ports: %zu",
	       kout.n_vips);
	if (kout.n_vips == 2) {
		const struct config_vip *v4 = &kout.vips[0], *v6 = &kout.vips[1];
		const struct config_backend *b = &kout.bes[v6->first_be];

		EXPECT(v4->n_be == 1 && kout.bes[v4->first_be].addr == inet_addr("198.18.1.2") &&
		       strstr(knotes, "endpoint 198.18.3.2 on IPv6-only (an IPv4 pod needs an IPv4 node) "
			      "node 'node-c' skipped"),
		       "a v4 pod on a v6-only Node is skipped: %s", knotes);
		EXPECT(v6->n_be == 2 && !memcmp(b[0].addr6, pod_a, 16) && b[0].node == nodes[0].ip &&
		       !addr6_set(b[0].node6), "a v6 pod on a dual-stack Node: its IPv4 address (6in4)");
		EXPECT(v6->n_be == 2 && !memcmp(b[1].addr6, pod_c, 16) && !memcmp(b[1].node6, c13, 16) &&
		       b[1].node == nosnat_addr6_fold(c13), "a v6 pod on a v6-only Node: its IPv6 address");
	}
	/* a v6 VIP that is a Node's v6 address skips the Service */
	memcpy(svc.lb_ip6, c13, 16);
	svc.lb_ip = 0;
	EXPECT(!resolve(&kbase, &snap, nodes[0].ip, NULL) && krejected == 1 && kout.n_vips == 0 &&
	       strstr(knotes, "VIP 2001:db8:100::13 is the address of Node node-c"),
	       "a v6 VIP on a Node's address: %s", knotes);
	kube_slice_free(&sl[0]);
	kube_slice_free(&sl[1]);
}

/* v6 nodes and backends on them through the loader, on real maps. */
static void test_state_node6(const char *self)
{
	char obj[700];
	struct nosnat_maps m;
	struct vip_key v4 = vk_of("192.0.2.10:25/tcp"), v6 = vk_of("[2001:db8::25]:25/tcp");
	__u8 self6[16], other6[16], unknown6[16], pod_l[16], pod_r[16], zero6[16] = {};
	__be32 self_ip = inet_addr("198.51.100.11");
	struct nosnat_cfg cfg = { .node_ip = self_ip, .mtu = 1500 };
	struct nosnat_be6 got;
	__u32 zero = 0, one = 0, id6;
	int rc, bl, br;

	snprintf(obj, sizeof(obj), "%.*s/nosnat.bpf.o",
		 (int)(strrchr(self, '/') ? strrchr(self, '/') - self : 1), strrchr(self, '/') ? self : ".");
	if (geteuid()) {
		printf("  skip  v6 node round trips: need root for BPF maps\n");
		return;
	}
	a6_of("2001:db8:100::11", self6);
	a6_of("2001:db8:100::12", other6);
	a6_of("2001:db8:100::99", unknown6);
	a6_of("2001:db8:19:1::10", pod_l);
	a6_of("2001:db8:19:2::10", pod_r);
	memcpy(cfg.node_ip6, self6, 16);
	rc = maps_create(obj, &m);
	EXPECT(!rc, "cannot create the maps of %s: %s", obj, strerror(-rc));
	if (rc)
		return;
	st6.tmp = st6b.tmp = &st6_tmp;
	EXPECT(!bpf_map_update_elem(m.cfg, &zero, &cfg, BPF_ANY) && !state_read(&m, &st6), "cfg");
	EXPECT(!memcmp(st6.cfg.node_ip6, self6, 16), "cfg.node_ip6 read back");

	/* node add|del of a v6 node: nosnat_nodes6 */
	EXPECT(!op_node6_add(&m, &st6, other6), "node add v6");
	EXPECT(op_node6_add(&m, &st6, other6) == -EEXIST, "v6 node added twice");
	EXPECT(!bpf_map_lookup_elem(m.nodes6, other6, &one) && one == 1, "nosnat_nodes6 entry");
	EXPECT(!state_read(&m, &st6b) && st6b.n_nodes6 == 1 && st6b.n_nodes == 0 &&
	       state_has_node6(&st6b, other6) && !state_has_node6(&st6b, self6), "v6 nodes read back");
	EXPECT(op_node6_del(&m, &st6, unknown6) == -ENOENT, "unknown v6 node del");

	EXPECT(!op_vip_add_any(&m, &st6, &v4) && !op_vip_add_any(&m, &st6, &v6), "VIPs");
	id6 = state_find_vip_any(&st6, &v6) ? state_find_vip_any(&st6, &v6)->val.id : 0;

	/* a v6 pod on another v6 node, one on this node's v6 address */
	EXPECT(!op_backend_add_on(&m, &st6, &v6, nosnat_addr6_fold(pod_r), pod_r, htons(2525), 0, other6, 1),
	       "backend on a v6 node");
	EXPECT(!op_backend_add_on(&m, &st6, &v6, nosnat_addr6_fold(pod_l), pod_l, htons(2525), 0, self6, 1),
	       "backend on this node's v6 address");
	EXPECT(op_backend_add_on(&m, &st6, &v6, nosnat_addr6_fold(pod_l), pod_l, htons(2526), 0, unknown6,
				 1) == -EHOSTUNREACH, "backend on an unknown v6 node");
	EXPECT(op_backend_add_on(&m, &st6, &v4, inet_addr("198.18.1.2"), zero6, htons(2525), 0, other6, 1) ==
	       -EAFNOSUPPORT, "a v4 VIP's backend on a v6 node");
	EXPECT(!state_read(&m, &st6b), "read back");
	EXPECT(state_find_backend(&st6b, st6b.vips[0].val.id, inet_addr("198.18.1.2"), htons(2525)) < 0 &&
	       state_find_backend(&st6b, st6b.vips[1].val.id, inet_addr("198.18.1.2"), htons(2525)) < 0,
	       "the refused v4 backend is nowhere");
	bl = state_find_backend_any(&st6b, id6, nosnat_addr6_fold(pod_l), pod_l, htons(2525));
	br = state_find_backend_any(&st6b, id6, nosnat_addr6_fold(pod_r), pod_r, htons(2525));
	EXPECT(bl >= 0 && br >= 0, "slots: %d %d", bl, br);
	if (bl < 0 || br < 0)
		goto out;
	EXPECT(st6b.be[br].flags == (NOSNAT_BE_IN_USE | NOSNAT_BE_NODE6) &&
	       st6b.be[br].node == nosnat_addr6_fold(other6) && !memcmp(st6b.be_node6[br].addr, other6, 16),
	       "slot on a v6 node: flags %#x, the fold, nosnat_be_node6", st6b.be[br].flags);
	EXPECT(!bpf_map_lookup_elem(m.be_node6, &br, &got) && !memcmp(got.addr, other6, 16),
	       "nosnat_be_node6 in the map");
	EXPECT(!state_be_local(&st6b, (__u32)br) && state_be_local(&st6b, (__u32)bl), "which is here");
	{
		struct nosnat_local local = {};
		struct nosnat_pod6_key pk = { .port = htons(2525), .proto = IPPROTO_TCP };
		struct nosnat_pod6 pod;

		EXPECT(!bpf_map_lookup_elem(m.local, &id6, &local) && local.count == 1 &&
		       local.ids[0] == (__u32)bl, "nosnat_local: the pod on this node's v6 address");
		memcpy(pk.addr, pod_l, 16);
		EXPECT(!bpf_map_lookup_elem(m.pods6, &pk, &pod) && pod.count == 1, "nosnat_pods6 has it");
		memcpy(pk.addr, pod_r, 16);
		EXPECT(bpf_map_lookup_elem(m.pods6, &pk, &pod), "a pod on another v6 node is not here");
	}
	EXPECT(verify_quiet(&m, &st6b) == 0, "verify with v6 nodes");
	EXPECT(op_node6_del(&m, &st6, other6) == -EBUSY, "a v6 node with backends deleted");

	/* apply moves the pod to a v4 node and back: the slot stays, its flag,
	 * fold and nosnat_be_node6 follow */
	{
		static const char *yaml[2] = {
			"node: [198.51.100.11, \"2001:db8:100::11\"]\n"
			"nodes: [198.51.100.12, 2001:db8:100::12]\n"
			"services:\n"
			"  - vip: [192.0.2.10, 2001:db8::25]\n"
			"    ports: [{port: 25, targetPort: 2525}]\n"
			"    backends:\n"
			"      - {address: 2001:db8:19:2::10, node: 198.51.100.12}\n"
			"      - {address: 2001:db8:19:1::10, node: 2001:db8:100::11}\n",
			"node: [198.51.100.11, \"2001:db8:100::11\"]\n"
			"nodes: [198.51.100.12, 2001:db8:100::12]\n"
			"services:\n"
			"  - vip: [192.0.2.10, 2001:db8::25]\n"
			"    ports: [{port: 25, targetPort: 2525}]\n"
			"    backends:\n"
			"      - {address: 2001:db8:19:2::10, node: 2001:db8:100::12}\n"
			"      - {address: 2001:db8:19:1::10, node: 2001:db8:100::11}\n",
		};
		char err[512];

		for (int step = 0; step < 2; step++) {
			int v6node = step == 1;

			EXPECT(!config_parse("node6.yaml", yaml[step], strlen(yaml[step]), &kprev, err, sizeof(err)),
			       "step %d: %s", step, err);
			char *out = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&out, &len);

			rc = config_apply(&m, &st6, &kprev, "node6.yaml", 0, f, err, sizeof(err));
			fclose(f);
			/* step 0 lists the v4 node too */
			EXPECT(rc == 2 - step && out &&
			       strstr(out, v6node ? "~ backend [2001:db8::25]:25/tcp [2001:db8:19:2::10]:2525 node -> "
						    "2001:db8:100::12\n"
						  : "~ backend [2001:db8::25]:25/tcp [2001:db8:19:2::10]:2525 node -> "
						    "198.51.100.12\n"),
			       "step %d: %d changes: %s%s", step, rc, rc < 0 ? err : "", out ? out : "");
			free(out);
			EXPECT(!state_read(&m, &st6b) &&
			       state_find_backend_any(&st6b, id6, nosnat_addr6_fold(pod_r), pod_r, htons(2525)) == br,
			       "step %d: the pod keeps its slot", step);
			EXPECT(!bpf_map_lookup_elem(m.be_node6, &br, &got) &&
			       !memcmp(got.addr, v6node ? other6 : zero6, 16) &&
			       st6b.be[br].flags == (NOSNAT_BE_IN_USE | (v6node ? NOSNAT_BE_NODE6 : 0)) &&
			       st6b.be[br].node == (v6node ? nosnat_addr6_fold(other6) : inet_addr("198.51.100.12")),
			       "step %d: slot flags %#x", step, st6b.be[br].flags);
			EXPECT(verify_quiet(&m, &st6b) == 0, "step %d: verify", step);
		}
		st6.be[br] = st6b.be[br];
	}

	/* verify: the fold must match, a v4 node's slot has no v6 node */
	{
		struct nosnat_backend bad = st6b.be[br];
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		int problems;
		__u32 bi = (__u32)br;

		bad.node ^= htonl(1);
		bpf_map_update_elem(m.backends, &bi, &bad, BPF_ANY);
		problems = !state_read(&m, &st6b) ? state_verify(&m, &st6b, f) : -1;
		fclose(f);
		EXPECT(problems >= 1 && out && strstr(out, "is not the fold of 2001:db8:100::12"),
		       "verify on a wrong fold: %d: %s", problems, out ? out : "");
		free(out);
		bpf_map_update_elem(m.backends, &bi, &st6.be[br], BPF_ANY);
	}

	/* released: nosnat_be_node6 zeroed; then the node can go */
	EXPECT(!op_backend_del_any(&m, &st6, &v6, nosnat_addr6_fold(pod_r), pod_r, htons(2525)),
	       "backend del");
	EXPECT(!bpf_map_lookup_elem(m.be_node6, &br, &got) && !addr6_set(got.addr),
	       "nosnat_be_node6 zeroed on release");
	EXPECT(!op_node6_del(&m, &st6, other6), "v6 node del");
	{
		struct nosnat_be6 k;

		EXPECT(bpf_map_get_next_key(m.nodes6, NULL, &k), "nosnat_nodes6 emptied");
	}
	EXPECT(verify_quiet(&m, &st6b) == 0, "verify after the v6 node went");
	{	/* and verify sees a v6 node left in a slot whose node is not v6 */
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		struct nosnat_be6 junk, none = {};
		int problems;

		memcpy(junk.addr, other6, 16);
		bpf_map_update_elem(m.be_node6, &br, &junk, BPF_ANY);
		problems = !state_read(&m, &st6b) ? state_verify(&m, &st6b, f) : -1;
		fclose(f);
		EXPECT(problems == 1 && out && strstr(out, "nosnat_be_node6[") &&
		       strstr(out, "the slot's node is not IPv6"), "verify on a stale nosnat_be_node6: %d: %s",
		       problems, out ? out : "");
		free(out);
		bpf_map_update_elem(m.be_node6, &br, &none, BPF_ANY);
	}
	/* the VIP deleted with a slot on this node's v6 address: zeroed too */
	EXPECT(!op_vip_del_any(&m, &st6, &v6), "vip del");
	EXPECT(!bpf_map_lookup_elem(m.be_node6, &bl, &got) && !addr6_set(got.addr),
	       "nosnat_be_node6 zeroed with its VIP");
out:
	bpf_object__close(maps_obj);
	maps_obj = NULL;
}

/* The command line of v6 nodes: each refusal one line, before any map is
 * opened (the pin dir does not exist). */
static void test_cli_node6(const char *self)
{
	static const struct { const char *args, *want; } cases[] = {
		{ "node add fe80::1", "invalid node address 'fe80::1': link-local (fe80::/10)" },
		{ "node add ::", "invalid node address '::'" },
		{ "attach lo --node-ip 2001:db8:100::11 --node-ip 2001:db8:100::12",
		  "--node-ip '2001:db8:100::12': an IPv6 --node-ip is given already (once per family)" },
		{ "attach lo --node-ip 198.51.100.11 --node-ip 198.51.100.12",
		  "--node-ip '198.51.100.12': an IPv4 --node-ip is given already (once per family)" },
		{ "attach lo --node-ip ff02::1", "invalid --node-ip 'ff02::1': multicast" },
		{ "backend add 192.0.2.10:25/tcp 198.18.1.2:2525 --node 2001:db8:100::12",
		  "backend '198.18.1.2:2525' of VIP 192.0.2.10:25/tcp: node 2001:db8:100::12 is IPv6, but an "
		  "IPv4 VIP's pods need IPv4 nodes" },
		{ "backend add [2001:db8::25]:25/tcp [2001:db8:19:2::10]:2525 --node fe80::12",
		  "invalid --node 'fe80::12': link-local (fe80::/10)" },
		{ "backend add [2001:db8::25]:25/tcp [2001:db8:19:2::10]:2525 --node nowhere",
		  "invalid --node 'nowhere': not an IPv4 or IPv6 address" },
	};
	char bin[700], cmd[1200], out[1024];

	snprintf(bin, sizeof(bin), "%.*s/nosnat",
		 (int)(strrchr(self, '/') ? strrchr(self, '/') - self : 1), strrchr(self, '/') ? self : ".");
	if (access(bin, X_OK)) {
		printf("  skip  CLI of v6 nodes: no %s\n", bin);
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *p;
		size_t n;
		int status;

		snprintf(cmd, sizeof(cmd), "%s --pin-dir /nonexistent/nosnat-unit %s 2>&1", bin, cases[i].args);
		p = popen(cmd, "r");
		n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
		out[n] = '\0';
		status = p ? pclose(p) : -1;
		EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(out, cases[i].want) &&
		       strchr(out, '\n') == out + n - 1, "nosnat %s: exit %d: %s (want %s)", cases[i].args,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, cases[i].want);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Credentials: what is refused, and a long token read whole. */
static void test_kube_creds(void)
{
	char dir[] = "/tmp/nosnat-creds.XXXXXX", kcfg[128], tok[128], text[1024], *big;
	struct kube_opts o = {};
	struct kube_creds c;
	int rc;

	if (!mkdtemp(dir)) {
		EXPECT(0, "mkdtemp");
		return;
	}
	snprintf(kcfg, sizeof(kcfg), "%s/kubeconfig", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	o.kubeconfig = kcfg;
#define KCFG(cluster_extra, server) \
	snprintf(text, sizeof(text), "apiVersion: v1\nkind: Config\ncurrent-context: x\n" \
		 "clusters:\n  - name: c\n    cluster:\n      server: %s\n%s" \
		 "users:\n  - name: u\n    user:\n      tokenFile: token\n" \
		 "contexts:\n  - name: x\n    context: {cluster: c, user: u}\n", server, cluster_extra)
	write_text(tok, "tok-1\n");

	KCFG("      insecure-skip-tls-verify: true\n      certificate-authority: ca.crt\n",
	     "https://198.51.100.1:6443");
	write_text(kcfg, text);
	rc = kube_creds_load(&o, &c, 1);
	EXPECT(rc == -EINVAL, "insecure-skip-tls-verify with a CA refused: %d", rc);

	KCFG("      insecure-skip-tls-verify: true\n", "https://198.51.100.1:6443");
	write_text(kcfg, text);
	rc = kube_creds_load(&o, &c, 1);
	EXPECT(rc == 0 && c.insecure && c.token && !strcmp(c.token, "tok-1"),
	       "insecure alone accepted (with a warning): %d", rc);
	if (!rc)
		kube_creds_free(&c);

	KCFG("      certificate-authority: ca.crt\n", "http://198.51.100.1:8080");
	write_text(kcfg, text);
	rc = kube_creds_load(&o, &c, 1);
	EXPECT(rc == -EPROTO, "plain HTTP refused: %d", rc);
	o.allow_http = 1;
	rc = kube_creds_load(&o, &c, 1);
	EXPECT(rc == 0, "plain HTTP when allowed for tests: %d", rc);
	if (!rc)
		kube_creds_free(&c);
	o.allow_http = 0;

	/* The server's scheme, as libcurl reads it: https only, unless the
	 * test override allows http; upper case and a missing scheme (which
	 * libcurl would send as http) are no way around it. */
	{
		static const struct { const char *server; int allow_http, want; } urls[] = {
			{ "https://198.51.100.1:6443", 0, 0 },
			{ "HTTPS://198.51.100.1:6443", 0, 0 },
			{ "https://[2001:db8::1]:6443/prefix", 0, 0 },
			{ "http://198.51.100.1:8080", 0, -EPROTO },
			{ "HTTP://198.51.100.1:8080", 0, -EPROTO },
			{ "Http://198.51.100.1:8080", 0, -EPROTO },
			{ "198.51.100.1:6443", 0, -EINVAL },
			{ "198.51.100.1", 0, -EINVAL },
			{ "kubernetes.default:443", 0, -EINVAL },
			{ "//198.51.100.1:6443", 0, -EINVAL },
			{ "ftp://198.51.100.1", 0, -EPROTO },
			{ "", 0, -EINVAL },
			{ "http://198.51.100.1:8080", 1, 0 },
			{ "HTTP://198.51.100.1:8080", 1, 0 },
			{ "198.51.100.1:8080", 1, -EINVAL },
		};

		for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
			KCFG("      certificate-authority: ca.crt\n", urls[i].server);
			write_text(kcfg, text);
			o.allow_http = urls[i].allow_http;
			rc = kube_creds_load(&o, &c, 0);
			EXPECT(rc == urls[i].want, "server '%s'%s: %d, want %d", urls[i].server,
			       urls[i].allow_http ? " (http allowed)" : "", rc, urls[i].want);
			if (!rc)
				kube_creds_free(&c);
		}
		o.allow_http = 0;
	}
	/* and the request itself speaks https alone: a plain-http URL that
	 * got past the check is refused by libcurl before any connection
	 * (port 1 on loopback: a connection attempt would fail otherwise) */
	{
		struct kube_creds hc = { .token = "tok-1" };
		struct kube_get g = { .path = "/api/v1/nodes", .stall_timeout = 5,
				      .on_data = NULL, .data_arg = NULL };
		static const char *const plain[] = { "http://127.0.0.1:1", "HTTP://127.0.0.1:1",
						     "127.0.0.1:1" };
		struct curl_slist *hdrs;

		for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
			CURL *h;
			CURLcode res = CURLE_FAILED_INIT;

			snprintf(hc.server, sizeof(hc.server), "%s", plain[i]);
			h = kube_http_prepare(&hc, &g, &hdrs);
			if (h)
				res = curl_easy_perform(h);
			EXPECT(res == CURLE_UNSUPPORTED_PROTOCOL, "%s: libcurl answered %d (%s), want "
			       "unsupported protocol", plain[i], res, curl_easy_strerror(res));
			if (h)
				curl_easy_cleanup(h);
			curl_slist_free_all(hdrs);
		}
	}

	/* a 5000-byte token (an OIDC one, say) is read whole, not cut at 4095 */
	big = malloc(KUBE_TOKEN_MAX_BYTES + 2);
	memset(big, 'a', 5000);
	big[5000] = '\n';
	big[5001] = '\0';
	write_text(tok, big);
	KCFG("      certificate-authority: ca.crt\n", "https://198.51.100.1:6443");
	write_text(kcfg, text);
	rc = kube_creds_load(&o, &c, 0);
	EXPECT(rc == 0 && c.token && strlen(c.token) == 5000, "5000-byte token read whole: %d, %zu",
	       rc, c.token ? strlen(c.token) : 0);
	if (!rc)
		kube_creds_free(&c);
	memset(big, 'a', KUBE_TOKEN_MAX_BYTES + 1);
	big[KUBE_TOKEN_MAX_BYTES + 1] = '\0';
	write_text(tok, big);
	rc = kube_creds_load(&o, &c, 0);
	EXPECT(rc == -EFBIG, "a token over 64 KiB refused: %d", rc);
	free(big);
#undef KCFG
	unlink(tok);
	unlink(kcfg);
	rmdir(dir);
}

/* The daemon's lock: held by another process, it is refused with that
 * process's pid; free again once it exits; removed by detach only when free. */
static void test_daemon_lock(void)
{
	char dir[] = "/tmp/nosnat-lock.XXXXXX", lockdir[64], link[96], buf[32];
	int ready[2], release[2], holder = -1, fd, status;
	struct stat st;
	ssize_t n;
	pid_t child;

	if (!mkdtemp(dir) || pipe(ready) || pipe(release)) {
		EXPECT(0, "setup");
		return;
	}
	snprintf(lockdir, sizeof(lockdir), "%s/daemon_lock", dir);
	snprintf(link, sizeof(link), "%s/pid", lockdir);
	child = fork();
	if (child == 0) {	/* the first daemon: takes the lock, holds it until told */
		int h, cfd = daemon_lock_try(dir, &h);
		char c = cfd >= 0 ? 'y' : 'n';

		close(release[1]);
		if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) < 0)
			_exit(2);
		_exit(cfd >= 0 ? 0 : 1);
	}
	close(ready[1]);
	close(release[0]);
	EXPECT(read(ready[0], buf, 1) == 1 && buf[0] == 'y', "the first process did not get the lock");
	fd = daemon_lock_try(dir, &holder);
	EXPECT(fd == -EWOULDBLOCK, "a held lock taken again: %d", fd);
	EXPECT(holder == child, "the holder reported as pid %d, want %d", holder, (int)child);
	EXPECT(!stat(lockdir, &st) && S_ISDIR(st.st_mode) && (st.st_mode & 077) == 0,
	       "lock directory mode %o", (unsigned int)st.st_mode);
	daemon_lock_remove(dir);	/* a detach meanwhile: the held lock stays */
	EXPECT(!access(lockdir, F_OK), "detach removed a held lock");
	close(release[1]);
	waitpid(child, &status, 0);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	fd = daemon_lock_try(dir, &holder);
	EXPECT(fd >= 0, "the lock not free after its holder exited: %d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n > 0)
		buf[n] = '\0';
	EXPECT(n > 0 && atoi(buf) == (int)getpid(), "pid recorded: %s", n > 0 ? buf : "(none)");
	daemon_unlock(dir, fd);
	daemon_lock_remove(dir);	/* free: gone, and the pin dir can be removed */
	EXPECT(access(lockdir, F_OK) && !rmdir(dir), "the lock left behind after a detach");
	close(ready[0]);
}

int main(int argc, char **argv)
{
	const char *fixtures = argc > 1 ? argv[1] : "tests/fixtures";

	test_maglev();
	test_parse();
	test_config(fixtures);
	test_metrics(fixtures);
	test_dataplane_mode();
	test_kube();
	test_kube_isolation();
	test_kube6();
	test_show_json();
	test_parse6();
	test_maglev6();
	test_state6(argv[0]);
	test_config_node6(fixtures);
	test_kube_node6();
	test_state_node6(argv[0]);
	test_cli_node6(argv[0]);
	test_kube_creds();
	test_daemon_lock();
	if (!passed && !failed)
		failed = 1;
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
