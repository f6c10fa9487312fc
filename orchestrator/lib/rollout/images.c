#include "rollout/images.h"

#include <pthread.h>
#include <string.h>

#include "rollout/pool.h"
#include "rollout/rollout.h"

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

/* --- what ran ---------------------------------------------------------- */

char *images_repository(const char *ref)
{
	const char *at = strchr(ref, '@');
	size_t n = at ? (size_t)(at - ref) : strlen(ref);
	/* a tag is a ':' after the last '/' (before it, a registry's port) */
	const char *slash = memrchr(ref, '/', n);
	const char *colon =
	    memrchr(slash ? slash : ref, ':', n - (size_t)(slash ? slash - ref : 0));
	if (colon)
		n = (size_t)(colon - ref);
	return xstrndup(ref, n);
}

/* Does the RepoDigests entry ENTRY ("repo@sha256:...") name REPO?  Podman
 * records names fully qualified ("docker.io/library/postgres"), so a
 * short name in a manifest ("postgres") matches at a '/' boundary. */
static bool digest_names(const char *entry, const char *repo)
{
	const char *at = strchr(entry, '@');
	if (!at)
		return false;
	size_t n = (size_t)(at - entry), r = strlen(repo);
	if (n == r)
		return strncmp(entry, repo, n) == 0;
	return n > r && entry[n - r - 1] == '/' && strncmp(entry + n - r, repo, r) == 0;
}

json_t *images_record(const char *ref, const json_t *image)
{
	const char *id = json_string_value(json_object_get(image, "Id"));
	cleanup_free char *image_id =
	    id ? xasprintf("%s%s", strncmp(id, "sha256:", 7) == 0 ? "" : "sha256:", id) : NULL;
	cleanup_free char *repo = images_repository(ref);
	const char *digest = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(image, "RepoDigests"), i, v)
	{
		const char *entry = json_string_value(v);
		if (!digest && entry && digest_names(entry, repo))
			digest = entry;
	}
	/* A container created from "repo@sha256:..." ran that digest, even
	 * when Podman found it in an image that no longer has the name (a
	 * re-pushed tag moved away; the RepoDigests are built from names). */
	if (!digest && strstr(ref, "@sha256:"))
		digest = ref;
	/* localhost/ is where Podman files images that came from no registry */
	bool pinned = digest && strncmp(digest, "localhost/", 10) != 0;
	json_t *o = json_pack("{s:s, s:b}", "image", ref, "pinned", pinned);
	json_object_set_new(o, "image_id", image_id ? json_string(image_id) : json_null());
	const char *d = pinned ? digest : image_id;
	json_object_set_new(o, "digest", d ? json_string(d) : json_null());
	return o;
}

char *images_short_digest(const char *digest)
{
	if (!digest)
		return xstrdup("-");
	const char *hex = strstr(digest, "sha256:");
	if (!hex || strlen(hex) < 7 + 12)
		return xstrdup(digest);
	return xstrndup(digest, (size_t)(hex - digest) + 7 + 12);
}

/* The record of container NAME (running REF), or NULL when it does not exist. */
static int container_record(podman *pm, const char *name, json_t **out, aerr_t *err)
{
	*out = NULL;
	json_t *c = NULL, *image = NULL;
	if (podman_inspect_container(pm, name, &c, err) < 0)
		return -1;
	if (!c)
		return 0;
	/* container inspect: "ImageName" is the reference it was created from,
	 * "Image" its image's ID (containers/podman pkg/inspect/inspect.go
	 * @0ccfd7dc, struct ContainerInspectData) */
	const char *ref = json_string_value(json_object_get(c, "ImageName"));
	const char *id = json_string_value(json_object_get(c, "Image"));
	int rc = 0;
	if (id && *id)
		rc = podman_image_inspect(pm, id, &image, err);
	if (rc == 0) {
		if (!image)
			image = json_pack("{s:s}", "Id", id ? id : "");
		*out = images_record(ref ? ref : "", image);
	}
	json_decref(image);
	json_decref(c);
	return rc;
}

int images_running(podman *pm, const deployment *d, json_t **out, aerr_t *err)
{
	*out = json_object();
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		json_t *pod = json_object();
		for (size_t k = 0; k < p->ncontainers; k++) {
			cleanup_free char *name = rollout_container_name(p, &p->containers[k]);
			json_t *rec = NULL;
			if (container_record(pm, name, &rec, err) < 0) {
				json_decref(pod);
				json_decref(*out);
				*out = NULL;
				return aerr_wrap(err, "pod %s, container %s", p->name,
						 p->containers[k].name);
			}
			if (rec)
				json_object_set_new(pod, p->containers[k].name, rec);
		}
		if (json_object_size(pod))
			json_object_set_new(*out, p->name, pod);
		else
			json_decref(pod);
	}
	return 0;
}
