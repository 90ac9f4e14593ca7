/*
 * bench_report.c — the statistics and output end of `make bench` (tests/bench/run.sh): reads the
 * raw per-run numbers the driver collected, takes medians and spreads, prints the aligned table
 * and writes bench.json (the shape reports/compare.h reads) and a self-contained index.html.
 *
 *   bench_report --meta META.tsv --raw RAW.tsv [--skipped SKIPPED.tsv] [--commit C]
 *                [--runs N] [--wall S] --out DIR
 *
 * META.tsv, one figure a line, tab-separated, in table order:
 *   name  unit  better(higher|lower)  goal(number or -)  goal_on(ratio|value)  what  baseline_what
 * RAW.tsv: name  value  baseline(number or -), one line per run (a figure may have none).
 * SKIPPED.tsv: name  why.
 *
 * value and baseline are the medians of the runs; ratio is the median of the per-run ratios
 * (each run measures both side by side, so its ratio cancels the machine's mood of the moment),
 * spread is (max - min) / median of the values, in percent. A figure without runs is left out
 * of "figures" (compare needs a number) and listed under "skipped" with the reason.
 * Exit 0, or 2 on unreadable input.
 */
#include "bench_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIGS 32
#define MAX_RUNS 64
#define FIELD 256

typedef struct fig {
	char name[64], unit[32], better[8], goal_on[8], what[FIELD], base_what[FIELD];
	double goal; /* NAN: none */
	double v[MAX_RUNS], b[MAX_RUNS];
	int n;
	char skipped[FIELD];
	/* results */
	double value, baseline, ratio, spread, ratio_spread;
	const char *verdict;
} fig;

static fig figs[MAX_FIGS];
static int nfigs;

/* Split a line on tabs into at most max fields (in place); returns the count. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		char *t = strchr(line, '\t');
		if (!t)
			break;
		*t = '\0';
		line = t + 1;
	}
	return n;
}

static fig *find(const char *name)
{
	for (int i = 0; i < nfigs; i++)
		if (!strcmp(figs[i].name, name))
			return &figs[i];
	return NULL;
}

static double num(const char *s)
{
	char *end;
	double d;

	if (!s || !*s || !strcmp(s, "-"))
		return NAN;
	d = strtod(s, &end);
	return *end ? NAN : d;
}

static int read_tsv(const char *path, int which)
{
	FILE *f = fopen(path, "r");
	char line[1024], *fl[8];
	int ln = 0;

	if (!f) {
		if (which == 2)
			return 0; /* no skips */
		fprintf(stderr, "bench_report: %s: cannot read\n", path);
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		ln++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		int n = split(line, fl, 8);
		if (which == 0) {
			if (n < 7 || nfigs == MAX_FIGS) {
				fprintf(stderr, "bench_report: %s:%d: needs 7 fields\n", path, ln);
				fclose(f);
				return -1;
			}
			fig *g = &figs[nfigs++];
			snprintf(g->name, sizeof g->name, "%s", fl[0]);
			snprintf(g->unit, sizeof g->unit, "%s", fl[1]);
			snprintf(g->better, sizeof g->better, "%s", fl[2]);
			g->goal = num(fl[3]);
			snprintf(g->goal_on, sizeof g->goal_on, "%s", fl[4]);
			snprintf(g->what, sizeof g->what, "%s", fl[5]);
			snprintf(g->base_what, sizeof g->base_what, "%s", fl[6]);
			continue;
		}
		fig *g = find(fl[0]);
		if (!g) {
			fprintf(stderr, "bench_report: %s:%d: unknown figure %s\n", path, ln, fl[0]);
			continue;
		}
		if (which == 1) {
			double v = num(n > 1 ? fl[1] : NULL);
			if (isnan(v) || g->n == MAX_RUNS) {
				fprintf(stderr, "bench_report: %s:%d: bad value, ignored\n", path, ln);
				continue;
			}
			g->v[g->n] = v;
			g->b[g->n] = num(n > 2 ? fl[2] : NULL);
			g->n++;
		} else {
			snprintf(g->skipped, sizeof g->skipped, "%s", n > 1 ? fl[1] : "skipped");
		}
	}
	fclose(f);
	return 0;
}

