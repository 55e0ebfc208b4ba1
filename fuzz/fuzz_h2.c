/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_h2.c: the HTTP/2 request path, from the frames a client sends
 * after TLS to the handler (src/http/h2.c over nghttp2, and the request
 * half of src/http/server.c), as the device and admin listeners run it.
 *
 * The input is the first byte, which says where the rest is cut into
 * reads (its low bits pick a chunk size of 1 to 64 bytes, or all at
 * once), then what the client sends after its connection preface, which
 * the target sends first so that the fuzzer spends its time on frames.
 * The connection is a detached one (conn.h).  Before each read the
 * target completes the requests deferred so far, and after it runs
 * h2_produce, as the server does after every read.
 *
 * The handler is the target's own: it checks what the request path
 * promises every handler (a method that is a token, a path that starts
 * with '/', header names that are lowercase tokens, values without CR, LF
 * or NUL, a buffered body no longer than max_body) and answers 200 with
 * a small body; /stream is streamed (as firmware uploads are), /respond
 * answered before its body (as refusals are), /defer deferred and
 * completed at the next read, if any (as long polls are).  What the server
 * wrote must be whole frames, its SETTINGS first, nothing on a stream the
 * client did not open, and every header block it sends must decode
 * (HPACK) to a response whose first field is a three-digit :status.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "ev.h"
#include "fuzz.h"
#include "httpcheck.h"
#include "http/conn.h"
#include "http/http.h"

#define FUZZ_H2_MAX_BODY	4096
#define FUZZ_H2_DEFERRED	16

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static struct ev *ev;
static struct http_server *srv;
static struct http_req *deferred[FUZZ_H2_DEFERRED];

static const int version = 2;	/* httpcheck.h's handler arg */

static void
answer(struct http_resp *rs)
{
	http_resp_status(rs, 200);
	http_resp_header(rs, "Content-Type", "text/plain");
	http_resp_body_copy(rs, "ok\n", 3);
}

static void
on_request(void *arg, struct http_req *r, struct http_resp *rs)
{
	const uint8_t *body;
	size_t i, len = 0;

	(void)arg;
	fuzz_http_check(r, version);
	body = http_req_body(r, &len);
	if (strcmp(http_req_path(r), "/stream") != 0)
		FUZZ_ASSERT(len <= FUZZ_H2_MAX_BODY);
	FUZZ_ASSERT(len == 0 || body != NULL);
	if (strcmp(http_req_path(r), "/defer") == 0) {
		for (i = 0; i < FUZZ_H2_DEFERRED; i++)
			if (deferred[i] == NULL) {
				deferred[i] = r;
				http_req_defer(r);
				return;
			}
	}
	answer(rs);
}

static void
on_close(void *arg, struct http_req *r)
{
	size_t i;

	(void)arg;
	for (i = 0; i < FUZZ_H2_DEFERRED; i++)
		if (deferred[i] == r)
			deferred[i] = NULL;
}

static void
complete_deferred(void)
{
	size_t i;
	struct http_req *r;

	for (i = 0; i < FUZZ_H2_DEFERRED; i++) {
		if ((r = deferred[i]) == NULL)
			continue;
		deferred[i] = NULL;
		answer(http_req_resp(r));
		http_req_complete(r);
	}
}

static void
setup(void)
{
	static const struct http_handler h = {
		.on_headers = fuzz_http_on_headers,
		.on_body = fuzz_http_on_body,
		.on_request = on_request,
		.on_close = on_close,
		.arg = (void *)&version,
	};
	struct http_limits lim;

	fuzz_quiet();
	memset(&lim, 0, sizeof(lim));
	lim.max_body = FUZZ_H2_MAX_BODY;
	lim.max_header_bytes = 8192;
	lim.max_streams = 8;
	if ((ev = ev_new()) == NULL ||
	    (srv = http_server_new(ev, NULL, 0, NULL, &lim, &h, "fuzz")) ==
	    NULL)
		abort();
}

/* The server's output so far, in one buffer the caller frees. */
static uint8_t *
output(const struct http_conn *c, size_t *lenp)
{
	const uint8_t *p;
	uint8_t	*buf = NULL, *nb;
	size_t	 i, n, len = 0;

	for (i = 0; (n = http_conn_output(c, &p, i)) > 0; i++) {
		if ((nb = realloc(buf, len + n)) == NULL)
			abort();
		buf = nb;
		memcpy(buf + len, p, n);
		len += n;
	}
	*lenp = len;
	return buf;
}

