/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * transfer.c: the bytes delivered per device and firmware (transfer.h),
 * in a hash table of the transfers seen lately, written to the store at
 * the steps transfer.h names.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/transfer.h"
#include "crypto/crypto.h"
#include "events/events.h"
#include "log.h"
#include "model.h"
#include "store/store.h"

#define XFER_BUCKETS	4096		/* a power of two */
#define XFER_WAIT_MS	(60 * (int64_t)1000)	/* between events */
#define XFER_PAUSE_MS	(2 * (int64_t)1000)	/* then the record */
#define XFER_IDLE_MS	(600 * (int64_t)1000)
#define XFER_JOBS	16		/* open rows looked at for the event */

struct xfer {
	struct xfer	*next;			/* hash chain */
	char		 device[OTA_ID_MAX + 1];
	char		 fwid[OTA_ID_MAX + 1];
	uint64_t	 delivered;		/* from 0, without a gap */
	uint64_t	 stored;		/* as last written */
	uint64_t	 evented;		/* in the last event */
	uint64_t	 size;
	int64_t		 evented_at;
	int64_t		 seen;
};

struct xfer_table {
	pthread_mutex_t	 lock;		/* every call: workers share it */
	struct store	*st;
	struct xfer	*b[XFER_BUCKETS];
	size_t		 n;
	int64_t		 evicted_at;	/* the last xfer_evict, when full */
};

static uint32_t
xfer_hash(const char *device, const char *fwid)
{
	uint32_t h = 2166136261u;

	for (; *device != '\0'; device++)
		h = (h ^ (uint8_t)*device) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (; *fwid != '\0'; fwid++)
		h = (h ^ (uint8_t)*fwid) * 16777619u;
	return h & (XFER_BUCKETS - 1);
}

struct xfer_table *
xfer_new(struct store *st)
{
	struct xfer_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return NULL;
	}
	t->st = st;
	return t;
}

/*
 * Collects the jobs of a device's open rows; the one whose notice offers
 * the patch fwid, when it is one, is the job of its transfer.
 */
struct xfer_jobs {
	char	 ids[XFER_JOBS][OTA_ID_MAX + 1];
	size_t	 n;
	const char *fwid;
	char	 patch_job[OTA_ID_MAX + 1];
};

static int
xfer_jobs_cb(const struct jobdev_rec *jd, void *arg)
{
	struct xfer_jobs *j = arg;

	if (strcmp(jd->delta, j->fwid) == 0)
		snprintf(j->patch_job, sizeof(j->patch_job), "%s", jd->job);
	if (j->n == XFER_JOBS)
		return 1;
	snprintf(j->ids[j->n++], OTA_ID_MAX + 1, "%s", jd->job);
	return 0;
}

/*
 * The record, and with event its relay event, in one transaction.  0 or
 * a store error.
 */
static int
xfer_store(struct xfer_table *t, struct xfer *e, int event, int64_t now)
{
	struct store_txn *txn;
	struct device_rec dev;
	struct xfer_rec x;
	struct xfer_jobs jobs;
	struct job_rec job;
	const struct job_rec *jp = NULL;
	size_t	 i;
	int	 rc;

	if ((rc = store_txn_begin(t->st, 0, &txn)) != 0)
		return rc;
	/* a device removed meanwhile (its records went with it) */
	rc = store_device_get(txn, e->device, &dev);
	crypto_wipe(&dev, sizeof(dev));		/* its keys: not needed */
	if (rc == STORE_ENOTFOUND) {
		store_txn_abort(txn);
		e->stored = e->evented = e->delivered;
		return 0;
	}
	if (rc != 0)
		goto fail;
	memset(&x, 0, sizeof(x));
	snprintf(x.device, sizeof(x.device), "%s", e->device);
	snprintf(x.firmware, sizeof(x.firmware), "%s", e->fwid);
	x.delivered = e->delivered;
	x.size = e->size;
	x.updated = now;
	if ((rc = store_xfer_put(txn, &x)) != 0)
		goto fail;
	if (!event)
		goto commit;
	jobs.n = 0;
	jobs.fwid = e->fwid;
	jobs.patch_job[0] = '\0';
	rc = store_device_open_jobs(txn, e->device, xfer_jobs_cb, &jobs);
	if (rc != 0 && rc != STORE_ESTOP)
		goto fail;
	for (i = 0; i < jobs.n && jp == NULL; i++) {
		rc = store_job_get(txn, jobs.ids[i], &job);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc != 0)
			goto fail;
		if (strcmp(job.firmware, e->fwid) == 0 ||
		    strcmp(job.id, jobs.patch_job) == 0)
			jp = &job;
	}
	if ((rc = events_transfer(txn, e->device, jp, e->fwid, e->delivered,
	    e->size, now)) != 0)
		goto fail;
commit:
	if ((rc = store_txn_commit(txn)) != 0)
		return rc;
	e->stored = e->delivered;
	if (event) {
		e->evented = e->delivered;
		e->evented_at = now;
	}
	return 0;
fail:
	store_txn_abort(txn);
	return rc;
}

/* Whether the figure is worth a relay event now (transfer.h). */
static int
xfer_event_due(const struct xfer *e, int64_t now)
{
	return e->delivered > e->evented && (e->delivered == e->size ||
	    (e->delivered - e->evented) * 10 >= e->size ||
	    now - e->evented_at >= XFER_WAIT_MS);
}

