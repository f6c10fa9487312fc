/* The command layer: global options and the command table.  Each command
 * lives in orchestrator/cmd/<name>.c, parses its own options, makes one or two
 * calls into the library (orchestrator/lib/) and prints the result. */
#ifndef AEGIS_CLI_H
#define AEGIS_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/util/error.h"

#define AEGIS_VERSION "0.1.0"

struct cli {
	const char *argv0;
	const char *env_path; /* --env (default ./.env) */
	const char *root;     /* --root, else AEGIS_ROOT, else the binary's repository */
	const char *profile;  /* --profile (default development) */
	bool profile_given;   /* --profile was given (else some commands act on what is deployed) */
	bool json;	      /* --json */
	bool strict;	      /* --strict: an unknown variable in .env is an error */
	int verbosity;	      /* -q: -1, default 0, -v: 1 (repeatable) */
	int lock_timeout_s;   /* --lock-timeout (default 600) */
	const char *host; /* --host, else CONTAINER_HOST: ssh://... or unix://...; NULL: local */
	const char *identity; /* --identity, else CONTAINER_SSHKEY: ssh's key file */
};

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
	/* Changes pods, volumes or services: runs under the exclusive lock of
	 * the state directory (lib/release/lock.h), taken in main.c. */
	bool locks;
};

/* Print an error the one way errors are shown; returns its exit status. */
int cli_fail(const struct cli *cli, const aerr_t *err);
/* Informational line on stderr unless -q. */
void cli_info(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Verbose line on stderr with -v. */
void cli_debug(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A library trace callback (ctx: the struct cli): an indented -v line. */
void cli_trace(void *cli, const char *line);
/* A usage error: prints "aegis-deploy CMD: MSG" and a hint; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when ARG is -h or --help. */
bool cli_is_help(const char *arg);

/* Shared option text appended to each command's --help. */
extern const char cli_global_help[];

/* deploy and redeploy share one body (deploy_main); with rollback, one
 * rollout (engine_release, orchestrator/engine.h). */
struct deploy_args {
	const char *only_pod; /* redeploy: this pod only (always replaced); NULL: the profile */
	int timeout_s;	      /* per-pod readiness timeout */
	bool replace;	      /* replace pods even when running with the same manifest */
	bool no_bootstrap;    /* do not bootstrap OpenBao and Keycloak once they are ready */
	bool atomic;	      /* deploy --atomic: restore what a failed rollout replaced */
	bool snapshot;	      /* deploy --snapshot (implied by --atomic): volumes backed up first */
	/* rollback --with-data: the snapshot whose data was put back (history) */
	const json_t *data_restored;
	/* rollback: the revision deployed again and its source (for the history) */
	int rollback_of;
	const json_t *source;
	const char *rotated;	/* rotate: the variable rotated (for the history) */
	const char *trace_path; /* --trace FILE: the rollout's trace (lib/rollout/trace.h) */
};
int deploy_main(struct cli *cli, const struct deploy_args *args);

/* The bootstrap commands' result, as text or --json (EXTRA: more members
 * of the JSON object); in report.c. */
struct bootstrap_result;
void bootstrap_print(const struct cli *cli, const char *service, const char *url,
		     const struct bootstrap_result *res, json_t *extra);

/* The deployment a command acts on: with --profile (or when DEPLOYED is
 * false), that profile; without it, the AEGIS pods that are actually
 * deployed (a profile named "deployed").  Opens Podman into *PM when PM is
 * not NULL.  In orchestrator/target.c. */
struct deployment;
struct podman;
struct config;
/* Open the Podman API of CFG (CONTAINER_SOCK), with the command's messages
 * (a private service is started when the socket does not exist). */
int cli_open_podman(const struct cli *cli, const struct config *cfg, struct podman **pm,
		    aerr_t *err);
/* Load the configuration (the --env file) into CFG, or print why it cannot
 * be: returns -1 when loaded, else the command's exit status. */
int cli_config(const struct cli *cli, struct config *cfg);
/* One line per key of CFG's .env file that the schema does not know, naming
 * file and line, what replaces it or the closest declared name: warnings,
 * or errors with --strict.  Returns how many. */
size_t cli_unknown_variables(const struct cli *cli, const struct config *cfg);
/* FLAGS of cli_load beside the deployment's own: say the unknown variables
 * (deploy, redeploy, render, validate), and fail with status 2 on them with
 * --strict. */
#define CLI_UNKNOWN_VARS (1u << 8)
/* Without --profile, the profile of the latest deploy, redeploy or rollback
 * of the release history that still exists in profiles/ (diff); the pods
 * deployed when there is none (with DEPLOYED true). */
#define CLI_LAST_PROFILE (1u << 9)
/* On an ssh:// host (--host), the API socket the pods of D mount is the
 * remote one: it is not looked for on this machine before a rollout
 * (rollout_check).  Nothing without --host. */
void cli_host_sockets(const struct cli *cli, struct deployment *d);
/* Take in --host/CONTAINER_HOST: a unix:// URL names the local socket, an
 * ssh:// URL a remote one (what the pods there mount, so it becomes
 * CONTAINER_SOCK for rendering too; cli_open_podman then reaches it through
 * an ssh tunnel).  Usage errors are returned (status 2). */
int cli_set_host(struct cli *cli, aerr_t *err);
int cli_load(const struct cli *cli, bool deployed, unsigned flags, struct deployment *d,
	     struct podman **pm, aerr_t *err);

#define COMMAND(name) int cmd_##name(struct cli *cli, int argc, char **argv)

COMMAND(config);
COMMAND(init);
COMMAND(render);
COMMAND(plan);
COMMAND(generate_keys);
COMMAND(deploy);
COMMAND(validate);
COMMAND(status);
COMMAND(teardown);
COMMAND(redeploy);
COMMAND(logs);
COMMAND(clean);
COMMAND(registry_login);
COMMAND(bootstrap_secrets);
COMMAND(bootstrap_keycloak);
COMMAND(wait);
COMMAND(backup);
COMMAND(restore);
COMMAND(systemd);
COMMAND(doctor);
COMMAND(setup_user);
COMMAND(history);
COMMAND(diff);
COMMAND(rollback);
COMMAND(rotate);

#endif
