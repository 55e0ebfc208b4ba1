/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_jobs.c: the upgrade-job rules (src/jobs), table-driven.
 *
 * One table row per transition of a device row (check, version report,
 * progress report, tick, operator action), including those that must be
 * refused or must change nothing; then the job-level rules (window,
 * completion, abort), validation, device matching, gray picks and a few
 * whole campaigns played through with a fake clock.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jobs/jobs.h"
#include "t.h"

#define MIN	(60 * (int64_t)1000)
#define T0	((int64_t)1800000000000)	/* "now" in every table row */

static void
job_base(struct job_rec *job)
{
	jobs_job_defaults(job);
	snprintf(job->id, sizeof(job->id), "j-1");
	snprintf(job->firmware, sizeof(job->firmware), "fw-1");
	snprintf(job->product, sizeof(job->product), "p1");
	snprintf(job->module, sizeof(job->module), "default");
	snprintf(job->version, sizeof(job->version), "2.0.0");
	job->nsrc = 1;
	snprintf(job->src_versions[0], sizeof(job->src_versions[0]), "1.0.0");
	job->state = JOB_RUNNING;
	job->timeout_min = 30;
}

enum op {
	OP_CHECK,
	OP_VERSION,
	OP_PROGRESS,
	OP_TICK,
	OP_CANCEL,
	OP_CONFIRM,
	OP_RETRY,
	OP_TERMINATE,
	OP_SUPERSEDE,
};

struct row_case {
	const char *name;
	enum op	 op;
	/* the job (NULL state: RUNNING) */
	const char *jstate;
	unsigned rate, rate_used;
	int64_t	 rate_window;
	unsigned retry, interval;
	int64_t	 start, end;
	int	 any_source;		/* nsrc = 0 */
	/* the row */
	const char *state;
	const char *reason0;		/* NULL: as jobs_jd_init left it */
	int	 step100;
	unsigned retries;
	int64_t	 notified, started, next_at;
	const char *last_version;
	/* the input */
	int	 step;
	const char *desc;
	const char *version;
	/* expected */
	int	 ret;
	const char *to;
	const char *reason;		/* NULL: not checked */
	int	 changed, job_changed, progress;
	const char *via;	/* first state passed through, or NULL */
	int	 xretries;		/* expected retries - initial retries */
};

