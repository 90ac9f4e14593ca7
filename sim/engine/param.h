/*
 * param.h — scenario parameter overrides: `--param key.path=value` (sim run) and
 * `--param key.path=v1,v2,...` (sim sweep's grid).
 *
 * A path names a key of the scenario file in dots, with [N] for an array element:
 * cluster.server_num, cluster.config.start_fl_job_threshold, fleet.devices, events[2].at.
 * Overrides are applied to the file's parsed JSON before the scenario parser runs, so every
 * check of the format (docs/scenarios.md) holds for the overridden value too. A path must exist:
 * in the file, among the keys the format defines (a default the file leaves out), or, under
 * cluster.config, among the server's config keys (fl-server --help); anything else is an error
 * that says which part of the path is missing and what is there.
 *
 * A value is JSON when it reads as JSON (100, 0.5, true, "x") and a string otherwise (30s,
 * synthetic:1000); a key that holds a string in the file keeps a string.
 */
#ifndef FL_PARAM_H
#define FL_PARAM_H

#include "../scenario/scenario.h"

#include <stddef.h>

#define PARAM_MAX 8         /* --param options in one sweep */
#define PARAM_MAX_VALUES 64 /* values of one --param */
#define PARAM_PATH_MAX 128
#define PARAM_VALUE_MAX 64

#include "../../node/util/err.h" /* PARAM_EINVAL, PARAM_ENOMEM, PARAM_EIO */

typedef struct param_axis {
	char path[PARAM_PATH_MAX];
	size_t n;
	char values[PARAM_MAX_VALUES][PARAM_VALUE_MAX];
} param_axis;

/* Parse "path=v1,v2,..." into *ax. 0, or PARAM_EINVAL with err ("--param X: why"). */
int param_axis_parse(const char *arg, param_axis *ax, char *err, size_t errlen);

/* "path=value" for one setting (sim run --param): the same, and exactly one value. */
int param_set_parse(const char *arg, param_axis *ax, char *err, size_t errlen);

/*
 * Load the scenario file with the settings applied in order (set[i] is the path and value
 * paths[i] = values[i]). Also checks cluster.config against the server's own config rules, so
 * a bad value fails here and not when the cluster is built. 0 and a new *out (scenario_free),
 * or SC_EINVAL / SC_EIO / SC_ENOMEM with err (one line naming the file and the path).
 */
int param_load(const char *file, const char *const *paths, const char *const *values, size_t n,
	       scenario **out, char *err, size_t errlen);

/* The whole file, NUL-terminated (*len bytes before the NUL), owned by the caller (free); NULL
 * with err ("PATH: why") when it cannot be read or is larger than max bytes. */
char *param_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif
