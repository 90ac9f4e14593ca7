/*
 * scenario.c — scenario file parser and validator (see scenario.h).
 *
 * Each reader takes the JSON path of what it reads so that every error can say where it is.
 * The first error wins; readers return -1 after it and callers unwind.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pctx {
	const char *file;
	char *err;
	size_t errlen;
} pctx;

static int fail(pctx *p, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(pctx *p, const char *path, const char *fmt, ...)
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
static const char *got(const cJSON *v, char *buf, size_t len)
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

static void subpath(char *dst, size_t len, const char *path, const char *key)
{
	snprintf(dst, len, "%s.%s", path, key);
}

static int check_keys(pctx *p, const cJSON *obj, const char *path, const char *const *allowed)
{
	char buf[64];
	if (!cJSON_IsObject(obj))
		return fail(p, path, "expected an object, got %s", got(obj, buf, sizeof buf));
	for (const cJSON *c = obj->child; c; c = c->next) {
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, c->string);
		if (!ok) {
			char where[256];
			subpath(where, sizeof where, path, c->string);
			char list[512] = "";
			for (const char *const *a = allowed; *a; a++) {
				strncat(list, *a, sizeof list - strlen(list) - 1);
				if (a[1])
					strncat(list, ", ", sizeof list - strlen(list) - 1);
			}
			return fail(p, where, "unknown key (known here: %s)", list);
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

int scenario_has_tag(const scenario *sc, const char *tag)
{
	for (size_t i = 0; i < sc->n_tags; i++)
		if (!strcmp(sc->tags[i], tag))
			return 1;
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

static int rd_str(pctx *p, const cJSON *obj, const char *path, const char *key, char *dst,
		  size_t len, int required)
{
	char where[256], buf[64];
	subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? fail(p, where, "required string is missing") : 0;
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return fail(p, where, "expected a non-empty string, got %s", got(v, buf, sizeof buf));
	if (strlen(v->valuestring) >= len)
		return fail(p, where, "string longer than %zu bytes", len - 1);
	snprintf(dst, len, "%s", v->valuestring);
	return 0;
}

static int rd_num(pctx *p, const cJSON *obj, const char *path, const char *key, double *dst,
		  double lo, double hi, int required)
{
	char where[256], buf[64];
	subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? fail(p, where, "required number is missing") : 0;
	if (!cJSON_IsNumber(v))
		return fail(p, where, "expected a number, got %s", got(v, buf, sizeof buf));
	if (!(v->valuedouble >= lo && v->valuedouble <= hi))
		return fail(p, where, "expected a number in [%g, %g], got %s", lo, hi, got(v, buf, sizeof buf));
	*dst = v->valuedouble;
	return 0;
}

static int rd_int(pctx *p, const cJSON *obj, const char *path, const char *key, long *dst,
		  long lo, long hi, int required)
{
	char where[256], buf[64];
	subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? fail(p, where, "required integer is missing") : 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return fail(p, where, "expected an integer, got %s", got(v, buf, sizeof buf));
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
		return fail(p, where, "expected an integer in [%ld, %ld], got %s", lo, hi, got(v, buf, sizeof buf));
	*dst = (long)v->valuedouble;
	return 0;
}

static int rd_dur(pctx *p, const cJSON *obj, const char *path, const char *key, uint64_t *dst,
		  int required)
{
	char where[256], buf[64];
	subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return required ? fail(p, where, "required duration is missing (e.g. \"30s\")") : 0;
	int64_t ns;
	if (!cJSON_IsString(v) || sc_parse_duration_ns(v->valuestring, 0, &ns))
		return fail(p, where, "expected a duration like \"250ms\", \"30s\" or \"5m\", got %s",
			    got(v, buf, sizeof buf));
	*dst = (uint64_t)ns;
	return 0;
}

static int rd_dist(pctx *p, const cJSON *obj, const char *path, const char *key, sc_dist *d,
		   double lo, double hi)
{
	char where[256], buf[64];
	subpath(where, sizeof where, path, key);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		if (!(v->valuedouble >= lo && v->valuedouble <= hi))
			return fail(p, where, "expected a number in [%g, %g], got %s", lo, hi, got(v, buf, sizeof buf));
		*d = (sc_dist){SC_FIXED, v->valuedouble, 0};
		return 0;
	}
	static const char *const keys[] = {"dist", "value", "min", "max", "mean", "stddev",
					   "median", "sigma", NULL};
	char kind[16] = "";
	if (check_keys(p, v, where, keys) || rd_str(p, v, where, "dist", kind, sizeof kind, 1))
		return -1;
	double a = 0, b = 0;
	if (!strcmp(kind, "fixed")) {
		if (rd_num(p, v, where, "value", &a, lo, hi, 1))
			return -1;
		*d = (sc_dist){SC_FIXED, a, 0};
	} else if (!strcmp(kind, "uniform")) {
		if (rd_num(p, v, where, "min", &a, lo, hi, 1) || rd_num(p, v, where, "max", &b, a, hi, 1))
			return -1;
		*d = (sc_dist){SC_UNIFORM, a, b};
	} else if (!strcmp(kind, "normal")) {
		if (rd_num(p, v, where, "mean", &a, lo, hi, 1) || rd_num(p, v, where, "stddev", &b, 0, 1e12, 1))
			return -1;
		*d = (sc_dist){SC_NORMAL, a, b};
	} else if (!strcmp(kind, "lognormal")) {
		if (rd_num(p, v, where, "median", &a, 1e-12, hi, 1) || rd_num(p, v, where, "sigma", &b, 0, 10, 1))
			return -1;
		*d = (sc_dist){SC_LOGNORMAL, a, b};
	} else {
		char w2[300];
		subpath(w2, sizeof w2, where, "dist");
		return fail(p, w2, "expected \"fixed\", \"uniform\", \"normal\" or \"lognormal\", got \"%s\"", kind);
	}
	return 0;
}

static const char *const link_keys[] = {"latency", "jitter", "jitter_dist", "bandwidth_kbps",
					"loss", "loss_mode", "slices", NULL};

/* Link fields shared by the network block and link events (extra keys checked by the caller). */
static int rd_link_fields(pctx *p, const cJSON *v, const char *where, sc_link *l)
{
	double loss = l->loss, kbps = (double)l->bandwidth_bps / 1000.0;
	long slices = l->slices;
	if (rd_dur(p, v, where, "latency", &l->latency_ns, 0) ||
	    rd_dur(p, v, where, "jitter", &l->jitter_ns, 0) ||
	    rd_str(p, v, where, "jitter_dist", l->jitter_dist, sizeof l->jitter_dist, 0) ||
	    rd_num(p, v, where, "bandwidth_kbps", &kbps, 0, 1e9, 0) ||
	    rd_num(p, v, where, "loss", &loss, 0, 1, 0) ||
	    rd_str(p, v, where, "loss_mode", l->loss_mode, sizeof l->loss_mode, 0) ||
	    rd_int(p, v, where, "slices", &slices, 1, 1024, 0))
		return -1;
	if (strcmp(l->jitter_dist, "uniform") && strcmp(l->jitter_dist, "normal") && strcmp(l->jitter_dist, "pareto"))
		return fail(p, where, "jitter_dist: expected \"uniform\", \"normal\" or \"pareto\", got \"%s\"", l->jitter_dist);
	if (strcmp(l->loss_mode, "delay") && strcmp(l->loss_mode, "reset"))
		return fail(p, where, "loss_mode: expected \"delay\" or \"reset\", got \"%s\"", l->loss_mode);
	l->loss = loss;
	l->bandwidth_bps = (uint64_t)(kbps * 1000.0);
	l->slices = (uint32_t)slices;
	return 0;
}

