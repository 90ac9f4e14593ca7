/*
 * scenario_read.c — the typed JSON readers the scenario parser is built of: each takes the JSON
 * path of what it reads, keeps the default when a key is absent (unless required), checks type
 * and range, and on the first error writes "file: path: what was expected, got what" and returns
 * -1 (callers unwind). Also the value parsers of scenario.h: durations and node names. Knows
 * nothing of what a scenario means: scenario.c and scenario_event.c do.
 */
#include "scenario_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sc_fail(pctx *p, const char *path, const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s: %s: ", p->file, path);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A short rendering of a JSON value for "got ..." */
const char *sc_got(const cJSON *v, char *buf, size_t len)
{
	if (!v)
		return "nothing";
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		return "?";
	if (strlen(s) > 40)
		snprintf(buf, len, "%.37s...", s);
	else
		snprintf(buf, len, "%s", s);
	free(s);
	return buf;
}

void sc_subpath(char *dst, size_t len, const char *path, const char *key)
{
	snprintf(dst, len, "%s.%s", path, key);
}

int sc_check_keys(pctx *p, const cJSON *obj, const char *path, const char *const *allowed)
{
	char buf[64];
	if (!cJSON_IsObject(obj))
		return sc_fail(p, path, "expected an object, got %s", sc_got(obj, buf, sizeof buf));
	for (const cJSON *c = obj->child; c; c = c->next) {
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, c->string);
		if (!ok) {
			char where[256];
			sc_subpath(where, sizeof where, path, c->string);
			char list[512] = "";
			for (const char *const *a = allowed; *a; a++) {
				strncat(list, *a, sizeof list - strlen(list) - 1);
				if (a[1])
					strncat(list, ", ", sizeof list - strlen(list) - 1);
			}
			return sc_fail(p, where, "unknown key (known here: %s)", list);
		}
	}
	return 0;
}

