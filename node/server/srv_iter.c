/*
 * srv_iter.c — the iteration state machine.
 *
 * The leader (rank 0, or the server the scheduler names after a failover: sched.c's
 * sched_elect) runs it; every server (the leader too, through its mailbox) follows:
 *
 *   GATHER   a server that becomes leader (start, restart, takeover) waits for the HELLO of every
 *            live server, catches up on committed models it lacks, then sends STATE to all. If it
 *            restarted from recovery files or anyone reports activity in the current iteration,
 *            that iteration is declared invalid: the counts of the old leader are gone. Unless
 *            the old leader had already sent PREPARE for it: then the new one finishes that
 *            commit the same way (valid with the all-reduce result every member holds, or
 *            invalid), so a model the old leader may have committed is never contradicted.
 *   RUN      counting (srv_count.c). The first startFLJob starts its window and the global one;
 *            the first updateModel starts its window; a window that expires fails the iteration.
 *            The updateModel threshold starts the all-reduce.
 *   AGG      AGG to every member; each all-reduces its weighted sum (srv_allreduce.c) and answers
 *            AGG_DONE {hash, data size}. All hashes equal and the data size equal to what the
 *            leader counted: valid; anything else (a lost member, a timeout): invalid.
 *   PREPARE  PREPARE to every member: safe mode, answer PREPARE_OK with the iteration's client
 *            statistics.
 *   commit   the leader stores and persists the model first, appends iterations.jsonl, then sends
 *            COMMIT (members store it: the all-reduce result, or the previous model for an invalid
 *            iteration, or a copy fetched from the leader) and END (leave safe mode; with `hold`,
 *            stay paused for scaling).
 *
 * Because the leader commits before anyone else, no server ever holds a committed model the
 * leader lacks, and a restarted leader recovers the cluster's history from its own files.
 *
 * Failover (the table's `failover`): a leader commits, and leaves GATHER, only inside its lease
 * (sched_client_lease_until_ns): the scheduler hands the role on only after a node timeout of
 * silence, and the lease ends a heartbeat before that, so two leaders never both commit. Every
 * message between servers carries the leader epoch; one of another epoch is dropped.
 */
#include "srv_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000ULL

static void begin_prepare(srv *s);
static void finish_prepared(srv *s);

static uint64_t deadline(srv *s) { return rt_now_ns(s->h) + (uint64_t)s->cfg.sync_timeout * NS_PER_MS; }

static int targetable(const srv *s, int i)
{
	return i == s->self || (s->peers[i].member && srv_peer_up(s, i));
}

/* ---- timers ---- */

static void on_start_window(rt_timer *t, void *d)
{
	srv *s = d;
	(void)t;
	if (s->phase == SRV_PH_RUN)
		srv_leader_fail(s, "Round startFLJob timeout! This iteration is invalid. Proceed to next "
			       "iteration.");
}

static void on_update_window(rt_timer *t, void *d)
{
	srv *s = d;
	(void)t;
	if (s->phase == SRV_PH_RUN)
		srv_leader_fail(s, "Round updateModel timeout! This iteration is invalid. Proceed to "
			       "next iteration.");
}

static void on_global_window(rt_timer *t, void *d)
{
	srv *s = d;
	char why[160];
	(void)t;
	if (s->phase != SRV_PH_RUN)
		return;
	snprintf(why, sizeof why, "Global iteration %" PRId64 " timeout! This iteration is invalid. "
		 "Proceed to next iteration.", s->iteration);
	srv_leader_fail(s, why);
}

int srv_iter_init(srv *s)
{
	s->t_start = rt_timer_new(s->h, on_start_window, s);
	s->t_update = rt_timer_new(s->h, on_update_window, s);
	s->t_global = rt_timer_new(s->h, on_global_window, s);
	return s->t_start && s->t_update && s->t_global ? 0 : RT_ENOMEM;
}

static void stop_windows(srv *s)
{
	rt_timer_stop(s->t_start);
	rt_timer_stop(s->t_update);
	rt_timer_stop(s->t_global);
}

