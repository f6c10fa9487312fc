/* Before a rollout: the network, the pods' named volumes and their images,
 * each image checked (and pulled when missing) by a small pool of threads,
 * one API connection each. */
#ifndef AEGIS_IMAGES_H
#define AEGIS_IMAGES_H

#include "config/deployment.h"
#include "podman/podman.h"

/* Ensure the network, the pods' named volumes and their images exist
 * (pulling missing images; PULL_PROGRESS gets the pull's status lines). */
int rollout_prepare(podman *pm, const deployment *d, const char *network,
		    void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err);

/* --- what ran ---------------------------------------------------------- */

/* The repository of image reference REF: REF without its tag or digest
 * ("127.0.0.1:5000/a/b:1.0" and "127.0.0.1:5000/a/b@sha256:..." ->
 * "127.0.0.1:5000/a/b"; a port is not a tag).  Newly allocated. */
char *images_repository(const char *ref);

/* What a revision records of a container that ran REF, from its image's
 * inspect JSON IMAGE (podman_image_inspect):
 *   {"image": REF, "image_id": "sha256:<Id>", "digest": D, "pinned": B}
 * D is IMAGE's RepoDigests entry for REF's repository ("repo@sha256:..."),
 * and B true, when there is one outside "localhost/" (a registry can serve
 * it again), or REF itself when it is such a digested reference (what
 * the container was created from); otherwise D is the image ID and B
 * false: a local-only image
 * (built or loaded here) cannot be pinned by digest.  Pure. */
json_t *images_record(const char *ref, const json_t *image);

/* What runs now in D's pods, read from Podman (container inspect ImageName
 * and Image, then image inspect):
 *   {"<pod>": {"<container>": images_record}}
 * Pods and containers that do not exist are left out.  *OUT is new. */
int images_running(podman *pm, const deployment *d, json_t **out, aerr_t *err);

/* "repo@sha256:0123456789ab" / "sha256:0123456789ab": DIGEST shortened to
 * 12 hex digits for a table (newly allocated). */
char *images_short_digest(const char *digest);

#endif
