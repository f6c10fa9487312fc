#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "lib/config/deployment.h"
#include "lib/render/systemd.h"
#include "lib/util/fsutil.h"

/* The full profile's units with fixed paths, so the text is stable. */
static int full_units(systemd_flavor flavor, systemd_units *u, deployment *d, aerr_t *err)
{
	const char *root = harness_root();
	if (deployment_load(d, root, "/nonexistent/.env", "full", DEPLOYMENT_LENIENT, err) < 0)
		return -1;
	systemd_opts o = {
	    .flavor = flavor,
	    .scope = SYSTEMD_USER,
	    .binary = "/usr/local/bin/aegis-deploy",
	    .podman = "/usr/bin/podman",
	    .root = "/usr/local/share/aegis-deploy",
	    .config_dir = "%E/aegis-deploy",
	    .data_dir = flavor == SYSTEMD_QUADLET ? "/home/aegis/.local/state/aegis-deploy"
						  : "%S/aegis-deploy",
	    .network = "aegis-network",
	};
	if (systemd_generate(d, &o, u, err) < 0) {
		deployment_free(d);
		return -1;
	}
	return 0;
}

/* tests/golden/systemd/{plain,quadlet}/: AEGIS_UPDATE_GOLDEN=1 rewrites them. */
static void golden(systemd_flavor flavor, const char *sub)
{
	systemd_units u;
	deployment d;
	aerr_t err = {0};
	if (full_units(flavor, &u, &d, &err) < 0)
		CHECK_STR(err.msg, "");
	bool update = getenv("AEGIS_UPDATE_GOLDEN") && *getenv("AEGIS_UPDATE_GOLDEN");
	cleanup_free char *dir = xasprintf("%s/tests/golden/systemd/%s", harness_root(), sub);
	char *bad = NULL;
	if (update)
		fs_mkdir_private(dir, 0755, &err);
	for (size_t i = 0; i < u.n && !bad; i++) {
		cleanup_free char *path = fs_join(dir, u.files[i].name);
		if (update) {
			if (fs_write_atomic(path, u.files[i].text, strlen(u.files[i].text), 0644,
					    &err) < 0)
				bad = xstrdup(err.msg);
			continue;
		}
		char *want = NULL;
		size_t len = 0;
		if (fs_read_file(path, &want, &len, &err) < 0)
			bad = xasprintf("%s (AEGIS_UPDATE_GOLDEN=1 make unit writes it)", err.msg);
		else if (strcmp(want, u.files[i].text) != 0)
			bad = xasprintf("%s differs from the generated unit; if intended, run "
					"AEGIS_UPDATE_GOLDEN=1 make unit and review the diff",
					path);
		free(want);
	}
	size_t n = u.n;
	systemd_units_free(&u);
	deployment_free(&d);
	if (bad) {
		harness_failf(__FILE__, __LINE__, "%s", bad);
		free(bad);
		return;
	}
	/* full: 8 pods, the network, 6 volumes, the target */
	CHECK(n >= 8 + 1 + 1);
}

TEST(systemd_golden_plain)
{
	golden(SYSTEMD_PLAIN, "plain");
}

TEST(systemd_golden_quadlet)
{
	golden(SYSTEMD_QUADLET, "quadlet");
}

TEST(systemd_flavor_by_version)
{
	CHECK(systemd_flavor_for("4.3.1") == SYSTEMD_PLAIN);
	CHECK(systemd_flavor_for("3.4.4") == SYSTEMD_PLAIN);
	CHECK(systemd_flavor_for("4.4.0") == SYSTEMD_QUADLET);
	CHECK(systemd_flavor_for("5.0.2") == SYSTEMD_QUADLET);
	CHECK(systemd_flavor_for("garbage") == SYSTEMD_PLAIN);
}

/* Each pod unit requires exactly the units of its in-profile dependencies
 * (plus network and volumes), and the target requires every pod. */
