#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "strbuf.h"
#include "wipe.h"

const char *config_source_name(config_source s)
{
	switch (s) {
	case SRC_DEFAULT:
		return "default";
	case SRC_FILE:
		return "file";
	case SRC_ENVIRONMENT:
		return "environment";
	default:
		return "unset";
	}
}

static config_value *add_value(config *cfg, const char *name)
{
	if (cfg->n == cfg->cap) {
		cfg->cap = cfg->cap ? cfg->cap * 2 : 64;
		cfg->values = xrealloc(cfg->values, cfg->cap * sizeof *cfg->values);
	}
	config_value *v = &cfg->values[cfg->n++];
	*v = (config_value){.name = xstrdup(name)};
	return v;
}

static void add_warning(config *cfg, char *w)
{
	/* grown by doubling: a .env of 100,000 unknown keys has as many warnings */
	if (cfg->nwarnings == cfg->warnings_cap) {
		cfg->warnings_cap = cfg->warnings_cap ? cfg->warnings_cap * 2 : 16;
		cfg->warnings = xrealloc(cfg->warnings, cfg->warnings_cap * sizeof *cfg->warnings);
	}
	cfg->warnings[cfg->nwarnings++] = w;
}

/* The values of the schema's variables come first, in schema order, so a
 * known name is found by its place in the schema; only the keys the schema
 * does not know are searched one by one. */
const config_value *config_find(const config *cfg, const char *name)
{
	const schema_var *s = schema_find(&cfg->schema, name);
	if (s) {
		size_t k = (size_t)(s - cfg->schema.vars);
		if (k < cfg->n && cfg->values[k].schema == s)
			return &cfg->values[k];
	}
	for (size_t i = s ? 0 : cfg->schema.n; i < cfg->n; i++)
		if (strcmp(cfg->values[i].name, name) == 0)
			return &cfg->values[i];
	return NULL;
}

const char *config_get(const config *cfg, const char *name)
{
	const config_value *v = config_find(cfg, name);
	return v ? v->value : NULL;
}

void config_set(config *cfg, const char *name, const char *value, config_source source)
{
	config_value *v = (config_value *)config_find(cfg, name);
	if (!v) {
		v = add_value(cfg, name);
		v->schema = schema_find(&cfg->schema, name);
	}
	wipe_free(v->value);
	v->value = value ? xstrdup(value) : NULL;
	v->source = source;
	v->line = 0;
}

/* Defaults may reference other variables (${AEGIS_IMAGE_TAG}) and a few
 * facts of the process: the environment and UID. */
static char *expand_default(config *cfg, const char *text, int depth);

static const char *resolve_for_default(config *cfg, const char *name, int depth, char **tmp)
{
	config_value *v = (config_value *)config_find(cfg, name);
	if (v && !v->value && v->schema && v->source == SRC_UNSET && depth < 8) {
		const schema_var *s = v->schema;
		const char *def =
		    (geteuid() == 0 && s->default_root) ? s->default_root : s->default_value;
		if (def) {
			v->value = expand_default(cfg, def, depth + 1);
			v->source = SRC_DEFAULT;
		}
	}
	if (v && v->value)
		return v->value;
	const char *e = getenv(name);
	if (e && *e)
		return e;
	if (strcmp(name, "UID") == 0) {
		*tmp = xasprintf("%u", (unsigned)geteuid());
		return *tmp;
	}
	return NULL;
}

static char *expand_default(config *cfg, const char *text, int depth)
{
	strbuf out = STRBUF_SECRET;
	for (const char *s = text; *s;) {
		const char *end = s[0] == '$' && s[1] == '{' ? strchr(s, '}') : NULL;
		if (!end) {
			sb_addc(&out, *s++);
			continue;
		}
		const char *name_end = s + 2;
		while (*name_end && *name_end != '}' && *name_end != ':')
			name_end++;
		cleanup_free char *name = xstrndup(s + 2, (size_t)(name_end - s - 2));
		char *tmp = NULL;
		const char *val = resolve_for_default(cfg, name, depth, &tmp);
		/* ${X:-fallback}: nested braces in the fallback are allowed */
		if (*name_end == ':' && name_end[1] == '-') {
			int level = 1;
			const char *p = name_end + 2;
			for (; *p && level; p++) {
				if (*p == '{')
					level++;
				else if (*p == '}')
					level--;
			}
			end = p - 1;
			if (!val || !*val) {
				cleanup_free char *fb =
				    xstrndup(name_end + 2, (size_t)(end - name_end - 2));
				wipe_free(tmp);
				tmp = expand_default(cfg, fb, depth + 1);
				val = tmp;
			}
		}
		if (val)
			sb_adds(&out, val);
		wipe_free(tmp);
		s = end + 1;
	}
	return sb_take(&out);
}

