#include <sys/stat.h>

#include "harness.h"
#include "lib/util/fsutil.h"

TEST(fs_write_atomic_modes_and_symlinks)
{
	char *dir = harness_tmpdir();
	char *priv = NULL;
	if (asprintf(&priv, "%s/private", dir) < 0)
		return;
	aerr_t err = {0};
	CHECK(fs_mkdir_private(priv, 0700, &err) == 0);
	struct stat st;
	CHECK(stat(priv, &st) == 0 && (st.st_mode & 0777) == 0700);
	char *file = NULL;
	if (asprintf(&file, "%s/secret", priv) < 0)
		return;
	CHECK(fs_write_atomic(file, "abc", 3, 0600, &err) == 0);
	CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 3);
	char *link = NULL;
	if (asprintf(&link, "%s/link", priv) < 0)
		return;
	CHECK(symlink(file, link) == 0);
	CHECK(fs_write_atomic(link, "x", 1, 0600, &err) < 0);
	CHECK_CONTAINS(err.msg, "symbolic link");
	CHECK(stat(file, &st) == 0 && st.st_size == 3);
	/* a symlinked directory is refused too */
	char *ldir = NULL;
	if (asprintf(&ldir, "%s/ldir", dir) < 0)
		return;
	CHECK(symlink(priv, ldir) == 0);
	CHECK(fs_mkdir_private(ldir, 0700, &err) < 0);
	free(ldir);
	free(link);
	free(file);
	free(priv);
	free(dir);
}
