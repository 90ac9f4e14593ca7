/*
 * sched_members.c — membership: registration and ranks, heartbeats and timeouts, the scale
 * barrier and its commit.
 *
 * Ranks: a known node_id gets its rank back; a new one gets the rank it asks for (rank_hint, what
 * it had before a scheduler restart) when that is free, else the lowest free rank; past
 * server_num it is refused. Dead nodes keep their rank until they come back or are scaled in.
 */
#include "sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int capacity(const sched *s)
{
	return s->op.kind == CLUSTER_SCALE_OUT ? s->op.target : s->server_num;
}

static int rank_taken(const sched *s, int rank)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i]->rank == rank)
			return 1;
	return 0;
}

static int pick_rank(const sched *s, int64_t hint)
{
	int cap = capacity(s);
	if (hint >= 0 && hint < cap && !rank_taken(s, (int)hint))
		return (int)hint;
	for (int r = 0; r < cap; r++)
		if (!rank_taken(s, r))
			return r;
	return -1;
}

static void send_register_resp(sched *s, sched_peer *p, const char *node_id, int ok, int rank,
			       const char *reason)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return;
	cJSON_AddBoolToObject(j, "ok", ok);
	cJSON_AddStringToObject(j, "node_id", node_id);
	if (ok)
		cJSON_AddNumberToObject(j, "rank_id", rank);
	else
		cJSON_AddStringToObject(j, "reason", reason);
	cJSON_AddStringToObject(j, "cluster_state", sched_state_name(s->state));
	cJSON_AddNumberToObject(j, "epoch", (double)s->epoch);
	/* the server's leader lease is measured against our node timeout (sched_client.h) */
	cJSON_AddNumberToObject(j, "node_timeout_ms", (double)s->cfg.node_timeout_ms);
	sched_msg_send(p->c, SCHED_MSG_REGISTER_RESP, j);
	cJSON_Delete(j);
}

static void refuse(sched *s, sched_peer *p, const char *node_id, const char *reason)
{
	rt_log(s->h, RT_LOG_WARN, "refused server %s: %s", node_id, reason);
	send_register_resp(s, p, node_id, 0, -1, reason);
	conn_close(p->c); /* graceful: the reply still goes out */
}

typedef struct reg_req {
	char node_id[SCHED_ID_MAX];
	char role[16];
	char ip[16];
	int64_t port, fl_server_port, fl_iteration_num, pid, rank_hint, server_num;
	int is_recover;
} reg_req;

/* Parse a REGISTER meta; returns NULL or the reason it is malformed. */
static const char *parse_register(const cJSON *m, sched_peer *p, reg_req *r)
{
	memset(r, 0, sizeof *r);
	r->rank_hint = -1;
	if (sched_json_str(m, "node_id", r->node_id, sizeof r->node_id) || !r->node_id[0])
		return "registration without a valid node_id (a string of 1..31 bytes)";
	if (cJSON_GetObjectItemCaseSensitive(m, "role")) {
		if (sched_json_str(m, "role", r->role, sizeof r->role))
			return "registration with a malformed role";
	} else {
		snprintf(r->role, sizeof r->role, "SERVER");
	}
	if (strcmp(r->role, "SERVER"))
		return "only SERVER nodes can register (the Worker is not supported)";
	if (sched_json_str(m, "ip", r->ip, sizeof r->ip) || !sched_ip_ok(r->ip))
		snprintf(r->ip, sizeof r->ip, "%s", rt_stream_peer_ip(conn_stream(p->c)));
	if (sched_json_int(m, "port", &r->port) || r->port < 1 || r->port > 65535)
		return "registration without a valid port";
	if (sched_json_int(m, "fl_server_port", &r->fl_server_port) || r->fl_server_port < 0 ||
	    r->fl_server_port > 65535)
		r->fl_server_port = 0;
	if (sched_json_int(m, "fl_iteration_num", &r->fl_iteration_num) || r->fl_iteration_num < 0)
		r->fl_iteration_num = 0;
	if (sched_json_int(m, "pid", &r->pid) || r->pid < 0)
		r->pid = 0;
	if (sched_json_int(m, "rank_hint", &r->rank_hint))
		r->rank_hint = -1;
	if (sched_json_int(m, "server_num", &r->server_num))
		r->server_num = 0;
	if (sched_json_bool(m, "is_recover", &r->is_recover))
		r->is_recover = 0;
	return NULL;
}