static const struct row_case row_cases[] = {
	/* check: who gets the notice */
	{ "check queued", OP_CHECK, .state = "QUEUED", .ret = 1,
	  .to = "NOTIFIED", .reason = "", .changed = 1 },
	{ "check notified again", OP_CHECK, .state = "NOTIFIED", .ret = 1,
	  .to = "NOTIFIED" },
	{ "check upgrading", OP_CHECK, .state = "UPGRADING",
	  .to = "UPGRADING" },
	{ "check succeeded", OP_CHECK, .state = "SUCCEEDED",
	  .to = "SUCCEEDED" },
	{ "check failed", OP_CHECK, .state = "FAILED", .to = "FAILED" },
	{ "check canceled", OP_CHECK, .state = "CANCELED", .to = "CANCELED" },
	{ "check wait confirm", OP_CHECK, .state = "WAIT_CONFIRM",
	  .to = "WAIT_CONFIRM" },
	{ "check scheduled job", OP_CHECK, .jstate = "SCHEDULED",
	  .state = "QUEUED", .to = "QUEUED", .reason = "scheduled",
	  .changed = 1 },
	{ "check scheduled again", OP_CHECK, .jstate = "SCHEDULED",
	  .state = "QUEUED", .reason0 = "scheduled", .to = "QUEUED",
	  .reason = "scheduled" },
	{ "check paused job", OP_CHECK, .jstate = "PAUSED", .state = "QUEUED",
	  .to = "QUEUED", .reason = "paused", .changed = 1 },
	{ "check before window", OP_CHECK, .start = T0 + MIN,
	  .state = "QUEUED", .to = "QUEUED", .reason = "scheduled",
	  .changed = 1 },
	{ "check window start", OP_CHECK, .start = T0, .state = "QUEUED",
	  .ret = 1, .to = "NOTIFIED", .changed = 1 },
	{ "check after window", OP_CHECK, .end = T0, .state = "QUEUED",
	  .to = "QUEUED", .reason = "offline" },
	{ "check terminated job", OP_CHECK, .jstate = "TERMINATED",
	  .state = "QUEUED", .to = "QUEUED", .reason = "offline" },
	{ "check completed job", OP_CHECK, .jstate = "COMPLETED",
	  .state = "QUEUED", .to = "QUEUED" },
	{ "check rate limited", OP_CHECK, .rate = 10, .rate_used = 10,
	  .rate_window = T0 - 1000, .state = "QUEUED", .to = "QUEUED",
	  .reason = "rate-limited", .changed = 1 },
	{ "check rate limited again", OP_CHECK, .rate = 10, .rate_used = 10,
	  .rate_window = T0 - 59999, .state = "QUEUED",
	  .reason0 = "rate-limited", .to = "QUEUED",
	  .reason = "rate-limited" },
	{ "check rate new minute", OP_CHECK, .rate = 10, .rate_used = 10,
	  .rate_window = T0 - MIN, .state = "QUEUED", .ret = 1,
	  .to = "NOTIFIED", .changed = 1, .job_changed = 1 },
	{ "check rate room", OP_CHECK, .rate = 10, .rate_used = 3,
	  .rate_window = T0 - 1000, .state = "QUEUED", .ret = 1,
	  .to = "NOTIFIED", .changed = 1, .job_changed = 1 },
	{ "check rate clock back", OP_CHECK, .rate = 10, .rate_used = 10,
	  .rate_window = T0 + 5000, .state = "QUEUED", .ret = 1,
	  .to = "NOTIFIED", .changed = 1, .job_changed = 1 },
	{ "check repeat not rated", OP_CHECK, .rate = 10, .rate_used = 10,
	  .rate_window = T0 - 1000, .state = "NOTIFIED", .ret = 1,
	  .to = "NOTIFIED" },
	{ "check notified paused", OP_CHECK, .jstate = "PAUSED",
	  .state = "NOTIFIED", .to = "NOTIFIED" },
	{ "check notified after window", OP_CHECK, .end = T0,
	  .state = "NOTIFIED", .to = "NOTIFIED" },
	{ "check retry wait early", OP_CHECK, .retry = 1,
	  .state = "RETRY_WAIT", .next_at = T0 + 1, .to = "RETRY_WAIT" },
	{ "check retry wait over", OP_CHECK, .retry = 1,
	  .state = "RETRY_WAIT", .next_at = T0, .ret = 1, .to = "NOTIFIED",
	  .changed = 1, .via = "QUEUED", .xretries = 1 },
	{ "check retry wait paused", OP_CHECK, .jstate = "PAUSED", .retry = 1,
	  .state = "RETRY_WAIT", .next_at = T0 - 1, .to = "QUEUED",
	  .reason = "paused", .changed = 1, .xretries = 1 },
	{ "check retry wait terminated", OP_CHECK, .jstate = "TERMINATED",
	  .state = "RETRY_WAIT", .next_at = T0 - 1, .to = "RETRY_WAIT" },

	/* version reports */
	{ "version target after 100", OP_VERSION, .state = "UPGRADING",
	  .step100 = 1, .version = "2.0.0", .to = "SUCCEEDED", .reason = "",
	  .changed = 1 },
	{ "version target before 100", OP_VERSION, .state = "UPGRADING",
	  .version = "2.0.0", .to = "UPGRADING", .changed = 1 },
	{ "version source upgrading", OP_VERSION, .state = "UPGRADING",
	  .last_version = "1.0.0", .version = "1.0.0", .to = "UPGRADING" },
	{ "version wrong", OP_VERSION, .state = "UPGRADING",
	  .version = "1.5.0", .to = "FAILED", .reason = "wrong-version",
	  .changed = 1 },
	{ "version wrong after 100", OP_VERSION, .state = "UPGRADING",
	  .step100 = 1, .version = "1.5.0", .to = "FAILED",
	  .reason = "wrong-version", .changed = 1 },
	{ "version wrong retried", OP_VERSION, .retry = 2, .interval = 10,
	  .state = "UPGRADING", .version = "1.5.0", .to = "RETRY_WAIT",
	  .reason = "wrong-version", .changed = 1, .via = "FAILED" },
	{ "version wrong no retries left", OP_VERSION, .retry = 2,
	  .retries = 2, .state = "UPGRADING", .version = "1.5.0",
	  .to = "FAILED", .reason = "wrong-version", .changed = 1 },
	{ "version any source", OP_VERSION, .any_source = 1,
	  .state = "UPGRADING", .version = "1.5.0", .to = "UPGRADING",
	  .changed = 1 },
	{ "version other notified", OP_VERSION, .state = "NOTIFIED",
	  .version = "1.5.0", .to = "NOTIFIED", .changed = 1 },
	{ "version target notified", OP_VERSION, .state = "NOTIFIED",
	  .version = "2.0.0", .to = "NOTIFIED", .changed = 1 },
	{ "version target queued", OP_VERSION, .state = "QUEUED",
	  .last_version = "2.0.0", .version = "2.0.0", .to = "QUEUED" },
	{ "version after success", OP_VERSION, .state = "SUCCEEDED",
	  .last_version = "2.0.0", .version = "1.0.0", .to = "SUCCEEDED",
	  .changed = 1 },
	{ "version empty", OP_VERSION, .state = "UPGRADING", .step100 = 1,
	  .version = "", .to = "UPGRADING" },

	/* progress reports */
	{ "progress first", OP_PROGRESS, .state = "NOTIFIED", .step = 10,
	  .desc = "downloading", .to = "UPGRADING", .changed = 1,
	  .progress = 1 },
	{ "progress zero", OP_PROGRESS, .state = "NOTIFIED", .step = 0,
	  .to = "UPGRADING", .changed = 1, .progress = 1 },
	{ "progress more", OP_PROGRESS, .state = "UPGRADING", .step = 50,
	  .started = T0 - MIN, .to = "UPGRADING", .changed = 1,
	  .progress = 1 },
	{ "progress 100", OP_PROGRESS, .state = "UPGRADING", .step = 100,
	  .to = "UPGRADING", .changed = 1, .progress = 1 },
	{ "progress 100 from notified", OP_PROGRESS, .state = "NOTIFIED",
	  .step = 100, .to = "UPGRADING", .changed = 1, .progress = 1 },
	{ "progress 100 with target", OP_PROGRESS, .state = "UPGRADING",
	  .step = 100, .version = "2.0.0", .to = "SUCCEEDED", .changed = 1,
	  .progress = 1 },
	{ "progress 100 target at once", OP_PROGRESS, .state = "NOTIFIED",
	  .step = 100, .version = "2.0.0", .to = "SUCCEEDED", .changed = 1,
	  .progress = 1, .via = "UPGRADING" },
	{ "progress 100 with source", OP_PROGRESS, .state = "UPGRADING",
	  .step = 100, .version = "1.0.0", .to = "UPGRADING", .changed = 1,
	  .progress = 1 },
	{ "progress target before 100", OP_PROGRESS, .state = "UPGRADING",
	  .step = 90, .version = "2.0.0", .to = "UPGRADING", .changed = 1,
	  .progress = 1 },
	{ "progress wrong version", OP_PROGRESS, .state = "UPGRADING",
	  .step = 20, .version = "0.9", .to = "FAILED",
	  .reason = "wrong-version", .changed = 1, .progress = 1 },
	{ "progress -1", OP_PROGRESS, .state = "UPGRADING", .step = -1,
	  .desc = "no space", .to = "FAILED", .reason = "device:-1",
	  .changed = 1, .progress = 1 },
	{ "progress -2 from notified", OP_PROGRESS, .state = "NOTIFIED",
	  .step = -2, .to = "FAILED", .reason = "device:-2", .changed = 1,
	  .progress = 1 },
	{ "progress -3 retried", OP_PROGRESS, .retry = 1, .interval = 0,
	  .state = "UPGRADING", .step = -3, .to = "RETRY_WAIT",
	  .reason = "device:-3", .changed = 1, .progress = 1,
	  .via = "FAILED" },
	{ "progress -4 retries used", OP_PROGRESS, .retry = 1, .retries = 1,
	  .state = "UPGRADING", .step = -4, .to = "FAILED",
	  .reason = "device:-4", .changed = 1, .progress = 1 },
	{ "progress step 101", OP_PROGRESS, .state = "UPGRADING", .step = 101,
	  .ret = -1, .to = "UPGRADING" },
	{ "progress step -5", OP_PROGRESS, .state = "UPGRADING", .step = -5,
	  .ret = -1, .to = "UPGRADING" },
	{ "progress empty version", OP_PROGRESS, .state = "UPGRADING",
	  .step = 5, .version = "", .ret = -1, .to = "UPGRADING" },
	{ "progress queued", OP_PROGRESS, .state = "QUEUED", .step = 10,
	  .ret = -1, .to = "QUEUED" },
	{ "progress wait confirm", OP_PROGRESS, .state = "WAIT_CONFIRM",
	  .step = 10, .ret = -1, .to = "WAIT_CONFIRM" },
	{ "progress queued for retry", OP_PROGRESS, .state = "QUEUED",
	  .notified = T0 - MIN, .step = -1, .to = "QUEUED" },
	{ "progress after success", OP_PROGRESS, .state = "SUCCEEDED",
	  .step = 100, .version = "2.0.0", .to = "SUCCEEDED" },
	{ "progress after failure", OP_PROGRESS, .state = "FAILED",
	  .step = -1, .to = "FAILED" },
	{ "progress after cancel", OP_PROGRESS, .state = "CANCELED",
	  .step = 40, .to = "CANCELED" },
	{ "progress in retry wait", OP_PROGRESS, .state = "RETRY_WAIT",
	  .step = -1, .to = "RETRY_WAIT" },

	/* time */
	{ "tick timeout", OP_TICK, .state = "UPGRADING",
	  .started = T0 - 30 * MIN, .to = "FAILED", .reason = "timeout",
	  .changed = 1 },
	{ "tick timeout never retried", OP_TICK, .retry = 5,
	  .state = "UPGRADING", .started = T0 - 31 * MIN, .to = "FAILED",
	  .reason = "timeout", .changed = 1 },
	{ "tick before timeout", OP_TICK, .state = "UPGRADING",
	  .started = T0 - 30 * MIN + 1, .to = "UPGRADING" },
	{ "tick notified no timeout", OP_TICK, .state = "NOTIFIED",
	  .notified = T0 - 100 * MIN, .to = "NOTIFIED" },
	{ "tick retry wait over", OP_TICK, .retry = 1, .state = "RETRY_WAIT",
	  .next_at = T0, .to = "QUEUED", .reason = "offline", .changed = 1,
	  .xretries = 1 },
	{ "tick retry wait early", OP_TICK, .retry = 1, .state = "RETRY_WAIT",
	  .next_at = T0 + 1, .to = "RETRY_WAIT" },
	{ "tick terminated queued", OP_TICK, .jstate = "TERMINATED",
	  .state = "QUEUED", .to = "FAILED", .reason = "terminated",
	  .changed = 1 },
	{ "tick terminated upgrading", OP_TICK, .jstate = "TERMINATED",
	  .retry = 3, .state = "UPGRADING", .to = "FAILED",
	  .reason = "terminated", .changed = 1 },
	{ "tick terminated retry wait", OP_TICK, .jstate = "TERMINATED",
	  .state = "RETRY_WAIT", .next_at = T0 + MIN, .to = "FAILED",
	  .reason = "terminated", .changed = 1 },
	{ "tick terminated confirm", OP_TICK, .jstate = "TERMINATED",
	  .state = "WAIT_CONFIRM", .to = "FAILED", .reason = "terminated",
	  .changed = 1 },
	{ "tick terminated succeeded", OP_TICK, .jstate = "TERMINATED",
	  .state = "SUCCEEDED", .to = "SUCCEEDED" },
	{ "tick queued", OP_TICK, .state = "QUEUED", .to = "QUEUED" },

	/* operators */
	{ "cancel wait confirm", OP_CANCEL, .state = "WAIT_CONFIRM",
	  .to = "CANCELED", .reason = "canceled", .changed = 1 },
	{ "cancel queued", OP_CANCEL, .state = "QUEUED", .to = "CANCELED",
	  .changed = 1 },
	{ "cancel notified", OP_CANCEL, .state = "NOTIFIED", .to = "CANCELED",
	  .changed = 1 },
	{ "cancel upgrading", OP_CANCEL, .state = "UPGRADING",
	  .to = "CANCELED", .changed = 1 },
	{ "cancel retry wait", OP_CANCEL, .state = "RETRY_WAIT",
	  .to = "CANCELED", .changed = 1 },
	{ "cancel succeeded", OP_CANCEL, .state = "SUCCEEDED", .ret = -1,
	  .to = "SUCCEEDED" },
	{ "cancel failed", OP_CANCEL, .state = "FAILED", .ret = -1,
	  .to = "FAILED" },
	{ "cancel canceled", OP_CANCEL, .state = "CANCELED", .ret = -1,
	  .to = "CANCELED" },
	{ "confirm", OP_CONFIRM, .state = "WAIT_CONFIRM", .to = "QUEUED",
	  .reason = "offline", .changed = 1 },
	{ "confirm queued", OP_CONFIRM, .state = "QUEUED", .ret = -1,
	  .to = "QUEUED" },
	{ "confirm failed", OP_CONFIRM, .state = "FAILED", .ret = -1,
	  .to = "FAILED" },
	{ "retry failed", OP_RETRY, .state = "FAILED", .reason0 = "timeout",
	  .to = "QUEUED", .reason = "offline", .changed = 1, .xretries = 1 },
	{ "retry failed paused job", OP_RETRY, .jstate = "PAUSED",
	  .state = "FAILED", .to = "QUEUED", .changed = 1, .xretries = 1 },
	{ "retry failed completed job", OP_RETRY, .jstate = "COMPLETED",
	  .state = "FAILED", .to = "QUEUED", .changed = 1, .xretries = 1 },
	{ "retry failed terminated job", OP_RETRY, .jstate = "TERMINATED",
	  .state = "FAILED", .ret = -1, .to = "FAILED" },
	{ "retry succeeded", OP_RETRY, .state = "SUCCEEDED", .ret = -1,
	  .to = "SUCCEEDED" },
	{ "retry canceled", OP_RETRY, .state = "CANCELED", .ret = -1,
	  .to = "CANCELED" },
	{ "retry upgrading", OP_RETRY, .state = "UPGRADING", .ret = -1,
	  .to = "UPGRADING" },
	{ "retry retry wait", OP_RETRY, .state = "RETRY_WAIT", .ret = -1,
	  .to = "RETRY_WAIT" },
	{ "terminate queued", OP_TERMINATE, .state = "QUEUED", .to = "FAILED",
	  .reason = "terminated", .changed = 1 },
	{ "terminate upgrading", OP_TERMINATE, .retry = 2,
	  .state = "UPGRADING", .to = "FAILED", .reason = "terminated",
	  .changed = 1 },
	{ "terminate succeeded", OP_TERMINATE, .state = "SUCCEEDED",
	  .ret = -1, .to = "SUCCEEDED" },
	{ "supersede wait confirm", OP_SUPERSEDE, .state = "WAIT_CONFIRM",
	  .to = "FAILED", .reason = "superseded", .changed = 1 },
	{ "supersede queued", OP_SUPERSEDE, .state = "QUEUED", .to = "FAILED",
	  .reason = "superseded", .changed = 1 },
	{ "supersede notified", OP_SUPERSEDE, .state = "NOTIFIED",
	  .to = "FAILED", .reason = "superseded", .changed = 1 },
	{ "supersede upgrading", OP_SUPERSEDE, .state = "UPGRADING",
	  .ret = -1, .to = "UPGRADING" },
	{ "supersede retry wait", OP_SUPERSEDE, .state = "RETRY_WAIT",
	  .ret = -1, .to = "RETRY_WAIT" },
	{ "supersede failed", OP_SUPERSEDE, .state = "FAILED", .ret = -1,
	  .to = "FAILED" },
};

