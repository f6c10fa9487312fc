#include <sys/stat.h>

#include "harness.h"
#include "lib/config/deployment.h"
#include "lib/render/kubernetes.h"
#include "lib/util/fsutil.h"

/* A root of its own: the repository's variable schema, a profile and pod
 * templates that exist nowhere else, so that the conversion is shown to
 * need nothing but the templates. */
static const char alpha_template[] =
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata:\n"
    "  name: alpha-config\n"
    "data:\n"
    "  alpha.conf: !file alpha.conf\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  name: pod-alpha\n"
    "  labels:\n"
    "    aegis.io/pod: alpha\n"
    "  annotations:\n"
    "    aegis.io/depends-on: \"beta, gamma, outside\"\n"
    "    aegis.io/kubernetes-service: LoadBalancer\n"
    "spec:\n"
    "  containers:\n"
    "    - name: web\n"
    "      image: ${AEGIS_RUNTIME_IMAGE}\n"
    "      args: [\"--password=${POSTGRES_PASSWORD}\", \"literal $(HOME) $$\"]\n"
    "      env:\n"
    "        - name: PASSWORD\n"
    "          value: ${POSTGRES_PASSWORD}\n"
    "        - name: URL\n"
    "          value: postgresql://aegis:${POSTGRES_PASSWORD}@pod-beta:5432/x?a=$(b)\n"
    "        - name: PRICE\n"
    "          value: cost$${POSTGRES_PASSWORD}\n"
    "        - name: PLAIN\n"
    "          value: \"8080\"\n"
    "      ports:\n"
    "        - containerPort: 8080\n"
    "          hostPort: ${AEGIS_HTTP_PORT}\n"
    "        - containerPort: 9000\n"
    "          name: metrics\n"
    "      readinessProbe:\n"
    "        httpGet:\n"
    "          path: /ready\n"
    "          port: 8080\n"
    "      volumeMounts:\n"
    "        - name: data\n"
    "          mountPath: /data\n"
    "        - name: conf\n"
    "          mountPath: /etc/alpha\n"
    "  volumes:\n"
    "    - name: data\n"
    "      persistentVolumeClaim:\n"
    "        claimName: alpha-data\n"
    "    - name: conf\n"
    "      configMap:\n"
    "        name: alpha-config\n";

static const char beta_template[] = "apiVersion: v1\n"
				    "kind: Pod\n"
				    "metadata:\n"
				    "  name: pod-beta\n"
				    "  labels:\n"
				    "    aegis.io/pod: beta\n"
				    "  annotations:\n"
				    "    aegis.io/kubernetes-workload: StatefulSet\n"
				    "spec:\n"
				    "  containers:\n"
				    "    - name: db\n"
				    "      image: ${POSTGRES_IMAGE}\n"
				    "      readinessProbe:\n"
				    "        exec:\n"
				    "          command: [\"true\"]\n";

static const char gamma_template[] = "apiVersion: v1\n"
				     "kind: Pod\n"
				     "metadata:\n"
				     "  name: pod-gamma\n"
				     "  labels:\n"
				     "    aegis.io/pod: gamma\n"
				     "spec:\n"
				     "  containers:\n"
				     "    - name: queue\n"
				     "      image: ${POSTGRES_IMAGE}\n"
				     "      ports:\n"
				     "        - containerPort: 7000\n"
				     "      readinessProbe:\n"
				     "        tcpSocket:\n"
				     "          port: 7000\n";

/* (no '"': POSTGRES_PASSWORD refuses it, kube/variables.yaml) */
#define SECRET_VALUE "s3cr3t-`quoted`: $(HOME) #x"

static void clear_environment(void)
{
	cleanup_free char *path = fs_join(harness_root(), "kube/variables.yaml");
	schema s;
	aerr_t err = {0};
	if (schema_load(path, &s, &err) < 0)
		return;
	for (size_t i = 0; i < s.n; i++)
		unsetenv(s.vars[i].name);
	schema_free(&s);
}

static void put(const char *dir, const char *name, const char *text)
{
	free(harness_write(dir, name, text));
}

static char *subdir(const char *dir, const char *name)
{
	char *p = fs_join(dir, name);
	mkdir(p, 0755);
	return p;
}

/* A root with pods alpha, beta, gamma (plus BETA_EXTRA appended to beta's
 * template); returns the root, the .env in *ENV. */
