/*
 * srv_wire.c — see srv_wire.h. The name tables follow fl_job.fbs: a handler asks for "fl_id" or
 * "iteration" whatever the table, and gets what that table holds under that name.
 */
#include "srv_wire.h"
#include "srv_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int req_kinds[SRV_NROUNDS] = { FW_REQ_START, FW_REQ_UPDATE, FW_REQ_GET,
					    FW_REQ_METRICS, -1 };
static const int rsp_kinds[SRV_NROUNDS] = { FW_RSP_START, FW_RSP_UPDATE, FW_RSP_GET,
					    FW_RSP_METRICS, -1 };

int srv_wire_req_kind(int round)
{
	return round >= 0 && round < SRV_NROUNDS ? req_kinds[round] : -1;
}

int srv_wire_rsp_kind(int round)
{
	return round >= 0 && round < SRV_NROUNDS ? rsp_kinds[round] : -1;
}

int srv_wire_decode(int round, const uint8_t *body, size_t len, fw_msg *m, fw_tensor *t,
		    size_t tcap, char *why, size_t wlen)
{
	int k = srv_wire_req_kind(round);
	if (k < 0) {
		snprintf(why, wlen, "This round takes no request.");
		return FW_EINVAL;
	}
	int rc = fw_decode((fw_kind)k, body, len, m, t, tcap);
	if (rc)
		snprintf(why, wlen, "The request body is not a valid %s: %s.",
			 fw_kind_name((fw_kind)k), fw_strerror(rc));
	return rc;
}

const char *srv_wire_str(const fw_msg *m, const char *key)
{
	const char *v = NULL;

	if (!strcmp(key, "fl_name"))
		v = m->fl_name;
	else if (!strcmp(key, "fl_id"))
		v = m->fl_id;
	else if (!strcmp(key, "timestamp"))
		v = m->timestamp;
	return v && v[0] ? v : NULL;
}

int srv_wire_int(const fw_msg *m, const char *key, int64_t *out)
{
	if (!strcmp(key, "iteration")) {
		*out = m->iteration;
		return 0;
	}
	if (!strcmp(key, "data_size")) {
		*out = m->data_size;
		return 0;
	}
	/* the timestamp is a string in the schema; our replay check wants epoch ms in it */
	const char *str = srv_wire_str(m, key);
	if (!str)
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(str, &end, 10);
	if (errno || *end)
		return -1;
	*out = x;
	return 0;
}

int srv_wire_has(const fw_msg *m, const char *key)
{
	int64_t x;

	if (!strcmp(key, "iteration") || !strcmp(key, "data_size"))
		return 1;
	if (srv_wire_str(m, key))
		return 1;
	return srv_wire_int(m, key, &x) == 0;
}

int srv_wire_answer(fw_enc *e, int round, fw_msg *ans, const model_def *def, const float *w,
		    fw_tensor *tt, const uint8_t **out, size_t *len)
{
	int k = srv_wire_rsp_kind(round);
	if (k < 0)
		return FW_EINVAL;
	if (w && def) {
		for (size_t i = 0; i < def->ntensors; i++) {
			tt[i].name = def->tensors[i].name;
			tt[i].data = w + def->tensors[i].offset;
			tt[i].count = def->tensors[i].count;
		}
		ans->fmap = tt;
		ans->nfmap = def->ntensors;
	}
	return fw_enc_build(e, (fw_kind)k, ans, out, len);
}