static int
state_of(const char *name)
{
	int	 s = -1;

	if (jobs_jd_state_parse(name, &s) != 0)
		fprintf(stderr, "bad state name in table: %s\n", name);
	return s;
}

static int
job_state_of(const char *name)
{
	int	 s;

	if (name == NULL)
		return JOB_RUNNING;
	for (s = JOB_SCHEDULED; s <= JOB_TERMINATED; s++)
		if (strcmp(jobs_state_name(s), name) == 0)
			return s;
	fprintf(stderr, "bad job state name in table: %s\n", name);
	return -1;
}

/*
 * jobs_jd_cancel, and what it says a hawkBit device must acknowledge:
 * only the cancel of an action it had (NOTIFIED or UPGRADING).
 */
static int
cancel_checked(struct jobdev_rec *jd, struct jobs_change *ch)
{
	int	 was = jd->state, ret;

	ret = jobs_jd_cancel(jd, T0, ch);
	if (ret == 0)
		T_EQ_INT(jd->cancel_acked, was != JD_NOTIFIED &&
		    was != JD_UPGRADING);
	return ret;
}

static void
test_row_table(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(row_cases) / sizeof(row_cases[0]); i++) {
		const struct row_case *c = &row_cases[i];
		struct job_rec job, before;
		struct jobdev_rec jd, jd0;
		struct jobs_change ch;
		int	 ret = 0, fail0 = t_fail;

		job_base(&job);
		job.state = job_state_of(c->jstate);
		job.rate_per_minute = c->rate;
		job.rate_used = c->rate_used;
		job.rate_window = c->rate_window;
		job.retry_count = c->retry;
		job.retry_interval_min = c->interval;
		job.start = c->start;
		job.end = c->end;
		if (c->any_source)
			job.nsrc = 0;
		before = job;

		jobs_jd_init(&job, &jd, "dev-1", T0 - 10 * MIN);
		jd.state = state_of(c->state);
		if (c->reason0 != NULL)
			snprintf(jd.reason, sizeof(jd.reason), "%s",
			    c->reason0);
		jd.step100 = c->step100;
		jd.retries = c->retries;
		jd.notified = c->notified;
		jd.started = c->started;
		jd.next_at = c->next_at;
		if (c->last_version != NULL)
			snprintf(jd.last_version, sizeof(jd.last_version),
			    "%s", c->last_version);
		jd0 = jd;
		memset(&ch, 0xa5, sizeof(ch));

		switch (c->op) {
		case OP_CHECK:
			ret = jobs_on_check(&job, &jd, "1.0.0", T0, &ch);
			break;
		case OP_VERSION:
			jobs_on_version(&job, &jd, c->version, T0, &ch);
			break;
		case OP_PROGRESS:
			ret = jobs_on_progress(&job, &jd, c->step, c->desc,
			    c->version, T0, &ch);
			break;
		case OP_TICK:
			jobs_on_tick(&job, &jd, T0, &ch);
			break;
		case OP_CANCEL:
			ret = cancel_checked(&jd, &ch);
			break;
		case OP_CONFIRM:
			ret = jobs_jd_confirm(&jd, T0, &ch);
			break;
		case OP_RETRY:
			ret = jobs_jd_retry(&job, &jd, T0, &ch);
			break;
		case OP_TERMINATE:
			ret = jobs_jd_terminate(&jd, T0, &ch);
			break;
		case OP_SUPERSEDE:
			ret = jobs_jd_supersede(&jd, T0, &ch);
			break;
		}

		T_EQ_INT(ret, c->ret);
		T_EQ_STR(jobs_jd_state_name(jd.state), c->to);
		T_EQ_INT(ch.from, jd0.state);
		T_EQ_INT(ch.to, jd.state);
		T_EQ_INT(ch.changed, c->changed);
		T_EQ_INT(ch.job_changed, c->job_changed);
		T_EQ_INT(ch.progress, c->progress);
		if (c->reason != NULL)
			T_EQ_STR(jd.reason, c->reason);
		if (c->via != NULL) {
			T_EQ_INT(ch.nvia, 1);
			T_EQ_STR(jobs_jd_state_name(ch.via[0]), c->via);
		} else
			T_EQ_INT(ch.nvia, 0);
		T_EQ_INT(jd.retries, c->retries + c->xretries);
		/* nothing moves without a change, and a change is dated */
		if (!ch.changed)
			T_CHECK(memcmp(&jd, &jd0, sizeof(jd)) == 0);
		else
			T_EQ_INT(jd.updated, T0);
		if (!ch.job_changed)
			T_CHECK(memcmp(&job, &before, sizeof(job)) == 0);
		/* a refused action leaves the row alone */
		if (ret == -1)
			T_CHECK(memcmp(&jd, &jd0, sizeof(jd)) == 0);
		if (t_fail != fail0)
			fprintf(stderr, "  ^ in row case \"%s\"\n", c->name);
	}
}

/*
 * Details of new rows: the longest desc, jd_init, several states in one
 * change.
 */
static void
row_details_new(void)
{
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;

	/* desc up to 128 characters of UTF-8 fits the row */
	{
		char	 desc[OTA_UTF8_SIZE(OTA_PDESC_MAX)];
		size_t	 i;

		for (i = 0; i < OTA_PDESC_MAX; i++)
			memcpy(desc + 4 * i, "\xf0\x9f\x98\x80", 4);
		desc[4 * OTA_PDESC_MAX] = '\0';
		job_base(&job);
		jobs_jd_init(&job, &jd, "d", T0);
		jd.state = JD_NOTIFIED;
		T_EQ_INT(jobs_on_progress(&job, &jd, 3, desc, NULL, T0, &ch),
		    0);
		T_EQ_STR(jd.desc, desc);
	}

	/* jd_init: silent and user-confirmed jobs */
	job_base(&job);
	jobs_jd_init(&job, &jd, "dev-9", T0);
	T_EQ_STR(jd.job, "j-1");
	T_EQ_STR(jd.device, "dev-9");
	T_EQ_STR(jobs_jd_state_name(jd.state), "QUEUED");
	T_EQ_STR(jd.reason, "offline");
	T_EQ_INT(jd.created, T0);
	job.confirm = 1;
	jobs_jd_init(&job, &jd, "dev-9", T0);
	T_EQ_STR(jobs_jd_state_name(jd.state), "WAIT_CONFIRM");
	T_EQ_STR(jd.reason, "");

	/* several states in one change are all reported */
	job_base(&job);
	job.retry_count = 1;
	jobs_jd_init(&job, &jd, "d", T0);
	jd.state = JD_NOTIFIED;
	T_EQ_INT(jobs_on_progress(&job, &jd, 100, NULL, "3.0", T0, &ch), 0);
	T_EQ_INT(ch.from, JD_NOTIFIED);
	T_EQ_INT(ch.nvia, 2);
	T_EQ_INT(ch.via[0], JD_UPGRADING);
	T_EQ_INT(ch.via[1], JD_FAILED);
	T_EQ_INT(ch.to, JD_RETRY_WAIT);
	T_EQ_STR(jd.reason, "wrong-version");
}

