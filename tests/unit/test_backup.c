/* backup_verify: a backup is restored only when every archive matches its
 * manifest; what does not match is named, and a malformed manifest is a
 * configuration error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lib/release/backup.h"
#include "lib/util/fsutil.h"

/* sha256 of "0123456789" */
#define SUM "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"

static char *make_backup(const char *manifest)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	char *tar = fs_join(dir, "aegis-postgres-data.tar");
	char *man = fs_join(dir, BACKUP_MANIFEST);
	if (fs_write_atomic(tar, "0123456789", 10, 0600, &err) < 0 ||
	    fs_write_atomic(man, manifest, strlen(manifest), 0600, &err) < 0)
		abort();
	free(tar);
	free(man);
	return dir;
}

static const char good[] = "{\"format\": 1, \"volumes\": [{\"name\": \"aegis-postgres-data\", "
			   "\"pod\": \"database\", \"file\": \"aegis-postgres-data.tar\", "
			   "\"size\": 10, \"sha256\": \"" SUM "\"}]}";

TEST(backup_verify_accepts_a_matching_backup)
{
	char *dir = make_backup(good);
	json_t *m = NULL;
	aerr_t err = {0};
	CHECK(backup_verify(dir, &m, &err) == 0);
	CHECK(m && json_array_size(json_object_get(m, "volumes")) == 1);
	json_decref(m);
	free(dir);
}

TEST(backup_verify_refuses_a_changed_archive)
{
	char *dir = make_backup(good);
	char *tar = fs_join(dir, "aegis-postgres-data.tar");
	aerr_t err = {0};
	CHECK(fs_write_atomic(tar, "0123456780", 10, 0600, &err) == 0);
	json_t *m = NULL;
	CHECK(backup_verify(dir, &m, &err) < 0);
	CHECK(m == NULL && err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "aegis-postgres-data.tar does not match the backup's manifest");
	CHECK_CONTAINS(err.msg, "nothing was changed");
	/* a shorter file too */
	CHECK(fs_write_atomic(tar, "012", 3, 0600, &err) == 0);
	err = (aerr_t){0};
	CHECK(backup_verify(dir, &m, &err) < 0);
	CHECK_CONTAINS(err.msg, "3 bytes");
	/* and a missing one */
	CHECK(unlink(tar) == 0);
	err = (aerr_t){0};
	CHECK(backup_verify(dir, &m, &err) < 0);
	CHECK_CONTAINS(err.msg, "aegis-postgres-data.tar");
	free(tar);
	free(dir);
}

TEST(backup_verify_refuses_bad_manifests)
{
	static const char *const bad[] = {
	    "{\"format\": 2, \"volumes\": []}",
	    "{\"format\": 1, \"volumes\": []}",
	    "not json",
	    /* a file outside the backup */
	    "{\"format\": 1, \"volumes\": [{\"name\": \"v\", \"pod\": \"p\", \"file\": "
	    "\"../aegis-postgres-data.tar\", \"size\": 10, \"sha256\": \"" SUM "\"}]}",
	    /* no checksum */
	    "{\"format\": 1, \"volumes\": [{\"name\": \"v\", \"pod\": \"p\", \"file\": "
	    "\"aegis-postgres-data.tar\", \"size\": 10}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *dir = make_backup(bad[i]);
		json_t *m = NULL;
		aerr_t err = {0};
		CHECK(backup_verify(dir, &m, &err) < 0);
		CHECK(m == NULL && err.status == AEGIS_ECONFIG);
		CHECK_CONTAINS(err.msg, BACKUP_MANIFEST);
		free(dir);
	}
	/* no manifest at all */
	char *dir = harness_tmpdir();
	json_t *m = NULL;
	aerr_t err = {0};
	CHECK(backup_verify(dir, &m, &err) < 0);
	CHECK_CONTAINS(err.msg, "not a backup (no manifest.json)");
	free(dir);
}

/* AEGIS_SNAPSHOT_KEEP: default 5, a count 1-1000, anything else refused
 * naming the .env line and the value. */
TEST(snapshot_keep_reads_the_variable)
{
	char *dir = harness_tmpdir();
	static const char *const lines[] = {"", "AEGIS_SNAPSHOT_KEEP=3\n",
					    "AEGIS_SNAPSHOT_KEEP=0\n", "AEGIS_SNAPSHOT_KEEP=2x\n",
					    "AEGIS_SNAPSHOT_KEEP=1001\n"};
	static const int want[] = {5, 3, -1, -1, -1};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		char *env = harness_write(dir, ".env", lines[i]);
		config cfg;
		aerr_t err = {0};
		CHECK(config_load(&cfg, harness_root(), env, &err) == 0);
		int keep = 0;
		int rc = snapshot_keep(&cfg, &keep, &err);
		if (want[i] > 0) {
			CHECK(rc == 0 && keep == want[i]);
		} else {
			CHECK(rc < 0 && err.status == AEGIS_ECONFIG);
			CHECK_CONTAINS(err.msg, ".env:1: AEGIS_SNAPSHOT_KEEP=");
			CHECK_CONTAINS(err.msg, "1 to 1000");
		}
		config_free(&cfg);
		free(env);
	}
	free(dir);
}

