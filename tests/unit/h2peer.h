/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * h2peer.h: an HTTP/2 client in memory, for tests of the server on
 * detached connections (src/http/conn.h), header only.
 *
 * h2peer_open makes an nghttp2 client session and an HTTP/2 detached
 * connection on srv; h2peer_req submits a request (its body may wait
 * until the test says it is ready); h2peer_pump moves bytes both ways,
 * the client's to h2_recv and what the connection queued (read back with
 * http_conn_output) to the client, until neither side has more.  What
 * came back is kept per stream: status, fields, body, how it closed.
 */
#ifndef OTAGW_T_H2PEER_H
#define OTAGW_T_H2PEER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "http/conn.h"
#include "http/http.h"

/* Everything c queued, in order; returns its length. */
static inline size_t
h2peer_conn_bytes(const struct http_conn *c, uint8_t *buf, size_t cap)
{
	const uint8_t *p;
	size_t	 i, n, len = 0;

	for (i = 0; (n = http_conn_output(c, &p, i)) > 0; i++) {
		if (n > cap - len)
			n = cap - len;
		memcpy(buf + len, p, n);
		len += n;
	}
	return len;
}

struct h2stream {
	int32_t	 id;
	int	 status;
	char	 hdrs[1024];
	uint8_t	 body[16384];
	size_t	 body_len;
	int	 closed;
	uint32_t close_code;
	int	 rst;
	/* the request body, sent when ready */
	const uint8_t *req;
	size_t	 req_len, req_off;
	int	 ready;
};

struct h2peer {
	nghttp2_session	*s;
	struct http_conn *c;
	size_t	 seen;		/* output bytes given to the client */
	int	 srv_rc;	/* the first h2_recv error, or 0 */
	int	 goaway;
	uint32_t goaway_code;
	struct h2stream st[8];
	size_t	 nst;
	const char *scheme;	/* of the next requests; NULL: https */
};

static inline struct h2stream *
h2peer_stream(struct h2peer *p, int32_t id)
{
	size_t	 i;

	for (i = 0; i < p->nst; i++)
		if (p->st[i].id == id)
			return &p->st[i];
	return NULL;
}

static inline int
h2peer_header_cb(nghttp2_session *s, const nghttp2_frame *frame,
    const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    uint8_t flags, void *arg)
{
	struct h2stream *st = h2peer_stream(arg, frame->hd.stream_id);
	size_t	 n;

	(void)s;
	(void)flags;
	if (st == NULL)
		return 0;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0)
		st->status = atoi((const char *)value);
	n = strlen(st->hdrs);
	snprintf(st->hdrs + n, sizeof(st->hdrs) - n, "%.*s: %.*s\n",
	    (int)nlen, name, (int)vlen, value);
	return 0;
}

static inline int
h2peer_data_cb(nghttp2_session *s, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
	struct h2stream *st = h2peer_stream(arg, id);

	(void)s;
	(void)flags;
	if (st != NULL && len <= sizeof(st->body) - st->body_len) {
		memcpy(st->body + st->body_len, data, len);
		st->body_len += len;
	}
	return 0;
}

static inline int
h2peer_close_cb(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
	struct h2stream *st = h2peer_stream(arg, id);

	(void)s;
	if (st != NULL) {
		st->closed = 1;
		st->close_code = code;
	}
	return 0;
}

static inline int
h2peer_frame_cb(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct h2peer *p = arg;
	struct h2stream *st;

	(void)s;
	if (frame->hd.type == NGHTTP2_GOAWAY) {
		p->goaway = 1;
		p->goaway_code = frame->goaway.error_code;
	} else if (frame->hd.type == NGHTTP2_RST_STREAM &&
	    (st = h2peer_stream(p, frame->hd.stream_id)) != NULL)
		st->rst = 1;
	return 0;
}

