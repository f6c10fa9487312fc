/* The same pod templates as Kubernetes objects: a directory that
 * `kubectl apply -k DIR` accepts.
 *
 * The conversion reads only the templates (rendered, parsed) and the plan:
 *   - each Pod becomes a Deployment, or a StatefulSet when its template says
 *     so (annotation aegis.io/kubernetes-workload), and a Service named like
 *     the Podman pod (pod-database, ...) so connection strings stay valid;
 *     hostPort is dropped; the Service's type comes from the annotation
 *     aegis.io/kubernetes-service (ClusterIP unless set);
 *   - the template's other documents (the ConfigMaps of its !file includes)
 *     are kept as they are;
 *   - every persistentVolumeClaim becomes a PersistentVolumeClaim of the same
 *     name (size K8S_VOLUME_SIZE, class K8S_STORAGE_CLASS);
 *   - the dependencies of the plan become init containers (image
 *     K8S_WAIT_IMAGE) waiting until the dependency's Service answers its
 *     readiness checks;
 *   - secret variables go into ONE Secret; an environment value that is a
 *     secret becomes a secretKeyRef, a value that embeds one (a URL with the
 *     password) refers to it as $(AEGIS_SECRET_<NAME>), which Kubernetes
 *     expands from an env var of the same container (as it does in command
 *     and args).  A secret anywhere else is an error naming the template. */
#ifndef AEGIS_KUBERNETES_H
#define AEGIS_KUBERNETES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/deployment.h"

/* pod template annotations read by the conversion */
#define KUBE_WORKLOAD_ANNOTATION "aegis.io/kubernetes-workload" /* Deployment | StatefulSet */
#define KUBE_SERVICE_ANNOTATION                                                                    \
	"aegis.io/kubernetes-service" /* ClusterIP | LoadBalancer | NodePort */
/* the one Secret, and the env vars through which embedded secrets are expanded */
#define KUBE_SECRET_NAME "aegis-secrets"
#define KUBE_SECRET_ENV_PREFIX "AEGIS_SECRET_"

typedef struct kube_opts {
	const char *namespace; /* NULL: K8S_NAMESPACE */
} kube_opts;

typedef struct kube_file {
	char *name;	   /* file name inside the output directory */
	char *kind;	   /* kind of the object it holds */
	char *object_name; /* metadata.name */
	char *yaml;
	size_t len;
	bool secret; /* holds secret values (the Secret): written 0600 */
} kube_file;

typedef struct kube_manifests {
	char *namespace;
	kube_file *files; /* kustomization.yaml last */
	size_t n;
} kube_manifests;

/* Convert the profile's pods of D.  Errors name the template. */
int kube_convert(const deployment *d, const kube_opts *opts, kube_manifests *out, aerr_t *err);
/* Write every file into DIR (made 0700: the Secret is among them), each
 * atomically; the Secret 0600, the others 0644. */
int kube_write(const kube_manifests *m, const char *dir, aerr_t *err);
void kube_manifests_free(kube_manifests *m);

/* The files of M as written to DIR: [{path, kind, name, secrets}]. */
json_t *kube_files_json(const kube_manifests *m, const char *dir);

#endif
