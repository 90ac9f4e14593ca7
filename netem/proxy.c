/*
 * proxy.c — the live TCP fault proxy: endpoints, connections, the per-direction delivery queue.
 * See proxy.h for what it does; this file is about how.
 *
 * Each accepted connection has two directions (0: client → node, 1: node → client). A direction
 * keeps a FIFO of chunks, one per read, each with the time it is due (or held by a partition).
 * The head is written when due; a later chunk never overtakes an earlier one, so order holds
 * whatever the delays. With no rules a chunk is due at once and is written from the read
 * callback itself: the fast path is one read, one write.
 */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_BUF (64 * 1024)            /* bytes per read */
#define PX_HIGH ((size_t)4 << 20)     /* stop reading a side past this much of its data pending */
#define PX_NAME 64

enum { UP_HELD = 0, UP_CONNECTING = 1, UP_OK = 2 };

typedef struct px_chunk {
	struct px_chunk *next;
	size_t len, off;  /* bytes in data; bytes already handed to uv_write */
	size_t slice;     /* write at most this many at a time (0 = all) */
	uint64_t due_ns;  /* when the next part may be written */
	uint64_t gap_ns;  /* between slices */
	int held, heal_reset;
	int refs;         /* the queue's + one per write in flight */
	char data[];
} px_chunk;

struct px_conn;

typedef struct px_dir {
	struct px_conn *c;
	int idx;
	uv_tcp_t *from, *to;
	const char *src, *dst; /* link names (point into the conn) */
	px_chunk *head, *tail;
	size_t waiting;   /* bytes queued, not yet handed to uv_write */
	size_t inflight;  /* bytes in uv_write */
	size_t limit;     /* pause reading at this many pending bytes */
	uint64_t last_due;
	uv_timer_t timer;
	int reading, eof, shut, shut_done;
} px_dir;

typedef struct px_ep {
	struct px_ep *next;
	nproxy *px;
	char name[PX_NAME];
	char listen_ip[16], target_ip[16];
	uint16_t listen_port, target_port;
	uv_tcp_t server;
	uint64_t conns_total, conns_open, bytes_in, bytes_out;
} px_ep;

typedef struct px_conn {
	struct px_conn *prev, *next;
	nproxy *px;
	px_ep *ep; /* NULL once the endpoint is removed */
	char src[PX_NAME], dst[PX_NAME];
	char client_ip[16];
	uv_tcp_t client, upstream;
	uv_connect_t creq;
	px_dir d[2];
	int up_state, setup_heal_reset;
	int closing, open_handles;
} px_conn;

typedef struct px_host {
	char name[PX_NAME];
	char ip[16];
} px_host;

struct nproxy {
	uv_loop_t *loop;
	netem *model;
	px_ep *eps;
	px_conn *conns_head, *conns_tail;
	px_host *hosts;
	size_t nhosts;
	uv_timer_t expiry;
	int shutting_down;
};

typedef struct px_wreq {
	uv_write_t req;
	px_dir *d;
	px_chunk *ch;
	size_t len;
} px_wreq;

static void conn_close(px_conn *c, int reset);
static void dir_pump(px_dir *d);

uint64_t nproxy_now_ns(const nproxy *px) { return uv_hrtime(); }
netem *nproxy_model(nproxy *px) { return px->model; }

/* ---- addresses and names ---- */

int nproxy_parse_addr(const char *s, char ip[16], uint16_t *port, int allow_zero)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon == s || (size_t)(colon - s) >= 16)
		return RT_EINVAL;
	char buf[16];
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	struct sockaddr_in a;
	if (uv_ip4_addr(buf, 0, &a))
		return RT_EINVAL;
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || p > 65535 || (p == 0 && !allow_zero))
		return RT_EINVAL;
	memcpy(ip, buf, 16);
	*port = (uint16_t)p;
	return 0;
}

static void name_client(const nproxy *px, const char *ip, char *out)
{
	for (size_t i = 0; i < px->nhosts; i++)
		if (strcmp(px->hosts[i].ip, ip) == 0) {
			snprintf(out, PX_NAME, "%s", px->hosts[i].name);
			return;
		}
	for (const px_ep *e = px->eps; e; e = e->next)
		if (strcmp(e->target_ip, ip) == 0) {
			snprintf(out, PX_NAME, "%s", e->name);
			return;
		}
	snprintf(out, PX_NAME, "%s", ip);
}

