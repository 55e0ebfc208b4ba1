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
 *
 * Every call but the list of a job's rows (paged) runs off the event loop
 * (work.c): creating or terminating a job writes rows in many
 * transactions, and counting a job's rows reads all of them, which over a
 * million devices would keep devices waiting.
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

/* What a job call's thread did, for its answer. */
struct job_work {
	int	 op;			/* JW_* */
	char	 id[OTA_ID_MAX + 1];
	char	 dev[OTA_ID_MAX + 1];
	/* create */
	struct job_rec params;
	codec_id *devs;
	const char **v;
	size_t	 n;
	/* outcome */
	int	 rc;
	struct ops_err err;
	struct ops_job_item item;
	struct ops_job_result res;
	struct jobdev_rec jd;
	/* list */
	struct ops_page pg;
	char	 after[OTA_ID_MAX + 1];
	char	 next[OTA_ID_MAX + 1];
	struct ops_job_item *items;
	size_t	 nitems;
};

enum {
	JW_CREATE,
	JW_SHOW,
	JW_LIST,
	JW_TERMINATE,
	JW_CANCEL,
	JW_RETRY,
	JW_CONFIRM,
};

static void
job_work_free(void *arg)
{
	struct job_work *w = arg;

	free(w->v);
	free(w->devs);
	free(w->items);
	free(w);
}

static void
job_work_run(struct ops *ops, void *arg)
{
	struct job_work *w = arg;

	switch (w->op) {
	case JW_CREATE:
		w->rc = ops_job_create(ops, &w->params, w->v, w->n, &w->item,
		    &w->res, &w->err);
		break;
	case JW_SHOW:
		w->rc = ops_job_show(ops, w->id, &w->item, &w->err);
		break;
	case JW_LIST:
		w->rc = ops_job_list(ops, &w->pg, &w->items, &w->nitems,
		    w->next, &w->err);
		break;
	case JW_TERMINATE:
		w->rc = ops_job_terminate(ops, w->id, &w->item, &w->err);
		break;
	case JW_CANCEL:
		w->rc = ops_job_cancel(ops, w->id, w->dev, &w->jd, &w->err);
		break;
	case JW_RETRY:
		w->rc = ops_job_retry(ops, w->id, w->dev, &w->jd, &w->err);
		break;
	default:
		w->rc = ops_job_confirm(ops, w->id, w->dev, &w->jd, &w->err);
		break;
	}
}

static int
job_work_answer(void *arg, struct http_resp *resp)
{
	struct job_work *w = arg;
	struct codec_job_sel sel;
	struct admin_list l;
	size_t	 i;

	if (w->rc != OPS_OK)
		return admin_ops_error(resp, &w->err);
	switch (w->op) {
	case JW_CREATE:
		sel.added = w->res.added;
		sel.skipped = w->res.skipped;
		sel.left_out = w->res.left_out;
		sel.superseded = w->res.superseded;
		return job_send(resp, 201, &w->item, &sel);
	case JW_SHOW:
	case JW_TERMINATE:
		return job_send(resp, 200, &w->item, NULL);
	case JW_LIST:
		admin_list_init(&l);
		for (i = 0; i < w->nitems; i++)
			admin_list_item(&l, codec_job_encode_api(
			    &w->items[i].job, &w->items[i].counts, NULL,
			    NULL));
		return admin_list_send(resp, &l, w->next);
	default:
		return admin_json(resp, 200, codec_jobdev_encode(&w->jd,
		    NULL));
	}
}

/* A job call with the path's ids, on a thread (work.c). */
static int
job_work_start(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp, struct job_work *w)
{
	snprintf(w->id, sizeof(w->id), "%s", ar->id);
	snprintf(w->dev, sizeof(w->dev), "%s", ar->dev);
	return admin_work_start(a, ar, req, resp, job_work_run,
	    job_work_answer, w, job_work_free);
}

static struct job_work *
job_work_new(int op)
{
	struct job_work *w;

	if ((w = calloc(1, sizeof(*w))) != NULL)
		w->op = op;
	return w;
}

int
admin_job_create(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct job_work *w;
	const uint8_t *b;
	char	 msg[160];
	size_t	 len, i;

	if ((w = job_work_new(JW_CREATE)) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	b = http_req_body(req, &len);
	jobs_job_defaults(&w->params);
	if (codec_job_body_decode(b, len, &w->params, &w->devs, &w->n, msg,
	    sizeof(msg)) != 0) {
		job_work_free(w);
		return admin_bad(resp, msg);
	}
	if (w->n > 0 && (w->v = calloc(w->n, sizeof(*w->v))) == NULL) {
		job_work_free(w);
		return admin_error(resp, 500, "internal", "out of memory");
	}
	for (i = 0; i < w->n; i++)
		w->v[i] = w->devs[i];
	return job_work_start(a, ar, req, resp, w);
}

int
admin_job_list(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct job_work *w;
	int	 status;

	if ((w = job_work_new(JW_LIST)) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	if ((status = admin_query_page(http_req_query(req), &w->pg, w->after,
	    resp)) != 0) {
		job_work_free(w);
		return status;
	}
	return job_work_start(a, ar, req, resp, w);
}

int
admin_job_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct job_work *w;

	if ((w = job_work_new(JW_SHOW)) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	return job_work_start(a, ar, req, resp, w);
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
	struct job_work *w;

	if ((w = job_work_new(JW_TERMINATE)) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	return job_work_start(a, ar, req, resp, w);
}

/* One row of a job: cancel, retry or confirm (op). */
static int
job_row(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp, int op)
{
	struct job_work *w;

	if ((w = job_work_new(op)) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	return job_work_start(a, ar, req, resp, w);
}

int
admin_job_cancel(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, req, resp, JW_CANCEL);
}

int
admin_job_retry(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, req, resp, JW_RETRY);
}

int
admin_job_confirm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, req, resp, JW_CONFIRM);
}
