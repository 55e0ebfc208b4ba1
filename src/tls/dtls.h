/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dtls.h: DTLS 1.2 with pre-shared keys, for the coaps listener.
 *
 * OpenSSL stays inside src/tls: the CoAP front end sees datagrams in and
 * datagrams out.  The caller owns the sockets and the session table; this
 * module owns the OpenSSL objects.
 *
 * A datagram from a peer that has no connection goes to dtls_accept().
 * The cookie exchange (RFC 6347 4.2.1) is stateless: a ClientHello without
 * a valid cookie is answered with a HelloVerifyRequest and forgotten, so a
 * peer must prove it receives at its source address before anything is
 * allocated for it.  Only a ClientHello with a valid cookie gives a
 * connection.  Cookies are an HMAC of the peer's address and port under a
 * secret that changes every few minutes (the previous one is still
 * accepted).
 *
 * A connection sends its records through the dtls_send_cb it was created
 * with, one call per datagram, and hands decrypted application data to the
 * dtls_recv_cb given to dtls_conn_input, one call per record.  While the
 * handshake runs, the caller asks dtls_conn_timer_ms() when to call
 * dtls_conn_timer() (retransmission of the last flight).
 *
 * Once its handshake completes with an AEAD suite (all the default ones),
 * a connection drops its OpenSSL object and protects records with the
 * keys alone (dtlsrec.h): about 2.5 KB a connection instead of some 40.
 * A connection on another suite (coaps_ciphers allowing CBC) stays with
 * OpenSSL, which frees its read buffer while idle
 * (SSL_MODE_RELEASE_BUFFERS) but not its DTLS write buffer.
 */
#ifndef OTAGW_DTLS_H
#define OTAGW_DTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dtls_server;
struct dtls_conn;

/* One datagram to send to the connection's peer. */
typedef void (*dtls_send_cb)(void *arg, const uint8_t *data, size_t len);
/* One decrypted application record. */
typedef void (*dtls_recv_cb)(void *arg, const uint8_t *data, size_t len);
/*
 * The key of identity (a NUL-terminated string as the client sent it):
 * 0 with *len set (1..max bytes written to key), or -1 to refuse.
 */
typedef int (*dtls_psk_cb)(void *arg, const char *identity, uint8_t *key,
	    size_t *len, size_t max);

/* Largest datagram a connection sends (handshake flights are split). */
#define DTLS_MTU	1400

/*
 * The cipher suites offered by default: PSK with AEAD ciphers only (AES-GCM,
 * AES-CCM and CCM_8, ChaCha20-Poly1305).  OpenSSL 3.0 ends a DTLS session
 * on a forged record under a CBC suite, so anyone who can send from a
 * device's address could cut its session; AEAD records that fail are
 * dropped instead.  RFC 7252's mandatory TLS_PSK_WITH_AES_128_CCM_8 is in.
 */
#define DTLS_CIPHERS_DEFAULT	"PSK+AESGCM:PSK+AESCCM:PSK+CHACHA20"

struct dtls_server *dtls_server_new(dtls_psk_cb, void *arg);
/* An OpenSSL cipher list instead of the default: 0, or -1 if it has none. */
int	 dtls_server_set_ciphers(struct dtls_server *, const char *);
void	 dtls_server_free(struct dtls_server *);	/* accepts NULL */

/*
 * Is this datagram a DTLS ClientHello (handshake record, epoch 0)?  A
 * cheap look at the record header, for a caller that must decide whether
 * a datagram could open a connection.
 */
int	 dtls_is_client_hello(const uint8_t *, size_t);

/*
 * Does this ClientHello carry a cookie (whether valid or not)?  One
 * without a cookie costs nothing to answer: dtls_accept keeps no state
 * for it.
 */
int	 dtls_hello_has_cookie(const uint8_t *, size_t);

enum dtls_accept_result {
	DTLS_ACCEPT_DROP = 0,	/* not a usable ClientHello: ignored */
	DTLS_ACCEPT_VERIFY,	/* answered with a HelloVerifyRequest */
	DTLS_ACCEPT_NEW,	/* a connection was made */
};

/*
 * A datagram from peer, which has no connection.  Returns the new
 * connection (*result DTLS_ACCEPT_NEW; its first flight has been sent
 * through send) or NULL (*result says why).  send/arg stay with the
 * connection.
 */
struct dtls_conn *dtls_accept(struct dtls_server *, const struct sockaddr *,
	    socklen_t, const uint8_t *, size_t, dtls_send_cb, void *arg,
	    int *result);

/*
 * Feeds one datagram to c.  Application records go to recv.  Returns 0,
 * or -1 when the connection is over (closed by the peer, or failed): the
 * caller frees it.  A datagram that cannot hold records of c (empty, or a
 * protected record shorter than the cipher's nonce and tag) is ignored.
 */
int	 dtls_conn_input(struct dtls_conn *, const uint8_t *, size_t,
	    dtls_recv_cb recv, void *arg);
/* Sends len bytes as one record.  0, or -1 (the connection failed). */
int	 dtls_conn_write(struct dtls_conn *, const uint8_t *, size_t);
/* Where c's datagrams go from now on. */
void	 dtls_conn_set_send(struct dtls_conn *, dtls_send_cb, void *arg);
/* 1 once the handshake has completed. */
int	 dtls_conn_established(const struct dtls_conn *);
/* The PSK identity the client used (valid once established), or NULL. */
const char *dtls_conn_identity(const struct dtls_conn *);
/*
 * Milliseconds until the handshake's retransmission timer fires (0: now),
 * or -1 when none runs.
 */
int64_t	 dtls_conn_timer_ms(struct dtls_conn *);
/* The timer fired: retransmits.  0, or -1 when the handshake gave up. */
int	 dtls_conn_timer(struct dtls_conn *);
/* Sends close_notify (best effort); the caller frees c afterwards. */
void	 dtls_conn_close(struct dtls_conn *);
void	 dtls_conn_free(struct dtls_conn *);	/* accepts NULL */

#endif
