/*
 * rt.h — the runtime seam.
 *
 * Every piece of node code (node/ outside node/main/) and fleet code (sim/fleet/) reaches time,
 * randomness, sockets and files only through this header. Two backends implement it:
 *
 *   node/rt/rt_uv.c   real processes: one uv_loop, real TCP on 127.0.0.x, real files, OS clock
 *   sim/rt/rt_sim.c      deterministic discrete-event simulation: virtual time, network and disk
 *
 * The model is canonical/raft's `struct raft_io`: a host carries a backend ops table, and every
 * call below dispatches through it, so both backends can live in one process (tests run the same
 * program on both).
 *
 * Rules every backend keeps (the simulator's determinism depends on them):
 *   - callbacks never run inline inside the call that caused them; they are queued;
 *   - every stream gets exactly one on_close, and it is the last callback for that stream;
 *   - every write gets exactly one completion (if it asked for one), before the stream's on_close;
 *   - a host that has crashed (sim) accepts every call, does nothing observable, and frees memory.
 *
 * Errors are negative RT_E* codes; 0 is success. No function aborts on bad input.
 */
#ifndef FL_RT_H
#define FL_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------------------------- */

enum {
	RT_OK = 0,
	RT_EINVAL = -22,        /* bad argument */
	RT_ENOMEM = -12,        /* allocation failed */
	RT_ENOENT = -2,         /* file not found */
	RT_EIO = -5,            /* file or socket I/O error */
	RT_EADDRINUSE = -98,    /* listen: address/port already in use */
	RT_ECONNREFUSED = -111, /* connect: nobody listens there */
	RT_ECONNRESET = -104,   /* stream reset by the peer or the network (crash, loss) */
	RT_ETIMEDOUT = -110,    /* connect timed out (e.g. partition) */
	RT_ECANCELED = -125,    /* the operation was cancelled by a local close */
	RT_EOF = -4095,         /* the peer closed the stream in order (not a failure) */
	RT_ECLOSED = -32,       /* the stream is closing or closed; nothing was written */
	RT_ETOOBIG = -27,       /* a size limit was exceeded */
};

/* A short constant English text for an RT_E* code (or "unknown error"). */
const char *rt_strerror(int err);

/* ---- hosts ---------------------------------------------------------------------------------- */

/*
 * A host is one node's view of the world: a name ("scheduler", "server/2", "fleet"), one IPv4
 * address (127.0.0.x in live mode; any dotted quad in sim), a data directory, a clock and a random
 * stream. Hosts are created by the backend (rt_uv_host_new, rt_sim_host_new) and owned by it.
 */
typedef struct rt_host rt_host;

const char *rt_host_name(const rt_host *h);
const char *rt_host_ip(const rt_host *h);
/* The 64-bit seed this host's random stream started from (fleet code derives per-device streams
 * from it with rt_seed_derive). */
uint64_t rt_host_seed(const rt_host *h);

/* ---- clocks ---------------------------------------------------------------------------------- */

/* Monotonic time in nanoseconds. Never goes backwards; clock skew does not touch it. */
uint64_t rt_now_ns(rt_host *h);
/* Wall-clock time in milliseconds since the Unix epoch, as this host believes it to be: it
 * includes the host's clock offset and drift. Use it for timestamps that cross the wire. */
int64_t rt_wall_ms(rt_host *h);

/* ---- timers ---------------------------------------------------------------------------------- */

/*
 * A timer is owned by its creator: rt_timer_new allocates it, rt_timer_free releases it (which
 * also stops it; safe inside its own callback). A timer can be started again and again.
 */
typedef struct rt_timer rt_timer;
typedef void (*rt_timer_cb)(rt_timer *t, void *data);

rt_timer *rt_timer_new(rt_host *h, rt_timer_cb cb, void *data); /* NULL on ENOMEM */
/* Fire after delay_ms, then every repeat_ms if repeat_ms > 0. Restarting a pending timer
 * re-arms it. Timers due at the same instant fire in the order they were started. */
