/*
 * srv_api.c — the device API: POST {http_url_prefix}/{startFLJob,updateModel,getModel,
 * pushMetrics} with envelope bodies (proto/envelope.h) or MindSpore's FlatBuffers (srv_wire.h),
 * MindSpore's field names, retcodes and reasons; the gate answers in plain text; GET /metrics.
 * The request's fields are read through srv_api_fields.h.
 *
 * startFLJob and updateModel wait for the leader's count (srv_count.c), so they are answered
 * later; the request then sits in s->pend with a deadline.
 */
#include "srv_int.h"

#include "../proto/envelope.h"
#include "../proto/fl_wire.h"
#include "srv_wire.h"
#include "srv_api_fields.h"
#include "../proto/http_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RC_SUCCEED = 200, RC_SUCNOTREADY = 201, RC_OUTOFTIME = 300, RC_REQUESTERROR = 400,
       RC_SYSTEMERROR = 500, RC_GATE = 1 };

static const char *const round_names[SRV_NROUNDS] = { "startFLJob", "updateModel", "getModel",
						      "pushMetrics", "other" };

#define GATE_NOT_READY "The server's training job is not ready."
#define GATE_DISABLED "The server's training job is disabled or finished."
#define GATE_SAFEMODE "The cluster is in safemode."

/* "%" PRId64 into buf (len >= 21), without printf: it runs two or three times per answer. */
static void fmt_ms(char *buf, size_t len, int64_t ms)
{
	char t[24];
	size_t n = 0;
	uint64_t u = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	if (len < 21) {
		snprintf(buf, len, "%" PRId64, ms);
		return;
	}
	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (ms < 0)
		*buf++ = '-';
	while (n)
		*buf++ = t[--n];
	*buf = '\0';
}

static int64_t next_req(srv *s, int64_t hint)
{
	int64_t now = srv_now_ms(s);

	if (hint > now)
		return hint;
	if (s->next_req_ms > now)
		return s->next_req_ms;
	return now + s->cfg.start_fl_job_time_window;
}

static srv_iter_stats *stats(srv *s) { return &s->st; }

static void round_stat(srv *s, int round, int accept)
{
	srv_round_stats *rs = NULL;

	if (round == SRV_ROUND_START)
		rs = &stats(s)->start;
	else if (round == SRV_ROUND_UPDATE)
		rs = &stats(s)->update;
	else if (round == SRV_ROUND_GET)
		rs = &stats(s)->get;
	if (!rs)
		return;
	rs->total++;
	if (accept)
		rs->accept++;
	else
		rs->reject++;
}

/*
 * Answers are envelopes (proto/envelope.h) whose JSON header is written with http_jw (see
 * http_util.h): byte for byte what envelope_encode makes of the same cJSON object, without
 * building and printing a cJSON tree per answer (on small requests that was most of the work).
 * The http_jw starts after 4 bytes left for the envelope's length prefix.
 */
enum { JW_PREFIX = 4 };

/* The feature_map of envelope_encode (tensors back to back), after its checks: names present,
 * non-empty and distinct, data present. 0 or -1. */
static int jw_fmap(http_jw *w, const env_tensor *t, size_t n)
{
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (!t[i].name || !t[i].name[0] || (!t[i].data && t[i].count) ||
		    t[i].count > ((size_t)1 << 53) - off)
			return -1;
		off += t[i].count;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t[i].name, t[j].name))
				return -1;
	}
	http_jw_key(w, "feature_map");
	http_jw_ch(w, '[');
	off = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			http_jw_ch(w, ',');
		w->first = 1;
		http_jw_ch(w, '{');
		http_jw_kstr(w, "name", t[i].name);
		http_jw_knum(w, "offset", (double)off);
		http_jw_knum(w, "count", (double)t[i].count);
		http_jw_ch(w, '}');
		off += t[i].count;
	}
	http_jw_ch(w, ']');
	w->first = 0;
	return 0;
}

/* Close the header, pad it to a multiple of 4 with spaces, append the tensors, fill in the
 * prefix. 0 or -1 (out of memory). */
