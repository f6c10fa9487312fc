#include "config/env.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/wipe.h"

#define UTF8_BOM "\xef\xbb\xbf"

struct parser {
	const char *path;
	const char *text;
	size_t len; /* of text */
	size_t pos;
	int line;
	const char *key; /* the key whose value is being read, for messages */
	env_file *env;
	aerr_t *err;
};

/* "PATH:LINE: problem[ (key KEY)]": never the text of the line, which may
 * be a secret. */
static int perr(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, int line, const char *fmt, ...)
{
	strbuf what = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&what, fmt, ap);
	va_end(ap);
	if (p->key)
		sb_addf(&what, " (key %s)", p->key);
	aerr_set(p->err, AEGIS_ECONFIG, "%s:%d: %s", p->path, line, what.s);
	sb_release(&what);
	return -1;
}

/* --- the index of keys ------------------------------------------------------ */

static size_t key_hash(const char *key)
{
	size_t h = 14695981039346656037ULL; /* FNV-1a */
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h;
}

/* The slot of KEY: the one holding it, or the free one where it would go. */
static size_t key_slot(const env_file *env, const char *key)
{
	size_t mask = env->nslots - 1;
	size_t i = key_hash(key) & mask;
	while (env->slots[i] && strcmp(env->entries[env->slots[i] - 1].key, key) != 0)
		i = (i + 1) & mask;
	return i;
}

static void index_grow(env_file *env)
{
	free(env->slots);
	env->nslots = env->nslots ? env->nslots * 2 : 64;
	env->slots = xcalloc(env->nslots, sizeof *env->slots);
	for (size_t i = 0; i < env->n; i++)
		env->slots[key_slot(env, env->entries[i].key)] = i + 1;
}

const env_entry *env_find(const env_file *env, const char *key)
{
	if (!env->nslots)
		return NULL;
	size_t idx = env->slots[key_slot(env, key)];
	return idx ? &env->entries[idx - 1] : NULL;
}

/* Later assignments of a key replace earlier ones in place (one hashed
 * look-up each: a file of 100,000 lines parses in linear time). */
static void env_set_entry(env_file *env, char *key, char *value, int line, size_t rs, size_t re)
{
	if (2 * (env->n + 1) > env->nslots)
		index_grow(env);
	size_t slot = key_slot(env, key);
	env_entry e = {key, value, line, rs, re};
	if (env->slots[slot]) {
		env_entry *old = &env->entries[env->slots[slot] - 1];
		free(old->key);
		wipe_free(old->value);
		*old = e;
		return;
	}
	if (env->n == env->cap) {
		env->cap = env->cap ? env->cap * 2 : 16;
		env->entries = xrealloc(env->entries, env->cap * sizeof *env->entries);
	}
	env->entries[env->n++] = e;
	env->slots[slot] = env->n;
}

/* --- values ----------------------------------------------------------------- */

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
		return perr(p, p->line, "invalid variable reference: expected ${NAME}");
	cleanup_free char *name = xstrndup(s + name_start, name_len);
	const char *val = lookup(p->env, name);
	if (i < avail && s[i] == '}') {
		if (val)
			sb_adds(out, val);
		return (long)i + 1;
	}
	if (!(i + 1 < avail && s[i] == ':' && s[i + 1] == '-'))
		return perr(p, p->line,
			    "malformed ${ reference: expected ${NAME} or ${NAME:-default}");
	/* the default runs to the matching '}', and may itself hold ${...} */
	i += 2;
	strbuf def = STRBUF_SECRET;
	while (i < avail && s[i] != '}') {
		if (s[i] == '$' && i + 1 < avail && s[i + 1] == '{') {
			long used = expand_ref(p, s + i, avail - i, &def);
			if (used < 0) {
				sb_wipe(&def);
				return -1;
			}
			i += (size_t)used;
		} else {
			sb_addc(&def, s[i++]);
		}
	}
	if (i >= avail) {
		sb_wipe(&def);
		return perr(p, p->line, "unterminated ${NAME:-default} reference");
	}
	if (val && *val)
		sb_adds(out, val);
	else if (def.s)
		sb_adds(out, def.s);
	sb_wipe(&def);
	return (long)i + 1;
}

/* Expand the reference at p->pos (within the first LIMIT bytes of the text)
 * and move past it. */
static int expand_at(struct parser *p, size_t *pos, size_t limit, strbuf *out)
{
	long used = expand_ref(p, p->text + *pos, limit - *pos, out);
	if (used < 0)
		return -1;
	*pos += (size_t)used;
	return 0;
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
	size_t quote_end = p->pos;
	while (t[p->pos] == ' ' || t[p->pos] == '\t' || t[p->pos] == '\r')
		p->pos++;
	if (t[p->pos] == '#') {
		while (t[p->pos] && t[p->pos] != '\n')
			p->pos++;
	}
	if (t[p->pos] && t[p->pos] != '\n')
		return perr(p, p->line,
			    "unexpected text after the closing quote (%zu bytes after it; only "
			    "blanks and a # comment may follow)",
			    p->pos - quote_end);
	return 0;
}

