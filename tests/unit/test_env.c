#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lib/config/env.h"
#include "lib/util/fsutil.h"
#include "lib/util/strbuf.h"

static const char *val(const env_file *e, const char *k)
{
	const env_entry *x = env_find(e, k);
	return x ? x->value : NULL;
}

TEST(env_syntax)
{
	unsetenv("AEGIS_T_FROM_ENV");
	setenv("AEGIS_T_PROC", "proc", 1);
	const char *text = "# comment\n"
			   "\n"
			   "PLAIN=value\n"
			   "export EXPORTED=yes\n"
			   "  SPACED = padded value   \n"
			   "TRAILING=abc # a comment\n"
			   "HASH=a#b\n"
			   "SINGLE='lit ${PLAIN} \\n $x'\n"
			   "DOUBLE=\"a\\nb \\\"q\\\" \\\\ \\$PLAIN ${PLAIN}\"\n"
			   "EXPANDED=${PLAIN}-x\n"
			   "DEFAULTED=${MISSING_T:-fallback}\n"
			   "NESTED=${MISSING_T:-${PLAIN}}\n"
			   "FROMPROC=${AEGIS_T_PROC}\n"
			   "EMPTY=\n"
			   "MULTI=\"line1\nline2\"\n"
			   "AFTER=1\n";
	env_file e;
	aerr_t err = {0};
	CHECK(env_parse("t.env", text, &e, &err) == 0);
	CHECK_STR(val(&e, "PLAIN"), "value");
	CHECK_STR(val(&e, "EXPORTED"), "yes");
	CHECK_STR(val(&e, "SPACED"), "padded value");
	CHECK_STR(val(&e, "TRAILING"), "abc");
	CHECK_STR(val(&e, "HASH"), "a#b");
	CHECK_STR(val(&e, "SINGLE"), "lit ${PLAIN} \\n $x");
	CHECK_STR(val(&e, "DOUBLE"), "a\nb \"q\" \\ $PLAIN value");
	CHECK_STR(val(&e, "EXPANDED"), "value-x");
	CHECK_STR(val(&e, "DEFAULTED"), "fallback");
	CHECK_STR(val(&e, "NESTED"), "value");
	CHECK_STR(val(&e, "FROMPROC"), "proc");
	CHECK_STR(val(&e, "EMPTY"), "");
	CHECK_STR(val(&e, "MULTI"), "line1\nline2");
	CHECK(env_find(&e, "AFTER")->line == 17);
	CHECK(env_find(&e, "PLAIN")->line == 3);
	env_free(&e);
	unsetenv("AEGIS_T_PROC");
}

TEST(env_process_environment_wins_in_expansion)
{
	setenv("AEGIS_T_OVER", "from-env", 1);
	env_file e;
	aerr_t err = {0};
	CHECK(env_parse("t.env", "AEGIS_T_OVER=file\nREF=${AEGIS_T_OVER}\n", &e, &err) == 0);
	CHECK_STR(val(&e, "REF"), "from-env");
	env_free(&e);
	unsetenv("AEGIS_T_OVER");
}

static void expect_error(const char *text, const char *needle)
{
	env_file e;
	aerr_t err = {0};
	if (env_parse("bad.env", text, &e, &err) == 0) {
		env_free(&e);
		harness_failf(__FILE__, __LINE__, "no error for %s", text);
		return;
	}
	if (!strstr(err.msg, needle))
		harness_failf(__FILE__, __LINE__, "error '%s' lacks '%s'", err.msg, needle);
}

