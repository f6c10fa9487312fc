/* aegis-deploy COMMAND [OPTIONS]: global options, then dispatch through the
 * one table of commands. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/config/config.h"
#include "lib/config/paths.h"
#include "lib/release/lock.h"
#include "lib/release/state.h"

static const struct command commands[] = {
    {"init", cmd_init, "create .env from .env.example with generated secrets"},
    {"config", cmd_config, "print the resolved configuration (secrets masked)"},
    {"plan", cmd_plan, "print the deployment order as dependency tiers"},
    {"render", cmd_render, "render the pods' Kube YAML"},
    {"generate-keys", cmd_generate_keys, "generate the Ed25519 SEAL signing keypair"},
    {"deploy", cmd_deploy, "deploy the profile's pods in dependency order", .locks = true},
    {"validate", cmd_validate, "run every health check of the profile's pods"},
    {"status", cmd_status, "show the profile's pods and their containers"},
    {"redeploy", cmd_redeploy, "re-render and replace one pod", .locks = true},
    {"logs", cmd_logs, "show a pod's container logs"},
    {"teardown", cmd_teardown, "stop and remove the profile's pods (keeps volumes)", .locks = true},
    {"clean", cmd_clean, "remove every AEGIS pod, volume and the network", .locks = true},
    {"registry-login", cmd_registry_login, "log in to ghcr.io"},
    {"bootstrap-secrets", cmd_bootstrap_secrets, "initialise, unseal and configure OpenBao",
     .locks = true},
    {"bootstrap-keycloak", cmd_bootstrap_keycloak, "create Keycloak realms, clients and users",
     .locks = true},
    {"wait", cmd_wait, "wait until a running pod is ready"},
    {"backup", cmd_backup, "copy the pods' volumes into a checked archive set", .locks = true},
    {"restore", cmd_restore, "put a backup's volumes back and deploy their pods", .locks = true},
    {"systemd", cmd_systemd, "generate systemd units for the profile"},
    {"doctor", cmd_doctor, "check this host can run the platform"},
    {"setup-user", cmd_setup_user, "create the dedicated rootless service user"},
    {"diff", cmd_diff,
     "show what a deploy would change, per pod, against the live pods or a revision"},
    {"rollback", cmd_rollback, "deploy a revision of the release history again (current secrets)",
     .locks = true},
    {"rotate", cmd_rotate,
     "change a stored credential inside its service, then in .env and the pods", .locks = true},
    {"history", cmd_history,
     "list the release history (revisions of deploys, rollbacks, teardowns)"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: aegis-deploy COMMAND [OPTIONS]\n\n"
		     "Deploy the AEGIS platform onto this host as Podman pods.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'aegis-deploy COMMAND --help' for a command's options.\n\n%s",
		cli_global_help);
}

/* Take the global options out of argv wherever they appear (stopping at
 * "--"), leaving the command and its own options in order. */