static void reset_counters(srv *s)
{
	stop_windows(s);
	srv_idset_clear(&s->starts);
	srv_idset_clear(&s->updates);
	s->total_ds = 0;
	s->first_count_ms = 0;
	s->next_req_ms = 0;
	s->valid = 1;
	s->reason[0] = '\0';
	memset(&s->agg_stats, 0, sizeof s->agg_stats);
	for (size_t i = 0; i < s->npeers; i++) {
		s->peers[i].accepted = 0;
		s->peers[i].in_ring = 0;
		s->peers[i].agg_done = 0;
		s->peers[i].prepared = -1;
	}
}

void srv_iter_free(srv *s)
{
	rt_timer_free(s->t_start);
	rt_timer_free(s->t_update);
	rt_timer_free(s->t_global);
	s->t_start = s->t_update = s->t_global = NULL;
	srv_idset_free(&s->starts);
	srv_idset_free(&s->updates);
	srv_model_unref(s->cand);
	s->cand = NULL;
}

/* ---- the leader ---- */

static void send_to_targets(srv *s, int type, const cJSON *meta, int include_self)
{
	for (size_t i = 0; i < s->npeers; i++) {
		if (!targetable(s, (int)i) || ((int)i == s->self && !include_self))
			continue;
		cJSON *m = cJSON_Duplicate(meta, 1);
		if (m)
			srv_send(s, (int)i, type, m, NULL, 0);
	}
}

void srv_leader_send_state(srv *s, int peer)
{
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return;
	cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
	cJSON_AddStringToObject(m, "instance_state", srv_instance_name(s->instance_state));
	cJSON_AddBoolToObject(m, "paused", s->phase == SRV_PH_PAUSED);
	srv_json_add_u64(m, "nonce", s->nonce);
	cJSON_AddNumberToObject(m, "iterations_ok", (double)s->iterations_ok);
	cJSON_AddNumberToObject(m, "iterations_failed", (double)s->iterations_failed);
	cJSON_AddItemToObject(m, "committed", srv_store_list_json(&s->store));
	srv_send(s, peer, SRV_MSG_STATE, m, NULL, 0);
}

void srv_leader_begin(srv *s)
{
	if (s->phase != SRV_PH_NONE)
		return;
	/* After a hand-over the followers' HELLOs are from before it: GATHER waits for a fresh
	 * report from each (SYNCED with `report`), whichever of its request or their own SYNCED
	 * gets through first (the table reaches us and them in no fixed order). */
	if (s->leader_epoch > 1)
		for (size_t i = 0; i < s->npeers; i++)
			if ((int)i != s->self && srv_peer_up(s, (int)i))
				srv_send(s, (int)i, SRV_MSG_REPORT_REQ, cJSON_CreateObject(), NULL, 0);
	rt_log(s->h, RT_LOG_INFO, "leader (rank %d, leader epoch %llu): taking the counting role at "
	       "iteration %" PRId64, s->rank, (unsigned long long)s->leader_epoch, s->iteration);
	reset_counters(s);
	s->phase = SRV_PH_GATHER;
	s->phase_deadline_ns = deadline(s);
	s->leader_nonce = s->nonce;
	srv_leader_gather_check(s);
}

void srv_leader_end(srv *s)
{
	if (s->phase == SRV_PH_NONE)
		return;
	rt_log(s->h, RT_LOG_INFO, "no longer the leader (leader epoch %llu): leaving the counting role",
	       (unsigned long long)s->leader_epoch);
	reset_counters(s);
	s->phase = SRV_PH_NONE;
	for (size_t i = 0; i < s->npeers; i++)
		s->peers[i].member = 0;
	s->join = SRV_JOIN_NONE;
	srv_update_ready(s);
}

