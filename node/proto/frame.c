/*
 * frame.c — inter-node frames: encoder and incremental decoder (see frame.h for the layout).
 *
 * The header is written and read byte by byte, so the wire format is little-endian on any host.
 * The decoder never trusts a declared length: limits are checked before anything is allocated,
 * and every error is sticky, because after a bad header the byte stream has no frame boundary
 * left to resynchronise on.
 *
 * A max_meta or max_payload of 0 given to frame_decoder_init selects the FRAME_DEFAULT_MAX_*
 * limit (so a zeroed config means "defaults", not "nothing allowed").
 */
#include "frame.h"

#include "../rt/rt.h"

#include <stdlib.h>
#include <string.h>

/* Metas up to this size are NUL-terminated in a stack buffer on the zero-copy path. */
#define FRAME_META_STACK 512

static const uint8_t frame_magic_bytes[4] = {
	(uint8_t)(FRAME_MAGIC & 0xff), (uint8_t)((FRAME_MAGIC >> 8) & 0xff),
	(uint8_t)((FRAME_MAGIC >> 16) & 0xff), (uint8_t)((FRAME_MAGIC >> 24) & 0xff),
};

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)((v >> 8) & 0xff);
	p[2] = (uint8_t)((v >> 16) & 0xff);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Sizes must fit the header's u32 fields; callers check (frame_encode, conn_send). */
void frame_header(uint8_t hdr[FRAME_HDR_LEN], uint8_t type, uint16_t flags, size_t meta_len,
		  size_t payload_len)
{
	memcpy(hdr, frame_magic_bytes, 4);
	hdr[4] = FRAME_VERSION;
	hdr[5] = type;
	put_u16(hdr + 6, flags);
	put_u32(hdr + 8, (uint32_t)meta_len);
	put_u32(hdr + 12, (uint32_t)payload_len);
}

int frame_encode(uint8_t type, uint16_t flags, const char *meta, size_t meta_len,
		 const void *payload, size_t payload_len, uint8_t **out, size_t *out_len)
{
	if (!out || !out_len || (!meta && meta_len) || (!payload && payload_len))
		return RT_EINVAL;
	if (meta_len > UINT32_MAX || payload_len > UINT32_MAX ||
	    meta_len + payload_len > SIZE_MAX - FRAME_HDR_LEN)
		return FRAME_ETOOBIG;
	size_t total = FRAME_HDR_LEN + meta_len + payload_len;
	uint8_t *buf = malloc(total);
	if (!buf)
		return FRAME_ENOMEM;
	frame_header(buf, type, flags, meta_len, payload_len);
	if (meta_len)
		memcpy(buf + FRAME_HDR_LEN, meta, meta_len);
	if (payload_len)
		memcpy(buf + FRAME_HDR_LEN + meta_len, payload, payload_len);
	*out = buf;
	*out_len = total;
	return 0;
}

void frame_decoder_init(frame_decoder *d, size_t max_meta, size_t max_payload)
{
	memset(d, 0, sizeof *d);
	d->max_meta = max_meta ? max_meta : FRAME_DEFAULT_MAX_META;
	d->max_payload = max_payload ? max_payload : FRAME_DEFAULT_MAX_PAYLOAD;
}

void frame_decoder_free(frame_decoder *d)
{
	if (!d)
		return;
	free(d->body);
	d->body = NULL;
	d->body_need = d->body_have = 0;
	d->hdr_have = 0;
}

/* conn reports rt errors through the same channel: any code, named by the one error space */
const char *frame_strerror(int err) { return fl_strerror(err); }

static int fail(frame_decoder *d, int err)
{
	d->error = err;
	free(d->body);
	d->body = NULL;
	return err;
}

/* Check the header bytes received so far, so garbage is rejected as soon as it shows. */
static int check_header_prefix(const frame_decoder *d, size_t from)
{
	for (size_t i = from; i < d->hdr_have && i < 4; i++)
		if (d->hdr[i] != frame_magic_bytes[i])
			return FRAME_EMAGIC;
	if (d->hdr_have > 4 && from <= 4 && d->hdr[4] != FRAME_VERSION)
		return FRAME_EVERSION;
	return 0;
}

