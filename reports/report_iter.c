/*
 * report_iter.c — the report's per-iteration figures: iteration duration and result over time,
 * devices per iteration, accuracy and loss per iteration.
 *
 * The engine's `iteration` and `eval` events (events.jsonl) come first: they carry the time of
 * the iteration in the run. iterations.jsonl (MindSpore's metrics.json lines, written by the
 * leader server) fills in what events lack: the per-round visitor counts, or everything when
 * there are no iteration events.
 */
#include "report.h"
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	double iter, t, dur; /* t: end of the iteration in seconds (NaN when unknown) */
	int ok;
	double online, joined, accepted, rejected; /* per iteration; NaN when unknown */
} it_row;

/* Iteration rows from events.jsonl, else from iterations.jsonl. *out owned by the caller. */
static size_t iter_rows(const rp_input *in, it_row **out, int *timed)
{
	size_t n = 0;
	*out = NULL;
	*timed = 0;
	it_row *r = calloc(in->events.n + in->iterations.n + 1, sizeof *r);
	if (!r)
		return 0;
	for (size_t i = 0; i < in->events.n; i++) {
		const cJSON *e = in->events.items[i];
		const char *k = rp_str(e, "kind"), *res = rp_str(e, "result");
		if (!k || strcmp(k, "iteration"))
			continue;
		r[n] = (it_row){ rp_num(e, "iteration"), rp_num(e, "t"), rp_num(e, "duration_s"),
				 res && !strcmp(res, "success"), NAN, NAN, rp_num(e, "accepted"), NAN };
		n++;
	}
	if (n)
		*timed = 1;
	/* iterations.jsonl: add visitor counts to the event rows (same iteration number), or make
	 * the rows when there were no iteration events */
	int from_file = n == 0;
	size_t cursor = 0;
	for (size_t i = 0; i < in->iterations.n; i++) {
		const cJSON *m = in->iterations.items[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "clientVisitedInfo");
		double it = rp_num(m, "currentIteration");
		it_row *row = NULL;
		if (from_file) {
			const char *res = rp_str(m, "iterationResult");
			row = &r[n++];
			*row = (it_row){ it, NAN, rp_num(m, "iterationExecutionTime") / 1000.0,
					 res && !strcmp(res, "success"), NAN, NAN, NAN, NAN };
		} else {
			/* both files list iterations in order: look from the last match on, then wrap */
			for (size_t k = 0; k < n && !row; k++, cursor = (cursor + 1) % n)
				if (r[cursor].iter == it)
					row = &r[cursor];
		}
		if (!row || !cJSON_IsObject(v))
			continue;
		row->joined = rp_num(v, "startFLJobAcceptClientNum");
		double acc = rp_num(v, "updateModelAcceptClientNum");
		if (isfinite(acc))
			row->accepted = acc;
		double rj = rp_num(v, "startFLJobRejectClientNum"), ru = rp_num(v, "updateModelRejectClientNum");
		row->rejected = (isfinite(rj) ? rj : 0) + (isfinite(ru) ? ru : 0);
		if (!isfinite(rj) && !isfinite(ru))
			row->rejected = NAN;
	}
	/* devices online at the end of each timed iteration, from the time series */
	int tc = rp_csv_col(&in->metrics, "t"), oc = rp_csv_col(&in->metrics, "devices_online");
	for (size_t j = 0; oc >= 0 && tc >= 0 && j < n; j++) {
		if (!isfinite(r[j].t))
			continue;
		/* the last row at or before the end of the iteration (rows are in time order) */
		size_t lo = 0, hi = in->metrics.nrows;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (rp_csv_at(&in->metrics, mid, tc) <= r[j].t)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0)
			r[j].online = rp_csv_at(&in->metrics, lo - 1, oc);
	}
	*out = r;
	return n;
}

