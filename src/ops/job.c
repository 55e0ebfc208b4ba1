/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * job.c: the operator's job operations: create, show, list, list a job's
 * rows, terminate, and cancel, retry or confirm one device's row.
 *
 * Creating a job picks its candidates in a read transaction (the listed
 * devices, or every matching device of the product), less those that
 * cannot join (UPGRADING anywhere, or busy in another open job of the
 * module unless override supersedes a row that has not started), stores
 * the job CREATING, cuts the candidates to the gray percentage by a
 * stable hash rank and writes their rows, each with its state event, in
 * bounded transactions that check every device again; the last one opens
 * the job.  A job whose firmware's seq is below what a candidate device
 * accepted is refused (409 naming the device) unless it allows a
 * downgrade: the read transaction that picks the candidates reads every
 * device record of the product anyway, so the check costs a comparison
 * per device there and nothing on the devices' path.  Terminating marks
 * the job first and fails its open rows in bounded transactions after.
 * LMDB has one writer at a time, shared with the daemon: no transaction
 * here may keep devices waiting long (see
 * docs/jobs.md, "Big jobs").  The rules a row and a job follow (which
 * devices match, how a row moves, when a job ends) are src/jobs's pure
 * functions; this file decides which records to read and write.
 *
 * The row and job helpers at the top are shared through ops_int.h: device
 * removal and provisioning write rows and settle jobs too, and firmware.c
 * counts the rows of a firmware's jobs.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"
#include "crypto/crypto.h"
#include "log.h"
#include "ops/ops.h"
#include "ops/ops_int.h"
#include "util/validate.h"

/*
 * Row and job helpers, also used by device.c and firmware.c.
 */

/* Writes a changed row and its events. */
int
ops_row_store(struct store_txn *txn, const struct job_rec *job,
    const struct jobdev_rec *jd, const struct jobs_change *ch, int64_t now)
{
	int	 rc;

	if (!ch->changed && ch->to == ch->from)
		return 0;
	if ((rc = store_jobdev_put(txn, jd)) != 0)
		return rc;
	return events_state_change(txn, job, jd, ch, now);
}

/* Writes a new row of job for device, with the event of its first state. */
int
ops_row_add(struct store_txn *txn, const struct job_rec *job,
    const char *device, int64_t now)
{
	struct jobdev_rec jd;
	struct jobs_change ch;

	jobs_jd_init(job, &jd, device, now);
	memset(&ch, 0, sizeof(ch));
	ch.changed = 1;
	ch.from = -1;
	ch.to = jd.state;
	return ops_row_store(txn, job, &jd, &ch, now);
}

struct counting {
	struct jobs_counts *c;
	int	 terminated;
};

static int
counts_cb(const struct jobdev_rec *jd, void *arg)
{
	struct counting *k = arg;

	jobs_counts_add(k->c, k->terminated && jobs_jd_is_open(jd->state) ?
	    JD_FAILED : jd->state);
	if (jd->state == JD_SUCCEEDED && jd->delta[0] != '\0' &&
	    jd->delta_fail == 0) {
		k->c->patch_devices++;
		k->c->patch_saved += jd->delta_saved;
	}
	return 0;
}

/*
 * A job's rows by state, as the operator sees them: the open rows of a
 * TERMINATED job count as FAILED, which they are about to be (a
 * terminate writes them in chunks after the job's own transaction).
 */
int
ops_job_counts(struct store_txn *txn, const char *id, struct jobs_counts *c)
{
	struct counting k;
	struct job_rec job;

	memset(c, 0, sizeof(*c));
	k.c = c;
	k.terminated = store_job_get(txn, id, &job) == 0 &&
	    job.state == JOB_TERMINATED;
	return store_jobdev_iter(txn, id, counts_cb, &k);
}

static int
total_cb(const struct jobdev_rec *jd, void *arg)
{
	(void)jd;
	(*(size_t *)arg)++;
	return 0;
}

/* How many rows a job has, in a read transaction of its own. */
static int
job_total(struct ops *ops, const char *id, size_t *n)
{
	struct store_txn *txn;
	int	 rc;

	*n = 0;
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return rc;
	rc = store_jobdev_iter(txn, id, total_cb, n);
	store_txn_abort(txn);
	return rc;
}

int
ops_rows_collect_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jobdev_rec *p;

	if ((p = ops_vec_push(arg)) == NULL)
		return 1;
	*p = *jd;
	return 0;
}

static int	job_settle_counts(struct store_txn *, struct job_rec *,
		    const struct jobs_counts *, int exact, int64_t);

/*
 * After an operator changed rows of a job: applies the job's own rules
 * (completion, reopening after a retry, window, abort) and, when a verify
 * job ends, the firmware state it leads to.
 */
int
ops_job_settle(struct store_txn *txn, struct job_rec *job, int64_t now)
{
	struct jobs_counts c;
	int	 rc;

	if ((rc = ops_job_counts(txn, job->id, &c)) != 0)
		return rc;
	return job_settle_counts(txn, job, &c, 1, now);
}

