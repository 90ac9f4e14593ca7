/*
 * lenet.c — LeNet-5 forward/backward for local training on simulated devices.
 *
 * The convolutions are direct (no im2col) and each is fused with its bias, ReLU and 2x2
 * max-pool: their GEMMs are badly shaped (conv1 is 6 x 25 x n*784) and the im2col matrices, their
 * packing inside OpenBLAS and the passes over whole activations cost more than the arithmetic.
 * Pooled maps are channel-major across the batch ([C][n][H][W]); the dense layers are row-major
 * [n][features] on OpenBLAS sgemm. Max-pooling records the argmax of every window, and since the
 * gradient of a convolution's output is zero but at the argmax of windows whose ReLU was open,
 * the convolutions' backward passes visit only those windows (the result is the same as the
 * dense computation; lenet_gflop_train still counts the dense model's arithmetic).
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
#define K1 (1 * K * K)     /* conv1 taps */
#define K2 (C1 * K * K)    /* conv2 taps */
#define FLAT (C2 * P2 * P2) /* 400 */
#define H1 120
#define H2 84
#define SLACK 32          /* floats after xpad, p1, dp1 that whole-row vector loads may touch */

struct lenet_ws {
	int max_batch;
	size_t off[T_COUNT]; /* tensor offsets in the flat parameter buffer */
	float *grad;         /* LENET_PARAMS: SGD's gradient */
	float *x;            /* [B][784] gathered mini-batch */
	float *xpad;         /* [B][32*32] input with its zero border (the border stays zero) */
	float *ones;         /* [B] of 1.0: dense bias gradients as GEMV column sums */
	uint8_t *y;          /* [B] */
	float *p1, *dp1;     /* [6][B*196] */
	int32_t *idx1;       /* [6][B*196] argmax position in conv1's [6][B*784] output */
	float *w2t;          /* [150][16] conv2's weights, output channel fastest */
	float *w2pad;        /* [16][6][5][8] conv2's kernel rows padded to 8 with zeros */
	int32_t *idx2;       /* [B][400] argmax offset (0, 1, 10 or 11) of each pool-2 window */
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
	/* + SLACK: the conv1 kernels read whole 32-float rows, up to 4 floats past a row's end */
	ws->xpad = calloc(b * PADDED * PADDED + SLACK, sizeof(float));
	ws->ones = malloc(b * sizeof(float));
	/* + SLACK: conv2's backward pass reads and adds 8-float rows, up to 4 past the end */
	ws->p1 = calloc(b * C1 * P1 * P1 + SLACK, sizeof(float));
	ws->dp1 = calloc(b * C1 * P1 * P1 + SLACK, sizeof(float));
	ws->idx1 = malloc(b * C1 * P1 * P1 * sizeof(int32_t));
	ws->w2t = malloc(K2 * C2 * sizeof(float));
	ws->w2pad = calloc(C2 * C1 * K * 8, sizeof(float));
	ws->idx2 = malloc(b * FLAT * sizeof(int32_t));
	ws->f = malloc(b * FLAT * sizeof(float));
	ws->df = malloc(b * FLAT * sizeof(float));
	ws->h1 = malloc(b * H1 * sizeof(float));
	ws->dh1 = malloc(b * H1 * sizeof(float));
	ws->h2 = malloc(b * H2 * sizeof(float));
	ws->dh2 = malloc(b * H2 * sizeof(float));
	ws->z3 = malloc(b * LENET_CLASSES * sizeof(float));
	ws->dz3 = malloc(b * LENET_CLASSES * sizeof(float));
	if (!ws->grad || !ws->x || !ws->y || !ws->xpad || !ws->ones || !ws->p1 ||
	    !ws->dp1 || !ws->idx1 || !ws->w2t || !ws->w2pad ||
	    !ws->idx2 || !ws->f || !ws->df || !ws->h1 || !ws->dh1 || !ws->h2 || !ws->dh2 ||
	    !ws->z3 || !ws->dz3) {
		lenet_ws_free(ws);
		return NULL;
	}
	for (size_t i = 0; i < b; i++)
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
	free(ws->p1);
	free(ws->dp1);
	free(ws->idx1);
	free(ws->w2t);
	free(ws->w2pad);
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

/*
 * The kernels below use GCC vector types: 16 floats (one AVX-512 register, two AVX2 ones) and 8.
 * GCC builds clones for AVX2 and AVX-512 (with FMA contraction) next to the baseline one and
 * picks one at load time; each clone always sums in the same order, so results are reproducible
 * on a given machine, as OpenBLAS's are.
 */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define LENET_CLONES \
	__attribute__((target_clones("default", "avx2", "avx512f"), optimize("fp-contract=fast")))
#endif
#endif
#ifndef LENET_CLONES
#define LENET_CLONES
#endif

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v16i __attribute__((vector_size(64)));

/* Macros rather than functions: a v16 argument or return value would change the ABI between the
 * clones (GCC's -Wpsabi). */
#define LOAD16(p) __extension__({ v16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define LOAD8(p) __extension__({ v8 v_; memcpy(&v_, (p), sizeof v_); v_; })

/*
 * conv1, its bias and ReLU, and the 2x2 max-pool after it, two output rows at a time, each row
 * as 32 lanes (lanes 28..31 are discarded) read straight from the padded 32x32 frames:
 * a = max(bias[c] + sum_k w[c][k] * xpad[b][y+ky][x+kx], 0) is pooled straight from registers
 * into p1 ([C1][n][14][14]) and idx1 (the window's first maximum as a position in the
 * [C1][n][28][28] activation, which is never stored: p1 > 0 tells the backward pass whether the
 * ReLU was open there).
 */
LENET_CLONES
static void conv1_forward_pool(const float *restrict xpad, int n, const float *restrict w,
			       const float *restrict bias, float *restrict p1,
			       int32_t *restrict idx1)
{
	for (int b = 0; b < n; b++) {
		const float *xi = xpad + (size_t)b * PADDED * PADDED;

		for (int oy = 0; oy < P1; oy++) {
			v16 acc[2][C1][2];

			#pragma GCC unroll 32
			for (int r = 0; r < 2; r++)
				#pragma GCC unroll 32
				for (int c = 0; c < C1; c++)
					acc[r][c][0] = acc[r][c][1] = (v16){ 0 };
			#pragma GCC unroll 32
			for (int ky = 0; ky < K + 1; ky++)
				#pragma GCC unroll 32
				for (int kx = 0; kx < K; kx++) {
					const float *row = xi + (2 * oy + ky) * PADDED + kx;
					v16 x0 = LOAD16(row), x1 = LOAD16(row + 16);

					/* input row 2*oy + ky feeds output row 2*oy with kernel row ky
					 * and output row 2*oy + 1 with kernel row ky - 1 */
					#pragma GCC unroll 32
					for (int c = 0; c < C1; c++) {
						if (ky < K) {
							float wc = w[c * K1 + ky * K + kx];

							acc[0][c][0] += x0 * wc;
							acc[0][c][1] += x1 * wc;
						}
						if (ky > 0) {
							float wc = w[c * K1 + (ky - 1) * K + kx];

							acc[1][c][0] += x0 * wc;
							acc[1][c][1] += x1 * wc;
						}
					}
				}
			for (int c = 0; c < C1; c++) {
				float out[2][32];
				size_t j = (((size_t)c * n + b) * P1 + oy) * P1;
				int32_t base = (int32_t)((((size_t)c * n + b) * IMG + 2 * oy) * IMG);

				for (int r = 0; r < 2; r++) {
					memcpy(out[r], &acc[r][c][0], sizeof acc[r][c][0]);
					memcpy(out[r] + 16, &acc[r][c][1], sizeof acc[r][c][1]);
					for (int x = 0; x < IMG; x++) {
						float v = out[r][x] + bias[c];

						out[r][x] = v > 0 ? v : 0;
					}
				}
				for (int ox = 0; ox < P1; ox++) {
					/* first maximum, branch-free (the data decide at random) */
					float m = out[0][2 * ox], e;
					int32_t at = base + 2 * ox;

					e = out[0][2 * ox + 1];
					at = e > m ? base + 2 * ox + 1 : at;
					m = e > m ? e : m;
					e = out[1][2 * ox];
					at = e > m ? base + IMG + 2 * ox : at;
					m = e > m ? e : m;
					e = out[1][2 * ox + 1];
					at = e > m ? base + IMG + 2 * ox + 1 : at;
					m = e > m ? e : m;
					p1[j + ox] = m;
					idx1[j + ox] = at;
				}
			}
		}
	}
}

/*
 * conv1's weight and bias gradients straight from the pooled gradient: the gradient of conv1's
 * output is zero but at each pool window's argmax where the ReLU was open (p1 > 0), so each such
 * window adds d * its 5x5 input patch to gw[c] (one 8-lane row per kernel row; lanes 5..7 are
 * never summed) and d to gb[c]. The dense [6][n][28][28] gradient is never built.
 */
LENET_CLONES
static void conv1_weight_grad(const float *restrict xpad, const float *restrict dp1,
			      const float *restrict p1, const int32_t *restrict idx1, int n,
			      float *restrict gw, float *restrict gb)
{
	for (int c = 0; c < C1; c++) {
		v8 acc[K];
		float bsum = 0;

		#pragma GCC unroll 8
		for (int ky = 0; ky < K; ky++)
			acc[ky] = (v8){ 0 };
		for (int b = 0; b < n; b++) {
			const float *xi = xpad + (size_t)b * PADDED * PADDED;
			size_t cb = (size_t)c * n + b;

			for (int oy = 0; oy < P1; oy++)
				for (int ox = 0; ox < P1; ox++) {
					size_t j = (cb * P1 + oy) * P1 + ox;
					int32_t off;
					int dy, dx;
					float d;
					const float *r;

					if (!(p1[j] > 0))
						continue;
					d = dp1[j];
					off = idx1[j] - (int32_t)((cb * IMG + 2 * oy) * IMG + 2 * ox);
					dy = off >= IMG;
					dx = off - dy * IMG;
					r = xi + (2 * oy + dy) * PADDED + 2 * ox + dx;
					#pragma GCC unroll 8
					for (int ky = 0; ky < K; ky++)
						acc[ky] += LOAD8(r + ky * PADDED) * d;
					bsum += d;
				}
		}
		for (int ky = 0; ky < K; ky++)
			for (int kx = 0; kx < K; kx++)
				gw[c * K1 + ky * K + kx] += acc[ky][kx];
		gb[c] += bsum;
	}
}

/*
 * conv2, its bias and ReLU, and the 2x2 max-pool after it, directly (no im2col): the 16 output
 * channels are the 16 lanes of a vector, so each of the 150 taps is one weight vector (w2t)
 * times a broadcast input value, for the 2 x 10 outputs of a pair of rows at once. The pooled
 * result goes straight to the flattened f ([n][400], channel-major per image as MindSpore's
 * Flatten) and idx2 gets each window's first maximum as an offset 0, 1, 10 or 11 from its
 * top-left corner.
 */
LENET_CLONES
static void conv2_forward_pool(const float *restrict p1, int n, const float *restrict w2t,
			       const float *restrict bias, float *restrict f,
			       int32_t *restrict idx2)
{
	v16 bv = LOAD16(bias);

	for (int b = 0; b < n; b++)
		for (int oy = 0; oy < P2; oy++) {
			v16 acc[2][O2];

			#pragma GCC unroll 32
			for (int x = 0; x < O2; x++)
				acc[0][x] = acc[1][x] = (v16){ 0 };
			for (int c = 0; c < C1; c++) {
				const float *in = p1 + (((size_t)c * n + b) * P1 + 2 * oy) * P1;
				const float *wc = w2t + (size_t)c * K * K * C2;

				#pragma GCC unroll 32
				for (int ky = 0; ky < K + 1; ky++)
					#pragma GCC unroll 32
					for (int kx = 0; kx < K; kx++) {
						const float *row = in + ky * P1 + kx;

						/* input row 2*oy + ky feeds output row 2*oy with
						 * kernel row ky and row 2*oy + 1 with ky - 1 */
						if (ky < K) {
							v16 wv = LOAD16(wc + (ky * K + kx) * C2);

							#pragma GCC unroll 32
							for (int x = 0; x < O2; x++)
								acc[0][x] += wv * row[x];
						}
						if (ky > 0) {
							v16 wv = LOAD16(wc + ((ky - 1) * K + kx) * C2);

							#pragma GCC unroll 32
							for (int x = 0; x < O2; x++)
								acc[1][x] += wv * row[x];
						}
					}
			}
			for (int ox = 0; ox < P2; ox++) {
				static const int32_t offs[4] = { 0, 1, O2, O2 + 1 };
				v16 m = { 0 };
				v16i at = { 0 };

				/* ReLU, then the first maximum of the window, lane by lane */
				for (int q = 0; q < 4; q++) {
					v16 t = acc[q >> 1][2 * ox + (q & 1)] + bv;
					v16i gt;

					t = (v16)((v16i)t & (t > 0));
					gt = t > m;
					m = (v16)(((v16i)t & gt) | ((v16i)m & ~gt));
					at = (gt & offs[q]) | (at & ~gt);
				}
				for (int co = 0; co < C2; co++) {
					f[(size_t)b * FLAT + co * P2 * P2 + oy * P2 + ox] = m[co];
					idx2[(size_t)b * FLAT + co * P2 * P2 + oy * P2 + ox] = at[co];
				}
			}
		}
}

/*
 * conv2's backward pass from the gradient of the flattened pool output df: the gradient of
 * conv2's output is zero but at each window's argmax where the ReLU was open (f > 0), so each
 * such (channel co, window) adds d * its 6x5x5 input patch to gw[co] (8-lane rows, lanes 5..7
 * never summed), d to gb[co], and d * w[co] to the patch's place in dp1 (overwritten; w2pad's
 * zero lanes 5..7 add nothing past the patch).
 */
LENET_CLONES
static void conv2_backward(const float *restrict p1, const float *restrict f,
			   const float *restrict df, const int32_t *restrict idx2, int n,
			   const float *restrict w2pad, float *restrict gw, float *restrict gb,
			   float *restrict dp1)
{
	size_t cs = (size_t)n * P1 * P1;

	memset(dp1, 0, C1 * cs * sizeof *dp1);
	for (int co = 0; co < C2; co++) {
		v8 acc[C1][K], wr[C1][K];
		float bsum = 0;

		#pragma GCC unroll 32
		for (int c = 0; c < C1; c++)
			#pragma GCC unroll 8
			for (int ky = 0; ky < K; ky++) {
				acc[c][ky] = (v8){ 0 };
				wr[c][ky] = LOAD8(w2pad + ((co * C1 + c) * K + ky) * 8);
			}
		for (int b = 0; b < n; b++)
			for (int i = 0; i < P2 * P2; i++) {
				size_t k = (size_t)b * FLAT + co * P2 * P2 + i;
				int32_t off = idx2[k];
				int dy = off >= O2, y, x;
				float d;

				if (!(f[k] > 0))
					continue;
				d = df[k];
				y = 2 * (i / P2) + dy;
				x = 2 * (i % P2) + off - dy * O2;
				#pragma GCC unroll 32
				for (int c = 0; c < C1; c++) {
					size_t at = c * cs + (size_t)b * P1 * P1 + y * P1 + x;

					#pragma GCC unroll 8
					for (int ky = 0; ky < K; ky++) {
						v8 t = LOAD8(dp1 + at + ky * P1);

						acc[c][ky] += LOAD8(p1 + at + ky * P1) * d;
						t += wr[c][ky] * d;
						memcpy(dp1 + at + ky * P1, &t, sizeof t);
					}
				}
				bsum += d;
			}
		for (int c = 0; c < C1; c++)
			for (int ky = 0; ky < K; ky++)
				for (int kx = 0; kx < K; kx++)
					gw[co * K2 + c * K * K + ky * K + kx] += acc[c][ky][kx];
		gb[co] += bsum;
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

static void relu_mask(float *d, const float *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!(a[i] > 0))
			d[i] = 0;
}

/* Bias gradients as GEMVs against the ones vector (vectorized and in a fixed order):
 * g[j] += sum_b a[b][j] for a [n][m]. */
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
	const float *w2 = w + ws->off[T_C2W];

	pad_images(x, n, ws->xpad);
	conv1_forward_pool(ws->xpad, n, w + ws->off[T_C1W], w + ws->off[T_C1B], ws->p1, ws->idx1);

	for (int t = 0; t < K2; t++)
		for (int co = 0; co < C2; co++)
			ws->w2t[t * C2 + co] = w2[co * K2 + t];
	conv2_forward_pool(ws->p1, n, ws->w2t, w + ws->off[T_C2B], ws->f, ws->idx2);

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

	/* conv2 (w2pad's lanes 5..7 stay zero from calloc) */
	for (int co = 0; co < C2; co++)
		for (int c = 0; c < C1; c++)
			for (int ky = 0; ky < K; ky++)
				memcpy(ws->w2pad + ((co * C1 + c) * K + ky) * 8,
				       w + ws->off[T_C2W] + co * K2 + c * K * K + ky * K,
				       K * sizeof(float));
	conv2_backward(ws->p1, ws->f, ws->df, ws->idx2, n, ws->w2pad, g + ws->off[T_C2W],
		       g + ws->off[T_C2B], ws->dp1);

	/* conv1: no gradient for the input */
	conv1_weight_grad(ws->xpad, ws->dp1, ws->p1, ws->idx1, n, g + ws->off[T_C1W],
			  g + ws->off[T_C1B]);
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
