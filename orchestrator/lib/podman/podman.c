#include "podman/podman.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "util/clock.h"
#include "util/http.h"
#include "util/spawn.h"
#include "util/strbuf.h"
#include "util/wipe.h"

/* libpod paths need a version prefix; Podman 4.3 (and every 4.x) answers
 * v4.0.0.  Over the unix socket the host name is only a name. */
#define API_BASE "http://d/v4.0.0"

/* Every call is bounded (README, "Time bounds of the Podman API"):
 * connecting, the _ping that checks the service, and short calls (inspect,
 * list, create, remove) have a total bound; a play waits for containers to be
 * created and started; a stop waits the grace period on top; streams that
 * may rightly take long (a pull, logs) fail only when nothing arrives for
 * their stall bound, and a log follow, which may rightly stay quiet, pings
 * the service on a second connection whenever it has been quiet a while. */
#define CONNECT_TIMEOUT_MS 5000L
#define PING_TIMEOUT_MS 5000L
#define CALL_TIMEOUT_S 30L
#define PLAY_TIMEOUT_S 300L
#define PULL_STALL_S 300L
#define FOLLOW_PING_S 30
#define SERVICE_START_MS 15000
#define SERVICE_POLL_MS 50
#define SERVICE_STOP_GRACE_MS 10000
#define EXEC_OUTPUT_MAX (1024 * 1024)
#define PART_OF_LABEL "app.kubernetes.io/part-of"
#define PART_OF_VALUE "aegis"

struct podman {
	http_conn *conn;
	char *sock;
	/* the private `podman system service`, when podman_open started one */
	spawn_service service;
	char *dir;
	char *log;
	int major; /* podman_server_major, 0 until asked */
};

static const long OK_404[] = {404, 0};

/* The bound of short calls: CALL_TIMEOUT_S, or AEGIS_PODMAN_TIMEOUT seconds
 * (a slow machine; the fault tests). */
static long call_timeout_s(void)
{
	const char *v = getenv("AEGIS_PODMAN_TIMEOUT");
	char *end;
	long n = v && *v ? strtol(v, &end, 10) : 0;
	return n > 0 && n <= 86400 && !*end ? n : CALL_TIMEOUT_S;
}

/* --- the one way to the API --------------------------------------------- */

typedef int (*stream_fn)(void *ctx, const char *data, size_t len, aerr_t *err);

struct request {
	const char *method;
	const char *path; /* below the version prefix, query included */
	const char *content_type;
	const void *body;
	size_t body_len;
	long timeout_s;	       /* whole call; 0: none (then stall_s or follow) */
	long stall_s;	       /* fail when nothing arrives for this long */
	bool follow;	       /* may stay quiet: ping the service while it does */
	const long *ok_status; /* 0-terminated statuses >= 400 that are not errors */
	/* When set, the body of a successful answer goes here as it arrives
	 * instead of being collected; returning < 0 (err set) aborts. */
	stream_fn stream;
	void *ctx;
};

static bool status_listed(const long *list, long status)
{
	for (; list && *list; list++)
		if (*list == status)
			return true;
	return false;
}

/* "podman API GET /libpod/...: HTTP 404: <Podman's message>" */
static int api_error(aerr_t *err, const char *method, const char *path, long status,
		     const char *body, size_t len)
{
	int plen = (int)strcspn(path, "?");
	json_auto_t *js = body ? json_loadb(body, len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(js, "message"));
	if (!msg || !*msg)
		msg = json_string_value(json_object_get(js, "cause"));
	if (msg && *msg)
		return aerr_set(err, AEGIS_EFAIL, "podman API %s %.*s: HTTP %ld: %s", method, plen,
				path, status, msg);
	while (len && (body[len - 1] == '\n' || body[len - 1] == ' '))
		len--;
	if (len)
		return aerr_set(err, AEGIS_EFAIL, "podman API %s %.*s: HTTP %ld: %.*s", method,
				plen, path, status, (int)(len > 500 ? 500 : len), body);
	return aerr_set(err, AEGIS_EFAIL, "podman API %s %.*s: HTTP %ld", method, plen, path,
			status);
}

static int ping_socket(const char *sock, http_conn *conn, aerr_t *err);

struct follow {
	const char *sock;
	double next;
};

/* A quiet log follow: is the service still there? */
static int follow_idle(void *ctx, double idle_s, aerr_t *err)
{
	struct follow *f = ctx;
	if (idle_s < f->next)
		return 0;
	f->next = idle_s + FOLLOW_PING_S;
	http_conn *conn = NULL;
	int rc = http_conn_new(&conn, err);
	if (rc == 0 && ping_socket(f->sock, conn, err) < 0)
		rc = aerr_wrap(err, "the Podman API stopped answering while following logs");
	http_conn_free(conn);
	return rc;
}

struct stream_ctx {
	const struct request *rq;
	struct follow follow;
};

static int on_stream(void *ctx, const char *p, size_t n, aerr_t *err)
{
	struct stream_ctx *sc = ctx;
	return sc->rq->stream(sc->rq->ctx, p, n, err);
}

static int on_idle(void *ctx, double idle_s, aerr_t *err)
{
	return follow_idle(&((struct stream_ctx *)ctx)->follow, idle_s, err);
}