static int jw_finish(http_jw *w, const env_tensor *t, size_t nt)
{
	http_jw_ch(w, '}');
	size_t jlen = w->len - JW_PREFIX, hlen = (jlen + 3) & ~(size_t)3;
	size_t nfloats = 0;
	for (size_t i = 0; i < nt; i++)
		nfloats += t[i].count;
	char *d = http_jw_room(w, hlen - jlen + nfloats * sizeof(float));
	if (!d || hlen > UINT32_MAX)
		return -1;
	memset(d, ' ', hlen - jlen);
	d += hlen - jlen;
	for (size_t i = 0; i < nt; i++) {
		if (t[i].count)
			memcpy(d, t[i].data, t[i].count * sizeof(float));
		d += t[i].count * sizeof(float);
	}
	w->len = JW_PREFIX + hlen + nfloats * sizeof(float);
	w->p[0] = (char)(hlen & 0xff);
	w->p[1] = (char)((hlen >> 8) & 0xff);
	w->p[2] = (char)((hlen >> 16) & 0xff);
	w->p[3] = (char)((hlen >> 24) & 0xff);
	return 0;
}

/*
 * What an answer carries besides retcode, reason, timestamp and the model: each member only
 * when its has_ flag is set. Kept apart from any wire so that one reply() writes them in
 * whichever wire the request came in (issue 16: FlatBuffers next to the envelope).
 */
typedef struct answer {
	int has_iter, selected, plan, has_next, has_mi;
	int64_t iter, next, mi; /* next: already resolved through next_req() */
} answer;

static void plan_json(srv *s, http_jw *w);

/* The envelope's header members of a, in the order the answers have always had them. */
static void answer_json(srv *s, http_jw *w, const answer *a)
{
	char buf[32];

	if (a->has_iter)
		http_jw_knum(w, "iteration", (double)a->iter);
	if (a->selected) {
		http_jw_key(w, "is_selected");
		http_jw_add(w, "true", 4);
	}
	if (a->has_next) {
		fmt_ms(buf, sizeof buf, a->next);
		http_jw_kstr(w, "next_req_time", buf);
	}
	if (a->plan)
		plan_json(s, w);
	if (a->has_mi)
		http_jw_knum(w, "model_iteration", (double)a->mi);
}

/* r->user for a request that came as a FlatBuffer: its answer is one too. */
static const char WIRE_FB[] = "flatbuffers";

/* The FlatBuffers answer (srv_wire.h): the same members, under the schema's names. */
static void reply_fb(srv *s, http_request *r, int round, int retcode, const char *reason,
		     const answer *a, const srv_model *m)
{
	fw_tensor tt[MODEL_MAX_TENSORS];
	char ts[32], nx[32];
	fw_msg ans = {0};
	const uint8_t *out;
	size_t len;

	ans.retcode = retcode;
	ans.reason = reason;
	fmt_ms(ts, sizeof ts, srv_now_ms(s));
	ans.timestamp = ts;
	if (a && a->has_iter)
		ans.iteration = (int32_t)(a->has_mi ? a->mi : a->iter); /* no model_iteration */
	if (a && a->has_next) {
		fmt_ms(nx, sizeof nx, a->next);
		ans.next_req_time = nx;
	}
	if (a && a->selected)
		ans.is_selected = 1;
	if (a && a->plan) {
		ans.has_plan = 1;
		ans.plan.fl_name = s->cfg.fl_name;
		ans.plan.epochs = (int32_t)s->cfg.client_epoch_num;
		ans.plan.mini_batch = (int32_t)s->cfg.client_batch_size;
		ans.plan.lr = (float)s->cfg.client_learning_rate;
		ans.plan.iterations = (int32_t)s->cfg.fl_iteration_num;
	}
	/* TODO(issue 16): one encoder kept by the server, and the getModel answer encoded once
	 * per stored model */
	fw_enc *e = fw_enc_new();
	int rc = e ? srv_wire_answer(e, round, &ans, &s->def, m ? m->w : NULL, tt, &out, &len)
		   : FW_EINVAL;
	srv_count_request(s, round, retcode);
	round_stat(s, round, retcode == RC_SUCCEED);
	if (rc) {
		fw_enc_free(e);
		http_respond(r, 500, "text/plain", "encoding failed", 15, NULL);
		return;
	}
	s->api_bytes_out += len;
	http_respond(r, 200, "application/octet-stream", out, len, NULL);
	fw_enc_free(e);
}

/*
 * Answer with an envelope: a (NULL = nothing more) first, then retcode, reason, timestamp and,
 * with a model, the feature map.
 */
