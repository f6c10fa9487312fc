#include "rollout/logs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rollout/rollout.h"
#include "util/strbuf.h"

int logs_targets(const deployment *d, const char *pod_name, const char *container,
		 logs_target **out, size_t *n, aerr_t *err)
{
	*out = NULL;
	*n = 0;
	int idx = deployment_find_pod(d, pod_name, err);
	if (idx < 0)
		return -1;
	const pod *p = &d->pods[idx];
	logs_target *t = xcalloc(p->ncontainers ? p->ncontainers : 1, sizeof *t);
	size_t k = 0;
	for (size_t i = 0; i < p->ncontainers; i++) {
		const struct container *c = &p->containers[i];
		if (container && strcmp(c->name, container) != 0)
			continue;
		t[k].container = xstrdup(c->name);
		t[k++].podman = rollout_container_name(p, c);
	}
	if (container && k == 0) {
		strbuf names = STRBUF_INIT;
		for (size_t i = 0; i < p->ncontainers; i++)
			sb_addf(&names, "%s%s", i ? ", " : "", p->containers[i].name);
		aerr_set(err, AEGIS_ECONFIG, "pod %s has no container '%s'; its containers: %s",
			 p->name, container, names.s ? names.s : "(none)");
		sb_release(&names);
		free(t);
		return -1;
	}
	*out = t;
	*n = k;
	return 0;
}

void logs_targets_free(logs_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].container);
		free(t[i].podman);
	}
	free(t);
}

struct follower {
	const char *socket;
	const logs_target *target;
	int tail, fd;
	pthread_t thread;
	int rc;
	aerr_t err;
};

/* One connection per thread: a podman handle is not shared between threads. */
static void *follow(void *arg)
{
	struct follower *f = arg;
	podman *pm = NULL;
	f->rc = podman_open(&pm, f->socket, &f->err);
	if (f->rc == 0)
		f->rc = podman_logs(pm, f->target->podman, f->tail, true, f->fd, NULL, &f->err);
	if (f->rc < 0)
		aerr_wrap(&f->err, "logs of %s", f->target->container);
	podman_close(pm);
	return NULL;
}

static int follow_all(podman *pm, const logs_target *t, size_t n, int tail, int fd, aerr_t *err)
{
	struct follower *fs = xcalloc(n ? n : 1, sizeof *fs);
	size_t started = 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		fs[i] = (struct follower){
		    .socket = podman_socket(pm), .target = &t[i], .tail = tail, .fd = fd};
		if (pthread_create(&fs[i].thread, NULL, follow, &fs[i]) != 0) {
			rc = aerr_set(err, AEGIS_EFAIL, "cannot start a thread for the logs of %s",
				      t[i].container);
			break;
		}
		started++;
	}
	for (size_t i = 0; i < started; i++) {
		pthread_join(fs[i].thread, NULL);
		if (fs[i].rc < 0 && rc == 0) {
			*err = fs[i].err;
			rc = -1;
		}
	}
	free(fs);
	return rc;
}

int logs_show(podman *pm, const logs_target *t, size_t n, int tail, bool follow, bool headers,
	      int fd, aerr_t *err)
{
	if (follow)
		return follow_all(pm, t, n, tail, fd, err);
	for (size_t i = 0; i < n; i++) {
		if (headers) {
			cleanup_free char *h = xasprintf("==> %s <==\n", t[i].container);
			if (write(fd, h, strlen(h)) < 0)
				return aerr_sys(err, AEGIS_EFAIL, errno, "write");
		}
		if (podman_logs(pm, t[i].podman, tail, false, fd, NULL, err) < 0)
			return -1;
	}
	return 0;
}
