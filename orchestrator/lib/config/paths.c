#include "config/paths.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"

static int copy_out(char *buf, size_t size, const char *s, aerr_t *err)
{
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n + 1 > size)
		return aerr_set(err, AEGIS_ECONFIG, "path too long: %s", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

static int has_profiles(const char *dir)
{
	cleanup_free char *p = fs_join(dir, "profiles");
	return access(p, F_OK) == 0;
}

/* DIR holds the product's data: profiles/ and the variable schema */
static bool is_root(const char *dir)
{
	cleanup_free char *schema = fs_join(dir, "kube/variables.yaml");
	return has_profiles(dir) && access(schema, F_OK) == 0;
}

int paths_default_root(const char *argv0, char *buf, size_t size, aerr_t *err)
{
	(void)argv0;
	const char *env = getenv("AEGIS_ROOT");
	if (env && *env)
		return copy_out(buf, size, env, err);

	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		cleanup_free char *dir = fs_dirname(exe);
		/* a checkout: the nearest directory above the binary (build/) that
		 * holds the product's data.  Found by its contents, not through git:
		 * initialising libgit2 costs more than the rest of `plan` (it loads
		 * the system's CA certificates), and a tarball has no .git. */
		cleanup_free char *up = xstrdup(dir);
		for (;;) {
			if (is_root(up))
				return copy_out(buf, size, up, err);
			char *next = fs_dirname(up);
			bool top = strcmp(next, up) == 0;
			free(up);
			up = next;
			if (top)
				break;
		}
		/* installed layout (make install): <prefix>/bin/aegis-deploy with
		 * <prefix>/share/aegis-deploy/{kube,profiles} */
		cleanup_free char *parent = fs_dirname(dir);
		cleanup_free char *share = fs_join(parent, PATHS_SHARE_SUBDIR);
		if (has_profiles(share))
			return copy_out(buf, size, share, err);
		/* <prefix>/bin/aegis-deploy beside <prefix>/profiles */
		if (has_profiles(parent))
			return copy_out(buf, size, parent, err);
	}
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd) && has_profiles(cwd))
		return copy_out(buf, size, cwd, err);
	return aerr_set(err, AEGIS_ECONFIG,
			"cannot find the aegis-deploy root (profiles/, kube/): pass --root DIR "
			"or set AEGIS_ROOT");
}
