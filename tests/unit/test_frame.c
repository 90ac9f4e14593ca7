/*
 * test_frame.c — frame encoder and incremental decoder: round trips, arbitrary input splits,
 * malformed headers, limits checked before allocation, sticky errors, stop from the callback.
 */
#include "proto/frame.h"
#include "rt/rt.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/*
 * Under ASan the allocator reports every malloc to a hook, so "nothing is allocated for an
 * oversize declaration" can be checked directly: the largest allocation made during a feed.
 * (The rel build has no such hook; there the d.body checks below still run.)
 */
#ifdef __SANITIZE_ADDRESS__
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					      void (*free_hook)(const volatile void *));
static size_t largest_alloc;
static void on_malloc(const volatile void *p, size_t size)
{
	(void)p;
	if (size > largest_alloc)
		largest_alloc = size;
}
static void on_free(const volatile void *p) { (void)p; }
static int alloc_hook_ready;
static void alloc_watch_start(void)
{
	if (!alloc_hook_ready)
		alloc_hook_ready = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
	largest_alloc = 0;
}
#define ALLOC_WATCH 1
#else
static size_t largest_alloc;
static void alloc_watch_start(void) { largest_alloc = 0; }
#define ALLOC_WATCH 0
#endif

/* Collects every decoded frame (deep copies) so tests can compare after the fact. */
typedef struct got_frame {
	uint8_t type;
	uint16_t flags;
	char *meta;
	size_t meta_len;
	uint8_t *payload;
	size_t payload_len;
} got_frame;

typedef struct sink {
	got_frame f[64];
	size_t n;
	size_t stop_after; /* 0: never stop; k: return 1 from the k-th frame */
	int nul_ok;        /* every meta was NUL-terminated */
} sink;

static int sink_cb(const frame *f, void *data)
{
	sink *s = data;
	ck_assert_uint_lt(s->n, 64);
	got_frame *g = &s->f[s->n++];
	g->type = f->type;
	g->flags = f->flags;
	g->meta_len = f->meta_len;
	g->meta = malloc(f->meta_len + 1);
	memcpy(g->meta, f->meta, f->meta_len + 1);
	if (f->meta[f->meta_len] != '\0')
		s->nul_ok = 0;
	g->payload_len = f->payload_len;
	g->payload = malloc(f->payload_len ? f->payload_len : 1);
	if (f->payload_len)
		memcpy(g->payload, f->payload, f->payload_len);
	return s->stop_after && s->n == s->stop_after;
}

static void sink_init(sink *s)
{
	memset(s, 0, sizeof *s);
	s->nul_ok = 1;
}

static void sink_free(sink *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->f[i].meta);
		free(s->f[i].payload);
	}
	s->n = 0;
}

/* A test frame: meta of ml bytes and payload of pl bytes, contents derived from `seed`. */
typedef struct spec {
	uint8_t type;
	uint16_t flags;
	size_t ml, pl;
	char *meta;
	uint8_t *payload;
} spec;

static void spec_make(spec *sp, uint8_t type, uint16_t flags, size_t ml, size_t pl, uint64_t seed)
{
	rt_rng r;
	rt_rng_seed(&r, seed);
	sp->type = type;
	sp->flags = flags;
	sp->ml = ml;
	sp->pl = pl;
	sp->meta = malloc(ml + 1);
	for (size_t i = 0; i < ml; i++)
		sp->meta[i] = (char)('a' + rt_rng_u64(&r) % 26);
	sp->meta[ml] = '\0';
	sp->payload = malloc(pl ? pl : 1);
	for (size_t i = 0; i < pl; i++)
		sp->payload[i] = (uint8_t)rt_rng_u64(&r); /* includes NULs and 0xff */
}

static void spec_free(spec *sp)
{
	free(sp->meta);
	free(sp->payload);
}

static void check_same(const got_frame *g, const spec *sp)
{
	ck_assert_uint_eq(g->type, sp->type);
	ck_assert_uint_eq(g->flags, sp->flags);
	ck_assert_uint_eq(g->meta_len, sp->ml);
	ck_assert_uint_eq(g->payload_len, sp->pl);
	ck_assert(memcmp(g->meta, sp->meta, sp->ml) == 0);
	ck_assert(memcmp(g->payload, sp->payload, sp->pl) == 0);
}

