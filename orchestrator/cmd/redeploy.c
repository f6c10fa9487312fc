/* aegis-deploy redeploy POD: re-render and replace one pod, wait for ready;
 * the other pods are not touched. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static const char help[] =
	"Usage: aegis-deploy redeploy [--profile P] [--timeout SECONDS] POD\n"
	"       aegis-deploy redeploy --pod POD\n"
	"\n"
	"Re-render POD from its template and the current configuration, replace it,\n"
	"and wait until it is ready.  Other pods and their containers are untouched.\n"
	"\n"
	"  --pod POD           the pod to redeploy (or give it as the argument)\n"
	"  --timeout SECONDS   readiness timeout (default 300)\n"
	"  --no-bootstrap      do not bootstrap OpenBao or Keycloak (secrets, iam) once ready\n"
	"\n";

COMMAND(redeploy)
{
	int timeout_s = 300;
	const char *pod = NULL;
	bool no_bootstrap = false;
	static const struct option opts[] = {
		{"pod", required_argument, NULL, 'p'},
		{"timeout", required_argument, NULL, 't'},
		{"no-bootstrap", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': pod = optarg; break;
		case 'n': no_bootstrap = true; break;
		case 't':
			if (cli_parse_seconds("redeploy", optarg, &timeout_s))
				return AEGIS_ECONFIG;
			break;
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("redeploy", "invalid option");
		}
	}
	if (!pod && optind < argc)
		pod = argv[optind++];
	if (optind < argc)
		return cli_usage("redeploy", "unexpected argument '%s'", argv[optind]);
	if (!pod)
		return cli_usage("redeploy", "which pod? (aegis-deploy redeploy POD)");
	struct deploy_args args = {
		.only_pod = pod, .timeout_s = timeout_s, .replace = true, .no_bootstrap = no_bootstrap};
	return deploy_main(cli, &args);
}
