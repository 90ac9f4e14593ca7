/*
 * srv_wire.h — the server's adapter onto the FlatBuffers device wire (proto/fl_wire.h): which
 * table each round reads and answers, a request's fields by their MindSpore names (so the round
 * handlers can read a FlatBuffers request the way they read an envelope header today), and an
 * answer with the model's tensors. It knows nothing of srv: only the model layout and fl_wire,
 * so it is tested on its own (tests/unit/test_srv_wire.c).
 *
 * srv_api.c serves this wire next to the envelope: a body that is not an envelope but verifies
 * as the round's request table is answered in FlatBuffers (docs/protocol-server.md).
 */
#ifndef SRV_WIRE_H
#define SRV_WIRE_H

#include "../model/model.h"
#include "../proto/fl_wire.h"

#include <stddef.h>
#include <stdint.h>

/* The FlatBuffers request / response table of a round (SRV_ROUND_*), or -1 for none. */
int srv_wire_req_kind(int round);
int srv_wire_rsp_kind(int round);

/*
 * Verify and read a round's request from body (len bytes, 8-byte aligned, must outlive *m).
 * Tensors go into t[0..tcap). 0, or FW_E* with why (a RequestError reason) written.
 */
int srv_wire_decode(int round, const uint8_t *body, size_t len, fw_msg *m, fw_tensor *t,
		    size_t tcap, char *why, size_t wlen);

/*
 * A request field by its MindSpore name: the string (NULL when absent or empty), the integer
 * (0, or -1 when the field is unknown, absent, or a string that is not a whole number), and
 * whether it is there (strings: non-empty; scalars: always, FlatBuffers cannot tell a default
 * from an absent field).
 */
const char *srv_wire_str(const fw_msg *m, const char *key);
int srv_wire_int(const fw_msg *m, const char *key, int64_t *out);
int srv_wire_has(const fw_msg *m, const char *key);

/*
 * Encode a round's answer ans through e; with w (the flat weights of def's layout) its
 * feature_map is the model's tensors (tt: caller's scratch of MODEL_MAX_TENSORS). *out is e's,
 * valid until e's next build. 0 or FW_E*.
 */
int srv_wire_answer(fw_enc *e, int round, fw_msg *ans, const model_def *def, const float *w,
		    fw_tensor *tt, const uint8_t **out, size_t *len);

#endif
