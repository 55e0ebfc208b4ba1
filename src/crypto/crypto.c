/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto.c: digests, randomness and secret handling over OpenSSL 3.
 *
 * The rest of otagw never includes an OpenSSL header: firmware uploads
 * stream through one struct digest that feeds MD5 and SHA-256 together (a
 * firmware record carries both, whichever sign method it uses), device
 * secrets are stored as SHA-256(salt || secret), and comparisons of secrets
 * go through CRYPTO_memcmp.  The EVP fetches are done once per digest
 * object; failures there mean a broken OpenSSL installation, which is
 * fatal rather than silently producing wrong digests.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"
#include "log.h"

struct digest {
	EVP_MD_CTX	*md5;
	EVP_MD_CTX	*sha256;
	EVP_MD_CTX	*sha1;		/* for hawkBit clients only */
};

struct digest *
digest_new(void)
{
	struct digest *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->md5 = EVP_MD_CTX_new()) == NULL ||
	    (d->sha256 = EVP_MD_CTX_new()) == NULL ||
	    (d->sha1 = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(d->md5, EVP_md5(), NULL) != 1 ||
	    EVP_DigestInit_ex(d->sha256, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(d->sha1, EVP_sha1(), NULL) != 1)
		goto fail;
	return d;
fail:
	log_warnx("digest_new: OpenSSL could not set up MD5/SHA-256/SHA-1");
	digest_free(d);
	return NULL;
}

void
digest_update(struct digest *d, const void *buf, size_t len)
{
	if (len == 0)
		return;
	if (EVP_DigestUpdate(d->md5, buf, len) != 1 ||
	    EVP_DigestUpdate(d->sha256, buf, len) != 1 ||
	    EVP_DigestUpdate(d->sha1, buf, len) != 1)
		fatalx("digest_update: EVP_DigestUpdate failed");
}

void
digest_final(struct digest *d, uint8_t md5[16], uint8_t sha256[32])
{
	unsigned int n5 = 0, n256 = 0;

	if (EVP_DigestFinal_ex(d->md5, md5, &n5) != 1 || n5 != 16 ||
	    EVP_DigestFinal_ex(d->sha256, sha256, &n256) != 1 || n256 != 32)
		fatalx("digest_final: EVP_DigestFinal_ex failed");
}

void
digest_sha1(struct digest *d, uint8_t sha1[20])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(d->sha1, sha1, &n) != 1 || n != 20)
		fatalx("digest_sha1: EVP_DigestFinal_ex failed");
}

void
crypto_sha1(const void *buf, size_t len, uint8_t out[20])
{
	struct digest *d;

	if ((d = digest_new()) == NULL)
		fatalx("crypto_sha1: out of memory");
	if (len > 0 && EVP_DigestUpdate(d->sha1, buf, len) != 1)
		fatalx("crypto_sha1: EVP_DigestUpdate failed");
	digest_sha1(d, out);
	digest_free(d);
}

void
digest_free(struct digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->md5);
	EVP_MD_CTX_free(d->sha256);
	EVP_MD_CTX_free(d->sha1);
	free(d);
}

static EVP_MD	*sha256_md;
static pthread_key_t sha256_key;
static int	 sha256_key_ok;

static void
crypto_sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
crypto_sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	sha256_key_ok = pthread_key_create(&sha256_key,
	    crypto_sha256_ctx_free) == 0;
}

/*
 * EVP_sha256() makes every EVP_Digest fetch the implementation from the
 * provider again (a lock and a hash table look-up) and set up a new
 * context, which together cost more than hashing a short string; a
 * download over HTTPS hashes its bearer token once per request (the
 * grant key).  So the digest is fetched once, and each thread keeps one
 * context that every call starts afresh.
 */
void
crypto_sha256(const void *buf, size_t len, uint8_t out[32])
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	EVP_MD_CTX *ctx = NULL;
	unsigned int n = 0;

	(void)pthread_once(&once, crypto_sha256_fetch);
	if (sha256_md == NULL)
		fatalx("crypto_sha256: OpenSSL has no SHA-256");
	if (sha256_key_ok &&
	    (ctx = pthread_getspecific(sha256_key)) == NULL &&
	    (ctx = EVP_MD_CTX_new()) != NULL &&
	    pthread_setspecific(sha256_key, ctx) != 0) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	if (ctx == NULL) {
		/* no context of its own: a one-off one */
		if (EVP_Digest(buf, len, out, &n, sha256_md, NULL) != 1 ||
		    n != 32)
			fatalx("crypto_sha256: EVP_Digest failed");
		return;
	}
	if (EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, buf, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 32)
		fatalx("crypto_sha256: EVP_Digest failed");
}