int nproxy_add_host(nproxy *px, const char *name, const char *ip)
{
	struct sockaddr_in a;
	if (!name || !netem_pattern_ok(name) || strchr(name, '*') || !ip || strlen(ip) >= 16 ||
	    uv_ip4_addr(ip, 0, &a))
		return RT_EINVAL;
	for (size_t i = 0; i < px->nhosts; i++)
		if (strcmp(px->hosts[i].ip, ip) == 0) {
			snprintf(px->hosts[i].name, PX_NAME, "%s", name);
			return 0;
		}
	px_host *h = realloc(px->hosts, (px->nhosts + 1) * sizeof *h);
	if (!h)
		return RT_ENOMEM;
	px->hosts = h;
	snprintf(h[px->nhosts].name, PX_NAME, "%s", name);
	snprintf(h[px->nhosts].ip, 16, "%s", ip);
	px->nhosts++;
	return 0;
}

/* ---- chunks and the delivery queue ---- */

static void chunk_unref(px_chunk *ch)
{
	if (--ch->refs == 0)
		free(ch);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	px_chunk *ch = malloc(sizeof *ch + PX_BUF);
	*buf = uv_buf_init(ch ? ch->data : NULL, ch ? PX_BUF : 0);
}

static int dir_can_write(const px_dir *d) { return d->idx == 1 || d->c->up_state == UP_OK; }
static int dir_can_read(const px_dir *d) { return d->idx == 0 || d->c->up_state == UP_OK; }

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/*
 * Pause the reading side while one more full read could take its pending data past the limit;
 * resume when it is empty or well under it. With a bandwidth queue bound as the limit, a chunk is
 * handed on only when the link has serialised it, so a single connection never overflows the
 * model's queue (no tail drops): the sender is pushed back, as by TCP's window.
 */
static void dir_flow(px_dir *d)
{
	if (d->c->closing || d->eof || !dir_can_read(d))
		return;
	size_t pending = d->waiting + d->inflight;
	if (d->reading && pending && pending + PX_BUF > d->limit) {
		uv_read_stop((uv_stream_t *)d->from);
		d->reading = 0;
	} else if (!d->reading && (!pending || pending + PX_BUF <= d->limit / 2)) {
		if (uv_read_start((uv_stream_t *)d->from, on_alloc, on_read) == 0)
			d->reading = 1;
	}
}

static void on_write(uv_write_t *req, int status)
{
	px_wreq *w = (px_wreq *)req;
	px_dir *d = w->d;
	d->inflight -= w->len;
	chunk_unref(w->ch);
	free(w);
	if (d->c->closing)
		return;
	if (status < 0) {
		conn_close(d->c, 1);
		return;
	}
	dir_flow(d);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	px_dir *d = req->data;
	free(req);
	px_conn *c = d->c;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c, 1);
		return;
	}
	d->shut_done = 1;
	if (c->d[0].shut_done && c->d[1].shut_done)
		conn_close(c, 0); /* both sides closed in order */
}

static void on_dir_timer(uv_timer_t *t) { dir_pump(t->data); }

static int write_part(px_dir *d, px_chunk *ch, size_t n)
{
	px_wreq *w = malloc(sizeof *w);
	if (!w)
		return RT_ENOMEM;
	w->d = d;
	w->ch = ch;
	w->len = n;
	uv_buf_t b = uv_buf_init(ch->data + ch->off, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)d->to, &b, 1, on_write)) {
		free(w);
		return RT_EIO;
	}
	ch->refs++;
	ch->off += n;
	d->waiting -= n;
	d->inflight += n;
	return 0;
}

