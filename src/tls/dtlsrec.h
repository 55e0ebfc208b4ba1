/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dtlsrec.h: the DTLS 1.2 record layer of an established connection,
 * without its SSL object (used by dtls.c only).
 *
 * Once a handshake is done, an OpenSSL DTLS connection still holds some
 * 30 KB: its handshake buffer (kept for DTLS over UDP), record buffers, the
 * handshake state and the session.  A gateway holding tens of thousands of
 * sleepy devices' sessions pays that for every one.  For the AEAD suites
 * otagw offers (AES-GCM, AES-CCM, AES-CCM_8, ChaCha20-Poly1305), dtls.c
 * therefore takes the keys out of the finished handshake and frees the SSL
 * object: what is left per connection is a struct dtls_rec (two cipher
 * contexts, the sequence numbers and the replay window) of about 1.5 KB.
 *
 * Records are protected as RFC 6347 section 4.1 and RFC 5288 / 6655 / 7905
 * say: epoch 1, a 48-bit sequence number, an explicit nonce (the epoch and
 * sequence number) for AES-GCM and AES-CCM, the implicit one of
 * ChaCha20-Poly1305, and a 64-record sliding window against replays.
 * Records that fail authentication are dropped.  The server's last flight
 * (ChangeCipherSpec and Finished) is kept until the peer's first protected
 * record arrives, and sent again when the peer repeats its own last flight
 * (it did not hear ours).
 */
#ifndef OTAGW_TLS_DTLSREC_H
#define OTAGW_TLS_DTLSREC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct dtls_rec;

/* Largest final flight kept (CCS and Finished take under 100 bytes). */
#define DTLS_REC_FLIGHT_MAX	256

/*
 * The record state of ssl, whose handshake (as a server, full handshake)
 * has just completed.  flight holds the datagrams of the server's last
 * flight, each preceded by its length in two bytes (big-endian).  NULL
 * when the suite is not one of ours or memory is short; the caller then
 * keeps using ssl.
 */
struct dtls_rec *dtls_rec_new(SSL *ssl, const uint8_t *flight,
	    size_t flightlen);
void	 dtls_rec_free(struct dtls_rec *);	/* accepts NULL */

/* Where datagrams go: one call per datagram. */
typedef void (*dtls_rec_out)(void *arg, const uint8_t *data, size_t len);
/* A decrypted application record. */
typedef void (*dtls_rec_in)(void *arg, const uint8_t *data, size_t len);

/*
 * One datagram from the peer: application records go to in, the kept
 * flight is sent again through out when the peer repeats its handshake.
 * Returns 0, or -1 when the peer closed (close_notify) or sent a fatal
 * alert.
 */
int	 dtls_rec_input(struct dtls_rec *, const uint8_t *, size_t,
	    dtls_rec_in in, void *inarg, dtls_rec_out out, void *outarg);
/*
 * Sends len bytes (1..16384) as one record of type (23: application data,
 * 21: alert).  0, or -1.
 */
int	 dtls_rec_write(struct dtls_rec *, int type, const uint8_t *, size_t,
	    dtls_rec_out out, void *outarg);

#endif
