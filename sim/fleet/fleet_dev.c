/*
 * fleet_dev.c — one device's side of the device API (see fleet.h): building and sending
 * startFLJob / updateModel / getModel, reading the answers, training, backoff and fail-over.
 *
 * Life of a device (state = the next request it will send):
 *
 *   D_START --startFLJob 200--> (download + local training + upload time) --> D_UPDATE
 *   D_UPDATE --updateModel 200--> D_GET --getModel 200--> (maybe an offline spell) --> D_START
 *
 * OutOfTime waits for next_req_time (on the device's own clock) and starts over; SucNotReady on
 * getModel polls again at next_req_time; RequestError backs off; SystemError, non-envelope (gate)
 * answers and connection failures back off and fail over to another server.
 */
#include "fleet_int.h"

#include "../../node/proto/envelope.h"
#include "../../node/proto/http_util.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t dev_wall_ms(fleet *f, const device *d) { return rt_wall_ms(f->host) + d->skew_ms; }

static void on_response(int err, const http_response *resp, void *data);

static int pick_server(fleet *f, device *d)
{
	if (!f->nservers)
		return -1;
	if (d->server < 0 || (size_t)d->server >= f->nservers)
		d->server = (int16_t)(rt_rng_u64(&d->rng) % f->nservers);
	return d->server;
}

/* After a failure at server `bad_id`: pick another one at random (the same only if alone). */
static void fail_over(fleet *f, device *d, int bad_id)
{
	d->server = -1;
	if (!f->nservers)
		return;
	size_t k = (size_t)(rt_rng_u64(&d->rng) % f->nservers);
	if (f->servers[k].id == bad_id && f->nservers > 1)
		k = (k + 1 + (size_t)(rt_rng_u64(&d->rng) % (f->nservers - 1))) % f->nservers;
	d->server = (int16_t)k;
}

/* base plus up to half of it again: spreads retries that were caused together. */
static uint64_t jitter_ms(device *d, uint64_t base_ms)
{
	return base_ms + rt_rng_u64(&d->rng) % (base_ms / 2 + 1);
}

/* Exponential backoff with jitter after a failure: 0.5 s, 1 s, 2 s ... capped at 16 s. */
static uint64_t backoff_ns(device *d)
{
	unsigned k = d->failures ? d->failures - 1u : 0;
	if (k > 5)
		k = 5;
	return jitter_ms(d, 500ULL << k) * FLEET_NS_PER_MS;
}

/* Seconds to move `bytes` at the device's bandwidth, in ns. */
static uint64_t transfer_ns(const device *d, size_t bytes)
{
	return (uint64_t)((double)bytes * 8.0 / ((double)d->bw_kbps * 1000.0) * 1e9);
}

/*
 * The synthetic pseudo-update of (seed, device, iteration) into out: the fleet's shared seeded
 * direction (fleet.c) times a seeded scale in [0.5, 1.5). O(1) draws per device instead of one per
 * weight, and the FedAvg of such uploads is the direction times the weighted mean of the scales:
 * every accepted upload still moves the result, so a lost or double-counted one shows.
 */
static float synthetic_scale(const fleet *f, const device *d)
{
	rt_rng r;
	rt_rng_seed(&r, rt_seed_derive_u64(rt_seed_derive_u64(f->cfg.seed, d->index),
					   (uint64_t)d->iteration));
	return (float)(0.5 + rt_rng_double(&r));
}

static void synthetic_update(const fleet *f, const device *d, float *out, size_t n)
{
	float c = synthetic_scale(f, d);
	const float *dir = f->synth_dir;
	for (size_t i = 0; i < n; i++)
		out[i] = dir[i] * c;
}

/* The body of a request, written straight into the HTTP client's buffer: the envelope's head,
 * then the tensors (copied, or for a synthetic upload computed in place: one pass in all). */
typedef struct body_fill {
	const uint8_t *head;
	size_t head_len;
	const env_tensor *t;
	size_t nt;
	float scale; /* > 0: t[] is the synthetic direction, to be scaled */
} body_fill;

