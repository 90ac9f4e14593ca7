/*
 * dataset.h — image classification data for real local training: the Fashion-MNIST loader and
 * deterministic partitions of a data set over simulated devices.
 *
 * The loader is deliberately not an rt.h file: data sets are read-only system inputs (Debian's
 * dataset-fashion-mnist in /usr/share/datasets/fashion-mnist), the same in every mode, and never
 * part of a node's simulated disk, so it reads them with plain stdio/zlib. It does no I/O but
 * reading the named files, and takes no time, randomness or threads.
 *
 * Partitions draw only from rt_rng streams seeded by the caller: the same (labels, spec, seed)
 * gives the same indices on every run.
 */
#ifndef FL_DATASET_H
#define FL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../../node/rt/rt.h"
#include "../../node/util/err.h"

/* Error codes DATASET_E*: node/util/err.h (the one error space). */

#define DATASET_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define DATASET_ERR_MAX 256

/* A loaded set: n images of rows x cols floats in [0, 1] (byte / 255), one after the other
 * (row-major), and n labels in [0, nclasses). Both arrays are malloc'd and owned by the struct. */
typedef struct dataset {
	size_t n;
	int rows, cols;
	int nclasses; /* 10 for (Fashion-)MNIST */
	float *images;
	uint8_t *labels;
} dataset;

/*
 * Load an IDX pair (gzip-compressed or plain; zlib reads both): images with magic 0x00000803
 * (ubyte, 3 dims: n, rows, cols), labels with magic 0x00000801 (ubyte, 1 dim: n). Validates the
 * magics, that both counts agree, that each file holds exactly the bytes its header announces
 * (no more, no less) and that every label is below nclasses. max_samples > 0 keeps only the first
 * max_samples samples (the rest of the files is then still checked for length).
 * On error returns DATASET_E* and, if err is not NULL, writes a one-line message naming the file
 * and what was wrong into err[0..errlen). *out is left zeroed on error.
 */
int dataset_load_idx(const char *images_path, const char *labels_path, int nclasses,
		     size_t max_samples, dataset *out, char *err, size_t errlen);

/* Fashion-MNIST from dir (NULL = DATASET_DEFAULT_DIR): split "train" (60000 samples) or "test"
 * (10000, the t10k files). Also checks 28x28 images and 10 classes. */
int dataset_load_fashion_mnist(const char *dir, const char *split, size_t max_samples,
			       dataset *out, char *err, size_t errlen);

void dataset_free(dataset *d);

/* ---- partitions over devices ---- */

enum dataset_partition_kind {
	DATASET_PART_IID = 0,
	DATASET_PART_DIRICHLET = 1,
	DATASET_PART_SHARDS = 2,
};

typedef struct dataset_partition_spec {
	enum dataset_partition_kind kind;
	double alpha;              /* dirichlet: concentration (> 0); small = strong label skew */
	int classes_per_device;    /* shards: k distinct classes per device, 1 <= k <= nclasses */
	size_t samples_per_device; /* 0: divide the data set (each sample exactly once);
				    * > 0: every device gets this many (samples are reused when
				    * ndevices * samples_per_device exceeds the data set) */
	uint64_t seed;
} dataset_partition_spec;

/*
 * Device d's samples are indices[offsets[d] .. offsets[d+1]) (into the data set's arrays).
 * Both arrays are malloc'd and owned by the struct; free with dataset_partition_free.
 *
 * Kinds, with samples_per_device = 0:
 *   iid        shuffle all samples and cut them into ndevices nearly equal runs;
 *   dirichlet  for each class, proportions over devices ~ Dirichlet(alpha) (Gamma draws by
 *              Marsaglia-Tsang); the class's shuffled samples are cut in those proportions, so
 *              device sizes vary (a device may get none);
 *   shards     each device picks k distinct classes (the least picked so far, ties broken at
 *              random, so classes are spread evenly); each class's shuffled samples are cut
 *              evenly among the devices that picked it (classes nobody picked are unused).
 * With samples_per_device = m > 0 every device gets exactly m samples:
 *   iid        consecutive runs of m in a sequence of fresh shuffles of all samples;
 *   dirichlet  the device's class mix ~ Dirichlet(alpha) over classes, m samples drawn to it;
 *   shards     m split evenly over the device's k classes;
 * where samples of a class come from a cyclic, shuffled per-class pool (reshuffled when it runs
 * out), so reuse is spread evenly. A device can then hold a sample twice only if the data set
 * (or its class) is smaller than what it asked for or it straddles a reshuffle.
 */
typedef struct dataset_partition {
	size_t ndevices;
	size_t *offsets;   /* ndevices + 1 */
	uint32_t *indices; /* offsets[ndevices] */
} dataset_partition;

int dataset_partition_make(const uint8_t *labels, size_t n, int nclasses, size_t ndevices,
			   const dataset_partition_spec *spec, dataset_partition *out);
void dataset_partition_free(dataset_partition *p);

/* "iid", "dirichlet", "shards" -> kind; DATASET_EINVAL otherwise. */
int dataset_partition_kind_parse(const char *s, enum dataset_partition_kind *kind);

/* Marsaglia-Tsang Gamma(shape, 1) draw from r (shape > 0; shape < 1 via the boost
 * Gamma(shape+1) * U^(1/shape)). Exposed for the partitioner's tests and other fleet models. */
double dataset_gamma(rt_rng *r, double shape);

#endif
