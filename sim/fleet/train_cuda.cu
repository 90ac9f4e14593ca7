/*
 * train_cuda.cu — batched LeNet-5 SGD for many devices on one GPU (see train_cuda.h).
 *
 * The network, layouts and arithmetic mirror lenet.c: activations channel-major across the
 * mini-batch ([C][b][H][W]), convolutions as one GEMM over an im2col matrix, dense layers
 * row-major, softmax cross-entropy in double. Every device is a "lane": lane L's buffers sit at
 * L * stride in arrays shared by all lanes, so each layer is one strided-batched cuBLAS GEMM or
 * one kernel launch (grid.y = lanes) for all devices.
 *
 * Devices train different numbers of steps (partition sizes differ) and the last mini-batch of an
 * epoch may be short. Lanes are sorted by step count, so the devices still training at step t are
 * lanes [0, active); a short mini-batch is padded with zero images whose loss gradient is zero,
 * so they add exact zeros to every gradient and the step equals the CPU's on the real samples.
 * The sample order of every (device, epoch) is drawn on the host from the same stream, with the
 * same shuffle, as lenet.c's SGD, and uploaded once per call.
 */
extern "C" {
#include "train_cuda.h"
#include "lenet.h"
#include "../../node/model/model.h"
}

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

enum { T_C1W, T_C1B, T_C2W, T_C2B, T_F1W, T_F1B, T_F2W, T_F2B, T_F3W, T_F3B, T_COUNT };
const char *const tensor_names[T_COUNT] = {
	"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
	"fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
};

constexpr int IMG = 28, C1 = 6, P1 = 14, C2 = 16, O2 = 10, P2 = 5, K = 5, PAD1 = 2;
constexpr int K1 = K * K, K2 = C1 * K * K, FLAT = C2 * P2 * P2, H1 = 120, H2 = 84, NC = 10;
constexpr size_t PSTRIDE = (LENET_PARAMS + 63) / 64 * 64; /* lane stride of params and grads */
constexpr int TPB = 256;

} // namespace

struct train_cuda_offsets {
	int o[T_COUNT];
};

/* Per-lane meta of one training group. */
struct lane_meta {
	int n;          /* samples */
	int spe;        /* steps per epoch */
	long long ord;  /* offset of its order array (epochs * n indices) */
};

struct train_cuda {
	train_real *tr;
	cublasHandle_t blas;
	cudaStream_t stream;
	train_cuda_offsets off;
	float *images; /* device: the training set */
	uint8_t *labels;
	/* lane buffers, sized for cap_lanes x cap_batch */
	int cap_lanes, cap_batch;
	float *params, *grad, *col1, *a1, *da1, *p1, *dp1, *col2, *dcol2, *a2, *da2, *p2, *dp2, *f,
		*df, *h1, *dh1, *h2, *dh2, *z3, *dz3;
	int *idx1, *idx2, *y, *mcur;
	double *loss;
	lane_meta *meta;
	uint32_t *order;
	size_t order_cap;
};

