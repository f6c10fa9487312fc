/* Reading small YAML data files (profiles, the variable schema, the Keycloak
 * declaration) through libyaml's document API. */
#ifndef AEGIS_YAMLDOC_H
#define AEGIS_YAMLDOC_H

#include <stdbool.h>
#include <yaml.h>

#include "util/error.h"

/* Load the first document of PATH.  Errors name PATH:LINE:COL. */
int ydoc_load_file(const char *path, yaml_document_t *doc, aerr_t *err);
/* The next document of a stream (a manifest holds several): 1 with DOC
 * loaded (its root node present; the caller deletes it, or hands it to
 * yaml_emitter_dump), 0 at the end of the stream, < 0 on a YAML error
 * naming SOURCE:LINE:COL (DOC then needs nothing). */
int ydoc_next(yaml_parser_t *parser, const char *source, yaml_document_t *doc, aerr_t *err);
/* Value node of KEY in mapping NODE, or NULL. */
yaml_node_t *ydoc_get(yaml_document_t *doc, yaml_node_t *node, const char *key);
/* Scalar text of NODE, or NULL when NODE is not a scalar. */
const char *ydoc_str(yaml_node_t *node);
/* Scalar interpreted as a YAML boolean (true/false/yes/no/on/off); DEF when absent. */
int ydoc_bool(yaml_node_t *node, bool def, bool *out);
/* 1-based line of NODE. */
int ydoc_line(const yaml_node_t *node);

#endif
