/* Variables the schema (kube/variables.yaml) does not declare: what
 * kube/unknown-variables.yaml says about some of them (harmless values, the
 * variable that replaces an upstream name), and the declared name closest
 * to a misspelt one.  Such a variable is a secret unless listed harmless
 * (config.h). */
#ifndef AEGIS_UNKNOWNVARS_H
#define AEGIS_UNKNOWNVARS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/schema.h"
#include "util/error.h"

#define UNKNOWNVARS_FILE "kube/unknown-variables.yaml"

typedef struct unknown_var {
	char *name;
	bool harmless;	   /* its value is not a secret */
	char *replaced_by; /* the declared variable that does its job, or NULL */
	char *note;	   /* one line for the warning, or NULL */
} unknown_var;

typedef struct unknown_vars {
	char *path;
	unknown_var *v;
	size_t n;
} unknown_vars;

/* Read PATH; a missing file is an empty list (every unknown variable a
 * secret).  Errors name PATH:LINE. */
int unknownvars_load(const char *path, unknown_vars *out, aerr_t *err);
const unknown_var *unknownvars_find(const unknown_vars *u, const char *name);
void unknownvars_free(unknown_vars *u);

/* The declared variable whose name is closest to NAME (Levenshtein
 * distance, ties to the first in the schema), when close enough to be a
 * likely misspelling: at most a third of NAME's length, and at least 2.
 * NULL otherwise. */
const schema_var *unknownvars_closest(const schema *s, const char *name);

/* The warning about unknown variable NAME assigned at WHERE ("FILE:LINE"),
 * newly allocated: what replaces it, or the closest declared name. */
char *unknownvars_warning(const schema *s, const unknown_vars *u, const char *where,
			  const char *name);

#endif
