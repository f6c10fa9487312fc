#include "probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static size_t discard(char *p, size_t s, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return s * n;
}

static void probe_http(const probe *p, int timeout_s, probe_result *r)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(r->detail, sizeof r->detail, "cannot initialise libcurl");
		return;
	}
	char url[1024];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s%s", p->host_port,
		 (p->path && p->path[0] == '/') ? "" : "/", p->path ? p->path : "");
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_s * 1000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(r->detail, sizeof r->detail, "GET %.200s: %.280s", url,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return;
	}
	/* Kubernetes semantics: 200-399 is success */
	r->ok = status >= 200 && status < 400;
	snprintf(r->detail, sizeof r->detail, "GET %.400s: HTTP %ld", url, status);
}

static void probe_tcp(const probe *p, int timeout_s, probe_result *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(r->detail, sizeof r->detail, "socket: %s", strerror(errno));
		return;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->host_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
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
	r->ok = e == 0;
	snprintf(r->detail, sizeof r->detail, "connect 127.0.0.1:%d: %s", p->host_port,
		 e ? strerror(e) : "connected");
}

static void probe_exec(podman *pm, const char *container, const probe *p, int timeout_s,
		       probe_result *r)
{
	aerr_t err = {0};
	int code = -1;
	char *out = NULL;
	if (podman_exec(pm, container, p->command, timeout_s, &code, &out, &err) < 0) {
		snprintf(r->detail, sizeof r->detail, "%.500s", err.msg);
		free(out);
		return;
	}
	r->ok = code == 0;
	/* keep the first line of the output: it usually says why */
	char first[200] = "";
	if (out) {
		size_t k = strcspn(out, "\n");
		snprintf(first, sizeof first, "%.*s", (int)(k < 199 ? k : 199), out);
	}
	snprintf(r->detail, sizeof r->detail, "exit status %d%s%s", code, first[0] ? ": " : "",
		 first);
	free(out);
}

void probe_run(podman *pm, const char *container, const probe *p, probe_result *r)
{
	*r = (probe_result){0};
	int timeout_s = p->timeout_s > 0 ? p->timeout_s : 1;
	double t0 = clock_mono_s() * 1e3;
	switch (p->kind) {
	case PROBE_HTTP:
	case PROBE_TCP:
		if (p->host_port <= 0) {
			snprintf(r->detail, sizeof r->detail,
				 "port %d is not published on the host (no hostPort)", p->port);
			break;
		}
		if (p->kind == PROBE_HTTP)
			probe_http(p, timeout_s, r);
		else
			probe_tcp(p, timeout_s, r);
		break;
	case PROBE_EXEC:
		probe_exec(pm, container, p, timeout_s, r);
		break;
	default:
		/* no probe declared: running is ready */
		r->ok = true;
		snprintf(r->detail, sizeof r->detail, "no probe declared");
	}
	r->latency_ms = clock_mono_s() * 1e3 - t0;
}
