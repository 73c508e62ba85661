// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The daemon. One poll loop over a signalfd and an inotify watch on the
 * config's directory: Kubernetes swaps a ConfigMap by renaming a "..data"
 * symlink there, so the directory, not the file, is what to watch. */
#include <errno.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <bpf/bpf.h>
#include "apply.h"
#include "config.h"
#include "log.h"
#include "netdev.h"
#include "metrics.h"
#include "parse.h"
#include "mapio.h"
#include "run.h"
#include "ctx.h"
#include "state.h"
#include "verify.h"
#include "kube.h"
#include "kube_client.h"

#ifndef NOSNAT_VERSION
#define NOSNAT_VERSION "dev"
#endif

/* Log lines of changes: a memstream turned into one log line each. */
static void log_lines(const char *text)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		if (n)
			info("%.*s", n, p);
		p = nl ? nl + 1 : NULL;
	}
}

/* Did the last apply fail part-way (maps changed, not all of them)? */
static int apply_was_partial(const char *pin_dir)
{
	struct nosnat_maps m;
	struct nosnat_ctl ctl;
	int partial = 0;

	if (!maps_open(pin_dir, &m)) {
		partial = !ctl_get(&m, &ctl) && ctl.partial;
		maps_close(&m);
	}
	return partial;
}

/* nosnat verify on the maps an apply left: the inconsistencies found
 * (each logged), or -errno when the maps cannot be read. */
static int verify_logged(struct state *st, const char *pin_dir, const char *why)
{
	struct nosnat_maps m;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	rc = maps_open(pin_dir, &m);
	if (rc)
		return rc;
	rc = state_read(&m, st);
	if (!rc) {
		mem = open_memstream(&buf, &len);
		rc = mem ? state_verify(&m, st, mem) : -ENOMEM;
		if (mem)
			fclose(mem);
		if (rc > 0) {
			err("%s: verify found %d inconsistenc%s in the maps:", why, rc, rc == 1 ? "y" : "ies");
			log_lines(buf);
		}
		free(buf);
	}
	maps_close(&m);
	return rc;
}

/* Apply and log each change on its own line; verify what it left (the
 * count in *verified). */
static int apply_logged(struct state *st, const char *pin_dir, const struct config *cfg,
			const char *file, int record, __u64 daemon, const char *why, int *verified)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int rc, v;

	rc = apply_parsed(st, pin_dir, cfg, file, 0, record, daemon, mem);
	if (mem)
		fclose(mem);
	log_lines(buf);
	free(buf);
	if (rc < 0 && apply_was_partial(pin_dir))
		err("%s: configuration partially applied; it is applied again shortly", why);
	else if (rc < 0)
		err("%s: configuration rejected, the previous state stays in force", why);
	else if (rc > 0 || record)
		info("%s: configuration applied (%d change%s)", why, rc, rc == 1 ? "" : "s");
	v = verify_logged(st, pin_dir, why);
	if (v >= 0)
		*verified = v;
	else
		err("%s: cannot verify the maps: %s", why, strerror(-v));
	return rc;
}

static void write_metrics(struct ctx *c, const char *pin_dir, const char *path,
			  struct kube_client *kc, uint64_t reattaches, int verified, size_t kube_rejected)
{
	struct metrics *mx = &c->mx;
	struct state *st = &c->st;
	struct nosnat_maps m;
	int rc;

	if (maps_open(pin_dir, &m))
		return;
	rc = state_read(&m, st);
	if (!rc) {
		mx->version = NOSNAT_VERSION;
		rc = metrics_collect(&m, st, mx);
	}
	mx->has_daemon = 1;
	mx->daemon_reattaches = reattaches;
	mx->has_verify = verified >= 0;
	mx->verify_problems = verified >= 0 ? (uint64_t)verified : 0;
	mx->has_kube = kc != NULL;
	if (kc)
		kube_status(kc, &mx->kube_connected, &mx->kube_last_sync, &mx->kube_watch_restarts,
			    &mx->kube_invalid_endpoints);
	mx->kube_rejected_services = kc ? kube_rejected : 0;
	if (!rc)
		rc = metrics_write_textfile(path, mx);
	if (rc)
		err("cannot write metrics to %s: %s", path, strerror(-rc));
	maps_close(&m);
}