static int64_t hello_latest(const cJSON *hello, const cJSON **list)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(hello, "committed"), *pair;
	int64_t best = -1;

	*list = c;
	cJSON_ArrayForEach(pair, c) {
		const cJSON *ji = cJSON_GetArrayItem(pair, 0);
		if (cJSON_IsNumber(ji) && (int64_t)ji->valuedouble > best)
			best = (int64_t)ji->valuedouble;
	}
	return best;
}

static void pause_now(srv *s)
{
	cJSON *m = cJSON_CreateObject();

	s->phase = SRV_PH_PAUSED;
	s->phase_deadline_ns = deadline(s);
	if (m) {
		cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
		cJSON_AddBoolToObject(m, "hold", 1);
		send_to_targets(s, SRV_MSG_END, m, 0);
		cJSON_Delete(m);
	}
	srv_apply_end(s, 1);
}

void srv_leader_gather_check(srv *s)
{
	uint64_t now = rt_now_ns(s->h);
	/* After a hand-over (leader epoch > 1) the old leader may have accepted uploads on its own
	 * device API that nobody else knows of: the iteration in flight cannot be completed. */
	int waiting = 0, invalidate = s->recovered || s->acc_n > 0 || s->st.start.accept > 0 ||
				      s->leader_epoch > 1;

	if (s->phase != SRV_PH_GATHER || s->fetch.active)
		return;
	if (!srv_lease_ok(s)) {
		s->phase_deadline_ns = now + (uint64_t)s->cfg.heartbeat_interval * NS_PER_MS;
		return; /* the role may already be someone else's: wait for the lease or a new table */
	}
	for (size_t i = 0; i < s->npeers; i++)
		if ((int)i != s->self && s->peers[i].in_table && s->peers[i].alive &&
		    (!srv_peer_up(s, (int)i) ||
		     (s->leader_epoch > 1 && s->peers[i].report_epoch != s->leader_epoch)))
			waiting++;
	if (waiting && now < s->phase_deadline_ns)
		return;
	/* Catch up on history a follower has and we lack (we lost our disk, or never had one). */
	const srv_store_entry *mine = srv_store_latest(&s->store);
	int64_t my_latest = mine ? mine->iter : -1, best = my_latest;
	int best_peer = -1;
	for (size_t i = 0; i < s->npeers; i++) {
		const cJSON *list;
		if ((int)i == s->self || !srv_peer_up(s, (int)i) || !s->peers[i].hello)
			continue;
		int64_t l = hello_latest(s->peers[i].hello, &list);
		if (l > best) {
			best = l;
			best_peer = (int)i;
		}
	}
	if (best_peer >= 0) {
		const cJSON *list, *pair;
		hello_latest(s->peers[best_peer].hello, &list);
		int64_t iters[SCHED_MAX_NODES];
		uint64_t hashes[SCHED_MAX_NODES];
		size_t n = 0;
		cJSON_ArrayForEach(pair, list) {
			int64_t it = (int64_t)cJSON_GetArrayItem(pair, 0)->valuedouble;
			const cJSON *h = cJSON_GetArrayItem(pair, 1);
			if (it > my_latest && n < SCHED_MAX_NODES && cJSON_IsString(h)) {
				iters[n] = it;
				hashes[n++] = strtoull(h->valuestring, NULL, 16);
			}
		}
		rt_log(s->h, RT_LOG_WARN, "leader: server %s holds committed models up to %" PRId64
		       " (we have %" PRId64 "): catching up", s->peers[best_peer].node_id, best,
		       my_latest);
		if (n && srv_fetch_start(s, best_peer, SRV_FETCH_CATCHUP, iters, hashes, n, NULL) == 0)
			return;
	}
	for (size_t i = 0; i < s->npeers; i++)
		if ((int)i != s->self && srv_peer_up(s, (int)i) && s->peers[i].active &&
		    s->peers[i].iteration == s->iteration)
			invalidate = 1;
	s->recovered = 0;
	s->phase = SRV_PH_RUN;
	s->join = SRV_JOIN_MEMBER;
	s->peers[s->self].member = 1;
	s->safemode = 0;
	s->paused = 0;
	for (size_t i = 0; i < s->npeers; i++)
		if ((int)i != s->self && srv_peer_up(s, (int)i))
			srv_leader_send_state(s, (int)i);
	rt_log(s->h, RT_LOG_INFO, "leader: running iteration %" PRId64 "%s", s->iteration,
	       invalidate ? " (the iteration in progress before us is invalid)" : "");
	srv_update_ready(s);
	if (s->instance_state == SRV_INST_FINISH)
		return;
	if (s->prepared_iter == s->iteration && !s->recovered)
		finish_prepared(s);
	else if (invalidate)
		srv_leader_fail(s, "The counting role was rebuilt (leader start or takeover); the "
			       "iteration in progress is invalid. Proceed to next iteration.");
	else if (s->hold || s->scale_pending)
		pause_now(s);
}

