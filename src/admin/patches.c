/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * patches.c: the admin API's patch (delta package) calls, each one ops
 * operation (docs/delta.md, docs/admin-api.md):
 *
 *   POST   /api/v1/patches?from=&(to=|toVersion=)&format=&toSha256=
 *          &toSize=
 *          (body: the patch, streamed as a firmware upload is)
 *   GET    /api/v1/patches?firmware=
 *   GET    /api/v1/patches/{id}
 *   DELETE /api/v1/patches/{id}
 *   POST   /api/v1/patches/make?from=&(to=|toVersion=)&block=
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "codec/codec.h"

/* The query of a patch upload, kept for the checks made at its end. */
struct admin_patch_q {
	char	 from[OTA_ID_MAX + 1];
	char	 to[OTA_ID_MAX + 1];
	char	 to_version[OTA_ID_MAX + 1];
	char	 format[OTA_FORMAT_MAX + 1];
	char	 to_sha256[65];
	char	 to_size[24];
	struct ops_delta_params p;
};

static int
patch_query(const char *q, struct admin_patch_q *pq, char *msg, size_t len)
{
	struct admin_qfield f[6] = {
		{ "from", pq->from, sizeof(pq->from), 0 },
		{ "to", pq->to, sizeof(pq->to), 0 },
		{ "format", pq->format, sizeof(pq->format), 0 },
		{ "toSha256", pq->to_sha256, sizeof(pq->to_sha256), 0 },
		{ "toSize", pq->to_size, sizeof(pq->to_size), 0 },
		{ "toVersion", pq->to_version, sizeof(pq->to_version), 0 },
	};
	char	*end;
	int	 has[6], i;

	if (admin_query_fields(q, f, 6, msg, len) != 0)
		return -1;
	for (i = 0; i < 6; i++)
		has[i] = f[i].has;
	if (!has[0] || has[1] == has[5] || !has[2]) {
		snprintf(msg, len, "from=, format= and one of to= and "
		    "toVersion= are required");
		return -1;
	}
	pq->p.from = pq->from;
	pq->p.to = has[1] ? pq->to : NULL;
	pq->p.to_version = has[5] ? pq->to_version : NULL;
	pq->p.format = pq->format;
	pq->p.to_sha256 = has[3] ? pq->to_sha256 : NULL;
	pq->p.to_size = -1;
	if (has[4]) {
		pq->p.to_size = (int64_t)strtoll(pq->to_size, &end, 10);
		if (pq->to_size[0] < '0' || pq->to_size[0] > '9' ||
		    *end != '\0' || pq->p.to_size < 0) {
			snprintf(msg, len, "toSize: a number of bytes");
			return -1;
		}
	}
	return 0;
}

/* POST /api/v1/patches, head: HTTP_STREAM, or HTTP_RESPOND answered. */
int
admin_patch_upload_begin(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_err err;
	char	 msg[160];

	if ((ar->pq = calloc(1, sizeof(*ar->pq))) == NULL) {
		ar->status = admin_error(resp, 500, "internal",
		    "out of memory");
		return HTTP_RESPOND;
	}
	if (patch_query(http_req_query(req), ar->pq, msg, sizeof(msg)) != 0) {
		ar->status = admin_bad(resp, msg);
		return HTTP_RESPOND;
	}
	if (ops_delta_upload_begin(&a->ops, &ar->pq->p,
	    http_req_content_length(req), &ar->dup, &err) != OPS_OK) {
		ar->status = admin_ops_error(resp, &err);
		return HTTP_RESPOND;
	}
	return HTTP_STREAM;
}

/*
 * POST /api/v1/patches, the whole patch in: checked by applying it (a
 * bsdiff4 patch: seconds for a large image) and stored on the admin work
 * thread, so devices are answered meanwhile; the answer, 201 with the
 * patch, comes when that is done.  The upload and its query move to the
 * work's context: the client may go away before the end.
 */
struct patch_upload {
	struct admin	*admin;
	struct ops_delta_upload *up;
	struct admin_patch_q *pq;
	struct delta_rec rec;
	struct ops_err	 err;
	int		 rc;
};

static void
patch_upload_run(struct ops *ops, void *arg)
{
	struct patch_upload *w = arg;

	ops_delta_upload_adopt(w->up, ops);
	w->rc = ops_delta_upload_finish(w->up, &w->pq->p,
	    &w->admin->stopping, &w->rec, &w->err);
	w->up = NULL;
}

