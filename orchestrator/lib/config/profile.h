/* Profiles (profiles/<name>.yaml) select which pods to deploy; they carry no
 * ordering, which lives with the pods (see pod.h). */
#ifndef AEGIS_PROFILE_H
#define AEGIS_PROFILE_H

#include <stddef.h>

#include "config/catalog.h"
#include "util/error.h"

typedef struct profile {
	char *name;
	char *path;
	char *description;
	char **pods;
	size_t npods;
} profile;

/* Load ROOT/profiles/NAME.yaml.  Unknown profile: error listing the available
 * ones.  A pod without a template under ROOT/kube/: error naming the file. */
int profile_load(const char *root, const char *name, profile *out, aerr_t *err);
/* Names of the available profiles, sorted (free with strv_free). */
int profile_list(const char *root, char ***names, size_t *n, aerr_t *err);
void profile_free(profile *p);

void strv_free(char **v, size_t n);

#endif