/* A verify job that ended: its firmware's state from its counts. */
static int
verify_decide(struct store_txn *txn, const struct job_rec *job,
    const struct jobs_counts *c)
{
	struct firmware_rec fw;
	int	 rc;

	if (job->kind != JOB_KIND_VERIFY)
		return 0;
	rc = store_firmware_get(txn, job->firmware, &fw);
	if (rc == STORE_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	fw.state = jobs_verify_result(c);
	return store_firmware_put(txn, &fw);
}

/*
 * ops_job_settle on counts the caller has, which may be older than this
 * transaction (counted in a read transaction before it, to keep it
 * short).  Counts that would move the job (complete it, pause it, decide
 * a verify job's firmware) are taken again here, where they are exact:
 * another writer may have changed rows in between (a retry that made a
 * row QUEUED must not see the job completed over it).
 */
static int
job_settle_counts(struct store_txn *txn, struct job_rec *job,
    const struct jobs_counts *cp, int exact, int64_t now)
{
	struct jobs_counts c = *cp;
	struct job_rec would = *job;
	int	 rc, was_open = jobs_job_is_open(job);

	if (!exact) {
		if (!jobs_job_tick(&would, &c, now))
			return 0;
		if ((rc = ops_job_counts(txn, job->id, &c)) != 0)
			return rc;
	}
	if (!jobs_job_tick(job, &c, now))
		return 0;
	if ((rc = store_job_put(txn, job)) != 0)
		return rc;
	if (was_open && !jobs_job_is_open(job))
		return verify_decide(txn, job, &c);
	return 0;
}

static int
jobs_collect_cb(const struct job_rec *job, void *arg)
{
	struct job_rec *p;

	if ((p = ops_vec_push(arg)) == NULL)
		return 1;
	*p = *job;
	return 0;
}

int
ops_all_jobs(struct store_txn *txn, struct ops_vec *jobs)
{
	int	 rc;

	ops_vec_init(jobs, sizeof(struct job_rec));
	rc = store_job_iter(txn, jobs_collect_cb, jobs);
	return rc == STORE_ESTOP ? STORE_EIO : rc;
}

/*
 * Creating a job.
 */

static int
job_cmp(const void *a, const void *b)
{
	return id_cmp(((const struct job_rec *)a)->id,
	    ((const struct job_rec *)b)->id);
}

static const struct job_rec *
job_find(const struct ops_vec *jobs, const char *id)
{
	struct job_rec key;

	if (str_copy(key.id, sizeof(key.id), id) == -1)
		return NULL;
	if (jobs->n == 0)
		return NULL;
	return bsearch(&key, jobs->data, jobs->n, jobs->esize, job_cmp);
}

/*
 * A job from the list read at the start, or from the store when it was
 * created since (a creation runs over several transactions); NULL when
 * it is gone.
 */
static const struct job_rec *
job_other(struct store_txn *txn, const struct ops_vec *jobs, const char *id,
    struct job_rec *buf)
{
	const struct job_rec *j;

	if ((j = job_find(jobs, id)) != NULL)
		return j;
	return store_job_get(txn, id, buf) == 0 ? buf : NULL;
}

static int
src_has(const struct job_rec *job, const char *v)
{
	unsigned i;

	for (i = 0; i < job->nsrc && i < OTA_SRCVER_MAX; i++)
		if (strcmp(job->src_versions[i], v) == 0)
			return 1;
	return 0;
}

/* Whether two jobs of one module can pick a device on the same version. */
static int
src_overlap(const struct job_rec *a, const struct job_rec *b)
{
	unsigned i;

	if (a->nsrc == 0 && b->nsrc == 0)
		return 1;
	if (a->nsrc == 0) {
		for (i = 0; i < b->nsrc; i++)
			if (strcmp(b->src_versions[i], a->version) != 0)
				return 1;
		return 0;
	}
	if (b->nsrc == 0)
		return src_overlap(b, a);
	for (i = 0; i < a->nsrc; i++)
		if (src_has(b, a->src_versions[i]))
			return 1;
	return 0;
}

struct cand {
	uint64_t rank;
	char	 id[OTA_ID_MAX + 1];
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct allsel {
	const struct job_rec *job;
	struct ops_vec *cands;
	uint32_t rollback;		/* a device's seq the job is below */
	char	 device[OTA_ID_MAX + 1];	/* ... and that device */
};

/*
 * Anti-rollback at creation (docs/jobs.md): a job may not take in a
 * device that accepted a higher seq of the module than its firmware's,
 * unless it allows a downgrade.  409 naming the device.
 */
static int
job_rollback_fail(const struct job_rec *job, const char *device,
    uint32_t accepted, struct ops_err *err)
{
	return ops_fail(err, OPS_ECONFLICT, "device %s accepted seq %lu of "
	    "module %s; firmware %s has seq %lu: the job would roll it back "
	    "(create it with --allow-downgrade / \"allowDowngrade\":true to "
	    "mean it)", device, (unsigned long)accepted, job->module,
	    job->firmware, (unsigned long)job->seq);
}

static int
allsel_cb(const struct device_rec *dev, void *arg)
{
	struct allsel *as = arg;
	struct cand *c;
	uint32_t accepted;

	if (!jobs_device_matches(as->job, dev))
		return 0;
	accepted = jobs_device_seq(dev, as->job->module);
	if (!jobs_seq_allows(as->job, accepted)) {
		as->rollback = accepted;
		snprintf(as->device, sizeof(as->device), "%s", dev->id);
		return 1;
	}
	if ((c = ops_vec_push(as->cands)) == NULL)
		return 1;
	snprintf(c->id, sizeof(c->id), "%s", dev->id);
	return 0;
}

/*
 * Whether a candidate device can join the job: never while it is
 * UPGRADING anywhere; while it has an open row in another open job of the
 * same module, only with override, which supersedes a row that has not
 * started (WAIT_CONFIRM, QUEUED, NOTIFIED).  Returns 1 (join), 0 (left
 * out) or a negative store code.  With apply, the rows to supersede are
 * written with their events (only for the devices finally picked).
 */
static int
cand_admit(struct store_txn *txn, const struct job_rec *job,
    const struct ops_vec *jobs, const char *device, int apply, int64_t now,
    size_t *superseded)
{
	const struct job_rec *other;
	struct job_rec buf;
	struct jobdev_rec *jd;
	struct jobs_change ch;
	struct ops_vec rows;
	size_t	 i;
	int	 rc, blocked = 0;

	ops_vec_init(&rows, sizeof(struct jobdev_rec));
	rc = store_device_open_jobs(txn, device, ops_rows_collect_cb, &rows);
	if (rc != 0) {
		rc = rc == STORE_ESTOP ? STORE_EIO : rc;
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = ops_vec_at(&rows, i);
		if (jd->state == JD_UPGRADING) {
			rc = 0;
			goto out;
		}
		if (strcmp(jd->job, job->id) == 0)
			continue;
		other = job_other(txn, jobs, jd->job, &buf);
		if (other == NULL || !jobs_job_is_open(other) ||
		    strcmp(other->module, job->module) != 0)
			continue;
		if (!job->override || (jd->state != JD_WAIT_CONFIRM &&
		    jd->state != JD_QUEUED && jd->state != JD_NOTIFIED))
			blocked = 1;
	}
	if (blocked || !apply) {
		rc = !blocked;
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = ops_vec_at(&rows, i);
		if (strcmp(jd->job, job->id) == 0)
			continue;
		other = job_other(txn, jobs, jd->job, &buf);
		if (other == NULL || !jobs_job_is_open(other) ||
		    strcmp(other->module, job->module) != 0)
			continue;
		if (jobs_jd_supersede(jd, now, &ch) == -1)
			continue;
		if ((rc = ops_row_store(txn, other, jd, &ch, now)) != 0)
			goto out;
		(*superseded)++;
	}
	rc = 1;
out:
	ops_vec_free(&rows);
	return rc;
}

/*
 * Every device of the product that matches the job; none yet for a
 * dynamic job that takes only the reports from now on.
 */
static int
cands_matching(struct store_txn *txn, const struct job_rec *job,
    struct ops_vec *cands, struct ops_err *err)
{
	struct allsel as;
	int	 rc;

	if (job->dynamic && job->only_new_reports)
		return ops_ok(err);	/* only later reports count */
	memset(&as, 0, sizeof(as));
	as.job = job;
	as.cands = cands;
	rc = store_device_iter(txn, NULL, allsel_cb, &as);
	if (rc == STORE_ESTOP && as.rollback != 0)
		return job_rollback_fail(job, as.device, as.rollback, err);
	if (rc != 0)
		return ops_fail_store(err, rc == STORE_ESTOP ?
		    STORE_EIO : rc, "job create");
	return ops_ok(err);
}

/*
 * The listed devices, each once, in id order: an unknown device is 404,
 * one of another product 422, one that does not match the job (already
 * on the target, or not on a source version) is counted as skipped.
 */
static int
cands_listed(struct store_txn *txn, const struct job_rec *job,
    const char *const *devices, size_t ndevices, struct ops_vec *cands,
    struct ops_job_result *res, struct ops_err *err)
{
	struct device_rec dev;
	const char **sorted = NULL;
	struct cand *c;
	size_t	 i;
	int	 rc;

	if ((sorted = calloc(ndevices, sizeof(*sorted))) == NULL)
		return ops_fail(err, OPS_EIO, "out of memory");
	for (i = 0; i < ndevices; i++) {
		if (devices[i] == NULL || !valid_device_id(devices[i])) {
			rc = ops_fail(err, OPS_EINVAL, "invalid device id "
			    "\"%.70s\"", devices[i] ? devices[i] : "");
			goto out;
		}
		sorted[i] = devices[i];
	}
	qsort(sorted, ndevices, sizeof(*sorted), strp_cmp);
	for (i = 0; i < ndevices; i++) {
		if (i > 0 && strcmp(sorted[i - 1], sorted[i]) == 0)
			continue;
		rc = store_device_get(txn, sorted[i], &dev);
		if (rc == STORE_ENOTFOUND) {
			rc = ops_fail(err, OPS_ENOTFOUND, "no device %s",
			    sorted[i]);
			goto out;
		}
		if (rc != 0) {
			rc = ops_fail_store(err, rc, sorted[i]);
			goto out;
		}
		if (strcmp(dev.product, job->product) != 0) {
			rc = ops_fail(err, OPS_EUNPROC, "device %s is of "
			    "product %s, the firmware of %s", dev.id,
			    dev.product, job->product);
			goto out;
		}
		if (!jobs_device_matches(job, &dev)) {
			res->skipped++;
			continue;
		}
		if (!jobs_seq_allows(job, jobs_device_seq(&dev,
		    job->module))) {
			rc = job_rollback_fail(job, dev.id,
			    jobs_device_seq(&dev, job->module), err);
			goto out;
		}
		if ((c = ops_vec_push(cands)) == NULL) {
			rc = ops_fail(err, OPS_EIO, "out of memory");
			goto out;
		}
		snprintf(c->id, sizeof(c->id), "%s", dev.id);
	}
	rc = ops_ok(err);
out:
	crypto_wipe(&dev, sizeof(dev));
	free(sorted);
	return rc;
}

/* The job's candidates: listed devices, or all matching of the product. */
static int
job_candidates(struct store_txn *txn, const struct job_rec *job,
    const char *const *devices, size_t ndevices, struct ops_vec *cands,
    struct ops_job_result *res, struct ops_err *err)
{
	ops_vec_init(cands, sizeof(struct cand));
	if (job->scope != JOB_SCOPE_DEVICES)
		return cands_matching(txn, job, cands, err);
	return cands_listed(txn, job, devices, ndevices, cands, res, err);
}

/*
 * Leaves out the candidates that cannot join (cand_admit, nothing written
 * yet), keeping the order of the others.
 */
static int
cands_filter(struct store_txn *txn, const struct job_rec *job,
    const struct ops_vec *jobs, struct ops_vec *cands, int64_t now,
    struct ops_job_result *res, struct ops_err *err)
{
	struct cand *c;
	size_t	 i, n;
	int	 rc;

	for (i = 0, n = 0; i < cands->n; i++) {
		c = ops_vec_at(cands, i);
		rc = cand_admit(txn, job, jobs, c->id, 0, now, NULL);
		if (rc < 0)
			return ops_fail_store(err, rc, c->id);
		if (rc == 0) {
			res->left_out++;
			continue;
		}
		if (n != i)
			memcpy(ops_vec_at(cands, n), c, sizeof(*c));
		n++;
	}
	cands->n = n;
	return ops_ok(err);
}

/*
 * How many of the candidates, from the first, the job takes: all of them,
 * or for a gray job its percentage, after sorting them by their stable
 * rank in this job.
 */
static size_t
cands_pick(const struct job_rec *job, struct ops_vec *cands)
{
	struct cand *c;
	size_t	 i;

	if (job->scope != JOB_SCOPE_GRAY)
		return cands->n;
	for (i = 0; i < cands->n; i++) {
		c = ops_vec_at(cands, i);
		c->rank = jobs_gray_rank(job->id, c->id);
	}
	if (cands->n > 1)
		qsort(cands->data, cands->n, cands->esize, cand_cmp);
	return jobs_gray_count(cands->n, job->gray_percent);
}

/* Refusals that depend on the other jobs. */
static int
job_check_others(const struct job_rec *job, const struct ops_vec *jobs,
    struct ops_err *err)
{
	const struct job_rec *o;
	size_t	 i;

	for (i = 0; i < jobs->n; i++) {
		o = ops_vec_at(jobs, i);
		if (!jobs_job_is_open(o))
			continue;
		if (job->dynamic && o->dynamic &&
		    strcmp(o->firmware, job->firmware) == 0)
			return ops_fail(err, OPS_ECONFLICT, "firmware %s "
			    "already has an open dynamic job (%s)",
			    job->firmware, o->id);
		if (job->kind == JOB_KIND_BATCH && o->kind == JOB_KIND_BATCH &&
		    !job->override && strcmp(o->product, job->product) == 0 &&
		    strcmp(o->module, job->module) == 0 &&
		    src_overlap(job, o))
			return ops_fail(err, OPS_ECONFLICT, "the source "
			    "versions overlap those of open batch %s of %s/%s; "
			    "set override (otactl: --override) to replace its "
			    "not yet started devices",
			    o->id, job->product, job->module);
	}
	return ops_ok(err);
}

/* What can be refused before the store is opened. */
static int
job_check_request(const struct job_rec *job, size_t ndevices,
    struct ops_err *err)
{
	if (!valid_id(job->firmware))
		return ops_fail(err, OPS_EINVAL, "invalid firmware id");
	if (job->scope == JOB_SCOPE_DEVICES) {
		if (ndevices == 0)
			return ops_fail(err, OPS_EINVAL, "no devices given");
		if (ndevices > OPS_JOB_DEVICES_MAX)
			return ops_fail(err, OPS_EINVAL, "at most %d devices "
			    "in a job", OPS_JOB_DEVICES_MAX);
		if (job->dynamic)
			return ops_fail(err, OPS_EUNPROC, "a dynamic job takes "
			    "the devices of the whole product, not a list");
	} else if (ndevices > 0)
		return ops_fail(err, OPS_EINVAL, "a device list needs the "
		    "devices scope");
	return ops_ok(err);
}

/*
 * Takes product, module and version from the job's firmware, then checks
 * the job as a whole: its options, that a batch goes out only on verified
 * firmware (unless forced), and that its window has not ended.
 */
static int
job_from_firmware(struct store_txn *txn, struct job_rec *job, int64_t now,
    struct ops_err *err)
{
	struct firmware_rec fw;
	char	 msg[OPS_ERR_MAX];
	int	 rc;

	rc = store_firmware_get(txn, job->firmware, &fw);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no firmware %s",
		    job->firmware);
	if (rc != 0)
		return ops_fail_store(err, rc, job->firmware);
	snprintf(job->product, sizeof(job->product), "%s", fw.product);
	snprintf(job->module, sizeof(job->module), "%s", fw.module);
	snprintf(job->version, sizeof(job->version), "%s", fw.version);
	job->seq = fw.seq;
	if (jobs_job_validate(job, msg, sizeof(msg)) == -1)
		return ops_fail(err, OPS_EINVAL, "%s", msg);
	if (job->kind == JOB_KIND_BATCH && !job->force &&
	    fw.state != FW_VERIFIED)
		return ops_fail(err, OPS_ECONFLICT, "firmware %s is %s: verify "
		    "it first, or force the batch", fw.id,
		    jobs_fw_state_name(fw.state));
	if (job->end != 0 && job->end <= now)
		return ops_fail(err, OPS_EUNPROC, "the window has already "
		    "ended");
	return ops_ok(err);
}

/* The new job's id and times, stored CREATING (heartbeat: now). */
static int
job_assign(struct store_txn *txn, struct job_rec *job, int64_t now,
    struct ops_err *err)
{
	int	 rc;

	if ((rc = store_next_id(txn, "j", job->id)) != 0)
		return ops_fail_store(err, rc, "job id");
	job->created = now;
	job->started = job->finished = 0;
	job->rate_window = now;
	job->rate_used = 0;
	job->state = JOB_CREATING;
	if ((rc = store_job_put(txn, job)) != 0)
		return ops_fail_store(err, rc, job->id);
	return ops_ok(err);
}

/* The state a job takes when its creation ends. */
static void
job_open_state(struct job_rec *job, int64_t now)
{
	job->rate_window = 0;
	job->rate_used = 0;
	if (job->start == 0 || job->start <= now) {
		job->state = JOB_RUNNING;
		job->started = now;
	} else
		job->state = JOB_SCHEDULED;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Between two chunks of a long operation: the progress line, and a pause
 * of OPS_CHUNK_PAUSE_MS.  LMDB's writer lock is not fair: a process that
 * commits and begins again at once would keep it from a daemon that waits
 * to write a device's report; the pause hands it over.
 */
static void
progress(struct ops *ops, const char *what, size_t done, size_t total,
    int more)
{
	struct timespec ts = { 0, OPS_CHUNK_PAUSE_MS * 1000000L };

	if (ops->progress != NULL)
		ops->progress(ops->progress_arg, what, done, total);
	if (more)
		nanosleep(&ts, NULL);
}

static int
creation_gone(const struct job_rec *job, struct ops_err *err)
{
	return ops_fail(err, OPS_EIO, "job %s: its creation was given up "
	    "(no progress for %d s)", job->id, JOBS_CREATING_STALE_MS / 1000);
}

/*
 * One candidate in a chunk of a creation: checked again against the
 * store as it is now (the device may be gone, changed, busy elsewhere, or
 * already in this dynamic job), then its row is written, after the rows
 * it supersedes.  OPS_OK or an error.
 */
static int
cand_write(struct store_txn *txn, const struct job_rec *job,
    const struct ops_vec *jobs, const char *id, int64_t now,
    struct ops_job_result *res, struct ops_err *err)
{
	struct device_rec dev;
	struct jobdev_rec jd;
	int	 rc;

	rc = store_jobdev_get(txn, job->id, id, &jd);
	if (rc == 0)
		return ops_ok(err);	/* joined the dynamic job meanwhile */
	if (rc != STORE_ENOTFOUND)
		return ops_fail_store(err, rc, id);
	rc = store_device_get(txn, id, &dev);
	if (rc == STORE_ENOTFOUND) {
		res->left_out++;
		return ops_ok(err);
	}
	if (rc != 0)
		return ops_fail_store(err, rc, id);
	rc = jobs_device_matches(job, &dev);
	crypto_wipe(&dev, sizeof(dev));
	if (!rc) {
		res->skipped++;
		return ops_ok(err);
	}
	rc = cand_admit(txn, job, jobs, id, 1, now, &res->superseded);
	if (rc < 0)
		return ops_fail_store(err, rc, id);
	if (rc == 0) {
		res->left_out++;
		return ops_ok(err);
	}
	if ((rc = ops_row_add(txn, job, id, now)) != 0)
		return ops_fail_store(err, rc, id);
	res->added++;
	return ops_ok(err);
}

/*
 * Writes the rows of the candidates from *next on, up to k, in one
 * transaction of at most OPS_CHUNK_ROWS rows or OPS_CHUNK_MS, with the
 * job's heartbeat.  A job that is no longer CREATING (the daemon gave up
 * on it) ends the creation with an error.
 */
static int
job_add_chunk(struct ops *ops, struct job_rec *job, const struct ops_vec *jobs,
    const struct ops_vec *cands, size_t k, size_t *next,
    struct ops_job_result *res, struct ops_err *err)
{
	struct store_txn *txn = NULL;
	const struct cand *c;
	int64_t	 now = ops_now(ops), t0 = mono_ms();
	size_t	 n;
	int	 rc;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "job create");
	rc = store_job_get(txn, job->id, job);
	if (rc == 0 && job->state != JOB_CREATING)
		rc = STORE_ENOTFOUND;
	if (rc != 0) {
		store_txn_abort(txn);
		if (rc == STORE_ENOTFOUND)
			return creation_gone(job, err);
		return ops_fail_store(err, rc, job->id);
	}
	for (n = 0; *next < k && n < OPS_CHUNK_ROWS; (*next)++, n++) {
		if (n > 0 && n % 16 == 0 && mono_ms() - t0 >= OPS_CHUNK_MS)
			break;
		c = ops_vec_at(cands, *next);
		if ((rc = cand_write(txn, job, jobs, c->id, now, res, err)) !=
		    OPS_OK) {
			store_txn_abort(txn);
			return rc;
		}
	}
	job->rate_window = now;
	if ((rc = store_job_put(txn, job)) == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
	if (rc != 0)
		return ops_fail_store(err, rc, "job create");
	return ops_ok(err);
}

/*
 * The last transaction of a creation: the job opens (SCHEDULED or
 * RUNNING), or, when every device slipped away meanwhile and the job is
 * static, its record is removed (422, as if nothing had matched).
 */
static int
job_open(struct ops *ops, struct job_rec *job, struct ops_job_result *res,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int64_t	 now = ops_now(ops);
	int	 rc, gone = 0;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "job create");
	rc = store_job_get(txn, job->id, job);
	if (rc == 0 && job->state != JOB_CREATING)
		rc = STORE_ENOTFOUND;
	if (rc == 0 && res->added == 0 && !job->dynamic) {
		rc = store_job_del(txn, job->id);
		gone = 1;
	} else if (rc == 0) {
		job_open_state(job, now);
		rc = store_job_put(txn, job);
	}
	if (rc == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return creation_gone(job, err);
	if (rc != 0)
		return ops_fail_store(err, rc, "job create");
	if (gone)
		return ops_fail(err, OPS_EUNPROC, "no device matches the job "
		    "(%zu already on %s or not on a source version, %zu busy "
		    "in other jobs)", res->skipped, job->version,
		    res->left_out);
	return ops_ok(err);
}

/*
 * The choice of a job's devices, in one read transaction: the job from
 * its firmware, the refusals that depend on other jobs, its candidates
 * and those that can join.  Nothing is written, nothing locked.
 */
static int
job_select(struct ops *ops, struct job_rec *job, const char *const *devices,
    size_t ndevices, struct ops_vec *cands, struct ops_job_result *res,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct ops_vec jobs;
	int64_t	 now = ops_now(ops);
	int	 rc;

	ops_vec_init(&jobs, sizeof(struct job_rec));
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "job create");
	if ((rc = job_from_firmware(txn, job, now, err)) != OPS_OK)
		goto out;
	if ((rc = ops_all_jobs(txn, &jobs)) != 0) {
		rc = ops_fail_store(err, rc, "job create");
		goto out;
	}
	if (jobs.n > 1)
		qsort(jobs.data, jobs.n, jobs.esize, job_cmp);
	if ((rc = job_check_others(job, &jobs, err)) != OPS_OK)
		goto out;
	rc = job_candidates(txn, job, devices, ndevices, cands, res, err);
	if (rc == OPS_OK)
		rc = cands_filter(txn, job, &jobs, cands, now, res, err);
	if (rc == OPS_OK && cands->n == 0 && !job->dynamic)
		rc = ops_fail(err, OPS_EUNPROC, "no device matches the job "
		    "(%zu already on %s or not on a source version, %zu busy "
		    "in other jobs)", res->skipped, job->version,
		    res->left_out);
out:
	store_txn_abort(txn);
	ops_vec_free(&jobs);
	return rc;
}

/*
 * The job's record, CREATING, in a short write transaction that checks
 * the firmware and the other jobs again; *jobs receives the jobs as they
 * are then, for the rows' checks.
 */
static int
job_begin(struct ops *ops, struct job_rec *job, struct ops_vec *jobs,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int64_t	 now = ops_now(ops);
	int	 rc;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "job create");
	if ((rc = job_from_firmware(txn, job, now, err)) != OPS_OK)
		goto out;
	if ((rc = ops_all_jobs(txn, jobs)) != 0) {
		rc = ops_fail_store(err, rc, "job create");
		goto out;
	}
	if (jobs->n > 1)
		qsort(jobs->data, jobs->n, jobs->esize, job_cmp);
	if ((rc = job_check_others(job, jobs, err)) != OPS_OK ||
	    (rc = job_assign(txn, job, now, err)) != OPS_OK)
		goto out;
	rc = store_txn_commit(txn);
	txn = NULL;
	rc = rc != 0 ? ops_fail_store(err, rc, "job create") : ops_ok(err);
out:
	store_txn_abort(txn);
	return rc;
}

