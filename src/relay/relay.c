/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relay.c: the upstream relay (CONTRACT §5), see relay.h.
 *
 * One batch at a time, so that order holds: the oldest outbox entries
 * (up to upstream_batch_max events and RELAY_BATCH_BYTES), each stamped
 * with its sequence number and this gateway's id, are POSTed as one JSON
 * array over the one HTTP/2 connection (h2client.c) on the daemon's event
 * loop.  The answer decides (relay_verdict): a 2xx deletes the batch's
 * sequence range from the outbox in one transaction; no answer, 408, 429
 * and 5xx send the same batch again after a backoff with full jitter
 * capped at upstream_backoff_max; any other status parks the range in the
 * store (kept, counted, the reason logged) and the relay goes on.
 *
 * Nothing here runs on the device path: devices append to the outbox in
 * their own transactions (bounded there by outbox_limit, see store.h) and
 * the relay reads it when kicked, or every RELAY_POLL_MS when idle.  When
 * there is no upstream_url the relay is idle and only reports the outbox.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "codec/codec.h"
#include "config.h"
#include "crypto/crypto.h"
#include "ev.h"
#include "log.h"
#include "http/h2client.h"
#include "relay/relay.h"
#include "store/store.h"
#include "tls/tls.h"
#include "util/validate.h"

#define RELAY_BATCH_BYTES	(256 * 1024)
#define RELAY_POLL_MS		250
#define RELAY_TIMEOUT_MS	30000	/* connect, or one POST's answer */
#define RELAY_BACKOFF_BASE_MS	500
#define RELAY_TOKEN_MAX		4096
#define RELAY_REASON_MAX	200

struct relay {
	int		 enabled;
	struct store	*st;
	struct ev	*ev;
	char		 gateway[65];
	char		 token_file[CONFIG_PATH];
	char		*auth;		/* "Bearer <token>", wiped */
	unsigned	 batch_max;
	uint64_t	 backoff_max_ms;
	struct h2c_url	 url;
	struct tls_client *tc;

	struct h2c	*conn;
	int		 reg_fd;	/* registered with ev, or -1 */
	int		 was_connected;

	struct relay_batch batch;
	int		 inflight;
	int32_t		 stream;
	int		 answered;	/* on_done came */
	int		 status;
	int		 stream_err;
	int64_t		 retry_after_ms;	/* Retry-After, or 0 */
	char		 reason[RELAY_REASON_MAX + 1];
	size_t		 reasonlen;

	unsigned	 attempt;	/* failed tries of this batch */
	int64_t		 retry_at;	/* ev_now_ms, 0: now */
	struct ev_timer	*wake;
	int64_t		 wake_at;
	struct ev_timer	*deadline;

	struct relay_stats stats;
};

static void	relay_run(struct relay *);

/* Pure parts ------------------------------------------------------------ */

int
relay_verdict(int status)
{
	if (status >= 200 && status <= 299)
		return RELAY_DONE;
	if (status == 0 || status == 408 || status == 429 ||
	    (status >= 500 && status <= 599))
		return RELAY_RETRY;
	return RELAY_PARK;
}

uint64_t
relay_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms,
    uint64_t rnd)
{
	uint64_t cap = base_ms;
	unsigned i;

	if (attempt == 0)
		return 0;
	for (i = 1; i < attempt && cap < max_ms; i++)
		cap = cap > UINT64_MAX / 2 ? UINT64_MAX : cap * 2;
	if (cap > max_ms)
		cap = max_ms;
	return cap == UINT64_MAX ? rnd : rnd % (cap + 1);
}

void
relay_batch_init(struct relay_batch *b, size_t max_count, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->max_count = max_count > 0 ? max_count : 1;
	b->max_bytes = max_bytes;
}

void
relay_batch_reset(struct relay_batch *b)
{
	b->len = 0;
	b->count = 0;
	b->first = b->last = 0;
}

void
relay_batch_free(struct relay_batch *b)
{
	free(b->buf);
	b->buf = NULL;
	b->cap = 0;
	relay_batch_reset(b);
}

static int
batch_reserve(struct relay_batch *b, size_t more)
{
	size_t need = b->len + more, cap;
	char *p;

	if (need <= b->cap)
		return 0;
	cap = b->cap > 0 ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->buf, cap)) == NULL)
		return -1;
	b->buf = p;
	b->cap = cap;
	return 0;
}

