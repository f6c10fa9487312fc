/* aegis-deploy setup-user: the dedicated rootless user the platform runs as. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/config/env.h"
#include "lib/config/secretgen.h"
#include "lib/host/setupuser.h"
#include "lib/util/fsutil.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy setup-user [--user NAME] [--home DIR] [--unprivileged-port-start N]\n"
    "                               [--check-only]\n"
    "\n"
    "Set up the dedicated user that runs the platform rootless (as root; safe to\n"
    "run again, a second run changes nothing):\n"
    "  - a system user (default aegis) with a nologin shell and its own home;\n"
    "  - /etc/subuid and /etc/subgid ranges that overlap no other range;\n"
    "  - lingering (loginctl enable-linger) where systemd runs, so its units\n"
    "    start at boot;\n"
    "  - HOME/" SETUPUSER_CONFIG_SUBDIR "/.env (0600, directory 0700, owned by the\n"
    "    user) with every secret generated (init); existing values are kept.\n"
    "\n"
    "  --user NAME    the user (default " SETUPUSER_DEFAULT_USER ")\n"
    "  --home DIR     its home when it is created (default /home/NAME)\n"
    "  --unprivileged-port-start N\n"
    "                 set net.ipv4.ip_unprivileged_port_start to N, now and at boot\n"
    "                 (" SETUPUSER_SYSCTL_FILE "): a rootless edge on\n"
    "                 80/443 needs 80.  Without it, only says what it is\n"
    "  --check-only   change nothing: print what would be done, and the exact\n"
    "                 subuid/subgid line to add\n"
    "\n";

/* The .env: init's logic (create from .env.example with every secret
 * generated, or add only the missing secrets, every other byte kept). */
static int write_env(struct cli *cli, const char *env_path, aerr_t *err)
{
	cleanup_free char *schema = xasprintf("%s/kube/variables.yaml", cli->root);
	cleanup_free char *from = xasprintf("%s/.env.example", cli->root);
	secret_fill done;
	if (secret_fill_env(schema, env_path, from, true, &done, err) < 0)
		return -1;
	report_secret_fill(env_path, from, &done);
	bool created = done.created;
	secret_fill_free(&done);
	if (!created)
		return 0;
	/* the defaults under the product's tree are not the service user's to
	 * write: its keys and bootstrap output live beside its .env */
	cleanup_free char *dir = fs_dirname(env_path);
	cleanup_free char *seal = fs_join(dir, "seal");
	cleanup_free char *generated = fs_join(dir, "generated");
	const char *keys[] = {"SEAL_KEYS_DIR", "AEGIS_GENERATED_DIR"};
	const char *values[] = {seal, generated};
	if (env_update(env_path, 2, keys, values, NULL, err) < 0)
		return -1;
	printf("set SEAL_KEYS_DIR=%s and AEGIS_GENERATED_DIR=%s in %s\n", seal, generated,
	       env_path);
	return 0;
}

COMMAND(setup_user)
{
	setupuser_opts o;
	setupuser_opts_default(&o);
	const struct opt opts[] = {
	    {"user", 0, OPT_STRING, &o.user},
	    {"home", 0, OPT_STRING, &o.home},
	    {"check-only", 0, OPT_BOOL, &o.check_only},
	    {"unprivileged-port-start", 0, OPT_COUNT, &o.port_start, .min = 1, .max = 65535},
	    OPT_END,
	};
	int done = opts_parse("setup-user", help, opts, argc, argv, 0, NULL);
	if (done >= 0)
		return done;
	aerr_t err = {0};
	if (!o.check_only && geteuid() != 0) {
		aerr_set(&err, AEGIS_EFAIL,
			 "setup-user creates a user and edits /etc/subuid: run it as root (sudo "
			 "aegis-deploy setup-user), or with --check-only");
		return cli_fail(cli, &err);
	}
	setupuser_state st = {0};
	int rc = setupuser_user(&o, &st, &err);
	if (rc == 0)
		rc = setupuser_subids(&o, &st, &err);
	if (rc == 0)
		rc = setupuser_linger(&o, &st, &err);
	if (rc == 0)
		rc = setupuser_ports(&o, &st, &err);
	if (rc == 0)
		rc = setupuser_config_dir(&o, &st, &err);
	for (size_t i = 0; i < st.nlines; i++)
		printf("%s\n", st.lines[i]);
	size_t shown = st.nlines;
	int status = 0;
	if (rc == 0 && !o.check_only) {
		fflush(stdout);
		rc = write_env(cli, st.env_path, &err);
		if (rc == 0)
			rc = setupuser_own_env(&o, &st, &err);
	}
	for (size_t i = shown; i < st.nlines; i++)
		printf("%s\n", st.lines[i]);
	if (rc < 0)
		status = cli_fail(cli, &err);
	if (status == 0) {
		printf("next, as %s (its runtime directory needs a session or lingering):\n"
		       "  sudo -u %s aegis-deploy --env %s doctor\n"
		       "  sudo -u %s aegis-deploy --env %s systemd --profile minimal --install\n",
		       o.user, o.user, st.env_path, o.user, st.env_path);
		if (st.incomplete)
			printf("(not everything could be done here: see above)\n");
	}
	setupuser_state_free(&st);
	return status;
}
