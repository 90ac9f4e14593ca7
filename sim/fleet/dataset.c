/*
 * dataset.c — Fashion-MNIST (IDX) loader and deterministic partitions over devices.
 *
 * Not an rt.h file on purpose (see dataset.h): the data set is a read-only system input, so the
 * loader reads it with zlib's gzopen/gzread, which also reads uncompressed files transparently.
 */
#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
#define IDX_MAX_ITEMS ((uint32_t)1 << 26)
#define IDX_MAX_SIDE 4096u
#define PART_MAX_TOTAL ((size_t)1 << 31) /* indices in one partition */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Read exactly len bytes. 0, or 1 on a short read (EOF), or -1 on a zlib/gzip error. */
static int gz_read_full(gzFile f, void *buf, size_t len, size_t *got)
{
	unsigned char *p = buf;

	*got = 0;
	while (*got < len) {
		size_t want = len - *got > (1u << 30) ? (1u << 30) : len - *got;
		int r = gzread(f, p + *got, (unsigned)want);

		if (r < 0)
			return -1;
		if (r == 0)
			return 1;
		*got += (size_t)r;
	}
	return 0;
}

static const char *gz_errmsg(gzFile f)
{
	int zerr;
	const char *m = gzerror(f, &zerr);

	return zerr == Z_ERRNO ? strerror(errno) : (m && *m ? m : "read error");
}

/*
 * One IDX file of unsigned bytes with `ndims` dimensions: header checked against `magic`,
 * dims[] filled, the first `keep` items (of item = product of dims[1..]) read into a malloc'd
 * *data, and the rest of the file checked to be exactly as long as announced.
 */
static int idx_read(const char *path, uint32_t magic, int ndims, size_t max_items,
		    uint32_t *dims, uint8_t **data, size_t *kept, char *err, size_t errlen)
{
	unsigned char hdr[4 + 4 * 3];
	size_t hlen = 4 + 4 * (size_t)ndims, item = 1, keep, got, rest;
	uint32_t m;
	gzFile f;
	int rc;

	*data = NULL;
	errno = 0;
	f = gzopen(path, "rb");
	if (!f)
		return fail(err, errlen, DATASET_ENOENT, "dataset: %s: cannot open: %s", path,
			    errno ? strerror(errno) : "out of memory");
	rc = gz_read_full(f, hdr, hlen, &got);
	if (rc < 0) {
		rc = fail(err, errlen, DATASET_EFORMAT, "dataset: %s: not a readable gzip file: %s",
			  path, gz_errmsg(f));
		goto out;
	}
	if (rc > 0) {
		rc = fail(err, errlen, DATASET_EFORMAT,
			  "dataset: %s: truncated header (%zu of %zu bytes)", path, got, hlen);
		goto out;
	}
	m = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (m != magic) {
		rc = fail(err, errlen, DATASET_EFORMAT,
			  "dataset: %s: bad magic 0x%08x (want 0x%08x: IDX, unsigned bytes, %d dims)",
			  path, m, magic, ndims);
		goto out;
	}
	for (int i = 0; i < ndims; i++) {
		const unsigned char *q = hdr + 4 + 4 * i;

		dims[i] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
		if (i > 0 && (dims[i] < 1 || dims[i] > IDX_MAX_SIDE)) {
			rc = fail(err, errlen, DATASET_EFORMAT,
				  "dataset: %s: dimension %d is %u (want 1..%u)", path, i, dims[i],
				  IDX_MAX_SIDE);
			goto out;
		}
		if (i > 0)
			item *= dims[i];
	}
	if (dims[0] < 1 || dims[0] > IDX_MAX_ITEMS) {
		rc = fail(err, errlen, DATASET_EFORMAT, "dataset: %s: item count %u (want 1..%u)",
			  path, dims[0], IDX_MAX_ITEMS);
		goto out;
	}
	keep = max_items && max_items < dims[0] ? max_items : dims[0];
	*data = malloc(keep * item);
	if (!*data) {
		rc = fail(err, errlen, DATASET_ENOMEM, "dataset: %s: out of memory", path);
		goto out;
	}
	rc = gz_read_full(f, *data, keep * item, &got);
	rest = (dims[0] - keep) * item;
	/* Skip the samples not kept, then one more byte to prove the file ends where it should. */
	while (rc == 0 && rest > 0) {
		unsigned char skip[65536];
		size_t want = rest < sizeof skip ? rest : sizeof skip, g;

		rc = gz_read_full(f, skip, want, &g);
		got += g;
		rest -= g;
	}
	if (rc < 0) {
		rc = fail(err, errlen, DATASET_EFORMAT, "dataset: %s: corrupt data: %s", path,
			  gz_errmsg(f));
		goto out;
	}
	if (rc > 0) {
		int zerr;

		/* zlib flags a gzip stream that stops mid-way with Z_BUF_ERROR on the short read. */
		gzerror(f, &zerr);
		rc = fail(err, errlen, DATASET_EFORMAT,
			  "dataset: %s: truncated%s: header announces %u items of %zu bytes, "
			  "data ends %zu bytes early", path,
			  zerr == Z_BUF_ERROR ? " gzip stream (unexpected end of file)" : "",
			  dims[0], item, (size_t)dims[0] * item - got);
		goto out;
	}
	{
		unsigned char extra;
		int r = gzread(f, &extra, 1);

		if (r != 0) {
			rc = fail(err, errlen, DATASET_EFORMAT, r < 0 ?
				  "dataset: %s: corrupt data after the last item" :
				  "dataset: %s: trailing bytes after the %u items the header announces",
				  path, dims[0]);
			goto out;
		}
	}
	*kept = keep;
	rc = 0;
out:
	if (rc != 0) {
		free(*data);
		*data = NULL;
	}
	gzclose(f);
	return rc;
}

