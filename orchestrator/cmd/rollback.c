/* aegis-deploy rollback: deploy a revision of the release history again,
 * with the current secrets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/fsutil.h"
#include "lib/rollback.h"
#include "lib/state.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy rollback [REV] [--timeout SECONDS] [--no-bootstrap]\n"
    "\n"
    "Deploy revision REV of the release history again (default: the last\n"
    "successful deploy, redeploy or rollback before the latest revision; see\n"
    "'history'): its own templates, profile and non-secret values, as the revision\n"
    "recorded them, with the current secrets (.env and the environment) where it\n"
    "has placeholders.  AEGIS_ROOT, AEGIS_STATE_DIR and CONTAINER_SOCK keep their\n"
    "current values.  As with deploy, a pod running with exactly the manifest it\n"
    "would get is kept; only the pods that differ are replaced.  Records a new\n"
    "revision (command rollback) naming the revision it went back to.\n"
    "\n"
    "  --timeout SECONDS   per-pod readiness timeout (default 300)\n"
    "  --no-bootstrap      do not bootstrap OpenBao and Keycloak\n"
    "  --trace FILE        write every pod's phases as a Chrome trace-event JSON file\n"
    "  --json              print the final report, as deploy does\n"
    "\n";

COMMAND(rollback)
{
	int timeout_s = 300;
	bool no_bootstrap = false;
	const char *trace_path = NULL;
	const struct opt opts[] = {
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    {"no-bootstrap", 0, OPT_BOOL, &no_bootstrap},
	    {"trace", 0, OPT_STRING, &trace_path},
	    OPT_END,
	};
	const char *args[1] = {NULL};
	int st = opts_parse("rollback", help, opts, argc, argv, 1, args);
	if (st >= 0)
		return st;
	int rev = 0;
	if (args[0] && cli_revision("rollback", "REV must be", args[0], 1, &rev))
		return AEGIS_ECONFIG;
	aerr_t err = {0};
	cleanup_free char *dir = NULL;
	int rc = cli_state_dir(cli, &dir, &err);
	json_t *target = NULL;
	if (rc == 0)
		rc = rollback_target(dir, rev, &target, &err);
	if (rc < 0)
		return cli_fail(cli, &err);
	rev = (int)json_integer_value(json_object_get(target, "revision"));
	cleanup_free char *work = xasprintf("%s/rollback-XXXXXX", dir);
	if (!mkdtemp(work)) {
		json_decref(target);
		aerr_sys(&err, AEGIS_EFAIL, errno, "cannot create %s", work);
		return cli_fail(cli, &err);
	}
	deployment d;
	if (rollback_load(dir, rev, cli->env_path, work, &d, &err) < 0) {
		rollback_cleanup(work);
		json_decref(target);
		return cli_fail(cli, &err);
	}
	cli_info(cli, "rolling back profile %s to revision %d (%s, %s)", d.prof.name, rev,
		 json_string_value(json_object_get(target, "command")),
		 json_string_value(json_object_get(json_object_get(target, "source"), "commit"))
		     ?: "no source commit");
	/* what bootstrap generates (unseal keys) belongs with the checkout,
	 * not with the revision's files, which are removed afterwards */
	cleanup_free char *generated = fs_join(cli->root, "generated");
	struct deploy_args da = {
	    .timeout_s = timeout_s,
	    .no_bootstrap = no_bootstrap,
	    .trace_path = trace_path,
	    .rollback_of = rev,
	    .source = json_object_get(target, "source"),
	    .generated_dir = generated,
	};
	double took = 0;
	rc = engine_release(cli, "rollback", &d, &da, &took, &err);
	int status = 0;
	if (rc < 0)
		status = cli_fail(cli, &err);
	else
		cli_info(cli, "%s: rolled back to revision %d in %.1f s", d.prof.name, rev, took);
	deployment_free(&d);
	rollback_cleanup(work);
	json_decref(target);
	return status;
}
