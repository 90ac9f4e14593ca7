/*
 * engine.c — sim-mode scenario runs (see engine.h).
 *
 * The run is one rt_sim. Scenario events with "at" are rt_sim_call_at callbacks; "on" conditions
 * are tested by a 100 ms engine tick that also polls the invariants and, every second, writes a
 * metrics row. Everything the engine does happens inside rt_sim events, so a run is a pure
 * function of the scenario and the seed.
 */
#include "engine.h"

#include "cluster.h"
#include "invariants.h"
#include "recorder.h"
#include "stats.h"
#include "verdict.h"
#include "../rt/netem_sim.h"
#include "../fleet/fleet.h"
#include "../fleet/train_real.h"

#include <cblas.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 100000000ULL /* 100 ms */
#define SEC_NS 1000000000ULL

#define NCOLS VERDICT_NCOLS

typedef struct ev_call {
	struct engine *e;
	const sc_event *ev;
} ev_call;

typedef struct engine {
	const scenario *sc;
	const engine_opts *opts;
	rt_sim *sim;
	netem *net;
	uint32_t fault_rules[1024];
	size_t nfault_rules;
	cluster *cl;
	model_def model;
	rt_host *fleet_host;
	fleet *fl;
	train_real *trainer;
	recorder *rec;
	inv *inv;
	int fired[SC_MAX_EVENTS];
	ev_call calls[SC_MAX_EVENTS];
	/* What the engine has observed so far; "on" conditions are judged on these, never on who
	 * happens to be up at the moment of asking (the event before may have killed the leader). */
	int seen_round[FLEET_ROUNDS];
	int64_t seen_iteration;          /* the highest iteration any server reported */
	int seen_state[SCHED_STATE_COUNT + 1]; /* cluster states seen at a tick; last: SCHEDULER_DOWN */
	/* request statistics: whole run and the current one-second interval */
	req_tally run, tick;
	uint64_t srv_req[CLUSTER_MAX_SERVERS], srv_in[CLUSTER_MAX_SERVERS], srv_out[CLUSTER_MAX_SERVERS];
	uint64_t last_sec_ns;
	/* iterations as the leader reports them */
	uint64_t iter_ok, iter_failed;
	int64_t iter_last;
	uint64_t iter_started_ns;
	int64_t evaluated_up_to;
	double accuracy, loss;
	int has_eval;
	int last_state;
	double online_sum;
	uint64_t online_samples;
	uint64_t max_recovery_ns, pending_fault_ns;
	uint64_t servers_hash;
	size_t fleet_bytes_per_device;
	uint8_t served[4096]; /* getModel answers checked per iteration (obs_want_model) */
	struct timespec wall0;
	double last_progress;
} engine;

static double wall_now(const engine *e)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - e->wall0.tv_sec) + (double)(t.tv_nsec - e->wall0.tv_nsec) / 1e9;
}

static uint64_t now(const engine *e) { return rt_sim_now_ns(e->sim); }

/* ---- fleet observers ---- */

static void obs_request(void *ctx, fleet_round round, int server, int retcode, uint64_t lat_ns,
			size_t out, size_t in)
{
	engine *e = ctx;
	if (round >= FLEET_ROUNDS)
		return;
	req_tally_add(&e->run, round, retcode, lat_ns, out, in);
	req_tally_add(&e->tick, round, retcode, lat_ns, out, in);
	if (server >= 0 && server < CLUSTER_MAX_SERVERS) {
		/* from the server's side: what it received and sent */
		e->srv_req[server]++;
		e->srv_in[server] += out;
		e->srv_out[server] += in;
	}
	e->seen_round[round] = 1;
}

static void obs_update(void *ctx, int server, long device, int64_t it, double ds, const float *w, size_t n)
{
	engine *e = ctx;
	inv_update_accepted(e->inv, it, ds, w, n);
}

static void obs_model(void *ctx, int server, int64_t it, const float *w, size_t n)
{
	engine *e = ctx;
	char name[32];
	snprintf(name, sizeof name, "server/%d", server);
	inv_model_served(e->inv, now(e), name, it, w, n);
}

/* Devices check what they are served against what the servers store: the first few answers per
 * iteration are enough (the servers' own stores are compared every tick). */
#define MODELS_CHECKED_PER_ITERATION 8

