// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kubernetes LIST+WATCH and the watch caches; credentials in kube_creds.c,
 * the HTTP request in kube_http.c. Each watch: LIST (resourceVersion),
 * then WATCH with allowWatchBookmarks; 410 Gone -> LIST again; a dropped or
 * stalled stream reconnects with capped exponential backoff and jitter.
 * One thread drives every watch's requests on a libcurl multi handle.
 * Credentials are read for every request, so a rotated token is picked up.
 * Nothing from the network is trusted: sizes are capped, bad objects are
 * logged and skipped, and the cache only changes on well-formed events. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "kube_client.h"
#include "kube_creds.h"
#include "kube_http.h"
#include "log.h"

#define LIST_MAX_BYTES	(64u << 20)
#define EVENT_MAX_BYTES	(3u << 20)	/* an object is at most 1.5 MiB (etcd) */
#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000

enum kind { K_SERVICE, K_SLICE, K_NODE };

struct watch;
struct xfer {
	struct watch *w;
	char *buf;
	size_t len, cap, max;
	int streaming;		/* a watch: process lines as they come */
	int gone;		/* saw an ERROR 410 */
	int bad;		/* a line over EVENT_MAX_BYTES */
	int changed;
};


struct watch {
	struct kube_client *kc;
	enum kind kind;
	char path[512];		/* list path, with its selectors */
	char what[160];		/* for log lines */
	/* the transfer, driven by the client's one thread */
	enum { W_WAIT, W_LIST, W_WATCH } state;
	double due;		/* W_WAIT: when to start the next request */
	int need_list;
	unsigned int backoff, seed;
	CURL *h;
	struct curl_slist *hdrs;
	struct xfer *x;
	/* a LIST in pages: the objects so far, the next page's token */
	void *stage;
	size_t stage_n, stage_cap;
	char cont[1024];
	/* cache, under kc->lock */
	void *objs;
	size_t n, cap;
	int listed;
	int connected;
	char rv[128];
};

struct kube_client {
	struct kube_opts opts;
	pthread_mutex_t lock;	/* the caches and counters, against snapshots */
	atomic_int stop;
	CURLM *multi;		/* every watch's transfer, one thread */
	pthread_t thread;
	int started;
	int notify_fd;
	struct watch *w;
	size_t n_w;
	uint64_t last_sync, restarts, invalid_endpoints;
};

/* --- credentials -------------------------------------------------------- */

/* --- HTTP ------------------------------------------------------------------- */


static int handle_event(struct watch *w, const char *line, size_t len, struct xfer *x);

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (x->len + n > x->max) {
		x->bad = 1;
		return 0;	/* abort: absurd size */
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = (x->len + n + 1) * 2;
		char *nb;

		if (cap > x->max + 1)
			cap = x->max + 1;
		nb = realloc(x->buf, cap);
		if (!nb)
			return 0;
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, ptr, n);
	x->len += n;
	x->buf[x->len] = '\0';
	if (x->streaming) {
		char *nl;

		while ((nl = memchr(x->buf, '\n', x->len))) {
			size_t l = (size_t)(nl - x->buf);

			if (l && handle_event(x->w, x->buf, l, x))
				return 0;	/* 410: stop and relist */
			memmove(x->buf, nl + 1, x->len - l - 1);
			x->len -= l + 1;
			x->buf[x->len] = '\0';
		}
	}
	return n;
}

/* --- cache ------------------------------------------------------------------ */

static size_t obj_size(enum kind k)
{
	return k == K_SERVICE ? sizeof(struct kube_service) :
	       k == K_SLICE ? sizeof(struct kube_slice) : sizeof(struct kube_node);
}

static void *obj_at(struct watch *w, size_t i)
{
	return (char *)w->objs + i * obj_size(w->kind);
}

static void obj_key(struct watch *w, void *o, const char **ns, const char **name)
{
	if (w->kind == K_SERVICE) {
		*ns = ((struct kube_service *)o)->ns;
		*name = ((struct kube_service *)o)->name;
	} else if (w->kind == K_SLICE) {
		*ns = ((struct kube_slice *)o)->ns;
		*name = ((struct kube_slice *)o)->name;
	} else {
		*ns = "";
		*name = ((struct kube_node *)o)->name;
	}
}

static void obj_release(struct watch *w, void *o)
{
	if (w->kind == K_SLICE)
		kube_slice_free(o);
}

