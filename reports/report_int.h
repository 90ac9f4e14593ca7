/*
 * report_int.h — internals of the report generator shared by report.c (the HTML page),
 * report_data.c (reading a run's output files) and report_plots.c (gnuplot figures).
 * Not for use outside reports/.
 */
#ifndef FL_REPORT_INT_H
#define FL_REPORT_INT_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* ---- a growable string; every function is a no-op once an allocation failed (oom set) ---- */

typedef struct {
	char *p; /* NUL-terminated when len > 0 or after any put; owned, free with rp_buf_free */
	size_t len, cap;
	int oom;
} rp_buf;

void rp_buf_put(rp_buf *b, const char *s, size_t n);
void rp_buf_puts(rp_buf *b, const char *s);
void rp_buf_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with & < > " ' escaped for HTML text and attribute values. NULL appends nothing. */
void rp_buf_html(rp_buf *b, const char *s);
void rp_buf_free(rp_buf *b);
/* The contents (never NULL: "" when empty). */
const char *rp_buf_str(const rp_buf *b);

/* ---- inputs ---- */

enum { RP_MISSING = 0, RP_EMPTY = 1, RP_PRESENT = 2 };

typedef struct {
	int state;     /* RP_MISSING, RP_EMPTY (no file content or a header only), RP_PRESENT */
	size_t ncols;  /* header columns, trimmed */
	char **cols;
	size_t nrows;
	double *v;     /* nrows * ncols values, row-major; NaN for an empty cell */
	int strcol;    /* index of the one text column (-1 when none); its value is a label index */
	size_t nlabels;
	char **labels; /* distinct values of the text column, in order of first appearance */
} rp_csv;

typedef struct {
	int state;     /* as rp_csv */
	size_t n;
	cJSON **items; /* one object per non-blank line; owned */
} rp_jsonl;

typedef struct {
	char dir[4096];
	int summary_state;
	cJSON *summary;    /* NULL unless RP_PRESENT */
	char seed[32];     /* the seed as written (cJSON numbers are doubles: 64-bit seeds lose digits) */
	rp_jsonl events, iterations;
	rp_csv metrics, servers;
} rp_input;

/* Read every input of DIR. Missing and empty files are fine; a malformed one fails with
 * REPORT_EINPUT and "DIR/FILE:LINE: what" in err. rp_input_free() also after a failure. */
int rp_input_load(rp_input *in, const char *dir, char *err, size_t errlen);
void rp_input_free(rp_input *in);

/* Column index by name, or -1. */
int rp_csv_col(const rp_csv *c, const char *name);
/* Value of row r, column c (NaN when c < 0). */
double rp_csv_at(const rp_csv *c, size_t r, int col);

/* Shortcuts into cJSON objects: NaN / NULL when absent or of another type. */
double rp_num(const cJSON *obj, const char *key);
const char *rp_str(const cJSON *obj, const char *key);

/* ---- faults (from events.jsonl), shared by the fault table and the plot markers ---- */

typedef struct {
	double t;         /* seconds */
	char label[96];   /* "kill server/2", "scale_out servers=2": printable ASCII only */
} rp_fault;

/* Faults in file order; *out is owned by the caller (free()). */
int rp_faults(const rp_input *in, rp_fault **out, size_t *n);

/* ---- figures ---- */

typedef struct {
	const char *id;      /* anchor name, static */
	const char *title;   /* static */
	const char *caption; /* how to read it, static */
	char *svg;           /* inline <svg>...</svg>, owned; NULL when not drawn */
	char note[256];      /* why it was not drawn, or a remark (e.g. averaging) */
} rp_figure;

typedef struct {
	rp_figure *figs; /* owned */
	size_t n;
	int gnuplot_missing;
	int faults_as_ticks; /* too many faults for lines: short ticks along the top edge */
	char gnuplot_version[64];
} rp_figures;

/* Draw every figure the inputs allow. Returns 0 or REPORT_ENOMEM / REPORT_EIO (temp dir).
 * A missing gnuplot is not an error: gnuplot_missing is set and no figure has an svg. */
int rp_plots_make(const rp_input *in, rp_figures *out, char *err, size_t errlen);
void rp_plots_free(rp_figures *f);

/* ---- plot internals (report_plots.c, report_iter.c) ---- */

typedef struct {
	char tmp[4096];     /* the temp dir gnuplot runs in */
	double tscale;      /* seconds per x unit */
	const char *tunit;  /* "s", "min", "h" */
	double xmax;        /* the end of the time axis, in x units */
	rp_fault *faults;
	size_t nfaults;
	rp_figures *out;
} rp_plot_ctx;

extern const char *const rp_colors[10];
/* A new figure in out (NULL when the table is full). */
rp_figure *rp_fig_new(rp_plot_ctx *x, const char *id, const char *title, const char *caption);
FILE *rp_tmp_open(const rp_plot_ctx *x, const char *name, const char *mode);
/* " v" with NaN for anything not finite (gnuplot breaks the line there). */
void rp_put_num(FILE *f, double v);
/* The head of a script; time_axis adds the x range and the fault markers. */
void rp_preamble(const rp_plot_ctx *x, rp_buf *b, const char *id, int height, int time_axis);
/* Run the script; on success g->svg is set, else g->note says why not. */
void rp_plot_run(rp_plot_ctx *x, rp_figure *g, rp_buf *script);
void rp_missing_note(rp_figure *g, const char *file, int state);
void rp_fig_iterations(rp_plot_ctx *x, const rp_input *in);
void rp_fig_per_iteration(rp_plot_ctx *x, const rp_input *in);
void rp_fig_accuracy(rp_plot_ctx *x, const rp_input *in);

/* Copy s into dst (size n) keeping only characters safe in a gnuplot string and in SVG text. */
void rp_plain(char *dst, size_t n, const char *s);

#endif
