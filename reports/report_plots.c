/*
 * report_plots.c — the report's figures: data files and gnuplot scripts written to a temporary
 * directory, one gnuplot process per figure (so one bad figure cannot take the others down),
 * and the SVG it draws made fit to inline into the page.
 *
 * gnuplot is looked up on PATH. When it is not there the figures carry a note instead of an SVG
 * and the caller says how to install it.
 */
#include "report.h"
#include "report_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FIGS 16
#define MAX_POINTS 1500   /* per series: more only makes the page heavy, not clearer */
#define MAX_KEYED 16      /* more series than this get no key entries */
#define MAX_LABELS 40     /* more fault labels than this only overlap */
#define MAX_FAULT_LINES 40 /* more faults get short ticks along the top edge, no labels */


enum { AG_MEAN, AG_MAX, AG_LAST, AG_RATE };

/* One plotted column computed from CSV columns: their sum per row, aggregated per bucket. */
typedef struct {
	const char *cols[4]; /* NULL-terminated */
	int agg;
	int zero_nan;        /* 0 means "no sample" (latency percentiles of an idle second) */
	int y2;              /* drawn against the right axis */
	double scale;        /* multiply the values by this (0: by 1) */
} series;

void rp_put_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %.9g", v);
	else
		fputs(" NaN", f); /* gnuplot's undefined value: the line breaks there */
}

rp_figure *rp_fig_new(rp_plot_ctx *x, const char *id, const char *title, const char *caption)
{
	rp_figures *o = x->out;
	if (o->n == MAX_FIGS)
		return NULL;
	rp_figure *g = &o->figs[o->n++];
	memset(g, 0, sizeof *g);
	g->id = id;
	g->title = title;
	g->caption = caption;
	return g;
}

FILE *rp_tmp_open(const rp_plot_ctx *x, const char *name, const char *mode)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", x->tmp, name);
	return fopen(path, mode);
}

/* Per-bucket accumulators of write_series(). */
typedef struct {
	double acc[8];
	size_t cnt[8];
} bucket_acc;

static void bucket_emit(const rp_plot_ctx *x, FILE *f, double t, double prev_t, const series *s, size_t ns,
			const bucket_acc *a, int *has)
{
	rp_put_num(f, t / x->tscale);
	for (size_t i = 0; i < ns; i++) {
		double v = NAN;
		if (a->cnt[i] && s[i].agg == AG_MEAN)
			v = a->acc[i] / (double)a->cnt[i];
		else if (a->cnt[i] && s[i].agg == AG_RATE)
			v = t > prev_t ? a->acc[i] / (t - prev_t) : NAN;
		else if (a->cnt[i])
			v = a->acc[i];
		v *= s[i].scale != 0 ? s[i].scale : 1;
		if (isfinite(v))
			has[i] = 1;
		rp_put_num(f, v);
	}
	fputc('\n', f);
}

/*
 * Rows of c (all, or those whose text column is `label`), in buckets of rows so that no series
 * has more than MAX_POINTS points. Writes "x v1 v2 ..." lines, and a blank line where rows are
 * missing for a while (a server that was down): gnuplot does not draw a line across it.
 * has[i] is set when series i has a finite value. Returns the number of points written.
 */
