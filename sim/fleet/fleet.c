/*
 * fleet.c — simulated devices (see fleet.h).
 *
 * Devices live in fixed-size chunks so that a device's address never moves (in-flight HTTP
 * callbacks carry it) while the fleet grows. A binary heap of (wake time, device index) with one
 * rt timer drives every device; ties break by device index, so the order is deterministic.
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

enum dev_state {
	D_START = 0, /* next: startFLJob */
	D_UPDATE,    /* trained; next: updateModel */
	D_GET,       /* uploaded; next: getModel */
	D_GONE,      /* removed by a resize */
};

typedef struct device {
	struct fleet *f;
	long index;
	uint64_t wake_ns;
	uint32_t heap_pos; /* UINT32_MAX when not in the heap */
	uint8_t state;
	uint8_t busy;      /* a request is in flight */
	uint8_t round;     /* of the request in flight */
	int16_t server;    /* index into f->servers, -1 = pick one */
	uint16_t failures; /* consecutive, for backoff */
	int64_t iteration;
	int64_t skew_ms;
	uint64_t req_start_ns;
	size_t req_bytes;
	float compute_ms, bw_kbps, data_size;
	float loss;
	rt_rng rng;
	float *weights; /* the trained upload (real training), malloc'd between train and upload */
} device;

struct fleet {
	rt_host *host;
	fleet_config cfg;
	http_client *http;
	rt_timer *timer;
	uint64_t timer_due;
	device **chunks;
	size_t nchunks;
	long n; /* live devices: indices [0, n) */
	long cap;
	uint32_t *heap; /* device indices */
	size_t heap_len, heap_cap;
	fleet_server *servers;
	size_t nservers;
	fleet_stats st;
	float *scratch; /* model-sized buffer for synthetic uploads */
};

static inline device *dev_at(const fleet *f, long i) { return &f->chunks[i / CHUNK][i % CHUNK]; }