static double spread_of(const double *x, int n, double med)
{
	double lo = x[0], hi = x[0];

	for (int i = 1; i < n; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	return med != 0 ? (hi - lo) / fabs(med) * 100 : 0;
}

static void compute(fig *g)
{
	double t[MAX_RUNS], r[MAX_RUNS];
	int nb = 0;

	g->value = g->baseline = g->ratio = g->spread = g->ratio_spread = NAN;
	if (!g->n) {
		g->verdict = "skipped";
		if (!g->skipped[0])
			snprintf(g->skipped, sizeof g->skipped, "no run produced a number");
		return;
	}
	memcpy(t, g->v, sizeof(double) * (size_t)g->n);
	g->value = bench_median(t, (size_t)g->n);
	g->spread = spread_of(g->v, g->n, g->value);
	for (int i = 0; i < g->n; i++)
		if (!isnan(g->b[i]) && g->b[i] > 0) {
			t[nb] = g->b[i];
			r[nb++] = g->v[i] / g->b[i];
		}
	if (nb) {
		double rr[MAX_RUNS];
		memcpy(rr, r, sizeof(double) * (size_t)nb);
		g->baseline = bench_median(t, (size_t)nb);
		g->ratio = bench_median(r, (size_t)nb);
		g->ratio_spread = spread_of(rr, nb, g->ratio);
	}
	if (isnan(g->goal)) {
		g->verdict = "info";
		return;
	}
	double x = !strcmp(g->goal_on, "ratio") ? g->ratio : g->value;
	if (isnan(x))
		g->verdict = "no baseline";
	else if (!strcmp(g->better, "lower"))
		g->verdict = x <= g->goal ? "meets goal" : "MISSES goal";
	else
		g->verdict = x >= g->goal ? "meets goal" : "MISSES goal";
}

/* A number for the table: 4 significant digits, no exponent for ordinary sizes. */
static void fmt(char *buf, size_t len, double x)
{
	if (isnan(x))
		snprintf(buf, len, "-");
	else if (fabs(x) >= 1e6 || (fabs(x) < 1e-3 && x != 0))
		snprintf(buf, len, "%.3e", x);
	else if (fabs(x) >= 1000)
		snprintf(buf, len, "%.0f", x);
	else
		snprintf(buf, len, "%.4g", x);
}

static void goal_text(const fig *g, char *buf, size_t len)
{
	char n[32];

	if (isnan(g->goal)) {
		snprintf(buf, len, "-");
		return;
	}
	fmt(n, sizeof n, g->goal);
	snprintf(buf, len, "%s%s%s", !strcmp(g->better, "lower") ? "<=" : ">=", n,
		 !strcmp(g->goal_on, "ratio") ? " x" : "");
}

static void print_table(FILE *out)
{
	char v[32], s[32], b[32], r[32], gl[40];

	fprintf(out, "%-32s %12s %7s  %-15s %12s %7s  %-11s %s\n", "figure", "value", "spread", "unit",
		"baseline", "ratio", "goal", "verdict");
	for (int i = 0; i < nfigs; i++) {
		fig *g = &figs[i];
		fmt(v, sizeof v, g->value);
		if (isnan(g->spread))
			snprintf(s, sizeof s, "-");
		else
			snprintf(s, sizeof s, "%.0f%%", g->spread);
		fmt(b, sizeof b, g->baseline);
		fmt(r, sizeof r, g->ratio);
		goal_text(g, gl, sizeof gl);
		fprintf(out, "%-32s %12s %7s  %-15s %12s %7s  %-11s %s", g->name, v, s, g->unit, b, r, gl,
			g->verdict);
		if (g->n == 0)
			fprintf(out, " (%s)", g->skipped);
		fputc('\n', out);
	}
}

static void add_num(cJSON *o, const char *k, double x)
{
	if (isnan(x))
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, x);
}

