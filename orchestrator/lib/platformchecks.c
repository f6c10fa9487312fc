#include "platformchecks.h"

#include "edge.h"
#include "edgecheck.h"
#include "sealkeys.h"

static void add_row(json_t *rows, const char *kind, const char *pod, const char *check, bool ok,
		    bool warning, const char *detail)
{
	json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:b, s:b, s:s}", "kind", kind, "pod",
					      pod ? pod : "-", "check", check, "ok", ok, "warning",
					      warning, "detail", detail ? detail : ""));
}

int platform_checks_run(podman *pm, const deployment *d, json_t **rows, size_t *failed, aerr_t *err)
{
	*rows = json_array();
	*failed = 0;
	if (deployment_pod_index(d, EDGE_POD) >= 0) {
		edge_check *c = NULL;
		size_t n = 0;
		if (edgecheck_run(d, NULL, &c, &n, err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *what = xasprintf("https://%s", c[i].host);
			add_row(*rows, "edge-route", c[i].pod, what, c[i].ok, c[i].warning,
				c[i].detail);
			*failed += !c[i].ok;
		}
		edge_checks_free(c, n);
	}
	if (sealkeys_needed(d)) {
		sealkey_check *c = NULL;
		size_t n = 0;
		char want[96];
		if (sealkeys_check(pm, d, want, &c, &n, err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *what =
			    xasprintf("SEAL key %s", c[i].path ? c[i].path : "-");
			cleanup_free char *detail =
			    c[i].ok ? xasprintf("fingerprint %s", c[i].fingerprint)
				    : xstrdup(c[i].detail);
			add_row(*rows, "seal-key", c[i].pod, what, c[i].ok, false, detail);
			*failed += !c[i].ok;
		}
		sealkey_checks_free(c, n);
	}
	return 0;
fail:
	json_decref(*rows);
	*rows = NULL;
	return -1;
}
