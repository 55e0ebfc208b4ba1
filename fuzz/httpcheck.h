/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * httpcheck.h: the handler the HTTP/1.1 and HTTP/2 request path targets
 * share (fuzz_h1.c, fuzz_h2.c).  It checks what the request path
 * promises every handler: a method that is a token, a path that starts
 * with '/', header names that are tokens (lowercase over HTTP/2), values
 * without CR or LF, the protocol's version.  /stream is streamed (as
 * uploads are), /respond answered 403 before its body (as refusals are),
 * anything else buffered.  The handler's arg points to the version the
 * target expects (11 or 2).
 */
#ifndef OTAGW_FUZZ_HTTPCHECK_H
#define OTAGW_FUZZ_HTTPCHECK_H

#include <string.h>

#include "fuzz.h"
#include "http/conn.h"
#include "http/http.h"

static inline void
fuzz_http_check(struct http_req *r, int version)
{
	size_t	 i;

	FUZZ_ASSERT(http_req_method(r) != NULL &&
	    fuzz_is_token(http_req_method(r), 0));
	FUZZ_ASSERT(http_req_path(r) != NULL && http_req_path(r)[0] == '/');
	FUZZ_ASSERT(http_req_query(r) != NULL);
	FUZZ_ASSERT(http_req_version(r) == version);
	for (i = 0; i < r->nhdrs; i++) {
		FUZZ_ASSERT(fuzz_is_token(r->hdrs[i].name, version == 2));
		FUZZ_ASSERT(strpbrk(r->hdrs[i].value, "\r\n") == NULL);
	}
}

static inline int
fuzz_http_on_headers(void *arg, struct http_req *r, struct http_resp *rs)
{
	fuzz_http_check(r, *(const int *)arg);
	if (strcmp(http_req_path(r), "/stream") == 0)
		return HTTP_STREAM;
	if (strcmp(http_req_path(r), "/respond") == 0) {
		http_resp_status(rs, 403);
		return HTTP_RESPOND;
	}
	return HTTP_BUFFER;
}

static inline int
fuzz_http_on_body(void *arg, struct http_req *r, const uint8_t *p,
    size_t len)
{
	(void)arg;
	(void)r;
	FUZZ_ASSERT(p != NULL || len == 0);
	return 0;
}

#endif
