/* The schedule of a rollout: start the deployment's pods tier by tier and
 * wait until every container of every pod in a tier passes its readiness
 * probe before the next tier starts.  When the rollout begins, every pod it
 * replaces is created ahead by a small pool of threads (created without
 * starting, then its infra container started: network and ports ready),
 * critical chain first (rollout_critical_order); at a pod's turn only its app containers are
 * started, and probing begins at once.  The first tier's pods, whose turn is at once, are created
 * and started in one call.  A pod whose manifest changed in the meantime (a bootstrap hook wrote
 * values it uses) is created again at its turn.  Pods of one tier are started and probed
 * concurrently (one thread and one connection each).  The first pod that fails stops the rollout;
 * pods already up stay up, pods created ahead whose turn never came are
 * removed, never started.
 *
 * The schedule reaches Podman only through rollout_ops (rollout.c binds
 * them to the API; tests/unit/test_schedule.c to a fake), and prints
 * nothing: progress and results go through callbacks and the per-pod
 * records. */
#ifndef AEGIS_SCHEDULE_H
#define AEGIS_SCHEDULE_H

#include <stdbool.h>

#include "config/deployment.h"
#include "rollout/trace.h"

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
	 * ran before, so deploy --atomic restores it (rollout_pod_replaced). */
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
	/* NULL, or per pod (d->npods) its expected seconds from start to ready
	 * (< 0: unknown), e.g. the previous rollout's measured ones; they order
	 * the creation ahead (rollout_critical_order). */
	const double *expected_ready_s;
} rollout_opts;

/* A pod's manifest as the schedule hands it to rollout_ops: the YAML and
 * the content of the pod's Podman secret (podsecret.h; NULL: none). */
typedef struct rollout_manifest {
	const char *yaml;
	size_t len;
	const char *secret;
	size_t secret_len;
} rollout_manifest;

/* What the schedule asks of Podman.  Each thread of the schedule opens a
 * connection of its own (OPEN) and passes it as CONN; the operations on a
 * connection may run on several connections at once.  All return < 0 on
 * failure with ERR set, unless said otherwise. */
typedef struct rollout_ops {
	void *ctx;
	int (*open)(void *ctx, void **conn, aerr_t *err);
	void (*close)(void *ctx, void *conn); /* CONN may be NULL (OPEN failed) */
	/* Is pod P running, every container up, with the manifest HASH?  Then
	 * it is kept (unless rollout_opts.replace). */
	bool (*unchanged)(void *conn, const pod *p, const char *hash);
	/* Create pod P from M on NETWORK without starting its app containers,
	 * then start its infra container.  -1: no pod was created; -2: the pod
	 * exists but not its network (the pod must be removed). */
	int (*create)(void *conn, const pod *p, const rollout_manifest *m, const char *network,
		      aerr_t *err);
	/* Create pod P from M and start it, in one call (the first tier). */
	int (*play)(void *conn, const pod *p, const rollout_manifest *m, const char *network,
		    aerr_t *err);
	/* Start app container C of pod P. */
	int (*start)(void *conn, const pod *p, size_t c, aerr_t *err);
	/* One readiness sweep over the containers of P not yet READY[c], with
	 * the contract of rollout_probe_sweep (rollout.h). */
	int (*probe)(void *conn, const pod *p, bool *ready, char **last, size_t *last_c,
		     aerr_t *err);
	/* The last log lines of container C of P, for the failure report
	 * (newly allocated; says why when there are none). */
	char *(*logs)(void *conn, const pod *p, size_t c);
	/* Stop at once and remove the N pods PODS (created ahead, never
	 * started), together; the first error. */
	int (*remove)(void *ctx, const pod *const *pods, size_t n, aerr_t *err);
	/* Wait MS milliseconds between two readiness sweeps (NULL: sleep). */
	void (*sleep_ms)(void *ctx, int ms);
	/* Pods created ahead at once (0: ROLLOUT_CREATORS). */
	size_t creators;
} rollout_ops;

/* Pods created ahead at once: each creation is a few hundred ms of Podman's
 * CPU, so more than a few together on a small machine only slow each other
 * (and the probes of the first tier). */
#define ROLLOUT_CREATORS 4

/* Refuse (status 2) what could never succeed: a missing socket that a pod
 * mounts, a network probe on an unpublished port.  SELECTED as in rollout_opts. */
int rollout_check(const deployment *d, const bool *selected, aerr_t *err);

/* Roll D out through OPS; STATES (d->npods entries, caller-allocated)
 * receive each pod's record.  Returns -1 with ERR naming the first failed
 * pod; when the pods created ahead cannot all be removed after it, ERR says
 * so too. */
int rollout_schedule(const rollout_ops *ops, deployment *d, const rollout_opts *opts,
		     rollout_pod *states, aerr_t *err);

/* A pod's expected seconds from its start to ready: OPTS->expected_ready_s[I]
 * when known, else its readiness probes' longest initialDelaySeconds. */
double rollout_expected_ready_s(const deployment *d, const rollout_opts *opts, size_t i);
/* Sort ORDER (N pod indices) by the longest remaining path to the end of the
 * rollout first (its own expected time plus the slowest pod of every later
 * tier: tiers start when the tier before is ready); ties keep their order.
 * REMAINING (d->npods) receives each ordered pod's path in seconds. */
void rollout_critical_order(const deployment *d, const rollout_opts *opts, size_t *order, size_t n,
			    double *remaining);

/* Did the rollout replace what ran before of this pod (its turn came, or it
 * was created ahead, and it was not kept)?  What deploy --atomic restores. */
bool rollout_pod_replaced(const rollout_pod *st);

void rollout_pod_free(rollout_pod *st);
const char *rollout_state_name(rollout_state s);

#endif
