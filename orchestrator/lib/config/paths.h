/* Where the product's data (profiles/, kube/) lives. */
#ifndef AEGIS_PATHS_H
#define AEGIS_PATHS_H

#include <stddef.h>

#include "util/error.h"

/* Where `make install` puts kube/ and profiles/, relative to PREFIX. */
#define PATHS_SHARE_SUBDIR "share/aegis-deploy"

/* AEGIS_ROOT from the process environment if set; otherwise the checkout
 * the running binary belongs to (the nearest directory above it holding
 * profiles/ and kube/variables.yaml); otherwise the installed tree
 * <binary dir>/../share/aegis-deploy; otherwise the current directory if it
 * holds profiles/.  */
int paths_default_root(const char *argv0, char *buf, size_t size, aerr_t *err);

#endif
