/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_http.c: the HTTP server's request path (src/http/server.c, h1.c,
 * h2.c) on detached connections (src/http/conn.h): no socket, no TLS,
 * input fed with h1_recv/h2_recv and the queued output read back with
 * http_conn_output, on a server made with host NULL.
 *
 * The handler is the test's own: it writes down every request it sees
 * (method, target, version, fields and body) and answers with a body
 * that names it, so a test compares what the handler saw and what the
 * client got.  HTTP/1.1: every request cut at every byte boundary (and
 * fed a byte at a time) gives the handler the same request and the
 * client the same bytes; pipelining answers in order; chunked bodies;
 * the head and body limits (431, 413) with the connection kept or closed
 * as h1.c promises; keep-alive and close; a refusal before the body;
 * streamed bodies and 100 Continue; every prefix of a request answers
 * nothing; and a table of hostile heads, each refused with its status,
 * closed, and never shown to the handler.  HTTP/2: an nghttp2 client
 * session in the test speaks to h2_recv/h2_produce: a GET, a POST with a
 * body, a refusal answered after the body and an early one (with
 * RST_STREAM(NO_ERROR)) for a body too large to drain, 413 and 431, a
 * request without :path, GOAWAY, and hostile openings.  Deferred answers
 * (long polls) on both: held while other requests go on (HTTP/2) or wait
 * (HTTP/1.1 pipelining), never idle, answered once completed, ended by
 * a client that resets or goes away.
 *
 * The device front end (src/http/device.c) on the same kind of
 * connection, with a real core and store, is test_httpdev.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "ev.h"
#include "http/conn.h"
#include "http/http.h"
#include "log.h"
#include "h2peer.h"
#include "t.h"

#define MAX_BODY	64
#define MAX_HEAD	512

static struct http_server *srv;

/* The handler ------------------------------------------------------------- */

static char	 reqlog[8192];	/* one line per request the handler saw */
static unsigned	 nreq;		/* on_request calls */
static unsigned	 nclosed;	/* on_close calls */
static unsigned	 peer_cns;	/* requests with a peer certificate CN */
static uint8_t	 streamed[4096];
static size_t	 streamed_len;

static void
log_str(const char *str)
{
	size_t	 n = strlen(reqlog);

	snprintf(reqlog + n, sizeof(reqlog) - n, "%s", str);
}

/* "req GET /p?q v11 [host=h][x=y] 5:hello" */
static void
log_req(const char *how, struct http_req *r)
{
	const uint8_t *body;
	size_t	 i, n, len = 0;
	char	 line[1024];

	n = (size_t)snprintf(line, sizeof(line), "%s %s %s%s%s v%d ", how,
	    http_req_method(r), http_req_path(r),
	    http_req_query(r)[0] ? "?" : "", http_req_query(r),
	    http_req_version(r));
	for (i = 0; i < r->nhdrs && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s=%s]",
		    r->hdrs[i].name, r->hdrs[i].value);
	body = http_req_body(r, &len);
	if (n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %zu:",
		    len);
	for (i = 0; i < len && i < 32 && n + 2 < sizeof(line); i++)
		line[n++] = body[i] >= 32 && body[i] < 127 ? (char)body[i] :
		    '.';
	if (n + 2 < sizeof(line)) {
		line[n++] = '\n';
		line[n] = '\0';
	}
	log_str(line);
}

static int
on_headers(void *arg, struct http_req *r, struct http_resp *rs)
{
	(void)arg;
	if (strcmp(http_req_path(r), "/stream") == 0) {
		/* what goes if on_body gives up */
		http_resp_error(rs, 413, "stream refused");
		return HTTP_STREAM;
	}
	if (strcmp(http_req_path(r), "/refuse") == 0) {
		log_req("refused", r);
		http_resp_error(rs, 403, "refused");
		return HTTP_RESPOND;
	}
	return HTTP_BUFFER;
}

static int
on_body(void *arg, struct http_req *r, const uint8_t *p, size_t len)
{
	(void)arg;
	(void)r;
	if (len > sizeof(streamed) - streamed_len)
		return -1;
	memcpy(streamed + streamed_len, p, len);
	streamed_len += len;
	return memmem(streamed, streamed_len, "ABORT", 5) != NULL ? -1 : 0;
}

/* The request whose answer waits (/defer), until completed or closed. */
static struct http_req *deferred_req;

static void
on_request(void *arg, struct http_req *r, struct http_resp *rs)
{
	char	 body[128], n[16];
	size_t	 len = 0;

	(void)arg;
	nreq++;
	log_req("req", r);
	if (strcmp(http_req_path(r), "/defer") == 0) {
		http_req_defer(r);
		deferred_req = r;
		return;
	}
	if (strcmp(http_req_path(r), "/defer-now") == 0) {
		/* deferred, and completed before on_request returns */
		http_req_defer(r);
		http_resp_status(http_req_resp(r), 202);
		http_req_complete(r);
		return;
	}
	/* no TLS, so no client certificate */
	if (http_req_peer_cn(r) != NULL)
		peer_cns++;
	(void)http_req_body(r, &len);
	http_resp_status(rs, 200);
	snprintf(n, sizeof(n), "%u", nreq);
	http_resp_header(rs, "X-N", n);
	http_resp_header(rs, "Content-Type", "text/plain");
	if (strcmp(http_req_path(r), "/head") == 0)
		http_resp_head_length(rs, 1234);
	if (strcmp(http_req_path(r), "/empty") == 0) {
		http_resp_status(rs, 204);
		return;
	}
	snprintf(body, sizeof(body), "%s %s %zu\n", http_req_method(r),
	    http_req_path(r), len);
	http_resp_body_copy(rs, body, strlen(body));
}

static void
on_close(void *arg, struct http_req *r)
{
	(void)arg;
	nclosed++;
	if (r == deferred_req)
		deferred_req = NULL;
}

/* Answers the deferred request, as a handler does when its wait ends. */
static void
complete_deferred(const char *text)
{
	struct http_resp *rs;

	T_CHECK(deferred_req != NULL);
	if (deferred_req == NULL)
		return;
	rs = http_req_resp(deferred_req);
	http_resp_status(rs, 200);
	http_resp_header(rs, "Content-Type", "text/plain");
	http_resp_body_copy(rs, text, strlen(text));
	http_req_complete(deferred_req);
	http_req_complete(deferred_req);	/* twice: nothing more */
}

static void
handler_reset(void)
{
	reqlog[0] = '\0';
	nreq = nclosed = 0;
	streamed_len = 0;
}

/* Output ------------------------------------------------------------------ */

