#include "host/doctor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/subid.h"
#include "podman/podman_cli.h"
#include "util/fsutil.h"
#include "util/spawn.h"
#include "util/strbuf.h"

/* The containers.conf line these hosts need (see README: crun fails on a
 * hybrid cgroup layout). */
#define RUNTIME_FIX                                                                                \
	"set runtime = \"runc\" under [engine] in containers.conf (CONTAINERS_CONF, "              \
	"~/.config/containers/containers.conf or /etc/containers/containers.conf) and "            \
	"install runc (apt-get install runc)"

static void add(doctor_report *r, doctor_level level, const char *check, const char *fix,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(doctor_report *r, doctor_level level, const char *check, const char *fix,
		const char *fmt, ...)
{
	strbuf b = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&b, fmt, ap);
	va_end(ap);
	r->items = xrealloc(r->items, (r->n + 1) * sizeof *r->items);
	r->items[r->n++] = (doctor_finding){.level = level,
					    .check = xstrdup(check),
					    .detail = sb_take(&b),
					    .fix = fix ? xstrdup(fix) : NULL};
}

/* The first line of S, at most 300 bytes (program output in a finding). */
static char *first_line(const char *s)
{
	while (*s == '\n' || *s == ' ')
		s++;
	size_t n = strcspn(s, "\n");
	return xstrndup(s, n > 300 ? 300 : n);
}

static bool rootless(const doctor_host *h)
{
	return h->uid != 0;
}

int doctor_host_default(doctor_host *h, aerr_t *err)
{
	*h = (doctor_host){
	    .podman = "podman",
	    .uid = geteuid(),
	    .subuid = "/etc/subuid",
	    .subgid = "/etc/subgid",
	    .tun = "/dev/net/tun",
	    .cgroup_root = "/sys/fs/cgroup",
	    .linger_dir = "/var/lib/systemd/linger",
	    .systemd_dir = "/run/systemd/system",
	};
	struct passwd *pw = getpwuid(h->uid);
	if (!pw)
		return aerr_set(err, AEGIS_EFAIL, "uid %lu has no passwd entry",
				(unsigned long)h->uid);
	h->user = xstrdup(pw->pw_name);
	return 0;
}

void doctor_host_free(doctor_host *h)
{
	free((char *)h->user);
	h->user = NULL;
}

void doctor_check_podman(doctor_report *r, const doctor_host *h, json_t **info, char **info_error)
{
	*info = NULL;
	*info_error = NULL;
	aerr_t err = {0};
	char *version = NULL;
	if (podman_cli_version(h->podman, &version, &err) < 0) {
		add(r, DOCTOR_ERROR, "podman",
		    "install Podman: apt-get install podman (make setup)", "%s", err.msg);
		return;
	}
	int major = 0, minor = 0;
	sscanf(version, "%d.%d", &major, &minor);
	if (major < 4)
		add(r, DOCTOR_ERROR, "podman", "install Podman 4 or later",
		    "Podman %s is too old (the libpod API v4 is needed)", version);
	else
		add(r, DOCTOR_OK, "podman", NULL, "Podman %s%s", version,
		    major == 4 && minor < 4 ? " (no Quadlet: systemd gets plain units)" : "");
	free(version);

	static const char *const args[] = {"info", "--format", "json", NULL};
	char *out = NULL;
	int status = 0;
	if (podman_cli_run(h->podman, args, &out, &status, &err) < 0) {
		*info_error = xstrdup(err.msg);
		return;
	}
	/* stdout and stderr share OUT: Podman 5 on a cgroup v1 host warns on
	 * every call ("Using cgroups-v1 which is deprecated in favor of
	 * cgroups-v2 with Podman v5", seen with 5.4.2 on Debian 13 unless
	 * PODMAN_IGNORE_CGROUPSV1_WARNING is set, which `sudo -u` drops);
	 * the JSON object starts on a line of its own after such lines */
	const char *json = out;
	if (json && *json != '{') {
		const char *brace = strstr(json, "\n{");
		if (brace)
			json = brace + 1;
	}
	json_error_t jerr;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && json)
		*info = json_loads(json, 0, &jerr);
	if (!*info)
		*info_error = first_line(out);
	free(out);
}

void doctor_check_mode(doctor_report *r, const doctor_host *h)
{
	if (rootless(h))
		add(r, DOCTOR_OK, "mode", NULL, "rootless, as %s (uid %lu)", h->user,
		    (unsigned long)h->uid);
	else
		add(r, DOCTOR_OK, "mode", NULL, "rootful (root)");
}

