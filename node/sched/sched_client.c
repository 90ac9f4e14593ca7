/*
 * sched_client.c — a server's side of the scheduler protocol (sched_client.h, sched_msg.h).
 *
 * One connection to the scheduler at a time. It is (re)opened with exponential backoff and
 * jitter whenever it is missing, and every new connection starts with REGISTER, so a scheduler
 * that died and came back (with or without its metadata) finds the server on its own. The
 * server keeps serving meanwhile: nothing here stops on the scheduler's absence.
 *
 * User callbacks may call sched_client_stop: every entry point counts its depth and the struct
 * is freed only when the outermost one returns.
 */
#include "sched_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	CL_DISCONNECTED = 0, /* waiting for the retry timer */
	CL_CONNECTING,
	CL_REGISTERING,
	CL_REGISTERED,
	CL_REFUSED,          /* final: the scheduler said no */
	CL_REMOVED,          /* final: scaled in */
};

#define CL_BACKOFF_MIN_MS 100

struct sched_client {
	rt_host *h;
	sched_client_config cfg;
	sched_client_cbs cbs;
	void *data;
	conn *c;
	int state;
	int rank;
	int have_table;
	int ever_registered;
	int lost_reported;
	int stopping;
	int depth;
	rt_timer *hb, *retry;
	uint64_t backoff_ms;
	uint64_t last_rx_ns;
	/* The leader lease (sched_client_lease_until_ns): the latest moment the scheduler is known
	 * to have heard us, or to have had no process listening. */
	uint64_t lease_base_ns;
	uint64_t hb_seq;
	uint64_t hb_sent_ns[8];  /* by seq % 8 */
	uint64_t reg_sent_ns, connect_ns;
	uint64_t sched_node_timeout_ms; /* the scheduler's, from REGISTER_RESP (0: ours) */
	uint64_t scale_barrier; /* on_scale was called for it */
	uint64_t acked_barrier; /* SCALE_READY was sent for it */
	int64_t inst_req[3];    /* the last request id per op: newInstance, enableFLS, disableFLS */
	sched_table table;
	sched_table scratch;
	sched_table next; /* what on_scale announced */
};

static void enter(sched_client *c) { c->depth++; }

/* Returns 1 when the client was stopped and freed (the caller must not touch it). */
static int leave(sched_client *c)
{
	if (--c->depth == 0 && c->stopping) {
		free(c);
		return 1;
	}
	return 0;
}

static void connect_now(sched_client *c);

static void schedule_retry(sched_client *c)
{
	if (c->stopping || c->state == CL_REFUSED || c->state == CL_REMOVED)
		return;
	c->state = CL_DISCONNECTED;
	uint64_t cap = c->cfg.heartbeat_interval_ms < 3000 ? c->cfg.heartbeat_interval_ms : 3000;
	if (cap < 2 * CL_BACKOFF_MIN_MS)
		cap = 2 * CL_BACKOFF_MIN_MS;
	if (c->backoff_ms < CL_BACKOFF_MIN_MS)
		c->backoff_ms = CL_BACKOFF_MIN_MS;
	/* Jitter in [d/2, d) keeps restarted servers from reconnecting in lock step. */
	uint64_t half = c->backoff_ms / 2;
	uint64_t d = half + (uint64_t)(rt_rand_double(c->h) * (double)half);
	c->backoff_ms = c->backoff_ms * 2 > cap ? cap : c->backoff_ms * 2;
	rt_timer_start(c->retry, d, 0);
}

static void send_register(sched_client *c)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return;
	cJSON_AddStringToObject(j, "node_id", c->cfg.node_id);
	cJSON_AddStringToObject(j, "role", "SERVER");
	cJSON_AddStringToObject(j, "ip", c->cfg.ip);
	cJSON_AddNumberToObject(j, "port", c->cfg.port);
	cJSON_AddNumberToObject(j, "fl_server_port", c->cfg.fl_server_port);
	cJSON_AddNumberToObject(j, "fl_iteration_num", (double)c->cfg.fl_iteration_num);
	cJSON_AddBoolToObject(j, "is_recover", c->cfg.is_recover || c->ever_registered);
	cJSON_AddNumberToObject(j, "pid", (double)c->cfg.pid);
	cJSON_AddNumberToObject(j, "rank_hint", c->rank);
	if (c->cfg.server_num > 0)
		cJSON_AddNumberToObject(j, "server_num", c->cfg.server_num);
	c->reg_sent_ns = rt_now_ns(c->h);
	sched_msg_send(c->c, SCHED_MSG_REGISTER, j);
	cJSON_Delete(j);
}

