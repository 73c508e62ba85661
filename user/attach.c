// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* attach / detach: open -> pin maps -> load -> config -> XDP link -> tc. */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include "nosnat.skel.h"
#include "apply.h"
#include "attach.h"
#include "migrate.h"
#include "names.h"
#include "log.h"
#include "netdev.h"
#include "parse.h"
#include "mapio.h"
#include "pods.h"
#include "scratch.h"
#include "state.h"
#include "vips.h"

/* The index of s in a NULL-ended list of words, or -EINVAL. */
static int word_index(const char *s, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			return i;
	return -EINVAL;
}

int parse_encap_via(const char *s, enum encap_via *via)
{
	static const char *const words[] = {
		[ENCAP_VIA_AUTO] = "auto", [ENCAP_VIA_XDP] = "xdp", [ENCAP_VIA_TC] = "tc", NULL,
	};
	int i = word_index(s, words);

	if (i < 0)
		return i;
	*via = (enum encap_via)i;
	return 0;
}

int parse_hook(const char *s, enum attach_hook *hook)
{
	static const char *const words[] = {
		[ATTACH_HOOK_AUTO] = "auto", [ATTACH_HOOK_XDP] = "xdp", [ATTACH_HOOK_TC] = "tc", NULL,
	};
	int i = word_index(s, words);

	if (i < 0)
		return i;
	*hook = (enum attach_hook)i;
	return 0;
}

int parse_xdp_meta(const char *s, enum xdp_meta_use *use)
{
	static const char *const words[] = {
		[XDP_META_AUTO] = "auto", [XDP_META_OFF] = "off", NULL,
	};
	int i = word_index(s, words);

	if (i < 0)
		return i;
	*use = (enum xdp_meta_use)i;
	return 0;
}

int parse_xdp_mode(const char *s, enum xdp_mode *mode)
{
	static const char *const words[] = {
		[XDP_MODE_NATIVE] = "native", [XDP_MODE_GENERIC] = "generic", NULL,
	};
	int i = word_index(s, words);

	if (i < 0)
		return i;
	*mode = (enum xdp_mode)i;
	return 0;
}

/* libbpf_probe_bpf_helper() of libbpf 1.1 reads only the verifier's older
 * words for a refused helper ("unknown func"); a kernel that says "program
 * of this type cannot use helper" gets a yes from it, and the real load
 * fails. So load the call itself: r1 = ctx, r2 = 0 (the delta),
 * call bpf_xdp_adjust_meta, return XDP_PASS. */
int xdp_meta_probe(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_meta },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[512] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int fd, rc;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "nosnat_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &o);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	rc = -errno;
	if (strstr(log, "cannot use helper") || strstr(log, "unknown func") ||
	    strstr(log, "invalid func"))
		return 0;
	debug("probing bpf_xdp_adjust_meta: %s: %s", strerror(-rc), log);
	return rc;
}

/* Does the kernel let a program with bpf-to-bpf calls tail-call (x86-64
 * JITs since 5.10; other JITs later)? XDP's entry point has both when it
 * tail-calls its v6 walk. 1: yes; 0: no (or cannot tell): XDP passes v6
 * on to tc, and the program loads. */
int xdp_tail_call_probe(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1 },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL, .imm = 7 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_6 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_2, .src_reg = BPF_PSEUDO_MAP_FD },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_tail_call },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },	/* the subprogram */
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	int map, fd, rc;

	map = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "nosnat_probe", 4, 4, 1, NULL);
	if (map < 0)
		return 0;
	insns[3].imm = map;
	/* no log: a log that does not fit fails a program that verified */
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "nosnat_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &o);
	if (fd < 0) {
		rc = errno;
		o.log_buf = log;
		o.log_size = sizeof(log);
		o.log_level = 1;
		fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "nosnat_probe", "GPL", insns,
				   sizeof(insns) / sizeof(insns[0]), &o);
		debug("probing tail calls beside bpf-to-bpf calls: %s: %s", strerror(rc), log);
		if (fd >= 0)
			close(fd);
		close(map);
		return 0;
	}
	close(fd);
	close(map);
	return 1;
}

void flow_opts_default(struct flow_opts *f)
{
	f->new_flow_limit = NOSNAT_DEFAULT_NEW_FLOW_LIMIT;
	f->conntrack = CT_USE_AUTO;
	f->ct_mark_mask = NOSNAT_DEFAULT_CT_MARK_MASK;
	f->flow_entries = NOSNAT_FLOW_ENTRIES;
}

void tunnel_opts_default(struct tunnel_opts *t)
{
	*t = (struct tunnel_opts){ .encap = NOSNAT_ENCAP_IPIP, .gue_port = NOSNAT_DEFAULT_GUE_PORT,
				   .decap = NOSNAT_DECAP_IPIP | NOSNAT_DECAP_GUE };
}