static int obs_want_model(void *ctx, int server, int64_t it)
{
	engine *e = ctx;
	if (it < 0 || it >= (int64_t)(sizeof e->served / sizeof e->served[0]))
		return 0;
	if (e->served[it] >= MODELS_CHECKED_PER_ITERATION)
		return 0;
	e->served[it]++;
	return 1;
}

static void obs_time_rejected(void *ctx, int server, long device, int64_t device_ms)
{
	engine *e = ctx;
	char name[32];
	snprintf(name, sizeof name, "server/%d", server);
	cl_server *s = cluster_server(e->cl, name);
	if (s && s->host)
		inv_time_rejected(e->inv, now(e), name, rt_wall_ms(s->host), device_ms);
}

static fleet_dist to_fleet_dist(const sc_dist *d)
{
	return (fleet_dist){(fleet_dist_kind)d->kind, d->a, d->b};
}

/* ---- faults ---- */

static void fault_event(engine *e, const sc_event *ev, cJSON *fields)
{
	if (!fields)
		fields = cJSON_CreateObject();
	cJSON_AddStringToObject(fields, "action", sc_action_name(ev->action));
	cJSON_AddNumberToObject(fields, "event", ev->index);
	char name[64];
	snprintf(name, sizeof name, "%s%s%s", sc_action_name(ev->action), ev->node[0] ? " " : "", ev->node);
	recorder_instant(e->rec, ev->node[0] ? ev->node : "engine", name, now(e), NULL);
	recorder_event(e->rec, now(e), "fault", fields);
	inv_fault(e->inv, now(e));
	if (!e->pending_fault_ns)
		e->pending_fault_ns = now(e);
}

static void add_fault_rule(engine *e, netem_rule *r, uint64_t for_ns)
{
	r->expires_at_ns = for_ns ? now(e) + for_ns : 0;
	uint32_t id;
	if (!netem_rule_add(e->net, r, &id) && e->nfault_rules < 1024)
		e->fault_rules[e->nfault_rules++] = id;
}

static void sc_link_to_rule(const sc_link *l, netem_rule *r)
{
	r->latency_ns = l->latency_ns;
	r->jitter_ns = l->jitter_ns;
	netem_dist_parse(l->jitter_dist, &r->dist);
	r->bandwidth_bps = l->bandwidth_bps / 8;
	if (!strcmp(l->loss_mode, "reset"))
		r->reset = l->loss;
	else
		r->loss = l->loss;
	r->slices = l->slices;
}

static rt_host *node_host(engine *e, const char *node)
{
	if (!strcmp(node, "fleet"))
		return e->fleet_host;
	return cluster_host(e->cl, node);
}

static void sync_fleet_servers(engine *e);

