#include "config/deployment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "render/edge.h"
#include "util/fsutil.h"
#include "util/strbuf.h"

/* A network alias is a DNS name: it also goes unquoted into Podman's
 * "NETWORK:alias=NAME,..." option. */
static int check_aliases(const pod *p, const char *source, aerr_t *err)
{
	for (size_t k = 0; k < p->naliases; k++) {
		const char *a = p->aliases[k];
		if (!*a ||
		    strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
			strlen(a))
			return aerr_set(
			    err, AEGIS_ECONFIG,
			    "%s: %s: '%s' is not a hostname (letters, digits, '.', '-')", source,
			    POD_ALIASES_ANNOTATION, a);
	}
	return 0;
}

bool deployment_profile_has_edge(const profile *prof)
{
	for (size_t i = 0; i < prof->npods; i++)
		if (strcmp(prof->pods[i], EDGE_POD) == 0)
			return true;
	return false;
}

int deployment_load_pods(deployment *d, const char *root, unsigned flags, aerr_t *err)
{
	/* with the edge, the public URLs default to its https URLs; and its
	 * Caddyfile is a value computed from the configuration */
	bool edge = deployment_profile_has_edge(&d->prof);
	if (config_use_edge(&d->cfg, edge, err) < 0)
		goto fail;
	if (edge && edge_prepare(&d->cfg, (flags & DEPLOYMENT_LENIENT) != 0, err) < 0)
		goto fail;
	d->npods = d->prof.npods;
	d->pods = xcalloc(d->npods, sizeof *d->pods);
	d->manifests = xcalloc(d->npods, sizeof *d->manifests);
	render_opts opts = {.lenient = (flags & DEPLOYMENT_LENIENT) != 0};
	for (size_t i = 0; i < d->npods; i++) {
		cleanup_free char *tmpl = catalog_template(root, d->prof.pods[i]);
		cleanup_free char *secret = render_pod_secret_name(d->prof.pods[i]);
		opts.secret_name = secret;
		if (render_template(tmpl, &d->cfg, &opts, &d->manifests[i], err) < 0)
			goto fail;
		if (pod_from_manifest(tmpl, d->manifests[i].yaml, d->manifests[i].len, &d->pods[i],
				      err) < 0)
			goto fail;
		if (check_aliases(&d->pods[i], tmpl, err) < 0)
			goto fail;
		if (strcmp(d->pods[i].name, d->prof.pods[i]) != 0) {
			aerr_set(err, AEGIS_ECONFIG, "%s: label %s is '%s', expected '%s'", tmpl,
				 POD_LABEL, d->pods[i].name, d->prof.pods[i]);
			goto fail;
		}
	}
	if (plan_build(d->pods, d->npods, &d->plan, err) < 0) {
		aerr_wrap(err, "%s", d->prof.path);
		goto fail;
	}
	return 0;
fail:
	deployment_free(d);
	return -1;
}

int deployment_load(deployment *d, const char *root, const char *env_path, const char *profile_name,
		    unsigned flags, aerr_t *err)
{
	*d = (deployment){0};
	if (config_load(&d->cfg, root, env_path, err) < 0)
		return -1;
	if (profile_load(root, profile_name, &d->prof, err) < 0) {
		deployment_free(d);
		return -1;
	}
	return deployment_load_pods(d, root, flags, err);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void deployment_deployed_pods(json_t *live, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	size_t i;
	json_t *p;
	json_array_foreach(live, i, p)
	{
		/* podman_list_pods lists only pods labelled part of AEGIS */
		const char *name =
		    json_string_value(json_object_get(json_object_get(p, "Labels"), POD_LABEL));
		if (!name)
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof **names);
		(*names)[(*n)++] = xstrdup(name);
	}
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_name);
}

int deployment_load_deployed(deployment *d, const char *root, const char *env_path, json_t *live,
			     unsigned flags, aerr_t *err)
{
	*d = (deployment){0};
	if (config_load(&d->cfg, root, env_path, err) < 0)
		return -1;
	char **live_names = NULL, **catalog = NULL;
	size_t nlive = 0, ncatalog = 0;
	deployment_deployed_pods(live, &live_names, &nlive);
	if (catalog_list(root, &catalog, &ncatalog, err) < 0) {
		strv_free(live_names, nlive);
		deployment_free(d);
		return -1;
	}
	d->prof = (profile){.name = xstrdup("deployed"),
			    .path = xstrdup("(the AEGIS pods deployed)"),
			    .description = xstrdup("the AEGIS pods that are deployed")};
	for (size_t i = 0; i < ncatalog; i++) {
		/* no pod deployed: live_names is NULL, which bsearch must not get */
		if (!nlive ||
		    !bsearch(&catalog[i], live_names, nlive, sizeof *live_names, cmp_name))
			continue;
		d->prof.pods = xrealloc(d->prof.pods, (d->prof.npods + 1) * sizeof *d->prof.pods);
		d->prof.pods[d->prof.npods++] = xstrdup(catalog[i]);
	}
	strv_free(live_names, nlive);
	strv_free(catalog, ncatalog);
	return deployment_load_pods(d, root, flags, err);
}

