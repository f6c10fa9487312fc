/* The schema of every known configuration variable, read from
 * kube/variables.yaml: name, required, default, secret, validator, what it
 * describes and a one-line description.  This file is the one place
 * variables are declared. */
#ifndef AEGIS_SCHEMA_H
#define AEGIS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* What a value is about (the `describes` field).  A rollback and the
 * restore of deploy --atomic take the host's variables from the current
 * configuration and the release's from the revision. */
typedef enum {
	DESCRIBES_UNSET = 0, /* a revision's copy of the schema from before the field */
	DESCRIBES_HOST,	     /* this machine: paths, sockets, addresses, credentials */
	DESCRIBES_RELEASE,   /* what is deployed: images, ports, settings of the pods */
} schema_describes;

typedef struct schema_var {
	char *name;
	int line;	     /* in the schema file */
	bool required;	     /* must have a value wherever it is used */
	char *default_value; /* may reference other variables: ${AEGIS_IMAGE_TAG} */
	char *default_root;  /* default when running as root (e.g. the rootful socket) */
	char *default_edge;  /* default when the profile holds the edge (config_use_edge) */
	/* default: the content of this file (its path may reference variables),
	 * when it is a regular file; for values that are files of their own,
	 * such as the SEAL JWT keys of generate-keys */
	char *default_file;
	bool secret;	 /* masked in output, never logged */
	bool generate;	 /* `init` fills it with a random value when empty */
	char *validator; /* port, path, image, loglevel, bool, string, secret */
	/* characters the value may not contain (a consumer that cannot take
	 * them, e.g. a config template that quotes the value), or NULL */
	char *forbid;
	/* printable: no control character but tab, no DEL, none of the line
	 * breaks U+0085, U+2028, U+2029 (a value quoted in YAML on one line) */
	bool printable;
	char *description;
	char *group; /* images, ports, secrets, ... (for docs and `config`) */
	schema_describes describes;
	/* how `rotate` changes it inside the service that keeps it (one of
	 * schema_rotate_methods), or NULL: not rotatable */
	char *rotate;
	/* with rotate: the named volume where the service keeps the value
	 * (a deploy after a hand edit refuses while it exists) */
	char *stored_in;
} schema_var;

typedef struct schema {
	char *path;
	schema_var *vars;
	size_t n;
} schema;

/* Every variable must say what it describes; a secret (never recorded in
 * the release history) describes the host, and so does a host variable's
 * default only through other host variables. */
int schema_load(const char *path, schema *out, aerr_t *err);
/* A copy recorded with a revision of the release history, which may
 * predate the `describes` field (DESCRIBES_UNSET). */
int schema_load_recorded(const char *path, schema *out, aerr_t *err);
const schema_var *schema_find(const schema *s, const char *name);
/* The values the `rotate` field may take, NULL-terminated: each is a way of
 * changing a credential inside its service (lib/release/rotate.c maps each
 * to its function). */
extern const char *const schema_rotate_methods[];
/* Check VALUE against the variable's validator; on failure fill ERR
 * (AEGIS_ECONFIG) with what is wrong.  The message quotes VALUE unless the
 * variable is secret; the caller adds where the value came from. */
int schema_check(const schema_var *v, const char *value, aerr_t *err);
void schema_free(schema *s);

#endif
