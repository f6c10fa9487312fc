/* aegis-deploy history: the release history (lib/history.h), one line per
 * revision, or one revision with `history show REV`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "history.h"
#include "lib/clock.h"
#include "lib/history.h"
#include "lib/rollback.h"
#include "lib/state.h"
#include "lib/strbuf.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy history [--json]\n"
    "       aegis-deploy history show REV [FILE]\n"
    "\n"
    "The release history: every deploy, redeploy, rollback and teardown, successful\n"
    "or failed, is one revision, a commit in the git repository\n"
    "$AEGIS_STATE_DIR/history (inspect it with git too: git -C DIR log).  A revision\n"
    "holds the rendered manifests with every secret value replaced by a placeholder\n"
    "naming the variable and a keyed hash of its value\n"
    "(<secret:NAME:hmac-sha256:1a2b3c4d>), the plan, the JSON report, the resolved\n"
    "configuration (secrets as placeholders) and the templates it was rendered from.\n"
    "\n"
    "  history            revision, time, command, profile, result, source commit\n"
    "  history show REV   one revision: its message and files (REV 0: the latest)\n"
    "  history show REV FILE\n"
    "                     the content of one file of it (e.g. manifests/core.yaml)\n"
    "  --json             the revisions (or the revision) as JSON\n"
    "\n";

static int state_of(const struct cli *cli, char **dir, aerr_t *err)
{
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, err) < 0)
		return -1;
	int rc = state_dir(&cfg, dir, err);
	config_free(&cfg);
	return rc;
}

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

bool deploy_atomic;

/* How long each restored pod may take to be ready again. */
#define RESTORE_TIMEOUT_S 300

static void restore_names(strbuf *b, const json_t *names)
{
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v) sb_addf(b, "%s%s", i ? ", " : "", json_string_value(v));
}

/* Play the pods of D that the failed rollout replaced (STATES) with the
 * manifests of the last successful revision, rebuilt with the current
 * secrets, and wait for them; pods it did not touch are not selected, so
 * they are never restarted.  Prints the result; returns its record. */
static json_t *restore(const struct cli *cli, const char *dir, const deployment *d,
		       const rollout_pod *states)
{
	json_t *names = json_array();
	for (size_t i = 0; i < d->npods; i++)
		if (states[i].start >= 0 && !states[i].kept)
			json_array_append_new(names, json_string(d->pods[i].name));
	json_t *out = json_pack("{s:o}", "pods", names);
	if (!json_array_size(names)) {
		json_object_set_new(out, "result", json_string("nothing replaced"));
		fprintf(
		    stderr,
		    "aegis-deploy: --atomic: the rollout replaced no pod; nothing to restore\n");
		return out;
	}
	aerr_t err = {0};
	json_t *target = NULL;
	deployment prev = {0};
	podman *pm = NULL;
	bool *selected = NULL;
	rollout_pod *st = NULL;
	cleanup_free char *work = xasprintf("%s/restore-XXXXXX", dir);
	bool made = false;
	int rev = 0;
	int rc = rollback_target(dir, -1, &target, &err);
	if (rc == 0) {
		rev = (int)json_integer_value(json_object_get(target, "revision"));
		json_object_set_new(out, "revision", json_integer(rev));
		made = mkdtemp(work) != NULL;
		if (!made)
			rc = aerr_sys(&err, AEGIS_EFAIL, errno, "cannot create %s", work);
	}
	if (rc == 0)
		rc = rollback_load(dir, rev, cli->env_path, work, &prev, &err);
	strbuf list = STRBUF_INIT;
	restore_names(&list, names);
	if (rc == 0) {
		selected = xcalloc(prev.npods ? prev.npods : 1, sizeof *selected);
		st = xcalloc(prev.npods ? prev.npods : 1, sizeof *st);
		size_t i;
		json_t *v;
		/* a pod this deploy added has no earlier manifest: it stays */
		json_array_foreach(names, i, v)
		{
			int idx = deployment_pod_index(&prev, json_string_value(v));
			if (idx >= 0)
				selected[idx] = true;
		}
		rc = cli_open_podman(cli, &prev.cfg, &pm, &err);
	}
	double took = 0;
	if (rc == 0) {
		cli_info(cli, "--atomic: restoring %s to revision %d", list.s, rev);
		const char *network = config_get(&prev.cfg, "AEGIS_NETWORK");
		reporter *rep = reporter_new(cli, &prev, selected);
		rollout_opts o = {
		    .network = network ? network : "aegis-network",
		    .timeout_s = RESTORE_TIMEOUT_S,
		    .selected = selected,
		    .progress = reporter_progress,
		    .ctx = rep,
		};
		double t0 = clock_mono_s();
		rc = rollout_run(pm, &prev, &o, st, &err);
		took = clock_mono_s() - t0;
		reporter_finish(rep);
		reporter_free(rep);
		for (size_t i = 0; i < prev.npods; i++)
			if (st[i].state == ROLL_FAILED)
				report_failure(&prev, i, &st[i]);
	}
	if (rc == 0) {
		json_object_set_new(out, "result", json_string("ok"));
		fprintf(stderr,
			"aegis-deploy: --atomic: restored %s to revision %d, ready in %.1f s\n",
			list.s, rev, took);
	} else {
		json_object_set_new(out, "result", json_string("failed"));
		json_object_set_new(out, "error", json_string(err.msg));
		fprintf(stderr, "aegis-deploy: --atomic: restoring %s failed: %s\n", list.s,
			err.msg);
	}
	sb_release(&list);
	for (size_t i = 0; st && i < prev.npods; i++)
		rollout_pod_free(&st[i]);
	free(st);
	free(selected);
	podman_close(pm);
	deployment_free(&prev);
	if (made)
		rollback_cleanup(work);
	json_decref(target);
	return out;
}