int
crypto_random(void *buf, size_t len)
{
	if (len > INT32_MAX)
		return -1;
	if (RAND_bytes(buf, (int)len) != 1) {
		log_warnx("crypto_random: RAND_bytes failed");
		return -1;
	}
	return 0;
}

void
crypto_wipe(void *buf, size_t len)
{
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
}

int
crypto_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) != 0;
}

void
crypto_secret_hash(const uint8_t salt[16], const char *secret, size_t len,
    uint8_t out[32])
{
	EVP_MD_CTX *ctx;
	unsigned int n = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, salt, 16) != 1 ||
	    (len > 0 && EVP_DigestUpdate(ctx, secret, len) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 32)
		fatalx("crypto_secret_hash: SHA-256 failed");
	EVP_MD_CTX_free(ctx);
}

void
crypto_base64(const uint8_t *in, size_t n, char *out)
{
	/* EVP_EncodeBlock takes an int length: encode in large chunks. */
	const size_t chunk = 3 * 1024 * 1024;
	size_t done = 0, take;

	out[0] = '\0';
	while (done < n) {
		take = n - done > chunk ? chunk : n - done;
		out += EVP_EncodeBlock((unsigned char *)out, in + done,
		    (int)take);
		done += take;
	}
	*out = '\0';
}

void
crypto_base64url(const uint8_t *in, size_t n, char *out)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t v;
	size_t	 i;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		*out++ = alpha[v >> 18];
		*out++ = alpha[(v >> 12) & 63];
		*out++ = alpha[(v >> 6) & 63];
		*out++ = alpha[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		*out++ = alpha[v >> 18];
		*out++ = alpha[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = alpha[v >> 18];
		*out++ = alpha[(v >> 12) & 63];
		*out++ = alpha[(v >> 6) & 63];
	}
	*out = '\0';
}

int
crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
    size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len) == NULL ||
	    len != 32) {
		log_warnx("crypto: HMAC-SHA-256 failed");
		return -1;
	}
	return 0;
}

/*
 * Author signatures (issue 15, item 3): an ECDSA P-256 public key in PEM
 * and a DER signature over an image's SHA-256, checked with the digest
 * given (the image was hashed while it streamed in), so nothing is read
 * twice.  EVP_PKEY_verify takes the digest as it is and the DER
 * signature as `openssl dgst -sha256 -sign' writes it.
 */
/* The key's curve is P-256 (prime256v1), not another of 256 bits. */
static int
es256_is_p256(const EVP_PKEY *pk)
{
	char	 name[64];
	size_t	 n = 0;

	return EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
	    name, sizeof(name), &n) == 1 && strcmp(name, "prime256v1") == 0;
}

static EVP_PKEY *
es256_key_read(const char *pem, size_t len)
{
	EVP_PKEY *pk = NULL;
	BIO	*b;

	if (pem == NULL || len == 0 || len > CRYPTO_PEM_MAX ||
	    len > INT_MAX)
		return NULL;
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (pk != NULL && !EVP_PKEY_is_a(pk, "EC")) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (pk != NULL && !es256_is_p256(pk)) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	ERR_clear_error();
	return pk;
}

int
crypto_es256_key_normalize(const char *pem, size_t len, char *out,
    size_t cap, size_t *outlen)
{
	EVP_PKEY *pk;
	BIO	*b = NULL;
	char	*p;
	long	 n;
	int	 rc = -1;

	if (pem == NULL || memmem(pem, len, "PRIVATE KEY", 11) != NULL)
		return -1;
	if ((pk = es256_key_read(pem, len)) == NULL)
		return -1;
	if ((b = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_PUBKEY(b, pk) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 && (size_t)n < cap) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
		*outlen = (size_t)n;
		rc = 0;
	}
	BIO_free(b);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

int
crypto_es256_verify_digest(const char *pem, size_t pemlen,
    const uint8_t digest[32], const uint8_t *sig, size_t len)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk;
	int	 rc = 0;

	if ((pk = es256_key_read(pem, pemlen)) == NULL)
		return -1;
	if (sig == NULL || len == 0 || len > CRYPTO_ES256_SIG_MAX)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
		rc = -1;
		goto out;
	}
	rc = EVP_PKEY_verify(ctx, sig, len, digest, 32) == 1;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int
crypto_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	size_t	 i, o = 0, bits = 0;
	int	 v;

	while (n > 0 && in[n - 1] == '=' && n % 4 != 1)
		n--;
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64_value((unsigned char)in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* the bits left over must be zero (canonical encoding) */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	return o > INT_MAX ? -1 : (int)o;
}
