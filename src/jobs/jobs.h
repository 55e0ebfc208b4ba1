/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs.h: the upgrade state machine and rollout rules, with no I/O.
 *
 * Everything here is a pure function of records (model.h) and the time
 * `now' passed in by the caller (milliseconds since the epoch).  Callers
 * read records from the store, call these functions, and write back what
 * changed together with the events describing the change, in one
 * transaction.  This keeps the rules testable with tables and no sockets,
 * files or clocks.
 */
#ifndef OTAGW_JOBS_H
#define OTAGW_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Names as in CONTRACT §3 and §4 ("QUEUED", "RUNNING", ...). */
const char *jobs_jd_state_name(int jd_state);
int	 jobs_jd_state_parse(const char *name, int *out);	/* 0 or -1 */
const char *jobs_state_name(int job_state);
const char *jobs_kind_name(int kind);
const char *jobs_fw_state_name(int fw_state);

/* WAIT_CONFIRM, QUEUED, NOTIFIED, UPGRADING, RETRY_WAIT. */
int	 jobs_jd_is_open(int jd_state);
/* SUCCEEDED, FAILED (with no retry pending), CANCELED. */
int	 jobs_jd_is_final(int jd_state);
/* SCHEDULED, RUNNING or PAUSED: the job can still hand out notices. */
int	 jobs_job_is_open(const struct job_rec *);
/* The device's reported version of module, or NULL if it never said. */
const char *jobs_device_version(const struct device_rec *, const char *module);

/* What a rule did to one jobdev row, for the caller to store and report. */
#define JOBS_VIA_MAX	3
/*
 * A CREATING job whose creator wrote nothing for this long was
 * interrupted: the daemon's tick terminates it (no device saw it).
 */
#define JOBS_CREATING_STALE_MS	(60 * 1000)
struct jobs_change {
	int	changed;	/* the row must be written back */
	int	from;		/* state before */
	int	to;		/* state after (== from when only data moved) */
	int	progress;	/* emit a progress event */
	int	job_changed;	/* the job record must be written back too */
	/*
	 * States the row passed through between from and to, in order
	 * (e.g. FAILED on the way to RETRY_WAIT): one state event each,
	 * then one for `to'.  Every rule function resets the whole struct.
	 */
	unsigned nvia;
	int	via[JOBS_VIA_MAX];
};

/* struct jobs_counts, a job's per-state device counts, is in model.h. */

/* Fills a job with the defaults of CONTRACT §4. */
void	 jobs_job_defaults(struct job_rec *);
/* Checks ranges and combinations; 0, or -1 with a message in err. */
int	 jobs_job_validate(const struct job_rec *, char *err, size_t errlen);

/*
 * Whether a device belongs in a new job: right product, its version of the
 * job's module among the source versions (any but the target when nsrc is
 * 0), not already on the target.  1 or 0.
 */
int	 jobs_device_matches(const struct job_rec *, const struct device_rec *);

/* New row for a device joining a job (QUEUED, or WAIT_CONFIRM). */
void	 jobs_jd_init(const struct job_rec *, struct jobdev_rec *,
	    const char *device, int64_t now);

/*
 * The device checked in.  Returns 1 when the notice of this job must be
 * handed out (the row is then NOTIFIED), 0 when not (still waiting, with
 * the reason in jd->reason, or past the notice stage).  May update the
 * job's rate-limiter fields (change->job_changed).  A NOTIFIED row gets the
 * same notice again (1, nothing changed) while its job is RUNNING and in
 * its window; a RETRY_WAIT row whose wait is over is queued first.
 * version is the device's version of the job's module (NULL: it never
 * said): a row that gets its notice keeps it as the attempt's source
 * (jd->from_version), for the device's upgrade history.
 */
int	 jobs_on_check(struct job_rec *, struct jobdev_rec *,
	    const char *version, int64_t now, struct jobs_change *);

/*
 * The device reported a version for the job's module (in a check or in a
 * progress report): completes a success after step 100, or fails the row
 * with "wrong-version" when it is neither a source nor the target while
 * upgrading.
 */
void	 jobs_on_version(const struct job_rec *, struct jobdev_rec *,
	    const char *version, int64_t now, struct jobs_change *);

/*
 * A progress report for this job.  step 0..100, or -1..-4 for failures;
 * desc and version may be NULL.  A failure while the row's notice offers
 * a patch (jd->delta) and no patch failed before passes through FAILED to
 * RETRY_WAIT due at once, without counting a retry: the next check hands
 * out the full image alone (docs/delta.md).  Returns 0, or -1 when the
 * report does not fit the row's state (WAIT_CONFIRM, or QUEUED before any
 * notice: the caller answers 4.00/400 and changes nothing).  A late or
 * repeated report for an attempt that is over (SUCCEEDED, FAILED,
 * CANCELED, RETRY_WAIT, or QUEUED again for a retry) returns 0 with
 * change->changed 0.
 */
int	 jobs_on_progress(const struct job_rec *, struct jobdev_rec *, int step,
	    const char *desc, const char *version, int64_t now,
	    struct jobs_change *);

