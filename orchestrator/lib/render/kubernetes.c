#include "render/kubernetes.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/wipe.h"
#include "util/yamldoc.h"

/* A secret variable is rendered as MARK_START NAME MARK_END instead of its
 * value, so the conversion sees where each secret lands without ever
 * handling the value there.  Control characters: no template or value of
 * a non-secret variable carries them. */
#define MARK_START '\x1e'
#define MARK_END '\x1f'
/* The same marker after the "|url" filter percent-encoded it: the secret
 * placed in a URL, whose Secret key holds the encoded value. */
#define URL_MARK_START "%1E"
#define URL_MARK_END "%1F"
#define URL_KEY_SUFFIX "_URLENCODED"

/* Waits for each target given as an argument: http://HOST:PORT/PATH until
 * it answers 2xx, tcp://HOST:PORT until it accepts a connection, dns://HOST
 * until the name resolves.  Busybox only (wget, nc, nslookup, timeout); nc
 * exits 1 when it cannot connect, 0 or killed by timeout when it could.
 * No "$(" in it: Kubernetes would expand that in command and args. */
static const char wait_script[] =
    "for target do\n"
    "  until case \"$target\" in\n"
    "    http://*) timeout 10 wget -q -O /dev/null \"$target\" ;;\n"
    "    tcp://*) hp=\"${target#tcp://}\"; timeout 5 nc \"${hp%:*}\" \"${hp##*:}\" </dev/null; "
    "[ $? -ne 1 ] ;;\n"
    "    dns://*) nslookup \"${target#dns://}\" ;;\n"
    "    *) echo \"unknown check $target\"; exit 2 ;;\n"
    "  esac >/dev/null 2>&1; do echo \"waiting for $target\"; sleep 2; done\n"
    "  echo \"ready: $target\"\n"
    "done\n";

struct conv {
	const deployment *d;
	config marked; /* d->cfg with every secret value replaced by its marker */
	const char *ns;
	const char *template; /* the template being converted, for messages */
	char **secrets;	      /* secret variables referenced so far */
	size_t nsecrets;
	kube_manifests *out;
	aerr_t *err;
};

/* --- YAML <-> JSON ------------------------------------------------------- */

enum plain_type { PLAIN_STRING, PLAIN_NULL, PLAIN_TRUE, PLAIN_FALSE, PLAIN_INT, PLAIN_REAL };

static bool word_in(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* What a plain scalar means to Kubernetes' YAML reader (YAML 1.1 words for
 * booleans, as Go's yaml.v2 resolves them). */
static enum plain_type plain_type(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const trues[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
					    "True", "TRUE", "on",  "On",  "ON"};
	static const char *const falses[] = {"n",     "N",     "no",  "No",  "NO", "false",
					     "False", "FALSE", "off", "Off", "OFF"};
	if (word_in(s, nulls, ARRAY_SIZE(nulls)))
		return PLAIN_NULL;
	if (word_in(s, trues, ARRAY_SIZE(trues)))
		return PLAIN_TRUE;
	if (word_in(s, falses, ARRAY_SIZE(falses)))
		return PLAIN_FALSE;
	const char *p = s + (*s == '+' || *s == '-');
	size_t digits = strspn(p, "0123456789");
	if (digits && !p[digits])
		return PLAIN_INT;
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	const char *q = p + digits;
	bool mantissa = digits > 0;
	if (*q == '.') {
		size_t frac = strspn(q + 1, "0123456789");
		mantissa = mantissa || frac > 0;
		q += 1 + frac;
	}
	if (mantissa && (*q == 'e' || *q == 'E')) {
		const char *e = q + 1 + (q[1] == '+' || q[1] == '-');
		size_t exp = strspn(e, "0123456789");
		q = exp ? e + exp : q;
	}
	if (mantissa && !*q)
		return PLAIN_REAL;
	return PLAIN_STRING;
}

static json_t *scalar_to_json(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, len);
	switch (plain_type(s)) {
	case PLAIN_NULL:
		return json_null();
	case PLAIN_TRUE:
		return json_true();
	case PLAIN_FALSE:
		return json_false();
	case PLAIN_INT: {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		return errno ? json_stringn(s, len) : json_integer(v);
	}
	case PLAIN_REAL:
		return json_real(strtod(s, NULL));
	default:
		return json_stringn(s, len);
	}
}

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	if (!n || depth > 64)
		return NULL;
	if (n->type == YAML_SCALAR_NODE)
		return scalar_to_json(n);
	if (n->type == YAML_SEQUENCE_NODE) {
		json_t *a = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			json_t *v = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
			if (!v) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, v);
		}
		return a;
	}
	if (n->type != YAML_MAPPING_NODE)
		return NULL;
	json_t *o = json_object();
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		json_t *v = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
		if (!k || k->type != YAML_SCALAR_NODE || !v) {
			json_decref(v);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, (const char *)k->data.scalar.value, v);
	}
	return o;
}