namespace {

/* Lane strides (elements) for mini-batches of b. */
struct strides {
	size_t col1, a1, p1, col2, a2, p2, f, h1, h2, z3;
	explicit strides(size_t b)
		: col1(K1 * b * IMG * IMG), a1(C1 * b * IMG * IMG), p1(C1 * b * P1 * P1),
		  col2(K2 * b * O2 * O2), a2(C2 * b * O2 * O2), p2(C2 * b * P2 * P2), f(b * FLAT),
		  h1(b * H1), h2(b * H2), z3(b * NC) {}
};

dim3 grid(size_t per_lane, int lanes)
{
	return dim3((unsigned)((per_lane + TPB - 1) / TPB), (unsigned)lanes);
}

/* ---- kernels (blockIdx.y = lane) ---- */

/* The mini-batch of step t: sample indices from the lane's order, im2col for conv1 straight from
 * the images (zero border, zero images past the lane's m), labels; mcur[lane] = m. */
__global__ void k_gather(int t, int B, const lane_meta *meta, const uint32_t *order,
			 const float *images, const uint8_t *labels, float *col1, size_t s_col1,
			 int *y, int *mcur)
{
	int lane = blockIdx.y;
	lane_meta lm = meta[lane];
	int e = t / lm.spe, s = (t % lm.spe) * B;
	int m = min(B, lm.n - s);
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	size_t ld = (size_t)B * IMG * IMG;
	if (i == 0)
		mcur[lane] = m;
	if (i < (size_t)B)
		y[lane * B + i] = (int)i < m ? labels[order[lm.ord + (size_t)e * lm.n + s + i]] : 0;
	if (i >= K1 * ld)
		return;
	int k = (int)(i / ld), r = (int)(i % ld);
	int b = r / (IMG * IMG), p = r % (IMG * IMG), oy = p / IMG, ox = p % IMG;
	int ky = k / K, kx = k % K, iy = oy + ky - PAD1, ix = ox + kx - PAD1;
	float v = 0;
	if (b < m && iy >= 0 && iy < IMG && ix >= 0 && ix < IMG) {
		uint32_t smp = order[lm.ord + (size_t)e * lm.n + s + b];
		v = images[(size_t)smp * LENET_IMAGE + iy * IMG + ix];
	}
	col1[lane * s_col1 + i] = v;
}

/* a[c][b*per + i] = max(a + bias[c], 0) */
__global__ void k_bias_relu(float *a, size_t s_a, int channels, size_t per_c, const float *params,
			    int boff)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= channels * per_c)
		return;
	int lane = blockIdx.y;
	float v = a[lane * s_a + i] + params[lane * PSTRIDE + boff + i / per_c];
	a[lane * s_a + i] = v > 0 ? v : 0;
}

/* 2x2/2 max-pool of [C][B][h][h]; idx = position of the (first) maximum within the lane's a. */
__global__ void k_maxpool(const float *a, size_t s_a, int channels, int B, int h, float *p,
			  int *idx, size_t s_p)
{
	int ho = h / 2;
	size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= (size_t)channels * B * ho * ho)
		return;
	int lane = blockIdx.y;
	size_t img = j / (ho * ho);
	int q = (int)(j % (ho * ho)), oy = q / ho, ox = q % ho;
	const float *al = a + lane * s_a;
	size_t base = img * h * h + (size_t)(2 * oy) * h + 2 * ox;
	size_t cand[4] = {base, base + 1, base + h, base + h + 1}, best = base;
	for (int t = 1; t < 4; t++)
		if (al[cand[t]] > al[best])
			best = cand[t];
	p[lane * s_p + j] = al[best];
	idx[lane * s_p + j] = (int)best;
}

/* col2[c*25 + ky*5 + kx][b*100 + oy*10 + ox] = p1[c][b][oy+ky][ox+kx] */
__global__ void k_im2col2(const float *p1, size_t s_p1, int B, float *col2, size_t s_col2)
{
	size_t ld = (size_t)B * O2 * O2;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= K2 * ld)
		return;
	int lane = blockIdx.y;
	int row = (int)(i / ld), r = (int)(i % ld);
	int c = row / (K * K), ky = (row / K) % K, kx = row % K;
	int b = r / (O2 * O2), oy = (r / O2) % O2, ox = r % O2;
	col2[lane * s_col2 + i] = p1[lane * s_p1 + (size_t)c * B * P1 * P1 + (size_t)b * P1 * P1 +
				     (oy + ky) * P1 + ox + kx];
}

/* dp1[c][b][y][x] = sum of dcol2 over the (ky, kx) that copied it (the adjoint of im2col2). */
__global__ void k_col2im2(const float *dcol, size_t s_col2, int B, float *dp1, size_t s_p1)
{
	size_t ld = (size_t)B * O2 * O2;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)C1 * B * P1 * P1)
		return;
	int lane = blockIdx.y;
	int c = (int)(i / ((size_t)B * P1 * P1));
	int r = (int)(i % ((size_t)B * P1 * P1));
	int b = r / (P1 * P1), yy = (r / P1) % P1, xx = r % P1;
	float sum = 0;
	for (int ky = 0; ky < K; ky++) {
		int oy = yy - ky;
		if (oy < 0 || oy >= O2)
			continue;
		for (int kx = 0; kx < K; kx++) {
			int ox = xx - kx;
			if (ox < 0 || ox >= O2)
				continue;
			sum += dcol[lane * s_col2 + (size_t)(c * K * K + ky * K + kx) * ld +
				    (size_t)b * O2 * O2 + oy * O2 + ox];
		}
	}
	dp1[lane * s_p1 + i] = sum;
}