static void do_event(engine *e, const sc_event *ev)
{
	cJSON *f = cJSON_CreateObject();
	if (ev->node[0])
		cJSON_AddStringToObject(f, "node", ev->node);
	int rc = 0;
	switch (ev->action) {
	case SC_KILL:
		rc = cluster_kill(e->cl, ev->node);
		break;
	case SC_RESTART:
		rc = cluster_restart(e->cl, ev->node);
		break;
	case SC_PAUSE:
	case SC_RESUME: {
		rt_host *h = node_host(e, ev->node);
		cl_server *s = cluster_server(e->cl, ev->node);
		int pause = ev->action == SC_PAUSE;
		if (!h)
			rc = RT_ENOENT;
		else if (pause)
			rt_sim_pause(h);
		else
			rt_sim_resume(h);
		if (h && s)
			s->paused = pause;
		else if (h && !strcmp(ev->node, "scheduler"))
			e->cl->sched_paused = pause;
		break;
	}
	case SC_CLOCK_SKEW:
		cJSON_AddNumberToObject(f, "offset_ms", (double)ev->offset_ms);
		cJSON_AddNumberToObject(f, "drift_ppm", ev->drift_ppm);
		if (!strcmp(ev->node, "fleet")) {
			cJSON_AddNumberToObject(f, "share", ev->share);
			fleet_skew(e->fl, ev->share, ev->offset_ms);
		} else {
			rt_host *h = node_host(e, ev->node);
			if (h)
				rt_sim_set_clock(h, ev->offset_ms, ev->drift_ppm);
			else
				rc = RT_ENOENT;
		}
		break;
	case SC_PARTITION:
		for (size_t a = 0; a < ev->n_groups; a++)
			for (size_t b = a + 1; b < ev->n_groups; b++)
				for (size_t i = 0; i < ev->group_len[a]; i++)
					for (size_t j = 0; j < ev->group_len[b]; j++) {
						netem_rule r;
						netem_rule_init(&r);
						snprintf(r.from, sizeof r.from, "%s", ev->groups[a][i]);
						snprintf(r.to, sizeof r.to, "%s", ev->groups[b][j]);
						r.partition = 1;
						add_fault_rule(e, &r, ev->for_ns);
					}
		cJSON_AddNumberToObject(f, "for_s", (double)ev->for_ns / 1e9);
		break;
	case SC_LINK: {
		netem_rule r;
		netem_rule_init(&r);
		snprintf(r.from, sizeof r.from, "%s", ev->from);
		snprintf(r.to, sizeof r.to, "%s", ev->to);
		sc_link_to_rule(&ev->link, &r);
		add_fault_rule(e, &r, ev->for_ns);
		cJSON_AddStringToObject(f, "from", ev->from);
		cJSON_AddStringToObject(f, "to", ev->to);
		cJSON_AddNumberToObject(f, "for_s", (double)ev->for_ns / 1e9);
		break;
	}
	case SC_HEAL:
		for (size_t i = 0; i < e->nfault_rules; i++)
			netem_rule_remove(e->net, e->fault_rules[i]);
		e->nfault_rules = 0;
		break;
	case SC_SCALE_OUT:
		cJSON_AddNumberToObject(f, "servers", ev->servers);
		rc = cluster_scale_out(e->cl, ev->servers);
		break;
	case SC_SCALE_IN: {
		cJSON *ids = cJSON_AddArrayToObject(f, "node_ids");
		for (size_t i = 0; i < ev->n_ids; i++)
			cJSON_AddItemToArray(ids, cJSON_CreateString(ev->node_ids[i]));
		rc = cluster_scale_in(e->cl, (char (*)[32])ev->node_ids, ev->n_ids);
		break;
	}
	case SC_FLEET:
		cJSON_AddNumberToObject(f, "devices", (double)ev->devices);
		rc = fleet_resize(e->fl, ev->devices);
		break;
	case SC_DISK_FAULT: {
		rt_host *h = node_host(e, ev->node);
		cJSON_AddStringToObject(f, "fault_kind", ev->kind);
		if (!h)
			rc = RT_ENOENT;
		else if (!strcmp(ev->kind, "lose_unsynced"))
			rt_sim_disk_lose_unsynced(h);
		else
			rc = rt_sim_disk_corrupt(h, !strcmp(ev->node, "scheduler") ? "scheduler_meta.json" : "srv_state",
						 (size_t)(rt_rand_u64(h) % 64));
		break;
	}
	default:
		break;
	}
	if (rc)
		cJSON_AddStringToObject(f, "error", rt_strerror(rc));
	fault_event(e, ev, f);
	sync_fleet_servers(e);
	inv_check(e->inv, now(e), e->cl);
}

static void fire_cb(void *data)
{
	ev_call *c = data;
	do_event(c->e, c->ev);
}

/* Each scenario event is scheduled at most once, so its call lives in the engine (a run that
 * ends before an event fires leaves nothing to free). */
static void schedule_event(engine *e, const sc_event *ev, uint64_t at_ns)
{
	ev_call *c = &e->calls[ev->index];
	*c = (ev_call){e, ev};
	if (at_ns <= now(e))
		at_ns = now(e) + 1;
	rt_sim_call_at(e->sim, at_ns, fire_cb, c);
}

/*
 * "on" conditions, judged on what the engine has observed up to this tick: iteration=N (some
 * server reported iteration N or later), iterations.success=N, state=X (the cluster was seen in
 * state X at a tick; SCHEDULER_DOWN while the scheduler is down), round=NAME (a device sent that
 * round). Each condition only ever turns true, and each event fires once.
 */
static int condition_holds(engine *e, const char *on)
{
	if (!strncmp(on, "iteration=", 10))
		return e->seen_iteration >= strtoll(on + 10, NULL, 10);
	if (!strncmp(on, "iterations.success=", 19))
		return (long long)e->iter_ok >= strtoll(on + 19, NULL, 10);
	if (!strncmp(on, "state=", 6)) {
		if (!strcmp(on + 6, "SCHEDULER_DOWN"))
			return e->seen_state[SCHED_STATE_COUNT];
		int st = sched_state_parse(on + 6);
		return st >= 0 && e->seen_state[st];
	}
	if (!strncmp(on, "round=", 6))
		for (int r = 0; r < FLEET_ROUNDS; r++)
			if (!strcmp(fleet_round_name((fleet_round)r), on + 6))
				return e->seen_round[r];
	return 0;
}

