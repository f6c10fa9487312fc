#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int set_value(const char *cmd, const struct opt *o, const char *arg)
{
	char *end = NULL;
	long v;
	switch (o->type) {
	case OPT_BOOL:
		*(bool *)o->value = true;
		return -1;
	case OPT_STRING:
		if (!*arg)
			return cli_usage(cmd, "option --%s needs a non-empty value", o->name);
		*(const char **)o->value = arg;
		return -1;
	case OPT_SECONDS:
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 1 || v > 86400)
			return cli_usage(cmd, "--%s needs a number of seconds (1-86400), not '%s'",
					 o->name, arg);
		*(int *)o->value = (int)v;
		return -1;
	case OPT_COUNT: {
		long lo = o->min, hi = o->max ? o->max : 1000000000;
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < lo || v > hi)
			return cli_usage(cmd, "--%s needs a number from %ld to %ld, not '%s'",
					 o->name, lo, hi, arg);
		*(int *)o->value = (int)v;
		return -1;
	}
	}
	return -1;
}

int opts_parse(const char *cmd, const char *help, const struct opt *opts, int argc, char **argv,
	       size_t max_args, const char **args)
{
	size_t n = 0;
	while (opts[n].name)
		n++;
	/* getopt's table: the command's options, then --help; val = index + 256
	 * for long options, the short letter where there is one */
	struct option *lo = xcalloc(n + 2, sizeof *lo);
	char shorts[2 * 64 + 4] = ":h";
	size_t ns = 2;
	for (size_t i = 0; i < n; i++) {
		bool arg = opts[i].type != OPT_BOOL;
		lo[i] = (struct option){opts[i].name, arg ? required_argument : no_argument, NULL,
					opts[i].short_name ? opts[i].short_name : (int)(i + 256)};
		if (opts[i].short_name && ns + 2 < sizeof shorts) {
			shorts[ns++] = opts[i].short_name;
			if (arg)
				shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	lo[n] = (struct option){"help", no_argument, NULL, 'h'};
	int rc = -1, c;
	optind = 1;
	opterr = 0;
	while (rc < 0 && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if (c == 'h') {
			printf("%s%s", help, cli_global_help);
			rc = 0;
		} else if (c == ':') {
			rc = cli_usage(cmd, "option %s needs a value", argv[optind - 1]);
		} else if (c == '?') {
			/* a long option is a whole argument; a short one may sit in a cluster */
			if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
				rc = cli_usage(cmd, "unknown option '-%c'", optopt);
			else
				rc = cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		} else {
			for (size_t i = 0; i < n; i++)
				if (c == (opts[i].short_name ? opts[i].short_name : (int)(i + 256)))
					rc = set_value(cmd, &opts[i], optarg);
		}
	}
	size_t k = 0;
	for (; rc < 0 && optind < argc; optind++) {
		if (k == max_args)
			rc = cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
		else
			args[k++] = argv[optind];
	}
	free(lo);
	return rc;
}
