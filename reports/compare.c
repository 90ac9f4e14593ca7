/*
 * compare.c — `sim compare BASE NEW`: figures of two runs or two benchmarks side by side, with
 * a verdict per figure and an exit status a CI job can gate on (compare.h).
 *
 * A figure regresses when it gets worse (in its direction) by more than its threshold: a
 * fraction of BASE for relative thresholds, an amount for absolute ones. With a relative
 * threshold and BASE = 0 any worsening counts (there is no fraction of nothing to allow).
 * Figures without a rule are shown but not gated unless a --threshold names them.
 */
#include "compare.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum dir { DIR_NONE, DIR_HIGHER, DIR_LOWER };
enum kind { TH_NONE, TH_REL, TH_ABS };

typedef struct {
	const char *pat;
	enum dir dir;
	enum kind kind;
	double thr;
} rule;

/* The defaults, first match wins. Kept in the order `--help` lists them. */
static const rule rules[] = {
	{ "iterations.success", DIR_HIGHER, TH_REL, 0.10 },
	{ "iterations.failed", DIR_LOWER, TH_NONE, 0 },
	{ "invariants.violations", DIR_LOWER, TH_ABS, 0 },
	{ "expectations.failed", DIR_LOWER, TH_ABS, 0 },
	{ "latency.*_ms", DIR_LOWER, TH_REL, 0.25 },
	{ "throughput.*", DIR_HIGHER, TH_REL, 0.20 },
	{ "recovery.time_s", DIR_LOWER, TH_REL, 0.25 },
	{ "model.accuracy", DIR_HIGHER, TH_ABS, 0.02 },
	{ "model.loss", DIR_LOWER, TH_REL, 0.25 },
	{ "wall_time_s", DIR_LOWER, TH_REL, 0.25 },
	{ "speedup", DIR_HIGHER, TH_REL, 0.20 },
	{ "sim.speedup", DIR_HIGHER, TH_REL, 0.20 },
	{ "fleet.bytes_per_device", DIR_LOWER, TH_REL, 0.20 },
};
#define BENCH_THR 0.20 /* bench.json figures whose direction the unit tells */

typedef struct {
	char *name;
	double value;
	char unit[24];
	enum dir hint;   /* bench.json: from "better" or the unit; the ratio row shares it */
	int bench_ratio; /* this is a bench figure's ratio row */
	int has_ratio;   /* this bench figure also has a ratio row */
} figure;

typedef struct {
	const char *path;
	int bench;
	cJSON *machine; /* bench.json only; owned */
	figure *f;      /* owned */
	size_t n, cap;
} figset;

typedef struct {
	const char *pat;
	int off;
	double thr;
} override;

typedef struct {
	const char *name;
	const figure *b, *n;
	enum dir dir;
	enum kind kind;
	double thr;
	const char *verdict;
	char delta[48];
} row;

static const char usage_head[] =
	"usage: sim compare BASE NEW [--threshold NAME=FRACTION ...] [--json]\n"
	"\n"
	"Compare two runs (output directories or their summary.json) or two bench.json files, figure\n"
	"by figure. Exit status: 0 no regression, 1 a figure regressed past its threshold, 2 bad input.\n"
	"\n"
	"  --threshold NAME=FRACTION  how much the figures matching NAME (a glob such as\n"
	"                             'latency.*.p99_ms') may get worse: a fraction of BASE for\n"
	"                             relative figures (0.1 = 10%), an amount for absolute ones;\n"
	"                             'off' stops gating them. Repeatable; the last match wins.\n"
	"  --json                     print the comparison as JSON instead of a table\n"
	"\n"
	"Default thresholds (how much worse a figure may get before it is a regression):\n";

