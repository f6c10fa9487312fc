#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/desired.h"
#include "lib/history.h"
#include "lib/release.h"
#include "lib/state.h"
#include "lib/strbuf.h"
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

void history_note(const struct cli *cli, const char *command, deployment *d,
		  const rollout_pod *states, int rc, const aerr_t *err, double took,
		  const struct deploy_args *args, const json_t *restore)
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
	    .restore = restore,
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

/* deploy --atomic after a failed rollout of D (STATES): play the pods it
 * replaced with the manifests of the last successful revision and wait for
 * them.  Prints the result; returns its record for the history. */
static json_t *restore(const struct cli *cli, const deployment *d, const rollout_pod *states)
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
	json_t *out = release_restore_record(&r, rc == 0 ? "ok" : "failed", rc == 0 ? NULL : &err);
	if (rc == 0)
		fprintf(stderr,
			"aegis-deploy: --atomic: restored %s to revision %d, ready in %.1f s\n",
			list.s, r.revision, clock_mono_s() - t0);
	else
		fprintf(stderr, "aegis-deploy: --atomic: restoring %s failed: %s\n",
			list.s ? list.s : "", err.msg);
	sb_release(&list);
	release_restore_free(&r);
	return out;
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
	    .rollout_trace = args->trace_path ? trace_new() : NULL,
	};
	rollout_pod *states = xcalloc(d->npods ? d->npods : 1, sizeof *states);
	podman *pm = NULL;
	json_t *bootstrap = NULL;
	double t0 = clock_mono_s();
	int rc = roll(cli, d, &o, !args->rollback_of, &pm, states, &bootstrap, err);
	*took = clock_mono_s() - t0;
	if (o.rollout_trace) {
		trace_span(o.rollout_trace, 0, command, t0, t0 + *took);
		trace_track(o.rollout_trace, 0, command);
		aerr_t terr = {0};
		if (trace_write(o.rollout_trace, args->trace_path, &terr) < 0)
			fprintf(stderr, "aegis-deploy: warning: %s\n", terr.msg);
		trace_free(o.rollout_trace);
	}
	if (pm)
		print_result(cli, d, states, rc, *took, bootstrap);
	json_decref(bootstrap);
	json_t *restored = args->atomic && rc < 0 ? restore(cli, d, states) : NULL;
	history_note(cli, command, d, states, rc, err, *took, args, restored);
	json_decref(restored);
	for (size_t i = 0; i < d->npods; i++)
		rollout_pod_free(&states[i]);
	free(states);
	free(selected);
	podman_close(pm);
	return rc;
}
