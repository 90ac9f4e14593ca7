/*
 * test_fleet.c — the device fleet (sim/fleet/fleet.h) against scripted device-API servers on the
 * deterministic backend: every retcode path, next_req_time, SucNotReady polling, the replay
 * check, fail-over at server death, timeouts, availability, dropout, resizing, batched training,
 * determinism and memory. The servers, observers and fixture are in fleet_fixture.h.
 */
#include "fleet_fixture.h"

/* ---- tests ---- */

/* The whole flow, three rounds, twice, with the training plug and every observer. */
START_TEST(succeed_flow)
{
	T *t = setup(1, normal);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	c.train = train;
	c.train_ctx = t;
	start_fleet(t, &c, 1);
	run_ms(t, 4000);
	/* start, update, get (SucNotReady never: threshold 1 commits at once), start, ... */
	ck_assert_int_ge(t->nrec, 4);
	ck_assert_int_eq(t->recs[0].round, FLEET_START);
	ck_assert_int_eq(t->recs[1].round, FLEET_UPDATE);
	ck_assert_int_eq(t->recs[2].round, FLEET_GET);
	ck_assert_int_eq(t->recs[3].round, FLEET_START);
	ck_assert_int_eq(t->recs[1].iteration, 1);
	ck_assert_int_eq(t->recs[2].iteration, 1);
	/* the plan reached the training plug, which started from the served model */
	ck_assert_int_ge(t->n_train, 1);
	ck_assert_int_eq(t->train_epochs, 2);
	ck_assert_int_eq(t->train_batch, 16);
	ck_assert_float_eq(t->train_lr, 0.5f);
	ck_assert_float_eq(t->recs[1].w0, 0.0f + 0.5f * 1);
	/* the observer saw exactly the upload the server got, and the served model */
	ck_assert_int_ge(t->n_upd_obs, 1);
	ck_assert_uint_eq(t->upd_obs_hash, last_upload_hash(t));
	ck_assert_int_eq(t->n_upd_obs, count(t, FLEET_UPDATE, -1));
	ck_assert_int_ge(t->n_model_obs, 1);
	ck_assert_int_ge(t->model_obs_iter, 1);
	ck_assert_int_le(t->model_obs_iter, t->model_iter);
	ck_assert_float_eq(t->model_obs[3], 3.0f + (float)t->model_obs_iter);
	fleet_stats st = stats(t);
	ck_assert_uint_ge(st.ok[FLEET_START], 2);
	ck_assert_uint_eq(st.ok[FLEET_UPDATE], st.updates_accepted);
	ck_assert_uint_ge(st.ok[FLEET_GET], 1);
	ck_assert_uint_eq(st.conn_errors, 0);
	ck_assert_uint_eq(st.time_rejected, 0);
	ck_assert_int_eq(t->n_neg, 0);
	/* the second iteration trained on the committed model */
	ck_assert_int_ge(t->n_train, 2);
	ck_assert_float_eq(t->train_w0[0], 0.0f);
	ck_assert_float_eq(t->train_w0[1], 1.0f);
	teardown(t);
}
END_TEST

/* Synthetic training: the upload is a pure function of (seed, device, iteration). */
START_TEST(synthetic_upload)
{
	uint64_t h[2];
	for (int k = 0; k < 2; k++) {
		T *t = setup(1, normal);
		fleet_config c;
		fleet_cfg(t, &c, 1, 7);
		start_fleet(t, &c, 1);
		run_ms(t, 1500 + 700 * (uint64_t)k); /* different timing, same upload */
		ck_assert_int_ge(count(t, FLEET_UPDATE, 0), 1);
		ck_assert_int_eq(t->recs[1].round, FLEET_UPDATE);
		ck_assert_uint_eq(t->upd_obs_hash, last_upload_hash(t));
		h[k] = t->recs[1].hash;
		teardown(t);
	}
	ck_assert_uint_eq(h[0], h[1]);
}
END_TEST

/* Synthetic uploads are one shared direction times a per-(device, iteration) scale in
 * [0.5, 1.5): any two are proportional, with a ratio in (1/3, 3), and not all equal. */
