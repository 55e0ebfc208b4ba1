/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * core.c: the protocol-neutral device requests (check, progress, download),
 * the device credentials the front ends ask for, and the time-driven job
 * rules.
 *
 * Every front end (CoAP, CoAP over DTLS, HTTP/2, HTTP/1.1) translates its
 * request into a struct core_req and its answer from a struct core_resp,
 * so authorization, validation, the job rules (src/jobs) and the store
 * transaction exist once, here.
 *
 * Checks are the hot path: a sleepy device checks in, usually to hear that
 * nothing is pending.  A check therefore runs the rules first in a read
 * transaction on copies of the records, and opens a write transaction only
 * when something would change: a version that differs from the stored one,
 * a row state or wait reason, a job's rate counter, or a last_seen older
 * than CORE_SEEN_MS.  The write pass runs the same rules again on fresh
 * records, so nothing another process wrote in between is lost.  Version
 * reports reach the upstream outbox (an "inform" event) whenever a check
 * writes: at once when a version changed, and otherwise with the last_seen
 * refresh, at most once a CORE_SEEN_MS per device.
 *
 * Progress reports always change something, so they go straight to one
 * write transaction: the row, the device, a progress event and one state
 * event per state the row entered.
 *
 * core_tick applies the rules that depend on time alone (job windows,
 * completion and the abort threshold, row timeouts, retry waits, rows of a
 * terminated job).  To stay cheap it keeps, per job, the row counts and the
 * earliest time a row is due, learnt from a full scan of the job's rows and
 * kept up to date by the changes this process makes; a job's rows are
 * scanned again only when something is due, when the job's own rules would
 * change it, or every CORE_RESCAN_MS to notice what other processes (otactl)
 * changed.  Whatever the tick writes, it decides on records read again in
 * its write transaction.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/capability.h"
#include "core/core.h"
#include "core/core_int.h"
#include "core/grant.h"
#include "core/signer.h"
#include "core/transfer.h"
#include "events/events.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "log.h"
#include "store/store.h"
#include "util/validate.h"

#define CORE_SEEN_MS		(60 * (int64_t)1000)
#define CORE_RESCAN_MS		(30 * (int64_t)1000)
#define CORE_MAX_ROWS		64	/* open rows of one device looked at */
#define CORE_TICK_SCANS		4	/* job scans per tick */
#define CORE_TICK_ROWS		500	/* due rows handled per slice */
#define CORE_TICK_SCAN_ROWS	5000	/* rows looked at per tick */
#define CORE_SETTLE_COUNT_MAX	20000	/* rows a report counts at most */
#define CORE_URL_MAX		(CONFIG_STR + 16)
/* "device=" id "&expires=" seconds "&sig=" signature */
#define CORE_QUERY_MAX		(OTA_ID_MAX + CAP_SIG_LEN + 48)
#define CORE_DEFAULT_BODY	16384
/* core_check_peek: "nothing time-driven", as a wake-up hint */
#define CORE_PEEK_IDLE_S	(7 * 86400)

/* What the tick remembers about one job. */
struct tick_job {
	char	 id[OTA_ID_MAX + 1];
	int	 known;			/* counts and next_due are valid */
	int	 final_done;		/* final job with no open row left */
	struct jobs_counts counts;
	int64_t	 next_due;		/* earliest row due, 0: none */
	int64_t	 scanned;		/* last full pass */
	int	 self_ended;		/* the tick terminated it */
	/* a pass over the rows in slices, one per tick, under way */
	int	 passing;
	char	 cursor[OTA_ID_MAX + 1];	/* the last row looked at */
	struct jobs_counts pcounts;	/* of the rows up to the cursor */
	int64_t	 pnext_due;
};

/* One open row of a checking device, with its job. */
struct crow {
	struct jobdev_rec jd;
	struct job_rec job;
	int	 orig;			/* state as read */
	int	 changed;
	int	 job_changed;
	int	 settled;		/* settle_now wrote the job */
	struct jobs_counts counts;	/* then its rows, counted */
};

#define CORE_DIRTY_MAX	1024	/* dirty jobs listed, then all are */

struct core {
	struct store *st;
	const struct config *cfg;
	int64_t	(*clock)(void *);
	void	*clock_arg;
	char	 url[3][CORE_URL_MAX];	/* per enum core_proto */

	struct crow *rows;		/* CORE_MAX_ROWS, reused per check */

	struct tick_job *tj;
	size_t	 ntj, captj;
	struct job_rec *dyn;		/* open dynamic jobs */
	size_t	 ndyn, capdyn;
	uint64_t dyn_jobs;		/* job ids allocated as dyn was built */
	char	(*due)[OTA_ID_MAX + 1];	/* CORE_TICK_ROWS, reused per scan */
	struct grant_table *grants;	/* downloads allowed a moment ago */
	struct xfer_table *xfer;	/* bytes delivered per device */
	struct core *main;		/* a worker's: main's core, else NULL */
	/*
	 * Main's only: jobs whose rows a worker changed since the tick last
	 * looked at them.  The tick's memory of their counts and due times
	 * is stale: it passes over their rows again, and a report on main's
	 * thread counts them in its transaction instead of trusting it.
	 */
	pthread_mutex_t dirty_lock;
	char	(*dirty)[OTA_ID_MAX + 1];
	size_t	 ndirty;
	int	 dirty_all;		/* more than CORE_DIRTY_MAX */
	uint64_t rng;			/* xorshift state, for the jitter */
	struct watch_table *watches;	/* devices waiting for a notice */
	struct signer *signer;		/* signs notices when a key is set */
	char	 notice_job[OTA_ID_MAX + 1];	/* the last check's notice */
};

static int64_t
clock_real(void *arg)
{
	(void)arg;
	return time_now_ms();
}

static int64_t
core_now(struct core *c)
{
	return c->clock(c->clock_arg);
}

/*
 * The public address of a protocol: the configured one, or one made from
 * the listen address ("localhost" for a wildcard host).
 */
static void
url_make(char *out, size_t n, const char *configured, const char *scheme,
    const struct config_listen *l)
{
	const char *host = l->host;
	size_t	 len;

	if (configured != NULL && configured[0] != '\0') {
		snprintf(out, n, "%s", configured);
		len = strlen(out);
		while (len > 0 && out[len - 1] == '/')
			out[--len] = '\0';
		return;
	}
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0 ||
	    strcmp(host, "*") == 0)
		host = "localhost";
	if (strchr(host, ':') != NULL && host[0] != '[')
		snprintf(out, n, "%s://[%s]:%u", scheme, host, l->port);
	else
		snprintf(out, n, "%s://%s:%u", scheme, host, l->port);
}

static void
core_apply_config(struct core *c)
{
	const struct config *cfg = c->cfg;

	url_make(c->url[CORE_PROTO_COAP], CORE_URL_MAX, cfg->coap_public,
	    "coap", &cfg->coap);
	url_make(c->url[CORE_PROTO_COAPS], CORE_URL_MAX, cfg->coaps_public,
	    "coaps", &cfg->coaps);
	url_make(c->url[CORE_PROTO_HTTPS], CORE_URL_MAX, cfg->https_public,
	    "https", &cfg->https);
}

/*
 * The key that signs download URLs, made at the first start (and again
 * should it ever be missing).  0 or -1.
 */
static int
core_url_keys_init(struct core *c)
{
	struct store_txn *txn;
	struct url_keys keys;
	int	 rc;

	if ((rc = store_txn_begin(c->st, 0, &txn)) != 0)
		goto fail;
	rc = store_url_keys_get(txn, &keys);
	if (rc == STORE_ENOTFOUND) {
		memset(&keys, 0, sizeof(keys));
		keys.rotated = core_now(c);
		if (crypto_random(keys.cur, sizeof(keys.cur)) == -1) {
			store_txn_abort(txn);
			return -1;
		}
		if ((rc = store_url_keys_put(txn, &keys)) == 0) {
			rc = store_txn_commit(txn);
			txn = NULL;
			if (rc == 0)
				log_info("made the key that signs download "
				    "URLs");
		}
	}
	explicit_bzero(&keys, sizeof(keys));
	store_txn_abort(txn);
	if (rc == 0)
		return 0;
fail:
	log_warnx("the key that signs download URLs: %s",
	    store_strerror(rc));
	return -1;
}

/*
 * Records history_max_per_device in the store when it differs from what
 * is there, so that otactl, which reads no configuration, trims devices'
 * histories to the same bound.  A failure is logged: the bound already
 * recorded (or the default) stays.
 */
static void
core_history_max_record(struct core *c)
{
	struct store_txn *txn;
	unsigned cur;
	int	 rc;

	if (c->cfg->history_max_per_device == 0)
		return;	/* not set (a struct config made by hand) */
	if ((rc = store_txn_begin(c->st, 0, &txn)) != 0)
		goto fail;
	rc = store_history_max_get(txn, &cur);
	if (rc == 0 && cur == c->cfg->history_max_per_device) {
		store_txn_abort(txn);
		return;
	}
	if (rc == 0)
		rc = store_history_max_set(txn, c->cfg->history_max_per_device);
	if (rc != 0) {
		store_txn_abort(txn);
		goto fail;
	}
	if ((rc = store_txn_commit(txn)) != 0)
		goto fail;
	log_info("devices keep their last %u upgrade history entries",
	    c->cfg->history_max_per_device);
	return;
fail:
	log_warnx("history_max_per_device %u: %s",
	    c->cfg->history_max_per_device, store_strerror(rc));
}

