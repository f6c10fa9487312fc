#include "config/schema.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/strbuf.h"
#include "util/text.h"
#include "util/yamldoc.h"

static const char *const validators[] = {"string", "secret",   "port", "path",
					 "image",  "loglevel", "bool", "address"};

static int known_validator(const char *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(validators); i++)
		if (strcmp(validators[i], v) == 0)
			return 1;
	return 0;
}

static char *opt_str(yaml_node_t *n)
{
	const char *s = ydoc_str(n);
	return s ? xstrdup(s) : NULL;
}

const char *const schema_rotate_methods[] = {"postgres-role", "keycloak-admin", "grafana-admin",
					     "approle-secret-id", NULL};

/* The `rotate` field of V (entry N): a known method, on a secret only. */
static int read_rotate(yaml_document_t *doc, yaml_node_t *n, const char *path, bool recorded,
		       schema_var *v, aerr_t *err)
{
	v->rotate = opt_str(ydoc_get(doc, n, "rotate"));
	v->stored_in = opt_str(ydoc_get(doc, n, "stored_in"));
	if (!v->rotate && v->stored_in && !recorded)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s: stored_in goes with rotate", path,
				v->line, v->name);
	if (!v->rotate)
		return 0;
	strbuf list = STRBUF_INIT;
	bool known = false;
	for (size_t i = 0; schema_rotate_methods[i]; i++) {
		known = known || strcmp(schema_rotate_methods[i], v->rotate) == 0;
		sb_addf(&list, "%s%s", i ? ", " : "", schema_rotate_methods[i]);
	}
	int rc = 0;
	if (!known && recorded) {
		/* a revision's schema may name a method this build lacks */
		free(v->rotate);
		v->rotate = NULL;
	} else if (!known)
		rc = aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s: rotate must be one of %s, not '%s'",
			      path, v->line, v->name, list.s, v->rotate);
	else if (!v->secret)
		rc = aerr_set(err, AEGIS_ECONFIG,
			      "%s:%d: %s: rotate is only for a secret (secret: true)", path,
			      v->line, v->name);
	else if (!recorded && (!v->stored_in || !*v->stored_in))
		rc = aerr_set(err, AEGIS_ECONFIG,
			      "%s:%d: %s: rotate needs stored_in: the named volume where the "
			      "service keeps the value",
			      path, v->line, v->name);
	sb_release(&list);
	return rc;
}

static const char describes_hint[] =
    "host (this machine: a path, socket, address or credential; rollback keeps its current "
    "value) or release (what is deployed; rollback brings back the revision's value)";

/* The `describes` field of V (entry N), required unless RECORDED. */
static int read_describes(yaml_document_t *doc, yaml_node_t *n, const char *path, bool recorded,
			  schema_var *v, aerr_t *err)
{
	const char *d = ydoc_str(ydoc_get(doc, n, "describes"));
	if (d && strcmp(d, "host") == 0)
		v->describes = DESCRIBES_HOST;
	else if (d && strcmp(d, "release") == 0)
		v->describes = DESCRIBES_RELEASE;
	else if (d)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s: describes must be %s, not '%s'",
				path, v->line, v->name, describes_hint, d);
	else if (!recorded)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s:%d: %s has no 'describes:' field; say whether it describes %s",
				path, v->line, v->name, describes_hint);
	/* a secret is never recorded in the history: only its current value exists */
	if (v->secret && v->describes == DESCRIBES_RELEASE)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s:%d: %s is secret, so it describes the host: a secret's value "
				"is never recorded in the release history",
				path, v->line, v->name);
	return 0;
}

/* Entry N of the list into V (its name already set). */
static int read_var(yaml_document_t *doc, yaml_node_t *n, const char *path, bool recorded,
		    schema_var *v, aerr_t *err)
{
	v->default_value = opt_str(ydoc_get(doc, n, "default"));
	v->default_root = opt_str(ydoc_get(doc, n, "default_root"));
	v->default_edge = opt_str(ydoc_get(doc, n, "default_edge"));
	v->default_file = opt_str(ydoc_get(doc, n, "default_file"));
	v->description = opt_str(ydoc_get(doc, n, "description"));
	v->group = opt_str(ydoc_get(doc, n, "group"));
	v->validator = opt_str(ydoc_get(doc, n, "validator"));
	v->forbid = opt_str(ydoc_get(doc, n, "forbid"));
	if (v->forbid && !*v->forbid) {
		free(v->forbid);
		v->forbid = NULL;
	}
	if (!v->validator)
		v->validator = xstrdup("string");
	if (!known_validator(v->validator))
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s: unknown validator '%s'", path,
				v->line, v->name, v->validator);
	if (ydoc_bool(ydoc_get(doc, n, "required"), false, &v->required) < 0 ||
	    ydoc_bool(ydoc_get(doc, n, "secret"), false, &v->secret) < 0 ||
	    ydoc_bool(ydoc_get(doc, n, "generate"), false, &v->generate) < 0 ||
	    ydoc_bool(ydoc_get(doc, n, "printable"), false, &v->printable) < 0)
		return aerr_set(
		    err, AEGIS_ECONFIG,
		    "%s:%d: %s: required/secret/generate/printable must be true or false", path,
		    v->line, v->name);
	if (read_rotate(doc, n, path, recorded, v, err) < 0)
		return -1;
	return read_describes(doc, n, path, recorded, v, err);
}

