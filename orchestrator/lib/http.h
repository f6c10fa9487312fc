/* The HTTP(S) client of the bootstrap (OpenBao, Keycloak): libcurl for the
 * transport, jansson for the bodies.
 *
 * Every request has a timeout.  https URLs are verified (the system's CAs,
 * or CACERT for a private CA); nothing but http and https is spoken and
 * redirects are not followed.  Connection failures and 5xx answers are
 * retried with a doubling backoff, but only for idempotent methods (GET,
 * HEAD, PUT, DELETE, LIST) and only when the call does not say `once`.
 *
 * Errors read "METHOD /path: HTTP 403: permission denied": the path without
 * its query string, the status, and the server's own text (OpenBao's
 * "errors" array; Keycloak's error_description / errorMessage / error).
 * Credentials travel in one header (token_name: token_value) or a form body;
 * neither is ever put in a message or the trace. */
#ifndef AEGIS_HTTP_H
#define AEGIS_HTTP_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

typedef struct http_client {
	char *base;	       /* scheme://host[:port][/prefix], no trailing slash */
	char *cacert;	       /* CA bundle for https, or NULL for the system's */
	int timeout_s;	       /* whole request (default 30) */
	int connect_timeout_s; /* default 5 */
	int attempts;	       /* tries of a retryable request (default 4) */
	int backoff_ms;	       /* first pause between tries, doubled each time (default 250) */
	/* Optional: one line per request ("GET /v1/sys/health: 200"), for -v. */
	void (*trace)(void *ctx, const char *line);
	void *trace_ctx;
} http_client;

typedef struct http_request {
	const char *method;	 /* GET, HEAD, PUT, POST, DELETE, LIST, ... */
	const char *path;	 /* after the base URL; may carry a query */
	const char *token_name;	 /* header carrying a credential ("X-Vault-Token") */
	const char *token_value; /* its value ("Bearer ..." for Authorization) */
	const json_t *json;	 /* JSON body, or */
	const char *form;	 /* an x-www-form-urlencoded body (see http_form) */
	const long *accept;	 /* statuses that are not errors, 0-terminated; NULL: 2xx */
	bool once;		 /* never retry (sys/init, sys/unseal) */
} http_request;

typedef struct http_response {
	long status;
	json_t *body;	/* the parsed JSON body, NULL when empty or not JSON */
	char *location; /* the Location header, or NULL */
} http_response;

/* Check BASE_URL (http:// or https://) and CACERT (readable, when given);
 * both are copied.  A bad URL or CA file is a configuration error (2). */
int http_client_init(http_client *c, const char *base_url, const char *cacert, aerr_t *err);
void http_client_free(http_client *c);

/* One request.  Returns 0 when the status is accepted (RESP filled, free it
 * with http_response_free), -1 otherwise with ERR as described above; RESP
 * then still holds the status (0 when nothing answered) and body. */
int http_do(http_client *c, const http_request *rq, http_response *resp, aerr_t *err);
void http_response_free(http_response *resp);

/* S percent-encoded for a path segment or form value (newly allocated). */
char *http_escape(const char *s);
/* "k1=v1&k2=v2" from N key/value pairs, values encoded (newly allocated;
 * it usually holds a password: wipe it, see wipe.h). */
char *http_form(size_t n, const char *const *keys, const char *const *values);

/* The server's own error text in BODY (the rules above), or NULL. */
char *http_error_text(const json_t *body);

#endif
