#include "bootstrap/keys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/fsutil.h"

/* The two pairs (keys.h): what each is, and where. */
struct pair_kind {
	keys_type type;
	int pkey_id;	  /* EVP_PKEY_ED25519, EVP_PKEY_RSA */
	const char *name; /* in messages */
	const char *private_file, *public_file;
};
static const struct pair_kind signing_pair = {KEYS_ED25519, EVP_PKEY_ED25519, "Ed25519",
					      "private.pem", "public.pem"};
static const struct pair_kind jwt_pair = {KEYS_RSA, EVP_PKEY_RSA, "RSA", KEYS_JWT_PRIVATE_FILE,
					  KEYS_JWT_PUBLIC_FILE};

static int ossl_fail(aerr_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ossl_fail(aerr_t *err, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	char reason[256] = "unknown OpenSSL error";
	unsigned long code = ERR_get_error();
	if (code)
		ERR_error_string_n(code, reason, sizeof reason);
	ERR_clear_error();
	return aerr_set(err, AEGIS_EFAIL, "%s: %s", what, reason);
}

/* An encrypted private.pem must fail instead of prompting on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int require_type(EVP_PKEY *pkey, int pkey_id, const char *name, const char *path,
			aerr_t *err)
{
	if (EVP_PKEY_get_id(pkey) == pkey_id)
		return 0;
	const char *type = EVP_PKEY_get0_type_name(pkey);
	return aerr_set(err, AEGIS_EFAIL,
			"%s holds a key of type %s, not %s (use --force to replace the keypair)",
			path, type ? type : "unknown", name);
}

static int fingerprint(EVP_PKEY *pkey, char *out, size_t size, aerr_t *err)
{
	unsigned char *der = NULL;
	int der_len = i2d_PUBKEY(pkey, &der);
	if (der_len <= 0)
		return ossl_fail(err, "cannot encode the public key");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int ok = EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok)
		return ossl_fail(err, "cannot hash the public key");
	if (size < sizeof "SHA256:" + 2 * (size_t)md_len)
		return aerr_set(err, AEGIS_EFAIL, "fingerprint buffer too small");
	int n = snprintf(out, size, "SHA256:");
	for (unsigned int i = 0; i < md_len; i++)
		n += snprintf(out + n, size - (size_t)n, "%02x", md[i]);
	return 0;
}

/* A key file that exists must be a regular file, never a symlink: the
 * directory is 0700 and ours, so checking before opening is enough. */
static int check_key_file(const char *path, bool *exists, struct stat *st, aerr_t *err)
{
	*exists = false;
	if (lstat(path, st) < 0) {
		if (errno == ENOENT)
			return 0;
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot stat %s", path);
	}
	if (S_ISLNK(st->st_mode))
		return aerr_set(err, AEGIS_EFAIL, "refusing to use %s: it is a symbolic link",
				path);
	if (!S_ISREG(st->st_mode))
		return aerr_set(err, AEGIS_EFAIL, "%s exists and is not a regular file", path);
	*exists = true;
	return 0;
}

/* The PEM private (PKCS#8, unencrypted) or public (SPKI) key in PEM, or NULL. */
static EVP_PKEY *pem_key(const char *pem, size_t len, bool private_key)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = NULL;
	if (bio)
		pkey = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
				   : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return pkey;
}

/* Read a PEM private (PKCS#8) or public (SPKI) key; the file buffer is wiped
 * before it is freed because it may hold the private key. */
static int load_key(const char *path, bool private_key, EVP_PKEY **out, aerr_t *err)
{
	char *pem = NULL;
	size_t len = 0;
	if (fs_read_file(path, &pem, &len, err) < 0)
		return -1;
	EVP_PKEY *pkey = pem_key(pem, len, private_key);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (!pkey)
		return ossl_fail(
		    err, "%s is not %s PEM %s key (use --force to replace the keypair)", path,
		    private_key ? "an unencrypted" : "a", private_key ? "private" : "public");
	*out = pkey;
	return 0;
}

/* Check that the existing files are a matching pair of KIND (the same
 * public key, by fingerprint); fill FP. */
