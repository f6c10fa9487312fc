/* Secrets in memory: overwrite before freeing, so a token or password does
 * not linger in the heap for a later allocation (or a core dump) to show. */
#ifndef AEGIS_WIPE_H
#define AEGIS_WIPE_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
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

/* Wipe the string values of the JSON object OBJ in place (jansson keeps its
 * own copies of the secrets set into it), then drop the reference. */
static inline void wipe_json_decref(json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		if (json_is_string(v))
			wipe((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(obj);
}

#endif