/* Details the table does not look at. */
static void
test_row_details(void)
{
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;

	job_base(&job);
	job.retry_count = 2;
	job.retry_interval_min = 10;

	/* a notice dates the row and consumes the rate */
	job.rate_per_minute = 10;
	jobs_jd_init(&job, &jd, "d", T0 - MIN);
	T_EQ_INT(jobs_on_check(&job, &jd, "1.0.0", T0, &ch), 1);
	T_EQ_INT(jd.notified, T0);
	/* the version the device was on is the attempt's source */
	T_EQ_STR(jd.from_version, "1.0.0");
	T_EQ_INT(job.rate_window, T0);
	T_EQ_INT(job.rate_used, 1);

	/* first progress sets started, later ones keep it */
	T_EQ_INT(jobs_on_progress(&job, &jd, 5, "dl", NULL, T0 + 1, &ch), 0);
	T_EQ_INT(jd.started, T0 + 1);
	T_EQ_INT(jd.step, 5);
	T_EQ_STR(jd.desc, "dl");
	T_EQ_INT(jobs_on_progress(&job, &jd, 100, NULL, "1.0.0", T0 + 2, &ch),
	    0);
	T_EQ_INT(jd.started, T0 + 1);
	T_EQ_INT(jd.step100, 1);
	T_EQ_STR(jd.desc, "");
	T_EQ_STR(jd.last_version, "1.0.0");
	/* step back from 100: not done after all */
	T_EQ_INT(jobs_on_progress(&job, &jd, 40, NULL, NULL, T0 + 3, &ch), 0);
	T_EQ_INT(jd.step100, 0);
	jobs_on_version(&job, &jd, "2.0.0", T0 + 4, &ch);
	T_EQ_STR(jobs_jd_state_name(jd.state), "UPGRADING");

	/* failure with desc, then the retry wait and its end */
	T_EQ_INT(jobs_on_progress(&job, &jd, -2, "http 404", NULL, T0 + 5,
	    &ch), 0);
	T_EQ_STR(jobs_jd_state_name(jd.state), "RETRY_WAIT");
	T_EQ_STR(jd.reason, "device:-2");
	T_EQ_STR(jd.desc, "http 404");
	T_EQ_INT(jd.step, -2);
	T_EQ_INT(jd.next_at, T0 + 5 + 10 * MIN);
	T_EQ_INT(jobs_jd_due(&job, &jd), T0 + 5 + 10 * MIN);
	jobs_on_tick(&job, &jd, T0 + 5 + 10 * MIN - 1, &ch);
	T_EQ_INT(ch.changed, 0);
	jobs_on_tick(&job, &jd, T0 + 5 + 10 * MIN, &ch);
	T_EQ_STR(jobs_jd_state_name(jd.state), "QUEUED");
	T_EQ_INT(jd.retries, 1);
	T_EQ_INT(jd.started, 0);
	T_EQ_INT(jd.step, 0);
	T_EQ_STR(jd.desc, "");
	T_EQ_INT(jobs_jd_due(&job, &jd), 0);
	/* a new attempt learns its source again at its notice */
	T_EQ_STR(jd.from_version, "");

	/* timeout counts from the new attempt's first report */
	T_EQ_INT(jobs_on_check(&job, &jd, "1.0.1", T0 + 20 * MIN, &ch), 1);
	T_EQ_STR(jd.from_version, "1.0.1");
	/* the same notice again does not change it */
	T_EQ_INT(jobs_on_check(&job, &jd, "0.9", T0 + 20 * MIN + 1, &ch), 1);
	T_EQ_STR(jd.from_version, "1.0.1");
	T_EQ_INT(jobs_on_progress(&job, &jd, 1, NULL, NULL, T0 + 21 * MIN,
	    &ch), 0);
	T_EQ_INT(jobs_jd_due(&job, &jd), T0 + 51 * MIN);
	jobs_on_tick(&job, &jd, T0 + 51 * MIN - 1, &ch);
	T_EQ_INT(ch.changed, 0);
	jobs_on_tick(&job, &jd, T0 + 51 * MIN, &ch);
	T_EQ_STR(jobs_jd_state_name(jd.state), "FAILED");
	T_EQ_STR(jd.reason, "timeout");
	T_CHECK(jobs_jd_is_final(jd.state));
	T_EQ_INT(jobs_jd_due(&job, &jd), 0);

	row_details_new();
}

struct tick_case {
	const char *name;
	const char *state;
	int	 dynamic;
	int64_t	 start, end;
	int	 abort_percent;		/* 0 in the table means -1 */
	int	 abort_set;
	unsigned abort_min;
	size_t	 n[JD_NSTATES];
	int	 ret;
	const char *to;
};

static const struct tick_case tick_cases[] = {
	{ "scheduled starts", "SCHEDULED", .n = { [JD_QUEUED] = 3 },
	  .ret = 1, .to = "RUNNING" },
	{ "scheduled at start", "SCHEDULED", .start = T0,
	  .n = { [JD_QUEUED] = 3 }, .ret = 1, .to = "RUNNING" },
	{ "scheduled waits", "SCHEDULED", .start = T0 + 1,
	  .n = { [JD_QUEUED] = 3 }, .to = "SCHEDULED" },
	{ "scheduled past end", "SCHEDULED", .start = T0 - 2 * MIN,
	  .end = T0, .n = { [JD_QUEUED] = 3 }, .ret = 1, .to = "TERMINATED" },
	{ "running stays", "RUNNING", .end = T0 + 1,
	  .n = { [JD_NOTIFIED] = 1, [JD_SUCCEEDED] = 2 }, .to = "RUNNING" },
	{ "running ends", "RUNNING", .end = T0,
	  .n = { [JD_NOTIFIED] = 1, [JD_SUCCEEDED] = 2 }, .ret = 1,
	  .to = "TERMINATED" },
	{ "paused ends", "PAUSED", .end = T0, .n = { [JD_QUEUED] = 1 },
	  .ret = 1, .to = "TERMINATED" },
	{ "all final", "RUNNING",
	  .n = { [JD_SUCCEEDED] = 2, [JD_FAILED] = 1, [JD_CANCELED] = 1 },
	  .ret = 1, .to = "COMPLETED" },
	{ "all final at end", "RUNNING", .end = T0,
	  .n = { [JD_SUCCEEDED] = 2 }, .ret = 1, .to = "COMPLETED" },
	{ "paused all final", "PAUSED", .n = { [JD_FAILED] = 2 }, .ret = 1,
	  .to = "COMPLETED" },
	{ "retry wait is open", "RUNNING",
	  .n = { [JD_SUCCEEDED] = 2, [JD_RETRY_WAIT] = 1 }, .to = "RUNNING" },
	{ "wait confirm is open", "RUNNING",
	  .n = { [JD_SUCCEEDED] = 2, [JD_WAIT_CONFIRM] = 1 },
	  .to = "RUNNING" },
	{ "dynamic never completes", "RUNNING", .dynamic = 1,
	  .n = { [JD_SUCCEEDED] = 2 }, .to = "RUNNING" },
	{ "dynamic ends", "RUNNING", .dynamic = 1, .end = T0,
	  .n = { [JD_SUCCEEDED] = 2 }, .ret = 1, .to = "TERMINATED" },
	{ "empty static job", "SCHEDULED", .ret = 1, .to = "COMPLETED" },
	{ "completed stays", "COMPLETED", .n = { [JD_SUCCEEDED] = 2 },
	  .to = "COMPLETED" },
	{ "completed reopens", "COMPLETED",
	  .n = { [JD_SUCCEEDED] = 2, [JD_QUEUED] = 1 }, .ret = 1,
	  .to = "RUNNING" },
	{ "terminated stays", "TERMINATED", .end = T0 + MIN,
	  .n = { [JD_QUEUED] = 1 }, .to = "TERMINATED" },
	{ "abort over threshold", "RUNNING", .abort_set = 1,
	  .abort_percent = 20, .abort_min = 10,
	  .n = { [JD_SUCCEEDED] = 7, [JD_FAILED] = 3, [JD_QUEUED] = 90 },
	  .ret = 1, .to = "PAUSED" },
	{ "abort at threshold", "RUNNING", .abort_set = 1,
	  .abort_percent = 30, .abort_min = 10,
	  .n = { [JD_SUCCEEDED] = 7, [JD_FAILED] = 3, [JD_QUEUED] = 90 },
	  .to = "RUNNING" },
	{ "abort too few finished", "RUNNING", .abort_set = 1,
	  .abort_percent = 10, .abort_min = 11,
	  .n = { [JD_SUCCEEDED] = 7, [JD_FAILED] = 3, [JD_QUEUED] = 90 },
	  .to = "RUNNING" },
	{ "abort ignores retry wait", "RUNNING", .abort_set = 1,
	  .abort_percent = 10, .abort_min = 1,
	  .n = { [JD_SUCCEEDED] = 5, [JD_RETRY_WAIT] = 5, [JD_QUEUED] = 9 },
	  .to = "RUNNING" },
	{ "abort zero percent", "RUNNING", .abort_set = 1,
	  .abort_percent = 0, .abort_min = 0,
	  .n = { [JD_FAILED] = 1, [JD_QUEUED] = 9 }, .ret = 1,
	  .to = "PAUSED" },
	{ "no abort rule", "RUNNING",
	  .n = { [JD_FAILED] = 9, [JD_QUEUED] = 1 }, .to = "RUNNING" },
	{ "abort and start", "SCHEDULED", .abort_set = 1,
	  .abort_percent = 10, .abort_min = 1,
	  .n = { [JD_FAILED] = 5, [JD_QUEUED] = 5 }, .ret = 1,
	  .to = "PAUSED" },
};