TEST(env_errors_name_the_line)
{
	expect_error("A=1\nB=2\nC='open\n", "bad.env:3: unterminated single-quoted");
	expect_error("A=1\n\"B\"=2\n", "bad.env:2: invalid key");
	expect_error("A=1\n# c\n\n1BAD=x\n", "bad.env:4: invalid key '1BAD'");
	expect_error("A=1\nNOEQUALS\n", "bad.env:2: expected '='");
	expect_error("A=\"x\n\n", "bad.env:1: unterminated double-quoted");
	expect_error("A=1\nB=${UNCLOSED\n", "bad.env:2: ");
	expect_error("A=1\nB='x' junk\n", "bad.env:2: unexpected text after the closing quote");
	expect_error("A=1\nBAD-KEY=1\n", "bad.env:2: invalid key");
}

TEST(env_broken_line_seven)
{
	expect_error("# header\n\nA=1\nB=2\n\nC=3\nD=\"broken\n", "bad.env:7:");
}

TEST(env_quote_round_trips)
{
	const char *values[] = {"plain",	   "",	   "with space",  "it's",  "a\"b",
				"$HOME",	   "${X}", "line\nbreak", "#hash", "back\\slash",
				"mix'\"$\\\n end", " lead"};
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		char *q = env_quote(values[i]);
		char *text = NULL;
		if (asprintf(&text, "K=%s\n", q) < 0)
			abort();
		env_file e;
		aerr_t err = {0};
		int rc = env_parse("q.env", text, &e, &err);
		free(text);
		free(q);
		CHECK(rc == 0);
		const char *got = val(&e, "K");
		if (!got || strcmp(got, values[i]) != 0) {
			harness_failf(__FILE__, __LINE__, "round trip of [%s] gave [%s]", values[i],
				      got ? got : "(null)");
			env_free(&e);
			return;
		}
		env_free(&e);
	}
}

TEST(env_update_preserves_every_other_byte)
{
	char *dir = harness_tmpdir();
	const char *orig = "# top comment\n"
			   "\n"
			   "export OPENBAO_ROLE_ID=old-role # keep this comment\n"
			   "UNRELATED='quoted value'\n"
			   "OPENBAO_SECRET_ID=\"old\"\n"
			   "   # indented comment\n"
			   "TAIL=x";
	char *path = harness_write(dir, ".env", orig);
	chmod(path, 0640);
	const char *keys[] = {"OPENBAO_ROLE_ID", "OPENBAO_SECRET_ID", "NEW_KEY"};
	const char *vals[] = {"new-role", "s3cr$t 'q'", "added"};
	aerr_t err = {0};
	bool changed = false;
	CHECK(env_update(path, 3, keys, vals, &changed, &err) == 0);
	CHECK(changed);
	char *got = NULL;
	CHECK(fs_read_file(path, &got, NULL, &err) == 0);
	CHECK_STR(got, "# top comment\n"
		       "\n"
		       "export OPENBAO_ROLE_ID=new-role # keep this comment\n"
		       "UNRELATED='quoted value'\n"
		       "OPENBAO_SECRET_ID=\"s3cr\\$t 'q'\"\n"
		       "   # indented comment\n"
		       "TAIL=x\n"
		       "NEW_KEY=added\n");
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	free(got);
	/* a second identical update writes nothing */
	CHECK(env_update(path, 3, keys, vals, &changed, &err) == 0);
	CHECK(!changed);
	env_file e;
	CHECK(env_load(path, false, &e, &err) == 0);
	CHECK_STR(val(&e, "OPENBAO_SECRET_ID"), "s3cr$t 'q'");
	env_free(&e);
	free(path);
	free(dir);
}

TEST(env_update_empty_value_before_comment)
{
	char *dir = harness_tmpdir();
	char *path = harness_write(dir, ".env", "OPENBAO_ROLE_ID=   # filled by bootstrap\nB=#x\n");
	const char *keys[] = {"OPENBAO_ROLE_ID", "B"};
	const char *vals[] = {"role-1", "v"};
	aerr_t err = {0};
	bool changed = false;
	CHECK(env_update(path, 2, keys, vals, &changed, &err) == 0);
	char *got = NULL;
	CHECK(fs_read_file(path, &got, NULL, &err) == 0);
	CHECK_STR(got, "OPENBAO_ROLE_ID=   role-1 # filled by bootstrap\nB=v #x\n");
	env_file e;
	CHECK(env_load(path, false, &e, &err) == 0);
	CHECK_STR(val(&e, "OPENBAO_ROLE_ID"), "role-1");
	CHECK_STR(val(&e, "B"), "v");
	env_free(&e);
	free(got);
	free(path);
	free(dir);
}