static int obj_parse(struct watch *w, json_object *j, void *o, char *err, size_t len)
{
	if (w->kind == K_SERVICE)
		return kube_parse_service(j, o, err, len);
	if (w->kind == K_SLICE)
		return kube_parse_slice(j, o, err, len);
	return kube_parse_node(j, o, err, len);
}

static ssize_t cache_find(struct watch *w, const char *ns, const char *name)
{
	for (size_t i = 0; i < w->n; i++) {
		const char *ons, *oname;

		obj_key(w, obj_at(w, i), &ons, &oname);
		if (!strcmp(ons, ns) && !strcmp(oname, name))
			return (ssize_t)i;
	}
	return -1;
}

/* Insert or replace; takes ownership of o's allocations. Lock held. */
static int cache_put(struct watch *w, void *o)
{
	const char *ns, *name;
	ssize_t i;

	obj_key(w, o, &ns, &name);
	i = cache_find(w, ns, name);
	if (i >= 0) {
		obj_release(w, obj_at(w, (size_t)i));
		memcpy(obj_at(w, (size_t)i), o, obj_size(w->kind));
		return 0;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		void *n = realloc(w->objs, cap * obj_size(w->kind));

		if (!n)
			return -ENOMEM;
		w->objs = n;
		w->cap = cap;
	}
	memcpy(obj_at(w, w->n++), o, obj_size(w->kind));
	return 0;
}

static void cache_del(struct watch *w, const char *ns, const char *name)
{
	ssize_t i = cache_find(w, ns, name);

	if (i < 0)
		return;
	obj_release(w, obj_at(w, (size_t)i));
	memmove(obj_at(w, (size_t)i), obj_at(w, (size_t)i + 1), (w->n - (size_t)i - 1) * obj_size(w->kind));
	w->n--;
}

static void cache_clear(struct watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		obj_release(w, obj_at(w, i));
	w->n = 0;
}

static void notify(struct kube_client *kc)
{
	uint64_t one = 1;

	pthread_mutex_lock(&kc->lock);
	kc->last_sync = (uint64_t)time(NULL);
	pthread_mutex_unlock(&kc->lock);
	if (write(kc->notify_fd, &one, sizeof(one)) < 0)
		return;
}

/* An EndpointSlice with endpoints nosnat had to skip: one line per object
 * received, and the count (nosnat_kube_invalid_endpoints_total). Lock held. */
static void slice_note(struct watch *w, const void *o)
{
	const struct kube_slice *sl = o;

	if (w->kind != K_SLICE || !sl->n_invalid)
		return;
	w->kc->invalid_endpoints += sl->n_invalid;
	err("kubernetes: EndpointSlice %s/%s: %zu endpoint%s without a usable IPv4 address or node "
	    "skipped", sl->ns, sl->name, sl->n_invalid, sl->n_invalid == 1 ? "" : "s");
}

static void set_rv(struct watch *w, json_object *obj)
{
	json_object *md, *rv;

	if (json_object_object_get_ex(obj, "metadata", &md) &&
	    json_object_object_get_ex(md, "resourceVersion", &rv) &&
	    json_object_is_type(rv, json_type_string) &&
	    strlen(json_object_get_string(rv)) < sizeof(w->rv))
		strcpy(w->rv, json_object_get_string(rv));
}

