/* The pod catalog: every pod that has a template, ROOT/kube/<pod>/pod.yaml.
 * Adding a pod is adding a directory; no list of pods lives in C. */
#ifndef AEGIS_CATALOG_H
#define AEGIS_CATALOG_H

#include <stddef.h>

#include "util/error.h"

/* Names of the pods that have a template, sorted. */
int catalog_list(const char *root, char ***names, size_t *n, aerr_t *err);
/* ROOT/kube/POD/pod.yaml (newly allocated). */
char *catalog_template(const char *root, const char *pod);

#endif