/* f[b][c*25 + i] = p2[c][b*25 + i] (flatten), or the reverse (unflatten) */
__global__ void k_flatten(const float *src, float *dst, int B, size_t stride, int reverse)
{
	size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= (size_t)B * FLAT)
		return;
	int lane = blockIdx.y;
	int b = (int)(j / FLAT), c = (int)(j % FLAT) / (P2 * P2), i = (int)(j % (P2 * P2));
	size_t pj = ((size_t)c * B + b) * P2 * P2 + i;
	if (reverse)
		dst[lane * stride + pj] = src[lane * stride + j];
	else
		dst[lane * stride + j] = src[lane * stride + pj];
}

/* Row-major [B][m]: add bias per column, then ReLU if asked. */
__global__ void k_bias_cols(float *a, size_t s_a, int B, int m, const float *params, int boff,
			    int relu)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)B * m)
		return;
	int lane = blockIdx.y;
	float v = a[lane * s_a + i] + params[lane * PSTRIDE + boff + i % m];
	a[lane * s_a + i] = relu && v < 0 ? 0 : v;
}

/* Softmax cross-entropy per sample in double (as lenet.c's xent); dz3 = (p - onehot) / m on the
 * lane's m real samples, 0 on the padding; the loss sum of the last epoch goes to loss[lane]. */
__global__ void k_xent(const float *z3, float *dz3, size_t s_z, const int *y, const int *mcur,
		       int B, int t, int epochs, const lane_meta *meta, double *loss)
{
	int b = blockIdx.x * blockDim.x + threadIdx.x;
	if (b >= B)
		return;
	int lane = blockIdx.y, m = mcur[lane];
	const float *z = z3 + lane * s_z + b * NC;
	float *dz = dz3 + lane * s_z + b * NC;
	if (b >= m) {
		for (int j = 0; j < NC; j++)
			dz[j] = 0;
		return;
	}
	int label = y[lane * B + b];
	double mx = z[0], sum = 0, p[NC];
	for (int j = 1; j < NC; j++)
		if (z[j] > mx)
			mx = z[j];
	for (int j = 0; j < NC; j++) {
		p[j] = exp((double)z[j] - mx);
		sum += p[j];
	}
	double scale = 1.0 / m;
	for (int j = 0; j < NC; j++)
		dz[j] = (float)((p[j] / sum - (j == label ? 1.0 : 0.0)) * scale);
	if (t / meta[lane].spe == epochs - 1)
		atomicAdd(&loss[lane], log(sum) + mx - (double)z[label]);
}

__global__ void k_relu_mask(float *d, const float *a, size_t len, size_t stride)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= len)
		return;
	size_t k = blockIdx.y * stride + i;
	if (!(a[k] > 0))
		d[k] = 0;
}

/* g[j] = sum_b a[b][j] for a row-major [B][m] (dense bias gradients). */
__global__ void k_col_sums(const float *a, size_t s_a, int B, int m, float *grad, int goff)
{
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= m)
		return;
	int lane = blockIdx.y;
	float s = 0;
	for (int b = 0; b < B; b++)
		s += a[lane * s_a + (size_t)b * m + j];
	grad[lane * PSTRIDE + goff + j] = s;
}

/* g[r] = sum_i a[r][i] for [rows][len] (conv bias gradients): one block per (row, lane). */
__global__ void k_row_sums(const float *a, size_t s_a, size_t len, float *grad, int goff)
{
	__shared__ float part[TPB];
	int r = blockIdx.x, lane = blockIdx.y;
	const float *row = a + lane * s_a + (size_t)r * len;
	float s = 0;
	for (size_t i = threadIdx.x; i < len; i += blockDim.x)
		s += row[i];
	part[threadIdx.x] = s;
	__syncthreads();
	for (int w = TPB / 2; w > 0; w /= 2) {
		if ((int)threadIdx.x < w)
			part[threadIdx.x] += part[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		grad[lane * PSTRIDE + goff + r] = part[0];
}

/* Gradient through max-pool and the ReLU before it (da was zeroed). */
__global__ void k_unpool_relu(const float *dp, const int *idx, size_t np, size_t s_p,
			      const float *a, float *da, size_t s_a)
{
	size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= np)
		return;
	int lane = blockIdx.y;
	int k = idx[lane * s_p + j];
	if (a[lane * s_a + k] > 0)
		da[lane * s_a + k] = dp[lane * s_p + j];
}

__global__ void k_sgd(float *params, const float *grad, float lr)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= LENET_PARAMS)
		return;
	size_t k = blockIdx.y * PSTRIDE + i;
	params[k] -= lr * grad[k];
}

