/* aegis-deploy init: create .env from .env.example with generated secrets. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/config.h"
#include "lib/fsutil.h"
#include "lib/secretgen.h"

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
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"fill", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': from = optarg; break;
		case 'F': fill = true; break;
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("init", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage("init", "unexpected argument '%s'", argv[optind]);

	aerr_t err = {0};
	cleanup_free char *default_from = fs_join(cli->root, ".env.example");
	if (!from)
		from = default_from;
	bool exists = fs_exists(cli->env_path);
	if (exists && !fill) {
		aerr_set(&err, AEGIS_ECONFIG,
			 "%s already exists; it is never overwritten (use 'init --fill' to add "
			 "missing secrets to it)",
			 cli->env_path);
		return cli_fail(cli, &err);
	}
	cleanup_free char *schema_path = fs_join(cli->root, "kube/variables.yaml");
	schema sc;
	if (schema_load(schema_path, &sc, &err) < 0)
		return cli_fail(cli, &err);
	env_file base;
	int rc = exists ? env_load(cli->env_path, false, &base, &err)
			: env_load(from, false, &base, &err);
	if (rc < 0) {
		schema_free(&sc);
		return cli_fail(cli, &err);
	}

	const char **keys = xcalloc(sc.n, sizeof *keys);
	char **values = xcalloc(sc.n, sizeof *values);
	size_t n = 0;
	for (size_t i = 0; i < sc.n && rc == 0; i++) {
		const schema_var *v = &sc.vars[i];
		const env_entry *e = env_find(&base, v->name);
		if (!v->generate || (e && *e->value))
			continue;
		keys[n] = v->name;
		rc = secret_generate(32, &values[n], &err);
		if (rc == 0)
			n++;
	}
	if (rc == 0) {
		bool changed = false;
		if (exists) {
			rc = env_update(cli->env_path, n, keys, (const char *const *)values,
					&changed, &err);
		} else {
			char *text = env_edit(&base, n, keys, (const char *const *)values,
					      &changed);
			rc = fs_write_atomic(cli->env_path, text, strlen(text), 0600, &err);
			memset(text, 0, strlen(text));
			free(text);
		}
	}
	if (rc == 0) {
		if (cli->json) {
			json_t *gen = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(gen, json_string(keys[i]));
			json_t *o = json_pack("{s:s, s:b, s:o}", "file", cli->env_path, "created",
					      !exists, "generated", gen);
			json_dumpf(o, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(o);
		} else {
			if (!exists)
				printf("created %s from %s (mode 0600)\n", cli->env_path, from);
			for (size_t i = 0; i < n; i++)
				printf("generated %s\n", keys[i]);
			if (!n)
				printf("no missing secrets in %s\n", cli->env_path);
		}
	}
	for (size_t i = 0; i < n; i++) {
		memset(values[i], 0, strlen(values[i]));
		free(values[i]);
	}
	free(values);
	free(keys);
	env_free(&base);
	schema_free(&sc);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