static void link_defaults(sc_link *l, uint64_t latency_ns)
{
	memset(l, 0, sizeof *l);
	l->latency_ns = latency_ns;
	snprintf(l->jitter_dist, sizeof l->jitter_dist, "uniform");
	snprintf(l->loss_mode, sizeof l->loss_mode, "delay");
	l->slices = 1;
}

/* ---- sections ---- */

static int parse_cluster(pctx *p, const cJSON *v, scenario *sc)
{
	static const char *const keys[] = {"server_num", "model", "config", "heartbeat_interval",
					   "node_timeout", NULL};
	const char *path = "$.cluster";
	if (!v)
		return 0;
	long n = sc->server_num;
	if (check_keys(p, v, path, keys) || rd_int(p, v, path, "server_num", &n, 1, 64, 0) ||
	    rd_str(p, v, path, "model", sc->model, sizeof sc->model, 0))
		return -1;
	sc->server_num = (int)n;
	if (strcmp(sc->model, "lenet5") && strncmp(sc->model, "synthetic:", 10))
		return fail(p, "$.cluster.model", "expected \"lenet5\" or \"synthetic:N\", got \"%s\"", sc->model);
	if (!strncmp(sc->model, "synthetic:", 10)) {
		char *end;
		long long m = strtoll(sc->model + 10, &end, 10);
		if (*end || m < 1 || m > (1LL << 28))
			return fail(p, "$.cluster.model", "synthetic:N needs N in [1, 268435456], got \"%s\"", sc->model);
	}
	if (rd_dur(p, v, path, "heartbeat_interval", &sc->heartbeat_ns, 0) ||
	    rd_dur(p, v, path, "node_timeout", &sc->node_timeout_ns, 0))
		return -1;
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(v, "config");
	if (cfg) {
		char buf[64];
		if (!cJSON_IsObject(cfg))
			return fail(p, "$.cluster.config", "expected an object, got %s", got(cfg, buf, sizeof buf));
		cJSON_Delete(sc->config);
		sc->config = cJSON_Duplicate(cfg, 1);
		if (!sc->config)
			return fail(p, "$.cluster.config", "out of memory");
	}
	return 0;
}

