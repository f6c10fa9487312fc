/* Going back to a revision of the release history: the deployment it
 * recorded, rebuilt from its own templates (source/ of the revision) and
 * the values of its variables that describe the release (config.json),
 * with the current configuration's secrets (put back where the revision
 * has placeholders) and variables that describe the host (`describes:` in
 * kube/variables.yaml).  Rolling it out replaces only the pods whose
 * manifests differ from the live ones, like any deploy. */
#ifndef AEGIS_ROLLBACK_H
#define AEGIS_ROLLBACK_H

#include <jansson.h>

#include "config/deployment.h"

/* The revision.json of the revision to go back to: REV when > 0, else the
 * last successful deploy, redeploy or rollback before the latest revision
 * (REV 0) or including it (REV < 0: what was deployed last, for restoring
 * after a failed rollout that has not been recorded yet).  None: status 2. */
int rollback_target(const char *state_dir, int rev, json_t **target, aerr_t *err);

/* Load revision REV's deployment into D: its files are extracted into
 * WORKDIR (an empty 0700 directory that must outlive D, since D's templates
 * live there); secrets and host variables come from CURRENT, the current
 * configuration (its .env and the process environment). */
int rollback_load(const char *state_dir, int rev, const config *current, const char *workdir,
		  deployment *d, aerr_t *err);

/* Remove WORKDIR and everything in it. */
void rollback_cleanup(const char *workdir);

/* Pin D's images to the digests a revision recorded (RECORDED: its
 * revision.json "pods", each pod's "images" as images_record wrote them):
 * every container whose record is pinned and names the repository of its
 * image gets "repo@sha256:..." in its manifest instead of the tag, and the
 * pod a manifest-hash label of its own (so a pod running the tag is
 * replaced).  *NOTES gets one line per container: what was pinned, and
 * what keeps its tag and why (an image ID of a local-only image, nothing
 * recorded).  Pure: no Podman. */
int rollback_pin_images(deployment *d, const json_t *recorded, json_t **notes, aerr_t *err);

#endif
