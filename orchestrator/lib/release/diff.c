#include "release/diff.h"

#include <git2.h>
#include <string.h>

#include "release/history.h"

/* A unified diff of two manifests of pod NAME, as git shows one. */
static int unified(const char *name, const char *old, const char *new, char **out, aerr_t *err)
{
	/* libgit2 adds the a/ and b/ prefixes */
	cleanup_free char *path = xasprintf("manifests/%s.yaml", name);
	git_patch *patch = NULL;
	git_buf buf = {0};
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	opts.context_lines = 3;
	int rc = 0;
	if (git_patch_from_buffers(&patch, old, old ? strlen(old) : 0, path, new,
				   new ? strlen(new) : 0, path, &opts) < 0 ||
	    git_patch_to_buf(&buf, patch) < 0) {
		const git_error *e = git_error_last();
		rc = aerr_set(err, AEGIS_EFAIL, "cannot diff the manifests of %s: %s", name,
			      e && e->message ? e->message : "libgit2 failed");
	} else {
		*out = xstrndup(buf.ptr ? buf.ptr : "", buf.size);
	}
	git_buf_dispose(&buf);
	git_patch_free(patch);
	return rc;
}

typedef struct side {
	const char *name;
	const char *pod_name;
	const char *hash;
	char *yaml;	  /* owned; NULL when unknown */
	const char *note; /* why YAML is unknown */
} side;

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

/* One entry; OLD NULL: added, NEW NULL: removed. */
static int entry(json_t *pods, size_t *changes, const side *old, const side *new, aerr_t *err)
{
	const char *status;
	const side *any = new ? new : old;
	const char *name = any->name;
	if (!old)
		status = "added";
	else if (!new)
		status = "removed";
	else if (old->hash && new->hash)
		status = strcmp(old->hash, new->hash) == 0 ? "unchanged" : "changed";
	else
		status = old->yaml && new->yaml &&strcmp(old->yaml, new->yaml) == 0 ? "unchanged"
										    : "changed";
	json_t *o =
	    json_pack("{s:s, s:s, s:s}", "name", name, "pod_name", any->pod_name, "status", status);
	json_object_set_new(o, "old_hash", old && old->hash ? json_string(old->hash) : json_null());
	json_object_set_new(o, "new_hash", new &&new->hash ? json_string(new->hash) : json_null());
	if (strcmp(status, "unchanged") != 0)
		++*changes;
	if (strcmp(status, "changed") == 0 || strcmp(status, "added") == 0 ||
	    strcmp(status, "removed") == 0) {
		bool known_old = !old || old->yaml, known_new = !new || new->yaml;
		if (known_old && known_new) {
			char *text = NULL;
			if (unified(name, old ? old->yaml : NULL, new ? new->yaml : NULL, &text,
				    err) < 0) {
				json_decref(o);
				return -1;
			}
			json_object_set_new(o, "diff", json_string(text));
			free(text);
		} else {
			json_object_set_new(
			    o, "note",
			    json_string(str_or(old ? old->note : NULL, "manifest unknown")));
		}
	}
	json_array_append_new(pods, o);
	return 0;
}

static json_t *result(const deployment *d, json_t *against, json_t *pods, size_t changes)
{
	return json_pack("{s:o, s:s, s:I, s:o}", "against", against, "profile", d->prof.name,
			 "changes", (json_int_t)changes, "pods", pods);
}

static const char *hash_label(const json_t *lp)
{
	return json_string_value(
	    json_object_get(json_object_get(lp, "Labels"), MANIFEST_HASH_LABEL));
}

/* The entry of pod P of the profile (YAML its redacted manifest) against
 * the live pod of its name in LIVE, if any. */
static int live_entry(const char *state_dir, const pod *p, const char *yaml, const json_t *live,
		      json_t *pods, size_t *changes, aerr_t *err)
{
	side new = {.name = p->name,
		    .pod_name = p->pod_name,
		    .hash = p->manifest_hash,
		    .yaml = (char *)yaml};
	const json_t *lp = NULL;
	size_t k;
	json_t *v;
	json_array_foreach(live, k, v)
	{
		if (strcmp(str_or(json_string_value(json_object_get(v, "Name")), ""),
			   p->pod_name) == 0)
			lp = v;
	}
	if (!lp)
		return entry(pods, changes, NULL, &new, err);
	const char *label = hash_label(lp);
	side old = {.name = p->name, .pod_name = p->pod_name, .hash = label};
	cleanup_free char *note = NULL;
	int rc = 0;
	if (!label)
		old.note = "the live pod has no " MANIFEST_HASH_LABEL " label";
	else if (!new.hash || strcmp(label, new.hash) != 0) {
		if (history_find_manifest(state_dir, p->name, label, &old.yaml, NULL, err) < 0)
			rc = -1;
		else if (!old.yaml)
			old.note = note = xasprintf("no revision of the release history "
						    "recorded manifest hash %s of %s",
						    label, p->name);
	} else {
		old.yaml = xstrdup(new.yaml);
	}
	if (rc == 0)
		rc = entry(pods, changes, &old, &new, err);
	free(old.yaml);
	return rc;
}