/*
 * Creating a job: its devices chosen in a read transaction, its record
 * stored CREATING, the gray share picked (the rank needs the job's id),
 * the rows written in bounded transactions, and the job opened in the
 * last one.  A failure after the record was stored leaves a CREATING job
 * that no device sees, which the daemon's tick terminates later.
 */
int
ops_job_create(struct ops *ops, const struct job_rec *params,
    const char *const *devices, size_t ndevices, struct ops_job_item *out,
    struct ops_job_result *resp, struct ops_err *err)
{
	struct ops_job_result res;
	struct job_rec job;
	struct ops_vec jobs, cands;
	size_t	 k, next = 0;
	int	 rc;

	memset(&res, 0, sizeof(res));
	ops_vec_init(&jobs, sizeof(struct job_rec));
	ops_vec_init(&cands, sizeof(struct cand));
	job = *params;
	if ((rc = job_check_request(&job, ndevices, err)) != OPS_OK)
		return rc;
	if ((rc = job_select(ops, &job, devices, ndevices, &cands, &res,
	    err)) != OPS_OK || (rc = job_begin(ops, &job, &jobs, err)) !=
	    OPS_OK)
		goto out;
	k = cands_pick(&job, &cands);
	progress(ops, "rows", 0, k, 0);
	while (next < k) {
		if ((rc = job_add_chunk(ops, &job, &jobs, &cands, k, &next,
		    &res, err)) != OPS_OK) {
			log_warnx("job %s: creation stopped after %zu of %zu "
			    "devices: %s", job.id, next, k, err->msg);
			goto out;
		}
		progress(ops, "rows", next, k, next < k);
	}
	if ((rc = job_open(ops, &job, &res, err)) != OPS_OK)
		goto out;
	if (out != NULL) {
		out->job = job;
		memset(&out->counts, 0, sizeof(out->counts));
		out->counts.n[job.confirm ? JD_WAIT_CONFIRM : JD_QUEUED] =
		    res.added;
		out->counts.total = res.added;
	}
	if (resp != NULL)
		*resp = res;
	log_info("job %s created for %s: %zu devices", job.id, job.firmware,
	    res.added);
	rc = ops_ok(err);
out:
	ops_vec_free(&jobs);
	ops_vec_free(&cands);
	return rc;
}