/*
 * What every core has: its rows, grants and watches, the store, the
 * configuration and a clock.  main NULL: main's own core, which also
 * owns the transfer table and the list of dirty jobs; else a worker's,
 * which shares main's transfer table (a device may go on downloading on
 * another worker's connection).
 */
static struct core *
core_alloc(struct store *st, const struct config *cfg, struct core *main)
{
	struct core *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("core_new");
		return NULL;
	}
	c->main = main;
	c->rows = calloc(CORE_MAX_ROWS, sizeof(*c->rows));
	c->grants = grant_table_new();
	c->watches = watch_table_new();
	c->signer = signer_new();
	if (main != NULL)
		c->xfer = main->xfer;
	else {
		c->xfer = xfer_new(st);
		c->dirty = calloc(CORE_DIRTY_MAX, sizeof(*c->dirty));
		if (c->dirty != NULL && pthread_mutex_init(&c->dirty_lock,
		    NULL) != 0) {
			free(c->dirty);
			c->dirty = NULL;
		}
	}
	if (c->rows == NULL || c->grants == NULL || c->xfer == NULL ||
	    c->watches == NULL || c->signer == NULL ||
	    (main == NULL && c->dirty == NULL)) {
		log_warn("core_new");
		core_free(c);
		return NULL;
	}
	c->st = st;
	c->cfg = cfg;
	c->clock = main != NULL ? main->clock : clock_real;
	c->clock_arg = main != NULL ? main->clock_arg : NULL;
	if (crypto_random(&c->rng, sizeof(c->rng)) == -1 || c->rng == 0)
		c->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time_now_ms() ^
		    (uintptr_t)c;
	core_apply_config(c);
	return c;
}

struct core *
core_new(struct store *st, const struct config *cfg)
{
	struct core *c;

	if ((c = core_alloc(st, cfg, NULL)) == NULL)
		return NULL;
	if (core_url_keys_init(c) == -1) {
		core_free(c);
		return NULL;
	}
	core_history_max_record(c);
	return c;
}

void
core_free(struct core *c)
{
	if (c == NULL)
		return;
	free(c->rows);
	free(c->tj);
	free(c->dyn);
	free(c->due);
	grant_table_free(c->grants);
	if (c->main == NULL)
		xfer_free(c->xfer);
	if (c->dirty != NULL) {
		pthread_mutex_destroy(&c->dirty_lock);
		free(c->dirty);
	}
	watch_table_free(c->watches);
	signer_free(c->signer);
	free(c);
}

/* A worker thread's core (core.h): see core_alloc. */
struct core *
core_new_worker(struct core *main, const struct config *cfg)
{
	return core_alloc(main->st, cfg, main);
}

void
core_set_config(struct core *c, const struct config *cfg)
{
	c->cfg = cfg;
	core_apply_config(c);
	if (c->main == NULL)
		core_history_max_record(c);
}

void
core_set_clock(struct core *c, int64_t (*now)(void *), void *arg)
{
	if (now == NULL) {
		c->clock = clock_real;
		c->clock_arg = NULL;
	} else {
		c->clock = now;
		c->clock_arg = arg;
	}
}

void
core_resp_cleanup(struct core_resp *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->is_signed = 0;
}

/* The "error" member of the JSON body of an error answer. */
static const char *
core_error_code(int status)
{
	switch (status) {
	case CORE_BAD_REQUEST:
		return "bad_request";
	case CORE_UNAUTHORIZED:
		return "unauthorized";
	case CORE_FORBIDDEN:
		return "forbidden";
	case CORE_NOT_FOUND:
		return "not_found";
	case CORE_TOO_LARGE:
		return "too_large";
	case CORE_UNAVAILABLE:
		return "unavailable";
	default:
		return "internal";
	}
}

/* An error answer with its JSON diagnostic. */
static void
resp_error(struct core_resp *resp, int status, const char *message)
{
	core_resp_cleanup(resp);
	resp->status = status;
	resp->retry_after = 0;
	resp->body = codec_error_encode(core_error_code(status), message,
	    &resp->body_len);
}

/* Store failures as answers: a full store is worth retrying later. */
static void
resp_store_error(struct core_resp *resp, int rc, const char *what)
{
	if (rc == STORE_ENOTFOUND) {
		resp_error(resp, CORE_NOT_FOUND, what);
		return;
	}
	log_warnx("%s: %s", what, store_strerror(rc));
	if (rc == STORE_EFULL || rc == STORE_EBUSY)
		resp_error(resp, CORE_UNAVAILABLE, "the gateway's store is "
		    "full or busy; try again later");
	else
		resp_error(resp, CORE_INTERNAL, "store failure");
}

/*
 * The request checks every device request starts with.  Returns 0, or -1
 * with resp set.
 */
static int
req_validate(struct core *c, const struct core_req *req,
    struct core_resp *resp)
{
	size_t	 max = c->cfg->max_body > 0 ? c->cfg->max_body :
	    CORE_DEFAULT_BODY;
	char	 msg[64];

	if (req->device == NULL || !valid_device_id(req->device)) {
		resp_error(resp, CORE_BAD_REQUEST, "invalid device id");
		return -1;
	}
	if (req->body_len > max) {
		snprintf(msg, sizeof(msg), "body over %zu bytes", max);
		resp_error(resp, CORE_TOO_LARGE, msg);
		return -1;
	}
	if (req->body_len > 0 && req->body == NULL) {
		resp_error(resp, CORE_BAD_REQUEST, "missing body");
		return -1;
	}
	return 0;
}

static int
peer_mismatch(const struct core_req *req, struct core_resp *resp)
{
	if (req->peer == NULL || strcmp(req->peer, req->device) == 0)
		return 0;
	resp_error(resp, CORE_FORBIDDEN,
	    "the device in the path is not the authenticated device");
	return 1;
}

/*
 * The tick's memory of jobs.
 */


/* A worker changed a row of job id: main's tick memory of it is stale. */
static void
dirty_mark(struct core *m, const char *id)
{
	size_t	 i;

	pthread_mutex_lock(&m->dirty_lock);
	for (i = 0; i < m->ndirty; i++)
		if (strcmp(m->dirty[i], id) == 0)
			break;
	if (i == m->ndirty && !m->dirty_all) {
		if (m->ndirty == CORE_DIRTY_MAX)
			m->dirty_all = 1;
		else
			snprintf(m->dirty[m->ndirty++], OTA_ID_MAX + 1, "%s",
			    id);
	}
	pthread_mutex_unlock(&m->dirty_lock);
}

/* Whether job id is dirty; take: and forget it. */
static int
dirty_test(struct core *m, const char *id, int take)
{
	size_t	 i;
	int	 dirty;

	if (m->dirty == NULL)
		return 0;
	pthread_mutex_lock(&m->dirty_lock);
	dirty = m->dirty_all;
	for (i = 0; i < m->ndirty && !dirty; i++)
		if (strcmp(m->dirty[i], id) == 0) {
			dirty = 1;
			if (take)
				memcpy(m->dirty[i], m->dirty[--m->ndirty],
				    OTA_ID_MAX + 1);
		}
	pthread_mutex_unlock(&m->dirty_lock);
	return dirty;
}

/* The tick's start: every job dirty when too many were (then none). */
static int
dirty_take_all(struct core *m)
{
	int	 all;

	if (m->dirty == NULL)
		return 0;
	pthread_mutex_lock(&m->dirty_lock);
	if ((all = m->dirty_all)) {
		m->dirty_all = 0;
		m->ndirty = 0;
	}
	pthread_mutex_unlock(&m->dirty_lock);
	return all;
}

static struct tick_job *
tj_find(struct core *c, const char *id, int create)
{
	struct tick_job *n;
	size_t	 i, cap;

	for (i = 0; i < c->ntj; i++)
		if (strcmp(c->tj[i].id, id) == 0)
			return &c->tj[i];
	if (!create)
		return NULL;
	if (c->ntj == c->captj) {
		cap = c->captj > 0 ? c->captj * 2 : 16;
		if ((n = realloc(c->tj, cap * sizeof(*n))) == NULL)
			return NULL;
		c->tj = n;
		c->captj = cap;
	}
	n = &c->tj[c->ntj++];
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", id);
	return n;
}

/* A row of this job changed outside the tick: keep the counts right. */
static void
tj_note(struct core *c, const struct job_rec *job,
    const struct jobdev_rec *jd, int orig)
{
	struct tick_job *tj;
	struct jobs_change ch;
	int64_t	 due;

	if (c->main != NULL) {
		dirty_mark(c->main, job->id);
		return;
	}
	if ((tj = tj_find(c, job->id, 0)) == NULL)
		return;
	memset(&ch, 0, sizeof(ch));
	ch.from = orig;
	ch.to = jd->state;
	/* a row the pass under way has counted already */
	if (tj->passing && strcmp(jd->device, tj->cursor) <= 0) {
		if (orig < 0)
			jobs_counts_add(&tj->pcounts, jd->state);
		else
			jobs_counts_apply(&tj->pcounts, &ch);
	}
	if (!tj->known)
		return;
	if (orig < 0)
		jobs_counts_add(&tj->counts, jd->state);	/* a new row */
	else
		jobs_counts_apply(&tj->counts, &ch);
	due = jobs_jd_due(job, jd);
	if (due != 0 && (tj->next_due == 0 || due < tj->next_due))
		tj->next_due = due;
	if (jobs_jd_is_open(jd->state))
		tj->final_done = 0;
}

