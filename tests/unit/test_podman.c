/* podman.c against real Podman: a private `podman system service` started by
 * podman_open, with the test settings of scripts/podman-containers.conf.  Needs
 * the stand-in image localhost/aegis-test/standin:latest, built here by
 * tests/podman/build-standin.sh when missing.  Without a usable Podman every
 * test prints "SKIP name (why)".  Everything created is named
 * aegis-unittest-<pid>-* and removed again. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/podman/podman.h"
#include "lib/util/spawn.h"

#define STANDIN "localhost/aegis-test/standin:latest"

static podman *pm;
static bool opened;
static char unusable[sizeof(aerr_t){0}.msg];	   /* why Podman cannot be tested here */
static char no_image[sizeof(aerr_t){0}.msg + 512]; /* why the stand-in image is missing */
static char prefix[64];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* At exit: remove what a failed test left behind, stop the service. */
static void close_service(void)
{
	aerr_t err = {0};
	json_t *pods = NULL;
	size_t i, n = 0;
	json_t *p;
	if (podman_list_pods(pm, &pods, &err) == 0) {
		json_array_foreach(pods, i, p)
		{
			const char *name = json_string_value(json_object_get(p, "Name"));
			if (name && strncmp(name, prefix, strlen(prefix)) == 0)
				podman_remove_pod(pm, name, &err);
		}
	}
	json_decref(pods);
	char **vols = NULL;
	if (podman_list_volumes(pm, &vols, &n, &err) == 0) {
		for (i = 0; i < n; i++) {
			if (strncmp(vols[i], prefix, strlen(prefix)) == 0)
				podman_volume_remove(pm, vols[i], &err);
			free(vols[i]);
		}
	}
	free(vols);
	const char *nets[] = {"-net", "-net2"};
	for (i = 0; i < ARRAY_SIZE(nets); i++) {
		char *net = xasprintf("%s%s", prefix, nets[i]);
		podman_network_remove(pm, net, &err);
		free(net);
	}
	podman_close(pm);
	pm = NULL;
}

/* The shared private service, started on first use. */
static podman *service(void)
{
	if (opened)
		return pm;
	opened = true;
	snprintf(prefix, sizeof prefix, "aegis-unittest-%d", (int)getpid());
	/* tests/run.sh exports the isolated test Podman (tests/podman/env.sh);
	 * run alone, the binary uses the test containers.conf. */
	char *rel = xasprintf("%s/scripts/podman-containers.conf", harness_root());
	char *conf = realpath(rel, NULL);
	if (!getenv("CONTAINERS_CONF"))
		setenv("CONTAINERS_CONF", conf ? conf : rel, 1);
	free(conf);
	free(rel);
	aerr_t err = {0};
	double t0 = now_s();
	if (podman_open(&pm, "/nonexistent/aegis-unittest.sock", &err) < 0) {
		snprintf(unusable, sizeof unusable, "%s", err.msg);
		return NULL;
	}
	printf("  private podman service answered after %.0f ms\n", (now_s() - t0) * 1e3);
	atexit(close_service);
	return pm;
}

