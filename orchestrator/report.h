/* Presentation shared by the engine commands: rollout progress (live lines
 * on a TTY, timestamped lines otherwise), the failure diagnostic and the
 * --json rollout report.  Library code never prints; this does. */
#ifndef AEGIS_REPORT_H
#define AEGIS_REPORT_H

#include <jansson.h>

#include "cli.h"
#include "lib/config/deployment.h"
#include "lib/podman/podman.h"
#include "lib/rollout/rollout.h"

typedef struct reporter reporter;

/* SELECTED (NULL: every pod) as in rollout_opts: the others show as skipped.
 * The reporter keeps its own copy of what it shows, updated by
 * reporter_progress, so its ticker thread shares nothing with the rollout. */
reporter *reporter_new(const struct cli *cli, const deployment *d, const bool *selected);
/* rollout_opts.progress */
void reporter_progress(void *ctx, const deployment *d, size_t pod, const rollout_pod *st);
/* Stop the live display (final redraw). */
void reporter_finish(reporter *r);
void reporter_free(reporter *r);
/* Image pull status lines; CTX is the command's struct cli (-q silences them). */
void reporter_pull(void *ctx, const char *line);

/* The diagnostic of a failed pod, on stderr. */
void report_failure(const deployment *d, size_t pod, const rollout_pod *st);
/* {"profile", "result", "duration_s", "pods": [...]} */
json_t *report_rollout_json(const deployment *d, const rollout_pod *states, int rc,
			    double duration_s);
void report_print_json(json_t *js);

/* What init (or setup-user) did to ENV_PATH (created from FROM, values generated). */
struct secret_fill;
void report_secret_fill(const char *env_path, const char *from, const struct secret_fill *done);

/* validate's table: the containers' checks, then the edge routes and SEAL
 * keys (pod, container, check, result, latency, detail), on stdout. */
struct validation;
void report_validation(const deployment *d, const struct validation *v);

#endif
