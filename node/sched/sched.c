/*
 * sched.c — the scheduler's life cycle, its state machine (sched_reconcile), the leader's
 * election and the broadcast of the table (built and sent in sched_table.c). Membership events
 * are in sched_members.c, the REST API in sched_api.c, persistence in sched_meta.c.
 *
 * Every event handler changes the node table and marks what it changed (members_dirty,
 * state_dirty, meta_dirty); sched_reconcile then derives the cluster state from the table, bumps
 * the epoch, sends tables, persists and notifies, all in one place.
 */
#include "sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sched_config_init(sched_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->node_id, sizeof cfg->node_id, "20");
	cfg->port = 6667;
	cfg->manage_port = 11202;
	cfg->server_num = 1;
	cfg->heartbeat_interval_ms = 3000;
	cfg->node_timeout_ms = 30000;
	cfg->instance_timeout_ms = 10000;
	cfg->scale_out_timeout_ms = 300000;
}

const char *sched_strerror(int err)
{
	switch (err) {
	case SCHED_EMETA: return "scheduler metadata file is corrupt or truncated";
	case SCHED_EMANAGE_INUSE: return "management port already in use";
	case SCHED_ESTATE: return "The cluster is not ready.";
	default: return rt_strerror(err);
	}
}

static void broadcast_table(sched *s)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		sched_send_table(s, s->nodes[i]);
}

static int steady_state(const sched *s) { return sched_all_alive(s) ? CLUSTER_READY : NODE_TIMEOUT; }

static void leave_recovery(sched *s)
{
	int st = s->saved_state;
	/* Transient states (an instance relay in flight) do not survive the scheduler. */
	if (st != CLUSTER_STARTING && st != CLUSTER_SCALE_OUT && st != CLUSTER_SCALE_IN)
		st = CLUSTER_READY;
	if ((st == CLUSTER_SCALE_OUT || st == CLUSTER_SCALE_IN) && !s->op.kind)
		st = CLUSTER_READY;
	rt_log(s->h, RT_LOG_INFO, "recovery complete: every server reconnected or timed out");
	sched_set_state(s, st);
	s->state_dirty = 1;
	if (s->op.barrier)
		for (size_t i = 0; i < s->n_nodes; i++)
			sched_send_scale(s, s->nodes[i]);
}

/*
 * The leader: rank 0 when the cluster first becomes ready. Without recovery it stays rank 0's
 * node (MindSpore: nobody else counts). With recovery, once the leader is marked dead (or is no
 * longer a member) the role goes to the live member of lowest rank, with the next leader epoch.
 * A returning old leader is a follower from then on: the role never moves back by itself.
 */
void sched_elect(sched *s)
{
	const sched_node *cur = s->leader[0] ? sched_find(s, s->leader) : NULL;
	if (cur && (cur->alive || !s->cfg.recovery))
		return; /* it is fine, or nobody may take over (no failover without recovery) */
	const sched_node *best = NULL;
	for (size_t i = 0; i < s->n_nodes; i++) {
		const sched_node *x = s->nodes[i];
		if (x->pending_join || (cur && !x->alive))
			continue;
		if (!best || x->rank < best->rank)
			best = x;
	}
	if (!best)
		return; /* nobody alive to take over: the role stays where it is */
	if (cur)
		rt_log(s->h, RT_LOG_WARN, "leader failover: server %s is marked dead; server %s (rank %d) "
		       "leads from leader epoch %llu", cur->node_id, best->node_id, best->rank,
		       (unsigned long long)(s->leader_epoch + 1));
	else
		rt_log(s->h, RT_LOG_INFO, "server %s (rank %d) leads (leader epoch %llu)", best->node_id,
		       best->rank, (unsigned long long)(s->leader_epoch + 1));
	snprintf(s->leader, sizeof s->leader, "%s", best->node_id);
	s->leader_epoch++;
	s->members_dirty = 1;
	s->meta_dirty = 1;
}