/* A host variable left at its default keeps the current configuration's
 * default on rollback, so that default must not depend on a release value. */
static int check_host_default(const schema *s, const schema_var *v, const char *def, aerr_t *err)
{
	for (const char *p = def ? strstr(def, "${") : NULL; p; p = strstr(p + 2, "${")) {
		size_t len = strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789_");
		cleanup_free char *name = xstrndup(p + 2, len);
		const schema_var *r = schema_find(s, name);
		if (r && r->describes != DESCRIBES_HOST)
			return aerr_set(err, AEGIS_ECONFIG,
					"%s:%d: %s describes the host, but its default uses %s, "
					"which does not (rollback keeps a host variable's current "
					"value, default included)",
					s->path, v->line, v->name, name);
	}
	return 0;
}

static int load(const char *path, schema *out, bool recorded, aerr_t *err)
{
	*out = (schema){.path = xstrdup(path)};
	yaml_document_t doc;
	if (ydoc_load_file(path, &doc, err) < 0) {
		schema_free(out);
		return -1;
	}
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *vars = ydoc_get(&doc, root, "variables");
	if (!vars || vars->type != YAML_SEQUENCE_NODE) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: expected a 'variables:' list", path);
		goto done;
	}
	size_t cap = (size_t)(vars->data.sequence.items.top - vars->data.sequence.items.start);
	out->vars = xcalloc(cap, sizeof *out->vars);
	for (yaml_node_item_t *it = vars->data.sequence.items.start;
	     it < vars->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&doc, *it);
		int line = ydoc_line(n);
		const char *name = ydoc_str(ydoc_get(&doc, n, "name"));
		if (!name || !*name) {
			rc = aerr_set(err, AEGIS_ECONFIG, "%s:%d: variable without a name", path,
				      line);
			goto done;
		}
		if (schema_find(out, name)) {
			rc = aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s is declared twice", path, line,
				      name);
			goto done;
		}
		schema_var *v = &out->vars[out->n++];
		*v = (schema_var){.name = xstrdup(name), .line = line};
		if ((rc = read_var(&doc, n, path, recorded, v, err)) < 0)
			goto done;
	}
	for (size_t i = 0; !recorded && rc == 0 && i < out->n; i++) {
		const schema_var *v = &out->vars[i];
		if (v->describes == DESCRIBES_HOST &&
		    (check_host_default(out, v, v->default_value, err) < 0 ||
		     check_host_default(out, v, v->default_root, err) < 0))
			rc = -1;
	}
done:
	yaml_document_delete(&doc);
	if (rc < 0)
		schema_free(out);
	return rc;
}

int schema_load(const char *path, schema *out, aerr_t *err)
{
	return load(path, out, false, err);
}

int schema_load_recorded(const char *path, schema *out, aerr_t *err)
{
	return load(path, out, true, err);
}

const schema_var *schema_find(const schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->vars[i].name, name) == 0)
			return &s->vars[i];
	return NULL;
}

static bool check_port(const char *v)
{
	if (!text_all_digits(v) || strlen(v) > 5)
		return false;
	long n = strtol(v, NULL, 10);
	return n >= 1 && n <= 65535;
}

/* registry[:port]/path/name[:tag][@digest], the reference grammar of
 * distribution/reference, loosely: lowercase path components, a tag of
 * [A-Za-z0-9_.-] up to 128, a digest algo:hex.  Returns what is wrong, or
 * NULL. */