/* Every request to Podman goes through here.  RES (free it with
 * http_result_free) gets the status (0 when no answer), the collected body
 * (also on errors) and, on failure, how it failed.  Errors name the socket
 * or the endpoint and say what went wrong. */
static int request(podman *pm, const struct request *rq, http_result *res, aerr_t *err)
{
	cleanup_free char *url = xasprintf(API_BASE "%s", rq->path);
	/* no form content type on a bodiless POST */
	cleanup_free char *type = xasprintf("Content-Type:%s%s", rq->content_type ? " " : "",
					    rq->content_type ? rq->content_type : "");
	const char *headers[] = {type, NULL};
	struct stream_ctx sc = {.rq = rq, .follow = {.sock = pm->sock, .next = FOLLOW_PING_S}};
	http_exchange x = {
	    .method = rq->method,
	    .url = url,
	    .unix_socket = pm->sock,
	    .headers = headers,
	    .body = rq->body,
	    .body_len = rq->body_len,
	    .connect_timeout_ms = CONNECT_TIMEOUT_MS,
	    .timeout_ms = rq->timeout_s * 1000,
	    .stall_s = rq->stall_s,
	    .sink = rq->stream ? on_stream : NULL,
	    .idle = rq->follow ? on_idle : NULL,
	    .ctx = &sc,
	};
	int plen = (int)strcspn(rq->path, "?");
	if (http_perform(pm->conn, &x, res, err) < 0) {
		if (res->failure == HTTP_FAIL_ABORTED)
			return -1;
		if (res->failure == HTTP_FAIL_CONNECT)
			return aerr_wrap(err, "cannot reach the Podman API at %s", pm->sock);
		return aerr_wrap(err, "podman API %s %.*s (at %s)", rq->method, plen, rq->path,
				 pm->sock);
	}
	if (res->status >= 400 && !status_listed(rq->ok_status, res->status))
		return api_error(err, rq->method, rq->path, res->status, res->body.s,
				 res->body.len);
	return 0;
}

int podman_call(podman *pm, const char *method, const char *path, const char *content_type,
		const void *body, size_t body_len, const long *ok_status, long *status,
		json_t **response, aerr_t *err)
{
	struct request rq = {
	    .method = method,
	    .path = path,
	    .content_type = content_type,
	    .body = body,
	    .body_len = body_len,
	    .timeout_s = call_timeout_s(),
	    .ok_status = ok_status,
	};
	http_result res;
	if (response)
		*response = NULL;
	int rc = request(pm, &rq, &res, err);
	if (status)
		*status = res.status;
	if (rc == 0 && response && res.body.len)
		*response = json_loadb(res.body.s, res.body.len, 0, NULL);
	http_result_free(&res);
	return rc;
}

/* A JSON request body (compact) for OBJ, which this consumes. */
static int call_json(podman *pm, const char *method, const char *path, json_t *obj,
		     const long *ok_status, long *status, json_t **response, aerr_t *err)
{
	cleanup_free char *body = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!body)
		abort();
	return podman_call(pm, method, path, "application/json", body, strlen(body), ok_status,
			   status, response, err);
}

/* --- connecting -------------------------------------------------------- */

/* GET /libpod/_ping on SOCK: Podman answers "OK". */
static int ping_socket(const char *sock, http_conn *conn, aerr_t *err)
{
	const char *headers[] = {NULL};
	http_exchange x = {
	    .method = "GET",
	    .url = API_BASE "/libpod/_ping",
	    .unix_socket = sock,
	    .headers = headers,
	    .connect_timeout_ms = CONNECT_TIMEOUT_MS,
	    .timeout_ms = PING_TIMEOUT_MS,
	    .max_body = 4096,
	};
	http_result res;
	int rc = http_perform(conn, &x, &res, err);
	if (rc < 0 && res.failure == HTTP_FAIL_CONNECT)
		aerr_wrap(err, "cannot reach the Podman API at %s", sock);
	else if (rc < 0)
		aerr_wrap(err, "cannot reach the Podman API at %s: GET /libpod/_ping", sock);
	/* something answered, but not Podman (another service's socket) */
	else if (!(res.status == 200 && res.body.s && strncmp(res.body.s, "OK", 2) == 0))
		rc = aerr_set(err, AEGIS_EFAIL,
			      "cannot reach the Podman API at %s: GET /libpod/_ping answered HTTP "
			      "%ld, not OK (is it Podman's API socket?)",
			      sock, res.status);
	http_result_free(&res);
	return rc;
}

static int ping(podman *pm, aerr_t *err)
{
	return ping_socket(pm->sock, pm->conn, err);
}

static int make_runtime_dir(podman *pm, aerr_t *err)
{
	return spawn_private_dir("aegis-podman-", sizeof "/podman.sock", &pm->dir, err);
}

