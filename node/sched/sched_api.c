/*
 * sched_api.c — the REST management API on scheduler_manage_port, with MindSpore Federated's
 * paths, bodies and messages:
 *
 *   GET  /nodes          {"code":"0","message":"Get nodes info successful.","nodeIds":[...]}
 *   GET  /state          {"code":"0","message":"Get cluster state successful.","cluster_state":..}
 *   POST /scaleout       {"worker_num":0,"server_num":2}  -> "Cluster begin to scale out."
 *   POST /scalein        {"node_ids":["2","3"]}           -> "Cluster begin to scale in."
 *   POST /scaleoutRollback  abandon a scale-out still waiting for its servers
 *   POST /newInstance    hyper-parameters, relayed to every server
 *   GET  /queryInstance  from the servers' heartbeat status
 *   POST /enableFLS, POST /disableFLS, relayed to every server
 *
 * Errors are {"error_message": ..., "code": "1"}: 400 for bad requests and for mutating calls
 * outside CLUSTER_READY, 401 for a mutating call without the bearer token (when one is set),
 * 403 for a mutating call from outside 127.0.0.0/8 when none is set, 404 for unknown paths,
 * 405 for a wrong method, 413 past 1 MiB (the HTTP server enforces that one).
 */
#include "sched_int.h"
#include "../util/flags.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Answer with j (taken) as the body and extra header lines (NULL: none). */
static void reply_hdr(http_request *r, int status, cJSON *j, const char *headers)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!text) {
		http_respond_error(r, 500, "out of memory");
		return;
	}
	http_respond(r, status, "application/json", text, strlen(text), headers);
	free(text);
}

static void reply(http_request *r, int status, cJSON *j) { reply_hdr(r, status, j, NULL); }

static cJSON *ok_body(const char *message)
{
	cJSON *j = cJSON_CreateObject();
	if (j) {
		cJSON_AddStringToObject(j, "code", "0");
		cJSON_AddStringToObject(j, "message", message);
	}
	return j;
}

/* MindSpore's error body, with extra header lines (NULL: none). */
static void reply_error_hdr(http_request *r, int status, const char *msg, const char *headers)
{
	cJSON *j = cJSON_CreateObject();
	if (j) {
		cJSON_AddStringToObject(j, "error_message", msg);
		cJSON_AddStringToObject(j, "code", "1");
	}
	reply_hdr(r, status, j, headers);
}

static void reply_error(http_request *r, int status, const char *msg)
{
	reply_error_hdr(r, status, msg, NULL);
}

/* The body as a JSON object, or NULL after answering 400. An empty body counts as {} when
 * `empty_ok`. */
static cJSON *body_object(http_request *r, int empty_ok)
{
	if (!r->body_len && empty_ok)
		return cJSON_CreateObject();
	cJSON *j = cJSON_ParseWithLength((const char *)r->body, r->body_len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		reply_error(r, 400, "The request body is not a valid JSON object.");
		return NULL;
	}
	return j;
}

static int is_int(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
	       fabs(v->valuedouble) < 1e15;
}

/* ---- read-only ---- */

static void add_str_int(cJSON *o, const char *key, long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	cJSON_AddStringToObject(o, key, buf);
}

static void api_nodes(sched *s, http_request *r)
{
	cJSON *j = ok_body("Get nodes info successful.");
	cJSON *arr = cJSON_AddArrayToObject(j, "nodeIds");
	if (!arr) {
		reply(r, 500, j);
		return;
	}
	/* Servers by rank (joiners of a running scale-out included), then the scheduler. */
	for (int rank = 0; rank < SCHED_MAX_NODES; rank++)
		for (size_t i = 0; i < s->n_nodes; i++) {
			const sched_node *n = s->nodes[i];
			if (n->rank != rank)
				continue;
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "alive", n->alive ? "true" : "false");
			cJSON_AddStringToObject(o, "nodeId", n->node_id);
			add_str_int(o, "rankId", n->rank);
			cJSON_AddStringToObject(o, "role", n->role);
			cJSON_AddStringToObject(o, "ip", n->ip);
			cJSON_AddNumberToObject(o, "port", n->port);
			cJSON_AddNumberToObject(o, "flServerPort", n->fl_server_port);
			const cJSON *it = cJSON_GetObjectItemCaseSensitive(n->status, "iteration");
			if (cJSON_IsNumber(it))
				cJSON_AddNumberToObject(o, "iteration", it->valuedouble);
			/* last, so that MindSpore's keys keep their order for those who match on it */
			cJSON_AddStringToObject(o, "leader", strcmp(n->node_id, s->leader) ? "false" : "true");
			cJSON_AddItemToArray(arr, o);
		}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "alive", "true");
	cJSON_AddStringToObject(o, "nodeId", s->cfg.node_id);
	cJSON_AddStringToObject(o, "rankId", "0");
	cJSON_AddStringToObject(o, "role", "SCHEDULER");
	cJSON_AddStringToObject(o, "ip", s->cfg.ip[0] ? s->cfg.ip : rt_host_ip(s->h));
	cJSON_AddNumberToObject(o, "port", sched_port(s));
	cJSON_AddItemToArray(arr, o);
	reply(r, 200, j);
}