/* The previous leader prepared this iteration: commit it as it would have (see the top). */
static void finish_prepared(srv *s)
{
	int valid = s->prepared_valid && s->cand && s->cand_iter == s->iteration;
	rt_log(s->h, RT_LOG_WARN, "leader: iteration %" PRId64 " was prepared by the previous leader "
	       "(%s): finishing its commit", s->iteration, valid ? "valid" : "invalid");
	s->valid = valid;
	snprintf(s->reason, sizeof s->reason, "%s", valid ? "" : s->prepared_reason[0] ?
		 s->prepared_reason : "The previous leader was lost during the commit.");
	srv_peer *me = &s->peers[s->self];
	me->in_ring = me->agg_done = 1;
	me->agg_hash = s->cand ? s->cand->hash : 0;
	begin_prepare(s);
}

static void begin_prepare(srv *s)
{
	cJSON *m = cJSON_CreateObject();

	stop_windows(s);
	s->phase = SRV_PH_PREPARE;
	s->phase_deadline_ns = deadline(s);
	memset(&s->agg_stats, 0, sizeof s->agg_stats);
	for (size_t i = 0; i < s->npeers; i++)
		s->peers[i].prepared = targetable(s, (int)i) ? 0 : -1;
	if (!m)
		return;
	cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
	cJSON_AddBoolToObject(m, "valid", s->valid);
	cJSON_AddStringToObject(m, "reason", s->reason);
	send_to_targets(s, SRV_MSG_PREPARE, m, 1);
	cJSON_Delete(m);
}

void srv_leader_fail(srv *s, const char *reason)
{
	if (s->phase != SRV_PH_RUN && s->phase != SRV_PH_AGG && s->phase != SRV_PH_PREPARE)
		return;
	if (s->valid) {
		s->valid = 0;
		snprintf(s->reason, sizeof s->reason, "%s", reason);
		rt_log(s->h, RT_LOG_WARN, "iteration %" PRId64 ": %s", s->iteration, reason);
	}
	if (s->phase == SRV_PH_AGG)
		srv_ar_abort(s);
	if (s->phase != SRV_PH_PREPARE)
		begin_prepare(s);
}

/* Ring order: by rank, then node id (ranks are unique in a table; the tie-break only keeps the
 * order total while a table is changing). */
static int rank_before(const srv *s, int x, int y)
{
	int rx = x == s->self ? s->rank : s->peers[x].rank;
	int ry = y == s->self ? s->rank : s->peers[y].rank;

	if (rx != ry)
		return rx < ry;
	return strcmp(s->peers[x].node_id, s->peers[y].node_id) < 0;
}

