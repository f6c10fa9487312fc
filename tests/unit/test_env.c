#include <stdlib.h>
#include <sys/stat.h>

#include "harness.h"
#include "lib/env.h"
#include "lib/fsutil.h"

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
	const char *values[] = {"plain", "", "with space", "it's", "a\"b", "$HOME", "${X}",
				"line\nbreak", "#hash", "back\\slash", "mix'\"$\\\n end", " lead"};
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
