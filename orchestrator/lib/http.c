#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "wipe.h"

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
	/* Keycloak: OAuth errors, then the admin API's errorMessage / error */
	static const char *const keys[] = {"error_description", "errorMessage", "error"};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const char *s = json_string_value(json_object_get(body, keys[k]));
		if (s && *s)
			return one_line(s);
	}
	return NULL;
}

/* --- one exchange ------------------------------------------------------ */

struct buf {
	char *data;
	size_t len, cap;
	bool overflow;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n;
	if (b->len + len > BODY_MAX) {
		b->overflow = true;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		char *grown = xmalloc(cap);
		if (b->data) {
			memcpy(grown, b->data, b->len);
			OPENSSL_cleanse(b->data, b->len);
			free(b->data);
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	char **location = ctx;
	size_t len = size * n;
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
static bool transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
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

struct attempt {
	CURLcode rc;
	long status;
	struct buf body;
	char *location;
	char errbuf[CURL_ERROR_SIZE];
};

static void attempt_reset(struct attempt *a)
{
	if (a->body.data) {
		OPENSSL_cleanse(a->body.data, a->body.len);
		free(a->body.data);
	}
	free(a->location);
	*a = (struct attempt){0};
}

static int perform(http_client *c, const http_request *rq, const char *url, const char *json_body,
		   struct attempt *a, aerr_t *err)
{
	CURL *h = curl_easy_init();
	if (!h)
		return aerr_set(err, AEGIS_EFAIL, "cannot initialise libcurl");
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	headers = curl_slist_append(headers, "Expect:");
	char *credential = NULL;
	if (rq->token_name && rq->token_value) {
		credential = xasprintf("%s: %s", rq->token_name, rq->token_value);
		headers = curl_slist_append(headers, credential);
	}
	const char *body = NULL;
	if (json_body) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		body = json_body;
	} else if (rq->form) {
		headers =
		    curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
		body = rq->form;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout_s);
	/* the platform's own services: never through an environment proxy */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &a->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &a->location);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a->errbuf);
	if (strcmp(rq->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(rq->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (body || strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	a->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	wipe_free(credential);
	return 0;
}

static void trace(http_client *c, const char *method, const char *path, const struct attempt *a,
		  int n)
{
	if (!c->trace)
		return;
	char line[1024];
	if (a->rc == CURLE_OK)
		snprintf(line, sizeof line, "%s %s: %ld%s", method, path, a->status,
			 n > 1 ? " (retried)" : "");
	else
		snprintf(line, sizeof line, "%s %s: %s", method, path,
			 a->errbuf[0] ? a->errbuf : curl_easy_strerror(a->rc));
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
	struct attempt a = {0};
	int rc = 0;
	for (int n = 1;; n++) {
		attempt_reset(&a);
		if (perform(c, rq, url, json_body, &a, err) < 0) {
			rc = -1;
			break;
		}
		trace(c, rq->method, path, &a, n);
		bool again =
		    a.rc == CURLE_OK ? a.status >= 500 && !accepted(rq, a.status) : transient(a.rc);
		if (!again || n >= tries)
			break;
		clock_sleep_ms(pause);
		pause *= 2;
	}
	wipe_free(json_body);
	if (rc < 0) {
		attempt_reset(&a);
		return -1;
	}
	if (a.rc != CURLE_OK) {
		cleanup_free char *host = host_of(c);
		const char *why = a.body.overflow ? "answer larger than 8 MiB"
				  : a.errbuf[0]	  ? a.errbuf
						  : curl_easy_strerror(a.rc);
		if (a.rc == CURLE_GOT_NOTHING || a.rc == CURLE_RECV_ERROR ||
		    a.rc == CURLE_PARTIAL_FILE)
			rc = aerr_set(err, AEGIS_EFAIL, "%s %s: connection to %s dropped: %s",
				      rq->method, path, host, why);
		else
			rc = aerr_set(err, AEGIS_EFAIL, "%s %s: %s: %s", rq->method, path, host,
				      why);
		attempt_reset(&a);
		return rc;
	}
	resp->status = a.status;
	resp->location = a.location;
	a.location = NULL;
	if (a.body.len > 0)
		resp->body = json_loadb(a.body.data, a.body.len, JSON_DECODE_ANY, NULL);
	if (!accepted(rq, a.status)) {
		char *text = http_error_text(resp->body);
		if (!text && !resp->body && a.body.len > 0)
			text = one_line(a.body.data);
		rc = aerr_set(err, AEGIS_EFAIL, "%s %s: HTTP %ld%s%s", rq->method, path, a.status,
			      text ? ": " : "", text ? text : "");
		free(text);
	}
	attempt_reset(&a);
	return rc;
}