/* One watch event line. Returns 1 to stop the stream (410 Gone). */
static int handle_event(struct watch *w, const char *line, size_t len, struct xfer *x)
{
	struct kube_client *kc = w->kc;
	json_tokener *tok = json_tokener_new();
	json_object *ev, *type, *obj;
	char why[256], ns[64], name[KUBE_NAME_LEN];
	union { struct kube_service s; struct kube_slice sl; struct kube_node n; } o;
	const char *t;
	int ret = 0;

	if (!tok)
		return 0;
	ev = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	if (!ev || !json_object_object_get_ex(ev, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    !json_object_object_get_ex(ev, "object", &obj) ||
	    !json_object_is_type(obj, json_type_object)) {
		err("kubernetes: %s: malformed watch event ignored (%.60s)", w->what, line);
		json_object_put(ev);
		return 0;
	}
	t = json_object_get_string(type);
	if (!strcmp(t, "BOOKMARK")) {
		set_rv(w, obj);
	} else if (!strcmp(t, "ERROR")) {
		json_object *code;

		if (json_object_object_get_ex(obj, "code", &code) && json_object_get_int(code) == 410) {
			info("kubernetes: %s: resourceVersion too old (410 Gone), listing again", w->what);
			x->gone = 1;
			w->rv[0] = '\0';
			ret = 1;
		} else {
			err("kubernetes: %s: watch error event: %.120s", w->what,
			    json_object_to_json_string(obj));
		}
	} else if (!strcmp(t, "ADDED") || !strcmp(t, "MODIFIED")) {
		if (obj_parse(w, obj, &o, why, sizeof(why))) {
			err("kubernetes: %s: %s event ignored: %s", w->what, t, why);
		} else {
			pthread_mutex_lock(&kc->lock);
			slice_note(w, &o);
			if (cache_put(w, &o))
				obj_release(w, &o);
			pthread_mutex_unlock(&kc->lock);
			x->changed = 1;
			notify(kc);
		}
		set_rv(w, obj);
	} else if (!strcmp(t, "DELETED")) {
		if (kube_object_key(obj, ns, sizeof(ns), name, sizeof(name))) {
			err("kubernetes: %s: DELETED event without a name ignored", w->what);
		} else {
			pthread_mutex_lock(&kc->lock);
			cache_del(w, ns, name);
			pthread_mutex_unlock(&kc->lock);
			x->changed = 1;
			notify(kc);
		}
		set_rv(w, obj);
	} else {
		err("kubernetes: %s: unknown watch event type '%.20s' ignored", w->what, t);
	}
	json_object_put(ev);
	return ret;
}

static void stage_drop(struct watch *w)
{
	for (size_t i = 0; i < w->stage_n; i++)
		obj_release(w, (char *)w->stage + i * obj_size(w->kind));
	free(w->stage);
	w->stage = NULL;
	w->stage_n = w->stage_cap = 0;
	w->cont[0] = '\0';
}

static int stage_put(struct watch *w, const void *o)
{
	if (w->stage_n == w->stage_cap) {
		size_t cap = w->stage_cap ? w->stage_cap * 2 : 64;
		void *n = realloc(w->stage, cap * obj_size(w->kind));

		if (!n)
			return -ENOMEM;
		w->stage = n;
		w->stage_cap = cap;
	}
	memcpy((char *)w->stage + w->stage_n++ * obj_size(w->kind), o, obj_size(w->kind));
	return 0;
}

/* A finished page of a LIST (limit, continue): its items join the pages
 * before; on the last, they replace the cache at once and its
 * resourceVersion is remembered. 0: listed; 2: another page to fetch; -1:
 * the list failed (started over after the backoff). Each page is parsed on
 * its own, so memory follows the page, not the whole list. */
static int list_done(struct watch *w, long status)
{
	struct kube_client *kc = w->kc;
	struct xfer *x = w->x;
	json_object *root = NULL, *items, *md, *cont;
	char why[256];
	int rc = -1;

	if (status != 200) {
		if (status == 401 || status == 403)
			err("kubernetes: %s: HTTP %ld (credentials refused; the token is re-read on retry)",
			    w->what, status);
		else if (status == 410)
			err("kubernetes: %s: the list's continue token expired (410), listing again", w->what);
		else if (status > 0)
			err("kubernetes: %s: list failed with HTTP %ld", w->what, status);
		goto out;
	}
	root = x->buf ? json_tokener_parse(x->buf) : NULL;
	if (!root || !json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		err("kubernetes: %s: list response is not a Kubernetes list", w->what);
		goto out;
	}
	pthread_mutex_lock(&kc->lock);
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		union { struct kube_service s; struct kube_slice sl; struct kube_node n; } o;

		if (obj_parse(w, json_object_array_get_idx(items, i), &o, why, sizeof(why))) {
			err("kubernetes: %s: item %zu ignored: %s", w->what, w->stage_n + i, why);
			continue;
		}
		slice_note(w, &o);
		if (stage_put(w, &o))
			obj_release(w, &o);
	}
	pthread_mutex_unlock(&kc->lock);
	if (json_object_object_get_ex(root, "metadata", &md) &&
	    json_object_object_get_ex(md, "continue", &cont) && json_object_is_type(cont, json_type_string) &&
	    json_object_get_string_len(cont) > 0) {
		if ((size_t)json_object_get_string_len(cont) >= sizeof(w->cont)) {
			err("kubernetes: %s: continue token too long", w->what);
			goto out;
		}
		strcpy(w->cont, json_object_get_string(cont));
		json_object_put(root);
		return 2;
	}
	pthread_mutex_lock(&kc->lock);
	cache_clear(w);
	free(w->objs);
	w->objs = w->stage;
	w->n = w->stage_n;
	w->cap = w->stage_cap;
	w->stage = NULL;
	w->stage_n = w->stage_cap = 0;
	w->cont[0] = '\0';
	w->rv[0] = '\0';
	set_rv(w, root);
	w->listed = 1;
	w->connected = 1;
	pthread_mutex_unlock(&kc->lock);
	notify(kc);
	rc = 0;
out:
	if (rc)
		stage_drop(w);
	json_object_put(root);
	return rc;
}

