/*
 * rt_uv.c — the libuv backend of rt.h (see rt_uv.h): one uv_loop per process, real TCP on
 * 127.0.0.x, real files under each host's data directory, the OS clocks.
 *
 * Lifetimes. Timers, listeners and streams embed their libuv handles and are freed only in the
 * uv_close callback, when libuv no longer references the memory. Closing detaches the user
 * callback first, so nothing fires after rt_timer_free / rt_listener_close. Each host keeps its
 * live objects on intrusive lists (insertion order) so rt_uv_host_free can close what is left;
 * objects closed that way never call back into the (gone) node.
 *
 * Deferral. rt.h forbids callbacks inline in the call that caused them. Every terminal stream event
 * goes through uv_close, whose callback libuv always runs from a later loop phase, so on_close (and
 * the completions of writes that failed synchronously, which run just before it) is never inline.
 *
 * SIGPIPE. libuv 1.44 writes streams with write()/writev(), not send(MSG_NOSIGNAL), so a write to a
 * reset peer raises SIGPIPE and kills the process. Entry points must ignore it
 * (signal(SIGPIPE, SIG_IGN)) before rt_uv_run; rt_uv_run warns once on stderr when they did not.
 * This file does not change the process's signal dispositions itself.
 *
 * Stream choices (the sim backend should match them):
 *   - rt_stream_reset gives the local side on_close(0), like rt_stream_close: err names a remote
 *     or network cause, and a local close has none. Dropped writes complete with RT_ECANCELED.
 *   - after rt_stream_close no more on_read is delivered; bytes already queued are still sent.
 *   - rt_stream_close before on_connect: queued bytes are sent once connected, on_connect is not
 *     delivered; with nothing queued the attempt is abandoned at once.
 *   - peer EOF closes the stream at once (no half-open streams); unsent writes complete with
 *     RT_ECANCELED.
 *   - TCP_NODELAY is set on every stream (request/response traffic; no Nagle stalls).
 */
#include "rt_uv.h"
#include "rt_impl.h"
#include "rt_uv_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#define RTU_BACKLOG 1024
#define RTU_READ_BUF (64 * 1024)
#define RTU_LINGER_MS 30000 /* a graceful close that cannot flush in this time is forced */

struct rt_uv {
	uv_loop_t loop;
	struct rtu_link hosts;
	int in_timer; /* > 0 while a user timer callback runs (see uvt_start) */
	int warned_sigpipe;
	/* One read buffer for every stream: libuv calls alloc and read back to back for one stream,
	 * and on_read owns the bytes only during the call. */
	char rbuf[RTU_READ_BUF];
};

struct uvt {
	struct rt_timer head;
	uv_timer_t t;
	rt_uv *u;
	struct rtu_link link;
	int attached; /* on the host's list; 0 once freed or detached by rt_uv_host_free */
};

struct uvl {
	struct rt_listener head;
	uv_tcp_t tcp;
	struct rtu_link link;
	int attached;
	int closed;
};

enum { S_CONNECTING, S_OPEN, S_CLOSING, S_DEAD };

struct uvs {
	struct rt_stream head;
	uv_tcp_t tcp;
	uv_timer_t timer; /* connect timeout, then the graceful-close deadline */
	uv_connect_t creq;
	uv_shutdown_t sreq;
	rt_uv *u;
	struct rtu_link link;
	struct rtu_link failed; /* writes refused by uv_write; completed just before on_close */
	int state;
	int attached;      /* 0 after rt_uv_host_free: no more user callbacks */
	int close_pending; /* rt_stream_close while connecting with writes queued */
	int err_fixed;     /* the first cause (a local close counts as 0) wins */
	int close_err;
	int open_handles;  /* handles not yet through their close callback */
	size_t nwrites;    /* uv_write requests in flight */
};

struct uvw {
	uv_write_t req;
	struct uvs *s;
	rt_write_cb cb;
	void *data;
	struct rtu_link link;
	int status;
	uint8_t bytes[];
};

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ---- intrusive lists ---- */

void rtu_link_init(struct rtu_link *l) { l->prev = l->next = l; }
int rtu_link_empty(const struct rtu_link *l) { return l->next == l; }
void rtu_link_add_tail(struct rtu_link *head, struct rtu_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}
void rtu_link_del(struct rtu_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	rtu_link_init(l);
}

