/* A small client for Podman's REST API (libpod) over its unix socket,
 * through the project's one HTTP layer (http.h) and jansson.  No shelling out
 * for what the API offers; the private `podman system service` is started
 * through spawn.h.  Every call has a time bound (README, "Time bounds of the
 * Podman API"): a Podman that stalls is an error naming the endpoint. */
#ifndef AEGIS_PODMAN_H
#define AEGIS_PODMAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

typedef struct podman podman;

/* Connect to SOCK (CONTAINER_SOCK).  If SOCK does not exist, start a private
 * `podman system service` on a socket in a private runtime directory, for the
 * lifetime of this handle (stopped by podman_close; pods it started keep
 * running).  Podman not installed: error naming `make setup`.  Checks the API
 * answers (_ping).  The private service never outlives this process, even
 * killed (spawn_service_start's watchdog).  Safe to call from several
 * threads, one handle each; a handle is for one thread. */
int podman_open(podman **out, const char *sock, aerr_t *err);
void podman_close(podman *pm);
/* The socket in use (the private one when started). */
const char *podman_socket(const podman *pm);

/* One API call.  METHOD/PATH like ("GET", "/libpod/pods/json?filters=...");
 * the versioned prefix is added here; PATH parameters must be URL-encoded by
 * the caller.  BODY may be NULL.  On HTTP >= 400
 * (unless listed in OK_STATUS, a 0-terminated list) the error names the
 * endpoint, the status and Podman's own message.  *RESPONSE (optional) gets
 * the parsed JSON body (NULL when empty or not JSON); *STATUS (optional) the
 * HTTP status. */
int podman_call(podman *pm, const char *method, const char *path, const char *content_type,
		const void *body, size_t body_len, const long *ok_status, long *status,
		json_t **response, aerr_t *err);

/* --- operations used by the engine ------------------------------------- */

/* kube play on NETWORK (NULL: Podman's default), replacing the YAML's pods
 * if they exist (their volumes stay).  Meant for one Pod per YAML (plus
 * ConfigMaps/PVCs).  Containers that failed to start are errors too. */
int podman_play_kube(podman *pm, const char *yaml, size_t len, const char *network, aerr_t *err);
/* Pods with label app.kubernetes.io/part-of=aegis: array of libpod pod
 * list objects (Name, Id, Status, Created, Labels, Containers[{Id,Names,Status}]). */
int podman_list_pods(podman *pm, json_t **pods, aerr_t *err);
/* Pod inspect JSON, or *out = NULL when the pod does not exist. */
int podman_inspect_pod(podman *pm, const char *name, json_t **out, aerr_t *err);
/* Stopping or removing something already stopped or absent is not an error. */
int podman_stop_pod(podman *pm, const char *name, int timeout_s, aerr_t *err);
/* podman_stop_pod for a pod that is to be started again: after the stop,
 * waits (at most SETTLE_S seconds) until the exit commands of its containers
 * have finished.  Podman 4's kube-played pods have the exit policy "stop":
 * each container's exit command (`podman container cleanup`, run by its
 * conmon) queues a stop of the whole pod when no other container of it is
 * running, ignoring its own container (libpod/container_internal.go
 * stopPodIfNeeded, libpod/pod_api.go stopIfOnlyInfraRemains, v4.3.1).  One
 * that is late stops the pod again right after it was started.  Conmon waits
 * for its exit command, so the wait is for the conmon processes the
 * containers had (State.ConmonPid), seen in /proc with the container's ID in
 * their arguments; a Podman on another host (an ssh tunnel) has none here and
 * is not waited for.  *WAITED (optional) gets the seconds waited. */
int podman_stop_pod_settled(podman *pm, const char *name, int timeout_s, double settle_s,
			    double *waited, aerr_t *err);
/* Remove (force). */
int podman_remove_pod(podman *pm, const char *name, aerr_t *err);
/* Container inspect JSON, or *out = NULL when absent. */
int podman_inspect_container(podman *pm, const char *name, json_t **out, aerr_t *err);
int podman_stop_container(podman *pm, const char *name, int timeout_s, aerr_t *err);
/* Run ARGV (NULL-terminated) in a running container; *EXIT_CODE gets its
 * status, *OUTPUT (optional) its combined output (newly allocated, at most
 * 1 MiB; may be set on errors too, NULL when nothing ran).  Gives up after
 * TIMEOUT_S (the command itself is left to finish: the API cannot kill an
 * exec session). */
