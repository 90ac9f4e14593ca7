/*
 * report.c — DIR/report.html: one self-contained page per run (docs/outputs.md lists the inputs).
 *
 * The page is written for someone who has never seen flbench: it opens with the verdict and
 * what was run, explains each table and figure in a sentence, and keeps raw material (the
 * resolved scenario, per-iteration rows) folded away at the end. Every string that comes from
 * the inputs is HTML-escaped; nothing on the page is fetched from the network.
 */
#include "report.h"
#include "report_int.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TABLE_ROWS 1000 /* longer tables are cut: the files have the rest */

static const char css[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;"
	"max-width:1060px;margin:24px auto;padding:0 16px;line-height:1.45}"
	"h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:36px;border-bottom:2px solid #ddd;"
	"padding-bottom:4px}h3{margin:26px 0 4px}"
	"table{border-collapse:collapse;margin:8px 0;font-size:.93em}"
	"td,th{border:1px solid #ccc;padding:3px 9px;text-align:left;vertical-align:top}"
	"th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".pass{color:#17692b;font-weight:bold}.fail{color:#b3261e;font-weight:bold}"
	".banner{padding:12px 16px;border-radius:6px;font-size:1.15em;margin:12px 0}"
	".banner.pass{background:#e3f4e6;border:1px solid #9cd3a8}"
	".banner.fail{background:#fbe5e3;border:1px solid #eba59e}"
	".banner.unknown{background:#f3f3f3;border:1px solid #ccc;font-weight:bold}"
	".note{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px;margin:8px 0}"
	".cap{color:#555;margin:2px 0 6px;max-width:900px}.muted{color:#777}"
	"figure{margin:0}svg{width:100%;height:auto;display:block}"
	"code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}"
	"pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:480px}"
	"nav ol{columns:2;font-size:.95em}details{margin:8px 0}summary{cursor:pointer}";

/* What each metric means (docs/outputs.md), for the figures table. */
static const struct {
	const char *pat, *meaning;
} meanings[] = {
	{ "iterations.success", "iterations that committed a new global model" },
	{ "iterations.failed", "iterations that failed (timed out) and committed nothing" },
	{ "iteration.last", "the highest committed iteration" },
	{ "invariants.violations", "correctness violations the engine detected (should be 0)" },
	{ "invariants.*_checks", "how many times the engine checked this invariant" },
	{ "cluster.state", "the scheduler's cluster state at the end of the run" },
	{ "cluster.servers", "servers alive at the end of the run" },
	{ "model.accuracy", "test accuracy of the last evaluated global model (real training only)" },
	{ "model.loss", "test loss of the last evaluated global model (real training only)" },
	{ "devices.final", "devices in the fleet at the end" },
	{ "devices.online.mean", "mean number of devices online" },
	{ "requests.*.total", "device requests of this round" },
	{ "requests.*.ok", "device requests of this round answered SUCCEED" },
	{ "requests.*.rejected", "device requests of this round turned away" },
	{ "latency.*.p50_ms", "median device-side latency of this round (ms)" },
	{ "latency.*.p90_ms", "90th percentile device-side latency of this round (ms)" },
	{ "latency.*.p99_ms", "99th percentile device-side latency of this round (ms)" },
	{ "updates.accepted", "model updates accepted (updateModel SUCCEED)" },
	{ "time.rejected", "requests rejected for a timestamp too far from the server's clock" },
	{ "recovery.time_s", "longest time from a fault to the next successful iteration (s)" },
	{ "throughput.bytes_per_s", "device API bytes (in + out) per second of run time" },
	{ "sim.speedup", "simulated seconds per wall-clock second" },
	{ "fleet.bytes_per_device", "memory the simulator used per device (bytes)" },
	{ "fleet.dropouts", "devices that dropped out in the middle of an iteration" },
};

static const char *meaning_of(const char *name)
{
	for (size_t i = 0; i < sizeof meanings / sizeof *meanings; i++)
		if (!fnmatch(meanings[i].pat, name, 0))
			return meanings[i].meaning;
	return "";
}

/* Integers without decimals, other numbers with 6 significant digits. */
static void put_number(rp_buf *b, double v)
{
	if (!isfinite(v))
		rp_buf_puts(b, isnan(v) ? "&mdash;" : v > 0 ? "&infin;" : "-&infin;");
	else if (v == floor(v) && fabs(v) < 1e15)
		rp_buf_printf(b, "%.0f", v);
	else
		rp_buf_printf(b, "%.6g", v);
}

/* Any JSON value as escaped text. */
static void put_value(rp_buf *b, const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		rp_buf_puts(b, "&mdash;");
	else if (cJSON_IsNumber(v))
		put_number(b, v->valuedouble);
	else if (cJSON_IsString(v))
		rp_buf_html(b, v->valuestring);
	else if (cJSON_IsBool(v))
		rp_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
	else {
		char *s = cJSON_PrintUnformatted(v);
		rp_buf_html(b, s ? s : "?");
		free(s);
	}
}

static void put_time(rp_buf *b, double t)
{
	if (!isfinite(t)) {
		rp_buf_puts(b, "&mdash;");
		return;
	}
	rp_buf_printf(b, "%.3f s", t);
	if (t >= 60)
		rp_buf_printf(b, " <span class=\"muted\">(%d:%06.3f)</span>", (int)(t / 60), fmod(t, 60));
}

static void section(rp_buf *b, const char *id, const char *title, const char *intro)
{
	rp_buf_printf(b, "<h2 id=\"%s\">", id);
	rp_buf_html(b, title);
	rp_buf_puts(b, "</h2>\n");
	if (intro) {
		rp_buf_puts(b, "<p class=\"cap\">");
		rp_buf_html(b, intro);
		rp_buf_puts(b, "</p>\n");
	}
}

static void fact(rp_buf *b, const char *name, const cJSON *v, const char *unit)
{
	if (!v)
		return;
	rp_buf_printf(b, "<tr><th>%s</th><td>", name);
	put_value(b, v);
	if (unit && cJSON_IsNumber(v))
		rp_buf_printf(b, " %s", unit);
	rp_buf_puts(b, "</td></tr>\n");
}

static int count_failed(const cJSON *expect)
{
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, expect)
		n += !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "ok"));
	return n;
}

