#include "host/subid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"

static int parse_ulong(const char *s, size_t n, unsigned long *out)
{
	if (n == 0 || n > 19)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int subid_load(const char *path, subid_file *out, aerr_t *err)
{
	*out = (subid_file){.path = xstrdup(path)};
	char *text = NULL;
	size_t len = 0;
	if (!fs_exists(path))
		return 0;
	if (fs_read_file(path, &text, &len, err) < 0) {
		subid_free(out);
		return -1;
	}
	int line = 0;
	for (const char *s = text; *s;) {
		line++;
		size_t k = strcspn(s, "\n");
		const char *end = s + k;
		const char *c1 = memchr(s, ':', k);
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		subid_range r = {.line = line};
		bool blank = k == 0 || *s == '#';
		if (!blank) {
			if (!c1 || !c2 || c1 == s ||
			    parse_ulong(c1 + 1, (size_t)(c2 - c1 - 1), &r.start) < 0 ||
			    parse_ulong(c2 + 1, (size_t)(end - c2 - 1), &r.count) < 0) {
				free(text);
				subid_free(out);
				return aerr_set(err, AEGIS_ECONFIG,
						"%s:%d: expected NAME:START:COUNT", path, line);
			}
			r.owner = xstrndup(s, (size_t)(c1 - s));
			out->ranges = xrealloc(out->ranges, (out->n + 1) * sizeof *out->ranges);
			out->ranges[out->n++] = r;
		}
		s = *end ? end + 1 : end;
	}
	free(text);
	return 0;
}

void subid_free(subid_file *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->ranges[i].owner);
	free(f->ranges);
	free(f->path);
	*f = (subid_file){0};
}

static bool owned_by(const subid_range *r, const char *user, uid_t uid)
{
	char num[24];
	snprintf(num, sizeof num, "%lu", (unsigned long)uid);
	return (user && strcmp(r->owner, user) == 0) || strcmp(r->owner, num) == 0;
}

const subid_range *subid_find(const subid_file *f, const char *user, uid_t uid)
{
	for (size_t i = 0; i < f->n; i++)
		if (owned_by(&f->ranges[i], user, uid))
			return &f->ranges[i];
	return NULL;
}

static bool overlaps(unsigned long s1, unsigned long c1, unsigned long s2, unsigned long c2)
{
	return s1 < s2 + c2 && s2 < s1 + c1;
}

const subid_range *subid_overlap(const subid_file *f, const subid_range *r)
{
	for (size_t i = 0; i < f->n; i++) {
		const subid_range *o = &f->ranges[i];
		if (o != r && strcmp(o->owner, r->owner) != 0 &&
		    overlaps(r->start, r->count, o->start, o->count))
			return o;
	}
	return NULL;
}

unsigned long subid_free_start(const subid_file *a, const subid_file *b, unsigned long count)
{
	unsigned long start = SUBID_FIRST;
	const subid_file *files[] = {a, b};
	for (bool moved = true; moved;) {
		moved = false;
		for (size_t f = 0; f < 2; f++)
			for (size_t i = 0; files[f] && i < files[f]->n; i++) {
				const subid_range *o = &files[f]->ranges[i];
				if (overlaps(start, count, o->start, o->count)) {
					start = o->start + o->count;
					moved = true;
				}
			}
	}
	return start;
}
