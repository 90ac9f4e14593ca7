/*
 * srv_count.c — counting. The counters of an iteration live on the leader (rank 0): the set of
 * fl_ids that passed startFLJob (with their data_size: the devices' metadata) and the set that
 * passed updateModel. Every server asks the leader before it answers SUCCEED (the leader asks
 * itself directly), and a server adds an upload to its weighted sum only when the leader's yes
 * arrives; the yes and the later aggregation order travel on the same link, so every counted
 * upload is in the sum before the all-reduce reads it.
 */
#include "srv_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- fl_id sets ---- */

static uint64_t fnv(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *k; k++) {
		h ^= (uint8_t)*k;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void srv_idset_clear(srv_idset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->keys[i]);
	set->n = 0;
	if (set->slots)
		for (size_t i = 0; i < set->cap; i++)
			set->slots[i] = -1;
}

void srv_idset_free(srv_idset *set)
{
	srv_idset_clear(set);
	free(set->slots);
	free(set->keys);
	free(set->vals);
	memset(set, 0, sizeof *set);
}

long srv_idset_find(const srv_idset *set, const char *key)
{
	if (!set->cap)
		return -1;
	for (size_t i = fnv(key) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		int32_t k = set->slots[i];
		if (k < 0)
			return -1;
		if (strcmp(set->keys[k], key) == 0)
			return k;
	}
}

