/*
 * fleet.c — simulated devices (see fleet.h).
 *
 * Devices live in fixed-size chunks so that a device's address never moves (in-flight HTTP
 * callbacks carry it) while the fleet grows. A binary heap of (wake time, device index) with one
 * rt timer drives every device; ties break by device index, so the order is deterministic.
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
#include "fleet.h"

#include "../../node/proto/envelope.h"
#include "../../node/proto/http.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
#define NS_PER_MS 1000000ULL
#define MAX_DEVICES 10000000L
#define MAX_WAIT_MS (10 * 60 * 1000)  /* a next_req_time further out is not believed */
#define UPDATE_RETRIES 3              /* failed-over uploads of one trained model */
#define GET_RETRIES 5                 /* failed-over getModel polls before starting over */

enum dev_state {
	D_START = 0, /* next: startFLJob */
	D_UPDATE,    /* trained; next: updateModel */
	D_GET,       /* uploaded; next: getModel */
	D_GONE,      /* removed by a resize */
};

/* 128 bytes; fields ordered by size so there is no padding. */
typedef struct device {
	struct fleet *f;
	float *weights;        /* the upload (real training, or kept for the observer), else NULL */
	uint64_t wake_ns;
	uint64_t req_start_ns;
	int64_t iteration;
	int64_t skew_ms;
	rt_rng rng;
	uint32_t index;
	uint32_t heap_pos;     /* UINT32_MAX when not in the heap */
	uint32_t req_bytes;
	int32_t req_sid;       /* the engine's id of the server the request in flight went to */
	float compute_ms, bw_kbps, data_size, loss;
	int16_t server;        /* index into f->servers, -1 = pick one */
	uint16_t failures;     /* consecutive, for backoff */
	uint8_t state;
	uint8_t busy;          /* a request is in flight */
	uint8_t round;         /* of the request in flight */
	uint8_t stale;         /* the request in flight belongs to a removed earlier incarnation */
} device;

struct fleet {
	rt_host *host;
	fleet_config cfg;
	http_client *http;
	rt_timer *timer;
	uint64_t timer_due;
	device **chunks;
	size_t nchunks;
	long n;   /* live devices: indices [0, n) */
	long cap; /* devices allocated (chunks * CHUNK) */
	uint32_t *heap; /* device indices */
	size_t heap_len, heap_cap;
	fleet_server *servers;
	size_t nservers;
	fleet_stats st;
	float *scratch; /* model-sized buffer for synthetic uploads and served models */
};

static inline device *dev_at(const fleet *f, long i) { return &f->chunks[i / CHUNK][i % CHUNK]; }

const char *fleet_round_name(fleet_round r)
{
	static const char *const n[] = {"startFLJob", "updateModel", "getModel", "pushMetrics"};
	return (unsigned)r < FLEET_ROUNDS ? n[r] : "?";
}

