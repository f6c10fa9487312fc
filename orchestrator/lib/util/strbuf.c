#include "util/strbuf.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/error.h"

static void grow(strbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (b->secret && b->s) {
		char *s = xmalloc(cap);
		memcpy(s, b->s, b->len + 1);
		OPENSSL_cleanse(b->s, b->cap);
		free(b->s);
		b->s = s;
	} else {
		b->s = xrealloc(b->s, cap);
	}
	b->cap = cap;
}

void sb_add(strbuf *b, const void *data, size_t len)
{
	grow(b, len);
	if (len)
		memcpy(b->s + b->len, data, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void sb_addc(strbuf *b, char c)
{
	sb_add(b, &c, 1);
}

void sb_adds(strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_vaddf(strbuf *b, const char *fmt, va_list ap)
{
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	if (n < 0)
		abort(); /* out of memory, like xmalloc */
	sb_add(b, s, (size_t)n);
	if (b->secret)
		OPENSSL_cleanse(s, (size_t)n);
	free(s);
}

void sb_addf(strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(b, fmt, ap);
	va_end(ap);
}

char *sb_take(strbuf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	*b = (strbuf){.secret = b->secret};
	return s;
}

void sb_release(strbuf *b)
{
	free(b->s);
	*b = (strbuf){.secret = b->secret};
}

void sb_wipe(strbuf *b)
{
	if (b->s)
		OPENSSL_cleanse(b->s, b->cap);
	sb_release(b);
}
