/* Podman on another host, reached over ssh:// (Podman's own URL form,
 * `ssh://[user@]host[:port]/path/to/podman.sock`).
 *
 * The system's OpenSSH client is started as a control master that forwards
 * the remote API socket to a local one in a private 0700 directory; the
 * libpod client then speaks to that local socket as to any other.  The
 * probed host ports are forwarded on demand through the same master
 * (`ssh -O forward`), each to a local unix socket, so readiness probes
 * reach the remote host's ports exactly as they would reach local ones.
 *
 * ssh runs non-interactively (BatchMode: a key or an agent, never a
 * password prompt) and nothing secret is put on its command line: the
 * identity is a file name, passwords in the URL are refused.  It runs under
 * spawn.h's watchdog, so it never outlives this process, SIGKILL included. */
#ifndef AEGIS_SSHTUNNEL_H
#define AEGIS_SSHTUNNEL_H

#include <stdbool.h>

#include "util/error.h"

/* An ssh:// URL taken apart. */
typedef struct ssh_url {
	char *user; /* NULL: ssh's default */
	char *host;
	int port;      /* 0: ssh's default */
	char *path;    /* the API socket on the remote host */
	char *display; /* the URL as shown in messages (never a password) */
} ssh_url;

/* Parse URL; anything but ssh://[user@]host[:port]/absolute/path is an
 * AEGIS_ECONFIG error naming it (a password in it is refused, not shown). */
int ssh_url_parse(const char *url, ssh_url *out, aerr_t *err);
void ssh_url_free(ssh_url *u);

typedef struct sshtunnel sshtunnel;

typedef struct sshtunnel_options {
	const char *identity;  /* -i FILE (CONTAINER_SSHKEY); NULL: ssh's defaults */
	const char *config;    /* -F FILE (AEGIS_SSH_CONFIG); NULL: ssh's defaults */
	int connect_timeout_s; /* 0: 10 */
} sshtunnel_options;

/* Start ssh for URL and wait until the local socket accepts connections.
 * Errors (AEGIS_EFAIL) name the URL and say what ssh said: the host cannot
 * be reached, authentication failed, the host key is not known. */
int sshtunnel_open(sshtunnel **out, const char *url, const sshtunnel_options *opt, aerr_t *err);
/* Stop ssh and remove the private directory.  NULL is fine. */
void sshtunnel_close(sshtunnel *t);

/* The local socket that reaches the remote API socket. */
const char *sshtunnel_socket(const sshtunnel *t);
const char *sshtunnel_url(const sshtunnel *t);
/* The API socket on the remote host (the URL's path). */
const char *sshtunnel_remote_socket(const sshtunnel *t);
/* ssh's last message (its stderr), "" when it said nothing: after the API
 * did not answer through the tunnel (the remote socket is missing, ...). */
void sshtunnel_last_message(const sshtunnel *t, char *buf, size_t n);

/* A local unix socket that reaches HOST:PORT as seen from the remote host
 * (forwarded on first use, then reused; newly allocated path).  Safe to
 * call from several threads. */
int sshtunnel_forward(sshtunnel *t, const char *host, int port, char **local, aerr_t *err);

#endif
