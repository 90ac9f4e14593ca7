/*
 * model.h — model definitions and feature maps (named float32 tensors in one flat buffer).
 *
 * A model definition lists tensor names and shapes; "lenet5" is LeNet-5 for 28x28 grey images
 * (conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> fc 120 -> fc 84 -> fc 10), "synthetic:N"
 * is one tensor "weights" of N floats. The server and the fleet share these definitions, so
 * tensor names match on the wire. Pure computation: no I/O, no time, no globals.
 */
#ifndef FL_MODEL_H
#define FL_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

#define MODEL_NAME_MAX 48
#define MODEL_MAX_DIMS 4
#define MODEL_MAX_TENSORS 32

/* Error codes MODEL_E*: node/util/err.h (the one error space). */

typedef struct model_tensor_def {
	char name[MODEL_NAME_MAX];   /* e.g. "conv1.weight" */
	int ndims;
	size_t dims[MODEL_MAX_DIMS];
	size_t count;  /* product of dims */
	size_t offset; /* in floats, within the flat buffer */
} model_tensor_def;

typedef struct model_def {
	char name[64];  /* "lenet5" or "synthetic:N" as given */
	size_t ntensors;
	model_tensor_def tensors[MODEL_MAX_TENSORS];
	size_t total; /* floats in all tensors */
} model_def;

/* Parse "lenet5" or "synthetic:N" (1 <= N <= 2^28). MODEL_EINVAL otherwise. */
int model_def_parse(const char *name, model_def *out);
/* Index of the tensor named `name`, or -1. */
int model_def_find(const model_def *def, const char *name);

/* A feature map: the definition's layout over one malloc'd buffer of def->total floats. */
typedef struct fmap {
	const model_def *def; /* not owned; must outlive the fmap */
	float *data;          /* owned */
} fmap;

int fmap_init(fmap *m, const model_def *def); /* zero-filled */
void fmap_free(fmap *m);
float *fmap_tensor(const fmap *m, size_t i);
/* Deterministic initial weights from a seed (Kaiming-uniform-like for weights, zero biases):
 * iteration 0's model. Same (def, seed) -> same bytes on every machine. */
void model_init_weights(const model_def *def, uint64_t seed, float *out);

/*
 * FedAvg building blocks (OpenBLAS for the vector work; single-threaded under simulation):
 *   acc += weight * w   over n floats   (accumulate one upload weighted by its data size)
 *   acc *= 1 / total                     (finish: divide by the total data size)
 * Summation order is the caller's: add in a fixed order for bit-identical results.
 */
void fedavg_accumulate(float *acc, const float *w, size_t n, float weight);
void fedavg_add(float *acc, const float *other, size_t n); /* acc += other */
int fedavg_finish(float *acc, size_t n, double total_weight); /* MODEL_EINVAL if total <= 0 */

/* 64-bit FNV-1a over the bytes of n floats (model identity checks across servers). */
uint64_t model_hash(const float *w, size_t n);

#endif
