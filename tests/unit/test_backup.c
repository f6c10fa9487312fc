/* backup_verify: a backup is restored only when every archive matches its
 * manifest; what does not match is named, and a malformed manifest is a
 * configuration error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lib/backup.h"
#include "lib/fsutil.h"

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