int dataset_load_idx(const char *images_path, const char *labels_path, int nclasses,
		     size_t max_samples, dataset *out, char *err, size_t errlen)
{
	uint32_t idims[3], ldims[1];
	uint8_t *pix = NULL, *lab = NULL;
	size_t ni = 0, nl = 0, px;
	dataset d;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!images_path || !labels_path || !out || nclasses < 1 || nclasses > 256)
		return fail(err, errlen, DATASET_EINVAL, "dataset: bad arguments");
	rc = idx_read(images_path, 0x800u | IDX_UBYTE << 8 | 3, 3, max_samples, idims, &pix, &ni,
		      err, errlen);
	if (rc)
		return rc;
	rc = idx_read(labels_path, 0x800u | IDX_UBYTE << 8 | 1, 1, max_samples, ldims, &lab, &nl,
		      err, errlen);
	if (rc)
		goto fail;
	if (idims[0] != ldims[0]) {
		rc = fail(err, errlen, DATASET_EFORMAT,
			  "dataset: %s has %u labels but %s has %u images", labels_path, ldims[0],
			  images_path, idims[0]);
		goto fail;
	}
	for (size_t i = 0; i < nl; i++)
		if (lab[i] >= nclasses) {
			rc = fail(err, errlen, DATASET_EFORMAT,
				  "dataset: %s: label %u of item %zu is not below %d", labels_path,
				  lab[i], i, nclasses);
			goto fail;
		}
	memset(&d, 0, sizeof d);
	d.n = ni;
	d.rows = (int)idims[1];
	d.cols = (int)idims[2];
	d.nclasses = nclasses;
	px = ni * idims[1] * idims[2];
	d.images = malloc(px * sizeof(float));
	if (!d.images) {
		rc = fail(err, errlen, DATASET_ENOMEM, "dataset: %s: out of memory", images_path);
		goto fail;
	}
	for (size_t i = 0; i < px; i++)
		d.images[i] = (float)pix[i] / 255.0f;
	free(pix);
	d.labels = lab;
	*out = d;
	return 0;
fail:
	free(pix);
	free(lab);
	return rc;
}

