/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http.h: the HTTPS server shared by the device listener and the admin API.
 *
 * One listener accepts TLS connections (src/tls), and speaks HTTP/2
 * (libnghttp2) when ALPN selects "h2", HTTP/1.1 otherwise (ALPN
 * "http/1.1" or no ALPN at all), with keep-alive on both.  Everything is
 * non-blocking on the daemon's event loop (src/ev.h).  The protocol code
 * turns each request into a struct http_req and hands it to the
 * listener's handler; the handler fills a struct http_resp through the
 * http_resp_* calls.  Handlers never see nghttp2, OpenSSL or the HTTP/1.1
 * parser.
 *
 * Request bodies are either buffered (up to the listener's max_body; more
 * gives 413 without calling the handler) or streamed chunk by chunk to the
 * handler when on_headers asks for it (firmware uploads of up to 1 GiB).
 * An answer given before the body (on_headers returns HTTP_RESPOND, a
 * refused body) is sent once the body is in; the server reads and drops
 * it, up to a bound past which the answer goes at once.
 *
 * Hostile clients are bounded per listener (struct http_limits):
 * connections per source address, handshake and request head deadlines,
 * idle and stall timeouts.
 *
 * Response bodies are a list of segments: bytes owned by the response, or
 * a slice of a firmware image (a reference on the store's shared memory
 * map), so a download is written straight from the map to TLS and memory
 * per connection stays bounded whatever the image size.  Several segments
 * make multipart/byteranges cheap.
 */
#ifndef OTAGW_HTTP_H
#define OTAGW_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct ev;
struct tls_server;
struct store_image;

struct http_server;
struct http_req;
struct http_resp;

/* What on_headers tells the server to do next. */
enum http_next {
	HTTP_BUFFER = 0,	/* buffer the body, then call on_request */
	HTTP_STREAM,		/* pass the body to on_body, then on_request */
	HTTP_RESPOND,		/* the response is ready: skip the body */
};

struct http_handler {
	/*
	 * Optional.  Called once the request head is complete.  Default
	 * (NULL): HTTP_BUFFER.
	 */
	int	(*on_headers)(void *arg, struct http_req *, struct http_resp *);
	/* HTTP_STREAM only: a body chunk.  Return 0, or -1 to abort (the
	 * response set so far is sent, e.g. 413). */
	int	(*on_body)(void *arg, struct http_req *, const uint8_t *,
		    size_t);
	/* The whole request is in: fill the response. */
	void	(*on_request)(void *arg, struct http_req *, struct http_resp *);
	/* Optional.  The request ends (sent, reset or connection lost): free
	 * what was hung on http_req_set_user. */
	void	(*on_close)(void *arg, struct http_req *);
	void	*arg;
};

struct http_limits {
	size_t	 max_body;		/* buffered request bodies */
	size_t	 max_header_bytes;	/* request head, all fields */
	unsigned max_connections;
	unsigned max_per_source;	/* per IPv4 address, IPv6 /64; 0: any */
	unsigned max_streams;		/* concurrent HTTP/2 streams */
	unsigned idle_timeout_s;	/* connection without a request */
	unsigned stall_timeout_s;	/* no progress on a response */
	unsigned handshake_timeout_s;	/* TCP accept to TLS done */
	/*
	 * A request head must be complete this long after it began: an
	 * HTTP/1.1 request from its first byte (the first request of a
	 * connection from the end of the handshake), HTTP/2 from the end of
	 * the handshake to the first complete HEADERS, then each header
	 * block from its HEADERS frame to its last CONTINUATION.
	 */
	unsigned header_timeout_s;
	/*
	 * Whether an accepted buffered body has the head's deadline too
	 * (bodies drained after a refusal always have it).  The device
	 * listener: yes (its bodies are buffered before the credentials are
	 * checked); the admin API: no (the token was checked at the head).
	 */
	int	 body_deadline;
	/*
	 * Not a limit: whether other workers' listeners bind the same
	 * address (enum listen_share, util/share.h).  0: alone.
	 */
	int	 share;
};

/*
 * Binds host:port and serves it with tls.  Returns NULL with the reason
 * logged.  The tls server and handler must outlive the server.  With host
 * NULL nothing is bound: tests and fuzzers make connections on such a
 * server themselves (conn.h).
 */
struct http_server *http_server_new(struct ev *, const char *host,
	    unsigned port, struct tls_server *, const struct http_limits *,
	    const struct http_handler *, const char *name /* for logs */);
void	 http_server_free(struct http_server *);	/* NULL ok */
/* The port it listens on (what port 0 was given); 0 when it does not. */
unsigned http_server_port(const struct http_server *);
/*
 * The daemon stops: closes the listening socket, says GOAWAY on HTTP/2
 * (streams under way finish), lets HTTP/1.1 answer the request in
 * progress with "Connection: close", closes idle connections.  Returns
 * the connections still open; each closes by itself when done (or at
 * its usual timeouts), http_server_connections tells how many are left.
 */
size_t	 http_server_drain(struct http_server *);
/* Only the first step of a drain: no new connection (SIGTERM). */
void	 http_server_close_listener(struct http_server *);
/*
 * New handshakes use tls from now on (SIGHUP, a renewed certificate);
 * connections already open keep theirs.  The caller frees the old one:
 * OpenSSL keeps what open connections still use.
 */