/*
 * Reading jobs, and changing them.
 */

int
ops_job_show(struct ops *ops, const char *id, struct ops_job_item *item,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid job id");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "job show");
	rc = store_job_get(txn, id, &item->job);
	if (rc == 0)
		rc = ops_job_counts(txn, id, &item->counts);
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no job %s", id);
	if (rc != 0)
		return ops_fail_store(err, rc, id);
	return ops_ok(err);
}

static int
job_page_cb(const struct job_rec *job, void *arg)
{
	return ops_pager_cb(job, arg);
}

int
ops_job_list(struct ops *ops, const struct ops_page *pg,
    struct ops_job_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	struct ops_job_item *it;
	struct ops_pager p;
	size_t	 i;
	int	 rc;

	*items = NULL;
	*n = 0;
	if ((rc = ops_page_check(pg, "job", err)) != OPS_OK)
		return rc;
	ops_pager_init(&p, pg, sizeof(struct ops_job_item),
	    sizeof(struct job_rec), offsetof(struct job_rec, id));
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "job list");
	rc = store_job_iter_after(txn, pg != NULL ? pg->after : NULL,
	    job_page_cb, &p);
	if (rc == STORE_ESTOP)
		rc = p.nomem ? STORE_EIO : 0;
	for (i = 0; rc == 0 && i < p.v.n; i++) {
		it = ops_vec_at(&p.v, i);
		rc = ops_job_counts(txn, it->job.id, &it->counts);
	}
	store_txn_abort(txn);
	if (rc != 0) {
		ops_vec_free(&p.v);
		return ops_fail_store(err, rc, "job list");
	}
	ops_pager_next(&p, next);
	*items = (struct ops_job_item *)p.v.data;
	*n = p.v.n;
	return ops_ok(err);
}