/* Record what the cluster shows at this tick (before any event of the tick fires). */
static void observe(engine *e)
{
	int st = cluster_state_code(e->cl);
	e->seen_state[st >= 0 && st < SCHED_STATE_COUNT ? st : SCHED_STATE_COUNT] = 1;
	for (int i = 0; i < e->cl->nservers; i++) {
		cl_server *s = &e->cl->servers[i];
		if (!s->node || s->scaled_in)
			continue;
		srv_status ss;
		srv_get_status(s->node, &ss);
		if (ss.ready && ss.iteration > e->seen_iteration)
			e->seen_iteration = ss.iteration;
	}
}

/* ---- the tick ---- */

static void sync_fleet_servers(engine *e)
{
	fleet_server list[CLUSTER_MAX_SERVERS];
	size_t n = cluster_device_servers(e->cl, list, CLUSTER_MAX_SERVERS);
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint64_t)list[i].id) * 1099511628211ULL;
	h ^= n;
	if (h != e->servers_hash) {
		e->servers_hash = h;
		fleet_set_servers(e->fl, list, n);
	}
}

static void evaluate(engine *e, int64_t it)
{
	/* the leader's committed model for `it` */
	for (int i = 0; i < e->cl->nservers; i++) {
		if (!e->cl->servers[i].node)
			continue;
		size_t n;
		uint64_t h;
		const float *w = srv_get_model(e->cl->servers[i].node, it, &n, &h);
		if (!w || n != e->model.total)
			continue;
		float acc, loss;
		if (train_real_evaluate(e->trainer, w, &acc, &loss) == 0) {
			e->accuracy = acc;
			e->loss = loss;
			e->has_eval = 1;
			cJSON *f = cJSON_CreateObject();
			cJSON_AddNumberToObject(f, "iteration", (double)it);
			cJSON_AddNumberToObject(f, "accuracy", acc);
			cJSON_AddNumberToObject(f, "loss", loss);
			recorder_event(e->rec, now(e), "eval", f);
		}
		return;
	}
}

static void watch_iterations(engine *e)
{
	srv_status st;
	if (!cluster_leader_status(e->cl, &st))
		return;
	while (st.iterations_ok + st.iterations_failed > e->iter_ok + e->iter_failed ||
	       st.iterations_ok > e->iter_ok) {
		int ok = st.iterations_ok > e->iter_ok;
		if (ok)
			e->iter_ok++;
		else
			e->iter_failed++;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddNumberToObject(f, "iteration", (double)st.last_committed);
		cJSON_AddStringToObject(f, "result", ok ? "success" : "fail");
		cJSON_AddNumberToObject(f, "duration_s", (double)(now(e) - e->iter_started_ns) / 1e9);
		recorder_event(e->rec, now(e), "iteration", f);
		char name[48];
		snprintf(name, sizeof name, "iteration %lld", (long long)st.last_committed);
		recorder_span(e->rec, "cluster", name, e->iter_started_ns, now(e), NULL);
		e->iter_started_ns = now(e);
		if (ok && e->pending_fault_ns) {
			uint64_t rec_ns = now(e) - e->pending_fault_ns;
			if (rec_ns > e->max_recovery_ns)
				e->max_recovery_ns = rec_ns;
			e->pending_fault_ns = 0;
		}
	}
	if (st.last_committed > e->iter_last)
		e->iter_last = st.last_committed;
	if (e->trainer && e->evaluated_up_to < st.last_committed) {
		e->evaluated_up_to = st.last_committed;
		evaluate(e, st.last_committed);
	}
}

