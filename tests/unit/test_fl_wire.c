/*
 * test_fl_wire.c — the FlatBuffers device codec (node/proto/fl_wire.h): every message kind
 * round-trips through the generated code, and malformed buffers (empty, truncated, offsets out
 * of range, a vector longer than the buffer, the wrong table) are FW_EVERIFY, never a crash.
 */
#include "proto/fl_wire.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const float W1[6] = {1, 2, 3, 4, 5, 6}, W2[2] = {-1, 0.5f};

START_TEST(start_request_round_trip)
{
	fw_msg m = {0}, d;
	m.fl_name = "lenet";
	m.fl_id = "device-7";
	m.timestamp = "1700000000000";
	m.data_size = 32;
	m.iteration = 3;
	m.compress_types[0] = FW_QUANT;
	m.ncompress_types = 1;
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(fw_encode(FW_REQ_START, &m, &buf, &len), 0);
	ck_assert_int_eq(fw_decode(FW_REQ_START, buf, len, &d, NULL, 0), 0);
	ck_assert_str_eq(d.fl_name, "lenet");
	ck_assert_str_eq(d.fl_id, "device-7");
	ck_assert_str_eq(d.timestamp, "1700000000000");
	ck_assert_int_eq(d.data_size, 32);
	ck_assert_int_eq(d.iteration, 3);
	ck_assert_uint_eq(d.ncompress_types, 1);
	ck_assert_uint_eq(d.compress_types[0], FW_QUANT);
	free(buf);
}
END_TEST

START_TEST(responses_with_models_round_trip)
{
	fw_tensor t[2] = {{"conv1.weight", W1, 6}, {"fc.bias", W2, 2}}, out[FW_MAX_TENSORS];
	for (int k = FW_REQ_START; k < FW_NKINDS; k++) {
		fw_msg m = {0}, d;
		m.retcode = 200;
		m.reason = "success";
		m.iteration = 9;
		m.timestamp = "5";
		m.loss = 0.25f;
		m.accuracy = 0.75f;
		m.has_plan = 1;
		m.plan.fl_name = "lenet";
		m.plan.epochs = 2;
		m.plan.mini_batch = 16;
		m.plan.lr = 0.01f;
		m.plan.iterations = 20;
		int has_fmap = k == FW_RSP_START || k == FW_REQ_UPDATE || k == FW_RSP_GET ||
			       k == FW_RSP_RESULT;
		if (has_fmap) {
			m.fmap = t;
			m.nfmap = 2;
		}
		uint8_t *buf;
		size_t len;
		ck_assert_int_eq(fw_encode((fw_kind)k, &m, &buf, &len), 0);
		ck_assert_int_eq(fw_decode((fw_kind)k, buf, len, &d, out, FW_MAX_TENSORS), 0);
		if (k == FW_RSP_START) {
			ck_assert(d.has_plan);
			ck_assert_int_eq(d.plan.epochs, 2);
			ck_assert_int_eq(d.plan.mini_batch, 16);
			ck_assert_str_eq(d.plan.fl_name, "lenet");
		}
		if (k == FW_REQ_METRICS) {
			ck_assert(d.loss == 0.25f && d.accuracy == 0.75f);
		} else if (k == FW_RSP_METRICS) {
			ck_assert_int_eq(d.retcode, 200);
		}
		if (has_fmap) {
			ck_assert_uint_eq(d.nfmap, 2);
			ck_assert_str_eq(d.fmap[0].name, "conv1.weight");
			ck_assert_uint_eq(d.fmap[0].count, 6);
			ck_assert(memcmp(d.fmap[0].data, W1, sizeof W1) == 0);
			ck_assert(memcmp(d.fmap[1].data, W2, sizeof W2) == 0);
			/* too small an array for the tensors */
			ck_assert_int_eq(fw_decode((fw_kind)k, buf, len, &d, out, 1), FW_ETOOMANY);
		}
		free(buf);
	}
}
END_TEST

