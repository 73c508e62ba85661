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
};

#define KUBE_TOKEN_MAX_BYTES	(64u << 10)

/* Read the credentials o names, the token file included (read on every
 * call, so a rotated token is picked up, whole: at most 64 KiB). Refused:
 * insecure-skip-tls-verify together with a CA, and a plain http:// server
 * unless o->allow_http. check: the first load, which also warns about an
 * unverified server. 0, or -errno with a log line. */
int kube_creds_load(const struct kube_opts *o, struct kube_creds *c, int check);
void kube_creds_free(struct kube_creds *c);

#endif