int tunnel_opt(struct tunnel_opts *t, int opt, const char *arg)
{
	unsigned long v;

	switch (opt) {
	case TUNNEL_OPT_ENCAP:
		if (parse_encap(arg, &t->encap)) {
			err("invalid --encap '%s' (ipip or gue)", arg);
			exit(1);
		}
		t->given |= TUNNEL_GIVEN_ENCAP;
		return 0;
	case TUNNEL_OPT_GUE_PORT:
		if (parse_uint(arg, 1, 65535, &v)) {
			err("invalid --gue-port '%s' (a UDP port, 1-65535)", arg);
			exit(1);
		}
		t->gue_port = (__u16)v;
		t->given |= TUNNEL_GIVEN_PORT;
		return 0;
	case TUNNEL_OPT_DECAP:
		if (parse_decap(arg, &t->decap)) {
			err("invalid --decap '%s' (ipip, gue or ipip,gue)", arg);
			exit(1);
		}
		t->given |= TUNNEL_GIVEN_DECAP;
		return 0;
	}
	return -1;
}

int flow_opt(struct flow_opts *f, int opt, const char *arg)
{
	char *end;
	unsigned long v;

	switch (opt) {
	case 'L':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || v > 100000000UL || arg[0] == '-') {
			err("invalid --new-flow-limit '%s' (0-100000000 per CPU and second, 0: none)", arg);
			exit(1);
		}
		f->new_flow_limit = (__u32)v;
		return 0;
	case 'C':
		if (!strcmp(arg, "auto"))
			f->conntrack = CT_USE_AUTO;
		else if (!strcmp(arg, "off"))
			f->conntrack = CT_USE_OFF;
		else {
			err("invalid --conntrack '%s' (auto or off)", arg);
			exit(1);
		}
		return 0;
	case 'F':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v < FLOW_TABLE_MIN || v > FLOW_TABLE_MAX) {
			err("invalid --flow-table '%s' (%u-%u established flows)", arg, FLOW_TABLE_MIN,
			    FLOW_TABLE_MAX);
			exit(1);
		}
		f->flow_entries = (__u32)v;
		return 0;
	case 'M':
		errno = 0;
		v = strtoul(arg, &end, 0);
		if (errno || end == arg || *end || !v || v > 0xffffffffUL || arg[0] == '-') {
			err("invalid --ct-mark-mask '%s' (a non-zero 32-bit mask, e.g. 0x00ffff00)", arg);
			exit(1);
		}
		f->ct_mark_mask = (__u32)v;
		return 0;
	}
	return -1;
}

/* The kfuncs are in vmlinux when conntrack is built in, else in the
 * nf_conntrack module's BTF (present once the module is loaded). */
int ct_kfuncs_available(void)
{
	static const char *const need[] = { "bpf_xdp_ct_lookup", "bpf_skb_ct_lookup", "bpf_ct_release" };
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod = NULL;
	int found = 0;

	if (!vmlinux)
		return 0;
	if (btf__find_by_name_kind(vmlinux, need[0], BTF_KIND_FUNC) < 0)
		mod = btf__parse_split("/sys/kernel/btf/nf_conntrack", vmlinux);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (btf__find_by_name_kind(mod ? mod : vmlinux, need[i], BTF_KIND_FUNC) >= 0)
			found++;
	btf__free(mod);
	btf__free(vmlinux);
	return found == (int)(sizeof(need) / sizeof(need[0]));
}

static void link_pin_path(char *buf, size_t len, const char *pin_dir, const char *ifname)
{
	snprintf(buf, len, "%s/xdp_link_%s", pin_dir, ifname);
}

static void jmp_pin_path(char *buf, size_t len, const char *pin_dir, const char *ifname)
{
	snprintf(buf, len, "%s/xdp6_jmp_%s", pin_dir, ifname);
}

/* XDP's v6 walk (nosnat_xdp6) in the slot XDP's entry point tail-calls,
 * before the program is attached (the skeleton holds the array meanwhile). */