int dataset_load_fashion_mnist(const char *dir, const char *split, size_t max_samples,
			       dataset *out, char *err, size_t errlen)
{
	char ip[1024], lp[1024];
	const char *pre;
	size_t want;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!split || !out)
		return fail(err, errlen, DATASET_EINVAL, "dataset: bad arguments");
	if (strcmp(split, "train") == 0) {
		pre = "train";
		want = 60000;
	} else if (strcmp(split, "test") == 0) {
		pre = "t10k";
		want = 10000;
	} else {
		return fail(err, errlen, DATASET_EINVAL,
			    "dataset: unknown split \"%s\" (want \"train\" or \"test\")", split);
	}
	if (!dir)
		dir = DATASET_DEFAULT_DIR;
	if ((size_t)snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, pre) >= sizeof ip ||
	    (size_t)snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, pre) >= sizeof lp)
		return fail(err, errlen, DATASET_EINVAL, "dataset: directory name too long");
	rc = dataset_load_idx(ip, lp, 10, max_samples, out, err, errlen);
	if (rc)
		return rc;
	if (out->rows != 28 || out->cols != 28 ||
	    out->n != (max_samples && max_samples < want ? max_samples : want)) {
		rc = fail(err, errlen, DATASET_EFORMAT,
			  "dataset: %s: %zu images of %dx%d, Fashion-MNIST %s has %zu of 28x28", ip,
			  out->n, out->rows, out->cols, split, want);
		dataset_free(out);
		return rc;
	}
	return 0;
}

void dataset_free(dataset *d)
{
	if (!d)
		return;
	free(d->images);
	free(d->labels);
	memset(d, 0, sizeof *d);
}

/* ---- random helpers (rt_rng only) ---- */


static void shuffle(rt_rng *r, uint32_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)rt_rng_below(r, (uint32_t)i), t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* Uniform in (0, 1]: safe for log() and pow(). */
static double unit_open0(rt_rng *r) { return 1.0 - rt_rng_double(r); }

