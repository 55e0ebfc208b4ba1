/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_h1.c: the HTTP/1.1 request path, from the bytes TLS hands over to
 * the handler (src/http/h1.c and the request half of src/http/server.c),
 * as the device and admin listeners both run it.
 *
 * The input is what a client sends on one connection, after TLS.  The
 * first byte says where it is cut into reads (its low bits pick a chunk
 * size of 1 to 64 bytes, or all at once), since a parser must give the
 * same requests whatever the reads look like.  The connection is a
 * detached one (conn.h): no socket, no TLS, its output kept queued.
 * Between reads the target runs h1_produce, as the server does after
 * every read.
 *
 * The handler is the target's own: it checks what the request path
 * promises every handler (a method and a path that starts with '/',
 * header names that are tokens, header values without CR, LF or NUL, a
 * body no longer than max_body for buffered requests) and answers 200
 * with a small body; requests for /stream are streamed (as firmware
 * uploads are), /respond are answered before the body (as refusals are).
 * Beyond that every queued piece of output must be a whole number of
 * responses that start with "HTTP/1.1 " and a three-digit status.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "ev.h"
#include "fuzz.h"
#include "httpcheck.h"
#include "http/conn.h"
#include "http/http.h"

#define FUZZ_H1_MAX_BODY	4096

static struct ev *ev;
static struct http_server *srv;
static size_t requests;

static const int version = 11;	/* httpcheck.h's handler arg */

static void
on_request(void *arg, struct http_req *r, struct http_resp *rs)
{
	const uint8_t *body;
	size_t len = 0;

	(void)arg;
	fuzz_http_check(r, version);
	requests++;
	body = http_req_body(r, &len);
	if (strcmp(http_req_path(r), "/stream") != 0)
		FUZZ_ASSERT(len <= FUZZ_H1_MAX_BODY);
	FUZZ_ASSERT(len == 0 || body != NULL);
	http_resp_status(rs, 200);
	http_resp_header(rs, "Content-Type", "text/plain");
	http_resp_body_copy(rs, "ok\n", 3);
}

static void
setup(void)
{
	static const struct http_handler h = {
		.on_headers = fuzz_http_on_headers,
		.on_body = fuzz_http_on_body,
		.on_request = on_request,
		.arg = (void *)&version,
	};
	struct http_limits lim;

	fuzz_quiet();
	memset(&lim, 0, sizeof(lim));
	lim.max_body = FUZZ_H1_MAX_BODY;
	lim.max_header_bytes = 8192;
	if ((ev = ev_new()) == NULL ||
	    (srv = http_server_new(ev, NULL, 0, NULL, &lim, &h, "fuzz")) ==
	    NULL)
		abort();
}

static size_t
pieces(const struct http_conn *c)
{
	const uint8_t *p;
	size_t i = 0;

	while (http_conn_output(c, &p, i) > 0)
		i++;
	return i;
}

/* Every response starts "HTTP/1.1 NNN " at the start of a piece. */
static void
check_output(struct http_conn *c)
{
	const uint8_t *p;
	size_t i, len, heads = 0;

	for (i = 0; (len = http_conn_output(c, &p, i)) > 0; i++) {
		if (len >= 9 && memcmp(p, "HTTP/1.1 ", 9) == 0) {
			FUZZ_ASSERT(len >= 13 && isdigit(p[9]) &&
			    isdigit(p[10]) && isdigit(p[11]) && p[12] == ' ');
			heads++;
		}
	}
	FUZZ_ASSERT(i == 0 || heads > 0);
}

FUZZ_TARGET(h1)
{
	struct http_conn *c;
	size_t off = 1, chunk, n;
	int rc = 0;

	if (srv == NULL)
		setup();
	if (size == 0)
		return 0;
	chunk = (data[0] & 0x40) ? size : (size_t)(data[0] & 0x3f) + 1;
	if ((c = http_conn_new_detached(srv, 0)) == NULL)
		abort();
	requests = 0;
	while (off < size && rc != -1) {
		n = size - off < chunk ? size - off : chunk;
		rc = h1_recv(c, data + off, n);
		off += n;
		if (rc != -1)
			rc = h1_produce(c);
	}
	/* Pipelined requests wait for the output to drain: let them run. */
	for (n = 0; rc != -1 && n < 256; n++) {
		size_t before = pieces(c);

		rc = h1_produce(c);
		if (pieces(c) == before)
			break;
	}
	check_output(c);
	http_conn_free_detached(c);
	return 0;
}
