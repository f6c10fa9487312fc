/* spawn.c: programs run with an argument vector; a service that never
 * outlives its owner, even killed (no Podman needed: `sh` stands in). */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util/clock.h"
#include "lib/util/spawn.h"

TEST(spawn_run_input_feeds_stdin)
{
	char *argv[] = {"sh", "-c", "read x; test \"$x\" = 's3cret token'", NULL};
	aerr_t err = {0};
	int st = -1;
	CHECK(spawn_run_input(argv, "s3cret token\n", 13, &st, &err) == 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *missing[] = {"aegis-no-such-program", NULL};
	CHECK(spawn_run_input(missing, "x", 1, &st, &err) < 0);
	CHECK_CONTAINS(err.msg, "cannot run aegis-no-such-program");
}

/* The service's PID, once it has written it to PIDFILE (0: not within 5 s). */
static pid_t service_pid(const char *pidfile)
{
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(pidfile, "r");
		long pid = 0;
		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0)
			return (pid_t)pid;
		clock_sleep_ms(10);
	}
	return 0;
}

/* Within 5 s: PID gone and DIR removed? */
static bool gone(pid_t pid, const char *dir)
{
	struct stat st;
	for (int i = 0; i < 500; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH && stat(dir, &st) < 0)
			return true;
		clock_sleep_ms(10);
	}
	return false;
}

struct svc_files {
	char *dir, *pidfile, *log, *script;
};

static void svc_files(struct svc_files *f)
{
	char *base = harness_tmpdir();
	f->dir = xasprintf("%s/svc", base);
	free(base);
	mkdir(f->dir, 0700);
	f->pidfile = xasprintf("%s/pid", f->dir);
	f->log = xasprintf("%s/log", f->dir);
	f->script = xasprintf("echo $$ > %s; exec sleep 60", f->pidfile);
}

static void svc_files_free(struct svc_files *f)
{
	free(f->dir);
	free(f->pidfile);
	free(f->log);
	free(f->script);
}

TEST(spawn_service_stop_removes_everything)
{
	struct svc_files f;
	svc_files(&f);
	char *argv[] = {"sh", "-c", f.script, NULL};
	const char *leave[] = {f.pidfile, f.log, f.dir, NULL};
	spawn_service svc = SPAWN_SERVICE_INIT;
	aerr_t err = {0};
	bool started = spawn_service_start(argv, f.log, leave, 2000, &svc, &err) == 0;
	pid_t pid = started ? service_pid(f.pidfile) : 0;
	CHECK(!started || !spawn_service_exited(&svc));
	spawn_service_stop(&svc);
	bool ok = started && pid > 0 && gone(pid, f.dir);
	svc_files_free(&f);
	CHECK(ok);
}

TEST(spawn_service_dies_with_its_killed_owner)
{
	struct svc_files f;
	svc_files(&f);
	char *argv[] = {"sh", "-c", f.script, NULL};
	const char *leave[] = {f.pidfile, f.log, f.dir, NULL};
	/* the owner: a child of this test that starts the service and is then
	 * killed with SIGKILL, so nothing of its own can tidy up */
	pid_t owner = fork();
	if (owner == 0) {
		spawn_service svc = SPAWN_SERVICE_INIT;
		aerr_t err = {0};
		if (spawn_service_start(argv, f.log, leave, 2000, &svc, &err) < 0)
			_exit(1);
		service_pid(f.pidfile);
		raise(SIGKILL);
		_exit(2);
	}
	pid_t pid = service_pid(f.pidfile);
	int st;
	waitpid(owner, &st, 0);
	bool killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	bool ok = pid > 0 && gone(pid, f.dir);
	svc_files_free(&f);
	CHECK(killed);
	CHECK(ok);
}

TEST(spawn_service_that_ends_is_seen)
{
	struct svc_files f;
	svc_files(&f);
	char *argv[] = {"sh", "-c", "echo failing; exit 3", NULL};
	const char *leave[] = {f.pidfile, f.log, f.dir, NULL};
	spawn_service svc = SPAWN_SERVICE_INIT;
	aerr_t err = {0};
	CHECK(spawn_service_start(argv, f.log, leave, 2000, &svc, &err) == 0);
	bool ended = false;
	for (int i = 0; i < 500 && !ended; i++) {
		ended = spawn_service_exited(&svc);
		clock_sleep_ms(10);
	}
	/* its log is still there to be read */
	struct stat sb;
	bool log_kept = stat(f.log, &sb) == 0 && sb.st_size > 0;
	int status = svc.status;
	spawn_service_stop(&svc);
	bool removed = stat(f.dir, &sb) < 0;
	svc_files_free(&f);
	CHECK(ended);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	CHECK(log_kept);
	CHECK(removed);
}
