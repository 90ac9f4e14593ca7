/*
 * secagg.h — secure aggregation (PW_ENCRYPT) and local differential privacy (DP_ENCRYPT) for
 * federated updates: a library with no I/O. docs/secure-aggregation.md describes the protocol,
 * the quantisation bound and the choices made here.
 *
 * Pieces, each usable alone:
 *   - config: MindSpore's encrypt keys (encrypt_type, share_secrets_ratio, cipher_time_window,
 *     reconstruct_secrets_threshold, dp_eps, dp_delta, dp_norm_clip) from a cJSON config, and the
 *     per-round thresholds MindSpore derives from them;
 *   - quantisation of float updates into the ring Z_2^32 (sums of up to n_max clients never wrap),
 *     ring addition (what servers all-reduce), dequantisation and its error bound;
 *   - Shamir secret sharing over GF(2^61 - 1) (our own: see the docs for why not libgfshare);
 *   - the pairwise-masking protocol of Bonawitz et al. (CCS 2017) with MindSpore's rounds
 *     exchangeKeys, getKeys, shareSecrets, getSecrets, (updateModel), getClientList,
 *     reconstructSecrets: a client side (one per device) and a server side (the leader's state);
 *   - DP: L2 clipping, Gaussian noise, the privacy accounting.
 *
 * Randomness: every secret (key pairs, the self-mask seed b_u, Shamir coefficients, nonces) is drawn
 * from an rt_rng the caller hands in, so the same seed gives the same bytes (rt_rng is not a
 * CSPRNG: in this bench, keys are as secret as the seed). libsodium (X25519, BLAKE2b, ChaCha20,
 * crypto_box) does the cryptography; its randombytes_* are never called.
 *
 * Errors: negative SECAGG_E* codes (node/util/err.h). Functions that judge a device's message take
 * a `reason` buffer and write one sentence there (what MindSpore's RequestError reason will carry);
 * nothing in the receiver changes when a message is refused.
 *
 * Messages are plain structs that mirror mindspore_federated/schema/cipher.fbs field by field (the
 * wire codec maps them one to one). Fields the protocol does not use here (timestamp, signature,
 * certificate_chain: pki_verify is not supported) are left out. Ownership: a message a function
 * fills (`out`) points into the object that filled it and stays valid until that object's next
 * call that fills the same message, or its free; a message a function takes is borrowed for the
 * call only (what is kept is copied).
 */
#ifndef FL_SECAGG_H
#define FL_SECAGG_H

#include <stddef.h>
#include <stdint.h>

#include "../rt/rt.h"
#include "../util/err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* ---- sizes ------------------------------------------------------------------------------- */

enum {
	SECAGG_KEY_BYTES = 32,   /* X25519 public and secret keys (c_pk, s_pk) */
	SECAGG_SEED_BYTES = 32,  /* the self-mask seed b_u */
	SECAGG_IV_BYTES = 16,    /* ind_iv, pw_iv */
	SECAGG_SALT_BYTES = 32,  /* pw_salt */
	SECAGG_ID_MAX = 128,     /* fl_id bytes, NUL included */
	SECAGG_SHARE_BYTES = 40, /* one Shamir share of a 32-byte secret: 5 field elements */
	/* an encrypted share pair (b_u's and s_sk's share) for one recipient: nonce 24, MAC 16,
	 * sender and recipient index 4 + 4, two shares */
	SECAGG_ENC_SHARE_BYTES = 24 + 16 + 8 + 2 * SECAGG_SHARE_BYTES,
	SECAGG_REASON_MAX = 256, /* a reason buffer this long never cuts a reason */
};

/* ---- config ------------------------------------------------------------------------------ */

typedef enum secagg_encrypt_type {
	SECAGG_NOT_ENCRYPT = 0,
	SECAGG_PW_ENCRYPT = 1,
	SECAGG_DP_ENCRYPT = 2,
} secagg_encrypt_type;

typedef struct secagg_config {
	secagg_encrypt_type encrypt_type;       /* "NOT_ENCRYPT" (default), "PW_ENCRYPT", "DP_ENCRYPT" */
	double share_secrets_ratio;             /* (0, 1], default 1.0 */
	int64_t cipher_time_window;             /* ms, >= 1, default 300000 */
	int64_t reconstruct_secrets_threshold;  /* t: shares needed per secret, >= 1, default 2000 */
	double dp_eps;                          /* > 0, default 50.0 */
	double dp_delta;                        /* (0, 1), default 0.01 */
	double dp_norm_clip;                    /* > 0, default 1.0 */
} secagg_config;