/* A digest of the file's bytes, to reapply only on real change. */
static unsigned long long file_digest(const char *path)
{
	unsigned long long h = 1469598103934665603ULL;
	FILE *f = fopen(path, "rb");
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		h = (h ^ (unsigned char)c) * 1099511628211ULL;
	fclose(f);
	return h;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One daemon per pin dir: an flock inside the pin dir (pins.c), which the
 * kernel releases when the process ends, however it ends, and which no
 * other user can take (the pin dir is 0700). A second daemon waits for the
 * first to go, and says which process that is. */
static int daemon_lock(const char *pin_dir)
{
	int holder, said = 0, last = -1, fd, rc;

	rc = pin_dir_prepare(pin_dir, 1);
	if (rc)
		return rc;
	while ((fd = daemon_lock_try(pin_dir, &holder)) == -EWOULDBLOCK) {
		if (!said++ || holder != last) {
			if (holder)
				info("another nosnat daemon (pid %d) runs for %s here: waiting for it to end",
				     holder, pin_dir);
			else
				info("another nosnat daemon runs for %s here: waiting for it to end", pin_dir);
		}
		last = holder;
		sleep(1);
	}
	if (fd >= 0 && said)
		info("the other daemon for %s has ended", pin_dir);
	return fd;
}

/* Not ready (nosnat health) until this daemon has applied its own. */
static void mark_pending(const char *pin_dir, __u64 start)
{
	char path[PATH_MAX];
	struct nosnat_maps m;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, NOSNAT_MAP_CTL);
	if (access(path, F_OK))
		return;		/* no pins yet */
	if (!maps_open(pin_dir, &m)) {
		ctl_pending(&m, start);
		maps_close(&m);
	}
}

struct daemon {
	struct ctx *c;			/* main's: the maps as read, a config, metrics */
	__u64 start;			/* this process's start time: who applies */
	uint64_t reattaches;		/* the dataplane found gone, attached again */
	const char *pin_dir;
	const struct run_opts *o;
	struct config base;		/* the last good file */
	int have_base;
	struct config full;		/* base + Kubernetes */
	struct config applied;		/* the last full one applied: a skipped Service's state */
	int have_applied;
	size_t kube_rejected;		/* Services skipped in the last resolution */
	struct kube_client *kc;
	int kube_fd;
	char *last_notes;		/* resolution notes, logged when they change */
	double retry_at;		/* after a partial apply: apply again then (-1: no) */
	unsigned int retry_s;		/* and the wait after that (backoff, to 60 s) */
	int verified;			/* verify after the last apply: problems (-1: none ran) */
	int waiting_logged;
	int untracked_logged;		/* note_untracked said it */
	int kube_allow_http;		/* NOSNAT_KUBE_ALLOW_HTTP=1 (tests): said at start */
	struct attach_opts ao;		/* how the dataplane is attached */
	const char *ifname;		/* where; NULL until it is */
};

/* The tunnel settings in force: the command line's where given, else the
 * configuration's, else the defaults. */
static struct tunnel_opts tunnel_in_force(const struct tunnel_opts *cli, const struct config *cfg)
{
	struct tunnel_opts t = *cli;

	if (!(cli->given & TUNNEL_GIVEN_ENCAP) && (cfg->tun_set & CONFIG_HAS_ENCAP))
		t.encap = cfg->encap;
	if (!(cli->given & TUNNEL_GIVEN_PORT) && (cfg->tun_set & CONFIG_HAS_GUE_PORT))
		t.gue_port = cfg->gue_port;
	if (!(cli->given & TUNNEL_GIVEN_DECAP) && (cfg->tun_set & CONFIG_HAS_DECAP))
		t.decap = cfg->decap;
	return t;
}

static int same_tunnel(const struct tunnel_opts *a, const struct tunnel_opts *b)
{
	return a->encap == b->encap && a->decap == b->decap && a->gue_port == b->gue_port;
}

