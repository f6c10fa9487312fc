/* The one option parser of the command layer: each command declares its
 * options in a table and the parser does the rest, so every command treats
 * --help, unknown options, missing values and stray arguments alike. */
#ifndef AEGIS_OPTIONS_H
#define AEGIS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

enum opt_type {
	OPT_BOOL,    /* bool *: set to true */
	OPT_STRING,  /* const char **: a non-empty value */
	OPT_SECONDS, /* int *: 1-86400 */
	OPT_COUNT,   /* int *: MIN to MAX (0 to 10^9 when both are 0) */
};

struct opt {
	const char *name; /* long name, without the dashes */
	char short_name;  /* 0 for none */
	enum opt_type type;
	void *value;
	int min, max; /* OPT_COUNT */
};

#define OPT_END                                                                                    \
	{                                                                                          \
		0                                                                                  \
	}

/* Parse the options of command CMD (argv[0] is the command name) against
 * OPTS (ended by OPT_END).  Up to MAX_ARGS positional arguments are stored
 * in ARGS (which has room for MAX_ARGS; unset ones stay as they were).
 * Returns -1 to go on, or the exit status to return: 0 after printing HELP
 * for --help, 2 after a usage error. */
int opts_parse(const char *cmd, const char *help, const struct opt *opts, int argc, char **argv,
	       size_t max_args, const char **args);

#endif
