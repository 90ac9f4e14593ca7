/*
 * fuzz_envelope.c — the device-API body codec (node/proto/envelope.c): any bytes decode to a
 * header and tensors or to an ENV_E* error; a decoded body re-encodes and decodes to the same
 * tensors.
 */
#include "../../node/proto/envelope.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A malloc'd copy: the decoder reads floats in place from 4-byte aligned buffers. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	cJSON *hdr = NULL;
	env_tensor *t = NULL;
	size_t nt = 0;
	int rc = envelope_decode(buf, size, &hdr, &t, &nt);
	if (rc == 0) {
		FZ_ASSERT(cJSON_IsObject(hdr));
		for (size_t i = 0; i < nt; i++) {
			FZ_ASSERT(t[i].name != NULL);
			/* every tensor lies inside the input */
			FZ_ASSERT(!t[i].count || ((const uint8_t *)t[i].data >= buf &&
				  (const uint8_t *)(t[i].data + t[i].count) <= buf + size));
		}
		cJSON *h2 = cJSON_Duplicate(hdr, 1);
		if (h2)
			cJSON_DeleteItemFromObjectCaseSensitive(h2, "feature_map");
		uint8_t *out = NULL;
		size_t out_len = 0;
		if (h2 && envelope_encode(h2, t, nt, &out, &out_len) == 0) {
			cJSON *hdr2 = NULL;
			env_tensor *t2 = NULL;
			size_t nt2 = 0;
			FZ_ASSERT(envelope_decode(out, out_len, &hdr2, &t2, &nt2) == 0);
			FZ_ASSERT(nt2 == nt);
			for (size_t i = 0; i < nt; i++)
				FZ_ASSERT(t2[i].count == t[i].count && !strcmp(t2[i].name, t[i].name) &&
					  !memcmp(t2[i].data, t[i].data, t[i].count * 4));
			free(t2);
			cJSON_Delete(hdr2);
			free(out);
		}
		cJSON_Delete(h2);
	} else {
		FZ_ASSERT(rc < 0 && envelope_strerror(rc) != NULL);
	}
	free(t);
	cJSON_Delete(hdr);
	free(buf);
	return 0;
}
