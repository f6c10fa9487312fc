/* doctor: can this host run the platform, for this user?  Each check is a
 * function that adds findings (OK, warning, error; every error with a
 * one-line fix) and reads only the paths and programs named in a
 * doctor_host, so tests can point it at fixture files. */
#ifndef AEGIS_DOCTOR_H
#define AEGIS_DOCTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config/deployment.h"
#include "podman/podman.h"

typedef enum { DOCTOR_OK = 0, DOCTOR_WARN, DOCTOR_ERROR } doctor_level;

typedef struct doctor_finding {
	doctor_level level;
	char *check;  /* "podman", "subuid", "port 8088", ... */
	char *detail; /* what was found */
	char *fix;    /* one line; set for errors (and some warnings) */
} doctor_finding;

typedef struct doctor_report {
	doctor_finding *items;
	size_t n;
} doctor_report;

typedef struct doctor_host {
	const char *podman; /* program, default "podman" */
	const char *user;   /* the user checked (subordinate ids, lingering) */
	uid_t uid;
	const char *subuid;	 /* /etc/subuid */
	const char *subgid;	 /* /etc/subgid */
	const char *tun;	 /* /dev/net/tun */
	const char *cgroup_root; /* /sys/fs/cgroup */
	const char *linger_dir;	 /* /var/lib/systemd/linger */
	const char *systemd_dir; /* /run/systemd/system (systemd is PID 1) */
} doctor_host;

/* The real host and the user running this. */
int doctor_host_default(doctor_host *h, aerr_t *err);
void doctor_host_free(doctor_host *h);

/* The checks, in the order `doctor` runs them. */
/* Podman present, its version; *INFO gets `podman info` (NULL when it
 * failed: *INFO_ERROR then holds its message; both newly allocated). */
void doctor_check_podman(doctor_report *r, const doctor_host *h, json_t **info, char **info_error);
void doctor_check_mode(doctor_report *r, const doctor_host *h);
/* The OCI runtime Podman is configured with exists and runs; crun on a
 * hybrid cgroup layout (cgroup_root/unified) cannot start containers. */
void doctor_check_runtime(doctor_report *r, const doctor_host *h, json_t *info,
			  const char *info_error);
void doctor_check_cgroups(doctor_report *r, const doctor_host *h, json_t *info);
void doctor_check_subids(doctor_report *r, const doctor_host *h);
void doctor_check_tun(doctor_report *r, const doctor_host *h);
void doctor_check_network_helper(doctor_report *r, const doctor_host *h);
void doctor_check_linger(doctor_report *r, const doctor_host *h);
/* SOCK exists and Podman answers on it; *PM (optional) gets the open API. */
void doctor_check_socket(doctor_report *r, const char *sock, podman **pm);
/* Every published host port of D free, or held by D's own running pod
 * (RUNNING: names of the pods running now, may be NULL). */
void doctor_check_ports(doctor_report *r, const deployment *d, const char *const *running,
			size_t nrunning);
/* Every image present, or pullable as far as can be told without pulling. */
void doctor_check_images(doctor_report *r, podman *pm, const deployment *d);
/* The .env gives every variable the profile needs.  On success *D (optional)
 * gets the loaded deployment (the caller frees it). */
void doctor_check_env(doctor_report *r, const char *root, const char *env_path, const char *profile,
		      deployment *d, bool *loaded);

/* Everything above, in order. */
void doctor_run(const doctor_host *h, const char *root, const char *env_path, const char *profile,
		doctor_report *r);

bool doctor_has_errors(const doctor_report *r);
const char *doctor_level_name(doctor_level l);
void doctor_report_free(doctor_report *r);

#endif
