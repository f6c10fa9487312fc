/* aegis-deploy init: create .env from .env.example with generated secrets. */
#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "lib/config/secretgen.h"
#include "lib/util/fsutil.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy init [--from FILE] [--fill]\n"
    "\n"
    "Create the configuration file (--env, default ./.env) from .env.example,\n"
    "filling every empty secret of the schema (kube/variables.yaml, generate: true)\n"
    "with a strong random value.  The file is written atomically, mode 0600.\n"
    "An existing file is never overwritten.\n"
    "\n"
    "  --from FILE   template to start from (default ROOT/.env.example)\n"
    "  --fill        add only the missing secrets to an existing file; every other\n"
    "                byte of it is preserved\n"
    "\n";

COMMAND(init)
{
	const char *from = NULL;
	bool fill = false;
	const struct opt opts[] = {
	    {"from", 0, OPT_STRING, &from},
	    {"fill", 0, OPT_BOOL, &fill},
	    OPT_END,
	};
	int st = opts_parse("init", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;

	aerr_t err = {0};
	cleanup_free char *default_from = fs_join(cli->root, ".env.example");
	cleanup_free char *schema_path = fs_join(cli->root, "kube/variables.yaml");
	if (!from)
		from = default_from;
	secret_fill done;
	if (secret_fill_env(schema_path, cli->env_path, from, fill, &done, &err) < 0)
		return cli_fail(cli, &err);
	if (cli->json) {
		json_t *gen = json_array();
		for (size_t i = 0; i < done.n; i++)
			json_array_append_new(gen, json_string(done.names[i]));
		json_t *o = json_pack("{s:s, s:b, s:o}", "file", cli->env_path, "created",
				      done.created, "generated", gen);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		report_secret_fill(cli->env_path, from, &done);
	}
	secret_fill_free(&done);
	return 0;
}
