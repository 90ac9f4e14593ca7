/*
 * rt_sim_net.c — the simulator's virtual network: listeners, connection set-up and streams.
 *
 * Every byte and every control packet (FIN, RST) crosses a directed link whose delay comes from the
 * link model. Each direction remembers when its last packet arrives (tx_last) and a new one never
 * arrives earlier, so byte order always holds whatever the model says. A stream pair is linked
 * when the connection request reaches the listener; from then on each side's events carry a
 * reference to the stream they are for, so either side can go away at any time.
 *
 * Semantics the simulator picks where TCP or rt.h leave room (see also rt_sim.h):
 *   - a write is handed to the network at once: its completion (status 0) is queued at the current
 *     time, its bytes are in flight; rt_stream_reset does not recall bytes already in flight;
 *   - writes before on_connect, after close, or on a crashed host return RT_ECLOSED (and their
 *     callback is never called);
 *   - a connect to an address no host has, or to a host that is down, is refused;
 *   - verdict.reset / verdict.hold on data: the stream is reset at both ends (a partition breaks
 *     an established stream); on connect: hold = no answer (RT_ETIMEDOUT at the deadline),
 *     reset = RT_ECONNRESET; FIN and RST use only the model's delay;
 *   - bytes that reach a closed or vanished stream make the writer see RT_ECONNRESET one link
 *     delay later, as a TCP RST would.
 */
#include "rt_sim_int.h"

#include <stdlib.h>
#include <string.h>

static struct sim_stream *stream_of(const rt_stream *st) { return (struct sim_stream *)st; }
static struct sim_host *stream_host(const struct sim_stream *st) { return sim_host_of(st->pub.host); }

/* ---- stream lifetime ---- */

static struct sim_stream *stream_new(struct sim_host *h)
{
	struct sim_stream *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->pub.host = &h->pub;
	st->refs = 1; /* the handle */
	st->prev = h->streams_tail;
	if (h->streams_tail)
		h->streams_tail->next = st;
	else
		h->streams_head = st;
	h->streams_tail = st;
	return st;
}

static struct sim_stream *stream_ref(struct sim_stream *st)
{
	if (st)
		st->refs++;
	return st;
}

void sim_stream_unref(struct sim_stream *st)
{
	if (--st->refs == 0)
		free(st);
}

static void wq_remove(struct sim_stream *st, sim_ev *ev)
{
	sim_ev **pp = &st->wq_head, *prev = NULL;
	while (*pp && *pp != ev) {
		prev = *pp;
		pp = &(*pp)->wnext;
	}
	if (!*pp)
		return;
	*pp = ev->wnext;
	if (st->wq_tail == ev)
		st->wq_tail = prev;
	ev->wnext = NULL;
	st->queued -= ev->len;
}

void sim_net_detach(sim_ev *ev)
{
	if (ev->kind == SIM_EV_WDONE)
		wq_remove(ev->st, ev);
	else if (ev->kind == SIM_EV_TIMEOUT && ev->st->timeout_ev == ev)
		ev->st->timeout_ev = NULL;
}

/* Dead to the user from now on: off the host's list, unlinked from the peer, no timeout. */
static void stream_release(struct sim_stream *st)
{
	struct sim_host *h = stream_host(st);
	st->released = 1;
	if (st->prev)
		st->prev->next = st->next;
	else
		h->streams_head = st->next;
	if (st->next)
		st->next->prev = st->prev;
	else
		h->streams_tail = st->prev;
	st->prev = st->next = NULL;
	if (st->timeout_ev) {
		sim_ev_kill(h->sim, st->timeout_ev);
		st->timeout_ev = NULL;
	}
	if (st->peer) {
		st->peer->peer = NULL;
		st->peer = NULL;
	}
}

/* Queue on_close(err) for st at `at`. */
static void queue_close(struct sim_stream *st, int err, uint64_t at)
{
	struct sim_host *h = stream_host(st);
	sim_ev *ev = sim_ev_new(h->sim, SIM_EV_CLOSE, h);
	if (!ev)
		return;
	ev->st = stream_ref(st);
	ev->err = err;
	sim_ev_push(h->sim, ev, at);
}

