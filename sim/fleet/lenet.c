/*
 * lenet.c — LeNet-5 forward/backward on OpenBLAS sgemm, for local training on simulated devices.
 *
 * Activations are kept channel-major across the whole batch ([C][n][H][W]) so each convolution is
 * a single GEMM over all n images: weights [Cout, Cin*5*5] times an im2col matrix
 * [Cin*5*5, n*H*W]. The dense layers are row-major [n][features]. Max-pooling records the argmax
 * position of every window so the backward pass scatters gradients without recomputing.
 * See lenet.h for the API and the thread-count rule.
 */
#include "lenet.h"

#include "../../node/model/model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T_C1W, T_C1B, T_C2W, T_C2B, T_F1W, T_F1B, T_F2W, T_F2B, T_F3W, T_F3B, T_COUNT };

static const char *const tensor_names[T_COUNT] = {
	"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
	"fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
};

/* Geometry. */
#define IMG 28             /* input side; conv1 keeps it (pad 2) */
#define C1 6
#define P1 14              /* after pool 1 */
#define C2 16
#define O2 10              /* conv2 output side (no pad) */
#define P2 5               /* after pool 2 */
#define K 5                /* kernel side */
#define PAD1 2
#define PADDED (IMG + 2 * PAD1) /* 32: input side with conv1's zero border */
#define K1 (1 * K * K)     /* conv1 im2col rows */
#define K2 (C1 * K * K)    /* conv2 im2col rows */
#define FLAT (C2 * P2 * P2) /* 400 */
#define H1 120
#define H2 84

struct lenet_ws {
	int max_batch;
	size_t off[T_COUNT]; /* tensor offsets in the flat parameter buffer */
	float *grad;         /* LENET_PARAMS: SGD's gradient */
	float *x;            /* [B][784] gathered mini-batch */
	float *xpad;         /* [B][32*32] input with its zero border (the border stays zero) */
	float *ones;         /* [B*784] of 1.0: bias gradients as GEMV row sums */
	uint8_t *y;          /* [B] */
	float *col1;         /* [25][B*784] */
	float *a1, *da1;     /* [6][B*784] conv1 after ReLU, and its gradient */
	float *p1, *dp1;     /* [6][B*196] */
	int32_t *idx1;       /* [6][B*196] argmax position in a1 */
	float *col2, *dcol2; /* [150][B*100] */
	float *a2, *da2;     /* [16][B*100] */
	float *p2;           /* [16][B*25] */
	int32_t *idx2;       /* [16][B*25] argmax position in a2 */
	float *f, *df;       /* [B][400] */
	float *h1, *dh1;     /* [B][120] */
	float *h2, *dh2;     /* [B][84] */
	float *z3, *dz3;     /* [B][10] logits and their gradient */
};