struct jdlist {
	const struct ops_jobdev_filter *f;
	int	(*cb)(const struct jobdev_rec *, void *);
	void	*arg;
	struct store_txn *txn;
	const char *fwid;		/* the job's firmware */
	int	 terminated;		/* the job is TERMINATED */
	int64_t	 finished;		/* when */
	int	 rc;			/* a store error on the way */
	size_t	 delivered;
	int	 more;
	char	 last[OTA_ID_MAX + 1];
};

static int
jdlist_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jdlist *l = arg;
	struct jobdev_rec row;
	struct jobs_change ch;
	struct xfer_rec x;
	int	 rc;

	if (l->f->after != NULL && *l->f->after != '\0' &&
	    strcmp(jd->device, l->f->after) <= 0)
		return 0;
	if (l->f->state >= 0 && (l->terminated &&
	    jobs_jd_is_open(jd->state) ? JD_FAILED : jd->state) !=
	    l->f->state)
		return 0;
	if (l->f->limit > 0 && l->delivered == l->f->limit) {
		l->more = 1;
		return 1;
	}
	l->delivered++;
	snprintf(l->last, sizeof(l->last), "%s", jd->device);
	row = *jd;
	/* a terminated job's open rows, as they are about to be written */
	if (l->terminated)
		(void)jobs_jd_terminate(&row, l->finished, &ch);
	/* what was delivered of the patch its notice offers, or the image */
	rc = store_xfer_get(l->txn, jd->device, jd->delta[0] != '\0' ?
	    jd->delta : l->fwid, &x);
	if (rc == 0) {
		row.delivered = x.delivered;
		row.size = x.size;
	} else if (rc != STORE_ENOTFOUND) {
		l->rc = rc;
		return 1;
	}
	return l->cb(&row, l->arg) != 0;
}

