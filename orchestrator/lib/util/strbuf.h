/* The one growable buffer.  Every piece of code that builds a string or
 * collects bytes (a parsed value, an emitted YAML stream, an HTTP body) uses
 * it; no module keeps a private one.  The content is always NUL-terminated,
 * but may hold NUL bytes itself (len counts them). */
#ifndef AEGIS_STRBUF_H
#define AEGIS_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
	char *s;    /* NULL until something is added */
	size_t len; /* bytes held, excluding the terminating NUL */
	size_t cap;
	/* the content may be secret: growing moves it to a new block and wipes
	 * the old one (realloc would free it as it is) */
	bool secret;
} strbuf;

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		0                                                                                  \
	}
#define STRBUF_SECRET                                                                              \
	{                                                                                          \
		.secret = true                                                                     \
	}

void sb_add(strbuf *b, const void *data, size_t len);
void sb_addc(strbuf *b, char c);
void sb_adds(strbuf *b, const char *s);
void sb_addf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vaddf(strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hand the content over (an empty string when nothing was added); the
 * buffer is empty again afterwards. */
char *sb_take(strbuf *b);
/* Forget the content (free it). */
void sb_release(strbuf *b);
/* Overwrite the content before freeing it: for buffers that held secrets
 * (the buffer stays secret). */
void sb_wipe(strbuf *b);

#endif