static int parse_fleet(pctx *p, const cJSON *v, scenario *sc)
{
	static const char *const keys[] = {"devices", "training", "data", "compute_ms_per_sample",
					   "bandwidth_kbps", "online_fraction", "dropout",
					   "clock_skew_ms", "session_s", NULL};
	static const char *const data_keys[] = {"dataset", "partition", "alpha", "classes",
						"samples_per_device", NULL};
	const char *path = "$.fleet";
	if (!v)
		return 0;
	if (check_keys(p, v, path, keys) ||
	    rd_int(p, v, path, "devices", &sc->devices, 0, 10000000, 0) ||
	    rd_str(p, v, path, "training", sc->training, sizeof sc->training, 0) ||
	    rd_dist(p, v, path, "compute_ms_per_sample", &sc->compute_ms_per_sample, 0, 1e6) ||
	    rd_dist(p, v, path, "bandwidth_kbps", &sc->bandwidth_kbps, 1, 1e9) ||
	    rd_dist(p, v, path, "clock_skew_ms", &sc->clock_skew_ms, -1e10, 1e10) ||
	    rd_dist(p, v, path, "session_s", &sc->session_s, 0, 1e9) ||
	    rd_num(p, v, path, "online_fraction", &sc->online_fraction, 0, 1, 0) ||
	    rd_num(p, v, path, "dropout", &sc->dropout, 0, 1, 0))
		return -1;
	if (strcmp(sc->training, "synthetic") && strcmp(sc->training, "real"))
		return fail(p, "$.fleet.training", "expected \"synthetic\" or \"real\", got \"%s\"", sc->training);
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "data");
	if (d) {
		const char *dp = "$.fleet.data";
		long classes = sc->data.classes;
		if (check_keys(p, d, dp, data_keys) ||
		    rd_str(p, d, dp, "dataset", sc->data.dataset, sizeof sc->data.dataset, 0) ||
		    rd_str(p, d, dp, "partition", sc->data.partition, sizeof sc->data.partition, 0) ||
		    rd_num(p, d, dp, "alpha", &sc->data.alpha, 1e-6, 1e6, 0) ||
		    rd_int(p, d, dp, "classes", &classes, 1, 10, 0) ||
		    rd_int(p, d, dp, "samples_per_device", &sc->data.samples_per_device, 1, 60000, 0))
			return -1;
		sc->data.classes = (int)classes;
		if (strcmp(sc->data.dataset, "fashion-mnist"))
			return fail(p, "$.fleet.data.dataset", "expected \"fashion-mnist\", got \"%s\"", sc->data.dataset);
		if (strcmp(sc->data.partition, "iid") && strcmp(sc->data.partition, "dirichlet") &&
		    strcmp(sc->data.partition, "shards"))
			return fail(p, "$.fleet.data.partition", "expected \"iid\", \"dirichlet\" or \"shards\", got \"%s\"",
				    sc->data.partition);
	}
	return 0;
}

