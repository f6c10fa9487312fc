/* Each doctor check against injected paths: every error case shows its fix. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "lib/host/doctor.h"
#include "lib/util/fsutil.h"

static doctor_host rootless_host(const char *dir)
{
	doctor_host h = {
	    .podman = "podman",
	    .user = "eve",
	    .uid = 4711,
	    .subuid = fs_join(dir, "subuid"),
	    .subgid = fs_join(dir, "subgid"),
	    .tun = fs_join(dir, "tun"),
	    .cgroup_root = fs_join(dir, "cgroup"),
	    .linger_dir = fs_join(dir, "linger"),
	    .systemd_dir = fs_join(dir, "systemd"),
	};
	return h;
}

static void free_host(doctor_host *h)
{
	free((char *)h->subuid);
	free((char *)h->subgid);
	free((char *)h->tun);
	free((char *)h->cgroup_root);
	free((char *)h->linger_dir);
	free((char *)h->systemd_dir);
}

/* "level check: detail | fix" of finding I (newly allocated), or "(none)" */
static char *finding(const doctor_report *r, size_t i)
{
	if (i >= r->n)
		return xstrdup("(none)");
	const doctor_finding *f = &r->items[i];
	return xasprintf("%s %s: %s | %s", doctor_level_name(f->level), f->check, f->detail,
			 f->fix ? f->fix : "");
}

TEST(doctor_user_without_subuid_range)
{
	cleanup_free char *dir = harness_tmpdir();
	doctor_host h = rootless_host(dir);
	free(harness_write(dir, "subuid", "alice:100000:65536\n"));
	free(harness_write(dir, "subgid", "alice:100000:65536\neve:165536:65536\n"));
	doctor_report r = {0};
	doctor_check_subids(&r, &h);
	cleanup_free char *uid = finding(&r, 0), *gid = finding(&r, 1);
	bool errors = doctor_has_errors(&r);
	doctor_report_free(&r);
	free_host(&h);
	CHECK(errors);
	CHECK_CONTAINS(uid, "error subuid: eve has no range in");
	/* the line to add overlaps neither file */
	CHECK_CONTAINS(uid, "add the line \"eve:231072:65536\" to ");
	CHECK_CONTAINS(gid, "ok subgid: 65536 ids from 165536");
}

TEST(doctor_overlapping_subuid_range)
{
	cleanup_free char *dir = harness_tmpdir();
	doctor_host h = rootless_host(dir);
	free(harness_write(dir, "subuid", "alice:100000:65536\neve:120000:65536\n"));
	free(harness_write(dir, "subgid", "eve:200000:65536\n"));
	doctor_report r = {0};
	doctor_check_subids(&r, &h);
	cleanup_free char *uid = finding(&r, 0);
	doctor_report_free(&r);
	free_host(&h);
	CHECK_CONTAINS(uid, "error subuid:");
	CHECK_CONTAINS(uid, "overlaps that of alice");
	CHECK_CONTAINS(uid, "add the line");
}

TEST(doctor_occupied_port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	socklen_t len = sizeof a;
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	int port = ntohs(a.sin_port);

	port_map pm = {.container_port = 8088, .host_port = port, .protocol = "TCP"};
	pod p = {.name = "core", .pod_name = "pod-core", .ports = &pm, .nports = 1};
	deployment d = {.pods = &p, .npods = 1, .prof = {.name = "t"}};
	doctor_report r = {0};
	doctor_check_ports(&r, &d, NULL, 0);
	cleanup_free char *busy = finding(&r, 0);
	doctor_report_free(&r);
	/* the same port held by our own running pod is fine */
	const char *running[] = {"pod-core"};
	doctor_check_ports(&r, &d, running, 1);
	cleanup_free char *ours = finding(&r, 0);
	bool errors = doctor_has_errors(&r);
	doctor_report_free(&r);
	close(fd);
	cleanup_free char *want = xasprintf("error port %d: host port %d of pod core", port, port);
	CHECK_CONTAINS(busy, want);
	CHECK_CONTAINS(busy, "| stop what listens on TCP port");
	CHECK_CONTAINS(ours, "held by our own pod pod-core");
	CHECK(!errors);
}