static int xdp6_jmp_fill(struct nosnat_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.nosnat_xdp6_jmp);
	int prog_fd = bpf_program__fd(skel->progs.nosnat_xdp6);
	__u32 zero = 0;
	int rc;

	if (bpf_map_update_elem(map_fd, &zero, &prog_fd, BPF_ANY)) {
		rc = -errno;
		err("cannot set XDP's v6 walk in nosnat_xdp6_jmp: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/* The array pinned beside the interface's XDP link once that holds this
 * load's program: a program array empties when no file holds it, and the
 * loader's exit would take XDP's v6 walk away. The pin of the earlier load
 * is replaced, and its array empties: its program is gone by then. An
 * attach that failed leaves the earlier pin, for the program still there. */
static int xdp6_jmp_pin(const char *pin_dir, const char *ifname, struct nosnat_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.nosnat_xdp6_jmp);
	char path[PATH_MAX];
	int rc;

	jmp_pin_path(path, sizeof(path), pin_dir, ifname);
	if (unlink(path) && errno != ENOENT) {
		rc = -errno;
		err("cannot replace %s: %s", path, strerror(-rc));
		return rc;
	}
	if (bpf_obj_pin(map_fd, path)) {
		rc = -errno;
		err("cannot pin XDP's v6 walk at %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

/* The XDP mode the program on ifindex runs in: "native", "generic",
 * "offloaded", or "unknown". */
static const char *xdp_mode_name(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV: return "native";
	case XDP_ATTACHED_SKB: return "generic";
	case XDP_ATTACHED_HW: return "offloaded";
	default: return "unknown";
	}
}

/* A driver's refusal of XDP, which --hook auto answers with tc: anything
 * but another program in the way or missing privileges. */
static int xdp_refused(int rc)
{
	return rc != -EBUSY && rc != -EEXIST && rc != -EPERM;
}

/* Replace the program behind an existing pinned link, else (none, or one
 * in the other mode) create one. quiet: a refusal (xdp_refused) is the
 * caller's to report. */
static int attach_xdp(const char *pin_dir, const char *ifname, int ifindex, int prog_fd,
		      enum xdp_mode mode, int quiet)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts,
		    .flags = mode == XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	char path[PATH_MAX];
	int fd, rc;

	link_pin_path(path, sizeof(path), pin_dir, ifname);
	fd = bpf_obj_get(path);
	if (fd >= 0 && strcmp(xdp_mode_name(ifindex), mode == XDP_MODE_GENERIC ? "generic" : "native")) {
		/* a link keeps its mode: a new one (tc runs it all meanwhile) */
		debug("XDP on %s is %s, not as asked: attaching anew", ifname, xdp_mode_name(ifindex));
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
		fd = -1;
	}
	if (fd >= 0) {
		rc = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (!rc) {
			debug("replaced the XDP program on %s in place", ifname);
			return 0;
		}
		debug("stale XDP link pin %s (%s), recreating", path, strerror(errno));
		unlink(path);
	}
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		rc = -errno;
		if (quiet && xdp_refused(rc))
			return rc;
		if (rc == -EBUSY || rc == -EEXIST)
			err("cannot attach XDP to %s: another XDP program is attached "
			    "(remove it: ip link set dev %s xdp off)", ifname, ifname);
		else if (rc == -EOPNOTSUPP || rc == -EINVAL)
			err("cannot attach XDP to %s: %s (try --mode generic, or --hook tc)", ifname,
			    strerror(-rc));
		else if (rc == -EPERM)
			err("cannot attach XDP to %s: %s (needs CAP_NET_ADMIN)", ifname, strerror(-rc));
		else
			err("cannot attach XDP to %s: %s", ifname, strerror(-rc));
		return rc;
	}
	if (bpf_obj_pin(fd, path)) {
		rc = -errno;
		err("cannot pin XDP link at %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* Take nosnat's XDP link off ifname and remove its pin: 1 when there was
 * one, 0 when not. */
static int detach_xdp(const char *pin_dir, const char *ifname)
{
	char path[PATH_MAX];
	int fd;

	jmp_pin_path(path, sizeof(path), pin_dir, ifname);
	unlink(path);	/* XDP's v6 walk: gone with the link */
	link_pin_path(path, sizeof(path), pin_dir, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	bpf_link_detach(fd);
	close(fd);
	unlink(path);
	return 1;
}

static int attach_tc(const char *ifname, int ifindex, int ingress_fd, int egress_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	struct { enum bpf_tc_attach_point at; int fd; const char *name; } t[] = {
		{ BPF_TC_INGRESS, ingress_fd, "ingress" }, { BPF_TC_EGRESS, egress_fd, "egress" },
	};
	int rc;

	rc = bpf_tc_hook_create(&hook);	/* creates the clsact qdisc */
	if (rc && rc != -EEXIST) {
		err("cannot create clsact qdisc on %s: %s%s", ifname, strerror(-rc),
		    rc == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return rc;
	}
	for (size_t i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = NOSNAT_TC_HANDLE, .priority = NOSNAT_TC_PRIO,
			    .prog_fd = t[i].fd, .flags = BPF_TC_F_REPLACE);

		hook.attach_point = t[i].at;
		rc = bpf_tc_attach(&hook, &o);
		if (rc) {
			err("cannot attach tc %s program to %s: %s%s", t[i].name, ifname, strerror(-rc),
			    rc == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
			return rc;
		}
	}
	return 0;
}

/* libbpf reuses a pinned map only if it matches this build's definition,
 * else the load fails with a bare EINVAL. Say which map, and the way out. */
/* Pins of a version whose flows cannot be carried over at all. */
static int pins_compatible(const char *pin_dir)
{
	static const char *const retired[] = {
#define X(name) name,
		NOSNAT_RETIRED_MAPS(X)
#undef X
	};
	char old[PATH_MAX];

	for (size_t i = 0; i < sizeof(retired) / sizeof(retired[0]); i++) {
		snprintf(old, sizeof(old), "%s/%s", pin_dir, retired[i]);
		if (!access(old, F_OK)) {
			err("pinned map %s was made by another nosnat version (it has no use now): "
			    "detach from every interface (established flows are lost), then attach",
			    old);
			return -EINVAL;
		}
	}
	return 0;
}

/* The ABI version the pins under pin_dir were made with (0: none recorded),
 * or -1 when there are none. */
static int pins_abi(const char *pin_dir)
{
	struct nosnat_ctl ctl = {};
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, NOSNAT_MAP_CTL);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, &ctl))
		ctl.abi = 0;
	close(fd);
	return (int)ctl.abi;
}

static void pins_abi_record(int ctl_fd)
{
	struct nosnat_ctl ctl = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(ctl_fd, &zero, &ctl);
	ctl.abi = NOSNAT_ABI_VERSION;
	if (bpf_map_update_elem(ctl_fd, &zero, &ctl, BPF_ANY))
		err("warning: cannot record the ABI version in %s: %s", NOSNAT_MAP_CTL, strerror(errno));
}

static int cfg_write(struct nosnat_bpf *skel, const struct nosnat_cfg *cfg)
{
	__u32 zero = 0;
	int rc;

	if (!bpf_map_update_elem(bpf_map__fd(skel->maps.nosnat_cfg), &zero, cfg, BPF_ANY))
		return 0;
	rc = -errno;
	err("cannot write the node configuration: %s", strerror(-rc));
	return rc;
}

/* Drivers that give XDP no room for metadata (xdp_prepare_buff(...,
 * false)): ena (AWS), hv_netvsc (Hyper-V, Azure), sfc. */
static int driver_without_meta(const char *ifname)
{
	static const char *const drivers[] = { "ena", "hv_netvsc", "sfc", NULL };
	char drv[32] = "";

	iface_driver(ifname, drv, sizeof(drv));
	for (int i = 0; drivers[i]; i++)
		if (!strcmp(drv, drivers[i]))
			return 1;
	return 0;
}

/* Said once at attach: a namespace where conntrack tracks nothing (no
 * netfilter rule uses it) cannot prove a pod's connection after its flow
 * entry is lost. An idle namespace looks the same: the daemon says so
 * again, for sure, once a VIP flow goes untracked (health too). */
static void conntrack_note(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_count", "r");
	unsigned long n = 0;

	if (f && fscanf(f, "%lu", &n) != 1)
		n = 0;
	if (f)
		fclose(f);
	if (!n)
		err("warning: conntrack tracks no connection in this network namespace (%s): without "
		    "a netfilter rule that uses it (kube-proxy's have), a connection to a pod here "
		    "whose flow entry is lost cannot be recovered; 'nosnat health' says which "
		    "recovery is in force", f ? "nf_conntrack_count 0" : "nf_conntrack not loaded");
}

int dp_attach(struct state *st, const char *pin_dir, const char *ifname,
	      const struct attach_opts *o)
{
	enum xdp_mode mode = o->mode;
	enum attach_hook hook = o->hook;
	enum encap_via via = o->via;
	__be32 node_ip = o->node_ip;
	__u8 node_ip6[16];
	const struct flow_opts *flow = &o->flow;
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = pin_dir);
	struct nosnat_bpf *skel = NULL;
	struct nosnat_maps lock, maps;
	struct nosnat_cfg cfg = {};
	struct migration mg;
	unsigned int mtu = 0;
	int have_ct = 0, meta = 0;
	int ifindex, abi, rc;
	char drv[32] = "", how[160], why_buf[96], tun[96];
	const char *no_meta = NULL;	/* why XDP runs without the metadata hand-off */
	char a[INET_ADDRSTRLEN], a6[ADDR_STR_LEN + 8];

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		err("interface %s not found", ifname);
		return -ENODEV;
	}
	/* an IPv6 node network: given, else the interface's, else none */
	memcpy(node_ip6, o->node_ip6, sizeof(node_ip6));
	if (!addr6_set(node_ip6) && iface_ipv6(ifname, node_ip6))
		memset(node_ip6, 0, sizeof(node_ip6));
	/* a node of an IPv6-only node network has no IPv4 address: its v6
	 * VIPs work, v4 VIPs pass it untouched (no_node_ip) */
	if (!node_ip && iface_ipv4(ifname, &node_ip)) {
		if (!addr6_set(node_ip6)) {
			err("interface %s has no IPv4 or global IPv6 address (give --node-ip)",
			    ifname);
			return -EADDRNOTAVAIL;
		}
		node_ip = 0;
		info("interface %s has no IPv4 address: only IPv6 VIPs are served here", ifname);
	}
	rc = iface_mtu(ifname, &mtu);
	if (rc) {
		err("cannot read the MTU of %s: %s", ifname, strerror(-rc));
		return rc;
	}
	rc = pin_dir_prepare(pin_dir, 1);
	if (rc)
		return rc;
	maps_open_none(&lock);
	maps_open_none(&maps);
	rc = maps_lock(pin_dir, &lock);
	if (rc)
		return rc;

	skel = nosnat_bpf__open_opts(&oopts);
	if (!skel) {
		rc = -errno;
		err("cannot open the BPF object: %s", strerror(-rc));
		goto out;
	}
	rc = pins_compatible(pin_dir);
	if (rc)
		goto out;
	abi = pins_abi(pin_dir);
	if (abi >= 0 && abi != NOSNAT_ABI_VERSION)
		info("pins under %s are of ABI %d%s, this nosnat's is %d: maps that differ are "
		     "carried over or refused", pin_dir, abi, abi ? "" : " (recorded by no version)",
		     NOSNAT_ABI_VERSION);
	if (flow->conntrack == CT_USE_AUTO) {
		have_ct = ct_kfuncs_available();
		if (!have_ct)
			err("warning: the kernel has no conntrack kfuncs (Linux 6.1+ with nf_conntrack "
			    "loaded): an established VIP connection depends on its flow entries");
	}
	skel->rodata->nosnat_have_ct = have_ct;
	/* Prune XDP's metadata calls where the kernel refuses the helper:
	 * the verifier would refuse the whole program. */
	if (hook != ATTACH_HOOK_TC && o->xdp_meta == XDP_META_OFF) {
		no_meta = "--xdp-meta off";
	} else if (hook != ATTACH_HOOK_TC && driver_without_meta(ifname)) {
		/* the pruned program keeps XDP's fast path for established
		 * flows; with the helper, such a driver would pass them all */
		no_meta = "the driver gives XDP no metadata room";
	} else if (hook != ATTACH_HOOK_TC) {
		rc = xdp_meta_probe();
		meta = rc > 0;
		if (!rc)
			no_meta = "the kernel refuses bpf_xdp_adjust_meta";
		if (rc < 0) {
			snprintf(why_buf, sizeof(why_buf), "cannot probe bpf_xdp_adjust_meta: %s",
				 strerror(-rc));
			no_meta = why_buf;
		}
	}
	skel->rodata->nosnat_xdp_meta = meta;
	if (hook != ATTACH_HOOK_TC) {
		skel->rodata->nosnat_xdp6_tail = xdp_tail_call_probe();
		if (!skel->rodata->nosnat_xdp6_tail)
			info("%s: the kernel refuses tail calls beside bpf-to-bpf calls: XDP passes "
			     "IPv6 on to tc ingress, which walks it", ifname);
	}
	skel->rodata->nosnat_encap_gue = o->tun.encap == NOSNAT_ENCAP_GUE;
	/* a table of another size is carried over like another layout (migrate.c) */
	bpf_map__set_max_entries(skel->maps.nosnat_flows, flow->flow_entries);
	rc = pins_migrate_begin(skel->obj, pin_dir, &mg);
	if (rc)
		goto out;
	rc = nosnat_bpf__load(skel);
	if (rc)
		pins_migrate_abort(&mg);
	else
		pins_migrate_finish(skel->obj, &mg);
	if (rc) {
		if (rc == -EPERM || rc == -EACCES)
			err("cannot load the BPF programs: %s (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)",
			    strerror(-rc));
		else
			err("cannot load the BPF programs: %s (run with -v for the verifier log)",
			    strerror(-rc));
		goto out;
	}

	cfg.node_ip = node_ip;
	memcpy(cfg.node_ip6, node_ip6, sizeof(cfg.node_ip6));
	cfg.ifindex = ifindex;
	cfg.mtu = mtu;
	/* A client segment plus TCP, IP and the outer headers fit the MTU. */
	cfg.mss_max = mtu - (o->tun.encap == NOSNAT_ENCAP_GUE ? NOSNAT_GUE_OVERHEAD
							      : NOSNAT_IPIP_OVERHEAD) - 20 - 20;
	cfg.encap = o->tun.encap;
	cfg.decap = o->tun.decap;
	cfg.gue_port = htons(o->tun.gue_port);
	cfg.new_flow_limit = flow->new_flow_limit;
	cfg.ct_mark_mask = have_ct ? flow->ct_mark_mask : 0;
	iface_driver(ifname, drv, sizeof(drv));
	if (via == ENCAP_VIA_TC || (via == ENCAP_VIA_AUTO && !strcmp(drv, "veth")))
		cfg.flags |= NOSNAT_CFG_ENCAP_VIA_TC;
	/* this build's twin, attached before its XDP program */
	cfg.flags |= NOSNAT_CFG_TWIN_DNAT;
	/* Until this build's XDP program is in place, tc ingress does the
	 * whole job: no XDP may be there yet, or an earlier one (which it
	 * finishes for) is about to be replaced or removed. The flags say
	 * what is attached once the hook is settled, below. */
	cfg.flags |= NOSNAT_CFG_HOOK_TC;
	rc = cfg_write(skel, &cfg);
	if (rc)
		goto out;
	pins_abi_record(bpf_map__fd(skel->maps.nosnat_ctl));

	/* A new node address changes which backends are local. */
	rc = maps_open(pin_dir, &maps);
	if (!rc)
		rc = state_read(&maps, st);
	if (!rc)
		rc = be_tags_fill(&maps, st);
	if (!rc)
		rc = vip_index_sync(&maps, st);
	if (!rc)
		rc = pods_sync(&maps, st);
	if (!rc) {
		struct vip_entry **all = st->tmp->attach_vips;

		for (size_t i = 0; i < st->n_vips; i++)
			all[i] = &st->vips[i];
		rc = vip_sync_many(&maps, st, all, st->n_vips);
	}
	if (rc) {
		err("cannot refresh the VIP tables: %s", strerror(-rc));
		goto out;
	}

	rc = attach_tc(ifname, ifindex, bpf_program__fd(skel->progs.nosnat_tc_ingress),
		       bpf_program__fd(skel->progs.nosnat_tc_egress));
	if (rc)
		goto out;
	if (hook != ATTACH_HOOK_TC) {
		rc = xdp6_jmp_fill(skel);
		if (rc)
			goto out;	/* tc runs it all meanwhile: cfg says so */
		rc = attach_xdp(pin_dir, ifname, ifindex, bpf_program__fd(skel->progs.nosnat_xdp), mode,
				hook == ATTACH_HOOK_AUTO);
		if (rc && hook == ATTACH_HOOK_AUTO && xdp_refused(rc)) {
			info("%s: %s XDP refused (%s): running at tc ingress only (--hook tc)", ifname,
			     mode == XDP_MODE_GENERIC ? "generic" : "native", strerror(-rc));
			hook = ATTACH_HOOK_TC;
			rc = 0;
		} else if (rc) {
			goto out;	/* tc runs it all meanwhile: cfg says so */
		}
	}
	/* without the pin, XDP passes v6 on (its slot empties at exit): tc
	 * runs it all meanwhile, as cfg says */
	if (hook != ATTACH_HOOK_TC) {
		rc = xdp6_jmp_pin(pin_dir, ifname, skel);
		if (rc)
			goto out;
	}
	if (hook == ATTACH_HOOK_TC) {
		/* HOOK_TC is in force already: tc finishes whatever an XDP
		 * program left from an earlier attach passes on until it goes */
		if (detach_xdp(pin_dir, ifname))
			info("%s: removed nosnat's XDP program (--hook tc)", ifname);
	} else {
		cfg.flags &= ~NOSNAT_CFG_HOOK_TC;
		if (meta)
			cfg.flags |= NOSNAT_CFG_XDP_META;
		rc = cfg_write(skel, &cfg);
		if (rc)
			goto out;
	}
	/* IPv6 promises every path 1280 bytes: through ip6ip6 (40 more) an
	 * uplink below 1320 cannot, and packet too big cannot say less */
	if (addr6_set(node_ip6) && mtu < 1280 + NOSNAT_IP6IP6_OVERHEAD)
		err("warning: %s's MTU %u is below %u: a v6 VIP's pods on nodes known by v6 "
		    "addresses (ip6ip6) lose 1280-byte packets, IPv6's least",
		    ifname, mtu, 1280 + NOSNAT_IP6IP6_OVERHEAD);
	if (mtu > NOSNAT_MAX_MTU && hook != ATTACH_HOOK_TC && !(cfg.flags & NOSNAT_CFG_ENCAP_VIA_TC))
		err("warning: %s's MTU %u is above %u: a larger packet with a partial checksum "
		    "cannot be completed for XDP_TX and is dropped (--encap-via tc has no such limit)",
		    ifname, mtu, NOSNAT_MAX_MTU);
	{
		FILE *f = fopen("/proc/sys/net/ipv4/conf/all/forwarding", "r");

		if (f && fgetc(f) == '0')
			err("warning: IPv4 forwarding is off in this network namespace: "
			    "encapsulation will fail (sysctl net.ipv4.ip_forward=1)");
		if (f)
			fclose(f);
	}
	if (hook == ATTACH_HOOK_TC)
		snprintf(how, sizeof(how), "tc ingress only, no XDP");
	else if (meta)
		snprintf(how, sizeof(how), "%s XDP, metadata hand-off to tc",
			 mode == XDP_MODE_GENERIC ? "generic" : "native");
	else
		snprintf(how, sizeof(how), "%s XDP, no metadata hand-off (%s)",
			 mode == XDP_MODE_GENERIC ? "generic" : "native", no_meta);
	if (o->tun.encap == NOSNAT_ENCAP_GUE)
		snprintf(tun, sizeof(tun), "sends GUE to port %u", o->tun.gue_port);
	else
		snprintf(tun, sizeof(tun), "sends IPIP");
	if (o->tun.decap & NOSNAT_DECAP_GUE)
		snprintf(tun + strlen(tun), sizeof(tun) - strlen(tun), ", takes %s off (GUE on port %u)",
			 decap_name(o->tun.decap), o->tun.gue_port);
	else
		snprintf(tun + strlen(tun), sizeof(tun) - strlen(tun), ", takes %s off",
			 decap_name(o->tun.decap));
	a6[0] = '\0';
	if (addr6_set(node_ip6)) {
		strcpy(a6, " and ");
		addr_str(0, node_ip6, a6 + 5);
	}
	info("attached to %s (ifindex %d, node %s%s, mtu %u, %s, %s, encapsulated frames via %s, "
	     "conntrack %s), maps in %s",
	     ifname, ifindex, ip_str(node_ip, a), a6, mtu, how, tun,
	     hook == ATTACH_HOOK_TC || cfg.flags & NOSNAT_CFG_ENCAP_VIA_TC ? "tc" : "XDP_TX",
	     cfg.ct_mark_mask ? "mark bits in use" : "not used", pin_dir);
	if (cfg.ct_mark_mask)	/* after the one line a failing attach says */
		conntrack_note();
out:
	nosnat_bpf__destroy(skel);
	maps_close(&maps);
	maps_close(&lock);
	return rc;
}

static int other_links(const char *pin_dir)
{
	DIR *d = opendir(pin_dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "xdp_link_", 9))
			n++;
	closedir(d);
	return n;
}