/* The output as text, without the date lines (they follow the clock). */
static void
conn_text(const struct http_conn *c, char *out, size_t cap)
{
	static uint8_t buf[65536];
	size_t	 len = h2peer_conn_bytes(c, buf, sizeof(buf) - 1), i, o = 0;

	buf[len] = '\0';
	for (i = 0; i < len && o + 1 < cap; ) {
		if ((i == 0 || buf[i - 1] == '\n') &&
		    strncmp((char *)buf + i, "date: ", 6) == 0) {
			while (i < len && buf[i] != '\n')
				i++;
			i++;
			continue;
		}
		out[o++] = buf[i] != '\0' ? (char)buf[i] : '@';
		i++;
	}
	out[o] = '\0';
}

/* HTTP/1.1 ---------------------------------------------------------------- */

struct h1res {
	char	 out[16384];
	char	 log[8192];
	int	 rc;		/* the first h1_recv/h1_produce error, or 0 */
	int	 close;	/* the connection closes after its output */
	unsigned requests, closes;
};

/*
 * Feeds in to a new connection, cut at the offsets in cuts (ascending,
 * ncuts of them) or, with step > 0, every step bytes; the server's
 * h1_produce runs after each read, and until nothing changes at the end.
 */
static void
h1_feed(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    size_t step, struct h1res *res)
{
	struct http_conn *c;
	size_t	 off = 0, end, k = 0, before;
	const uint8_t *p;
	int	 rc = 0, i;

	memset(res, 0, sizeof(*res));
	handler_reset();
	if ((c = http_conn_new_detached(srv, 0)) == NULL) {
		res->rc = -99;
		return;
	}
	while (off < len && rc == 0) {
		if (step > 0)
			end = len - off < step ? len : off + step;
		else
			end = k < ncuts ? cuts[k++] : len;
		rc = h1_recv(c, (const uint8_t *)in + off, end - off);
		if (rc == 0)
			rc = h1_produce(c);
		off = end;
	}
	for (i = 0; i < 64 && rc == 0; i++) {
		for (before = 0; http_conn_output(c, &p, before) > 0; before++)
			;
		rc = h1_produce(c);
		if (http_conn_output(c, &p, before) == 0)
			break;
	}
	res->rc = rc;
	res->close = c->close_after;
	conn_text(c, res->out, sizeof(res->out));
	http_conn_free_detached(c);
	snprintf(res->log, sizeof(res->log), "%s", reqlog);
	res->requests = nreq;
	res->closes = nclosed;
}

static void
h1_run(const char *in, struct h1res *res)
{
	h1_feed(in, strlen(in), NULL, 0, 0, res);
}

/* How many times s occurs in text. */
static unsigned
count(const char *text, const char *s)
{
	unsigned n = 0;

	while ((text = strstr(text, s)) != NULL) {
		n++;
		text += strlen(s);
	}
	return n;
}

static const char *const h1_requests[] = {
	"GET /a?x=1&y=%20 HTTP/1.1\r\nHost: h\r\nUser-Agent: t/1\r\n\r\n",
	"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
	"hello world",
	"POST /chunked HTTP/1.1\r\nHost: h\r\n"
	"Transfer-Encoding: chunked\r\n\r\n"
	"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
	"GET http://h/p/q?r=1 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
	"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /close HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
};

/*
 * A parser must give the same requests whatever the reads look like:
 * every request cut once at every byte, and fed a byte at a time.
 */
static void
test_h1_splits(void)
{
	static const char *const want[] = {
		"req GET /a?x=1&y=%20 v11 [host=h][user-agent=t/1] 0:\n",
		"req POST /post v11 [host=h][content-length=11] 11:hello "
		"world\n",
		"req POST /chunked v11 [host=h][transfer-encoding=chunked] "
		"11:hello world\n",
		"req GET /p/q?r=1 v11 [host=h] 0:\n",
		"req GET /1 v11 [host=h] 0:\n"
		"req POST /2 v11 [host=h][content-length=3] 3:abc\n"
		"req HEAD /head v11 [host=h] 0:\n",
		"req GET /close v11 [host=h][connection=close] 0:\n",
	};
	struct h1res ref, *r = malloc(sizeof(*r));
	size_t	 i, k, len, bad;

	for (i = 0; i < sizeof(h1_requests) / sizeof(h1_requests[0]); i++) {
		len = strlen(h1_requests[i]);
		h1_run(h1_requests[i], &ref);
		T_EQ_INT(ref.rc, 0);
		T_EQ_STR(ref.log, want[i]);
		T_CHECK(strncmp(ref.out, "HTTP/1.1 200 OK\r\n", 17) == 0);
		T_EQ_INT(ref.closes, ref.requests);
		bad = 0;
		for (k = 1; k < len; k++) {
			h1_feed(h1_requests[i], len, &k, 1, 0, r);
			if (r->rc != 0 || strcmp(r->log, ref.log) != 0 ||
			    strcmp(r->out, ref.out) != 0) {
				if (bad++ == 0)
					fprintf(stderr, "request %zu cut at "
					    "%zu:\n%s\n%s", i, k, r->log,
					    r->out);
			}
		}
		h1_feed(h1_requests[i], len, NULL, 0, 1, r);
		if (strcmp(r->log, ref.log) != 0 || strcmp(r->out, ref.out))
			bad++;
		T_EQ_INT(bad, 0);
	}
	free(r);
}

static void
test_h1_pipelining(void)
{
	struct h1res r;
	const char *a, *b, *c;

	h1_run(h1_requests[4], &r);
	T_EQ_INT(r.requests, 3);
	T_EQ_INT(count(r.out, "HTTP/1.1 200 OK\r\n"), 3);
	/* in order, each with its own length */
	a = strstr(r.out, "X-N: 1\r\n");
	b = strstr(r.out, "X-N: 2\r\n");
	c = strstr(r.out, "X-N: 3\r\n");
	T_CHECK(a != NULL && b != NULL && c != NULL && a < b && b < c);
	T_CHECK(strstr(r.out, "content-length: 9\r\n\r\nGET /1 0\n") != NULL);
	T_CHECK(strstr(r.out, "content-length: 10\r\n\r\nPOST /2 3\n") !=
	    NULL);
	/* HEAD: the length the handler gave, and no body */
	T_CHECK(strstr(r.out, "content-length: 1234\r\n\r\n") != NULL);
	T_CHECK(strstr(r.out, "HEAD /head") == NULL);
	T_EQ_INT(r.close, 0);
	T_CHECK(strstr(r.out, "connection: close") == NULL);

	/* a 204 carries no length and no body */
	h1_run("GET /empty HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n", &r);
	T_EQ_INT(r.requests, 2);
	T_CHECK(strncmp(r.out, "HTTP/1.1 204 No Content\r\n", 25) == 0);
	T_CHECK(strstr(r.out, "X-N: 1\r\nContent-Type: text/plain\r\n\r\n"
	    "HTTP/1.1 200") != NULL);
}