static int	tick_verify_result(struct store_txn *,
		    const struct job_rec *, const struct jobs_counts *);

static int
settle_count_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jobs_counts *c = arg;

	if (c->total == CORE_SETTLE_COUNT_MAX)
		return 1;	/* too many to count in a report */
	jobs_counts_add(c, jd->state);
	return 0;
}

/*
 * A device's report finished a row of job (from orig to its state now,
 * already written in txn).  When the tick's counts, with this change,
 * say the job's state moves (it completes, or passes its abort
 * threshold), the rows are counted again in txn and the job, and the
 * firmware of a verify job, move in the report's own transaction: job
 * show and firmware show say so at once.  A job the tick has not counted
 * yet is counted here.  *settled: 1 when the job was written, with the
 * exact counts in *counts.  0 or a store error.
 */
static int
settle_now(struct core *c, struct store_txn *txn, struct job_rec *job,
    int orig, int state, int64_t now, struct jobs_counts *counts,
    int *settled)
{
	struct tick_job *tj = tj_find(c, job->id, 0);
	struct jobs_change ch;
	struct job_rec copy = *job;
	int	 was = job->state, rc;

	*settled = 0;
	if (orig == state || !jobs_jd_is_open(orig) ||
	    jobs_jd_is_open(state))
		return 0;
	/*
	 * A job the tick has not counted yet (it is new), or whose rows a
	 * worker changed since, is counted here.
	 */
	if (tj != NULL && tj->known && !dirty_test(c, job->id, 0)) {
		memset(&ch, 0, sizeof(ch));
		ch.changed = 1;
		ch.from = orig;
		ch.to = state;
		*counts = tj->counts;
		jobs_counts_apply(counts, &ch);
		if (!jobs_job_tick(&copy, counts, now) || copy.state == was)
			return 0;
	}
	/*
	 * Counted in the report's write transaction, so only up to
	 * CORE_SETTLE_COUNT_MAX rows: a bigger job moves at the end of the
	 * tick's pass over its rows instead.
	 */
	memset(counts, 0, sizeof(*counts));
	rc = store_jobdev_iter(txn, job->id, settle_count_cb, counts);
	if (rc == STORE_ESTOP)
		return 0;
	if (rc != 0)
		return rc;
	if (!jobs_job_tick(job, counts, now))
		return 0;
	if ((rc = store_job_put(txn, job)) != 0)
		return rc;
	if (job->state != was && (job->state == JOB_COMPLETED ||
	    job->state == JOB_TERMINATED) &&
	    (rc = tick_verify_result(txn, job, counts)) != 0)
		return rc;
	if (job->state != was)
		log_info("job %s: %s -> %s", job->id, jobs_state_name(was),
		    jobs_state_name(job->state));
	*settled = 1;
	return 0;
}

/* After the commit of a settle_now: the tick's memory of the job. */
static void
settle_note(struct core *c, const struct job_rec *job,
    const struct jobs_counts *counts)
{
	struct tick_job *tj;

	if (c->main != NULL) {
		dirty_mark(c->main, job->id);
		return;
	}
	if ((tj = tj_find(c, job->id, 0)) == NULL)
		return;
	tj->counts = *counts;
	if (job->state == JOB_COMPLETED)
		tj->final_done = 1;
}

/*
 * Check.
 */

struct check_run {
	struct core *c;
	struct store_txn *txn;
	const struct core_req *req;
	const struct check_body *body;
	int64_t	 now;
	int	 write;
	struct device_rec dev;
	size_t	 nrows;
	int	 notice;		/* index into c->rows, or -1 */
	int	 need_write;
};

static int
check_collect_cb(const struct jobdev_rec *jd, void *arg)
{
	struct check_run *r = arg;

	if (r->nrows == CORE_MAX_ROWS)
		return 1;
	r->c->rows[r->nrows++].jd = *jd;
	return 0;
}

/*
 * The order in which rows may get the notice: a notice already handed out
 * first (it is repeated until progress arrives), then the oldest job; job
 * ids, by number, break ties.
 */
static int
crow_cmp(const void *a, const void *b)
{
	const struct crow *x = a, *y = b;

	if ((x->jd.state == JD_NOTIFIED) != (y->jd.state == JD_NOTIFIED))
		return x->jd.state == JD_NOTIFIED ? -1 : 1;
	if (x->job.created != y->job.created)
		return x->job.created < y->job.created ? -1 : 1;
	return id_cmp(x->job.id, y->job.id);
}

/* Sets a device's version of a module; 1 when that changed it. */
static int
device_set_version(struct device_rec *d, const char *module,
    const char *version)
{
	struct module_version *mv;
	unsigned i;

	for (i = 0; i < d->nversions && i < OTA_MODULES_MAX; i++) {
		mv = &d->versions[i];
		if (strcmp(mv->module, module) != 0)
			continue;
		if (strcmp(mv->version, version) == 0)
			return 0;
		snprintf(mv->version, sizeof(mv->version), "%s", version);
		return 1;
	}
	if (d->nversions >= OTA_MODULES_MAX) {
		log_debug("device %s: no room for module %s", d->id, module);
		return 0;
	}
	mv = &d->versions[d->nversions++];
	snprintf(mv->module, sizeof(mv->module), "%s", module);
	snprintf(mv->version, sizeof(mv->version), "%s", version);
	return 1;
}

static const char *
reported_version(const struct check_body *body, const char *module)
{
	unsigned i;

	for (i = 0; i < body->nversions; i++)
		if (strcmp(body->versions[i].module, module) == 0)
			return body->versions[i].version;
	return NULL;
}

/*
 * Anti-rollback (docs/jobs.md): a device that reports a version of a
 * module has accepted that firmware's seq, if otagw has the firmware
 * (product, module, version) and it has one.  Raises the device's
 * accepted seq (never lowers it); *changed is set when it rose.  Two
 * lookups in the check's own transaction.
 */
static int
seq_note_report(struct store_txn *txn, struct device_rec *dev,
    const char *module, const char *version, int *changed)
{
	struct firmware_rec fw;
	char	 id[OTA_ID_MAX + 1];
	int	 rc;

	rc = store_firmware_find(txn, dev->product, module, version, id);
	if (rc == 0)
		rc = store_firmware_get(txn, id, &fw);
	if (rc == STORE_ENOTFOUND || rc == STORE_EINVAL)
		return 0;
	if (rc != 0)
		return rc;
	if (jobs_device_accept_seq(dev, module, fw.seq, 0))
		*changed = 1;
	return 0;
}

/*
 * A row that reached SUCCEEDED: the device accepted the job's seq, also
 * a lower one when the job allows a downgrade (the operator chose it,
 * and the device installed it).
 */
static int
seq_note_success(struct device_rec *dev, const struct job_rec *job,
    const struct jobs_change *ch)
{
	if (ch->to != JD_SUCCEEDED || ch->from == JD_SUCCEEDED)
		return 0;
	return jobs_device_accept_seq(dev, job->module, job->seq,
	    job->allow_downgrade);
}

/*
 * Dynamic jobs take in devices that report a matching version (with
 * onlyNewReports, only a version that differs from the one stored).  A
 * device already in the job, upgrading anywhere, or waiting in another
 * job of the same module is left out.  dev is the device with the report
 * merged in.  Sets *joined when a row was added to c->rows.
 */
static int
check_join(struct check_run *r, const struct device_rec *dev, int *joined)
{
	struct core *c = r->c;
	const struct job_rec *dj;
	const char *v, *old;
	struct jobs_change ch;
	struct jobdev_rec jd;
	struct crow *row;
	size_t	 i, j;
	int	 rc, skip;

	for (j = 0; j < c->ndyn && r->nrows < CORE_MAX_ROWS; j++) {
		dj = &c->dyn[j];
		if (strcmp(dj->product, dev->product) != 0 ||
		    (v = reported_version(r->body, dj->module)) == NULL)
			continue;
		old = jobs_device_version(&r->dev, dj->module);
		if (dj->only_new_reports && old != NULL && strcmp(old, v) == 0)
			continue;
		if (!jobs_device_matches(dj, dev) ||
		    !jobs_seq_allows(dj, jobs_device_seq(dev, dj->module)))
			continue;
		for (i = 0, skip = 0; i < r->nrows && !skip; i++) {
			row = &c->rows[i];
			skip = row->jd.state == JD_UPGRADING ||
			    strcmp(row->job.module, dj->module) == 0;
		}
		if (skip)
			continue;
		rc = store_jobdev_get(r->txn, dj->id, dev->id, &jd);
		if (rc == 0)
			continue;	/* it was in the job before */
		if (rc != STORE_ENOTFOUND)
			return rc;
		row = &c->rows[r->nrows];
		rc = store_job_get(r->txn, dj->id, &row->job);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (!row->job.dynamic || row->job.state == JOB_COMPLETED ||
		    row->job.state == JOB_TERMINATED)
			continue;
		jobs_jd_init(&row->job, &row->jd, dev->id, r->now);
		row->orig = -1;
		row->changed = 1;
		row->job_changed = 0;
		r->nrows++;
		*joined = 1;
		if (r->write) {
			memset(&ch, 0, sizeof(ch));
			ch.from = -1;
			ch.to = row->jd.state;
			if ((rc = events_state_change(r->txn, &row->job,
			    &row->jd, &ch, r->now)) != 0)
				return rc;
		}
	}
	return 0;
}

