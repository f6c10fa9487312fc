/* rotate's pure parts: the pending file, the schema's `rotate:` field and
 * its methods (lib/release/rotate.h, lib/config/schema.h). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "lib/config/config.h"
#include "lib/release/rotate.h"
#include "lib/util/fsutil.h"

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

TEST(rotate_pending_round_trip_private_and_removed)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	rotate_pending p = {.variable = "POSTGRES_PASSWORD",
			    .old_value = "old 'value\" with quotes",
			    .new_value = "n3w-Value_x"};
	CHECK(rotate_pending_save(dir, &p, &err) == 0);
	char *path = rotate_pending_path(dir, "POSTGRES_PASSWORD");
	char *sub = fs_dirname(path);
	CHECK(mode_of(sub) == 0700);
	CHECK(mode_of(path) == 0600);
	rotate_pending q;
	CHECK(rotate_pending_load(dir, "POSTGRES_PASSWORD", &q, &err) == 1);
	CHECK_STR(q.old_value, p.old_value);
	CHECK_STR(q.new_value, p.new_value);
	rotate_pending_free(&q);
	/* another variable's rotation is not this one's */
	CHECK(rotate_pending_load(dir, "GRAFANA_ADMIN_PASSWORD", &q, &err) == 0);
	CHECK(q.new_value == NULL);
	CHECK(rotate_pending_remove(dir, "POSTGRES_PASSWORD", &err) == 0);
	CHECK(!fs_exists(path));
	CHECK(rotate_pending_load(dir, "POSTGRES_PASSWORD", &q, &err) == 0);
	CHECK(rotate_pending_remove(dir, "POSTGRES_PASSWORD", &err) == 0);
	free(path);
	free(sub);
	free(dir);
}

TEST(rotate_pending_issued_value_comes_later)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	rotate_pending p = {.variable = "OPENBAO_SECRET_ID", .old_value = "old-id"};
	CHECK(rotate_pending_save(dir, &p, &err) == 0);
	rotate_pending q;
	CHECK(rotate_pending_load(dir, "OPENBAO_SECRET_ID", &q, &err) == 1);
	CHECK_STR(q.old_value, "old-id");
	CHECK(q.new_value == NULL);
	rotate_pending_free(&q);
	free(dir);
}

TEST(rotate_pending_refuses_symlink_loose_mode_and_garbage_without_quoting_it)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	char *rdir = fs_join(dir, ROTATE_DIR);
	CHECK(fs_mkdir_private(rdir, 0700, &err) == 0);
	char *target = harness_write(dir, "elsewhere", "{\"variable\":\"POSTGRES_PASSWORD\"}");
	char *path = rotate_pending_path(dir, "POSTGRES_PASSWORD");
	CHECK(symlink(target, path) == 0);
	rotate_pending q;
	CHECK(rotate_pending_load(dir, "POSTGRES_PASSWORD", &q, &err) < 0);
	CHECK_CONTAINS(err.msg, "symlink");
	/* and never written through it */
	rotate_pending p = {.variable = "POSTGRES_PASSWORD", .old_value = "a", .new_value = "b"};
	err = (aerr_t){0};
	CHECK(rotate_pending_save(dir, &p, &err) < 0);
	char *text = NULL;
	size_t len = 0;
	CHECK(fs_read_file(target, &text, &len, &err) == 0);
	CHECK(!strstr(text, "\"new\""));
	free(text);
	unlink(path);

	err = (aerr_t){0};
	char *loose = harness_write(rdir, "POSTGRES_PASSWORD.pending", "{}");
	chmod(loose, 0644);
	CHECK(rotate_pending_load(dir, "POSTGRES_PASSWORD", &q, &err) < 0);
	CHECK_CONTAINS(err.msg, "0600");
	unlink(loose);

	err = (aerr_t){0};
	char *bad = harness_write(rdir, "POSTGRES_PASSWORD.pending", "s3cret-in-garbage");
	chmod(bad, 0600);
	CHECK(rotate_pending_load(dir, "POSTGRES_PASSWORD", &q, &err) < 0);
	CHECK_CONTAINS(err.msg, "not a pending rotation of POSTGRES_PASSWORD");
	CHECK(!strstr(err.msg, "s3cret"));
	free(bad);
	free(loose);
	free(path);
	free(target);
	free(rdir);
	free(dir);
}

TEST(rotate_every_schema_method_has_a_function)
{
	for (size_t i = 0; schema_rotate_methods[i]; i++) {
		const rotate_method *m = rotate_method_find(schema_rotate_methods[i]);
		CHECK(m != NULL);
		CHECK((m->change != NULL) != (m->issue != NULL));
	}
	CHECK(rotate_method_find("nope") == NULL);
	CHECK(rotate_method_find(NULL) == NULL);
}

