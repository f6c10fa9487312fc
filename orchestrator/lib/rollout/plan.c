#include "rollout/plan.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define UNPLACED SIZE_MAX

static size_t pod_index(const pod *pods, size_t npods, const char *name)
{
	for (size_t i = 0; i < npods; i++)
		if (strcmp(pods[i].name, name) == 0)
			return i;
	return UNPLACED;
}

/* Every unplaced pod has an unplaced dependency (else it would have been
 * placed), so following the first one from any unplaced pod must come back
 * to a pod already on the path: that loop is the cycle. */
static int cycle_error(const pod *pods, size_t npods, const size_t *tier_of, aerr_t *err)
{
	size_t *path = xcalloc(npods + 1, sizeof *path);
	size_t len = 0, at = 0;
	while (tier_of[at] != UNPLACED)
		at++;
	for (;;) {
		size_t seen = 0;
		while (seen < len && path[seen] != at)
			seen++;
		if (seen < len) {
			char msg[sizeof err->msg] = "";
			size_t used = 0;
			for (size_t i = seen; i < len && used < sizeof msg; i++)
				used += (size_t)snprintf(msg + used, sizeof msg - used, "%s -> ",
							 pods[path[i]].name);
			if (used < sizeof msg)
				snprintf(msg + used, sizeof msg - used, "%s", pods[at].name);
			free(path);
			return aerr_set(
			    err, AEGIS_ECONFIG,
			    "dependency cycle between pods (" POD_DEPENDS_ANNOTATION "): %s", msg);
		}
		path[len++] = at;
		const pod *p = &pods[at];
		for (size_t d = 0; d < p->ndepends; d++) {
			size_t j = pod_index(pods, npods, p->depends[d]);
			if (j != UNPLACED && tier_of[j] == UNPLACED) {
				at = j;
				break;
			}
		}
	}
}

int plan_build(const pod *pods, size_t npods, plan *out, aerr_t *err)
{
	memset(out, 0, sizeof *out);
	out->npods = npods;
	out->tier_of = xcalloc(npods, sizeof *out->tier_of);
	out->external = xcalloc(npods, sizeof *out->external);
	out->nexternal = xcalloc(npods, sizeof *out->nexternal);
	for (size_t i = 0; i < npods; i++) {
		out->tier_of[i] = UNPLACED;
		for (size_t d = 0; d < pods[i].ndepends; d++) {
			const char *dep = pods[i].depends[d];
			if (pod_index(pods, npods, dep) != UNPLACED)
				continue;
			out->external[i] =
			    xrealloc(out->external[i], (out->nexternal[i] + 1) * sizeof(char *));
			out->external[i][out->nexternal[i]++] = xstrdup(dep);
		}
	}

	size_t placed = 0;
	while (placed < npods) {
		plan_tier tier = {xcalloc(npods, sizeof(size_t)), 0};
		for (size_t i = 0; i < npods; i++) {
			if (out->tier_of[i] != UNPLACED)
				continue;
			bool ready = true;
			for (size_t d = 0; d < pods[i].ndepends && ready; d++) {
				size_t j = pod_index(pods, npods, pods[i].depends[d]);
				/* a pod placed in this very tier does not count yet */
				ready = j == UNPLACED || (out->tier_of[j] != UNPLACED &&
							  out->tier_of[j] < out->ntiers);
			}
			if (ready)
				tier.pods[tier.n++] = i;
		}
		if (!tier.n) {
			free(tier.pods);
			cycle_error(pods, npods, out->tier_of, err);
			plan_free(out);
			return -1;
		}
		for (size_t k = 0; k < tier.n; k++)
			out->tier_of[tier.pods[k]] = out->ntiers;
		placed += tier.n;
		out->tiers = xrealloc(out->tiers, (out->ntiers + 1) * sizeof *out->tiers);
		out->tiers[out->ntiers++] = tier;
	}
	return 0;
}

void plan_free(plan *p)
{
	if (!p)
		return;
	for (size_t t = 0; t < p->ntiers; t++)
		free(p->tiers[t].pods);
	free(p->tiers);
	for (size_t i = 0; i < p->npods; i++) {
		for (size_t k = 0; p->nexternal && k < p->nexternal[i]; k++)
			free(p->external[i][k]);
		if (p->external)
			free(p->external[i]);
	}
	free(p->external);
	free(p->nexternal);
	free(p->tier_of);
	memset(p, 0, sizeof *p);
}
