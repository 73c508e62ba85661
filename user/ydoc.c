// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* YAML documents: loading one with libyaml, looking values up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ydoc.h"

#define YDOC_STR_(x) #x
#define YDOC_STR(x) YDOC_STR_(x)

static int fail(struct ydoc_err *e, size_t line, size_t col, const char *msg, const char *ctx)
{
	e->line = line;
	e->col = col;
	snprintf(e->msg, sizeof(e->msg), "%s%s%s", msg, ctx ? " " : "", ctx ? ctx : "");
	return -EINVAL;
}

/* Before building a document: libyaml's scanner and loader grow
 * quadratically with nesting (depth 40000 took ~9 s), so a file nested
 * deeper than YDOC_MAX_DEPTH or with more than YDOC_MAX_NODES nodes is
 * refused by a pass over its events, which costs what the file is long. */
static int ydoc_check(const char *buf, size_t len, struct ydoc_err *e)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t depth = 0, nodes = 0;
	int rc = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return fail(e, 1, 1, "cannot initialise the YAML parser", NULL);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!rc && !done) {
		if (!yaml_parser_parse(&parser, &ev))
			break;	/* the loader reports the syntax error */
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > YDOC_MAX_DEPTH)
				rc = fail(e, ev.start_mark.line + 1, ev.start_mark.column + 1,
					  "nested deeper than " YDOC_STR(YDOC_MAX_DEPTH) " levels", NULL);
			/* fallthrough */
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (!rc && ++nodes > YDOC_MAX_NODES)
				rc = fail(e, ev.start_mark.line + 1, ev.start_mark.column + 1,
					  "more than " YDOC_STR(YDOC_MAX_NODES) " nodes", NULL);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int ydoc_load(const char *buf, size_t len, yaml_document_t *doc, struct ydoc_err *e)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *r2;
	int rc = 0;

	rc = ydoc_check(buf, len, e);
	if (rc)
		return rc;
	if (!yaml_parser_initialize(&parser))
		return fail(e, 1, 1, "cannot initialise the YAML parser", NULL);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, doc)) {
		char msg[120];

		snprintf(msg, sizeof(msg), "not valid YAML: %s", parser.problem ? parser.problem : "error");
		rc = fail(e, parser.problem_mark.line + 1, parser.problem_mark.column + 1, msg,
			  parser.context);
		yaml_parser_delete(&parser);
		return rc;
	}
	if (!yaml_document_get_root_node(doc)) {
		fail(e, 1, 1, "empty document", NULL);
		rc = -ENODATA;
	} else if (!yaml_parser_load(&parser, &extra)) {
		char msg[120];

		snprintf(msg, sizeof(msg), "not valid YAML: %s", parser.problem ? parser.problem : "error");
		rc = fail(e, parser.problem_mark.line + 1, parser.problem_mark.column + 1, msg, NULL);
	} else {
		r2 = yaml_document_get_root_node(&extra);
		if (r2)
			rc = fail(e, r2->start_mark.line + 1, r2->start_mark.column + 1,
				  "more than one YAML document", NULL);
		yaml_document_delete(&extra);
	}
	yaml_parser_delete(&parser);
	if (rc)
		yaml_document_delete(doc);
	return rc;
}

const char *ydoc_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *ydoc_get(yaml_document_t *d, const yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *k = ydoc_scalar(yaml_document_get_node(d, p->key));

		if (k && !strcmp(k, key))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

yaml_node_t *ydoc_named(yaml_document_t *d, const yaml_node_t *seq, const char *name,
			const char *inner)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE || !name)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
		yaml_node_t *e = yaml_document_get_node(d, *i);
		const char *n = ydoc_scalar(ydoc_get(d, e, "name"));

		if (n && !strcmp(n, name))
			return ydoc_get(d, e, inner);
	}
	return NULL;
}
