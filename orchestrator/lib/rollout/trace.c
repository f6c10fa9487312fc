#include "rollout/trace.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fsutil.h"

struct trace {
	pthread_mutex_t lock;
	json_t *events;
	double wall_minus_mono; /* converts clock_mono_s() times to wall-clock */
};

trace *trace_new(void)
{
	trace *t = calloc(1, sizeof *t);
	if (!t)
		abort();
	pthread_mutex_init(&t->lock, NULL);
	t->events = json_array();
	t->wall_minus_mono = clock_wall_s() - clock_mono_s();
	return t;
}

void trace_free(trace *t)
{
	if (!t)
		return;
	json_decref(t->events);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void add(trace *t, json_t *ev)
{
	pthread_mutex_lock(&t->lock);
	json_array_append_new(t->events, ev);
	pthread_mutex_unlock(&t->lock);
}

void trace_track(trace *t, int tid, const char *name)
{
	if (!t)
		return;
	add(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph", "M", "pid",
			 (int)getpid(), "tid", tid, "args", "name", name));
	add(t, json_pack("{s:s, s:s, s:i, s:i, s:{s:i}}", "name", "thread_sort_index", "ph", "M",
			 "pid", (int)getpid(), "tid", tid, "args", "sort_index", tid));
}

void trace_span(trace *t, int tid, const char *name, double start, double end)
{
	if (!t || start < 0)
		return;
	if (end < start)
		end = start;
	/* microseconds, as the format wants; integers keep them exact */
	json_int_t ts = (json_int_t)((start + t->wall_minus_mono) * 1e6);
	json_int_t dur = (json_int_t)((end - start) * 1e6);
	add(t, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:i}", "name", name, "cat", "rollout",
			 "ph", "X", "ts", ts, "dur", dur, "pid", (int)getpid(), "tid", tid));
}

int trace_write(trace *t, const char *path, aerr_t *err)
{
	pthread_mutex_lock(&t->lock);
	json_t *doc = json_pack("{s:O, s:s}", "traceEvents", t->events, "displayTimeUnit", "ms");
	pthread_mutex_unlock(&t->lock);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return aerr_set(err, AEGIS_EFAIL, "cannot encode the trace");
	int rc = fs_write_atomic(path, text, strlen(text), 0644, err);
	free(text);
	return rc < 0 ? aerr_wrap(err, "trace %s", path) : 0;
}

json_t *trace_spans(trace *t)
{
	json_t *out = json_object();
	if (!t)
		return out;
	pthread_mutex_lock(&t->lock);
	json_t *names = json_object(); /* tid -> track name */
	size_t i;
	json_t *ev;
	json_array_foreach(t->events, i, ev)
	{
		const char *ph = json_string_value(json_object_get(ev, "ph"));
		const char *n = json_string_value(json_object_get(ev, "name"));
		if (ph && n && strcmp(ph, "M") == 0 && strcmp(n, "thread_name") == 0) {
			char tid[24];
			snprintf(tid, sizeof tid, "%lld",
				 (long long)json_integer_value(json_object_get(ev, "tid")));
			json_object_set(names, tid,
					json_object_get(json_object_get(ev, "args"), "name"));
		}
	}
	json_array_foreach(t->events, i, ev)
	{
		const char *ph = json_string_value(json_object_get(ev, "ph"));
		const char *n = json_string_value(json_object_get(ev, "name"));
		if (!ph || !n || strcmp(ph, "X") != 0)
			continue;
		char tid[24];
		snprintf(tid, sizeof tid, "%lld",
			 (long long)json_integer_value(json_object_get(ev, "tid")));
		const char *track = json_string_value(json_object_get(names, tid));
		if (!track)
			continue;
		json_t *spans = json_object_get(out, track);
		if (!spans) {
			spans = json_object();
			json_object_set_new(out, track, spans);
		}
		double ts = (double)json_integer_value(json_object_get(ev, "ts")) / 1e6;
		double dur = (double)json_integer_value(json_object_get(ev, "dur")) / 1e6;
		/* a span recorded twice (never here today): the last one */
		json_object_set_new(spans, n, json_pack("[f, f]", ts, ts + dur));
	}
	pthread_mutex_unlock(&t->lock);
	json_decref(names);
	return out;
}
