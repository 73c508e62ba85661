/* kube_creds.h - where the Kubernetes API is and how to prove who we are:
 * in-cluster (service account) or a kubeconfig (kube_creds.c). */
#ifndef NOSNAT_KUBE_CREDS_H
#define NOSNAT_KUBE_CREDS_H

#include <stddef.h>
#include "kube_client.h"

struct kube_creds {
	char server[512];
	char ca_file[512];
	char *ca_blob, *cert_blob, *key_blob;	/* PEM from kubeconfig *-data */
	size_t ca_len, cert_len, key_len;
	char cert_file[512], key_file[512];
	char *token;			/* bearer token (malloc'd), or NULL */
	char token_file[512];
	int insecure;
	int allow_http;			/* http:// too (tests only), else https alone */
};

#define KUBE_TOKEN_MAX_BYTES	(64u << 10)

/* Is server a URL whose scheme is https (or http, when allow_http)? Parsed
 * by libcurl's URL API, so upper case (HTTP://) is seen for what it is and a
 * URL without a scheme (host:port, which libcurl would send as http) is
 * refused. 0, -EPROTO (another scheme), -EINVAL (no URL with a scheme). */
int kube_server_check(const char *server, int allow_http);

/* Read the credentials o names, the token file included (read on every
 * call, so a rotated token is picked up, whole: at most 64 KiB). Refused:
 * insecure-skip-tls-verify together with a CA, and a server that is not
 * https:// (kube_server_check) unless o->allow_http allows http://. check: the first load, which also warns about an
 * unverified server. 0, or -errno with a log line. */
int kube_creds_load(const struct kube_opts *o, struct kube_creds *c, int check);
void kube_creds_free(struct kube_creds *c);

#endif
