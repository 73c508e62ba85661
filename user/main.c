// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nosnat: command table, one handler per command. Exit 0 ok, 1 error,
 * 2 usage. Writers validate everything before they touch a map. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <arpa/inet.h>
#include "apply.h"
#include "attach.h"
#include "config.h"
#include "metrics.h"
#include "run.h"
#include "log.h"
#include "parse.h"
#include "show.h"
#include "ctx.h"
#include "ops.h"
#include "state.h"
#include "verify.h"

#ifndef NOSNAT_VERSION
#define NOSNAT_VERSION "dev"
#endif

static const char *pin_dir = NOSNAT_DEFAULT_PIN_DIR;

struct cmd {
	const char *name;
	int (*fn)(struct ctx *c, int argc, char **argv);
	const char *usage;
};

static const struct cmd *current;

static void usage_of(const struct cmd *c, FILE *f)
{
	fprintf(f, "usage: nosnat [--pin-dir DIR] %s %s\n", c->name, c->usage);
}

static void __attribute__((noreturn)) bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "nosnat: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage_of(current, stderr);
	exit(2);
}

/* Parse a command's options; -h prints its usage. Returns optind. */
static int cmd_getopt(int argc, char **argv, const struct option *extra,
		      int (*on_opt)(int opt, const char *arg))
{
	struct option opts[32] = { { "help", no_argument, NULL, 'h' } };
	char shortopts[32] = "h";
	int n = 1, opt;

	for (; extra && extra[n - 1].name && n < 31; n++)
		opts[n] = extra[n - 1];
	opts[n] = (struct option){ 0 };
	optind = 0;	/* glibc: re-initialise, permute options after operands */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (opt == 'h') {
			usage_of(current, stdout);
			exit(0);
		}
		if (opt == '?' || opt == ':')
			bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		if (!on_opt || on_opt(opt, optarg))
			bad_usage("unexpected option '%s'", argv[optind - 1]);
	}
	return optind;
}

/* The capabilities a command needs, checked in the effective set (not the
 * uid: a non-root user with file or ambient capabilities may run nosnat).
 * CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON, as on kernels before
 * 5.8. Writers change maps (CAP_BPF); attaching also needs the others. */
enum { NEED_MAPS, NEED_ATTACH };

static int need_caps(int what)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	char missing[96] = "";
	int admin;

#define HAS(cap) ((d[(cap) / 32].effective >> ((cap) % 32)) & 1)
	if (syscall(SYS_capget, &h, d))
		return 0;	/* cannot tell: let the kernel say */
	admin = HAS(CAP_SYS_ADMIN);
	if (!HAS(CAP_BPF) && !admin)
		strcat(missing, ", CAP_BPF");
	if (what == NEED_ATTACH && !HAS(CAP_PERFMON) && !admin)
		strcat(missing, ", CAP_PERFMON");
	if (what == NEED_ATTACH && !HAS(CAP_NET_ADMIN))
		strcat(missing, ", CAP_NET_ADMIN");
#undef HAS
	if (!*missing)
		return 0;
	err("%s needs %s (missing: %s)", current ? current->name : "this",
	    what == NEED_ATTACH ? "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN" : "CAP_BPF", missing + 2);
	return -EPERM;
}

/* Open, lock and read the state for a writer. */
static int writer_begin(struct nosnat_maps *m, struct state *s)
{
	int rc = need_caps(NEED_MAPS);

	if (rc)
		return rc;
	rc = pin_dir_prepare(pin_dir, 0);
	if (rc)
		return rc;
	rc = maps_open(pin_dir, m);
	if (rc)
		return rc;
	rc = maps_lock(pin_dir, m);
	if (!rc) {
		rc = state_read(m, s);
		if (rc)
			err("cannot read the maps under %s: %s", pin_dir, strerror(-rc));
	}
	if (rc)
		maps_close(m);
	return rc;
}

/* --- attach / detach ------------------------------------------------- */

