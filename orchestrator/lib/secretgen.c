#include "secretgen.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int secret_generate(size_t bytes, char **out, aerr_t *err)
{
	unsigned char raw[64];
	if (bytes == 0 || bytes > sizeof raw)
		return aerr_set(err, AEGIS_EFAIL, "secret length %zu out of range", bytes);
	if (RAND_bytes(raw, (int)bytes) != 1)
		return aerr_set(err, AEGIS_EFAIL, "RAND_bytes failed: %s",
				ERR_error_string(ERR_get_error(), NULL));
	char *s = xmalloc(4 * ((bytes + 2) / 3) + 1);
	int n = EVP_EncodeBlock((unsigned char *)s, raw, (int)bytes);
	OPENSSL_cleanse(raw, sizeof raw);
	while (n > 0 && s[n - 1] == '=')
		n--;
	s[n] = '\0';
	for (char *p = s; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	*out = s;
	return 0;
}
