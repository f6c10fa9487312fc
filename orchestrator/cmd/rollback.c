/* aegis-deploy rollback: deploy a revision of the release history again,
 * with the current secrets and host values. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/release/backup.h"
#include "lib/release/history.h"
#include "lib/release/rollback.h"
#include "lib/release/state.h"
#include "lib/util/strbuf.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy rollback [REV] [--with-data] [--timeout SECONDS] [--no-bootstrap]\n"
    "\n"
    "Deploy revision REV of the release history again (default: the last\n"
    "successful deploy, redeploy or rollback before the latest revision; see\n"
    "'history'): its own templates, profile and the values of the variables that\n"
    "describe the release, as the revision recorded them.  Secrets and the\n"
    "variables that describe the host (paths, sockets, addresses: 'describes:\n"
    "host' in kube/variables.yaml, e.g. AEGIS_GENERATED_DIR, SEAL_KEYS_DIR,\n"
    "AEGIS_STATE_DIR, CONTAINER_SOCK) keep their current values (.env and the\n"
    "environment).  As with deploy, a pod running with exactly the manifest it\n"
    "would get is kept; only the pods that differ are replaced.  Records a new\n"
    "revision (command rollback) naming the revision it went back to.\n"
    "Images come back as REV ran them: each container whose image REV recorded\n"
    "with a registry digest is pinned to it (repo@sha256:..., pulled if need be),\n"
    "whatever its tag points at now; an image REV ran from no registry (an image\n"
    "ID, localhost/...) keeps its tag, and the output says so.\n"
    "\n"
    "  --with-data         also put back REV's data: the volumes of the snapshot\n"
    "                      taken of them when a later deploy --atomic or --snapshot\n"
    "                      replaced REV's pods (see 'history', column SNAPSHOT).\n"
    "                      The snapshot is checked first (a mismatch: exit 1, nothing\n"
    "                      changed); its pods are removed, their volumes refilled,\n"
    "                      and they come back with REV's manifests.  No snapshot of\n"
    "                      REV's data (or removed by AEGIS_SNAPSHOT_KEEP): exit 2\n"
    "  --timeout SECONDS   per-pod readiness timeout (default 300)\n"
    "  --no-bootstrap      do not bootstrap OpenBao and Keycloak\n"
    "  --trace FILE        write every pod's phases as a Chrome trace-event JSON file\n"
    "  --json              print the final report, as deploy does\n"
    "\n";

/* The revision to go back to (REV; 0: the default) into *TARGET, and its
 * deployment into D, rebuilt in *WORK (a new directory beside the history,
 * which the caller removes) with the current configuration's secrets and
 * host values. */
static int load(const struct cli *cli, int rev, json_t **target, char **work, deployment *d,
		aerr_t *err)
{
	config current;
	if (config_load(&current, cli->root, cli->env_path, err) < 0)
		return -1;
	cleanup_free char *dir = NULL;
	int rc = state_dir(&current, &dir, err);
	if (rc == 0)
		rc = rollback_target(dir, rev, target, err);
	if (rc == 0) {
		rev = (int)json_integer_value(json_object_get(*target, "revision"));
		*work = xasprintf("%s/rollback-XXXXXX", dir);
		if (!mkdtemp(*work))
			rc = aerr_sys(err, AEGIS_EFAIL, errno, "cannot create %s", *work);
		else
			rc = rollback_load(dir, rev, &current, *work, d, err);
	}
	config_free(&current);
	return rc;
}

/* The snapshot holding revision REV's data: taken (by a later deploy
 * --atomic or --snapshot) of the volumes REV's pods ran with, so its
 * manifest's revision is REV; the latest such.  *RECORD: its record, *BY:
 * the revision that took it.  None: status 2, naming those there are. */
static int data_snapshot(const char *state, int rev, json_t **record, int *by, aerr_t *err)
{
	*record = NULL;
	json_t *revs = NULL;
	if (history_list(state, &revs, err) < 0)
		return -1;
	strbuf have = STRBUF_INIT;
	for (size_t i = json_array_size(revs); i-- > 0;) {
		json_t *r = json_array_get(revs, i);
		json_t *snap = json_object_get(r, "snapshot");
		if (!snap)
			continue;
		int of = (int)json_integer_value(json_object_get(snap, "revision"));
		int taker = (int)json_integer_value(json_object_get(r, "revision"));
		if (of == rev && !*record) {
			*record = json_incref(snap);
			*by = taker;
		}
		sb_addf(&have, "%s%d (taken by revision %d)", have.len ? ", " : "", of, taker);
	}
	json_decref(revs);
	if (!*record)
		aerr_set(err, AEGIS_ECONFIG,
			 "revision %d has no snapshot of its data: deploy --atomic or --snapshot "
			 "takes one of the data a revision ran with when it replaces its pods; "
			 "revisions whose data has one: %s",
			 rev, have.len ? have.s : "none");
	sb_release(&have);
	return *record ? 0 : -1;
}

