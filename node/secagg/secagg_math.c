/*
 * secagg_math.c — the arithmetic: quantisation into Z_2^32, Shamir sharing over GF(2^61 - 1),
 * DP clipping, noise and accounting. No state beyond the caller's buffers.
 */
#include "secagg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- quantisation --------------------------------------------------------------------------- */

int secagg_quant_init(secagg_quant *q, double clip, uint32_t n_max)
{
	if (!q || !(clip > 0) || !isfinite(clip) || n_max < 1 || n_max > (1u << 24))
		return SECAGG_EINVAL;
	/* n_max values of magnitude <= clip * scale + 1/2 each stay below 2^31 - 1 in sum */
	double scale = ((double)INT32_MAX - (double)n_max) / ((double)n_max * clip);
	if (!(scale >= 1))
		return SECAGG_ERANGE;
	q->clip = clip;
	q->scale = scale;
	q->n_max = n_max;
	return 0;
}

int secagg_quantize(const secagg_quant *q, const float *x, size_t n, double weight, uint32_t *out,
		    size_t *clamped)
{
	size_t nc = 0;
	if (!q || (n && (!x || !out)) || !isfinite(weight))
		return SECAGG_EINVAL;
	for (size_t i = 0; i < n; i++) {
		double v = weight * (double)x[i];
		if (!isfinite(v))
			return SECAGG_ERANGE;
		if (v > q->clip) {
			v = q->clip;
			nc++;
		} else if (v < -q->clip) {
			v = -q->clip;
			nc++;
		}
		/* int32 -> uint32 is the two's-complement image: the ring's representative */
		out[i] = (uint32_t)(int32_t)llrint(v * q->scale);
	}
	if (clamped)
		*clamped = nc;
	return 0;
}

void secagg_ring_add(uint32_t *acc, const uint32_t *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc[i] += x[i]; /* unsigned: wraps mod 2^32 by definition */
}

void secagg_ring_sub(uint32_t *acc, const uint32_t *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc[i] -= x[i];
}

int secagg_dequantize(const secagg_quant *q, const uint32_t *sum, size_t n, uint32_t n_clients,
		      double *out)
{
	if (!q || (n && (!sum || !out)))
		return SECAGG_EINVAL;
	if (n_clients > q->n_max)
		return SECAGG_ERANGE;
	for (size_t i = 0; i < n; i++) {
		/* no wrap below n_max clients: the int32 reading is the true integer sum */
		int64_t v = sum[i] >= 0x80000000u ? (int64_t)sum[i] - ((int64_t)1 << 32) : (int64_t)sum[i];
		out[i] = (double)v / q->scale;
	}
	return 0;
}

double secagg_quant_bound(const secagg_quant *q, uint32_t n_clients)
{
	return (double)n_clients * 0.5 / q->scale;
}

/* ---- Shamir over GF(p), p = 2^61 - 1 ------------------------------------------------------- */

/* A Mersenne prime: reduction is a shift and an add, products fit in 128 bits, and 7-byte limbs
 * (< 2^56) of the secret are field elements with room to spot a wrong reconstruction. */
#define P61 ((uint64_t)0x1FFFFFFFFFFFFFFFull)
#define LIMBS 5      /* 32 bytes = 4 limbs of 7 bytes + 1 of 4 */
#define LIMB_BYTES 7

static uint64_t fp_red(unsigned __int128 x)
{
	uint64_t lo = (uint64_t)(x & P61), hi = (uint64_t)(x >> 61);
	uint64_t r = lo + hi; /* x < p^2 < 2^122: lo, hi < 2^61, r < 2^62 */
	r = (r & P61) + (r >> 61);
	return r >= P61 ? r - P61 : r;
}
static uint64_t fp_mul(uint64_t a, uint64_t b) { return fp_red((unsigned __int128)a * b); }
static uint64_t fp_add(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;
	return r >= P61 ? r - P61 : r;
}
static uint64_t fp_sub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + P61 - b; }
static uint64_t fp_inv(uint64_t a) /* a != 0: a^(p-2) */
{
	uint64_t r = 1, e = P61 - 2;
	while (e) {
		if (e & 1)
			r = fp_mul(r, a);
		a = fp_mul(a, a);
		e >>= 1;
	}
	return r;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}
static size_t limb_len(int j) { return j < LIMBS - 1 ? LIMB_BYTES : 32 - LIMB_BYTES * (LIMBS - 1); }

int secagg_shamir_split(const uint8_t secret[32], uint32_t t, const uint32_t *xs, size_t n,
			rt_rng *rng, uint8_t *out)
{
	if (!secret || t < 1 || !rng || (n && (!xs || !out)) || t > n)
		return SECAGG_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (xs[i] == 0)
			return SECAGG_EINVAL;
		for (size_t k = 0; k < i; k++)
			if (xs[k] == xs[i])
				return SECAGG_EINVAL;
	}
	/* Horner needs the coefficients from the top: draw them all first (t * LIMBS values, one
	 * column at a time so the draw order does not depend on n) */
	uint64_t *a = malloc(sizeof(uint64_t) * LIMBS * t);
	if (!a)
		return SECAGG_ENOMEM;
	for (int j = 0; j < LIMBS; j++) {
		uint64_t v = 0;
		for (size_t b = 0; b < limb_len(j); b++)
			v |= (uint64_t)secret[LIMB_BYTES * j + b] << (8 * b);
		a[(size_t)j * t] = v;
		for (uint32_t d = 1; d < t; d++)
			a[(size_t)j * t + d] = rt_rng_below(rng, P61);
	}
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < LIMBS; j++) {
			uint64_t y = 0;
			for (uint32_t d = t; d-- > 0;)
				y = fp_add(fp_mul(y, xs[i]), a[(size_t)j * t + d]);
			put64(out + i * SECAGG_SHARE_BYTES + 8 * (size_t)j, y);
		}
	memset(a, 0, sizeof(uint64_t) * LIMBS * t);
	free(a);
	return 0;
}