static void api_state(sched *s, http_request *r)
{
	cJSON *j = ok_body("Get cluster state successful.");
	cJSON_AddStringToObject(j, "cluster_state", sched_state_name(s->state));
	cJSON_AddNumberToObject(j, "server_num", s->server_num);
	cJSON_AddNumberToObject(j, "epoch", (double)s->epoch);
	cJSON_AddStringToObject(j, "leader", s->leader);
	cJSON_AddNumberToObject(j, "leader_epoch", (double)s->leader_epoch);
	reply(r, 200, j);
}

/* The instance as the leader reports it (rank 0 unless a failover moved the role). */
static const sched_node *leader_node(const sched *s)
{
	const sched_node *n = s->leader[0] ? sched_find(s, s->leader) : NULL;
	for (size_t i = 0; !n && i < s->n_nodes; i++)
		if (s->nodes[i]->rank == 0)
			n = s->nodes[i];
	return n;
}

static void api_query_instance(sched *s, http_request *r)
{
	cJSON *j = ok_body("Query Instance successful.");
	const sched_node *r0 = leader_node(s);
	cJSON *res = r0 && r0->status ? cJSON_Duplicate(r0->status, 1) : cJSON_CreateObject();
	if (!res) {
		reply(r, 500, j);
		return;
	}
	if (!cJSON_HasObjectItem(res, "fl_name"))
		cJSON_AddStringToObject(res, "fl_name", s->cfg.fl_name);
	if (!cJSON_HasObjectItem(res, "fl_iteration_num"))
		cJSON_AddNumberToObject(res, "fl_iteration_num", (double)s->fl_iteration_num);
	if (!cJSON_HasObjectItem(res, "instance_state"))
		cJSON_AddStringToObject(res, "instance_state", s->fls_enabled ? "running" : "disable");
	cJSON_AddItemToObject(j, "result", res);
	cJSON_AddStringToObject(j, "cluster_state", sched_state_name(s->state));
	cJSON *nodes = cJSON_AddArrayToObject(j, "nodes");
	for (size_t i = 0; nodes && i < s->n_nodes; i++) {
		const sched_node *n = s->nodes[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "nodeId", n->node_id);
		add_str_int(o, "rankId", n->rank);
		cJSON_AddStringToObject(o, "alive", n->alive ? "true" : "false");
		cJSON *st = n->status ? cJSON_Duplicate(n->status, 1) : cJSON_CreateObject();
		cJSON_AddItemToObject(o, "status", st);
		cJSON_AddItemToArray(nodes, o);
	}
	reply(r, 200, j);
}

/* ---- scaling ---- */

static void api_scale_out(sched *s, http_request *r)
{
	cJSON *b = body_object(r, 0);
	if (!b)
		return;
	char err[256];
	const cJSON *w = NULL, *n = NULL;
	for (const cJSON *it = b->child; it; it = it->next) {
		if (!strcmp(it->string, "worker_num")) {
			w = it;
		} else if (!strcmp(it->string, "server_num")) {
			n = it;
		} else {
			snprintf(err, sizeof err, "Unknown key '%s' (expected worker_num, server_num).",
				 it->string);
			goto bad;
		}
	}
	if (w && (!is_int(w) || w->valuedouble < 0)) {
		snprintf(err, sizeof err, "worker_num must be a non-negative integer.");
		goto bad;
	}
	if (!n || !is_int(n)) {
		snprintf(err, sizeof err, "server_num must be an integer.");
		goto bad;
	}
	if (w && w->valuedouble > 0) {
		snprintf(err, sizeof err, "The Worker does not currently support scale out.");
		goto bad;
	}
	if (n->valuedouble < 1) {
		snprintf(err, sizeof err, "server_num must be a positive integer.");
		goto bad;
	}
	int servers = n->valuedouble > SCHED_MAX_NODES ? SCHED_MAX_NODES + 1 : (int)n->valuedouble;
	if (sched_scale_out(s, servers, err, sizeof err))
		goto bad;
	cJSON_Delete(b);
	reply(r, 200, ok_body("Cluster begin to scale out."));
	return;
bad:
	cJSON_Delete(b);
	reply_error(r, 400, err);
}

