/*
 * fleet.h — a fleet of simulated devices speaking the real device API over HTTP.
 *
 * Each device is a small state machine: startFLJob -> local training -> updateModel -> getModel ->
 * next iteration. It honours next_req_time, retries OutOfTime / SucNotReady / connection errors
 * with jittered backoff, picks a server at random among the live ones and fails over when one
 * dies. Its timestamps come from its own (possibly skewed) clock. Devices draw from their own
 * seeded streams (derived from the fleet seed and the device index), so adding devices does not
 * change the others' draws.
 *
 * A fleet runs on one rt host (in-process under rt_sim; as bin/fl-fleet on rt_uv). It keeps its
 * own wake-up heap of devices and arms a single rt timer for the earliest, so a 100k-device fleet
 * costs one timer and about 130 bytes per device (fleet_stats.bytes_per_device).
 */
#ifndef FL_FLEET_H
#define FL_FLEET_H

#include "../../node/model/model.h"
#include "../../node/rt/rt.h"
#include "../../node/util/err.h"

#include <stddef.h>
#include <stdint.h>

/* Error codes FLEET_E*: node/util/err.h (the one error space). */

/* A random quantity (same meaning as the scenario's sc_dist). */
typedef enum fleet_dist_kind { FLEET_FIXED = 0, FLEET_UNIFORM, FLEET_NORMAL, FLEET_LOGNORMAL } fleet_dist_kind;
typedef struct fleet_dist {
	fleet_dist_kind kind;
	double a, b;
} fleet_dist;
double fleet_dist_draw(const fleet_dist *d, rt_rng *r);

typedef enum fleet_round { FLEET_START = 0, FLEET_UPDATE, FLEET_GET, FLEET_METRICS, FLEET_ROUNDS } fleet_round;
const char *fleet_round_name(fleet_round r); /* "startFLJob", ... */

/* Observers (all optional): how the engine records metrics and checks invariants. `server` is
 * the fleet_server id the request went to. An observer must not destroy the fleet. */
typedef struct fleet_observer {
	/* Every finished request: retcode is the device API's (200, 201, 300, 400, 500), or 0
	 * for a non-envelope answer (gate text), or a negative RT_E* for a connection failure. */
	void (*on_request)(void *ctx, fleet_round round, int server, int retcode, uint64_t latency_ns,
			   size_t bytes_out, size_t bytes_in);
	/* An updateModel the server accepted (SUCCEED): the upload as sent. */
	void (*on_update_accepted)(void *ctx, int server, long device, int64_t iteration,
				   double data_size, const float *weights, size_t n);
	/* A model a server served on getModel SUCCEED (for agreement checks and evaluation);
	 * iteration is the answer's model_iteration, else the iteration the device asked for. */
	void (*on_model)(void *ctx, int server, int64_t iteration, const float *weights, size_t n);
	/* Optional: asked first; 0 skips on_model for this answer (and the copy it needs). With a
	 * 10,000-device fleet every getModel answer is a whole model: observers sample. */
	int (*want_model)(void *ctx, int server, int64_t iteration);
	/* A request answered RequestError because of its timestamp (the replay check: a reason
	 * naming the timestamp and a difference); device_wall_ms = the device's clock at send. */
	void (*on_time_rejected)(void *ctx, int server, long device, int64_t device_wall_ms);
	void *ctx;
} fleet_observer;

/* Local training of a device: fill `weights` (in/out: starts as the global model) for one
 * iteration; return the loss. synthetic training is built in; real training plugs in here.
 * Returns 0, or a negative code (the device then uploads the global model unchanged). */
typedef int (*fleet_train_fn)(void *ctx, long device, int64_t iteration, int epochs, int batch,
			      float lr, float *weights, size_t n, float *loss);

/* The same for many devices at once (batched backends, e.g. CUDA): each job's weights (n floats,
 * owned by the fleet) start as the model that device got and are trained in place; the backend
 * sets loss and rc (0, or negative: then it must leave that job's weights as given). The fleet
 * queues devices when their startFLJob succeeds and trains the queue in one call when it is full
 * (train_batch_max) or when one of them is due to upload, so batching changes no timing. */
typedef struct fleet_train_job {
	long device;
	int64_t iteration;
	int epochs, batch;
	float lr;
	float *weights;
	float loss; /* out */
	int rc;     /* out */
} fleet_train_job;
typedef void (*fleet_train_batch_fn)(void *ctx, fleet_train_job *jobs, size_t njobs, size_t n);

/* The data size a device reports in startFLJob (real training: its partition's size; 0 is
 * reported as is and the server may refuse it). */
typedef double (*fleet_samples_fn)(void *ctx, long device);

typedef struct fleet_server {
	char ip[16];
	uint16_t port;
	int id; /* the engine's index for the server (node id as a number) */
} fleet_server;

typedef struct fleet_config {
	uint64_t seed;
	long devices;
	const model_def *model; /* shapes of uploads; must outlive the fleet */
	char fl_name[64];
	char url_prefix[64];  /* http_url_prefix ("" by default) */
	fleet_dist compute_ms_per_sample, bandwidth_kbps, clock_skew_ms, session_s;
	fleet_dist samples; /* data size per device (fixed 600 by default) */
	/* Availability: devices alternate online sessions of session_s seconds and offline spells
	 * of session_s * (1 - f) / f, so a share f is online at any time (1 = always); a session
	 * that ends mid-iteration ends after it. */
	double online_fraction;
	double dropout;         /* probability of vanishing mid-round (after startFLJob, ~30 s) */
	fleet_train_fn train;   /* NULL (and no train_batch) = synthetic */
	fleet_train_batch_fn train_batch; /* used instead of train when set */
	size_t train_batch_max; /* jobs per train_batch call (default 256) */
	fleet_samples_fn train_samples; /* NULL = data size drawn from `samples` */
	void *train_ctx;        /* for train, train_batch and train_samples */
	fleet_observer obs;
	uint64_t request_timeout_ms; /* default 30 s */
	uint64_t max_wait_ms; /* cap on a wait for next_req_time (default 10 min) */
} fleet_config;

typedef struct fleet fleet;

/* Start the fleet on host h. cfg is copied. *out is owned by the caller (fleet_destroy). */
int fleet_new(rt_host *h, const fleet_config *cfg, fleet **out);
/* Frees everything; requests in flight are abandoned: the HTTP client completes them with
 * RT_ECANCELED inside this call, which the fleet ignores, so no observer runs afterwards. Safe
 * from the host's crash hook (rt_sim_host_set_owner). Not from inside an observer. */
void fleet_destroy(fleet *f);
/* Replace the list of servers devices may talk to (scale events, discovery). Copied. */
int fleet_set_servers(fleet *f, const fleet_server *servers, size_t n);
/* Grow or shrink the fleet (surge, drain): devices [n, old) leave (an answer still in flight to
 * them is ignored), devices [old, n) start within a second, drawn from their own streams. */
int fleet_resize(fleet *f, long devices);
/* Clock skew for a share of the fleet: devices [0, share*n) get offset_ms more on their clock. */
void fleet_skew(fleet *f, double share, int64_t offset_ms);

typedef struct fleet_stats {
	long devices, online, training, in_request; /* online: not in an offline spell */
	uint64_t requests[FLEET_ROUNDS], ok[FLEET_ROUNDS], rejected[FLEET_ROUNDS], conn_errors;
	uint64_t updates_accepted, bytes_out, bytes_in, time_rejected, dropouts;
	size_t bytes_per_device; /* fleet-owned memory / devices */
} fleet_stats;
void fleet_get_stats(const fleet *f, fleet_stats *st);

#endif
