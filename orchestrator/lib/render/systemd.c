#include "render/systemd.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bootstrap/sealkeys.h"
#include "podman/podman_cli.h"
#include "podman/podsecret.h"
#include "util/fsutil.h"
#include "util/spawn.h"
#include "util/strbuf.h"

/* The label Podman objects of the platform carry (as podman.c sets it). */
#define PART_OF "app.kubernetes.io/part-of=aegis"
/* Time allowed for `kube play` itself (an image pull on first start) on top
 * of the readiness budget. */
#define PLAY_SLACK_S 120
#define WAIT_MIN_S 30

systemd_flavor systemd_flavor_for(const char *version)
{
	int major = 0, minor = 0;
	if (!version || sscanf(version, "%d.%d", &major, &minor) < 1)
		return SYSTEMD_PLAIN;
	return (major > 4 || (major == 4 && minor >= 4)) ? SYSTEMD_QUADLET : SYSTEMD_PLAIN;
}

int systemd_wait_seconds(const pod *p)
{
	int best = WAIT_MIN_S;
	for (size_t c = 0; c < p->ncontainers; c++) {
		const probe *pr = &p->containers[c].readiness;
		if (pr->kind == PROBE_NONE)
			continue;
		int s = pr->initial_delay_s + pr->failure_threshold * pr->period_s;
		if (s > best)
			best = s;
	}
	return best;
}

char *systemd_pod_unit(const pod *p)
{
	return xasprintf("aegis-%s.service", p->name);
}

static char *network_unit(const char *network)
{
	return xasprintf("%s-network.service", network);
}

static char *volume_unit(const char *claim)
{
	return xasprintf("%s-volume.service", claim);
}

/* A literal path in a unit file: '%' would start a specifier and, in Exec
 * lines, '$' a variable; a path with blanks or quotes is quoted. */
static void add_path(strbuf *b, const char *path)
{
	bool quote = strpbrk(path, " \t\"'\\") != NULL;
	if (quote)
		sb_addc(b, '"');
	for (const char *s = path; *s; s++) {
		if (*s == '%' || *s == '$')
			sb_addc(b, *s);
		if (quote && (*s == '"' || *s == '\\'))
			sb_addc(b, '\\');
		sb_addc(b, *s);
	}
	if (quote)
		sb_addc(b, '"');
}

/* "Environment=NAME=VALUE": VALUE keeps its specifiers (%E, %S). */
static void add_env(strbuf *b, const char *name, const char *value)
{
	bool quote = strpbrk(value, " \t\"'\\") != NULL;
	sb_addf(b, "Environment=%s%s=", quote ? "\"" : "", name);
	for (const char *s = value; *s; s++) {
		if (quote && (*s == '"' || *s == '\\'))
			sb_addc(b, '\\');
		sb_addc(b, *s);
	}
	sb_addf(b, "%s\n", quote ? "\"" : "");
}

/* The units a pod needs before it: the network, its volumes, and the pods of
 * the profile it depends on (the edges `plan` prints; external dependencies
 * order nothing). */
static void add_needs(strbuf *b, const deployment *d, const pod *p, const systemd_opts *o,
		      bool with_network)
{
	strbuf list = STRBUF_INIT;
	if (with_network) {
		cleanup_free char *n = network_unit(o->network);
		sb_addf(&list, " %s", n);
	}
	for (size_t v = 0; v < p->nvolumes; v++) {
		cleanup_free char *n = volume_unit(p->volumes[v]);
		sb_addf(&list, " %s", n);
	}
	for (size_t j = 0; j < p->ndepends; j++) {
		int k = deployment_pod_index(d, p->depends[j]);
		if (k < 0)
			continue;
		cleanup_free char *n = systemd_pod_unit(&d->pods[k]);
		sb_addf(&list, " %s", n);
	}
	if (list.len) {
		sb_addf(b, "Requires=%s\n", list.s + 1);
		sb_addf(b, "After=podman.socket %s\n", list.s + 1);
	} else {
		sb_adds(b, "After=podman.socket\n");
	}
	sb_release(&list);
}