int
ops_job_devices(struct ops *ops, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct ops_jobdev_filter all = { -1, NULL, 0 };
	struct store_txn *txn = NULL;
	struct job_rec job;
	struct jdlist l;
	int	 rc;

	if (next != NULL)
		next[0] = '\0';
	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid job id");
	if (f == NULL)
		f = &all;
	if (f->state >= JD_NSTATES)
		return ops_fail(err, OPS_EINVAL, "invalid state");
	memset(&l, 0, sizeof(l));
	l.f = f;
	l.cb = cb;
	l.arg = arg;
	if (f->after != NULL && *f->after != '\0' &&
	    !valid_device_id(f->after))
		return ops_fail(err, OPS_EINVAL, "invalid device id in after");
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, "job devices");
	rc = store_job_get(txn, id, &job);
	l.txn = txn;
	l.fwid = job.firmware;
	l.terminated = rc == 0 && job.state == JOB_TERMINATED;
	l.finished = job.finished;
	if (rc == 0)
		/* a page starts at its `after' (a valid id), not the first */
		rc = store_jobdev_iter_after(txn, id, f->after != NULL &&
		    *f->after != '\0' ? f->after : NULL, jdlist_cb, &l);
	if (rc == STORE_ESTOP && l.rc != 0)
		rc = l.rc;
	store_txn_abort(txn);
	if (rc == STORE_ENOTFOUND)
		return ops_fail(err, OPS_ENOTFOUND, "no job %s", id);
	if (rc != 0 && rc != STORE_ESTOP)
		return ops_fail_store(err, rc, id);
	if (l.more && next != NULL)
		snprintf(next, OTA_ID_MAX + 1, "%s", l.last);
	return ops_ok(err);
}

