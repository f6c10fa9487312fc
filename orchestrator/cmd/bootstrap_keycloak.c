/* aegis-deploy bootstrap-keycloak: apply kube/iam/realm.yaml to Keycloak. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "lib/bootstrap/bootstrap.h"
#include "lib/bootstrap/keycloak.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy bootstrap-keycloak [--cacert FILE] [--timeout SECONDS]\n"
    "                                       [--show-passwords]\n"
    "\n"
    "Apply kube/iam/realm.yaml (realms, realm roles, clients, users and their\n"
    "roles) to Keycloak (KEYCLOAK_URL) as the master realm's administrator\n"
    "(KEYCLOAK_ADMIN, KEYCLOAK_ADMIN_PASSWORD).  Every item is read first and\n"
    "created or updated only where a declared field differs; nothing is deleted,\n"
    "and a second run writes nothing.  Client secrets that other components need\n"
    "(secret_env in the declaration, e.g. OIDC_CLIENT_SECRET for OpenBao) are read\n"
    "back into .env (nothing else in it changes) and\n"
    "generated/keycloak-clients.env (0600).  Users declared without a password get\n"
    "a generated one, saved to generated/keycloak-passwords.json (0600).\n"
    "\n"
    "  --cacert FILE        CA certificate for an https KEYCLOAK_URL (default\n"
    "                       AEGIS_CACERT, else the system's CAs)\n"
    "  --timeout SECONDS    how long Keycloak may take to answer (default 60)\n"
    "  --show-passwords     also print the generated initial passwords\n"
    "  --json               what was created, changed, left unchanged (no secrets\n"
    "                       unless --show-passwords)\n"
    "\n";

COMMAND(bootstrap_keycloak)
{
	bootstrap_opts bo = {.trace = cli_trace, .trace_ctx = cli};
	bool show = false;
	const struct opt opts[] = {
	    {"cacert", 0, OPT_STRING, &bo.cacert},
	    {"timeout", 0, OPT_SECONDS, &bo.wait_s},
	    {"show-passwords", 0, OPT_BOOL, &show},
	    OPT_END,
	};
	int st = opts_parse("bootstrap-keycloak", help, opts, argc, argv, 0, NULL);
	if (st >= 0)
		return st;

	config cfg;
	if ((st = cli_config(cli, &cfg)) >= 0)
		return st;
	aerr_t err = {0};
	bootstrap_result res;
	int rc = bootstrap_keycloak(&cfg, &bo, &res, &err);
	if (rc == 0) {
		json_t *extra = json_object();
		if (show && cli->json)
			json_object_set(extra, "passwords", res.passwords);
		bootstrap_print(cli, "Keycloak", config_get(&cfg, "KEYCLOAK_URL"), &res, extra);
		json_decref(extra);
		const char *realm;
		json_t *users;
		if (!cli->json && json_object_size(res.passwords) > 0) {
			if (!show)
				printf("initial passwords: generated/%s (0600; --show-passwords "
				       "prints them)\n",
				       KEYCLOAK_PASSWORDS_FILE);
			json_object_foreach(res.passwords, realm, users)
			{
				const char *user;
				json_t *pw;
				json_object_foreach(users, user, pw)
				{
					if (show)
						printf("password of %s in realm %s: %s\n", user,
						       realm, json_string_value(pw));
				}
			}
		}
	}
	bootstrap_result_free(&res);
	config_free(&cfg);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