static int write_strbuf(void *data, unsigned char *buffer, size_t size)
{
	sb_add(data, buffer, size);
	return 1;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t len, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style);
	return yaml_emitter_emit(e, &ev);
}

/* A string comes out plain when it reads back as that string, else quoted;
 * a multi-line one as a literal block.  libyaml's emitter falls back to
 * quotes itself when the text does not fit the style asked for. */
static int emit_string(yaml_emitter_t *e, const char *s, size_t len)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
	const char *p = s + (*s == '+' || *s == '-');
	if (memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (plain_type(s) != PLAIN_STRING || isdigit((unsigned char)*p) || *p == '.' ||
		 strcmp(s, "<<") == 0 || strcmp(s, "=") == 0)
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return emit_scalar(e, s, len, style);
}

static int emit_json(yaml_emitter_t *e, json_t *v)
{
	yaml_event_t ev;
	char num[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(e, &ev))
			return 0;
		const char *key;
		json_t *val;
		json_object_foreach(v, key, val)
		{
			if (!emit_string(e, key, strlen(key)) || !emit_json(e, val))
				return 0;
		}
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(e, &ev);
	}
	case JSON_ARRAY: {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(e, &ev))
			return 0;
		size_t i;
		json_t *val;
		json_array_foreach(v, i, val)
		{
			if (!emit_json(e, val))
				return 0;
		}
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(e, &ev);
	}
	case JSON_STRING:
		return emit_string(e, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		snprintf(num, sizeof num, "%.17g", json_real_value(v));
		return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	default:
		return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
}

/* OBJ as one YAML document into OUT. */
static int emit_yaml(json_t *obj, strbuf *out, aerr_t *err)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	yaml_emitter_initialize(&e);
	yaml_emitter_set_output(&e, write_strbuf, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_break(&e, YAML_LN_BREAK);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	int ok = yaml_emitter_emit(&e, &ev);
	if (ok) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		ok = yaml_emitter_emit(&e, &ev);
	}
	ok = ok && emit_json(&e, obj);
	if (ok) {
		yaml_document_end_event_initialize(&ev, 1);
		ok = yaml_emitter_emit(&e, &ev);
	}
	if (ok) {
		yaml_stream_end_event_initialize(&ev);
		ok = yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
	}
	if (!ok)
		aerr_set(err, AEGIS_EFAIL, "YAML emitter: %s",
			 e.problem ? e.problem : "cannot write");
	/* the Secret passes through this buffer too */
	OPENSSL_cleanse(e.buffer.start, (size_t)(e.buffer.end - e.buffer.start));
	yaml_emitter_delete(&e);
	return ok ? 0 : -1;
}

/* --- secrets --------------------------------------------------------------- */

/* The first marker in S: the Secret key it stands for (newly allocated:
 * the variable's name, with URL_KEY_SUFFIX for a percent-encoded marker)
 * and its extent. */
static char *next_marker(const char *s, const char **start, const char **end)
{
	const char *a = strchr(s, MARK_START);
	const char *b = a ? strchr(a, MARK_END) : NULL;
	const char *ua = strstr(s, URL_MARK_START);
	const char *ub = ua ? strstr(ua + 3, URL_MARK_END) : NULL;
	if (ub && (!b || ua < a)) {
		*start = ua;
		*end = ub + 3;
		return xasprintf("%.*s" URL_KEY_SUFFIX, (int)(ub - ua - 3), ua + 3);
	}
	if (!b)
		return NULL;
	*start = a;
	*end = b + 1;
	return xstrndup(a + 1, (size_t)(b - a - 1));
}

static bool has_marker(const char *s)
{
	return strchr(s, MARK_START) || strstr(s, URL_MARK_START);
}

static void note_secret(struct conv *c, const char *name)
{
	for (size_t i = 0; i < c->nsecrets; i++)
		if (strcmp(c->secrets[i], name) == 0)
			return;
	c->secrets = xrealloc(c->secrets, (c->nsecrets + 1) * sizeof *c->secrets);
	c->secrets[c->nsecrets++] = xstrdup(name);
}

