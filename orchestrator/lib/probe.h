/* Readiness probes, as the Kube templates declare them: httpGet against the
 * published host port on 127.0.0.1, tcpSocket likewise, exec inside the
 * container through the Podman API.  Safe to call from several threads, each
 * with its own podman handle. */
#ifndef AEGIS_PROBE_H
#define AEGIS_PROBE_H

#include <stdbool.h>

#include "pod.h"
#include "podman.h"

typedef struct probe_result {
	bool ok;
	double latency_ms;
	char detail[512]; /* "HTTP 503", "connection refused", "exit status 1: ..." */
} probe_result;

/* Run P once against CONTAINER (the Podman container name, for exec). */
void probe_run(podman *pm, const char *container, const probe *p, probe_result *r);

#endif
