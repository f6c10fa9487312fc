/* aegis-deploy doctor: can this host run the platform, for this user? */
#include <stdio.h>

#include "cli.h"
#include "lib/host/doctor.h"
#include "options.h"

static const char help[] =
    "Usage: aegis-deploy doctor [--profile P] [--json]\n"
    "\n"
    "Check, rootless or rootful, what deploying the profile needs: Podman and its\n"
    "version, the OCI runtime, cgroups, the user's subordinate ids, /dev/net/tun,\n"
    "slirp4netns or pasta, lingering, the API socket (CONTAINER_SOCK), the\n"
    "profile's host ports (free, or held by its own pods), its images and the\n"
    ".env.  One line per finding: ok, warning or error; every error with its fix.\n"
    "Exit 0 when nothing is an error, 1 otherwise.\n"
    "\n";

COMMAND(doctor)
{
	static const struct opt opts[] = {OPT_END};
	int rc = opts_parse("doctor", help, opts, argc, argv, 0, NULL);
	if (rc >= 0)
		return rc;
	aerr_t err = {0};
	doctor_host h;
	if (doctor_host_default(&h, &err) < 0)
		return cli_fail(cli, &err);
	doctor_report r = {0};
	doctor_run(&h, cli->root, cli->env_path, cli->profile, &r);
	if (cli->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < r.n; i++) {
			const doctor_finding *f = &r.items[i];
			json_t *o = json_pack("{s:s, s:s, s:s}", "check", f->check, "level",
					      doctor_level_name(f->level), "detail", f->detail);
			if (f->fix)
				json_object_set_new(o, "fix", json_string(f->fix));
			json_array_append_new(a, o);
		}
		json_t *o = json_pack("{s:o, s:b}", "findings", a, "ok", !doctor_has_errors(&r));
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		static const char *const tag[] = {"OK     ", "WARNING", "ERROR  "};
		for (size_t i = 0; i < r.n; i++) {
			const doctor_finding *f = &r.items[i];
			if (f->fix && f->level == DOCTOR_ERROR)
				printf("%s %s: %s; fix: %s\n", tag[f->level], f->check, f->detail,
				       f->fix);
			else
				printf("%s %s: %s\n", tag[f->level], f->check, f->detail);
		}
	}
	rc = doctor_has_errors(&r) ? AEGIS_EFAIL : 0;
	doctor_report_free(&r);
	doctor_host_free(&h);
	return rc;
}
