/* The pure front half of the pipeline, in one call:
 *   .env + profile -> config -> pod templates -> rendered manifests -> plan
 * Every command that works on a profile starts here. */
#ifndef AEGIS_DEPLOYMENT_H
#define AEGIS_DEPLOYMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "config/profile.h"
#include "podman/pod.h"
#include "render/render.h"
#include "rollout/plan.h"

typedef struct deployment {
	config cfg;
	profile prof;
	pod *pods;	     /* in profile order */
	rendered *manifests; /* parallel to pods */
	size_t npods;
	plan plan;
} deployment;

enum {
	DEPLOYMENT_LENIENT = 1 << 0, /* unset variables stay as ${VAR} (plan, status) */
};

int deployment_load(deployment *d, const char *root, const char *env_path, const char *profile_name,
		    unsigned flags, aerr_t *err);
/* The same for the pods actually deployed: a profile named "deployed" of
 * the pods in LIVE (Podman's pod list, GET /libpod/pods/json) that carry
 * the AEGIS labels (podman_list_pods lists only those), in catalog order.  Pods whose template no
 * longer exists are left out (they are reported, not managed). */
int deployment_load_deployed(deployment *d, const char *root, const char *env_path, json_t *live,
			     unsigned flags, aerr_t *err);
/* The AEGIS pod names (label aegis.io/pod) in LIVE, sorted (free with strv_free). */
void deployment_deployed_pods(json_t *live, char ***names, size_t *n);

/* The rest of the pipeline once D's configuration and profile are loaded
 * (templates under ROOT): the pods rendered, read and planned.  On failure
 * D is freed.  (rollback.c loads a revision's configuration its own way.) */
int deployment_load_pods(deployment *d, const char *root, unsigned flags, aerr_t *err);

/* Does PROF hold the TLS edge?  Then the configuration takes its defaults
 * for the edge (config_use_edge): deployment_load_pods does that, and so
 * must anything that loads the configuration again for the same profile. */
bool deployment_profile_has_edge(const profile *prof);

/* What Podman's play gets as the network of pod I: NETWORK, with the pod's
 * network aliases as "NETWORK:alias=A,alias=B" (newly allocated). */
char *deployment_pod_network(const deployment *d, size_t i, const char *network);

/* Index of the pod named NAME, or -1. */
int deployment_pod_index(const deployment *d, const char *name);
/* Same, but a missing pod is a configuration error naming the profile and
 * listing its pods. */
int deployment_find_pod(const deployment *d, const char *name, aerr_t *err);
/* Write the manifests of D (only pod ONLY when >= 0) to DIR/<pod>.yaml,
 * atomically: 0600 when it holds a secret, and DIR then made 0700.  *FILES
 * lists the files written, in order: [{"pod", "path", "secrets"}, ...]. */
int deployment_write_manifests(const deployment *d, int only, const char *dir, json_t **files,
			       aerr_t *err);
/* The manifests of D (only pod ONLY when >= 0) to OUT as one YAML stream. */
void deployment_print(const deployment *d, int only, FILE *out);
/* The plan as `plan --json` prints it: {"profile", "tiers": [[pod names]],
 * "pods": [{name, pod_name, tier, depends, external, checks}]}. */
json_t *deployment_plan_json(const deployment *d);
void deployment_free(deployment *d);

#endif