int sc_parse_duration_ns(const char *s, int signed_ok, int64_t *ns)
{
	if (!s)
		return SC_EINVAL;
	int neg = 0;
	if (*s == '+' || *s == '-') {
		if (!signed_ok)
			return SC_EINVAL;
		neg = *s == '-';
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return SC_EINVAL;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return SC_EINVAL;
	double mult;
	if (!strcmp(end, "ns"))
		mult = 1;
	else if (!strcmp(end, "us"))
		mult = 1e3;
	else if (!strcmp(end, "ms"))
		mult = 1e6;
	else if (!strcmp(end, "s"))
		mult = 1e9;
	else if (!strcmp(end, "m"))
		mult = 60e9;
	else if (!strcmp(end, "h"))
		mult = 3600e9;
	else
		return SC_EINVAL;
	double r = v * mult;
	if (r > 9.2e18)
		return SC_EINVAL;
	*ns = (int64_t)llround(r) * (neg ? -1 : 1);
	return 0;
}

int sc_node_name_ok(const char *s)
{
	if (!strcmp(s, "scheduler") || !strcmp(s, "fleet"))
		return 0;
	if (!strncmp(s, "server/", 7) && s[7]) {
		for (const char *c = s + 7; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
				return SC_EINVAL;
		return 0;
	}
	return SC_EINVAL;
}

/* ---- typed readers: key absent -> default kept (unless required) ---- */

int sc_rd_str(pctx *p, const cJSON *obj, const char *path, const char *key, char *dst,
		  size_t len, int required)
{
	char where[256], buf[64];
	sc_subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? sc_fail(p, where, "required string is missing") : 0;
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return sc_fail(p, where, "expected a non-empty string, got %s", sc_got(v, buf, sizeof buf));
	if (strlen(v->valuestring) >= len)
		return sc_fail(p, where, "string longer than %zu bytes", len - 1);
	snprintf(dst, len, "%s", v->valuestring);
	return 0;
}

int sc_rd_num(pctx *p, const cJSON *obj, const char *path, const char *key, double *dst,
		  double lo, double hi, int required)
{
	char where[256], buf[64];
	sc_subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? sc_fail(p, where, "required number is missing") : 0;
	if (!cJSON_IsNumber(v))
		return sc_fail(p, where, "expected a number, got %s", sc_got(v, buf, sizeof buf));
	if (!(v->valuedouble >= lo && v->valuedouble <= hi))
		return sc_fail(p, where, "expected a number in [%g, %g], got %s", lo, hi, sc_got(v, buf, sizeof buf));
	*dst = v->valuedouble;
	return 0;
}

int sc_rd_int(pctx *p, const cJSON *obj, const char *path, const char *key, long *dst,
		  long lo, long hi, int required)
{
	char where[256], buf[64];
	sc_subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? sc_fail(p, where, "required integer is missing") : 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return sc_fail(p, where, "expected an integer, got %s", sc_got(v, buf, sizeof buf));
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
		return sc_fail(p, where, "expected an integer in [%ld, %ld], got %s", lo, hi, sc_got(v, buf, sizeof buf));
	*dst = (long)v->valuedouble;
	return 0;
}

int sc_rd_dur(pctx *p, const cJSON *obj, const char *path, const char *key, uint64_t *dst,
		  int required)
{
	char where[256], buf[64];
	sc_subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? sc_fail(p, where, "required duration is missing (e.g. \"30s\")") : 0;
	int64_t ns;
	if (!cJSON_IsString(v) || sc_parse_duration_ns(v->valuestring, 0, &ns))
		return sc_fail(p, where, "expected a duration like \"250ms\", \"30s\" or \"5m\", got %s",
			    sc_got(v, buf, sizeof buf));
	*dst = (uint64_t)ns;
	return 0;
}

int sc_rd_dist(pctx *p, const cJSON *obj, const char *path, const char *key, sc_dist *d,
		   double lo, double hi)
{
	char where[256], buf[64];
	sc_subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		if (!(v->valuedouble >= lo && v->valuedouble <= hi))
			return sc_fail(p, where, "expected a number in [%g, %g], got %s", lo, hi, sc_got(v, buf, sizeof buf));
		*d = (sc_dist){SC_FIXED, v->valuedouble, 0};
		return 0;
	}
	static const char *const keys[] = {"dist", "value", "min", "max", "mean", "stddev",
					   "median", "sigma", NULL};
	char kind[16] = "";
	if (sc_check_keys(p, v, where, keys) || sc_rd_str(p, v, where, "dist", kind, sizeof kind, 1))
		return -1;
	double a = 0, b = 0;
	if (!strcmp(kind, "fixed")) {
		if (sc_rd_num(p, v, where, "value", &a, lo, hi, 1))
			return -1;
		*d = (sc_dist){SC_FIXED, a, 0};
	} else if (!strcmp(kind, "uniform")) {
		if (sc_rd_num(p, v, where, "min", &a, lo, hi, 1) || sc_rd_num(p, v, where, "max", &b, a, hi, 1))
			return -1;
		*d = (sc_dist){SC_UNIFORM, a, b};
	} else if (!strcmp(kind, "normal")) {
		if (sc_rd_num(p, v, where, "mean", &a, lo, hi, 1) || sc_rd_num(p, v, where, "stddev", &b, 0, 1e12, 1))
			return -1;
		*d = (sc_dist){SC_NORMAL, a, b};
	} else if (!strcmp(kind, "lognormal")) {
		if (sc_rd_num(p, v, where, "median", &a, 1e-12, hi, 1) || sc_rd_num(p, v, where, "sigma", &b, 0, 10, 1))
			return -1;
		*d = (sc_dist){SC_LOGNORMAL, a, b};
	} else {
		char w2[300];
		sc_subpath(w2, sizeof w2, where, "dist");
		return sc_fail(p, w2, "expected \"fixed\", \"uniform\", \"normal\" or \"lognormal\", got \"%s\"", kind);
	}
	return 0;
}

/* Link fields shared by the network block and link events (extra keys checked by the caller). */
int sc_rd_link_fields(pctx *p, const cJSON *v, const char *where, sc_link *l)
{
	double loss = l->loss, kbps = (double)l->bandwidth_bps / 1000.0;
	long slices = l->slices;
	if (sc_rd_dur(p, v, where, "latency", &l->latency_ns, 0) ||
	    sc_rd_dur(p, v, where, "jitter", &l->jitter_ns, 0) ||
	    sc_rd_str(p, v, where, "jitter_dist", l->jitter_dist, sizeof l->jitter_dist, 0) ||
	    sc_rd_num(p, v, where, "bandwidth_kbps", &kbps, 0, 1e9, 0) ||
	    sc_rd_num(p, v, where, "loss", &loss, 0, 1, 0) ||
	    sc_rd_str(p, v, where, "loss_mode", l->loss_mode, sizeof l->loss_mode, 0) ||
	    sc_rd_int(p, v, where, "slices", &slices, 1, 1024, 0))
		return -1;
	if (strcmp(l->jitter_dist, "uniform") && strcmp(l->jitter_dist, "normal") && strcmp(l->jitter_dist, "pareto"))
		return sc_fail(p, where, "jitter_dist: expected \"uniform\", \"normal\" or \"pareto\", got \"%s\"", l->jitter_dist);
	if (strcmp(l->loss_mode, "delay") && strcmp(l->loss_mode, "reset"))
		return sc_fail(p, where, "loss_mode: expected \"delay\" or \"reset\", got \"%s\"", l->loss_mode);
	l->loss = loss;
	l->bandwidth_bps = (uint64_t)(kbps * 1000.0);
	l->slices = (uint32_t)slices;
	return 0;
}

void sc_link_defaults(sc_link *l, uint64_t latency_ns)
{
	memset(l, 0, sizeof *l);
	l->latency_ns = latency_ns;
	snprintf(l->jitter_dist, sizeof l->jitter_dist, "uniform");
	snprintf(l->loss_mode, sizeof l->loss_mode, "delay");
	l->slices = 1;
}

int sc_rd_node(pctx *p, const cJSON *v, const char *path, const char *key, char *dst, size_t len,
		   int allow_fleet)
{
	if (sc_rd_str(p, v, path, key, dst, len, 1))
		return -1;
	char where[256];
	sc_subpath(where, sizeof where, path, key);
	if (sc_node_name_ok(dst) || (!allow_fleet && !strcmp(dst, "fleet")))
		return sc_fail(p, where, "expected a node name (\"scheduler\", \"server/<id>\"%s), got \"%s\"",
			    allow_fleet ? " or \"fleet\"" : "", dst);
	return 0;
}

/* Patterns in link events and partitions may use wildcards ("server/" + "*", or "*"). */
int sc_rd_pattern(pctx *p, const cJSON *v, const char *path, const char *key, char *dst, size_t len)
{
	if (sc_rd_str(p, v, path, key, dst, len, 1))
		return -1;
	char where[256];
	sc_subpath(where, sizeof where, path, key);
	if (strcmp(dst, "*") && strcmp(dst, "server/*") && sc_node_name_ok(dst))
		return sc_fail(p, where, "expected a node name, \"server/*\" or \"*\", got \"%s\"", dst);
	return 0;
}

int sc_rd_id_list(pctx *p, const cJSON *arr, const char *where, char ids[][32], size_t max,
		      size_t *n, int names)
{
	char buf[64];
	if (!cJSON_IsArray(arr))
		return sc_fail(p, where, "expected an array of strings, got %s", sc_got(arr, buf, sizeof buf));
	*n = 0;
	int i = 0;
	for (const cJSON *c = arr->child; c; c = c->next, i++) {
		char w[300];
		snprintf(w, sizeof w, "%s[%d]", where, i);
		if (!cJSON_IsString(c) || !c->valuestring[0] || strlen(c->valuestring) >= 32)
			return sc_fail(p, w, "expected a short non-empty string, got %s", sc_got(c, buf, sizeof buf));
		if (names && strcmp(c->valuestring, "server/*") && sc_node_name_ok(c->valuestring))
			return sc_fail(p, w, "expected a node name, got \"%s\"", c->valuestring);
		if (*n >= max)
			return sc_fail(p, w, "at most %zu entries", max);
		snprintf(ids[(*n)++], 32, "%s", c->valuestring);
	}
	return 0;
}
