/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * watch.h: devices that wait, awake, for a notice (CONTRACT §6, "push
 * while awake"): a CoAP observation of /ota/{device}/notice, an HTTPS
 * long poll POST /ota/{device}/check?wait=N.
 *
 * Core stays protocol-neutral and knows no socket: a front end that holds
 * such a request registers a watch with the request it would send to
 * core_check, and a callback.  core_watch_poll, called about once a
 * second, finds the watched devices for which a check would now hand out
 * a notice that the watcher was not given yet, and calls back; the front
 * end then runs the check for real with core_watch_check (which writes
 * NOTIFIED and its event, as any check does) and sends the answer.  A
 * watch may also expire (a long poll's wait): it is then called back
 * once with CORE_WATCH_EXPIRED.
 *
 * Cost: the poll runs the check rules read-only (no write transaction),
 * for every watched device in one read transaction, and only when the
 * store changed since the last poll (any write by any process: the
 * daemon's own, otactl --state) or when a watch waits on time alone (the
 * start of a job's window, a slot under a job's rate, the end of a retry
 * wait), at most once a second.  An idle gateway with thousands of
 * watchers compares one number a second.  The number of watches is
 * bounded by push_max_watchers.
 */
#ifndef OTAGW_CORE_WATCH_H
#define OTAGW_CORE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct metrics;

enum core_watch_event {
	CORE_WATCH_NOTICE = 1,	/* a check would hand out a new notice (or
				   fail: the device was removed) */
	CORE_WATCH_EXPIRED,	/* the watch's time is up, or a newer watch
				   of the same device replaced it */
};

struct core_watch;
typedef void (*core_watch_cb)(void *arg, struct core_watch *, int event);

/*
 * Watches a device for the request req (as for core_check: proto, peer,
 * device, body, origin; everything is copied).  wait_ms: the watch is
 * called back with CORE_WATCH_EXPIRED this long from now (core's clock),
 * by the first poll after; 0 for never.  Returns the
 * watch, or NULL with *status set: CORE_UNAVAILABLE when
 * push_max_watchers are held already (or it is 0), CORE_BAD_REQUEST (or
 * CORE_FORBIDDEN, CORE_TOO_LARGE) for a request that core_check would
 * refuse, CORE_INTERNAL when out of memory.  The watcher has been given
 * no notice yet: run core_watch_check for the first answer.
 *
 * One watch per device: a device's watch made with a peer (coaps, an
 * authenticated HTTPS device) replaces the device's earlier watch made
 * with a peer, one made without (plain CoAP) the earlier one without.
 * The replaced watch no longer counts against push_max_watchers and is
 * called back with CORE_WATCH_EXPIRED by the next poll.
 */
struct core_watch *core_watch_add(struct core *, const struct core_req *,
	    int64_t wait_ms, core_watch_cb, void *arg, int *status);
/*
 * Ends a watch (NULL ok).  Allowed anywhere, also from a callback, for
 * any watch; no callback comes for it after this.
 */
void	 core_watch_del(struct core *, struct core_watch *);
/*
 * The check for real, with the watch's request, into resp (as
 * core_check).  The notice it hands out, if any, is remembered: the
 * watch is called back again only for another one, or for the same job
 * after its notice stopped being handed out (a retry, a job resumed).
 */
void	 core_watch_check(struct core *, struct core_watch *,
	    struct core_resp *);
/* Call about once a second; callbacks run from here.  now: core's clock. */
void	 core_watch_poll(struct core *, int64_t now);

struct core_watch_stats {
	size_t	 watchers;		/* held now */
	unsigned max;			/* push_max_watchers */
	uint64_t refused;		/* core_watch_add at the limit */
	uint64_t polls;			/* polls that ran the rules */
	uint64_t evaluations;		/* read-only check runs */
	uint64_t pushed[3];		/* notices after a callback, by proto */
	uint64_t expired;		/* CORE_WATCH_EXPIRED calls */
	uint64_t replaced;		/* by a newer watch of the device */
};
void	 core_watch_stats(struct core *, struct core_watch_stats *);
/* Registers the otagw_push_* metrics.  0 or -1. */
int	 core_watch_metrics(struct core *, struct metrics *);

#endif
