/*
 * rt_sim.c — the deterministic backend of rt.h: the event heap and run loop, hosts (clocks, crash,
 * restart, pause), timers, tracing and logging. Streams live in rt_sim_net.c, files in
 * rt_sim_disk.c; the shared structures are in rt_sim_int.h.
 *
 * Determinism: one binary min-heap ordered by (virtual time, sequence number); every callback into
 * host code is an event, never run inline inside the rt call that caused it; hosts, timers, streams
 * and files are kept in creation order, nothing is ordered or hashed by pointer.
 */
#include "rt_sim_int.h"

#include <inttypes.h>
#include <malloc.h>
#include <sys/mman.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- events ---- */

static int ent_before(const sim_hent *a, const sim_hent *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_set(rt_sim *s, size_t i, sim_hent e)
{
	s->heap[i] = e;
	e.ev->hpos = i;
}

static void heap_up(rt_sim *s, size_t i)
{
	sim_hent e = s->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ent_before(&e, &s->heap[p]))
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, e);
}

static void heap_down(rt_sim *s, size_t i)
{
	sim_hent e = s->heap[i];
	size_t n = s->heap_len;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && ent_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ent_before(&s->heap[c], &e))
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, e);
}

static int heap_insert(rt_sim *s, sim_ev *ev)
{
	if (s->heap_len == s->heap_cap) {
		size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
		sim_hent *nh = realloc(s->heap, cap * sizeof *nh);
		if (!nh)
			return RT_ENOMEM;
		s->heap = nh;
		s->heap_cap = cap;
	}
	s->heap[s->heap_len++] = (sim_hent){ev->at, ev->seq, ev};
	heap_up(s, s->heap_len - 1);
	ev->in_heap = 1;
	if (!ev->dead)
		s->live++;
	return 0;
}

/* Take the entry at i out (the last one fills the hole and moves up or down). */
static sim_ev *heap_take(rt_sim *s, size_t i)
{
	sim_ev *ev = s->heap[i].ev;
	s->heap_len--;
	if (i < s->heap_len) {
		heap_set(s, i, s->heap[s->heap_len]);
		if (i > 0 && ent_before(&s->heap[i], &s->heap[(i - 1) / 2]))
			heap_up(s, i);
		else
			heap_down(s, i);
	}
	ev->in_heap = 0;
	if (!ev->dead)
		s->live--;
	return ev;
}

static sim_ev *heap_pop(rt_sim *s)
{
	return s->heap_len ? heap_take(s, 0) : NULL;
}

sim_ev *sim_ev_new(rt_sim *s, int kind, struct sim_host *host)
{
	sim_ev *ev = s->free_evs;
	if (ev)
		s->free_evs = ev->next;
	else if (!(ev = malloc(sizeof *ev)))
		return NULL;
	memset(ev, 0, sizeof *ev);
	ev->kind = (uint8_t)kind;
	ev->host = host;
	ev->epoch = host ? host->epoch : 0;
	return ev;
}

void sim_ev_free(rt_sim *s, sim_ev *ev)
{
	if (ev->st)
		sim_stream_unref(ev->st);
	if (ev->from)
		sim_stream_unref(ev->from);
	if (ev->lis)
		sim_listener_unref(ev->lis);
	rt_buf_unref(ev->rb);
	if (s->freeing) {
		free(ev);
		return;
	}
	ev->next = s->free_evs;
	s->free_evs = ev;
}

int sim_ev_push(rt_sim *s, sim_ev *ev, uint64_t at)
{
	if (s->freeing) {
		sim_ev_free(s, ev);
		return RT_ECLOSED;
	}
	ev->at = at < s->now ? s->now : at;
	ev->seq = s->seq++;
	if (heap_insert(s, ev)) {
		sim_ev_free(s, ev);
		return RT_ENOMEM;
	}
	return 0;
}

void sim_ev_kill(rt_sim *s, sim_ev *ev)
{
	if (ev->dead)
		return;
	/* Out of the heap at once (a stopped timer's event would otherwise sit there until its
	 * time came: a 30 s request timeout per request, millions of entries at 1M devices). The
	 * caller may still read it during this event, so it is freed only before the next one. */
	if (ev->in_heap) {
		heap_take(s, ev->hpos);
		ev->next = s->grave;
		s->grave = ev;
	}
	ev->dead = 1;
}