/* A copy of the configuration with each set secret value replaced by its
 * marker. */
static int marked_config(const config *cfg, config *out, aerr_t *err)
{
	if (config_load(out, cfg->root, cfg->env_path, err) < 0)
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		config_value *v = &out->values[i];
		if (!v->schema || !v->schema->secret || !v->value || !*v->value)
			continue;
		cleanup_free char *mark = xasprintf("%c%s%c", MARK_START, v->name, MARK_END);
		config_set(out, v->name, mark, v->source);
	}
	return 0;
}

/* Where in V (a path such as spec.containers[0].readinessProbe) a marker
 * remains; its variable in *NAME.  0 when none. */
static int find_marker(json_t *v, strbuf *path, char **name)
{
	if (json_is_string(v)) {
		const char *a, *b;
		*name = next_marker(json_string_value(v), &a, &b);
		return *name != NULL;
	}
	size_t mark = path->len;
	if (json_is_object(v)) {
		const char *key;
		json_t *val;
		json_object_foreach(v, key, val)
		{
			sb_addf(path, "%s%s", path->len ? "." : "", key);
			if (find_marker(val, path, name))
				return 1;
			path->len = mark;
			path->s[mark] = '\0';
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *val;
		json_array_foreach(v, i, val)
		{
			sb_addf(path, "[%zu]", i);
			if (find_marker(val, path, name))
				return 1;
			path->len = mark;
			path->s[mark] = '\0';
		}
	}
	return 0;
}

static int no_secret_left(struct conv *c, json_t *v, const char *what)
{
	strbuf path = STRBUF_INIT;
	char *name = NULL;
	int rc = 0;
	if (find_marker(v, &path, &name))
		rc =
		    aerr_set(c->err, AEGIS_ECONFIG,
			     "%s: %s: %s holds the secret variable %s; for Kubernetes a secret may "
			     "appear only in a container's env values, command or args",
			     c->template, what, path.len ? path.s : "(value)", name);
	free(name);
	sb_release(&path);
	return rc;
}

/* S with each marker as $(AEGIS_SECRET_NAME) and literal "$(" / "$$"
 * escaped, so that Kubernetes' expansion gives back exactly the rendered
 * text; the variables met are added to HELPERS. */
static char *kube_expansion(struct conv *c, const char *s, json_t *helpers)
{
	strbuf b = STRBUF_INIT;
	for (const char *p = s; *p;) {
		const char *a, *e;
		char *name = *p == MARK_START || strncmp(p, URL_MARK_START, 3) == 0
				 ? next_marker(p, &a, &e)
				 : NULL;
		if (name && a == p) {
			sb_addf(&b, "$(" KUBE_SECRET_ENV_PREFIX "%s)", name);
			note_secret(c, name);
			bool seen = false;
			size_t i;
			json_t *h;
			json_array_foreach(helpers, i, h)
			{
				seen |= strcmp(json_string_value(h), name) == 0;
			}
			if (!seen)
				json_array_append_new(helpers, json_string(name));
			free(name);
			p = e;
			continue;
		}
		free(name);
		/* before a marker too: it becomes "$(" */
		if (*p == '$' && (p[1] == '$' || p[1] == '(' || p[1] == MARK_START))
			sb_addc(&b, '$');
		sb_addc(&b, *p++);
	}
	return sb_take(&b);
}

static json_t *secret_ref(const char *name)
{
	return json_pack("{s:{s:s, s:s}}", "secretKeyRef", "name", KUBE_SECRET_NAME, "key", name);
}

/* Secrets of one container's env, command and args as described in
 * kubernetes.h.  Kubernetes expands $(VAR) and "$$" in every env value,
 * command and args item, which Podman 4.3 passes as written: "$$" and "$("
 * there are escaped so the process gets the same text on both. */
static void container_secrets(struct conv *c, json_t *ctr)
{
	json_t *helpers = json_array();
	json_t *env = json_object_get(ctr, "env");
	size_t i;
	json_t *e;
	json_array_foreach(env, i, e)
	{
		const char *value = json_string_value(json_object_get(e, "value"));
		const char *a, *end;
		char *name = value ? next_marker(value, &a, &end) : NULL;
		if (name && a == value && !*end) {
			note_secret(c, name);
			json_object_del(e, "value");
			json_object_set_new(e, "valueFrom", secret_ref(name));
		} else if (name || (value && strchr(value, '$'))) {
			char *x = kube_expansion(c, value, helpers);
			json_object_set_new(e, "value", json_string(x));
			free(x);
		}
		free(name);
	}
	static const char *const argv_keys[] = {"command", "args"};
	for (size_t k = 0; k < ARRAY_SIZE(argv_keys); k++) {
		json_t *argv = json_object_get(ctr, argv_keys[k]), *arg;
		json_array_foreach(argv, i, arg)
		{
			const char *s = json_string_value(arg);
			if (s && (has_marker(s) || strchr(s, '$'))) {
				char *x = kube_expansion(c, s, helpers);
				json_string_set(arg, x);
				free(x);
			}
		}
	}
	/* dependent variables must be defined before the values that use them */
	if (json_array_size(helpers)) {
		json_t *merged = json_array();
		json_array_foreach(helpers, i, e)
		{
			const char *name = json_string_value(e);
			json_array_append_new(merged, json_pack("{s:s+, s:o}", "name",
								KUBE_SECRET_ENV_PREFIX, name,
								"valueFrom", secret_ref(name)));
		}
		json_array_extend(merged, env);
		json_object_set_new(ctr, "env", merged);
	}
	json_decref(helpers);
}

/* --- objects --------------------------------------------------------------- */

static bool dns_label(const char *s)
{
	size_t len = strlen(s);
	if (!len || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
			return false;
	return true;
}

/* A Kubernetes quantity as storage requests take it: 10Gi, 500Mi, 1.5G. */
static bool quantity(const char *s)
{
	static const char *const units[] = {"",	 "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
					    "k", "M",  "G",  "T",  "P",	 "E"};
	size_t n = strspn(s, "0123456789");
	if (!n)
		return false;
	if (s[n] == '.') {
		size_t f = strspn(s + n + 1, "0123456789");
		if (!f)
			return false;
		n += 1 + f;
	}
	return word_in(s + n, units, ARRAY_SIZE(units));
}

static int add_file(struct conv *c, json_t *obj, bool secret)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *name =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	if (!kind || !name || !*name)
		return aerr_set(c->err, AEGIS_ECONFIG,
				"%s: a document without kind or metadata.name", c->template);
	strbuf fname = STRBUF_INIT;
	for (const char *p = kind; *p; p++)
		sb_addc(&fname, (char)tolower((unsigned char)*p));
	sb_addf(&fname, "-%s.yaml", name);
	for (size_t i = 0; i < c->out->n; i++)
		if (strcmp(c->out->files[i].name, fname.s) == 0) {
			aerr_set(c->err, AEGIS_ECONFIG, "%s: %s %s is defined twice", c->template,
				 kind, name);
			sb_release(&fname);
			return -1;
		}
	strbuf yaml = STRBUF_INIT;
	if (emit_yaml(obj, &yaml, c->err) < 0) {
		sb_wipe(&yaml);
		sb_release(&fname);
		return aerr_wrap(c->err, "%s %s", kind, name);
	}
	kube_manifests *m = c->out;
	m->files = xrealloc(m->files, (m->n + 1) * sizeof *m->files);
	kube_file *f = &m->files[m->n++];
	f->len = yaml.len;
	f->yaml = sb_take(&yaml);
	f->name = sb_take(&fname);
	f->kind = xstrdup(kind);
	f->object_name = xstrdup(name);
	f->secret = secret;
	return 0;
}

/* add_file and release OBJ */
static int add_object(struct conv *c, json_t *obj)
{
	int rc = add_file(c, obj, false);
	json_decref(obj);
	return rc;
}

static json_t *part_of_labels(void)
{
	return json_pack("{s:s}", "app.kubernetes.io/part-of", "aegis");
}

static int add_pvcs(struct conv *c, const pod *p)
{
	const char *size = config_get(&c->d->cfg, "K8S_VOLUME_SIZE");
	const char *class = config_get(&c->d->cfg, "K8S_STORAGE_CLASS");
	for (size_t v = 0; v < p->nvolumes; v++) {
		cleanup_free char *fname =
		    xasprintf("persistentvolumeclaim-%s.yaml", p->volumes[v]);
		bool known = false;
		for (size_t i = 0; i < c->out->n; i++)
			known |= strcmp(c->out->files[i].name, fname) == 0;
		if (known)
			continue;
		json_t *labels = part_of_labels();
		json_object_set_new(labels, POD_LABEL, json_string(p->name));
		json_t *pvc = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:[s], s:{s:{s:s}}}}",
					"apiVersion", "v1", "kind", "PersistentVolumeClaim",
					"metadata", "name", p->volumes[v], "namespace", c->ns,
					"labels", labels, "spec", "accessModes", "ReadWriteOnce",
					"resources", "requests", "storage", size);
		if (class && *class)
			json_object_set_new(json_object_get(pvc, "spec"), "storageClassName",
					    json_string(class));
		if (add_object(c, pvc) < 0)
			return -1;
	}
	return 0;
}

