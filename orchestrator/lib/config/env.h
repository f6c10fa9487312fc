/* .env files: dotenv parsing and byte-preserving in-place updates.
 *
 * Syntax: KEY=value, optional leading "export ", "#" comments (whole line, or
 * after whitespace in an unquoted value), blank lines, 'single-quoted literal',
 * "double-quoted with \n \" \\ \$ escapes", ${VAR} and ${VAR:-default}
 * expansion (unquoted and double-quoted values) from earlier keys of the file
 * and the process environment.  The process environment wins over the file
 * for expansion, as it does for the resolved value (see config.h). */
#ifndef AEGIS_ENV_H
#define AEGIS_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct env_entry {
	char *key;
	char *value;		   /* after unquoting and expansion */
	int line;		   /* 1-based line of the assignment */
	size_t raw_start, raw_end; /* byte span of the value as written (quotes included) */
} env_entry;

typedef struct env_file {
	char *path;
	char *text;	    /* the file as read */
	env_entry *entries; /* later duplicates replace earlier ones in place */
	size_t n, cap;
	size_t *slots; /* hash index of entries by key: index + 1, 0 when free */
	size_t nslots;
} env_file;

/* Parse TEXT (named PATH in messages).  A UTF-8 byte order mark at its start
 * is skipped.  Errors name "PATH:LINE: problem" and the key when there is
 * one, never a value or the text of the line: a .env holds secrets, and a
 * wrong path may point at any file (a password pasted alone on a line, a
 * symlink to /etc/shadow). */
int env_parse(const char *path, const char *text, env_file *out, aerr_t *err);
/* Read and parse PATH.  A missing file is an empty env_file when MISSING_OK.
 * A directory, a file holding a NUL byte ("not a text file", with the line)
 * or an unreadable file is a configuration error (AEGIS_ECONFIG). */
int env_load(const char *path, bool missing_ok, env_file *out, aerr_t *err);
const env_entry *env_find(const env_file *env, const char *key);
void env_free(env_file *env);

/* A dotenv literal that parses back to exactly VALUE (newly allocated):
 * bare when safe, otherwise single- or double-quoted. */
char *env_quote(const char *value);

/* The text of ENV with KEYS[i]=VALUES[i] applied the way env_update does
 * (newly allocated); *CHANGED tells whether it differs. */
char *env_edit(const env_file *env, size_t n, const char *const *keys, const char *const *values,
	       bool *changed);

/* Set KEYS[i]=VALUES[i] in the file at PATH, atomically.  An existing
 * assignment line has its value replaced; the line's "export ", key and any
 * trailing comment are kept.  Missing keys are appended at the end.  Every
 * other byte of the file is preserved.  The file keeps its mode; a new file
 * is created 0600.  *CHANGED (optional) tells whether anything differed. */
int env_update(const char *path, size_t n, const char *const *keys, const char *const *values,
	       bool *changed, aerr_t *err);

#endif
