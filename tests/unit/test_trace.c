/* lib/rollout/trace.c: spans of concurrent threads written as Chrome trace-event JSON. */
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "lib/rollout/trace.h"
#include "lib/util/clock.h"
#include "lib/util/error.h"

static void *spans(void *arg)
{
	trace *t = arg;
	for (int i = 0; i < 200; i++)
		trace_span(t, 2, "probe", clock_mono_s(), clock_mono_s() + 0.001);
	return NULL;
}

TEST(trace_written_as_trace_events)
{
	trace *t = trace_new();
	double wall = clock_wall_s(), m = clock_mono_s();
	trace_track(t, 1, "pod-database");
	trace_span(t, 1, "start app containers", m, m + 0.25);
	trace_span(t, 1, "never", -1, 0); /* a phase that never began: nothing */
	pthread_t th[2];
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, spans, t);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	char *dir = harness_tmpdir();
	char *path = harness_write(dir, "trace.json", "");
	aerr_t err = {0};
	CHECK(trace_write(t, path, &err) == 0);
	trace_free(t);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	CHECK(doc != NULL);
	json_t *ev = json_object_get(doc, "traceEvents");
	/* two metadata events, one span, 400 concurrent spans */
	CHECK(json_array_size(ev) == 403);
	json_t *name = json_array_get(ev, 0), *span = json_array_get(ev, 2);
	CHECK_STR(json_string_value(json_object_get(name, "ph")), "M");
	CHECK_STR(json_string_value(json_object_get(json_object_get(name, "args"), "name")),
		  "pod-database");
	CHECK_STR(json_string_value(json_object_get(span, "ph")), "X");
	CHECK_STR(json_string_value(json_object_get(span, "name")), "start app containers");
	CHECK(json_integer_value(json_object_get(span, "dur")) == 250000);
	/* wall-clock microseconds, comparable with Podman's own times */
	double ts = (double)json_integer_value(json_object_get(span, "ts")) / 1e6;
	CHECK(ts > wall - 1 && ts < wall + 1);
	json_decref(doc);
	free(path);
	free(dir);
}

TEST(trace_refuses_symlink)
{
	trace *t = trace_new();
	char *dir = harness_tmpdir();
	char *target = harness_write(dir, "target", "keep");
	char *link = xasprintf("%s/trace.json", dir);
	CHECK(symlink(target, link) == 0);
	aerr_t err = {0};
	int rc = trace_write(t, link, &err);
	trace_free(t);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "trace.json");
	free(link);
	free(target);
	free(dir);
}