static enum xdp_mode opt_mode;
static enum attach_hook opt_hook;
static enum xdp_meta_use opt_xdp_meta;
static enum encap_via opt_via;
static __be32 opt_node_ip;
static __u8 opt_node_ip6[16];
static unsigned long opt_weight;
static __be32 opt_node;
static __u8 opt_node6[16];
static int opt_json;
static int opt_node_set;
static struct flow_opts opt_flow;
static struct tunnel_opts opt_tun;

static int opt_dry_run;

/* --node-ip ADDR, once per family: an IPv4 address into *ip, an IPv6 one
 * (a host's unicast address) into ip6. 0, or -EINVAL said. */
static int node_ip_opt(const char *arg, __be32 *ip, __u8 *ip6)
{
	__u8 a6[16];
	__be32 a;

	if (!parse_ipv6(arg, a6)) {
		if (config_not_unicast6(a6)) {
			err("invalid --node-ip '%s': %s", arg, config_not_unicast6(a6));
			return -EINVAL;
		}
		if (addr6_set(ip6)) {
			err("--node-ip '%s': an IPv6 --node-ip is given already (once per family)", arg);
			return -EINVAL;
		}
		memcpy(ip6, a6, sizeof(a6));
		return 0;
	}
	if (parse_ipv4(arg, &a) || !a) {
		err("invalid --node-ip '%s': not an IPv4 or IPv6 address", arg);
		return -EINVAL;
	}
	if (*ip) {
		err("--node-ip '%s': an IPv4 --node-ip is given already (once per family)", arg);
		return -EINVAL;
	}
	*ip = a;
	return 0;
}

static int attach_opt(int opt, const char *arg)
{
	if (!flow_opt(&opt_flow, opt, arg) || !tunnel_opt(&opt_tun, opt, arg))
		return 0;
	if (opt == 'd') {
		opt_dry_run = 1;
		return 0;
	}
	if (opt == 'm') {
		if (parse_xdp_mode(arg, &opt_mode))
			bad_usage("--mode takes native or generic, not '%s'", arg);
		return 0;
	}
	if (opt == 'H') {
		if (parse_hook(arg, &opt_hook))
			bad_usage("--hook takes auto, xdp or tc, not '%s'", arg);
		return 0;
	}
	if (opt == 'X') {
		if (parse_xdp_meta(arg, &opt_xdp_meta))
			bad_usage("--xdp-meta takes auto or off, not '%s'", arg);
		return 0;
	}
	if (opt == 'e') {
		if (parse_encap_via(arg, &opt_via))
			bad_usage("--encap-via takes auto, xdp or tc, not '%s'", arg);
		return 0;
	}
	if (opt == 'n') {
		if (node_ip_opt(arg, &opt_node_ip, opt_node_ip6))
			exit(1);
		return 0;
	}
	return -1;
}

static int cmd_attach(struct ctx *c, int argc, char **argv)
{
	static const struct option o[] = {
		{ "hook", required_argument, NULL, 'H' },
		{ "mode", required_argument, NULL, 'm' },
		{ "xdp-meta", required_argument, NULL, 'X' },
		{ "node-ip", required_argument, NULL, 'n' },
		{ "encap-via", required_argument, NULL, 'e' },
		{ "dry-run", no_argument, NULL, 'd' },
		FLOW_OPTS_LONG,
		TUNNEL_OPTS_LONG,
		{ 0 },
	};
	struct attach_opts ao;
	int i;

	flow_opts_default(&opt_flow);
	tunnel_opts_default(&opt_tun);
	i = cmd_getopt(argc, argv, o, attach_opt);

	if (argc - i != 1)
		bad_usage("%s", "attach takes one interface");
	if (opt_hook == ATTACH_HOOK_TC && opt_mode == XDP_MODE_GENERIC)
		bad_usage("%s", "--mode generic is an XDP mode: --hook tc attaches no XDP");
	if (need_caps(opt_dry_run ? NEED_MAPS : NEED_ATTACH))
		return 1;
	if (opt_dry_run)	/* what these sizes cost; nothing attached */
		return dp_memlock(&opt_flow, stdout) ? 1 : 0;
	ao = (struct attach_opts){ .hook = opt_hook, .mode = opt_mode, .xdp_meta = opt_xdp_meta,
				   .node_ip = opt_node_ip, .via = opt_via, .flow = opt_flow,
				   .tun = opt_tun };
	memcpy(ao.node_ip6, opt_node_ip6, sizeof(ao.node_ip6));
	return dp_attach(&c->st, pin_dir, argv[i], &ao) ? 1 : 0;
}

