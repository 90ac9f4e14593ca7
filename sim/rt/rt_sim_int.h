/*
 * rt_sim_int.h — private to the simulator backend (sim/rt/rt_sim.c, rt_sim_net.c, rt_sim_disk.c).
 *
 * Object lifetimes. Timers are owned by their creator; a timer points at its one pending event and
 * stopping or freeing it marks that event dead (dead events stay in the heap and are dropped when
 * they reach the top). Streams and listeners are reference counted: one reference for the user's
 * handle (dropped when the stream is released, i.e. its on_close ran or it was dropped silently by
 * a crash, or when the listener is closed) and one per queued event that names them, so an event
 * never points at freed memory and nothing has to be searched for when an object goes away.
 *
 * Events that run host code carry the target host's epoch; a crash bumps the epoch, so everything
 * the old incarnation had queued is dropped unseen.
 */
#ifndef FL_RT_SIM_INT_H
#define FL_RT_SIM_INT_H

#include "rt_sim.h"

#include "../../node/rt/rt_impl.h"

enum sim_ev_kind {
	SIM_EV_CALL,      /* rt_sim_call_at: no host */
	SIM_EV_TIMER,     /* a timer comes due */
	SIM_EV_SYN,       /* a connection request reaches the destination (network level) */
	SIM_EV_ACCEPT,    /* accept callback on the server */
	SIM_EV_CONNECTED, /* on_connect on the client */
	SIM_EV_DATA,      /* one chunk of bytes reaches the receiver */
	SIM_EV_WDONE,     /* write completion on the writer */
	SIM_EV_TIMEOUT,   /* connect timeout on the client */
	SIM_EV_CLOSE,     /* on_close(err): local close (0), FIN (RT_EOF) or an error */
};

struct sim_host;
struct sim_timer;
struct sim_ev;

/* A heap entry carries its event's key, so sifting compares without touching the events. */
typedef struct sim_hent {
	uint64_t at, seq;
	struct sim_ev *ev;
} sim_hent;
struct sim_stream;
struct sim_listener;

typedef struct sim_ev {
	uint64_t at;
	uint64_t seq;
	uint64_t epoch;          /* host->epoch when queued */
	struct sim_host *host;   /* whose code the event runs (NULL: engine level) */
	struct sim_ev *next;     /* a paused host's deferred FIFO; the free list */
	struct sim_ev *wnext;    /* a stream's FIFO of pending write completions */
	size_t hpos;             /* index in the heap while in_heap */
	uint8_t kind;
	uint8_t dead;
	uint8_t in_heap;
	int err;                 /* CLOSE: the error; WDONE: the status */
	struct sim_timer *timer; /* TIMER (no reference: the timer kills the event when it goes) */
	struct sim_stream *st;   /* target stream (holds a reference) */
	struct sim_stream *from; /* DATA: the writer (holds a reference) */
	struct sim_listener *lis; /* ACCEPT (holds a reference) */
	rt_buf *rb;              /* DATA: the bytes (holds a reference; shared by a write's chunks) */
	const uint8_t *buf;      /* DATA: this chunk's first byte, inside rb */
	size_t len;              /* DATA, WDONE: byte count */
	rt_write_cb wcb;
	void *wdata;
	rt_sim_call_fn fn;
	void *fn_data;
} sim_ev;

struct sim_timer {
	struct rt_timer pub; /* first */
	sim_ev *ev;          /* pending event or NULL */
	uint64_t repeat_ns;
	struct sim_timer *prev, *next; /* host's timers, creation order */
};

struct sim_listener {
	struct rt_listener pub; /* first */
	char ip[16];            /* bound address ("0.0.0.0" = every address of the host) */
	int refs;
	int closed;
	struct sim_listener *prev, *next; /* engine's listeners, creation order */
};

struct sim_stream {
	struct rt_stream pub;        /* first */
	struct sim_stream *peer;     /* the other end while both are linked */
	struct sim_host *peer_host;  /* where our bytes go (kept after the peer is gone) */
	int refs;
	uint8_t released;  /* on_close delivered (or dropped by a crash): dead to the user */
	uint8_t closing;   /* the user called close/reset: on_close(0) is queued */
	uint8_t connected; /* writable: client after on_connect, server from creation */
	uint8_t owned;     /* the user holds it: client always, server after accept */
	uint16_t local_port;
	uint64_t tx_last;  /* arrival time of the last thing sent from here to the peer */
	size_t queued;     /* bytes of writes whose completion has not run */
	sim_ev *timeout_ev;
	sim_ev *wq_head, *wq_tail; /* pending write completions, in order */
	struct sim_stream *prev, *next; /* host's streams, creation order */
};

struct sim_blob {
	size_t refs, len, cap;
	uint8_t data[];
};

struct sim_file {
	char name[208];
	struct sim_blob *cur; /* what reads see (NULL: absent) */
	struct sim_blob *dur; /* what survives a crash (NULL: absent) */
};