static void api_scale_out_rollback(sched *s, http_request *r)
{
	char err[256];
	if (sched_scale_out_rollback(s, "POST /scaleoutRollback", err, sizeof err)) {
		reply_error(r, 400, err);
		return;
	}
	reply(r, 200, ok_body("Cluster begin to rollback scale out."));
}

static void api_scale_in(sched *s, http_request *r)
{
	cJSON *b = body_object(r, 0);
	if (!b)
		return;
	char err[256];
	const char *ids[SCHED_MAX_NODES];
	size_t n = 0;
	const cJSON *arr = NULL;
	for (const cJSON *it = b->child; it; it = it->next) {
		if (strcmp(it->string, "node_ids")) {
			snprintf(err, sizeof err, "Unknown key '%s' (expected node_ids).", it->string);
			goto bad;
		}
		arr = it;
	}
	if (!arr) {
		snprintf(err, sizeof err, "node_ids is required.");
		goto bad;
	}
	if (!cJSON_IsArray(arr)) {
		snprintf(err, sizeof err, "node_ids must be an array of strings.");
		goto bad;
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		if (!cJSON_IsString(v)) {
			snprintf(err, sizeof err, "node_ids must be an array of strings.");
			goto bad;
		}
		if (n == SCHED_MAX_NODES) {
			snprintf(err, sizeof err, "Too many node ids.");
			goto bad;
		}
		ids[n++] = v->valuestring;
	}
	if (sched_scale_in(s, ids, n, err, sizeof err))
		goto bad;
	cJSON_Delete(b);
	reply(r, 200, ok_body("Cluster begin to scale in."));
	return;
bad:
	cJSON_Delete(b);
	reply_error(r, 400, err);
}

/* ---- instance relay ---- */

static const char *op_name(int op)
{
	return op == INST_NEW ? "newInstance" : op == INST_ENABLE ? "enableFLS" : "disableFLS";
}

static void inst_finish(sched *s, const char *timeout_msg)
{
	http_request *r = s->inst_req;
	int op = s->inst_op;
	char err[512] = "";
	if (timeout_msg) {
		snprintf(err, sizeof err, "%s", timeout_msg);
	} else {
		for (size_t i = 0; i < s->n_nodes; i++) {
			const sched_node *n = s->nodes[i];
			if (n->inst == 3 || (n->inst == 1 && !n->alive)) {
				snprintf(err, sizeof err, "%s failed on server %s: %s", op_name(op),
					 n->node_id, n->inst == 3 ? n->inst_msg : "the server timed out");
				break;
			}
		}
	}
	cJSON *j = NULL;
	if (!err[0]) {
		if (op == INST_NEW && s->inst_new_iters > 0) {
			/* Servers that join later must agree with the new value. */
			s->fl_iteration_num = s->inst_new_iters;
			s->meta_dirty = 1;
		}
		j = ok_body(op == INST_NEW	   ? "Start new instance successful."
			    : op == INST_ENABLE ? "start enabling FL-Server successful."
						: "start disabling FL-Server successful.");
		cJSON *res = cJSON_AddObjectToObject(j, "result");
		for (size_t i = 0; res && i < s->n_nodes; i++) {
			const sched_node *n = s->nodes[i];
			if (n->inst != 2)
				continue;
			char key[16];
			snprintf(key, sizeof key, "%d", n->rank);
			cJSON_AddStringToObject(res, key, n->inst_msg);
		}
		if (op == INST_ENABLE || op == INST_DISABLE) {
			s->fls_enabled = op == INST_ENABLE;
			s->meta_dirty = 1;
		}
	}
	for (size_t i = 0; i < s->n_nodes; i++)
		s->nodes[i]->inst = 0;
	s->inst_op = INST_NONE;
	s->inst_req = NULL;
	s->inst_new_iters = 0;
	rt_timer_stop(s->inst_timer);
	rt_log(s->h, err[0] ? RT_LOG_WARN : RT_LOG_INFO, "%s: %s", op_name(op),
	       err[0] ? err : "done on every server");
	sched_set_state(s, sched_all_alive(s) ? CLUSTER_READY : NODE_TIMEOUT);
	if (r) {
		if (err[0])
			reply_error(r, 400, err);
		else
			reply(r, 200, j);
	} else {
		cJSON_Delete(j);
	}
}

