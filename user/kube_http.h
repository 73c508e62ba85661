/* kube_http.h - one GET to the Kubernetes API with libcurl: TLS and
 * authentication from the credentials, a stall timeout, streaming to a
 * callback (kube_http.c). */
#ifndef NOSNAT_KUBE_HTTP_H
#define NOSNAT_KUBE_HTTP_H

#include <stddef.h>
#include <curl/curl.h>
#include "kube_creds.h"

struct kube_get {
	const char *path;		/* appended to the server's URL */
	unsigned int stall_timeout;	/* seconds without a byte: give up */
	int watch;			/* a stream: no overall timeout */
	size_t (*on_data)(char *ptr, size_t size, size_t nmemb, void *arg);
	void *data_arg;
	int (*cancelled)(void *arg);	/* polled during the transfer; nonzero aborts */
	void *cancel_arg;
};

/* GET c->server + g->path. Returns the HTTP status (0: none arrived);
 * *result is the transfer's outcome. */
long kube_http_get(const struct kube_creds *c, const struct kube_get *g, CURLcode *result);

#endif
