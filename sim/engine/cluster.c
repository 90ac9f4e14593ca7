/*
 * cluster.c — see cluster.h.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPERATOR_TOKEN "flbench-sim-operator"
#define SCHED_PORT 6667
#define MANAGE_PORT 11202
#define FL_SERVER_PORT 6668
#define SERVER_STAGGER_NS 20000000ULL

static void server_destroy_hook(void *owner)
{
	cl_server *s = owner;
	srv_destroy(s->node);
	s->node = NULL;
}

static void sched_destroy_hook(void *owner)
{
	cluster *c = owner;
	sched_destroy(c->sched);
	c->sched = NULL;
}

static int start_sched(cluster *c)
{
	int rc = sched_new(c->sched_host, &c->sched_cfg, &c->sched);
	if (rc) {
		rt_log(c->sched_host, RT_LOG_ERROR, "scheduler failed to start: %s", fl_strerror(rc));
		c->sched = NULL;
		return rc;
	}
	rt_sim_host_set_owner(c->sched_host, sched_destroy_hook, c);
	c->sched_up_since_ns = rt_sim_now_ns(c->sim);
	c->sched_paused = 0;
	return 0;
}

static void on_srv_event(void *data, srv *node, int event)
{
	cl_server *s = data;
	if (event == SRV_EV_REMOVED)
		s->scaled_in = 1;
}

static int start_server(cluster *c, cl_server *s)
{
	srv_config cfg = c->srv_base;
	cfg.on_event = on_srv_event;
	cfg.event_data = s;
	snprintf(cfg.node_id, sizeof cfg.node_id, "%d", s->id);
	snprintf(cfg.scheduler_ip, sizeof cfg.scheduler_ip, "%s", rt_host_ip(c->sched_host));
	cfg.scheduler_port = SCHED_PORT;
	cfg.fl_server_port = FL_SERVER_PORT;
	cfg.server_num = s->server_num;
	int rc = srv_new(s->host, &cfg, &s->node);
	if (rc) {
		rt_log(s->host, RT_LOG_ERROR, "server failed to start: %s", fl_strerror(rc));
		s->node = NULL;
		return rc;
	}
	rt_sim_host_set_owner(s->host, server_destroy_hook, s);
	s->paused = 0; /* a crash ends a pause */
	return 0;
}

static void start_server_cb(void *data)
{
	cl_server *s = data;
	start_server(s->c, s);
}

/* A new server host; its node starts after `delay_ns` (0: now). */
static int add_server(cluster *c, int64_t server_num, uint64_t delay_ns)
{
	if (c->nservers >= CLUSTER_MAX_SERVERS)
		return RT_EINVAL;
	cl_server *s = &c->servers[c->nservers];
	memset(s, 0, sizeof *s);
	s->c = c;
	s->id = c->nservers;
	s->server_num = server_num;
	s->last_iteration = -1;
	snprintf(s->name, sizeof s->name, "server/%d", s->id);
	char ip[16];
	snprintf(ip, sizeof ip, "10.0.1.%d", s->id + 1);
	int rc = rt_sim_host_new(c->sim, s->name, ip, &s->host);
	if (rc)
		return rc;
	c->nservers++;
	if (delay_ns)
		return rt_sim_call_at(c->sim, rt_sim_now_ns(c->sim) + delay_ns, start_server_cb, s);
	return start_server(c, s);
}

