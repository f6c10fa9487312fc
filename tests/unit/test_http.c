/* http.c against a scripted server on 127.0.0.1 (a thread of this test):
 * each connection gets the next scripted answer, or is dropped. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util/http.h"

#define MAX_ANSWERS 8

struct server {
	int fd;
	int port;
	const char *answers[MAX_ANSWERS]; /* raw HTTP answers; NULL: drop the connection */
	int nanswers;
	int served;
	char requests[MAX_ANSWERS][4096]; /* what each connection sent */
	pthread_t thread;
};

static void read_request(int c, char *out, size_t cap)
{
	size_t len = 0;
	long want = -1;
	for (;;) {
		ssize_t n = read(c, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
		char *end = strstr(out, "\r\n\r\n");
		if (!end)
			continue;
		if (want < 0) {
			char *cl = strcasestr(out, "Content-Length:");
			want = (long)(end + 4 - out) +
			       (cl && cl < end ? strtol(cl + 15, NULL, 10) : 0);
		}
		if ((long)len >= want)
			break;
	}
	out[len] = '\0';
}

static void *serve(void *arg)
{
	struct server *s = arg;
	for (int i = 0; i < s->nanswers; i++) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		read_request(c, s->requests[i], sizeof s->requests[i]);
		if (s->answers[i] && write(c, s->answers[i], strlen(s->answers[i])) < 0)
			perror("write");
		close(c);
		s->served = i + 1;
	}
	return NULL;
}

static void server_start(struct server *s)
{
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 8) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
}

static void client(http_client *c, const struct server *s)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
	aerr_t err = {0};
	if (http_client_init(c, url, NULL, &err) < 0)
		abort();
	c->backoff_ms = 1;
}