int
relay_batch_add(struct relay_batch *b, uint64_t seq, const char *ev,
    size_t len)
{
	/* '[' or ',' before it, ']' after the last */
	if (b->count > 0 && (b->count >= b->max_count ||
	    b->len + 1 + len + 1 > b->max_bytes))
		return 1;
	if (batch_reserve(b, len + 2) == -1)
		return -1;
	b->buf[b->len++] = b->count == 0 ? '[' : ',';
	memcpy(b->buf + b->len, ev, len);
	b->len += len;
	if (b->count == 0)
		b->first = seq;
	b->last = seq;
	b->count++;
	return 0;
}

int
relay_batch_close(struct relay_batch *b)
{
	if (b->count == 0)
		return -1;
	if (batch_reserve(b, 1) == -1)
		return -1;
	b->buf[b->len++] = ']';
	return 0;
}

/* Timers ---------------------------------------------------------------- */

static void
relay_wake_cb(void *arg)
{
	struct relay *r = arg;

	r->wake = NULL;
	relay_run(r);
}

/* Runs relay_run in ms (or sooner if already due sooner). */
static void
relay_schedule(struct relay *r, int64_t ms)
{
	int64_t at = ev_now_ms() + ms;

	if (r->wake != NULL) {
		if (r->wake_at <= at)
			return;
		ev_timer_cancel(r->ev, r->wake);
		r->wake = NULL;
	}
	if ((r->wake = ev_timer_add(r->ev, ms, relay_wake_cb, r)) != NULL)
		r->wake_at = at;
	else
		log_warn("relay: ev_timer_add");
}

/* Connection ------------------------------------------------------------ */

static void	relay_conn_failed(struct relay *, const char *why);

static void
relay_conn_close(struct relay *r)
{
	if (r->reg_fd != -1)
		ev_fd_del(r->ev, r->reg_fd);
	r->reg_fd = -1;
	h2c_free(r->conn);
	r->conn = NULL;
	r->inflight = 0;
	r->answered = 0;
	r->stats.connected = 0;
	ev_timer_cancel(r->ev, r->deadline);
	r->deadline = NULL;
}

static void	relay_io_cb(int, uint32_t, void *);

/* Keeps the event loop watching what the connection waits for. */
static int
relay_watch(struct relay *r)
{
	int fd = h2c_fd(r->conn);
	uint32_t events = h2c_events(r->conn);

	if (fd != r->reg_fd) {
		if (r->reg_fd != -1)
			ev_fd_del(r->ev, r->reg_fd);
		r->reg_fd = -1;
		if (ev_fd_add(r->ev, fd, events, relay_io_cb, r) == -1) {
			log_warn("relay: ev_fd_add");
			return -1;
		}
		r->reg_fd = fd;
		return 0;
	}
	if (ev_fd_mod(r->ev, fd, events) == -1) {
		log_warn("relay: ev_fd_mod");
		return -1;
	}
	return 0;
}

static void
relay_deadline_cb(void *arg)
{
	struct relay *r = arg;

	r->deadline = NULL;
	relay_conn_failed(r, r->inflight ? "no answer in time" :
	    "connect timed out");
}

static void
relay_arm_deadline(struct relay *r)
{
	ev_timer_cancel(r->ev, r->deadline);
	r->deadline = ev_timer_add(r->ev, RELAY_TIMEOUT_MS, relay_deadline_cb,
	    r);
}

/* A failed try of the current batch: back off. */
static void
relay_retry_later(struct relay *r, const char *why)
{
	uint64_t rnd = 0, ms;

	r->attempt++;
	if (r->batch.count > 0) {
		struct store_txn *txn;

		r->stats.retries++;
		/* persisted for `otactl relay status'; best effort */
		if (store_txn_begin(r->st, 0, &txn) == 0) {
			if (store_relay_count(txn, 0, 1) == 0)
				(void)store_txn_commit(txn);
			else
				store_txn_abort(txn);
		}
	}
	/*
	 * The batch is read again from the outbox before it is sent again:
	 * the same events, less any that the outbox limit drops meanwhile
	 * (and more, if it was not full), so a dropped event never arrives.
	 */
	relay_batch_reset(&r->batch);
	(void)crypto_random(&rnd, sizeof(rnd));
	ms = relay_backoff_ms(r->attempt, RELAY_BACKOFF_BASE_MS,
	    r->backoff_max_ms, rnd);
	/* the server's Retry-After, within the configured ceiling */
	if (r->retry_after_ms > 0 && (uint64_t)r->retry_after_ms > ms)
		ms = (uint64_t)r->retry_after_ms < r->backoff_max_ms ?
		    (uint64_t)r->retry_after_ms : r->backoff_max_ms;
	r->retry_after_ms = 0;
	r->retry_at = ev_now_ms() + (int64_t)ms;
	if (r->attempt == 1 || r->attempt % 10 == 0)
		log_warnx("relay: %s: %s; retry %u in %.1f s", r->url.authority,
		    why, r->attempt, (double)ms / 1000.0);
	else
		log_debug("relay: %s: %s; retry %u in %.1f s",
		    r->url.authority, why, r->attempt, (double)ms / 1000.0);
	relay_schedule(r, (int64_t)ms);
}