static double gauss(rt_rng *r)
{
	double u1 = rt_rng_double(r), u2 = rt_rng_double(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double fleet_dist_draw(const fleet_dist *d, rt_rng *r)
{
	switch (d->kind) {
	case FLEET_UNIFORM: return d->a + (d->b - d->a) * rt_rng_double(r);
	case FLEET_NORMAL: return d->a + d->b * gauss(r);
	case FLEET_LOGNORMAL: return d->a * exp(d->b * gauss(r));
	default: return d->a;
	}
}

/* ---- wake-up heap ---- */

static int heap_less(const fleet *f, uint32_t a, uint32_t b)
{
	const device *da = dev_at(f, a), *db = dev_at(f, b);
	return da->wake_ns < db->wake_ns || (da->wake_ns == db->wake_ns && a < b);
}

static void heap_set(fleet *f, size_t pos, uint32_t idx)
{
	f->heap[pos] = idx;
	dev_at(f, idx)->heap_pos = (uint32_t)pos;
}

static void heap_up(fleet *f, size_t pos)
{
	uint32_t idx = f->heap[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!heap_less(f, idx, f->heap[parent]))
			break;
		heap_set(f, pos, f->heap[parent]);
		pos = parent;
	}
	heap_set(f, pos, idx);
}

static void heap_down(fleet *f, size_t pos)
{
	uint32_t idx = f->heap[pos];
	for (;;) {
		size_t l = 2 * pos + 1, r = l + 1, m = pos;
		uint32_t best = idx;
		if (l < f->heap_len && heap_less(f, f->heap[l], best))
			m = l, best = f->heap[l];
		if (r < f->heap_len && heap_less(f, f->heap[r], best))
			m = r, best = f->heap[r];
		if (m == pos)
			break;
		heap_set(f, pos, best);
		pos = m;
	}
	heap_set(f, pos, idx);
}

static void heap_remove(fleet *f, device *d)
{
	if (d->heap_pos == UINT32_MAX)
		return;
	size_t pos = d->heap_pos;
	d->heap_pos = UINT32_MAX;
	uint32_t last = f->heap[--f->heap_len];
	if (pos == f->heap_len)
		return;
	heap_set(f, pos, last);
	heap_up(f, pos);
	heap_down(f, dev_at(f, last)->heap_pos);
}

/* (Re)arm the fleet's one timer for the earliest wake-up. */
static void arm(fleet *f)
{
	if (!f->heap_len) {
		rt_timer_stop(f->timer);
		f->timer_due = UINT64_MAX;
		return;
	}
	uint64_t due = dev_at(f, f->heap[0])->wake_ns, now = rt_now_ns(f->host);
	if (rt_timer_active(f->timer) && f->timer_due <= due)
		return;
	f->timer_due = due;
	/* round up: a device never acts before its wake time (next_req_time is a lower bound) */
	uint64_t delay_ms = due > now ? (due - now + NS_PER_MS - 1) / NS_PER_MS : 0;
	rt_timer_start(f->timer, delay_ms, 0);
}

/* Wake the device `delay_ns` from now. */
static void wake_in(fleet *f, device *d, uint64_t delay_ns)
{
	heap_remove(f, d);
	d->wake_ns = rt_now_ns(f->host) + delay_ns;
	if (f->heap_len == f->heap_cap) {
		/* room for every device is reserved by fleet_resize, so this only runs if that
		 * reservation failed; the device then sleeps until the next resize */
		size_t cap = f->heap_cap ? f->heap_cap * 2 : 1024;
		uint32_t *h = realloc(f->heap, cap * sizeof *h);
		if (!h)
			return;
		f->heap = h;
		f->heap_cap = cap;
	}
	f->heap[f->heap_len++] = d->index;
	d->heap_pos = (uint32_t)(f->heap_len - 1);
	heap_up(f, f->heap_len - 1);
	arm(f);
}

/* ---- requests ---- */

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
	return jitter_ms(d, 500ULL << k) * NS_PER_MS;
}

/* Seconds to move `bytes` at the device's bandwidth, in ns. */
static uint64_t transfer_ns(const device *d, size_t bytes)
{
	return (uint64_t)((double)bytes * 8.0 / ((double)d->bw_kbps * 1000.0) * 1e9);
}

/* The synthetic pseudo-update of (seed, device, iteration) into out. */
static void synthetic_update(const fleet *f, const device *d, float *out, size_t n)
{
	rt_rng r;
	rt_rng_seed(&r, rt_seed_derive_u64(rt_seed_derive_u64(f->cfg.seed, d->index),
					   (uint64_t)d->iteration));
	for (size_t i = 0; i < n; i++)
		out[i] = (float)(rt_rng_double(&r) * 2.0 - 1.0) * 0.01f;
}

