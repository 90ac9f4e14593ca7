/*
 * live_obs.c — what a live run sees: the processes' exits, the scheduler's GET /state and
 * /nodes, every server's GET /metrics and getModel, the leaders' iterations.jsonl, fl-fleet's
 * requests.csv and eval.csv; the metrics rows made of them; the fleet's discovery relay.
 */
#include "live_http.h"
#include "live_int.h"
#include "live_proc.h"
#include "../engine/verdict.h"
#include "../../node/proto/envelope.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>


/* ---- processes ---- */

static void reap_one(live *l, lv_node *n)
{
	int st = 0;
	if (!n->pid || lp_reap(n->pid, &st) != 1)
		return;
	/* it ended by itself (a kill of ours reaps at once): a crash, or a refusal to start */
	cJSON *f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "node", n->name);
	cJSON_AddNumberToObject(f, "pid", n->pid);
	if (WIFSIGNALED(st))
		cJSON_AddNumberToObject(f, "signal", WTERMSIG(st));
	else
		cJSON_AddNumberToObject(f, "exit", WEXITSTATUS(st));
	cJSON_AddStringToObject(f, "log", n->log);
	recorder_event(l->rec, lv_now(l), "process", f);
	recorder_instant(l->rec, n->name, "exited", lv_now(l), NULL);
	/* the cluster needs its node timeout to notice, as after a kill */
	live_inv_fault(l->inv, lv_now(l));
	n->pid = 0;
	n->paused = 0;
	n->polled = 0;
}

void lv_reap(live *l)
{
	reap_one(l, &l->proxy);
	reap_one(l, &l->sched);
	for (int i = 0; i < l->nservers; i++)
		reap_one(l, &l->srv[i]);
	reap_one(l, &l->fleet);
}

/* ---- polls ---- */

/* The value of one sample of Prometheus text ("name" or "name{labels}"). */
static int metric(const char *text, const char *key, double *v)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == ' ') {
			*v = strtod(p + kl + 1, NULL);
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static void poll_server(live *l, lv_node *n, uint64_t t)
{
	lh_resp r;
	n->polled = 0;
	if (lh_request(n->ip, n->port, "GET", "/metrics", NULL, NULL, 0, LV_HTTP_MS, &r))
		return;
	double it, lc, rank, ready, fin, lead;
	if (r.status == 200 && !metric(r.body, "flserver_iteration", &it) &&
	    !metric(r.body, "flserver_last_committed_iteration", &lc) && !metric(r.body, "flserver_rank", &rank) &&
	    !metric(r.body, "flserver_ready", &ready)) {
		n->polled = 1;
		n->iteration = (int64_t)it;
		n->last_committed = (int64_t)lc;
		n->rank = (int)rank;
		n->ready = ready > 0;
		/* the leader says so (after a failover it is not rank 0); older servers: rank 0 */
		int is_leader = metric(r.body, "flserver_leader", &lead) ? n->rank == 0 : lead > 0;
		if (is_leader && !n->scaled_in) {
			l->leader_found = 1;
			l->leader_iteration = n->iteration;
			l->leader_finished = !metric(r.body, "flserver_instance_state{state=\"finish\"}", &fin) && fin > 0;
		}
		if (n->ready)
			live_inv_iteration(l->inv, t, n->name, n->iteration);
		if (n->ready && !n->scaled_in && n->iteration > l->seen_iteration)
			l->seen_iteration = n->iteration;
	}
	lh_resp_free(&r);
}

static void poll_state(live *l, uint64_t t)
{
	if (!l->sched.pid) {
		snprintf(l->state, sizeof l->state, "SCHEDULER_DOWN");
		l->state_code = -1;
	} else if (!l->sched.paused) {
		lh_resp r;
		if (!lh_request(l->sched.ip, l->manage_port, "GET", "/state", NULL, NULL, 0, LV_HTTP_MS, &r)) {
			cJSON *j = cJSON_Parse(r.body);
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "cluster_state");
			if (cJSON_IsString(s)) {
				snprintf(l->state, sizeof l->state, "%s", s->valuestring);
				l->state_code = sched_state_parse(s->valuestring); /* -1: unknown */
			}
			cJSON_Delete(j);
			lh_resp_free(&r);
		}
	}
	if (l->state_code >= 0)
		l->seen_state[l->state_code] = 1;
	else if (!l->sched.pid)
		l->seen_state[SCHED_STATE_COUNT] = 1;
	if (l->state_code != l->last_state) {
		l->last_state = l->state_code;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "state", l->state);
		recorder_event(l->rec, t, "state", f);
	}
}