/* ---- errors ---- */

static int map_uv(int e)
{
	switch (e) {
	case 0: return 0;
	case UV_EOF: return RT_EOF;
	case UV_ECONNREFUSED: return RT_ECONNREFUSED;
	case UV_ETIMEDOUT: return RT_ETIMEDOUT;
	case UV_ECONNRESET:
	case UV_EPIPE:
	case UV_ECONNABORTED:
	case UV_ENOTCONN: return RT_ECONNRESET;
	case UV_EADDRINUSE: return RT_EADDRINUSE;
	case UV_ECANCELED: return RT_ECANCELED;
	case UV_ENOMEM:
	case UV_ENOBUFS: return RT_ENOMEM;
	case UV_EINVAL: return RT_EINVAL;
	default: return RT_EIO;
	}
}

/* on_close reports only the codes rt.h lists for it. */
static int close_code(int err)
{
	switch (err) {
	case 0:
	case RT_EOF:
	case RT_ECONNRESET:
	case RT_ECONNREFUSED:
	case RT_ETIMEDOUT: return err;
	default: return RT_EIO;
	}
}

/* ---- clocks ---- */

static uint64_t uvh_now_ns(rt_host *hh)
{
	(void)hh;
	return uv_hrtime();
}

static int64_t uvh_wall_ms(rt_host *hh)
{
	struct uvh *h = (struct uvh *)hh;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + h->clock_offset_ms;
}

/* ---- timers ---- */

static void uvt_closed(uv_handle_t *hd) { free(hd->data); }

static void on_uv_timer(uv_timer_t *ut)
{
	struct uvt *t = ut->data;
	rt_uv *u = t->u;
	if (!t->head.cb)
		return;
	u->in_timer++;
	t->head.cb(&t->head, t->head.data); /* may free t */
	u->in_timer--;
}

static rt_timer *uvt_new(rt_host *hh, rt_timer_cb cb, void *data)
{
	struct uvh *h = (struct uvh *)hh;
	struct uvt *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->head.host = hh;
	t->head.cb = cb;
	t->head.data = data;
	t->u = h->u;
	uv_timer_init(&h->u->loop, &t->t);
	t->t.data = t;
	t->attached = 1;
	rtu_link_add_tail(&h->timers, &t->link);
	return &t->head;
}

/*
 * libuv caches the loop time per iteration, so a timer started late in a long callback would fire
 * early; refresh it first. Not inside a timer callback, though: libuv 1.44 runs due timers in a loop
 * against the loop time, so a refreshed time (or a 0 ms delay, hence the 1 ms floor there) would let
 * a timer that re-arms itself run again in the same pass and starve I/O.
 */
static int uvt_start(rt_timer *ht, uint64_t delay_ms, uint64_t repeat_ms)
{
	struct uvt *t = (struct uvt *)ht;
	if (!t->attached)
		return RT_EINVAL;
	if (t->u->in_timer) {
		if (delay_ms == 0)
			delay_ms = 1;
	} else {
		uv_update_time(&t->u->loop);
	}
	return map_uv(uv_timer_start(&t->t, on_uv_timer, delay_ms, repeat_ms));
}

static void uvt_stop(rt_timer *ht) { uv_timer_stop(&((struct uvt *)ht)->t); }

static int uvt_active(const rt_timer *ht)
{
	return uv_is_active((const uv_handle_t *)&((const struct uvt *)ht)->t) != 0;
}

static void uvt_close(struct uvt *t)
{
	if (t->attached)
		rtu_link_del(&t->link);
	t->attached = 0;
	t->head.cb = NULL; /* never fires again, even if libuv already picked it */
	if (!uv_is_closing((uv_handle_t *)&t->t))
		uv_close((uv_handle_t *)&t->t, uvt_closed);
}

static void uvt_free(rt_timer *ht) { uvt_close((struct uvt *)ht); }

/* ---- streams ---- */

