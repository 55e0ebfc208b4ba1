/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_relay.c: what the upstream answers, as the relay (src/relay/relay.c)
 * and firmware fetches (src/ops/fetch.c) read it through the HTTP/2
 * client (src/http/h2client.c).
 *
 * The three files are included here, as the unit tests of STYLE.md may
 * do, to reach their static callbacks.  A connection is made the way
 * h2c_new makes one, minus the socket and TLS: an nghttp2 client session
 * with h2client's callbacks and one request submitted (its bytes are
 * dropped).  The upstream's answer then arrives in one of two framings:
 *
 *   HTTP/2     the bytes a server sends after the client preface (its
 *              SETTINGS, then HEADERS and DATA frames ...), given to
 *              nghttp2_session_mem_recv as h2c_read gives TLS records;
 *   lines      "name: value" header lines, a blank line and the body,
 *              handed straight to h2client's callbacks (cb_on_header,
 *              cb_on_data, cb_on_close) as nghttp2 would call them, so
 *              that the fuzzer reaches Retry-After, Content-Range and
 *              status handling without having to learn HPACK.  Heads
 *              follow HTTP/2's rule: ":status" may come again only after
 *              a 1xx (otherwise the stream is reset, as nghttp2 does).  A
 *              line ":end: reset" ends the stream with RST_STREAM,
 *              ":end: lost" leaves it open (the connection drops); the
 *              default is a complete answer.
 *
 * Input: the first byte picks the consumer (bit 0: 0 the relay's POST of
 * a batch, 1 a fetch's GET) and the framing (bit 1: 0 lines, 1 HTTP/2).
 * The rest is one answer, or for a fetch up to FETCH_ATTEMPTS answers
 * separated by "\n--next--\n", each on a new connection with the Range a
 * resumed fetch asks for.  The relay then judges its answer with
 * relay_answered (or relay_conn_failed), against a store in a temporary
 * directory; a fetch streams into a real upload (ops_firmware_upload_*)
 * that is aborted at the end.
 *
 * Checks beyond "no crash": a retry never waits longer than the
 * configured ceiling, whatever Retry-After says; the reason kept for the
 * log stays within its buffer; a fetch never stores more than the total
 * the server announced; an answer judged fatal leaves an error message;
 * and the fields of an interim (1xx) head do not carry over into the
 * final one (the consumers' header callbacks are wrapped to see what
 * each head brought).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "http/h2client.c"
#include "relay/relay.c"
#include "ops/fetch.c"

#include "ops/ops.h"
#include "store/store.h"

#define ANSWER_SEP	"\n--next--\n"

static char dir[256];
static struct store *st;
static struct ev *evl;
static pid_t owner;

/* Which fields the consumer got since the last :status (one answer). */
static struct {
	int	 retry_after;
	int	 content_length;
	int	 content_range;
} since_status;

static void
seen_header(const char *name)
{
	if (strcmp(name, ":status") == 0)
		memset(&since_status, 0, sizeof(since_status));
	else if (strcmp(name, "retry-after") == 0)
		since_status.retry_after = 1;
	else if (strcmp(name, "content-length") == 0)
		since_status.content_length = 1;
	else if (strcmp(name, "content-range") == 0)
		since_status.content_range = 1;
}

static void
relay_on_header(void *arg, const char *name, const char *value)
{
	seen_header(name);
	req_on_header(arg, name, value);
}

static void
fetch_on_header(void *arg, const char *name, const char *value)
{
	seen_header(name);
	f_on_header(arg, name, value);
}

static int64_t
fixed_now(void)
{
	return 1764000000000;
}

static void
cleanup(void)
{
	if (getpid() != owner)
		return;
	store_close(st);
	ev_free(evl);
	fuzz_rmtree(dir);
}

static void
setup(void)
{
	fuzz_quiet();
	owner = getpid();
	if (fuzz_mkdtemp(dir, sizeof(dir), "relay") == -1 ||
	    store_open(dir, 64 * 1024 * 1024, &st) != 0 ||
	    (evl = ev_new()) == NULL) {
		fprintf(stderr, "fuzz_relay: cannot set up in %s\n", dir);
		abort();
	}
	atexit(cleanup);
}

/* Takes what nghttp2 has to send, as h2c_flush would, and drops it. */
static void
drain(struct h2c *c)
{
	const uint8_t *d;

	while (nghttp2_session_mem_send(c->sess, &d) > 0)
		;
}

/*
 * A connection as h2c_new and the TLS handshake leave it, with one
 * request submitted and sent.  While the state is ST_HANDSHAKE,
 * h2c_request's flush leaves the bytes to drain().
 */
static struct h2c *
conn_new(const char *method, const struct h2c_header *h, size_t nh,
    const void *body, size_t len, const struct h2c_req_cb *cb, int32_t *id)
{
	struct h2c *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->fd = -1;
	c->state = ST_HANDSHAKE;
	snprintf(c->url.host, sizeof(c->url.host), "upstream.test");
	snprintf(c->url.authority, sizeof(c->url.authority), "upstream.test");
	c->url.port = 443;
	if (h2c_session_new(c) != 0)
		abort();
	if ((*id = h2c_request(c, method, "/otagw", h, nh, body, len,
	    cb)) < 0)
		abort();
	drain(c);
	c->state = ST_OPEN;
	return c;
}

/* The server's bytes, as h2c_read hands a TLS record to nghttp2. */
static void
feed_h2(struct h2c *c, const uint8_t *a, size_t len)
{
	ssize_t	 n;

	n = nghttp2_session_mem_recv(c->sess, a, len);
	if (n < 0) {
		h2c_fail(c, "HTTP/2: %s", nghttp2_strerror((int)n));
		return;
	}
	drain(c);
}

/* One answer in lines, handed to the callbacks nghttp2 would call. */
static void
feed_lines(struct h2c *c, int32_t id, const uint8_t *a, size_t len)
{
	const uint8_t *p = a, *end = a + len, *nl, *colon, *v;
	nghttp2_frame frame;
	uint32_t close_code = NGHTTP2_NO_ERROR;
	size_t	 ll, chunk;
	int	 lost = 0, final = 0, rc;

	memset(&frame, 0, sizeof(frame));
	frame.hd.type = NGHTTP2_HEADERS;
	frame.hd.stream_id = id;
	for (;;) {
		if (p >= end)
			goto body;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		ll = (size_t)(nl - p);
		if (ll == 0) {
			p = nl + 1;
			break;
		}
		if (ll > 5 && memcmp(p, ":end:", 5) == 0) {
			v = p + 5;
			while (v < nl && *v == ' ')
				v++;
			if ((size_t)(nl - v) >= 4 && memcmp(v, "lost", 4) == 0)
				lost = 1;
			else if ((size_t)(nl - v) >= 5 &&
			    memcmp(v, "reset", 5) == 0)
				close_code = NGHTTP2_CANCEL;
		} else if ((colon = memchr(p + 1, ':', ll - 1)) != NULL) {
			v = colon + 1;
			if (v < nl && *v == ' ')
				v++;
			/*
			 * After a final status another head is a trailer, and
			 * a pseudo-header there makes nghttp2 reset the stream.
			 */
			if (colon - p == 7 && memcmp(p, ":status", 7) == 0) {
				if (final) {
					close_code = NGHTTP2_PROTOCOL_ERROR;
					goto close;
				}
				final = v == nl || *v != '1';
			}
			rc = cb_on_header(c->sess, &frame, p,
			    (size_t)(colon - p), v, (size_t)(nl - v), 0, c);
			if (rc == NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE) {
				/* nghttp2 resets the stream */
				close_code = NGHTTP2_INTERNAL_ERROR;
				goto close;
			}
		}
		p = nl + 1;
	}
body:
	/* DATA frames carry at most 16384 bytes by default */
	for (; p < end; p += chunk) {
		chunk = (size_t)(end - p) < 16384 ? (size_t)(end - p) : 16384;
		cb_on_data(c->sess, NGHTTP2_FLAG_NONE, id, p, chunk, c);
	}
close:
	if (!lost && close_code == NGHTTP2_NO_ERROR) {
		/* a complete answer: its last frame carried END_STREAM */
		frame.hd.type = NGHTTP2_DATA;
		frame.hd.flags = NGHTTP2_FLAG_END_STREAM;
		cb_on_frame(c->sess, &frame, c);
	}
	if (!lost)
		cb_on_close(c->sess, id, close_code, c);
	drain(c);
}

static void
feed(struct h2c *c, int32_t id, int h2, const uint8_t *a, size_t len)
{
	if (h2)
		feed_h2(c, a, len);
	else
		feed_lines(c, id, a, len);
}

/* The next answer of the input; 0 when there is none left. */
static int
next_answer(const uint8_t **in, size_t *inlen, const uint8_t **a,
    size_t *alen)
{
	const uint8_t *p = *in, *s;
	size_t	 n = *inlen, sl = strlen(ANSWER_SEP);

	if (p == NULL)
		return 0;
	*a = p;
	for (s = p; (size_t)(p + n - s) >= sl; s++) {
		if (memcmp(s, ANSWER_SEP, sl) == 0) {
			*alen = (size_t)(s - p);
			*in = s + sl;
			*inlen = n - *alen - sl;
			return 1;
		}
	}
	*alen = n;
	*in = NULL;
	*inlen = 0;
	return 1;
}

static void
relay_case(const uint8_t *a, size_t len, int h2)
{
	static const char event[] = "{\"seq\":1,\"gateway\":\"gw-fuzz\"}";
	struct h2c_header h[2];
	struct h2c_req_cb cb;
	struct relay *r;
	struct h2c *c;
	char	 clen[24];
	int64_t	 before;
	int32_t	 id;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		abort();
	r->st = st;
	r->ev = evl;
	r->reg_fd = -1;
	r->enabled = 1;
	snprintf(r->gateway, sizeof(r->gateway), "gw-fuzz");
	snprintf(r->url.authority, sizeof(r->url.authority), "upstream.test");
	r->backoff_max_ms = 300 * 1000;
	relay_batch_init(&r->batch, 500, RELAY_BATCH_BYTES);
	if (relay_batch_add(&r->batch, 1, event, sizeof(event) - 1) != 0 ||
	    relay_batch_close(&r->batch) != 0)
		abort();

	/* relay_send */
	snprintf(clen, sizeof(clen), "%zu", r->batch.len);
	h[0].name = "content-length";
	h[0].value = clen;
	h[1].name = "content-type";
	h[1].value = "application/json";
	memset(&cb, 0, sizeof(cb));
	cb.on_header = relay_on_header;
	cb.on_data = req_on_data;
	cb.on_done = req_on_done;
	cb.arg = r;
	relay_answer_reset(r);
	c = conn_new("POST", h, 2, r->batch.buf, r->batch.len, &cb, &id);
	r->inflight = 1;
	memset(&since_status, 0, sizeof(since_status));

	feed(c, id, h2, a, len);
	FUZZ_ASSERT(since_status.retry_after || r->retry_after_ms == 0);

	FUZZ_ASSERT(r->reasonlen <= RELAY_REASON_MAX);
	FUZZ_ASSERT(r->reason[r->reasonlen] == '\0');
	FUZZ_ASSERT(r->retry_after_ms == 0 || (r->retry_after_ms >= 1000 &&
	    r->retry_after_ms <= 86400 * 1000));
	before = ev_now_ms();
	/* relay_io_cb */
	if (r->answered)
		relay_answered(r);
	else
		relay_conn_failed(r, "closed by the server");
	if (r->attempt > 0) {
		/* a retry: never later than the ceiling */
		FUZZ_ASSERT(r->retry_at >= before);
		FUZZ_ASSERT((uint64_t)(r->retry_at - before) <=
		    r->backoff_max_ms + (uint64_t)(ev_now_ms() - before));
	} else
		FUZZ_ASSERT(r->batch.count == 0);

	ev_timer_cancel(evl, r->wake);
	ev_timer_cancel(evl, r->deadline);
	h2c_free(c);
	relay_batch_free(&r->batch);
	free(r);
}

static void
fetch_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	FUZZ_ASSERT(total == 0 || done <= total);
}