static int
patch_upload_answer(void *arg, struct http_resp *resp)
{
	struct patch_upload *w = arg;

	if (w->rc != OPS_OK)
		return admin_ops_error(resp, &w->err);
	w->admin->uploads++;
	return admin_json(resp, 201, codec_delta_encode(&w->rec, NULL));
}

static void
patch_upload_free(void *arg)
{
	struct patch_upload *w = arg;

	ops_delta_upload_abort(w->up);
	free(w->pq);
	free(w);
}

int
admin_patch_upload_end(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct patch_upload *w;

	if (ar->dup == NULL || ar->pq == NULL)
		return admin_error(resp, 500, "internal", "upload lost");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	w->admin = a;
	w->up = ar->dup;
	w->pq = ar->pq;
	ar->dup = NULL;
	ar->pq = NULL;
	return admin_work_start(a, ar, req, resp, patch_upload_run,
	    patch_upload_answer, w, patch_upload_free);
}

int
admin_patch_list(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct delta_rec *items = NULL;
	struct admin_list l;
	struct ops_err err;
	char	 fw[OTA_ID_MAX + 1];
	size_t	 i, n;
	int	 q;

	(void)ar;
	q = admin_query_get(http_req_query(req), "firmware", fw, sizeof(fw));
	if (q == -1)
		return admin_bad(resp, "bad query parameter firmware");
	if (ops_delta_list(&a->ops, q == 1 ? fw : NULL, &items, &n, &err) !=
	    OPS_OK)
		return admin_ops_error(resp, &err);
	admin_list_init(&l);
	for (i = 0; i < n; i++)
		admin_list_item(&l, codec_delta_encode(&items[i], NULL));
	free(items);
	return admin_list_send(resp, &l, NULL);
}

int
admin_patch_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct delta_rec d;
	struct ops_err err;

	(void)req;
	if (ops_delta_show(&a->ops, ar->id, &d, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_json(resp, 200, codec_delta_encode(&d, NULL));
}

int
admin_patch_rm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_err err;

	(void)req;
	if (ops_delta_rm(&a->ops, ar->id, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	http_resp_status(resp, 204);
	return 204;
}

/*
 * POST /api/v1/patches/make?from=&to=|toVersion=&block=: the daemon
 * makes the patch (BSDIFF40) on the admin work thread, checks it by
 * applying it and stores it; the answer, 201 with the patch, comes when
 * that is done (seconds per MiB of image).
 */
struct patch_make {
	char	 from[OTA_ID_MAX + 1];
	char	 to[OTA_ID_MAX + 1];
	char	 to_version[OTA_ID_MAX + 1];
	char	 block[4];
	struct ops_delta_make m;
	struct delta_rec rec;
	struct ops_err err;
	int	 rc;
};

static void
patch_make_run(struct ops *ops, void *arg)
{
	struct patch_make *w = arg;

	w->rc = ops_delta_make(ops, &w->m, &w->rec, &w->err);
}

static int
patch_make_answer(void *arg, struct http_resp *resp)
{
	struct patch_make *w = arg;

	if (w->rc != OPS_OK)
		return admin_ops_error(resp, &w->err);
	return admin_json(resp, 201, codec_delta_encode(&w->rec, NULL));
}

int
admin_patch_make(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct admin_qfield f[4];
	struct patch_make *w;
	char	 msg[160];
	int	 has[4], i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	f[0] = (struct admin_qfield){ "from", w->from, sizeof(w->from), 0 };
	f[1] = (struct admin_qfield){ "to", w->to, sizeof(w->to), 0 };
	f[2] = (struct admin_qfield){ "toVersion", w->to_version,
	    sizeof(w->to_version), 0 };
	f[3] = (struct admin_qfield){ "block", w->block, sizeof(w->block), 0 };
	if (admin_query_fields(http_req_query(req), f, 4, msg,
	    sizeof(msg)) != 0) {
		free(w);
		return admin_bad(resp, msg);
	}
	for (i = 0; i < 4; i++)
		has[i] = f[i].has;
	if (!has[0] || has[1] == has[2] || (has[3] && (strlen(w->block) !=
	    1 || w->block[0] < '1' || w->block[0] > '9'))) {
		free(w);
		return admin_bad(resp, "from= and one of to= and toVersion= "
		    "are required; block= is 1 to 9");
	}
	w->m.from = w->from;
	w->m.to = has[1] ? w->to : NULL;
	w->m.to_version = has[2] ? w->to_version : NULL;
	w->m.block = has[3] ? w->block[0] - '0' : 0;
	w->m.cancel = &a->stopping;
	return admin_work_start(a, ar, req, resp, patch_make_run,
	    patch_make_answer, w, free);
}
