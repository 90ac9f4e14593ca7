/*
 * secagg_client.c — a device's side of PW_ENCRYPT for one iteration (secagg.h): its secrets, the
 * peers it learnt from getKeys, the shares others entrusted to it, the messages it sends.
 */
#include "secagg_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct cpeer {
	char fl_id[SECAGG_ID_MAX];
	uint8_t c_pk[SECAGG_KEY_BYTES], s_pk[SECAGG_KEY_BYTES];
	uint8_t pw_iv[SECAGG_IV_BYTES], pw_salt[SECAGG_SALT_BYTES];
	uint32_t x;            /* Shamir point: 1-based position in U1 */
	uint8_t in_u2, in_u3;
	uint8_t b_share[SECAGG_SHARE_BYTES], s_share[SECAGG_SHARE_BYTES]; /* of its secrets, ours */
} cpeer;

enum { ST_NEW, ST_KEYS, ST_SHARED, ST_MASKED, ST_DONE };

struct secagg_client {
	char fl_id[SECAGG_ID_MAX];
	int32_t iteration;
	size_t dim;
	uint32_t t;
	int stage;
	rt_rng rng;
	uint8_t c_sk[SECAGG_KEY_BYTES], c_pk[SECAGG_KEY_BYTES];
	uint8_t s_sk[SECAGG_KEY_BYTES], s_pk[SECAGG_KEY_BYTES];
	uint8_t b[SECAGG_SEED_BYTES];
	uint8_t ind_iv[SECAGG_IV_BYTES], pw_iv[SECAGG_IV_BYTES], pw_salt[SECAGG_SALT_BYTES];
	cpeer *peers; /* U1 as getKeys gave it, sorted by fl_id */
	size_t np, self;
	secagg_client_share *msg; /* the last share list sent (shareSecrets or reconstructSecrets) */
	uint8_t *msg_bytes;
};

int secagg_client_new(const char *fl_id, int32_t iteration, size_t dim, uint32_t t, rt_rng *rng,
		      secagg_client **out)
{
	if (!out || sa_id_ok(fl_id) || !rng || t < 1)
		return SECAGG_EINVAL;
	*out = NULL;
	if (sa_init())
		return SECAGG_ECRYPTO;
	secagg_client *c = calloc(1, sizeof *c);
	if (!c)
		return SECAGG_ENOMEM;
	strcpy(c->fl_id, fl_id);
	c->iteration = iteration;
	c->dim = dim;
	c->t = t;
	rt_rng_seed(&c->rng, rt_rng_u64(rng));
	sa_keypair(&c->rng, c->c_sk, c->c_pk);
	sa_keypair(&c->rng, c->s_sk, c->s_pk);
	sa_fill(&c->rng, c->b, sizeof c->b);
	sa_fill(&c->rng, c->ind_iv, sizeof c->ind_iv);
	sa_fill(&c->rng, c->pw_iv, sizeof c->pw_iv);
	sa_fill(&c->rng, c->pw_salt, sizeof c->pw_salt);
	*out = c;
	return 0;
}

void secagg_client_free(secagg_client *c)
{
	if (!c)
		return;
	if (c->peers)
		sodium_memzero(c->peers, c->np * sizeof *c->peers);
	free(c->peers);
	free(c->msg);
	free(c->msg_bytes);
	sodium_memzero(c, sizeof *c);
	free(c);
}

int secagg_client_exchange_keys(secagg_client *c, secagg_req_exchange_keys *o)
{
	if (!c || !o)
		return SECAGG_EINVAL;
	if (c->stage == ST_NEW)
		c->stage = ST_KEYS; /* asking again (a retry) gives the same keys */
	*o = (secagg_req_exchange_keys){
		.fl_id = c->fl_id, .iteration = c->iteration,
		.c_pk = c->c_pk, .c_pk_len = SECAGG_KEY_BYTES,
		.s_pk = c->s_pk, .s_pk_len = SECAGG_KEY_BYTES,
		.ind_iv = c->ind_iv, .ind_iv_len = SECAGG_IV_BYTES,
		.pw_iv = c->pw_iv, .pw_iv_len = SECAGG_IV_BYTES,
		.pw_salt = c->pw_salt, .pw_salt_len = SECAGG_SALT_BYTES,
	};
	return 0;
}