static void reply(srv *s, http_request *r, int round, int retcode, const char *reason,
		  const answer *a, const srv_model *m)
{
	env_tensor t[MODEL_MAX_TENSORS];
	size_t nt = 0;
	char ts[32];
	http_jw w, *hdr = &w;

	if (r->user == WIRE_FB) {
		reply_fb(s, r, round, retcode, reason, a, m);
		return;
	}
	http_jw_init(hdr, JW_PREFIX);
	if (a)
		answer_json(s, hdr, a);
	http_jw_knum(hdr, "retcode", retcode);
	http_jw_kstr(hdr, "reason", reason);
	fmt_ms(ts, sizeof ts, srv_now_ms(s));
	http_jw_kstr(hdr, "timestamp", ts);
	if (m) {
		for (size_t i = 0; i < s->def.ntensors; i++) {
			t[i].name = s->def.tensors[i].name;
			t[i].data = m->w + s->def.tensors[i].offset;
			t[i].count = s->def.tensors[i].count;
		}
		nt = s->def.ntensors;
	}
	int enc = (nt && jw_fmap(hdr, t, nt)) ? -1 : 0;
	int oom = !enc && (jw_finish(hdr, t, nt) || hdr->err);
	srv_count_request(s, round, retcode);
	round_stat(s, round, retcode == RC_SUCCEED);
	if (enc || oom) {
		http_jw_free(hdr);
		if (oom)
			http_respond(r, 500, "text/plain", "out of memory", 13, NULL);
		else
			http_respond(r, 500, "text/plain", "encoding failed", 15, NULL);
		return;
	}
	s->api_bytes_out += hdr->len;
	http_respond(r, 200, "application/octet-stream", hdr->p, hdr->len, NULL);
	http_jw_free(hdr);
}

static void reply_next(srv *s, http_request *r, int round, int retcode, const char *reason,
		       int64_t next)
{
	answer a = { .has_iter = 1, .iter = s->iteration, .has_next = 1, .next = next_req(s, next) };

	reply(s, r, round, retcode, reason, &a, NULL);
}

static void gate(srv *s, http_request *r, int round, const char *text)
{
	srv_count_request(s, round, RC_GATE);
	s->api_bytes_out += strlen(text);
	http_respond(r, 200, "text/plain", text, strlen(text), NULL);
}


/* The replay check: 0 when the timestamp is within replay_attack_time_diff of our clock. */
static int check_timestamp(srv *s, const hv *h, char *why, size_t len)
{
	int64_t ts, now = srv_now_ms(s);

	if (srv_field_int(h, "timestamp", &ts) != 0) {
		snprintf(why, len, "The request's timestamp is missing or not a number.");
		return -1;
	}
	int64_t d = ts > now ? ts - now : now - ts;
	if (d > s->cfg.replay_attack_time_diff) {
		snprintf(why, len, "The request's timestamp %" PRId64 " ms differs from the server's "
			 "time %" PRId64 " ms by %" PRId64 " ms, more than replay_attack_time_diff "
			 "(%" PRId64 " ms).", ts, now, d, (int64_t)s->cfg.replay_attack_time_diff);
		return -1;
	}
	return 0;
}

/* Copy an upload into model order; 0, or -1 with why. */
static int check_fmap(srv *s, const env_tensor *t, size_t nt, float *dst, char *why, size_t len)
{
	if (nt == 0) {
		snprintf(why, len, "Feature map is empty.");
		return -1;
	}
	for (size_t i = 0; i < nt; i++) {
		int k = model_def_find(&s->def, t[i].name);
		if (k < 0) {
			snprintf(why, len, "Feature map tensor '%s' is not part of model %s.",
				 t[i].name, s->cfg.model);
			return -1;
		}
		if (t[i].count != s->def.tensors[k].count) {
			snprintf(why, len, "Feature map tensor '%s' has %zu floats, the model expects "
				 "%zu.", t[i].name, t[i].count, s->def.tensors[k].count);
			return -1;
		}
	}
	for (size_t k = 0; k < s->def.ntensors; k++) {
		size_t i;
		for (i = 0; i < nt; i++)
			if (strcmp(t[i].name, s->def.tensors[k].name) == 0)
				break;
		if (i == nt) {
			snprintf(why, len, "Feature map lacks tensor '%s' of model %s.",
				 s->def.tensors[k].name, s->cfg.model);
			return -1;
		}
		/* Copy and check finiteness in one pass over the upload, without an early exit so
		 * the loop vectorises: a float is not finite when its exponent bits are all set. */
		float *d = dst + s->def.tensors[k].offset;
		const unsigned char *src = (const unsigned char *)t[i].data;
		uint32_t nonfinite = 0;
		for (size_t j = 0; j < t[i].count; j++) {
			uint32_t u;
			memcpy(&u, src + j * sizeof u, sizeof u);
			memcpy(d + j, &u, sizeof u);
			nonfinite |= (u & 0x7f800000u) == 0x7f800000u;
		}
		if (nonfinite) {
			snprintf(why, len, "Feature map tensor '%s' holds a value that is not "
				 "finite.", t[i].name);
			return -1;
		}
	}
	return 0;
}

