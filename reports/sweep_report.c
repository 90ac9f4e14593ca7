/*
 * sweep_report.c — see sweep_report.h. Reads sweep.csv (written by sim/engine/sweep_merge.c), groups
 * the runs by cell, and draws each figure with the report's gnuplot helpers (report_int.h).
 */
#include "sweep_report.h"

#include "report.h"
#include "report_int.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SR_MAX_COLS 32
#define SR_MAX_CELLS 4096
#define SR_MAX_FIGS 16 /* rp_fig_new's table size (report_plots.c MAX_FIGS) */

typedef struct {
	char vals[8][64]; /* parameter values */
	size_t runs, failed;
	size_t n[SR_MAX_COLS];
	double mean[SR_MAX_COLS], m2[SR_MAX_COLS]; /* Welford: equal values give sd 0 exactly */
} sr_cell;

typedef struct {
	size_t ncols, np, nfig;
	char cols[SR_MAX_COLS][128];
	size_t fig0; /* first figure column */
	size_t ncells;
	sr_cell *cells; /* [SR_MAX_CELLS], indexed by the cell column */
	size_t nseeds_max;
} sr_data;

/* Split one CSV line into fields (double quotes as in RFC 4180, no newlines inside). */
static size_t csv_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;
	line[strcspn(line, "\r\n")] = '\0';
	for (;;) {
		if (n == max)
			return n;
		if (*p == '"') {
			char *w = ++p;
			f[n++] = w;
			while (*p && !(*p == '"' && p[1] != '"')) {
				if (*p == '"')
					p++;
				*w++ = *p++;
			}
			if (*p == '"')
				p++;
			*w = '\0';
			if (*p == ',') {
				*p++ = '\0';
				continue;
			}
			return n;
		}
		f[n++] = p;
		p += strcspn(p, ",");
		if (!*p)
			return n;
		*p++ = '\0';
	}
}

static int load_csv(const char *dir, sr_data *d, char *err, size_t errlen)
{
	char path[4200], line[8192];
	snprintf(path, sizeof path, "%s/sweep.csv", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return REPORT_EIO;
	}
	char *fl[SR_MAX_COLS + 1];
	long ln = 1;
	if (!fgets(line, sizeof line, f)) {
		snprintf(err, errlen, "%s: empty", path);
		fclose(f);
		return REPORT_EINPUT;
	}
	d->ncols = csv_fields(line, fl, SR_MAX_COLS + 1);
	size_t seed = 0, ok = 0;
	for (size_t i = 0; i < d->ncols && i < SR_MAX_COLS; i++) {
		snprintf(d->cols[i], sizeof d->cols[i], "%s", fl[i]);
		if (!strcmp(fl[i], "seed") && !seed)
			seed = i;
		if (!strcmp(fl[i], "ok") && !ok)
			ok = i;
	}
	if (d->ncols > SR_MAX_COLS || d->ncols < 5 || strcmp(d->cols[0], "run") || strcmp(d->cols[1], "cell") ||
	    !seed || ok != seed + 2 || seed - 2 > 8) {
		snprintf(err, errlen, "%s:1: expected the header run,cell,<parameters>,seed,exit,ok,<figures>", path);
		fclose(f);
		return REPORT_EINPUT;
	}
	d->np = seed - 2;
	d->fig0 = ok + 1;
	d->nfig = d->ncols - d->fig0;
	while (fgets(line, sizeof line, f)) {
		ln++;
		if (line[0] == '\n')
			continue;
		size_t n = csv_fields(line, fl, SR_MAX_COLS + 1);
		char *end;
		long cell = strtol(fl[1], &end, 10);
		if (n != d->ncols || *end || cell < 0 || cell >= SR_MAX_CELLS) {
			snprintf(err, errlen, "%s:%ld: expected %zu fields and a cell number below %d", path, ln,
				 d->ncols, SR_MAX_CELLS);
			fclose(f);
			return REPORT_EINPUT;
		}
		sr_cell *c = &d->cells[cell];
		if ((size_t)cell >= d->ncells)
			d->ncells = (size_t)cell + 1;
		for (size_t a = 0; a < d->np; a++)
			snprintf(c->vals[a], sizeof c->vals[a], "%s", fl[2 + a]);
		c->runs++;
		c->failed += strcmp(fl[ok], "1") != 0;
		for (size_t k = 0; k < d->nfig; k++) {
			const char *s = fl[d->fig0 + k];
			double v = *s ? strtod(s, &end) : NAN;
			if (*s && *end) {
				snprintf(err, errlen, "%s:%ld: %s: not a number: '%s'", path, ln, d->cols[d->fig0 + k], s);
				fclose(f);
				return REPORT_EINPUT;
			}
			if (!isfinite(v))
				continue;
			c->n[k]++;
			double delta = v - c->mean[k];
			c->mean[k] += delta / (double)c->n[k];
			c->m2[k] += delta * (v - c->mean[k]);
		}
		if (c->runs > d->nseeds_max)
			d->nseeds_max = c->runs;
	}
	fclose(f);
	return 0;
}

