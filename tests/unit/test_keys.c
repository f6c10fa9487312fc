#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "harness.h"
#include "lib/bootstrap/keys.h"
#include "lib/util/fsutil.h"

static EVP_PKEY *load_pkey(const char *path, bool private_key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *pkey = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
				     : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return pkey;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static char *slurp(const char *path)
{
	char *text = NULL;
	aerr_t err = {0};
	if (fs_read_file(path, &text, NULL, &err) < 0)
		return NULL;
	return text;
}

/* Generate a keypair in a fresh DIR/seal; returns DIR/seal (newly allocated). */
static char *fresh_keys(keys_result *keys)
{
	cleanup_free char *tmp = harness_tmpdir();
	char *dir = fs_join(tmp, "seal");
	aerr_t err = {0};
	if (keys_generate(dir, false, keys, &err) < 0) {
		printf("  keys_generate: %s\n", err.msg);
		free(dir);
		return NULL;
	}
	return dir;
}

TEST(keys_generate_creates_private_files)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	CHECK(keys.generated);
	cleanup_free char *priv = fs_join(dir, "private.pem");
	cleanup_free char *pub = fs_join(dir, "public.pem");
	CHECK_STR(keys.private_path, priv);
	CHECK_STR(keys.public_path, pub);
	CHECK(mode_of(dir) == 0700);
	CHECK(mode_of(priv) == 0600);
	CHECK(mode_of(pub) == 0644);

	cleanup_free char *priv_pem = slurp(priv);
	cleanup_free char *pub_pem = slurp(pub);
	CHECK(priv_pem && strncmp(priv_pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(pub_pem && strncmp(pub_pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);

	EVP_PKEY *pkey = load_pkey(priv, true);
	CHECK(pkey);
	int id = EVP_PKEY_get_id(pkey);
	EVP_PKEY_free(pkey);
	CHECK(id == EVP_PKEY_ED25519);
	keys_result_free(&keys);
}

TEST(keys_sign_with_private_verify_with_public)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	EVP_PKEY *priv = load_pkey(keys.private_path, true);
	EVP_PKEY *pub = load_pkey(keys.public_path, false);
	keys_result_free(&keys);
	CHECK(priv && pub);

	static const unsigned char msg[] = "deploy pod-seal-gateway";
	unsigned char sig[64];
	size_t sig_len = sizeof sig;
	EVP_MD_CTX *sctx = EVP_MD_CTX_new();
	int signed_ok = sctx && EVP_DigestSignInit(sctx, NULL, NULL, NULL, priv) == 1 &&
			EVP_DigestSign(sctx, sig, &sig_len, msg, sizeof msg) == 1;
	EVP_MD_CTX_free(sctx);

	EVP_MD_CTX *vctx = EVP_MD_CTX_new();
	int verified = vctx && EVP_DigestVerifyInit(vctx, NULL, NULL, NULL, pub) == 1 &&
		       EVP_DigestVerify(vctx, sig, sig_len, msg, sizeof msg) == 1;
	EVP_MD_CTX_free(vctx);

	/* a tampered message must not verify */
	unsigned char bad[sizeof msg];
	memcpy(bad, msg, sizeof msg);
	bad[0] ^= 1;
	EVP_MD_CTX *bctx = EVP_MD_CTX_new();
	int tampered = bctx && EVP_DigestVerifyInit(bctx, NULL, NULL, NULL, pub) == 1 &&
		       EVP_DigestVerify(bctx, sig, sig_len, bad, sizeof bad) == 1;
	EVP_MD_CTX_free(bctx);

	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	CHECK(signed_ok);
	CHECK(sig_len == 64);
	CHECK(verified);
	CHECK(!tampered);
}

/* The SEAL JWT pair is RSA-2048 (the runtime signs RS256 with it), and a
 * keys directory of an older release (Ed25519 pair only) gains it without
 * --force, keeping the Ed25519 pair. */
TEST(keys_jwt_pair_is_rsa_and_added_to_an_older_directory)
{
	keys_result first;
	cleanup_free char *dir = fresh_keys(&first);
	CHECK(dir);
	EVP_PKEY *priv = load_pkey(first.jwt_private_path, true);
	CHECK(priv && EVP_PKEY_get_id(priv) == EVP_PKEY_RSA && EVP_PKEY_get_bits(priv) == 2048);
	EVP_PKEY_free(priv);
	struct stat st;
	CHECK(stat(first.jwt_private_path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(first.jwt_generated);

	CHECK(unlink(first.jwt_private_path) == 0 && unlink(first.jwt_public_path) == 0);
	keys_result second;
	aerr_t err = {0};
	CHECK(keys_generate(dir, false, &second, &err) == 0);
	CHECK(!second.generated && second.jwt_generated);
	CHECK_STR(second.fingerprint, first.fingerprint);
	CHECK(strcmp(second.jwt_fingerprint, first.jwt_fingerprint) != 0);
	keys_result_free(&first);
	keys_result_free(&second);
}

TEST(keys_second_run_keeps_existing_pair)
{
	keys_result first;
	cleanup_free char *dir = fresh_keys(&first);
	CHECK(dir);
	cleanup_free char *priv_before = slurp(first.private_path);
	cleanup_free char *pub_before = slurp(first.public_path);

	keys_result second;
	aerr_t err = {0};
	CHECK(keys_generate(dir, false, &second, &err) == 0);
	CHECK(!second.generated);
	CHECK_STR(second.fingerprint, first.fingerprint);
	cleanup_free char *priv_after = slurp(second.private_path);
	cleanup_free char *pub_after = slurp(second.public_path);
	CHECK_STR(priv_after, priv_before);
	CHECK_STR(pub_after, pub_before);
	CHECK(mode_of(second.private_path) == 0600);
	keys_result_free(&first);
	keys_result_free(&second);
}

TEST(keys_force_replaces_pair)
{
	keys_result first;
	cleanup_free char *dir = fresh_keys(&first);
	CHECK(dir);
	keys_result second;
	aerr_t err = {0};
	CHECK(keys_generate(dir, true, &second, &err) == 0);
	CHECK(second.generated);
	CHECK(strcmp(second.fingerprint, first.fingerprint) != 0);
	CHECK(mode_of(second.private_path) == 0600);
	CHECK(mode_of(second.public_path) == 0644);

	/* the new pair is consistent: a plain run keeps it */
	keys_result third;
	CHECK(keys_generate(dir, false, &third, &err) == 0);
	CHECK(!third.generated);
	CHECK_STR(third.fingerprint, second.fingerprint);
	keys_result_free(&first);
	keys_result_free(&second);
	keys_result_free(&third);
}

TEST(keys_refuse_private_key_symlink)
{
	cleanup_free char *tmp = harness_tmpdir();
	cleanup_free char *target = harness_write(tmp, "target.txt", "not a key\n");
	cleanup_free char *dir = fs_join(tmp, "seal");
	CHECK(mkdir(dir, 0700) == 0);
	cleanup_free char *priv = fs_join(dir, "private.pem");
	CHECK(symlink(target, priv) == 0);

	for (int force = 0; force <= 1; force++) {
		keys_result keys;
		aerr_t err = {0};
		CHECK(keys_generate(dir, force, &keys, &err) < 0);
		CHECK(err.status == AEGIS_EFAIL);
		CHECK_CONTAINS(err.msg, "symbolic link");
		CHECK(keys.private_path == NULL);
	}
	struct stat st;
	CHECK(lstat(priv, &st) == 0 && S_ISLNK(st.st_mode));
	cleanup_free char *text = slurp(target);
	CHECK_STR(text, "not a key\n");
	cleanup_free char *pub = fs_join(dir, "public.pem");
	CHECK(!fs_exists(pub));
}

TEST(keys_refuse_public_key_symlink)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	cleanup_free char *tmp = fs_dirname(dir);
	cleanup_free char *target = harness_write(tmp, "target.txt", "untouched\n");
	CHECK(unlink(keys.public_path) == 0);
	CHECK(symlink(target, keys.public_path) == 0);
	keys_result_free(&keys);

	aerr_t err = {0};
	CHECK(keys_generate(dir, true, &keys, &err) < 0);
	CHECK_CONTAINS(err.msg, "symbolic link");
	cleanup_free char *text = slurp(target);
	CHECK_STR(text, "untouched\n");
}

TEST(keys_refuse_dir_symlink)
{
	cleanup_free char *tmp = harness_tmpdir();
	cleanup_free char *real = fs_join(tmp, "real");
	cleanup_free char *link = fs_join(tmp, "seal");
	CHECK(mkdir(real, 0700) == 0);
	CHECK(symlink(real, link) == 0);
	keys_result keys;
	aerr_t err = {0};
	CHECK(keys_generate(link, false, &keys, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "symbolic link");
	cleanup_free char *priv = fs_join(real, "private.pem");
	CHECK(!fs_exists(priv));
}

TEST(keys_mismatched_pair_is_an_error)
{
	keys_result a, b;
	cleanup_free char *dir_a = fresh_keys(&a);
	cleanup_free char *dir_b = fresh_keys(&b);
	CHECK(dir_a && dir_b);
	cleanup_free char *other_pub = slurp(b.public_path);
	CHECK(other_pub);
	aerr_t err = {0};
	CHECK(fs_write_atomic(a.public_path, other_pub, strlen(other_pub), 0644, &err) == 0);
	cleanup_free char *priv_before = slurp(a.private_path);

	keys_result keys;
	CHECK(keys_generate(dir_a, false, &keys, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "does not match");
	CHECK_CONTAINS(err.msg, "--force");
	cleanup_free char *priv_after = slurp(a.private_path);
	CHECK_STR(priv_after, priv_before);

	CHECK(keys_generate(dir_a, true, &keys, &err) == 0);
	CHECK(keys.generated);
	keys_result_free(&keys);
	keys_result_free(&a);
	keys_result_free(&b);
}

TEST(keys_half_pair_is_an_error)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	cleanup_free char *pub = xstrdup(keys.public_path);
	keys_result_free(&keys);
	CHECK(unlink(pub) == 0);
	aerr_t err = {0};
	CHECK(keys_generate(dir, false, &keys, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "public.pem is missing");
	CHECK_CONTAINS(err.msg, "--force");
}

TEST(keys_non_ed25519_pair_is_an_error)
{
	cleanup_free char *tmp = harness_tmpdir();
	cleanup_free char *dir = fs_join(tmp, "seal");
	CHECK(mkdir(dir, 0700) == 0);
	cleanup_free char *priv = fs_join(dir, "private.pem");
	cleanup_free char *pub = fs_join(dir, "public.pem");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(ec);
	FILE *f = fopen(priv, "w");
	FILE *g = fopen(pub, "w");
	int ok = f && g && PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL) == 1 &&
		 PEM_write_PUBKEY(g, ec) == 1;
	if (f)
		fclose(f);
	if (g)
		fclose(g);
	EVP_PKEY_free(ec);
	CHECK(ok);
	CHECK(chmod(priv, 0600) == 0);

	keys_result keys;
	aerr_t err = {0};
	CHECK(keys_generate(dir, false, &keys, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "not Ed25519");
	CHECK_CONTAINS(err.msg, "--force");
}

TEST(keys_garbage_private_key_is_an_error)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	aerr_t err = {0};
	static const char junk[] = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
	CHECK(fs_write_atomic(keys.private_path, junk, sizeof junk - 1, 0600, &err) == 0);
	keys_result_free(&keys);
	CHECK(keys_generate(dir, false, &keys, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "private.pem is not an unencrypted PEM private key");
}

TEST(keys_refuse_readable_private_key)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	cleanup_free char *priv = xstrdup(keys.private_path);
	keys_result_free(&keys);
	CHECK(chmod(priv, 0640) == 0);
	aerr_t err = {0};
	CHECK(keys_generate(dir, false, &keys, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "chmod 600");
	/* reported, not silently fixed */
	CHECK(mode_of(priv) == 0640);
}

TEST(keys_fingerprint_is_sha256_of_spki)
{
	keys_result keys;
	cleanup_free char *dir = fresh_keys(&keys);
	CHECK(dir);
	CHECK(strncmp(keys.fingerprint, "SHA256:", 7) == 0);
	CHECK(strlen(keys.fingerprint) == 7 + 64);
	for (const char *p = keys.fingerprint + 7; *p; p++)
		CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));

	EVP_PKEY *pub = load_pkey(keys.public_path, false);
	CHECK(pub);
	unsigned char *der = NULL;
	int der_len = i2d_PUBKEY(pub, &der);
	EVP_PKEY_free(pub);
	CHECK(der_len > 0);
	unsigned char md[32];
	unsigned int md_len = 0;
	int ok = EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL);
	OPENSSL_free(der);
	CHECK(ok && md_len == 32);
	char expect[7 + 64 + 1] = "SHA256:";
	for (int i = 0; i < 32; i++)
		snprintf(expect + 7 + 2 * i, 3, "%02x", md[i]);
	CHECK_STR(keys.fingerprint, expect);
	keys_result_free(&keys);
}