lenet_ws *lenet_ws_new(int max_batch)
{
	model_def def;
	lenet_ws *ws;
	size_t b;

	if (max_batch < 1 || max_batch > (1 << 16) || model_def_parse("lenet5", &def) != 0 ||
	    def.total != LENET_PARAMS)
		return NULL;
	ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	for (int i = 0; i < T_COUNT; i++) {
		int t = model_def_find(&def, tensor_names[i]);

		if (t < 0) {
			free(ws);
			return NULL;
		}
		ws->off[i] = def.tensors[t].offset;
	}
	ws->max_batch = max_batch;
	b = (size_t)max_batch;
	ws->grad = malloc(LENET_PARAMS * sizeof(float));
	ws->x = malloc(b * LENET_IMAGE * sizeof(float));
	ws->y = malloc(b);
	ws->xpad = calloc(b * PADDED * PADDED, sizeof(float));
	ws->ones = malloc(b * IMG * IMG * sizeof(float));
	ws->col1 = malloc(b * K1 * IMG * IMG * sizeof(float));
	ws->a1 = malloc(b * C1 * IMG * IMG * sizeof(float));
	ws->da1 = malloc(b * C1 * IMG * IMG * sizeof(float));
	ws->p1 = malloc(b * C1 * P1 * P1 * sizeof(float));
	ws->dp1 = malloc(b * C1 * P1 * P1 * sizeof(float));
	ws->idx1 = malloc(b * C1 * P1 * P1 * sizeof(int32_t));
	ws->col2 = malloc(b * K2 * O2 * O2 * sizeof(float));
	ws->dcol2 = malloc(b * K2 * O2 * O2 * sizeof(float));
	ws->a2 = malloc(b * C2 * O2 * O2 * sizeof(float));
	ws->da2 = malloc(b * C2 * O2 * O2 * sizeof(float));
	ws->p2 = malloc(b * FLAT * sizeof(float));
	ws->idx2 = malloc(b * FLAT * sizeof(int32_t));
	ws->f = malloc(b * FLAT * sizeof(float));
	ws->df = malloc(b * FLAT * sizeof(float));
	ws->h1 = malloc(b * H1 * sizeof(float));
	ws->dh1 = malloc(b * H1 * sizeof(float));
	ws->h2 = malloc(b * H2 * sizeof(float));
	ws->dh2 = malloc(b * H2 * sizeof(float));
	ws->z3 = malloc(b * LENET_CLASSES * sizeof(float));
	ws->dz3 = malloc(b * LENET_CLASSES * sizeof(float));
	if (!ws->grad || !ws->x || !ws->y || !ws->xpad || !ws->ones || !ws->col1 || !ws->a1 || !ws->da1 || !ws->p1 ||
	    !ws->dp1 || !ws->idx1 || !ws->col2 || !ws->dcol2 || !ws->a2 || !ws->da2 || !ws->p2 ||
	    !ws->idx2 || !ws->f || !ws->df || !ws->h1 || !ws->dh1 || !ws->h2 || !ws->dh2 ||
	    !ws->z3 || !ws->dz3) {
		lenet_ws_free(ws);
		return NULL;
	}
	for (size_t i = 0; i < b * IMG * IMG; i++)
		ws->ones[i] = 1.0f;
	return ws;
}

void lenet_ws_free(lenet_ws *ws)
{
	if (!ws)
		return;
	free(ws->grad);
	free(ws->x);
	free(ws->y);
	free(ws->xpad);
	free(ws->ones);
	free(ws->col1);
	free(ws->a1);
	free(ws->da1);
	free(ws->p1);
	free(ws->dp1);
	free(ws->idx1);
	free(ws->col2);
	free(ws->dcol2);
	free(ws->a2);
	free(ws->da2);
	free(ws->p2);
	free(ws->idx2);
	free(ws->f);
	free(ws->df);
	free(ws->h1);
	free(ws->dh1);
	free(ws->h2);
	free(ws->dh2);
	free(ws->z3);
	free(ws->dz3);
	free(ws);
}

int lenet_ws_max_batch(const lenet_ws *ws) { return ws ? ws->max_batch : 0; }

/* ---- building blocks ---- */

/*
 * The loops below have constant trip counts that are multiples of 4 (28, 100, 784) and restrict
 * pointers, so GCC's -O2 (very-cheap) vectorizer handles them without runtime checks.
 */

/* Copy n images into the interior of their zero-bordered 32x32 frames. */
static void pad_images(const float *restrict x, int n, float *restrict xpad)
{
	for (int b = 0; b < n; b++)
		for (int y = 0; y < IMG; y++)
			memcpy(xpad + (size_t)b * PADDED * PADDED + (y + PAD1) * PADDED + PAD1,
			       x + (size_t)b * LENET_IMAGE + y * IMG, IMG * sizeof(float));
}

/* col[k][b*784 + oy*28 + ox] = x[b][oy+ky-2][ox+kx-2] (0 outside), k = ky*5 + kx, read from the
 * padded frames. */