static void uvs_handle_closed(uv_handle_t *hd)
{
	struct uvs *s = hd->data;
	if (--s->open_handles > 0)
		return;
	while (!rtu_link_empty(&s->failed)) {
		struct uvw *w = container_of(s->failed.next, struct uvw, link);
		rtu_link_del(&w->link);
		if (s->attached && w->cb)
			w->cb(&s->head, w->status, w->data);
		free(w);
	}
	if (s->attached) {
		/* Off the host's list first: on_close may free the host. */
		rtu_link_del(&s->link);
		s->attached = 0;
		if (s->head.cbs && s->head.cbs->on_close)
			s->head.cbs->on_close(&s->head, s->close_err, s->head.data);
	}
	free(s);
}

/* The stream is finished: record why (first cause wins) and close both handles. */
static void uvs_terminate(struct uvs *s, int err)
{
	if (!s->err_fixed) {
		s->err_fixed = 1;
		s->close_err = close_code(err);
	}
	if (s->state == S_DEAD)
		return;
	s->state = S_DEAD;
	uv_close((uv_handle_t *)&s->timer, uvs_handle_closed);
	uv_close((uv_handle_t *)&s->tcp, uvs_handle_closed);
}

static void uvs_fix_local(struct uvs *s)
{
	if (!s->err_fixed) {
		s->err_fixed = 1;
		s->close_err = 0;
	}
}

static struct uvs *uvs_new(struct uvh *h)
{
	struct uvs *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->head.host = &h->head;
	s->u = h->u;
	rtu_link_init(&s->link);
	rtu_link_init(&s->failed);
	uv_tcp_init(&h->u->loop, &s->tcp);
	uv_timer_init(&h->u->loop, &s->timer);
	s->tcp.data = s;
	s->timer.data = s;
	s->open_handles = 2;
	return s;
}

static void uvs_attach(struct uvh *h, struct uvs *s)
{
	s->attached = 1;
	rtu_link_add_tail(&h->streams, &s->link);
}

static void on_stream_timer(uv_timer_t *t)
{
	/* Connect timeout; or the close deadline, where the local close already fixed err = 0. */
	uvs_terminate(t->data, RT_ETIMEDOUT);
}

static void on_uv_alloc(uv_handle_t *hd, size_t hint, uv_buf_t *buf)
{
	struct uvs *s = hd->data;
	(void)hint;
	buf->base = s->u->rbuf;
	buf->len = sizeof s->u->rbuf;
}

static void on_uv_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct uvs *s = st->data;
	if (nread > 0) {
		if (s->state == S_OPEN && s->attached && s->head.cbs && s->head.cbs->on_read)
			s->head.cbs->on_read(&s->head, (const uint8_t *)buf->base, (size_t)nread,
					     s->head.data);
		return;
	}
	if (nread < 0)
		uvs_terminate(s, map_uv((int)nread));
}

static void uvs_start_reading(struct uvs *s)
{
	int r = uv_read_start((uv_stream_t *)&s->tcp, on_uv_alloc, on_uv_read);
	if (r)
		uvs_terminate(s, map_uv(r));
}

static void on_uv_shutdown(uv_shutdown_t *req, int status)
{
	(void)status; /* the local close already fixed err = 0 */
	uvs_terminate(container_of(req, struct uvs, sreq), 0);
}

static void uvs_start_shutdown(struct uvs *s)
{
	s->state = S_CLOSING;
	uv_read_stop((uv_stream_t *)&s->tcp);
	if (uv_shutdown(&s->sreq, (uv_stream_t *)&s->tcp, on_uv_shutdown)) {
		uvs_terminate(s, 0);
		return;
	}
	uv_timer_start(&s->timer, on_stream_timer, RTU_LINGER_MS, 0);
}

static void on_uv_connect(uv_connect_t *req, int status)
{
	struct uvs *s = container_of(req, struct uvs, creq);
	if (s->state != S_CONNECTING)
		return; /* cancelled by a close */
	if (status < 0) {
		uvs_terminate(s, map_uv(status));
		return;
	}
	uv_timer_stop(&s->timer);
	uv_tcp_nodelay(&s->tcp, 1);
	s->state = S_OPEN;
	if (s->close_pending) {
		uvs_start_shutdown(s);
		return;
	}
	uvs_start_reading(s);
	if (s->state == S_OPEN && s->attached && s->head.cbs && s->head.cbs->on_connect)
		s->head.cbs->on_connect(&s->head, s->head.data);
}

