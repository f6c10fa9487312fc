/* aegis-deploy restore BACKUP: a backup's volumes back into place, their
 * pods deployed again (lib/release/backup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/config/deployment.h"
#include "lib/podman/pod.h"
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

/* Without --profile: the AEGIS pods deployed and the pods whose volumes
 * are restored (PODS, NPODS; 0: all of MANIFEST's), which a restore killed
 * after it removed them no longer finds deployed. */
static int load_pods(const struct cli *cli, const json_t *manifest, char *const *pods, size_t npods,
		     deployment *d, podman **pm, aerr_t *err)
{
	if (cli->profile_given)
		return cli_load(cli, false, 0, d, pm, err);
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, err) < 0)
		return -1;
	int rc = cli_open_podman(cli, &cfg, pm, err);
	config_free(&cfg);
	json_t *live = NULL;
	if (rc == 0)
		rc = podman_list_pods(*pm, &live, err);
	if (rc == 0) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(manifest, "pods"), i, v)
		{
			bool want = npods == 0;
			for (size_t k = 0; k < npods; k++)
				want = want || strcmp(pods[k], json_string_value(v)) == 0;
			if (want)
				json_array_append_new(
				    live, json_pack("{s:{s:O}}", "Labels", POD_LABEL, v));
		}
		rc = deployment_load_deployed(d, cli->root, cli->env_path, live, 0, err);
	}
	json_decref(live);
	if (rc < 0) {
		podman_close(*pm);
		*pm = NULL;
	} else {
		cli_host_sockets(cli, d);
	}
	return rc;
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
	if (load_pods(cli, manifest, pods, npods, &d, &pm, &err) < 0) {
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
