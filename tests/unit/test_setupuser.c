#include <sys/stat.h>

#include "harness.h"
#include "lib/host/setupuser.h"
#include "lib/host/subid.h"
#include "lib/util/fsutil.h"

static char *fixture(const char *name)
{
	return xasprintf("%s/tests/fixtures/subid/%s", harness_root(), name);
}

TEST(subid_parse_and_find)
{
	cleanup_free char *path = fixture("subuid");
	subid_file f;
	aerr_t err = {0};
	if (subid_load(path, &f, &err) < 0)
		CHECK_STR(err.msg, "");
	size_t n = f.n;
	const subid_range *bob = subid_find(&f, "bob", 1001);
	unsigned long bob_start = bob ? bob->start : 0;
	int bob_line = bob ? bob->line : 0;
	const subid_range *by_uid = subid_find(&f, "dave", 1005);
	unsigned long uid_start = by_uid ? by_uid->start : 0;
	bool none = subid_find(&f, "eve", 1009) == NULL;
	subid_free(&f);
	CHECK(n == 3);
	CHECK(bob_start == 165536 && bob_line == 4);
	CHECK(uid_start == 300000);
	CHECK(none);
}

/* The free range skips every range of both files (gaps too small for
 * 65536 ids included), so one line fits /etc/subuid and /etc/subgid. */
TEST(subid_free_start_overlaps_nothing)
{
	cleanup_free char *u = fixture("subuid"), *g = fixture("subgid");
	subid_file fu, fg;
	aerr_t err = {0};
	CHECK(subid_load(u, &fu, &err) == 0);
	if (subid_load(g, &fg, &err) < 0) {
		subid_free(&fu);
		CHECK_STR(err.msg, "");
	}
	/* subuid: 100000-165535, 165536-231071, 300000-365535;
	 * subgid adds 231072-296607: the gap 296608-299999 is too small */
	unsigned long start = subid_free_start(&fu, &fg, SUBID_COUNT);
	unsigned long only_u = subid_free_start(&fu, NULL, SUBID_COUNT);
	unsigned long small = subid_free_start(&fu, &fg, 1000);
	subid_free(&fu);
	subid_free(&fg);
	CHECK(start == 365536);
	CHECK(only_u == 231072);
	CHECK(small == 296608);
}

TEST(subid_empty_or_missing_file)
{
	subid_file f;
	aerr_t err = {0};
	CHECK(subid_load("/nonexistent/subuid", &f, &err) == 0);
	unsigned long start = subid_free_start(&f, NULL, SUBID_COUNT);
	subid_free(&f);
	CHECK(start == SUBID_FIRST);
}

TEST(subid_overlap_and_broken_line)
{
	cleanup_free char *o = fixture("overlap"), *b = fixture("broken");
	subid_file f;
	aerr_t err = {0};
	CHECK(subid_load(o, &f, &err) == 0);
	const subid_range *clash = subid_overlap(&f, subid_find(&f, "mallory", 0));
	cleanup_free char *owner = clash ? xstrdup(clash->owner) : NULL;
	subid_free(&f);
	CHECK_STR(owner, "alice");
	CHECK(subid_load(b, &f, &err) < 0);
	CHECK_CONTAINS(err.msg, "broken:2: expected NAME:START:COUNT");
}

static setupuser_opts test_opts(const char *dir, bool check_only)
{
	setupuser_opts o;
	setupuser_opts_default(&o);
	o.user = "carol";
	o.check_only = check_only;
	o.subuid = fs_join(dir, "subuid");
	o.subgid = fs_join(dir, "subgid");
	o.systemd_dir = fs_join(dir, "no-systemd");
	o.linger_dir = fs_join(dir, "linger");
	return o;
}

static void free_opts(setupuser_opts *o)
{
	free((char *)o->subuid);
	free((char *)o->subgid);
	free((char *)o->systemd_dir);
	free((char *)o->linger_dir);
}

static char *read_text(const char *path)
{
	char *s = NULL;
	size_t n;
	aerr_t err = {0};
	return fs_read_file(path, &s, &n, &err) == 0 ? s : xstrdup("(unreadable)");
}

/* --check-only prints the line and changes nothing; then the real run adds
 * it to both files (one line, the same in each); a re-run keeps them. */
