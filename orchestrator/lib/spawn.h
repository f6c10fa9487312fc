/* Running programs without a shell: posix_spawn with an argument vector.
 * The child gets stdin from /dev/null, stdout and stderr to a file (or
 * /dev/null), no other inherited descriptors and default signal handling,
 * so a long-lived child (a private `podman system service`) holds nothing
 * of ours open. */
#ifndef AEGIS_SPAWN_H
#define AEGIS_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Full path of PROGRAM found in $PATH (newly allocated), or NULL. */
char *spawn_which(const char *program);

/* Start ARGV (NULL-terminated; ARGV[0] looked up in $PATH unless it holds a
 * '/').  OUTPUT: file that gets stdout and stderr (created 0600, appended),
 * NULL for /dev/null. */
int spawn_start(char *const argv[], const char *output, pid_t *pid, aerr_t *err);

/* Has PID exited?  Reaps it without blocking; *STATUS gets waitpid's status. */
bool spawn_exited(pid_t pid, int *status);

/* SIGTERM, then SIGKILL if PID has not exited after GRACE_MS; reaps it.
 * Returns waitpid's status, or -1 when PID was not our child. */
int spawn_stop(pid_t pid, int grace_ms);

/* Run ARGV to completion; *STATUS gets waitpid's status. */
int spawn_run(char *const argv[], const char *output, int *status, aerr_t *err);

/* "exited with status 3", "killed by signal 9" for a waitpid status. */
const char *spawn_describe(int status, char *buf, size_t n);

#endif
