/*
 * srv.c — the server's life: creation and destruction, the embedded scheduler client (rank,
 * address table, scaling, instance commands), the mailbox through which the leader talks to
 * itself exactly as to the others, message dispatch and the housekeeping tick.
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 250

/* ---- small helpers ---- */

/* Bounded copy (validated lengths; this only keeps the compiler's truncation checks quiet). */
static void copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);

	memcpy(dst, src, l);
	dst[l] = '\0';
}

const char *srv_strerror(int err)
{
	switch (err) {
	case SRV_ECONFIG: return "invalid server configuration";
	case SRV_ECORRUPT: return "corrupt recovery file";
	case SRV_EOWNER: return "recovery files belong to another node";
	default: return rt_strerror(err);
	}
}

static void mbox_run(rt_timer *t, void *data)
{
	srv *s = data;
	struct srv_mail *tail = s->mbox_tail;
	(void)t;

	/* Only what is queued now: mail sent while handling waits for the next round. */
	while (s->mbox) {
		struct srv_mail *m = s->mbox;
		int last = m == tail;
		s->mbox = m->next;
		if (!s->mbox)
			s->mbox_tail = NULL;
		cJSON *meta = m->meta ? cJSON_Parse(m->meta) : cJSON_CreateObject();
		if (meta)
			srv_dispatch(s, s->self, m->type, meta, m->payload, m->len);
		cJSON_Delete(meta);
		free(m->meta);
		free(m->payload);
		free(m);
		if (last)
			break;
	}
	if (s->mbox)
		rt_timer_start(s->mbox_timer, 0, 0);
}

void srv_dispatch(srv *s, int peer, int type, const cJSON *meta, const uint8_t *payload,
		  size_t len)
{
	if (s->removed)
		return;
	/* Leadership traffic of another leader epoch is stale (a deposed leader, or one that has
	 * not heard of its election yet): dropped; the next table or STATE brings both in step. */
	if (type != SRV_MSG_MODEL_REQ && type != SRV_MSG_MODEL && type != SRV_MSG_RED &&
	    type != SRV_MSG_FIN && (uint64_t)srv_json_i64(meta, "lepoch", 0) != s->leader_epoch) {
		rt_log(s->h, RT_LOG_DEBUG, "dropping %s of leader epoch %lld (ours %llu)", srv_msg_name(type),
		       (long long)srv_json_i64(meta, "lepoch", 0), (unsigned long long)s->leader_epoch);
		return;
	}
	switch (type) {
	case SRV_MSG_STATE: srv_on_state(s, peer, meta); break;
	case SRV_MSG_SYNCED:
		if (srv_is_leader(s))
			srv_leader_on_synced(s, peer, meta);
		break;
	case SRV_MSG_MODEL_REQ: srv_on_model_req(s, peer, meta); break;
	case SRV_MSG_MODEL: srv_on_model(s, peer, meta, payload, len); break;
	case SRV_MSG_COUNT_REQ: srv_on_count_req(s, peer, meta); break;
	case SRV_MSG_COUNT_REP:
		if (peer == s->leader_peer)
			srv_on_count_rep(s, meta);
		break;
	case SRV_MSG_AGG: srv_on_agg(s, peer, meta); break;
	case SRV_MSG_RED:
	case SRV_MSG_FIN: srv_on_ar_chunk(s, peer, type, meta, payload, len); break;
	case SRV_MSG_AGG_DONE:
		if (srv_is_leader(s))
			srv_leader_on_agg_done(s, peer, meta);
		break;
	case SRV_MSG_PREPARE: srv_on_prepare(s, peer, meta); break;
	case SRV_MSG_PREPARE_OK:
		if (srv_is_leader(s))
			srv_leader_on_prepare_ok(s, peer, meta);
		break;
	case SRV_MSG_COMMIT: srv_on_commit(s, peer, meta); break;
	case SRV_MSG_END: srv_on_end(s, peer, meta); break;
	case SRV_MSG_REPORT_REQ:
		if (peer == s->leader_peer && peer != s->self)
			srv_ask_state(s);
		break;
	default:
		rt_log(s->h, RT_LOG_DEBUG, "ignoring frame type %d", type);
		break;
	}
}