static const char *info_str(json_t *info, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(json_object_get(info, "host"), a);
	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_string_value(v);
}

void doctor_check_runtime(doctor_report *r, const doctor_host *h, json_t *info,
			  const char *info_error)
{
	if (!info) {
		bool runtime = info_error && strstr(info_error, "OCI runtime");
		add(r, DOCTOR_ERROR, "runtime",
		    runtime ? RUNTIME_FIX : "run `podman info` and correct what it reports",
		    "podman info failed: %s", info_error ? info_error : "no output");
		return;
	}
	const char *name = info_str(info, "ociRuntime", "name", NULL);
	const char *path = info_str(info, "ociRuntime", "path", NULL);
	if (!name || !path) {
		add(r, DOCTOR_ERROR, "runtime", RUNTIME_FIX, "podman info names no OCI runtime");
		return;
	}
	static const char *const args[] = {"--version", NULL};
	char *out = NULL;
	int status = 0;
	aerr_t err = {0};
	if (podman_cli_run(path, args, &out, &status, &err) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		add(r, DOCTOR_ERROR, "runtime", RUNTIME_FIX, "OCI runtime %s (%s) does not run: %s",
		    name, path, out ? out : err.msg);
		free(out);
		return;
	}
	cleanup_free char *line = first_line(out);
	free(out);
	cleanup_free char *unified = fs_join(h->cgroup_root, "unified");
	struct stat st;
	bool hybrid = strcmp(info_str(info, "cgroupVersion", NULL, NULL) ?: "", "v1") == 0 &&
		      stat(unified, &st) == 0 && S_ISDIR(st.st_mode);
	if (strcmp(name, "crun") == 0 && hybrid)
		add(r, DOCTOR_ERROR, "runtime", RUNTIME_FIX,
		    "crun cannot start containers on this hybrid cgroup layout (%s): \"cgroups in "
		    "hybrid mode not supported\"",
		    unified);
	else
		add(r, DOCTOR_OK, "runtime", NULL, "%s at %s (%s)", name, path, line);
}

void doctor_check_cgroups(doctor_report *r, const doctor_host *h, json_t *info)
{
	const char *version = info_str(info, "cgroupVersion", NULL, NULL);
	if (!version) {
		add(r, DOCTOR_WARN, "cgroups", NULL, "unknown (podman info failed)");
		return;
	}
	strbuf list = STRBUF_INIT;
	json_t *ctl = json_object_get(json_object_get(info, "host"), "cgroupControllers");
	size_t i;
	json_t *v;
	json_array_foreach(ctl, i, v) sb_addf(&list, "%s%s", i ? " " : "", json_string_value(v));
	const char *names = list.s ? list.s : "none";
	if (strcmp(version, "v2") == 0) {
		bool limits = list.s && strstr(list.s, "memory") && strstr(list.s, "pids");
		if (rootless(h) && !limits)
			add(r, DOCTOR_WARN, "cgroups", NULL,
			    "v2, controllers delegated to %s: %s (no memory/pids limits for its "
			    "containers; systemd's Delegate= for user@%lu.service gives them)",
			    h->user, names, (unsigned long)h->uid);
		else
			add(r, DOCTOR_OK, "cgroups", NULL, "v2, controllers: %s", names);
	} else if (rootless(h)) {
		add(r, DOCTOR_WARN, "cgroups", NULL,
		    "%s: rootless containers get no resource limits (controllers are not "
		    "delegated on cgroup v1)",
		    version);
	} else {
		add(r, DOCTOR_OK, "cgroups", NULL, "%s, controllers: %s", version, names);
	}
	sb_release(&list);
}