static void free_grave(rt_sim *s)
{
	while (s->grave) {
		sim_ev *ev = s->grave;
		s->grave = ev->next;
		ev->next = NULL;
		sim_ev_free(s, ev);
	}
}

/* ---- tracing and the link model ---- */

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
	return h;
}

static void sim_trace(rt_sim *s, struct sim_host *h, const char *kind, size_t bytes)
{
	uint64_t x = s->trace_hash;
	x = fnv_u64(x, s->now);
	x = fnv_u64(x, h ? (uint64_t)h->index + 1 : 0);
	for (const unsigned char *p = (const unsigned char *)kind; *p; p++)
		x = (x ^ *p) * 0x100000001b3ULL;
	x = fnv_u64(x, (uint64_t)bytes);
	s->trace_hash = x;
	if (s->trace)
		s->trace(s->trace_ctx, s->now, h ? &h->pub : NULL, kind, bytes);
}

static void default_link(void *ctx, const rt_host *src, const rt_host *dst, size_t len,
			 uint64_t now_ns, rt_sim_verdict *out)
{
	const rt_sim *s = ctx;
	out->delay_ns = s->default_latency_ns;
	out->slices = 1;
}

void sim_link(rt_sim *s, struct sim_host *src, struct sim_host *dst, size_t len, rt_sim_verdict *v)
{
	memset(v, 0, sizeof *v);
	s->link(s->link_ctx, &src->pub, &dst->pub, len, s->now, v);
}

void rt_sim_set_link_model(rt_sim *s, rt_sim_link_fn fn, void *ctx)
{
	if (!s)
		return;
	s->link = fn ? fn : default_link;
	s->link_ctx = fn ? ctx : s;
}

void rt_sim_set_default_latency(rt_sim *s, uint64_t latency_ns)
{
	if (s)
		s->default_latency_ns = latency_ns;
}

uint64_t rt_sim_trace_hash(const rt_sim *s) { return s->trace_hash; }

void rt_sim_set_trace(rt_sim *s, rt_sim_trace_fn fn, void *ctx)
{
	s->trace = fn;
	s->trace_ctx = ctx;
}

void rt_sim_set_log_file(rt_sim *s, FILE *f) { s->log = f; }

/* ---- clocks ---- */

static uint64_t sim_now_ns(rt_host *h) { return sim_host_of(h)->sim->now; }

/* Elapsed virtual time as the host's drifting clock counts it, since t=0. */
static int64_t skewed_elapsed_ns(const struct sim_host *h, uint64_t now)
{
	uint64_t d = now - h->clk_base_ns;
	return h->clk_skew_base_ns + (int64_t)d + (int64_t)((double)d * h->clk_drift_ppm * 1e-6);
}

static int64_t sim_wall_ms(rt_host *hh)
{
	struct sim_host *h = sim_host_of(hh);
	int64_t e = skewed_elapsed_ns(h, h->sim->now);
	int64_t ms = e >= 0 ? e / 1000000 : -((-e + 999999) / 1000000);
	return RT_SIM_EPOCH_MS + h->clk_offset_ms + ms;
}

void rt_sim_set_clock(rt_host *hh, int64_t offset_ms, double drift_ppm)
{
	if (!hh)
		return;
	struct sim_host *h = sim_host_of(hh);
	/* Re-base the drift part at the change so only the offset can jump. */
	h->clk_skew_base_ns = skewed_elapsed_ns(h, h->sim->now);
	h->clk_base_ns = h->sim->now;
	h->clk_offset_ms = offset_ms;
	h->clk_drift_ppm = isfinite(drift_ppm) ? drift_ppm : 0.0;
}

/* ---- timers ---- */

static void timer_link(struct sim_host *h, struct sim_timer *t)
{
	t->prev = h->timers_tail;
	t->next = NULL;
	if (h->timers_tail)
		h->timers_tail->next = t;
	else
		h->timers_head = t;
	h->timers_tail = t;
}

static void timer_unlink(struct sim_host *h, struct sim_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		h->timers_head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		h->timers_tail = t->prev;
	t->prev = t->next = NULL;
}