/* Send a FIN (RT_EOF) or RST (RT_ECONNRESET) to the peer after everything sent before it. */
static void send_ctl_after(struct sim_stream *st, int err, uint64_t delay)
{
	if (!st->peer)
		return;
	rt_sim *s = stream_host(st)->sim;
	uint64_t at = sim_add_sat(s->now, delay);
	if (at < st->tx_last)
		at = st->tx_last;
	st->tx_last = at;
	queue_close(st->peer, err, at);
}

static void send_ctl(struct sim_stream *st, int err)
{
	if (!st->peer)
		return;
	rt_sim_verdict v;
	sim_link(stream_host(st)->sim, stream_host(st), st->peer_host, 0, &v);
	send_ctl_after(st, err, v.delay_ns);
}

/* Crash-style end: no callback for st, the peer sees RT_ECONNRESET. */
static void drop_silently(struct sim_stream *st)
{
	rt_sim *s = stream_host(st)->sim;
	if (st->released)
		return;
	send_ctl(st, RT_ECONNRESET);
	stream_release(st);
	while (st->wq_head) {
		sim_ev *ev = st->wq_head;
		st->wq_head = ev->wnext;
		ev->wnext = NULL;
		sim_ev_kill(s, ev);
	}
	st->wq_tail = NULL;
	st->queued = 0;
	sim_stream_unref(st);
}

/* The stream's last callbacks: pending write completions, then on_close(err); then it is freed
 * (once no queued event names it). */
static void deliver_close(rt_sim *s, struct sim_stream *st, int err)
{
	stream_ref(st);
	stream_release(st);
	while (st->wq_head) {
		sim_ev *ev = st->wq_head;
		st->wq_head = ev->wnext;
		ev->wnext = NULL;
		sim_ev_kill(s, ev);
		st->queued -= ev->len;
		if (ev->wcb)
			ev->wcb(&st->pub, ev->err, ev->wdata);
	}
	st->wq_tail = NULL;
	if (st->pub.cbs && st->pub.cbs->on_close)
		st->pub.cbs->on_close(&st->pub, err, st->pub.data);
	st->refs--; /* the handle; our temporary reference still holds it */
	sim_stream_unref(st);
}

static const char *close_kind(int err)
{
	switch (err) {
	case 0: return "close";
	case RT_EOF: return "eof";
	case RT_ECONNREFUSED: return "refused";
	case RT_ETIMEDOUT: return "timeout";
	default: return "reset";
	}
}

/* ---- listeners ---- */

static int ip_is_any(const char *ip) { return !strcmp(ip, "0.0.0.0"); }

/* The listener a connection to ip:port reaches: an exact bind first, then a wildcard bind on the
 * host that has the address. */
static struct sim_listener *listener_find(rt_sim *s, const char *ip, uint16_t port)
{
	for (struct sim_listener *l = s->lis_head; l; l = l->next)
		if (l->pub.port == port && !strcmp(l->ip, ip))
			return l;
	for (struct sim_listener *l = s->lis_head; l; l = l->next)
		if (l->pub.port == port && ip_is_any(l->ip) && !strcmp(l->pub.host->ip, ip))
			return l;
	return NULL;
}

static int listener_conflict(rt_sim *s, const rt_host *h, const char *ip, uint16_t port)
{
	for (struct sim_listener *l = s->lis_head; l; l = l->next) {
		if (l->pub.port != port)
			continue;
		if (!strcmp(l->ip, ip))
			return 1;
		if (l->pub.host == h && (ip_is_any(l->ip) || ip_is_any(ip)))
			return 1;
	}
	return 0;
}