const char *fleet_round_name(fleet_round r)
{
	static const char *const n[] = {"startFLJob", "updateModel", "getModel", "pushMetrics"};
	return r < FLEET_ROUNDS ? n[r] : "?";
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

static void arm(fleet *f);

/* Wake the device `delay_ns` from now. */
static void wake_in(fleet *f, device *d, uint64_t delay_ns)
{
	heap_remove(f, d);
	d->wake_ns = rt_now_ns(f->host) + delay_ns;
	if (f->heap_len == f->heap_cap) {
		size_t cap = f->heap_cap ? f->heap_cap * 2 : 1024;
		uint32_t *h = realloc(f->heap, cap * sizeof *h);
		if (!h)
			return; /* the device sleeps until a resize; logged by the caller's stats */
		f->heap = h;
		f->heap_cap = cap;
	}
	f->heap[f->heap_len++] = (uint32_t)d->index;
	d->heap_pos = (uint32_t)(f->heap_len - 1);
	heap_up(f, f->heap_len - 1);
	arm(f);
}

static void on_timer(rt_timer *t, void *data);

static void arm(fleet *f)
{
	if (!f->heap_len) {
		rt_timer_stop(f->timer);
		return;
	}
	uint64_t due = dev_at(f, f->heap[0])->wake_ns, now = rt_now_ns(f->host);
	if (rt_timer_active(f->timer) && f->timer_due <= due)
		return;
	f->timer_due = due;
	uint64_t delay_ms = due > now ? (due - now + NS_PER_MS - 1) / NS_PER_MS : 0;
	rt_timer_start(f->timer, delay_ms, 0);
}

/* ---- requests ---- */

static int64_t dev_wall_ms(fleet *f, device *d) { return rt_wall_ms(f->host) + d->skew_ms; }

static void on_response(int err, const http_response *resp, void *data);

static int pick_server(fleet *f, device *d)
{
	if (!f->nservers)
		return -1;
	if (d->server < 0 || (size_t)d->server >= f->nservers)
		d->server = (int16_t)(rt_rng_u64(&d->rng) % f->nservers);
	return d->server;
}

static uint64_t jitter_ms(device *d, uint64_t base_ms)
{
	return base_ms + rt_rng_u64(&d->rng) % (base_ms / 2 + 1);
}

/* Exponential backoff with jitter after a failure: 0.5 s, 1 s, 2 s ... capped at 16 s. */
static uint64_t backoff_ns(device *d)
{
	unsigned k = d->failures < 5 ? d->failures : 5;
	return jitter_ms(d, 500ULL << k) * NS_PER_MS;
}

static int send_round(fleet *f, device *d, fleet_round round)
{
	int s = pick_server(f, d);
	if (s < 0) {
		wake_in(f, d, 1000 * NS_PER_MS);
		return 0;
	}
	cJSON *hdr = cJSON_CreateObject();
	char fl_id[32], ts[32];
	snprintf(fl_id, sizeof fl_id, "device-%ld", d->index);
	snprintf(ts, sizeof ts, "%" PRId64, dev_wall_ms(f, d));
	cJSON_AddStringToObject(hdr, "fl_name", f->cfg.fl_name);
	cJSON_AddStringToObject(hdr, "fl_id", fl_id);
	cJSON_AddStringToObject(hdr, "timestamp", ts);
	env_tensor tensors[MODEL_MAX_TENSORS];
	size_t nt = 0;
	const model_def *m = f->cfg.model;
	if (round == FLEET_START) {
		cJSON_AddNumberToObject(hdr, "data_size", (double)d->data_size);
	} else {
		cJSON_AddNumberToObject(hdr, "iteration", (double)d->iteration);
	}
	if (round == FLEET_UPDATE) {
		const float *w = d->weights;
		if (!w) {
			/* synthetic: a deterministic pseudo-update from (seed, device, iteration) */
			rt_rng r;
			rt_rng_seed(&r, rt_seed_derive_u64(rt_seed_derive_u64(f->cfg.seed, (uint64_t)d->index),
							   (uint64_t)d->iteration));
			for (size_t i = 0; i < m->total; i++)
				f->scratch[i] = (float)(rt_rng_double(&r) * 2.0 - 1.0) * 0.01f;
			w = f->scratch;
		}
		for (size_t i = 0; i < m->ntensors; i++)
			tensors[nt++] = (env_tensor){m->tensors[i].name, w + m->tensors[i].offset, m->tensors[i].count};
		cJSON_AddNumberToObject(hdr, "upload_loss", d->loss);
	}
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = envelope_encode(hdr, tensors, nt, &body, &len);
	cJSON_Delete(hdr);
	if (rc) {
		wake_in(f, d, backoff_ns(d));
		return rc;
	}
	if (round == FLEET_UPDATE && f->cfg.obs.on_update_accepted) {
		/* keep the upload until the answer: the validity invariant needs what was accepted */
		if (!d->weights) {
			d->weights = malloc(m->total * sizeof(float));
			if (d->weights)
				memcpy(d->weights, f->scratch, m->total * sizeof(float));
		}
	}
	char path[128];
	snprintf(path, sizeof path, "%s/%s", f->cfg.url_prefix, fleet_round_name(round));
	d->busy = 1;
	d->round = (uint8_t)round;
	d->req_start_ns = rt_now_ns(f->host);
	d->req_bytes = len;
	f->st.requests[round]++;
	f->st.in_request++;
	rc = http_client_request(f->http, f->servers[s].ip, f->servers[s].port, "POST", path,
				 "application/octet-stream", body, len, NULL, f->cfg.request_timeout_ms,
				 on_response, d);
	free(body);
	if (rc) {
		d->busy = 0;
		f->st.in_request--;
		wake_in(f, d, backoff_ns(d));
	}
	return rc;
}

/* Milliseconds from the device's now until next_req_time (a decimal epoch-ms string). */
static uint64_t until_next_req(fleet *f, device *d, const cJSON *hdr)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(hdr, "next_req_time");
	int64_t at = 0;
	if (cJSON_IsString(n))
		at = strtoll(n->valuestring, NULL, 10);
	else if (cJSON_IsNumber(n))
		at = (int64_t)n->valuedouble;
	int64_t wait = at - dev_wall_ms(f, d);
	if (at <= 0 || wait < 100)
		wait = 100;
	if (wait > 60000)
		wait = 60000;
	return jitter_ms(d, (uint64_t)wait) * NS_PER_MS;
}

static void upload_done(fleet *f, device *d)
{
	free(d->weights);
	d->weights = NULL;
}

