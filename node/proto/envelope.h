/*
 * envelope.h — the device-API body: a 4-byte little-endian header length, a JSON header, then
 * raw little-endian float32 tensor bytes. The header's "feature_map" describes the tensors:
 *   "feature_map": [{"name": "conv1.weight", "offset": 0, "count": 150}, ...]
 * offset and count are in float32 elements from the start of the tensor region.
 */
#ifndef FL_ENVELOPE_H
#define FL_ENVELOPE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

/* Error codes ENV_E*: node/util/err.h (the one error space). */

typedef struct env_tensor {
	const char *name;
	const float *data; /* count floats */
	size_t count;
} env_tensor;

/*
 * Encode: `hdr` is a JSON object (not modified; feature_map is added to a copy when ntensors > 0).
 * *out is malloc'd and owned by the caller.
 */
int envelope_encode(const cJSON *hdr, const env_tensor *tensors, size_t ntensors, uint8_t **out,
		    size_t *out_len);

/*
 * The same in two parts, for a caller that writes the tensors itself (straight into a request
 * buffer, say): *head (malloc'd, the caller's) is the length prefix and the padded JSON header,
 * *head_len bytes; the tensors follow it back to back, to *total_len bytes in all. The tensors'
 * data pointers are only checked, not read.
 */
int envelope_encode_head(const cJSON *hdr, const env_tensor *tensors, size_t ntensors,
			 uint8_t **head, size_t *head_len, size_t *total_len);

/*
 * Decode: *hdr is a new cJSON object owned by the caller (cJSON_Delete). If the header has a
 * feature_map, *tensors (malloc'd array, caller frees; names point into *hdr, data into buf —
 * which must therefore outlive them and be 4-byte aligned for direct float access, else the
 * data pointers are only valid for memcpy) and *ntensors are filled. tensors may be NULL.
 */
int envelope_decode(const uint8_t *buf, size_t len, cJSON **hdr, env_tensor **tensors,
		    size_t *ntensors);
/*
 * The same result for tensors, faster on the common shape (the feature_map last, as
 * envelope_encode and the servers write it): the feature_map is read without cJSON and is not
 * in *hdr; *tensors is one malloc'd block that also holds the names (free(*tensors) frees
 * them; they do not point into *hdr). Any other shape goes to envelope_decode (and then *hdr
 * does hold the feature_map). tensors and ntensors must not be NULL.
 */
int envelope_decode_lean(const uint8_t *buf, size_t len, cJSON **hdr, env_tensor **tensors,
			 size_t *ntensors);
const char *envelope_strerror(int err);

#endif