TEST(setupuser_subids_added_once)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *u = fixture("subuid"), *g = fixture("subgid");
	cleanup_free char *ut = read_text(u), *gt = read_text(g);
	free(harness_write(dir, "subuid", ut));
	free(harness_write(dir, "subgid", "bob:165536:65536\n"));
	setupuser_opts o = test_opts(dir, true);
	setupuser_state st = {.uid = 4242};
	aerr_t err = {0};
	int rc = setupuser_subids(&o, &st, &err);
	cleanup_free char *note = st.nlines ? xstrdup(st.lines[0]) : NULL;
	cleanup_free char *after_check = read_text(o.subuid);
	setupuser_state_free(&st);
	st = (setupuser_state){.uid = 4242};
	o.check_only = false;
	int rc2 = setupuser_subids(&o, &st, &err);
	setupuser_state_free(&st);
	cleanup_free char *u1 = read_text(o.subuid), *g1 = read_text(o.subgid);
	st = (setupuser_state){.uid = 4242};
	int rc3 = setupuser_subids(&o, &st, &err);
	cleanup_free char *kept = st.nlines ? xstrdup(st.lines[0]) : NULL;
	setupuser_state_free(&st);
	cleanup_free char *u2 = read_text(o.subuid), *g2 = read_text(o.subgid);
	free_opts(&o);
	CHECK(rc == 0 && rc2 == 0 && rc3 == 0);
	CHECK_CONTAINS(note, "add the line carol:231072:65536");
	CHECK_STR(after_check, ut);
	cleanup_free char *want_u = xasprintf("%scarol:231072:65536\n", ut);
	CHECK_STR(u1, want_u);
	CHECK_STR(g1, "bob:165536:65536\ncarol:231072:65536\n");
	CHECK_STR(u2, u1);
	CHECK_STR(g2, g1);
	CHECK_CONTAINS(kept, "(kept)");
}

TEST(setupuser_refuses_an_overlapping_range)
{
	cleanup_free char *dir = harness_tmpdir();
	free(harness_write(dir, "subuid", "alice:100000:65536\ncarol:150000:65536\n"));
	free(harness_write(dir, "subgid", ""));
	setupuser_opts o = test_opts(dir, false);
	setupuser_state st = {.uid = 4242};
	aerr_t err = {0};
	int rc = setupuser_subids(&o, &st, &err);
	setupuser_state_free(&st);
	free_opts(&o);
	CHECK(rc < 0);
	CHECK_CONTAINS(err.msg, "overlaps that of alice");
}

TEST(setupuser_linger_without_systemd_says_so)
{
	cleanup_free char *dir = harness_tmpdir();
	setupuser_opts o = test_opts(dir, false);
	setupuser_state st = {0};
	aerr_t err = {0};
	int rc = setupuser_linger(&o, &st, &err);
	cleanup_free char *note = st.nlines ? xstrdup(st.lines[0]) : NULL;
	bool incomplete = st.incomplete;
	setupuser_state_free(&st);
	/* with the flag file present it is already enabled */
	cleanup_free char *linger = fs_join(dir, "linger");
	mkdir(linger, 0755);
	free(harness_write(linger, "carol", ""));
	int rc2 = setupuser_linger(&o, &st, &err);
	cleanup_free char *note2 = st.nlines ? xstrdup(st.lines[0]) : NULL;
	setupuser_state_free(&st);
	free_opts(&o);
	CHECK(rc == 0 && rc2 == 0);
	CHECK(incomplete);
	CHECK_CONTAINS(note, "could not enable lingering: systemd is not running");
	CHECK_CONTAINS(note2, "already enabled");
}

/* --unprivileged-port-start: the value set now (a file standing for /proc)
 * and in the sysctl.d file read at boot; without the flag only a note, and
 * nothing written. */
TEST(setupuser_ports_sysctl_only_with_the_flag)
{
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *proc = harness_write(dir, "port_start", "1024\n");
	cleanup_free char *conf = fs_join(dir, "60-aegis-unprivileged-ports.conf");
	setupuser_opts o;
	setupuser_opts_default(&o);
	o.user = "carol";
	o.port_start_proc = proc;
	o.sysctl_file = conf;
	setupuser_state st = {0};
	aerr_t err = {0};
	int rc = setupuser_ports(&o, &st, &err);
	cleanup_free char *note = st.nlines ? xstrdup(st.lines[0]) : NULL;
	bool absent = !fs_exists(conf);
	setupuser_state_free(&st);
	o.port_start = 80;
	int rc2 = setupuser_ports(&o, &st, &err);
	setupuser_state_free(&st);
	char *now = NULL, *persisted = NULL;
	size_t n1 = 0, n2 = 0;
	fs_read_file(proc, &now, &n1, &err);
	fs_read_file(conf, &persisted, &n2, &err);
	struct stat sb = {0};
	stat(conf, &sb);
	CHECK(rc == 0 && rc2 == 0);
	CHECK(absent);
	CHECK_CONTAINS(note, "net.ipv4.ip_unprivileged_port_start is 1024");
	CHECK_CONTAINS(note, "--unprivileged-port-start 80");
	CHECK_STR(now, "80\n");
	CHECK_CONTAINS(persisted, "\nnet.ipv4.ip_unprivileged_port_start = 80\n");
	CHECK((sb.st_mode & 07777) == 0644);
	free(now);
	free(persisted);
}

TEST(setupuser_rejects_bad_names)
{
	setupuser_opts o;
	setupuser_opts_default(&o);
	o.user = "Bad:Name";
	setupuser_state st = {0};
	aerr_t err = {0};
	CHECK(setupuser_user(&o, &st, &err) < 0);
	setupuser_state_free(&st);
	CHECK_CONTAINS(err.msg, "invalid user name");
}