static int cmd_detach(struct ctx *c, int argc, char **argv)
{
	int i = cmd_getopt(argc, argv, NULL, NULL);

	(void)c;
	if (argc - i != 1)
		bad_usage("%s", "detach takes one interface");
	if (need_caps(NEED_ATTACH))
		return 1;
	return dp_detach(pin_dir, argv[i]) ? 1 : 0;
}

/* --- node ----------------------------------------------------------- */

static int cmd_node(struct ctx *c, int argc, char **argv)
{
	struct state *s = &c->st;
	struct nosnat_maps m;
	char a[ADDR_STR_LEN];
	__be32 node = 0;
	__u8 a6[16] = {};
	int i = cmd_getopt(argc, argv, NULL, NULL), rc, add, v6;

	if (argc - i != 2 || (strcmp(argv[i], "add") && strcmp(argv[i], "del")))
		bad_usage("%s", "node takes add|del ADDR");
	add = !strcmp(argv[i], "add");
	v6 = !parse_ipv6(argv[i + 1], a6);
	if (v6 ? add && config_not_unicast6(a6) : parse_ipv4(argv[i + 1], &node) || !node) {
		err("invalid node address '%s'%s%s", argv[i + 1], v6 ? ": " : "",
		    v6 ? config_not_unicast6(a6) : "");
		return 1;
	}
	if (writer_begin(&m, s))
		return 1;
	if (v6)
		rc = add ? op_node6_add(&m, s, a6) : op_node6_del(&m, s, a6);
	else
		rc = add ? op_node_add(&m, s, node) : op_node_del(&m, s, node);
	maps_close(&m);
	addr_str(node, a6, a);
	if (rc == -EEXIST)
		err("node %s already exists", a);
	else if (rc == -ENOENT)
		err("node %s is not known", a);
	else if (rc == -EBUSY)
		err("node %s still runs backends (delete them first)", a);
	else if (rc == -ENOSPC)
		err("node %s: node table full (%d)", a, NOSNAT_MAX_NODES);
	else if (rc)
		err("node %s: %s", a, strerror(-rc));
	return rc ? 1 : 0;
}

/* --- vip ------------------------------------------------------------ */

static int cmd_vip(struct ctx *c, int argc, char **argv)
{
	struct state *s = &c->st;
	struct nosnat_maps m;
	struct vip_key k;
	int i = cmd_getopt(argc, argv, NULL, NULL), rc, add;

	if (argc - i != 2 || (strcmp(argv[i], "add") && strcmp(argv[i], "del")))
		bad_usage("%s", "vip takes add|del VIP:PORT/PROTO");
	add = !strcmp(argv[i], "add");
	if (parse_vip_spec(argv[i + 1], &k)) {
		err("invalid VIP '%s' (expected ADDR:PORT/tcp|udp or [V6ADDR]:PORT/tcp|udp, port 1-65535)",
		    argv[i + 1]);
		return 1;
	}
	if (add && k.v6 && config_not_unicast6(k.addr6)) {
		err("invalid VIP '%s': %s", argv[i + 1], config_not_unicast6(k.addr6));
		return 1;
	}
	if (!k.addr) {
		err("invalid VIP '%s': 0.0.0.0", argv[i + 1]);
		return 1;
	}
	if (writer_begin(&m, s))
		return 1;
	rc = add ? op_vip_add_any(&m, s, &k) : op_vip_del_any(&m, s, &k);
	maps_close(&m);
	if (rc == -EEXIST)
		err("VIP %s already exists", argv[i + 1]);
	else if (rc == -ENOENT)
		err("unknown VIP %s", argv[i + 1]);
	else if (rc == -ENOSPC)
		err("VIP %s: VIP table full (%d)", argv[i + 1], NOSNAT_MAX_VIPS);
	else if (rc)
		err("VIP %s: %s", argv[i + 1], strerror(-rc));
	return rc ? 1 : 0;
}