static void page_head(rp_buf *b, const rp_input *in)
{
	const cJSON *s = in->summary;
	const char *name = s ? rp_str(s, "scenario") : NULL;
	rp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>flbench report: ");
	rp_buf_html(b, name ? name : "(unknown scenario)");
	rp_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>flbench run report: ", css);
	rp_buf_html(b, name ? name : "(unknown scenario)");
	rp_buf_puts(b, "</h1>\n");

	const cJSON *expect = s ? cJSON_GetObjectItemCaseSensitive(s, "expect") : NULL;
	const cJSON *viol = s ? cJSON_GetObjectItemCaseSensitive(s, "violations") : NULL;
	const cJSON *ok = s ? cJSON_GetObjectItemCaseSensitive(s, "ok") : NULL;
	int nexp = cJSON_GetArraySize(expect), nfail = count_failed(expect), nviol = cJSON_GetArraySize(viol);
	if (!s) {
		rp_buf_puts(b, "<div class=\"banner unknown\">Verdict unknown: summary.json is ");
		rp_buf_puts(b, in->summary_state == RP_EMPTY ? "empty" : "missing");
		rp_buf_puts(b, " (the run did not finish, or this is not a run's output directory).</div>\n");
	} else if (cJSON_IsTrue(ok) || (!ok && nfail == 0 && nviol == 0)) {
		rp_buf_printf(b, "<div class=\"banner pass\"><span class=\"pass\">PASS</span> &mdash; all %d "
				 "expectation%s held and no invariant was violated.</div>\n", nexp, nexp == 1 ? "" : "s");
	} else {
		rp_buf_printf(b, "<div class=\"banner fail\"><span class=\"fail\">FAIL</span> &mdash; %d of %d "
				 "expectation%s failed, %d invariant violation%s.", nfail, nexp, nexp == 1 ? "" : "s",
			      nviol, nviol == 1 ? "" : "s");
		const char *replay = rp_str(s, "replay");
		if (replay) {
			rp_buf_puts(b, " Replay it with <code>");
			rp_buf_html(b, replay);
			rp_buf_puts(b, "</code>.");
		}
		rp_buf_puts(b, "</div>\n");
	}
	rp_buf_puts(b, "<p class=\"cap\">flbench runs a federated-learning cluster (one scheduler, several "
		       "servers) against a fleet of simulated devices that train locally and send model updates. "
		       "A <em>scenario</em> file says how big the cluster and fleet are, which faults to inject "
		       "(killing servers, network partitions, clock skew, scaling) and what must hold at the end "
		       "(<em>expectations</em>). In <em>sim</em> mode everything runs on virtual time, so the "
		       "same seed replays the same run exactly. This page shows what happened in one run.</p>\n");
}

