#include "release/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fsutil.h"

#define LOCK_POLL_MS 100

/* Who holds the lock, as the holder wrote it (newly allocated; "an unknown
 * command" while the holder has not written it yet). */
static char *read_holder(int fd)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return xstrdup("an unknown command (it has not said who it is yet)");
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

static int write_holder(int fd, const char *command)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char since[32];
	strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cleanup_free char *line =
	    xasprintf("%s (PID %ld) since %s\n", command, (long)getpid(), since);
	size_t len = strlen(line);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, len, 0) != (ssize_t)len)
		return -1;
	return 0;
}

int lock_acquire(state_lock *l, const char *dir, const char *command, int timeout_s,
		 lock_wait_fn waiting, void *ctx, aerr_t *err)
{
	l->fd = -1;
	l->path = fs_join(dir, "lock");
	/* O_CLOEXEC: a child that outlived us would otherwise hold the lock */
	int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		aerr_sys(err, AEGIS_EFAIL, errno, "cannot open the lock file %s", l->path);
		lock_release(l);
		return -1;
	}
	double deadline = clock_mono_s() + timeout_s;
	char *holder = NULL;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			aerr_sys(err, AEGIS_EFAIL, errno, "cannot lock %s", l->path);
			goto fail;
		}
		char *now = read_holder(fd);
		if (!holder || strcmp(now, holder) != 0) {
			free(holder);
			holder = now;
			if (waiting && timeout_s > 0)
				waiting(ctx, l->path, holder);
		} else {
			free(now);
		}
		if (clock_mono_s() >= deadline) {
			aerr_set(err, AEGIS_EFAIL,
				 "%s is held by %s; gave up after %d s (--lock-timeout)", l->path,
				 holder, timeout_s);
			goto fail;
		}
		clock_sleep_ms(LOCK_POLL_MS);
	}
	free(holder);
	l->fd = fd;
	if (write_holder(fd, command) < 0) {
		aerr_sys(err, AEGIS_EFAIL, errno, "cannot write to the lock file %s", l->path);
		lock_release(l);
		return -1;
	}
	return 0;
fail:
	free(holder);
	close(fd);
	lock_release(l);
	return -1;
}

void lock_release(state_lock *l)
{
	if (l->fd >= 0) {
		flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}