static int uvh_connect(rt_host *hh, const char *ip, uint16_t port, uint64_t timeout_ms,
		       const rt_stream_cbs *cbs, void *data, rt_stream **out)
{
	struct uvh *h = (struct uvh *)hh;
	struct sockaddr_in dst, src;
	if (uv_ip4_addr(ip, port, &dst))
		return RT_EINVAL;
	struct uvs *s = uvs_new(h);
	if (!s)
		return RT_ENOMEM;
	s->head.cbs = cbs;
	s->head.data = data;
	snprintf(s->head.peer_ip, sizeof s->head.peer_ip, "%s", ip);
	s->head.peer_port = port;
	s->state = S_CONNECTING;
	uvs_attach(h, s);
	int r = 0;
	/* Bind to the host's own address so peers (and a netem proxy) can tell hosts apart; all of
	 * 127.0.0.0/8 is local on Linux. 127.0.0.1 is what the kernel picks anyway. */
	if (strcmp(hh->ip, "127.0.0.1") != 0) {
		r = uv_ip4_addr(hh->ip, 0, &src);
		if (!r)
			r = uv_tcp_bind(&s->tcp, (const struct sockaddr *)&src, 0);
	}
	if (!r)
		r = uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)&dst, on_uv_connect);
	if (!r)
		r = uv_timer_start(&s->timer, on_stream_timer, timeout_ms, 0);
	if (r)
		uvs_terminate(s, map_uv(r)); /* on_close follows from the loop, never inline */
	*out = &s->head;
	return 0;
}

static void on_uv_write(uv_write_t *req, int status)
{
	struct uvw *w = container_of(req, struct uvw, req);
	struct uvs *s = w->s;
	int st = map_uv(status);
	s->nwrites--;
	if (s->attached && w->cb)
		w->cb(&s->head, st, w->data);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		uvs_terminate(s, st);
}

static int uvs_write(rt_stream *hs, const void *buf, size_t len, rt_write_cb cb, void *cb_data)
{
	struct uvs *s = (struct uvs *)hs;
	if (s->state == S_CLOSING || s->state == S_DEAD || s->close_pending)
		return RT_ECLOSED;
	if (len > SIZE_MAX - sizeof(struct uvw))
		return RT_ETOOBIG;
	struct uvw *w = malloc(sizeof *w + len);
	if (!w)
		return RT_ENOMEM;
	if (len)
		memcpy(w->bytes, buf, len);
	w->s = s;
	w->cb = cb;
	w->data = cb_data;
	uv_buf_t b;
	b.base = (char *)w->bytes;
	b.len = len;
	int r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_uv_write);
	if (r) {
		/* Accepted but failed: complete it (deferred) and fail the stream. */
		w->status = map_uv(r);
		rtu_link_add_tail(&s->failed, &w->link);
		uvs_terminate(s, w->status);
		return 0;
	}
	s->nwrites++;
	return 0;
}

static size_t uvs_queued(const rt_stream *hs)
{
	const struct uvs *s = (const struct uvs *)hs;
	if (s->state == S_DEAD)
		return 0;
	return uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp);
}

static void uvs_close(rt_stream *hs)
{
	struct uvs *s = (struct uvs *)hs;
	switch (s->state) {
	case S_CONNECTING:
		uvs_fix_local(s);
		if (s->nwrites == 0)
			uvs_terminate(s, 0);
		else
			s->close_pending = 1;
		break;
	case S_OPEN:
		uvs_fix_local(s);
		uvs_start_shutdown(s);
		break;
	default:
		break;
	}
}

static void uvs_reset(rt_stream *hs)
{
	struct uvs *s = (struct uvs *)hs;
	if (s->state == S_DEAD)
		return;
	uvs_fix_local(s);
	/* What uv_tcp_close_reset does, without its refusal while a shutdown is pending: linger 0
	 * makes close() send RST and drop what the kernel still holds. */
	uv_os_fd_t fd;
	if (uv_fileno((const uv_handle_t *)&s->tcp, &fd) == 0) {
		struct linger lg = {1, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	uvs_terminate(s, 0);
}

/* ---- listeners ---- */

static void uvl_closed(uv_handle_t *hd) { free(hd->data); }

static void fill_peer(struct uvs *s)
{
	struct sockaddr_storage ss;
	int n = sizeof ss;
	if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &n) == 0 &&
	    ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		uv_ip4_name(sin, s->head.peer_ip, sizeof s->head.peer_ip);
		s->head.peer_port = ntohs(sin->sin_port);
	}
}

