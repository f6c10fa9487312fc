/* The variable schema's `describes` field: every variable of
 * kube/variables.yaml says whether it describes the host or the release;
 * the loader refuses one that does not (file and line), a secret that
 * claims the release, and a host variable whose default uses a release
 * variable; a revision's recorded copy may predate the field. */
#include "harness.h"
#include "lib/config/schema.h"
#include "lib/util/fsutil.h"

/* SCHEMA_TEXT as DIR/variables.yaml, loaded (strictly unless RECORDED). */
static int load(const char *text, bool recorded, schema *s, char **path, aerr_t *err)
{
	cleanup_free char *dir = harness_tmpdir();
	*path = harness_write(dir, "variables.yaml", text);
	return (recorded ? schema_load_recorded : schema_load)(*path, s, err);
}

TEST(every_variable_of_the_product_is_classified)
{
	cleanup_free char *path = fs_join(harness_root(), "kube/variables.yaml");
	schema s;
	aerr_t err = {0};
	if (schema_load(path, &s, &err) < 0)
		CHECK_STR(err.msg, "");
	size_t host = 0;
	for (size_t i = 0; i < s.n; i++) {
		CHECK(s.vars[i].describes == DESCRIBES_HOST ||
		      s.vars[i].describes == DESCRIBES_RELEASE);
		host += s.vars[i].describes == DESCRIBES_HOST;
		/* secrets are never recorded: only their current value exists */
		CHECK(!s.vars[i].secret || s.vars[i].describes == DESCRIBES_HOST);
	}
	CHECK(host > 0 && host < s.n);
	/* paths and sockets of this machine keep their current values on rollback */
	static const char *const host_vars[] = {
	    "AEGIS_ROOT",    "AEGIS_STATE_DIR", "CONTAINER_SOCK",     "AEGIS_GENERATED_DIR",
	    "SEAL_KEYS_DIR", "AEGIS_CACERT",	"EDGE_TLS_CERT_FILE", "EDGE_TLS_KEY_FILE"};
	for (size_t i = 0; i < ARRAY_SIZE(host_vars); i++)
		CHECK(schema_find(&s, host_vars[i])->describes == DESCRIBES_HOST);
	/* what the pods run with comes back from the revision */
	static const char *const release_vars[] = {"RUST_LOG", "AEGIS_RUNTIME_IMAGE",
						   "OPENBAO_PORT", "OPENBAO_ADDR",
						   "KEYCLOAK_PUBLIC_URL"};
	for (size_t i = 0; i < ARRAY_SIZE(release_vars); i++)
		CHECK(schema_find(&s, release_vars[i])->describes == DESCRIBES_RELEASE);
	schema_free(&s);
}

TEST(a_variable_without_describes_is_refused_with_file_and_line)
{
	static const char text[] = "variables:\n"
				   "  - name: A_PORT\n"
				   "    describes: release\n"
				   "    validator: port\n"
				   "\n"
				   "  - name: B_PATH\n"
				   "    validator: path\n";
	schema s;
	aerr_t err = {0};
	cleanup_free char *path = NULL;
	CHECK(load(text, false, &s, &path, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	cleanup_free char *where = xasprintf("%s:6: B_PATH has no 'describes:' field", path);
	CHECK_CONTAINS(err.msg, where);
	CHECK_CONTAINS(err.msg, "host (");
	CHECK_CONTAINS(err.msg, "release (");
	CHECK(s.n == 0 && !s.vars);

	/* a revision's recorded copy from before the field still loads */
	aerr_t rerr = {0};
	cleanup_free char *rpath = NULL;
	if (load(text, true, &s, &rpath, &rerr) < 0)
		CHECK_STR(rerr.msg, "");
	CHECK(schema_find(&s, "A_PORT")->describes == DESCRIBES_RELEASE);
	CHECK(schema_find(&s, "B_PATH")->describes == DESCRIBES_UNSET);
	schema_free(&s);
}

TEST(describes_takes_only_host_or_release)
{
	schema s;
	aerr_t err = {0};
	cleanup_free char *path = NULL;
	CHECK(load("variables:\n  - name: X\n    describes: machine\n", false, &s, &path, &err) <
	      0);
	cleanup_free char *where = xasprintf("%s:2: X: describes must be", path);
	CHECK_CONTAINS(err.msg, where);
	CHECK_CONTAINS(err.msg, "not 'machine'");
}

TEST(a_secret_describes_the_host)
{
	schema s;
	aerr_t err = {0};
	cleanup_free char *path = NULL;
	CHECK(load("variables:\n"
		   "  - name: PW\n"
		   "    secret: true\n"
		   "    describes: release\n",
		   false, &s, &path, &err) < 0);
	cleanup_free char *where = xasprintf("%s:2: PW is secret, so it describes the host", path);
	CHECK_CONTAINS(err.msg, where);
}

/* A host variable at its default keeps the current configuration's
 * default on rollback: it must not be computed from a release value. */
TEST(a_host_default_uses_only_host_variables)
{
	schema s;
	aerr_t err = {0};
	cleanup_free char *path = NULL;
	CHECK(load("variables:\n"
		   "  - name: PORT\n"
		   "    describes: release\n"
		   "  - name: ROOT\n"
		   "    describes: host\n"
		   "  - name: URL\n"
		   "    describes: host\n"
		   "    default: ${ROOT}/x:${PORT:-1}\n",
		   false, &s, &path, &err) < 0);
	cleanup_free char *where =
	    xasprintf("%s:6: URL describes the host, but its default uses PORT", path);
	CHECK_CONTAINS(err.msg, where);

	/* host variables and facts of the process are fine, in either default */
	cleanup_free char *ok_path = NULL;
	aerr_t ok = {0};
	if (load("variables:\n"
		 "  - name: ROOT\n"
		 "    describes: host\n"
		 "  - name: DIR\n"
		 "    describes: host\n"
		 "    default: ${ROOT}/generated\n"
		 "    default_root: ${XDG_RUNTIME_DIR:-/run/user/${UID}}/d\n"
		 "  - name: URL\n"
		 "    describes: release\n"
		 "    default: http://${DIR}\n",
		 false, &s, &ok_path, &ok) < 0)
		CHECK_STR(ok.msg, "");
	CHECK(s.n == 3 && s.vars[1].line == 4);
	schema_free(&s);
}
