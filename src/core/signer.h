/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * signer.h: signed notices (docs/signing.md).
 *
 * When the store has a current signing key, a notice goes out as a JWS
 * (RFC 7515) in its flattened JSON serialization:
 *
 *   {"protected":"<b64url of {"alg":"ES256","kid":"..."}>",
 *    "payload":"<b64url of the notice's exact bytes>",
 *    "signature":"<b64url of the signature>"}
 *
 * signed over the ASCII of protected "." payload.  A device checks the
 * signature over the two strings as they arrived and decodes the payload
 * only then: nothing is serialised again on either side.  A signer
 * belongs to one core (one thread): it keeps the loaded key, and loads it
 * again when the store's current key changes.
 */
#ifndef OTAGW_CORE_SIGNER_H
#define OTAGW_CORE_SIGNER_H

#include <stddef.h>

struct signer;
struct store_txn;

struct signer *signer_new(void);
void	 signer_free(struct signer *);	/* accepts NULL */

/*
 * Replaces *body (malloc'd, *len bytes) by its JWS when a key is current;
 * *is_signed says which.  0, or a store error (STORE_EIO when the key
 * cannot be used or memory runs out): the body is then left as it was.
 */
int	 signer_wrap(struct signer *, struct store_txn *, char **body,
	    size_t *len, int *is_signed);

#endif
