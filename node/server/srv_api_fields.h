/*
 * srv_api_fields.h — a device request's fields, for the round handlers of srv_api.c whatever the
 * wire: an envelope header as cJSON or read the fast way, or a FlatBuffers request (srv_wire.h).
 */
#ifndef SRV_API_FIELDS_H
#define SRV_API_FIELDS_H

#include "../proto/fl_wire.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A request header read without cJSON, for the common shape only: one flat object whose values
 * are strings of printable ASCII without escapes or whole numbers of at most 15 digits, no
 * feature_map. Anything else (and every malformed header) goes to envelope_decode, so what
 * either way yields is the same: cJSON's first member of a name, its string, and for these
 * numbers the exact value cJSON's strtod gives.
 */
enum { FH_MAX = 8, FH_BUF = 512 };

typedef struct fh_field {
	const char *k, *v; /* NUL-terminated, in fhdr.buf; v NULL for a number */
	int64_t num;
} fh_field;

typedef struct fhdr {
	size_t n;
	fh_field f[FH_MAX];
	char buf[FH_BUF];
} fhdr;

/* A header any way: cJSON (j), the fast reading (f) or a FlatBuffers request (w). */
typedef struct hv {
	const cJSON *j;
	const fhdr *f;
	const fw_msg *w;
} hv;

/* 0 and *h filled, or -1: decode the general way (envelope_decode). */
int srv_fh_parse(const uint8_t *body, size_t len, fhdr *h);

/* A field by MindSpore name: present; its non-empty string (else NULL); its whole number (0, or
 * -1); its finite float (0, or -1: upload_loss, loss, accuracy). */
int srv_field_has(const hv *h, const char *key);
const char *srv_field_str(const hv *h, const char *key);
int srv_field_int(const hv *h, const char *key, int64_t *out);
int srv_field_num(const hv *h, const char *key, double *out);

#endif