static int fill_body(uint8_t *dst, size_t len, void *data)
{
	const body_fill *b = data;
	memcpy(dst, b->head, b->head_len);
	uint8_t *p = dst + b->head_len;
	for (size_t i = 0; i < b->nt; i++) {
		size_t n = b->t[i].count;
		if (b->scale > 0) {
			/* p need not be float-aligned in the request buffer: scale a block at a
			 * time on the stack (vectorised), then copy it out */
			float tmp[1024];
			const float *src = b->t[i].data;
			for (size_t k = 0; k < n; k += 1024) {
				size_t m = n - k < 1024 ? n - k : 1024;
				for (size_t j = 0; j < m; j++)
					tmp[j] = src[k + j] * b->scale;
				memcpy(p + k * sizeof(float), tmp, m * sizeof(float));
			}
		} else if (n) {
			memcpy(p, b->t[i].data, n * sizeof(float));
		}
		p += n * sizeof(float);
	}
	return p == dst + len ? 0 : RT_EINVAL;
}

/* Train every queued device in one train_batch call. */
static void train_flush(fleet *f)
{
	size_t nj = 0;
	for (size_t i = 0; i < f->tq_len; i++) {
		device *d = dev_at(f, f->tq[i].device);
		d->queued = 0;
		f->jobs[nj++] = f->tq[i];
	}
	f->tq_len = 0;
	if (!nj)
		return;
	f->cfg.train_batch(f->cfg.train_ctx, f->jobs, nj, f->cfg.model->total);
	for (size_t i = 0; i < nj; i++)
		dev_at(f, f->jobs[i].device)->loss = f->jobs[i].rc ? 0 : f->jobs[i].loss;
}

/* The feature_map of envelope_encode for the model's tensors, back to back. */
static void jw_fmap(http_jw *w, const model_def *m)
{
	http_jw_key(w, "feature_map");
	http_jw_ch(w, '[');
	size_t off = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		if (i)
			http_jw_ch(w, ',');
		w->first = 1;
		http_jw_ch(w, '{');
		http_jw_kstr(w, "name", m->tensors[i].name);
		http_jw_knum(w, "offset", (double)off);
		http_jw_knum(w, "count", (double)m->tensors[i].count);
		http_jw_ch(w, '}');
		off += m->tensors[i].count;
	}
	http_jw_ch(w, ']');
	w->first = 0;
}

/*
 * A request's envelope head (length prefix, JSON header padded to 4 bytes), written with http_jw
 * (http_util.h): byte for byte what envelope_encode_head makes of the same cJSON object, without
 * building, duplicating and printing a tree per request. Returns the head length, 0 when out of
 * memory; the text is w->p.
 */
static size_t env_head(fleet *f, device *d, fleet_round round, http_jw *w)
{
	char fl_id[32], ts[32];
	snprintf(fl_id, sizeof fl_id, "device-%" PRIu32, d->index);
	snprintf(ts, sizeof ts, "%" PRId64, dev_wall_ms(f, d));
	http_jw_init(w, 4);
	http_jw_kstr(w, "fl_name", f->cfg.fl_name);
	http_jw_kstr(w, "fl_id", fl_id);
	http_jw_kstr(w, "timestamp", ts);
	if (round == FLEET_START)
		http_jw_knum(w, "data_size", (double)d->data_size);
	else
		http_jw_knum(w, "iteration", (double)d->iteration);
	if (round == FLEET_UPDATE) {
		http_jw_knum(w, "upload_loss", d->loss);
		if (f->cfg.model->ntensors)
			jw_fmap(w, f->cfg.model);
	}
	http_jw_ch(w, '}');
	size_t jlen = w->len - 4, hlen = (jlen + 3) & ~(size_t)3;
	char *pad = http_jw_room(w, hlen - jlen);
	if (!pad || w->err || hlen > UINT32_MAX)
		return 0;
	memset(pad, ' ', hlen - jlen);
	w->len = 4 + hlen;
	for (int i = 0; i < 4; i++)
		w->p[i] = (char)((hlen >> (8 * i)) & 0xff);
	return w->len;
}