static int	dyn_refresh(struct core *, struct store_txn *);

/*
 * Whether a row of job may give this check its notice: any row, unless
 * the device pulls one version ("requestVersion"); the others are left
 * as they are, neither notified nor given a wait reason.
 */
static int
check_wants(const struct check_body *body, const struct job_rec *job)
{
	return body->request_version[0] == '\0' ||
	    strcmp(body->request_version, job->version) == 0;
}

/*
 * A new notice for row: the patch from the version the device runs to the
 * job's firmware, when the store has one that saves bytes and no patch
 * failed on this row before (docs/delta.md).  Kept in the row, so that
 * every check of this attempt offers the same.
 */
static int
check_patch(struct check_run *r, struct crow *row)
{
	struct jobdev_rec *jd = &row->jd;
	struct delta_rec d;
	int	 rc;

	jd->delta[0] = '\0';
	jd->delta_saved = 0;
	if (jd->delta_fail != 0 || jd->from_version[0] == '\0')
		return 0;
	rc = store_delta_find(r->txn, row->job.firmware, jd->from_version,
	    &d);
	if (rc == STORE_ENOTFOUND || rc == STORE_EINVAL)
		return 0;
	if (rc != 0)
		return rc;
	if (d.size >= d.to_size)
		return 0;
	memcpy(jd->delta, d.id, sizeof(jd->delta));
	jd->delta_saved = d.to_size - d.size;
	row->changed = 1;
	return 0;
}

/*
 * Runs the check rules in r->txn.  In a read pass (write == 0) it only
 * finds out whether anything would change (r->need_write); in the write
 * pass it stores the changes and their events.  Long because it is one
 * sequence: the rows, the device's versions, dynamic jobs joined, the
 * version rule on each row, then the notice in order; each step uses what
 * the steps before it left in the rows.
 */
static int
check_run(struct check_run *r)
{
	struct core *c = r->c;
	struct device_rec dev;
	struct jobs_change ch;
	struct crow *row;
	const char *v;
	size_t	 i, n;
	unsigned k;
	int	 rc, versions_changed = 0, any = 0, joined = 0;

	r->nrows = 0;
	r->notice = -1;
	r->need_write = 0;
	if ((rc = store_device_get(r->txn, r->req->device, &r->dev)) != 0)
		goto out;
	rc = store_device_open_jobs(r->txn, r->req->device, check_collect_cb,
	    r);
	if (rc != 0 && rc != STORE_ESTOP)
		goto out;

	/* each row with its job; rows of vanished jobs are left alone */
	for (i = 0, n = 0; i < r->nrows; i++) {
		row = &c->rows[n];
		if (i != n)
			row->jd = c->rows[i].jd;
		rc = store_job_get(r->txn, row->jd.job, &row->job);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc != 0)
			goto out;
		row->orig = row->jd.state;
		row->changed = row->job_changed = row->settled = 0;
		n++;
	}
	r->nrows = n;

	dev = r->dev;
	for (k = 0; k < r->body->nversions; k++) {
		versions_changed |= device_set_version(&dev,
		    r->body->versions[k].module, r->body->versions[k].version);
		if ((rc = seq_note_report(r->txn, &dev,
		    r->body->versions[k].module, r->body->versions[k].version,
		    &versions_changed)) != 0)
			goto out;
	}
	if (r->write) {
		dev.last_seen = r->now;
		if (r->body->nversions > 0)
			dev.versions_at = r->now;
		if (r->body->nversions > 0 &&
		    (rc = events_inform(r->txn, &dev, r->now)) != 0)
			goto out;
	}
	if (r->body->nversions > 0 && (rc = dyn_refresh(r->c, r->txn)) != 0)
		goto out;
	if (r->body->nversions > 0 && c->ndyn > 0 &&
	    (rc = check_join(r, &dev, &joined)) != 0)
		goto out;

	for (i = 0; i < r->nrows; i++) {
		row = &c->rows[i];
		v = reported_version(r->body, row->job.module);
		if (v == NULL)
			continue;
		jobs_on_version(&row->job, &row->jd, v, r->now, &ch);
		row->changed |= ch.changed;
		versions_changed |= seq_note_success(&dev, &row->job, &ch);
		if (r->write && (rc = events_state_change(r->txn, &row->job,
		    &row->jd, &ch, r->now)) != 0)
			goto out;
	}
	/* the device record after its report and the rows' successes */
	if (r->write && (rc = store_device_put(r->txn, &dev)) != 0)
		goto out;
	qsort(c->rows, r->nrows, sizeof(c->rows[0]), crow_cmp);
	for (i = 0; i < r->nrows; i++) {
		row = &c->rows[i];
		/* never an image below what the device accepted */
		if (jobs_on_seq(&row->job, &row->jd, jobs_device_seq(&dev,
		    row->job.module), r->now, &ch) == 1) {
			row->changed = 1;
			if (r->write && (rc = events_state_change(r->txn,
			    &row->job, &row->jd, &ch, r->now)) != 0)
				goto out;
		} else if (r->notice < 0 && check_wants(r->body, &row->job)) {
			if (jobs_on_check(&row->job, &row->jd,
			    jobs_device_version(&dev, row->job.module), r->now,
			    &ch) == 1)
				r->notice = (int)i;
			if (r->notice == (int)i && ch.to != ch.from &&
			    !r->req->no_delta &&
			    (rc = check_patch(r, row)) != 0)
				goto out;
			row->changed |= ch.changed;
			row->job_changed |= ch.job_changed;
			if (r->write && (rc = events_state_change(r->txn,
			    &row->job, &row->jd, &ch, r->now)) != 0)
				goto out;
		}
		any |= row->changed | row->job_changed;
		if (!r->write)
			continue;
		if (row->changed &&
		    (rc = store_jobdev_put(r->txn, &row->jd)) != 0)
			goto out;
		if (row->job_changed &&
		    (rc = store_job_put(r->txn, &row->job)) != 0)
			goto out;
		row->settled = 0;
		if (row->changed && (rc = settle_now(c, r->txn, &row->job,
		    row->orig, row->jd.state, r->now, &row->counts,
		    &row->settled)) != 0)
			goto out;
	}

	r->need_write = versions_changed || any || joined ||
	    r->now - r->dev.last_seen >= CORE_SEEN_MS ||
	    r->now < r->dev.last_seen;
	rc = 0;
out:
	crypto_wipe(&dev, sizeof(dev));
	crypto_wipe(&r->dev, sizeof(r->dev));
	return rc;
}

/*
 * The wake-up hint of a check: the least of what each open row says
 * (jobs_wake_after), spread by wakeup_jitter percent either way so that
 * devices told the same time do not all come back in the same second.
 */
static unsigned
core_wake_after(struct core *c, size_t nrows, int64_t now)
{
	const struct config *cfg = c->cfg;
	struct jobs_wake w;
	unsigned s, one;
	int64_t spread;
	size_t i;

	w.idle_s = cfg->check_interval;
	w.busy_s = cfg->busy_interval;
	w.confirm_s = cfg->confirm_interval;
	s = w.idle_s;
	for (i = 0; i < nrows; i++) {
		one = jobs_wake_after(&c->rows[i].job, &c->rows[i].jd, now, &w);
		if (one < s)
			s = one;
	}
	if (cfg->wakeup_jitter == 0 || s < 2)
		return s;
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	/* uniform in [-jitter, +jitter] percent of s, in milliseconds */
	spread = (int64_t)s * 10 * cfg->wakeup_jitter;
	spread = (int64_t)(c->rng % (uint64_t)(2 * spread + 1)) - spread;
	spread = ((int64_t)s * 1000 + spread + 500) / 1000;
	return spread < 1 ? 1 : (unsigned)spread;
}

/*
 * One pass of a check in its own transaction.  Returns a STORE_E* code;
 * on success resp holds the answer unless *retry_write was set (the read
 * pass found something to write).
 */
/*
 * The scheme and authority of a notice's url: the configured public URL
 * of the protocol, else where the device reached the gateway, else the
 * listen address.
 */
static const char *
notice_url_base(const struct core *c, const struct core_req *req)
{
	const char *pub[3] = { c->cfg->coap_public, c->cfg->coaps_public,
	    c->cfg->https_public };
	int	 proto = req->proto >= CORE_PROTO_COAP &&
	    req->proto <= CORE_PROTO_HTTPS ? req->proto : CORE_PROTO_COAP;

	if (pub[proto][0] == '\0' && req->origin != NULL)
		return req->origin;
	return c->url[proto];
}

/*
 * The query of an HTTPS notice's url: the device, an expiry and their
 * signature under the current URL key, so that the url alone downloads
 * the image.  "" for other protocols, and when the store has no key.
 */
static int
notice_url_query(struct core *c, struct store_txn *txn,
    const struct core_req *req, const char *fwid, int64_t now, char *out,
    size_t size)
{
	struct url_keys keys;
	char	 sig[CAP_SIG_LEN + 1];
	int64_t	 expires;
	int	 rc, n;

	out[0] = '\0';
	if (req->proto != CORE_PROTO_HTTPS || req->device == NULL)
		return 0;
	if ((rc = store_url_keys_get(txn, &keys)) != 0)
		return rc == STORE_ENOTFOUND ? 0 : rc;
	expires = now / 1000 + (int64_t)c->cfg->download_url_ttl;
	rc = cap_sign(keys.cur, req->device, fwid, expires, sig);
	explicit_bzero(&keys, sizeof(keys));
	if (rc != 0)
		return STORE_EIO;
	n = snprintf(out, size, "device=%s&expires=%" PRId64 "&sig=%s",
	    req->device, expires, sig);
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
	return 0;
}