START_TEST(header_layout_is_little_endian)
{
	uint8_t h[FRAME_HDR_LEN];
	frame_header(h, 7, 0x1234, 0x01020304, 0x0a0b0c0d);
	const uint8_t want[FRAME_HDR_LEN] = {'F', 'L', 'B', 'F', FRAME_VERSION, 7, 0x34, 0x12,
					     0x04, 0x03, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a};
	ck_assert(memcmp(h, want, sizeof want) == 0);
}
END_TEST

START_TEST(round_trip_many_sizes)
{
	static const size_t sizes[] = {0, 1, 2, 3, 15, 16, 17, 255, 256, 511, 512, 513, 4096, 65537,
				       1 << 20};
	size_t ns = sizeof sizes / sizeof sizes[0];
	for (size_t i = 0; i < ns; i++) {
		for (size_t j = 0; j < ns; j++) {
			if (sizes[i] > 4096 && sizes[j] > 4096)
				continue; /* keep the run short */
			spec sp;
			spec_make(&sp, (uint8_t)(i * 16 + j), (uint16_t)(0xfff0 + j), sizes[i], sizes[j],
				  i * 100 + j);
			uint8_t *buf;
			size_t len;
			ck_assert_int_eq(frame_encode(sp.type, sp.flags, sp.meta, sp.ml, sp.payload, sp.pl,
						      &buf, &len),
					 0);
			ck_assert_uint_eq(len, FRAME_HDR_LEN + sp.ml + sp.pl);

			/* Whole buffer at once (zero-copy path)... */
			frame_decoder d;
			frame_decoder_init(&d, 2u << 20, 2u << 20);
			sink s;
			sink_init(&s);
			ck_assert_int_eq(frame_decoder_feed(&d, buf, len, sink_cb, &s), 0);
			ck_assert_uint_eq(s.n, 1);
			ck_assert(s.nul_ok);
			check_same(&s.f[0], &sp);
			sink_free(&s);

			/* ...and header then body (buffered path). */
			ck_assert_int_eq(frame_decoder_feed(&d, buf, FRAME_HDR_LEN, sink_cb, &s), 0);
			ck_assert_uint_eq(s.n, sp.ml + sp.pl == 0 ? 1 : 0);
			ck_assert_int_eq(frame_decoder_feed(&d, buf + FRAME_HDR_LEN, len - FRAME_HDR_LEN,
							    sink_cb, &s),
					 0);
			ck_assert_uint_eq(s.n, 1);
			ck_assert(s.nul_ok);
			check_same(&s.f[0], &sp);
			sink_free(&s);
			frame_decoder_free(&d);
			free(buf);
			spec_free(&sp);
		}
	}
}
END_TEST

START_TEST(encode_null_meta_and_payload)
{
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(frame_encode(3, 0, NULL, 0, NULL, 0, &buf, &len), 0);
	ck_assert_uint_eq(len, FRAME_HDR_LEN);
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	sink s;
	sink_init(&s);
	ck_assert_int_eq(frame_decoder_feed(&d, buf, len, sink_cb, &s), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.f[0].type, 3);
	ck_assert_uint_eq(s.f[0].meta_len, 0);
	ck_assert_str_eq(s.f[0].meta, "");
	ck_assert_uint_eq(s.f[0].payload_len, 0);
	sink_free(&s);
	frame_decoder_free(&d);
	free(buf);
	/* A NULL pointer with a length is a caller error, not a crash. */
	ck_assert_int_lt(frame_encode(3, 0, NULL, 5, NULL, 0, &buf, &len), 0);
	ck_assert_int_lt(frame_encode(3, 0, NULL, 0, NULL, 5, &buf, &len), 0);
}
END_TEST

/* Several frames concatenated into one stream. */
#define NSTREAM 12
static spec stream_specs[NSTREAM];
static uint8_t *stream_buf;
static size_t stream_len;