static void on_register(sched *s, sched_peer *p, const cJSON *m)
{
	reg_req r;
	char reason[256];
	const char *bad = parse_register(m, p, &r);
	if (bad) {
		refuse(s, p, r.node_id[0] ? r.node_id : "?", bad);
		return;
	}
	if (p->node && strcmp(p->node->node_id, r.node_id)) {
		refuse(s, p, r.node_id, "this connection is already registered under another node_id");
		return;
	}
	if (s->state == CLUSTER_EXIT) {
		/* Not a refusal: a refused server exits, and this scheduler is only going away
		 * (perhaps to be restarted). The server retries until someone answers. */
		rt_log(s->h, RT_LOG_INFO, "server %s: not registered, the scheduler is exiting",
		       r.node_id);
		conn_close(p->c);
		return;
	}
	sched_node *n = sched_find(s, r.node_id);
	if (!n) {
		int cap = capacity(s);
		if ((int)s->n_nodes >= cap) {
			snprintf(reason, sizeof reason,
				 "the cluster already has %zu of server_num=%d servers: node_id %s is "
				 "one too many", s->n_nodes, cap, r.node_id);
			refuse(s, p, r.node_id, reason);
			return;
		}
		if (s->fl_iteration_num > 0 && r.fl_iteration_num > 0 &&
		    r.fl_iteration_num != s->fl_iteration_num) {
			snprintf(reason, sizeof reason,
				 "fl_iteration_num %lld differs from the cluster's %lld",
				 (long long)r.fl_iteration_num, (long long)s->fl_iteration_num);
			refuse(s, p, r.node_id, reason);
			return;
		}
		int rank = pick_rank(s, r.rank_hint);
		if (rank < 0) {
			snprintf(reason, sizeof reason, "no free rank below server_num=%d for node_id "
				 "%s", cap, r.node_id);
			refuse(s, p, r.node_id, reason);
			return;
		}
		n = calloc(1, sizeof *n);
		if (!n) {
			refuse(s, p, r.node_id, "scheduler out of memory");
			return;
		}
		snprintf(n->node_id, sizeof n->node_id, "%s", r.node_id);
		n->rank = rank;
		n->pending_join = s->state == CLUSTER_SCALE_OUT;
		s->nodes[s->n_nodes++] = n;
		if (s->fl_iteration_num == 0 && r.fl_iteration_num > 0)
			s->fl_iteration_num = r.fl_iteration_num;
		rt_log(s->h, RT_LOG_INFO, "server %s registered: rank %d, %s:%lld (%zu/%d)%s",
		       n->node_id, n->rank, r.ip, (long long)r.port, s->n_nodes, cap,
		       n->pending_join ? " joining a scale-out" : "");
		s->members_dirty = 1;
	} else {
		if (n->peer && n->peer != p) {
			/* A restarted server (or a reconnect racing its old connection): the newest
			 * registration wins, the old connection goes. */
			sched_peer *old = n->peer;
			old->node = NULL;
			n->peer = NULL;
			conn_close(old->c);
		}
		if (strcmp(n->ip, r.ip) || n->port != r.port || n->fl_server_port != r.fl_server_port)
			s->members_dirty = 1;
		if (!n->alive) {
			rt_log(s->h, RT_LOG_INFO, "server %s is back: rank %d", n->node_id, n->rank);
			s->members_dirty = 1;
		} else {
			rt_log(s->h, RT_LOG_INFO, "server %s re-registered: rank %d%s", n->node_id,
			       n->rank, r.is_recover ? " (recovering)" : "");
		}
	}
	if (r.server_num > 0 && r.server_num != capacity(s))
		rt_log(s->h, RT_LOG_WARN, "server %s was started with server_num=%lld; the cluster "
		       "has server_num=%d", n->node_id, (long long)r.server_num, capacity(s));
	snprintf(n->role, sizeof n->role, "%s", r.role);
	snprintf(n->ip, sizeof n->ip, "%s", r.ip);
	n->port = (uint16_t)r.port;
	n->fl_server_port = (uint16_t)r.fl_server_port;
	n->pid = r.pid;
	n->fl_iteration_num = r.fl_iteration_num;
	n->alive = 1;
	n->reconnected = 1;
	n->last_heard_ns = rt_now_ns(s->h);
	n->peer = p;
	p->node = n;
	s->meta_dirty = 1;
	send_register_resp(s, p, n->node_id, 1, n->rank, NULL);
}

