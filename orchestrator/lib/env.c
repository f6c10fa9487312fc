#include "env.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "strbuf.h"

struct parser {
	const char *path;
	const char *text;
	size_t pos;
	int line;
	env_file *env;
	aerr_t *err;
};

static int perr(struct parser *p, int line, const char *fmt, const char *a)
{
	char what[512];
	snprintf(what, sizeof what, fmt, a);
	return aerr_set(p->err, AEGIS_ECONFIG, "%s:%d: %s", p->path, line, what);
}

static const char *lookup(const env_file *env, const char *name)
{
	const char *v = getenv(name);
	if (v)
		return v;
	const env_entry *e = env_find(env, name);
	return e ? e->value : NULL;
}

/* Expand one ${...} starting at s (pointing at '$'), appending to out.
 * Returns the number of bytes consumed or -1. */
static long expand_ref(struct parser *p, const char *s, size_t avail, strbuf *out)
{
	/* s[0] == '$', s[1] == '{' */
	size_t i = 2;
	size_t name_start = i;
	while (i < avail && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	size_t name_len = i - name_start;
	if (name_len == 0 || isdigit((unsigned char)s[name_start]))
		return perr(p, p->line, "invalid variable reference '%s'", "${");
	cleanup_free char *name = xstrndup(s + name_start, name_len);
	const char *val = lookup(p->env, name);
	if (i < avail && s[i] == '}') {
		if (val)
			sb_adds(out, val);
		return (long)i + 1;
	}
	if (i + 1 < avail && s[i] == ':' && s[i + 1] == '-') {
		i += 2;
		/* the default runs to the matching '}', and may itself hold ${...} */
		strbuf def = {0};
		while (i < avail && s[i] != '}') {
			if (s[i] == '$' && i + 1 < avail && s[i + 1] == '{') {
				long used = expand_ref(p, s + i, avail - i, &def);
				if (used < 0) {
					free(def.s);
					return -1;
				}
				i += (size_t)used;
			} else {
				sb_addc(&def, s[i++]);
			}
		}
		if (i >= avail) {
			free(def.s);
			return perr(p, p->line, "unterminated ${%s reference", name);
		}
		if (val && *val)
			sb_adds(out, val);
		else if (def.s)
			sb_adds(out, def.s);
		free(def.s);
		return (long)i + 1;
	}
	return perr(p, p->line, "unterminated or malformed ${%s reference", name);
}

static int valid_key_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static int valid_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* After a closing quote only blanks and an optional comment may follow. */
static int expect_line_end(struct parser *p)
{
	const char *t = p->text;
	while (t[p->pos] == ' ' || t[p->pos] == '\t' || t[p->pos] == '\r')
		p->pos++;
	if (t[p->pos] == '#') {
		while (t[p->pos] && t[p->pos] != '\n')
			p->pos++;
	}
	if (t[p->pos] && t[p->pos] != '\n')
		return perr(p, p->line, "unexpected text after the closing quote: '%.20s'",
			    t + p->pos);
	return 0;
}

static int parse_value(struct parser *p, char **value, size_t *raw_start, size_t *raw_end)
{
	const char *t = p->text;
	strbuf out = {0};
	int start_line = p->line;
	*raw_start = p->pos;
	if (t[p->pos] == '\'') {
		p->pos++;
		while (t[p->pos] && t[p->pos] != '\'') {
			if (t[p->pos] == '\n')
				p->line++;
			sb_addc(&out, t[p->pos++]);
		}
		if (!t[p->pos]) {
			free(out.s);
			return perr(p, start_line, "unterminated single-quoted value%s", "");
		}
		p->pos++;
		*raw_end = p->pos;
		*value = sb_take(&out);
		if (expect_line_end(p) < 0) {
			free(*value);
			return -1;
		}
		return 0;
	}
	if (t[p->pos] == '"') {
		p->pos++;
		while (t[p->pos] && t[p->pos] != '"') {
			char c = t[p->pos];
			if (c == '\\' && t[p->pos + 1]) {
				char n = t[p->pos + 1];
				p->pos += 2;
				switch (n) {
				case 'n': sb_addc(&out, '\n'); break;
				case 't': sb_addc(&out, '\t'); break;
				case 'r': sb_addc(&out, '\r'); break;
				case '"': sb_addc(&out, '"'); break;
				case '\\': sb_addc(&out, '\\'); break;
				case '$': sb_addc(&out, '$'); break;
				default:
					/* unknown escapes stay as written */
					sb_addc(&out, '\\');
					sb_addc(&out, n);
					if (n == '\n')
						p->line++;
				}
				continue;
			}
			if (c == '$' && t[p->pos + 1] == '{') {
				long used = expand_ref(p, t + p->pos, strlen(t + p->pos), &out);
				if (used < 0) {
					free(out.s);
					return -1;
				}
				p->pos += (size_t)used;
				continue;
			}
			if (c == '\n')
				p->line++;
			sb_addc(&out, c);
			p->pos++;
		}
		if (!t[p->pos]) {
			free(out.s);
			return perr(p, start_line, "unterminated double-quoted value%s", "");
		}
		p->pos++;
		*raw_end = p->pos;
		*value = sb_take(&out);
		if (expect_line_end(p) < 0) {
			free(*value);
			return -1;
		}
		return 0;
	}
	/* unquoted: to end of line; " #" starts a comment; trailing blanks dropped */
	size_t end = p->pos;
	while (t[end] && t[end] != '\n') {
		if (t[end] == '#' && (end == p->pos || t[end - 1] == ' ' || t[end - 1] == '\t'))
			break;
		end++;
	}
	size_t vend = end;
	while (vend > p->pos && (t[vend - 1] == ' ' || t[vend - 1] == '\t' || t[vend - 1] == '\r'))
		vend--;
	for (size_t i = p->pos; i < vend;) {
		if (t[i] == '$' && i + 1 < vend && t[i + 1] == '{') {
			long used = expand_ref(p, t + i, vend - i, &out);
			if (used < 0) {
				free(out.s);
				return -1;
			}
			i += (size_t)used;
		} else {
			sb_addc(&out, t[i++]);
		}
	}
	*raw_end = vend;
	while (t[end] && t[end] != '\n')
		end++;
	p->pos = end;
	*value = sb_take(&out);
	return 0;
}

static void env_set_entry(env_file *env, char *key, char *value, int line, size_t rs, size_t re)
{
	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->entries[i].key, key) == 0) {
			free(env->entries[i].key);
			free(env->entries[i].value);
			env->entries[i] = (env_entry){key, value, line, rs, re};
			return;
		}
	}
	env->entries = xrealloc(env->entries, (env->n + 1) * sizeof *env->entries);
	env->entries[env->n++] = (env_entry){key, value, line, rs, re};
}

