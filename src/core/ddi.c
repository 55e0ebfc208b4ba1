/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ddi.c: hawkBit DDI actions on otagw's job rows (see ddi.h).
 *
 * Finding an action: the device's open rows first (its current
 * attempts), then its upgrade history, newest first (attempts that
 * ended: each entry keeps the job and the time of the attempt's notice,
 * which is all an action id is made from).  A canceled row is told from
 * other ended ones by the row itself, which keeps its state and whether
 * the device acknowledged the cancel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "core/ddi.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "log.h"
#include "store/image.h"
#include "store/store.h"

/* History entries looked at for an action, newest first. */
#define DDI_HISTORY_SCAN	64

/* An action as found: what it is, and its row and job. */
struct ddi_found {
	const char *device;
	uint32_t action;
	int	 what;		/* enum core_ddi_action */
	struct jobdev_rec jd;
	char	 job[OTA_ID_MAX + 1];
	char	 firmware[OTA_ID_MAX + 1];	/* closed: the entry's */
	unsigned scanned;
	int	 rc;		/* a store error in a callback */
	struct store_txn *txn;
};

static uint32_t
ddi_action_id(const char *job, const char *device, int64_t notified)
{
	char	 buf[2 * OTA_ID_MAX + 32];
	uint8_t	 h[32];
	uint32_t v;
	int	 n;

	n = snprintf(buf, sizeof(buf), "%s%c%s%c%lld", job, 0, device, 0,
	    (long long)notified);
	crypto_sha256(buf, (size_t)n, h);
	v = ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3]) & 0x7fffffffU;
	return v != 0 ? v : 1;
}

static uint32_t
ddi_row_action(const struct jobdev_rec *jd)
{
	return ddi_action_id(jd->job, jd->device, jd->notified);
}

static int
ddi_open_cb(const struct jobdev_rec *jd, void *arg)
{
	struct ddi_found *f = arg;

	if (jd->notified == 0 || ddi_row_action(jd) != f->action)
		return 0;
	f->jd = *jd;
	snprintf(f->job, sizeof(f->job), "%s", jd->job);
	f->what = jd->state == JD_NOTIFIED || jd->state == JD_UPGRADING ?
	    CORE_DDI_ACTIVE : CORE_DDI_CLOSED;
	return 1;
}

static int
ddi_history_cb(const struct history_rec *h, void *arg)
{
	struct ddi_found *f = arg;
	int	 rc;

	if (++f->scanned > DDI_HISTORY_SCAN)
		return 1;
	if (f->what == CORE_DDI_CANCELED) {
		/*
		 * A cancel of this attempt: an earlier end of the same
		 * attempt (it failed, and the row was canceled while it
		 * waited for a retry) means it was over before the cancel.
		 */
		if (h->notified == f->jd.notified && strcmp(h->job,
		    f->job) == 0) {
			f->what = CORE_DDI_CLOSED;
			return 1;
		}
		return 0;
	}
	if (h->notified == 0 ||
	    ddi_action_id(h->job, f->device, h->notified) != f->action)
		return 0;
	snprintf(f->job, sizeof(f->job), "%s", h->job);
	snprintf(f->firmware, sizeof(f->firmware), "%s", h->firmware);
	f->what = CORE_DDI_CLOSED;
	rc = store_jobdev_get(f->txn, h->job, f->device, &f->jd);
	if (rc == 0 && h->state == JD_CANCELED && f->jd.state == JD_CANCELED &&
	    f->jd.notified == h->notified) {
		f->what = CORE_DDI_CANCELED;
		return 0;	/* unless the attempt had ended before */
	}
	if (rc != 0 && rc != STORE_ENOTFOUND)
		f->rc = rc;
	return 1;
}

/* Finds action for req->peer in txn: f->what. */
static void
ddi_find(struct store_txn *txn, const char *device, uint32_t action,
    struct ddi_found *f)
{
	int	 rc;

	memset(f, 0, sizeof(*f));
	f->device = device;
	f->action = action;
	f->txn = txn;
	f->what = CORE_DDI_UNKNOWN;
	rc = store_device_open_jobs(txn, device, ddi_open_cb, f);
	if (rc == 0 && f->what == CORE_DDI_UNKNOWN)
		rc = store_history_iter(txn, device, 0, ddi_history_cb, f);
	if (rc == STORE_ESTOP)
		rc = 0;
	if (rc == 0)
		rc = f->rc;
	if (rc != 0 && rc != STORE_ENOTFOUND) {
		log_warnx("ddi: %s: action %lu: %s", device,
		    (unsigned long)action, store_strerror(rc));
		f->what = CORE_DDI_ERROR;
	}
}