/* --- backend -------------------------------------------------------- */

static int backend_opt(int opt, const char *arg)
{
	if (opt == 'N') {
		if (!parse_ipv6(arg, opt_node6)) {
			if (config_not_unicast6(opt_node6)) {
				err("invalid --node '%s': %s", arg, config_not_unicast6(opt_node6));
				exit(1);
			}
			opt_node = nosnat_addr6_fold(opt_node6);
		} else if (parse_ipv4(arg, &opt_node) || !opt_node) {
			err("invalid --node '%s': not an IPv4 or IPv6 address", arg);
			exit(1);
		}
		opt_node_set = 1;
		return 0;
	}
	if (opt == 'w') {
		if (parse_uint(arg, 0, NOSNAT_MAX_WEIGHT, &opt_weight)) {
			err("invalid --weight '%s' (0-%d)", arg, NOSNAT_MAX_WEIGHT);
			exit(1);
		}
		return 0;
	}
	return -1;
}

static int cmd_backend(struct ctx *c, int argc, char **argv)
{
	static const struct option o[] = {
		{ "node", required_argument, NULL, 'N' },
		{ "weight", required_argument, NULL, 'w' },
		{ 0 },
	};
	struct state *s = &c->st;
	struct nosnat_maps m;
	struct vip_key k;
	char a[ADDR_STR_LEN], spec[EP_STR_LEN];
	__be32 addr;
	__u8 a6[16];
	__be16 port;
	int i, rc, add;

	opt_weight = 1;
	memset(opt_node6, 0, sizeof(opt_node6));
	i = cmd_getopt(argc, argv, o, backend_opt);
	if (argc - i != 3 || (strcmp(argv[i], "add") && strcmp(argv[i], "del")))
		bad_usage("%s", "backend takes add|del VIP:PORT/PROTO POD_ADDR[:PORT]");
	add = !strcmp(argv[i], "add");
	if (add && !opt_node_set)
		bad_usage("%s", "backend add needs --node NODE_ADDR");
	if (!add && opt_node_set)
		bad_usage("%s", "backend del takes no --node");
	if (parse_vip_spec(argv[i + 1], &k)) {
		err("invalid VIP '%s' (expected ADDR:PORT/tcp|udp or [V6ADDR]:PORT/tcp|udp, port 1-65535)",
		    argv[i + 1]);
		return 1;
	}
	if (parse_addr_port_any(argv[i + 2], &addr, a6, &port) || !addr) {
		err("invalid backend '%s' (expected ADDR[:PORT] or [V6ADDR][:PORT], port 1-65535)",
		    argv[i + 2]);
		return 1;
	}
	/* a VIP takes backends of its own family */
	if (addr6_set(a6) != !!k.v6) {
		err("backend '%s' is IPv%c but VIP %s is IPv%c", argv[i + 2], addr6_set(a6) ? '6' : '4',
		    argv[i + 1], k.v6 ? '6' : '4');
		return 1;
	}
	if (add && addr6_set(a6) && config_not_unicast6(a6)) {
		err("invalid backend '%s': %s", argv[i + 2], config_not_unicast6(a6));
		return 1;
	}
	addr_str(opt_node, opt_node6, a);
	if (add && !k.v6 && addr6_set(opt_node6)) {
		err("backend '%s' of VIP %s: node %s is IPv6, but an IPv4 VIP's pods need IPv4 nodes",
		    argv[i + 2], argv[i + 1], a);
		return 1;
	}
	if (writer_begin(&m, s))
		return 1;
	rc = add ? op_backend_add_on(&m, s, &k, addr, a6, port, opt_node, opt_node6, (__u16)opt_weight)
		 : op_backend_del_any(&m, s, &k, addr, a6, port);
	maps_close(&m);
	ep_str(addr, a6, port ? port : k.port, spec);
	if (rc == -ENOENT)
		err("unknown VIP %s (add it with 'nosnat vip add %s')", argv[i + 1], argv[i + 1]);
	else if (rc == -EEXIST)
		err("backend %s already exists for VIP %s", spec, argv[i + 1]);
	else if (rc == -ESRCH)
		err("backend %s is not a backend of VIP %s", spec, argv[i + 1]);
	else if (rc == -EHOSTUNREACH)
		err("unknown node %s (add it with 'nosnat node add %s')", a, a);
	else if (rc == -EAFNOSUPPORT)
		err("backend %s: node %s is IPv6, but an IPv4 VIP's pods need IPv4 nodes", spec, a);
	else if (rc == -E2BIG)
		err("backend %s: more than %d backends of VIP %s on this node", spec,
		    NOSNAT_MAX_LOCAL, argv[i + 1]);
	else if (rc == -EMLINK)
		err("backend %s: that pod port already serves %d VIP ports of this protocol (at most)",
		    spec, NOSNAT_POD_IDS);
	else if (rc == -ENOSPC)
		err("backend %s: backend table full (%d)", spec, NOSNAT_MAX_BACKENDS);
	else if (rc)
		err("backend %s: %s", spec, strerror(-rc));
	return rc ? 1 : 0;
}

