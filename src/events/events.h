/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * events.h: the upstream events of CONTRACT §5, written to the outbox,
 * and the devices' upgrade histories.
 *
 * Every change that the platform above must hear of is described by one
 * of these calls inside the transaction that makes the change, so the
 * change and its event commit together.  Used by the request core (device
 * reports) and by src/ops (operator actions), which is why it is a module
 * of its own below both rather than a part of either.  Return store codes.
 *
 * events_state_change is also where a device's upgrade history is
 * written: every row state change, whoever makes it, passes through it
 * with the states the row entered, so an attempt that ends (SUCCEEDED,
 * FAILED, also on the way to RETRY_WAIT, CANCELED) is recorded there, in
 * the same transaction, exactly once.
 */
#ifndef OTAGW_EVENTS_H
#define OTAGW_EVENTS_H

#include <stdint.h>

#include "model.h"

struct store_txn;
struct jobs_change;

/* A version report: every module's version of the device. */
int	 events_inform(struct store_txn *, const struct device_rec *,
	    int64_t now);
/*
 * One state event per state the row entered in ch (none if it stayed),
 * and a history entry (store_history_append) for each final state among
 * them.  jd is the row after the change.
 */
int	 events_state_change(struct store_txn *, const struct job_rec *,
	    const struct jobdev_rec *, const struct jobs_change *, int64_t now);
/*
 * A progress report; desc, details (a JSON array of strings: a hawkBit
 * device's details) and version may be NULL.
 */
int	 events_progress(struct store_txn *, const struct job_rec *,
	    const struct jobdev_rec *, int step, const char *desc,
	    const char *details, const char *version, int64_t now);
/*
 * Bytes of firmware fwid the gateway delivered to device (job: the open
 * job it is for, or NULL).
 */
int	 events_transfer(struct store_txn *, const char *device,
	    const struct job_rec *, const char *fwid, uint64_t bytes,
	    uint64_t size, int64_t now);

#endif