static rt_timer *sim_timer_new(rt_host *hh, rt_timer_cb cb, void *data)
{
	struct sim_timer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->pub.host = hh;
	t->pub.cb = cb;
	t->pub.data = data;
	timer_link(sim_host_of(hh), t);
	return &t->pub;
}

static void sim_timer_stop(rt_timer *pt)
{
	struct sim_timer *t = (struct sim_timer *)pt;
	if (t->ev) {
		sim_ev_kill(sim_host_of(pt->host)->sim, t->ev);
		t->ev = NULL;
	}
}

static int timer_arm(struct sim_timer *t, uint64_t at)
{
	struct sim_host *h = sim_host_of(t->pub.host);
	sim_ev *ev = sim_ev_new(h->sim, SIM_EV_TIMER, h);
	if (!ev)
		return RT_ENOMEM;
	ev->timer = t;
	int rc = sim_ev_push(h->sim, ev, at);
	if (rc)
		return rc;
	t->ev = ev;
	return 0;
}

static int sim_timer_start(rt_timer *pt, uint64_t delay_ms, uint64_t repeat_ms)
{
	struct sim_timer *t = (struct sim_timer *)pt;
	struct sim_host *h = sim_host_of(pt->host);
	sim_timer_stop(pt);
	t->repeat_ns = sim_ms_to_ns(repeat_ms);
	if (!sim_host_alive(h))
		return 0; /* a crashed host accepts the call and does nothing */
	return timer_arm(t, sim_add_sat(h->sim->now, sim_ms_to_ns(delay_ms)));
}

static int sim_timer_active(const rt_timer *pt) { return ((const struct sim_timer *)pt)->ev != NULL; }

static void sim_timer_free(rt_timer *pt)
{
	struct sim_timer *t = (struct sim_timer *)pt;
	sim_timer_stop(pt);
	timer_unlink(sim_host_of(pt->host), t);
	free(t);
}

static const char *timer_run(rt_sim *s, sim_ev *ev)
{
	struct sim_timer *t = ev->timer;
	t->ev = NULL;
	if (t->repeat_ns) {
		/* Re-armed from the due time, so a period never drifts; a late run (the host was
		 * paused) skips the missed periods instead of firing them in a burst. */
		uint64_t next = sim_add_sat(ev->at, t->repeat_ns);
		if (next <= s->now)
			next = sim_add_sat(s->now, t->repeat_ns);
		timer_arm(t, next);
	}
	t->pub.cb(&t->pub, t->pub.data); /* may free t */
	return "timer";
}

/* ---- logging ---- */

static void sim_log_line(rt_host *hh, int level, const char *line)
{
	struct sim_host *h = sim_host_of(hh);
	rt_sim *s = h->sim;
	if (!s->log || !sim_host_alive(h))
		return; /* a crashed process prints nothing */
	fprintf(s->log, "[%" PRIu64 ".%06" PRIu64 "] %s\n", s->now / 1000000000u,
		(s->now % 1000000000u) / 1000u, line);
}

static const rt_ops sim_ops = {
	.now_ns = sim_now_ns,
	.wall_ms = sim_wall_ms,
	.timer_new = sim_timer_new,
	.timer_start = sim_timer_start,
	.timer_stop = sim_timer_stop,
	.timer_active = sim_timer_active,
	.timer_free = sim_timer_free,
	.listen = sim_listen,
	.listener_close = sim_listener_close,
	.listener_port = sim_listener_port,
	.connect = sim_connect,
	.stream_write = sim_stream_write,
	.stream_write_buf = sim_stream_write_buf,
	.stream_read_buf = sim_stream_read_buf,
	.stream_queued = sim_stream_queued,
	.stream_close = sim_stream_close,
	.stream_reset = sim_stream_reset,
	.file_write = sim_file_write,
	.file_append = sim_file_append,
	.file_fsync = sim_file_fsync,
	.file_read = sim_file_read,
	.file_remove = sim_file_remove,
	.log_line = sim_log_line,
};

/* ---- engine ---- */

