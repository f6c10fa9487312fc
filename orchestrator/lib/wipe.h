/* Secrets in memory: overwrite before freeing, so a token or password does
 * not linger in the heap for a later allocation (or a core dump) to show. */
#ifndef AEGIS_WIPE_H
#define AEGIS_WIPE_H

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Overwrite N bytes at P in a way the compiler cannot drop (a plain
 * memset before free is a dead store it may remove). */
static inline void wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* Wipe N bytes at P, then free it: for buffers that may hold NUL bytes or
 * whose length is known. */
static inline void wipe_free_len(void *p, size_t n)
{
	wipe(p, n);
	free(p);
}

static inline void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static inline void wipe_freep(char **s)
{
	wipe_free(*s);
	*s = NULL;
}

/* cleanup_wipe char *tok = ...: wiped and freed on every return */
#define cleanup_wipe __attribute__((cleanup(wipe_freep)))

#endif
