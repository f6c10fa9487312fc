/* aegis-deploy render: the profile's manifests, as Podman will receive them. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "options.h"
#include "lib/deployment.h"
#include "lib/fsutil.h"
#include "lib/kubernetes.h"

static const char usage_text[] =
    "Usage: aegis-deploy render [--profile NAME] [--pod NAME] [--out DIR]\n"
    "       aegis-deploy render --target kubernetes [--profile NAME] [--namespace NS] --out DIR\n"
    "\n"
    "Render the Kube YAML of the profile's pods from kube/<pod>/pod.yaml and the\n"
    "configuration.  Without --out the manifests are printed as one YAML stream.\n"
    "\n"
    "  --pod NAME   only this pod of the profile\n"
    "  --out DIR    write DIR/<pod>.yaml instead; when a manifest holds a secret,\n"
    "               DIR is made 0700 and that manifest 0600\n"
    "  --target T   podman (default): the manifests Podman plays;\n"
    "               kubernetes: a directory for `kubectl apply -k DIR` (Namespace,\n"
    "               one Secret (0600, DIR 0700), ConfigMaps, PersistentVolumeClaims,\n"
    "               a Service and a Deployment or StatefulSet per pod)\n"
    "  --namespace NS  the Kubernetes namespace (default K8S_NAMESPACE)\n"
    "\n";

/* DIR for manifests: private when any of them holds a secret; an existing
 * directory is otherwise left as it is. */
static int prepare_dir(const char *dir, bool private, aerr_t *err)
{
	if (private)
		return fs_mkdir_private(dir, 0700, err);
	struct stat st;
	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return aerr_sys(err, AEGIS_EFAIL, errno, "cannot use %s", dir);
		return fs_mkdir_private(dir, 0755, err);
	}
	if (!S_ISDIR(st.st_mode))
		return aerr_set(err, AEGIS_EFAIL, "%s exists and is not a directory", dir);
	return 0;
}

static int write_manifests(const struct cli *cli, const deployment *d, int only, const char *dir,
			   aerr_t *err)
{
	bool secrets = false;
	for (size_t i = 0; i < d->npods; i++)
		if (only < 0 || (size_t)only == i)
			secrets |= d->manifests[i].has_secrets;
	if (prepare_dir(dir, secrets, err) < 0)
		return -1;
	json_t *files = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		const rendered *m = &d->manifests[i];
		cleanup_free char *name = xasprintf("%s.yaml", d->pods[i].name);
		cleanup_free char *path = fs_join(dir, name);
		mode_t mode = m->has_secrets ? 0600 : 0644;
		if (fs_write_atomic(path, m->yaml, m->len, mode, err) < 0) {
			json_decref(files);
			return -1;
		}
		if (cli->json)
			json_array_append_new(files,
					      json_pack("{s:s, s:s, s:b}", "pod", d->pods[i].name,
							"path", path, "secrets", m->has_secrets));
		else
			printf("%s\n", path);
	}
	if (cli->json) {
		json_t *root = json_pack("{s:s, s:o}", "profile", d->prof.name, "files", files);
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		json_decref(files);
	}
	return 0;
}

static int write_kubernetes(const struct cli *cli, const deployment *d, const char *ns,
			    const char *dir, aerr_t *err)
{
	kube_manifests m;
	kube_opts opts = {.namespace = ns};
	if (kube_convert(d, &opts, &m, err) < 0 || kube_write(&m, dir, err) < 0) {
		kube_manifests_free(&m);
		return cli_fail(cli, err);
	}
	json_t *files = json_array();
	for (size_t i = 0; i < m.n; i++) {
		cleanup_free char *path = fs_join(dir, m.files[i].name);
		if (cli->json)
			json_array_append_new(files, json_pack("{s:s, s:s, s:s, s:b}", "path", path,
							       "kind", m.files[i].kind, "name",
							       m.files[i].object_name, "secrets",
							       m.files[i].secret));
		else
			printf("%s\n", path);
	}
	if (cli->json) {
		json_t *root = json_pack("{s:s, s:s, s:s, s:o}", "profile", d->prof.name, "target",
					 "kubernetes", "namespace", m.namespace, "files", files);
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(root);
	} else {
		json_decref(files);
	}
	kube_manifests_free(&m);
	return 0;
}

static void print_manifests(const deployment *d, int only)
{
	bool first = true;
	for (size_t i = 0; i < d->npods; i++) {
		if (only >= 0 && (size_t)only != i)
			continue;
		const rendered *m = &d->manifests[i];
		/* each manifest starts without "---": one marker between two makes
		 * the concatenation a single stream */
		if (!first)
			fputs("---\n", stdout);
		fwrite(m->yaml, 1, m->len, stdout);
		first = false;
	}
}

COMMAND(render)
{
	const char *pod_name = NULL, *out_dir = NULL, *target = "podman", *ns = NULL;
	const struct opt opts[] = {
		{"pod", 0, OPT_STRING, &pod_name},
		{"out", 0, OPT_STRING, &out_dir},
		{"target", 0, OPT_STRING, &target},
		{"namespace", 0, OPT_STRING, &ns},
		OPT_END,
	};
	int st = opts_parse("render", usage_text, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	bool kubernetes = strcmp(target, "kubernetes") == 0;
	if (!kubernetes && strcmp(target, "podman") != 0)
		return cli_usage("render", "--target '%s': expected podman or kubernetes", target);
	if (kubernetes && (!out_dir || pod_name))
		return cli_usage("render", "--target kubernetes needs --out DIR and takes no --pod");
	if (!kubernetes && ns)
		return cli_usage("render", "--namespace goes with --target kubernetes");
	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, 0, &err) < 0)
		return cli_fail(cli, &err);
	int rc = 0;
	int only = -1;
	if (kubernetes)
		rc = write_kubernetes(cli, &d, ns, out_dir, &err);
	else if (pod_name && (only = deployment_find_pod(&d, pod_name, &err)) < 0)
		rc = cli_fail(cli, &err);
	else if (out_dir && write_manifests(cli, &d, only, out_dir, &err) < 0)
		rc = cli_fail(cli, &err);
	else if (!out_dir)
		print_manifests(&d, only);
	deployment_free(&d);
	return rc;
}
