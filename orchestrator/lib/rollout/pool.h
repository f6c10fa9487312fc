/* The threads of the rollout, its image pulls and its removals: one thread
 * per job (the pods of a tier, the app containers of a pod, the pods of a
 * teardown), or a few workers taking jobs from a queue of their own (pods
 * created ahead, images checked).  Every thread opens its own Podman API
 * connection: one connection serves one request at a time. */
#ifndef AEGIS_POOL_H
#define AEGIS_POOL_H

#include <pthread.h>
#include <stddef.h>

#define POOL_MAX_WORKERS 8

/* Workers started by pool_start, waited for by pool_join. */
typedef struct pool {
	pthread_t threads[POOL_MAX_WORKERS];
	size_t n;
} pool;

/* Start up to MAX (at most POOL_MAX_WORKERS) threads running FN(ARG).
 * Returns how many started: 0 when none could (the caller decides what
 * then becomes of the work). */
size_t pool_start(pool *p, size_t max, void *(*fn)(void *), void *arg);
/* Wait for every thread P started. */
void pool_join(pool *p);

/* JOB(ARG, k) for k = 0 .. N-1, each on a thread of its own, and wait for
 * them all.  Job 0 runs on the calling thread once the others have started
 * (one thread fewer); a job whose thread cannot be started runs there too,
 * after it, so every job runs.  Jobs that wait for each other must
 * therefore only wait for jobs with a lower index. */
void pool_each(size_t n, void (*job)(void *arg, size_t k), void *arg);

#endif