static void send_round(fleet *f, device *d, fleet_round round)
{
	int s = pick_server(f, d);
	if (s < 0) {
		wake_in(f, d, 1000 * NS_PER_MS);
		return;
	}
	const model_def *m = f->cfg.model;
	cJSON *hdr = cJSON_CreateObject();
	char fl_id[32], ts[32];
	snprintf(fl_id, sizeof fl_id, "device-%" PRIu32, d->index);
	snprintf(ts, sizeof ts, "%" PRId64, dev_wall_ms(f, d));
	int bad = !hdr || !cJSON_AddStringToObject(hdr, "fl_name", f->cfg.fl_name) ||
		  !cJSON_AddStringToObject(hdr, "fl_id", fl_id) ||
		  !cJSON_AddStringToObject(hdr, "timestamp", ts);
	if (round == FLEET_START)
		bad = bad || !cJSON_AddNumberToObject(hdr, "data_size", (double)d->data_size);
	else
		bad = bad || !cJSON_AddNumberToObject(hdr, "iteration", (double)d->iteration);
	env_tensor tensors[MODEL_MAX_TENSORS];
	size_t nt = 0;
	if (round == FLEET_UPDATE && !bad) {
		const float *w = d->weights;
		if (!w) {
			synthetic_update(f, d, f->scratch, m->total);
			w = f->scratch;
			/* the validity invariant needs what was accepted: keep it until the answer */
			if (f->cfg.obs.on_update_accepted) {
				d->weights = malloc(m->total * sizeof(float));
				if (d->weights)
					memcpy(d->weights, w, m->total * sizeof(float));
			}
		}
		for (size_t i = 0; i < m->ntensors; i++)
			tensors[nt++] = (env_tensor){m->tensors[i].name, w + m->tensors[i].offset,
						     m->tensors[i].count};
		bad = !cJSON_AddNumberToObject(hdr, "upload_loss", d->loss);
	}
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = bad ? ENV_ENOMEM : envelope_encode(hdr, tensors, nt, &body, &len);
	cJSON_Delete(hdr);
	if (rc || len > UINT32_MAX) {
		free(body);
		d->failures++;
		wake_in(f, d, backoff_ns(d));
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
	rc = http_client_request(f->http, f->servers[s].ip, f->servers[s].port, "POST", path,
				 "application/octet-stream", body, len, NULL, f->cfg.request_timeout_ms,
				 on_response, d);
	free(body);
	if (rc) {
		/* a bad address in the server list, or out of memory: try another one later */
		d->busy = 0;
		f->st.in_request--;
		d->failures++;
		fail_over(f, d, d->req_sid);
		wake_in(f, d, backoff_ns(d));
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
		return jitter_ms(d, dflt_ms) * NS_PER_MS;
	if (wait > MAX_WAIT_MS)
		wait = MAX_WAIT_MS;
	/* never earlier than told; spread by up to a tenth (at most a second) */
	uint64_t spread = (uint64_t)wait / 10 < 1000 ? (uint64_t)wait / 10 : 1000;
	return ((uint64_t)wait + rt_rng_u64(&d->rng) % (spread + 1)) * NS_PER_MS;
}

static void upload_done(device *d)
{
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
			d->state = D_GET; /* not aggregated yet: poll again */
			wake_in(f, d, until_next_req(f, d, hdr, 500));
			return;
		}
		/* OutOfTime: this iteration is over for the device (or full); start over */
		if (round == FLEET_UPDATE)
			upload_done(d);
		d->state = D_START;
		wake_in(f, d, until_next_req(f, d, hdr, 1000));
		return;
	}
	d->failures++;
	if (retcode == 400) {
		if (round == FLEET_UPDATE)
			upload_done(d);
		d->state = D_START;
		wake_in(f, d, backoff_ns(d));
		return;
	}
	/* SystemError, a gate or HTTP error, a connection failure: the server may be down or not
	 * serving; retry elsewhere, keeping the trained upload for a few tries */
	fail_over(f, d, d->req_sid);
	if (round == FLEET_UPDATE && d->failures > UPDATE_RETRIES) {
		upload_done(d);
		d->state = D_START;
	} else if (round == FLEET_GET && d->failures > GET_RETRIES) {
		d->state = D_START;
	}
	wake_in(f, d, backoff_ns(d));
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
		wake_in(f, d, jitter_ms(d, 30000) * NS_PER_MS);
		return;
	}
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(hdr, "fl_plan_config");
	int64_t epochs = json_i64(plan, "epochs", 1), batch = json_i64(plan, "mini_batch", 32);
	const cJSON *l = plan ? cJSON_GetObjectItemCaseSensitive(plan, "lr") : NULL;
	float lr = cJSON_IsNumber(l) && isfinite(l->valuedouble) ? (float)l->valuedouble : 0.01f;
	if (epochs < 1 || epochs > 1000)
		epochs = 1;
	if (batch < 1 || batch > 65536)
		batch = 32;
	upload_done(d);
	if (f->cfg.train) {
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
	wake_in(f, d, transfer_ns(d, bytes_in) + (uint64_t)(compute_ms * 1e6) +
			      transfer_ns(d, m->total * sizeof(float)));
}