/* The device's action in progress, if any: its open NOTIFIED/UPGRADING. */
static int
ddi_active_cb(const struct jobdev_rec *jd, void *arg)
{
	struct core_ddi_base *b = arg;

	if (jd->state != JD_NOTIFIED && jd->state != JD_UPGRADING)
		return 0;
	b->link = DDI_LINK_DEPLOY;
	b->action = ddi_row_action(jd);
	return 1;
}

/* A cancel the device has not acknowledged yet, newest first. */
struct ddi_cancel_scan {
	struct store_txn *txn;
	const char *device;
	struct core_ddi_base *b;
	unsigned scanned;
	int	 rc;
};

static int
ddi_cancel_cb(const struct history_rec *h, void *arg)
{
	struct ddi_cancel_scan *s = arg;
	struct jobdev_rec jd;
	int	 rc;

	if (++s->scanned > DDI_HISTORY_SCAN)
		return 1;
	if (h->state != JD_CANCELED || h->notified == 0)
		return 0;
	rc = store_jobdev_get(s->txn, h->job, s->device, &jd);
	if (rc != 0) {
		if (rc != STORE_ENOTFOUND)
			s->rc = rc;
		return rc != STORE_ENOTFOUND;
	}
	if (jd.state != JD_CANCELED || jd.notified != h->notified ||
	    jd.cancel_acked)
		return 0;
	s->b->link = DDI_LINK_CANCEL;
	s->b->action = ddi_row_action(&jd);
	return 1;
}

/*
 * What the base links to, in a read transaction: the row the check
 * notified (job, "" for none) when it is one, else the device's first
 * action under way.
 */
static int
ddi_base_links(struct core *c, const char *device, const char *job,
    struct core_ddi_base *b)
{
	struct ddi_cancel_scan s;
	struct store_txn *txn;
	struct jobdev_rec jd;
	char	 attrs[2];
	int	 rc = 0;

	if ((rc = store_txn_begin(core_store(c), 1, &txn)) != 0)
		return rc;
	if (job[0] != '\0' && store_jobdev_get(txn, job, device, &jd) == 0)
		ddi_active_cb(&jd, b);
	if (b->link == DDI_LINK_NONE)
		rc = store_device_open_jobs(txn, device, ddi_active_cb, b);
	if ((rc == 0 || rc == STORE_ESTOP) && b->link == DDI_LINK_NONE) {
		memset(&s, 0, sizeof(s));
		s.txn = txn;
		s.device = device;
		s.b = b;
		rc = store_history_iter(txn, device, 0, ddi_cancel_cb, &s);
		if (rc == 0 || rc == STORE_ESTOP)
			rc = s.rc;
	}
	if (rc == STORE_ESTOP)
		rc = 0;
	if (rc == 0) {
		/*
		 * Too long for attrs (STORE_EINVAL): there are some.  Any
		 * other failure leaves the link out and the poll answered.
		 */
		b->config = store_attrs_get(txn, device, attrs,
		    sizeof(attrs)) == STORE_ENOTFOUND;
	}
	store_txn_abort(txn);
	return rc;
}

int
core_ddi_base(struct core *c, const struct core_req *req,
    struct core_ddi_base *out)
{
	struct check_body body;
	struct core_resp resp;
	char	 job[OTA_ID_MAX + 1];
	int	 rc;

	memset(out, 0, sizeof(*out));
	memset(&body, 0, sizeof(body));
	if (req->peer == NULL || req->device == NULL ||
	    strcmp(req->peer, req->device) != 0)
		return CORE_FORBIDDEN;
	/* a poll is a check without a version report */
	core_check_decoded(c, req, &body, &resp, job, sizeof(job));
	rc = resp.status;
	out->sleep_s = resp.retry_after;
	core_resp_cleanup(&resp);
	if (rc < 0)
		return rc;
	if ((rc = ddi_base_links(c, req->device, job, out)) != 0) {
		log_warnx("ddi: %s: %s", req->device, store_strerror(rc));
		return rc == STORE_EFULL || rc == STORE_EBUSY ?
		    CORE_UNAVAILABLE : CORE_INTERNAL;
	}
	return CORE_OK;
}

/*
 * Firmware stored before otagw kept a SHA-1 gets it the first time a
 * hawkBit client is offered it: computed from the image, stored once.
 */
