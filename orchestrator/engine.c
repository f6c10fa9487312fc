#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/bootstrap/desired.h"
#include "lib/release/backup.h"
#include "lib/release/history.h"
#include "lib/release/release.h"
#include "lib/release/rollback.h"
#include "lib/release/state.h"
#include "lib/rollout/images.h"
#include "lib/rollout/status.h"
#include "lib/util/clock.h"
#include "lib/util/fsutil.h"
#include "lib/util/strbuf.h"
#include "report.h"

int cli_revision(const char *cmd, const char *what, const char *s, int min, int *rev)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > 1000000000)
		return cli_usage(cmd, "%s a revision number, not '%s'", what, s);
	*rev = (int)v;
	return 0;
}

int cli_state_dir(const struct cli *cli, char **dir, aerr_t *err)
{
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, err) < 0)
		return -1;
	int rc = state_dir(&cfg, dir, err);
	config_free(&cfg);
	return rc;
}

/* How long each restored pod may take to be ready again. */
#define RESTORE_TIMEOUT_S 300

static double process_age_s(void)
{
	/* field 22 of /proc/self/stat: start time in clock ticks after boot */
	FILE *f = fopen("/proc/self/stat", "r");
	if (!f)
		return 0;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long long start = 0;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_BOOTTIME, &now);
	double age = (double)now.tv_sec + now.tv_nsec / 1e9 - (double)start / sysconf(_SC_CLK_TCK);
	return age > 0 ? age : 0;
}

static void note_revision(const struct cli *cli, const char *command, deployment *d,
			  const rollout_pod *states, int rc, const aerr_t *err, double took,
			  const struct deploy_args *args, const json_t *restore,
			  const json_t *snapshot, const json_t *images)
{
	aerr_t herr = {0};
	cleanup_free char *dir = NULL;
	json_t *report = states ? report_rollout_json(d, states, rc, took) : NULL;
	history_entry e = {
	    .command = command,
	    .ok = rc >= 0,
	    .error = rc < 0 && err ? err->msg : NULL,
	    .duration_s = took >= 0 ? took : process_age_s(),
	    .states = states,
	    .report = report,
	    .lenient = states == NULL,
	    .source = args ? args->source : NULL,
	    .rollback_of = args ? args->rollback_of : 0,
	    .rotated = args ? args->rotated : NULL,
	    .restore = restore,
	    .snapshot = snapshot,
	    .data_restored = args ? args->data_restored : NULL,
	    .images = images,
	};
	int rev = 0;
	if (state_dir(&d->cfg, &dir, &herr) < 0 || history_record(dir, d, &e, &rev, &herr) < 0)
		fprintf(stderr,
			"aegis-deploy: warning: no revision recorded in the release history: %s\n",
			herr.msg);
	else
		cli_info(cli, "recorded revision %d in %s/%s", rev, dir, HISTORY_DIR);
	json_decref(report);
}

void history_note(const struct cli *cli, const char *command, deployment *d,
		  const rollout_pod *states, int rc, const aerr_t *err, double took,
		  const struct deploy_args *args, const json_t *restore)
{
	note_revision(cli, command, d, states, rc, err, took, args, restore, NULL, NULL);
}

/* The display of one rollout: the reporter, made once the images are there. */
struct view {
	const struct cli *cli;
	const bool *selected;
	reporter *rep;
};

static void begin(void *ctx, const deployment *d)
{
	struct view *v = ctx;
	v->rep = reporter_new(v->cli, d, v->selected);
}

static void progress(void *ctx, const deployment *d, size_t pod, const rollout_pod *st)
{
	reporter_progress(((struct view *)ctx)->rep, d, pod, st);
}

static void pull(void *ctx, const char *line)
{
	reporter_pull((void *)((struct view *)ctx)->cli, line);
}

static void bootstrap_line(void *ctx, const char *line)
{
	cli_debug(((struct view *)ctx)->cli, "  bootstrap: %s", line);
}

/* The one rollout of every rolling command: D's pods (IN->selected) on the
 * Podman of D's configuration, shown as they go (ANNOUNCE: first a line
 * naming the profile and network, as deploy says it); each failed pod's
 * diagnostic afterwards.  *PM stays open for the caller (NULL when it could
 * not be opened). */