#define NEED_PODMAN(name)                                                                          \
	do {                                                                                       \
		if (!service()) {                                                                  \
			char why_[1200];                                                           \
			snprintf(why_, sizeof why_, "Podman unusable: %.1100s", unusable);         \
			(void)name;                                                                \
			harness_skip(why_);                                                        \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* The stand-in image, built once if missing. */
static bool have_standin(void)
{
	static bool checked, ok;
	if (checked)
		return ok;
	checked = true;
	aerr_t err = {0};
	bool yes = false;
	if (podman_image_exists(pm, STANDIN, &yes, &err) < 0) {
		snprintf(no_image, sizeof no_image, "%s", err.msg);
		return false;
	}
	if (!yes) {
		char *script = xasprintf("%s/tests/podman/build-standin.sh", harness_root());
		char *dir = harness_tmpdir();
		char *log = xasprintf("%s/build-standin.log", dir);
		free(dir);
		char *argv[] = {"bash", script, NULL};
		int st = 0;
		if (spawn_run(argv, log, &st, &err) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			snprintf(no_image, sizeof no_image,
				 "%s is missing and %s failed (see its output in %s)", STANDIN,
				 script, log);
		else
			yes = true;
		free(script);
		free(log);
	}
	ok = yes;
	return ok;
}

#define NEED_STANDIN(name)                                                                         \
	do {                                                                                       \
		NEED_PODMAN(name);                                                                 \
		if (!have_standin()) {                                                             \
			(void)name;                                                                \
			harness_skip(no_image);                                                    \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* A one-container pod of the stand-in; EXTRA: more lines of the container. */
static char *pod_yaml(const char *name, const char *restart, const char *extra)
{
	return xasprintf("apiVersion: v1\n"
			 "kind: Pod\n"
			 "metadata:\n"
			 "  name: %s\n"
			 "  labels:\n"
			 "    app.kubernetes.io/part-of: aegis\n"
			 "spec:\n"
			 "  restartPolicy: %s\n"
			 "  containers:\n"
			 "  - name: svc\n"
			 "    image: " STANDIN "\n"
			 "%s",
			 name, restart, extra);
}

/* Wait until the container's log holds NEEDLE (the stand-in says when it is ready). */
static bool wait_log(podman *p, const char *container, const char *needle, double max_s)
{
	double end = now_s() + max_s;
	do {
		aerr_t err = {0};
		char *out = NULL;
		int rc = podman_logs(p, container, -1, false, -1, &out, &err);
		bool found = rc == 0 && out && strstr(out, needle);
		free(out);
		if (found)
			return true;
		usleep(50 * 1000);
	} while (now_s() < end);
	return false;
}

TEST(podman_open_starts_private_service)
{
	NEED_PODMAN("podman_open_starts_private_service");
	const char *sock = podman_socket(pm);
	CHECK(strcmp(sock, "/nonexistent/aegis-unittest.sock") != 0);
	struct stat st;
	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	/* the private directory is ours alone */
	char *dir = xstrndup(sock, strrchr(sock, '/') - sock);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	free(dir);
}

TEST(podman_call_ping)
{
	NEED_PODMAN("podman_call_ping");
	aerr_t err = {0};
	long status = 0;
	CHECK(podman_call(pm, "GET", "/libpod/_ping", NULL, NULL, 0, NULL, &status, NULL, &err) ==
	      0);
	CHECK(status == 200);
}

TEST(podman_open_existing_socket)
{
	NEED_PODMAN("podman_open_existing_socket");
	podman *other = NULL;
	aerr_t err = {0};
	CHECK(podman_open(&other, podman_socket(pm), &err) == 0);
	CHECK_STR(podman_socket(other), podman_socket(pm));
	bool yes = true;
	CHECK(podman_network_exists(other, "aegis-unittest-no-such-network", &yes, &err) == 0);
	CHECK(!yes);
	podman_close(other);
	/* closing a handle on someone else's socket leaves the service running */
	struct stat st;
	CHECK(stat(podman_socket(pm), &st) == 0);
}

TEST(podman_open_not_a_socket)
{
	char *dir = harness_tmpdir();
	char *file = harness_write(dir, "podman.sock", "not a socket\n");
	podman *p = NULL;
	aerr_t err = {0};
	CHECK(podman_open(&p, file, &err) < 0);
	CHECK(p == NULL);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "cannot reach the Podman API at");
	CHECK_CONTAINS(err.msg, file);
	CHECK_CONTAINS(err.msg, "not a socket");
	free(file);
	free(dir);
}

TEST(podman_open_dead_socket)
{
	/* a socket file nobody listens on, as a crashed service leaves behind */
	char *dir = harness_tmpdir();
	char *path = xasprintf("%s/dead.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	close(fd);
	podman *p = NULL;
	aerr_t err = {0};
	CHECK(podman_open(&p, path, &err) < 0);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "cannot reach the Podman API at");
	CHECK_CONTAINS(err.msg, "Connection refused");
	free(path);
	free(dir);
}

TEST(podman_open_without_podman)
{
	char *saved = xstrdup(getenv("PATH") ? getenv("PATH") : "");
	char *dir = harness_tmpdir();
	setenv("PATH", dir, 1);
	podman *p = NULL;
	aerr_t err = {0};
	int rc = podman_open(&p, "/nonexistent/aegis-unittest.sock", &err);
	setenv("PATH", saved, 1);
	free(saved);
	free(dir);
	CHECK(rc < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "podman is not installed");
	CHECK_CONTAINS(err.msg, "make setup");
}

TEST(podman_api_error_names_endpoint)
{
	NEED_PODMAN("podman_api_error_names_endpoint");
	aerr_t err = {0};
	long status = 0;
	json_t *js = NULL;
	CHECK(podman_call(pm, "GET", "/libpod/containers/aegis-unittest-missing/json", NULL, NULL,
			  0, NULL, &status, &js, &err) < 0);
	CHECK(status == 404);
	CHECK(js == NULL);
	CHECK_CONTAINS(err.msg, "podman API GET /libpod/containers/aegis-unittest-missing/json");
	CHECK_CONTAINS(err.msg, "HTTP 404");
	CHECK_CONTAINS(err.msg, "no such container");

	/* listed statuses are answers, not errors */
	static const long ok[] = {404, 0};
	aerr_clear(&err);
	CHECK(podman_call(pm, "GET", "/libpod/containers/aegis-unittest-missing/json", NULL, NULL,
			  0, ok, &status, &js, &err) == 0);
	CHECK(status == 404);
	json_decref(js);
}

TEST(podman_network_lifecycle)
{
	NEED_PODMAN("podman_network_lifecycle");
	char *net = xasprintf("%s-net", prefix);
	aerr_t err = {0};
	bool yes = true;
	CHECK(podman_network_exists(pm, net, &yes, &err) == 0 && !yes);
	CHECK(podman_network_create(pm, net, &err) == 0);
	CHECK(podman_network_exists(pm, net, &yes, &err) == 0 && yes);
	CHECK(podman_network_create(pm, net, &err) < 0);
	CHECK_CONTAINS(err.msg, "POST /libpod/networks/create: HTTP 409");
	CHECK(podman_network_remove(pm, net, &err) == 0);
	CHECK(podman_network_exists(pm, net, &yes, &err) == 0 && !yes);
	CHECK(podman_network_remove(pm, net, &err) == 0);
	free(net);
}

static bool listed(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

TEST(podman_volume_lifecycle)
{
	NEED_PODMAN("podman_volume_lifecycle");
	char *vol = xasprintf("%s-vol", prefix);
	aerr_t err = {0};
	bool yes = true;
	char **names = NULL;
	size_t n = 0;
	CHECK(podman_volume_exists(pm, vol, &yes, &err) == 0 && !yes);
	CHECK(podman_volume_create(pm, vol, &err) == 0);
	CHECK(podman_volume_exists(pm, vol, &yes, &err) == 0 && yes);
	CHECK(podman_list_volumes(pm, &names, &n, &err) == 0);
	bool found = listed(names, n, vol);
	free_names(names, n);
	CHECK(found);
	CHECK(podman_volume_remove(pm, vol, &err) == 0);
	CHECK(podman_volume_exists(pm, vol, &yes, &err) == 0 && !yes);
	CHECK(podman_volume_remove(pm, vol, &err) == 0);
	CHECK(podman_list_volumes(pm, &names, &n, &err) == 0);
	found = listed(names, n, vol);
	free_names(names, n);
	CHECK(!found);
	free(vol);
}

TEST(podman_image_exists_and_pull_error)
{
	NEED_STANDIN("podman_image_exists_and_pull_error");
	aerr_t err = {0};
	bool yes = false;
	CHECK(podman_image_exists(pm, STANDIN, &yes, &err) == 0 && yes);
	const char *missing = "localhost/aegis-unittest/missing:1";
	CHECK(podman_image_exists(pm, missing, &yes, &err) == 0 && !yes);
	/* no registry answers on localhost: the error names image and registry */
	CHECK(podman_image_pull(pm, missing, NULL, NULL, &err) < 0);
	CHECK_CONTAINS(err.msg, "cannot pull image localhost/aegis-unittest/missing:1 from "
				"registry localhost");
}

TEST(podman_pod_lifecycle)
{
	NEED_STANDIN("podman_pod_lifecycle");
	char *net = xasprintf("%s-net2", prefix);
	char *name = xasprintf("%s-pod", prefix);
	char *ctr = xasprintf("%s-svc", name);
	char *yaml = pod_yaml(name, "Always",
			      "    env:\n"
			      "    - name: STANDIN_HTTP\n"
			      "      value: \"8080:/health\"\n");
	aerr_t err = {0};
	CHECK(podman_network_create(pm, net, &err) == 0);
	CHECK(podman_play_kube(pm, yaml, strlen(yaml), net, &err) == 0);
	/* playing again replaces the pod */
	CHECK(podman_play_kube(pm, yaml, strlen(yaml), net, &err) == 0);
	CHECK(wait_log(pm, ctr, "standin: ready", 20));

	json_t *js = NULL;
	CHECK(podman_inspect_pod(pm, name, &js, &err) == 0 && js);
	CHECK_STR(json_string_value(json_object_get(js, "State")), "Running");
	json_decref(js);

	json_t *pods = NULL;
	CHECK(podman_list_pods(pm, &pods, &err) == 0);
	bool found = false;
	size_t i;
	json_t *p;
	json_array_foreach(pods, i, p)
	{
		const char *n = json_string_value(json_object_get(p, "Name"));
		found |= n && strcmp(n, name) == 0;
	}
	json_decref(pods);
	CHECK(found);

	CHECK(podman_inspect_container(pm, ctr, &js, &err) == 0 && js);
	CHECK_STR(json_string_value(json_object_get(json_object_get(js, "State"), "Status")),
		  "running");
	json_decref(js);

	int code = -1;
	char *out = NULL;
	char *hi[] = {"/bin/sh", "-c", "echo hi; exit 3", NULL};
	CHECK(podman_exec(pm, ctr, hi, 10, &code, &out, &err) == 0);
	CHECK(code == 3);
	CHECK_STR(out, "hi\n");
	free(out);

	/* stdout and stderr both arrive, stub probe commands answer */
	char *both[] = {"/bin/sh", "-c", "echo out; echo err >&2; pg_isready", NULL};
	CHECK(podman_exec(pm, ctr, both, 10, &code, &out, &err) == 0);
	CHECK(code == 0);
	CHECK_CONTAINS(out, "out\n");
	CHECK_CONTAINS(out, "err\n");
	free(out);

	char *missing[] = {"/no/such/program", NULL};
	CHECK(podman_exec(pm, ctr, missing, 10, &code, &out, &err) == 0);
	CHECK(code == 127);
	CHECK_CONTAINS(out, "no such file or directory");
	free(out);

	/* a command that outlives its timeout does not hang the caller */
	char *slow[] = {"/bin/sleep", "30", NULL};
	double t0 = now_s();
	CHECK(podman_exec(pm, ctr, slow, 1, &code, &out, &err) < 0);
	CHECK(now_s() - t0 < 5);
	CHECK_CONTAINS(err.msg, "no exit within 1 s");
	free(out);

	CHECK(podman_logs(pm, ctr, 1, false, -1, &out, &err) == 0);
	CHECK_CONTAINS(out, "standin: ready");
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	free(out);

	int fds[2];
	CHECK(pipe(fds) == 0);
	int lrc = podman_logs(pm, ctr, -1, false, fds[1], NULL, &err);
	close(fds[1]);
	char buf[4096] = "";
	ssize_t got = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	CHECK(lrc == 0);
	CHECK(got > 0);
	CHECK_CONTAINS(buf, "standin: starting");

	t0 = now_s();
	CHECK(podman_stop_pod(pm, name, 5, &err) == 0);
	CHECK(now_s() - t0 < 5); /* the stand-in exits on SIGTERM */
	CHECK(podman_inspect_container(pm, ctr, &js, &err) == 0 && js);
	CHECK_STR(json_string_value(json_object_get(json_object_get(js, "State"), "Status")),
		  "exited");
	json_decref(js);
	CHECK(podman_stop_pod(pm, name, 5, &err) == 0);
	CHECK(podman_stop_container(pm, ctr, 5, &err) == 0);

	/* exec needs a running container */
	CHECK(podman_exec(pm, ctr, hi, 10, &code, &out, &err) < 0);
	CHECK_CONTAINS(err.msg, "/exec: HTTP");
	free(out);

	CHECK(podman_remove_pod(pm, name, &err) == 0);
	CHECK(podman_inspect_pod(pm, name, &js, &err) == 0 && js == NULL);
	CHECK(podman_inspect_container(pm, ctr, &js, &err) == 0 && js == NULL);
	CHECK(podman_remove_pod(pm, name, &err) == 0);
	CHECK(podman_stop_pod(pm, name, 5, &err) == 0);
	CHECK(podman_network_remove(pm, net, &err) == 0);
	free(yaml);
	free(ctr);
	free(name);
	free(net);
}

TEST(podman_play_reports_container_errors)
{
	NEED_STANDIN("podman_play_reports_container_errors");
	char *name = xasprintf("%s-bad", prefix);
	char *yaml = pod_yaml(name, "Never", "    command: [\"/no/such/entrypoint\"]\n");
	aerr_t err = {0};
	/* Podman answers 200 and lists the failure per container */
	CHECK(podman_play_kube(pm, yaml, strlen(yaml), NULL, &err) < 0);
	CHECK_CONTAINS(err.msg, "podman API POST /libpod/play/kube: ");
	CHECK_CONTAINS(err.msg, "/no/such/entrypoint");
	CHECK(podman_remove_pod(pm, name, &err) == 0);

	/* an HTTP error leaves no half-made pod behind */
	char *net = xasprintf("%s-no-such-net", prefix);
	CHECK(podman_play_kube(pm, yaml, strlen(yaml), net, &err) < 0);
	CHECK_CONTAINS(err.msg, "podman API POST /libpod/play/kube: HTTP 500: ");
	CHECK_CONTAINS(err.msg, "network not found");
	json_t *js = NULL;
	CHECK(podman_inspect_pod(pm, name, &js, &err) == 0 && js == NULL);
	free(net);
	free(yaml);
	free(name);
}

TEST(podman_logs_follow)
{
	NEED_STANDIN("podman_logs_follow");
	char *name = xasprintf("%s-follow", prefix);
	char *ctr = xasprintf("%s-svc", name);
	char *yaml = pod_yaml(name, "Never",
			      "    command: [\"/bin/sh\", \"-c\", "
			      "\"echo one; sleep 1; echo two >&2; sleep 1; echo three\"]\n");
	aerr_t err = {0};
	CHECK(podman_play_kube(pm, yaml, strlen(yaml), NULL, &err) == 0);
	int fds[2];
	CHECK(pipe(fds) == 0);
	char *out = NULL;
	double t0 = now_s();
	int rc = podman_logs(pm, ctr, -1, true, fds[1], &out, &err);
	double took = now_s() - t0;
	close(fds[1]);
	char buf[256] = "";
	ssize_t got = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	CHECK(rc == 0);
	/* it followed until the container ended */
	CHECK(took > 1);
	CHECK(got > 0);
	CHECK_STR(buf, "one\ntwo\nthree\n");
	CHECK_STR(out, "one\ntwo\nthree\n");
	free(out);
	CHECK(podman_remove_pod(pm, name, &err) == 0);
	free(yaml);
	free(ctr);
	free(name);
}

struct prober {
	const char *sock;
	const char *container;
	int ok;
	aerr_t last; /* the last failure, for the report */
};

static void *probe_thread(void *arg)
{
	struct prober *p = arg;
	podman *h = NULL;
	aerr_t err = {0};
	if (podman_open(&h, p->sock, &err) < 0) {
		p->last = err;
		return NULL;
	}
	for (int i = 0; i < 5; i++) {
		int code = -1;
		char *argv[] = {"/bin/true", NULL};
		if (podman_exec(h, p->container, argv, 10, &code, NULL, &err) == 0 && code == 0)
			p->ok++;
		else
			p->last = err;
	}
	podman_close(h);
	return NULL;
}

TEST(podman_handles_in_threads)
{
	NEED_STANDIN("podman_handles_in_threads");
	char *name = xasprintf("%s-threads", prefix);
	char *ctr = xasprintf("%s-svc", name);
	char *yaml = pod_yaml(name, "Always", "");
	aerr_t err = {0};
	CHECK(podman_play_kube(pm, yaml, strlen(yaml), NULL, &err) == 0);
	struct prober probers[4];
	pthread_t threads[4];
	for (int i = 0; i < 4; i++) {
		probers[i] = (struct prober){.sock = podman_socket(pm), .container = ctr};
		CHECK(pthread_create(&threads[i], NULL, probe_thread, &probers[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < 4; i++)
		if (probers[i].ok != 5)
			harness_failf(__FILE__, __LINE__, "thread %d: %d of 5 execs: %s", i,
				      probers[i].ok, probers[i].last.msg);
	CHECK(podman_remove_pod(pm, name, &err) == 0);
	free(yaml);
	free(ctr);
	free(name);
}

TEST(podman_pods_outlive_private_service)
{
	NEED_STANDIN("podman_pods_outlive_private_service");
	char *name = xasprintf("%s-outlive", prefix);
	char *yaml = pod_yaml(name, "Always", "");
	aerr_t err = {0};
	podman *own = NULL;
	CHECK(podman_open(&own, "/nonexistent/aegis-unittest.sock", &err) == 0);
	char *sock = xstrdup(podman_socket(own));
	char *dir = xstrndup(sock, strrchr(sock, '/') - sock);
	CHECK(strcmp(sock, podman_socket(pm)) != 0);
	int rc = podman_play_kube(own, yaml, strlen(yaml), NULL, &err);
	podman_close(own);
	CHECK(rc == 0);
	/* closing stopped that service and removed its directory */
	struct stat st;
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);
	json_t *js = NULL;
	CHECK(podman_inspect_pod(pm, name, &js, &err) == 0 && js);
	CHECK_STR(json_string_value(json_object_get(js, "State")), "Running");
	json_decref(js);
	CHECK(podman_remove_pod(pm, name, &err) == 0);
	free(dir);
	free(sock);
	free(yaml);
	free(name);
}
