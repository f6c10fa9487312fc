#include "rollout/status.h"

#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "rollout/images.h"
#include "util/fsutil.h"

long status_seconds_since(const char *t, time_t now)
{
	if (!t)
		return -1;
	struct tm tm = {0};
	const char *rest = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	time_t when = timegm(&tm);
	while (*rest == '.' || (*rest >= '0' && *rest <= '9'))
		rest++;
	if (*rest == '+' || *rest == '-') {
		int hh = 0, mm = 0;
		if (sscanf(rest + 1, "%d:%d", &hh, &mm) >= 1)
			when -= (*rest == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
	}
	return (long)(now - when);
}

void status_human_duration(long s, char *buf, size_t n)
{
	if (s < 0)
		snprintf(buf, n, "-");
	else if (s < 120)
		snprintf(buf, n, "%lds", s);
	else if (s < 7200)
		snprintf(buf, n, "%ldm", s / 60);
	else if (s < 172800)
		snprintf(buf, n, "%ldh", s / 3600);
	else
		snprintf(buf, n, "%ldd", s / 86400);
}

static json_t *find_live(json_t *live, const char *pod_name)
{
	size_t i;
	json_t *p;
	json_array_foreach(live, i, p)
	{
		const char *n = json_string_value(json_object_get(p, "Name"));
		if (n && strcmp(n, pod_name) == 0)
			return p;
	}
	return NULL;
}

/* Podman gives every pod an infra container ("<pod id prefix>-infra") that
 * holds its namespaces; it is not one of the pod's own containers. */
static bool is_infra(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 6 && strcmp(name + n - 6, "-infra") == 0;
}

static void count_containers(json_t *p, int *running, int *total)
{
	*running = *total = 0;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(p, "Containers"), i, c)
	{
		if (is_infra(json_string_value(json_object_get(c, "Names"))))
			continue;
		(*total)++;
		const char *st = json_string_value(json_object_get(c, "Status"));
		*running += st && strcmp(st, "running") == 0;
	}
}

static json_t *pod_entry(const pod *p, size_t idx, json_t *live, const check *checks,
			 size_t nchecks, time_t now)
{
	int running, total, ready = 0;
	bool sealed = false;
	count_containers(live, &running, &total);
	for (size_t k = 0; k < nchecks; k++) {
		ready += checks[k].pod == idx && checks[k].ok;
		sealed |=
		    checks[k].pod == idx && !checks[k].ok && checks[k].detail &&
		    strncmp(checks[k].detail, BOOTSTRAP_SEALED, strlen(BOOTSTRAP_SEALED)) == 0;
	}
	json_t *ports = json_array();
	for (size_t k = 0; k < p->nports; k++)
		if (p->ports[k].host_port)
			json_array_append_new(ports, json_integer(p->ports[k].host_port));
	const char *state = json_string_value(json_object_get(live, "Status"));
	long up = status_seconds_since(json_string_value(json_object_get(live, "Created")), now);
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:o}", "name", p->name, "pod_name",
		      p->pod_name, "state", state ? state : "unknown", "ready", ready, "running",
		      running, "containers", total, "uptime_s", (json_int_t)up, "ports", ports);
	/* OpenBao behind a passing probe, sealed (a restart): not ready for
	 * its dependents */
	if (sealed)
		json_object_set_new(o, "sealed", json_true());
	return o;
}

json_t *status_model(const deployment *d, json_t *live, const check *checks, size_t nchecks,
		     time_t now)
{
	json_t *pods = json_array(), *absent = json_array(), *extra = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		json_t *lp = find_live(live, p->pod_name);
		if (lp)
			json_array_append_new(pods, pod_entry(p, i, lp, checks, nchecks, now));
		else
			json_array_append_new(absent, json_string(p->name));
	}
	size_t i;
	json_t *lp;
	json_array_foreach(live, i, lp)
	{
		const char *name = json_string_value(json_object_get(lp, "Name"));
		bool known = false;
		for (size_t k = 0; k < d->npods && name; k++)
			known |= strcmp(d->pods[k].pod_name, name) == 0;
		if (name && !known)
			json_array_append_new(extra, json_string(name));
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "profile", d->prof.name, "pods", pods, "absent",
			 absent, "not_in_profile", extra);
}