void	 http_server_set_tls(struct http_server *, struct tls_server *);
size_t	 http_server_connections(const struct http_server *);
void	 http_server_set_limits(struct http_server *,
	    const struct http_limits *);

struct http_server_stats {
	uint64_t connections;		/* open now */
	uint64_t accepted;		/* since start */
	uint64_t requests;
	uint64_t bytes_out;
	uint64_t h2_connections;	/* open now, over HTTP/2 */
	uint64_t refused_source;	/* closed at accept: max_per_source */
	uint64_t refused_limit;		/* closed at accept: max_connections */
	uint64_t handshake_timeouts;
	uint64_t head_timeouts;
	uint64_t body_timeouts;		/* requests ended for a late body */
	uint64_t accept_pauses;		/* out of descriptors or memory */
};
void	 http_server_stats(const struct http_server *,
	    struct http_server_stats *);

/*
 * A number unique to the request's connection in this process (never 0):
 * what a handler may key per-connection facts by (core's download grants).
 */
uint64_t http_req_conn_id(const struct http_req *);
/*
 * The local address and port of the request's connection, as a URL's
 * authority ("192.0.2.1:8443", "[2001:db8::1]:8443").  0, or -1 when it
 * cannot be told (a detached connection, a link-local address).
 */
int	 http_req_local_authority(const struct http_req *, char *out,
	    size_t size);

/* Request accessors; strings are NUL-terminated and valid until on_close. */
int	 http_req_version(const struct http_req *);	/* 2 or 11 */
const char *http_req_method(const struct http_req *);
const char *http_req_path(const struct http_req *);	/* no query */
const char *http_req_query(const struct http_req *);	/* after '?', or "" */
/* Case-insensitive; the first field of that name, or NULL. */
const char *http_req_header(const struct http_req *, const char *name);
/* Verified TLS client certificate's subject CN, or NULL. */
const char *http_req_peer_cn(const struct http_req *);
const uint8_t *http_req_body(const struct http_req *, size_t *len);
/* Content-Length of the request, or -1 when not given. */
int64_t	 http_req_content_length(const struct http_req *);
void	 http_req_set_user(struct http_req *, void *);
void	*http_req_user(const struct http_req *);
/*
 * What one connection's requests in progress hold in memory (HTTP/2
 * header blocks, buffered bodies, and what a handler keeps of a streamed
 * body): adds n bytes to the request's share, released with it; -1
 * (nothing added) past 128 KiB a connection, or past max_body +
 * max_header_bytes when that is more (one request of the largest kind
 * always fits).  A handler answers -1 as a body too large (413).
 */
int	 http_req_hold(struct http_req *, size_t n);

/*
 * Deferred responses (long polls).  on_request may call http_req_defer
 * and return without filling the response: the request then waits, on
 * HTTP/1.1 and HTTP/2 alike, until the handler fills http_req_resp(req)
 * and calls http_req_complete, which queues the answer from the
 * connection's next turn on the event loop (on_close comes after it, as
 * for any request, never inside it).  A client that goes away first
 * gets on_close, after which req is gone: the handler must drop it
 * there.  A connection with a waiting request is not idle (idle_timeout_s
 * does not apply; the handler bounds the wait); HTTP/1.1 reads no
 * further request on it meanwhile, HTTP/2 serves its other streams.
 */
void	 http_req_defer(struct http_req *);
struct http_resp *http_req_resp(struct http_req *);
void	 http_req_complete(struct http_req *);

/* Response building.  Status defaults to 500 until set. */
void	 http_resp_status(struct http_resp *, int status);
/* Copies name and value; names are sent lowercase over HTTP/2.  0 or -1. */
int	 http_resp_header(struct http_resp *, const char *name,
	    const char *value);
/* Body segments, sent in order.  0 or -1 (out of memory). */
int	 http_resp_body_copy(struct http_resp *, const void *, size_t);
/* Takes ownership of a malloc'd buffer. */
int	 http_resp_body_take(struct http_resp *, void *, size_t);
/* A slice of an image; takes its own reference (store_image_ref). */
int	 http_resp_body_image(struct http_resp *, const struct store_image *,
	    uint64_t offset, uint64_t len);
/*
 * Told as the bytes of a noted image slice are written to the connection
 * (handed to TLS): the image offset and the bytes.  Reference counted:
 * the response and every queued piece of it hold one, and free is called
 * when the last goes (also when the connection drops first).
 */
struct http_note {
	void	(*sent)(struct http_note *, uint64_t off, uint64_t len);
	void	(*free)(struct http_note *);
	unsigned refs;
};
void	 http_note_ref(struct http_note *);
void	 http_note_unref(struct http_note *);	/* NULL ok */
/* http_resp_body_image, with note told of its bytes (note may be NULL). */
int	 http_resp_body_image_noted(struct http_resp *,
	    const struct store_image *, uint64_t offset, uint64_t len,
	    struct http_note *note);
/*
 * HEAD: send the headers with this Content-Length and no body.  For other
 * methods Content-Length is the sum of the segments.
 */
void	 http_resp_head_length(struct http_resp *, uint64_t len);

#endif
