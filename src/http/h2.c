/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * h2.c: HTTP/2 on a connection, with an nghttp2 server session.
 *
 * Input goes through nghttp2_session_mem_recv; output is pulled with
 * nghttp2_session_mem_send while the connection's queue is below its high
 * mark.  Each stream is a struct http_req.  Responses with a body use a
 * data provider with NGHTTP2_DATA_FLAG_NO_COPY: the read callback only
 * picks the next slice of the response's segments (at most one TLS record
 * minus the frame header, so frame header and payload fit one record),
 * and the send_data callback queues the 9-byte frame header followed by a
 * reference to that slice in the image map.  Flow-control stalls leave a
 * response "busy" with nothing to write; server.c drops the connection
 * after stall_timeout_s.  Rapid resets and CONTINUATION floods are limited
 * through nghttp2 options; GOAWAY is sent on shutdown.  Slow heads are
 * bounded by header_timeout_s (h2_head_track): the first HEADERS of a
 * connection is due from its start, and each header block, however it is
 * split over CONTINUATION frames, from its HEADERS frame; past it the
 * connection gets GOAWAY and is closed.
 *
 * A stream whose answer the handler defers (a long poll) stays open; its
 * response is submitted by h2_produce once http_req_complete has been
 * called, and a RST_STREAM from the client ends it (on_close) meanwhile.
 *
 * A stream is answered after its END_STREAM, also when the handler refused
 * it before the body (on_headers answered: 401, 404, 405, 413...): the
 * rest of the body is dropped and the answer waits for the end, so a
 * client never sees an answer to a request it is still sending, and
 * nghttp2's checks of the rest of the stream (content-length, trailers,
 * padding) still apply.  Only a body known or found to go on past
 * HTTP_DRAIN_MAX is answered at once, and then reset with
 * RST_STREAM(NO_ERROR) once the whole answer is sent (RFC 9113 section
 * 8.1).  Protocol errors are nghttp2's: its HTTP messaging checks are on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "ev.h"
#include "http/conn.h"
#include "http/http.h"
#include "log.h"
#include "store/image.h"

struct h2 {
	nghttp2_session *s;
	struct http_req *reqs;	/* open streams */
	int	 first_done;	/* a whole header block came in */
	int	 in_block;	/* between HEADERS and its END_HEADERS */
};

static ssize_t	h2_read_cb(nghttp2_session *, int32_t, uint8_t *, size_t,
		    uint32_t *, nghttp2_data_source *, void *);

static void
h2_req_unlink(struct h2 *h, struct http_req *r)
{
	if (r->h2_prev != NULL)
		r->h2_prev->h2_next = r->h2_next;
	else
		h->reqs = r->h2_next;
	if (r->h2_next != NULL)
		r->h2_next->h2_prev = r->h2_prev;
	r->h2_prev = r->h2_next = NULL;
}

/*
 * Whether response field n is one HTTP/2 forbids (RFC 9113 §8.2.2) or
 * h2_submit writes itself; the first letter, either case, picks the
 * names to compare.
 */
static int
h2_dropped_field(const char *n)
{
	switch (n[0] | 0x20) {
	case 'c':
		return strcasecmp(n, "content-length") == 0 ||
		    strcasecmp(n, "connection") == 0;
	case 'k':
		return strcasecmp(n, "keep-alive") == 0;
	case 't':
		return strcasecmp(n, "transfer-encoding") == 0;
	case 's':
		return strcasecmp(n, "server") == 0;
	case 'd':
		return strcasecmp(n, "date") == 0;
	case 'u':
		return strcasecmp(n, "upgrade") == 0;
	default:
		return 0;
	}
}

static void
h2_busy_end(struct http_req *r)
{
	if (r->responded == 2) {
		r->responded = 1;
		r->conn->busy--;
	}
}

