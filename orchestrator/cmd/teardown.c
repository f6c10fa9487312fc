/* aegis-deploy teardown: stop and remove the profile's pods in reverse
 * dependency order; volumes and the network are kept. */
#include <stdio.h>

#include "cli.h"
#include "engine.h"
#include "lib/rollout/rollout.h"
#include "lib/util/clock.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy teardown [--profile P] [--timeout SECONDS] [--trace FILE]\n"
    "\n"
    "Stop the profile's pods gracefully in reverse dependency order and remove\n"
    "them.  Named volumes (your data) and the network are kept; see 'clean'.\n"
    "\n"
    "  --timeout SECONDS   graceful stop timeout per pod (default 30)\n"
    "  --trace FILE        write each pod's wait, stop and removal as a Chrome\n"
    "                      trace-event JSON file (Perfetto, chrome://tracing)\n"
    "\n";

static void removed(void *ctx, const pod *p, bool existed)
{
	const struct cli *cli = ctx;
	cli_info(cli, "%s %s (%s)", existed ? "removed" : "absent ", p->name, p->pod_name);
}

COMMAND(teardown)
{
	int timeout_s = 30;
	const char *trace_path = NULL;
	const struct opt opts[] = {{"timeout", 0, OPT_SECONDS, &timeout_s},
				   {"trace", 0, OPT_STRING, &trace_path},
				   OPT_END};
	int st = opts_parse("teardown", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	aerr_t err = {0};
	deployment d;
	podman *pm = NULL;
	if (cli_load(cli, true, DEPLOYMENT_LENIENT, &d, &pm, &err) < 0)
		return cli_fail(cli, &err);
	trace *tr = trace_path ? trace_new() : NULL;
	double t0 = clock_mono_s();
	int rc = rollout_teardown(pm, &d, timeout_s, tr, removed, cli, &err);
	if (tr) {
		trace_track(tr, 0, "teardown");
		trace_span(tr, 0, "teardown", t0, clock_mono_s());
		aerr_t terr = {0};
		if (trace_write(tr, trace_path, &terr) < 0)
			fprintf(stderr, "aegis-deploy: warning: %s\n", terr.msg);
		trace_free(tr);
	}
	history_note(cli, "teardown", &d, NULL, rc, &err, -1, NULL, NULL);
	podman_close(pm);
	deployment_free(&d);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
