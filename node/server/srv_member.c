/*
 * srv_member.c — every server's side of the iteration machine (the leader's too, through its
 * mailbox): the per-iteration sums reset, PREPARE (safe mode, statistics), COMMIT (store the
 * all-reduce result, the previous model, or a copy fetched from the leader), END, and asking for
 * a fresh STATE when out of step. The leader's side is in srv_iter.c, which calls
 * srv_commit_local and srv_apply_end for its own commit.
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- every server: the per-iteration state and the commit ---- */

void srv_reset_iteration(srv *s)
{
	srv_ar_abort(s);
	if (s->acc)
		memset(s->acc, 0, s->def.total * sizeof(float));
	s->acc_ds = 0;
	s->acc_n = 0;
	memset(&s->st, 0, sizeof s->st);
	srv_model_unref(s->cand);
	s->cand = NULL;
	s->cand_iter = 0;
	s->prepared_iter = -1;
	s->iter_begin_ms = srv_now_ms(s);
}

void srv_commit_local(srv *s, int64_t c, srv_model *m, int valid, const char *reason)
{
	srv_store_put(&s->store, c, m);
	if (valid) {
		s->iterations_ok++;
		rt_log(s->h, RT_LOG_INFO, "Iteration %" PRId64 " is successfully finished (model %016"
		       PRIx64 ").", c, m->hash);
	} else {
		s->iterations_failed++;
		rt_log(s->h, RT_LOG_WARN, "Iteration %" PRId64 " is invalid. Reason: %s", c,
		       reason && reason[0] ? reason : "unknown");
	}
	s->iteration = c + 1;
	srv_reset_iteration(s);
	int finished = c >= s->cfg.fl_iteration_num && s->instance_state == SRV_INST_RUNNING;
	if (finished)
		s->instance_state = SRV_INST_FINISH;
	srv_persist(s);
	if (finished) {
		rt_log(s->h, RT_LOG_INFO, "The job reached fl_iteration_num %" PRId64 ": finished.",
		       (int64_t)s->cfg.fl_iteration_num);
		srv_event(s, SRV_EV_FINISHED);
	}
}

void srv_apply_end(srv *s, int hold)
{
	s->paused = hold;
	s->safemode = hold;
	if (hold)
		srv_maybe_scale_ready(s);
}

/* Ask the leader for a fresh STATE: we are out of step (missed a commit, a lost link). */
static void resync(srv *s)
{
	s->join = SRV_JOIN_NONE;
	srv_update_ready(s);
	srv_ask_state(s);
}

void srv_on_prepare(srv *s, int peer, const cJSON *meta)
{
	if (peer != s->leader_peer)
		return;
	if (!srv_json_i64(meta, "valid", 0))
		srv_ar_abort(s);
	if (srv_json_i64(meta, "iteration", -1) == s->iteration) {
		const char *why = srv_json_str(meta, "reason");
		s->prepared_iter = s->iteration;
		s->prepared_valid = (int)srv_json_i64(meta, "valid", 0);
		snprintf(s->prepared_reason, sizeof s->prepared_reason, "%s", why ? why : "");
	}
	s->safemode = 1;
	cJSON *m = cJSON_CreateObject();
	if (!m)
		return;
	cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
	cJSON_AddItemToObject(m, "stats", srv_stats_to_json(&s->st));
	srv_send(s, peer, SRV_MSG_PREPARE_OK, m, NULL, 0);
}

void srv_on_commit(srv *s, int peer, const cJSON *meta)
{
	int64_t c = srv_json_i64(meta, "iteration", -1);
	int valid = (int)srv_json_i64(meta, "valid", 0);
	uint64_t hash = srv_json_u64(meta, "hash");
	srv_model *m = NULL;

	if (peer != s->leader_peer || peer == s->self)
		return;
	if (c != s->iteration || s->join != SRV_JOIN_MEMBER) {
		rt_log(s->h, RT_LOG_WARN, "COMMIT of iteration %" PRId64 " while at %" PRId64
		       ": resyncing", c, s->iteration);
		resync(s);
		return;
	}
	const srv_store_entry *latest = srv_store_latest(&s->store);
	if (valid && s->cand && s->cand_iter == c && s->cand->hash == hash)
		m = s->cand;
	else if (!valid && latest && latest->iter == c - 1 && latest->m->hash == hash)
		m = latest->m;
	if (!m) {
		/* We lack the bytes (joined late, or the all-reduce broke here): the leader has them. */
		if (srv_fetch_start(s, peer, SRV_FETCH_COMMIT, &c, &hash, 1, cJSON_Duplicate(meta, 1)))
			resync(s);
		return;
	}
	srv_model_ref(m);
	srv_commit_local(s, c, m, valid, srv_json_str(meta, "reason"));
	srv_model_unref(m);
}

void srv_commit_fetched(srv *s, srv_model *m)
{
	cJSON *meta = s->fetch.state;
	int64_t c = srv_json_i64(meta, "iteration", -1);

	if (c != s->iteration) {
		resync(s);
		return;
	}
	srv_commit_local(s, c, m, (int)srv_json_i64(meta, "valid", 0), srv_json_str(meta, "reason"));
	if (s->end_pending) {
		s->end_pending = 0;
		srv_apply_end(s, s->end_hold);
	}
}

void srv_on_end(srv *s, int peer, const cJSON *meta)
{
	int hold = (int)srv_json_i64(meta, "hold", 0);

	if (peer != s->leader_peer || peer == s->self)
		return;
	if (s->fetch.active && s->fetch.purpose == SRV_FETCH_COMMIT) {
		s->end_pending = 1;
		s->end_hold = hold;
		return;
	}
	if (srv_json_i64(meta, "iteration", -1) != s->iteration) {
		resync(s);
		return;
	}
	srv_apply_end(s, hold);
}