int sim_listen(rt_host *hh, const char *ip, uint16_t port, rt_accept_cb cb, void *data,
	       rt_listener **out)
{
	struct sim_host *h = sim_host_of(hh);
	rt_sim *s = h->sim;
	if (!sim_host_alive(h))
		return RT_EIO;
	if (strlen(ip) >= sizeof(((struct sim_listener *)0)->ip))
		return RT_EINVAL;
	if (port == 0) {
		/* Ephemeral ports from a per-host counter: the same run binds the same ports. */
		for (int tries = 0; tries < 28232 && !port; tries++) {
			uint16_t p = h->next_listen_port;
			h->next_listen_port = p >= 60999 ? 32768 : (uint16_t)(p + 1);
			if (!listener_conflict(s, hh, ip, p))
				port = p;
		}
		if (!port)
			return RT_EADDRINUSE;
	} else if (listener_conflict(s, hh, ip, port)) {
		return RT_EADDRINUSE;
	}
	struct sim_listener *l = calloc(1, sizeof *l);
	if (!l)
		return RT_ENOMEM;
	l->pub.host = hh;
	l->pub.cb = cb;
	l->pub.data = data;
	l->pub.port = port;
	snprintf(l->ip, sizeof l->ip, "%s", ip);
	l->refs = 1;
	l->prev = s->lis_tail;
	if (s->lis_tail)
		s->lis_tail->next = l;
	else
		s->lis_head = l;
	s->lis_tail = l;
	*out = &l->pub;
	return 0;
}

void sim_listener_unref(struct sim_listener *l)
{
	if (--l->refs == 0)
		free(l);
}

void sim_listener_close(rt_listener *pl)
{
	struct sim_listener *l = (struct sim_listener *)pl;
	rt_sim *s = sim_host_of(pl->host)->sim;
	if (l->closed)
		return;
	l->closed = 1;
	if (l->prev)
		l->prev->next = l->next;
	else
		s->lis_head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		s->lis_tail = l->prev;
	l->prev = l->next = NULL;
	sim_listener_unref(l);
}

uint16_t sim_listener_port(const rt_listener *l) { return l->port; }

/* ---- connection set-up ---- */

int sim_connect(rt_host *hh, const char *ip, uint16_t port, uint64_t timeout_ms,
		const rt_stream_cbs *cbs, void *data, rt_stream **out)
{
	struct sim_host *h = sim_host_of(hh);
	rt_sim *s = h->sim;
	if (!sim_host_alive(h))
		return RT_EIO;
	struct sim_stream *c = stream_new(h);
	if (!c)
		return RT_ENOMEM;
	c->pub.cbs = cbs;
	c->pub.data = data;
	snprintf(c->pub.peer_ip, sizeof c->pub.peer_ip, "%s", ip);
	c->pub.peer_port = port;
	c->owned = 1;
	c->local_port = h->next_src_port;
	h->next_src_port = h->next_src_port == 65535 ? 49152 : (uint16_t)(h->next_src_port + 1);

	/* The deadline first: whatever else fails later, it guarantees the one on_close. */
	sim_ev *to = sim_ev_new(s, SIM_EV_TIMEOUT, h);
	if (!to) {
		drop_silently(c);
		return RT_ENOMEM;
	}
	to->st = stream_ref(c);
	if (sim_ev_push(s, to, sim_add_sat(s->now, sim_ms_to_ns(timeout_ms)))) {
		drop_silently(c);
		return RT_ENOMEM;
	}
	c->timeout_ev = to;

	struct sim_listener *l = listener_find(s, ip, port);
	struct sim_host *dst = l ? sim_host_of(l->pub.host) : sim_host_by_ip(s, ip);
	c->peer_host = dst;
	if (!dst) {
		/* Nobody has the address: refused after a default round trip. */
		queue_close(c, RT_ECONNREFUSED, sim_add_sat(s->now, 2 * s->default_latency_ns));
	} else {
		rt_sim_verdict v;
		sim_link(s, h, dst, 0, &v);
		if (v.reset) {
			queue_close(c, RT_ECONNRESET, sim_add_sat(s->now, v.delay_ns));
		} else if (!v.hold) {
			sim_ev *syn = sim_ev_new(s, SIM_EV_SYN, dst);
			if (syn) {
				syn->st = stream_ref(c);
				sim_ev_push(s, syn, sim_add_sat(s->now, v.delay_ns));
			}
		}
	}
	*out = &c->pub;
	return 0;
}