static int start_service(podman *pm, aerr_t *err)
{
	cleanup_free char *bin = spawn_which("podman");
	if (!bin)
		return aerr_set(err, AEGIS_ECONFIG,
				"podman is not installed: run `make setup` (scripts/setup.sh)");
	if (make_runtime_dir(pm, err) < 0)
		return -1;
	free(pm->sock);
	pm->sock = xasprintf("%s/podman.sock", pm->dir);
	pm->log = xasprintf("%s/service.log", pm->dir);
	cleanup_free char *listen = xasprintf("unix://%s", pm->sock);
	char *argv[] = {bin, "system", "service", "--time=0", listen, NULL};
	/* the watchdog stops the service and removes these when this process
	 * ends, however it ends */
	const char *leave[] = {pm->sock, pm->log, pm->dir, NULL};
	if (spawn_service_start(argv, pm->log, leave, SERVICE_STOP_GRACE_MS, &pm->service, err) <
	    0) {
		rmdir(pm->dir);
		return -1;
	}
	double deadline = clock_mono_s() * 1e3 + SERVICE_START_MS;
	aerr_t last = {0};
	for (;;) {
		char tail[512];
		if (spawn_service_exited(&pm->service)) {
			spawn_log_tail(pm->log, tail, sizeof tail);
			return aerr_set(err, AEGIS_EFAIL,
					"podman system service ended at start%s%s",
					tail[0] ? ": " : "", tail);
		}
		if (access(pm->sock, F_OK) == 0 && ping(pm, &last) == 0)
			return 0;
		if (clock_mono_s() * 1e3 >= deadline) {
			spawn_log_tail(pm->log, tail, sizeof tail);
			const char *why = tail[0] ? tail : last.msg;
			return aerr_set(
			    err, AEGIS_EFAIL,
			    "podman system service did not answer on %s within %d s%s%s", pm->sock,
			    SERVICE_START_MS / 1000, why[0] ? ": " : "", why);
		}
		clock_sleep_ms(SERVICE_POLL_MS);
	}
}

/* What SOCK is when it is not a socket, for the error. */
static const char *file_kind(mode_t mode)
{
	return S_ISREG(mode)	? "a regular file"
	       : S_ISDIR(mode)	? "a directory"
	       : S_ISFIFO(mode) ? "a named pipe"
	       : S_ISCHR(mode)	? "a character device"
	       : S_ISBLK(mode)	? "a block device"
				: "not a socket";
}

