/* setup-user: the dedicated rootless user the platform runs as, set up
 * idempotently: a system user with a nologin shell and a home of its own,
 * subordinate id ranges that overlap nobody's, lingering, and a private
 * configuration directory for its .env.  Each step says what it did; a
 * re-run on a set-up user changes nothing.  Programs (useradd, loginctl) run
 * through spawn.h: no shell, no secret in any argument. */
#ifndef AEGIS_SETUPUSER_H
#define AEGIS_SETUPUSER_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

#define SETUPUSER_DEFAULT_USER "aegis"
#define SETUPUSER_SHELL "/usr/sbin/nologin"
/* Below the home: where .env lives (the AEGIS_CONFIG_DIR of user units,
 * %E/aegis-deploy). */
#define SETUPUSER_CONFIG_SUBDIR ".config/aegis-deploy"
/* Where --unprivileged-port-start persists the setting (read at boot by
 * systemd-sysctl). */
#define SETUPUSER_SYSCTL_FILE "/etc/sysctl.d/60-aegis-unprivileged-ports.conf"

typedef struct setupuser_opts {
	const char *user;
	const char *home; /* NULL: /home/USER for a new user */
	bool check_only;  /* change nothing; say what would be done */
	/* the host's files (tests point them elsewhere) */
	const char *subuid;	 /* /etc/subuid */
	const char *subgid;	 /* /etc/subgid */
	const char *systemd_dir; /* /run/systemd/system */
	const char *linger_dir;	 /* /var/lib/systemd/linger */
	/* net.ipv4.ip_unprivileged_port_start to set (a rootless edge on
	 * 80/443 needs 80); -1: only say what it is */
	int port_start;
	const char *port_start_proc; /* /proc/sys/net/ipv4/ip_unprivileged_port_start */
	const char *sysctl_file;     /* SETUPUSER_SYSCTL_FILE */
} setupuser_opts;

typedef struct setupuser_state {
	uid_t uid;
	gid_t gid;
	char *home;
	char *config_dir; /* HOME/.config/aegis-deploy */
	char *env_path;	  /* CONFIG_DIR/.env */
	char **lines;	  /* what was done (or would be), one line each */
	size_t nlines;
	bool incomplete; /* a step could not be done here (e.g. lingering) */
} setupuser_state;

void setupuser_opts_default(setupuser_opts *o);

/* The user exists (created with useradd when missing), with its home. */
int setupuser_user(const setupuser_opts *o, setupuser_state *st, aerr_t *err);
/* Its subuid/subgid ranges: kept when present and clear of others; else a
 * free range added to both files (with check_only: the line to add). */
int setupuser_subids(const setupuser_opts *o, setupuser_state *st, aerr_t *err);
/* loginctl enable-linger where systemd runs; otherwise says it could not. */
int setupuser_linger(const setupuser_opts *o, setupuser_state *st, aerr_t *err);
/* net.ipv4.ip_unprivileged_port_start: set now and in SETUPUSER_SYSCTL_FILE
 * with port_start >= 0; otherwise a note of its value when it keeps the
 * user from publishing 80. */
int setupuser_ports(const setupuser_opts *o, setupuser_state *st, aerr_t *err);
/* HOME and the configuration directory owned by the user, 0700; refuses a
 * .env that is not a regular file. */
int setupuser_config_dir(const setupuser_opts *o, setupuser_state *st, aerr_t *err);
/* After the .env is written: owned by the user, 0600. */
int setupuser_own_env(const setupuser_opts *o, setupuser_state *st, aerr_t *err);

/* Append a line to ST (printf-style). */
void setupuser_note(setupuser_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void setupuser_state_free(setupuser_state *st);

#endif
