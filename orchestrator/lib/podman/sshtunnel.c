#include "podman/sshtunnel.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "util/clock.h"
#include "util/spawn.h"

#define DIR_PREFIX "aegis-ssh-"
/* ssh's own bound on the TCP connect and the banner exchange; the login
 * after it gets AUTH_GRACE_S more before the tunnel counts as not coming up */
#define CONNECT_TIMEOUT_S 10
#define AUTH_GRACE_S 20
#define STOP_GRACE_MS 2000
#define POLL_MS 50

struct forward {
	char *host;
	int port;
	char *path;
};

struct sshtunnel {
	ssh_url url;
	char *ssh; /* the client's full path */
	char *config;
	char *identity;
	char *dir; /* private, 0700: the sockets and ssh's log */
	char *sock;
	char *ctl;
	char *log;
	spawn_service service;
	pthread_mutex_t lock; /* the forwards */
	struct forward *fwd;
	size_t nfwd;
};

/* --- the URL ------------------------------------------------------------ */

static char *url_part(CURLU *h, CURLUPart part, unsigned flags)
{
	char *v = NULL;
	if (curl_url_get(h, part, &v, flags) != CURLUE_OK)
		return NULL;
	char *copy = xstrdup(v);
	curl_free(v);
	return copy;
}

int ssh_url_parse(const char *url, ssh_url *out, aerr_t *err)
{
	*out = (ssh_url){0};
	if (!url || strncmp(url, "ssh://", 6) != 0)
		return aerr_set(err, AEGIS_ECONFIG,
				"'%.200s' is not an ssh:// URL (ssh://[user@]host[:port]/path/to/"
				"podman.sock)",
				url ? url : "");
	CURLU *h = curl_url();
	if (!h)
		return aerr_set(err, AEGIS_EFAIL, "out of memory");
	int rc = 0;
	cleanup_free char *shown_host = NULL;
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		rc = aerr_set(err, AEGIS_ECONFIG,
			      "'%.200s' is not a valid URL (ssh://[user@]host[:port]/path/to/"
			      "podman.sock)",
			      url);
		goto out;
	}
	char *password = url_part(h, CURLUPART_PASSWORD, 0);
	out->user = url_part(h, CURLUPART_USER, CURLU_URLDECODE);
	out->host = url_part(h, CURLUPART_HOST, 0);
	char *port = url_part(h, CURLUPART_PORT, 0);
	out->path = url_part(h, CURLUPART_PATH, CURLU_URLDECODE);
	char *query = url_part(h, CURLUPART_QUERY, 0);
	/* [::1] -> ::1 for ssh; the display keeps the brackets */
	shown_host = out->host ? xstrdup(out->host) : NULL;
	if (out->host && out->host[0] == '[') {
		size_t k = strlen(out->host);
		memmove(out->host, out->host + 1, k - 1);
		out->host[k - 2] = '\0';
	}
	if (port)
		out->port = atoi(port);
	out->display = xasprintf("ssh://%s%s%s%s%s%s", out->user ? out->user : "",
				 out->user ? "@" : "", shown_host ? shown_host : "",
				 port ? ":" : "", port ? port : "", out->path ? out->path : "");
	if (password)
		rc = aerr_set(err, AEGIS_ECONFIG,
			      "%s: a password in the URL is not supported (ssh runs in batch "
			      "mode: use a key, --identity or CONTAINER_SSHKEY, or an agent)",
			      out->display);
	else if (!out->host || !*out->host)
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: no host name", out->display);
	else if (out->host[0] == '-')
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: '%s' is not a host name", out->display,
			      out->host);
	else if (out->user && (!*out->user || out->user[0] == '-'))
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: '%s' is not a user name", out->display,
			      out->user);
	else if (!out->path || out->path[0] != '/' || !out->path[1])
		rc = aerr_set(err, AEGIS_ECONFIG,
			      "%s: no socket path (ssh://[user@]host[:port]/path/to/podman.sock)",
			      out->display);
	else if (query)
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: URL parameters (?%s) are not supported",
			      out->display, query);
	if (password) {
		/* wipe what curl's copy was copied into */
		memset(password, 0, strlen(password));
		free(password);
	}
	free(port);
	free(query);
out:
	curl_url_cleanup(h);
	if (rc < 0)
		ssh_url_free(out);
	return rc;
}

void ssh_url_free(ssh_url *u)
{
	free(u->user);
	free(u->host);
	free(u->path);
	free(u->display);
	*u = (ssh_url){0};
}

/* --- the private directory ---------------------------------------------- */

/* the control socket (ssh adds a 17-character suffix while it creates it)
 * must fit in sockaddr_un */
static int make_dir(sshtunnel *t, aerr_t *err)
{
	return spawn_private_dir(DIR_PREFIX, sizeof "/ctl.0123456789abcdef", &t->dir, err);
}