static size_t write_series(const rp_plot_ctx *x, FILE *f, const rp_csv *c, int label, const series *s,
			   size_t ns, int *has)
{
	int tcol = rp_csv_col(c, "t");
	int idx[8][4];
	size_t nrows = 0, lines = 0;
	double t0 = NAN, t1 = NAN;
	for (size_t r = 0; r < c->nrows; r++)
		if (label < 0 || (int)rp_csv_at(c, r, c->strcol) == label) {
			t1 = rp_csv_at(c, r, tcol);
			t0 = nrows++ ? t0 : t1;
		}
	if (tcol < 0 || !nrows || ns > 8)
		return 0;
	for (size_t i = 0; i < ns; i++)
		for (size_t k = 0; k < 4; k++)
			idx[i][k] = s[i].cols[k] ? rp_csv_col(c, s[i].cols[k]) : -2;
	/* rows come once a second (docs/outputs.md); a hole of several intervals is a gap */
	double step = nrows > 1 ? (t1 - t0) / (double)(nrows - 1) : 1.0;
	double gap = 2.5 * (step > 1.0 ? step : 1.0);
	size_t bucket = (nrows + MAX_POINTS - 1) / MAX_POINTS;
	bucket_acc a;
	double prev_t = NAN, last = NAN;
	size_t in_bucket = 0, seen = 0;
	for (size_t r = 0; r < c->nrows; r++) {
		if (label >= 0 && (int)rp_csv_at(c, r, c->strcol) != label)
			continue;
		double tr = rp_csv_at(c, r, tcol);
		if (tr - last > gap) {
			if (in_bucket)
				bucket_emit(x, f, last, prev_t, s, ns, &a, has), lines++;
			fputc('\n', f);
			in_bucket = 0;
			prev_t = NAN;
		}
		if (in_bucket == 0) {
			for (size_t i = 0; i < ns; i++) {
				a.acc[i] = s[i].agg == AG_MAX ? -INFINITY : 0;
				a.cnt[i] = 0;
			}
		}
		if (isnan(prev_t)) /* the interval before the first row: as long as the others */
			prev_t = tr >= step ? tr - step : 0.0;
		last = tr;
		for (size_t i = 0; i < ns; i++) {
			double v = 0;
			for (size_t k = 0; k < 4 && idx[i][k] != -2; k++)
				v += rp_csv_at(c, r, idx[i][k]); /* a missing column gives NaN */
			if (!isfinite(v) || (s[i].zero_nan && v == 0))
				continue;
			if (s[i].agg == AG_MAX)
				a.acc[i] = v > a.acc[i] ? v : a.acc[i];
			else if (s[i].agg == AG_LAST)
				a.acc[i] = v;
			else
				a.acc[i] += v;
			a.cnt[i]++;
		}
		seen++;
		if (++in_bucket < bucket && seen < nrows)
			continue;
		bucket_emit(x, f, tr, prev_t, s, ns, &a, has);
		lines++;
		prev_t = tr;
		in_bucket = 0;
	}
	return lines;
}

/* s cut to at most max (< 40) characters, ".." marking a cut. */
static void shorten(char dst[40], const char *s, size_t max)
{
	snprintf(dst, 40, "%s", s);
	if (strlen(dst) > max)
		snprintf(dst + max - 2, 40 - (max - 2), "..");
}

/* The common head of every script; time plots also get the fault markers. */
void rp_preamble(const rp_plot_ctx *x, rp_buf *b, const char *id, int height, int time_axis)
{
	/* noenhanced: names like SCALE_OUT and server/2 are text, not gnuplot markup */
	rp_buf_printf(b, "set terminal svg size 960,%d dynamic noenhanced font 'sans,11' background '#ffffff'\n",
		      height);
	rp_buf_printf(b, "set output '%s.svg'\n", id);
	rp_buf_puts(b, "set encoding utf8\n"
		       "set grid xtics ytics lc rgb '#e4e4e4' lt 1\n"
		       "set border 3 lc rgb '#555555'\n"
		       "set tics nomirror textcolor rgb '#333333'\n"
		       "set key below horizontal noenhanced samplen 2 spacing 1.1\n"
		       "set style data lines\n"
		       "set offsets 0, 0, graph 0.06, 0\n");
	if (!time_axis)
		return;
	rp_buf_printf(b, "set xlabel 'time since the start of the run (%s)'\n", x->tunit);
	rp_buf_printf(b, "set xrange [0:%.9g]\n", x->xmax);
	if (x->nfaults > MAX_FAULT_LINES) {
		/* full-height lines would hatch the whole plot red */
		for (size_t i = 0; i < x->nfaults; i++) {
			double fx = x->faults[i].t / x->tscale;
			if (isfinite(fx))
				rp_buf_printf(b, "set arrow from %.9g, graph 1 to %.9g, graph 0.95 nohead "
						 "lc rgb '#c0392b' lw 1 front\n", fx, fx);
		}
		return;
	}
	/* a dashed red line per fault; faults closer than 2% of the axis share one label */
	size_t labels = 0;
	for (size_t i = 0; i < x->nfaults; i++) {
		double fx = x->faults[i].t / x->tscale;
		if (!isfinite(fx))
			continue;
		rp_buf_printf(b, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb '#c0392b' "
				 "dt 2 lw 1 front\n", fx, fx);
		size_t j = i + 1;
		while (j < x->nfaults && x->faults[j].t / x->tscale - fx < 0.02 * x->xmax)
			j++;
		/* labels hang down from the top: long ones would cross the data and the axis, the
		 * fault table has the details */
		char text[256], one[40], two[40];
		shorten(one, x->faults[i].label, j - i == 2 ? 20 : 30);
		shorten(two, j - i == 2 ? x->faults[i + 1].label : "", 20);
		if (j - i == 1)
			snprintf(text, sizeof text, "F%zu %s", i + 1, one);
		else if (j - i == 2)
			snprintf(text, sizeof text, "F%zu %s; F%zu %s", i + 1, one, i + 2, two);
		else
			snprintf(text, sizeof text, "F%zu-F%zu (%zu faults)", i + 1, j, j - i);
		if (labels++ < MAX_LABELS)
			rp_buf_printf(b, "set label '%s' at %.9g, graph 0.99 rotate by 90 right offset -0.75,0 "
					 "font ',8' textcolor rgb '#c0392b' front\n", text, fx);
		for (size_t k = i + 1; k < j; k++)
			rp_buf_printf(b, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb '#c0392b' "
					 "dt 2 lw 1 front\n", x->faults[k].t / x->tscale, x->faults[k].t / x->tscale);
		i = j - 1;
	}
}

