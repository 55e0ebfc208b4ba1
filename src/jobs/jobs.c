/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs.c: the upgrade-job state machine and rollout rules (CONTRACT §3, §4).
 *
 * Every function here is a pure function of the records it is given and of
 * the time `now' the caller passes in: no I/O, no clock, no allocation.  The
 * request core (and the operator code) reads records from the store, calls
 * these rules, and writes back what changed together with one state event
 * per state a row entered, all in one transaction.
 *
 * The row model, as the platforms otagw learns from describe it:
 *
 *   WAIT_CONFIRM --confirm--> QUEUED --check--> NOTIFIED --progress-->
 *   UPGRADING --step 100, then target version--> SUCCEEDED
 *
 * A device-reported failure (step -1..-4) or a version that is neither a
 * source nor the target while upgrading ("wrong-version") makes the row
 * FAILED, and then RETRY_WAIT when the job has retries left; the retry
 * wait ends in QUEUED.  Timeouts, cancels, terminations and supersessions
 * are never retried.  A QUEUED row gets its notice only while its job is
 * RUNNING, inside its window and under its rate limit; otherwise the reason
 * it waits is kept in the row ("scheduled", "paused", "rate-limited"; a row
 * nobody has asked for yet waits as "offline").
 *
 * Every rule function resets its struct jobs_change and records the states
 * the row passed through, so that the caller can emit one event for each.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jobs/jobs.h"
#include "util/validate.h"

#define MINUTE_MS	(60 * (int64_t)1000)

static const char *const jd_names[JD_NSTATES] = {
	[JD_WAIT_CONFIRM] = "WAIT_CONFIRM",
	[JD_QUEUED] = "QUEUED",
	[JD_NOTIFIED] = "NOTIFIED",
	[JD_UPGRADING] = "UPGRADING",
	[JD_SUCCEEDED] = "SUCCEEDED",
	[JD_FAILED] = "FAILED",
	[JD_RETRY_WAIT] = "RETRY_WAIT",
	[JD_CANCELED] = "CANCELED",
};

static const char *const job_names[] = {
	[JOB_SCHEDULED] = "SCHEDULED",
	[JOB_RUNNING] = "RUNNING",
	[JOB_PAUSED] = "PAUSED",
	[JOB_COMPLETED] = "COMPLETED",
	[JOB_TERMINATED] = "TERMINATED",
	[JOB_CREATING] = "CREATING",
};

const char *
jobs_jd_state_name(int s)
{
	if (s < 0 || s >= JD_NSTATES)
		return "UNKNOWN";
	return jd_names[s];
}

int
jobs_jd_state_parse(const char *name, int *out)
{
	int	 i;

	if (name == NULL)
		return -1;
	for (i = 0; i < JD_NSTATES; i++) {
		if (strcasecmp(name, jd_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

const char *
jobs_state_name(int s)
{
	if (s < 0 || s > JOB_CREATING)
		return "UNKNOWN";
	return job_names[s];
}

const char *
jobs_kind_name(int kind)
{
	switch (kind) {
	case JOB_KIND_BATCH:
		return "batch";
	case JOB_KIND_VERIFY:
		return "verify";
	}
	return "unknown";
}

const char *
jobs_fw_state_name(int s)
{
	switch (s) {
	case FW_UNVERIFIED:
		return "UNVERIFIED";
	case FW_VERIFIED:
		return "VERIFIED";
	case FW_VERIFY_FAILED:
		return "VERIFY_FAILED";
	}
	return "UNKNOWN";
}

int
jobs_jd_is_open(int s)
{
	return s == JD_WAIT_CONFIRM || s == JD_QUEUED || s == JD_NOTIFIED ||
	    s == JD_UPGRADING || s == JD_RETRY_WAIT;
}

int
jobs_jd_is_final(int s)
{
	return s == JD_SUCCEEDED || s == JD_FAILED || s == JD_CANCELED;
}

/*
 * Row bookkeeping.
 */

static void
change_init(struct jobs_change *ch, const struct jobdev_rec *jd)
{
	memset(ch, 0, sizeof(*ch));
	ch->from = ch->to = jd->state;
}

static void
jd_touch(struct jobdev_rec *jd, int64_t now, struct jobs_change *ch)
{
	ch->changed = 1;
	jd->updated = now;
}

/* Moves the row to state `to', remembering the states passed through. */
static void
jd_move(struct jobdev_rec *jd, int to, int64_t now, struct jobs_change *ch)
{
	if ((ch->to != ch->from || ch->nvia > 0) && ch->nvia < JOBS_VIA_MAX)
		ch->via[ch->nvia++] = jd->state;
	jd->state = to;
	ch->to = to;
	jd_touch(jd, now, ch);
}