static inline ssize_t
h2peer_body_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2stream *st = src->ptr;
	size_t	 n;

	(void)s;
	(void)id;
	(void)arg;
	if (!st->ready)
		return NGHTTP2_ERR_DEFERRED;
	n = st->req_len - st->req_off;
	if (n > len)
		n = len;
	memcpy(buf, st->req + st->req_off, n);
	st->req_off += n;
	if (st->req_off == st->req_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static inline void
h2peer_open(struct h2peer *p, struct http_server *srv)
{
	nghttp2_session_callbacks *cb;

	memset(p, 0, sizeof(*p));
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2peer_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
	    h2peer_data_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
	    h2peer_close_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
	    h2peer_frame_cb);
	if (nghttp2_session_client_new(&p->s, cb, p) != 0) {
		fprintf(stderr, "nghttp2_session_client_new failed\n");
		exit(1);
	}
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE, NULL, 0);
	p->c = http_conn_new_detached(srv, 1);
}

static inline void
h2peer_close(struct h2peer *p)
{
	nghttp2_session_del(p->s);
	http_conn_free_detached(p->c);
}

/* Bytes move both ways until neither side has more. */
static inline void
h2peer_pump(struct h2peer *p)
{
	static uint8_t buf[128 * 1024];
	const uint8_t *d;
	ssize_t	 n;
	size_t	 len;
	int	 i, moved;

	for (i = 0; i < 100; i++) {
		moved = 0;
		while ((n = nghttp2_session_mem_send(p->s, &d)) > 0) {
			moved = 1;
			if (p->srv_rc == 0 && h2_recv(p->c, d, (size_t)n) != 0)
				p->srv_rc = -1;
		}
		if (p->srv_rc == 0 && h2_produce(p->c) != 0)
			p->srv_rc = -2;
		len = h2peer_conn_bytes(p->c, buf, sizeof(buf));
		if (len > p->seen) {
			moved = 1;
			if (nghttp2_session_mem_recv(p->s, buf + p->seen,
			    len - p->seen) < 0)
				fprintf(stderr, "client: bad server bytes\n");
			p->seen = len;
		}
		if (!moved)
			break;
	}
}

/* Submits a request; body NULL: none.  ready 0: the body waits. */
static inline struct h2stream *
h2peer_req(struct h2peer *p, const char *method, const char *path,
    const nghttp2_nv *extra, size_t nextra, const void *body, size_t len,
    int ready)
{
	nghttp2_nv nv[12];
	nghttp2_data_provider prd;
	struct h2stream *st = &p->st[p->nst];
	size_t	 n = 0, i;

	if (p->nst == sizeof(p->st) / sizeof(p->st[0])) {
		fprintf(stderr, "h2_req: too many streams\n");
		exit(1);
	}

#define NV(k, v) do {							\
	nv[n].name = (uint8_t *)(k);					\
	nv[n].namelen = strlen(k);					\
	nv[n].value = (uint8_t *)(v);					\
	nv[n].valuelen = strlen(v);					\
	nv[n].flags = NGHTTP2_NV_FLAG_NONE;				\
	n++;								\
} while (0)
	NV(":method", method);
	NV(":scheme", p->scheme != NULL ? p->scheme : "https");
	NV(":authority", "gw.test");
	if (path != NULL)
		NV(":path", path);
#undef NV
	for (i = 0; i < nextra && n < 12; i++)
		nv[n++] = extra[i];
	memset(st, 0, sizeof(*st));
	st->req = body;
	st->req_len = len;
	st->ready = ready;
	prd.source.ptr = st;
	prd.read_callback = h2peer_body_cb;
	st->id = nghttp2_submit_request(p->s, NULL, nv, n,
	    body != NULL ? &prd : NULL, NULL);
	p->nst++;
	return st;
}

static inline nghttp2_nv
h2peer_nv(const char *k, const char *v)
{
	nghttp2_nv nv;

	nv.name = (uint8_t *)k;
	nv.namelen = strlen(k);
	nv.value = (uint8_t *)v;
	nv.valuelen = strlen(v);
	nv.flags = NGHTTP2_NV_FLAG_NONE;
	return nv;
}

#endif