/* GET /nodes: scale-ins completed, membership, and the fleet's view through the proxies. */
static void poll_nodes(live *l, uint64_t t)
{
	if (!l->sched.pid || l->sched.paused)
		return;
	lh_resp r;
	if (lh_request(l->sched.ip, l->manage_port, "GET", "/nodes", NULL, NULL, 0, LV_HTTP_MS, &r))
		return;
	cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "nodeIds"), *it;
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(j);
		lh_resp_free(&r);
		return;
	}
	int listed[LV_MAX_SERVERS] = {0};
	member_view mv[LV_MAX_SERVERS];
	size_t nmv = 0;
	cJSON_ArrayForEach(it, arr) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "nodeId");
		const cJSON *alive = cJSON_GetObjectItemCaseSensitive(it, "alive");
		if (!cJSON_IsString(role) || strcmp(role->valuestring, "SERVER") || !cJSON_IsString(id))
			continue;
		char name[48];
		snprintf(name, sizeof name, "server/%s", id->valuestring);
		lv_node *n = lv_find(l, name);
		if (!n)
			continue;
		listed[n->id] = 1;
		int is_alive = cJSON_IsTrue(alive) || (cJSON_IsString(alive) && !strcmp(alive->valuestring, "true"));
		if (!n->scaled_in && !n->scale_in_pending && nmv < LV_MAX_SERVERS)
			mv[nmv++] = (member_view){n->name, is_alive,
						  n->pid && !n->paused && !lv_cut_off(l, "scheduler", n->name, t)};
		if (n->proxy_port) { /* devices reach the server through its proxy */
			cJSON_ReplaceItemInObjectCaseSensitive(it, "ip", cJSON_CreateString(n->proxy_ip));
			cJSON_ReplaceItemInObjectCaseSensitive(it, "flServerPort", cJSON_CreateNumber(n->proxy_port));
		}
	}
	live_inv_members(l->inv, t, l->sched_up_ns, mv, nmv);
	for (int i = 0; i < l->nservers; i++)
		if (l->srv[i].scale_in_pending && !listed[i]) {
			l->srv[i].scale_in_pending = 0;
			l->srv[i].scaled_in = 1;
		}
	free(l->relay_body);
	l->relay_body = cJSON_PrintUnformatted(j);
	free(l->nodes_body);
	l->nodes_body = r.body; /* taken */
	r.body = NULL;
	cJSON_Delete(j);
	lh_resp_free(&r);
}

void lv_poll(live *l, int full)
{
	uint64_t t = lv_now(l);
	poll_state(l, t);
	l->leader_found = 0;
	for (int i = 0; i < l->nservers; i++) {
		lv_node *n = &l->srv[i];
		if (n->pid && !n->paused)
			poll_server(l, n, t);
		else
			n->polled = 0;
	}
	if (full || !l->relay_body) /* the fleet waits for a first answer */
		poll_nodes(l, t);
}

void lv_relay(live *l)
{
	if (l->relay_fd < 0)
		return;
	if (l->relay_body)
		lh_serve(l->relay_fd, 200, l->relay_body);
	else
		lh_serve(l->relay_fd, 503, "{\"error_message\":\"the scheduler has not answered /nodes yet\",\"code\":\"1\"}");
}