static void
jd_set_reason(struct jobdev_rec *jd, const char *reason, int64_t now,
    struct jobs_change *ch)
{
	if (strcmp(jd->reason, reason) == 0)
		return;
	snprintf(jd->reason, sizeof(jd->reason), "%s", reason);
	jd_touch(jd, now, ch);
}

/* A new attempt: back to QUEUED with the traces of the last one cleared. */
static void
jd_requeue(struct jobdev_rec *jd, int64_t now, struct jobs_change *ch)
{
	jd_move(jd, JD_QUEUED, now, ch);
	/* the attempt after a failed patch is not a retry of the job's */
	if (jd->delta_fail == 1)
		jd->delta_fail = 2;
	else
		jd->retries++;
	jd->delta[0] = '\0';
	jd->delta_saved = 0;
	snprintf(jd->reason, sizeof(jd->reason), "offline");
	jd->desc[0] = '\0';
	jd->step = 0;
	jd->step100 = 0;
	jd->started = 0;
	jd->next_at = 0;
	jd->from_version[0] = '\0';
}

/*
 * Fails the row.  When the failure is retryable and the job has retries
 * left, the row goes on to RETRY_WAIT until now + the retry interval.
 */
static void
jd_fail(const struct job_rec *job, struct jobdev_rec *jd, const char *reason,
    int retryable, int64_t now, struct jobs_change *ch)
{
	jd_move(jd, JD_FAILED, now, ch);
	snprintf(jd->reason, sizeof(jd->reason), "%s", reason);
	jd->step100 = 0;
	if (retryable && job != NULL && jd->retries < job->retry_count) {
		jd_move(jd, JD_RETRY_WAIT, now, ch);
		jd->next_at = now +
		    (int64_t)job->retry_interval_min * MINUTE_MS;
	}
}

/* Whether `version' is one the job upgrades from. */
static int
job_is_source(const struct job_rec *job, const char *version)
{
	unsigned i;

	if (job->nsrc == 0)
		return strcmp(version, job->version) != 0;
	for (i = 0; i < job->nsrc && i < OTA_SRCVER_MAX; i++)
		if (strcmp(job->src_versions[i], version) == 0)
			return 1;
	return 0;
}

/*
 * Whether the job hands out new notices now.  When not, *why is the reason
 * a QUEUED row waits for (NULL: leave the row's reason alone).
 */
static int
job_delivers(const struct job_rec *job, int64_t now, const char **why)
{
	*why = NULL;
	switch (job->state) {
	case JOB_RUNNING:
		break;
	case JOB_SCHEDULED:
		*why = "scheduled";
		return 0;
	case JOB_PAUSED:
		*why = "paused";
		return 0;
	default:
		return 0;
	}
	if (job->start != 0 && now < job->start) {
		*why = "scheduled";
		return 0;
	}
	if (job->end != 0 && now >= job->end)
		return 0;
	return 1;
}

/*
 * Jobs.
 */

void
jobs_job_defaults(struct job_rec *job)
{
	memset(job, 0, sizeof(*job));
	job->kind = JOB_KIND_BATCH;
	job->state = JOB_SCHEDULED;
	job->scope = JOB_SCOPE_ALL;
	job->gray_percent = 10;
	job->timeout_min = 1440;
	job->abort_percent = -1;
}