/* The character after a backslash in a double-quoted value. */
static void add_escape(struct parser *p, char n, strbuf *out)
{
	static const char from[] = "ntr\"\\$", to[] = "\n\t\r\"\\$";
	const char *k = strchr(from, n);
	if (n && k) {
		sb_addc(out, to[k - from]);
		return;
	}
	/* unknown escapes stay as written */
	sb_addc(out, '\\');
	sb_addc(out, n);
	if (n == '\n')
		p->line++;
}

/* 'literal' or "with escapes and ${...}": both run to their closing quote,
 * across lines if need be. */
static int parse_quoted(struct parser *p, strbuf *out)
{
	const char *t = p->text;
	char quote = t[p->pos++];
	bool dq = quote == '"';
	int start_line = p->line;
	while (t[p->pos] && t[p->pos] != quote) {
		char c = t[p->pos];
		if (dq && c == '\\' && t[p->pos + 1]) {
			add_escape(p, t[p->pos + 1], out);
			p->pos += 2;
		} else if (dq && c == '$' && t[p->pos + 1] == '{') {
			if (expand_at(p, &p->pos, p->len, out) < 0)
				return -1;
		} else {
			p->line += c == '\n';
			sb_addc(out, c);
			p->pos++;
		}
	}
	if (!t[p->pos])
		return perr(p, start_line, "unterminated %s-quoted value",
			    dq ? "double" : "single");
	p->pos++;
	return 0;
}

/* Unquoted: to the end of the line; " #" starts a comment; trailing blanks
 * are dropped. */
static int parse_unquoted(struct parser *p, strbuf *out, size_t *raw_end)
{
	const char *t = p->text;
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
			if (expand_at(p, &i, vend, out) < 0)
				return -1;
		} else {
			sb_addc(out, t[i++]);
		}
	}
	*raw_end = vend;
	while (t[end] && t[end] != '\n')
		end++;
	p->pos = end;
	return 0;
}

static int parse_value(struct parser *p, char **value, size_t *raw_start, size_t *raw_end)
{
	strbuf out = STRBUF_SECRET;
	int rc;
	*raw_start = p->pos;
	if (p->text[p->pos] == '\'' || p->text[p->pos] == '"') {
		rc = parse_quoted(p, &out);
		*raw_end = p->pos;
		if (rc == 0)
			rc = expect_line_end(p);
	} else {
		rc = parse_unquoted(p, &out, raw_end);
	}
	if (rc < 0) {
		sb_wipe(&out);
		return -1;
	}
	*value = sb_take(&out);
	return 0;
}

/* --- keys and lines --------------------------------------------------------- */

/* Does [s, s+n) read as a key someone meant to write (letters, digits, '_',
 * '-', '.')?  Only then is it named in a message: any other text before '='
 * may be part of a secret. */
