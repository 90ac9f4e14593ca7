/*
 * rule_json.c — netem rules to and from JSON, and the unit parsers (durations, rates, sizes).
 */
#include "rule_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- units ---- */

typedef struct unit {
	const char *name;
	double factor;
} unit;

/* "<decimal number><unit>" with no sign and no spaces; the unit must be one of `units` (or
 * empty when allow_bare). The product must fit in a uint64_t. */
static int parse_with_unit(const char *s, const unit *units, int allow_bare, int nocase,
			   uint64_t *out)
{
	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return RT_EINVAL;
	char *end;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0.0)
		return RT_EINVAL;
	/* strtod also takes hex and exponents; allow only digits and one '.' */
	for (const char *p = s; p < end; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return RT_EINVAL;
	double f = 0.0;
	if (*end == '\0') {
		if (!allow_bare)
			return RT_EINVAL;
		f = 1.0;
	} else {
		for (const unit *u = units; u->name; u++)
			if (nocase ? strcasecmp(end, u->name) == 0 : strcmp(end, u->name) == 0) {
				f = u->factor;
				break;
			}
		if (f == 0.0)
			return RT_EINVAL;
	}
	double r = v * f;
	if (r >= 1.8e19)
		return RT_EINVAL;
	*out = (uint64_t)llround(r);
	return 0;
}

static const unit duration_units[] = {
	{"ns", 1.0}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9},
	{"m", 60e9}, {"h", 3600e9}, {NULL, 0},
};

int netem_parse_duration(const char *s, uint64_t *out_ns)
{
	return parse_with_unit(s, duration_units, 0, 0, out_ns);
}

static const unit bit_units[] = {
	{"bit", 1.0 / 8}, {"kbit", 1e3 / 8}, {"mbit", 1e6 / 8}, {"gbit", 1e9 / 8}, {NULL, 0},
};
static const unit byte_rate_units[] = {
	{"B/s", 1.0}, {"kB/s", 1e3}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9},
	{"KiB/s", 1024.0}, {"MiB/s", 1048576.0}, {"GiB/s", 1073741824.0}, {NULL, 0},
};

int netem_parse_rate(const char *s, uint64_t *out)
{
	uint64_t v;
	if (parse_with_unit(s, bit_units, 0, 1, &v) == 0 ||
	    parse_with_unit(s, byte_rate_units, 1, 0, &v) == 0) {
		*out = v;
		return 0;
	}
	return RT_EINVAL;
}

static const unit size_units[] = {
	{"B", 1.0}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {NULL, 0},
};

int netem_parse_size(const char *s, uint64_t *out)
{
	return parse_with_unit(s, size_units, 1, 0, out);
}

void netem_format_duration(uint64_t ns, char *buf, size_t len)
{
	static const struct {
		const char *name;
		uint64_t f;
	} u[] = {{"h", 3600000000000ULL}, {"m", 60000000000ULL}, {"s", 1000000000ULL},
		 {"ms", 1000000ULL}, {"us", 1000ULL}, {"ns", 1ULL}};
	if (!buf || !len)
		return;
	if (ns == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
		if (ns % u[i].f == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ns / u[i].f), u[i].name);
			return;
		}
}