static int
h2_submit(struct http_conn *c, struct http_req *r)
{
	struct h2 *h = c->h2;
	struct http_resp *rs = &r->resp;
	nghttp2_nv *nva = NULL;
	nghttp2_data_provider prd;
	char status[21], clen[21];
	size_t n = 0, i;
	int rc = -1, nobody;
	uint64_t len;

	if (r->responded)
		return 0;
	nobody = rs->status == 204 || rs->status == 304 ||
	    rs->status < 200;
	if (rs->status < 200 || rs->status > 999)
		rs->status = 500;
	len = r->is_head && rs->has_head_len ? rs->head_len : rs->body_len;
	if ((nva = calloc(rs->nhdrs + 4, sizeof(*nva))) == NULL)
		goto out;
#define H2_NV(nm, val) do {						\
	nva[n].name = (uint8_t *)(nm);					\
	nva[n].namelen = strlen(nm);					\
	nva[n].value = (uint8_t *)(val);				\
	nva[n].valuelen = strlen(val);					\
	nva[n].flags = NGHTTP2_NV_FLAG_NONE;				\
	n++;								\
} while (0)
	(void)http_fmt_u64(status, (uint64_t)rs->status);	/* 200..999 */
	H2_NV(":status", status);
	H2_NV("server", "otagw");
	H2_NV("date", http_conn_date());
	for (i = 0; i < rs->nhdrs; i++) {
		const char *hn = rs->hdrs[i].name;

		if (h2_dropped_field(hn))
			continue;
		H2_NV(hn, rs->hdrs[i].value);
	}
	if (!nobody) {
		(void)http_fmt_u64(clen, len);
		H2_NV("content-length", clen);
	}
#undef H2_NV
	r->seg_i = 0;
	r->seg_off = 0;
	if (!nobody && !r->is_head && rs->body_len > 0) {
		memset(&prd, 0, sizeof(prd));
		prd.source.ptr = r;
		prd.read_callback = h2_read_cb;
		if (nghttp2_submit_response(h->s, r->stream_id, nva, n,
		    &prd) != 0)
			goto out;
		r->responded = 2;
		c->busy++;
	} else {
		if (nghttp2_submit_response(h->s, r->stream_id, nva, n,
		    NULL) != 0)
			goto out;
		r->responded = 1;
	}
	rc = 0;
out:
	free(nva);
	return rc;
}

