/* Where a command acts: the Podman API it talks to, and which pods -- the
 * profile it is given, or without one (status, validate, logs, teardown,
 * redeploy) the pods that are deployed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "lib/config/config.h"
#include "lib/config/deployment.h"
#include "lib/podman/podman.h"
#include "lib/podman/sshtunnel.h"
#include "lib/release/history.h"
#include "lib/util/http.h"

int cli_set_host(struct cli *cli, aerr_t *err)
{
	if (!cli->host) {
		const char *env = getenv("CONTAINER_HOST");
		cli->host = env && *env ? env : NULL;
	}
	if (!cli->identity) {
		const char *env = getenv("CONTAINER_SSHKEY");
		cli->identity = env && *env ? env : NULL;
	}
	if (!cli->host)
		return 0;
	const char *path;
	ssh_url url;
	if (strncmp(cli->host, "unix://", 7) == 0) {
		path = cli->host + 7;
		if (path[0] != '/')
			return aerr_set(err, AEGIS_ECONFIG,
					"host %s: a unix:// URL needs an absolute socket path",
					cli->host);
		setenv("CONTAINER_SOCK", path, 1);
		cli->host = NULL;
		return 0;
	}
	if (ssh_url_parse(cli->host, &url, err) < 0)
		return aerr_wrap(err, "--host/CONTAINER_HOST");
	/* the pods on that host mount its socket; the environment overrides
	 * the .env file for every configuration this process loads */
	setenv("CONTAINER_SOCK", url.path, 1);
	ssh_url_free(&url);
	return 0;
}

/* One tunnel per process, opened by the first command that talks to
 * Podman and closed at exit (the watchdog of spawn.h stops ssh even when
 * this process is killed). */
static sshtunnel *tunnel;

static void close_tunnel(void)
{
	http_set_route(NULL, NULL);
	sshtunnel_close(tunnel);
	tunnel = NULL;
}

static int route_port(void *ctx, const char *host, int port, char **sock, aerr_t *err)
{
	return sshtunnel_forward(ctx, host, port, sock, err);
}

static int open_remote(const struct cli *cli, podman **pm, aerr_t *err)
{
	if (!tunnel) {
		sshtunnel_options opt = {.identity = cli->identity,
					 .config = getenv("AEGIS_SSH_CONFIG")};
		if (sshtunnel_open(&tunnel, cli->host, &opt, err) < 0)
			return -1;
		atexit(close_tunnel);
		http_set_route(route_port, tunnel);
		cli_debug(cli, "podman API socket: %s, forwarded by ssh to %s",
			  sshtunnel_url(tunnel), sshtunnel_socket(tunnel));
	}
	if (podman_open(pm, sshtunnel_socket(tunnel), err) == 0)
		return 0;
	char said[512];
	sshtunnel_last_message(tunnel, said, sizeof said);
	/* sshd could not connect to the remote socket: that is the error, not
	 * the dropped connection it made here */
	if (strstr(said, "open failed"))
		return aerr_set(err, AEGIS_EFAIL,
				"cannot reach the Podman API at %s: the remote socket %s cannot be "
				"opened there: is Podman's API service running? (ssh: %s)",
				sshtunnel_url(tunnel), sshtunnel_remote_socket(tunnel), said);
	aerr_wrap(err, "Podman API at %s (through ssh)", sshtunnel_url(tunnel));
	if (said[0]) {
		size_t k = strlen(err->msg);
		snprintf(err->msg + k, sizeof err->msg - k, " (ssh: %s)", said);
	}
	return -1;
}

int cli_open_podman(const struct cli *cli, const config *cfg, podman **pm, aerr_t *err)
{
	if (cli->host)
		return open_remote(cli, pm, err);
	const char *sock = config_get(cfg, "CONTAINER_SOCK");
	if (!sock || !*sock)
		return aerr_set(err, AEGIS_ECONFIG, "CONTAINER_SOCK is not set");
	cli_debug(cli, "podman API socket: %s", sock);
	if (podman_open(pm, sock, err) < 0)
		return -1;
	if (strcmp(podman_socket(*pm), sock) != 0)
		cli_debug(cli, "%s does not exist: started a private podman service on %s", sock,
			  podman_socket(*pm));
	return 0;
}

static int load_deployed(const struct cli *cli, unsigned flags, deployment *d, podman **pm,
			 aerr_t *err)
{
	/* the configuration says where Podman is; Podman says what is deployed */
	config cfg;
	if (config_load(&cfg, cli->root, cli->env_path, err) < 0)
		return -1;
	json_t *live = NULL;
	int rc = cli_open_podman(cli, &cfg, pm, err);
	config_free(&cfg);
	if (rc == 0)
		rc = podman_list_pods(*pm, &live, err);
	if (rc == 0)
		rc = deployment_load_deployed(d, cli->root, cli->env_path, live, flags, err);
	json_decref(live);
	if (rc == 0)
		cli_debug(cli, "acting on the %zu AEGIS pods deployed (no --profile given)",
			  d->npods);
	return rc;
}