/* --- ssh ---------------------------------------------------------------- */

void sshtunnel_last_message(const sshtunnel *t, char *buf, size_t n)
{
	buf[0] = '\0';
	if (t && t->log)
		spawn_log_tail(t->log, buf, n);
}

/* What ssh's log says went wrong, in the words of the error. */
static const char *diagnose(const char *log)
{
	static const struct {
		const char *seen, *means;
	} causes[] = {
	    {"Permission denied", "authentication failed"},
	    {"Too many authentication failures", "authentication failed"},
	    {"Host key verification failed", "the host key is not known or not trusted"},
	    {"REMOTE HOST IDENTIFICATION HAS CHANGED", "the host key has changed"},
	    {"Could not resolve hostname", "cannot resolve the host name"},
	    {"Connection refused", "cannot reach the host"},
	    {"Connection timed out", "cannot reach the host"},
	    {"No route to host", "cannot reach the host"},
	    {"Network is unreachable", "cannot reach the host"},
	    {"Connection closed", "the connection was closed during the login"},
	    {"forwarding", "the API socket cannot be forwarded"},
	};
	cleanup_free char *text = NULL;
	FILE *f = fopen(log, "r");
	if (f) {
		char buf[8192];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		text = xstrdup(buf);
		fclose(f);
	}
	for (size_t i = 0; text && i < ARRAY_SIZE(causes); i++)
		if (strstr(text, causes[i].seen))
			return causes[i].means;
	return "ssh ended";
}

static bool accepts(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* The options every ssh run of ours shares. */
static size_t common_args(const sshtunnel *t, const char **a)
{
	size_t n = 0;
	a[n++] = t->ssh;
	if (t->config)
		a[n++] = "-F", a[n++] = t->config;
	a[n++] = "-o", a[n++] = "BatchMode=yes";
	a[n++] = "-S", a[n++] = t->ctl;
	return n;
}

/* The ssh client, the identity and config files, the private directory. */
static int tunnel_setup(sshtunnel *t, const sshtunnel_options *opt, aerr_t *err)
{
	const char *shown = t->url.display;
	t->ssh = spawn_which("ssh");
	if (!t->ssh)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s: the OpenSSH client (ssh) is not installed: run `make setup` "
				"(scripts/setup.sh)",
				shown);
	if (opt && opt->identity && *opt->identity) {
		if (access(opt->identity, R_OK) < 0)
			return aerr_sys(err, AEGIS_ECONFIG, errno,
					"%s: cannot read the identity file %s", shown,
					opt->identity);
		t->identity = xstrdup(opt->identity);
	}
	if (opt && opt->config && *opt->config)
		t->config = xstrdup(opt->config);
	if (make_dir(t, err) < 0)
		return -1;
	t->sock = xasprintf("%s/podman.sock", t->dir);
	t->ctl = xasprintf("%s/ctl", t->dir);
	t->log = xasprintf("%s/ssh.log", t->dir);
	return 0;
}

/* Start the master connection, forwarding the local socket to the remote
 * API socket, under the watchdog. */
static int start_master(sshtunnel *t, int timeout_s, aerr_t *err)
{
	cleanup_free char *timeout = xasprintf("ConnectTimeout=%d", timeout_s);
	cleanup_free char *port = t->url.port ? xasprintf("%d", t->url.port) : NULL;
	cleanup_free char *forward = xasprintf("%s:%s", t->sock, t->url.path);
	const char *argv[40];
	size_t n = common_args(t, argv);
	/* a master for the probe forwards; no command, no tty, no stdin */
	argv[n++] = "-M", argv[n++] = "-nNT";
	argv[n++] = "-o", argv[n++] = "ControlPersist=no";
	argv[n++] = "-o", argv[n++] = "ExitOnForwardFailure=yes";
	argv[n++] = "-o", argv[n++] = "StreamLocalBindUnlink=yes";
	argv[n++] = "-o", argv[n++] = "StreamLocalBindMask=0177";
	argv[n++] = "-o", argv[n++] = "ServerAliveInterval=15";
	argv[n++] = "-o", argv[n++] = timeout;
	if (t->identity)
		argv[n++] = "-i", argv[n++] = t->identity, argv[n++] = "-o",
		argv[n++] = "IdentitiesOnly=yes";
	if (port)
		argv[n++] = "-p", argv[n++] = port;
	if (t->url.user)
		argv[n++] = "-l", argv[n++] = t->url.user;
	argv[n++] = "-L", argv[n++] = forward;
	/* nothing after "--" is an option, whatever the host name says */
	argv[n++] = "--", argv[n++] = t->url.host;
	argv[n] = NULL;
	/* the watchdog stops ssh and removes these when this process ends,
	 * however it ends */
	const char *leave[] = {t->sock, t->ctl, t->log, t->dir, NULL};
	if (spawn_service_start((char *const *)argv, t->log, leave, STOP_GRACE_MS, &t->service,
				err) < 0)
		return aerr_wrap(err, "%s", t->url.display);
	return 0;
}