static void im2col1(const float *restrict xpad, int n, float *restrict col)
{
	size_t ld = (size_t)n * IMG * IMG;

	for (int ky = 0; ky < K; ky++)
		for (int kx = 0; kx < K; kx++) {
			float *row = col + (size_t)(ky * K + kx) * ld;

			for (int b = 0; b < n; b++)
				for (int oy = 0; oy < IMG; oy++) {
					float *restrict dst = row + ((size_t)b * IMG + oy) * IMG;
					const float *restrict src = xpad + (size_t)b * PADDED * PADDED +
								    (oy + ky) * PADDED + kx;

					for (int ox = 0; ox < IMG; ox++)
						dst[ox] = src[ox];
				}
		}
}

/* col[c*25 + ky*5 + kx][b*100 + oy*10 + ox] = p1[c][b][oy+ky][ox+kx]. */
static void im2col2(const float *p1, int n, float *col)
{
	size_t ld = (size_t)n * O2 * O2, cs = (size_t)n * P1 * P1;

	for (int c = 0; c < C1; c++)
		for (int ky = 0; ky < K; ky++)
			for (int kx = 0; kx < K; kx++) {
				float *row = col + (size_t)(c * K * K + ky * K + kx) * ld;

				for (int b = 0; b < n; b++)
					for (int oy = 0; oy < O2; oy++)
						memcpy(row + (size_t)b * O2 * O2 + oy * O2,
						       p1 + c * cs + (size_t)b * P1 * P1 +
							       (oy + ky) * P1 + kx,
						       O2 * sizeof *row);
			}
}

/* The adjoint of im2col2: dp1 = sum of dcol entries over the positions each one was copied to. */
static void col2im2(const float *restrict dcol, int n, float *restrict dp1)
{
	size_t ld = (size_t)n * O2 * O2, cs = (size_t)n * P1 * P1;

	memset(dp1, 0, (size_t)C1 * cs * sizeof *dp1);
	for (int c = 0; c < C1; c++)
		for (int ky = 0; ky < K; ky++)
			for (int kx = 0; kx < K; kx++) {
				const float *row = dcol + (size_t)(c * K * K + ky * K + kx) * ld;

				for (int b = 0; b < n; b++)
					for (int oy = 0; oy < O2; oy++) {
						const float *restrict src =
							row + (size_t)b * O2 * O2 + oy * O2;
						float *restrict dst = dp1 + c * cs +
								      (size_t)b * P1 * P1 +
								      (oy + ky) * P1 + kx;

						/* 8 + 2: the 8 vectorize at -O2 */
						for (int ox = 0; ox < 8; ox++)
							dst[ox] += src[ox];
						dst[8] += src[8];
						dst[9] += src[9];
					}
			}
}

/* a[c][b][*] = max(a[c][b][*] + bias[c], 0); per (elements per image) is a constant after
 * inlining. */
static inline void bias_relu_rows(float *restrict a, int channels, int n, int per,
				  const float *restrict bias)
{
	for (int c = 0; c < channels; c++)
		for (int b = 0; b < n; b++) {
			float *restrict r = a + ((size_t)c * n + b) * per;
			float bc = bias[c];

			for (int i = 0; i < per; i++) {
				float v = r[i] + bc;

				r[i] = v > 0 ? v : 0;
			}
		}
}

/* Row-major [n][m] dense output: add bias per column, then ReLU if asked. */
static void bias_cols(float *a, int n, int m, const float *bias, int relu)
{
	for (int b = 0; b < n; b++)
		for (int j = 0; j < m; j++) {
			float v = a[b * m + j] + bias[j];

			a[b * m + j] = relu && v < 0 ? 0 : v;
		}
}

/* 2x2 max-pool with stride 2 of [C][n][h][h] into [C][n][h/2][h/2]; idx gets the position of
 * the (first) maximum of each window within `a`. */