const char *srv_msg_name(int type)
{
	static const char *const names[] = { "HELLO", "STATE", "SYNCED", "MODEL_REQ", "MODEL",
					     "COUNT_REQ", "COUNT_REP", "AGG", "RED", "FIN",
					     "AGG_DONE", "PREPARE", "PREPARE_OK", "COMMIT", "END",
					     "REPORT_REQ" };
	if (type >= SRV_MSG_HELLO && type <= SRV_MSG_REPORT_REQ)
		return names[type - SRV_MSG_HELLO];
	return "?";
}

/* ---- membership ---- */

static void become_removed(srv *s)
{
	if (s->removed)
		return;
	rt_log(s->h, RT_LOG_WARN, "this server is no longer in the cluster (scaled in): it stops "
	       "serving devices");
	s->removed = 1;
	srv_leader_end(s);
	srv_api_fail_pending(s, "scaled in");
	if (s->http)
		http_server_stop(s->http);
	s->http = NULL;
	srv_event(s, SRV_EV_REMOVED);
}

static void role_check(srv *s)
{
	if (s->removed || !s->cluster_ready_seen)
		return;
	int lead = s->leader_peer >= 0 && s->leader_peer == s->self;
	if (lead && !srv_is_leader(s))
		srv_leader_begin(s);
	else if (!lead && srv_is_leader(s))
		srv_leader_end(s);
	if (srv_is_leader(s)) {
		srv_leader_table(s);
	} else if (s->join == SRV_JOIN_NONE && srv_peer_up(s, s->leader_peer)) {
		srv_ask_state(s);
	}
}

static void sc_registered(void *data, int rank)
{
	srv *s = data;

	s->registered = 1;
	s->rank = rank;
	rt_log(s->h, RT_LOG_INFO, "registered with the scheduler: rank %d", rank);
	srv_persist(s);
}

static void sc_refused(void *data, const char *reason)
{
	srv *s = data;

	rt_log(s->h, RT_LOG_ERROR, "the scheduler refused this server: %s", reason);
	srv_event(s, SRV_EV_REFUSED);
}

static void sc_table(void *data, const sched_table *t)
{
	srv *s = data;
	int in = 0;

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->nodes[i].node_id, s->cfg.node_id) == 0)
			in = 1;
	snprintf(s->cluster_state, sizeof s->cluster_state, "%s", t->cluster_state);
	if (strcmp(t->cluster_state, "CLUSTER_EXIT") == 0) {
		if (!s->exit_reported) {
			s->exit_reported = 1;
			rt_log(s->h, RT_LOG_INFO, "the scheduler shut the cluster down (CLUSTER_EXIT)");
			srv_event(s, SRV_EV_EXIT);
		}
		return;
	}
	if (!in) {
		if (s->have_table && s->registered)
			become_removed(s);
		return;
	}
	s->have_table = 1;
	/* Past CLUSTER_STARTING the cluster has been complete once: a server that (re)joins later
	 * (a restart while another node is down, a scale-out) takes part at once. */
	if (strcmp(t->cluster_state, "CLUSTER_STARTING") != 0)
		s->cluster_ready_seen = 1;
	if (strncmp(t->cluster_state, "CLUSTER_SCALE", 13) != 0) {
		if (s->scale_pending) {
			rt_log(s->h, RT_LOG_INFO, "scaling finished: %zu servers", t->n);
			s->scale_pending = 0;
			s->scale_ready_sent = 0;
		}
	}
	if (t->leader_epoch != s->leader_epoch) {
		rt_log(s->h, RT_LOG_INFO, "leader epoch %llu: server %s leads", (unsigned long long)t->leader_epoch,
		       t->leader[0] ? t->leader : "of rank 0");
		/* what the old leader was counting for us is gone: in step with the new one again.
		 * A leader of an older epoch (cut off while the role moved on, and named again
		 * now) starts over too: its counters and history are from before the others'. */
		if (srv_is_leader(s))
			srv_leader_end(s);
		srv_fetch_cancel(s);
		srv_api_fail_pending(s, "the leader changed");
		s->join = SRV_JOIN_NONE;
		srv_update_ready(s);
	}
	s->leader_epoch = t->leader_epoch;
	s->failover = t->failover;
	srv_peers_apply_table(s, t);
	role_check(s);
}