/* Write what is due, in order; arm the timer for the next due part; pass on an EOF. */
static void dir_pump(px_dir *d)
{
	px_conn *c = d->c;
	if (c->closing || !dir_can_write(d))
		return;
	uint64_t now = uv_hrtime();
	px_chunk *ch;
	while ((ch = d->head) != NULL) {
		if (ch->held)
			break;
		if (ch->due_ns > now) {
			uint64_t ms = (ch->due_ns - now + 999999) / 1000000;
			uv_timer_start(&d->timer, on_dir_timer, ms, 0);
			break;
		}
		size_t n = ch->len - ch->off;
		if (ch->slice && n > ch->slice)
			n = ch->slice;
		if (write_part(d, ch, n)) {
			conn_close(c, 1);
			return;
		}
		if (ch->off < ch->len) {
			ch->due_ns += ch->gap_ns;
			continue;
		}
		d->head = ch->next;
		if (!d->head)
			d->tail = NULL;
		chunk_unref(ch);
	}
	if (!d->head && d->eof && !d->shut) {
		uv_shutdown_t *req = malloc(sizeof *req);
		if (!req || uv_shutdown(req, (uv_stream_t *)d->to, on_shutdown)) {
			free(req);
			conn_close(c, 1);
			return;
		}
		req->data = d;
		d->shut = 1;
	}
	dir_flow(d);
}

/* Set a chunk's delivery from a verdict (not held). */
static void chunk_schedule(px_dir *d, px_chunk *ch, const netem_verdict *v, uint64_t now)
{
	uint64_t due = now + v->delay_ns;
	if (due < d->last_due)
		due = d->last_due;
	d->last_due = due;
	ch->held = 0;
	ch->due_ns = due;
	ch->gap_ns = v->slices > 1 ? v->slice_gap_ns : 0;
	ch->slice = v->slices > 1 ? (ch->len + v->slices - 1) / v->slices : 0;
}

static int dir_decide(px_dir *d, size_t len, uint64_t now, netem_verdict *v)
{
	netem *m = d->c->px->model;
	rt_rng *rng = netem_link_rng(m, d->src, d->dst);
	if (!rng)
		return RT_ENOMEM;
	return netem_decide(m, d->src, d->dst, len, now, rng, v);
}

static void dir_push(px_dir *d, px_chunk *ch, size_t len)
{
	px_conn *c = d->c;
	nproxy *px = c->px;
	ch->next = NULL;
	ch->len = len;
	ch->off = 0;
	ch->slice = 0;
	ch->gap_ns = 0;
	ch->held = ch->heal_reset = 0;
	ch->due_ns = 0;
	ch->refs = 1;
	if (c->ep) {
		if (d->idx == 0)
			c->ep->bytes_in += len;
		else
			c->ep->bytes_out += len;
	}
	d->limit = PX_HIGH;
	if (netem_rule_count(px->model)) {
		uint64_t now = uv_hrtime();
		netem_verdict v;
		if (dir_decide(d, len, now, &v)) {
			free(ch);
			conn_close(c, 1);
			return;
		}
		if (v.reset) {
			free(ch);
			conn_close(c, 1);
			return;
		}
		if (v.hold) {
			ch->held = 1;
			ch->heal_reset = v.heal_reset;
		} else {
			chunk_schedule(d, ch, &v, now);
		}
		uint64_t q = netem_queue_limit(px->model, d->src, d->dst, now);
		if (q && q < d->limit)
			d->limit = (size_t)q;
	}
	if (d->tail)
		d->tail->next = ch;
	else
		d->head = ch;
	d->tail = ch;
	d->waiting += len;
	if (d->head == ch)
		dir_pump(d);
	else
		dir_flow(d);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	px_conn *c = s->data;
	px_dir *d = (uv_tcp_t *)s == &c->client ? &c->d[0] : &c->d[1];
	px_chunk *ch = buf->base ? (px_chunk *)(buf->base - offsetof(px_chunk, data)) : NULL;
	if (nread > 0 && !c->closing) {
		dir_push(d, ch, (size_t)nread);
		return;
	}
	free(ch);
	if (nread == 0 || c->closing)
		return;
	if (nread == UV_EOF) {
		uv_read_stop(s);
		d->reading = 0;
		d->eof = 1;
		if (!d->head)
			dir_pump(d); /* nothing waits: pass the EOF on now */
		return;
	}
	conn_close(c, 1); /* reset or error: the other side is reset too */
}

/* ---- connections ---- */

static void conn_free(px_conn *c)
{
	for (int i = 0; i < 2; i++) {
		px_chunk *ch = c->d[i].head;
		while (ch) {
			px_chunk *next = ch->next;
			chunk_unref(ch);
			ch = next;
		}
	}
	free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	px_conn *c = h->data;
	if (--c->open_handles == 0)
		conn_free(c);
}

static void on_dir_timer_closed(uv_handle_t *h)
{
	px_dir *d = h->data;
	px_conn *c = d->c;
	if (--c->open_handles == 0)
		conn_free(c);
}

