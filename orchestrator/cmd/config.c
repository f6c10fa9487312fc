/* aegis-deploy config: the resolved configuration, secrets masked. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/config/config.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy config\n"
    "\n"
    "Print the resolved configuration: every variable of the schema\n"
    "(kube/variables.yaml) and every key of the .env file, with its value and where\n"
    "it came from (file:line, environment, default).  Secrets are masked, and so\n"
    "is every variable the schema does not know, unless kube/unknown-variables.yaml\n"
    "lists it as harmless (-v says what each unknown variable is).\n"
    "A variable set in the process environment overrides the file.\n"
    "\n";

static const char *shown_value(const config_value *v)
{
	if (!v->value)
		return NULL;
	if (v->secret && *v->value)
		return "********";
	return v->value;
}

COMMAND(config)
{
	static const struct opt opts[] = {OPT_END};
	int st = opts_parse("config", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	config cfg;
	if ((st = cli_config(cli, &cfg)) >= 0)
		return st;
	for (size_t i = 0; cli->verbosity >= 1 && i < cfg.n; i++) {
		if (cfg.values[i].schema || !cfg.values[i].line)
			continue;
		cleanup_free char *w = config_unknown_warning(&cfg, &cfg.values[i]);
		cli_debug(cli, "warning: %s", w);
	}
	if (!cfg.env_exists)
		cli_info(cli, "note: %s does not exist; showing defaults and the environment",
			 cfg.env_path);

	if (cli->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < cfg.n; i++) {
			const config_value *v = &cfg.values[i];
			const char *val = shown_value(v);
			json_t *o = json_pack(
			    "{s:s, s:o, s:s, s:b, s:b, s:b}", "name", v->name, "value",
			    val ? json_string(val) : json_null(), "source",
			    config_source_name(v->source), "secret", v->secret, "required",
			    v->schema && v->schema->required, "known", v->schema != NULL);
			if (v->source == SRC_FILE)
				json_object_set_new(o, "line", json_integer(v->line));
			if (v->schema && v->schema->description)
				json_object_set_new(o, "description",
						    json_string(v->schema->description));
			json_array_append_new(arr, o);
		}
		json_t *out = json_pack("{s:s, s:b, s:o}", "env_file", cfg.env_path, "env_exists",
					cfg.env_exists, "variables", arr);
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else {
		printf("%-32s %-52s %s\n", "VARIABLE", "VALUE", "SOURCE");
		for (size_t i = 0; i < cfg.n; i++) {
			const config_value *v = &cfg.values[i];
			const char *val = shown_value(v);
			char src[600];
			if (v->source == SRC_FILE)
				snprintf(src, sizeof src, "%s:%d", cfg.env_path, v->line);
			else
				snprintf(src, sizeof src, "%s", config_source_name(v->source));
			printf("%-32s %-52s %s%s\n", v->name,
			       val ? (*val ? val : "\"\"")
				   : (v->schema && v->schema->required ? "(unset, required)"
								       : "(unset)"),
			       src, v->schema ? "" : " (unknown variable)");
		}
	}
	config_free(&cfg);
	return 0;
}