static void on_heartbeat(sched *s, sched_peer *p, cJSON *m)
{
	sched_node *n = p->node;
	if (!n)
		return;
	n->last_heard_ns = rt_now_ns(s->h);
	cJSON *st = cJSON_DetachItemFromObjectCaseSensitive(m, "status");
	if (cJSON_IsObject(st)) {
		cJSON_Delete(n->status);
		n->status = st;
	} else {
		cJSON_Delete(st);
	}
	if (!n->alive)
		return; /* marked dead: its connection is closing; it comes back by registering */
	cJSON *a = cJSON_CreateObject();
	if (!a)
		return;
	cJSON_AddStringToObject(a, "cluster_state", sched_state_name(s->state));
	cJSON_AddNumberToObject(a, "epoch", (double)s->epoch);
	/* echoed: the server's leader lease starts when the acknowledged heartbeat left it */
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
	if (cJSON_IsNumber(seq))
		cJSON_AddNumberToObject(a, "seq", seq->valuedouble);
	sched_msg_send(p->c, SCHED_MSG_HEARTBEAT_ACK, a);
	cJSON_Delete(a);
}

static void on_scale_ready(sched *s, sched_peer *p, const cJSON *m)
{
	int64_t b;
	if (!p->node || sched_json_int(m, "barrier", &b) || b <= 0)
		return;
	if (s->op.barrier && (uint64_t)b == s->op.barrier && p->node->scale_acked != s->op.barrier) {
		p->node->scale_acked = s->op.barrier;
		rt_log(s->h, RT_LOG_INFO, "server %s passed scale barrier %llu", p->node->node_id,
		       (unsigned long long)b);
	}
}

static void on_instance_done(sched *s, sched_peer *p, const cJSON *m)
{
	int64_t id;
	int ok = 0;
	sched_node *n = p->node;
	if (!n || sched_json_int(m, "req_id", &id) || (uint64_t)id != s->inst_req_id ||
	    n->inst != 1)
		return;
	if (sched_json_bool(m, "ok", &ok))
		ok = 0;
	if (sched_json_str(m, "message", n->inst_msg, sizeof n->inst_msg))
		snprintf(n->inst_msg, sizeof n->inst_msg, "%s", ok ? "ok" : "failed");
	n->inst = ok ? 2 : 3;
}

void sched_on_frame(sched_peer *p, const frame *f)
{
	sched *s = p->s;
	cJSON *m = cJSON_ParseWithLength(f->meta ? f->meta : "{}", f->meta ? f->meta_len : 2);
	if (!cJSON_IsObject(m)) {
		rt_log(s->h, RT_LOG_WARN, "frame type %u from %s with malformed meta: closing",
		       f->type, rt_stream_peer_ip(conn_stream(p->c)));
		cJSON_Delete(m);
		conn_close(p->c);
		return;
	}
	sched_node *reg = NULL;
	switch (f->type) {
	case SCHED_MSG_REGISTER:
		on_register(s, p, m);
		reg = p->node;
		break;
	case SCHED_MSG_HEARTBEAT:
		on_heartbeat(s, p, m);
		break;
	case SCHED_MSG_TABLE_REQ:
		if (p->node)
			sched_send_table(s, p->node);
		break;
	case SCHED_MSG_SCALE_READY:
		on_scale_ready(s, p, m);
		break;
	case SCHED_MSG_INSTANCE_DONE:
		on_instance_done(s, p, m);
		break;
	default:
		rt_log(s->h, RT_LOG_DEBUG, "ignoring frame type %u", f->type);
		break;
	}
	cJSON_Delete(m);
	s->reconcile(s);
	/* A (re)registered server learns where things stand, whether or not anything changed. */
	if (reg && reg->peer == p) {
		if (s->op.barrier)
			sched_send_scale(s, reg);
		else
			sched_send_table(s, reg);
	}
}

void sched_on_peer_gone(sched_peer *p)
{
	if (p->node && p->node->peer == p)
		p->node->peer = NULL;
	p->node = NULL;
}