void doctor_check_subids(doctor_report *r, const doctor_host *h)
{
	if (!rootless(h)) {
		add(r, DOCTOR_OK, "subuid/subgid", NULL, "not needed rootful");
		return;
	}
	const char *paths[] = {h->subuid, h->subgid};
	const char *names[] = {"subuid", "subgid"};
	subid_file f[2] = {0};
	aerr_t err = {0};
	for (int k = 0; k < 2; k++) {
		if (subid_load(paths[k], &f[k], &err) < 0) {
			add(r, DOCTOR_ERROR, names[k], "correct that line (NAME:START:COUNT)", "%s",
			    err.msg);
			if (k)
				subid_free(&f[0]);
			return;
		}
	}
	unsigned long start = subid_free_start(&f[0], &f[1], SUBID_COUNT);
	for (int k = 0; k < 2; k++) {
		const subid_range *own = subid_find(&f[k], h->user, h->uid);
		const subid_range *clash = own ? subid_overlap(&f[k], own) : NULL;
		cleanup_free char *fix = xasprintf("add the line \"%s:%lu:%lu\" to %s (as root; "
						   "or: sudo aegis-deploy setup-user --user %s)",
						   h->user, start, SUBID_COUNT, paths[k], h->user);
		if (!own)
			add(r, DOCTOR_ERROR, names[k], fix, "%s has no range in %s", h->user,
			    paths[k]);
		else if (own->count < SUBID_COUNT)
			add(r, DOCTOR_WARN, names[k], NULL,
			    "%s: %lu ids from %lu (fewer than %lu: images with higher ids fail)",
			    paths[k], own->count, own->start, SUBID_COUNT);
		else if (clash)
			add(r, DOCTOR_ERROR, names[k], fix,
			    "%s:%d: the range of %s overlaps that of %s (line %d)", paths[k],
			    own->line, h->user, clash->owner, clash->line);
		else
			add(r, DOCTOR_OK, names[k], NULL, "%lu ids from %lu (%s)", own->count,
			    own->start, paths[k]);
	}
	subid_free(&f[0]);
	subid_free(&f[1]);
}

void doctor_check_tun(doctor_report *r, const doctor_host *h)
{
	int fd = open(h->tun, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		add(r, DOCTOR_OK, "tun", NULL, "%s usable", h->tun);
		return;
	}
	cleanup_free char *fix = xasprintf("as root: chmod 0666 %s", h->tun);
	if (rootless(h))
		add(r, DOCTOR_ERROR, "tun",
		    errno == ENOENT ? "load the tun module: modprobe tun" : fix,
		    "cannot open %s: %s (rootless networking needs it)", h->tun, strerror(errno));
	else
		add(r, DOCTOR_WARN, "tun", NULL, "cannot open %s: %s (only rootless needs it)",
		    h->tun, strerror(errno));
}

void doctor_check_network_helper(doctor_report *r, const doctor_host *h)
{
	cleanup_free char *slirp = spawn_which("slirp4netns");
	cleanup_free char *pasta = spawn_which("pasta");
	if (slirp || pasta)
		add(r, DOCTOR_OK, "network helper", NULL, "%s%s%s", slirp ? slirp : "",
		    slirp && pasta ? ", " : "", pasta ? pasta : "");
	else if (rootless(h))
		add(r, DOCTOR_ERROR, "network helper", "apt-get install slirp4netns",
		    "neither slirp4netns nor pasta is in PATH (rootless networking needs one)");
	else
		add(r, DOCTOR_WARN, "network helper", NULL,
		    "neither slirp4netns nor pasta (only rootless needs one)");
}

void doctor_check_linger(doctor_report *r, const doctor_host *h)
{
	if (!rootless(h)) {
		add(r, DOCTOR_OK, "lingering", NULL, "not needed rootful (system units)");
		return;
	}
	cleanup_free char *flag = fs_join(h->linger_dir, h->user);
	bool booted = fs_exists(h->systemd_dir);
	if (fs_exists(flag))
		add(r, DOCTOR_OK, "lingering", NULL, "enabled for %s", h->user);
	else if (!booted)
		add(r, DOCTOR_WARN, "lingering", NULL,
		    "systemd is not running here (no %s): user units will not start at boot; "
		    "where it runs: loginctl enable-linger %s",
		    h->systemd_dir, h->user);
	else
		add(r, DOCTOR_WARN, "lingering", NULL,
		    "not enabled for %s: its units stop at logout and do not start at boot; "
		    "fix: sudo loginctl enable-linger %s",
		    h->user, h->user);
}

void doctor_check_socket(doctor_report *r, const char *sock, podman **pm)
{
	if (pm)
		*pm = NULL;
	struct stat st;
	cleanup_free char *fix = xasprintf(
	    "start Podman's API: systemctl --user enable --now podman.socket (root: systemctl "
	    "enable --now podman.socket), or podman system service --time=0 unix://%s &",
	    sock && *sock ? sock : "SOCKET");
	if (!sock || !*sock) {
		add(r, DOCTOR_ERROR, "API socket", fix, "CONTAINER_SOCK is not set");
		return;
	}
	if (stat(sock, &st) < 0) {
		add(r, DOCTOR_ERROR, "API socket", fix, "%s: %s", sock, strerror(errno));
		return;
	}
	if (!S_ISSOCK(st.st_mode)) {
		add(r, DOCTOR_ERROR, "API socket", "point CONTAINER_SOCK at Podman's socket",
		    "%s is not a socket", sock);
		return;
	}
	podman *p = NULL;
	aerr_t err = {0};
	if (podman_open(&p, sock, &err) < 0) {
		add(r, DOCTOR_ERROR, "API socket", fix, "%s", err.msg);
		return;
	}
	add(r, DOCTOR_OK, "API socket", NULL, "%s answers", sock);
	if (pm)
		*pm = p;
	else
		podman_close(p);
}