static void
test_h1_chunked(void)
{
	struct h1res r;

	/* upper-case hex, an extension, empty trailers */
	h1_run("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "A\r\n0123456789\r\n1;a=b;c\r\n!\r\n0\r\n\r\n"
	    "GET /next HTTP/1.1\r\n\r\n", &r);
	T_EQ_INT(r.requests, 2);
	T_CHECK(strstr(r.log, " 11:0123456789!\n") != NULL);
	T_CHECK(strstr(r.log, "req GET /next") != NULL);
	/* a chunk size that is no number */
	h1_run("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "zz\r\nhello\r\n0\r\n\r\n", &r);
	T_EQ_INT(r.requests, 0);
	T_CHECK(strncmp(r.out, "HTTP/1.1 400 ", 13) == 0);
	T_EQ_INT(r.close, 1);
	/* a chunk longer than announced */
	h1_run("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nhello\r\n0\r\n\r\n", &r);
	T_EQ_INT(r.requests, 0);
	T_CHECK(strncmp(r.out, "HTTP/1.1 400 ", 13) == 0);
	/* a chunk size past 64 bits */
	h1_run("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffff\r\nx\r\n", &r);
	T_EQ_INT(r.requests, 0);
	T_CHECK(strncmp(r.out, "HTTP/1.1 400 ", 13) == 0);
}

static void
test_h1_limits(void)
{
	char	 in[2048], big[MAX_HEAD + 100];
	struct h1res r;
	static uint8_t huge[70000];

	/* a head over max_header_bytes: 431, closed, no handler */
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nX-Big: %s\r\n\r\n"
	    "GET /after HTTP/1.1\r\n\r\n", big);
	h1_run(in, &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 431 ", 13) == 0);
	T_CHECK(strstr(r.out, "connection: close\r\n") != NULL);
	T_CHECK(strstr(r.out, "\"error\":\"header_too_large\"") != NULL);
	T_EQ_INT(r.close, 1);
	T_EQ_INT(r.requests, 0);
	T_EQ_STR(r.log, "");
	/* a long URL counts too */
	memset(big, 'u', sizeof(big) - 1);
	snprintf(in, sizeof(in), "GET /%s HTTP/1.1\r\n\r\n", big);
	h1_run(in, &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 431 ", 13) == 0);

	/* a body announced over max_body: 413, read and dropped, kept open */
	snprintf(in, sizeof(in), "POST /p HTTP/1.1\r\nContent-Length: %d\r\n"
	    "\r\n%0*d"
	    "GET /after HTTP/1.1\r\n\r\n", MAX_BODY + 1, MAX_BODY + 1, 7);
	h1_run(in, &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 413 ", 13) == 0);
	T_EQ_INT(r.requests, 1);
	T_EQ_STR(r.log, "req GET /after v11  0:\n");
	T_EQ_INT(r.close, 0);
	/* exactly max_body is fine */
	snprintf(in, sizeof(in), "POST /p HTTP/1.1\r\nContent-Length: %d\r\n"
	    "\r\n%0*d", MAX_BODY, MAX_BODY, 7);
	h1_run(in, &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 200 ", 13) == 0);
	/* a chunked body that grows past it */
	snprintf(in, sizeof(in), "POST /p HTTP/1.1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n20\r\n%032d\r\n20\r\n%032d\r\n1\r\nx\r\n0\r\n\r\n"
	    "GET /after HTTP/1.1\r\n\r\n", 1, 2);
	h1_run(in, &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 413 ", 13) == 0);
	T_EQ_STR(r.log, "req GET /after v11  0:\n");
	/* a client waiting for 100 Continue is answered at once, closed */
	snprintf(in, sizeof(in), "POST /p HTTP/1.1\r\nContent-Length: %d\r\n"
	    "Expect: 100-continue\r\n\r\n", MAX_BODY + 1);
	h1_run(in, &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 413 ", 13) == 0);
	T_CHECK(strstr(r.out, "100 Continue") == NULL);
	T_EQ_INT(r.close, 1);
	/* a body too large to drain: answered at once, closed */
	h1_run("POST /p HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\nabc",
	    &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 413 ", 13) == 0);
	T_EQ_INT(r.close, 1);

	/* more than the input buffer in one read is refused */
	{
		struct http_conn *c = http_conn_new_detached(srv, 0);

		memset(huge, 'a', sizeof(huge));
		T_EQ_INT(h1_recv(c, huge, sizeof(huge)), -1);
		http_conn_free_detached(c);
	}
}

static void
test_h1_keepalive(void)
{
	static const struct {
		const char *what, *in;
		unsigned requests;
		int	 close;
	} cases[] = {
		{ "1.1 default",
		  "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 2, 0 },
		{ "1.1 close", "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"
		  "GET /b HTTP/1.1\r\n\r\n", 1, 1 },
		{ "1.0 default",
		  "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 1, 1 },
		{ "1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive"
		  "\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 2, 0 },
		{ "close, then a body", "POST /a HTTP/1.1\r\nConnection: close"
		  "\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n", 1,
		  1 },
	};
	struct h1res r;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h1_run(cases[i].in, &r);
		if (r.requests != cases[i].requests || r.close !=
		    cases[i].close)
			fprintf(stderr, "keep-alive: %s\n", cases[i].what);
		T_EQ_INT(r.requests, cases[i].requests);
		T_EQ_INT(r.close, cases[i].close);
		T_EQ_INT(count(r.out, "connection: close\r\n"), cases[i].close);
		T_EQ_INT(r.closes, r.requests);
	}
}

/*
 * An idle connection between requests gives back its input and field
 * buffers (h1_trim), is then nothing more to trim (else the daemon's
 * sweep would count it every second), and parses the next request, and
 * one cut in the middle of its head, as before.
 */
static void
test_h1_trim(void)
{
	static const char req[] = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n"
	    "X-Long: 0123456789abcdef0123456789abcdef\r\n\r\n";
	struct http_conn *c;
	const uint8_t *p;
	size_t	 i;

	handler_reset();
	T_CHECK((c = http_conn_new_detached(srv, 0)) != NULL);
	if (c == NULL)
		return;
	T_CHECK(h1_trim(c) == 0);	/* nothing allocated yet */
	T_EQ_INT(h1_recv(c, (const uint8_t *)req, sizeof(req) - 1), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(nreq, 1);
	T_CHECK(h1_trim(c) == 1);
	T_CHECK(h1_trim(c) == 0);
	/* the next request, its head in two pieces around a trim */
	T_EQ_INT(h1_recv(c, (const uint8_t *)req, 20), 0);
	T_EQ_INT(h1_produce(c), 0);
	h1_trim(c);			/* a request is under way: kept */
	T_EQ_INT(h1_recv(c, (const uint8_t *)req + 20, sizeof(req) - 21), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(nreq, 2);
	for (i = 0; http_conn_output(c, &p, i) > 0; i++)
		;
	T_CHECK(i >= 2);		/* two answers queued */
	T_CHECK(h1_trim(c) == 1);
	T_CHECK(h1_trim(c) == 0);
	http_conn_free_detached(c);
}

/* Refused before the body; streamed bodies. */
static void
test_h1_refuse_and_stream(void)
{
	struct h1res r;

	/* refused: the body is read and dropped, the answer goes after it */
	h1_run("POST /refuse HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
	    "GET /after HTTP/1.1\r\n\r\n", &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	T_CHECK(strstr(r.out, "{\"error\":\"bad_request\",\"message\":"
	    "\"refused\"}") != NULL);
	T_EQ_INT(r.requests, 1);
	T_CHECK(strstr(r.log, "refused POST /refuse") == r.log);
	T_CHECK(strstr(r.log, "req GET /after") != NULL);
	T_EQ_INT(r.close, 0);
	/* the same refusal cut at every byte */
	{
		const char *in = "POST /refuse HTTP/1.1\r\nContent-Length: 5"
		    "\r\n\r\nhelloGET /after HTTP/1.1\r\n\r\n";
		struct h1res *c = malloc(sizeof(*c));
		size_t	 k, bad = 0;

		for (k = 1; k < strlen(in); k++) {
			h1_feed(in, strlen(in), &k, 1, 0, c);
			if (strcmp(c->out, r.out) != 0 ||
			    strcmp(c->log, r.log) != 0)
				bad++;
		}
		T_EQ_INT(bad, 0);
		free(c);
	}
	/* refused with no body: at once */
	h1_run("GET /refuse HTTP/1.1\r\n\r\n", &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 403 ", 13) == 0);
	T_EQ_INT(r.close, 0);

	/* streamed, the client waiting for 100 Continue */
	h1_run("POST /stream HTTP/1.1\r\nContent-Length: 200\r\n"
	    "Expect: 100-continue\r\n\r\n", &r);
	T_EQ_STR(r.out, "HTTP/1.1 100 Continue\r\n\r\n");
	h1_run("POST /stream HTTP/1.1\r\nContent-Length: 200\r\n"
	    "Expect: 100-continue\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "1234567890123456789012345678901234567890123456789012345678901"
	    "2345678901234567890123456789012345678901234567890123456789012"
	    "34567890123456789012345", &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ",
	    38) == 0);
	T_EQ_INT(streamed_len, 200);	/* over max_body: streamed */
	T_CHECK(strstr(r.log, " 0:\n") != NULL);	/* nothing buffered */
	/* the handler gives up half way: its answer, then the rest drained */
	h1_run("POST /stream HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
	    "abABORTcde" "GET /after HTTP/1.1\r\n\r\n", &r);
	T_CHECK(strncmp(r.out, "HTTP/1.1 413 ", 13) == 0);
	T_EQ_INT(r.requests, 1);
	T_CHECK(strstr(r.log, "req GET /after") != NULL);
}

static void
test_h1_hostile(void)
{
#define S(x) x, sizeof(x) - 1
	static const struct {
		const char *what, *in;
		size_t	 len;
		int	 status;
	} cases[] = {
		{ "HTTP/2.0", S("GET / HTTP/2.0\r\n\r\n"), 505 },
		{ "HTTP/0.9", S("GET /\r\n\r\n"), 400 },
		{ "space before colon",
		  S("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400 },
		{ "two Hosts",
		  S("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400 },
		{ "two Authorizations", S("GET / HTTP/1.1\r\nAuthorization: "
		  "a\r\nauthorization: b\r\n\r\n"), 400 },
		{ "gzip", S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, "
		  "chunked\r\n\r\n"), 501 },
		{ "chunked twice", S("POST / HTTP/1.1\r\nTransfer-Encoding: "
		  "chunked, chunked\r\n\r\n"), 400 },
		{ "TE in 1.0", S("POST / HTTP/1.0\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n0\r\n\r\n"), 400 },
		{ "CL and TE", S("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n"), 400 },
		{ "CL twice", S("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
		  "Content-Length: 4\r\n\r\nabcd"), 400 },
		{ "CL negative",
		  S("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400 },
		{ "CL junk",
		  S("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"), 400 },
		{ "obs-fold", S("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
		  400 },
		{ "asterisk", S("OPTIONS * HTTP/1.1\r\n\r\n"), 400 },
		{ "authority form", S("CONNECT h:443 HTTP/1.1\r\n\r\n"),
		  400 },
		{ "scheme and query, no path",
		  S("GET http://h?q HTTP/1.1\r\n\r\n"), 400 },
		{ "unknown method", S("BREW / HTTP/1.1\r\n\r\n"), 400 },
		{ "TLS", S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
		  400 },
		{ "NUL in a field", S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"),
		  400 },
		{ "control in the target", S("GET /\x7f HTTP/1.1\r\n\r\n"),
		  400 },
		{ "no colon", S("GET / HTTP/1.1\r\nHost\r\n\r\n"), 400 },
	};
#undef S
	static const char after[] = "GET /after HTTP/1.1\r\n\r\n";
	struct h1res r, *cut = malloc(sizeof(*cut));
	size_t	 i, k, bad;
	char	 want[32], in[256];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* a good request after the bad one is never reached */
		memcpy(in, cases[i].in, cases[i].len);
		memcpy(in + cases[i].len, after, sizeof(after) - 1);
		h1_feed(in, cases[i].len + sizeof(after) - 1, NULL, 0, 0, &r);
		snprintf(want, sizeof(want), "HTTP/1.1 %d ", cases[i].status);
		if (strncmp(r.out, want, strlen(want)) != 0)
			fprintf(stderr, "hostile %s:\n%s\n", cases[i].what,
			    r.out);
		T_CHECK(strncmp(r.out, want, strlen(want)) == 0);
		T_EQ_INT(count(r.out, "\r\nserver: otagw\r\n"), 1);
		T_CHECK(strstr(r.out, "connection: close\r\n") != NULL);
		T_CHECK(strstr(r.out, "Content-Type: application/json\r\n") !=
		    NULL && strstr(r.out, "{\"error\":\"") != NULL);
		T_EQ_INT(r.close, 1);
		T_EQ_INT(r.requests, 0);
		/* the same refusal whatever the reads look like */
		bad = 0;
		for (k = 1; k < cases[i].len; k++) {
			h1_feed(in, cases[i].len + sizeof(after) - 1, &k, 1, 0,
			    cut);
			if (strcmp(cut->out, r.out) != 0 ||
			    cut->requests != 0) {
				if (bad++ == 0)
					fprintf(stderr, "%s cut at %zu:\n%s\n",
					    cases[i].what, k, cut->out);
			}
		}
		T_EQ_INT(bad, 0);
	}
	free(cut);
}

/* Every prefix of a request: nothing answered, nothing handled. */
static void
test_h1_truncated(void)
{
	const char *in = h1_requests[2];	/* chunked, with a trailer */
	size_t	 len = strlen(in), i, bad = 0;
	struct h1res r;

	for (i = 0; i < len; i++) {
		h1_feed(in, i, NULL, 0, 0, &r);
		if (r.out[0] != '\0' || r.requests != 0 || r.rc != 0)
			bad++;
	}
	T_EQ_INT(bad, 0);
	h1_feed(in, len, NULL, 0, 0, &r);
	T_EQ_INT(r.requests, 1);
}

/* HTTP/2 ------------------------------------------------------------------ */

static void
test_h2_get_post(void)
{
	struct h2peer p;
	struct h2stream *g, *q;
	static uint8_t body[60];
	nghttp2_nv ct = h2peer_nv("content-type", "application/json");

	handler_reset();
	h2peer_open(&p, srv);
	g = h2peer_req(&p, "GET", "/hello?a=b", NULL, 0, NULL, 0, 1);
	memset(body, 'b', sizeof(body));
	q = h2peer_req(&p, "POST", "/post", &ct, 1, body, sizeof(body), 1);
	h2peer_pump(&p);
	T_EQ_INT(p.srv_rc, 0);
	T_EQ_INT(g->status, 200);
	T_CHECK(g->closed && g->close_code == NGHTTP2_NO_ERROR);
	T_EQ_INT(g->body_len, 13);
	T_CHECK(memcmp(g->body, "GET /hello 0\n", 13) == 0);
	T_CHECK(strstr(g->hdrs, "server: otagw\n") != NULL);
	T_CHECK(strstr(g->hdrs, "content-length: 13\n") != NULL);
	T_CHECK(strstr(g->hdrs, "x-n: ") != NULL);
	T_EQ_INT(q->status, 200);
	T_CHECK(q->body_len == 14 && memcmp(q->body, "POST /post 60\n",
	    14) == 0);
	T_EQ_INT(nreq, 2);
	T_CHECK(strstr(reqlog, "req GET /hello?a=b v2 [host=gw.test] 0:\n")
	    != NULL);
	T_CHECK(strstr(reqlog, "req POST /post v2 [host=gw.test]"
	    "[content-type=application/json] 60:bbbb") != NULL);
	/* a HEAD and a 204 carry no body */
	g = h2peer_req(&p, "HEAD", "/head", NULL, 0, NULL, 0, 1);
	q = h2peer_req(&p, "GET", "/empty", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(g->status, 200);
	T_CHECK(strstr(g->hdrs, "content-length: 1234\n") != NULL);
	T_EQ_INT(g->body_len, 0);
	T_EQ_INT(q->status, 204);
	T_CHECK(strstr(q->hdrs, "content-length") == NULL);
	/* GOAWAY on shutdown */
	h2_goaway(p.c);
	h2peer_pump(&p);
	T_EQ_INT(p.goaway, 1);
	T_EQ_INT(p.goaway_code, NGHTTP2_NO_ERROR);
	h2peer_close(&p);
	T_EQ_INT(nclosed, 4);
}

static void
test_h2_refusals(void)
{
	static uint8_t body[MAX_BODY + 1];
	char	 big[MAX_HEAD + 100];
	struct h2peer p;
	struct h2stream *st;
	nghttp2_nv nv;

	memset(body, 'x', sizeof(body));
	/* refused before the body: the answer waits for END_STREAM */
	handler_reset();
	h2peer_open(&p, srv);
	st = h2peer_req(&p, "POST", "/refuse", NULL, 0, body, 10, 0);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 0);
	T_CHECK(strstr(reqlog, "refused POST /refuse") != NULL);
	st->ready = 1;
	nghttp2_session_resume_data(p.s, st->id);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 403);
	T_CHECK(st->closed && st->close_code == NGHTTP2_NO_ERROR);
	T_EQ_INT(st->rst, 0);
	T_EQ_INT(nreq, 0);
	/* a body too large to drain: answered at once, then reset */
	nv = h2peer_nv("content-length", "5000000");
	st = h2peer_req(&p, "POST", "/refuse", &nv, 1, body, 10, 0);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 403);
	T_EQ_INT(st->rst, 1);
	T_CHECK(st->closed && st->close_code == NGHTTP2_NO_ERROR);
	/* the connection goes on */
	st = h2peer_req(&p, "GET", "/after", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_EQ_INT(p.srv_rc, 0);
	h2peer_close(&p);

	/* over max_body: 413, announced or not */
	handler_reset();
	h2peer_open(&p, srv);
	st = h2peer_req(&p, "POST", "/post", NULL, 0, body, sizeof(body), 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 413);
	nv = h2peer_nv("content-length", "65");
	st = h2peer_req(&p, "POST", "/post", &nv, 1, body, sizeof(body), 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 413);
	T_EQ_INT(nreq, 0);
	/* a head over max_header_bytes: 431 */
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nv = h2peer_nv("x-big", big);
	st = h2peer_req(&p, "GET", "/big", &nv, 1, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 431);
	T_EQ_INT(nreq, 0);
	/* no :path: the stream is reset, the handler never sees it */
	st = h2peer_req(&p, "GET", NULL, NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 0);
	T_CHECK(st->closed && st->close_code == NGHTTP2_PROTOCOL_ERROR);
	T_EQ_INT(nreq, 0);
	/*
	 * a :path that is not a path: 400, as over HTTP/1.1 (nghttp2 lets
	 * it through when the scheme is neither http nor https)
	 */
	p.scheme = "coap";
	st = h2peer_req(&p, "GET", "ota/x", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 400);
	T_CHECK(strstr((const char *)st->body, "not a path") != NULL);
	st = h2peer_req(&p, "GET", "*", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 400);
	T_EQ_INT(nreq, 0);
	p.scheme = NULL;
	/* and the connection still serves */
	st = h2peer_req(&p, "GET", "/ok", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	h2peer_close(&p);
}

/* What a client sends first: preface, SETTINGS, a GET. */
static size_t
h2_opening(uint8_t *buf, size_t cap)
{
	struct h2peer p;
	const uint8_t *d;
	ssize_t	 n;
	size_t	 len = 0;

	handler_reset();
	h2peer_open(&p, srv);
	h2peer_req(&p, "GET", "/x", NULL, 0, NULL, 0, 1);
	while ((n = nghttp2_session_mem_send(p.s, &d)) > 0 &&
	    (size_t)n <= cap - len) {
		memcpy(buf + len, d, (size_t)n);
		len += (size_t)n;
	}
	h2peer_close(&p);
	return len;
}

static void
test_h2_hostile(void)
{
	static const struct {
		const char *what;
		const char *in;
		size_t	 len;
	} cases[] = {
#define S(x) x, sizeof(x) - 1
		{ "HTTP/1.1", S("GET / HTTP/1.1\r\nHost: h\r\n\r\n") },
		{ "a bad preface", S("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n") },
		{ "TLS", S("\x16\x03\x01\x02\x00") },
#undef S
	};
	uint8_t	 open[512];
	size_t	 len, i, bad = 0;
	struct http_conn *c;
	uint8_t	*copy;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = http_conn_new_detached(srv, 1);
		T_EQ_INT(h2_recv(c, (const uint8_t *)cases[i].in,
		    cases[i].len), -1);
		http_conn_free_detached(c);
	}
	/* every prefix of a real opening: no error, no request */
	len = h2_opening(open, sizeof(open));
	T_CHECK(len > 24 + 9);
	handler_reset();
	for (i = 0; i < len; i++) {
		c = http_conn_new_detached(srv, 1);
		copy = malloc(i + 1);
		memcpy(copy, open, i);
		if (h2_recv(c, copy, i) != 0 || h2_produce(c) != 0)
			bad++;
		free(copy);
		http_conn_free_detached(c);
	}
	T_EQ_INT(bad, 0);
	T_EQ_INT(nreq, 0);
	/* the whole of it: one request */
	c = http_conn_new_detached(srv, 1);
	T_EQ_INT(h2_recv(c, open, len), 0);
	T_EQ_INT(nreq, 1);
	http_conn_free_detached(c);
	/* a frame on stream 0 that must not be there: GOAWAY */
	{
		static const uint8_t data0[] = { 0, 0, 1, 0, 0, 0, 0, 0, 0,
		    'x' };
		static uint8_t out[4096];
		size_t	 olen;

		c = http_conn_new_detached(srv, 1);
		T_EQ_INT(h2_recv(c, open, 24 + 9), 0);	/* preface, SETTINGS */
		h2_recv(c, data0, sizeof(data0));
		T_EQ_INT(h2_produce(c), 0);
		olen = h2peer_conn_bytes(c, out, sizeof(out));
		/* the server's SETTINGS, its ACK, then GOAWAY (type 7) */
		T_CHECK(olen > 9 && memchr(out, 7, olen) != NULL);
		T_EQ_INT(h2_finished(c), 1);
		http_conn_free_detached(c);
	}
}

/* What keeps a connection alive --------------------------------------- */

/* The times that decide a connection's fate, all set back by ago ms. */
static void
conn_age(struct http_conn *c, int64_t ago)
{
	struct http_req *r;

	c->t_activity -= ago;
	c->t_progress -= ago;
	c->t_data -= ago;
	for (r = c->bw_head; r != NULL; r = r->bw_next)
		r->t_body -= ago;
}

/*
 * HTTP/2: its requests keep a connection alive, PINGs do not; an answer
 * stuck on the client's zero window with no answer frame made for the
 * stall time is a stall however recent the other bytes; a buffered body
 * must come in whole within header_timeout_s.
 */
static void
test_h2_liveness(void)
{
	const struct http_limits *lim;
	nghttp2_settings_entry zero = { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
	    0 };
	struct h2peer p;
	struct h2stream *st, *st2;
	int64_t	 now, idle, stall, head;

	handler_reset();
	h2peer_open(&p, srv);
	lim = http_conn_limits(p.c);
	idle = (int64_t)lim->idle_timeout_s * 1000;
	stall = (int64_t)lim->stall_timeout_s * 1000;
	head = (int64_t)lim->header_timeout_s * 1000;
	h2peer_pump(&p);
	/* idle for longer than idle_timeout_s, then PINGs: still idle */
	conn_age(p.c, idle + 1000);
	nghttp2_submit_ping(p.s, NGHTTP2_FLAG_NONE, NULL);
	h2peer_pump(&p);
	now = ev_now_ms();
	T_EQ_INT(http_conn_sweep_verdict(p.c, now), HTTP_SWEEP_CLOSE);
	/* a request is activity */
	st = h2peer_req(&p, "GET", "/x", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_EQ_INT(http_conn_sweep_verdict(p.c, ev_now_ms()), HTTP_SWEEP_KEEP);
	h2peer_close(&p);

	/* a zero window: PING acks go out, the answer does not move */
	handler_reset();
	h2peer_open(&p, srv);
	nghttp2_submit_settings(p.s, NGHTTP2_FLAG_NONE, &zero, 1);
	h2peer_pump(&p);
	st = h2peer_req(&p, "GET", "/x", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);	/* the head went, the body waits */
	T_CHECK(p.c->busy > 0);
	T_EQ_INT(h2_window_blocked(p.c), 1);
	now = ev_now_ms();
	conn_age(p.c, stall + 1000);
	p.c->t_activity = p.c->t_progress = now;	/* PINGs, their acks */
	T_EQ_INT(http_conn_sweep_verdict(p.c, now), HTTP_SWEEP_CLOSE);
	h2peer_close(&p);

	/* a buffered body that does not come: the body deadline */
	handler_reset();
	h2peer_open(&p, srv);
	st = h2peer_req(&p, "POST", "/post", NULL, 0, "12345", 5, 0);
	h2peer_pump(&p);
	T_CHECK(p.c->bw_head != NULL && p.c->bw_head == p.c->bw_tail);
	now = ev_now_ms();
	conn_age(p.c, head + 1000);
	p.c->t_activity = p.c->t_progress = now;
	T_EQ_INT(http_conn_sweep_verdict(p.c, now), HTTP_SWEEP_BODY);
	/* a younger stream's body is not late: each has its own clock */
	st2 = h2peer_req(&p, "POST", "/post", NULL, 0, "6789", 4, 0);
	h2peer_pump(&p);
	T_CHECK(http_conn_body_late(p.c, now) == p.c->bw_head);
	T_CHECK(p.c->bw_head != p.c->bw_tail);
	st->ready = 1;
	nghttp2_session_resume_data(p.s, st->id);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_CHECK(p.c->bw_head == p.c->bw_tail);
	T_EQ_INT(http_conn_sweep_verdict(p.c, ev_now_ms()), HTTP_SWEEP_KEEP);
	/* the late one is reset alone; the connection goes on */
	conn_age(p.c, head + 1000);
	p.c->t_activity = p.c->t_progress = now = ev_now_ms();
	T_CHECK(http_conn_body_late(p.c, now) != NULL);
	T_EQ_INT(http_conn_sweep_verdict(p.c, now), HTTP_SWEEP_BODY);
	{
		struct http_req *late = p.c->bw_head;

		http_req_body_wait(late, 0);
		h2_reset_late(p.c, late);
	}
	T_CHECK(p.c->bw_head == NULL && p.c->bw_tail == NULL);
	h2peer_pump(&p);
	T_CHECK(st2->closed && st2->close_code == NGHTTP2_CANCEL);
	st = h2peer_req(&p, "GET", "/x", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	h2peer_close(&p);
}

/*
 * What one connection's requests in progress hold (HTTP/2 heads and
 * buffered bodies) is bounded, and given back as they end.
 */
static void
test_conn_held(void)
{
	struct http_conn *c = http_conn_new_detached(srv, 1);
	struct http_req *a, *b;

	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	a = http_req_new(c, 2);
	b = http_req_new(c, 2);
	T_CHECK(a != NULL && b != NULL);
	T_EQ_INT(http_req_hold(a, HTTP_CONN_HELD_MAX - 10), 0);
	T_EQ_INT(http_req_hold(b, 11), -1);
	T_EQ_INT(http_req_hold(b, 10), 0);
	T_EQ_INT(c->held, HTTP_CONN_HELD_MAX);
	http_req_free(a);
	T_EQ_INT(c->held, 10);
	T_EQ_INT(http_req_hold(b, 1000), 0);
	http_req_free(b);
	T_EQ_INT(c->held, 0);
	http_conn_free_detached(c);
}

/*
 * HTTP/1.1: a buffered body that stops coming ends the connection after
 * header_timeout_s, however often a byte of it trickles in.
 */
static void
test_h1_body_deadline(void)
{
	static const char head[] = "POST /post HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 40\r\n\r\n0123";
	struct http_conn *c = http_conn_new_detached(srv, 0);
	int64_t	 now, ht;

	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	ht = (int64_t)http_conn_limits(c)->header_timeout_s * 1000;
	T_EQ_INT(h1_recv(c, (const uint8_t *)head, sizeof(head) - 1), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_CHECK(c->bw_head != NULL);
	now = ev_now_ms();
	conn_age(c, ht + 1000);
	T_EQ_INT(h1_recv(c, (const uint8_t *)"5", 1), 0);	/* a trickle */
	T_EQ_INT(http_conn_sweep_verdict(c, now), HTTP_SWEEP_BODY);
	http_conn_free_detached(c);
}

/*
 * Where accepted bodies have no deadline (the admin API: the token was
 * checked at the head), the body of a refused request still has one: a
 * client without credentials cannot trickle a refused body for ever.
 */
static void
test_h1_refused_body_deadline(void)
{
	static const char ok[] = "POST /post HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 40\r\n\r\n0123";
	static const char refused[] = "POST /refuse HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 1000\r\n\r\n01";
	struct http_limits lim, saved;
	struct http_conn *c;
	int64_t	 now, ht;

	if ((c = http_conn_new_detached(srv, 0)) == NULL)
		return;
	saved = lim = *http_conn_limits(c);
	http_conn_free_detached(c);
	lim.body_deadline = 0;
	http_server_set_limits(srv, &lim);
	ht = (int64_t)lim.header_timeout_s * 1000;
	/* accepted: no deadline of its own here */
	c = http_conn_new_detached(srv, 0);
	T_EQ_INT(h1_recv(c, (const uint8_t *)ok, sizeof(ok) - 1), 0);
	T_EQ_INT(h1_produce(c), 0);
	now = ev_now_ms();
	conn_age(c, ht + 1000);
	T_CHECK(http_conn_body_late(c, now) == NULL);
	http_conn_free_detached(c);
	/* refused, its body drained: the deadline */
	c = http_conn_new_detached(srv, 0);
	T_EQ_INT(h1_recv(c, (const uint8_t *)refused, sizeof(refused) - 1),
	    0);
	T_EQ_INT(h1_produce(c), 0);
	now = ev_now_ms();
	conn_age(c, ht + 1000);
	T_EQ_INT(http_conn_sweep_verdict(c, now), HTTP_SWEEP_BODY);
	http_conn_free_detached(c);
	http_server_set_limits(srv, &saved);
}

/*
 * A client that pipelines many small requests and reads nothing: the
 * queued answers stop at HTTP_OUT_PIECES pieces, not only at
 * HTTP_OUT_HIGH bytes (each head is an allocation of its own).
 */
static void
test_h1_out_pieces(void)
{
	static const char one[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_conn *c = http_conn_new_detached(srv, 0);
	const uint8_t *p;
	size_t	 i, n = 0;

	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	handler_reset();
	for (i = 0; i < 4000; i++) {
		if (h1_recv(c, (const uint8_t *)one, sizeof(one) - 1) != 0)
			break;
		(void)h1_produce(c);
	}
	for (i = 0; i < 8; i++)
		(void)h1_produce(c);
	while (http_conn_output(c, &p, n) > 0)
		n++;
	T_CHECK(n <= HTTP_OUT_PIECES + 4);
	T_CHECK(c->out_bytes < HTTP_OUT_HIGH);
	T_CHECK(http_conn_out_full(c));
	http_conn_free_detached(c);
}

/* Deferred answers --------------------------------------------------------- */

/*
 * HTTP/1.1: a deferred request holds the connection's later requests
 * back, is never idle, and is answered, then the others in order, once
 * completed; a client that goes away ends it (on_close); one completed
 * inside on_request is answered as any other.
 */
static void
test_h1_deferred(void)
{
	static const char two[] = "GET /defer HTTP/1.1\r\nHost: h\r\n\r\n"
	    "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
	static char out[8192];
	struct http_conn *c;
	const char *a, *b;
	int64_t	 now = 1000000000;

	handler_reset();
	c = http_conn_new_detached(srv, 0);
	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	T_EQ_INT(h1_recv(c, (const uint8_t *)two, sizeof(two) - 1), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(nreq, 1);		/* /after waits behind it */
	T_CHECK(deferred_req != NULL);
	T_EQ_INT(c->deferred, 1);
	conn_text(c, out, sizeof(out));
	T_EQ_STR(out, "");
	/* quiet for longer than idle_timeout_s: kept */
	c->t_activity = c->t_progress = now - 3600 * 1000;
	T_EQ_INT(http_conn_sweep_verdict(c, now), HTTP_SWEEP_KEEP);
	/* more input meanwhile is kept for later */
	T_EQ_INT(h1_recv(c, (const uint8_t *)"GET /third HTTP/1.1\r\n\r\n",
	    23), 0);
	T_EQ_INT(nreq, 1);

	complete_deferred("late answer\n");
	T_EQ_INT(c->deferred, 0);
	T_EQ_INT(nclosed, 0);		/* not inside http_req_complete */
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(nreq, 3);
	conn_text(c, out, sizeof(out));
	a = strstr(out, "late answer\n");
	b = strstr(out, "GET /after 0\n");
	T_CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	T_CHECK(a != NULL && b != NULL && a < b);
	T_CHECK(strstr(out, "content-length: 12\r\n") != NULL);
	T_CHECK(strstr(out, "GET /third 0\n") != NULL);
	T_EQ_INT(nclosed, 3);
	T_CHECK(deferred_req == NULL);
	/* idle again: the usual timeout */
	c->t_activity = c->t_progress = now - 3600 * 1000;
	T_EQ_INT(http_conn_sweep_verdict(c, now), HTTP_SWEEP_CLOSE);
	http_conn_free_detached(c);

	/* the client goes away while it waits */
	handler_reset();
	c = http_conn_new_detached(srv, 0);
	T_EQ_INT(h1_recv(c, (const uint8_t *)two, 32), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_CHECK(deferred_req != NULL);
	http_conn_free_detached(c);
	T_EQ_INT(nclosed, 1);
	T_CHECK(deferred_req == NULL);

	/* deferred and completed at once: answered in its turn */
	handler_reset();
	c = http_conn_new_detached(srv, 0);
	T_EQ_INT(h1_recv(c, (const uint8_t *)"GET /defer-now HTTP/1.1\r\n\r\n"
	    "GET /next HTTP/1.1\r\n\r\n", 50), 0);
	T_EQ_INT(h1_produce(c), 0);
	T_EQ_INT(h1_produce(c), 0);
	conn_text(c, out, sizeof(out));
	T_CHECK(strncmp(out, "HTTP/1.1 202 Accepted\r\n", 23) == 0);
	T_CHECK(strstr(out, "GET /next 0\n") != NULL);
	T_EQ_INT(c->deferred, 0);
	http_conn_free_detached(c);
	T_EQ_INT(nclosed, 2);
}

/*
 * HTTP/2: a deferred stream stays open while the others are answered,
 * and gets its answer once completed; a RST_STREAM from the client ends
 * it (on_close).
 */
static void
test_h2_deferred(void)
{
	struct h2peer p;
	struct h2stream *d, *x;
	int64_t	 now = 1000000000;

	handler_reset();
	h2peer_open(&p, srv);
	d = h2peer_req(&p, "POST", "/defer", NULL, 0, "{}", 2, 1);
	x = h2peer_req(&p, "GET", "/x", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(p.srv_rc, 0);
	T_EQ_INT(x->status, 200);
	T_EQ_INT(d->status, 0);
	T_EQ_INT(d->closed, 0);
	T_EQ_INT(p.c->deferred, 1);
	/*
	 * Quiet for longer than idle_timeout_s, with its output written (a
	 * detached connection keeps it queued for the test to read): kept.
	 */
	{
		uint64_t queued = p.c->out_bytes;

		p.c->out_bytes = 0;
		p.c->t_activity = p.c->t_progress = now - 3600 * 1000;
		T_EQ_INT(http_conn_sweep_verdict(p.c, now), HTTP_SWEEP_KEEP);
		p.c->deferred = 0;
		T_EQ_INT(http_conn_sweep_verdict(p.c, now), HTTP_SWEEP_CLOSE);
		p.c->deferred = 1;
		p.c->out_bytes = queued;
	}
	complete_deferred("pushed\n");
	T_EQ_INT(p.c->deferred, 0);
	h2peer_pump(&p);
	T_EQ_INT(d->status, 200);
	T_CHECK(d->closed && d->close_code == NGHTTP2_NO_ERROR);
	T_CHECK(d->body_len == 7 && memcmp(d->body, "pushed\n", 7) == 0);
	T_EQ_INT(nclosed, 2);

	/* the client cancels a deferred stream */
	d = h2peer_req(&p, "GET", "/defer", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_CHECK(deferred_req != NULL);
	T_EQ_INT(p.c->deferred, 1);
	nghttp2_submit_rst_stream(p.s, NGHTTP2_FLAG_NONE, d->id,
	    NGHTTP2_CANCEL);
	h2peer_pump(&p);
	T_EQ_INT(p.srv_rc, 0);
	T_CHECK(deferred_req == NULL);
	T_EQ_INT(p.c->deferred, 0);
	T_EQ_INT(nclosed, 3);
	/* and the connection goes on */
	x = h2peer_req(&p, "GET", "/y", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(x->status, 200);
	/* the connection closes with a deferred stream open: on_close */
	d = h2peer_req(&p, "GET", "/defer", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_CHECK(deferred_req != NULL);
	h2peer_close(&p);
	T_CHECK(deferred_req == NULL);
	T_EQ_INT(nclosed, 5);
}

int
main(void)
{
	static const struct http_handler h = {
		.on_headers = on_headers,
		.on_body = on_body,
		.on_request = on_request,
		.on_close = on_close,
	};
	struct http_limits lim;

	log_init("test_http", 1, LOG_LEVEL_WARN);
	memset(&lim, 0, sizeof(lim));
	lim.max_body = MAX_BODY;
	lim.max_header_bytes = MAX_HEAD;
	lim.body_deadline = 1;
	if ((srv = http_server_new(NULL, NULL, 0, NULL, &lim, &h,
	    "test")) == NULL) {
		fprintf(stderr, "http_server_new failed\n");
		return 1;
	}

	T_RUN(test_h1_splits);
	T_RUN(test_h1_pipelining);
	T_RUN(test_h1_chunked);
	T_RUN(test_h1_limits);
	T_RUN(test_h1_keepalive);
	T_RUN(test_h1_trim);
	T_RUN(test_h1_refuse_and_stream);
	T_RUN(test_h1_hostile);
	T_RUN(test_h1_truncated);
	T_RUN(test_h2_get_post);
	T_RUN(test_h2_refusals);
	T_RUN(test_h2_hostile);
	T_RUN(test_h1_deferred);
	T_RUN(test_h2_deferred);
	T_RUN(test_h2_liveness);
	T_RUN(test_conn_held);
	T_RUN(test_h1_body_deadline);
	T_RUN(test_h1_refused_body_deadline);
	T_RUN(test_h1_out_pieces);
	T_EQ_INT(peer_cns, 0);

	http_server_free(srv);
	return t_done();
}
