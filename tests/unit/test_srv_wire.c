/*
 * test_srv_wire.c — the server's FlatBuffers adapter (node/server/srv_wire.h): a request read by
 * its MindSpore field names, a malformed body turned into a RequestError reason, and an answer
 * carrying the model's tensors in the model's layout.
 */
#include "server/srv_int.h"
#include "server/srv_wire.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(request_fields_by_name)
{
	fw_msg m = {0}, d;
	m.fl_name = "lenet";
	m.fl_id = "dev-1";
	m.timestamp = "1700000000000";
	m.data_size = 12;
	m.iteration = 4;
	uint8_t *buf;
	size_t len;
	char why[160];
	int64_t x;
	ck_assert_int_eq(fw_encode(FW_REQ_START, &m, &buf, &len), 0);
	ck_assert_int_eq(srv_wire_decode(SRV_ROUND_START, buf, len, &d, NULL, 0, why, sizeof why), 0);
	ck_assert_str_eq(srv_wire_str(&d, "fl_id"), "dev-1");
	ck_assert_str_eq(srv_wire_str(&d, "fl_name"), "lenet");
	ck_assert_int_eq(srv_wire_int(&d, "timestamp", &x), 0);
	ck_assert(x == 1700000000000LL);
	ck_assert_int_eq(srv_wire_int(&d, "data_size", &x), 0);
	ck_assert(x == 12);
	ck_assert(srv_wire_has(&d, "timestamp"));
	ck_assert(srv_wire_str(&d, "nonesuch") == NULL);
	ck_assert_int_eq(srv_wire_int(&d, "nonesuch", &x), -1);
	free(buf);

	/* MindSpore's own clients' timestamps are not epoch ms */
	m.timestamp = "2020/11/16/19/18";
	ck_assert_int_eq(fw_encode(FW_REQ_START, &m, &buf, &len), 0);
	ck_assert_int_eq(srv_wire_decode(SRV_ROUND_START, buf, len, &d, NULL, 0, why, sizeof why), 0);
	ck_assert(srv_wire_has(&d, "timestamp"));
	ck_assert_int_eq(srv_wire_int(&d, "timestamp", &x), -1);
	free(buf);
}
END_TEST

START_TEST(malformed_body_is_a_reason)
{
	static const uint8_t junk[16] __attribute__((aligned(8))) = {0xff, 0xff, 0xff, 0x7f};
	fw_msg d;
	char why[160];
	ck_assert_int_ne(srv_wire_decode(SRV_ROUND_UPDATE, junk, sizeof junk, &d, NULL, 0, why,
					 sizeof why), 0);
	ck_assert_ptr_nonnull(strstr(why, "RequestUpdateModel"));
	ck_assert_int_ne(srv_wire_decode(SRV_ROUND_GET, junk, 0, &d, NULL, 0, why, sizeof why), 0);
	ck_assert_int_eq(srv_wire_req_kind(SRV_ROUND_OTHER), -1);
}
END_TEST

START_TEST(answer_carries_the_model)
{
	model_def def = {0};
	strcpy(def.tensors[0].name, "a");
	def.tensors[0].count = 2;
	def.tensors[0].offset = 0;
	strcpy(def.tensors[1].name, "b");
	def.tensors[1].count = 1;
	def.tensors[1].offset = 2;
	def.ntensors = 2;
	def.total = 3;
	const float w[3] = {1.5f, -2, 3};
	fw_tensor tt[MODEL_MAX_TENSORS], out[4];
	fw_msg ans = {0}, d;
	ans.retcode = 200;
	ans.reason = "success";
	ans.iteration = 7;
	ans.timestamp = "9";
	fw_enc *e = fw_enc_new();
	ck_assert_ptr_nonnull(e);
	const uint8_t *buf;
	size_t len;
	ck_assert_int_eq(srv_wire_answer(e, SRV_ROUND_GET, &ans, &def, w, tt, &buf, &len), 0);
	/* the encoder's buffer is aligned for the decoder: copy to be sure of it here */
	uint8_t *cp = aligned_alloc(8, (len + 7) & ~(size_t)7);
	memcpy(cp, buf, len);
	ck_assert_int_eq(fw_decode(FW_RSP_GET, cp, len, &d, out, 4), 0);
	ck_assert_int_eq(d.retcode, 200);
	ck_assert_int_eq(d.iteration, 7);
	ck_assert_uint_eq(d.nfmap, 2);
	ck_assert_str_eq(d.fmap[1].name, "b");
	ck_assert(d.fmap[0].count == 2 && d.fmap[0].data[1] == -2);
	ck_assert(d.fmap[1].data[0] == 3);
	free(cp);
	fw_enc_free(e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("srv_wire");
	TCase *tc = tcase_create("adapter");
	tcase_add_test(tc, request_fields_by_name);
	tcase_add_test(tc, malformed_body_is_a_reason);
	tcase_add_test(tc, answer_carries_the_model);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