static void page_facts(rp_buf *b, const rp_input *in)
{
	const cJSON *s = in->summary;
	section(b, "run", "The run", NULL);
	rp_buf_puts(b, "<table>\n<tr><th>scenario</th><td>");
	rp_buf_html(b, s && rp_str(s, "scenario") ? rp_str(s, "scenario") : "(unknown)");
	rp_buf_puts(b, "</td></tr>\n<tr><th>seed</th><td>");
	rp_buf_html(b, in->seed[0] ? in->seed : "(unknown)");
	rp_buf_puts(b, "</td></tr>\n");
	if (s) {
		fact(b, "mode", cJSON_GetObjectItemCaseSensitive(s, "mode"), NULL);
		const char *mode = rp_str(s, "mode");
		fact(b, mode && !strcmp(mode, "live") ? "run time" : "simulated time",
		     cJSON_GetObjectItemCaseSensitive(s, "sim_time_s"), "s");
		fact(b, "wall-clock time", cJSON_GetObjectItemCaseSensitive(s, "wall_time_s"), "s");
		fact(b, "speed-up (simulated s per wall s)", cJSON_GetObjectItemCaseSensitive(s, "speedup"), NULL);
		fact(b, "commit", cJSON_GetObjectItemCaseSensitive(s, "commit"), NULL);
		fact(b, "trace hash", cJSON_GetObjectItemCaseSensitive(s, "trace_hash"), NULL);
		fact(b, "events hash", cJSON_GetObjectItemCaseSensitive(s, "events_hash"), NULL);
		const char *replay = rp_str(s, "replay");
		if (replay) {
			rp_buf_puts(b, "<tr><th>replay command</th><td><code>");
			rp_buf_html(b, replay);
			rp_buf_puts(b, "</code></td></tr>\n");
		}
	}
	rp_buf_puts(b, "<tr><th>output directory</th><td><code>");
	rp_buf_html(b, in->dir);
	rp_buf_puts(b, "</code></td></tr>\n</table>\n");
}

static void page_expect(rp_buf *b, const rp_input *in)
{
	section(b, "expect", "Expectations",
		"What the scenario required of the run, the value measured, and whether it held.");
	const cJSON *ex = in->summary ? cJSON_GetObjectItemCaseSensitive(in->summary, "expect") : NULL;
	if (!cJSON_GetArraySize(ex)) {
		rp_buf_puts(b, in->summary ? "<p>The scenario states no expectations.</p>\n"
					   : "<p class=\"note\">No summary.json: expectations unknown.</p>\n");
		return;
	}
	rp_buf_puts(b, "<table>\n<tr><th>metric</th><th>required</th><th>measured</th><th>verdict</th></tr>\n");
	const cJSON *e;
	cJSON_ArrayForEach(e, ex) {
		rp_buf_puts(b, "<tr><td>");
		rp_buf_html(b, rp_str(e, "metric") ? rp_str(e, "metric") : "?");
		rp_buf_puts(b, "</td><td>");
		static const char *const ops[][2] = { { "min", "&ge; " }, { "max", "&le; " }, { "equals", "= " } };
		int any = 0;
		for (size_t i = 0; i < 3; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, ops[i][0]);
			if (!v)
				continue;
			rp_buf_printf(b, "%s%s", any++ ? ", " : "", ops[i][1]);
			put_value(b, v);
		}
		rp_buf_puts(b, "</td><td class=\"n\">");
		put_value(b, cJSON_GetObjectItemCaseSensitive(e, "value"));
		const char *why = rp_str(e, "reason") ? rp_str(e, "reason") : rp_str(e, "detail");
		int pass = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "ok"));
		rp_buf_printf(b, "</td><td class=\"%s\">%s", pass ? "pass" : "fail", pass ? "PASS" : "FAIL");
		if (why) {
			rp_buf_puts(b, " <span class=\"muted\">(");
			rp_buf_html(b, why);
			rp_buf_puts(b, ")</span>");
		}
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, "</table>\n");
}

