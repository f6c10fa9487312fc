/* aegis-deploy systemd: units for the profile (one per pod, the network, the
 * named volumes, aegis-<profile>.target), for review or installed. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "lib/fsutil.h"
#include "lib/podman_cli.h"
#include "lib/spawn.h"
#include "lib/systemd.h"

static const char help[] =
	"Usage: aegis-deploy systemd [--profile P] [--dir DIR | --install] [--user | --system]\n"
	"\n"
	"Generate systemd units for the profile: one per pod, with Requires=/After= on\n"
	"the pods it depends on (the graph `plan` prints) and ExecStartPost=aegis-deploy\n"
	"wait, so a pod counts as started only once ready; plus the network, the named\n"
	"volumes and aegis-<profile>.target.  Podman >= 4.4: Quadlet files (.kube,\n"
	".network, .volume); older Podman: plain units running `podman kube play\n"
	"--replace --service-container=true` on the rendered manifest.  Every file\n"
	"written is listed; a file whose content is unchanged is not rewritten.\n"
	"\n"
	"  --dir DIR            write into DIR for review (default generated/systemd),\n"
	"                       the manifests into DIR/manifests (0600 in 0700)\n"
	"  --install            write where systemd looks (user: ~/.config/systemd/user;\n"
	"                       system: /etc/systemd/system; Quadlet files under\n"
	"                       containers/systemd), the manifests into the data\n"
	"                       directory; where systemd runs, daemon-reload and enable\n"
	"  --user, --system     user units (default unless root) or system units\n"
	"  --config-dir DIR     AEGIS_CONFIG_DIR of the units, holding .env and the\n"
	"                       optional service.env (default: the --env file's\n"
	"                       directory, written as %E/aegis-deploy when it is that)\n"
	"  --data-dir DIR       AEGIS_DATA_DIR of the units: the rendered manifests\n"
	"                       (default %S/aegis-deploy: ~/.local/state or /var/lib)\n"
	"  --podman-version V   generate for this Podman version instead of the\n"
	"                       installed one (`podman --version`)\n"
	"\n"
	"A unit's environment overrides .env: set host ports (AEGIS_HTTP_PORT, ...),\n"
	"AEGIS_CONFIG_DIR or AEGIS_DATA_DIR in AEGIS_CONFIG_DIR/service.env (systemd\n"
	"EnvironmentFile syntax) or with `systemctl edit UNIT`.\n"
	"\n";

struct systemd_args {
	const char *dir, *config_dir, *data_dir, *podman_version;
	bool install;
	int scope; /* -1: by uid */
};

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

static void print_file(const struct cli *cli, json_t *files, const char *path, bool changed)
{
	if (cli->json)
		json_array_append_new(files, json_pack("{s:s, s:b}", "path", path, "written",
						       changed));
	else
		printf("%s %s\n", changed ? "wrote    " : "unchanged", path);
}