void sched_inst_check(sched *s)
{
	if (!s->inst_op)
		return;
	for (size_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i]->inst == 1 && s->nodes[i]->alive)
			return;
	inst_finish(s, NULL);
}

void sched_inst_abort(sched *s)
{
	if (!s->inst_op)
		return;
	if (s->inst_req)
		reply_error(s->inst_req, 503, "The scheduler is stopping.");
	s->inst_req = NULL;
	s->inst_op = INST_NONE;
	for (size_t i = 0; i < s->n_nodes; i++)
		s->nodes[i]->inst = 0;
	rt_timer_stop(s->inst_timer);
}

static void on_inst_timeout(rt_timer *t, void *data)
{
	sched *s = data;
	(void)t;
	if (!s->inst_op)
		return;
	const char *msg = s->inst_op == INST_NEW      ? "The new instance is timeout."
			  : s->inst_op == INST_ENABLE ? "The enable FLS is timeout."
						      : "The disable FLS is timeout.";
	inst_finish(s, msg);
	s->reconcile(s);
}

static int check_hyper_params(const cJSON *b, char *err, size_t errlen)
{
	static const char *const ints[] = {"start_fl_job_threshold", "fl_iteration_num",
					   "client_epoch_num", "client_batch_size", NULL};
	static const char *const windows[] = {"start_fl_job_time_window", "update_model_time_window",
					      "global_iteration_time_window", NULL};
	for (const cJSON *it = b->child; it; it = it->next) {
		const char *k = it->string;
		for (int i = 0; ints[i]; i++)
			if (!strcmp(k, ints[i]) && (!is_int(it) || it->valuedouble < 1)) {
				snprintf(err, errlen, "%s must be a positive integer.", k);
				return -1;
			}
		for (int i = 0; windows[i]; i++) {
			if (strcmp(k, windows[i]))
				continue;
			int64_t ms;
			if (!(is_int(it) && it->valuedouble > 0) &&
			    !(cJSON_IsString(it) && !flags_parse_ms(it->valuestring, &ms) && ms > 0)) {
				snprintf(err, errlen, "%s must be a positive duration in ms.", k);
				return -1;
			}
		}
		if (!strcmp(k, "update_model_ratio") &&
		    (!cJSON_IsNumber(it) || it->valuedouble <= 0 || it->valuedouble > 1)) {
			snprintf(err, errlen, "update_model_ratio must be a number in (0, 1].");
			return -1;
		}
		if (!strcmp(k, "client_learning_rate") &&
		    (!cJSON_IsNumber(it) || it->valuedouble <= 0)) {
			snprintf(err, errlen, "client_learning_rate must be a positive number.");
			return -1;
		}
	}
	return 0;
}

static void api_instance(sched *s, http_request *r, int op)
{
	if (s->state != CLUSTER_READY) {
		reply_error(r, 400, "The cluster is not ready.");
		return;
	}
	cJSON *params = body_object(r, op != INST_NEW);
	if (!params)
		return;
	char err[256];
	if (op == INST_NEW && check_hyper_params(params, err, sizeof err)) {
		cJSON_Delete(params);
		reply_error(r, 400, err);
		return;
	}
	if (op != INST_NEW && s->fls_enabled == (op == INST_ENABLE)) {
		cJSON_Delete(params);
		reply_error(r, 400, op == INST_ENABLE ? "The instance has already been enabled."
						      : "The instance has already been disabled.");
		return;
	}
	if (!s->inst_timer)
		s->inst_timer = rt_timer_new(s->h, on_inst_timeout, s);
	cJSON *msg = cJSON_CreateObject();
	if (!s->inst_timer || !msg) {
		cJSON_Delete(params);
		cJSON_Delete(msg);
		reply_error(r, 500, "out of memory");
		return;
	}
	s->inst_op = op;
	s->inst_req = r;
	s->inst_req_id = ++s->req_seq;
	s->inst_new_iters = 0;
	cJSON_AddStringToObject(msg, "op", op_name(op));
	cJSON_AddNumberToObject(msg, "req_id", (double)s->inst_req_id);
	cJSON_AddItemToObject(msg, "params", params);
	for (size_t i = 0; i < s->n_nodes; i++) {
		sched_node *n = s->nodes[i];
		n->inst = 0;
		if (!n->alive)
			continue;
		if (!n->peer || !n->peer->c ||
		    sched_msg_send(n->peer->c, SCHED_MSG_INSTANCE, msg) != 0) {
			n->inst = 3;
			snprintf(n->inst_msg, sizeof n->inst_msg, "not connected to the scheduler");
			continue;
		}
		n->inst = 1;
	}
	if (op == INST_NEW) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(params, "fl_iteration_num");
		if (is_int(it) && it->valuedouble >= 1)
			s->inst_new_iters = (int64_t)it->valuedouble;
	}
	cJSON_Delete(msg);
	rt_log(s->h, RT_LOG_INFO, "%s relayed to the servers (request %llu)", op_name(op),
	       (unsigned long long)s->inst_req_id);
	sched_set_state(s, op == INST_NEW ? CLUSTER_NEW_INSTANCE
			   : op == INST_ENABLE ? CLUSTER_ENABLE_FLS : CLUSTER_DISABLE_FLS);
	rt_timer_start(s->inst_timer, s->cfg.instance_timeout_ms, 0);
	s->reconcile(s); /* finishes at once when no server could be asked */
}