void secagg_config_defaults(secagg_config *c);
/* Read the keys from a config object: top-level keys (our config.json) and MindSpore's nested
 * form {"encrypt": {"encrypt_type", "pw_encrypt": {...}, "dp_encrypt": {...}, "signds": {...}}};
 * a nested key overrides a top-level one. Keys not named here are left alone at the top level
 * (they belong to the server's config) and refused inside "encrypt". Validates what it read.
 * SECAGG_ECONFIG with a message in err (which key, what was expected). */
int secagg_config_from_json(secagg_config *c, const struct cJSON *root, char *err, size_t errlen);
int secagg_config_validate(const secagg_config *c, char *err, size_t errlen);
const char *secagg_encrypt_type_name(secagg_encrypt_type t);
/* -> SECAGG_* type, or -1 for an unknown name. */
int secagg_encrypt_type_parse(const char *s);

/* The device counts each PW_ENCRYPT round needs, derived as MindSpore derives them from
 * start_fl_job_threshold, the updateModel threshold, share_secrets_ratio and t. */
typedef struct secagg_thresholds {
	uint64_t exchange_keys, get_keys, share_secrets, get_secrets, get_client_list;
	uint64_t reconstruct_secrets; /* devices: t + 1 (a device's own share is not sent to it) */
	uint64_t shares_needed;       /* t */
} secagg_thresholds;
/* SECAGG_ECONFIG when the rounds could never complete (t + 1 > start_fl_job_threshold). */
int secagg_thresholds_compute(const secagg_config *c, uint64_t start_fl_job_threshold,
			      uint64_t update_model_threshold, secagg_thresholds *out, char *err,
			      size_t errlen);

/* ---- quantisation into Z_2^32 -------------------------------------------------------------- */

/*
 * A value v (the device's update times its weight) is clamped to [-clip, clip] and mapped to
 * round(v * scale) as a two's-complement uint32. scale = (2^31 - 1 - n_max) / (n_max * clip), so
 * the sum of n <= n_max such values lies in (-2^31, 2^31) and reads back exactly as an int32:
 * no wrap. Dequantising the ring sum of n clients gives sum_i clamp(v_i) within
 * secagg_quant_bound(q, n) = n / (2 * scale) per coordinate (each rounding is off by <= 1/2).
 */
typedef struct secagg_quant {
	double clip;
	double scale;
	uint32_t n_max;
} secagg_quant;

/* clip > 0 and finite, 1 <= n_max <= 2^24, and a scale of at least 1. */
int secagg_quant_init(secagg_quant *q, double clip, uint32_t n_max);
/* out[i] = Q(weight * x[i]). SECAGG_ERANGE for a NaN or infinite value (nothing promised about
 * out then). *clamped (may be NULL) counts the coordinates that were clamped. */
int secagg_quantize(const secagg_quant *q, const float *x, size_t n, double weight, uint32_t *out,
		    size_t *clamped);
/* acc[i] += x[i] mod 2^32: how masked (or plain quantised) vectors are summed and all-reduced. */
void secagg_ring_add(uint32_t *acc, const uint32_t *x, size_t n);
void secagg_ring_sub(uint32_t *acc, const uint32_t *x, size_t n);
/* out[i] = the real sum of n_clients quantised values; SECAGG_ERANGE when n_clients > n_max. */
int secagg_dequantize(const secagg_quant *q, const uint32_t *sum, size_t n, uint32_t n_clients,
		      double *out);
/* The per-coordinate bound on |dequantised sum - sum of clamped values| for n_clients. */
double secagg_quant_bound(const secagg_quant *q, uint32_t n_clients);

/* ---- Shamir over GF(p), p = 2^61 - 1 --------------------------------------------------------- */

/* Split a 32-byte secret into n shares (SECAGG_SHARE_BYTES each, out[i * SECAGG_SHARE_BYTES]) at
 * the distinct nonzero points xs[i], any t of which give it back; coefficients from rng. */
int secagg_shamir_split(const uint8_t secret[32], uint32_t t, const uint32_t *xs, size_t n,
			rt_rng *rng, uint8_t *out);
/* Combine k shares (taken at xs[i]) into the secret. SECAGG_ESHARE for a repeated or zero point
 * or an element outside the field; SECAGG_ECRYPTO when the result is not a 32-byte secret's
 * encoding: shares wrong by a random-looking amount (garbage, another point's share) are caught
 * but for a chance of about 2^-49; a small arithmetic nudge is not (the server checks a rebuilt
 * s_sk against s_pk; b_u has no such check). With fewer than t
 * shares the result is garbage, usually caught as SECAGG_ECRYPTO. */
int secagg_shamir_combine(const uint8_t *shares, const uint32_t *xs, size_t k, uint8_t secret[32]);

/* ---- protocol messages (cipher.fbs) ---------------------------------------------------------- */