/*
 * Once per process: grow the heap by SIM_HUGE_HEAP and ask for transparent huge pages on it
 * (where THP is in "madvise" mode, as on Debian), then free it back to the heap (the trim
 * threshold keeps it). The first ~480 MB a run touches then fault in 2 MB at a time instead of
 * 4 KB (30,000 faults, 8-12% of a bench-sim-10k run, become ~2,500). Only address space is
 * taken: pages still come in on first touch (peak RSS unchanged at 10k and 100k devices).
 * Not under AddressSanitizer (its own allocator).
 */
#define SIM_HUGE_HEAP (480u << 20)
#define SIM_HUGE_PIECE (24u << 20) /* below the mmap threshold: from the heap, contiguous */
static void heap_hugepages(void)
{
#if !defined(__SANITIZE_ADDRESS__) && defined(MADV_HUGEPAGE)
	static int done;
	if (done)
		return;
	done = 1;
	enum { NP = SIM_HUGE_HEAP / SIM_HUGE_PIECE };
	char *p[NP];
	for (int i = 0; i < NP; i++)
		p[i] = malloc(SIM_HUGE_PIECE);
	for (int i = 0; i < NP; i++) {
		if (!p[i])
			continue;
		uintptr_t a = ((uintptr_t)p[i] + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
		uintptr_t e = ((uintptr_t)p[i] + SIM_HUGE_PIECE) & ~(uintptr_t)((2u << 20) - 1);
		if (e > a)
			madvise((void *)a, e - a, MADV_HUGEPAGE); /* best effort */
	}
	for (int i = NP - 1; i >= 0; i--)
		free(p[i]);
#endif
}

rt_sim *rt_sim_new(uint64_t seed)
{
	/* A simulation allocates and frees model-sized buffers (~247 KB) by the hundred thousand.
	 * With glibc's defaults each one is a fresh mmap, or heap that was just trimmed, and every
	 * page faults in again on first touch (15% of the bench-sim-10k wall time). Keep freed memory
	 * in the heap instead; peak memory does not change, only how often it is given back. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's maximum */
	mallopt(M_TRIM_THRESHOLD, 1024 << 20); /* above SIM_HUGE_HEAP */
	mallopt(M_TOP_PAD, 16 << 20);
	heap_hugepages();
	rt_sim *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->seed = seed;
	s->default_latency_ns = 100000; /* 100 µs */
	s->link = default_link;
	s->link_ctx = s;
	s->trace_hash = 0xcbf29ce484222325ULL;
	s->seq = SIM_SEQ_BASE;
	s->low_seq = SIM_SEQ_BASE - 1;
	return s;
}

uint64_t rt_sim_seed(const rt_sim *s) { return s->seed; }
uint64_t rt_sim_now_ns(const rt_sim *s) { return s->now; }
uint64_t rt_sim_pending(const rt_sim *s) { return s->live; }

/* ---- hosts ---- */

struct sim_host *sim_host_by_ip(rt_sim *s, const char *ip)
{
	for (size_t i = 0; i < s->nhosts; i++)
		if (!strcmp(s->hosts[i]->pub.ip, ip))
			return s->hosts[i];
	return NULL;
}

int rt_sim_host_new(rt_sim *s, const char *name, const char *ip, rt_host **out)
{
	if (!s || !name || !name[0] || strlen(name) >= sizeof(((rt_host *)0)->name) || !ip ||
	    !rt_ip_ok(ip) || strlen(ip) >= 16 || !out)
		return RT_EINVAL;
	if (rt_sim_host_find(s, name))
		return RT_EINVAL;
	if (sim_host_by_ip(s, ip))
		return RT_EADDRINUSE;
	if (s->nhosts == s->cap_hosts) {
		size_t cap = s->cap_hosts ? s->cap_hosts * 2 : 16;
		struct sim_host **nh = realloc(s->hosts, cap * sizeof *nh);
		if (!nh)
			return RT_ENOMEM;
		s->hosts = nh;
		s->cap_hosts = cap;
	}
	struct sim_host *h = calloc(1, sizeof *h);
	if (!h)
		return RT_ENOMEM;
	rt_host_init(&h->pub, &sim_ops, name, ip, rt_seed_derive(s->seed, name));
	h->sim = s;
	h->index = (uint32_t)s->nhosts;
	h->up = 1;
	h->next_listen_port = 32768;
	h->next_src_port = 49152;
	s->hosts[s->nhosts++] = h;
	*out = &h->pub;
	return 0;
}

rt_host *rt_sim_host_find(rt_sim *s, const char *name)
{
	if (!s || !name)
		return NULL;
	for (size_t i = 0; i < s->nhosts; i++)
		if (!strcmp(s->hosts[i]->pub.name, name))
			return &s->hosts[i]->pub;
	return NULL;
}

void rt_sim_host_set_log_level(rt_host *h, int level)
{
	if (h)
		h->log_level = level;
}

void rt_sim_host_set_owner(rt_host *hh, rt_sim_destroy_fn destroy, void *owner)
{
	if (!hh)
		return;
	struct sim_host *h = sim_host_of(hh);
	h->destroy = destroy;
	h->owner = owner;
}

int rt_sim_host_up(const rt_host *hh) { return hh && sim_host_alive(sim_host_of(hh)); }

/* Free an event that will not run; a live one is first unhooked from whatever points at it. */
static void ev_discard(rt_sim *s, sim_ev *ev)
{
	if (!ev->dead) {
		if (ev->kind == SIM_EV_TIMER)
			ev->timer->ev = NULL;
		else
			sim_net_detach(ev);
	}
	sim_ev_free(s, ev);
}

static void drop_deferred(struct sim_host *h)
{
	sim_ev *ev = h->def_head;
	h->def_head = h->def_tail = NULL;
	while (ev) {
		sim_ev *next = ev->next;
		ev_discard(h->sim, ev);
		ev = next;
	}
}

/* Run the owner's destroy hook with every rt call on the host inert, then drop what is left. */
static void host_teardown(struct sim_host *h)
{
	h->up = 0;
	h->paused = 0;
	drop_deferred(h);
	rt_sim_destroy_fn fn = h->destroy;
	void *owner = h->owner;
	h->destroy = NULL;
	h->owner = NULL;
	h->destroying = 1;
	if (fn)
		fn(owner);
	while (h->timers_head)
		sim_timer_free(&h->timers_head->pub);
	sim_net_drop_host(h);
	h->destroying = 0;
	h->epoch++; /* whatever the old incarnation had queued is dropped unseen */
}

void rt_sim_crash(rt_host *hh)
{
	if (!hh)
		return;
	struct sim_host *h = sim_host_of(hh);
	if (!sim_host_alive(h))
		return;
	sim_trace(h->sim, h, "crash", 0);
	host_teardown(h);
	sim_disk_lose(h);
}

int rt_sim_restart(rt_host *hh)
{
	if (!hh)
		return RT_EINVAL;
	struct sim_host *h = sim_host_of(hh);
	if (h->up || h->destroying)
		return RT_EINVAL;
	h->restarts++;
	uint64_t seed = rt_seed_derive_u64(rt_seed_derive(h->sim->seed, h->pub.name), h->restarts);
	h->pub.seed = seed;
	rt_rng_seed(&h->pub.rng, seed);
	h->up = 1;
	sim_trace(h->sim, h, "restart", 0);
	return 0;
}

void rt_sim_pause(rt_host *hh)
{
	if (hh && sim_host_alive(sim_host_of(hh)))
		sim_host_of(hh)->paused = 1;
}

void rt_sim_resume(rt_host *hh)
{
	if (!hh)
		return;
	struct sim_host *h = sim_host_of(hh);
	if (!h->paused)
		return;
	h->paused = 0;
	/* Held-back events run now, in their original order and before anything else due now: they
	 * take sequence numbers below every one given so far (a block counted down from low_seq), so
	 * they also stay ahead of later chunks of the same streams and byte order holds. */
	rt_sim *s = h->sim;
	uint64_t k = 0;
	for (sim_ev *ev = h->def_head; ev; ev = ev->next)
		k++;
	uint64_t seq = s->low_seq - k + 1;
	s->low_seq -= k;
	sim_ev *ev = h->def_head;
	h->def_head = h->def_tail = NULL;
	while (ev) {
		sim_ev *next = ev->next;
		ev->next = NULL;
		ev->seq = seq++;
		if (ev->dead) {
			sim_ev_free(s, ev);
		} else {
			ev->at = s->now;
			if (heap_insert(s, ev))
				ev_discard(s, ev);
		}
		ev = next;
	}
}

/* ---- running ---- */

int rt_sim_call_at(rt_sim *s, uint64_t at_ns, rt_sim_call_fn fn, void *data)
{
	if (!s || !fn || at_ns < s->now)
		return RT_EINVAL;
	sim_ev *ev = sim_ev_new(s, SIM_EV_CALL, NULL);
	if (!ev)
		return RT_ENOMEM;
	ev->fn = fn;
	ev->fn_data = data;
	return sim_ev_push(s, ev, at_ns);
}

/* Process one popped live event: run it, hold it back (paused host) or drop it (crashed host).
 * Returns 1 when it ran. */
static int process(rt_sim *s, sim_ev *ev)
{
	struct sim_host *h = ev->host;
	if (ev->at > s->now)
		s->now = ev->at;
	if (h && ev->kind != SIM_EV_SYN) {
		if (ev->epoch != h->epoch) {
			ev_discard(s, ev);
			return 0;
		}
		if (h->paused) {
			ev->next = NULL;
			if (h->def_tail)
				h->def_tail->next = ev;
			else
				h->def_head = ev;
			h->def_tail = ev;
			return 0;
		}
	}
	const char *kind = NULL;
	size_t bytes = 0;
	switch (ev->kind) {
	case SIM_EV_CALL:
		ev->fn(ev->fn_data);
		kind = "call";
		break;
	case SIM_EV_TIMER:
		kind = timer_run(s, ev);
		break;
	default:
		kind = sim_net_run(s, ev, &bytes);
		break;
	}
	if (kind)
		sim_trace(s, h, kind, bytes);
	sim_ev_free(s, ev);
	return 1;
}

/* The next live event, dead ones at the top freed on the way. */
static sim_ev *peek_live(rt_sim *s)
{
	free_grave(s);
	while (s->heap_len && s->heap[0].ev->dead)
		sim_ev_free(s, heap_pop(s));
	return s->heap_len ? s->heap[0].ev : NULL;
}

uint64_t rt_sim_run_until(rt_sim *s, uint64_t until_ns)
{
	if (!s || s->running)
		return 0;
	uint64_t n = 0;
	s->running = 1;
	s->stop = 0;
	for (;;) {
		sim_ev *ev = peek_live(s);
		if (!ev || ev->at > until_ns)
			break;
		n += (uint64_t)process(s, heap_pop(s));
		if (s->stop)
			break;
	}
	if (!s->stop && until_ns != UINT64_MAX && s->now < until_ns)
		s->now = until_ns;
	s->running = 0;
	s->stop = 0;
	return n;
}

int rt_sim_step(rt_sim *s)
{
	if (!s || s->running)
		return 0;
	sim_ev *ev = peek_live(s);
	if (!ev)
		return 0;
	s->running = 1;
	process(s, heap_pop(s));
	s->running = 0;
	s->stop = 0;
	return 1;
}

void rt_sim_stop(rt_sim *s)
{
	if (s)
		s->stop = 1;
}

/* ---- teardown ---- */

void rt_sim_free(rt_sim *s)
{
	if (!s)
		return;
	s->running = 1;
	/* Nodes still up are destroyed through their owners' hooks, as at a crash, so one call frees
	 * a whole run; no events are made (the engine is going away). */
	for (size_t i = 0; i < s->nhosts; i++)
		if (s->hosts[i]->up)
			host_teardown(s->hosts[i]);
	s->freeing = 1;
	for (size_t i = 0; i < s->nhosts; i++) {
		struct sim_host *h = s->hosts[i];
		while (h->timers_head)
			sim_timer_free(&h->timers_head->pub);
		sim_net_drop_host(h);
		drop_deferred(h);
	}
	free_grave(s);
	for (size_t i = 0; i < s->heap_len; i++)
		ev_discard(s, s->heap[i].ev);
	free(s->heap);
	while (s->free_evs) {
		sim_ev *next = s->free_evs->next;
		free(s->free_evs);
		s->free_evs = next;
	}
	while (s->lis_head) /* listeners closed by nobody (their hosts dropped them above) */
		sim_listener_close(&s->lis_head->pub);
	for (size_t i = 0; i < s->nhosts; i++) {
		sim_disk_free(s->hosts[i]);
		free(s->hosts[i]);
	}
	free(s->hosts);
	free(s);
}
