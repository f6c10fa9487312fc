/* edge-probe: the library calls `deploy` and `validate` make for the edge and
 * the SEAL keys, run against a deployed platform by
 * tests/integration/55-edge-tls.sh:
 *
 *   edge-probe ROOT ENV PROFILE export-ca   the internal CA out of pod-edge
 *   edge-probe ROOT ENV PROFILE routes      every edge route over HTTPS
 *   edge-probe ROOT ENV PROFILE seal-keys   the key each pod holds
 *
 * One line per result; exit 0 when every result is ok, 1 otherwise, 2 on an
 * error before any check ran. */
#include <stdio.h>
#include <string.h>

#include "lib/config/deployment.h"
#include "lib/rollout/edgecheck.h"
#include "lib/podman/podman.h"
#include "lib/bootstrap/sealkeys.h"

static int run(const char *what, podman *pm, const deployment *d, aerr_t *err)
{
	int bad = 0;
	if (strcmp(what, "export-ca") == 0) {
		char *path = NULL;
		if (edgecheck_export_ca(pm, d, 30, &path, err) < 0)
			return -1;
		printf("ca %s\n", path ? path : "(none: the TLS mode has no CA of its own)");
		free(path);
	} else if (strcmp(what, "routes") == 0) {
		edge_check *c = NULL;
		size_t n = 0;
		if (edgecheck_run(d, NULL, &c, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			printf("route %s %s %s %ld %.1fd %s\n", c[i].route, c[i].host,
			       !c[i].ok ? "FAIL" : c[i].warning ? "warn" : "ok", c[i].status,
			       c[i].days_left, c[i].detail);
			bad += !c[i].ok;
		}
		edge_checks_free(c, n);
	} else if (strcmp(what, "seal-keys") == 0) {
		sealkey_check *c = NULL;
		size_t n = 0;
		char want[96];
		if (sealkeys_check(pm, d, want, &c, &n, err) < 0)
			return -1;
		printf("keypair %s\n", want);
		for (size_t i = 0; i < n; i++) {
			printf("seal-key %s %s %s %s %s\n", c[i].pod, c[i].path ? c[i].path : "-",
			       c[i].ok ? "ok" : "FAIL", c[i].fingerprint[0] ? c[i].fingerprint : "-",
			       c[i].detail);
			bad += !c[i].ok;
		}
		sealkey_checks_free(c, n);
	} else {
		return aerr_set(err, AEGIS_ECONFIG, "unknown check '%s'", what);
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: edge-probe ROOT ENV PROFILE export-ca|routes|seal-keys\n");
		return 2;
	}
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, argv[1], argv[2], argv[3], DEPLOYMENT_LENIENT, &err) < 0) {
		fprintf(stderr, "edge-probe: %s\n", err.msg);
		return 2;
	}
	podman *pm = NULL;
	int rc = podman_open(&pm, config_get(&d.cfg, "CONTAINER_SOCK"), &err);
	if (rc == 0)
		rc = run(argv[4], pm, &d, &err);
	if (rc < 0)
		fprintf(stderr, "edge-probe: %s\n", err.msg);
	podman_close(pm);
	deployment_free(&d);
	return rc < 0 ? 2 : rc;
}