static void metrics_row(engine *e)
{
	fleet_stats fs;
	fleet_get_stats(e->fl, &fs);
	e->online_sum += (double)fs.online;
	e->online_samples++;
	e->fleet_bytes_per_device = fs.bytes_per_device;
	srv_status st;
	int lead = cluster_leader_status(e->cl, &st);
	double v[NCOLS];
	size_t k = 0;
	v[k++] = lead ? (double)st.iteration : 0;
	v[k++] = (double)e->iter_ok;
	v[k++] = (double)e->iter_failed;
	v[k++] = cluster_servers_up(e->cl);
	v[k++] = cluster_state_code(e->cl);
	v[k++] = (double)fs.devices;
	v[k++] = (double)fs.online;
	k += req_tally_columns(&e->tick, v + k);
	recorder_metrics_row(e->rec, now(e), v);
	for (int i = 0; i < e->cl->nservers; i++) {
		cl_server *s = &e->cl->servers[i];
		if (!s->node)
			continue;
		srv_status ss;
		srv_get_status(s->node, &ss);
		int64_t offset = rt_wall_ms(s->host) - (RT_SIM_EPOCH_MS + (int64_t)(now(e) / 1000000ULL));
		recorder_server_row(e->rec, now(e), s->name, e->srv_req[i], e->srv_in[i], e->srv_out[i],
				    ss.iteration, offset);
	}
	memset(e->srv_req, 0, sizeof e->srv_req);
	memset(e->srv_in, 0, sizeof e->srv_in);
	memset(e->srv_out, 0, sizeof e->srv_out);
	memset(&e->tick, 0, sizeof e->tick);
}

static void progress(engine *e)
{
	double w = wall_now(e);
	if (!e->opts->progress || w - e->last_progress < 0.25)
		return;
	e->last_progress = w;
	fleet_stats fs;
	fleet_get_stats(e->fl, &fs);
	double t = (double)now(e) / 1e9;
	fprintf(stderr, "\r[%s] t=%7.1fs  iteration %-4lld ok %-4" PRIu64 " failed %-3" PRIu64
		"  devices %ld (online %ld)  %-24s wall %5.1fs  x%.0f   ",
		e->sc->name, t, (long long)e->iter_last, e->iter_ok, e->iter_failed, fs.devices, fs.online,
		cluster_state(e->cl), w, w > 0 ? t / w : 0);
	fflush(stderr);
}

static void tick(void *data)
{
	engine *e = data;
	uint64_t t = now(e);
	int state = cluster_state_code(e->cl);
	if (state != e->last_state) {
		e->last_state = state;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", cluster_state(e->cl));
		recorder_event(e->rec, t, "state", f);
	}
	watch_iterations(e);
	sync_fleet_servers(e);
	observe(e);
	/* every event whose condition holds now fires, in file order */
	for (size_t i = 0; i < e->sc->n_events; i++) {
		const sc_event *ev = &e->sc->events[i];
		if (ev->has_at || e->fired[i] || !condition_holds(e, ev->on))
			continue;
		e->fired[i] = 1;
		if (ev->after_ns)
			schedule_event(e, ev, t + ev->after_ns);
		else
			do_event(e, ev);
	}
	inv_check(e->inv, t, e->cl);
	if (t >= e->last_sec_ns + SEC_NS) {
		e->last_sec_ns = t;
		metrics_row(e);
	}
	progress(e);
	if (t + TICK_NS <= e->sc->duration_ns)
		rt_sim_call_at(e->sim, t + TICK_NS, tick, e);
}

/* ---- set-up and verdicts ---- */

/* Membership invariant: heartbeats pass between a and b unless a partition or a resetting link
 * lies between them, in either direction. */
static int reachable(void *ctx, const char *a, const char *b, uint64_t now_ns)
{
	engine *e = ctx;
	return !netem_blocked(e->net, a, b, now_ns) && !netem_blocked(e->net, b, a, now_ns);
}

