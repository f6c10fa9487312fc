/* Reading small YAML data files (profiles, the variable schema, the Keycloak
 * declaration) through libyaml's document API. */
#ifndef AEGIS_YAMLDOC_H
#define AEGIS_YAMLDOC_H

#include <stdbool.h>
#include <yaml.h>

#include "error.h"

/* Load the first document of PATH.  Errors name PATH:LINE:COL. */
int ydoc_load_file(const char *path, yaml_document_t *doc, aerr_t *err);
/* Value node of KEY in mapping NODE, or NULL. */
yaml_node_t *ydoc_get(yaml_document_t *doc, yaml_node_t *node, const char *key);
/* Scalar text of NODE, or NULL when NODE is not a scalar. */
const char *ydoc_str(yaml_node_t *node);
/* Scalar interpreted as a YAML boolean (true/false/yes/no/on/off); DEF when absent. */
int ydoc_bool(yaml_node_t *node, bool def, bool *out);
/* 1-based line of NODE. */
int ydoc_line(const yaml_node_t *node);

#endif