static int parse_network(pctx *p, const cJSON *v, scenario *sc)
{
	static const char *const keys[] = {"default", "fleet", NULL};
	if (!v)
		return 0;
	if (check_keys(p, v, "$.network", keys))
		return -1;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "default");
	if (d && (check_keys(p, d, "$.network.default", link_keys) ||
		  rd_link_fields(p, d, "$.network.default", &sc->net_default)))
		return -1;
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, "fleet");
	if (f && (check_keys(p, f, "$.network.fleet", link_keys) ||
		  rd_link_fields(p, f, "$.network.fleet", &sc->net_fleet)))
		return -1;
	return 0;
}

static int rd_node(pctx *p, const cJSON *v, const char *path, const char *key, char *dst, size_t len,
		   int allow_fleet)
{
	if (rd_str(p, v, path, key, dst, len, 1))
		return -1;
	char where[256];
	subpath(where, sizeof where, path, key);
	if (sc_node_name_ok(dst) || (!allow_fleet && !strcmp(dst, "fleet")))
		return fail(p, where, "expected a node name (\"scheduler\", \"server/<id>\"%s), got \"%s\"",
			    allow_fleet ? " or \"fleet\"" : "", dst);
	return 0;
}

/* Patterns in link events and partitions may use wildcards ("server/" + "*", or "*"). */
static int rd_pattern(pctx *p, const cJSON *v, const char *path, const char *key, char *dst, size_t len)
{
	if (rd_str(p, v, path, key, dst, len, 1))
		return -1;
	char where[256];
	subpath(where, sizeof where, path, key);
	if (strcmp(dst, "*") && strcmp(dst, "server/*") && sc_node_name_ok(dst))
		return fail(p, where, "expected a node name, \"server/*\" or \"*\", got \"%s\"", dst);
	return 0;
}

static int rd_id_list(pctx *p, const cJSON *arr, const char *where, char ids[][32], size_t max,
		      size_t *n, int names)
{
	char buf[64];
	if (!cJSON_IsArray(arr))
		return fail(p, where, "expected an array of strings, got %s", got(arr, buf, sizeof buf));
	*n = 0;
	int i = 0;
	for (const cJSON *c = arr->child; c; c = c->next, i++) {
		char w[300];
		snprintf(w, sizeof w, "%s[%d]", where, i);
		if (!cJSON_IsString(c) || !c->valuestring[0] || strlen(c->valuestring) >= 32)
			return fail(p, w, "expected a short non-empty string, got %s", got(c, buf, sizeof buf));
		if (names && strcmp(c->valuestring, "server/*") && sc_node_name_ok(c->valuestring))
			return fail(p, w, "expected a node name, got \"%s\"", c->valuestring);
		if (*n >= max)
			return fail(p, w, "at most %zu entries", max);
		snprintf(ids[(*n)++], 32, "%s", c->valuestring);
	}
	return 0;
}

