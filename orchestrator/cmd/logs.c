/* aegis-deploy logs POD: a pod's container logs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/logs.h"
#include "report.h"

static const char help[] =
	"Usage: aegis-deploy logs [--profile P] [--container NAME] [--tail N] [--follow] POD\n"
	"\n"
	"Show the logs of POD's containers (stdout and stderr).\n"
	"\n"
	"  --container NAME   only this container (default: all of the pod's)\n"
	"  --tail N           only the last N lines of each container (default all)\n"
	"  -f, --follow       keep streaming until the containers stop (Ctrl-C to end)\n"
	"\n";

COMMAND(logs)
{
	const char *only = NULL, *podname = NULL;
	int tail = -1;
	bool following = false;
	static const struct option opts[] = {
		{"container", required_argument, NULL, 'c'},
		{"tail", required_argument, NULL, 'n'},
		{"follow", no_argument, NULL, 'f'},
		{"pod", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hfn:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': only = optarg; break;
		case 'p': podname = optarg; break;
		case 'f': following = true; break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0)
				return cli_usage("logs", "--tail needs a number of lines");
			tail = (int)v;
			break;
		}
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("logs", "invalid option");
		}
	}
	if (!podname && optind < argc)
		podname = argv[optind++];
	if (optind < argc)
		return cli_usage("logs", "unexpected argument '%s'", argv[optind]);
	if (!podname)
		return cli_usage("logs", "which pod? (aegis-deploy logs POD)");

	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, DEPLOYMENT_LENIENT, &err) <
	    0)
		return cli_fail(cli, &err);
	logs_target *targets = NULL;
	size_t n = 0;
	podman *pm = NULL;
	int rc = logs_targets(&d, podname, only, &targets, &n, &err);
	if (rc == 0)
		rc = report_open_podman(cli, &d.cfg, &pm, &err);
	if (rc == 0) {
		fflush(stdout);
		rc = logs_show(pm, targets, n, tail, following, !only && !following, STDOUT_FILENO,
			       &err);
	}
	logs_targets_free(targets, n);
	podman_close(pm);
	deployment_free(&d);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