static void
relay_conn_failed(struct relay *r, const char *why)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "%s", why);
	if (r->was_connected && (r->inflight || r->batch.count > 0))
		log_warnx("relay: lost the connection to %s: %s",
		    r->url.authority, msg);
	else if (r->was_connected)
		log_info("relay: idle connection to %s closed: %s",
		    r->url.authority, msg);
	r->was_connected = 0;
	relay_conn_close(r);
	if (r->batch.count > 0)
		relay_retry_later(r, msg);
}

/* Answers --------------------------------------------------------------- */

static void
req_on_header(void *arg, const char *name, const char *value)
{
	struct relay *r = arg;
	char *end;
	long n;

	/* a new head: an interim (1xx) one's Retry-After does not count */
	if (strcmp(name, ":status") == 0)
		r->retry_after_ms = 0;
	/* Retry-After in seconds (an HTTP date is ignored) */
	if (strcmp(name, "retry-after") == 0) {
		errno = 0;
		n = strtol(value, &end, 10);
		if (end != value && *end == '\0' && errno == 0 && n > 0 &&
		    n <= 86400)
			r->retry_after_ms = (int64_t)n * 1000;
	}
}

static int
req_on_data(void *arg, const uint8_t *data, size_t len)
{
	struct relay *r = arg;
	size_t room = RELAY_REASON_MAX - r->reasonlen;

	if (len > room)
		len = room;
	memcpy(r->reason + r->reasonlen, data, len);
	r->reasonlen += len;
	r->reason[r->reasonlen] = '\0';
	return 0;
}

static void
req_on_done(void *arg, int status, int err)
{
	struct relay *r = arg;

	r->answered = 1;
	r->status = status;
	r->stream_err = err;
}

/* Forgets the previous answer before a request goes out. */
static void
relay_answer_reset(struct relay *r)
{
	r->answered = 0;
	r->status = 0;
	r->stream_err = 0;
	r->retry_after_ms = 0;
	r->reasonlen = 0;
	r->reason[0] = '\0';
}

/* Printable reason for logs: the start of the answer's body. */
static void
reason_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = ' ';
}

static void
relay_answered(struct relay *r)
{
	struct store_txn *txn = NULL;
	char why[64];
	size_t n = 0;
	int rc, verdict;

	r->answered = 0;
	r->inflight = 0;
	ev_timer_cancel(r->ev, r->deadline);
	r->deadline = NULL;
	verdict = relay_verdict(r->stream_err ? 0 : r->status);
	if (verdict == RELAY_RETRY) {
		if (r->status != 0 && !r->stream_err)
			snprintf(why, sizeof(why), "answered %d", r->status);
		else
			snprintf(why, sizeof(why), "request reset");
		relay_retry_later(r, why);
		return;
	}
	if ((rc = store_txn_begin(r->st, 0, &txn)) == 0) {
		if (verdict == RELAY_DONE) {
			rc = store_outbox_del_range(txn, r->batch.first,
			    r->batch.last, &n);
			if (rc == 0)
				rc = store_relay_count(txn, r->batch.count, 0);
		} else
			rc = store_outbox_park(txn, r->batch.first,
			    r->batch.last, &n);
		if (rc == 0)
			rc = store_txn_commit(txn);
		else
			store_txn_abort(txn);
	}
	if (rc != 0) {
		/* sent again later: the upstream drops duplicates by seq */
		log_warnx("relay: cannot update the outbox: %s",
		    store_strerror(rc));
		relay_retry_later(r, "store error");
		return;
	}
	if (verdict == RELAY_DONE) {
		r->stats.sent += r->batch.count;
		r->stats.batches++;
		log_debug("relay: sent events %" PRIu64 "..%" PRIu64 " (%zu)",
		    r->batch.first, r->batch.last, r->batch.count);
	} else {
		reason_clean(r->reason);
		r->stats.parked++;
		log_warnx("relay: %s refused events %" PRIu64 "..%" PRIu64
		    " with %d%s%s: batch parked (%zu events kept aside)",
		    r->url.authority, r->batch.first, r->batch.last, r->status,
		    r->reasonlen > 0 ? ": " : "", r->reason, n);
	}
	relay_batch_reset(&r->batch);
	r->attempt = 0;
	r->retry_at = 0;
	relay_schedule(r, 0);
}

