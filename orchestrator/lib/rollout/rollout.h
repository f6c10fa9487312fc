/* The rollout against Podman: the schedule (schedule.h) bound to the
 * Podman API, one connection per thread, and the container checks it
 * shares with `wait` and `validate`.  The image pulls before it are in
 * images.h, the removal of pods (teardown, clean) in removal.h; this
 * header brings in both for the commands that use them. */
#ifndef AEGIS_ROLLOUT_H
#define AEGIS_ROLLOUT_H

#include <stdbool.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/images.h"
#include "rollout/removal.h"
#include "rollout/schedule.h"

/* Roll out through the API of PM's socket (rollout_schedule); STATES
 * (d->npods entries, caller-allocated) receive each pod's record.  Returns
 * -1 with ERR naming the first failed pod. */
int rollout_run(podman *pm, deployment *d, const rollout_opts *opts, rollout_pod *states,
		aerr_t *err);

/* Is the container running (and not crash-looping)?  1 running; 0 not yet
 * (or absent, or Podman did not answer), ERR saying why; -1 exited or
 * restarting, ERR saying which. */
int rollout_container_running(podman *pm, const char *name, aerr_t *err);

/* One sweep over the containers of P not yet READY[c]: each running one's
 * readiness probe runs once, and passes set READY[c].  Returns 1 when every
 * container is ready; 0 when some are not, *LAST (replaced, newly
 * allocated) saying why for container *LAST_C; < 0 when container *LAST_C
 * cannot run (ERR).  The readiness gate of deploy and of wait. */
int rollout_probe_sweep(podman *pm, const pod *p, bool *ready, char **last, size_t *last_c,
			aerr_t *err);

/* The Podman container name of container C of pod P ("<pod_name>-<name>"). */
char *rollout_container_name(const pod *p, const container *c);

#endif
