#include "render/render.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/wipe.h"
#include "util/yamldoc.h"

#define FILE_TAG "!file"
/* a file beside the template whose ${VAR} references are filled in, as in
 * the template itself; secrets stay out of it (it becomes a ConfigMap) */
#define TEMPLATE_TAG "!template"
#define URL_FILTER "url"

struct render_ctx {
	const char *path; /* the template, for messages */
	char *dir;	  /* where !file names are looked up */
	const config *cfg;
	bool lenient;
	const char *secret_name; /* render_opts.secret_name */
	int secret_scalars;	 /* scalars holding a secret, left in the manifest */
	bool scalar_secret;	 /* the scalar being rendered holds a secret */
	bool *visited;		 /* per node: aliases share nodes; substitute each once */
	size_t nnodes;		 /* of the document being rendered */
	bool *secret_at;	 /* per node: the scalar holds a secret */
	render_secret *secrets;	 /* moved out of env values (render_opts.secret_name) */
	size_t nsecrets;
	aerr_t *err;
};

static bool is_name_start(int c)
{
	return isalpha(c) || c == '_';
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

/* End of the reference starting at TEXT ("${"): the index of its closing "}"
 * (which may follow a default holding references of its own), or -1. */
static long reference_end(const char *text, size_t len)
{
	int depth = 0;
	for (size_t i = 2; i < len; i++) {
		if (text[i] == '$' && i + 1 < len && text[i + 1] == '{') {
			depth++;
			i++;
		} else if (text[i] == '}') {
			if (depth == 0)
				return (long)i;
			depth--;
		}
	}
	return -1;
}

static const schema_var *variable_schema(const config *cfg, const char *name)
{
	const config_value *v = config_find(cfg, name);
	if (v && v->schema)
		return v->schema;
	return schema_find(&cfg->schema, name);
}

static int expand(struct render_ctx *c, int line, const char *text, size_t len, strbuf *out);
static void render_secrets_free(render_secret *s, size_t n);

void render_url_encode(strbuf *out, const char *text, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)text[i];
		if ((b < 0x80 && isalnum(b)) || (b && strchr("-._~", b))) {
			sb_addc(out, (char)b);
		} else {
			char esc[3] = {'%', hex[b >> 4], hex[b & 15]};
			sb_add(out, esc, 3);
		}
	}
}

static int bad_reference(struct render_ctx *c, int line, const char *text, size_t len)
{
	return aerr_set(c->err, AEGIS_ECONFIG,
			"%s:%d: bad variable reference \"%.*s\": expected ${NAME}, "
			"${NAME:-default}, ${NAME|FILTER} or ${NAME|FILTER:-default} "
			"(filters: url, hostip)",
			c->path, line, (int)len, text);
}

static int unset_variable(struct render_ctx *c, int line, const char *name, const schema_var *sv)
{
	if (sv && sv->description && *sv->description)
		return aerr_set(c->err, AEGIS_ECONFIG,
				"%s:%d: ${%s} is not set (%s) — set it in %s", c->path, line, name,
				sv->description, c->cfg->env_path);
	return aerr_set(c->err, AEGIS_ECONFIG, "%s:%d: ${%s} is not set — set it in %s", c->path,
			line, name, c->cfg->env_path);
}

/* The value of the reference NAME (with DEFLT when not NULL) into OUT. */
static int reference_value(struct render_ctx *c, int line, const char *name, const char *deflt,
			   size_t deflt_len, strbuf *out)
{
	const char *value = config_get(c->cfg, name);
	const schema_var *sv = variable_schema(c->cfg, name);
	/* like the shell's ${NAME:-default}: an empty value takes the default too */
	if (deflt && (!value || !*value))
		return expand(c, line, deflt, deflt_len, out);
	if (!value || (!*value && sv && sv->required))
		return unset_variable(c, line, name, sv);
	if (sv && sv->secret && *value)
		c->scalar_secret = true;
	sb_adds(out, value);
	return 0;
}

/* "|hostip": the address a port is published on, where every address is
 * written as no address at all: Podman 4.3 (netavark 1.4) turns an explicit
 * 0.0.0.0 into a rule for packets addressed to 0.0.0.0 only, so the port
 * would answer nobody. */
