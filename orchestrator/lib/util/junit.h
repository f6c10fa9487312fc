/* JUnit XML reports, the format GitLab, Jenkins and GitHub show natively:
 * one <testcase> per check, a <failure> with the detail where it failed.
 * Files are written atomically (fsutil), so a CI job never reads half a
 * report. */
#ifndef AEGIS_JUNIT_H
#define AEGIS_JUNIT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/deployment.h"
#include "rollout/validate.h"

typedef struct junit_case {
	const char *classname; /* groups cases in the CI's view */
	const char *name;
	double time_s;
	bool failed;
	const char *detail; /* the failure's message and text */
	const char *output; /* a passed case's note (a warning), or NULL */
} junit_case;

/* Write the suite SUITE of N cases to PATH (0644). */
int junit_write(const char *path, const char *suite, const junit_case *cases, size_t n,
		double time_s, aerr_t *err);

/* Every check validate prints for D: the containers' checks (class
 * "<profile>.<pod>", name "<container>: <check>"), then the rows of
 * platform_checks_run (PLATFORM, may be NULL: class "<profile>.<pod>", name
 * "<kind>: <check>"; a warning passes with the detail as its output). */
int junit_write_checks(const char *path, const deployment *d, const check *checks, size_t n,
		       const json_t *platform, double time_s, aerr_t *err);

#endif
