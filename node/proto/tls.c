/*
 * tls.c — tls.h over OpenSSL 3 with a pair of memory BIOs per connection: rbio holds ciphertext
 * fed in from the stream, wbio collects what OpenSSL wants sent, and every call ends by draining
 * wbio into the owner's send callback. Nothing blocks: a memory BIO accepts any amount.
 *
 * OpenSSL's error queue is per thread and global; every entry point clears it first and reads it
 * back into the connection's own message, so one connection's failure never leaks into another's.
 */
#include "tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_ctx {
	SSL_CTX *ssl;
	int server;
};

struct tls_conn {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	const tls_io *io;
	void *data;
	int server;
	int established, failed, shut, peer_closed;
	int in_recv, doomed; /* tls_conn_free inside recv: freed when recv returns */
	uint8_t *pending;    /* plaintext written before the handshake finished */
	size_t pending_len;
	char why[160];
};

/* The oldest queued OpenSSL error as text (or fallback), and the queue cleared. */
static void ossl_why(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
	ERR_clear_error();
}

/* ---- contexts ---- */

static int load_own(SSL_CTX *ssl, const tls_ctx_config *cfg, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(cfg->cert, (int)cfg->cert_len);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	int rc = TLS_ECONFIG;
	char why[120];
	if (!b)
		goto out;
	if (cfg->cert_len >= 10 && !memcmp(cfg->cert, "-----BEGIN", 10)) {
		cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
		(void)BIO_reset(b);
		key = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)(cfg->password ? cfg->password : ""));
		if (!cert || !key) {
			ossl_why(why, sizeof why, "no certificate or key");
			snprintf(err, errlen, "PEM certificate and key: %s", why);
			goto out;
		}
	} else {
		PKCS12 *p12 = d2i_PKCS12_bio(b, NULL);
		if (!p12 || !PKCS12_parse(p12, cfg->password ? cfg->password : "", &key, &cert, &chain)) {
			ossl_why(why, sizeof why, "not PKCS#12");
			snprintf(err, errlen, "PKCS#12 certificate (wrong password?): %s", why);
			PKCS12_free(p12);
			goto out;
		}
		PKCS12_free(p12);
		if (!cert || !key) {
			snprintf(err, errlen, "PKCS#12 file holds no certificate or no key");
			goto out;
		}
	}
	if (SSL_CTX_use_certificate(ssl, cert) != 1 || SSL_CTX_use_PrivateKey(ssl, key) != 1 ||
	    SSL_CTX_check_private_key(ssl) != 1) {
		ossl_why(why, sizeof why, "key does not match");
		snprintf(err, errlen, "certificate and key: %s", why);
		goto out;
	}
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		if (SSL_CTX_add1_chain_cert(ssl, x) != 1) {
			snprintf(err, errlen, "certificate chain rejected");
			goto out;
		}
	}
	rc = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	BIO_free(b);
	return rc;
}

static int load_ca(SSL_CTX *ssl, const tls_ctx_config *cfg, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(cfg->ca, (int)cfg->ca_len);
	X509_STORE *store = SSL_CTX_get_cert_store(ssl);
	int n = 0;
	X509 *x;
	if (!b)
		return TLS_ENOMEM;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error(); /* the read that ends the loop queues "no start line" */
	BIO_free(b);
	if (!n) {
		snprintf(err, errlen, "CA file holds no PEM certificate");
		return TLS_ECONFIG;
	}
	return 0;
}

