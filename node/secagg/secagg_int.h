/*
 * secagg_int.h — what secagg_client.c and secagg_server.c share: the cryptographic leaves in
 * secagg_crypto.c (key pairs, pairwise keys, the mask PRG, the share envelope). The leaves call
 * nothing of the client or the server.
 */
#ifndef FL_SECAGG_INT_H
#define FL_SECAGG_INT_H

#include "secagg.h"

/* sodium_init (idempotent): SECAGG_ECRYPTO when libsodium cannot start. */
int sa_init(void);
/* n bytes from rng (little-endian words). */
void sa_fill(rt_rng *rng, uint8_t *buf, size_t n);
/* sk from rng, pk = X25519 base point times sk. */
void sa_keypair(rt_rng *rng, uint8_t sk[SECAGG_KEY_BYTES], uint8_t pk[SECAGG_KEY_BYTES]);
/* 0 when pk is a usable X25519 key (not a low-order point), else SECAGG_EKEY. */
int sa_key_ok(const uint8_t pk[SECAGG_KEY_BYTES]);
/* +1 when a's pairwise mask is added (a < b by strcmp), -1 when subtracted. */
int sa_sign(const char *a, const char *b);

/* One side's public material in a pair. */
typedef struct sa_pub {
	const char *fl_id;
	const uint8_t *s_pk, *pw_iv, *pw_salt;
} sa_pub;
/* The pair's mask key: BLAKE2b-256 of X25519(sk, other's s_pk) and both sides' s_pk, pw_iv and
 * pw_salt in fl_id order, so both ends (and the server holding a dropped side's sk) agree.
 * SECAGG_ECRYPTO when the agreement fails (low-order key). */
int sa_pair_key(const uint8_t sk[SECAGG_KEY_BYTES], const sa_pub *self, const sa_pub *other,
		uint8_t key[32]);
/* v[i] += sign * PRG(key, nonce)[i] mod 2^32 (ChaCha20-IETF keystream as little-endian words). */
void sa_prg_apply(uint32_t *v, size_t dim, const uint8_t key[32], const uint8_t nonce[12], int sign);

/* The envelope of one share pair from `from` to `to`: nonce || crypto_box(from_x, to_x, b share,
 * s share), SECAGG_ENC_SHARE_BYTES in all. */
int sa_seal(const uint8_t c_sk[SECAGG_KEY_BYTES], const uint8_t c_pk_to[SECAGG_KEY_BYTES],
	    uint32_t from_x, uint32_t to_x, const uint8_t *b_share, const uint8_t *s_share,
	    rt_rng *rng, uint8_t out[SECAGG_ENC_SHARE_BYTES]);
/* SECAGG_ECRYPTO when it does not open (wrong key, tampered). */
int sa_open(const uint8_t c_sk[SECAGG_KEY_BYTES], const uint8_t c_pk_from[SECAGG_KEY_BYTES],
	    const uint8_t in[SECAGG_ENC_SHARE_BYTES], uint32_t *from_x, uint32_t *to_x,
	    uint8_t *b_share, uint8_t *s_share);

/* Copies the reason (printf) into reason[rlen] and returns code. */
int sa_fail(char *reason, size_t rlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 0 when id is a usable fl_id (1 .. SECAGG_ID_MAX - 1 bytes). */
int sa_id_ok(const char *id);

#endif
