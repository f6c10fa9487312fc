/* aegis-deploy bootstrap-secrets: initialise, unseal and configure OpenBao. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "lib/bootstrap/bootstrap.h"
#include "lib/bootstrap/desired.h"
#include "lib/config/profile.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy bootstrap-secrets [--cacert FILE] [--key-shares N]\n"
    "                                      [--key-threshold N] [--timeout SECONDS]\n"
    "\n"
    "Bring OpenBao (OPENBAO_ADDR) to the state declared in\n"
    "kube/secrets/bootstrap.yaml.  Not initialised: sys/init, its answer (unseal\n"
    "keys, root token) saved to generated/openbao-init.json (0600) before\n"
    "anything else; sealed: unsealed with the saved keys.  Then the auth methods,\n"
    "secrets engines, policies, the AppRole role and the tenants are read and\n"
    "written only where they differ.  The AppRole credentials are kept while they\n"
    "still log in, otherwise renewed, and stored in .env (OPENBAO_ROLE_ID,\n"
    "OPENBAO_SECRET_ID; nothing else in it changes) and\n"
    "generated/openbao-approle.env (0600).  With a profile that has the iam pod,\n"
    "the OIDC login through Keycloak is configured too once bootstrap-keycloak\n"
    "has written OIDC_CLIENT_SECRET (until then that step is skipped).\n"
    "Running it again changes nothing that is already right.\n"
    "\n"
    "  --cacert FILE        CA certificate for an https OPENBAO_ADDR (default\n"
    "                       AEGIS_CACERT, else the system's CAs)\n"
    "  --key-shares N       unseal key shares when initialising (default from the\n"
    "                       declaration: 1)\n"
    "  --key-threshold N    key shares needed to unseal (default from the\n"
    "                       declaration: 1); more than one share needs a\n"
    "                       threshold of 2 or more, as OpenBao requires: a split\n"
    "                       it would refuse is refused before anything is done\n"
    "  --timeout SECONDS    how long OpenBao may take to answer (default 60)\n"
    "  --json               what was created, changed, left unchanged (no secrets)\n"
    "\n";

COMMAND(bootstrap_secrets)
{
	bootstrap_opts bo = {.trace = cli_trace, .trace_ctx = cli};
	const struct opt opts[] = {
	    {"cacert", 0, OPT_STRING, &bo.cacert},
	    {"key-shares", 0, OPT_COUNT, &bo.shares, 1, 255},
	    {"key-threshold", 0, OPT_COUNT, &bo.threshold, 1, 255},
	    {"timeout", 0, OPT_SECONDS, &bo.wait_s},
	    OPT_END,
	};
	int st = opts_parse("bootstrap-secrets", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;

	config cfg;
	if ((st = cli_config(cli, &cfg)) >= 0)
		return st;
	aerr_t err = {0};
	profile prof;
	if (profile_load(cli->root, cli->profile, &prof, &err) < 0) {
		config_free(&cfg);
		return cli_fail(cli, &err);
	}
	unsigned steps = OPENBAO_CORE;
	for (size_t i = 0; i < prof.npods; i++)
		if (strcmp(prof.pods[i], BOOTSTRAP_IAM_POD) == 0)
			steps |= OPENBAO_OIDC;
	profile_free(&prof);
	bootstrap_result res;
	int rc = bootstrap_secrets(&cfg, &bo, steps, &res, &err);
	if (rc == 0) {
		json_t *extra = json_pack("{s:b}", "oidc_pending", res.oidc_pending);
		bootstrap_print(cli, "OpenBao", config_get(&cfg, "OPENBAO_ADDR"), &res, extra);
		json_decref(extra);
	}
	bootstrap_result_free(&res);
	config_free(&cfg);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
