/*
 * fleet_wake.c — when each device acts next: a binary heap of (wake time, device index) and the
 * fleet's one rt timer armed for the earliest (ties break by device index, so the order is
 * deterministic), and the online sessions and offline spells of devices that come and go. Called
 * by fleet.c and fleet_dev.c through fleet_int.h; calls neither (the timer's callback is fleet.c's).
 */
#include "fleet_int.h"

#include <math.h>
#include <stdlib.h>

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

void fleet_wake_remove(fleet *f, device *d)
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
void fleet_wake_arm(fleet *f)
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

int fleet_wake_reserve(fleet *f, size_t cap)
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
	fleet_wake_remove(f, d);
	d->wake_ns = rt_now_ns(f->host) + delay_ns;
	if (f->heap_len == f->heap_cap) {
		/* room for every device is reserved by fleet_resize, so this only runs if that
		 * reservation failed; the device then sleeps until the next resize */
		size_t cap = f->heap_cap ? f->heap_cap * 2 : 1024;
		if (fleet_wake_reserve(f, cap))
			return;
	}
	f->hkey[f->heap_len] = d->wake_ns;
	f->heap[f->heap_len++] = d->index;
	d->heap_pos = (uint32_t)(f->heap_len - 1);
	heap_up(f, f->heap_len - 1);
	fleet_wake_arm(f);
}

device *fleet_wake_next_due(fleet *f, uint64_t now_ns)
{
	if (!f->heap_len || f->hkey[0] > now_ns)
		return NULL;
	device *d = dev_at(f, f->heap[0]);
	fleet_wake_remove(f, d);
	return d;
}

/* ---- online sessions ---- */

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