/* A configuration that changes the encapsulation: the dataplane is
 * attached again with it (connections survive that, as any attach over
 * pins). Each node does so when its copy of the file changes: taking both
 * kinds off, as by default, nothing is lost while they disagree. */
static void follow_tunnel(struct daemon *d, const struct config *cfg, const char *why)
{
	struct tunnel_opts t = tunnel_in_force(&d->o->tun, cfg);
	struct attach_opts ao = d->ao;

	if (!d->ifname || same_tunnel(&t, &d->ao.tun))
		return;
	ao.tun = t;
	info("%s: encapsulation changes to %s%s, taking %s off: attaching %s again", why,
	     encap_name(t.encap), t.encap == NOSNAT_ENCAP_GUE ? " (GUE)" : "", decap_name(t.decap),
	     d->ifname);
	mark_pending(d->pin_dir, d->start);
	if (dp_attach(&d->c->st, d->pin_dir, d->ifname, &ao)) {
		err("%s: the encapsulation stays as it was on %s", why, d->ifname);
		return;
	}
	d->ao = ao;
	mark_pending(d->pin_dir, d->start);
}

/* Said once: VIP flows to pods here that passed their handshake without a
 * conntrack entry (nosnat_flow_ev, ct_untracked). */
static void note_untracked(struct daemon *d)
{
	struct nosnat_maps m;
	uint64_t n = 0;

	if (d->untracked_logged || maps_open(d->pin_dir, &m))
		return;
	percpu_sum(m.flow_ev, NOSNAT_R_CT_UNTRACKED, 1, &n);
	maps_close(&m);
	if (!n)
		return;
	err("warning: %llu VIP flows to pods here passed their handshake without a conntrack "
	    "entry: nothing in this network namespace makes conntrack track connections "
	    "(kube-proxy's rules would), so a flow entry lost cannot be recovered",
	    (unsigned long long)n);
	d->untracked_logged = 1;
}

static int same_kube_services(const struct config *a, const struct config *b)
{
	return a->n_ksvcs == b->n_ksvcs && a->nodes_from_kube == b->nodes_from_kube &&
	       !memcmp(a->ksvcs, b->ksvcs, a->n_ksvcs * sizeof(a->ksvcs[0]));
}

/* Base + the Kubernetes snapshot, converged. Nothing happens until every
 * watch has listed once: applying half a picture would remove backends. */
/* An apply that failed part-way is tried again, 1 s later, then 2, 4 ... 60. */
static void retry_if_partial(struct daemon *d)
{
	if (!apply_was_partial(d->pin_dir)) {
		d->retry_at = -1;
		d->retry_s = 1;
		return;
	}
	d->retry_at = now_mono() + d->retry_s;
	d->retry_s = d->retry_s >= 30 ? 60 : d->retry_s * 2;
}

/* This node's addresses as apply sees them: the file's node, else the one
 * attached with (nosnat_cfg.node_ip, node_ip6 in the pinned map); 0 and
 * zero when unknown. */
static __be32 node_address(struct daemon *d, __u8 *node6)
{
	struct nosnat_maps m;
	struct nosnat_cfg cfg = {};
	__u32 zero = 0;

	if (!maps_open(d->pin_dir, &m)) {
		if (bpf_map_lookup_elem(m.cfg, &zero, &cfg))
			memset(&cfg, 0, sizeof(cfg));
		maps_close(&m);
	}
	memcpy(node6, d->base.has_node6 ? d->base.node6 : cfg.node_ip6, sizeof(cfg.node_ip6));
	return d->base.has_node ? d->base.node : cfg.node_ip;
}

