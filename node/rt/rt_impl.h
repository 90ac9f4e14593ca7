/*
 * rt_impl.h — private to the rt backends (node/rt/rt_uv.c, sim/rt/rt_sim.c). Node code never
 * includes it.
 *
 * Every public object starts with a common part that names its host; the host carries the
 * backend's ops table, and node/rt/rt.c dispatches each public call through it.
 */
#ifndef FL_RT_IMPL_H
#define FL_RT_IMPL_H

#include "rt.h"

#include <stdio.h>

typedef struct rt_ops {
	uint64_t (*now_ns)(rt_host *h);
	int64_t (*wall_ms)(rt_host *h);

	rt_timer *(*timer_new)(rt_host *h, rt_timer_cb cb, void *data);
	int (*timer_start)(rt_timer *t, uint64_t delay_ms, uint64_t repeat_ms);
	void (*timer_stop)(rt_timer *t);
	int (*timer_active)(const rt_timer *t);
	void (*timer_free)(rt_timer *t);

	int (*listen)(rt_host *h, const char *ip, uint16_t port, rt_accept_cb cb, void *data,
		      rt_listener **out);
	void (*listener_close)(rt_listener *l);
	uint16_t (*listener_port)(const rt_listener *l);
	int (*connect)(rt_host *h, const char *ip, uint16_t port, uint64_t timeout_ms,
		       const rt_stream_cbs *cbs, void *data, rt_stream **out);
	int (*stream_write)(rt_stream *s, const void *buf, size_t len, rt_write_cb cb, void *cb_data);
	/* Optional (NULL: rt.c copies through stream_write): write b->data[off, off + len), taking
	 * a reference of b when the backend keeps it. */
	int (*stream_write_buf)(rt_stream *s, rt_buf *b, size_t off, size_t len, rt_write_cb cb,
				void *cb_data);
	/* Optional (NULL: never): the rt_buf under the bytes on_read is delivering. */
	rt_buf *(*stream_read_buf)(rt_stream *s, const uint8_t *buf);
	size_t (*stream_queued)(const rt_stream *s);
	void (*stream_close)(rt_stream *s);
	void (*stream_reset)(rt_stream *s);

	int (*file_write)(rt_host *h, const char *name, const void *buf, size_t len, int flags);
	int (*file_append)(rt_host *h, const char *name, const void *buf, size_t len, int flags);
	int (*file_fsync)(rt_host *h, const char *name);
	int (*file_read)(rt_host *h, const char *name, uint8_t **buf, size_t *len);
	int (*file_remove)(rt_host *h, const char *name);

	/* Write one finished log line (no trailing newline) wherever this backend logs. */
	void (*log_line)(rt_host *h, int level, const char *line);
} rt_ops;

/* Common head of every host. Backends embed it as their first member. */
struct rt_host {
	const rt_ops *ops;
	char name[64];
	char ip[16];
	uint64_t seed;
	rt_rng rng;
	int log_level; /* lines below this level are dropped */
};

/* Common heads of timers, listeners and streams. */
struct rt_timer {
	rt_host *host;
	rt_timer_cb cb;
	void *data;
};

struct rt_listener {
	rt_host *host;
	rt_accept_cb cb;
	void *data;
	uint16_t port;
};

struct rt_stream {
	rt_host *host;
	const rt_stream_cbs *cbs;
	void *data;
	char peer_ip[16];
	uint16_t peer_port;
};

/* Fill the common head: copies name and ip, seeds the host's stream from `seed`. */
void rt_host_init(rt_host *h, const rt_ops *ops, const char *name, const char *ip, uint64_t seed);

/* 0 when `name` is a plain file name (no '/', not starting with '.', 1..200 bytes). */
int rt_file_name_ok(const char *name);

/* 1 when s is a dotted-quad IPv4 address. */
int rt_ip_ok(const char *s);

/* Format "YYYY-MM-DDTHH:MM:SS.mmmZ" for an epoch-ms instant into buf (>= 32 bytes). */
void rt_format_wall(int64_t wall_ms, char *buf, size_t len);

#endif
