/*
 * fl_wire.cc — fl_wire.h over the code flatc generates from fl_job.fbs (the build writes it to
 * $(OUT)/gen/; see the Makefile). Every reader verifies first; every writer goes through the
 * generated builders, so no byte of the wire is laid out by hand here.
 *
 * C++ only inside this file: no exception leaves it (each entry point catches all and answers
 * FW_ENOMEM), so the C callers see 0 or a negative code as everywhere else.
 */
#include "fl_wire.h"

#include "fl_job_generated.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace fs = mindspore::fl::schema;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::Vector;

struct fw_enc {
	FlatBufferBuilder b{4096};
};

namespace {

const char *const kind_names[FW_NKINDS] = {
	"RequestFLJob",       "ResponseFLJob",       "RequestUpdateModel", "ResponseUpdateModel",
	"RequestGetModel",    "ResponseGetModel",    "RequestPushMetrics", "ResponsePushMetrics",
	"RequestGetResult",   "ResponseGetResult",
};

const char *str(const flatbuffers::String *s) { return s ? s->c_str() : nullptr; }

Offset<flatbuffers::String> mkstr(FlatBufferBuilder &b, const char *s)
{
	return s ? b.CreateString(s) : Offset<flatbuffers::String>();
}

/* feature_map of m: each tensor's name and floats (scaled on the way when fmap_scale > 0). */
int mkfmap(FlatBufferBuilder &b, const fw_msg *m, Offset<Vector<Offset<fs::FeatureMap>>> *out)
{
	if (!m->nfmap) {
		*out = 0;
		return 0;
	}
	if (m->nfmap > FW_MAX_TENSORS || !m->fmap)
		return FW_EINVAL;
	Offset<fs::FeatureMap> tabs[FW_MAX_TENSORS];
	for (size_t i = 0; i < m->nfmap; i++) {
		const fw_tensor *t = &m->fmap[i];
		if (!t->name || !t->name[0] || (!t->data && t->count))
			return FW_EINVAL;
		auto name = b.CreateString(t->name);
		float *dst = nullptr;
		auto data = b.CreateUninitializedVector<float>(t->count, &dst);
		if (t->count && m->fmap_scale > 0) {
			const float c = m->fmap_scale;
			for (size_t j = 0; j < t->count; j++)
				dst[j] = t->data[j] * c;
		} else if (t->count) {
			memcpy(dst, t->data, t->count * sizeof(float));
		}
		tabs[i] = fs::CreateFeatureMap(b, name, data);
	}
	*out = b.CreateVector(tabs, m->nfmap);
	return 0;
}

Offset<Vector<int8_t>> mkctypes(FlatBufferBuilder &b, const fw_msg *m)
{
	if (!m->ncompress_types)
		return 0;
	size_t n = m->ncompress_types < FW_MAX_COMPRESS_TYPES ? m->ncompress_types
							      : (size_t)FW_MAX_COMPRESS_TYPES;
	return b.CreateVector(reinterpret_cast<const int8_t *>(m->compress_types), n);
}

int build(FlatBufferBuilder &b, fw_kind k, const fw_msg *m)
{
	Offset<Vector<Offset<fs::FeatureMap>>> fmap = 0;
	int rc = 0;
	switch (k) {
	case FW_REQ_START: {
		auto fl_name = mkstr(b, m->fl_name), fl_id = mkstr(b, m->fl_id),
		     ts = mkstr(b, m->timestamp);
		auto ct = mkctypes(b, m);
		fs::RequestFLJobBuilder t(b);
		t.add_fl_name(fl_name);
		t.add_fl_id(fl_id);
		t.add_iteration(m->iteration);
		t.add_data_size(m->data_size);
		t.add_timestamp(ts);
		if (!ct.IsNull())
			t.add_download_compress_types(ct);
		t.add_eval_data_size(m->eval_data_size);
		b.Finish(t.Finish());
		return 0;
	}
	case FW_RSP_START: {
		if ((rc = mkfmap(b, m, &fmap)))
			return rc;
		Offset<fs::FLPlan> plan = 0;
		if (m->has_plan) {
			auto mode = mkstr(b, m->plan.server_mode), name = mkstr(b, m->plan.fl_name);
			auto agg = fs::CreateAggregation(b, static_cast<fs::AggregationType>(m->plan.aggregation));
			fs::FLPlanBuilder p(b);
			p.add_server_mode(mode);
			p.add_fl_name(name);
			p.add_iterations(m->plan.iterations);
			p.add_epochs(m->plan.epochs);
			p.add_mini_batch(m->plan.mini_batch);
			p.add_lr(m->plan.lr);
			p.add_aggregation(agg);
			plan = p.Finish();
		}
		auto reason = mkstr(b, m->reason), next = mkstr(b, m->next_req_time),
		     ts = mkstr(b, m->timestamp);
		fs::ResponseFLJobBuilder t(b);
		t.add_retcode(m->retcode);
		t.add_reason(reason);
		t.add_iteration(m->iteration);
		t.add_is_selected(m->is_selected != 0);
		t.add_next_req_time(next);
		if (!plan.IsNull())
			t.add_fl_plan_config(plan);
		if (!fmap.IsNull())
			t.add_feature_map(fmap);
		t.add_timestamp(ts);
		t.add_upload_compress_type(static_cast<fs::CompressType>(m->upload_compress_type));
		t.add_upload_sparse_rate(m->upload_sparse_rate);
		t.add_download_compress_type(static_cast<fs::CompressType>(m->download_compress_type));
		b.Finish(t.Finish());
		return 0;
	}
	case FW_REQ_UPDATE: {
		if ((rc = mkfmap(b, m, &fmap)))
			return rc;
		auto fl_name = mkstr(b, m->fl_name), fl_id = mkstr(b, m->fl_id),
		     ts = mkstr(b, m->timestamp);
		fs::RequestUpdateModelBuilder t(b);
		t.add_fl_name(fl_name);
		t.add_fl_id(fl_id);
		t.add_iteration(m->iteration);
		if (!fmap.IsNull())
			t.add_feature_map(fmap);
		t.add_timestamp(ts);
		t.add_upload_loss(m->upload_loss);
		t.add_upload_compress_type(static_cast<fs::CompressType>(m->upload_compress_type));
		t.add_upload_accuracy(m->upload_accuracy);
		b.Finish(t.Finish());
		return 0;
	}
	case FW_RSP_UPDATE: {
		auto reason = mkstr(b, m->reason), next = mkstr(b, m->next_req_time),
		     ts = mkstr(b, m->timestamp);
		b.Finish(fs::CreateResponseUpdateModel(b, m->retcode, reason, 0, next, ts));
		return 0;
	}
	case FW_REQ_GET: {
		auto fl_name = mkstr(b, m->fl_name), ts = mkstr(b, m->timestamp);
		auto ct = mkctypes(b, m);
		b.Finish(fs::CreateRequestGetModel(b, fl_name, m->iteration, ts, ct));
		return 0;
	}
	case FW_RSP_GET: {
		if ((rc = mkfmap(b, m, &fmap)))
			return rc;
		auto reason = mkstr(b, m->reason), ts = mkstr(b, m->timestamp);
		b.Finish(fs::CreateResponseGetModel(
			b, m->retcode, reason, m->iteration, fmap, ts,
			static_cast<fs::CompressType>(m->download_compress_type)));
		return 0;
	}
	case FW_REQ_METRICS:
		b.Finish(fs::CreateRequestPushMetrics(b, m->loss, m->accuracy));
		return 0;
	case FW_RSP_METRICS:
		b.Finish(fs::CreateResponsePushMetrics(b, m->retcode));
		return 0;
	case FW_REQ_RESULT: {
		auto fl_name = mkstr(b, m->fl_name), ts = mkstr(b, m->timestamp);
		b.Finish(fs::CreateRequestGetResult(b, fl_name, ts));
		return 0;
	}
	case FW_RSP_RESULT: {
		if ((rc = mkfmap(b, m, &fmap)))
			return rc;
		auto reason = mkstr(b, m->reason), ts = mkstr(b, m->timestamp);
		b.Finish(fs::CreateResponseGetResult(b, m->retcode, reason, m->iteration,
						     m->iteration_num, m->finished != 0, fmap,
						     m->metrics_count, m->loss, m->accuracy, ts));
		return 0;
	}
	default:
		return FW_EKIND;
	}
}

int rdfmap(const Vector<Offset<fs::FeatureMap>> *v, fw_msg *m, fw_tensor *t, size_t tcap)
{
	m->fmap = t;
	m->nfmap = 0;
	if (!v)
		return 0;
	if (v->size() > tcap)
		return FW_ETOOMANY;
	for (flatbuffers::uoffset_t i = 0; i < v->size(); i++) {
		const fs::FeatureMap *f = v->Get(i);
		t[i].name = str(f->weight_fullname());
		t[i].data = f->data() ? f->data()->data() : nullptr;
		t[i].count = f->data() ? f->data()->size() : 0;
	}
	m->nfmap = v->size();
	return 0;
}

void rdctypes(const Vector<int8_t> *v, fw_msg *m)
{
	if (!v)
		return;
	m->ncompress_types = v->size();
	for (flatbuffers::uoffset_t i = 0; i < v->size() && i < FW_MAX_COMPRESS_TYPES; i++)
		m->compress_types[i] = static_cast<uint8_t>(v->Get(i));
}

/* Depth and table-count bounds: our messages nest four deep; a hostile buffer cannot make the
 * verifier walk more than this many tables. */
enum { MAX_DEPTH = 16, MAX_TABLES = 4096 };

template <typename T> const T *verified(const uint8_t *buf, size_t len)
{
	flatbuffers::Verifier v(buf, len, MAX_DEPTH, MAX_TABLES);
	if (!v.VerifyBuffer<T>(nullptr))
		return nullptr;
	return flatbuffers::GetRoot<T>(buf);
}

int check(const uint8_t *buf, size_t len)
{
	if (!buf || len == 0)
		return FW_EEMPTY;
	if (reinterpret_cast<uintptr_t>(buf) % 8)
		return FW_EALIGN;
	if (len < 8 || len > FLATBUFFERS_MAX_BUFFER_SIZE)
		return FW_EVERIFY;
	return 0;
}

int decode(fw_kind k, const uint8_t *buf, size_t len, fw_msg *m, fw_tensor *t, size_t tcap)
{
	int rc = check(buf, len);
	if (rc)
		return rc;
	switch (k) {
	case FW_REQ_START: {
		auto r = verified<fs::RequestFLJob>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->fl_name = str(r->fl_name());
		m->fl_id = str(r->fl_id());
		m->iteration = r->iteration();
		m->data_size = r->data_size();
		m->timestamp = str(r->timestamp());
		m->eval_data_size = r->eval_data_size();
		rdctypes(r->download_compress_types(), m);
		return 0;
	}
	case FW_RSP_START: {
		auto r = verified<fs::ResponseFLJob>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->retcode = r->retcode();
		m->reason = str(r->reason());
		m->iteration = r->iteration();
		m->is_selected = r->is_selected();
		m->next_req_time = str(r->next_req_time());
		if (const fs::FLPlan *p = r->fl_plan_config()) {
			m->has_plan = 1;
			m->plan.server_mode = str(p->server_mode());
			m->plan.fl_name = str(p->fl_name());
			m->plan.iterations = p->iterations();
			m->plan.epochs = p->epochs();
			m->plan.mini_batch = p->mini_batch();
			m->plan.lr = p->lr();
			m->plan.aggregation = p->aggregation()
						      ? static_cast<int8_t>(p->aggregation()->type())
						      : 0;
		}
		m->timestamp = str(r->timestamp());
		m->upload_compress_type = static_cast<int8_t>(r->upload_compress_type());
		m->upload_sparse_rate = r->upload_sparse_rate();
		m->download_compress_type = static_cast<int8_t>(r->download_compress_type());
		return rdfmap(r->feature_map(), m, t, tcap);
	}
	case FW_REQ_UPDATE: {
		auto r = verified<fs::RequestUpdateModel>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->fl_name = str(r->fl_name());
		m->fl_id = str(r->fl_id());
		m->iteration = r->iteration();
		m->timestamp = str(r->timestamp());
		m->upload_loss = r->upload_loss();
		m->upload_accuracy = r->upload_accuracy();
		m->upload_compress_type = static_cast<int8_t>(r->upload_compress_type());
		m->upload_sparse_rate = r->upload_sparse_rate();
		m->ncompress_fmap = r->compress_feature_map() ? r->compress_feature_map()->size() : 0;
		m->nname_vec = r->name_vec() ? r->name_vec()->size() : 0;
		return rdfmap(r->feature_map(), m, t, tcap);
	}
	case FW_RSP_UPDATE: {
		auto r = verified<fs::ResponseUpdateModel>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->retcode = r->retcode();
		m->reason = str(r->reason());
		m->next_req_time = str(r->next_req_time());
		m->timestamp = str(r->timestamp());
		return rdfmap(r->feature_map(), m, t, tcap);
	}
	case FW_REQ_GET: {
		auto r = verified<fs::RequestGetModel>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->fl_name = str(r->fl_name());
		m->iteration = r->iteration();
		m->timestamp = str(r->timestamp());
		rdctypes(r->download_compress_types(), m);
		return 0;
	}
	case FW_RSP_GET: {
		auto r = verified<fs::ResponseGetModel>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->retcode = r->retcode();
		m->reason = str(r->reason());
		m->iteration = r->iteration();
		m->timestamp = str(r->timestamp());
		m->download_compress_type = static_cast<int8_t>(r->download_compress_type());
		return rdfmap(r->feature_map(), m, t, tcap);
	}
	case FW_REQ_METRICS: {
		auto r = verified<fs::RequestPushMetrics>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->loss = r->loss();
		m->accuracy = r->accuracy();
		return 0;
	}
	case FW_RSP_METRICS: {
		auto r = verified<fs::ResponsePushMetrics>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->retcode = r->retcode();
		return 0;
	}
	case FW_REQ_RESULT: {
		auto r = verified<fs::RequestGetResult>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->fl_name = str(r->fl_name());
		m->timestamp = str(r->timestamp());
		return 0;
	}
	case FW_RSP_RESULT: {
		auto r = verified<fs::ResponseGetResult>(buf, len);
		if (!r)
			return FW_EVERIFY;
		m->retcode = r->retcode();
		m->reason = str(r->reason());
		m->iteration = r->iteration();
		m->iteration_num = r->iteration_num();
		m->finished = r->finished();
		m->metrics_count = r->metrics_count();
		m->loss = r->loss();
		m->accuracy = r->accuracy();
		m->timestamp = str(r->timestamp());
		return rdfmap(r->feature_map(), m, t, tcap);
	}
	default:
		return FW_EKIND;
	}
}

} // namespace

