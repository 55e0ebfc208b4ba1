/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn.h: what server.c shares with the protocol code (h1.c, h2.c).
 * Private to src/http.
 *
 * server.c owns the socket, the TLS connection, the timers and the output
 * queue; h1.c and h2.c turn input bytes into requests and requests'
 * responses into queued output.  The output queue holds copied bytes,
 * owned buffers and references on image maps, so a response body is never
 * copied whole: server.c writes at most one TLS record's worth at a time,
 * straight from the map when it can.
 */
#ifndef OTAGW_SRC_HTTP_CONN_H
#define OTAGW_SRC_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

struct tls_conn;
struct ev_timer;
struct sockaddr;
struct http_source;

#define HTTP_RECORD	16384		/* TLS record payload */
#define HTTP_OUT_HIGH	(256 * 1024)	/* stop producing above this */
/*
 * ... or above this many queued pieces: each costs an allocation and a
 * slot however few bytes it holds (an HTTP/1.1 head: 512 bytes for some
 * 130), so many small answers would hold several times HTTP_OUT_HIGH.
 */
#define HTTP_OUT_PIECES	512
#define HTTP_CHUNK	4096		/* copied output is gathered in these */
/* TLS records per write */
#define HTTP_WRITE_BUFFER (3 * (HTTP_RECORD + 64))
#define HTTP_LINGER_MS	2000		/* draining a refused body */
#define HTTP_DRAIN_MAX	(1024 * 1024)	/* refused body read, then dropped */
#define HTTP_KEEP_IMAGE_MS 2000		/* last image's mapping kept */

struct http_hdr {
	char	*name;
	char	*value;
};

/*
 * Where a request's or a response's header fields live: blocks of about
 * 1 KiB, freed together with the request (one allocation for a dozen
 * fields instead of one each).
 */
struct http_blk {
	struct http_blk *next;
	size_t	 used, cap;
	char	 data[];
};

struct http_seg {
	const uint8_t *data;		/* owned (own) or in the image map */
	uint8_t	*own;
	const struct store_image *img;
	uint64_t len;
	struct http_note *note;		/* image slices: told when sent */
};

struct http_resp {
	int	 status;
	struct http_hdr *hdrs;
	size_t	 nhdrs;
	struct http_blk *blk;		/* the fields' storage */
	struct http_seg *segs;
	size_t	 nsegs;
	uint64_t body_len;
	int	 has_head_len;
	uint64_t head_len;
};

struct http_req {
	struct http_conn *conn;
	int	 version;		/* 2 or 11 */
	char	*method;
	char	*path;
	char	*query;
	struct http_hdr *hdrs;
	size_t	 nhdrs;
	struct http_blk *blk;		/* the fields' storage */
	size_t	 head_bytes;
	uint8_t	*body;
	size_t	 body_len;
	size_t	 body_cap;
	int64_t	 clen;
	int	 next;			/* enum http_next */
	int	 too_big;
	int	 is_head;
	int	 started;		/* handler saw the head */
	void	*user;
	struct http_resp resp;
	/* HTTP/2 stream state */
	int32_t	 stream_id;
	size_t	 seg_i;
	uint64_t seg_off;
	size_t	 pend_seg;
	uint64_t pend_off;
	int	 responded;
	int	 ended;			/* request fully received */
	int	 aborted;		/* refused: drop the rest of the body */
	int	 rst_after;		/* answered early: reset once sent */
	int	 deferred;		/* http_req_defer: answered later */
	int	 completed;		/* http_req_complete came */
	uint64_t rx;			/* body bytes received */
	uint64_t drained;		/* body bytes dropped after a refusal */
	int	 body_waiting;		/* on conn's bw list */
	int64_t	 t_body;		/* since when */
	struct http_req *bw_prev, *bw_next;
	size_t	 held;			/* counted in conn->held */
	struct http_req *h2_prev, *h2_next;
};

struct http_out {
	const uint8_t *p;
	size_t	 len;
	uint8_t	*own;
	size_t	 cap;
	const struct store_image *img;
	struct http_note *note;		/* told as img bytes are written */
};