static cpeer *find_peer(secagg_client *c, const char *id)
{
	size_t lo = 0, hi = c->np;
	while (id && lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = strcmp(id, c->peers[mid].fl_id);
		if (!d)
			return &c->peers[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int check_keys(secagg_client *c, const secagg_ret_exchange_keys *k, char *reason,
		      size_t rlen)
{
	int self = -1;
	if (k->iteration != c->iteration)
		return sa_fail(reason, rlen, SECAGG_ESTATE,
			       "getKeys answered for iteration %d, this device is in %d",
			       (int)k->iteration, (int)c->iteration);
	if (k->n && !k->remote_publickeys)
		return sa_fail(reason, rlen, SECAGG_EINVAL, "getKeys answer without its list");
	for (size_t i = 0; i < k->n; i++) {
		const secagg_client_keys *e = &k->remote_publickeys[i];
		if (sa_id_ok(e->fl_id))
			return sa_fail(reason, rlen, SECAGG_EINVAL, "getKeys entry %zu has no usable fl_id", i);
		if (i && strcmp(k->remote_publickeys[i - 1].fl_id, e->fl_id) >= 0)
			return sa_fail(reason, rlen, SECAGG_EDUP,
				       "getKeys list not sorted or repeats '%s'", e->fl_id);
		if (e->c_pk_len != SECAGG_KEY_BYTES || e->s_pk_len != SECAGG_KEY_BYTES ||
		    e->pw_iv_len != SECAGG_IV_BYTES || e->pw_salt_len != SECAGG_SALT_BYTES ||
		    !e->c_pk || !e->s_pk || !e->pw_iv || !e->pw_salt)
			return sa_fail(reason, rlen, SECAGG_EKEY, "keys of '%s' have the wrong size", e->fl_id);
		if (sa_key_ok(e->c_pk) || sa_key_ok(e->s_pk))
			return sa_fail(reason, rlen, SECAGG_EKEY, "a key of '%s' is a low-order point", e->fl_id);
		if (!strcmp(e->fl_id, c->fl_id)) {
			if (memcmp(e->c_pk, c->c_pk, SECAGG_KEY_BYTES) || memcmp(e->s_pk, c->s_pk, SECAGG_KEY_BYTES) ||
			    memcmp(e->pw_iv, c->pw_iv, SECAGG_IV_BYTES) ||
			    memcmp(e->pw_salt, c->pw_salt, SECAGG_SALT_BYTES))
				return sa_fail(reason, rlen, SECAGG_EKEY,
					       "getKeys gives this device keys it did not send");
			self = (int)i;
		}
	}
	if (self < 0)
		return sa_fail(reason, rlen, SECAGG_EUNKNOWN, "getKeys list lacks this device");
	if (k->n < (size_t)c->t + 1)
		return sa_fail(reason, rlen, SECAGG_ETHRESHOLD,
			       "getKeys lists %zu devices, reconstruction needs %u", k->n, c->t + 1);
	return 0;
}

int secagg_client_share_secrets(secagg_client *c, const secagg_ret_exchange_keys *k,
				secagg_share_list *o, char *reason, size_t rlen)
{
	int rc;
	if (!c || !k || !o)
		return sa_fail(reason, rlen, SECAGG_EINVAL, "no client, keys or output");
	if (c->stage != ST_KEYS)
		return sa_fail(reason, rlen, SECAGG_ESTATE,
			       c->stage == ST_NEW ? "exchangeKeys comes first" : "secrets already shared");
	if ((rc = check_keys(c, k, reason, rlen)))
		return rc;
	size_t n = k->n;
	cpeer *p = calloc(n, sizeof *p);
	uint32_t *xs = malloc(n * sizeof *xs);
	uint8_t *bs = malloc(n * SECAGG_SHARE_BYTES), *ss = malloc(n * SECAGG_SHARE_BYTES);
	secagg_client_share *msg = calloc(n, sizeof *msg);
	uint8_t *bytes = malloc(n * SECAGG_ENC_SHARE_BYTES);
	if (!p || !xs || !bs || !ss || !msg || !bytes) {
		rc = sa_fail(reason, rlen, SECAGG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const secagg_client_keys *e = &k->remote_publickeys[i];
		strcpy(p[i].fl_id, e->fl_id);
		memcpy(p[i].c_pk, e->c_pk, SECAGG_KEY_BYTES);
		memcpy(p[i].s_pk, e->s_pk, SECAGG_KEY_BYTES);
		memcpy(p[i].pw_iv, e->pw_iv, SECAGG_IV_BYTES);
		memcpy(p[i].pw_salt, e->pw_salt, SECAGG_SALT_BYTES);
		p[i].x = xs[i] = (uint32_t)i + 1;
		if (!strcmp(e->fl_id, c->fl_id))
			c->self = i;
	}
	/* Bonawitz: shares of b_u and of s_sk for every device of U1 (our own pair stays unsent:
	 * a device never helps reconstruct its own secrets) */
	if ((rc = secagg_shamir_split(c->b, c->t, xs, n, &c->rng, bs)) ||
	    (rc = secagg_shamir_split(c->s_sk, c->t, xs, n, &c->rng, ss))) {
		rc = sa_fail(reason, rlen, rc, "secret sharing failed");
		goto out;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == c->self)
			continue;
		uint8_t *dst = bytes + m * SECAGG_ENC_SHARE_BYTES;
		if ((rc = sa_seal(c->c_sk, p[i].c_pk, p[c->self].x, p[i].x, bs + i * SECAGG_SHARE_BYTES,
				  ss + i * SECAGG_SHARE_BYTES, &c->rng, dst))) {
			rc = sa_fail(reason, rlen, rc, "encrypting the share for '%s' failed", p[i].fl_id);
			goto out;
		}
		msg[m++] = (secagg_client_share){p[i].fl_id, dst, SECAGG_ENC_SHARE_BYTES, (int32_t)p[i].x};
	}
	free(c->msg);
	free(c->msg_bytes);
	c->peers = p, c->np = n, p = NULL;
	c->msg = msg, c->msg_bytes = bytes, msg = NULL, bytes = NULL;
	c->stage = ST_SHARED;
	*o = (secagg_share_list){c->fl_id, c->iteration, c->msg, m};
out:
	if (bs)
		sodium_memzero(bs, n * SECAGG_SHARE_BYTES);
	if (ss)
		sodium_memzero(ss, n * SECAGG_SHARE_BYTES);
	free(p), free(xs), free(bs), free(ss), free(msg), free(bytes);
	return rc;
}

int secagg_client_mask(secagg_client *c, const secagg_share_list *l, const uint32_t *q,
		       uint32_t *out, char *reason, size_t rlen)
{
	if (!c || !l || (c->dim && (!q || !out)) || (l->n && !l->shares))
		return sa_fail(reason, rlen, SECAGG_EINVAL, "no client, share list or vector");
	if (c->stage != ST_SHARED)
		return sa_fail(reason, rlen, SECAGG_ESTATE,
			       c->stage < ST_SHARED ? "shareSecrets comes first" : "update already masked");
	if (l->iteration != c->iteration)
		return sa_fail(reason, rlen, SECAGG_ESTATE,
			       "getSecrets answered for iteration %d, this device is in %d",
			       (int)l->iteration, (int)c->iteration);
	cpeer *me = &c->peers[c->self];
	uint8_t *seen = calloc(c->np ? c->np : 1, 1);
	uint8_t (*bsh)[SECAGG_SHARE_BYTES] = malloc((c->np ? c->np : 1) * sizeof *bsh);
	uint8_t (*ssh)[SECAGG_SHARE_BYTES] = malloc((c->np ? c->np : 1) * sizeof *ssh);
	int rc = 0;
	if (!seen || !bsh || !ssh) {
		rc = sa_fail(reason, rlen, SECAGG_ENOMEM, "out of memory");
		goto out;
	}
	/* check and open everything before keeping anything */
	for (size_t i = 0; i < l->n; i++) {
		const secagg_client_share *e = &l->shares[i];
		cpeer *p = find_peer(c, e->fl_id);
		uint32_t fx, tx;
		if (!p || p == me) {
			rc = sa_fail(reason, rlen, SECAGG_EUNKNOWN, "a share from %s device '%s'",
				     p ? "this very" : "unknown", e->fl_id ? e->fl_id : "(null)");
			goto out;
		}
		size_t pi = (size_t)(p - c->peers);
		if (seen[pi]) {
			rc = sa_fail(reason, rlen, SECAGG_EDUP, "two shares from '%s'", p->fl_id);
			goto out;
		}
		if (e->share_len != SECAGG_ENC_SHARE_BYTES || !e->share || e->index != (int32_t)me->x) {
			rc = sa_fail(reason, rlen, SECAGG_ESHARE,
				     "share from '%s': %zu bytes at point %d, expected %d at %u", p->fl_id,
				     e->share_len, (int)e->index, SECAGG_ENC_SHARE_BYTES, me->x);
			goto out;
		}
		if (sa_open(c->c_sk, p->c_pk, e->share, &fx, &tx, bsh[pi], ssh[pi]) || fx != p->x ||
		    tx != me->x) {
			rc = sa_fail(reason, rlen, SECAGG_ECRYPTO, "share from '%s' does not decrypt", p->fl_id);
			goto out;
		}
		seen[pi] = 1;
	}
	if (l->n + 1 < (size_t)c->t + 1) {
		rc = sa_fail(reason, rlen, SECAGG_ETHRESHOLD,
			     "shares from %zu devices, reconstruction needs %u", l->n, c->t);
		goto out;
	}
	if (out != q)
		memcpy(out, q, c->dim * sizeof *out);
	sa_prg_apply(out, c->dim, c->b, c->ind_iv, +1);
	sa_pub mine = {c->fl_id, c->s_pk, c->pw_iv, c->pw_salt};
	for (size_t i = 0; i < c->np; i++) {
		cpeer *p = &c->peers[i];
		p->in_u2 = seen[i] || i == c->self;
		if (!seen[i])
			continue;
		memcpy(p->b_share, bsh[i], SECAGG_SHARE_BYTES);
		memcpy(p->s_share, ssh[i], SECAGG_SHARE_BYTES);
		uint8_t key[32];
		static const uint8_t nonce[12];
		sa_pub other = {p->fl_id, p->s_pk, p->pw_iv, p->pw_salt};
		if ((rc = sa_pair_key(c->s_sk, &mine, &other, key))) {
			rc = sa_fail(reason, rlen, rc, "key agreement with '%s' failed", p->fl_id);
			goto out;
		}
		sa_prg_apply(out, c->dim, key, nonce, sa_sign(c->fl_id, p->fl_id));
		sodium_memzero(key, sizeof key);
	}
	c->stage = ST_MASKED;
out:
	if (bsh)
		sodium_memzero(bsh, c->np * sizeof *bsh);
	if (ssh)
		sodium_memzero(ssh, c->np * sizeof *ssh);
	free(seen), free(bsh), free(ssh);
	return rc;
}

int secagg_client_reconstruct(secagg_client *c, const secagg_ret_client_list *l,
			      secagg_share_list *o, char *reason, size_t rlen)
{
	if (!c || !l || !o || (l->n && !l->clients))
		return sa_fail(reason, rlen, SECAGG_EINVAL, "no client, list or output");
	if (c->stage != ST_MASKED)
		return sa_fail(reason, rlen, SECAGG_ESTATE,
			       c->stage < ST_MASKED ? "the update is not masked yet"
						    : "secrets already sent for reconstruction");
	if (l->iteration != c->iteration)
		return sa_fail(reason, rlen, SECAGG_ESTATE,
			       "getClientList answered for iteration %d, this device is in %d",
			       (int)l->iteration, (int)c->iteration);
	uint8_t *in3 = calloc(c->np, 1);
	if (!in3)
		return sa_fail(reason, rlen, SECAGG_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < l->n; i++) {
		cpeer *p = find_peer(c, l->clients[i]);
		if (!p || !p->in_u2) {
			rc = sa_fail(reason, rlen, SECAGG_EUNKNOWN,
				     "client list names '%s', which did not share secrets",
				     l->clients[i] ? l->clients[i] : "(null)");
			goto out;
		}
		if (in3[p - c->peers]) {
			rc = sa_fail(reason, rlen, SECAGG_EDUP, "client list repeats '%s'", p->fl_id);
			goto out;
		}
		in3[p - c->peers] = 1;
	}
	/* a device whose update did not count must not help unmask the others (it could learn a
	 * sum it has no part in); fewer than t survivors cannot reconstruct anything */
	if (!in3[c->self]) {
		rc = sa_fail(reason, rlen, SECAGG_EUNKNOWN, "this device is not in the client list");
		goto out;
	}
	if (l->n < (size_t)c->t + 1) {
		rc = sa_fail(reason, rlen, SECAGG_ETHRESHOLD,
			     "client list has %zu devices, reconstruction needs %u", l->n, c->t + 1);
		goto out;
	}
	size_t m = 0;
	for (size_t i = 0; i < c->np; i++) {
		cpeer *p = &c->peers[i];
		p->in_u3 = in3[i];
		if (i == c->self || !p->in_u2)
			continue;
		/* never both of one device's secrets: b if its update arrived, s_sk if it dropped */
		c->msg[m] = (secagg_client_share){p->fl_id, p->in_u3 ? p->b_share : p->s_share,
						  SECAGG_SHARE_BYTES, (int32_t)c->peers[c->self].x};
		m++;
	}
	c->stage = ST_DONE;
	*o = (secagg_share_list){c->fl_id, c->iteration, c->msg, m};
out:
	free(in3);
	return rc;
}
