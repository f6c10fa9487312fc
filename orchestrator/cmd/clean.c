/* aegis-deploy clean: every AEGIS pod, then the named volumes and the network. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/config.h"
#include "lib/profile.h"
#include "report.h"

static const char help[] =
	"Usage: aegis-deploy clean [--yes] [--timeout SECONDS]\n"
	"\n"
	"Full teardown: stop and remove every AEGIS pod (whatever the profile), then\n"
	"remove the AEGIS named volumes -- ALL DATA in them -- and the network.\n"
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

COMMAND(clean)
{
	bool yes = false;
	int timeout_s = 30;
	static const struct option opts[] = {
		{"yes", no_argument, NULL, 'y'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
		switch (c) {
		case 'y': yes = true; break;
		case 't':
			if (cli_parse_seconds("clean", optarg, &timeout_s))
				return AEGIS_ECONFIG;
			break;
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("clean", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage("clean", "unexpected argument '%s'", argv[optind]);
	aerr_t err = {0};
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, &err) < 0)
		return cli_fail(cli, &err);
	const char *network = config_get(&cfg, "AEGIS_NETWORK");
	if (!network)
		network = "aegis-network";
	podman *pm = NULL;
	json_t *pods = NULL;
	char **volumes = NULL;
	size_t nvol = 0;
	int rc = report_open_podman(cli, &cfg, &pm, &err);
	if (rc == 0)
		rc = podman_list_pods(pm, &pods, &err);
	if (rc == 0)
		rc = podman_list_volumes(pm, &volumes, &nvol, &err);
	if (rc == 0 && !yes) {
		if (!isatty(STDIN_FILENO)) {
			rc = aerr_set(&err, AEGIS_ECONFIG,
				      "clean removes all AEGIS data; pass --yes to confirm when not "
				      "on a terminal");
		} else if (!confirm(json_array_size(pods), nvol, network)) {
			cli_info(cli, "nothing removed");
			goto out;
		}
	}
	size_t i;
	json_t *p;
	json_array_foreach(pods, i, p)
	{
		if (rc < 0)
			break;
		const char *name = json_string_value(json_object_get(p, "Name"));
		if (!name)
			continue;
		rc = podman_stop_pod(pm, name, timeout_s, &err);
		if (rc == 0)
			rc = podman_remove_pod(pm, name, &err);
		if (rc == 0)
			printf("removed pod %s\n", name);
	}
	for (size_t v = 0; rc == 0 && v < nvol; v++) {
		rc = podman_volume_remove(pm, volumes[v], &err);
		if (rc == 0)
			printf("removed volume %s\n", volumes[v]);
	}
	if (rc == 0) {
		bool exists = false;
		rc = podman_network_exists(pm, network, &exists, &err);
		if (rc == 0 && exists) {
			rc = podman_network_remove(pm, network, &err);
			if (rc == 0)
				printf("removed network %s\n", network);
		}
	}
out:
	json_decref(pods);
	strv_free(volumes, nvol);
	podman_close(pm);
	config_free(&cfg);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