int podman_open(podman **out, const char *sock, aerr_t *err)
{
	*out = NULL;
	podman *pm = xcalloc(1, sizeof *pm);
	pm->service = (spawn_service)SPAWN_SERVICE_INIT;
	if (http_conn_new(&pm->conn, err) < 0) {
		free(pm);
		return -1;
	}
	pm->sock = xstrdup(sock ? sock : "");
	struct stat st;
	int rc;
	if (sock && *sock && stat(sock, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			rc = aerr_set(err, AEGIS_ECONFIG,
				      "cannot reach the Podman API at %s: it is %s, not a socket "
				      "(CONTAINER_SOCK must name Podman's API socket)",
				      sock, file_kind(st.st_mode));
		else
			rc = ping(pm, err);
	} else if (sock && *sock && errno != ENOENT && errno != ENOTDIR) {
		rc = aerr_sys(err, AEGIS_ECONFIG, errno, "cannot reach the Podman API at %s", sock);
	} else {
		rc = start_service(pm, err);
	}
	if (rc < 0) {
		podman_close(pm);
		return -1;
	}
	*out = pm;
	return 0;
}

void podman_close(podman *pm)
{
	if (!pm)
		return;
	http_conn_free(pm->conn);
	/* the watchdog stops the service and removes its directory */
	spawn_service_stop(&pm->service);
	free(pm->dir);
	free(pm->log);
	free(pm->sock);
	free(pm);
}

const char *podman_socket(const podman *pm)
{
	return pm->sock;
}

/* --- multiplexed output -------------------------------------------------- */

/* Exec and logs answer with Docker's multiplexed stream: frames of an 8-byte
 * header (stream: 1 stdout, 2 stderr; three zero bytes; big-endian payload
 * length) and the payload.  A container with a TTY sends raw bytes instead,
 * recognised by a first header that cannot be one. */
struct demux {
	unsigned char hdr[8];
	size_t nhdr;
	uint32_t left; /* payload bytes left in the current frame */
	int raw;       /* -1 undecided, 0 framed, 1 raw */
	stream_fn sink;
	void *ctx;
};

static int demux_feed(void *arg, const char *p, size_t n, aerr_t *err)
{
	struct demux *d = arg;
	if (d->raw < 0 && n) {
		unsigned char t = (unsigned char)p[0];
		d->raw = t > 3;
	}
	if (d->raw == 1)
		return d->sink(d->ctx, p, n, err);
	while (n) {
		if (d->left == 0) {
			size_t k = sizeof d->hdr - d->nhdr < n ? sizeof d->hdr - d->nhdr : n;
			memcpy(d->hdr + d->nhdr, p, k);
			d->nhdr += k;
			p += k;
			n -= k;
			if (d->nhdr < sizeof d->hdr)
				return 0;
			d->nhdr = 0;
			d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
				  (uint32_t)d->hdr[6] << 8 | d->hdr[7];
			continue;
		}
		size_t k = d->left < n ? d->left : n;
		if (d->sink(d->ctx, p, k, err) < 0)
			return -1;
		d->left -= (uint32_t)k;
		p += k;
		n -= k;
	}
	return 0;
}

struct collect {
	strbuf *out;
	size_t max; /* 0: no limit */
	int fd;	    /* also written here when >= 0 */
};

static int collect_sink(void *ctx, const char *p, size_t n, aerr_t *err)
{
	struct collect *c = ctx;
	if (c->fd >= 0) {
		for (size_t done = 0; done < n;) {
			ssize_t w = write(c->fd, p + done, n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return aerr_sys(err, AEGIS_EFAIL, errno,
						"writing container output");
			done += (size_t)w;
		}
	}
	if (c->out) {
		size_t room = c->max && c->out->len < c->max ? c->max - c->out->len : 0;
		sb_add(c->out, p, c->max ? (n < room ? n : room) : n);
	}
	return 0;
}

/* --- operations ----------------------------------------------------------- */

/* The "no such pod" Podman reports when tearing down a YAML whose pod is gone. */
static bool no_such_pod(const strbuf *body)
{
	json_auto_t *js = body->s ? json_loadb(body->s, body->len, 0, NULL) : NULL;
	const char *cause = json_string_value(json_object_get(js, "cause"));
	return cause && strcmp(cause, "no such pod") == 0;
}

/* Podman 4.3's API does not act on replace=true ("pod already exists"), and
 * a failed play leaves an empty pod behind that blocks the next one: remove
 * the YAML's pods first.  Volumes are kept.  Podman stops at the first pod of
 * the YAML that does not exist, hence one Pod per YAML. */
static int kube_down(podman *pm, const char *yaml, size_t len, aerr_t *err)
{
	static const long ok[] = {404, 500, 0};
	struct request rq = {
	    .method = "DELETE",
	    .path = "/libpod/play/kube",
	    .content_type = "application/yaml",
	    .body = yaml,
	    .body_len = len,
	    .timeout_s = PLAY_TIMEOUT_S,
	    .ok_status = ok,
	};
	http_result res;
	int rc = request(pm, &rq, &res, err);
	if (rc == 0 && res.status >= 400 && !no_such_pod(&res.body))
		rc = api_error(err, rq.method, rq.path, res.status, res.body.s, res.body.len);
	http_result_free(&res);
	return rc;
}

static int play_kube(podman *pm, const char *yaml, size_t len, const char *network, bool start,
		     aerr_t *err)
{
	if (kube_down(pm, yaml, len, err) < 0)
		return aerr_wrap(err, "removing the previous pod");
	cleanup_free char *net = network && *network ? http_escape(network) : NULL;
	cleanup_free char *path =
	    xasprintf("/libpod/play/kube?replace=true%s%s%s", start ? "" : "&start=false",
		      net ? "&network=" : "", net ? net : "");
	struct request rq = {
	    .method = "POST",
	    .path = path,
	    .content_type = "application/yaml",
	    .body = yaml,
	    .body_len = len,
	    .timeout_s = PLAY_TIMEOUT_S,
	};
	http_result res;
	int rc = request(pm, &rq, &res, err);
	json_auto_t *report = rc == 0 ? json_loadb(res.body.s, res.body.len, 0, NULL) : NULL;
	http_result_free(&res);
	if (rc < 0) {
		aerr_t ignored = {0};
		kube_down(pm, yaml, len, &ignored);
		return -1;
	}
	/* 200 can still carry containers that failed to start */
	strbuf errors = STRBUF_INIT;
	size_t i, j;
	json_t *p, *e;
	json_array_foreach(json_object_get(report, "Pods"), i, p)
	{
		json_array_foreach(json_object_get(p, "ContainerErrors"), j, e)
		{
			const char *s = json_string_value(e);
			if (!s)
				continue;
			if (errors.len)
				sb_adds(&errors, "; ");
			sb_adds(&errors, s);
		}
	}
	if (errors.len) {
		aerr_set(err, AEGIS_EFAIL, "podman API POST /libpod/play/kube: %s", errors.s);
		sb_release(&errors);
		return -1;
	}
	return 0;
}

int podman_play_kube(podman *pm, const char *yaml, size_t len, const char *network, aerr_t *err)
{
	return play_kube(pm, yaml, len, network, true, err);
}

int podman_list_pods(podman *pm, json_t **pods, aerr_t *err)
{
	*pods = NULL;
	cleanup_free char *filter =
	    http_escape("{\"label\":[\"" PART_OF_LABEL "=" PART_OF_VALUE "\"]}");
	cleanup_free char *path = xasprintf("/libpod/pods/json?filters=%s", filter);
	json_t *js = NULL;
	if (podman_call(pm, "GET", path, NULL, NULL, 0, NULL, NULL, &js, err) < 0)
		return -1;
	if (!json_is_array(js)) {
		json_decref(js);
		return aerr_set(err, AEGIS_EFAIL,
				"podman API GET /libpod/pods/json: not a JSON array");
	}
	*pods = js;
	return 0;
}

/* GET a .../json inspect endpoint; *OUT = NULL on 404. */
static int inspect(podman *pm, const char *kind, const char *name, json_t **out, aerr_t *err)
{
	*out = NULL;
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/%s/%s/json", kind, n);
	long st;
	json_t *js = NULL;
	if (podman_call(pm, "GET", path, NULL, NULL, 0, OK_404, &st, &js, err) < 0)
		return -1;
	if (st == 404) {
		json_decref(js);
		return 0;
	}
	if (!json_is_object(js)) {
		json_decref(js);
		return aerr_set(err, AEGIS_EFAIL,
				"podman API GET /libpod/%s/%s/json: not a JSON object", kind, n);
	}
	*out = js;
	return 0;
}

int podman_inspect_pod(podman *pm, const char *name, json_t **out, aerr_t *err)
{
	return inspect(pm, "pods", name, out, err);
}

int podman_inspect_container(podman *pm, const char *name, json_t **out, aerr_t *err)
{
	return inspect(pm, "containers", name, out, err);
}

/* POST .../stop with a grace period; already stopped (304) and absent (404)
 * are fine.  The request may take the grace period plus the usual time. */
static int stop(podman *pm, const char *kind, const char *name, const char *param, int timeout_s,
		aerr_t *err)
{
	static const long ok[] = {304, 404, 0};
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path =
	    xasprintf("/libpod/%s/%s/stop?%s=%d", kind, n, param, timeout_s < 0 ? 0 : timeout_s);
	struct request rq = {
	    .method = "POST",
	    .path = path,
	    .timeout_s = call_timeout_s() + (timeout_s > 0 ? timeout_s : 0),
	    .ok_status = ok,
	};
	http_result res;
	int rc = request(pm, &rq, &res, err);
	http_result_free(&res);
	return rc;
}

int podman_stop_pod(podman *pm, const char *name, int timeout_s, aerr_t *err)
{
	return stop(pm, "pods", name, "t", timeout_s, err);
}

/* The conmon of a running container: its PID and the container's ID. */
typedef struct {
	pid_t pid;
	char *id;
} conmon_proc;

/* Does PID still run the conmon of container ID, or its exit command?
 * Conmon's arguments hold the ID (conmon -c ID -u ID ...); conmon 2.1 forks
 * the exit command and waits for it, older ones exec it in place (podman ...
 * container cleanup ID), so either program at that PID with the ID counts. */
static bool conmon_alive(const conmon_proc *c)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)c->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	bool ours = false, has_id = false;
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
		const char *arg = buf + i;
		const char *base = strrchr(arg, '/');
		base = base ? base + 1 : arg;
		if (i == 0)
			ours = strcmp(base, "conmon") == 0 || strcmp(base, "podman") == 0;
		else if (strcmp(arg, c->id) == 0)
			has_id = true;
	}
	return ours && has_id;
}