void sched_reconcile(sched *s)
{
	if (s->state == CLUSTER_SCHEDULER_RECOVERY) {
		for (size_t i = 0; i < s->n_nodes; i++)
			if (s->nodes[i]->alive && !s->nodes[i]->reconnected)
				goto flush; /* still waiting for servers to come back */
		leave_recovery(s);
	}
	switch (s->state) {
	case CLUSTER_STARTING:
		if ((int)s->n_nodes >= s->server_num && sched_all_alive(s)) {
			rt_log(s->h, RT_LOG_INFO, "all %d servers registered: cluster ready",
			       s->server_num);
			s->members_dirty = 1;
			sched_elect(s);
			sched_set_state(s, CLUSTER_READY);
		}
		break;
	case CLUSTER_READY:
	case NODE_TIMEOUT:
		sched_elect(s);
		sched_set_state(s, steady_state(s));
		break;
	case CLUSTER_SCALE_OUT:
		if (!s->op.barrier) {
			int joined_alive = 1;
			for (size_t i = 0; i < s->n_nodes; i++)
				if (s->nodes[i]->pending_join && !s->nodes[i]->alive)
					joined_alive = 0;
			if ((int)s->n_nodes >= s->op.target && joined_alive)
				sched_start_barrier(s);
		}
		if (s->op.barrier && sched_barrier_complete(s))
			sched_commit_scale(s);
		break;
	case CLUSTER_SCALE_IN:
		if (s->op.barrier && sched_barrier_complete(s))
			sched_commit_scale(s);
		break;
	case CLUSTER_NEW_INSTANCE:
	case CLUSTER_ENABLE_FLS:
	case CLUSTER_DISABLE_FLS:
		sched_inst_check(s);
		break;
	default:
		break;
	}
flush:
	if (s->members_dirty && s->state != CLUSTER_STARTING &&
	    s->state != CLUSTER_SCHEDULER_RECOVERY && !s->op.kind) {
		s->epoch++;
		s->meta_dirty = 1;
		s->state_dirty = 1;
		s->members_dirty = 0;
	}
	/* Tables go out in the steady states and at exit; during an operation the servers hear
	 * from the barrier (SCALE) or the relay, and a joining server waits for the commit. */
	if (s->state_dirty && !s->op.kind && s->state != CLUSTER_NEW_INSTANCE &&
	    s->state != CLUSTER_ENABLE_FLS && s->state != CLUSTER_DISABLE_FLS) {
		broadcast_table(s);
		s->state_dirty = 0;
	}
	if (s->meta_dirty) {
		s->meta_dirty = 0;
		if (s->cfg.recovery)
			sched_meta_save(s);
		if (s->cfg.on_change && !s->in_change) {
			s->in_change = 1;
			s->cfg.on_change(s->cfg.cb_data, s);
			s->in_change = 0;
		}
	}
}

/* ---- connections ---- */

static void peer_on_frame(conn *c, const frame *f, void *data)
{
	sched_peer *p = data;
	(void)c;
	sched_on_frame(p, f);
}