static int parse_event(pctx *p, const cJSON *v, const char *path, sc_event *e)
{
	static const char *const common[] = {"at", "on", "after", "action", NULL};
	char action[32] = "";
	if (rd_str(p, v, path, "action", action, sizeof action, 1))
		return -1;
	int a = -1;
	for (int i = 0; i < SC_ACTION_COUNT; i++)
		if (!strcmp(action, sc_action_name((sc_action)i)))
			a = i;
	if (a < 0) {
		char where[256];
		subpath(where, sizeof where, path, "action");
		return fail(p, where, "unknown action \"%s\" (known: kill, restart, pause, resume, "
			    "clock_skew, partition, link, heal, scale_out, scale_in, fleet, disk_fault)", action);
	}
	e->action = (sc_action)a;

	/* the keys each action takes, beyond the common ones */
	static const char *const k_node[] = {"node", NULL};
	static const char *const k_skew[] = {"node", "offset", "drift_ppm", "share", NULL};
	static const char *const k_part[] = {"groups", "for", NULL};
	static const char *const k_link[] = {"from", "to", "for", "latency", "jitter", "jitter_dist",
					     "bandwidth_kbps", "loss", "loss_mode", "slices", NULL};
	static const char *const k_none[] = {NULL};
	static const char *const k_sout[] = {"servers", NULL};
	static const char *const k_sin[] = {"node_ids", NULL};
	static const char *const k_fleet[] = {"devices", NULL};
	static const char *const k_disk[] = {"node", "kind", "file", NULL};
	const char *const *extra = k_none;
	switch (e->action) {
	case SC_KILL: case SC_RESTART: case SC_PAUSE: case SC_RESUME: extra = k_node; break;
	case SC_CLOCK_SKEW: extra = k_skew; break;
	case SC_PARTITION: extra = k_part; break;
	case SC_LINK: extra = k_link; break;
	case SC_HEAL: extra = k_none; break;
	case SC_SCALE_OUT: extra = k_sout; break;
	case SC_SCALE_IN: extra = k_sin; break;
	case SC_FLEET: extra = k_fleet; break;
	case SC_DISK_FAULT: extra = k_disk; break;
	default: break;
	}
	const char *allowed[24];
	size_t na = 0;
	for (const char *const *k = common; *k; k++)
		allowed[na++] = *k;
	for (const char *const *k = extra; *k && na < 23; k++)
		allowed[na++] = *k;
	allowed[na] = NULL;
	if (check_keys(p, v, path, allowed))
		return -1;

	if (rd_dur(p, v, path, "at", &e->at_ns, 0) || rd_str(p, v, path, "on", e->on, sizeof e->on, 0) ||
	    rd_dur(p, v, path, "after", &e->after_ns, 0))
		return -1;
	e->has_at = cJSON_GetObjectItemCaseSensitive(v, "at") != NULL;
	if (e->has_at == (e->on[0] != 0))
		return fail(p, path, "an event needs exactly one of \"at\" (a time) or \"on\" (a condition)");
	if (e->on[0]) {
		const char *eq = strchr(e->on, '=');
		char where[256];
		subpath(where, sizeof where, path, "on");
		if (!eq || eq == e->on || !eq[1] ||
		    (strncmp(e->on, "iteration=", 10) && strncmp(e->on, "state=", 6) &&
		     strncmp(e->on, "round=", 6) && strncmp(e->on, "iterations.success=", 19)))
			return fail(p, where, "expected \"iteration=N\", \"state=STATE\" or \"round=NAME\", got \"%s\"", e->on);
		if (!strncmp(e->on, "iteration=", 10)) {
			char *end;
			long it = strtol(e->on + 10, &end, 10);
			if (*end || it < 0)
				return fail(p, where, "iteration=N needs a whole number, got \"%s\"", e->on);
		}
	}

	char where[256];
	switch (e->action) {
	case SC_KILL: case SC_RESTART: case SC_PAUSE: case SC_RESUME:
		return rd_node(p, v, path, "node", e->node, sizeof e->node, e->action != SC_KILL && e->action != SC_RESTART);
	case SC_CLOCK_SKEW: {
		if (rd_node(p, v, path, "node", e->node, sizeof e->node, 1))
			return -1;
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(v, "offset");
		int64_t ns = 0;
		char buf[64];
		subpath(where, sizeof where, path, "offset");
		if (o && (!cJSON_IsString(o) || sc_parse_duration_ns(o->valuestring, 1, &ns)))
			return fail(p, where, "expected a signed duration like \"+15m\" or \"-2s\", got %s", got(o, buf, sizeof buf));
		e->offset_ms = ns / 1000000;
		e->share = 1;
		if (rd_num(p, v, path, "drift_ppm", &e->drift_ppm, -1e6, 1e6, 0) ||
		    rd_num(p, v, path, "share", &e->share, 0, 1, 0))
			return -1;
		if (!o && !cJSON_GetObjectItemCaseSensitive(v, "drift_ppm"))
			return fail(p, path, "clock_skew needs \"offset\" or \"drift_ppm\"");
		return 0;
	}
	case SC_PARTITION: {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(v, "groups");
		char buf[64];
		subpath(where, sizeof where, path, "groups");
		if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) < 2)
			return fail(p, where, "expected an array of at least two arrays of node names, got %s", got(g, buf, sizeof buf));
		int i = 0;
		for (const cJSON *c = g->child; c; c = c->next, i++) {
			char w[300];
			snprintf(w, sizeof w, "%s[%d]", where, i);
			if ((size_t)i >= SC_MAX_GROUPS)
				return fail(p, w, "at most %d groups", SC_MAX_GROUPS);
			if (rd_id_list(p, c, w, e->groups[i], SC_MAX_IDS, &e->group_len[i], 1))
				return -1;
		}
		e->n_groups = (size_t)i;
		return rd_dur(p, v, path, "for", &e->for_ns, 0);
	}
	case SC_LINK:
		link_defaults(&e->link, 0);
		if (rd_pattern(p, v, path, "from", e->from, sizeof e->from) ||
		    rd_pattern(p, v, path, "to", e->to, sizeof e->to) ||
		    rd_dur(p, v, path, "for", &e->for_ns, 0))
			return -1;
		return rd_link_fields(p, v, path, &e->link);
	case SC_HEAL:
		return 0;
	case SC_SCALE_OUT: {
		long n = 0;
		if (rd_int(p, v, path, "servers", &n, 1, 32, 1))
			return -1;
		e->servers = (int)n;
		return 0;
	}
	case SC_SCALE_IN: {
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(v, "node_ids");
		subpath(where, sizeof where, path, "node_ids");
		if (!ids)
			return fail(p, where, "required array of node ids is missing");
		return rd_id_list(p, ids, where, e->node_ids, SC_MAX_IDS, &e->n_ids, 0);
	}
	case SC_FLEET:
		return rd_int(p, v, path, "devices", &e->devices, 0, 10000000, 1);
	case SC_DISK_FAULT:
		if (rd_node(p, v, path, "node", e->node, sizeof e->node, 0) ||
		    rd_str(p, v, path, "kind", e->kind, sizeof e->kind, 1))
			return -1;
		if (strcmp(e->kind, "lose_unsynced") && strcmp(e->kind, "corrupt")) {
			subpath(where, sizeof where, path, "kind");
			return fail(p, where, "expected \"lose_unsynced\" or \"corrupt\", got \"%s\"", e->kind);
		}
		return 0;
	default:
		return 0;
	}
}

