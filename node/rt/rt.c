/*
 * rt.c — backend-independent half of the runtime seam: dispatch through the host's ops table,
 * the seeded random streams, file-name checks and log formatting.
 */
#include "rt_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *rt_strerror(int err)
{
	switch (err) {
	case RT_OK: return "success";
	case RT_EINVAL: return "invalid argument";
	case RT_ENOMEM: return "out of memory";
	case RT_ENOENT: return "no such file";
	case RT_EIO: return "input/output error";
	case RT_EADDRINUSE: return "address already in use";
	case RT_ECONNREFUSED: return "connection refused";
	case RT_ECONNRESET: return "connection reset";
	case RT_ETIMEDOUT: return "timed out";
	case RT_ECANCELED: return "cancelled";
	case RT_EOF: return "end of stream";
	case RT_ECLOSED: return "stream closed";
	case RT_ETOOBIG: return "too big";
	default: return "unknown error";
	}
}

/* ---- hosts ---- */

void rt_host_init(rt_host *h, const rt_ops *ops, const char *name, const char *ip, uint64_t seed)
{
	h->ops = ops;
	snprintf(h->name, sizeof h->name, "%s", name ? name : "host");
	snprintf(h->ip, sizeof h->ip, "%s", ip ? ip : "127.0.0.1");
	h->seed = seed;
	rt_rng_seed(&h->rng, seed);
	h->log_level = RT_LOG_INFO;
}

const char *rt_host_name(const rt_host *h) { return h->name; }
const char *rt_host_ip(const rt_host *h) { return h->ip; }
uint64_t rt_host_seed(const rt_host *h) { return h->seed; }

/* ---- dispatch ---- */

uint64_t rt_now_ns(rt_host *h) { return h->ops->now_ns(h); }
int64_t rt_wall_ms(rt_host *h) { return h->ops->wall_ms(h); }

rt_timer *rt_timer_new(rt_host *h, rt_timer_cb cb, void *data)
{
	if (!h || !cb)
		return NULL;
	return h->ops->timer_new(h, cb, data);
}
int rt_timer_start(rt_timer *t, uint64_t delay_ms, uint64_t repeat_ms)
{
	if (!t)
		return RT_EINVAL;
	return t->host->ops->timer_start(t, delay_ms, repeat_ms);
}
void rt_timer_stop(rt_timer *t)
{
	if (t)
		t->host->ops->timer_stop(t);
}
int rt_timer_active(const rt_timer *t) { return t ? t->host->ops->timer_active(t) : 0; }
void rt_timer_free(rt_timer *t)
{
	if (t)
		t->host->ops->timer_free(t);
}

int rt_listen(rt_host *h, const char *ip, uint16_t port, rt_accept_cb cb, void *data,
	      rt_listener **out)
{
	if (!h || !cb || !out || (ip && !rt_ip_ok(ip)))
		return RT_EINVAL;
	return h->ops->listen(h, ip ? ip : h->ip, port, cb, data, out);
}
void rt_listener_close(rt_listener *l)
{
	if (l)
		l->host->ops->listener_close(l);
}
uint16_t rt_listener_port(const rt_listener *l) { return l->host->ops->listener_port(l); }

int rt_connect(rt_host *h, const char *ip, uint16_t port, uint64_t timeout_ms,
	       const rt_stream_cbs *cbs, void *data, rt_stream **out)
{
	if (!h || !ip || !rt_ip_ok(ip) || port == 0 || !cbs || !out)
		return RT_EINVAL;
	return h->ops->connect(h, ip, port, timeout_ms ? timeout_ms : 10000, cbs, data, out);
}

void rt_stream_set_cbs(rt_stream *s, const rt_stream_cbs *cbs, void *data)
{
	s->cbs = cbs;
	s->data = data;
}
int rt_stream_write(rt_stream *s, const void *buf, size_t len, rt_write_cb cb, void *cb_data)
{
	if (!s || (!buf && len))
		return RT_EINVAL;
	return s->host->ops->stream_write(s, buf, len, cb, cb_data);
}
int rt_stream_write_buf(rt_stream *s, rt_buf *b, size_t off, size_t len, rt_write_cb cb,
			void *cb_data)
{
	if (!s || !b || off > b->len || len > b->len - off)
		return RT_EINVAL;
	if (s->host->ops->stream_write_buf)
		return s->host->ops->stream_write_buf(s, b, off, len, cb, cb_data);
	return s->host->ops->stream_write(s, b->data + off, len, cb, cb_data);
}

rt_buf *rt_stream_read_buf(rt_stream *s, const uint8_t *buf)
{
	if (!s || !buf || !s->host->ops->stream_read_buf)
		return NULL;
	return s->host->ops->stream_read_buf(s, buf);
}

rt_buf *rt_buf_new(size_t len)
{
	if (len > SIZE_MAX - sizeof(rt_buf) - 1)
		return NULL;
	rt_buf *b = malloc(sizeof *b + len + 1);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	b->data[len] = 0;
	return b;
}