/* The environment every pod unit shares: where the checkout data, the
 * configuration and the manifests are; service.env (optional) overrides
 * them and any variable of .env (host ports, for instance). */
static void add_environment(strbuf *b, const systemd_opts *o)
{
	strbuf root = STRBUF_INIT;
	for (const char *s = o->root; *s; s++) {
		if (*s == '%')
			sb_addc(&root, '%');
		sb_addc(&root, *s);
	}
	add_env(b, "AEGIS_ROOT", root.s ? root.s : "");
	sb_release(&root);
	add_env(b, "AEGIS_CONFIG_DIR", o->config_dir);
	add_env(b, "AEGIS_DATA_DIR", o->data_dir);
	sb_addf(b, "EnvironmentFile=-%s/service.env\n", o->config_dir);
}

/* "aegis-deploy --env ${AEGIS_CONFIG_DIR}/.env --profile P" */
static void add_aegis(strbuf *b, const systemd_opts *o, const deployment *d)
{
	add_path(b, o->binary);
	sb_addf(b, " --env ${AEGIS_CONFIG_DIR}/.env --profile %s", d->prof.name);
}

/* The [Service] of a pod: render the manifest (with the unit's environment,
 * so overrides apply), play it (plain units only: Quadlet writes that part
 * from [Kube]), and count as started only once `wait` says it is ready. */
static void add_pod_service(strbuf *b, const deployment *d, const pod *p, const systemd_opts *o,
			    const char *manifest_dir)
{
	int wait_s = systemd_wait_seconds(p);
	bool plain = o->flavor == SYSTEMD_PLAIN;
	sb_adds(b, "[Service]\n");
	add_environment(b, o);
	if (plain)
		sb_adds(b, "Environment=PODMAN_SYSTEMD_UNIT=%n\nType=notify\nNotifyAccess=all\n");
	sb_adds(b, "ExecStartPre=");
	add_aegis(b, o, d);
	sb_addf(b, " render --pod %s --out %s --podman-secrets\n", p->name, manifest_dir);
	if (plain) {
		sb_adds(b, "ExecStart=");
		add_path(b, o->podman);
		cleanup_free char *net =
		    deployment_pod_network(d, (size_t)(p - d->pods), o->network);
		sb_addf(b,
			" kube play --replace --service-container=true --network %s %s/%s.yaml\n",
			net, manifest_dir, p->name);
	}
	sb_adds(b, "ExecStartPost=");
	add_aegis(b, o, d);
	sb_addf(b, " wait --pod %s --timeout %d\n", p->name, wait_s);
	if (plain) {
		sb_adds(b, "ExecStop=");
		add_path(b, o->podman);
		sb_addf(b, " kube down %s/%s.yaml\n", manifest_dir, p->name);
	}
	sb_addf(b, "TimeoutStartSec=%d\n", wait_s + PLAY_SLACK_S);
	/* kube down kills the service container, the unit's main process:
	 * its 137 is how every stop ends, not a failure */
	if (plain)
		sb_adds(b, "TimeoutStopSec=70\nSuccessExitStatus=137\n");
	/* `kube play --service-container=true` sends READY=1 with
	 * MAINPID=<the service container's conmon> and exits (Podman 5.4.2,
	 * pkg/domain/infra/abi/play.go, "Optimization for
	 * containers/podman/issues/17345").  A manager accepts a main PID
	 * outside the unit's cgroup only from a root sender (systemd 257,
	 * src/core/service.c, "New main PID ... does not belong to service");
	 * a user manager with no delegated cgroup (cgroup v1: "Failed to
	 * attach ... to compat systemd cgroup") refuses it, its main process
	 * (podman) has exited, and the unit stops its pod within
	 * milliseconds.  Seen on Debian 13 (Podman 5.4.2, systemd 257) on a
	 * cgroup v1 host: the unit active for 17 ms, then `kube down`. */
	if (o->remain_after_exit)
		sb_adds(b, "RemainAfterExit=yes\n");
	sb_adds(b, "Restart=on-failure\nRestartSec=10\n");
}

