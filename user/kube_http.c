// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A GET to the Kubernetes API as a libcurl easy handle. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <stdio.h>
#include "kube_http.h"

CURL *kube_http_prepare(const struct kube_creds *c, const struct kube_get *g,
			struct curl_slist **hdrs)
{
	char url[1024], *auth = NULL;
	CURL *h = curl_easy_init();

	*hdrs = NULL;
	if (!h)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", c->server, g->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* https alone (the token must not travel in clear), whatever the URL
	 * says or a redirect would say; http only for tests that ask for it */
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85: the _STR forms */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->allow_http ? "https,http" : "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, c->allow_http ? "https,http" : "https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS | (c->allow_http ? (long)CURLPROTO_HTTP : 0L));
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
			 (long)CURLPROTO_HTTPS | (c->allow_http ? (long)CURLPROTO_HTTP : 0L));
#endif
	/* A configured CA is the only one trusted: not the system's bundle,
	 * nor its certificate directory (which libcurl adds by default). */
	if (c->ca_file[0] || c->ca_blob)
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	if (c->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->ca_blob) {
		struct curl_blob b = { .data = c->ca_blob, .len = c->ca_len, .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	if (c->cert_file[0])
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file[0])
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	if (c->cert_blob) {
		struct curl_blob b = { .data = c->cert_blob, .len = c->cert_len, .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
	}
	if (c->key_blob) {
		struct curl_blob b = { .data = c->key_blob, .len = c->key_len, .flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
	}
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	if (c->token && c->token[0] && asprintf(&auth, "Authorization: Bearer %s", c->token) > 0) {
		*hdrs = curl_slist_append(*hdrs, auth);	/* copied */
		free(auth);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, g->on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, g->data_arg);
	/* a stalled stream: no byte for stall_timeout seconds */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)g->stall_timeout);
	if (!g->watch)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	return h;
}