static int build(engine *e, char *err, size_t errlen)
{
	const scenario *sc = e->sc;
	e->sim = rt_sim_new(sc->seed);
	e->net = netem_new(sc->seed);
	if (!e->sim || !e->net)
		return RT_ENOMEM;
	/* the ordinary links: fleet <-> anything, and everything else */
	netem_rule r;
	netem_rule_init(&r);
	r.base = 1;
	sc_link_to_rule(&sc->net_default, &r);
	netem_rule_add(e->net, &r, NULL);
	netem_rule_init(&r);
	r.base = 1;
	snprintf(r.from, sizeof r.from, "fleet");
	sc_link_to_rule(&sc->net_fleet, &r);
	netem_rule_add(e->net, &r, NULL);
	netem_sim_attach(e->sim, e->net);

	if (model_def_parse(sc->model, &e->model)) {
		snprintf(err, errlen, "%s: $.cluster.model: unknown model \"%s\"", sc->file, sc->model);
		return SC_EINVAL;
	}
	int rc = cluster_new(e->sim, sc, &e->cl, err, errlen);
	if (rc)
		return rc;
	if (!strcmp(sc->training, "real")) {
		if (strcmp(sc->model, "lenet5")) {
			snprintf(err, errlen, "%s: $.fleet.training: \"real\" needs cluster.model \"lenet5\"", sc->file);
			return SC_EINVAL;
		}
		train_real_config tc = {.seed = sc->seed, .devices = sc->devices, .samples_per_device = sc->data.samples_per_device,
					.alpha = sc->data.alpha, .classes = sc->data.classes};
		snprintf(tc.partition, sizeof tc.partition, "%s", sc->data.partition);
		char why[256];
		if (train_real_new(&tc, &e->trainer, why, sizeof why)) {
			snprintf(err, errlen, "%s: $.fleet.data: %s", sc->file, why);
			return SC_EINVAL;
		}
	}
	rc = rt_sim_host_new(e->sim, "fleet", "10.0.2.1", &e->fleet_host);
	if (rc)
		return rc;
	fleet_config fc = {0};
	fc.seed = rt_seed_derive(sc->seed, "fleet-devices");
	fc.devices = sc->devices;
	fc.model = &e->model;
	snprintf(fc.fl_name, sizeof fc.fl_name, "%s", e->cl->srv_base.fl_name);
	snprintf(fc.url_prefix, sizeof fc.url_prefix, "%s", e->cl->srv_base.http_url_prefix);
	fc.compute_ms_per_sample = to_fleet_dist(&sc->compute_ms_per_sample);
	fc.bandwidth_kbps = to_fleet_dist(&sc->bandwidth_kbps);
	fc.clock_skew_ms = to_fleet_dist(&sc->clock_skew_ms);
	fc.session_s = to_fleet_dist(&sc->session_s);
	fc.samples = (fleet_dist){FLEET_FIXED, (double)sc->data.samples_per_device, 0};
	fc.online_fraction = sc->online_fraction;
	fc.dropout = sc->dropout;
	if (e->trainer) {
		fc.train = train_real_fn;
		fc.train_samples = train_real_samples; /* a device reports its partition's size */
		fc.train_ctx = e->trainer;
	}
	fc.obs = (fleet_observer){.on_request = obs_request, .on_update_accepted = obs_update,
				  .on_model = obs_model, .want_model = obs_want_model,
				  .on_time_rejected = obs_time_rejected, .ctx = e};
	rc = fleet_new(e->fleet_host, &fc, &e->fl);
	if (rc)
		return rc;
	inv_config ic = {.model_floats = e->model.total,
			 .replay_ms = e->cl->srv_base.replay_attack_time_diff,
			 .node_timeout_ns = sc->node_timeout_ns, .heartbeat_ns = sc->heartbeat_ns,
			 .liveness_budget_ns = 120 * SEC_NS, .reachable = reachable, .reach_ctx = e};
	rc = inv_new(&ic, e->rec, &e->inv);
	if (rc)
		return rc;
	for (size_t i = 0; i < sc->n_events; i++)
		if (sc->events[i].has_at)
			schedule_event(e, &sc->events[i], sc->events[i].at_ns + sc->events[i].after_ns);
	e->last_state = -2;
	return rt_sim_call_at(e->sim, 1, tick, e);
}

static void set_num(cJSON *m, const char *k, double v) { cJSON_AddNumberToObject(m, k, v); }