int
jobs_job_validate(const struct job_rec *job, char *err, size_t errlen)
{
	const char *msg = NULL;
	unsigned i, j;

	if (!valid_id(job->firmware))
		msg = "invalid firmware id";
	else if (!valid_product(job->product))
		msg = "invalid product";
	else if (!valid_module(job->module))
		msg = "invalid module";
	else if (!valid_version(job->version))
		msg = "invalid target version";
	else if (job->kind != JOB_KIND_BATCH && job->kind != JOB_KIND_VERIFY)
		msg = "kind must be batch or verify";
	else if (job->scope < JOB_SCOPE_ALL || job->scope > JOB_SCOPE_GRAY)
		msg = "scope must be all, devices or gray";
	else if (job->scope == JOB_SCOPE_GRAY &&
	    (job->gray_percent < 1 || job->gray_percent > 100))
		msg = "grayPercent must be 1..100";
	else if (job->kind == JOB_KIND_VERIFY &&
	    job->scope != JOB_SCOPE_DEVICES)
		msg = "a verify job needs a list of devices";
	else if (job->dynamic && job->kind == JOB_KIND_VERIFY)
		msg = "a verify job cannot be dynamic";
	else if (job->dynamic && job->scope == JOB_SCOPE_GRAY)
		msg = "a gray release cannot be dynamic";
	else if (job->only_new_reports && !job->dynamic)
		msg = "onlyNewReports needs the dynamic strategy";
	else if (job->nsrc > OTA_SRCVER_MAX)
		msg = "too many source versions";
	else if (job->start < 0 || job->end < 0 ||
	    (job->start != 0 && job->end != 0 && job->end <= job->start))
		msg = "the window must end after it starts";
	else if (job->rate_per_minute != 0 &&
	    (job->rate_per_minute < 10 || job->rate_per_minute > 1000))
		msg = "ratePerMinute must be 0 or 10..1000";
	else if (job->retry_count > 5)
		msg = "retry count must be 0..5";
	else if (job->retry_interval_min > 4320)
		msg = "retry interval must be 0..4320 minutes";
	else if (job->timeout_min < 5 || job->timeout_min > 1440)
		msg = "timeoutMinutes must be 5..1440";
	else if (job->abort_percent < -1 || job->abort_percent > 100)
		msg = "abort failurePercent must be 0..100";
	else if (job->abort_percent >= 0 &&
	    job->abort_min_devices > 10000000)
		msg = "abort minDevices is too large";
	if (msg == NULL) {
		for (i = 0; i < job->nsrc && msg == NULL; i++) {
			if (!valid_version(job->src_versions[i]))
				msg = "invalid source version";
			else if (strcmp(job->src_versions[i],
			    job->version) == 0)
				msg = "a source version equals the target";
			for (j = 0; j < i && msg == NULL; j++)
				if (strcmp(job->src_versions[i],
				    job->src_versions[j]) == 0)
					msg = "repeated source version";
		}
	}
	if (msg == NULL)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return -1;
}

int
jobs_job_is_open(const struct job_rec *job)
{
	return job->state == JOB_SCHEDULED || job->state == JOB_RUNNING ||
	    job->state == JOB_PAUSED || job->state == JOB_CREATING;
}

const char *
jobs_device_version(const struct device_rec *dev, const char *module)
{
	unsigned i;

	for (i = 0; i < dev->nversions && i < OTA_MODULES_MAX; i++)
		if (strcmp(dev->versions[i].module, module) == 0)
			return dev->versions[i].version;
	return NULL;
}

int
jobs_device_matches(const struct job_rec *job, const struct device_rec *dev)
{
	const char *cur;

	if (strcmp(job->product, dev->product) != 0)
		return 0;
	cur = jobs_device_version(dev, job->module);
	if (cur == NULL)
		/* never reported: only "any version" takes it */
		return job->nsrc == 0;
	return job_is_source(job, cur);
}

