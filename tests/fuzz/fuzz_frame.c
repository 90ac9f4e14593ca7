/*
 * fuzz_frame.c — the inter-node frame decoder (node/proto/frame.c). The first two bytes pick how
 * the rest is split into feeds (the decoder is incremental: any split must give the same
 * frames) and small limits; the frames of a whole feed and of a split feed must agree, and every
 * decoded frame re-encodes to the same bytes.
 */
#include "../../node/proto/frame.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
	uint64_t hash; /* over every frame's fields, in order */
	size_t n;
} seen;

static int on_frame(const frame *f, void *d)
{
	seen *s = d;
	FZ_ASSERT(f->meta && f->meta[f->meta_len] == '\0');
	uint8_t *out = NULL;
	size_t out_len = 0;
	FZ_ASSERT(frame_encode(f->type, f->flags, f->meta, f->meta_len, f->payload, f->payload_len,
			       &out, &out_len) == 0);
	FZ_ASSERT(out_len == FRAME_HDR_LEN + f->meta_len + f->payload_len);
	uLong c = crc32(s->hash, out, (uInt)out_len);
	free(out);
	s->hash = c;
	s->n++;
	return s->n >= 64; /* a stop from the callback is an outcome too */
}

static int decode(const uint8_t *p, size_t len, size_t step, size_t max_meta, size_t max_payload,
		  seen *s)
{
	frame_decoder d;
	frame_decoder_init(&d, max_meta, max_payload);
	int rc = 0;
	for (size_t at = 0; at < len && !rc; at += step)
		rc = frame_decoder_feed(&d, p + at, len - at < step ? len - at : step, on_frame, s);
	if (!rc)
		rc = frame_decoder_feed(&d, NULL, 0, on_frame, s);
	frame_decoder_free(&d);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t step = 1 + data[0] % 32;
	size_t max_meta = data[1] & 1 ? 64 : FRAME_DEFAULT_MAX_META;
	/* not the 256 MiB default: the decoder allocates a declared body up front, which only
	 * slows the search down */
	size_t max_payload = data[1] & 2 ? 64 : (1u << 16);
	data += 2;
	size -= 2;
	seen whole = {0}, split = {0};
	int rw = decode(data, size, size ? size : 1, max_meta, max_payload, &whole);
	int rs = decode(data, size, step, max_meta, max_payload, &split);
	FZ_ASSERT(rw == rs);
	FZ_ASSERT(whole.n == split.n && whole.hash == split.hash);
	if (rw)
		FZ_ASSERT(rw < 0 && frame_strerror(rw) != NULL);
	return 0;
}