int secagg_shamir_combine(const uint8_t *shares, const uint32_t *xs, size_t k, uint8_t secret[32])
{
	uint64_t acc[LIMBS] = {0};

	if (!shares || !xs || !secret || k < 1)
		return SECAGG_EINVAL;
	for (size_t i = 0; i < k; i++) {
		if (xs[i] == 0) /* a uint32 point is always below p */
			return SECAGG_ESHARE;
		for (size_t m = 0; m < i; m++)
			if (xs[m] == xs[i])
				return SECAGG_ESHARE;
		for (int j = 0; j < LIMBS; j++)
			if (get64(shares + i * SECAGG_SHARE_BYTES + 8 * (size_t)j) >= P61)
				return SECAGG_ESHARE;
	}
	for (size_t i = 0; i < k; i++) {
		/* Lagrange basis at 0: prod over m != i of x_m / (x_m - x_i) */
		uint64_t num = 1, den = 1;
		for (size_t m = 0; m < k; m++) {
			if (m == i)
				continue;
			num = fp_mul(num, xs[m]);
			den = fp_mul(den, fp_sub(xs[m], xs[i]));
		}
		uint64_t l = fp_mul(num, fp_inv(den));
		for (int j = 0; j < LIMBS; j++)
			acc[j] = fp_add(acc[j], fp_mul(l, get64(shares + i * SECAGG_SHARE_BYTES + 8 * (size_t)j)));
	}
	for (int j = 0; j < LIMBS; j++)
		if (acc[j] >> (8 * limb_len(j)))
			return SECAGG_ECRYPTO; /* not a limb: the shares do not lie on one polynomial */
	for (int j = 0; j < LIMBS; j++)
		for (size_t b = 0; b < limb_len(j); b++)
			secret[LIMB_BYTES * j + b] = (uint8_t)(acc[j] >> (8 * b));
	return 0;
}

/* ---- DP ------------------------------------------------------------------------------------ */

int secagg_dp_init(secagg_dp *dp, double eps, double delta, double clip)
{
	if (!dp || !(eps > 0) || !isfinite(eps) || !(delta > 0 && delta < 1) || !(clip > 0) ||
	    !isfinite(clip))
		return SECAGG_EINVAL;
	dp->eps = eps;
	dp->delta = delta;
	dp->clip = clip;
	/* the classical Gaussian mechanism (Dwork-Roth Thm A.1) for L2 sensitivity clip; strictly
	 * proven for eps < 1 only (MindSpore's default eps is 50: see the docs) */
	dp->sigma = clip * sqrt(2.0 * log(1.25 / delta)) / eps;
	return 0;
}

int secagg_dp_apply(const secagg_dp *dp, float *x, size_t n, rt_rng *rng, double *norm)
{
	double ss = 0;
	if (!dp || !rng || (n && !x))
		return SECAGG_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			return SECAGG_ERANGE;
		ss += (double)x[i] * x[i];
	}
	double nrm = sqrt(ss), f = nrm > dp->clip ? dp->clip / nrm : 1.0;
	if (norm)
		*norm = nrm;
	for (size_t i = 0; i < n; i += 2) {
		/* Box-Muller: two normals per pair of uniforms; u1 in (0, 1] keeps log finite */
		double u1 = 1.0 - rt_rng_double(rng), u2 = rt_rng_double(rng);
		double r = sqrt(-2.0 * log(u1)) * dp->sigma;
		x[i] = (float)(x[i] * f + r * cos(2 * M_PI * u2));
		if (i + 1 < n)
			x[i + 1] = (float)(x[i + 1] * f + r * sin(2 * M_PI * u2));
	}
	return 0;
}

void secagg_dp_account(const secagg_dp *dp, uint64_t k, secagg_dp_budget *o)
{
	double kd = (double)k;
	o->iter_eps = dp->eps;
	o->iter_delta = dp->delta;
	o->basic_eps = kd * dp->eps;
	o->basic_delta = fmin(1.0, kd * dp->delta);
	o->adv_eps = sqrt(2 * kd * log(1 / dp->delta)) * dp->eps + kd * dp->eps * expm1(dp->eps);
	o->adv_delta = fmin(1.0, (kd + 1) * dp->delta);
	if (o->adv_eps < o->basic_eps) {
		o->eps = o->adv_eps;
		o->delta = o->adv_delta;
	} else {
		o->eps = o->basic_eps;
		o->delta = o->basic_delta;
	}
}
