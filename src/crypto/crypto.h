/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto.h: digests, randomness and secret handling, the only module
 * outside the TLS code that includes OpenSSL headers.
 */
#ifndef OTAGW_CRYPTO_H
#define OTAGW_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/*
 * MD5, SHA-256 and SHA-1 of one stream, computed together (SHA-1 only
 * because hawkBit clients check it, docs/hawkbit.md); digest_sha1 may be
 * called before or after digest_final, once.
 */
struct digest;
struct digest *digest_new(void);
void	 digest_update(struct digest *, const void *, size_t);
void	 digest_final(struct digest *, uint8_t md5[16], uint8_t sha256[32]);
void	 digest_sha1(struct digest *, uint8_t sha1[20]);
/* The SHA-1 of a buffer (firmware stored before it was recorded). */
void	 crypto_sha1(const void *, size_t, uint8_t out[20]);
void	 digest_free(struct digest *);	/* accepts NULL */

void	 crypto_sha256(const void *, size_t, uint8_t out[32]);
/* Cryptographically strong random bytes; 0 or -1. */
int	 crypto_random(void *, size_t);
/* Wipes memory in a way the compiler keeps. */
void	 crypto_wipe(void *, size_t);
/* Constant-time comparison: 0 when equal. */
int	 crypto_memcmp(const void *, const void *, size_t);

/* Device secrets at rest: SHA-256(salt || secret). */
void	 crypto_secret_hash(const uint8_t salt[16], const char *secret,
	    size_t len, uint8_t out[32]);

/* Standard base64 with padding; out must hold 4 * ((n + 2) / 3) + 1. */
void	 crypto_base64(const uint8_t *in, size_t n, char *out);
/*
 * base64url without padding (RFC 4648 section 5), for URLs; out must
 * hold (4 * n + 2) / 3 + 1.
 */
void	 crypto_base64url(const uint8_t *in, size_t n, char *out);

/* HMAC-SHA-256 of data under key; 0, or -1 (OpenSSL failed). */
int	 crypto_hmac_sha256(const uint8_t *key, size_t keylen,
	    const void *data, size_t n, uint8_t out[32]);

/*
 * Author signatures of firmware images (issue 15, item 3).  An author
 * key is an ECDSA P-256 public key in PEM ("-----BEGIN PUBLIC KEY-----",
 * as `openssl ec -pubout' writes it); a signature is the DER ECDSA
 * signature over an image's SHA-256, as `openssl dgst -sha256 -sign'
 * writes it (at most CRYPTO_ES256_SIG_MAX bytes).
 */
#define CRYPTO_ES256_SIG_MAX	72
#define CRYPTO_PEM_MAX		1024
/*
 * When pem (len bytes) holds a P-256 public key and no private key:
 * that key alone, as PEM_write_bio_PUBKEY writes it, into out (cap
 * bytes, NUL-terminated), its length in *outlen, and 0.  Else -1: what
 * is stored and shown again is never more than the public key.
 */
int	 crypto_es256_key_normalize(const char *pem, size_t len, char *out,
	    size_t cap, size_t *outlen);
/*
 * 1 when sig (DER, len bytes) is a valid signature of digest under the
 * key in pem, 0 when it is not (also for a malformed or truncated
 * signature), -1 when the key cannot be read.
 */
int	 crypto_es256_verify_digest(const char *pem, size_t pemlen,
	    const uint8_t digest[32], const uint8_t *sig, size_t len);
/*
 * base64 of either alphabet (standard or URL), padding optional: the
 * bytes into out (cap bytes), or -1 for a bad character, bad padding or
 * no room.
 */
int	 crypto_base64_decode(const char *in, size_t n, uint8_t *out,
	    size_t cap);

#endif