static void apply_kube(struct daemon *d, const char *why)
{
	struct kube_snapshot snap;
	struct kube_resolve r;
	char ebuf[512], *notes = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	if (!kube_synced(d->kc)) {
		if (!d->waiting_logged)
			info("kubernetes: waiting for the first list of every watch");
		d->waiting_logged = 1;
		return;
	}
	if (kube_snapshot_take(d->kc, &snap)) {
		err("kubernetes: out of memory taking a snapshot");
		return;
	}
	mem = open_memstream(&notes, &len);
	r = (struct kube_resolve){ .base = &d->base, .snap = &snap,
				   .prev = d->have_applied ? &d->applied : NULL, .log = mem };
	r.node_ip = node_address(d, r.node_ip6);
	rc = kube_resolve(&r, &d->full, ebuf, sizeof(ebuf));
	if (mem)
		fclose(mem);
	kube_snapshot_free(&snap);
	d->kube_rejected = r.rejected;
	if (notes && (!d->last_notes || strcmp(notes, d->last_notes)))
		log_lines(notes);
	free(d->last_notes);
	d->last_notes = notes;
	if (rc) {
		err("kubernetes: %s; the previous state stays in force", ebuf);
		return;
	}
	if (apply_logged(&d->c->st, d->pin_dir, &d->full, d->o->config, 0, d->start, why,
			 &d->verified) >= 0) {
		memcpy(&d->applied, &d->full, sizeof(d->applied));
		d->have_applied = 1;
	}
	retry_if_partial(d);
}

static void kube_restart(struct daemon *d)
{
	struct kube_opts ko = {
		.kubeconfig = d->o->kubeconfig, .sa_dir = d->o->kube_sa_dir,
		.stall_timeout = d->o->kube_stall_timeout, .watch_timeout = d->o->kube_watch_timeout,
		.list_limit = d->o->kube_list_limit,
		.allow_http = d->kube_allow_http,
	};

	kube_stop(d->kc);
	d->kc = NULL;
	d->waiting_logged = 0;
	if (!config_needs_kube(&d->base))
		return;
	if (kube_start(&ko, &d->base, d->kube_fd, &d->kc))
		err("kubernetes: cannot start the watches; static configuration only");
	else
		info("kubernetes: watching %zu service%s and the nodes", d->base.n_ksvcs,
		     d->base.n_ksvcs == 1 ? "" : "s");
}

/* The file changed (or SIGHUP, or start). */
static void reload(struct daemon *d, const char *why)
{
	struct config *cfg = &d->c->cfg;
	char ebuf[512];
	int rc = config_load(d->o->config, cfg, ebuf, sizeof(ebuf));

	if (!rc && config_needs_kube(cfg) && !d->o->kube) {
		snprintf(ebuf, sizeof(ebuf), "%s: 'service:' entries and 'nodes: kubernetes' need --kube",
			 d->o->config);
		rc = -EINVAL;
	}
	if (rc) {
		err("%s", ebuf);
		err("%s: configuration rejected, the previous state stays in force", why);
		apply_record_failure(d->pin_dir, d->start);
		return;
	}
	follow_tunnel(d, cfg, why);
	{
		int restart = !d->have_base || !same_kube_services(&d->base, cfg);

		memcpy(&d->base, cfg, sizeof(*cfg));
		d->have_base = 1;
		if (!config_needs_kube(cfg)) {
			if (d->kc)
				kube_restart(d);
			apply_logged(&d->c->st, d->pin_dir, &d->base, d->o->config, 1, d->start, why,
				     &d->verified);
			retry_if_partial(d);
			return;
		}
		if (restart)
			kube_restart(d);
		if (!d->kc) {
			apply_record_failure(d->pin_dir, d->start);
			return;
		}
		/* counted as a reload once it converges with Kubernetes */
		if (!kube_synced(d->kc)) {
			info("%s: configuration accepted, waiting for Kubernetes", why);
			return;
		}
		{
			struct nosnat_maps m;

			if (!maps_open(d->pin_dir, &m)) {
				ctl_record(&m, 1, 1, d->start);
				maps_close(&m);
			}
		}
		apply_kube(d, why);
	}
}

