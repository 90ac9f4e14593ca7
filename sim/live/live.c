/*
 * live.c — live-mode runs (see live.h): set-up, the loop, the end. The core of the module: it
 * calls the parts (live_setup.c, live_event.c, live_obs.c, and the leaves live_base.c,
 * live_http.c, live_proc.c, live_inv.c) and none of them calls it.
 *
 * Layout of OUT (the run's output directory), besides the files of docs/outputs.md:
 *   config.json          the servers' config.json (cluster.config), shared by every node
 *   bin/<binary>         links to the binaries used: every child's argv[0] is one of them, so
 *                        `pgrep -f OUT` finds every process of the run
 *   data/<node>/         each node's working and data directory (recovery files, iterations.jsonl)
 *   fleet/               fl-fleet's --out (requests.csv, eval.csv, summary.json)
 *   logs/<node>.log      stdout and stderr of every process ("server/2" -> server-2.log)
 *   pids                 "NODE PID" for every process ever started
 *   tmp/                 TMPDIR of the children (the scheduler's pid file), libfaketime files
 *   .flbench-live        marks the directory as a live run's: only then are those replaced
 */
#include "live.h"

#include "live_http.h"
#include "live_int.h"
#include "live_proc.h"
#include "../engine/verdict.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 200

/* ---- the end ---- */

static void set_num(cJSON *m, const char *k, double v) { cJSON_AddNumberToObject(m, k, v); }

static cJSON *read_json(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	cJSON *j = cJSON_Parse(buf);
	free(buf);
	return j;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static cJSON *final_metrics(live *l, double run_s, double wall, int servers_up)
{
	char path[LV_PATH + 32];
	snprintf(path, sizeof path, "%s/summary.json", l->fleet_out);
	cJSON *fs = read_json(path); /* fl-fleet's totals, written when it stops on SIGTERM */
	cJSON *m = cJSON_CreateObject();
	set_num(m, "iterations.success", (double)l->iter_ok);
	set_num(m, "iterations.failed", (double)l->iter_failed);
	set_num(m, "iteration.last", (double)l->iter_last);
	set_num(m, "invariants.violations", live_inv_count(l->inv));
	set_num(m, "invariants.validity_checks", 0); /* not observable live */
	set_num(m, "invariants.agreement_checks", (double)live_inv_agreement_checks(l->inv));
	cJSON_AddStringToObject(m, "cluster.state", l->state);
	set_num(m, "cluster.servers", servers_up);
	if (l->has_eval) {
		set_num(m, "model.accuracy", l->accuracy);
		set_num(m, "model.loss", l->loss);
	}
	set_num(m, "devices.final", fs ? jnum(fs, "devices", (double)l->sc->devices) : (double)l->sc->devices);
	req_tally_metrics(&l->run, m);
	set_num(m, "updates.accepted", fs ? jnum(fs, "updates_accepted", 0) : (double)l->run.ok[1]);
	if (fs) { /* only fl-fleet's own totals know these */
		set_num(m, "time.rejected", jnum(fs, "time_rejected", 0));
		set_num(m, "fleet.dropouts", jnum(fs, "dropouts", 0));
		set_num(m, "fleet.bytes_per_device", jnum(fs, "bytes_per_device", 0));
	}
	set_num(m, "fleet.conn_errors", (double)l->run.conn_err);
	set_num(m, "recovery.time_s", (double)l->max_recovery_ns / 1e9);
	set_num(m, "throughput.bytes_per_s", run_s > 0 ? (double)(l->run.bytes_in + l->run.bytes_out) / run_s : 0);
	set_num(m, "sim.speedup", wall > 0 ? run_s / wall : 0);
	cJSON_Delete(fs);
	return m;
}

static int cmp_iter(const void *a, const void *b)
{
	double x = jnum(*(const cJSON *const *)a, "currentIteration", 0);
	double y = jnum(*(const cJSON *const *)b, "currentIteration", 0);
	return x < y ? -1 : x > y;
}

/* iterations.jsonl: every iteration once (from whichever leader wrote it), in order, with the
 * fleet's evaluation of its model when there was one. */
static void write_iterations(live *l)
{
	int n = cJSON_GetArraySize(l->iter_lines);
	cJSON **v = calloc((size_t)n + 1, sizeof *v);
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	if (!v || !out) {
		free(v);
		free(out);
		return;
	}
	out[0] = '\0';
	int k = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, l->iter_lines) v[k++] = it;
	qsort(v, (size_t)n, sizeof *v, cmp_iter);
	for (int i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof key, "%.0f", jnum(v[i], "currentIteration", 0));
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(l->evals, key);
		if (ev && !cJSON_GetObjectItemCaseSensitive(v[i], "accuracy")) {
			cJSON_AddNumberToObject(v[i], "accuracy", jnum(ev, "accuracy", 0));
			cJSON_AddNumberToObject(v[i], "loss", jnum(ev, "loss", 0));
		}
		char *line = cJSON_PrintUnformatted(v[i]);
		size_t ll = line ? strlen(line) : 0;
		while (len + ll + 2 > cap) {
			char *nb = realloc(out, cap * 2);
			if (!nb)
				break;
			out = nb;
			cap *= 2;
		}
		if (line && len + ll + 2 <= cap) {
			memcpy(out + len, line, ll);
			len += ll;
			out[len++] = '\n';
			out[len] = '\0';
		}
		free(line);
	}
	recorder_write_file(l->rec, "iterations.jsonl", out);
	free(out);
	free(v);
}

