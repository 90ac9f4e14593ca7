/*
 * fleet_int.h — what fleet.c (lifecycle, API), fleet_dev.c (a device's requests and answers),
 * fleet_wake.c (the wake-up heap, sessions) and fleet_dist.c (distributions) share. Not part of
 * the API.
 */
#ifndef FL_FLEET_INT_H
#define FL_FLEET_INT_H

#include "fleet.h"

#include "../../node/proto/http.h"

#define FLEET_CHUNK 1024
#define FLEET_NS_PER_MS 1000000ULL
#define FLEET_MAX_DEVICES 10000000L
#define FLEET_POLL_MS 1000                 /* getModel SucNotReady: poll again after 1-1.5 s */
#define FLEET_UPDATE_RETRIES 3              /* failed-over uploads of one trained model */
#define FLEET_GET_RETRIES 5                 /* failed-over getModel polls before starting over */

enum dev_state {
	D_START = 0, /* next: startFLJob */
	D_UPDATE,    /* trained; next: updateModel */
	D_GET,       /* uploaded; next: getModel */
	D_GONE,      /* removed by a resize */
};

/* 128 bytes; fields ordered by size so there is little padding. */
typedef struct device {
	struct fleet *f;
	float *weights;        /* the upload (real training, or kept for the observer), else NULL */
	uint64_t wake_ns;
	uint64_t req_start_ns;
	int64_t iteration;
	int64_t skew_ms;
	rt_rng rng;
	uint32_t index;
	uint32_t heap_pos;     /* UINT32_MAX when not in the heap */
	uint32_t req_bytes;
	int32_t req_sid;       /* the engine's id of the server the request in flight went to */
	float compute_ms, bw_kbps, data_size, loss;
	int16_t server;        /* index into f->servers, -1 = pick one */
	uint16_t failures;     /* consecutive, for backoff */
	uint8_t state;
	uint8_t round;         /* of the request in flight */
	uint8_t busy : 1;      /* a request is in flight */
	uint8_t stale : 1;     /* the request in flight belongs to a removed earlier incarnation */
	uint8_t queued : 1;    /* its training waits in the batch queue (weights = the start model) */
	uint8_t off : 1;       /* asleep offline (between sessions, or dropped out) */
	uint32_t session_end_s; /* its online session ends then (s since the fleet started) */
} device;
_Static_assert(sizeof(device) <= 128, "a device must stay small: 100k fit in ~13 MB");

struct fleet {
	rt_host *host;
	fleet_config cfg;
	http_client *http;
	rt_timer *timer;
	uint64_t timer_due;
	device **chunks;
	size_t nchunks;
	long n;   /* live devices: indices [0, n) */
	long cap; /* devices allocated (chunks * FLEET_CHUNK) */
	uint32_t *heap; /* device indices */
	uint64_t *hkey; /* their wake times (heap[i]'s in hkey[i]) */
	size_t heap_len, heap_cap;
	fleet_server *servers;
	size_t nservers;
	fleet_stats st;
	float *scratch; /* model-sized buffer for synthetic uploads and served models */
	float *synth_dir; /* synthetic training: the seeded direction every upload is a multiple of */
	fleet_train_job *tq; /* trainings waiting for a train_batch call (weights not owned) */
	size_t tq_len;
	uint64_t t0_ns; /* when the fleet started (session times count from it) */
	fleet_train_job *jobs; /* train_batch_max */
};

static inline device *dev_at(const fleet *f, long i) { return &f->chunks[i / FLEET_CHUNK][i % FLEET_CHUNK]; }

/*
 * Who calls whom (one direction each): fleet.c -> fleet_dev.c, fleet_wake.c, fleet_dist.c;
 * fleet_dev.c -> fleet_wake.c, fleet_dist.c; fleet_wake.c -> fleet_dist.c. Nothing calls back
 * into fleet.c: the rt timer's callback and the HTTP answers' callbacks are registered, not called.
 * The layers (scripts/deps-check.sh checks them: a file calls only files on lines below its
 * own); the trainer's files (own headers) share the directory:
 *   fleet.c
 *   fleet_dev.c
 *   fleet_wake.c
 *   fleet_dist.c train_real.c
 *   dataset.c lenet.c
 */

/* fleet_wake.c: wake the device delay_ns from now (replaces a pending wake-up). */
void fleet_wake_in(fleet *f, device *d, uint64_t delay_ns);
/* fleet_wake.c: take the device out of the heap (no-op when it is not in it). */
void fleet_wake_remove(fleet *f, device *d);
/* fleet_wake.c: the earliest device when it is due by now_ns (taken out of the heap), or NULL. */
device *fleet_wake_next_due(fleet *f, uint64_t now_ns);
/* fleet_wake.c: (re)arm the fleet's one timer for the earliest wake-up. */
void fleet_wake_arm(fleet *f);
/* fleet_wake.c: room for `cap` devices in the heap (its indices and wake times). 0 or
 * FLEET_ENOMEM (then heap_cap is unchanged). */
int fleet_wake_reserve(fleet *f, size_t cap);
/* fleet_wake.c: a fresh online session's end for the device, from now (or from `from_ns`). */
uint32_t fleet_session_end(fleet *f, device *d, uint64_t from_ns);
/* fleet_wake.c: the length of an offline spell, in ns (keeps the online share at online_fraction). */
uint64_t fleet_offline_ns(fleet *f, device *d);
/* fleet_dev.c: the device is due: send the request its state calls for. */
void fleet_dev_act(fleet *f, device *d);
/* fleet_dev.c: free the device's kept upload (and drop it from the training queue). */
void fleet_dev_drop_upload(device *d);

#endif
