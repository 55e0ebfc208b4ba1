/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keys.c: the keys that sign notices (ops.h, docs/signing.md).  Each call
 * is one store transaction over the one record that holds them all.
 */
#include <stdio.h>
#include <string.h>

#include "crypto/sigkey.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

/* What the operator sees of a stored key: its public half. */
static int
key_view(const struct sign_keys *ks, unsigned i, struct sign_key_info *out)
{
	const struct sign_key_rec *r = &ks->k[i];
	struct sigkey *k;
	char	 kid[SIGKEY_KID_LEN + 1];
	int	 rc;

	memset(out, 0, sizeof(*out));
	if ((k = sigkey_load(r->alg, r->der, r->der_len)) == NULL)
		return -1;
	rc = sigkey_public(k, out->pem, out->raw, &out->rawlen, kid);
	sigkey_free(k);
	memcpy(out->kid, r->kid, sizeof(out->kid));
	out->alg = r->alg;
	out->current = ks->cur == (int)i;
	out->created = r->created;
	return rc;
}

static int
keys_find(const struct sign_keys *ks, const char *kid)
{
	unsigned i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->k[i].kid, kid) == 0)
			return (int)i;
	return -1;
}

/* Commits ks in txn (which it ends) and wipes it; 0 or a store code. */
static int
keys_commit(struct store_txn *txn, struct sign_keys *ks)
{
	int	 rc;

	rc = store_sign_keys_put(txn, ks);
	explicit_bzero(ks, sizeof(*ks));
	if (rc != 0) {
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn);
}

/* A new key of alg as ks's entry i. */
static int
key_make(struct ops *ops, struct sign_keys *ks, unsigned i, int alg,
    struct sign_key_info *out)
{
	struct sign_key_rec *r = &ks->k[i];
	struct sigkey *k;
	char	 kid[SIGKEY_KID_LEN + 1];
	int	 rc;

	memset(r, 0, sizeof(*r));
	if (sigkey_generate(alg, r->der, &r->der_len) == -1 ||
	    (k = sigkey_load(alg, r->der, r->der_len)) == NULL)
		return -1;
	rc = sigkey_public(k, out->pem, out->raw, &out->rawlen, kid);
	sigkey_free(k);
	if (rc == -1 || keys_find(ks, kid) >= 0)
		return -1;
	memcpy(r->kid, kid, sizeof(r->kid));
	r->alg = alg;
	r->created = ops_now(ops);
	return 0;
}

int
ops_sign_key_create(struct ops *ops, int alg, int activate,
    struct sign_key_info *out, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct sign_keys ks;
	unsigned i;
	int	 rc;

	if (sigkey_alg_name(alg) == NULL)
		return ops_fail(err, OPS_EINVAL, "unknown key algorithm");
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "signing key");
	if ((rc = store_sign_keys_get(txn, &ks)) != 0) {
		store_txn_abort(txn);
		return ops_fail_store(err, rc, "signing key");
	}
	if (ks.n >= STORE_SIGN_KEYS) {
		store_txn_abort(txn);
		explicit_bzero(&ks, sizeof(ks));
		return ops_fail(err, OPS_ECONFLICT, "there are %d signing "
		    "keys already: delete one first", STORE_SIGN_KEYS);
	}
	memset(out, 0, sizeof(*out));
	i = ks.n;
	if (key_make(ops, &ks, i, alg, out) == -1) {
		store_txn_abort(txn);
		explicit_bzero(&ks, sizeof(ks));
		return ops_fail(err, OPS_EIO, "cannot make a signing key");
	}
	ks.n++;
	if (activate || ks.cur < 0)
		ks.cur = (int)i;
	memcpy(out->kid, ks.k[i].kid, sizeof(out->kid));
	out->alg = alg;
	out->current = ks.cur == (int)i;
	out->created = ks.k[i].created;
	if ((rc = keys_commit(txn, &ks)) != 0)
		return ops_fail_store(err, rc, "signing key");
	return ops_ok(err);
}

int
ops_sign_key_list(struct ops *ops, struct sign_key_info *out, size_t *n,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct sign_keys ks;
	unsigned i;
	int	 rc;

	*n = 0;
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "signing keys");
	rc = store_sign_keys_get(txn, &ks);
	store_txn_abort(txn);
	if (rc != 0)
		return ops_fail_store(err, rc, "signing keys");
	for (i = 0; i < ks.n; i++)
		if (key_view(&ks, i, &out[i]) == -1) {
			explicit_bzero(&ks, sizeof(ks));
			return ops_fail(err, OPS_EIO, "signing key %s cannot "
			    "be read", ks.k[i].kid);
		}
	*n = ks.n;
	explicit_bzero(&ks, sizeof(ks));
	return ops_ok(err);
}

/* Opens a write transaction with the keys and finds kid in them. */
static int
keys_open(struct ops *ops, const char *kid, struct store_txn **txn,
    struct sign_keys *ks, int *i, struct ops_err *err)
{
	int	 rc;

	if (!valid_id(kid) || strlen(kid) != STORE_SIGN_KID_LEN)
		return ops_fail(err, OPS_EINVAL, "bad key id");
	if ((rc = store_txn_begin(ops->st, 0, txn)) != 0)
		return ops_fail_store(err, rc, "signing key");
	if ((rc = store_sign_keys_get(*txn, ks)) != 0) {
		store_txn_abort(*txn);
		return ops_fail_store(err, rc, "signing key");
	}
	if ((*i = keys_find(ks, kid)) < 0) {
		store_txn_abort(*txn);
		explicit_bzero(ks, sizeof(*ks));
		return ops_fail(err, OPS_ENOTFOUND, "no signing key %s", kid);
	}
	return OPS_OK;
}

int
ops_sign_key_activate(struct ops *ops, const char *kid, struct ops_err *err)
{
	struct store_txn *txn;
	struct sign_keys ks;
	int	 i, rc;

	if ((rc = keys_open(ops, kid, &txn, &ks, &i, err)) != OPS_OK)
		return rc;
	ks.cur = i;
	if ((rc = keys_commit(txn, &ks)) != 0)
		return ops_fail_store(err, rc, "signing key");
	return ops_ok(err);
}

int
ops_sign_key_delete(struct ops *ops, const char *kid, int force,
    struct ops_err *err)
{
	struct store_txn *txn;
	struct sign_keys ks;
	int	 i, rc;

	if ((rc = keys_open(ops, kid, &txn, &ks, &i, err)) != OPS_OK)
		return rc;
	if (ks.cur == i && !force) {
		store_txn_abort(txn);
		explicit_bzero(&ks, sizeof(ks));
		return ops_fail(err, OPS_ECONFLICT, "key %s signs the "
		    "notices: activate another first, or force it (notices "
		    "then go out unsigned)", kid);
	}
	memmove(&ks.k[i], &ks.k[i + 1], (ks.n - (unsigned)i - 1) *
	    sizeof(ks.k[0]));
	ks.n--;
	if (ks.cur == i)
		ks.cur = -1;
	else if (ks.cur > i)
		ks.cur--;
	if ((rc = keys_commit(txn, &ks)) != 0)
		return ops_fail_store(err, rc, "signing key");
	return ops_ok(err);
}
