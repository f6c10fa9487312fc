/* `rotate VARIABLE`: change a credential that a service keeps in its data
 * (PostgreSQL's role password, Keycloak's and Grafana's administrators,
 * OpenBao's AppRole secret-id) inside the service first, then in .env and
 * in the pods that use it.  Which way a variable is changed is data: its
 * `rotate:` field in kube/variables.yaml (schema.h); this file maps each
 * method name to its function (credential.h).
 *
 * Every step is safe to kill.  The new value is saved first, with the old
 * one, to STATE_DIR/rotate/VAR.pending (directory 0700, file 0600, written
 * atomically, never through a symlink); a run that finds it resumes with
 * those values, and each step is idempotent: the service already accepting
 * the new value, .env already holding it, the pods already running with it.
 * The file is removed only after the last step. */
#ifndef AEGIS_ROTATE_H
#define AEGIS_ROTATE_H

#include <jansson.h>
#include <stdbool.h>

#include "bootstrap/credential.h"
#include "config/config.h"
#include "config/deployment.h"
#include "podman/podman.h"
#include "util/error.h"

#define ROTATE_DIR "rotate"

/* A method: CHANGE makes the service accept the new value (for a method
 * whose service issues the value itself, GENERATED is true and CHANGE
 * receives new_value == NULL on the first run; see rotate_issue_fn);
 * FINISH (optional) runs once the pods use the new value (OpenBao: the old
 * secret-id destroyed, and its login refused). */
typedef int (*rotate_issue_fn)(const credential_target *t, const char *old_value, char **new_value,
			       aerr_t *err);
typedef struct rotate_method {
	const char *name;      /* the `rotate:` value */
	credential_fn change;  /* NULL for a method that issues (ISSUE) */
	rotate_issue_fn issue; /* the service issues the new value (a secret-id) */
	credential_fn finish;  /* after the pods use the new value, or NULL */
} rotate_method;

/* The method called NAME, or NULL. */
const rotate_method *rotate_method_find(const char *name);

/* The pending rotation of one variable: its file's content. */
typedef struct rotate_pending {
	char *variable;
	char *old_value; /* what .env held when the rotation began */
	char *new_value; /* NULL until issued (an issuing method) */
} rotate_pending;

/* STATE_DIR/rotate/VAR.pending (newly allocated). */
char *rotate_pending_path(const char *state_dir, const char *variable);
/* Save P atomically (the directory made 0700, the file 0600; a symlink in
 * the way is refused). */
int rotate_pending_save(const char *state_dir, const rotate_pending *p, aerr_t *err);
/* Read the pending rotation of VARIABLE into P: 1 when there is one, 0 when
 * none (P zeroed), -1 on error (a symlink, a file not 0600, a file that is
 * not what rotate_pending_save writes: named with its path, never a value). */
int rotate_pending_load(const char *state_dir, const char *variable, rotate_pending *p,
			aerr_t *err);
/* Remove it (absent is fine); the directory is synced. */
int rotate_pending_remove(const char *state_dir, const char *variable, aerr_t *err);
/* Wipe and free. */
void rotate_pending_free(rotate_pending *p);

/* What can be rotated: the variable's schema entry and method, checked
 * against CFG (known, rotatable, set in the .env file and not overridden by
 * the process environment).  Usage errors have status 2. */
int rotate_check(const config *cfg, const char *variable, const schema_var **var,
		 const rotate_method **method, aerr_t *err);

/* The steps of one rotation, each reported through STEP as it ends. */
typedef struct rotate_ctx {
	const config *cfg; /* loaded from the .env before the rotation */
	const char *state_dir;
	const char *variable;
	/* the value read from stdin (--value-from-stdin), or NULL: generated */
	const char *value;
	credential_target target; /* for the service's function */
	/* the rollout of the pods with the new .env (the caller's deploy);
	 * returns 0 or -1 with ERR */
	int (*rollout)(void *ctx, aerr_t *err);
	void *rollout_ctx;
	/* one line per step: NAME, what was done, its seconds */
	void (*step)(void *ctx, const char *name, const char *done, double seconds);
	void *step_ctx;
} rotate_ctx;

/* Run the rotation: pending saved (or resumed), the service changed, .env
 * updated, the pods rolled out, the method's finish, the pending removed.
 * *STEPS (optional) gets [{"step", "result", "seconds"}].  Never puts a
 * value in ERR, STEPS or a step line. */
int rotate_run(const rotate_ctx *c, json_t **steps, aerr_t *err);

/* --- a hand edit of a rotatable variable (deploy, redeploy) ---------------- */

/* The keyed-hash placeholder of VARIABLE in TEXT (a manifest of the release
 * history: "<secret:VAR:hmac-sha256:1a2b3c4d>", history.h), newly
 * allocated, or NULL when TEXT has none. */
char *rotate_placeholder(const char *text, const char *variable);
/* Did VARIABLE's value change between THEN and NOW (N manifests of the
 * same pods, NULL where a pod has none)?  True when some pod's manifest
 * holds a placeholder of it in both and they differ; *POD its index. */
bool rotate_value_changed(const char *variable, char *const *now, char *const *then, size_t n,
			  size_t *pod);

/* Before a deploy of D: every rotatable variable whose value differs from
 * the one the pods of the last successful revision ran with (compared by
 * their placeholders: no value is stored or read back), while the volume
 * where its service keeps the value (`stored_in`) still exists, is refused:
 * -1 with status 2 and a message naming the variable, its .env line, the
 * pod and volume holding the old value and the `rotate` command to run
 * instead.  0 when nothing differs, there is no history yet, or the volume
 * is gone (after `clean`). */
int rotate_refuse_hand_edits(const char *state_dir, deployment *d, podman *pm, aerr_t *err);

#endif