static void page_violations(rp_buf *b, const rp_input *in)
{
	section(b, "violations", "Invariant violations",
		"The engine checks correctness rules all through the run: every server serves the same model "
		"for an iteration (agreement), a model is the average of exactly the accepted updates "
		"(validity), iterations never go backwards (monotonic), served models are never lost "
		"(durable), membership matches the live processes, the cluster makes progress after faults "
		"heal (liveness), and stale timestamps are rejected (time).");
	const cJSON *vs = in->summary ? cJSON_GetObjectItemCaseSensitive(in->summary, "violations") : NULL;
	if (!in->summary) {
		rp_buf_puts(b, "<p class=\"note\">No summary.json: violations unknown.</p>\n");
		return;
	}
	if (!cJSON_GetArraySize(vs)) {
		rp_buf_puts(b, "<p class=\"pass\">None: every invariant held.</p>\n");
		return;
	}
	rp_buf_puts(b, "<table>\n<tr><th>time</th><th>invariant</th><th>node</th><th>detail</th></tr>\n");
	const cJSON *v;
	int rows = 0;
	cJSON_ArrayForEach(v, vs) {
		if (rows++ == MAX_TABLE_ROWS)
			break;
		rp_buf_puts(b, "<tr><td class=\"n\">");
		put_time(b, rp_num(v, "t"));
		rp_buf_puts(b, "</td><td class=\"fail\">");
		put_value(b, cJSON_GetObjectItemCaseSensitive(v, "invariant"));
		rp_buf_puts(b, "</td><td>");
		put_value(b, cJSON_GetObjectItemCaseSensitive(v, "node"));
		rp_buf_puts(b, "</td><td>");
		put_value(b, cJSON_GetObjectItemCaseSensitive(v, "detail"));
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, "</table>\n");
}

static void page_faults(rp_buf *b, const rp_input *in)
{
	section(b, "faults", "Injected faults",
		"Faults the scenario injected, in order. F-numbers match the dashed red lines on the plots.");
	if (in->events.state != RP_PRESENT) {
		rp_buf_printf(b, "<p class=\"note\">events.jsonl is %s: faults unknown.</p>\n",
			      in->events.state == RP_MISSING ? "missing" : "empty");
		return;
	}
	int n = 0;
	for (size_t i = 0; i < in->events.n; i++) {
		const cJSON *e = in->events.items[i], *f;
		const char *k = rp_str(e, "kind");
		if (!k || strcmp(k, "fault"))
			continue;
		if (!n++)
			rp_buf_puts(b, "<table>\n<tr><th>#</th><th>time</th><th>action</th><th>target and "
				       "parameters</th></tr>\n");
		rp_buf_printf(b, "<tr><td>F%d</td><td class=\"n\">", n);
		put_time(b, rp_num(e, "t"));
		rp_buf_puts(b, "</td><td>");
		put_value(b, cJSON_GetObjectItemCaseSensitive(e, "action"));
		rp_buf_puts(b, "</td><td>");
		int any = 0;
		cJSON_ArrayForEach(f, e) {
			if (!f->string || !strcmp(f->string, "t") || !strcmp(f->string, "kind") ||
			    !strcmp(f->string, "action") || !strcmp(f->string, "event"))
				continue;
			if (any++)
				rp_buf_puts(b, ", ");
			rp_buf_html(b, f->string);
			rp_buf_puts(b, ": ");
			put_value(b, f);
		}
		/* the index into the scenario's "events" list, to find the line that caused it */
		double ev = rp_num(e, "event");
		if (isfinite(ev))
			rp_buf_printf(b, " <span class=\"muted\">(scenario event %.0f)</span>", ev);
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, n ? "</table>\n" : "<p>No faults were injected.</p>\n");
}