int dp_detach(const char *pin_dir, const char *ifname)
{
	const char *maps[] = {
#define X(field, map, name) name,
		NOSNAT_PINNED_MAPS(X)
#undef X
#define X(name) name,
		NOSNAT_RETIRED_MAPS(X)
#undef X
	};
	struct nosnat_maps lock;
	char path[PATH_MAX];
	int ifindex = if_nametoindex(ifname), found, rc;

	rc = pin_dir_prepare(pin_dir, 0);
	if (rc)
		return rc;
	maps_open_none(&lock);
	rc = maps_lock(pin_dir, &lock);
	if (rc)
		return rc;
	found = detach_xdp(pin_dir, ifname);
	if (ifindex) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = NOSNAT_TC_HANDLE, .priority = NOSNAT_TC_PRIO);

		hook.attach_point = BPF_TC_INGRESS;
		if (!bpf_tc_detach(&hook, &o))
			found = 1;
		hook.attach_point = BPF_TC_EGRESS;
		if (!bpf_tc_detach(&hook, &o))
			found = 1;
	}
	if (!found) {
		err("nosnat is not attached to %s (pin dir %s)", ifname, pin_dir);
		maps_close(&lock);
		return -ENOENT;
	}
	if (!other_links(pin_dir)) {
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", pin_dir, maps[i]);
			unlink(path);
		}
		daemon_lock_remove(pin_dir);	/* a running daemon's stays, and so does the dir */
		rmdir(pin_dir);
	}
	maps_close(&lock);
	info("detached from %s", ifname);
	return 0;
}

