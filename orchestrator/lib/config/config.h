/* The resolved configuration: schema defaults, then the .env file, then the
 * process environment (which overrides the file).  Values are validated by
 * their schema validator; errors name file:line. */
#ifndef AEGIS_CONFIG_H
#define AEGIS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/env.h"
#include "config/schema.h"
#include "config/unknownvars.h"

typedef enum {
	SRC_UNSET = 0,
	SRC_DEFAULT,
	SRC_FILE,
	SRC_ENVIRONMENT,
} config_source;

typedef struct config_value {
	char *name;
	char *value; /* NULL when unset */
	config_source source;
	int line;		  /* line in the .env file when SRC_FILE */
	const schema_var *schema; /* NULL for keys the schema does not know */
	/* masked wherever shown or stored: the schema says so, or the schema
	 * does not know the variable and kube/unknown-variables.yaml does not
	 * call it harmless (a value that cannot be classified is a secret) */
	bool secret;
} config_value;

typedef struct config {
	char *root;	/* where profiles/ and kube/ live */
	char *env_path; /* the .env file (may not exist) */
	bool env_exists;
	schema schema;
	unknown_vars unknown; /* kube/unknown-variables.yaml */
	env_file file;
	config_value
	    *values; /* schema order (values[i] is schema.vars[i]), then unknown file keys */
	size_t n, cap;
	bool edge;	 /* defaults for a profile with the edge (config_use_edge) */
	size_t nunknown; /* keys of the file the schema does not know */
} config;

/* Read again the values whose default is the content of a file
 * (default_file) and that no .env or environment set, once values they
 * depend on changed (a rollback applying a revision's directories). */
int config_reload_file_defaults(config *cfg, aerr_t *err);

int config_load(config *cfg, const char *root, const char *env_path, aerr_t *err);
/* The defaults of a profile with the TLS edge (EDGE true) or without: every
 * variable with a `default_edge` whose value is a default is resolved again
 * (the public URLs are the edge's https URLs when it is deployed). */
int config_use_edge(config *cfg, bool edge, aerr_t *err);
/* config_load of a revision's files extracted into ROOT (rollback): their
 * kube/variables.yaml may predate the `describes` field. */
int config_load_recorded(config *cfg, const char *root, const char *env_path, aerr_t *err);
/* The variables NAMES (a JSON array of strings) read again, the process
 * environment still overriding the file: what a bootstrap has just written
 * to it.  Every other value stays as it is. */
int config_refresh(config *cfg, const json_t *names, aerr_t *err);
const config_value *config_find(const config *cfg, const char *name);
/* The value, or NULL when unset. */
const char *config_get(const config *cfg, const char *name);
/* Set a value (source SRC_DEFAULT-like override used after bootstrap). */
void config_set(config *cfg, const char *name, const char *value, config_source source);
const char *config_source_name(config_source s);
/* The warning about V, a key of the .env file the schema does not know
 * (!V->schema && V->line), newly allocated: "FILE:LINE: unknown variable
 * ...", with what replaces it or the closest declared name.  Made on
 * demand: finding the closest name costs, and most commands never say it. */
char *config_unknown_warning(const config *cfg, const config_value *v);
void config_free(config *cfg);

#endif
