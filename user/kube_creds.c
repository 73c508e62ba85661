// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kubernetes credentials: the service account's files in a cluster, or a
 * kubeconfig's current context (server, CA, client certificate, token),
 * read again for every request. */
#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "kube_creds.h"
#include "log.h"
#include "ydoc.h"

#define KUBECONFIG_MAX_BYTES	(1u << 20)

/* The whole file into a malloc'd NUL-terminated buffer, at most max bytes. */
static int read_whole(const char *path, char **out, size_t *len, size_t max)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(max + 1);
	size_t n;

	if (!f || !buf) {
		int rc = f ? -ENOMEM : -errno;

		if (f)
			fclose(f);
		free(buf);
		return rc;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* A kubeconfig's *-data value (base64, whitespace allowed), decoded by
 * glibc's resolver library; NUL-terminated for PEM readers. */
static char *b64_decode(const char *in, size_t *out_len)
{
	size_t cap = strlen(in) / 4 * 3 + 4;
	char *out = malloc(cap);
	int n;

	if (!out)
		return NULL;
	n = b64_pton(in, (unsigned char *)out, cap - 1);
	if (n < 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*out_len = (size_t)n;
	return out;
}

static int copy_path(char *dst, size_t len, const char *base_dir, const char *p)
{
	if (!p)
		return 0;
	if (p[0] == '/' || !base_dir)
		return snprintf(dst, len, "%s", p) >= (int)len ? -ENAMETOOLONG : 0;
	return snprintf(dst, len, "%s/%s", base_dir, p) >= (int)len ? -ENAMETOOLONG : 0;
}

static int load_kubeconfig(const char *path, struct kube_creds *c)
{
	yaml_document_t doc;
	yaml_node_t *root, *cluster, *user;
	const char *ctx_name, *s;
	char dir[512], *slash, *text = NULL;
	struct ydoc_err ye;
	size_t len = 0;
	int rc = read_whole(path, &text, &len, KUBECONFIG_MAX_BYTES);

	if (rc) {
		err("kubeconfig %s: %s", path, rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	rc = ydoc_load(text, len, &doc, &ye);
	free(text);
	if (rc) {
		err("kubeconfig %s:%zu:%zu: %s", path, ye.line, ye.col, ye.msg);
		return -EINVAL;
	}
	rc = -EINVAL;
	root = yaml_document_get_root_node(&doc);
	ctx_name = ydoc_scalar(ydoc_get(&doc, root, "current-context"));
	{
		yaml_node_t *ctx = ydoc_named(&doc, ydoc_get(&doc, root, "contexts"), ctx_name, "context");

		cluster = ydoc_named(&doc, ydoc_get(&doc, root, "clusters"), ydoc_scalar(ydoc_get(&doc, ctx, "cluster")),
				 "cluster");
		user = ydoc_named(&doc, ydoc_get(&doc, root, "users"), ydoc_scalar(ydoc_get(&doc, ctx, "user")), "user");
	}
	s = ydoc_scalar(ydoc_get(&doc, cluster, "server"));
	if (!s || snprintf(c->server, sizeof(c->server), "%s", s) >= (int)sizeof(c->server)) {
		err("kubeconfig %s: no server for the current context '%s'", path,
		    ctx_name ? ctx_name : "");
		goto out;
	}
	if (copy_path(c->ca_file, sizeof(c->ca_file), dir, ydoc_scalar(ydoc_get(&doc, cluster, "certificate-authority"))))
		goto out;
	if ((s = ydoc_scalar(ydoc_get(&doc, cluster, "certificate-authority-data"))) &&
	    !(c->ca_blob = b64_decode(s, &c->ca_len))) {
		err("kubeconfig %s: certificate-authority-data is not base64", path);
		goto out;
	}
	s = ydoc_scalar(ydoc_get(&doc, cluster, "insecure-skip-tls-verify"));
	c->insecure = s && !strcmp(s, "true");
	if ((s = ydoc_scalar(ydoc_get(&doc, user, "token"))) && !(c->token = strdup(s)))
		goto out;
	if (copy_path(c->token_file, sizeof(c->token_file), dir, ydoc_scalar(ydoc_get(&doc, user, "tokenFile"))) ||
	    copy_path(c->cert_file, sizeof(c->cert_file), dir, ydoc_scalar(ydoc_get(&doc, user, "client-certificate"))) ||
	    copy_path(c->key_file, sizeof(c->key_file), dir, ydoc_scalar(ydoc_get(&doc, user, "client-key"))))
		goto out;
	if ((s = ydoc_scalar(ydoc_get(&doc, user, "client-certificate-data"))) &&
	    !(c->cert_blob = b64_decode(s, &c->cert_len)))
		goto out;
	if ((s = ydoc_scalar(ydoc_get(&doc, user, "client-key-data"))) &&
	    !(c->key_blob = b64_decode(s, &c->key_len)))
		goto out;
	rc = 0;
out:
	yaml_document_delete(&doc);
	return rc;
}

/* The token file, whole, without trailing whitespace. */
static int read_token(const char *path, char **out)
{
	size_t len = 0;
	char *t = NULL;
	int rc = read_whole(path, &t, &len, KUBE_TOKEN_MAX_BYTES);

	if (rc == -EFBIG) {
		err("token file %s is larger than %u KiB: refused", path, KUBE_TOKEN_MAX_BYTES >> 10);
		return rc;
	}
	if (rc)
		return rc;
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
		t[--len] = '\0';
	*out = t;
	return 0;
}

int kube_server_check(const char *server, int allow_http)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	int rc = -EINVAL;

	if (!u)
		return -ENOMEM;
	/* no CURLU_GUESS_SCHEME nor CURLU_DEFAULT_SCHEME: "host:port" fails here,
	 * where CURLOPT_URL would have guessed http:// */
	if (curl_url_set(u, CURLUPART_URL, server, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme) {
		/* libcurl gives the scheme in lower case, whatever was written */
		if (!strcmp(scheme, "https") || (allow_http && !strcmp(scheme, "http")))
			rc = 0;
		else
			rc = -EPROTO;
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

int kube_creds_load(const struct kube_opts *o, struct kube_creds *c, int check)
{
	const char *where = o->kubeconfig ? o->kubeconfig : "in-cluster credentials";
	int rc;

	memset(c, 0, sizeof(*c));
	if (o->kubeconfig) {
		rc = load_kubeconfig(o->kubeconfig, c);
		if (rc)
			goto fail;
	} else {
		const char *host = getenv("KUBERNETES_SERVICE_HOST");
		const char *port = getenv("KUBERNETES_SERVICE_PORT");

		if (!host || !port) {
			err("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset (use --kubeconfig)");
			return -ENOENT;
		}
		snprintf(c->server, sizeof(c->server), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
			 host, port);
		snprintf(c->ca_file, sizeof(c->ca_file), "%s/ca.crt", o->sa_dir);
		snprintf(c->token_file, sizeof(c->token_file), "%s/token", o->sa_dir);
	}
	if (c->insecure && (c->ca_file[0] || c->ca_blob)) {
		err("%s: insecure-skip-tls-verify together with a certificate authority: refused "
		    "(say which one you mean)", where);
		rc = -EINVAL;
		goto fail;
	}
	rc = kube_server_check(c->server, o->allow_http);
	if (rc == -EPROTO) {
		err("%s: server %s is not https://, which would send the credentials in clear: refused",
		    where, c->server);
		goto fail;
	}
	if (rc) {
		err("%s: server %s is not a URL with a scheme (https://HOST:PORT): refused", where,
		    c->server);
		goto fail;
	}
	c->allow_http = o->allow_http;
	if (check && c->insecure)
		err("warning: %s: insecure-skip-tls-verify: the API server is not verified, and the "
		    "token goes to whoever answers at %s", where, c->server);
	if (c->token_file[0]) {
		char *t = NULL;

		rc = read_token(c->token_file, &t);
		if (rc == -EFBIG)
			goto fail;
		if (!rc) {
			free(c->token);
			c->token = t;
		}
	}
	return 0;
fail:
	kube_creds_free(c);
	return rc;
}

void kube_creds_free(struct kube_creds *c)
{
	free(c->token);
	c->token = NULL;
	free(c->ca_blob);
	free(c->cert_blob);
	free(c->key_blob);
	c->ca_blob = c->cert_blob = c->key_blob = NULL;
}