/* Prefix every id and local reference with "f<n>-": several gnuplot SVGs in one page would
 * otherwise share ids such as gpPt1 and textbox. */
static char *svg_adapt(const char *svg, size_t n, const char *title)
{
	static const char *const pats[] = { "id='", "id=\"", "href='#", "href=\"#", "url(#" };
	rp_buf b = { 0 };
	const char *p = svg;
	while (*p) {
		if (!strncmp(p, "<title>Gnuplot</title>", 22)) {
			rp_buf_puts(&b, "<title>");
			rp_buf_html(&b, title);
			rp_buf_puts(&b, "</title>");
			p += 22;
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof pats / sizeof *pats; k++)
			if (!strncmp(p, pats[k], strlen(pats[k])))
				break;
		if (k < sizeof pats / sizeof *pats) {
			rp_buf_puts(&b, pats[k]);
			rp_buf_printf(&b, "f%zu-", n);
			p += strlen(pats[k]);
			continue;
		}
		rp_buf_put(&b, p, 1);
		p++;
	}
	if (b.oom) {
		rp_buf_free(&b);
		return NULL;
	}
	return b.p;
}

/*
 * Run `gnuplot -d NAME` in the temp dir (-d: no user init file can restyle the figures), output
 * to NAME.log. Returns the exit status, or -ENOENT when gnuplot is not on PATH.
 */
