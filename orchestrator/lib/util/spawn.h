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

#include "util/error.h"

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

/* Run ARGV (NULL-terminated) to completion with INPUT (LEN bytes) on its
 * standard input through a pipe (a token for `podman login
 * --password-stdin`: never in argv); stdout and stderr are ours.  ARGV[0]
 * not found is an error with errno ENOENT's text; *STATUS gets waitpid's
 * status. */
int spawn_run_input(char *const argv[], const void *input, size_t len, int *status, aerr_t *err);

/* A long-lived child that must not outlive this process (a private `podman
 * system service`), however this process ends, SIGKILL included.  It runs
 * under a watchdog, a forked copy of this process that does nothing but wait
 * for a pipe whose only write end this process holds: when that end closes
 * (spawn_service_stop, or the kernel closing it as this process dies), the
 * watchdog stops the service (SIGTERM, SIGKILL after the grace period) and
 * removes the LEAVE paths (files, then their directory).  The service also
 * has a parent-death signal (SIGTERM when the watchdog dies): set in the
 * single-threaded watchdog's child, since PR_SET_PDEATHSIG fires when the
 * *thread* that forked ends, which in this multi-threaded process could be a
 * worker long before the process.  Both run in their own process group, so a
 * terminal's Ctrl-C reaches only this process; the service ignores nothing
 * and neither holds our descriptors. */
typedef struct spawn_service {
	pid_t watchdog; /* 0: not running */
	int pipe;	/* the write end, -1 when closed */
	int grace_ms;
	char **leave; /* NULL-terminated copy */
	int status;   /* how the service ended on its own: waitpid's status */
} spawn_service;
#define SPAWN_SERVICE_INIT                                                                         \
	{                                                                                          \
		.pipe = -1                                                                         \
	}

/* ARGV[0] looked up in $PATH unless it holds a '/'; OUTPUT as spawn_start. */
int spawn_service_start(char *const argv[], const char *output, const char *const *leave,
			int grace_ms, spawn_service *svc, aerr_t *err);
/* Has the service ended on its own (then svc->status says how)? */
bool spawn_service_exited(spawn_service *svc);
/* Stop it (if running), wait for the watchdog, remove the LEAVE paths.  An
 * SVC never started (SPAWN_SERVICE_INIT) or already stopped is fine. */
void spawn_service_stop(spawn_service *svc);

/* "exited with status 3", "killed by signal 9" for a waitpid status
 * (newly allocated). */
char *spawn_describe(int status);

/* A private directory PREFIX<pid>-XXXXXX (0700, newly allocated in *DIR)
 * under $XDG_RUNTIME_DIR, else /tmp, in which a file name of LONGEST more
 * characters still fits in a unix socket address.  First the directories of
 * that prefix left by dead processes of ours (killed before their watchdog
 * could tidy up) are removed with the files in them. */
int spawn_private_dir(const char *prefix, size_t longest, char **dir, aerr_t *err);

/* The last non-empty line of the log file PATH (a service's, for error
 * messages) into BUF of N bytes, cut to fit; empty when there is none. */
void spawn_log_tail(const char *path, char *buf, size_t n);

#endif
