/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dtlsrec.c: DTLS 1.2 AEAD records without an SSL object (see dtlsrec.h).
 *
 * The keys come from the finished handshake the way TLS 1.2 derives them
 * (RFC 5246 6.3): key_block = PRF(master_secret, "key expansion",
 * server_random + client_random) with the suite's hash, cut into the two
 * write keys and the two fixed IVs (AEAD suites have no MAC keys).  The
 * PRF is OpenSSL's "TLS1-PRF" KDF.  Each direction keeps one cipher
 * context with its key set; a record only sets the nonce.
 *
 * The server wrote its Finished as record 0 of epoch 1, so its next record
 * is 1; the client's Finished was its record 0 of epoch 1, so the replay
 * window starts there.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include "tls/dtlsrec.h"

#define REC_HDR		13	/* type, version, epoch, sequence, length */
#define REC_DATA_MAX	16384
#define REC_SEQ_MAX	((UINT64_C(1) << 48) - 1)
#define REC_WINDOW	64

enum rec_kind {
	REC_GCM = 1,
	REC_CCM,
	REC_CHACHA,
};

struct dtls_rec {
	EVP_CIPHER_CTX	*enc, *dec;
	int		 kind;		/* enum rec_kind */
	uint8_t		 taglen;	/* 16, or 8 for CCM_8 */
	uint8_t		 xlen;		/* explicit nonce: 8, or 0 */
	uint8_t		 ivlen;		/* fixed IV: 4, or 12 */
	uint8_t		 wiv[12];	/* ours */
	uint8_t		 riv[12];	/* the peer's */
	uint64_t	 wseq;		/* our next record */
	uint64_t	 rtop;		/* highest record accepted */
	uint64_t	 rmap;		/* bit i: rtop - i was accepted */
	uint16_t	 flightlen;
	uint8_t		*flight;	/* until the peer's first record */
};

static void
rec_put48(uint8_t *p, uint16_t epoch, uint64_t seq)
{
	int i;

	p[0] = (uint8_t)(epoch >> 8);
	p[1] = (uint8_t)epoch;
	for (i = 0; i < 6; i++)
		p[2 + i] = (uint8_t)(seq >> (8 * (5 - i)));
}

static uint64_t
rec_get48(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 6; i++)
		v = v << 8 | p[i];
	return v;
}

/* The cipher of a suite, its kind and tag length; NULL if not ours. */
static const EVP_CIPHER *
rec_cipher(const SSL_CIPHER *ci, int *kind, uint8_t *taglen)
{
	int ccm8 = strstr(SSL_CIPHER_get_name(ci), "CCM8") != NULL;

	*taglen = 16;
	switch (SSL_CIPHER_get_cipher_nid(ci)) {
	case NID_aes_128_gcm:
		*kind = REC_GCM;
		return EVP_aes_128_gcm();
	case NID_aes_256_gcm:
		*kind = REC_GCM;
		return EVP_aes_256_gcm();
	case NID_aes_128_ccm:
		*kind = REC_CCM;
		*taglen = ccm8 ? 8 : 16;
		return EVP_aes_128_ccm();
	case NID_aes_256_ccm:
		*kind = REC_CCM;
		*taglen = ccm8 ? 8 : 16;
		return EVP_aes_256_ccm();
	case NID_chacha20_poly1305:
		*kind = REC_CHACHA;
		return EVP_chacha20_poly1305();
	default:
		return NULL;
	}
}

/* The TLS 1.2 key block of ssl, len bytes: 0, or -1. */
static int
rec_key_block(SSL *ssl, const SSL_CIPHER *ci, uint8_t *out, size_t len)
{
	static const char label[] = "key expansion";
	uint8_t ms[SSL_MAX_MASTER_KEY_LENGTH];
	uint8_t seed[sizeof(label) - 1 + 2 * SSL3_RANDOM_SIZE];
	OSSL_PARAM params[4];
	const EVP_MD *md = SSL_CIPHER_get_handshake_digest(ci);
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	size_t mslen;
	int rc = -1;

	if (md == NULL || SSL_get_session(ssl) == NULL)
		return -1;
	mslen = SSL_SESSION_get_master_key(SSL_get_session(ssl), ms,
	    sizeof(ms));
	memcpy(seed, label, sizeof(label) - 1);
	if (mslen == 0 ||
	    SSL_get_server_random(ssl, seed + sizeof(label) - 1,
	    SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE ||
	    SSL_get_client_random(ssl, seed + sizeof(label) - 1 +
	    SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE)
		goto out;
	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL)) == NULL)
		goto out;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
	    ms, mslen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, len, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(kctx);
	OPENSSL_cleanse(ms, sizeof(ms));
	return rc;
}

/* A cipher context with its key: enc 1 to protect, 0 to check. */
static EVP_CIPHER_CTX *
rec_ctx(const EVP_CIPHER *cipher, const struct dtls_rec *r,
    const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12,
	    NULL) != 1 ||
	    (r->kind == REC_CCM && EVP_CIPHER_CTX_ctrl(ctx,
	    EVP_CTRL_AEAD_SET_TAG, r->taglen, NULL) != 1) ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct dtls_rec *
