#include "host/setupuser.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/subid.h"
#include "render/systemd.h"
#include "util/fsutil.h"
#include "util/spawn.h"
#include "util/strbuf.h"

void setupuser_opts_default(setupuser_opts *o)
{
	*o = (setupuser_opts){
	    .user = SETUPUSER_DEFAULT_USER,
	    .subuid = "/etc/subuid",
	    .subgid = "/etc/subgid",
	    .systemd_dir = "/run/systemd/system",
	    .linger_dir = "/var/lib/systemd/linger",
	    .port_start = -1,
	    .port_start_proc = "/proc/sys/net/ipv4/ip_unprivileged_port_start",
	    .sysctl_file = SETUPUSER_SYSCTL_FILE,
	};
}

void setupuser_note(setupuser_state *st, const char *fmt, ...)
{
	strbuf b = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&b, fmt, ap);
	va_end(ap);
	st->lines = xrealloc(st->lines, (st->nlines + 1) * sizeof *st->lines);
	st->lines[st->nlines++] = sb_take(&b);
}

void setupuser_state_free(setupuser_state *st)
{
	for (size_t i = 0; i < st->nlines; i++)
		free(st->lines[i]);
	free(st->lines);
	free(st->home);
	free(st->config_dir);
	free(st->env_path);
	*st = (setupuser_state){0};
}

static int run(char *const argv[], aerr_t *err)
{
	int status = 0;
	if (spawn_run(argv, NULL, &status, err) < 0)
		return aerr_wrap(err, "cannot run %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cleanup_free char *why = spawn_describe(status);
		return aerr_set(err, AEGIS_EFAIL, "%s %s %s", argv[0], argv[1], why);
	}
	return 0;
}

/* A name useradd accepts and that is safe in every file we write it to. */
static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 32 || *s == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static void set_paths(setupuser_state *st, const char *home)
{
	free(st->home);
	free(st->config_dir);
	free(st->env_path);
	st->home = xstrdup(home);
	st->config_dir = fs_join(home, SETUPUSER_CONFIG_SUBDIR);
	st->env_path = fs_join(st->config_dir, ".env");
}

int setupuser_user(const setupuser_opts *o, setupuser_state *st, aerr_t *err)
{
	if (!valid_name(o->user))
		return aerr_set(err, AEGIS_ECONFIG,
				"invalid user name '%s' (lower-case letters, digits, _ and -)",
				o->user);
	if (o->home && o->home[0] != '/')
		return aerr_set(err, AEGIS_ECONFIG, "--home needs an absolute path, not '%s'",
				o->home);
	struct passwd *pw = getpwnam(o->user);
	if (pw) {
		st->uid = pw->pw_uid;
		st->gid = pw->pw_gid;
		set_paths(st, pw->pw_dir);
		if (o->home && strcmp(o->home, pw->pw_dir) != 0)
			return aerr_set(err, AEGIS_ECONFIG,
					"user %s exists with home %s, not %s (it is not moved)",
					o->user, pw->pw_dir, o->home);
		bool nologin = pw->pw_shell && strstr(pw->pw_shell, "nologin");
		setupuser_note(st, "user %s exists (uid %lu, home %s, shell %s)%s", o->user,
			       (unsigned long)pw->pw_uid, pw->pw_dir, pw->pw_shell,
			       nologin ? "" : "; note: its shell is not nologin (left as it is)");
		return 0;
	}
	cleanup_free char *home = o->home ? xstrdup(o->home) : xasprintf("/home/%s", o->user);
	set_paths(st, home);
	if (o->check_only) {
		setupuser_note(st, "would create system user %s (home %s, shell %s)", o->user, home,
			       SETUPUSER_SHELL);
		st->uid = (uid_t)-1;
		return 0;
	}
	char *argv[] = {"useradd",   "--system",       "--create-home", "--home-dir",
			home,	     "--shell",	       SETUPUSER_SHELL, "--user-group",
			"--comment", "AEGIS platform", (char *)o->user, NULL};
	if (run(argv, err) < 0)
		return -1;
	pw = getpwnam(o->user);
	if (!pw)
		return aerr_set(err, AEGIS_EFAIL, "useradd succeeded but user %s is not found",
				o->user);
	st->uid = pw->pw_uid;
	st->gid = pw->pw_gid;
	setupuser_note(st, "created system user %s (uid %lu, home %s, shell %s)", o->user,
		       (unsigned long)pw->pw_uid, home, SETUPUSER_SHELL);
	return 0;
}

static int append_line(const subid_file *f, const char *line, aerr_t *err)
{
	char *old = NULL;
	size_t len = 0;
	struct stat sb;
	mode_t mode = stat(f->path, &sb) == 0 ? (sb.st_mode & 07777) : 0644;
	if (fs_exists(f->path) && fs_read_file(f->path, &old, &len, err) < 0)
		return -1;
	strbuf b = STRBUF_INIT;
	if (old)
		sb_add(&b, old, len);
	if (b.len && b.s[b.len - 1] != '\n')
		sb_addc(&b, '\n');
	sb_addf(&b, "%s\n", line);
	int rc = fs_write_atomic(f->path, b.s, b.len, mode, err);
	sb_release(&b);
	free(old);
	return rc;
}

