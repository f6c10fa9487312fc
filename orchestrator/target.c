/* Where a command acts: the Podman API it talks to, and which pods -- the
 * profile it is given, or without one (status, validate, logs, teardown,
 * redeploy) the pods that are deployed. */
#include <string.h>

#include "cli.h"
#include "lib/config.h"
#include "lib/deployment.h"
#include "lib/podman.h"

int cli_open_podman(const struct cli *cli, const config *cfg, podman **pm, aerr_t *err)
{
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

int cli_load(const struct cli *cli, bool deployed, unsigned flags, deployment *d, podman **pm,
	     aerr_t *err)
{
	podman *own = NULL;
	if (!pm)
		pm = &own;
	*pm = NULL;
	int rc;
	if (deployed && !cli->profile_given) {
		rc = load_deployed(cli, flags, d, pm, err);
	} else {
		rc = deployment_load(d, cli->root, cli->env_path, cli->profile, flags, err);
		if (rc == 0 && pm != &own && (rc = cli_open_podman(cli, &d->cfg, pm, err)) < 0)
			deployment_free(d);
	}
	if (rc < 0) {
		podman_close(*pm);
		*pm = NULL;
	}
	podman_close(own);
	return rc;
}
