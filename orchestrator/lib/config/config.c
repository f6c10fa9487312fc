#include "config/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/wipe.h"

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
	const unknown_var *u = NULL;
	*v = (config_value){.name = xstrdup(name), .schema = schema_find(&cfg->schema, name)};
	if (v->schema)
		v->secret = v->schema->secret;
	else
		v->secret = !((u = unknownvars_find(&cfg->unknown, name)) && u->harmless);
	return v;
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
	if (!v)
		v = add_value(cfg, name);
	wipe_free(v->value);
	v->value = value ? xstrdup(value) : NULL;
	v->source = source;
	v->line = 0;
}

char *config_unknown_warning(const config *cfg, const config_value *v)
{
	cleanup_free char *where = xasprintf("%s:%d", cfg->env_path, v->line);
	return unknownvars_warning(&cfg->schema, &cfg->unknown, where, v->name);
}

/* Defaults may reference other variables (${AEGIS_IMAGE_TAG}) and a few
 * facts of the process: the environment and UID. */
static char *expand_default(config *cfg, const char *text, int depth);

/* The content of the regular file PATH (never through a symlink), or NULL
 * when there is none: the variable is then unset, and whoever needs it says
 * so where it is used. */
static char *file_value(const char *path)
{
	struct stat st;
	if (!*path || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	char *text = NULL;
	size_t len = 0;
	aerr_t err = {0};
	if (fs_read_file(path, &text, &len, &err) < 0)
		return NULL;
	if (strlen(text) != len) { /* NUL bytes: not a value */
		wipe_free_len(text, len);
		return NULL;
	}
	return text;
}

static const char *resolve_for_default(config *cfg, const char *name, int depth, char **tmp)
{
	config_value *v = (config_value *)config_find(cfg, name);
	if (v && !v->value && v->schema && v->source == SRC_UNSET && depth < 8) {
		const schema_var *s = v->schema;
		const char *def = (cfg->edge && s->default_edge)	? s->default_edge
				  : (geteuid() == 0 && s->default_root) ? s->default_root
									: s->default_value;
		if (def) {
			v->value = expand_default(cfg, def, depth + 1);
			v->source = SRC_DEFAULT;
		} else if (s->default_file) {
			cleanup_free char *path = expand_default(cfg, s->default_file, depth + 1);
			v->value = file_value(path);
			v->source = v->value ? SRC_DEFAULT : SRC_UNSET;
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

/* "|host": the host of a URL (no scheme, user, port or path). */
static void filter_host(strbuf *out, const char *v)
{
	const char *s = strstr(v, "://");
	s = s ? s + 3 : v;
	const char *at = strchr(s, '@'), *slash = strchr(s, '/');
	if (at && (!slash || at < slash))
		s = at + 1;
	size_t n = strcspn(s, "/?#");
	if (*s == '[') {
		const char *close = memchr(s, ']', n);
		sb_add(out, s, close ? (size_t)(close - s) + 1 : n);
		return;
	}
	const char *colon = memchr(s, ':', n);
	sb_add(out, s, colon ? (size_t)(colon - s) : n);
}

/* "|httpsport": ":PORT" for a URL's authority, nothing for https's 443 (a
 * browser writes https://host, never https://host:443, in the redirect URIs
 * and origins it sends). */
static void filter_https_port(strbuf *out, const char *v)
{
	if (*v && strcmp(v, "443") != 0)
		sb_addf(out, ":%s", v);
}

static const struct {
	const char *name;
	void (*apply)(strbuf *out, const char *value);
} default_filters[] = {
    {"host", filter_host},
    {"httpsport", filter_https_port},
};

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
		while (*name_end && *name_end != '}' && *name_end != ':' && *name_end != '|')
			name_end++;
		cleanup_free char *name = xstrndup(s + 2, (size_t)(name_end - s - 2));
		char *tmp = NULL;
		const char *val = resolve_for_default(cfg, name, depth, &tmp);
		/* ${X|filter}: the value through one of default_filters */
		if (*name_end == '|') {
			size_t flen = (size_t)(end - name_end - 1);
			for (size_t f = 0; f < ARRAY_SIZE(default_filters); f++)
				if (strlen(default_filters[f].name) == flen &&
				    strncmp(name_end + 1, default_filters[f].name, flen) == 0 &&
				    val)
					default_filters[f].apply(&out, val);
			wipe_free(tmp);
			s = end + 1;
			continue;
		}
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
	cleanup_free char *unknown_path = fs_join(root, UNKNOWNVARS_FILE);
	if ((recorded ? schema_load_recorded : schema_load)(schema_path, &cfg->schema, err) < 0 ||
	    unknownvars_load(unknown_path, &cfg->unknown, err) < 0)
		goto fail;
	cfg->env_exists = fs_exists(env_path);
	if (env_load(env_path, true, &cfg->file, err) < 0)
		goto fail;

	/* explicit values: the process environment overrides the file */
	for (size_t i = 0; i < cfg->schema.n; i++) {
		const schema_var *s = &cfg->schema.vars[i];
		config_value *v = add_value(cfg, s->name);
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
		cfg->nunknown++;
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

int config_use_edge(config *cfg, bool edge, aerr_t *err)
{
	if (cfg->edge == edge)
		return 0;
	cfg->edge = edge;
	for (size_t i = 0; i < cfg->schema.n; i++) {
		config_value *v = &cfg->values[i];
		if (v->schema && v->schema->default_edge && v->source == SRC_DEFAULT) {
			wipe_free(v->value);
			v->value = NULL;
			v->source = SRC_UNSET;
		}
	}
	for (size_t i = 0; i < cfg->schema.n; i++) {
		char *tmp = NULL;
		if (cfg->values[i].source == SRC_UNSET && cfg->values[i].schema &&
		    cfg->values[i].schema->default_edge) {
			resolve_for_default(cfg, cfg->values[i].name, 0, &tmp);
			free(tmp);
			if (validate_value(cfg, &cfg->values[i], err) < 0)
				return -1;
		}
	}
	return 0;
}

int config_reload_file_defaults(config *cfg, aerr_t *err)
{
	for (size_t i = 0; i < cfg->schema.n; i++) {
		config_value *v = &cfg->values[i];
		if (v->schema && v->schema->default_file &&
		    (v->source == SRC_DEFAULT || v->source == SRC_UNSET)) {
			wipe_free(v->value);
			v->value = NULL;
			v->source = SRC_UNSET;
			char *tmp = NULL;
			resolve_for_default(cfg, v->name, 0, &tmp);
			free(tmp);
			if (validate_value(cfg, v, err) < 0)
				return -1;
		}
	}
	return 0;
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
	env_free(&cfg->file);
	unknownvars_free(&cfg->unknown);
	schema_free(&cfg->schema);
	free(cfg->root);
	free(cfg->env_path);
	*cfg = (config){0};
}
