/* Probes connect to the address a port is published on (pod.c puts it in
 * probe.host): loopback for a port published on every address, the address
 * itself otherwise.  A listener on 127.0.0.2 (still loopback, so nothing
 * leaves the machine) answers only there. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "lib/probe.h"

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
