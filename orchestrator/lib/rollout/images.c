#include "rollout/images.h"

#include <pthread.h>
#include <string.h>

#include "rollout/pool.h"

/* Images checked at once: as with the pods created ahead (ROLLOUT_CREATORS,
 * schedule.h), more than a few requests together on a small machine only
 * slow each other. */
#define IMAGE_WORKERS 4

/* The images of a deployment, each checked (and pulled when missing) by a
 * small pool of threads, one API connection each. */
struct image_check {
	const char **refs;
	const char **where; /* "pod P, container C" of each */
	size_t n, next;
	const char *socket;
	void (*progress)(void *, const char *);
	void *ctx;
	pthread_mutex_t lock; /* NEXT, the progress callback, the first error */
	int rc;
	aerr_t err;
};

static void image_progress(void *arg, const char *line)
{
	struct image_check *ic = arg;
	pthread_mutex_lock(&ic->lock);
	ic->progress(ic->ctx, line);
	pthread_mutex_unlock(&ic->lock);
}

static void *image_worker(void *arg)
{
	struct image_check *ic = arg;
	podman *pm = NULL;
	aerr_t err = {0};
	int rc = podman_open(&pm, ic->socket, &err);
	for (;;) {
		pthread_mutex_lock(&ic->lock);
		size_t k = ic->rc == 0 && rc == 0 ? ic->next++ : ic->n;
		pthread_mutex_unlock(&ic->lock);
		if (k >= ic->n)
			break;
		bool exists = false;
		rc = podman_image_exists(pm, ic->refs[k], &exists, &err);
		if (rc == 0 && !exists)
			rc = podman_image_pull(pm, ic->refs[k],
					       ic->progress ? image_progress : NULL, ic, &err);
		if (rc < 0)
			aerr_wrap(&err, "%s", ic->where[k]);
	}
	pthread_mutex_lock(&ic->lock);
	if (rc < 0 && ic->rc == 0) {
		ic->rc = -1;
		ic->err = err;
	}
	pthread_mutex_unlock(&ic->lock);
	podman_close(pm);
	return NULL;
}

static int check_images(podman *pm, const deployment *d,
			void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err)
{
	struct image_check ic = {
	    .socket = podman_socket(pm), .progress = pull_progress, .ctx = ctx};
	size_t max = 0;
	for (size_t i = 0; i < d->npods; i++)
		max += d->pods[i].ncontainers;
	ic.refs = xcalloc(max ? max : 1, sizeof *ic.refs);
	char **where = xcalloc(max ? max : 1, sizeof *where);
	ic.where = (const char **)where;
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		for (size_t c = 0; c < p->ncontainers; c++) {
			const char *image = p->containers[c].image;
			bool seen = false;
			for (size_t k = 0; k < ic.n && !seen; k++)
				seen = strcmp(ic.refs[k], image) == 0;
			if (seen)
				continue;
			where[ic.n] =
			    xasprintf("pod %s, container %s", p->name, p->containers[c].name);
			ic.refs[ic.n++] = image;
		}
	}
	pthread_mutex_init(&ic.lock, NULL);
	pool workers = {0};
	if (ic.n &&
	    !pool_start(&workers, ic.n < IMAGE_WORKERS ? ic.n : IMAGE_WORKERS, image_worker, &ic))
		image_worker(&ic); /* no thread could start: one after another, here */
	pool_join(&workers);
	pthread_mutex_destroy(&ic.lock);
	if (ic.rc < 0)
		*err = ic.err;
	for (size_t k = 0; k < ic.n; k++)
		free(where[k]);
	free(where);
	free(ic.refs);
	return ic.rc;
}

int rollout_prepare(podman *pm, const deployment *d, const char *network,
		    void (*pull_progress)(void *, const char *), void *ctx, aerr_t *err)
{
	bool exists = false;
	json_t *net = NULL;
	if (podman_network_inspect(pm, network, &net, err) < 0)
		return -1;
	if (!net && podman_network_create(pm, network, err) < 0)
		return -1;
	if (net) {
		bool dns = json_is_true(json_object_get(net, "dns_enabled"));
		json_decref(net);
		if (!dns)
			return aerr_set(
			    err, AEGIS_ECONFIG,
			    "network %s exists without DNS, so pods could not reach each "
			    "other by name; remove it (aegis-deploy clean, or podman "
			    "network rm %s) and deploy again",
			    network, network);
	}
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		for (size_t v = 0; v < p->nvolumes; v++) {
			if (podman_volume_exists(pm, p->volumes[v], &exists, err) < 0)
				return -1;
			if (!exists && podman_volume_create(pm, p->volumes[v], err) < 0)
				return -1;
		}
	}
	return check_images(pm, d, pull_progress, ctx, err);
}