typedef struct secagg_req_exchange_keys { /* RequestExchangeKeys */
	const char *fl_id;
	int32_t iteration;
	const uint8_t *c_pk; /* the key shares are encrypted to */
	size_t c_pk_len;
	const uint8_t *s_pk; /* the key pairwise masks are agreed with */
	size_t s_pk_len;
	const uint8_t *ind_iv; /* nonce of the self mask's PRG */
	size_t ind_iv_len;
	const uint8_t *pw_iv; /* mixed into the pairwise mask key */
	size_t pw_iv_len;
	const uint8_t *pw_salt;
	size_t pw_salt_len;
} secagg_req_exchange_keys;

typedef struct secagg_client_keys { /* ClientPublicKeys */
	const char *fl_id;
	const uint8_t *c_pk;
	size_t c_pk_len;
	const uint8_t *s_pk;
	size_t s_pk_len;
	const uint8_t *pw_iv;
	size_t pw_iv_len;
	const uint8_t *pw_salt;
	size_t pw_salt_len;
} secagg_client_keys;

typedef struct secagg_ret_exchange_keys { /* ReturnExchangeKeys (the getKeys answer) */
	int32_t iteration;
	const secagg_client_keys *remote_publickeys; /* sorted by fl_id (strcmp), the list U1 */
	size_t n;
} secagg_ret_exchange_keys;

/*
 * ClientShare. In RequestShareSecrets: fl_id = the recipient, share = SECAGG_ENC_SHARE_BYTES of
 * ciphertext, index = the recipient's Shamir point. In ReturnShareSecrets: fl_id = the sender,
 * the same share and index. In SendReconstructSecret: fl_id = the device whose secret it is,
 * share = SECAGG_SHARE_BYTES in the clear (of b_u when that device's update arrived, of its s_sk
 * when it dropped), index = the sending device's own point.
 */
typedef struct secagg_client_share {
	const char *fl_id;
	const uint8_t *share;
	size_t share_len;
	int32_t index;
} secagg_client_share;

typedef struct secagg_share_list { /* RequestShareSecrets, ReturnShareSecrets,
				    * SendReconstructSecret: fl_id is the sender (NULL in a Return) */
	const char *fl_id;
	int32_t iteration;
	const secagg_client_share *shares; /* encrypted_shares / reconstruct_secret_shares */
	size_t n;
} secagg_share_list;

typedef struct secagg_ret_client_list { /* ReturnClientList */
	int32_t iteration;
	const char *const *clients; /* sorted, the list U3 of devices whose update arrived */
	size_t n;
} secagg_ret_client_list;

/* ---- client (one per device and iteration) ------------------------------------------------ */

typedef struct secagg_client secagg_client;

/*
 * A device's side for one iteration: draws its key pairs, b_u, ivs and salt from a stream seeded
 * by one draw from rng (the caller's stream advances by one), and later Shamir coefficients and
 * nonces from that stream. dim: the update's length in ring elements; t: the shares needed
 * (reconstruct_secrets_threshold). *out is the caller's (secagg_client_free).
 */
int secagg_client_new(const char *fl_id, int32_t iteration, size_t dim, uint32_t t, rt_rng *rng,
		      secagg_client **out);
void secagg_client_free(secagg_client *c); /* NULL is fine; wipes the secrets */
/* exchangeKeys: the request (points into c). */
int secagg_client_exchange_keys(secagg_client *c, secagg_req_exchange_keys *out);
/* getKeys answer in, shareSecrets request out: a share pair for every other device of U1,
 * encrypted to it. Checks the list (sorted, unique, holds this device with its own keys, keys of
 * the right size, at least t + 1 devices). */
int secagg_client_share_secrets(secagg_client *c, const secagg_ret_exchange_keys *keys,
				secagg_share_list *out, char *reason, size_t rlen);
/* getSecrets answer in: decrypts and keeps the shares others sent (U2 = their senders and this
 * device); then masks q (dim ring elements, e.g. from secagg_quantize) into out:
 * out = q + PRG(b_u) + sum over v in U2 of +-PRG(k_uv). out may be q. */
int secagg_client_mask(secagg_client *c, const secagg_share_list *secrets, const uint32_t *q,
		       uint32_t *out, char *reason, size_t rlen);
/* getClientList answer in (U3), reconstructSecrets request out: for every v in U2 but this
 * device, v's b share if v is in U3, else v's s_sk share. Refused when this device is not in U3
 * (its update did not count: it must not help unmask) or U3 names a device outside U2. */
int secagg_client_reconstruct(secagg_client *c, const secagg_ret_client_list *list,
			      secagg_share_list *out, char *reason, size_t rlen);

/* ---- server (the leader's state for one iteration) ------------------------------------------ */

/* DECLARED, NOT YET IMPLEMENTED (secagg_server.c is the next piece: docs/secure-aggregation.md
 * says what it must do). Nothing links against these yet. */

