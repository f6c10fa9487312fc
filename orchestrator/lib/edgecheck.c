#include "edgecheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "fsutil.h"
#include "rollout.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool is_pem_certificate(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	X509_free(x);
	return x != NULL;
}

int edgecheck_export_ca(podman *pm, const deployment *d, int wait_s, char **path, aerr_t *err)
{
	*path = NULL;
	int idx = deployment_pod_index(d, EDGE_POD);
	if (idx < 0)
		return aerr_set(err, AEGIS_ECONFIG, "profile %s has no %s pod", d->prof.name,
				EDGE_POD);
	edge_config e;
	if (edge_load(&d->cfg, &e, err) < 0)
		return -1;
	if (!e.ca_certificate) {
		edge_free(&e);
		return 0;
	}
	const pod *p = &d->pods[idx];
	cleanup_free char *name = rollout_container_name(p, &p->containers[0]);
	char *const argv[] = {"/bin/cat", e.ca_certificate, NULL};
	double deadline = clock_mono_s() + wait_s;
	char *out = NULL;
	int code = -1, rc;
	for (;;) {
		free(out);
		out = NULL;
		rc = podman_exec(pm, name, argv, 10, &code, &out, err);
		if (rc == 0 && code == 0 && out && is_pem_certificate(out, strlen(out)))
			break;
		if (clock_mono_s() >= deadline) {
			if (rc == 0)
				rc = aerr_set(err, AEGIS_EFAIL,
					      "%s: no CA certificate at %s after %d s (exit %d)",
					      name, e.ca_certificate, wait_s, code);
			else
				aerr_wrap(err, "exporting the edge's CA certificate");
			free(out);
			edge_free(&e);
			return -1;
		}
		aerr_clear(err);
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	edge_free(&e);
	char *dest = edge_ca_path(&d->cfg);
	cleanup_free char *dir = fs_dirname(dest);
	rc = fs_mkdir_private(dir, 0700, err);
	if (rc == 0)
		rc = fs_write_atomic(dest, out, strlen(out), 0644, err);
	free(out);
	if (rc < 0) {
		free(dest);
		return -1;
	}
	*path = dest;
	return 0;
}

int edgecheck_on_ready(const deployment *d, size_t pod, aerr_t *err)
{
	if (strcmp(d->pods[pod].name, EDGE_POD) != 0)
		return 0;
	podman *pm = NULL;
	char *path = NULL;
	int rc = podman_open(&pm, config_get(&d->cfg, "CONTAINER_SOCK"), err);
	if (rc == 0)
		rc = edgecheck_export_ca(pm, d, 30, &path, err);
	podman_close(pm);
	free(path);
	return rc;
}

/* --- checks ------------------------------------------------------------- */

struct probe_ctx {
	bool want_expiry;
	bool have_expiry;
	double days_left;
	CURL *h;
	char location[512];
};

static double days_until(const ASN1_TIME *t)
{
	int days = 0, secs = 0;
	if (!ASN1_TIME_diff(&days, &secs, NULL, t))
		return -1e9;
	return days + secs / 86400.0;
}

/* The peer certificate is looked at while the connection is certainly alive:
 * in the header callback of the response. */
static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct probe_ctx *pc = arg;
	size_t len = size * n;
	if (pc->want_expiry && !pc->have_expiry) {
		const struct curl_tlssessioninfo *ti = NULL;
		if (curl_easy_getinfo(pc->h, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
		    ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals) {
			X509 *x = SSL_get1_peer_certificate((SSL *)ti->internals);
			if (x) {
				pc->days_left = days_until(X509_get0_notAfter(x));
				pc->have_expiry = true;
				X509_free(x);
			}
		}
	}
	if (len > 9 && strncasecmp(buf, "location:", 9) == 0) {
		const char *v = buf + 9;
		size_t vl = len - 9;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		snprintf(pc->location, sizeof pc->location, "%.*s", (int)vl, v);
	}
	return len;
}

static size_t discard(char *buf, size_t size, size_t n, void *arg)
{
	(void)buf;
	(void)arg;
	return size * n;
}

struct request {
	const char *scheme; /* http or https */
	const char *host;
	int port;
	const char *address;
	const char *cacert;
	const char *user, *password; /* basic auth, or NULL */
	int timeout_s;
};

/* One GET of "/" at HOST, connected to ADDRESS:PORT.  Returns the status, 0
 * when nothing answered (WHY says why). */
static long get(const struct request *rq, struct probe_ctx *pc, char *why, size_t n)
{
	char url[600], resolve_entry[600];
	snprintf(url, sizeof url, "%s://%s:%d/", rq->scheme, rq->host, rq->port);
	snprintf(resolve_entry, sizeof resolve_entry, "%s:%d:%s", rq->host, rq->port, rq->address);
	struct curl_slist *resolve = curl_slist_append(NULL, resolve_entry);
	CURL *h = curl_easy_init();
	long status = 0;
	if (!h || !resolve) {
		snprintf(why, n, "cannot set up a request");
		goto out;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	pc->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)rq->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rq->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, rq->cacert);
	if (rq->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, rq->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password);
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, pc);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		snprintf(why, n, "%.200s: %.190s", url,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(resolve);
	return status;
}

static int port_of(const config *cfg, const char *name, int def)
{
	const char *v = config_get(cfg, name);
	return v && *v ? atoi(v) : def;
}