int podman_stop_pod_settled(podman *pm, const char *name, int timeout_s, double settle_s,
			    double *waited, aerr_t *err)
{
	if (waited)
		*waited = 0;
	json_t *pod = NULL;
	aerr_t ignored = {0};
	conmon_proc procs[64];
	size_t n = 0;
	if (podman_inspect_pod(pm, name, &pod, &ignored) == 0 && pod) {
		size_t i;
		json_t *ct;
		json_array_foreach(json_object_get(pod, "Containers"), i, ct)
		{
			const char *id = json_string_value(json_object_get(ct, "Id"));
			json_t *js = NULL;
			if (!id || n == sizeof procs / sizeof procs[0] ||
			    podman_inspect_container(pm, id, &js, &ignored) < 0 || !js)
				continue;
			json_int_t pid = json_integer_value(
			    json_object_get(json_object_get(js, "State"), "ConmonPid"));
			if (pid > 0)
				procs[n++] = (conmon_proc){.pid = (pid_t)pid, .id = xstrdup(id)};
			json_decref(js);
		}
		json_decref(pod);
	}
	int rc = podman_stop_pod(pm, name, timeout_s, err);
	double t0 = clock_mono_s();
	for (size_t i = 0; rc == 0 && i < n; i++)
		while (conmon_alive(&procs[i]) && clock_mono_s() - t0 < settle_s)
			clock_sleep_ms(20);
	if (waited)
		*waited = clock_mono_s() - t0;
	for (size_t i = 0; i < n; i++)
		free(procs[i].id);
	return rc;
}

int podman_stop_container(podman *pm, const char *name, int timeout_s, aerr_t *err)
{
	return stop(pm, "containers", name, "timeout", timeout_s, err);
}

/* DELETE /libpod/KIND/NAME[QUERY]: absent is fine; the removal report,
 * [{"Name"|"Id": ..., "Err": null|"why"}] or one object, may still say it
 * failed. */
static int remove_object(podman *pm, const char *kind, const char *name, const char *query,
			 aerr_t *err)
{
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/%s/%s%s", kind, n, query);
	json_auto_t *report = NULL;
	if (podman_call(pm, "DELETE", path, NULL, NULL, 0, OK_404, NULL, &report, err) < 0)
		return -1;
	json_t *one = json_is_array(report) ? json_array_get(report, 0) : report;
	const char *e = json_string_value(json_object_get(one, "Err"));
	if (e && *e)
		return aerr_set(err, AEGIS_EFAIL, "podman API DELETE /libpod/%s/%s: %s", kind, n,
				e);
	return 0;
}