/*
 * The first transaction of a terminate: the job becomes TERMINATED (a
 * CREATING job is refused: its creator still writes its rows).
 */
/*
 * A verify job decides its firmware's state as it ends, in the
 * transaction that terminates it: its open rows count as FAILED, which
 * the chunks after it make them (a verify job has at most
 * OPS_JOB_DEVICES_MAX rows, few enough to count here).  Nothing is left
 * for a later transaction that a crash could lose.
 */
static int
term_verify(struct store_txn *txn, const struct job_rec *job)
{
	struct jobs_counts c;
	int	 rc;

	if (job->kind != JOB_KIND_VERIFY)
		return 0;
	if ((rc = ops_job_counts(txn, job->id, &c)) != 0)
		return rc;
	return verify_decide(txn, job, &c);
}

static int
term_begin(struct ops *ops, const char *id, struct job_rec *job,
    struct ops_err *err)
{
	struct store_txn *txn = NULL;
	int	 rc;

	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, "job terminate");
	rc = store_job_get(txn, id, job);
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "no job %s", id);
		goto out;
	}
	if (rc != 0) {
		rc = ops_fail_store(err, rc, id);
		goto out;
	}
	if (job->state == JOB_CREATING) {
		rc = ops_fail(err, OPS_ECONFLICT, "job %s is still being "
		    "created", id);
		goto out;
	}
	if (!jobs_job_is_open(job)) {
		rc = ops_fail(err, OPS_ECONFLICT, "job %s is already %s", id,
		    jobs_state_name(job->state));
		goto out;
	}
	job->state = JOB_TERMINATED;
	job->finished = ops_now(ops);
	if ((rc = store_job_put(txn, job)) == 0)
		rc = term_verify(txn, job);
	if (rc == 0)
		rc = store_txn_commit(txn);
	txn = NULL;
	rc = rc != 0 ? ops_fail_store(err, rc, id) : ops_ok(err);
out:
	store_txn_abort(txn);
	return rc;
}

struct term_chunk {
	struct store_txn *txn;
	const struct job_rec *job;
	int64_t	 now, t0;
	struct jobs_counts *c;
	size_t	 n;
	int	 rc;
	char	 last[OTA_ID_MAX + 1];
};

static int
term_chunk_cb(const struct jobdev_rec *row, void *arg)
{
	struct term_chunk *tc = arg;
	struct jobdev_rec jd = *row;
	struct jobs_change ch;

	if (tc->n == OPS_CHUNK_ROWS || (tc->n > 0 && tc->n % 16 == 0 &&
	    mono_ms() - tc->t0 >= OPS_CHUNK_MS))
		return 1;
	tc->n++;
	snprintf(tc->last, sizeof(tc->last), "%s", jd.device);
	if (jobs_jd_terminate(&jd, tc->now, &ch) == 0 &&
	    (tc->rc = ops_row_store(tc->txn, tc->job, &jd, &ch, tc->now)) !=
	    0)
		return 1;
	jobs_counts_add(tc->c, jd.state);
	return 0;
}

/*
 * Fails the open rows of a terminated job after the device `after' (""
 * from the first), in one bounded transaction; `after' moves on, and is
 * "" when the last row was done.
 */
static int
term_chunk(struct ops *ops, const struct job_rec *job,
    char after[OTA_ID_MAX + 1], struct jobs_counts *c, struct ops_err *err)
{
	struct term_chunk tc;
	int	 rc;

	memset(&tc, 0, sizeof(tc));
	tc.job = job;
	tc.now = ops_now(ops);
	tc.t0 = mono_ms();
	tc.c = c;
	if ((rc = store_txn_begin(ops->st, 0, &tc.txn)) != 0)
		return ops_fail_store(err, rc, job->id);
	rc = store_jobdev_iter_after(tc.txn, job->id, after, term_chunk_cb,
	    &tc);
	if (rc == STORE_ESTOP)
		rc = tc.rc;
	else if (rc == 0)
		tc.last[0] = '\0';	/* the end of the rows */
	if (rc == 0)
		rc = store_txn_commit(tc.txn);
	else
		store_txn_abort(tc.txn);
	if (rc != 0)
		return ops_fail_store(err, rc, job->id);
	snprintf(after, OTA_ID_MAX + 1, "%s", tc.last);
	return ops_ok(err);
}

int
ops_job_terminate(struct ops *ops, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	struct jobs_counts c;
	struct job_rec job;
	char	 after[OTA_ID_MAX + 1] = "";
	size_t	 total = 0;
	int	 rc;

	memset(&c, 0, sizeof(c));
	if (id == NULL || !valid_id(id))
		return ops_fail(err, OPS_EINVAL, "invalid job id");
	if ((rc = term_begin(ops, id, &job, err)) != OPS_OK)
		return rc;
	/* the total, for the progress line only */
	if (ops->progress != NULL && (rc = job_total(ops, id, &total)) != 0)
		total = 0;
	do {
		if ((rc = term_chunk(ops, &job, after, &c, err)) != OPS_OK) {
			log_warnx("job %s: terminated; its rows stopped after "
			    "%zu: %s (the daemon's tick fails the rest)", id,
			    c.total, err->msg);
			return rc;
		}
		progress(ops, "rows", c.total, total > c.total ? total :
		    c.total, after[0] != '\0');
	} while (after[0] != '\0');
	if (out != NULL) {
		out->job = job;
		out->counts = c;
	}
	log_info("job %s terminated: %zu devices", id, c.total);
	return ops_ok(err);
}