/*
 * The patch a notice offers (row->delta), with its url credential, into
 * ni; a patch removed since the row took it is left out.
 */
static int
notice_delta(struct core *c, struct store_txn *txn,
    const struct core_req *req, const struct jobdev_rec *jd, int64_t now,
    struct delta_rec *d, char *query, size_t qsize, struct notice_in *ni)
{
	int	 rc;

	if ((rc = store_delta_get(txn, jd->delta, d)) != 0)
		return rc == STORE_ENOTFOUND ? 0 : rc;
	if ((rc = notice_url_query(c, txn, req, d->id, now, query, qsize)) !=
	    0)
		return rc;
	ni->delta = d;
	ni->delta_query = query[0] != '\0' ? query : NULL;
	return 0;
}

static int
check_pass(struct core *c, const struct core_req *req,
    const struct check_body *body, int64_t now, int write,
    struct core_resp *resp, int *retry_write)
{
	struct check_run r;
	struct firmware_rec fw;
	struct delta_rec delta;
	struct notice_in ni;
	struct crow *row;
	char	 query[CORE_QUERY_MAX], dquery[CORE_QUERY_MAX];
	size_t	 i;
	int	 rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.req = req;
	r.body = body;
	r.now = now;
	r.write = write;
	if ((rc = store_txn_begin(c->st, !write, &r.txn)) != 0)
		return rc;
	if ((rc = check_run(&r)) != 0)
		goto fail;
	if (!write && r.need_write) {
		store_txn_abort(r.txn);
		*retry_write = 1;
		return 0;
	}

	core_resp_cleanup(resp);
	c->notice_job[0] = '\0';
	if (r.notice >= 0) {
		row = &c->rows[r.notice];
		rc = store_firmware_get(r.txn, row->job.firmware, &fw);
		if (rc == 0)
			rc = notice_url_query(c, r.txn, req, fw.id, now, query,
			    sizeof(query));
		memset(&ni, 0, sizeof(ni));
		if (rc == 0 && row->jd.delta[0] != '\0')
			rc = notice_delta(c, r.txn, req, &row->jd, now, &delta,
			    dquery, sizeof(dquery), &ni);
		if (rc == 0) {
			ni.job = &row->job;
			ni.fw = &fw;
			ni.url_base = notice_url_base(c, req);
			ni.url_query = query[0] != '\0' ? query : NULL;
			ni.nonce = body->nonce;
			ni.device = req->device;
			resp->body = codec_notice_encode(&ni, &resp->body_len);
			if (resp->body == NULL) {
				rc = STORE_EIO;
				goto fail;
			}
			if ((rc = signer_wrap(c->signer, r.txn, &resp->body,
			    &resp->body_len, &resp->is_signed)) != 0)
				goto fail;
			snprintf(c->notice_job, sizeof(c->notice_job), "%s",
			    row->job.id);
		} else if (rc == STORE_ENOTFOUND) {
			log_warnx("job %s: firmware %s is gone", row->job.id,
			    row->job.firmware);
		} else
			goto fail;
	}
	resp->retry_after = core_wake_after(c, r.nrows, now);
	resp->status = resp->body != NULL ? CORE_OK : CORE_NO_CONTENT;

	if (write) {
		rc = store_txn_commit(r.txn);
		r.txn = NULL;
		if (rc != 0)
			goto fail;
		for (i = 0; i < r.nrows; i++) {
			row = &c->rows[i];
			if (row->settled)
				settle_note(c, &row->job, &row->counts);
			else if (row->changed)
				tj_note(c, &row->job, &row->jd, row->orig);
		}
	} else
		store_txn_abort(r.txn);
	return 0;
fail:
	store_txn_abort(r.txn);
	core_resp_cleanup(resp);
	return rc;
}

void
core_check(struct core *c, const struct core_req *req, struct core_resp *resp)
{
	struct check_body body;
	char	 err[128];

	memset(resp, 0, sizeof(*resp));
	if (req_validate(c, req, resp) != 0)
		return;
	if (codec_check_decode(req->body, req->body_len, &body, err,
	    sizeof(err)) != 0) {
		resp_error(resp, CORE_BAD_REQUEST, err);
		return;
	}
	if (peer_mismatch(req, resp))
		return;
	core_check_decoded(c, req, &body, resp, NULL, 0);
}

void
core_check_decoded(struct core *c, const struct core_req *req,
    const struct check_body *body, struct core_resp *resp, char *job,
    size_t jobsize)
{
	int64_t	 now = core_now(c);
	int	 rc, retry_write = 0;

	memset(resp, 0, sizeof(*resp));
	c->notice_job[0] = '\0';
	rc = check_pass(c, req, body, now, 0, resp, &retry_write);
	if (rc == 0 && retry_write)
		rc = check_pass(c, req, body, now, 1, resp, NULL);
	if (rc != 0) {
		c->notice_job[0] = '\0';
		resp_store_error(resp, rc, rc == STORE_ENOTFOUND ?
		    "unknown device" : "check");
	}
	if (job != NULL && jobsize > 0)
		snprintf(job, jobsize, "%s", c->notice_job);
}

/*
 * The check rules on copies, in the caller's read transaction: the job
 * whose notice a check would hand out now, and when a time-driven rule
 * may change that (seconds, 0: nothing time-driven is waiting).
 */
int
core_check_peek(struct core *c, struct store_txn *txn,
    const struct core_req *req, const struct check_body *body, int64_t now,
    char *job, size_t jobsize, unsigned *wake_s)
{
	struct check_run r;
	struct jobs_wake w;
	unsigned one;
	size_t	 i;
	int	 rc;

	job[0] = '\0';
	*wake_s = 0;
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.txn = txn;
	r.req = req;
	r.body = body;
	r.now = now;
	if ((rc = check_run(&r)) != 0)
		return rc;
	if (r.notice >= 0) {
		snprintf(job, jobsize, "%s", c->rows[r.notice].job.id);
		return 0;
	}
	/* rows that wait on time alone: a window, a rate slot, a retry */
	w.idle_s = w.busy_s = w.confirm_s = CORE_PEEK_IDLE_S;
	for (i = 0; i < r.nrows; i++) {
		if (!check_wants(body, &c->rows[i].job))
			continue;
		one = jobs_wake_after(&c->rows[i].job, &c->rows[i].jd, now, &w);
		if (one < CORE_PEEK_IDLE_S && (*wake_s == 0 || one < *wake_s))
			*wake_s = one;
	}
	return 0;
}

struct store *
core_store(struct core *c)
{
	return c->st;
}

const struct config *
core_config(const struct core *c)
{
	return c->cfg;
}

int64_t
core_clock(struct core *c)
{
	return core_now(c);
}

struct watch_table *
core_watch_table(struct core *c)
{
	return c->watches;
}

/*
 * Progress.
 */

void
core_progress(struct core *c, const struct core_req *req,
    struct core_resp *resp)
{
	struct progress_body body;
	char	 err[128];

	memset(resp, 0, sizeof(*resp));
	/* an accepted report means the device is busy: poll at that pace */
	resp->retry_after = c->cfg->busy_interval;
	if (req_validate(c, req, resp) != 0)
		return;
	if (codec_progress_decode(req->body, req->body_len, &body, err,
	    sizeof(err)) != 0) {
		resp_error(resp, CORE_BAD_REQUEST, err);
		return;
	}
	if (peer_mismatch(req, resp))
		return;
	core_progress_decoded(c, req, &body, resp);
}