int tls_ctx_new(const tls_ctx_config *cfg, tls_ctx **out, char *err, size_t errlen)
{
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (!cfg || !out) {
		snprintf(err, errlen, "no configuration");
		return TLS_ECONFIG;
	}
	if (cfg->server && (!cfg->cert || !cfg->cert_len)) {
		snprintf(err, errlen, "a TLS server needs a certificate and key");
		return TLS_ECONFIG;
	}
	if (!cfg->server && (!cfg->ca || !cfg->ca_len)) {
		snprintf(err, errlen, "a TLS client needs the CA certificate to verify the server with");
		return TLS_ECONFIG;
	}
	ERR_clear_error();
	tls_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return TLS_ENOMEM;
	c->server = cfg->server;
	c->ssl = SSL_CTX_new(cfg->server ? TLS_server_method() : TLS_client_method());
	if (!c->ssl) {
		free(c);
		return TLS_ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	/* no session tickets: nothing resumes, and every handshake costs the same */
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(c->ssl, 0);
	int rc = 0;
	if (cfg->cert && cfg->cert_len && (rc = load_own(c->ssl, cfg, err, errlen)) != 0)
		goto fail;
	if (cfg->ca && cfg->ca_len && (rc = load_ca(c->ssl, cfg, err, errlen)) != 0)
		goto fail;
	if (cfg->cipher_list && cfg->cipher_list[0] &&
	    SSL_CTX_set_cipher_list(c->ssl, cfg->cipher_list) != 1) {
		snprintf(err, errlen, "cipher_list \"%s\" names no usable cipher", cfg->cipher_list);
		rc = TLS_ECONFIG;
		goto fail;
	}
	if (!cfg->server)
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	else if (cfg->ca && cfg->ca_len)
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ERR_clear_error();
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	tls_ctx_free(c);
	return rc;
}

void tls_ctx_free(tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

int tls_ctx_is_server(const tls_ctx *c) { return c ? c->server : 0; }

/* ---- connections ---- */

int tls_conn_new(tls_ctx *ctx, const tls_io *io, void *data, tls_conn **out)
{
	if (!ctx || !io || !io->send || !out)
		return TLS_ECONFIG;
	tls_conn *t = calloc(1, sizeof *t);
	if (!t)
		return TLS_ENOMEM;
	t->ssl = SSL_new(ctx->ssl);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return TLS_ENOMEM;
	}
	/* an empty rbio reads as "try again", not as end of file */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	t->server = ctx->server;
	if (ctx->server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	t->io = io;
	t->data = data;
	*out = t;
	return 0;
}

static void conn_destroy(tls_conn *t)
{
	SSL_free(t->ssl); /* frees both BIOs */
	free(t->pending);
	free(t);
}

void tls_conn_free(tls_conn *t)
{
	if (!t)
		return;
	if (t->in_recv) {
		t->doomed = 1;
		return;
	}
	conn_destroy(t);
}

/* Hand everything OpenSSL queued in wbio to the owner. */
static int flush_out(tls_conn *t)
{
	uint8_t buf[16384];
	int rc = 0;
	while (BIO_ctrl_pending(t->wbio) > 0) {
		int n = BIO_read(t->wbio, buf, sizeof buf);
		if (n <= 0)
			break;
		int s = t->io->send(t->data, buf, (size_t)n);
		if (s && !rc)
			rc = s;
	}
	return rc;
}

static int fail(tls_conn *t, int code, const char *fallback)
{
	if (!t->failed) {
		ossl_why(t->why, sizeof t->why, fallback);
		if (code == TLS_EHANDSHAKE && SSL_get_verify_result(t->ssl) != X509_V_OK) {
			size_t n = strlen(t->why);
			snprintf(t->why + n, sizeof t->why - n, " (%s)",
				 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
		}
	}
	t->failed = 1;
	ERR_clear_error();
	flush_out(t); /* the alert, if OpenSSL made one */
	return code;
}

static int write_now(tls_conn *t, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		int n = SSL_write(t->ssl, p, chunk);
		if (n <= 0)
			return fail(t, TLS_EPROTO, "write failed");
		p += n;
		len -= (size_t)n;
	}
	return flush_out(t);
}

int tls_conn_start(tls_conn *t)
{
	if (!t || t->server || t->failed)
		return TLS_EPROTO;
	ERR_clear_error();
	int r = SSL_do_handshake(t->ssl);
	if (r <= 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
		return fail(t, TLS_EHANDSHAKE, "handshake failed");
	return flush_out(t);
}

int tls_conn_feed(tls_conn *t, const uint8_t *buf, size_t len)
{
	if (!t)
		return TLS_EPROTO;
	if (t->failed)
		return TLS_EPROTO;
	ERR_clear_error();
	while (len) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		int n = BIO_write(t->rbio, buf, chunk);
		if (n <= 0)
			return fail(t, TLS_ENOMEM, "out of memory");
		buf += n;
		len -= (size_t)n;
	}
	if (!t->established) {
		int r = SSL_do_handshake(t->ssl);
		if (r <= 0) {
			int e = SSL_get_error(t->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return flush_out(t);
			return fail(t, TLS_EHANDSHAKE, "handshake failed");
		}
		t->established = 1;
		flush_out(t);
		if (t->pending) {
			uint8_t *p = t->pending;
			size_t n = t->pending_len;
			t->pending = NULL;
			t->pending_len = 0;
			int w = write_now(t, p, n);
			free(p);
			if (w)
				return w;
		}
		if (t->shut) {
			SSL_shutdown(t->ssl);
			ERR_clear_error();
			flush_out(t);
		}
	}
	uint8_t plain[16384];
	for (;;) {
		int n = SSL_read(t->ssl, plain, sizeof plain);
		if (n > 0) {
			if (t->io->recv) {
				t->in_recv = 1;
				t->io->recv(t->data, plain, (size_t)n);
				t->in_recv = 0;
				if (t->doomed) {
					conn_destroy(t);
					return TLS_EGONE;
				}
			}
			if (t->failed)
				return TLS_EPROTO;
			continue;
		}
		int e = SSL_get_error(t->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			t->peer_closed = 1;
			break;
		}
		return fail(t, TLS_EPROTO, "bad TLS record");
	}
	return flush_out(t);
}

int tls_conn_write(tls_conn *t, const void *buf, size_t len)
{
	if (!t || t->failed || t->shut)
		return TLS_EPROTO;
	if (!len)
		return 0;
	ERR_clear_error();
	if (!t->established) {
		uint8_t *p = realloc(t->pending, t->pending_len + len);
		if (!p)
			return TLS_ENOMEM;
		memcpy(p + t->pending_len, buf, len);
		t->pending = p;
		t->pending_len += len;
		return 0;
	}
	return write_now(t, buf, len);
}

void tls_conn_shutdown(tls_conn *t)
{
	if (!t || t->shut || t->failed)
		return;
	t->shut = 1;
	if (!t->established)
		return; /* pending plaintext (if any) goes out, then close_notify, once established */
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
	flush_out(t);
}

int tls_conn_established(const tls_conn *t) { return t && t->established; }
int tls_conn_peer_closed(const tls_conn *t) { return t && t->peer_closed; }
const char *tls_conn_error(const tls_conn *t) { return t ? t->why : ""; }