/* ---- host helpers ---- */

/* Row-major C[M x N] = op(A)[M x K] op(B)[K x N] for `count` lanes, through column-major cuBLAS
 * (C^T = op(B)^T op(A)^T). */
cublasStatus_t gemm(train_cuda *tc, int ta, int tb, int M, int N, int Kd, const float *A, int lda,
		    long long sA, const float *B, int ldb, long long sB, float *C, int ldc,
		    long long sC, int count)
{
	const float one = 1.0f, zero = 0.0f;
	return cublasSgemmStridedBatched(tc->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
					 ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, Kd, &one, B, ldb, sB,
					 A, lda, sA, &zero, C, ldc, sC, count);
}

template <typename T> bool dev_alloc(T **p, size_t count)
{
	return cudaMalloc((void **)p, count * sizeof(T) + 16) == cudaSuccess;
}

void free_lanes(train_cuda *tc)
{
	void *bufs[] = {tc->params, tc->grad, tc->col1, tc->a1, tc->da1, tc->p1, tc->dp1, tc->col2,
			tc->dcol2, tc->a2, tc->da2, tc->p2, tc->dp2, tc->f, tc->df, tc->h1, tc->dh1,
			tc->h2, tc->dh2, tc->z3, tc->dz3, tc->idx1, tc->idx2, tc->y, tc->mcur,
			tc->loss, tc->meta};
	for (void *b : bufs)
		if (b)
			cudaFree(b);
	tc->params = tc->grad = tc->col1 = tc->a1 = tc->da1 = tc->p1 = tc->dp1 = tc->col2 = nullptr;
	tc->dcol2 = tc->a2 = tc->da2 = tc->p2 = tc->dp2 = tc->f = tc->df = tc->h1 = nullptr;
	tc->dh1 = tc->h2 = tc->dh2 = tc->z3 = tc->dz3 = nullptr;
	tc->idx1 = tc->idx2 = tc->y = tc->mcur = nullptr;
	tc->loss = nullptr;
	tc->meta = nullptr;
	tc->cap_lanes = tc->cap_batch = 0;
}

/* Buffers for `lanes` lanes of mini-batches of `batch` (grown only). */
bool ensure_lanes(train_cuda *tc, int lanes, int batch)
{
	if (lanes <= tc->cap_lanes && batch <= tc->cap_batch)
		return true;
	lanes = std::max(lanes, tc->cap_lanes);
	batch = std::max(batch, tc->cap_batch);
	free_lanes(tc);
	strides s((size_t)batch);
	size_t L = (size_t)lanes;
	bool ok = dev_alloc(&tc->params, L * PSTRIDE) && dev_alloc(&tc->grad, L * PSTRIDE) &&
		  dev_alloc(&tc->col1, L * s.col1) && dev_alloc(&tc->a1, L * s.a1) &&
		  dev_alloc(&tc->da1, L * s.a1) && dev_alloc(&tc->p1, L * s.p1) &&
		  dev_alloc(&tc->dp1, L * s.p1) && dev_alloc(&tc->idx1, L * s.p1) &&
		  dev_alloc(&tc->col2, L * s.col2) && dev_alloc(&tc->dcol2, L * s.col2) &&
		  dev_alloc(&tc->a2, L * s.a2) && dev_alloc(&tc->da2, L * s.a2) &&
		  dev_alloc(&tc->p2, L * s.p2) && dev_alloc(&tc->dp2, L * s.p2) &&
		  dev_alloc(&tc->idx2, L * s.p2) && dev_alloc(&tc->f, L * s.f) &&
		  dev_alloc(&tc->df, L * s.f) && dev_alloc(&tc->h1, L * s.h1) &&
		  dev_alloc(&tc->dh1, L * s.h1) && dev_alloc(&tc->h2, L * s.h2) &&
		  dev_alloc(&tc->dh2, L * s.h2) && dev_alloc(&tc->z3, L * s.z3) &&
		  dev_alloc(&tc->dz3, L * s.z3) && dev_alloc(&tc->y, L * (size_t)batch) &&
		  dev_alloc(&tc->mcur, L) && dev_alloc(&tc->loss, L) && dev_alloc(&tc->meta, L);
	if (!ok) {
		free_lanes(tc);
		return false;
	}
	tc->cap_lanes = lanes;
	tc->cap_batch = batch;
	return true;
}

