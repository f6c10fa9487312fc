#include "harness.h"
#include "lib/podman/pod.h"

static const char manifest[] = "apiVersion: v1\n"
			       "kind: ConfigMap\n"
			       "metadata:\n"
			       "  name: database-config\n"
			       "data:\n"
			       "  kind: Pod\n"
			       "---\n"
			       "apiVersion: v1\n"
			       "kind: Pod\n"
			       "metadata:\n"
			       "  name: pod-database\n"
			       "  labels:\n"
			       "    aegis.io/pod: database\n"
			       "  annotations:\n"
			       "    aegis.io/depends-on: ' secrets , iam,, '\n"
			       "spec:\n"
			       "  containers:\n"
			       "    - name: postgres\n"
			       "      image: docker.io/library/postgres:15\n"
			       "      ports:\n"
			       "        - containerPort: 5432\n"
			       "          hostPort: 15432\n"
			       "          name: pg\n"
			       "        - containerPort: 5353\n"
			       "          protocol: UDP\n"
			       "      readinessProbe:\n"
			       "        exec:\n"
			       "          command: [pg_isready, -U, aegis]\n"
			       "        periodSeconds: 5\n"
			       "        failureThreshold: 30\n"
			       "      livenessProbe:\n"
			       "        tcpSocket:\n"
			       "          port: 5432\n"
			       "    - name: exporter\n"
			       "      image: quay.io/prometheuscommunity/postgres-exporter\n"
			       "      ports:\n"
			       "        - containerPort: 9187\n"
			       "          name: metrics\n"
			       "      livenessProbe:\n"
			       "        httpGet:\n"
			       "          path: /metrics\n"
			       "          port: metrics\n"
			       "        initialDelaySeconds: 2\n"
			       "        timeoutSeconds: 4\n"
			       "    - name: sidecar\n"
			       "      image: localhost/sidecar\n"
			       "      readinessProbe:\n"
			       "        tcpSocket:\n"
			       "          port: 5432\n"
			       "    - name: quiet\n"
			       "      image: localhost/quiet\n"
			       "  volumes:\n"
			       "    - name: data\n"
			       "      persistentVolumeClaim:\n"
			       "        claimName: aegis-postgres-data\n"
			       "    - name: config\n"
			       "      configMap:\n"
			       "        name: database-config\n"
			       "    - name: wal\n"
			       "      persistentVolumeClaim:\n"
			       "        claimName: aegis-postgres-wal\n";

TEST(pod_model_from_manifest)
{
	pod p;
	aerr_t err = {0};
	int rc = pod_from_manifest("database.yaml", manifest, strlen(manifest), &p, &err);
	if (rc < 0)
		printf("  %s\n", err.msg);
	CHECK(rc == 0);
	/* a failed CHECK returns early and leaks P: the test has failed anyway */
	CHECK_STR(p.name, "database");
	CHECK_STR(p.pod_name, "pod-database");
	CHECK(p.ndepends == 2);
	CHECK_STR(p.depends[0], "secrets");
	CHECK_STR(p.depends[1], "iam");
	CHECK(p.ncontainers == 4);
	CHECK_STR(p.containers[0].name, "postgres");
	CHECK_STR(p.containers[0].image, "docker.io/library/postgres:15");

	const probe *pg = &p.containers[0].readiness;
	CHECK(pg->kind == PROBE_EXEC);
	CHECK(pg->ncommand == 3 && pg->command[3] == NULL);
	CHECK_STR(pg->command[2], "aegis");
	CHECK(pg->period_s == 5 && pg->failure_threshold == 30);
	CHECK(pg->initial_delay_s == 0 && pg->timeout_s == 1);

	const probe *ex = &p.containers[1].readiness;
	CHECK(ex->kind == PROBE_HTTP);
	CHECK_STR(ex->path, "/metrics");
	CHECK(ex->port == 9187 && ex->host_port == 0);
	CHECK(ex->initial_delay_s == 2 && ex->timeout_s == 4);
	CHECK(ex->period_s == 10 && ex->failure_threshold == 3);

	/* a port published by another container of the pod */
	const probe *sc = &p.containers[2].readiness;
	CHECK(sc->kind == PROBE_TCP);
	CHECK(sc->port == 5432 && sc->host_port == 15432);
	CHECK(p.containers[3].readiness.kind == PROBE_NONE);

	CHECK(p.nports == 3);
	CHECK(p.ports[0].container_port == 5432 && p.ports[0].host_port == 15432);
	CHECK_STR(p.ports[0].protocol, "TCP");
	CHECK_STR(p.ports[1].protocol, "UDP");
	CHECK(p.ports[2].container_port == 9187 && p.ports[2].host_port == 0);

	CHECK(p.nvolumes == 2);
	CHECK_STR(p.volumes[0], "aegis-postgres-data");
	CHECK_STR(p.volumes[1], "aegis-postgres-wal");

	cleanup_free char *d0 = probe_describe(pg);
	cleanup_free char *d1 = probe_describe(ex);
	cleanup_free char *d2 = probe_describe(sc);
	cleanup_free char *d3 = probe_describe(&p.containers[3].readiness);
	CHECK_STR(d0, "exec pg_isready -U aegis");
	CHECK_STR(d1, "httpGet :9187/metrics");
	CHECK_STR(d2, "tcpSocket :15432");
	CHECK_STR(d3, "none");
	pod_free(&p);
}

