/* Recording a revision of the release history (lib/history.h) at the end
 * of a locked command: the one call deploy, redeploy, rollback and teardown
 * make.  In cmd/history.c. */
#ifndef AEGIS_CMD_HISTORY_H
#define AEGIS_CMD_HISTORY_H

#include "cli.h"
#include "lib/deployment.h"
#include "lib/rollout.h"

/* Record COMMAND's revision: STATES (d->npods) of a rollout, or NULL for a
 * teardown (D loaded leniently); RC and ERR the command's result; TOOK its
 * duration in seconds (< 0: since the process started).  Says which
 * revision it recorded; a history that cannot be written is a warning, not
 * a change of the command's own result. */
void history_note(const struct cli *cli, const char *command, deployment *d,
		  const rollout_pod *states, int rc, const aerr_t *err, double took);
/* deploy --atomic (set by deploy's options): when its rollout fails,
 * history_note first restores the pods it replaced to the manifests of the
 * last successful revision and waits for them. */
extern bool deploy_atomic;

/* The same for a rollback to revision TARGET, whose "source" it records. */
void history_note_rollback(const struct cli *cli, deployment *d, const rollout_pod *states, int rc,
			   const aerr_t *err, double took, int target, const json_t *source);

#endif