void
core_progress_decoded(struct core *c, const struct core_req *req,
    const struct progress_body *bodyp, struct core_resp *resp)
{
	struct progress_body body = *bodyp;
	struct device_rec dev;
	struct jobdev_rec jd;
	struct job_rec job;
	struct jobs_change ch;
	struct jobs_counts counts;
	struct store_txn *txn = NULL;
	char	 err[128];
	const char *what = "progress";
	int64_t	 now;
	int	 rc, orig, vchanged = 0, seqs_changed = 0, settled;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = c->cfg->busy_interval;
	now = core_now(c);

	if ((rc = store_txn_begin(c->st, 0, &txn)) != 0)
		goto fail;
	what = "unknown device";
	if ((rc = store_device_get(txn, req->device, &dev)) != 0)
		goto fail;
	what = "the device is not in this job";
	if ((rc = store_jobdev_get(txn, body.job, req->device, &jd)) != 0)
		goto fail;
	if ((rc = store_job_get(txn, body.job, &job)) != 0)
		goto fail;
	if (body.attempt != 0 && jd.notified != body.attempt) {
		/* the attempt ended, and another began, since it was read */
		store_txn_abort(txn);
		resp_error(resp, CORE_NOT_FOUND, "that attempt is over");
		return;
	}
	what = "progress";
	if (body.module[0] != '\0' && strcmp(body.module, job.module) != 0) {
		store_txn_abort(txn);
		resp_error(resp, CORE_BAD_REQUEST,
		    "the module is not the job's module");
		return;
	}
	orig = jd.state;
	if (jobs_on_progress(&job, &jd, body.step,
	    body.has_desc ? body.desc : NULL,
	    body.has_version ? body.version : NULL, now, &ch) != 0) {
		store_txn_abort(txn);
		snprintf(err, sizeof(err), "no progress expected from a device "
		    "in state %s", jobs_jd_state_name(orig));
		resp_error(resp, CORE_BAD_REQUEST, err);
		return;
	}
	if (!ch.changed) {
		/* a late or repeated report of a finished attempt */
		store_txn_abort(txn);
		resp->status = CORE_NO_CONTENT;
		return;
	}

	dev.last_seen = now;
	if (body.has_version &&
	    (vchanged = device_set_version(&dev, job.module, body.version)))
		dev.versions_at = now;
	if (body.has_version && (rc = seq_note_report(txn, &dev, job.module,
	    body.version, &seqs_changed)) != 0)
		goto fail;
	seq_note_success(&dev, &job, &ch);
	if ((rc = store_device_put(txn, &dev)) != 0)
		goto fail;
	if (vchanged && (rc = events_inform(txn, &dev, now)) != 0)
		goto fail;
	if ((rc = events_progress(txn, &job, &jd, body.step,
	    body.has_desc ? body.desc : NULL, body.details,
	    body.has_version ? body.version : NULL, now)) != 0)
		goto fail;
	if ((rc = events_state_change(txn, &job, &jd, &ch, now)) != 0)
		goto fail;
	if ((rc = store_jobdev_put(txn, &jd)) != 0)
		goto fail;
	if ((rc = settle_now(c, txn, &job, orig, jd.state, now, &counts,
	    &settled)) != 0)
		goto fail;
	rc = store_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	if (settled)
		settle_note(c, &job, &counts);
	else
		tj_note(c, &job, &jd, orig);
	resp->status = CORE_NO_CONTENT;
	return;
fail:
	store_txn_abort(txn);
	resp_store_error(resp, rc, what);
}

/*
 * Download.
 */

struct dl_ctx {
	char	 ids[CORE_MAX_ROWS][OTA_ID_MAX + 1];
	size_t	 n;
	const char *fwid;		/* the firmware (a patch's target) */
	const char *patch;		/* the patch asked for, or NULL */
	char	 target[OTA_ID_MAX + 1];	/* a patch's target */
	int	 found;
	int	 patch_offered;		/* an open row's notice offers it */
};

/* Jobs in which the device has been offered something. */
static int
dl_rows_cb(const struct jobdev_rec *jd, void *arg)
{
	struct dl_ctx *d = arg;

	if (jd->state != JD_NOTIFIED && jd->state != JD_UPGRADING)
		return 0;
	if (d->patch != NULL && strcmp(jd->delta, d->patch) == 0)
		d->patch_offered = 1;
	if (d->n == CORE_MAX_ROWS)
		return 1;
	snprintf(d->ids[d->n++], OTA_ID_MAX + 1, "%s", jd->job);
	return 0;
}

/* Running jobs of the firmware. */
static int
dl_jobs_cb(const struct job_rec *job, void *arg)
{
	struct dl_ctx *d = arg;

	if (job->state != JOB_RUNNING || strcmp(job->firmware, d->fwid) != 0)
		return 0;
	if (d->n == CORE_MAX_ROWS)
		return 1;
	snprintf(d->ids[d->n++], OTA_ID_MAX + 1, "%s", job->id);
	return 0;
}

static int
dl_open_row_cb(const struct jobdev_rec *jd, void *arg)
{
	struct dl_ctx *d = arg;

	if (!jobs_jd_is_open(jd->state))
		return 0;
	d->found = 1;
	return 1;
}

/* The grant key of a download request. */
static void
dl_grant_key(const struct core_req *req, const char *fwid,
    struct grant_key *k)
{
	memset(k, 0, sizeof(*k));
	if (fwid == NULL || strlen(fwid) > OTA_ID_MAX ||
	    (req->peer != NULL && strlen(req->peer) > OTA_ID_MAX))
		return;		/* conn 0: never granted */
	k->conn = req->conn;
	if (req->peer != NULL)
		memcpy(k->peer, req->peer, strlen(req->peer));
	memcpy(k->fwid, fwid, strlen(fwid));
	if (req->secret != NULL) {
		k->has_secret = 1;
		crypto_sha256(req->secret, strlen(req->secret), k->secret_sha);
	} else if (req->cap_sig != NULL) {
		k->has_secret = 1;
		crypto_sha256(req->cap_sig, strlen(req->cap_sig),
		    k->secret_sha);
	}
}

/*
 * A download URL's credential: sets *good, returns 0 or a store error.
 * No URL key in the store: nothing it signed is good.
 */
static int
dl_check_cap(struct store_txn *txn, const struct core_req *req,
    const char *fwid, int64_t now, int *good)
{
	struct url_keys keys;
	int	 rc;

	*good = 0;
	if ((rc = store_url_keys_get(txn, &keys)) != 0)
		return rc == STORE_ENOTFOUND ? 0 : rc;
	*good = cap_verify(&keys, req->peer, fwid, req->cap_expires,
	    req->cap_sig, now / 1000) == 0;
	explicit_bzero(&keys, sizeof(keys));
	return 0;
}

/*
 * Whether the firmware d->fwid is on offer to req->peer (an open row of a
 * job for it), or, when the transport proves no device (plain CoAP), to
 * any device.  A patch (d->patch) is on offer to a device whose open row
 * offers it; over plain CoAP, when its target is on offer.  0 or a store
 * error.
 */
static int
dl_allowed(struct store_txn *txn, const struct core_req *req,
    struct dl_ctx *d, int *allowed)
{
	struct device_rec dev;
	struct job_rec job;
	size_t	 i;
	int	 rc;

	*allowed = 0;
	if (req->peer == NULL) {
		/* plain CoAP proves nothing: any device on offer will do */
		rc = store_job_iter(txn, dl_jobs_cb, d);
		if (rc != 0 && rc != STORE_ESTOP)
			return rc;
		for (i = 0; i < d->n && !d->found; i++) {
			rc = store_jobdev_iter(txn, d->ids[i], dl_open_row_cb,
			    d);
			if (rc != 0 && rc != STORE_ESTOP)
				return rc;
		}
		*allowed = d->found;
		return 0;
	}
	rc = store_device_get(txn, req->peer, &dev);
	crypto_wipe(&dev, sizeof(dev));
	if (rc != 0)
		return rc == STORE_ENOTFOUND ? 0 : rc;
	rc = store_device_open_jobs(txn, req->peer, dl_rows_cb, d);
	if (rc != 0 && rc != STORE_ESTOP)
		return rc;
	if (d->patch != NULL) {
		*allowed = d->patch_offered;
		return 0;
	}
	for (i = 0; i < d->n && !*allowed; i++) {
		rc = store_job_get(txn, d->ids[i], &job);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		*allowed = strcmp(job.firmware, d->fwid) == 0;
	}
	return 0;
}

/*
 * What fwid names: a firmware, or a patch, described to the front ends as
 * a firmware (its own id, size and digests; the target's product, module
 * and version).  0 or a store error (STORE_ENOTFOUND: neither).
 */
static int
dl_lookup(struct store_txn *txn, const char *fwid, struct firmware_rec *fw,
    struct dl_ctx *d)
{
	struct delta_rec p;
	int	 rc;

	d->patch = NULL;
	d->patch_offered = 0;
	if ((rc = store_firmware_get(txn, fwid, fw)) != STORE_ENOTFOUND)
		return rc;
	if ((rc = store_delta_get(txn, fwid, &p)) != 0)
		return rc;
	memset(fw, 0, sizeof(*fw));
	memcpy(fw->id, p.id, sizeof(fw->id));
	memcpy(fw->product, p.product, sizeof(fw->product));
	memcpy(fw->module, p.module, sizeof(fw->module));
	memcpy(fw->version, p.to_version, sizeof(fw->version));
	fw->sign_method = SIGN_SHA256;
	fw->state = FW_VERIFIED;
	memcpy(fw->md5, p.md5, sizeof(fw->md5));
	memcpy(fw->sha256, p.sha256, sizeof(fw->sha256));
	fw->size = p.size;
	fw->created = p.created;
	d->patch = fwid;
	memcpy(d->target, p.to, sizeof(d->target));
	d->fwid = d->target;
	return 0;
}

