/* One error idiom for the whole library.
 *
 * Every fallible function returns int (< 0 on failure) and fills an aerr_t
 * with an exit status and a formatted message.  Only the command layer
 * decides how to show it; the library never prints on its own. */
#ifndef AEGIS_ERROR_H
#define AEGIS_ERROR_H

#include <stdlib.h>
#include <unistd.h>

enum {
	AEGIS_OK = 0,
	AEGIS_EFAIL = 1,   /* the operation failed */
	AEGIS_ECONFIG = 2, /* usage or configuration error */
};

typedef struct aerr {
	int status; /* AEGIS_EFAIL or AEGIS_ECONFIG once set */
	/* A message that does not fit ends in AERR_TRUNCATED instead of being
	 * cut silently (never inside a UTF-8 sequence). */
	char msg[2048];
} aerr_t;

#define AERR_TRUNCATED "…(truncated)"

/* Set the error; returns -1 so callers can `return aerr_set(...)`. */
int aerr_set(aerr_t *err, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)". */
int aerr_sys(aerr_t *err, int status, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prepend context ("while X: <old message>"); returns -1. */
int aerr_wrap(aerr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append to the message (a second failure that followed the first, such
 * as a clean-up that failed too); the status stays.  Returns -1. */
int aerr_append(aerr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void aerr_clear(aerr_t *err);

/* cleanup helpers so early returns cannot leak */
void aegis_freep(void *p);
void aegis_closep(int *fd);
#define cleanup_free __attribute__((cleanup(aegis_freep)))
#define cleanup_close __attribute__((cleanup(aegis_closep)))

/* allocation that cannot fail (aborts on OOM, like git's xmalloc) */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
