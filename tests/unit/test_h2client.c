/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_h2client.c: the HTTP/2 client (src/http/h2client.h) against an
 * nghttp2 server session run by the test, over TLS on loopback.
 *
 * h2client makes its own socket (h2c_new connects to the URL's host), so
 * the server side listens on 127.0.0.1 on a free port: a tls_server
 * (src/tls, certificates from certs.h) and an nghttp2 server session fed
 * through tls_conn_read/tls_conn_write, all in the test's one thread.  The
 * client is driven as otactl drives it, through h2c_wait, turn about with
 * the server's step, until the test's condition holds or a deadline
 * passes.  The server answers by path: a 200 with a body, a 103 then a
 * 200, an echo of the request body, a large body, a RST_STREAM, a :status
 * that is no status, or nothing (so the test can act: GOAWAY, close).
 *
 * Covered: URL parsing (a table, hostile ones included), requests sent
 * before the connection is up, responses with their fields and bodies, an
 * interim response, a request body echoed, a stream reset, a bad :status,
 * a stream cancelled by the caller and by its on_data, GOAWAY with and
 * without the stream processed, the server closing, a refused connection
 * and a server certificate from another CA.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "http/h2client.h"
#include "log.h"
#include "tls/tls.h"
#include "certs.h"
#include "tmpdir.h"
#include "t.h"

static char dir[256];
static struct tls_server *tls_srv;

/* The server --------------------------------------------------------------- */

struct srv_stream {
	int32_t	 id;
	char	 path[64];
	uint8_t	 body[65536];	/* request body */
	size_t	 body_len;
	/* the response body */
	const uint8_t *out;
	size_t	 out_len, out_off;
	uint32_t rst_code;	/* RST_STREAM the client sent, +1 */
	int	 no_end;	/* the body's last DATA has no END_STREAM, */
	int	 rst_sent;	/* and RST_STREAM(NO_ERROR) follows it */
};

static struct {
	int	 lfd;		/* listening socket */
	unsigned port;
	int	 fd;		/* the connection, or -1 */
	struct tls_conn *tls;
	int	 tls_done;
	nghttp2_session *s;
	struct srv_stream st[16];
	size_t	 nst;
	uint8_t	 pend[65536];	/* bytes TLS did not take yet */
	size_t	 pend_len;
	int	 connections;
} sv;

static uint8_t big[200000];

/* The stream id, if the server saw it. */
static struct srv_stream *
sv_find(int32_t id)
{
	size_t	 i;

	for (i = 0; i < sv.nst; i++)
		if (sv.st[i].id == id)
			return &sv.st[i];
	return NULL;
}

static struct srv_stream *
sv_stream(int32_t id)
{
	size_t	 i;

	for (i = 0; i < sv.nst; i++)
		if (sv.st[i].id == id)
			return &sv.st[i];
	if (sv.nst == sizeof(sv.st) / sizeof(sv.st[0]))
		return NULL;
	memset(&sv.st[sv.nst], 0, sizeof(sv.st[0]));
	sv.st[sv.nst].id = id;
	return &sv.st[sv.nst++];
}

static ssize_t
sv_body_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct srv_stream *st = src->ptr;
	size_t	 n = st->out_len - st->out_off;

	(void)s;
	(void)id;
	(void)arg;
	if (n > len)
		n = len;
	memcpy(buf, st->out + st->out_off, n);
	st->out_off += n;
	if (st->out_off == st->out_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF | (st->no_end ?
		    NGHTTP2_DATA_FLAG_NO_END_STREAM : 0);
	return (ssize_t)n;
}

static void
sv_respond(struct srv_stream *st, const char *status, const uint8_t *body,
    size_t len)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
		  NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"x-test", (uint8_t *)"yes", 6, 3,
		  NGHTTP2_NV_FLAG_NONE },
	};
	nghttp2_data_provider prd;

	st->out = body;
	st->out_len = len;
	st->out_off = 0;
	prd.source.ptr = st;
	prd.read_callback = sv_body_cb;
	nghttp2_submit_response(sv.s, st->id, nv, 2, body != NULL ? &prd :
	    NULL);
}