/* Before a rollout, the sockets the pods mount are checked to exist on this
 * machine (rollout_check).  On an ssh:// host the API socket they mount is
 * the one the tunnel reaches, which therefore exists there: it is not
 * looked for here. */
void cli_host_sockets(const struct cli *cli, deployment *d)
{
	const char *remote = cli->host ? config_get(&d->cfg, "CONTAINER_SOCK") : NULL;
	for (size_t i = 0; remote && i < d->npods; i++) {
		pod *p = &d->pods[i];
		size_t kept = 0;
		for (size_t k = 0; k < p->nsockets; k++) {
			if (strcmp(p->sockets[k], remote) == 0)
				free(p->sockets[k]);
			else
				p->sockets[kept++] = p->sockets[k];
		}
		p->nsockets = kept;
	}
}

/* The configuration as the profile sees it: with the edge's defaults when
 * it holds the edge.  A profile that does not load is left to the commands
 * that use it to report. */
int cli_config(const struct cli *cli, config *cfg)
{
	aerr_t err = {0};
	if (config_load(cfg, cli->root, cli->env_path, &err) < 0)
		return cli_fail(cli, &err);
	profile prof;
	aerr_t ignored = {0};
	if (profile_load(cli->root, cli->profile, &prof, &ignored) < 0)
		return -1;
	int rc = config_use_edge(cfg, deployment_profile_has_edge(&prof), &err);
	profile_free(&prof);
	if (rc < 0) {
		config_free(cfg);
		return cli_fail(cli, &err);
	}
	return -1;
}

size_t cli_unknown_variables(const struct cli *cli, const config *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->n; i++) {
		const config_value *v = &cfg->values[i];
		if (v->schema || !v->line)
			continue;
		n++;
		if (!cli->strict && cli->verbosity < 0)
			continue;
		cleanup_free char *w = config_unknown_warning(cfg, v);
		fprintf(stderr, "aegis-deploy: %s: %s\n", cli->strict ? "error" : "warning", w);
	}
	return n;
}

/* The name of the profile last deployed, by the release history: a
 * deploy, redeploy or rollback whose profile is still a file of profiles/
 * (not the pods found deployed by a command without --profile); NULL when
 * there is none or no history can be read. */
static char *last_profile(const struct cli *cli)
{
	aerr_t err = {0};
	cleanup_free char *dir = NULL;
	json_t *revs = NULL;
	if (cli_state_dir(cli, &dir, &err) < 0 || history_list(dir, &revs, &err) < 0)
		return NULL;
	char *name = NULL;
	for (size_t i = json_array_size(revs); i-- > 0 && !name;) {
		const json_t *r = json_array_get(revs, i);
		const char *cmd = json_string_value(json_object_get(r, "command"));
		const char *prof = json_string_value(json_object_get(r, "profile"));
		if (!cmd || !prof || strchr(prof, '/') || strcmp(cmd, "teardown") == 0)
			continue;
		cleanup_free char *path = xasprintf("%s/profiles/%s.yaml", cli->root, prof);
		if (access(path, R_OK) == 0)
			name = xstrdup(prof);
	}
	json_decref(revs);
	return name;
}

int cli_load(const struct cli *cli, bool deployed, unsigned flags, deployment *d, podman **pm,
	     aerr_t *err)
{
	podman *own = NULL;
	if (!pm)
		pm = &own;
	*pm = NULL;
	int rc;
	bool check_vars = flags & CLI_UNKNOWN_VARS;
	cleanup_free char *last =
	    (flags & CLI_LAST_PROFILE) && !cli->profile_given ? last_profile(cli) : NULL;
	flags &= ~(CLI_UNKNOWN_VARS | CLI_LAST_PROFILE);
	if (last)
		cli_debug(cli,
			  "profile %s, the last deployed (release history; no --profile given)",
			  last);
	if (!last && deployed && !cli->profile_given) {
		rc = load_deployed(cli, flags, d, pm, err);
	} else {
		rc = deployment_load(d, cli->root, cli->env_path, last ? last : cli->profile, flags,
				     err);
		if (rc == 0 && pm != &own && (rc = cli_open_podman(cli, &d->cfg, pm, err)) < 0)
			deployment_free(d);
	}
	size_t unknown = rc == 0 && check_vars ? cli_unknown_variables(cli, &d->cfg) : 0;
	if (unknown && cli->strict) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%zu unknown variable%s in %s (--strict)",
			      unknown, unknown == 1 ? "" : "s", d->cfg.env_path);
		deployment_free(d);
	}
	if (rc < 0) {
		podman_close(*pm);
		*pm = NULL;
	} else {
		cli_host_sockets(cli, d);
	}
	podman_close(own);
	return rc;
}
