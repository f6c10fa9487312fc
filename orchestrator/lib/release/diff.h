/* What a deploy would change: the manifests of a deployment (secrets as
 * the history's placeholders) against the live pods or a revision of the
 * release history, per pod unchanged / changed / added / removed, with a
 * unified diff (libgit2) of each changed manifest. */
#ifndef AEGIS_DIFF_H
#define AEGIS_DIFF_H

#include <jansson.h>

#include "config/deployment.h"

/* LIVE: the pods Podman lists (podman_list_pods).  A pod is unchanged when
 * its manifest-hash label is the hash D would play it with (what deploy
 * keeps), changed otherwise; its old manifest is the one the latest
 * revision with that hash recorded (without one, the entry says so).  Live
 * AEGIS pods outside D's profile are "removed" (deploy leaves them be).
 * *OUT: {"against": "live", "profile", "changes", "pods": [{"name",
 * "pod_name", "status", "old_hash", "new_hash", "diff", "note"}]}. */
int diff_live(const char *state_dir, deployment *d, const json_t *live, json_t **out, aerr_t *err);
/* The same against revision REV (0: the latest) of the history. */
int diff_revision(const char *state_dir, deployment *d, int rev, json_t **out, aerr_t *err);

#endif