char *deployment_pod_network(const deployment *d, size_t i, const char *network)
{
	const pod *p = &d->pods[i];
	strbuf b = STRBUF_INIT;
	sb_adds(&b, network);
	for (size_t k = 0; k < p->naliases; k++)
		sb_addf(&b, "%salias=%s", k ? "," : ":", p->aliases[k]);
	return sb_take(&b);
}

int deployment_pod_index(const deployment *d, const char *name)
{
	for (size_t i = 0; i < d->npods; i++)
		if (d->pods[i].name && strcmp(d->pods[i].name, name) == 0)
			return (int)i;
	return -1;
}

int deployment_find_pod(const deployment *d, const char *name, aerr_t *err)
{
	int idx = deployment_pod_index(d, name);
	if (idx >= 0)
		return idx;
	strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < d->npods; i++)
		sb_addf(&list, "%s%s", i ? ", " : "", d->pods[i].name);
	aerr_set(err, AEGIS_ECONFIG, "unknown pod '%s' in profile %s; valid: %s", name,
		 d->prof.name, list.s ? list.s : "(none)");
	sb_release(&list);
	return -1;
}

void deployment_free(deployment *d)
{
	for (size_t i = 0; i < d->npods; i++) {
		if (d->pods)
			pod_free(&d->pods[i]);
		if (d->manifests)
			rendered_free(&d->manifests[i]);
	}
	free(d->pods);
	free(d->manifests);
	plan_free(&d->plan);
	profile_free(&d->prof);
	config_free(&d->cfg);
	*d = (deployment){0};
}

/* DIR for manifests: private when any of them holds a secret; an existing
 * directory is otherwise left as it is. */
static int prepare_dir(const char *dir, bool private, aerr_t *err)
{
	if (private)
		return fs_mkdir_private(dir, 0700, err);
	struct stat st;
	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return aerr_sys(err, AEGIS_EFAIL, errno, "cannot use %s", dir);
		return fs_mkdir_private(dir, 0755, err);
	}
	if (!S_ISDIR(st.st_mode))
		return aerr_set(err, AEGIS_EFAIL, "%s exists and is not a directory", dir);
	return 0;
}

int deployment_write_manifests(const deployment *d, int only, const char *dir, json_t **files,
			       aerr_t *err)
{
	*files = NULL;
	bool secrets = false;
	for (size_t i = 0; i < d->npods; i++)
		if (only < 0 || (size_t)only == i)
			secrets |= d->manifests[i].has_secrets;
	if (prepare_dir(dir, secrets, err) < 0)
		return -1;
	json_t *list = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		const rendered *m = &d->manifests[i];
		cleanup_free char *name = xasprintf("%s.yaml", d->pods[i].name);
		cleanup_free char *path = fs_join(dir, name);
		if (fs_write_atomic(path, m->yaml, m->len, m->has_secrets ? 0600 : 0644, err) < 0) {
			json_decref(list);
			return -1;
		}
		json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "pod", d->pods[i].name,
						      "path", path, "secrets", m->has_secrets));
	}
	*files = list;
	return 0;
}

void deployment_print(const deployment *d, int only, FILE *out)
{
	bool first = true;
	for (size_t i = 0; i < d->npods; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		/* each manifest starts without "---": one marker between two makes
		 * the concatenation a single stream */
		if (!first)
			fputs("---\n", out);
		fwrite(d->manifests[i].yaml, 1, d->manifests[i].len, out);
		first = false;
	}
}

static json_t *json_names(const char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

json_t *deployment_plan_json(const deployment *d)
{
	const plan *pl = &d->plan;
	json_t *tiers = json_array();
	for (size_t t = 0; t < pl->ntiers; t++) {
		json_t *tier = json_array();
		for (size_t k = 0; k < pl->tiers[t].n; k++)
			json_array_append_new(tier,
					      json_string(d->pods[pl->tiers[t].pods[k]].name));
		json_array_append_new(tiers, tier);
	}
	json_t *pods = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		json_t *depends = json_array();
		for (size_t j = 0; j < p->ndepends; j++)
			if (deployment_pod_index(d, p->depends[j]) >= 0)
				json_array_append_new(depends, json_string(p->depends[j]));
		json_t *checks = json_array();
		for (size_t c = 0; c < p->ncontainers; c++) {
			const probe *pr = &p->containers[c].readiness;
			cleanup_free char *target = probe_target(pr);
			json_array_append_new(
			    checks, json_pack("{s:s, s:s, s:s}", "container", p->containers[c].name,
					      "type", probe_kind_name(pr->kind), "target", target));
		}
		json_array_append_new(
		    pods,
		    json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "name", p->name, "pod_name",
			      p->pod_name, "tier", (json_int_t)pl->tier_of[i], "depends", depends,
			      "external",
			      json_names((const char *const *)pl->external[i], pl->nexternal[i]),
			      "checks", checks));
	}
	return json_pack("{s:s, s:o, s:o}", "profile", d->prof.name, "tiers", tiers, "pods", pods);
}
