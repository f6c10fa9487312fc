/* aegis-deploy systemd: units for the profile (one per pod, the network, the
 * named volumes, aegis-<profile>.target), for review or installed. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/bootstrap/sealkeys.h"
#include "lib/render/systemd.h"
#include "options.h"
#include "report.h"

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
    "                       directory; store the pods' secret values in their\n"
    "                       Podman secrets (aegis-secrets-<pod>, on CONTAINER_SOCK;\n"
    "                       each unit stores its pod's again before it plays it);\n"
    "                       where systemd runs, daemon-reload and enable\n"
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

static void print_result(const struct cli *cli, const deployment *d, const systemd_request *req,
			 const systemd_result *r)
{
	if (cli->json) {
		json_t *o = systemd_result_json(d, r);
		report_print_json(o);
		json_decref(o);
		return;
	}
	if (r->keys.generated)
		printf("generated the SEAL keypair %s (%s)\n", r->keys.private_path,
		       r->keys.fingerprint);
	for (size_t i = 0; i < r->nfiles; i++)
		printf("%s %s\n", r->files[i].changed ? "wrote    " : "unchanged",
		       r->files[i].path);
	if (r->secrets_stored)
		printf("stored   the pods' Podman secrets (aegis-secrets-<pod>)\n");
	const char *sc = r->scope == SYSTEMD_USER ? "systemctl --user" : "systemctl";
	if (!req->install)
		printf("next: review them, then `aegis-deploy systemd --install%s`\n",
		       r->scope == SYSTEMD_USER ? "" : " --system");
	else if (r->enabled)
		printf("reloaded and enabled; start with: %s start %s\n", sc, r->target);
	else
		printf("systemd is not running here (no /run/systemd/system): the units are "
		       "written but not reloaded or enabled; where systemd runs: %s daemon-reload "
		       "&& %s enable --now %s\n",
		       sc, sc, r->target);
}

COMMAND(systemd)
{
	systemd_request req = {
	    .dir = "generated/systemd", .scope = -1, .env_path = cli->env_path, .root = cli->root};
	const char *dir = NULL;
	bool user = false, system = false;
	const struct opt opts[] = {
	    {"dir", 0, OPT_STRING, &dir},
	    {"install", 0, OPT_BOOL, &req.install},
	    {"user", 0, OPT_BOOL, &user},
	    {"system", 0, OPT_BOOL, &system},
	    {"config-dir", 0, OPT_STRING, &req.config_dir},
	    {"data-dir", 0, OPT_STRING, &req.data_dir},
	    {"podman-version", 0, OPT_STRING, &req.podman_version},
	    OPT_END,
	};
	int st = opts_parse("systemd", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	if (user && system)
		return cli_usage("systemd", "--user and --system exclude each other");
	if (user || system)
		req.scope = user ? SYSTEMD_USER : SYSTEMD_SYSTEM;
	if (dir && req.install)
		return cli_usage("systemd", "--dir and --install exclude each other");
	if (dir)
		req.dir = dir;
	const char *rel = req.config_dir && req.config_dir[0] != '/' ? "--config-dir"
			  : req.data_dir && req.data_dir[0] != '/'   ? "--data-dir"
								     : NULL;
	if (rel)
		return cli_usage("systemd", "%s needs an absolute path, not '%s'", rel,
				 rel[2] == 'c' ? req.config_dir : req.data_dir);
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, 0, &err) < 0)
		return cli_fail(cli, &err);
	if (req.install) {
		/* the units' pod secrets hold the SEAL keys: generated when
		 * missing, then rendered again with them */
		keys_result keys;
		int krc = sealkeys_ensure(&d, &keys, &err);
		bool fresh = krc == 0 && (keys.generated || keys.jwt_generated);
		if (fresh)
			cli_info(cli, "generated the SEAL keys in %s (JWT key %s)",
				 config_get(&d.cfg, SEALKEYS_DIR_VAR), keys.jwt_fingerprint);
		keys_result_free(&keys);
		if (krc == 0 && fresh) {
			deployment_free(&d);
			krc = deployment_load(&d, cli->root, cli->env_path, cli->profile, 0, &err);
			if (krc < 0)
				return cli_fail(cli, &err);
		}
		if (krc < 0) {
			deployment_free(&d);
			return cli_fail(cli, &err);
		}
	}
	systemd_result r;
	int rc = systemd_write(&d, &req, &r, &err);
	if (rc == 0)
		print_result(cli, &d, &req, &r);
	systemd_result_free(&r);
	deployment_free(&d);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
