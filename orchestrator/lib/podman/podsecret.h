/* The Podman secret of each pod: the secret values its manifest's
 * secretKeyRefs name (render.h, render_opts.secret_name), so that no
 * manifest, in memory or on disk, and no unit file holds a secret value.
 *
 * Podman 4.3's kube play resolves secretKeyRef {name, key} by reading the
 * Podman secret NAME as a JSON object of base64 values (the `data` of a Kube
 * Secret; a whole Kube Secret document is read only from Podman 4.4 on).
 * One secret per pod (aegis-secrets-POD): deploying one profile never takes
 * away a value that a pod of another profile, or its systemd unit, needs. */
#ifndef AEGIS_PODSECRET_H
#define AEGIS_PODSECRET_H

#include <stddef.h>

#include "config/deployment.h"
#include "podman/podman.h"
#include "render/render.h"

/* The secret's content for M: {"KEY": "base64 of the value", ...}
 * (newly allocated; wipe it, wipe_free_len(*OUT, *LEN)).  NULL when M
 * has no secret values. */
char *podsecret_content(const rendered *m, size_t *len);

/* Make pod POD's Podman secret hold exactly M's secret values: removed and
 * created again (Podman 4.3 cannot replace one), or only removed when M has
 * none.  Containers already created keep the values they were given. */
int podsecret_store(podman *pm, const char *pod, const rendered *m, aerr_t *err);
/* The same with the content already built (podsecret_content; NULL: none). */
int podsecret_put(podman *pm, const char *pod, const char *content, size_t len, aerr_t *err);
/* The same for every pod of D (only pod ONLY when >= 0). */
int podsecret_store_all(podman *pm, const deployment *d, int only, aerr_t *err);

/* The AEGIS pod secrets present (names newly allocated), for clean. */
int podsecret_list(podman *pm, char ***names, size_t *n, aerr_t *err);

#endif
