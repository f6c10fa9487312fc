#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

char *spawn_which(const char *program)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		/* an empty PATH entry means the current directory */
		char *cand =
		    n ? xasprintf("%.*s/%s", (int)n, path, program) : xasprintf("./%s", program);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
		path += n;
		if (*path == ':')
			path++;
	}
	return NULL;
}

int spawn_start(char *const argv[], const char *output, pid_t *pid, aerr_t *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, output ? output : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	/* Descriptors without O_CLOEXEC (a caller's pipes, lock files) would
	 * stay open in a child that may outlive us. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);

	/* Ignored signals survive exec: give the child default handling. */
	sigset_t all, none;
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

	int rc = strchr(argv[0], '/') ? posix_spawn(pid, argv[0], &fa, &attr, argv, environ)
				      : posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return aerr_sys(err, AEGIS_EFAIL, rc, "cannot run %s", argv[0]);
	return 0;
}

bool spawn_exited(pid_t pid, int *status)
{
	int st = 0;
	pid_t r;
	do
		r = waitpid(pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	if (status)
		*status = r == pid ? st : -1;
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int spawn_stop(pid_t pid, int grace_ms)
{
	int st;
	if (spawn_exited(pid, &st))
		return st;
	kill(pid, SIGTERM);
	for (int waited = 0; waited < grace_ms; waited += 10) {
		if (spawn_exited(pid, &st))
			return st;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? st : -1;
}

int spawn_run(char *const argv[], const char *output, int *status, aerr_t *err)
{
	pid_t pid;
	if (spawn_start(argv, output, &pid, err) < 0)
		return -1;
	int st = 0;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "waiting for %s", argv[0]);
	*status = st;
	return 0;
}

const char *spawn_describe(int status, char *buf, size_t n)
{
	if (status == -1)
		snprintf(buf, n, "ended (status unknown)");
	else if (WIFEXITED(status))
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, n, "ended (status %d)", status);
	return buf;
}