TEST(env_update_refuses_symlink)
{
	char *dir = harness_tmpdir();
	char *target = harness_write(dir, "target", "A=1\n");
	char link[512];
	snprintf(link, sizeof link, "%s/.env", dir);
	CHECK(symlink(target, link) == 0);
	const char *k[] = {"A"}, *v[] = {"2"};
	aerr_t err = {0};
	CHECK(env_update(link, 1, k, v, NULL, &err) < 0);
	CHECK_CONTAINS(err.msg, "symbolic link");
	char *got = NULL;
	CHECK(fs_read_file(target, &got, NULL, &err) == 0);
	CHECK_STR(got, "A=1\n");
	free(got);
	free(target);
	free(dir);
}

/* env_load of BYTES (LEN of them, NUL bytes included) written to DIR/NAME */
static int load_bytes(const char *dir, const char *name, const char *bytes, size_t len, env_file *e,
		      aerr_t *err)
{
	cleanup_free char *path = fs_join(dir, name);
	if (fs_write_atomic(path, bytes, len, 0600, err) < 0)
		return -2;
	return env_load(path, false, e, err);
}

TEST(env_nul_byte_is_not_a_text_file)
{
	cleanup_free char *dir = harness_tmpdir();
	static const char text[] =
	    "POSTGRES_PASSWORD=p\nKEYCLOAK_ADMIN_PASSWORD=k\n"
	    "GRAFANA_ADMIN_PASSWORD=g\nRUST_LOG=info\0j\nAEGIS_HTTP_PORT=18088\n";
	env_file e;
	aerr_t err = {0};
	int rc = load_bytes(dir, "nul.env", text, sizeof text - 1, &e, &err);
	if (rc == 0)
		env_free(&e);
	CHECK(rc == -1);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "nul.env:4: not a text file");
	/* a NUL in the middle of a quoted secret: rejected, the secret not shown */
	static const char quoted[] = "A=1\nSECRET='Hunter2\0Secret'\n";
	rc = load_bytes(dir, "nul2.env", quoted, sizeof quoted - 1, &e, &err);
	if (rc == 0)
		env_free(&e);
	CHECK(rc == -1);
	CHECK_CONTAINS(err.msg, "nul2.env:2: not a text file");
	CHECK(!strstr(err.msg, "Hunter2"));
}

/* Every error of a hostile .env names the file and line, never the value or
 * the text of the line. */
TEST(env_errors_never_show_values)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"POSTGRES-PASSWORD=Hunter2Secret\n", "bad.env:1: invalid key 'POSTGRES-PASSWORD'"},
	    {"A=1\nHunter2Secret\n", "bad.env:2: expected '='"},
	    {"root:$6$Hunter2Secret$x:19000:0:99999:7:::\n", "bad.env:1: expected NAME=value"},
	    {"A='Hunter2Secret' Hunter2Secret\n", "bad.env:1: unexpected text after the closing"},
	    {"A=\"Hunter2Secret\" Hunter2Secret\n", "(key A)"},
	    {"A=${Hunter2Secret\n", "bad.env:1: "},
	    {"A=x${Hunter2Secret:-y\n", "bad.env:1: "},
	    {"A=${-Hunter2Secret}\n", "bad.env:1: invalid variable reference"},
	    {"Hunter2 Secret=x\n", "bad.env:1: invalid key: character 8"},
	    {"Hunter2+Secret=x\n", "bad.env:1: invalid key: character 8"},
	    {"\"Hunter2Secret\"=x\n", "bad.env:1: invalid key"},
	    {"A=1\n\xef\xbb\xbfHunter2Secret=x\n", "bad.env:2: invalid key: a byte order mark"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		env_file e;
		aerr_t err = {0};
		if (env_parse("bad.env", cases[i].text, &e, &err) == 0) {
			env_free(&e);
			harness_failf(__FILE__, __LINE__, "case %zu parsed", i);
			return;
		}
		CHECK(err.status == AEGIS_ECONFIG);
		if (!strstr(err.msg, cases[i].want) || strstr(err.msg, "Hunter2")) {
			harness_failf(__FILE__, __LINE__, "case %zu: '%s' (want '%s', no value)", i,
				      err.msg, cases[i].want);
			return;
		}
	}
}

