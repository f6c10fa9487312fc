#include "release/state.h"

#include <sys/stat.h>

#include "util/fsutil.h"

int state_dir(const config *cfg, char **dir, aerr_t *err)
{
	const char *path = config_get(cfg, "AEGIS_STATE_DIR");
	if (!path || !*path)
		return aerr_set(
		    err, AEGIS_ECONFIG,
		    "AEGIS_STATE_DIR is not set (and has no default in kube/variables.yaml)");
	if (path[0] != '/')
		return aerr_set(err, AEGIS_ECONFIG, "AEGIS_STATE_DIR=%s: not an absolute path",
				path);
	if (fs_mkdir_private(path, 0700, err) < 0) {
		err->status = AEGIS_ECONFIG;
		return aerr_wrap(err, "AEGIS_STATE_DIR=%s", path);
	}
	*dir = xstrdup(path);
	return 0;
}