/* Sending --------------------------------------------------------------- */

struct load_ctx {
	struct relay *r;
	int	 err;
	uint64_t bad;		/* an entry that cannot be stamped */
};

/* An outbox entry that is not a JSON object would block everything
 * behind it: it is parked like a refused batch. */
static void
relay_park_bad(struct relay *r, uint64_t seq)
{
	struct store_txn *txn;
	int rc;

	log_warnx("relay: outbox event %" PRIu64 " is not a JSON object:"
	    " parked", seq);
	if ((rc = store_txn_begin(r->st, 0, &txn)) != 0)
		return;
	if (store_outbox_park(txn, seq, seq, NULL) == 0)
		(void)store_txn_commit(txn);
	else
		store_txn_abort(txn);
}

static int
load_cb(const struct outbox_entry *e, void *arg)
{
	struct load_ctx *lc = arg;
	struct relay *r = lc->r;
	size_t len;
	char *s;
	int rc;

	if ((s = codec_event_stamp(e->data, e->len, e->seq, r->gateway,
	    &len)) == NULL) {
		lc->err = 1;
		lc->bad = e->seq;
		return 1;
	}
	rc = relay_batch_add(&r->batch, e->seq, s, len);
	free(s);
	if (rc == -1)
		lc->err = 1;
	return rc != 0;
}

/* Fills the batch from the oldest outbox entries.  0, or -1. */
static int
relay_load(struct relay *r)
{
	struct store_txn *txn;
	struct load_ctx lc;
	int rc;

	relay_batch_reset(&r->batch);
	if ((rc = store_txn_begin(r->st, 1, &txn)) != 0) {
		log_warnx("relay: %s", store_strerror(rc));
		return -1;
	}
	lc.r = r;
	lc.err = 0;
	lc.bad = 0;
	rc = store_outbox_iter(txn, 0, load_cb, &lc);
	store_txn_abort(txn);
	if (lc.bad != 0 && r->batch.count == 0) {
		relay_park_bad(r, lc.bad);
		return -1;
	}
	if ((rc != 0 && rc != STORE_ESTOP) || (lc.err && r->batch.count == 0)) {
		relay_batch_reset(&r->batch);
		return -1;
	}
	if (r->batch.count > 0 && relay_batch_close(&r->batch) == -1) {
		relay_batch_reset(&r->batch);
		return -1;
	}
	return 0;
}

static void
relay_send(struct relay *r)
{
	struct h2c_header h[4];
	struct h2c_req_cb cb;
	char clen[24];
	size_t nh = 0;

	snprintf(clen, sizeof(clen), "%zu", r->batch.len);
	h[nh].name = "content-length";
	h[nh++].value = clen;
	h[nh].name = "content-type";
	h[nh++].value = "application/json";
	h[nh].name = "user-agent";
	h[nh++].value = "otagw";
	if (r->auth != NULL) {
		h[nh].name = "authorization";
		h[nh++].value = r->auth;
	}
	memset(&cb, 0, sizeof(cb));
	cb.on_header = req_on_header;
	cb.on_data = req_on_data;
	cb.on_done = req_on_done;
	cb.arg = r;
	relay_answer_reset(r);
	r->stream = h2c_request(r->conn, "POST", r->url.path, h, nh,
	    r->batch.buf, r->batch.len, &cb);
	if (r->stream < 0) {
		relay_conn_failed(r, h2c_error(r->conn));
		return;
	}
	r->inflight = 1;
	relay_arm_deadline(r);
	if (relay_watch(r) == -1)
		relay_conn_failed(r, "event loop");
}

