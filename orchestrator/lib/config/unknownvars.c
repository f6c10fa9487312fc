#include "config/unknownvars.h"

#include <string.h>
#include <sys/stat.h>

#include "util/strbuf.h"
#include "util/yamldoc.h"

static char *opt_str(yaml_node_t *n)
{
	const char *s = ydoc_str(n);
	return s && *s ? xstrdup(s) : NULL;
}

static int read_entry(yaml_document_t *doc, yaml_node_t *n, unknown_vars *out, aerr_t *err)
{
	int line = ydoc_line(n);
	const char *name = ydoc_str(ydoc_get(doc, n, "name"));
	if (!name || !*name)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: entry without a name", out->path, line);
	if (unknownvars_find(out, name))
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s is listed twice", out->path, line,
				name);
	unknown_var *v = &out->v[out->n++];
	*v = (unknown_var){.name = xstrdup(name),
			   .replaced_by = opt_str(ydoc_get(doc, n, "replaced_by")),
			   .note = opt_str(ydoc_get(doc, n, "note"))};
	if (ydoc_bool(ydoc_get(doc, n, "harmless"), false, &v->harmless) < 0)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s: harmless must be true or false",
				out->path, line, name);
	return 0;
}

int unknownvars_load(const char *path, unknown_vars *out, aerr_t *err)
{
	*out = (unknown_vars){.path = xstrdup(path)};
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	yaml_document_t doc;
	if (ydoc_load_file(path, &doc, err) < 0) {
		unknownvars_free(out);
		return -1;
	}
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *list = root ? ydoc_get(&doc, root, "unknown_variables") : NULL;
	if (!list || list->type != YAML_SEQUENCE_NODE) {
		rc =
		    aerr_set(err, AEGIS_ECONFIG, "%s: expected an 'unknown_variables:' list", path);
		goto done;
	}
	size_t cap = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	out->v = xcalloc(cap ? cap : 1, sizeof *out->v);
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top && rc == 0; it++)
		rc = read_entry(&doc, yaml_document_get_node(&doc, *it), out, err);
done:
	yaml_document_delete(&doc);
	if (rc < 0)
		unknownvars_free(out);
	return rc;
}

const unknown_var *unknownvars_find(const unknown_vars *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i].name, name) == 0)
			return &u->v[i];
	return NULL;
}

void unknownvars_free(unknown_vars *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].name);
		free(u->v[i].replaced_by);
		free(u->v[i].note);
	}
	free(u->v);
	free(u->path);
	*u = (unknown_vars){0};
}

/* Levenshtein distance with one row; names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof *row);
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; a[i - 1]; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

const schema_var *unknownvars_closest(const schema *s, const char *name)
{
	size_t limit = strlen(name) / 3;
	if (limit < 2)
		limit = 2;
	const schema_var *best = NULL;
	size_t best_d = limit + 1;
	size_t len = strlen(name);
	for (size_t i = 0; i < s->n; i++) {
		/* the distance is at least the difference of the lengths */
		size_t other = strlen(s->vars[i].name);
		if ((other > len ? other - len : len - other) >= best_d)
			continue;
		size_t d = distance(name, s->vars[i].name);
		if (d < best_d) {
			best_d = d;
			best = &s->vars[i];
		}
	}
	return best;
}

char *unknownvars_warning(const schema *s, const unknown_vars *u, const char *where,
			  const char *name)
{
	strbuf b = STRBUF_INIT;
	const unknown_var *k = unknownvars_find(u, name);
	sb_addf(&b, "%s: unknown variable %s (not in %s): no template uses it%s", where, name,
		s->path, k && k->harmless ? "" : ", and its value is treated as a secret");
	if (k && k->replaced_by)
		sb_addf(&b, "; the upstream scripts' %s is %s here", name, k->replaced_by);
	if (k && k->note)
		sb_addf(&b, "; %s", k->note);
	if (!k || !k->replaced_by) {
		const schema_var *c = unknownvars_closest(s, name);
		if (c)
			sb_addf(&b, "; did you mean %s?", c->name);
	}
	return sb_take(&b);
}