static int gnuplot_exec(const rp_plot_ctx *x, char *const *argv, const char *log)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int nul = open("/dev/null", O_RDONLY);
		if (chdir(x->tmp) == 0 && fd >= 0 && nul >= 0 && dup2(nul, 0) >= 0 && dup2(fd, 1) >= 0 &&
		    dup2(fd, 2) >= 0) {
			execvp("gnuplot", argv);
		}
		int e = errno; /* tell the parent why exec failed, through the close-on-exec pipe */
		if (write(pfd[1], &e, sizeof e) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	int e = 0, st = 0;
	ssize_t got;
	while ((got = read(pfd[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof e)
		return e == ENOENT ? -ENOENT : -(e ? e : EIO);
	if (w < 0) /* SIGCHLD ignored by the embedding program: the status is gone, the SVG tells */
		return 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *read_small(const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	rp_buf b = { 0 };
	char chunk[16384];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < max)
		rp_buf_put(&b, chunk, n);
	fclose(f);
	rp_buf_put(&b, "", 0);
	if (b.oom) {
		rp_buf_free(&b);
		return NULL;
	}
	return b.p;
}

void rp_plot_run(rp_plot_ctx *x, rp_figure *g, rp_buf *script)
{
	char path[4200], log[4200];
	if (x->out->gnuplot_missing) {
		snprintf(g->note, sizeof g->note, "not drawn: gnuplot is not installed");
		return;
	}
	if (script->oom) {
		snprintf(g->note, sizeof g->note, "not drawn: out of memory");
		return;
	}
	snprintf(path, sizeof path, "%s/%s.gp", x->tmp, g->id);
	snprintf(log, sizeof log, "%s/%s.log", x->tmp, g->id);
	FILE *f = fopen(path, "w");
	if (!f || fputs(rp_buf_str(script), f) < 0 || fclose(f)) {
		snprintf(g->note, sizeof g->note, "not drawn: cannot write %.200s", path);
		return;
	}
	char name[80];
	snprintf(name, sizeof name, "%s.gp", g->id);
	char *argv[] = { "gnuplot", "-d", name, NULL };
	int rc = gnuplot_exec(x, argv, log);
	if (rc == -ENOENT) {
		x->out->gnuplot_missing = 1;
		snprintf(g->note, sizeof g->note, "not drawn: gnuplot is not installed");
		return;
	}
	if (rc != 0) {
		char *msg = read_small(log, 4096), first[160] = "";
		if (msg) {
			char *s = msg;
			while (*s == '\n' || *s == ' ')
				s++;
			s[strcspn(s, "\n")] = '\0';
			rp_plain(first, sizeof first, s);
		}
		free(msg);
		snprintf(g->note, sizeof g->note, "not drawn: gnuplot failed (%d): %s", rc, first);
		return;
	}
	snprintf(path, sizeof path, "%s/%s.svg", x->tmp, g->id);
	char *svg = read_small(path, 64u << 20);
	const char *start = svg ? strstr(svg, "<svg") : NULL;
	/* the SVG is our own drawing: anything scripted or linked means something went wrong */
	if (!start || strstr(start, "<script") || strstr(start, "href='http") || strstr(start, "href=\"http")) {
		snprintf(g->note, sizeof g->note, "not drawn: gnuplot wrote no usable SVG");
		free(svg);
		return;
	}
	g->svg = svg_adapt(start, x->out->n, g->title);
	free(svg);
	if (!g->svg)
		snprintf(g->note, sizeof g->note, "not drawn: out of memory");
}

/* A plot clause per series that has data: `'file' using 1:COL <style> title 'T'`. */
static void add_clause(rp_buf *b, int *first, const char *file, int col, const char *title, const char *style)
{
	rp_buf_puts(b, *first ? "plot " : ", \\\n     ");
	*first = 0;
	rp_buf_printf(b, "'%s' using 1:%d %s", file, col, style);
	if (title)
		rp_buf_printf(b, " title '%s'", title);
	else
		rp_buf_puts(b, " notitle");
}

const char *const rp_colors[10] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
				      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };

/* A time plot of series from one CSV (metrics.csv: all series from one file; servers.csv:
 * series 0 only, one file per server). Returns 1 when something was drawable. */
static int csv_plot(rp_plot_ctx *x, rp_figure *g, const rp_csv *c, const char *cname, int per_server,
		    const series *s, const char *const *titles, size_t ns, const char *ylabel,
		    const char *extra)
{
	char file[96];
	rp_buf b = { 0 };
	rp_preamble(x, &b, g->id, 330, 1);
	rp_buf_printf(&b, "set ylabel '%s'\n", ylabel);
	if (extra)
		rp_buf_puts(&b, extra);
	int first = 1;
	size_t nrows = 0;
	if (per_server) {
		size_t nl = c->nlabels;
		for (size_t l = 0; l < nl; l++) {
			int has[8] = { 0 };
			snprintf(file, sizeof file, "%s-%zu.dat", g->id, l);
			FILE *f = rp_tmp_open(x, file, "w");
			if (!f)
				continue;
			nrows += write_series(x, f, c, (int)l, s, 1, has);
			fclose(f);
			char name[80], title[96];
			rp_plain(name, sizeof name, c->labels[l]);
			snprintf(title, sizeof title, "%s%s", strchr(name, '/') ? "" : "server ", name);
			char style[96];
			snprintf(style, sizeof style, "with lines lw 1.5 lc rgb '%s'",
				 rp_colors[l % (sizeof rp_colors / sizeof *rp_colors)]);
			if (has[0])
				add_clause(&b, &first, file, 2, nl <= MAX_KEYED ? title : NULL, style);
		}
		if (nl > MAX_KEYED)
			snprintf(g->note, sizeof g->note, "%zu servers: lines are not named in the key", nl);
	} else {
		int has[8] = { 0 };
		snprintf(file, sizeof file, "%s.dat", g->id);
		FILE *f = rp_tmp_open(x, file, "w");
		if (f) {
			nrows = write_series(x, f, c, -1, s, ns, has);
			fclose(f);
		}
		for (size_t i = 0; i < ns; i++) {
			char style[96];
			snprintf(style, sizeof style, "%swith %s lw 1.5 lc rgb '%s'", s[i].y2 ? "axes x1y2 " : "",
				 s[i].agg == AG_LAST ? "steps" : "lines", rp_colors[i % 10]);
			if (has[i])
				add_clause(&b, &first, file, (int)i + 2, titles[i], style);
		}
	}
	if (first) {
		if (!g->note[0])
			snprintf(g->note, sizeof g->note, "nothing to draw: %s has no values for this figure",
				 cname);
		rp_buf_free(&b);
		return 0;
	}
	rp_buf_puts(&b, "\n");
	if (nrows && c->nrows / nrows > 1 && !g->note[0])
		snprintf(g->note, sizeof g->note, "each point summarises about %zu rows of %s",
			 c->nrows / nrows, cname);
	rp_plot_run(x, g, &b);
	rp_buf_free(&b);
	return 1;
}

void rp_missing_note(rp_figure *g, const char *file, int state)
{
	snprintf(g->note, sizeof g->note, "not drawn: %s %s", file,
		 state == RP_MISSING ? "is missing from the output directory" : "has no data rows");
}

/* ---- the figures ---- */


static void fig_latency(rp_plot_ctx *x, const rp_input *in)
{
	static const char *const rounds[] = { "startFLJob", "updateModel", "getModel" };
	static const char *const ids[] = { "latency-startFLJob", "latency-updateModel", "latency-getModel" };
	static const char *const titles[] = { "Request latency: startFLJob (devices ask to join an iteration)",
					      "Request latency: updateModel (devices upload their update)",
					      "Request latency: getModel (devices fetch the new global model)" };
	for (size_t r = 0; r < 3; r++) {
		rp_figure *g = rp_fig_new(x, ids[r], titles[r],
				       "Time from a device sending the request to receiving the answer, as the "
				       "devices measured it: median (p50), 90th and 99th percentile of the requests "
				       "that finished in each second. Gaps mean no request finished then.");
		if (!g)
			return;
		if (in->metrics.state != RP_PRESENT) {
			rp_missing_note(g, "metrics.csv", in->metrics.state);
			continue;
		}
		char c[3][40];
		series s[3];
		const char *t[3] = { "p50 (median)", "p90", "p99" };
		for (int i = 0; i < 3; i++) {
			snprintf(c[i], sizeof c[i], "p%d_%s_ms", i == 0 ? 50 : i == 1 ? 90 : 99, rounds[r]);
			s[i] = (series){ .cols = { c[i], NULL }, .agg = AG_MAX, .zero_nan = 1 };
		}
		csv_plot(x, g, &in->metrics, "metrics.csv", 0, s, t, 3, "latency (ms)", "set yrange [0:*]\n");
	}
}

static void fig_traffic(rp_plot_ctx *x, const rp_input *in)
{
	rp_figure *g = rp_fig_new(x, "requests", "Device requests per second, whole cluster",
			       "Requests the devices sent to all servers each second, by round; 'rejected' "
			       "counts answers that turned a device away (not ready, out of time, bad "
			       "timestamp); 'connection errors' are resets, refusals and timeouts.");
	if (g && in->metrics.state != RP_PRESENT)
		rp_missing_note(g, "metrics.csv", in->metrics.state);
	else if (g) {
		const series s[] = { { .cols = { "req_startFLJob" }, .agg = AG_RATE }, { .cols = { "req_updateModel" }, .agg = AG_RATE },
				     { .cols = { "req_getModel" }, .agg = AG_RATE },
				     { .cols = { "rej_startFLJob", "rej_updateModel", "rej_getModel" }, .agg = AG_RATE },
				     { .cols = { "conn_errors" }, .agg = AG_RATE } };
		const char *t[] = { "startFLJob", "updateModel", "getModel", "rejected (all rounds)",
				    "connection errors" };
		csv_plot(x, g, &in->metrics, "metrics.csv", 0, s, t, 5, "requests per second", "set yrange [0:*]\n");
	}
	g = rp_fig_new(x, "server-requests", "Requests per second, per server",
		    "Device requests each server handled per second. A server that was killed or paused "
		    "drops to nothing; after a scale-out new servers appear.");
	const series sr[] = { { .cols = { "requests" }, .agg = AG_RATE } };
	if (g && in->servers.state != RP_PRESENT)
		rp_missing_note(g, "servers.csv", in->servers.state);
	else if (g)
		csv_plot(x, g, &in->servers, "servers.csv", 1, sr, NULL, 1, "requests per second", "set yrange [0:*]\n");
	g = rp_fig_new(x, "server-bytes", "Bytes per second, per server",
		    "Device API traffic (request and response bytes together) each server moved per second.");
	const series sb[] = { { .cols = { "bytes_in", "bytes_out" }, .agg = AG_RATE } };
	if (g && in->servers.state != RP_PRESENT)
		rp_missing_note(g, "servers.csv", in->servers.state);
	else if (g)
		csv_plot(x, g, &in->servers, "servers.csv", 1, sb, NULL, 1, "bytes per second",
			 "set yrange [0:*]\nset format y '%.1s %cB'\n");
}

static void fig_cluster(rp_plot_ctx *x, const rp_input *in)
{
	static const char *const states[] = { "STARTING", "READY", "EXIT", "NODE_TIMEOUT", "SCALE_OUT",
					      "SCALE_IN", "NEW_INSTANCE", "ENABLE_FLS", "DISABLE_FLS",
					      "SCHEDULER_RECOVERY" };
	rp_figure *g = rp_fig_new(x, "cluster", "Cluster size and state",
			       "Servers alive (left axis) and the scheduler's cluster state (right axis; "
			       "READY is the normal state, the others are transitions or trouble). The "
			       "dashed red lines are the injected faults, numbered as in the fault table.");
	if (!g)
		return;
	if (in->metrics.state != RP_PRESENT) {
		rp_missing_note(g, "metrics.csv", in->metrics.state);
		return;
	}
	int sc = rp_csv_col(&in->metrics, "cluster_state");
	int seen[10] = { 0 };
	double maxs = 0;
	for (size_t r = 0; r < in->metrics.nrows; r++) {
		double v = rp_csv_at(&in->metrics, r, sc);
		if (v >= 0 && v < 10)
			seen[(int)v] = 1;
		double a = rp_csv_at(&in->metrics, r, rp_csv_col(&in->metrics, "servers_alive"));
		maxs = a > maxs ? a : maxs;
	}
	rp_buf extra = { 0 };
	rp_buf_printf(&extra, "set yrange [0:%g]\nset ytics 1\nset y2range [-0.5:9.5]\nset y2tics (", maxs + 1);
	int any = 0;
	for (int i = 0; i < 10; i++)
		if (seen[i])
			rp_buf_printf(&extra, "%s'%s' %d", any++ ? ", " : "", states[i], i);
	if (!any)
		rp_buf_puts(&extra, "'READY' 1");
	rp_buf_puts(&extra, ")\nset y2tics nomirror\nset y2label 'cluster state'\n");
	const series s[] = { { .cols = { "servers_alive" }, .agg = AG_LAST }, { .cols = { "cluster_state" }, .agg = AG_LAST, .y2 = 1 } };
	const char *t[] = { "servers alive", "cluster state (right axis)" };
	csv_plot(x, g, &in->metrics, "metrics.csv", 0, s, t, 2, "servers alive", rp_buf_str(&extra));
	rp_buf_free(&extra);
}

static void fig_fleet(rp_plot_ctx *x, const rp_input *in)
{
	rp_figure *g = rp_fig_new(x, "fleet", "Devices: fleet size and devices online",
			       "How many simulated devices existed and how many were online (able to "
			       "take part) at each moment.");
	if (!g)
		return;
	if (in->metrics.state != RP_PRESENT) {
		rp_missing_note(g, "metrics.csv", in->metrics.state);
		return;
	}
	const series s[] = { { .cols = { "devices" }, .agg = AG_MEAN }, { .cols = { "devices_online" }, .agg = AG_MEAN } };
	const char *t[] = { "devices in the fleet", "devices online" };
	csv_plot(x, g, &in->metrics, "metrics.csv", 0, s, t, 2, "devices", "set yrange [0:*]\n");
}

static void fig_clock(rp_plot_ctx *x, const rp_input *in)
{
	rp_figure *g = rp_fig_new(x, "clock", "Clock offset per server",
			       "How far each server's wall clock was from true time. Injected clock "
			       "skew shows as a jump; requests with timestamps too far from a server's "
			       "clock are rejected (replay protection).");
	if (!g)
		return;
	if (in->servers.state != RP_PRESENT) {
		rp_missing_note(g, "servers.csv", in->servers.state);
		return;
	}
	/* skew is often minutes: label in seconds then */
	int oc = rp_csv_col(&in->servers, "clock_offset_ms");
	double big = 0;
	for (size_t r = 0; r < in->servers.nrows; r++) {
		double v = fabs(rp_csv_at(&in->servers, r, oc));
		big = v > big ? v : big;
	}
	const series s[] = { { .cols = { "clock_offset_ms" }, .agg = AG_MEAN, .scale = big >= 10000 ? 0.001 : 1 } };
	csv_plot(x, g, &in->servers, "servers.csv", 1, s, NULL, 1,
		 big >= 10000 ? "clock offset (s)" : "clock offset (ms)", NULL);
}

/* ---- driver ---- */

/* The temp dir is ours (mkdtemp) and flat: remove its files, then it. */
static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int rp_plots_make(const rp_input *in, rp_figures *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	rp_plot_ctx x = { .out = out, .tscale = 1, .tunit = "s" };
	out->figs = calloc(MAX_FIGS, sizeof *out->figs);
	if (!out->figs || rp_faults(in, &x.faults, &x.nfaults)) {
		snprintf(err, errlen, "out of memory");
		return REPORT_ENOMEM;
	}
	out->faults_as_ticks = x.nfaults > MAX_FAULT_LINES;
	const char *td = getenv("TMPDIR");
	snprintf(x.tmp, sizeof x.tmp, "%s/flbench-report-XXXXXX", td && *td ? td : "/tmp");
	int made = mkdtemp(x.tmp) != NULL;
	if (!made && td && *td) { /* a stale $TMPDIR should not cost the plots */
		snprintf(x.tmp, sizeof x.tmp, "/tmp/flbench-report-XXXXXX");
		made = mkdtemp(x.tmp) != NULL;
	}
	if (!made) {
		snprintf(err, errlen, "cannot create a temporary directory %s: %s", x.tmp, strerror(errno));
		free(x.faults);
		return REPORT_EIO;
	}
	/* the time axis: the end of the run, in a unit that keeps the numbers short */
	double tmax = in->summary ? rp_num(in->summary, "sim_time_s") : NAN;
	tmax = isfinite(tmax) ? tmax : 0;
	int tc = rp_csv_col(&in->metrics, "t"), ts = rp_csv_col(&in->servers, "t");
	if (in->metrics.nrows && rp_csv_at(&in->metrics, in->metrics.nrows - 1, tc) > tmax)
		tmax = rp_csv_at(&in->metrics, in->metrics.nrows - 1, tc);
	if (in->servers.nrows && rp_csv_at(&in->servers, in->servers.nrows - 1, ts) > tmax)
		tmax = rp_csv_at(&in->servers, in->servers.nrows - 1, ts);
	for (size_t i = 0; i < in->events.n; i++) {
		double t = rp_num(in->events.items[i], "t");
		tmax = t > tmax ? t : tmax;
	}
	if (tmax > 72000)
		x.tscale = 3600, x.tunit = "h";
	else if (tmax > 1200)
		x.tscale = 60, x.tunit = "min";
	x.xmax = tmax > 0 ? tmax / x.tscale : 1;

	char log[4200];
	snprintf(log, sizeof log, "%s/version.log", x.tmp);
	char *argv[] = { "gnuplot", "--version", NULL };
	int rc = gnuplot_exec(&x, argv, log);
	if (rc == -ENOENT) {
		out->gnuplot_missing = 1;
	} else {
		char *v = read_small(log, 256);
		if (v) {
			v[strcspn(v, "\n")] = '\0';
			rp_plain(out->gnuplot_version, sizeof out->gnuplot_version, v);
		}
		free(v);
	}
	rp_fig_iterations(&x, in);
	fig_cluster(&x, in);
	fig_latency(&x, in);
	fig_traffic(&x, in);
	fig_fleet(&x, in);
	rp_fig_per_iteration(&x, in);
	rp_fig_accuracy(&x, in);
	fig_clock(&x, in);
	rm_tree(x.tmp);
	free(x.faults);
	return 0;
}

void rp_plots_free(rp_figures *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->figs[i].svg);
	free(f->figs);
	memset(f, 0, sizeof *f);
}

