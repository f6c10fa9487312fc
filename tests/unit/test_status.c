/* The status model without Podman: a pod list as the libpod API returns
 * it (GET /libpod/pods/json) and the checks of validate_run. */
#include "harness.h"
#include "lib/bootstrap/bootstrap.h"
#include "lib/rollout/images.h"
#include "lib/rollout/status.h"
#include "lib/util/clock.h"
#include "lib/util/fsutil.h"

#include <math.h>
#include <sys/stat.h>

static int load(const char *profile, deployment *d, aerr_t *err)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *env = harness_write(dir, ".env", "");
	return deployment_load(d, harness_root(), env, profile, DEPLOYMENT_LENIENT, err);
}

TEST(status_seconds_since_parses_offsets)
{
	time_t now = 1764410000; /* 2025-11-29T09:53:20Z */
	CHECK(status_seconds_since("2025-11-29T09:53:10Z", now) == 10);
	CHECK(status_seconds_since("2025-11-29T09:53:10.123456789+00:00", now) == 10);
	CHECK(status_seconds_since("2025-11-29T10:53:10+01:00", now) == 10);
	CHECK(status_seconds_since("2025-11-29T08:53:10-01:00", now) == 10);
	CHECK(status_seconds_since("yesterday", now) == -1);
	CHECK(status_seconds_since(NULL, now) == -1);
}

TEST(status_human_durations)
{
	char b[16];
	status_human_duration(-1, b, sizeof b);
	CHECK_STR(b, "-");
	status_human_duration(119, b, sizeof b);
	CHECK_STR(b, "119s");
	status_human_duration(7199, b, sizeof b);
	CHECK_STR(b, "119m");
	status_human_duration(7200, b, sizeof b);
	CHECK_STR(b, "2h");
	status_human_duration(3 * 86400, b, sizeof b);
	CHECK_STR(b, "3d");
}

