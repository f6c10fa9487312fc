#include "rollout/status.h"

#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "rollout/images.h"

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