static void lease_renew(sched_client *c, uint64_t base_ns)
{
	if (base_ns > c->lease_base_ns)
		c->lease_base_ns = base_ns;
}

/*
 * A dial refused: no scheduler process listened when we dialled, so none can count our silence
 * from before; a restarted one starts every node timeout afresh. That extends the lease only if
 * it still held when we dialled: a scheduler that handed the role on while we were cut off, and
 * then died, must not give a deposed leader its lease back.
 */
static void lease_refused(sched_client *c)
{
	if (c->connect_ns < sched_client_lease_until_ns(c))
		lease_renew(c, c->connect_ns);
}

static void send_heartbeat(sched_client *c)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *st = cJSON_CreateObject();
	if (!j || !st) {
		cJSON_Delete(j);
		cJSON_Delete(st);
		return;
	}
	cJSON_AddStringToObject(j, "node_id", c->cfg.node_id);
	if (c->cbs.fill_status)
		c->cbs.fill_status(c->data, st);
	cJSON_AddItemToObject(j, "status", st);
	c->hb_seq++;
	c->hb_sent_ns[c->hb_seq % 8] = rt_now_ns(c->h);
	cJSON_AddNumberToObject(j, "seq", (double)c->hb_seq);
	if (!c->stopping && c->c)
		sched_msg_send(c->c, SCHED_MSG_HEARTBEAT, j);
	cJSON_Delete(j);
}

/* Drop the connection (its on_close comes later and schedules the retry). */
static void drop_conn(sched_client *c)
{
	if (c->c)
		conn_close(c->c);
}

/* ---- frames ---- */

static void on_register_resp(sched_client *c, const cJSON *m)
{
	int ok = 0;
	int64_t rank = -1;
	if (sched_json_bool(m, "ok", &ok) || (ok && (sched_json_int(m, "rank_id", &rank) ||
						     rank < 0 || rank >= SCHED_MAX_NODES))) {
		rt_log(c->h, RT_LOG_WARN, "malformed registration reply from the scheduler");
		drop_conn(c);
		return;
	}
	if (!ok) {
		char reason[256] = "no reason given";
		sched_json_str(m, "reason", reason, sizeof reason);
		rt_log(c->h, RT_LOG_ERROR, "the scheduler refused node %s: %s", c->cfg.node_id, reason);
		c->state = CL_REFUSED;
		rt_timer_stop(c->hb);
		rt_timer_stop(c->retry);
		drop_conn(c);
		if (c->cbs.on_refused)
			c->cbs.on_refused(c->data, reason);
		return;
	}
	c->state = CL_REGISTERED;
	c->rank = (int)rank;
	int64_t nt;
	if (!sched_json_int(m, "node_timeout_ms", &nt) && nt > 0)
		c->sched_node_timeout_ms = (uint64_t)nt;
	lease_renew(c, c->reg_sent_ns);
	c->backoff_ms = CL_BACKOFF_MIN_MS;
	c->lost_reported = 0;
	c->ever_registered = 1;
	rt_log(c->h, RT_LOG_INFO, "registered with the scheduler as node %s, rank %d",
	       c->cfg.node_id, c->rank);
	if (c->cbs.on_registered)
		c->cbs.on_registered(c->data, c->rank);
}

static const sched_node_info *table_find(const sched_table *t, const char *node_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->nodes[i].node_id, node_id))
			return &t->nodes[i];
	return NULL;
}

