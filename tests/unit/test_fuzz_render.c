/* Fuzz: generated values of POSTGRES_PASSWORD through .env -> render -> a
 * YAML parser, compared exactly; in a URL the component percent-decodes to
 * the value.  A value holding a NUL byte must be refused as "not a text
 * file".
 *
 *   AEGIS_FUZZ_SEED   the seed (printed on every run; set it to replay one)
 *   AEGIS_FUZZ_COUNT  how many values (default 10000; scripts/fuzz-env.sh
 *                     runs 10^6) */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <yaml.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/config/env.h"
#include "lib/render/render.h"
#include "lib/util/fsutil.h"
#include "lib/util/strbuf.h"

#define DEFAULT_SEED 20261129u
#define DEFAULT_COUNT 10000

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: small, and the same sequence on every machine */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rng() % n);
}

static void add_codepoint(strbuf *b, uint32_t cp)
{
	char u[4];
	if (cp < 0x80) {
		sb_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f));
		sb_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sb_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
		sb_add(b, u, 4);
	}
}

/* The pieces hostile values are made of: YAML and dotenv syntax, line
 * breaks of every kind, URL-reserved characters. */
static const char *const pieces[] = {
    "\r",
    "\n",
    "\r\n",
    "\t",
    "\xc2\x85",
    "\xe2\x80\xa8",
    "\xe2\x80\xa9",
    "\xef\xbb\xbf",
    "\xf0\x9f\x98\x80",
    "'",
    "\"",
    "$",
    "${",
    "${POSTGRES_PASSWORD}",
    "${X:-y}",
    "\\",
    "\\n",
    " ",
    ": ",
    "#",
    " #",
    "%",
    "%41",
    "@",
    ":",
    "/",
    "?",
    "&",
    "*",
    "!",
    "|",
    ">",
    "-",
    "- ",
    "---",
    "...",
    "{",
    "}",
    "[",
    "]",
    ",",
    "=",
    "~",
    "`",
    "true",
    "null",
    "no",
    "0x1F",
    "1e3",
    "<<",
    "export ",
    "\x7f",
    "\xc2\xa0",
    "\xef\xbf\xbe",
    "\xef\xbf\xbd",
    "+",
    " ",
};

/* One value (LEN bytes in B); with WITH_NUL a NUL byte somewhere in it. */
static void generate(strbuf *b, bool with_nul)
{
	unsigned n = 1 + pick(12);
	if (pick(8) == 0)
		sb_adds(b, pick(2) ? " " : "  ");
	for (unsigned i = 0; i < n; i++) {
		switch (pick(6)) {
		case 0:
		case 1:
			sb_adds(b, pieces[pick(ARRAY_SIZE(pieces))]);
			break;
		case 2:
			sb_addc(b, (char)(0x21 + pick(0x5e)));
			break; /* printable ASCII */
		case 3:
			add_codepoint(b, 1 + pick(0x1f));
			break; /* C0 controls */
		case 4: {
			uint32_t cp = 0x80 + pick(0xff80); /* the BMP, no surrogates */
			add_codepoint(b, cp >= 0xd800 && cp <= 0xdfff ? cp + 0x800 : cp);
			break;
		}
		default:
			add_codepoint(b, 0x10000 + pick(0x100000)); /* astral */
		}
	}
	if (pick(8) == 0)
		sb_adds(b, pick(2) ? " " : "\t ");
	if (with_nul) {
		size_t at = pick((unsigned)b->len + 1);
		strbuf w = STRBUF_INIT;
		sb_add(&w, b->s, at);
		sb_addc(&w, '\0');
		sb_add(&w, b->s + at, b->len - at);
		sb_release(b);
		*b = w;
	}
}

static const char template_text[] =
    "kind: Pod\n"
    "metadata:\n"
    "  name: pod-fuzz\n"
    "spec:\n"
    "  containers:\n"
    "    - name: db\n"
    "      env:\n"
    "        - name: PLAIN\n"
    "          value: ${POSTGRES_PASSWORD}\n"
    "        - name: QUOTED\n"
    "          value: \"${POSTGRES_PASSWORD}\"\n"
    "        - name: SINGLE\n"
    "          value: '${POSTGRES_PASSWORD}'\n"
    "        - name: URL\n"
    "          value: postgresql://aegis:${POSTGRES_PASSWORD|url}@pod-database:5432/aegis\n"
    "      args: [--password, '${POSTGRES_PASSWORD}', x]\n"
    "  after: end\n";