static double cell_mean(const sr_cell *c, size_t k) { return c->n[k] ? c->mean[k] : NAN; }

static double cell_sd(const sr_cell *c, size_t k)
{
	return c->n[k] < 2 || c->m2[k] <= 0 ? 0 : sqrt(c->m2[k] / (double)(c->n[k] - 1));
}

/* The cells' labels of everything but the first parameter ("" with one parameter). */
static void series_label(const sr_data *d, const sr_cell *c, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t a = 1; a < d->np; a++) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, "%s%s=%s", a > 1 ? ", " : "", d->cols[2 + a], c->vals[a]);
	}
}

static const char *fig_caption(const char *name)
{
	if (!strcmp(name, "iterations.success"))
		return "Committed iterations per run: mean over the seeds, error bars one standard deviation.";
	if (!strcmp(name, "iterations.success_rate"))
		return "Share of iterations that committed (committed / (committed + failed)): mean over the "
		       "seeds, error bars one standard deviation.";
	if (!strcmp(name, "latency.p99_ms"))
		return "The slowest device round's 99th-percentile latency (ms), device side: mean over the "
		       "seeds, error bars one standard deviation.";
	if (!strcmp(name, "time.to_accuracy_s"))
		return "Seconds until the first evaluation of the global model at the target accuracy (real "
		       "training; seeds that never reached it are left out): mean, error bars one standard deviation.";
	return "Mean over the seeds, error bars one standard deviation.";
}

