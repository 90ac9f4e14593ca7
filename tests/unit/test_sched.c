/*
 * test_sched.c — the scheduler under rt_sim, with minimal servers built on sched_client:
 * registration and ranks, one too many, fl_iteration_num disagreement, timeout and rejoin,
 * scale-out and scale-in through the REST API, scheduler crash and recovery from its metadata,
 * corrupt metadata, the API's errors and the instance relay, leader failover and the leader
 * lease, scale-out rollback (by API and by timeout), determinism.
 */
#include "sched/sched.h"
#include "proto/http.h"
#include "../../sim/rt/rt_sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ULL
#define SCHED_IP "10.0.0.1"
#define ADMIN_IP "10.0.9.1"
#define MAXSRV 8
#define TOKEN "s3cret-token"

typedef struct srv {
	struct world *w;
	rt_host *h;
	sched_client *c;
	char id[8];
	int64_t iters;
	int registered, refused, tables, scales, lost, instances;
	int hold_barrier; /* do not answer on_scale at once */
	char reason[256];
	char last_scale[16];
	char last_op[32];
	sched_table last;
} srv;

typedef struct world {
	rt_sim *sim;
	rt_host *sh, *admin;
	sched *s;
	sched_config cfg;
	http_client *http;
	srv srv[MAXSRV];
	int changes;
} world;

/* ---- the minimal server ---- */

static void on_registered(void *d, int rank)
{
	srv *v = d;
	(void)rank;
	v->registered++;
}
static void on_refused(void *d, const char *reason)
{
	srv *v = d;
	v->refused++;
	snprintf(v->reason, sizeof v->reason, "%s", reason);
}
static void on_table(void *d, const sched_table *t)
{
	srv *v = d;
	v->tables++;
	v->last = *t;
}
static void on_scale(void *d, const char *kind, const sched_table *next)
{
	srv *v = d;
	(void)next;
	v->scales++;
	snprintf(v->last_scale, sizeof v->last_scale, "%s", kind);
	if (!v->hold_barrier)
		ck_assert_int_eq(sched_client_scale_ready(v->c), 0);
}
static void on_instance(void *d, const char *op, const cJSON *params)
{
	srv *v = d;
	(void)params;
	v->instances++;
	snprintf(v->last_op, sizeof v->last_op, "%s", op);
	sched_client_instance_done(v->c, op, 1, "applied");
}
static void on_lost(void *d)
{
	srv *v = d;
	v->lost++;
}
static void fill_status(void *d, cJSON *st)
{
	srv *v = d;
	cJSON_AddNumberToObject(st, "iteration", 7);
	cJSON_AddStringToObject(st, "instance_state", "running");
	cJSON_AddStringToObject(st, "who", v->id);
}

static const sched_client_cbs srv_cbs = {
	.on_registered = on_registered,
	.on_refused = on_refused,
	.on_table = on_table,
	.on_scale = on_scale,
	.on_instance = on_instance,
	.on_scheduler_lost = on_lost,
	.fill_status = fill_status,
};

static void srv_destroy(void *owner)
{
	srv *v = owner;
	sched_client_stop(v->c);
	v->c = NULL;
}

static void srv_start(world *w, int i, const char *id, int64_t iters)
{
	srv *v = &w->srv[i];
	v->w = w;
	snprintf(v->id, sizeof v->id, "%s", id);
	v->iters = iters;
	if (!v->h) {
		char name[32], ip[24];
		snprintf(name, sizeof name, "server/%d", i);
		snprintf(ip, sizeof ip, "10.0.1.%d", i + 1);
		ck_assert_int_eq(rt_sim_host_new(w->sim, name, ip, &v->h), 0);
		rt_sim_host_set_log_level(v->h, RT_LOG_ERROR);
	} else if (!rt_sim_host_up(v->h)) {
		ck_assert_int_eq(rt_sim_restart(v->h), 0);
	}
	sched_client_config cc;
	memset(&cc, 0, sizeof cc);
	snprintf(cc.node_id, sizeof cc.node_id, "%s", id);
	snprintf(cc.ip, sizeof cc.ip, "%s", rt_host_ip(v->h));
	cc.port = 7000;
	cc.fl_server_port = 8000;
	snprintf(cc.scheduler_ip, sizeof cc.scheduler_ip, SCHED_IP);
	cc.scheduler_port = 6667;
	cc.fl_iteration_num = iters;
	cc.pid = 1000 + i;
	cc.heartbeat_interval_ms = 100;
	cc.node_timeout_ms = 1000;
	ck_assert_int_eq(sched_client_start(v->h, &cc, &srv_cbs, v, &v->c), 0);
	rt_sim_host_set_owner(v->h, srv_destroy, v);
}