static void data_line(void *ctx, const char *line)
{
	cli_info(ctx, "rollback --with-data: %s", line);
}

/* rollback --with-data: REV's snapshot checked, its pods (in D, REV's
 * deployment) removed and their volumes refilled; *DONE: the history's
 * record of it. */
static int put_data_back(const struct cli *cli, deployment *d, int rev, json_t **done, aerr_t *err)
{
	*done = NULL;
	cleanup_free char *state = NULL;
	json_t *record = NULL, *manifest = NULL;
	char *dir = NULL;
	podman *pm = NULL;
	int by = 0;
	int rc = cli_state_dir(cli, &state, err);
	if (rc == 0)
		rc = data_snapshot(state, rev, &record, &by, err);
	if (rc == 0)
		rc = snapshot_check(record, &manifest, &dir, err);
	if (rc == 0) {
		cli_info(cli,
			 "rollback --with-data: snapshot %s (revision %d's data, taken by "
			 "revision %d) matches its manifest",
			 json_string_value(json_object_get(record, "id")), rev, by);
		cli_host_sockets(cli, d);
		rc = cli_open_podman(cli, &d->cfg, &pm, err);
	}
	json_t *removed = NULL;
	if (rc == 0)
		rc = backup_restore_volumes(pm, d, dir, manifest, NULL, 0, data_line, (void *)cli,
					    &removed, err);
	if (rc == 0)
		*done = json_pack("{s:O, s:i, s:i, s:O}", "snapshot", json_object_get(record, "id"),
				  "revision", rev, "taken_by", by, "pods",
				  json_object_get(record, "pods"));
	json_decref(removed);
	podman_close(pm);
	json_decref(manifest);
	json_decref(record);
	free(dir);
	return rc;
}

/* The images of REV as they ran: pinned by digest where it can be. */
static void print_pins(const struct cli *cli, deployment *d, const json_t *target)
{
	json_t *notes = NULL;
	aerr_t err = {0};
	if (rollback_pin_images(d, json_object_get(target, "pods"), &notes, &err) < 0)
		fprintf(stderr, "aegis-deploy: warning: images not pinned: %s\n", err.msg);
	size_t i;
	json_t *v;
	json_array_foreach(notes, i, v) cli_info(cli, "%s", json_string_value(v));
	json_decref(notes);
}

COMMAND(rollback)
{
	int timeout_s = 300;
	bool no_bootstrap = false, with_data = false;
	const char *trace_path = NULL;
	const struct opt opts[] = {
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    {"no-bootstrap", 0, OPT_BOOL, &no_bootstrap},
	    {"with-data", 0, OPT_BOOL, &with_data},
	    {"trace", 0, OPT_STRING, &trace_path},
	    OPT_END,
	};
	const char *args[1] = {NULL};
	int st = opts_parse("rollback", help, opts, argc, argv, 1, args);
	if (st >= 0)
		return st;
	int rev = 0;
	if (args[0] && cli_revision("rollback", "REV must be", args[0], 1, &rev))
		return AEGIS_ECONFIG;
	aerr_t err = {0};
	json_t *target = NULL;
	cleanup_free char *work = NULL;
	deployment d;
	int rc = load(cli, rev, &target, &work, &d, &err);
	int status = 0;
	if (rc == 0) {
		rev = (int)json_integer_value(json_object_get(target, "revision"));
		cli_info(
		    cli, "rolling back profile %s to revision %d (%s, %s)", d.prof.name, rev,
		    json_string_value(json_object_get(target, "command")),
		    json_string_value(json_object_get(json_object_get(target, "source"), "commit"))
			?: "no source commit");
		print_pins(cli, &d, target);
		json_t *data = NULL;
		if (with_data && put_data_back(cli, &d, rev, &data, &err) < 0) {
			deployment_free(&d);
			status = cli_fail(cli, &err);
			rollback_cleanup(work);
			json_decref(target);
			return status;
		}
		struct deploy_args da = {
		    .timeout_s = timeout_s,
		    .no_bootstrap = no_bootstrap,
		    .trace_path = trace_path,
		    .rollback_of = rev,
		    .source = json_object_get(target, "source"),
		    .data_restored = data,
		};
		double took = 0;
		rc = engine_release(cli, "rollback", &d, &da, &took, &err);
		if (rc == 0)
			cli_info(cli, "%s: rolled back to revision %d%s in %.1f s", d.prof.name,
				 rev, data ? " with its data" : "", took);
		json_decref(data);
		deployment_free(&d);
	}
	if (rc < 0)
		status = cli_fail(cli, &err);
	rollback_cleanup(work);
	json_decref(target);
	return status;
}
