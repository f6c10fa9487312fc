/* /etc/subuid and /etc/subgid: the subordinate id ranges rootless Podman
 * maps a user's containers into ("NAME:START:COUNT" per line; NAME may be a
 * numeric uid). */
#ifndef AEGIS_SUBID_H
#define AEGIS_SUBID_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* What useradd gives a user, and where it starts counting. */
#define SUBID_COUNT 65536UL
#define SUBID_FIRST 100000UL

typedef struct subid_range {
	char *owner;
	unsigned long start, count;
	int line;
} subid_range;

typedef struct subid_file {
	char *path;
	subid_range *ranges;
	size_t n;
} subid_file;

/* A missing file is an empty one; a malformed line is an error naming
 * PATH:LINE. */
int subid_load(const char *path, subid_file *out, aerr_t *err);
void subid_free(subid_file *f);
/* The first range of USER (by name or by UID), or NULL. */
const subid_range *subid_find(const subid_file *f, const char *user, uid_t uid);
/* Does R overlap any range of F owned by someone else?  The first such one. */
const subid_range *subid_overlap(const subid_file *f, const subid_range *r);
/* The lowest start >= SUBID_FIRST of COUNT ids that overlaps no range of A
 * or B, so the same line can go into both files. */
unsigned long subid_free_start(const subid_file *a, const subid_file *b, unsigned long count);

#endif
