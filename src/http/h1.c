/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * h1.c: HTTP/1.1 on a connection, with libhttp-parser 2.9.
 *
 * Input is kept in a bounded buffer and parsed request by request: the
 * parser pauses after each complete request, whose whole response is
 * queued on the connection at once (head copied, owned body buffers
 * handed over, image slices queued as map references), and resumes only
 * when the output queue is below its high mark.  Pipelined requests are so
 * answered in order and a client that does not read stops being parsed.
 * Limits: the request head (431), buffered bodies (413), parse errors
 * (400), a head not complete within header_timeout_s of its first byte,
 * or of the handshake for a connection's first request (408, or a plain
 * close when not a byte came); each of these answers closes the
 * connection.  Streamed uploads get "100 Continue" when the client asked
 * for it.
 *
 * RFC 9112 is enforced where libhttp-parser 2.9 is lenient: it takes
 * "Host : x" as a field named "Host ", a request line without a version
 * as HTTP/0.9, any HTTP/d.d, a repeated Host or Authorization, other
 * transfer codings before chunked, and joins folded lines.  h1.c refuses
 * those (400; 505 for a version other than 1.x; 501 for a coding other
 * than chunked) and the parser itself refuses Content-Length with
 * Transfer-Encoding and a repeated Content-Length.  Errors found here carry
 * a JSON {"error","message"} body like the listeners' own, and close.
 *
 * A request whose answer the handler defers (a long poll) holds the
 * parser: nothing after it is parsed until h1_produce finds its answer
 * completed, and input is still read (up to the buffer) so that a client
 * that closes is noticed and the request ended.
 *
 * A request the handler refuses before its body (on_headers answers) is
 * answered after the body, which is read and dropped, so that the
 * connection stays usable; a body announced or grown past HTTP_DRAIN_MAX,
 * or a client waiting for "100 Continue", is answered at once and the
 * connection closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "http/conn.h"
#include "http/http.h"
#include "log.h"
#include "store/image.h"

#define H1_IN_CAP	(64 * 1024)

struct h1 {
	http_parser p;
	struct http_req *req;
	uint8_t	*in;		/* H1_IN_CAP bytes, while input waits */
	size_t	 in_len;
	int	 cut_lf;	/* input consumed so far ends in LF [SP/HT]* */
	int	 waiting;	/* paused after a request */
	int	 stop;		/* nothing more is parsed */
	int	 err_status;	/* 400, 431, 501, 505 from a callback */
	const char *err_msg;	/* its diagnostic */
	int	 keep_alive;
	int	 draining;	/* the daemon stops: no request after this */
	int	 held;		/* req's answer was deferred: wait for it */
	/* header field/value being assembled */
	char	*f, *v;
	size_t	 fl, vl, fcap, vcap;
	int	 in_value;
	char	*url;
	size_t	 urll, urlcap;
};

