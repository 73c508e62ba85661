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
	char token[4096];
	char token_file[512];
	int insecure;
};

/* Read the credentials o names, the token file included (read on every
 * call, so a rotated token is picked up). 0, or -errno with a log line. */
int kube_creds_load(const struct kube_opts *o, struct kube_creds *c);
void kube_creds_free(struct kube_creds *c);

#endif