static void send_round(fleet *f, device *d, fleet_round round)
{
	int s = pick_server(f, d);
	if (s < 0) {
		fleet_wake_in(f, d, 1000 * FLEET_NS_PER_MS);
		return;
	}
	const model_def *m = f->cfg.model;
	env_tensor tensors[MODEL_MAX_TENSORS];
	size_t nt = 0;
	if (round == FLEET_UPDATE && d->queued)
		train_flush(f);
	float scale = 0;
	size_t len = 0;
	if (round == FLEET_UPDATE) {
		const float *w = d->weights;
		if (!w) {
			/* synthetic: scaled in place by fill_body; regenerated for the observer when
			 * the answer comes, so nothing is kept meanwhile */
			w = f->synth_dir;
			scale = synthetic_scale(f, d);
		}
		for (size_t i = 0; i < m->ntensors; i++) {
			tensors[nt++] = (env_tensor){m->tensors[i].name, w + m->tensors[i].offset,
						     m->tensors[i].count};
			len += m->tensors[i].count * sizeof(float);
		}
	}
	http_jw hw;
	size_t head_len = env_head(f, d, round, &hw);
	len += head_len;
	if (!head_len || len > UINT32_MAX) {
		http_jw_free(&hw);
		d->failures++;
		fleet_wake_in(f, d, backoff_ns(d));
		return;
	}
	char path[128];
	snprintf(path, sizeof path, "%s/%s", f->cfg.url_prefix, fleet_round_name(round));
	d->busy = 1;
	d->round = (uint8_t)round;
	d->req_start_ns = rt_now_ns(f->host);
	d->req_bytes = (uint32_t)len;
	d->req_sid = f->servers[s].id;
	f->st.requests[round]++;
	f->st.in_request++;
	body_fill bf = {(const uint8_t *)hw.p, head_len, tensors, nt, scale};
	int rc = http_client_request_fill(f->http, f->servers[s].ip, f->servers[s].port, "POST", path,
					  "application/octet-stream", len, fill_body, &bf, NULL,
					  f->cfg.request_timeout_ms, on_response, d);
	http_jw_free(&hw);
	if (rc) {
		/* a bad address in the server list, or out of memory: try another one later */
		d->busy = 0;
		f->st.in_request--;
		d->failures++;
		fail_over(f, d, d->req_sid);
		fleet_wake_in(f, d, backoff_ns(d));
	}
}

/* Time from the device's now until next_req_time (a decimal epoch-ms string; a number is
 * accepted too), plus a little jitter; `dflt_ms` when the field is absent or not in the future. */
static uint64_t until_next_req(fleet *f, device *d, const cJSON *hdr, uint64_t dflt_ms)
{
	const cJSON *n = hdr ? cJSON_GetObjectItemCaseSensitive(hdr, "next_req_time") : NULL;
	int64_t at = 0;
	if (cJSON_IsString(n))
		at = strtoll(n->valuestring, NULL, 10);
	else if (cJSON_IsNumber(n))
		at = (int64_t)n->valuedouble;
	int64_t wait = at > 0 ? at - dev_wall_ms(f, d) : -1;
	if (wait <= 0)
		return jitter_ms(d, dflt_ms) * FLEET_NS_PER_MS;
	if ((uint64_t)wait > f->cfg.max_wait_ms)
		wait = (int64_t)f->cfg.max_wait_ms;
	/* never earlier than told; spread by up to a tenth (at most a second) */
	uint64_t spread = (uint64_t)wait / 10 < 1000 ? (uint64_t)wait / 10 : 1000;
	return ((uint64_t)wait + rt_rng_u64(&d->rng) % (spread + 1)) * FLEET_NS_PER_MS;
}

void fleet_dev_drop_upload(device *d)
{
	if (d->queued) { /* its queued training goes too */
		fleet *f = d->f;
		for (size_t i = 0; i < f->tq_len; i++)
			if (f->tq[i].weights == d->weights) {
				f->tq[i] = f->tq[--f->tq_len];
				break;
			}
		d->queued = 0;
	}
	free(d->weights);
	d->weights = NULL;
}

/* A RequestError about the timestamp (the server's replay check), not about a missing field. */
static int is_time_rejection(const cJSON *hdr)
{
	const cJSON *reason = hdr ? cJSON_GetObjectItemCaseSensitive(hdr, "reason") : NULL;
	if (!cJSON_IsString(reason) || !strstr(reason->valuestring, "timestamp"))
		return 0;
	return strstr(reason->valuestring, "differ") || strstr(reason->valuestring, "replay") ||
	       strstr(reason->valuestring, "expired") || strstr(reason->valuestring, "out of range");
}