void
jobs_jd_init(const struct job_rec *job, struct jobdev_rec *jd,
    const char *device, int64_t now)
{
	memset(jd, 0, sizeof(*jd));
	snprintf(jd->job, sizeof(jd->job), "%s", job->id);
	snprintf(jd->device, sizeof(jd->device), "%s", device);
	if (job->confirm)
		jd->state = JD_WAIT_CONFIRM;
	else {
		jd->state = JD_QUEUED;
		snprintf(jd->reason, sizeof(jd->reason), "offline");
	}
	jd->created = now;
	jd->updated = now;
}

int
jobs_on_check(struct job_rec *job, struct jobdev_rec *jd, const char *version,
    int64_t now, struct jobs_change *ch)
{
	const char *why;

	change_init(ch, jd);
	switch (jd->state) {
	case JD_RETRY_WAIT:
		if (job->state == JOB_TERMINATED || now < jd->next_at)
			return 0;
		jd_requeue(jd, now, ch);
		break;
	case JD_QUEUED:
		break;
	case JD_NOTIFIED:
		/* the same notice again, until progress arrives */
		return job_delivers(job, now, &why);
	default:
		return 0;
	}

	if (!job_delivers(job, now, &why)) {
		if (why != NULL)
			jd_set_reason(jd, why, now, ch);
		return 0;
	}
	if (job->rate_per_minute > 0) {
		if (now < job->rate_window ||
		    now - job->rate_window >= MINUTE_MS) {
			job->rate_window = now;
			job->rate_used = 0;
			ch->job_changed = 1;
		}
		if (job->rate_used >= job->rate_per_minute) {
			jd_set_reason(jd, "rate-limited", now, ch);
			return 0;
		}
		job->rate_used++;
		ch->job_changed = 1;
	}
	jd_move(jd, JD_NOTIFIED, now, ch);
	jd->reason[0] = '\0';
	jd->notified = now;
	if (version != NULL && strlen(version) <= OTA_ID_MAX)
		snprintf(jd->from_version, sizeof(jd->from_version), "%s",
		    version);
	else
		jd->from_version[0] = '\0';
	return 1;
}

/* The version part of a report, on a row already known to be UPGRADING. */
static void
jd_version_rule(const struct job_rec *job, struct jobdev_rec *jd,
    const char *version, int64_t now, struct jobs_change *ch)
{
	if (strcmp(version, job->version) == 0) {
		if (jd->step100) {
			jd_move(jd, JD_SUCCEEDED, now, ch);
			jd->reason[0] = '\0';
			jd->step100 = 0;
		}
		return;
	}
	if (!job_is_source(job, version))
		jd_fail(job, jd, "wrong-version", 1, now, ch);
}

static void
jd_note_version(struct jobdev_rec *jd, const char *version, int64_t now,
    struct jobs_change *ch)
{
	if (strcmp(jd->last_version, version) == 0)
		return;
	snprintf(jd->last_version, sizeof(jd->last_version), "%s", version);
	jd_touch(jd, now, ch);
}

void
jobs_on_version(const struct job_rec *job, struct jobdev_rec *jd,
    const char *version, int64_t now, struct jobs_change *ch)
{
	change_init(ch, jd);
	if (version == NULL || *version == '\0' ||
	    strlen(version) > OTA_ID_MAX)
		return;
	jd_note_version(jd, version, now, ch);
	if (jd->state == JD_UPGRADING)
		jd_version_rule(job, jd, version, now, ch);
}

int
jobs_on_progress(const struct job_rec *job, struct jobdev_rec *jd, int step,
    const char *desc, const char *version, int64_t now,
    struct jobs_change *ch)
{
	char	 reason[OTA_REASON_MAX + 1];
	int	 patch;