/* Init containers waiting for each dependency of P that is in the profile
 * (a dependency outside it orders nothing, as in the plan). */
static json_t *wait_containers(struct conv *c, const pod *p)
{
	const char *image = config_get(&c->d->cfg, "K8S_WAIT_IMAGE");
	json_t *list = json_array();
	for (size_t k = 0; k < p->ndepends; k++) {
		int j = deployment_pod_index(c->d, p->depends[k]);
		if (j < 0)
			continue;
		const pod *dep = &c->d->pods[j];
		cleanup_free char *name = xasprintf("wait-for-%s", dep->name);
		json_t *cmd = json_pack("[s, s, s, s]", "sh", "-c", wait_script, name);
		size_t first_target = json_array_size(cmd);
		for (size_t i = 0; i < dep->ncontainers; i++) {
			const probe *pr = &dep->containers[i].readiness;
			char *target;
			/* a Service routes only to pods whose containers are all
			 * ready, so a connection through it proves an exec probe too */
			if (pr->kind == PROBE_HTTP)
				target = xasprintf("http://%s:%d%s%s", dep->pod_name, pr->port,
						   pr->path[0] == '/' ? "" : "/", pr->path);
			else if (pr->kind == PROBE_TCP)
				target = xasprintf("tcp://%s:%d", dep->pod_name, pr->port);
			else if (dep->nports)
				target = xasprintf("tcp://%s:%d", dep->pod_name,
						   dep->ports[0].container_port);
			else /* a headless Service resolves only to ready pods */
				target = xasprintf("dns://%s", dep->pod_name);
			bool seen = false;
			for (size_t t = first_target; t < json_array_size(cmd); t++)
				seen |=
				    strcmp(json_string_value(json_array_get(cmd, t)), target) == 0;
			if (!seen)
				json_array_append_new(cmd, json_string(target));
			free(target);
		}
		json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", name, "image",
						      image, "command", cmd));
	}
	return list;
}