static void usage(FILE *f)
{
	fputs(usage_head, f);
	for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
		const rule *r = &rules[i];
		fprintf(f, "  %-24s %-17s ", r->pat, r->dir == DIR_HIGHER ? "higher is better" : "lower is better");
		if (r->kind == TH_NONE)
			fputs("shown, not gated\n", f);
		else if (r->kind == TH_ABS && r->thr == 0)
			fputs("any increase\n", f);
		else if (r->kind == TH_ABS)
			fprintf(f, "%g absolute\n", r->thr);
		else
			fprintf(f, "%g%%\n", r->thr * 100);
	}
	fprintf(f, "  %-24s %-17s %g%% of the value, or of the ratio when the machines differ\n",
		"bench.json figures", "by unit", BENCH_THR * 100);
	fputs("                           (s, ms, us, ns, B, bytes: lower is better; /s, x, ratio: higher)\n"
	      "  other figures            shown, not gated\n", f);
}

static int add(figset *s, const char *name, double v, const char *unit, enum dir hint, int ratio)
{
	if (!isfinite(v))
		return 0; /* null or absent: not a figure */
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 32;
		figure *nf = realloc(s->f, nc * sizeof *nf);
		if (!nf)
			return -1;
		s->f = nf;
		s->cap = nc;
	}
	figure *f = &s->f[s->n];
	memset(f, 0, sizeof *f);
	if (!(f->name = strdup(name)))
		return -1;
	f->value = v;
	f->hint = hint;
	f->bench_ratio = ratio;
	snprintf(f->unit, sizeof f->unit, "%s", unit ? unit : "");
	s->n++;
	return 0;
}

static const figure *find(const figset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->f[i].name, name))
			return &s->f[i];
	return NULL;
}

static char *slurp(const char *path, FILE *errout)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(errout, "compare: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t len = 0, cap = 65536;
	char *t = malloc(cap);
	size_t n;
	while (t && (n = fread(t + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *nt = realloc(t, cap * 2);
			if (!nt) {
				free(t);
				t = NULL;
				break;
			}
			t = nt;
			cap *= 2;
		}
	}
	fclose(f);
	if (!t)
		fprintf(errout, "compare: %s: out of memory\n", path);
	else
		t[len] = '\0';
	return t;
}

static int load_summary(figset *s, const cJSON *j, FILE *errout)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metrics"), *v;
	int rc = 0;
	cJSON_ArrayForEach(v, m)
		if (cJSON_IsNumber(v) && v->string)
			rc |= add(s, v->string, v->valuedouble, NULL, DIR_NONE, 0);
	static const char *const top[] = { "wall_time_s", "speedup" };
	for (size_t i = 0; i < 2; i++) {
		v = cJSON_GetObjectItemCaseSensitive(j, top[i]);
		if (cJSON_IsNumber(v))
			rc |= add(s, top[i], v->valuedouble, NULL, DIR_NONE, 0);
	}
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "expect");
	if (cJSON_IsArray(ex)) {
		int failed = 0;
		cJSON_ArrayForEach(v, ex)
			failed += !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "ok"));
		rc |= add(s, "expectations.failed", failed, NULL, DIR_NONE, 0);
	}
	if (rc)
		fprintf(errout, "compare: %s: out of memory\n", s->path);
	return rc ? 2 : 0;
}

/* Direction from a bench unit: times and sizes shrink, rates grow. */
static enum dir unit_dir(const char *u)
{
	static const char *const lower[] = { "s", "ms", "us", "ns", "B", "bytes", "KiB", "MiB", "GiB", "KB", "MB" };
	if (!u || !*u)
		return DIR_NONE;
	if (strstr(u, "/s") || !strcmp(u, "x") || !strcasecmp(u, "ratio") || strstr(u, "per "))
		return DIR_HIGHER;
	for (size_t i = 0; i < sizeof lower / sizeof *lower; i++)
		if (!strcmp(u, lower[i]))
			return DIR_LOWER;
	return DIR_NONE;
}

