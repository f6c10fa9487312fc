/* aegis-deploy status: the profile's pods as Podman sees them. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/validate.h"
#include "report.h"

static const char help[] =
	"Usage: aegis-deploy status [--profile P]\n"
	"\n"
	"Show the profile's pods: state, containers ready/total (readiness probe\n"
	"passing now; --json also gives the running count), uptime and\n"
	"published ports; the profile's pods that are absent; and AEGIS pods that are\n"
	"running but not part of the profile.\n"
	"\n";

/* Seconds since an RFC 3339 time ("2026-11-23T09:32:34.123+00:00"), -1 if unparsable. */
static long seconds_since(const char *t)
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
	return (long)(time(NULL) - when);
}

static void human(long s, char *buf, size_t n)
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

static json_t *find_pod(json_t *list, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p)
	{
		const char *n = json_string_value(json_object_get(p, "Name"));
		if (n && strcmp(n, name) == 0)
			return p;
	}
	return NULL;
}

static void count_containers(json_t *p, int *running, int *total)
{
	*running = *total = 0;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(p, "Containers"), i, c)
	{
		const char *names = json_string_value(json_object_get(c, "Names"));
		if (names && strlen(names) > 6 && strcmp(names + strlen(names) - 6, "-infra") == 0)
			continue;
		(*total)++;
		const char *st = json_string_value(json_object_get(c, "Status"));
		if (st && strcmp(st, "running") == 0)
			(*running)++;
	}
}

COMMAND(status)
{
	int st = cli_no_options("status", help, argc, argv);
	if (st >= 0)
		return st;
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, DEPLOYMENT_LENIENT, &err) <
	    0)
		return cli_fail(cli, &err);
	podman *pm = NULL;
	json_t *list = NULL;
	if (report_open_podman(cli, &d.cfg, &pm, &err) < 0 ||
	    podman_list_pods(pm, &list, &err) < 0) {
		podman_close(pm);
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	/* Ready = the container's readiness probe passes now: the profile's
	 * checks, run concurrently (as validate does). */
	check *checks = NULL;
	size_t nchecks = 0;
	if (json_array_size(list) && validate_run(pm, &d, NULL, &checks, &nchecks, &err) < 0) {
		json_decref(list);
		podman_close(pm);
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	json_t *pods = json_array(), *absent = json_array(), *extra = json_array();
	for (size_t i = 0; i < d.npods; i++) {
		const pod *p = &d.pods[i];
		json_t *live = find_pod(list, p->pod_name);
		if (!live) {
			json_array_append_new(absent, json_string(p->name));
			continue;
		}
		int running, total, ready = 0;
		count_containers(live, &running, &total);
		for (size_t k = 0; k < nchecks; k++)
			ready += checks[k].pod == i && checks[k].ok;
		json_t *ports = json_array();
		for (size_t k = 0; k < p->nports; k++)
			if (p->ports[k].host_port)
				json_array_append_new(ports, json_integer(p->ports[k].host_port));
		const char *state = json_string_value(json_object_get(live, "Status"));
		json_array_append_new(
			pods, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:o}", "name", p->name,
					"pod_name", p->pod_name, "state", state ? state : "unknown",
					"ready", ready, "running", running, "containers", total,
					"uptime_s",
					(json_int_t)seconds_since(json_string_value(
						json_object_get(live, "Created"))),
					"ports", ports));
	}
	size_t i;
	json_t *lp;
	json_array_foreach(list, i, lp)
	{
		const char *name = json_string_value(json_object_get(lp, "Name"));
		bool known = false;
		for (size_t k = 0; k < d.npods && name; k++)
			known |= strcmp(d.pods[k].pod_name, name) == 0;
		if (name && !known)
			json_array_append_new(extra, json_string(name));
	}
	if (cli->json) {
		json_t *js = json_pack("{s:s, s:O, s:O, s:O}", "profile", d.prof.name, "pods", pods,
				       "absent", absent, "not_in_profile", extra);
		report_print_json(js);
		json_decref(js);
	} else {
		printf("%-14s %-20s %-10s %-8s %-7s %s\n", "POD", "PODMAN NAME", "STATE", "READY",
		       "UPTIME", "PORTS");
		json_t *o;
		json_array_foreach(pods, i, o)
		{
			char up[32], ready[32], ports[512] = "";
			human((long)json_integer_value(json_object_get(o, "uptime_s")), up, sizeof up);
			snprintf(ready, sizeof ready, "%d/%d",
				 (int)json_integer_value(json_object_get(o, "ready")),
				 (int)json_integer_value(json_object_get(o, "containers")));
			size_t k;
			json_t *port;
			json_array_foreach(json_object_get(o, "ports"), k, port)
				snprintf(ports + strlen(ports), sizeof ports - strlen(ports), "%s%lld",
					 k ? "," : "", (long long)json_integer_value(port));
			printf("%-14s %-20s %-10s %-8s %-7s %s\n",
			       json_string_value(json_object_get(o, "name")),
			       json_string_value(json_object_get(o, "pod_name")),
			       json_string_value(json_object_get(o, "state")), ready, up, ports);
		}
		json_array_foreach(absent, i, o)
			printf("%-14s %-20s %s\n", json_string_value(o), "-", "absent");
		if (json_array_size(extra)) {
			printf("\nAEGIS pods not in profile %s:", d.prof.name);
			json_array_foreach(extra, i, o)
				printf(" %s", json_string_value(o));
			printf("\n");
		}
	}
	checks_free(checks, nchecks);
	json_decref(pods);
	json_decref(absent);
	json_decref(extra);
	json_decref(list);
	podman_close(pm);
	deployment_free(&d);
	return 0;
}
