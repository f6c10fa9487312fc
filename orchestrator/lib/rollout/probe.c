#include "rollout/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/http.h"

static int discard(void *ctx, const char *p, size_t n, aerr_t *err)
{
	(void)ctx, (void)p, (void)n, (void)err;
	return 0;
}

/* Through a route, how long a forwarded connection must stay open for a
 * tcpSocket probe to pass (the probe's timeout if shorter). */
#define ROUTE_SETTLE_MS 500

/* The address a published port answers on (pod.c: loopback when it is
 * published on every address). */
static const char *probe_host(const probe *p)
{
	return p->host[0] ? p->host : "127.0.0.1";
}

static int probe_http(const probe *p, int timeout_s, aerr_t *err)
{
	const char *host = probe_host(p);
	bool v6 = strchr(host, ':') != NULL;
	cleanup_free char *url =
	    xasprintf("http://%s%s%s:%d%s%s", v6 ? "[" : "", host, v6 ? "]" : "", p->host_port,
		      (p->path && p->path[0] == '/') ? "" : "/", p->path ? p->path : "");
	/* through the route even when the port is published on another
	 * address than loopback: that address is the other host's */
	cleanup_free char *via = NULL;
	if (http_route(host, p->host_port, &via, err) < 0)
		return aerr_wrap(err, "GET %.200s", url);
	http_exchange x = {
	    .method = "GET",
	    .url = url,
	    .unix_socket = via,
	    .connect_timeout_ms = timeout_s * 1000L,
	    .timeout_ms = timeout_s * 1000L,
	    .sink = discard,
	};
	http_conn *conn = NULL;
	if (http_conn_new(&conn, err) < 0)
		return -1;
	http_result res;
	int rc = http_perform(conn, &x, &res, err);
	http_conn_free(conn);
	long status = res.status;
	http_result_free(&res);
	if (rc < 0)
		return aerr_wrap(err, "GET %.200s", url);
	/* Kubernetes semantics: 200-399 is success */
	if (status < 200 || status >= 400)
		return aerr_set(err, AEGIS_EFAIL, "GET %.400s: HTTP %ld", url, status);
	return 0;
}

/* Through a route: ssh accepts the local connection first and closes it
 * when the remote connect fails, so a connection still open (or already
 * answering) after the settle time is one the port accepted. */
static int probe_tcp_routed(const probe *p, const char *via, int timeout_s, aerr_t *err)
{
	const char *host = probe_host(p);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", via);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "connect %s:%d (forwarded to %s)", host,
				p->host_port, via);
	int settle = timeout_s * 1000 < ROUTE_SETTLE_MS ? timeout_s * 1000 : ROUTE_SETTLE_MS;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, settle) <= 0)
		return 0;
	char c;
	if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		return 0;
	return aerr_set(err, AEGIS_EFAIL,
			"connect %s:%d: the forwarded connection was closed (refused on the "
			"remote host)",
			host, p->host_port);
}

static int probe_tcp(const probe *p, int timeout_s, aerr_t *err)
{
	const char *host = probe_host(p);
	cleanup_free char *via = NULL;
	if (http_route(host, p->host_port, &via, err) < 0)
		return aerr_wrap(err, "connect %s:%d", host, p->host_port);
	if (via)
		return probe_tcp_routed(p, via, timeout_s, err);
	struct sockaddr_storage ss = {0};
	socklen_t sslen;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p->host_port);
		sslen = sizeof *in4;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p->host_port);
		sslen = sizeof *in6;
	} else {
		return aerr_set(err, AEGIS_ECONFIG, "'%s' is not an IP address", host);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "socket");
	int rc = connect(fd, (struct sockaddr *)&ss, sslen);
	int e = rc == 0 ? 0 : errno;
	if (rc < 0 && e == EINPROGRESS) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int n = poll(&pfd, 1, timeout_s * 1000);
		if (n == 0) {
			e = ETIMEDOUT;
		} else {
			socklen_t len = sizeof e;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
				e = errno;
		}
	}
	close(fd);
	if (e)
		return aerr_sys(err, AEGIS_EFAIL, e, "connect %s:%d", host, p->host_port);
	return 0;
}

static int probe_exec(podman *pm, const char *container, const probe *p, int timeout_s, aerr_t *err)
{
	int code = -1;
	cleanup_free char *out = NULL;
	if (podman_exec(pm, container, p->command, timeout_s, &code, &out, err) < 0)
		return -1;
	if (code == 0)
		return 0;
	/* the first line of the output usually says why */
	size_t k = out ? strcspn(out, "\n") : 0;
	return aerr_set(err, AEGIS_EFAIL, "exit status %d%s%.*s", code, k ? ": " : "",
			(int)(k < 199 ? k : 199), out ? out : "");
}

int probe_run(podman *pm, const char *container, const probe *p, double *latency_ms, aerr_t *err)
{
	int timeout_s = p->timeout_s > 0 ? p->timeout_s : 1;
	double t0 = clock_mono_s() * 1e3;
	int rc = 0;
	switch (p->kind) {
	case PROBE_HTTP:
	case PROBE_TCP:
		if (p->host_port <= 0)
			rc =
			    aerr_set(err, AEGIS_EFAIL,
				     "port %d is not published on the host (no hostPort)", p->port);
		else if (p->kind == PROBE_HTTP)
			rc = probe_http(p, timeout_s, err);
		else
			rc = probe_tcp(p, timeout_s, err);
		break;
	case PROBE_EXEC:
		rc = probe_exec(pm, container, p, timeout_s, err);
		break;
	default:
		/* no probe declared: running is ready */
		break;
	}
	if (latency_ms)
		*latency_ms = clock_mono_s() * 1e3 - t0;
	return rc;
}
