/* The status model: the profile's pods as Podman sees them, and which of
 * their containers pass their readiness probes right now. */
#ifndef AEGIS_STATUS_H
#define AEGIS_STATUS_H

#include <jansson.h>
#include <time.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/trace.h"
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

/* The last rollout's phase times, kept in the state directory by deploy,
 * redeploy and rollback (0600, written atomically) and shown by status
 * --json as "last_rollout"; the next rollout orders its creations by them
 * (rollout_critical_order). */
#define STATUS_PHASES_FILE "last-rollout.json"

/* From the rollout's trace T (started at wall-clock T0_WALL, TOOK seconds):
 *   {"command", "at": T0_WALL, "took_s", "pods": {"<pod>": {"created_s",
 *    "started_s", "ready_s", "bootstrap_s"}}}
 * created_s, started_s and ready_s are seconds since the rollout began
 * (created: the pod exists with its infra container started; started: its
 * app containers; ready: its probes passed); bootstrap_s is how long its
 * ready hook took; null when the pod never reached the phase.  Only the pods
 * the trace has a track for. */
json_t *status_rollout_phases(const deployment *d, trace *t, const char *command, double t0_wall,
			      double took);
/* Write PHASES to STATE_DIR/STATUS_PHASES_FILE (0600, atomically). */
int status_phases_save(const char *state_dir, const json_t *phases, aerr_t *err);
/* What status_phases_save wrote, or NULL (none, or unreadable). */
json_t *status_phases_load(const char *state_dir);
/* Per pod of D its measured seconds from started to ready in PHASES (-1:
 * unknown), for rollout_opts.expected_ready_s; NULL for NULL PHASES. */
double *status_expected_ready(const deployment *d, const json_t *phases);

/* Seconds from an RFC 3339 time ("2026-11-23T09:32:34.123+00:00") to NOW;
 * -1 if unparsable. */
long status_seconds_since(const char *rfc3339, time_t now);
/* "45s", "12m", "5h", "3d"; "-" for a negative duration. */
void status_human_duration(long s, char *buf, size_t n);

#endif
