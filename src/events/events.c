/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * events.c: builds upstream events and appends them to the outbox.
 *
 * The one place that decides what an event says, so a state change looks
 * the same upstream whether a device report (src/core) or an operator
 * (src/ops) caused it.  An event is encoded to JSON by the codec and
 * appended with store_outbox_append in the caller's transaction; the
 * relay (src/relay) sends the outbox upstream later, in order.
 */
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
	}
	ev.state = jobs_jd_state_name(ch->to);
	return events_put(txn, &ev);
}

int
events_progress(struct store_txn *txn, const struct job_rec *job,
    const struct jobdev_rec *jd, int step, const char *desc,
    const char *version, int64_t now)
{
	struct event ev;

	events_row(&ev, EV_PROGRESS, job, jd, now);
	ev.state = jobs_jd_state_name(jd->state);
	ev.has_step = 1;
	ev.step = step;
	ev.desc = desc;
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