int podman_remove_pod(podman *pm, const char *name, aerr_t *err)
{
	if (remove_object(pm, "pods", name, "?force=true", err) == 0)
		return 0;
	/* A removal whose client was killed midway can leave the pod half
	 * removed: the next DELETE answers HTTP 500 "no pod with ID ... found
	 * in database: no such pod" (Podman 4.3.1; seen in
	 * tests/integration/39-kill-data.sh, rollback --with-data killed while
	 * it removed pod-database).  Once more; gone by then is done. */
	if (!strstr(err->msg, "no such pod"))
		return -1;
	aerr_t again = {0};
	if (remove_object(pm, "pods", name, "?force=true", &again) == 0)
		return 0;
	json_t *js = NULL;
	aerr_t ignored = {0};
	if (podman_inspect_pod(pm, name, &js, &ignored) == 0 && !js)
		return 0;
	json_decref(js);
	*err = again;
	return -1;
}

int podman_exec(podman *pm, const char *container, char *const argv[], int timeout_s,
		int *exit_code, char **output, aerr_t *err)
{
	return podman_exec_env(pm, container, argv, NULL, timeout_s, exit_code, output, err);
}

int podman_exec_env(podman *pm, const char *container, char *const argv[], char *const env[],
		    int timeout_s, int *exit_code, char **output, aerr_t *err)
{
	*exit_code = -1;
	if (output)
		*output = NULL;
	json_t *cmd = json_array();
	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	cleanup_free char *c = http_escape(container);
	cleanup_free char *create = xasprintf("/libpod/containers/%s/exec", c);
	json_auto_t *created = NULL;
	json_t *req =
	    json_pack("{s:o, s:b, s:b}", "Cmd", cmd, "AttachStdout", 1, "AttachStderr", 1);
	/* the exec session's environment: "Env", each "KEY=value" split at
	 * the first '=' into the session's environment (containers/podman
	 * pkg/api/handlers/compat/exec.go:41-48 at commit 0c40b62c77d8,
	 * ExecCreateHandler, which also serves /libpod/containers/NAME/exec) */
	if (env && env[0]) {
		json_t *e = json_array();
		for (size_t i = 0; env[i]; i++)
			json_array_append_new(e, json_string(env[i]));
		json_object_set_new(req, "Env", e);
	}
	char *body = json_dumps(req, JSON_COMPACT);
	wipe_json_decref(req);
	if (!body)
		abort();
	int crc = podman_call(pm, "POST", create, "application/json", body, strlen(body), NULL,
			      NULL, &created, err);
	wipe_free(body);
	if (crc < 0)
		return -1;
	const char *id = json_string_value(json_object_get(created, "Id"));
	if (!id)
		return aerr_set(err, AEGIS_EFAIL, "podman API POST %s: no exec session Id", create);

	cleanup_free char *start = xasprintf("/libpod/exec/%s/start", id);
	static const char start_body[] = "{\"Detach\":false,\"Tty\":false}";
	strbuf out = STRBUF_INIT;
	struct collect col = {.out = &out, .max = EXEC_OUTPUT_MAX, .fd = -1};
	struct demux dm = {.raw = -1, .sink = collect_sink, .ctx = &col};
	struct request rq = {
	    .method = "POST",
	    .path = start,
	    .content_type = "application/json",
	    .body = start_body,
	    .body_len = strlen(start_body),
	    .timeout_s = timeout_s > 0 ? timeout_s : call_timeout_s(),
	    .stream = demux_feed,
	    .ctx = &dm,
	};
	http_result res;
	int rc = request(pm, &rq, &res, err);
	if (rc < 0 && res.failure == HTTP_FAIL_TIMEOUT)
		aerr_set(err, AEGIS_EFAIL, "%s in container %s: no exit within %ld s", argv[0],
			 container, rq.timeout_s);
	http_result_free(&res);

	/* The stream ends when the command does; the exit code is recorded
	 * just around then, so look again briefly while it still runs. */
	cleanup_free char *inspect_path = xasprintf("/libpod/exec/%s/json", id);
	for (int tries = 0; rc == 0; tries++) {
		json_t *js = NULL;
		if (podman_call(pm, "GET", inspect_path, NULL, NULL, 0, NULL, NULL, &js, err) < 0) {
			rc = -1;
			break;
		}
		bool running = json_is_true(json_object_get(js, "Running"));
		json_t *code = json_object_get(js, "ExitCode");
		if (!running && json_is_integer(code))
			*exit_code = (int)json_integer_value(code);
		json_decref(js);
		if (!running)
			break;
		if (tries == 100) {
			rc = aerr_set(err, AEGIS_EFAIL,
				      "%s in container %s: still running after its "
				      "output ended",
				      argv[0], container);
			break;
		}
		clock_sleep_ms(20);
	}
	if (output)
		*output = sb_take(&out);
	else
		sb_release(&out);
	return rc;
}

int podman_logs(podman *pm, const char *container, int tail, bool follow, int fd, char **output,
		aerr_t *err)
{
	if (output)
		*output = NULL;
	cleanup_free char *c = http_escape(container);
	cleanup_free char *path =
	    xasprintf("/libpod/containers/%s/logs?stdout=true&stderr=true&tail=%d%s", c,
		      tail < 0 ? -1 : tail, follow ? "&follow=true" : "");
	strbuf out = STRBUF_INIT;
	struct collect col = {.out = output ? &out : NULL, .fd = fd};
	struct demux dm = {.raw = -1, .sink = collect_sink, .ctx = &col};
	struct request rq = {
	    .method = "GET",
	    .path = path,
	    .stall_s = follow ? 0 : call_timeout_s(),
	    .follow = follow,
	    .stream = demux_feed,
	    .ctx = &dm,
	};
	http_result res;
	int rc = request(pm, &rq, &res, err);
	http_result_free(&res);
	if (output)
		*output = sb_take(&out);
	return rc;
}

