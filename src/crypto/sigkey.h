/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sigkey.h: the gateway's notice-signing keys (sigkey.c, over OpenSSL 3).
 *
 * A key is kept at rest as its private key in DER (the store holds those
 * bytes, never a file); loaded, it signs data the way JWS (RFC 7515) wants
 * the signature: ES256 as the 64 bytes r || s, Ed25519 as its 64 bytes.
 * Its public half is handed to device makers as PEM and as raw bytes (the
 * uncompressed P-256 point, 65 bytes, or the 32-byte Ed25519 key), and
 * names the key: the key id is the hex of the first 6 bytes of the raw
 * public key's SHA-256.
 */
#ifndef OTAGW_CRYPTO_SIGKEY_H
#define OTAGW_CRYPTO_SIGKEY_H

#include <stddef.h>
#include <stdint.h>

enum sig_alg {
	SIG_ES256 = 0,		/* ECDSA P-256 with SHA-256 */
	SIG_ED25519 = 1,	/* EdDSA over Curve25519 */
};

#define SIGKEY_DER_MAX	160	/* a private key in DER, either algorithm */
#define SIGKEY_RAW_MAX	65	/* a raw public key */
#define SIGKEY_PEM_MAX	200	/* a public key in PEM, with its NUL */
#define SIGKEY_SIG_MAX	64	/* a signature, JWS form */
#define SIGKEY_KID_LEN	12	/* hex characters of a key id */

/* "ES256" / "EdDSA" (the JWS names), or NULL for an unknown value. */
const char *sigkey_alg_name(int alg);
/* From the JWS name or "es256", "ed25519" (any case): 0, or -1. */
int	 sigkey_alg_parse(const char *, int *alg);

/* A new private key in DER: 0, or -1 (OpenSSL failed). */
int	 sigkey_generate(int alg, uint8_t der[SIGKEY_DER_MAX], size_t *len);

struct sigkey;
/* NULL when der is not a private key of alg. */
struct sigkey *sigkey_load(int alg, const uint8_t *der, size_t len);
void	 sigkey_free(struct sigkey *);	/* accepts NULL */
int	 sigkey_alg(const struct sigkey *);

/* The signature of data, JWS form, into sig; its length, or -1. */
int	 sigkey_sign(struct sigkey *, const void *data, size_t n,
	    uint8_t sig[SIGKEY_SIG_MAX]);

/*
 * The public key: PEM (SubjectPublicKeyInfo, NUL-terminated) and raw
 * bytes (*rawlen set), and the key id (NUL-terminated).  0, or -1.
 */
int	 sigkey_public(const struct sigkey *, char pem[SIGKEY_PEM_MAX],
	    uint8_t raw[SIGKEY_RAW_MAX], size_t *rawlen,
	    char kid[SIGKEY_KID_LEN + 1]);

#endif