int run_daemon(struct ctx *c, const char *pin_dir, const struct run_opts *o)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct config *cfg = &c->cfg;
	struct attach_opts ao;
	char ifname[IF_NAMESIZE + 1], ebuf[512], dirbuf[PATH_MAX], a[INET_ADDRSTRLEN];
	__be32 node_ip = o->node_ip;
	unsigned long long digest;
	double next_metrics = 0, next_note = 0, reload_at = -1, kube_at = -1;
	sigset_t mask;
	int sfd = -1, ifd = -1, lock_fd = -1, rc;
	double next_check;

	log_timestamps = 1;
	if (!d) {
		err("out of memory");
		return -ENOMEM;
	}
	d->c = c;
	d->start = proc_start_time(0);
	d->retry_at = -1;
	d->retry_s = 1;
	d->verified = -1;
	lock_fd = daemon_lock(pin_dir);
	if (lock_fd < 0) {
		err("cannot take the daemon lock for %s: %s", pin_dir, strerror(-lock_fd));
		rc = lock_fd;
		goto out;
	}
	d->pin_dir = pin_dir;
	d->o = o;
	/* for tests against a plain-HTTP server only: the token travels in clear */
	d->kube_allow_http = getenv("NOSNAT_KUBE_ALLOW_HTTP") && !strcmp(getenv("NOSNAT_KUBE_ALLOW_HTTP"), "1");
	if (d->kube_allow_http)
		err("WARNING: NOSNAT_KUBE_ALLOW_HTTP=1: an http:// Kubernetes API server is accepted and "
		    "the bearer token is sent to it IN CLEAR (for tests only; unset it in production)");
	d->kube_fd = -1;
	/* The node address: flag, else the config's, else the interface's.
	 * The tunnel: flags, else the config's, else the defaults. A file
	 * that does not load yet says why at the first reload. */
	if (config_load(o->config, cfg, ebuf, sizeof(ebuf)))
		memset(cfg, 0, offsetof(struct config, vips));
	if (!node_ip && cfg->has_node)
		node_ip = cfg->node;
	if (!o->iface || !strcmp(o->iface, "auto")) {
		if (!node_ip) {
			err("--iface auto needs the node address (--node-ip or 'node' in %s)", o->config);
			rc = -EINVAL;
			goto out;
		}
		rc = iface_by_addr(node_ip, ifname, sizeof(ifname));
		if (rc) {
			err("no interface holds the node address %s", ip_str(node_ip, a));
			goto out;
		}
	} else {
		snprintf(ifname, sizeof(ifname), "%s", o->iface);
	}
	/* Not ready while attaching over an earlier daemon's pins: from here
	 * on, nothing it applied counts as this daemon's. */
	mark_pending(pin_dir, d->start);
	ao = (struct attach_opts){ .hook = o->hook, .mode = o->mode, .xdp_meta = o->xdp_meta,
				   .node_ip = node_ip, .via = o->via, .flow = o->flow,
				   .tun = tunnel_in_force(&o->tun, cfg) };
	/* the v6 node address likewise: flag, config, the interface's */
	memcpy(ao.node_ip6, addr6_set(o->node_ip6) || !cfg->has_node6 ? o->node_ip6 : cfg->node6,
	       sizeof(ao.node_ip6));
	rc = dp_attach(&c->st, pin_dir, ifname, &ao);
	if (rc)
		goto out;
	d->ao = ao;
	d->ifname = ifname;
	mark_pending(pin_dir, d->start);	/* maps made by this attach */

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d->kube_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	snprintf(dirbuf, sizeof(dirbuf), "%s", o->config);
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (sfd < 0 || ifd < 0 || d->kube_fd < 0 ||
	    inotify_add_watch(ifd, dirname(dirbuf), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
			      IN_DELETE | IN_ATTRIB) < 0) {
		rc = -errno;
		err("cannot watch %s: %s", o->config, strerror(errno));
		goto out;
	}
	digest = file_digest(o->config);
	reload(d, "start");
	next_check = now_mono() + o->interval;
	info("following %s; metrics %s every %us", o->config, o->textfile ? o->textfile : "off",
	     o->interval);

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN }, { .fd = ifd, .events = POLLIN },
			{ .fd = d->kube_fd, .events = POLLIN },
		};
		double t = now_mono(), wait = 3600;

		/* Still attached? Pins can be removed under a running daemon
		 * (a detach by hand, a bpffs unmounted), or the uplink's clsact
		 * qdisc by another tool: attach again. */
		if (t >= next_check) {
			const char *missing = "";

			next_check = t + o->interval;
			if (!dp_attached(pin_dir, ifname, &missing)) {
				err("the dataplane is gone from %s (%s; pins under %s): attaching again",
				    ifname, missing, pin_dir);
				mark_pending(pin_dir, d->start);
				if (!dp_attach(&c->st, pin_dir, ifname, &d->ao)) {
					d->reattaches++;
					mark_pending(pin_dir, d->start);
					reload(d, "attached again");
				}
				if (o->textfile)
					next_metrics = 0;
			}
		}
		if (o->textfile && t >= next_metrics) {
			write_metrics(c, pin_dir, o->textfile, d->kc, d->reattaches, d->verified, d->kube_rejected);
			next_metrics = t + o->interval;
		}
		if (t >= next_note) {
			note_untracked(d);
			next_note = t + o->interval;
		}
		if (reload_at >= 0 && t >= reload_at) {
			unsigned long long dg = file_digest(o->config);

			reload_at = -1;
			if (dg != digest) {
				digest = dg;
				reload(d, "config changed");
				if (o->textfile)
					next_metrics = 0;
				continue;
			}
		}
		if (d->retry_at >= 0 && t >= d->retry_at) {
			d->retry_at = -1;
			if (d->kc && d->have_base && config_needs_kube(&d->base))
				apply_kube(d, "retry after a partial apply");
			else
				reload(d, "retry after a partial apply");
			continue;
		}
		if (kube_at >= 0 && t >= kube_at) {
			kube_at = -1;
			if (d->kc && d->have_base)
				apply_kube(d, "kubernetes");
			if (o->textfile)
				next_metrics = 0;
			continue;
		}
		if (o->textfile)
			wait = next_metrics - t;
		if (next_check - t < wait)
			wait = next_check - t;
		if (reload_at >= 0 && reload_at - t < wait)
			wait = reload_at - t;
		if (kube_at >= 0 && kube_at - t < wait)
			wait = kube_at - t;
		if (d->retry_at >= 0 && d->retry_at - t < wait)
			wait = d->retry_at - t;
		if (wait < 0)
			wait = 0;
		rc = poll(p, 3, (int)(wait * 1000) + 1);
		if (rc < 0 && errno != EINTR) {
			rc = -errno;
			err("poll: %s", strerror(errno));
			goto out;
		}
		if (p[2].revents & POLLIN) {
			uint64_t v;

			if (read(d->kube_fd, &v, sizeof(v)) < 0)
				continue;
			/* a burst of watch events becomes one convergence */
			if (kube_at < 0)
				kube_at = now_mono() + 0.1;
		}
		if (p[1].revents & POLLIN) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

			while (read(ifd, buf, sizeof(buf)) > 0)
				;
			/* A ConfigMap update is several events; let them settle. */
			reload_at = now_mono() + 0.2;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				digest = file_digest(o->config);
				reload(d, "SIGHUP");
				if (o->textfile)
					next_metrics = 0;
				continue;
			}
			info("%s: exiting, %s", strsignal((int)si.ssi_signo),
			     o->detach_on_exit ? "detaching" : "dataplane stays attached");
			if (o->textfile)
				write_metrics(c, pin_dir, o->textfile, d->kc, d->reattaches, d->verified, d->kube_rejected);
			rc = 0;
			if (o->detach_on_exit)
				rc = dp_detach(pin_dir, ifname);
			goto out;
		}
	}
out:
	kube_stop(d->kc);
	d->kc = NULL;
	free(d->last_notes);
	if (sfd >= 0)
		close(sfd);
	if (ifd >= 0)
		close(ifd);
	if (d->kube_fd >= 0)
		close(d->kube_fd);
	daemon_unlock(pin_dir, lock_fd);
	free(d);
	return rc;
}