/* A finished WATCH. 0: ended normally (resume from rv); 1: relist; -1: failed. */
static int watch_done(struct watch *w, long status)
{
	struct xfer *x = w->x;

	if (x->gone || status == 410) {
		if (status == 410)
			info("kubernetes: %s: 410 Gone, listing again", w->what);
		return 1;
	}
	if (status == 200 && !x->bad)
		return 0;
	if (status == 401 || status == 403)
		err("kubernetes: %s: HTTP %ld on watch (the token is re-read on retry)", w->what, status);
	else if (status > 0 && status != 200)
		err("kubernetes: %s: watch failed with HTTP %ld", w->what, status);
	return -1;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start w's next request (a LIST when it needs one, else a WATCH from its
 * resourceVersion), with credentials read now. -1 when it cannot start. */
static int request_start(struct watch *w)
{
	struct kube_client *kc = w->kc;
	struct kube_creds c;
	char path[800];
	struct kube_get g = { .path = path, .stall_timeout = kc->opts.stall_timeout,
			      .on_data = on_data };

	if (w->need_list) {
		char *tok = w->cont[0] ? curl_easy_escape(NULL, w->cont, 0) : NULL;

		snprintf(path, sizeof(path), "%s%slimit=%u%s%s", w->path, strchr(w->path, '?') ? "&" : "?",
			 kc->opts.list_limit ? kc->opts.list_limit : 500, tok ? "&continue=" : "",
			 tok ? tok : "");
		curl_free(tok);
	} else {
		snprintf(path, sizeof(path), "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=%u&resourceVersion=%s",
			 w->path, strchr(w->path, '?') ? "&" : "?", kc->opts.watch_timeout, w->rv);
		g.watch = 1;
	}
	w->x = calloc(1, sizeof(*w->x));
	if (!w->x)
		return -1;
	*w->x = (struct xfer){ .w = w, .max = g.watch ? EVENT_MAX_BYTES : LIST_MAX_BYTES,
			       .streaming = g.watch };
	g.data_arg = w->x;
	if (kube_creds_load(&kc->opts, &c, 0))
		goto fail;
	w->h = kube_http_prepare(&c, &g, &w->hdrs);
	kube_creds_free(&c);
	if (!w->h)
		goto fail;
	curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
	if (curl_multi_add_handle(kc->multi, w->h) != CURLM_OK)
		goto fail;
	w->state = g.watch ? W_WATCH : W_LIST;
	return 0;
fail:
	if (w->h)
		curl_easy_cleanup(w->h);
	curl_slist_free_all(w->hdrs);
	free(w->x);
	w->h = NULL;
	w->hdrs = NULL;
	w->x = NULL;
	return -1;
}

static void request_end(struct watch *w)
{
	curl_multi_remove_handle(w->kc->multi, w->h);
	curl_easy_cleanup(w->h);
	curl_slist_free_all(w->hdrs);
	if (w->x)
		free(w->x->buf);
	free(w->x);
	w->h = NULL;
	w->hdrs = NULL;
	w->x = NULL;
}

/* After a failure: count it, wait a capped exponential backoff (+-25%
 * jitter), then list afresh (after an outage a fresh list is the safe start). */
static void backoff_after_failure(struct watch *w)
{
	struct kube_client *kc = w->kc;
	unsigned int j = w->backoff / 2;
	unsigned int wait = w->backoff - w->backoff / 4 + (j ? (unsigned int)rand_r(&w->seed) % j : 0);

	pthread_mutex_lock(&kc->lock);
	w->connected = 0;
	kc->restarts++;
	pthread_mutex_unlock(&kc->lock);
	w->need_list = 1;
	w->state = W_WAIT;
	w->due = now_mono() + wait / 1000.0;
	w->backoff = w->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff * 2;
}