static void maxpool(const float *a, int channels, int n, int h, float *p, int32_t *idx)
{
	int ho = h / 2;
	size_t j = 0;

	for (int c = 0; c < channels; c++)
		for (int b = 0; b < n; b++) {
			size_t base = ((size_t)c * n + b) * h * h;

			for (int oy = 0; oy < ho; oy++)
				for (int ox = 0; ox < ho; ox++, j++) {
					size_t q = base + (size_t)(2 * oy) * h + 2 * ox;
					size_t cand[4] = { q, q + 1, q + h, q + h + 1 };
					size_t best = q;

					for (int t = 1; t < 4; t++)
						if (a[cand[t]] > a[best])
							best = cand[t];
					p[j] = a[best];
					idx[j] = (int32_t)best;
				}
		}
}

/* Gradient through max-pool and the ReLU before it: da is zero but at each window's argmax,
 * where it is the pooled gradient if the activation there was positive. */
static void unpool_relu(const float *dp, const int32_t *idx, size_t np, const float *a,
			float *da, size_t na)
{
	memset(da, 0, na * sizeof *da);
	for (size_t j = 0; j < np; j++)
		if (a[idx[j]] > 0)
			da[idx[j]] = dp[j];
}

static void relu_mask(float *d, const float *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!(a[i] > 0))
			d[i] = 0;
}

/* Bias gradients as GEMVs against the ones vector (vectorized and in a fixed order):
 * g[r] += sum_i a[r][i] for a [rows][len], and g[j] += sum_b a[b][j] for a [n][m]. */
static void add_row_sums(const lenet_ws *ws, float *g, const float *a, int rows, int len)
{
	cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, len, 1.0f, a, len, ws->ones, 1, 1.0f, g, 1);
}

static void add_col_sums(const lenet_ws *ws, float *g, const float *a, int n, int m)
{
	cblas_sgemv(CblasRowMajor, CblasTrans, n, m, 1.0f, a, m, ws->ones, 1, 1.0f, g, 1);
}

static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
		 int ldb, float beta, float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
		    m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* ---- forward and backward on one chunk (n <= max_batch) ---- */

static void forward_chunk(lenet_ws *ws, const float *w, const float *x, int n)
{
	int n1 = n * IMG * IMG, n2 = n * O2 * O2;

	pad_images(x, n, ws->xpad);
	im2col1(ws->xpad, n, ws->col1);
	gemm(0, 0, C1, n1, K1, w + ws->off[T_C1W], K1, ws->col1, n1, 0, ws->a1, n1);
	bias_relu_rows(ws->a1, C1, n, IMG * IMG, w + ws->off[T_C1B]);
	maxpool(ws->a1, C1, n, IMG, ws->p1, ws->idx1);

	im2col2(ws->p1, n, ws->col2);
	gemm(0, 0, C2, n2, K2, w + ws->off[T_C2W], K2, ws->col2, n2, 0, ws->a2, n2);
	bias_relu_rows(ws->a2, C2, n, O2 * O2, w + ws->off[T_C2B]);
	maxpool(ws->a2, C2, n, O2, ws->p2, ws->idx2);

	/* Flatten channel-major per image: f[b][c*25 + i] = p2[c][b][i]. */
	for (int c = 0; c < C2; c++)
		for (int b = 0; b < n; b++)
			memcpy(ws->f + (size_t)b * FLAT + c * P2 * P2,
			       ws->p2 + ((size_t)c * n + b) * P2 * P2, P2 * P2 * sizeof(float));

	gemm(0, 1, n, H1, FLAT, ws->f, FLAT, w + ws->off[T_F1W], FLAT, 0, ws->h1, H1);
	bias_cols(ws->h1, n, H1, w + ws->off[T_F1B], 1);
	gemm(0, 1, n, H2, H1, ws->h1, H1, w + ws->off[T_F2W], H1, 0, ws->h2, H2);
	bias_cols(ws->h2, n, H2, w + ws->off[T_F2B], 1);
	gemm(0, 1, n, LENET_CLASSES, H2, ws->h2, H2, w + ws->off[T_F3W], H2, 0, ws->z3,
	     LENET_CLASSES);
	bias_cols(ws->z3, n, LENET_CLASSES, w + ws->off[T_F3B], 0);
}