/* Unbiased draw in [0, bound), exactly as lenet.c's (so the shuffles match). */
uint32_t draw_below(rt_rng *r, uint32_t bound)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % bound, v;
	do
		v = rt_rng_u64(r);
	while (v >= lim);
	return (uint32_t)(v % bound);
}

struct job_ref {
	size_t job;
	int n, steps;
};

/* One group of jobs with the same plan. Returns 0 or a TRAIN_E* for all of them. */
int train_group(train_cuda *tc, fleet_train_job *jobs, std::vector<job_ref> &g, int epochs,
		int B, float lr)
{
	/* most steps first: the lanes still training at step t are a prefix */
	std::stable_sort(g.begin(), g.end(),
			 [](const job_ref &a, const job_ref &b) { return a.steps > b.steps; });
	int lanes = (int)g.size();
	if (!ensure_lanes(tc, lanes, B))
		return TRAIN_ENOMEM;
	/* sample orders: per lane, epochs runs of its shuffled partition (lenet.c's sgd) */
	std::vector<lane_meta> meta(lanes);
	std::vector<uint32_t> order;
	for (int l = 0; l < lanes; l++) {
		fleet_train_job &j = jobs[g[l].job];
		size_t cnt;
		const uint32_t *idx = train_real_partition(tc->tr, j.device, &cnt);
		std::vector<uint32_t> ord(idx, idx + cnt);
		rt_rng rng;
		train_real_rng(tc->tr, j.device, j.iteration, &rng);
		meta[l] = {(int)cnt, (int)((cnt + B - 1) / B), (long long)order.size()};
		for (int e = 0; e < epochs; e++) {
			for (size_t i = cnt - 1; i > 0; i--) {
				uint32_t k = draw_below(&rng, (uint32_t)i + 1);
				std::swap(ord[i], ord[k]);
			}
			order.insert(order.end(), ord.begin(), ord.end());
		}
	}
	if (order.size() > tc->order_cap) {
		if (tc->order)
			cudaFree(tc->order);
		tc->order = nullptr;
		tc->order_cap = 0;
		if (!dev_alloc(&tc->order, order.size()))
			return TRAIN_ENOMEM;
		tc->order_cap = order.size();
	}
	cudaStream_t st = tc->stream;
	cudaMemcpyAsync(tc->order, order.data(), order.size() * sizeof(uint32_t),
			cudaMemcpyHostToDevice, st);
	cudaMemcpyAsync(tc->meta, meta.data(), lanes * sizeof(lane_meta), cudaMemcpyHostToDevice,
			st);
	cudaMemsetAsync(tc->loss, 0, lanes * sizeof(double), st);
	for (int l = 0; l < lanes; l++)
		cudaMemcpyAsync(tc->params + (size_t)l * PSTRIDE, jobs[g[l].job].weights,
				LENET_PARAMS * sizeof(float), cudaMemcpyHostToDevice, st);

	strides s((size_t)B);
	const int *o = tc->off.o;
	const int n1 = B * IMG * IMG, n2 = B * O2 * O2;
	const long long P = (long long)PSTRIDE;
	int steps = g[0].steps;
	cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
	for (int t = 0; t < steps; t++) {
		int A = 0;
		while (A < lanes && g[A].steps > t)
			A++;
		float *W = tc->params, *G = tc->grad;
		/* forward */
		k_gather<<<grid(K1 * (size_t)n1, A), TPB, 0, st>>>(t, B, tc->meta, tc->order,
								   tc->images, tc->labels,
								   tc->col1, s.col1, tc->y,
								   tc->mcur);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 0, C1, n1, K1, W + o[T_C1W], K1, P, tc->col1,
						n1, s.col1, tc->a1, n1, s.a1, A));
		k_bias_relu<<<grid(s.a1, A), TPB, 0, st>>>(tc->a1, s.a1, C1, (size_t)n1, W,
							   o[T_C1B]);
		k_maxpool<<<grid(s.p1, A), TPB, 0, st>>>(tc->a1, s.a1, C1, B, IMG, tc->p1,
							 tc->idx1, s.p1);
		k_im2col2<<<grid(s.col2, A), TPB, 0, st>>>(tc->p1, s.p1, B, tc->col2, s.col2);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 0, C2, n2, K2, W + o[T_C2W], K2, P, tc->col2,
						n2, s.col2, tc->a2, n2, s.a2, A));
		k_bias_relu<<<grid(s.a2, A), TPB, 0, st>>>(tc->a2, s.a2, C2, (size_t)n2, W,
							   o[T_C2B]);
		k_maxpool<<<grid(s.p2, A), TPB, 0, st>>>(tc->a2, s.a2, C2, B, O2, tc->p2,
							 tc->idx2, s.p2);
		k_flatten<<<grid(s.f, A), TPB, 0, st>>>(tc->p2, tc->f, B, s.f, 0);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 1, B, H1, FLAT, tc->f, FLAT, s.f,
						W + o[T_F1W], FLAT, P, tc->h1, H1, s.h1, A));
		k_bias_cols<<<grid(s.h1, A), TPB, 0, st>>>(tc->h1, s.h1, B, H1, W, o[T_F1B], 1);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 1, B, H2, H1, tc->h1, H1, s.h1,
						W + o[T_F2W], H1, P, tc->h2, H2, s.h2, A));
		k_bias_cols<<<grid(s.h2, A), TPB, 0, st>>>(tc->h2, s.h2, B, H2, W, o[T_F2B], 1);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 1, B, NC, H2, tc->h2, H2, s.h2,
						W + o[T_F3W], H2, P, tc->z3, NC, s.z3, A));
		k_bias_cols<<<grid(s.z3, A), TPB, 0, st>>>(tc->z3, s.z3, B, NC, W, o[T_F3B], 0);
		/* loss and backward (lenet.c's backward_chunk, one chunk: gradients written) */
		k_xent<<<grid((size_t)B, A), TPB, 0, st>>>(tc->z3, tc->dz3, s.z3, tc->y, tc->mcur, B,
							   t, epochs, tc->meta, tc->loss);
		bs = (cublasStatus_t)(bs | gemm(tc, 1, 0, NC, H2, B, tc->dz3, NC, s.z3, tc->h2, H2,
						s.h2, G + o[T_F3W], H2, P, A));
		k_col_sums<<<grid(NC, A), TPB, 0, st>>>(tc->dz3, s.z3, B, NC, G, o[T_F3B]);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 0, B, H2, NC, tc->dz3, NC, s.z3,
						W + o[T_F3W], H2, P, tc->dh2, H2, s.h2, A));
		k_relu_mask<<<grid(s.h2, A), TPB, 0, st>>>(tc->dh2, tc->h2, s.h2, s.h2);
		bs = (cublasStatus_t)(bs | gemm(tc, 1, 0, H2, H1, B, tc->dh2, H2, s.h2, tc->h1, H1,
						s.h1, G + o[T_F2W], H1, P, A));
		k_col_sums<<<grid(H2, A), TPB, 0, st>>>(tc->dh2, s.h2, B, H2, G, o[T_F2B]);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 0, B, H1, H2, tc->dh2, H2, s.h2,
						W + o[T_F2W], H1, P, tc->dh1, H1, s.h1, A));
		k_relu_mask<<<grid(s.h1, A), TPB, 0, st>>>(tc->dh1, tc->h1, s.h1, s.h1);
		bs = (cublasStatus_t)(bs | gemm(tc, 1, 0, H1, FLAT, B, tc->dh1, H1, s.h1, tc->f,
						FLAT, s.f, G + o[T_F1W], FLAT, P, A));
		k_col_sums<<<grid(H1, A), TPB, 0, st>>>(tc->dh1, s.h1, B, H1, G, o[T_F1B]);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 0, B, FLAT, H1, tc->dh1, H1, s.h1,
						W + o[T_F1W], FLAT, P, tc->df, FLAT, s.f, A));
		k_flatten<<<grid(s.f, A), TPB, 0, st>>>(tc->df, tc->dp2, B, s.f, 1);
		cudaMemsetAsync(tc->da2, 0, (size_t)A * s.a2 * sizeof(float), st);
		k_unpool_relu<<<grid(s.p2, A), TPB, 0, st>>>(tc->dp2, tc->idx2, s.p2, s.p2, tc->a2,
							     tc->da2, s.a2);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 1, C2, K2, n2, tc->da2, n2, s.a2, tc->col2,
						n2, s.col2, G + o[T_C2W], K2, P, A));
		k_row_sums<<<dim3(C2, A), TPB, 0, st>>>(tc->da2, s.a2, (size_t)n2, G, o[T_C2B]);
		bs = (cublasStatus_t)(bs | gemm(tc, 1, 0, K2, n2, C2, W + o[T_C2W], K2, P, tc->da2,
						n2, s.a2, tc->dcol2, n2, s.col2, A));
		k_col2im2<<<grid(s.p1, A), TPB, 0, st>>>(tc->dcol2, s.col2, B, tc->dp1, s.p1);
		cudaMemsetAsync(tc->da1, 0, (size_t)A * s.a1 * sizeof(float), st);
		k_unpool_relu<<<grid(s.p1, A), TPB, 0, st>>>(tc->dp1, tc->idx1, s.p1, s.p1, tc->a1,
							     tc->da1, s.a1);
		bs = (cublasStatus_t)(bs | gemm(tc, 0, 1, C1, K1, n1, tc->da1, n1, s.a1, tc->col1,
						n1, s.col1, G + o[T_C1W], K1, P, A));
		k_row_sums<<<dim3(C1, A), TPB, 0, st>>>(tc->da1, s.a1, (size_t)n1, G, o[T_C1B]);
		k_sgd<<<grid(LENET_PARAMS, A), TPB, 0, st>>>(W, G, lr);
	}
	std::vector<double> loss(lanes);
	for (int l = 0; l < lanes; l++)
		cudaMemcpyAsync(jobs[g[l].job].weights, tc->params + (size_t)l * PSTRIDE,
				LENET_PARAMS * sizeof(float), cudaMemcpyDeviceToHost, st);
	cudaMemcpyAsync(loss.data(), tc->loss, lanes * sizeof(double), cudaMemcpyDeviceToHost, st);
	cudaError_t ce = cudaStreamSynchronize(st);
	if (ce != cudaSuccess || bs != CUBLAS_STATUS_SUCCESS || cudaGetLastError() != cudaSuccess)
		return TRAIN_ENODEV; /* the weights may be half-written: the caller restores them */
	for (int l = 0; l < lanes; l++)
		jobs[g[l].job].loss = (float)(loss[l] / g[l].n);
	return 0;
}

} // namespace