/* ---- the world ---- */

static void sched_destroy_hook(void *owner)
{
	world *w = owner;
	sched_destroy(w->s);
	w->s = NULL;
}

static void on_change(void *d, sched *s)
{
	world *w = d;
	(void)s;
	w->changes++;
}

static int sched_start(world *w)
{
	if (!rt_sim_host_up(w->sh))
		ck_assert_int_eq(rt_sim_restart(w->sh), 0);
	int rc = sched_new(w->sh, &w->cfg, &w->s);
	if (rc == 0)
		rt_sim_host_set_owner(w->sh, sched_destroy_hook, w);
	return rc;
}

static uint64_t scaleout_timeout_ms; /* 0: the default */

static world *world_new(uint64_t seed, int server_num, int recovery)
{
	world *w = calloc(1, sizeof *w);
	w->sim = rt_sim_new(seed);
	ck_assert_int_eq(rt_sim_host_new(w->sim, "scheduler", SCHED_IP, &w->sh), 0);
	ck_assert_int_eq(rt_sim_host_new(w->sim, "admin", ADMIN_IP, &w->admin), 0);
	rt_sim_host_set_log_level(w->sh, RT_LOG_ERROR);
	sched_config_init(&w->cfg);
	snprintf(w->cfg.ip, sizeof w->cfg.ip, SCHED_IP);
	snprintf(w->cfg.manage_ip, sizeof w->cfg.manage_ip, SCHED_IP);
	w->cfg.server_num = server_num;
	w->cfg.heartbeat_interval_ms = 100;
	w->cfg.node_timeout_ms = 1000;
	w->cfg.instance_timeout_ms = 2000;
	w->cfg.recovery = recovery;
	if (scaleout_timeout_ms)
		w->cfg.scale_out_timeout_ms = scaleout_timeout_ms;
	snprintf(w->cfg.meta_file, sizeof w->cfg.meta_file, "scheduler.meta");
	/* the admin host is not on loopback: mutating calls need the token */
	snprintf(w->cfg.manage_token, sizeof w->cfg.manage_token, "%s", TOKEN);
	w->cfg.on_change = on_change;
	w->cfg.cb_data = w;
	ck_assert_int_eq(sched_start(w), 0);
	ck_assert_int_eq(http_client_new(w->admin, NULL, &w->http), 0);
	return w;
}

static void world_free(world *w)
{
	http_client_free(w->http);
	rt_sim_free(w->sim); /* destroys the scheduler and the clients through their hooks */
	free(w);
}

static void run_ms(world *w, uint64_t ms)
{
	rt_sim_run_until(w->sim, rt_sim_now_ns(w->sim) + ms * MS);
}

static int state(world *w) { return sched_get_state(w->s); }

/* ---- HTTP against the management API ---- */

typedef struct reply {
	int done, err, status;
	char body[8192];
} reply;

static void http_cb(int err, const http_response *resp, void *data)
{
	reply *r = data;
	r->done = 1;
	r->err = err;
	if (resp) {
		r->status = resp->status;
		snprintf(r->body, sizeof r->body, "%.*s", (int)resp->body_len,
			 (const char *)resp->body);
	}
}

static cJSON *call_as(world *w, const char *method, const char *path, const char *body,
		      const char *headers, int *status)
{
	reply *r = calloc(1, sizeof *r);
	ck_assert_int_eq(http_client_request(w->http, SCHED_IP, sched_manage_port(w->s), method, path,
					     "application/json", body, body ? strlen(body) : 0,
					     headers, 5000, http_cb, r),
			 0);
	for (int i = 0; i < 100 && !r->done; i++)
		run_ms(w, 50);
	ck_assert_int_eq(r->done, 1);
	ck_assert_int_eq(r->err, 0);
	*status = r->status;
	cJSON *j = cJSON_Parse(r->body);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	free(r);
	return j;
}

static cJSON *call(world *w, const char *method, const char *path, const char *body, int *status)
{
	return call_as(w, method, path, body, "Authorization: Bearer " TOKEN "\r\n", status);
}

static const char *jstr(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	ck_assert_msg(cJSON_IsString(v), "no string %s", key);
	return v->valuestring;
}

/* Expect an error reply: status and a fragment of error_message. */
static void expect_error(world *w, const char *method, const char *path, const char *body,
			 int want_status, const char *fragment)
{
	int st;
	cJSON *j = call(w, method, path, body, &st);
	ck_assert_int_eq(st, want_status);
	ck_assert_str_eq(jstr(j, "code"), "1");
	ck_assert_msg(strstr(jstr(j, "error_message"), fragment), "'%s' lacks '%s'",
		      jstr(j, "error_message"), fragment);
	cJSON_Delete(j);
}