/* A .env that is a symlink to a file of someone else's secrets (as one to
 * /etc/shadow would be): the error shows none of its text. */
TEST(env_symlink_to_foreign_file_shows_no_content)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *target = harness_write(dir, "shadow",
						  "root:$6$Hunter2Secret$abc:19000:0:99999:7:::\n"
						  "daemon:*:19000:0:99999:7:::\n");
	cleanup_free char *link = fs_join(dir, ".env");
	CHECK(symlink(target, link) == 0);
	env_file e;
	aerr_t err = {0};
	CHECK(env_load(link, false, &e, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, ".env:1: ");
	CHECK(!strstr(err.msg, "Hunter2") && !strstr(err.msg, "root"));
}

TEST(env_directory_is_a_configuration_error)
{
	cleanup_free char *dir = harness_tmpdir();
	env_file e;
	aerr_t err = {0};
	CHECK(env_load(dir, true, &e, &err) < 0);
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK_CONTAINS(err.msg, "is a directory");
}

TEST(env_leading_bom_is_skipped)
{
	env_file e;
	aerr_t err = {0};
	CHECK(env_parse("bom.env",
			"\xef\xbb\xbf"
			"A=1\nB='x'\n",
			&e, &err) == 0);
	CHECK_STR(val(&e, "A"), "1");
	CHECK_STR(val(&e, "B"), "x");
	CHECK(env_find(&e, "A")->line == 1);
	/* the file's bytes are kept for edits: the mark stays where it was */
	bool changed = false;
	const char *keys[] = {"A"}, *values[] = {"2"};
	cleanup_free char *edited = env_edit(&e, 1, keys, values, &changed);
	CHECK_STR(edited, "\xef\xbb\xbf"
			  "A=2\nB='x'\n");
	env_free(&e);
	/* a BOM inside a value is content */
	CHECK(env_parse("bom.env", "A='\xef\xbb\xbfx'\n", &e, &err) == 0);
	CHECK_STR(val(&e, "A"), "\xef\xbb\xbfx");
	env_free(&e);
}

/* 100,000 lines parse in linear time (the duplicate check once scanned every
 * earlier key: 100k lines took 9-15 s, and longer under the sanitizers). */
TEST(env_large_file_parses_in_linear_time)
{
	strbuf text = STRBUF_INIT;
	for (int i = 0; i < 100000; i++)
		sb_addf(&text, "EXTRA_VARIABLE_%d=value-%d\n", i, i);
	sb_adds(&text, "EXTRA_VARIABLE_7=again\nLAST=${EXTRA_VARIABLE_99999}\n");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	env_file e;
	aerr_t err = {0};
	int rc = env_parse("big.env", text.s, &e, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sb_release(&text);
	CHECK(rc == 0);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	bool ok = e.n == 100001 && strcmp(val(&e, "EXTRA_VARIABLE_7"), "again") == 0 &&
		  env_find(&e, "EXTRA_VARIABLE_7")->line == 100001 &&
		  strcmp(val(&e, "LAST"), "value-99999") == 0;
	env_free(&e);
	CHECK(ok);
	printf("  100000 lines parsed in %.2f s\n", secs);
	CHECK(secs < 3.0);
}