int cluster_new(rt_sim *sim, const scenario *sc, cluster **out, char *err, size_t errlen)
{
	cluster *c = calloc(1, sizeof *c);
	if (!c)
		return RT_ENOMEM;
	c->sim = sim;
	c->sc = sc;

	/* the servers' configuration: MindSpore's defaults, then the scenario's cluster.config */
	srv_config_init(&c->srv_base);
	flag_def defs[SRV_CONFIG_MAX_FLAGS];
	size_t nd = srv_config_flags(&c->srv_base, defs, SRV_CONFIG_MAX_FLAGS);
	char why[400];
	if (srv_config_apply_json(&c->srv_base, defs, nd, sc->config, NULL, why, sizeof why)) {
		snprintf(err, errlen, "%s: $.cluster.config: %s", sc->file, why);
		free(c);
		return SC_EINVAL;
	}
	snprintf(c->srv_base.model, sizeof c->srv_base.model, "%s", sc->model);
	c->srv_base.server_num = sc->server_num;
	c->srv_base.heartbeat_interval = (int64_t)(sc->heartbeat_ns / 1000000ULL);
	c->srv_base.node_timeout = (int64_t)(sc->node_timeout_ns / 1000000ULL);
	if (srv_config_validate(&c->srv_base, why, sizeof why)) {
		snprintf(err, errlen, "%s: $.cluster.config: %s", sc->file, why);
		free(c);
		return SC_EINVAL;
	}

	sched_config_init(&c->sched_cfg);
	c->sched_cfg.port = SCHED_PORT;
	c->sched_cfg.manage_port = MANAGE_PORT;
	snprintf(c->sched_cfg.manage_ip, sizeof c->sched_cfg.manage_ip, "10.0.0.1");
	c->sched_cfg.server_num = sc->server_num;
	c->sched_cfg.fl_iteration_num = c->srv_base.fl_iteration_num;
	snprintf(c->sched_cfg.fl_name, sizeof c->sched_cfg.fl_name, "%s", c->srv_base.fl_name);
	c->sched_cfg.heartbeat_interval_ms = sc->heartbeat_ns / 1000000ULL;
	c->sched_cfg.node_timeout_ms = sc->node_timeout_ns / 1000000ULL;
	c->sched_cfg.recovery = c->srv_base.recovery;
	/* the operator host is not on loopback: its management calls carry the bearer token */
	snprintf(c->sched_cfg.manage_token, sizeof c->sched_cfg.manage_token, "%s", OPERATOR_TOKEN);
	snprintf(c->sched_cfg.meta_file, sizeof c->sched_cfg.meta_file, "scheduler_meta.json");
	c->server_total = sc->server_num;

	int rc = rt_sim_host_new(sim, "scheduler", "10.0.0.1", &c->sched_host);
	if (!rc)
		rc = rt_sim_host_new(sim, "operator", "10.0.3.1", &c->op_host);
	if (!rc)
		rc = http_client_new(c->op_host, NULL, &c->op);
	if (!rc)
		rc = start_sched(c);
	/* Servers start 20 ms apart, as an operator's --local_server_num does one after the other:
	 * they register in id order and so get rank = node id, which scenarios can rely on (a
	 * scale-in names node ids, and rank 0 cannot be scaled in). */
	for (int i = 0; !rc && i < sc->server_num; i++)
		rc = add_server(c, sc->server_num, (uint64_t)i * SERVER_STAGGER_NS);
	if (rc) {
		snprintf(err, errlen, "%s: the cluster could not start: %s (see the node logs)", sc->file,
			 rt_strerror(rc));
		cluster_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cluster_free(cluster *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nservers; i++) {
		if (c->servers[i].node) {
			rt_sim_host_set_owner(c->servers[i].host, NULL, NULL);
			srv_destroy(c->servers[i].node);
		}
	}
	if (c->sched) {
		rt_sim_host_set_owner(c->sched_host, NULL, NULL);
		sched_destroy(c->sched);
	}
	if (c->op)
		http_client_free(c->op);
	free(c);
}

cl_server *cluster_server(cluster *c, const char *node)
{
	for (int i = 0; i < c->nservers; i++)
		if (!strcmp(c->servers[i].name, node))
			return &c->servers[i];
	return NULL;
}

rt_host *cluster_host(cluster *c, const char *node)
{
	if (!strcmp(node, "scheduler"))
		return c->sched_host;
	cl_server *s = cluster_server(c, node);
	return s ? s->host : NULL;
}

int cluster_kill(cluster *c, const char *node)
{
	rt_host *h = cluster_host(c, node);
	if (!h)
		return RT_ENOENT;
	if (!rt_sim_host_up(h))
		return 0;
	rt_sim_crash(h); /* runs the destroy hook: the node pointer is cleared there */
	return 0;
}

int cluster_restart(cluster *c, const char *node)
{
	rt_host *h = cluster_host(c, node);
	if (!h)
		return RT_ENOENT;
	if (rt_sim_host_up(h)) {
		/* a restart of a running node is a kill followed by a start */
		rt_sim_crash(h);
	}
	int rc = rt_sim_restart(h);
	if (rc)
		return rc;
	if (h == c->sched_host)
		return start_sched(c);
	return start_server(c, cluster_server(c, node));
}

/* ---- management calls, as an operator's curl ---- */

typedef struct op_req {
	cluster *c;
	char what[32];
	int start_servers; /* scale_out: start this many once accepted */
} op_req;

static void op_done(int err, const http_response *resp, void *data)
{
	op_req *r = data;
	cluster *c = r->c;
	if (err == RT_ECANCELED) {
		free(r);
		return;
	}
	int status = err ? err : resp->status;
	snprintf(c->last_op, sizeof c->last_op, "%s: %s", r->what,
		 err ? rt_strerror(err) : (const char *)resp->body);
	if (!err && resp->status == 200 && r->start_servers > 0) {
		for (int i = 0; i < r->start_servers; i++)
			add_server(c, c->server_total, (uint64_t)i * SERVER_STAGGER_NS);
	}
	if (c->on_op_done)
		c->on_op_done(c->op_ctx, r->what, status, err ? rt_strerror(err) : (const char *)resp->body);
	free(r);
}

static int op_post(cluster *c, const char *what, const char *path, const char *body, int start)
{
	op_req *r = calloc(1, sizeof *r);
	if (!r)
		return RT_ENOMEM;
	r->c = c;
	snprintf(r->what, sizeof r->what, "%s", what);
	r->start_servers = start;
	int rc = http_client_request(c->op, rt_host_ip(c->sched_host), MANAGE_PORT, "POST", path,
				     "application/json", body, strlen(body),
				     "Authorization: Bearer " OPERATOR_TOKEN "\r\n", 10000, op_done, r);
	if (rc)
		free(r);
	return rc;
}

int cluster_scale_out(cluster *c, int servers)
{
	char body[96];
	snprintf(body, sizeof body, "{\"worker_num\":0,\"server_num\":%d}", servers);
	c->server_total += servers;
	return op_post(c, "scale_out", "/scaleout", body, servers);
}

int cluster_scale_in(cluster *c, char ids[][32], size_t n)
{
	char body[1200] = "{\"node_ids\":[";
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(body);
		snprintf(body + l, sizeof body - l, "%s\"%s\"", i ? "," : "", ids[i]);
	}
	strncat(body, "]}", sizeof body - strlen(body) - 1);
	return op_post(c, "scale_in", "/scalein", body, 0);
}