static int64_t json_i64(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
		return (int64_t)v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring[0])
		return strtoll(v->valuestring, NULL, 10);
	return dflt;
}

/* Copy the tensors of a served model into dst (model order); zero where one is missing. */
static void copy_model(const model_def *m, const env_tensor *t, size_t nt, float *dst)
{
	memset(dst, 0, m->total * sizeof(float));
	for (size_t i = 0; i < nt; i++) {
		int k = model_def_find(m, t[i].name);
		if (k >= 0 && t[i].count == m->tensors[k].count)
			memcpy(dst + m->tensors[k].offset, t[i].data, t[i].count * sizeof(float));
	}
}

/* A failed request (anything but SUCCEED). */
static void handle_failure(fleet *f, device *d, fleet_round round, int retcode, const cJSON *hdr)
{
	if (retcode == 300 || retcode == 201) {
		/* the server is alive and said when to come back */
		d->failures = 0;
		if (round == FLEET_GET && retcode == 201) {
			/* not aggregated yet: poll again, as MindSpore's client does, after a short
			 * sleep (sooner if next_req_time says so: it may be the end of the whole
			 * iteration window) */
			uint64_t poll = jitter_ms(d, FLEET_POLL_MS) * FLEET_NS_PER_MS;
			uint64_t next = until_next_req(f, d, hdr, FLEET_POLL_MS);
			d->state = D_GET;
			fleet_wake_in(f, d, next < poll ? next : poll);
			return;
		}
		/* OutOfTime: this iteration is over for the device (or full); start over */
		if (round == FLEET_UPDATE)
			fleet_dev_drop_upload(d);
		d->state = D_START;
		fleet_wake_in(f, d, until_next_req(f, d, hdr, 1000));
		return;
	}
	d->failures++;
	if (retcode == 400) {
		if (round == FLEET_UPDATE)
			fleet_dev_drop_upload(d);
		d->state = D_START;
		fleet_wake_in(f, d, backoff_ns(d));
		return;
	}
	/* SystemError, a gate or HTTP error, a connection failure: the server may be down or not
	 * serving; retry elsewhere, keeping the trained upload for a few tries */
	fail_over(f, d, d->req_sid);
	if (round == FLEET_UPDATE && d->failures > FLEET_UPDATE_RETRIES) {
		fleet_dev_drop_upload(d);
		d->state = D_START;
	} else if (round == FLEET_GET && d->failures > FLEET_GET_RETRIES) {
		d->state = D_START;
	}
	fleet_wake_in(f, d, backoff_ns(d));
}

