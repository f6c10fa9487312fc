/* aegis-deploy deploy: the profile's pods in dependency order, each tier
 * waiting until every container passes its readiness probe. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "history.h"
#include "lib/bootstrap.h"
#include "lib/clock.h"
#include "lib/desired.h"
#include "lib/edgecheck.h"
#include "lib/rollout.h"
#include "lib/sealkeys.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy deploy [--profile P] [--timeout SECONDS] [--replace]\n"
    "                           [--no-bootstrap] [--atomic]\n"
    "\n"
    "Render the profile's pods, ensure the network and named volumes exist, pull\n"
    "missing images, then deploy tier by tier: every pod of a tier is played\n"
    "concurrently (replacing an existing pod of the same name) and the next tier\n"
    "starts only when every container of the tier passes its readiness probe.\n"
    "A pod already running, every container up, with exactly the manifest it\n"
    "would be played with (templates, config files and values unchanged) is kept\n"
    "and only probed, so deploying again is quick and restarts nothing.\n"
    "The first pod that fails stops the rollout (pods already up stay up) and its\n"
    "container, probe, last error and last 20 log lines are shown.\n"
    "As soon as pod-secrets is ready, OpenBao is bootstrapped (bootstrap-secrets),\n"
    "as soon as pod-iam is, Keycloak (bootstrap-keycloak), and OpenBao's OIDC login\n"
    "once both are; the pods of later tiers are then played with the credentials\n"
    "they wrote to .env.\n"
    "\n"
    "  --timeout SECONDS   per-pod readiness timeout (default 300)\n"
    "  --replace           replace every pod, even those that are unchanged\n"
    "  --no-bootstrap      do not bootstrap OpenBao and Keycloak\n"
    "  --atomic            if the rollout fails, restore the pods it replaced to\n"
    "                      their manifests of the last successful revision (see\n"
    "                      'history') and wait for them; still exits 1\n"
    "  --json              print a final report (per pod: tier, start, ready, result)\n"
    "\n";

/* The rollout's one context: progress goes to the reporter, readiness to
 * the bootstrap hook. */
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

static void trace(void *ctx, const char *line)
{
	cli_debug(ctx, "  bootstrap: %s", line);
}

/* One line per service: what its bootstrap created, changed, kept. */
static void print_bootstrap(const struct cli *cli, const json_t *report)
{
	const char *service;
	json_t *items;
	json_object_foreach(json_object_get(report, "services"), service, items)
	{
		cli_info(cli, "bootstrap %s: %zu created, %zu changed, %zu unchanged", service,
			 desired_count(items, DESIRED_CREATED),
			 desired_count(items, DESIRED_CHANGED),
			 desired_count(items, DESIRED_UNCHANGED));
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(report, "env_changed"), i, v)
	    cli_info(cli, "bootstrap: %s updated in .env", json_string_value(v));
}

int deploy_main(struct cli *cli, const struct deploy_args *args)
{
	const char *only_pod = args->only_pod;
	aerr_t err = {0};
	deployment d;
	/* redeploy without --profile finds its pod among those deployed */
	if (cli_load(cli, only_pod != NULL, 0, &d, NULL, &err) < 0)
		return cli_fail(cli, &err);
	/* the pods mount the SEAL keypair: generated when missing, as
	 * generate-keys would */
	keys_result keys;
	if (sealkeys_ensure(&d, &keys, &err) < 0) {
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	keys_result_free(&keys);
	bool *selected = NULL;
	if (only_pod) {
		int idx = deployment_find_pod(&d, only_pod, &err);
		if (idx < 0) {
			deployment_free(&d);
			return cli_fail(cli, &err);
		}
		selected = xcalloc(d.npods, sizeof *selected);
		selected[idx] = true;
	}
	podman *pm = NULL;
	rollout_pod *states = xcalloc(d.npods, sizeof *states);
	/* kube/variables.yaml gives it its default */
	const char *network = config_get(&d.cfg, "AEGIS_NETWORK");
	double t0 = clock_mono_s();
	int rc = rollout_check(&d, selected, &err);
	if (rc == 0)
		rc = cli_open_podman(cli, &d.cfg, &pm, &err);
	reporter *rep = NULL;
	if (rc == 0) {
		cli_info(cli, "deploying profile %s (%zu pods, %zu tiers) on network %s",
			 d.prof.name, d.npods, d.plan.ntiers, network);
		rc = rollout_prepare(pm, &d, network, reporter_pull, (void *)cli, &err);
	}
	bootstrap_hook *hook = NULL;
	if (rc == 0) {
		rep = reporter_new(cli, &d, selected);
		bootstrap_opts bo = {.trace = trace, .trace_ctx = cli};
		if (!args->no_bootstrap)
			hook = bootstrap_hook_new(&d, &bo);
		struct rollout_ctx ctx = {.rep = rep, .hook = hook};
		rollout_opts opts = {
		    .network = network,
		    .timeout_s = args->timeout_s,
		    .replace = args->replace,
		    .selected = selected,
		    .progress = on_progress,
		    .on_ready = on_ready,
		    .ctx = &ctx,
		};
		rc = rollout_run(pm, &d, &opts, states, &err);
		reporter_finish(rep);
	}
	json_t *bootstrap = hook ? bootstrap_hook_report(hook) : NULL;
	bootstrap_hook_free(hook);
	double took = clock_mono_s() - t0;
	for (size_t i = 0; i < d.npods; i++)
		if (states[i].state == ROLL_FAILED)
			report_failure(&d, i, &states[i]);
	if (cli->json && pm) {
		json_t *js = report_rollout_json(&d, states, rc, took);
		if (bootstrap)
			json_object_set(js, "bootstrap", bootstrap);
		report_print_json(js);
		json_decref(js);
	}
	if (bootstrap && !cli->json)
		print_bootstrap(cli, bootstrap);
	json_decref(bootstrap);
	history_note(cli, only_pod ? "redeploy" : "deploy", &d, states, rc, &err, took);
	int status = 0;
	if (rc < 0)
		status = cli_fail(cli, &err);
	else
		cli_info(cli, "%s: %s ready in %.1f s", d.prof.name,
			 only_pod ? only_pod : "all pods", took);
	reporter_free(rep);
	for (size_t i = 0; i < d.npods; i++)
		rollout_pod_free(&states[i]);
	free(states);
	free(selected);
	podman_close(pm);
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
	    {"atomic", 0, OPT_BOOL, &deploy_atomic},
	    OPT_END,
	};
	int st = opts_parse("deploy", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	return deploy_main(cli, &args);
}
