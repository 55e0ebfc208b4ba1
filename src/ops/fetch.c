/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fetch.c: firmware images from upstream HTTPS URLs (see fetch.h), the
 * operator operation behind "firmware add --url" and the admin API's
 * firmware by URL.  It sits in src/ops because it stores firmware through
 * ops (firmware.c's upload calls); it reaches the network through
 * src/http's HTTP/2 client and src/tls, which know nothing of ops.
 *
 * A blocking loop over one h2client connection at a time: GET the URL;
 * after an interruption (connection lost, stream reset, short body, no
 * progress for timeout_s) connect again and ask for "Range: bytes=N-"
 * where N is what was already stored.  A 206 must start exactly at N
 * (Content-Range); a 200 means the server ignored Range, and the upload
 * starts over.  Bytes stream into ops_firmware_upload_write (which also
 * enforces firmware_max_size) and into a SHA-256 computed here, which must
 * equal the operator's digest before ops_firmware_upload_finish stores
 * anything; any failure aborts the upload, so nothing is left behind.
 *
 * Every way round the loop is bounded.  An attempt that ends without
 * progress counts against opts->attempts; progress is only bytes that
 * carry the image on (the first answer, or a 206 resuming it), never an
 * answer that starts over from byte 0, so a server that answers 200 to
 * every Range and breaks off each time runs out of attempts.  Attempts
 * are at least a second apart, longer after each failure.  The whole
 * fetch has a deadline (opts->deadline_s), which also ends a server that
 * trickles a byte now and then, and opts->cancel ends it within
 * FETCH_SLICE_MS: every wait, the pauses included, is cut into slices
 * that look at both.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "http/h2client.h"
#include "log.h"
#include "ops/fetch.h"
#include "ops/ops.h"
#include "tls/tls.h"

#define FETCH_ATTEMPTS	5
#define FETCH_TIMEOUT_S	30
#define FETCH_DEADLINE_S 3600
#define FETCH_PAUSE_MAX_S 5	/* the longest pause between attempts */
#define FETCH_SLICE_MS	200	/* how soon a cancel or the deadline acts */
#define FETCH_AUTH_MAX	4200

struct fetch {
	struct ops	*ops;
	const struct ops_fw_params *params;
	const struct fetch_opts *opts;
	struct ops_upload *up;
	struct digest	*dg;
	struct ops_err	*err;
	uint64_t	 done;		/* bytes stored */
	uint64_t	 total;		/* 0: unknown */
	uint64_t	 offset;	/* where this answer starts */
	int64_t		 clen;		/* content-length, or -1 */
	char		 crange[128];
	int		 checked;	/* this answer's headers judged */
	int		 finished;	/* on_done came */
	int		 status;
	int		 stream_err;
	int		 fatal;		/* give up: err is set */
	int		 progressed;	/* this attempt carried the image on */
	int		 restarted;	/* this answer started over from 0 */
	int64_t		 deadline_ms;	/* fetch_now_ms() */
	unsigned	 deadline_s;
	const char	*where;		/* host[:port], for messages */
	char		 why[160];	/* how the last attempt ended */
};

static int64_t
fetch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fetch_fail(struct fetch *f, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fetch_fail(struct fetch *f, int status, const char *fmt, ...)
{
	va_list ap;

	if (!f->fatal) {
		f->err->status = status;
		va_start(ap, fmt);
		vsnprintf(f->err->msg, sizeof(f->err->msg), fmt, ap);
		va_end(ap);
		f->fatal = 1;
	}
	return status;
}

/*
 * Whether the fetch must end now: cancelled, or past its deadline.  1
 * with err set (and f->fatal), or 0.
 */
static int
fetch_stopped(struct fetch *f)
{
	if (f->fatal)
		return 1;
	if (f->opts->cancel != NULL && atomic_load(f->opts->cancel)) {
		fetch_fail(f, OPS_EIO, "%s: fetch cancelled (the gateway is "
		    "stopping)", f->where);
		return 1;
	}
	if (fetch_now_ms() >= f->deadline_ms) {
		fetch_fail(f, OPS_EIO, "%s: no complete image within the "
		    "fetch's time limit (%us); %" PRIu64 " bytes fetched",
		    f->where, f->deadline_s, f->done);
		return 1;
	}
	return 0;
}

/*
 * h2c_wait(c, timeout_s) in slices, so that a cancel or the deadline ends
 * it: 1 something happened, 0 timed out, -1 the connection died, -2 the
 * fetch must end (fetch_stopped).
 */
static int
fetch_wait(struct fetch *f, struct h2c *c, unsigned timeout_s)
{
	int64_t	 now, end;
	int	 rc;

	end = fetch_now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		if (fetch_stopped(f))
			return -2;
		if ((now = fetch_now_ms()) >= end)
			return 0;
		rc = h2c_wait(c, end - now < FETCH_SLICE_MS ? (int)(end - now) :
		    FETCH_SLICE_MS);
		if (rc != 0)
			return rc;
	}
}

/* Sleeps s seconds in slices: 0, or -1 when the fetch must end. */
static int
fetch_pause(struct fetch *f, unsigned s)
{
	struct timespec ts = { 0, FETCH_SLICE_MS * 1000000L };
	int64_t	 end = fetch_now_ms() + (int64_t)s * 1000;

	while (fetch_now_ms() < end) {
		if (fetch_stopped(f))
			return -1;
		nanosleep(&ts, NULL);
	}
	return fetch_stopped(f) ? -1 : 0;
}

/* Drops what was stored so far. */
static void
fetch_restart(struct fetch *f)
{
	ops_firmware_upload_abort(f->up);
	f->up = NULL;
	digest_free(f->dg);
	f->dg = NULL;
	f->done = 0;
}

static void
f_on_header(void *arg, const char *name, const char *value)
{
	struct fetch *f = arg;
	char *end;

	if (strcmp(name, ":status") == 0) {
		f->status = atoi(value);	/* three digits (h2client) */
		/* a new head: an interim (1xx) one's fields do not count */
		f->clen = -1;
		f->crange[0] = '\0';
	} else if (strcmp(name, "content-length") == 0) {
		errno = 0;
		f->clen = (int64_t)strtoll(value, &end, 10);
		if (*end != '\0' || errno != 0 || f->clen < 0)
			f->clen = -1;
	} else if (strcmp(name, "content-range") == 0)
		snprintf(f->crange, sizeof(f->crange), "%s", value);
}

/* "bytes A-B/T": 0 with a, t (t 0 for "*"), or -1. */
static int
parse_content_range(const char *s, uint64_t *a, uint64_t *t)
{
	unsigned long long x, y, z = 0;
	int n = 0;

	if (sscanf(s, "bytes %llu-%llu/%n", &x, &y, &n) != 2 || n == 0 ||
	    y < x)
		return -1;
	if (strcmp(s + n, "*") != 0) {
		if (sscanf(s + n, "%llu", &z) != 1 || z <= y)
			return -1;
	}
	*a = x;
	*t = z;
	return 0;
}

/* Judges an answer's status and headers before its first byte.  0 to
 * take the body, -1 to drop this answer (fatal or retry). */
static int
fetch_check(struct fetch *f)
{
	uint64_t a, t;

	f->checked = 1;
	if (f->status == 200) {
		if (f->done > 0) {
			log_info("fetch: %s: the server ignored Range: "
			    "starting over", f->where);
			fetch_restart(f);
			f->restarted = 1;
		}
		f->offset = 0;
		f->total = f->clen >= 0 ? (uint64_t)f->clen : 0;
	} else if (f->status == 206) {
		if (parse_content_range(f->crange, &a, &t) == -1 ||
		    a != f->done) {
			log_warnx("fetch: unusable Content-Range \"%s\" for "
			    "offset %" PRIu64 ": starting over", f->crange,
			    f->done);
			fetch_restart(f);
			return -1;
		}
		f->offset = a;
		if (t > 0)
			f->total = t;
	} else if (f->status == 408 || f->status == 429 ||
	    f->status >= 500)
		return -1;
	else {
		fetch_fail(f, OPS_EIO, "the server answered %d", f->status);
		return -1;
	}
	if (f->up == NULL) {
		if (ops_firmware_upload_begin(f->ops, f->params,
		    f->total > 0 ? (int64_t)f->total : -1, &f->up, f->err) !=
		    OPS_OK) {
			f->fatal = 1;
			return -1;
		}
		if ((f->dg = digest_new()) == NULL) {
			fetch_fail(f, OPS_EIO, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Cancels the stream (no on_done follows). */
static int
fetch_drop(struct fetch *f)
{
	f->finished = 1;
	f->stream_err = 1;
	return 1;
}

static int
f_on_data(void *arg, const uint8_t *data, size_t len)
{
	struct fetch *f = arg;

	if (f->finished)
		return 1;
	if (!f->checked && fetch_check(f) == -1)
		return fetch_drop(f);
	if (f->total > 0 && f->done + len > f->total) {
		fetch_fail(f, OPS_EIO, "the server sent more than %" PRIu64
		    " bytes", f->total);
		return fetch_drop(f);
	}
	if (ops_firmware_upload_write(f->up, data, len, f->err) != OPS_OK) {
		f->fatal = 1;
		return fetch_drop(f);
	}
	digest_update(f->dg, data, len);
	f->done += len;
	if (!f->restarted)
		f->progressed = 1;
	if (f->opts->progress != NULL)
		f->opts->progress(f->opts->arg, f->done, f->total);
	return 0;
}

static void
f_on_done(void *arg, int status, int err)
{
	struct fetch *f = arg;

	f->finished = 1;
	f->status = status;
	f->stream_err = err;
	if (!err && !f->checked)
		(void)fetch_check(f);	/* an empty body */
}

static void
fetch_why(struct fetch *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Notes (and logs) how an attempt ended, for the final message. */
static void
fetch_why(struct fetch *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
	log_warnx("fetch: %s: %s", f->where, f->why);
}

/* Forgets the previous answer before a request goes out. */
static void
fetch_answer_reset(struct fetch *f)
{
	f->checked = f->finished = f->stream_err = f->status = 0;
	f->clen = -1;
	f->crange[0] = '\0';
	f->progressed = f->restarted = 0;
}

/*
 * An answer that ended (on_done, a dropped stream or a fatal error): 1
 * when the whole image is in, 0 to try again, -1 fatal (err set).
 */
static int
fetch_answer_result(struct fetch *f)
{
	if (f->fatal)
		return -1;
	if (!f->stream_err && f->checked && f->up != NULL &&
	    (f->total == 0 || f->done == f->total) &&
	    (f->status == 200 || f->status == 206))
		return 1;
	fetch_why(f, "interrupted after %" PRIu64 " bytes (status %d%s)",
	    f->done, f->status, f->restarted ? ", Range ignored" : "");
	return 0;
}

/*
 * One connection and one GET.  1 when the whole image is in, 0 to try
 * again, -1 fatal (err set).
 */
static int
fetch_attempt(struct fetch *f, struct tls_client *tc, const struct h2c_url *u,
    const char *auth, unsigned timeout_s)
{
	struct h2c_header h[3];
	struct h2c_req_cb cb;
	struct h2c *c;
	char range[48];
	size_t nh = 0;
	int rc, result = 0;

	f->progressed = 0;	/* this attempt's, also if it cannot connect */
	if (fetch_stopped(f))
		return -1;
	if ((c = h2c_new(tc, u)) == NULL) {
		snprintf(f->why, sizeof(f->why), "cannot connect");
		return 0;
	}
	while (!h2c_ready(c)) {
		if ((rc = fetch_wait(f, c, timeout_s)) <= 0) {
			if (rc != -2)
				fetch_why(f, "%s", rc == 0 ?
				    "connect timed out" : h2c_error(c));
			goto out;
		}
	}
	h[nh].name = "user-agent";
	h[nh++].value = "otagw";
	if (auth != NULL) {
		h[nh].name = "authorization";
		h[nh++].value = auth;
	}
	if (f->done > 0) {
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", f->done);
		h[nh].name = "range";
		h[nh++].value = range;
	}
	memset(&cb, 0, sizeof(cb));
	cb.on_header = f_on_header;
	cb.on_data = f_on_data;
	cb.on_done = f_on_done;
	cb.arg = f;
	fetch_answer_reset(f);
	if (h2c_request(c, "GET", u->path, h, nh, NULL, 0, &cb) < 0) {
		fetch_why(f, "%s", h2c_error(c));
		goto out;
	}
	while (!f->finished && !f->fatal) {
		if ((rc = fetch_wait(f, c, timeout_s)) <= 0) {
			if (rc != -2)
				fetch_why(f, "%s after %" PRIu64 " bytes",
				    rc == 0 ? "no progress" : h2c_error(c),
				    f->done);
			goto out;
		}
	}
	result = fetch_answer_result(f);
out:
	h2c_free(c);
	return f->fatal ? -1 : result;
}

int
fetch_url_check(const char *url)
{
	struct h2c_url u;

	return h2c_url_parse(url, &u) == 0 ? 0 : -1;
}

void
fetch_url_redact(const char *url, char *out, size_t size)
{
	const char *p, *auth, *at, *end;
	size_t	 alen;

	if (size == 0)
		return;
	out[0] = '\0';
	if (url == NULL)
		return;
	/* scheme "://", or none */
	p = strstr(url, "://");
	if (p == NULL || strcspn(url, "/?#@") < (size_t)(p - url))
		p = url;
	else
		p += 3;
	/*
	 * The authority, without its userinfo: after the last '@' before
	 * any query or fragment, since a password may hold an unencoded '/'
	 * (a path with an '@' is then cut short: less shown, nothing leaked)
	 */
	auth = p;
	end = auth + strcspn(auth, "?#");
	for (at = auth; at < end; at++)
		if (*at == '@')
			auth = at + 1;
	end = auth + strcspn(auth, "/?#");
	alen = (size_t)(end - auth);
	/* the path, up to a query or fragment */
	snprintf(out, size, "%.*s%.*s%.*s%s", (int)(p - url), url, (int)alen,
	    auth, (int)strcspn(end, "?#"), end, end[strcspn(end, "?#")] ==
	    '\0' ? "" : "?...");
}

/*
 * The retry loop: an attempt, then give up or pause and go on.  0 with
 * the whole image in, or -1 with err set.
 */
static int
fetch_loop(struct fetch *f, struct tls_client *tc, const struct h2c_url *u,
    const char *auth, unsigned attempts, unsigned timeout_s)
{
	unsigned n, fails = 0;
	int	 rc;

	for (n = 1;; n++) {
		if ((rc = fetch_attempt(f, tc, u, auth, timeout_s)) != 0)
			return rc == 1 ? 0 : -1;
		if (!f->progressed)
			fails++;
		if (fails >= attempts) {
			fetch_fail(f, OPS_EIO, "%s: giving up after %u "
			    "attempts without progress (%u in all; last: %s)",
			    u->authority, fails, n, f->why);
			return -1;
		}
		/* at least a second, longer after each failure */
		if (fetch_pause(f, fails < 1 ? 1 : fails < FETCH_PAUSE_MAX_S ?
		    fails : FETCH_PAUSE_MAX_S) == -1)
			return -1;
	}
}

int
fetch_firmware(struct ops *ops, const struct ops_fw_params *params,
    const char *url, const uint8_t sha256[32], const struct fetch_opts *opts,
    struct firmware_rec *out, struct ops_err *err)
{
	struct fetch_opts defopts;
	struct fetch f;
	struct h2c_url u;
	struct tls_client *tc = NULL;
	char auth[FETCH_AUTH_MAX];
	uint8_t md5[16], sha[32];
	unsigned attempts, timeout_s;
	int rc;

	memset(&f, 0, sizeof(f));
	err->status = OPS_OK;
	err->msg[0] = '\0';
	if (opts == NULL) {
		memset(&defopts, 0, sizeof(defopts));
		opts = &defopts;
	}
	f.ops = ops;
	f.params = params;
	f.opts = opts;
	f.err = err;
	attempts = opts->attempts > 0 ? opts->attempts : FETCH_ATTEMPTS;
	timeout_s = opts->timeout_s > 0 ? opts->timeout_s : FETCH_TIMEOUT_S;
	f.deadline_s = opts->deadline_s > 0 ? opts->deadline_s :
	    FETCH_DEADLINE_S;
	f.deadline_ms = fetch_now_ms() + (int64_t)f.deadline_s * 1000;
	if (h2c_url_parse(url, &u) == -1)
		return fetch_fail(&f, OPS_EINVAL, "not an https URL this "
		    "client can use (https://HOST[:PORT]/PATH, no user name)");
	f.where = u.authority;
	if (opts->token != NULL && strlen(opts->token) > sizeof(auth) - 8)
		return fetch_fail(&f, OPS_EINVAL, "token too long");
	/* refuse what the upload would refuse before any byte comes */
	if ((rc = ops_firmware_upload_check(ops, params, err)) != OPS_OK)
		return rc;
	if (opts->token != NULL)
		snprintf(auth, sizeof(auth), "Bearer %s", opts->token);
	if ((tc = tls_client_new(opts->ca_file, 1)) == NULL)
		return fetch_fail(&f, OPS_EIO, "cannot set up TLS (CA %s)",
		    opts->ca_file != NULL && opts->ca_file[0] != '\0' ?
		    opts->ca_file : "system");
	rc = fetch_loop(&f, tc, &u, opts->token != NULL ? auth : NULL,
	    attempts, timeout_s);
	tls_client_free(tc);
	crypto_wipe(auth, sizeof(auth));
	if (rc == -1)
		goto fail;
	digest_final(f.dg, md5, sha);
	if (crypto_memcmp(sha, sha256, 32) != 0) {
		fetch_fail(&f, OPS_EINVAL, "SHA-256 of the downloaded image "
		    "does not match the one given");
		goto fail;
	}
	digest_free(f.dg);
	f.dg = NULL;
	rc = ops_firmware_upload_finish(f.up, out, err);
	f.up = NULL;
	return rc;
fail:
	ops_firmware_upload_abort(f.up);
	digest_free(f.dg);
	return err->status != OPS_OK ? err->status : OPS_EIO;
}