static void on_table(sched_client *c, const cJSON *m)
{
	if (sched_table_from_json(m, &c->scratch)) {
		rt_log(c->h, RT_LOG_WARN, "malformed table from the scheduler: ignored");
		return;
	}
	const sched_node_info *me = table_find(&c->scratch, c->cfg.node_id);
	if (!me) {
		/* Only the final table of a scale-in leaves us out: we are no longer a member. */
		rt_log(c->h, RT_LOG_WARN, "node %s was scaled in: leaving the cluster (the process "
		       "stays up until it is stopped)", c->cfg.node_id);
		c->state = CL_REMOVED;
		c->rank = -1;
		rt_timer_stop(c->hb);
		rt_timer_stop(c->retry);
		drop_conn(c);
	} else {
		c->rank = me->rank_id;
		if (c->have_table && !memcmp(&c->table, &c->scratch, sizeof c->table))
			return; /* nothing new */
	}
	c->table = c->scratch;
	c->have_table = 1;
	if (c->cbs.on_table)
		c->cbs.on_table(c->data, &c->table);
}

static void on_scale(sched_client *c, const cJSON *m)
{
	char kind[16];
	int64_t barrier;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "table");
	if (sched_json_str(m, "kind", kind, sizeof kind) || sched_json_int(m, "barrier", &barrier) ||
	    barrier <= 0 || sched_table_from_json(t, &c->next)) {
		rt_log(c->h, RT_LOG_WARN, "malformed scale message from the scheduler: ignored");
		return;
	}
	if ((uint64_t)barrier == c->acked_barrier) {
		/* Asked again (the scheduler restarted mid-barrier): we are still ready. */
		cJSON *j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "barrier", (double)barrier);
		sched_msg_send(c->c, SCHED_MSG_SCALE_READY, j);
		cJSON_Delete(j);
		return;
	}
	if ((uint64_t)barrier == c->scale_barrier)
		return; /* the server is still getting ready */
	c->scale_barrier = (uint64_t)barrier;
	rt_log(c->h, RT_LOG_INFO, "%s barrier %lld: entering safe mode", kind, (long long)barrier);
	if (c->cbs.on_scale)
		c->cbs.on_scale(c->data, kind, &c->next);
	else
		sched_client_scale_ready(c);
}

static int op_index(const char *op)
{
	if (!strcmp(op, "newInstance"))
		return 0;
	if (!strcmp(op, "enableFLS"))
		return 1;
	if (!strcmp(op, "disableFLS"))
		return 2;
	return -1;
}

static void on_instance(sched_client *c, const cJSON *m)
{
	char op[32];
	int64_t id;
	int k;
	if (sched_json_str(m, "op", op, sizeof op) || (k = op_index(op)) < 0 ||
	    sched_json_int(m, "req_id", &id)) {
		rt_log(c->h, RT_LOG_WARN, "malformed instance message from the scheduler: ignored");
		return;
	}
	c->inst_req[k] = id;
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
	if (c->cbs.on_instance)
		c->cbs.on_instance(c->data, op, params);
	else
		sched_client_instance_done(c, op, 0, "this server does not handle instance commands");
}

static void on_ack(sched_client *c, const cJSON *m)
{
	int64_t epoch, seq;
	char state[32];
	if (!sched_json_int(m, "seq", &seq) && seq > 0 && (uint64_t)seq <= c->hb_seq &&
	    c->hb_seq - (uint64_t)seq < 8)
		lease_renew(c, c->hb_sent_ns[seq % 8]);
	if (sched_json_int(m, "epoch", &epoch) || sched_json_str(m, "cluster_state", state,
								 sizeof state))
		return;
	int want = c->have_table ? (uint64_t)epoch != c->table.epoch
				 : strcmp(state, "CLUSTER_STARTING") &&
					   strcmp(state, "CLUSTER_SCHEDULER_RECOVERY");
	if (want)
		sched_msg_send(c->c, SCHED_MSG_TABLE_REQ, NULL);
}