void srv_leader_threshold(srv *s)
{
	int order[SCHED_MAX_NODES];
	size_t n = 0;
	char why[160];

	if (s->phase != SRV_PH_RUN)
		return;
	stop_windows(s);
	rt_log(s->h, RT_LOG_INFO, "Round updateModel finished! %zu updates, data size %" PRIu64
	       ": aggregating iteration %" PRId64, s->updates.n, s->total_ds, s->iteration);
	for (size_t i = 0; i < s->npeers; i++) {
		s->peers[i].in_ring = 0;
		s->peers[i].agg_done = 0;
		if (targetable(s, (int)i) && n < SCHED_MAX_NODES)
			order[n++] = (int)i;
		else if (s->peers[i].accepted > 0) {
			snprintf(why, sizeof why, "Server %s holds accepted updates but is unreachable. "
				 "This iteration is invalid.", s->peers[i].node_id);
			srv_leader_fail(s, why);
			return;
		}
	}
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && rank_before(s, order[b], order[b - 1]); b--) {
			int t = order[b];
			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	cJSON *m = cJSON_CreateObject(), *mem = cJSON_CreateArray();
	if (!m || !mem) {
		cJSON_Delete(m);
		cJSON_Delete(mem);
		srv_leader_fail(s, "out of memory");
		return;
	}
	for (size_t k = 0; k < n; k++) {
		s->peers[order[k]].in_ring = 1;
		cJSON_AddItemToArray(mem, cJSON_CreateString(s->peers[order[k]].node_id));
	}
	s->agg_gen = rt_rand_u64(s->h) | 1;
	s->phase = SRV_PH_AGG;
	s->phase_deadline_ns = deadline(s);
	cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
	srv_json_add_u64(m, "gen", s->agg_gen);
	cJSON_AddItemToObject(m, "members", mem);
	cJSON_AddNumberToObject(m, "chunk", (double)s->cfg.allreduce_chunk);
	for (size_t k = 0; k < n; k++)
		srv_send(s, order[k], SRV_MSG_AGG, cJSON_Duplicate(m, 1), NULL, 0);
	cJSON_Delete(m);
}

void srv_leader_on_agg_done(srv *s, int peer, const cJSON *meta)
{
	char why[200];

	if (s->phase != SRV_PH_AGG || srv_json_u64(meta, "gen") != s->agg_gen ||
	    !s->peers[peer].in_ring || s->peers[peer].agg_done)
		return;
	srv_peer *p = &s->peers[peer];
	p->agg_done = 1;
	p->agg_ok = (int)srv_json_i64(meta, "ok", 0);
	p->agg_hash = srv_json_u64(meta, "hash");
	p->agg_ds = (uint64_t)srv_json_i64(meta, "ds", 0);
	if (!p->agg_ok) {
		snprintf(why, sizeof why, "The all-reduce failed on server %s. This iteration is "
			 "invalid.", p->node_id);
		srv_leader_fail(s, why);
		return;
	}
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].in_ring && !s->peers[i].agg_done)
			return;
	for (size_t i = 0; i < s->npeers; i++) {
		if (!s->peers[i].in_ring)
			continue;
		if (s->peers[i].agg_hash != p->agg_hash || s->peers[i].agg_ds != s->total_ds) {
			snprintf(why, sizeof why, "Aggregation mismatch: server %s has model %016" PRIx64
				 " over data size %" PRIu64 ", expected %016" PRIx64 " over %" PRIu64 ".",
				 s->peers[i].node_id, s->peers[i].agg_hash, s->peers[i].agg_ds,
				 p->agg_hash, s->total_ds);
			srv_leader_fail(s, why);
			return;
		}
	}
	rt_log(s->h, RT_LOG_INFO, "Round updateModel finished! This iteration is valid. Proceed to "
	       "next iteration.");
	begin_prepare(s);
}

