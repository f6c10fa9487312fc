#include "config/profile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/yamldoc.h"

void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *accept_profile(const char *dir, const char *name)
{
	(void)dir;
	size_t len = strlen(name);
	if (len > 5 && strcmp(name + len - 5, ".yaml") == 0)
		return xstrndup(name, len - 5);
	return NULL;
}

int profile_list(const char *root, char ***names, size_t *n, aerr_t *err)
{
	cleanup_free char *dir = fs_join(root, "profiles");
	return fs_list_dir(dir, accept_profile, names, n, err);
}

static char *joined(char **v, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 2;
	char *s = xcalloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, v[i]);
	}
	return s;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

int profile_load(const char *root, const char *name, profile *out, aerr_t *err)
{
	*out = (profile){0};
	char *path;
	/* a name is looked up in profiles/; a path (with '/') is a profile file */
	if (strchr(name, '/')) {
		path = xstrdup(name);
	} else {
		if (!valid_name(name))
			return aerr_set(err, AEGIS_ECONFIG, "invalid profile name '%s'", name);
		path = xasprintf("%s/profiles/%s.yaml", root, name);
	}
	if (!fs_exists(path)) {
		char **names = NULL;
		size_t n = 0;
		aerr_t ignored = {0};
		profile_list(root, &names, &n, &ignored);
		cleanup_free char *avail = joined(names, n);
		strv_free(names, n);
		aerr_set(err, AEGIS_ECONFIG, "unknown profile '%s' (no %s); available: %s", name,
			 path, n ? avail : "none");
		free(path);
		return -1;
	}
	out->path = path;
	yaml_document_t doc;
	if (ydoc_load_file(path, &doc, err) < 0) {
		profile_free(out);
		return -1;
	}
	int rc = 0;
	yaml_node_t *rootn = yaml_document_get_root_node(&doc);
	const char *pname = ydoc_str(ydoc_get(&doc, rootn, "name"));
	const char *desc = ydoc_str(ydoc_get(&doc, rootn, "description"));
	out->name = xstrdup(pname ? pname : name);
	out->description = desc ? xstrdup(desc) : NULL;
	yaml_node_t *pods = ydoc_get(&doc, rootn, "pods");
	if (!pods || pods->type != YAML_SEQUENCE_NODE) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: expected a 'pods:' list", path);
		goto done;
	}
	for (yaml_node_item_t *it = pods->data.sequence.items.start;
	     it < pods->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&doc, *it);
		const char *pod = ydoc_str(n);
		if (!pod || !valid_name(pod)) {
			rc = aerr_set(err, AEGIS_ECONFIG, "%s:%d: invalid pod name '%s'", path,
				      ydoc_line(n), pod ? pod : "(not a name)");
			goto done;
		}
		cleanup_free char *tmpl = catalog_template(root, pod);
		if (!fs_exists(tmpl)) {
			char **names = NULL;
			size_t nn = 0;
			aerr_t ignored = {0};
			catalog_list(root, &names, &nn, &ignored);
			cleanup_free char *avail = joined(names, nn);
			strv_free(names, nn);
			rc = aerr_set(err, AEGIS_ECONFIG,
				      "%s:%d: unknown pod '%s' (no %s); known pods: %s", path,
				      ydoc_line(n), pod, tmpl, avail);
			goto done;
		}
		bool dup = false;
		for (size_t i = 0; i < out->npods; i++)
			dup |= strcmp(out->pods[i], pod) == 0;
		if (dup)
			continue;
		out->pods = xrealloc(out->pods, (out->npods + 1) * sizeof *out->pods);
		out->pods[out->npods++] = xstrdup(pod);
	}
	if (!out->npods)
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: the profile selects no pods", path);
done:
	yaml_document_delete(&doc);
	if (rc < 0)
		profile_free(out);
	return rc;
}

void profile_free(profile *p)
{
	free(p->name);
	free(p->path);
	free(p->description);
	strv_free(p->pods, p->npods);
	*p = (profile){0};
}