/* w's transfer ended with result: decide what comes next. */
static void request_done(struct watch *w, CURLcode result)
{
	struct kube_client *kc = w->kc;
	long status = 0;
	int was_list = w->state == W_LIST, rc;

	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
	if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && w->x->gone)) {
		err("kubernetes: %s: %s%s", w->what, w->x->bad ? "response too large: " : "",
		    result == CURLE_OPERATION_TIMEDOUT ? "stalled (no data), reconnecting" :
		    curl_easy_strerror(result));
		if (status < 300)
			status = -1;
	}
	rc = was_list ? list_done(w, status) : watch_done(w, status);
	request_end(w);
	w->state = W_WAIT;
	w->due = 0;			/* next request at once ... */
	if (was_list && rc == 2) {		/* the next page */
	} else if (was_list && !rc) {
		w->need_list = 0;
		w->backoff = BACKOFF_MIN_MS;
	} else if (!was_list && rc == 0) {	/* timeoutSeconds reached: resume from rv */
		w->backoff = BACKOFF_MIN_MS;
	} else if (!was_list && rc == 1) {
		w->need_list = 1;
		pthread_mutex_lock(&kc->lock);
		kc->restarts++;
		pthread_mutex_unlock(&kc->lock);
	} else {
		backoff_after_failure(w);	/* ... unless it failed */
	}
}

/* The client's one thread: every watch's requests on one multi handle. */
static void *kube_main(void *arg)
{
	struct kube_client *kc = arg;

	while (!atomic_load(&kc->stop)) {
		double now = now_mono(), next = now + 1;
		int running, left;
		CURLMsg *m;

		for (size_t i = 0; i < kc->n_w; i++) {
			struct watch *w = &kc->w[i];

			if (w->state != W_WAIT)
				continue;
			if (w->due <= now && request_start(w))
				backoff_after_failure(w);
			if (w->state == W_WAIT && w->due < next)
				next = w->due;
		}
		curl_multi_perform(kc->multi, &running);
		while ((m = curl_multi_info_read(kc->multi, &left))) {
			struct watch *w;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&w);
			request_done(w, m->data.result);
			next = now;	/* start what comes next at once */
		}
		if (atomic_load(&kc->stop))
			break;
		now = now_mono();
		curl_multi_poll(kc->multi, NULL, 0, next > now ? (int)((next - now) * 1000) + 1 : 0, NULL);
	}
	for (size_t i = 0; i < kc->n_w; i++)
		if (kc->w[i].h)
			request_end(&kc->w[i]);
	return NULL;
}

/* --- lifecycle ---------------------------------------------------------------- */

static void add_watch(struct kube_client *kc, enum kind k, const char *path, const char *what)
{
	struct watch *w = &kc->w[kc->n_w++];

	memset(w, 0, sizeof(*w));
	w->kc = kc;
	w->kind = k;
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->what, sizeof(w->what), "%s", what);
	w->need_list = 1;
	w->backoff = BACKOFF_MIN_MS;
	w->seed = (unsigned int)(uintptr_t)w ^ (unsigned int)time(NULL);
}

int kube_start(const struct kube_opts *o, const struct config *cfg, int notify_fd,
	       struct kube_client **out)
{
	struct kube_client *kc;
	struct kube_creds c;
	char path[512], what[160];
	int rc;

	rc = kube_creds_load(o, &c, 1);
	kube_creds_free(&c);
	if (rc)
		return rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return -ENOMEM;
	kc->opts = *o;
	kc->notify_fd = notify_fd;
	pthread_mutex_init(&kc->lock, NULL);
	kc->w = calloc(2 * cfg->n_ksvcs + 1, sizeof(*kc->w));
	if (!kc->w) {
		free(kc);
		return -ENOMEM;
	}
	add_watch(kc, K_NODE, "/api/v1/nodes", "nodes");
	for (size_t i = 0; i < cfg->n_ksvcs; i++) {
		const struct config_kube_service *k = &cfg->ksvcs[i];

		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services?fieldSelector=metadata.name%%3D%s",
			 k->ns, k->name);
		snprintf(what, sizeof(what), "service %s/%s", k->ns, k->name);
		add_watch(kc, K_SERVICE, path, what);
		snprintf(path, sizeof(path),
			 "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices?labelSelector=kubernetes.io%%2Fservice-name%%3D%s",
			 k->ns, k->name);
		snprintf(what, sizeof(what), "endpointslices of %s/%s", k->ns, k->name);
		add_watch(kc, K_SLICE, path, what);
	}
	kc->multi = curl_multi_init();
	if (!kc->multi) {
		kube_stop(kc);
		return -ENOMEM;
	}
	rc = pthread_create(&kc->thread, NULL, kube_main, kc);
	if (rc) {	/* the error number itself; errno is not set */
		kube_stop(kc);
		return -rc;
	}
	kc->started = 1;
	*out = kc;
	return 0;
}