int
core_download(struct core *c, const struct core_req *req, const char *fwid,
    const struct store_image **img, struct firmware_rec *fw)
{
	struct store_txn *txn = NULL;
	struct dl_ctx dl, *d = &dl;	/* on the stack: no allocation */
	struct grant_key key;
	int64_t	 now = core_now(c);
	int	 rc, status = CORE_INTERNAL, allowed = 0, good;

	*img = NULL;
	dl_grant_key(req, fwid, &key);
	if (grant_find(c->grants, &key, now, img, fw) == 0) {
		status = CORE_OK;
		goto out;
	}
	if (req->secret != NULL &&
	    core_device_auth(c, req->peer, req->secret) != 0) {
		status = CORE_UNAUTHORIZED;
		goto out;
	}
	if (fwid == NULL || !valid_id(fwid))
		return CORE_BAD_REQUEST;
	if (req->peer != NULL && !valid_device_id(req->peer))
		return CORE_FORBIDDEN;
	d->n = 0;
	d->found = 0;
	d->fwid = fwid;
	if ((rc = store_txn_begin(c->st, 1, &txn)) != 0)
		goto store_fail;
	/* a URL's credential first: a bad one learns nothing more */
	if (req->cap_sig != NULL) {
		if (req->peer == NULL)
			goto out;	/* CORE_INTERNAL: a front end's bug */
		if ((rc = dl_check_cap(txn, req, fwid, now, &good)) != 0)
			goto store_fail;
		if (!good) {
			status = CORE_FORBIDDEN;
			goto out;
		}
	}
	if ((rc = dl_lookup(txn, fwid, fw, d)) != 0) {
		if (rc != STORE_ENOTFOUND)
			goto store_fail;
		status = CORE_NOT_FOUND;
		goto out;
	}
	if ((rc = dl_allowed(txn, req, d, &allowed)) != 0)
		goto store_fail;
	store_txn_abort(txn);
	txn = NULL;
	if (!allowed) {
		status = CORE_FORBIDDEN;
		goto out;
	}
	rc = store_image_open(c->st, fwid, img);
	if (rc == STORE_ENOTFOUND) {
		log_warnx("firmware %s: image missing", fwid);
		status = CORE_NOT_FOUND;
	} else if (rc != 0) {
		log_warnx("firmware %s: %s", fwid, store_strerror(rc));
		status = CORE_INTERNAL;
	} else {
		status = CORE_OK;
		grant_put(c->grants, &key, now, *img, fw);
	}
	goto out;
store_fail:
	log_warnx("download %s: %s", fwid, store_strerror(rc));
	status = rc == STORE_EBUSY ? CORE_UNAVAILABLE : CORE_INTERNAL;
out:
	store_txn_abort(txn);
	crypto_wipe(&key, sizeof(key));
	if (status != CORE_OK)
		*img = NULL;
	return status;
}

void
core_transferred(struct core *c, const char *device, const char *fwid,
    uint64_t off, uint64_t len, uint64_t size)
{
	xfer_sent(c->xfer, device, fwid, off, len, size, core_now(c));
}

/*
 * Credentials.
 */

int
core_device_psk(struct core *c, const char *identity, uint8_t *key,
    size_t *len, size_t max)
{
	struct store_txn *txn;
	struct device_rec d;
	int	 rc = -1;

	if (identity == NULL || !valid_device_id(identity))
		return -1;
	if (store_txn_begin(c->st, 1, &txn) != 0)
		return -1;
	if (store_device_get(txn, identity, &d) == 0 && d.psk_len > 0 &&
	    d.psk_len <= sizeof(d.psk) && d.psk_len <= max) {
		memcpy(key, d.psk, d.psk_len);
		*len = d.psk_len;
		rc = 0;
	}
	store_txn_abort(txn);
	crypto_wipe(&d, sizeof(d));
	return rc;
}

int
core_device_auth(struct core *c, const char *device, const char *secret)
{
	struct store_txn *txn;
	struct device_rec d;
	uint8_t	 h[32];
	int	 rc = -1;

	if (device == NULL || secret == NULL || !valid_device_id(device))
		return -1;
	if (store_txn_begin(c->st, 1, &txn) != 0)
		return -1;
	memset(&d, 0, sizeof(d));
	if (store_device_get(txn, device, &d) == 0 && d.has_secret) {
		crypto_secret_hash(d.secret_salt, secret, strlen(secret), h);
		if (crypto_memcmp(h, d.secret_hash, sizeof(h)) == 0)
			rc = 0;
		crypto_wipe(h, sizeof(h));
	}
	store_txn_abort(txn);
	crypto_wipe(&d, sizeof(d));
	return rc;
}

/*
 * Time.
 */

struct tick_pick {
	struct core *c;
	int64_t	 now;
	char	 ids[CORE_TICK_SCANS][OTA_ID_MAX + 1];
	size_t	 n;
	char	 stale[CORE_TICK_SCANS][OTA_ID_MAX + 1];	/* CREATING */
	size_t	 nstale;
	int	 all_dirty;	/* workers changed too many jobs to list */
};

static void	dyn_add(struct core *, const struct job_rec *);

static int
dyn_pick_cb(const struct job_rec *job, void *arg)
{
	if (job->dynamic && job->state != JOB_COMPLETED &&
	    job->state != JOB_TERMINATED)
		dyn_add(arg, job);
	return 0;
}

/*
 * The open dynamic jobs, read again in txn when a job was created since
 * the list was made (the tick also makes it anew every second), so that a
 * dynamic job sees every version report sent after its creation, even in
 * the same second.  Job ids are handed out in order: their count tells.
 */
static int
dyn_refresh(struct core *c, struct store_txn *txn)
{
	uint64_t n;
	int rc;

	if ((rc = store_id_count(txn, "j", &n)) != 0 || n == c->dyn_jobs)
		return rc;
	c->ndyn = 0;
	rc = store_job_iter(txn, dyn_pick_cb, c);
	if (rc != 0 && rc != STORE_ESTOP)
		return rc;
	c->dyn_jobs = n;
	return 0;
}

static void
dyn_add(struct core *c, const struct job_rec *job)
{
	struct job_rec *n;
	size_t	 cap;

	if (c->ndyn == c->capdyn) {
		cap = c->capdyn > 0 ? c->capdyn * 2 : 4;
		if ((n = realloc(c->dyn, cap * sizeof(*n))) == NULL)
			return;
		c->dyn = n;
		c->capdyn = cap;
	}
	c->dyn[c->ndyn++] = *job;
}

/* Decides, from the job record and what we remember, whether to scan. */
static int
tick_pick_cb(const struct job_rec *job, void *arg)
{
	struct tick_pick *p = arg;
	struct tick_job *tj;
	struct job_rec copy;
	int	 need;

	if (job->state == JOB_CREATING) {
		/* its creator writes its rows; one that stopped long ago */
		if (p->now - job->rate_window >= JOBS_CREATING_STALE_MS &&
		    p->nstale < CORE_TICK_SCANS)
			snprintf(p->stale[p->nstale++], OTA_ID_MAX + 1, "%s",
			    job->id);
		return 0;
	}
	if (job->dynamic && job->state != JOB_COMPLETED &&
	    job->state != JOB_TERMINATED)
		dyn_add(p->c, job);
	if ((tj = tj_find(p->c, job->id, 1)) == NULL)
		return 0;
	if (job->state == JOB_COMPLETED && !tj->passing)
		return 0;
	if (tj->passing)
		need = 1;	/* a pass over its rows goes on */
	else if (job->state == JOB_TERMINATED)
		/*
		 * An operator's terminate writes the rows itself, in chunks:
		 * the tick leaves them to it for a minute, and finishes what
		 * a crash left after that.  A job the tick itself ended has
		 * its rows failed at once.
		 */
		need = !tj->final_done && (tj->self_ended ||
		    p->now - job->finished >= JOBS_CREATING_STALE_MS ||
		    p->now < job->finished);
	else {
		need = !tj->known || p->all_dirty ||
		    dirty_test(p->c, job->id, 0) ||
		    p->now - tj->scanned >= CORE_RESCAN_MS ||
		    p->now < tj->scanned ||
		    (tj->next_due != 0 && p->now >= tj->next_due);
		if (!need) {
			copy = *job;
			need = jobs_job_tick(&copy, &tj->counts, p->now);
		}
	}
	if (need && p->n < CORE_TICK_SCANS) {
		snprintf(p->ids[p->n++], OTA_ID_MAX + 1, "%s", job->id);
		if (!tj->passing)	/* the pass starting now sees it */
			(void)dirty_test(p->c, job->id, 1);
	}
	return 0;
}

struct tick_scan {
	const struct job_rec *job;
	int64_t	 now;
	struct jobs_counts counts;
	int64_t	 next_due;
	char	(*due)[OTA_ID_MAX + 1];
	size_t	 ndue;
	size_t	 nrows;		/* rows looked at */
	size_t	 max_rows;	/* this slice's share of the tick */
	int	 stopped;	/* the slice ended before the last row */
	char	 last[OTA_ID_MAX + 1];
};

static void
due_min(int64_t *next, int64_t due)
{
	if (due != 0 && (*next == 0 || due < *next))
		*next = due;
}

static int
tick_scan_cb(const struct jobdev_rec *jd, void *arg)
{
	struct tick_scan *s = arg;
	int64_t	 due;

	if (s->nrows == s->max_rows || s->ndue == CORE_TICK_ROWS) {
		s->stopped = 1;
		return 1;
	}
	s->nrows++;
	snprintf(s->last, sizeof(s->last), "%s", jd->device);
	jobs_counts_add(&s->counts, jd->state);
	due = jobs_jd_due(s->job, jd);
	if (due == 0)
		return 0;
	if (due > s->now) {
		due_min(&s->next_due, due);
		return 0;
	}
	snprintf(s->due[s->ndue++], OTA_ID_MAX + 1, "%s", jd->device);
	return 0;
}

/* A verify job that ended decides its firmware's state. */
static int
tick_verify_result(struct store_txn *txn, const struct job_rec *job,
    const struct jobs_counts *counts)
{
	struct firmware_rec fw;
	int	 rc, state;

	if (job->kind != JOB_KIND_VERIFY)
		return 0;
	if ((rc = store_firmware_get(txn, job->firmware, &fw)) != 0)
		return rc == STORE_ENOTFOUND ? 0 : rc;
	state = jobs_verify_result(counts);
	if (fw.state == state)
		return 0;
	fw.state = state;
	return store_firmware_put(txn, &fw);
}

