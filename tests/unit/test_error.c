/* lib/util/error.c: the one error type; a message that does not fit says so. */
#include <errno.h>

#include "harness.h"
#include "lib/util/error.h"

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

TEST(error_set_formats_and_returns_minus_one)
{
	aerr_t err = {0};
	CHECK(aerr_set(&err, AEGIS_ECONFIG, "pod %s: port %d", "core", 8088) == -1);
	CHECK_STR(err.msg, "pod core: port 8088");
	CHECK(err.status == AEGIS_ECONFIG);
	CHECK(aerr_set(&err, 0, "x") == -1 && err.status == AEGIS_EFAIL);
}

TEST(error_truncated_message_says_so)
{
	aerr_t err = {0};
	char big[3000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	aerr_set(&err, AEGIS_EFAIL, "%s", big);
	CHECK(strlen(err.msg) == sizeof err.msg - 1);
	CHECK(ends_with(err.msg, AERR_TRUNCATED));
	/* exactly full: not truncated */
	big[sizeof err.msg - 1] = '\0';
	aerr_set(&err, AEGIS_EFAIL, "%s", big);
	CHECK(!strstr(err.msg, "truncated"));
	CHECK(strlen(err.msg) == sizeof err.msg - 1);
}

TEST(error_truncation_never_splits_a_utf8_character)
{
	aerr_t err = {0};
	char big[3000] = "";
	/* "é" is two bytes; whatever the cut, no lone continuation byte stays */
	for (int i = 0; i < 1400; i++)
		strcat(big, "\xc3\xa9");
	for (int shift = 0; shift < 2; shift++) {
		aerr_set(&err, AEGIS_EFAIL, "%.*s%s", shift, "x", big);
		CHECK(ends_with(err.msg, AERR_TRUNCATED));
		size_t at = strlen(err.msg) - strlen(AERR_TRUNCATED);
		CHECK((unsigned char)err.msg[at - 1] == 0xa9 || err.msg[at - 1] == 'x');
	}
}

TEST(error_sys_wrap_and_append_mark_truncation_too)
{
	aerr_t err = {0};
	aerr_sys(&err, AEGIS_EFAIL, ENOENT, "cannot open %s", "/x");
	CHECK_STR(err.msg, "cannot open /x: No such file or directory");
	aerr_wrap(&err, "pod %s", "core");
	CHECK_STR(err.msg, "pod core: cannot open /x: No such file or directory");
	aerr_append(&err, "; then %s", "more");
	CHECK_STR(err.msg, "pod core: cannot open /x: No such file or directory; then more");

	char big[2100];
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	aerr_sys(&err, AEGIS_EFAIL, ENOENT, "%.2040s", big);
	CHECK(ends_with(err.msg, AERR_TRUNCATED)); /* the strerror did not fit */
	aerr_set(&err, AEGIS_EFAIL, "%.2040s", big);
	aerr_wrap(&err, "context that does not fit any more");
	CHECK(ends_with(err.msg, AERR_TRUNCATED));
	CHECK(strncmp(err.msg, "context that does not fit any more: bbb", 39) == 0);
	aerr_set(&err, AEGIS_EFAIL, "%.2000s", big);
	aerr_append(&err, "; and %s", big);
	CHECK(ends_with(err.msg, AERR_TRUNCATED));
	CHECK(strstr(err.msg, "; and bbb"));
}