static void drop_host_ports(json_t *ctr)
{
	size_t i;
	json_t *port;
	json_array_foreach(json_object_get(ctr, "ports"), i, port)
	{
		json_object_del(port, "hostPort");
		json_object_del(port, "hostIP");
	}
}

/* The Service's ports: every container port of the pod, by number and
 * protocol, under the template's name or <protocol>-<number>. */
static json_t *service_ports(json_t *spec)
{
	json_t *ports = json_array();
	size_t i, k;
	json_t *ctr, *port;
	json_array_foreach(json_object_get(spec, "containers"), i, ctr)
	{
		json_array_foreach(json_object_get(ctr, "ports"), k, port)
		{
			json_t *number = json_object_get(port, "containerPort");
			const char *proto = json_string_value(json_object_get(port, "protocol"));
			const char *pname = json_string_value(json_object_get(port, "name"));
			if (!json_is_integer(number))
				continue;
			if (!proto)
				proto = "TCP";
			bool seen = false;
			size_t s;
			json_t *have;
			json_array_foreach(ports, s, have)
			{
				seen |= json_integer_value(json_object_get(have, "port")) ==
					    json_integer_value(number) &&
					strcmp(json_string_value(json_object_get(have, "protocol")),
					       proto) == 0;
			}
			if (seen)
				continue;
			strbuf name = STRBUF_INIT;
			if (pname) {
				sb_adds(&name, pname);
			} else {
				for (const char *p = proto; *p; p++)
					sb_addc(&name, (char)tolower((unsigned char)*p));
				sb_addf(&name, "-%" JSON_INTEGER_FORMAT,
					json_integer_value(number));
			}
			json_array_append_new(ports, json_pack("{s:s, s:O, s:O, s:s}", "name",
							       name.s, "port", number, "targetPort",
							       number, "protocol", proto));
			sb_release(&name);
		}
	}
	return ports;
}

static const char *annotation(json_t *meta, const char *key)
{
	return json_string_value(json_object_get(json_object_get(meta, "annotations"), key));
}

