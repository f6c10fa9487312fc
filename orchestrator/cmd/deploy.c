/* aegis-deploy deploy: the profile's pods in dependency order, each tier
 * waiting until every container passes its readiness probe. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"
#include "lib/bootstrap/sealkeys.h"
#include "lib/release/history.h"
#include "lib/release/rotate.h"
#include "lib/release/state.h"
#include "lib/util/fsutil.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy deploy [--profile P] [--timeout SECONDS] [--replace]\n"
    "                           [--no-bootstrap] [--atomic] [--snapshot] [--trace FILE]\n"
    "\n"
    "Render the profile's pods, ensure the network and named volumes exist, pull\n"
    "missing images, then create every pod to replace at once (replacing the pod\n"
    "of the same name; containers not started) and start them tier by tier: a\n"
    "pod's containers start only when every pod it depends on passes its probes.\n"
    "A pod already running, every container up, with exactly the manifest it\n"
    "would be played with (templates, config files and values unchanged) is kept\n"
    "and only probed, so deploying again is quick and restarts nothing.\n"
    "The first pod that fails stops the rollout (pods already up stay up; pods\n"
    "created but never started are removed) and its container, probe, last\n"
    "error and last 20 log lines are shown.\n"
    "As soon as pod-secrets is ready, OpenBao is bootstrapped (bootstrap-secrets),\n"
    "as soon as pod-iam is, Keycloak (bootstrap-keycloak), and OpenBao's OIDC login\n"
    "once both are; the pods of later tiers are then played with the credentials\n"
    "they wrote to .env.\n"
    "A credential that its service keeps in its data (a variable with 'rotate:' in\n"
    "kube/variables.yaml, e.g. POSTGRES_PASSWORD) changed by hand in .env since the\n"
    "last successful revision, while its volume exists, is refused (exit 2) with\n"
    "nothing touched: use `aegis-deploy rotate VARIABLE` instead.\n"
    "\n"
    "  --timeout SECONDS   per-pod readiness timeout (default 300)\n"
    "  --replace           replace every pod, even those that are unchanged\n"
    "  --no-bootstrap      do not bootstrap OpenBao and Keycloak\n"
    "  --atomic            if the rollout fails, restore the pods it replaced to\n"
    "                      their manifests of the last successful revision (see\n"
    "                      'history') and wait for them; still exits 1.  Implies\n"
    "                      --snapshot, and the pods whose volumes it saved get that\n"
    "                      data back before they are played again\n"
    "  --snapshot          before the rollout, back up the named volumes of every pod\n"
    "                      it will replace (each stopped while copied, then started\n"
    "                      again) into AEGIS_STATE_DIR/snapshots/ID (0700, files\n"
    "                      0600); the revision records it, 'rollback --with-data'\n"
    "                      puts it back, and after a successful deploy only the\n"
    "                      newest AEGIS_SNAPSHOT_KEEP (default 5) are kept\n"
    "  --trace FILE        write every pod's phases (created ahead, started, probed\n"
    "                      until ready, bootstrap) as a Chrome trace-event JSON file,\n"
    "                      to open in Perfetto (ui.perfetto.dev) or chrome://tracing\n"
    "  --json              print a final report (per pod: tier, start, ready, result)\n"
    "\n";

/* A credential its service keeps (a `rotate:` variable) edited by hand in
 * .env since the last successful revision is refused before anything is
 * touched: the service still holds the old one (lib/release/rotate.h). */
static int refuse_hand_edits(const struct cli *cli, deployment *d, aerr_t *err)
{
	cleanup_free char *dir = NULL;
	podman *pm = NULL;
	int rc = state_dir(&d->cfg, &dir, err);
	cleanup_free char *history = rc == 0 ? fs_join(dir, HISTORY_DIR) : NULL;
	if (rc < 0 || !fs_exists(history))
		return rc; /* nothing deployed yet: nothing to compare with */
	rc = cli_open_podman(cli, &d->cfg, &pm, err);
	if (rc == 0)
		rc = rotate_refuse_hand_edits(dir, d, pm, err);
	podman_close(pm);
	return rc;
}

int deploy_main(struct cli *cli, const struct deploy_args *args)
{
	aerr_t err = {0};
	deployment d;
	/* redeploy without --profile finds its pod among those deployed */
	if (cli_load(cli, args->only_pod != NULL, CLI_UNKNOWN_VARS, &d, NULL, &err) < 0)
		return cli_fail(cli, &err);
	/* the pods hold the SEAL keys: generated when missing, as
	 * generate-keys would, and then rendered again with them */
	keys_result keys = {0};
	double took = 0;
	int rc = refuse_hand_edits(cli, &d, &err);
	if (rc == 0)
		rc = sealkeys_ensure(&d, &keys, &err);
	bool fresh = rc == 0 && (keys.generated || keys.jwt_generated);
	keys_result_free(&keys);
	if (fresh) {
		deployment_free(&d);
		if (cli_load(cli, args->only_pod != NULL, 0, &d, NULL, &err) < 0)
			return cli_fail(cli, &err);
	}
	if (rc == 0)
		rc = engine_release(cli, args->only_pod ? "redeploy" : "deploy", &d, args, &took,
				    &err);
	int status = 0;
	if (rc < 0)
		status = cli_fail(cli, &err);
	else
		cli_info(cli, "%s: %s ready in %.1f s", d.prof.name,
			 args->only_pod ? args->only_pod : "all pods", took);
	deployment_free(&d);
	return status;
}

COMMAND(deploy)
{
	struct deploy_args args = {.timeout_s = 300};
	const struct opt opts[] = {
	    {"timeout", 0, OPT_SECONDS, &args.timeout_s},
	    {"replace", 0, OPT_BOOL, &args.replace},
	    {"no-bootstrap", 0, OPT_BOOL, &args.no_bootstrap},
	    {"atomic", 0, OPT_BOOL, &args.atomic},
	    {"snapshot", 0, OPT_BOOL, &args.snapshot},
	    {"trace", 0, OPT_STRING, &args.trace_path},
	    OPT_END,
	};
	int st = opts_parse("deploy", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	return deploy_main(cli, &args);
}