static void
ddi_sha1_backfill(struct core *c, struct firmware_rec *fw)
{
	const struct store_image *img;
	struct store_txn *txn;
	struct firmware_rec cur;
	int	 rc;

	if (fw->has_sha1 || store_image_open(core_store(c), fw->id, &img) != 0)
		return;
	crypto_sha1(img->data, (size_t)img->size, fw->sha1);
	store_image_unref(img);
	fw->has_sha1 = 1;
	if (store_txn_begin(core_store(c), 0, &txn) != 0)
		return;
	rc = store_firmware_get(txn, fw->id, &cur);
	if (rc == 0 && !cur.has_sha1 && memcmp(cur.sha256, fw->sha256,
	    sizeof(cur.sha256)) == 0) {
		memcpy(cur.sha1, fw->sha1, sizeof(cur.sha1));
		cur.has_sha1 = 1;
		if (store_firmware_put(txn, &cur) == 0) {
			/* the commit ends txn, whatever it returns */
			if (store_txn_commit(txn) == 0)
				log_info("firmware %s: SHA-1 recorded for "
				    "hawkBit clients", fw->id);
			return;
		}
	}
	store_txn_abort(txn);
}

int
core_ddi_deployment(struct core *c, const struct core_req *req,
    uint32_t action, struct core_ddi_deploy *out)
{
	struct ddi_found f;
	struct store_txn *txn;
	struct job_rec job;
	int	 rc;

	memset(out, 0, sizeof(*out));
	if (store_txn_begin(core_store(c), 1, &txn) != 0)
		return CORE_DDI_ERROR;
	ddi_find(txn, req->peer, action, &f);
	if (f.what == CORE_DDI_ACTIVE || f.what == CORE_DDI_CLOSED) {
		rc = store_job_get(txn, f.job, &job);
		if (rc == 0)
			rc = store_firmware_get(txn, f.firmware[0] != '\0' ?
			    f.firmware : job.firmware, &out->fw);
		if (rc == 0)
			out->forced = job.force;
		else
			f.what = rc == STORE_ENOTFOUND ? CORE_DDI_UNKNOWN :
			    CORE_DDI_ERROR;
	}
	store_txn_abort(txn);
	if (f.what == CORE_DDI_ACTIVE || f.what == CORE_DDI_CLOSED)
		ddi_sha1_backfill(c, &out->fw);
	return f.what;
}

/* The progress report a feedback on an active action makes. */
static void
ddi_progress_of(const struct ddi_found *f, const struct job_rec *job,
    const struct ddi_feedback *fb, struct progress_body *p)
{
	long long step;

	memset(p, 0, sizeof(*p));
	snprintf(p->job, sizeof(p->job), "%s", f->job);
	p->has_desc = fb->details[0] != '\0';
	snprintf(p->desc, sizeof(p->desc), "%s", fb->details);
	p->details = fb->all[0] != '\0' ? fb->all : NULL;
	p->attempt = f->jd.notified;
	if (fb->execution == DDI_EXEC_CLOSED &&
	    fb->finished != DDI_FIN_FAILURE) {
		p->step = 100;
		p->has_version = 1;
		snprintf(p->version, sizeof(p->version), "%s", job->version);
		return;
	}
	if ((fb->execution == DDI_EXEC_CLOSED &&
	    fb->finished == DDI_FIN_FAILURE) ||
	    fb->execution == DDI_EXEC_CANCELED) {
		p->step = -1;
		return;
	}
	/* under way: cnt of of, never 100 before the device closes it */
	step = f->jd.step >= 0 && f->jd.step < 100 ? f->jd.step : 0;
	if (fb->has_progress && fb->of > 0)
		step = fb->cnt >= fb->of ? 99 : fb->cnt * 100 / fb->of;
	p->step = (int)step;
}

int
core_ddi_feedback(struct core *c, const struct core_req *req,
    uint32_t action, const struct ddi_feedback *fb)
{
	struct ddi_found f;
	struct store_txn *txn;
	struct job_rec job;
	struct progress_body p;
	struct core_resp resp;
	int	 rc;

	if (store_txn_begin(core_store(c), 1, &txn) != 0)
		return CORE_DDI_ERROR;
	ddi_find(txn, req->peer, action, &f);
	if (f.what == CORE_DDI_ACTIVE &&
	    (rc = store_job_get(txn, f.job, &job)) != 0)
		f.what = CORE_DDI_ERROR;
	store_txn_abort(txn);
	if (f.what == CORE_DDI_CANCELED)
		return CORE_DDI_CLOSED;
	if (f.what != CORE_DDI_ACTIVE)
		return f.what;
	ddi_progress_of(&f, &job, fb, &p);
	core_progress_decoded(c, req, &p, &resp);
	rc = resp.status;
	if (rc < 0)
		log_warnx("ddi: %s: feedback on action %lu (job %s): %.*s",
		    req->peer, (unsigned long)action, f.job,
		    (int)resp.body_len, resp.body != NULL ? resp.body : "");
	core_resp_cleanup(&resp);
	if (rc == CORE_NOT_FOUND || rc == CORE_BAD_REQUEST)
		return CORE_DDI_CLOSED;	/* it ended meanwhile */
	return rc < 0 ? CORE_DDI_ERROR : CORE_DDI_ACTIVE;
}