struct sim_host {
	struct rt_host pub; /* first */
	rt_sim *sim;
	uint32_t index;     /* creation order: the host's id in the trace */
	uint8_t up;
	uint8_t paused;
	uint8_t destroying; /* inside the owner's destroy hook during a crash */
	uint64_t epoch;
	uint32_t restarts;
	rt_sim_destroy_fn destroy;
	void *owner;
	/* clock: wall = EPOCH + offset + skew_base + (now - base) * (1 + drift) */
	int64_t clk_offset_ms;
	double clk_drift_ppm;
	uint64_t clk_base_ns;
	int64_t clk_skew_base_ns;
	uint16_t next_listen_port, next_src_port;
	struct sim_timer *timers_head, *timers_tail;
	struct sim_stream *streams_head, *streams_tail;
	sim_ev *def_head, *def_tail; /* events held back while paused, in their original order */
	struct sim_file **files;     /* insertion order */
	size_t nfiles, cap_files;
};

/* Sequence numbers count up from here; events resumed after a pause take numbers counting down
 * from just below it (see rt_sim_resume). */
#define SIM_SEQ_BASE (1ULL << 62)

struct rt_sim {
	uint64_t seed;
	uint64_t now;
	uint64_t seq;
	uint64_t low_seq;
	uint64_t live; /* live events in the heap */
	sim_hent *heap;
	size_t heap_len, heap_cap;
	sim_ev *free_evs;
	sim_ev *grave; /* killed events taken out of the heap, freed before the next event runs */
	struct sim_host **hosts; /* creation order */
	size_t nhosts, cap_hosts;
	struct sim_listener *lis_head, *lis_tail;
	rt_sim_link_fn link;
	void *link_ctx;
	uint64_t default_latency_ns;
	const sim_ev *reading; /* the DATA event whose on_read runs (rt_stream_read_buf) */
	rt_sim_trace_fn trace;
	void *trace_ctx;
	uint64_t trace_hash;
	FILE *log;
	int running;
	int stop;
	int freeing; /* rt_sim_free in progress: queue nothing */
};

static inline struct sim_host *sim_host_of(const rt_host *h) { return (struct sim_host *)h; }

/* The host runs code and makes events (up and not inside its crash). */
static inline int sim_host_alive(const struct sim_host *h) { return h->up && !h->destroying; }

static inline uint64_t sim_add_sat(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

static inline uint64_t sim_ms_to_ns(uint64_t ms)
{
	return ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
}

/* ---- engine (rt_sim.c) ---- */

/* A zeroed event of `kind` for `host` (NULL on ENOMEM). */
sim_ev *sim_ev_new(rt_sim *s, int kind, struct sim_host *host);
/* Queue ev at max(at, now). On failure (ENOMEM, or the engine is being freed) ev is freed and a
 * negative code returned. */
int sim_ev_push(rt_sim *s, sim_ev *ev, uint64_t at);
/* Mark a queued event dead (it is freed when it reaches the top of the heap or a resume). */
void sim_ev_kill(rt_sim *s, sim_ev *ev);
/* Free an event that is in no queue, dropping the references it holds. */
void sim_ev_free(rt_sim *s, sim_ev *ev);
/* Ask the link model about src → dst. */
void sim_link(rt_sim *s, struct sim_host *src, struct sim_host *dst, size_t len, rt_sim_verdict *v);
/* Find a host by address (NULL if none). */
struct sim_host *sim_host_by_ip(rt_sim *s, const char *ip);

/* ---- network (rt_sim_net.c) ---- */

int sim_listen(rt_host *h, const char *ip, uint16_t port, rt_accept_cb cb, void *data,
	       rt_listener **out);
void sim_listener_close(rt_listener *l);
uint16_t sim_listener_port(const rt_listener *l);
int sim_connect(rt_host *h, const char *ip, uint16_t port, uint64_t timeout_ms,
		const rt_stream_cbs *cbs, void *data, rt_stream **out);
int sim_stream_write(rt_stream *st, const void *buf, size_t len, rt_write_cb cb, void *cb_data);
rt_buf *sim_stream_read_buf(rt_stream *st, const uint8_t *buf);
int sim_stream_write_buf(rt_stream *st, rt_buf *b, size_t off, size_t len, rt_write_cb cb,
			 void *cb_data);
size_t sim_stream_queued(const rt_stream *st);
void sim_stream_close(rt_stream *st);
void sim_stream_reset(rt_stream *st);
/* Run a network event; returns its trace kind and byte count, or NULL when nothing happened. */
const char *sim_net_run(rt_sim *s, sim_ev *ev, size_t *bytes);
/* Crash sweep: drop the host's listeners and streams (peers get RT_ECONNRESET). */
void sim_net_drop_host(struct sim_host *h);
/* Unhook an event that is being dropped without running from the object that points at it. */
void sim_net_detach(sim_ev *ev);
void sim_stream_unref(struct sim_stream *st);
void sim_listener_unref(struct sim_listener *l);

/* ---- virtual disk (rt_sim_disk.c) ---- */

int sim_file_write(rt_host *h, const char *name, const void *buf, size_t len, int flags);
int sim_file_append(rt_host *h, const char *name, const void *buf, size_t len, int flags);
int sim_file_fsync(rt_host *h, const char *name);
int sim_file_read(rt_host *h, const char *name, uint8_t **buf, size_t *len);
int sim_file_remove(rt_host *h, const char *name);
void sim_disk_lose(struct sim_host *h);
void sim_disk_free(struct sim_host *h);

#endif