static void handle_ok(fleet *f, device *d, fleet_round round, const cJSON *hdr,
		      const env_tensor *t, size_t nt)
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
			const float *w = d->weights;
			if (!w) { /* could not keep a copy: regenerate the synthetic upload */
				synthetic_update(f, d, f->scratch, m->total);
				w = f->scratch;
			}
			f->cfg.obs.on_update_accepted(f->cfg.obs.ctx, d->req_sid, (long)d->index,
						      d->iteration, d->data_size, w, m->total);
		}
		upload_done(d);
		d->state = D_GET;
		wake_in(f, d, jitter_ms(d, 200) * NS_PER_MS);
		return;
	case FLEET_GET: {
		if (f->cfg.obs.on_model && nt) {
			copy_model(m, t, nt, f->scratch);
			/* the model's own iteration; the header's "iteration" is the server's current */
			int64_t iter = json_i64(hdr, "model_iteration", d->iteration);
			f->cfg.obs.on_model(f->cfg.obs.ctx, d->req_sid, iter, f->scratch, m->total);
		}
		d->state = D_START;
		/* availability: an offline spell between iterations keeps the online share */
		double on = f->cfg.online_fraction;
		uint64_t pause = transfer_ns(d, bytes_in) + jitter_ms(d, 100) * NS_PER_MS;
		if (on < 1 && rt_rng_double(&d->rng) >= on) {
			double session = fleet_dist_draw(&f->cfg.session_s, &d->rng);
			if (!(session > 0))
				session = 60;
			pause += (uint64_t)(session * (1 - on) / (on > 0.01 ? on : 0.01) * 1e9);
		}
		wake_in(f, d, pause);
		return;
	}
	default:
		d->state = D_START;
		wake_in(f, d, jitter_ms(d, 1000) * NS_PER_MS);
		return;
	}
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
			wake_in(f, d, 0);
		return;
	}
	if (d->state == D_GONE) {
		upload_done(d);
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
		if (resp->status != 200 || envelope_decode(resp->body, resp->body_len, &hdr, &t, &nt)) {
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
						    dev_wall_ms(f, d) - (int64_t)(lat / NS_PER_MS));
	}
	if (f->cfg.obs.on_request)
		f->cfg.obs.on_request(f->cfg.obs.ctx, round, d->req_sid, retcode, lat, d->req_bytes,
				      err ? 0 : resp->body_len);
	if (retcode == 200)
		handle_ok(f, d, round, hdr, t, nt);
	else
		handle_failure(f, d, round, retcode, hdr);
	free(t);
	cJSON_Delete(hdr);
}

static void act(fleet *f, device *d)
{
	if (d->busy || d->state == D_GONE)
		return; /* a busy device is woken by its answer */
	switch (d->state) {
	case D_START: send_round(f, d, FLEET_START); break;
	case D_UPDATE: send_round(f, d, FLEET_UPDATE); break;
	case D_GET: send_round(f, d, FLEET_GET); break;
	default: break;
	}
}

static void on_timer(rt_timer *t, void *data)
{
	fleet *f = data;
	uint64_t now = rt_now_ns(f->host);
	f->timer_due = UINT64_MAX;
	/* wake everyone due; bounded per tick so a huge fleet yields to the network */
	for (int k = 0; k < 4096 && f->heap_len; k++) {
		device *d = dev_at(f, f->heap[0]);
		if (d->wake_ns > now)
			break;
		heap_remove(f, d);
		act(f, d);
	}
	arm(f);
}