/*
 * A failure on a patch: FAILED then RETRY_WAIT due at once, no retry
 * counted, even with no retries at all; the attempt after it offers no
 * patch, and a second failure is an ordinary one.
 */
static void
test_patch_fallback(void)
{
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;

	job_base(&job);
	job.retry_count = 0;
	jobs_jd_init(&job, &jd, "d", T0 - MIN);
	T_EQ_INT(jobs_on_check(&job, &jd, "1.0.0", T0, &ch), 1);
	snprintf(jd.delta, sizeof(jd.delta), "dp-1");	/* as core does */
	jd.delta_saved = 1000;
	T_EQ_INT(jobs_on_progress(&job, &jd, 10, NULL, NULL, T0 + 1, &ch), 0);
	T_EQ_INT(jobs_on_progress(&job, &jd, -3, "bad", NULL, T0 + 2, &ch),
	    0);
	T_EQ_STR(jobs_jd_state_name(jd.state), "RETRY_WAIT");
	T_EQ_INT(ch.nvia, 1);
	T_EQ_STR(jobs_jd_state_name(ch.via[0]), "FAILED");
	T_EQ_STR(jd.reason, "device:-3");
	T_EQ_INT(jd.next_at, T0 + 2);
	T_EQ_INT(jd.delta_fail, 1);
	T_EQ_INT(jd.retries, 0);
	/* the next check: a new attempt, not a retry, without the patch */
	T_EQ_INT(jobs_on_check(&job, &jd, "1.0.0", T0 + 3, &ch), 1);
	T_EQ_STR(jobs_jd_state_name(jd.state), "NOTIFIED");
	T_EQ_INT(jd.retries, 0);
	T_EQ_INT(jd.delta_fail, 2);
	T_EQ_STR(jd.delta, "");
	T_EQ_INT((int)jd.delta_saved, 0);
	/* failing on the full image: the job's rule, no retries left */
	T_EQ_INT(jobs_on_progress(&job, &jd, -1, NULL, NULL, T0 + 4, &ch), 0);
	T_EQ_STR(jobs_jd_state_name(jd.state), "FAILED");

	/* without a patch, a failure is an ordinary one */
	jobs_jd_init(&job, &jd, "e", T0 - MIN);
	T_EQ_INT(jobs_on_check(&job, &jd, "1.0.0", T0, &ch), 1);
	T_EQ_INT(jobs_on_progress(&job, &jd, -2, NULL, NULL, T0 + 1, &ch), 0);
	T_EQ_STR(jobs_jd_state_name(jd.state), "FAILED");
	T_EQ_INT(jd.delta_fail, 0);
}

static void
test_job_tick(void)
{
	size_t	 i;
	int	 s;

	for (i = 0; i < sizeof(tick_cases) / sizeof(tick_cases[0]); i++) {
		const struct tick_case *c = &tick_cases[i];
		struct job_rec job;
		struct jobs_counts counts;
		int	 fail0 = t_fail, ret;

		job_base(&job);
		job.state = job_state_of(c->state);
		job.dynamic = c->dynamic;
		job.start = c->start;
		job.end = c->end;
		job.abort_percent = c->abort_set ? c->abort_percent : -1;
		job.abort_min_devices = c->abort_min;
		memset(&counts, 0, sizeof(counts));
		for (s = 0; s < JD_NSTATES; s++) {
			counts.n[s] = c->n[s];
			counts.total += c->n[s];
		}
		ret = jobs_job_tick(&job, &counts, T0);
		T_EQ_INT(ret, c->ret);
		T_EQ_STR(jobs_state_name(job.state), c->to);
		if (strcmp(c->to, "COMPLETED") == 0 && c->ret)
			T_EQ_INT(job.finished, T0);
		if (strcmp(c->to, "TERMINATED") == 0 && c->ret)
			T_EQ_INT(job.finished, T0);
		if (strcmp(c->to, "RUNNING") == 0 && c->ret)
			T_EQ_INT(job.finished, 0);
		if (strcmp(c->state, "SCHEDULED") == 0 &&
		    strcmp(c->to, "SCHEDULED") != 0 &&
		    strcmp(c->to, "COMPLETED") != 0 &&
		    strcmp(c->to, "TERMINATED") != 0)
			T_EQ_INT(job.started, T0);
		/* a second tick at the same time changes nothing */
		T_EQ_INT(jobs_job_tick(&job, &counts, T0), 0);
		if (t_fail != fail0)
			fprintf(stderr, "  ^ in tick case \"%s\"\n", c->name);
	}
}

struct validate_case {
	const char *name;
	void	 (*edit)(struct job_rec *);
	int	 ok;
};

#define EDIT(n, ...)                                                         \
	static void edit_##n(struct job_rec *j)                            \
	{                                                                    \
		__VA_ARGS__;                                                 \
	}
EDIT(none, (void)j)
EDIT(fw, snprintf(j->firmware, sizeof(j->firmware), "fw 1"))
EDIT(product, j->product[0] = '\0')
EDIT(module, snprintf(j->module, sizeof(j->module), "a/b"))
EDIT(version, snprintf(j->version, sizeof(j->version), "2 0"))
EDIT(kind, j->kind = 7)
EDIT(scope, j->scope = 3)
EDIT(gray0, { j->scope = JOB_SCOPE_GRAY; j->gray_percent = 0; })
EDIT(gray1, { j->scope = JOB_SCOPE_GRAY; j->gray_percent = 1; })
EDIT(gray100, { j->scope = JOB_SCOPE_GRAY; j->gray_percent = 100; })
EDIT(gray101, { j->scope = JOB_SCOPE_GRAY; j->gray_percent = 101; })
EDIT(verify_all, j->kind = JOB_KIND_VERIFY)
EDIT(verify_devs, { j->kind = JOB_KIND_VERIFY;
	j->scope = JOB_SCOPE_DEVICES; })
EDIT(verify_dyn, { j->kind = JOB_KIND_VERIFY; j->scope = JOB_SCOPE_DEVICES;
	j->dynamic = 1; })
EDIT(gray_dyn, { j->scope = JOB_SCOPE_GRAY; j->dynamic = 1; })
EDIT(dyn, j->dynamic = 1)
EDIT(dyn_new, { j->dynamic = 1; j->only_new_reports = 1; })
EDIT(static_new, j->only_new_reports = 1)
EDIT(nsrc, j->nsrc = OTA_SRCVER_MAX + 1)
EDIT(src_bad, snprintf(j->src_versions[0], OTA_ID_MAX + 1, "1.0.0!"))
EDIT(src_target, snprintf(j->src_versions[0], OTA_ID_MAX + 1, "2.0.0"))
EDIT(src_repeat, { j->nsrc = 2;
	snprintf(j->src_versions[1], OTA_ID_MAX + 1, "1.0.0"); })
EDIT(src_two, { j->nsrc = 2;
	snprintf(j->src_versions[1], OTA_ID_MAX + 1, "1.1.0"); })