START_TEST(scaled_upload)
{
	fw_tensor t = {"w", W1, 6}, out[1];
	fw_msg m = {0}, d;
	m.fmap = &t;
	m.nfmap = 1;
	m.fmap_scale = 2;
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(fw_encode(FW_REQ_UPDATE, &m, &buf, &len), 0);
	ck_assert_int_eq(fw_decode(FW_REQ_UPDATE, buf, len, &d, out, 1), 0);
	ck_assert(d.fmap[0].data[5] == 12.0f);
	free(buf);
}
END_TEST

START_TEST(malformed_buffers_fail_verification)
{
	fw_tensor t = {"w", W1, 6}, out[4];
	fw_msg m = {0}, d;
	m.fl_id = "d";
	m.fmap = &t;
	m.nfmap = 1;
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(fw_encode(FW_REQ_UPDATE, &m, &buf, &len), 0);
	uint64_t al[512];
	uint8_t *a = (uint8_t *)al;
	ck_assert_uint_lt(len, sizeof al);
	/* empty */
	ck_assert_int_eq(fw_decode(FW_REQ_UPDATE, a, 0, &d, out, 4), FW_EEMPTY);
	/* every truncation: rejected, except where only the tail's alignment padding went (the
	 * builder writes back to front, so the buffer may end in padding) */
	for (size_t n = 1; n < len; n++) {
		memcpy(a, buf, n);
		int rc = fw_decode(FW_REQ_UPDATE, a, n, &d, out, 4);
		ck_assert(rc == FW_EVERIFY || (rc == 0 && len - n < 8));
	}
	/* root offset out of range */
	memcpy(a, buf, len);
	a[0] = 0xff, a[1] = 0xff, a[2] = 0xff, a[3] = 0x7f;
	ck_assert_int_eq(fw_decode(FW_REQ_UPDATE, a, len, &d, out, 4), FW_EVERIFY);
	/* the float vector's length made larger than the buffer: find it (6 then floats 1..6) */
	memcpy(a, buf, len);
	int found = 0;
	for (size_t i = 0; i + 8 <= len; i += 4) {
		uint32_t n;
		float f;
		memcpy(&n, a + i, 4);
		memcpy(&f, a + i + 4, 4);
		if (n == 6 && f == 1.0f) {
			n = 0x10000000u;
			memcpy(a + i, &n, 4);
			found = 1;
			break;
		}
	}
	ck_assert(found);
	ck_assert_int_eq(fw_decode(FW_REQ_UPDATE, a, len, &d, out, 4), FW_EVERIFY);
	/* garbage */
	memset(a, 0xa5, len);
	ck_assert_int_eq(fw_decode(FW_REQ_UPDATE, a, len, &d, out, 4), FW_EVERIFY);
	/* misaligned */
	memcpy(a + 1, buf, len);
	ck_assert_int_eq(fw_decode(FW_REQ_UPDATE, a + 1, len, &d, out, 4), FW_EALIGN);
	free(buf);
}
END_TEST

START_TEST(bad_arguments)
{
	fw_tensor t = {NULL, W1, 6};
	fw_msg m = {0};
	m.fmap = &t;
	m.nfmap = 1;
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(fw_encode(FW_REQ_UPDATE, &m, &buf, &len), FW_EINVAL);
	ck_assert_int_eq(fw_encode((fw_kind)99, &m, &buf, &len), FW_EKIND);
	ck_assert_str_eq(fw_kind_name(FW_RSP_GET), "ResponseGetModel");
	ck_assert_str_eq(fw_strerror(FW_EVERIFY), "the FlatBuffers verifier rejected the buffer");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fl_wire");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, start_request_round_trip);
	tcase_add_test(tc, responses_with_models_round_trip);
	tcase_add_test(tc, scaled_upload);
	tcase_add_test(tc, malformed_buffers_fail_verification);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
