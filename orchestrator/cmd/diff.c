/* aegis-deploy diff: what a deploy would change, per pod, against the live
 * pods or a revision of the release history. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/release/diff.h"
#include "lib/release/state.h"
#include "options.h"
#include "report.h"

/* --exit-code: 1 and 2 already mean failure and usage error */
#define DIFF_EXIT_CHANGES 3

static const char help[] =
    "Usage: aegis-deploy diff [--profile P] [--against REV] [--exit-code] [--json]\n"
    "\n"
    "Render the profile's pods (without --profile: the profile last deployed, by\n"
    "the release history, else the pods deployed) and compare them, per pod, with\n"
    "the live pods (their aegis.io/manifest-hash labels, as deploy does) or with\n"
    "revision REV of the release history: unchanged, changed, added or removed.\n"
    "A changed pod comes with a unified diff of its manifests, secrets as\n"
    "placeholders (<secret:NAME:hmac-sha256:...>).  A live pod's old manifest is\n"
    "the one recorded by the latest revision with its hash (without one, the pod\n"
    "is reported changed, saying so).  Live AEGIS pods outside the profile are\n"
    "listed as removed (deploy does not remove them; teardown does).\n"
    "\n"
    "  --against REV   compare with revision REV (0: the latest) instead of the\n"
    "                  live pods\n"
    "  --exit-code     exit 3 when anything would change, 0 when nothing would\n"
    "  --json          {\"against\", \"profile\", \"changes\", \"pods\": [{\"name\",\n"
    "                  \"status\", \"old_hash\", \"new_hash\", \"diff\", \"note\"}]}\n"
    "\n"
    "Exit status: 0 no changes (or any result without --exit-code), 3 changes\n"
    "(with --exit-code), 1 error, 2 usage or configuration error.\n"
    "\n";

static void print_text(const json_t *js)
{
	const json_t *pods = json_object_get(js, "pods");
	const json_t *against = json_object_get(js, "against");
	size_t counts[4] = {0};
	static const char *const names[] = {"unchanged", "changed", "added", "removed"};
	size_t i;
	json_t *p;
	json_array_foreach(pods, i,
			   p) for (size_t k = 0; k < 4;
				   k++) if (strcmp(json_string_value(json_object_get(p, "status")),
						   names[k]) == 0) counts[k]++;
	if (json_is_integer(against))
		printf("profile %s against revision %d:",
		       json_string_value(json_object_get(js, "profile")),
		       (int)json_integer_value(against));
	else
		printf("profile %s against the live pods:",
		       json_string_value(json_object_get(js, "profile")));
	printf(" %zu changed, %zu added, %zu removed, %zu unchanged\n", counts[1], counts[2],
	       counts[3], counts[0]);
	json_array_foreach(pods, i, p)
	{
		const char *note = json_string_value(json_object_get(p, "note"));
		printf("  %-9s  %s%s%s\n", json_string_value(json_object_get(p, "status")),
		       json_string_value(json_object_get(p, "name")), note ? ": " : "",
		       note ? note : "");
	}
	json_array_foreach(pods, i, p)
	{
		const char *diff = json_string_value(json_object_get(p, "diff"));
		if (diff && *diff)
			printf("\n%s", diff);
	}
}

COMMAND(diff)
{
	const char *against = NULL;
	bool exit_code = false;
	const struct opt opts[] = {
	    {"against", 0, OPT_STRING, &against},
	    {"exit-code", 0, OPT_BOOL, &exit_code},
	    OPT_END,
	};
	int st = opts_parse("diff", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	int rev = -1;
	if (against && cli_revision("diff", "--against needs", against, 0, &rev))
		return AEGIS_ECONFIG;
	aerr_t err = {0};
	deployment d;
	if (cli_load(cli, true, CLI_LAST_PROFILE, &d, NULL, &err) < 0)
		return cli_fail(cli, &err);
	cleanup_free char *dir = NULL;
	json_t *js = NULL;
	podman *pm = NULL;
	json_t *live = NULL;
	int rc = state_dir(&d.cfg, &dir, &err);
	if (rc == 0 && rev >= 0) {
		rc = diff_revision(dir, &d, rev, &js, &err);
	} else if (rc == 0) {
		rc = cli_open_podman(cli, &d.cfg, &pm, &err);
		if (rc == 0)
			rc = podman_list_pods(pm, &live, &err);
		if (rc == 0)
			rc = diff_live(dir, &d, live, &js, &err);
	}
	json_decref(live);
	podman_close(pm);
	deployment_free(&d);
	if (rc < 0)
		return cli_fail(cli, &err);
	if (cli->json)
		report_print_json(js);
	else
		print_text(js);
	bool changes = json_integer_value(json_object_get(js, "changes")) > 0;
	json_decref(js);
	return exit_code && changes ? DIFF_EXIT_CHANGES : 0;
}
