/* aegis-deploy redeploy POD: re-render and replace one pod, wait for ready;
 * the other pods are not touched. */
#include <stdio.h>

#include "cli.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy redeploy [--profile P] [--timeout SECONDS] [--trace FILE] POD\n"
    "       aegis-deploy redeploy --pod POD\n"
    "\n"
    "Re-render POD from its template and the current configuration, replace it,\n"
    "and wait until it is ready.  Other pods and their containers are untouched.\n"
    "\n"
    "  --pod POD           the pod to redeploy (or give it as the argument)\n"
    "  --timeout SECONDS   readiness timeout (default 300)\n"
    "  --no-bootstrap      do not bootstrap OpenBao or Keycloak (secrets, iam) once ready\n"
    "  --trace FILE        write the pod's phases as a Chrome trace-event JSON file\n"
    "\n";

COMMAND(redeploy)
{
	int timeout_s = 300;
	const char *pod = NULL;
	bool no_bootstrap = false;
	const char *trace_path = NULL;
	const char *pos[1] = {NULL};
	const struct opt opts[] = {
	    {"pod", 0, OPT_STRING, &pod},
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    {"no-bootstrap", 0, OPT_BOOL, &no_bootstrap},
	    {"trace", 0, OPT_STRING, &trace_path},
	    OPT_END,
	};
	int st = opts_parse("redeploy", help, opts, argc, argv, 1, pos);
	if (st >= 0)
		return st;
	if (pod && pos[0])
		return cli_usage("redeploy", "unexpected argument '%s'", pos[0]);
	if (!pod)
		pod = pos[0];
	if (!pod)
		return cli_usage("redeploy", "which pod? (aegis-deploy redeploy POD)");
	struct deploy_args args = {.only_pod = pod,
				   .timeout_s = timeout_s,
				   .replace = true,
				   .no_bootstrap = no_bootstrap,
				   .trace_path = trace_path};
	return deploy_main(cli, &args);
}
