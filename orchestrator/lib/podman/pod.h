/* The pod model, read from a rendered manifest: what the engine needs to
 * order, start, probe and report a pod.  Everything here comes from the
 * template (kube/<pod>/pod.yaml); nothing is repeated in C. */
#ifndef AEGIS_POD_H
#define AEGIS_POD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* metadata.annotations key listing the pods this pod depends on (comma-separated) */
#define POD_DEPENDS_ANNOTATION "aegis.io/depends-on"
/* metadata.annotations key listing the extra names (comma-separated) the pod
 * answers to on the pod network, besides its own pod name: a public hostname
 * the pods must reach at this pod (aardvark-dns network aliases). */
#define POD_ALIASES_ANNOTATION "aegis.io/network-aliases"
/* one alias per annotation: aegis.io/network-alias.NAME */
#define POD_ALIAS_ANNOTATION_PREFIX "aegis.io/network-alias."
/* metadata.labels key naming the logical pod (core, database, ...) */
#define POD_LABEL "aegis.io/pod"

typedef enum { PROBE_NONE = 0, PROBE_HTTP, PROBE_TCP, PROBE_EXEC } probe_kind;

typedef struct probe {
	probe_kind kind;
	char *path;	/* httpGet path */
	int port;	/* container port (httpGet/tcpSocket) */
	int host_port;	/* the published host port for PORT, 0 if not published */
	char host[48];	/* the address the probe connects to: the port's hostIP,
			 * or loopback when it is published on every address */
	char **command; /* exec argv (NULL-terminated) */
	size_t ncommand;
	int initial_delay_s;
	int period_s;
	int timeout_s;
	int failure_threshold;
} probe;

typedef struct container {
	char *name;
	char *image;
	probe readiness; /* readinessProbe, else livenessProbe, else none */
} container;

typedef struct port_map {
	int container_port;
	int host_port;
	char *host_ip; /* hostIP: the address it is published on ("" = every address) */
	char *protocol;
} port_map;

typedef struct pod {
	char *name;	/* logical name: core, database, ... */
	char *pod_name; /* metadata.name of the Pod object (what Podman calls it) */
	char **depends; /* logical names */
	size_t ndepends;
	char **aliases; /* network aliases (POD_ALIASES_ANNOTATION) */
	size_t naliases;
	container *containers;
	size_t ncontainers;
	char **volumes; /* persistentVolumeClaim claim names */
	size_t nvolumes;
	char *manifest_hash; /* label aegis.io/manifest-hash (see render.h), or NULL */
	char **sockets;	     /* hostPath volumes of type Socket: paths that must exist */
	size_t nsockets;
	port_map *ports;
	size_t nports;
} pod;

/* Read the Pod document of a rendered manifest (other documents such as
 * ConfigMaps are skipped).  SOURCE names the manifest in errors. */
int pod_from_manifest(const char *source, const char *yaml, size_t len, pod *out, aerr_t *err);
void pod_free(pod *p);
/* "httpGet :8088/health", "tcpSocket :5432", "exec pg_isready -U aegis" (newly allocated) */
char *probe_describe(const probe *p);
/* The parts of that description: "httpGet", "tcpSocket", "exec" or "none" */
const char *probe_kind_name(probe_kind kind);
/* ":8088/health", ":5432", "pg_isready -U aegis" (newly allocated) */
char *probe_target(const probe *p);

#endif