int rt_timer_start(rt_timer *t, uint64_t delay_ms, uint64_t repeat_ms);
void rt_timer_stop(rt_timer *t);
int rt_timer_active(const rt_timer *t);
void rt_timer_free(rt_timer *t);

/* ---- streams (TCP semantics) -------------------------------------------------------------- */

typedef struct rt_stream rt_stream;
typedef struct rt_listener rt_listener;

/* Any of the three may be NULL. */
typedef struct rt_stream_cbs {
	/* The connection is established (client side only). */
	void (*on_connect)(rt_stream *s, void *data);
	/* Bytes arrived, in order. `buf` belongs to the runtime and is valid only during the call. */
	void (*on_read)(rt_stream *s, const uint8_t *buf, size_t len, void *data);
	/* The stream is gone: err is 0 after a local rt_stream_close, RT_EOF when the peer closed in
	 * order, or RT_ECONNRESET / RT_ECONNREFUSED / RT_ETIMEDOUT / RT_EIO. Called exactly once, last;
	 * the stream is freed right after it returns. */
	void (*on_close)(rt_stream *s, int err, void *data);
} rt_stream_cbs;

/* Called for each accepted connection. The callee takes the stream: it must call
 * rt_stream_set_cbs (to start reading) or rt_stream_close before returning. */
typedef void (*rt_accept_cb)(rt_listener *l, rt_stream *s, void *data);

/* Listen on ip:port (ip NULL = the host's own address). *out is owned by the caller until
 * rt_listener_close. Fails with RT_EADDRINUSE when the port is taken. */
int rt_listen(rt_host *h, const char *ip, uint16_t port, rt_accept_cb cb, void *data,
	      rt_listener **out);
/* Stops accepting and frees the listener; established streams are not touched. */
void rt_listener_close(rt_listener *l);
/* The port actually bound (useful with port 0). */
uint16_t rt_listener_port(const rt_listener *l);

/* Connect from the host's own address to ip:port. On success *out is a stream whose on_connect
 * or on_close (RT_ECONNREFUSED, RT_ETIMEDOUT after timeout_ms; 0 = backend default of 10 s) will
 * follow. `cbs` must outlive the stream (use a static table). */
int rt_connect(rt_host *h, const char *ip, uint16_t port, uint64_t timeout_ms,
	       const rt_stream_cbs *cbs, void *data, rt_stream **out);

/* Replace the callbacks and their data (also how an accepted stream starts reading). */
void rt_stream_set_cbs(rt_stream *s, const rt_stream_cbs *cbs, void *data);

/*
 * Queue len bytes for sending. The runtime copies `buf`: the caller keeps ownership and may reuse
 * it at once. cb (may be NULL) is called exactly once: 0 when the bytes were handed to the network,
 * negative when the stream failed or was closed first. Returns RT_ECLOSED after close.
 */
typedef void (*rt_write_cb)(rt_stream *s, int status, void *data);
int rt_stream_write(rt_stream *s, const void *buf, size_t len, rt_write_cb cb, void *cb_data);
/*
 * Reference-counted immutable bytes, for payloads too big to copy per hop (a 247 KB model).
 * rt_buf_new gives one reference and len writable bytes followed by a NUL (data[len] == 0); fill
 * them before the first rt_stream_write_buf and never change them after. A buffer is not thread
 * safe: one loop (one rt backend instance) at a time.
 */
typedef struct rt_buf {
	size_t refs;
	size_t len;
	uint8_t data[];
} rt_buf;
rt_buf *rt_buf_new(size_t len);
rt_buf *rt_buf_ref(rt_buf *b);
void rt_buf_unref(rt_buf *b); /* NULL is fine */
/* As rt_stream_write of b->data[off, off + len), but without the copy where the backend can (the
 * simulator hands the reference along to the receiver): takes a reference of its own, the caller
 * keeps (and drops) the one it holds. */