static void read_first(const char *path, const char *key, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key))) {
			char *c = strchr(line, ':');
			if (c) {
				c++;
				while (*c == ' ' || *c == '\t')
					c++;
				c[strcspn(c, "\n")] = '\0';
				snprintf(out, len, "%s", c);
			}
			break;
		}
	fclose(f);
}

/* What identifies the machine for compare (stable across runs on it: no load, no time). */
static cJSON *machine(void)
{
	cJSON *m = cJSON_CreateObject();
	struct utsname u;
	char cpu[200], mem[64];

	read_first("/proc/cpuinfo", "model name", cpu, sizeof cpu);
	read_first("/proc/meminfo", "MemTotal", mem, sizeof mem);
	cJSON_AddStringToObject(m, "cpu", cpu[0] ? cpu : "unknown");
	cJSON_AddNumberToObject(m, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
	cJSON_AddNumberToObject(m, "mem_gib", round(strtod(mem, NULL) / 1048576.0));
	if (!uname(&u)) {
		cJSON_AddStringToObject(m, "os", u.sysname);
		cJSON_AddStringToObject(m, "arch", u.machine);
	}
	return m;
}

static cJSON *to_json(const char *commit, int runs, double wall)
{
	cJSON *j = cJSON_CreateObject(), *fa, *sk;
	char date[32];
	time_t now = time(NULL);

	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	cJSON_AddStringToObject(j, "commit", commit);
	cJSON_AddStringToObject(j, "date", date);
	cJSON_AddItemToObject(j, "machine", machine());
	cJSON_AddNumberToObject(j, "runs", runs);
	add_num(j, "wall_s", wall);
	fa = cJSON_AddArrayToObject(j, "figures");
	sk = cJSON_AddArrayToObject(j, "skipped");
	for (int i = 0; i < nfigs; i++) {
		fig *g = &figs[i];
		if (!g->n) {
			cJSON *s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "name", g->name);
			cJSON_AddStringToObject(s, "why", g->skipped);
			cJSON_AddItemToArray(sk, s);
			continue;
		}
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "name", g->name);
		add_num(f, "value", g->value);
		cJSON_AddStringToObject(f, "unit", g->unit);
		cJSON_AddStringToObject(f, "better", g->better);
		add_num(f, "baseline", g->baseline);
		add_num(f, "ratio", g->ratio);
		add_num(f, "goal", g->goal);
		cJSON_AddStringToObject(f, "goal_on", isnan(g->goal) ? "none" : g->goal_on);
		cJSON_AddStringToObject(f, "verdict", g->verdict);
		add_num(f, "spread_pct", g->spread);
		add_num(f, "ratio_spread_pct", g->ratio_spread);
		cJSON_AddStringToObject(f, "what", g->what);
		cJSON_AddStringToObject(f, "baseline_what", g->base_what);
		cJSON *ra = cJSON_AddArrayToObject(f, "runs");
		for (int k = 0; k < g->n; k++) {
			cJSON *r = cJSON_CreateObject();
			cJSON_AddNumberToObject(r, "value", g->v[k]);
			if (!isnan(g->b[k])) {
				cJSON_AddNumberToObject(r, "baseline", g->b[k]);
				if (g->b[k] > 0)
					cJSON_AddNumberToObject(r, "ratio", g->v[k] / g->b[k]);
			}
			cJSON_AddItemToArray(ra, r);
		}
		cJSON_AddItemToArray(fa, f);
	}
	return j;
}

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