static int parse(const char *text, pod *p, aerr_t *err)
{
	int rc = pod_from_manifest("t.yaml", text, strlen(text), p, err);
	if (rc == 0 && p->name == NULL)
		return -2;
	return rc;
}

TEST(pod_name_defaults_and_host_port_of_http_probe)
{
	const char *text = "kind: Pod\n"
			   "metadata: {name: pod-core}\n"
			   "spec:\n"
			   "  containers:\n"
			   "    - name: runtime\n"
			   "      image: ghcr.io/x/aegis-runtime:latest\n"
			   "      ports: [{containerPort: 8088, hostPort: 18088}]\n"
			   "      readinessProbe: {httpGet: {path: health, port: 8088}}\n";
	pod p;
	aerr_t err = {0};
	CHECK(parse(text, &p, &err) == 0);
	cleanup_free char *d = probe_describe(&p.containers[0].readiness);
	cleanup_free char *name = xstrdup(p.name);
	size_t ndeps = p.ndepends;
	pod_free(&p);
	CHECK_STR(name, "core");
	CHECK(ndeps == 0);
	CHECK_STR(d, "httpGet :18088/health");
}

TEST(pod_unresolved_host_port_is_unpublished)
{
	const char *text = "kind: Pod\n"
			   "metadata: {name: pod-iam, annotations: {aegis.io/depends-on: ''}}\n"
			   "spec:\n"
			   "  containers:\n"
			   "    - name: keycloak\n"
			   "      image: quay.io/keycloak/keycloak:24\n"
			   "      ports: [{containerPort: 8080, hostPort: '${KEYCLOAK_PORT}'}]\n"
			   "      readinessProbe: {httpGet: {path: /health/ready, port: 8080}}\n";
	pod p;
	aerr_t err = {0};
	CHECK(parse(text, &p, &err) == 0);
	int host = p.ports[0].host_port;
	size_t ndeps = p.ndepends;
	cleanup_free char *d = probe_describe(&p.containers[0].readiness);
	pod_free(&p);
	CHECK(host == 0);
	CHECK(ndeps == 0);
	CHECK_STR(d, "httpGet :8080/health/ready");
}

TEST(pod_errors_name_source_and_field)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"kind: ConfigMap\nmetadata: {name: x}\n", "t.yaml: no document of kind Pod"},
	    {"kind: Pod\nspec: {containers: [{name: a}]}\n", "t.yaml: metadata.name"},
	    {"kind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n", "t.yaml: spec.containers"},
	    {"kind: Pod\nmetadata: {name: p}\n"
	     "spec: {containers: [{name: a, ports: [{containerPort: '${PORT}'}]}]}\n",
	     "t.yaml: spec.containers[0].ports[0].containerPort: expected an integer, got "
	     "\"${PORT}\""},
	    {"kind: Pod\nmetadata: {name: p}\n"
	     "spec: {containers: [{name: a, ports: [{containerPort: 1, hostPort: 8o}]}]}\n",
	     "t.yaml: spec.containers[0].ports[0].hostPort: expected an integer"},
	    {"kind: Pod\nmetadata: {name: p}\n"
	     "spec: {containers: [{name: a, readinessProbe: {tcpSocket: {port: web}}}]}\n",
	     "t.yaml: spec.containers[0].readinessProbe.tcpSocket.port"},
	    {"kind: Pod\nmetadata: {name: p}\n"
	     "spec: {containers: [{name: a, livenessProbe: {exec: {command: [x]}, "
	     "periodSeconds: often}}]}\n",
	     "t.yaml: spec.containers[0].livenessProbe.periodSeconds: expected an integer"},
	    {"kind: Pod\nmetadata: {name: p}\n"
	     "spec: {containers: [{name: a, readinessProbe: {grpc: {port: 1}}}]}\n",
	     "t.yaml: spec.containers[0].readinessProbe: expected httpGet, tcpSocket or exec"},
	    {"kind: Pod\nmetadata: {name: [p}\n", "t.yaml:2:"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		pod p;
		aerr_t err = {0};
		int rc = parse(cases[i].text, &p, &err);
		if (rc == 0)
			pod_free(&p);
		if (rc != -1 || !strstr(err.msg, cases[i].want)) {
			harness_failf(__FILE__, __LINE__, "case %zu: rc %d, \"%s\"", i, rc,
				      err.msg);
			return;
		}
	}
}
