/* Readiness probes, as the Kube templates declare them: httpGet against the
 * published host port on the address it listens on (127.0.0.1 unless the
 * template binds it elsewhere; through the one HTTP layer, http.h),
 * tcpSocket likewise, exec inside the container through the Podman API.
 * When the pods run on another host (an ssh:// host), httpGet and tcpSocket
 * go through the route of http.h (http_route) to that host's ports.
 * Safe to call from several threads, each with its own podman handle. */
#ifndef AEGIS_PROBE_H
#define AEGIS_PROBE_H

#include "podman/pod.h"
#include "podman/podman.h"
#include "util/error.h"

/* Run P once against CONTAINER (the Podman container name, for exec).
 * Returns 0 when it passes; < 0 when it does not, ERR saying what was seen
 * ("GET http://127.0.0.1:8200/...: HTTP 503", "connect 127.0.0.1:5432:
 * Connection refused", "exit status 1: ...").  *LATENCY_MS (optional) gets
 * how long it took, either way. */
int probe_run(podman *pm, const char *container, const probe *p, double *latency_ms, aerr_t *err);

#endif
