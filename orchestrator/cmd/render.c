/* aegis-deploy render: the profile's manifests, as Podman will receive them. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/config/deployment.h"
#include "lib/podman/podsecret.h"
#include "lib/render/kubernetes.h"
#include "options.h"
#include "report.h"

static const char usage_text[] =
    "Usage: aegis-deploy render [--profile NAME] [--pod NAME] [--out DIR] [--podman-secrets]\n"
    "       aegis-deploy render --target kubernetes [--profile NAME] [--namespace NS] --out DIR\n"
    "\n"
    "Render the Kube YAML of the profile's pods from kube/<pod>/pod.yaml and the\n"
    "configuration.  Without --out the manifests are printed as one YAML stream.\n"
    "Secret values are not in them: a container's env value holding one refers\n"
    "to it (secretKeyRef) in the pod's Podman secret, aegis-secrets-<pod>.\n"
    "\n"
    "  --pod NAME   only this pod of the profile\n"
    "  --out DIR    write DIR/<pod>.yaml instead; when a manifest holds a secret,\n"
    "               DIR is made 0700 and that manifest 0600\n"
    "  --podman-secrets  also store each pod's secret values in its Podman secret,\n"
    "               as deploy does before creating a pod (the systemd units do)\n"
    "  --target T   podman (default): the manifests Podman plays;\n"
    "               kubernetes: a directory for `kubectl apply -k DIR` (Namespace,\n"
    "               one Secret (0600, DIR 0700), ConfigMaps, PersistentVolumeClaims,\n"
    "               a Service and a Deployment or StatefulSet per pod)\n"
    "  --namespace NS  the Kubernetes namespace (default K8S_NAMESPACE)\n"
    "\n";

/* The files written, as a list or (--json) an object of EXTRA and "files". */
static void print_files(const struct cli *cli, json_t *extra, json_t *files)
{
	if (cli->json) {
		json_object_set_new(extra, "files", files);
		report_print_json(extra);
	} else {
		size_t i;
		json_t *f;
		json_array_foreach(files, i, f)
		    printf("%s\n", json_string_value(json_object_get(f, "path")));
		json_decref(files);
	}
	json_decref(extra);
}

static int write_kubernetes(const struct cli *cli, const deployment *d, const char *ns,
			    const char *dir, aerr_t *err)
{
	kube_manifests m;
	kube_opts opts = {.namespace = ns};
	if (kube_convert(d, &opts, &m, err) < 0 || kube_write(&m, dir, err) < 0) {
		kube_manifests_free(&m);
		return -1;
	}
	json_t *files = kube_files_json(&m, dir);
	print_files(cli,
		    json_pack("{s:s, s:s, s:s}", "profile", d->prof.name, "target", "kubernetes",
			      "namespace", m.namespace),
		    files);
	kube_manifests_free(&m);
	return 0;
}

/* The Podman secrets of D's pods (only pod ONLY when >= 0). */
static int store_secrets(const struct cli *cli, const deployment *d, int only, aerr_t *err)
{
	podman *pm = NULL;
	int rc = cli_open_podman(cli, &d->cfg, &pm, err);
	rc = rc < 0 ? rc : podsecret_store_all(pm, d, only, err);
	podman_close(pm);
	return rc;
}

COMMAND(render)
{
	const char *pod_name = NULL, *out_dir = NULL, *target = "podman", *ns = NULL;
	bool store = false;
	const struct opt opts[] = {
	    {"podman-secrets", 0, OPT_BOOL, &store}, {"pod", 0, OPT_STRING, &pod_name},
	    {"out", 0, OPT_STRING, &out_dir},	     {"target", 0, OPT_STRING, &target},
	    {"namespace", 0, OPT_STRING, &ns},	     OPT_END,
	};
	int st = opts_parse("render", usage_text, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;
	bool kubernetes = strcmp(target, "kubernetes") == 0;
	if (!kubernetes && strcmp(target, "podman") != 0)
		return cli_usage("render", "--target '%s': expected podman or kubernetes", target);
	if (kubernetes && (!out_dir || pod_name))
		return cli_usage("render",
				 "--target kubernetes needs --out DIR and takes no --pod");
	if (!kubernetes && ns)
		return cli_usage("render", "--namespace goes with --target kubernetes");
	if (kubernetes && store)
		return cli_usage("render", "--podman-secrets goes with --target podman");
	aerr_t err = {0};
	deployment d;
	if (cli_load(cli, false, CLI_UNKNOWN_VARS, &d, NULL, &err) < 0)
		return cli_fail(cli, &err);
	int rc = 0, only = -1;
	json_t *files = NULL;
	if (kubernetes)
		rc = write_kubernetes(cli, &d, ns, out_dir, &err);
	else if (pod_name && (only = deployment_find_pod(&d, pod_name, &err)) < 0)
		rc = -1;
	else if (out_dir && (rc = deployment_write_manifests(&d, only, out_dir, &files, &err)) == 0)
		print_files(cli, json_pack("{s:s}", "profile", d.prof.name), files);
	else if (!out_dir)
		deployment_print(&d, only, stdout);
	if (rc == 0 && store)
		rc = store_secrets(cli, &d, only, &err);
	if (rc < 0)
		rc = cli_fail(cli, &err);
	deployment_free(&d);
	return rc;
}
