/*
 * test_srv_fb.c — the device API on MindSpore's FlatBuffers wire (issue 16; srv_api.c serves it
 * next to the envelope while the clients move over): one standalone server, devices posting
 * RequestFLJob / RequestUpdateModel / RequestGetModel / RequestPushMetrics built with fl_wire,
 * answers read back with fl_wire, the aggregated model checked against a FedAvg computed here.
 */
#include "test_srv_util.h"
#include "proto/fl_wire.h"

#define SIP "10.0.0.1"
#define PORT 6668

static void destroy_hook(void *owner) { srv_destroy(owner); }

typedef struct fb_reply {
	int done, status, text;
	uint8_t *body; /* owned, 8-byte aligned copy */
	size_t len;
} fb_reply;

static void fb_on_resp(int err, const http_response *resp, void *data)
{
	fb_reply *r = data;
	r->done = 1;
	if (err || !resp)
		return;
	r->status = resp->status;
	r->len = resp->body_len;
	r->body = aligned_alloc(8, (resp->body_len + 8) & ~(size_t)7);
	memcpy(r->body, resp->body, resp->body_len);
}

static void fb_call(devs *d, const char *round, fw_kind k, const fw_msg *m, fb_reply *out)
{
	uint8_t *body;
	size_t len;
	char path[64];

	memset(out, 0, sizeof *out);
	ck_assert_int_eq(fw_encode(k, m, &body, &len), 0);
	snprintf(path, sizeof path, "/%s", round);
	ck_assert_int_eq(http_client_request(d->c, SIP, PORT, "POST", path,
					     "application/octet-stream", body, len, NULL, 60000,
					     fb_on_resp, out), 0);
	free(body);
	uint64_t until = rt_sim_now_ns(d->sim) + 5000 * MS;
	while (!out->done && rt_sim_now_ns(d->sim) < until && rt_sim_step(d->sim))
		;
	ck_assert(out->done && out->status == 200);
}