int lv_condition(live *l, const char *on)
{
	/* the same semantics as the sim engine (docs/scenarios.md): what has been observed */
	if (!strncmp(on, "iteration=", 10))
		return l->seen_iteration >= strtoll(on + 10, NULL, 10);
	if (!strncmp(on, "iterations.success=", 19))
		return (long long)l->iter_ok >= strtoll(on + 19, NULL, 10);
	if (!strncmp(on, "state=", 6)) {
		if (!strcmp(on + 6, "SCHEDULER_DOWN"))
			return l->seen_state[SCHED_STATE_COUNT];
		int st = sched_state_parse(on + 6);
		return st >= 0 && l->seen_state[st];
	}
	if (!strncmp(on, "round=", 6))
		for (int r = 0; r < TALLY_ROUNDS; r++)
			if (!strcmp(tally_round_names[r], on + 6))
				return l->seen_round[r];
	return 0;
}

/* ---- files the processes write ---- */

/* Feed every complete line after *off to fn; *off moves past them. */
static void read_lines(live *l, const char *path, long *off, void (*fn)(live *, void *, char *), void *ctx)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fseek(f, *off, SEEK_SET)) {
		fclose(f);
		return;
	}
	char line[16384];
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);
		if (!n || line[n - 1] != '\n')
			break; /* still being written */
		line[n - 1] = '\0';
		*off = ftell(f);
		fn(l, ctx, line);
	}
	fclose(f);
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void iteration_line(live *l, void *ctx, char *line)
{
	lv_node *n = ctx;
	uint64_t t = lv_now(l);
	cJSON *j = cJSON_Parse(line);
	const cJSON *cur = cJSON_GetObjectItemCaseSensitive(j, "currentIteration");
	if (!cJSON_IsNumber(cur) || cur->valuedouble < 0 || cur->valuedouble > 1e7) {
		cJSON_Delete(j);
		return;
	}
	int64_t it = (int64_t)cur->valuedouble;
	const cJSON *mh = cJSON_GetObjectItemCaseSensitive(j, "modelHash");
	if (cJSON_IsString(mh)) {
		char src[64];
		snprintf(src, sizeof src, "%s iterations.jsonl", n->name);
		live_inv_model(l->inv, t, src, it, strtoull(mh->valuestring, NULL, 16));
	}
	if ((size_t)it >= l->iter_cap) {
		size_t cap = ((size_t)it + 1024) & ~(size_t)1023;
		unsigned char *s = realloc(l->iter_seen, cap);
		if (!s) {
			cJSON_Delete(j);
			return;
		}
		memset(s + l->iter_cap, 0, cap - l->iter_cap);
		l->iter_seen = s;
		l->iter_cap = cap;
	}
	if (l->iter_seen[it]) { /* another leader (or a restarted one) wrote it already */
		cJSON_Delete(j);
		return;
	}
	l->iter_seen[it] = 1;
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "iterationResult");
	int ok = cJSON_IsString(res) && !strcmp(res->valuestring, "success");
	double dur_s = jnum(j, "iterationExecutionTime") / 1000.0;
	double accepted = jnum(cJSON_GetObjectItemCaseSensitive(j, "clientVisitedInfo"), "updateModelAcceptClientNum");
	if (ok)
		l->iter_ok++;
	else
		l->iter_failed++;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "iteration", (double)it);
	cJSON_AddStringToObject(f, "result", ok ? "success" : "fail");
	cJSON_AddNumberToObject(f, "duration_s", dur_s);
	cJSON_AddNumberToObject(f, "accepted", accepted);
	recorder_event(l->rec, t, "iteration", f);
	char name[48];
	snprintf(name, sizeof name, "iteration %lld", (long long)it);
	uint64_t dur_ns = (uint64_t)(dur_s * 1e9);
	recorder_span(l->rec, "cluster", name, dur_ns < t ? t - dur_ns : 0, t, NULL);
	if (it > l->iter_last)
		l->iter_last = it;
	if (ok) {
		live_inv_success(l->inv, t);
		if (l->pending_fault_ns) {
			uint64_t rec = t - l->pending_fault_ns;
			if (rec > l->max_recovery_ns)
				l->max_recovery_ns = rec;
			l->pending_fault_ns = 0;
		}
	}
	cJSON_AddItemToArray(l->iter_lines, j);
}

