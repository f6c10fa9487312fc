/* Secrets in memory: overwrite before freeing, so a token or password does
 * not linger in the heap for a later allocation (or a core dump) to show. */
#ifndef AEGIS_WIPE_H
#define AEGIS_WIPE_H

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

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