/* The request is in: answer by path. */
static void
sv_request(struct srv_stream *st)
{
	static const uint8_t hello[] = "hello";

	if (strcmp(st->path, "/ok") == 0)
		sv_respond(st, "200", hello, 5);
	else if (strcmp(st->path, "/interim") == 0) {
		nghttp2_nv nv = { (uint8_t *)":status", (uint8_t *)"103", 7,
		    3, NGHTTP2_NV_FLAG_NONE };
		nghttp2_nv link = { (uint8_t *)"link", (uint8_t *)"</x>", 4,
		    4, NGHTTP2_NV_FLAG_NONE };
		nghttp2_nv both[2];

		both[0] = nv;
		both[1] = link;
		nghttp2_submit_headers(sv.s, NGHTTP2_FLAG_NONE, st->id, NULL,
		    both, 2, NULL);
		sv_respond(st, "200", hello, 5);
	} else if (strcmp(st->path, "/echo") == 0)
		sv_respond(st, "201", st->body, st->body_len);
	else if (strcmp(st->path, "/big") == 0)
		sv_respond(st, "200", big, sizeof(big));
	else if (strcmp(st->path, "/empty") == 0)
		sv_respond(st, "204", NULL, 0);
	else if (strcmp(st->path, "/reset") == 0)
		nghttp2_submit_rst_stream(sv.s, NGHTTP2_FLAG_NONE, st->id,
		    NGHTTP2_INTERNAL_ERROR);
	else if (strcmp(st->path, "/badstatus") == 0)
		sv_respond(st, "2x0", hello, 5);
	else if (strcmp(st->path, "/longstatus") == 0)
		sv_respond(st, "2000", hello, 5);
	else if (strcmp(st->path, "/cut") == 0) {
		/* a body without END_STREAM, then RST_STREAM(NO_ERROR) */
		st->no_end = 1;
		sv_respond(st, "200", big, 1000);
	}
	/* "/slow": no answer until the test gives one */
}

static int
sv_header_cb(nghttp2_session *s, const nghttp2_frame *frame,
    const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    uint8_t flags, void *arg)
{
	struct srv_stream *st;

	(void)s;
	(void)flags;
	(void)arg;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    (st = sv_stream(frame->hd.stream_id)) == NULL)
		return 0;
	if (nlen == 5 && memcmp(name, ":path", 5) == 0)
		snprintf(st->path, sizeof(st->path), "%.*s", (int)vlen, value);
	return 0;
}

static int
sv_data_cb(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct srv_stream *st = sv_stream(id);

	(void)s;
	(void)flags;
	(void)arg;
	if (st != NULL && len <= sizeof(st->body) - st->body_len) {
		memcpy(st->body + st->body_len, data, len);
		st->body_len += len;
	}
	return 0;
}

static int
sv_frame_cb(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct srv_stream *st;

	(void)s;
	(void)arg;
	if ((st = sv_stream(frame->hd.stream_id)) == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_RST_STREAM)
		st->rst_code = frame->rst_stream.error_code + 1;
	else if ((frame->hd.type == NGHTTP2_HEADERS ||
	    frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		sv_request(st);
	return 0;
}

static void
sv_listen(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&sv, 0, sizeof(sv));
	sv.fd = -1;
	sv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sv.lfd == -1 || bind(sv.lfd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || listen(sv.lfd, 8) == -1 ||
	    getsockname(sv.lfd, (struct sockaddr *)&sin, &len) == -1) {
		perror("listen");
		exit(1);
	}
	sv.port = ntohs(sin.sin_port);
}

/* Drops the connection (no GOAWAY, no close_notify). */
static void
sv_drop(void)
{
	nghttp2_session_del(sv.s);
	sv.s = NULL;
	tls_conn_free(sv.tls);
	sv.tls = NULL;
	if (sv.fd != -1)
		close(sv.fd);
	sv.fd = -1;
	sv.tls_done = 0;
	sv.pend_len = 0;
}

static void
sv_close(void)
{
	sv_drop();
	if (sv.lfd != -1)
		close(sv.lfd);
	sv.lfd = -1;
}

static void
sv_session(void)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv = {
		NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100,
	};

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, sv_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    sv_data_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, sv_frame_cb);
	nghttp2_session_server_new(&sv.s, cb, NULL);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(sv.s, NGHTTP2_FLAG_NONE, &iv, 1);
}