static ssize_t
h2_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct http_req *r = src->ptr;
	struct http_resp *rs = &r->resp;
	uint64_t n;

	(void)s;
	(void)id;
	(void)buf;
	(void)arg;
	while (r->seg_i < rs->nsegs && r->seg_off >= rs->segs[r->seg_i].len) {
		r->seg_i++;
		r->seg_off = 0;
	}
	if (r->seg_i >= rs->nsegs) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	n = rs->segs[r->seg_i].len - r->seg_off;
	if (n > length)
		n = length;
	if (n > HTTP_RECORD - 9)
		n = HTTP_RECORD - 9;
	r->pend_seg = r->seg_i;
	r->pend_off = r->seg_off;
	r->seg_off += n;
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (r->seg_i + 1 == rs->nsegs && r->seg_off == rs->segs[r->seg_i].len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int
h2_send_data_cb(nghttp2_session *s, nghttp2_frame *frame,
    const uint8_t *framehd, size_t length, nghttp2_data_source *src,
    void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r = src->ptr;
	struct http_seg *sg;
	uint8_t pad[256];
	size_t padlen = frame->data.padlen;

	(void)s;
	if (http_conn_out_full(c))
		return NGHTTP2_ERR_WOULDBLOCK;
	c->t_data = ev_now_ms();
	if (http_conn_push(c, framehd, 9) == -1)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (padlen > 0) {
		pad[0] = (uint8_t)(padlen - 1);
		if (http_conn_push(c, pad, 1) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	if (length > 0) {
		sg = &r->resp.segs[r->pend_seg];
		if (sg->img != NULL) {
			if (http_conn_push_image(c, sg->img,
			    (uint64_t)(sg->data - sg->img->data) + r->pend_off,
			    length, sg->note) == -1)
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		} else if (http_conn_push(c, sg->data + r->pend_off,
		    length) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	if (padlen > 1) {
		memset(pad, 0, sizeof(pad));
		if (http_conn_push(c, pad, padlen - 1) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int
h2_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *frame,
    void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if ((r = http_req_new(c, 2)) == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	r->stream_id = frame->hd.stream_id;
	if (nghttp2_session_set_stream_user_data(s, frame->hd.stream_id,
	    r) != 0) {
		http_req_free(r);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	r->h2_next = ((struct h2 *)c->h2)->reqs;
	if (r->h2_next != NULL)
		r->h2_next->h2_prev = r;
	((struct h2 *)c->h2)->reqs = r;
	return 0;
}

static int
h2_header_cb(nghttp2_session *s, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r;

	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (r == NULL || r->started)
		return 0;
	r->head_bytes += namelen + valuelen + 32;
	if (r->head_bytes > http_conn_limits(c)->max_header_bytes)
		return 0;	/* 431 when the head ends */
	/* what all of the connection's open streams hold: bounded */
	if (http_req_hold(r, namelen + valuelen + 32) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (namelen == 7 && memcmp(name, ":method", 7) == 0)
		return http_req_set_method(r, (const char *)value,
		    valuelen) == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (namelen == 5 && memcmp(name, ":path", 5) == 0)
		return http_req_set_target(r, (const char *)value,
		    valuelen) == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
		name = (const uint8_t *)"host";
		namelen = 4;
	} else if (namelen > 0 && name[0] == ':')
		return 0;
	if (http_req_add_header(r, (const char *)name, namelen,
	    (const char *)value, valuelen) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/*
 * The request head deadline (server.c): from the start of the connection
 * until its first whole header block, then from each HEADERS frame until
 * the end of its block.  A block ends with its frame_recv (or
 * invalid_frame_recv) callback, or, if nghttp2 dropped it, when the next
 * frame begins: HEADERS and CONTINUATION frames cannot interleave with
 * others.
 */
static void
h2_head_track(struct http_conn *c)
{
	struct h2 *h = c->h2;

	if (!h->first_done || h->in_block)
		http_conn_head_begin(c);
	else
		http_conn_head_end(c);
}

static int
h2_begin_frame_cb(nghttp2_session *s, const nghttp2_frame_hd *hd, void *arg)
{
	struct http_conn *c = arg;
	struct h2 *h = c->h2;

	(void)s;
	/* a request's frames are activity; PING, SETTINGS... are not */
	if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_DATA ||
	    hd->type == NGHTTP2_CONTINUATION)
		c->t_activity = ev_now_ms();
	switch (hd->type) {
	case NGHTTP2_HEADERS:
		if (h->first_done)
			http_conn_head_end(c);	/* its own deadline */
		h->in_block = 1;
		break;
	case NGHTTP2_CONTINUATION:
		break;
	default:
		h->in_block = 0;
		break;
	}
	h2_head_track(c);
	return 0;
}

static void
h2_block_done(struct http_conn *c, const nghttp2_frame *frame)
{
	struct h2 *h = c->h2;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return;
	h->in_block = 0;
	h->first_done = 1;
	h2_head_track(c);
}

static int
h2_invalid_frame_cb(nghttp2_session *s, const nghttp2_frame *frame,
    int error, void *arg)
{
	(void)s;
	(void)error;
	h2_block_done(arg, frame);
	return 0;
}

/* The request ended (END_STREAM): answer it, unless that is deferred. */
static void
h2_request_ended(struct http_conn *c, struct http_req *r)
{
	if (r->responded)
		return;
	if (!r->aborted)
		http_req_finish(r);
	if (r->deferred && !r->completed)
		return;		/* h2_produce submits it once completed */
	if (h2_submit(c, r) == -1)
		nghttp2_submit_rst_stream(((struct h2 *)c->h2)->s,
		    NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_INTERNAL_ERROR);
}

/*
 * Answers now a request whose body is still coming, because too much of
 * it is left to drain; RST_STREAM(NO_ERROR) follows once the response is
 * sent (h2_frame_send_cb), as RFC 9113 section 8.1 allows.
 */
static void
h2_answer_early(struct http_conn *c, struct http_req *r)
{
	struct h2 *h = c->h2;

	r->rst_after = 1;
	if (h2_submit(c, r) == -1)
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE,
		    r->stream_id, NGHTTP2_INTERNAL_ERROR);
}

/*
 * The answer is ready before the request ended (a refusal: 401, 404, 413,
 * 431...).  The rest of the body is read and dropped and the answer goes
 * out after END_STREAM, as for any other request; only a body known, or
 * found, to go on for more than HTTP_DRAIN_MAX is answered at once.
 */
static void
h2_refuse(struct http_conn *c, struct http_req *r)
{
	r->aborted = 1;
	if (r->ended)
		h2_request_ended(c, r);
	else if (r->clen >= 0 && (uint64_t)r->clen > r->rx + HTTP_DRAIN_MAX)
		h2_answer_early(c, r);
}

/* The head itself is refused (431, 400): no handler sees the request. */
static void
h2_refuse_head(struct http_conn *c, struct http_req *r, int status,
    const char *msg)
{
	r->started = 1;
	http_conn_count_request(c);
	r->next = HTTP_RESPOND;
	if (msg == NULL || http_resp_error(&r->resp, status, msg) == -1)
		http_resp_simple(&r->resp, status);
	h2_refuse(c, r);
}

static int
h2_frame_send_cb(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r;

	if (frame->hd.type == NGHTTP2_HEADERS)
		c->t_data = ev_now_ms();	/* an answer moves */
	if ((frame->hd.type != NGHTTP2_HEADERS &&
	    frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (r != NULL && r->rst_after && !r->ended)
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE,
		    frame->hd.stream_id, NGHTTP2_NO_ERROR);
	return 0;
}

static int
h2_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r;
	int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	h2_block_done(c, frame);
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type !=
	    NGHTTP2_DATA)
		return 0;
	r = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (r == NULL)
		return 0;
	if (end)
		r->ended = 1;
	if (frame->hd.type == NGHTTP2_HEADERS && !r->started) {
		if (r->method == NULL || r->path == NULL) {
			nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE,
			    r->stream_id, NGHTTP2_PROTOCOL_ERROR);
			return 0;
		}
		/* a body buffered or drained: on the head's deadline */
		if (r->head_bytes > http_conn_limits(c)->max_header_bytes)
			h2_refuse_head(c, r, 431, NULL);
		else if (r->path[0] != '/')
			/* nghttp2 checks it for http(s) only; as h1_target */
			h2_refuse_head(c, r, 400, "the request target is not "
			    "a path");
		else if (http_req_begin(r) == HTTP_RESPOND)
			h2_refuse(c, r);
		else {
			if (!end && r->next == HTTP_BUFFER)
				http_req_body_wait(r, 1);
			goto ended;
		}
		if (!end && !r->ended)
			http_req_body_wait(r, 1);
		return 0;
	}
ended:
	if (end) {
		http_req_body_wait(r, 0);
		h2_request_ended(c, r);
	}
	return 0;
}

static int
h2_data_chunk_cb(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct http_conn *c = arg;
	const struct http_handler *hd = http_conn_handler(c);
	struct http_req *r;

	(void)flags;
	r = nghttp2_session_get_stream_user_data(s, id);
	if (r == NULL)
		return 0;
	r->rx += len;
	if (r->aborted) {
		/* draining a refused body */
		r->drained += len;
		if (!r->responded && r->drained > HTTP_DRAIN_MAX)
			h2_answer_early(c, r);
		return 0;
	}
	if (r->responded || !r->started)
		return 0;
	if (r->next == HTTP_STREAM) {
		if (hd->on_body(hd->arg, r, data, len) == -1)
			h2_refuse(c, r);
		return 0;
	}
	if (http_req_hold(r, len) == -1 ||
	    http_req_body_add(r, data, len) == -1) {
		http_resp_simple(&r->resp, 413);
		h2_refuse(c, r);
	}
	return 0;
}

static int
h2_stream_close_cb(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r;

	(void)code;
	r = nghttp2_session_get_stream_user_data(s, id);
	if (r == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	h2_req_unlink(c->h2, r);
	h2_busy_end(r);
	http_req_free(r);
	return 0;
}

int
h2_start(struct http_conn *c)
{
	const struct http_limits *lim = http_conn_limits(c);
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry iv[4];
	struct h2 *h;
	int rc = -1;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	c->h2 = h;
	if (nghttp2_session_callbacks_new(&cb) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_begin_frame_callback(cb,
	    h2_begin_frame_cb);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb,
	    h2_invalid_frame_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
	    h2_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_header_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2_frame_recv_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2_data_chunk_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2_stream_close_cb);
	nghttp2_session_callbacks_set_send_data_callback(cb, h2_send_data_cb);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb,
	    h2_frame_send_cb);
	/* rapid reset (CVE-2023-44487) and CONTINUATION flood limits */
	nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
	nghttp2_option_set_max_continuations(opt, 8);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
	if (nghttp2_session_server_new2(&h->s, cb, c, opt) != 0)
		goto out;
	iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[0].value = lim->max_streams;
	iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[1].value = 256 * 1024;
	iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
	iv[2].value = (uint32_t)(lim->max_header_bytes + 1024);
	iv[3].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
	iv[3].value = 0;
	if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, 4) != 0)
		goto out;
	if (nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0,
	    1024 * 1024) != 0)
		goto out;
	/* the first HEADERS is due from the end of the handshake */
	http_conn_head_begin(c);
	c->t_data = ev_now_ms();
	rc = 0;
out:
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	return rc;
}

int
h2_recv(struct http_conn *c, const uint8_t *p, size_t len)
{
	struct h2 *h = c->h2;
	ssize_t n;

	n = nghttp2_session_mem_recv(h->s, p, len);
	if (n < 0) {
		log_debug("http/2: %s", nghttp2_strerror((int)n));
		return -1;
	}
	return 0;
}

int
h2_produce(struct http_conn *c)
{
	struct h2 *h = c->h2;
	const uint8_t *data;
	ssize_t n;

	uint64_t before;
	struct http_req *r;

	/* deferred answers that are ready */
	if (c->completions > 0) {
		c->completions = 0;
		for (r = h->reqs; r != NULL; r = r->h2_next)
			if (r->deferred && r->completed && !r->responded &&
			    h2_submit(c, r) == -1)
				nghttp2_submit_rst_stream(h->s,
				    NGHTTP2_FLAG_NONE, r->stream_id,
				    NGHTTP2_INTERNAL_ERROR);
	}
	/* with NO_COPY, DATA goes through h2_send_data_cb and 0 comes back */
	while (!http_conn_out_full(c)) {
		before = c->out_bytes;
		n = nghttp2_session_mem_send(h->s, &data);
		if (n < 0) {
			log_debug("http/2: %s", nghttp2_strerror((int)n));
			return -1;
		}
		if (n > 0 && http_conn_push(c, data, (size_t)n) == -1)
			return -1;
		if (n == 0 && c->out_bytes == before)
			break;
	}
	return 0;
}

int
h2_window_blocked(const struct http_conn *c)
{
	const struct h2 *h = c->h2;
	const struct http_req *r;

	if (h == NULL || h->s == NULL)
		return 0;
	if (nghttp2_session_get_remote_window_size(h->s) <= 0)
		return 1;
	for (r = h->reqs; r != NULL; r = r->h2_next)
		if (r->responded &&
		    nghttp2_session_get_stream_remote_window_size(h->s,
		    r->stream_id) == 0)
			return 1;
	return 0;
}

int
h2_wants_write(const struct http_conn *c)
{
	const struct h2 *h = c->h2;

	return h != NULL && nghttp2_session_want_write(h->s);
}

int
h2_finished(const struct http_conn *c)
{
	const struct h2 *h = c->h2;

	return h == NULL || (!nghttp2_session_want_read(h->s) &&
	    !nghttp2_session_want_write(h->s));
}

void
h2_goaway(struct http_conn *c)
{
	struct h2 *h = c->h2;

	if (h == NULL || h->s == NULL)
		return;
	nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(h->s), NGHTTP2_NO_ERROR,
	    NULL, 0);
	(void)h2_produce(c);
}

void
h2_head_timeout(struct http_conn *c, const char *why)
{
	struct h2 *h = c->h2;

	if (h == NULL || h->s == NULL)
		return;
	nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(h->s), NGHTTP2_NO_ERROR,
	    (const uint8_t *)why, strlen(why));
	(void)h2_produce(c);
}

void
h2_reset_late(struct http_conn *c, struct http_req *r)
{
	struct h2 *h = c->h2;

	if (h == NULL || h->s == NULL)
		return;
	nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, r->stream_id,
	    NGHTTP2_CANCEL);
}

void
h2_free(struct http_conn *c)
{
	struct h2 *h = c->h2;

	if (h == NULL)
		return;
	/* nghttp2_session_del calls no stream close callbacks */
	while (h->reqs != NULL) {
		struct http_req *r = h->reqs;

		h2_req_unlink(h, r);
		h2_busy_end(r);
		http_req_free(r);
	}
	nghttp2_session_del(h->s);
	free(h);
	c->h2 = NULL;
}