static void
fetch_case(const uint8_t *in, size_t inlen, int h2)
{
	static const struct ops_fw_params params = {
		.product = "lamp",
		.version = "1.2.3",
	};
	struct fetch_opts opts;
	struct h2c_header h[2];
	struct h2c_req_cb cb;
	struct ops_err err;
	struct ops ops;
	struct fetch f;
	struct h2c *c;
	const uint8_t *a;
	uint8_t	 md5[16], sha[32];
	char	 range[48];
	size_t	 alen, nh;
	unsigned attempt;
	int32_t	 id;
	int	 result = 0;

	ops_init(&ops, st, NULL);
	ops.now = fixed_now;
	ops.fw_max_size = 64 * 1024;	/* small inputs reach the limit */
	memset(&opts, 0, sizeof(opts));
	opts.progress = fetch_progress;
	memset(&err, 0, sizeof(err));
	memset(&f, 0, sizeof(f));
	f.ops = &ops;
	f.params = &params;
	f.opts = &opts;
	f.err = &err;
	f.where = "upstream.test";

	/* fetch_firmware's loop, one answer per attempt */
	for (attempt = 0; attempt < FETCH_ATTEMPTS &&
	    next_answer(&in, &inlen, &a, &alen); attempt++) {
		nh = 0;
		h[nh].name = "user-agent";
		h[nh++].value = "otagw";
		if (f.done > 0) {
			snprintf(range, sizeof(range), "bytes=%" PRIu64 "-",
			    f.done);
			h[nh].name = "range";
			h[nh++].value = range;
		}
		memset(&cb, 0, sizeof(cb));
		cb.on_header = fetch_on_header;
		cb.on_data = f_on_data;
		cb.on_done = f_on_done;
		cb.arg = &f;
		fetch_answer_reset(&f);
		c = conn_new("GET", h, nh, NULL, 0, &cb, &id);
		memset(&since_status, 0, sizeof(since_status));
		feed(c, id, h2, a, alen);
		FUZZ_ASSERT(since_status.content_length || f.clen == -1);
		FUZZ_ASSERT(since_status.content_range || f.crange[0] == '\0');
		/* fetch_attempt: an answer that did not end is interrupted */
		if (f.finished || f.fatal)
			result = fetch_answer_result(&f);
		else
			result = 0;
		h2c_free(c);

		FUZZ_ASSERT(f.total == 0 || f.done <= f.total);
		FUZZ_ASSERT(!f.fatal || (err.status != OPS_OK &&
		    err.msg[0] != '\0'));
		FUZZ_ASSERT(f.up != NULL || f.done == 0);
		FUZZ_ASSERT((f.up == NULL) == (f.dg == NULL) || f.fatal);
		if (result != 0)
			break;
	}
	if (result == 1) {
		FUZZ_ASSERT(f.up != NULL && f.dg != NULL);
		digest_final(f.dg, md5, sha);
	}
	ops_firmware_upload_abort(f.up);
	digest_free(f.dg);
}

FUZZ_TARGET(relay)
{
	int	 mode;

	if (size == 0)
		return 0;
	if (st == NULL)
		setup();
	mode = data[0];
	if (mode & 1)
		fetch_case(data + 1, size - 1, mode & 2);
	else
		relay_case(data + 1, size - 1, mode & 2);
	return 0;
}
