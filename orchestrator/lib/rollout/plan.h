/* The deployment plan: pods grouped into tiers by their dependencies.  Pods in
 * one tier do not depend on each other; tier N+1 starts when tier N is ready.
 * A dependency on a pod outside the profile orders nothing and is reported as
 * external. */
#ifndef AEGIS_PLAN_H
#define AEGIS_PLAN_H

#include <stddef.h>

#include "podman/pod.h"

typedef struct plan_tier {
	size_t *pods; /* indexes into the pod array given to plan_build */
	size_t n;
} plan_tier;

typedef struct plan {
	plan_tier *tiers;
	size_t ntiers;
	size_t *tier_of;  /* tier index of each pod */
	char ***external; /* per pod: dependencies outside the set */
	size_t *nexternal;
	size_t npods;
} plan;

/* A cycle is an error naming it ("core -> iam -> core"). Tiers list pods in
 * the order given. */
int plan_build(const pod *pods, size_t npods, plan *out, aerr_t *err);
void plan_free(plan *p);

#endif