static void proc_json(cJSON *arr, const lv_node *n)
{
	if (!n->starts)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", n->name);
	char a[40];
	if (n->port)
		snprintf(a, sizeof a, "%s:%u", n->ip, n->port);
	else
		snprintf(a, sizeof a, "%s", n->ip);
	cJSON_AddStringToObject(o, "address", a);
	if (n->proxy_port) {
		snprintf(a, sizeof a, "%s:%u", n->proxy_ip, n->proxy_port);
		cJSON_AddStringToObject(o, "proxy", a);
	}
	if (n->inter_port) {
		snprintf(a, sizeof a, "%s:%u", n->ip, n->inter_port);
		cJSON_AddStringToObject(o, "inter_address", a);
	}
	if (n->proxy_inter_port) { /* what the other servers dial (--advertise_*) */
		snprintf(a, sizeof a, "%s:%u", n->proxy_ip, n->proxy_inter_port);
		cJSON_AddStringToObject(o, "inter_proxy", a);
	}
	cJSON_AddNumberToObject(o, "starts", n->starts);
	cJSON_AddBoolToObject(o, "clock_skew", n->skewable);
	cJSON_AddStringToObject(o, "log", n->log);
	cJSON_AddItemToArray(arr, o);
}

static cJSON *live_extra(live *l, int interrupted)
{
	cJSON *x = cJSON_CreateObject();
	cJSON_AddBoolToObject(x, "interrupted", interrupted != 0);
	if (interrupted)
		cJSON_AddNumberToObject(x, "signal", interrupted);
	cJSON_AddStringToObject(x, "binaries", l->bin);
	cJSON_AddBoolToObject(x, "netem_proxy", l->use_proxy);
	char a[40];
	snprintf(a, sizeof a, "%s:%u", l->sched.ip, l->manage_port);
	cJSON_AddStringToObject(x, "management_api", a);
	cJSON *p = cJSON_AddArrayToObject(x, "processes");
	proc_json(p, &l->proxy);
	proc_json(p, &l->sched);
	for (int i = 0; i < l->nservers; i++)
		proc_json(p, &l->srv[i]);
	proc_json(p, &l->fleet);
	lv_note(l, "not observable live: the validity and time invariants (fl-fleet does not report "
		"accepted uploads or the clocks of rejected requests), devices_online");
	cJSON_AddItemToObject(x, "notes", cJSON_Duplicate(l->notes, 1));
	return x;
}

static void kill_everything(live *l)
{
	lv_kill(l, &l->fleet);
	for (int i = 0; i < l->nservers; i++)
		lv_kill(l, &l->srv[i]);
	lv_kill(l, &l->sched);
	lv_kill(l, &l->proxy);
	lp_kill_all(); /* anything the table still holds */
}

static void progress(live *l)
{
	if (!l->opts->progress)
		return;
	double t = (double)lv_now(l) / 1e9;
	if (t - l->last_progress < 0.5)
		return;
	l->last_progress = t;
	int up = 0;
	for (int i = 0; i < l->nservers; i++)
		up += l->srv[i].pid && !l->srv[i].scaled_in;
	fprintf(stderr, "\r[%s live] t=%6.1fs / %.0fs  iteration %-4lld ok %-4" PRIu64 " failed %-3" PRIu64
		"  servers %d  requests %" PRIu64 "  %-24s  ", l->sc->name, t, (double)l->sc->duration_ns / 1e9,
		(long long)l->iter_last, l->iter_ok, l->iter_failed, up,
		l->run.req[0] + l->run.req[1] + l->run.req[2], l->state);
	fflush(stderr);
}