/* Cross-entropy of one row of logits, in double; optionally the softmax into p. */
static double xent(const float *z, int label, double *p)
{
	double m = z[0], s = 0;

	for (int j = 1; j < LENET_CLASSES; j++)
		if (z[j] > m)
			m = z[j];
	for (int j = 0; j < LENET_CLASSES; j++) {
		double e = exp((double)z[j] - m);

		if (p)
			p[j] = e;
		s += e;
	}
	if (p)
		for (int j = 0; j < LENET_CLASSES; j++)
			p[j] /= s;
	return log(s) + m - (double)z[label];
}

/* After forward_chunk: loss sum of the chunk, and grad += (d mean-loss / d w) where the mean is
 * over `total` samples (scale = 1/total), so chunks accumulate into one mean gradient. */
static double backward_chunk(lenet_ws *ws, const float *w, const uint8_t *y, int n, double scale,
			     float *g)
{
	int n1 = n * IMG * IMG, n2 = n * O2 * O2;
	double loss = 0;

	for (int b = 0; b < n; b++) {
		double p[LENET_CLASSES];

		loss += xent(ws->z3 + b * LENET_CLASSES, y[b], p);
		for (int j = 0; j < LENET_CLASSES; j++)
			ws->dz3[b * LENET_CLASSES + j] =
				(float)((p[j] - (j == y[b] ? 1.0 : 0.0)) * scale);
	}

	/* fc3 */
	gemm(1, 0, LENET_CLASSES, H2, n, ws->dz3, LENET_CLASSES, ws->h2, H2, 1, g + ws->off[T_F3W],
	     H2);
	add_col_sums(ws, g + ws->off[T_F3B], ws->dz3, n, LENET_CLASSES);
	gemm(0, 0, n, H2, LENET_CLASSES, ws->dz3, LENET_CLASSES, w + ws->off[T_F3W], H2, 0, ws->dh2,
	     H2);
	relu_mask(ws->dh2, ws->h2, (size_t)n * H2);
	/* fc2 */
	gemm(1, 0, H2, H1, n, ws->dh2, H2, ws->h1, H1, 1, g + ws->off[T_F2W], H1);
	add_col_sums(ws, g + ws->off[T_F2B], ws->dh2, n, H2);
	gemm(0, 0, n, H1, H2, ws->dh2, H2, w + ws->off[T_F2W], H1, 0, ws->dh1, H1);
	relu_mask(ws->dh1, ws->h1, (size_t)n * H1);
	/* fc1 */
	gemm(1, 0, H1, FLAT, n, ws->dh1, H1, ws->f, FLAT, 1, g + ws->off[T_F1W], FLAT);
	add_col_sums(ws, g + ws->off[T_F1B], ws->dh1, n, H1);
	gemm(0, 0, n, FLAT, H1, ws->dh1, H1, w + ws->off[T_F1W], FLAT, 0, ws->df, FLAT);

	/* Unflatten into pool-2 order ([c][b][i]); dp1 is free until col2im, so borrow it. */
	for (int c = 0; c < C2; c++)
		for (int b = 0; b < n; b++)
			memcpy(ws->dp1 + ((size_t)c * n + b) * P2 * P2,
			       ws->df + (size_t)b * FLAT + c * P2 * P2, P2 * P2 * sizeof(float));
	unpool_relu(ws->dp1, ws->idx2, (size_t)n * FLAT, ws->a2, ws->da2, (size_t)C2 * n2);

	/* conv2 */
	gemm(0, 1, C2, K2, n2, ws->da2, n2, ws->col2, n2, 1, g + ws->off[T_C2W], K2);
	add_row_sums(ws, g + ws->off[T_C2B], ws->da2, C2, n2);
	gemm(1, 0, K2, n2, C2, w + ws->off[T_C2W], K2, ws->da2, n2, 0, ws->dcol2, n2);
	col2im2(ws->dcol2, n, ws->dp1);
	unpool_relu(ws->dp1, ws->idx1, (size_t)n * C1 * P1 * P1, ws->a1, ws->da1, (size_t)C1 * n1);

	/* conv1: no gradient for the input */
	gemm(0, 1, C1, K1, n1, ws->da1, n1, ws->col1, n1, 1, g + ws->off[T_C1W], K1);
	add_row_sums(ws, g + ws->off[T_C1B], ws->da1, C1, n1);
	return loss;
}