static void sc_scale(void *data, const char *kind, const sched_table *next)
{
	srv *s = data;
	int in = 0;

	for (size_t i = 0; i < next->n; i++)
		if (strcmp(next->nodes[i].node_id, s->cfg.node_id) == 0)
			in = 1;
	rt_log(s->h, RT_LOG_INFO, "%s begins (%zu servers after it%s): entering safe mode", kind,
	       next->n, in ? "" : "; this one leaves");
	s->scale_pending = 1;
	s->scale_ready_sent = 0;
	s->safemode = 1;
	if (srv_is_leader(s))
		srv_leader_scale(s);
	else if (s->paused || s->join != SRV_JOIN_MEMBER)
		/* nothing in flight here (or no leader to wait for): ready at once */
		s->paused = 1;
	srv_maybe_scale_ready(s);
}

static int new_instance(srv *s, const cJSON *params, char *err, size_t errlen)
{
	srv_config c = s->cfg;
	flag_def defs[SRV_CONFIG_MAX_FLAGS];
	size_t n = srv_config_flags(&c, defs, SRV_CONFIG_MAX_FLAGS);

	if (cJSON_IsObject(params)) {
		int rc = flags_apply_json(defs, n, params, "newInstance", NULL, err, errlen);
		if (rc)
			return rc;
	}
	if (strcmp(c.model, s->cfg.model) != 0) {
		snprintf(err, errlen, "newInstance cannot change the model");
		return SRV_ECONFIG;
	}
	if (srv_config_validate(&c, err, errlen))
		return SRV_ECONFIG;
	s->cfg = c;
	s->update_thr = srv_config_update_threshold(&c);
	srv_fetch_cancel(s);
	srv_api_fail_pending(s, "new instance");
	srv_reset_iteration(s);
	srv_model *m0 = srv_initial_model(s);
	if (!m0)
		return RT_ENOMEM;
	srv_store_drop_after(&s->store, -1);
	srv_store_put(&s->store, 0, m0);
	srv_model_unref(m0);
	s->iteration = 1;
	s->instance_state = SRV_INST_RUNNING;
	srv_persist(s);
	if (srv_is_leader(s))
		srv_leader_instance(s, "newInstance");
	return 0;
}

static void sc_instance(void *data, const char *op, const cJSON *params)
{
	srv *s = data;
	char err[256] = "";
	int ok = 1;
	const char *msg = "";

	if (strcmp(op, "enableFLS") == 0) {
		if (s->instance_state == SRV_INST_FINISH) {
			ok = 0;
			msg = "The instance is completed. Please do not enabling server now.";
		} else {
			s->instance_state = SRV_INST_RUNNING;
			msg = "Enabling FL-Server succeeded.";
		}
	} else if (strcmp(op, "disableFLS") == 0) {
		if (s->instance_state == SRV_INST_FINISH) {
			ok = 0;
			msg = "The instance is completed. Please do not disabling server now.";
		} else {
			if (srv_is_leader(s))
				srv_leader_instance(s, op);
			s->instance_state = SRV_INST_DISABLE;
			msg = "Disabling FL-Server succeeded.";
		}
	} else if (strcmp(op, "newInstance") == 0) {
		if (new_instance(s, params, err, sizeof err)) {
			ok = 0;
			msg = err;
		} else {
			msg = "New FL-Server instance succeeded.";
		}
	} else {
		ok = 0;
		msg = "unknown instance operation";
	}
	rt_log(s->h, ok ? RT_LOG_INFO : RT_LOG_WARN, "%s: %s", op, msg);
	srv_persist(s);
	if (s->sc)
		sched_client_instance_done(s->sc, op, ok, msg);
}

static void sc_lost(void *data)
{
	srv *s = data;
	rt_log(s->h, RT_LOG_WARN, "the scheduler is silent: serving on and reconnecting");
}

static void sc_status(void *data, cJSON *st)
{
	srv *s = data;
	const srv_store_entry *l = srv_store_latest(&s->store);

	cJSON_AddNumberToObject(st, "iteration", (double)s->iteration);
	cJSON_AddStringToObject(st, "instance_state", srv_instance_name(s->instance_state));
	cJSON_AddNumberToObject(st, "last_committed", l ? (double)l->iter : -1);
	cJSON_AddBoolToObject(st, "safemode", s->safemode);
	cJSON_AddBoolToObject(st, "ready", s->join == SRV_JOIN_MEMBER);
	cJSON_AddBoolToObject(st, "leader", srv_is_leader(s));
}