/* ---- rules from JSON ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return RT_EINVAL;
}

static int get_duration(const cJSON *it, uint64_t *out, char *err, size_t errlen)
{
	if (!cJSON_IsString(it) || netem_parse_duration(it->valuestring, out))
		return fail(err, errlen,
			    "%s: expected a duration string with a unit (ns, us, ms, s, m, h), "
			    "e.g. \"250ms\"",
			    it->string);
	return 0;
}

static int get_bool(const cJSON *it, int *out, char *err, size_t errlen)
{
	if (!cJSON_IsBool(it))
		return fail(err, errlen, "%s: expected true or false", it->string);
	*out = cJSON_IsTrue(it) ? 1 : 0;
	return 0;
}

static int get_prob(const cJSON *it, double *out, char *err, size_t errlen)
{
	if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0.0 && it->valuedouble <= 1.0))
		return fail(err, errlen, "%s: expected a probability, a number in [0, 1]",
			    it->string);
	*out = it->valuedouble;
	return 0;
}

static int get_count(const cJSON *it, uint64_t max, uint64_t *out)
{
	if (!cJSON_IsNumber(it))
		return RT_EINVAL;
	double v = it->valuedouble;
	if (!(v >= 0.0 && v <= (double)max) || v != floor(v))
		return RT_EINVAL;
	*out = (uint64_t)v;
	return 0;
}

static int get_pattern(const cJSON *it, char *dst, char *err, size_t errlen)
{
	if (!cJSON_IsString(it) || !netem_pattern_ok(it->valuestring))
		return fail(err, errlen,
			    "%s: expected a host pattern: a name (\"server/2\"), a group "
			    "(\"fleet\", \"server/*\") or \"*\"",
			    it->string);
	snprintf(dst, NETEM_PATTERN_MAX, "%s", it->valuestring);
	return 0;
}

static int apply_key(const cJSON *it, uint64_t now_ns, netem_rule *r, char *err, size_t errlen)
{
	const char *k = it->string;
	uint64_t u;
	if (strcmp(k, "id") == 0 || strcmp(k, "hits") == 0)
		return 0; /* printed by netem_rule_to_json; not settable */
	if (strcmp(k, "from") == 0)
		return get_pattern(it, r->from, err, errlen);
	if (strcmp(k, "to") == 0)
		return get_pattern(it, r->to, err, errlen);
	if (strcmp(k, "base") == 0)
		return get_bool(it, &r->base, err, errlen);
	if (strcmp(k, "one_way") == 0)
		return get_bool(it, &r->one_way, err, errlen);
	if (strcmp(k, "latency") == 0)
		return get_duration(it, &r->latency_ns, err, errlen);
	if (strcmp(k, "jitter") == 0)
		return get_duration(it, &r->jitter_ns, err, errlen);
	if (strcmp(k, "rto") == 0)
		return get_duration(it, &r->rto_ns, err, errlen);
	if (strcmp(k, "slice_gap") == 0)
		return get_duration(it, &r->slice_gap_ns, err, errlen);
	if (strcmp(k, "distribution") == 0) {
		if (!cJSON_IsString(it) || netem_dist_parse(it->valuestring, &r->dist))
			return fail(err, errlen,
				    "distribution: expected \"uniform\", \"normal\" or \"pareto\"");
		return 0;
	}
	if (strcmp(k, "bandwidth") == 0) {
		if (cJSON_IsString(it) ? netem_parse_rate(it->valuestring, &u)
				       : get_count(it, UINT64_C(1) << 50, &u))
			return fail(err, errlen,
				    "bandwidth: expected bytes per second (a number) or a rate such "
				    "as \"10mbit\" or \"2MiB/s\"");
		r->bandwidth_bps = u;
		return 0;
	}
	if (strcmp(k, "queue") == 0) {
		if (cJSON_IsString(it) ? netem_parse_size(it->valuestring, &u)
				       : get_count(it, UINT64_C(1) << 50, &u))
			return fail(err, errlen,
				    "queue: expected a size in bytes (a number or e.g. \"64KiB\")");
		r->queue_bytes = u;
		return 0;
	}
	if (strcmp(k, "loss") == 0)
		return get_prob(it, &r->loss, err, errlen);
	if (strcmp(k, "reset") == 0)
		return get_prob(it, &r->reset, err, errlen);
	if (strcmp(k, "partition") == 0)
		return get_bool(it, &r->partition, err, errlen);
	if (strcmp(k, "heal") == 0) {
		if (cJSON_IsString(it) && strcmp(it->valuestring, "release") == 0)
			r->heal_reset = 0;
		else if (cJSON_IsString(it) && strcmp(it->valuestring, "reset") == 0)
			r->heal_reset = 1;
		else
			return fail(err, errlen, "heal: expected \"release\" or \"reset\"");
		return 0;
	}
	if (strcmp(k, "slices") == 0) {
		if (get_count(it, 65536, &u))
			return fail(err, errlen, "slices: expected an integer in [0, 65536]");
		r->slices = (uint32_t)u;
		return 0;
	}
	if (strcmp(k, "for") == 0) {
		if (cJSON_IsNull(it)) {
			r->expires_at_ns = 0;
			return 0;
		}
		if (get_duration(it, &u, err, errlen))
			return RT_EINVAL;
		/* "for": "0s" expires at once; a rule that never expires says null */
		r->expires_at_ns = now_ns + u > now_ns ? now_ns + u : UINT64_MAX;
		if (r->expires_at_ns == 0)
			r->expires_at_ns = 1;
		return 0;
	}
	return fail(err, errlen, "unknown key \"%s\"", k);
}

