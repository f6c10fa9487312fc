/* Desired state, declared in data files (kube/secrets/bootstrap.yaml,
 * kube/iam/realm.yaml) and applied to a service by reading its state first
 * and writing only what differs.
 *
 *   desired_load     the file, its ${VAR}s filled from the configuration (as
 *                    pod templates are, !file included), as a jansson value
 *   desired_matches  does the service's current state already say everything
 *                    the declaration says?
 *   desired_note     the record of what an apply did, item by item */
#ifndef AEGIS_DESIRED_H
#define AEGIS_DESIRED_H

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"

/* Load PATH rendered with CFG.  Plain YAML scalars become JSON booleans,
 * integers, reals and nulls as YAML 1.2's core schema reads them; quoted
 * ones (and every substituted value) stay strings. */
int desired_load(const char *path, const config *cfg, json_t **out, aerr_t *err);

/* True when ACTUAL holds DESIRED: every key of a desired object matches in
 * the actual one (keys it does not declare are ignored); arrays match as
 * sets of the same size; scalars match by value, a string and a number or
 * boolean of the same text included ("3600" and 3600; Keycloak keeps
 * attributes as strings). */
bool desired_matches(const json_t *desired, const json_t *actual);

/* Outcomes of one item. */
#define DESIRED_CREATED "created"
#define DESIRED_CHANGED "changed"
#define DESIRED_UNCHANGED "unchanged"
#define DESIRED_SKIPPED "skipped"

/* Append {"item": ITEM, "result": RESULT[, "detail": DETAIL]} to LOG (a JSON
 * array).  Items name things, never secret values. */
void desired_note(json_t *log, const char *result, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* How many entries of LOG have RESULT. */
size_t desired_count(const json_t *log, const char *result);

/* String member KEY of object O, or NULL. */
const char *desired_str(const json_t *o, const char *key);

#endif