extern "C" {

const char *fw_kind_name(fw_kind k)
{
	return k >= 0 && k < FW_NKINDS ? kind_names[k] : "?";
}

int fw_decode(fw_kind k, const uint8_t *buf, size_t len, fw_msg *m, fw_tensor *t, size_t tcap)
{
	if (!m)
		return FW_EINVAL;
	memset(m, 0, sizeof *m);
	try {
		int rc = decode(k, buf, len, m, t, tcap);
		if (rc) {
			memset(m, 0, sizeof *m);
			m->fmap = t;
		}
		return rc;
	} catch (...) {
		memset(m, 0, sizeof *m);
		return FW_ENOMEM;
	}
}

int fw_verify(fw_kind k, const uint8_t *buf, size_t len)
{
	fw_msg m;
	fw_tensor t[FW_MAX_TENSORS];
	return fw_decode(k, buf, len, &m, t, FW_MAX_TENSORS);
}

fw_enc *fw_enc_new(void)
{
	try {
		return new fw_enc;
	} catch (...) {
		return nullptr;
	}
}

void fw_enc_free(fw_enc *e) { delete e; }

int fw_enc_build(fw_enc *e, fw_kind k, const fw_msg *m, const uint8_t **out, size_t *len)
{
	if (!e || !m || !out || !len)
		return FW_EINVAL;
	try {
		e->b.Clear();
		int rc = build(e->b, k, m);
		if (rc)
			return rc;
		*out = e->b.GetBufferPointer();
		*len = e->b.GetSize();
		return 0;
	} catch (...) {
		e->b.Clear();
		return FW_ENOMEM;
	}
}

int fw_encode(fw_kind k, const fw_msg *m, uint8_t **out, size_t *len)
{
	if (!out || !len)
		return FW_EINVAL;
	*out = nullptr;
	fw_enc *e = fw_enc_new();
	if (!e)
		return FW_ENOMEM;
	const uint8_t *p;
	size_t n;
	int rc = fw_enc_build(e, k, m, &p, &n);
	if (!rc) {
		/* at least 8 bytes and 8-aligned (malloc): the buffer can be decoded in place */
		*out = static_cast<uint8_t *>(malloc(n ? n : 1));
		if (*out) {
			memcpy(*out, p, n);
			*len = n;
		} else {
			rc = FW_ENOMEM;
		}
	}
	fw_enc_free(e);
	return rc;
}

const char *fw_strerror(int err) { return fl_strerror(err); }

} // extern "C"