static void draw(rp_plot_ctx *x, const sr_data *d, size_t k, const char *id)
{
	char title[200];
	snprintf(title, sizeof title, "%s against %s", d->cols[d->fig0 + k], d->np ? d->cols[2] : "the cell");
	char *t = strdup(title); /* rp_figure keeps pointers: owned by the page's strings below */
	rp_figure *g = rp_fig_new(x, id, t ? t : "figure", fig_caption(d->cols[d->fig0 + k]));
	if (!g) {
		free(t);
		return;
	}
	/* the x positions: the first parameter's values in grid order */
	char xs[64][64];
	size_t nx = 0;
	int numeric = 1;
	for (size_t c = 0; c < d->ncells; c++) {
		const char *v = d->np ? d->cells[c].vals[0] : "all";
		size_t i;
		for (i = 0; i < nx && strcmp(xs[i], v); i++)
			;
		if (i == nx && nx < 64) {
			snprintf(xs[nx++], 64, "%s", v);
			char *end;
			strtod(v, &end);
			numeric &= *v && !*end;
		}
	}
	char series[SR_MAX_CELLS > 64 ? 64 : SR_MAX_CELLS][200];
	size_t ns = 0;
	rp_buf b = {0};
	rp_preamble(x, &b, id, 420, 0);
	rp_buf_printf(&b, "set xlabel '%s'\nset ylabel '%s'\nset style data yerrorlines\n",
		      d->np ? d->cols[2] : "", d->cols[d->fig0 + k]);
	if (!numeric || nx == 1) {
		rp_buf_printf(&b, "set xrange [-0.5:%zu.5]\nset xtics (", nx - 1);
		for (size_t i = 0; i < nx; i++) {
			char p[64];
			rp_plain(p, sizeof p, xs[i]);
			rp_buf_printf(&b, "%s'%s' %zu", i ? ", " : "", p, i);
		}
		rp_buf_puts(&b, ")\n");
	} else {
		rp_buf_puts(&b, "set offsets graph 0.05, graph 0.05, graph 0.06, graph 0.06\n");
	}
	int first = 1, any = 0;
	for (size_t c = 0; c < d->ncells; c++) {
		char lab[200];
		series_label(d, &d->cells[c], lab, sizeof lab);
		size_t s;
		for (s = 0; s < ns && strcmp(series[s], lab); s++)
			;
		if (s < ns || ns == 64)
			continue;
		snprintf(series[ns++], sizeof series[0], "%s", lab);
		char file[96];
		snprintf(file, sizeof file, "%s-%zu.dat", id, s);
		FILE *f = rp_tmp_open(x, file, "w");
		if (!f)
			continue;
		size_t pts = 0;
		for (size_t c2 = c; c2 < d->ncells; c2++) {
			char l2[200];
			series_label(d, &d->cells[c2], l2, sizeof l2);
			if (strcmp(l2, lab) || !d->cells[c2].n[k])
				continue;
			size_t xi;
			for (xi = 0; xi < nx && strcmp(xs[xi], d->np ? d->cells[c2].vals[0] : "all"); xi++)
				;
			double xv = numeric && nx > 1 ? strtod(xs[xi], NULL) : (double)xi;
			rp_put_num(f, xv);
			rp_put_num(f, cell_mean(&d->cells[c2], k));
			rp_put_num(f, cell_sd(&d->cells[c2], k));
			fputc('\n', f);
			pts++;
		}
		fclose(f);
		if (!pts)
			continue;
		char pl[200];
		rp_plain(pl, sizeof pl, lab[0] ? lab : d->cols[d->fig0 + k]);
		rp_buf_printf(&b, "%s'%s' using 1:2:3 lw 2 pt 7 ps 0.6 lc rgb '%s' title '%s'", first ? "plot " : ", \\\n     ",
			      file, rp_colors[s % 10], pl);
		first = 0;
		any = 1;
	}
	rp_buf_puts(&b, "\n");
	if (any)
		rp_plot_run(x, g, &b);
	else
		snprintf(g->note, sizeof g->note, "not drawn: no run has this figure");
	rp_buf_free(&b);
}

static void rm_flat(const char *dir)
{
	DIR *dd = opendir(dir);
	struct dirent *e;
	char path[4400];
	while (dd && (e = readdir(dd))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (dd)
		closedir(dd);
	rmdir(dir);
}

static void put_num(rp_buf *b, double v)
{
	if (!isfinite(v))
		rp_buf_puts(b, "–");
	else if (fabs(v) >= 1000 || v == floor(v))
		rp_buf_printf(b, "%.0f", v);
	else
		rp_buf_printf(b, "%.3g", v);
}

/* The sweep's definition from DIR/summary.json, when there: scenario, seeds, options. */
static void sweep_note(rp_buf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	rp_buf t = {0};
	char chunk[16384];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && t.len < (64u << 20))
		rp_buf_put(&t, chunk, n);
	fclose(f);
	cJSON *j = t.oom ? NULL : cJSON_ParseWithLength(rp_buf_str(&t), t.len);
	rp_buf_free(&t);
	const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sweep");
	const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(sw, "seeds");
	const char *file = rp_str(sw, "file"), *dur = rp_str(sw, "duration");
	if (file && cJSON_GetArraySize(seeds) == 2) {
		rp_buf_puts(b, "<code>");
		rp_buf_html(b, file);
		rp_buf_printf(b, "</code>, seeds %.0f to %.0f", cJSON_GetArrayItem(seeds, 0)->valuedouble,
			      cJSON_GetArrayItem(seeds, 1)->valuedouble);
		if (dur) {
			rp_buf_puts(b, ", ");
			rp_buf_html(b, dur);
			rp_buf_puts(b, " each");
		}
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sw, "swarm")))
			rp_buf_puts(b, ", swarm");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sw, "invariants_only")))
			rp_buf_puts(b, ", judged on invariants only");
		rp_buf_puts(b, ": ");
	}
	cJSON_Delete(j);
}