/* Time-driven rules for one row (timeout, end of retry wait). */
void	 jobs_on_tick(const struct job_rec *, struct jobdev_rec *, int64_t now,
	    struct jobs_change *);

/*
 * Time- and count-driven rules for a job (window start and end,
 * completion, abort threshold).  Returns 1 when the job record changed.
 */
int	 jobs_job_tick(struct job_rec *, const struct jobs_counts *,
	    int64_t now);

/*
 * Operator actions on one row: 0, or -1 when not allowed in its state.
 * cancel: any open row -> CANCELED.  confirm: WAIT_CONFIRM -> QUEUED.
 * retry: a FAILED row (not in a TERMINATED job) -> QUEUED, counted in
 * jd->retries; in a COMPLETED job the caller also reopens the job (state
 * RUNNING, finished 0, or jobs_job_tick with counts that include the row),
 * since core_tick no longer looks at completed jobs.
 */
int	 jobs_jd_cancel(struct jobdev_rec *, int64_t now,
	    struct jobs_change *);
int	 jobs_jd_confirm(struct jobdev_rec *, int64_t now,
	    struct jobs_change *);
int	 jobs_jd_retry(const struct job_rec *, struct jobdev_rec *, int64_t now,
	    struct jobs_change *);

/*
 * Fails an open row because its job ended (reason "terminated"), or because
 * a newer job replaced it (reason "superseded"; only WAIT_CONFIRM, QUEUED
 * and NOTIFIED rows, never an UPGRADING one).  Never retried.  0, or -1
 * when not allowed in the row's state.  jobs_on_tick also terminates the
 * open rows of a TERMINATED job by itself.
 */
int	 jobs_jd_terminate(struct jobdev_rec *, int64_t now,
	    struct jobs_change *);
int	 jobs_jd_supersede(struct jobdev_rec *, int64_t now,
	    struct jobs_change *);

/*
 * Anti-rollback (docs/jobs.md).  A device's accepted seq of a module is
 * the highest firmware seq it was seen to accept (0: none known).
 *
 * jobs_seq_allows: whether the job's firmware may be offered to a device
 * that accepted `accepted': yes when the job has no seq (firmware stored
 * before seqs), allows a downgrade, or its seq is at least `accepted'.
 */
uint32_t jobs_device_seq(const struct device_rec *, const char *module);
int	 jobs_seq_allows(const struct job_rec *, uint32_t accepted);
/*
 * The anti-rollback rule of a check: a row that has not started
 * (WAIT_CONFIRM, QUEUED, NOTIFIED, RETRY_WAIT) of a job that
 * jobs_seq_allows refuses fails with reason "rollback", never retried,
 * and gets no notice.  Returns 1 when it failed the row, else 0 (the
 * change is then empty); an UPGRADING row is left to its report.
 */
int	 jobs_on_seq(const struct job_rec *, struct jobdev_rec *,
	    uint32_t accepted, int64_t now, struct jobs_change *);
/*
 * Records that the device accepted seq for module: raised when higher,
 * or set even when lower with `lower' (the success of a job that allows
 * a downgrade).  seq 0 changes nothing.  1 when the record changed, 0
 * when not (also when all OTA_MODULES_MAX entries are other modules').
 */
int	 jobs_device_accept_seq(struct device_rec *, const char *module,
	    uint32_t seq, int lower);

/*
 * When jobs_on_tick next has work for this row (timeout, end of a retry
 * wait, end of its job), or 0 when nothing is due until something else
 * happens to it.
 */
int64_t	 jobs_jd_due(const struct job_rec *, const struct jobdev_rec *);

/* Moves one row from change->from to change->to in counts. */
void	 jobs_counts_apply(struct jobs_counts *, const struct jobs_change *);
/* Adds one row in the given state. */
void	 jobs_counts_add(struct jobs_counts *, int jd_state);

/*
 * The firmware state a finished verify job leads to: FW_VERIFIED when every
 * one of its devices succeeded, else FW_VERIFY_FAILED.
 */
int	 jobs_verify_result(const struct jobs_counts *);

/* Devices in a gray pick of p percent of n: floor(n * p / 100), >= 1. */
size_t	 jobs_gray_count(size_t n, int percent);

/*
 * Gray release: whether a device is in the stable pick of p percent.
 * Depends only on the job id and device id, so reading a job again never
 * changes its devices.
 */
uint64_t jobs_gray_rank(const char *job_id, const char *device_id);

/* The intervals a device is told to sleep, in seconds. */
struct jobs_wake {
	unsigned idle_s;	/* nothing pending: check_interval */
	unsigned busy_s;	/* notified or upgrading: busy_interval */
	unsigned confirm_s;	/* waiting for confirmation: confirm_interval */
};
/*
 * Seconds until something can change for a device because of this row
 * of job: the start of the job's window, the device's next slot under the
 * job's notices-per-minute limit, the end of a retry wait, busy_s while
 * the row is notified or upgrading, confirm_s while it waits for
 * confirmation; idle_s when nothing it knows of will change.  At least 1,
 * at most idle_s.  The caller takes the least over a device's rows.
 */
unsigned jobs_wake_after(const struct job_rec *, const struct jobdev_rec *,
	    int64_t now, const struct jobs_wake *);

#endif
