/* aegis-deploy clean: every AEGIS pod, then the named volumes and the network. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/config/config.h"
#include "lib/rollout/rollout.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy clean [--yes] [--timeout SECONDS]\n"
    "\n"
    "Full teardown: stop and remove every AEGIS pod (whatever the profile), then\n"
    "remove the AEGIS named volumes -- ALL DATA in them --, the network and the\n"
    "pods' Podman secrets (aegis-secrets-POD).\n"
    "On a terminal it asks for confirmation; elsewhere --yes is required.\n"
    "\n"
    "  --yes               do not ask\n"
    "  --timeout SECONDS   graceful stop timeout per pod (default 30)\n"
    "\n";

static bool confirm(size_t pods, size_t volumes, const char *network)
{
	fprintf(stderr,
		"This removes %zu AEGIS pod(s), %zu volume(s) with all their data, and the "
		"network %s.\nType 'yes' to continue: ",
		pods, volumes, network);
	char line[32];
	if (!fgets(line, sizeof line, stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "yes") == 0;
}

static void removed(void *ctx, const char *kind, const char *name)
{
	(void)ctx;
	printf("removed %s %s\n", kind, name);
}

COMMAND(clean)
{
	bool yes = false;
	int timeout_s = 30;
	const struct opt opts[] = {
	    {"yes", 'y', OPT_BOOL, &yes},
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    OPT_END,
	};
	int st = opts_parse("clean", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	config cfg;
	if ((st = cli_config(cli, &cfg)) >= 0)
		return st;
	aerr_t err = {0};
	podman *pm = NULL;
	rollout_clean_set set = {0};
	int rc = cli_open_podman(cli, &cfg, &pm, &err);
	if (rc == 0)
		rc = rollout_clean_list(pm, config_get(&cfg, "AEGIS_NETWORK"), &set, &err);
	if (rc == 0 && !yes && !isatty(STDIN_FILENO))
		rc = aerr_set(&err, AEGIS_ECONFIG,
			      "clean removes all AEGIS data; pass --yes to confirm when not on a "
			      "terminal");
	else if (rc == 0 && !yes && !confirm(set.npods, set.nvolumes, set.network))
		cli_info(cli, "nothing removed");
	else if (rc == 0)
		rc = rollout_clean(pm, &set, timeout_s, removed, NULL, &err);
	rollout_clean_set_free(&set);
	podman_close(pm);
	config_free(&cfg);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