/* ---- devices ---- */

static void dev_init(fleet *f, device *d, long i)
{
	memset(d, 0, sizeof *d);
	d->f = f;
	d->index = (uint32_t)i;
	d->heap_pos = UINT32_MAX;
	d->server = -1;
	d->req_sid = -1;
	rt_rng_seed(&d->rng, rt_seed_derive_u64(f->cfg.seed, (uint64_t)i));
	double c = fleet_dist_draw(&f->cfg.compute_ms_per_sample, &d->rng);
	double bw = fleet_dist_draw(&f->cfg.bandwidth_kbps, &d->rng);
	double ds = fleet_dist_draw(&f->cfg.samples, &d->rng);
	double sk = fleet_dist_draw(&f->cfg.clock_skew_ms, &d->rng);
	d->compute_ms = (float)(c > 0 ? c : 0);
	d->bw_kbps = (float)(bw > 1 ? bw : 1);
	d->data_size = (float)(ds >= 1 ? floor(ds) : 1);
	d->skew_ms = isfinite(sk) ? (int64_t)sk : 0;
}

static int grow(fleet *f, long n)
{
	while (f->cap < n) {
		device **c = realloc(f->chunks, (f->nchunks + 1) * sizeof *c);
		if (!c)
			return FLEET_ENOMEM;
		f->chunks = c;
		f->chunks[f->nchunks] = calloc(CHUNK, sizeof(device));
		if (!f->chunks[f->nchunks])
			return FLEET_ENOMEM;
		f->nchunks++;
		f->cap += CHUNK;
	}
	if (f->heap_cap < (size_t)n) {
		/* every live device fits in the heap, so wake_in never has to allocate */
		uint32_t *h = realloc(f->heap, (size_t)n * sizeof *h);
		if (!h)
			return FLEET_ENOMEM;
		f->heap = h;
		f->heap_cap = (size_t)n;
	}
	return 0;
}

int fleet_resize(fleet *f, long n)
{
	if (!f || n < 0 || n > MAX_DEVICES)
		return FLEET_EINVAL;
	if (grow(f, n))
		return FLEET_ENOMEM;
	for (long i = n; i < f->n; i++) {
		device *d = dev_at(f, i);
		heap_remove(f, d);
		upload_done(d);
		d->state = D_GONE;
	}
	for (long i = f->n; i < n; i++) {
		device *d = dev_at(f, i);
		/* an earlier incarnation removed by a shrink may still wait for an answer */
		int busy = d->f == f && d->busy;
		dev_init(f, d, i);
		d->busy = d->stale = (uint8_t)busy;
		/* spread the first requests over a second so a fleet does not arrive as one burst */
		double on = f->cfg.online_fraction;
		uint64_t first = rt_rng_u64(&d->rng) % 1000;
		if (on < 1 && rt_rng_double(&d->rng) >= on) {
			/* starts offline, for part of a session */
			double session = fleet_dist_draw(&f->cfg.session_s, &d->rng);
			first += (uint64_t)((session > 0 ? session : 60) * 1000 * rt_rng_double(&d->rng));
		}
		wake_in(f, d, first * NS_PER_MS);
	}
	f->n = n;
	return 0;
}

