/* aegis-deploy deploy: the profile's pods in dependency order, each tier
 * waiting until every container passes its readiness probe. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/rollout.h"
#include "report.h"

static const char help[] =
	"Usage: aegis-deploy deploy [--profile P] [--timeout SECONDS] [--replace]\n"
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
	"\n"
	"  --timeout SECONDS   per-pod readiness timeout (default 300)\n"
	"  --replace           replace every pod, even those that are unchanged\n"
	"  --json              print a final report (per pod: tier, start, ready, result)\n"
	"\n";

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int deploy_main(struct cli *cli, const struct deploy_args *args)
{
	const char *only_pod = args->only_pod;
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, 0, &err) < 0)
		return cli_fail(cli, &err);
	bool *selected = NULL;
	if (only_pod) {
		int idx = deployment_pod_index(&d, only_pod);
		if (idx < 0) {
			char list[1024] = "";
			for (size_t i = 0; i < d.npods; i++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
					 i ? ", " : "", d.pods[i].name);
			aerr_set(&err, AEGIS_ECONFIG, "unknown pod '%s' in profile %s; valid: %s",
				 only_pod, d.prof.name, list);
			deployment_free(&d);
			return cli_fail(cli, &err);
		}
		selected = xcalloc(d.npods, sizeof *selected);
		selected[idx] = true;
	}
	podman *pm = NULL;
	rollout_pod *states = xcalloc(d.npods, sizeof *states);
	const char *network = config_get(&d.cfg, "AEGIS_NETWORK");
	if (!network)
		network = "aegis-network";
	double t0 = mono();
	int rc = rollout_check(&d, selected, &err);
	if (rc == 0)
		rc = report_open_podman(cli, &d.cfg, &pm, &err);
	reporter *rep = NULL;
	if (rc == 0) {
		cli_info(cli, "deploying profile %s (%zu pods, %zu tiers) on network %s", d.prof.name,
			 d.npods, d.plan.ntiers, network);
		rc = rollout_prepare(pm, &d, network, reporter_pull, NULL, &err);
	}
	if (rc == 0) {
		rep = reporter_new(cli, &d, states);
		rollout_opts opts = {
			.network = network,
			.timeout_s = args->timeout_s,
			.replace = args->replace,
			.selected = selected,
			.progress = reporter_progress,
			.ctx = rep,
		};
		rc = rollout_run(pm, &d, &opts, states, &err);
		reporter_finish(rep);
	}
	double took = mono() - t0;
	for (size_t i = 0; i < d.npods; i++)
		if (states[i].state == ROLL_FAILED)
			report_failure(&d, i, &states[i]);
	if (cli->json && pm) {
		json_t *js = report_rollout_json(&d, states, rc, took);
		report_print_json(js);
		json_decref(js);
	}
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
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"replace", no_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_parse_seconds("deploy", optarg, &args.timeout_s))
				return AEGIS_ECONFIG;
			break;
		case 'r': args.replace = true; break;
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("deploy", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage("deploy", "unexpected argument '%s'", argv[optind]);
	return deploy_main(cli, &args);
}
