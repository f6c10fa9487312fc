#include "util/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/wipe.h"

#define BODY_MAX (8 * 1024 * 1024)
#define SERVER_TEXT_MAX 300

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	/* process-wide and never undone, like podman.c's */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_client_init(http_client *c, const char *base_url, const char *cacert, aerr_t *err)
{
	*c = (http_client){
	    .timeout_s = 30, .connect_timeout_s = 5, .attempts = 4, .backoff_ms = 250};
	if (!base_url ||
	    (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0))
		return aerr_set(err, AEGIS_ECONFIG, "'%s' is not an http:// or https:// URL",
				base_url ? base_url : "");
	const char *host = strstr(base_url, "://") + 3;
	if (!*host || *host == '/' || strpbrk(base_url, "?# \t\r\n") || strchr(host, '@'))
		return aerr_set(err, AEGIS_ECONFIG,
				"'%s' is not a usable base URL (scheme://host[:port][/path], no "
				"credentials, query or fragment)",
				base_url);
	if (cacert && *cacert && access(cacert, R_OK) != 0)
		return aerr_sys(err, AEGIS_ECONFIG, errno, "CA file %s", cacert);
	size_t len = strlen(base_url);
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	c->base = xstrndup(base_url, len);
	c->cacert = cacert && *cacert ? xstrdup(cacert) : NULL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		http_client_free(c);
		return aerr_set(err, AEGIS_EFAIL, "cannot initialise libcurl: %s",
				curl_easy_strerror(curl_init_rc));
	}
	return 0;
}

void http_client_free(http_client *c)
{
	free(c->base);
	free(c->cacert);
	c->base = c->cacert = NULL;
}

void http_response_free(http_response *resp)
{
	json_decref(resp->body);
	free(resp->location);
	*resp = (http_response){0};
}

char *http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *http_form(size_t n, const char *const *keys, const char *const *values)
{
	size_t cap = 1;
	char **enc = xcalloc(n, sizeof *enc);
	for (size_t i = 0; i < n; i++) {
		enc[i] = http_escape(values[i]);
		cap += strlen(keys[i]) + strlen(enc[i]) + 2;
	}
	char *out = xmalloc(cap);
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", i ? "&" : "", keys[i],
					enc[i]);
		wipe_free(enc[i]);
	}
	out[len] = '\0';
	free(enc);
	return out;
}

/* Printable text of at most SERVER_TEXT_MAX bytes, one line. */
static char *one_line(const char *s)
{
	size_t n = strnlen(s, SERVER_TEXT_MAX);
	char *out = xstrndup(s, n);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	return out;
}

char *http_error_text(const json_t *body)
{
	if (!json_is_object(body))
		return NULL;
	/* OpenBao: {"errors": ["permission denied", ...]} */
	json_t *errors = json_object_get(body, "errors");
	if (json_is_array(errors) && json_array_size(errors) > 0) {
		char joined[SERVER_TEXT_MAX + 1] = "";
		size_t i;
		json_t *e;
		json_array_foreach(errors, i, e)
		{
			const char *s = json_string_value(e);
			if (s)
				snprintf(joined + strlen(joined), sizeof joined - strlen(joined),
					 "%s%s", joined[0] ? "; " : "", s);
		}
		if (joined[0])
			return one_line(joined);
	}
	/* Keycloak: OAuth errors, then the admin API's errorMessage / error;
	 * Grafana: {"message": ...} (pkg/api/response, errutil's public error) */
	static const char *const keys[] = {"error_description", "errorMessage", "error", "message"};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const char *s = json_string_value(json_object_get(body, keys[k]));
		if (s && *s)
			return one_line(s);
	}
	return NULL;
}

/* --- the transport -------------------------------------------------------- */

struct http_conn {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

int http_conn_new(http_conn **out, aerr_t *err)
{
	*out = NULL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return aerr_set(err, AEGIS_EFAIL, "cannot initialise libcurl: %s",
				curl_easy_strerror(curl_init_rc));
	http_conn *c = xcalloc(1, sizeof *c);
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return aerr_set(err, AEGIS_EFAIL, "cannot initialise libcurl");
	}
	*out = c;
	return 0;
}

void http_conn_free(http_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void http_result_free(http_result *res)
{
	sb_wipe(&res->body);
	free(res->location);
	*res = (http_result){0};
}

/* The state of one exchange, shared with libcurl's callbacks. */
struct xfer {
	CURL *curl;
	const http_exchange *x;
	http_result *res;
	aerr_t *err;
	bool aborted;  /* the sink or the idle callback stopped it */
	bool overflow; /* the body passed max_body */
	double last_byte;
	double next_idle;
	double started; /* clock_mono_s() when the perform began */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *t = arg;
	size_t len = size * n;
	t->last_byte = clock_mono_s();
	if (t->x->sink) {
		if (!t->res->status)
			curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->res->status);
		/* errors come as a body to read, not as a stream */
		if (t->res->status < 400) {
			if (t->x->sink(t->x->ctx, p, len, t->err) == 0)
				return len;
			t->aborted = true;
			return 0;
		}
	}
	if (t->x->max_body && t->res->body.len + len > t->x->max_body) {
		t->overflow = true;
		return 0;
	}
	sb_add(&t->res->body, p, len);
	return len;
}

