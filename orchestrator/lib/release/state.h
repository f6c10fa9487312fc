/* The state directory: what the tool keeps between runs (the lock of the
 * mutating commands; later the release history).  AEGIS_STATE_DIR, whose
 * schema default is $XDG_STATE_HOME/aegis-deploy for a user and
 * /var/lib/aegis-deploy for root. */
#ifndef AEGIS_STATE_H
#define AEGIS_STATE_H

#include "config/config.h"

/* Resolve AEGIS_STATE_DIR from CFG and create it (0700; an existing one
 * must be a real directory and is tightened to 0700).  *DIR is newly
 * allocated.  Errors name the variable and the path (status 2). */
int state_dir(const config *cfg, char **dir, aerr_t *err);

#endif