static int load_bench(figset *s, const cJSON *j, FILE *errout)
{
	const cJSON *figs = cJSON_GetObjectItemCaseSensitive(j, "figures"), *f;
	s->bench = 1;
	s->machine = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(j, "machine"), 1);
	int i = 0;
	cJSON_ArrayForEach(f, figs) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
		const cJSON *val = cJSON_GetObjectItemCaseSensitive(f, "value");
		const cJSON *ratio = cJSON_GetObjectItemCaseSensitive(f, "ratio");
		const cJSON *unit = cJSON_GetObjectItemCaseSensitive(f, "unit");
		if (!cJSON_IsString(name) || !cJSON_IsNumber(val)) {
			fprintf(errout, "compare: %s: figures[%d]: needs a string \"name\" and a numeric \"value\"\n",
				s->path, i);
			return 2;
		}
		if (find(s, name->valuestring)) {
			fprintf(errout, "compare: %s: figures[%d]: \"%s\" appears twice\n", s->path, i,
				name->valuestring);
			return 2;
		}
		const char *u = cJSON_IsString(unit) ? unit->valuestring : NULL;
		const char *better = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "better"));
		enum dir hint = better && !strcmp(better, "higher") ? DIR_HIGHER
				: better && !strcmp(better, "lower") ? DIR_LOWER : unit_dir(u);
		int rc = add(s, name->valuestring, val->valuedouble, u, hint, 0);
		if (!rc && cJSON_IsNumber(ratio)) {
			char rn[512];
			s->f[s->n - 1].has_ratio = 1;
			snprintf(rn, sizeof rn, "%s.ratio", name->valuestring);
			rc = add(s, rn, ratio->valuedouble, "", hint, 1);
		}
		if (rc) {
			fprintf(errout, "compare: %s: out of memory\n", s->path);
			return 2;
		}
		i++;
	}
	return 0;
}

/* A run directory, a summary.json or a bench.json. Returns 0 or 2 (message on errout). */
static int load(figset *s, const char *arg, FILE *errout)
{
	char path[4200];
	struct stat st;
	memset(s, 0, sizeof *s);
	s->path = arg;
	if (stat(arg, &st)) {
		fprintf(errout, "compare: %s: %s\n", arg, strerror(errno));
		return 2;
	}
	snprintf(path, sizeof path, "%s%s", arg, S_ISDIR(st.st_mode) ? "/summary.json" : "");
	if (S_ISDIR(st.st_mode) && stat(path, &st)) {
		fprintf(errout, "compare: %s: no summary.json: not a run's output directory\n", arg);
		return 2;
	}
	char *text = slurp(path, errout);
	if (!text)
		return 2;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
	if (!j) {
		size_t line = 1;
		for (const char *p = text; end && p < end; p++)
			line += *p == '\n';
		fprintf(errout, "compare: %s:%zu: malformed JSON\n", path, line);
		free(text);
		return 2;
	}
	free(text);
	int rc;
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "figures"))) {
		rc = load_bench(s, j, errout);
	} else if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "metrics"))) {
		rc = load_summary(s, j, errout);
	} else {
		fprintf(errout, "compare: %s: neither a run summary (no \"metrics\" object) nor a bench.json "
				"(no \"figures\" array)\n", path);
		rc = 2;
	}
	cJSON_Delete(j);
	return rc;
}

static void figset_free(figset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->f[i].name);
	free(s->f);
	cJSON_Delete(s->machine);
}

/* Direction, threshold kind and amount of one row: the default rules by name, then the bench
 * hint, then the machines rule, then the last matching --threshold. */