static void conn_frame(conn *cn, const frame *f, void *data)
{
	sched_client *c = data;
	(void)cn;
	if (c->stopping || c->state == CL_REMOVED || c->state == CL_REFUSED)
		return;
	c->last_rx_ns = rt_now_ns(c->h);
	cJSON *m = cJSON_ParseWithLength(f->meta ? f->meta : "{}", f->meta ? f->meta_len : 2);
	if (!cJSON_IsObject(m)) {
		cJSON_Delete(m);
		rt_log(c->h, RT_LOG_WARN, "malformed frame from the scheduler: reconnecting");
		drop_conn(c);
		return;
	}
	enter(c);
	if (f->type == SCHED_MSG_REGISTER_RESP)
		on_register_resp(c, m);
	else if (c->state != CL_REGISTERED)
		; /* nothing else counts before the registration reply */
	else if (f->type == SCHED_MSG_TABLE)
		on_table(c, m);
	else if (f->type == SCHED_MSG_SCALE)
		on_scale(c, m);
	else if (f->type == SCHED_MSG_INSTANCE)
		on_instance(c, m);
	else if (f->type == SCHED_MSG_HEARTBEAT_ACK)
		on_ack(c, m);
	cJSON_Delete(m);
	leave(c);
}

static void conn_open(conn *cn, void *data)
{
	sched_client *c = data;
	(void)cn;
	if (c->stopping)
		return;
	c->state = CL_REGISTERING;
	send_register(c);
}

static void conn_gone(conn *cn, int err, void *data)
{
	sched_client *c = data;
	(void)cn;
	c->c = NULL;
	if (c->stopping)
		return;
	if (c->state == CL_CONNECTING && err == RT_ECONNREFUSED)
		lease_refused(c);
	if (c->state == CL_REGISTERED)
		rt_log(c->h, RT_LOG_WARN, "lost the connection to the scheduler (%s): reconnecting",
		       err ? rt_strerror(err) : "closed by the scheduler");
	schedule_retry(c);
}

static const conn_cbs client_conn_cbs = {
	.on_open = conn_open,
	.on_frame = conn_frame,
	.on_close = conn_gone,
};

static void connect_now(sched_client *c)
{
	if (c->stopping || c->c || c->state == CL_REFUSED || c->state == CL_REMOVED)
		return;
	c->state = CL_CONNECTING;
	c->connect_ns = rt_now_ns(c->h);
	uint64_t timeout = c->cfg.heartbeat_interval_ms > 1000 ? c->cfg.heartbeat_interval_ms : 1000;
	int rc = conn_connect(c->h, c->cfg.scheduler_ip, c->cfg.scheduler_port, timeout,
			      &client_conn_cbs, c, &c->c);
	if (rc) {
		if (rc == RT_ECONNREFUSED)
			lease_refused(c);
		c->c = NULL;
		schedule_retry(c);
	}
}

static void on_retry(rt_timer *t, void *data)
{
	sched_client *c = data;
	(void)t;
	connect_now(c);
}

static void on_hb(rt_timer *t, void *data)
{
	sched_client *c = data;
	(void)t;
	enter(c);
	if (c->state == CL_REGISTERED)
		send_heartbeat(c);
	uint64_t now = rt_now_ns(c->h);
	if (!c->stopping && c->ever_registered &&
	    now - c->last_rx_ns > c->cfg.node_timeout_ms * 1000000ull) {
		if (!c->lost_reported) {
			c->lost_reported = 1;
			rt_log(c->h, RT_LOG_WARN, "the scheduler has been silent for more than %llu "
			       "ms; still serving, still trying",
			       (unsigned long long)c->cfg.node_timeout_ms);
			if (c->cbs.on_scheduler_lost)
				c->cbs.on_scheduler_lost(c->data);
		}
		/* A connection that carries nothing is as good as none: start over. */
		if (!c->stopping && c->c && c->state == CL_REGISTERED)
			drop_conn(c);
	}
	leave(c);
}

/* ---- API ---- */

