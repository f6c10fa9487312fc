/* Minimal unit-test harness: TEST(name) { ... CHECK(expr); ... } and a
 * generated main.  Each test prints "PASS name" or "FAIL name: where"; the
 * runner (tests/run.sh) counts those lines. */
#ifndef AEGIS_TEST_HARNESS_H
#define AEGIS_TEST_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, test_fn fn);
void harness_fail(const char *file, int line, const char *expr);
void harness_failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark the running test skipped (prints "SKIP name (why)" instead of PASS).
 * A skip counts as a failure unless AEGIS_TEST_ALLOW_SKIP=1 is in the environment,
 * so no run goes green with tests silently not run. */
void harness_skip(const char *why);
/* A fresh empty directory under the test temp dir (newly allocated path). */
char *harness_tmpdir(void);
/* Write TEXT to DIR/NAME; returns the path (newly allocated). */
char *harness_write(const char *dir, const char *name, const char *text);
/* Directory of the repository (for kube/, profiles/, tests/fixtures/). */
const char *harness_root(void);
/* Start the API test server tests/servers/SCRIPT with /usr/bin/python3 on a
 * port of its own, with EXTRA arguments (NULL-terminated, or NULL), its port
 * file and log DIR/NAME.port and DIR/NAME.log, and wait for the port.  0
 * with *PID and *PORT set; -1 with the reason in WHY (SIZE bytes). */
int harness_start_server(const char *dir, const char *name, const char *script,
			 const char *const *extra, pid_t *pid, int *port, char *why, size_t size);

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		harness_register(#name, test_##name);                                              \
	}                                                                                          \
	static void test_##name(void)

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			harness_fail(__FILE__, __LINE__, #expr);                                   \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                           \
			harness_failf(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b,    \
				      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (!h_ || !strstr(h_, n_)) {                                                      \
			harness_failf(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay,  \
				      n_, h_ ? h_ : "(null)");                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#endif
