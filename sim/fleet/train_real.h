/*
 * train_real.h — real local training for the fleet: LeNet-5 (lenet.h) on Fashion-MNIST
 * (dataset.h), plugged into fleet_config as train/train_ctx (and train_samples), plus the
 * engine's evaluation of a global model on the test set.
 *
 * The data set is loaded once and partitioned over cfg.devices devices by the partition spec;
 * a device beyond that count (the fleet grew) trains on partition (device mod devices). Device
 * d's training in iteration i shuffles with a stream seeded from (seed, d, i), so a run is
 * reproducible whatever order devices train in. Single-threaded: the caller sets OpenBLAS to one
 * thread (see lenet.h).
 */
#ifndef FL_TRAIN_REAL_H
#define FL_TRAIN_REAL_H

#include "dataset.h"
#include "fleet.h"
#include "../../node/util/err.h"

#include <stddef.h>
#include <stdint.h>

/* Error codes TRAIN_E*: node/util/err.h (the one error space). */

typedef struct train_real_config {
	uint64_t seed;            /* root of the partition and of the per-(device, iteration) streams */
	long devices;             /* partitions to cut (>= 1) */
	char partition[16];       /* "iid" (also when empty), "dirichlet", "shards" */
	double alpha;             /* dirichlet concentration (> 0) */
	int classes;              /* shards: classes per device */
	long samples_per_device;  /* 0: divide the training set; > 0: this many each (see dataset.h) */
	const char *data_dir;     /* NULL = DATASET_DEFAULT_DIR */
	size_t max_train_samples; /* 0 = all 60000 (tests use fewer) */
	size_t max_test_samples;  /* 0 = all 10000 */
} train_real_config;

typedef struct train_real train_real;

/* Load and partition. On error returns TRAIN_E* and writes one line into err (may be NULL),
 * e.g. an unknown partition or a missing data file. *out is owned by the caller
 * (train_real_free). */
int train_real_new(const train_real_config *cfg, train_real **out, char *err, size_t errlen);
void train_real_free(train_real *tr);

/*
 * A fleet_train_fn (ctx = the train_real): `epochs` passes of mini-batch SGD (batch, lr) over the
 * device's partition, starting from and updating weights[0..n) in place (n must be the LeNet-5
 * parameter count); *loss = the mean loss of the last epoch. A device with no samples leaves the
 * weights as they are (loss 0). Returns 0 or TRAIN_E*.
 */
int train_real_fn(void *ctx, long device, int64_t iteration, int epochs, int batch, float lr,
		  float *weights, size_t n, float *loss);

/* A fleet_train_batch_fn on the CPU (job by job; the reference for batched backends). */
void train_real_batch_fn(void *ctx, fleet_train_job *jobs, size_t njobs, size_t n);

/* A fleet train_samples hook (ctx = the train_real): the size of device's partition. */
double train_real_samples(void *ctx, long device);

/* Device's sample indices into the training set (not owned; valid until train_real_free). */
const uint32_t *train_real_partition(const train_real *tr, long device, size_t *count);
const dataset *train_real_train_set(const train_real *tr);
const dataset *train_real_test_set(const train_real *tr);

/* Top-1 accuracy and mean cross-entropy of a model (LENET_PARAMS floats) on the test set (10k
 * images by default). Either output may be NULL. */
int train_real_evaluate(train_real *tr, const float *weights, float *accuracy, float *loss);

/* The shuffle stream of device's training in `iteration` (batched backends use the same). */
void train_real_rng(const train_real *tr, long device, int64_t iteration, rt_rng *out);

#endif
