/* Volume backups: the named volumes of chosen pods (found through the
 * Podman API) copied into an archive set with a manifest, checked, and
 * copied back.
 *
 * A backup is a directory (0700) holding one tar per volume and
 * manifest.json, every file 0600:
 *
 *   {"format": 1, "created": "2026-12-03T21:40:00Z", "profile": "full",
 *    "revision": 12,              (the release history's latest, 0: none)
 *    "pods": ["database", ...],
 *    "volumes": [{"name", "pod", "file", "size", "sha256"}],
 *    "images": [{"pod", "container", "image", "id"}]}
 *
 * It is written under a temporary name beside its final one and renamed
 * into place once every file is synced: the final directory is complete or
 * absent, whenever the process dies.
 *
 * Consistency: a pod's volumes are copied while the pod is stopped, and the
 * pod is started again and gated on readiness before the next one (a cold
 * copy).  For PostgreSQL that is the whole data directory, which the same
 * major version restores byte for byte with roles and settings, and no
 * password has to reach an exec (pg_dumpall would need one). */
#ifndef AEGIS_BACKUP_H
#define AEGIS_BACKUP_H
#include <jansson.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "util/error.h"

#define BACKUP_MANIFEST "manifest.json"

/* Progress lines ("database: aegis-postgres-data 41.2 MiB in 0.8 s"). */
typedef void (*backup_note_fn)(void *ctx, const char *line);

/* Back up the volumes of pods PODS (NPODS logical names; 0: every pod of D
 * with volumes) into directory OUT, which must not exist.  REVISION goes
 * into the manifest.  *MANIFEST (optional) gets the manifest written. */
int backup_create(podman *pm, const deployment *d, char *const *pods, size_t npods, const char *out,
		  int revision, backup_note_fn note, void *ctx, json_t **manifest, aerr_t *err);

/* What a killed backup left in PARENT (the directory its backups go to):
 * each NAME.partial-PID of a process that is gone has its pods that were
 * stopped for the copy (pods of D) started again and gated on readiness,
 * then is removed.  backup_create runs it first, so running the backup
 * again brings them back. */
int backup_recover(podman *pm, const deployment *d, const char *parent, backup_note_fn note,
		   void *ctx, aerr_t *err);

/* Read DIR's manifest and check every archive's size and SHA-256 against
 * it: a missing, changed or unlisted-but-named file is an error naming the
 * file (status 1), a malformed manifest a configuration error (status 2). */
int backup_verify(const char *dir, json_t **manifest, aerr_t *err);

/* The volumes of MANIFEST (read from DIR and verified) for pods PODS (NPODS;
 * 0: all of the backup's), their contents replaced by the archives: each
 * pod using them is removed, each volume removed, created empty and filled
 * from its archive.  The caller deploys D again afterwards (the removed
 * pods come back in dependency order, gated on readiness).  A pod of the
 * backup that D does not hold is an error before anything is touched.
 * *REMOVED (optional) gets the logical names of the pods removed. */
int backup_restore_volumes(podman *pm, const deployment *d, const char *dir, const json_t *manifest,
			   char *const *pods, size_t npods, backup_note_fn note, void *ctx,
			   json_t **removed, aerr_t *err);

/* A restore killed midway (backup_restore_volumes changes pods and volumes
 * one after the other) leaves the journal STATE_DIR/restore-pending.json,
 * written before anything is changed and removed once every volume is
 * refilled: which backup (its manifest's SHA-256) and which pods.  The next
 * deploy, redeploy, rollback or backup finishes that restore first with
 * backup_resume (the backup checked again; none pending: nothing to do), so
 * no pod ever starts, and no snapshot or backup is taken, on half-restored
 * volumes.  A restore run again (of any backup) replaces the journal. */
#define RESTORE_JOURNAL "restore-pending.json"

int backup_resume(podman *pm, const deployment *d, backup_note_fn note, void *ctx, aerr_t *err);

/* --- snapshots: backups tied to revisions ----------------------------------
 *
 * deploy --atomic (and deploy --snapshot) backs up, before the rollout, the
 * volumes of every stateful pod (a pod with named volumes: they are the
 * only state a pod keeps) that the rollout will replace, into
 * STATE_DIR/snapshots/ID (the same archive set as a backup: 0700, files
 * 0600, complete or absent).  The revision of that deploy records it (the
 * record below); its data is that of the revision deployed before (the
 * manifest's "revision"), which is what `rollback --with-data REV` finds.
 * After a successful rollout only the newest AEGIS_SNAPSHOT_KEEP are kept. */
#define SNAPSHOT_DIR "snapshots"
#define SNAPSHOT_KEEP_VAR "AEGIS_SNAPSHOT_KEEP"
#define SNAPSHOT_KEEP_DEFAULT 5

/* The pods of D a rollout would replace that hold volumes with data: the
 * pod is selected (SELECTED NULL: all), holds named volumes of which at
 * least one exists, and is not running with its manifest unchanged (the
 * rollout's rule for keeping a pod, unless REPLACE).  *WANT (d->npods,
 * newly allocated) marks them; returns how many. */
size_t snapshot_select(podman *pm, const deployment *d, const bool *selected, bool replace,
		       bool **want);

/* Take the snapshot of the pods marked in WANT into STATE_DIR/snapshots/
 * (REVISION: the history's latest, whose data it holds).  *RECORD gets what
 * the revision records: {"id", "path", "manifest_sha256", "bytes", "pods",
 * "revision"}. */
int snapshot_take(podman *pm, const deployment *d, const char *state_dir, const bool *want,
		  int revision, backup_note_fn note, void *ctx, json_t **record, aerr_t *err);

/* RECORD's snapshot checked before it is used: its directory still exists,
 * its manifest's SHA-256 is the recorded one and every archive matches the
 * manifest (backup_verify).  *MANIFEST gets the manifest, *DIR its path. */
int snapshot_check(const json_t *record, json_t **manifest, char **dir, aerr_t *err);

/* AEGIS_SNAPSHOT_KEEP of CFG (default 5): a whole number 1-1000, else a
 * configuration error naming the value. */
int snapshot_keep(const config *cfg, int *keep, aerr_t *err);

/* Remove every snapshot of STATE_DIR but the newest KEEP (ids sort by time),
 * and what a killed snapshot left (NAME.partial-PID: snapshots are taken
 * under the state directory's lock, so none is in progress).  *REMOVED
 * (optional) gets the ids removed. */
int snapshot_prune(const char *state_dir, int keep, json_t **removed, aerr_t *err);

/* The snapshots on disk: {"path", "count", "bytes", "items": {ID: bytes}}. */
json_t *snapshot_usage(const char *state_dir);
#endif
