/*
 * test_srv_cluster.h — a simulated cluster for the server tests: the real scheduler and N real
 * servers on rt_sim hosts, with kill/restart, plus the reference FedAvg the committed models are
 * checked against.
 */
#ifndef TEST_SRV_CLUSTER_H
#define TEST_MANAGE_TOKEN "test-operator"
#define TEST_SRV_CLUSTER_H

#include "test_srv_util.h"
#include "sched/sched.h"

#define MAXS 8
#define SCHED_IP "10.0.0.10"
#define SCHED_PORT 6667

typedef struct cluster cluster;

typedef struct slot {
	cluster *c;
	int i;
	rt_host *h;
	srv *s; /* NULL while down */
	srv_config cfg;
	char ip[16];
} slot;

struct cluster {
	rt_sim *sim;
	rt_host *sh;
	sched *sch;
	slot sl[MAXS];
	int n;
	devs d;
	model_def def;
};

static inline void cl_destroy_hook(void *owner)
{
	slot *sl = owner;
	srv_destroy(sl->s);
	sl->s = NULL;
}

static inline void cl_sched_destroy_hook(void *owner) { sched_destroy(owner); }

static inline void cl_server_up(cluster *c, int i)
{
	slot *sl = &c->sl[i];

	ck_assert_int_eq(srv_new(sl->h, &sl->cfg, &sl->s), 0);
	rt_sim_host_set_owner(sl->h, cl_destroy_hook, sl);
}

/* A server slot (host, config) for node id i; started when `start`. */
static inline void cl_add_server(cluster *c, const srv_config *tmpl, int start)
{
	int i = c->n++;
	slot *sl = &c->sl[i];
	char name[32];

	sl->c = c;
	sl->i = i;
	sl->cfg = *tmpl;
	snprintf(sl->cfg.node_id, sizeof sl->cfg.node_id, "%d", i);
	snprintf(sl->ip, sizeof sl->ip, "10.0.0.%d", 1 + i);
	snprintf(name, sizeof name, "server/%d", i);
	ck_assert_int_eq(rt_sim_host_new(c->sim, name, sl->ip, &sl->h), 0);
	if (start)
		cl_server_up(c, i);
}

static inline void cl_kill(cluster *c, int i)
{
	rt_sim_crash(c->sl[i].h);
	ck_assert_ptr_null(c->sl[i].s);
}

static inline int cl_restart(cluster *c, int i)
{
	slot *sl = &c->sl[i];

	ck_assert_int_eq(rt_sim_restart(sl->h), 0);
	int rc = srv_new(sl->h, &sl->cfg, &sl->s);
	if (rc == 0)
		rt_sim_host_set_owner(sl->h, cl_destroy_hook, sl);
	return rc;
}

static inline void cl_tmpl(srv_config *t, const char *model, int servers)
{
	base_cfg(t, "0", model);
	snprintf(t->scheduler_ip, sizeof t->scheduler_ip, SCHED_IP);
	t->scheduler_port = SCHED_PORT;
	t->server_num = servers;
	t->heartbeat_interval = 500;
	t->node_timeout = 3000;
	t->sync_timeout = 5000;
	t->recovery = 1;
}

static inline void cl_start(cluster *c, const srv_config *tmpl, int servers, uint64_t seed)
{
	sched_config sc;

	memset(c, 0, sizeof *c);
	c->sim = rt_sim_new(seed);
	test_log_setup(c->sim);
	ck_assert_int_eq(model_def_parse(tmpl->model, &c->def), 0);
	ck_assert_int_eq(rt_sim_host_new(c->sim, "scheduler", SCHED_IP, &c->sh), 0);
	sched_config_init(&sc);
	sc.port = SCHED_PORT;
	sc.manage_port = 0;
	snprintf(sc.manage_ip, sizeof sc.manage_ip, SCHED_IP);
	/* the test's devices host (not loopback) makes the operator's calls: with the token */
	snprintf(sc.manage_token, sizeof sc.manage_token, "%s", TEST_MANAGE_TOKEN);
	sc.server_num = (int)tmpl->server_num;
	sc.heartbeat_interval_ms = 500;
	sc.node_timeout_ms = 3000;
	ck_assert_int_eq(sched_new(c->sh, &sc, &c->sch), 0);
	rt_sim_host_set_owner(c->sh, cl_sched_destroy_hook, c->sch);
	for (int i = 0; i < servers; i++)
		cl_add_server(c, tmpl, 1);
	devs_init(&c->d, c->sim, "10.0.0.100", &c->def);
}

