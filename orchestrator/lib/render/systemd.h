/* systemd units for a profile, generated from the deployment (its pods,
 * their dependencies, volumes and probes), so that systemd starts the pods in
 * the order `plan` prints and considers a pod started only once it is ready
 * (ExecStartPost runs `aegis-deploy wait`).
 *
 * Two generations of Podman:
 *  - plain units (Podman < 4.4, no Quadlet): one service per pod running
 *    `podman kube play --replace --service-container=true` on the rendered
 *    manifest, like Podman's own podman-kube@.service; oneshot services for
 *    the network and the named volumes;
 *  - Quadlet (Podman >= 4.4): .kube, .network and .volume files that
 *    Podman's generator turns into services of the same names.
 * Both get aegis-<profile>.target grouping the pods.  Pure: the text is
 * returned, nothing is written or printed. */
#ifndef AEGIS_SYSTEMD_H
#define AEGIS_SYSTEMD_H

#include <stdbool.h>
#include <sys/types.h>

#include "bootstrap/keys.h"
#include "config/deployment.h"

typedef enum { SYSTEMD_PLAIN = 0, SYSTEMD_QUADLET } systemd_flavor;
typedef enum { SYSTEMD_USER = 0, SYSTEMD_SYSTEM } systemd_scope;

typedef struct systemd_opts {
	systemd_flavor flavor;
	systemd_scope scope;
	const char *binary; /* absolute path of aegis-deploy in the units */
	const char *podman; /* absolute path of podman */
	const char *root;   /* AEGIS_ROOT of the units (kube/, profiles/) */
	/* Defaults of AEGIS_CONFIG_DIR (holds .env and service.env) and
	 * AEGIS_DATA_DIR (the rendered manifests), as written into the units:
	 * specifiers such as %E and %S are fine for plain units; Quadlet's
	 * Yaml= needs DATA_DIR absolute. */
	const char *config_dir;
	const char *data_dir;
	const char *network; /* the Podman network (AEGIS_NETWORK) */
	/* The units' manager cannot take the service container's conmon as
	 * their main process (a user manager on a cgroup v1 or hybrid host:
	 * no delegated cgroups): a pod unit stays active once `kube play`
	 * has exited (RemainAfterExit=yes) instead of stopping its pod. */
	bool remain_after_exit;
} systemd_opts;

/* True when /sys/fs/cgroup is the unified cgroup v2 hierarchy. */
bool systemd_cgroup2(void);

typedef struct systemd_file {
	char *name; /* file name: aegis-core.service, aegis-core.kube, ... */
	char *text;
	bool quadlet; /* goes to Quadlet's directory, not systemd's */
	bool pod;     /* the unit of a pod (enabled on install, unless Quadlet) */
} systemd_file;

typedef struct systemd_units {
	systemd_file *files;
	size_t n;
	char *target; /* aegis-<profile>.target */
} systemd_units;

/* Podman >= 4.4 has Quadlet.  VERSION like "4.3.1". */
systemd_flavor systemd_flavor_for(const char *podman_version);

/* Seconds `aegis-deploy wait` gives pod P: the longest readiness budget of
 * its containers, initialDelaySeconds + failureThreshold x periodSeconds
 * (what Kubernetes allows before it gives up), at least 30. */
int systemd_wait_seconds(const pod *p);

/* The service unit name of pod P ("aegis-core.service"; newly allocated). */
char *systemd_pod_unit(const pod *p);

int systemd_generate(const deployment *d, const systemd_opts *o, systemd_units *out, aerr_t *err);
void systemd_units_free(systemd_units *u);

/* Write DATA to PATH (atomically, never through a symlink) unless PATH
 * already holds exactly DATA with MODE; *CHANGED says whether it wrote. */
int systemd_write_if_changed(const char *path, const char *data, size_t len, mode_t mode,
			     bool *changed, aerr_t *err);

/* What `aegis-deploy systemd` asks for. */
typedef struct systemd_request {
	const char *dir;	    /* without INSTALL: write here (manifests in DIR/manifests) */
	bool install;		    /* write where systemd looks; reload and enable where it runs */
	int scope;		    /* SYSTEMD_USER, SYSTEMD_SYSTEM, or -1: by uid */
	const char *config_dir;	    /* AEGIS_CONFIG_DIR of the units (NULL: from ENV_PATH) */
	const char *data_dir;	    /* AEGIS_DATA_DIR of the units (NULL: %S/aegis-deploy) */
	const char *podman_version; /* NULL: the installed podman's */
	const char *env_path, *root;
} systemd_request;

typedef struct systemd_written {
	char *path;
	bool changed; /* false: the same content was there already (not rewritten) */
} systemd_written;

typedef struct systemd_result {
	systemd_written *files; /* every manifest and unit file, in order */
	size_t nfiles;
	systemd_flavor flavor;
	systemd_scope scope;
	char *target;	     /* aegis-<profile>.target */
	bool enabled;	     /* reloaded and enabled (only with INSTALL where systemd runs) */
	bool secrets_stored; /* the pods' Podman secrets stored (INSTALL) */
	keys_result keys;    /* INSTALL: the SEAL keypair (keys.generated: made now) */
} systemd_result;

/* Generate the units of D and write them and the manifests they run (0600
 * in 0700, with no secret value: the pods' Podman secrets hold those),
 * changing no file whose content is the same.  With INSTALL, also store the
 * pods' Podman secrets (podsecret.h) on CONTAINER_SOCK, and generate the
 * SEAL keypair the pods mount when it is missing, as deploy would (at boot
 * nothing runs deploy). */
int systemd_write(const deployment *d, const systemd_request *req, systemd_result *r, aerr_t *err);
void systemd_result_free(systemd_result *r);
/* R as `systemd --json` reports it: profile, flavor, target, files
 * [{path, written}], enabled, secrets_stored, keys_generated. */
json_t *systemd_result_json(const deployment *d, const systemd_result *r);

#endif

/* --- installing --------------------------------------------------------- */

/* Is systemd the init system here (sd_booted: /run/systemd/system)? */
bool systemd_booted(void);

/* Where systemd (and Quadlet) look for units of SCOPE, for the user running
 * this: ~/.config/systemd/user and ~/.config/containers/systemd, or
 * /etc/systemd/system and /etc/containers/systemd (newly allocated). */
int systemd_unit_dirs(systemd_scope scope, char **units, char **quadlet, aerr_t *err);

/* %E and %S of SCOPE expanded for the user running this: the configuration
 * (~/.config, /etc) and state (~/.local/state, /var/lib) homes. */
int systemd_homes(systemd_scope scope, char **config_home, char **state_home, aerr_t *err);

/* `systemctl [--user] daemon-reload`, then `enable` of UNITS (N of them). */
int systemd_reload_enable(systemd_scope scope, const char *const *units, size_t n, aerr_t *err);
