/* aegis-deploy backup: the pods' volumes into an archive set with a
 * manifest (lib/release/backup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"
#include "lib/release/backup.h"
#include "lib/release/history.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy backup [--pod P[,P...]] [--out DIR] [--profile P]\n"
    "\n"
    "Copy the named volumes of the pods (default: every deployed pod that holds\n"
    "one) into a new directory: one tar per volume and manifest.json with each\n"
    "file's size and SHA-256, the release revision and the images that ran.\n"
    "Each pod is stopped while its volumes are copied (a consistent cold copy;\n"
    "for PostgreSQL the whole data directory, roles included), then started\n"
    "again and gated on readiness before the next.  The directory is 0700, its\n"
    "files 0600, and it appears only once complete.  A backup killed while a pod\n"
    "was stopped leaves it stopped: the next backup starts it again first.\n"
    "\n"
    "  --pod P[,P...]  the pods whose volumes are copied\n"
    "  --out DIR       where (must not exist; default\n"
    "                  AEGIS_STATE_DIR/backups/YYYYMMDDTHHMMSSZ)\n"
    "\n"
    "Restore with: aegis-deploy restore DIR\n"
    "\n";

static void note(void *ctx, const char *line)
{
	cli_info(ctx, "backup: %s", line);
}

/* "a,b" into a list (the strings point into COPY). */
static size_t split_pods(char *copy, char **pods, size_t max)
{
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && n < max;
	     t = strtok_r(NULL, ",", &save))
		pods[n++] = t;
	return n;
}

COMMAND(backup)
{
	const char *pod_list = NULL, *out = NULL;
	const struct opt opts[] = {
	    {"pod", 0, OPT_STRING, &pod_list},
	    {"out", 0, OPT_STRING, &out},
	    OPT_END,
	};
	int st = opts_parse("backup", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	char *copy = pod_list ? strdup(pod_list) : NULL;
	char *pods[32];
	size_t npods = copy ? split_pods(copy, pods, 32) : 0;

	aerr_t err = {0};
	deployment d;
	podman *pm = NULL;
	/* the probes that gate a restarted pod need no secrets */
	if (cli_load(cli, true, DEPLOYMENT_LENIENT, &d, &pm, &err) < 0) {
		free(copy);
		return cli_fail(cli, &err);
	}
	char *state = NULL, *dir = NULL;
	int revision = 0;
	int rc = cli_state_dir(cli, &state, &err);
	if (rc == 0) {
		json_t *info = NULL;
		aerr_t none = {0};
		if (history_show(state, 0, &info, &none) == 0)
			revision = (int)json_integer_value(json_object_get(info, "revision"));
		json_decref(info);
		if (out) {
			dir = strdup(out);
		} else {
			char stamp[32];
			time_t t = time(NULL);
			strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime(&t));
			dir = xasprintf("%s/backups/%s", state, stamp);
		}
	}
	json_t *manifest = NULL;
	if (rc == 0)
		rc = backup_create(pm, &d, pods, npods, dir, revision, note, cli, &manifest, &err);
	int status = 0;
	if (rc < 0) {
		status = cli_fail(cli, &err);
	} else {
		json_int_t bytes = 0;
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(manifest, "volumes"), i, v) bytes +=
		    json_integer_value(json_object_get(v, "size"));
		if (cli->json) {
			json_object_set_new(manifest, "path", json_string(dir));
			report_print_json(manifest);
		} else {
			printf("%s\n", dir);
		}
		cli_info(cli, "backup: %zu volumes, %.1f MiB, in %s",
			 json_array_size(json_object_get(manifest, "volumes")),
			 (double)bytes / (1024.0 * 1024.0), dir);
	}
	json_decref(manifest);
	podman_close(pm);
	deployment_free(&d);
	free(state);
	free(dir);
	free(copy);
	return status;
}