static void page(rp_buf *b, const char *dir, const sr_data *d, const rp_figures *figs)
{
	rp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>sweep: ");
	rp_buf_html(b, dir);
	rp_buf_puts(b, "</title>\n<style>body{font-family:system-ui,sans-serif;color:#222;max-width:1060px;"
		       "margin:24px auto;padding:0 16px;line-height:1.45}table{border-collapse:collapse;"
		       "font-size:.93em}td,th{border:1px solid #ccc;padding:3px 9px;text-align:left}"
		       "th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}"
		       ".note{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px}"
		       ".cap{color:#555}.fail{color:#b3261e;font-weight:bold}svg{width:100%;height:auto}"
		       "</style></head><body>\n<h1>Parameter sweep</h1>\n<p>");
	size_t runs = 0, failed = 0;
	for (size_t c = 0; c < d->ncells; c++)
		runs += d->cells[c].runs, failed += d->cells[c].failed;
	char path[4200];
	snprintf(path, sizeof path, "%s/summary.json", dir);
	sweep_note(b, path);
	rp_buf_printf(b, "%zu cells, %zu runs, <span class=\"%s\">%zu failed</span>. Outputs in <code>",
		      d->ncells, runs, failed ? "fail" : "", failed);
	rp_buf_html(b, dir);
	rp_buf_puts(b, "</code>: <code>sweep.csv</code> (one row per run), <code>summary.json</code>, "
		       "<code>failing.txt</code> (replay commands), <code>junit.xml</code>.</p>\n");
	rp_buf_puts(b, "<h2>Figures</h2>\n");
	if (figs->gnuplot_missing)
		rp_buf_puts(b, "<p class=\"note\">gnuplot is not installed (apt-get install gnuplot-nox): "
			       "no plots, the table below has the figures.</p>\n");
	for (size_t i = 0; i < figs->n; i++) {
		const rp_figure *g = &figs->figs[i];
		rp_buf_printf(b, "<h3 id=\"fig-%s\">", g->id);
		rp_buf_html(b, g->title);
		rp_buf_puts(b, "</h3>\n<p class=\"cap\">");
		rp_buf_html(b, g->caption);
		rp_buf_puts(b, "</p>\n");
		if (g->note[0]) {
			rp_buf_puts(b, "<p class=\"note\">");
			rp_buf_html(b, g->note);
			rp_buf_puts(b, "</p>\n");
		}
		if (g->svg) {
			rp_buf_puts(b, "<figure class=\"plot\">\n");
			rp_buf_puts(b, g->svg);
			rp_buf_puts(b, "\n</figure>\n");
		}
	}
	rp_buf_puts(b, "<h2>Cells</h2>\n<table><tr><th>cell</th>");
	for (size_t a = 0; a < d->np; a++) {
		rp_buf_puts(b, "<th>");
		rp_buf_html(b, d->cols[2 + a]);
		rp_buf_puts(b, "</th>");
	}
	rp_buf_puts(b, "<th>runs</th><th>failed</th>");
	for (size_t k = 0; k < d->nfig; k++) {
		rp_buf_puts(b, "<th>");
		rp_buf_html(b, d->cols[d->fig0 + k]);
		rp_buf_puts(b, " (mean ± sd)</th>");
	}
	rp_buf_puts(b, "</tr>\n");
	for (size_t c = 0; c < d->ncells; c++) {
		const sr_cell *cl = &d->cells[c];
		if (!cl->runs)
			continue;
		rp_buf_printf(b, "<tr><td class=\"n\">%zu</td>", c);
		for (size_t a = 0; a < d->np; a++) {
			rp_buf_puts(b, "<td>");
			rp_buf_html(b, cl->vals[a]);
			rp_buf_puts(b, "</td>");
		}
		rp_buf_printf(b, "<td class=\"n\">%zu</td><td class=\"n%s\">%zu</td>", cl->runs,
			      cl->failed ? " fail" : "", cl->failed);
		for (size_t k = 0; k < d->nfig; k++) {
			rp_buf_puts(b, "<td class=\"n\">");
			if (cl->n[k]) {
				put_num(b, cell_mean(cl, k));
				rp_buf_puts(b, " ± ");
				put_num(b, cell_sd(cl, k));
			} else {
				rp_buf_puts(b, "–");
			}
			rp_buf_puts(b, "</td>");
		}
		rp_buf_puts(b, "</tr>\n");
	}
	rp_buf_puts(b, "</table>\n</body></html>\n");
}

