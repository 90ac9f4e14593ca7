/*
 * secagg_crypto.c — the cryptographic leaves (secagg_int.h): libsodium's X25519, BLAKE2b,
 * ChaCha20 and crypto_box, fed with the caller's rt_rng. No state.
 */
#include "secagg_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sa_init(void)
{
	return sodium_init() < 0 ? SECAGG_ECRYPTO : 0;
}

void sa_fill(rt_rng *rng, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rt_rng_u64(rng);
		for (size_t k = 0; k < 8 && i + k < n; k++)
			buf[i + k] = (uint8_t)(v >> (8 * k));
	}
}

void sa_keypair(rt_rng *rng, uint8_t sk[SECAGG_KEY_BYTES], uint8_t pk[SECAGG_KEY_BYTES])
{
	sa_fill(rng, sk, SECAGG_KEY_BYTES);
	crypto_scalarmult_base(pk, sk); /* clamps sk itself, as crypto_box_keypair would */
}

int sa_key_ok(const uint8_t pk[SECAGG_KEY_BYTES])
{
	/* a clamped scalar is a multiple of 8: any low-order point maps to 0, which libsodium
	 * reports; a fixed scalar suffices */
	static const uint8_t probe[SECAGG_KEY_BYTES] = {9, 1, 2, 3};
	uint8_t out[SECAGG_KEY_BYTES];
	int rc = crypto_scalarmult(out, probe, pk);
	sodium_memzero(out, sizeof out);
	return rc == 0 ? 0 : SECAGG_EKEY;
}

int sa_sign(const char *a, const char *b) { return strcmp(a, b) < 0 ? 1 : -1; }

int sa_pair_key(const uint8_t sk[SECAGG_KEY_BYTES], const sa_pub *self, const sa_pub *other,
		uint8_t key[32])
{
	uint8_t shared[crypto_scalarmult_BYTES];
	crypto_generichash_state st;

	if (crypto_scalarmult(shared, sk, other->s_pk) != 0)
		return SECAGG_ECRYPTO;
	const sa_pub *lo = sa_sign(self->fl_id, other->fl_id) > 0 ? self : other;
	const sa_pub *hi = lo == self ? other : self;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, shared, sizeof shared);
	crypto_generichash_update(&st, lo->s_pk, SECAGG_KEY_BYTES);
	crypto_generichash_update(&st, hi->s_pk, SECAGG_KEY_BYTES);
	crypto_generichash_update(&st, lo->pw_iv, SECAGG_IV_BYTES);
	crypto_generichash_update(&st, hi->pw_iv, SECAGG_IV_BYTES);
	crypto_generichash_update(&st, lo->pw_salt, SECAGG_SALT_BYTES);
	crypto_generichash_update(&st, hi->pw_salt, SECAGG_SALT_BYTES);
	crypto_generichash_final(&st, key, 32);
	sodium_memzero(shared, sizeof shared);
	return 0;
}

void sa_prg_apply(uint32_t *v, size_t dim, const uint8_t key[32], const uint8_t nonce[12], int sign)
{
	enum { BLOCK = 64, CHUNK = 4096 };
	static const uint8_t zeros[CHUNK];
	uint8_t ks[CHUNK];
	uint32_t ic = 0;

	for (size_t i = 0; i < dim; ic += CHUNK / BLOCK) {
		size_t words = dim - i < CHUNK / 4 ? dim - i : CHUNK / 4;
		crypto_stream_chacha20_ietf_xor_ic(ks, zeros, words * 4, nonce, ic, key);
		for (size_t w = 0; w < words; w++, i++) {
			const uint8_t *p = ks + 4 * w;
			uint32_t m = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24;
			v[i] = sign > 0 ? v[i] + m : v[i] - m;
		}
	}
	sodium_memzero(ks, sizeof ks);
}

enum { PLAIN = 8 + 2 * SECAGG_SHARE_BYTES };

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int sa_seal(const uint8_t c_sk[SECAGG_KEY_BYTES], const uint8_t c_pk_to[SECAGG_KEY_BYTES],
	    uint32_t from_x, uint32_t to_x, const uint8_t *b_share, const uint8_t *s_share,
	    rt_rng *rng, uint8_t out[SECAGG_ENC_SHARE_BYTES])
{
	_Static_assert(crypto_box_NONCEBYTES + crypto_box_MACBYTES + PLAIN == SECAGG_ENC_SHARE_BYTES,
		       "share envelope size");
	uint8_t m[PLAIN];
	int rc = 0;

	put32(m, from_x);
	put32(m + 4, to_x);
	memcpy(m + 8, b_share, SECAGG_SHARE_BYTES);
	memcpy(m + 8 + SECAGG_SHARE_BYTES, s_share, SECAGG_SHARE_BYTES);
	sa_fill(rng, out, crypto_box_NONCEBYTES);
	if (crypto_box_easy(out + crypto_box_NONCEBYTES, m, PLAIN, out, c_pk_to, c_sk) != 0)
		rc = SECAGG_ECRYPTO;
	sodium_memzero(m, sizeof m);
	return rc;
}

int sa_open(const uint8_t c_sk[SECAGG_KEY_BYTES], const uint8_t c_pk_from[SECAGG_KEY_BYTES],
	    const uint8_t in[SECAGG_ENC_SHARE_BYTES], uint32_t *from_x, uint32_t *to_x,
	    uint8_t *b_share, uint8_t *s_share)
{
	uint8_t m[PLAIN];

	if (crypto_box_open_easy(m, in + crypto_box_NONCEBYTES,
				 SECAGG_ENC_SHARE_BYTES - crypto_box_NONCEBYTES, in, c_pk_from,
				 c_sk) != 0)
		return SECAGG_ECRYPTO;
	*from_x = get32(m);
	*to_x = get32(m + 4);
	memcpy(b_share, m + 8, SECAGG_SHARE_BYTES);
	memcpy(s_share, m + 8 + SECAGG_SHARE_BYTES, SECAGG_SHARE_BYTES);
	sodium_memzero(m, sizeof m);
	return 0;
}

int sa_fail(char *reason, size_t rlen, int code, const char *fmt, ...)
{
	if (reason && rlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(reason, rlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int sa_id_ok(const char *id)
{
	return id && id[0] && strlen(id) < SECAGG_ID_MAX ? 0 : SECAGG_EINVAL;
}