void lv_read_iterations(live *l)
{
	for (int i = 0; i < l->nservers; i++) {
		lv_node *n = &l->srv[i];
		char path[LV_PATH + 64];
		snprintf(path, sizeof path, "%s/server_%d/iterations.jsonl", n->data_dir, n->id);
		read_lines(l, path, &n->jsonl_off, iteration_line, n);
	}
}

static void request_line(live *l, void *ctx, char *line)
{
	(void)ctx;
	double ms, lat_ms;
	char round[32];
	int server, rc;
	size_t out, in;
	if (sscanf(line, "%lf,%31[^,],%d,%d,%lf,%zu,%zu", &ms, round, &server, &rc, &lat_ms, &out, &in) != 7)
		return; /* the header */
	int r;
	for (r = 0; r < TALLY_ROUNDS && strcmp(tally_round_names[r], round); r++)
		;
	if (r == TALLY_ROUNDS)
		return;
	/* the same accounting as sim mode's fleet observer */
	uint64_t ns = lat_ms > 0 ? (uint64_t)(lat_ms * 1e6) : 0;
	req_tally_add(&l->run, r, rc, ns, out, in);
	req_tally_add(&l->tick, r, rc, ns, out, in);
	l->seen_round[r] = 1;
	if (server >= 0 && server < l->nservers) {
		lv_node *n = &l->srv[server];
		n->req++;
		n->bytes_in += out;
		n->bytes_out += in;
	}
}

static void eval_line(live *l, void *ctx, char *line)
{
	(void)ctx;
	double ms, acc, loss;
	long long it;
	int server;
	if (sscanf(line, "%lf,%lld,%d,%lf,%lf", &ms, &it, &server, &acc, &loss) != 5)
		return;
	l->has_eval = 1;
	l->accuracy = acc;
	l->loss = loss;
	cJSON *f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "iteration", (double)it);
	cJSON_AddNumberToObject(f, "accuracy", acc);
	cJSON_AddNumberToObject(f, "loss", loss);
	recorder_event(l->rec, lv_now(l), "eval", f);
	char key[32];
	snprintf(key, sizeof key, "%lld", it);
	cJSON *e = cJSON_CreateObject();
	cJSON_AddNumberToObject(e, "accuracy", acc);
	cJSON_AddNumberToObject(e, "loss", loss);
	cJSON_DeleteItemFromObjectCaseSensitive(l->evals, key);
	cJSON_AddItemToObject(l->evals, key, e);
}

void lv_read_fleet(live *l)
{
	char path[LV_PATH + 32];
	snprintf(path, sizeof path, "%s/requests.csv", l->fleet_out);
	read_lines(l, path, &l->req_off, request_line, NULL);
	snprintf(path, sizeof path, "%s/eval.csv", l->fleet_out);
	read_lines(l, path, &l->eval_off, eval_line, NULL);
}

/* ---- agreement: getModel from every server ---- */