TEST(http_get_json_and_token_header)
{
	struct server s = {.nanswers = 1,
			   .answers = {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				       "Content-Length: 16\r\n\r\n{\"sealed\":false}"}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "GET",
			   .path = "/v1/sys/health",
			   .token_name = "X-Vault-Token",
			   .token_value = "s.tok"};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	CHECK(rc == 0);
	CHECK(r.status == 200);
	CHECK(json_is_false(json_object_get(r.body, "sealed")));
	CHECK_CONTAINS(s.requests[0], "GET /v1/sys/health HTTP/1.1");
	CHECK_CONTAINS(s.requests[0], "X-Vault-Token: s.tok");
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_post_json_body_and_location)
{
	struct server s = {.nanswers = 1,
			   .answers = {"HTTP/1.1 201 Created\r\nLocation: "
				       "http://kc/admin/realms/r/clients/abc-123\r\n"
				       "Content-Length: 0\r\n\r\n"}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	json_t *body = json_pack("{s:s}", "clientId", "aegis-cli");
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "POST", .path = "/admin/realms/r/clients", .json = body};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	json_decref(body);
	CHECK(rc == 0);
	CHECK(r.status == 201);
	CHECK(r.body == NULL);
	CHECK_STR(r.location, "http://kc/admin/realms/r/clients/abc-123");
	CHECK_CONTAINS(s.requests[0], "Content-Type: application/json");
	CHECK_CONTAINS(s.requests[0], "{\"clientId\":\"aegis-cli\"}");
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_openbao_error_text)
{
	struct server s = {.nanswers = 1,
			   .answers = {"HTTP/1.1 403 Forbidden\r\nContent-Length: 32\r\n\r\n"
				       "{\"errors\":[\"permission denied\"]}"}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "GET",
			   .path = "/v1/sys/auth?secret=hunter2",
			   .token_name = "X-Vault-Token",
			   .token_value = "s.root-token"};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	CHECK(rc < 0);
	CHECK(r.status == 403);
	CHECK_STR(err.msg, "GET /v1/sys/auth: HTTP 403: permission denied");
	CHECK(!strstr(err.msg, "hunter2") && !strstr(err.msg, "root-token"));
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_keycloak_error_text)
{
	const char *body = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid user "
			   "credentials\"}";
	char answer[256];
	snprintf(answer, sizeof answer,
		 "HTTP/1.1 401 Unauthorized\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
	struct server s = {.nanswers = 1, .answers = {answer}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "POST",
			   .path = "/realms/master/protocol/openid-connect/token",
			   .form = "client_id=admin-cli&password=sw0rdfish"};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	CHECK(rc < 0);
	CHECK_STR(err.msg, "POST /realms/master/protocol/openid-connect/token: HTTP 401: Invalid "
			   "user credentials");
	CHECK_CONTAINS(s.requests[0], "application/x-www-form-urlencoded");
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_accept_list)
{
	struct server s = {.nanswers = 1,
			   .answers = {"HTTP/1.1 501 Not Implemented\r\nContent-Length: 22\r\n\r\n"
				       "{\"initialized\":false}\n"}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	static const long health[] = {200, 429, 472, 473, 501, 503, 0};
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "GET", .path = "/v1/sys/health", .accept = health};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	/* an accepted 5xx is an answer, not a failure to retry */
	CHECK(rc == 0);
	CHECK(r.status == 501);
	CHECK(s.served == 1);
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_retries_idempotent_after_drop_and_500)
{
	struct server s = {
	    .nanswers = 3,
	    .answers = {NULL, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "GET", .path = "/v1/sys/mounts"};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	CHECK(rc == 0);
	CHECK(s.served == 3);
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_gives_up_after_attempts)
{
	const char *e500 = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
	struct server s = {.nanswers = 3, .answers = {e500, e500, e500}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	c.attempts = 3;
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "DELETE", .path = "/x"};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	CHECK(rc < 0);
	CHECK(s.served == 3);
	CHECK_STR(err.msg, "DELETE /x: HTTP 500");
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_no_retry_for_post_and_once)
{
	struct server s = {.nanswers = 2,
			   .answers = {NULL, "HTTP/1.1 500 Internal Server Error\r\n"
					     "Content-Length: 0\r\n\r\n"}};
	server_start(&s);
	http_client c;
	client(&c, &s);
	http_response r;
	aerr_t err = {0};
	http_request post = {.method = "POST", .path = "/v1/sys/mounts/secret"};
	int rc1 = http_do(&c, &post, &r, &err);
	char msg1[sizeof err.msg];
	snprintf(msg1, sizeof msg1, "%s", err.msg);
	http_response_free(&r);
	http_request init = {.method = "PUT", .path = "/v1/sys/init", .once = true};
	int rc2 = http_do(&c, &init, &r, &err);
	server_stop(&s);
	CHECK(rc1 < 0);
	CHECK_CONTAINS(msg1, "POST /v1/sys/mounts/secret: connection to 127.0.0.1:");
	CHECK_CONTAINS(msg1, "dropped");
	CHECK(rc2 < 0);
	CHECK_STR(err.msg, "PUT /v1/sys/init: HTTP 500");
	CHECK(s.served == 2);
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_connection_refused)
{
	/* a port that was just free */
	struct server s = {.nanswers = 0};
	server_start(&s);
	server_stop(&s);
	http_client c;
	client(&c, &s);
	c.attempts = 2;
	http_response r;
	aerr_t err = {0};
	http_request rq = {.method = "GET", .path = "/v1/sys/health?x=1"};
	CHECK(http_do(&c, &rq, &r, &err) < 0);
	CHECK(r.status == 0);
	CHECK_CONTAINS(err.msg, "GET /v1/sys/health: 127.0.0.1:");
	http_client_free(&c);
}

TEST(http_base_prefix_in_messages)
{
	struct server s = {.nanswers = 1,
			   .answers = {"HTTP/1.1 404 Not Found\r\nContent-Length: 35\r\n\r\n"
				       "{\"errorMessage\":\"Realm not found.\"}"}};
	server_start(&s);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/auth/", s.port);
	http_client c;
	aerr_t err = {0};
	CHECK(http_client_init(&c, url, NULL, &err) == 0);
	http_response r;
	http_request rq = {.method = "GET", .path = "/admin/realms/x"};
	int rc = http_do(&c, &rq, &r, &err);
	server_stop(&s);
	CHECK(rc < 0);
	CHECK_STR(err.msg, "GET /auth/admin/realms/x: HTTP 404: Realm not found.");
	CHECK_CONTAINS(s.requests[0], "GET /auth/admin/realms/x HTTP/1.1");
	http_response_free(&r);
	http_client_free(&c);
}

TEST(http_client_init_checks)
{
	http_client c;
	aerr_t err = {0};
	CHECK(http_client_init(&c, "ftp://x", NULL, &err) < 0 && err.status == AEGIS_ECONFIG);
	CHECK(http_client_init(&c, "http://", NULL, &err) < 0);
	CHECK(http_client_init(&c, "http://u:p@host", NULL, &err) < 0);
	CHECK(http_client_init(&c, "http://host/?token=x", NULL, &err) < 0);
	CHECK(http_client_init(&c, "https://host:8200", "/nonexistent/ca.pem", &err) < 0);
	CHECK_CONTAINS(err.msg, "/nonexistent/ca.pem");
	CHECK(http_client_init(&c, "https://host:8200//", NULL, &err) == 0);
	CHECK_STR(c.base, "https://host:8200");
	http_client_free(&c);
}

TEST(http_escape_and_form)
{
	char *e = http_escape("aegis:admin/ä b");
	CHECK_STR(e, "aegis%3Aadmin%2F%C3%A4%20b");
	free(e);
	const char *k[] = {"grant_type", "password"};
	const char *v[] = {"password", "p&ss=w rd"};
	char *f = http_form(2, k, v);
	CHECK_STR(f, "grant_type=password&password=p%26ss%3Dw%20rd");
	free(f);
}

TEST(http_error_text_rules)
{
	json_t *a = json_pack("{s:[s,s]}", "errors", "one", "two");
	json_t *b = json_pack("{s:s}", "errorMessage", "Client already exists");
	json_t *c = json_pack("{s:s}", "error", "unknown_error");
	json_t *d = json_pack("{s:[]}", "errors");
	char *ta = http_error_text(a), *tb = http_error_text(b), *tc = http_error_text(c),
	     *td = http_error_text(d);
	CHECK_STR(ta, "one; two");
	CHECK_STR(tb, "Client already exists");
	CHECK_STR(tc, "unknown_error");
	CHECK(td == NULL);
	free(ta), free(tb), free(tc);
	json_decref(a), json_decref(b), json_decref(c), json_decref(d);
}

/* --- the transport: a unix socket, time bounds, a streaming sink ----------- */

#include <sys/un.h>

#include "lib/util/clock.h"

struct unix_server {
	int fd;
	char path[108];
	const char *answer; /* sent after the request; NULL: never answer */
	pthread_t thread;
};

static void *unix_serve(void *arg)
{
	struct unix_server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	char req[4096];
	read_request(c, req, sizeof req);
	if (s->answer && write(c, s->answer, strlen(s->answer)) < 0)
		perror("write");
	/* hold the connection until the client leaves */
	while (read(c, req, sizeof req) > 0)
		;
	close(c);
	return NULL;
}

static void unix_server_start(struct unix_server *s, bool serve)
{
	char *dir = harness_tmpdir();
	snprintf(s->path, sizeof s->path, "%s/api.sock", dir);
	free(dir);
	s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", s->path);
	if (bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 8) < 0)
		abort();
	if (serve)
		pthread_create(&s->thread, NULL, unix_serve, s);
}

static void unix_server_stop(struct unix_server *s, bool serve)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	if (serve)
		pthread_join(s->thread, NULL);
}

