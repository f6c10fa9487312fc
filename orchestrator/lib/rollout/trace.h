/* A rollout trace: every pod's phases (created ahead, started, probed until
 * ready, its ready hook; stopped and removed in a teardown) as spans, written
 * in the Chrome trace-event JSON format ({"traceEvents": [...]}), which
 * Perfetto (ui.perfetto.dev) and chrome://tracing open.  Each pod is one
 * "thread" named after it; times are wall-clock microseconds, so they can be
 * compared with Podman's own (State.StartedAt).  Thread-safe: the rollout's
 * threads add spans concurrently. */
#ifndef AEGIS_TRACE_H
#define AEGIS_TRACE_H

#include <jansson.h>

#include "util/error.h"

typedef struct trace trace;

trace *trace_new(void);
void trace_free(trace *t);
/* Name the track TID (a pod: its index + 1; 0 is the command itself). */
void trace_track(trace *t, int tid, const char *name);
/* A span NAME of track TID from START to END, both clock_mono_s() times. */
void trace_span(trace *t, int tid, const char *name, double start, double end);
/* The trace as JSON, written atomically to PATH (0644: it holds names and
 * times, no value of the configuration). */
int trace_write(trace *t, const char *path, aerr_t *err);
/* Every span so far by track name, then span name: {"pod-core": {"probe until
 * ready": [start, end]}}, wall-clock seconds (a new reference; {} for a NULL
 * T). */
json_t *trace_spans(trace *t);

#endif
