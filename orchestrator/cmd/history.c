/* aegis-deploy history: the release history (lib/release/history.h), one line per
 * revision, or one revision with `history show REV`. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"
#include "lib/release/backup.h"
#include "lib/release/history.h"
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
    "  history            revision, time, command, profile, result, the volume\n"
    "                     snapshot it took before its rollout (deploy --atomic or\n"
    "                     --snapshot: its size and whose data, rN; 'removed' once\n"
    "                     AEGIS_SNAPSHOT_KEEP dropped it), source commit; then the\n"
    "                     disk the snapshots on disk use\n"
    "  history show REV   one revision: its message, the image and digest each\n"
    "                     container ran (repo@sha256:..., or the image ID of a\n"
    "                     local-only image) and its files (REV 0: the latest)\n"
    "  history show REV FILE\n"
    "                     the content of one file of it (e.g. manifests/core.yaml)\n"
    "  --json             the revisions (or the revision) as JSON\n"
    "\n";

static double mib(json_int_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* Each revision's snapshot gets "on_disk" (and its size there) from USAGE
 * (snapshot_usage). */
static void mark_snapshots(json_t *revs, const json_t *usage)
{
	size_t i;
	json_t *r;
	json_array_foreach(revs, i, r)
	{
		json_t *snap = json_object_get(r, "snapshot");
		if (!snap)
			continue;
		json_t *size = json_object_get(json_object_get(usage, "items"),
					       json_string_value(json_object_get(snap, "id")));
		json_object_set_new(snap, "on_disk", json_boolean(size != NULL));
		if (size)
			json_object_set(snap, "disk_bytes", size);
	}
}

static void print_list(const json_t *revs, const json_t *usage)
{
	printf("%-4s %-20s %-9s %-12s %-7s %-20s %s\n", "REV", "TIME", "COMMAND", "PROFILE",
	       "RESULT", "SNAPSHOT", "SOURCE");
	size_t i;
	json_t *r;
	json_array_foreach(revs, i, r)
	{
		time_t t = (time_t)json_integer_value(json_object_get(r, "time"));
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		const char *src =
		    json_string_value(json_object_get(json_object_get(r, "source"), "commit"));
		json_t *snap = json_object_get(r, "snapshot");
		char snapshot[64] = "-";
		if (snap)
			snprintf(snapshot, sizeof snapshot, "%.1fM r%d%s",
				 mib(json_integer_value(json_object_get(snap, "bytes"))),
				 (int)json_integer_value(json_object_get(snap, "revision")),
				 json_is_true(json_object_get(snap, "on_disk")) ? "" : " removed");
		printf("%-4d %-20s %-9s %-12s %-7s %-20s %s\n",
		       (int)json_integer_value(json_object_get(r, "revision")), when,
		       json_string_value(json_object_get(r, "command")),
		       json_string_value(json_object_get(r, "profile")),
		       json_string_value(json_object_get(r, "result")), snapshot, src ? src : "-");
	}
	printf("snapshots: %lld on disk, %.1f MiB, in %s\n",
	       (long long)json_integer_value(json_object_get(usage, "count")),
	       mib(json_integer_value(json_object_get(usage, "bytes"))),
	       json_string_value(json_object_get(usage, "path")));
}

/* Each container's image and the digest that ran (revisions before
 * digests were recorded have none). */
static void print_images(const json_t *info)
{
	const char *pod, *ctr;
	json_t *p, *c;
	bool any = false;
	json_object_foreach(json_object_get(info, "pods"), pod, p)
	{
		json_object_foreach(json_object_get(p, "images"), ctr, c)
		{
			if (!any)
				printf("Images (what ran):\n");
			any = true;
			cleanup_free char *name = xasprintf("%s/%s", pod, ctr);
			printf("  %-28s %s\n  %-28s   %s%s\n", name,
			       json_string_value(json_object_get(c, "image")), "",
			       json_string_value(json_object_get(c, "digest")),
			       json_is_true(json_object_get(c, "pinned")) ? ""
									  : " (local image ID)");
		}
	}
	if (any)
		printf("\n");
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
		printf("revision %d (commit %s)\n\n%s\n",
		       (int)json_integer_value(json_object_get(info, "revision")),
		       json_string_value(json_object_get(info, "commit")),
		       json_string_value(json_object_get(info, "message")));
		print_images(info);
		printf("Files:\n");
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
	if (args[1] && cli_revision("history", "REV must be", args[1], 0, &rev))
		return AEGIS_ECONFIG;
	aerr_t err = {0};
	cleanup_free char *dir = NULL;
	if (cli_state_dir(cli, &dir, &err) < 0)
		return cli_fail(cli, &err);
	if (args[0])
		return show(cli, dir, rev, args[2]);
	json_t *revs = NULL;
	if (history_list(dir, &revs, &err) < 0)
		return cli_fail(cli, &err);
	json_t *usage = snapshot_usage(dir);
	mark_snapshots(revs, usage);
	if (cli->json) {
		cleanup_free char *repo = xasprintf("%s/%s", dir, HISTORY_DIR);
		json_t *js = json_pack("{s:s, s:O, s:O}", "repository", repo, "revisions", revs,
				       "snapshots", usage);
		report_print_json(js);
		json_decref(js);
	} else if (json_array_size(revs) == 0)
		printf("no revisions yet in %s/%s\n", dir, HISTORY_DIR);
	else
		print_list(revs, usage);
	json_decref(usage);
	json_decref(revs);
	return 0;
}