/* The interface the XDP link pinned at path holds (0: none, detached, or
 * no such link): health and the daemon's check both ask it this way. */
static __u32 xdp_link_ifindex(const char *path)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info), ifindex = 0;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_XDP)
		ifindex = info.xdp.ifindex;
	close(fd);
	return ifindex;
}

/* Are nosnat's tc programs on ifindex, at its handle and priority? Ingress
 * (the twin: delivery to pods here, hand-offs) and egress (the replies):
 * a clsact qdisc deleted by someone else takes both away. */
static int tc_attached(int ifindex)
{
	static const enum bpf_tc_attach_point at[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };

	for (size_t i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = at[i]);
		LIBBPF_OPTS(bpf_tc_opts, o, .handle = NOSNAT_TC_HANDLE, .priority = NOSNAT_TC_PRIO);

		if (bpf_tc_query(&hook, &o) || !o.prog_id)
			return 0;
	}
	return 1;
}

/* Is the process that started at start (a daemon's, from nosnat_ctl)
 * running in this PID namespace? */
static int daemon_running(__u64 start)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	while (d && !found && (e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
			found = proc_start_time(atoi(e->d_name)) == start;
	if (d)
		closedir(d);
	return found;
}

/* mode's "(...)" gets the recovery in force before its ')': conntrack
 * marks, or Maglev alone (no marks configured, or conntrack holds none of
 * the VIP flows that passed their handshake here: nothing in this
 * namespace makes it track connections). */
static void recovery_note(const struct nosnat_maps *m, const struct nosnat_cfg *cfg, char *mode,
			  size_t size)
{
	size_t len = strlen(mode);
	uint64_t untracked = 0;
	char note[96];

	if (!len || mode[len - 1] != ')')
		return;
	percpu_sum(m->flow_ev, NOSNAT_R_CT_UNTRACKED, 1, &untracked);
	if (!cfg->ct_mark_mask)
		snprintf(note, sizeof(note), "recovery: Maglev only, no conntrack marks");
	else if (untracked)
		snprintf(note, sizeof(note), "recovery: conntrack marks, but %llu VIP flows had no "
			 "conntrack entry", (unsigned long long)untracked);
	else
		snprintf(note, sizeof(note), "recovery: conntrack marks");
	snprintf(mode + len - 1, size - (len - 1), "; %s)", note);
}

/* The readiness probe: the programs attached (tc on the interface of
 * nosnat_cfg with --hook tc, else an XDP link pin whose link still holds an
 * interface, and the tc programs there) and the configuration in force
 * applied by the running daemon (nosnat_ctl). One line on out, which says
 * the way the dataplane runs; 0 when ready. */
int dp_health(const char *pin_dir, FILE *out)
{
	static const char *const results[] = {
		[NOSNAT_CTL_PENDING] = "no configuration applied yet",
		[NOSNAT_CTL_APPLIED] = "configuration applied",
		[NOSNAT_CTL_FAILED] = "the last configuration failed",
	};
	char ifs[256] = "", path[PATH_MAX], name[IF_NAMESIZE], no_tc[256] = "", mode[192] = "";
	struct nosnat_cfg cfg = {};
	struct nosnat_ctl ctl = {};
	struct nosnat_maps m;
	struct dirent *e;
	size_t used = 0;
	__u32 zero = 0;
	int hook_tc;
	DIR *d;

	if (maps_open(pin_dir, &m))
		return 1;
	if (bpf_map_lookup_elem(m.cfg, &zero, &cfg))
		memset(&cfg, 0, sizeof(cfg));
	hook_tc = !!(cfg.flags & NOSNAT_CFG_HOOK_TC);
	if (hook_tc && cfg.ifindex && if_indextoname(cfg.ifindex, name)) {
		snprintf(ifs, sizeof(ifs), "%s", name);
		if (!tc_attached((int)cfg.ifindex))
			snprintf(no_tc, sizeof(no_tc), "%s", name);
		snprintf(mode, sizeof(mode), " (no XDP)");
	}
	d = hook_tc ? NULL : opendir(pin_dir);
	while (d && (e = readdir(d))) {
		__u32 ifindex;

		if (strncmp(e->d_name, "xdp_link_", 9))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, e->d_name);
		ifindex = xdp_link_ifindex(path);
		if (ifindex && if_indextoname(ifindex, name) && used < sizeof(ifs))
			used += snprintf(ifs + used, sizeof(ifs) - used, "%s%s", used ? ", " : "", name);
		if (ifindex && !tc_attached((int)ifindex) && !*no_tc)
			snprintf(no_tc, sizeof(no_tc), "%s", name);
		if (ifindex && !*mode)
			snprintf(mode, sizeof(mode), " (%s, %s)", xdp_mode_name((int)ifindex),
				 cfg_xdp_metadata(cfg.flags) ? "metadata hand-off on"
							     : "no metadata hand-off");
	}
	if (d)
		closedir(d);
	if (bpf_map_lookup_elem(m.ctl, &zero, &ctl))
		ctl.last_result = NOSNAT_CTL_PENDING;
	if (*mode)	/* which record a lost flow entry is recovered from */
		recovery_note(&m, &cfg, mode, sizeof(mode));
	maps_close(&m);
	if (ctl.last_result > NOSNAT_CTL_FAILED)
		ctl.last_result = NOSNAT_CTL_FAILED;
	if (!*ifs && hook_tc) {
		fprintf(out, "not ready: --hook tc, but its interface (ifindex %u) is gone (pin dir %s)\n",
			cfg.ifindex, pin_dir);
		return 1;
	}
	if (!*ifs) {
		fprintf(out, "not ready: no interface has nosnat's XDP link (pin dir %s)\n", pin_dir);
		return 1;
	}
	if (*no_tc) {
		fprintf(out, "not ready: %s on %s, but nosnat's tc programs are gone from %s\n",
			hook_tc ? "tc" : "XDP", ifs, no_tc);
		return 1;
	}
	if (ctl.last_result == NOSNAT_CTL_APPLIED && ctl.daemon && !daemon_running(ctl.daemon)) {
		fprintf(out, "not ready: %s on %s%s, the daemon that applied the configuration is not "
			"running here\n", hook_tc ? "tc" : "XDP", ifs, mode);
		return 1;
	}
	fprintf(out, "%s: %s on %s%s, %s\n", ctl.last_result == NOSNAT_CTL_APPLIED ? "ready" : "not ready",
		hook_tc ? "tc" : "XDP", ifs, mode, results[ctl.last_result]);
	return ctl.last_result != NOSNAT_CTL_APPLIED;
}

