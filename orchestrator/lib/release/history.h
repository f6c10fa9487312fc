/* The release history: an ordinary (bare) git repository in the state
 * directory, STATE_DIR/history, written with libgit2.  Every deploy,
 * redeploy, rollback and teardown records one commit (a "revision") whose
 * tree holds what was deployed with every secret value replaced by a
 * placeholder, so `git log` and `git show` on it are safe to run anywhere:
 *
 *   revision.json         number, time, command, profile, result, pods
 *                         replaced/kept/failed, duration, source, CI job,
 *                         the volume snapshot taken before the rollout, and
 *                         per pod the image and digest each container ran
 *   manifests/<pod>.yaml  the rendered manifests, secrets as placeholders
 *   plan.json             the dependency tiers and each pod's manifest hash
 *   report.json           the command's JSON report
 *   config.json           the resolved configuration (secrets as placeholders)
 *   source/...            the templates, profile and variable schema used
 *
 * A placeholder names the variable and a keyed hash of its value:
 * <secret:POSTGRES_PASSWORD:hmac-sha256:1a2b3c4d>.  The key (STATE_DIR/
 * history.key, 0600) never enters the repository, so a hash tells whether
 * a secret changed without letting anyone test guesses against it. */
#ifndef AEGIS_HISTORY_H
#define AEGIS_HISTORY_H

#include <jansson.h>
#include <stdbool.h>

#include "config/deployment.h"
#include "rollout/rollout.h"

#define HISTORY_DIR "history"

typedef struct history_entry {
	const char *command; /* deploy, redeploy, rollback, teardown */
	bool ok;	     /* the command's result */
	const char *error;   /* its failure (secrets are scrubbed), or NULL */
	double duration_s;
	/* per pod (d->npods) of a rollout, or NULL (teardown: every pod removed) */
	const rollout_pod *states;
	const json_t *report; /* the command's JSON report (optional) */
	/* what the revision's "source" is (a rollback: the source of the
	 * revision it went back to); NULL: the checkout of d->cfg.root */
	const json_t *source;
	int rollback_of; /* a rollback: the revision it went back to */
	/* rotate: the variable whose value it changed (its name only), or NULL */
	const char *rotated;
	/* deploy --atomic after a failure: {"revision", "pods", "result"[, "error"]} */
	const json_t *restore;
	/* the snapshot this command took before its rollout (lib/release/backup.h,
	 * snapshot_take's record), or NULL */
	const json_t *snapshot;
	/* rollback --with-data: the snapshot whose data it put back
	 * {"id", "revision", "pods"}, or NULL */
	const json_t *data_restored;
	bool lenient; /* D was loaded with DEPLOYMENT_LENIENT */
	/* what ran after the rollout (images_running, lib/images.h):
	 * {"<pod>": {"<container>": {"image", "image_id", "digest", "pinned"}}},
	 * recorded as each pod's "images" in revision.json; or NULL */
	const json_t *images;
} history_entry;

/* Record one revision for D in STATE_DIR's history (created on first use,
 * 0700).  D's configuration is borrowed to render the redacted manifests and
 * is unchanged on return.  *REV (optional) receives the revision number. */
int history_record(const char *state_dir, deployment *d, const history_entry *e, int *rev,
		   aerr_t *err);

/* The manifests of D with secrets as placeholders (as a revision records
 * them; the manifest-hash label is the live one): *OUT gets d->npods newly
 * allocated strings (free with history_strv_free). */
int history_redacted_manifests(const char *state_dir, deployment *d, bool lenient, char ***out,
			       aerr_t *err);
void history_strv_free(char **v, size_t n);

/* Every revision's revision.json (plus "commit"), oldest first.  A missing
 * history is an empty array. */
int history_list(const char *state_dir, json_t **revisions, aerr_t *err);

/* One revision (REV >= 1; 0: the latest): *INFO its revision.json plus
 * "commit", "message" and "files" (path -> size).  Unknown REV: status 2. */
int history_show(const char *state_dir, int rev, json_t **info, aerr_t *err);
/* The content of file PATH of revision REV (0: the latest); a missing file
 * is status 1 with *DATA NULL. */
int history_read_file(const char *state_dir, int rev, const char *path, char **data, size_t *len,
		      aerr_t *err);

/* The manifest of pod NAME as recorded by the latest revision in which its
 * manifest hash was HASH: *YAML newly allocated, or NULL when no revision
 * recorded that hash (no error); *REV (optional) that revision. */
int history_find_manifest(const char *state_dir, const char *name, const char *hash, char **yaml,
			  int *rev, aerr_t *err);

/* Write the files of revision REV under PREFIX ("source/") into DIR (which
 * exists), without the prefix; directories are made 0700. */
int history_extract(const char *state_dir, int rev, const char *prefix, const char *dir,
		    aerr_t *err);

/* The source of a deployment: the commit of the git checkout containing
 * ROOT, "<sha>-dirty" when its work tree differs from it; NULL (no error)
 * when ROOT is not in a git checkout. */
int history_source_commit(const char *root, char **commit, aerr_t *err);

#endif
