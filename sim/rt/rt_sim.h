/*
 * rt_sim.h — the deterministic backend of rt.h.
 *
 * A single-threaded discrete-event engine: one binary heap of events ordered by (virtual time,
 * sequence number), virtual hosts with their own clocks (offset and drift), a virtual network
 * whose per-direction delays come from a pluggable link model, and a virtual disk per host where
 * unsynced writes are lost at a crash. Nothing here reads the OS clock, the OS random source or
 * the real network: the same seed gives the same run, byte for byte.
 *
 * Ownership: rt_sim_new returns an engine the caller frees with rt_sim_free, which frees every
 * host, timer, stream and file it still holds.
 */
#ifndef FL_RT_SIM_H
#define FL_RT_SIM_H

#include "../../node/rt/rt.h"

#include <stdio.h>

typedef struct rt_sim rt_sim;

/* Virtual wall clock at t=0: 2026-01-01T00:00:00Z, so timestamps look like real ones. */
#define RT_SIM_EPOCH_MS 1767225600000LL

rt_sim *rt_sim_new(uint64_t seed);
void rt_sim_free(rt_sim *s);

uint64_t rt_sim_seed(const rt_sim *s);
/* Current virtual time in ns since the start of the run. */
uint64_t rt_sim_now_ns(const rt_sim *s);

/* ---- hosts ---- */

/* Create a host. Its random stream is derived from the run seed and `name` (not from creation
 * order). ip must be unique among hosts. The host is owned by the engine. */
int rt_sim_host_new(rt_sim *s, const char *name, const char *ip, rt_host **out);
rt_host *rt_sim_host_find(rt_sim *s, const char *name);
void rt_sim_host_set_log_level(rt_host *h, int level);

/*
 * Crash the host now: first the owner's destroy hook runs (it frees the node's memory; every rt
 * call it makes on this host only releases memory and makes no events), then the engine drops
 * whatever timers, listeners and streams the host still has (peers see RT_ECONNRESET), and the
 * host's unsynced file writes are lost. The host stays known by name and address, down.
 */
typedef void (*rt_sim_destroy_fn)(void *owner);
void rt_sim_host_set_owner(rt_host *h, rt_sim_destroy_fn destroy, void *owner);
void rt_sim_crash(rt_host *h);
/* Bring a crashed host back up, with its surviving files and a fresh random stream (seeded from
 * the name and the restart count). The caller then creates the node on it again. */
int rt_sim_restart(rt_host *h);
int rt_sim_host_up(const rt_host *h);

/* Pause (SIGSTOP-like): no timer fires and no byte is delivered to the host until resume; the
 * events wait. Peers' connections stay up. */
void rt_sim_pause(rt_host *h);
void rt_sim_resume(rt_host *h);

/* Clock: wall_ms = RT_SIM_EPOCH_MS + offset + virtual elapsed × (1 + drift_ppm/1e6), changed at
 * any time without a jump in the drift part. Monotonic time is never skewed. */
void rt_sim_set_clock(rt_host *h, int64_t offset_ms, double drift_ppm);

/* ---- network ---- */

/*
 * Link model: asked once per write (and for connection set-up with len 0) on the directed link
 * src → dst. It fills `out`; the engine keeps byte order per direction (a chunk never arrives
 * before an earlier one). Default model: fixed 100 µs latency, no faults.
 */
typedef struct rt_sim_verdict {
	uint64_t delay_ns; /* from now until the (first) chunk arrives */
	uint32_t slices;   /* deliver the write in this many chunks (0 or 1 = whole) */
	uint64_t slice_gap_ns; /* time between chunks */
	int reset;         /* 1: the connection is reset instead of delivering */
	int hold;          /* 1: partitioned: for connect, time out; for data, reset the stream */
} rt_sim_verdict;
typedef void (*rt_sim_link_fn)(void *ctx, const rt_host *src, const rt_host *dst, size_t len,
			       uint64_t now_ns, rt_sim_verdict *out);
void rt_sim_set_link_model(rt_sim *s, rt_sim_link_fn fn, void *ctx);
/* The fixed latency of the default model. */
void rt_sim_set_default_latency(rt_sim *s, uint64_t latency_ns);

/* ---- running ---- */

/* Run events until virtual time reaches until_ns (inclusive) or the queue is empty; virtual
 * time then stands at until_ns (or at the last event if the queue ran dry and until_ns is
 * UINT64_MAX). Returns the number of events run. */
uint64_t rt_sim_run_until(rt_sim *s, uint64_t until_ns);
/* Run exactly one event; 0 when the queue is empty. */
int rt_sim_step(rt_sim *s);
/* Stop a running rt_sim_run_until after the current event (from a callback). */
void rt_sim_stop(rt_sim *s);
uint64_t rt_sim_pending(const rt_sim *s);

/* Run a callback at a virtual time, outside every host (scenario events, invariant checks). */
typedef void (*rt_sim_call_fn)(void *data);
int rt_sim_call_at(rt_sim *s, uint64_t at_ns, rt_sim_call_fn fn, void *data);

/* ---- observation ---- */

/* 64-bit running hash of every event run: (time, host, kind, byte count). */
uint64_t rt_sim_trace_hash(const rt_sim *s);
/* Hook called for every event run (kind is a short constant string: "timer", "data", "accept",
 * "connect", "refused", "reset", "eof", "close", "crash", "restart", "call"). */
typedef void (*rt_sim_trace_fn)(void *ctx, uint64_t now_ns, const rt_host *h, const char *kind,
				size_t bytes);
void rt_sim_set_trace(rt_sim *s, rt_sim_trace_fn fn, void *ctx);
/* Where host log lines go (NULL = nowhere). Lines are stamped with virtual time. */
void rt_sim_set_log_file(rt_sim *s, FILE *f);

/* ---- virtual disk (tests, disk_fault) ---- */

/* Drop the host's unsynced writes now (as a crash would), without crashing it. */
void rt_sim_disk_lose_unsynced(rt_host *h);
/* Flip one byte of a file (durable and current contents) at offset % size. RT_ENOENT if none. */
int rt_sim_disk_corrupt(rt_host *h, const char *name, size_t offset);

#endif
