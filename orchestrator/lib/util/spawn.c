#include "util/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"

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

/* posix_spawn(p) ARGV with FA: default signal handling and an empty mask
 * in the child (ignored signals would survive exec).  Returns 0 or an errno. */
static int spawn_with(char *const argv[], const posix_spawn_file_actions_t *fa, pid_t *pid)
{
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t all, none;
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	int rc = strchr(argv[0], '/') ? posix_spawn(pid, argv[0], fa, &attr, argv, environ)
				      : posix_spawnp(pid, argv[0], fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	return rc;
}

int spawn_start(char *const argv[], const char *output, pid_t *pid, aerr_t *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, output ? output : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	/* Descriptors without O_CLOEXEC (a caller's pipes, lock files) would
	 * stay open in a child that may outlive us. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	int rc = spawn_with(argv, &fa, pid);
	posix_spawn_file_actions_destroy(&fa);
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

int spawn_stop(pid_t pid, int grace_ms)
{
	int st;
	if (spawn_exited(pid, &st))
		return st;
	kill(pid, SIGTERM);
	for (int waited = 0; waited < grace_ms; waited += 10) {
		if (spawn_exited(pid, &st))
			return st;
		clock_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? st : -1;
}

static int wait_for(pid_t pid, const char *what, int *status, aerr_t *err)
{
	int st = 0;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "waiting for %s", what);
	*status = st;
	return 0;
}

int spawn_run(char *const argv[], const char *output, int *status, aerr_t *err)
{
	pid_t pid;
	if (spawn_start(argv, output, &pid, err) < 0)
		return -1;
	return wait_for(pid, argv[0], status, err);
}

int spawn_run_input(char *const argv[], const void *input, size_t len, int *status, aerr_t *err)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	pid_t pid;
	int rc = spawn_with(argv, &fa, &pid);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	if (rc != 0) {
		close(fds[1]);
		return aerr_sys(err, AEGIS_EFAIL, rc, "cannot run %s", argv[0]);
	}
	/* a child that stops reading must not kill us with SIGPIPE: EPIPE instead */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	const char *p = input;
	bool short_write = false;
	while (len) {
		ssize_t w = write(fds[1], p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			short_write = true;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	close(fds[1]);
	sigaction(SIGPIPE, &old, NULL);
	if (wait_for(pid, argv[0], status, err) < 0)
		return -1;
	if (short_write && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
		return aerr_set(err, AEGIS_EFAIL, "%s did not read its input", argv[0]);
	return 0;
}

/* --- a service tied to this process ------------------------------------- */

/* In the forked children below only async-signal-safe calls: this process
 * may have other threads, whose locks the fork copied as they were. */

static void child_defaults(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void close_from(int fd)
{
	syscall(SYS_close_range, (unsigned)fd, ~0U, 0);
}

/* The service itself: a grandchild, the watchdog's child. */
static void exec_service(char *const argv[], int out, pid_t watchdog)
{
	child_defaults();
	/* SIGTERM when the watchdog ends; if it already has, stop here */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != watchdog)
		_exit(127);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	close_from(3);
	execve(argv[0], argv, environ);
	_exit(127);
}

static void remove_paths(char *const *paths)
{
	for (; paths && *paths; paths++)
		if (unlink(*paths) < 0 && errno == EISDIR)
			rmdir(*paths);
}

static __attribute__((noreturn)) void watchdog(char *const argv[], int out, int rd,
					       char *const *leave, int grace_ms)
{
	/* own process group: a terminal's Ctrl-C is for the command, which
	 * then ends and so closes the pipe */
	setpgid(0, 0);
	child_defaults();
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	/* hold nothing of ours: not the caller's stdout (a `$(...)` would wait
	 * for it), not another service's pipe */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	rd = fcntl(rd, F_DUPFD_CLOEXEC, 100);
	out = fcntl(out, F_DUPFD_CLOEXEC, 100);
	if (null < 0 || rd < 0 || out < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup2(rd, 3) < 0 || dup2(out, 4) < 0)
		_exit(127);
	close_from(5);
	pid_t self = getpid();
	pid_t service = fork();
	if (service < 0)
		_exit(127);
	if (service == 0)
		exec_service(argv, 4, self);
	close(4);
	for (;;) {
		struct pollfd pfd = {.fd = 3, .events = POLLIN};
		int n = poll(&pfd, 1, 100);
		int st;
		if (waitpid(service, &st, WNOHANG) == service) {
			/* ended on its own: the caller reads its log, then tidies up */
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		if (n > 0) {
			char c;
			if (read(3, &c, 1) <= 0)
				break;
		}
	}
	spawn_stop(service, grace_ms);
	remove_paths(leave);
	_exit(0);
}

int spawn_service_start(char *const argv[], const char *output, const char *const *leave,
			int grace_ms, spawn_service *svc, aerr_t *err)
{
	*svc = (spawn_service){.pipe = -1, .grace_ms = grace_ms};
	cleanup_free char *bin = strchr(argv[0], '/') ? xstrdup(argv[0]) : spawn_which(argv[0]);
	if (!bin)
		return aerr_sys(err, AEGIS_EFAIL, ENOENT, "cannot run %s", argv[0]);
	size_t n = 0;
	while (argv[n])
		n++;
	char **args = xcalloc(n + 1, sizeof *args);
	args[0] = bin;
	for (size_t i = 1; i < n; i++)
		args[i] = argv[i];
	size_t nl = 0;
	while (leave && leave[nl])
		nl++;
	svc->leave = xcalloc(nl + 1, sizeof *svc->leave);
	for (size_t i = 0; i < nl; i++)
		svc->leave[i] = xstrdup(leave[i]);

	int out =
	    open(output ? output : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (out < 0) {
		int e = errno;
		free(args);
		return aerr_sys(err, AEGIS_EFAIL, e, "cannot open %s", output);
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		int e = errno;
		close(out);
		free(args);
		return aerr_sys(err, AEGIS_EFAIL, e, "pipe");
	}
	pid_t pid = fork();
	if (pid == 0)
		watchdog(args, out, fds[0], svc->leave, grace_ms);
	int e = errno;
	close(out);
	close(fds[0]);
	free(args);
	if (pid < 0) {
		close(fds[1]);
		return aerr_sys(err, AEGIS_EFAIL, e, "cannot start %s", argv[0]);
	}
	svc->watchdog = pid;
	svc->pipe = fds[1];
	return 0;
}

bool spawn_service_exited(spawn_service *svc)
{
	int st;
	if (svc->watchdog <= 0 || !spawn_exited(svc->watchdog, &st))
		return false;
	svc->watchdog = 0;
	/* the watchdog's status carries the service's: see watchdog() */
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 127;
	svc->status = code >= 128 ? code - 128 : code << 8;
	return true;
}

void spawn_service_stop(spawn_service *svc)
{
	if (svc->pipe >= 0)
		close(svc->pipe);
	svc->pipe = -1;
	if (svc->watchdog > 0) {
		int st;
		while (waitpid(svc->watchdog, &st, 0) < 0 && errno == EINTR)
			;
	}
	svc->watchdog = 0;
	remove_paths(svc->leave);
	for (char **p = svc->leave; p && *p; p++)
		free(*p);
	free(svc->leave);
	svc->leave = NULL;
}

char *spawn_describe(int status)
{
	if (status == -1)
		return xstrdup("ended (status unknown)");
	if (WIFEXITED(status))
		return xasprintf("exited with status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return xasprintf("killed by signal %d", WTERMSIG(status));
	return xasprintf("ended (status %d)", status);
}

/* --- private directories --------------------------------------------------- */

static void remove_stale_dirs(const char *base, const char *prefix)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char *end;
		long pid = strtol(e->d_name + strlen(prefix), &end, 10);
		struct stat st;
		if (pid <= 0 || *end != '-' || (kill((pid_t)pid, 0) == 0 || errno != ESRCH) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		int fd =
		    openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sub = fd >= 0 ? fdopendir(fd) : NULL;
		if (!sub) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *f;
		while ((f = readdir(sub)))
			if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0)
				unlinkat(dirfd(sub), f->d_name, 0);
		closedir(sub);
		unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

int spawn_private_dir(const char *prefix, size_t longest, char **dir, aerr_t *err)
{
	*dir = NULL;
	const char *bases[] = {getenv("XDG_RUNTIME_DIR"), "/tmp"};
	cleanup_free char *name = xasprintf("%s%ld-XXXXXX", prefix, (long)getpid());
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		struct stat st;
		const char *base = bases[i];
		if (!base || !*base || stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strlen(base) + 1 + strlen(name) + longest >
		    sizeof(((struct sockaddr_un *)0)->sun_path))
			continue;
		remove_stale_dirs(base, prefix);
		*dir = xasprintf("%s/%s", base, name);
		if (mkdtemp(*dir))
			return 0;
		int e = errno;
		free(*dir);
		*dir = NULL;
		if (i + 1 == ARRAY_SIZE(bases))
			return aerr_sys(err, AEGIS_EFAIL, e,
					"cannot create a private directory in %s", base);
	}
	return aerr_set(err, AEGIS_EFAIL,
			"no directory for private sockets (%s*): "
			"$XDG_RUNTIME_DIR and /tmp are missing or their paths too long",
			prefix);
}

void spawn_log_tail(const char *path, char *buf, size_t n)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		size_t k = strcspn(line, "\r\n");
		if (k == 0)
			continue;
		k = k < n ? k : n - 1;
		memcpy(buf, line, k);
		buf[k] = '\0';
	}
	fclose(f);
}
