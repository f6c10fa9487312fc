/* aegis-deploy rollback: deploy a revision of the release history again,
 * with the current secrets and host values. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/rollback.h"
#include "lib/state.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy rollback [REV] [--timeout SECONDS] [--no-bootstrap]\n"
    "\n"
    "Deploy revision REV of the release history again (default: the last\n"
    "successful deploy, redeploy or rollback before the latest revision; see\n"
    "'history'): its own templates, profile and the values of the variables that\n"
    "describe the release, as the revision recorded them.  Secrets and the\n"
    "variables that describe the host (paths, sockets, addresses: 'describes:\n"
    "host' in kube/variables.yaml, e.g. AEGIS_GENERATED_DIR, SEAL_KEYS_DIR,\n"
    "AEGIS_STATE_DIR, CONTAINER_SOCK) keep their current values (.env and the\n"
    "environment).  As with deploy, a pod running with exactly the manifest it\n"
    "would get is kept; only the pods that differ are replaced.  Records a new\n"
    "revision (command rollback) naming the revision it went back to.\n"
    "\n"
    "  --timeout SECONDS   per-pod readiness timeout (default 300)\n"
    "  --no-bootstrap      do not bootstrap OpenBao and Keycloak\n"
    "  --trace FILE        write every pod's phases as a Chrome trace-event JSON file\n"
    "  --json              print the final report, as deploy does\n"
    "\n";

/* The revision to go back to (REV; 0: the default) into *TARGET, and its
 * deployment into D, rebuilt in *WORK (a new directory beside the history,
 * which the caller removes) with the current configuration's secrets and
 * host values. */
static int load(const struct cli *cli, int rev, json_t **target, char **work, deployment *d,
		aerr_t *err)
{
	config current;
	if (config_load(&current, cli->root, cli->env_path, err) < 0)
		return -1;
	cleanup_free char *dir = NULL;
	int rc = state_dir(&current, &dir, err);
	if (rc == 0)
		rc = rollback_target(dir, rev, target, err);
	if (rc == 0) {
		rev = (int)json_integer_value(json_object_get(*target, "revision"));
		*work = xasprintf("%s/rollback-XXXXXX", dir);
		if (!mkdtemp(*work))
			rc = aerr_sys(err, AEGIS_EFAIL, errno, "cannot create %s", *work);
		else
			rc = rollback_load(dir, rev, &current, *work, d, err);
	}
	config_free(&current);
	return rc;
}

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
	json_t *target = NULL;
	cleanup_free char *work = NULL;
	deployment d;
	int rc = load(cli, rev, &target, &work, &d, &err);
	int status = 0;
	if (rc == 0) {
		rev = (int)json_integer_value(json_object_get(target, "revision"));
		cli_info(
		    cli, "rolling back profile %s to revision %d (%s, %s)", d.prof.name, rev,
		    json_string_value(json_object_get(target, "command")),
		    json_string_value(json_object_get(json_object_get(target, "source"), "commit"))
			?: "no source commit");
		struct deploy_args da = {
		    .timeout_s = timeout_s,
		    .no_bootstrap = no_bootstrap,
		    .trace_path = trace_path,
		    .rollback_of = rev,
		    .source = json_object_get(target, "source"),
		};
		double took = 0;
		rc = engine_release(cli, "rollback", &d, &da, &took, &err);
		if (rc == 0)
			cli_info(cli, "%s: rolled back to revision %d in %.1f s", d.prof.name, rev,
				 took);
		deployment_free(&d);
	}
	if (rc < 0)
		status = cli_fail(cli, &err);
	rollback_cleanup(work);
	json_decref(target);
	return status;
}