/* The entry of a live AEGIS pod V that D does not have (0 when V is none). */
static int removed_entry(const char *state_dir, const deployment *d, const json_t *v, json_t *pods,
			 size_t *changes, aerr_t *err)
{
	const char *name =
	    json_string_value(json_object_get(json_object_get(v, "Labels"), POD_LABEL));
	const char *pod_name = json_string_value(json_object_get(v, "Name"));
	if (!name || !pod_name || deployment_pod_index(d, name) >= 0)
		return 0;
	const char *label = hash_label(v);
	side old = {.name = name,
		    .pod_name = pod_name,
		    .hash = label,
		    .note = "no recorded manifest for this pod"};
	int rc = 0;
	if (label && history_find_manifest(state_dir, name, label, &old.yaml, NULL, err) < 0)
		rc = -1;
	if (rc == 0)
		rc = entry(pods, changes, &old, NULL, err);
	free(old.yaml);
	return rc;
}

int diff_live(const char *state_dir, deployment *d, const json_t *live, json_t **out, aerr_t *err)
{
	char **mine = NULL;
	if (history_redacted_manifests(state_dir, d, false, &mine, err) < 0)
		return -1;
	json_t *pods = json_array();
	size_t changes = 0;
	int rc = 0;
	git_libgit2_init();
	for (size_t i = 0; i < d->npods && rc == 0; i++)
		rc = live_entry(state_dir, &d->pods[i], mine[i], live, pods, &changes, err);
	/* live AEGIS pods this profile does not have */
	size_t k;
	json_t *v;
	json_array_foreach(live, k, v)
	{
		if (rc == 0)
			rc = removed_entry(state_dir, d, v, pods, &changes, err);
	}
	git_libgit2_shutdown();
	history_strv_free(mine, d->npods);
	if (rc < 0) {
		json_decref(pods);
		return -1;
	}
	*out = result(d, json_string("live"), pods, changes);
	return 0;
}

int diff_revision(const char *state_dir, deployment *d, int rev, json_t **out, aerr_t *err)
{
	json_t *info = NULL;
	if (history_show(state_dir, rev, &info, err) < 0)
		return -1;
	int number = (int)json_integer_value(json_object_get(info, "revision"));
	char **mine = NULL;
	if (history_redacted_manifests(state_dir, d, false, &mine, err) < 0) {
		json_decref(info);
		return -1;
	}
	json_t *recorded = json_object_get(info, "pods");
	json_t *pods = json_array();
	size_t changes = 0;
	int rc = 0;
	git_libgit2_init();
	for (size_t i = 0; i < d->npods && rc == 0; i++) {
		const pod *p = &d->pods[i];
		side new = {.name = p->name,
			    .pod_name = p->pod_name,
			    .hash = p->manifest_hash,
			    .yaml = mine[i]};
		json_t *r = json_object_get(recorded, p->name);
		if (!r) {
			rc = entry(pods, &changes, NULL, &new, err);
			continue;
		}
		side old = {.name = p->name,
			    .pod_name = json_string_value(json_object_get(r, "pod_name")),
			    .hash = json_string_value(json_object_get(r, "manifest_hash"))};
		cleanup_free char *path = xasprintf("manifests/%s.yaml", p->name);
		if (history_read_file(state_dir, number, path, &old.yaml, NULL, err) < 0) {
			aerr_clear(err);
			old.note = "the revision has no manifest of this pod";
		}
		if (!old.pod_name)
			old.pod_name = p->pod_name;
		rc = entry(pods, &changes, &old, &new, err);
		free(old.yaml);
	}
	const char *name;
	json_t *r;
	json_object_foreach(recorded, name, r)
	{
		if (rc < 0)
			break;
		if (deployment_pod_index(d, name) >= 0)
			continue;
		side old = {.name = name,
			    .pod_name =
				str_or(json_string_value(json_object_get(r, "pod_name")), name),
			    .hash = json_string_value(json_object_get(r, "manifest_hash"))};
		cleanup_free char *path = xasprintf("manifests/%s.yaml", name);
		if (history_read_file(state_dir, number, path, &old.yaml, NULL, err) < 0) {
			aerr_clear(err);
			old.note = "the revision has no manifest of this pod";
		}
		rc = entry(pods, &changes, &old, NULL, err);
		free(old.yaml);
	}
	git_libgit2_shutdown();
	history_strv_free(mine, d->npods);
	json_decref(info);
	if (rc < 0) {
		json_decref(pods);
		return -1;
	}
	*out = result(d, json_integer(number), pods, changes);
	return 0;
}
