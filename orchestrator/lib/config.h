/* The resolved configuration: schema defaults, then the .env file, then the
 * process environment (which overrides the file).  Values are validated by
 * their schema validator; errors name file:line. */
#ifndef AEGIS_CONFIG_H
#define AEGIS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "env.h"
#include "schema.h"

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
} config_value;

typedef struct config {
	char *root;	/* where profiles/ and kube/ live */
	char *env_path; /* the .env file (may not exist) */
	bool env_exists;
	schema schema;
	env_file file;
	config_value
	    *values; /* schema order (values[i] is schema.vars[i]), then unknown file keys */
	size_t n, cap;
	char **warnings; /* unknown keys etc.; shown with -v */
	size_t nwarnings, warnings_cap;
} config;

int config_load(config *cfg, const char *root, const char *env_path, aerr_t *err);
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
void config_free(config *cfg);

#endif
