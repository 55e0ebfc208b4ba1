/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * product.c: the operator's product settings: the author key, an ECDSA
 * P-256 public key with which a product's images must be signed
 * (docs/images.md).  A product has no record of its own until a key is
 * set; clearing the key removes the record.  The key is checked to be a
 * P-256 public key before it is stored.
 */
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "log.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

int
ops_product_get(struct ops *ops, const char *product, struct product_rec *out,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (product == NULL || !valid_product(product))
		return ops_fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "product");
	rc = store_product_get(txn, product, out);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND) {
		memset(out, 0, sizeof(*out));
		snprintf(out->id, sizeof(out->id), "%s", product);
		return ops_ok(err);
	}
	if (rc != 0)
		return ops_fail_store(err, rc, product);
	return ops_ok(err);
}

int
ops_product_author_key(struct ops *ops, const char *product, const char *pem,
    size_t len, struct product_rec *out, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct product_rec p;
	int	 rc;

	if (product == NULL || !valid_product(product))
		return ops_fail(err, OPS_EINVAL, "invalid product (1-64 of "
		    "A-Z a-z 0-9 _ -)");
	memset(&p, 0, sizeof(p));
	if (pem != NULL && len > 0 && memmem(pem, len, "PRIVATE KEY", 11) !=
	    NULL)
		return ops_fail(err, OPS_EINVAL, "the author key holds a "
		    "private key: give the public key alone (openssl ec -in "
		    "key.pem -pubout), and keep the private key off the "
		    "gateway");
	if (pem != NULL && (len == 0 || len > OTA_PEM_MAX ||
	    memchr(pem, '\0', len) != NULL ||
	    crypto_es256_key_normalize(pem, len, p.author_key,
	    sizeof(p.author_key), &p.author_key_len) != 0))
		return ops_fail(err, OPS_EINVAL, "the author key must be an "
		    "ECDSA P-256 public key in PEM (openssl ec -in key.pem "
		    "-pubout), at most %d bytes", OTA_PEM_MAX);
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "product");
	snprintf(p.id, sizeof(p.id), "%s", product);
	p.updated = ops_now(ops);
	if (pem != NULL) {
		rc = store_product_put(txn, &p);
	} else {
		rc = store_product_del(txn, product);
		if (rc == STORE_ENOTFOUND)
			rc = 0;
	}
	if (rc == 0) {
		rc = store_txn_commit(txn);
		txn = NULL;
	}
	store_txn_abort(txn);
	if (rc != 0)
		return ops_fail_store(err, rc, product);
	log_info("product %s: author key %s", product,
	    pem != NULL ? "set" : "cleared");
	if (out != NULL)
		*out = p;
	return ops_ok(err);
}