void sched_check_timeouts(sched *s)
{
	uint64_t now = rt_now_ns(s->h);
	uint64_t limit = s->cfg.node_timeout_ms * 1000000ull;
	for (size_t i = 0; i < s->n_nodes; i++) {
		sched_node *n = s->nodes[i];
		if (!n->alive || now - n->last_heard_ns <= limit)
			continue;
		n->alive = 0;
		s->members_dirty = 1;
		s->meta_dirty = 1;
		rt_log(s->h, RT_LOG_WARN, "server %s (rank %d) silent for more than %llu ms: "
		       "marked dead", n->node_id, n->rank, (unsigned long long)s->cfg.node_timeout_ms);
		/* Its connection goes too: heartbeats a partition held back (perhaps from a process
		 * that has died since) must not bring it back. A live server reconnects and
		 * registers again. */
		if (n->peer && n->peer->c)
			conn_close(n->peer->c);
	}
	if (s->op.kind == CLUSTER_SCALE_OUT && !s->op.barrier && s->state == CLUSTER_SCALE_OUT &&
	    s->cfg.scale_out_timeout_ms &&
	    now - s->op.started_ns > s->cfg.scale_out_timeout_ms * 1000000ull) {
		char why[96];
		snprintf(why, sizeof why, "its servers did not arrive within scaleout_timeout %llu ms",
			 (unsigned long long)s->cfg.scale_out_timeout_ms);
		sched_scale_out_rollback(s, why, NULL, 0);
	}
}

void sched_start_barrier(sched *s)
{
	s->op.barrier = ++s->barrier_seq;
	s->meta_dirty = 1;
	rt_log(s->h, RT_LOG_INFO, "%s: barrier %llu begins (%d -> %d servers)",
	       s->op.kind == CLUSTER_SCALE_OUT ? "scale-out" : "scale-in",
	       (unsigned long long)s->op.barrier, s->server_num, s->op.target);
	for (size_t i = 0; i < s->n_nodes; i++)
		sched_send_scale(s, s->nodes[i]);
}

int sched_barrier_complete(const sched *s)
{
	/* Dead servers are not waited for: they get the new table when they come back. */
	for (size_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i]->alive && s->nodes[i]->scale_acked != s->op.barrier)
			return 0;
	return 1;
}

static void retire(sched *s, const sched_node *n)
{
	if (s->n_retired == SCHED_MAX_NODES) {
		memmove(&s->retired[0], &s->retired[1], sizeof s->retired[0] * (SCHED_MAX_NODES - 1));
		s->n_retired--;
	}
	sched_retired *r = &s->retired[s->n_retired++];
	snprintf(r->node_id, sizeof r->node_id, "%s", n->node_id);
	r->pid = n->pid;
}

static void commit_scale_in(sched *s)
{
	sched_table *next = malloc(sizeof *next);
	cJSON *nj = NULL;
	if (next) {
		sched_build_table(s, next, 1);
		nj = sched_table_to_json(next);
	}
	size_t keep = 0;
	for (size_t i = 0; i < s->n_nodes; i++) {
		sched_node *n = s->nodes[i];
		int removed = 0;
		for (size_t k = 0; k < s->op.n_remove; k++)
			if (!strcmp(s->op.remove[k], n->node_id))
				removed = 1;
		if (!removed) {
			for (size_t k = 0; next && k < next->n; k++)
				if (!strcmp(next->nodes[k].node_id, n->node_id))
					n->rank = next->nodes[k].rank_id;
			s->nodes[keep++] = n;
			continue;
		}
		/* The final table, without it, tells the server it is out; it then stops serving
		 * and closes the connection itself, and stays up until SIGTERM. */
		if (n->peer && n->peer->c && nj)
			sched_msg_send(n->peer->c, SCHED_MSG_TABLE, nj);
		if (n->peer)
			n->peer->node = NULL;
		rt_log(s->h, RT_LOG_INFO, "server %s scaled in", n->node_id);
		retire(s, n);
		sched_node_free(n);
	}
	s->n_nodes = keep;
	cJSON_Delete(nj);
	free(next);
}

void sched_commit_scale(sched *s)
{
	int kind = s->op.kind;
	if (kind == CLUSTER_SCALE_IN)
		commit_scale_in(s);
	for (size_t i = 0; i < s->n_nodes; i++)
		s->nodes[i]->pending_join = 0;
	rt_log(s->h, RT_LOG_INFO, "%s complete: server_num %d -> %d",
	       kind == CLUSTER_SCALE_OUT ? "scale-out" : "scale-in", s->server_num, s->op.target);
	s->server_num = s->op.target;
	memset(&s->op, 0, sizeof s->op);
	s->members_dirty = 1;
	s->meta_dirty = 1;
	sched_set_state(s, sched_all_alive(s) ? CLUSTER_READY : NODE_TIMEOUT);
}

/* ---- operations ---- */

#define SET_ERR(...)                                                                               \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