/* ---- who may change the cluster ---- */

static int loopback(const char *ip) { return ip && !strncmp(ip, "127.", 4); }

/* Equal strings, in time that depends on the length of `want` only. */
static int token_equal(const char *got, const char *want)
{
	size_t n = strlen(want), g = strlen(got);
	unsigned diff = (unsigned)(g != n);
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned)(unsigned char)want[i] ^ (unsigned)(unsigned char)(i < g ? got[i] : 0);
	return diff == 0;
}

/* 0 when r may run a mutating call; else the answer (401/403) has been sent. */
static int authorized(sched *s, http_request *r)
{
	char msg[320];
	if (!s->cfg.manage_token[0]) {
		if (loopback(r->peer_ip))
			return 0;
		snprintf(msg, sizeof msg, "%s %s from %s is refused: without --manage_token_file, only "
			 "127.0.0.0/8 may change the cluster.", r->method, r->path, r->peer_ip ? r->peer_ip : "?");
		reply_error(r, 403, msg);
		return -1;
	}
	const char *a = http_request_header(r, "Authorization");
	if (a && !strncasecmp(a, "Bearer ", 7) && token_equal(a + 7, s->cfg.manage_token))
		return 0;
	rt_log(s->h, RT_LOG_WARN, "management: %s %s from %s refused: %s bearer token", r->method, r->path,
	       r->peer_ip ? r->peer_ip : "?", a ? "wrong" : "no");
	snprintf(msg, sizeof msg, "%s %s needs \"Authorization: Bearer <token>\" (the scheduler's "
		 "--manage_token_file)%s.", r->method, r->path, a ? "; the token given is wrong" : "");
	reply_error_hdr(r, 401, msg, "WWW-Authenticate: Bearer realm=\"flbench\"\r\n");
	return -1;
}

/* ---- routing ---- */

typedef struct route {
	const char *path;
	int mutating;
	void (*fn)(sched *s, http_request *r);
} route;

static void api_new_instance(sched *s, http_request *r) { api_instance(s, r, INST_NEW); }
static void api_enable(sched *s, http_request *r) { api_instance(s, r, INST_ENABLE); }
static void api_disable(sched *s, http_request *r) { api_instance(s, r, INST_DISABLE); }

static const route routes[] = {
	{"/nodes", 0, api_nodes},
	{"/state", 0, api_state},
	{"/queryInstance", 0, api_query_instance},
	{"/scaleout", 1, api_scale_out},
	{"/scalein", 1, api_scale_in},
	{"/scaleoutRollback", 1, api_scale_out_rollback},
	{"/newInstance", 1, api_new_instance},
	{"/enableFLS", 1, api_enable},
	{"/disableFLS", 1, api_disable},
};

void sched_api_handle(http_server *srv, http_request *r, void *data)
{
	sched *s = data;
	(void)srv;
	char msg[256];
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (strcmp(r->path, routes[i].path))
			continue;
		int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
		if (routes[i].mutating ? !post : !(get || post)) {
			snprintf(msg, sizeof msg, "Method %.16s is not allowed on %s (use %s).",
				 r->method, routes[i].path, routes[i].mutating ? "POST" : "GET");
			reply_error_hdr(r, 405, msg,
					routes[i].mutating ? "Allow: POST\r\n" : "Allow: GET, POST\r\n");
			return;
		}
		if (routes[i].mutating && authorized(s, r))
			return;
		routes[i].fn(s, r);
		return;
	}
	snprintf(msg, sizeof msg, "Unknown path %.128s.", r->path);
	reply_error(r, 404, msg);
}