/* Until the local socket accepts, ssh exits, or the time is up. */
static int wait_up(sshtunnel *t, int timeout_s, aerr_t *err)
{
	const char *shown = t->url.display;
	double deadline = clock_mono_s() + timeout_s + AUTH_GRACE_S;
	for (;;) {
		char said[512];
		if (spawn_service_exited(&t->service)) {
			sshtunnel_last_message(t, said, sizeof said);
			return aerr_set(
			    err, AEGIS_EFAIL, "cannot reach the Podman API at %s: %s%s%s%s", shown,
			    diagnose(t->log), said[0] ? " (ssh: " : "", said, said[0] ? ")" : "");
		}
		if (accepts(t->sock))
			return 0;
		if (clock_mono_s() >= deadline) {
			sshtunnel_last_message(t, said, sizeof said);
			return aerr_set(
			    err, AEGIS_EFAIL,
			    "cannot reach the Podman API at %s: the ssh tunnel did not come up "
			    "within %d s%s%s%s",
			    shown, timeout_s + AUTH_GRACE_S, said[0] ? " (ssh: " : "", said,
			    said[0] ? ")" : "");
		}
		clock_sleep_ms(POLL_MS);
	}
}

int sshtunnel_open(sshtunnel **out, const char *url, const sshtunnel_options *opt, aerr_t *err)
{
	*out = NULL;
	sshtunnel *t = xcalloc(1, sizeof *t);
	t->service = (spawn_service)SPAWN_SERVICE_INIT;
	pthread_mutex_init(&t->lock, NULL);
	int timeout_s =
	    opt && opt->connect_timeout_s > 0 ? opt->connect_timeout_s : CONNECT_TIMEOUT_S;
	if (ssh_url_parse(url, &t->url, err) < 0 || tunnel_setup(t, opt, err) < 0 ||
	    start_master(t, timeout_s, err) < 0 || wait_up(t, timeout_s, err) < 0) {
		sshtunnel_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

void sshtunnel_close(sshtunnel *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nfwd; i++) {
		unlink(t->fwd[i].path);
		free(t->fwd[i].host);
		free(t->fwd[i].path);
	}
	free(t->fwd);
	spawn_service_stop(&t->service);
	if (t->dir)
		rmdir(t->dir);
	pthread_mutex_destroy(&t->lock);
	ssh_url_free(&t->url);
	free(t->ssh);
	free(t->config);
	free(t->identity);
	free(t->dir);
	free(t->sock);
	free(t->ctl);
	free(t->log);
	free(t);
}

const char *sshtunnel_socket(const sshtunnel *t)
{
	return t->sock;
}

const char *sshtunnel_url(const sshtunnel *t)
{
	return t->url.display;
}

const char *sshtunnel_remote_socket(const sshtunnel *t)
{
	return t->url.path;
}

int sshtunnel_forward(sshtunnel *t, const char *host, int port, char **local, aerr_t *err)
{
	*local = NULL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nfwd; i++) {
		if (t->fwd[i].port == port && strcmp(t->fwd[i].host, host) == 0) {
			*local = xstrdup(t->fwd[i].path);
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
	}
	cleanup_free char *path = xasprintf("%s/port-%zu.sock", t->dir, t->nfwd);
	bool v6 = strchr(host, ':') != NULL;
	cleanup_free char *spec =
	    xasprintf("%s:%s%s%s:%d", path, v6 ? "[" : "", host, v6 ? "]" : "", port);
	const char *argv[16];
	size_t n = common_args(t, argv);
	argv[n++] = "-O", argv[n++] = "forward";
	argv[n++] = "-L", argv[n++] = spec;
	argv[n++] = "--", argv[n++] = t->url.host;
	argv[n] = NULL;
	int status = 0;
	int rc = spawn_run((char *const *)argv, t->log, &status, err);
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char said[512];
		cleanup_free char *how = spawn_describe(status);
		sshtunnel_last_message(t, said, sizeof said);
		rc = aerr_set(err, AEGIS_EFAIL, "%s: cannot forward %s:%d (ssh -O forward %s%s%s)",
			      t->url.display, host, port, how, said[0] ? ": " : "", said);
	}
	if (rc == 0) {
		t->fwd = xrealloc(t->fwd, (t->nfwd + 1) * sizeof *t->fwd);
		t->fwd[t->nfwd++] = (struct forward){xstrdup(host), port, xstrdup(path)};
		*local = xstrdup(path);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}
