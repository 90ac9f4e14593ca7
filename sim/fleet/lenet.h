/*
 * lenet.h — LeNet-5 forward, backward and SGD for local training on simulated devices.
 *
 * Parameters are one flat float buffer in the layout of model_def "lenet5" (node/model/model.h:
 * conv1.weight [6,1,5,5], conv1.bias, conv2.weight [16,6,5,5], conv2.bias, fc1.weight [120,400],
 * fc1.bias, fc2.weight [84,120], fc2.bias, fc3.weight [10,84], fc3.bias; 61706 floats), so a
 * device trains exactly the tensors the server sends. Images are n x 784 floats (28x28 grey,
 * row-major, one image after the other); labels are uint8 class ids in [0, 10).
 *
 * Network: conv1 (pad 2) 28x28x6 -> ReLU -> maxpool 2 -> 14x14x6 -> conv2 (no pad) 10x10x16 ->
 * ReLU -> maxpool 2 -> 5x5x16 = 400 (flattened channel-major, as MindSpore's Flatten on NCHW) ->
 * fc1 120 -> ReLU -> fc2 84 -> ReLU -> fc3 10 -> softmax cross-entropy (mean over the batch).
 *
 * Pure computation: the convolutions are direct (vectorised, with bias, ReLU and max-pool fused;
 * a build per CPU level picked at load time), the dense layers OpenBLAS sgemm. The library never sets the
 * OpenBLAS thread count: callers call openblas_set_num_threads(1) once (the sim entry point
 * does), which keeps runs single-threaded and their floating-point results reproducible.
 * No globals: any number of workspaces can coexist.
 */
#ifndef FL_LENET_H
#define FL_LENET_H

#include <stddef.h>
#include <stdint.h>

#include "../../node/rt/rt.h"
#include "../../node/util/err.h"

/* Error codes LENET_E*: node/util/err.h (the one error space). */

#define LENET_IMAGE 784   /* floats per image */
#define LENET_CLASSES 10
#define LENET_PARAMS 61706 /* floats in the flat parameter buffer */

/* Scratch memory for batches of up to max_batch images, allocated once (about 280 KB per image
 * of max_batch). Owned by the caller; one workspace is used by one caller at a time. */
typedef struct lenet_ws lenet_ws;

lenet_ws *lenet_ws_new(int max_batch); /* NULL on ENOMEM or max_batch < 1 */
void lenet_ws_free(lenet_ws *ws);
int lenet_ws_max_batch(const lenet_ws *ws);

/*
 * Logits (n x 10, caller's buffer) for n images of any count: larger n runs in chunks of
 * max_batch. params, images and logits belong to the caller and are not kept.
 */
int lenet_forward(lenet_ws *ws, const float *params, const float *images, int n, float *logits);

/*
 * Mean softmax cross-entropy over n samples and its gradient with respect to params, written to
 * grad (LENET_PARAMS floats, caller's buffer, same layout as params; overwritten). Any n >= 1:
 * larger n runs in chunks of max_batch and the result is the mean over all n. loss may be NULL.
 */
int lenet_loss_grad(lenet_ws *ws, const float *params, const float *images,
		    const uint8_t *labels, int n, float *grad, float *loss);

/*
 * Plain mini-batch SGD (params -= lr * grad) for `epochs` passes over the n_samples samples,
 * in an order reshuffled each epoch from shuffle_rng (advanced; the caller's per-device stream).
 * The last mini-batch of an epoch may be smaller. batch must be <= the workspace's max_batch.
 * avg_loss (may be NULL) receives the mean loss over the samples of the last epoch, measured on
 * each mini-batch before its step. params is updated in place. A scratch index array of n_samples
 * ints is malloc'd and freed inside the call.
 */
int lenet_sgd_epochs(lenet_ws *ws, float *params, const float *images, const uint8_t *labels,
		     int n_samples, int epochs, int batch, float lr, rt_rng *shuffle_rng,
		     float *avg_loss);

/* Same as lenet_sgd_epochs on a subset of the samples: indices[0..n_idx) index into images and
 * labels (a device's partition of a shared data set, without copying it). */
int lenet_sgd_epochs_idx(lenet_ws *ws, float *params, const float *images, const uint8_t *labels,
			 const uint32_t *indices, int n_idx, int epochs, int batch, float lr,
			 rt_rng *shuffle_rng, float *avg_loss);

/* Top-1 accuracy in [0, 1] and mean cross-entropy over n samples (either output may be NULL). */
int lenet_evaluate(lenet_ws *ws, const float *params, const float *images, const uint8_t *labels,
		   int n, float *accuracy, float *loss);

/* Floating-point work of the model's products per sample, in GFLOP (2*M*N*K for each layer as a
 * GEMM would do it, whatever the implementation skips; pooling and the element-wise work are not
 * counted): the forward pass alone, and forward plus backward as
 * one SGD step does it (no input gradient for conv1). For benchmarks. */
double lenet_gflop_forward(void);
double lenet_gflop_train(void);

#endif