enum http_conn_state {
	HTTP_CONN_HANDSHAKE = 0,
	HTTP_CONN_H1,
	HTTP_CONN_H2,
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	int	 fd;
	struct tls_conn *tls;
	int	 state;
	uint32_t events;
	int	 write_blocked;		/* last write wanted the socket */
	int64_t	 t_start;
	int64_t	 t_activity;		/* last request byte (HTTP/2: frame
					   of a request) or response */
	int64_t	 t_progress;		/* last byte written */
	struct http_out *out;
	size_t	 out_head, out_n, out_cap;
	uint64_t out_bytes;		/* queued, not yet written */
	uint8_t	*spare;			/* one free HTTP_CHUNK */
	uint8_t	*stage;			/* HTTP_RECORD bytes, when needed */
	size_t	 stage_len, stage_off;
	int	 close_after;		/* close when output drained */
	int	 lingering;		/* closed for writing, draining input */
	int	 head_pending;		/* a request head is on its way */
	int64_t	 t_head;		/* since then (header_timeout_s) */
	struct http_req *bw_head;	/* bodies on a deadline, oldest */
	struct http_req *bw_tail;	/*   first (http_req_body_wait) */
	size_t	 held;			/* HTTP/2: heads and bodies held */
	int64_t	 t_data;		/* HTTP/2: last answer frame made */
	struct http_source *src;	/* its source's connection count */
	struct ev_timer *kick;		/* run again soon (engine has data) */
	unsigned busy;			/* responses not fully queued */
	unsigned deferred;		/* requests waiting for their answer */
	unsigned completions;		/* deferred answers ready to queue */
	void	*h1;
	void	*h2;
	uint64_t id;			/* http_req_conn_id */
};

/* server.c */
const struct http_limits *http_conn_limits(const struct http_conn *);
/* The output queue is full (HTTP_OUT_HIGH bytes or HTTP_OUT_PIECES). */
int	 http_conn_out_full(const struct http_conn *);
/*
 * What the one-second sweep does with a connection at now: keep it,
 * close it (a handshake, idle or stall timeout, a lingering close done),
 * or answer its late request head.  A connection with a deferred request
 * (http_req_defer) is never idle: a long poll outlives idle_timeout_s.
 */
enum http_sweep {
	HTTP_SWEEP_KEEP = 0,
	HTTP_SWEEP_CLOSE,
	HTTP_SWEEP_HANDSHAKE,	/* closed: the handshake took too long */
	HTTP_SWEEP_HEAD,	/* the request head deadline passed */
	HTTP_SWEEP_BODY,	/* a buffered body's deadline passed */
};
int	 http_conn_sweep_verdict(const struct http_conn *, int64_t now);
/*
 * The request head deadline (header_timeout_s): head_begin starts it
 * unless it runs already (the earliest start counts), head_end stops it.
 * The sweep answers a connection past it with 408 (HTTP/1.1, when a
 * request has begun) or GOAWAY (HTTP/2), and closes it.
 */
void	 http_conn_head_begin(struct http_conn *);
/*
 * A request body that is buffered, or drained after a refusal, must come
 * in whole within header_timeout_s of its head, as a head must (a body
 * buffered after the listener authenticated the request is exempt when
 * its limits say body_deadline 0: the admin API's).  on marks r as
 * waiting for its body, off as done (also when r is freed); each request
 * has its own clock.
 */
void	 http_req_body_wait(struct http_req *, int on);
/* The oldest waiting body past its deadline at now, or NULL. */
struct http_req *http_conn_body_late(const struct http_conn *, int64_t now);
/* The cap of http_req_hold (http.h), or one request of the largest kind. */
#define HTTP_CONN_HELD_MAX	(128 * 1024)
void	 http_conn_head_end(struct http_conn *);
const struct http_handler *http_conn_handler(const struct http_conn *);
void	 http_conn_count_request(struct http_conn *);
int	 http_conn_push(struct http_conn *, const void *, size_t);
int	 http_conn_push_own(struct http_conn *, uint8_t *, size_t);
int	 http_conn_push_image(struct http_conn *, const struct store_image *,
	    uint64_t off, uint64_t len, struct http_note *);
const char *http_conn_date(void);		/* IMF-fixdate, cached */
/* the decimal digits of v and a NUL into buf; their count (no printf) */
size_t	 http_fmt_u64(char buf[21], uint64_t v);
const char *http_conn_peer_cn(const struct http_conn *);