static void do_commit(srv *s)
{
	if (!srv_lease_ok(s)) {
		/* leader_tick tries again at the deadline; a new table may end the role first */
		s->phase_deadline_ns = rt_now_ns(s->h) + (uint64_t)s->cfg.heartbeat_interval * NS_PER_MS;
		return;
	}
	int64_t c = s->iteration;
	int valid = s->valid;
	uint64_t ah = 0;
	srv_model *m = NULL;

	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].in_ring && s->peers[i].agg_done)
			ah = s->peers[i].agg_hash;
	if (valid) {
		if (s->cand && s->cand_iter == c && s->cand->hash == ah)
			m = srv_model_ref(s->cand);
		else {
			valid = 0;
			snprintf(s->reason, sizeof s->reason, "The leader lacks the aggregated model.");
		}
	}
	if (!m) {
		const srv_store_entry *l = srv_store_latest(&s->store);
		m = srv_model_ref(l->m);
	}
	int64_t start = s->first_count_ms ? s->first_count_ms : s->iter_begin_ms;
	srv_iter_stats agg = s->agg_stats;
	char reason[SRV_REASON_MAX];
	snprintf(reason, sizeof reason, "%s", s->reason);
	srv_commit_local(s, c, m, valid, reason);
	srv_metrics_iteration(s, c, valid, &agg, start, srv_now_ms(s));

	cJSON *cm = cJSON_CreateObject(), *em = cJSON_CreateObject();
	if (cm && em) {
		cJSON_AddNumberToObject(cm, "iteration", (double)c);
		cJSON_AddBoolToObject(cm, "valid", valid);
		srv_json_add_u64(cm, "hash", m->hash);
		cJSON_AddStringToObject(cm, "reason", reason);
		cJSON_AddNumberToObject(em, "iteration", (double)s->iteration);
		cJSON_AddBoolToObject(em, "hold", s->hold || s->scale_pending);
		send_to_targets(s, SRV_MSG_COMMIT, cm, 0);
		send_to_targets(s, SRV_MSG_END, em, 0);
	}
	cJSON_Delete(cm);
	cJSON_Delete(em);
	srv_model_unref(m);
	reset_counters(s);
	if (s->hold || s->scale_pending) {
		s->phase = SRV_PH_PAUSED;
		s->phase_deadline_ns = deadline(s);
		srv_apply_end(s, 1);
	} else {
		s->phase = SRV_PH_RUN;
		srv_apply_end(s, 0);
	}
}

static void check_prepared(srv *s)
{
	if (s->phase != SRV_PH_PREPARE)
		return;
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].prepared == 0)
			return;
	do_commit(s);
}

void srv_leader_on_prepare_ok(srv *s, int peer, const cJSON *meta)
{
	if (s->phase != SRV_PH_PREPARE || s->peers[peer].prepared != 0)
		return;
	s->peers[peer].prepared = 1;
	if (srv_json_i64(meta, "iteration", -1) == s->iteration)
		srv_stats_add_json(&s->agg_stats, cJSON_GetObjectItemCaseSensitive(meta, "stats"));
	check_prepared(s);
}

static void try_resume(srv *s)
{
	if (s->phase != SRV_PH_PAUSED || s->scale_pending)
		return;
	int waiting = 0;
	for (size_t i = 0; i < s->npeers; i++)
		if ((int)i != s->self && s->peers[i].in_table && s->peers[i].alive &&
		    !s->peers[i].member)
			waiting++;
	if (waiting && rt_now_ns(s->h) < s->phase_deadline_ns)
		return;
	cJSON *m = cJSON_CreateObject();
	s->hold = 0;
	s->phase = SRV_PH_RUN;
	if (m) {
		cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
		cJSON_AddBoolToObject(m, "hold", 0);
		send_to_targets(s, SRV_MSG_END, m, 0);
		cJSON_Delete(m);
	}
	rt_log(s->h, RT_LOG_INFO, "leader: resuming at iteration %" PRId64 " after scaling",
	       s->iteration);
	srv_apply_end(s, 0);
}

void srv_leader_on_peer_up(srv *s, int peer)
{
	if (s->phase == SRV_PH_GATHER) {
		srv_leader_gather_check(s);
		return;
	}
	if (s->phase != SRV_PH_NONE)
		srv_leader_send_state(s, peer);
}