static int parse_expect(pctx *p, const cJSON *v, const char *path, sc_expect *x)
{
	static const char *const keys[] = {"metric", "min", "max", "equals", NULL};
	if (check_keys(p, v, path, keys) || rd_str(p, v, path, "metric", x->metric, sizeof x->metric, 1) ||
	    rd_num(p, v, path, "min", &x->min, -1e300, 1e300, 0) ||
	    rd_num(p, v, path, "max", &x->max, -1e300, 1e300, 0))
		return -1;
	x->has_min = cJSON_GetObjectItemCaseSensitive(v, "min") != NULL;
	x->has_max = cJSON_GetObjectItemCaseSensitive(v, "max") != NULL;
	const cJSON *eq = cJSON_GetObjectItemCaseSensitive(v, "equals");
	if (eq) {
		char where[256], buf[64];
		subpath(where, sizeof where, path, "equals");
		x->has_equals = 1;
		if (cJSON_IsString(eq)) {
			x->equals_is_str = 1;
			snprintf(x->equals_str, sizeof x->equals_str, "%s", eq->valuestring);
		} else if (cJSON_IsNumber(eq)) {
			x->equals_num = eq->valuedouble;
		} else if (cJSON_IsBool(eq)) {
			x->equals_num = cJSON_IsTrue(eq) ? 1 : 0;
		} else {
			return fail(p, where, "expected a string, number or boolean, got %s", got(eq, buf, sizeof buf));
		}
	}
	if (!x->has_min && !x->has_max && !x->has_equals)
		return fail(p, path, "an expectation needs \"min\", \"max\" or \"equals\"");
	return 0;
}