int status_collect(podman *pm, const deployment *d, json_t **out, aerr_t *err)
{
	json_t *live = NULL;
	if (podman_list_pods(pm, &live, err) < 0)
		return -1;
	/* Ready = the container's readiness probe passes now: the profile's
	 * checks, run concurrently (as validate does). */
	check *checks = NULL;
	size_t nchecks = 0;
	if (json_array_size(live) &&
	    validate_run(pm, d, bootstrap_status_check, &checks, &nchecks, err) < 0) {
		json_decref(live);
		return -1;
	}
	*out = status_model(d, live, checks, nchecks, time(NULL));
	checks_free(checks, nchecks);
	json_decref(live);
	json_t *images = NULL;
	if (images_running(pm, d, &images, err) < 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	status_add_images(*out, images);
	json_decref(images);
	return 0;
}

void status_add_images(json_t *model, const json_t *images)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(model, "pods"), i, p)
	{
		json_t *ran =
		    json_object_get(images, json_string_value(json_object_get(p, "name")));
		json_object_set_new(p, "images", ran ? json_deep_copy(ran) : json_object());
	}
}

/* The end of span NAME of SPANS, as seconds since T0; -1 without it. */
static double span_end(const json_t *spans, const char *name, double t0)
{
	const json_t *s = json_object_get(spans, name);
	return s ? json_real_value(json_array_get(s, 1)) - t0 : -1;
}

static double span_len(const json_t *spans, const char *name)
{
	const json_t *s = json_object_get(spans, name);
	return s ? json_real_value(json_array_get(s, 1)) - json_real_value(json_array_get(s, 0))
		 : -1;
}

static double first_of(double a, double b)
{
	return a >= 0 ? a : b;
}

static json_t *seconds(double s)
{
	/* milliseconds are all a rollout's phases need */
	return s < 0 ? json_null() : json_real((double)(long long)(s * 1000 + 0.5) / 1000);
}

json_t *status_rollout_phases(const deployment *d, trace *t, const char *command, double t0_wall,
			      double took)
{
	json_t *spans = trace_spans(t), *pods = json_object();
	for (size_t i = 0; i < d->npods; i++) {
		const json_t *s = json_object_get(spans, d->pods[i].pod_name);
		if (!s)
			continue;
		/* created: the pod exists with its infra container started (a
		 * first-tier pod: created and started in one call) */
		double created =
		    first_of(span_end(s, "create again (manifest changed)", t0_wall),
			     first_of(span_end(s, "create ahead (infra started)", t0_wall),
				      span_end(s, "play and start (first tier)", t0_wall)));
		double started = first_of(span_end(s, "start app containers", t0_wall),
					  span_end(s, "play and start (first tier)", t0_wall));
		json_object_set_new(pods, d->pods[i].name,
				    json_pack("{s:o, s:o, s:o, s:o}", "created_s", seconds(created),
					      "started_s", seconds(started), "ready_s",
					      seconds(span_end(s, "probe until ready", t0_wall)),
					      "bootstrap_s",
					      seconds(span_len(s, "ready hook (bootstrap)"))));
	}
	json_decref(spans);
	return json_pack("{s:s, s:f, s:o, s:o}", "command", command, "at", t0_wall, "took_s",
			 seconds(took), "pods", pods);
}

int status_phases_save(const char *state_dir, const json_t *phases, aerr_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", state_dir, STATUS_PHASES_FILE);
	char *text = json_dumps(phases, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text)
		return aerr_set(err, AEGIS_EFAIL, "%s: cannot encode the phase times", path);
	int rc = fs_write_atomic(path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}

json_t *status_phases_load(const char *state_dir)
{
	cleanup_free char *path = xasprintf("%s/%s", state_dir, STATUS_PHASES_FILE);
	json_t *j = json_load_file(path, 0, NULL);
	if (j && !json_is_object(json_object_get(j, "pods"))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

double *status_expected_ready(const deployment *d, const json_t *phases)
{
	if (!phases)
		return NULL;
	double *w = xcalloc(d->npods ? d->npods : 1, sizeof *w);
	const json_t *pods = json_object_get(phases, "pods");
	for (size_t i = 0; i < d->npods; i++) {
		const json_t *p = json_object_get(pods, d->pods[i].name);
		const json_t *st = json_object_get(p, "started_s"),
			     *rd = json_object_get(p, "ready_s");
		w[i] = json_is_number(st) && json_is_number(rd)
			   ? json_number_value(rd) - json_number_value(st)
			   : -1;
	}
	return w;
}