static cJSON *final_metrics(engine *e, double wall)
{
	cJSON *m = cJSON_CreateObject();
	fleet_stats fs;
	fleet_get_stats(e->fl, &fs);
	double t = (double)now(e) / 1e9;
	set_num(m, "iterations.success", (double)e->iter_ok);
	set_num(m, "iterations.failed", (double)e->iter_failed);
	set_num(m, "iteration.last", (double)e->iter_last);
	set_num(m, "invariants.violations", inv_count(e->inv));
	set_num(m, "invariants.validity_checks", (double)inv_validity_checks(e->inv));
	set_num(m, "invariants.agreement_checks", (double)inv_agreement_checks(e->inv));
	cJSON_AddStringToObject(m, "cluster.state", cluster_state(e->cl));
	set_num(m, "cluster.servers", cluster_servers_up(e->cl));
	if (e->has_eval) {
		set_num(m, "model.accuracy", e->accuracy);
		set_num(m, "model.loss", e->loss);
	}
	set_num(m, "devices.final", (double)fs.devices);
	set_num(m, "devices.online.mean", e->online_samples ? e->online_sum / (double)e->online_samples : 0);
	req_tally_metrics(&e->run, m);
	set_num(m, "updates.accepted", (double)fs.updates_accepted);
	set_num(m, "time.rejected", (double)fs.time_rejected);
	set_num(m, "fleet.dropouts", (double)fs.dropouts);
	set_num(m, "recovery.time_s", (double)e->max_recovery_ns / 1e9);
	set_num(m, "throughput.bytes_per_s", t > 0 ? (double)(fs.bytes_in + fs.bytes_out) / t : 0);
	set_num(m, "sim.speedup", wall > 0 ? t / wall : 0);
	set_num(m, "fleet.bytes_per_device", (double)fs.bytes_per_device);
	return m;
}

/* Copy the leader's iterations.jsonl (from its virtual disk) into the output, adding evaluations. */
static void copy_iterations(engine *e)
{
	for (int i = 0; i < e->cl->nservers; i++) {
		cl_server *s = &e->cl->servers[i];
		uint8_t *buf = NULL;
		size_t len = 0;
		if (!s->host || rt_file_read(s->host, "iterations.jsonl", &buf, &len))
			continue;
		if (len)
			recorder_write_file(e->rec, "iterations.jsonl", (const char *)buf);
		free(buf);
		if (len)
			return;
	}
	recorder_write_file(e->rec, "iterations.jsonl", "");
}

static void node_log(engine *e, FILE **logf)
{
	*logf = NULL;
	if (e->opts->verbose) {
		rt_sim_set_log_file(e->sim, stderr);
		return;
	}
	char path[600];
	if (e->opts->log_file)
		snprintf(path, sizeof path, "%s", e->opts->log_file);
	else if (e->opts->out_dir)
		snprintf(path, sizeof path, "%s/nodes.log", e->opts->out_dir);
	else
		return;
	*logf = fopen(path, "w");
	rt_sim_set_log_file(e->sim, *logf);
}

int engine_run(const scenario *sc, const engine_opts *o, engine_result *res, char *err, size_t errlen)
{
	engine *e = calloc(1, sizeof *e);
	if (!e)
		return RT_ENOMEM;
	memset(res, 0, sizeof *res);
	e->sc = sc;
	e->opts = o;
	e->iter_last = 0;
	clock_gettime(CLOCK_MONOTONIC, &e->wall0);
	openblas_set_num_threads(1);
	FILE *logf = NULL;
	int rc = recorder_new(o->out_dir, verdict_columns, NCOLS, &e->rec);
	if (rc) {
		snprintf(err, errlen, "%s: cannot write the output directory", o->out_dir ? o->out_dir : "?");
		free(e);
		return rc;
	}
	rc = build(e, err, errlen);
	if (!rc) {
		node_log(e, &logf);
		rt_sim_run_until(e->sim, sc->duration_ns);
		if (o->progress)
			fputc('\n', stderr);
		watch_iterations(e);
		inv_finish(e->inv, now(e), e->cl);
	}
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s: the run could not be set up: %s", sc->file, rt_strerror(rc));
	} else {
		double wall = wall_now(e);
		cJSON *metrics = final_metrics(e, wall);
		res->trace_hash = rt_sim_trace_hash(e->sim);
		res->sim_time_s = (double)now(e) / 1e9;
		res->wall_time_s = wall;
		verdict_in vi = {.sc = sc, .mode = "sim", .rec = e->rec, .now_ns = now(e),
				  .violations = inv_count(e->inv), .violation_list = inv_list(e->inv)};
		verdict_write(&vi, metrics, res);
		copy_iterations(e);
	}
	/* tear down: fleet and cluster first (they use the sim), then the sim */
	if (e->fl) {
		fleet_destroy(e->fl);
	}
	cluster_free(e->cl);
	train_real_free(e->trainer);
	rt_sim_free(e->sim);
	netem_free(e->net);
	inv_free(e->inv);
	recorder_free(e->rec);
	if (logf)
		fclose(logf);
	free(e);
	return rc;
}