/* Decodes one header block: its first field must be a :status NNN. */
static void
check_block(nghttp2_hd_inflater *inf, const uint8_t *p, size_t len)
{
	nghttp2_nv nv;
	ssize_t	 n;
	int	 flags, fields = 0;

	for (;;) {
		flags = 0;
		n = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, len, 1);
		FUZZ_ASSERT(n >= 0);
		p += n;
		len -= (size_t)n;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			if (fields++ == 0)
				FUZZ_ASSERT(nv.namelen == 7 &&
				    memcmp(nv.name, ":status", 7) == 0 &&
				    nv.valuelen == 3 && isdigit(nv.value[0]) &&
				    isdigit(nv.value[1]) &&
				    isdigit(nv.value[2]));
			else
				FUZZ_ASSERT(nv.namelen > 0 &&
				    nv.name[0] != ':');
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		FUZZ_ASSERT(n > 0 || (flags & NGHTTP2_HD_INFLATE_EMIT));
	}
	nghttp2_hd_inflate_end_headers(inf);
	FUZZ_ASSERT(fields > 0 && len == 0);
}

/*
 * Whole frames, SETTINGS first; HEADERS (with its CONTINUATIONs), DATA
 * and RST_STREAM only on odd streams the client may have opened.
 */
static void
check_output(const struct http_conn *c)
{
	nghttp2_hd_inflater *inf;
	uint8_t	*out, *block = NULL, *nb;
	size_t	 len, off = 0, blen = 0, flen;
	uint32_t sid;
	int	 type, flags, in_block = 0;

	out = output(c, &len);
	if (len == 0)
		return;
	if (nghttp2_hd_inflate_new(&inf) != 0)
		abort();
	FUZZ_ASSERT(len >= 9 && out[3] == NGHTTP2_SETTINGS);
	while (off < len) {
		FUZZ_ASSERT(len - off >= 9);
		flen = (size_t)out[off] << 16 | (size_t)out[off + 1] << 8 |
		    out[off + 2];
		type = out[off + 3];
		flags = out[off + 4];
		sid = ((uint32_t)out[off + 5] << 24 | (uint32_t)out[off + 6] <<
		    16 | (uint32_t)out[off + 7] << 8 | out[off + 8]) &
		    0x7fffffffu;
		FUZZ_ASSERT(len - off - 9 >= flen);
		FUZZ_ASSERT(in_block == (type == NGHTTP2_CONTINUATION));
		if (type == NGHTTP2_HEADERS || type == NGHTTP2_DATA ||
		    type == NGHTTP2_RST_STREAM || type == NGHTTP2_CONTINUATION)
			FUZZ_ASSERT(sid % 2 == 1);
		else
			FUZZ_ASSERT(type == NGHTTP2_SETTINGS ||
			    type == NGHTTP2_PING || type == NGHTTP2_GOAWAY ||
			    type == NGHTTP2_WINDOW_UPDATE);
		if (type == NGHTTP2_HEADERS || type == NGHTTP2_CONTINUATION) {
			/* no padding or priority: nghttp2 sends neither */
			FUZZ_ASSERT((flags & (NGHTTP2_FLAG_PADDED |
			    NGHTTP2_FLAG_PRIORITY)) == 0);
			if ((nb = realloc(block, blen + flen + 1)) == NULL)
				abort();
			block = nb;
			memcpy(block + blen, out + off + 9, flen);
			blen += flen;
			in_block = !(flags & NGHTTP2_FLAG_END_HEADERS);
			if (!in_block) {
				check_block(inf, block, blen);
				blen = 0;
			}
		}
		off += 9 + flen;
	}
	FUZZ_ASSERT(!in_block);
	nghttp2_hd_inflate_del(inf);
	free(block);
	free(out);
}

FUZZ_TARGET(h2)
{
	struct http_conn *c;
	size_t off = 1, chunk, n;
	int rc;

	if (srv == NULL)
		setup();
	if (size == 0)
		return 0;
	chunk = (data[0] & 0x40) ? size : (size_t)(data[0] & 0x3f) + 1;
	if ((c = http_conn_new_detached(srv, 1)) == NULL)
		abort();
	rc = h2_recv(c, (const uint8_t *)preface, sizeof(preface) - 1);
	FUZZ_ASSERT(rc == 0);
	while (off < size && rc != -1) {
		n = size - off < chunk ? size - off : chunk;
		complete_deferred();
		rc = h2_recv(c, data + off, n);
		off += n;
		if (h2_produce(c) == -1)
			rc = -1;
	}
	check_output(c);
	http_conn_free_detached(c);
	for (n = 0; n < FUZZ_H2_DEFERRED; n++)
		FUZZ_ASSERT(deferred[n] == NULL);
	return 0;
}