static void expect_ok(world *w, const char *method, const char *path, const char *body,
		      const char *message)
{
	int st;
	cJSON *j = call(w, method, path, body, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(jstr(j, "code"), "0");
	ck_assert_str_eq(jstr(j, "message"), message);
	cJSON_Delete(j);
}

static world *ready_cluster(uint64_t seed, int n, int recovery)
{
	world *w = world_new(seed, n, recovery);
	char id[16];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "%d", i);
		srv_start(w, i, id, 20);
	}
	run_ms(w, 2000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	for (int i = 0; i < n; i++) /* they registered in order: node i has rank i */
		ck_assert_int_eq(sched_client_rank(w->srv[i].c), i);
	return w;
}

/* ---- tests ---- */

START_TEST(registration_and_nodes)
{
	world *w = world_new(1, 4, 0);
	srv_start(w, 0, "0", 20);
	srv_start(w, 1, "1", 20);
	srv_start(w, 2, "2", 20);
	run_ms(w, 1000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_STARTING");
	ck_assert_int_eq(w->srv[0].tables, 0); /* no table before the cluster is complete */
	srv_start(w, 3, "3", 20);
	run_ms(w, 1000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	int seen[4] = {0};
	for (int i = 0; i < 4; i++) {
		srv *v = &w->srv[i];
		ck_assert_int_eq(v->registered, 1);
		ck_assert_int_eq(v->tables, 1);
		ck_assert_int_eq((int)v->last.n, 4);
		ck_assert_str_eq(v->last.cluster_state, "CLUSTER_READY");
		int r = sched_client_rank(v->c);
		ck_assert(r >= 0 && r < 4);
		seen[r]++;
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_uint_eq(sched_get_epoch(w->s), 1);

	int st;
	cJSON *j = call(w, "GET", "/nodes", NULL, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(jstr(j, "code"), "0");
	ck_assert_str_eq(jstr(j, "message"), "Get nodes info successful.");
	cJSON *ids = cJSON_GetObjectItemCaseSensitive(j, "nodeIds");
	ck_assert_int_eq(cJSON_GetArraySize(ids), 5);
	for (int i = 0; i < 4; i++) {
		cJSON *o = cJSON_GetArrayItem(ids, i);
		char rk[16];
		snprintf(rk, sizeof rk, "%d", i);
		ck_assert_str_eq(jstr(o, "alive"), "true");
		ck_assert_str_eq(jstr(o, "rankId"), rk);
		ck_assert_str_eq(jstr(o, "role"), "SERVER");
		ck_assert_int_eq(cJSON_GetObjectItem(o, "flServerPort")->valueint, 8000);
	}
	cJSON *sc = cJSON_GetArrayItem(ids, 4);
	ck_assert_str_eq(jstr(sc, "nodeId"), "20");
	ck_assert_str_eq(jstr(sc, "rankId"), "0");
	ck_assert_str_eq(jstr(sc, "role"), "SCHEDULER");
	cJSON_Delete(j);
	j = call(w, "GET", "/state", NULL, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(jstr(j, "message"), "Get cluster state successful.");
	ck_assert_str_eq(jstr(j, "cluster_state"), "CLUSTER_READY");
	cJSON_Delete(j);
	/* Pids were reported for fl-finish. */
	sched_pid pids[8];
	ck_assert_uint_eq(sched_get_pids(w->s, pids, 8), 4);
	ck_assert(w->changes > 0);
	world_free(w);
}
END_TEST

START_TEST(rank_reuse_and_one_too_many)
{
	world *w = ready_cluster(2, 3, 0);
	int r1 = sched_client_rank(w->srv[1].c);
	/* A restart with the same node_id gets the same rank back. */
	rt_sim_crash(w->srv[1].h);
	run_ms(w, 200);
	srv_start(w, 1, "1", 20);
	run_ms(w, 500);
	ck_assert_int_eq(sched_client_rank(w->srv[1].c), r1);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	/* A fourth node_id is one too many; so is a disagreement on fl_iteration_num. */
	srv_start(w, 4, "9", 20);
	run_ms(w, 500);
	ck_assert_int_eq(w->srv[4].refused, 1);
	ck_assert_ptr_nonnull(strstr(w->srv[4].reason, "one too many"));
	ck_assert_int_eq(sched_client_rank(w->srv[4].c), -1);
	run_ms(w, 2000);
	ck_assert_int_eq(w->srv[4].refused, 1); /* refused once: no reconnect loop */
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	world_free(w);

	w = world_new(3, 2, 0);
	srv_start(w, 0, "a", 20);
	run_ms(w, 300);
	srv_start(w, 1, "b", 30);
	run_ms(w, 500);
	ck_assert_int_eq(w->srv[1].refused, 1);
	ck_assert_ptr_nonnull(strstr(w->srv[1].reason, "fl_iteration_num 30"));
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_STARTING");
	world_free(w);
}
END_TEST

START_TEST(timeout_and_rejoin)
{
	world *w = ready_cluster(4, 4, 0);
	uint64_t e0 = sched_get_epoch(w->s);
	int r2 = sched_client_rank(w->srv[2].c);
	rt_sim_crash(w->srv[2].h);
	run_ms(w, 600);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY"); /* not yet timed out */
	run_ms(w, 1000);
	ck_assert_str_eq(sched_state_name(state(w)), "NODE_TIMEOUT");
	int st;
	cJSON *j = call(w, "GET", "/nodes", NULL, &st);
	cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "nodeIds"), r2);
	ck_assert_str_eq(jstr(o, "nodeId"), "2");
	ck_assert_str_eq(jstr(o, "alive"), "false");
	cJSON_Delete(j);
	/* The others heard about it. */
	ck_assert_str_eq(w->srv[0].last.cluster_state, "NODE_TIMEOUT");
	/* Mutating calls are refused outside CLUSTER_READY. */
	expect_error(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":1}", 400,
		     "The cluster is not ready.");
	srv_start(w, 2, "2", 20);
	run_ms(w, 500);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_client_rank(w->srv[2].c), r2);
	ck_assert_uint_gt(sched_get_epoch(w->s), e0);
	ck_assert_str_eq(w->srv[0].last.cluster_state, "CLUSTER_READY");
	ck_assert_str_eq(w->srv[2].last.cluster_state, "CLUSTER_READY");
	/* A paused server is marked dead, and alive again when it is heard from. */
	rt_sim_pause(w->srv[3].h);
	run_ms(w, 1500);
	ck_assert_str_eq(sched_state_name(state(w)), "NODE_TIMEOUT");
	rt_sim_resume(w->srv[3].h);
	run_ms(w, 1500);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	world_free(w);
}
END_TEST

START_TEST(scale_out)
{
	world *w = ready_cluster(5, 4, 0);
	expect_error(w, "POST", "/scaleout", "{\"worker_num\":1,\"server_num\":0}", 400,
		     "The Worker does not currently support scale out.");
	expect_error(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":\"2\"}", 400,
		     "server_num");
	expect_error(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":0}", 400, "server_num");
	expect_error(w, "POST", "/scaleout", "{\"server_num\":2,\"x\":1}", 400, "'x'");
	expect_error(w, "POST", "/scaleout", "{\"server_num\":", 400, "JSON");
	expect_ok(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":2}",
		  "Cluster begin to scale out.");
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCALE_OUT");
	expect_error(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":2}", 400,
		     "The cluster is not ready.");
	run_ms(w, 1000);
	ck_assert_int_eq(w->srv[0].scales, 0); /* the barrier waits for the new servers */
	srv_start(w, 4, "4", 20);
	run_ms(w, 300);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCALE_OUT");
	w->srv[0].hold_barrier = 1;
	srv_start(w, 5, "5", 20);
	run_ms(w, 500);
	/* Everyone entered the barrier; server 0 is still finishing its iteration. */
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(w->srv[i].scales, 1);
	ck_assert_str_eq(w->srv[0].last_scale, "scale_out");
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCALE_OUT");
	ck_assert_int_eq(sched_client_scale_ready(w->srv[0].c), 0);
	run_ms(w, 300);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_get_server_num(w->s), 6);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq((int)w->srv[i].last.n, 6);
		ck_assert_int_eq(w->srv[i].last.server_num, 6);
		for (size_t k = 0; k < w->srv[i].last.n; k++)
			if (!strcmp(w->srv[i].last.nodes[k].node_id, w->srv[i].id))
				ck_assert_int_eq(w->srv[i].last.nodes[k].rank_id,
						 sched_client_rank(w->srv[i].c));
	}
	ck_assert_int_eq(sched_client_rank(w->srv[4].c), 4);
	ck_assert_int_eq(sched_client_rank(w->srv[5].c), 5);
	world_free(w);
}
END_TEST

