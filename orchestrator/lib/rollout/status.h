/* The status model: the profile's pods as Podman sees them, and which of
 * their containers pass their readiness probes right now. */
#ifndef AEGIS_STATUS_H
#define AEGIS_STATUS_H

#include <jansson.h>
#include <time.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/validate.h"

/* List the pods, run the profile's readiness checks concurrently and build
 * the model (see status_model).  *OUT is a new reference. */
int status_collect(podman *pm, const deployment *d, json_t **out, aerr_t *err);

/* The model, from Podman's pod list (GET /libpod/pods/json) and the checks
 * of validate_run, as of NOW:
 *   {"profile", "pods": [{name, pod_name, state, ready, running, containers,
 *    uptime_s, ports[, sealed: true]}]   (status_collect adds "images"), "absent": [names],
 * "not_in_profile": [pod names]} Pure: no Podman, no clock. */
json_t *status_model(const deployment *d, json_t *live, const check *checks, size_t nchecks,
		     time_t now);

/* Each pod of MODEL gets "images": its containers' records in IMAGES
 * (images_running: {"<container>": {"image", "digest", ...}}), {} when
 * none was found.  status_collect does this after status_model. */
void status_add_images(json_t *model, const json_t *images);

/* Seconds from an RFC 3339 time ("2026-11-23T09:32:34.123+00:00") to NOW;
 * -1 if unparsable. */
long status_seconds_since(const char *rfc3339, time_t now);
/* "45s", "12m", "5h", "3d"; "-" for a negative duration. */
void status_human_duration(long s, char *buf, size_t n);

#endif
