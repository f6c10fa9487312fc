#include "render/passhash.h"

#include <crypt.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SALT_LABEL "aegis-deploy bcrypt salt v1"
#define BCRYPT_SALT_BYTES 16

int passhash_bcrypt(const char *password, char **out, aerr_t *err)
{
	*out = NULL;
	if (!password || !*password)
		return aerr_set(err, AEGIS_ECONFIG, "cannot hash an empty password");
	/* bcrypt looks at 72 bytes at most: a longer password would be cut */
	if (strlen(password) > 72)
		return aerr_set(err, AEGIS_ECONFIG,
				"a password for a bcrypt hash must be at most 72 bytes");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, SALT_LABEL, sizeof SALT_LABEL) &&
		 EVP_DigestUpdate(ctx, password, strlen(password)) &&
		 EVP_DigestFinal_ex(ctx, md, &md_len);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return aerr_set(err, AEGIS_EFAIL, "cannot derive the bcrypt salt (SHA-256)");
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$2b$", PASSHASH_BCRYPT_COST, (const char *)md, BCRYPT_SALT_BYTES,
			      setting, sizeof setting)) {
		OPENSSL_cleanse(md, sizeof md);
		return aerr_set(err, AEGIS_EFAIL,
				"crypt_gensalt: bcrypt ($2b$) is not supported by this libcrypt");
	}
	OPENSSL_cleanse(md, sizeof md);
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *h = crypt_r(password, setting, cd);
	int rc = 0;
	if (!h || h[0] != '$' || strncmp(h, "$2b$", 4) != 0)
		rc = aerr_set(err, AEGIS_EFAIL, "crypt: cannot compute the bcrypt hash");
	else
		*out = xstrdup(h);
	OPENSSL_cleanse(cd, sizeof *cd);
	free(cd);
	return rc;
}

int passhash_verify(const char *password, const char *hash, aerr_t *err)
{
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *h = crypt_r(password, hash, cd);
	int rc;
	if (!h || h[0] == '*')
		rc =
		    aerr_set(err, AEGIS_EFAIL, "crypt: cannot check the password against the hash");
	else
		rc = strcmp(h, hash) == 0;
	OPENSSL_cleanse(cd, sizeof *cd);
	free(cd);
	return rc;
}
