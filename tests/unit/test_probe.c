/* Probes connect to the address a port is published on (pod.c puts it in
 * probe.host): loopback for a port published on every address, the address
 * itself otherwise.  A listener on 127.0.0.2 (still loopback, so nothing
 * leaves the machine) answers only there. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "lib/rollout/probe.h"
#include "lib/util/http.h"

struct server {
	int fd, port;
	pthread_t thread;
};

/* Answer every connection with HTTP 200 until the socket is shut down. */
static void *serve(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[1024];
		ssize_t n = read(c, buf, sizeof buf);
		(void)n;
		static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
		n = write(c, ok, sizeof ok - 1);
		close(c);
	}
}

static int server_start(struct server *s, const char *addr)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof sa;
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(s->fd, 8) < 0 || getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	s->port = ntohs(sa.sin_port);
	return pthread_create(&s->thread, NULL, serve, s) == 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

TEST(probe_connects_to_the_bound_address)
{
	struct server s;
	if (server_start(&s, "127.0.0.2") < 0) {
		harness_skip("cannot listen on 127.0.0.2");
		return;
	}
	probe tcp = {.kind = PROBE_TCP, .port = 80, .host_port = s.port, .host = "127.0.0.2"};
	probe http = {.kind = PROBE_HTTP,
		      .port = 80,
		      .host_port = s.port,
		      .host = "127.0.0.2",
		      .path = (char *)"/ready"};
	probe loopback = {.kind = PROBE_TCP, .port = 80, .host_port = s.port, .host = "127.0.0.1"};
	aerr_t e1 = {0}, e2 = {0}, e3 = {0};
	int tcp_rc = probe_run(NULL, "c", &tcp, NULL, &e1);
	int http_rc = probe_run(NULL, "c", &http, NULL, &e2);
	int lo_rc = probe_run(NULL, "c", &loopback, NULL, &e3);
	server_stop(&s);
	CHECK_STR(e1.msg, "");
	CHECK(tcp_rc == 0);
	CHECK_STR(e2.msg, "");
	CHECK(http_rc == 0);
	/* not listening on 127.0.0.1: the probe must not pass there */
	CHECK(lo_rc < 0);
	CHECK_CONTAINS(e3.msg, "connect 127.0.0.1:");
}

/* --- through a route (an ssh:// host's ports, http.h) ------------------------ */

struct unix_server {
	int fd;
	bool close_at_once; /* as ssh does when the remote connect is refused */
	char path[108];
	pthread_t thread;
};

static void *serve_unix(void *arg)
{
	struct unix_server *s = arg;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		if (!s->close_at_once) {
			char buf[1024];
			/* a tcpSocket probe sends nothing: answer only what asks */
			struct timeval tv = {.tv_sec = 1};
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			ssize_t n = read(c, buf, sizeof buf);
			static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
			if (n > 0)
				n = write(c, ok, sizeof ok - 1);
		}
		close(c);
	}
}

static int unix_server_start(struct unix_server *s, const char *dir, bool close_at_once)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(s->path, sizeof s->path, "%s/port.sock", dir);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
	s->close_at_once = close_at_once;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s->fd, 8) < 0)
		return -1;
	return pthread_create(&s->thread, NULL, serve_unix, s) == 0 ? 0 : -1;
}

static void unix_server_stop(struct unix_server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	unlink(s->path);
}

static char routed_host[64];
static int routed_port;

static int route_to(void *ctx, const char *host, int port, char **sock, aerr_t *err)
{
	(void)err;
	snprintf(routed_host, sizeof routed_host, "%s", host);
	routed_port = port;
	*sock = xstrdup(ctx);
	return 0;
}

TEST(probe_through_a_route)
{
	cleanup_free char *dir = harness_tmpdir();
	struct unix_server s;
	if (unix_server_start(&s, dir, false) < 0) {
		harness_skip("cannot listen on a unix socket");
		return;
	}
	http_set_route(route_to, s.path);
	/* port 1: nothing listens there on this machine; only the route answers */
	probe http = {.kind = PROBE_HTTP, .port = 80, .host_port = 1, .path = (char *)"/ready"};
	probe tcp = {.kind = PROBE_TCP, .port = 80, .host_port = 2, .host = "10.1.2.3"};
	aerr_t e1 = {0}, e2 = {0};
	int http_rc = probe_run(NULL, "c", &http, NULL, &e1);
	int http_port = routed_port;
	int tcp_rc = probe_run(NULL, "c", &tcp, NULL, &e2);
	http_set_route(NULL, NULL);
	unix_server_stop(&s);
	CHECK_STR(e1.msg, "");
	CHECK(http_rc == 0);
	CHECK(http_port == 1);
	CHECK_STR(e2.msg, "");
	CHECK(tcp_rc == 0);
	/* the address the port is published on is the other host's */
	CHECK_STR(routed_host, "10.1.2.3");
	CHECK(routed_port == 2);
}

TEST(probe_through_a_route_that_is_refused)
{
	cleanup_free char *dir = harness_tmpdir();
	struct unix_server s;
	if (unix_server_start(&s, dir, true) < 0) {
		harness_skip("cannot listen on a unix socket");
		return;
	}
	http_set_route(route_to, s.path);
	probe http = {.kind = PROBE_HTTP, .port = 80, .host_port = 1, .path = (char *)"/ready"};
	probe tcp = {.kind = PROBE_TCP, .port = 80, .host_port = 2};
	aerr_t e1 = {0}, e2 = {0};
	int http_rc = probe_run(NULL, "c", &http, NULL, &e1);
	int tcp_rc = probe_run(NULL, "c", &tcp, NULL, &e2);
	http_set_route(NULL, NULL);
	unix_server_stop(&s);
	CHECK(http_rc < 0);
	CHECK_CONTAINS(e1.msg, "GET http://127.0.0.1:1/ready");
	CHECK(tcp_rc < 0);
	CHECK_CONTAINS(e2.msg, "connect 127.0.0.1:2: the forwarded connection was closed");
}