static void stream_setup(void)
{
	static const size_t ml[NSTREAM] = {0, 0, 1, 30, 600, 0, 17, 2, 1000, 0, 5, 3};
	static const size_t pl[NSTREAM] = {0, 1, 0, 100, 3000, 70000, 0, 16, 1, 4, 0, 9000};
	stream_len = 0;
	for (int i = 0; i < NSTREAM; i++) {
		spec_make(&stream_specs[i], (uint8_t)(i + 1), (uint16_t)(i * 257), ml[i], pl[i],
			  (uint64_t)i + 1000);
		stream_len += FRAME_HDR_LEN + ml[i] + pl[i];
	}
	stream_buf = malloc(stream_len);
	size_t at = 0;
	for (int i = 0; i < NSTREAM; i++) {
		uint8_t *b;
		size_t l;
		spec *sp = &stream_specs[i];
		ck_assert_int_eq(frame_encode(sp->type, sp->flags, sp->meta, sp->ml, sp->payload, sp->pl,
					      &b, &l),
				 0);
		memcpy(stream_buf + at, b, l);
		at += l;
		free(b);
	}
}

static void stream_teardown(void)
{
	for (int i = 0; i < NSTREAM; i++)
		spec_free(&stream_specs[i]);
	free(stream_buf);
}

static void check_stream(sink *s)
{
	ck_assert_uint_eq(s->n, NSTREAM);
	ck_assert(s->nul_ok);
	for (int i = 0; i < NSTREAM; i++)
		check_same(&s->f[i], &stream_specs[i]);
}

START_TEST(stream_one_byte_at_a_time)
{
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	sink s;
	sink_init(&s);
	for (size_t i = 0; i < stream_len; i++)
		ck_assert_int_eq(frame_decoder_feed(&d, stream_buf + i, 1, sink_cb, &s), 0);
	check_stream(&s);
	ck_assert_uint_eq(d.hdr_have, 0);
	sink_free(&s);
	frame_decoder_free(&d);
}
END_TEST

START_TEST(stream_whole)
{
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	sink s;
	sink_init(&s);
	ck_assert_int_eq(frame_decoder_feed(&d, stream_buf, stream_len, sink_cb, &s), 0);
	check_stream(&s);
	sink_free(&s);
	frame_decoder_free(&d);
}
END_TEST

START_TEST(stream_random_splits)
{
	rt_rng r;
	rt_rng_seed(&r, 0x5eed0001);
	for (int round = 0; round < 200; round++) {
		frame_decoder d;
		frame_decoder_init(&d, 0, 0);
		sink s;
		sink_init(&s);
		size_t at = 0;
		while (at < stream_len) {
			/* Mix tiny pieces (header splits) with big ones (whole frames). */
			uint64_t k = rt_rng_u64(&r);
			size_t max = (k & 3) == 0 ? 20000 : (k & 3) == 1 ? 40 : 5;
			size_t n = 1 + (size_t)(rt_rng_u64(&r) % max);
			if (n > stream_len - at)
				n = stream_len - at;
			/* Feed from a private copy so the decoder cannot rely on the input staying
			 * valid after the call. */
			uint8_t *piece = malloc(n);
			memcpy(piece, stream_buf + at, n);
			ck_assert_int_eq(frame_decoder_feed(&d, piece, n, sink_cb, &s), 0);
			memset(piece, 0xee, n);
			free(piece);
			at += n;
		}
		check_stream(&s);
		sink_free(&s);
		frame_decoder_free(&d);
	}
}
END_TEST

START_TEST(stop_from_callback)
{
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	sink s;
	sink_init(&s);
	s.stop_after = 3;
	ck_assert_int_eq(frame_decoder_feed(&d, stream_buf, stream_len, sink_cb, &s), FRAME_ESTOPPED);
	ck_assert_uint_eq(s.n, 3); /* no frame after the one that asked to stop */
	for (int i = 0; i < 3; i++)
		check_same(&s.f[i], &stream_specs[i]);
	/* Sticky: nothing more is decoded. */
	s.stop_after = 0;
	ck_assert_int_eq(frame_decoder_feed(&d, stream_buf, stream_len, sink_cb, &s), FRAME_ESTOPPED);
	ck_assert_uint_eq(s.n, 3);
	sink_free(&s);
	frame_decoder_free(&d);

	/* Stop on a frame completed through the buffered path too. */
	frame_decoder_init(&d, 0, 0);
	sink_init(&s);
	s.stop_after = 5;
	int rc = 0;
	for (size_t i = 0; i < stream_len && rc == 0; i++)
		rc = frame_decoder_feed(&d, stream_buf + i, 1, sink_cb, &s);
	ck_assert_int_eq(rc, FRAME_ESTOPPED);
	ck_assert_uint_eq(s.n, 5);
	check_same(&s.f[4], &stream_specs[4]);
	sink_free(&s);
	frame_decoder_free(&d);
}
END_TEST

