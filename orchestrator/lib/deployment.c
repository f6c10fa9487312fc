#include "deployment.h"

#include <string.h>

#include "edge.h"
#include "sealkeys.h"

int deployment_load(deployment *d, const char *root, const char *env_path,
		    const char *profile_name, unsigned flags, aerr_t *err)
{
	*d = (deployment){0};
	if (config_load(&d->cfg, root, env_path, err) < 0)
		return -1;
	if (profile_load(root, profile_name, &d->prof, err) < 0)
		goto fail;
	/* the edge's Caddyfile is a value computed from the configuration */
	for (size_t i = 0; i < d->prof.npods; i++)
		if (strcmp(d->prof.pods[i], EDGE_POD) == 0 &&
		    edge_prepare(&d->cfg, (flags & DEPLOYMENT_LENIENT) != 0, err) < 0)
			goto fail;
	d->npods = d->prof.npods;
	d->pods = xcalloc(d->npods, sizeof *d->pods);
	d->manifests = xcalloc(d->npods, sizeof *d->manifests);
	render_opts opts = {.lenient = (flags & DEPLOYMENT_LENIENT) != 0};
	for (size_t i = 0; i < d->npods; i++) {
		cleanup_free char *tmpl = catalog_template(root, d->prof.pods[i]);
		if (render_template(tmpl, &d->cfg, &opts, &d->manifests[i], err) < 0)
			goto fail;
		if (pod_from_manifest(tmpl, d->manifests[i].yaml, d->manifests[i].len, &d->pods[i],
				      err) < 0)
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
	/* The pods mount the SEAL keypair: a deployment that will be played
	 * (not LENIENT) has it, generated when missing, as generate-keys would. */
	if (!(flags & DEPLOYMENT_LENIENT)) {
		keys_result keys;
		if (sealkeys_ensure(d, &keys, err) < 0)
			goto fail;
		keys_result_free(&keys);
	}
	return 0;
fail:
	deployment_free(d);
	return -1;
}

int deployment_pod_index(const deployment *d, const char *name)
{
	for (size_t i = 0; i < d->npods; i++)
		if (d->pods[i].name && strcmp(d->pods[i].name, name) == 0)
			return (int)i;
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
