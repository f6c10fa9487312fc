#include "report.h"

#include "lib/bootstrap/bootstrap.h"
#include "lib/bootstrap/desired.h"
#include "lib/config/secretgen.h"
#include "lib/rollout/platformchecks.h"
#include "lib/util/clock.h"

#include <math.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What the display shows of a pod: copied from the rollout's record in
 * reporter_progress (which the rollout calls under its own lock), so the
 * ticker thread never reads the rollout's records, only these, under LOCK. */
struct pod_view {
	rollout_state state;
	double start, ready;
	bool kept;
};

struct reporter {
	const struct cli *cli;
	const deployment *d;
	struct pod_view *views; /* d->npods, under LOCK */
	bool tty;
	bool drawn;
	double t0;
	pthread_mutex_t lock;
	pthread_t ticker;
	bool ticking;  /* main thread only */
	bool finished; /* main thread only */
	atomic_bool stop;
};

static void timestamp(char *buf, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Redraw the block of per-pod lines (TTY only); lock held. */
static void redraw(reporter *r)
{
	const deployment *d = r->d;
	double now = clock_mono_s() - r->t0;
	if (r->drawn)
		fprintf(stderr, "\033[%zuA", d->npods);
	for (size_t t = 0; t < d->plan.ntiers; t++) {
		for (size_t k = 0; k < d->plan.tiers[t].n; k++) {
			size_t i = d->plan.tiers[t].pods[k];
			const struct pod_view *st = &r->views[i];
			double el = 0;
			if (st->state == ROLL_READY)
				el = st->ready - st->start;
			else if (st->start >= 0)
				el = now - st->start;
			const char *mark = st->state == ROLL_READY     ? "\033[32m✓\033[0m"
					   : st->state == ROLL_FAILED  ? "\033[31m✗\033[0m"
					   : st->state == ROLL_SKIPPED ? "-"
								       : "…";
			fprintf(
			    stderr, "\033[2K %s tier %zu  %-14s %-10s", mark, t, d->pods[i].name,
			    st->kept && st->state == ROLL_STARTING ? "probing"
								   : rollout_state_name(st->state));
			if (st->start >= 0)
				fprintf(stderr, " %5.1f s", el);
			fputc('\n', stderr);
		}
	}
	r->drawn = true;
	fflush(stderr);
}

static void *tick(void *arg)
{
	reporter *r = arg;
	while (!atomic_load(&r->stop)) {
		clock_sleep_ms(200);
		pthread_mutex_lock(&r->lock);
		if (!atomic_load(&r->stop))
			redraw(r);
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

reporter *reporter_new(const struct cli *cli, const deployment *d, const bool *selected)
{
	reporter *r = xcalloc(1, sizeof *r);
	r->cli = cli;
	r->d = d;
	r->views = xcalloc(d->npods, sizeof *r->views);
	for (size_t i = 0; i < d->npods; i++)
		r->views[i] = (struct pod_view){
		    .state = selected && !selected[i] ? ROLL_SKIPPED : ROLL_WAITING,
		    .start = -1,
		    .ready = -1,
		};
	atomic_init(&r->stop, false);
	r->t0 = clock_mono_s();
	r->tty = cli->verbosity >= 0 && isatty(STDERR_FILENO) && getenv("TERM") &&
		 strcmp(getenv("TERM"), "dumb") != 0;
	pthread_mutex_init(&r->lock, NULL);
	if (r->tty) {
		pthread_mutex_lock(&r->lock);
		redraw(r);
		pthread_mutex_unlock(&r->lock);
		r->ticking = pthread_create(&r->ticker, NULL, tick, r) == 0;
	}
	return r;
}

void reporter_progress(void *ctx, const deployment *d, size_t pod, const rollout_pod *st)
{
	reporter *r = ctx;
	pthread_mutex_lock(&r->lock);
	r->views[pod] = (struct pod_view){
	    .state = st->state, .start = st->start, .ready = st->ready, .kept = st->kept};
	if (r->tty) {
		redraw(r);
	} else if (r->cli->verbosity >= 0) {
		char ts[64];
		timestamp(ts, sizeof ts);
		fprintf(stderr, "%s pod %s: %s", ts, d->pods[pod].name,
			st->kept && st->state == ROLL_STARTING ? "unchanged, probing"
							       : rollout_state_name(st->state));
		if (st->state == ROLL_READY)
			fprintf(stderr, " (%.1f s%s)", st->ready - st->start,
				st->kept ? ", unchanged" : "");
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&r->lock);
}

void reporter_pull(void *ctx, const char *line)
{
	const struct cli *cli = ctx;
	if (cli && cli->verbosity < 0)
		return;
	fprintf(stderr, "pull: %s\n", line);
}

void reporter_finish(reporter *r)
{
	/* once: a second redraw would climb over what was printed since */
	if (r->finished)
		return;
	r->finished = true;
	if (r->ticking) {
		atomic_store(&r->stop, true);
		pthread_join(r->ticker, NULL);
		r->ticking = false;
	}
	if (r->tty) {
		pthread_mutex_lock(&r->lock);
		redraw(r);
		pthread_mutex_unlock(&r->lock);
	}
}

void reporter_free(reporter *r)
{
	if (!r)
		return;
	reporter_finish(r);
	pthread_mutex_destroy(&r->lock);
	free(r->views);
	free(r);
}

void report_failure(const deployment *d, size_t i, const rollout_pod *st)
{
	const pod *p = &d->pods[i];
	fprintf(stderr, "\npod %s (%s) failed\n", p->name, p->pod_name);
	if (st->container)
		fprintf(stderr, "  container:  %s\n", st->container);
	if (st->probe)
		fprintf(stderr, "  probe:      %s\n", st->probe);
	fprintf(stderr, "  last error: %s\n", st->error ? st->error : "unknown");
	if (st->logs) {
		fprintf(stderr, "  last log lines of %s:\n", st->container);
		const char *s = st->logs;
		if (!*s)
			fprintf(stderr, "    (no output)\n");
		while (*s) {
			size_t k = strcspn(s, "\n");
			fprintf(stderr, "    | %.*s\n", (int)k, s);
			s += k;
			if (*s == '\n')
				s++;
		}
	}
}

/* Seconds rounded to the millisecond (epoch times stay exact to the ms). */
static json_t *ms_real(double v, bool present)
{
	return present ? json_real(floor(v * 1000.0 + 0.5) / 1000.0) : json_null();
}

json_t *report_rollout_json(const deployment *d, const rollout_pod *states, int rc,
			    double duration_s)
{
	json_t *pods = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		const rollout_pod *st = &states[i];
		json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "name", d->pods[i].name, "pod_name",
				      d->pods[i].pod_name, "tier", (int)d->plan.tier_of[i],
				      "result", rollout_state_name(st->state));
		json_object_set_new(o, "start_s", ms_real(st->start, st->start >= 0));
		json_object_set_new(o, "ready_s", ms_real(st->ready, st->ready >= 0));
		json_object_set_new(o, "started_at", ms_real(st->start_epoch, st->start >= 0));
		json_object_set_new(o, "ready_at", ms_real(st->ready_epoch, st->ready >= 0));
		if (st->start >= 0)
			json_object_set_new(o, "action", json_string(st->kept ? "kept" : "played"));
		if (st->error)
			json_object_set_new(o, "error", json_string(st->error));
		if (st->container)
			json_object_set_new(o, "container", json_string(st->container));
		if (st->probe)
			json_object_set_new(o, "probe", json_string(st->probe));
		if (st->logs)
			json_object_set_new(o, "logs", json_string(st->logs));
		json_array_append_new(pods, o);
	}
	return json_pack("{s:s, s:s, s:o, s:o}", "profile", d->prof.name, "result",
			 rc == 0 ? "ok" : "failed", "duration_s", ms_real(duration_s, true), "pods",
			 pods);
}

void report_print_json(json_t *js)
{
	json_dumpf(js, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	fflush(stdout);
}

/* The result of bootstrap-secrets and bootstrap-keycloak. */
void bootstrap_print(const struct cli *cli, const char *service, const char *url,
		     const bootstrap_result *res, json_t *extra)
{
	size_t created = desired_count(res->log, DESIRED_CREATED);
	size_t changed = desired_count(res->log, DESIRED_CHANGED);
	size_t unchanged = desired_count(res->log, DESIRED_UNCHANGED);
	if (cli->json) {
		json_t *js = json_pack("{s:s, s:s, s:O, s:i, s:i, s:i, s:O}", "service", service,
				       "url", url ? url : "", "items", res->log, "created",
				       (int)created, "changed", (int)changed, "unchanged",
				       (int)unchanged, "env_changed", res->env_changed);
		if (extra)
			json_object_update(js, extra);
		json_dumpf(js, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(js);
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(res->log, i, e)
	{
		const char *detail = desired_str(e, "detail");
		printf("  %-9s  %s%s%s%s\n", desired_str(e, "result"), desired_str(e, "item"),
		       detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	}
	size_t n = json_array_size(res->env_changed);
	json_t *v;
	json_array_foreach(res->env_changed, i, v)
	    printf("  updated    %s in .env\n", json_string_value(v));
	printf("%s at %s: %zu created, %zu changed, %zu unchanged%s\n", service, url ? url : "?",
	       created, changed, unchanged, n ? "" : "; .env unchanged");
}

void report_secret_fill(const char *env_path, const char *from, const secret_fill *done)
{
	if (done->created)
		printf("created %s from %s (mode 0600)\n", env_path, from);
	for (size_t i = 0; i < done->n; i++)
		printf("generated %s\n", done->names[i]);
	if (!done->n)
		printf("no missing secrets in %s\n", env_path);
}

/* --- validate's table ---------------------------------------------------- */

/* One row of the table; CHECK in full (--json and JUnit have it too). */
struct row {
	const char *pod, *container, *check, *result, *detail;
	double latency_ms; /* < 0: none */
};

static void widen(int *w, const char *s)
{
	int n = (int)strlen(s ? s : "");
	if (n > *w)
		*w = n;
}

/* Each column as wide as its longest cell, so RESULT and LATENCY stay
 * aligned whatever a check says. */
void report_validation(const deployment *d, const struct validation *v)
{
	size_t n = v->n + json_array_size(v->platform);
	struct row *rows = xcalloc(n ? n : 1, sizeof *rows);
	int wp = 3, wc = 9, wk = 5;
	for (size_t i = 0; i < v->n; i++) {
		const check *k = &v->checks[i];
		const pod *p = &d->pods[k->pod];
		rows[i] = (struct row){p->name,
				       p->containers[k->container].name,
				       k->target,
				       k->ok ? "ok" : "FAIL",
				       k->ok ? "" : k->detail,
				       k->latency_ms};
	}
	for (size_t i = v->n; i < n; i++) {
		json_t *r = json_array_get(v->platform, i - v->n);
		bool ok = json_is_true(json_object_get(r, "ok"));
		bool warn = ok && json_is_true(json_object_get(r, "warning"));
		rows[i] =
		    (struct row){json_string_value(json_object_get(r, "pod")),
				 json_string_value(json_object_get(r, "kind")),
				 json_string_value(json_object_get(r, "check")),
				 !ok	? "FAIL"
				 : warn ? "warn"
					: "ok",
				 ok && !warn ? "" : json_string_value(json_object_get(r, "detail")),
				 -1};
	}
	for (size_t i = 0; i < n; i++) {
		widen(&wp, rows[i].pod);
		widen(&wc, rows[i].container);
		widen(&wk, rows[i].check);
	}
	printf("%-*s %-*s %-*s %-6s %9s  %s\n", wp, "POD", wc, "CONTAINER", wk, "CHECK", "RESULT",
	       "LATENCY", "DETAIL");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char latency[32] = "";
		if (r->latency_ms >= 0)
			snprintf(latency, sizeof latency, "%7.0fms", r->latency_ms);
		printf("%-*s %-*s %-*s %-6s %9s  %s\n", wp, r->pod ? r->pod : "", wc,
		       r->container ? r->container : "", wk, r->check ? r->check : "", r->result,
		       latency, r->detail ? r->detail : "");
	}
	free(rows);
}