/* 1 free, 0 in use, -1 cannot tell (ERRNUM). */
static int port_free(int port, bool udp, int *errnum)
{
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*errnum = errno;
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	*errnum = errno;
	close(fd);
	if (rc == 0)
		return 1;
	return *errnum == EADDRINUSE ? 0 : -1;
}

void doctor_check_ports(doctor_report *r, const deployment *d, const char *const *running,
			size_t nrunning)
{
	size_t nfree = 0, nours = 0;
	/* the lowest host port of the profile: what a rootless user must be
	 * allowed to bind (80 with the edge), not the kernel's default 1024 */
	int lowest = 65536;
	for (size_t i = 0; i < d->npods; i++)
		for (size_t j = 0; j < d->pods[i].nports; j++)
			if (d->pods[i].ports[j].host_port > 0 &&
			    d->pods[i].ports[j].host_port < lowest)
				lowest = d->pods[i].ports[j].host_port;
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		bool ours = false;
		for (size_t k = 0; k < nrunning; k++)
			ours |= strcmp(running[k], p->pod_name) == 0;
		for (size_t j = 0; j < p->nports; j++) {
			const port_map *pm = &p->ports[j];
			if (pm->host_port <= 0)
				continue;
			bool udp = pm->protocol && strcasecmp(pm->protocol, "UDP") == 0;
			int errnum = 0;
			int st = port_free(pm->host_port, udp, &errnum);
			char check[32];
			snprintf(check, sizeof check, "port %d", pm->host_port);
			if (st == 1) {
				nfree++;
				continue;
			}
			if (st == 0 && ours) {
				nours++;
				add(r, DOCTOR_OK, check, NULL, "held by our own pod %s",
				    p->pod_name);
				continue;
			}
			cleanup_free char *fix = xasprintf(
			    "stop what listens on %s port %d, or give pod %s (container port %d) "
			    "another host port in .env (aegis-deploy config lists the *_PORT "
			    "variables)",
			    udp ? "UDP" : "TCP", pm->host_port, p->name, pm->container_port);
			if (st == 0)
				add(r, DOCTOR_ERROR, check, fix,
				    "host port %d of pod %s (container port %d) is in use",
				    pm->host_port, p->name, pm->container_port);
			else if (errnum == EACCES) {
				cleanup_free char *low =
				    xasprintf("as root: aegis-deploy setup-user "
					      "--unprivileged-port-start %d (or "
					      "sysctl -w net.ipv4.ip_unprivileged_port_start=%d, "
					      "and the same in "
					      "/etc/sysctl.d/ to keep it at boot)",
					      lowest, lowest);
				add(r, DOCTOR_ERROR, check, low,
				    "cannot bind host port %d of pod %s: %s (a rootless Podman "
				    "publishes only ports from "
				    "net.ipv4.ip_unprivileged_port_start; "
				    "profile %s needs %d)",
				    pm->host_port, p->name, strerror(errnum), d->prof.name, lowest);
			} else
				add(r, DOCTOR_ERROR, check, fix,
				    "cannot bind host port %d of pod %s: %s", pm->host_port,
				    p->name, strerror(errnum));
		}
	}
	if (nfree || !nours)
		add(r, DOCTOR_OK, "ports", NULL, "%zu host ports of profile %s free", nfree,
		    d->prof.name);
}