void rp_fig_iterations(rp_plot_ctx *x, const rp_input *in)
{
	rp_figure *g = rp_fig_new(x, "iterations", "Iterations: duration and result over time",
				  "Each bar (or dot, in long runs) is one federated-learning iteration (devices "
				  "join, train, upload, the servers aggregate), drawn where it ended; its height "
				  "is how long it took. Green: the iteration succeeded and a new global model was committed. "
				  "Red: it failed (timed out). The grey step line (right axis) counts the "
				  "successes so far; dashed red lines are injected faults.");
	if (!g)
		return;
	it_row *r;
	int timed;
	size_t n = iter_rows(in, &r, &timed);
	if (!n) {
		snprintf(g->note, sizeof g->note, "not drawn: no iterations recorded (no iteration events in "
			 "events.jsonl and no lines in iterations.jsonl)");
		free(r);
		return;
	}
	FILE *f = rp_tmp_open(x, "iterations.dat", "w");
	if (!f) {
		free(r);
		snprintf(g->note, sizeof g->note, "not drawn: cannot write to the temporary directory");
		return;
	}
	int has_ok = 0, has_fail = 0;
	double cum = 0;
	for (size_t i = 0; i < n; i++) {
		cum += r[i].ok;
		rp_put_num(f, timed ? r[i].t / x->tscale : r[i].iter);
		rp_put_num(f, r[i].ok ? r[i].dur : NAN);
		rp_put_num(f, r[i].ok ? NAN : r[i].dur);
		rp_put_num(f, cum);
		fputc('\n', f);
		has_ok |= r[i].ok && isfinite(r[i].dur);
		has_fail |= !r[i].ok && isfinite(r[i].dur);
	}
	fclose(f);
	free(r);
	rp_buf b = { 0 };
	rp_preamble(x, &b, g->id, 340, timed);
	if (!timed) {
		rp_buf_puts(&b, "set xlabel 'iteration'\nset autoscale xfix\n");
		snprintf(g->note, sizeof g->note, "from iterations.jsonl: events.jsonl has no iteration times");
	}
	rp_buf_puts(&b, "set ylabel 'iteration duration (s)'\nset yrange [0:*]\n"
			"set y2label 'iterations succeeded so far'\nset y2range [0:*]\nset y2tics nomirror\n"
			"plot 'iterations.dat' using 1:4 axes x1y2 with steps lw 1.5 lc rgb '#888888' "
			"title 'succeeded so far (right axis)'");
	/* bars while they stay apart; past a few hundred they would merge into a block: dots */
	int bars = n <= 300;
	if (has_ok && bars)
		rp_buf_puts(&b, ", \\\n '' using 1:2 with impulses lw 3 lc rgb '#2ca02c' title 'succeeded: duration'"
				", \\\n '' using 1:2 with points pt 7 ps 0.5 lc rgb '#2ca02c' notitle");
	else if (has_ok)
		rp_buf_puts(&b, ", \\\n '' using 1:2 with points pt 7 ps 0.3 lc rgb '#2ca02c' title 'succeeded: duration'");
	if (has_fail)
		rp_buf_printf(&b, ", \\\n '' using 1:3 with %s lc rgb '#d62728' title 'failed: duration'"
				  ", \\\n '' using 1:3 with points pt 2 ps 0.9 lc rgb '#d62728' notitle",
			      bars ? "impulses lw 3" : "points pt 2 ps 0.9");
	rp_buf_puts(&b, "\n");
	rp_plot_run(x, g, &b);
	rp_buf_free(&b);
}

