/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * firmware.c: the admin API's firmware calls, each one ops operation:
 *
 *   GET    /api/v1/firmware?after=&limit=
 *   POST   /api/v1/firmware?product=&version=&module=&name=&signMethod=
 *          &description=&seq=&signature=
 *                                 (body: the image; with url=&sha256=
 *                                  instead, a fetch: fetch.c; signature=
 *                                  is the author's DER signature in
 *                                  base64url, docs/images.md)
 *   GET    /api/v1/firmware/{id}
 *   PATCH  /api/v1/firmware/{id}  (JSON: name, description)
 *   DELETE /api/v1/firmware/{id}
 *
 * Uploads are streamed, never buffered whole: admin_firmware_upload_begin
 * runs when the request head is in and checks the query and the announced
 * size (ops_firmware_upload_begin: 413 before a byte is read); route.c's
 * on_body feeds the image to ops_firmware_upload_write (MD5 and SHA-256 on
 * the way; past firmware_max_size it aborts with 413 and the temporary
 * image is removed); admin_firmware_upload_end stores it.  A client that
 * goes away mid-upload leaves nothing behind (route.c's on_close aborts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "util/validate.h"

/* seq= and signature= of the query into fq: 0, or -1 with msg. */
static int
fw_query_extra(const char *q, struct admin_fw_query *fq, char *msg,
    size_t msglen)
{
	char	 buf[4 * ((OTA_SIG_MAX + 2) / 3) + 8], *end;
	unsigned long v;
	int	 r, n;

	if ((r = admin_query_get(q, "seq", buf, sizeof(buf))) == -1 ||
	    (r == 1 && (buf[0] < '1' || buf[0] > '9' ||
	    (v = strtoul(buf, &end, 10), *end != '\0') ||
	    v > UINT32_MAX))) {
		snprintf(msg, msglen, "seq= must be a whole number from 1 to "
		    "4294967295");
		return -1;
	}
	if (r == 1)
		fq->seq = (uint32_t)v;
	if ((r = admin_query_get(q, "signature", buf, sizeof(buf))) == -1 ||
	    (r == 1 && (n = crypto_base64_decode(buf, strlen(buf), fq->sig,
	    sizeof(fq->sig))) <= 0)) {
		snprintf(msg, msglen, "signature= must be the author's DER "
		    "signature in base64url (at most %d bytes)", OTA_SIG_MAX);
		return -1;
	}
	if (r == 1)
		fq->sig_len = (size_t)n;
	if (admin_query_get(q, "filename", fq->filename,
	    sizeof(fq->filename)) == -1 || (fq->filename[0] != '\0' &&
	    !valid_filename(fq->filename))) {
		snprintf(msg, msglen, "filename= must be 1-128 of A-Z a-z 0-9 "
		    ". _ -, not starting with '.'");
		return -1;
	}
	return 0;
}

/*
 * The query of POST /api/v1/firmware into fq, and p pointing into it
 * (NULL members when absent): 0, or -1 with the message for a 400.
 */
static int
fw_query_parse(const char *q, struct admin_fw_query *fq,
    struct ops_fw_params *p, char *msg, size_t msglen)
{
	struct admin_qfield f[8] = {
		{ "product", fq->product, sizeof(fq->product), 0 },
		{ "version", fq->version, sizeof(fq->version), 0 },
		{ "module", fq->module, sizeof(fq->module), 0 },
		{ "name", fq->name, sizeof(fq->name), 0 },
		{ "description", fq->description, sizeof(fq->description), 0 },
		{ "signMethod", fq->sign, sizeof(fq->sign), 0 },
		{ "url", fq->url, sizeof(fq->url), 0 },
		{ "sha256", fq->sha256, sizeof(fq->sha256), 0 },
	};
	int	 i;

	memset(fq, 0, sizeof(*fq));
	if (admin_query_fields(q, f, 8, msg, msglen) != 0)
		return -1;
	for (i = 0; i < 8; i++)
		fq->has[i] = f[i].has;
	if (!fq->has[0] || !fq->has[1]) {
		snprintf(msg, msglen, "product= and version= are required");
		return -1;
	}
	memset(p, 0, sizeof(*p));
	p->product = fq->product;
	p->version = fq->version;
	p->module = fq->has[2] ? fq->module : NULL;
	p->name = fq->has[3] ? fq->name : NULL;
	p->description = fq->has[4] ? fq->description : NULL;
	p->sign_method = fq->has[5] ? fq->sign : NULL;
	if (fq->has[3] && fq->name[0] == '\0') {
		snprintf(msg, msglen, "name= must not be empty");
		return -1;
	}
	if (fw_query_extra(q, fq, msg, msglen) != 0)
		return -1;
	p->seq = fq->seq;
	p->author_sig = fq->sig_len > 0 ? fq->sig : NULL;
	p->author_sig_len = fq->sig_len;
	p->filename = fq->filename;
	return 0;
}

int
admin_fw_send(struct http_resp *resp, int status, const struct firmware_rec *fw,
    const struct jobs_counts *counts)
{

	return admin_json(resp, status, codec_firmware_encode(fw, counts,
	    NULL));
}

int
admin_firmware_list(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_fw_item *items = NULL;
	struct ops_page pg;
	struct ops_err err;
	struct admin_list l;
	char	 after[OTA_ID_MAX + 1], next[OTA_ID_MAX + 1];
	size_t	 i, n;
	int	 status;

	if ((status = admin_query_page(http_req_query(req), &pg, after,
	    resp)) != 0)
		return status;
	if (ops_firmware_list(&a->ops, &pg, &items, &n, next, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	admin_list_init(&l);
	for (i = 0; i < n; i++)
		admin_list_item(&l, codec_firmware_encode(&items[i].fw,
		    &items[i].devices, NULL));
	free(items);
	return admin_list_send(resp, &l, next);
}

int
admin_firmware_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_fw_item it;
	struct ops_err err;

	if (ops_firmware_show(&a->ops, ar->id, &it, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_fw_send(resp, 200, &it.fw, &it.devices);
}

/* PATCH: the name or the description; answers the firmware as GET. */
int
admin_firmware_edit(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct codec_fw_edit e;
	struct ops_err err;
	const uint8_t *b;
	char	 msg[160];
	size_t	 len;

	b = http_req_body(req, &len);
	if (codec_fw_edit_decode(b, len, &e, msg, sizeof(msg)) != 0)
		return admin_bad(resp, msg);
	if (ops_firmware_edit(&a->ops, ar->id, e.has_name ? e.name : NULL,
	    e.has_description ? e.description : NULL, NULL, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_firmware_show(a, ar, req, resp);
}

int
admin_firmware_rm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_err err;

	if (ops_firmware_rm(&a->ops, ar->id, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	http_resp_status(resp, 204);
	return 204;
}

/*
 * POST /api/v1/firmware, head: HTTP_STREAM for the body, or HTTP_RESPOND
 * with the answer made and its status in ar->status.
 */
int
admin_firmware_upload_begin(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_fw_params p;
	struct admin_fw_query fq;
	struct ops_err err;
	char	 msg[160];

	if (fw_query_parse(http_req_query(req), &fq, &p, msg,
	    sizeof(msg)) != 0) {
		ar->status = admin_bad(resp, msg);
		return HTTP_RESPOND;
	}
	if (fq.has[6] || fq.has[7]) {
		/* by URL: the body is ignored; bad parameters are 4xx now,
		 * not a fetch that fails later */
		if (ops_firmware_upload_check(&a->ops, &p, &err) != OPS_OK)
			ar->status = admin_ops_error(resp, &err);
		else
			ar->status = admin_fetch_start(a, &fq, resp);
		return HTTP_RESPOND;
	}
	if (ops_firmware_upload_begin(&a->ops, &p,
	    http_req_content_length(req), &ar->up, &err) != OPS_OK) {
		ar->status = admin_ops_error(resp, &err);
		return HTTP_RESPOND;
	}
	return HTTP_STREAM;
}

/* POST /api/v1/firmware, the whole image in: stores it. */
int
admin_firmware_upload_end(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct firmware_rec fw;
	struct ops_err err;
	int	 rc;

	if (ar->up == NULL)
		return admin_error(resp, 500, "internal", "upload lost");
	rc = ops_firmware_upload_finish(ar->up, &fw, &err);
	ar->up = NULL;
	if (rc != OPS_OK)
		return admin_ops_error(resp, &err);
	a->uploads++;
	return admin_fw_send(resp, 201, &fw, NULL);
}