static void add_install(strbuf *b, const char *wanted_by)
{
	sb_addf(b, "\n[Install]\nWantedBy=%s\n", wanted_by);
}

static void add_file(systemd_units *u, char *name, char *text, bool quadlet, bool is_pod)
{
	u->files = xrealloc(u->files, (u->n + 1) * sizeof *u->files);
	u->files[u->n++] =
	    (systemd_file){.name = name, .text = text, .quadlet = quadlet, .pod = is_pod};
}

static char *pod_plain(const deployment *d, const pod *p, const systemd_opts *o, const char *target)
{
	strbuf b = STRBUF_INIT;
	sb_addf(&b, "# aegis-deploy systemd: pod %s (%s) of profile %s\n", p->name, p->pod_name,
		d->prof.name);
	sb_addf(&b, "[Unit]\nDescription=AEGIS pod %s (profile %s)\n", p->name, d->prof.name);
	sb_adds(&b, "Documentation=man:podman-kube-play(1)\n");
	sb_adds(&b, "Wants=network-online.target podman.socket\n");
	sb_adds(&b, "After=network-online.target\n");
	add_needs(&b, d, p, o, true);
	sb_addf(&b, "PartOf=%s\nRequiresMountsFor=%%t/containers\n\n", target);
	add_pod_service(&b, d, p, o, "${AEGIS_DATA_DIR}/manifests");
	add_install(&b, target);
	return sb_take(&b);
}

static char *pod_quadlet(const deployment *d, const pod *p, const systemd_opts *o,
			 const char *target)
{
	strbuf b = STRBUF_INIT;
	cleanup_free char *dir = xasprintf("%s/manifests", o->data_dir);
	sb_addf(&b, "# aegis-deploy systemd: pod %s (%s) of profile %s\n", p->name, p->pod_name,
		d->prof.name);
	sb_addf(&b, "[Unit]\nDescription=AEGIS pod %s (profile %s)\n", p->name, d->prof.name);
	sb_adds(&b, "Wants=network-online.target podman.socket\n");
	sb_adds(&b, "After=network-online.target\n");
	/* Network= below makes Quadlet add the network's unit itself */
	add_needs(&b, d, p, o, false);
	sb_addf(&b, "PartOf=%s\n\n[Kube]\n", target);
	sb_adds(&b, "Yaml=");
	add_path(&b, dir);
	sb_addf(&b, "/%s.yaml\nNetwork=%s.network\n\n", p->name, o->network);
	/* The manifest is rendered into the fixed Yaml= directory */
	add_pod_service(&b, d, p, o, dir);
	add_install(&b, target);
	return sb_take(&b);
}

static char *network_text(const systemd_opts *o, const char *target)
{
	strbuf b = STRBUF_INIT;
	sb_addf(&b, "# aegis-deploy systemd: the Podman network %s\n", o->network);
	sb_addf(&b, "[Unit]\nDescription=AEGIS Podman network %s\n", o->network);
	if (o->flavor == SYSTEMD_QUADLET) {
		sb_addf(&b, "\n[Network]\nNetworkName=%s\nLabel=%s\n", o->network, PART_OF);
	} else {
		sb_adds(&b, "RequiresMountsFor=%t/containers\n\n[Service]\nType=oneshot\n"
			    "RemainAfterExit=yes\n");
		/* Podman 4.3's `network create` has no --ignore: create (failing when
		 * it exists), then the unit fails only if the network is missing. */
		sb_adds(&b, "ExecStart=-");
		add_path(&b, o->podman);
		sb_addf(&b, " network create --label %s %s\nExecStart=", PART_OF, o->network);
		add_path(&b, o->podman);
		sb_addf(&b, " network exists %s\n", o->network);
	}
	add_install(&b, target);
	return sb_take(&b);
}

