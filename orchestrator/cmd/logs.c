/* aegis-deploy logs POD: a pod's container logs. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/rollout/logs.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy logs [--profile P] [--container NAME] [--tail N] [--follow] POD\n"
    "\n"
    "Show the logs of POD's containers (stdout and stderr).  POD is any deployed\n"
    "AEGIS pod (with --profile: a pod of that profile).\n"
    "\n"
    "  --container NAME   only this container (default: all of the pod's)\n"
    "  --tail N           only the last N lines of each container (default all)\n"
    "  -f, --follow       keep streaming until the containers stop (Ctrl-C to end)\n"
    "\n";

COMMAND(logs)
{
	const char *only = NULL, *podname = NULL, *pos[1] = {NULL};
	int tail = -1;
	bool following = false;
	const struct opt opts[] = {
	    {"container", 'c', OPT_STRING, &only},
	    {"tail", 'n', OPT_COUNT, &tail},
	    {"follow", 'f', OPT_BOOL, &following},
	    {"pod", 'p', OPT_STRING, &podname},
	    OPT_END,
	};
	int st = opts_parse("logs", help, opts, argc, argv, 1, pos);
	if (st >= 0)
		return st;
	if (podname && pos[0])
		return cli_usage("logs", "unexpected argument '%s'", pos[0]);
	if (!podname)
		podname = pos[0];
	if (!podname)
		return cli_usage("logs", "which pod? (aegis-deploy logs POD)");

	aerr_t err = {0};
	deployment d;
	podman *pm = NULL;
	if (cli_load(cli, true, DEPLOYMENT_LENIENT, &d, &pm, &err) < 0)
		return cli_fail(cli, &err);
	logs_target *targets = NULL;
	size_t n = 0;
	int rc = logs_targets(&d, podname, only, &targets, &n, &err);
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
