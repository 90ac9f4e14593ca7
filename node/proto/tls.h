/*
 * tls.h — TLS (OpenSSL) over any byte pipe, through memory BIOs.
 *
 * OpenSSL never touches a socket here: ciphertext arriving from an rt stream is fed in with
 * tls_conn_feed, and ciphertext to send leaves through the owner's send callback (which writes
 * it to the stream). So the same code runs over rt_uv (live) and rt_sim (simulation). The HTTP
 * server uses it for MindSpore's enable_ssl on the device API (http_server_config.tls).
 *
 * Certificates come in as bytes (the entry points read the files; node code reaches files only
 * through rt.h): the own certificate as PKCS#12 (MindSpore's server.p12 with server_password) or
 * PEM (certificate, then its key), and CA certificates as PEM.
 *
 * Randomness: OpenSSL draws its own (handshake nonces, key shares) from the OS, not from the rt
 * host's seeded stream, so a simulated run with TLS on is not byte-for-byte repeatable (see
 * docs/security.md). Certificate validity is checked against the OS clock.
 */
#ifndef FL_TLS_H
#define FL_TLS_H

#include "../util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

typedef struct tls_ctx_config {
	int server; /* 1: the accepting side (needs cert); 0: the connecting side (needs ca) */
	/* Own certificate and key: PKCS#12 (with password) or PEM (certificate and key, the key
	 * optionally encrypted with password). Required on the server; optional on a client
	 * (mutual TLS). Borrowed during tls_ctx_new. */
	const uint8_t *cert;
	size_t cert_len;
	const char *password; /* NULL = none */
	/* PEM CA certificates. A client verifies the server against them (required); a server
	 * that has them asks every client for a certificate they signed, and refuses one without. */
	const uint8_t *ca;
	size_t ca_len;
	const char *cipher_list; /* TLS 1.2 suites in OpenSSL's syntax; NULL or "" = its default */
} tls_ctx_config;

/* 0, or TLS_ECONFIG with err (errlen bytes) saying what is wrong. *out is the caller's (free
 * with tls_ctx_free, after every tls_conn made from it). */
int tls_ctx_new(const tls_ctx_config *cfg, tls_ctx **out, char *err, size_t errlen);
void tls_ctx_free(tls_ctx *ctx); /* NULL is fine */
int tls_ctx_is_server(const tls_ctx *ctx);

typedef struct tls_io {
	/* Ciphertext for the peer, valid only during the call (copy it). 0 or a negative code. */
	int (*send)(void *data, const uint8_t *buf, size_t len);
	/* Plaintext from the peer, valid only during the call. May call tls_conn_write, and
	 * tls_conn_free (then tls_conn_feed returns TLS_EGONE). */
	void (*recv)(void *data, const uint8_t *buf, size_t len);
} tls_io;

/* One connection's TLS state; io must outlive it. *out is the caller's (tls_conn_free). */
int tls_conn_new(tls_ctx *ctx, const tls_io *io, void *data, tls_conn **out);
void tls_conn_free(tls_conn *t); /* NULL is fine; inside recv it takes effect after recv returns */
/* Client: send the ClientHello (the server waits for one). */
int tls_conn_start(tls_conn *t);
/*
 * Ciphertext received from the peer (borrowed). Answers the handshake through send and hands
 * plaintext to recv. Returns 0; TLS_EHANDSHAKE or TLS_EPROTO when the connection is dead (the
 * owner closes its stream; tls_conn_error says why); TLS_EGONE when recv freed t.
 */
int tls_conn_feed(tls_conn *t, const uint8_t *buf, size_t len);
/* Send plaintext (copied). Before the handshake completes it waits inside t. */
int tls_conn_write(tls_conn *t, const void *buf, size_t len);
/* Send close_notify (after everything written so far). Further writes fail. */
void tls_conn_shutdown(tls_conn *t);
int tls_conn_established(const tls_conn *t);
/* 1 once the peer sent close_notify. */
int tls_conn_peer_closed(const tls_conn *t);
/* Why the connection failed ("" while it has not). */
const char *tls_conn_error(const tls_conn *t);

#endif