/* ---- rounds ---- */

static void plan_json(srv *s, http_jw *w)
{
	http_jw_key(w, "fl_plan_config");
	http_jw_ch(w, '{');
	w->first = 1;
	http_jw_kstr(w, "fl_name", s->cfg.fl_name);
	http_jw_knum(w, "epochs", (double)s->cfg.client_epoch_num);
	http_jw_knum(w, "mini_batch", (double)s->cfg.client_batch_size);
	http_jw_knum(w, "lr", s->cfg.client_learning_rate);
	http_jw_knum(w, "iterations", (double)s->cfg.fl_iteration_num);
	http_jw_ch(w, '}');
	w->first = 0;
}

/* Model poisoning guard: an update far larger than any honest one would dominate the sum. */
static int check_norm(srv *s, const float *w, char *why, size_t len)
{
	if (s->cfg.upload_norm_bound <= 0)
		return 0;
	double sq = 0;
	for (size_t i = 0; i < s->def.total; i++)
		sq += (double)w[i] * (double)w[i];
	double norm = sqrt(sq);
	if (norm <= s->cfg.upload_norm_bound)
		return 0;
	snprintf(why, len, "The update's L2 norm %.6g is above upload_norm_bound %.6g.", norm,
		 s->cfg.upload_norm_bound);
	return -1;
}