/* nosnat_cfg as pinned under pin_dir: 0, or -errno. */
static int pinned_cfg(const char *pin_dir, struct nosnat_cfg *cfg)
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, NOSNAT_MAP_CFG);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, cfg))
		rc = -errno;
	close(fd);
	return rc;
}

/* Is nosnat still attached to ifname with the pins under pin_dir: its
 * maps there, its XDP link holding the interface (none with --hook tc, as
 * the pinned cfg says), its tc programs on it? */
int dp_attached(const char *pin_dir, const char *ifname, const char **missing)
{
	struct nosnat_cfg cfg = {};
	char path[PATH_MAX];
	__u32 ifindex;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, NOSNAT_MAP_CTL);
	if (access(path, F_OK)) {
		*missing = "its pins";
		return 0;
	}
	if (!pinned_cfg(pin_dir, &cfg) && cfg.flags & NOSNAT_CFG_HOOK_TC) {
		ifindex = if_nametoindex(ifname);
	} else {
		link_pin_path(path, sizeof(path), pin_dir, ifname);
		ifindex = xdp_link_ifindex(path);
		if (!ifindex || ifindex != if_nametoindex(ifname)) {
			*missing = "its XDP link";
			return 0;
		}
	}
	if (!ifindex || !tc_attached((int)ifindex)) {
		*missing = "its tc programs";
		return 0;
	}
	return 1;
}

