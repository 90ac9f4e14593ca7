/*
 * train_real.c — LeNet-5 local training on Fashion-MNIST partitions (see train_real.h).
 */
#include "train_real.h"

#include "lenet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_BATCH 100 /* evaluation runs in chunks of this many images */

struct train_real {
	train_real_config cfg;
	dataset train, test;
	dataset_partition part;
	lenet_ws *ws; /* grown to the largest mini-batch asked for */
	uint64_t seed; /* derived root of the shuffle streams */
};

static void set_err(char *err, size_t len, const char *fmt, const char *what)
{
	if (err && len)
		snprintf(err, len, fmt, what);
}

void train_real_rng(const train_real *tr, long device, int64_t iteration, rt_rng *out)
{
	rt_rng_seed(out, rt_seed_derive_u64(rt_seed_derive_u64(tr->seed, (uint64_t)device),
					    (uint64_t)iteration));
}

int train_real_new(const train_real_config *cfg, train_real **out, char *err, size_t errlen)
{
	char derr[DATASET_ERR_MAX];
	dataset_partition_spec spec = {0};
	if (!cfg || !out || cfg->devices < 1 || cfg->samples_per_device < 0) {
		set_err(err, errlen, "%s", "train_real: devices must be >= 1, samples_per_device >= 0");
		return TRAIN_EINVAL;
	}
	if (cfg->partition[0] &&
	    dataset_partition_kind_parse(cfg->partition, &spec.kind) != 0) {
		set_err(err, errlen, "unknown partition \"%s\" (iid, dirichlet, shards)",
			cfg->partition);
		return TRAIN_EINVAL;
	}
	spec.alpha = cfg->alpha;
	spec.classes_per_device = cfg->classes;
	spec.samples_per_device = (size_t)cfg->samples_per_device;
	spec.seed = rt_seed_derive(cfg->seed, "partition");
	if ((spec.kind == DATASET_PART_DIRICHLET && !(cfg->alpha > 0)) ||
	    (spec.kind == DATASET_PART_SHARDS && (cfg->classes < 1 || cfg->classes > 10))) {
		set_err(err, errlen, "%s", spec.kind == DATASET_PART_DIRICHLET
			? "dirichlet partition needs alpha > 0"
			: "shards partition needs classes in 1..10");
		return TRAIN_EINVAL;
	}
	train_real *tr = calloc(1, sizeof *tr);
	if (!tr)
		return TRAIN_ENOMEM;
	tr->cfg = *cfg;
	tr->seed = rt_seed_derive(cfg->seed, "train_real");
	int rc = dataset_load_fashion_mnist(cfg->data_dir, "train", cfg->max_train_samples,
					    &tr->train, derr, sizeof derr);
	if (!rc)
		rc = dataset_load_fashion_mnist(cfg->data_dir, "test", cfg->max_test_samples,
						&tr->test, derr, sizeof derr);
	if (rc) {
		set_err(err, errlen, "%s", derr);
		train_real_free(tr);
		return TRAIN_EDATA;
	}
	rc = dataset_partition_make(tr->train.labels, tr->train.n, tr->train.nclasses,
				    (size_t)cfg->devices, &spec, &tr->part);
	if (rc) {
		set_err(err, errlen, "%s", rc == DATASET_ENOMEM ? "out of memory partitioning"
					   : "bad partition spec");
		train_real_free(tr);
		return rc == DATASET_ENOMEM ? TRAIN_ENOMEM : TRAIN_EINVAL;
	}
	tr->ws = lenet_ws_new(64);
	if (!tr->ws) {
		train_real_free(tr);
		return TRAIN_ENOMEM;
	}
	*out = tr;
	return 0;
}

void train_real_free(train_real *tr)
{
	if (!tr)
		return;
	dataset_free(&tr->train);
	dataset_free(&tr->test);
	dataset_partition_free(&tr->part);
	lenet_ws_free(tr->ws);
	free(tr);
}

const uint32_t *train_real_partition(const train_real *tr, long device, size_t *count)
{
	if (!tr || device < 0 || !tr->part.ndevices) {
		*count = 0;
		return NULL;
	}
	size_t d = (size_t)device % tr->part.ndevices;
	*count = tr->part.offsets[d + 1] - tr->part.offsets[d];
	return tr->part.indices + tr->part.offsets[d];
}

const dataset *train_real_train_set(const train_real *tr) { return tr ? &tr->train : NULL; }
const dataset *train_real_test_set(const train_real *tr) { return tr ? &tr->test : NULL; }

double train_real_samples(void *ctx, long device)
{
	size_t n;
	train_real_partition(ctx, device, &n);
	return (double)n;
}

/* A workspace for mini-batches of `batch` (kept, grown only). */
static int ensure_ws(train_real *tr, int batch)
{
	if (lenet_ws_max_batch(tr->ws) >= batch)
		return 0;
	lenet_ws *ws = lenet_ws_new(batch);
	if (!ws)
		return TRAIN_ENOMEM;
	lenet_ws_free(tr->ws);
	tr->ws = ws;
	return 0;
}

int train_real_fn(void *ctx, long device, int64_t iteration, int epochs, int batch, float lr,
		  float *weights, size_t n, float *loss)
{
	train_real *tr = ctx;
	if (!tr || !weights || n != LENET_PARAMS || device < 0 || epochs < 0 || batch < 1 ||
	    batch > 4096)
		return TRAIN_EINVAL;
	size_t cnt;
	const uint32_t *idx = train_real_partition(tr, device, &cnt);
	if (loss)
		*loss = 0;
	if (!cnt || !epochs)
		return 0;
	if ((size_t)batch > cnt)
		batch = (int)cnt;
	if (ensure_ws(tr, batch))
		return TRAIN_ENOMEM;
	rt_rng rng;
	train_real_rng(tr, device, iteration, &rng);
	int rc = lenet_sgd_epochs_idx(tr->ws, weights, tr->train.images, tr->train.labels, idx,
				      (int)cnt, epochs, batch, lr, &rng, loss);
	return rc == LENET_ENOMEM ? TRAIN_ENOMEM : rc ? TRAIN_EINVAL : 0;
}

void train_real_batch_fn(void *ctx, fleet_train_job *jobs, size_t njobs, size_t n)
{
	for (size_t i = 0; i < njobs; i++)
		jobs[i].rc = train_real_fn(ctx, jobs[i].device, jobs[i].iteration, jobs[i].epochs,
					   jobs[i].batch, jobs[i].lr, jobs[i].weights, n,
					   &jobs[i].loss);
}

int train_real_evaluate(train_real *tr, const float *weights, float *accuracy, float *loss)
{
	if (!tr || !weights || !tr->test.n)
		return TRAIN_EINVAL;
	if (ensure_ws(tr, EVAL_BATCH))
		return TRAIN_ENOMEM;
	int rc = lenet_evaluate(tr->ws, weights, tr->test.images, tr->test.labels, (int)tr->test.n,
				accuracy, loss);
	return rc ? TRAIN_EINVAL : 0;
}
