/* The SEAL keypair in use (sealkeys.c) and the fingerprint of a key read
 * back from a pod (keys_fingerprint_pem); the checks inside running pods are
 * in tests/integration/55-edge-tls.sh. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "lib/bootstrap/keys.h"
#include "lib/bootstrap/sealkeys.h"
#include "lib/config/deployment.h"
#include "lib/util/fsutil.h"

TEST(fingerprint_of_private_and_public_pem_match_generate_keys)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	keys_result k;
	CHECK(keys_generate(dir, false, &k, &err) == 0);
	char *priv = NULL, *pub = NULL;
	size_t plen = 0, ulen = 0;
	CHECK(fs_read_file(k.private_path, &priv, &plen, &err) == 0);
	CHECK(fs_read_file(k.public_path, &pub, &ulen, &err) == 0);
	char a[96], b[96];
	CHECK(keys_fingerprint_pem(priv, plen, KEYS_ED25519, "private.pem", a, sizeof a, &err) ==
	      0);
	CHECK(keys_fingerprint_pem(pub, ulen, KEYS_ED25519, "public.pem", b, sizeof b, &err) == 0);
	CHECK_STR(a, k.fingerprint);
	CHECK_STR(b, k.fingerprint);
	CHECK(keys_fingerprint_pem("not a key", 9, KEYS_RSA, "pod-core-aegis-runtime:/x", a,
				   sizeof a, &err) < 0);
	CHECK_CONTAINS(err.msg, "pod-core-aegis-runtime:/x is not an unencrypted PEM key");
	/* the Ed25519 key where the RSA key of the SEAL JWTs belongs */
	CHECK(keys_fingerprint_pem(priv, plen, KEYS_RSA, "pod-core-aegis-runtime:env:K", a,
				   sizeof a, &err) < 0);
	CHECK_CONTAINS(err.msg, "not RSA");
	free(priv);
	free(pub);
	/* the RSA pair of the SEAL JWTs, likewise */
	CHECK(fs_read_file(k.jwt_private_path, &priv, &plen, &err) == 0);
	CHECK(fs_read_file(k.jwt_public_path, &pub, &ulen, &err) == 0);
	CHECK(keys_fingerprint_pem(priv, plen, KEYS_RSA, "jwt private", a, sizeof a, &err) == 0);
	CHECK(keys_fingerprint_pem(pub, ulen, KEYS_RSA, "jwt public", b, sizeof b, &err) == 0);
	CHECK_STR(a, k.jwt_fingerprint);
	CHECK_STR(b, k.jwt_fingerprint);
	CHECK(strcmp(k.jwt_fingerprint, k.fingerprint) != 0);
	free(priv);
	free(pub);
	keys_result_free(&k);
	free(dir);
}

/* deploy generates the pairs the pods hold when they are missing
 * (sealkeys_ensure), and keeps it afterwards; loading a deployment (plan,
 * render, status) never writes keys. */
TEST(deploy_generates_missing_seal_keys_once)
{
	char *dir = harness_tmpdir();
	cleanup_free char *keys = fs_join(dir, "seal");
	cleanup_free char *text =
	    xasprintf("POSTGRES_PASSWORD=p\nKEYCLOAK_ADMIN_PASSWORD=k\nGRAFANA_ADMIN_PASSWORD=g\n"
		      "SEAL_KEYS_DIR=%s\nCONTAINER_SOCK=/run/podman/podman.sock\n",
		      keys);
	char *env = harness_write(dir, ".env", text);
	unsetenv("SEAL_KEYS_DIR");
	aerr_t err = {0};
	deployment d;
	/* plan/status (lenient) never write keys */
	CHECK(deployment_load(&d, harness_root(), env, "minimal", DEPLOYMENT_LENIENT, &err) == 0);
	CHECK(sealkeys_needed(&d));
	deployment_free(&d);
	CHECK(!fs_exists(keys));
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	CHECK(!fs_exists(keys));
	keys_result k0;
	CHECK(sealkeys_ensure(&d, &k0, &err) == 0);
	keys_result_free(&k0);
	deployment_free(&d);
	cleanup_free char *priv = fs_join(keys, "private.pem");
	struct stat st;
	CHECK(stat(priv, &st) == 0 && (st.st_mode & 0777) == 0600);
	keys_result k1, k2;
	CHECK(keys_generate(keys, false, &k1, &err) == 0 && !k1.generated);
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	CHECK(sealkeys_ensure(&d, &k0, &err) == 0);
	keys_result_free(&k0);
	deployment_free(&d);
	CHECK(keys_generate(keys, false, &k2, &err) == 0);
	CHECK_STR(k1.fingerprint, k2.fingerprint);
	/* the manifest holds a secretKeyRef, never the key: the RSA private
	 * key of the SEAL JWTs goes to the pod's Podman secret */
	CHECK(deployment_load(&d, harness_root(), env, "minimal", 0, &err) == 0);
	cleanup_free char *jwt = fs_join(keys, KEYS_JWT_PRIVATE_FILE);
	char *pem = NULL;
	size_t len = 0;
	CHECK(fs_read_file(jwt, &pem, &len, &err) == 0);
	char line[128] = "";
	sscanf(strchr(pem, '\n') + 1, "%127s", line);
	bool leaked = false;
	for (size_t i = 0; i < d.npods; i++)
		leaked |= strstr(d.manifests[i].yaml, line) != NULL;
	bool in_secret = false;
	for (size_t i = 0; i < d.manifests[0].nsecrets; i++)
		in_secret |= strcmp(d.manifests[0].secrets[i].key, "AEGIS_SEAL_PRIVATE_KEY") == 0 &&
			     d.manifests[0].secrets[i].len == len &&
			     memcmp(d.manifests[0].secrets[i].value, pem, len) == 0;
	free(pem);
	deployment_free(&d);
	keys_result_free(&k1);
	keys_result_free(&k2);
	free(env);
	free(dir);
	CHECK(!leaked && in_secret);
}