static int idset_grow(srv_idset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 64;
	int32_t *slots = malloc(cap * sizeof *slots);

	if (!slots)
		return RT_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		slots[i] = -1;
	for (size_t k = 0; k < set->n; k++) {
		size_t i = fnv(set->keys[k]) & (cap - 1);
		while (slots[i] >= 0)
			i = (i + 1) & (cap - 1);
		slots[i] = (int32_t)k;
	}
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

int srv_idset_add(srv_idset *set, const char *key, int64_t val)
{
	if ((set->n + 1) * 2 > set->cap && idset_grow(set))
		return RT_ENOMEM;
	if (set->n == set->keys_cap) {
		size_t kc = set->keys_cap ? set->keys_cap * 2 : 64;
		char **keys = realloc(set->keys, kc * sizeof *keys);
		if (!keys)
			return RT_ENOMEM;
		set->keys = keys;
		int64_t *vals = realloc(set->vals, kc * sizeof *vals);
		if (!vals)
			return RT_ENOMEM;
		set->vals = vals;
		set->keys_cap = kc;
	}
	char *dup = strdup(key);
	if (!dup)
		return RT_ENOMEM;
	size_t i = fnv(key) & (set->cap - 1);
	while (set->slots[i] >= 0)
		i = (i + 1) & (set->cap - 1);
	set->slots[i] = (int32_t)set->n;
	set->keys[set->n] = dup;
	set->vals[set->n] = val;
	set->n++;
	return 0;
}

/* ---- the leader's counters ---- */

static void start_window(srv *s, rt_timer *t, int64_t ms)
{
	if (t && !rt_timer_active(t))
		rt_timer_start(t, (uint64_t)ms, 0);
}

int srv_leader_count(srv *s, int peer, int round, int64_t iter, const char *fl_id, int64_t ds,
		     int64_t *out_ds)
{
	long k;

	*out_ds = 0;
	if (s->phase == SRV_PH_NONE || s->phase == SRV_PH_GATHER || s->phase == SRV_PH_PAUSED ||
	    s->instance_state != SRV_INST_RUNNING)
		return SRV_CNT_BUSY;
	if (peer >= 0 && !s->peers[peer].member)
		return SRV_CNT_BUSY;
	/* Outside its lease the role may be someone else's already: what we counted could never
	 * be committed, so nothing is accepted (devices retry elsewhere). */
	if (!srv_lease_ok(s))
		return SRV_CNT_BUSY;
	if (round == SRV_ROUND_START) {
		if (iter != s->iteration)
			return SRV_CNT_ITER;
		if (s->phase != SRV_PH_RUN)
			return SRV_CNT_FULL;
		k = srv_idset_find(&s->starts, fl_id);
		if (k >= 0) {
			/* a device that asks again is counted once and answered alike */
			*out_ds = s->starts.vals[k];
			return SRV_CNT_OK;
		}
		if ((int64_t)s->starts.n >= s->cfg.start_fl_job_threshold)
			return SRV_CNT_FULL;
		if (srv_idset_add(&s->starts, fl_id, ds))
			return SRV_CNT_BUSY;
		*out_ds = ds;
		if (s->starts.n == 1) {
			/* the first count starts the round's window and the iteration's */
			s->first_count_ms = srv_now_ms(s);
			s->next_req_ms = s->first_count_ms + s->cfg.global_iteration_time_window;
			start_window(s, s->t_start, s->cfg.start_fl_job_time_window);
			start_window(s, s->t_global, s->cfg.global_iteration_time_window);
		}
		if ((int64_t)s->starts.n >= s->cfg.start_fl_job_threshold)
			rt_timer_stop(s->t_start);
		return SRV_CNT_OK;
	}
	/* updateModel */
	if (s->phase != SRV_PH_RUN || (int64_t)s->updates.n >= s->update_thr)
		return SRV_CNT_FULL;
	if (iter != s->iteration)
		return SRV_CNT_ITER;
	k = srv_idset_find(&s->starts, fl_id);
	if (k < 0)
		return SRV_CNT_NOMETA;
	if (srv_idset_find(&s->updates, fl_id) >= 0)
		return SRV_CNT_DUP;
	if (srv_idset_add(&s->updates, fl_id, s->starts.vals[k]))
		return SRV_CNT_BUSY;
	*out_ds = s->starts.vals[k];
	s->total_ds += (uint64_t)*out_ds;
	s->peers[peer >= 0 ? peer : s->self].accepted++;
	if (s->updates.n == 1)
		start_window(s, s->t_update, s->cfg.update_model_time_window);
	return SRV_CNT_OK;
}

static void check_threshold(srv *s)
{
	if (s->phase == SRV_PH_RUN && (int64_t)s->updates.n >= s->update_thr)
		srv_leader_threshold(s);
}

/* ---- asking the leader ---- */

void srv_pending_free(srv_pending *p)
{
	if (!p)
		return;
	free(p->weights);
	free(p);
}

void srv_accumulate(srv *s, const float *w, int64_t ds)
{
	fedavg_accumulate(s->acc, w, s->def.total, (float)ds);
	s->acc_ds += (uint64_t)ds;
	s->acc_n++;
}

void srv_count_submit(srv *s, srv_pending *p)
{
	int64_t ds = 0;

	if (srv_is_leader(s)) {
		int r = srv_leader_count(s, -1, p->round, p->iteration, p->fl_id, p->data_size, &ds);
		srv_api_count_done(s, p, r, s->iteration, ds, s->next_req_ms);
		srv_pending_free(p);
		check_threshold(s);
		return;
	}
	cJSON *m = cJSON_CreateObject();
	if (!m) {
		srv_api_count_done(s, p, SRV_CNT_BUSY, s->iteration, 0, 0);
		srv_pending_free(p);
		return;
	}
	p->id = ++s->next_pend_id;
	cJSON_AddNumberToObject(m, "id", (double)p->id);
	cJSON_AddStringToObject(m, "round", p->round == SRV_ROUND_START ? "startFLJob" : "updateModel");
	cJSON_AddNumberToObject(m, "iteration", (double)p->iteration);
	cJSON_AddStringToObject(m, "fl_id", p->fl_id);
	cJSON_AddNumberToObject(m, "data_size", (double)p->data_size);
	if (srv_send_leader(s, SRV_MSG_COUNT_REQ, m, NULL, 0) != 0) {
		srv_api_count_done(s, p, SRV_CNT_BUSY, s->iteration, 0, 0);
		srv_pending_free(p);
		return;
	}
	p->deadline_ns = rt_now_ns(s->h) + (uint64_t)s->cfg.sync_timeout * 1000000ULL;
	p->next = NULL;
	srv_pending **pp = &s->pend;
	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
}

void srv_on_count_req(srv *s, int peer, const cJSON *meta)
{
	const char *round = srv_json_str(meta, "round"), *fl_id = srv_json_str(meta, "fl_id");
	int64_t ds = 0;
	int r = SRV_CNT_BUSY;

	if (srv_is_leader(s) && round && fl_id) {
		int rd = strcmp(round, "startFLJob") == 0 ? SRV_ROUND_START : SRV_ROUND_UPDATE;
		r = srv_leader_count(s, peer, rd, srv_json_i64(meta, "iteration", -1), fl_id,
				     srv_json_i64(meta, "data_size", 0), &ds);
	}
	cJSON *m = cJSON_CreateObject();
	if (!m)
		return;
	cJSON_AddNumberToObject(m, "id", (double)srv_json_i64(meta, "id", 0));
	cJSON_AddNumberToObject(m, "result", r);
	cJSON_AddNumberToObject(m, "iteration", (double)s->iteration);
	cJSON_AddNumberToObject(m, "data_size", (double)ds);
	cJSON_AddNumberToObject(m, "next_req_time", (double)s->next_req_ms);
	srv_send(s, peer, SRV_MSG_COUNT_REP, m, NULL, 0);
	check_threshold(s);
}

void srv_on_count_rep(srv *s, const cJSON *meta)
{
	uint64_t id = (uint64_t)srv_json_i64(meta, "id", 0);
	srv_pending **pp = &s->pend;

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	if (!*pp)
		return; /* timed out already */
	srv_pending *p = *pp;
	*pp = p->next;
	srv_api_count_done(s, p, (int)srv_json_i64(meta, "result", SRV_CNT_BUSY),
			   srv_json_i64(meta, "iteration", s->iteration),
			   srv_json_i64(meta, "data_size", 0), srv_json_i64(meta, "next_req_time", 0));
	srv_pending_free(p);
}