static void page_metrics(rp_buf *b, const rp_input *in)
{
	section(b, "figures", "Figures",
		"The run's summary numbers. Expectations refer to these names, and sim compare compares them "
		"between two runs.");
	const cJSON *m = in->summary ? cJSON_GetObjectItemCaseSensitive(in->summary, "metrics") : NULL;
	if (!cJSON_IsObject(m) || !cJSON_GetArraySize(m)) {
		rp_buf_puts(b, "<p class=\"note\">No metrics: summary.json is missing or has none.</p>\n");
		return;
	}
	rp_buf_puts(b, "<table>\n<tr><th>name</th><th>value</th><th>meaning</th></tr>\n");
	const cJSON *v;
	cJSON_ArrayForEach(v, m) {
		rp_buf_puts(b, "<tr><td><code>");
		rp_buf_html(b, v->string);
		rp_buf_puts(b, "</code></td><td class=\"n\">");
		put_value(b, v);
		rp_buf_puts(b, "</td><td>");
		rp_buf_html(b, v->string ? meaning_of(v->string) : "");
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, "</table>\n");
}

static void page_plots(rp_buf *b, const rp_figures *f)
{
	section(b, "plots", "Plots",
		"Time runs left to right from the start of the run. Dashed red vertical lines mark injected "
		"faults (see the fault table).");
	if (f->faults_as_ticks)
		rp_buf_puts(b, "<p class=\"note\">This run injected many faults: on the time plots they are "
			       "short red ticks along the top edge, without labels; the fault table lists them.</p>\n");
	if (f->gnuplot_missing)
		rp_buf_puts(b, "<p class=\"note\">No plots: gnuplot was not found on this machine. "
			       "Install gnuplot-nox (<code>apt-get install gnuplot-nox</code>) for plots, then run "
			       "<code>sim report DIR</code> again.</p>\n");
	for (size_t i = 0; i < f->n; i++) {
		const rp_figure *g = &f->figs[i];
		rp_buf_printf(b, "<h3 id=\"fig-%s\">", g->id);
		rp_buf_html(b, g->title);
		rp_buf_puts(b, "</h3>\n<p class=\"cap\">");
		rp_buf_html(b, g->caption);
		rp_buf_puts(b, "</p>\n");
		if (g->note[0]) {
			rp_buf_printf(b, "<p class=\"%s\">", g->svg ? "muted" : "note");
			rp_buf_html(b, g->note);
			rp_buf_puts(b, "</p>\n");
		}
		if (g->svg) {
			rp_buf_puts(b, "<figure>\n");
			rp_buf_puts(b, g->svg);
			rp_buf_puts(b, "\n</figure>\n");
		}
	}
}