/* Feed `hdr` (and then a valid frame) to a fresh decoder; expect `want` and a sticky error. */
static void expect_bad_header(const uint8_t hdr[FRAME_HDR_LEN], size_t max_meta, size_t max_payload,
			      int want, int bytewise)
{
	frame_decoder d;
	frame_decoder_init(&d, max_meta, max_payload);
	sink s;
	sink_init(&s);
	int rc = 0;
	alloc_watch_start();
	if (bytewise) {
		for (size_t i = 0; i < FRAME_HDR_LEN && rc == 0; i++)
			rc = frame_decoder_feed(&d, hdr + i, 1, sink_cb, &s);
	} else {
		rc = frame_decoder_feed(&d, hdr, FRAME_HDR_LEN, sink_cb, &s);
	}
	ck_assert_int_eq(rc, want);
	/* Nothing sized by the rejected declaration was allocated (not even briefly). */
	ck_assert_uint_lt(largest_alloc, 4096);
	ck_assert_int_eq(d.error, want);
	ck_assert_ptr_null(d.body);
	/* Sticky: even a good frame is refused afterwards. */
	uint8_t *good;
	size_t glen;
	ck_assert_int_eq(frame_encode(1, 0, "{}", 2, "x", 1, &good, &glen), 0);
	ck_assert_int_eq(frame_decoder_feed(&d, good, glen, sink_cb, &s), want);
	ck_assert_int_eq(frame_decoder_feed(&d, NULL, 0, sink_cb, &s), want);
	ck_assert_uint_eq(s.n, 0);
	free(good);
	frame_decoder_free(&d);
}

START_TEST(bad_magic_each_byte)
{
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		for (int i = 0; i < 4; i++) {
			uint8_t h[FRAME_HDR_LEN];
			frame_header(h, 1, 0, 2, 2);
			h[i] ^= 0x20;
			expect_bad_header(h, 0, 0, FRAME_EMAGIC, bytewise);
		}
	}
}
END_TEST

START_TEST(bad_magic_detected_early)
{
	/* Garbage is rejected at its first byte, without waiting for a whole header. */
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	const uint8_t g[] = {'G'};
	ck_assert_int_eq(frame_decoder_feed(&d, g, 1, NULL, NULL), FRAME_EMAGIC);
	frame_decoder_free(&d);
}
END_TEST

START_TEST(bad_version)
{
	static const uint8_t versions[] = {0, 2, 0xff};
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		for (size_t i = 0; i < sizeof versions; i++) {
			uint8_t h[FRAME_HDR_LEN];
			frame_header(h, 1, 0, 0, 0);
			h[4] = versions[i];
			expect_bad_header(h, 0, 0, FRAME_EVERSION, bytewise);
		}
	}
}
END_TEST

START_TEST(meta_over_limit)
{
	uint8_t h[FRAME_HDR_LEN];
	frame_header(h, 1, 0, 101, 0);
	expect_bad_header(h, 100, 1000, FRAME_ETOOBIG, 0);
	expect_bad_header(h, 100, 1000, FRAME_ETOOBIG, 1);
	/* The largest declarable meta against the default limit. */
	frame_header(h, 1, 0, UINT32_MAX, 0);
	expect_bad_header(h, 0, 0, FRAME_ETOOBIG, 0);
	frame_header(h, 1, 0, FRAME_DEFAULT_MAX_META + 1, 0);
	expect_bad_header(h, 0, 0, FRAME_ETOOBIG, 0);
}
END_TEST

START_TEST(alloc_watch_works)
{
	/* The watch itself must see a big allocation, or the limit tests above prove nothing. */
	if (!ALLOC_WATCH)
		return;
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	uint8_t h[FRAME_HDR_LEN];
	frame_header(h, 1, 0, 0, 100000);
	alloc_watch_start();
	ck_assert_int_eq(frame_decoder_feed(&d, h, sizeof h, NULL, NULL), 0);
	ck_assert_uint_ge(largest_alloc, 100000);
	frame_decoder_free(&d);
}
END_TEST