static int check_existing(const struct pair_kind *kind, const char *priv_path, const char *pub_path,
			  char *fp, size_t fp_size, aerr_t *err)
{
	EVP_PKEY *priv = NULL, *pub = NULL;
	char fp_priv[96];
	int rc = -1;
	if (load_key(priv_path, true, &priv, err) < 0 || load_key(pub_path, false, &pub, err) < 0)
		goto out;
	if (require_type(priv, kind->pkey_id, kind->name, priv_path, err) < 0 ||
	    require_type(pub, kind->pkey_id, kind->name, pub_path, err) < 0)
		goto out;
	if (fingerprint(priv, fp_priv, sizeof fp_priv, err) < 0 ||
	    fingerprint(pub, fp, fp_size, err) < 0)
		goto out;
	if (strcmp(fp_priv, fp) != 0) {
		aerr_set(err, AEGIS_EFAIL,
			 "%s does not match the private key in %s (use --force to replace the "
			 "keypair)",
			 pub_path, priv_path);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	return rc;
}

/* Encode PKEY as PEM in memory and write it to PATH; the buffer is wiped
 * before it is freed because it may hold the private key. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, bool private_key, aerr_t *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return ossl_fail(err, "cannot allocate a memory BIO");
	int ok = private_key ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
			     : PEM_write_bio_PUBKEY(bio, pkey);
	int rc;
	BUF_MEM *mem = NULL;
	if (!ok || BIO_get_mem_ptr(bio, &mem) != 1 || !mem)
		rc = ossl_fail(err, "cannot encode the %s key", private_key ? "private" : "public");
	else
		rc = fs_write_atomic(path, mem->data, mem->length, mode, err);
	if (mem)
		OPENSSL_cleanse(mem->data, mem->length);
	BIO_free(bio);
	return rc;
}

static int generate(const struct pair_kind *kind, const char *priv_path, const char *pub_path,
		    char *fp, size_t fp_size, aerr_t *err)
{
	EVP_PKEY *pkey = kind->type == KEYS_RSA
			     ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)KEYS_JWT_RSA_BITS)
			     : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey)
		return ossl_fail(err, "cannot generate an %s key", kind->name);
	/* private first: a failure in between leaves a mismatched pair, which the
	 * next run reports instead of silently using */
	int rc = -1;
	if (write_pem(priv_path, 0600, pkey, true, err) == 0 &&
	    write_pem(pub_path, 0644, pkey, false, err) == 0)
		rc = fingerprint(pkey, fp, fp_size, err);
	EVP_PKEY_free(pkey);
	return rc;
}

/* Ensure the pair KIND in DIR; its paths go to *PRIV_OUT / *PUB_OUT. */
static int ensure_pair(const struct pair_kind *kind, const char *dir, bool force, char **priv_out,
		       char **pub_out, char *fp, size_t fp_size, bool *generated, aerr_t *err)
{
	char *priv_path = fs_join(dir, kind->private_file);
	char *pub_path = fs_join(dir, kind->public_file);
	struct stat priv_st, pub_st;
	bool have_priv, have_pub;
	int rc = -1;
	*generated = false;
	if (check_key_file(priv_path, &have_priv, &priv_st, err) < 0 ||
	    check_key_file(pub_path, &have_pub, &pub_st, err) < 0)
		goto out;

	if (force || (!have_priv && !have_pub)) {
		rc = generate(kind, priv_path, pub_path, fp, fp_size, err);
		*generated = true;
	} else if (have_priv != have_pub) {
		rc = aerr_set(err, AEGIS_EFAIL,
			      "%s exists but %s is missing; restore it or use --force to replace "
			      "the keypair",
			      have_priv ? priv_path : pub_path, have_priv ? pub_path : priv_path);
	} else if (priv_st.st_mode & 077) {
		rc = aerr_set(err, AEGIS_EFAIL,
			      "%s is accessible by group or others (mode %03o); run 'chmod 600 %s'",
			      priv_path, (unsigned)(priv_st.st_mode & 0777), priv_path);
	} else {
		rc = check_existing(kind, priv_path, pub_path, fp, fp_size, err);
	}
out:
	if (rc < 0) {
		free(priv_path);
		free(pub_path);
		return -1;
	}
	*priv_out = priv_path;
	*pub_out = pub_path;
	return 0;
}

int keys_generate(const char *dir, bool force, keys_result *out, aerr_t *err)
{
	memset(out, 0, sizeof *out);
	if (fs_mkdir_private(dir, 0700, err) < 0)
		return -1;
	if (ensure_pair(&signing_pair, dir, force, &out->private_path, &out->public_path,
			out->fingerprint, sizeof out->fingerprint, &out->generated, err) < 0 ||
	    ensure_pair(&jwt_pair, dir, force, &out->jwt_private_path, &out->jwt_public_path,
			out->jwt_fingerprint, sizeof out->jwt_fingerprint, &out->jwt_generated,
			err) < 0) {
		keys_result_free(out);
		return -1;
	}
	return 0;
}

void keys_result_free(keys_result *r)
{
	if (!r)
		return;
	free(r->private_path);
	free(r->public_path);
	free(r->jwt_private_path);
	free(r->jwt_public_path);
	memset(r, 0, sizeof *r);
}

int keys_fingerprint_pem(const char *pem, size_t len, keys_type type, const char *source, char *out,
			 size_t size, aerr_t *err)
{
	const struct pair_kind *kind = type == KEYS_RSA ? &jwt_pair : &signing_pair;
	bool private_key = memmem(pem, len, "PRIVATE KEY-----", 16) != NULL;
	EVP_PKEY *pkey = pem_key(pem, len, private_key);
	if (!pkey)
		return ossl_fail(err, "%s is not an unencrypted PEM key", source);
	int rc = -1;
	if (require_type(pkey, kind->pkey_id, kind->name, source, err) == 0)
		rc = fingerprint(pkey, out, size, err);
	EVP_PKEY_free(pkey);
	return rc;
}