struct http_req *http_req_new(struct http_conn *, int version);
/* Calls on_close when the handler saw the request; frees everything. */
void	 http_req_free(struct http_req *);
int	 http_req_add_header(struct http_req *, const char *, size_t,
	    const char *, size_t);
int	 http_req_set_target(struct http_req *, const char *, size_t);
int	 http_req_set_method(struct http_req *, const char *, size_t);
/* Appends to the buffered body; -1 (too_big set) past max_body. */
int	 http_req_body_add(struct http_req *, const uint8_t *, size_t);
/* Starts the handler: on_headers' answer (enum http_next). */
int	 http_req_begin(struct http_req *);
/* Calls on_request (unless already answered). */
void	 http_req_finish(struct http_req *);
/* Resets the response to a bodyless status (413, 431, 400...). */
void	 http_resp_simple(struct http_resp *, int status);
/*
 * Resets the response to status with the listeners' JSON error body,
 * {"error":"<code for the status>","message":msg}.  0, or -1 (out of
 * memory: the status is set, the body may be missing).
 */
int	 http_resp_error(struct http_resp *, int status, const char *msg);
void	 http_resp_clear(struct http_resp *);

/*
 * source.c: open connections per source (an IPv4 address, an IPv6 /64;
 * IPv4-mapped IPv6 counts as IPv4).  take: 0 with *out counted (NULL for
 * an address family that is not counted), 1 when the source has max
 * connections already (max 0: no limit), -1 out of memory.  release
 * takes what take gave (NULL ok).
 */
struct http_sources;
struct http_sources *http_sources_new(size_t expected_connections);
void	 http_sources_free(struct http_sources *);
int	 http_sources_take(struct http_sources *, const struct sockaddr *,
	    unsigned max, struct http_source **out);
void	 http_sources_release(struct http_sources *, struct http_source *);
unsigned http_sources_count(const struct http_sources *,
	    const struct sockaddr *);

/*
 * For unit tests and fuzzers: a connection with no socket and no TLS, on
 * a server made with host NULL (no listener), speaking HTTP/1.1 (h2 0)
 * or HTTP/2 from the start.  Feed it with h1_recv/h2_recv, run
 * h1_produce/h2_produce; its output stays queued, the i-th piece readable
 * with http_conn_output (its length; 0 past the end).
 */
struct http_conn *http_conn_new_detached(struct http_server *, int h2);
void	 http_conn_free_detached(struct http_conn *);
size_t	 http_conn_output(const struct http_conn *, const uint8_t **, size_t);

/* h1.c */
int	 h1_start(struct http_conn *);
int	 h1_recv(struct http_conn *, const uint8_t *, size_t);
int	 h1_produce(struct http_conn *);
int	 h1_wants_read(const struct http_conn *);
/*
 * The daemon stops: the request in progress is answered with
 * "Connection: close", no later one is read.  1 when the connection may
 * be closed at once (nothing in progress), else 0.
 */
int	 h1_drain(struct http_conn *);
/* The head deadline passed: queue 408 and close, or 0 to close at once. */
int	 h1_head_timeout(struct http_conn *, const char *why);
/*
 * Idle between requests: gives back the input and field buffers.  1 when
 * it freed something, else 0.
 */
int	 h1_trim(struct http_conn *);
void	 h1_free(struct http_conn *);

/* h2.c */
int	 h2_start(struct http_conn *);
int	 h2_recv(struct http_conn *, const uint8_t *, size_t);
int	 h2_produce(struct http_conn *);
int	 h2_finished(const struct http_conn *);
int	 h2_wants_write(const struct http_conn *);
void	 h2_goaway(struct http_conn *);
/* The head deadline passed: queue GOAWAY, then the connection closes. */
void	 h2_head_timeout(struct http_conn *, const char *why);
/* Resets r's stream (its body came too late); the connection goes on. */
void	 h2_reset_late(struct http_conn *, struct http_req *);
/* An answer waits on the client's flow-control window (stream or all). */
int	 h2_window_blocked(const struct http_conn *);
void	 h2_free(struct http_conn *);

#endif
