#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_file(const char *path, char **out, size_t *len, aerr_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return aerr_sys(err, AEGIS_ECONFIG, errno, "cannot open %s", path);
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return aerr_sys(err, AEGIS_EFAIL, errno, "cannot read %s", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

bool fs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

char *fs_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

char *fs_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	if (la && a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

static int mkdir_parents(const char *dir, aerr_t *err)
{
	cleanup_free char *parent = fs_dirname(dir);
	struct stat st;
	if (strcmp(parent, dir) == 0 || stat(parent, &st) == 0)
		return 0;
	if (mkdir_parents(parent, err) < 0)
		return -1;
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot create directory %s", parent);
	return 0;
}

int fs_mkdir_private(const char *dir, mode_t mode, aerr_t *err)
{
	struct stat st;
	if (lstat(dir, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return aerr_set(err, AEGIS_EFAIL,
					"refusing to use %s: it is a symbolic link", dir);
		if (!S_ISDIR(st.st_mode))
			return aerr_set(err, AEGIS_EFAIL, "%s exists and is not a directory", dir);
		if ((st.st_mode & 07777) != mode && chmod(dir, mode) < 0)
			return aerr_sys(err, AEGIS_EFAIL, errno, "cannot chmod %s", dir);
		return 0;
	}
	if (mkdir_parents(dir, err) < 0)
		return -1;
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot create directory %s", dir);
	/* mkdir is subject to the umask; set the exact mode */
	if (chmod(dir, mode) < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot chmod %s", dir);
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, aerr_t *err)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return aerr_set(err, AEGIS_EFAIL, "refusing to write %s: it is a symbolic link",
				path);
	cleanup_free char *dir = fs_dirname(path);
	cleanup_free char *tmp = NULL;
	int fd = -1;
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		free(tmp);
		tmp = xasprintf("%s.tmp.%ld.%d", path, (long)getpid(), attempt);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			return aerr_sys(err, AEGIS_EFAIL, errno, "cannot create %s", tmp);
	}
	if (fd < 0)
		return aerr_set(err, AEGIS_EFAIL, "cannot create a temporary file beside %s", path);
	/* open() applies the umask; the mode must be exact (0644 public keys) */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return aerr_sys(err, AEGIS_EFAIL, e, "cannot write %s", tmp);
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return aerr_sys(err, AEGIS_EFAIL, e, "cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return aerr_sys(err, AEGIS_EFAIL, e, "cannot replace %s", path);
	}
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_dir(const char *dir, char *(*accept)(const char *dir, const char *name), char ***names,
		size_t *n, aerr_t *err)
{
	DIR *d = opendir(dir);
	*names = NULL;
	*n = 0;
	if (!d)
		return aerr_sys(err, AEGIS_ECONFIG, errno, "cannot read %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *name = accept(dir, e->d_name);
		if (!name)
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof **names);
		(*names)[(*n)++] = name;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_str);
	return 0;
}