static void add_host_ip(strbuf *out, const char *value, size_t len)
{
	if ((len == 7 && memcmp(value, "0.0.0.0", 7) == 0) ||
	    (len == 2 && memcmp(value, "::", 2) == 0))
		return;
	sb_add(out, value, len);
}

typedef void (*filter_fn)(strbuf *out, const char *value, size_t len);

static const struct {
	const char *name;
	filter_fn apply;
} filters[] = {
    {URL_FILTER, render_url_encode},
    {"hostip", add_host_ip},
};

/* Expand the reference TEXT[0..len): "${NAME}" or "${NAME:-default}", and
 * either with a filter after NAME: "|url" percent-encodes the result, for a
 * value placed inside a URL (a password in a connection URL); "|hostip"
 * writes an address meaning every address as none (add_host_ip). */
static int expand_reference(struct render_ctx *c, int line, const char *text, size_t len,
			    strbuf *out)
{
	size_t i = 2;
	if (i >= len - 1 || !is_name_start((unsigned char)text[i]))
		return bad_reference(c, line, text, len);
	while (i < len - 1 && is_name_char((unsigned char)text[i]))
		i++;
	cleanup_free char *name = xstrndup(text + 2, i - 2);
	filter_fn filter = NULL;
	if (text[i] == '|') {
		for (size_t f = 0; f < ARRAY_SIZE(filters) && !filter; f++) {
			size_t fl = strlen(filters[f].name);
			if (len - 1 - (i + 1) >= fl &&
			    strncmp(text + i + 1, filters[f].name, fl) == 0 &&
			    (text[i + 1 + fl] == '}' || text[i + 1 + fl] == ':')) {
				filter = filters[f].apply;
				i += 1 + fl;
			}
		}
		if (!filter)
			return bad_reference(c, line, text, len);
	}
	const char *deflt = NULL;
	size_t deflt_len = 0;
	if (text[i] == ':' && i + 1 < len - 1 && text[i + 1] == '-') {
		deflt = text + i + 2;
		deflt_len = len - 1 - (i + 2);
	} else if (i != len - 1) {
		return bad_reference(c, line, text, len);
	}
	/* plan and status need the structure: an unset variable stays as written */
	const char *value = config_get(c->cfg, name);
	const schema_var *sv = variable_schema(c->cfg, name);
	if (c->lenient && !deflt && (!value || (!*value && sv && sv->required))) {
		sb_add(out, text, len);
		return 0;
	}
	if (!filter)
		return reference_value(c, line, name, deflt, deflt_len, out);
	strbuf raw = STRBUF_SECRET;
	int rc = reference_value(c, line, name, deflt, deflt_len, &raw);
	if (rc == 0)
		filter(out, raw.s ? raw.s : "", raw.len);
	sb_wipe(&raw);
	return rc;
}

static int expand(struct render_ctx *c, int line, const char *text, size_t len, strbuf *out)
{
	size_t start = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] != '$' || text[i + 1] != '{')
			continue;
		long end = reference_end(text + i, len - i);
		if (end < 0)
			return aerr_set(c->err, AEGIS_ECONFIG,
					"%s:%d: unterminated variable reference \"%.*s\"", c->path,
					line, (int)(len - i), text + i);
		sb_add(out, text + start, i - start);
		if (expand_reference(c, line, text + i, (size_t)end + 1, out) < 0)
			return -1;
		i += (size_t)end;
		start = i + 1;
	}
	sb_add(out, text + start, len - start);
	return 0;
}

/* Valid UTF-8 without NUL: libyaml's emitter assumes it and would loop on
 * a stray continuation byte. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char b = s[i];
		size_t n;
		uint32_t cp;
		if (b == 0)
			return false;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0) == 0xc0) {
			n = 2, cp = b & 0x1f;
		} else if ((b & 0xf0) == 0xe0) {
			n = 3, cp = b & 0x0f;
		} else if ((b & 0xf8) == 0xf0) {
			n = 4, cp = b & 0x07;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* Would a YAML 1.1 or 1.2 reader (Go's yaml included) resolve this plain
 * scalar to something other than a string?  Deliberately broad: anything
 * that starts like a number, a bool or null is treated as such. */
static bool resolves_non_string(const char *s)
{
	static const char *const words[] = {
	    "~",  "null", "Null", "NULL", "y",	  "Y",	  "yes",  "Yes",   "YES",   "n",
	    "N",  "no",	  "No",	  "NO",	  "true", "True", "TRUE", "false", "False", "FALSE",
	    "on", "On",	  "ON",	  "off",  "Off",  "OFF",  "<<",	  "=",
	};
	if (!*s)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	return isdigit((unsigned char)*p) || *p == '.';
}