int env_parse(const char *path, const char *text, env_file *out, aerr_t *err)
{
	*out = (env_file){.path = xstrdup(path), .text = xstrdup(text)};
	struct parser p = {.path = path, .text = out->text, .line = 1, .env = out, .err = err};
	const char *t = out->text;
	while (t[p.pos]) {
		/* at the start of a line */
		while (t[p.pos] == ' ' || t[p.pos] == '\t')
			p.pos++;
		if (t[p.pos] == '\n' || t[p.pos] == '#' || t[p.pos] == '\r' || !t[p.pos]) {
			while (t[p.pos] && t[p.pos] != '\n')
				p.pos++;
			goto next_line;
		}
		if (strncmp(t + p.pos, "export", 6) == 0 &&
		    (t[p.pos + 6] == ' ' || t[p.pos + 6] == '\t')) {
			p.pos += 6;
			while (t[p.pos] == ' ' || t[p.pos] == '\t')
				p.pos++;
		}
		size_t ks = p.pos;
		if (!valid_key_start(t[p.pos])) {
			size_t e = p.pos;
			while (t[e] && t[e] != '\n' && t[e] != '=')
				e++;
			cleanup_free char *bad = xstrndup(t + ks, e - ks);
			perr(&p, p.line, "invalid key '%s' (expected NAME=value, NAME of letters, "
					 "digits and underscores)",
			     bad);
			env_free(out);
			return -1;
		}
		while (valid_key_char(t[p.pos]))
			p.pos++;
		char *key = xstrndup(t + ks, p.pos - ks);
		while (t[p.pos] == ' ' || t[p.pos] == '\t')
			p.pos++;
		if (t[p.pos] != '=') {
			size_t e = p.pos;
			while (t[e] && t[e] != '\n')
				e++;
			cleanup_free char *line = xstrndup(t + ks, e - ks);
			if (t[ks + strlen(key)] && t[ks + strlen(key)] != '\n' &&
			    t[ks + strlen(key)] != ' ' && t[ks + strlen(key)] != '\t')
				perr(&p, p.line, "invalid key in '%s'", line);
			else
				perr(&p, p.line, "expected '=' after the key in '%s'", line);
			free(key);
			env_free(out);
			return -1;
		}
		p.pos++;
		while (t[p.pos] == ' ' || t[p.pos] == '\t')
			p.pos++;
		int line = p.line;
		char *value = NULL;
		size_t rs = 0, re = 0;
		if (parse_value(&p, &value, &rs, &re) < 0) {
			free(key);
			env_free(out);
			return -1;
		}
		env_set_entry(out, key, value, line, rs, re);
	next_line:
		if (t[p.pos] == '\n') {
			p.pos++;
			p.line++;
		}
	}
	return 0;
}

int env_load(const char *path, bool missing_ok, env_file *out, aerr_t *err)
{
	char *text = NULL;
	if (fs_read_file(path, &text, NULL, err) < 0) {
		if (missing_ok && errno == ENOENT && !fs_exists(path)) {
			*out = (env_file){.path = xstrdup(path), .text = xstrdup("")};
			aerr_clear(err);
			return 0;
		}
		return -1;
	}
	if (memchr(text, '\0', strlen(text)) != NULL) {
		free(text);
		return aerr_set(err, AEGIS_ECONFIG, "%s: not a text file", path);
	}
	int rc = env_parse(path, text, out, err);
	free(text);
	return rc;
}

