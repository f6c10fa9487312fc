/* The TLS edge (pod-edge, Caddy): its routes and TLS modes, read from
 * kube/edge/routes.yaml, and the Caddyfile built from them.  Pure: data in,
 * data out (the checks of a running edge are in edgecheck.h). */
#ifndef AEGIS_EDGE_H
#define AEGIS_EDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

#define EDGE_POD "edge"
#define EDGE_ROUTES "kube/edge/routes.yaml"
/* the derived variable the edge's ConfigMap is rendered from */
#define EDGE_CADDYFILE_VAR "EDGE_CADDYFILE"
/* the internal CA's root certificate, exported to the generated directory */
#define EDGE_CA_FILE "edge-ca.crt"

typedef struct edge_route {
	char *name;
	char *host;	/* the value of its host_variable */
	char *upstream; /* pod-name:port on aegis-network */
	char *pod;	/* the logical pod behind it */
	bool basic_auth;
} edge_route;

typedef struct edge_config {
	char *path;	      /* routes.yaml, for messages */
	char *global;	      /* Caddy's global options */
	char *mode_options;   /* the mode's global options whose variable is set */
	char *tls_mode;	      /* AEGIS_TLS_MODE */
	char *tls_line;	      /* the mode's `tls` line */
	char *ca_certificate; /* the mode's CA root in the container, or NULL */
	bool expiry_of_ca;    /* check_expiry: ca (else: the sites' certificates) */
	char *auth_user;      /* EDGE_BASIC_AUTH_USER */
	edge_route *routes;
	size_t n;
} edge_config;

/* Read ROOT/kube/edge/routes.yaml with the values of CFG: every host set
 * and a plain hostname, the mode one of the file's, the variables it
 * requires set.  Errors name the file, the key and the variable. */
int edge_load(const config *cfg, edge_config *out, aerr_t *err);
void edge_free(edge_config *e);

/* The Caddyfile (newly allocated): the global options (the file's, then the
 * mode's), then one site per route with the mode's `tls` line, basic auth
 * (AUTH_HASH, a crypt(3) bcrypt hash) where the route asks for it, and the
 * reverse proxy. */
char *edge_caddyfile(const edge_config *e, const char *auth_hash);

/* Set EDGE_CADDYFILE in CFG: the Caddyfile of routes.yaml with the bcrypt
 * hash of EDGE_BASIC_AUTH_PASSWORD.  LENIENT (plan, status): what cannot be
 * built is left unset instead of failing. */
int edge_prepare(config *cfg, bool lenient, aerr_t *err);

/* Where the internal CA's root certificate is exported (newly allocated):
 * AEGIS_GENERATED_DIR (default ROOT/generated)/edge-ca.crt. */
char *edge_ca_path(const config *cfg);

#endif
