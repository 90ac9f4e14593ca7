/*
 * err.h — the one error space: every module's negative error code, with its name and text, and
 * one function that names any code.
 *
 * Each module owns a range of 99 codes below its base (FRAME: -1001 .. -1099, ENV: -1101 ..
 * -1199, ...), so no two modules can hand out the same number (before this list FLAGS_EINVAL and
 * LENET_EINVAL were both -1301). The rt.h codes (RT_E*, errno-like: -2 .. -125 and RT_EOF) stay
 * in rt.h, the seam's contract; fl_strerror names them too. A function may pass on the code of
 * a module it calls (conn reports RT_E* and FRAME_E* through one channel), and whatever number a
 * caller holds, fl_strerror says what it is.
 *
 * A new code: add one X(...) line to its module's list below, in its module's range (the unit
 * test test_err fails on a duplicate value, a code outside its range or an empty name). A new
 * module: a new base 100 below the last one, a new list, and a line in FL_ERR_MODULES.
 *
 * Module headers include this one for their codes, so call sites keep writing FRAME_EMAGIC.
 */
#ifndef FL_ERR_H
#define FL_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(module, base, where the module lives) */
#define FL_ERR_MODULES(X)                                                   \
	X(FRAME, -1000, "node/proto/frame.h")                               \
	X(ENV, -1100, "node/proto/envelope.h")                              \
	X(MODEL, -1200, "node/model/model.h")                               \
	X(FLAGS, -1300, "node/util/flags.h")                                \
	X(SCHED, -1400, "node/sched/sched.h")                               \
	X(SRV, -1500, "node/server/srv.h")                                  \
	X(SC, -1600, "sim/scenario/scenario.h")                             \
	X(PARAM, -1700, "sim/engine/param.h")                               \
	X(LENET, -1800, "sim/fleet/lenet.h")                                \
	X(DATASET, -1900, "sim/fleet/dataset.h")                            \
	X(FLEET, -2000, "sim/fleet/fleet.h")                                \
	X(TRAIN, -2100, "sim/fleet/train_real.h")                           \
	X(REPORT, -2200, "reports/report.h")                                \
	X(FW, -2300, "node/proto/fl_wire.h")                                \
	X(SECAGG, -2400, "node/secagg/secagg.h")                             \
	X(TLS, -2500, "node/proto/tls.h")

#define FL_ERR_RANGE 99 /* codes of a module: base - 1 down to base - FL_ERR_RANGE */

/* X(name, module, offset below the module's base, text). What a code means at its call site
 * (which knob, which file) is in the err message of the function that returns it. */