EDIT(src_none, j->nsrc = 0)
EDIT(window, { j->start = T0; j->end = T0 + MIN; })
EDIT(window_bad, { j->start = T0; j->end = T0; })
EDIT(window_end_only, j->end = T0)
EDIT(window_neg, j->start = -5)
EDIT(rate9, j->rate_per_minute = 9)
EDIT(rate10, j->rate_per_minute = 10)
EDIT(rate1000, j->rate_per_minute = 1000)
EDIT(rate1001, j->rate_per_minute = 1001)
EDIT(retry5, { j->retry_count = 5; j->retry_interval_min = 4320; })
EDIT(retry6, j->retry_count = 6)
EDIT(interval, j->retry_interval_min = 4321)
EDIT(timeout4, j->timeout_min = 4)
EDIT(timeout5, j->timeout_min = 5)
EDIT(timeout1441, j->timeout_min = 1441)
EDIT(abort_ok, { j->abort_percent = 50; j->abort_min_devices = 10; })
EDIT(abort_101, j->abort_percent = 101)
EDIT(abort_neg, j->abort_percent = -2)
#undef EDIT

static const struct validate_case validate_cases[] = {
	{ "defaults", edit_none, 1 },
	{ "firmware id", edit_fw, 0 },
	{ "product", edit_product, 0 },
	{ "module", edit_module, 0 },
	{ "version", edit_version, 0 },
	{ "kind", edit_kind, 0 },
	{ "scope", edit_scope, 0 },
	{ "gray 0", edit_gray0, 0 },
	{ "gray 1", edit_gray1, 1 },
	{ "gray 100", edit_gray100, 1 },
	{ "gray 101", edit_gray101, 0 },
	{ "verify all", edit_verify_all, 0 },
	{ "verify devices", edit_verify_devs, 1 },
	{ "verify dynamic", edit_verify_dyn, 0 },
	{ "gray dynamic", edit_gray_dyn, 0 },
	{ "dynamic", edit_dyn, 1 },
	{ "dynamic only new", edit_dyn_new, 1 },
	{ "static only new", edit_static_new, 0 },
	{ "too many sources", edit_nsrc, 0 },
	{ "bad source", edit_src_bad, 0 },
	{ "source is target", edit_src_target, 0 },
	{ "repeated source", edit_src_repeat, 0 },
	{ "two sources", edit_src_two, 1 },
	{ "any source", edit_src_none, 1 },
	{ "window", edit_window, 1 },
	{ "empty window", edit_window_bad, 0 },
	{ "end only", edit_window_end_only, 1 },
	{ "negative start", edit_window_neg, 0 },
	{ "rate 9", edit_rate9, 0 },
	{ "rate 10", edit_rate10, 1 },
	{ "rate 1000", edit_rate1000, 1 },
	{ "rate 1001", edit_rate1001, 0 },
	{ "retry 5", edit_retry5, 1 },
	{ "retry 6", edit_retry6, 0 },
	{ "interval 4321", edit_interval, 0 },
	{ "timeout 4", edit_timeout4, 0 },
	{ "timeout 5", edit_timeout5, 1 },
	{ "timeout 1441", edit_timeout1441, 0 },
	{ "abort", edit_abort_ok, 1 },
	{ "abort 101", edit_abort_101, 0 },
	{ "abort -2", edit_abort_neg, 0 },
};

static void
test_validate(void)
{
	struct job_rec job;
	char	 err[128];
	size_t	 i;

	jobs_job_defaults(&job);
	T_EQ_INT(job.kind, JOB_KIND_BATCH);
	T_EQ_INT(job.scope, JOB_SCOPE_ALL);
	T_EQ_INT(job.timeout_min, 1440);
	T_EQ_INT(job.rate_per_minute, 0);
	T_EQ_INT(job.retry_count, 0);
	T_EQ_INT(job.abort_percent, -1);
	T_EQ_INT(job.confirm, 0);
	T_EQ_INT(job.dynamic, 0);

	for (i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]);
	    i++) {
		const struct validate_case *c = &validate_cases[i];
		int	 fail0 = t_fail, r;

		job_base(&job);
		job.timeout_min = 1440;
		c->edit(&job);
		err[0] = '\0';
		r = jobs_job_validate(&job, err, sizeof(err));
		T_EQ_INT(r, c->ok ? 0 : -1);
		if (!c->ok)
			T_CHECK(err[0] != '\0');
		if (t_fail != fail0)
			fprintf(stderr, "  ^ in validate case \"%s\" (%s)\n",
			    c->name, err);
	}
}

static void
set_version(struct device_rec *d, const char *module, const char *version)
{
	snprintf(d->versions[d->nversions].module, OTA_ID_MAX + 1, "%s",
	    module);
	snprintf(d->versions[d->nversions].version, OTA_ID_MAX + 1, "%s",
	    version);
	d->nversions++;
}

static void
test_device_matches(void)
{
	struct job_rec job;
	struct device_rec d;

	job_base(&job);
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "d1");
	snprintf(d.product, sizeof(d.product), "p1");
	/* never reported */
	T_EQ_INT(jobs_device_matches(&job, &d), 0);
	job.nsrc = 0;
	T_EQ_INT(jobs_device_matches(&job, &d), 1);
	job.nsrc = 1;
	set_version(&d, "wifi", "1.0.0");
	T_EQ_INT(jobs_device_matches(&job, &d), 0);	/* other module */
	set_version(&d, "default", "1.0.0");
	T_EQ_INT(jobs_device_matches(&job, &d), 1);
	snprintf(d.versions[1].version, OTA_ID_MAX + 1, "2.0.0");
	T_EQ_INT(jobs_device_matches(&job, &d), 0);	/* on the target */
	job.nsrc = 0;
	T_EQ_INT(jobs_device_matches(&job, &d), 0);
	snprintf(d.versions[1].version, OTA_ID_MAX + 1, "0.1");
	T_EQ_INT(jobs_device_matches(&job, &d), 1);	/* any but target */
	job.nsrc = 1;
	T_EQ_INT(jobs_device_matches(&job, &d), 0);	/* not a source */
	snprintf(d.versions[1].version, OTA_ID_MAX + 1, "1.0.0");
	snprintf(d.product, sizeof(d.product), "p2");
	T_EQ_INT(jobs_device_matches(&job, &d), 0);	/* other product */

	/* the version lookup itself */
	T_EQ_STR(jobs_device_version(&d, "wifi"), "1.0.0");
	T_EQ_STR(jobs_device_version(&d, "default"), "1.0.0");
	T_CHECK(jobs_device_version(&d, "ble") == NULL);
	d.nversions = 0;
	T_CHECK(jobs_device_version(&d, "wifi") == NULL);
}

static void
test_job_is_open(void)
{
	static const struct { int state, open; } tab[] = {
		{ JOB_SCHEDULED, 1 }, { JOB_RUNNING, 1 }, { JOB_PAUSED, 1 },
		{ JOB_COMPLETED, 0 }, { JOB_TERMINATED, 0 },
	};
	struct job_rec job;
	size_t	 i;

	job_base(&job);
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		job.state = tab[i].state;
		T_EQ_INT(jobs_job_is_open(&job), tab[i].open);
	}
}

static void
test_names(void)
{
	int	 s, out;

	for (s = 0; s < JD_NSTATES; s++) {
		T_EQ_INT(jobs_jd_state_parse(jobs_jd_state_name(s), &out), 0);
		T_EQ_INT(out, s);
	}
	T_EQ_INT(jobs_jd_state_parse("upgrading", &out), 0);
	T_EQ_INT(out, JD_UPGRADING);
	T_EQ_INT(jobs_jd_state_parse("UPGRADE", &out), -1);
	T_EQ_INT(jobs_jd_state_parse("", &out), -1);
	T_EQ_INT(jobs_jd_state_parse(NULL, &out), -1);
	T_EQ_STR(jobs_jd_state_name(-1), "UNKNOWN");
	T_EQ_STR(jobs_jd_state_name(JD_NSTATES), "UNKNOWN");
	T_EQ_STR(jobs_state_name(JOB_SCHEDULED), "SCHEDULED");
	T_EQ_STR(jobs_state_name(JOB_PAUSED), "PAUSED");
	T_EQ_STR(jobs_state_name(JOB_COMPLETED), "COMPLETED");
	T_EQ_STR(jobs_state_name(9), "UNKNOWN");
	T_EQ_STR(jobs_kind_name(JOB_KIND_BATCH), "batch");
	T_EQ_STR(jobs_kind_name(JOB_KIND_VERIFY), "verify");
	T_EQ_STR(jobs_fw_state_name(FW_UNVERIFIED), "UNVERIFIED");
	T_EQ_STR(jobs_fw_state_name(FW_VERIFIED), "VERIFIED");
	T_EQ_STR(jobs_fw_state_name(FW_VERIFY_FAILED), "VERIFY_FAILED");

	/* open and final partition the states, RETRY_WAIT being open */
	for (s = 0; s < JD_NSTATES; s++)
		T_CHECK(jobs_jd_is_open(s) != jobs_jd_is_final(s));
	T_CHECK(jobs_jd_is_open(JD_RETRY_WAIT));
	T_CHECK(jobs_jd_is_final(JD_FAILED));
	T_CHECK(!jobs_jd_is_open(42) && !jobs_jd_is_final(42));
}