START_TEST(synthetic_shared_direction)
{
	T *t = setup(1, normal);
	fleet_config c;
	fleet_cfg(t, &c, 3, 7);
	start_fleet(t, &c, 1);
	run_ms(t, 6000);
	ck_assert_int_ge(t->n_upd_obs, 2);
	double ratio = 0;
	int differ = 0;
	for (int i = 0; i < NPARAM; i++) {
		ck_assert(t->upd_first[i] != 0.0f);
		ck_assert(fabsf(t->upd_first[i]) <= 0.015f);
		double r = (double)t->upd_last[i] / (double)t->upd_first[i];
		if (i == 0)
			ratio = r;
		ck_assert(fabs(r - ratio) < 1e-5 * fabs(ratio));
		differ |= t->upd_last[i] != t->upd_first[i];
	}
	ck_assert(ratio > 1.0 / 3 && ratio < 3);
	ck_assert(differ || t->n_upd_obs == 1);
	teardown(t);
}
END_TEST

/* OutOfTime: the next startFLJob waits until next_req_time on the device's (skewed) clock. */
static void oot_script(T *t, int server, http_request *r, const rec *rc)
{
	if (rc->round == FLEET_START && t->k++ == 0) {
		t->next_req = rt_wall_ms(t->srv[server].h) + 5000;
		answer(r, 300, "Current amount for startFLJob has reached the threshold.", 1,
		       t->next_req, NULL, -1, 0);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(out_of_time_next_req_time)
{
	T *t = setup(1, oot_script);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	c.clock_skew_ms = (fleet_dist){FLEET_FIXED, 1500, 0}; /* device clock 1.5 s ahead */
	start_fleet(t, &c, 1);
	run_ms(t, 1200);
	ck_assert_int_eq(t->nrec, 1);
	ck_assert_int_eq(t->last_retcode, 300);
	run_ms(t, 2000); /* 3.5 s on the server clock have not passed yet */
	ck_assert_int_eq(t->nrec, 1);
	run_ms(t, 3000);
	ck_assert_int_ge(t->nrec, 2);
	ck_assert_int_eq(t->recs[1].round, FLEET_START);
	/* no earlier than next_req_time by the device's clock, and not much later */
	ck_assert_int_ge(t->recs[1].ts, t->next_req);
	ck_assert_int_le(t->recs[1].ts, t->next_req + 1100);
	/* the timestamp is the device's clock: the server's (virtual) time plus the skew */
	int64_t diff = t->recs[1].ts - 1500 - (int64_t)(t->recs[1].t_ns / MS) - RT_SIM_EPOCH_MS;
	ck_assert_int_le(diff < 0 ? -diff : diff, 1);
	fleet_stats st = stats(t);
	ck_assert_uint_eq(st.rejected[FLEET_START], 1);
	ck_assert_uint_eq(st.conn_errors, 0);
	teardown(t);
}
END_TEST

/* OutOfTime on updateModel (iteration moved on): drop the upload, start over. */
static void oot_update_script(T *t, int server, http_request *r, const rec *rc)
{
	if (rc->round == FLEET_UPDATE && t->k++ == 0) {
		t->iter++;
		t->next_req = rt_wall_ms(t->srv[server].h) + 2000;
		answer(r, 300, "UpdateModel iteration number is invalid", t->iter, t->next_req,
		       NULL, -1, 0);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(out_of_time_update)
{
	T *t = setup(1, oot_update_script);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	start_fleet(t, &c, 1);
	run_ms(t, 6000);
	ck_assert_int_ge(t->nrec, 4);
	ck_assert_int_eq(t->recs[1].round, FLEET_UPDATE);
	ck_assert_int_eq(t->recs[2].round, FLEET_START);
	ck_assert_int_ge(t->recs[2].ts, t->next_req);
	ck_assert_int_eq(t->recs[3].round, FLEET_UPDATE);
	ck_assert_int_eq(t->recs[3].iteration, 2);
	ck_assert_int_eq(t->n_upd_obs, count(t, FLEET_UPDATE, 0) - 1); /* only accepted ones */
	teardown(t);
}
END_TEST

/* A next_req_time an hour away (the end of a global iteration window): OutOfTime waits only
 * max_wait_ms; SucNotReady on getModel polls again within a second and a half. */
static void far_script(T *t, int server, http_request *r, const rec *rc)
{
	int64_t hour = rt_wall_ms(t->srv[server].h) + 3600 * 1000;
	if (rc->round == FLEET_START && t->k == 0) {
		t->k = 1;
		answer(r, 300, "Current amount for startFLJob has reached the threshold.", 1, hour,
		       NULL, -1, 0);
		return;
	}
	if (rc->round == FLEET_GET && t->k == 1) {
		t->k = 2;
		answer(r, 201, "The model is not ready yet", t->iter, hour, NULL, -1, 0);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(far_next_req_time)
{
	T *t = setup(1, far_script);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	c.max_wait_ms = 20000;
	start_fleet(t, &c, 1);
	run_ms(t, 30000);
	ck_assert_int_ge(t->nrec, 5);
	ck_assert_int_eq(t->recs[1].round, FLEET_START);
	uint64_t gap = t->recs[1].t_ns - t->recs[0].t_ns;
	ck_assert_uint_ge(gap, 20000 * MS);
	ck_assert_uint_le(gap, 21100 * MS);
	ck_assert_int_eq(t->recs[3].round, FLEET_GET);
	ck_assert_int_eq(t->recs[4].round, FLEET_GET);
	gap = t->recs[4].t_ns - t->recs[3].t_ns;
	ck_assert_uint_ge(gap, 1000 * MS);
	ck_assert_uint_le(gap, 1600 * MS);
	teardown(t);
}
END_TEST

/* SucNotReady on getModel: polled again (same iteration) at next_req_time until ready. */
static void snr_script(T *t, int server, http_request *r, const rec *rc)
{
	if (rc->round == FLEET_GET && t->k < 3) {
		t->k++;
		t->next_req = rt_wall_ms(t->srv[server].h) + 400;
		answer(r, 201, "The model is not ready yet", t->iter, t->next_req, NULL, -1, 0);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(suc_not_ready_polls)
{
	T *t = setup(1, snr_script);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	start_fleet(t, &c, 1);
	run_ms(t, 5000);
	ck_assert_int_ge(t->nrec, 7);
	for (int i = 2; i < 6; i++) {
		ck_assert_int_eq(t->recs[i].round, FLEET_GET);
		ck_assert_int_eq(t->recs[i].iteration, 1);
		if (i > 2)
			ck_assert_uint_ge(t->recs[i].t_ns - t->recs[i - 1].t_ns, 399 * MS);
	}
	ck_assert_int_eq(t->recs[6].round, FLEET_START);
	fleet_stats st = stats(t);
	ck_assert_uint_eq(st.rejected[FLEET_GET], 3);
	ck_assert_uint_ge(st.ok[FLEET_GET], 1);
	ck_assert_int_eq(t->n_model_obs, (int)st.ok[FLEET_GET]);
	teardown(t);
}
END_TEST

/* The replay check: a device whose clock is 20 min off is rejected (RequestError, counted in
 * time_rejected); one with a right clock is not; other RequestErrors are not time rejections. */
static void replay_script(T *t, int server, http_request *r, const rec *rc)
{
	int64_t now = rt_wall_ms(t->srv[server].h), d = rc->ts - now;
	if (d < 0)
		d = -d;
	if (d > 10 * 60 * 1000) {
		char why[256];
		snprintf(why, sizeof why, "The request's timestamp %" PRId64 " ms differs from the "
			 "server's time %" PRId64 " ms by %" PRId64 " ms, more than "
			 "replay_attack_time_diff (600000 ms).", rc->ts, now, d);
		answer(r, 400, why, t->iter, 0, NULL, -1, 0);
		return;
	}
	if (rc->round == FLEET_GET && t->k++ == 0) {
		answer(r, 400, "The getModel request lacks iteration or timestamp.", t->iter, 0, NULL,
		       -1, 0);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(skewed_clock_rejected)
{
	T *t = setup(1, replay_script);
	fleet_config c;
	fleet_cfg(t, &c, 2, 7);
	start_fleet(t, &c, 1);
	fleet_skew(t->f, 0.5, 20 * 60 * 1000); /* device 0 */
	run_ms(t, 8000);
	fleet_stats st = stats(t);
	ck_assert_uint_ge(st.time_rejected, 2);
	ck_assert_int_eq(t->n_time_obs, (int)st.time_rejected);
	/* device 0 never gets past startFLJob, device 1 does (its RequestError on getModel is not
	 * a time rejection) */
	ck_assert_int_eq(count(t, FLEET_UPDATE, 0), 0);
	ck_assert_int_ge(count(t, FLEET_START, 0), 2);
	ck_assert_int_ge(count(t, FLEET_UPDATE, 1), 1);
	ck_assert_uint_eq(st.time_rejected, (uint64_t)count(t, FLEET_START, 0));
	teardown(t);
}
END_TEST

/* SystemError and gate answers fail over to the other server. */
static void sys_script(T *t, int server, http_request *r, const rec *rc)
{
	if (server == 0 && t->k++ % 2 == 0) {
		answer(r, 500, "out of memory", t->iter, 0, NULL, -1, 0);
		return;
	}
	if (server == 0) {
		http_respond(r, 200, "text/plain", "The cluster is in safemode.", 27, NULL);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(system_error_and_gate_fail_over)
{
	T *t = setup(3, sys_script);
	fleet_config c;
	fleet_cfg(t, &c, 8, 11);
	start_fleet(t, &c, 2);
	run_ms(t, 10000);
	ck_assert_int_gt(t->k, 1);         /* server 0 got traffic and said 500 and gate text */
	ck_assert_int_gt(t->n_zero, 0);    /* the gate text: retcode 0 */
	/* every device ends up uploading to server 1 */
	for (long d = 0; d < 8; d++) {
		int up1 = 0;
		for (int i = 0; i < t->nrec; i++)
			up1 += t->recs[i].device == d && t->recs[i].round == FLEET_UPDATE &&
			       t->recs[i].server == 1;
		ck_assert_int_ge(up1, 1);
	}
	fleet_stats st = stats(t);
	ck_assert_uint_eq(st.conn_errors, 0);
	ck_assert_uint_ge(st.rejected[FLEET_START], 2);
	teardown(t);
}
END_TEST

/* A server dies while holding an upload: the device retries the same upload elsewhere. */
static void hold_update_script(T *t, int server, http_request *r, const rec *rc)
{
	if (rc->round == FLEET_UPDATE && t->k == 0) {
		t->k = 1;
		hold(t, server, r);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(server_death_fail_over)
{
	T *t = setup(5, hold_update_script);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	start_fleet(t, &c, 2);
	run_ms(t, 3000);
	ck_assert_int_eq(t->nrec, 2);
	ck_assert_int_eq(t->recs[1].round, FLEET_UPDATE);
	int dead = t->recs[1].server, alive = 1 - dead;
	ck_assert_int_eq(t->srv[dead].nheld, 1);
	rt_sim_crash(t->srv[dead].h);
	run_ms(t, 5000);
	ck_assert_int_lt(t->n_neg, 3);
	ck_assert_int_ge(t->n_neg, 1);
	ck_assert_int_ge(t->nrec, 5);
	/* the same upload, now to the survivor, accepted; then everything goes there */
	ck_assert_int_eq(t->recs[2].round, FLEET_UPDATE);
	ck_assert_int_eq(t->recs[2].server, alive);
	ck_assert_uint_eq(t->recs[2].hash, t->recs[1].hash);
	ck_assert_int_eq(t->recs[2].iteration, t->recs[1].iteration);
	for (int i = 2; i < t->nrec; i++)
		ck_assert_int_eq(t->recs[i].server, alive);
	ck_assert_int_eq(t->n_upd_obs, count(t, FLEET_UPDATE, 0) - 1);
	fleet_stats st = stats(t);
	ck_assert_uint_ge(st.conn_errors, 1);
	teardown(t);
}
END_TEST

/* A server that never answers: the request times out, the device fails over. A server list
 * entry where nobody listens is refused and skipped the same way. */
static void hold_start_script(T *t, int server, http_request *r, const rec *rc)
{
	if (server == 0) {
		hold(t, server, r);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(request_timeout_and_refused)
{
	T *t = setup(1, hold_start_script);
	fleet_config c;
	fleet_cfg(t, &c, 6, 9);
	c.request_timeout_ms = 2000;
	ck_assert_int_eq(fleet_new(t->hf, &c, &t->f), 0);
	rt_sim_host_set_owner(t->hf, fleet_owner_destroy, t);
	fleet_server sv[3] = {{"10.0.0.1", PORT, 0}, {"10.0.0.2", PORT, 1}, {"10.0.0.2", PORT + 1, 2}};
	ck_assert_int_eq(fleet_set_servers(t->f, sv, 3), 0);
	run_ms(t, 15000);
	fleet_stats st = stats(t);
	ck_assert_int_gt(t->srv[0].nheld, 0); /* someone waited on server 0 */
	ck_assert_int_eq(t->n_timedout, t->srv[0].nheld);
	ck_assert_int_gt(t->n_refused, 0);
	ck_assert_uint_eq(st.conn_errors, (uint64_t)(t->n_timedout + t->n_refused));
	/* and everyone got through on server 1 */
	for (long d = 0; d < 6; d++)
		ck_assert_int_ge(count(t, FLEET_GET, d), 1);
	/* the client gave up on the held request's stream: answering it now only frees it */
	ck_assert_int_eq(http_respond(t->srv[0].held[0], 200, NULL, "{}", 2, NULL), RT_ECLOSED);
	t->srv[0].held[0] = t->srv[0].held[--t->srv[0].nheld];
	teardown(t);
}
END_TEST

/* Availability: with online_fraction 0.5 about half the devices are online at any time, in
 * sessions of session_s; all of them take part over time. */
START_TEST(availability)
{
	T *t = setup(1, normal);
	t->threshold = 5;
	fleet_config c;
	fleet_cfg(t, &c, 200, 7);
	c.online_fraction = 0.5;
	c.session_s = (fleet_dist){FLEET_UNIFORM, 5, 15};
	start_fleet(t, &c, 2);
	double sum = 0;
	int samples = 0, lo = 200, hi = 0;
	for (int i = 0; i < 120; i++) {
		run_ms(t, 1000);
		if (i < 20)
			continue; /* past the start */
		long on = stats(t).online;
		sum += (double)on;
		samples++;
		lo = on < lo ? (int)on : lo;
		hi = on > hi ? (int)on : hi;
	}
	double mean = sum / samples / 200;
	if (getenv("FLEET_TEST_DUMP"))
		fprintf(stderr, "online share %.3f (min %d, max %d of 200)\n", mean, lo, hi);
	ck_assert_double_gt(mean, 0.4);
	ck_assert_double_lt(mean, 0.6);
	ck_assert_int_lt(lo, hi); /* it moves */
	fleet_stats st = stats(t);
	ck_assert_uint_gt(st.ok[FLEET_UPDATE], 200);
	/* with everyone online the share is 1 */
	teardown(t);
	t = setup(1, normal);
	fleet_cfg(t, &c, 50, 7);
	start_fleet(t, &c, 1);
	run_ms(t, 5000);
	ck_assert_int_eq(stats(t).online, 50);
	teardown(t);
}
END_TEST

/* Dropout 1: every device vanishes after startFLJob, uploads nothing, comes back later. */
START_TEST(dropout)
{
	T *t = setup(1, normal);
	fleet_config c;
	fleet_cfg(t, &c, 5, 7);
	c.dropout = 1.0;
	start_fleet(t, &c, 1);
	run_ms(t, 100000);
	fleet_stats st = stats(t);
	ck_assert_int_eq(count(t, FLEET_UPDATE, -1), 0);
	ck_assert_uint_ge(st.dropouts, 10); /* each device at least twice: back after 30-45 s */
	ck_assert_uint_eq(st.dropouts, st.ok[FLEET_START]);
	teardown(t);
}
END_TEST

/* Resize up and down, including a device removed and re-added while its request is in flight:
 * the old answer must not drive the new incarnation. */
static void hold_all_start(T *t, int server, http_request *r, const rec *rc)
{
	if (rc->round == FLEET_START && t->k == 0) {
		hold(t, server, r);
		return;
	}
	normal(t, server, r, rc);
}

START_TEST(resize)
{
	T *t = setup(1, hold_all_start);
	fleet_config c;
	fleet_cfg(t, &c, 2, 7);
	start_fleet(t, &c, 1);
	run_ms(t, 1500);
	ck_assert_int_eq(t->srv[0].nheld, 2);
	ck_assert_int_eq(fleet_resize(t->f, 1), 0);
	ck_assert_int_eq(fleet_resize(t->f, 2), 0); /* device 1 again, its old request pending */
	ck_assert_int_eq(stats(t).devices, 2);
	t->k = 1;
	for (int i = 0; i < 2; i++)
		answer(t->srv[0].held[i], 200, "success", 1, 0, t->model, -1, 1);
	t->srv[0].nheld = 0;
	run_ms(t, 3000);
	/* device 0 went on; device 1 ignored the stale answer and asked again first */
	ck_assert_int_ge(count(t, FLEET_UPDATE, 0), 1);
	ck_assert_int_ge(count(t, FLEET_START, 1), 2);
	int first_up1 = -1, second_start1 = -1, starts = 0;
	for (int i = 0; i < t->nrec; i++) {
		if (t->recs[i].device != 1)
			continue;
		if (t->recs[i].round == FLEET_START && ++starts == 2)
			second_start1 = i;
		if (t->recs[i].round == FLEET_UPDATE && first_up1 < 0)
			first_up1 = i;
	}
	ck_assert_int_ge(second_start1, 0);
	ck_assert(first_up1 < 0 || first_up1 > second_start1);
	/* grow: new devices appear */
	ck_assert_int_eq(fleet_resize(t->f, 6), 0);
	run_ms(t, 3000);
	for (long d = 2; d < 6; d++)
		ck_assert_int_ge(count(t, FLEET_START, d), 1);
	/* shrink: only devices 0 and 1 are heard from afterwards */
	ck_assert_int_eq(fleet_resize(t->f, 2), 0);
	uint64_t at = rt_sim_now_ns(t->sim);
	int mark = t->nrec;
	run_ms(t, 6000);
	ck_assert_int_gt(t->nrec, mark);
	for (int i = mark; i < t->nrec; i++)
		if (t->recs[i].t_ns > at + MS) /* what was on the wire at the resize may land */
			ck_assert_int_lt(t->recs[i].device, 2);
	ck_assert_int_eq(stats(t).devices, 2);
	ck_assert_int_eq(fleet_resize(t->f, -1), FLEET_EINVAL);
	teardown(t);
}
END_TEST

/* Same seed, same requests (time, server, round, device, timestamp, iteration, upload); another
 * seed, another run. */
static void mixed_script(T *t, int server, http_request *r, const rec *rc)
{
	if (rc->round == FLEET_START && rc->device % 3 == (long)(t->iter % 3)) {
		answer(r, 300, "Current amount for startFLJob has reached the threshold.", t->iter,
		       rt_wall_ms(t->srv[server].h) + 2000, NULL, -1, 0);
		return;
	}
	normal(t, server, r, rc);
}

static uint64_t run_det(uint64_t seed, int *nrec)
{
	T *t = setup(seed, mixed_script);
	t->threshold = 4;
	fleet_config c;
	fleet_cfg(t, &c, 20, seed);
	c.dropout = 0.1;
	c.online_fraction = 0.8;
	c.session_s = (fleet_dist){FLEET_UNIFORM, 2, 10};
	c.compute_ms_per_sample = (fleet_dist){FLEET_LOGNORMAL, 2, 0.5};
	c.bandwidth_kbps = (fleet_dist){FLEET_LOGNORMAL, 2000, 0.8};
	c.clock_skew_ms = (fleet_dist){FLEET_NORMAL, 0, 2000};
	start_fleet(t, &c, 2);
	run_ms(t, 30000);
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < t->nrec; i++) {
		const rec *r = &t->recs[i];
		uint64_t v[7] = {r->t_ns, (uint64_t)r->server, (uint64_t)r->round, (uint64_t)r->device,
				 (uint64_t)r->ts, (uint64_t)r->iteration, r->hash};
		h = (h ^ hash_floats((const float *)v, sizeof v / (sizeof(float)))) * 1099511628211ULL;
	}
	*nrec = t->nrec;
	ck_assert_int_gt(t->iter, 3);
	teardown(t);
	return h;
}

START_TEST(determinism)
{
	int n1, n2, n3;
	uint64_t a = run_det(42, &n1), b = run_det(42, &n2), c = run_det(43, &n3);
	ck_assert_int_gt(n1, 50);
	ck_assert_int_eq(n1, n2);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, c);
}
END_TEST

/* Batched training (train_batch) trains the same and changes no timing: the server sees the
 * very same requests and uploads as with per-device training. */
static uint64_t run_train(int batched, int *nrec, int *nbatches, int *maxb)
{
	T *t = setup(9, normal);
	t->threshold = 3;
	fleet_config c;
	fleet_cfg(t, &c, 10, 9);
	c.compute_ms_per_sample = (fleet_dist){FLEET_LOGNORMAL, 2, 0.5};
	c.train_ctx = t;
	c.train_samples = samples_of;
	if (batched) {
		c.train_batch = train_batch;
		c.train_batch_max = 4;
	} else {
		c.train = train;
	}
	start_fleet(t, &c, 2);
	run_ms(t, 8000);
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < t->nrec; i++) {
		const rec *r = &t->recs[i];
		if (r->round == FLEET_START)
			ck_assert_double_eq(r->data_size, (double)(10 * r->device + 5));
		uint64_t v[6] = {r->t_ns, (uint64_t)r->server, (uint64_t)r->round, (uint64_t)r->device,
				 (uint64_t)r->iteration, r->hash};
		h = (h ^ hash_floats((const float *)v, sizeof v / (sizeof(float)))) * 1099511628211ULL;
	}
	*nrec = t->nrec;
	*nbatches = t->n_batches;
	*maxb = t->max_batch_seen;
	ck_assert_int_gt(t->n_train, 10);
	teardown(t);
	return h;
}

START_TEST(batched_training)
{
	int n1, n2, b1, b2, m1, m2;
	uint64_t a = run_train(0, &n1, &b1, &m1), b = run_train(1, &n2, &b2, &m2);
	ck_assert_int_gt(n1, 30);
	ck_assert_int_eq(n1, n2);
	ck_assert_uint_eq(a, b);
	ck_assert_int_eq(b1, 0);
	ck_assert_int_gt(b2, 0);
	ck_assert_int_gt(m2, 1); /* some calls trained several devices */
	ck_assert_int_le(m2, 4);
}
END_TEST

/* 100k devices fit: bytes per device (fleet-owned memory / devices) stays small. */
START_TEST(memory_100k)
{
	T *t = setup(1, normal);
	fleet_config c;
	fleet_cfg(t, &c, 100000, 7);
	ck_assert_int_eq(fleet_new(t->hf, &c, &t->f), 0);
	rt_sim_host_set_owner(t->hf, fleet_owner_destroy, t);
	run_ms(t, 2500); /* no servers: everyone wakes and waits, nothing is sent */
	fleet_stats st = stats(t);
	ck_assert_int_eq(st.devices, 100000);
	ck_assert_int_eq(st.online, 100000);
	ck_assert_uint_gt(st.bytes_per_device, 0);
	ck_assert_uint_lt(st.bytes_per_device, 512);
	fprintf(stderr, "fleet: %zu bytes per device at 100k devices\n", st.bytes_per_device);
	ck_assert_int_eq(t->nrec, 0);
	teardown(t);
}
END_TEST

/* Destroying the fleet with requests in flight (directly, or by crashing its host) calls
 * nothing afterwards; ASan checks the memory. */
static void hold_everything(T *t, int server, http_request *r, const rec *rc)
{
	hold(t, server, r);
}

START_TEST(destroy_in_flight)
{
	for (int k = 0; k < 2; k++) {
		T *t = setup(1, hold_everything);
		fleet_config c;
		fleet_cfg(t, &c, 10, 7);
		start_fleet(t, &c, 2);
		run_ms(t, 1500);
		ck_assert_int_eq(t->srv[0].nheld + t->srv[1].nheld, 10);
		ck_assert_int_eq(stats(t).in_request, 10);
		int before = t->n_req;
		if (k == 0) {
			fleet_destroy(t->f);
			t->f = NULL;
			rt_sim_host_set_owner(t->hf, NULL, NULL);
		} else {
			rt_sim_crash(t->hf);
			ck_assert_ptr_null(t->f);
		}
		ck_assert_int_eq(t->n_req, before); /* cancellations are not reported */
		for (int s = 0; s < NSRV; s++)
			for (int i = 0; i < t->srv[s].nheld; i++)
				answer(t->srv[s].held[i], 200, "late", 1, 0, NULL, -1, 0);
		t->srv[0].nheld = t->srv[1].nheld = 0;
		run_ms(t, 1000);
		ck_assert_int_eq(t->n_req, before);
		teardown(t);
	}
}
END_TEST

START_TEST(bad_arguments)
{
	T *t = setup(1, normal);
	fleet_config c;
	fleet_cfg(t, &c, 1, 7);
	fleet *f = NULL;
	ck_assert_int_eq(fleet_new(NULL, &c, &f), FLEET_EINVAL);
	c.model = NULL;
	ck_assert_int_eq(fleet_new(t->hf, &c, &f), FLEET_EINVAL);
	c.model = &t->def;
	c.devices = -1;
	ck_assert_int_eq(fleet_new(t->hf, &c, &f), FLEET_EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_str_eq(fleet_round_name(FLEET_GET), "getModel");
	ck_assert_str_eq(fleet_round_name((fleet_round)99), "?");
	rt_rng r;
	rt_rng_seed(&r, 1);
	fleet_dist d = {FLEET_UNIFORM, 2, 4};
	for (int i = 0; i < 100; i++) {
		double v = fleet_dist_draw(&d, &r);
		ck_assert(v >= 2 && v < 4);
	}
	fleet_destroy(NULL);
	teardown(t);
}
END_TEST

int main(void)
{
	/* FLEET_TEST=name runs one test (with FLEET_TEST_DUMP=1 to see its requests) */
	const struct { const char *name; const TTest *test; } tests[] = {
		{"succeed_flow", succeed_flow},
		{"synthetic_upload", synthetic_upload},
		{"synthetic_shared_direction", synthetic_shared_direction},
		{"out_of_time_next_req_time", out_of_time_next_req_time},
		{"out_of_time_update", out_of_time_update},
		{"suc_not_ready_polls", suc_not_ready_polls},
		{"far_next_req_time", far_next_req_time},
		{"skewed_clock_rejected", skewed_clock_rejected},
		{"system_error_and_gate_fail_over", system_error_and_gate_fail_over},
		{"server_death_fail_over", server_death_fail_over},
		{"request_timeout_and_refused", request_timeout_and_refused},
		{"availability", availability},
		{"dropout", dropout},
		{"resize", resize},
		{"determinism", determinism},
		{"batched_training", batched_training},
		{"memory_100k", memory_100k},
		{"destroy_in_flight", destroy_in_flight},
		{"bad_arguments", bad_arguments},
	};
	const char *only = getenv("FLEET_TEST");
	Suite *s = suite_create("fleet");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (!only || !strcmp(only, tests[i].name))
			tcase_add_test(tc, tests[i].test);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