/* startFLJob SUCCEED: take the model and the plan, train (or drop out), then upload later. */
static void handle_start_ok(fleet *f, device *d, const cJSON *hdr, const env_tensor *t, size_t nt,
			    size_t bytes_in)
{
	const model_def *m = f->cfg.model;
	d->iteration = json_i64(hdr, "iteration", d->iteration);
	if (f->cfg.dropout > 0 && rt_rng_double(&d->rng) < f->cfg.dropout) {
		/* the device vanishes mid-round (the server counted it) and comes back later */
		f->st.dropouts++;
		d->state = D_START;
		d->off = 1;
		fleet_wake_in(f, d, jitter_ms(d, 30000) * FLEET_NS_PER_MS);
		return;
	}
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(hdr, "fl_plan_config");
	int64_t epochs = json_i64(plan, "epochs", 1), batch = json_i64(plan, "mini_batch", 32);
	const cJSON *l = plan ? cJSON_GetObjectItemCaseSensitive(plan, "lr") : NULL;
	float lr = cJSON_IsNumber(l) && isfinite(l->valuedouble) ? (float)l->valuedouble : 0.01f;
	if (epochs < 1 || epochs > 100)
		epochs = 1;
	if (batch < 1 || batch > 65536)
		batch = 32;
	fleet_dev_drop_upload(d);
	if (f->cfg.train_batch) {
		d->weights = malloc(m->total * sizeof(float));
		if (d->weights) {
			copy_model(m, t, nt, d->weights);
			d->loss = 0;
			if (f->tq_len == f->cfg.train_batch_max)
				train_flush(f);
			d->queued = 1;
			f->tq[f->tq_len++] = (fleet_train_job){(long)d->index, d->iteration, (int)epochs,
							       (int)batch, lr, d->weights, 0, 0};
		}
	} else if (f->cfg.train) {
		d->weights = malloc(m->total * sizeof(float));
		if (d->weights) {
			copy_model(m, t, nt, d->weights);
			d->loss = 0;
			if (f->cfg.train(f->cfg.train_ctx, (long)d->index, d->iteration, (int)epochs,
					 (int)batch, lr, d->weights, m->total, &d->loss)) {
				/* training failed: upload the model unchanged rather than nothing */
				copy_model(m, t, nt, d->weights);
			}
		}
	} else {
		/* a loss curve that falls with the iterations, different per device */
		double jit = (double)(rt_seed_derive_u64(f->cfg.seed ^ (uint64_t)d->iteration, d->index) >> 11) /
			     9007199254740992.0;
		d->loss = (float)(2.3 * exp(-0.08 * (double)d->iteration) * (0.9 + 0.2 * jit));
	}
	double compute_ms = (double)d->compute_ms * (double)d->data_size * (double)epochs;
	d->state = D_UPDATE;
	fleet_wake_in(f, d, transfer_ns(d, bytes_in) + (uint64_t)(compute_ms * 1e6) +
			      transfer_ns(d, m->total * sizeof(float)));
}

static void handle_ok(fleet *f, device *d, fleet_round round, const cJSON *hdr,
		      const env_tensor *t, size_t nt, const float *sent)
{
	const model_def *m = f->cfg.model;
	d->failures = 0;
	f->st.ok[round]++;
	size_t bytes_in = 0;
	for (size_t i = 0; i < nt; i++)
		bytes_in += t[i].count * sizeof(float);
	switch (round) {
	case FLEET_START:
		handle_start_ok(f, d, hdr, t, nt, bytes_in);
		return;
	case FLEET_UPDATE:
		f->st.updates_accepted++;
		if (f->cfg.obs.on_update_accepted) {
			const float *w = d->weights ? d->weights : sent;
			if (!w) { /* synthetic: regenerate the upload */
				synthetic_update(f, d, f->scratch, m->total);
				w = f->scratch;
			}
			f->cfg.obs.on_update_accepted(f->cfg.obs.ctx, d->req_sid, (long)d->index,
						      d->iteration, d->data_size, w, m->total);
		}
		fleet_dev_drop_upload(d);
		d->state = D_GET;
		fleet_wake_in(f, d, jitter_ms(d, 200) * FLEET_NS_PER_MS);
		return;
	case FLEET_GET: {
		/* the model's own iteration; the header's "iteration" is the server's current */
		int64_t iter = json_i64(hdr, "model_iteration", d->iteration);
		if (f->cfg.obs.on_model && nt &&
		    (!f->cfg.obs.want_model || f->cfg.obs.want_model(f->cfg.obs.ctx, d->req_sid, iter))) {
			copy_model(m, t, nt, f->scratch);
			f->cfg.obs.on_model(f->cfg.obs.ctx, d->req_sid, iter, f->scratch, m->total);
		}
		d->state = D_START;
		fleet_wake_in(f, d, transfer_ns(d, bytes_in) + jitter_ms(d, 100) * FLEET_NS_PER_MS);
		return;
	}
	default:
		d->state = D_START;
		fleet_wake_in(f, d, jitter_ms(d, 1000) * FLEET_NS_PER_MS);
		return;
	}
}

/* The tensors of the upload as sent: the last model-sized part of the request body (the
 * envelope puts them there, 4-byte aligned since the body is 8-byte aligned). NULL if absent. */
static const float *sent_floats(const fleet *f, const http_response *resp)
{
	size_t bytes = f->cfg.model->total * sizeof(float);
	if (!resp || !resp->req_body || resp->req_body_len < bytes ||
	    (uintptr_t)(resp->req_body + resp->req_body_len - bytes) % sizeof(float))
		return NULL;
	return (const float *)(const void *)(resp->req_body + resp->req_body_len - bytes);
}