static void
test_gray(void)
{
	static const struct {
		size_t	 n;
		int	 p;
		size_t	 want;
	} gc[] = {
		{ 0, 10, 0 }, { 1, 10, 1 }, { 9, 10, 1 }, { 10, 10, 1 },
		{ 19, 10, 1 }, { 20, 10, 2 }, { 200, 10, 20 }, { 200, 1, 2 },
		{ 99, 1, 1 }, { 5, 100, 5 }, { 5, 0, 0 },
		{ 1000001, 33, 330000 },
	};
	char	 dev[32];
	uint64_t r1, r2, lim;
	size_t	 i, in = 0, n = 20000;

	for (i = 0; i < sizeof(gc) / sizeof(gc[0]); i++)
		T_EQ_INT(jobs_gray_count(gc[i].n, gc[i].p), gc[i].want);

	/* stable: depends only on (job, device) */
	r1 = jobs_gray_rank("j-1", "dev-1");
	r2 = jobs_gray_rank("j-1", "dev-1");
	T_CHECK(r1 == r2);
	T_CHECK(jobs_gray_rank("j-1", "dev-2") != r1);
	T_CHECK(jobs_gray_rank("j-2", "dev-1") != r1);
	/* "j-1"+"0dev" and "j-10"+"dev" must not collide */
	T_CHECK(jobs_gray_rank("j-1", "0dev") != jobs_gray_rank("j-10", "dev"));
	/* a fixed value, so the pick never changes between releases */
	T_CHECK(jobs_gray_rank("", "") == jobs_gray_rank("", ""));

	/* spread: about 10% of sequential ids fall under 10% of the range */
	lim = UINT64_MAX / 10;
	for (i = 0; i < n; i++) {
		snprintf(dev, sizeof(dev), "dev-%zu", i);
		if (jobs_gray_rank("j-7", dev) < lim)
			in++;
	}
	T_CHECK(in > n / 10 - n / 50 && in < n / 10 + n / 50);
}

static void
test_counts_and_misc(void)
{
	struct jobs_counts c;
	struct jobs_change ch;

	memset(&c, 0, sizeof(c));
	jobs_counts_add(&c, JD_QUEUED);
	jobs_counts_add(&c, JD_QUEUED);
	jobs_counts_add(&c, JD_UPGRADING);
	jobs_counts_add(&c, 99);
	T_EQ_INT(c.total, 3);
	T_EQ_INT(c.n[JD_QUEUED], 2);
	memset(&ch, 0, sizeof(ch));
	ch.from = JD_QUEUED;
	ch.to = JD_NOTIFIED;
	jobs_counts_apply(&c, &ch);
	T_EQ_INT(c.n[JD_QUEUED], 1);
	T_EQ_INT(c.n[JD_NOTIFIED], 1);
	T_EQ_INT(c.total, 3);
	ch.from = ch.to = JD_NOTIFIED;
	jobs_counts_apply(&c, &ch);
	T_EQ_INT(c.n[JD_NOTIFIED], 1);

	T_EQ_INT(jobs_verify_result(&c), FW_VERIFY_FAILED);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(jobs_verify_result(&c), FW_VERIFY_FAILED);
	jobs_counts_add(&c, JD_SUCCEEDED);
	jobs_counts_add(&c, JD_SUCCEEDED);
	T_EQ_INT(jobs_verify_result(&c), FW_VERIFIED);
	jobs_counts_add(&c, JD_CANCELED);
	T_EQ_INT(jobs_verify_result(&c), FW_VERIFY_FAILED);

}

/*
 * Wake-up hints: seconds until something can change for a device
 * because of one row (check_interval 3600, busy 60, confirm 300).
 */
static void
test_wake_after(void)
{
	static const struct jobs_wake w = { 3600, 60, 300 };
	static const struct {
		const char	*what;
		int		 job_state;
		int		 jd_state;
		int64_t		 start;		/* relative to now, ms */
		unsigned	 rate, used;
		int64_t		 window;	/* rate window start, rel. */
		int64_t		 next_at;	/* retry, rel. */
		unsigned	 want;
	} t[] = {
		{ "queued, nothing in the way", JOB_RUNNING, JD_QUEUED, 0, 0,
		    0, 0, 0, 3600 },
		{ "queued, window opens in 60 s", JOB_SCHEDULED, JD_QUEUED,
		    60000, 0, 0, 0, 0, 61 },
		{ "queued, window opens in 1.5 s", JOB_SCHEDULED, JD_QUEUED,
		    1500, 0, 0, 0, 0, 3 },
		{ "queued, window opens in 2 h", JOB_SCHEDULED, JD_QUEUED,
		    7200000, 0, 0, 0, 0, 3600 },
		{ "queued, rate-limited, window 20 s old", JOB_RUNNING,
		    JD_QUEUED, 0, 10, 10, -20000, 0, 40 },
		{ "queued, rate not used up", JOB_RUNNING, JD_QUEUED, 0, 10,
		    9, -20000, 0, 3600 },
		{ "queued, rate window over", JOB_RUNNING, JD_QUEUED, 0, 10,
		    10, -70000, 0, 3600 },
		{ "queued, paused", JOB_PAUSED, JD_QUEUED, 0, 0, 0, 0, 0,
		    3600 },
		{ "notified", JOB_RUNNING, JD_NOTIFIED, 0, 0, 0, 0, 0, 60 },
		{ "upgrading", JOB_RUNNING, JD_UPGRADING, 0, 0, 0, 0, 0, 60 },
		{ "waiting for confirmation", JOB_RUNNING, JD_WAIT_CONFIRM, 0,
		    0, 0, 0, 0, 300 },
		{ "retry in 90 s", JOB_RUNNING, JD_RETRY_WAIT, 0, 0, 0, 0,
		    90000, 90 },
		{ "retry in 0.2 s", JOB_RUNNING, JD_RETRY_WAIT, 0, 0, 0, 0,
		    200, 1 },
		{ "retry overdue", JOB_RUNNING, JD_RETRY_WAIT, 0, 0, 0, 0,
		    -5000, 1 },
		{ "retry in a day", JOB_RUNNING, JD_RETRY_WAIT, 0, 0, 0, 0,
		    86400000, 3600 },
		{ "retry, job terminated", JOB_TERMINATED, JD_RETRY_WAIT, 0,
		    0, 0, 0, 90000, 3600 },
		{ "succeeded", JOB_RUNNING, JD_SUCCEEDED, 0, 0, 0, 0, 0,
		    3600 },
	};
	const int64_t now = 1700000000000LL;
	struct job_rec job;
	struct jobdev_rec jd;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&job, 0, sizeof(job));
		memset(&jd, 0, sizeof(jd));
		job.state = t[i].job_state;
		job.start = t[i].start != 0 ? now + t[i].start : 0;
		job.rate_per_minute = t[i].rate;
		job.rate_used = t[i].used;
		job.rate_window = now + t[i].window;
		jd.state = t[i].jd_state;
		jd.next_at = t[i].next_at != 0 ? now + t[i].next_at : 0;
		if (jobs_wake_after(&job, &jd, now, &w) != t[i].want)
			fprintf(stderr, "wake: %s: %u, want %u\n", t[i].what,
			    jobs_wake_after(&job, &jd, now, &w), t[i].want);
		T_EQ_INT(jobs_wake_after(&job, &jd, now, &w), t[i].want);
	}
}

/*
 * A campaign of 40 devices with a rate of 10 a minute, retries and an
 * abort rule, played through minute by minute.
 */
