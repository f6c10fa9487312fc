#include "util/yamldoc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int ydoc_load_file(const char *path, yaml_document_t *doc, aerr_t *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return aerr_sys(err, AEGIS_ECONFIG, errno, "cannot open %s", path);
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	int ok = yaml_parser_load(&parser, doc);
	int rc = 0;
	if (!ok) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%s:%zu:%zu: YAML error: %s", path,
			      parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			      parser.problem ? parser.problem : "cannot parse");
	} else if (!yaml_document_get_root_node(doc)) {
		yaml_document_delete(doc);
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: empty document", path);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

int ydoc_next(yaml_parser_t *parser, const char *source, yaml_document_t *doc, aerr_t *err)
{
	if (!yaml_parser_load(parser, doc)) {
		yaml_document_delete(doc);
		return aerr_set(err, AEGIS_ECONFIG, "%s:%zu:%zu: YAML error: %s%s%s", source,
				parser->problem_mark.line + 1, parser->problem_mark.column + 1,
				parser->problem ? parser->problem : "cannot parse",
				parser->context ? " " : "", parser->context ? parser->context : "");
	}
	if (!yaml_document_get_root_node(doc)) {
		yaml_document_delete(doc);
		return 0;
	}
	return 1;
}

yaml_node_t *ydoc_get(yaml_document_t *doc, yaml_node_t *node, const char *key)
{
	if (!node || node->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

const char *ydoc_str(yaml_node_t *node)
{
	if (!node || node->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)node->data.scalar.value;
}

int ydoc_bool(yaml_node_t *node, bool def, bool *out)
{
	const char *s = ydoc_str(node);
	if (!node) {
		*out = def;
		return 0;
	}
	if (!s)
		return -1;
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

int ydoc_line(const yaml_node_t *node)
{
	return node ? (int)node->start_mark.line + 1 : 0;
}