/* The request reaches the destination: accept (stream pair linked) or refuse. */
static const char *syn_run(rt_sim *s, sim_ev *ev)
{
	struct sim_stream *c = ev->st;
	struct sim_host *dst = ev->host, *ch = stream_host(c);
	if (c->released || c->closing)
		return NULL;
	struct sim_listener *l = listener_find(s, c->pub.peer_ip, c->pub.peer_port);
	if (l && l->pub.host != &dst->pub)
		l = NULL;
	rt_sim_verdict v;
	sim_link(s, dst, ch, 0, &v);
	if (v.hold)
		return "syn"; /* the answer is lost: the client times out */
	uint64_t back = sim_add_sat(s->now, v.delay_ns);
	if (!l || !sim_host_alive(dst)) {
		queue_close(c, RT_ECONNREFUSED, back);
		return "syn";
	}
	if (v.reset) {
		queue_close(c, RT_ECONNRESET, back);
		return "syn";
	}
	struct sim_stream *sv = stream_new(dst);
	sim_ev *acc = sim_ev_new(s, SIM_EV_ACCEPT, dst);
	sim_ev *con = sim_ev_new(s, SIM_EV_CONNECTED, ch);
	if (!sv || !acc || !con) {
		if (sv)
			drop_silently(sv);
		if (acc)
			sim_ev_free(s, acc);
		if (con)
			sim_ev_free(s, con);
		return "syn"; /* ENOMEM: the client times out */
	}
	snprintf(sv->pub.peer_ip, sizeof sv->pub.peer_ip, "%s", ch->pub.ip);
	sv->pub.peer_port = c->local_port;
	sv->local_port = l->pub.port;
	sv->connected = 1;
	sv->peer_host = ch;
	sv->peer = c;
	c->peer = sv;
	c->peer_host = dst;
	/* Nothing the server sends may overtake the client's on_connect. */
	sv->tx_last = back;
	con->st = stream_ref(c);
	sim_ev_push(s, con, back);
	acc->st = stream_ref(sv);
	acc->lis = l;
	l->refs++;
	sim_ev_push(s, acc, s->now);
	return "syn";
}

static const char *accept_run(rt_sim *s, sim_ev *ev)
{
	struct sim_stream *sv = ev->st;
	struct sim_listener *l = ev->lis;
	if (sv->released)
		return NULL;
	if (l->closed) {
		drop_silently(sv); /* nobody takes it: the client sees a reset */
		return NULL;
	}
	sv->owned = 1;
	l->pub.cb(&l->pub, &sv->pub, l->pub.data);
	return "accept";
}

static const char *connected_run(rt_sim *s, sim_ev *ev)
{
	struct sim_stream *c = ev->st;
	if (c->released || c->closing)
		return NULL;
	if (c->timeout_ev) {
		sim_ev_kill(s, c->timeout_ev);
		c->timeout_ev = NULL;
	}
	c->connected = 1;
	if (c->pub.cbs && c->pub.cbs->on_connect)
		c->pub.cbs->on_connect(&c->pub, c->pub.data);
	return "connect";
}

static const char *timeout_run(rt_sim *s, sim_ev *ev)
{
	struct sim_stream *c = ev->st;
	if (c->timeout_ev == ev)
		c->timeout_ev = NULL;
	if (c->released || c->closing || c->connected)
		return NULL;
	send_ctl(c, RT_ECONNRESET); /* the server side may already exist */
	deliver_close(s, c, RT_ETIMEDOUT);
	return "timeout";
}

/* ---- data ---- */