static void
test_campaign(void)
{
	struct job_rec job;
	struct jobdev_rec jd[40];
	struct jobs_counts c;
	struct jobs_change ch;
	int64_t	 now = T0;
	int	 i, minute, notices, s;

	job_base(&job);
	job.state = JOB_SCHEDULED;
	job.start = T0 + MIN;
	job.rate_per_minute = 10;
	job.retry_count = 1;
	job.retry_interval_min = 0;
	job.abort_percent = 50;
	job.abort_min_devices = 10;
	T_EQ_INT(jobs_job_validate(&job, NULL, 0), 0);
	for (i = 0; i < 40; i++) {
		char	 name[16];

		snprintf(name, sizeof(name), "d%d", i);
		jobs_jd_init(&job, &jd[i], name, now);
	}

	for (minute = 0; minute < 8; minute++) {
		now = T0 + minute * MIN;
		memset(&c, 0, sizeof(c));
		for (i = 0; i < 40; i++) {
			jobs_on_tick(&job, &jd[i], now, &ch);
			jobs_counts_add(&c, jd[i].state);
		}
		jobs_job_tick(&job, &c, now);
		notices = 0;
		for (i = 0; i < 40; i++) {
			if (jobs_on_check(&job, &jd[i], NULL, now + i,
			    &ch) == 1 && ch.from != JD_NOTIFIED)
				notices++;
		}
		if (minute == 0) {
			T_EQ_INT(notices, 0);
			T_EQ_STR(jd[0].reason, "scheduled");
		} else if (minute <= 4)
			T_EQ_INT(notices, 10);
		/* devices 0..9 succeed; devices 10..19 fail once, then
		 * succeed on their retry */
		for (i = 0; i < 20; i++) {
			if (jd[i].state != JD_NOTIFIED)
				continue;
			if (i >= 10 && jd[i].retries == 0) {
				jobs_on_progress(&job, &jd[i], -2, "dl", NULL,
				    now + 100, &ch);
				continue;
			}
			jobs_on_progress(&job, &jd[i], 100, NULL, "2.0.0",
			    now + 100, &ch);
		}
		/* devices 20..39 report progress and go quiet */
		for (i = 20; i < 40; i++)
			if (jd[i].state == JD_NOTIFIED)
				jobs_on_progress(&job, &jd[i], 30, NULL, NULL,
				    now + 200, &ch);
	}
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 40; i++)
		jobs_counts_add(&c, jd[i].state);
	T_EQ_INT(c.n[JD_SUCCEEDED], 20);
	T_EQ_INT(c.n[JD_UPGRADING], 20);
	for (i = 10; i < 20; i++)
		T_EQ_INT(jd[i].retries, 1);
	T_EQ_STR(jobs_state_name(job.state), "RUNNING");

	/* 40 minutes later the quiet ones time out: 20 of 40 failed */
	now = T0 + 40 * MIN;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 40; i++) {
		jobs_on_tick(&job, &jd[i], now, &ch);
		jobs_counts_add(&c, jd[i].state);
	}
	T_EQ_INT(c.n[JD_FAILED], 20);
	for (s = 0; s < JD_NSTATES; s++)
		if (jobs_jd_is_open(s))
			T_EQ_INT(c.n[s], 0);
	T_EQ_INT(jobs_job_tick(&job, &c, now), 1);
	T_EQ_STR(jobs_state_name(job.state), "COMPLETED");
}

/* The same campaign with an abort rule that trips early. */
static void
test_abort_campaign(void)
{
	struct job_rec job;
	struct jobdev_rec jd[20];
	struct jobs_counts c;
	struct jobs_change ch;
	int	 i;

	job_base(&job);
	job.abort_percent = 20;
	job.abort_min_devices = 5;
	for (i = 0; i < 20; i++) {
		char	 name[16];

		snprintf(name, sizeof(name), "d%d", i);
		jobs_jd_init(&job, &jd[i], name, T0);
	}
	for (i = 0; i < 5; i++) {
		T_EQ_INT(jobs_on_check(&job, &jd[i], NULL, T0, &ch), 1);
		jobs_on_progress(&job, &jd[i], i < 2 ? -1 : 100, NULL,
		    i < 2 ? NULL : "2.0.0", T0, &ch);
	}
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 20; i++)
		jobs_counts_add(&c, jd[i].state);
	T_EQ_INT(jobs_job_tick(&job, &c, T0), 1);
	T_EQ_STR(jobs_state_name(job.state), "PAUSED");
	/* no new notices while paused; started rows keep going */
	T_EQ_INT(jobs_on_check(&job, &jd[10], NULL, T0 + 1, &ch), 0);
	T_EQ_STR(jd[10].reason, "paused");
}

/*
 * Anti-rollback: which rows jobs_on_seq fails, for each row state, job
 * seq, accepted seq and downgrade flag; then jobs_device_accept_seq.
 */
static void
test_seq_rule(void)
{
	static const struct {
		const char *state;
		uint32_t job_seq;
		uint32_t accepted;
		int	 downgrade;
		int	 failed;	/* jobs_on_seq's answer */
		const char *after;
	} cases[] = {
		{ "QUEUED", 2, 3, 0, 1, "FAILED" },
		{ "NOTIFIED", 2, 3, 0, 1, "FAILED" },
		{ "WAIT_CONFIRM", 2, 3, 0, 1, "FAILED" },
		{ "RETRY_WAIT", 2, 3, 0, 1, "FAILED" },
		{ "UPGRADING", 2, 3, 0, 0, "UPGRADING" },
		{ "SUCCEEDED", 2, 3, 0, 0, "SUCCEEDED" },
		{ "FAILED", 2, 3, 0, 0, "FAILED" },
		{ "CANCELED", 2, 3, 0, 0, "CANCELED" },
		/* equal, higher, nothing accepted, no seq, downgrade */
		{ "QUEUED", 3, 3, 0, 0, "QUEUED" },
		{ "QUEUED", 4, 3, 0, 0, "QUEUED" },
		{ "QUEUED", 1, 0, 0, 0, "QUEUED" },
		{ "QUEUED", 0, 9, 0, 0, "QUEUED" },
		{ "NOTIFIED", 2, 3, 1, 0, "NOTIFIED" },
		{ "QUEUED", 1, UINT32_MAX, 1, 0, "QUEUED" },
		{ "QUEUED", UINT32_MAX - 1, UINT32_MAX, 0, 1, "FAILED" },
	};
	struct job_rec job;
	struct jobdev_rec jd;
	struct jobs_change ch;
	struct device_rec dev;
	size_t	 i;
	int	 st, r;
	char	 m[16];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		job_base(&job);
		job.seq = cases[i].job_seq;
		job.allow_downgrade = cases[i].downgrade;
		job.retry_count = 5;
		jobs_jd_init(&job, &jd, "d1", T0);
		T_EQ_INT(jobs_jd_state_parse(cases[i].state, &st), 0);
		jd.state = st;
		jd.retries = 0;
		r = jobs_on_seq(&job, &jd, cases[i].accepted, T0, &ch);
		T_EQ_INT(r, cases[i].failed);
		T_EQ_STR(jobs_jd_state_name(jd.state), cases[i].after);
		T_EQ_INT(ch.changed, cases[i].failed);
		if (r == 1) {
			T_EQ_STR(jd.reason, "rollback");
			T_EQ_INT(ch.to, JD_FAILED);
			T_EQ_INT(ch.from, st);
			T_EQ_INT(jd.next_at, 0);
			/* and no notice comes of it later */
			T_EQ_INT(jobs_on_check(&job, &jd, NULL, T0 + 1, &ch),
			    0);
		}
		if (r != cases[i].failed)
			fprintf(stderr, "  seq case %zu\n", i);
	}

	memset(&dev, 0, sizeof(dev));
	T_EQ_INT(jobs_device_seq(&dev, "default"), 0);
	T_EQ_INT(jobs_device_accept_seq(&dev, "default", 0, 0), 0);
	T_EQ_INT(jobs_device_accept_seq(&dev, "default", 3, 0), 1);
	T_EQ_INT(jobs_device_accept_seq(&dev, "default", 3, 0), 0);
	T_EQ_INT(jobs_device_accept_seq(&dev, "default", 2, 0), 0);
	T_EQ_INT(jobs_device_seq(&dev, "default"), 3);
	T_EQ_INT(jobs_device_accept_seq(&dev, "default", 5, 0), 1);
	T_EQ_INT(jobs_device_seq(&dev, "default"), 5);
	/* a downgrade's success sets it lower */
	T_EQ_INT(jobs_device_accept_seq(&dev, "default", 2, 1), 1);
	T_EQ_INT(jobs_device_seq(&dev, "default"), 2);
	T_EQ_INT(jobs_device_seq(&dev, "wifi"), 0);
	/* one entry per module, at most OTA_MODULES_MAX */
	for (i = 1; i < OTA_MODULES_MAX; i++) {
		snprintf(m, sizeof(m), "m%zu", i);
		T_EQ_INT(jobs_device_accept_seq(&dev, m, (uint32_t)i, 0), 1);
	}
	T_EQ_INT(dev.nseqs, OTA_MODULES_MAX);
	T_EQ_INT(jobs_device_accept_seq(&dev, "full", 1, 0), 0);
	T_EQ_INT(dev.nseqs, OTA_MODULES_MAX);
	T_EQ_INT(jobs_device_seq(&dev, "m7"), 7);
	T_EQ_INT(jobs_device_accept_seq(&dev, "m7", 8, 0), 1);
	T_EQ_INT(jobs_device_seq(&dev, "m7"), 8);
}

int
main(void)
{
	T_RUN(test_row_table);
	T_RUN(test_row_details);
	T_RUN(test_job_tick);
	T_RUN(test_validate);
	T_RUN(test_device_matches);
	T_RUN(test_job_is_open);
	T_RUN(test_names);
	T_RUN(test_gray);
	T_RUN(test_counts_and_misc);
	T_RUN(test_wake_after);
	T_RUN(test_campaign);
	T_RUN(test_abort_campaign);
	T_RUN(test_patch_fallback);
	T_RUN(test_seq_rule);
	return t_done();
}