int setupuser_subids(const setupuser_opts *o, setupuser_state *st, aerr_t *err)
{
	subid_file f[2] = {0};
	const char *paths[] = {o->subuid, o->subgid};
	for (int k = 0; k < 2; k++)
		if (subid_load(paths[k], &f[k], err) < 0) {
			if (k)
				subid_free(&f[0]);
			return -1;
		}
	int rc = 0;
	unsigned long start = subid_free_start(&f[0], &f[1], SUBID_COUNT);
	cleanup_free char *line = xasprintf("%s:%lu:%lu", o->user, start, SUBID_COUNT);
	for (int k = 0; k < 2 && rc == 0; k++) {
		const subid_range *own = subid_find(&f[k], o->user, st->uid);
		const subid_range *clash = own ? subid_overlap(&f[k], own) : NULL;
		if (own && !clash) {
			setupuser_note(st, "%s: %s has %lu ids from %lu (kept)", paths[k], o->user,
				       own->count, own->start);
			continue;
		}
		if (clash) {
			/* never rewrite another user's line or silently move ours */
			rc =
			    aerr_set(err, AEGIS_EFAIL,
				     "%s:%d: the range of %s overlaps that of %s (line %d); "
				     "replace it with %s",
				     paths[k], own->line, o->user, clash->owner, clash->line, line);
			break;
		}
		if (o->check_only) {
			setupuser_note(st, "%s: add the line %s", paths[k], line);
			continue;
		}
		rc = append_line(&f[k], line, err);
		if (rc == 0)
			setupuser_note(st, "%s: added %s", paths[k], line);
	}
	subid_free(&f[0]);
	subid_free(&f[1]);
	return rc;
}

int setupuser_linger(const setupuser_opts *o, setupuser_state *st, aerr_t *err)
{
	cleanup_free char *flag = fs_join(o->linger_dir, o->user);
	if (fs_exists(flag)) {
		setupuser_note(st, "lingering already enabled for %s", o->user);
		return 0;
	}
	if (!fs_exists(o->systemd_dir)) {
		st->incomplete = true;
		setupuser_note(st,
			       "could not enable lingering: systemd is not running here (no %s); "
			       "where it runs: loginctl enable-linger %s",
			       o->systemd_dir, o->user);
		return 0;
	}
	if (o->check_only) {
		setupuser_note(st, "would run: loginctl enable-linger %s", o->user);
		return 0;
	}
	char *argv[] = {"loginctl", "enable-linger", (char *)o->user, NULL};
	if (run(argv, err) < 0)
		return -1;
	setupuser_note(st, "enabled lingering for %s (its units start at boot)", o->user);
	return 0;
}

#define EDGE_LOWEST_PORT 80

int setupuser_ports(const setupuser_opts *o, setupuser_state *st, aerr_t *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	aerr_t rerr = {0};
	int now = -1;
	if (fs_read_file(o->port_start_proc, &text, &len, &rerr) == 0)
		sscanf(text, "%d", &now);
	if (o->port_start < 0) {
		if (now > EDGE_LOWEST_PORT)
			setupuser_note(
			    st,
			    "net.ipv4.ip_unprivileged_port_start is %d: %s cannot publish "
			    "ports below it (the production profile's edge needs 80 and "
			    "443); --unprivileged-port-start %d sets it",
			    now, o->user, EDGE_LOWEST_PORT);
		return 0;
	}
	cleanup_free char *line =
	    xasprintf("# aegis-deploy setup-user: a rootless edge publishes ports from %d\n"
		      "net.ipv4.ip_unprivileged_port_start = %d\n",
		      o->port_start, o->port_start);
	if (o->check_only) {
		setupuser_note(st,
			       "would write %s (net.ipv4.ip_unprivileged_port_start = %d, now %d)",
			       o->sysctl_file, o->port_start, now);
		return 0;
	}
	bool changed;
	if (systemd_write_if_changed(o->sysctl_file, line, strlen(line), 0644, &changed, err) < 0)
		return -1;
	if (now != o->port_start) {
		char value[16];
		int n = snprintf(value, sizeof value, "%d\n", o->port_start);
		int fd = open(o->port_start_proc, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0 || write(fd, value, (size_t)n) != n) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return aerr_sys(err, AEGIS_EFAIL, e, "cannot set %s to %d",
					o->port_start_proc, o->port_start);
		}
		close(fd);
	}
	setupuser_note(st, "net.ipv4.ip_unprivileged_port_start = %d (was %d; %s %s)",
		       o->port_start, now, changed ? "written to" : "kept in", o->sysctl_file);
	return 0;
}

/* DIR owned by the user, 0700, not a symlink; created when missing. */
static int own_dir(const setupuser_state *st, const char *dir, aerr_t *err)
{
	if (fs_mkdir_private(dir, 0700, err) < 0)
		return -1;
	if (lchown(dir, st->uid, st->gid) < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot chown %s", dir);
	return 0;
}

int setupuser_config_dir(const setupuser_opts *o, setupuser_state *st, aerr_t *err)
{
	struct stat sb;
	if (lstat(st->env_path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return aerr_set(err, AEGIS_EFAIL, "refusing to use %s: not a regular file",
				st->env_path);
	if (o->check_only) {
		setupuser_note(st, "would make %s (0700) and %s (0600), owned by %s",
			       st->config_dir, st->env_path, o->user);
		return 0;
	}
	cleanup_free char *config = fs_join(st->home, ".config");
	if (own_dir(st, st->home, err) < 0 || own_dir(st, config, err) < 0 ||
	    own_dir(st, st->config_dir, err) < 0)
		return -1;
	return 0;
}

int setupuser_own_env(const setupuser_opts *o, setupuser_state *st, aerr_t *err)
{
	int fd = open(st->env_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot open %s", st->env_path);
	int rc = 0;
	if (fchown(fd, st->uid, st->gid) < 0 || fchmod(fd, 0600) < 0)
		rc = aerr_sys(err, AEGIS_EFAIL, errno, "cannot give %s to uid %lu", st->env_path,
			      (unsigned long)st->uid);
	close(fd);
	if (rc == 0)
		setupuser_note(st, "%s is owned by %s, mode 0600, in a 0700 directory",
			       st->env_path, o->user);
	return rc;
}