	change_init(ch, jd);
	if (step < -4 || step > 100)
		return -1;
	if (version != NULL && (*version == '\0' ||
	    strlen(version) > OTA_ID_MAX))
		return -1;
	switch (jd->state) {
	case JD_NOTIFIED:
	case JD_UPGRADING:
		break;
	case JD_SUCCEEDED:
	case JD_FAILED:
	case JD_CANCELED:
	case JD_RETRY_WAIT:
		/* late or repeated report of an attempt that is over */
		return 0;
	case JD_QUEUED:
		/* the device knows the job from an earlier attempt */
		return jd->notified != 0 ? 0 : -1;
	default:
		return -1;
	}

	ch->progress = 1;
	jd_touch(jd, now, ch);
	if (jd->started == 0)
		jd->started = now;
	jd->step = step;
	if (desc != NULL)
		snprintf(jd->desc, sizeof(jd->desc), "%s", desc);
	else
		jd->desc[0] = '\0';
	if (version != NULL)
		jd_note_version(jd, version, now, ch);

	if (step < 0) {
		snprintf(reason, sizeof(reason), "device:%d", step);
		/*
		 * Failed on a patch: the attempt ends as any failure does
		 * (its events, its history entry), and the next one, with
		 * the full image, is due at once and is not one of the
		 * job's retries.
		 */
		patch = jd->delta[0] != '\0' && jd->delta_fail == 0;
		jd_fail(job, jd, reason, !patch, now, ch);
		if (patch) {
			jd->delta_fail = 1;
			jd_move(jd, JD_RETRY_WAIT, now, ch);
			jd->next_at = now;
		}
		return 0;
	}
	if (jd->state == JD_NOTIFIED)
		jd_move(jd, JD_UPGRADING, now, ch);
	jd->step100 = step == 100;
	if (version != NULL)
		jd_version_rule(job, jd, version, now, ch);
	return 0;
}

void
jobs_on_tick(const struct job_rec *job, struct jobdev_rec *jd, int64_t now,
    struct jobs_change *ch)
{
	int64_t	 deadline;

	change_init(ch, jd);
	if (job->state == JOB_TERMINATED && jobs_jd_is_open(jd->state)) {
		jd_fail(NULL, jd, "terminated", 0, now, ch);
		return;
	}
	switch (jd->state) {
	case JD_UPGRADING:
		if (jd->started == 0 || job->timeout_min == 0)
			break;
		deadline = jd->started + (int64_t)job->timeout_min * MINUTE_MS;
		if (now >= deadline)
			jd_fail(job, jd, "timeout", 0, now, ch);
		break;
	case JD_RETRY_WAIT:
		if (now >= jd->next_at)
			jd_requeue(jd, now, ch);
		break;
	}
}

int64_t
jobs_jd_due(const struct job_rec *job, const struct jobdev_rec *jd)
{
	if (job->state == JOB_TERMINATED && jobs_jd_is_open(jd->state))
		return 1;	/* at once */
	switch (jd->state) {
	case JD_UPGRADING:
		if (jd->started == 0 || job->timeout_min == 0)
			return 0;
		return jd->started + (int64_t)job->timeout_min * MINUTE_MS;
	case JD_RETRY_WAIT:
		return jd->next_at > 0 ? jd->next_at : 1;
	}
	return 0;
}

int
jobs_job_tick(struct job_rec *job, const struct jobs_counts *c, int64_t now)
{
	size_t	 open = 0, finished;
	int	 changed = 0, s;

	if (job->state == JOB_TERMINATED || job->state == JOB_CREATING)
		return 0;
	for (s = 0; s < JD_NSTATES; s++)
		if (jobs_jd_is_open(s))
			open += c->n[s];

	if (job->state == JOB_COMPLETED) {
		if (open == 0)
			return 0;
		/* an operator retried a row: the job is not done after all */
		job->state = JOB_RUNNING;
		job->finished = 0;
		changed = 1;
	}
	if (!job->dynamic && open == 0) {
		job->state = JOB_COMPLETED;
		job->finished = now;
		return 1;
	}
	if (job->end != 0 && now >= job->end) {
		job->state = JOB_TERMINATED;
		job->finished = now;
		return 1;
	}
	if (job->state == JOB_SCHEDULED &&
	    (job->start == 0 || now >= job->start)) {
		job->state = JOB_RUNNING;
		if (job->started == 0)
			job->started = now;
		changed = 1;
	}
	if (job->state == JOB_RUNNING && job->abort_percent >= 0) {
		finished = c->n[JD_SUCCEEDED] + c->n[JD_FAILED];
		if (finished > 0 && finished >= job->abort_min_devices &&
		    c->n[JD_FAILED] * 100 >
		    (size_t)job->abort_percent * finished) {
			job->state = JOB_PAUSED;
			changed = 1;
		}
	}
	return changed;
}