static void classify(row *r, const figure *f, const override *ov, size_t nov, int machines_differ)
{
	size_t i;
	r->dir = DIR_NONE;
	r->kind = TH_NONE;
	r->thr = 0;
	for (i = 0; i < sizeof rules / sizeof *rules; i++)
		if (!fnmatch(rules[i].pat, r->name, 0))
			break;
	if (i < sizeof rules / sizeof *rules) {
		r->dir = rules[i].dir;
		r->kind = rules[i].kind;
		r->thr = rules[i].thr;
	} else if (f->hint != DIR_NONE) {
		r->dir = f->hint;
		r->kind = TH_REL;
		r->thr = BENCH_THR;
	}
	/* on different machines absolute bench values say more about the machines than the code;
	 * the ratio, measured side by side on each, is what stays comparable */
	if (machines_differ && r->b && r->n && r->b->has_ratio && r->n->has_ratio)
		r->kind = TH_NONE;
	for (size_t k = nov; k-- > 0;) {
		if (fnmatch(ov[k].pat, r->name, 0))
			continue;
		if (ov[k].off)
			r->kind = TH_NONE;
		else {
			r->kind = r->kind == TH_ABS ? TH_ABS : TH_REL;
			r->thr = ov[k].thr;
		}
		break;
	}
}

/* How much worse NEW is than BASE in the row's direction (negative: better). */
static double worsening(const row *r)
{
	double d = r->n->value - r->b->value;
	return r->dir == DIR_HIGHER ? -d : r->dir == DIR_LOWER ? d : fabs(d);
}

static double allowed(const row *r)
{
	return r->kind == TH_ABS ? r->thr : r->thr * fabs(r->b->value);
}

static void evaluate(row *r)
{
	if (!r->b || !r->n) {
		r->verdict = r->b ? "gone" : "new";
		snprintf(r->delta, sizeof r->delta, "-");
		return;
	}
	double d = r->n->value - r->b->value;
	if (d == 0)
		snprintf(r->delta, sizeof r->delta, "0");
	else if (r->b->value != 0)
		snprintf(r->delta, sizeof r->delta, "%+.4g (%+.1f%%)", d, 100 * d / fabs(r->b->value));
	else
		snprintf(r->delta, sizeof r->delta, "%+.4g", d);
	double w = worsening(r);
	double eps = 1e-9 * fmax(fabs(r->b->value), fabs(r->n->value));
	if (r->kind == TH_NONE)
		r->verdict = "info";
	else if (w > allowed(r) + eps)
		r->verdict = "REGRESSED";
	else if (w < -eps && r->dir != DIR_NONE)
		r->verdict = "better";
	else
		r->verdict = "ok";
}

static void fmt_value(char *dst, size_t n, const figure *f)
{
	if (!f)
		snprintf(dst, n, "-");
	else if (f->value == floor(f->value) && fabs(f->value) < 1e15)
		snprintf(dst, n, "%.0f%s%s", f->value, f->unit[0] ? " " : "", f->unit);
	else
		snprintf(dst, n, "%.6g%s%s", f->value, f->unit[0] ? " " : "", f->unit);
}

static void limit_text(char *dst, size_t n, const row *r)
{
	const char *sign = r->dir == DIR_HIGHER ? "-" : r->dir == DIR_LOWER ? "+" : "+/-";
	if (r->kind == TH_ABS)
		snprintf(dst, n, "%s%g", sign, r->thr);
	else
		snprintf(dst, n, "%s%g%%", sign, r->thr * 100);
}

static void print_table(FILE *out, const row *rows, size_t nr)
{
	char bv[64], nv[64];
	int w[4] = { 6, 4, 3, 5 };
	for (size_t i = 0; i < nr; i++) {
		fmt_value(bv, sizeof bv, rows[i].b);
		fmt_value(nv, sizeof nv, rows[i].n);
		int l[4] = { (int)strlen(rows[i].name), (int)strlen(bv), (int)strlen(nv), (int)strlen(rows[i].delta) };
		for (int k = 0; k < 4; k++)
			w[k] = l[k] > w[k] ? l[k] : w[k];
	}
	fprintf(out, "%-*s  %*s  %*s  %-*s  %s\n", w[0], "NAME", w[1], "BASE", w[2], "NEW", w[3], "DELTA",
		"VERDICT");
	for (size_t i = 0; i < nr; i++) {
		const row *r = &rows[i];
		char lim[48] = "";
		fmt_value(bv, sizeof bv, r->b);
		fmt_value(nv, sizeof nv, r->n);
		if (r->kind != TH_NONE && r->b && r->n) {
			char l[24];
			limit_text(l, sizeof l, r);
			snprintf(lim, sizeof lim, " (limit %s)", l);
		}
		fprintf(out, "%-*s  %*s  %*s  %-*s  %s%s\n", w[0], r->name, w[1], bv, w[2], nv, w[3], r->delta,
			r->verdict, strcmp(r->verdict, "REGRESSED") ? "" : lim);
	}
}