/* Resets the streams whose body went out without END_STREAM. */
static int
sv_cut(void)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < sv.nst; i++) {
		struct srv_stream *st = &sv.st[i];

		if (st->no_end && !st->rst_sent && st->out_off == st->out_len) {
			st->rst_sent = 1;
			nghttp2_submit_rst_stream(sv.s, NGHTTP2_FLAG_NONE,
			    st->id, NGHTTP2_NO_ERROR);
			n++;
		}
	}
	return n;
}

/* Moves what can move now: accept, handshake, read, answer, write. */
static void
sv_step(void)
{
	uint8_t	 buf[16384];
	const uint8_t *d;
	ssize_t	 n;
	int	 fd;

	if (sv.fd == -1 && sv.lfd != -1) {
		fd = accept4(sv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		sv.fd = fd;
		sv.tls = tls_conn_accept(tls_srv, fd);
		sv.connections++;
	}
	if (sv.fd == -1)
		return;
	if (!sv.tls_done) {
		n = tls_conn_handshake(sv.tls);
		if (n == 1) {
			sv.tls_done = 1;
			if (tls_conn_alpn(sv.tls) != TLS_ALPN_H2) {
				sv_drop();
				return;
			}
			sv_session();
		} else {
			if (n == TLS_ERROR)
				sv_drop();
			return;
		}
	}
	while ((n = tls_conn_read(sv.tls, buf, sizeof(buf))) > 0)
		if (nghttp2_session_mem_recv(sv.s, buf, (size_t)n) < 0) {
			sv_drop();
			return;
		}
	if (n == TLS_CLOSED || n == TLS_ERROR) {
		sv_drop();
		return;
	}
	for (;;) {
		if (sv.pend_len > 0) {
			n = tls_conn_write(sv.tls, sv.pend, sv.pend_len);
			if (n <= 0)
				return;
			memmove(sv.pend, sv.pend + n, sv.pend_len - (size_t)n);
			sv.pend_len -= (size_t)n;
			continue;
		}
		n = nghttp2_session_mem_send(sv.s, &d);
		if (n == 0 && sv_cut())
			continue;
		if (n <= 0 || (size_t)n > sizeof(sv.pend))
			return;
		memcpy(sv.pend, d, (size_t)n);
		sv.pend_len = (size_t)n;
	}
}

/* The client's side -------------------------------------------------------- */

struct call {
	char	 hdrs[1024];	/* "name: value\n" each */
	uint8_t	 body[sizeof(big)];
	size_t	 body_len;
	int	 done;		/* on_done calls */
	int	 status, err;
	size_t	 stop_after;	/* on_data cancels past this (0: never) */
};

static void
on_header(void *arg, const char *name, const char *value)
{
	struct call *c = arg;
	size_t	 n = strlen(c->hdrs);

	snprintf(c->hdrs + n, sizeof(c->hdrs) - n, "%s: %s\n", name, value);
}

static int
on_data(void *arg, const uint8_t *p, size_t len)
{
	struct call *c = arg;

	if (len <= sizeof(c->body) - c->body_len) {
		memcpy(c->body + c->body_len, p, len);
		c->body_len += len;
	}
	return c->stop_after > 0 && c->body_len >= c->stop_after;
}

static void
on_done(void *arg, int status, int err)
{
	struct call *c = arg;

	c->done++;
	c->status = status;
	c->err = err;
}

static struct h2c_req_cb
cb_of(struct call *c)
{
	struct h2c_req_cb cb = { on_header, on_data, on_done, c };

	memset(c, 0, sizeof(*c));
	return cb;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Runs client and server in turn until cond(arg) holds (cond NULL: until
 * the client dies) or ms pass.  Returns the client's last h2c_wait
 * result (-1: dead).
 */
static int
run_until(struct h2c *c, int (*cond)(const void *), const void *arg,
    int ms)
{
	int64_t	 deadline = mono_ms() + ms;
	int	 rc = 0;

	while (mono_ms() < deadline) {
		rc = h2c_wait(c, 2);
		sv_step();
		if (rc == -1 || (cond != NULL && cond(arg)))
			break;
	}
	return rc;
}

static int
is_done(const void *arg)
{
	return ((const struct call *)arg)->done > 0;
}

/* The server has the whole request of stream *id. */
static int
sv_has(const void *arg)
{
	const struct srv_stream *st = sv_find(*(const int32_t *)arg);

	return st != NULL && st->path[0] != '\0';
}

/* The client reset stream *id. */
static int
sv_reset(const void *arg)
{
	const struct srv_stream *st = sv_find(*(const int32_t *)arg);

	return st != NULL && st->rst_code != 0;
}

#define RUN_DONE(c, call)	run_until((c), is_done, (call), 5000)
#define RUN_DEAD(c)		run_until((c), NULL, NULL, 5000)

/* A client of the test server; NULL on failure. */
static struct h2c *
client(const char *ca, unsigned port, struct tls_client **tc)
{
	struct h2c_url url;
	char	 u[64];

	snprintf(u, sizeof(u), "https://127.0.0.1:%u/", port);
	if (h2c_url_parse(u, &url) != 0)
		return NULL;
	if ((*tc = tls_client_new(certs_path(dir, ca), 1)) == NULL)
		return NULL;
	return h2c_new(*tc, &url);
}

/* Tests -------------------------------------------------------------------- */

static void
test_url_parse(void)
{
	static const struct {
		const char *url;
		int	 ok;
		const char *host;
		unsigned port;
		const char *path, *authority;
	} cases[] = {
		{ "https://example.org", 1, "example.org", 443, "/",
		  "example.org" },
		{ "https://example.org/", 1, "example.org", 443, "/",
		  "example.org" },
		{ "HTTPS://example.org:8443/a/b?c=d#frag", 1, "example.org",
		  8443, "/a/b?c=d", "example.org:8443" },
		{ "https://example.org?q", 1, "example.org", 443, "/?q",
		  "example.org" },
		{ "https://example.org#f", 1, "example.org", 443, "/",
		  "example.org" },
		{ "https://10.0.0.1:1/x", 1, "10.0.0.1", 1, "/x",
		  "10.0.0.1:1" },
		{ "https://[::1]:8443/x", 1, "::1", 8443, "/x", "[::1]:8443" },
		{ "https://[::1]/", 1, "::1", 443, "/", "[::1]" },
		{ "http://example.org/", 0, NULL, 0, NULL, NULL },
		{ "ftp://example.org/", 0, NULL, 0, NULL, NULL },
		{ "https://", 0, NULL, 0, NULL, NULL },
		{ "https:///path", 0, NULL, 0, NULL, NULL },
		{ "https://:443/", 0, NULL, 0, NULL, NULL },
		{ "https://h:0/", 0, NULL, 0, NULL, NULL },
		{ "https://h:65536/", 0, NULL, 0, NULL, NULL },
		{ "https://h:99999999999999999999/", 0, NULL, 0, NULL, NULL },
		{ "https://h:/", 0, NULL, 0, NULL, NULL },
		{ "https://h:12a/", 0, NULL, 0, NULL, NULL },
		{ "https://h:-1/", 0, NULL, 0, NULL, NULL },
		{ "https://user@h/", 0, NULL, 0, NULL, NULL },
		{ "https://[::1/", 0, NULL, 0, NULL, NULL },
		{ "https://[]/", 0, NULL, 0, NULL, NULL },
		{ "https://[::1]x/", 0, NULL, 0, NULL, NULL },
		{ "", 0, NULL, 0, NULL, NULL },
	};
	struct h2c_url u;
	char	 longhost[400], longpath[1200];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int	 rc = h2c_url_parse(cases[i].url, &u);

		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "url %s: %d\n", cases[i].url, rc);
		T_EQ_INT(rc == 0, cases[i].ok);
		if (rc != 0 || !cases[i].ok)
			continue;
		T_EQ_STR(u.host, cases[i].host);
		T_EQ_INT(u.port, cases[i].port);
		T_EQ_STR(u.path, cases[i].path);
		T_EQ_STR(u.authority, cases[i].authority);
	}
	T_EQ_INT(h2c_url_parse(NULL, &u), -1);
	/* a host or path longer than the struct holds */
	memset(longhost, 'h', sizeof(longhost));
	memcpy(longhost, "https://", 8);
	longhost[sizeof(longhost) - 1] = '\0';
	T_EQ_INT(h2c_url_parse(longhost, &u), -1);
	snprintf(longhost, sizeof(longhost), "https://[%0300d]/", 1);
	T_EQ_INT(h2c_url_parse(longhost, &u), -1);
	memset(longpath, 'p', sizeof(longpath));
	memcpy(longpath, "https://h/", 10);
	longpath[sizeof(longpath) - 1] = '\0';
	T_EQ_INT(h2c_url_parse(longpath, &u), -1);
}