/* Sleep until the next tick, answering the fleet's discovery meanwhile. */
static void wait_tick(live *l, uint64_t until_ns)
{
	for (;;) {
		uint64_t t = lv_now(l);
		if (t >= until_ns || lp_stop_signal())
			return;
		int ms = (int)((until_ns - t) / 1000000ULL) + 1;
		if (l->relay_fd >= 0) {
			struct pollfd p = {.fd = l->relay_fd, .events = POLLIN};
			if (poll(&p, 1, ms) > 0)
				lv_relay(l);
		} else {
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

static void free_live(live *l)
{
	lv_free_args(&l->sched);
	lv_free_args(&l->fleet);
	lv_free_args(&l->proxy);
	for (int i = 0; i < l->nservers; i++)
		lv_free_args(&l->srv[i]);
	if (l->relay_fd >= 0)
		close(l->relay_fd);
	free(l->nodes_body);
	free(l->relay_body);
	free(l->iter_seen);
	cJSON_Delete(l->iter_lines);
	cJSON_Delete(l->evals);
	cJSON_Delete(l->notes);
	live_inv_free(l->inv);
	recorder_free(l->rec);
	free(l);
}

int live_run(const scenario *sc, const engine_opts *o, engine_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	if (!o->out_dir) {
		snprintf(err, errlen, "%s: live mode needs an output directory", sc->file);
		return SC_EINVAL;
	}
	live *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->sc = sc;
	l->opts = o;
	l->relay_fd = -1;
	l->last_state = -2;
	snprintf(l->state, sizeof l->state, "SCHEDULER_DOWN");
	l->state_code = -1;
	clock_gettime(CLOCK_MONOTONIC, &l->t0);
	struct timespec wall0 = l->t0;
	l->iter_lines = cJSON_CreateArray();
	l->evals = cJSON_CreateObject();
	l->notes = cJSON_CreateArray();
	int rc = recorder_new(o->out_dir, verdict_columns, VERDICT_NCOLS, &l->rec);
	char *abs = rc ? NULL : realpath(o->out_dir, NULL); /* children run elsewhere: absolute paths */
	if (abs && strlen(abs) < sizeof l->out - 64)
		snprintf(l->out, sizeof l->out, "%s", abs);
	free(abs);
	if (rc || !l->out[0]) {
		snprintf(err, errlen, "%s: cannot write the output directory", o->out_dir);
		free_live(l);
		return rc ? rc : SC_EIO;
	}
	live_inv_config ic = {.node_timeout_ns = sc->node_timeout_ns, .heartbeat_ns = sc->heartbeat_ns,
			      .liveness_budget_ns = 120 * LV_SEC_NS};
	if (live_inv_new(&ic, l->rec, &l->inv)) {
		free_live(l);
		return -ENOMEM;
	}
	rc = lv_setup(l, err, errlen);
	if (rc) {
		kill_everything(l);
		lp_uninstall();
		free_live(l);
		int sig = lp_stop_signal();
		if (sig) {
			signal(sig, SIG_DFL);
			raise(sig);
		}
		return rc;
	}
	/* the run: a tick every 200 ms, a full poll and a metrics row every second */
	for (uint64_t next = 0; !lp_stop_signal();) {
		uint64_t t = lv_now(l);
		if (t >= sc->duration_ns)
			break;
		int full = t >= l->last_sec_ns + LV_SEC_NS;
		lv_reap(l);
		lv_poll(l, full);
		lv_read_iterations(l);
		lv_events_tick(l);
		if (full) {
			lv_read_fleet(l);
			lv_check_models(l);
			lv_metrics_row(l);
			l->last_sec_ns = t;
		}
		progress(l);
		next = t + TICK_MS * 1000000ULL;
		wait_tick(l, next < sc->duration_ns ? next : sc->duration_ns);
	}
	int interrupted = lp_stop_signal();
	if (o->progress)
		fputc('\n', stderr);
	uint64_t end_ns = lv_now(l);
	if (!interrupted) {
		/* a last look, then the fleet stops on SIGTERM so that it writes its totals */
		lv_reap(l);
		lv_poll(l, 1);
		lv_read_iterations(l);
		lv_check_models(l);
		if (l->fleet.pid) {
			if (l->fleet.paused)
				lp_signal(l->fleet.pid, SIGCONT);
			lp_signal(l->fleet.pid, SIGTERM);
			if (lp_wait_exit(l->fleet.pid, 5000, NULL) == 1)
				l->fleet.pid = 0;
		}
	}
	int servers_up = 0;
	for (int i = 0; i < l->nservers; i++)
		servers_up += l->srv[i].pid && !l->srv[i].scaled_in;
	kill_everything(l);
	lv_read_fleet(l);
	lv_read_iterations(l);
	live_inv_finish(l->inv, end_ns, l->leader_finished);

	struct timespec w;
	clock_gettime(CLOCK_MONOTONIC, &w);
	double wall = (double)(w.tv_sec - wall0.tv_sec) + (double)(w.tv_nsec - wall0.tv_nsec) / 1e9;
	res->trace_hash = 0; /* a live run is not reproducible: nothing to hash */
	res->sim_time_s = (double)end_ns / 1e9;
	res->wall_time_s = wall;
	cJSON *metrics = final_metrics(l, res->sim_time_s, wall, servers_up);
	verdict_in vi = {.sc = sc, .mode = "live", .rec = l->rec, .now_ns = end_ns,
			 .violations = live_inv_count(l->inv), .violation_list = live_inv_list(l->inv),
			 .extra = live_extra(l, interrupted), .extra_key = "live"};
	verdict_write(&vi, metrics, res);
	write_iterations(l);
	lp_uninstall();
	free_live(l);
	if (interrupted) {
		/* die of the signal that stopped the run, as the caller's shell expects */
		signal(interrupted, SIG_DFL);
		raise(interrupted);
	}
	return 0;
}