static void close_tcp(uv_tcp_t *t, int reset)
{
	if (uv_is_closing((uv_handle_t *)t))
		return;
	if (reset && uv_tcp_close_reset(t, on_conn_handle_closed) == 0)
		return;
	uv_close((uv_handle_t *)t, on_conn_handle_closed); /* not connected, or shutting down */
}

static void conn_close(px_conn *c, int reset)
{
	if (c->closing)
		return;
	c->closing = 1;
	nproxy *px = c->px;
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		px->conns_tail = c->prev;
	c->prev = c->next = NULL;
	if (c->ep)
		c->ep->conns_open--;
	close_tcp(&c->client, reset);
	close_tcp(&c->upstream, reset && c->up_state == UP_OK);
	uv_close((uv_handle_t *)&c->d[0].timer, on_dir_timer_closed);
	uv_close((uv_handle_t *)&c->d[1].timer, on_dir_timer_closed);
}

static void on_up_connect(uv_connect_t *req, int status)
{
	px_conn *c = req->data;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c, 1); /* the node is not there: the client sees a reset */
		return;
	}
	c->up_state = UP_OK;
	uv_tcp_nodelay(&c->upstream, 1);
	dir_flow(&c->d[1]); /* starts reading the node */
	dir_pump(&c->d[0]); /* what the client sent meanwhile */
}

static void start_upstream(px_conn *c)
{
	struct sockaddr_in a;
	c->up_state = UP_CONNECTING;
	/* Bind to the client's own loopback address, so the node sees who talks (as without the
	 * proxy). Not possible for other addresses: then the kernel picks. */
	if (strncmp(c->client_ip, "127.", 4) == 0 && uv_ip4_addr(c->client_ip, 0, &a) == 0)
		(void)uv_tcp_bind(&c->upstream, (const struct sockaddr *)&a, 0);
	const char *ip = c->ep ? c->ep->target_ip : "0.0.0.0";
	uint16_t port = c->ep ? c->ep->target_port : 0;
	c->creq.data = c;
	if (uv_ip4_addr(ip, port, &a) ||
	    uv_tcp_connect(&c->creq, &c->upstream, (const struct sockaddr *)&a, on_up_connect))
		conn_close(c, 1);
}