int sweep_report_write(const char *dir, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	sr_data d;
	memset(&d, 0, sizeof d);
	d.cells = calloc(SR_MAX_CELLS, sizeof *d.cells);
	if (!d.cells) {
		snprintf(err, errlen, "out of memory");
		return REPORT_ENOMEM;
	}
	int rc = load_csv(dir, &d, err, errlen);
	if (rc) {
		free(d.cells);
		return rc;
	}
	rp_figures figs;
	memset(&figs, 0, sizeof figs);
	figs.figs = calloc(SR_MAX_FIGS, sizeof *figs.figs);
	rp_plot_ctx x = {.out = &figs, .tscale = 1, .tunit = "s", .xmax = 1};
	const char *td = getenv("TMPDIR");
	snprintf(x.tmp, sizeof x.tmp, "%s/flbench-sweep-XXXXXX", td && *td ? td : "/tmp");
	if (!figs.figs || !mkdtemp(x.tmp)) {
		snprintf(err, errlen, "cannot create a temporary directory %s: %s", x.tmp, strerror(errno));
		free(figs.figs);
		free(d.cells);
		return REPORT_EIO;
	}
	static const char *const ids[SR_MAX_FIGS] = {"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7",
						     "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15"};
	for (size_t k = 0; k < d.nfig && k < SR_MAX_FIGS; k++) {
		int has = 0;
		for (size_t c = 0; c < d.ncells; c++)
			has |= d.cells[c].n[k] > 0;
		if (!has) {
			/* a figure no run has (time to accuracy without real training): say so, no plot */
			rp_figure *g = rp_fig_new(&x, ids[k], strdup(d.cols[d.fig0 + k]), fig_caption(d.cols[d.fig0 + k]));
			if (g)
				snprintf(g->note, sizeof g->note, "not drawn: no run has this figure%s",
					 !strcmp(d.cols[d.fig0 + k], "time.to_accuracy_s") ? " (the scenario does not "
					 "train a real model)" : "");
			continue;
		}
		draw(&x, &d, k, ids[k]);
	}
	rm_flat(x.tmp);
	rp_buf b = {0};
	page(&b, dir, &d, &figs);
	int no_gnuplot = figs.gnuplot_missing;
	for (size_t i = 0; i < figs.n; i++)
		free((char *)figs.figs[i].title);
	rp_plots_free(&figs);
	free(d.cells);
	if (b.oom) {
		rp_buf_free(&b);
		snprintf(err, errlen, "out of memory");
		return REPORT_ENOMEM;
	}
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/sweep.html", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int ok = f && fputs(rp_buf_str(&b), f) >= 0;
	if (f && fclose(f))
		ok = 0;
	rp_buf_free(&b);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s", path);
		return REPORT_EIO;
	}
	if (no_gnuplot)
		snprintf(err, errlen, "gnuplot is not installed: %s has no plots", path);
	return 0;
}