extern "C" int train_cuda_available(void)
{
	int n = 0;
	return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

extern "C" int train_cuda_new(train_real *tr, train_cuda **out, char *err, size_t errlen)
{
	auto fail = [&](int rc, const char *why) {
		if (err && errlen)
			snprintf(err, errlen, "cuda: %s", why);
		return rc;
	};
	if (!tr || !out)
		return fail(TRAIN_EINVAL, "bad arguments");
	if (!train_cuda_available())
		return fail(TRAIN_ENODEV, "no usable CUDA device");
	model_def def;
	if (model_def_parse("lenet5", &def) || def.total != LENET_PARAMS)
		return fail(TRAIN_EINVAL, "lenet5 model definition mismatch");
	train_cuda *tc = (train_cuda *)calloc(1, sizeof *tc);
	if (!tc)
		return fail(TRAIN_ENOMEM, "out of memory");
	tc->tr = tr;
	for (int i = 0; i < T_COUNT; i++)
		tc->off.o[i] = (int)def.tensors[model_def_find(&def, tensor_names[i])].offset;
	const dataset *ds = train_real_train_set(tr);
	if (cudaStreamCreate(&tc->stream) != cudaSuccess) {
		free(tc);
		return fail(TRAIN_ENODEV, "cannot create a stream");
	}
	if (cublasCreate(&tc->blas) != CUBLAS_STATUS_SUCCESS) {
		cudaStreamDestroy(tc->stream);
		free(tc);
		return fail(TRAIN_ENODEV, "cannot create a cuBLAS handle");
	}
	cublasSetStream(tc->blas, tc->stream);
	cublasSetMathMode(tc->blas, CUBLAS_DEFAULT_MATH); /* plain FP32: no TF32 */
	if (!dev_alloc(&tc->images, ds->n * LENET_IMAGE) || !dev_alloc(&tc->labels, ds->n) ||
	    cudaMemcpy(tc->images, ds->images, ds->n * LENET_IMAGE * sizeof(float),
		       cudaMemcpyHostToDevice) != cudaSuccess ||
	    cudaMemcpy(tc->labels, ds->labels, ds->n, cudaMemcpyHostToDevice) != cudaSuccess) {
		train_cuda_free(tc);
		return fail(TRAIN_ENOMEM, "cannot upload the training set");
	}
	*out = tc;
	return 0;
}

extern "C" void train_cuda_free(train_cuda *tc)
{
	if (!tc)
		return;
	free_lanes(tc);
	if (tc->order)
		cudaFree(tc->order);
	if (tc->images)
		cudaFree(tc->images);
	if (tc->labels)
		cudaFree(tc->labels);
	cublasDestroy(tc->blas);
	cudaStreamDestroy(tc->stream);
	free(tc);
}

extern "C" double train_cuda_samples(void *ctx, long device)
{
	return train_real_samples(((train_cuda *)ctx)->tr, device);
}

static void batch(train_cuda *tc, fleet_train_job *jobs, size_t njobs, size_t n);

extern "C" void train_cuda_batch_fn(void *ctx, fleet_train_job *jobs, size_t njobs, size_t n)
{
	try {
		batch((train_cuda *)ctx, jobs, njobs, n);
	} catch (...) {
		/* std::bad_alloc: nothing may unwind into C. Jobs not trained yet still say
		 * TRAIN_ENOMEM and have their weights as given: host allocations happen before a
		 * group's weights are written back. */
	}
}

static void batch(train_cuda *tc, fleet_train_job *jobs, size_t njobs, size_t n)
{
	std::vector<char> done(njobs, 0);
	for (size_t i = 0; i < njobs; i++) {
		jobs[i].loss = 0;
		jobs[i].rc = TRAIN_ENOMEM; /* until trained (see train_cuda_batch_fn) */
		size_t cnt = 0;
		if (n != LENET_PARAMS || jobs[i].epochs < 0 || jobs[i].batch < 1 ||
		    jobs[i].batch > 4096 || jobs[i].device < 0) {
			jobs[i].rc = TRAIN_EINVAL;
			done[i] = 1;
			continue;
		}
		train_real_partition(tc->tr, jobs[i].device, &cnt);
		if (!cnt || !jobs[i].epochs) {
			done[i] = 1; /* nothing to learn from: the weights stay */
			jobs[i].rc = 0;
		}
	}
	/* groups of one plan, in job order */
	for (size_t i = 0; i < njobs; i++) {
		if (done[i])
			continue;
		std::vector<job_ref> g;
		for (size_t k = i; k < njobs; k++) {
			if (done[k] || jobs[k].epochs != jobs[i].epochs ||
			    jobs[k].batch != jobs[i].batch || jobs[k].lr != jobs[i].lr)
				continue;
			size_t cnt;
			train_real_partition(tc->tr, jobs[k].device, &cnt);
			int B = std::min<int>(jobs[i].batch, 4096);
			g.push_back({k, (int)cnt, jobs[k].epochs * (int)((cnt + B - 1) / B)});
			done[k] = 1;
		}
		/* keep the inputs: a failed group gets its weights back (the interface's rule) */
		std::vector<float> keep(g.size() * LENET_PARAMS);
		for (size_t l = 0; l < g.size(); l++)
			memcpy(&keep[l * LENET_PARAMS], jobs[g[l].job].weights,
			       LENET_PARAMS * sizeof(float));
		int rc = train_group(tc, jobs, g, jobs[i].epochs, jobs[i].batch, jobs[i].lr);
		for (size_t l = 0; l < g.size(); l++) {
			jobs[g[l].job].rc = rc;
			if (rc) {
				memcpy(jobs[g[l].job].weights, &keep[l * LENET_PARAMS],
				       LENET_PARAMS * sizeof(float));
				jobs[g[l].job].loss = 0;
			}
		}
	}
}