dtls_rec_new(SSL *ssl, const uint8_t *flight, size_t flightlen)
{
	const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
	const EVP_CIPHER *cipher;
	struct dtls_rec *r;
	uint8_t kb[2 * 32 + 2 * 12];
	size_t klen;

	if (ci == NULL || flightlen > DTLS_REC_FLIGHT_MAX ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((cipher = rec_cipher(ci, &r->kind, &r->taglen)) == NULL)
		goto fail;
	klen = (size_t)EVP_CIPHER_get_key_length(cipher);
	r->xlen = r->kind == REC_CHACHA ? 0 : 8;
	r->ivlen = r->kind == REC_CHACHA ? 12 : 4;
	if (klen > 32 || rec_key_block(ssl, ci, kb,
	    2 * klen + 2 * r->ivlen) == -1)
		goto fail;
	/* client key, server key, client IV, server IV */
	memcpy(r->riv, kb + 2 * klen, r->ivlen);
	memcpy(r->wiv, kb + 2 * klen + r->ivlen, r->ivlen);
	if ((r->enc = rec_ctx(cipher, r, kb + klen, 1)) == NULL ||
	    (r->dec = rec_ctx(cipher, r, kb, 0)) == NULL)
		goto fail;
	OPENSSL_cleanse(kb, sizeof(kb));
	r->wseq = 1;
	r->rtop = 0;
	r->rmap = 1;
	if (flightlen > 0) {
		if ((r->flight = malloc(flightlen)) == NULL)
			goto fail;
		memcpy(r->flight, flight, flightlen);
		r->flightlen = (uint16_t)flightlen;
	}
	return r;
fail:
	OPENSSL_cleanse(kb, sizeof(kb));
	dtls_rec_free(r);
	return NULL;
}

void
dtls_rec_free(struct dtls_rec *r)
{
	if (r == NULL)
		return;
	EVP_CIPHER_CTX_free(r->enc);
	EVP_CIPHER_CTX_free(r->dec);
	free(r->flight);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

/*
 * The nonce of a record under fixed IV iv: for ChaCha20-Poly1305 the IV
 * XOR the record's epoch and sequence number (seq8); for AES-GCM and
 * AES-CCM the IV then the record's explicit nonce (xn8), which the sender
 * chooses (otagw uses the epoch and sequence number, OpenSSL a counter
 * for GCM).
 */
static void
rec_nonce(const struct dtls_rec *r, const uint8_t *iv, const uint8_t *seq8,
    const uint8_t *xn8, uint8_t *nonce)
{
	int i;

	if (r->kind == REC_CHACHA) {
		memcpy(nonce, iv, 12);
		for (i = 0; i < 8; i++)
			nonce[4 + i] ^= seq8[i];
		return;
	}
	memcpy(nonce, iv, 4);
	memcpy(nonce + 4, xn8, 8);
}

/* The additional data: sequence, type, version, length of the data. */
static void
rec_aad(const uint8_t *hdr, size_t len, uint8_t *aad)
{
	memcpy(aad, hdr + 3, 8);
	memcpy(aad + 8, hdr, 3);
	aad[11] = (uint8_t)(len >> 8);
	aad[12] = (uint8_t)len;
}

/* AEAD over in (len bytes) into out, the tag after it.  0, or -1. */
static int
rec_seal(struct dtls_rec *r, const uint8_t *nonce, const uint8_t *aad,
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = r->enc;
	int n;

	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    (r->kind == REC_CCM &&
	    EVP_EncryptUpdate(c, NULL, &n, NULL, (int)len) != 1) ||
	    EVP_EncryptUpdate(c, NULL, &n, aad, 13) != 1 ||
	    (len > 0 && EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(c, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, r->taglen,
	    out + len) != 1)
		return -1;
	return 0;
}

/* Checks and decrypts in (len bytes of data, then the tag).  0, or -1. */
static int
rec_open(struct dtls_rec *r, const uint8_t *nonce, const uint8_t *aad,
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = r->dec;
	uint8_t tag[16];
	int n;

	memcpy(tag, in + len, r->taglen);
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, r->taglen,
	    tag) != 1)
		return -1;
	if (r->kind == REC_CCM) {
		/* CCM checks the tag in its last update */
		if (EVP_DecryptUpdate(c, NULL, &n, NULL, (int)len) != 1 ||
		    EVP_DecryptUpdate(c, NULL, &n, aad, 13) != 1 ||
		    EVP_DecryptUpdate(c, out, &n, in, (int)len) != 1)
			return -1;
		return 0;
	}
	if (EVP_DecryptUpdate(c, NULL, &n, aad, 13) != 1 ||
	    (len > 0 && EVP_DecryptUpdate(c, out, &n, in, (int)len) != 1) ||
	    EVP_DecryptFinal_ex(c, out + len, &n) != 1)
		return -1;
	return 0;
}

