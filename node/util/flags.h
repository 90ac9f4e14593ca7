/*
 * flags.h — command-line flags and config.json keys, MindSpore style.
 *
 * One table of flag definitions serves `--name=value`, `--name value`, `--help` and the keys of
 * a config.json object, so a knob has one name everywhere. Durations accept a plain number (in
 * the flag's base unit: ms) or a string with a unit ("250ms", "3s", "5m", "1h").
 */
#ifndef FL_FLAGS_H
#define FL_FLAGS_H

#include "err.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum flag_type {
	FLAG_STR,    /* ptr: char[FLAG_STR_MAX] */
	FLAG_INT,    /* ptr: int64_t */
	FLAG_DOUBLE, /* ptr: double */
	FLAG_BOOL,   /* ptr: int; "true/false/1/0"; a bare --flag means true */
	FLAG_MS,     /* ptr: int64_t milliseconds; number (ms) or string with unit */
} flag_type;

#define FLAG_STR_MAX 256

typedef struct flag_def {
	const char *name; /* "scheduler_port" */
	flag_type type;
	void *ptr;        /* where the value goes; holds the default before parsing */
	const char *help; /* one line */
	int seen;         /* set to 1 when given on the command line (CLI wins over config.json) */
} flag_def;

/* FLAGS_EINVAL (bad value or unknown flag; err says which): node/util/err.h. */
enum {
	FLAGS_HELP = 1,          /* --help/-h was given: usage printed, caller exits 0 */
};

/*
 * Parse argv[1..]. Unknown flags and bad values are errors (err gets "unknown flag --x" or
 * "--server_num: expected an integer, got 'abc'"). On --help prints usage (every flag, its type
 * and its default) to `usage_out` and returns FLAGS_HELP. Positional arguments are errors.
 */
int flags_parse(flag_def *defs, size_t n, int argc, char **argv, const char *prog,
		const char *summary, FILE *usage_out, char *err, size_t errlen);

/*
 * Apply the keys of a JSON object (config.json) to flags not given on the command line. Keys not
 * in `defs` are reported through err (listing the key and `path`) and make it return FLAGS_EINVAL,
 * unless listed in `ignore` (NULL-terminated; e.g. nested objects the caller reads itself).
 */
int flags_apply_json(flag_def *defs, size_t n, const cJSON *obj, const char *path,
		     const char *const *ignore, char *err, size_t errlen);

/* Parse a duration "250ms" / "3s" / "5m" / "1h" / "100us" / plain integer (ms) into ms. */
int flags_parse_ms(const char *s, int64_t *ms);

void flags_usage(FILE *out, const flag_def *defs, size_t n, const char *prog, const char *summary);

#endif