static int validate_value(const config *cfg, const config_value *v, aerr_t *err)
{
	if (!v->schema || !v->value || !*v->value)
		return 0;
	if (schema_check(v->schema, v->value, err) == 0)
		return 0;
	if (v->source == SRC_FILE)
		return aerr_wrap(err, "%s:%d: %s", cfg->env_path, v->line, v->name);
	if (v->source == SRC_ENVIRONMENT)
		return aerr_wrap(err, "environment variable %s", v->name);
	return aerr_wrap(err, "%s: default of %s", cfg->schema.path, v->name);
}
static int load(config *cfg, const char *root, const char *env_path, bool recorded, aerr_t *err)
{
	*cfg = (config){.root = xstrdup(root), .env_path = xstrdup(env_path)};
	cleanup_free char *schema_path = fs_join(root, "kube/variables.yaml");
	if ((recorded ? schema_load_recorded : schema_load)(schema_path, &cfg->schema, err) < 0)
		goto fail;
	cfg->env_exists = fs_exists(env_path);
	if (env_load(env_path, true, &cfg->file, err) < 0)
		goto fail;

	/* explicit values: the process environment overrides the file */
	for (size_t i = 0; i < cfg->schema.n; i++) {
		const schema_var *s = &cfg->schema.vars[i];
		config_value *v = add_value(cfg, s->name);
		v->schema = s;
		const char *e = getenv(s->name);
		const env_entry *f = env_find(&cfg->file, s->name);
		if (e && *e) {
			v->value = xstrdup(e);
			v->source = SRC_ENVIRONMENT;
		} else if (f && *f->value) {
			v->value = xstrdup(f->value);
			v->source = SRC_FILE;
			v->line = f->line;
		}
	}
	for (size_t i = 0; i < cfg->file.n; i++) {
		const env_entry *f = &cfg->file.entries[i];
		if (schema_find(&cfg->schema, f->key))
			continue;
		config_value *v = add_value(cfg, f->key);
		const char *e = getenv(f->key);
		v->value = xstrdup(e ? e : f->value);
		v->source = e ? SRC_ENVIRONMENT : SRC_FILE;
		v->line = f->line;
		add_warning(cfg, xasprintf("%s:%d: unknown variable %s (not in %s)", env_path,
					   f->line, f->key, cfg->schema.path));
	}
	/* AEGIS_ROOT defaults to where this deployment's files are */
	config_value *r = (config_value *)config_find(cfg, "AEGIS_ROOT");
	if (r && !r->value) {
		r->value = xstrdup(root);
		r->source = SRC_DEFAULT;
	}
	/* then defaults, which may reference the values above (only the
	 * schema's variables have defaults) */
	for (size_t i = 0; i < cfg->schema.n; i++) {
		char *tmp = NULL;
		resolve_for_default(cfg, cfg->values[i].name, 0, &tmp);
		free(tmp);
	}
	for (size_t i = 0; i < cfg->n; i++)
		if (validate_value(cfg, &cfg->values[i], err) < 0)
			goto fail;
	return 0;
fail:
	config_free(cfg);
	return -1;
}

int config_load(config *cfg, const char *root, const char *env_path, aerr_t *err)
{
	return load(cfg, root, env_path, false, err);
}

int config_load_recorded(config *cfg, const char *root, const char *env_path, aerr_t *err)
{
	return load(cfg, root, env_path, true, err);
}

int config_refresh(config *cfg, const json_t *names, aerr_t *err)
{
	if (!json_array_size(names))
		return 0;
	env_file file;
	if (env_load(cfg->env_path, true, &file, err) < 0)
		return -1;
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n)
	{
		const char *name = json_string_value(n);
		const char *e = name ? getenv(name) : NULL;
		const env_entry *f = name ? env_find(&file, name) : NULL;
		if (e && *e)
			config_set(cfg, name, e, SRC_ENVIRONMENT);
		else if (f && *f->value)
			config_set(cfg, name, f->value, SRC_FILE);
	}
	env_free(&file);
	return 0;
}

void config_free(config *cfg)
{
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->values[i].name);
		wipe_free(cfg->values[i].value);
	}
	free(cfg->values);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	env_free(&cfg->file);
	schema_free(&cfg->schema);
	free(cfg->root);
	free(cfg->env_path);
	*cfg = (config){0};
}