/*
 * Operator actions.
 */

int
jobs_jd_cancel(struct jobdev_rec *jd, int64_t now, struct jobs_change *ch)
{
	change_init(ch, jd);
	if (!jobs_jd_is_open(jd->state))
		return -1;
	/* a hawkBit device acknowledges only an action it had */
	jd->cancel_acked = jd->state != JD_NOTIFIED &&
	    jd->state != JD_UPGRADING;
	jd_move(jd, JD_CANCELED, now, ch);
	snprintf(jd->reason, sizeof(jd->reason), "canceled");
	jd->step100 = 0;
	return 0;
}

int
jobs_jd_confirm(struct jobdev_rec *jd, int64_t now, struct jobs_change *ch)
{
	change_init(ch, jd);
	if (jd->state != JD_WAIT_CONFIRM)
		return -1;
	jd_move(jd, JD_QUEUED, now, ch);
	snprintf(jd->reason, sizeof(jd->reason), "offline");
	return 0;
}

int
jobs_jd_retry(const struct job_rec *job, struct jobdev_rec *jd, int64_t now,
    struct jobs_change *ch)
{
	change_init(ch, jd);
	if (jd->state != JD_FAILED || job->state == JOB_TERMINATED)
		return -1;
	jd_requeue(jd, now, ch);
	return 0;
}

int
jobs_jd_terminate(struct jobdev_rec *jd, int64_t now, struct jobs_change *ch)
{
	change_init(ch, jd);
	if (!jobs_jd_is_open(jd->state))
		return -1;
	jd_fail(NULL, jd, "terminated", 0, now, ch);
	return 0;
}

int
jobs_jd_supersede(struct jobdev_rec *jd, int64_t now, struct jobs_change *ch)
{
	change_init(ch, jd);
	if (jd->state != JD_WAIT_CONFIRM && jd->state != JD_QUEUED &&
	    jd->state != JD_NOTIFIED)
		return -1;
	jd_fail(NULL, jd, "superseded", 0, now, ch);
	return 0;
}

/*
 * Anti-rollback.
 */

uint32_t
jobs_device_seq(const struct device_rec *dev, const char *module)
{
	unsigned i;

	for (i = 0; i < dev->nseqs && i < OTA_MODULES_MAX; i++)
		if (strcmp(dev->seqs[i].module, module) == 0)
			return dev->seqs[i].seq;
	return 0;
}

int
jobs_seq_allows(const struct job_rec *job, uint32_t accepted)
{
	return job->seq == 0 || job->allow_downgrade || job->seq >= accepted;
}

int
jobs_on_seq(const struct job_rec *job, struct jobdev_rec *jd,
    uint32_t accepted, int64_t now, struct jobs_change *ch)
{
	change_init(ch, jd);
	if (jobs_seq_allows(job, accepted))
		return 0;
	switch (jd->state) {
	case JD_WAIT_CONFIRM:
	case JD_QUEUED:
	case JD_NOTIFIED:
	case JD_RETRY_WAIT:
		jd_fail(NULL, jd, "rollback", 0, now, ch);
		jd->next_at = 0;
		return 1;
	default:
		return 0;
	}
}

