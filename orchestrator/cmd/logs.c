/* aegis-deploy logs POD: a pod's container logs. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/rollout.h"
#include "report.h"

static const char help[] =
	"Usage: aegis-deploy logs [--profile P] [--container NAME] [--tail N] [--follow] POD\n"
	"\n"
	"Show the logs of POD's containers (stdout and stderr).\n"
	"\n"
	"  --container NAME   only this container (default: all of the pod's)\n"
	"  --tail N           only the last N lines of each container (default all)\n"
	"  -f, --follow       keep streaming until the containers stop (Ctrl-C to end)\n"
	"\n";

struct follower {
	const char *socket;
	char *name;
	int tail;
	pthread_t thread;
};

static void *follow(void *arg)
{
	struct follower *f = arg;
	podman *pm = NULL;
	aerr_t err = {0};
	if (podman_open(&pm, f->socket, &err) == 0 &&
	    podman_logs(pm, f->name, f->tail, true, STDOUT_FILENO, NULL, &err) == 0) {
		podman_close(pm);
		return NULL;
	}
	fprintf(stderr, "aegis-deploy: logs of %s: %s\n", f->name, err.msg);
	podman_close(pm);
	return NULL;
}

COMMAND(logs)
{
	const char *only = NULL, *podname = NULL;
	int tail = -1;
	bool following = false;
	static const struct option opts[] = {
		{"container", required_argument, NULL, 'c'},
		{"tail", required_argument, NULL, 'n'},
		{"follow", no_argument, NULL, 'f'},
		{"pod", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hfn:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': only = optarg; break;
		case 'p': podname = optarg; break;
		case 'f': following = true; break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0)
				return cli_usage("logs", "--tail needs a number of lines");
			tail = (int)v;
			break;
		}
		case 'h': printf("%s%s", help, cli_global_help); return 0;
		default: return cli_usage("logs", "invalid option");
		}
	}
	if (!podname && optind < argc)
		podname = argv[optind++];
	if (optind < argc)
		return cli_usage("logs", "unexpected argument '%s'", argv[optind]);
	if (!podname)
		return cli_usage("logs", "which pod? (aegis-deploy logs POD)");

	aerr_t err = {0};
	deployment d;
	if (deployment_load(&d, cli->root, cli->env_path, cli->profile, DEPLOYMENT_LENIENT, &err) <
	    0)
		return cli_fail(cli, &err);
	int idx = deployment_pod_index(&d, podname);
	int rc = 0;
	if (idx < 0) {
		char list[1024] = "";
		for (size_t i = 0; i < d.npods; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 i ? ", " : "", d.pods[i].name);
		rc = aerr_set(&err, AEGIS_ECONFIG, "unknown pod '%s' in profile %s; valid: %s",
			      podname, d.prof.name, list);
	}
	const pod *p = idx >= 0 ? &d.pods[idx] : NULL;
	if (rc == 0 && only) {
		bool found = false;
		for (size_t i = 0; i < p->ncontainers; i++)
			found |= strcmp(p->containers[i].name, only) == 0;
		if (!found)
			rc = aerr_set(&err, AEGIS_ECONFIG, "pod %s has no container '%s'", p->name,
				      only);
	}
	podman *pm = NULL;
	if (rc == 0)
		rc = report_open_podman(cli, &d.cfg, &pm, &err);
	struct follower *fs = p ? xcalloc(p->ncontainers, sizeof *fs) : NULL;
	size_t nf = 0;
	for (size_t i = 0; rc == 0 && i < p->ncontainers; i++) {
		const container *ct = &p->containers[i];
		if (only && strcmp(ct->name, only) != 0)
			continue;
		char *name = rollout_container_name(p, ct);
		if (following) {
			fs[nf] = (struct follower){podman_socket(pm), name, tail, 0};
			if (pthread_create(&fs[nf].thread, NULL, follow, &fs[nf]) == 0)
				nf++;
			else
				free(name);
			continue;
		}
		char *out = NULL;
		rc = podman_logs(pm, name, tail, false, -1, &out, &err);
		if (rc == 0) {
			if (!only)
				printf("==> %s <==\n", ct->name);
			fputs(out ? out : "", stdout);
		}
		free(out);
		free(name);
	}
	for (size_t i = 0; i < nf; i++) {
		pthread_join(fs[i].thread, NULL);
		free(fs[i].name);
	}
	free(fs);
	podman_close(pm);
	deployment_free(&d);
	return rc < 0 ? cli_fail(cli, &err) : 0;
}