/* ---- public API ---- */

static int labels_ok(const uint8_t *labels, int n)
{
	for (int i = 0; i < n; i++)
		if (labels[i] >= LENET_CLASSES)
			return 0;
	return 1;
}

int lenet_forward(lenet_ws *ws, const float *params, const float *images, int n, float *logits)
{
	if (!ws || !params || !images || !logits || n < 1)
		return LENET_EINVAL;
	for (int s = 0; s < n; s += ws->max_batch) {
		int m = n - s < ws->max_batch ? n - s : ws->max_batch;

		forward_chunk(ws, params, images + (size_t)s * LENET_IMAGE, m);
		memcpy(logits + (size_t)s * LENET_CLASSES, ws->z3,
		       (size_t)m * LENET_CLASSES * sizeof(float));
	}
	return 0;
}

int lenet_loss_grad(lenet_ws *ws, const float *params, const float *images,
		    const uint8_t *labels, int n, float *grad, float *loss)
{
	double sum = 0;

	if (!ws || !params || !images || !labels || !grad || n < 1 || !labels_ok(labels, n))
		return LENET_EINVAL;
	memset(grad, 0, LENET_PARAMS * sizeof *grad);
	for (int s = 0; s < n; s += ws->max_batch) {
		int m = n - s < ws->max_batch ? n - s : ws->max_batch;

		forward_chunk(ws, params, images + (size_t)s * LENET_IMAGE, m);
		sum += backward_chunk(ws, params, labels + s, m, 1.0 / n, grad);
	}
	if (loss)
		*loss = (float)(sum / n);
	return 0;
}

int lenet_evaluate(lenet_ws *ws, const float *params, const float *images, const uint8_t *labels,
		   int n, float *accuracy, float *loss)
{
	double sum = 0;
	long correct = 0;

	if (!ws || !params || !images || !labels || n < 1 || !labels_ok(labels, n))
		return LENET_EINVAL;
	for (int s = 0; s < n; s += ws->max_batch) {
		int m = n - s < ws->max_batch ? n - s : ws->max_batch;

		forward_chunk(ws, params, images + (size_t)s * LENET_IMAGE, m);
		for (int b = 0; b < m; b++) {
			const float *z = ws->z3 + b * LENET_CLASSES;
			int best = 0;

			for (int j = 1; j < LENET_CLASSES; j++)
				if (z[j] > z[best])
					best = j;
			correct += best == labels[s + b];
			sum += xent(z, labels[s + b], NULL);
		}
	}
	if (accuracy)
		*accuracy = (float)((double)correct / n);
	if (loss)
		*loss = (float)(sum / n);
	return 0;
}