/* The header is complete: validate the lengths before any allocation depends on them. */
static int parse_header(frame_decoder *d)
{
	uint32_t ml = get_u32(d->hdr + 8), pl = get_u32(d->hdr + 12);
	if (ml > d->max_meta || pl > d->max_payload)
		return FRAME_ETOOBIG;
	d->type = d->hdr[5];
	d->flags = get_u16(d->hdr + 6);
	d->meta_len = ml;
	d->payload_len = pl;
	if ((size_t)ml > SIZE_MAX - 1 - (size_t)pl)
		return FRAME_ETOOBIG;
	d->body_need = (size_t)ml + 1 + (size_t)pl; /* +1: the NUL after the meta */
	d->body_have = 0;
	return 0;
}

/* Reset for the next header, then run the callback; the caller frees `owned` afterwards. */
static int deliver(frame_decoder *d, const char *meta, const uint8_t *payload, frame_cb cb,
		   void *data)
{
	frame f = {
		.type = d->type,
		.flags = d->flags,
		.meta = meta,
		.meta_len = d->meta_len,
		.payload = payload,
		.payload_len = d->payload_len,
	};
	d->hdr_have = 0;
	d->body_need = d->body_have = 0;
	return cb ? cb(&f, data) : 0;
}

int frame_decoder_feed(frame_decoder *d, const uint8_t *buf, size_t len, frame_cb cb, void *data)
{
	if (!d)
		return RT_EINVAL;
	if (d->error)
		return d->error;
	if (!buf && len)
		return RT_EINVAL;
	size_t pos = 0;
	while (pos < len) {
		if (d->hdr_have < FRAME_HDR_LEN) {
			size_t n = FRAME_HDR_LEN - d->hdr_have;
			if (n > len - pos)
				n = len - pos;
			size_t from = d->hdr_have;
			memcpy(d->hdr + d->hdr_have, buf + pos, n);
			d->hdr_have += n;
			pos += n;
			int err = check_header_prefix(d, from);
			if (!err && d->hdr_have == FRAME_HDR_LEN)
				err = parse_header(d);
			if (err)
				return fail(d, err);
			if (d->hdr_have < FRAME_HDR_LEN)
				break;
			/* Zero-copy path: the whole body is in this input, so only the meta is
			 * copied (it needs a NUL) and the payload is passed in place. */
			size_t avail = len - pos, body = d->meta_len + d->payload_len;
			if (avail >= body) {
				char stack[FRAME_META_STACK];
				char *meta = stack;
				if (d->meta_len >= sizeof stack) {
					meta = malloc(d->meta_len + 1);
					if (!meta)
						return fail(d, FRAME_ENOMEM);
				}
				memcpy(meta, buf + pos, d->meta_len);
				meta[d->meta_len] = '\0';
				const uint8_t *payload = buf + pos + d->meta_len;
				pos += body;
				int stop = deliver(d, meta, payload, cb, data);
				if (meta != stack)
					free(meta);
				if (stop)
					return fail(d, FRAME_ESTOPPED);
				continue;
			}
			d->body = malloc(d->body_need);
			if (!d->body)
				return fail(d, FRAME_ENOMEM);
			d->body[d->meta_len] = '\0';
		}
		/* Body being filled: the meta goes before the NUL slot, the payload after it. */
		size_t want = d->body_need - 1 - d->body_have;
		size_t n = want < len - pos ? want : len - pos;
		size_t at = d->body_have;
		size_t in = 0;
		if (at < d->meta_len) {
			size_t m = d->meta_len - at;
			if (m > n)
				m = n;
			memcpy(d->body + at, buf + pos, m);
			in = m;
			at += m;
		}
		if (in < n)
			memcpy(d->body + 1 + at, buf + pos + in, n - in);
		d->body_have += n;
		pos += n;
		if (d->body_have < d->body_need - 1)
			break;
		/* Take the body out of the decoder before the callback, so the decoder is in a
		 * clean state whatever the callback does to it (e.g. frame_decoder_free). */
		uint8_t *body = d->body;
		d->body = NULL;
		int stop = deliver(d, (const char *)body, body + d->meta_len + 1, cb, data);
		free(body);
		if (stop)
			return fail(d, FRAME_ESTOPPED);
	}
	return 0;
}