static void
test_get(void)
{
	struct tls_client *tc = NULL;
	struct h2c *c;
	struct call a, b, e;
	struct h2c_req_cb ca = cb_of(&a), cbb = cb_of(&b), ce = cb_of(&e);
	struct h2c_header hdr = { "x-ask", "1" };

	sv_listen();
	c = client("ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	T_EQ_INT(h2c_ready(c), 0);
	T_CHECK(h2c_fd(c) >= 0);
	/* submitted before the connection is up: they wait */
	T_CHECK(h2c_request(c, "GET", "/ok", &hdr, 1, NULL, 0, &ca) > 0);
	T_CHECK(h2c_request(c, "GET", "/interim", NULL, 0, NULL, 0,
	    &cbb) > 0);
	T_CHECK(h2c_request(c, "GET", "/empty", NULL, 0, NULL, 0, &ce) > 0);
	RUN_DONE(c, &e);
	RUN_DONE(c, &b);
	RUN_DONE(c, &a);
	T_EQ_INT(h2c_ready(c), 1);
	T_EQ_INT(a.done, 1);
	T_EQ_INT(a.status, 200);
	T_EQ_INT(a.err, 0);
	T_CHECK(a.body_len == 5 && memcmp(a.body, "hello", 5) == 0);
	T_CHECK(strstr(a.hdrs, ":status: 200\nx-test: yes\n") != NULL);
	/* a 103 first: its fields, then the final answer's */
	T_EQ_INT(b.done, 1);
	T_EQ_INT(b.status, 200);
	T_EQ_STR(b.hdrs, ":status: 103\nlink: </x>\n:status: 200\n"
	    "x-test: yes\n");
	T_CHECK(b.body_len == 5 && memcmp(b.body, "hello", 5) == 0);
	T_EQ_INT(e.status, 204);
	T_EQ_INT(e.body_len, 0);
	T_EQ_INT(sv.connections, 1);
	T_EQ_STR(h2c_error(c), "no error");
out:
	h2c_free(c);
	tls_client_free(tc);
	sv_close();
}

static void
test_bodies(void)
{
	static uint8_t body[40000];
	struct tls_client *tc = NULL;
	struct h2c *c;
	struct call a, b;
	struct h2c_req_cb ca = cb_of(&a), cbb = cb_of(&b);
	size_t	 i;

	for (i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i % 251);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + i / 7);
	sv_listen();
	c = client("ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	/* a request body, echoed */
	T_CHECK(h2c_request(c, "POST", "/echo", NULL, 0, body, sizeof(body),
	    &ca) > 0);
	/* more than nghttp2's default window: flow control */
	T_CHECK(h2c_request(c, "GET", "/big", NULL, 0, NULL, 0, &cbb) > 0);
	RUN_DONE(c, &a);
	RUN_DONE(c, &b);
	T_EQ_INT(a.status, 201);
	T_CHECK(a.body_len == sizeof(body) &&
	    memcmp(a.body, body, sizeof(body)) == 0);
	T_EQ_INT(b.status, 200);
	T_EQ_INT(b.err, 0);
	T_CHECK(b.body_len == sizeof(big) &&
	    memcmp(b.body, big, sizeof(big)) == 0);
out:
	h2c_free(c);
	tls_client_free(tc);
	sv_close();
}

static void
test_resets(void)
{
	struct tls_client *tc = NULL;
	struct h2c *c;
	struct call a, b, d, e, f, g;
	struct h2c_req_cb ca = cb_of(&a), cbb = cb_of(&b), cd = cb_of(&d);
	struct h2c_req_cb ce = cb_of(&e), cg = cb_of(&g), cf = cb_of(&f);
	struct srv_stream *st;
	int32_t	 slow, cut;

	sv_listen();
	c = client("ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	/* the server resets the stream: done, with an error, no status */
	T_CHECK(h2c_request(c, "GET", "/reset", NULL, 0, NULL, 0, &ca) > 0);
	RUN_DONE(c, &a);
	T_EQ_INT(a.done, 1);
	T_EQ_INT(a.status, 0);
	T_EQ_INT(a.err, 1);
	/* a :status that is no status: the stream is reset */
	T_CHECK(h2c_request(c, "GET", "/badstatus", NULL, 0, NULL, 0,
	    &cbb) > 0);
	T_CHECK(h2c_request(c, "GET", "/longstatus", NULL, 0, NULL, 0,
	    &cd) > 0);
	RUN_DONE(c, &b);
	RUN_DONE(c, &d);
	T_CHECK(b.done == 1 && b.err == 1 && b.body_len == 0);
	T_CHECK(d.done == 1 && d.err == 1 && d.body_len == 0);
	T_EQ_INT(h2c_ready(c), 1);	/* the connection goes on */
	/*
	 * A body cut short by RST_STREAM(NO_ERROR) is no complete response,
	 * whatever the code says (RFC 9113 8.1 allows NO_ERROR only once the
	 * response is complete).
	 */
	T_CHECK(h2c_request(c, "GET", "/cut", NULL, 0, NULL, 0, &cf) > 0);
	RUN_DONE(c, &f);
	T_EQ_INT(f.done, 1);
	T_EQ_INT(f.body_len, 1000);
	T_EQ_INT(f.err, 1);

	/* cancelled by the caller: no more callbacks, the server told */
	slow = h2c_request(c, "GET", "/slow", NULL, 0, NULL, 0, &ce);
	T_CHECK(slow > 0);
	run_until(c, sv_has, &slow, 5000);
	T_CHECK(sv_has(&slow));
	T_EQ_INT(e.done, 0);
	h2c_cancel(c, slow);
	h2c_cancel(c, slow);	/* twice: nothing more */
	h2c_cancel(c, 9999);	/* no such stream */
	h2c_cancel(NULL, 1);
	run_until(c, sv_reset, &slow, 5000);
	st = sv_find(slow);
	T_CHECK(st != NULL && st->rst_code == NGHTTP2_CANCEL + 1);
	run_until(c, NULL, NULL, 50);	/* a moment: no late callback */
	T_EQ_INT(e.done, 0);
	/* cancelled by its on_data */
	g.stop_after = 1;
	cut = h2c_request(c, "GET", "/big", NULL, 0, NULL, 0, &cg);
	T_CHECK(cut > 0);
	run_until(c, sv_reset, &cut, 5000);
	run_until(c, NULL, NULL, 50);
	T_EQ_INT(g.done, 0);
	T_CHECK(g.body_len > 0 && g.body_len < sizeof(big));
	st = sv_find(cut);
	T_CHECK(st != NULL && st->rst_code == NGHTTP2_CANCEL + 1);
	T_EQ_INT(h2c_ready(c), 1);
out:
	h2c_free(c);
	tls_client_free(tc);
	sv_close();
}

static void
test_goaway(void)
{
	struct tls_client *tc = NULL;
	struct h2c *c;
	struct call a, b;
	struct h2c_req_cb ca = cb_of(&a), cbb = cb_of(&b);
	struct srv_stream *st;
	int32_t	 id;

	/* GOAWAY that did not process the stream: refused, then dead */
	sv_listen();
	c = client("ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	id = h2c_request(c, "GET", "/slow", NULL, 0, NULL, 0, &ca);
	T_CHECK(id > 0);
	run_until(c, sv_has, &id, 5000);
	T_EQ_INT(a.done, 0);
	nghttp2_submit_goaway(sv.s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR,
	    NULL, 0);
	T_EQ_INT(RUN_DEAD(c), -1);
	T_EQ_INT(a.done, 1);
	T_EQ_INT(a.status, 0);
	T_EQ_INT(a.err, 1);
	T_CHECK(strstr(h2c_error(c), "GOAWAY") != NULL);
	T_EQ_INT(h2c_ready(c), 0);
	T_EQ_INT(h2c_events(c), 0);
	T_EQ_INT(h2c_request(c, "GET", "/ok", NULL, 0, NULL, 0, &cbb), -1);
	T_EQ_INT(h2c_wait(c, 0), -1);
	h2c_free(c);
	tls_client_free(tc);
	c = NULL;
	tc = NULL;
	sv_close();

	/* GOAWAY after the stream: it completes, then the end */
	sv_listen();
	ca = cb_of(&a);
	c = client("ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	id = h2c_request(c, "GET", "/slow", NULL, 0, NULL, 0, &ca);
	run_until(c, sv_has, &id, 5000);
	nghttp2_submit_goaway(sv.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR,
	    NULL, 0);
	st = sv_find(id);
	T_CHECK(st != NULL);
	if (st != NULL)
		sv_respond(st, "200", (const uint8_t *)"late", 4);
	T_EQ_INT(RUN_DEAD(c), -1);
	T_EQ_INT(a.done, 1);
	T_EQ_INT(a.status, 200);
	T_EQ_INT(a.err, 0);
	T_CHECK(a.body_len == 4 && memcmp(a.body, "late", 4) == 0);
	T_CHECK(strstr(h2c_error(c), "GOAWAY") != NULL);
out:
	h2c_free(c);
	tls_client_free(tc);
	sv_close();
}

static void
test_failures(void)
{
	struct tls_client *tc = NULL;
	struct h2c *c;
	struct call a;
	struct h2c_req_cb ca = cb_of(&a);
	unsigned port;
	int32_t	 id;

	/* the server goes away without a word */
	sv_listen();
	c = client("ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	id = h2c_request(c, "GET", "/slow", NULL, 0, NULL, 0, &ca);
	T_CHECK(id > 0);
	run_until(c, sv_has, &id, 5000);
	sv_drop();
	T_EQ_INT(RUN_DEAD(c), -1);
	T_EQ_INT(a.done, 0);	/* a dead connection calls nobody back */
	T_CHECK(strstr(h2c_error(c), "closed by the server") != NULL ||
	    strstr(h2c_error(c), "TLS read failed") != NULL);
	h2c_free(c);
	tls_client_free(tc);
	c = NULL;
	tc = NULL;

	/* a certificate from another CA */
	c = client("other-ca.pem", sv.port, &tc);
	T_CHECK(c != NULL);
	if (c == NULL)
		goto out;
	T_EQ_INT(RUN_DEAD(c), -1);
	T_CHECK(strstr(h2c_error(c), "TLS handshake") != NULL);
	h2c_free(c);
	tls_client_free(tc);
	c = NULL;
	tc = NULL;
	port = sv.port;
	sv_close();

	/* nobody listens any more */
	c = client("ca.pem", port, &tc);
	if (c != NULL) {
		T_EQ_INT(RUN_DEAD(c), -1);
		T_CHECK(strstr(h2c_error(c), "connect") != NULL);
		if (strstr(h2c_error(c), "connect") == NULL)
			fprintf(stderr, "refused: %s\n", h2c_error(c));
	}
out:
	h2c_free(c);
	h2c_free(NULL);
	tls_client_free(tc);
	sv_close();
}

int
main(void)
{
	log_init("test_h2client", 1, LOG_LEVEL_WARN);
	t_tmpdir_make(dir, sizeof(dir), "h2client");
	if (certs_make(dir) == -1 || (tls_srv = tls_server_new(
	    certs_path(dir, "server.pem"), certs_path(dir, "server.key"),
	    NULL)) == NULL) {
		t_tmpdir_remove(dir);
		return 1;
	}
	sv.lfd = sv.fd = -1;

	T_RUN(test_url_parse);
	T_RUN(test_get);
	T_RUN(test_bodies);
	T_RUN(test_resets);
	T_RUN(test_goaway);
	T_RUN(test_failures);

	tls_server_free(tls_srv);
	t_tmpdir_remove(dir);
	return t_done();
}