static int one_of(struct conv *c, const char *key, const char *value, const char *const *allowed,
		  size_t n)
{
	if (word_in(value, allowed, n))
		return 0;
	strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		sb_addf(&list, "%s%s", i ? ", " : "", allowed[i]);
	aerr_set(c->err, AEGIS_ECONFIG, "%s: metadata.annotations.%s: \"%s\" is not one of %s",
		 c->template, key, value, list.s);
	sb_release(&list);
	return -1;
}

/* The Pod document of P: a Service named like the Podman pod and a
 * Deployment or StatefulSet of one replica. */
/* The pod's Service, named like the Podman pod so connection strings work
 * unchanged. */
static int add_service(struct conv *c, const pod *p, json_t *spec, const char *stype,
		       json_t *labels)
{
	json_t *ports = service_ports(spec);
	json_t *svc_spec =
	    json_pack("{s:s, s:{s:s}}", "type", stype, "selector", POD_LABEL, p->name);
	if (json_array_size(ports)) {
		json_object_set_new(svc_spec, "ports", ports);
	} else if (strcmp(stype, "ClusterIP") != 0) {
		json_decref(ports);
		json_decref(svc_spec);
		return aerr_set(c->err, AEGIS_ECONFIG,
				"%s: metadata.annotations.%s: a Service of type %s needs a "
				"container port, and Pod %s has none",
				c->template, KUBE_SERVICE_ANNOTATION, stype, p->pod_name);
	} else {
		/* no port to route: a headless Service still gives the name */
		json_decref(ports);
		json_object_set_new(svc_spec, "clusterIP", json_string("None"));
	}
	json_t *svc = json_pack("{s:s, s:s, s:{s:s, s:s, s:O}, s:o}", "apiVersion", "v1", "kind",
				"Service", "metadata", "name", p->pod_name, "namespace", c->ns,
				"labels", labels, "spec", svc_spec);
	return add_object(c, svc);
}

static int convert_pod(struct conv *c, const pod *p, json_t *doc)
{
	static const char *const workloads[] = {"Deployment", "StatefulSet"};
	static const char *const service_types[] = {"ClusterIP", "LoadBalancer", "NodePort"};
	json_t *meta = json_object_get(doc, "metadata");
	json_t *spec = json_object_get(doc, "spec");
	if (!json_is_object(spec))
		return aerr_set(c->err, AEGIS_ECONFIG, "%s: Pod %s: no spec", c->template,
				p->pod_name);
	const char *kind = annotation(meta, KUBE_WORKLOAD_ANNOTATION);
	const char *stype = annotation(meta, KUBE_SERVICE_ANNOTATION);
	if (!kind)
		kind = "Deployment";
	if (!stype)
		stype = "ClusterIP";
	if (one_of(c, KUBE_WORKLOAD_ANNOTATION, kind, workloads, ARRAY_SIZE(workloads)) < 0 ||
	    one_of(c, KUBE_SERVICE_ANNOTATION, stype, service_types, ARRAY_SIZE(service_types)) < 0)
		return -1;

	json_t *labels = json_deep_copy(json_object_get(meta, "labels"));
	if (!json_is_object(labels)) {
		json_decref(labels);
		labels = json_object();
	}
	json_object_del(labels, MANIFEST_HASH_LABEL);
	json_object_set_new(labels, POD_LABEL, json_string(p->name));

	static const char *const container_lists[] = {"initContainers", "containers"};
	for (size_t l = 0; l < ARRAY_SIZE(container_lists); l++) {
		size_t i;
		json_t *ctr;
		json_array_foreach(json_object_get(spec, container_lists[l]), i, ctr)
		{
			drop_host_ports(ctr);
			container_secrets(c, ctr);
		}
	}
	json_t *waits = wait_containers(c, p);
	json_array_extend(waits, json_object_get(spec, "initContainers"));
	if (json_array_size(waits))
		json_object_set(spec, "initContainers", waits);
	json_decref(waits);
	if (no_secret_left(c, meta, "metadata") < 0 || no_secret_left(c, spec, "spec") < 0) {
		json_decref(labels);
		return -1;
	}

	if (add_service(c, p, spec, stype, labels) < 0) {
		json_decref(labels);
		return -1;
	}

	json_t *tmeta = json_pack("{s:O}", "labels", labels);
	json_t *annotations = json_object_get(meta, "annotations");
	if (json_is_object(annotations) && json_object_size(annotations))
		json_object_set(tmeta, "annotations", annotations);
	json_t *wspec = json_pack("{s:i, s:{s:{s:s}}}", "replicas", 1, "selector", "matchLabels",
				  POD_LABEL, p->name);
	if (strcmp(kind, "StatefulSet") == 0)
		json_object_set_new(wspec, "serviceName", json_string(p->pod_name));
	else if (p->nvolumes)
		/* a ReadWriteOnce volume cannot be mounted by the old and the new
		 * pod at once: stop the old one first */
		json_object_set_new(wspec, "strategy", json_pack("{s:s}", "type", "Recreate"));
	json_object_set_new(wspec, "template",
			    json_pack("{s:o, s:O}", "metadata", tmeta, "spec", spec));
	json_t *workload = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:o}", "apiVersion", "apps/v1",
				     "kind", kind, "metadata", "name", p->pod_name, "namespace",
				     c->ns, "labels", labels, "spec", wspec);
	return add_object(c, workload);
}