/* SGD over the samples named by order[0..n) (reshuffled in place each epoch). */
static int sgd(lenet_ws *ws, float *params, const float *images, const uint8_t *labels,
	       uint32_t *order, int n, int epochs, int batch, float lr, rt_rng *rng,
	       float *avg_loss)
{
	double epoch_loss = 0;

	for (int e = 0; e < epochs; e++) {
		epoch_loss = 0;
		for (int i = n - 1; i > 0; i--) {
			uint32_t j = (uint32_t)rt_rng_below(rng, (uint32_t)i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int s = 0; s < n; s += batch) {
			int m = n - s < batch ? n - s : batch;

			for (int b = 0; b < m; b++) {
				memcpy(ws->x + (size_t)b * LENET_IMAGE,
				       images + (size_t)order[s + b] * LENET_IMAGE,
				       LENET_IMAGE * sizeof(float));
				ws->y[b] = labels[order[s + b]];
			}
			memset(ws->grad, 0, LENET_PARAMS * sizeof(float));
			forward_chunk(ws, params, ws->x, m);
			epoch_loss += backward_chunk(ws, params, ws->y, m, 1.0 / m, ws->grad);
			cblas_saxpy(LENET_PARAMS, -lr, ws->grad, 1, params, 1);
		}
	}
	if (avg_loss)
		*avg_loss = (float)(epoch_loss / n);
	return 0;
}

static int sgd_args_ok(lenet_ws *ws, float *params, const float *images, const uint8_t *labels,
		       int n, int epochs, int batch, float lr, rt_rng *rng)
{
	return ws && params && images && labels && rng && n >= 1 && epochs >= 0 && batch >= 1 &&
	       batch <= ws->max_batch && isfinite(lr);
}

int lenet_sgd_epochs(lenet_ws *ws, float *params, const float *images, const uint8_t *labels,
		     int n_samples, int epochs, int batch, float lr, rt_rng *shuffle_rng,
		     float *avg_loss)
{
	uint32_t *order;
	int rc;

	if (!sgd_args_ok(ws, params, images, labels, n_samples, epochs, batch, lr, shuffle_rng) ||
	    !labels_ok(labels, n_samples))
		return LENET_EINVAL;
	order = malloc((size_t)n_samples * sizeof *order);
	if (!order)
		return LENET_ENOMEM;
	for (int i = 0; i < n_samples; i++)
		order[i] = (uint32_t)i;
	rc = sgd(ws, params, images, labels, order, n_samples, epochs, batch, lr, shuffle_rng,
		 avg_loss);
	free(order);
	return rc;
}

int lenet_sgd_epochs_idx(lenet_ws *ws, float *params, const float *images, const uint8_t *labels,
			 const uint32_t *indices, int n_idx, int epochs, int batch, float lr,
			 rt_rng *shuffle_rng, float *avg_loss)
{
	uint32_t *order;
	int rc;

	if (!indices ||
	    !sgd_args_ok(ws, params, images, labels, n_idx, epochs, batch, lr, shuffle_rng))
		return LENET_EINVAL;
	for (int i = 0; i < n_idx; i++)
		if (labels[indices[i]] >= LENET_CLASSES)
			return LENET_EINVAL;
	order = malloc((size_t)n_idx * sizeof *order);
	if (!order)
		return LENET_ENOMEM;
	memcpy(order, indices, (size_t)n_idx * sizeof *order);
	rc = sgd(ws, params, images, labels, order, n_idx, epochs, batch, lr, shuffle_rng,
		 avg_loss);
	free(order);
	return rc;
}

/* 2*M*N*K summed over the GEMMs of one sample. */
static double flops_forward(void)
{
	return 2.0 * ((double)C1 * K1 * IMG * IMG + (double)C2 * K2 * O2 * O2 +
		      (double)FLAT * H1 + (double)H1 * H2 + (double)H2 * LENET_CLASSES);
}

static double flops_backward(void)
{
	/* conv1: weight gradient only; conv2 and the dense layers: weight and input gradients. */
	return 2.0 * ((double)C1 * K1 * IMG * IMG + 2.0 * C2 * K2 * O2 * O2 +
		      2.0 * ((double)FLAT * H1 + (double)H1 * H2 + (double)H2 * LENET_CLASSES));
}

double lenet_gflop_forward(void) { return flops_forward() * 1e-9; }
double lenet_gflop_train(void) { return (flops_forward() + flops_backward()) * 1e-9; }