/* Safe as a block plain scalar: no indicator that would change its meaning,
 * no surrounding or control whitespace. */
static bool plain_safe(const char *s)
{
	size_t len = strlen(s);
	if (!len || s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
		return false;
	if (strchr("?:,[]{}#&*!|>'\"%@`", s[0]))
		return false;
	if (s[0] == '-' && (len == 1 || s[1] == ' ' || s[1] == '-'))
		return false;
	if (strncmp(s, "...", 3) == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	/* NEL, LS and PS are line breaks to YAML 1.1; a BOM is not content */
	static const char *const breaks[] = {"\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9",
					     "\xef\xbb\xbf"};
	for (size_t i = 0; i < ARRAY_SIZE(breaks); i++)
		if (strstr(s, breaks[i]))
			return false;
	return !strstr(s, ": ") && !strstr(s, " #");
}

static bool is_integer(const char *s)
{
	return text_all_digits(*s == '-' ? s + 1 : s);
}

/* Kubernetes fields that take an integer: a plain template value there that
 * is exactly one reference to an integer stays a plain integer. */
static bool integer_field(const char *key)
{
	static const char *const suffixes[] = {"Port", "Seconds", "Threshold"};
	static const char *const names[] = {"port", "replicas", "runAsUser", "runAsGroup",
					    "fsGroup"};
	if (!key)
		return false;
	size_t len = strlen(key);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(key, names[i]) == 0)
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcmp(key + len - sl, suffixes[i]) == 0)
			return true;
	}
	return false;
}

static bool single_reference(const char *text)
{
	size_t len = strlen(text);
	return len > 3 && text[0] == '$' && text[1] == '{' &&
	       reference_end(text, len) == (long)len - 1;
}

/* The style for a plain scalar whose text was computed: plain when it reads
 * back as the same string, double-quoted otherwise. */
static yaml_scalar_style_t computed_style(const char *value)
{
	if (plain_safe(value) && !resolves_non_string(value))
		return YAML_ANY_SCALAR_STYLE;
	return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

static void set_scalar(yaml_node_t *node, char *value, size_t len)
{
	free(node->data.scalar.value);
	node->data.scalar.value = (yaml_char_t *)value;
	node->data.scalar.length = len;
}

static int include_file(struct render_ctx *c, yaml_node_t *node, int line)
{
	const char *name = (const char *)node->data.scalar.value;
	if (!*name || strchr(name, '/') || strstr(name, ".."))
		return aerr_set(c->err, AEGIS_ECONFIG,
				"%s:%d: !file \"%s\": expected a file name beside the template",
				c->path, line, name);
	cleanup_free char *file = fs_join(c->dir, name);
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(file, &text, &len, c->err) < 0)
		return aerr_wrap(c->err, "%s:%d: !file", c->path, line);
	if (!utf8_valid((const unsigned char *)text, len)) {
		free(text);
		return aerr_set(c->err, AEGIS_ECONFIG, "%s:%d: !file %s: not UTF-8 text", c->path,
				line, file);
	}
	set_scalar(node, text, len);
	free(node->tag);
	node->tag = (yaml_char_t *)xstrdup(YAML_DEFAULT_SCALAR_TAG);
	node->data.scalar.style =
	    memchr(text, '\n', len) ? YAML_LITERAL_SCALAR_STYLE : computed_style(text);
	return 0;
}