const char *sc_action_name(sc_action a)
{
	static const char *const names[SC_ACTION_COUNT] = {
		"kill", "restart", "pause", "resume", "clock_skew", "partition", "link", "heal",
		"scale_out", "scale_in", "fleet", "disk_fault"};
	return a >= 0 && a < SC_ACTION_COUNT ? names[a] : "?";
}

static void defaults(scenario *sc)
{
	snprintf(sc->name, sizeof sc->name, "unnamed");
	sc->seed = 1;
	sc->mode = SC_MODE_SIM;
	sc->duration_ns = 600ULL * 1000000000ULL;
	sc->server_num = 4;
	snprintf(sc->model, sizeof sc->model, "synthetic:1000");
	sc->heartbeat_ns = 3ULL * 1000000000ULL;
	sc->node_timeout_ns = 30ULL * 1000000000ULL;
	sc->devices = 100;
	snprintf(sc->training, sizeof sc->training, "synthetic");
	snprintf(sc->data.dataset, sizeof sc->data.dataset, "fashion-mnist");
	snprintf(sc->data.partition, sizeof sc->data.partition, "iid");
	sc->data.alpha = 0.5;
	sc->data.classes = 2;
	sc->data.samples_per_device = 600;
	sc->compute_ms_per_sample = (sc_dist){SC_FIXED, 1, 0};
	sc->bandwidth_kbps = (sc_dist){SC_FIXED, 10000, 0};
	sc->clock_skew_ms = (sc_dist){SC_FIXED, 0, 0};
	sc->session_s = (sc_dist){SC_FIXED, 0, 0}; /* 0 = always online while online */
	sc->online_fraction = 1;
	sc->dropout = 0;
	link_defaults(&sc->net_default, 100000);   /* 100 µs */
	link_defaults(&sc->net_fleet, 20000000);   /* 20 ms */
}

