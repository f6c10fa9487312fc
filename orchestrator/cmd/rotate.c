/* aegis-deploy rotate VARIABLE: a credential that a service keeps in its
 * data changed inside the service, then in .env and the pods
 * (lib/release/rotate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "lib/release/rotate.h"
#include "lib/release/state.h"
#include "lib/util/clock.h"
#include "lib/util/strbuf.h"
#include "lib/util/wipe.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy rotate [--value-from-stdin] [--timeout SECONDS] [--profile P] VARIABLE\n"
    "\n"
    "Change a credential that its service keeps in its own data, where editing\n"
    ".env alone would lock every client out.  The variables that can be rotated\n"
    "are those with a 'rotate:' field in kube/variables.yaml: POSTGRES_PASSWORD\n"
    "(ALTER ROLE through exec), KEYCLOAK_ADMIN_PASSWORD and GRAFANA_ADMIN_PASSWORD\n"
    "(their admin APIs), OPENBAO_SECRET_ID (a new AppRole secret-id; the old one\n"
    "is destroyed once the pods use the new).\n"
    "\n"
    "Steps: the new value (generated as `init` does, or read from stdin) is saved\n"
    "to AEGIS_STATE_DIR/rotate/VARIABLE.pending (0600); the service is changed to\n"
    "accept it and refuse the old; .env is updated (every other byte kept); the\n"
    "pods whose Podman secret holds it are replaced in dependency order, each\n"
    "gated on readiness, as deploy does; the release history records a revision\n"
    "(command rotate, the variable's name, never a value); the pending file is\n"
    "removed.  Killed at any point, running the same command again resumes with\n"
    "the saved value and finishes.  No value is ever printed or put in an\n"
    "argument.\n"
    "\n"
    "  --value-from-stdin  read the new value from stdin (one line) instead of\n"
    "                      generating one\n"
    "  --timeout SECONDS   readiness timeout of each pod replaced (default 300)\n"
    "  --profile P         the profile whose pods are replaced (default: the one\n"
    "                      last deployed from profiles/, per the release history;\n"
    "                      without one, the pods deployed now)\n"
    "  --json              print the steps and the rollout as one JSON object\n"
    "\n"
    "Exit status: 0 rotated, 1 a step failed (run it again to resume), 2 usage\n"
    "or configuration error.\n"
    "\n";

struct rollout_ctx {
	const struct cli *cli;
	int timeout_s;
	const char *variable;
	double took;
};

/* The pods again with the new .env: the rollout deploy does, recorded as
 * a revision of command "rotate". */
static int rollout(void *ctx, aerr_t *err)
{
	struct rollout_ctx *r = ctx;
	/* rotate prints one JSON object of its own */
	struct cli quiet = *r->cli;
	quiet.json = false;
	deployment d;
	if (cli_load(&quiet, true, CLI_LAST_PROFILE, &d, NULL, err) < 0)
		return -1;
	struct deploy_args args = {
	    .timeout_s = r->timeout_s, .no_bootstrap = true, .rotated = r->variable};
	int rc = engine_release(&quiet, "rotate", &d, &args, &r->took, err);
	deployment_free(&d);
	return rc;
}

static void step_line(void *ctx, const char *name, const char *done, double seconds)
{
	cli_info(ctx, "rotate: %-7s %s (%.1f s)", name, done, seconds);
}

/* One line of stdin, its line break removed (newly allocated), or NULL. */
static char *read_value(aerr_t *err)
{
	strbuf b = STRBUF_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0 && b.len < 64 * 1024)
		sb_add(&b, buf, n);
	wipe(buf, sizeof buf);
	char *v = sb_take(&b);
	size_t len = strlen(v);
	if (len > 0 && v[len - 1] == '\n')
		v[--len] = '\0';
	if (len > 0 && v[len - 1] == '\r')
		v[--len] = '\0';
	if (!*v || strchr(v, '\n')) {
		wipe_free(v);
		aerr_set(err, AEGIS_ECONFIG,
			 "--value-from-stdin: expected one non-empty line on stdin");
		return NULL;
	}
	return v;
}

COMMAND(rotate)
{
	bool from_stdin = false;
	int timeout_s = 300;
	const char *pos[1] = {NULL};
	const struct opt opts[] = {
	    {"value-from-stdin", 0, OPT_BOOL, &from_stdin},
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    OPT_END,
	};
	int st = opts_parse("rotate", help, opts, argc, argv, 1, pos);
	if (st >= 0)
		return st;
	if (!pos[0])
		return cli_usage("rotate",
				 "which variable? (aegis-deploy rotate POSTGRES_PASSWORD)");
	aerr_t err = {0};
	char *value = from_stdin ? read_value(&err) : NULL;
	if (from_stdin && !value)
		return cli_fail(cli, &err);
	/* a variable that cannot be rotated is said before Podman is reached */
	config cfg;
	const schema_var *var;
	const rotate_method *method;
	int rc = config_load(&cfg, cli->root, cli->env_path, &err);
	if (rc == 0) {
		rc = rotate_check(&cfg, pos[0], &var, &method, &err);
		config_free(&cfg);
	}
	deployment d;
	podman *pm = NULL;
	if (rc < 0 || cli_load(cli, true, CLI_LAST_PROFILE, &d, &pm, &err) < 0) {
		wipe_free(value);
		return cli_fail(cli, &err);
	}
	char *state = NULL;
	rc = state_dir(&d.cfg, &state, &err);
	struct rollout_ctx r = {.cli = cli, .timeout_s = timeout_s, .variable = pos[0]};
	rotate_ctx c = {
	    .cfg = &d.cfg,
	    .state_dir = state,
	    .variable = pos[0],
	    .value = value,
	    .target = {.cfg = &d.cfg,
		       .pm = pm,
		       .cacert = config_get(&d.cfg, "AEGIS_CACERT"),
		       .wait_s = timeout_s,
		       .trace = cli_trace,
		       .trace_ctx = cli},
	    .rollout = rollout,
	    .rollout_ctx = &r,
	    .step = step_line,
	    .step_ctx = cli,
	};
	double t0 = clock_mono_s();
	json_t *steps = NULL;
	if (rc == 0)
		rc = rotate_run(&c, &steps, &err);
	double took = clock_mono_s() - t0;
	int status = rc < 0 ? cli_fail(cli, &err) : 0;
	if (cli->json) {
		json_t *js = json_pack("{s:s, s:s, s:f, s:o}", "variable", pos[0], "result",
				       rc == 0 ? "ok" : "failed", "seconds", took, "steps",
				       steps ? steps : json_array());
		if (rc < 0)
			json_object_set_new(js, "error", json_string(err.msg));
		report_print_json(js);
		json_decref(js);
	} else {
		json_decref(steps);
		if (rc == 0)
			cli_info(cli, "rotate: %s rotated in %.1f s", pos[0], took);
	}
	podman_close(pm);
	deployment_free(&d);
	free(state);
	wipe_free(value);
	return status;
}