static void make_snapshot(const char *state, const char *id, const char *content)
{
	aerr_t err = {0};
	char *top = fs_join(state, SNAPSHOT_DIR);
	char *dir = fs_join(top, id);
	char *file = fs_join(dir, "v.tar");
	if (fs_mkdir_private(dir, 0700, &err) < 0 ||
	    fs_write_atomic(file, content, strlen(content), 0600, &err) < 0)
		abort();
	free(file);
	free(dir);
	free(top);
}

/* Retention keeps the newest KEEP (ids sort by time) and removes what a
 * killed snapshot left; the usage counts the rest, file by file. */
TEST(snapshot_prune_keeps_the_newest)
{
	char *state = harness_tmpdir();
	make_snapshot(state, "20261201T000000.000001Z", "aaaa");
	make_snapshot(state, "20261202T000000.000001Z", "bbbbbb");
	make_snapshot(state, "20261203T000000.000001Z", "cc");
	make_snapshot(state, "20261203T000000.000002Z.partial-99", "dd");
	json_t *removed = NULL;
	aerr_t err = {0};
	CHECK(snapshot_prune(state, 2, &removed, &err) == 0);
	CHECK(json_array_size(removed) == 1);
	CHECK(strcmp(json_string_value(json_array_get(removed, 0)), "20261201T000000.000001Z") ==
	      0);
	json_decref(removed);
	json_t *u = snapshot_usage(state);
	CHECK(json_integer_value(json_object_get(u, "count")) == 2);
	CHECK(json_integer_value(json_object_get(u, "bytes")) == 8);
	CHECK(json_integer_value(
		  json_object_get(json_object_get(u, "items"), "20261202T000000.000001Z")) == 6);
	json_decref(u);
	char *gone = fs_join(state, SNAPSHOT_DIR "/20261203T000000.000002Z.partial-99");
	CHECK(!fs_exists(gone));
	free(gone);
	/* nothing to prune: no directory at all */
	char *empty = harness_tmpdir();
	CHECK(snapshot_prune(empty, 1, NULL, &err) == 0);
	u = snapshot_usage(empty);
	CHECK(json_integer_value(json_object_get(u, "count")) == 0);
	json_decref(u);
	free(empty);
	free(state);
}

/* A snapshot is used only when its manifest is the one the revision
 * recorded and it is still on disk. */
TEST(snapshot_check_refuses_a_changed_or_removed_snapshot)
{
	char *dir = make_backup(good);
	/* sha256 of the manifest as written */
	char *man = fs_join(dir, BACKUP_MANIFEST);
	char cmd[512], sum[65] = "";
	snprintf(cmd, sizeof cmd, "sha256sum '%s'", man);
	FILE *p = popen(cmd, "r");
	CHECK(p && fscanf(p, "%64s", sum) == 1);
	if (p)
		pclose(p);
	json_t *rec = json_pack("{s:s, s:s, s:s}", "id", "s1", "path", dir, "manifest_sha256", sum);
	json_t *m = NULL;
	char *path = NULL;
	aerr_t err = {0};
	CHECK(snapshot_check(rec, &m, &path, &err) == 0);
	CHECK(m && path && strcmp(path, dir) == 0);
	json_decref(m);
	free(path);
	json_object_set_new(rec, "manifest_sha256", json_string("00"));
	CHECK(snapshot_check(rec, &m, &path, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL && m == NULL && path == NULL);
	CHECK_CONTAINS(err.msg, "the snapshot was changed");
	json_object_set_new(rec, "path", json_string("/nonexistent/aegis-snapshot"));
	err = (aerr_t){0};
	CHECK(snapshot_check(rec, &m, &path, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "snapshot s1 is no longer on disk");
	json_decref(rec);
	free(man);
	free(dir);
}

/* backup_resume: without a restore journal nothing is done; a journal whose
 * backup's manifest changed since the restore began is refused, naming the
 * journal (so no pod starts on half-refilled volumes).  The deployment of
 * the pods deployed when none is (a restore killed after it removed them)
 * loads with no pod. */
TEST(backup_resume_finishes_only_a_matching_restore)
{
	char *state = harness_tmpdir();
	char *bk = make_backup(good);
	char *env_text = xasprintf("AEGIS_STATE_DIR=%s\n", state);
	char *env = harness_write(state, ".env", env_text);
	json_t *live = json_array();
	deployment d;
	aerr_t err = {0};
	if (deployment_load_deployed(&d, harness_root(), env, live, 0, &err) < 0)
		CHECK_STR(err.msg, "");
	json_decref(live);
	CHECK(d.npods == 0);
	CHECK(backup_resume(NULL, &d, NULL, NULL, &err) == 0);
	char *journal_text = xasprintf("{\"backup\": \"%s\", \"manifest_sha256\": \"%064d\", "
				       "\"pods\": [\"database\"]}",
				       bk, 0);
	char *journal = fs_join(state, RESTORE_JOURNAL);
	CHECK(fs_write_atomic(journal, journal_text, strlen(journal_text), 0600, &err) == 0);
	CHECK(backup_resume(NULL, &d, NULL, NULL, &err) < 0);
	CHECK_CONTAINS(err.msg, "restore-pending.json");
	CHECK_CONTAINS(err.msg, "the restore began with 000000000000");
	CHECK(fs_exists(journal));
	deployment_free(&d);
	free(journal);
	free(journal_text);
	free(env);
	free(env_text);
	free(bk);
	free(state);
}