static void
xfer_store_logged(struct xfer_table *t, struct xfer *e, int event,
    int64_t now)
{
	int	 rc;

	if ((rc = xfer_store(t, e, event, now)) != 0) {
		log_warnx("transfer of %s to %s: %s", e->fwid, e->device,
		    store_strerror(rc));
		e->evented_at = now;	/* again in a minute */
		e->seen = now;
	}
}

/* What the store has of a transfer not in memory; 0 when nothing. */
static void
xfer_load(struct xfer_table *t, struct xfer *e)
{
	struct store_txn *txn;
	struct xfer_rec x;

	if (store_txn_begin(t->st, 1, &txn) != 0)
		return;
	if (store_xfer_get(txn, e->device, e->fwid, &x) == 0 &&
	    x.size == e->size && x.delivered <= x.size)
		e->delivered = e->stored = e->evented = x.delivered;
	store_txn_abort(txn);
}

static void
xfer_unlink(struct xfer_table *t, struct xfer **pp)
{
	struct xfer *e = *pp;

	*pp = e->next;
	free(e);
	t->n--;
}

/*
 * The table is full: forget the entries that have paused with nothing
 * unwritten and no event owed (what xfer_tick would forget later: an
 * entry whose event waits for its minute stays), with the lock held
 * and no store write.  At most once a second: while every entry is busy,
 * new transfers go uncounted (their devices are served all the same).
 */
static void
xfer_evict(struct xfer_table *t, int64_t now)
{
	struct xfer **pp;
	size_t	 i, before = t->n;

	if (now - t->evicted_at < 1000)
		return;
	t->evicted_at = now;
	for (i = 0; i < XFER_BUCKETS; i++) {
		pp = &t->b[i];
		while (*pp != NULL) {
			if ((*pp)->delivered == (*pp)->stored &&
			    (*pp)->delivered == (*pp)->evented &&
			    now - (*pp)->seen >= XFER_PAUSE_MS)
				xfer_unlink(t, pp);
			else
				pp = &(*pp)->next;
		}
	}
	if (t->n >= XFER_MAX)
		log_warnx("transfers: %zu under way, the most counted at once; "
		    "new ones are served but not counted until some pause",
		    t->n);
	else
		log_debug("transfers: %zu paused ones forgotten to make room",
		    before - t->n);
}

static struct xfer *
xfer_find(struct xfer_table *t, const char *device, const char *fwid,
    uint64_t size, int64_t now)
{
	struct xfer *e, **head = &t->b[xfer_hash(device, fwid)];

	for (e = *head; e != NULL; e = e->next)
		if (strcmp(e->device, device) == 0 &&
		    strcmp(e->fwid, fwid) == 0)
			return e;
	if (t->n >= XFER_MAX) {
		xfer_evict(t, now);	/* the lock is held: not xfer_tick */
		if (t->n >= XFER_MAX)
			return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->device, sizeof(e->device), "%s", device);
	snprintf(e->fwid, sizeof(e->fwid), "%s", fwid);
	e->size = size;
	e->evented_at = now;
	xfer_load(t, e);
	e->next = *head;
	*head = e;
	t->n++;
	return e;
}

static void
xfer_sent_locked(struct xfer_table *t, const char *device, const char *fwid,
    uint64_t off, uint64_t len, uint64_t size, int64_t now)
{
	struct xfer *e;

	if ((e = xfer_find(t, device, fwid, size, now)) == NULL)
		return;
	e->seen = now;
	if (e->size != size) {		/* another image of that id */
		e->size = size;
		e->delivered = e->stored = e->evented = 0;
	}
	if (off > e->delivered || off + len <= e->delivered)
		return;		/* past a gap, or nothing new */
	e->delivered = off + len > size ? size : off + len;
	if (xfer_event_due(e, now))
		xfer_store_logged(t, e, 1, now);
}

void
xfer_sent(struct xfer_table *t, const char *device, const char *fwid,
    uint64_t off, uint64_t len, uint64_t size, int64_t now)
{
	if (t == NULL || device == NULL || fwid == NULL || size == 0 ||
	    strlen(device) > OTA_ID_MAX || strlen(fwid) > OTA_ID_MAX)
		return;
	pthread_mutex_lock(&t->lock);
	xfer_sent_locked(t, device, fwid, off, len, size, now);
	pthread_mutex_unlock(&t->lock);
}

void
xfer_tick(struct xfer_table *t, int64_t now)
{
	struct xfer **pp;
	size_t	 i;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < XFER_BUCKETS; i++) {
		pp = &t->b[i];
		while (*pp != NULL) {
			if (xfer_event_due(*pp, now))
				xfer_store_logged(t, *pp, 1, now);
			else if ((*pp)->delivered > (*pp)->stored &&
			    now - (*pp)->seen >= XFER_PAUSE_MS)
				xfer_store_logged(t, *pp, 0, now);
			if ((*pp)->delivered == (*pp)->stored &&
			    now - (*pp)->seen >= XFER_IDLE_MS)
				xfer_unlink(t, pp);
			else
				pp = &(*pp)->next;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

size_t
xfer_count(struct xfer_table *t)
{
	size_t	 n;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void
xfer_free(struct xfer_table *t)
{
	struct xfer *e, *next;
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < XFER_BUCKETS; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			if (e->delivered > e->stored)
				xfer_store_logged(t, e, xfer_event_due(e,
				    e->seen), e->seen);
			free(e);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
}