static int render_scalar(struct render_ctx *c, yaml_node_t *node, int id, const char *key)
{
	int line = (int)node->start_mark.line + 1;
	const char *tag = (const char *)node->tag;
	bool from_template = tag && strcmp(tag, TEMPLATE_TAG) == 0;
	cleanup_free char *template_name = NULL;
	if (tag && tag[0] == '!') {
		if (strcmp(tag, FILE_TAG) == 0)
			return include_file(c, node, line);
		if (!from_template)
			return aerr_set(c->err, AEGIS_ECONFIG,
					"%s:%d: unknown tag %s (only " FILE_TAG " and " TEMPLATE_TAG
					" are supported)",
					c->path, line, tag);
		template_name = xstrdup((const char *)node->data.scalar.value);
		if (include_file(c, node, line) < 0)
			return -1;
	}
	const char *text = (const char *)node->data.scalar.value;
	if (!strstr(text, "${"))
		return 0;
	strbuf out = STRBUF_SECRET;
	c->scalar_secret = false;
	if (expand(c, line, text, node->data.scalar.length, &out) < 0) {
		sb_wipe(&out);
		return from_template ? aerr_wrap(c->err, "%s:%d: " TEMPLATE_TAG " %s", c->path,
						 line, template_name)
				     : -1;
	}
	if (from_template && c->scalar_secret) {
		sb_wipe(&out);
		return aerr_set(c->err, AEGIS_ECONFIG,
				"%s:%d: " TEMPLATE_TAG " %s: a secret cannot go into a ConfigMap "
				"file; give it to the container in its env instead",
				c->path, line, template_name);
	}
	size_t n = out.len;
	char *value = sb_take(&out);
	if (!utf8_valid((const unsigned char *)value, n)) {
		wipe_free_len(value, n);
		return aerr_set(c->err, AEGIS_ECONFIG, "%s:%d: the value of \"%s\" is not UTF-8",
				c->path, line, text);
	}
	/* block and quoted templates keep their style: the emitter falls back
	 * to double quotes when the value does not fit it */
	yaml_scalar_style_t *style = &node->data.scalar.style;
	bool block = *style == YAML_LITERAL_SCALAR_STYLE || *style == YAML_FOLDED_SCALAR_STYLE;
	if (c->scalar_secret) {
		c->secret_scalars++;
		c->secret_at[id - 1] = true;
	}
	if (c->scalar_secret && !block) {
		/* a secret reads the same whatever it holds, and stands out */
		*style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	} else if (*style == YAML_PLAIN_SCALAR_STYLE) {
		bool keep_int = is_integer(value) && single_reference(text) && integer_field(key);
		*style = keep_int ? YAML_PLAIN_SCALAR_STYLE : computed_style(value);
	}
	set_scalar(node, value, n);
	return 0;
}

static int mapping_value(yaml_document_t *doc, int id, const char *key);
static int render_node(struct render_ctx *c, yaml_document_t *doc, int id, const char *key);

/* KEY for VALUE in the pod's secret: KEY itself unless it holds another
 * value already, else KEY_2, KEY_3, ... (newly allocated). */
static char *add_secret(struct render_ctx *c, const char *key, const char *value, size_t len)
{
	for (int n = 1;; n++) {
		cleanup_free char *k = n == 1 ? xstrdup(key) : xasprintf("%s_%d", key, n);
		render_secret *same = NULL;
		for (size_t i = 0; i < c->nsecrets && !same; i++)
			if (strcmp(c->secrets[i].key, k) == 0)
				same = &c->secrets[i];
		if (same && (same->len != len || memcmp(same->value, value, len) != 0))
			continue;
		if (!same) {
			c->secrets = xrealloc(c->secrets, (c->nsecrets + 1) * sizeof *c->secrets);
			char *v = xmalloc(len + 1);
			memcpy(v, value, len);
			v[len] = '\0';
			c->secrets[c->nsecrets++] = (render_secret){xstrdup(k), v, len};
		}
		return xstrdup(k);
	}
}

/* The secret key of an env value rendered from template TEXT: the
 * variable of a value that is exactly ${VAR} or ${VAR|url} (with
 * "_URLENCODED"), else ENV_NAME, the env var the value is for. */
static char *secret_key_for(const char *text, const char *env_name)
{
	size_t len = strlen(text);
	if (single_reference(text)) {
		size_t n = 2;
		while (n < len && is_name_char((unsigned char)text[n]))
			n++;
		if (strncmp(text + n, "|" URL_FILTER, 4) == 0)
			return xasprintf("%.*s_URLENCODED", (int)(n - 2), text + 2);
		return xstrndup(text + 2, n - 2);
	}
	return xstrdup(env_name);
}

static int add_plain(yaml_document_t *doc, const char *text)
{
	return yaml_document_add_scalar(doc, NULL, (yaml_char_t *)text, -1, computed_style(text));
}

/* One item of a container's env list, with render_opts.secret_name: a value
 * holding a secret becomes valueFrom.secretKeyRef into the pod's secret
 * (render.h), the value itself wiped from the document. */
