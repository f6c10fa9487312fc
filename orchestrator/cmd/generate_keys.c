/* aegis-deploy generate-keys [--dir DIR] [--force] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "lib/fsutil.h"
#include "lib/keys.h"

static const char help[] =
    "Usage: aegis-deploy generate-keys [--dir DIR] [--force]\n"
    "\n"
    "Generate the Ed25519 SEAL signing keypair: DIR/private.pem (PKCS#8 PEM, mode\n"
    "0600) and DIR/public.pem (SPKI PEM, mode 0644), in DIR (mode 0700).  An\n"
    "existing matching pair is kept.\n"
    "\n"
    "Options:\n"
    "  --dir DIR        where the keys live (default ROOT/generated/seal)\n"
    "  --force          replace any existing keypair with a new one\n"
    "  -h, --help       show this help\n"
    "\n";

static int print_result(const struct cli *cli, const keys_result *keys, aerr_t *err)
{
	if (!cli->json) {
		printf("%s Ed25519 keypair\n"
		       "  private key: %s\n"
		       "  public key:  %s\n"
		       "  fingerprint: %s\n",
		       keys->generated ? "generated" : "kept existing", keys->private_path,
		       keys->public_path, keys->fingerprint);
		return 0;
	}
	json_t *obj = json_pack("{s:s, s:s, s:s, s:b}", "private_key", keys->private_path,
				"public_key", keys->public_path, "fingerprint", keys->fingerprint,
				"generated", keys->generated);
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
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (cli_is_help(argv[i])) {
			printf("%s%s", help, cli_global_help);
			return 0;
		}
	}

	static const struct option options[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	bool force = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (optarg[0] == '\0')
				return cli_usage(argv[0], "option --dir needs a non-empty value");
			dir = optarg;
			break;
		case 'f':
			force = true;
			break;
		case ':':
			return cli_usage(argv[0], "option %s needs a value", argv[optind - 1]);
		default:
			/* a long option is always a whole argument; a short one may sit
			 * inside a cluster */
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				return cli_usage(argv[0], "unknown option '%s'", argv[optind - 1]);
			return cli_usage(argv[0], "unknown option '-%c'", optopt);
		}
	}
	if (optind < argc)
		return cli_usage(argv[0], "unexpected argument '%s'", argv[optind]);

	cleanup_free char *default_dir = NULL;
	if (!dir) {
		cleanup_free char *generated = fs_join(cli->root, "generated");
		default_dir = fs_join(generated, "seal");
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