static void note(const struct cli *cli, const char *command, deployment *d,
		 const rollout_pod *states, int rc, const aerr_t *err, double took, int target,
		 const json_t *source)
{
	aerr_t herr = {0};
	cleanup_free char *dir = NULL;
	json_t *report = NULL;
	if (states)
		report = report_rollout_json(d, states, rc, took);
	history_entry e = {
	    .command = command,
	    .ok = rc >= 0,
	    .error = rc < 0 && err ? err->msg : NULL,
	    .duration_s = took >= 0 ? took : process_age_s(),
	    .states = states,
	    .report = report,
	    .lenient = states == NULL,
	    .source = source,
	    .rollback_of = target,
	};
	int rev = 0;
	int rc_dir = state_dir(&d->cfg, &dir, &herr);
	json_t *restored = NULL;
	if (rc_dir == 0 && deploy_atomic && rc < 0 && states && strcmp(command, "rollback") != 0)
		e.restore = restored = restore(cli, dir, d, states);
	if (rc_dir < 0 || history_record(dir, d, &e, &rev, &herr) < 0)
		fprintf(stderr,
			"aegis-deploy: warning: no revision recorded in the release history: %s\n",
			herr.msg);
	else
		cli_info(cli, "recorded revision %d in %s/%s", rev, dir, HISTORY_DIR);
	json_decref(restored);
	json_decref(report);
}

void history_note(const struct cli *cli, const char *command, deployment *d,
		  const rollout_pod *states, int rc, const aerr_t *err, double took)
{
	note(cli, command, d, states, rc, err, took, 0, NULL);
}

void history_note_rollback(const struct cli *cli, deployment *d, const rollout_pod *states, int rc,
			   const aerr_t *err, double took, int target, const json_t *source)
{
	note(cli, "rollback", d, states, rc, err, took, target, source);
}

static void print_list(const json_t *revs)
{
	printf("%-4s %-20s %-9s %-12s %-7s %s\n", "REV", "TIME", "COMMAND", "PROFILE", "RESULT",
	       "SOURCE");
	size_t i;
	json_t *r;
	json_array_foreach(revs, i, r)
	{
		time_t t = (time_t)json_integer_value(json_object_get(r, "time"));
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		const char *src =
		    json_string_value(json_object_get(json_object_get(r, "source"), "commit"));
		printf("%-4d %-20s %-9s %-12s %-7s %s\n",
		       (int)json_integer_value(json_object_get(r, "revision")), when,
		       json_string_value(json_object_get(r, "command")),
		       json_string_value(json_object_get(r, "profile")),
		       json_string_value(json_object_get(r, "result")), src ? src : "-");
	}
}

static int parse_rev(const char *s, int *rev)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0 || v > 1000000000)
		return cli_usage("history", "REV must be a revision number, not '%s'", s);
	*rev = (int)v;
	return 0;
}

static int show(const struct cli *cli, const char *dir, int rev, const char *file)
{
	aerr_t err = {0};
	if (file) {
		char *data = NULL;
		size_t len = 0;
		if (history_read_file(dir, rev, file, &data, &len, &err) < 0)
			return cli_fail(cli, &err);
		fwrite(data, 1, len, stdout);
		free(data);
		return 0;
	}
	json_t *info = NULL;
	if (history_show(dir, rev, &info, &err) < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		report_print_json(info);
	} else {
		printf("revision %d (commit %s)\n\n%s\nFiles:\n",
		       (int)json_integer_value(json_object_get(info, "revision")),
		       json_string_value(json_object_get(info, "commit")),
		       json_string_value(json_object_get(info, "message")));
		const char *path;
		json_t *size;
		json_object_foreach(json_object_get(info, "files"), path, size)
		    printf("  %-48s %6lld bytes\n", path, (long long)json_integer_value(size));
	}
	json_decref(info);
	return 0;
}

COMMAND(history)
{
	static const struct opt opts[] = {OPT_END};
	const char *args[3] = {NULL, NULL, NULL};
	int st = opts_parse("history", help, opts, argc, argv, 3, args);
	if (st >= 0)
		return st;
	int rev = 0;
	if (args[0] && strcmp(args[0], "show") != 0)
		return cli_usage("history", "unknown subcommand '%s' (only 'show REV')", args[0]);
	if (args[0] && !args[1])
		return cli_usage("history", "show needs a revision number");
	if (!args[0] && args[1])
		return cli_usage("history", "unexpected argument '%s'", args[1]);
	if (args[1] && parse_rev(args[1], &rev))
		return AEGIS_ECONFIG;
	aerr_t err = {0};
	cleanup_free char *dir = NULL;
	if (state_of(cli, &dir, &err) < 0)
		return cli_fail(cli, &err);
	if (args[0])
		return show(cli, dir, rev, args[2]);
	json_t *revs = NULL;
	if (history_list(dir, &revs, &err) < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_t *js = json_pack("{s:s, s:o}", "repository", "", "revisions", revs);
		cleanup_free char *repo = xasprintf("%s/%s", dir, HISTORY_DIR);
		json_object_set_new(js, "repository", json_string(repo));
		report_print_json(js);
		json_decref(js);
	} else if (json_array_size(revs) == 0) {
		json_decref(revs);
		printf("no revisions yet in %s/%s\n", dir, HISTORY_DIR);
	} else {
		print_list(revs);
		json_decref(revs);
	}
	return 0;
}
