/*
 * rule_json.h — netem rules to and from JSON (the proxy's control API, scenario files, --rule).
 *
 * A rule object (every key optional; unknown keys are an error that names the key):
 *
 *   {"from": "fleet", "to": "server/2",        patterns, see link.h (default "*")
 *    "base": false, "one_way": false,
 *    "latency": "40ms", "jitter": "10ms",        durations: strings with a unit
 *    "distribution": "uniform|normal|pareto",
 *    "bandwidth": 125000 | "1mbit" | "2MiB/s",    bytes per second, or a rate with a unit
 *    "queue": 65536 | "64KiB",                     bytes
 *    "loss": 0.05, "rto": "200ms", "reset": 0.01,  probabilities per write
 *    "partition": true, "heal": "release|reset",
 *    "slices": 4, "slice_gap": "1ms",
 *    "for": "30s"}                                the rule expires this long after it is read;
 *                                                 null: never
 *
 * Printed rules carry also "id", "hits" and, for expiring rules, "for" as the time left; they can
 * be read back ("id" and "hits" are then ignored).
 *
 * Durations: a decimal number and one of ns, us, ms, s, m, h ("250ms", "1.5s", "30s", "5m").
 * Rates: bit, kbit, mbit, gbit (bits per second, decimal) or B/s, kB/s, MB/s, GB/s, KiB/s,
 * MiB/s, GiB/s. Sizes: B, kB, MB, GB, KiB, MiB, GiB, or a plain number of bytes.
 */
#ifndef FL_NETEM_RULE_JSON_H
#define FL_NETEM_RULE_JSON_H

#include "link.h"

#include <cjson/cJSON.h>

/*
 * Apply the keys of the JSON object `obj` onto *r (start from netem_rule_init for a new rule, or
 * from a copy of the current rule for a change); "for" is counted from now_ns. On error returns
 * RT_EINVAL, leaves a message naming the key in err (always NUL-terminated when errlen > 0) and
 * *r may be half-changed.
 */
int netem_rule_from_json(const cJSON *obj, uint64_t now_ns, netem_rule *r, char *err,
			 size_t errlen);
/* Parse text (one JSON object) into a fresh rule. Same errors, also for bad JSON. */
int netem_rule_parse(const char *text, size_t len, uint64_t now_ns, netem_rule *r, char *err,
		     size_t errlen);
/* The rule as a JSON object (the caller frees it with cJSON_Delete); NULL on ENOMEM. */
cJSON *netem_rule_to_json(const netem_rule *r, uint64_t now_ns);

/* Units. Each returns RT_EINVAL on bad input and never writes *out then. */
int netem_parse_duration(const char *s, uint64_t *out_ns);
int netem_parse_rate(const char *s, uint64_t *out_bytes_per_s);
int netem_parse_size(const char *s, uint64_t *out_bytes);
/* Exact: the largest unit that divides ns ("250ms", "90s", "2m", "0s", "1500001ns"). */
void netem_format_duration(uint64_t ns, char *buf, size_t len);

#endif