int
dtls_rec_write(struct dtls_rec *r, int type, const uint8_t *data,
    size_t len, dtls_rec_out out, void *outarg)
{
	uint8_t buf[REC_HDR + 8 + REC_DATA_MAX + 16], nonce[12], aad[13];
	size_t clen;

	if (len == 0 || len > REC_DATA_MAX || r->wseq > REC_SEQ_MAX)
		return -1;
	clen = r->xlen + len + r->taglen;
	buf[0] = (uint8_t)type;
	buf[1] = 0xfe;
	buf[2] = 0xfd;			/* DTLS 1.2 */
	rec_put48(buf + 3, 1, r->wseq);
	buf[11] = (uint8_t)(clen >> 8);
	buf[12] = (uint8_t)clen;
	memcpy(buf + REC_HDR, buf + 3, r->xlen);	/* explicit nonce */
	rec_nonce(r, r->wiv, buf + 3, buf + REC_HDR, nonce);
	rec_aad(buf, len, aad);
	if (rec_seal(r, nonce, aad, data, len, buf + REC_HDR + r->xlen) == -1)
		return -1;
	r->wseq++;
	out(outarg, buf, REC_HDR + clen);
	return 0;
}

/* May record seq be accepted (not too old, not seen)? */
static int
rec_fresh(const struct dtls_rec *r, uint64_t seq)
{
	if (seq > r->rtop)
		return 1;
	if (r->rtop - seq >= REC_WINDOW)
		return 0;
	return !(r->rmap >> (r->rtop - seq) & 1);
}

static void
rec_seen(struct dtls_rec *r, uint64_t seq)
{
	if (seq > r->rtop) {
		r->rmap = seq - r->rtop >= REC_WINDOW ? 0 :
		    r->rmap << (seq - r->rtop);
		r->rtop = seq;
	}
	r->rmap |= UINT64_C(1) << (r->rtop - seq);
}

/*
 * A protected record: 1 application data delivered, 0 dropped or
 * ignored, -1 the connection is over (close_notify or a fatal alert).
 */
static int
rec_protected(struct dtls_rec *r, const uint8_t *hdr, const uint8_t *body,
    size_t blen, dtls_rec_in in, void *inarg)
{
	uint8_t plain[REC_DATA_MAX + 256], nonce[12], aad[13];
	uint64_t seq = rec_get48(hdr + 5);
	size_t len;

	/*
	 * An empty record carries nothing, and CCM would not check its tag
	 * (no data to decrypt): dropped before it could mark a sequence
	 * number as seen.
	 */
	if (blen <= (size_t)r->xlen + r->taglen || !rec_fresh(r, seq))
		return 0;
	len = blen - r->xlen - r->taglen;
	if (len > sizeof(plain))
		return 0;
	rec_nonce(r, r->riv, hdr + 3, body, nonce);
	rec_aad(hdr, len, aad);
	if (rec_open(r, nonce, aad, body + r->xlen, len, plain) == -1)
		return 0;		/* forged or damaged: dropped */
	rec_seen(r, seq);
	if (r->flight != NULL) {
		/* the peer has our Finished: no need to send it again */
		free(r->flight);
		r->flight = NULL;
		r->flightlen = 0;
	}
	switch (hdr[0]) {
	case 23:			/* application data */
		if (len > 0 && in != NULL)
			in(inarg, plain, len);
		return len > 0;
	case 21:			/* alert: close_notify or fatal */
		if (len == 2 && (plain[0] == 2 || plain[1] == 0))
			return -1;
		return 0;
	default:
		return 0;
	}
}

/* Sends the kept final flight again. */
static void
rec_resend(struct dtls_rec *r, dtls_rec_out out, void *outarg)
{
	size_t off = 0, n;

	while (r->flight != NULL && off + 2 <= r->flightlen) {
		n = (size_t)r->flight[off] << 8 | r->flight[off + 1];
		if (n > r->flightlen - off - 2)
			break;
		out(outarg, r->flight + off + 2, n);
		off += 2 + n;
	}
}

int
dtls_rec_input(struct dtls_rec *r, const uint8_t *p, size_t len,
    dtls_rec_in in, void *inarg, dtls_rec_out out, void *outarg)
{
	size_t off = 0, rl;
	int resent = 0;

	while (len - off >= REC_HDR) {
		const uint8_t *h = p + off;
		uint16_t epoch = (uint16_t)(h[3] << 8 | h[4]);

		rl = (size_t)h[11] << 8 | h[12];
		if (rl > len - off - REC_HDR || h[1] != 0xfe)
			break;		/* cut short, or not DTLS */
		if (epoch == 1 && h[0] == 22) {
			/*
			 * The peer's Finished again: it repeats its last
			 * flight, not having heard ours.  Sent once a
			 * datagram, and only until the peer's first
			 * protected record (which proves it heard).
			 */
			if (!resent && r->flight != NULL)
				rec_resend(r, out, outarg);
			resent = 1;
		} else if (epoch == 1 && (h[0] == 23 || h[0] == 21) &&
		    rec_protected(r, h, h + REC_HDR, rl, in, inarg) == -1)
			return -1;
		off += REC_HDR + rl;
	}
	return 0;
}
