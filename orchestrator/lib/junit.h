/* JUnit XML reports, the format GitLab, Jenkins and GitHub show natively:
 * one <testcase> per check, a <failure> with the detail where it failed.
 * Files are written atomically (fsutil), so a CI job never reads half a
 * report. */
#ifndef AEGIS_JUNIT_H
#define AEGIS_JUNIT_H

#include <stdbool.h>
#include <stddef.h>

#include "deployment.h"
#include "validate.h"

typedef struct junit_case {
	const char *classname; /* groups cases in the CI's view */
	const char *name;
	double time_s;
	bool failed;
	const char *detail; /* the failure's message and text */
} junit_case;

/* Write the suite SUITE of N cases to PATH (0644). */
int junit_write(const char *path, const char *suite, const junit_case *cases, size_t n,
		double time_s, aerr_t *err);

/* validate's checks of D: class "<profile>.<pod>", name "<container>: <check>". */
int junit_write_checks(const char *path, const deployment *d, const check *checks, size_t n,
		       double time_s, aerr_t *err);

#endif