/* --- list / stats --------------------------------------------------- */

static int json_opt(int opt, const char *arg)
{
	(void)arg;
	if (opt != 'j')
		return -1;
	opt_json = 1;
	return 0;
}

static int reader(struct ctx *c, int argc, char **argv, int stats)
{
	static const struct option o[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	struct state *s = &c->st;
	struct nosnat_maps m;
	int i = cmd_getopt(argc, argv, o, json_opt), rc;

	if (argc != i)
		bad_usage("unexpected argument '%s'", argv[i]);
	if (pin_dir_prepare(pin_dir, 0) || maps_open(pin_dir, &m))
		return 1;
	rc = state_read(&m, s);
	if (rc)
		err("cannot read the maps under %s: %s", pin_dir, strerror(-rc));
	else if (stats)
		rc = show_stats(stdout, &m, s, opt_json);
	else
		show_list(stdout, s, opt_json);
	if (rc && stats)
		err("cannot read the counters: %s", strerror(-rc));
	maps_close(&m);
	return rc ? 1 : 0;
}

static int cmd_verify(struct ctx *c, int argc, char **argv)
{
	struct state *s = &c->st;
	struct nosnat_maps m;
	int i = cmd_getopt(argc, argv, NULL, NULL), rc, problems = 0;

	if (argc != i)
		bad_usage("unexpected argument '%s'", argv[i]);
	if (pin_dir_prepare(pin_dir, 0) || maps_open(pin_dir, &m))
		return 1;
	rc = maps_lock_shared(pin_dir, &m);
	if (!rc)
		rc = state_read(&m, s);
	if (!rc)
		problems = state_verify(&m, s, stdout);
	maps_close(&m);
	if (rc) {
		err("cannot read the maps under %s: %s", pin_dir, strerror(-rc));
		return 1;
	}
	if (problems) {
		err("%d inconsistenc%s in %s", problems, problems == 1 ? "y" : "ies", pin_dir);
		return 1;
	}
	printf("consistent: %zu VIP ports, %zu nodes\n", s->n_vips, s->n_nodes + s->n_nodes6);
	return 0;
}

/* The DaemonSet's readiness probe: attached, and the daemon's configuration applied. */
static int cmd_health(struct ctx *c, int argc, char **argv)
{
	int i = cmd_getopt(argc, argv, NULL, NULL);

	(void)c;
	if (argc != i)
		bad_usage("unexpected argument '%s'", argv[i]);
	if (pin_dir_prepare(pin_dir, 0))
		return 1;
	return dp_health(pin_dir, stdout) ? 1 : 0;
}

static int cmd_list(struct ctx *c, int argc, char **argv)
{
	return reader(c, argc, argv, 0);
}

static int cmd_stats(struct ctx *c, int argc, char **argv)
{
	return reader(c, argc, argv, 1);
}

/* --- apply / check / metrics / run ----------------------------------- */

static int apply_opt(int opt, const char *arg)
{
	(void)arg;
	if (opt != 'd')
		return -1;
	opt_dry_run = 1;
	return 0;
}

static int cmd_apply(struct ctx *c, int argc, char **argv)
{
	static const struct option o[] = { { "dry-run", no_argument, NULL, 'd' }, { 0 } };
	int i = cmd_getopt(argc, argv, o, apply_opt), rc;

	(void)c;
	if (argc - i != 1)
		bad_usage("%s", "apply takes one FILE");
	if (need_caps(NEED_MAPS))
		return 1;
	rc = apply_file(c, pin_dir, argv[i], opt_dry_run, stdout);
	if (rc >= 0 && !opt_dry_run)
		info("%s: applied, %d change%s", argv[i], rc, rc == 1 ? "" : "s");
	else if (rc >= 0)
		info("%s: dry run, %d change%s", argv[i], rc, rc == 1 ? "" : "s");
	return rc < 0 ? 1 : 0;
}

static int cmd_check(struct ctx *c, int argc, char **argv)
{
	struct config *cfg = &c->cfg;
	char ebuf[512];
	int i = cmd_getopt(argc, argv, NULL, NULL);

	if (argc - i != 1)
		bad_usage("%s", "check takes one FILE");
	if (config_load(argv[i], cfg, ebuf, sizeof(ebuf))) {
		err("%s", ebuf);
		return 1;
	}
	printf("%s: ok (%zu VIP ports, %zu backends, %zu nodes, %zu Kubernetes services%s)\n", argv[i],
	       cfg->n_vips, cfg->n_bes, cfg->n_nodes + cfg->n_nodes6, cfg->n_ksvcs,
	       cfg->nodes_from_kube ? ", nodes from Kubernetes" : "");
	return 0;
}

static const char *opt_textfile;

static int metrics_opt(int opt, const char *arg)
{
	if (opt != 't')
		return -1;
	opt_textfile = arg;
	return 0;
}

static int cmd_metrics(struct ctx *c, int argc, char **argv)
{
	static const struct option o[] = { { "textfile", required_argument, NULL, 't' }, { 0 } };
	struct metrics *mx = &c->mx;
	struct state *s = &c->st;
	struct nosnat_maps m;
	int i = cmd_getopt(argc, argv, o, metrics_opt), rc;

	if (argc != i)
		bad_usage("unexpected argument '%s'", argv[i]);
	if (pin_dir_prepare(pin_dir, 0) || maps_open(pin_dir, &m))
		return 1;
	rc = state_read(&m, s);
	if (!rc) {
		mx->version = NOSNAT_VERSION;
		rc = metrics_collect(&m, s, mx);
	}
	maps_close(&m);
	if (rc) {
		err("cannot read the counters under %s: %s", pin_dir, strerror(-rc));
		return 1;
	}
	if (!opt_textfile) {
		metrics_render(stdout, mx);
		return 0;
	}
	rc = metrics_write_textfile(opt_textfile, mx);
	if (rc)
		err("cannot write %s: %s", opt_textfile, strerror(-rc));
	return rc ? 1 : 0;
}

static struct run_opts ropts = {
	.interval = 15,
	.kube_sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount",
	.kube_stall_timeout = 120,	/* the API sends a bookmark about every minute */
	.kube_watch_timeout = 300,
	.kube_list_limit = 500,
};

static int run_opt(int opt, const char *arg)
{
	unsigned long u;

	switch (opt) {
	case 'c':
		ropts.config = arg;
		return 0;
	case 'i':
		ropts.iface = arg;
		return 0;
	case 'n':
		if (node_ip_opt(arg, &ropts.node_ip, ropts.node_ip6))
			exit(1);
		return 0;
	case 't':
		ropts.textfile = arg;
		return 0;
	case 'I':
		if (parse_uint(arg, 1, 86400, &u)) {
			err("invalid --interval '%s' (1-86400 seconds)", arg);
			exit(1);
		}
		ropts.interval = (unsigned int)u;
		return 0;
	case 'D':
		ropts.detach_on_exit = 1;
		return 0;
	case 'K':
		ropts.kube = 1;
		return 0;
	case 'k':
		ropts.kube = 1;
		ropts.kubeconfig = arg;
		return 0;
	case 'S':
		ropts.kube_sa_dir = arg;
		return 0;
	case 'T':
	case 'W':
		if (parse_uint(arg, 1, 3600, &u)) {
			err("invalid %s '%s' (1-3600 seconds)",
			    opt == 'T' ? "--kube-stall-timeout" : "--kube-watch-timeout", arg);
			exit(1);
		}
		if (opt == 'T')
			ropts.kube_stall_timeout = (unsigned int)u;
		else
			ropts.kube_watch_timeout = (unsigned int)u;
		return 0;
	case 'P':
		if (parse_uint(arg, 1, 5000, &u)) {
			err("invalid --kube-list-limit '%s' (1-5000 objects per page)", arg);
			exit(1);
		}
		ropts.kube_list_limit = (unsigned int)u;
		return 0;
	case 'L':
	case 'C':
	case 'M':
	case 'F':
		return flow_opt(&ropts.flow, opt, arg);
	case TUNNEL_OPT_ENCAP:
	case TUNNEL_OPT_GUE_PORT:
	case TUNNEL_OPT_DECAP:
		return tunnel_opt(&ropts.tun, opt, arg);
	case 'e':
		if (parse_encap_via(arg, &ropts.via))
			bad_usage("--encap-via takes auto, xdp or tc, not '%s'", arg);
		return 0;
	case 'm':
		if (parse_xdp_mode(arg, &ropts.mode))
			bad_usage("--mode takes native or generic, not '%s'", arg);
		return 0;
	case 'H':
		if (parse_hook(arg, &ropts.hook))
			bad_usage("--hook takes auto, xdp or tc, not '%s'", arg);
		return 0;
	case 'X':
		if (parse_xdp_meta(arg, &ropts.xdp_meta))
			bad_usage("--xdp-meta takes auto or off, not '%s'", arg);
		return 0;
	}
	return -1;
}

static int cmd_run(struct ctx *c, int argc, char **argv)
{
	static const struct option o[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "iface", required_argument, NULL, 'i' },
		{ "node-ip", required_argument, NULL, 'n' },
		{ "textfile", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'I' },
		{ "detach-on-exit", no_argument, NULL, 'D' },
		{ "hook", required_argument, NULL, 'H' },
		{ "mode", required_argument, NULL, 'm' },
		{ "xdp-meta", required_argument, NULL, 'X' },
		{ "encap-via", required_argument, NULL, 'e' },
		{ "kube", no_argument, NULL, 'K' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "kube-sa-dir", required_argument, NULL, 'S' },
		{ "kube-stall-timeout", required_argument, NULL, 'T' },
		{ "kube-watch-timeout", required_argument, NULL, 'W' },
		{ "kube-list-limit", required_argument, NULL, 'P' },
		FLOW_OPTS_LONG,
		TUNNEL_OPTS_LONG,
		{ 0 },
	};
	int i;

	flow_opts_default(&ropts.flow);
	tunnel_opts_default(&ropts.tun);
	i = cmd_getopt(argc, argv, o, run_opt);

	if (argc != i)
		bad_usage("unexpected argument '%s'", argv[i]);
	if (!ropts.config)
		bad_usage("%s", "run needs --config FILE");
	if (ropts.hook == ATTACH_HOOK_TC && ropts.mode == XDP_MODE_GENERIC)
		bad_usage("%s", "--mode generic is an XDP mode: --hook tc attaches no XDP");
	if (need_caps(NEED_ATTACH))
		return 1;
	return run_daemon(c, pin_dir, &ropts) ? 1 : 0;
}

