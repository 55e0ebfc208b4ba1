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

int
admin_url_key_rotate(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_err err;
	char	 v[8], body[96];
	int64_t	 rotated;
	int	 drop = 0, previous, q;

	(void)ar;
	q = admin_query_get(http_req_query(req), "dropPrevious", v, sizeof(v));
	if (q < 0 || (q == 1 && strcmp(v, "true") != 0 &&
	    strcmp(v, "false") != 0))
		return admin_error(resp, 400, "bad_request", "dropPrevious: "
		    "true or false");
	drop = q == 1 && strcmp(v, "true") == 0;
	if (ops_url_key_rotate(&a->ops, drop, &rotated, &previous, &err) !=
	    OPS_OK)
		return admin_ops_error(resp, &err);
	snprintf(body, sizeof(body), "{\"rotatedTs\":%" PRId64 ","
	    "\"previousKeys\":%d}", rotated, previous);
	return admin_json(resp, 200, strdup(body));
}