int fleet_new(rt_host *h, const fleet_config *cfg, fleet **out)
{
	if (!h || !cfg || !cfg->model || !cfg->model->total || cfg->devices < 0 ||
	    cfg->devices > MAX_DEVICES || !out)
		return FLEET_EINVAL;
	fleet *f = calloc(1, sizeof *f);
	if (!f)
		return FLEET_ENOMEM;
	f->host = h;
	f->cfg = *cfg;
	f->cfg.fl_name[sizeof f->cfg.fl_name - 1] = '\0';
	f->cfg.url_prefix[sizeof f->cfg.url_prefix - 1] = '\0';
	f->timer_due = UINT64_MAX;
	if (!f->cfg.fl_name[0])
		snprintf(f->cfg.fl_name, sizeof f->cfg.fl_name, "flbench");
	if (f->cfg.samples.kind == FLEET_FIXED && f->cfg.samples.a <= 0)
		f->cfg.samples.a = 600;
	if (f->cfg.bandwidth_kbps.kind == FLEET_FIXED && f->cfg.bandwidth_kbps.a <= 0)
		f->cfg.bandwidth_kbps.a = 10000;
	if (f->cfg.session_s.kind == FLEET_FIXED && f->cfg.session_s.a <= 0)
		f->cfg.session_s.a = 60;
	if (!(f->cfg.online_fraction > 0) || f->cfg.online_fraction > 1)
		f->cfg.online_fraction = 1;
	if (!(f->cfg.dropout >= 0))
		f->cfg.dropout = 0;
	if (!f->cfg.request_timeout_ms)
		f->cfg.request_timeout_ms = 30000;
	http_client_config hc = {.max_idle_per_dest = 64};
	f->scratch = malloc(cfg->model->total * sizeof(float));
	f->timer = rt_timer_new(h, on_timer, f);
	if (!f->scratch || !f->timer || http_client_new(h, &hc, &f->http) ||
	    fleet_resize(f, cfg->devices)) {
		fleet_destroy(f);
		return FLEET_ENOMEM;
	}
	*out = f;
	return 0;
}

/*
 * http_client_free completes every outstanding request synchronously, inside the call, with
 * RT_ECANCELED (see http.h); on_response then only clears the device's busy flag. So the client
 * goes first, while every device is still allocated, and nothing reaches the fleet afterwards.
 */
void fleet_destroy(fleet *f)
{
	if (!f)
		return;
	if (f->http)
		http_client_free(f->http);
	f->http = NULL;
	rt_timer_free(f->timer);
	for (long i = 0; i < f->cap; i++)
		free(dev_at(f, i)->weights);
	for (size_t c = 0; c < f->nchunks; c++)
		free(f->chunks[c]);
	free(f->chunks);
	free(f->heap);
	free(f->servers);
	free(f->scratch);
	free(f);
}

int fleet_set_servers(fleet *f, const fleet_server *servers, size_t n)
{
	if (!f || (n && !servers) || n > INT16_MAX)
		return FLEET_EINVAL;
	fleet_server *copy = n ? malloc(n * sizeof *copy) : NULL;
	if (n && !copy)
		return FLEET_ENOMEM;
	if (n)
		memcpy(copy, servers, n * sizeof *copy);
	for (size_t i = 0; i < n; i++)
		copy[i].ip[sizeof copy[i].ip - 1] = '\0';
	free(f->servers);
	f->servers = copy;
	f->nservers = n;
	/* devices re-pick: a server may be gone, and new ones should get traffic */
	for (long i = 0; i < f->n; i++)
		dev_at(f, i)->server = -1;
	return 0;
}

void fleet_skew(fleet *f, double share, int64_t offset_ms)
{
	if (!f || !(share > 0))
		return;
	long k = (long)floor((share < 1 ? share : 1) * (double)f->n + 0.5);
	for (long i = 0; i < k && i < f->n; i++)
		dev_at(f, i)->skew_ms += offset_ms;
}

void fleet_get_stats(const fleet *f, fleet_stats *st)
{
	*st = f->st;
	st->devices = f->n;
	long training = 0, online = 0;
	uint64_t now = rt_now_ns(f->host);
	for (long i = 0; i < f->n; i++) {
		const device *d = dev_at(f, i);
		training += d->state == D_UPDATE && !d->busy;
		/* a device asleep for more than a minute is counted offline */
		online += d->busy || d->wake_ns < now + 60000 * NS_PER_MS;
	}
	st->training = training;
	st->online = online;
	size_t bytes = sizeof *f + f->nchunks * (CHUNK * sizeof(device) + sizeof(device *)) +
		       f->heap_cap * sizeof(uint32_t) + f->nservers * sizeof(fleet_server) +
		       f->cfg.model->total * sizeof(float);
	st->bytes_per_device = f->n ? bytes / (size_t)f->n : 0;
}