const env_entry *env_find(const env_file *env, const char *key)
{
	for (size_t i = 0; i < env->n; i++)
		if (strcmp(env->entries[i].key, key) == 0)
			return &env->entries[i];
	return NULL;
}

void env_free(env_file *env)
{
	for (size_t i = 0; i < env->n; i++) {
		free(env->entries[i].key);
		if (env->entries[i].value) {
			/* values may be secrets: do not leave them in freed memory */
			memset(env->entries[i].value, 0, strlen(env->entries[i].value));
			free(env->entries[i].value);
		}
	}
	free(env->entries);
	free(env->path);
	if (env->text) {
		memset(env->text, 0, strlen(env->text));
		free(env->text);
	}
	*env = (env_file){0};
}

static int bare_safe(char c)
{
	return isalnum((unsigned char)c) || strchr("-_.:/@+,%=~^", c) != NULL;
}

char *env_quote(const char *value)
{
	bool bare = true, has_single = false, has_nl = false;
	for (const char *s = value; *s; s++) {
		if (!bare_safe(*s))
			bare = false;
		if (*s == '\'')
			has_single = true;
		if (*s == '\n' || *s == '\r')
			has_nl = true;
	}
	if (bare)
		return xstrdup(value);
	if (!has_single && !has_nl)
		return xasprintf("'%s'", value);
	strbuf b = {0};
	sb_addc(&b, '"');
	for (const char *s = value; *s; s++) {
		switch (*s) {
		case '\n': sb_adds(&b, "\\n"); break;
		case '\r': sb_adds(&b, "\\r"); break;
		case '"': sb_adds(&b, "\\\""); break;
		case '\\': sb_adds(&b, "\\\\"); break;
		case '$': sb_adds(&b, "\\$"); break;
		default: sb_addc(&b, *s);
		}
	}
	sb_addc(&b, '"');
	return sb_take(&b);
}

struct edit {
	size_t start, end;
	char *text;
};

static int edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

char *env_edit(const env_file *env, size_t n, const char *const *keys, const char *const *values,
	       bool *changed)
{
	struct edit *edits = xcalloc(n, sizeof *edits);
	size_t nedits = 0;
	strbuf tail = {0};
	for (size_t i = 0; i < n; i++) {
		const env_entry *e = env_find(env, keys[i]);
		if (e && strcmp(e->value, values[i]) == 0)
			continue;
		char *q = env_quote(values[i]);
		if (e) {
			/* "KEY=   # note": the empty value sits right before the
			 * comment; keep a blank between them or "#" would join
			 * the new value */
			if (e->raw_start == e->raw_end && env->text[e->raw_end] == '#') {
				char *spaced = xasprintf("%s ", q);
				free(q);
				q = spaced;
			}
			edits[nedits++] = (struct edit){e->raw_start, e->raw_end, q};
		} else {
			sb_adds(&tail, keys[i]);
			sb_addc(&tail, '=');
			sb_adds(&tail, q);
			sb_addc(&tail, '\n');
			free(q);
		}
	}
	*changed = nedits || tail.len;
	qsort(edits, nedits, sizeof *edits, edit_cmp);
	strbuf out = {0};
	const char *t = env->text ? env->text : "";
	size_t len = strlen(t), pos = 0;
	for (size_t i = 0; i < nedits; i++) {
		sb_add(&out, t + pos, edits[i].start - pos);
		sb_adds(&out, edits[i].text);
		pos = edits[i].end;
	}
	sb_add(&out, t + pos, len - pos);
	if (tail.len) {
		if (out.len && out.s[out.len - 1] != '\n')
			sb_addc(&out, '\n');
		sb_adds(&out, tail.s);
	}
	for (size_t i = 0; i < nedits; i++) {
		memset(edits[i].text, 0, strlen(edits[i].text));
		free(edits[i].text);
	}
	free(edits);
	sb_wipe(&tail);
	return sb_take(&out);
}

int env_update(const char *path, size_t n, const char *const *keys, const char *const *values,
	       bool *changed, aerr_t *err)
{
	if (changed)
		*changed = false;
	mode_t mode = 0600;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return aerr_set(err, AEGIS_EFAIL,
					"refusing to write %s: it is a symbolic link", path);
		mode = st.st_mode & 07777;
	}
	env_file env;
	if (env_load(path, true, &env, err) < 0)
		return aerr_wrap(err, "cannot update %s", path);
	bool differs = false;
	char *text = env_edit(&env, n, keys, values, &differs);
	int rc = 0;
	if (differs) {
		rc = fs_write_atomic(path, text, strlen(text), mode, err);
		if (rc == 0 && changed)
			*changed = true;
	}
	memset(text, 0, strlen(text));
	free(text);
	env_free(&env);
	return rc;
}