static const char *image_problem(const char *v)
{
	size_t len = strlen(v);
	if (!len || len > 255)
		return "an image reference must be 1-255 characters";
	for (const char *s = v; *s; s++)
		if (isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return "an image reference has no whitespace or control characters";
	const char *at = strchr(v, '@');
	size_t name_len = at ? (size_t)(at - v) : len;
	if (at) {
		const char *colon = strchr(at, ':');
		if (!colon || colon == at + 1 || !colon[1])
			return "the digest must look like sha256:<hex>";
	}
	const char *last_slash = NULL;
	for (size_t i = 0; i < name_len; i++)
		if (v[i] == '/')
			last_slash = v + i;
	const char *tag = NULL;
	for (const char *s = last_slash ? last_slash : v; s < v + name_len; s++)
		if (*s == ':')
			tag = s;
	size_t repo_len = tag ? (size_t)(tag - v) : name_len;
	if (tag) {
		size_t tl = name_len - (size_t)(tag - v) - 1;
		if (tl == 0 || tl > 128)
			return "the tag must be 1-128 characters";
		for (const char *s = tag + 1; s < v + name_len; s++)
			if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
				return "the tag may hold only letters, digits, '_', '.', '-'";
	}
	/* the first component may be a registry host (with '.', ':' or "localhost") */
	const char *first_slash = memchr(v, '/', repo_len);
	const char *path = v;
	if (first_slash) {
		bool is_host = false;
		for (const char *s = v; s < first_slash; s++)
			if (*s == '.' || *s == ':')
				is_host = true;
		if (strncmp(v, "localhost/", 10) == 0 || is_host)
			path = first_slash + 1;
	}
	if (path >= v + repo_len)
		return "the image name is missing";
	for (const char *s = path; s < v + repo_len; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    !strchr("._-/", *s))
			return "repository names are lowercase letters, digits and . _ - /";
	return NULL;
}

static bool check_loglevel(const char *v)
{
	/* RUST_LOG directives: [target=]level[,...] */
	static const char *const levels[] = {"trace", "debug", "info", "warn", "error", "off"};
	cleanup_free char *copy = xstrdup(v);
	char *save = NULL;
	int count = 0;
	for (char *d = strtok_r(copy, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
		count++;
		char *eq = strrchr(d, '=');
		const char *lvl = eq ? eq + 1 : d;
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
			if (strcasecmp(lvl, levels[i]) == 0)
				ok = true;
		/* a bare target ("aegis") enables all its levels */
		if (!ok && !eq) {
			ok = true;
			for (const char *s = d; *s; s++)
				if (!isalnum((unsigned char)*s) && !strchr("_:-", *s))
					ok = false;
		}
		if (!ok)
			return false;
	}
	return count > 0;
}

static bool check_bool(const char *v)
{
	static const char *const ok[] = {"true", "false", "1", "0", "yes", "no", "on", "off"};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcasecmp(v, ok[i]) == 0)
			return true;
	return false;
}

static bool check_address(const char *v)
{
	unsigned char addr[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, v, addr) == 1 || inet_pton(AF_INET6, v, addr) == 1;
}

/* What is wrong with VALUE for validator KIND, or NULL. */
static const char *value_problem(const char *kind, const char *value)
{
	if (strcmp(kind, "port") == 0 && !check_port(value))
		return "is not a valid port (an integer 1-65535)";
	if (strcmp(kind, "path") == 0 && value[0] != '/')
		return "is not an absolute path";
	if (strcmp(kind, "loglevel") == 0 && !check_loglevel(value))
		return "is not a valid log level (trace, debug, info, warn, error, off, or "
		       "target=level directives separated by commas)";
	if (strcmp(kind, "bool") == 0 && !check_bool(value))
		return "is not a boolean (true/false, yes/no, on/off, 1/0)";
	if (strcmp(kind, "address") == 0 && !check_address(value))
		return "is not an IP address (e.g. 127.0.0.1, 0.0.0.0 for every address, or an "
		       "IPv6 address)";
	return NULL;
}

/* The first control character (tab excepted), DEL or Unicode line break
 * (NEL, LS, PS) of VALUE, or 0. */
static uint32_t first_unprintable(const char *value)
{
	for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
			return *s;
		if (s[0] == 0xc2 && s[1] == 0x85)
			return 0x85;
		if (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
			return s[2] == 0xa8 ? 0x2028 : 0x2029;
	}
	return 0;
}

int schema_check(const schema_var *v, const char *value, aerr_t *err)
{
	const char *kind = v->validator ? v->validator : "string";
	const char *problem = value_problem(kind, value);
	const char *detail = NULL;
	uint32_t ctl = v->printable ? first_unprintable(value) : 0;
	if (!problem && ctl)
		return aerr_set(
		    err, AEGIS_ECONFIG,
		    "the value contains the control character or line break U+%04X, "
		    "which %s may not contain (one line of printable characters; see its "
		    "description in kube/variables.yaml)",
		    (unsigned)ctl, v->name);
	const char *bad = v->forbid ? strpbrk(value, v->forbid) : NULL;
	if (!problem && bad) {
		/* the character is named, never where it is nor the rest */
		strbuf list = STRBUF_INIT;
		for (const char *c = v->forbid; *c; c++)
			sb_addf(&list, "%s'%c'", c == v->forbid ? "" : " ", *c);
		int rc = aerr_set(err, AEGIS_ECONFIG,
				  "the value contains '%c', which %s may not contain (none of %s; "
				  "see its description in kube/variables.yaml)",
				  *bad, v->name, list.s);
		sb_release(&list);
		return rc;
	}
	if (!problem && strcmp(kind, "image") == 0 && (detail = image_problem(value)))
		problem = "is not a valid image reference";
	if (!problem)
		return 0;
	/* a secret's value is never shown, not even when it is wrong */
	if (v->secret)
		return aerr_set(err, AEGIS_ECONFIG, "the value %s%s%s", problem, detail ? ": " : "",
				detail ? detail : "");
	return aerr_set(err, AEGIS_ECONFIG, "'%s' %s%s%s", value, problem, detail ? ": " : "",
			detail ? detail : "");
}

void schema_free(schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		schema_var *v = &s->vars[i];
		free(v->name);
		free(v->default_value);
		free(v->default_root);
		free(v->default_edge);
		free(v->default_file);
		free(v->validator);
		free(v->forbid);
		free(v->description);
		free(v->group);
		free(v->rotate);
		free(v->stored_in);
	}
	free(s->vars);
	free(s->path);
	*s = (schema){0};
}
