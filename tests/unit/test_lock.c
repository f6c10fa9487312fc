#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/release/lock.h"
#include "lib/release/state.h"
#include "lib/util/fsutil.h"

extern char **environ;

struct waits {
	int calls;
	char holder[256];
};

static void on_wait(void *ctx, const char *path, const char *holder)
{
	struct waits *w = ctx;
	(void)path;
	w->calls++;
	snprintf(w->holder, sizeof w->holder, "%s", holder);
}

TEST(lock_names_its_holder_and_is_close_on_exec)
{
	char *dir = harness_tmpdir();
	state_lock l;
	aerr_t err = {0};
	CHECK(lock_acquire(&l, dir, "deploy", 0, NULL, NULL, &err) == 0);
	CHECK((fcntl(l.fd, F_GETFD) & FD_CLOEXEC) != 0);
	char *text = NULL;
	size_t len = 0;
	CHECK(fs_read_file(l.path, &text, &len, &err) == 0);
	char want[64];
	snprintf(want, sizeof want, "deploy (PID %ld) since 20", (long)getpid());
	CHECK_CONTAINS(text, want);
	struct stat st;
	CHECK(stat(l.path, &st) == 0 && (st.st_mode & 0777) == 0600);
	free(text);
	lock_release(&l);
	free(dir);
}

TEST(lock_busy_waits_then_gives_up_naming_the_holder)
{
	char *dir = harness_tmpdir();
	state_lock a, b;
	aerr_t err = {0};
	CHECK(lock_acquire(&a, dir, "teardown", 0, NULL, NULL, &err) == 0);
	/* flock: a second open file description conflicts even in one process */
	struct waits w = {0};
	CHECK(lock_acquire(&b, dir, "deploy", 1, on_wait, &w, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK(w.calls == 1);
	char want[64];
	snprintf(want, sizeof want, "held by teardown (PID %ld) since ", (long)getpid());
	CHECK_CONTAINS(err.msg, want);
	CHECK_CONTAINS(err.msg, "gave up after 1 s");
	CHECK_CONTAINS(w.holder, "teardown (PID");
	CHECK(b.fd == -1);
	lock_release(&a);
	/* released: free at once, and the new holder's name replaces the old */
	CHECK(lock_acquire(&b, dir, "clean", 0, on_wait, &w, &err) == 0);
	CHECK(w.calls == 1);
	char *text = NULL;
	size_t len = 0;
	CHECK(fs_read_file(b.path, &text, &len, &err) == 0);
	CHECK(strncmp(text, "clean (PID", 10) == 0 && !strstr(text, "teardown"));
	free(text);
	lock_release(&b);
	free(dir);
}

/* A child started while the lock is held (like a private Podman service)
 * must not keep it once its parent lets go. */
TEST(lock_not_inherited_by_children)
{
	char *dir = harness_tmpdir();
	state_lock a, b;
	aerr_t err = {0};
	CHECK(lock_acquire(&a, dir, "deploy", 0, NULL, NULL, &err) == 0);
	pid_t child;
	char *argv[] = {"sleep", "5", NULL};
	CHECK(posix_spawnp(&child, "sleep", NULL, NULL, argv, environ) == 0);
	/* the holder dies (no explicit unlock): only its descriptor goes away */
	close(a.fd);
	a.fd = -1;
	lock_release(&a);
	int rc = lock_acquire(&b, dir, "teardown", 0, NULL, NULL, &err);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(rc == 0);
	lock_release(&b);
	free(dir);
}

TEST(state_dir_is_created_private)
{
	char *dir = harness_tmpdir();
	char *state = fs_join(dir, "deep/state");
	char *line = NULL;
	if (asprintf(&line, "AEGIS_STATE_DIR=%s\n", state) < 0)
		return;
	char *env = harness_write(dir, ".env", line);
	config cfg;
	aerr_t err = {0};
	if (config_load(&cfg, harness_root(), env, &err) < 0) {
		harness_failf(__FILE__, __LINE__, "config_load: %s", err.msg);
		return;
	}
	char *got = NULL;
	int rc = state_dir(&cfg, &got, &err);
	struct stat st;
	CHECK(rc == 0);
	CHECK_STR(got, state);
	CHECK(lstat(state, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	free(got);
	config_free(&cfg);
	/* a symlink in its place is refused, naming the variable */
	char *target = fs_join(dir, "elsewhere");
	char *link = fs_join(dir, "link");
	CHECK(mkdir(target, 0700) == 0 && symlink(target, link) == 0);
	free(line);
	if (asprintf(&line, "AEGIS_STATE_DIR=%s\n", link) < 0)
		return;
	free(env);
	env = harness_write(dir, ".env", line);
	CHECK(config_load(&cfg, harness_root(), env, &err) == 0);
	got = NULL;
	rc = state_dir(&cfg, &got, &err);
	config_free(&cfg);
	CHECK(rc < 0 && err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "AEGIS_STATE_DIR=");
	CHECK_CONTAINS(err.msg, "symbolic link");
	free(target);
	free(link);
	free(line);
	free(env);
	free(state);
	free(dir);
}
