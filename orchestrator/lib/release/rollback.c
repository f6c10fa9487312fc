#include "release/rollback.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include "release/history.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "rollout/images.h"
#include "util/strbuf.h"

int rollback_target(const char *state_dir, int rev, json_t **target, aerr_t *err)
{
	*target = NULL;
	json_t *revs = NULL;
	if (history_list(state_dir, &revs, err) < 0)
		return -1;
	size_t n = json_array_size(revs);
	int latest =
	    n ? (int)json_integer_value(json_object_get(json_array_get(revs, n - 1), "revision"))
	      : 0;
	for (size_t i = n; i-- > 0 && !*target;) {
		json_t *r = json_array_get(revs, i);
		int number = (int)json_integer_value(json_object_get(r, "revision"));
		const char *command = json_string_value(json_object_get(r, "command"));
		const char *result = json_string_value(json_object_get(r, "result"));
		bool deployed = command && strcmp(command, "teardown") != 0;
		if (rev > 0 ? number == rev
			    : (number < latest || rev < 0) && deployed && result &&
				  strcmp(result, "ok") == 0)
			*target = json_incref(r);
	}
	json_decref(revs);
	if (*target) {
		const char *command = json_string_value(json_object_get(*target, "command"));
		if (command && strcmp(command, "teardown") == 0) {
			json_decref(*target);
			*target = NULL;
			return aerr_set(err, AEGIS_ECONFIG,
					"revision %d is a teardown: there is nothing to go back to",
					rev);
		}
		return 0;
	}
	if (rev > 0)
		return aerr_set(err, AEGIS_ECONFIG, "no revision %d in the release history %s/%s",
				rev, state_dir, HISTORY_DIR);
	return aerr_set(
	    err, AEGIS_ECONFIG,
	    "no successful deploy before the latest revision in the release history %s/%s "
	    "(nothing to roll back to)",
	    state_dir, HISTORY_DIR);
}

/* Whether NAME keeps its value of the current configuration CURRENT in the
 * configuration REV of a revision: a secret (never recorded) or a variable
 * describing the host, as the current schema says, or the revision's own
 * schema for a variable the current one no longer declares.  A variable
 * neither classifies belongs to the revision's templates alone: release. */
static bool keeps_current(const config *current, const config *rev, const char *name)
{
	const schema_var *now = schema_find(&current->schema, name);
	const schema_var *then = schema_find(&rev->schema, name);
	if ((now && now->secret) || (then && then->secret))
		return true;
	schema_describes d = now ? now->describes : then ? then->describes : DESCRIBES_UNSET;
	return d == DESCRIBES_HOST;
}

/* VALUE with each <secret:NAME:...> placeholder replaced by NAME's current
 * value (a non-secret value a secret had reached, e.g. a URL with a
 * password).  Newly allocated; a placeholder of an unset secret is an error. */
static int unplaceholder(const config *cfg, const char *var, const char *value, char **out,
			 aerr_t *err)
{
	strbuf b = STRBUF_INIT;
	const char *p = value;
	const char *at;
	while ((at = strstr(p, "<secret:"))) {
		const char *name = at + 8;
		const char *colon = strchr(name, ':');
		const char *end = strchr(name, '>');
		if (!colon || !end || colon > end) {
			sb_adds(&b, p);
			p = p + strlen(p);
			break;
		}
		cleanup_free char *n = xstrndup(name, (size_t)(colon - name));
		const char *current = config_get(cfg, n);
		if (!current || !*current) {
			sb_wipe(&b);
			return aerr_set(
			    err, AEGIS_ECONFIG,
			    "%s of the revision uses the secret %s, which is not set now", var, n);
		}
		sb_add(&b, p, (size_t)(at - p));
		sb_adds(&b, current);
		p = end + 1;
	}
	sb_adds(&b, p);
	*out = sb_take(&b);
	return 0;
}

/* The revision's release values (RECORDED, its config.json) over its
 * configuration CFG, and the current configuration's host values. */