TEST(status_model_counts_ready_running_absent_and_extra)
{
	deployment d;
	aerr_t err = {0};
	if (load("minimal", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	int core = deployment_pod_index(&d, "core");
	/* pod-core: infra + 2 app containers, one running; pod-other is
	 * an AEGIS pod outside the profile; pod-secrets is absent. */
	json_error_t je;
	json_t *live = json_loads(
	    "[{\"Name\":\"pod-core\",\"Status\":\"Degraded\",\"Created\":\"2025-11-29T09:52:20Z\","
	    "  \"Containers\":[{\"Names\":\"0123456789ab-infra\",\"Status\":\"running\"},"
	    "                 {\"Names\":\"pod-core-a\",\"Status\":\"running\"},"
	    "                 {\"Names\":\"pod-core-b\",\"Status\":\"exited\"}]},"
	    " {\"Name\":\"pod-other\",\"Status\":\"Running\",\"Containers\":[]}]",
	    0, &je);
	check checks[3] = {{.pod = (size_t)core, .ok = true},
			   {.pod = (size_t)core, .ok = false},
			   {.pod = 99, .ok = true}};
	json_t *m = status_model(&d, live, checks, 3, 1764410000);
	cleanup_free char *text = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(m);
	json_decref(live);
	deployment_free(&d);
	CHECK(core >= 0);
	CHECK_CONTAINS(text, "\"absent\":[\"secrets\"]");
	CHECK_CONTAINS(text, "\"not_in_profile\":[\"pod-other\"]");
	CHECK_CONTAINS(text, "\"containers\":2,");
	CHECK_CONTAINS(text, "\"ready\":1,");
	CHECK_CONTAINS(text, "\"running\":1,");
	CHECK_CONTAINS(text, "\"state\":\"Degraded\"");
	CHECK_CONTAINS(text, "\"uptime_s\":60");
	CHECK_CONTAINS(text, "\"profile\":\"minimal\"");
}

TEST(status_model_marks_sealed_openbao)
{
	deployment d;
	aerr_t err = {0};
	if (load("minimal", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	int secrets = deployment_pod_index(&d, "secrets");
	json_error_t je;
	json_t *live = json_loads(
	    "[{\"Name\":\"pod-secrets\",\"Status\":\"Running\",\"Created\":\"2025-11-29T09:52:"
	    "20Z\","
	    "  \"Containers\":[{\"Names\":\"pod-secrets-openbao\",\"Status\":\"running\"}]}]",
	    0, &je);
	/* its probe passed, OpenBao's own state did not (bootstrap_status_check) */
	check sealed = {.pod = (size_t)secrets,
			.ok = false,
			.detail = (char *)BOOTSTRAP_SEALED ": deploy unseals it (sys/health 503)"};
	json_t *m = status_model(&d, live, &sealed, 1, 1764410000);
	cleanup_free char *text = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(m);
	check other = {.pod = (size_t)secrets, .ok = false, .detail = (char *)"connection refused"};
	m = status_model(&d, live, &other, 1, 1764410000);
	cleanup_free char *text2 = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(m);
	json_decref(live);
	deployment_free(&d);
	CHECK(secrets >= 0);
	CHECK_CONTAINS(text, "\"sealed\":true");
	CHECK_CONTAINS(text, "\"ready\":0,");
	CHECK(strstr(text2, "sealed") == NULL);
}

TEST(images_repository_strips_tag_and_digest_not_port)
{
	const char *cases[][2] = {
	    {"127.0.0.1:5117/aegis-test/standin:pull-test", "127.0.0.1:5117/aegis-test/standin"},
	    {"127.0.0.1:5117/aegis-test/standin@sha256:ab", "127.0.0.1:5117/aegis-test/standin"},
	    {"registry:5000/a", "registry:5000/a"},
	    {"postgres:16", "postgres"},
	    {"postgres", "postgres"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cleanup_free char *r = images_repository(cases[i][0]);
		CHECK_STR(r, cases[i][1]);
	}
}

/* image inspect JSON as GET /libpod/images/{id}/json returns it (trimmed) */
TEST(images_record_picks_the_repo_digest_of_the_reference)
{
	json_error_t je;
	json_t *img = json_loads("{\"Id\":\"0123456789abcdef\",\"RepoDigests\":["
				 "\"docker.io/library/other@sha256:1111\","
				 "\"127.0.0.1:5117/aegis-test/standin@sha256:2222\","
				 "\"docker.io/library/postgres@sha256:3333\"]}",
				 0, &je);
	json_t *r = images_record("127.0.0.1:5117/aegis-test/standin:pull-test", img);
	CHECK_STR(json_string_value(json_object_get(r, "digest")),
		  "127.0.0.1:5117/aegis-test/standin@sha256:2222");
	CHECK_STR(json_string_value(json_object_get(r, "image_id")), "sha256:0123456789abcdef");
	CHECK(json_is_true(json_object_get(r, "pinned")));
	json_decref(r);
	/* a short name matches its fully qualified repository */
	r = images_record("postgres:16", img);
	CHECK_STR(json_string_value(json_object_get(r, "digest")),
		  "docker.io/library/postgres@sha256:3333");
	json_decref(r);
	/* no digest of that repository: the image ID, not pinned */
	r = images_record("quay.io/x/y:1", img);
	CHECK_STR(json_string_value(json_object_get(r, "digest")), "sha256:0123456789abcdef");
	CHECK(json_is_false(json_object_get(r, "pinned")));
	json_decref(r);
	/* created from a digest whose image lost the name: that digest ran */
	r = images_record("quay.io/x/y@sha256:5555", img);
	CHECK_STR(json_string_value(json_object_get(r, "digest")), "quay.io/x/y@sha256:5555");
	CHECK(json_is_true(json_object_get(r, "pinned")));
	json_decref(r);
	json_decref(img);
	/* localhost/: built or loaded here, no registry can serve it again */
	img = json_loads("{\"Id\":\"sha256:feed\",\"RepoDigests\":"
			 "[\"localhost/aegis-standin@sha256:4444\"]}",
			 0, &je);
	r = images_record("localhost/aegis-standin:latest", img);
	CHECK_STR(json_string_value(json_object_get(r, "digest")), "sha256:feed");
	CHECK(json_is_false(json_object_get(r, "pinned")));
	json_decref(r);
	json_decref(img);
	cleanup_free char *s = images_short_digest("r/x@sha256:0123456789abcdef0123");
	CHECK_STR(s, "r/x@sha256:0123456789ab");
}

TEST(status_add_images_gives_each_pod_its_containers)
{
	json_error_t je;
	json_t *m = json_loads("{\"pods\":[{\"name\":\"core\"},{\"name\":\"secrets\"}]}", 0, &je);
	json_t *images = json_loads(
	    "{\"core\":{\"core\":{\"image\":\"r/core:1\",\"digest\":\"r/core@sha256:aa\"}}}", 0,
	    &je);
	status_add_images(m, images);
	cleanup_free char *text = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(m);
	json_decref(images);
	CHECK_CONTAINS(text, "\"images\":{\"core\":{\"digest\":\"r/core@sha256:aa\"");
	CHECK_CONTAINS(text, "{\"images\":{},\"name\":\"secrets\"}");
}

/* The last rollout's phase times: derived from its trace, kept 0600 in the
 * state directory, loaded back, and turned into the next rollout's expected
 * times to ready. */
TEST(status_keeps_the_last_rollouts_phase_times)
{
	deployment d;
	aerr_t err = {0};
	if (load("minimal", &d, &err) < 0)
		CHECK_STR(err.msg, "");
	int core = deployment_pod_index(&d, "core");
	CHECK(core >= 0);
	trace *t = trace_new();
	/* the rollout began at mono 100 = wall W */
	double m0 = 100, w0 = clock_wall_s() - (clock_mono_s() - m0);
	trace_track(t, core + 1, d.pods[core].pod_name);
	trace_span(t, core + 1, "wait for dependencies", m0, m0 + 2.0);
	trace_span(t, core + 1, "create ahead (infra started)", m0 + 0.1, m0 + 0.6);
	trace_span(t, core + 1, "start app containers", m0 + 2.0, m0 + 2.25);
	trace_span(t, core + 1, "probe until ready", m0 + 2.25, m0 + 4.5);
	trace_span(t, core + 1, "ready hook (bootstrap)", m0 + 4.5, m0 + 5.0);
	json_t *ph = status_rollout_phases(&d, t, "deploy", w0, 5.25);
	trace_free(t);
	json_t *pc = json_object_get(json_object_get(ph, "pods"), "core");
	CHECK(fabs(json_real_value(json_object_get(pc, "created_s")) - 0.6) < 0.002);
	CHECK(fabs(json_real_value(json_object_get(pc, "started_s")) - 2.25) < 0.002);
	CHECK(fabs(json_real_value(json_object_get(pc, "ready_s")) - 4.5) < 0.002);
	CHECK(fabs(json_real_value(json_object_get(pc, "bootstrap_s")) - 0.5) < 0.002);
	CHECK_STR(json_string_value(json_object_get(ph, "command")), "deploy");
	CHECK(json_object_size(json_object_get(ph, "pods")) == 1); /* only traced pods */

	cleanup_free char *dir = harness_tmpdir();
	CHECK(status_phases_save(dir, ph, &err) == 0);
	cleanup_free char *path = xasprintf("%s/%s", dir, STATUS_PHASES_FILE);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	json_t *back = status_phases_load(dir);
	CHECK(back && json_equal(back, ph));
	double *w = status_expected_ready(&d, back);
	CHECK(w && fabs(w[core] - 2.25) < 0.002);
	for (size_t i = 0; i < d.npods; i++)
		if ((int)i != core)
			CHECK(w[i] < 0);
	free(w);
	json_decref(back);
	json_decref(ph);
	CHECK(status_phases_load("/nonexistent") == NULL);
	CHECK(status_expected_ready(&d, NULL) == NULL);
	deployment_free(&d);
}
