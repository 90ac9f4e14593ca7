/*
 * model.c — model definitions, feature maps, deterministic initial weights, FedAvg and hashing.
 *
 * Pure computation: no I/O, no time, no globals but constant tables. The OpenBLAS calls run on
 * whatever thread count the process set; under simulation the entry point sets it to 1.
 */
#include "model.h"

#include "../rt/rt.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LeNet-5 with MindSpore's tensor names and layouts: conv weights are [out, in, kh, kw], dense
 * weights [out, in]. 150+6+2400+16+48000+120+10080+84+840+10 = 61706 floats. */
struct lenet_tensor {
	const char *name;
	int ndims;
	size_t dims[MODEL_MAX_DIMS];
};

static const struct lenet_tensor lenet5_tensors[] = {
	{ "conv1.weight", 4, { 6, 1, 5, 5 } },
	{ "conv1.bias", 1, { 6 } },
	{ "conv2.weight", 4, { 16, 6, 5, 5 } },
	{ "conv2.bias", 1, { 16 } },
	{ "fc1.weight", 2, { 120, 400 } },
	{ "fc1.bias", 1, { 120 } },
	{ "fc2.weight", 2, { 84, 120 } },
	{ "fc2.bias", 1, { 84 } },
	{ "fc3.weight", 2, { 10, 84 } },
	{ "fc3.bias", 1, { 10 } },
};

#define SYNTHETIC_PREFIX "synthetic:"
#define SYNTHETIC_MAX ((size_t)1 << 28)

static void def_add(model_def *def, const char *name, int ndims, const size_t *dims)
{
	model_tensor_def *t = &def->tensors[def->ntensors++];

	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->ndims = ndims;
	t->count = 1;
	for (int i = 0; i < ndims; i++) {
		t->dims[i] = dims[i];
		t->count *= dims[i];
	}
	t->offset = def->total;
	def->total += t->count;
}

/* Strict decimal: digits only (no sign, space or suffix), value in [1, SYNTHETIC_MAX]. */
static int parse_count(const char *s, size_t *out)
{
	size_t v = 0;

	if (!*s)
		return MODEL_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return MODEL_EINVAL;
		v = v * 10 + (size_t)(*s - '0');
		if (v > SYNTHETIC_MAX)
			return MODEL_EINVAL;
	}
	if (v < 1)
		return MODEL_EINVAL;
	*out = v;
	return 0;
}

int model_def_parse(const char *name, model_def *out)
{
	model_def def;

	if (!name || !out || strlen(name) >= sizeof def.name)
		return MODEL_EINVAL;
	memset(&def, 0, sizeof def);
	snprintf(def.name, sizeof def.name, "%s", name);
	if (strcmp(name, "lenet5") == 0) {
		size_t nt = sizeof lenet5_tensors / sizeof lenet5_tensors[0];

		for (size_t i = 0; i < nt; i++)
			def_add(&def, lenet5_tensors[i].name, lenet5_tensors[i].ndims,
				lenet5_tensors[i].dims);
	} else if (strncmp(name, SYNTHETIC_PREFIX, strlen(SYNTHETIC_PREFIX)) == 0) {
		size_t n;

		if (parse_count(name + strlen(SYNTHETIC_PREFIX), &n) != 0)
			return MODEL_EINVAL;
		def_add(&def, "weights", 1, &n);
	} else {
		return MODEL_EINVAL;
	}
	*out = def;
	return 0;
}

int model_def_find(const model_def *def, const char *name)
{
	if (!def || !name)
		return -1;
	for (size_t i = 0; i < def->ntensors; i++)
		if (strcmp(def->tensors[i].name, name) == 0)
			return (int)i;
	return -1;
}

int fmap_init(fmap *m, const model_def *def)
{
	if (!m)
		return MODEL_EINVAL;
	m->def = NULL;
	m->data = NULL;
	if (!def || def->total == 0)
		return MODEL_EINVAL;
	m->data = calloc(def->total, sizeof(float));
	if (!m->data)
		return MODEL_ENOMEM;
	m->def = def;
	return 0;
}

void fmap_free(fmap *m)
{
	if (!m)
		return;
	free(m->data);
	m->data = NULL;
	m->def = NULL;
}

float *fmap_tensor(const fmap *m, size_t i)
{
	if (!m || !m->def || !m->data || i >= m->def->ntensors)
		return NULL;
	return m->data + m->def->tensors[i].offset;
}

static int is_bias(const model_tensor_def *t)
{
	size_t n = strlen(t->name);

	return n >= 5 && strcmp(t->name + n - 5, ".bias") == 0;
}

/*
 * Each tensor draws from its own stream, derived from (seed, tensor name), so the bytes of one
 * tensor do not depend on the tensors before it. Weights of rank >= 2 are uniform in
 * [-b, b) with b = sqrt(6 / fan_in) (He/Kaiming uniform for ReLU nets), fan_in = product of all
 * dims but the first (in * kh * kw for a conv, in for a dense layer). Rank-1 weights (the
 * synthetic model, which has no meaningful fan-in) are uniform in [-0.1, 0.1). Biases are zero.
 * Only IEEE-exact operations (sqrt, +, *, conversions) touch the values: the same bytes on every
 * conforming machine.
 */
void model_init_weights(const model_def *def, uint64_t seed, float *out)
{
	if (!def || !out)
		return;
	for (size_t i = 0; i < def->ntensors; i++) {
		const model_tensor_def *t = &def->tensors[i];
		float *w = out + t->offset;
		double bound = 0.1;
		rt_rng rng;

		if (is_bias(t)) {
			memset(w, 0, t->count * sizeof *w);
			continue;
		}
		if (t->ndims >= 2 && t->dims[0] > 0)
			bound = sqrt(6.0 / (double)(t->count / t->dims[0]));
		rt_rng_seed(&rng, rt_seed_derive(seed, t->name));
		for (size_t j = 0; j < t->count; j++)
			w[j] = (float)((2.0 * rt_rng_double(&rng) - 1.0) * bound);
	}
}

/* OpenBLAS takes int lengths: walk long vectors in chunks. */
#define BLAS_CHUNK ((size_t)INT_MAX / 2)

void fedavg_accumulate(float *acc, const float *w, size_t n, float weight)
{
	if (!acc || !w)
		return;
	for (size_t off = 0; off < n; off += BLAS_CHUNK) {
		size_t len = n - off < BLAS_CHUNK ? n - off : BLAS_CHUNK;

		cblas_saxpy((int)len, weight, w + off, 1, acc + off, 1);
	}
}

void fedavg_add(float *acc, const float *other, size_t n)
{
	fedavg_accumulate(acc, other, n, 1.0f);
}

int fedavg_finish(float *acc, size_t n, double total_weight)
{
	if (!acc || !(total_weight > 0) || !isfinite(total_weight))
		return MODEL_EINVAL;
	for (size_t off = 0; off < n; off += BLAS_CHUNK) {
		size_t len = n - off < BLAS_CHUNK ? n - off : BLAS_CHUNK;

		cblas_sscal((int)len, (float)(1.0 / total_weight), acc + off, 1);
	}
	return 0;
}

/* Bytes in little-endian order whatever the host, so the hash names the wire bytes. */
uint64_t model_hash(const float *w, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!w)
		return h;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &w[i], sizeof u);
		for (int b = 0; b < 4; b++) {
			h ^= (u >> (8 * b)) & 0xffu;
			h *= 0x100000001b3ULL;
		}
	}
	return h;
}