enum rowop {
	ROWOP_CANCEL,
	ROWOP_RETRY,
	ROWOP_CONFIRM,
};

/*
 * A device has one open row per module: a retry is refused (409) while
 * another job's row for the same module is open, as job creation would
 * refuse it.  OPS_OK, or the error.
 */
static int
retry_blocked(struct store_txn *txn, const struct job_rec *job,
    const char *dev, struct ops_err *err)
{
	struct ops_vec rows;
	struct jobdev_rec *jd;
	struct job_rec other;
	size_t	 i;
	int	 rc;

	ops_vec_init(&rows, sizeof(struct jobdev_rec));
	rc = store_device_open_jobs(txn, dev, ops_rows_collect_cb, &rows);
	if (rc != 0) {
		rc = ops_fail_store(err, rc == STORE_ESTOP ? STORE_EIO : rc,
		    dev);
		goto out;
	}
	for (i = 0; i < rows.n; i++) {
		jd = ops_vec_at(&rows, i);
		if (strcmp(jd->job, job->id) == 0)
			continue;
		if ((rc = store_job_get(txn, jd->job, &other)) ==
		    STORE_ENOTFOUND)
			continue;
		if (rc != 0) {
			rc = ops_fail_store(err, rc, jd->job);
			goto out;
		}
		if (!jobs_job_is_open(&other) ||
		    strcmp(other.module, job->module) != 0)
			continue;
		rc = ops_fail(err, OPS_ECONFLICT, "cannot retry device %s in "
		    "job %s: it is %s in job %s for module %s (cancel that "
		    "first)", dev, job->id, jobs_jd_state_name(jd->state),
		    other.id, other.module);
		goto out;
	}
	rc = OPS_OK;
out:
	ops_vec_free(&rows);
	return rc;
}

static int
job_rowop(struct ops *ops, int op, const char *jid, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	static const char *const names[] = { "cancel", "retry", "confirm" };
	struct store_txn *txn = NULL;
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;
	struct jobs_counts c;
	int64_t	 now = ops_now(ops);
	int	 rc, r;

	if (jid == NULL || !valid_id(jid))
		return ops_fail(err, OPS_EINVAL, "invalid job id");
	if (dev == NULL || !valid_device_id(dev))
		return ops_fail(err, OPS_EINVAL, "invalid device id");
	/*
	 * The job's rows are counted first, in a read transaction, so that
	 * the write transaction stays short however many rows the job has;
	 * the change is applied to these counts, and counted again in the
	 * write transaction when they would move the job
	 * (job_settle_counts).
	 */
	if ((rc = store_txn_begin(ops->st, 1, &txn)) != 0)
		return ops_fail_store(err, rc, names[op]);
	rc = ops_job_counts(txn, jid, &c);
	store_txn_abort(txn);
	txn = NULL;
	if (rc != 0)
		return ops_fail_store(err, rc, names[op]);
	if ((rc = store_txn_begin(ops->st, 0, &txn)) != 0)
		return ops_fail_store(err, rc, names[op]);
	rc = store_job_get(txn, jid, &job);
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "no job %s", jid);
		goto out;
	}
	if (rc == 0 && job.state == JOB_CREATING) {
		rc = ops_fail(err, OPS_ECONFLICT, "job %s is still being "
		    "created", jid);
		goto out;
	}
	if (rc == 0)
		rc = store_jobdev_get(txn, jid, dev, &jd);
	if (rc == STORE_ENOTFOUND) {
		rc = ops_fail(err, OPS_ENOTFOUND, "device %s is not in job %s",
		    dev, jid);
		goto out;
	}
	if (rc != 0) {
		rc = ops_fail_store(err, rc, jid);
		goto out;
	}
	switch (op) {
	case ROWOP_CANCEL:
		r = jobs_jd_cancel(&jd, now, &ch);
		break;
	case ROWOP_RETRY:
		r = jobs_jd_retry(&job, &jd, now, &ch);
		break;
	default:
		r = jobs_jd_confirm(&jd, now, &ch);
		break;
	}
	if (r == -1) {
		rc = ops_fail(err, OPS_ECONFLICT, "cannot %s device %s in job "
		    "%s: it is %s%s", names[op], dev, jid,
		    jobs_jd_state_name(jd.state),
		    op == ROWOP_RETRY && job.state == JOB_TERMINATED ?
		    " and the job is TERMINATED" : "");
		goto out;
	}
	if (op == ROWOP_RETRY &&
	    (rc = retry_blocked(txn, &job, dev, err)) != OPS_OK)
		goto out;
	jobs_counts_apply(&c, &ch);
	if ((rc = ops_row_store(txn, &job, &jd, &ch, now)) != 0 ||
	    (rc = job_settle_counts(txn, &job, &c, 0, now)) != 0) {
		rc = ops_fail_store(err, rc, jid);
		goto out;
	}
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		rc = ops_fail_store(err, rc, jid);
		goto out;
	}
	if (out != NULL)
		*out = jd;
	rc = ops_ok(err);
out:
	store_txn_abort(txn);
	return rc;
}

int
ops_job_cancel(struct ops *ops, const char *job, const char *device,
    struct jobdev_rec *out, struct ops_err *err)
{
	return job_rowop(ops, ROWOP_CANCEL, job, device, out, err);
}

int
ops_job_retry(struct ops *ops, const char *job, const char *device,
    struct jobdev_rec *out, struct ops_err *err)
{
	return job_rowop(ops, ROWOP_RETRY, job, device, out, err);
}

int
ops_job_confirm(struct ops *ops, const char *job, const char *device,
    struct jobdev_rec *out, struct ops_err *err)
{
	return job_rowop(ops, ROWOP_CONFIRM, job, device, out, err);
}