static char *make_root(const char *alpha, const char *beta, char **env)
{
	clear_environment();
	char *root = harness_tmpdir();
	cleanup_free char *kube = subdir(root, "kube");
	cleanup_free char *profiles = subdir(root, "profiles");
	cleanup_free char *a = subdir(kube, "alpha");
	cleanup_free char *b = subdir(kube, "beta");
	cleanup_free char *g = subdir(kube, "gamma");
	cleanup_free char *schema_src = fs_join(harness_root(), "kube/variables.yaml");
	char *schema_text = NULL;
	size_t len = 0;
	aerr_t err = {0};
	if (fs_read_file(schema_src, &schema_text, &len, &err) == 0)
		put(kube, "variables.yaml", schema_text);
	free(schema_text);
	put(a, "pod.yaml", alpha);
	put(a, "alpha.conf", "listen = 8080\nname = \"alpha\"\n");
	put(b, "pod.yaml", beta);
	put(g, "pod.yaml", gamma_template);
	put(profiles, "test.yaml",
	    "name: test\ndescription: fake pods\npods: [alpha, beta, gamma]\n");
	*env = harness_write(root, ".env",
			     "POSTGRES_PASSWORD='" SECRET_VALUE "'\n"
			     "KEYCLOAK_ADMIN_PASSWORD=unused-by-these-pods\n"
			     "GRAFANA_ADMIN_PASSWORD=unused-too\n");
	return root;
}

static const kube_file *file_named(const kube_manifests *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->files[i].name, name) == 0)
			return &m->files[i];
	return NULL;
}

static int convert(const char *alpha, const char *beta, const char *ns, kube_manifests *m,
		   aerr_t *err)
{
	cleanup_free char *env = NULL;
	cleanup_free char *root = make_root(alpha, beta, &env);
	deployment d;
	if (deployment_load(&d, root, env, "test", 0, err) < 0)
		return -1;
	kube_opts opts = {.namespace = ns};
	int rc = kube_convert(&d, &opts, m, err);
	deployment_free(&d);
	return rc;
}

TEST(kubernetes_converts_a_new_pod_without_code)
{
	kube_manifests m;
	aerr_t err = {0};
	if (convert(alpha_template, beta_template, "team-a", &m, &err) < 0)
		CHECK_STR(err.msg, "");
	const char *want[] = {
	    "namespace-team-a.yaml",	   "secret-aegis-secrets.yaml",
	    "configmap-alpha-config.yaml", "service-pod-alpha.yaml",
	    "deployment-pod-alpha.yaml",   "persistentvolumeclaim-alpha-data.yaml",
	    "service-pod-beta.yaml",	   "statefulset-pod-beta.yaml",
	    "service-pod-gamma.yaml",	   "deployment-pod-gamma.yaml",
	    "kustomization.yaml"};
	bool all = m.n == ARRAY_SIZE(want);
	for (size_t i = 0; all && i < m.n; i++)
		all = strcmp(m.files[i].name, want[i]) == 0;
	if (!all)
		for (size_t i = 0; i < m.n; i++)
			printf("  %s\n", m.files[i].name);
	const kube_file *dep = file_named(&m, "deployment-pod-alpha.yaml");
	const kube_file *svc = file_named(&m, "service-pod-alpha.yaml");
	const kube_file *sts = file_named(&m, "statefulset-pod-beta.yaml");
	const kube_file *secret = file_named(&m, "secret-aegis-secrets.yaml");
	const kube_file *cm = file_named(&m, "configmap-alpha-config.yaml");
	const kube_file *kust = file_named(&m, "kustomization.yaml");
	cleanup_free char *d = dep ? xstrdup(dep->yaml) : NULL;
	cleanup_free char *s = svc ? xstrdup(svc->yaml) : NULL;
	cleanup_free char *st = sts ? xstrdup(sts->yaml) : NULL;
	cleanup_free char *c = cm ? xstrdup(cm->yaml) : NULL;
	cleanup_free char *k = kust ? xstrdup(kust->yaml) : NULL;
	bool secret_flags = secret && secret->secret;
	bool leaked = false;
	for (size_t i = 0; i < m.n; i++)
		leaked |= !m.files[i].secret && strstr(m.files[i].yaml, "s3cr3t");
	kube_manifests_free(&m);
	CHECK(all);
	CHECK(secret_flags);
	CHECK(!leaked);
	/* secrets: a whole value by reference, an embedded one by expansion,
	 * literal "$(" and "$$" escaped so Kubernetes gives them back */
	CHECK_CONTAINS(d,
		       "- name: PASSWORD\n          valueFrom:\n            secretKeyRef:\n"
		       "              name: aegis-secrets\n              key: POSTGRES_PASSWORD\n");
	CHECK_CONTAINS(d, "- name: AEGIS_SECRET_POSTGRES_PASSWORD\n          valueFrom:");
	CHECK_CONTAINS(d, "value: postgresql://aegis:$(AEGIS_SECRET_POSTGRES_PASSWORD)"
			  "@pod-beta:5432/x?a=$$(b)\n");
	CHECK_CONTAINS(d, "- --password=$(AEGIS_SECRET_POSTGRES_PASSWORD)\n");
	CHECK_CONTAINS(d, "- literal $$(HOME) $$$\n");
	CHECK_CONTAINS(d, "value: cost$$$(AEGIS_SECRET_POSTGRES_PASSWORD)\n");
	CHECK_CONTAINS(d, "value: \"8080\"\n");
	CHECK(!strstr(d, "hostPort"));
	CHECK_CONTAINS(d, "namespace: team-a\n");
	CHECK_CONTAINS(d, "strategy:\n    type: Recreate\n");
	/* dependencies in the profile get init containers; "outside" does not */
	CHECK_CONTAINS(d, "- name: wait-for-beta\n");
	CHECK_CONTAINS(d, "- dns://pod-beta\n");
	CHECK_CONTAINS(d, "- name: wait-for-gamma\n");
	CHECK_CONTAINS(d, "- tcp://pod-gamma:7000\n");
	CHECK(!strstr(d, "wait-for-outside"));
	CHECK_CONTAINS(s, "type: LoadBalancer\n");
	CHECK_CONTAINS(s, "- name: tcp-8080\n    port: 8080\n    targetPort: 8080\n");
	CHECK_CONTAINS(s, "- name: metrics\n    port: 9000\n");
	CHECK_CONTAINS(st, "kind: StatefulSet\n");
	CHECK_CONTAINS(st, "serviceName: pod-beta\n");
	CHECK_CONTAINS(c, "alpha.conf: |\n    listen = 8080\n");
	CHECK_CONTAINS(k, "- deployment-pod-alpha.yaml\n");
}

