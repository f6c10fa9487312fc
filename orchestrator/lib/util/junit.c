#include "util/junit.h"

#include <time.h>

#include "util/fsutil.h"
#include "util/strbuf.h"

/* Text as XML character data or an attribute value.  Control characters
 * XML 1.0 cannot carry at all become '?'. */
static void add_escaped(strbuf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&':
			sb_adds(b, "&amp;");
			break;
		case '<':
			sb_adds(b, "&lt;");
			break;
		case '>':
			sb_adds(b, "&gt;");
			break;
		case '"':
			sb_adds(b, "&quot;");
			break;
		case '\'':
			sb_adds(b, "&apos;");
			break;
		case '\n':
			sb_adds(b, "&#10;");
			break;
		case '\t':
			sb_adds(b, "&#9;");
			break;
		case '\r':
			sb_adds(b, "&#13;");
			break;
		default:
			sb_addc(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
		}
	}
}

int junit_write(const char *path, const char *suite, const junit_case *cases, size_t n,
		double time_s, aerr_t *err)
{
	size_t failures = 0;
	for (size_t i = 0; i < n; i++)
		failures += cases[i].failed;
	char stamp[32];
	time_t now = time(NULL);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	strbuf b = STRBUF_INIT;
	sb_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
	add_escaped(&b, suite);
	sb_addf(&b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n", n, failures,
		time_s);
	sb_adds(&b, "  <testsuite name=\"");
	add_escaped(&b, suite);
	sb_addf(&b,
		"\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"%.3f\" "
		"timestamp=\"%s\">\n",
		n, failures, time_s, stamp);
	for (size_t i = 0; i < n; i++) {
		const junit_case *c = &cases[i];
		sb_adds(&b, "    <testcase classname=\"");
		add_escaped(&b, c->classname);
		sb_adds(&b, "\" name=\"");
		add_escaped(&b, c->name);
		sb_addf(&b, "\" time=\"%.3f\"", c->time_s);
		if (!c->failed && !c->output) {
			sb_adds(&b, "/>\n");
			continue;
		}
		if (!c->failed) {
			sb_adds(&b, ">\n      <system-out>");
			add_escaped(&b, c->output);
			sb_adds(&b, "</system-out>\n    </testcase>\n");
			continue;
		}
		sb_adds(&b, ">\n      <failure type=\"check\" message=\"");
		add_escaped(&b, c->detail);
		sb_adds(&b, "\">");
		add_escaped(&b, c->detail);
		sb_adds(&b, "</failure>\n    </testcase>\n");
	}
	sb_adds(&b, "  </testsuite>\n</testsuites>\n");
	int rc = fs_write_atomic(path, b.s, b.len, 0644, err);
	sb_release(&b);
	return rc < 0 ? aerr_wrap(err, "JUnit report %s", path) : 0;
}

int junit_write_checks(const char *path, const deployment *d, const check *checks, size_t n,
		       const json_t *platform, double time_s, aerr_t *err)
{
	size_t np = json_array_size(platform), total = n + np;
	junit_case *cases = xcalloc(total ? total : 1, sizeof *cases);
	char **owned = xcalloc(2 * (total ? total : 1), sizeof *owned);
	for (size_t i = 0; i < n; i++) {
		const check *k = &checks[i];
		const pod *p = &d->pods[k->pod];
		owned[2 * i] = xasprintf("%s.%s", d->prof.name, p->name);
		owned[2 * i + 1] = xasprintf("%s: %s", p->containers[k->container].name, k->target);
		cases[i] = (junit_case){.classname = owned[2 * i],
					.name = owned[2 * i + 1],
					.time_s = k->latency_ms / 1000.0,
					.failed = !k->ok,
					.detail = k->detail ? k->detail : "failed"};
	}
	for (size_t j = 0; j < np; j++) {
		const json_t *r = json_array_get(platform, j);
		size_t i = n + j;
		const char *detail = json_string_value(json_object_get(r, "detail"));
		bool ok = json_is_true(json_object_get(r, "ok"));
		owned[2 * i] =
		    xasprintf("%s.%s", d->prof.name, json_string_value(json_object_get(r, "pod")));
		owned[2 * i + 1] =
		    xasprintf("%s: %s", json_string_value(json_object_get(r, "kind")),
			      json_string_value(json_object_get(r, "check")));
		cases[i] = (junit_case){
		    .classname = owned[2 * i],
		    .name = owned[2 * i + 1],
		    .failed = !ok,
		    .detail = detail && *detail ? detail : "failed",
		    .output = ok && json_is_true(json_object_get(r, "warning")) ? detail : NULL};
	}
	cleanup_free char *suite = xasprintf("aegis-deploy validate %s", d->prof.name);
	int rc = junit_write(path, suite, cases, total, time_s, err);
	for (size_t i = 0; i < 2 * total; i++)
		free(owned[i]);
	free(owned);
	free(cases);
	return rc;
}