static int merge(config *cfg, const config *current, const json_t *recorded, aerr_t *err)
{
	for (size_t i = 0; i < cfg->n; i++) {
		config_value *v = &cfg->values[i];
		if (keeps_current(current, cfg, v->name)) {
			const config_value *c = config_find(current, v->name);
			if (c)
				config_set(cfg, v->name, c->value, c->source);
			continue;
		}
		const json_t *r = json_object_get(recorded, v->name);
		if (!r) {
			/* unset when the revision was made */
			config_set(cfg, v->name, NULL, SRC_UNSET);
			continue;
		}
		char *value = NULL;
		if (unplaceholder(cfg, v->name, json_string_value(r), &value, err) < 0)
			return -1;
		config_set(cfg, v->name, value, SRC_FILE);
		/* it may hold a secret put back from a placeholder */
		OPENSSL_cleanse(value, strlen(value));
		free(value);
	}
	/* host variables newer than the revision's schema */
	for (size_t i = 0; i < current->n; i++) {
		const config_value *c = &current->values[i];
		if (!config_find(cfg, c->name) && keeps_current(current, cfg, c->name))
			config_set(cfg, c->name, c->value, c->source);
	}
	/* recorded variables neither configuration lists */
	const char *name;
	const json_t *r;
	json_object_foreach((json_t *)recorded, name, r)
	{
		if (config_find(cfg, name) || keeps_current(current, cfg, name) ||
		    strstr(json_string_value(r), "<secret:"))
			continue;
		config_set(cfg, name, json_string_value(r), SRC_FILE);
	}
	return 0;
}

