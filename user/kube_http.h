/* kube_http.h - a GET to the Kubernetes API as a libcurl handle: TLS and
 * authentication from the credentials, a stall timeout, streaming to a
 * callback (kube_http.c). kube_client.c runs them on one multi handle. */
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
};

/* An easy handle for GET c->server + g->path, ready for a multi handle; c
 * may be freed once it is made (libcurl copies what it keeps). *hdrs holds
 * its header list: free it with curl_slist_free_all after the transfer.
 * NULL when out of memory. */
CURL *kube_http_prepare(const struct kube_creds *c, const struct kube_get *g,
			struct curl_slist **hdrs);

#endif
