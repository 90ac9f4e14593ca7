/*
 * frame.h — inter-node frames: a 16-byte little-endian header, a JSON meta part and a binary
 * payload.
 *
 *   offset 0  u32 magic   'FLBF' (0x46424C46)
 *          4  u8  version (FRAME_VERSION)
 *          5  u8  type    (message type, see msg.h)
 *          6  u16 flags
 *          8  u32 meta length    (bytes of JSON that follow the header)
 *         12  u32 payload length (bytes of binary that follow the meta)
 *
 * The decoder is incremental: input may be split at any byte. A bad magic, a bad version or a
 * length over the decoder's limits is an error (the caller closes the stream), never a crash.
 */
#ifndef FL_FRAME_H
#define FL_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

#define FRAME_MAGIC 0x46424C46u
#define FRAME_VERSION 1
#define FRAME_HDR_LEN 16
#define FRAME_DEFAULT_MAX_META (1u << 20)     /* 1 MiB */
#define FRAME_DEFAULT_MAX_PAYLOAD (256u << 20) /* 256 MiB */

/* Error codes FRAME_E*: node/util/err.h (the one error space). */

typedef struct frame {
	uint8_t type;
	uint16_t flags;
	const char *meta; /* meta_len bytes of JSON, NUL-terminated (the NUL is not counted) */
	size_t meta_len;
	const uint8_t *payload;
	size_t payload_len;
} frame;

/* Encode into one malloc'd buffer (*out, owned by the caller). meta may be NULL (empty). */
int frame_encode(uint8_t type, uint16_t flags, const char *meta, size_t meta_len,
		 const void *payload, size_t payload_len, uint8_t **out, size_t *out_len);
/* Write just the 16-byte header for the given sizes into hdr. */
void frame_header(uint8_t hdr[FRAME_HDR_LEN], uint8_t type, uint16_t flags, size_t meta_len,
		  size_t payload_len);

/* Called for each complete frame; `f` and what it points to are valid only during the call.
 * Return 0 to go on, non-zero to stop decoding (frame_decoder_feed then returns FRAME_ESTOPPED). */
typedef int (*frame_cb)(const frame *f, void *data);

typedef struct frame_decoder {
	size_t max_meta, max_payload;
	uint8_t hdr[FRAME_HDR_LEN];
	size_t hdr_have;
	uint8_t *body; /* meta + NUL + payload, being filled */
	size_t body_need, body_have;
	uint8_t type;
	uint16_t flags;
	size_t meta_len, payload_len;
	int error; /* sticky: once set, every feed returns it */
} frame_decoder;

void frame_decoder_init(frame_decoder *d, size_t max_meta, size_t max_payload);
/* Feed bytes. Returns 0, or a negative FRAME_E* code (sticky). */
int frame_decoder_feed(frame_decoder *d, const uint8_t *buf, size_t len, frame_cb cb, void *data);
void frame_decoder_free(frame_decoder *d);
const char *frame_strerror(int err);

#endif
