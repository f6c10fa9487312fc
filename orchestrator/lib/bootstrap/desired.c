#include "bootstrap/desired.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "render/render.h"
#include "util/text.h"

#define MAX_DEPTH 64

/* --- loading ------------------------------------------------------------ */

/* A plain scalar as YAML 1.2's core schema resolves it. */
static json_t *plain_scalar(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const trues[] = {"true", "True", "TRUE"};
	static const char *const falses[] = {"false", "False", "FALSE"};
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(s, nulls[i]) == 0)
			return json_null();
	for (size_t i = 0; i < ARRAY_SIZE(trues); i++) {
		if (strcmp(s, trues[i]) == 0)
			return json_true();
		if (strcmp(s, falses[i]) == 0)
			return json_false();
	}
	const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
	if (text_all_digits(digits)) {
		errno = 0;
		char *end = NULL;
		long long v = strtoll(s, &end, 10);
		if (errno == 0 && end && !*end)
			return json_integer(v);
	}
	if (strpbrk(s, ".eE") && (isdigit((unsigned char)*digits) || *digits == '.')) {
		char *end = NULL;
		double v = strtod(s, &end);
		if (end && !*end && isfinite(v))
			return json_real(v);
	}
	return json_string(s);
}

static json_t *to_json(yaml_document_t *doc, yaml_node_t *node, int depth, const char *path,
		       aerr_t *err)
{
	int line = (int)node->start_mark.line + 1;
	if (depth > MAX_DEPTH) {
		aerr_set(err, AEGIS_ECONFIG, "%s:%d: nested too deeply", path, line);
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)node->data.scalar.value;
		json_t *v = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s)
									       : json_string(s);
		if (!v)
			aerr_set(err, AEGIS_ECONFIG, "%s:%d: not UTF-8 text", path, line);
		return v;
	}
	case YAML_SEQUENCE_NODE: {
		json_t *arr = json_array();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     it < node->data.sequence.items.top; it++) {
			json_t *v =
			    to_json(doc, yaml_document_get_node(doc, *it), depth + 1, path, err);
			if (!v) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, v);
		}
		return arr;
	}
	case YAML_MAPPING_NODE: {
		json_t *obj = json_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE) {
				json_decref(obj);
				aerr_set(err, AEGIS_ECONFIG,
					 "%s:%d: a mapping key must be a scalar", path, line);
				return NULL;
			}
			const char *key = (const char *)k->data.scalar.value;
			if (json_object_get(obj, key)) {
				json_decref(obj);
				aerr_set(err, AEGIS_ECONFIG, "%s:%d: duplicate key '%s'", path,
					 (int)k->start_mark.line + 1, key);
				return NULL;
			}
			json_t *v = to_json(doc, yaml_document_get_node(doc, p->value), depth + 1,
					    path, err);
			if (!v) {
				json_decref(obj);
				return NULL;
			}
			json_object_set_new(obj, key, v);
		}
		return obj;
	}
	default:
		aerr_set(err, AEGIS_ECONFIG, "%s:%d: empty node", path, line);
		return NULL;
	}
}

int desired_load(const char *path, const config *cfg, json_t **out, aerr_t *err)
{
	*out = NULL;
	rendered r;
	render_opts opts = {.lenient = false};
	if (render_template(path, cfg, &opts, &r, err) < 0)
		return -1;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)r.yaml, r.len);
	int rc = 0;
	if (!yaml_parser_load(&parser, &doc)) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: YAML error after rendering: %s", path,
			      parser.problem ? parser.problem : "cannot parse");
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root)
			rc = aerr_set(err, AEGIS_ECONFIG, "%s: empty document", path);
		else if (!(*out = to_json(&doc, root, 0, path, err)))
			rc = -1;
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	rendered_free(&r); /* wipes the substituted secrets */
	return rc;
}

/* --- comparing ---------------------------------------------------------- */

/* The text of a non-string scalar as a YAML or JSON reader would write it
 * (newly allocated), or NULL for null and containers. */
static char *scalar_text(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return xasprintf("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return xasprintf("%.17g", json_real_value(v));
	case JSON_TRUE:
		return xstrdup("true");
	case JSON_FALSE:
		return xstrdup("false");
	default:
		return NULL;
	}
}

/* Equal scalars, or a string and a number or boolean of exactly the same
 * text; compared whole, whatever their length. */
static bool scalars_match(const json_t *d, const json_t *a)
{
	if (json_equal((json_t *)d, (json_t *)a))
		return true;
	if (json_is_number(d) && json_is_number(a))
		return json_number_value(d) == json_number_value(a);
	if (json_is_string(d) == json_is_string(a))
		return false; /* two unequal strings, or no string at all */
	const json_t *str = json_is_string(d) ? d : a;
	cleanup_free char *text = scalar_text(json_is_string(d) ? a : d);
	return text && json_string_length(str) == strlen(text) &&
	       memcmp(json_string_value(str), text, strlen(text)) == 0;
}

bool desired_matches(const json_t *desired, const json_t *actual)
{
	if (!desired)
		return true;
	if (!actual)
		return json_is_null(desired);
	if (json_is_object(desired)) {
		if (!json_is_object(actual))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)desired, k, v)
		{
			if (!desired_matches(v, json_object_get(actual, k)))
				return false;
		}
		return true;
	}
	if (json_is_array(desired)) {
		if (!json_is_array(actual) || json_array_size(desired) != json_array_size(actual))
			return false;
		size_t i, j;
		json_t *d, *a;
		json_array_foreach((json_t *)desired, i, d)
		{
			bool found = false;
			json_array_foreach((json_t *)actual, j, a)
			{
				if (desired_matches(d, a)) {
					found = true;
					break;
				}
			}
			if (!found)
				return false;
		}
		return true;
	}
	return scalars_match(desired, actual);
}

/* --- the record --------------------------------------------------------- */

void desired_note(json_t *log, const char *result, const char *detail, const char *fmt, ...)
{
	char item[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(item, sizeof item, fmt, ap);
	va_end(ap);
	json_t *e = json_pack("{s:s, s:s}", "item", item, "result", result);
	if (detail)
		json_object_set_new(e, "detail", json_string(detail));
	json_array_append_new(log, e);
}

size_t desired_count(const json_t *log, const char *result)
{
	size_t n = 0, i;
	json_t *e;
	json_array_foreach((json_t *)log, i, e)
	{
		const char *r = desired_str(e, "result");
		n += r && strcmp(r, result) == 0;
	}
	return n;
}

const char *desired_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}