/* The documents of pod I's template, rendered with secrets marked. */
static int convert_template(struct conv *c, size_t i)
{
	const pod *p = &c->d->pods[i];
	cleanup_free char *path = catalog_template(c->d->cfg.root, p->name);
	c->template = path;
	rendered r;
	if (render_template(path, &c->marked, NULL, &r, c->err) < 0)
		return -1;
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)r.yaml, r.len);
	int rc = 0;
	while (rc == 0) {
		yaml_document_t doc;
		int more = ydoc_next(&parser, path, &doc, c->err);
		if (more <= 0) {
			rc = more < 0 ? aerr_wrap(c->err, "re-reading the rendering") : 0;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		json_t *obj = node_to_json(&doc, root, 0);
		yaml_document_delete(&doc);
		if (!json_is_object(obj)) {
			json_decref(obj);
			rc = aerr_set(c->err, AEGIS_ECONFIG, "%s: a document that is not a mapping",
				      path);
			break;
		}
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		json_t *meta = json_object_get(obj, "metadata");
		if (kind && strcmp(kind, "Pod") == 0) {
			rc = convert_pod(c, p, obj);
			json_decref(obj);
			continue;
		}
		/* ConfigMaps of the file includes, and anything else, as written */
		if (json_is_object(meta) && !json_object_get(meta, "namespace"))
			json_object_set_new(meta, "namespace", json_string(c->ns));
		rc = no_secret_left(c, obj, kind ? kind : "document");
		if (rc == 0)
			rc = add_object(c, obj);
		else
			json_decref(obj);
	}
	yaml_parser_delete(&parser);
	rendered_free(&r);
	if (rc == 0)
		rc = add_pvcs(c, p);
	return rc;
}

static bool secret_used(const struct conv *c, const char *key)
{
	for (size_t k = 0; k < c->nsecrets; k++)
		if (strcmp(c->secrets[k], key) == 0)
			return true;
	return false;
}

static void add_secret_value(json_t *data, const char *key, const char *value, size_t len)
{
	char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)value, (int)len);
	json_object_set_new(data, key, json_string(b64));
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
}

/* The one Secret: the secret variables the profile's templates use, and the
 * percent-encoded form of those placed in a URL. */
static int add_secret(struct conv *c)
{
	json_t *data = json_object();
	for (size_t i = 0; i < c->marked.n; i++) {
		const char *name = c->marked.values[i].name;
		const char *value = config_get(&c->d->cfg, name);
		if (!value)
			continue;
		if (secret_used(c, name))
			add_secret_value(data, name, value, strlen(value));
		cleanup_free char *url_key = xasprintf("%s" URL_KEY_SUFFIX, name);
		if (secret_used(c, url_key)) {
			strbuf enc = STRBUF_INIT;
			render_url_encode(&enc, value, strlen(value));
			add_secret_value(data, url_key, enc.s ? enc.s : "", enc.len);
			sb_wipe(&enc);
		}
	}
	json_t *secret =
	    json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:s, s:o}", "apiVersion", "v1", "kind",
		      "Secret", "metadata", "name", KUBE_SECRET_NAME, "namespace", c->ns, "labels",
		      part_of_labels(), "type", "Opaque", "data", data);
	json_incref(data);
	int rc = add_file(c, secret, true);
	json_decref(secret);
	wipe_json_decref(data);
	return rc;
}

