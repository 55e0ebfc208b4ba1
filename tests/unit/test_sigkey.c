/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_sigkey.c: unit tests for src/crypto/sigkey.c, the notice-signing
 * keys, and for their record in the store.
 *
 * Keys of both algorithms round-trip through their DER; the key id is the
 * hex of the raw public key's SHA-256 and stays the same for one key;
 * signatures have the JWS length, Ed25519's are deterministic, ECDSA's
 * are not; DER that is cut, altered or of the other algorithm does not
 * load.  The store record keeps keys and the current index, and a
 * corrupt record reads as an error, not as keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/sigkey.h"
#include "store/store.h"
#include "t.h"
#include "tmpdir.h"

static void
test_names(void)
{
	int	 alg = -1;

	T_EQ_STR(sigkey_alg_name(SIG_ES256), "ES256");
	T_EQ_STR(sigkey_alg_name(SIG_ED25519), "EdDSA");
	T_CHECK(sigkey_alg_name(7) == NULL);
	T_EQ_INT(sigkey_alg_parse("es256", &alg), 0);
	T_EQ_INT(alg, SIG_ES256);
	T_EQ_INT(sigkey_alg_parse("Ed25519", &alg), 0);
	T_EQ_INT(alg, SIG_ED25519);
	T_EQ_INT(sigkey_alg_parse("EdDSA", &alg), 0);
	T_EQ_INT(sigkey_alg_parse("RS256", &alg), -1);
	T_EQ_INT(sigkey_alg_parse("", &alg), -1);
}

static void
one_alg(int alg, size_t rawlen, int deterministic)
{
	uint8_t	 der[SIGKEY_DER_MAX], raw[SIGKEY_RAW_MAX], raw2[SIGKEY_RAW_MAX];
	uint8_t	 s1[SIGKEY_SIG_MAX], s2[SIGKEY_SIG_MAX], h[32];
	char	 pem[SIGKEY_PEM_MAX], kid[SIGKEY_KID_LEN + 1];
	char	 kid2[SIGKEY_KID_LEN + 1], want[SIGKEY_KID_LEN + 1];
	struct sigkey *k, *k2;
	size_t	 len = 0, n, n2, i;

	T_EQ_INT(sigkey_generate(alg, der, &len), 0);
	T_CHECK(len > 0 && len <= SIGKEY_DER_MAX);
	k = sigkey_load(alg, der, len);
	T_CHECK(k != NULL);
	if (k == NULL)
		return;
	T_EQ_INT(sigkey_alg(k), alg);
	T_EQ_INT(sigkey_public(k, pem, raw, &n, kid), 0);
	T_EQ_INT((int)n, (int)rawlen);
	T_EQ_STR_PREFIX(pem, "-----BEGIN PUBLIC KEY-----\n");
	if (alg == SIG_ES256)
		T_EQ_INT(raw[0], 4);
	crypto_sha256(raw, n, h);
	for (i = 0; i < 6; i++)
		snprintf(want + 2 * i, 3, "%02x", h[i]);
	T_EQ_STR(kid, want);

	/* the same DER: the same key, the same id */
	k2 = sigkey_load(alg, der, len);
	T_CHECK(k2 != NULL);
	if (k2 != NULL) {
		T_EQ_INT(sigkey_public(k2, pem, raw2, &n2, kid2), 0);
		T_EQ_STR(kid2, kid);
		T_CHECK(n2 == n && memcmp(raw, raw2, n) == 0);
	}
	sigkey_free(k2);

	T_EQ_INT(sigkey_sign(k, "abc", 3, s1), 64);
	T_EQ_INT(sigkey_sign(k, "abc", 3, s2), 64);
	T_EQ_INT(memcmp(s1, s2, 64) == 0, deterministic);
	T_EQ_INT(sigkey_sign(k, "", 0, s2), 64);
	sigkey_free(k);

	/* cut, altered, or of the other algorithm: no key */
	T_CHECK(sigkey_load(alg, der, len - 1) == NULL);
	T_CHECK(sigkey_load(alg, der, 0) == NULL);
	T_CHECK(sigkey_load(alg == SIG_ES256 ? SIG_ED25519 : SIG_ES256, der,
	    len) == NULL);
	T_CHECK(sigkey_load(9, der, len) == NULL);
	der[0] ^= 0xff;
	T_CHECK(sigkey_load(alg, der, len) == NULL);
}

static void
test_keys(void)
{
	uint8_t	 der[SIGKEY_DER_MAX];
	size_t	 len;

	one_alg(SIG_ES256, 65, 0);
	one_alg(SIG_ED25519, 32, 1);
	T_EQ_INT(sigkey_generate(5, der, &len), -1);
	sigkey_free(NULL);
}

static void
test_store_record(void)
{
	struct sign_keys ks, got;
	struct store_txn *t;
	struct store *st = NULL;
	char	 dir[256];
	unsigned i;

	t_tmpdir_make(dir, sizeof(dir), "sigkey");
	T_EQ_INT(store_open(dir, 0, &st), 0);
	if (st == NULL)
		return;
	/* none stored: no key, none current */
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_sign_keys_get(t, &got), 0);
	T_CHECK(got.n == 0 && got.cur == -1);
	store_txn_abort(t);

	memset(&ks, 0, sizeof(ks));
	ks.n = 3;
	ks.cur = 1;
	for (i = 0; i < ks.n; i++) {
		snprintf(ks.k[i].kid, sizeof(ks.k[i].kid), "%012x", i + 1);
		ks.k[i].alg = (int)i % 2;
		ks.k[i].created = 1700000000000LL + i;
		T_EQ_INT(sigkey_generate(ks.k[i].alg, ks.k[i].der,
		    &ks.k[i].der_len), 0);
	}
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	T_EQ_INT(store_sign_keys_put(t, &ks), 0);
	T_EQ_INT(store_txn_commit(t), 0);
	T_EQ_INT(store_txn_begin(st, 1, &t), 0);
	T_EQ_INT(store_sign_keys_get(t, &got), 0);
	store_txn_abort(t);
	T_CHECK(got.n == 3 && got.cur == 1);
	for (i = 0; i < ks.n; i++) {
		T_EQ_STR(got.k[i].kid, ks.k[i].kid);
		T_EQ_INT(got.k[i].alg, ks.k[i].alg);
		T_CHECK(got.k[i].created == ks.k[i].created);
		T_CHECK(got.k[i].der_len == ks.k[i].der_len &&
		    memcmp(got.k[i].der, ks.k[i].der, ks.k[i].der_len) == 0);
	}
	/* refused: a current index past the keys, a bad kid, too many */
	T_EQ_INT(store_txn_begin(st, 0, &t), 0);
	ks.cur = 3;
	T_EQ_INT(store_sign_keys_put(t, &ks), STORE_EINVAL);
	ks.cur = -1;
	snprintf(ks.k[0].kid, sizeof(ks.k[0].kid), "short");
	T_EQ_INT(store_sign_keys_put(t, &ks), STORE_EINVAL);
	ks.n = STORE_SIGN_KEYS + 1;
	T_EQ_INT(store_sign_keys_put(t, &ks), STORE_EINVAL);
	store_txn_abort(t);
	store_close(st);
	t_tmpdir_remove(dir);
}

int
main(void)
{
	T_RUN(test_names);
	T_RUN(test_keys);
	T_RUN(test_store_record);
	return t_done();
}
