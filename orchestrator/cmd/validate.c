/* aegis-deploy validate: every health check of the profile's pods, at once. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/bootstrap.h"
#include "lib/clock.h"
#include "lib/junit.h"
#include "lib/platformchecks.h"
#include "lib/rollout.h"
#include "lib/validate.h"
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

/* The edge routes and SEAL keys, after the containers' checks. */
static void print_platform(json_t *rows)
{
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		bool ok = json_is_true(json_object_get(r, "ok"));
		const char *result = !ok					   ? "FAIL"
				     : json_is_true(json_object_get(r, "warning")) ? "warn"
										   : "ok";
		printf("%-14s %-24s %-34s %-6s %9s  %s\n",
		       json_string_value(json_object_get(r, "pod")),
		       json_string_value(json_object_get(r, "kind")),
		       json_string_value(json_object_get(r, "check")), result, "",
		       ok && strcmp(result, "warn") != 0
			   ? ""
			   : json_string_value(json_object_get(r, "detail")));
	}
}

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
	if (cli_load(cli, true, DEPLOYMENT_LENIENT, &d, &pm, &err) < 0)
		return cli_fail(cli, &err);
	check *checks = NULL;
	size_t n = 0;
	double t0 = clock_mono_s();
	if (validate_run(pm, &d, bootstrap_validate_check, &checks, &n, &err) < 0) {
		podman_close(pm);
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	json_t *more = NULL;
	size_t more_failed = 0;
	if (platform_checks_run(pm, &d, &more, &more_failed, &err) < 0) {
		checks_free(checks, n);
		podman_close(pm);
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	double took = clock_mono_s() - t0;
	size_t failed = 0;
	for (size_t i = 0; i < n; i++)
		failed += !checks[i].ok;
	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const check *k = &checks[i];
			const pod *p = &d.pods[k->pod];
			json_array_append_new(
			    arr,
			    json_pack("{s:s, s:s, s:s, s:b, s:f, s:s}", "pod", p->name, "container",
				      p->containers[k->container].name, "check", k->target, "ok",
				      k->ok, "latency_ms", round(k->latency_ms * 10.0) / 10.0,
				      "detail", k->detail));
		}
		json_t *js = json_pack(
		    "{s:s, s:b, s:i, s:i, s:f, s:o, s:O}", "profile", d.prof.name, "ok",
		    failed + more_failed == 0, "passed", (int)(n - failed), "failed", (int)failed,
		    "duration_s", round(took * 1000.0) / 1000.0, "checks", arr, "platform", more);
		report_print_json(js);
		json_decref(js);
	} else {
		printf("%-14s %-24s %-34s %-6s %9s  %s\n", "POD", "CONTAINER", "CHECK", "RESULT",
		       "LATENCY", "DETAIL");
		for (size_t i = 0; i < n; i++) {
			const check *k = &checks[i];
			const pod *p = &d.pods[k->pod];
			printf("%-14s %-24s %-34s %-6s %7.0fms  %s\n", p->name,
			       p->containers[k->container].name, k->target, k->ok ? "ok" : "FAIL",
			       k->latency_ms, k->ok ? "" : k->detail);
		}
		print_platform(more);
		printf("\n%zu of %zu checks passed (%.2f s)\n", n - failed, n, took);
		if (json_array_size(more))
			printf("%zu of %zu edge and SEAL key checks passed\n",
			       json_array_size(more) - more_failed, json_array_size(more));
	}
	int status = failed || more_failed ? AEGIS_EFAIL : 0;
	if (junit && junit_write_checks(junit, &d, checks, n, more, took, &err) < 0)
		status = cli_fail(cli, &err);
	json_decref(more);
	checks_free(checks, n);
	podman_close(pm);
	deployment_free(&d);
	return status;
}