static void handle(fleet *f, device *d, fleet_round round, int retcode, const cJSON *hdr,
		   const env_tensor *t, size_t nt)
{
	const model_def *m = f->cfg.model;
	if (retcode == 400 && hdr) {
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(hdr, "reason");
		if (cJSON_IsString(reason) && strstr(reason->valuestring, "timestamp")) {
			f->st.time_rejected++;
			if (f->cfg.obs.on_time_rejected)
				f->cfg.obs.on_time_rejected(f->cfg.obs.ctx, f->servers[d->server].id, d->index,
							    dev_wall_ms(f, d));
		}
	}
	if (retcode != 200) {
		if (round == FLEET_UPDATE)
			upload_done(f, d);
		if (retcode == 300 || retcode == 201) {
			d->failures = 0;
			/* SucNotReady on getModel: poll again soon; otherwise wait as told */
			uint64_t wait = round == FLEET_GET && retcode == 201 ? jitter_ms(d, 500) * NS_PER_MS
									    : until_next_req(f, d, hdr);
			if (round == FLEET_UPDATE)
				d->state = D_START;
			wake_in(f, d, wait);
		} else {
			d->failures++;
			if (retcode <= 0 || retcode >= 500)
				d->server = -1; /* fail over */
			d->state = round == FLEET_GET ? D_GET : D_START;
			wake_in(f, d, backoff_ns(d));
		}
		return;
	}
	d->failures = 0;
	f->st.ok[round]++;
	size_t bytes_in = 0;
	for (size_t i = 0; i < nt; i++)
		bytes_in += t[i].count * sizeof(float);
	uint64_t download_ns = (uint64_t)((double)bytes_in * 8.0 / (d->bw_kbps * 1000.0) * 1e9);
	switch (round) {
	case FLEET_START: {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(hdr, "iteration");
		d->iteration = cJSON_IsNumber(it) ? (int64_t)it->valuedouble : d->iteration;
		if (f->cfg.dropout > 0 && rt_rng_double(&d->rng) < f->cfg.dropout) {
			/* the device vanishes mid-round and comes back later */
			f->st.dropouts++;
			d->state = D_START;
			wake_in(f, d, jitter_ms(d, 30000) * NS_PER_MS);
			return;
		}
		const cJSON *plan = cJSON_GetObjectItemCaseSensitive(hdr, "fl_plan_config");
		int epochs = 1, batch = 32;
		float lr = 0.01f;
		if (plan) {
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(plan, "epochs");
			const cJSON *b = cJSON_GetObjectItemCaseSensitive(plan, "mini_batch");
			const cJSON *l = cJSON_GetObjectItemCaseSensitive(plan, "lr");
			epochs = cJSON_IsNumber(e) && e->valuedouble >= 1 ? (int)e->valuedouble : 1;
			batch = cJSON_IsNumber(b) && b->valuedouble >= 1 ? (int)b->valuedouble : 32;
			lr = cJSON_IsNumber(l) ? (float)l->valuedouble : 0.01f;
		}
		d->loss = 0;
		if (f->cfg.train) {
			free(d->weights);
			d->weights = calloc(m->total, sizeof(float));
			if (d->weights) {
				for (size_t i = 0; i < nt; i++) {
					int k = model_def_find(m, t[i].name);
					if (k >= 0 && t[i].count == m->tensors[k].count)
						memcpy(d->weights + m->tensors[k].offset, t[i].data,
						       t[i].count * sizeof(float));
				}
				f->cfg.train(f->cfg.train_ctx, d->index, d->iteration, epochs, batch, lr,
					     d->weights, m->total, &d->loss);
			}
		}
		double compute_ms = (double)d->compute_ms * (double)d->data_size * epochs;
		d->state = D_UPDATE;
		wake_in(f, d, download_ns + (uint64_t)(compute_ms * 1e6));
		return;
	}
	case FLEET_UPDATE:
		f->st.updates_accepted++;
		if (f->cfg.obs.on_update_accepted && d->weights)
			f->cfg.obs.on_update_accepted(f->cfg.obs.ctx, f->servers[d->server].id, d->index,
						      d->iteration, d->data_size, d->weights, m->total);
		upload_done(f, d);
		d->state = D_GET;
		wake_in(f, d, jitter_ms(d, 200) * NS_PER_MS);
		return;
	case FLEET_GET: {
		if (f->cfg.obs.on_model && nt) {
			float *w = f->scratch;
			memset(w, 0, m->total * sizeof(float));
			for (size_t i = 0; i < nt; i++) {
				int k = model_def_find(m, t[i].name);
				if (k >= 0 && t[i].count == m->tensors[k].count)
					memcpy(w + m->tensors[k].offset, t[i].data, t[i].count * sizeof(float));
			}
			const cJSON *it = cJSON_GetObjectItemCaseSensitive(hdr, "iteration");
			int64_t iter = cJSON_IsNumber(it) ? (int64_t)it->valuedouble : d->iteration;
			f->cfg.obs.on_model(f->cfg.obs.ctx, f->servers[d->server].id, iter, w, m->total);
		}
		d->state = D_START;
		/* availability: an offline spell between iterations keeps the online share */
		double on = f->cfg.online_fraction;
		uint64_t pause = download_ns + jitter_ms(d, 100) * NS_PER_MS;
		if (on < 1 && rt_rng_double(&d->rng) >= on) {
			double session = fleet_dist_draw(&f->cfg.session_s, &d->rng);
			if (session <= 0)
				session = 60;
			pause += (uint64_t)(session * (1 - on) / (on > 0.01 ? on : 0.01) * 1e9);
		}
		wake_in(f, d, pause);
		return;
	}
	default:
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
	if (err == RT_ECANCELED || d->state == D_GONE)
		return;
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
	if (f->cfg.obs.on_request)
		f->cfg.obs.on_request(f->cfg.obs.ctx, round, d->server >= 0 ? f->servers[d->server].id : -1,
				      retcode, lat, d->req_bytes, err ? 0 : resp->body_len);
	handle(f, d, round, retcode, hdr, t, nt);
	free(t);
	cJSON_Delete(hdr);
}

static void act(fleet *f, device *d)
{
	if (d->busy || d->state == D_GONE)
		return;
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
	/* wake everyone due; bounded per tick so a huge fleet yields to the network */
	for (int k = 0; k < 4096 && f->heap_len; k++) {
		device *d = dev_at(f, f->heap[0]);
		if (d->wake_ns > now)
			break;
		heap_remove(f, d);
		act(f, d);
	}
	f->timer_due = UINT64_MAX;
	if (f->heap_len) {
		uint64_t due = dev_at(f, f->heap[0])->wake_ns;
		f->timer_due = due;
		rt_timer_start(f->timer, due > now ? (due - now + NS_PER_MS - 1) / NS_PER_MS : 0, 0);
	}
}

/* ---- devices ---- */

static void dev_init(fleet *f, device *d, long i)
{
	memset(d, 0, sizeof *d);
	d->f = f;
	d->index = i;
	d->heap_pos = UINT32_MAX;
	d->server = -1;
	rt_rng_seed(&d->rng, rt_seed_derive_u64(f->cfg.seed, (uint64_t)i));
	double c = fleet_dist_draw(&f->cfg.compute_ms_per_sample, &d->rng);
	double bw = fleet_dist_draw(&f->cfg.bandwidth_kbps, &d->rng);
	double ds = fleet_dist_draw(&f->cfg.samples, &d->rng);
	d->compute_ms = (float)(c > 0 ? c : 0);
	d->bw_kbps = (float)(bw > 1 ? bw : 1);
	d->data_size = (float)(ds >= 1 ? floor(ds) : 1);
	d->skew_ms = (int64_t)fleet_dist_draw(&f->cfg.clock_skew_ms, &d->rng);
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
	return 0;
}

int fleet_resize(fleet *f, long n)
{
	if (n < 0 || n > 10000000)
		return FLEET_EINVAL;
	if (grow(f, n))
		return FLEET_ENOMEM;
	for (long i = n; i < f->n; i++) {
		device *d = dev_at(f, i);
		heap_remove(f, d);
		upload_done(f, d);
		d->state = D_GONE;
	}
	for (long i = f->n; i < n; i++) {
		device *d = dev_at(f, i);
		int busy = i < f->cap && d->f == f && d->busy; /* a gone device may still wait for an answer */
		dev_init(f, d, i);
		d->busy = (uint8_t)busy;
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
	if (!h || !cfg || !cfg->model || cfg->devices < 0 || !out)
		return FLEET_EINVAL;
	fleet *f = calloc(1, sizeof *f);
	if (!f)
		return FLEET_ENOMEM;
	f->host = h;
	f->cfg = *cfg;
	if (!f->cfg.fl_name[0])
		snprintf(f->cfg.fl_name, sizeof f->cfg.fl_name, "flbench");
	if (f->cfg.samples.kind == FLEET_FIXED && f->cfg.samples.a <= 0)
		f->cfg.samples.a = 600;
	if (f->cfg.bandwidth_kbps.kind == FLEET_FIXED && f->cfg.bandwidth_kbps.a <= 0)
		f->cfg.bandwidth_kbps.a = 10000;
	if (f->cfg.online_fraction <= 0 || f->cfg.online_fraction > 1)
		f->cfg.online_fraction = 1;
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

void fleet_destroy(fleet *f)
{
	if (!f)
		return;
	/* mark every device gone first: cancelled requests must not act on them */
	for (long i = 0; i < f->n; i++)
		dev_at(f, i)->state = D_GONE;
	if (f->http)
		http_client_free(f->http);
	rt_timer_free(f->timer);
	for (long i = 0; i < f->n; i++)
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
	fleet_server *copy = n ? malloc(n * sizeof *copy) : NULL;
	if (n && !copy)
		return FLEET_ENOMEM;
	if (n)
		memcpy(copy, servers, n * sizeof *copy);
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
	long k = (long)floor(share * (double)f->n + 0.5);
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
		       f->heap_cap * sizeof(uint32_t);
	st->bytes_per_device = f->n ? bytes / (size_t)f->n : 0;
}
