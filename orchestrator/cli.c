/* The command layer's shared output and usage helpers (cli.h), apart from
 * main.c so that the command files and target.c depend on them, not on
 * main.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char cli_global_help[] =
    "Global options (accepted before or after the command):\n"
    "  --env FILE       configuration file (default ./.env)\n"
    "  --root DIR       where profiles/ and kube/ live (default: AEGIS_ROOT, else the\n"
    "                   repository containing the binary)\n"
    "  --profile NAME   deployment profile (default development)\n"
    "  --json           machine-readable output on stdout\n"
    "  --strict         a variable of the .env that kube/variables.yaml does not\n"
    "                   declare is an error (exit 2) for deploy, redeploy, render\n"
    "                   and validate, not a warning\n"
    "  -q, --quiet      only errors on stderr\n"
    "  -v, --verbose    more detail on stderr (repeatable)\n"
    "  --lock-timeout S how long a command that changes pods waits for another\n"
    "                   one to finish (default 600 s; 0: do not wait)\n"
    "  --host URL       the Podman to deploy to (default: CONTAINER_HOST, else\n"
    "                   CONTAINER_SOCK): ssh://[user@]host[:port]/path/to/podman.sock\n"
    "                   reaches another host through the OpenSSH client\n"
    "  --identity FILE  ssh key for an ssh:// host (default: CONTAINER_SSHKEY, else\n"
    "                   ssh's own defaults and agent)\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed (or the lock stayed busy past\n"
    "--lock-timeout), 2 usage or configuration error.\n";

int cli_fail(const struct cli *cli, const aerr_t *err)
{
	(void)cli;
	fprintf(stderr, "aegis-deploy: error: %s\n", err->msg);
	return err->status ? err->status : AEGIS_EFAIL;
}

static void say(const char *fmt, va_list ap)
{
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_info(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (cli->verbosity >= 0)
		say(fmt, ap);
	va_end(ap);
}

void cli_debug(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (cli->verbosity >= 1)
		say(fmt, ap);
	va_end(ap);
}

void cli_trace(void *cli, const char *line)
{
	cli_debug(cli, "  %s", line);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "aegis-deploy %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'aegis-deploy %s --help' for usage.\n", cmd);
	return AEGIS_ECONFIG;
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}
