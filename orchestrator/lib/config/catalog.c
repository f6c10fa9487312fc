#include "config/catalog.h"

#include <stdio.h>

#include "util/fsutil.h"

static char *accept_pod(const char *dir, const char *name)
{
	cleanup_free char *sub = fs_join(dir, name);
	cleanup_free char *tmpl = fs_join(sub, "pod.yaml");
	return fs_exists(tmpl) ? xstrdup(name) : NULL;
}

int catalog_list(const char *root, char ***names, size_t *n, aerr_t *err)
{
	cleanup_free char *dir = fs_join(root, "kube");
	return fs_list_dir(dir, accept_pod, names, n, err);
}

char *catalog_template(const char *root, const char *pod)
{
	return xasprintf("%s/kube/%s/pod.yaml", root, pod);
}