void srv_leader_on_peer_down(srv *s, int peer)
{
	srv_peer *p = &s->peers[peer];
	char why[200];
	int was = p->member;

	p->member = 0;
	switch (s->phase) {
	case SRV_PH_GATHER:
		srv_leader_gather_check(s);
		break;
	case SRV_PH_RUN:
		if (was && p->accepted > 0) {
			snprintf(why, sizeof why, "Server %s holding accepted updates was lost. This "
				 "iteration is invalid. Proceed to next iteration.", p->node_id);
			srv_leader_fail(s, why);
		}
		break;
	case SRV_PH_AGG:
		if (p->in_ring) {
			snprintf(why, sizeof why, "Server %s was lost during the all-reduce. This "
				 "iteration is invalid. Proceed to next iteration.", p->node_id);
			srv_leader_fail(s, why);
		}
		break;
	case SRV_PH_PREPARE:
		if (p->prepared == 0) {
			p->prepared = -1;
			check_prepared(s);
		}
		break;
	case SRV_PH_PAUSED:
		try_resume(s);
		break;
	default:
		break;
	}
}

void srv_leader_on_synced(srv *s, int peer, const cJSON *meta)
{
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(meta, "report");
	if (cJSON_IsObject(rep)) { /* its state now, as a HELLO would say it */
		srv_peer *p = &s->peers[peer];
		cJSON_Delete(p->hello);
		p->hello = cJSON_Duplicate(rep, 1);
		p->iteration = srv_json_i64(rep, "iteration", p->iteration);
		p->active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "active"));
		p->report_epoch = s->leader_epoch;
	}
	if (s->phase == SRV_PH_GATHER)
		srv_leader_gather_check(s);
	if (s->phase == SRV_PH_NONE || s->phase == SRV_PH_GATHER)
		return;
	if (srv_json_i64(meta, "iteration", -1) != s->iteration) {
		s->peers[peer].member = 0;
		srv_leader_send_state(s, peer);
		return;
	}
	s->peers[peer].member = 1;
	s->peers[peer].accepted = 0;
	s->peers[peer].prepared = -1;
	if (s->phase == SRV_PH_PAUSED)
		try_resume(s);
}

void srv_leader_tick(srv *s, uint64_t now)
{
	if (now < s->phase_deadline_ns)
		return;
	switch (s->phase) {
	case SRV_PH_GATHER:
		srv_leader_gather_check(s);
		break;
	case SRV_PH_AGG:
		srv_leader_fail(s, "The all-reduce timed out. This iteration is invalid. Proceed to "
			       "next iteration.");
		break;
	case SRV_PH_PREPARE:
		if (!srv_lease_ok(s)) {
			s->phase_deadline_ns = now + (uint64_t)s->cfg.heartbeat_interval * NS_PER_MS;
			break;
		}
		rt_log(s->h, RT_LOG_WARN, "leader: not every server prepared in time; committing");
		do_commit(s);
		break;
	case SRV_PH_PAUSED:
		try_resume(s);
		break;
	default:
		break;
	}
}

void srv_leader_scale(srv *s)
{
	s->hold = 1;
	if (s->phase == SRV_PH_RUN) {
		if (s->starts.n || s->updates.n || s->acc_n)
			srv_leader_fail(s, "The cluster is scaling: the iteration in progress is "
				       "abandoned. Proceed to next iteration.");
		else
			pause_now(s);
	} else if (s->phase == SRV_PH_PAUSED) {
		srv_apply_end(s, 1);
	}
}

void srv_leader_table(srv *s)
{
	if (s->phase == SRV_PH_PAUSED && !s->scale_pending) {
		s->phase_deadline_ns = deadline(s);
		try_resume(s);
	} else if (s->phase == SRV_PH_GATHER) {
		srv_leader_gather_check(s);
	}
}

void srv_leader_instance(srv *s, const char *op)
{
	if (strcmp(op, "disableFLS") == 0 && s->phase == SRV_PH_RUN &&
	    (s->starts.n || s->updates.n))
		srv_leader_fail(s, "Forcibly move to next iteration.");
	if (strcmp(op, "newInstance") == 0) {
		reset_counters(s);
		if (s->phase != SRV_PH_GATHER && s->phase != SRV_PH_NONE)
			s->phase = SRV_PH_RUN;
	}
}