int scenario_parse(const char *text, size_t len, const char *file, scenario **out, char *err,
		   size_t errlen)
{
	pctx p = {file ? file : "scenario", err, errlen};
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t off = end ? (size_t)(end - text) : 0, line = 1, col = 1;
		for (size_t i = 0; i < off && i < len; i++, col++)
			if (text[i] == '\n')
				line++, col = 0;
		snprintf(err, errlen, "%s: line %zu, column %zu: not valid JSON", p.file, line, col);
		return SC_EINVAL;
	}
	scenario *sc = calloc(1, sizeof *sc);
	if (!sc) {
		cJSON_Delete(root);
		snprintf(err, errlen, "%s: out of memory", p.file);
		return SC_ENOMEM;
	}
	snprintf(sc->file, sizeof sc->file, "%s", p.file);
	defaults(sc);
	static const char *const keys[] = {"name", "seed", "mode", "duration", "swarm", "cluster",
					   "fleet", "network", "events", "expect", "description", "tags", NULL};
	double seed = (double)sc->seed;
	char mode[16] = "sim";
	const cJSON *swarm;
	int rc = check_keys(&p, root, "$", keys);
	if (!rc)
		rc = rd_str(&p, root, "$", "name", sc->name, sizeof sc->name, 1);
	if (!rc)
		rc = rd_num(&p, root, "$", "seed", &seed, 0, 9007199254740991.0, 0);
	if (!rc && seed != floor(seed))
		rc = fail(&p, "$.seed", "expected a whole number");
	if (!rc)
		rc = rd_str(&p, root, "$", "mode", mode, sizeof mode, 0);
	if (!rc && strcmp(mode, "sim") && strcmp(mode, "live"))
		rc = fail(&p, "$.mode", "expected \"sim\" or \"live\", got \"%s\"", mode);
	if (!rc)
		rc = rd_dur(&p, root, "$", "duration", &sc->duration_ns, 0);
	if (!rc && (swarm = cJSON_GetObjectItemCaseSensitive(root, "swarm")) && !cJSON_IsBool(swarm))
		rc = fail(&p, "$.swarm", "expected true or false");
	else if (!rc && swarm)
		sc->swarm = cJSON_IsTrue(swarm);
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
	if (!rc && tags)
		rc = rd_id_list(&p, tags, "$.tags", sc->tags, 8, &sc->n_tags, 0);
	if (!rc)
		rc = parse_cluster(&p, cJSON_GetObjectItemCaseSensitive(root, "cluster"), sc);
	if (!rc)
		rc = parse_fleet(&p, cJSON_GetObjectItemCaseSensitive(root, "fleet"), sc);
	if (!rc)
		rc = parse_network(&p, cJSON_GetObjectItemCaseSensitive(root, "network"), sc);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
	if (!rc && ev) {
		if (!cJSON_IsArray(ev)) {
			rc = fail(&p, "$.events", "expected an array of events");
		} else {
			int i = 0;
			for (const cJSON *c = ev->child; c && !rc; c = c->next, i++) {
				char path[64];
				snprintf(path, sizeof path, "$.events[%d]", i);
				if (i >= SC_MAX_EVENTS)
					rc = fail(&p, path, "at most %d events", SC_MAX_EVENTS);
				else if (!cJSON_IsObject(c))
					rc = fail(&p, path, "expected an object");
				else {
					sc->events[i].index = i;
					rc = parse_event(&p, c, path, &sc->events[i]);
					sc->n_events = (size_t)i + 1;
				}
			}
		}
	}
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "expect");
	if (!rc && ex) {
		if (!cJSON_IsArray(ex)) {
			rc = fail(&p, "$.expect", "expected an array of expectations");
		} else {
			int i = 0;
			for (const cJSON *c = ex->child; c && !rc; c = c->next, i++) {
				char path[64];
				snprintf(path, sizeof path, "$.expect[%d]", i);
				if (i >= SC_MAX_EXPECT)
					rc = fail(&p, path, "at most %d expectations", SC_MAX_EXPECT);
				else
					rc = parse_expect(&p, c, path, &sc->expect[sc->n_expect++]);
			}
		}
	}
	cJSON_Delete(root);
	if (rc) {
		scenario_free(sc);
		return SC_EINVAL;
	}
	sc->seed = (uint64_t)seed;
	sc->mode = strcmp(mode, "live") ? SC_MODE_SIM : SC_MODE_LIVE;
	if (!sc->config)
		sc->config = cJSON_CreateObject();
	*out = sc;
	return 0;
}

int scenario_load(const char *path, scenario **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return SC_EIO;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (16u << 20)) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: larger than 16 MiB", path);
				return SC_EINVAL;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: out of memory", path);
				return SC_ENOMEM;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	int ioerr = ferror(f);
	fclose(f);
	if (ioerr) {
		free(buf);
		snprintf(err, errlen, "%s: read error", path);
		return SC_EIO;
	}
	int rc = scenario_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

void scenario_free(scenario *sc)
{
	if (!sc)
		return;
	cJSON_Delete(sc->config);
	free(sc);
}