/* The end of the peer certificate's validity, looked at while the
 * connection is certainly alive: in the header callback. */
static void peer_not_after(struct xfer *t)
{
	const struct curl_tlssessioninfo *ti = NULL;
	if (curl_easy_getinfo(t->curl, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
		return;
	X509 *x = SSL_get1_peer_certificate((SSL *)ti->internals);
	struct tm tm;
	if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		t->res->cert_not_after = timegm(&tm);
	X509_free(x);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *t = arg;
	char **location = &t->res->location;
	size_t len = size * n;
	t->last_byte = clock_mono_s();
	if (t->x->cert_expiry && !t->res->cert_not_after)
		peer_not_after(t);
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the previous one */
		free(*location);
		*location = NULL;
	} else if (len > 9 && strncasecmp(p, "Location:", 9) == 0) {
		const char *v = p + 9;
		const char *end = p + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(*location);
		*location = xstrndup(v, (size_t)(end - v));
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	struct xfer *t = arg;
	double now = clock_mono_s();
	if (now < t->next_idle)
		return 0;
	t->next_idle = now + 1;
	if (now - t->last_byte < 1 || t->x->idle(t->x->ctx, now - t->last_byte, t->err) == 0)
		return 0;
	t->aborted = true;
	return 1;
}

static void seconds(char *out, size_t n, long ms)
{
	if (ms % 1000)
		snprintf(out, n, "%.1f s", ms / 1000.0);
	else
		snprintf(out, n, "%ld s", ms / 1000);
}

/* Which limit ended T with CURLE_OPERATION_TIMEDOUT: libcurl has that one
 * code for the connect time-out, the total time-out (CURLOPT_TIMEOUT_MS)
 * and the low-speed limit that bounds a stall (curl/curl lib/speedcheck.c
 * @00e508c4, Curl_speedcheck).  The transfer's own figures tell them apart;
 * libcurl sets them to zero as each perform begins (lib/getinfo.c @6e117d37,
 * Curl_initinfo):
 * - nothing of the request sent and no pre-transfer time: no connection
 *   was made (a reused connection sends its request at once);
 * - else, with a stall bound and the total time-out not reached yet: the
 *   low-speed limit;
 * - else the total time-out. */
static http_failure timeout_kind(const struct xfer *t)
{
	long request = 0;
	curl_off_t pretransfer_us = 0;
	curl_easy_getinfo(t->curl, CURLINFO_REQUEST_SIZE, &request);
	curl_easy_getinfo(t->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
	if (!t->res->status && request == 0 && pretransfer_us == 0)
		return HTTP_FAIL_CONNECT;
	double took_ms = (clock_mono_s() - t->started) * 1000;
	if (t->x->stall_s && (t->x->timeout_ms <= 0 || took_ms < t->x->timeout_ms))
		return HTTP_FAIL_STALL;
	return HTTP_FAIL_TIMEOUT;
}

/* RES->failure and ERR from libcurl's verdict RC. */
static int failed(struct xfer *t, CURLcode rc, const char *errbuf, long connect_ms)
{
	http_result *res = t->res;
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	char bound[32];
	if (t->aborted) {
		res->failure = HTTP_FAIL_ABORTED;
		return -1; /* the callback's own error */
	}
	if (t->overflow) {
		res->failure = HTTP_FAIL_OTHER;
		size_t max = t->x->max_body;
		if (max % (1024 * 1024) == 0)
			return aerr_set(t->err, AEGIS_EFAIL, "answer larger than %zu MiB",
					max / (1024 * 1024));
		return aerr_set(t->err, AEGIS_EFAIL, "answer larger than %zu bytes", max);
	}
	switch (rc) {
	case CURLE_COULDNT_CONNECT: {
		long oserr = 0;
		curl_easy_getinfo(t->curl, CURLINFO_OS_ERRNO, &oserr);
		res->failure = HTTP_FAIL_CONNECT;
		return aerr_set(t->err, AEGIS_EFAIL, "%s", oserr ? strerror((int)oserr) : why);
	}
	case CURLE_OPERATION_TIMEDOUT:
		switch (timeout_kind(t)) {
		case HTTP_FAIL_CONNECT:
			res->failure = HTTP_FAIL_CONNECT;
			seconds(bound, sizeof bound, connect_ms);
			return aerr_set(t->err, AEGIS_EFAIL, "no connection within %s", bound);
		case HTTP_FAIL_STALL:
			res->failure = HTTP_FAIL_STALL;
			return aerr_set(t->err, AEGIS_EFAIL, "stalled: nothing arrived for %ld s",
					t->x->stall_s);
		default:
			res->failure = HTTP_FAIL_TIMEOUT;
			seconds(bound, sizeof bound, t->x->timeout_ms);
			return aerr_set(t->err, AEGIS_EFAIL, "%s within %s",
					res->status ? "no complete answer" : "no answer", bound);
		}
	case CURLE_GOT_NOTHING:
		res->failure = HTTP_FAIL_DROPPED;
		return aerr_set(t->err, AEGIS_EFAIL, "connection closed without an answer");
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		res->failure = HTTP_FAIL_DROPPED;
		return aerr_set(t->err, AEGIS_EFAIL, "connection dropped: %s", why);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		res->failure = HTTP_FAIL_PROTOCOL;
		return aerr_set(t->err, AEGIS_EFAIL, "not an HTTP answer (%s)", why);
	default:
		res->failure = HTTP_FAIL_OTHER;
		return aerr_set(t->err, AEGIS_EFAIL, "%s", why);
	}
}

/* --- another host's ports ------------------------------------------------- */

static http_route_fn route;
static void *route_ctx;

void http_set_route(http_route_fn fn, void *ctx)
{
	route = fn;
	route_ctx = ctx;
}

int http_route(const char *host, int port, char **unix_socket, aerr_t *err)
{
	*unix_socket = NULL;
	return route ? route(route_ctx, host, port, unix_socket, err) : 0;
}

/* The route's socket for URL when its host is a loopback address. */
static int route_loopback(const char *url, char **unix_socket, aerr_t *err)
{
	*unix_socket = NULL;
	if (!route)
		return 0;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int rc = 0;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		bool v6 = strcmp(host, "[::1]") == 0;
		if (v6 || strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0)
			rc = route(route_ctx, v6 ? "::1" : host, atoi(port), unix_socket, err);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int http_perform(http_conn *c, const http_exchange *x, http_result *res, aerr_t *err)
{
	*res = (http_result){0};
	cleanup_free char *routed = NULL;
	if (!x->unix_socket && route_loopback(x->url, &routed, err) < 0) {
		res->failure = HTTP_FAIL_CONNECT;
		return -1;
	}
	CURL *h = c->curl;
	struct xfer t = {.curl = h, .x = x, .res = res, .err = err};
	long connect_ms = x->connect_timeout_ms > 0 ? x->connect_timeout_ms : 5000;
	/* no 100-continue round trip */
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
	for (const char *const *hd = x->headers; hd && *hd; hd++)
		headers = curl_slist_append(headers, *hd);

	/* reset keeps the open connection for the next exchange */
	curl_easy_reset(h);
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	if (x->unix_socket || routed)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH,
				 x->unix_socket ? x->unix_socket : routed);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* timeouts without SIGALRM: safe in threads */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, x->timeout_ms > 0 ? x->timeout_ms : 0L);
	if (x->stall_s > 0) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, x->stall_s);
	}
	/* the platform's own services and Podman: never through an environment proxy */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (x->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, x->cacert);
	struct curl_slist *resolve = x->resolve ? curl_slist_append(NULL, x->resolve) : NULL;
	if (resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	if (x->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, x->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, x->password ? x->password : "");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	if (x->idle) {
		t.last_byte = t.next_idle = clock_mono_s();
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (strcmp(x->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(x->method, "GET") != 0 && strcmp(x->method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
	if (x->body || strcmp(x->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body ? x->body : "");
	}
	t.started = clock_mono_s();
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	if (rc == CURLE_OK && !t.aborted)
		return 0;
	return failed(&t, rc, c->errbuf, connect_ms);
}

int http_perform_once(const http_exchange *x, http_result *res, aerr_t *err)
{
	*res = (http_result){0};
	http_conn *c = NULL;
	int rc = http_conn_new(&c, err);
	if (rc == 0)
		rc = http_perform(c, x, res, err);
	http_conn_free(c);
	return rc;
}

/* --- the bootstrap's JSON client ------------------------------------------ */

static bool idempotent(const char *method)
{
	static const char *const safe[] = {"GET", "HEAD", "PUT", "DELETE", "LIST", "OPTIONS"};
	for (size_t i = 0; i < ARRAY_SIZE(safe); i++)
		if (strcmp(method, safe[i]) == 0)
			return true;
	return false;
}

static bool accepted(const http_request *rq, long status)
{
	if (!rq->accept)
		return status >= 200 && status < 300;
	for (const long *s = rq->accept; *s; s++)
		if (*s == status)
			return true;
	return false;
}

/* Failures that a second try may cure: the peer was not there, dropped the
 * connection or took too long. */
static bool transient(http_failure f)
{
	return f == HTTP_FAIL_CONNECT || f == HTTP_FAIL_DROPPED || f == HTTP_FAIL_TIMEOUT ||
	       f == HTTP_FAIL_STALL;
}

/* The path as shown in messages: without its query string, which may hold
 * anything. */
static char *shown_path(const http_client *c, const char *path)
{
	const char *after_host = strstr(c->base, "://") + 3;
	const char *prefix = strchr(after_host, '/');
	size_t plen = strcspn(path, "?#");
	return xasprintf("%s%.*s", prefix ? prefix : "", (int)plen, path);
}

static char *host_of(const http_client *c)
{
	const char *h = strstr(c->base, "://") + 3;
	return xstrndup(h, strcspn(h, "/"));
}

/* One try: RES and ERR as http_perform leaves them. */
static int attempt(http_client *c, const http_request *rq, const char *url, const char *json_body,
		   http_result *res, aerr_t *err)
{
	const char *hd[4];
	size_t n = 0;
	hd[n++] = "Accept: application/json";
	if (json_body)
		hd[n++] = "Content-Type: application/json";
	else if (rq->form)
		hd[n++] = "Content-Type: application/x-www-form-urlencoded";
	char *credential = NULL;
	if (rq->token_name && rq->token_value)
		hd[n++] = credential = xasprintf("%s: %s", rq->token_name, rq->token_value);
	hd[n] = NULL;
	const char *body = json_body ? json_body : rq->form;
	http_exchange x = {
	    .method = rq->method,
	    .url = url,
	    .headers = hd,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .cacert = c->cacert,
	    .connect_timeout_ms = c->connect_timeout_s * 1000L,
	    .timeout_ms = c->timeout_s * 1000L,
	    .max_body = BODY_MAX,
	};
	int rc = http_perform_once(&x, res, err);
	wipe_free(credential);
	return rc;
}

static void trace(http_client *c, const char *method, const char *path, int rc,
		  const http_result *res, const aerr_t *err, int n)
{
	if (!c->trace)
		return;
	cleanup_free char *line = rc == 0 ? xasprintf("%s %s: %ld%s", method, path, res->status,
						      n > 1 ? " (retried)" : "")
					  : xasprintf("%s %s: %s", method, path, err->msg);
	c->trace(c->trace_ctx, line);
}

int http_do(http_client *c, const http_request *rq, http_response *resp, aerr_t *err)
{
	*resp = (http_response){0};
	cleanup_free char *url = xasprintf("%s%s", c->base, rq->path);
	cleanup_free char *path = shown_path(c, rq->path);
	char *json_body = NULL;
	if (rq->json) {
		json_body = json_dumps(rq->json, JSON_COMPACT);
		if (!json_body)
			return aerr_set(err, AEGIS_EFAIL, "%s %s: cannot encode the request body",
					rq->method, path);
	}
	bool retry = idempotent(rq->method) && !rq->once;
	int tries = retry && c->attempts > 1 ? c->attempts : 1;
	int pause = c->backoff_ms;
	http_result res = {0};
	int rc;
	for (int n = 1;; n++) {
		http_result_free(&res);
		rc = attempt(c, rq, url, json_body, &res, err);
		if (rc < 0 && res.failure == HTTP_FAIL_NONE)
			break; /* no handle */
		trace(c, rq->method, path, rc, &res, err, n);
		bool again = rc == 0 ? res.status >= 500 && !accepted(rq, res.status)
				     : transient(res.failure);
		if (!again || n >= tries)
			break;
		clock_sleep_ms(pause);
		pause *= 2;
	}
	wipe_free(json_body);
	if (rc < 0) {
		if (res.failure != HTTP_FAIL_NONE) {
			cleanup_free char *host = host_of(c);
			if (res.failure == HTTP_FAIL_DROPPED)
				aerr_wrap(err, "%s %s: connection to %s dropped", rq->method, path,
					  host);
			else
				aerr_wrap(err, "%s %s: %s", rq->method, path, host);
		}
		http_result_free(&res);
		return -1;
	}
	resp->status = res.status;
	resp->location = res.location;
	res.location = NULL;
	if (res.body.len > 0)
		resp->body = json_loadb(res.body.s, res.body.len, JSON_DECODE_ANY, NULL);
	if (!accepted(rq, res.status)) {
		char *text = http_error_text(resp->body);
		if (!text && !resp->body && res.body.len > 0)
			text = one_line(res.body.s);
		rc = aerr_set(err, AEGIS_EFAIL, "%s %s: HTTP %ld%s%s", rq->method, path, res.status,
			      text ? ": " : "", text ? text : "");
		free(text);
	}
	http_result_free(&res);
	return rc;
}