static int collect(void *ctx, const char *p, size_t n, aerr_t *err)
{
	(void)err;
	sb_add(ctx, p, n);
	return 0;
}

/* X on a fresh handle: its return value, with how it failed and how long it took. */
static int perform(const http_exchange *x, http_failure *how, double *took, aerr_t *err)
{
	http_conn *c = NULL;
	http_result res;
	if (http_conn_new(&c, err) < 0)
		return -2;
	double t0 = clock_mono_s();
	int rc = http_perform(c, x, &res, err);
	*took = clock_mono_s() - t0;
	*how = res.failure;
	http_result_free(&res);
	http_conn_free(c);
	return rc;
}

TEST(http_perform_unix_socket_streams_body)
{
	struct unix_server s = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"};
	unix_server_start(&s, true);
	strbuf got = STRBUF_INIT;
	http_exchange x = {.method = "GET",
			   .url = "http://d/v4.0.0/libpod/_ping",
			   .unix_socket = s.path,
			   .timeout_ms = 5000,
			   .sink = collect,
			   .ctx = &got};
	http_conn *c = NULL;
	aerr_t err = {0};
	http_result res;
	CHECK(http_conn_new(&c, &err) == 0);
	int rc = http_perform(c, &x, &res, &err);
	http_conn_free(c);
	long status = res.status;
	size_t body_len = res.body.len;
	http_result_free(&res);
	unix_server_stop(&s, true);
	CHECK(rc == 0);
	CHECK(status == 200);
	CHECK(body_len == 0); /* it went to the sink */
	CHECK_STR(got.s, "hello");
	sb_release(&got);
}