static int print_json(FILE *out, const figset *b, const figset *n, const row *rows, size_t nr, int nreg,
		      int machines_differ)
{
	static const char *const dirs[] = { "none", "higher", "lower" };
	static const char *const kinds[] = { "none", "relative", "absolute" };
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
	cJSON_AddStringToObject(o, "base", b->path);
	cJSON_AddStringToObject(o, "new", n->path);
	cJSON_AddNumberToObject(o, "regressions", nreg);
	cJSON_AddBoolToObject(o, "machines_differ", machines_differ);
	cJSON_AddItemToObject(o, "figures", a);
	for (size_t i = 0; i < nr; i++) {
		const row *r = &rows[i];
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "name", r->name);
		if (r->b)
			cJSON_AddNumberToObject(f, "base", r->b->value);
		else
			cJSON_AddNullToObject(f, "base");
		if (r->n)
			cJSON_AddNumberToObject(f, "new", r->n->value);
		else
			cJSON_AddNullToObject(f, "new");
		if (r->b && r->n)
			cJSON_AddNumberToObject(f, "delta", r->n->value - r->b->value);
		if (r->b && r->n && r->b->value != 0)
			cJSON_AddNumberToObject(f, "delta_fraction", (r->n->value - r->b->value) / fabs(r->b->value));
		const figure *any = r->b ? r->b : r->n;
		if (any->unit[0])
			cJSON_AddStringToObject(f, "unit", any->unit);
		cJSON_AddStringToObject(f, "better", dirs[r->dir]);
		cJSON_AddStringToObject(f, "threshold_kind", kinds[r->kind]);
		if (r->kind != TH_NONE)
			cJSON_AddNumberToObject(f, "threshold", r->thr);
		cJSON_AddStringToObject(f, "verdict", r->verdict);
		cJSON_AddItemToArray(a, f);
	}
	char *s = cJSON_Print(o);
	cJSON_Delete(o);
	if (!s)
		return -1;
	fprintf(out, "%s\n", s);
	free(s);
	return 0;
}

static int parse_override(const char *arg, override *ov, FILE *errout)
{
	const char *eq = strrchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		fprintf(errout, "compare: --threshold '%s': want NAME=FRACTION (e.g. latency.*.p99_ms=0.5)\n", arg);
		return 2;
	}
	if (!strcmp(eq + 1, "off") || !strcmp(eq + 1, "none")) {
		ov->off = 1;
		return 0;
	}
	char *end;
	errno = 0;
	ov->thr = strtod(eq + 1, &end);
	if (*end == '%' && end[1] == '\0') {
		ov->thr /= 100;
		end++;
	}
	if (*end || errno || !isfinite(ov->thr) || ov->thr < 0) {
		fprintf(errout, "compare: --threshold '%s': '%s' is not a non-negative number or 'off'\n", arg,
			eq + 1);
		return 2;
	}
	return 0;
}