void rp_fig_per_iteration(rp_plot_ctx *x, const rp_input *in)
{
	rp_figure *g = rp_fig_new(x, "per-iteration", "Devices per iteration: online, joined, accepted, rejected",
				  "For each iteration: devices online when it ended, devices admitted by "
				  "startFLJob (joined), model updates accepted by updateModel (these are "
				  "averaged into the new model), and requests rejected in startFLJob and "
				  "updateModel (too late, not selected, bad timestamp).");
	if (!g)
		return;
	it_row *r;
	int timed;
	size_t n = iter_rows(in, &r, &timed);
	FILE *f = n ? rp_tmp_open(x, "per-iteration.dat", "w") : NULL;
	if (!f) {
		snprintf(g->note, sizeof g->note, n ? "not drawn: cannot write to the temporary directory"
			 : "not drawn: no iterations recorded");
		free(r);
		return;
	}
	int has[4] = { 0 };
	for (size_t i = 0; i < n; i++) {
		double v[4] = { r[i].online, r[i].joined, r[i].accepted, r[i].rejected };
		rp_put_num(f, r[i].iter);
		for (int k = 0; k < 4; k++) {
			rp_put_num(f, v[k]);
			has[k] |= isfinite(v[k]);
		}
		fputc('\n', f);
	}
	fclose(f);
	free(r);
	/* the fleet online can be thousands while an iteration takes a few dozen updates: it gets
	 * the right axis so the counts stay readable */
	static const char *const titles[] = { "devices online (right axis)", "joined (startFLJob accepted)",
					      "updates accepted (updateModel)", "rejected (startFLJob + updateModel)" };
	rp_buf b = { 0 };
	rp_preamble(x, &b, g->id, 330, 0);
	rp_buf_puts(&b, "set xlabel 'iteration'\nset autoscale xfix\nset ylabel 'devices in the iteration'\nset yrange [0:*]\n"
			"set y2label 'devices online'\nset y2range [0:*]\nset y2tics nomirror\n");
	int first = 1;
	for (int k = 0; k < 4; k++) {
		if (!has[k])
			continue;
		rp_buf_printf(&b, "%s'per-iteration.dat' using 1:%d %swith linespoints pt 7 ps 0.4 lw 1.5 "
				  "lc rgb '%s' title '%s'", first ? "plot " : ", \\\n     ", k + 2,
			      k == 0 ? "axes x1y2 " : "", rp_colors[k], titles[k]);
		first = 0;
	}
	if (first)
		snprintf(g->note, sizeof g->note, "not drawn: the iterations carry no device counts");
	else {
		rp_buf_puts(&b, "\n");
		rp_plot_run(x, g, &b);
	}
	rp_buf_free(&b);
}

void rp_fig_accuracy(rp_plot_ctx *x, const rp_input *in)
{
	rp_figure *g = rp_fig_new(x, "accuracy", "Model accuracy and loss per iteration",
				  "The global model after each iteration, evaluated on held-out test data: "
				  "accuracy (left axis, fraction of test samples classified right) and loss "
				  "(right axis). Only runs with real training evaluate the model.");
	if (!g)
		return;
	FILE *f = rp_tmp_open(x, "accuracy.dat", "w");
	if (!f) {
		snprintf(g->note, sizeof g->note, "not drawn: cannot write to the temporary directory");
		return;
	}
	size_t n = 0;
	int has_acc = 0, has_loss = 0;
	for (int pass = 0; pass < 2 && !n; pass++) {
		/* eval events first; iterations.jsonl's accuracy/loss when there are none */
		const rp_jsonl *src = pass ? &in->iterations : &in->events;
		for (size_t i = 0; i < src->n; i++) {
			const cJSON *e = src->items[i];
			const char *k = rp_str(e, "kind");
			if (!pass && (!k || strcmp(k, "eval")))
				continue;
			double it = rp_num(e, pass ? "currentIteration" : "iteration");
			double acc = rp_num(e, "accuracy"), loss = rp_num(e, "loss");
			if (!isfinite(acc) && !isfinite(loss))
				continue;
			rp_put_num(f, it);
			rp_put_num(f, acc);
			rp_put_num(f, loss);
			fputc('\n', f);
			has_acc |= isfinite(acc);
			has_loss |= isfinite(loss);
			n++;
		}
	}
	fclose(f);
	if (!n) {
		snprintf(g->note, sizeof g->note, "not drawn: the model was never evaluated (the run used "
			 "synthetic training, or no iteration completed)");
		return;
	}
	rp_buf b = { 0 };
	rp_preamble(x, &b, g->id, 330, 0);
	rp_buf_puts(&b, "set xlabel 'iteration'\nset autoscale xfix\nset ylabel 'accuracy'\nset yrange [0:1]\n"
			"set y2label 'loss'\nset y2range [0:*]\nset y2tics nomirror\nplot ");
	if (has_acc)
		rp_buf_puts(&b, "'accuracy.dat' using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc rgb '#1f77b4' "
				"title 'accuracy (left axis)'");
	if (has_loss)
		rp_buf_printf(&b, "%s'accuracy.dat' using 1:3 axes x1y2 with linespoints pt 5 ps 0.4 lw 1.5 "
				  "lc rgb '#ff7f0e' title 'loss (right axis)'", has_acc ? ", \\\n     " : "");
	rp_buf_puts(&b, "\n");
	rp_plot_run(x, g, &b);
	rp_buf_free(&b);
}