rt_buf *rt_buf_ref(rt_buf *b)
{
	if (b)
		b->refs++;
	return b;
}

void rt_buf_unref(rt_buf *b)
{
	if (b && --b->refs == 0)
		free(b);
}

size_t rt_stream_queued(const rt_stream *s) { return s->host->ops->stream_queued(s); }
void rt_stream_close(rt_stream *s)
{
	if (s)
		s->host->ops->stream_close(s);
}
void rt_stream_reset(rt_stream *s)
{
	if (s)
		s->host->ops->stream_reset(s);
}
const char *rt_stream_peer_ip(const rt_stream *s) { return s->peer_ip; }
uint16_t rt_stream_peer_port(const rt_stream *s) { return s->peer_port; }
rt_host *rt_stream_host(const rt_stream *s) { return s->host; }

/* ---- files ---- */

int rt_file_name_ok(const char *name)
{
	if (!name || !name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) > 200)
		return RT_EINVAL;
	return 0;
}

int rt_file_write(rt_host *h, const char *name, const void *buf, size_t len, int flags)
{
	if (!h || rt_file_name_ok(name) || (!buf && len))
		return RT_EINVAL;
	return h->ops->file_write(h, name, buf, len, flags);
}
int rt_file_append(rt_host *h, const char *name, const void *buf, size_t len, int flags)
{
	if (!h || rt_file_name_ok(name) || (!buf && len))
		return RT_EINVAL;
	return h->ops->file_append(h, name, buf, len, flags);
}
int rt_file_fsync(rt_host *h, const char *name)
{
	if (!h || rt_file_name_ok(name))
		return RT_EINVAL;
	return h->ops->file_fsync(h, name);
}
int rt_file_read(rt_host *h, const char *name, uint8_t **buf, size_t *len)
{
	if (!h || rt_file_name_ok(name) || !buf || !len)
		return RT_EINVAL;
	return h->ops->file_read(h, name, buf, len);
}
int rt_file_remove(rt_host *h, const char *name)
{
	if (!h || rt_file_name_ok(name))
		return RT_EINVAL;
	return h->ops->file_remove(h, name);
}

int rt_ip_ok(const char *s)
{
	int parts = 0;
	while (*s) {
		int v = 0, digits = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (++digits > 3)
				return 0;
		}
		if (!digits || v > 255)
			return 0;
		parts++;
		if (*s == '.')
			s++;
		else if (*s)
			return 0;
		if (parts == 4 && *s)
			return 0;
	}
	return parts == 4;
}

/* ---- randomness ---- */

uint64_t rt_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t rt_seed_derive_u64(uint64_t seed, uint64_t id)
{
	uint64_t st = seed ^ rt_splitmix64(&id);
	return rt_splitmix64(&st);
}

uint64_t rt_seed_derive(uint64_t seed, const char *name)
{
	/* FNV-1a of the name, then mixed with the seed: stable by name, not by creation order. */
	uint64_t hsh = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)name; p && *p; p++)
		hsh = (hsh ^ *p) * 0x100000001b3ULL;
	return rt_seed_derive_u64(seed, hsh);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rt_rng_seed(rt_rng *r, uint64_t seed)
{
	uint64_t st = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = rt_splitmix64(&st);
}

uint64_t rt_rng_u64(rt_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double rt_rng_double(rt_rng *r) { return (double)(rt_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t rt_rng_below(rt_rng *r, uint64_t bound)
{
	if (bound == 0)
		return 0;
	uint64_t lim = UINT64_MAX - UINT64_MAX % bound, v;
	do
		v = rt_rng_u64(r);
	while (v >= lim);
	return v % bound;
}

uint64_t rt_rand_u64(rt_host *h) { return rt_rng_u64(&h->rng); }
double rt_rand_double(rt_host *h) { return rt_rng_double(&h->rng); }

/* ---- logging ---- */

void rt_format_wall(int64_t wall_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000);
	int ms = (int)(wall_ms - (int64_t)secs * 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int rt_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {{"debug", RT_LOG_DEBUG}, {"info", RT_LOG_INFO}, {"warn", RT_LOG_WARN},
		     {"warning", RT_LOG_WARN}, {"error", RT_LOG_ERROR}};
	for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].level;
	return -1;
}

static const char *level_name(int level)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	return level >= 0 && level <= 3 ? names[level] : "INFO";
}

void rt_vlog(rt_host *h, int level, const char *fmt, va_list ap)
{
	if (!h || level < h->log_level)
		return;
	char line[1024], ts[40];
	rt_format_wall(rt_wall_ms(h), ts, sizeof ts);
	int n = snprintf(line, sizeof line, "%s %s %s ", ts, h->name, level_name(level));
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	h->ops->log_line(h, level, line);
}

void rt_log(rt_host *h, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_vlog(h, level, fmt, ap);
	va_end(ap);
}
