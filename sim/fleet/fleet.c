/*
 * fleet.c — the fleet (see fleet.h): device storage, its one timer's callback, resizing,
 * servers, statistics. The core of the module: it calls the parts, which never call it —
 * fleet_dev.c (what a device does when it wakes), fleet_wake.c (the wake-up heap, the timer's
 * arming, online sessions), fleet_dist.c (distributions, round names); fleet_int.h joins them.
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
/* ---- the timer: every device due acts ---- */

static void on_timer(rt_timer *t, void *data)
{
	fleet *f = data;
	uint64_t now = rt_now_ns(f->host);
	f->timer_due = UINT64_MAX;
	/* wake everyone due; bounded per tick so a huge fleet yields to the network */
	for (int k = 0; k < 4096; k++) {
		device *d = fleet_wake_next_due(f, now);
		if (!d)
			break;
		fleet_dev_act(f, d);
	}
	fleet_wake_arm(f);
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
	if (f->heap_cap < (size_t)n && fleet_wake_reserve(f, (size_t)n))
		return FLEET_ENOMEM;
	return 0;
}

int fleet_resize(fleet *f, long n)
{
	if (!f || n < 0 || n > FLEET_MAX_DEVICES)
		return FLEET_EINVAL;
	if (grow(f, n))
		return FLEET_ENOMEM;
	for (long i = n; i < f->n; i++) {
		device *d = dev_at(f, i);
		fleet_wake_remove(f, d);
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