/*
 * The end of a pass: its counts were taken over several transactions, and
 * a row counted final may have been opened again since (an operator's
 * retry, from otactl --state too).  When those counts would move the job
 * (complete it, pause it), a job of up to CORE_SETTLE_COUNT_MAX rows is
 * counted again here, in the transaction that moves it, as settle_now
 * does.  0 or a store error.
 */
static int
tick_recount(struct store_txn *txn, const struct job_rec *job,
    struct tick_scan *s, int64_t now)
{
	struct job_rec would = *job;
	struct jobs_counts k = s->counts;
	int	 rc;

	if (!jobs_job_tick(&would, &k, now) || would.state == job->state)
		return 0;
	memset(&k, 0, sizeof(k));
	rc = store_jobdev_iter(txn, job->id, settle_count_cb, &k);
	if (rc == STORE_ESTOP)
		return 0;	/* too many rows to count here */
	if (rc != 0)
		return rc;
	s->counts = k;
	return 0;
}

/*
 * The write part of a slice: the due rows it found, and at the end of a
 * pass the job's own rules on the pass's counts.  *ended: the job ended.
 */
static int
tick_apply(struct core *c, const char *id, struct tick_scan *s, int pass_end,
    struct job_rec *job, int *ended)
{
	struct store_txn *txn = NULL;
	struct jobdev_rec jd;
	struct jobs_change ch;
	int64_t	 due, now = s->now;
	size_t	 i;
	int	 rc, was;

	if ((rc = store_txn_begin(c->st, 0, &txn)) != 0)
		return rc;
	if ((rc = store_job_get(txn, id, job)) != 0)
		goto fail;
	for (i = 0; i < s->ndue; i++) {
		rc = store_jobdev_get(txn, id, s->due[i], &jd);
		if (rc == STORE_ENOTFOUND)
			continue;
		if (rc != 0)
			goto fail;
		jobs_on_tick(job, &jd, now, &ch);
		if (ch.changed) {
			if ((rc = store_jobdev_put(txn, &jd)) != 0 ||
			    (rc = events_state_change(txn, job, &jd, &ch,
			    now)) != 0)
				goto fail;
			jobs_counts_apply(&s->counts, &ch);
		}
		/* a row still due now would spin: look again soon */
		due = jobs_jd_due(job, &jd);
		due_min(&s->next_due, due != 0 && due <= now ? now + 1000 :
		    due);
	}
	was = job->state;
	if (pass_end && (rc = tick_recount(txn, job, s, now)) != 0)
		goto fail;
	if (pass_end && jobs_job_tick(job, &s->counts, now)) {
		if ((rc = store_job_put(txn, job)) != 0)
			goto fail;
		if (job->state != was && (job->state == JOB_COMPLETED ||
		    job->state == JOB_TERMINATED)) {
			*ended = 1;
			if ((rc = tick_verify_result(txn, job, &s->counts)) !=
			    0)
				goto fail;
		}
		log_info("job %s: %s -> %s", job->id, jobs_state_name(was),
		    jobs_state_name(job->state));
	}
	return store_txn_commit(txn);
fail:
	store_txn_abort(txn);
	return rc;
}

/* What a slice leaves in the tick's memory of its job. */
static void
tick_remember(struct tick_job *tj, const struct tick_scan *s,
    const struct job_rec *job, int ended)
{
	int64_t	 now = s->now;
	size_t	 open;
	int	 st;

	if (s->stopped) {
		/* the pass goes on from the last row looked at */
		tj->passing = 1;
		snprintf(tj->cursor, sizeof(tj->cursor), "%s", s->last);
		tj->pcounts = s->counts;
		tj->pnext_due = s->next_due;
		return;
	}
	tj->passing = 0;
	tj->cursor[0] = '\0';
	tj->known = 1;
	tj->counts = s->counts;
	tj->scanned = now;
	tj->next_due = s->next_due;
	tj->final_done = 0;
	if (job->state == JOB_TERMINATED) {
		for (st = 0, open = 0; st < JD_NSTATES; st++)
			if (jobs_jd_is_open(st))
				open += s->counts.n[st];
		if (ended) {
			tj->next_due = now;	/* its open rows fail next */
			tj->self_ended = 1;
		} else if (open == 0)
			tj->final_done = 1;	/* else: another pass */
	} else if (job->state == JOB_COMPLETED)
		tj->final_done = 1;
}

/*
 * Looks at the next slice of one job's rows (at most max_rows of them,
 * from where its pass stopped) and applies what is due in it, in one
 * transaction; at the end of a pass, the job's own rules on the rows'
 * counts.  A job of a million rows thus costs each tick a few
 * milliseconds, never a stall.  Returns the rows looked at.
 */
static size_t
tick_scan_job(struct core *c, const char *id, int64_t now, size_t max_rows)
{
	struct store_txn *txn = NULL;
	struct tick_scan s;
	struct tick_job *tj;
	struct job_rec job, copy;
	int	 rc, ended = 0;

	if (c->due == NULL &&
	    (c->due = calloc(CORE_TICK_ROWS, sizeof(*c->due))) == NULL)
		return 0;
	if ((tj = tj_find(c, id, 1)) == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	s.job = &job;
	s.now = now;
	s.due = c->due;
	s.max_rows = max_rows;
	if (tj->passing) {
		s.counts = tj->pcounts;
		s.next_due = tj->pnext_due;
	}

	if ((rc = store_txn_begin(c->st, 1, &txn)) != 0)
		goto fail;
	if ((rc = store_job_get(txn, id, &job)) != 0)
		goto fail;
	rc = store_jobdev_iter_after(txn, id, tj->passing ? tj->cursor : NULL,
	    tick_scan_cb, &s);
	if (rc == STORE_ESTOP)
		rc = 0;
	if (rc != 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;

	copy = job;
	if (s.ndue > 0 || (!s.stopped && jobs_job_tick(&copy, &s.counts,
	    now))) {
		if ((rc = tick_apply(c, id, &s, !s.stopped, &job, &ended)) !=
		    0)
			goto fail;
	}
	tick_remember(tj, &s, &job, ended);
	return s.nrows > 0 ? s.nrows : 1;
fail:
	store_txn_abort(txn);
	tj->passing = 0;
	tj->cursor[0] = '\0';
	if (rc == STORE_ENOTFOUND) {
		tj->known = 0;
		tj->final_done = 1;	/* the job is gone */
		return 1;
	}
	log_warnx("job %s: tick: %s", id, store_strerror(rc));
	tj->next_due = now + 1000;
	return 1;
}

/*
 * A creation that stopped moving (its creator crashed or was killed) is
 * terminated: no device ever saw the job, its rows are failed
 * "terminated" by the tick's next slices, and job show tells the operator.
 */
static void
tick_stale(struct core *c, const char *id, int64_t now)
{
	struct store_txn *txn = NULL;
	struct tick_job *tj;
	struct job_rec job;
	int64_t	 idle;
	int	 rc;

	if ((rc = store_txn_begin(c->st, 0, &txn)) != 0)
		goto fail;
	if ((rc = store_job_get(txn, id, &job)) != 0)
		goto fail;
	if (job.state != JOB_CREATING ||
	    now - job.rate_window < JOBS_CREATING_STALE_MS) {
		store_txn_abort(txn);
		return;
	}
	idle = now - job.rate_window;
	job.state = JOB_TERMINATED;
	job.finished = now;
	job.rate_window = 0;
	if ((rc = store_job_put(txn, &job)) != 0)
		goto fail;
	if ((rc = store_txn_commit(txn)) != 0)
		goto fail;
	log_warnx("job %s: its creation stopped %" PRId64 " s ago before it "
	    "was done: terminated (no device saw it)", id, idle / 1000);
	if ((tj = tj_find(c, id, 1)) != NULL)
		tj->self_ended = 1;	/* nobody else fails its rows */
	return;
fail:
	store_txn_abort(txn);
	if (rc != STORE_ENOTFOUND)
		log_warnx("job %s: tick: %s", id, store_strerror(rc));
}

void
core_tick_worker(struct core *c)
{
	grant_sweep(c->grants, core_now(c));
	c->dyn_jobs = 0;	/* the next check reads the open ones again */
}

void
core_tick(struct core *c, int64_t now)
{
	struct store_txn *txn;
	struct tick_pick *p;
	size_t	 i, budget = CORE_TICK_SCAN_ROWS, n;
	int	 rc;

	grant_sweep(c->grants, core_now(c));
	xfer_tick(c->xfer, core_now(c));
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->c = c;
	p->now = now;
	p->all_dirty = dirty_take_all(c);
	if ((rc = store_txn_begin(c->st, 1, &txn)) != 0) {
		log_warnx("tick: %s", store_strerror(rc));
		goto out;
	}
	c->ndyn = 0;	/* rebuilt from the jobs as they are now */
	if ((rc = store_id_count(txn, "j", &c->dyn_jobs)) == 0)
		rc = store_job_iter(txn, tick_pick_cb, p);
	store_txn_abort(txn);
	if (rc != 0 && rc != STORE_ESTOP) {
		log_warnx("tick: %s", store_strerror(rc));
		goto out;
	}
	for (i = 0; i < p->nstale; i++)
		tick_stale(c, p->stale[i], now);
	/* the tick's row budget, shared by the jobs it looks at */
	for (i = 0; i < p->n && budget > 0; i++) {
		n = tick_scan_job(c, p->ids[i], now, budget);
		budget = n < budget ? budget - n : 0;
	}
out:
	free(p);
}
