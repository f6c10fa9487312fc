/* One release of a deployment onto Podman, the part every rolling command
 * shares (deploy, redeploy, rollback, and deploy --atomic's restore): the
 * network, volumes and images, then the rollout tier by tier, with the
 * bootstrap of OpenBao and Keycloak hooked on their pods' readiness.  And
 * what deploy --atomic restores after a failed rollout: the pods it
 * replaced, from the last successful revision of the release history.
 * Nothing here prints: progress and traces go to the caller's callbacks. */
#ifndef AEGIS_RELEASE_H
#define AEGIS_RELEASE_H

#include <jansson.h>
#include <stdbool.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/rollout.h"

typedef struct release_opts {
	int timeout_s;	      /* per pod, from the start of its play */
	bool replace;	      /* replace pods even when unchanged */
	const bool *selected; /* NULL: every pod */
	bool no_bootstrap;    /* no bootstrap hook */
	/* Optional callbacks, all with CTX: the network, volumes and images are
	 * ready and the first pod is about to be played; a pod changed state
	 * (rollout_opts); an image pull status line; a bootstrap request line. */
	void (*begin)(void *ctx, const deployment *d);
	void (*progress)(void *ctx, const deployment *d, size_t pod, const rollout_pod *st);
	void (*pull)(void *ctx, const char *line);
	void (*trace)(void *ctx, const char *line);
	void *ctx;
	trace *rollout_trace;		/* NULL, or where each pod's phases are recorded */
	const double *expected_ready_s; /* NULL, or rollout_opts.expected_ready_s */
} release_opts;

/* Prepare (network AEGIS_NETWORK, volumes, images) and roll D out on PM;
 * STATES (d->npods) receives every pod's record.  *BOOTSTRAP gets the
 * bootstrap hook's report (bootstrap_hook_report), or NULL without one.
 * Returns the rollout's result. */
int release_run(podman *pm, deployment *d, const release_opts *o, rollout_pod *states,
		json_t **bootstrap, aerr_t *err);

/* What deploy --atomic puts back after a failed rollout. */
typedef struct release_restore {
	json_t *pods;	 /* names of the pods the failed rollout replaced */
	int revision;	 /* the revision restored to (0: none found) */
	deployment prev; /* its deployment, loaded when there is something to restore */
	bool *selected;	 /* prev.npods: the pods to play again */
	char *workdir;	 /* where prev's templates live (removed by _free) */
	json_t *images;	 /* rollback_pin_images's lines: prev's images pinned to the
			  * digests its revision ran, or why one keeps its tag */
} release_restore;

/* The pods of D that the failed rollout (STATES) replaced, and the last
 * successful revision of the history in STATE_DIR rebuilt with the secrets
 * and host variables of D's (the current) configuration, its pods
 * selected; a pod that the rollout added has no earlier manifest and stays.
 * 0 with R->pods empty when nothing was replaced.  R is filled either way
 * (free it with release_restore_free). */
int release_restore_load(const char *state_dir, const deployment *d, const rollout_pod *states,
			 release_restore *r, aerr_t *err);
/* The restore's record for the history: {"pods", "revision", "result"[,
 * "images"][, "error"]};
 * RESULT "ok", "failed" (ERR's message) or "nothing replaced". */
json_t *release_restore_record(const release_restore *r, const char *result, const aerr_t *err);
void release_restore_free(release_restore *r);

#endif