static void start_fl_job(srv *s, http_request *r, const hv *h)
{
	const char *fl_id = srv_field_str(h, "fl_id");
	int64_t ds = 0;
	char why[256];

	if (!fl_id || !srv_field_str(h, "fl_name") || !srv_field_has(h, "timestamp")) {
		reply(s, r, SRV_ROUND_START, RC_REQUESTERROR,
		      "The startFLJob request lacks fl_id, fl_name or timestamp.", NULL, NULL);
		return;
	}
	if (strlen(fl_id) >= sizeof(((srv_pending *)0)->fl_id)) {
		reply(s, r, SRV_ROUND_START, RC_REQUESTERROR, "fl_id is too long.", NULL, NULL);
		return;
	}
	if (check_timestamp(s, h, why, sizeof why)) {
		reply(s, r, SRV_ROUND_START, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	if (srv_field_int(h, "data_size", &ds) != 0 || ds < 1) {
		reply_next(s, r, SRV_ROUND_START, RC_OUTOFTIME, "FL job data size is not enough.", 0);
		return;
	}
	if (ds > s->cfg.max_data_size) {
		/* the weight of a device's update in FedAvg: an inflated claim would outvote the rest */
		snprintf(why, sizeof why, "data_size %" PRId64 " is above max_data_size %" PRId64 ".", ds,
			 s->cfg.max_data_size);
		reply(s, r, SRV_ROUND_START, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	srv_pending *p = calloc(1, sizeof *p);
	if (!p) {
		reply(s, r, SRV_ROUND_START, RC_SYSTEMERROR, "out of memory", NULL, NULL);
		return;
	}
	p->round = SRV_ROUND_START;
	p->req = r;
	p->iteration = s->iteration;
	memcpy(p->fl_id, fl_id, strlen(fl_id) + 1); /* fits: checked above */
	p->data_size = ds;
	srv_count_submit(s, p);
}

static void update_model(srv *s, http_request *r, const hv *h, const env_tensor *t, size_t nt)
{
	const char *fl_id = srv_field_str(h, "fl_id");
	int64_t iter;
	char why[320];

	if (!fl_id || !srv_field_has(h, "timestamp") || srv_field_int(h, "iteration", &iter) != 0) {
		reply(s, r, SRV_ROUND_UPDATE, RC_REQUESTERROR,
		      "The updateModel request lacks fl_id, iteration or timestamp.", NULL, NULL);
		return;
	}
	if (strlen(fl_id) >= sizeof(((srv_pending *)0)->fl_id)) {
		reply(s, r, SRV_ROUND_UPDATE, RC_REQUESTERROR, "fl_id is too long.", NULL, NULL);
		return;
	}
	if (check_timestamp(s, h, why, sizeof why)) {
		reply(s, r, SRV_ROUND_UPDATE, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	if (srv_is_leader(s) && (s->phase != SRV_PH_RUN || (int64_t)s->updates.n >= s->update_thr) &&
	    iter == s->iteration) {
		reply_next(s, r, SRV_ROUND_UPDATE, RC_OUTOFTIME,
			   "Current amount for updateModel is enough. Please retry later.", 0);
		return;
	}
	if (iter != s->iteration) {
		int64_t nx = next_req(s, 0);
		snprintf(why, sizeof why, "UpdateModel iteration number is invalid:%" PRId64
			 ", current iteration:%" PRId64 ". Retry later at time: %" PRId64, iter,
			 s->iteration, nx);
		reply_next(s, r, SRV_ROUND_UPDATE, RC_OUTOFTIME, why, nx);
		return;
	}
	srv_pending *p = calloc(1, sizeof *p);
	if (p)
		p->weights = malloc(s->def.total * sizeof(float));
	if (!p || !p->weights) {
		srv_pending_free(p);
		reply(s, r, SRV_ROUND_UPDATE, RC_SYSTEMERROR, "out of memory", NULL, NULL);
		return;
	}
	if (check_fmap(s, t, nt, p->weights, why, sizeof why) || check_norm(s, p->weights, why, sizeof why)) {
		srv_pending_free(p);
		reply(s, r, SRV_ROUND_UPDATE, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	double loss;
	if (srv_field_num(h, "upload_loss", &loss) == 0) {
		p->upload_loss = loss;
		p->has_loss = 1;
	}
	p->round = SRV_ROUND_UPDATE;
	p->req = r;
	p->iteration = iter;
	snprintf(p->fl_id, sizeof p->fl_id, "%s", fl_id);
	srv_count_submit(s, p);
}

void srv_api_count_done(srv *s, srv_pending *p, int result, int64_t leader_iter, int64_t ds,
			int64_t next)
{
	char why[320];
	http_request *r = p->req;

	/* The iteration moved on while we waited (a lost link, a resync): the count no longer
	 * belongs to this server's iteration. */
	if (result == SRV_CNT_OK && p->iteration != s->iteration)
		result = SRV_CNT_BUSY;
	if (p->round == SRV_ROUND_START) {
		if (result == SRV_CNT_OK) {
			answer a = { .has_iter = 1, .iter = s->iteration, .selected = 1, .plan = 1,
				     .has_next = 1, .next = next_req(s, next) };
			srv_model *m = srv_store_get(&s->store, s->iteration - 1);
			if (!m && s->store.n)
				m = srv_store_latest(&s->store)->m;
			reply(s, r, SRV_ROUND_START, RC_SUCCEED, "success", &a, m);
		} else if (result == SRV_CNT_FULL) {
			reply_next(s, r, SRV_ROUND_START, RC_OUTOFTIME, "Current amount for startFLJob has "
				   "reached the threshold. Please startFLJob later.", next);
		} else {
			reply_next(s, r, SRV_ROUND_START, RC_OUTOFTIME,
				   "Counting start fl job request failed. Please retry later.", next);
		}
		return;
	}
	switch (result) {
	case SRV_CNT_OK:
		srv_accumulate(s, p->weights, ds);
		if (p->has_loss) {
			s->st.upload_loss_sum += p->upload_loss;
			s->st.upload_loss_n++;
		}
		reply_next(s, r, SRV_ROUND_UPDATE, RC_SUCCEED, "success", next);
		break;
	case SRV_CNT_FULL:
		reply_next(s, r, SRV_ROUND_UPDATE, RC_OUTOFTIME,
			   "Current amount for updateModel is enough. Please retry later.", next);
		break;
	case SRV_CNT_ITER:
		snprintf(why, sizeof why, "UpdateModel iteration number is invalid:%" PRId64
			 ", current iteration:%" PRId64 ". Retry later at time: %" PRId64,
			 p->iteration, leader_iter, next_req(s, next));
		reply_next(s, r, SRV_ROUND_UPDATE, RC_OUTOFTIME, why, next);
		break;
	case SRV_CNT_NOMETA:
		snprintf(why, sizeof why, "devices_meta for %s is not set. Please retry later.",
			 p->fl_id);
		reply_next(s, r, SRV_ROUND_UPDATE, RC_OUTOFTIME, why, next);
		break;
	case SRV_CNT_DUP:
		snprintf(why, sizeof why, "UpdateModel for %s was already accepted in iteration %"
			 PRId64 ".", p->fl_id, p->iteration);
		reply(s, r, SRV_ROUND_UPDATE, RC_REQUESTERROR, why, NULL, NULL);
		break;
	default:
		reply_next(s, r, SRV_ROUND_UPDATE, RC_OUTOFTIME,
			   "Counting for update model request failed. Please retry later.", next);
		break;
	}
}

static void get_model(srv *s, http_request *r, const hv *h)
{
	int64_t iter;
	char why[320];

	if (srv_field_int(h, "iteration", &iter) != 0 || !srv_field_has(h, "timestamp")) {
		reply(s, r, SRV_ROUND_GET, RC_REQUESTERROR,
		      "The getModel request lacks iteration or timestamp.", NULL, NULL);
		return;
	}
	if (check_timestamp(s, h, why, sizeof why)) {
		reply(s, r, SRV_ROUND_GET, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	const srv_store_entry *latest = srv_store_latest(&s->store);
	int64_t cur = s->iteration;
	answer a = { .has_iter = 1, .iter = cur, .has_next = 1, .next = next_req(s, 0) };
	if ((iter == cur && (!latest || latest->iter != cur)) || iter == cur + 1 || !latest) {
		snprintf(why, sizeof why, "The model is not ready yet for iteration %" PRId64 ". Maybe "
			 "this is because\n1. Client doesn't send enough update model requests.\n2. "
			 "The servers have not aggregated the weights yet.", iter);
		reply(s, r, SRV_ROUND_GET, RC_SUCNOTREADY, why, &a, NULL);
		return;
	}
	srv_model *m = srv_store_get(&s->store, iter);
	int64_t mi = iter;
	if (!m) {
		m = latest->m;
		mi = latest->iter;
	}
	a.has_mi = 1;
	a.mi = mi;
	snprintf(why, sizeof why, "Get model for iteration %" PRId64, iter);
	reply(s, r, SRV_ROUND_GET, RC_SUCCEED, why, &a, m);
}

static void push_metrics(srv *s, http_request *r, const hv *h)
{
	double loss, acc;
	char why[320];

	if (srv_field_num(h, "loss", &loss) || srv_field_num(h, "accuracy", &acc)) {
		reply(s, r, SRV_ROUND_METRICS, RC_REQUESTERROR,
		      "The pushMetrics request lacks a numeric loss or accuracy.", NULL, NULL);
		return;
	}
	/* MindSpore's RequestPushMetrics carries no timestamp: nothing to check on that wire */
	if (!h->w && check_timestamp(s, h, why, sizeof why)) {
		reply(s, r, SRV_ROUND_METRICS, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	s->st.metric_loss_sum += loss;
	s->st.metric_acc_sum += acc;
	s->st.metric_n++;
	answer a = { .has_iter = 1, .iter = s->iteration };
	reply(s, r, SRV_ROUND_METRICS, RC_SUCCEED, "success", &a, NULL);
}

/* ---- dispatch ---- */

static int round_of(srv *s, const char *path)
{
	size_t pl = strlen(s->cfg.http_url_prefix);

	if (strncmp(path, s->cfg.http_url_prefix, pl) != 0 || path[pl] != '/')
		return -1;
	for (int i = 0; i < SRV_ROUND_OTHER; i++)
		if (strcmp(path + pl + 1, round_names[i]) == 0)
			return i;
	return -1;
}

/*
 * A body that is not an envelope may be MindSpore's FlatBuffers request (issue 16: both wires
 * are served while the clients move over): 1 when it was one and is handled, 0 otherwise.
 */
static int fb_request(srv *s, http_request *r, int round)
{
	fw_msg m;
	fw_tensor ft[MODEL_MAX_TENSORS];
	env_tensor t[MODEL_MAX_TENSORS];
	char why[160];

	if (srv_wire_decode(round, r->body, r->body_len, &m, ft, MODEL_MAX_TENSORS, why,
			    sizeof why))
		return 0;
	r->user = (void *)WIRE_FB;
	for (size_t i = 0; i < m.nfmap; i++) {
		t[i].name = ft[i].name;
		t[i].data = ft[i].data;
		t[i].count = ft[i].count;
	}
	hv v = { NULL, NULL, &m };
	switch (round) {
	case SRV_ROUND_START: start_fl_job(s, r, &v); break;
	case SRV_ROUND_UPDATE: update_model(s, r, &v, t, m.nfmap); break;
	case SRV_ROUND_GET: get_model(s, r, &v); break;
	default: push_metrics(s, r, &v); break;
	}
	return 1;
}

void srv_http_handler(http_server *hs, http_request *r, void *data)
{
	srv *s = data;
	(void)hs;

	s->api_bytes_in += r->body_len;
	if (strcmp(r->path, "/metrics") == 0) {
		if (strcmp(r->method, "GET") != 0)
			http_respond(r, 405, "text/plain", "use GET\n", 8, "Allow: GET\r\n");
		else
			srv_metrics_respond(s, r);
		return;
	}
	int round = round_of(s, r->path);
	if (round < 0) {
		srv_count_request(s, SRV_ROUND_OTHER, 404);
		http_respond(r, 404, "text/plain", "no such round\n", 14, NULL);
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		srv_count_request(s, round, 405);
		http_respond(r, 405, "text/plain", "use POST\n", 9, "Allow: POST\r\n");
		return;
	}
	if (s->join != SRV_JOIN_MEMBER || s->removed) {
		gate(s, r, round, GATE_NOT_READY);
		return;
	}
	if (s->instance_state == SRV_INST_DISABLE ||
	    (s->instance_state == SRV_INST_FINISH && round != SRV_ROUND_GET)) {
		gate(s, r, round, GATE_DISABLED);
		return;
	}
	if (s->safemode) {
		gate(s, r, round, GATE_SAFEMODE);
		return;
	}
	if (round == SRV_ROUND_START) {
		/* the most frequent request, small and flat: read without building a cJSON tree */
		fhdr fh;
		if (srv_fh_parse(r->body, r->body_len, &fh) == 0) {
			hv v = { NULL, &fh, NULL };
			start_fl_job(s, r, &v);
			return;
		}
	}
	cJSON *h = NULL;
	env_tensor *t = NULL;
	size_t nt = 0;
	int rc = envelope_decode(r->body, r->body_len, &h, &t, &nt);
	if (rc && fb_request(s, r, round))
		return;
	if (rc) {
		char why[160];
		snprintf(why, sizeof why, "The request body is not a valid envelope: %s.",
			 envelope_strerror(rc));
		reply(s, r, round, RC_REQUESTERROR, why, NULL, NULL);
		return;
	}
	hv v = { h, NULL, NULL };
	switch (round) {
	case SRV_ROUND_START: start_fl_job(s, r, &v); break;
	case SRV_ROUND_UPDATE: update_model(s, r, &v, t, nt); break;
	case SRV_ROUND_GET: get_model(s, r, &v); break;
	default: push_metrics(s, r, &v); break;
	}
	cJSON_Delete(h);
	free(t);
}

void srv_api_fail_pending(srv *s, const char *why)
{
	srv_pending *p = s->pend;

	if (p)
		rt_log(s->h, RT_LOG_WARN, "failing pending device requests: %s", why);
	s->pend = NULL;
	while (p) {
		srv_pending *next = p->next;
		srv_api_count_done(s, p, SRV_CNT_BUSY, s->iteration, 0, 0);
		srv_pending_free(p);
		p = next;
	}
}

void srv_api_sweep(srv *s, uint64_t now_ns)
{
	srv_pending **pp = &s->pend;

	while (*pp) {
		srv_pending *p = *pp;
		if (p->deadline_ns > now_ns) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		srv_api_count_done(s, p, SRV_CNT_BUSY, s->iteration, 0, 0);
		srv_pending_free(p);
	}
}
