/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sigkey.c: notice-signing keys over OpenSSL 3 (see sigkey.h).
 *
 * OpenSSL signs ECDSA in DER (a SEQUENCE of two INTEGERs); JWS wants the
 * two numbers as fixed 32-byte big-endian halves, so the DER is taken
 * apart here and nobody else sees it.  Ed25519 signatures are already
 * in the form JWS uses.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "crypto/sigkey.h"

struct sigkey {
	EVP_PKEY	*pkey;
	int		 alg;
};

const char *
sigkey_alg_name(int alg)
{
	switch (alg) {
	case SIG_ES256:
		return "ES256";
	case SIG_ED25519:
		return "EdDSA";
	default:
		return NULL;
	}
}

int
sigkey_alg_parse(const char *s, int *alg)
{
	if (strcasecmp(s, "ES256") == 0) {
		*alg = SIG_ES256;
		return 0;
	}
	if (strcasecmp(s, "EdDSA") == 0 || strcasecmp(s, "ed25519") == 0) {
		*alg = SIG_ED25519;
		return 0;
	}
	return -1;
}

int
sigkey_generate(int alg, uint8_t der[SIGKEY_DER_MAX], size_t *len)
{
	EVP_PKEY *pkey;
	uint8_t	*p = NULL;
	int	 n;

	if (alg == SIG_ES256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (alg == SIG_ED25519)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		return -1;
	if (pkey == NULL)
		return -1;
	n = i2d_PrivateKey(pkey, &p);
	EVP_PKEY_free(pkey);
	if (n <= 0 || n > SIGKEY_DER_MAX) {
		if (n > 0)
			OPENSSL_clear_free(p, (size_t)n);
		return -1;
	}
	memcpy(der, p, (size_t)n);
	OPENSSL_clear_free(p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

struct sigkey *
sigkey_load(int alg, const uint8_t *der, size_t len)
{
	struct sigkey *k;
	const uint8_t *p = der;
	int	 want;

	if (alg == SIG_ES256)
		want = EVP_PKEY_EC;
	else if (alg == SIG_ED25519)
		want = EVP_PKEY_ED25519;
	else
		return NULL;
	if (len == 0 || len > SIGKEY_DER_MAX ||
	    (k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->alg = alg;
	k->pkey = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (k->pkey == NULL || p != der + len ||
	    EVP_PKEY_get_base_id(k->pkey) != want ||
	    (alg == SIG_ES256 && EVP_PKEY_get_bits(k->pkey) != 256)) {
		sigkey_free(k);
		return NULL;
	}
	return k;
}

void
sigkey_free(struct sigkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int
sigkey_alg(const struct sigkey *k)
{
	return k->alg;
}

/* An ECDSA signature in DER as JWS's r || s, 32 bytes each. */
static int
es256_raw(const uint8_t *der, size_t len, uint8_t sig[64])
{
	const uint8_t *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *es;
	int	 ok;

	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return -1;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, sig, 32) == 32 &&
	    BN_bn2binpad(s, sig + 32, 32) == 32;
	ECDSA_SIG_free(es);
	return ok ? 64 : -1;
}

int
sigkey_sign(struct sigkey *k, const void *data, size_t n,
    uint8_t sig[SIGKEY_SIG_MAX])
{
	EVP_MD_CTX *ctx;
	uint8_t	 der[80];
	size_t	 len = sizeof(der);
	int	 rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit_ex(ctx, NULL, k->alg == SIG_ES256 ?
	    "SHA256" : NULL, NULL, NULL, k->pkey, NULL) != 1)
		goto done;
	if (k->alg == SIG_ED25519) {
		len = SIGKEY_SIG_MAX;
		if (EVP_DigestSign(ctx, sig, &len, data, n) == 1 && len == 64)
			rc = 64;
	} else if (EVP_DigestSign(ctx, der, &len, data, n) == 1)
		rc = es256_raw(der, len, sig);
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int
public_pem(EVP_PKEY *pkey, char pem[SIGKEY_PEM_MAX])
{
	BIO	*b;
	char	*p;
	long	 n;
	int	 rc = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (PEM_write_bio_PUBKEY(b, pkey) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 && n < SIGKEY_PEM_MAX) {
		memcpy(pem, p, (size_t)n);
		pem[n] = '\0';
		rc = 0;
	}
	BIO_free(b);
	return rc;
}

int
sigkey_public(const struct sigkey *k, char pem[SIGKEY_PEM_MAX],
    uint8_t raw[SIGKEY_RAW_MAX], size_t *rawlen,
    char kid[SIGKEY_KID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t	 h[32];
	size_t	 i, len = SIGKEY_RAW_MAX;

	if (public_pem(k->pkey, pem) == -1)
		return -1;
	if (k->alg == SIG_ES256) {
		if (EVP_PKEY_get_octet_string_param(k->pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw, len, &len) != 1 ||
		    len != 65)
			return -1;
	} else if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 ||
	    len != 32)
		return -1;
	*rawlen = len;
	crypto_sha256(raw, len, h);
	for (i = 0; i < SIGKEY_KID_LEN / 2; i++) {
		kid[2 * i] = hex[h[i] >> 4];
		kid[2 * i + 1] = hex[h[i] & 15];
	}
	kid[SIGKEY_KID_LEN] = '\0';
	return 0;
}