static void on_uv_connection(uv_stream_t *server, int status)
{
	struct uvl *l = server->data;
	struct uvh *h = (struct uvh *)l->head.host;
	if (status < 0) {
		rt_log(&h->head, RT_LOG_WARN, "rt_uv: accept failed: %s", uv_strerror(status));
		return;
	}
	struct uvs *s = uvs_new(h);
	if (!s) {
		rt_log(&h->head, RT_LOG_ERROR, "rt_uv: accept: out of memory");
		return;
	}
	int r = uv_accept(server, (uv_stream_t *)&s->tcp);
	if (r) {
		uvs_terminate(s, map_uv(r)); /* not attached: freed without callbacks */
		return;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	fill_peer(s);
	s->state = S_OPEN;
	uvs_attach(h, s);
	l->head.cb(&l->head, &s->head, l->head.data); /* may close l, s, or free the host */
	if (s->state != S_OPEN || !s->attached)
		return;
	if (s->head.cbs) {
		uvs_start_reading(s);
	} else {
		rt_log(&h->head, RT_LOG_WARN, "rt_uv: accept callback neither adopted nor closed "
		       "the stream from %s:%u; closing it", s->head.peer_ip, s->head.peer_port);
		uvs_close(&s->head);
	}
}

static int uvh_listen(rt_host *hh, const char *ip, uint16_t port, rt_accept_cb cb, void *data,
		      rt_listener **out)
{
	struct uvh *h = (struct uvh *)hh;
	struct sockaddr_in a;
	if (uv_ip4_addr(ip, port, &a))
		return RT_EINVAL;
	struct uvl *l = calloc(1, sizeof *l);
	if (!l)
		return RT_ENOMEM;
	l->head.host = hh;
	l->head.cb = cb;
	l->head.data = data;
	uv_tcp_init(&h->u->loop, &l->tcp);
	l->tcp.data = l;
	/* libuv sets SO_REUSEADDR; a bind conflict surfaces from uv_listen as EADDRINUSE. */
	int r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&a, 0);
	if (!r)
		r = uv_listen((uv_stream_t *)&l->tcp, RTU_BACKLOG, on_uv_connection);
	int n = sizeof a;
	if (!r)
		r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&a, &n);
	if (r) {
		uv_close((uv_handle_t *)&l->tcp, uvl_closed);
		return map_uv(r);
	}
	l->head.port = ntohs(a.sin_port);
	l->attached = 1;
	rtu_link_add_tail(&h->listeners, &l->link);
	*out = &l->head;
	return 0;
}

static void uvl_close(rt_listener *hl)
{
	struct uvl *l = (struct uvl *)hl;
	if (l->closed)
		return;
	l->closed = 1;
	if (l->attached)
		rtu_link_del(&l->link);
	l->attached = 0;
	uv_close((uv_handle_t *)&l->tcp, uvl_closed); /* the fd is closed now, the memory later */
}

static uint16_t uvl_port(const rt_listener *hl) { return hl->port; }

/* ---- logging ---- */

static void uvh_log_line(rt_host *hh, int level, const char *line)
{
	struct uvh *h = (struct uvh *)hh;
	FILE *f = h->log ? h->log : stderr;
	(void)level;
	fprintf(f, "%s\n", line);
	fflush(f);
}

static const rt_ops uv_ops = {
	.now_ns = uvh_now_ns,
	.wall_ms = uvh_wall_ms,
	.timer_new = uvt_new,
	.timer_start = uvt_start,
	.timer_stop = uvt_stop,
	.timer_active = uvt_active,
	.timer_free = uvt_free,
	.listen = uvh_listen,
	.listener_close = uvl_close,
	.listener_port = uvl_port,
	.connect = uvh_connect,
	.stream_write = uvs_write,
	.stream_queued = uvs_queued,
	.stream_close = uvs_close,
	.stream_reset = uvs_reset,
	.file_write = rtu_file_write,
	.file_append = rtu_file_append,
	.file_fsync = rtu_file_fsync,
	.file_read = rtu_file_read,
	.file_remove = rtu_file_remove,
	.log_line = uvh_log_line,
};