int sched_scale_out(sched *s, int servers, char *err, size_t errlen)
{
	if (s->state != CLUSTER_READY) {
		SET_ERR("The cluster is not ready.");
		return SCHED_ESTATE;
	}
	if (servers < 1 || s->server_num + servers > SCHED_MAX_NODES) {
		SET_ERR("server_num must be between 1 and %d", SCHED_MAX_NODES - s->server_num);
		return RT_EINVAL;
	}
	memset(&s->op, 0, sizeof s->op);
	s->op.kind = CLUSTER_SCALE_OUT;
	s->op.target = s->server_num + servers;
	s->op.started_ns = rt_now_ns(s->h);
	rt_log(s->h, RT_LOG_INFO, "scale-out by %d: waiting for %d new servers (server_num %d)",
	       servers, servers, s->op.target);
	sched_set_state(s, CLUSTER_SCALE_OUT);
	s->reconcile(s);
	return 0;
}

int sched_scale_out_rollback(sched *s, const char *why, char *err, size_t errlen)
{
	if (s->state != CLUSTER_SCALE_OUT || s->op.kind != CLUSTER_SCALE_OUT) {
		SET_ERR("The cluster is not scaling out.");
		return SCHED_ESTATE;
	}
	if (s->op.barrier) {
		SET_ERR("The scale out has already begun its barrier and completes by itself.");
		return SCHED_ESTATE;
	}
	int arrived = 0;
	size_t keep = 0;
	cJSON *final = NULL;
	sched_table *t = malloc(sizeof *t);
	if (t) {
		sched_build_table(s, t, 0); /* the committed table: without any joiner */
		final = sched_table_to_json(t);
		free(t);
	}
	for (size_t i = 0; i < s->n_nodes; i++) {
		sched_node *n = s->nodes[i];
		if (!n->pending_join) {
			s->nodes[keep++] = n;
			continue;
		}
		/* A table without it tells the joiner it is out (as after a scale-in). */
		arrived++;
		if (n->peer && n->peer->c && final)
			sched_msg_send(n->peer->c, SCHED_MSG_TABLE, final);
		if (n->peer)
			n->peer->node = NULL;
		retire(s, n);
		sched_node_free(n);
	}
	s->n_nodes = keep;
	cJSON_Delete(final);
	rt_log(s->h, RT_LOG_WARN, "scale-out to %d servers rolled back (%s): %d of %d new servers had "
	       "arrived; server_num stays %d", s->op.target, why, arrived, s->op.target - s->server_num,
	       s->server_num);
	memset(&s->op, 0, sizeof s->op);
	s->members_dirty = 1;
	s->meta_dirty = 1;
	sched_set_state(s, sched_all_alive(s) ? CLUSTER_READY : NODE_TIMEOUT);
	s->reconcile(s);
	return 0;
}

int sched_scale_in(sched *s, const char *const *node_ids, size_t n, char *err, size_t errlen)
{
	if (s->state != CLUSTER_READY) {
		SET_ERR("The cluster is not ready.");
		return SCHED_ESTATE;
	}
	if (!n || !node_ids) {
		SET_ERR("The node ids should not be empty.");
		return RT_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const sched_node *x = node_ids[i] ? sched_find(s, node_ids[i]) : NULL;
		if (!x) {
			SET_ERR("The node id:%s is illegal.", node_ids[i] ? node_ids[i] : "(null)");
			return RT_EINVAL;
		}
		if (x->rank == 0) {
			SET_ERR("The node id:%s is rank 0 of server, should not be scale in.",
				node_ids[i]);
			return RT_EINVAL;
		}
		if (!strcmp(x->node_id, s->leader)) {
			/* after a failover the leader is not rank 0; it may not leave either */
			SET_ERR("The node id:%s is the leader (leader epoch %llu), should not be scale in.",
				node_ids[i], (unsigned long long)s->leader_epoch);
			return RT_EINVAL;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(node_ids[k], node_ids[i])) {
				SET_ERR("The node id:%s is duplicated.", node_ids[i]);
				return RT_EINVAL;
			}
	}
	memset(&s->op, 0, sizeof s->op);
	s->op.kind = CLUSTER_SCALE_IN;
	s->op.target = s->server_num - (int)n;
	s->op.n_remove = n;
	for (size_t i = 0; i < n; i++)
		snprintf(s->op.remove[i], sizeof s->op.remove[i], "%s", node_ids[i]);
	sched_set_state(s, CLUSTER_SCALE_IN);
	sched_start_barrier(s);
	s->reconcile(s);
	return 0;
}
