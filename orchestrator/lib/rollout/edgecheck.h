/* The running edge: its internal CA exported for clients, and every route
 * of kube/edge/routes.yaml checked from this host over real HTTPS.
 *
 * The checks reach the edge at ADDRESS (127.0.0.1) on EDGE_HTTPS_PORT and
 * EDGE_HTTP_PORT while speaking each route's own hostname (SNI, Host, and the
 * certificate's name are those of the route; no DNS is needed).  The
 * certificate is verified against the internal CA (edge-ca.crt) or the
 * system's CAs.  Per route:
 *   - HTTPS without credentials: basic-auth routes must answer 401, the
 *     others anything but a 5xx (a 502 means the edge cannot reach the pod);
 *   - basic-auth routes with EDGE_BASIC_AUTH_USER/PASSWORD: not 401, no 5xx;
 *   - plain HTTP must redirect (3xx) to https://HOST;
 *   - a certificate that expires within EDGECHECK_WARN_DAYS is a warning
 *     (the sites' certificates, or the internal CA's root: routes.yaml
 *     check_expiry). */
#ifndef AEGIS_EDGECHECK_H
#define AEGIS_EDGECHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "render/edge.h"

#define EDGECHECK_WARN_DAYS 14

typedef struct edge_check {
	char *route; /* the route's name (routes.yaml) */
	char *host;  /* its hostname */
	char *pod;   /* the pod behind it */
	bool ok;
	bool warning;	  /* a certificate expires within EDGECHECK_WARN_DAYS */
	long status;	  /* HTTPS status without credentials */
	double days_left; /* of the certificate the expiry check looked at */
	double latency_ms;
	char *detail; /* why it failed, the expiry warning, or NULL */
} edge_check;

typedef struct edgecheck_opts {
	const char *address; /* where the edge listens (NULL: 127.0.0.1) */
	const char *cacert;  /* NULL: EDGE_VERIFY_CA_FILE, else edge-ca.crt with
				AEGIS_TLS_MODE=internal, else the system's */
	int timeout_s;	     /* per request (0: 10) */
} edgecheck_opts;

/* Copy the internal CA's root certificate out of the running edge container
 * (podman exec cat; Caddy writes it at its first start, so this waits up to
 * WAIT_S for it) into edge_ca_path() (0644; the directory 0700).  Nothing
 * to do (0, *PATH NULL) when the TLS mode has no CA of its own. */
int edgecheck_export_ca(podman *pm, const deployment *d, int wait_s, char **path, aerr_t *err);

/* Deploy's (and rollback's) hook for every pod once it is ready, whether or
 * not the services are bootstrapped: for pod-edge, export the CA (above)
 * through its own connection to SOCKET, the rollout's API socket (through
 * an ssh:// host's tunnel too); nothing for other pods. */
int edgecheck_on_ready(const deployment *d, size_t pod, const char *socket, aerr_t *err);

/* Check every route; returns 0 when the checks ran, whatever their results
 * (*OUT: one entry per route, in routes.yaml order). */
int edgecheck_run(const deployment *d, const edgecheck_opts *opts, edge_check **out, size_t *n,
		  aerr_t *err);
void edge_checks_free(edge_check *c, size_t n);

#endif
