/*
 * train_cuda.h — the batched CUDA backend of real training: LeNet-5 SGD for many devices at
 * once on one GPU, behind the fleet's batched training interface (fleet_train_batch_fn).
 *
 * It trains exactly what train_real_fn trains (same partitions, same per-(device, iteration)
 * shuffles, same mini-batches, same loss), with cuBLAS strided-batched GEMMs across devices
 * instead of OpenBLAS one device at a time; results agree with the CPU within float rounding
 * (tests/unit/test_train_cuda.c checks 1e-4 relative where a GPU is present).
 *
 * Built only when nvcc exists (the Makefile then defines FL_HAVE_CUDA and links cudart and
 * cublas); code that uses it checks FL_HAVE_CUDA.
 */
#ifndef FL_TRAIN_CUDA_H
#define FL_TRAIN_CUDA_H

#include "fleet.h"
#include "train_real.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct train_cuda train_cuda;

/*
 * Upload tr's training set to the first GPU and prepare cuBLAS. tr (its data and partitions) is
 * borrowed and must outlive the backend. TRAIN_ENODEV when there is no usable GPU,
 * TRAIN_ENOMEM when GPU memory runs out; err (may be NULL) gets one line.
 */
int train_cuda_new(train_real *tr, train_cuda **out, char *err, size_t errlen);
void train_cuda_free(train_cuda *tc);

/* fleet_train_batch_fn (ctx = the train_cuda): jobs with the same plan (epochs, batch, lr) train
 * together, one GPU lane each. A job whose device has no samples keeps its weights (loss 0). */
void train_cuda_batch_fn(void *ctx, fleet_train_job *jobs, size_t njobs, size_t n);

/* fleet train_samples hook (ctx = the train_cuda): the partition sizes of its train_real. */
double train_cuda_samples(void *ctx, long device);

/* 1 when a CUDA device is present and usable. */
int train_cuda_available(void);

#ifdef __cplusplus
}
#endif

#endif
