/* aegis-deploy teardown: stop and remove the profile's pods in reverse
 * dependency order; volumes and the network are kept. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "history.h"
#include "lib/rollout.h"
#include "report.h"

static const char help[] =
	"Usage: aegis-deploy teardown [--profile P] [--timeout SECONDS]\n"
	"\n"
	"Stop the profile's pods gracefully in reverse dependency order and remove\n"
	"them.  Named volumes (your data) and the network are kept; see 'clean'.\n"
	"\n"
	"  --timeout SECONDS   graceful stop timeout per pod (default 30)\n"
	"\n";

static void removed(void *ctx, const pod *p, bool existed)
{
	const struct cli *cli = ctx;
	cli_info(cli, "%s %s (%s)", existed ? "removed" : "absent ", p->name, p->pod_name);
}

COMMAND(teardown)
{
	int timeout_s = 30;
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_parse_seconds("teardown", optarg, &timeout_s))
				return AEGIS_ECONFIG;
			break;
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("teardown", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage("teardown", "unexpected argument '%s'", argv[optind]);
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, DEPLOYMENT_LENIENT, &err) <
	    0)
		return cli_fail(cli, &err);
	podman *pm = NULL;
	int rc = cli_open_podman(cli, &d.cfg, &pm, &err);
	if (rc == 0)
		rc = rollout_teardown(pm, &d, timeout_s, removed, cli, &err);
	history_note(cli, "teardown", &d, NULL, rc, &err, -1);
	podman_close(pm);
	deployment_free(&d);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