TEST(doctor_missing_socket)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *sock = fs_join(dir, "podman.sock");
	doctor_report r = {0};
	doctor_check_socket(&r, sock, NULL);
	cleanup_free char *f = finding(&r, 0);
	doctor_report_free(&r);
	CHECK_CONTAINS(f, "error API socket:");
	CHECK_CONTAINS(f, "No such file or directory");
	cleanup_free char *fix = xasprintf("podman system service --time=0 unix://%s &", sock);
	CHECK_CONTAINS(f, fix);
}

/* podman info fails when containers.conf names a runtime that is missing */
TEST(doctor_runtime_missing)
{
	cleanup_free char *dir = harness_tmpdir();
	doctor_host h = rootless_host(dir);
	doctor_report r = {0};
	doctor_check_runtime(&r, &h, NULL,
			     "Error: default OCI runtime \"nosuch\" not found: invalid argument");
	cleanup_free char *f = finding(&r, 0);
	doctor_report_free(&r);
	json_t *info = json_pack("{s:{s:s, s:{s:s, s:s}}}", "host", "cgroupVersion", "v2",
				 "ociRuntime", "name", "runc", "path", "/nonexistent/runc");
	doctor_check_runtime(&r, &h, info, NULL);
	cleanup_free char *f2 = finding(&r, 0);
	doctor_report_free(&r);
	json_decref(info);
	free_host(&h);
	CHECK_CONTAINS(f,
		       "error runtime: podman info failed: Error: default OCI runtime \"nosuch\"");
	CHECK_CONTAINS(f, "| set runtime = \"runc\" under [engine] in containers.conf");
	CHECK_CONTAINS(f2, "error runtime: OCI runtime runc (/nonexistent/runc) does not run");
	CHECK_CONTAINS(f2, "install runc");
}

/* crun is present and answers --version, but cannot start containers on a
 * hybrid cgroup layout */
TEST(doctor_crun_on_hybrid_cgroups)
{
	cleanup_free char *dir = harness_tmpdir();
	doctor_host h = rootless_host(dir);
	cleanup_free char *unified = fs_join(h.cgroup_root, "unified");
	mkdir(h.cgroup_root, 0755);
	mkdir(unified, 0755);
	json_t *info = json_pack("{s:{s:s, s:{s:s, s:s}}}", "host", "cgroupVersion", "v1",
				 "ociRuntime", "name", "crun", "path", "/bin/true");
	doctor_report r = {0};
	doctor_check_runtime(&r, &h, info, NULL);
	cleanup_free char *f = finding(&r, 0);
	doctor_report_free(&r);
	rmdir(unified);
	/* without the unified hierarchy it is fine */
	doctor_check_runtime(&r, &h, info, NULL);
	cleanup_free char *f2 = finding(&r, 0);
	doctor_report_free(&r);
	json_decref(info);
	free_host(&h);
	CHECK_CONTAINS(f, "error runtime: crun cannot start containers on this hybrid cgroup");
	CHECK_CONTAINS(f, "runtime = \"runc\"");
	CHECK_CONTAINS(f2, "ok runtime: crun at /bin/true");
}

TEST(doctor_incomplete_env)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env = harness_write(dir, ".env", "RUST_LOG=info\n");
	doctor_report r = {0};
	doctor_check_env(&r, harness_root(), env, "minimal", NULL, NULL);
	cleanup_free char *f = finding(&r, 0);
	doctor_report_free(&r);
	cleanup_free char *missing = fs_join(dir, "absent.env");
	doctor_check_env(&r, harness_root(), missing, "minimal", NULL, NULL);
	cleanup_free char *f2 = finding(&r, 0);
	doctor_report_free(&r);
	CHECK_CONTAINS(f, "error .env:");
	CHECK_CONTAINS(f, "POSTGRES_PASSWORD");
	CHECK_CONTAINS(f, "init --fill");
	CHECK_CONTAINS(f2, "does not exist");
	CHECK_CONTAINS(f2, "init");
}