/* Send rb->data[off, off + len): the chunks hold references to rb, nothing is copied. */
static int stream_send(struct sim_stream *st, rt_buf *rb, size_t off, size_t len, rt_write_cb cb,
		       void *cb_data)
{
	struct sim_host *h = stream_host(st);
	rt_sim *s = h->sim;
	rt_sim_verdict v;
	sim_link(s, h, st->peer_host, len, &v);
	sim_ev *done = sim_ev_new(s, SIM_EV_WDONE, h);
	if (!done)
		return RT_ENOMEM;
	done->st = stream_ref(st);
	done->len = len;
	done->wcb = cb;
	done->wdata = cb_data;

	int reset = v.reset || v.hold;
	uint64_t n = v.slices ? v.slices : 1;
	if (len < n)
		n = len; /* no empty chunks; a 0-byte write sends nothing */
	if (reset)
		n = 0;
	/* Build every chunk first (chained through ->next) so ENOMEM sends nothing. */
	sim_ev *head = NULL, **tail = &head;
	for (uint64_t i = 0; i < n; i++) {
		size_t clen = (size_t)(len / n + (i < len % n ? 1 : 0));
		sim_ev *c = sim_ev_new(s, SIM_EV_DATA, st->peer_host);
		if (!c) {
			while (head) {
				sim_ev *next = head->next;
				sim_ev_free(s, head);
				head = next;
			}
			sim_ev_free(s, done);
			return RT_ENOMEM;
		}
		c->rb = rt_buf_ref(rb);
		c->buf = rb->data + off;
		off += clen;
		c->len = clen;
		c->st = stream_ref(st->peer);
		c->from = stream_ref(st);
		*tail = c;
		tail = &c->next;
	}
	uint64_t t = sim_add_sat(s->now, v.delay_ns);
	for (uint64_t i = 0; head; i++) {
		sim_ev *c = head;
		head = c->next;
		c->next = NULL;
		uint64_t gap = v.slice_gap_ns && i > UINT64_MAX / v.slice_gap_ns ? UINT64_MAX
										: v.slice_gap_ns * i;
		uint64_t at = sim_add_sat(t, gap);
		if (at < st->tx_last)
			at = st->tx_last; /* never overtake what was sent before */
		st->tx_last = at;
		sim_ev_push(s, c, at);
	}

	if (reset)
		done->err = RT_ECONNRESET;
	if (!sim_ev_push(s, done, s->now)) {
		if (st->wq_tail)
			st->wq_tail->wnext = done;
		else
			st->wq_head = done;
		st->wq_tail = done;
		st->queued += len;
	}
	if (reset) {
		/* Loss as reset, or a partition under an established stream: both ends see a reset. */
		send_ctl_after(st, RT_ECONNRESET, v.delay_ns);
		queue_close(st, RT_ECONNRESET, s->now);
	}
	return 0;
}

static int stream_writable(struct sim_stream *st)
{
	return sim_host_alive(stream_host(st)) && !st->released && !st->closing && st->owned &&
	       st->connected;
}

int sim_stream_write(rt_stream *pst, const void *buf, size_t len, rt_write_cb cb, void *cb_data)
{
	struct sim_stream *st = stream_of(pst);
	if (!stream_writable(st))
		return RT_ECLOSED;
	/* One copy into a shared buffer that every chunk of the write points into. */
	rt_buf *rb = rt_buf_new(len);
	if (!rb)
		return RT_ENOMEM;
	if (len)
		memcpy(rb->data, buf, len);
	int rc = stream_send(st, rb, 0, len, cb, cb_data);
	rt_buf_unref(rb);
	return rc;
}

int sim_stream_write_buf(rt_stream *pst, rt_buf *b, size_t off, size_t len, rt_write_cb cb,
			 void *cb_data)
{
	struct sim_stream *st = stream_of(pst);
	if (!stream_writable(st))
		return RT_ECLOSED;
	return stream_send(st, b, off, len, cb, cb_data);
}

rt_buf *sim_stream_read_buf(rt_stream *pst, const uint8_t *buf)
{
	const sim_ev *ev = stream_host(stream_of(pst))->sim->reading;
	return ev && ev->st == stream_of(pst) && ev->buf == buf ? ev->rb : NULL;
}