/* 1: *hash is the model the server serves for `it`; 0: not (yet) served; -1: no longer stored. */
static int get_model(live *l, lv_node *n, int64_t it, uint64_t *hash)
{
	cJSON *h = cJSON_CreateObject();
	char ts[32], path[FLAG_STR_MAX + 16];
	snprintf(ts, sizeof ts, "%lld", (long long)lv_node_wall_ms(n));
	cJSON_AddStringToObject(h, "fl_name", l->cfg.fl_name);
	cJSON_AddNumberToObject(h, "iteration", (double)it);
	cJSON_AddStringToObject(h, "timestamp", ts);
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = envelope_encode(h, NULL, 0, &body, &len);
	cJSON_Delete(h);
	if (rc)
		return 0;
	snprintf(path, sizeof path, "%s/getModel", l->cfg.http_url_prefix);
	lh_resp r;
	rc = lh_request(n->ip, n->port, "POST", path, "application/octet-stream", body, len, LV_HTTP_MS * 2, &r);
	free(body);
	if (rc)
		return 0;
	cJSON *hdr = NULL;
	env_tensor *t = NULL;
	size_t nt = 0;
	int got = 0;
	if (r.status == 200 && !envelope_decode((const uint8_t *)r.body, r.len, &hdr, &t, &nt)) {
		const cJSON *ret = cJSON_GetObjectItemCaseSensitive(hdr, "retcode");
		const cJSON *mi = cJSON_GetObjectItemCaseSensitive(hdr, "model_iteration");
		if (cJSON_IsNumber(ret) && ret->valuedouble == 200) {
			got = -1;
			if (cJSON_IsNumber(mi) && (int64_t)mi->valuedouble == it) {
				/* the flat model in the model's own order, as the servers hash it */
				float *w = calloc(l->model.total ? l->model.total : 1, sizeof *w);
				size_t filled = 0;
				for (size_t i = 0; w && i < nt; i++) {
					int k = model_def_find(&l->model, t[i].name);
					if (k < 0 || t[i].count != l->model.tensors[k].count)
						break;
					memcpy(w + l->model.tensors[k].offset, t[i].data, t[i].count * sizeof *w);
					filled += t[i].count;
				}
				if (w && filled == l->model.total) {
					*hash = model_hash(w, l->model.total);
					got = 1;
				}
				free(w);
			}
		}
	}
	free(t);
	cJSON_Delete(hdr);
	lh_resp_free(&r);
	return got;
}

void lv_check_models(live *l)
{
	uint64_t t = lv_now(l);
	for (int i = 0; i < l->nservers; i++) {
		lv_node *n = &l->srv[i];
		if (!n->pid || n->paused || !n->polled || !n->ready || n->scaled_in || n->last_committed < 0)
			continue;
		int64_t from = n->checked_upto + 1;
		if (from < n->last_committed - 2)
			from = n->last_committed - 2; /* the store keeps a few */
		if (from < 0)
			from = 0;
		for (int64_t it = from; it <= n->last_committed; it++) {
			uint64_t h = 0;
			int got = get_model(l, n, it, &h);
			if (got == 0)
				break; /* not committed here yet: next second */
			if (got == 1)
				live_inv_model(l->inv, t, n->name, it, h);
			n->checked_upto = it;
		}
	}
}

/* ---- metrics.csv and servers.csv ---- */

void lv_metrics_row(live *l)
{
	uint64_t t = lv_now(l);
	double v[VERDICT_NCOLS];
	size_t k = 0;
	int up = 0;
	for (int i = 0; i < l->nservers; i++)
		up += l->srv[i].pid && !l->srv[i].scaled_in;
	v[k++] = l->leader_found ? (double)l->leader_iteration : 0;
	v[k++] = (double)l->iter_ok;
	v[k++] = (double)l->iter_failed;
	v[k++] = up;
	v[k++] = l->state_code;
	v[k++] = l->fleet.pid ? (double)l->sc->devices : 0;
	v[k++] = NAN; /* devices online: fl-fleet does not report it */
	k += req_tally_columns(&l->tick, v + k);
	recorder_metrics_row(l->rec, t, v);
	for (int i = 0; i < l->nservers; i++) {
		lv_node *n = &l->srv[i];
		if (n->pid)
			recorder_server_row(l->rec, t, n->name, n->req, n->bytes_in, n->bytes_out,
					    n->polled ? n->iteration : -1, n->offset_ms);
		n->req = n->bytes_in = n->bytes_out = 0;
	}
	memset(&l->tick, 0, sizeof l->tick);
}