int
jobs_device_accept_seq(struct device_rec *dev, const char *module,
    uint32_t seq, int lower)
{
	struct module_seq *ms;
	unsigned i;

	if (seq == 0 || strlen(module) > OTA_ID_MAX)
		return 0;
	for (i = 0; i < dev->nseqs && i < OTA_MODULES_MAX; i++) {
		ms = &dev->seqs[i];
		if (strcmp(ms->module, module) != 0)
			continue;
		if (ms->seq == seq || (ms->seq > seq && !lower))
			return 0;
		ms->seq = seq;
		return 1;
	}
	if (dev->nseqs >= OTA_MODULES_MAX)
		return 0;
	ms = &dev->seqs[dev->nseqs++];
	snprintf(ms->module, sizeof(ms->module), "%s", module);
	ms->seq = seq;
	return 1;
}

/*
 * Counts and helpers.
 */

void
jobs_counts_add(struct jobs_counts *c, int s)
{
	if (s < 0 || s >= JD_NSTATES)
		return;
	c->n[s]++;
	c->total++;
}

void
jobs_counts_apply(struct jobs_counts *c, const struct jobs_change *ch)
{
	if (ch->from == ch->to || ch->from < 0 || ch->from >= JD_NSTATES ||
	    ch->to < 0 || ch->to >= JD_NSTATES)
		return;
	if (c->n[ch->from] > 0)
		c->n[ch->from]--;
	c->n[ch->to]++;
}

int
jobs_verify_result(const struct jobs_counts *c)
{
	if (c->total > 0 && c->n[JD_SUCCEEDED] == c->total)
		return FW_VERIFIED;
	return FW_VERIFY_FAILED;
}

size_t
jobs_gray_count(size_t n, int percent)
{
	size_t	 k;

	if (n == 0 || percent <= 0)
		return 0;
	if (percent >= 100)
		return n;
	k = n / 100 * (size_t)percent + n % 100 * (size_t)percent / 100;
	return k > 0 ? k : 1;
}

/*
 * FNV-1a over "job \xff device", then a 64-bit finalizer so that ids that
 * differ only in their last characters still spread over the whole range.
 */
uint64_t
jobs_gray_rank(const char *job_id, const char *device_id)
{
	const uint64_t prime = 0x100000001b3ULL;
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)job_id; *p != '\0'; p++)
		h = (h ^ *p) * prime;
	h = (h ^ 0xff) * prime;
	for (p = (const unsigned char *)device_id; *p != '\0'; p++)
		h = (h ^ *p) * prime;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Whole seconds from now until t, rounded up, at least 1. */
static unsigned
wake_until(int64_t now, int64_t t)
{
	int64_t ms = t - now;

	if (ms <= 1000)
		return 1;
	return (unsigned)((ms + 999) / 1000);
}

unsigned
jobs_wake_after(const struct job_rec *job, const struct jobdev_rec *jd,
    int64_t now, const struct jobs_wake *w)
{
	unsigned s = w->idle_s;

	switch (jd->state) {
	case JD_NOTIFIED:
	case JD_UPGRADING:
		s = w->busy_s;
		break;
	case JD_WAIT_CONFIRM:
		s = w->confirm_s;
		break;
	case JD_RETRY_WAIT:
		if (job->state != JOB_TERMINATED && jd->next_at > 0)
			s = wake_until(now, jd->next_at);
		break;
	case JD_QUEUED:
		if ((job->state == JOB_SCHEDULED ||
		    job->state == JOB_RUNNING) &&
		    job->start != 0 && now < job->start)
			/* the window opens (and the tick starts the job) */
			s = wake_until(now, job->start) + 1;
		else if (job->state == JOB_RUNNING &&
		    job->rate_per_minute > 0 &&
		    job->rate_used >= job->rate_per_minute &&
		    now >= job->rate_window &&
		    now - job->rate_window < MINUTE_MS)
			s = wake_until(now, job->rate_window + MINUTE_MS);
		break;
	default:
		break;
	}
	if (s > w->idle_s)
		s = w->idle_s;
	return s > 0 ? s : 1;
}