START_TEST(payload_over_limit)
{
	uint8_t h[FRAME_HDR_LEN];
	/* A tiny limit and a huge declaration: refused before any allocation (the sticky check
	 * also asserts d.body stays NULL). Under ASan a 4 GiB malloc would be reported. */
	frame_header(h, 1, 0, 0, UINT32_MAX);
	expect_bad_header(h, 16, 8, FRAME_ETOOBIG, 0);
	expect_bad_header(h, 16, 8, FRAME_ETOOBIG, 1);
	frame_header(h, 1, 0, 0, 9);
	expect_bad_header(h, 16, 8, FRAME_ETOOBIG, 0);
	frame_header(h, 1, 0, 0, FRAME_DEFAULT_MAX_PAYLOAD + 1u);
	expect_bad_header(h, 0, 0, FRAME_ETOOBIG, 0);
}
END_TEST

START_TEST(limits_are_inclusive)
{
	uint8_t *buf;
	size_t len;
	char meta[9] = "abcdefgh";
	uint8_t pay[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	ck_assert_int_eq(frame_encode(1, 0, meta, 8, pay, 8, &buf, &len), 0);
	frame_decoder d;
	frame_decoder_init(&d, 8, 8);
	sink s;
	sink_init(&s);
	ck_assert_int_eq(frame_decoder_feed(&d, buf, len, sink_cb, &s), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.f[0].meta, "abcdefgh");
	sink_free(&s);
	frame_decoder_free(&d);
	free(buf);
}
END_TEST

START_TEST(error_after_good_frames)
{
	/* A valid frame followed by garbage in the same input: the frame is delivered, then the
	 * garbage fails the feed. */
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(frame_encode(9, 1, "{\"a\":1}", 7, "pp", 2, &buf, &len), 0);
	uint8_t *in = malloc(len + 20);
	memcpy(in, buf, len);
	memset(in + len, 'x', 20);
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	sink s;
	sink_init(&s);
	ck_assert_int_eq(frame_decoder_feed(&d, in, len + 20, sink_cb, &s), FRAME_EMAGIC);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.f[0].meta, "{\"a\":1}");
	ck_assert_int_eq(frame_decoder_feed(&d, buf, len, sink_cb, &s), FRAME_EMAGIC);
	ck_assert_uint_eq(s.n, 1);
	sink_free(&s);
	frame_decoder_free(&d);
	free(in);
	free(buf);
}
END_TEST

START_TEST(free_mid_frame)
{
	/* Freeing a decoder holding a half-filled body releases it (ASan checks leaks). */
	uint8_t *buf;
	size_t len;
	uint8_t pay[100] = {0};
	ck_assert_int_eq(frame_encode(1, 0, "m", 1, pay, sizeof pay, &buf, &len), 0);
	frame_decoder d;
	frame_decoder_init(&d, 0, 0);
	ck_assert_int_eq(frame_decoder_feed(&d, buf, len - 10, NULL, NULL), 0);
	ck_assert_ptr_nonnull(d.body);
	frame_decoder_free(&d);
	ck_assert_ptr_null(d.body);
	frame_decoder_free(&d); /* twice is harmless */
	free(buf);
}
END_TEST

START_TEST(strerror_texts)
{
	ck_assert_str_ne(frame_strerror(FRAME_EMAGIC), frame_strerror(FRAME_EVERSION));
	ck_assert_str_eq(frame_strerror(RT_ECONNRESET), rt_strerror(RT_ECONNRESET));
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("codec");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, header_layout_is_little_endian);
	tcase_add_test(tc, round_trip_many_sizes);
	tcase_add_test(tc, encode_null_meta_and_payload);
	tcase_add_test(tc, bad_magic_each_byte);
	tcase_add_test(tc, bad_magic_detected_early);
	tcase_add_test(tc, bad_version);
	tcase_add_test(tc, meta_over_limit);
	tcase_add_test(tc, payload_over_limit);
	tcase_add_test(tc, alloc_watch_works);
	tcase_add_test(tc, limits_are_inclusive);
	tcase_add_test(tc, error_after_good_frames);
	tcase_add_test(tc, free_mid_frame);
	tcase_add_test(tc, strerror_texts);
	suite_add_tcase(s, tc);

	TCase *ts = tcase_create("stream");
	tcase_set_timeout(ts, 60);
	tcase_add_checked_fixture(ts, stream_setup, stream_teardown);
	tcase_add_test(ts, stream_whole);
	tcase_add_test(ts, stream_one_byte_at_a_time);
	tcase_add_test(ts, stream_random_splits);
	tcase_add_test(ts, stop_from_callback);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