void doctor_check_images(doctor_report *r, podman *pm, const deployment *d)
{
	const char *token = config_get(&d->cfg, "GHCR_TOKEN");
	for (size_t i = 0; i < d->npods; i++)
		for (size_t c = 0; c < d->pods[i].ncontainers; c++) {
			const char *img = d->pods[i].containers[c].image;
			bool seen = false;
			for (size_t j = 0; j <= i && !seen; j++)
				for (size_t k = 0; k < d->pods[j].ncontainers; k++) {
					if (j == i && k == c)
						break;
					seen |= strcmp(d->pods[j].containers[k].image, img) == 0;
				}
			if (seen)
				continue;
			if (!pm) {
				add(r, DOCTOR_WARN, "image", NULL, "%s: not checked (no API)", img);
				continue;
			}
			bool exists = false;
			aerr_t err = {0};
			if (podman_image_exists(pm, img, &exists, &err) < 0) {
				add(r, DOCTOR_WARN, "image", NULL, "%s: %s", img, err.msg);
				continue;
			}
			if (exists) {
				add(r, DOCTOR_OK, "image", NULL, "%s present", img);
			} else if (strncmp(img, "localhost/", 10) == 0) {
				add(r, DOCTOR_ERROR, "image",
				    "build or load it (podman load -i FILE), or set its *_IMAGE "
				    "variable in .env",
				    "%s is missing and cannot be pulled (localhost/ is no "
				    "registry)",
				    img);
			} else if (strncmp(img, "ghcr.io/", 8) == 0 && (!token || !*token)) {
				add(r, DOCTOR_ERROR, "image",
				    "set GHCR_USERNAME and GHCR_TOKEN in .env, then aegis-deploy "
				    "registry-login",
				    "%s is missing and ghcr.io needs a token (GHCR_TOKEN is empty)",
				    img);
			} else {
				add(r, DOCTOR_WARN, "image", NULL,
				    "%s not present; deploy pulls it from %.*s", img,
				    (int)strcspn(img, "/"), img);
			}
		}
}

void doctor_check_env(doctor_report *r, const char *root, const char *env_path, const char *profile,
		      deployment *d, bool *loaded)
{
	deployment tmp;
	deployment *dd = d ? d : &tmp;
	aerr_t err = {0};
	if (loaded)
		*loaded = false;
	if (!fs_exists(env_path)) {
		cleanup_free char *fix = xasprintf("aegis-deploy --env %s init", env_path);
		add(r, DOCTOR_ERROR, ".env", fix, "%s does not exist", env_path);
		return;
	}
	if (deployment_load(dd, root, env_path, profile, 0, &err) < 0) {
		cleanup_free char *fix = xasprintf(
		    "set it in %s (aegis-deploy --env %s init --fill generates missing secrets)",
		    env_path, env_path);
		add(r, DOCTOR_ERROR, ".env", fix, "%s", err.msg);
		return;
	}
	add(r, DOCTOR_OK, ".env", NULL, "%s complete for profile %s", env_path, dd->prof.name);
	if (d && loaded)
		*loaded = true;
	else
		deployment_free(dd);
}

void doctor_run(const doctor_host *h, const char *root, const char *env_path, const char *profile,
		doctor_report *r)
{
	json_t *info = NULL;
	char *info_error = NULL;
	doctor_check_podman(r, h, &info, &info_error);
	doctor_check_mode(r, h);
	doctor_check_runtime(r, h, info, info_error);
	doctor_check_cgroups(r, h, info);
	doctor_check_subids(r, h);
	doctor_check_tun(r, h);
	doctor_check_network_helper(r, h);
	doctor_check_linger(r, h);
	json_decref(info);
	free(info_error);

	deployment d;
	bool loaded = false;
	doctor_check_env(r, root, env_path, profile, &d, &loaded);
	if (!loaded) {
		/* the socket, ports and images still come from the profile */
		aerr_t err = {0};
		if (deployment_load(&d, root, env_path, profile, DEPLOYMENT_LENIENT, &err) < 0) {
			add(r, DOCTOR_ERROR, "profile", "pass --root DIR or --profile NAME", "%s",
			    err.msg);
			return;
		}
	}
	podman *pm = NULL;
	doctor_check_socket(r, config_get(&d.cfg, "CONTAINER_SOCK"), &pm);
	char **running = NULL;
	size_t nrunning = 0;
	json_t *pods = NULL;
	aerr_t err = {0};
	if (pm && podman_list_pods(pm, &pods, &err) == 0) {
		size_t i;
		json_t *v;
		running = xcalloc(json_array_size(pods) + 1, sizeof *running);
		json_array_foreach(pods, i, v)
		{
			const char *name = json_string_value(json_object_get(v, "Name"));
			const char *status = json_string_value(json_object_get(v, "Status"));
			if (name && status && strcmp(status, "Running") == 0)
				running[nrunning++] = (char *)name;
		}
	}
	doctor_check_ports(r, &d, (const char *const *)running, nrunning);
	free(running);
	json_decref(pods);
	doctor_check_images(r, pm, &d);
	if (pm)
		podman_close(pm);
	deployment_free(&d);
}

bool doctor_has_errors(const doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].level == DOCTOR_ERROR)
			return true;
	return false;
}

const char *doctor_level_name(doctor_level l)
{
	return l == DOCTOR_OK ? "ok" : l == DOCTOR_WARN ? "warning" : "error";
}

void doctor_report_free(doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].check);
		free(r->items[i].detail);
		free(r->items[i].fix);
	}
	free(r->items);
	*r = (doctor_report){0};
}