TEST(http_perform_silent_socket_times_out)
{
	/* listening, never accepting: the connection is made, nothing answers */
	struct unix_server s = {0};
	unix_server_start(&s, false);
	http_exchange x = {
	    .method = "GET", .url = "http://d/x", .unix_socket = s.path, .timeout_ms = 300};
	aerr_t err = {0};
	http_failure f;
	double took;
	int rc = perform(&x, &f, &took, &err);
	unix_server_stop(&s, false);
	CHECK(rc < 0);
	CHECK(f == HTTP_FAIL_TIMEOUT);
	CHECK(took < 2);
	CHECK_STR(err.msg, "no answer within 0.3 s");
}

TEST(http_perform_stall_is_bounded)
{
	/* headers and part of the body, then nothing */
	struct unix_server s = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"};
	unix_server_start(&s, true);
	http_exchange x = {
	    .method = "GET", .url = "http://d/x", .unix_socket = s.path, .stall_s = 1};
	aerr_t err = {0};
	http_failure f;
	double took;
	int rc = perform(&x, &f, &took, &err);
	unix_server_stop(&s, true);
	CHECK(rc < 0);
	CHECK(f == HTTP_FAIL_STALL);
	/* libcurl averages the speed over its last few seconds */
	printf("  stall of 1 s detected after %.1f s\n", took);
	CHECK(took < 8);
	CHECK_STR(err.msg, "stalled: nothing arrived for 1 s");
}

/* A TCP listener whose accept queue is full (backlog 0, never accepting):
 * the kernel drops further SYNs, so a connection is never made and only the
 * connect time-out ends the attempt.  Returns the port; FDS[0] listens. */
static int full_listener(int fds[4])
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(fds[0], (struct sockaddr *)&a, sizeof a) < 0 || listen(fds[0], 0) < 0 ||
	    getsockname(fds[0], (struct sockaddr *)&a, &len) < 0)
		return -1;
	for (int k = 1; k < 4; k++) {
		fds[k] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fds[k], (struct sockaddr *)&a, sizeof a);
	}
	usleep(50 * 1000);
	return ntohs(a.sin_port);
}

TEST(http_perform_connect_timeout_is_a_connect_failure)
{
	int fds[4] = {-1, -1, -1, -1};
	int port = full_listener(fds);
	CHECK(port > 0);
	cleanup_free char *url = xasprintf("http://127.0.0.1:%d/x", port);
	http_exchange x = {.method = "GET",
			   .url = url,
			   .connect_timeout_ms = 300,
			   .timeout_ms = 5000,
			   .stall_s = 1};
	aerr_t err = {0};
	http_failure f;
	double took;
	int rc = perform(&x, &f, &took, &err);
	for (int k = 0; k < 4; k++)
		close(fds[k]);
	CHECK(rc < 0);
	CHECK_STR(err.msg, "no connection within 0.3 s");
	CHECK(f == HTTP_FAIL_CONNECT);
	CHECK(took < 2);
}

TEST(http_perform_missing_socket_is_a_connect_failure)
{
	http_exchange x = {.method = "GET",
			   .url = "http://d/x",
			   .unix_socket = "/nonexistent/api.sock",
			   .timeout_ms = 1000};
	aerr_t err = {0};
	http_failure f;
	double took;
	CHECK(perform(&x, &f, &took, &err) < 0);
	CHECK(f == HTTP_FAIL_CONNECT);
	CHECK_STR(err.msg, "No such file or directory");
}

/* With a route (an ssh:// host's ports), an exchange with a loopback address
 * goes to the route's socket. */
static int routed_port;
static int route_to(void *ctx, const char *host, int port, char **sock, aerr_t *err)
{
	(void)host, (void)err;
	routed_port = port;
	*sock = xstrdup(ctx);
	return 0;
}

TEST(http_perform_loopback_through_the_route)
{
	struct unix_server s = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
	unix_server_start(&s, true);
	http_set_route(route_to, s.path);
	/* nothing listens on port 1 of this machine */
	http_exchange x = {
	    .method = "GET", .url = "http://127.0.0.1:1/v1/sys/health", .timeout_ms = 5000};
	http_failure how;
	double took;
	aerr_t err = {0};
	int rc = perform(&x, &how, &took, &err);
	int port = routed_port;
	http_set_route(NULL, NULL);
	unix_server_stop(&s, true);
	CHECK_STR(err.msg, "");
	CHECK(rc == 0);
	CHECK(port == 1);
}
