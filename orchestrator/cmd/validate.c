/* aegis-deploy validate: every health check of the profile's pods, at once. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/rollout/platformchecks.h"
#include "lib/util/junit.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy validate [--profile P] [--junit FILE]\n"
    "\n"
    "Run every health check (the readiness probe of every container) of the\n"
    "profile's pods concurrently and print a table: pod, container, check, result,\n"
    "latency.  Answering is not enough for the bootstrapped services: OpenBao must\n"
    "be initialised and unsealed (sys/health 200) and every realm of\n"
    "kube/iam/realm.yaml present in Keycloak.  Exit status 0 only if every check\n"
    "passes, 1 otherwise.\n"
    "\n"
    "  --junit FILE   also write a JUnit XML report to FILE (one test case per\n"
    "                 check, a failure with the detail where it failed)\n"
    "\n";

COMMAND(validate)
{
	const char *junit = NULL;
	const struct opt opts[] = {{"junit", 0, OPT_STRING, &junit}, OPT_END};
	int st = opts_parse("validate", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	aerr_t err = {0};
	deployment d;
	podman *pm = NULL;
	if (cli_load(cli, true, DEPLOYMENT_LENIENT | CLI_UNKNOWN_VARS, &d, &pm, &err) < 0)
		return cli_fail(cli, &err);
	validation v;
	int rc = platform_validate(pm, &d, &v, &err);
	podman_close(pm);
	if (rc < 0) {
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	if (cli->json) {
		json_t *js = json_pack("{s:s, s:b, s:i, s:i, s:f, s:o, s:O}", "profile",
				       d.prof.name, "ok", v.failed + v.platform_failed == 0,
				       "passed", (int)(v.n - v.failed), "failed", (int)v.failed,
				       "duration_s", round(v.took * 1000.0) / 1000.0, "checks",
				       validation_checks_json(&d, &v), "platform", v.platform);
		report_print_json(js);
		json_decref(js);
	} else {
		report_validation(&d, &v);
		printf("\n%zu of %zu checks passed (%.2f s)\n", v.n - v.failed, v.n, v.took);
		if (json_array_size(v.platform))
			printf("%zu of %zu edge and SEAL key checks passed\n",
			       json_array_size(v.platform) - v.platform_failed,
			       json_array_size(v.platform));
	}
	int status = v.failed || v.platform_failed ? AEGIS_EFAIL : 0;
	if (junit && junit_write_checks(junit, &d, v.checks, v.n, v.platform, v.took, &err) < 0)
		status = cli_fail(cli, &err);
	validation_free(&v);
	deployment_free(&d);
	return status;
}