static int render_env_entry(struct render_ctx *c, yaml_document_t *doc, int id)
{
	int value_id = mapping_value(doc, id, "value");
	yaml_node_t *v = value_id ? yaml_document_get_node(doc, value_id) : NULL;
	cleanup_free char *text = v && v->type == YAML_SCALAR_NODE &&
					  (size_t)value_id <= c->nnodes && !c->visited[value_id - 1]
				      ? xstrdup((const char *)v->data.scalar.value)
				      : NULL;
	if (render_node(c, doc, id, NULL) < 0)
		return -1;
	if (!text || !c->secret_at[value_id - 1])
		return 0;
	yaml_node_t *name = yaml_document_get_node(doc, mapping_value(doc, id, "name"));
	if (!name || name->type != YAML_SCALAR_NODE)
		return aerr_set(c->err, AEGIS_ECONFIG, "%s:%d: an env entry without a name",
				c->path, (int)yaml_document_get_node(doc, id)->start_mark.line + 1);
	cleanup_free char *key_wanted = secret_key_for(text, (const char *)name->data.scalar.value);
	v = yaml_document_get_node(doc, value_id);
	cleanup_free char *key =
	    add_secret(c, key_wanted, (const char *)v->data.scalar.value, v->data.scalar.length);
	wipe(v->data.scalar.value, v->data.scalar.length);
	set_scalar(v, xstrdup(""), 0);
	c->secret_scalars--;

	int ref = yaml_document_add_mapping(doc, NULL, YAML_BLOCK_MAPPING_STYLE);
	yaml_document_append_mapping_pair(doc, ref, add_plain(doc, "name"),
					  add_plain(doc, c->secret_name));
	yaml_document_append_mapping_pair(doc, ref, add_plain(doc, "key"), add_plain(doc, key));
	int from = yaml_document_add_mapping(doc, NULL, YAML_BLOCK_MAPPING_STYLE);
	yaml_document_append_mapping_pair(doc, from, add_plain(doc, "secretKeyRef"), ref);
	int from_key = add_plain(doc, "valueFrom");
	/* the pair "value: ..." becomes "valueFrom: {secretKeyRef: ...}" in place */
	yaml_node_t *entry = yaml_document_get_node(doc, id);
	for (yaml_node_pair_t *p = entry->data.mapping.pairs.start;
	     p < entry->data.mapping.pairs.top; p++)
		if (p->value == value_id) {
			p->key = from_key;
			p->value = from;
		}
	return 0;
}

static int render_node(struct render_ctx *c, yaml_document_t *doc, int id, const char *key)
{
	yaml_node_t *node = yaml_document_get_node(doc, id);
	/* nodes added on the way (secretKeyRef) are not templates */
	if (!node || (size_t)id > c->nnodes || c->visited[id - 1])
		return 0;
	c->visited[id - 1] = true;
	const char *tag = (const char *)node->tag;
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return render_scalar(c, node, id, key);
	case YAML_SEQUENCE_NODE:
	case YAML_MAPPING_NODE:
		if (tag && tag[0] == '!')
			return aerr_set(c->err, AEGIS_ECONFIG, "%s:%d: unexpected tag %s", c->path,
					(int)node->start_mark.line + 1, tag);
		break;
	default:
		return 0;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		bool env = c->secret_name && key && strcmp(key, "env") == 0;
		size_t n =
		    (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
		for (size_t k = 0; k < n; k++) {
			/* render_env_entry adds nodes: NODE may have moved */
			yaml_node_t *seq = yaml_document_get_node(doc, id);
			int item = seq->data.sequence.items.start[k];
			if ((env ? render_env_entry(c, doc, item)
				 : render_node(c, doc, item, NULL)) < 0)
				return -1;
		}
		return 0;
	}
	size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	for (size_t i = 0; i < n; i++) {
		/* render_env_entry adds nodes: NODE may have moved */
		yaml_node_pair_t pair =
		    yaml_document_get_node(doc, id)->data.mapping.pairs.start[i];
		yaml_node_t *k = yaml_document_get_node(doc, pair.key);
		/* the key as written selects integer fields, so copy it before
		 * the key itself is rendered */
		cleanup_free char *kname = k && k->type == YAML_SCALAR_NODE
					       ? xstrdup((const char *)k->data.scalar.value)
					       : NULL;
		if (render_node(c, doc, pair.key, NULL) < 0 ||
		    render_node(c, doc, pair.value, kname) < 0)
			return -1;
	}
	return 0;
}