/* GET .../exists: 204 yes, 404 no. */
static int exists(podman *pm, const char *kind, const char *name, bool *yes, aerr_t *err)
{
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/%s/%s/exists", kind, n);
	long st;
	*yes = false;
	if (podman_call(pm, "GET", path, NULL, NULL, 0, OK_404, &st, NULL, err) < 0)
		return -1;
	*yes = st == 204;
	return 0;
}

int podman_network_exists(podman *pm, const char *name, bool *yes, aerr_t *err)
{
	return exists(pm, "networks", name, yes, err);
}

int podman_network_inspect(podman *pm, const char *name, json_t **out, aerr_t *err)
{
	return inspect(pm, "networks", name, out, err);
}

int podman_network_create(podman *pm, const char *name, aerr_t *err)
{
	/* The API, unlike the CLI, leaves DNS off unless asked: pods resolve
	 * each other by name only through aardvark-dns. */
	return call_json(pm, "POST", "/libpod/networks/create",
			 json_pack("{s:s, s:b, s:{s:s}}", "name", name, "dns_enabled", 1, "labels",
				   PART_OF_LABEL, PART_OF_VALUE),
			 NULL, NULL, NULL, err);
}

int podman_network_remove(podman *pm, const char *name, aerr_t *err)
{
	return remove_object(pm, "networks", name, "", err);
}

int podman_volume_exists(podman *pm, const char *name, bool *yes, aerr_t *err)
{
	return exists(pm, "volumes", name, yes, err);
}

int podman_volume_create(podman *pm, const char *name, aerr_t *err)
{
	return call_json(
	    pm, "POST", "/libpod/volumes/create",
	    json_pack("{s:s, s:{s:s}}", "Name", name, "Label", PART_OF_LABEL, PART_OF_VALUE), NULL,
	    NULL, NULL, err);
}

int podman_volume_remove(podman *pm, const char *name, aerr_t *err)
{
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/volumes/%s?force=true", n);
	return podman_call(pm, "DELETE", path, NULL, NULL, 0, OK_404, NULL, NULL, err);
}

int podman_list_volumes(podman *pm, char ***names, size_t *n, aerr_t *err)
{
	*names = NULL;
	*n = 0;
	/* Podman's name filter is a regular expression match anywhere in the
	 * name: filter here instead. */
	json_auto_t *vols = NULL;
	if (podman_call(pm, "GET", "/libpod/volumes/json", NULL, NULL, 0, NULL, NULL, &vols, err) <
	    0)
		return -1;
	if (!json_is_array(vols))
		return aerr_set(err, AEGIS_EFAIL,
				"podman API GET /libpod/volumes/json: not a JSON array");
	size_t i;
	json_t *v;
	json_array_foreach(vols, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "Name"));
		const char *part_of =
		    json_string_value(json_object_get(json_object_get(v, "Labels"), PART_OF_LABEL));
		if (!name || !((part_of && strcmp(part_of, PART_OF_VALUE) == 0) ||
			       strncmp(name, "aegis-", 6) == 0))
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof **names);
		(*names)[(*n)++] = xstrdup(name);
	}
	return 0;
}

int podman_image_exists(podman *pm, const char *ref, bool *yes, aerr_t *err)
{
	return exists(pm, "images", ref, yes, err);
}

/* The registry a reference is pulled from, for error messages. */
static char *image_registry(const char *ref)
{
	const char *slash = strchr(ref, '/');
	if (slash) {
		size_t n = (size_t)(slash - ref);
		if (memchr(ref, '.', n) || memchr(ref, ':', n) ||
		    (n == 9 && !memcmp(ref, "localhost", 9)))
			return xasprintf("registry %.*s", (int)n, ref);
	}
	return xstrdup("the unqualified-search registries of registries.conf (a short name)");
}

struct pull {
	strbuf line;
	char *error;
	void (*progress)(void *, const char *);
	void *ctx;
};

static void pull_line(struct pull *pl, const char *s, size_t n)
{
	json_auto_t *js = json_loadb(s, n, 0, NULL);
	const char *e = json_string_value(json_object_get(js, "error"));
	const char *msg = json_string_value(json_object_get(js, "stream"));
	if (e && !pl->error)
		pl->error = xstrdup(e);
	if (msg && pl->progress) {
		cleanup_free char *m = xstrdup(msg);
		m[strcspn(m, "\n")] = '\0';
		if (*m)
			pl->progress(pl->ctx, m);
	}
}

/* The pull answer is a stream of JSON objects, one a line. */
static int pull_feed(void *ctx, const char *p, size_t n, aerr_t *err)
{
	(void)err;
	struct pull *pl = ctx;
	sb_add(&pl->line, p, n);
	char *nl;
	while (pl->line.len && (nl = memchr(pl->line.s, '\n', pl->line.len))) {
		size_t k = (size_t)(nl - pl->line.s);
		pull_line(pl, pl->line.s, k);
		memmove(pl->line.s, nl + 1, pl->line.len - k - 1);
		pl->line.len -= k + 1;
		pl->line.s[pl->line.len] = '\0';
	}
	return 0;
}