#define URL_HEAD "postgresql://aegis:"
#define URL_TAIL "@pod-database:5432/aegis"

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode the password of URL into OUT; false when URL is not
 * HEAD + component + TAIL or the component holds a reserved character. */
static bool url_password(const char *url, size_t len, strbuf *out)
{
	size_t hl = strlen(URL_HEAD), tl = strlen(URL_TAIL);
	if (len < hl + tl || memcmp(url, URL_HEAD, hl) != 0 ||
	    memcmp(url + len - tl, URL_TAIL, tl) != 0)
		return false;
	for (size_t i = hl; i < len - tl; i++) {
		char c = url[i];
		if (c == '%') {
			int h = i + 2 < len - tl ? unhex(url[i + 1]) : -1;
			int l = h >= 0 ? unhex(url[i + 2]) : -1;
			if (l < 0)
				return false;
			sb_addc(out, (char)(h * 16 + l));
			i += 2;
		} else if (strchr(
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
			       c)) {
			sb_addc(out, c);
		} else {
			return false;
		}
	}
	return true;
}

/* The scalars of the rendered pod, by where they sit. */
struct found {
	char *env[4]; /* PLAIN QUOTED SINGLE URL */
	size_t env_len[4];
	char *arg;
	size_t arg_len;
	char *after;
};

static void found_free(struct found *f)
{
	for (int i = 0; i < 4; i++)
		free(f->env[i]);
	free(f->arg);
	free(f->after);
}

static yaml_node_t *get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static yaml_node_t *item(yaml_document_t *d, yaml_node_t *s, long i)
{
	if (!s || s->type != YAML_SEQUENCE_NODE ||
	    i >= s->data.sequence.items.top - s->data.sequence.items.start)
		return NULL;
	return yaml_document_get_node(d, s->data.sequence.items.start[i]);
}

/* Would a YAML 1.1 or 1.2 reader resolve this plain scalar to something
 * other than a string (a bool, null or number)? */
static bool resolves_non_string(const char *s)
{
	static const char *const words[] = {
	    "",	     "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
	    "FALSE", "yes", "Yes",  "YES",  "no",   "No",   "NO",   "on",   "On",    "ON",
	    "off",   "Off", "OFF",  "y",    "Y",    "n",    "N",    "<<",   "="};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	const char *p = s + (*s == '-' || *s == '+');
	return (*p >= '0' && *p <= '9') || *p == '.';
}

/* The text of a scalar that reads back as a string, or NULL. */
static char *scalar(yaml_node_t *n, size_t *len)
{
	if (!n || n->type != YAML_SCALAR_NODE || strcmp((char *)n->tag, YAML_STR_TAG) != 0 ||
	    (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	     resolves_non_string((const char *)n->data.scalar.value)))
		return NULL;
	if (len)
		*len = n->data.scalar.length;
	char *s = xmalloc(n->data.scalar.length + 1);
	memcpy(s, n->data.scalar.value, n->data.scalar.length);
	s[n->data.scalar.length] = '\0';
	return s;
}

/* Parse YAML back (libyaml's parser, which resolves plain scalars that are
 * not strings to other tags: only str-tagged scalars are taken). */
static bool parse_back(const char *yaml, size_t len, struct found *f)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	bool ok = yaml_parser_load(&parser, &doc);
	if (ok) {
		yaml_node_t *spec = get(&doc, yaml_document_get_root_node(&doc), "spec");
		yaml_node_t *c = item(&doc, get(&doc, spec, "containers"), 0);
		yaml_node_t *env = get(&doc, c, "env");
		for (int i = 0; i < 4; i++)
			f->env[i] = scalar(get(&doc, item(&doc, env, i), "value"), &f->env_len[i]);
		f->arg = scalar(item(&doc, get(&doc, c, "args"), 1), &f->arg_len);
		f->after = scalar(get(&doc, spec, "after"), NULL);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	return ok;
}

static void show(const char *what, const char *s, size_t len)
{
	printf("  %s (%zu bytes):", what, len);
	for (size_t i = 0; i < len; i++)
		printf(" %02x", (unsigned char)s[i]);
	printf("\n");
}

/* Write the .env (plain stdio: an atomic write's fsync per value would make
 * the run slow, and nothing here needs durability). */
