/* aegis-deploy generate-keys [--dir DIR] [--force] */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "lib/bootstrap/keys.h"
#include "lib/config/config.h"
#include "lib/util/fsutil.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy generate-keys [--dir DIR] [--force]\n"
    "\n"
    "Generate the SEAL keys in DIR (mode 0700), private keys PKCS#8 PEM (mode\n"
    "0600), public keys SPKI PEM (mode 0644).  An existing matching pair is kept;\n"
    "a missing one is generated.\n"
    "  private.pem, public.pem     the Ed25519 SEAL signing keypair\n"
    "  seal-jwt-private.pem, seal-jwt-public.pem\n"
    "                              the RSA-2048 keypair of the SEAL JWTs, which\n"
    "                              the AEGIS images use: pod-core signs with the\n"
    "                              private key (AEGIS_SEAL_PRIVATE_KEY), the SEAL\n"
    "                              gateway verifies with the public key; deploy\n"
    "                              passes them, validate checks their fingerprint\n"
    "\n"
    "Options:\n"
    "  --dir DIR        where the keys live (default SEAL_KEYS_DIR: from .env or\n"
    "                   the environment, else ROOT/generated/seal)\n"
    "  --force          replace any existing keypair with a new one\n"
    "  -h, --help       show this help\n"
    "\n";

static int print_result(const struct cli *cli, const keys_result *keys, aerr_t *err)
{
	if (!cli->json) {
		printf("%s Ed25519 keypair\n"
		       "  private key: %s\n"
		       "  public key:  %s\n"
		       "  fingerprint: %s\n"
		       "%s RSA keypair of the SEAL JWTs\n"
		       "  private key: %s\n"
		       "  public key:  %s\n"
		       "  jwt fingerprint: %s\n",
		       keys->generated ? "generated" : "kept existing", keys->private_path,
		       keys->public_path, keys->fingerprint,
		       keys->jwt_generated ? "generated" : "kept existing", keys->jwt_private_path,
		       keys->jwt_public_path, keys->jwt_fingerprint);
		return 0;
	}
	json_t *obj =
	    json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:s, s:b}}", "private_key",
		      keys->private_path, "public_key", keys->public_path, "fingerprint",
		      keys->fingerprint, "generated", keys->generated, "jwt", "private_key",
		      keys->jwt_private_path, "public_key", keys->jwt_public_path, "fingerprint",
		      keys->jwt_fingerprint, "generated", keys->jwt_generated);
	if (!obj)
		return aerr_set(err, AEGIS_EFAIL, "cannot build the JSON result");
	int rc = json_dumpf(obj, stdout, JSON_INDENT(2));
	json_decref(obj);
	if (rc < 0 || putchar('\n') == EOF)
		return aerr_set(err, AEGIS_EFAIL, "cannot write the JSON result");
	return 0;
}

COMMAND(generate_keys)
{
	const char *dir = NULL;
	bool force = false;
	const struct opt opts[] = {
	    {"dir", 0, OPT_STRING, &dir},
	    {"force", 0, OPT_BOOL, &force},
	    OPT_END,
	};
	int st = opts_parse("generate-keys", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;

	/* Without --dir, the keys go where deploy reads them: SEAL_KEYS_DIR,
	 * from .env or the environment (default ROOT/generated/seal). */
	cleanup_free char *default_dir = NULL;
	if (!dir) {
		config cfg;
		if ((st = cli_config(cli, &cfg)) >= 0)
			return st;
		const char *v = config_get(&cfg, "SEAL_KEYS_DIR");
		if (v && *v) {
			default_dir = xstrdup(v);
		} else {
			cleanup_free char *generated = fs_join(cli->root, "generated");
			default_dir = fs_join(generated, "seal");
		}
		config_free(&cfg);
		dir = default_dir;
	}

	aerr_t err = {0};
	keys_result keys;
	if (keys_generate(dir, force, &keys, &err) < 0)
		return cli_fail(cli, &err);
	int rc = print_result(cli, &keys, &err);
	keys_result_free(&keys);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