START_TEST(test_fb_iteration)
{
	srv_config c;
	srv *s;
	rt_host *h;
	model_def def;
	devs d;
	char ts[32];

	base_cfg(&c, "0", "synthetic:6");
	c.start_fl_job_threshold = 2;
	c.update_model_ratio = 1.0;
	c.fl_iteration_num = 3;
	c.scheduler_port = 0;
	rt_sim *sim = rt_sim_new(7);
	test_log_setup(sim);
	ck_assert_int_eq(rt_sim_host_new(sim, "server/0", SIP, &h), 0);
	ck_assert_int_eq(srv_new(h, &c, &s), 0);
	rt_sim_host_set_owner(h, destroy_hook, s);
	ck_assert_int_eq(model_def_parse(c.model, &def), 0);
	devs_init(&d, sim, "10.0.0.100", &def);
	run_for(sim, 10);

	const char *ids[2] = { "dev-a", "dev-b" };
	int32_t ds[2] = { 10, 30 };
	fb_reply r[2];
	fw_msg m, a;
	fw_tensor t[MODEL_MAX_TENSORS];
	for (int i = 0; i < 2; i++) {
		memset(&m, 0, sizeof m);
		snprintf(ts, sizeof ts, "%lld", (long long)devs_now(&d));
		m.fl_name = c.fl_name;
		m.fl_id = ids[i];
		m.timestamp = ts;
		m.data_size = ds[i];
		uint8_t *body;
		size_t len;
		ck_assert_int_eq(fw_encode(FW_REQ_START, &m, &body, &len), 0);
		memset(&r[i], 0, sizeof r[i]);
		ck_assert_int_eq(http_client_request(d.c, SIP, PORT, "POST", "/startFLJob",
						     "application/octet-stream", body, len, NULL,
						     60000, fb_on_resp, &r[i]), 0);
		free(body);
	}
	while ((!r[0].done || !r[1].done) && rt_sim_step(sim))
		;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(fw_decode(FW_RSP_START, r[i].body, r[i].len, &a, t,
					   MODEL_MAX_TENSORS), 0);
		ck_assert_msg(a.retcode == 200, "%d %s", a.retcode, a.reason);
		ck_assert_int_eq(a.iteration, 1);
		ck_assert(a.has_plan && a.plan.iterations == 3);
		ck_assert_uint_eq(a.nfmap, def.ntensors);
		free(r[i].body);
	}
	/* uploads: device i sends all (i + 1); FedAvg weighted by data_size */
	float w[2][64];
	fw_tensor up[2][MODEL_MAX_TENSORS];
	for (int i = 0; i < 2; i++) {
		for (size_t j = 0; j < def.total; j++)
			w[i][j] = (float)(i + 1);
		for (size_t k = 0; k < def.ntensors; k++) {
			up[i][k].name = def.tensors[k].name;
			up[i][k].data = w[i] + def.tensors[k].offset;
			up[i][k].count = def.tensors[k].count;
		}
		memset(&m, 0, sizeof m);
		snprintf(ts, sizeof ts, "%lld", (long long)devs_now(&d));
		m.fl_name = c.fl_name;
		m.fl_id = ids[i];
		m.timestamp = ts;
		m.iteration = 1;
		m.fmap = up[i];
		m.nfmap = def.ntensors;
		m.upload_loss = 0.5f;
		fb_call(&d, "updateModel", FW_REQ_UPDATE, &m, &r[i]);
		ck_assert_int_eq(fw_decode(FW_RSP_UPDATE, r[i].body, r[i].len, &a, NULL, 0), 0);
		ck_assert_msg(a.retcode == 200, "%d %s", a.retcode, a.reason);
		free(r[i].body);
	}
	run_for(sim, 3000);
	memset(&m, 0, sizeof m);
	snprintf(ts, sizeof ts, "%lld", (long long)devs_now(&d));
	m.fl_name = c.fl_name;
	m.timestamp = ts;
	m.iteration = 1;
	fb_call(&d, "getModel", FW_REQ_GET, &m, &r[0]);
	ck_assert_int_eq(fw_decode(FW_RSP_GET, r[0].body, r[0].len, &a, t, MODEL_MAX_TENSORS), 0);
	ck_assert_msg(a.retcode == 200, "%d %s", a.retcode, a.reason);
	ck_assert_int_eq(a.iteration, 1);
	ck_assert_uint_eq(a.nfmap, def.ntensors);
	float want = (10 * 1.0f + 30 * 2.0f) / 40;
	for (size_t k = 0; k < a.nfmap; k++)
		for (size_t j = 0; j < a.fmap[k].count; j++)
			ck_assert_msg(fabsf(a.fmap[k].data[j] - want) < 1e-5f, "%g != %g",
				      a.fmap[k].data[j], want);
	free(r[0].body);

	memset(&m, 0, sizeof m);
	snprintf(ts, sizeof ts, "%lld", (long long)devs_now(&d));
	m.timestamp = ts;
	m.loss = 0.25f;
	m.accuracy = 0.75f;
	fb_call(&d, "pushMetrics", FW_REQ_METRICS, &m, &r[0]);
	ck_assert_int_eq(fw_decode(FW_RSP_METRICS, r[0].body, r[0].len, &a, NULL, 0), 0);
	ck_assert_msg(a.retcode == 200, "%d %s", a.retcode, a.reason);
	free(r[0].body);

	/* a malformed body: a RequestError, and the server keeps serving */
	static const uint8_t junk[16] __attribute__((aligned(8))) = {0xff, 0xff, 0xff, 0x7f};
	memset(&r[0], 0, sizeof r[0]);
	ck_assert_int_eq(http_client_request(d.c, SIP, PORT, "POST", "/updateModel",
					     "application/octet-stream", junk, sizeof junk, NULL,
					     60000, fb_on_resp, &r[0]), 0);
	while (!r[0].done && rt_sim_step(sim))
		;
	ck_assert_int_eq(r[0].status, 200);
	ck_assert_ptr_nonnull(memmem(r[0].body, r[0].len, "400", 3));
	free(r[0].body);
	devs_free(&d);
	rt_sim_free(sim);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("srv_fb");
	TCase *tc = tcase_create("wire");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fb_iteration);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
