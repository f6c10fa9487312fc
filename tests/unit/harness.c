#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util/fsutil.h"
#include "lib/util/spawn.h"

/* Registered by constructors before main; grown as needed, so no test is
 * ever dropped (an earlier fixed array of 512 silently dropped the rest). */
static struct test_entry {
	const char *name;
	test_fn fn;
} * tests;
static int ntests, cap_tests;
static bool failed_current;
static bool skipped_current;
static char skip_why[1024];
static char *tmp_root;
static int tmp_seq;

void harness_register(const char *name, test_fn fn)
{
	if (ntests == cap_tests) {
		cap_tests = cap_tests ? cap_tests * 2 : 256;
		tests = realloc(tests, (size_t)cap_tests * sizeof *tests);
		if (!tests)
			abort();
	}
	tests[ntests++] = (struct test_entry){name, fn};
}

void harness_fail(const char *file, int line, const char *expr)
{
	harness_failf(file, line, "%s", expr);
}

void harness_failf(const char *file, int line, const char *fmt, ...)
{
	failed_current = true;
	printf("  %s:%d: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void harness_skip(const char *why)
{
	/* A skip is a failure unless a developer opts out (tests/README.md). */
	const char *allow = getenv("AEGIS_TEST_ALLOW_SKIP");
	if (!allow || strcmp(allow, "1") != 0) {
		harness_failf(__FILE__, __LINE__, "cannot run (AEGIS_TEST_ALLOW_SKIP=1 skips): %s",
			      why);
		return;
	}
	skipped_current = true;
	snprintf(skip_why, sizeof skip_why, "%s", why);
}

char *harness_tmpdir(void)
{
	char *p = NULL;
	if (asprintf(&p, "%s/t%d", tmp_root, ++tmp_seq) < 0 || mkdir(p, 0755) < 0)
		abort();
	return p;
}

char *harness_write(const char *dir, const char *name, const char *text)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return p;
}

const char *harness_root(void)
{
	const char *r = getenv("AEGIS_TEST_ROOT");
	return r ? r : ".";
}

int harness_start_server(const char *dir, const char *name, const char *script,
			 const char *const *extra, pid_t *pid, int *port, char *why, size_t size)
{
	cleanup_free char *path = xasprintf("%s/tests/servers/%s", harness_root(), script);
	cleanup_free char *port_file = xasprintf("%s/%s.port", dir, name);
	cleanup_free char *log = xasprintf("%s/%s.log", dir, name);
	const char *argv[16] = {"/usr/bin/python3", path, "--port", "0", "--port-file", port_file};
	size_t n = 6;
	for (; extra && *extra && n < sizeof argv / sizeof argv[0] - 1; extra++)
		argv[n++] = *extra;
	aerr_t err = {0};
	if (access("/usr/bin/python3", X_OK) != 0) {
		snprintf(why, size, "no /usr/bin/python3");
		return -1;
	}
	if (spawn_start((char *const *)argv, log, pid, &err) < 0) {
		snprintf(why, size, "%s", err.msg);
		return -1;
	}
	for (int i = 0; i < 200; i++) {
		char *text = NULL;
		size_t len = 0;
		if (fs_read_file(port_file, &text, &len, &err) == 0) {
			*port = atoi(text);
			free(text);
			if (*port > 0)
				return 0;
		}
		usleep(50000);
	}
	snprintf(why, size, "%s did not start (see %s)", name, log);
	return -1;
}

static void rm_rf(const char *path)
{
	/* the test temp tree holds only what tests wrote; exec rm to keep this short */
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	int st;
	if (pid > 0)
		waitpid(pid, &st, 0);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	char tmpl[] = "/tmp/aegis-unit-XXXXXX";
	tmp_root = mkdtemp(tmpl);
	if (!tmp_root)
		return 2;
	int failures = 0, ran = 0;
	for (int i = 0; i < ntests; i++) {
		if (only && strcmp(only, tests[i].name) != 0)
			continue;
		failed_current = false;
		skipped_current = false;
		fflush(stdout);
		ran++;
		tests[i].fn();
		if (skipped_current && !failed_current)
			printf("SKIP %s (%s)\n", tests[i].name, skip_why);
		else
			printf("%s %s\n", failed_current ? "FAIL" : "PASS", tests[i].name);
		fflush(stdout);
		failures += failed_current;
	}
	rm_rf(tmp_root);
	free(tests);
	if (ran == 0) {
		/* a binary (or a name given on the command line) that runs nothing */
		printf("FAIL %s (no test ran%s%s)\n", argv[0], only ? " named " : "",
		       only ? only : "");
		return 1;
	}
	return failures ? 1 : 0;
}