static int write_output(void *data, unsigned char *buffer, size_t size)
{
	sb_add(data, buffer, size);
	return 1;
}

/* A parser over TEXT and an emitter into OUT, with the one layout every
 * manifest is written in. */
static void yaml_pipe_open(yaml_parser_t *parser, const char *text, size_t len,
			   yaml_emitter_t *emitter, strbuf *out)
{
	yaml_parser_initialize(parser);
	yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
	yaml_emitter_initialize(emitter);
	yaml_emitter_set_output(emitter, write_output, out);
	yaml_emitter_set_unicode(emitter, 1);
	yaml_emitter_set_width(emitter, -1); /* never fold long values */
	yaml_emitter_set_indent(emitter, 2);
	yaml_emitter_set_break(emitter, YAML_LN_BREAK);
}

/* The node id of KEY's value in mapping ID, or 0. */
static int mapping_value(yaml_document_t *doc, int id, const char *key)
{
	yaml_node_t *m = yaml_document_get_node(doc, id);
	if (!m || m->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
		    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
			return p->value;
	}
	return 0;
}

static bool scalar_is(yaml_document_t *doc, int id, const char *value)
{
	yaml_node_t *n = yaml_document_get_node(doc, id);
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(value) &&
	       memcmp(n->data.scalar.value, value, n->data.scalar.length) == 0;
}

/* Label the Pod with a digest of the whole rendered manifest (ConfigMaps
 * included), so that deploy can tell a running pod that already matches its
 * manifest from one that must be replaced.  Works on the emitted text: parse
 * it again, add the label to the Pod document, emit. */
static int stamp_manifest(const char *path, rendered *out, aerr_t *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	/* the values behind its secretKeyRefs count as part of the manifest */
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	bool ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) &&
		  EVP_DigestUpdate(x, out->yaml, out->len);
	for (size_t i = 0; ok && i < out->nsecrets; i++)
		ok = EVP_DigestUpdate(x, out->secrets[i].key, strlen(out->secrets[i].key) + 1) &&
		     EVP_DigestUpdate(x, out->secrets[i].value, out->secrets[i].len) &&
		     EVP_DigestUpdate(x, "", 1);
	ok = ok && EVP_DigestFinal_ex(x, md, &mdlen);
	EVP_MD_CTX_free(x);
	if (!ok)
		return aerr_set(err, AEGIS_EFAIL, "%s: SHA-256 failed", path);
	char hex[2 * MANIFEST_HASH_BYTES + 1];
	for (int i = 0; i < MANIFEST_HASH_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);

	strbuf result = STRBUF_SECRET;
	yaml_parser_t parser;
	yaml_emitter_t emitter;
	yaml_pipe_open(&parser, out->yaml, out->len, &emitter, &result);
	int rc = -1;
	if (!yaml_emitter_open(&emitter))
		goto emit_error;
	for (;;) {
		yaml_document_t doc;
		int more = ydoc_next(&parser, path, &doc, err);
		if (more < 0) {
			aerr_wrap(err, "re-reading the rendered manifest");
			goto out;
		}
		if (!more)
			break;
		if (scalar_is(&doc, mapping_value(&doc, 1, "kind"), "Pod")) {
			int meta = mapping_value(&doc, 1, "metadata");
			int labels = mapping_value(&doc, meta, "labels");
			if (meta && !labels) {
				int k =
				    yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)"labels",
							     -1, YAML_PLAIN_SCALAR_STYLE);
				labels =
				    yaml_document_add_mapping(&doc, NULL, YAML_BLOCK_MAPPING_STYLE);
				yaml_document_append_mapping_pair(&doc, meta, k, labels);
			}
			if (labels) {
				int k = yaml_document_add_scalar(&doc, NULL,
								 (yaml_char_t *)MANIFEST_HASH_LABEL,
								 -1, YAML_PLAIN_SCALAR_STYLE);
				int v = yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)hex, -1,
								 YAML_DOUBLE_QUOTED_SCALAR_STYLE);
				yaml_document_append_mapping_pair(&doc, labels, k, v);
			}
		}
		doc.start_implicit = 1;
		doc.end_implicit = 1;
		if (!yaml_emitter_dump(&emitter, &doc))
			goto emit_error;
	}
	if (!yaml_emitter_close(&emitter) || !yaml_emitter_flush(&emitter))
		goto emit_error;
	wipe_free_len(out->yaml, out->len);
	out->len = result.len;
	out->yaml = sb_take(&result);
	rc = 0;
	goto out;