static void on_response(int err, const http_response *resp, void *data)
{
	device *d = data;
	fleet *f = d->f;
	fleet_round round = (fleet_round)d->round;
	d->busy = 0;
	f->st.in_request--;
	if (err == RT_ECANCELED) /* http_client_free inside fleet_destroy */
		return;
	if (d->stale) {
		/* the answer to a removed incarnation of this device: drop it; the new one waited */
		d->stale = 0;
		if (d->state != D_GONE && d->heap_pos == UINT32_MAX)
			fleet_wake_in(f, d, 0);
		return;
	}
	if (d->state == D_GONE) {
		/* removed by a resize while uploading: if the server accepted the upload it counts
		 * in the FedAvg, so the observer (validity) must still hear of it */
		cJSON *h = NULL;
		if (round == FLEET_UPDATE && !err && resp->status == 200 && f->cfg.obs.on_update_accepted &&
		    !envelope_decode(resp->body, resp->body_len, &h, NULL, NULL) &&
		    json_i64(h, "retcode", 500) == 200) {
			const float *w = d->weights ? d->weights : sent_floats(f, resp);
			if (!w) {
				synthetic_update(f, d, f->scratch, f->cfg.model->total);
				w = f->scratch;
			}
			f->cfg.obs.on_update_accepted(f->cfg.obs.ctx, d->req_sid, (long)d->index, d->iteration,
						      d->data_size, w, f->cfg.model->total);
		}
		cJSON_Delete(h);
		fleet_dev_drop_upload(d);
		return;
	}
	uint64_t lat = rt_now_ns(f->host) - d->req_start_ns;
	int retcode = err;
	cJSON *hdr = NULL;
	env_tensor *t = NULL;
	size_t nt = 0;
	if (!err) {
		f->st.bytes_in += resp->body_len;
		f->st.bytes_out += d->req_bytes;
		if (resp->status != 200 || envelope_decode_lean(resp->body, resp->body_len, &hdr, &t, &nt)) {
			retcode = 0; /* gate text or an HTTP error */
		} else {
			const cJSON *rc = cJSON_GetObjectItemCaseSensitive(hdr, "retcode");
			retcode = cJSON_IsNumber(rc) ? (int)rc->valuedouble : 500;
		}
	} else {
		f->st.conn_errors++;
	}
	if (retcode != 200)
		f->st.rejected[round]++;
	if (retcode == 400 && is_time_rejection(hdr)) {
		f->st.time_rejected++;
		if (f->cfg.obs.on_time_rejected)
			f->cfg.obs.on_time_rejected(f->cfg.obs.ctx, d->req_sid, (long)d->index,
						    dev_wall_ms(f, d) - (int64_t)(lat / FLEET_NS_PER_MS));
	}
	if (f->cfg.obs.on_request)
		f->cfg.obs.on_request(f->cfg.obs.ctx, round, d->req_sid, retcode, lat, d->req_bytes,
				      err ? 0 : resp->body_len);
	if (retcode == 200)
		handle_ok(f, d, round, hdr, t, nt, round == FLEET_UPDATE ? sent_floats(f, resp) : NULL);
	else
		handle_failure(f, d, round, retcode, hdr);
	free(t);
	cJSON_Delete(hdr);
}

void fleet_dev_act(fleet *f, device *d)
{
	if (d->busy || d->state == D_GONE)
		return; /* a busy device is woken by its answer */
	d->off = 0;
	uint64_t now = rt_now_ns(f->host);
	if (d->state == D_START && f->cfg.online_fraction < 1 &&
	    now - f->t0_ns >= (uint64_t)d->session_end_s * 1000000000ULL) {
		/* the session is over: offline for a while, before a new iteration starts */
		uint64_t spell = fleet_offline_ns(f, d);
		d->session_end_s = fleet_session_end(f, d, now + spell);
		d->off = 1;
		fleet_wake_in(f, d, spell);
		return;
	}
	switch (d->state) {
	case D_START: send_round(f, d, FLEET_START); break;
	case D_UPDATE: send_round(f, d, FLEET_UPDATE); break;
	case D_GET: send_round(f, d, FLEET_GET); break;
	default: break;
	}
}
