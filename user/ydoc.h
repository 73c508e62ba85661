/* ydoc.h - YAML documents as nosnat reads them, for the configuration
 * (config.c) and kubeconfig files (kube_creds.c): one document loaded from
 * a buffer with the position of any error, and lookups in it (ydoc.c). */
#ifndef NOSNAT_YDOC_H
#define NOSNAT_YDOC_H

#include <stddef.h>
#include <yaml.h>

/* Limits checked before a document is built: nosnat's files nest a few
 * levels (a kubeconfig about six) and hold a few thousand nodes. */
#define YDOC_MAX_DEPTH	64
#define YDOC_MAX_NODES	1000000

/* Where and why a load failed (1-based line and column). */
struct ydoc_err {
	size_t line, col;
	char msg[160];
};

/* Exactly one document from buf into doc (yaml_document_delete it after);
 * 0, -ENODATA when it is empty, or -EINVAL (not YAML, more than one
 * document, nested deeper than YDOC_MAX_DEPTH, more than YDOC_MAX_NODES
 * nodes); e says where and why. doc holds nothing after an error. */
int ydoc_load(const char *buf, size_t len, yaml_document_t *doc, struct ydoc_err *e);

/* The scalar's text, or NULL for another node (or none). */
const char *ydoc_scalar(const yaml_node_t *n);
/* The value under key in mapping m, or NULL. */
yaml_node_t *ydoc_get(yaml_document_t *d, const yaml_node_t *m, const char *key);
/* In a sequence of mappings, the one whose "name" is name: its value under
 * inner (kubeconfig clusters, users, contexts), or NULL. */
yaml_node_t *ydoc_named(yaml_document_t *d, const yaml_node_t *seq, const char *name,
			const char *inner);

#endif