TEST(rotate_schema_declares_the_four_credentials)
{
	char *path = fs_join(harness_root(), "kube/variables.yaml");
	schema s;
	aerr_t err = {0};
	CHECK(schema_load(path, &s, &err) == 0);
	CHECK_STR(schema_find(&s, "POSTGRES_PASSWORD")->rotate, "postgres-role");
	CHECK_STR(schema_find(&s, "KEYCLOAK_ADMIN_PASSWORD")->rotate, "keycloak-admin");
	CHECK_STR(schema_find(&s, "GRAFANA_ADMIN_PASSWORD")->rotate, "grafana-admin");
	CHECK_STR(schema_find(&s, "OPENBAO_SECRET_ID")->rotate, "approle-secret-id");
	CHECK(schema_find(&s, "AEGIS_NETWORK")->rotate == NULL);
	schema_free(&s);
	free(path);
}

TEST(rotate_schema_field_is_validated)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	schema s;
	char *unknown = harness_write(dir, "a.yaml",
				      "variables:\n"
				      "  - name: X\n"
				      "    describes: host\n"
				      "    secret: true\n"
				      "    rotate: carrier-pigeon\n");
	CHECK(schema_load(unknown, &s, &err) < 0);
	CHECK_CONTAINS(err.msg, ":2: X: rotate must be one of postgres-role");
	CHECK_CONTAINS(err.msg, "not 'carrier-pigeon'");
	/* a revision's schema may name a method this build lacks */
	err = (aerr_t){0};
	CHECK(schema_load_recorded(unknown, &s, &err) == 0);
	CHECK(schema_find(&s, "X")->rotate == NULL);
	schema_free(&s);
	err = (aerr_t){0};
	char *plain = harness_write(dir, "b.yaml",
				    "variables:\n"
				    "  - name: Y\n"
				    "    describes: host\n"
				    "    rotate: postgres-role\n");
	CHECK(schema_load(plain, &s, &err) < 0);
	CHECK_CONTAINS(err.msg, "Y: rotate is only for a secret");
	free(unknown);
	free(plain);
	free(dir);
}

TEST(rotate_check_says_what_can_be_rotated)
{
	char *dir = harness_tmpdir();
	char *env = harness_write(dir, ".env", "POSTGRES_PASSWORD=abc\n");
	config cfg;
	aerr_t err = {0};
	CHECK(config_load(&cfg, harness_root(), env, &err) == 0);
	const schema_var *v;
	const rotate_method *m;
	CHECK(rotate_check(&cfg, "POSTGRES_PASSWORD", &v, &m, &err) == 0);
	CHECK_STR(m->name, "postgres-role");
	CHECK(rotate_check(&cfg, "AEGIS_NETWORK", &v, &m, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "POSTGRES_PASSWORD, KEYCLOAK_ADMIN_PASSWORD");
	err = (aerr_t){0};
	CHECK(rotate_check(&cfg, "GRAFANA_ADMIN_PASSWORD", &v, &m, &err) < 0);
	CHECK_CONTAINS(err.msg, "no value in");
	config_free(&cfg);
	free(env);
	free(dir);
}

TEST(rotate_schema_needs_where_the_value_is_kept)
{
	char *dir = harness_tmpdir();
	aerr_t err = {0};
	schema s;
	char *p = harness_write(dir, "c.yaml",
				"variables:\n"
				"  - name: Z\n"
				"    describes: host\n"
				"    secret: true\n"
				"    rotate: grafana-admin\n");
	CHECK(schema_load(p, &s, &err) < 0);
	CHECK_CONTAINS(err.msg, "Z: rotate needs stored_in");
	err = (aerr_t){0};
	char *q = harness_write(dir, "d.yaml",
				"variables:\n"
				"  - name: W\n"
				"    describes: host\n"
				"    stored_in: aegis-x\n");
	CHECK(schema_load(q, &s, &err) < 0);
	CHECK_CONTAINS(err.msg, "W: stored_in goes with rotate");
	free(p);
	free(q);
	free(dir);
}

TEST(rotate_placeholders_tell_a_changed_value)
{
	char *a = rotate_placeholder("x: <secret:POSTGRES_PASSWORD:hmac-sha256:1a2b3c4d>\n"
				     "y: <secret:POSTGRES_PASSWORD_OTHER:hmac-sha256:99999999>",
				     "POSTGRES_PASSWORD");
	CHECK_STR(a, "<secret:POSTGRES_PASSWORD:hmac-sha256:1a2b3c4d>");
	free(a);
	CHECK(rotate_placeholder("x: <secret:POSTGRES_PASSWORD_OTHER:hmac-sha256:1>",
				 "POSTGRES_PASSWORD") == NULL);
	CHECK(rotate_placeholder(NULL, "X") == NULL);

	char *now[] = {"v: <secret:P:hmac-sha256:00000001>", NULL,
		       "v: <secret:P:hmac-sha256:00000002>"};
	char *same[] = {"v: <secret:P:hmac-sha256:00000001>", "v: <secret:P:hmac-sha256:0f>", NULL};
	char *other[] = {NULL, NULL, "v: <secret:P:hmac-sha256:00000003>"};
	size_t pod = 99;
	/* a pod that holds it only now, or only then, compares nothing */
	CHECK(!rotate_value_changed("P", now, same, 3, &pod));
	CHECK(rotate_value_changed("P", now, other, 3, &pod));
	CHECK(pod == 2);
	CHECK(!rotate_value_changed("Q", now, other, 3, &pod));
}
