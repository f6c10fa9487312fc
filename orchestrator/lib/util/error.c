#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* End the message with AERR_TRUNCATED: it did not fit. */
static void mark_truncated(aerr_t *err)
{
	size_t mark = sizeof AERR_TRUNCATED - 1;
	size_t at = sizeof err->msg - 1 - mark;
	/* back to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx) */
	while (at > 0 && ((unsigned char)err->msg[at] & 0xC0) == 0x80)
		at--;
	memcpy(err->msg + at, AERR_TRUNCATED, mark + 1);
}

/* Format FMT into the message from offset AT; false when it did not fit
 * (the message then ends in AERR_TRUNCATED). */
static bool put(aerr_t *err, size_t at, const char *fmt, va_list ap)
{
	int n = vsnprintf(err->msg + at, sizeof err->msg - at, fmt, ap);
	if (n < 0 || (size_t)n < sizeof err->msg - at)
		return true;
	mark_truncated(err);
	return false;
}

static bool putf(aerr_t *err, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool putf(aerr_t *err, size_t at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool fits = put(err, at, fmt, ap);
	va_end(ap);
	return fits;
}

int aerr_set(aerr_t *err, int status, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	put(err, 0, fmt, ap);
	va_end(ap);
	err->status = status ? status : AEGIS_EFAIL;
	return -1;
}

int aerr_sys(aerr_t *err, int status, int errnum, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	bool fits = put(err, 0, fmt, ap);
	va_end(ap);
	if (fits)
		putf(err, strlen(err->msg), ": %s", strerror(errnum));
	err->status = status ? status : AEGIS_EFAIL;
	return -1;
}

int aerr_wrap(aerr_t *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char prefix[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	char old[sizeof err->msg];
	memcpy(old, err->msg, sizeof old);
	putf(err, 0, "%s: %s", prefix, old);
	if (!err->status)
		err->status = AEGIS_EFAIL;
	return -1;
}

int aerr_append(aerr_t *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	size_t n = strnlen(err->msg, sizeof err->msg - 1);
	va_list ap;
	va_start(ap, fmt);
	put(err, n, fmt, ap);
	va_end(ap);
	if (!err->status)
		err->status = AEGIS_EFAIL;
	return -1;
}

void aerr_clear(aerr_t *err)
{
	err->status = 0;
	err->msg[0] = '\0';
}

void aegis_freep(void *p)
{
	free(*(void **)p);
}

void aegis_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static void oom(void)
{
	fputs("aegis-deploy: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom();
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return s;
}