static bool write_env(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fwrite(text, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

struct fuzz {
	const char *dir;
	char *template_path;
	char *env_path;
	config *cfg;
};

/* A value with a NUL byte: the .env holding it is refused, naming the file
 * and line, and the error does not show the value. */
static bool check_nul(struct fuzz *z, const strbuf *value, aerr_t *err)
{
	strbuf text = STRBUF_INIT;
	sb_adds(&text, "A=1\nPOSTGRES_PASSWORD='");
	sb_add(&text, value->s, value->len);
	sb_adds(&text, "'\nB=2\n");
	int line = 2;
	for (const char *s = value->s; *s; s++)
		line += *s == '\n';
	cleanup_free char *want = xasprintf(".env:%d: not a text file", line);
	env_file e;
	bool ok = write_env(z->env_path, text.s, text.len) &&
		  env_load(z->env_path, false, &e, err) < 0 && err->status == AEGIS_ECONFIG &&
		  strstr(err->msg, want) != NULL;
	sb_release(&text);
	if (!ok)
		printf("  a NUL byte was not refused as it should be: %s\n", err->msg);
	return ok;
}

static bool same(const char *got, size_t got_len, const strbuf *want)
{
	return got && got_len == want->len && memcmp(got, want->s, want->len) == 0;
}

/* One value through .env (written by env_quote, read by env_load), render
 * and the parser. */
static bool check_value(struct fuzz *z, const strbuf *value, aerr_t *err)
{
	cleanup_free char *quoted = env_quote(value->s);
	cleanup_free char *text = xasprintf("# fuzz\nPOSTGRES_PASSWORD=%s\nAFTER=1\n", quoted);
	env_file e;
	if (!write_env(z->env_path, text, strlen(text)) ||
	    env_load(z->env_path, false, &e, err) < 0) {
		printf("  .env: %s\n", err->msg);
		return false;
	}
	const env_entry *pw = env_find(&e, "POSTGRES_PASSWORD");
	bool ok = pw && same(pw->value, strlen(pw->value), value) && env_find(&e, "AFTER");
	if (ok)
		config_set(z->cfg, "POSTGRES_PASSWORD", pw->value, SRC_FILE);
	env_free(&e);
	if (!ok) {
		printf("  the .env did not give the value back\n");
		return false;
	}
	rendered r;
	render_opts opts = {0};
	if (render_template(z->template_path, z->cfg, &opts, &r, err) < 0) {
		printf("  render: %s\n", err->msg);
		return false;
	}
	struct found f = {0};
	ok = parse_back(r.yaml, r.len, &f);
	strbuf url = STRBUF_INIT;
	for (int i = 0; ok && i < 3; i++)
		ok = same(f.env[i], f.env_len[i], value);
	ok = ok && same(f.arg, f.arg_len, value) && f.after && strcmp(f.after, "end") == 0 &&
	     f.env[3] && url_password(f.env[3], f.env_len[3], &url) &&
	     same(url.s ? url.s : "", url.len, value);
	if (!ok)
		printf("  rendered:\n%s\n", r.yaml);
	sb_release(&url);
	found_free(&f);
	rendered_free(&r);
	return ok;
}

static unsigned long env_number(const char *name, unsigned long fallback)
{
	const char *s = getenv(name);
	return s && *s ? strtoul(s, NULL, 0) : fallback;
}

TEST(fuzz_postgres_password_round_trips)
{
	unsigned long seed = env_number("AEGIS_FUZZ_SEED", DEFAULT_SEED);
	unsigned long count = env_number("AEGIS_FUZZ_COUNT", DEFAULT_COUNT);
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *golden = fs_join(harness_root(), "tests/fixtures/render/golden.env");
	config cfg;
	aerr_t err = {0};
	CHECK(config_load(&cfg, harness_root(), golden, &err) == 0);
	struct fuzz z = {.dir = dir,
			 .template_path = harness_write(dir, "pod.yaml", template_text),
			 .env_path = fs_join(dir, ".env"),
			 .cfg = &cfg};
	printf("  seed %lu (replay: AEGIS_FUZZ_SEED=%lu), %lu values\n", seed, seed, count);
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long i, nul = 0;
	bool ok = true;
	for (i = 0; ok && i < count; i++) {
		strbuf value = STRBUF_INIT;
		bool with_nul = pick(50) == 0;
		generate(&value, with_nul);
		ok = with_nul ? check_nul(&z, &value, &err) : check_value(&z, &value, &err);
		nul += with_nul;
		if (!ok) {
			printf("  value %lu of seed %lu failed\n", i, seed);
			show("value", value.s, value.len);
		}
		sb_release(&value);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("  %lu values (%lu with a NUL byte, refused) in %.1f s\n", i, nul, secs);
	config_free(&cfg);
	free(z.template_path);
	free(z.env_path);
	CHECK(ok);
}