/* ---- observation ---- */

size_t cluster_device_servers(cluster *c, fleet_server *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; i < c->nservers && n < max; i++) {
		cl_server *s = &c->servers[i];
		if (!s->node || s->scaled_in)
			continue;
		srv_status st;
		srv_get_status(s->node, &st);
		if (!st.ready)
			continue;
		snprintf(out[n].ip, sizeof out[n].ip, "%s", rt_host_ip(s->host));
		out[n].port = st.http_port;
		out[n].id = s->id;
		n++;
	}
	return n;
}

const char *cluster_state(const cluster *c)
{
	return c->sched ? sched_state_name(sched_get_state(c->sched)) : "SCHEDULER_DOWN";
}

int cluster_state_code(const cluster *c) { return c->sched ? sched_get_state(c->sched) : -1; }

int cluster_leader_status(const cluster *c, srv_status *st)
{
	for (int i = 0; i < c->nservers; i++) {
		if (!c->servers[i].node)
			continue;
		srv_get_status(c->servers[i].node, st);
		if (st->leader)
			return 1;
	}
	return 0;
}

int cluster_servers_up(const cluster *c)
{
	int n = 0;
	for (int i = 0; i < c->nservers; i++)
		n += c->servers[i].node != NULL && !c->servers[i].scaled_in;
	return n;
}
