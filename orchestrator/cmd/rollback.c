/* aegis-deploy rollback: deploy a revision of the release history again,
 * with the current secrets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "history.h"
#include "lib/bootstrap.h"
#include "lib/clock.h"
#include "lib/edgecheck.h"
#include "lib/fsutil.h"
#include "lib/history.h"
#include "lib/rollback.h"
#include "lib/state.h"
#include "options.h"
#include "report.h"

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
    "  --json              print the final report, as deploy does\n"
    "\n";

/* progress goes to the reporter, readiness to the bootstrap hook */
struct rollout_ctx {
	reporter *rep;
	bootstrap_hook *hook;
};

static void on_progress(void *ctx, const deployment *d, size_t pod, const rollout_pod *st)
{
	reporter_progress(((struct rollout_ctx *)ctx)->rep, d, pod, st);
}

static int on_ready(void *ctx, deployment *d, size_t pod, aerr_t *err)
{
	struct rollout_ctx *rc = ctx;
	if (edgecheck_on_ready(d, pod, err) < 0)
		return -1;
	return rc->hook ? bootstrap_on_ready(rc->hook, d, pod, err) : 0;
}

/* Roll D out; returns the rollout's result (ERR set on failure). */
static int roll(const struct cli *cli, deployment *d, int timeout_s, bool no_bootstrap,
		rollout_pod *states, double *took, aerr_t *err)
{
	podman *pm = NULL;
	const char *network = config_get(&d->cfg, "AEGIS_NETWORK");
	if (!network)
		network = "aegis-network";
	double t0 = clock_mono_s();
	int rc = rollout_check(d, NULL, err);
	if (rc == 0)
		rc = cli_open_podman(cli, &d->cfg, &pm, err);
	if (rc == 0)
		rc = rollout_prepare(pm, d, network, reporter_pull, NULL, err);
	if (rc == 0) {
		/* what bootstrap generates (unseal keys) belongs with the checkout,
		 * not with the revision's files, which are removed afterwards */
		cleanup_free char *generated = fs_join(cli->root, "generated");
		bootstrap_opts bo = {.generated_dir = generated};
		struct rollout_ctx ctx = {
		    .rep = reporter_new(cli, d, NULL),
		    .hook = no_bootstrap ? NULL : bootstrap_hook_new(d, &bo),
		};
		rollout_opts opts = {
		    .network = network,
		    .timeout_s = timeout_s,
		    .progress = on_progress,
		    .on_ready = on_ready,
		    .ctx = &ctx,
		};
		rc = rollout_run(pm, d, &opts, states, err);
		reporter_finish(ctx.rep);
		reporter_free(ctx.rep);
		bootstrap_hook_free(ctx.hook);
	}
	*took = clock_mono_s() - t0;
	if (cli->json && pm) {
		json_t *js = report_rollout_json(d, states, rc, *took);
		report_print_json(js);
		json_decref(js);
	}
	podman_close(pm);
	return rc;
}

COMMAND(rollback)
{
	int timeout_s = 300;
	bool no_bootstrap = false;
	const struct opt opts[] = {
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    {"no-bootstrap", 0, OPT_BOOL, &no_bootstrap},
	    OPT_END,
	};
	const char *args[1] = {NULL};
	int st = opts_parse("rollback", help, opts, argc, argv, 1, args);
	if (st >= 0)
		return st;
	int rev = 0;
	if (args[0]) {
		char *end = NULL;
		long v = strtol(args[0], &end, 10);
		if (!*args[0] || *end || v < 1 || v > 1000000000)
			return cli_usage("rollback", "REV must be a revision number, not '%s'",
					 args[0]);
		rev = (int)v;
	}
	aerr_t err = {0};
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, &err) < 0)
		return cli_fail(cli, &err);
	cleanup_free char *dir = NULL;
	int rc = state_dir(&cfg, &dir, &err);
	config_free(&cfg);
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
	rollout_pod *states = xcalloc(d.npods, sizeof *states);
	double took = 0;
	rc = roll(cli, &d, timeout_s, no_bootstrap, states, &took, &err);
	for (size_t i = 0; i < d.npods; i++)
		if (states[i].state == ROLL_FAILED)
			report_failure(&d, i, &states[i]);
	history_note_rollback(cli, &d, states, rc, &err, took, rev,
			      json_object_get(target, "source"));
	int status = 0;
	if (rc < 0)
		status = cli_fail(cli, &err);
	else
		cli_info(cli, "%s: rolled back to revision %d in %.1f s", d.prof.name, rev, took);
	for (size_t i = 0; i < d.npods; i++)
		rollout_pod_free(&states[i]);
	free(states);
	deployment_free(&d);
	rollback_cleanup(work);
	json_decref(target);
	return status;
}
