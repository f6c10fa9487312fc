/* aegis-deploy status: the profile's pods as Podman sees them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/release/state.h"
#include "lib/rollout/images.h"
#include "lib/rollout/status.h"
#include "lib/util/strbuf.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy status [--profile P]\n"
    "\n"
    "Without --profile: the AEGIS pods that are deployed.  With it: that profile's\n"
    "pods, including the absent ones.\n"
    "\n"
    "Show the pods: state, containers ready/total (readiness probe\n"
    "passing now; --json also gives the running count), uptime and\n"
    "published ports; the profile's pods that are absent; and AEGIS pods that are\n"
    "running but not part of the profile.  pod-secrets whose OpenBao is sealed\n"
    "(a restart) shows the state sealed and is not ready (--json: \"sealed\": true).\n"
    "Under each pod, one line per container: the image it runs and its digest\n"
    "(repo@sha256:..., or the image ID of a local-only image; --json: \"images\").\n"
    "--json also gives the last deploy, redeploy or rollback's phase times per pod\n"
    "(\"last_rollout\": seconds since it began when each pod was created, started\n"
    "and ready, and how long its bootstrap took), kept in the state directory.\n"
    "\n";

static void print_table(json_t *st)
{
	printf("%-14s %-20s %-10s %-8s %-7s %s\n", "POD", "PODMAN NAME", "STATE", "READY", "UPTIME",
	       "PORTS");
	size_t i, k;
	json_t *o, *port;
	json_array_foreach(json_object_get(st, "pods"), i, o)
	{
		char up[32], ready[32];
		status_human_duration((long)json_integer_value(json_object_get(o, "uptime_s")), up,
				      sizeof up);
		snprintf(ready, sizeof ready, "%d/%d",
			 (int)json_integer_value(json_object_get(o, "ready")),
			 (int)json_integer_value(json_object_get(o, "containers")));
		strbuf ports = STRBUF_INIT;
		json_array_foreach(json_object_get(o, "ports"), k, port)
		    sb_addf(&ports, "%s%lld", k ? "," : "", (long long)json_integer_value(port));
		printf("%-14s %-20s %-10s %-8s %-7s %s\n",
		       json_string_value(json_object_get(o, "name")),
		       json_string_value(json_object_get(o, "pod_name")),
		       json_is_true(json_object_get(o, "sealed"))
			   ? "sealed"
			   : json_string_value(json_object_get(o, "state")),
		       ready, up, ports.s ? ports.s : "");
		sb_release(&ports);
		const char *ctr;
		json_t *img;
		json_object_foreach(json_object_get(o, "images"), ctr, img)
		{
			cleanup_free char *digest =
			    images_short_digest(json_string_value(json_object_get(img, "digest")));
			printf("  %-12s %s  %s\n", ctr,
			       json_string_value(json_object_get(img, "image")), digest);
		}
	}
	json_array_foreach(json_object_get(st, "absent"), i, o)
	    printf("%-14s %-20s %s\n", json_string_value(o), "-", "absent");
	json_t *extra = json_object_get(st, "not_in_profile");
	if (json_array_size(extra)) {
		printf("\nAEGIS pods not in profile %s:",
		       json_string_value(json_object_get(st, "profile")));
		json_array_foreach(extra, i, o) printf(" %s", json_string_value(o));
		printf("\n");
	}
}

COMMAND(status)
{
	static const struct opt opts[] = {OPT_END};
	int st = opts_parse("status", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	aerr_t err = {0};
	deployment d;
	podman *pm = NULL;
	json_t *model = NULL;
	if (cli_load(cli, true, DEPLOYMENT_LENIENT, &d, &pm, &err) < 0)
		return cli_fail(cli, &err);
	int rc = status_collect(pm, &d, &model, &err);
	if (rc == 0 && cli->json) {
		cleanup_free char *dir = NULL;
		aerr_t serr = {0};
		json_t *last = state_dir(&d.cfg, &dir, &serr) == 0 ? status_phases_load(dir) : NULL;
		json_object_set_new(model, "last_rollout", last ? last : json_null());
	}
	if (rc == 0) {
		if (cli->json)
			report_print_json(model);
		else
			print_table(model);
	}
	json_decref(model);
	podman_close(pm);
	deployment_free(&d);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