int rollback_load(const char *state_dir, int rev, const config *current, const char *workdir,
		  deployment *d, aerr_t *err)
{
	*d = (deployment){0};
	if (history_extract(state_dir, rev, "source/", workdir, err) < 0)
		return aerr_wrap(err, "revision %d", rev);
	char *text = NULL;
	if (history_read_file(state_dir, rev, "config.json", &text, NULL, err) < 0)
		return aerr_wrap(err, "revision %d cannot be rolled back to", rev);
	json_t *recorded = json_loads(text, 0, NULL);
	free(text);
	json_t *plan = NULL;
	if (history_read_file(state_dir, rev, "plan.json", &text, NULL, err) == 0) {
		plan = json_loads(text, 0, NULL);
		free(text);
	}
	const char *profile_name = json_string_value(json_object_get(plan, "profile"));
	int rc = -1;
	if (!json_is_object(recorded) || !profile_name) {
		aerr_set(err, AEGIS_EFAIL, "revision %d: config.json or plan.json is not readable",
			 rev);
		goto out;
	}
	/* deployment_load, with the recorded values applied between loading
	 * the configuration and rendering */
	if (config_load_recorded(&d->cfg, workdir, current->env_path, err) < 0 ||
	    merge(&d->cfg, current, recorded, err) < 0 ||
	    config_reload_file_defaults(&d->cfg, err) < 0 ||
	    profile_load(workdir, profile_name, &d->prof, err) < 0 ||
	    deployment_load_pods(d, workdir, 0, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		aerr_wrap(err, "revision %d", rev);
		deployment_free(d);
	}
	json_decref(recorded);
	json_decref(plan);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void rollback_cleanup(const char *workdir)
{
	if (workdir)
		nftw(workdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* YAML with each "image: FROM" (plain or quoted, at a line's end) made
 * "image: TO"; *COUNT how many.  Newly allocated. */
static char *replace_image(const char *yaml, const char *from, const char *to, size_t *len,
			   int *count)
{
	static const char *const forms[] = {"image: %s\n", "image: \"%s\"\n", "image: '%s'\n"};
	cleanup_free char *with = xasprintf("image: %s\n", to);
	char *text = xstrdup(yaml);
	*count = 0;
	for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
		cleanup_free char *pat = xasprintf(forms[f], from);
		strbuf b = STRBUF_INIT;
		const char *p = text, *at;
		while ((at = strstr(p, pat))) {
			sb_add(&b, p, (size_t)(at - p));
			sb_adds(&b, with);
			p = at + strlen(pat);
			(*count)++;
		}
		sb_adds(&b, p);
		free(text);
		text = sb_take(&b);
	}
	*len = strlen(text);
	return text;
}

/* The pinned pod's label: the first MANIFEST_HASH_BYTES of SHA-256 over
 * the tag manifest's label and the pins, as hex of the same length, so
 * it differs from the tag manifest's and is the same for the same pins. */
static int pinned_hash(const char *hash, const strbuf *pins, char *out, size_t n, aerr_t *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	bool ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) &&
		  EVP_DigestUpdate(x, hash, strlen(hash)) &&
		  EVP_DigestUpdate(x, pins->s ? pins->s : "", pins->len) &&
		  EVP_DigestFinal_ex(x, md, &mdlen);
	EVP_MD_CTX_free(x);
	if (!ok || n < 2 * MANIFEST_HASH_BYTES + 1)
		return aerr_set(err, AEGIS_EFAIL, "cannot hash the pinned manifest");
	for (size_t i = 0; i < MANIFEST_HASH_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Container C of pod P: pinned to REC's digest when it can be; a line in NOTES. */
static void pin_container(pod *p, rendered *m, container *c, const json_t *rec, json_t *notes,
			  strbuf *pins)
{
	const char *digest = json_string_value(json_object_get(rec, "digest"));
	if (!rec || !digest) {
		json_array_append_new(
		    notes, json_sprintf("pod %s, container %s: %s keeps its tag (the revision "
					"recorded no digest)",
					p->name, c->name, c->image));
		return;
	}
	if (!json_is_true(json_object_get(rec, "pinned"))) {
		json_array_append_new(
		    notes, json_sprintf("pod %s, container %s: %s keeps its tag (the revision ran "
					"image ID %s, a local-only image: no registry digest to "
					"pin)",
					p->name, c->name, c->image, digest));
		return;
	}
	cleanup_free char *have = images_repository(c->image);
	cleanup_free char *had = images_repository(digest);
	if (strcmp(have, had) != 0) {
		json_array_append_new(
		    notes, json_sprintf("pod %s, container %s: %s keeps its tag (the revision "
					"recorded %s, another repository)",
					p->name, c->name, c->image, digest));
		return;
	}
	if (strcmp(c->image, digest) != 0) {
		size_t len = 0;
		int count = 0;
		char *yaml = replace_image(m->yaml, c->image, digest, &len, &count);
		cleanup_free char *line = xasprintf("image: %s\n", digest);
		/* another container of the same image had its line pinned */
		if (count == 0 && strstr(m->yaml, line)) {
			free(yaml);
			yaml = NULL;
		} else if (count == 0) {
			free(yaml);
			json_array_append_new(
			    notes, json_sprintf("pod %s, container %s: %s keeps its tag (its "
						"manifest's image line was not found)",
						p->name, c->name, c->image));
			return;
		}
		if (yaml) {
			free(m->yaml);
			m->yaml = yaml;
			m->len = len;
		}
	}
	json_array_append_new(notes, json_sprintf("pod %s, container %s: %s pinned to %s", p->name,
						  c->name, c->image, digest));
	free(c->image);
	c->image = xstrdup(digest);
	sb_addf(pins, "%s=%s\n", c->name, digest);
}

int rollback_pin_images(deployment *d, const json_t *recorded, json_t **notes, aerr_t *err)
{
	*notes = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		pod *p = &d->pods[i];
		const json_t *images =
		    json_object_get(json_object_get(recorded, p->name), "images");
		/* each container's image before pinning: one image line may
		 * serve two containers of the same image */
		strbuf pins = STRBUF_INIT;
		for (size_t k = 0; k < p->ncontainers; k++)
			pin_container(p, &d->manifests[i], &p->containers[k],
				      json_object_get(images, p->containers[k].name), *notes,
				      &pins);
		if (pins.len && p->manifest_hash) {
			char hash[2 * MANIFEST_HASH_BYTES + 1];
			char *at = strstr(d->manifests[i].yaml, p->manifest_hash);
			int rc = pinned_hash(p->manifest_hash, &pins, hash, sizeof hash, err);
			if (rc == 0 && at && strlen(p->manifest_hash) == strlen(hash)) {
				memcpy(at, hash, strlen(hash));
				free(p->manifest_hash);
				p->manifest_hash = xstrdup(hash);
			}
			if (rc < 0) {
				sb_release(&pins);
				return -1;
			}
		}
		sb_release(&pins);
	}
	return 0;
}
