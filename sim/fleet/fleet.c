/*
 * fleet.c — the fleet (see fleet.h): device storage, the wake-up heap and its one timer,
 * resizing, servers, statistics. What a device does when it wakes is in fleet_dev.c.
 *
 * Devices live in fixed-size chunks so that a device's address never moves (in-flight HTTP
 * callbacks carry it) while the fleet grows. A binary heap of (wake time, device index) with one
 * rt timer drives every device; ties break by device index, so the order is deterministic.
 */
#include "fleet_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Ordered by (wake time, index). The wake times sit in hkey beside the indices, so sifting
 * compares without touching the devices (at a million devices each touch is a cache miss). */
static int key_less(uint64_t ka, uint32_t a, uint64_t kb, uint32_t b)
{
	return ka < kb || (ka == kb && a < b);
}

static void heap_set(fleet *f, size_t pos, uint64_t key, uint32_t idx)
{
	f->heap[pos] = idx;
	f->hkey[pos] = key;
	dev_at(f, idx)->heap_pos = (uint32_t)pos;
}

static void heap_up(fleet *f, size_t pos)
{
	uint32_t idx = f->heap[pos];
	uint64_t key = f->hkey[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!key_less(key, idx, f->hkey[parent], f->heap[parent]))
			break;
		heap_set(f, pos, f->hkey[parent], f->heap[parent]);
		pos = parent;
	}
	heap_set(f, pos, key, idx);
}

static void heap_down(fleet *f, size_t pos)
{
	uint32_t idx = f->heap[pos];
	uint64_t key = f->hkey[pos];
	for (;;) {
		size_t l = 2 * pos + 1, r = l + 1, m = pos;
		uint32_t best = idx;
		uint64_t bkey = key;
		if (l < f->heap_len && key_less(f->hkey[l], f->heap[l], bkey, best))
			m = l, best = f->heap[l], bkey = f->hkey[l];
		if (r < f->heap_len && key_less(f->hkey[r], f->heap[r], bkey, best))
			m = r, best = f->heap[r], bkey = f->hkey[r];
		if (m == pos)
			break;
		heap_set(f, pos, bkey, best);
		pos = m;
	}
	heap_set(f, pos, key, idx);
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
	heap_set(f, pos, f->hkey[f->heap_len], last);
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
	uint64_t due = f->hkey[0], now = rt_now_ns(f->host);
	if (rt_timer_active(f->timer) && f->timer_due <= due)
		return;
	f->timer_due = due;
	/* round up: a device never acts before its wake time (next_req_time is a lower bound) */
	uint64_t delay_ms = due > now ? (due - now + FLEET_NS_PER_MS - 1) / FLEET_NS_PER_MS : 0;
	rt_timer_start(f->timer, delay_ms, 0);
}

static int heap_reserve(fleet *f, size_t cap)
{
	uint32_t *h = realloc(f->heap, cap * sizeof *h);
	if (!h)
		return FLEET_ENOMEM;
	f->heap = h;
	uint64_t *k = realloc(f->hkey, cap * sizeof *k);
	if (!k)
		return FLEET_ENOMEM; /* heap_cap stays: both arrays hold at least that many */
	f->hkey = k;
	f->heap_cap = cap;
	return 0;
}

/* Wake the device `delay_ns` from now. */
void fleet_wake_in(fleet *f, device *d, uint64_t delay_ns)
{
	heap_remove(f, d);
	d->wake_ns = rt_now_ns(f->host) + delay_ns;
	if (f->heap_len == f->heap_cap) {
		/* room for every device is reserved by fleet_resize, so this only runs if that
		 * reservation failed; the device then sleeps until the next resize */
		size_t cap = f->heap_cap ? f->heap_cap * 2 : 1024;
		if (heap_reserve(f, cap))
			return;
	}
	f->hkey[f->heap_len] = d->wake_ns;
	f->heap[f->heap_len++] = d->index;
	d->heap_pos = (uint32_t)(f->heap_len - 1);
	heap_up(f, f->heap_len - 1);
	arm(f);
}

/* ---- requests ---- */