static char *volume_text(const systemd_opts *o, const char *claim, const char *target)
{
	strbuf b = STRBUF_INIT;
	sb_addf(&b, "# aegis-deploy systemd: the named volume %s (kept when the pods stop)\n",
		claim);
	sb_addf(&b, "[Unit]\nDescription=AEGIS Podman volume %s\n", claim);
	if (o->flavor == SYSTEMD_QUADLET) {
		sb_addf(&b, "\n[Volume]\nVolumeName=%s\nLabel=%s\n", claim, PART_OF);
	} else {
		sb_adds(&b, "RequiresMountsFor=%t/containers\n\n[Service]\nType=oneshot\n"
			    "RemainAfterExit=yes\nExecStart=-");
		add_path(&b, o->podman);
		sb_addf(&b, " volume create --label %s %s\nExecStart=", PART_OF, claim);
		add_path(&b, o->podman);
		sb_addf(&b, " volume exists %s\n", claim);
	}
	add_install(&b, target);
	return sb_take(&b);
}

static bool seen_before(const deployment *d, size_t pod_i, size_t vol_i)
{
	const char *name = d->pods[pod_i].volumes[vol_i];
	for (size_t i = 0; i <= pod_i; i++)
		for (size_t v = 0; v < d->pods[i].nvolumes; v++) {
			if (i == pod_i && v == vol_i)
				return false;
			if (strcmp(d->pods[i].volumes[v], name) == 0)
				return true;
		}
	return false;
}

int systemd_generate(const deployment *d, const systemd_opts *o, systemd_units *out, aerr_t *err)
{
	*out = (systemd_units){0};
	if (o->flavor == SYSTEMD_QUADLET && o->data_dir[0] != '/')
		return aerr_set(err, AEGIS_ECONFIG,
				"Quadlet needs an absolute data directory (Yaml=), not '%s'",
				o->data_dir);
	bool q = o->flavor == SYSTEMD_QUADLET;
	out->target = xasprintf("aegis-%s.target", d->prof.name);
	/* pods in plan order, so the files read in the order they start */
	strbuf pods = STRBUF_INIT;
	for (size_t t = 0; t < d->plan.ntiers; t++)
		for (size_t k = 0; k < d->plan.tiers[t].n; k++) {
			const pod *p = &d->pods[d->plan.tiers[t].pods[k]];
			char *text =
			    q ? pod_quadlet(d, p, o, out->target) : pod_plain(d, p, o, out->target);
			char *name = q ? xasprintf("aegis-%s.kube", p->name) : systemd_pod_unit(p);
			add_file(out, name, text, q, true);
			cleanup_free char *unit = systemd_pod_unit(p);
			sb_addf(&pods, " %s", unit);
		}
	add_file(out, q ? xasprintf("%s.network", o->network) : network_unit(o->network),
		 network_text(o, out->target), q, false);
	for (size_t i = 0; i < d->npods; i++)
		for (size_t v = 0; v < d->pods[i].nvolumes; v++) {
			if (seen_before(d, i, v))
				continue;
			const char *claim = d->pods[i].volumes[v];
			add_file(out, q ? xasprintf("%s.volume", claim) : volume_unit(claim),
				 volume_text(o, claim, out->target), q, false);
		}

	strbuf b = STRBUF_INIT;
	sb_addf(&b,
		"# aegis-deploy systemd: profile %s; `systemctl%s start %s` brings its pods\n"
		"# up in dependency order, each once ready; stop takes them down in reverse.\n",
		d->prof.name, o->scope == SYSTEMD_USER ? " --user" : "", out->target);
	sb_addf(&b, "[Unit]\nDescription=AEGIS platform, profile %s (%zu pods)\n", d->prof.name,
		d->npods);
	if (pods.len)
		sb_addf(&b, "Requires=%s\nAfter=%s\n", pods.s + 1, pods.s + 1);
	add_install(&b, o->scope == SYSTEMD_USER ? "default.target" : "multi-user.target");
	add_file(out, xstrdup(out->target), sb_take(&b), false, false);
	sb_release(&pods);
	(void)err;
	return 0;
}

