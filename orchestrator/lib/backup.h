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

#include "deployment.h"
#include "error.h"
#include "podman.h"

#define BACKUP_MANIFEST "manifest.json"

/* Progress lines ("database: aegis-postgres-data 41.2 MiB in 0.8 s"). */
typedef void (*backup_note_fn)(void *ctx, const char *line);

/* Back up the volumes of pods PODS (NPODS logical names; 0: every pod of D
 * with volumes) into directory OUT, which must not exist.  REVISION goes
 * into the manifest.  *MANIFEST (optional) gets the manifest written. */
int backup_create(podman *pm, const deployment *d, char *const *pods, size_t npods, const char *out,
		  int revision, backup_note_fn note, void *ctx, json_t **manifest, aerr_t *err);

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
#endif