static int roll(const struct cli *cli, deployment *d, const release_opts *in, bool announce,
		podman **pm, rollout_pod *states, json_t **bootstrap, aerr_t *err)
{
	*bootstrap = NULL;
	*pm = NULL;
	cli_host_sockets(cli, d);
	int rc = rollout_check(d, in->selected, err);
	if (rc == 0)
		rc = cli_open_podman(cli, &d->cfg, pm, err);
	if (rc == 0 && announce)
		cli_info(cli, "deploying profile %s (%zu pods, %zu tiers) on network %s",
			 d->prof.name, d->npods, d->plan.ntiers,
			 config_get(&d->cfg, "AEGIS_NETWORK"));
	struct view v = {.cli = cli, .selected = in->selected};
	release_opts o = *in;
	o.begin = begin, o.progress = progress, o.pull = pull, o.trace = bootstrap_line, o.ctx = &v;
	if (rc == 0)
		rc = release_run(*pm, d, &o, states, bootstrap, err);
	if (v.rep) {
		reporter_finish(v.rep);
		reporter_free(v.rep);
	}
	for (size_t i = 0; i < d->npods; i++)
		if (states[i].state == ROLL_FAILED)
			report_failure(d, i, &states[i]);
	return rc;
}

static void restore_names(strbuf *b, const json_t *names)
{
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v) sb_addf(b, "%s%s", i ? ", " : "", json_string_value(v));
}

static void snapshot_line(void *ctx, const char *line)
{
	cli_info(ctx, "snapshot: %s", line);
}

/* deploy --snapshot / --atomic, before the rollout: the volumes of the
 * stateful pods of D it will replace (SELECTED, REPLACE as the rollout gets
 * them) into a snapshot under the state directory.  *RECORD: what the
 * revision records, NULL when no such pod has data yet. */
static int take_snapshot(const struct cli *cli, deployment *d, const bool *selected, bool replace,
			 json_t **record, aerr_t *err)
{
	*record = NULL;
	cleanup_free char *dir = NULL;
	podman *pm = NULL;
	if (state_dir(&d->cfg, &dir, err) < 0)
		return -1;
	if (cli_open_podman(cli, &d->cfg, &pm, err) < 0)
		return -1;
	bool *want = NULL;
	size_t n = snapshot_select(pm, d, selected, replace, &want);
	int rc = 0;
	if (n == 0) {
		cli_info(cli, "snapshot: no pod it replaces holds a volume with data; none taken");
	} else {
		/* whose data it is: the revision deployed last (a failed one
		 * left its predecessor's pods, or --atomic put them back) */
		json_t *info = NULL;
		aerr_t none = {0};
		int revision = 0;
		if (rollback_target(dir, -1, &info, &none) == 0)
			revision = (int)json_integer_value(json_object_get(info, "revision"));
		json_decref(info);
		double t0 = clock_mono_s();
		rc = snapshot_take(pm, d, dir, want, revision, snapshot_line, (void *)cli, record,
				   err);
		if (rc < 0)
			aerr_wrap(err, "snapshot before the rollout failed (nothing was deployed)");
		else
			cli_info(cli, "snapshot: %s (%zu pods, %.1f MiB) taken in %.1f s",
				 json_string_value(json_object_get(*record, "path")), n,
				 (double)json_integer_value(json_object_get(*record, "bytes")) /
				     (1024.0 * 1024.0),
				 clock_mono_s() - t0);
	}
	free(want);
	podman_close(pm);
	return rc;
}

static void restore_line(void *ctx, const char *line)
{
	cli_info(ctx, "--atomic: %s", line);
}

/* The pods of SNAPSHOT that the failed rollout replaced (R->pods) and that
 * R->prev plays again: their volumes are refilled from the snapshot
 * (removing those pods first) before R->prev is rolled out.  *DATA gets
 * the record {"snapshot", "pods", "result"[, "error"]}. */
static int restore_data(const struct cli *cli, const deployment *d, const release_restore *r,
			const json_t *snapshot, json_t **data, aerr_t *err)
{
	*data = NULL;
	char *pods[64];
	size_t n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(snapshot, "pods"), i, v)
	{
		const char *name = json_string_value(v);
		bool replaced = false;
		size_t k;
		json_t *w;
		json_array_foreach(r->pods, k, w) replaced =
		    replaced || strcmp(json_string_value(w), name) == 0;
		if (replaced && deployment_pod_index(&r->prev, name) >= 0 && n < 64)
			pods[n++] = (char *)name;
	}
	if (n == 0)
		return 0;
	json_t *list = json_array();
	for (size_t k = 0; k < n; k++)
		json_array_append_new(list, json_string(pods[k]));
	*data = json_pack("{s:O, s:o}", "snapshot", json_object_get(snapshot, "id"), "pods", list);
	json_t *manifest = NULL;
	char *dir = NULL;
	podman *pm = NULL;
	int rc = snapshot_check(snapshot, &manifest, &dir, err);
	if (rc == 0)
		rc = cli_open_podman(cli, &d->cfg, &pm, err);
	if (rc == 0) {
		cli_info(cli, "--atomic: putting back the data of snapshot %s",
			 json_string_value(json_object_get(snapshot, "id")));
		rc = backup_restore_volumes(pm, d, dir, manifest, pods, n, restore_line,
					    (void *)cli, NULL, err);
	}
	json_object_set_new(*data, "result", json_string(rc == 0 ? "ok" : "failed"));
	if (rc < 0)
		json_object_set_new(*data, "error", json_string(err->msg));
	podman_close(pm);
	json_decref(manifest);
	free(dir);
	return rc;
}