static const sched_client_cbs sc_cbs = {
	.on_registered = sc_registered,
	.on_refused = sc_refused,
	.on_table = sc_table,
	.on_scale = sc_scale,
	.on_instance = sc_instance,
	.on_scheduler_lost = sc_lost,
	.fill_status = sc_status,
};

/* ---- life ---- */

static void tick(rt_timer *t, void *data)
{
	srv *s = data;
	uint64_t now = rt_now_ns(s->h);
	(void)t;

	if (s->removed)
		return;
	srv_peers_tick(s, now);
	srv_api_sweep(s, now);
	if (srv_is_leader(s))
		srv_leader_tick(s, now);
}

static void standalone_table(srv *s)
{
	sched_table *t = calloc(1, sizeof *t);

	if (!t)
		return;
	snprintf(t->cluster_state, sizeof t->cluster_state, "CLUSTER_READY");
	t->server_num = 1;
	t->n = 1;
	copy_str(t->nodes[0].node_id, sizeof t->nodes[0].node_id, s->cfg.node_id);
	snprintf(t->nodes[0].role, sizeof t->nodes[0].role, "SERVER");
	snprintf(t->nodes[0].ip, sizeof t->nodes[0].ip, "%s", rt_host_ip(s->h));
	t->nodes[0].port = s->inter_port;
	t->nodes[0].fl_server_port = (uint16_t)s->cfg.fl_server_port;
	t->nodes[0].alive = 1;
	s->registered = 1;
	sc_table(s, t);
	free(t);
}

