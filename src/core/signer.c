/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * signer.c: notices as JWS in flattened JSON (see signer.h).
 *
 * base64url never produces a character JSON must escape, so the envelope
 * is put together as text; the key is loaded once and kept until the
 * store names another current key (compared by key id and creation time,
 * read in the check's own transaction).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/signer.h"
#include "crypto/crypto.h"
#include "crypto/sigkey.h"
#include "log.h"
#include "store/store.h"

struct signer {
	struct sigkey *key;
	char	 kid[STORE_SIGN_KID_LEN + 1];
	int64_t	 created;
	/* the protected header, base64url, for the loaded key */
	char	 prot[64];
};

struct signer *
signer_new(void)
{
	return calloc(1, sizeof(struct signer));
}

void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	sigkey_free(s->key);
	free(s);
}

/* The current key of ks loaded into s: 0, or -1 (logged). */
static int
signer_load(struct signer *s, const struct sign_key_rec *r)
{
	char	 hdr[48];
	int	 n;

	if (s->key != NULL && s->created == r->created &&
	    strcmp(s->kid, r->kid) == 0)
		return 0;
	sigkey_free(s->key);
	s->kid[0] = '\0';
	if ((s->key = sigkey_load(r->alg, r->der, r->der_len)) == NULL) {
		log_warnx("signing key %s cannot be loaded", r->kid);
		return -1;
	}
	n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
	    sigkey_alg_name(r->alg), r->kid);
	if (n < 0 || (size_t)n >= sizeof(hdr) ||
	    ((size_t)n * 4 + 2) / 3 + 1 > sizeof(s->prot)) {
		sigkey_free(s->key);
		s->key = NULL;
		return -1;
	}
	crypto_base64url((const uint8_t *)hdr, (size_t)n, s->prot);
	memcpy(s->kid, r->kid, sizeof(s->kid));
	s->created = r->created;
	return 0;
}

static const char jws_p[] = "{\"protected\":\"";
static const char jws_l[] = "\",\"payload\":\"";
static const char jws_s[] = "\",\"signature\":\"";
static const char jws_e[] = "\"}";

int
signer_wrap(struct signer *s, struct store_txn *txn, char **body,
    size_t *len, int *is_signed)
{
	struct sign_keys ks;
	uint8_t	 sig[SIGKEY_SIG_MAX];
	char	*out, *p, *input, sig64[(SIGKEY_SIG_MAX * 4 + 2) / 3 + 1];
	size_t	 plen, blen, need;
	int	 rc, siglen;

	*is_signed = 0;
	if ((rc = store_sign_keys_get(txn, &ks)) != 0)
		return rc;
	if (ks.cur < 0) {
		explicit_bzero(&ks, sizeof(ks));
		return 0;
	}
	rc = signer_load(s, &ks.k[ks.cur]);
	explicit_bzero(&ks, sizeof(ks));
	if (rc == -1)
		return STORE_EIO;

	plen = strlen(s->prot);
	blen = (*len * 4 + 2) / 3;
	need = sizeof(jws_p) - 1 + plen + sizeof(jws_l) - 1 + blen +
	    sizeof(jws_s) - 1 + sizeof(sig64) - 1 + sizeof(jws_e);
	if ((out = malloc(need)) == NULL)
		return STORE_EIO;
	/* the signing input protected "." payload sits inside the envelope */
	p = out;
	memcpy(p, jws_p, sizeof(jws_p) - 1);
	input = p += sizeof(jws_p) - 1;
	memcpy(p, s->prot, plen);
	p += plen;
	*p = '.';
	crypto_base64url((const uint8_t *)*body, *len, p + 1);
	siglen = sigkey_sign(s->key, input, plen + 1 + blen, sig);
	if (siglen < 0) {
		free(out);
		log_warnx("signing key %s: signing failed", s->kid);
		return STORE_EIO;
	}
	memmove(p + sizeof(jws_l) - 1, p + 1, blen);
	memcpy(p, jws_l, sizeof(jws_l) - 1);
	p += sizeof(jws_l) - 1 + blen;
	memcpy(p, jws_s, sizeof(jws_s) - 1);
	p += sizeof(jws_s) - 1;
	crypto_base64url(sig, (size_t)siglen, p);
	p += strlen(p);
	memcpy(p, jws_e, sizeof(jws_e));
	free(*body);
	*body = out;
	*len = (size_t)(p - out) + sizeof(jws_e) - 1;
	*is_signed = 1;
	return 0;
}