int netem_rule_from_json(const cJSON *obj, uint64_t now_ns, netem_rule *r, char *err,
			 size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!r)
		return RT_EINVAL;
	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "a rule must be a JSON object");
	for (const cJSON *it = obj->child; it; it = it->next) {
		int rc = apply_key(it, now_ns, r, err, errlen);
		if (rc)
			return rc;
	}
	const char *why;
	if (netem_rule_check(r, &why))
		return fail(err, errlen, "%s", why);
	return 0;
}

int netem_rule_parse(const char *text, size_t len, uint64_t now_ns, netem_rule *r, char *err,
		     size_t errlen)
{
	if (!text || !r)
		return fail(err, errlen, "no rule");
	const char *end = NULL;
	/* cJSON's own trailing-garbage check wants a NUL inside len; check the rest by hand */
	cJSON *obj = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	size_t at = end && end >= text ? (size_t)(end - text) : 0;
	if (obj)
		while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' ||
				    text[at] == '\n'))
			at++;
	if (!obj || at < len) {
		cJSON_Delete(obj);
		return fail(err, errlen, "bad JSON near byte %zu", at);
	}
	netem_rule_init(r);
	int rc = netem_rule_from_json(obj, now_ns, r, err, errlen);
	cJSON_Delete(obj);
	return rc;
}

/* ---- rules to JSON ---- */

static int add_duration(cJSON *o, const char *key, uint64_t ns)
{
	char buf[48];
	netem_format_duration(ns, buf, sizeof buf);
	return cJSON_AddStringToObject(o, key, buf) ? 0 : RT_ENOMEM;
}

cJSON *netem_rule_to_json(const netem_rule *r, uint64_t now_ns)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !r)
		goto fail;
	int bad = 0;
	bad |= !cJSON_AddNumberToObject(o, "id", r->id);
	bad |= !cJSON_AddStringToObject(o, "from", r->from);
	bad |= !cJSON_AddStringToObject(o, "to", r->to);
	bad |= !cJSON_AddBoolToObject(o, "base", r->base);
	bad |= !cJSON_AddBoolToObject(o, "one_way", r->one_way);
	bad |= add_duration(o, "latency", r->latency_ns);
	bad |= add_duration(o, "jitter", r->jitter_ns);
	bad |= !cJSON_AddStringToObject(o, "distribution", netem_dist_name(r->dist));
	bad |= !cJSON_AddNumberToObject(o, "bandwidth", (double)r->bandwidth_bps);
	bad |= !cJSON_AddNumberToObject(o, "queue", (double)r->queue_bytes);
	bad |= !cJSON_AddNumberToObject(o, "loss", r->loss);
	bad |= add_duration(o, "rto", r->rto_ns ? r->rto_ns : NETEM_DEFAULT_RTO_NS);
	bad |= !cJSON_AddNumberToObject(o, "reset", r->reset);
	bad |= !cJSON_AddBoolToObject(o, "partition", r->partition);
	bad |= !cJSON_AddStringToObject(o, "heal", r->heal_reset ? "reset" : "release");
	bad |= !cJSON_AddNumberToObject(o, "slices", r->slices);
	bad |= add_duration(o, "slice_gap", r->slice_gap_ns);
	if (r->expires_at_ns)
		bad |= add_duration(o, "for", r->expires_at_ns > now_ns ? r->expires_at_ns - now_ns : 0);
	else
		bad |= !cJSON_AddNullToObject(o, "for");
	bad |= !cJSON_AddNumberToObject(o, "hits", (double)r->hits);
	if (bad)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
