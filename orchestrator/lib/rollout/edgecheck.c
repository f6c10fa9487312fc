#include "rollout/edgecheck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "rollout/rollout.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/http.h"

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
		clock_sleep_ms(250);
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

int edgecheck_on_ready(const deployment *d, size_t pod, const char *socket, aerr_t *err)
{
	if (strcmp(d->pods[pod].name, EDGE_POD) != 0)
		return 0;
	podman *pm = NULL;
	char *path = NULL;
	int rc = podman_open(&pm, socket, err);
	if (rc == 0)
		rc = edgecheck_export_ca(pm, d, 30, &path, err);
	podman_close(pm);
	free(path);
	return rc;
}

/* --- checks ------------------------------------------------------------- */

static double days_until(time_t t)
{
	return difftime(t, time(NULL)) / 86400.0;
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

/* the page itself is not looked at */
static int discard(void *ctx, const char *p, size_t n, aerr_t *err)
{
	(void)ctx, (void)p, (void)n, (void)err;
	return 0;
}

/* One GET of "/" at HOST, connected to ADDRESS:PORT (no DNS).  0 when an
 * answer came (RES: status, Location, certificate expiry), < 0 with ERR
 * naming the URL. */
static int get(const struct request *rq, bool expiry, http_result *res, aerr_t *err)
{
	cleanup_free char *url = xasprintf("%s://%s:%d/", rq->scheme, rq->host, rq->port);
	cleanup_free char *resolve = xasprintf("%s:%d:%s", rq->host, rq->port, rq->address);
	http_exchange x = {
	    .method = "GET",
	    .url = url,
	    .cacert = rq->cacert,
	    .resolve = resolve,
	    .user = rq->user,
	    .password = rq->password,
	    .cert_expiry = expiry,
	    .timeout_ms = rq->timeout_s * 1000L,
	    .max_body = 1024 * 1024,
	    .sink = discard,
	};
	return http_perform_once(&x, res, err) < 0 ? aerr_wrap(err, "%s", url) : 0;
}

static void fail(edge_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(edge_check *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	c->ok = false;
	free(c->detail);
	if (vasprintf(&c->detail, fmt, ap) < 0)
		c->detail = NULL;
	va_end(ap);
}

/* With EDGE_BASIC_AUTH_USER's credentials: neither 401 nor a 5xx. */
static void check_auth(const struct request *rq, const edge_route *r, const char *user,
		       const char *password, edge_check *c)
{
	struct request auth = *rq;
	auth.user = user;
	auth.password = password;
	http_result res = {0};
	aerr_t err = {0};
	if (get(&auth, false, &res, &err) < 0)
		fail(c, "https://%s/ with EDGE_BASIC_AUTH_USER's credentials: %s", r->host,
		     err.msg);
	else if (res.status == 401 || res.status >= 500)
		fail(c, "https://%s/ with EDGE_BASIC_AUTH_USER's credentials: %s", r->host,
		     res.status == 401 ? "401, the password is refused" : "a 5xx answer");
	http_result_free(&res);
}

/* Plain HTTP redirects to https://HOST. */
static void check_redirect(const struct request *rq, const edge_route *r, int http_port,
			   edge_check *c)
{
	struct request plain = *rq;
	plain.scheme = "http";
	plain.port = http_port;
	http_result res = {0};
	aerr_t err = {0};
	int rc = get(&plain, false, &res, &err);
	cleanup_free char *want = xasprintf("https://%s", r->host);
	const char *location = res.location ? res.location : "";
	if (rc < 0)
		fail(c, "http://%s/ does not redirect to HTTPS (%s)", r->host, err.msg);
	else if (res.status < 300 || res.status > 399 || strncmp(location, want, strlen(want)) != 0)
		fail(c, "http://%s/ does not redirect to HTTPS (status %ld%s%s)", r->host,
		     res.status, *location ? ", Location " : "", location);
	http_result_free(&res);
}

static void check_route(const edge_config *e, const edge_route *r, const struct request *base,
			int http_port, const char *password, bool expiry_here, edge_check *c)
{
	double t0 = clock_mono_s();
	struct request rq = *base;
	rq.host = r->host;
	http_result res = {0};
	aerr_t err = {0};
	c->ok = true;
	if (get(&rq, expiry_here, &res, &err) < 0)
		fail(c, "%s", err.msg);
	else if (r->basic_auth && res.status != 401)
		fail(c, "https://%s/ answered %ld without credentials, expected 401 (basic auth)",
		     r->host, res.status);
	else if (!r->basic_auth && res.status >= 500)
		fail(c, "https://%s/ answered %ld (upstream %s)", r->host, res.status, r->upstream);
	c->status = res.status;
	if (expiry_here && res.cert_not_after)
		c->days_left = days_until(res.cert_not_after);
	http_result_free(&res);
	if (c->ok && r->basic_auth)
		check_auth(&rq, r, e->auth_user, password, c);
	if (c->ok)
		check_redirect(&rq, r, http_port, c);
	c->latency_ms = (clock_mono_s() - t0) * 1e3;
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
	struct tm tm;
	int ok = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1;
	X509_free(x);
	if (!ok)
		return aerr_set(err, AEGIS_EFAIL, "%s: unreadable expiry date", path);
	*days = days_until(timegm(&tm));
	return 0;
}

int edgecheck_run(const deployment *d, const edgecheck_opts *opts, edge_check **out, size_t *n,
		  aerr_t *err)
{
	*out = NULL;
	*n = 0;
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
			free(c->detail);
			c->detail = xasprintf("warning: the %s certificate expires in %.1f days",
					      e.expiry_of_ca ? "internal CA's root" : "site's",
					      c->days_left);
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
		free(c[i].detail);
	}
	free(c);
}
