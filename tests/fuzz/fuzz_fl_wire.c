/*
 * fuzz_fl_wire.c — the FlatBuffers device codec (node/proto/fl_wire.h): any bytes, read as each
 * message kind, verify and decode or fail with an FW_E* code; whatever decodes lies inside the
 * input, and re-encodes and decodes to the same tensors.
 */
#include "../../node/proto/fl_wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a malloc'd copy: the decoder wants the 8-byte alignment the HTTP layer's bodies have */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fw_tensor t[FW_MAX_TENSORS], t2[FW_MAX_TENSORS];
	for (int k = 0; k < FW_NKINDS; k++) {
		fw_msg m, m2;
		if (fw_decode((fw_kind)k, buf, size, &m, t, FW_MAX_TENSORS) != 0)
			continue;
		int names_ok = 1;
		for (size_t i = 0; i < m.nfmap; i++) {
			FZ_ASSERT(!m.fmap[i].count || ((const uint8_t *)m.fmap[i].data >= buf &&
				  (const uint8_t *)(m.fmap[i].data + m.fmap[i].count) <= buf + size));
			names_ok &= m.fmap[i].name && m.fmap[i].name[0];
		}
		if (!names_ok)
			continue; /* the encoder refuses unnamed tensors */
		uint8_t *out = NULL;
		size_t out_len = 0;
		if (fw_encode((fw_kind)k, &m, &out, &out_len) == 0) {
			FZ_ASSERT(fw_decode((fw_kind)k, out, out_len, &m2, t2, FW_MAX_TENSORS) == 0);
			FZ_ASSERT(m2.nfmap == m.nfmap);
			for (size_t i = 0; i < m.nfmap; i++)
				FZ_ASSERT(m2.fmap[i].count == m.fmap[i].count &&
					  !strcmp(m2.fmap[i].name, m.fmap[i].name) &&
					  (!m.fmap[i].count || !memcmp(m2.fmap[i].data, m.fmap[i].data,
						m.fmap[i].count * sizeof(float))));
		}
		free(out);
	}
	free(buf);
	return 0;
}
