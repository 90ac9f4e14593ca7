/*
 * fuzz_util.h — shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): a quiet rt_sim with a
 * link model whose slicing the input picks (so incremental parsers see every split), a raw
 * stream that sends the input's bytes, input splitting, and a CRC helper for recovery files.
 * Header-only (static) because each target is built from one file.
 */
#ifndef FL_FUZZ_UTIL_H
#define FL_FUZZ_UTIL_H

#include "../../sim/rt/rt_sim.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FZ_UNUSED __attribute__((unused))
#define FZ_MS 1000000ULL

/* Abort (a crash libFuzzer reports) when a contract the code promises does not hold. */
#define FZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Writes split into fz_slices chunks (1 = whole). Set per input. */
static uint32_t fz_slices = 1;
static FZ_UNUSED void fz_link(void *ctx, const rt_host *src, const rt_host *dst, size_t len,
			      uint64_t now_ns, rt_sim_verdict *out)
{
	(void)ctx; (void)src; (void)dst; (void)now_ns;
	memset(out, 0, sizeof *out);
	out->delay_ns = 100000;
	out->slices = len < fz_slices ? (uint32_t)(len ? len : 1) : fz_slices;
	out->slice_gap_ns = 1000;
}

static FZ_UNUSED rt_sim *fz_sim(uint32_t slices)
{
	rt_sim *s = rt_sim_new(1);
	if (!s)
		abort();
	rt_sim_set_log_file(s, NULL);
	fz_slices = slices ? slices : 1;
	rt_sim_set_link_model(s, fz_link, NULL);
	return s;
}

static FZ_UNUSED rt_host *fz_host(rt_sim *s, const char *name, const char *ip)
{
	rt_host *h = NULL;
	if (rt_sim_host_new(s, name, ip, &h))
		abort();
	rt_sim_host_set_log_level(h, RT_LOG_ERROR + 1);
	return h;
}

static FZ_UNUSED void fz_run_ms(rt_sim *s, uint64_t ms)
{
	rt_sim_run_until(s, rt_sim_now_ns(s) + ms * FZ_MS);
}

/* A raw stream that sends `send` once connected (or accepted) and drops what comes back. */
typedef struct fz_raw {
	rt_stream *s;
	const uint8_t *send;
	size_t send_len;
	int close_after; /* rt_stream_close after sending (an orderly EOF for the peer) */
	int closed;
} fz_raw;

static FZ_UNUSED void fz_raw_send(fz_raw *r, rt_stream *s)
{
	if (r->send_len)
		rt_stream_write(s, r->send, r->send_len, NULL, NULL);
	if (r->close_after) {
		rt_stream_close(s);
	}
}
static FZ_UNUSED void fz_raw_on_connect(rt_stream *s, void *data) { fz_raw_send(data, s); }
static FZ_UNUSED void fz_raw_on_read(rt_stream *s, const uint8_t *buf, size_t len, void *data)
{
	(void)s; (void)buf; (void)len; (void)data;
}
static FZ_UNUSED void fz_raw_on_close(rt_stream *s, int err, void *data)
{
	fz_raw *r = data;
	(void)s; (void)err;
	r->closed = 1;
	r->s = NULL;
}
static FZ_UNUSED const rt_stream_cbs fz_raw_cbs = {fz_raw_on_connect, fz_raw_on_read,
						   fz_raw_on_close};

/* The next part of the input up to `sep` (or its end); NULL when nothing is left. */
static FZ_UNUSED const uint8_t *fz_next(const uint8_t **p, size_t *left, const char *sep,
					size_t *part_len)
{
	if (!*p)
		return NULL;
	const uint8_t *start = *p;
	size_t sl = strlen(sep);
	const uint8_t *hit = *left >= sl ? memmem(start, *left, sep, sl) : NULL;
	if (hit) {
		*part_len = (size_t)(hit - start);
		*left -= *part_len + sl;
		*p = hit + sl;
	} else {
		*part_len = *left;
		*left = 0;
		*p = NULL;
	}
	return start;
}

static FZ_UNUSED uint32_t fz_crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

#endif