TEST(systemd_edges_follow_the_plan)
{
	systemd_units u;
	deployment d;
	aerr_t err = {0};
	if (full_units(SYSTEMD_PLAIN, &u, &d, &err) < 0)
		CHECK_STR(err.msg, "");
	char *bad = NULL;
	for (size_t i = 0; i < d.npods && !bad; i++) {
		const pod *p = &d.pods[i];
		cleanup_free char *name = systemd_pod_unit(p);
		const char *text = NULL;
		for (size_t k = 0; k < u.n; k++)
			if (strcmp(u.files[k].name, name) == 0)
				text = u.files[k].text;
		if (!text) {
			bad = xasprintf("no unit %s", name);
			break;
		}
		const char *req = strstr(text, "\nRequires=");
		size_t reqlen = req ? strcspn(req + 1, "\n") : 0;
		cleanup_free char *line = req ? xstrndup(req + 1, reqlen) : xstrdup("Requires=");
		size_t ndeps = 0;
		for (size_t j = 0; j < p->ndepends; j++) {
			int k = deployment_pod_index(&d, p->depends[j]);
			if (k < 0)
				continue;
			ndeps++;
			cleanup_free char *dep = systemd_pod_unit(&d.pods[k]);
			if (!strstr(line, dep))
				bad = xasprintf("%s: %s lacks %s", name, line, dep);
		}
		size_t npods_in_line = 0;
		char *save = NULL;
		for (char *tok = strtok_r(line + strlen("Requires="), " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save))
			if (!strstr(tok, "-volume.service") && !strstr(tok, "-network.service"))
				npods_in_line++;
		if (!bad && npods_in_line != ndeps)
			bad = xasprintf("%s requires %zu pod units, the plan has %zu: %s", name,
					npods_in_line, ndeps, line);
	}
	systemd_units_free(&u);
	deployment_free(&d);
	if (bad) {
		harness_failf(__FILE__, __LINE__, "%s", bad);
		free(bad);
	}
}

TEST(systemd_wait_budget_from_probes)
{
	probe pr = {
	    .kind = PROBE_HTTP, .initial_delay_s = 3, .period_s = 5, .failure_threshold = 36};
	container c = {.name = "x", .readiness = pr};
	pod p = {.name = "x", .containers = &c, .ncontainers = 1};
	CHECK(systemd_wait_seconds(&p) == 3 + 36 * 5);
	c.readiness.failure_threshold = 1;
	c.readiness.period_s = 1;
	CHECK(systemd_wait_seconds(&p) == 30);
}

TEST(systemd_write_if_changed_keeps_unchanged_files)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *path = fs_join(dir, "a.service");
	aerr_t err = {0};
	bool changed = false;
	CHECK(systemd_write_if_changed(path, "x\n", 2, 0644, &changed, &err) == 0 && changed);
	struct stat a, b;
	CHECK(stat(path, &a) == 0);
	CHECK(systemd_write_if_changed(path, "x\n", 2, 0644, &changed, &err) == 0 && !changed);
	CHECK(stat(path, &b) == 0 && a.st_ino == b.st_ino);
	CHECK(systemd_write_if_changed(path, "y\n", 2, 0644, &changed, &err) == 0 && changed);
	CHECK(systemd_write_if_changed(path, "y\n", 2, 0600, &changed, &err) == 0 && changed);
}

TEST(systemd_quadlet_needs_absolute_data_dir)
{
	deployment d;
	aerr_t err = {0};
	if (deployment_load(&d, harness_root(), "/nonexistent/.env", "minimal", DEPLOYMENT_LENIENT,
			    &err) < 0)
		CHECK_STR(err.msg, "");
	systemd_opts o = {.flavor = SYSTEMD_QUADLET,
			  .binary = "/b",
			  .podman = "/p",
			  .root = "/r",
			  .config_dir = "%E/x",
			  .data_dir = "%S/x",
			  .network = "n"};
	systemd_units u;
	int rc = systemd_generate(&d, &o, &u, &err);
	deployment_free(&d);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "absolute");
}

/* A user manager with no delegated cgroup refuses the service container's
 * conmon as main PID: the pod units then stay active after `kube play`
 * exits; with delegation (the default) they do not. */
TEST(systemd_remain_after_exit_only_when_asked)
{
	deployment d;
	aerr_t err = {0};
	if (deployment_load(&d, harness_root(), "/nonexistent/.env", "minimal", DEPLOYMENT_LENIENT,
			    &err) < 0)
		CHECK_STR(err.msg, "");
	systemd_opts o = {.flavor = SYSTEMD_QUADLET,
			  .scope = SYSTEMD_USER,
			  .binary = "/b",
			  .podman = "/p",
			  .root = "/r",
			  .config_dir = "%E/x",
			  .data_dir = "/x",
			  .network = "n"};
	for (int remain = 0; remain <= 1; remain++) {
		o.remain_after_exit = remain;
		systemd_units u;
		CHECK(systemd_generate(&d, &o, &u, &err) == 0);
		size_t pods = 0, with = 0;
		for (size_t i = 0; i < u.n; i++) {
			if (!u.files[i].pod)
				continue;
			pods++;
			if (strstr(u.files[i].text, "\nRemainAfterExit=yes\n"))
				with++;
		}
		CHECK(pods == 2);
		CHECK(with == (remain ? pods : 0));
		systemd_units_free(&u);
	}
	deployment_free(&d);
}
