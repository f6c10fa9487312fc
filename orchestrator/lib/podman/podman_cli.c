#include "podman/podman_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/spawn.h"

int podman_cli_run(const char *podman, const char *const *args, char **output, int *status,
		   aerr_t *err)
{
	*output = NULL;
	const char *tmp = getenv("TMPDIR");
	cleanup_free char *path = xasprintf("%s/aegis-podman-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot create a temporary file in %s",
				tmp && *tmp ? tmp : "/tmp");
	close(fd);
	size_t n = 0;
	while (args[n])
		n++;
	char **argv = xcalloc(n + 2, sizeof *argv);
	argv[0] = (char *)podman;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	int rc = spawn_run(argv, path, status, err);
	free(argv);
	size_t len = 0;
	if (rc == 0 && fs_read_file(path, output, &len, err) < 0)
		rc = -1;
	unlink(path);
	return rc;
}

int podman_cli_version(const char *podman, char **version, aerr_t *err)
{
	static const char *const args[] = {"--version", NULL};
	char *out = NULL;
	int status = 0;
	*version = NULL;
	if (podman_cli_run(podman, args, &out, &status, err) < 0)
		return aerr_wrap(err, "cannot run %s --version", podman);
	/* "podman version 4.3.1" */
	const char *v = strstr(out, "version ");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !v) {
		cleanup_free char *why = spawn_describe(status);
		aerr_set(err, AEGIS_EFAIL, "%s --version %s: %.200s", podman, why, out);
		free(out);
		return -1;
	}
	v += strlen("version ");
	*version = xstrndup(v, strcspn(v, " \n"));
	free(out);
	return 0;
}