START_TEST(scale_in)
{
	world *w = ready_cluster(6, 4, 0);
	expect_error(w, "POST", "/scalein", "{\"node_ids\":[]}", 400, "should not be empty");
	expect_error(w, "POST", "/scalein", "{\"node_ids\":[\"7\"]}", 400, "The node id:7 is illegal.");
	expect_error(w, "POST", "/scalein", "{\"node_ids\":[\"0\"]}", 400, "is rank 0 of server");
	expect_error(w, "POST", "/scalein", "{\"node_ids\":[2]}", 400, "array of strings");
	expect_error(w, "POST", "/scalein", "{\"node_ids\":[\"2\",\"2\"]}", 400, "duplicated");
	expect_error(w, "POST", "/scalein", "[]", 400, "JSON object");
	uint64_t e0 = sched_get_epoch(w->s);
	expect_ok(w, "POST", "/scalein", "{\"node_ids\":[\"1\",\"2\"]}", "Cluster begin to scale in.");
	run_ms(w, 500);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_get_server_num(w->s), 2);
	ck_assert_uint_eq(sched_get_epoch(w->s), e0 + 1);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(w->srv[i].last_scale, "scale_in");
	/* The remaining servers are re-ranked 0..1; the removed ones know they are out. */
	ck_assert_int_eq(sched_client_rank(w->srv[0].c), 0);
	ck_assert_int_eq(sched_client_rank(w->srv[3].c), 1);
	ck_assert_int_eq((int)w->srv[3].last.n, 2);
	ck_assert_int_eq(sched_client_rank(w->srv[1].c), -1);
	ck_assert_int_eq(sched_client_rank(w->srv[2].c), -1);
	ck_assert_int_eq(w->srv[1].refused, 0);
	/* They stay up, quiet, and are still known to fl-finish. */
	run_ms(w, 3000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(w->srv[1].refused, 0);
	sched_pid pids[8];
	size_t n = sched_get_pids(w->s, pids, 8);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(pids[2].what, "scaled-in-server");
	int st;
	cJSON *j = call(w, "GET", "/nodes", NULL, &st);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "nodeIds")), 3);
	cJSON_Delete(j);
	/* Scale back out: a new server takes the free rank. */
	expect_ok(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":1}",
		  "Cluster begin to scale out.");
	srv_start(w, 6, "6", 20);
	run_ms(w, 1000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_client_rank(w->srv[6].c), 2);
	world_free(w);
}
END_TEST

