/* aegis-deploy plan: the profile's pods in dependency tiers, with the checks
 * that gate each tier. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/config/deployment.h"
#include "options.h"
#include "report.h"

static const char usage_text[] =
    "Usage: aegis-deploy plan [--profile NAME] [--json]\n"
    "\n"
    "Print the order in which the profile's pods are deployed: tiers of pods\n"
    "that do not depend on each other, each pod's dependencies (from its\n"
    "aegis.io/depends-on annotation) and the health check of every container.\n"
    "Unset variables are left as ${VAR}: no secrets are needed.\n"
    "\n";

static void print_names(const char *label, const char *const *names, size_t n)
{
	if (!n)
		return;
	printf("    %s: ", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", names[i]);
	putchar('\n');
}

static void print_text(const deployment *d)
{
	const plan *pl = &d->plan;
	printf("profile %s: %zu pods in %zu tiers\n", d->prof.name, d->npods, pl->ntiers);
	for (size_t t = 0; t < pl->ntiers; t++) {
		printf("tier %zu:", t);
		for (size_t k = 0; k < pl->tiers[t].n; k++)
			printf("%s %s", k ? "," : "", d->pods[pl->tiers[t].pods[k]].name);
		putchar('\n');
		for (size_t k = 0; k < pl->tiers[t].n; k++) {
			size_t i = pl->tiers[t].pods[k];
			const pod *p = &d->pods[i];
			printf("  %s (%s)\n", p->name, p->pod_name);
			const char **after = xcalloc(p->ndepends, sizeof *after);
			size_t nafter = 0;
			for (size_t j = 0; j < p->ndepends; j++)
				if (deployment_pod_index(d, p->depends[j]) >= 0)
					after[nafter++] = p->depends[j];
			print_names("after", after, nafter);
			free(after);
			print_names("external", (const char *const *)pl->external[i],
				    pl->nexternal[i]);
			for (size_t c = 0; c < p->ncontainers; c++) {
				cleanup_free char *check =
				    probe_describe(&p->containers[c].readiness);
				printf("    check %s: %s\n", p->containers[c].name, check);
			}
		}
	}
}

COMMAND(plan)
{
	static const struct opt opts[] = {OPT_END};
	int st = opts_parse("plan", usage_text, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, DEPLOYMENT_LENIENT, &err) <
	    0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_t *js = deployment_plan_json(&d);
		report_print_json(js);
		json_decref(js);
	} else {
		print_text(&d);
	}
	deployment_free(&d);
	return 0;
}
