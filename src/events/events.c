/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * events.c: builds upstream events and appends them to the outbox.
 *
 * The one place that decides what an event says, so a state change looks
 * the same upstream whether a device report (src/core) or an operator
 * (src/ops) caused it.  An event is encoded to JSON by the codec and
 * appended with store_outbox_append in the caller's transaction; the
 * relay (src/relay) sends the outbox upstream later, in order.
 *
 * The history entry of an attempt that ended is made here too, from the
 * row as the change left it (a row failing on its way to RETRY_WAIT still
 * holds the failed attempt's reason and times: the retry clears them
 * later).  Its source version is the one the row noted at its notice; a
 * row that never got one (canceled, superseded or terminated while it
 * waited, or written before rows noted it) takes the device's version of
 * the module now, unless that is the target already.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "events/events.h"
#include "jobs/jobs.h"
#include "store/store.h"

static int
events_put(struct store_txn *txn, const struct event *ev)
{
	size_t	 len;
	char	*s;
	int	 rc;

	if ((s = codec_event_encode(ev, &len)) == NULL)
		return STORE_EIO;
	rc = store_outbox_append(txn, ev->type, ev->ts, s, len, NULL);
	free(s);
	return rc;
}

static void
events_row(struct event *ev, int type, const struct job_rec *job,
    const struct jobdev_rec *jd, int64_t now)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->ts = now;
	ev->device = jd->device;
	ev->job = job->id;
	ev->firmware = job->firmware;
	ev->module = job->module;
	ev->downgrade = job->allow_downgrade;
}

int
events_inform(struct store_txn *txn, const struct device_rec *dev,
    int64_t now)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_INFORM;
	ev.ts = now;
	ev.device = dev->id;
	ev.nversions = dev->nversions;
	ev.versions = dev->versions;
	return events_put(txn, &ev);
}

/* The entry of the attempt that ended in `state' in the row's history. */
static int
events_history(struct store_txn *txn, const struct job_rec *job,
    const struct jobdev_rec *jd, int state, int64_t now)
{
	struct history_rec h;
	struct device_rec dev;
	const char *v;
	int	 rc;

	memset(&h, 0, sizeof(h));
	snprintf(h.device, sizeof(h.device), "%s", jd->device);
	snprintf(h.job, sizeof(h.job), "%s", job->id);
	snprintf(h.firmware, sizeof(h.firmware), "%s", job->firmware);
	snprintf(h.module, sizeof(h.module), "%s", job->module);
	snprintf(h.to_version, sizeof(h.to_version), "%s", job->version);
	snprintf(h.from_version, sizeof(h.from_version), "%s",
	    jd->from_version);
	if (h.from_version[0] == '\0') {
		rc = store_device_get(txn, jd->device, &dev);
		if (rc != 0 && rc != STORE_ENOTFOUND)
			return rc;
		if (rc == 0 && (v = jobs_device_version(&dev,
		    job->module)) != NULL && strcmp(v, job->version) != 0)
			snprintf(h.from_version, sizeof(h.from_version), "%s",
			    v);
		explicit_bzero(&dev, sizeof(dev));
	}
	h.state = state;
	snprintf(h.reason, sizeof(h.reason), "%s", jd->reason);
	snprintf(h.desc, sizeof(h.desc), "%s", jd->desc);
	h.retries = jd->retries;
	h.notified = jd->notified;
	h.started = jd->started;
	h.finished = now;
	return store_history_append(txn, &h);
}

int
events_state_change(struct store_txn *txn, const struct job_rec *job,
    const struct jobdev_rec *jd, const struct jobs_change *ch, int64_t now)
{
	struct event ev;
	unsigned i;
	int	 rc;

	if (ch->from == ch->to && ch->nvia == 0)
		return 0;
	events_row(&ev, EV_STATE, job, jd, now);
	if (jd->reason[0] != '\0')
		ev.reason = jd->reason;
	if (jd->desc[0] != '\0')
		ev.desc = jd->desc;
	if (jd->last_version[0] != '\0')
		ev.version = jd->last_version;
	for (i = 0; i < ch->nvia && i < JOBS_VIA_MAX; i++) {
		ev.state = jobs_jd_state_name(ch->via[i]);
		if ((rc = events_put(txn, &ev)) != 0)
			return rc;
		if (jobs_jd_is_final(ch->via[i]) && (rc = events_history(txn,
		    job, jd, ch->via[i], now)) != 0)
			return rc;
	}
	ev.state = jobs_jd_state_name(ch->to);
	if ((rc = events_put(txn, &ev)) != 0)
		return rc;
	if (jobs_jd_is_final(ch->to))
		return events_history(txn, job, jd, ch->to, now);
	return 0;
}

int
events_progress(struct store_txn *txn, const struct job_rec *job,
    const struct jobdev_rec *jd, int step, const char *desc,
    const char *details, const char *version, int64_t now)
{
	struct event ev;

	events_row(&ev, EV_PROGRESS, job, jd, now);
	ev.state = jobs_jd_state_name(jd->state);
	ev.has_step = 1;
	ev.step = step;
	ev.desc = desc;
	ev.details = details;
	ev.version = version;
	return events_put(txn, &ev);
}

int
events_transfer(struct store_txn *txn, const char *device,
    const struct job_rec *job, const char *fwid, uint64_t bytes,
    uint64_t size, int64_t now)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TRANSFER;
	ev.ts = now;
	ev.device = device;
	ev.firmware = fwid;
	if (job != NULL) {
		ev.job = job->id;
		ev.module = job->module;
	}
	ev.has_bytes = 1;
	ev.bytes = bytes;
	ev.size = size;
	return events_put(txn, &ev);
}
