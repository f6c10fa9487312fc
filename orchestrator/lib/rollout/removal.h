/* Removing pods: the teardown of a deployment (reverse dependency order),
 * `clean` (every AEGIS pod, volume, the network and the secrets) and the
 * removal of the pods a failed rollout created ahead.  Pods are stopped and
 * removed one thread and one API connection each (pool.h): Podman takes
 * seconds to remove a pod even when its containers stop at once. */
#ifndef AEGIS_REMOVAL_H
#define AEGIS_REMOVAL_H

#include <stdbool.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "rollout/trace.h"

/* Stop (graceful, TIMEOUT_S) and remove the deployment's pods, one thread
 * and one API connection each: a pod is stopped once every pod of the later
 * tiers has stopped (reverse dependency order), and removed right after its
 * own stop, without waiting for the other removals.  Absent pods are
 * skipped.  DONE (optional) is told each pod and whether it existed, in
 * reverse tier order, once all are done.  A pod that cannot be stopped
 * leaves the pods of the earlier tiers running; the first failure is
 * returned.  TR (NULL: none) records each pod's wait, stop and removal. */
int rollout_teardown(podman *pm, const deployment *d, int timeout_s, trace *tr,
		     void (*done)(void *ctx, const pod *p, bool existed), void *ctx, aerr_t *err);

/* Stop at once and remove the N pods PODS together (absent ones skipped);
 * the first error once all are done. */
int rollout_remove_pods(podman *pm, const pod *const *pods, size_t n, aerr_t *err);

/* What `clean` removes, listed before anything is removed (so the command
 * can ask first): every AEGIS pod, the AEGIS volumes, the network. */
typedef struct rollout_clean_set {
	char **pods;
	size_t npods;
	char **volumes;
	size_t nvolumes;
	char *network;
	bool network_exists;
	char **secrets; /* the pods' Podman secrets (podsecret.h) */
	size_t nsecrets;
} rollout_clean_set;

int rollout_clean_list(podman *pm, const char *network, rollout_clean_set *out, aerr_t *err);
/* Stop and remove every pod of C at once, then its volumes, then the
 * network, then the secrets; REMOVED (optional) hears of each ("pod",
 * "volume", "network", "secret"). */
int rollout_clean(podman *pm, const rollout_clean_set *c, int timeout_s,
		  void (*removed)(void *ctx, const char *kind, const char *name), void *ctx,
		  aerr_t *err);
void rollout_clean_set_free(rollout_clean_set *c);

#endif