#define FL_ERR_LIST(X)                                                                            \
	X(FRAME_EMAGIC, FRAME, 1, "bad frame magic")                                              \
	X(FRAME_EVERSION, FRAME, 2, "unknown frame version")                                      \
	X(FRAME_ETOOBIG, FRAME, 3, "frame meta or payload over the limit")                        \
	X(FRAME_ENOMEM, FRAME, 4, "out of memory")                                                \
	X(FRAME_ESTOPPED, FRAME, 5, "frame decoding stopped")                                     \
	X(ENV_ESHORT, ENV, 1, "envelope shorter than its length prefix")                          \
	X(ENV_EJSON, ENV, 2, "envelope header is not a JSON object")                              \
	X(ENV_EFMAP, ENV, 3, "envelope feature_map malformed or out of bounds")                   \
	X(ENV_ENOMEM, ENV, 4, "out of memory")                                                    \
	X(ENV_ETOOBIG, ENV, 5, "envelope too big")                                                \
	X(MODEL_EINVAL, MODEL, 1, "unknown model name or bad parameter count")                    \
	X(MODEL_ENOMEM, MODEL, 2, "out of memory")                                                \
	X(MODEL_EMISMATCH, MODEL, 3, "feature maps of different models")                          \
	X(FLAGS_EINVAL, FLAGS, 1, "bad flag value or unknown flag")                               \
	X(SCHED_EMETA, SCHED, 1, "scheduler metadata file is corrupt or truncated")               \
	X(SCHED_EMANAGE_INUSE, SCHED, 2, "management port already in use")                        \
	X(SCHED_ESTATE, SCHED, 3, "The cluster is not ready.")                                    \
	X(SRV_ECONFIG, SRV, 1, "invalid server configuration")                                    \
	X(SRV_ECORRUPT, SRV, 2, "corrupt recovery file")                                          \
	X(SRV_EOWNER, SRV, 3, "recovery files belong to another node")                            \
	X(SC_EINVAL, SC, 1, "bad scenario or command line")                                       \
	X(SC_ENOMEM, SC, 2, "out of memory")                                                      \
	X(SC_EIO, SC, 3, "a run's files could not be read or written")                            \
	X(PARAM_EINVAL, PARAM, 1, "bad --param (path, value or grid)")                            \
	X(PARAM_ENOMEM, PARAM, 2, "out of memory")                                                \
	X(PARAM_EIO, PARAM, 3, "a sweep's files could not be read or written")                    \
	X(LENET_EINVAL, LENET, 1, "bad LeNet-5 argument")                                         \
	X(LENET_ENOMEM, LENET, 2, "out of memory")                                                \
	X(DATASET_EINVAL, DATASET, 1, "bad dataset argument")                                     \
	X(DATASET_ENOENT, DATASET, 2, "dataset file missing or unreadable")                       \
	X(DATASET_EFORMAT, DATASET, 3, "dataset file is corrupt")                                 \
	X(DATASET_ENOMEM, DATASET, 4, "out of memory")                                            \
	X(FLEET_EINVAL, FLEET, 1, "bad fleet argument")                                           \
	X(FLEET_ENOMEM, FLEET, 2, "out of memory")                                                \
	X(TRAIN_EINVAL, TRAIN, 1, "bad training argument")                                        \
	X(TRAIN_ENOMEM, TRAIN, 2, "out of memory")                                                \
	X(TRAIN_EDATA, TRAIN, 3, "training data could not be loaded")                             \
	X(TRAIN_ENODEV, TRAIN, 4, "no usable training device")                                    \
	X(REPORT_EINPUT, REPORT, 1, "a run's output file is malformed")                           \
	X(REPORT_EIO, REPORT, 2, "a run's directory or report.html could not be read or written") \
	X(REPORT_ENOMEM, REPORT, 3, "out of memory")                                              \
	X(FW_EEMPTY, FW, 1, "empty body: no FlatBuffer")                                          \
	X(FW_EVERIFY, FW, 2, "the FlatBuffers verifier rejected the buffer")                      \
	X(FW_ETOOMANY, FW, 3, "feature_map has more tensors than the model can have")             \
	X(FW_EALIGN, FW, 4, "FlatBuffer not 8-byte aligned in memory")                            \
	X(FW_EINVAL, FW, 5, "a message to encode lacks a tensor name or data")                    \
	X(FW_EKIND, FW, 6, "unknown message kind")                                                \
	X(FW_ENOMEM, FW, 7, "out of memory")                                                     \
	X(SECAGG_EINVAL, SECAGG, 1, "bad secure aggregation argument")                            \
	X(SECAGG_ENOMEM, SECAGG, 2, "out of memory")                                              \
	X(SECAGG_ECONFIG, SECAGG, 3, "invalid encrypt configuration")                             \
	X(SECAGG_EKEY, SECAGG, 4, "bad key, iv or salt (size or value)")                          \
	X(SECAGG_EUNKNOWN, SECAGG, 5, "message names a device unknown to this round")             \
	X(SECAGG_EDUP, SECAGG, 6, "duplicate or replayed secure aggregation message")             \
	X(SECAGG_ESTATE, SECAGG, 7, "message for another iteration or a round not open")          \
	X(SECAGG_ETHRESHOLD, SECAGG, 8, "too few devices or shares for the threshold")            \
	X(SECAGG_ECRYPTO, SECAGG, 9, "decryption, key agreement or reconstruction failed")        \
	X(SECAGG_ESHARE, SECAGG, 10, "malformed secret share")                                    \
	X(SECAGG_ERANGE, SECAGG, 11, "value outside the quantisation ring's range")                \
	X(TLS_ECONFIG, TLS, 1, "TLS certificate, key, CA or cipher list unusable")                \
	X(TLS_EHANDSHAKE, TLS, 2, "TLS handshake failed")                                         \
	X(TLS_EPROTO, TLS, 3, "TLS record error or write after shutdown")                         \
	X(TLS_ENOMEM, TLS, 4, "out of memory")                                                    \
	X(TLS_EGONE, TLS, 5, "the TLS connection was freed by its own callback")

enum {
#define FL_ERR_BASE_(mod, base, where) FL_ERR_##mod = (base),
	FL_ERR_MODULES(FL_ERR_BASE_)
#undef FL_ERR_BASE_
#define FL_ERR_CODE_(name, mod, off, text) name = FL_ERR_##mod - (off),
	FL_ERR_LIST(FL_ERR_CODE_)
#undef FL_ERR_CODE_
};

/* A short constant English text for any code: a module's, an rt.h one, 0 ("success"). A code in a
 * module's range that no list names gets "unknown <module> error"; anything else "unknown
 * error". Never NULL. */
const char *fl_strerror(int err);
/* The symbol of a code ("FLAGS_EINVAL", "RT_ECONNRESET", "RT_OK"), or NULL when it has none. */
const char *fl_errname(int err);
/* The module whose range holds err ("FLAGS"), "RT" for an rt.h code, NULL otherwise. */
const char *fl_errmodule(int err);

/* Every named code, rt.h's included, for tests and tools: the i-th of fl_err_count() entries.
 * text is NULL for rt.h codes (rt_strerror owns those texts; fl_strerror returns them). */
typedef struct fl_err_info {
	int code;
	const char *name;   /* "FRAME_EMAGIC" */
	const char *module; /* "FRAME", or "RT" */
	const char *text;
} fl_err_info;
int fl_err_count(void);
const fl_err_info *fl_err_at(int i); /* NULL when i is out of range */

#ifdef __cplusplus
}
#endif

#endif