/* The device acknowledged the cancel of f's row. */
static int
ddi_cancel_ack(struct core *c, const struct ddi_found *f,
    const struct ddi_feedback *fb)
{
	struct store_txn *txn;
	struct jobdev_rec jd;
	int	 rc;

	if ((rc = store_txn_begin(core_store(c), 0, &txn)) != 0)
		return rc;
	rc = store_jobdev_get(txn, f->job, f->device, &jd);
	if (rc == 0 && jd.state == JD_CANCELED && !jd.cancel_acked) {
		jd.cancel_acked = 1;
		if ((rc = store_jobdev_put(txn, &jd)) == 0) {
			rc = store_txn_commit(txn);	/* ends txn */
			txn = NULL;
		}
		/*
		 * A cancel is final in otagw (CONTRACT §3): a device that
		 * rejects it (rauc-hawkbit-updater, once it is installing)
		 * is told no more, and its later feedback is refused as for
		 * a closed action.
		 */
		if (rc == 0)
			log_info("ddi: %s %s the cancel of job %s (%s%s%s)",
			    f->device, fb->execution == DDI_EXEC_REJECTED ?
			    "rejected" : "acknowledged", f->job,
			    fb->finished == DDI_FIN_FAILURE ? "failure" :
			    "success", fb->details[0] ? ": " : "",
			    fb->details);
	}
	store_txn_abort(txn);
	return rc;
}

int
core_ddi_cancel(struct core *c, const struct core_req *req,
    uint32_t action, const struct ddi_feedback *fb)
{
	struct ddi_found f;
	struct store_txn *txn;

	if (store_txn_begin(core_store(c), 1, &txn) != 0)
		return CORE_DDI_ERROR;
	ddi_find(txn, req->peer, action, &f);
	store_txn_abort(txn);
	if (f.what != CORE_DDI_CANCELED || fb == NULL)
		return f.what;
	return ddi_cancel_ack(c, &f, fb) == 0 ? CORE_DDI_CANCELED :
	    CORE_DDI_ERROR;
}

int
core_ddi_config(struct core *c, const struct core_req *req,
    const void *body, size_t len, int *bad_attrs, char *err, size_t errlen)
{
	struct store_txn *txn;
	struct device_rec dev;
	char	*old, *attrs = NULL;
	size_t	 alen = 0;
	int	 rc;

	if ((old = malloc(STORE_ATTRS_MAX + 1)) == NULL)
		return CORE_INTERNAL;
	if ((rc = store_txn_begin(core_store(c), 0, &txn)) != 0)
		goto out;
	if ((rc = store_device_get(txn, req->peer, &dev)) != 0)
		goto out;
	crypto_wipe(&dev, sizeof(dev));
	rc = store_attrs_get(txn, req->peer, old, STORE_ATTRS_MAX + 1);
	if (rc != 0 && rc != STORE_ENOTFOUND)
		goto out;
	*bad_attrs = 0;
	if ((rc = codec_ddi_config_apply(body, len, rc == 0 ? old : NULL,
	    &attrs, &alen, err, errlen)) != 0) {
		*bad_attrs = rc == -2;
		store_txn_abort(txn);
		free(old);
		return CORE_BAD_REQUEST;
	}
	if (alen > STORE_ATTRS_MAX) {
		*bad_attrs = 1;
		snprintf(err, errlen, "the attributes take more than %d "
		    "bytes", STORE_ATTRS_MAX);
		store_txn_abort(txn);
		free(attrs);
		free(old);
		return CORE_BAD_REQUEST;
	}
	if ((rc = store_attrs_put(txn, req->peer, attrs, alen)) == 0) {
		rc = store_txn_commit(txn);
		txn = NULL;
	}
out:
	store_txn_abort(txn);
	free(attrs);
	free(old);
	if (rc == 0)
		return CORE_OK;
	if (rc == STORE_ENOTFOUND)
		return CORE_NOT_FOUND;
	log_warnx("ddi: %s: configData: %s", req->peer, store_strerror(rc));
	return rc == STORE_EFULL || rc == STORE_EBUSY ? CORE_UNAVAILABLE :
	    CORE_INTERNAL;
}