static int take_globals(struct cli *cli, int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		const char *flag = NULL;
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "--json") == 0) {
			cli->json = true;
			continue;
		}
		if (strcmp(a, "--strict") == 0) {
			cli->strict = true;
			continue;
		}
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			cli->verbosity = -1;
			continue;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			if (cli->verbosity >= 0)
				cli->verbosity++;
			continue;
		}
		if (strncmp(a, "--lock-timeout", 14) == 0 && (a[14] == '\0' || a[14] == '=')) {
			const char *v = a[14] == '=' ? a + 15 : (i + 1 < *argc ? argv[++i] : NULL);
			char *end = NULL;
			long s = v ? strtol(v, &end, 10) : -1;
			if (!v || !*v || *end || s < 0 || s > 86400) {
				fprintf(stderr,
					"aegis-deploy: option --lock-timeout needs a number of "
					"seconds (0-86400)%s%s%s\n",
					v ? ", not '" : "", v ? v : "", v ? "'" : "");
				return -1;
			}
			cli->lock_timeout_s = (int)s;
			continue;
		}
		if (strncmp(a, "--env", 5) == 0 && (a[5] == '\0' || a[5] == '='))
			slot = &cli->env_path, flag = "--env";
		else if (strncmp(a, "--root", 6) == 0 && (a[6] == '\0' || a[6] == '='))
			slot = &cli->root, flag = "--root";
		else if (strncmp(a, "--profile", 9) == 0 && (a[9] == '\0' || a[9] == '='))
			slot = &cli->profile, flag = "--profile", cli->profile_given = true;
		else if (strncmp(a, "--host", 6) == 0 && (a[6] == '\0' || a[6] == '='))
			slot = &cli->host, flag = "--host";
		else if (strncmp(a, "--identity", 10) == 0 && (a[10] == '\0' || a[10] == '='))
			slot = &cli->identity, flag = "--identity";
		if (!slot) {
			argv[out++] = argv[i];
			continue;
		}
		const char *eq = strchr(a, '=');
		if (eq) {
			*slot = eq + 1;
		} else if (i + 1 < *argc) {
			*slot = argv[++i];
		} else {
			fprintf(stderr, "aegis-deploy: option %s needs a value\n", flag);
			return -1;
		}
		if (**slot == '\0') {
			fprintf(stderr, "aegis-deploy: option %s needs a non-empty value\n", flag);
			return -1;
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

static void lock_waiting(void *ctx, const char *path, const char *holder)
{
	const struct cli *cli = ctx;
	cli_info(cli, "aegis-deploy: waiting for %s, held by %s (up to %d s, --lock-timeout)", path,
		 holder, cli->lock_timeout_s);
}

/* The one place the mutating commands take the lock of the state directory,
 * held until the process exits.  Help is never locked; a configuration that
 * does not load is left to the command, which reports it (and cannot reach
 * Podman without it). */
static int take_lock(struct cli *cli, const char *command, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (cli_is_help(argv[i]))
			return 0;
	aerr_t err = {0};
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, &err) < 0)
		return 0;
	cleanup_free char *dir = NULL;
	int rc = state_dir(&cfg, &dir, &err);
	config_free(&cfg);
	/* kept open (close-on-exec) until exit: the kernel releases it */
	static state_lock lock = {.fd = -1};
	if (rc == 0)
		rc =
		    lock_acquire(&lock, dir, command, cli->lock_timeout_s, lock_waiting, cli, &err);
	if (rc < 0)
		return cli_fail(cli, &err);
	free(lock.path);
	lock.path = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = {
	    .argv0 = argv[0],
	    .env_path = ".env",
	    .profile = "development",
	    .lock_timeout_s = 600,
	};
	/* a reader that went away (`| head`, a closed socket) is an EPIPE error
	 * where it happens, never a death mid-write; children get the default */
	signal(SIGPIPE, SIG_IGN);
	if (take_globals(&cli, &argc, argv) < 0)
		return AEGIS_ECONFIG;
	if (argc < 2) {
		usage(stderr);
		return AEGIS_ECONFIG;
	}
	const char *name = argv[1];
	if (cli_is_help(name) || strcmp(name, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("aegis-deploy %s\n", AEGIS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		static char root_buf[4096];
		if (!cli.root) {
			aerr_t err = {0};
			if (paths_default_root(argv[0], root_buf, sizeof root_buf, &err) == 0)
				cli.root = root_buf;
			else
				cli.root = ".";
		}
		aerr_t host_err = {0};
		if (cli_set_host(&cli, &host_err) < 0)
			return cli_fail(&cli, &host_err);
		if (commands[i].locks) {
			int st = take_lock(&cli, name, argc - 1, argv + 1);
			if (st)
				return st;
		}
		/* commands see argv[0] = their own name, like git builtins */
		return commands[i].run(&cli, argc - 1, argv + 1);
	}
	fprintf(stderr, "aegis-deploy: unknown command '%s'\n\n", name);
	usage(stderr);
	return AEGIS_ECONFIG;
}
