/* aegis-deploy registry-login: podman login to ghcr.io with the token on
 * stdin, never in argv. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "lib/config/config.h"
#include "lib/util/spawn.h"
#include "lib/util/wipe.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy registry-login [--registry HOST]\n"
    "\n"
    "Log in to the container registry (default ghcr.io) with GHCR_USERNAME and\n"
    "GHCR_TOKEN from the configuration.  The token is handed to 'podman login' on\n"
    "its standard input, never on its command line.\n"
    "\n"
    "  --registry HOST   registry to log in to (default ghcr.io)\n"
    "\n";

COMMAND(registry_login)
{
	const char *registry = "ghcr.io";
	const struct opt opts[] = {
	    {"registry", 0, OPT_STRING, &registry},
	    OPT_END,
	};
	int done = opts_parse("registry-login", help, opts, argc, argv, 0, NULL);
	if (done >= 0)
		return done;
	config cfg;
	if ((done = cli_config(cli, &cfg)) >= 0)
		return done;
	aerr_t err = {0};
	const char *user = config_get(&cfg, "GHCR_USERNAME");
	const char *token = config_get(&cfg, "GHCR_TOKEN");
	int rc = 0;
	if (!user || !*user || !token || !*token) {
		rc =
		    aerr_set(&err, AEGIS_ECONFIG,
			     "%s is not set: registry-login needs GHCR_USERNAME (your GitHub user) "
			     "and GHCR_TOKEN (a personal access token with read:packages) in %s",
			     (!user || !*user) ? "GHCR_USERNAME" : "GHCR_TOKEN", cfg.env_path);
		config_free(&cfg);
		return cli_fail(cli, &err);
	}
	cleanup_free char *bin = spawn_which("podman");
	char *argv_login[] = {
	    bin, "login", "--username", (char *)user, "--password-stdin", (char *)registry, NULL};
	char *input = xasprintf("%s\n", token);
	int st = 0;
	if (!bin)
		rc = aerr_set(&err, AEGIS_ECONFIG,
			      "podman is not installed: run `make setup` (scripts/setup.sh)");
	else if (spawn_run_input(argv_login, input, strlen(input), &st, &err) < 0)
		rc = -1;
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		rc = aerr_set(&err, AEGIS_EFAIL,
			      "podman login %s failed as %s (see its message above); check "
			      "GHCR_TOKEN has the read:packages scope",
			      registry, user);
	wipe_free(input);
	config_free(&cfg);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