static bool key_shaped(const char *s, size_t n)
{
	if (!n || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
			return false;
	return true;
}

/* What is wrong with the key starting at KS, whose first bad byte is at BAD. */
static int key_error(struct parser *p, size_t ks, size_t bad)
{
	const char *t = p->text;
	size_t eq = ks;
	while (t[eq] && t[eq] != '\n' && t[eq] != '=')
		eq++;
	size_t col = bad - ks + 1;
	if (t[eq] != '=' && valid_key_start(t[ks]) &&
	    (t[bad] == ' ' || t[bad] == '\t' || t[bad] == '\n' || t[bad] == '\r' || !t[bad]))
		return perr(p, p->line, "expected '=' after the key (NAME=value)");
	if (t[eq] != '=')
		return perr(p, p->line,
			    "expected NAME=value, NAME of letters, digits and underscores (no '=' "
			    "on the line; its text is not shown, it may be a secret)");
	if (strncmp(t + bad, UTF8_BOM, 3) == 0)
		return perr(p, p->line, "invalid key: a byte order mark (U+FEFF) at character %zu",
			    col);
	if (key_shaped(t + ks, eq - ks))
		return perr(p, p->line,
			    "invalid key '%.*s' (expected NAME=value, NAME of letters, digits and "
			    "underscores, not starting with a digit)",
			    (int)(eq - ks), t + ks);
	return perr(p, p->line,
		    "invalid key: character %zu is not a letter, digit or underscore (expected "
		    "NAME=value)",
		    col);
}

/* Read "[export ]KEY =" at p->pos into *KEY. */
static int parse_key(struct parser *p, char **key)
{
	const char *t = p->text;
	if (strncmp(t + p->pos, "export", 6) == 0 &&
	    (t[p->pos + 6] == ' ' || t[p->pos + 6] == '\t')) {
		p->pos += 6;
		while (t[p->pos] == ' ' || t[p->pos] == '\t')
			p->pos++;
	}
	size_t ks = p->pos;
	if (!valid_key_start(t[p->pos]))
		return key_error(p, ks, p->pos);
	while (valid_key_char(t[p->pos]))
		p->pos++;
	size_t ke = p->pos;
	while (t[p->pos] == ' ' || t[p->pos] == '\t')
		p->pos++;
	if (t[p->pos] != '=')
		return key_error(p, ks, ke);
	p->pos++;
	while (t[p->pos] == ' ' || t[p->pos] == '\t')
		p->pos++;
	*key = xstrndup(t + ks, ke - ks);
	return 0;
}

/* One line (an assignment may run over several when quoted).  p->pos is at
 * its first byte; afterwards at its final '\n' or the end. */
static int parse_line(struct parser *p)
{
	const char *t = p->text;
	while (t[p->pos] == ' ' || t[p->pos] == '\t')
		p->pos++;
	if (t[p->pos] == '\n' || t[p->pos] == '#' || t[p->pos] == '\r' || !t[p->pos]) {
		while (t[p->pos] && t[p->pos] != '\n')
			p->pos++;
		return 0;
	}
	char *key = NULL;
	if (parse_key(p, &key) < 0)
		return -1;
	int line = p->line;
	char *value = NULL;
	size_t rs = 0, re = 0;
	p->key = key;
	int rc = parse_value(p, &value, &rs, &re);
	p->key = NULL;
	if (rc < 0) {
		free(key);
		return -1;
	}
	env_set_entry(p->env, key, value, line, rs, re);
	return 0;
}

int env_parse(const char *path, const char *text, env_file *out, aerr_t *err)
{
	*out = (env_file){.path = xstrdup(path), .text = xstrdup(text)};
	struct parser p = {.path = path,
			   .text = out->text,
			   .len = strlen(text),
			   .line = 1,
			   .env = out,
			   .err = err};
	/* editors on some systems start UTF-8 files with a byte order mark */
	if (strncmp(text, UTF8_BOM, 3) == 0)
		p.pos = 3;
	while (p.text[p.pos]) {
		if (parse_line(&p) < 0) {
			env_free(out);
			return -1;
		}
		if (p.text[p.pos] == '\n') {
			p.pos++;
			p.line++;
		}
	}
	return 0;
}

int env_load(const char *path, bool missing_ok, env_file *out, aerr_t *err)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return aerr_set(err, AEGIS_ECONFIG, "%s is a directory, not a .env file", path);
	char *text = NULL;
	size_t len = 0;
	if (fs_read_file(path, &text, &len, err) < 0) {
		if (missing_ok && errno == ENOENT && !fs_exists(path)) {
			*out = (env_file){.path = xstrdup(path), .text = xstrdup("")};
			aerr_clear(err);
			return 0;
		}
		err->status = AEGIS_ECONFIG;
		return -1;
	}
	/* the parser reads C strings: a NUL would silently end the file there */
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *s = text; s < nul; s++)
			line += *s == '\n';
		wipe_free_len(text, len);
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: not a text file (it holds a NUL byte)",
				path, line);
	}
	int rc = env_parse(path, text, out, err);
	wipe_free_len(text, len);
	return rc;
}

void env_free(env_file *env)
{
	for (size_t i = 0; i < env->n; i++) {
		free(env->entries[i].key);
		/* values may be secrets: do not leave them in freed memory */
		wipe_free(env->entries[i].value);
	}
	free(env->entries);
	free(env->slots);
	free(env->path);
	wipe_free(env->text);
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
	strbuf b = STRBUF_SECRET;
	sb_addc(&b, '"');
	for (const char *s = value; *s; s++) {
		switch (*s) {
		case '\n':
			sb_adds(&b, "\\n");
			break;
		case '\r':
			sb_adds(&b, "\\r");
			break;
		case '"':
			sb_adds(&b, "\\\"");
			break;
		case '\\':
			sb_adds(&b, "\\\\");
			break;
		case '$':
			sb_adds(&b, "\\$");
			break;
		default:
			sb_addc(&b, *s);
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
	strbuf tail = STRBUF_SECRET;
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
				wipe_free(q);
				q = spaced;
			}
			edits[nedits++] = (struct edit){e->raw_start, e->raw_end, q};
		} else {
			sb_adds(&tail, keys[i]);
			sb_addc(&tail, '=');
			sb_adds(&tail, q);
			sb_addc(&tail, '\n');
			wipe_free(q);
		}
	}
	*changed = nedits || tail.len;
	qsort(edits, nedits, sizeof *edits, edit_cmp);
	strbuf out = STRBUF_SECRET;
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
	for (size_t i = 0; i < nedits; i++)
		wipe_free(edits[i].text);
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
	wipe_free(text);
	env_free(&env);
	return rc;
}