typedef enum secagg_round {
	SECAGG_ROUND_EXCHANGE_KEYS = 0, /* open at start; closing fixes U1 (then getKeys) */
	SECAGG_ROUND_SHARE_SECRETS,     /* closing fixes U2 (then getSecrets) */
	SECAGG_ROUND_UPDATE_MODEL,      /* masked updates; closing fixes U3 (then getClientList) */
	SECAGG_ROUND_RECONSTRUCT,       /* closing fixes U4; then secagg_server_unmask */
	SECAGG_ROUND_DONE,
} secagg_round;

typedef struct secagg_server secagg_server;

/* n_max: the most devices that may exchange keys (the quantiser's n_max). th: from
 * secagg_thresholds_compute. *out is the caller's (secagg_server_free). */
int secagg_server_new(int32_t iteration, size_t dim, uint32_t n_max, const secagg_thresholds *th,
		      secagg_server **out);
void secagg_server_free(secagg_server *s);
secagg_round secagg_server_round(const secagg_server *s);
/*
 * Ends the open round: SECAGG_ETHRESHOLD (reason says how many of how many) when too few devices
 * took part — the iteration has failed, nothing changes and nothing later opens — else the next
 * round opens. The caller (the leader's round counting) decides when: threshold reached or
 * cipher_time_window over.
 */
int secagg_server_close_round(secagg_server *s, char *reason, size_t rlen);

int secagg_server_exchange_keys(secagg_server *s, const secagg_req_exchange_keys *req,
				char *reason, size_t rlen);
/* getKeys: U1 (points into s). fl_id must be in U1. */
int secagg_server_get_keys(secagg_server *s, const char *fl_id, int32_t iteration,
			   secagg_ret_exchange_keys *out, char *reason, size_t rlen);
int secagg_server_share_secrets(secagg_server *s, const secagg_share_list *req, char *reason,
				size_t rlen);
/* getSecrets: the shares U2's devices sent to fl_id (points into s until the next getSecrets). */
int secagg_server_get_secrets(secagg_server *s, const char *fl_id, int32_t iteration,
			      secagg_share_list *out, char *reason, size_t rlen);
/* A masked update from fl_id arrived (the caller adds the vector to its sum with
 * secagg_ring_add, on whichever server got it; this call is the leader's record of who). */
int secagg_server_update(secagg_server *s, const char *fl_id, int32_t iteration, char *reason,
			 size_t rlen);
int secagg_server_get_client_list(secagg_server *s, const char *fl_id, int32_t iteration,
				  secagg_ret_client_list *out, char *reason, size_t rlen);
int secagg_server_reconstruct_secrets(secagg_server *s, const secagg_share_list *req,
				      char *reason, size_t rlen);
/* After reconstructSecrets closed: sum (dim elements: the ring sum of exactly U3's masked updates,
 * from any number of servers) loses every mask in place and holds the sum of U3's quantised
 * updates. Reconstructs b_v of every v in U3 and s_sk_v of every v in U2 \ U3 from the first t
 * shares by point. SECAGG_ETHRESHOLD when a secret has fewer than t shares, SECAGG_ECRYPTO when
 * shares are inconsistent or a rebuilt s_sk does not match s_pk (reason names the device). */
int secagg_server_unmask(secagg_server *s, uint32_t *sum, char *reason, size_t rlen);
/* Devices so far in the set round r fixes: |U1| .. |U4| for r = 0 .. 3 (0 for DONE). */
size_t secagg_server_count(const secagg_server *s, secagg_round r);

/* ---- DP_ENCRYPT ---------------------------------------------------------------------------- */

typedef struct secagg_dp {
	double eps, delta, clip;
	double sigma; /* clip * sqrt(2 ln(1.25 / delta)) / eps */
} secagg_dp;

int secagg_dp_init(secagg_dp *dp, double eps, double delta, double clip);
/* Scales x to an L2 norm of at most clip, then adds N(0, sigma^2) to each element (Box-Muller on
 * rng). *norm (may be NULL): the norm before clipping. SECAGG_ERANGE for a non-finite x. */
int secagg_dp_apply(const secagg_dp *dp, float *x, size_t n, rt_rng *rng, double *norm);

/* Privacy spent by one device after k iterations of (eps, delta) each: basic composition
 * (k eps, k delta) and advanced composition (Dwork-Rothblum-Vadhan, with slack delta):
 * eps' = sqrt(2 k ln(1/delta)) eps + k eps (e^eps - 1), delta' = (k + 1) delta. */
typedef struct secagg_dp_budget {
	double iter_eps, iter_delta;   /* this iteration's */
	double basic_eps, basic_delta; /* after k */
	double adv_eps, adv_delta;
	double eps, delta;             /* the tighter of the two (by eps) */
} secagg_dp_budget;
void secagg_dp_account(const secagg_dp *dp, uint64_t k, secagg_dp_budget *out);

#ifdef __cplusplus
}
#endif

#endif