void systemd_units_free(systemd_units *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->files[i].name);
		free(u->files[i].text);
	}
	free(u->files);
	free(u->target);
	*u = (systemd_units){0};
}

int systemd_write_if_changed(const char *path, const char *data, size_t len, mode_t mode,
			     bool *changed, aerr_t *err)
{
	*changed = false;
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
	    (size_t)st.st_size == len) {
		char *old = NULL;
		size_t olen = 0;
		aerr_t rerr = {0};
		if (fs_read_file(path, &old, &olen, &rerr) == 0) {
			bool same = olen == len && memcmp(old, data, len) == 0;
			memset(old, 0, olen);
			free(old);
			if (same)
				return 0;
		}
	}
	if (fs_write_atomic(path, data, len, mode, err) < 0)
		return -1;
	*changed = true;
	return 0;
}

bool systemd_cgroup2(void)
{
	struct statfs sf;
	return statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

bool systemd_booted(void)
{
	struct stat st;
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static int user_home(const char *xdg, const char *fallback, char **out, aerr_t *err)
{
	const char *v = getenv(xdg);
	if (v && *v == '/') {
		*out = xstrdup(v);
		return 0;
	}
	const char *home = getenv("HOME");
	if (!home || *home != '/')
		return aerr_set(err, AEGIS_ECONFIG,
				"neither %s nor HOME is set to an absolute path", xdg);
	*out = fs_join(home, fallback);
	return 0;
}

int systemd_homes(systemd_scope scope, char **config_home, char **state_home, aerr_t *err)
{
	*config_home = *state_home = NULL;
	if (scope == SYSTEMD_SYSTEM) {
		*config_home = xstrdup("/etc");
		*state_home = xstrdup("/var/lib");
		return 0;
	}
	if (user_home("XDG_CONFIG_HOME", ".config", config_home, err) < 0)
		return -1;
	if (user_home("XDG_STATE_HOME", ".local/state", state_home, err) < 0) {
		free(*config_home);
		*config_home = NULL;
		return -1;
	}
	return 0;
}

int systemd_unit_dirs(systemd_scope scope, char **units, char **quadlet, aerr_t *err)
{
	char *conf = NULL, *state = NULL;
	if (systemd_homes(scope, &conf, &state, err) < 0)
		return -1;
	free(state);
	*units = fs_join(conf, scope == SYSTEMD_USER ? "systemd/user" : "systemd/system");
	*quadlet = fs_join(conf, "containers/systemd");
	free(conf);
	return 0;
}

static int systemctl(systemd_scope scope, const char *verb, const char *const *units, size_t n,
		     aerr_t *err)
{
	char **argv = xcalloc(n + 6, sizeof *argv);
	size_t k = 0;
	/* `sudo -u aegis aegis-deploy systemd --install`, with no login session,
	 * has no XDG_RUNTIME_DIR: systemctl --user finds the user's manager
	 * (started by lingering) through /run/user/UID/bus */
	cleanup_free char *runtime = NULL;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (scope == SYSTEMD_USER && (!xdg || !*xdg)) {
		runtime = xasprintf("XDG_RUNTIME_DIR=/run/user/%lu", (unsigned long)geteuid());
		argv[k++] = "env";
		argv[k++] = runtime;
	}
	argv[k++] = "systemctl";
	if (scope == SYSTEMD_USER)
		argv[k++] = "--user";
	argv[k++] = (char *)verb;
	for (size_t i = 0; i < n; i++)
		argv[k++] = (char *)units[i];
	int status = 0;
	int rc = spawn_run(argv, NULL, &status, err);
	free(argv);
	if (rc < 0)
		return aerr_wrap(err, "systemctl %s", verb);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cleanup_free char *why = spawn_describe(status);
		return aerr_set(err, AEGIS_EFAIL, "systemctl%s %s %s",
				scope == SYSTEMD_USER ? " --user" : "", verb, why);
	}
	return 0;
}

int systemd_reload_enable(systemd_scope scope, const char *const *units, size_t n, aerr_t *err)
{
	if (systemctl(scope, "daemon-reload", NULL, 0, err) < 0)
		return -1;
	return n ? systemctl(scope, "enable", units, n, err) : 0;
}

/* --- writing them: what the systemd command does -------------------------- */

/* "%S/x" -> STATE/x, "%E/x" -> CONF/x; anything else as given. */
static char *expand_home(const char *dir, const char *conf, const char *state)
{
	if (strncmp(dir, "%S/", 3) == 0)
		return fs_join(state, dir + 3);
	if (strncmp(dir, "%E/", 3) == 0)
		return fs_join(conf, dir + 3);
	return xstrdup(dir);
}

static char *abs_dir_of(const char *file)
{
	cleanup_free char *dir = fs_dirname(file);
	char buf[PATH_MAX];
	return realpath(dir, buf) ? xstrdup(buf) : NULL;
}

static void note_written(systemd_result *r, const char *path, bool changed)
{
	r->files = xrealloc(r->files, (r->nfiles + 1) * sizeof *r->files);
	r->files[r->nfiles++] = (systemd_written){xstrdup(path), changed};
}

/* Write D's manifests (0600 in 0700, though no secret value is in them: env
 * values holding one are secretKeyRefs into the pods' Podman secrets) and
 * the units U, then reload and enable them where systemd runs (INSTALL
 * only). */
static int write_all(const deployment *d, const systemd_units *u, bool install, systemd_scope scope,
		     const char *unit_dir, const char *quadlet_dir, const char *manifest_dir,
		     systemd_result *r, aerr_t *err)
{
	if (fs_mkdir_private(manifest_dir, 0700, err) < 0)
		return -1;
	for (size_t i = 0; i < d->npods; i++) {
		cleanup_free char *name = xasprintf("%s.yaml", d->pods[i].name);
		cleanup_free char *path = fs_join(manifest_dir, name);
		bool changed;
		if (systemd_write_if_changed(path, d->manifests[i].yaml, d->manifests[i].len, 0600,
					     &changed, err) < 0)
			return -1;
		note_written(r, path, changed);
	}
	const char **enable = xcalloc(u->n, sizeof *enable);
	size_t nenable = 0;
	for (size_t i = 0; i < u->n; i++) {
		const systemd_file *f = &u->files[i];
		const char *dir = f->quadlet ? quadlet_dir : unit_dir;
		if (fs_mkdir_private(dir, 0755, err) < 0) {
			free(enable);
			return -1;
		}
		cleanup_free char *path = fs_join(dir, f->name);
		bool changed;
		if (systemd_write_if_changed(path, f->text, strlen(f->text), 0644, &changed, err) <
		    0) {
			free(enable);
			return -1;
		}
		note_written(r, path, changed);
		/* Quadlet's generated services cannot be enabled; the generator
		 * applies their [Install] itself */
		if (!f->quadlet)
			enable[nenable++] = f->name;
	}
	if (install && systemd_booted()) {
		if (systemd_reload_enable(scope, enable, nenable, err) < 0) {
			free(enable);
			return -1;
		}
		r->enabled = true;
	}
	free(enable);
	return 0;
}

static int store_secrets(const deployment *d, systemd_result *r, aerr_t *err)
{
	podman *pm = NULL;
	if (podman_open(&pm, config_get(&d->cfg, "CONTAINER_SOCK"), err) < 0)
		return aerr_wrap(err, "storing the pods' Podman secrets");
	int rc = podsecret_store_all(pm, d, -1, err);
	podman_close(pm);
	r->secrets_stored = rc == 0;
	return rc;
}

int systemd_write(const deployment *d, const systemd_request *a, systemd_result *r, aerr_t *err)
{
	*r = (systemd_result){0};
	if (a->install && sealkeys_ensure(d, &r->keys, err) < 0)
		return -1;
	systemd_scope scope = a->scope >= 0    ? (systemd_scope)a->scope
			      : geteuid() == 0 ? SYSTEMD_SYSTEM
					       : SYSTEMD_USER;
	r->scope = scope;
	cleanup_free char *version = NULL;
	cleanup_free char *podman = spawn_which("podman");
	cleanup_free char *conf = NULL, *state = NULL, *env_dir = abs_dir_of(a->env_path);
	cleanup_free char *config_dir = NULL, *data_dir = NULL, *root = NULL, *binary = NULL;
	cleanup_free char *unit_dir = NULL, *quadlet_dir = NULL, *manifest_dir = NULL;
	cleanup_free char *default_conf = NULL;
	systemd_units u = {0};
	int rc = -1;
	char buf[PATH_MAX];

	if (a->podman_version)
		version = xstrdup(a->podman_version);
	else if (podman_cli_version("podman", &version, err) < 0)
		goto out;
	if (systemd_homes(scope, &conf, &state, err) < 0)
		goto out;
	default_conf = fs_join(conf, "aegis-deploy");
	if (a->config_dir)
		config_dir = xstrdup(a->config_dir);
	else if (!env_dir || strcmp(env_dir, default_conf) == 0)
		config_dir = xstrdup("%E/aegis-deploy");
	else
		config_dir = xstrdup(env_dir);
	systemd_flavor flavor = systemd_flavor_for(version);
	if (a->data_dir)
		data_dir = xstrdup(a->data_dir);
	else
		data_dir = flavor == SYSTEMD_QUADLET ? fs_join(state, "aegis-deploy")
						     : xstrdup("%S/aegis-deploy");
	root = xstrdup(realpath(a->root, buf) ? buf : a->root);
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	binary = n > 0 ? xstrndup(buf, (size_t)n) : xstrdup("/usr/local/bin/aegis-deploy");
	const char *network = config_get(&d->cfg, "AEGIS_NETWORK");
	systemd_opts o = {
	    .flavor = flavor,
	    .scope = scope,
	    .binary = binary,
	    .podman = podman ? podman : "/usr/bin/podman",
	    .root = root,
	    .config_dir = config_dir,
	    .data_dir = data_dir,
	    .network = network, /* kube/variables.yaml gives it its default */
	    /* where they are installed: a user's manager gets no cgroup
	     * delegation without cgroup v2 */
	    .remain_after_exit = a->install && scope == SYSTEMD_USER && !systemd_cgroup2(),
	};
	if (systemd_generate(d, &o, &u, err) < 0)
		goto out;

	if (a->install) {
		if (systemd_unit_dirs(scope, &unit_dir, &quadlet_dir, err) < 0)
			goto out;
		cleanup_free char *data = expand_home(data_dir, conf, state);
		manifest_dir = fs_join(data, "manifests");
	} else {
		unit_dir = xstrdup(a->dir);
		quadlet_dir = xstrdup(a->dir);
		manifest_dir = fs_join(a->dir, "manifests");
	}
	if (write_all(d, &u, a->install, scope, unit_dir, quadlet_dir, manifest_dir, r, err) < 0)
		goto out;
	/* the units' manifests refer to the pods' Podman secrets: there from
	 * now on (each unit stores its pod's again before it plays it) */
	if (a->install && store_secrets(d, r, err) < 0)
		goto out;
	r->flavor = flavor;
	r->target = xstrdup(u.target);
	rc = 0;
out:
	systemd_units_free(&u);
	return rc;
}

json_t *systemd_result_json(const deployment *d, const systemd_result *r)
{
	json_t *files = json_array();
	for (size_t i = 0; i < r->nfiles; i++)
		json_array_append_new(files, json_pack("{s:s, s:b}", "path", r->files[i].path,
						       "written", r->files[i].changed));
	return json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:b}", "profile", d->prof.name, "flavor",
			 r->flavor == SYSTEMD_QUADLET ? "quadlet" : "plain", "target", r->target,
			 "files", files, "enabled", r->enabled, "secrets_stored", r->secrets_stored,
			 "keys_generated", r->keys.generated);
}

void systemd_result_free(systemd_result *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r->target);
	keys_result_free(&r->keys);
	*r = (systemd_result){0};
}