/* deploy --atomic after a failed rollout of D (STATES): play the pods it
 * replaced with the manifests of the last successful revision and wait for
 * them; with SNAPSHOT (taken before the rollout), the volumes of those
 * pods get the snapshot's data back first.  Prints the result; returns its
 * record for the history. */
static json_t *restore(const struct cli *cli, const deployment *d, const rollout_pod *states,
		       const json_t *snapshot)
{
	aerr_t err = {0};
	cleanup_free char *dir = NULL;
	release_restore r = {0};
	int rc = state_dir(&d->cfg, &dir, &err);
	if (rc == 0)
		rc = release_restore_load(dir, d, states, &r, &err);
	if (rc == 0 && !json_array_size(r.pods)) {
		fprintf(
		    stderr,
		    "aegis-deploy: --atomic: the rollout replaced no pod; nothing to restore\n");
		json_t *out = release_restore_record(&r, "nothing replaced", NULL);
		release_restore_free(&r);
		return out;
	}
	strbuf list = STRBUF_INIT;
	restore_names(&list, r.pods);
	double t0 = clock_mono_s();
	/* the manifests are put back even when the data could not be: the
	 * pods whose volumes were being refilled were removed */
	json_t *data = NULL;
	aerr_t derr = {0};
	int drc = rc == 0 && snapshot ? restore_data(cli, d, &r, snapshot, &data, &derr) : 0;
	if (drc < 0)
		fprintf(stderr,
			"aegis-deploy: --atomic: the snapshot's data was not put back: %s\n",
			derr.msg);
	if (rc == 0) {
		cli_info(cli, "--atomic: restoring %s to revision %d", list.s, r.revision);
		release_opts o = {
		    .timeout_s = RESTORE_TIMEOUT_S, .selected = r.selected, .no_bootstrap = true};
		rollout_pod *st = xcalloc(r.prev.npods ? r.prev.npods : 1, sizeof *st);
		podman *pm = NULL;
		json_t *bootstrap = NULL;
		rc = roll(cli, &r.prev, &o, false, &pm, st, &bootstrap, &err);
		podman_close(pm);
		for (size_t i = 0; i < r.prev.npods; i++)
			rollout_pod_free(&st[i]);
		free(st);
	}
	if (rc == 0 && drc < 0) {
		rc = -1;
		err = derr;
	}
	json_t *out = release_restore_record(&r, rc == 0 ? "ok" : "failed", rc == 0 ? NULL : &err);
	if (data)
		json_object_set_new(out, "data", data);
	if (rc == 0)
		fprintf(stderr,
			"aegis-deploy: --atomic: restored %s to revision %d, ready in %.1f s%s\n",
			list.s, r.revision, clock_mono_s() - t0,
			data ? " (with the snapshot's data)" : "");
	else
		fprintf(stderr, "aegis-deploy: --atomic: restoring %s failed: %s\n",
			list.s ? list.s : "", err.msg);
	sb_release(&list);
	release_restore_free(&r);
	return out;
}

static void resume_line(void *ctx, const char *line)
{
	cli_info(ctx, "restore: %s", line);
}

/* A restore of volumes killed midway (restore, rollback --with-data, the
 * data of an --atomic restore) is finished before anything runs on them
 * (backup_resume); nothing to do without its journal. */
static int resume_restore(const struct cli *cli, deployment *d, aerr_t *err)
{
	cleanup_free char *dir = NULL;
	if (state_dir(&d->cfg, &dir, err) < 0)
		return -1;
	cleanup_free char *journal = fs_join(dir, RESTORE_JOURNAL);
	if (!fs_exists(journal))
		return 0;
	podman *pm = NULL;
	if (cli_open_podman(cli, &d->cfg, &pm, err) < 0)
		return -1;
	int rc = backup_resume(pm, d, resume_line, (void *)cli, err);
	podman_close(pm);
	return rc;
}

/* After a successful rollout: only the newest KEEP snapshots stay. */
static void prune_snapshots(const struct cli *cli, const deployment *d, int keep)
{
	aerr_t perr = {0};
	cleanup_free char *dir = NULL;
	json_t *removed = NULL;
	if (state_dir(&d->cfg, &dir, &perr) < 0 || snapshot_prune(dir, keep, &removed, &perr) < 0)
		fprintf(stderr, "aegis-deploy: warning: old snapshots not removed: %s\n", perr.msg);
	size_t i;
	json_t *v;
	json_array_foreach(removed, i, v)
	    cli_info(cli, "snapshot: removed %s (%s keeps the newest %d)", json_string_value(v),
		     SNAPSHOT_KEEP_VAR, keep);
	json_decref(removed);
}