emit_error:
	aerr_set(err, AEGIS_EFAIL, "%s: YAML emitter: %s", path,
		 emitter.problem ? emitter.problem : "cannot write");
out:
	sb_wipe(&result);
	yaml_parser_delete(&parser);
	yaml_emitter_delete(&emitter);
	return rc;
}

/* Render one document of the template and emit it (DOC is consumed). */
static int render_doc(struct render_ctx *c, yaml_document_t *doc, yaml_emitter_t *emitter)
{
	size_t nnodes = (size_t)(doc->nodes.top - doc->nodes.start);
	c->nnodes = nnodes;
	c->visited = xcalloc(nnodes, sizeof *c->visited);
	c->secret_at = xcalloc(nnodes, sizeof *c->secret_at);
	int r = render_node(c, doc, 1, NULL);
	free(c->visited);
	free(c->secret_at);
	c->visited = NULL;
	c->secret_at = NULL;
	if (r < 0) {
		yaml_document_delete(doc);
		return -1;
	}
	/* one layout whatever the template wrote: "---" only between documents */
	doc->start_implicit = 1;
	doc->end_implicit = 1;
	/* yaml_emitter_dump destroys the document, even on failure */
	if (!yaml_emitter_dump(emitter, doc))
		return aerr_set(c->err, AEGIS_EFAIL, "%s: YAML emitter: %s", c->path,
				emitter->problem ? emitter->problem : "cannot write");
	return 0;
}

int render_template(const char *path, const config *cfg, const render_opts *opts, rendered *out,
		    aerr_t *err)
{
	*out = (rendered){0};
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (fs_read_file(path, &text, &len, err) < 0)
		return -1;

	struct render_ctx c = {
	    .path = path,
	    .dir = fs_dirname(path),
	    .cfg = cfg,
	    .lenient = opts && opts->lenient,
	    .secret_name = opts ? opts->secret_name : NULL,
	    .err = err,
	};
	strbuf result = STRBUF_SECRET;
	yaml_parser_t parser;
	yaml_emitter_t emitter;
	yaml_pipe_open(&parser, text, len, &emitter, &result);

	int rc = -1;
	if (!yaml_emitter_open(&emitter)) {
		aerr_set(err, AEGIS_EFAIL, "%s: YAML emitter: %s", path, emitter.problem);
		goto out;
	}
	for (;;) {
		yaml_document_t doc;
		int more = ydoc_next(&parser, path, &doc, err);
		if (more < 0)
			goto out;
		if (!more)
			break;
		if (render_doc(&c, &doc, &emitter) < 0)
			goto out;
	}
	if (!yaml_emitter_close(&emitter) || !yaml_emitter_flush(&emitter)) {
		aerr_set(err, AEGIS_EFAIL, "%s: YAML emitter: %s", path,
			 emitter.problem ? emitter.problem : "cannot write");
		goto out;
	}
	out->len = result.len;
	out->yaml = sb_take(&result);
	out->has_secrets = c.secret_scalars > 0;
	out->secrets = c.secrets;
	out->nsecrets = c.nsecrets;
	out->secret_name = c.nsecrets ? xstrdup(c.secret_name) : NULL;
	c.secrets = NULL;
	c.nsecrets = 0;
	rc = c.lenient ? 0 : stamp_manifest(path, out, err);
	if (rc < 0)
		rendered_free(out);
out:
	render_secrets_free(c.secrets, c.nsecrets);
	sb_wipe(&result);
	free(c.dir);
	yaml_parser_delete(&parser);
	yaml_emitter_delete(&emitter);
	return rc;
}

static void render_secrets_free(render_secret *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].key);
		wipe_free_len(s[i].value, s[i].len);
	}
	free(s);
}

void rendered_free(rendered *r)
{
	if (!r)
		return;
	/* a manifest may hold substituted secrets */
	wipe_free_len(r->yaml, r->len);
	render_secrets_free(r->secrets, r->nsecrets);
	free(r->secret_name);
	*r = (rendered){0};
}

char *render_pod_secret_name(const char *pod)
{
	return xasprintf(RENDER_POD_SECRET_PREFIX "%s", pod);
}
