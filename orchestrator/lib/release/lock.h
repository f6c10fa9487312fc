/* The exclusive lock of the mutating commands (deploy, redeploy, teardown,
 * clean, bootstrap-*): an flock(2) on the file "lock" in the state
 * directory, so two commands never change the same pods at once.  The kernel
 * releases it when the holder exits, however it exits (SIGKILL included), so
 * it can never go stale; the descriptor is close-on-exec, so no child
 * (a private Podman service, an exec'd helper) keeps it alive.  After taking
 * it the holder writes who it is into the file, which is what a waiting
 * command shows. */
#ifndef AEGIS_LOCK_H
#define AEGIS_LOCK_H

#include "util/error.h"

typedef struct state_lock {
	int fd;	    /* -1 when not held */
	char *path; /* DIR/lock */
} state_lock;

/* Called when the lock is busy and TIMEOUT_S > 0: once when waiting begins
 * and again whenever the holder changes.  HOLDER: "deploy (PID 1234) since 2026-01-01T10:00:00Z".
 */
typedef void (*lock_wait_fn)(void *ctx, const char *path, const char *holder);

/* Take the lock in DIR for COMMAND, waiting up to TIMEOUT_S seconds (0: do
 * not wait).  On timeout: -1, status 1, the error naming the holder. */
int lock_acquire(state_lock *l, const char *dir, const char *command, int timeout_s,
		 lock_wait_fn waiting, void *ctx, aerr_t *err);
/* Release (also done by the kernel at exit). */
void lock_release(state_lock *l);

#endif