int compare_run(int argc, char **argv, FILE *out, FILE *errout)
{
	const char *pos[2] = { NULL, NULL };
	int npos = 0, json = 0, rc = 0;
	override *ov = calloc((size_t)(argc > 0 ? argc : 1), sizeof *ov);
	char **pats = calloc((size_t)(argc > 0 ? argc : 1), sizeof *pats);
	size_t nov = 0;
	if (!ov || !pats) {
		fprintf(errout, "compare: out of memory\n");
		free(ov);
		free(pats);
		return 2;
	}
	for (int i = 1; i < argc && !rc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(out);
			rc = -1;
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "--threshold") || !strcmp(a, "-t") || !strncmp(a, "--threshold=", 12)) {
			const char *v = !strncmp(a, "--threshold=", 12) ? a + 12 : i + 1 < argc ? argv[++i] : NULL;
			if (!v) {
				fprintf(errout, "compare: %s needs NAME=FRACTION\n", a);
				rc = 2;
			} else if (!(rc = parse_override(v, &ov[nov], errout))) {
				/* keep NAME alone as the glob */
				pats[nov] = strndup(v, (size_t)(strrchr(v, '=') - v));
				ov[nov].pat = pats[nov] ? pats[nov] : "";
				nov++;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(errout, "compare: unknown option '%s' (see sim compare --help)\n", a);
			rc = 2;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(errout, "compare: one BASE and one NEW, not '%s' too\n", a);
			rc = 2;
		}
	}
	if (!rc && npos < 2) {
		fprintf(errout, "usage: sim compare BASE NEW [--threshold NAME=FRACTION ...] [--json]\n");
		rc = 2;
	}
	figset b = { 0 }, n = { 0 };
	row *rows = NULL;
	size_t nr = 0;
	if (!rc)
		rc = load(&b, pos[0], errout);
	if (!rc)
		rc = load(&n, pos[1], errout);
	if (!rc && !(rows = calloc(b.n + n.n + 1, sizeof *rows))) {
		fprintf(errout, "compare: out of memory\n");
		rc = 2;
	}
	if (rc) {
		for (size_t i = 0; i < nov; i++)
			free(pats[i]);
		free(pats);
		free(ov);
		figset_free(&b);
		figset_free(&n);
		return rc < 0 ? 0 : rc;
	}
	int machines_differ = b.bench && n.bench && b.machine && n.machine && !cJSON_Compare(b.machine, n.machine, 1);
	/* BASE's order, then figures only NEW has */
	for (size_t i = 0; i < b.n + n.n; i++) {
		const figure *f = i < b.n ? &b.f[i] : &n.f[i - b.n];
		if (i >= b.n && find(&b, f->name))
			continue;
		row *r = &rows[nr++];
		r->name = f->name;
		r->b = find(&b, f->name);
		r->n = find(&n, f->name);
		classify(r, f, ov, nov, machines_differ);
		evaluate(r);
	}
	int nreg = 0;
	for (size_t i = 0; i < nr; i++)
		nreg += !strcmp(rows[i].verdict, "REGRESSED");
	if (json) {
		if (print_json(out, &b, &n, rows, nr, nreg, machines_differ))
			fprintf(errout, "compare: out of memory\n");
	} else {
		fprintf(out, "compare: BASE %s, NEW %s\n", b.path, n.path);
		if (machines_differ)
			fprintf(out, "note: measured on different machines: absolute values are shown for "
				     "information, ratios are compared\n");
		print_table(out, rows, nr);
	}
	for (size_t i = 0; i < nr; i++) {
		const row *r = &rows[i];
		if (strcmp(r->verdict, "REGRESSED"))
			continue;
		char lim[32], bv[64], nv[64];
		limit_text(lim, sizeof lim, r);
		fmt_value(bv, sizeof bv, r->b);
		fmt_value(nv, sizeof nv, r->n);
		fprintf(json ? errout : out, "regression: %s went from %s to %s: %s, past the limit %s (%s)\n",
			r->name, bv, nv, r->delta, lim, r->dir == DIR_HIGHER ? "higher is better"
			: r->dir == DIR_LOWER ? "lower is better" : "any change counts");
	}
	if (!json)
		fprintf(out, "%s\n", nreg ? "compare: FAILED" : "compare: ok, no figure regressed");
	free(rows);
	for (size_t i = 0; i < nov; i++)
		free(pats[i]);
	free(pats);
	free(ov);
	figset_free(&b);
	figset_free(&n);
	return nreg ? 1 : 0;
}

int compare_main(int argc, char **argv)
{
	return compare_run(argc, argv, stdout, stderr);
}