int rt_stream_write_buf(rt_stream *s, rt_buf *b, size_t off, size_t len, rt_write_cb cb,
			void *cb_data);
/* Inside on_read: the buffer that holds the bytes just delivered, when the backend has them in
 * one (the simulator does; libuv does not: NULL). Borrowed; rt_buf_ref it to keep the bytes past
 * the callback. buf must be the on_read's buf. */
rt_buf *rt_stream_read_buf(rt_stream *s, const uint8_t *buf);
/* Bytes queued and not yet handed to the network (for back-pressure). */
size_t rt_stream_queued(const rt_stream *s);

/* Graceful close: already queued bytes are still sent, then the peer sees RT_EOF. on_close(0)
 * follows. Idempotent. */
void rt_stream_close(rt_stream *s);
/* Abortive close: queued bytes are dropped and the peer sees RT_ECONNRESET. */
void rt_stream_reset(rt_stream *s);

/* The peer's address as "a.b.c.d" and port. */
const char *rt_stream_peer_ip(const rt_stream *s);
uint16_t rt_stream_peer_port(const rt_stream *s);
rt_host *rt_stream_host(const rt_stream *s);

/* ---- randomness -------------------------------------------------------------------------- */

/* The host's seeded stream. Same seed, same sequence, on both backends. */
uint64_t rt_rand_u64(rt_host *h);
/* Uniform in [0, 1). */
double rt_rand_double(rt_host *h);

/* Pure helpers (no host): splitmix64 step, seed derivation by name or number, and a small
 * xoshiro256** generator that code can embed per device. */
uint64_t rt_splitmix64(uint64_t *state);
uint64_t rt_seed_derive(uint64_t seed, const char *name);
uint64_t rt_seed_derive_u64(uint64_t seed, uint64_t id);

typedef struct rt_rng {
	uint64_t s[4];
} rt_rng;
void rt_rng_seed(rt_rng *r, uint64_t seed);
uint64_t rt_rng_u64(rt_rng *r);
double rt_rng_double(rt_rng *r); /* [0, 1) */
/* Unbiased draw in [0, bound) by rejection (bound >= 1; 0 gives 0). */
uint64_t rt_rng_below(rt_rng *r, uint64_t bound);

/* ---- files (under the host's data directory; names are plain: no '/', no leading '.') ---- */

enum { RT_FILE_SYNC = 1 }; /* flag: fsync the file and the directory before returning */

/* Atomically replace `name` with buf[0..len): write a temporary, then rename. Without
 * RT_FILE_SYNC the new contents may be lost at a crash (the old ones then survive). */
int rt_file_write(rt_host *h, const char *name, const void *buf, size_t len, int flags);
/* Append to `name` (created if missing). Unsynced appends may be lost at a crash. */
int rt_file_append(rt_host *h, const char *name, const void *buf, size_t len, int flags);
/* Make what was written to `name` durable. */
int rt_file_fsync(rt_host *h, const char *name);
/* Read the whole file. On success *buf is malloc'd (the caller frees it) and NUL-terminated
 * one byte past *len. RT_ENOENT when missing. */
int rt_file_read(rt_host *h, const char *name, uint8_t **buf, size_t *len);
int rt_file_remove(rt_host *h, const char *name);

/* ---- logging ------------------------------------------------------------------------------ */

enum rt_log_level { RT_LOG_DEBUG = 0, RT_LOG_INFO = 1, RT_LOG_WARN = 2, RT_LOG_ERROR = 3 };

/* "debug", "info", "warn"/"warning", "error" (any case) -> RT_LOG_*; -1 when unknown. */
int rt_log_level_parse(const char *s);

/* One line, tagged with the host's time and name: "2026-11-29T12:00:00.123Z server/1 INFO ...". */
void rt_log(rt_host *h, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rt_vlog(rt_host *h, int level, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif

#endif
