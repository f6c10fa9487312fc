/* JUnit reports (junit.c): a passed case, a failed one with its detail, and
 * a passed one carrying a warning as its output (validate's certificate
 * expiry rows), all escaped. */
#include <string.h>

#include "harness.h"
#include "lib/util/fsutil.h"
#include "lib/util/junit.h"

TEST(junit_cases_failures_and_warnings)
{
	aerr_t err = {0};
	cleanup_free char *dir = harness_tmpdir();
	cleanup_free char *path = fs_join(dir, "report.xml");
	const junit_case cases[] = {
	    {.classname = "p.core", .name = "aegis-runtime: GET /health"},
	    {.classname = "p.iam",
	     .name = "edge-route: https://auth",
	     .failed = true,
	     .detail = "answered 502 <upstream>"},
	    {.classname = "p.observability",
	     .name = "edge-route: https://grafana",
	     .output = "warning: expires in 3.0 days & counting"},
	};
	CHECK(junit_write(path, "suite", cases, 3, 1.5, &err) == 0);
	char *xml = NULL;
	size_t len = 0;
	CHECK(fs_read_file(path, &xml, &len, &err) == 0);
	CHECK_CONTAINS(xml, "tests=\"3\" failures=\"1\"");
	CHECK_CONTAINS(xml, "name=\"aegis-runtime: GET /health\" time=\"0.000\"/>");
	CHECK_CONTAINS(xml, "<failure type=\"check\" message=\"answered 502 &lt;upstream&gt;\">");
	CHECK_CONTAINS(
	    xml, "name=\"edge-route: https://grafana\" time=\"0.000\">\n"
		 "      <system-out>warning: expires in 3.0 days &amp; counting</system-out>\n"
		 "    </testcase>");
	free(xml);
}