static double normal(rt_rng *r)
{
	double u1 = unit_open0(r), u2 = rt_rng_double(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

double dataset_gamma(rt_rng *r, double shape)
{
	double d, c;

	if (!r || !(shape > 0) || !isfinite(shape))
		return 0;
	if (shape < 1)
		return dataset_gamma(r, shape + 1) * pow(unit_open0(r), 1.0 / shape);
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x, v, u;

		do {
			x = normal(r);
			v = 1.0 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = unit_open0(r);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return d * v;
		if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

/* p[0..k) ~ Dirichlet(alpha) restricted to the entries with allowed[i] != 0 (NULL = all); the
 * others are 0. If every draw underflows (tiny alpha), one allowed entry gets everything. */
static void dirichlet(rt_rng *r, double alpha, size_t k, const int *allowed, double *p)
{
	double s = 0;
	size_t nallowed = 0;

	for (size_t i = 0; i < k; i++) {
		p[i] = !allowed || allowed[i] ? dataset_gamma(r, alpha) : 0;
		s += p[i];
		nallowed += !allowed || allowed[i];
	}
	if (nallowed == 0)
		return;
	if (s > 0 && isfinite(s)) {
		for (size_t i = 0; i < k; i++)
			p[i] /= s;
		return;
	}
	{
		uint32_t pick = (uint32_t)rt_rng_below(r, (uint32_t)nallowed);

		for (size_t i = 0; i < k; i++) {
			int ok = !allowed || allowed[i];

			p[i] = ok && pick == 0 ? 1.0 : 0.0;
			if (ok)
				pick--;
		}
	}
}

/* Cut m into parts proportional to p[0..k): cnt[i] = floor(m*cum[i+1]) - floor(m*cum[i]).
 * The last entry with p > 0 takes what is left, so the parts sum to m and an entry with p = 0
 * never gets anything (rounding in cum must not hand samples to a class a device lacks). */
static void cut_counts(size_t m, const double *p, size_t k, size_t *cnt)
{
	double cum = 0;
	size_t prev = 0, last = 0;

	for (size_t i = 0; i < k; i++)
		if (p[i] > 0)
			last = i;
	for (size_t i = 0; i < k; i++) {
		size_t at;

		cum += p[i];
		if (i > last || !(p[i] > 0)) {
			cnt[i] = 0;
			continue;
		}
		at = i == last ? m : (size_t)floor((double)m * cum);
		if (at > m)
			at = m;
		if (at < prev)
			at = prev;
		cnt[i] = at - prev;
		prev = at;
	}
}

/* ---- partitions ---- */

/* Samples grouped by class: members of class c are idx[start[c] .. start[c+1]). A per-class
 * cursor makes each class a cyclic pool that is reshuffled whenever it runs out. */
struct classes {
	int n;
	size_t *start; /* n + 1 */
	size_t *pos;   /* n: next position in the pool; == class size means "shuffle first" */
	uint32_t *idx;
};

static void classes_free(struct classes *c)
{
	free(c->start);
	free(c->pos);
	free(c->idx);
}

static int classes_build(struct classes *c, const uint8_t *labels, size_t n, int nclasses)
{
	size_t *fill;

	c->n = nclasses;
	c->start = calloc((size_t)nclasses + 1, sizeof *c->start);
	c->pos = calloc((size_t)nclasses, sizeof *c->pos);
	c->idx = malloc(n * sizeof *c->idx);
	fill = calloc((size_t)nclasses, sizeof *fill);
	if (!c->start || !c->pos || !c->idx || !fill) {
		free(fill);
		classes_free(c);
		return DATASET_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		c->start[labels[i] + 1]++;
	for (int k = 0; k < nclasses; k++)
		c->start[k + 1] += c->start[k];
	for (size_t i = 0; i < n; i++)
		c->idx[c->start[labels[i]] + fill[labels[i]]++] = (uint32_t)i;
	for (int k = 0; k < nclasses; k++)
		c->pos[k] = c->start[k + 1] - c->start[k];
	free(fill);
	return 0;
}

static size_t class_size(const struct classes *c, int k) { return c->start[k + 1] - c->start[k]; }

/* Take m samples of class k (which must be non-empty) from its cyclic pool. */
static void class_take(struct classes *c, rt_rng *r, int k, size_t m, uint32_t *out)
{
	uint32_t *pool = c->idx + c->start[k];
	size_t size = class_size(c, k);

	for (size_t i = 0; i < m; i++) {
		if (c->pos[k] >= size) {
			shuffle(r, pool, size);
			c->pos[k] = 0;
		}
		out[i] = pool[c->pos[k]++];
	}
}

/* For shards: device d's k classes into pick[d*k .. d*k+k), each the least picked so far among
 * the non-empty classes it does not have yet, ties broken at random; sorted per device. */
static int pick_classes(const struct classes *c, rt_rng *r, size_t ndev, int k, int *pick,
			size_t *picked)
{
	int *ties = malloc((size_t)c->n * sizeof *ties);

	if (!ties)
		return DATASET_ENOMEM;
	for (size_t d = 0; d < ndev; d++) {
		int *mine = pick + d * (size_t)k;

		for (int j = 0; j < k; j++) {
			size_t best = SIZE_MAX;
			int nt = 0;

			for (int cl = 0; cl < c->n; cl++) {
				int have = 0;

				for (int q = 0; q < j; q++)
					have |= mine[q] == cl;
				if (have || class_size(c, cl) == 0 || picked[cl] > best)
					continue;
				if (picked[cl] < best) {
					best = picked[cl];
					nt = 0;
				}
				ties[nt++] = cl;
			}
			mine[j] = ties[(uint32_t)rt_rng_below(r, (uint32_t)nt)];
			picked[mine[j]]++;
		}
		for (int a = 1; a < k; a++) /* insertion sort: class order within a device */
			for (int b = a; b > 0 && mine[b - 1] > mine[b]; b--) {
				int t = mine[b];

				mine[b] = mine[b - 1];
				mine[b - 1] = t;
			}
	}
	free(ties);
	return 0;
}

/* Whole-set dirichlet: class k's shuffled samples cut among devices by p ~ Dir(alpha). */
static int part_dirichlet_all(struct classes *c, rt_rng *r, size_t ndev, double alpha,
			      dataset_partition *out)
{
	size_t *cnt = malloc((size_t)c->n * ndev * sizeof *cnt); /* [class][device] */
	double *p = malloc(ndev * sizeof *p);
	size_t at = 0;

	if (!cnt || !p) {
		free(cnt);
		free(p);
		return DATASET_ENOMEM;
	}
	for (int k = 0; k < c->n; k++) {
		shuffle(r, c->idx + c->start[k], class_size(c, k));
		dirichlet(r, alpha, ndev, NULL, p);
		cut_counts(class_size(c, k), p, ndev, cnt + (size_t)k * ndev);
	}
	for (size_t d = 0; d < ndev; d++) {
		out->offsets[d] = at;
		for (int k = 0; k < c->n; k++)
			at += cnt[(size_t)k * ndev + d];
	}
	out->offsets[ndev] = at;
	/* Device d's slice of class k starts after devices 0..d-1's slices of it. */
	for (int k = 0; k < c->n; k++) {
		size_t from = c->start[k];

		for (size_t d = 0; d < ndev; d++) {
			size_t m = cnt[(size_t)k * ndev + d];

			memcpy(out->indices + out->offsets[d], c->idx + from, m * sizeof(uint32_t));
			out->offsets[d] += m;
			from += m;
		}
	}
	/* The copies advanced offsets[d] to offsets[d+1]; shift them back. */
	for (size_t d = ndev; d > 0; d--)
		out->offsets[d] = out->offsets[d - 1];
	out->offsets[0] = 0;
	free(cnt);
	free(p);
	return 0;
}

/* Whole-set shards: class k's shuffled samples cut evenly among the devices that picked it. */
static int part_shards_all(struct classes *c, rt_rng *r, size_t ndev, const int *pick, int k,
			   const size_t *picked, dataset_partition *out)
{
	size_t *seen = calloc((size_t)c->n, sizeof *seen);
	size_t at = 0;

	if (!seen)
		return DATASET_ENOMEM;
	for (int cl = 0; cl < c->n; cl++)
		shuffle(r, c->idx + c->start[cl], class_size(c, cl));
	for (size_t d = 0; d < ndev; d++) {
		out->offsets[d] = at;
		for (int j = 0; j < k; j++) {
			int cl = pick[d * (size_t)k + j];
			size_t size = class_size(c, cl), members = picked[cl], rank = seen[cl]++;
			size_t q = size / members, rem = size % members;
			size_t from = rank * q + (rank < rem ? rank : rem);
			size_t m = q + (rank < rem);

			memcpy(out->indices + at, c->idx + c->start[cl] + from, m * sizeof(uint32_t));
			at += m;
		}
	}
	out->offsets[ndev] = at;
	free(seen);
	return 0;
}

/* Every device gets m samples (see dataset.h). */
static int part_fixed(struct classes *c, rt_rng *r, size_t n, size_t ndev, size_t m,
		      const dataset_partition_spec *spec, const int *pick, dataset_partition *out)
{
	double *p = malloc((size_t)c->n * sizeof *p);
	size_t *cnt = malloc((size_t)c->n * sizeof *cnt);
	int *nonempty = malloc((size_t)c->n * sizeof *nonempty);
	struct classes all = { 0 };
	int rc = DATASET_ENOMEM;

	if (!p || !cnt || !nonempty)
		goto out;
	for (int k = 0; k < c->n; k++)
		nonempty[k] = class_size(c, k) > 0;
	if (spec->kind == DATASET_PART_IID) {
		/* One pool of all samples: a "class" of everything. */
		all.n = 1;
		all.start = malloc(2 * sizeof *all.start);
		all.pos = malloc(sizeof *all.pos);
		all.idx = malloc(n * sizeof *all.idx);
		if (!all.start || !all.pos || !all.idx)
			goto out;
		all.start[0] = 0;
		all.start[1] = n;
		all.pos[0] = n;
		for (size_t i = 0; i < n; i++)
			all.idx[i] = (uint32_t)i;
	}
	for (size_t d = 0; d < ndev; d++) {
		uint32_t *dst = out->indices + d * m;

		out->offsets[d] = d * m;
		if (spec->kind == DATASET_PART_IID) {
			class_take(&all, r, 0, m, dst);
			continue;
		}
		if (spec->kind == DATASET_PART_DIRICHLET) {
			dirichlet(r, spec->alpha, (size_t)c->n, nonempty, p);
		} else {
			int kk = spec->classes_per_device;

			for (int k = 0; k < c->n; k++)
				p[k] = 0;
			/* Even split; cut_counts gives the remainder to the later classes. */
			for (int j = 0; j < kk; j++)
				p[pick[d * (size_t)kk + j]] = 1.0 / kk;
		}
		cut_counts(m, p, (size_t)c->n, cnt);
		for (int k = 0; k < c->n; k++) {
			class_take(c, r, k, cnt[k], dst);
			dst += cnt[k];
		}
	}
	out->offsets[ndev] = ndev * m;
	rc = 0;
out:
	classes_free(&all);
	free(p);
	free(cnt);
	free(nonempty);
	return rc;
}

int dataset_partition_make(const uint8_t *labels, size_t n, int nclasses, size_t ndevices,
			   const dataset_partition_spec *spec, dataset_partition *out)
{
	struct classes c = { 0 };
	size_t m, total, *picked = NULL;
	int *pick = NULL, rc, nonempty = 0;
	rt_rng r;

	if (out)
		memset(out, 0, sizeof *out);
	if (!labels || !spec || !out || n < 1 || n > UINT32_MAX || nclasses < 1 ||
	    nclasses > 256 || ndevices < 1)
		return DATASET_EINVAL;
	m = spec->samples_per_device;
	if (m > PART_MAX_TOTAL || ndevices > PART_MAX_TOTAL || (m && ndevices > PART_MAX_TOTAL / m))
		return DATASET_EINVAL;
	if (spec->kind == DATASET_PART_DIRICHLET && (!(spec->alpha > 0) || !isfinite(spec->alpha)))
		return DATASET_EINVAL;
	if (spec->kind == DATASET_PART_SHARDS &&
	    (spec->classes_per_device < 1 || spec->classes_per_device > nclasses))
		return DATASET_EINVAL;
	if (spec->kind != DATASET_PART_IID && spec->kind != DATASET_PART_DIRICHLET &&
	    spec->kind != DATASET_PART_SHARDS)
		return DATASET_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (labels[i] >= nclasses)
			return DATASET_EINVAL;
	rc = classes_build(&c, labels, n, nclasses);
	if (rc)
		return rc;
	for (int k = 0; k < nclasses; k++)
		nonempty += class_size(&c, k) > 0;
	rc = DATASET_EINVAL;
	if (spec->kind == DATASET_PART_SHARDS && spec->classes_per_device > nonempty)
		goto out;
	rc = DATASET_ENOMEM;
	total = m ? m * ndevices : n;
	out->ndevices = ndevices;
	out->offsets = calloc(ndevices + 1, sizeof *out->offsets);
	out->indices = malloc((total ? total : 1) * sizeof *out->indices);
	if (!out->offsets || !out->indices)
		goto out;
	rt_rng_seed(&r, rt_seed_derive(spec->seed, "dataset.partition"));
	if (spec->kind == DATASET_PART_SHARDS) {
		size_t k = (size_t)spec->classes_per_device;

		pick = malloc(ndevices * k * sizeof *pick);
		picked = calloc((size_t)nclasses, sizeof *picked);
		if (!pick || !picked)
			goto out;
		rc = pick_classes(&c, &r, ndevices, (int)k, pick, picked);
		if (rc)
			goto out;
	}
	if (m) {
		rc = part_fixed(&c, &r, n, ndevices, m, spec, pick, out);
	} else if (spec->kind == DATASET_PART_IID) {
		size_t q = n / ndevices, rem = n % ndevices;

		for (size_t i = 0; i < n; i++)
			out->indices[i] = (uint32_t)i;
		shuffle(&r, out->indices, n);
		for (size_t d = 0; d <= ndevices; d++)
			out->offsets[d] = d * q + (d < rem ? d : rem);
		rc = 0;
	} else if (spec->kind == DATASET_PART_DIRICHLET) {
		rc = part_dirichlet_all(&c, &r, ndevices, spec->alpha, out);
	} else {
		rc = part_shards_all(&c, &r, ndevices, pick, spec->classes_per_device, picked, out);
	}
out:
	free(pick);
	free(picked);
	classes_free(&c);
	if (rc)
		dataset_partition_free(out);
	return rc;
}

void dataset_partition_free(dataset_partition *p)
{
	if (!p)
		return;
	free(p->offsets);
	free(p->indices);
	memset(p, 0, sizeof *p);
}

int dataset_partition_kind_parse(const char *s, enum dataset_partition_kind *kind)
{
	if (!s || !kind)
		return DATASET_EINVAL;
	if (strcmp(s, "iid") == 0)
		*kind = DATASET_PART_IID;
	else if (strcmp(s, "dirichlet") == 0)
		*kind = DATASET_PART_DIRICHLET;
	else if (strcmp(s, "shards") == 0)
		*kind = DATASET_PART_SHARDS;
	else
		return DATASET_EINVAL;
	return 0;
}
