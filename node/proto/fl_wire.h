/*
 * fl_wire.h — the device protocol's bodies: MindSpore Federated's FlatBuffers messages
 * (node/proto/fl_job.fbs, byte-compatible with mindspore_federated/schema/fl_job.fbs), read and
 * written through a small C++ unit (fl_wire.cc) over the code flatc generates at build time.
 *
 * One plain C struct, fw_msg, carries the fields of every message; a kind (FW_REQ_START, ...)
 * says which table a buffer holds, and encoding writes only that table's fields. Decoding runs
 * the FlatBuffers verifier over the whole buffer before any field is read: a buffer that fails
 * it is FW_EVERIFY, never a read out of bounds.
 *
 * Ownership: a decoded fw_msg's strings and tensor data point into the verified buffer (which
 * must outlive them and be 8-byte aligned: the HTTP layer's bodies are); its tensor array is the
 * caller's (t, tcap). Strings are NUL-terminated (FlatBuffers guarantees it). An absent string
 * decodes to NULL; an absent scalar to its schema default (0), as in any FlatBuffers reader.
 */
#ifndef FL_WIRE_H
#define FL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes FW_E*: node/util/err.h (the one error space). */

typedef enum fw_kind {
	FW_REQ_START = 0, /* RequestFLJob */
	FW_RSP_START,     /* ResponseFLJob */
	FW_REQ_UPDATE,    /* RequestUpdateModel */
	FW_RSP_UPDATE,    /* ResponseUpdateModel */
	FW_REQ_GET,       /* RequestGetModel */
	FW_RSP_GET,       /* ResponseGetModel */
	FW_REQ_METRICS,   /* RequestPushMetrics */
	FW_RSP_METRICS,   /* ResponsePushMetrics */
	FW_REQ_RESULT,    /* RequestGetResult (flbench's own) */
	FW_RSP_RESULT,    /* ResponseGetResult (flbench's own) */
	FW_NKINDS
} fw_kind;

/* CompressType */
enum { FW_NO_COMPRESS = 0, FW_DIFF_SPARSE_QUANT = 1, FW_QUANT = 2 };

enum { FW_MAX_TENSORS = 64, FW_MAX_COMPRESS_TYPES = 8 };

/* One FeatureMap: weight_fullname and data[count]. */
typedef struct fw_tensor {
	const char *name;
	const float *data;
	size_t count;
} fw_tensor;

/* FLPlan (fl_plan_config), the fields flbench fills. */
typedef struct fw_plan {
	const char *server_mode, *fl_name;
	int32_t iterations, epochs, mini_batch;
	float lr;
	int8_t aggregation; /* AggregationType; FedAvg = 0 */
} fw_plan;

typedef struct fw_msg {
	/* strings (NULL = absent) */
	const char *fl_name, *fl_id, *timestamp, *reason, *next_req_time;
	/* scalars */
	int32_t retcode, iteration, data_size, eval_data_size, iteration_num, metrics_count;
	int is_selected, finished, has_plan;
	float upload_loss, upload_accuracy, loss, accuracy, upload_sparse_rate;
	int8_t upload_compress_type, download_compress_type;
	/* RequestFLJob / RequestGetModel download_compress_types (decode: the first
	 * FW_MAX_COMPRESS_TYPES, ncompress_types the whole count) */
	uint8_t compress_types[FW_MAX_COMPRESS_TYPES];
	size_t ncompress_types;
	/* RequestUpdateModel: compress_feature_map entries and name_vec strings present (decode
	 * only: flbench does not take compressed uploads, see docs/protocol-server.md) */
	size_t ncompress_fmap, nname_vec;
	fw_plan plan; /* ResponseFLJob, when has_plan */
	/* feature_map: encode reads fmap[0..nfmap); decode points fmap at the caller's array */
	const fw_tensor *fmap;
	size_t nfmap;
	/* encode only: when > 0, every tensor's floats are written multiplied by fmap_scale (the
	 * simulated fleet's synthetic uploads, computed straight into the buffer) */
	float fmap_scale;
} fw_msg;

/* The table name of a kind ("RequestFLJob"), or "?" */
const char *fw_kind_name(fw_kind k);

/*
 * Verify buf (len bytes, 8-byte aligned) as a kind's root table and read it into *m (zeroed
 * first). The tensors go into t[0..tcap) (m->fmap = t); more than tcap is FW_ETOOMANY. t may
 * be NULL when tcap is 0: then any feature_map is FW_ETOOMANY. 0 or FW_E*.
 */
int fw_decode(fw_kind k, const uint8_t *buf, size_t len, fw_msg *m, fw_tensor *t, size_t tcap);

/* The same check without reading: 0 when buf verifies as the kind's table. */
int fw_verify(fw_kind k, const uint8_t *buf, size_t len);

/*
 * A reusable encoder (its FlatBufferBuilder keeps its memory from one message to the next: the
 * servers answer every request through one). fw_enc_build writes m as a kind's table; *out
 * (len bytes) is the encoder's and stays valid until the next build or fw_enc_free.
 */
typedef struct fw_enc fw_enc;
fw_enc *fw_enc_new(void);
void fw_enc_free(fw_enc *e);
int fw_enc_build(fw_enc *e, fw_kind k, const fw_msg *m, const uint8_t **out, size_t *len);

/* One-off: the same into a malloc'd *out, the caller's. */
int fw_encode(fw_kind k, const fw_msg *m, uint8_t **out, size_t *len);

const char *fw_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