/* One line per service: what its bootstrap created, changed, kept. */
static void print_bootstrap(const struct cli *cli, const json_t *report)
{
	const char *service;
	json_t *items;
	json_object_foreach(json_object_get(report, "services"), service, items)
	{
		cli_info(cli, "bootstrap %s: %zu created, %zu changed, %zu unchanged", service,
			 desired_count(items, DESIRED_CREATED),
			 desired_count(items, DESIRED_CHANGED),
			 desired_count(items, DESIRED_UNCHANGED));
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(report, "env_changed"), i, v)
	    cli_info(cli, "bootstrap: %s updated in .env", json_string_value(v));
}

/* The --json report, or the bootstrap summary. */
static void print_result(const struct cli *cli, const deployment *d, const rollout_pod *states,
			 int rc, double took, json_t *bootstrap)
{
	if (cli->json) {
		json_t *js = report_rollout_json(d, states, rc, took);
		if (bootstrap)
			json_object_set(js, "bootstrap", bootstrap);
		report_print_json(js);
		json_decref(js);
	} else if (bootstrap) {
		print_bootstrap(cli, bootstrap);
	}
}

int engine_release(const struct cli *cli, const char *command, deployment *d,
		   const struct deploy_args *args, double *took, aerr_t *err)
{
	bool *selected = NULL;
	if (args->only_pod) {
		int idx = deployment_find_pod(d, args->only_pod, err);
		if (idx < 0)
			return -1;
		selected = xcalloc(d->npods, sizeof *selected);
		selected[idx] = true;
	}
	release_opts o = {
	    .timeout_s = args->timeout_s,
	    .replace = args->replace,
	    .selected = selected,
	    .no_bootstrap = args->no_bootstrap,
	    /* always: the phase times status --json shows come from it */
	    .rollout_trace = trace_new(),
	};
	/* the last rollout's measured times order the creations ahead */
	cleanup_free char *sdir = NULL;
	aerr_t serr = {0};
	json_t *last = state_dir(&d->cfg, &sdir, &serr) == 0 ? status_phases_load(sdir) : NULL;
	cleanup_free double *expected = status_expected_ready(d, last);
	json_decref(last);
	o.expected_ready_s = expected;
	int keep = 0;
	json_t *snapshot = NULL;
	if (snapshot_keep(&d->cfg, &keep, err) < 0 || resume_restore(cli, d, err) < 0 ||
	    ((args->atomic || args->snapshot) &&
	     take_snapshot(cli, d, selected, args->replace, &snapshot, err) < 0)) {
		free(selected);
		trace_free(o.rollout_trace);
		return -1;
	}
	rollout_pod *states = xcalloc(d->npods ? d->npods : 1, sizeof *states);
	podman *pm = NULL;
	json_t *bootstrap = NULL;
	double t0 = clock_mono_s();
	int rc = roll(cli, d, &o, !args->rollback_of, &pm, states, &bootstrap, err);
	*took = clock_mono_s() - t0;
	trace_span(o.rollout_trace, 0, command, t0, t0 + *took);
	trace_track(o.rollout_trace, 0, command);
	aerr_t terr = {0};
	if (args->trace_path && trace_write(o.rollout_trace, args->trace_path, &terr) < 0)
		fprintf(stderr, "aegis-deploy: warning: %s\n", terr.msg);
	if (sdir) {
		json_t *phases = status_rollout_phases(
		    d, o.rollout_trace, command, clock_wall_s() - (clock_mono_s() - t0), *took);
		terr = (aerr_t){0};
		if (status_phases_save(sdir, phases, &terr) < 0)
			fprintf(stderr, "aegis-deploy: warning: phase times not kept: %s\n",
				terr.msg);
		json_decref(phases);
	}
	trace_free(o.rollout_trace);
	if (pm)
		print_result(cli, d, states, rc, *took, bootstrap);
	json_decref(bootstrap);
	json_t *restored = args->atomic && rc < 0 ? restore(cli, d, states, snapshot) : NULL;
	json_t *images = NULL;
	aerr_t ierr = {0};
	/* what ran, read after the restore: the revision pins those digests */
	if (pm && images_running(pm, d, &images, &ierr) < 0)
		fprintf(stderr, "aegis-deploy: warning: the images that ran are not recorded: %s\n",
			ierr.msg);
	note_revision(cli, command, d, states, rc, err, *took, args, restored, snapshot, images);
	json_decref(images);
	json_decref(restored);
	json_decref(snapshot);
	if (rc == 0)
		prune_snapshots(cli, d, keep);
	for (size_t i = 0; i < d->npods; i++)
		rollout_pod_free(&states[i]);
	free(states);
	free(selected);
	podman_close(pm);
	return rc;
}