static void on_accept(uv_stream_t *server, int status)
{
	px_ep *ep = server->data;
	nproxy *px = ep->px;
	if (status < 0 || px->shutting_down)
		return;
	px_conn *c = calloc(1, sizeof *c);
	if (!c)
		return; /* left in the backlog; tried again at the next connection */
	c->px = px;
	c->ep = ep;
	uv_tcp_init(px->loop, &c->client);
	uv_tcp_init(px->loop, &c->upstream);
	c->client.data = c->upstream.data = c;
	for (int i = 0; i < 2; i++) {
		px_dir *d = &c->d[i];
		d->c = c;
		d->idx = i;
		d->limit = PX_HIGH;
		uv_timer_init(px->loop, &d->timer);
		d->timer.data = d;
	}
	c->open_handles = 4;
	/* link first: conn_close unlinks */
	c->prev = px->conns_tail;
	if (px->conns_tail)
		px->conns_tail->next = c;
	else
		px->conns_head = c;
	px->conns_tail = c;
	ep->conns_total++;
	ep->conns_open++;
	if (uv_accept(server, (uv_stream_t *)&c->client)) {
		conn_close(c, 0);
		return;
	}
	struct sockaddr_storage ss;
	int sl = sizeof ss;
	if (uv_tcp_getpeername(&c->client, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, c->client_ip, sizeof c->client_ip);
	else
		snprintf(c->client_ip, sizeof c->client_ip, "0.0.0.0");
	name_client(px, c->client_ip, c->src);
	snprintf(c->dst, sizeof c->dst, "%s", ep->name);
	c->d[0].from = &c->client;
	c->d[0].to = &c->upstream;
	c->d[0].src = c->src;
	c->d[0].dst = c->dst;
	c->d[1].from = &c->upstream;
	c->d[1].to = &c->client;
	c->d[1].src = c->dst;
	c->d[1].dst = c->src;
	uv_tcp_nodelay(&c->client, 1);
	dir_flow(&c->d[0]);

	netem_verdict v = {0};
	if (netem_rule_count(px->model) && dir_decide(&c->d[0], 0, uv_hrtime(), &v) == 0) {
		if (v.reset) {
			conn_close(c, 1);
			return;
		}
		if (v.hold) {
			c->up_state = UP_HELD;
			c->setup_heal_reset = v.heal_reset;
			return;
		}
	}
	start_upstream(c);
}

/* ---- rules changed: release or reset what partitions held ---- */

static void dir_release(px_dir *d, uint64_t now)
{
	for (px_chunk *ch = d->head; ch; ch = ch->next) {
		if (!ch->held)
			continue;
		netem_verdict v;
		if (dir_decide(d, ch->len, now, &v) || v.reset || (!v.hold && ch->heal_reset)) {
			conn_close(d->c, 1);
			return;
		}
		if (v.hold)
			break; /* still partitioned: this and what follows stay */
		chunk_schedule(d, ch, &v, now);
	}
	dir_pump(d);
}

static void conn_kick(px_conn *c, uint64_t now)
{
	if (c->up_state == UP_HELD) {
		netem_verdict v;
		if (dir_decide(&c->d[0], 0, now, &v) || v.reset || (!v.hold && c->setup_heal_reset)) {
			conn_close(c, 1);
			return;
		}
		if (!v.hold)
			start_upstream(c);
	}
	for (int i = 0; i < 2 && !c->closing; i++)
		dir_release(&c->d[i], now);
}

static void on_expiry(uv_timer_t *t) { nproxy_rules_changed(t->data); }

void nproxy_rules_changed(nproxy *px)
{
	if (px->shutting_down)
		return;
	uint64_t now = uv_hrtime();
	netem_expire(px->model, now);
	for (px_conn *c = px->conns_head, *next; c; c = next) {
		next = c->next; /* conn_close unlinks c only */
		conn_kick(c, now);
	}
	uint64_t at = netem_next_expiry(px->model, now);
	if (at)
		uv_timer_start(&px->expiry, on_expiry, (at - now + 999999) / 1000000, 0);
	else
		uv_timer_stop(&px->expiry);
}

void nproxy_reset_connections(nproxy *px)
{
	while (px->conns_head)
		conn_close(px->conns_head, 1);
}

/* ---- endpoints ---- */

static void on_ep_closed(uv_handle_t *h) { free(h->data); }

int nproxy_add_endpoint(nproxy *px, const char *name, const char *listen_ip, uint16_t listen_port,
			const char *target_ip, uint16_t target_port, uint16_t *port_out, char *err,
			size_t errlen)
{
	struct sockaddr_in la, ta;
	if (!name || !netem_pattern_ok(name) || strchr(name, '*')) {
		snprintf(err, errlen, "name: expected a host name such as \"server/0\"");
		return RT_EINVAL;
	}
	if (!listen_ip || strlen(listen_ip) >= 16 || uv_ip4_addr(listen_ip, listen_port, &la)) {
		snprintf(err, errlen, "listen: expected an IPv4 address");
		return RT_EINVAL;
	}
	if (!target_ip || strlen(target_ip) >= 16 || !target_port ||
	    uv_ip4_addr(target_ip, target_port, &ta)) {
		snprintf(err, errlen, "target: expected an IPv4 address and a port");
		return RT_EINVAL;
	}
	px_ep *ep = calloc(1, sizeof *ep);
	if (!ep) {
		snprintf(err, errlen, "out of memory");
		return RT_ENOMEM;
	}
	ep->px = px;
	snprintf(ep->name, sizeof ep->name, "%s", name);
	snprintf(ep->listen_ip, sizeof ep->listen_ip, "%s", listen_ip);
	snprintf(ep->target_ip, sizeof ep->target_ip, "%s", target_ip);
	ep->target_port = target_port;
	uv_tcp_init(px->loop, &ep->server);
	ep->server.data = ep;
	int rc = uv_tcp_bind(&ep->server, (const struct sockaddr *)&la, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&ep->server, 511, on_accept);
	if (rc) {
		snprintf(err, errlen, "listen %s:%u: %s", listen_ip, listen_port, uv_strerror(rc));
		uv_close((uv_handle_t *)&ep->server, on_ep_closed);
		return rc == UV_EADDRINUSE ? RT_EADDRINUSE : RT_EINVAL;
	}
	struct sockaddr_storage ss;
	int sl = sizeof ss;
	if (uv_tcp_getsockname(&ep->server, (struct sockaddr *)&ss, &sl) == 0)
		ep->listen_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (port_out)
		*port_out = ep->listen_port;
	/* append: listing order is the order of addition */
	px_ep **pp = &px->eps;
	while (*pp)
		pp = &(*pp)->next;
	*pp = ep;
	return 0;
}

int nproxy_remove_endpoint(nproxy *px, const char *name)
{
	int found = 0;
	for (px_ep **pp = &px->eps; *pp;) {
		px_ep *ep = *pp;
		if (strcmp(ep->name, name) != 0) {
			pp = &ep->next;
			continue;
		}
		*pp = ep->next;
		found = 1;
		for (px_conn *c = px->conns_head, *next; c; c = next) {
			next = c->next;
			if (c->ep == ep) {
				conn_close(c, 1);
				c->ep = NULL;
			}
		}
		uv_close((uv_handle_t *)&ep->server, on_ep_closed);
	}
	return found ? 0 : RT_ENOENT;
}

uint16_t nproxy_endpoint_port(const nproxy *px, const char *name)
{
	for (const px_ep *e = px->eps; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e->listen_port;
	return 0;
}

cJSON *nproxy_list_json(const nproxy *px)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
	cJSON *hosts = cJSON_AddArrayToObject(o, "hosts");
	if (!o || !eps || !hosts)
		goto fail;
	char buf[32];
	for (const px_ep *e = px->eps; e; e = e->next) {
		cJSON *j = cJSON_CreateObject();
		if (!j || !cJSON_AddItemToArray(eps, j))
			goto fail;
		int bad = !cJSON_AddStringToObject(j, "name", e->name);
		snprintf(buf, sizeof buf, "%s:%u", e->listen_ip, e->listen_port);
		bad |= !cJSON_AddStringToObject(j, "listen", buf);
		snprintf(buf, sizeof buf, "%s:%u", e->target_ip, e->target_port);
		bad |= !cJSON_AddStringToObject(j, "target", buf);
		bad |= !cJSON_AddNumberToObject(j, "connections_open", (double)e->conns_open);
		bad |= !cJSON_AddNumberToObject(j, "connections_total", (double)e->conns_total);
		bad |= !cJSON_AddNumberToObject(j, "bytes_in", (double)e->bytes_in);
		bad |= !cJSON_AddNumberToObject(j, "bytes_out", (double)e->bytes_out);
		if (bad)
			goto fail;
	}
	for (size_t i = 0; i < px->nhosts; i++) {
		cJSON *j = cJSON_CreateObject();
		if (!j || !cJSON_AddItemToArray(hosts, j) ||
		    !cJSON_AddStringToObject(j, "name", px->hosts[i].name) ||
		    !cJSON_AddStringToObject(j, "ip", px->hosts[i].ip))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* ---- the proxy ---- */

int nproxy_new(uv_loop_t *loop, uint64_t seed, nproxy **out)
{
	nproxy *px = calloc(1, sizeof *px);
	if (!px)
		return RT_ENOMEM;
	px->loop = loop;
	px->model = netem_new(seed);
	if (!px->model) {
		free(px);
		return RT_ENOMEM;
	}
	uv_timer_init(loop, &px->expiry);
	px->expiry.data = px;
	*out = px;
	return 0;
}

void nproxy_shutdown(nproxy *px)
{
	if (px->shutting_down)
		return;
	px->shutting_down = 1;
	uv_close((uv_handle_t *)&px->expiry, NULL);
	while (px->eps) {
		px_ep *ep = px->eps;
		px->eps = ep->next;
		for (px_conn *c = px->conns_head; c; c = c->next)
			if (c->ep == ep)
				c->ep = NULL;
		uv_close((uv_handle_t *)&ep->server, on_ep_closed);
	}
	while (px->conns_head) {
		/* data still waiting would be lost: say so with a reset rather than a clean EOF */
		px_conn *c = px->conns_head;
		int pending = c->d[0].head || c->d[1].head || c->d[0].inflight || c->d[1].inflight;
		conn_close(c, pending);
	}
}

void nproxy_free(nproxy *px)
{
	if (!px)
		return;
	netem_free(px->model);
	free(px->hosts);
	free(px);
}