static void instance_name(srv *s)
{
	time_t t = (time_t)(srv_now_ms(s) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(s->instance_name, sizeof s->instance_name, "%d-%d-%d-%d-%d-%d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int srv_new(rt_host *h, const srv_config *cfg, srv **out)
{
	char err[256];
	int rc;

	if (!h || !cfg || !out)
		return RT_EINVAL;
	if (srv_config_validate(cfg, err, sizeof err)) {
		rt_log(h, RT_LOG_ERROR, "invalid configuration: %s", err);
		return SRV_ECONFIG;
	}
	srv *s = calloc(1, sizeof *s);
	if (!s)
		return RT_ENOMEM;
	s->h = h;
	s->cfg = *cfg;
	model_def_parse(cfg->model, &s->def);
	s->update_thr = srv_config_update_threshold(cfg);
	s->nonce = rt_rand_u64(h) | 1;
	s->rank = -1;
	s->leader_peer = -1;
	s->prepared_iter = -1;
	s->iteration = 1;
	s->self = srv_peer_get(s, cfg->node_id);
	rc = RT_ENOMEM;
	if (s->self < 0 || srv_store_init(&s->store, (size_t)cfg->model_store_size))
		goto fail;
	s->peers[s->self].self = 1;
	s->acc = calloc(s->def.total, sizeof(float));
	s->tick = rt_timer_new(h, tick, s);
	s->mbox_timer = rt_timer_new(h, mbox_run, s);
	if (!s->acc || !s->tick || !s->mbox_timer || srv_iter_init(s))
		goto fail;
	if (cfg->recovery && (rc = srv_recover(s)) != 0)
		goto fail;
	if (!s->store.n) {
		srv_model *m0 = srv_initial_model(s);
		rc = RT_ENOMEM;
		if (!m0)
			goto fail;
		srv_store_put(&s->store, 0, m0);
		srv_model_unref(m0);
		s->iteration = 1;
		if ((rc = srv_persist(s)) != 0)
			goto fail;
	}
	s->iter_begin_ms = srv_now_ms(s);
	instance_name(s);
	if ((rc = srv_peers_listen(s)) != 0) {
		rt_log(h, RT_LOG_ERROR, "listening for servers on port %lld failed: %s",
		       (long long)cfg->server_inter_port, rt_strerror(rc));
		goto fail;
	}
	http_server_config hc = { .max_connections = (size_t)s->cfg.connection_num,
				  .tls = cfg->enable_ssl ? cfg->tls : NULL };
	if (cfg->enable_ssl && !cfg->tls) {
		rt_log(h, RT_LOG_ERROR, "enable_ssl is set but no certificate was loaded");
		rc = SRV_ECONFIG;
		goto fail;
	}
	hc.max_body_bytes = s->def.total * sizeof(float) + (1u << 20);
	/* an upload must arrive whole within this: 10 s, plus 1 s per 16 KiB of model for devices
	 * on slow links (lenet5: 25 s) */
	hc.header_timeout_ms = 10000 + (uint64_t)((s->def.total * sizeof(float)) >> 14) * 1000;
	rc = http_server_start(h, cfg->server_ip[0] ? cfg->server_ip : NULL,
			       (uint16_t)cfg->fl_server_port, &hc, srv_http_handler, s, &s->http);
	if (rc) {
		rt_log(h, RT_LOG_ERROR, "listening for devices on port %lld failed: %s",
		       (long long)cfg->fl_server_port, rt_strerror(rc));
		goto fail;
	}
	rt_timer_start(s->tick, TICK_MS, TICK_MS);
	if (cfg->scheduler_port == 0) {
		standalone_table(s);
	} else {
		sched_client_config sc = { 0 };
		copy_str(sc.node_id, sizeof sc.node_id, cfg->node_id);
		/* what the other servers dial: the advertised endpoint (a proxy's) or our listener */
		copy_str(sc.ip, sizeof sc.ip,
			 cfg->advertise_ip[0] ? cfg->advertise_ip
					      : cfg->server_ip[0] ? cfg->server_ip : rt_host_ip(h));
		sc.port = cfg->advertise_inter_port ? (uint16_t)cfg->advertise_inter_port
						    : s->inter_port;
		sc.fl_server_port = http_server_port(s->http);
		copy_str(sc.scheduler_ip, sizeof sc.scheduler_ip, cfg->scheduler_ip);
		sc.scheduler_port = (uint16_t)cfg->scheduler_port;
		sc.fl_iteration_num = cfg->fl_iteration_num;
		sc.is_recover = s->recovered;
		sc.pid = cfg->pid;
		sc.heartbeat_interval_ms = (uint64_t)cfg->heartbeat_interval;
		sc.node_timeout_ms = (uint64_t)cfg->node_timeout;
		sc.server_num = (int)cfg->server_num;
		if ((rc = sched_client_start(h, &sc, &sc_cbs, s, &s->sc)) != 0) {
			rt_log(h, RT_LOG_ERROR, "starting the scheduler client failed: %s",
			       rt_strerror(rc));
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	srv_destroy(s);
	return rc;
}

void srv_destroy(srv *s)
{
	if (!s)
		return;
	s->destroying = 1;
	if (s->sc)
		sched_client_stop(s->sc);
	s->sc = NULL;
	/* Unanswered requests die with the HTTP server; drop our handles on them first. */
	while (s->pend) {
		srv_pending *p = s->pend;
		s->pend = p->next;
		srv_pending_free(p);
	}
	if (s->http)
		http_server_stop(s->http);
	s->http = NULL;
	srv_peers_close(s);
	rt_timer_free(s->tick);
	rt_timer_free(s->mbox_timer);
	while (s->mbox) {
		struct srv_mail *m = s->mbox;
		s->mbox = m->next;
		free(m->meta);
		free(m->payload);
		free(m);
	}
	srv_ar_free(s);
	srv_fetch_cancel(s);
	srv_iter_free(s);
	srv_store_free(&s->store);
	free(s->disk_iters);
	free(s->disk_hashes);
	free(s->acc);
	free(s->peers);
	free(s);
}

void srv_get_status(const srv *s, srv_status *st)
{
	const srv_store_entry *l = srv_store_latest(&s->store);

	memset(st, 0, sizeof *st);
	st->ready = s->join == SRV_JOIN_MEMBER && !s->removed;
	st->leader = srv_is_leader(s);
	st->leader_epoch = s->leader_epoch;
	st->rank = s->rank;
	st->safemode = s->safemode;
	st->iteration = s->iteration;
	st->last_committed = l ? l->iter : -1;
	st->instance_state = srv_instance_name(s->instance_state);
	st->iterations_ok = s->iterations_ok;
	st->iterations_failed = s->iterations_failed;
	st->http_port = s->http ? http_server_port(s->http) : 0;
	st->inter_port = s->inter_port;
}

const float *srv_get_model(const srv *s, int64_t iteration, size_t *n, uint64_t *hash)
{
	srv_model *m = srv_store_get(&s->store, iteration);

	if (!m)
		return NULL;
	if (n)
		*n = m->n;
	if (hash)
		*hash = m->hash;
	return m->w;
}