size_t sim_stream_queued(const rt_stream *st) { return stream_of(st)->queued; }

static const char *data_run(rt_sim *s, sim_ev *ev, size_t *bytes)
{
	struct sim_stream *st = ev->st, *w = ev->from;
	if (st && !st->released && !st->closing && st->owned) {
		if (st->pub.cbs && st->pub.cbs->on_read) {
			const sim_ev *outer = s->reading; /* on_read never nests, but be safe */
			s->reading = ev;
			st->pub.cbs->on_read(&st->pub, ev->buf, ev->len, st->pub.data);
			s->reading = outer;
		}
		*bytes = ev->len;
		return "data";
	}
	/* A dead end: the writer learns of it as from a TCP RST. */
	if (w && !w->released && !w->closing) {
		rt_sim_verdict v;
		sim_link(s, ev->host, stream_host(w), 0, &v);
		uint64_t at = sim_add_sat(s->now, v.delay_ns);
		if (st && at < st->tx_last)
			at = st->tx_last;
		queue_close(w, RT_ECONNRESET, at);
	}
	return NULL;
}

static const char *wdone_run(rt_sim *s, sim_ev *ev, size_t *bytes)
{
	struct sim_stream *st = ev->st;
	wq_remove(st, ev);
	if (st->released)
		return NULL;
	if (ev->wcb)
		ev->wcb(&st->pub, ev->err, ev->wdata);
	*bytes = ev->len;
	return "write";
}

/* ---- closing ---- */

static const char *close_run(rt_sim *s, sim_ev *ev)
{
	struct sim_stream *st = ev->st;
	if (st->released)
		return NULL;
	if (ev->err && st->closing)
		return NULL; /* the user closed first: its on_close(0) is queued */
	if (!st->owned) {
		/* Not accepted yet (only when the accept is still held back): nobody to tell. */
		stream_release(st);
		sim_stream_unref(st);
		return NULL;
	}
	deliver_close(s, st, ev->err);
	return close_kind(ev->err);
}

static void stream_end(rt_stream *pst, int ctl)
{
	struct sim_stream *st = stream_of(pst);
	struct sim_host *h = stream_host(st);
	if (st->released || st->closing)
		return;
	if (!sim_host_alive(h)) {
		drop_silently(st); /* a crashing host: no events for it, the peer sees a reset */
		return;
	}
	st->closing = 1;
	if (st->timeout_ev) {
		sim_ev_kill(h->sim, st->timeout_ev);
		st->timeout_ev = NULL;
	}
	send_ctl(st, ctl);
	queue_close(st, 0, h->sim->now);
}

void sim_stream_close(rt_stream *st) { stream_end(st, RT_EOF); }
void sim_stream_reset(rt_stream *st) { stream_end(st, RT_ECONNRESET); }

/* ---- dispatch and crash ---- */

const char *sim_net_run(rt_sim *s, sim_ev *ev, size_t *bytes)
{
	switch (ev->kind) {
	case SIM_EV_SYN: return syn_run(s, ev);
	case SIM_EV_ACCEPT: return accept_run(s, ev);
	case SIM_EV_CONNECTED: return connected_run(s, ev);
	case SIM_EV_DATA: return data_run(s, ev, bytes);
	case SIM_EV_WDONE: return wdone_run(s, ev, bytes);
	case SIM_EV_TIMEOUT: return timeout_run(s, ev);
	case SIM_EV_CLOSE: return close_run(s, ev);
	default: return NULL;
	}
}

void sim_net_drop_host(struct sim_host *h)
{
	rt_sim *s = h->sim;
	struct sim_listener *l = s->lis_head;
	while (l) {
		struct sim_listener *next = l->next;
		if (l->pub.host == &h->pub)
			sim_listener_close(&l->pub);
		l = next;
	}
	while (h->streams_head)
		drop_silently(h->streams_head);
}