static int write_html(const char *path, const char *commit, int runs, double wall)
{
	FILE *f = fopen(path, "w");
	char v[32], b[32], r[32], gl[40], date[32];
	time_t now = time(NULL);

	if (!f)
		return -1;
	strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>flbench benchmarks</title>\n"
	      "<style>body{font-family:sans-serif;margin:2em;max-width:75em}"
	      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}"
	      "td.n{text-align:right;font-family:monospace}th{background:#eee}"
	      ".ok{color:#070}.miss{color:#b00;font-weight:bold}.info{color:#666}"
	      "small{color:#555}</style></head><body>\n<h1>flbench benchmarks</h1>\n", f);
	fprintf(f, "<p>commit <code>");
	html_text(f, commit);
	fprintf(f, "</code>, %s, median of %d runs per figure", date, runs);
	if (!isnan(wall))
		fprintf(f, ", %.0f s in all", wall);
	fputs(". Each run measures the figure and its baseline side by side; the ratio is the median "
	      "of the per-run ratios. Spread is (max &minus; min) / median over the runs. On a noisy "
	      "machine the ratios are what count.</p>\n<table>\n<tr><th>figure</th><th>value</th>"
	      "<th>spread</th><th>unit</th><th>baseline</th><th>ratio</th><th>goal</th>"
	      "<th>verdict</th><th>what is measured</th></tr>\n", f);
	for (int i = 0; i < nfigs; i++) {
		fig *g = &figs[i];
		fmt(v, sizeof v, g->value);
		fmt(b, sizeof b, g->baseline);
		fmt(r, sizeof r, g->ratio);
		goal_text(g, gl, sizeof gl);
		const char *cls = !strncmp(g->verdict, "meets", 5) ? "ok" : !strncmp(g->verdict, "MISS", 4)
				  ? "miss" : "info";
		fprintf(f, "<tr><td><code>%s</code></td><td class=\"n\">%s</td><td class=\"n\">", g->name, v);
		if (isnan(g->spread))
			fputs("-", f);
		else
			fprintf(f, "%.0f%%", g->spread);
		fprintf(f, "</td><td>");
		html_text(f, g->unit);
		fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">", b, r);
		html_text(f, gl);
		fprintf(f, "</td><td class=\"%s\">%s</td><td>", cls, g->verdict);
		html_text(f, g->what);
		if (g->base_what[0] && strcmp(g->base_what, "-")) {
			fputs("<br><small>baseline: ", f);
			html_text(f, g->base_what);
			fputs("</small>", f);
		}
		if (!g->n) {
			fputs("<br><small>skipped: ", f);
			html_text(f, g->skipped);
			fputs("</small>", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<p>Raw numbers: <a href=\"bench.json\">bench.json</a> "
	      "(<code>bin/sim compare OLD/bench.json NEW/bench.json</code> gates on them).</p>\n"
	      "</body></html>\n", f);
	return fclose(f);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_report --meta META.tsv --raw RAW.tsv [--skipped SKIPPED.tsv]\n"
			"                    [--commit C] [--runs N] [--wall S] --out DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *meta = NULL, *raw = NULL, *skipped = NULL, *commit = "unknown", *out = NULL;
	int runs = 0;
	double wall = NAN;
	char path[1024];

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		const char *k = argv[i], *v = argv[++i];
		if (!strcmp(k, "--meta"))
			meta = v;
		else if (!strcmp(k, "--raw"))
			raw = v;
		else if (!strcmp(k, "--skipped"))
			skipped = v;
		else if (!strcmp(k, "--commit"))
			commit = v;
		else if (!strcmp(k, "--runs"))
			runs = atoi(v);
		else if (!strcmp(k, "--wall"))
			wall = num(v);
		else if (!strcmp(k, "--out"))
			out = v;
		else
			return usage();
	}
	if (!meta || !raw || !out)
		return usage();
	if (read_tsv(meta, 0) || read_tsv(raw, 1) || (skipped && read_tsv(skipped, 2)))
		return 2;
	for (int i = 0; i < nfigs; i++)
		compute(&figs[i]);
	print_table(stdout);

	mkdir(out, 0777);
	cJSON *j = to_json(commit, runs, wall);
	char *text = cJSON_Print(j);
	snprintf(path, sizeof path, "%s/bench.json", out);
	FILE *f = fopen(path, "w");
	if (!f || !text || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f)) {
		fprintf(stderr, "bench_report: cannot write %s\n", path);
		return 2;
	}
	free(text);
	cJSON_Delete(j);
	snprintf(path, sizeof path, "%s/index.html", out);
	if (write_html(path, commit, runs, wall)) {
		fprintf(stderr, "bench_report: cannot write %s\n", path);
		return 2;
	}
	return 0;
}