static void page_iterations(rp_buf *b, const rp_input *in)
{
	section(b, "iterations", "Iterations", NULL);
	const rp_jsonl *it = &in->iterations;
	if (it->state != RP_PRESENT) {
		rp_buf_printf(b, "<p class=\"note\">iterations.jsonl is %s.</p>\n",
			      it->state == RP_MISSING ? "missing" : "empty");
		return;
	}
	rp_buf_printf(b, "<details><summary>%zu iterations as the leader server recorded them "
			 "(iterations.jsonl)%s</summary>\n<table>\n<tr><th>iteration</th><th>result</th>"
			 "<th>duration (ms)</th><th>startFLJob accepted / rejected</th><th>updateModel "
			 "accepted / rejected</th><th>getModel accepted / rejected</th><th>device loss</th>"
			 "<th>accuracy</th><th>loss</th></tr>\n", it->n,
		      it->n > MAX_TABLE_ROWS ? " — the first 1000" : "");
	static const char *const r[] = { "startFLJob", "updateModel", "getModel" };
	for (size_t i = 0; i < it->n && i < MAX_TABLE_ROWS; i++) {
		const cJSON *m = it->items[i];
		const cJSON *cv = cJSON_GetObjectItemCaseSensitive(m, "clientVisitedInfo");
		const char *res = rp_str(m, "iterationResult");
		rp_buf_puts(b, "<tr><td class=\"n\">");
		put_value(b, cJSON_GetObjectItemCaseSensitive(m, "currentIteration"));
		rp_buf_printf(b, "</td><td class=\"%s\">", res && !strcmp(res, "success") ? "pass" : "fail");
		rp_buf_html(b, res ? res : "?");
		rp_buf_puts(b, "</td><td class=\"n\">");
		put_value(b, cJSON_GetObjectItemCaseSensitive(m, "iterationExecutionTime"));
		for (int k = 0; k < 3; k++) {
			char a[48], j[48];
			snprintf(a, sizeof a, "%sAcceptClientNum", r[k]);
			snprintf(j, sizeof j, "%sRejectClientNum", r[k]);
			rp_buf_puts(b, "</td><td class=\"n\">");
			put_number(b, rp_num(cv, a));
			rp_buf_puts(b, " / ");
			put_number(b, rp_num(cv, j));
		}
		static const char *const tail[] = { "metricsLoss", "accuracy", "loss" };
		for (int k = 0; k < 3; k++) {
			rp_buf_puts(b, "</td><td class=\"n\">");
			put_value(b, cJSON_GetObjectItemCaseSensitive(m, tail[k]));
		}
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, "</table>\n</details>\n");
}

static void page_tail(rp_buf *b, const rp_input *in, const rp_figures *f)
{
	section(b, "states", "Cluster state changes", NULL);
	int n = 0;
	for (size_t i = 0; i < in->events.n; i++) {
		const cJSON *e = in->events.items[i];
		const char *k = rp_str(e, "kind");
		if (!k || strcmp(k, "state"))
			continue;
		if (!n++)
			rp_buf_puts(b, "<details><summary>the scheduler's cluster state over the run</summary>\n"
				       "<table>\n<tr><th>time</th><th>state</th></tr>\n");
		if (n > MAX_TABLE_ROWS)
			continue;
		rp_buf_puts(b, "<tr><td class=\"n\">");
		put_time(b, rp_num(e, "t"));
		rp_buf_puts(b, "</td><td>");
		put_value(b, cJSON_GetObjectItemCaseSensitive(e, "state"));
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, n ? "</table>\n</details>\n" : "<p>No state changes were recorded.</p>\n");

	section(b, "scenario", "Scenario", "The scenario as the engine ran it, with every default filled in.");
	const cJSON *sc = in->summary ? cJSON_GetObjectItemCaseSensitive(in->summary, "scenario_resolved") : NULL;
	char *text = sc ? cJSON_Print(sc) : NULL;
	if (text) {
		rp_buf_puts(b, "<details><summary>scenario JSON</summary>\n<pre>");
		rp_buf_html(b, text);
		rp_buf_puts(b, "</pre>\n</details>\n");
	} else {
		rp_buf_puts(b, "<p class=\"muted\">Not recorded in summary.json.</p>\n");
	}
	free(text);

	section(b, "inputs", "Input files", "What this page was made from (in the output directory).");
	rp_buf_puts(b, "<table>\n<tr><th>file</th><th>content</th></tr>\n");
	static const char *const st[] = { "missing", "empty", "" };
	rp_buf_printf(b, "<tr><td>summary.json</td><td>%s</td></tr>\n",
		      in->summary_state == RP_PRESENT ? "present" : st[in->summary_state]);
	const struct { const char *name; int state; size_t n; const char *what; } files[] = {
		{ "events.jsonl", in->events.state, in->events.n, "events" },
		{ "iterations.jsonl", in->iterations.state, in->iterations.n, "iterations" },
		{ "metrics.csv", in->metrics.state, in->metrics.nrows, "rows" },
		{ "servers.csv", in->servers.state, in->servers.nrows, "rows" },
	};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		rp_buf_printf(b, "<tr><td>%s</td><td>", files[i].name);
		if (files[i].state == RP_PRESENT)
			rp_buf_printf(b, "%zu %s", files[i].n, files[i].what);
		else
			rp_buf_puts(b, st[files[i].state]);
		rp_buf_puts(b, "</td></tr>\n");
	}
	rp_buf_puts(b, "</table>\n<p class=\"muted\">Written by <code>sim report</code>");
	if (f->gnuplot_version[0]) {
		rp_buf_puts(b, "; plots by ");
		rp_buf_html(b, f->gnuplot_version);
	}
	rp_buf_puts(b, ". Also in the output directory: trace.json (open it in Perfetto or chrome://tracing) "
		       "and junit.xml.</p>\n</body>\n</html>\n");
}