TEST(kubernetes_secret_holds_the_values)
{
	kube_manifests m;
	aerr_t err = {0};
	if (convert(alpha_template, beta_template, NULL, &m, &err) < 0)
		CHECK_STR(err.msg, "");
	const kube_file *secret = file_named(&m, "secret-aegis-secrets.yaml");
	cleanup_free char *text = secret ? xstrdup(secret->yaml) : NULL;
	const char *ns = m.namespace;
	bool default_ns = ns && strcmp(ns, "aegis") == 0;
	kube_manifests_free(&m);
	CHECK(default_ns);
	/* base64 of SECRET_VALUE; the unused secrets are left out */
	CHECK_CONTAINS(text, "  POSTGRES_PASSWORD: czNjcjN0LWBxdW90ZWRgOiAkKEhPTUUpICN4\n");
	CHECK(!strstr(text, "KEYCLOAK_ADMIN_PASSWORD"));
}

TEST(kubernetes_secret_outside_env_is_an_error)
{
	/* a secret in a probe command could not be kept out of the object */
	char *beta = xasprintf("%s%s", beta_template,
			       "      livenessProbe:\n"
			       "        exec:\n"
			       "          command: [\"check\", \"${POSTGRES_PASSWORD}\"]\n");
	kube_manifests m;
	aerr_t err = {0};
	int rc = convert(alpha_template, beta, NULL, &m, &err);
	free(beta);
	CHECK(rc < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg,
		       "kube/beta/pod.yaml: spec: containers[0].livenessProbe.exec.command[1]"
		       " holds the secret variable POSTGRES_PASSWORD");
	CHECK(!strstr(err.msg, "s3cr3t"));
}

TEST(kubernetes_bad_annotation_and_namespace)
{
	char *beta = xstrdup(beta_template);
	char *at = strstr(beta, "StatefulSet");
	memcpy(at, "DaemonSet  ", 11);
	kube_manifests m;
	aerr_t err = {0};
	int rc = convert(alpha_template, beta, NULL, &m, &err);
	free(beta);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "kube/beta/pod.yaml: metadata.annotations."
				"aegis.io/kubernetes-workload: \"DaemonSet\" is not one of "
				"Deployment, StatefulSet");
	aerr_t err2 = {0};
	CHECK(convert(alpha_template, beta_template, "Bad_NS", &m, &err2) < 0);
	CHECK(err2.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err2.msg, "namespace \"Bad_NS\"");
	/* beta has no port for a load balancer to route */
	char *lb = xstrdup(beta_template);
	char *kind = strstr(lb, "aegis.io/kubernetes-workload: StatefulSet");
	memcpy(kind, "aegis.io/kubernetes-service: LoadBalancer", 41);
	aerr_t err3 = {0};
	rc = convert(alpha_template, lb, NULL, &m, &err3);
	free(lb);
	CHECK(rc < 0);
	CHECK_CONTAINS(err3.msg, "a Service of type LoadBalancer needs a container port");
}

TEST(kubernetes_write_modes)
{
	kube_manifests m;
	aerr_t err = {0};
	if (convert(alpha_template, beta_template, NULL, &m, &err) < 0)
		CHECK_STR(err.msg, "");
	cleanup_free char *base = harness_tmpdir();
	cleanup_free char *dir = fs_join(base, "out");
	int rc = kube_write(&m, dir, &err);
	kube_manifests_free(&m);
	CHECK(rc == 0);
	struct stat st_dir, st_secret, st_dep;
	cleanup_free char *secret = fs_join(dir, "secret-aegis-secrets.yaml");
	cleanup_free char *dep = fs_join(dir, "deployment-pod-alpha.yaml");
	CHECK(stat(dir, &st_dir) == 0 && stat(secret, &st_secret) == 0 && stat(dep, &st_dep) == 0);
	CHECK((st_dir.st_mode & 07777) == 0700);
	CHECK((st_secret.st_mode & 07777) == 0600);
	CHECK((st_dep.st_mode & 07777) == 0644);
}