static int run(const struct cli *cli, const struct systemd_args *a, aerr_t *err)
{
	systemd_scope scope = a->scope >= 0 ? (systemd_scope)a->scope
			      : geteuid() == 0 ? SYSTEMD_SYSTEM
					       : SYSTEMD_USER;
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, 0, err) < 0)
		return -1;
	cleanup_free char *version = NULL;
	cleanup_free char *podman = spawn_which("podman");
	cleanup_free char *conf = NULL, *state = NULL, *env_dir = abs_dir_of(cli->env_path);
	cleanup_free char *config_dir = NULL, *data_dir = NULL, *root = NULL, *binary = NULL;
	cleanup_free char *unit_dir = NULL, *quadlet_dir = NULL, *manifest_dir = NULL;
	cleanup_free char *default_conf = NULL;
	systemd_units u = {0};
	json_t *files = json_array();
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
	root = xstrdup(realpath(cli->root, buf) ? buf : cli->root);
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	binary = n > 0 ? xstrndup(buf, (size_t)n) : xstrdup("/usr/local/bin/aegis-deploy");
	const char *network = config_get(&d.cfg, "AEGIS_NETWORK");
	systemd_opts o = {
	    .flavor = flavor,
	    .scope = scope,
	    .binary = binary,
	    .podman = podman ? podman : "/usr/bin/podman",
	    .root = root,
	    .config_dir = config_dir,
	    .data_dir = data_dir,
	    .network = network, /* kube/variables.yaml gives it its default */
	};
	if (systemd_generate(&d, &o, &u, err) < 0)
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
	/* The manifests hold secret values (secretKeyRef is not used yet):
	 * 0600 in a 0700 directory, like render --out. */
	if (fs_mkdir_private(manifest_dir, 0700, err) < 0)
		goto out;
	for (size_t i = 0; i < d.npods; i++) {
		cleanup_free char *name = xasprintf("%s.yaml", d.pods[i].name);
		cleanup_free char *path = fs_join(manifest_dir, name);
		bool changed;
		if (systemd_write_if_changed(path, d.manifests[i].yaml, d.manifests[i].len, 0600,
					     &changed, err) < 0)
			goto out;
		print_file(cli, files, path, changed);
	}
	const char **enable = xcalloc(u.n, sizeof *enable);
	size_t nenable = 0;
	for (size_t i = 0; i < u.n; i++) {
		const systemd_file *f = &u.files[i];
		const char *dir = f->quadlet ? quadlet_dir : unit_dir;
		if (fs_mkdir_private(dir, 0755, err) < 0) {
			free(enable);
			goto out;
		}
		cleanup_free char *path = fs_join(dir, f->name);
		bool changed;
		if (systemd_write_if_changed(path, f->text, strlen(f->text), 0644, &changed, err) <
		    0) {
			free(enable);
			goto out;
		}
		print_file(cli, files, path, changed);
		/* Quadlet's generated services cannot be enabled; the generator
		 * applies their [Install] itself */
		if (!f->quadlet)
			enable[nenable++] = f->name;
	}
	const char *sc = scope == SYSTEMD_USER ? "systemctl --user" : "systemctl";
	bool enabled = false;
	if (a->install && systemd_booted()) {
		if (systemd_reload_enable(scope, enable, nenable, err) < 0) {
			free(enable);
			goto out;
		}
		enabled = true;
	}
	free(enable);
	if (cli->json) {
		json_t *o2 = json_pack("{s:s, s:s, s:s, s:o, s:b}", "profile", d.prof.name,
				       "flavor", flavor == SYSTEMD_QUADLET ? "quadlet" : "plain",
				       "target", u.target, "files", files, "enabled", enabled);
		files = NULL;
		json_dumpf(o2, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o2);
	} else if (!a->install) {
		printf("next: review them, then `aegis-deploy systemd --install%s`\n",
		       scope == SYSTEMD_USER ? "" : " --system");
	} else if (enabled) {
		printf("reloaded and enabled; start with: %s start %s\n", sc, u.target);
	} else {
		printf("systemd is not running here (no /run/systemd/system): the units are "
		       "written but not reloaded or enabled; where systemd runs: %s daemon-reload "
		       "&& %s enable --now %s\n",
		       sc, sc, u.target);
	}
	rc = 0;
out:
	json_decref(files);
	systemd_units_free(&u);
	deployment_free(&d);
	return rc;
}

COMMAND(systemd)
{
	struct systemd_args a = {.dir = "generated/systemd", .scope = -1};
	const char *dir = NULL;
	bool user = false, system = false;
	const struct opt opts[] = {
		{"dir", 0, OPT_STRING, &dir},
		{"install", 0, OPT_BOOL, &a.install},
		{"user", 0, OPT_BOOL, &user},
		{"system", 0, OPT_BOOL, &system},
		{"config-dir", 0, OPT_STRING, &a.config_dir},
		{"data-dir", 0, OPT_STRING, &a.data_dir},
		{"podman-version", 0, OPT_STRING, &a.podman_version},
		OPT_END,
	};
	int st = opts_parse("systemd", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	if (user && system)
		return cli_usage("systemd", "--user and --system exclude each other");
	if (user || system)
		a.scope = user ? SYSTEMD_USER : SYSTEMD_SYSTEM;
	bool dir_given = dir != NULL;
	if (dir)
		a.dir = dir;
	if (dir_given && a.install)
		return cli_usage("systemd", "--dir and --install exclude each other");
	if (a.config_dir && a.config_dir[0] != '/')
		return cli_usage("systemd", "--config-dir needs an absolute path, not '%s'",
				 a.config_dir);
	if (a.data_dir && a.data_dir[0] != '/')
		return cli_usage("systemd", "--data-dir needs an absolute path, not '%s'",
				 a.data_dir);
	aerr_t err = {0};
	return run(cli, &a, &err) < 0 ? cli_fail(cli, &err) : 0;
}