static const struct cmd cmds[] = {
	{ "attach", cmd_attach,
	  "IFACE [--hook auto|xdp|tc] [--mode native|generic] [--xdp-meta auto|off]\n"
	  "       [--node-ip ADDR [--node-ip V6ADDR]] [--encap-via auto|xdp|tc] [--dry-run]\n"
	  "       " FLOW_OPTS_USAGE "\n"
	  "       " TUNNEL_OPTS_USAGE },
	{ "detach", cmd_detach, "IFACE" },
	{ "node", cmd_node, "add|del ADDR" },
	{ "vip", cmd_vip, "add|del VIP:PORT/PROTO" },
	{ "backend", cmd_backend,
	  "add VIP:PORT/PROTO POD_ADDR[:PORT] --node NODE_ADDR [--weight N]\n"
	  "       nosnat [--pin-dir DIR] backend del VIP:PORT/PROTO POD_ADDR[:PORT]" },
	{ "list", cmd_list, "[--json]" },
	{ "stats", cmd_stats, "[--json]" },
	{ "apply", cmd_apply, "FILE [--dry-run]" },
	{ "check", cmd_check, "FILE" },
	{ "verify", cmd_verify, "" },
	{ "health", cmd_health, "" },
	{ "metrics", cmd_metrics, "[--textfile PATH]" },
	{ "run", cmd_run,
	  "--config FILE [--iface IFACE|auto] [--node-ip ADDR [--node-ip V6ADDR]] [--textfile PATH]\n"
	  "       [--interval SECONDS] [--detach-on-exit] [--hook auto|xdp|tc]\n"
	  "       [--mode native|generic] [--xdp-meta auto|off] [--encap-via auto|xdp|tc]\n"
	  "       [--kube | --kubeconfig FILE] [--kube-sa-dir DIR]\n"
	  "       [--kube-stall-timeout SECONDS] [--kube-watch-timeout SECONDS]\n"
	  "       [--kube-list-limit N]\n"
	  "       " FLOW_OPTS_USAGE "\n"
	  "       " TUNNEL_OPTS_USAGE },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: nosnat [-v] [--pin-dir DIR] COMMAND [options]\n"
		   "       nosnat --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].usage);
	fprintf(f, "\naddresses: IPv4 or IPv6, an IPv6 one in brackets when a port follows\n"
		   "  (vip add [2001:db8::25]:25/tcp, backend add ... [2001:db8:18:2::2]:2525)\n");
	fprintf(f, "\n'nosnat COMMAND -h' for a command's options. Default pin dir: %s\n",
		NOSNAT_DEFAULT_PIN_DIR);
}

int main(int argc, char **argv)
{
	static const struct option o[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+vhp:", o, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'v':
			log_verbose = 1;
			break;
		case 'V':
			printf("nosnat %s\n", NOSNAT_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "nosnat: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!*pin_dir || pin_dir[0] != '/') {
		fprintf(stderr, "nosnat: --pin-dir must be an absolute path, not '%s'\n", pin_dir);
		return 2;
	}
	log_init_libbpf();
	/* Kernels >= 5.11 charge BPF memory to the cgroup; failure is harmless. */
	setrlimit(RLIMIT_MEMLOCK, &rl);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct ctx *c;
		int rc;

		if (strcmp(argv[optind], cmds[i].name))
			continue;
		current = &cmds[i];
		c = ctx_new();
		if (!c) {
			fprintf(stderr, "nosnat: out of memory\n");
			return 1;
		}
		rc = cmds[i].fn(c, argc - optind, argv + optind);
		free(c);
		return rc;
	}
	fprintf(stderr, "nosnat: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