int podman_image_pull(podman *pm, const char *ref, void (*progress)(void *, const char *),
		      void *ctx, aerr_t *err)
{
	cleanup_free char *r = http_escape(ref);
	cleanup_free char *path = xasprintf("/libpod/images/pull?reference=%s", r);
	struct pull pl = {.progress = progress, .ctx = ctx};
	struct request rq = {
	    .method = "POST",
	    .path = path,
	    .stall_s = PULL_STALL_S,
	    .stream = pull_feed,
	    .ctx = &pl,
	};
	http_result res;
	int rc = request(pm, &rq, &res, err);
	http_result_free(&res);
	if (rc == 0 && pl.line.len)
		pull_line(&pl, pl.line.s, pl.line.len);
	cleanup_free char *registry = image_registry(ref);
	if (rc < 0)
		aerr_wrap(err, "cannot pull image %s from %s", ref, registry);
	else if (pl.error)
		rc = aerr_set(err, AEGIS_EFAIL, "cannot pull image %s from %s: %s", ref, registry,
			      pl.error);
	sb_release(&pl.line);
	free(pl.error);
	return rc;
}

/* --- created ahead, started on the gate ------------------------------------ */

int podman_create_kube(podman *pm, const char *yaml, size_t len, const char *network, aerr_t *err)
{
	return play_kube(pm, yaml, len, network, false, err);
}

/* POST .../start: already running (304) is fine.  A pod whose containers
 * did not all start answers 409, an error naming them. */
static int start_object(podman *pm, const char *kind, const char *name, aerr_t *err)
{
	static const long ok[] = {304, 0};
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/%s/%s/start", kind, n);
	return podman_call(pm, "POST", path, NULL, NULL, 0, ok, NULL, NULL, err);
}

int podman_start_pod(podman *pm, const char *name, aerr_t *err)
{
	return start_object(pm, "pods", name, err);
}

int podman_start_container(podman *pm, const char *name, aerr_t *err)
{
	return start_object(pm, "containers", name, err);
}

int podman_pod_infra_id(podman *pm, const char *name, char **id, aerr_t *err)
{
	*id = NULL;
	json_auto_t *js = NULL;
	if (podman_inspect_pod(pm, name, &js, err) < 0)
		return -1;
	if (!js)
		return aerr_set(err, AEGIS_EFAIL, "pod %s does not exist", name);
	const char *infra = json_string_value(json_object_get(js, "InfraContainerID"));
	if (!infra || !*infra)
		return aerr_set(err, AEGIS_EFAIL,
				"podman API GET /libpod/pods/%s/json: no InfraContainerID", name);
	*id = xstrdup(infra);
	return 0;
}

int podman_server_major(podman *pm, int *major, aerr_t *err)
{
	if (!pm->major) {
		json_auto_t *js = NULL;
		if (podman_call(pm, "GET", "/libpod/version", NULL, NULL, 0, NULL, NULL, &js, err) <
		    0)
			return -1;
		const char *v = json_string_value(json_object_get(js, "Version"));
		if (!v || sscanf(v, "%d", &pm->major) != 1 || pm->major <= 0)
			return aerr_set(err, AEGIS_EFAIL,
					"podman API GET /libpod/version: no \"Version\" (%s)",
					v ? v : "missing");
	}
	*major = pm->major;
	return 0;
}

/* --- secrets ------------------------------------------------------------ */

int podman_secret_create(podman *pm, const char *name, const void *data, size_t len, aerr_t *err)
{
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/secrets/create?name=%s", n);
	return podman_call(pm, "POST", path, "application/octet-stream", data, len, NULL, NULL,
			   NULL, err);
}

int podman_secret_remove(podman *pm, const char *name, aerr_t *err)
{
	cleanup_free char *n = http_escape(name);
	cleanup_free char *path = xasprintf("/libpod/secrets/%s", n);
	return podman_call(pm, "DELETE", path, NULL, NULL, 0, OK_404, NULL, NULL, err);
}

int podman_list_secrets(podman *pm, const char *prefix, char ***names, size_t *n, aerr_t *err)
{
	*names = NULL;
	*n = 0;
	json_auto_t *list = NULL;
	if (podman_call(pm, "GET", "/libpod/secrets/json", NULL, NULL, 0, NULL, NULL, &list, err) <
	    0)
		return -1;
	if (!json_is_array(list))
		return aerr_set(err, AEGIS_EFAIL,
				"podman API GET /libpod/secrets/json: not a JSON array");
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s)
	{
		const char *name =
		    json_string_value(json_object_get(json_object_get(s, "Spec"), "Name"));
		if (!name || strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof **names);
		(*names)[(*n)++] = xstrdup(name);
	}
	return 0;
}

/* GET /libpod/images/{name}/json: its "Id" and "RepoDigests" (repo@sha256:
 * entries, one per repository the image was pulled from or pushed to) are
 * what a revision records (containers/podman pkg/inspect/inspect.go @0ccfd7dc,
 * struct ImageData). */
int podman_image_inspect(podman *pm, const char *ref, json_t **out, aerr_t *err)
{
	return inspect(pm, "images", ref, out, err);
}