int sched_client_start(rt_host *h, const sched_client_config *cfg, const sched_client_cbs *cbs,
		       void *data, sched_client **out)
{
	if (!h || !cfg || !out || !cfg->node_id[0] || !sched_ip_ok(cfg->scheduler_ip) ||
	    !cfg->scheduler_port || !cfg->port || (cfg->ip[0] && !sched_ip_ok(cfg->ip)))
		return RT_EINVAL;
	sched_client *c = calloc(1, sizeof *c);
	if (!c)
		return RT_ENOMEM;
	c->h = h;
	c->cfg = *cfg;
	if (!c->cfg.ip[0])
		snprintf(c->cfg.ip, sizeof c->cfg.ip, "%s", rt_host_ip(h));
	if (!c->cfg.heartbeat_interval_ms)
		c->cfg.heartbeat_interval_ms = 3000;
	if (!c->cfg.node_timeout_ms)
		c->cfg.node_timeout_ms = 30000;
	if (cbs)
		c->cbs = *cbs;
	c->data = data;
	c->rank = -1;
	c->backoff_ms = CL_BACKOFF_MIN_MS;
	for (int i = 0; i < 3; i++)
		c->inst_req[i] = -1;
	c->hb = rt_timer_new(h, on_hb, c);
	c->retry = rt_timer_new(h, on_retry, c);
	if (!c->hb || !c->retry) {
		rt_timer_free(c->hb);
		rt_timer_free(c->retry);
		free(c);
		return RT_ENOMEM;
	}
	c->last_rx_ns = rt_now_ns(h);
	rt_timer_start(c->hb, c->cfg.heartbeat_interval_ms, c->cfg.heartbeat_interval_ms);
	connect_now(c);
	*out = c;
	return 0;
}

void sched_client_stop(sched_client *c)
{
	if (!c || c->stopping)
		return;
	c->stopping = 1;
	rt_timer_free(c->hb);
	rt_timer_free(c->retry);
	c->hb = c->retry = NULL;
	if (c->c) {
		conn_free(c->c);
		c->c = NULL;
	}
	if (c->depth == 0)
		free(c);
}

int sched_client_scale_ready(sched_client *c)
{
	if (!c || c->stopping || !c->scale_barrier)
		return RT_EINVAL;
	if (c->acked_barrier == c->scale_barrier)
		return 0;
	c->acked_barrier = c->scale_barrier;
	/* Without a connection now, the scheduler asks again after we re-register and the
	 * answer is then automatic. */
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return RT_ENOMEM;
	cJSON_AddNumberToObject(j, "barrier", (double)c->acked_barrier);
	if (c->c)
		sched_msg_send(c->c, SCHED_MSG_SCALE_READY, j);
	cJSON_Delete(j);
	return 0;
}

int sched_client_instance_done(sched_client *c, const char *op, int ok, const char *message)
{
	int k;
	if (!c || c->stopping || !op || (k = op_index(op)) < 0 || c->inst_req[k] < 0)
		return RT_EINVAL;
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return RT_ENOMEM;
	cJSON_AddStringToObject(j, "op", op);
	cJSON_AddNumberToObject(j, "req_id", (double)c->inst_req[k]);
	cJSON_AddBoolToObject(j, "ok", ok != 0);
	cJSON_AddStringToObject(j, "message", message ? message : (ok ? "ok" : "failed"));
	int rc = c->c ? sched_msg_send(c->c, SCHED_MSG_INSTANCE_DONE, j) : RT_ECLOSED;
	cJSON_Delete(j);
	c->inst_req[k] = -1;
	return rc;
}

int sched_client_rank(const sched_client *c) { return c ? c->rank : -1; }

uint64_t sched_client_lease_until_ns(const sched_client *c)
{
	if (!c || !c->lease_base_ns)
		return 0;
	uint64_t timeout = c->sched_node_timeout_ms ? c->sched_node_timeout_ms : c->cfg.node_timeout_ms;
	uint64_t margin = c->cfg.heartbeat_interval_ms;
	if (margin * 2 > timeout)
		margin = timeout / 2;
	return c->lease_base_ns + (timeout - margin) * 1000000ull;
}

const sched_table *sched_client_table(const sched_client *c)
{
	return c && c->have_table ? &c->table : NULL;
}