int podman_exec(podman *pm, const char *container, char *const argv[], int timeout_s,
		int *exit_code, char **output, aerr_t *err);
/* The same with ENV (NULL-terminated "NAME=value" strings, or NULL) added
 * to the command's environment: how a secret reaches a command without
 * being one of its arguments (/proc/PID/cmdline is world-readable, the
 * environment is not).  The request body holding ENV is wiped. */
int podman_exec_env(podman *pm, const char *container, char *const argv[], char *const env[],
		    int timeout_s, int *exit_code, char **output, aerr_t *err);
/* Last TAIL lines (-1: all) of a container's stdout+stderr, demultiplexed,
 * written to FD (-1: none) as they arrive and collected in OUTPUT (optional,
 * newly allocated).  With FOLLOW, until the container stops (no time limit,
 * but a quiet stream checks every 30 s that Podman still answers _ping). */
int podman_logs(podman *pm, const char *container, int tail, bool follow, int fd, char **output,
		aerr_t *err);

int podman_network_exists(podman *pm, const char *name, bool *exists, aerr_t *err);
/* GET /libpod/networks/NAME/json; *OUT NULL when there is no such network. */
int podman_network_inspect(podman *pm, const char *name, json_t **out, aerr_t *err);
/* Create a bridge with DNS (aardvark-dns), labelled app.kubernetes.io/part-of=aegis. */
int podman_network_create(podman *pm, const char *name, aerr_t *err);
int podman_network_remove(podman *pm, const char *name, aerr_t *err);
int podman_volume_exists(podman *pm, const char *name, bool *exists, aerr_t *err);
/* Create with label app.kubernetes.io/part-of=aegis. */
int podman_volume_create(podman *pm, const char *name, aerr_t *err);
/* Force: containers using the volume are removed with it. */
int podman_volume_remove(podman *pm, const char *name, aerr_t *err);
/* Names of volumes labelled app.kubernetes.io/part-of=aegis or named aegis-*
 * (each and the array newly allocated). */
int podman_list_volumes(podman *pm, char ***names, size_t *n, aerr_t *err);
int podman_image_exists(podman *pm, const char *ref, bool *exists, aerr_t *err);
/* Pull REF; PROGRESS (optional) is called with each status line.  Errors
 * name the image and the registry. */
int podman_image_pull(podman *pm, const char *ref, void (*progress)(void *, const char *),
		      void *ctx, aerr_t *err);

/* --- created ahead, started on the gate ------------------------------------ */

/* kube play with start=false: the pod and its containers are created (the
 * previous pod of that name removed first, as podman_play_kube does), none
 * is started. */
int podman_create_kube(podman *pm, const char *yaml, size_t len, const char *network, aerr_t *err);
/* Start every container of the pod not yet running; a container that did
 * not start is an error naming it. */
int podman_start_pod(podman *pm, const char *name, aerr_t *err);
/* Start one container (name or id); already running is fine. */
int podman_start_container(podman *pm, const char *name, aerr_t *err);
/* The id of the pod's infra container (its network namespace and ports),
 * newly allocated in *ID. */
int podman_pod_infra_id(podman *pm, const char *name, char **id, aerr_t *err);

/* The major version of the Podman behind the API (GET /libpod/version's
 * "Version": 4 for Debian 12's 4.3, 5 for Debian 13's 5.4), asked once per
 * connection.  What differs between them is decided on it. */
int podman_server_major(podman *pm, int *major, aerr_t *err);
/* --- secrets ------------------------------------------------------------ */

/* Create secret NAME holding DATA (it must not exist: Podman 4.3 has no
 * replace).  Podman keeps it in its own store (the file driver: 0600 files
 * under its storage); DATA never appears in a request line or an error. */
int podman_secret_create(podman *pm, const char *name, const void *data, size_t len, aerr_t *err);
/* Removing an absent secret is not an error. */
int podman_secret_remove(podman *pm, const char *name, aerr_t *err);
/* Names of the secrets whose name starts with PREFIX (each and the array
 * newly allocated). */
int podman_list_secrets(podman *pm, const char *prefix, char ***names, size_t *n, aerr_t *err);

/* --- images ------------------------------------------------------------- */

/* Image inspect JSON (GET /libpod/images/REF/json), or *OUT = NULL when
 * there is no such image. */
int podman_image_inspect(podman *pm, const char *ref, json_t **out, aerr_t *err);

#endif