static void
relay_io_cb(int fd, uint32_t events, void *arg)
{
	struct relay *r = arg;
	int rc;

	(void)fd;
	(void)events;
	if (r->conn == NULL)
		return;
	rc = h2c_io(r->conn);
	if (r->answered)
		relay_answered(r);
	if (rc == -1) {
		relay_conn_failed(r, h2c_error(r->conn));
		return;
	}
	if (h2c_ready(r->conn) && !r->was_connected) {
		r->was_connected = 1;
		r->stats.connected = 1;
		log_info("relay: connected to %s", r->url.authority);
		if (!r->inflight) {
			ev_timer_cancel(r->ev, r->deadline);
			r->deadline = NULL;
		}
		relay_run(r);	/* sends the first batch */
	}
	if (r->conn != NULL && relay_watch(r) == -1)
		relay_conn_failed(r, "event loop");
}

static void
relay_run(struct relay *r)
{
	int64_t now;

	if (!r->enabled || r->inflight)
		return;
	now = ev_now_ms();
	if (r->retry_at > now) {
		relay_schedule(r, r->retry_at - now);
		return;
	}
	if (r->batch.count == 0) {
		if (relay_load(r) == -1) {
			relay_schedule(r, 1000);
			return;
		}
		if (r->batch.count == 0) {
			relay_schedule(r, RELAY_POLL_MS);
			return;
		}
	}
	if (r->conn == NULL) {
		if ((r->conn = h2c_new(r->tc, &r->url)) == NULL) {
			relay_retry_later(r, "cannot connect");
			return;
		}
		relay_arm_deadline(r);
		if (relay_watch(r) == -1)
			relay_conn_failed(r, "event loop");
		return;
	}
	if (!h2c_ready(r->conn))
		return;
	relay_send(r);
}

/* Setup ----------------------------------------------------------------- */

