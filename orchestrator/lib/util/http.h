/* The one HTTP layer of the project, over libcurl: the libpod client
 * (podman.c, over a unix socket), the readiness probes (probe.c), the
 * bootstrap (OpenBao, Keycloak) and the checks of the TLS edge
 * (edgecheck.c: a hostname resolved to a given address, the certificate's
 * expiry) all go through http_perform, the only place that sets up a
 * libcurl transfer.
 *
 * Below: first the transport (http_conn, http_perform: one exchange, with
 * its time bounds, an optional unix socket and an optional streaming sink),
 * then the bootstrap's JSON client on top of it (http_client, http_do).
 *
 * The JSON client: every request has a timeout.  https URLs are verified
 * (the system's CAs, or CACERT for a private CA); nothing but http and https
 * is spoken and redirects are not followed.  Connection failures and 5xx
 * answers are retried with a doubling backoff, but only for idempotent
 * methods (GET, HEAD, PUT, DELETE, LIST) and only when the call does not say
 * `once`.
 *
 * Errors read "METHOD /path: HTTP 403: permission denied": the path without
 * its query string, the status, and the server's own text (OpenBao's
 * "errors" array; Keycloak's error_description / errorMessage / error;
 * Grafana's message).
 * Credentials travel in one header (token_name: token_value) or a form body;
 * neither is ever put in a message or the trace. */
#ifndef AEGIS_HTTP_H
#define AEGIS_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "util/error.h"
#include "util/strbuf.h"

/* --- the transport ------------------------------------------------------ */

/* One libcurl handle.  Reused from one exchange to the next it keeps its
 * connection open (Podman's socket); one thread at a time. */
typedef struct http_conn http_conn;
int http_conn_new(http_conn **out, aerr_t *err);
void http_conn_free(http_conn *c);

/* How an exchange failed, for callers that retry or word the error. */
typedef enum http_failure {
	HTTP_FAIL_NONE,
	HTTP_FAIL_CONNECT,  /* nothing listens, or no connection within the bound */
	HTTP_FAIL_TIMEOUT,  /* no complete answer within timeout_ms */
	HTTP_FAIL_STALL,    /* nothing arrived for stall_s */
	HTTP_FAIL_DROPPED,  /* the peer closed the connection before a complete answer */
	HTTP_FAIL_PROTOCOL, /* what came back is not HTTP */
	HTTP_FAIL_ABORTED,  /* the sink or the idle callback said stop (their error) */
	HTTP_FAIL_OTHER,
} http_failure;

typedef struct http_exchange {
	const char *method;
	const char *url;
	const char *unix_socket;    /* speak HTTP over this socket (the URL's host is a name) */
	const char *const *headers; /* "Name: value" lines, NULL-terminated */
	const void *body;	    /* sent when not NULL (a POST always sends one) */
	size_t body_len;
	const char *cacert; /* CA bundle for https, NULL: the system's */
	/* "HOST:PORT:ADDRESS": reach HOST:PORT of the URL at ADDRESS, no DNS;
	 * the URL's host still names the site (SNI, Host, certificate) */
	const char *resolve;
	const char *user, *password; /* basic auth, when USER is not NULL */
	bool cert_expiry;	     /* fill RES->cert_not_after (https) */
	long connect_timeout_ms;     /* 0: 5000 */
	long timeout_ms;	     /* the whole exchange; 0: no total bound (give stall_s) */
	long stall_s;		     /* fail when nothing arrives for this long; 0: no bound */
	size_t max_body;	     /* a bigger collected body is an error; 0: no limit */
	/* Optional: the body of an answer below 400 goes here as it arrives
	 * instead of into RES->body; returning < 0 (ERR set) aborts. */
	int (*sink)(void *ctx, const char *p, size_t n, aerr_t *err);
	/* Optional: called about once a second while nothing arrives, with the
	 * seconds since the last byte; returning < 0 (ERR set) aborts.  For
	 * streams that may rightly stay quiet (a log follow). */
	int (*idle)(void *ctx, double idle_s, aerr_t *err);
	void *ctx;
} http_exchange;

typedef struct http_result {
	long status;	/* 0 when nothing answered */
	strbuf body;	/* what did not go to the sink */
	char *location; /* the Location header, or NULL */
	http_failure failure;
	time_t cert_not_after; /* the server certificate's end (X->cert_expiry), 0: unknown */
} http_result;

/* Another host's ports (an ssh:// host, sshtunnel.h): ROUTE gives a local
 * unix socket that reaches HOST:PORT as seen from that host (*UNIX_SOCKET
 * newly allocated).  Process-wide, set before any exchange (NULL: none).
 * http_perform then sends every exchange with a loopback address
 * (127.0.0.0/8, ::1, localhost) and no unix socket of its own through it:
 * the platform's services published there, for the probes and the
 * bootstrap alike. */
typedef int (*http_route_fn)(void *ctx, const char *host, int port, char **unix_socket,
			     aerr_t *err);
void http_set_route(http_route_fn route, void *ctx);
/* The route's socket for HOST:PORT, *UNIX_SOCKET NULL when no route is set. */
int http_route(const char *host, int port, char **unix_socket, aerr_t *err);

/* Perform X on C.  0 when a complete HTTP answer arrived, whatever its
 * status; < 0 otherwise, RES->failure saying how and ERR holding the
 * transport's reason alone ("Connection refused", "no answer within 5 s"),
 * for the caller to wrap with the endpoint.  RES is filled either way: free
 * it with http_result_free (which wipes the body). */
int http_perform(http_conn *c, const http_exchange *x, http_result *res, aerr_t *err);
/* The same on a connection of its own, closed afterwards. */
int http_perform_once(const http_exchange *x, http_result *res, aerr_t *err);
void http_result_free(http_result *res);

/* --- the bootstrap's JSON client ------------------------------------------ */

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
