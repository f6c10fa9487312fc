#include "podman/podsecret.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#include "util/wipe.h"

char *podsecret_content(const rendered *m, size_t *len)
{
	*len = 0;
	if (!m->nsecrets)
		return NULL;
	json_t *data = json_object();
	for (size_t i = 0; i < m->nsecrets; i++) {
		const render_secret *s = &m->secrets[i];
		size_t n = 4 * ((s->len + 2) / 3);
		char *b64 = xmalloc(n + 1);
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)s->value, (int)s->len);
		json_object_set_new(data, s->key, json_stringn(b64, n));
		wipe_free_len(b64, n + 1);
	}
	char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		abort();
	wipe_json_decref(data);
	*len = strlen(text);
	return text;
}

int podsecret_put(podman *pm, const char *pod, const char *content, size_t len, aerr_t *err)
{
	cleanup_free char *name = render_pod_secret_name(pod);
	if (podman_secret_remove(pm, name, err) < 0)
		return aerr_wrap(err, "pod %s: secret %s", pod, name);
	if (content && podman_secret_create(pm, name, content, len, err) < 0)
		return aerr_wrap(err, "pod %s: secret %s", pod, name);
	return 0;
}

int podsecret_store(podman *pm, const char *pod, const rendered *m, aerr_t *err)
{
	size_t len;
	char *content = podsecret_content(m, &len);
	int rc = podsecret_put(pm, pod, content, len, err);
	wipe_free_len(content, len);
	return rc;
}

int podsecret_store_all(podman *pm, const deployment *d, int only, aerr_t *err)
{
	for (size_t i = 0; i < d->npods; i++)
		if ((only < 0 || (size_t)only == i) &&
		    podsecret_store(pm, d->prof.pods[i], &d->manifests[i], err) < 0)
			return -1;
	return 0;
}

int podsecret_list(podman *pm, char ***names, size_t *n, aerr_t *err)
{
	return podman_list_secrets(pm, RENDER_POD_SECRET_PREFIX, names, n, err);
}