static void page_nav(rp_buf *b)
{
	rp_buf_puts(b, "<nav><ol><li><a href=\"#run\">The run</a></li><li><a href=\"#expect\">Expectations</a></li>"
		       "<li><a href=\"#violations\">Invariant violations</a></li><li><a href=\"#faults\">Injected "
		       "faults</a></li><li><a href=\"#figures\">Figures</a></li><li><a href=\"#plots\">Plots</a></li>"
		       "<li><a href=\"#iterations\">Iterations</a></li><li><a href=\"#states\">Cluster state "
		       "changes</a></li><li><a href=\"#scenario\">Scenario</a></li><li><a href=\"#inputs\">Input "
		       "files</a></li></ol></nav>\n");
}

static int write_atomic(const char *dir, const char *name, const rp_buf *b, char *err, size_t errlen)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return REPORT_EIO;
	}
	size_t n = fwrite(rp_buf_str(b), 1, b->len, f);
	int bad = n != b->len;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		snprintf(err, errlen, "%s: %s", path, bad ? "write failed" : strerror(errno));
		unlink(tmp);
		return REPORT_EIO;
	}
	return 0;
}

int report_write(const char *dir, char *err, size_t errlen)
{
	char local[512];
	if (!err || !errlen) {
		err = local;
		errlen = sizeof local;
	}
	err[0] = '\0';
	struct stat sb;
	if (!dir || stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a directory (give a run's output directory)", dir ? dir : "(null)");
		return REPORT_EIO;
	}
	rp_input in;
	int rc = rp_input_load(&in, dir, err, errlen);
	if (rc) {
		rp_input_free(&in);
		return rc;
	}
	rp_figures figs;
	rc = rp_plots_make(&in, &figs, err, errlen);
	if (rc) {
		rp_plots_free(&figs);
		rp_input_free(&in);
		return rc;
	}
	rp_buf b = { 0 };
	page_head(&b, &in);
	page_nav(&b);
	page_facts(&b, &in);
	page_expect(&b, &in);
	page_violations(&b, &in);
	page_faults(&b, &in);
	page_metrics(&b, &in);
	page_plots(&b, &figs);
	page_iterations(&b, &in);
	page_tail(&b, &in, &figs);
	if (b.oom) {
		snprintf(err, errlen, "%s/report.html: out of memory", dir);
		rc = REPORT_ENOMEM;
	} else {
		rc = write_atomic(dir, "report.html", &b, err, errlen);
	}
	if (rc == 0 && figs.gnuplot_missing) {
		snprintf(err, errlen, "gnuplot is not installed: %s/report.html has no plots; install "
			 "gnuplot-nox (apt-get install gnuplot-nox) for plots", dir);
	} else if (rc == 0) {
		for (size_t i = 0; i < figs.n; i++)
			if (strstr(figs.figs[i].note, "gnuplot failed")) {
				snprintf(err, errlen, "plot '%s' %s", figs.figs[i].id, figs.figs[i].note);
				break;
			}
	}
	rp_buf_free(&b);
	rp_plots_free(&figs);
	rp_input_free(&in);
	return rc;
}
