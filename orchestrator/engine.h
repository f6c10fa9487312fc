/* What the rolling and release-history commands share above the library:
 * one rollout of a loaded deployment with its display (deploy, redeploy,
 * rollback, and deploy --atomic's restore all go through engine_release),
 * the revision every locked command records in the release history
 * (lib/release/history.h), and how history, diff and rollback read a revision
 * number and find the state directory.  In orchestrator/engine.c. */
#ifndef AEGIS_ENGINE_H
#define AEGIS_ENGINE_H

#include "cli.h"
#include "lib/config/deployment.h"
#include "lib/rollout/rollout.h"

/* Roll D out as ARGS say (ARGS->only_pod: that pod alone), with the live
 * display, each failed pod's diagnostic, the --json report and the
 * bootstrap summary; with ARGS->atomic, a failed rollout's replaced pods
 * are restored (lib/release/release.h); then the revision of COMMAND is recorded.
 * Returns the rollout's result (ERR set on failure); *TOOK its duration. */
int engine_release(const struct cli *cli, const char *command, deployment *d,
		   const struct deploy_args *args, double *took, aerr_t *err);

/* Record COMMAND's revision: STATES (d->npods) of a rollout, or NULL for a
 * teardown (D loaded leniently); RC and ERR the command's result; TOOK its
 * duration in seconds (< 0: since the process started); RESTORE deploy
 * --atomic's record, or NULL.  Says which revision it recorded; a history
 * that cannot be written is a warning, not a change of the command's own
 * result. */
void history_note(const struct cli *cli, const char *command, deployment *d,
		  const rollout_pod *states, int rc, const aerr_t *err, double took,
		  const struct deploy_args *args, const json_t *restore);

/* REV from S, a revision number >= MIN; otherwise a usage error of CMD,
 * "WHAT a revision number, not 'S'" (returns 2). */
int cli_revision(const char *cmd, const char *what, const char *s, int min, int *rev);
/* The state directory of the command's configuration (lib/release/state.h). */
int cli_state_dir(const struct cli *cli, char **dir, aerr_t *err);

#endif
