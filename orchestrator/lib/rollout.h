/* The rollout: start the deployment's pods tier by tier and wait until every
 * container of every pod in a tier passes its readiness probe before the next
 * tier starts.  When the rollout begins, every pod it replaces is created
 * ahead by a small pool of threads (kube play with start=false, then its
 * infra container started: network and ports ready), in tier order; at a
 * pod's turn only its app containers are started, and probing begins at
 * once.  The first tier's pods, whose turn is at once, are played and
 * started in one call.  A pod whose manifest changed in the meantime (a bootstrap hook wrote
 * values it uses) is created again at its turn.  Pods of one tier are started
 * and probed concurrently (one thread and one API connection each).  The
 * first pod that fails stops the rollout; pods already up stay up, pods
 * created ahead whose turn never came are removed, never started.  The
 * library prints nothing: progress and results go through callbacks and the
 * per-pod records. */
#ifndef AEGIS_ROLLOUT_H
#define AEGIS_ROLLOUT_H

#include <stdbool.h>

#include "deployment.h"
#include "podman.h"
#include "trace.h"

typedef enum {
	ROLL_WAITING = 0, /* its tier has not started */
	ROLL_CREATING,	  /* its turn: being created (if not yet) and started */
	ROLL_STARTING,	  /* started; waiting for readiness */
	ROLL_READY,
	ROLL_FAILED,
	ROLL_CANCELLED, /* another pod failed first */
	ROLL_SKIPPED,	/* not selected (redeploy of another pod) */
} rollout_state;

typedef struct rollout_pod {
	rollout_state state;
	/* Seconds since the rollout began when its turn came (its dependencies
	 * ready; -1: never).  A pod created ahead and removed unstarted (the
	 * rollout failed first) has its creation time here: it replaced what
	 * ran before, so deploy --atomic restores it. */
	double start;
	double ready; /* seconds since the rollout began, when ready (-1: never) */
	double start_epoch, ready_epoch; /* the same as wall-clock times */
	char *container;		 /* on failure: the container that failed */
	char *probe;			 /* on failure: its probe ("httpGet :8088/health") */
	char *error;			 /* on failure: the last error */
	char *logs;			 /* on failure: the container's last log lines */
	bool kept;			 /* already running with the same manifest: not replaced */
} rollout_pod;

typedef struct rollout_opts {
	const char *network;  /* pods are played on this network */
	int timeout_s;	      /* per pod, from the start of its play */
	const bool *selected; /* NULL: every pod; else only pods with selected[i] */
	/* Replace every pod.  Otherwise a pod already running with every container
	 * up and the same manifest (label aegis.io/manifest-hash) is kept and
	 * only probed. */
	bool replace;
	/* Called (from any thread, serialised) whenever a pod changes state. */
	void (*progress)(void *ctx, const deployment *d, size_t pod, const rollout_pod *st);
	/* Hook point: called in the pod's thread once it is ready; a failure
	 * fails the pod.  Hooks of one tier may run concurrently. */
	int (*on_ready)(void *ctx, deployment *d, size_t pod, aerr_t *err);
	void *ctx;
	trace *trace; /* NULL, or where each pod's phases are recorded */
} rollout_opts;

/* Refuse (status 2) what could never succeed: a missing socket that a pod
 * mounts, a network probe on an unpublished port.  SELECTED as in rollout_opts. */
int rollout_check(const deployment *d, const bool *selected, aerr_t *err);
/* Ensure the network, the pods' named volumes and their images exist
 * (pulling missing images; PULL_PROGRESS gets the pull's status lines). */
int rollout_prepare(podman *pm, const deployment *d, const char *network,
		    void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err);

/* Roll out; STATES (d->npods entries, caller-allocated) receive each pod's
 * record.  Returns -1 with ERR naming the first failed pod. */
int rollout_run(podman *pm, deployment *d, const rollout_opts *opts, rollout_pod *states,
		aerr_t *err);
void rollout_pod_free(rollout_pod *st);
const char *rollout_state_name(rollout_state s);

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

/* Is the container running (and not crash-looping)?  1 running; 0 not yet
 * (or absent, or Podman did not answer), ERR saying why; -1 exited or
 * restarting, ERR saying which. */
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

int rollout_container_running(podman *pm, const char *name, aerr_t *err);

/* One sweep over the containers of P not yet READY[c]: each running one's
 * readiness probe runs once, and passes set READY[c].  Returns 1 when every
 * container is ready; 0 when some are not, *LAST (replaced, newly
 * allocated) saying why for container *LAST_C; < 0 when container *LAST_C
 * cannot run (ERR).  The readiness gate of deploy and of wait. */
int rollout_probe_sweep(podman *pm, const pod *p, bool *ready, char **last, size_t *last_c,
			aerr_t *err);

/* The Podman container name of container C of pod P ("<pod_name>-<name>"). */
char *rollout_container_name(const pod *p, const container *c);

#endif
