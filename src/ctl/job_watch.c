/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * job_watch.c: otactl job show --watch, a live view of a job until it is
 * COMPLETED or TERMINATED (or SIGINT, SIGTERM).  Once a second it asks the
 * backend for the job and its rows.  On a terminal it redraws a bar per
 * state and the rows that changed last; otherwise it prints one line of
 * counts per second followed by the rows changed since the line before,
 * which suits logs (with --json: one job object per second).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "ctl/otactl.h"
#include "util/validate.h"

/* The most recently changed rows of a job, newest first. */
struct recent {
	struct jobdev_rec rows[8];
	size_t	 n;
	int64_t	 since;		/* only rows updated after this */
};

static int
recent_cb(const struct jobdev_rec *jd, void *arg)
{
	struct recent *r = arg;
	size_t	 i;

	if (jd->updated <= r->since)
		return 0;
	for (i = r->n; i > 0 && r->rows[i - 1].updated < jd->updated; i--)
		;
	if (i == sizeof(r->rows) / sizeof(r->rows[0]))
		return 0;
	if (r->n < sizeof(r->rows) / sizeof(r->rows[0]))
		r->n++;
	memmove(&r->rows[i + 1], &r->rows[i],
	    (r->n - i - 1) * sizeof(r->rows[0]));
	r->rows[i] = *jd;
	return 0;
}

static volatile sig_atomic_t watch_stop;

static int
job_is_final_state(int state)
{
	return state == JOB_COMPLETED || state == JOB_TERMINATED;
}

static void
watch_sig(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void
recent_line(const struct jobdev_rec *jd, const char *lead)
{
	char	 t[32];

	ctl_fmt_time(jd->updated, t);
	printf("%s%s  %-20s %-12s", lead, t, jd->device,
	    jobs_jd_state_name(jd->state));
	if (jd->state == JD_UPGRADING || jd->step != 0)
		printf(" step %d", jd->step);
	if (jd->reason[0] != '\0')
		printf(" (%s)", jd->reason);
	if (jd->desc[0] != '\0')
		printf(" %s", jd->desc);
	putchar('\n');
}

/* One frame of the live view on a terminal. */
static void
watch_draw(const struct ops_job_item *it, const struct recent *r)
{
	const int width = 40;
	char	 t[32];
	size_t	 i, fill;
	int	 s;

	ctl_fmt_time(time_now_ms(), t);
	fputs("\033[H\033[2J", stdout);
	printf("job %s  %s  %s %s/%s  firmware %s  (%s)\n\n", it->job.id,
	    jobs_state_name(it->job.state), it->job.product, it->job.module,
	    it->job.version, it->job.firmware, t);
	for (s = 0; s < JD_NSTATES; s++) {
		fill = it->counts.total ? (it->counts.n[s] * width +
		    it->counts.total - 1) / it->counts.total : 0;
		printf("  %-13s [", jobs_jd_state_name(s));
		for (i = 0; i < (size_t)width; i++)
			fputs(i < fill ? "#" : " ", stdout);
		printf("] %zu\n", it->counts.n[s]);
	}
	printf("  %-13s  %*s  %zu\n\nrecent changes:\n", "total", width, "",
	    it->counts.total);
	for (i = 0; i < r->n; i++)
		recent_line(&r->rows[i], "  ");
	if (!job_is_final_state(it->job.state))
		printf("\n(Ctrl-C to stop)\n");
	fflush(stdout);
}

/* Not on a terminal: a line of counts and the rows changed since. */
static void
watch_log(const struct ops_job_item *it, const struct recent *r)
{
	char	 t[32], counts[512];
	size_t	 i;

	ctl_fmt_time(time_now_ms(), t);
	ctl_counts_line(&it->counts, counts, sizeof(counts));
	printf("%s %s %s total %zu: %s\n", t, it->job.id,
	    jobs_state_name(it->job.state), it->counts.total, counts);
	/* oldest first, so the lines read as a log */
	for (i = r->n; i > 0; i--)
		recent_line(&r->rows[i - 1], "  ");
}

int
ctl_job_watch(struct ctl *ctl, const char *id)
{
	struct ops_job_item it;
	struct recent r;
	struct ops_err err;
	struct sigaction sa;
	struct timespec ts;
	int64_t	 since = 0;
	size_t	 i;
	int	 tty, final;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_sig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	tty = isatty(STDOUT_FILENO) && !ctl->json;
	while (!watch_stop) {
		if (ctl->be->job_show(ctl, id, &it, &err) != OPS_OK)
			return ctl_op_fail(&err);
		memset(&r, 0, sizeof(r));
		r.since = tty ? 0 : since;
		if (ctl->be->job_devices(ctl, id, NULL, recent_cb, &r, NULL,
		    &err) != OPS_OK)
			return ctl_op_fail(&err);
		final = job_is_final_state(it.job.state);
		if (tty)
			watch_draw(&it, &r);
		else if (ctl->json) {
			ctl_json_put(codec_job_encode(&it.job, &it.counts,
			    NULL));
			putchar('\n');
		} else
			watch_log(&it, &r);
		for (i = 0; i < r.n; i++)
			if (r.rows[i].updated > since)
				since = r.rows[i].updated;
		/* SIGPIPE is ignored: a reader that left ends the watch */
		if (fflush(stdout) == EOF)
			return EXIT_OP;
		if (final)
			break;
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		while (!watch_stop && nanosleep(&ts, &ts) == -1 &&
		    errno == EINTR)
			;
	}
	return 0;
}
