/* aegis-deploy restore BACKUP: a backup's volumes back into place, their
 * pods deployed again (lib/release/backup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/release/backup.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy restore [--pod P[,P...]] [--timeout SECONDS] [--profile P] BACKUP\n"
    "\n"
    "Put the volumes of the backup directory BACKUP (made by `aegis-deploy backup`)\n"
    "back: every archive is first checked against the manifest's size and SHA-256,\n"
    "and a backup that does not match is refused with nothing changed (exit 1).\n"
    "Then the pods using those volumes are removed, each volume is emptied and\n"
    "filled from its archive (owners and modes as recorded), and the pods are\n"
    "deployed again in dependency order, each gated on readiness.  Killed midway,\n"
    "a second run of the same command finishes the job.\n"
    "\n"
    "  --pod P[,P...]      restore only these pods' volumes\n"
    "  --timeout SECONDS   readiness timeout of each pod deployed again (default 300)\n"
    "\n";

static void note(void *ctx, const char *line)
{
	cli_info(ctx, "restore: %s", line);
}

COMMAND(restore)
{
	const char *pod_list = NULL;
	int timeout_s = 300;
	const char *pos[1] = {NULL};
	const struct opt opts[] = {
	    {"pod", 0, OPT_STRING, &pod_list},
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    OPT_END,
	};
	int st = opts_parse("restore", help, opts, argc, argv, 1, pos);
	if (st >= 0)
		return st;
	if (!pos[0])
		return cli_usage("restore", "which backup? (aegis-deploy restore DIR)");
	char *copy = pod_list ? strdup(pod_list) : NULL;
	char *pods[32];
	size_t npods = 0;
	for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t && npods < 32;
	     t = strtok_r(NULL, ",", &save))
		pods[npods++] = t;

	aerr_t err = {0};
	json_t *manifest = NULL;
	if (backup_verify(pos[0], &manifest, &err) < 0) {
		free(copy);
		return cli_fail(cli, &err);
	}
	cli_info(cli, "restore: %s matches its manifest (%zu volumes)", pos[0],
		 json_array_size(json_object_get(manifest, "volumes")));
	deployment d;
	podman *pm = NULL;
	if (cli_load(cli, true, 0, &d, &pm, &err) < 0) {
		json_decref(manifest);
		free(copy);
		return cli_fail(cli, &err);
	}
	json_t *removed = NULL;
	int rc = backup_restore_volumes(pm, &d, pos[0], manifest, pods, npods, note, cli, &removed,
					&err);
	podman_close(pm);
	double took = 0;
	if (rc == 0) {
		struct deploy_args args = {.timeout_s = timeout_s};
		rc = engine_release(cli, "restore", &d, &args, &took, &err);
	}
	int status = 0;
	if (rc < 0)
		status = cli_fail(cli, &err);
	else
		cli_info(cli, "restore: %s restored, pods ready in %.1f s", pos[0], took);
	json_decref(removed);
	json_decref(manifest);
	deployment_free(&d);
	free(copy);
	return status;
}