void kube_stop(struct kube_client *kc)
{
	if (!kc)
		return;
	atomic_store(&kc->stop, 1);
	if (kc->started) {
		curl_multi_wakeup(kc->multi);
		pthread_join(kc->thread, NULL);
	}
	if (kc->multi)
		curl_multi_cleanup(kc->multi);
	for (size_t i = 0; i < kc->n_w; i++) {
		cache_clear(&kc->w[i]);
		free(kc->w[i].objs);
		stage_drop(&kc->w[i]);
	}
	pthread_mutex_destroy(&kc->lock);
	free(kc->w);
	free(kc);
}

int kube_synced(struct kube_client *kc)
{
	int ok = 1;

	pthread_mutex_lock(&kc->lock);
	for (size_t i = 0; i < kc->n_w; i++)
		ok &= kc->w[i].listed;
	pthread_mutex_unlock(&kc->lock);
	return ok;
}

int kube_snapshot_take(struct kube_client *kc, struct kube_snapshot *snap)
{
	size_t ns = 0, nsl = 0, nn = 0;
	struct kube_service *svcs;
	struct kube_slice *slices;
	struct kube_node *nodes;
	int rc = 0;

	memset(snap, 0, sizeof(*snap));
	pthread_mutex_lock(&kc->lock);
	for (size_t i = 0; i < kc->n_w; i++) {
		struct watch *w = &kc->w[i];

		if (w->kind == K_SERVICE)
			ns += w->n;
		else if (w->kind == K_SLICE)
			nsl += w->n;
		else
			nn += w->n;
	}
	svcs = calloc(ns + 1, sizeof(*svcs));
	slices = calloc(nsl + 1, sizeof(*slices));
	nodes = calloc(nn + 1, sizeof(*nodes));
	if (!svcs || !slices || !nodes) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < kc->n_w; i++) {
		struct watch *w = &kc->w[i];

		for (size_t j = 0; j < w->n; j++) {
			if (w->kind == K_SERVICE) {
				svcs[snap->n_svcs++] = *(struct kube_service *)obj_at(w, j);
			} else if (w->kind == K_NODE) {
				nodes[snap->n_nodes++] = *(struct kube_node *)obj_at(w, j);
			} else {
				struct kube_slice *src = obj_at(w, j), *dst = &slices[snap->n_slices];

				*dst = *src;
				dst->eps = calloc(src->n_eps + 1, sizeof(*dst->eps));
				if (!dst->eps) {
					rc = -ENOMEM;
					goto out;
				}
				memcpy(dst->eps, src->eps, src->n_eps * sizeof(*dst->eps));
				snap->n_slices++;
			}
		}
	}
out:
	pthread_mutex_unlock(&kc->lock);
	snap->svcs = svcs;
	snap->slices = slices;
	snap->nodes = nodes;
	if (rc)
		kube_snapshot_free(snap);
	return rc;
}

void kube_snapshot_free(struct kube_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_slices; i++)
		free(((struct kube_slice *)snap->slices)[i].eps);
	free((void *)snap->svcs);
	free((void *)snap->slices);
	free((void *)snap->nodes);
	memset(snap, 0, sizeof(*snap));
}

void kube_status(struct kube_client *kc, int *connected, uint64_t *last_sync, uint64_t *restarts,
		 uint64_t *invalid_endpoints)
{
	int c = 1;

	pthread_mutex_lock(&kc->lock);
	for (size_t i = 0; i < kc->n_w; i++)
		c &= kc->w[i].connected;
	*connected = c;
	*last_sync = kc->last_sync;
	*restarts = kc->restarts;
	*invalid_endpoints = kc->invalid_endpoints;
	pthread_mutex_unlock(&kc->lock);
}