static void on_timer(rt_timer *t, void *data)
{
	fleet *f = data;
	uint64_t now = rt_now_ns(f->host);
	f->timer_due = UINT64_MAX;
	/* wake everyone due; bounded per tick so a huge fleet yields to the network */
	for (int k = 0; k < 4096 && f->heap_len; k++) {
		if (f->hkey[0] > now)
			break;
		device *d = dev_at(f, f->heap[0]);
		heap_remove(f, d);
		fleet_dev_act(f, d);
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
	if (f->cfg.train_samples) {
		ds = f->cfg.train_samples(f->cfg.train_ctx, i);
		d->data_size = (float)(ds > 0 ? floor(ds) : 0);
	}
	d->skew_ms = isfinite(sk) ? (int64_t)sk : 0;
}

static int grow(fleet *f, long n)
{
	while (f->cap < n) {
		device **c = realloc(f->chunks, (f->nchunks + 1) * sizeof *c);
		if (!c)
			return FLEET_ENOMEM;
		f->chunks = c;
		f->chunks[f->nchunks] = calloc(FLEET_CHUNK, sizeof(device));
		if (!f->chunks[f->nchunks])
			return FLEET_ENOMEM;
		f->nchunks++;
		f->cap += FLEET_CHUNK;
	}
	/* every live device fits in the heap, so wake_in never has to allocate */
	if (f->heap_cap < (size_t)n && heap_reserve(f, (size_t)n))
		return FLEET_ENOMEM;
	return 0;
}

static double session_s(fleet *f, device *d)
{
	double s = fleet_dist_draw(&f->cfg.session_s, &d->rng);
	return s > 0 && s < 1e7 ? s : 60;
}

uint32_t fleet_session_end(fleet *f, device *d, uint64_t from_ns)
{
	double at = (double)(from_ns - f->t0_ns) / 1e9 + session_s(f, d);
	return at < 4e9 ? (uint32_t)ceil(at) : UINT32_MAX;
}

uint64_t fleet_offline_ns(fleet *f, device *d)
{
	double on = f->cfg.online_fraction;
	return (uint64_t)(session_s(f, d) * (1 - on) / (on > 0.01 ? on : 0.01) * 1e9);
}

int fleet_resize(fleet *f, long n)
{
	if (!f || n < 0 || n > FLEET_MAX_DEVICES)
		return FLEET_EINVAL;
	if (grow(f, n))
		return FLEET_ENOMEM;
	for (long i = n; i < f->n; i++) {
		device *d = dev_at(f, i);
		heap_remove(f, d);
		fleet_dev_drop_upload(d);
		d->state = D_GONE;
	}
	for (long i = f->n; i < n; i++) {
		device *d = dev_at(f, i);
		/* an earlier incarnation removed by a shrink may still wait for an answer */
		int busy = d->f == f && d->busy;
		dev_init(f, d, i);
		d->busy = d->stale = (uint8_t)busy;
		/* spread the first requests over a second so a fleet does not arrive as one burst */
		uint64_t first = (rt_rng_u64(&d->rng) % 1000) * FLEET_NS_PER_MS;
		if (f->cfg.online_fraction < 1) {
			/* start at a random point of the online/offline cycle */
			uint64_t now = rt_now_ns(f->host);
			if (rt_rng_double(&d->rng) >= f->cfg.online_fraction) {
				first += (uint64_t)((double)fleet_offline_ns(f, d) *
						    rt_rng_double(&d->rng));
				d->off = 1;
				d->session_end_s = fleet_session_end(f, d, now + first);
			} else {
				uint32_t end = fleet_session_end(f, d, now);
				uint32_t at = (uint32_t)((now - f->t0_ns) / 1000000000ULL);
				d->session_end_s = at + (uint32_t)((double)(end - at) *
								   rt_rng_double(&d->rng));
			}
		}
		fleet_wake_in(f, d, first);
	}
	f->n = n;
	return 0;
}

int fleet_new(rt_host *h, const fleet_config *cfg, fleet **out)
{
	if (!h || !cfg || !cfg->model || !cfg->model->total || cfg->devices < 0 ||
	    cfg->devices > FLEET_MAX_DEVICES || !out)
		return FLEET_EINVAL;
	fleet *f = calloc(1, sizeof *f);
	if (!f)
		return FLEET_ENOMEM;
	f->host = h;
	f->cfg = *cfg;
	f->t0_ns = rt_now_ns(h);
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
	if (!f->cfg.max_wait_ms)
		f->cfg.max_wait_ms = 10 * 60 * 1000;
	if (!f->cfg.train_batch_max)
		f->cfg.train_batch_max = 256;
	if (f->cfg.train_batch) {
		f->tq = malloc(f->cfg.train_batch_max * sizeof *f->tq);
		f->jobs = malloc(f->cfg.train_batch_max * sizeof *f->jobs);
		if (!f->tq || !f->jobs) {
			fleet_destroy(f);
			return FLEET_ENOMEM;
		}
	}
	http_client_config hc = {.max_idle_per_dest = 64};
	f->scratch = malloc(cfg->model->total * sizeof(float));
	f->synth_dir = malloc(cfg->model->total * sizeof(float));
	f->timer = rt_timer_new(h, on_timer, f);
	if (f->synth_dir) {
		/* weights in +-0.01, as the per-weight draws of earlier versions */
		rt_rng r;
		rt_rng_seed(&r, rt_seed_derive_u64(f->cfg.seed, 0x5d1c));
		for (size_t i = 0; i < cfg->model->total; i++)
			f->synth_dir[i] = (float)(rt_rng_double(&r) * 2.0 - 1.0) * 0.01f;
	}
	if (!f->scratch || !f->synth_dir || !f->timer || http_client_new(h, &hc, &f->http) ||
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
	free(f->hkey);
	free(f->servers);
	free(f->scratch);
	free(f->synth_dir);
	free(f->tq);
	free(f->jobs);
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
	for (long i = 0; i < f->n; i++) {
		const device *d = dev_at(f, i);
		training += d->state == D_UPDATE && !d->busy;
		online += !d->off;
	}
	st->training = training;
	st->online = online;
	size_t bytes = sizeof *f + f->nchunks * (FLEET_CHUNK * sizeof(device) + sizeof(device *)) +
		       f->heap_cap * (sizeof(uint32_t) + sizeof(uint64_t)) + f->nservers * sizeof(fleet_server) +
		       f->cfg.model->total * sizeof(float);
	st->bytes_per_device = f->n ? bytes / (size_t)f->n : 0;
}