/* ---- runtime and hosts ---- */

rt_uv *rt_uv_new(void)
{
	rt_uv *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	if (uv_loop_init(&u->loop)) {
		free(u);
		return NULL;
	}
	rtu_link_init(&u->hosts);
	return u;
}

int rt_uv_host_new(rt_uv *u, const rt_uv_host_config *cfg, rt_host **out)
{
	if (!u || !cfg || !out || (cfg->ip && !rt_ip_ok(cfg->ip)))
		return RT_EINVAL;
	const char *dir = cfg->data_dir ? cfg->data_dir : ".";
	int r = rtu_mkdir_p(dir);
	if (r)
		return r;
	struct uvh *h = calloc(1, sizeof *h);
	if (!h)
		return RT_ENOMEM;
	h->dir = strdup(dir);
	if (!h->dir) {
		free(h);
		return RT_ENOMEM;
	}
	rt_host_init(&h->head, &uv_ops, cfg->name, cfg->ip, cfg->seed);
	h->u = u;
	h->clock_offset_ms = cfg->clock_offset_ms;
	h->log = cfg->log_file;
	rtu_link_init(&h->timers);
	rtu_link_init(&h->listeners);
	rtu_link_init(&h->streams);
	rtu_link_add_tail(&u->hosts, &h->link);
	*out = &h->head;
	return 0;
}

/*
 * Close whatever the host still holds, without calling back into its node (which is being torn
 * down): streams are closed at once (bytes libuv has not yet handed to the kernel are dropped,
 * write callbacks are not called), timers and listeners stop.
 */
void rt_uv_host_free(rt_host *hh)
{
	if (!hh)
		return;
	struct uvh *h = (struct uvh *)hh;
	while (!rtu_link_empty(&h->timers))
		uvt_close(container_of(h->timers.next, struct uvt, link));
	while (!rtu_link_empty(&h->listeners))
		uvl_close(&container_of(h->listeners.next, struct uvl, link)->head);
	while (!rtu_link_empty(&h->streams)) {
		struct uvs *s = container_of(h->streams.next, struct uvs, link);
		rtu_link_del(&s->link);
		s->attached = 0;
		s->head.cbs = NULL;
		uvs_terminate(s, 0);
	}
	rtu_link_del(&h->link);
	free(h->dir);
	free(h);
}

void rt_uv_host_set_log_level(rt_host *h, int level)
{
	if (h)
		h->log_level = level;
}

int rt_uv_run(rt_uv *u)
{
	struct sigaction sa;
	if (!u->warned_sigpipe && sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		u->warned_sigpipe = 1;
		fprintf(stderr, "rt_uv: SIGPIPE is not ignored; a write to a reset peer will kill "
			"this process (call signal(SIGPIPE, SIG_IGN) in main)\n");
	}
	uv_run(&u->loop, UV_RUN_DEFAULT);
	return 0;
}

void rt_uv_stop(rt_uv *u) { uv_stop(&u->loop); }

struct uv_loop_s *rt_uv_loop(rt_uv *u) { return &u->loop; }

static void close_left(uv_handle_t *hd, void *arg)
{
	(void)arg;
	if (!uv_is_closing(hd))
		uv_close(hd, NULL);
}

void rt_uv_free(rt_uv *u)
{
	if (!u)
		return;
	while (!rtu_link_empty(&u->hosts))
		rt_uv_host_free(&container_of(u->hosts.next, struct uvh, link)->head);
	/* Handles the entry points left on the loop (signal watchers); ours are closing already. */
	uv_walk(&u->loop, close_left, NULL);
	uv_run(&u->loop, UV_RUN_DEFAULT); /* runs the close callbacks, which free our objects */
	if (uv_loop_close(&u->loop))
		fprintf(stderr, "rt_uv: loop still busy at rt_uv_free\n");
	free(u);
}