START_TEST(scheduler_recovery)
{
	world *w = ready_cluster(7, 4, 1);
	uint64_t e0 = sched_get_epoch(w->s);
	int tables[4], ranks[4];
	for (int i = 0; i < 4; i++) {
		tables[i] = w->srv[i].tables;
		ranks[i] = sched_client_rank(w->srv[i].c);
	}
	rt_sim_crash(w->sh); /* SIGKILL */
	run_ms(w, 2000);
	ck_assert_int_eq(w->srv[0].lost, 1);
	ck_assert_int_eq(sched_start(w), 0);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCHEDULER_RECOVERY");
	run_ms(w, 3000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_uint_eq(sched_get_epoch(w->s), e0);
	for (int i = 0; i < 4; i++) {
		/* No server restarted (one registration per host incarnation would show as the
		 * same client) and nothing changed for them: no new table was delivered. */
		ck_assert_int_eq(sched_client_rank(w->srv[i].c), ranks[i]);
		ck_assert_int_eq(w->srv[i].tables, tables[i]);
		ck_assert_int_eq(w->srv[i].registered, 2);
	}
	/* Recovery in the middle of a scale-in barrier: the operation completes afterwards. */
	for (int i = 0; i < 4; i++)
		w->srv[i].hold_barrier = i == 3;
	expect_ok(w, "POST", "/scalein", "{\"node_ids\":[\"3\"]}", "Cluster begin to scale in.");
	run_ms(w, 300);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCALE_IN");
	rt_sim_crash(w->sh);
	run_ms(w, 500);
	ck_assert_int_eq(sched_client_scale_ready(w->srv[3].c), 0);
	ck_assert_int_eq(sched_start(w), 0);
	run_ms(w, 3000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_get_server_num(w->s), 3);
	ck_assert_int_eq(sched_client_rank(w->srv[3].c), -1);
	ck_assert_int_eq(w->srv[0].scales, 1); /* asked again, answered by the client itself */
	/* A server that died while the scheduler was down is timed out after recovery. */
	rt_sim_crash(w->sh);
	rt_sim_crash(w->srv[2].h);
	run_ms(w, 200);
	ck_assert_int_eq(sched_start(w), 0);
	run_ms(w, 2000);
	ck_assert_str_eq(sched_state_name(state(w)), "NODE_TIMEOUT");
	world_free(w);
}
END_TEST

START_TEST(corrupt_metadata)
{
	world *w = ready_cluster(8, 2, 1);
	rt_sim_crash(w->sh);
	ck_assert_int_eq(rt_sim_restart(w->sh), 0);
	ck_assert_int_eq(rt_sim_disk_corrupt(w->sh, "scheduler.meta", 40), 0);
	ck_assert_int_eq(sched_new(w->sh, &w->cfg, &w->s), SCHED_EMETA);
	ck_assert_ptr_null(w->s);
	/* Truncated: the header promises more than the file holds. */
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(rt_file_read(w->sh, "scheduler.meta", &buf, &len), 0);
	ck_assert_int_eq(rt_file_write(w->sh, "scheduler.meta", buf, len / 2, RT_FILE_SYNC), 0);
	free(buf);
	ck_assert_int_eq(sched_new(w->sh, &w->cfg, &w->s), SCHED_EMETA);
	ck_assert_int_eq(rt_file_write(w->sh, "scheduler.meta", "", 0, RT_FILE_SYNC), 0);
	ck_assert_int_eq(sched_new(w->sh, &w->cfg, &w->s), SCHED_EMETA);
	/* Without the file the scheduler starts a new cluster. */
	ck_assert_int_eq(rt_file_remove(w->sh, "scheduler.meta"), 0);
	ck_assert_int_eq(sched_start(w), 0);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_STARTING");
	run_ms(w, 2000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	world_free(w);
}
END_TEST

START_TEST(api_errors_and_instances)
{
	world *w = ready_cluster(9, 2, 0);
	expect_error(w, "GET", "/nope", NULL, 404, "/nope");
	expect_error(w, "GET", "/scaleout", NULL, 405, "POST");
	char *big = malloc((1u << 20) + 100);
	memset(big, ' ', (1u << 20) + 99);
	big[(1u << 20) + 99] = '\0';
	reply *r = calloc(1, sizeof *r);
	ck_assert_int_eq(http_client_request(w->http, SCHED_IP, sched_manage_port(w->s), "POST",
					     "/scalein", "application/json", big, strlen(big), NULL,
					     5000, http_cb, r),
			 0);
	for (int i = 0; i < 100 && !r->done; i++)
		run_ms(w, 50);
	ck_assert_int_eq(r->status, 413);
	free(r);
	free(big);

	expect_error(w, "POST", "/newInstance", "not json", 400, "JSON");
	expect_error(w, "POST", "/newInstance", "{\"start_fl_job_threshold\":\"x\"}", 400,
		     "start_fl_job_threshold");
	expect_error(w, "POST", "/newInstance", "{\"update_model_ratio\":2}", 400,
		     "update_model_ratio");
	expect_ok(w, "POST", "/newInstance", "{\"fl_iteration_num\":30,\"start_fl_job_threshold\":8}",
		  "Start new instance successful.");
	ck_assert_int_eq(w->srv[0].instances, 1);
	ck_assert_str_eq(w->srv[1].last_op, "newInstance");
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	expect_error(w, "POST", "/enableFLS", NULL, 400, "already been enabled");
	expect_ok(w, "POST", "/disableFLS", NULL, "start disabling FL-Server successful.");
	ck_assert_str_eq(w->srv[1].last_op, "disableFLS");
	expect_ok(w, "POST", "/enableFLS", NULL, "start enabling FL-Server successful.");
	int st;
	cJSON *j = call(w, "GET", "/queryInstance", NULL, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(jstr(j, "message"), "Query Instance successful.");
	cJSON *res = cJSON_GetObjectItem(j, "result");
	ck_assert_int_eq(cJSON_GetObjectItem(res, "iteration")->valueint, 7);
	ck_assert_int_eq(cJSON_GetObjectItem(res, "fl_iteration_num")->valueint, 30);
	cJSON_Delete(j);
	/* A server that never answers: the relay times out and the cluster is ready again. */
	rt_sim_pause(w->srv[1].h);
	j = call(w, "POST", "/disableFLS", NULL, &st);
	ck_assert_int_eq(st, 400);
	const char *em = jstr(j, "error_message");
	ck_assert_msg(strstr(em, "timeout") || strstr(em, "timed out"), "%s", em);
	cJSON_Delete(j);
	rt_sim_resume(w->srv[1].h);
	run_ms(w, 500);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	world_free(w);
}
END_TEST

START_TEST(graceful_exit_and_fresh_start)
{
	world *w = ready_cluster(10, 3, 1);
	sched_shutdown(w->s);
	run_ms(w, 200);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_EXIT");
	ck_assert_str_eq(w->srv[1].last.cluster_state, "CLUSTER_EXIT");
	sched_destroy(w->s);
	w->s = NULL;
	run_ms(w, 1500);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(w->srv[i].refused, 0); /* the servers wait for a scheduler */
	/* The metadata says the cluster exited: a new one starts, and the servers that are still
	 * up get their old ranks back (they ask for them). */
	ck_assert_int_eq(sched_start(w), 0);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_STARTING");
	run_ms(w, 2000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sched_client_rank(w->srv[i].c), i);
	world_free(w);
}
END_TEST

static uint64_t scripted_run(uint64_t seed)
{
	world *w = ready_cluster(seed, 3, 1);
	rt_sim_crash(w->srv[1].h);
	run_ms(w, 1500);
	srv_start(w, 1, "1", 20);
	rt_sim_crash(w->sh);
	run_ms(w, 300);
	ck_assert_int_eq(sched_start(w), 0);
	run_ms(w, 3000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	uint64_t hsh = rt_sim_trace_hash(w->sim);
	world_free(w);
	return hsh;
}

/* The leader as /state names it, and its epoch. */
static void expect_leader(world *w, const char *id, int64_t epoch)
{
	int st;
	cJSON *j = call(w, "GET", "/state", NULL, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(jstr(j, "leader"), id);
	ck_assert_int_eq((int64_t)cJSON_GetObjectItem(j, "leader_epoch")->valuedouble, epoch);
	cJSON_Delete(j);
	j = call(w, "GET", "/nodes", NULL, &st);
	const cJSON *o;
	int leaders = 0;
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(j, "nodeIds")) {
		const cJSON *l = cJSON_GetObjectItem(o, "leader");
		if (cJSON_IsString(l) && !strcmp(l->valuestring, "true")) {
			leaders++;
			ck_assert_str_eq(jstr(o, "nodeId"), id);
		}
	}
	ck_assert_int_eq(leaders, 1);
	cJSON_Delete(j);
}

START_TEST(leader_failover)
{
	world *w = ready_cluster(12, 4, 1);
	expect_leader(w, "0", 1);
	ck_assert_str_eq(w->srv[1].last.leader, "0");
	ck_assert_int_eq(w->srv[1].last.failover, 1);
	rt_sim_crash(w->srv[0].h);
	run_ms(w, 1500);
	/* marked dead: the lowest live rank leads, with the next epoch, and everyone heard */
	expect_leader(w, "1", 2);
	for (int i = 1; i < 4; i++) {
		ck_assert_str_eq(w->srv[i].last.leader, "1");
		ck_assert_uint_eq(w->srv[i].last.leader_epoch, 2);
	}
	/* the old rank 0 comes back as a follower: the role does not move back */
	srv_start(w, 0, "0", 20);
	run_ms(w, 500);
	ck_assert_int_eq(sched_client_rank(w->srv[0].c), 0);
	ck_assert_str_eq(w->srv[0].last.leader, "1");
	expect_leader(w, "1", 2);
	/* the leader may not be scaled in (it is not rank 0 any more) */
	expect_error(w, "POST", "/scalein", "{\"node_ids\":[\"1\"]}", 400, "is the leader");
	/* and the leader survives a scheduler restart (metadata) */
	rt_sim_crash(w->sh);
	run_ms(w, 300);
	ck_assert_int_eq(sched_start(w), 0);
	run_ms(w, 3000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	expect_leader(w, "1", 2);
	world_free(w);
}
END_TEST

START_TEST(no_failover_without_recovery)
{
	world *w = ready_cluster(13, 3, 0);
	expect_leader(w, "0", 1);
	ck_assert_int_eq(w->srv[1].last.failover, 0);
	rt_sim_crash(w->srv[0].h);
	run_ms(w, 1500);
	ck_assert_str_eq(sched_state_name(state(w)), "NODE_TIMEOUT");
	expect_leader(w, "0", 1); /* MindSpore: nobody else counts */
	world_free(w);
}
END_TEST

START_TEST(leader_lease)
{
	world *w = ready_cluster(14, 2, 1);
	sched_client *c = w->srv[0].c;
	uint64_t now = rt_sim_now_ns(w->sim);
	ck_assert_uint_gt(sched_client_lease_until_ns(c), now);
	/* lease = last acknowledged heartbeat + node_timeout - one heartbeat: at most 900 ms */
	ck_assert_uint_le(sched_client_lease_until_ns(c), now + 900 * MS);
	/* a stopped scheduler hears nothing and acknowledges nothing: the lease runs out */
	rt_sim_pause(w->sh);
	run_ms(w, 1200);
	ck_assert_uint_lt(sched_client_lease_until_ns(c), rt_sim_now_ns(w->sim));
	rt_sim_resume(w->sh);
	run_ms(w, 300);
	ck_assert_uint_gt(sched_client_lease_until_ns(c), rt_sim_now_ns(w->sim));
	/* a dead one refuses our dials: no scheduler can be counting our silence, the lease holds */
	rt_sim_crash(w->sh);
	for (int i = 0; i < 6; i++) {
		run_ms(w, 500);
		ck_assert_uint_gt(sched_client_lease_until_ns(c), rt_sim_now_ns(w->sim));
	}
	world_free(w);
}
END_TEST

START_TEST(scale_out_rollback)
{
	world *w = ready_cluster(15, 4, 0);
	expect_error(w, "POST", "/scaleoutRollback", "{}", 400, "not scaling out");
	expect_ok(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":2}", "Cluster begin to scale out.");
	srv_start(w, 4, "4", 20); /* one of the two arrives */
	run_ms(w, 500);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCALE_OUT");
	expect_ok(w, "POST", "/scaleoutRollback", "{}", "Cluster begin to rollback scale out.");
	run_ms(w, 300);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_get_server_num(w->s), 4);
	ck_assert_int_eq(sched_client_rank(w->srv[4].c), -1); /* told it is out */
	ck_assert_int_eq((int)w->srv[0].last.n, 4);
	world_free(w);

	/* the scheduler rolls back by itself after scaleout_timeout */
	scaleout_timeout_ms = 2000;
	w = ready_cluster(16, 2, 0);
	scaleout_timeout_ms = 0;
	expect_ok(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":1}", "Cluster begin to scale out.");
	run_ms(w, 1500);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_SCALE_OUT");
	run_ms(w, 1000);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	ck_assert_int_eq(sched_get_server_num(w->s), 2);
	world_free(w);
}
END_TEST

/* Mutating calls need the bearer token; reads do not. Without a token, only loopback may. */
START_TEST(manage_token)
{
	world *w = ready_cluster(17, 2, 0);
	int st;
	cJSON *j = call_as(w, "POST", "/scaleout", "{\"server_num\":1}", NULL, &st);
	ck_assert_int_eq(st, 401);
	ck_assert(strstr(jstr(j, "error_message"), "Authorization: Bearer"));
	cJSON_Delete(j);
	j = call_as(w, "POST", "/scaleout", "{\"server_num\":1}", "Authorization: Bearer s3cret-tokeX\r\n", &st);
	ck_assert_int_eq(st, 401);
	ck_assert(strstr(jstr(j, "error_message"), "wrong"));
	cJSON_Delete(j);
	j = call_as(w, "GET", "/nodes", NULL, NULL, &st);
	ck_assert_int_eq(st, 200);
	cJSON_Delete(j);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY"); /* nothing changed */
	expect_ok(w, "POST", "/scaleout", "{\"worker_num\":0,\"server_num\":1}", "Cluster begin to scale out.");
	world_free(w);

	/* no token configured: a mutating call from a non-loopback host is refused */
	w = world_new(18, 1, 0);
	sched_destroy(w->s);
	w->s = NULL;
	w->cfg.manage_token[0] = '\0';
	ck_assert_int_eq(sched_start(w), 0);
	srv_start(w, 0, "0", 20);
	run_ms(w, 1000);
	j = call_as(w, "POST", "/scaleout", "{\"server_num\":1}", NULL, &st);
	ck_assert_int_eq(st, 403);
	ck_assert(strstr(jstr(j, "error_message"), "from 10.0.9.1 is refused"));
	cJSON_Delete(j);
	ck_assert_str_eq(sched_state_name(state(w)), "CLUSTER_READY");
	world_free(w);
}
END_TEST

START_TEST(deterministic)
{
	ck_assert_uint_eq(scripted_run(11), scripted_run(11));
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, registration_and_nodes);
	tcase_add_test(tc, rank_reuse_and_one_too_many);
	tcase_add_test(tc, timeout_and_rejoin);
	tcase_add_test(tc, scale_out);
	tcase_add_test(tc, scale_in);
	tcase_add_test(tc, scheduler_recovery);
	tcase_add_test(tc, corrupt_metadata);
	tcase_add_test(tc, api_errors_and_instances);
	tcase_add_test(tc, graceful_exit_and_fresh_start);
	tcase_add_test(tc, leader_failover);
	tcase_add_test(tc, no_failover_without_recovery);
	tcase_add_test(tc, leader_lease);
	tcase_add_test(tc, scale_out_rollback);
	tcase_add_test(tc, manage_token);
	tcase_add_test(tc, deterministic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
