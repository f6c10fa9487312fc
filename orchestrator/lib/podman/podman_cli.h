/* What the podman program says about the installation (its version,
 * `podman info`), for doctor and systemd: they look at the host, not at a
 * running API service.  Runs podman with spawn.h (no shell). */
#ifndef AEGIS_PODMAN_CLI_H
#define AEGIS_PODMAN_CLI_H

#include "util/error.h"

/* Run PODMAN (a path or a name looked up in $PATH) with ARGS (NULL-
 * terminated, after the program); *OUTPUT gets stdout+stderr (newly
 * allocated), *STATUS waitpid's status.  Fails only when it cannot run. */
int podman_cli_run(const char *podman, const char *const *args, char **output, int *status,
		   aerr_t *err);

/* "4.3.1" from `podman --version` (newly allocated). */
int podman_cli_version(const char *podman, char **version, aerr_t *err);

#endif