static inline void cl_stop(cluster *c)
{
	devs_free(&c->d);
	rt_sim_free(c->sim);
}

static inline int cl_all_ready(cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		srv_status st;
		if (!c->sl[i].s)
			continue;
		srv_get_status(c->sl[i].s, &st);
		if (!st.ready || st.safemode)
			return 0;
	}
	return 1;
}

/* Run until every live server is ready and out of safe mode (at most max_ms). */
static inline void cl_wait_ready(cluster *c, uint64_t max_ms)
{
	uint64_t until = rt_sim_now_ns(c->sim) + max_ms * MS;
	while (!cl_all_ready(c) && rt_sim_now_ns(c->sim) < until)
		run_for(c->sim, 10);
	ck_assert_msg(cl_all_ready(c), "the cluster did not become ready");
}

static inline srv_status cl_status(cluster *c, int i)
{
	srv_status st;
	srv_get_status(c->sl[i].s, &st);
	return st;
}

/* Run until server i's iteration reaches `iter` (at most max_ms). */
static inline void cl_wait_iteration(cluster *c, int i, int64_t iter, uint64_t max_ms)
{
	uint64_t until = rt_sim_now_ns(c->sim) + max_ms * MS;
	while (c->sl[i].s && cl_status(c, i).iteration < iter && rt_sim_now_ns(c->sim) < until)
		run_for(c->sim, 10);
	ck_assert_msg(c->sl[i].s && cl_status(c, i).iteration >= iter,
		      "server %d did not reach iteration %lld", i, (long long)iter);
}

static inline uint16_t cl_port(cluster *c, int i) { return cl_status(c, i).http_port; }

static inline void cl_call(cluster *c, int i, const char *round, cJSON *hdr, const float *w,
			   dev_reply *r)
{
	dev_call(&c->d, c->sl[i].ip, cl_port(c, i), round, hdr, w, r);
}

/* Every live member (up and ready: not scaled in) holds iteration `iter` with the same bytes;
 * returns its hash. */
static inline uint64_t cl_same_model(cluster *c, int64_t iter)
{
	const float *first = NULL;
	size_t n0 = 0;
	uint64_t h0 = 0;

	for (int i = 0; i < c->n; i++) {
		size_t n;
		uint64_t h;
		if (!c->sl[i].s || !cl_status(c, i).ready)
			continue;
		const float *w = srv_get_model(c->sl[i].s, iter, &n, &h);
		ck_assert_msg(w != NULL, "server %d lacks the model of iteration %lld", i,
			      (long long)iter);
		if (!first) {
			first = w;
			n0 = n;
			h0 = h;
			continue;
		}
		ck_assert_uint_eq(n, n0);
		ck_assert_msg(memcmp(w, first, n * sizeof(float)) == 0,
			      "server %d's model of iteration %lld differs", i, (long long)iter);
		ck_assert_uint_eq(h, h0);
	}
	return h0;
}

/* ---- the reference FedAvg: per-server sums in acceptance order, added in rank order ---- */

typedef struct refavg {
	size_t n;
	float *part[MAXS];
	uint64_t ds;
} refavg;

static inline void ref_init(refavg *r, size_t n)
{
	memset(r, 0, sizeof *r);
	r->n = n;
	for (int i = 0; i < MAXS; i++)
		r->part[i] = calloc(n, sizeof(float));
}

static inline void ref_add(refavg *r, int rank, const float *w, int64_t ds)
{
	fedavg_accumulate(r->part[rank], w, r->n, (float)ds);
	r->ds += (uint64_t)ds;
}

/* out gets (((p0 + p1) + p2) + ...) / ds over the ranks 0..nranks-1. */
static inline void ref_finish(refavg *r, int nranks, float *out)
{
	memcpy(out, r->part[0], r->n * sizeof(float));
	for (int k = 1; k < nranks; k++)
		fedavg_add(out, r->part[k], r->n);
	fedavg_finish(out, r->n, (double)r->ds);
}

static inline void ref_free(refavg *r)
{
	for (int i = 0; i < MAXS; i++)
		free(r->part[i]);
}

#endif