/* Reads the bearer token (first line, trimmed).  0, or -1 (logged). */
static int
relay_read_token(struct relay *r, const char *path)
{
	char buf[RELAY_TOKEN_MAX + 2], *auth;
	size_t n;
	FILE *fp;

	if (path[0] == '\0') {
		if (r->auth != NULL)
			crypto_wipe(r->auth, strlen(r->auth));
		free(r->auth);
		r->auth = NULL;
		return 0;
	}
	if ((fp = fopen(path, "re")) == NULL) {
		log_warn("relay: upstream_token_file %s", path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0 || n > RELAY_TOKEN_MAX) {
		log_warnx("relay: upstream_token_file %s: no usable token",
		    path);
		crypto_wipe(buf, sizeof(buf));
		return -1;
	}
	if ((auth = malloc(n + 8)) == NULL) {
		crypto_wipe(buf, sizeof(buf));
		return -1;
	}
	snprintf(auth, n + 8, "Bearer %s", buf);
	crypto_wipe(buf, sizeof(buf));
	if (r->auth != NULL)
		crypto_wipe(r->auth, strlen(r->auth));
	free(r->auth);
	r->auth = auth;
	return 0;
}

static void
relay_collect(void *arg, struct metrics_out *m)
{
	struct relay *r = arg;
	struct store_txn *txn;
	struct outbox_stats os;
	double age = 0;

	memset(&os, 0, sizeof(os));
	if (store_txn_begin(r->st, 1, &txn) == 0) {
		(void)store_outbox_stats(txn, &os);
		store_txn_abort(txn);
	}
	if (os.depth > 0 && os.oldest_ts > 0) {
		age = (double)(time_now_ms() - os.oldest_ts) / 1000.0;
		if (age < 0)
			age = 0;
	}
	metrics_gauge(m, "otagw_outbox_depth", "Events waiting in the outbox.",
	    "", (double)os.depth);
	metrics_gauge(m, "otagw_outbox_oldest_age_seconds",
	    "Age of the oldest event in the outbox.", "", age);
	metrics_counter(m, "otagw_outbox_dropped_total",
	    "Events dropped at the outbox limit.", "",
	    (double)os.dropped);
	metrics_counter(m, "otagw_outbox_dropped_reports_total",
	    "Version reports and state changes dropped at the outbox limit "
	    "(no progress event was left to drop).", "",
	    (double)os.dropped_kept);
	metrics_gauge(m, "otagw_outbox_parked_events",
	    "Events kept aside after the upstream refused them.", "",
	    (double)os.parked_events);
	metrics_counter(m, "otagw_relay_parked_batches_total",
	    "Batches the upstream refused with a 4xx (parked).", "",
	    (double)os.parked_batches);
	metrics_counter(m, "otagw_relay_events_sent_total",
	    "Events the upstream acknowledged.", "", (double)r->stats.sent);
	metrics_counter(m, "otagw_relay_batches_total",
	    "Batches the upstream acknowledged.", "",
	    (double)r->stats.batches);
	metrics_counter(m, "otagw_relay_retries_total",
	    "Batches sent again after a failure.", "",
	    (double)r->stats.retries);
	metrics_gauge(m, "otagw_relay_connected",
	    "1 while connected to the upstream.", "",
	    (double)r->stats.connected);
}

static void
relay_apply(struct relay *r, const struct config *cfg)
{
	r->batch_max = cfg->upstream_batch_max > 0 ? cfg->upstream_batch_max :
	    500;
	r->backoff_max_ms = (uint64_t)(cfg->upstream_backoff_max > 0 ?
	    cfg->upstream_backoff_max : 300) * 1000;
	if (r->backoff_max_ms < RELAY_BACKOFF_BASE_MS)
		r->backoff_max_ms = RELAY_BACKOFF_BASE_MS;
	r->batch.max_count = r->batch_max;
}

struct relay *
relay_new(const struct config *cfg, struct store *st, struct ev *ev,
    struct metrics *metrics)
{
	struct relay *r;
	size_t	 dropped;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->st = st;
	r->ev = ev;
	r->reg_fd = -1;
	snprintf(r->gateway, sizeof(r->gateway), "%s", cfg->gateway_id);
	relay_batch_init(&r->batch, 500, RELAY_BATCH_BYTES);
	relay_apply(r, cfg);
	if (store_outbox_limit_save(st, cfg->outbox_limit, &dropped) != 0)
		log_warnx("relay: cannot save outbox_limit in the store");
	else if (dropped > 0)
		log_warnx("relay: the outbox was over outbox_limit %zu: "
		    "dropped its %zu oldest events", cfg->outbox_limit,
		    dropped);
	if (metrics != NULL && metrics_register(metrics, relay_collect, r) ==
	    -1)
		log_warnx("relay: cannot register metrics");
	if (cfg->upstream_url[0] == '\0') {
		log_info("relay: no upstream_url, events stay in the outbox");
		return r;
	}
	if (h2c_url_parse(cfg->upstream_url, &r->url) == -1) {
		log_warnx("relay: upstream_url %s: not a usable https URL",
		    cfg->upstream_url);
		goto fail;
	}
	snprintf(r->token_file, sizeof(r->token_file), "%s",
	    cfg->upstream_token_file);
	if (relay_read_token(r, r->token_file) == -1)
		goto fail;
	if ((r->tc = tls_client_new(cfg->upstream_ca, 1)) == NULL) {
		log_warnx("relay: cannot set up TLS for the upstream (CA %s)",
		    cfg->upstream_ca[0] != '\0' ? cfg->upstream_ca :
		    "system");
		goto fail;
	}
	r->enabled = 1;
	log_info("relay: posting events to https://%s%s", r->url.authority,
	    r->url.path);
	relay_schedule(r, 0);
	return r;
fail:
	relay_free(r);
	return NULL;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	relay_conn_close(r);
	ev_timer_cancel(r->ev, r->wake);
	r->wake = NULL;
	tls_client_free(r->tc);
	if (r->auth != NULL)
		crypto_wipe(r->auth, strlen(r->auth));
	free(r->auth);
	relay_batch_free(&r->batch);
	free(r);
}

void
relay_set_config(struct relay *r, const struct config *cfg)
{
	if (r == NULL)
		return;
	relay_apply(r, cfg);
	if (r->enabled && relay_read_token(r, r->token_file) == -1)
		log_warnx("relay: keeping the previous upstream token");
}

void
relay_kick(struct relay *r)
{
	if (r != NULL && r->enabled && !r->inflight && r->retry_at == 0 &&
	    r->batch.count == 0)
		relay_schedule(r, 0);
}

void
relay_stats(const struct relay *r, struct relay_stats *out)
{
	struct store_txn *txn;
	struct outbox_stats os;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return;
	*out = r->stats;
	memset(&os, 0, sizeof(os));
	if (store_txn_begin(r->st, 1, &txn) == 0) {
		(void)store_outbox_stats(txn, &os);
		store_txn_abort(txn);
	}
	out->dropped = os.dropped;
	out->parked = os.parked_batches;
}