static int ca_days_left(const char *path, double *days, aerr_t *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot open %s", path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return aerr_set(err, AEGIS_EFAIL, "%s is not a PEM certificate", path);
	*days = days_until(X509_get0_notAfter(x));
	X509_free(x);
	return 0;
}

static void check_route(const edge_config *e, const edge_route *r, const struct request *base,
			int http_port, const char *password, bool expiry_here, edge_check *c)
{
	double t0 = clock_mono_s();
	char why[400] = "";
	struct request rq = *base;
	rq.host = r->host;
	struct probe_ctx pc = {.want_expiry = expiry_here};
	c->status = get(&rq, &pc, why, sizeof why);
	c->ok = true;
	if (!c->status) {
		c->ok = false;
		snprintf(c->detail, sizeof c->detail, "%s", why);
	} else if (r->basic_auth && c->status != 401) {
		c->ok = false;
		snprintf(c->detail, sizeof c->detail,
			 "https://%s/ answered %ld without credentials, expected 401 (basic auth)",
			 r->host, c->status);
	} else if (!r->basic_auth && c->status >= 500) {
		c->ok = false;
		snprintf(c->detail, sizeof c->detail, "https://%s/ answered %ld (upstream %s)",
			 r->host, c->status, r->upstream);
	}
	if (expiry_here && pc.have_expiry)
		c->days_left = pc.days_left;
	if (c->ok && r->basic_auth) {
		struct request auth = rq;
		auth.user = e->auth_user;
		auth.password = password;
		struct probe_ctx apc = {0};
		long st = get(&auth, &apc, why, sizeof why);
		if (!st || st == 401 || st >= 500) {
			c->ok = false;
			snprintf(c->detail, sizeof c->detail,
				 "https://%s/ with EDGE_BASIC_AUTH_USER's credentials: %s", r->host,
				 st ? (st == 401 ? "401, the password is refused" : "a 5xx answer")
				    : why);
		}
	}
	if (c->ok) {
		struct request plain = rq;
		plain.scheme = "http";
		plain.port = http_port;
		struct probe_ctx hpc = {0};
		long st = get(&plain, &hpc, why, sizeof why);
		char want[300];
		snprintf(want, sizeof want, "https://%s", r->host);
		if (st < 300 || st > 399 || strncmp(hpc.location, want, strlen(want)) != 0) {
			c->ok = false;
			snprintf(c->detail, sizeof c->detail,
				 "http://%.100s/ does not redirect to HTTPS (%s%ld%s%.300s)",
				 r->host, st ? "status " : "", st,
				 hpc.location[0] ? ", Location " : "", st ? hpc.location : why);
		}
	}
	c->latency_ms = (clock_mono_s() - t0) * 1e3;
}

int edgecheck_run(const deployment *d, const edgecheck_opts *opts, edge_check **out, size_t *n,
		  aerr_t *err)
{
	*out = NULL;
	*n = 0;
	pthread_once(&curl_once, curl_init_once);
	edge_config e;
	if (edge_load(&d->cfg, &e, err) < 0)
		return -1;
	edgecheck_opts o = opts ? *opts : (edgecheck_opts){0};
	cleanup_free char *ca = NULL;
	const char *verify = config_get(&d->cfg, "EDGE_VERIFY_CA_FILE");
	if (!o.cacert && verify && *verify)
		o.cacert = verify;
	if (!o.cacert && e.ca_certificate) {
		ca = edge_ca_path(&d->cfg);
		o.cacert = ca;
	}
	if (o.cacert && !fs_exists(o.cacert)) {
		int rc = aerr_set(err, AEGIS_EFAIL,
				  "%s does not exist: the edge's CA certificate is exported when "
				  "the edge is deployed",
				  o.cacert);
		edge_free(&e);
		return rc;
	}
	double ca_days = 0;
	if (e.expiry_of_ca && ca_days_left(o.cacert, &ca_days, err) < 0) {
		edge_free(&e);
		return -1;
	}
	struct request base = {
	    .scheme = "https",
	    .port = port_of(&d->cfg, "EDGE_HTTPS_PORT", 443),
	    .address = o.address ? o.address : "127.0.0.1",
	    .cacert = o.cacert,
	    .timeout_s = o.timeout_s > 0 ? o.timeout_s : 10,
	};
	int http_port = port_of(&d->cfg, "EDGE_HTTP_PORT", 80);
	const char *password = config_get(&d->cfg, "EDGE_BASIC_AUTH_PASSWORD");
	edge_check *checks = xcalloc(e.n ? e.n : 1, sizeof *checks);
	for (size_t i = 0; i < e.n; i++) {
		edge_check *c = &checks[i];
		c->route = xstrdup(e.routes[i].name);
		c->host = xstrdup(e.routes[i].host);
		c->pod = xstrdup(e.routes[i].pod);
		check_route(&e, &e.routes[i], &base, http_port, password ? password : "",
			    !e.expiry_of_ca, c);
		if (e.expiry_of_ca)
			c->days_left = ca_days;
		if (c->ok && c->days_left < EDGECHECK_WARN_DAYS) {
			c->warning = true;
			snprintf(c->detail, sizeof c->detail,
				 "warning: the %s certificate expires in %.1f days",
				 e.expiry_of_ca ? "internal CA's root" : "site's", c->days_left);
		}
	}
	*out = checks;
	*n = e.n;
	edge_free(&e);
	return 0;
}

void edge_checks_free(edge_check *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].route);
		free(c[i].host);
		free(c[i].pod);
	}
	free(c);
}
