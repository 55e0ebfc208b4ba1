/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs.c: the admin API's job calls, each one ops operation:
 *
 *   GET  /api/v1/jobs?after=&limit=
 *   POST /api/v1/jobs                  (JSON: the body of CONTRACT §4)
 *   GET  /api/v1/jobs/{id}
 *   GET  /api/v1/jobs/{id}/devices?state=&after=&limit=
 *   POST /api/v1/jobs/{id}/terminate
 *   POST /api/v1/jobs/{id}/devices/{dev}/cancel (retry, confirm)
 *
 * Jobs are answered in the view otactl --json prints plus onlyNewReports,
 * with their counts, and on creation with what the selection did.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "codec/codec.h"
#include "jobs/jobs.h"

static int
job_send(struct http_resp *resp, int status, const struct ops_job_item *it,
    const struct codec_job_sel *sel)
{

	return admin_json(resp, status, codec_job_encode_api(&it->job,
	    &it->counts, sel, NULL));
}

int
admin_job_create(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_job_result res;
	struct ops_job_item out;
	struct codec_job_sel sel;
	struct ops_err err;
	struct job_rec job;
	codec_id *devs = NULL;
	const char **v = NULL;
	const uint8_t *b;
	char	 msg[160];
	size_t	 len, n = 0, i;
	int	 status;

	b = http_req_body(req, &len);
	jobs_job_defaults(&job);
	if (codec_job_body_decode(b, len, &job, &devs, &n, msg,
	    sizeof(msg)) != 0)
		return admin_bad(resp, msg);
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		free(devs);
		return admin_error(resp, 500, "internal", "out of memory");
	}
	for (i = 0; i < n; i++)
		v[i] = devs[i];
	if (ops_job_create(&a->ops, &job, v, n, &out, &res, &err) != OPS_OK)
		status = admin_ops_error(resp, &err);
	else {
		sel.added = res.added;
		sel.skipped = res.skipped;
		sel.left_out = res.left_out;
		sel.superseded = res.superseded;
		status = job_send(resp, 201, &out, &sel);
	}
	free(v);
	free(devs);
	return status;
}

int
admin_job_list(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_job_item *items = NULL;
	struct ops_page pg;
	struct ops_err err;
	struct admin_list l;
	char	 after[OTA_ID_MAX + 1], next[OTA_ID_MAX + 1];
	size_t	 i, n;
	int	 status;

	if ((status = admin_query_page(http_req_query(req), &pg, after,
	    resp)) != 0)
		return status;
	if (ops_job_list(&a->ops, &pg, &items, &n, next, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	admin_list_init(&l);
	for (i = 0; i < n; i++)
		admin_list_item(&l, codec_job_encode_api(&items[i].job,
		    &items[i].counts, NULL, NULL));
	free(items);
	return admin_list_send(resp, &l, next);
}

int
admin_job_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_job_item it;
	struct ops_err err;

	if (ops_job_show(&a->ops, ar->id, &it, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return job_send(resp, 200, &it, NULL);
}

static int
jdlist_cb(const struct jobdev_rec *jd, void *arg)
{
	struct admin_list *l = arg;

	admin_list_item(l, codec_jobdev_encode(jd, NULL));
	return l->failed;
}

int
admin_job_devices(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	const char *q = http_req_query(req);
	char	 state[32], after[OTA_ID_MAX + 1], next[OTA_ID_MAX + 1];
	struct ops_jobdev_filter f;
	struct admin_list l;
	struct ops_err err;
	size_t	 i;
	int	 rs, ra;

	memset(&f, 0, sizeof(f));
	f.state = -1;
	if ((rs = admin_query_get(q, "state", state, sizeof(state))) == -1 ||
	    (ra = admin_query_get(q, "after", after, sizeof(after))) == -1)
		return admin_bad(resp, "bad query: state, after (each at most "
		    "once)");
	if (admin_query_limit(q, &f.limit) == -1)
		return admin_bad(resp, "limit must be a number from 1");
	if (rs && state[0] != '\0') {
		for (i = 0; state[i] != '\0'; i++)
			state[i] = state[i] == '-' ? '_' :
			    (char)toupper((unsigned char)state[i]);
		if (jobs_jd_state_parse(state, &f.state) == -1)
			return admin_bad(resp, "unknown state (want "
			    "WAIT_CONFIRM, QUEUED, NOTIFIED, UPGRADING, "
			    "SUCCEEDED, FAILED, RETRY_WAIT or CANCELED)");
	}
	f.after = ra ? after : NULL;
	admin_list_init(&l);
	if (ops_job_devices(&a->ops, ar->id, &f, jdlist_cb, &l, next, &err) !=
	    OPS_OK) {
		admin_list_free(&l);
		return admin_ops_error(resp, &err);
	}
	return admin_list_send(resp, &l, next);
}

int
admin_job_terminate(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_job_item it;
	struct ops_err err;

	if (ops_job_terminate(&a->ops, ar->id, &it, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return job_send(resp, 200, &it, NULL);
}

/* One row of a job: cancel, retry or confirm, as fn does it. */
static int
job_row(struct admin *a, struct admin_req *ar, struct http_resp *resp,
    int (*fn)(struct ops *, const char *, const char *, struct jobdev_rec *,
    struct ops_err *))
{
	struct jobdev_rec jd;
	struct ops_err err;

	if (fn(&a->ops, ar->id, ar->dev, &jd, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_json(resp, 200, codec_jobdev_encode(&jd, NULL));
}

int
admin_job_cancel(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, resp, ops_job_cancel);
}

int
admin_job_retry(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, resp, ops_job_retry);
}

int
admin_job_confirm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, resp, ops_job_confirm);
}