static int add_kustomization(struct conv *c)
{
	json_t *resources = json_array();
	for (size_t i = 0; i < c->out->n; i++)
		json_array_append_new(resources, json_string(c->out->files[i].name));
	json_t *k = json_pack("{s:s, s:s, s:o}", "apiVersion", "kustomize.config.k8s.io/v1beta1",
			      "kind", "Kustomization", "resources", resources);
	strbuf yaml = STRBUF_INIT;
	int rc = emit_yaml(k, &yaml, c->err);
	json_decref(k);
	if (rc < 0) {
		sb_release(&yaml);
		return -1;
	}
	kube_manifests *m = c->out;
	m->files = xrealloc(m->files, (m->n + 1) * sizeof *m->files);
	kube_file *f = &m->files[m->n++];
	*f = (kube_file){.name = xstrdup("kustomization.yaml"),
			 .kind = xstrdup("Kustomization"),
			 .object_name = xstrdup("kustomization"),
			 .len = yaml.len};
	f->yaml = sb_take(&yaml);
	return 0;
}

static int required_setting(struct conv *c, const char *name)
{
	const char *v = config_get(&c->d->cfg, name);
	if (v && *v)
		return 0;
	return aerr_set(c->err, AEGIS_ECONFIG, "%s is not set (%s declares it with a default)",
			name, c->d->cfg.schema.path);
}

int kube_convert(const deployment *d, const kube_opts *opts, kube_manifests *out, aerr_t *err)
{
	*out = (kube_manifests){0};
	struct conv c = {.d = d, .out = out, .err = err};
	const char *ns =
	    opts && opts->namespace ? opts->namespace : config_get(&d->cfg, "K8S_NAMESPACE");
	if (!ns || !dns_label(ns))
		return aerr_set(err, AEGIS_ECONFIG,
				"namespace \"%s\": expected a DNS label (lower-case letters, "
				"digits, '-'; at most 63)",
				ns ? ns : "");
	if (required_setting(&c, "K8S_VOLUME_SIZE") < 0 ||
	    required_setting(&c, "K8S_WAIT_IMAGE") < 0)
		return -1;
	const char *size = config_get(&d->cfg, "K8S_VOLUME_SIZE");
	if (!quantity(size))
		return aerr_set(err, AEGIS_ECONFIG,
				"K8S_VOLUME_SIZE \"%s\": expected a quantity such as 10Gi or 500Mi",
				size);
	out->namespace = xstrdup(ns);
	c.ns = out->namespace;
	if (marked_config(&d->cfg, &c.marked, err) < 0) {
		kube_manifests_free(out);
		return -1;
	}
	int rc = add_object(&c, json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind",
					  "Namespace", "metadata", "name", ns, "labels",
					  part_of_labels()));
	/* the Secret's place in the list: it is known only after the pods */
	size_t secret_at = out->n;
	for (size_t i = 0; rc == 0 && i < d->npods; i++)
		rc = convert_template(&c, i);
	c.template = d->cfg.env_path;
	if (rc == 0)
		rc = add_secret(&c);
	if (rc == 0) {
		kube_file secret = out->files[out->n - 1];
		memmove(&out->files[secret_at + 1], &out->files[secret_at],
			(out->n - 1 - secret_at) * sizeof *out->files);
		out->files[secret_at] = secret;
		rc = add_kustomization(&c);
	}
	for (size_t i = 0; i < c.nsecrets; i++)
		free(c.secrets[i]);
	free(c.secrets);
	config_free(&c.marked);
	if (rc < 0)
		kube_manifests_free(out);
	return rc;
}

int kube_write(const kube_manifests *m, const char *dir, aerr_t *err)
{
	if (fs_mkdir_private(dir, 0700, err) < 0)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		const kube_file *f = &m->files[i];
		cleanup_free char *path = fs_join(dir, f->name);
		if (fs_write_atomic(path, f->yaml, f->len, f->secret ? 0600 : 0644, err) < 0)
			return -1;
	}
	return 0;
}

void kube_manifests_free(kube_manifests *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		kube_file *f = &m->files[i];
		if (f->secret && f->yaml)
			OPENSSL_cleanse(f->yaml, f->len);
		free(f->yaml);
		free(f->name);
		free(f->kind);
		free(f->object_name);
	}
	free(m->files);
	free(m->namespace);
	*m = (kube_manifests){0};
}

json_t *kube_files_json(const kube_manifests *m, const char *dir)
{
	json_t *files = json_array();
	for (size_t i = 0; i < m->n; i++) {
		cleanup_free char *path = fs_join(dir, m->files[i].name);
		json_array_append_new(files,
				      json_pack("{s:s, s:s, s:s, s:b}", "path", path, "kind",
						m->files[i].kind, "name", m->files[i].object_name,
						"secrets", m->files[i].secret));
	}
	return files;
}