/* A map's locked memory, from its fdinfo. */
static unsigned long long fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int dp_memlock(const struct flow_opts *fo, FILE *out)
{
	struct nosnat_bpf *skel = nosnat_bpf__open();
	unsigned long long all = 0, flows = 0;
	struct bpf_map *m;

	if (!skel) {
		err("cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	bpf_map__set_max_entries(skel->maps.nosnat_flows, fo->flow_entries);
	bpf_object__for_each_map(m, skel->obj) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = bpf_map__map_flags(m));
		enum bpf_map_type t = bpf_map__type(m);
		int fd;

		/* map-in-map outers are small; their inner tables are per VIP */
		if (t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS)
			continue;
		fd = bpf_map_create(t, NULL, bpf_map__key_size(m), bpf_map__value_size(m),
				    bpf_map__max_entries(m), &o);
		if (fd < 0)
			continue;	/* .rodata and the like: not a table */
		all += fd_memlock(fd);
		if (m == skel->maps.nosnat_flows)
			flows = fd_memlock(fd);
		close(fd);
	}
	nosnat_bpf__destroy(skel);
	fprintf(out, "maps at these sizes lock %.1f MiB (flow table of %u: %.1f MiB), plus 256 KiB "
		"per VIP:port for its Maglev table and up to as much again for its previous one\n",
		all / 1048576.0, fo->flow_entries, flows / 1048576.0);
	return 0;
}