static const char *
h1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static int
h1_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	size_t ncap;
	char *b;

	if (*len + n + 1 > *cap) {
		ncap = *cap ? *cap : 64;
		while (ncap < *len + n + 1)
			ncap *= 2;
		if ((b = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = b;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* Records why the request is refused; -1 for the callback to return. */
static int
h1_fail(struct h1 *h, int status, const char *msg)
{
	h->err_status = status;
	h->err_msg = msg;
	return -1;
}

/* tchar of RFC 9110 section 5.6.2: what a field name is made of. */
static int
h1_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * Does a header value that starts at `at' continue the previous line
 * (obs-fold: CRLF then white space)?  Looks back over white space to the
 * line's end, in the buffer and then in what was consumed before it.
 */
static int
h1_is_fold(const struct h1 *h, const char *at)
{
	const uint8_t *q = (const uint8_t *)at;

	while (q > h->in && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q > h->in)
		return q[-1] == '\n';
	return h->cut_lf;
}

/*
 * Counts the transfer codings of one Transfer-Encoding value: "chunked"
 * and any other (which this server does not decode).
 */
static void
h1_codings(const char *v, size_t *chunked, size_t *other)
{
	const char *e;
	size_t n;

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		n = strcspn(v, ",; \t");
		if (n == 7 && strncasecmp(v, "chunked", 7) == 0)
			(*chunked)++;
		else
			(*other)++;
		if ((e = strchr(v, ',')) == NULL)
			break;
		v = e;
	}
}

/*
 * RFC 9112 rules that libhttp-parser 2.9 leaves to its user, checked once
 * the head is complete: the version (505 unless HTTP/1.x), a single Host
 * and a single Authorization, and framing by "chunked" alone (501 for
 * another coding, 400 for chunked twice or Transfer-Encoding in an
 * HTTP/1.0 request).  0, or -1 with the refusal recorded.
 */
static int
h1_check_head(struct h1 *h, const http_parser *p, const struct http_req *r)
{
	size_t i, hosts = 0, auths = 0, tes = 0, chunked = 0, other = 0;

	if (p->http_major != 1)
		return h1_fail(h, 505, "this server speaks HTTP/1.1 and "
		    "HTTP/1.0, and HTTP/2 with ALPN h2");
	for (i = 0; i < r->nhdrs; i++) {
		const char *n = r->hdrs[i].name;

		if (strcmp(n, "host") == 0)
			hosts++;
		else if (strcmp(n, "authorization") == 0)
			auths++;
		else if (strcmp(n, "transfer-encoding") == 0) {
			tes++;
			h1_codings(r->hdrs[i].value, &chunked, &other);
		}
	}
	if (hosts > 1)
		return h1_fail(h, 400, "more than one Host field");
	if (auths > 1)
		return h1_fail(h, 400, "more than one Authorization field");
	if (tes > 0 && p->http_minor == 0)
		return h1_fail(h, 400, "Transfer-Encoding in an HTTP/1.0 "
		    "request");
	if (other > 0)
		return h1_fail(h, 501, "chunked is the only transfer coding "
		    "this server decodes");
	if (tes > 0 && chunked != 1)
		return h1_fail(h, 400, "chunked must be applied exactly once");
	return 0;
}

/* Appends the decimal digits of v (no printf: one per response). */
static int
h1_append_u64(char **buf, size_t *len, size_t *cap, uint64_t v)
{
	char	 d[21];
	size_t	 n = http_fmt_u64(d, v);

	return h1_append(buf, len, cap, d, n);
}

/* Whether response field n is one h1_respond writes itself. */
static int
h1_own_field(const char *n)
{
	/* the first letter, either case, picks the names to compare */
	switch (n[0] | 0x20) {
	case 'c':
		return strcasecmp(n, "content-length") == 0 ||
		    strcasecmp(n, "connection") == 0;
	case 's':
		return strcasecmp(n, "server") == 0;
	case 'd':
		return strcasecmp(n, "date") == 0;
	case 't':
		return strcasecmp(n, "transfer-encoding") == 0;
	default:
		return 0;
	}
}

#define H1_LIT(s)	(s), sizeof(s) - 1
#define H1_HEAD_CAP	512

/* Queues the response of r; close: add "connection: close". */
static int
h1_respond(struct http_conn *c, struct http_req *r, int close)
{
	struct http_resp *rs = &r->resp;
	const char *date = http_conn_date(), *reason = h1_reason(rs->status);
	char *head = NULL;
	size_t hl = 0, hcap = 0, i;
	uint64_t clen;
	int rc = -1, nobody;

	nobody = rs->status == 204 || rs->status == 304 ||
	    (rs->status >= 100 && rs->status < 200);
	clen = r->is_head && rs->has_head_len ? rs->head_len : rs->body_len;
	/* a download's head is some 300 bytes: one allocation */
	if ((head = malloc(H1_HEAD_CAP)) == NULL)
		return -1;
	hcap = H1_HEAD_CAP;
	if (h1_append(&head, &hl, &hcap, H1_LIT("HTTP/1.1 ")) == -1 ||
	    h1_append_u64(&head, &hl, &hcap, (uint64_t)rs->status) == -1 ||
	    h1_append(&head, &hl, &hcap, H1_LIT(" ")) == -1 ||
	    h1_append(&head, &hl, &hcap, reason, strlen(reason)) == -1 ||
	    h1_append(&head, &hl, &hcap,
	    H1_LIT("\r\nserver: otagw\r\ndate: ")) == -1 ||
	    h1_append(&head, &hl, &hcap, date, strlen(date)) == -1 ||
	    h1_append(&head, &hl, &hcap, H1_LIT("\r\n")) == -1)
		goto out;
	for (i = 0; i < rs->nhdrs; i++) {
		const char *hn = rs->hdrs[i].name;

		if (h1_own_field(hn))
			continue;
		if (strpbrk(rs->hdrs[i].value, "\r\n") != NULL ||
		    strpbrk(hn, "\r\n: ") != NULL)
			continue;
		if (h1_append(&head, &hl, &hcap, hn, strlen(hn)) == -1 ||
		    h1_append(&head, &hl, &hcap, ": ", 2) == -1 ||
		    h1_append(&head, &hl, &hcap, rs->hdrs[i].value,
		    strlen(rs->hdrs[i].value)) == -1 ||
		    h1_append(&head, &hl, &hcap, "\r\n", 2) == -1)
			goto out;
	}
	if (!nobody &&
	    (h1_append(&head, &hl, &hcap, H1_LIT("content-length: ")) == -1 ||
	    h1_append_u64(&head, &hl, &hcap, clen) == -1 ||
	    h1_append(&head, &hl, &hcap, H1_LIT("\r\n")) == -1))
		goto out;
	if (close && h1_append(&head, &hl, &hcap,
	    H1_LIT("connection: close\r\n")) == -1)
		goto out;
	if (h1_append(&head, &hl, &hcap, H1_LIT("\r\n")) == -1)
		goto out;
	if (http_conn_push_own(c, (uint8_t *)head, hl) == -1) {
		head = NULL;
		goto out;
	}
	head = NULL;
	if (!r->is_head && !nobody) {
		for (i = 0; i < rs->nsegs; i++) {
			struct http_seg *s = &rs->segs[i];

			if (s->img != NULL) {
				if (http_conn_push_image(c, s->img,
				    (uint64_t)(s->data - s->img->data),
				    s->len, s->note) == -1)
					goto out;
			} else {
				if (http_conn_push_own(c, s->own,
				    (size_t)s->len) == -1) {
					s->own = NULL;
					goto out;
				}
				s->own = NULL;
			}
		}
	}
	rc = 0;
out:
	free(head);
	return rc;
}

/* Answers r (already filled) and ends it. */
static int
h1_finish_req(struct http_conn *c, struct h1 *h, int close)
{
	struct http_req *r = h->req;
	int rc;

	h->req = NULL;
	rc = h1_respond(c, r, close);
	http_req_free(r);
	if (close) {
		c->close_after = 1;
		h->stop = 1;
	}
	return rc;
}

static int
h1_head_add(struct h1 *h, struct http_conn *c, size_t n)
{
	if (h->req == NULL)
		return -1;
	h->req->head_bytes += n;
	if (h->req->head_bytes > http_conn_limits(c)->max_header_bytes)
		return h1_fail(h, 431, "the request head is too large");
	return 0;
}

static int
h1_flush_header(struct h1 *h)
{
	size_t i;
	int rc = 0;

	if (h->fl > 0 && h->req != NULL) {
		/* the parser takes "Host : x" as a field named "Host " */
		for (i = 0; i < h->fl; i++)
			if (!h1_tchar((unsigned char)h->f[i]))
				return h1_fail(h, 400, "a header field name "
				    "is a token: no white space before the "
				    "colon");
		rc = http_req_add_header(h->req, h->f, h->fl,
		    h->v ? h->v : "", h->vl);
	}
	h->fl = h->vl = 0;
	h->in_value = 0;
	return rc;
}

/*
 * The answer of the current request is ready before its body is in (a
 * refusal: 401, 404, 413...).  A body that is short or of unknown length
 * is read and dropped, and the answer goes out after it on a connection
 * that stays open, as for any other request.  A body that announces, or
 * reaches (h1_on_body_cb), more than HTTP_DRAIN_MAX, or a client waiting
 * for "100 Continue", gets the answer at once and the connection closes
 * (lingering close, see server.c), as RFC 9110 section 15.5 allows.
 */
static int
h1_refuse(struct http_conn *c, struct h1 *h, http_parser *p, int now)
{
	struct http_req *r = h->req;

	r->aborted = 1;
	if (!now && ((p->flags & F_CHUNKED) ||
	    p->content_length <= HTTP_DRAIN_MAX))
		return 0;
	if (h1_finish_req(c, h, 1) == -1)
		return -1;
	http_parser_pause(p, 1);
	return 0;
}

static int
h1_on_message_begin_cb(http_parser *p)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;

	http_conn_head_begin(c);	/* from the first byte of the request */
	http_req_free(h->req);
	if ((h->req = http_req_new(c, 11)) == NULL)
		return -1;
	h->fl = h->vl = h->urll = 0;
	h->in_value = 0;
	return 0;
}

static int
h1_on_url_cb(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;

	if (h1_head_add(h, c, len) == -1)
		return -1;
	/* the parser ends a URL without a version as HTTP/0.9 */
	if (p->http_major == 0 && p->http_minor == 9)
		return h1_fail(h, 400, "the request line has no HTTP version");
	return h1_append(&h->url, &h->urll, &h->urlcap, at, len);
}

static int
h1_on_field_cb(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;

	if (h1_head_add(h, c, len + 4) == -1)
		return -1;
	if (h->in_value && h1_flush_header(h) == -1)
		return -1;
	return h1_append(&h->f, &h->fl, &h->fcap, at, len);
}

static int
h1_on_value_cb(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;

	if (h1_head_add(h, c, len) == -1)
		return -1;
	if (h1_is_fold(h, at))
		return h1_fail(h, 400, "a header line starts with white "
		    "space (obs-fold)");
	h->in_value = 1;
	return h1_append(&h->v, &h->vl, &h->vcap, at, len);
}

/*
 * The request target as a path (RFC 9112 3.2): origin-form as is; the
 * path and query of absolute-form ("http://host/p?q", which a server
 * must accept); anything else (asterisk-form, authority-form, junk) is
 * 400, since no resource here answers it.
 */
static int
h1_target(struct h1 *h, const char **target, size_t *len)
{
	const char *t = h->url, *slash;
	size_t n = h->urll, skip;

	if (t == NULL || n == 0)
		return h1_fail(h, 400, "no request target");
	if (t[0] == '/') {
		*target = t;
		*len = n;
		return 0;
	}
	if (n > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return h1_fail(h, 400, "the request target is not a path");
	slash = memchr(t + skip, '/', n - skip);
	if (slash == NULL) {
		/* "http://host" or "http://host?q": the root */
		slash = memchr(t + skip, '?', n - skip);
		if (slash != NULL)
			return h1_fail(h, 400, "the request target is not "
			    "a path");
		*target = "/";
		*len = 1;
		return 0;
	}
	*target = slash;
	*len = n - (size_t)(slash - t);
	return 0;
}

static int
h1_on_headers_complete_cb(http_parser *p)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;
	struct http_req *r = h->req;
	const char *m, *expect, *target;
	size_t tlen;
	int next, has_body;

	http_conn_head_end(c);
	if (r == NULL || h1_flush_header(h) == -1 ||
	    h1_check_head(h, p, r) == -1)
		return -1;
	m = http_method_str((enum http_method)p->method);
	if (h1_target(h, &target, &tlen) == -1)
		return -1;
	if (http_req_set_method(r, m, strlen(m)) == -1 ||
	    http_req_set_target(r, target, tlen) == -1)
		return -1;
	h->keep_alive = http_should_keep_alive(p);
	has_body = (p->flags & F_CHUNKED) || r->clen > 0;
	next = http_req_begin(r);
	expect = http_req_header(r, "expect");
	if (next == HTTP_RESPOND) {
		if (has_body) {
			/* a body drained: on the head's deadline too */
			http_req_body_wait(r, 1);
			return h1_refuse(c, h, p, expect != NULL &&
			    strcasecmp(expect, "100-continue") == 0);
		}
		/* no body: the message completes without a request */
		return h1_finish_req(c, h, !h->keep_alive || h->draining);
	}
	if (has_body && r->next == HTTP_BUFFER)
		http_req_body_wait(r, 1);	/* header_timeout_s */
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
	    has_body) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (http_conn_push(c, cont, sizeof(cont) - 1) == -1)
			return -1;
	}
	return 0;
}

static int
h1_on_body_cb(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;
	struct http_req *r = h->req;
	const struct http_handler *hd = http_conn_handler(c);

	if (r == NULL)
		return 0;	/* answered already; skipping */
	if (r->aborted) {
		/* draining a refused body */
		r->drained += len;
		if (r->drained <= HTTP_DRAIN_MAX)
			return 0;
		if (h1_finish_req(c, h, 1) == -1)
			return -1;
		http_parser_pause(p, 1);
		return 0;
	}
	if (r->next == HTTP_STREAM) {
		if (hd->on_body(hd->arg, r, (const uint8_t *)at, len) == -1) {
			r->next = HTTP_RESPOND;
			return h1_refuse(c, h, p, 0);
		}
		return 0;
	}
	if (http_req_body_add(r, (const uint8_t *)at, len) == -1) {
		r->next = HTTP_RESPOND;
		http_resp_simple(&r->resp, 413);
		return h1_refuse(c, h, p, 0);
	}
	return 0;
}

static int
h1_on_message_complete_cb(http_parser *p)
{
	struct http_conn *c = p->data;
	struct h1 *h = c->h1;

	if (h->req != NULL) {
		http_req_body_wait(h->req, 0);
		if (!h->req->aborted)
			http_req_finish(h->req);
		if (h->req->deferred && !h->req->completed) {
			/* answered later (h1_produce): parse nothing more */
			h->held = 1;
			h->waiting = 1;
			http_parser_pause(p, 1);
			return 0;
		}
		if (h1_finish_req(c, h, !h->keep_alive || h->draining) == -1)
			return -1;
	} else if (!h->keep_alive || h->draining) {
		c->close_after = 1;
		h->stop = 1;
	}
	h->waiting = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings h1_settings = {
	.on_message_begin = h1_on_message_begin_cb,
	.on_url = h1_on_url_cb,
	.on_header_field = h1_on_field_cb,
	.on_header_value = h1_on_value_cb,
	.on_headers_complete = h1_on_headers_complete_cb,
	.on_body = h1_on_body_cb,
	.on_message_complete = h1_on_message_complete_cb,
};

/* Answers status with a JSON diagnostic, then closes the connection. */
static int
h1_error(struct http_conn *c, struct h1 *h, int status, const char *msg)
{
	struct http_req *r;

	h->stop = 1;
	c->close_after = 1;
	http_conn_head_end(c);
	http_req_free(h->req);
	h->req = NULL;
	if ((r = http_req_new(c, 11)) == NULL)
		return -1;
	if (http_resp_error(&r->resp, status, msg) == -1)
		http_resp_simple(&r->resp, status);
	h->req = r;
	return h1_finish_req(c, h, 1);
}

/*
 * The first n bytes of the buffer are consumed: remember whether they end
 * a line (LF, then only white space), for h1_is_fold.
 */
static void
h1_note_cut(struct h1 *h, size_t n)
{
	while (n > 0 && (h->in[n - 1] == ' ' || h->in[n - 1] == '\t'))
		n--;
	if (n > 0)
		h->cut_lf = h->in[n - 1] == '\n';
}

/* Parses what is buffered until a request completes or input runs out. */
static int
h1_parse(struct http_conn *c)
{
	struct h1 *h = c->h1;
	size_t n;
	enum http_errno e;

	while (!h->stop && !h->waiting && h->in_len > 0) {
		n = http_parser_execute(&h->p, &h1_settings,
		    (const char *)h->in, h->in_len);
		e = HTTP_PARSER_ERRNO(&h->p);
		if (n > h->in_len)
			n = h->in_len;
		h1_note_cut(h, n);
		memmove(h->in, h->in + n, h->in_len - n);
		h->in_len -= n;
		if (e == HPE_PAUSED) {
			if (h->stop || h->held)
				break;
			http_parser_pause(&h->p, 0);
			/*
			 * Pipelined requests: answer every one already read
			 * while the queue is short, so that their responses
			 * leave together in full TLS records.
			 */
			if (!http_conn_out_full(c))
				h->waiting = 0;
			continue;
		}
		if (e != HPE_OK) {
			log_debug("http/1.1: %s%s%s", http_errno_name(e),
			    h->err_msg != NULL ? ": " : "",
			    h->err_msg != NULL ? h->err_msg : "");
			if (h->err_status != 0)
				return h1_error(c, h, h->err_status,
				    h->err_msg);
			if (e == HPE_UNEXPECTED_CONTENT_LENGTH)
				return h1_error(c, h, 400, "Content-Length "
				    "given twice, or with Transfer-Encoding");
			return h1_error(c, h, 400, http_errno_description(e));
		}
		if (n == 0)
			break;
	}
	return 0;
}

int
h1_start(struct http_conn *c)
{
	struct h1 *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	http_parser_init(&h->p, HTTP_REQUEST);
	h->p.data = c;
	c->h1 = h;
	/* the first request's head is due from the end of the handshake */
	http_conn_head_begin(c);
	return 0;
}

int
h1_recv(struct http_conn *c, const uint8_t *p, size_t len)
{
	struct h1 *h = c->h1;

	if (h->stop)
		return 0;	/* discarding */
	if (len > H1_IN_CAP - h->in_len)
		return -1;
	if (h->in == NULL && (h->in = malloc(H1_IN_CAP)) == NULL)
		return -1;
	memcpy(h->in + h->in_len, p, len);
	h->in_len += len;
	return h1_parse(c);
}

int
h1_produce(struct http_conn *c)
{
	struct h1 *h = c->h1;

	if (h->held) {
		if (h->req == NULL || !h->req->completed)
			return 0;
		c->completions = 0;
		h->held = 0;
		if (h1_finish_req(c, h, !h->keep_alive || h->draining) == -1)
			return -1;
	}
	if (h->waiting && !h->stop && !http_conn_out_full(c)) {
		h->waiting = 0;
		return h1_parse(c);
	}
	return 0;
}

int
h1_drain(struct http_conn *c)
{
	struct h1 *h = c->h1;

	if (h == NULL)
		return 1;
	h->draining = 1;
	if (h->req == NULL) {
		/* between requests: close once what is queued has left */
		h->stop = 1;
		c->close_after = 1;
	}
	return 0;
}

int
h1_head_timeout(struct http_conn *c, const char *why)
{
	struct h1 *h = c->h1;
	char	 msg[96];

	if (h == NULL || h->stop || (h->req == NULL && h->in_len == 0))
		return 0;	/* not a byte of a request: just close */
	snprintf(msg, sizeof(msg), "%s: the request took longer than the "
	    "server waits for it", why);
	if (h1_error(c, h, 408, msg) == -1)
		return 0;
	return 1;
}

int
h1_wants_read(const struct http_conn *c)
{
	const struct h1 *h = c->h1;

	if (h == NULL || h->stop)
		return 0;
	return h->in_len + HTTP_RECORD <= H1_IN_CAP;
}

void
h1_free(struct http_conn *c)
{
	struct h1 *h = c->h1;

	if (h == NULL)
		return;
	http_req_free(h->req);
	free(h->in);
	free(h->f);
	free(h->v);
	free(h->url);
	free(h);
	c->h1 = NULL;
}

int
h1_trim(struct http_conn *c)
{
	struct h1 *h = c->h1;
	int	 freed = 0;

	if (h == NULL)
		return 0;
	if (h->in != NULL && h->in_len == 0) {
		free(h->in);
		h->in = NULL;
		freed = 1;
	}
	/* between requests: what they hold is the last request's, unused */
	if (h->req == NULL && (h->f != NULL || h->v != NULL ||
	    h->url != NULL)) {
		freed = 1;
		free(h->f);
		free(h->v);
		free(h->url);
		h->f = h->v = h->url = NULL;
		h->fl = h->vl = h->urll = 0;
		h->fcap = h->vcap = h->urlcap = 0;
	}
	return freed;
}
