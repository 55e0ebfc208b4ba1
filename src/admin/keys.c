/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keys.c: POST /api/v1/url-key/rotate, a new key for the download URLs
 * of HTTPS notices (core/capability.h).  ?dropPrevious=true also stops
 * every URL handed out before; otherwise they work until they expire.
 * The answer: {"rotatedTs":<ms>,"previousKeys":<0 or 1>}.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "codec/codec.h"
#include "crypto/sigkey.h"
#include "log.h"

/* A true/false query parameter; 0 or 1, or -1 (answered 400). */
static int
query_bool(struct http_req *req, struct http_resp *resp, const char *name)
{
	char	 v[8];
	int	 q;

	q = admin_query_get(http_req_query(req), name, v, sizeof(v));
	if (q == 0)
		return 0;
	if (q == 1 && strcmp(v, "true") == 0)
		return 1;
	if (q == 1 && strcmp(v, "false") == 0)
		return 0;
	admin_error(resp, 400, "bad_request", "%s: true or false", name);
	return -1;
}

int
admin_url_key_rotate(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_err err;
	char	 body[96];
	int64_t	 rotated;
	int	 drop, previous;

	(void)ar;
	if ((drop = query_bool(req, resp, "dropPrevious")) < 0)
		return 400;
	if (ops_url_key_rotate(&a->ops, drop, &rotated, &previous, &err) !=
	    OPS_OK)
		return admin_ops_error(resp, &err);
	snprintf(body, sizeof(body), "{\"rotatedTs\":%" PRId64 ","
	    "\"previousKeys\":%d}", rotated, previous);
	return admin_json(resp, 200, strdup(body));
}

/*
 * The keys that sign notices (docs/signing.md, docs/admin-api.md):
 * GET /api/v1/keys, POST /api/v1/keys?alg=ES256|EdDSA&activate=true,
 * GET /api/v1/keys/{kid}, POST /api/v1/keys/{kid}/activate and
 * DELETE /api/v1/keys/{kid}?force=true.  Answers show public keys only.
 */


int
admin_sign_key_list(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct sign_key_info keys[STORE_SIGN_KEYS];
	struct ops_err err;
	size_t	 n;

	(void)ar;
	(void)req;
	if (ops_sign_key_list(&a->ops, keys, &n, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_json(resp, 200, codec_sign_keys_encode(keys, n, NULL));
}

int
admin_sign_key_create(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct sign_key_info k;
	struct ops_err err;
	char	 v[16];
	int	 alg = SIG_ES256, activate, q;

	(void)ar;
	q = admin_query_get(http_req_query(req), "alg", v, sizeof(v));
	if (q < 0 || (q == 1 && sigkey_alg_parse(v, &alg) != 0))
		return admin_error(resp, 400, "bad_request", "alg: ES256 or "
		    "EdDSA");
	if ((activate = query_bool(req, resp, "activate")) < 0)
		return 400;
	if (ops_sign_key_create(&a->ops, alg, activate, &k, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	log_info("admin: signing key %s made%s", k.kid, k.current ?
	    ", signs notices from now on" : "");
	return admin_json(resp, 201, codec_sign_key_encode(&k, NULL));
}

int
admin_sign_key_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct sign_key_info keys[STORE_SIGN_KEYS];
	struct ops_err err;
	size_t	 i, n;

	(void)req;
	if (ops_sign_key_list(&a->ops, keys, &n, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	for (i = 0; i < n; i++)
		if (strcmp(keys[i].kid, ar->id) == 0)
			return admin_json(resp, 200,
			    codec_sign_key_encode(&keys[i], NULL));
	return admin_error(resp, 404, "not_found", "no signing key %s",
	    ar->id);
}

int
admin_sign_key_activate(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_err err;

	if (ops_sign_key_activate(&a->ops, ar->id, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	log_info("admin: signing key %s signs notices from now on", ar->id);
	return admin_sign_key_show(a, ar, req, resp);
}

int
admin_sign_key_delete(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_err err;
	int	 force;

	if ((force = query_bool(req, resp, "force")) < 0)
		return 400;
	if (ops_sign_key_delete(&a->ops, ar->id, force, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	log_info("admin: signing key %s deleted", ar->id);
	http_resp_status(resp, 204);
	return 204;
}
