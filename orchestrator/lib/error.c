#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int aerr_set(aerr_t *err, int status, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
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
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof err->msg)
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
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
	int n = snprintf(err->msg, sizeof err->msg, "%s: ", prefix);
	if (n >= 0 && (size_t)n < sizeof err->msg) {
		size_t room = sizeof err->msg - (size_t)n - 1;
		size_t len = strnlen(old, room);
		memcpy(err->msg + n, old, len);
		err->msg[n + len] = '\0';
	}
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
