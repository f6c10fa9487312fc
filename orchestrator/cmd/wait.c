/* aegis-deploy wait --pod NAME: block until the pod is ready (systemd's
 * ExecStartPost, CI). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/rollout/wait.h"
#include "lib/util/strbuf.h"
#include "options.h"
#include "report.h"

static const char help[] =
    "Usage: aegis-deploy wait --pod NAME [--timeout SECONDS] [--profile P]\n"
    "\n"
    "Wait until every container of the running pod NAME passes its readiness\n"
    "probe (the probes deploy uses), then exit 0.  Nothing is started or\n"
    "replaced.  pod-secrets is ready only once OpenBao is initialised and\n"
    "unsealed: a restart leaves it sealed, and it is unsealed here with the keys\n"
    "of openbao-init.json (in AEGIS_GENERATED_DIR) before wait returns, so that\n"
    "no dependent starts before.  Not ready in time: exit 1 with the diagnostic\n"
    "deploy prints (container, probe, last error, last log lines).\n"
    "\n"
    "  --pod NAME          the pod (core, database, ...): one that is deployed, or\n"
    "                      with --profile one of that profile\n"
    "  --timeout SECONDS   give up after this long (default 300)\n"
    "\n";

COMMAND(wait)
{
	const char *name = NULL;
	int timeout_s = 300;
	const struct opt opts[] = {
	    {"pod", 0, OPT_STRING, &name},
	    {"timeout", 0, OPT_SECONDS, &timeout_s},
	    OPT_END,
	};
	int done = opts_parse("wait", help, opts, argc, argv, 0, NULL);
	if (done >= 0)
		return done;
	if (!name)
		return cli_usage("wait", "which pod? (aegis-deploy wait --pod NAME)");

	aerr_t err = {0};
	deployment d;
	/* the probes need no secrets */
	if (cli_load(cli, true, DEPLOYMENT_LENIENT, &d, NULL, &err) < 0)
		return cli_fail(cli, &err);
	int idx = deployment_pod_index(&d, name);
	if (idx < 0) {
		strbuf valid = STRBUF_INIT;
		for (size_t i = 0; i < d.npods; i++)
			sb_addf(&valid, "%s%s", i ? ", " : "", d.pods[i].name);
		aerr_set(&err, AEGIS_ECONFIG, "unknown pod '%s' in profile %s; valid: %s", name,
			 d.prof.name, valid.s ? valid.s : "(none)");
		sb_release(&valid);
		deployment_free(&d);
		return cli_fail(cli, &err);
	}
	podman *pm = NULL;
	rollout_pod st = {0};
	int rc = cli_open_podman(cli, &d.cfg, &pm, &err);
	if (rc == 0) {
		cli_info(cli, "waiting for pod %s (%s), at most %d s", d.pods[idx].name,
			 d.pods[idx].pod_name, timeout_s);
		rc = wait_pod_ready(pm, &d, (size_t)idx, timeout_s, &st, &err);
		if (rc == 0)
			cli_info(cli, "pod %s ready after %.1f s", d.pods[idx].name, st.ready);
		else
			report_failure(&d, (size_t)idx, &st);
	}
	if (cli->json && st.state != ROLL_WAITING) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "pod", d.pods[idx].name, "pod_name",
				      d.pods[idx].pod_name, "result", rollout_state_name(st.state));
		if (st.ready >= 0)
			json_object_set_new(o, "ready_s", json_real(st.ready));
		if (st.error)
			json_object_set_new(o, "error", json_string(st.error));
		report_print_json(o);
		json_decref(o);
	}
	int status = rc < 0 ? cli_fail(cli, &err) : 0;
	rollout_pod_free(&st);
	if (pm)
		podman_close(pm);
	deployment_free(&d);
	return status;
}
