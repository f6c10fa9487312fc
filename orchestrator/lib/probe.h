/* Readiness probes, as the Kube templates declare them: httpGet against the
 * published host port on the address it listens on (127.0.0.1 unless the
 * template binds it elsewhere; through the one HTTP layer, http.h),
 * tcpSocket likewise, exec inside the container through the Podman API.
 * Safe to call from several threads, each with its own podman handle. */
#ifndef AEGIS_PROBE_H
#define AEGIS_PROBE_H

#include "error.h"
#include "pod.h"
#include "podman.h"

/* Run P once against CONTAINER (the Podman container name, for exec).
 * Returns 0 when it passes; < 0 when it does not, ERR saying what was seen
 * ("GET http://127.0.0.1:8200/...: HTTP 503", "connect 127.0.0.1:5432:
 * Connection refused", "exit status 1: ...").  *LATENCY_MS (optional) gets
 * how long it took, either way. */
int probe_run(podman *pm, const char *container, const probe *p, double *latency_ms, aerr_t *err);

/* When the pods run on another host (an ssh:// host), the published ports
 * are there: ROUTE gives a local unix socket that reaches HOST:PORT as seen
 * from that host (*UNIX_SOCKET newly allocated).  Process-wide, set before
 * any probe runs (NULL: probes connect directly).  Through such a route a
 * TCP probe passes when the forwarded connection is not closed within
 * PROBE_ROUTE_SETTLE_MS (the probe's timeout if shorter): ssh closes it
 * at once when the remote connect is refused. */
typedef int (*probe_route_fn)(void *ctx, const char *host, int port, char **unix_socket,
			      aerr_t *err);
void probe_set_route(probe_route_fn route, void *ctx);
#define PROBE_ROUTE_SETTLE_MS 500

#endif