static void peer_on_close(conn *c, int err, void *data)
{
	sched_peer *p = data;
	sched *s = p->s;
	(void)c;
	for (sched_peer **pp = &s->peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->c = NULL;
	if (p->node)
		rt_log(s->h, RT_LOG_INFO, "server %s disconnected (%s)", p->node->node_id,
		       err ? rt_strerror(err) : "closed");
	sched_on_peer_gone(p);
	free(p);
}

static const conn_cbs peer_cbs = {
	.on_frame = peer_on_frame,
	.on_close = peer_on_close,
};

static void on_accept(rt_listener *l, rt_stream *st, void *data)
{
	sched *s = data;
	(void)l;
	sched_peer *p = calloc(1, sizeof *p);
	if (!p) {
		rt_stream_close(st);
		return;
	}
	p->s = s;
	if (conn_accept(st, &peer_cbs, p, &p->c)) {
		free(p);
		return;
	}
	p->next = s->peers;
	s->peers = p;
}

static void on_tick(rt_timer *t, void *data)
{
	sched *s = data;
	(void)t;
	sched_check_timeouts(s);
	sched_reconcile(s);
}

/* ---- life cycle ---- */

static int config_ok(const sched_config *c)
{
	if (!c->node_id[0] || c->server_num < 1 || c->server_num > SCHED_MAX_NODES)
		return 0;
	if (c->ip[0] && !sched_ip_ok(c->ip))
		return 0;
	if (c->manage_ip[0] && !sched_ip_ok(c->manage_ip))
		return 0;
	if (c->fl_iteration_num < 0)
		return 0;
	if (c->recovery && !c->meta_file[0])
		return 0;
	return 1;
}

static void drop_nodes(sched *s)
{
	for (size_t i = 0; i < s->n_nodes; i++)
		sched_node_free(s->nodes[i]);
	s->n_nodes = 0;
	s->n_retired = 0;
	memset(&s->op, 0, sizeof s->op);
	s->leader[0] = '\0';
	s->leader_epoch = 0;
}

int sched_new(rt_host *h, const sched_config *cfg, sched **out)
{
	if (!h || !cfg || !out || !config_ok(cfg))
		return RT_EINVAL;
	sched *s = calloc(1, sizeof *s);
	if (!s)
		return RT_ENOMEM;
	s->h = h;
	s->reconcile = sched_reconcile;
	s->cfg = *cfg;
	if (!s->cfg.heartbeat_interval_ms)
		s->cfg.heartbeat_interval_ms = 3000;
	if (!s->cfg.node_timeout_ms)
		s->cfg.node_timeout_ms = 30000;
	if (!s->cfg.instance_timeout_ms)
		s->cfg.instance_timeout_ms = 10000;
	s->state = CLUSTER_STARTING;
	s->server_num = cfg->server_num;
	s->fl_iteration_num = cfg->fl_iteration_num;
	s->fls_enabled = 1;
	int rc = 0;
	int recovered = 0;
	if (s->cfg.recovery) {
		rc = sched_meta_load(s);
		if (rc == 0) {
			if (s->saved_state == CLUSTER_EXIT) {
				rt_log(h, RT_LOG_INFO,
				       "metadata %s: the previous cluster exited cleanly; starting a new "
				       "one", s->cfg.meta_file);
				drop_nodes(s);
				s->server_num = cfg->server_num;
				s->fl_iteration_num = cfg->fl_iteration_num;
				s->epoch = 0;
				s->fls_enabled = 1;
			} else {
				recovered = 1;
			}
		} else if (rc != RT_ENOENT) {
			drop_nodes(s);
			free(s);
			return rc;
		}
		rc = 0;
	}
	s->tick = rt_timer_new(h, on_tick, s);
	s->inst_timer = NULL;
	if (!s->tick) {
		rc = RT_ENOMEM;
		goto fail;
	}
	rc = rt_listen(h, s->cfg.ip[0] ? s->cfg.ip : NULL, s->cfg.port, on_accept, s, &s->lis);
	if (rc)
		goto fail;
	http_server_config hc = {
		.max_header_bytes = 16 * 1024,
		.max_body_bytes = 1024 * 1024,
		.header_timeout_ms = 10000,
		.idle_timeout_ms = 60000,
		.max_connections = 1000,
	};
	rc = http_server_start(h, s->cfg.manage_ip[0] ? s->cfg.manage_ip : "127.0.0.1",
			       s->cfg.manage_port, &hc, sched_api_handle, s, &s->http);
	if (rc) {
		if (rc == RT_EADDRINUSE)
			rc = SCHED_EMANAGE_INUSE;
		goto fail;
	}
	rt_timer_start(s->tick, s->cfg.heartbeat_interval_ms, s->cfg.heartbeat_interval_ms);
	uint64_t now = rt_now_ns(h);
	if (recovered) {
		s->state = CLUSTER_SCHEDULER_RECOVERY;
		for (size_t i = 0; i < s->n_nodes; i++)
			s->nodes[i]->last_heard_ns = now;
		s->op.started_ns = now; /* a reloaded scale-out gets its whole timeout again */
		rt_log(h, RT_LOG_INFO,
		       "recovered metadata: %zu servers (server_num=%d, epoch %llu, state %s); "
		       "waiting for them to reconnect",
		       s->n_nodes, s->server_num, (unsigned long long)s->epoch,
		       sched_state_name(s->saved_state));
		if (s->server_num != cfg->server_num)
			rt_log(h, RT_LOG_INFO, "server_num is %d from the metadata (scaling changed it; "
			       "the flag says %d)", s->server_num, cfg->server_num);
		s->meta_dirty = 1;
	}
	rt_log(h, RT_LOG_INFO, "scheduler %s listening on %s:%u, management API on %s:%u, "
	       "server_num=%d", s->cfg.node_id, s->cfg.ip[0] ? s->cfg.ip : rt_host_ip(h),
	       rt_listener_port(s->lis), s->cfg.manage_ip[0] ? s->cfg.manage_ip : "127.0.0.1",
	       http_server_port(s->http), s->server_num);
	*out = s;
	sched_reconcile(s);
	return 0;
fail:
	if (s->lis)
		rt_listener_close(s->lis);
	rt_timer_free(s->tick);
	drop_nodes(s);
	free(s);
	return rc;
}

void sched_shutdown(sched *s)
{
	if (!s || s->state == CLUSTER_EXIT)
		return;
	sched_inst_abort(s);
	memset(&s->op, 0, sizeof s->op);
	sched_set_state(s, CLUSTER_EXIT);
	/* Every server hears it, joiners included. */
	for (size_t i = 0; i < s->n_nodes; i++)
		s->nodes[i]->pending_join = 0;
	sched_reconcile(s);
}

void sched_destroy(sched *s)
{
	if (!s)
		return;
	sched_inst_abort(s);
	if (s->http)
		http_server_stop(s->http);
	if (s->lis)
		rt_listener_close(s->lis);
	rt_timer_free(s->tick);
	rt_timer_free(s->inst_timer);
	sched_peer *p = s->peers;
	while (p) {
		sched_peer *next = p->next;
		conn_free(p->c);
		free(p);
		p = next;
	}
	drop_nodes(s);
	free(s);
}

/* ---- observation ---- */

int sched_get_state(const sched *s) { return s->state; }
int sched_get_server_num(const sched *s) { return s->server_num; }
uint64_t sched_get_epoch(const sched *s) { return s->epoch; }
uint16_t sched_manage_port(const sched *s) { return http_server_port(s->http); }

void sched_get_table(const sched *s, sched_table *out) { sched_build_table(s, out, 0); }

size_t sched_get_pids(const sched *s, sched_pid *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_nodes && n < max; i++) {
		const sched_node *x = s->nodes[i];
		if (x->pid <= 0)
			continue;
		snprintf(out[n].node_id, sizeof out[n].node_id, "%s", x->node_id);
		out[n].pid = x->pid;
		out[n].what = x->alive ? "server" : "dead-server";
		n++;
	}
	for (size_t i = 0; i < s->n_retired && n < max; i++) {
		if (s->retired[i].pid <= 0)
			continue;
		snprintf(out[n].node_id, sizeof out[n].node_id, "%s", s->retired[i].node_id);
		out[n].pid = s->retired[i].pid;
		out[n].what = "scaled-in-server";
		n++;
	}
	return n;
}
