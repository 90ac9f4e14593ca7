/*
 * test_err.c — the one error space (node/util/err.h): no two codes share a number, every code has
 * a name and a text, every module's codes stay in its range and clear of rt.h's, and the module
 * strerror functions name codes of other modules too.
 */
#include "util/err.h"

#include "../../node/model/model.h"
#include "../../node/proto/envelope.h"
#include "../../node/proto/frame.h"
#include "../../node/rt/rt.h"
#include "../../node/sched/sched.h"
#include "../../node/server/srv.h"
#include "../../node/util/flags.h"
#include "../../reports/report.h"
#include "../../sim/fleet/dataset.h"
#include "../../sim/fleet/fleet.h"
#include "../../sim/fleet/lenet.h"
#include "../../sim/fleet/train_real.h"
#include "../../sim/scenario/scenario.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int base;
} bases[] = {
#define B_(mod, base, where) {#mod, base},
	FL_ERR_MODULES(B_)
#undef B_
};
#define NBASES ((int)(sizeof bases / sizeof bases[0]))

START_TEST(no_two_codes_collide)
{
	int n = fl_err_count();
	ck_assert_int_gt(n, 40); /* 13 rt.h codes and every module's */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			const fl_err_info *a = fl_err_at(i), *b = fl_err_at(j);
			ck_assert_msg(a->code != b->code, "%s and %s are both %d", a->name, b->name, a->code);
			ck_assert_msg(strcmp(a->name, b->name) != 0, "%s listed twice", a->name);
		}
	ck_assert_ptr_null(fl_err_at(n));
	ck_assert_ptr_null(fl_err_at(-1));
}
END_TEST

START_TEST(every_code_has_a_name_and_a_text)
{
	for (int i = 0; i < fl_err_count(); i++) {
		const fl_err_info *e = fl_err_at(i);
		ck_assert_ptr_nonnull(e->name);
		ck_assert_str_eq(fl_errname(e->code), e->name);
		ck_assert_str_eq(fl_errmodule(e->code), e->module);
		const char *t = fl_strerror(e->code);
		/* not one of the fallbacks: "unknown error", "unknown FRAME error (node/proto/frame.h)" */
		ck_assert_msg(t && *t && strcmp(t, "unknown error") != 0 && !strstr(t, " error ("),
			      "%s has no text (%s)", e->name, t);
		if (e->text)
			ck_assert_str_eq(t, e->text);
		else /* an rt.h code: the seam's own text */
			ck_assert_str_eq(t, rt_strerror(e->code));
	}
}
END_TEST

START_TEST(codes_stay_in_their_module_range)
{
	for (int i = 0; i < fl_err_count(); i++) {
		const fl_err_info *e = fl_err_at(i);
		int in = -1;
		for (int m = 0; m < NBASES; m++)
			if (e->code < bases[m].base && e->code >= bases[m].base - FL_ERR_RANGE)
				in = m;
		if (!strcmp(e->module, "RT")) {
			ck_assert_msg(in < 0, "%s (%d) lies in %s's range", e->name, e->code, in >= 0 ? bases[in].name : "");
			continue;
		}
		ck_assert_msg(in >= 0, "%s (%d) lies in no module's range", e->name, e->code);
		ck_assert_str_eq(bases[in].name, e->module);
		size_t ml = strlen(e->module);
		ck_assert_msg(!strncmp(e->name, e->module, ml) && !strncmp(e->name + ml, "_E", 2),
			      "%s does not carry its module's prefix %s_E", e->name, e->module);
	}
	for (int m = 0; m + 1 < NBASES; m++) /* ranges are disjoint: bases 100 apart, in order */
		ck_assert_int_ge(bases[m].base - bases[m + 1].base, FL_ERR_RANGE + 1);
}
END_TEST

START_TEST(the_old_collisions_are_gone)
{
	ck_assert_int_ne(FLAGS_EINVAL, LENET_EINVAL);
	ck_assert_int_ne(SCHED_EMETA, DATASET_EINVAL);
	ck_assert_int_ne(SRV_ECONFIG, FLEET_EINVAL);
	ck_assert_int_ne(SC_EINVAL, TRAIN_EINVAL);
	ck_assert_int_ne(REPORT_EIO, RT_ENOENT);
	ck_assert_str_eq(fl_errname(LENET_EINVAL), "LENET_EINVAL");
	ck_assert_str_eq(fl_errname(FLAGS_EINVAL), "FLAGS_EINVAL");
	ck_assert_str_eq(fl_errname(RT_ECONNRESET), "RT_ECONNRESET");
}
END_TEST

START_TEST(module_strerrors_name_any_code)
{
	ck_assert_str_eq(frame_strerror(LENET_ENOMEM), fl_strerror(LENET_ENOMEM));
	ck_assert_str_eq(frame_strerror(RT_ECONNRESET), rt_strerror(RT_ECONNRESET));
	ck_assert_str_eq(envelope_strerror(SCHED_ESTATE), "The cluster is not ready.");
	ck_assert_str_eq(envelope_strerror(ENV_EFMAP), "envelope feature_map malformed or out of bounds");
	/* the scheduler's and server's own functions keep their texts for their codes */
	ck_assert_str_eq(sched_strerror(SCHED_EMETA), fl_strerror(SCHED_EMETA));
	ck_assert_str_eq(srv_strerror(SRV_EOWNER), fl_strerror(SRV_EOWNER));
}
END_TEST

START_TEST(unlisted_codes)
{
	ck_assert_str_eq(fl_strerror(0), "success");
	ck_assert_ptr_null(fl_errname(FL_ERR_FRAME - 98));
	ck_assert_str_eq(fl_errmodule(FL_ERR_FRAME - 98), "FRAME");
	ck_assert_ptr_nonnull(strstr(fl_strerror(FL_ERR_FRAME - 98), "FRAME"));
	ck_assert_ptr_nonnull(strstr(fl_strerror(FL_ERR_TRAIN - 50), "sim/fleet/train_real.h"));
	ck_assert_str_eq(fl_strerror(-999999), "unknown error");
	ck_assert_str_eq(fl_strerror(12345), "unknown error");
	ck_assert_ptr_null(fl_errmodule(-999999));
	ck_assert_ptr_null(fl_errname(-999999));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, no_two_codes_collide);
	tcase_add_test(tc, every_code_has_a_name_and_a_text);
	tcase_add_test(tc, codes_stay_in_their_module_range);
	tcase_add_test(tc, the_old_collisions_are_gone);
	tcase_add_test(tc, module_strerrors_name_any_code);
	tcase_add_test(tc, unlisted_codes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