TEST(doctor_tun_and_linger)
{
	cleanup_free char *dir = harness_tmpdir();
	doctor_host h = rootless_host(dir);
	doctor_report r = {0};
	doctor_check_tun(&r, &h); /* missing */
	mkdir(h.tun, 0755);	  /* a directory cannot be opened read-write */
	doctor_check_tun(&r, &h);
	doctor_check_linger(&r, &h); /* no systemd here */
	mkdir(h.systemd_dir, 0755);
	doctor_check_linger(&r, &h); /* systemd, no flag */
	mkdir(h.linger_dir, 0755);
	free(harness_write(h.linger_dir, "eve", ""));
	doctor_check_linger(&r, &h);
	cleanup_free char *t1 = finding(&r, 0), *t2 = finding(&r, 1), *l1 = finding(&r, 2),
			  *l2 = finding(&r, 3), *l3 = finding(&r, 4);
	doctor_report_free(&r);
	free_host(&h);
	CHECK_CONTAINS(t1, "error tun:");
	CHECK_CONTAINS(t1, "modprobe tun");
	CHECK_CONTAINS(t2, "chmod 0666");
	CHECK_CONTAINS(l1, "warning lingering: systemd is not running");
	CHECK_CONTAINS(l2, "sudo loginctl enable-linger eve");
	CHECK_CONTAINS(l3, "ok lingering: enabled for eve");
}

TEST(doctor_podman_missing)
{
	doctor_host h = {.podman = "/nonexistent/podman", .user = "eve", .uid = 4711};
	doctor_report r = {0};
	json_t *info = NULL;
	char *info_error = NULL;
	doctor_check_podman(&r, &h, &info, &info_error);
	cleanup_free char *f = finding(&r, 0);
	doctor_report_free(&r);
	json_decref(info);
	free(info_error);
	CHECK_CONTAINS(f, "error podman:");
	CHECK_CONTAINS(f, "apt-get install podman");
}

/* Podman 5 on a cgroup v1 host writes a deprecation warning to stderr
 * before the JSON of `podman info` (5.4.2, Debian 13): the info is read. */
TEST(doctor_info_after_cgroupv1_warning)
{
	char dir[] = "/tmp/aegis-doctor-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	cleanup_free char *fake = fs_join(dir, "podman");
	FILE *f = fopen(fake, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("#!/bin/sh\n"
	      "case \"$1\" in --version) echo 'podman version 5.4.2' ;;\n"
	      "info) echo 'time=\"2026-12-07T12:05:07Z\" level=warning msg=\"Using cgroups-v1 "
	      "which is deprecated in favor of cgroups-v2 with Podman v5\"' >&2\n"
	      "  printf '{\\n  \"host\": {\"cgroupVersion\": \"v1\"}\\n}\\n' ;;\n"
	      "esac\n",
	      f);
	fclose(f);
	chmod(fake, 0755);
	doctor_host h = {.podman = fake, .user = "eve", .uid = 4711};
	doctor_report r = {0};
	json_t *info = NULL;
	char *info_error = NULL;
	doctor_check_podman(&r, &h, &info, &info_error);
	cleanup_free char *first = finding(&r, 0);
	CHECK_CONTAINS(first, "Podman 5.4.2");
	CHECK(info != NULL);
	CHECK(info_error == NULL);
	CHECK_STR(
	    json_string_value(json_object_get(json_object_get(info, "host"), "cgroupVersion")),
	    "v1");
	doctor_report_free(&r);
	json_decref(info);
	free(info_error);
	unlink(fake);
	rmdir(dir);
}
