/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * server.c: the HTTPS listener, connections, output queue and timeouts.
 *
 * A listening socket on the event loop accepts connections up to
 * max_connections, and up to max_per_source from one source (source.c:
 * an IPv4 address or an IPv6 /64); more are closed at once, before any
 * TLS work, so a flood from one peer holds a bounded share of the
 * listener.  Each connection does its TLS handshake under
 * handshake_timeout_s, then speaks HTTP/2 (h2.c) or HTTP/1.1 (h1.c) by
 * ALPN.  The protocol code marks when a request head is on its way
 * (http_conn_head_begin/_end); one that is not complete within
 * header_timeout_s is answered 408 (HTTP/1.1) or GOAWAY (HTTP/2) and its
 * connection closed, so a client trickling its head ("slowloris") holds
 * its slot for seconds, not for ever.
 *
 * The protocol code queues output here; this file writes it one TLS
 * record at a time: image slices straight from the map, small pieces
 * gathered into one record-sized staging buffer.  While more than
 * HTTP_OUT_HIGH bytes wait, the connection stops reading and the protocol
 * stops producing, so memory per connection is bounded and a client that
 * does not read only holds its own connection, which the one-second
 * sweep drops after stall_timeout_s without progress.
 * Request and response objects (struct http_req, http_resp) and their
 * accessors live here too, shared by both protocols.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "http/conn.h"
#include "http/http.h"
#include "log.h"
#include "util/share.h"
#include "store/image.h"
#include "tls/tls.h"

struct http_server {
	struct ev *ev;
	struct tls_server *tls;
	struct http_limits lim;
	struct http_handler h;
	char	*name;
	int	 fd;
	struct ev_timer *sweep;
	struct http_conn *conns;
	struct http_sources *sources;	/* connections per source */
	int64_t	 last_refusal_log;
	int64_t	 last_accept_log;
	struct ev_timer *accept_resume;	/* the listener rests until then */
	/*
	 * The last image served keeps one reference for a couple of
	 * seconds, so that back-to-back requests for the same image do not
	 * map and unmap it each time.
	 */
	const struct store_image *keep_img;
	int64_t	 keep_until;
	struct http_server_stats st;
	int	 draining;	/* http_server_drain: new ones come no more */
	int	 deferred;	/* TCP_DEFER_ACCEPT: data waits at accept */
	int	 nodelay;	/* TCP_NODELAY on the listener, inherited */
	unsigned closed;	/* connections closed since the last sweep */
	uint64_t accepted_seen;	/* st.accepted at the last sweep */
};

/*
 * connections trimmed (gone idle) or closed since the last sweep that
 * return memory to the system
 */
#define HTTP_TRIM_RELEASE	32
/* the listener rests this long when accept(2) runs out of descriptors */
#define HTTP_ACCEPT_PAUSE_MS	100

static void	server_conn_io_cb(int, uint32_t, void *);
static uint64_t	server_conn_id(void);
static void	server_conn_close(struct http_conn *);
static void	server_conn_kick_cb(void *);
static void	server_blk_free(struct http_blk *);

static void
server_limits_fill(struct http_limits *dst, const struct http_limits *src)
{
	if (src != NULL)
		*dst = *src;
	else
		memset(dst, 0, sizeof(*dst));
	if (dst->max_body == 0)
		dst->max_body = 1024 * 1024;
	if (dst->max_header_bytes == 0)
		dst->max_header_bytes = 16 * 1024;
	if (dst->max_connections == 0)
		dst->max_connections = 1024;
	if (dst->max_streams == 0)
		dst->max_streams = 100;
	if (dst->idle_timeout_s == 0)
		dst->idle_timeout_s = 60;
	if (dst->stall_timeout_s == 0)
		dst->stall_timeout_s = 30;
	if (dst->handshake_timeout_s == 0)
		dst->handshake_timeout_s = 10;
	if (dst->header_timeout_s == 0)
		dst->header_timeout_s = 10;
}

/* Connection numbers: unique in the process, over every listener. */
static uint64_t
server_conn_id(void)
{
	static uint64_t last;

	return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

const struct http_limits *
http_conn_limits(const struct http_conn *c)
{
	return &c->srv->lim;
}

const struct http_handler *
http_conn_handler(const struct http_conn *c)
{
	return &c->srv->h;
}

void
http_conn_head_begin(struct http_conn *c)
{
	if (!c->head_pending) {
		c->head_pending = 1;
		c->t_head = ev_now_ms();
	}
}

void
http_conn_head_end(struct http_conn *c)
{
	c->head_pending = 0;
}

void
http_conn_count_request(struct http_conn *c)
{
	c->srv->st.requests++;
	c->t_activity = ev_now_ms();
}

const char *
http_conn_peer_cn(const struct http_conn *c)
{
	/* a detached connection (conn.h) has no TLS, so no certificate */
	return c->tls != NULL ? tls_conn_peer_cn(c->tls) : NULL;
}

const char *
http_conn_date(void)
{
	static char buf[64];
	static time_t last;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last || buf[0] == '\0') {
		gmtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

size_t
http_fmt_u64(char buf[21], uint64_t v)
{
	char	 d[20];
	size_t	 i = sizeof(d), n;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	n = sizeof(d) - i;
	memcpy(buf, d + i, n);
	buf[n] = '\0';
	return n;
}

/* Output queue. */

static struct http_out *
server_out_slot(struct http_conn *c)
{
	struct http_out *n;
	size_t ncap;

	if (c->out_head > 0 && c->out_head == c->out_n) {
		c->out_head = c->out_n = 0;
	}
	if (c->out_n == c->out_cap) {
		if (c->out_head > 0) {
			memmove(c->out, c->out + c->out_head,
			    (c->out_n - c->out_head) * sizeof(*c->out));
			c->out_n -= c->out_head;
			c->out_head = 0;
		}
		if (c->out_n == c->out_cap) {
			ncap = c->out_cap ? c->out_cap * 2 : 16;
			if ((n = reallocarray(c->out, ncap,
			    sizeof(*n))) == NULL)
				return NULL;
			c->out = n;
			c->out_cap = ncap;
		}
	}
	n = &c->out[c->out_n++];
	memset(n, 0, sizeof(*n));
	return n;
}

int
http_conn_out_full(const struct http_conn *c)
{
	return c->out_bytes >= HTTP_OUT_HIGH ||
	    c->out_n - c->out_head >= HTTP_OUT_PIECES;
}

int
http_conn_push(struct http_conn *c, const void *p, size_t len)
{
	struct http_out *o;
	size_t cap;

	if (len == 0)
		return 0;
	if (c->out_n > c->out_head) {
		o = &c->out[c->out_n - 1];
		if (o->own != NULL && o->cap - o->len >= len &&
		    o->p == o->own) {
			memcpy(o->own + o->len, p, len);
			o->len += len;
			c->out_bytes += len;
			return 0;
		}
	}
	cap = len < HTTP_CHUNK ? HTTP_CHUNK : len;
	if ((o = server_out_slot(c)) == NULL)
		return -1;
	if (cap == HTTP_CHUNK && c->spare != NULL) {
		o->own = c->spare;
		c->spare = NULL;
	} else if ((o->own = malloc(cap)) == NULL) {
		c->out_n--;
		return -1;
	}
	memcpy(o->own, p, len);
	o->p = o->own;
	o->len = len;
	o->cap = cap;
	c->out_bytes += len;
	return 0;
}

int
http_conn_push_own(struct http_conn *c, uint8_t *buf, size_t len)
{
	struct http_out *o;

	if (len == 0) {
		free(buf);
		return 0;
	}
	if ((o = server_out_slot(c)) == NULL) {
		free(buf);
		return -1;
	}
	o->own = buf;
	o->p = buf;
	o->len = len;
	o->cap = len;		/* full: nothing is appended */
	c->out_bytes += len;
	return 0;
}

void
http_note_ref(struct http_note *n)
{
	n->refs++;
}

void
http_note_unref(struct http_note *n)
{
	if (n != NULL && --n->refs == 0 && n->free != NULL)
		n->free(n);
}

/* Bytes of out entry o, before its p moves on by n, were written. */
static void
server_out_told(const struct http_out *o, size_t n)
{
	if (o->note != NULL && o->img != NULL && n > 0)
		o->note->sent(o->note, (uint64_t)(o->p - o->img->data), n);
}

int
http_conn_push_image(struct http_conn *c, const struct store_image *img,
    uint64_t off, uint64_t len, struct http_note *note)
{
	struct http_out *o;

	if (len == 0)
		return 0;
	if (off > img->size || len > img->size - off)
		return -1;
	if ((o = server_out_slot(c)) == NULL)
		return -1;
	store_image_ref(img);
	o->img = img;
	o->p = img->data + off;
	if ((o->note = note) != NULL)
		http_note_ref(note);
	if (c->srv->keep_img != img) {
		store_image_unref(c->srv->keep_img);
		store_image_ref(img);
		c->srv->keep_img = img;
	}
	c->srv->keep_until = ev_now_ms() + HTTP_KEEP_IMAGE_MS;
	o->len = (size_t)len;
	c->out_bytes += len;
	return 0;
}

static void
server_out_drop_head(struct http_conn *c)
{
	struct http_out *o = &c->out[c->out_head++];

	/* keep one small chunk for the next push */
	if (o->own != NULL && o->cap == HTTP_CHUNK && c->spare == NULL)
		c->spare = o->own;
	else
		free(o->own);
	store_image_unref(o->img);
	http_note_unref(o->note);
	memset(o, 0, sizeof(*o));
}

static void
server_out_clear(struct http_conn *c)
{
	while (c->out_head < c->out_n)
		server_out_drop_head(c);
	free(c->out);
	free(c->spare);
	c->spare = NULL;
	free(c->stage);
	c->stage = NULL;
	c->out = NULL;
	c->out_head = c->out_n = c->out_cap = 0;
	c->out_bytes = 0;
	c->stage_len = c->stage_off = 0;
}

/*
 * Writes what is queued.  Returns 0 (all written or the socket is full),
 * or -1 on a TLS error.
 */
static int
server_flush(struct http_conn *c)
{
	struct http_out *o;
	const uint8_t *p;
	size_t n, take;
	ssize_t w;
	int direct;

	c->write_blocked = 0;
	for (;;) {
		direct = 0;
		if (c->stage_off < c->stage_len) {
			p = c->stage + c->stage_off;
			n = c->stage_len - c->stage_off;
		} else if (c->out_head < c->out_n) {
			o = &c->out[c->out_head];
			if (o->img != NULL && (o->len >= HTTP_RECORD ||
			    c->out_head + 1 == c->out_n)) {
				p = o->p;
				n = o->len < HTTP_RECORD ? o->len :
				    HTTP_RECORD;
				direct = 1;
			} else {
				/* gather small pieces into one record */
				c->stage_len = c->stage_off = 0;
				if (c->stage == NULL && (c->stage =
				    malloc(HTTP_RECORD)) == NULL)
					return -1;
				while (c->out_head < c->out_n &&
				    c->stage_len < HTTP_RECORD) {
					o = &c->out[c->out_head];
					take = HTTP_RECORD - c->stage_len;
					if (take > o->len)
						take = o->len;
					memcpy(c->stage + c->stage_len, o->p,
					    take);
					server_out_told(o, take);
					c->stage_len += take;
					o->p += take;
					o->len -= take;
					if (o->len == 0)
						server_out_drop_head(c);
				}
				continue;
			}
		} else {
			/* the queue is in the engine: send its records */
			w = tls_conn_flush(c->tls);
			if (w == TLS_WANT_WRITE)
				c->write_blocked = 1;
			return w == TLS_ERROR ? -1 : 0;
		}
		w = tls_conn_write(c->tls, p, n);
		if (w == TLS_WANT_WRITE || w == TLS_WANT_READ) {
			c->write_blocked = w == TLS_WANT_WRITE ? 1 : 2;
			return 0;
		}
		if (w <= 0)
			return -1;
		c->t_progress = ev_now_ms();
		c->srv->st.bytes_out += (uint64_t)w;
		c->out_bytes -= (uint64_t)w;
		if (direct) {
			o = &c->out[c->out_head];
			server_out_told(o, (size_t)w);
			o->p += w;
			o->len -= (size_t)w;
			if (o->len == 0)
				server_out_drop_head(c);
		} else
			c->stage_off += (size_t)w;
	}
}

/* Bytes still to send: queued, or written to TLS and not yet flushed. */
static uint64_t
server_unsent(const struct http_conn *c)
{
	return c->out_bytes + (c->tls != NULL ? tls_conn_unflushed(c->tls) :
	    0);
}

static int
server_conn_wants_read(const struct http_conn *c)
{
	if (c->lingering)
		return 1;
	if (c->close_after)
		return 0;
	if (http_conn_out_full(c))
		return 0;
	if (c->state == HTTP_CONN_H1)
		return h1_wants_read(c);
	return 1;
}

static void
server_conn_update(struct http_conn *c)
{
	uint32_t ev = 0;

	if (c->state == HTTP_CONN_HANDSHAKE)
		return;
	if (server_conn_wants_read(c) || c->write_blocked == 2)
		ev |= EPOLLIN;
	if ((server_unsent(c) > 0 || (c->state == HTTP_CONN_H2 &&
	    !http_conn_out_full(c) && h2_wants_write(c))) &&
	    c->write_blocked != 2)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		if (ev_fd_mod(c->srv->ev, c->fd, ev) == 0)
			c->events = ev;
	}
}

static int
server_conn_produce(struct http_conn *c)
{
	if (c->state == HTTP_CONN_H1)
		return h1_produce(c);
	if (c->state == HTTP_CONN_H2)
		return h2_produce(c);
	return 0;
}

/*
 * Reads, produces and writes until nothing moves.  -1: close.
 *
 * After a read that brought data, the socket is read again only when the
 * TLS engine holds more: a device that sends one request at a time has
 * nothing more in the socket once its request is in, and the read that
 * would find that out is a failed read(2) (EAGAIN) per request.  epoll is
 * level-triggered, so whatever arrives later wakes the loop again.
 */
static int
server_conn_run(struct http_conn *c)
{
	uint8_t buf[HTTP_RECORD];
	uint64_t queued, written;
	ssize_t n;
	int rounds, moved, rc, got = 0;

	for (rounds = 0; rounds < 64; rounds++) {
		moved = 0;
		written = c->srv->st.bytes_out;
		/*
		 * Records only in the engine (the end of a handshake, a TLS
		 * 1.3 ticket) wait for the flush below, with the answer.
		 */
		if (c->out_bytes > 0 && server_flush(c) == -1)
			return -1;
		if (server_conn_wants_read(c) && c->write_blocked != 2 &&
		    (!got || tls_conn_has_pending(c->tls))) {
			n = tls_conn_read(c->tls, buf, sizeof(buf));
			if (n > 0) {
				moved = 1;
				got = 1;
				/* HTTP/2: its request frames only (h2.c) */
				if (c->state == HTTP_CONN_H1)
					c->t_activity = ev_now_ms();
				rc = c->state == HTTP_CONN_H1 ?
				    h1_recv(c, buf, (size_t)n) :
				    h2_recv(c, buf, (size_t)n);
				if (rc == -1)
					return -1;
			} else if (n == TLS_CLOSED || n == TLS_ERROR) {
				/* peer gone: finish writing only for h1 */
				if (c->out_bytes == 0 || n == TLS_ERROR ||
				    c->lingering)
					return -1;
				c->close_after = 1;
			}
		}
		if (!http_conn_out_full(c)) {
			queued = c->out_bytes;
			if (server_conn_produce(c) == -1)
				return -1;
			if (c->out_bytes != queued)
				moved = 1;
		}
		if (server_flush(c) == -1)
			return -1;
		if (c->close_after && !c->lingering && server_unsent(c) == 0) {
			/*
			 * Lingering close: the client may still be sending a
			 * body we refused; closing now would reset the
			 * connection and lose the answer.  Send close_notify
			 * and FIN, then read and discard for a while.
			 */
			tls_conn_shutdown(c->tls);
			shutdown(c->fd, SHUT_WR);
			c->lingering = 1;
			c->t_progress = ev_now_ms();
		}
		/* h2_finished first: it is cheaper than asking the BIO */
		if (c->state == HTTP_CONN_H2 && h2_finished(c) &&
		    server_unsent(c) == 0)
			return -1;
		if (c->srv->st.bytes_out != written && c->write_blocked == 0)
			moved = 1;
		if (!moved)
			return 0;
	}
	/*
	 * Gave others a turn: come back at once.  Work may be waiting where
	 * epoll cannot see it (records in the TLS engine, pipelined requests
	 * in the HTTP/1.1 buffer), so the kick does not depend on the socket.
	 */
	if (c->kick == NULL)
		c->kick = ev_timer_add(c->srv->ev, 0, server_conn_kick_cb, c);
	return 0;
}

static void
server_conn_kick_cb(void *arg)
{
	struct http_conn *c = arg;

	c->kick = NULL;
	server_conn_io_cb(c->fd, EPOLLIN, c);
}

static void
server_conn_start_proto(struct http_conn *c)
{
	int rc;

	if (tls_conn_alpn(c->tls) == TLS_ALPN_H2) {
		c->state = HTTP_CONN_H2;
		c->srv->st.h2_connections++;
		rc = h2_start(c);
	} else {
		c->state = HTTP_CONN_H1;
		rc = h1_start(c);
	}
	c->t_activity = ev_now_ms();
	if (rc == -1 || server_conn_run(c) == -1) {
		server_conn_close(c);
		return;
	}
	server_conn_update(c);
}

static void
server_conn_io_cb(int fd, uint32_t events, void *arg)
{
	struct http_conn *c = arg;
	int rc;

	(void)fd;
	(void)events;
	if (c->state == HTTP_CONN_HANDSHAKE) {
		rc = tls_conn_handshake(c->tls);
		if (rc == 1) {
			server_conn_start_proto(c);
			return;
		}
		if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
			uint32_t want = rc == TLS_WANT_READ ? EPOLLIN :
			    EPOLLOUT;

			if (want != c->events &&
			    ev_fd_mod(c->srv->ev, c->fd, want) == 0)
				c->events = want;
			return;
		}
		server_conn_close(c);
		return;
	}
	if (server_conn_run(c) == -1) {
		server_conn_close(c);
		return;
	}
	server_conn_update(c);
}

static void
server_conn_close(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	srv->closed++;
	if (c->state == HTTP_CONN_H2) {
		h2_free(c);
		srv->st.h2_connections--;
	} else if (c->state == HTTP_CONN_H1)
		h1_free(c);
	ev_timer_cancel(srv->ev, c->kick);
	if (c->fd != -1) {
		/* accepted here, never duplicated: close ends its epoll use */
		ev_fd_forget(srv->ev, c->fd);
		if (c->state != HTTP_CONN_HANDSHAKE && !c->lingering)
			tls_conn_shutdown(c->tls);
		close(c->fd);
	}
	tls_conn_free(c->tls);
	http_sources_release(srv->sources, c->src);
	server_out_clear(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->st.connections--;
	free(c);
}

/*
 * Logs a refused connection at most once a second (a flood must not
 * flood the log too); the counters in the stats count every one.
 */
static void
server_log_refusal(struct http_server *srv, const struct sockaddr *sa,
    const char *why)
{
	char host[NI_MAXHOST];
	int64_t now = ev_now_ms();

	if (now - srv->last_refusal_log < 1000)
		return;
	srv->last_refusal_log = now;
	if (getnameinfo(sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), host,
	    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(host, sizeof(host), "?");
	log_info("%s: closing connections from %s: %s (%llu by source and "
	    "%llu by total so far)", srv->name, host, why,
	    (unsigned long long)srv->st.refused_source,
	    (unsigned long long)srv->st.refused_limit);
}

static void
server_accept_resume_cb(void *arg)
{
	struct http_server *srv = arg;

	srv->accept_resume = NULL;
	if (srv->fd != -1)
		(void)ev_fd_mod(srv->ev, srv->fd, EPOLLIN);
}

/*
 * accept(2) failed for want of a resource: descriptors (EMFILE, ENFILE)
 * or kernel memory.  The connection stays in the listen queue, so the
 * level-triggered listener would wake the loop again at once, for as
 * long as the shortage lasts: 100 % of a core and a log line each time.
 * The listener rests for HTTP_ACCEPT_PAUSE_MS instead (the connections
 * already open go on), and the shortage is logged once a second.
 */
static void
server_accept_pause(struct http_server *srv, int err)
{
	int64_t now = ev_now_ms();

	srv->st.accept_pauses++;
	if (now - srv->last_accept_log >= 1000) {
		srv->last_accept_log = now;
		log_warnx("%s: cannot accept connections: %s (%u open here); "
		    "new ones wait in the listen queue%s", srv->name,
		    strerror(err), (unsigned)srv->st.connections,
		    err == EMFILE || err == ENFILE ? ": raise the "
		    "descriptor limit (LimitNOFILE= in the service)" : "");
	}
	if (srv->accept_resume != NULL)
		return;
	if (ev_fd_mod(srv->ev, srv->fd, 0) == -1)
		return;
	srv->accept_resume = ev_timer_add(srv->ev, HTTP_ACCEPT_PAUSE_MS,
	    server_accept_resume_cb, srv);
	if (srv->accept_resume == NULL)	/* no timer: never stay deaf */
		(void)ev_fd_mod(srv->ev, srv->fd, EPOLLIN);
}

/*
 * Accepts what is pending.  A connection past max_connections, or from a
 * source that holds max_per_source already, is closed at once, before
 * any TLS work, so that one peer cannot take the listener's every slot.
 */
static void
server_accept_cb(int fd, uint32_t events, void *arg)
{
	struct http_server *srv = arg;
	struct http_conn *c;
	struct http_source *src;
	struct sockaddr_storage ss;
	socklen_t sl;
	int cfd, i, rc, one = 1;

	(void)events;
	for (i = 0; i < 64; i++) {
		sl = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (cfd == -1) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case ENETDOWN:
			case ENETUNREACH:
			case EHOSTDOWN:
			case EHOSTUNREACH:
			case ENOPROTOOPT:
			case EOPNOTSUPP:
			case EPERM:	/* a firewall rule refused that one */
				/* that connection's own error: the next one */
				continue;
			default:
				server_accept_pause(srv, errno);
				return;
			}
		}
		if (srv->st.connections >= srv->lim.max_connections) {
			srv->st.refused_limit++;
			server_log_refusal(srv, (struct sockaddr *)&ss,
			    "max_connections reached");
			close(cfd);
			continue;
		}
		rc = http_sources_take(srv->sources, (struct sockaddr *)&ss,
		    srv->lim.max_per_source, &src);
		if (rc != 0) {
			if (rc == 1) {
				srv->st.refused_source++;
				server_log_refusal(srv, (struct sockaddr *)&ss,
				    "max_connections_per_source reached");
			}
			close(cfd);
			continue;
		}
		/* Linux copies TCP_NODELAY from the listener to cfd */
		if (!srv->nodelay)
			setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			http_sources_release(srv->sources, src);
			close(cfd);
			continue;
		}
		c->srv = srv;
		c->id = server_conn_id();
		c->fd = cfd;
		c->src = src;
		c->t_start = c->t_activity = c->t_progress = ev_now_ms();
		if ((c->tls = tls_conn_accept(srv->tls, cfd)) == NULL)
			goto drop;
		/* three full records per write(2) at the most */
		if (tls_conn_buffer_writes(c->tls, HTTP_WRITE_BUFFER) == -1)
			goto drop;
		c->events = EPOLLIN;
		if (ev_fd_add(srv->ev, cfd, EPOLLIN, server_conn_io_cb,
		    c) == -1)
			goto drop;
		c->next = srv->conns;
		if (srv->conns != NULL)
			srv->conns->prev = c;
		srv->conns = c;
		srv->st.connections++;
		srv->st.accepted++;
		/* the ClientHello is most likely there already */
		if (srv->deferred)
			server_conn_io_cb(cfd, EPOLLIN, c);
		continue;
drop:
		tls_conn_free(c->tls);
		http_sources_release(srv->sources, c->src);
		free(c);
		close(cfd);
	}
}

/*
 * A request head that missed its deadline: HTTP/1.1 answers 408 when a
 * request has begun and lingers; HTTP/2 says GOAWAY; then the connection
 * closes.  -1: close it now.
 */
static int
server_head_timeout(struct http_conn *c, int body)
{
	const char *why = body ? "request body timeout" :
	    "request head timeout";

	if (body)
		c->srv->st.body_timeouts++;
	else
		c->srv->st.head_timeouts++;
	c->head_pending = 0;
	log_debug("%s: %s (%us)", c->srv->name, why,
	    c->srv->lim.header_timeout_s);
	if (c->state == HTTP_CONN_H2) {
		h2_head_timeout(c, why);
		(void)server_flush(c);
		return -1;
	}
	if (h1_head_timeout(c, why) == 0 || server_conn_run(c) == -1)
		return -1;
	server_conn_update(c);
	return 0;
}

/*
 * Bodies past their deadline: HTTP/2 resets their streams and goes on
 * (other streams may be answering); HTTP/1.1 answers 408 and closes, as
 * for a late head.  0, or -1 to close now.
 */
static int
server_body_timeout(struct http_conn *c, int64_t now)
{
	struct http_req *r;

	if (c->state != HTTP_CONN_H2)
		return server_head_timeout(c, 1);
	while ((r = http_conn_body_late(c, now)) != NULL) {
		c->srv->st.body_timeouts++;
		log_debug("%s: request body timeout (%us): stream reset",
		    c->srv->name, c->srv->lim.header_timeout_s);
		http_req_body_wait(r, 0);
		h2_reset_late(c, r);
	}
	if (server_conn_run(c) == -1)
		return -1;
	server_conn_update(c);
	return 0;
}

int
http_conn_sweep_verdict(const struct http_conn *c, int64_t now)
{
	const struct http_limits *lim = &c->srv->lim;
	int64_t hs = (int64_t)lim->handshake_timeout_s * 1000;
	int64_t head = (int64_t)lim->header_timeout_s * 1000;
	int64_t idle = (int64_t)lim->idle_timeout_s * 1000;
	int64_t stall = (int64_t)lim->stall_timeout_s * 1000;

	if (c->state == HTTP_CONN_HANDSHAKE)
		return now - c->t_start > hs ? HTTP_SWEEP_HANDSHAKE :
		    HTTP_SWEEP_KEEP;
	if (c->lingering)
		return now - c->t_progress > HTTP_LINGER_MS ?
		    HTTP_SWEEP_CLOSE : HTTP_SWEEP_KEEP;
	if (c->head_pending && now - c->t_head > head)
		return HTTP_SWEEP_HEAD;
	if (http_conn_body_late(c, now) != NULL)
		return HTTP_SWEEP_BODY;
	if (server_unsent(c) > 0 || c->busy > 0) {
		if (now - c->t_progress > stall && now - c->t_activity > stall)
			return HTTP_SWEEP_CLOSE;
		/* bytes go out (PING acks...), but no answer moves */
		if (c->state == HTTP_CONN_H2 && c->busy > 0 &&
		    now - c->t_data > stall && h2_window_blocked(c))
			return HTTP_SWEEP_CLOSE;
		return HTTP_SWEEP_KEEP;
	}
	/* a request waits for its answer (a long poll): not idle */
	if (c->deferred > 0)
		return HTTP_SWEEP_KEEP;
	if (now - c->t_activity > idle && now - c->t_progress > idle)
		return HTTP_SWEEP_CLOSE;
	return HTTP_SWEEP_KEEP;
}

/*
 * A keep-alive connection idle since the last sweep gives its buffers
 * back: the output queue's array and spare chunk, the record stage, the
 * TLS write buffer and HTTP/1.1's input buffer (some 130 KiB in all
 * while busy).  A device that holds its connection open between
 * check-ins then costs its TLS and HTTP state alone; its next request
 * allocates them again.  Done here rather than after each answer, so a
 * device fetching ranges one after another pays no malloc per request.
 */
static int
server_conn_trim(struct http_conn *c, int64_t now)
{
	int	 freed;

	if (c->state == HTTP_CONN_HANDSHAKE || c->lingering || c->busy > 0 ||
	    now - c->t_activity < 1000 || now - c->t_progress < 1000 ||
	    c->out_head < c->out_n || server_unsent(c) > 0)
		return 0;
	freed = c->out != NULL || c->stage != NULL;
	server_out_clear(c);
	freed |= tls_conn_trim(c->tls);
	if (c->state == HTTP_CONN_H1)
		freed |= h1_trim(c);
	return freed;
}

static void
server_sweep_cb(void *arg)
{
	struct http_server *srv = arg;
	struct http_conn *c, *next;
	int64_t now = ev_now_ms();
	uint64_t accepted;
	unsigned trimmed = 0;
	int	 rc;

	srv->sweep = NULL;
	if (srv->keep_img != NULL && now > srv->keep_until) {
		store_image_unref(srv->keep_img);
		srv->keep_img = NULL;
	}
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		switch ((rc = http_conn_sweep_verdict(c, now))) {
		case HTTP_SWEEP_HANDSHAKE:
			srv->st.handshake_timeouts++;
			server_conn_close(c);
			break;
		case HTTP_SWEEP_HEAD:
			if (server_head_timeout(c, 0) == -1)
				server_conn_close(c);
			break;
		case HTTP_SWEEP_BODY:
			if (server_body_timeout(c, now) == -1)
				server_conn_close(c);
			break;
		case HTTP_SWEEP_CLOSE:
			if (!c->lingering && (server_unsent(c) > 0 ||
			    c->busy > 0))
				log_debug("%s: dropping a stalled connection",
				    srv->name);
			server_conn_close(c);
			break;
		default:
			trimmed += server_conn_trim(c, now);
			break;
		}
	}
	/*
	 * Many connections went idle, or closed while few new ones came (a
	 * burst of devices, or a flood, is over): give the freed pages back
	 * to the system too.  A few at a time, or a steady stream of short
	 * connections, stay in the allocator for the next requests, which
	 * would otherwise fault their pages in again.
	 */
	accepted = srv->st.accepted - srv->accepted_seen;
	if (srv->closed < 4 * accepted)
		srv->closed = 0;
	if (trimmed + srv->closed >= HTTP_TRIM_RELEASE)
		malloc_trim(0);
	srv->closed = 0;
	srv->accepted_seen = srv->st.accepted;
	srv->sweep = ev_timer_add(srv->ev, 1000, server_sweep_cb, srv);
}

static int
server_listen(const char *host, unsigned port, const char *name, int share)
{
	struct addrinfo hints, *res = NULL, *ai;
	char sport[16];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(sport, sizeof(sport), "%u", port);
	if (host != NULL && (host[0] == '\0' || strcmp(host, "*") == 0))
		host = NULL;
	if ((rc = getaddrinfo(host, sport, &hints, &res)) != 0) {
		log_warnx("%s: %s: %s", name, host ? host : "*",
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (listen_share_prepare(fd, SOCK_STREAM, ai->ai_addr,
		    ai->ai_addrlen, share) == 0 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 511) == 0)
			break;
		log_warn("%s: bind %s port %u", name, host ? host : "*",
		    port);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

struct http_server *
http_server_new(struct ev *ev, const char *host, unsigned port,
    struct tls_server *tls, const struct http_limits *lim,
    const struct http_handler *h, const char *name)
{
	struct http_server *srv;
	int one = 1;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		log_warn("http_server_new");
		return NULL;
	}
	srv->fd = -1;
	srv->ev = ev;
	srv->tls = tls;
	srv->h = *h;
	server_limits_fill(&srv->lim, lim);
	if ((srv->name = strdup(name ? name : "https")) == NULL ||
	    (srv->sources = http_sources_new(srv->lim.max_connections)) ==
	    NULL)
		goto fail;
	if (host == NULL)
		return srv;	/* detached: for tests and fuzzers */
	if ((srv->fd = server_listen(host, port, srv->name, lim != NULL ?
	    lim->share : 0)) == -1)
		goto fail;
	/*
	 * Accept a connection only once its first bytes (the ClientHello)
	 * are there, and start the handshake at once: one wake-up less per
	 * connection.  A client that sends nothing is accepted after a
	 * second anyway, and then meets the handshake deadline.
	 */
	srv->deferred = setsockopt(srv->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT,
	    &one, sizeof(one)) == 0;
	srv->nodelay = setsockopt(srv->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == 0;
	if (ev_fd_add(ev, srv->fd, EPOLLIN, server_accept_cb, srv) == -1) {
		log_warn("%s: ev_fd_add", srv->name);
		goto fail;
	}
	srv->sweep = ev_timer_add(ev, 1000, server_sweep_cb, srv);
	return srv;
fail:
	if (srv->fd != -1)
		close(srv->fd);
	http_sources_free(srv->sources);
	free(srv->name);
	free(srv);
	return NULL;
}

unsigned
http_server_port(const struct http_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (srv == NULL || srv->fd == -1 ||
	    getsockname(srv->fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void
http_server_free(struct http_server *srv)
{
	struct http_conn *c;

	if (srv == NULL)
		return;
	/* say goodbye on HTTP/2, best effort */
	for (c = srv->conns; c != NULL; c = c->next) {
		if (c->state == HTTP_CONN_H2) {
			h2_goaway(c);
			(void)server_flush(c);
		}
	}
	while (srv->conns != NULL)
		server_conn_close(srv->conns);
	store_image_unref(srv->keep_img);
	ev_timer_cancel(srv->ev, srv->sweep);
	ev_timer_cancel(srv->ev, srv->accept_resume);
	if (srv->fd != -1) {
		ev_fd_del(srv->ev, srv->fd);
		close(srv->fd);
	}
	http_sources_free(srv->sources);
	free(srv->name);
	free(srv);
}

struct http_conn *
http_conn_new_detached(struct http_server *srv, int h2)
{
	struct http_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->srv = srv;
	c->id = server_conn_id();
	c->fd = -1;
	c->t_start = c->t_activity = c->t_progress = ev_now_ms();
	c->state = h2 ? HTTP_CONN_H2 : HTTP_CONN_H1;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->st.connections++;
	if (h2)
		srv->st.h2_connections++;
	if ((h2 ? h2_start(c) : h1_start(c)) == -1) {
		server_conn_close(c);
		return NULL;
	}
	return c;
}

void
http_conn_free_detached(struct http_conn *c)
{
	if (c != NULL)
		server_conn_close(c);
}

size_t
http_conn_output(const struct http_conn *c, const uint8_t **p, size_t i)
{
	const struct http_out *o;

	if (c->out_head + i >= c->out_n)
		return 0;
	o = &c->out[c->out_head + i];
	*p = o->p;
	return o->len;
}

void
http_server_close_listener(struct http_server *srv)
{
	if (srv != NULL && srv->fd != -1) {
		ev_timer_cancel(srv->ev, srv->accept_resume);
		srv->accept_resume = NULL;
		ev_fd_del(srv->ev, srv->fd);
		close(srv->fd);
		srv->fd = -1;
	}
}

size_t
http_server_drain(struct http_server *srv)
{
	struct http_conn *c, *next;

	http_server_close_listener(srv);
	srv->draining = 1;
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == HTTP_CONN_HANDSHAKE ||
		    (c->state == HTTP_CONN_H1 && h1_drain(c))) {
			server_conn_close(c);
			continue;
		}
		if (c->state == HTTP_CONN_H2)
			h2_goaway(c);
		if (c->fd == -1)
			continue;	/* detached: nothing to write to */
		if (server_conn_run(c) == -1) {
			server_conn_close(c);
			continue;
		}
		server_conn_update(c);
	}
	return (size_t)srv->st.connections;
}

void
http_server_set_tls(struct http_server *srv, struct tls_server *tls)
{
	srv->tls = tls;
}

size_t
http_server_connections(const struct http_server *srv)
{
	return srv != NULL ? (size_t)srv->st.connections : 0;
}

void
http_server_set_limits(struct http_server *srv, const struct http_limits *lim)
{
	if (srv != NULL)
		server_limits_fill(&srv->lim, lim);
}

void
http_server_stats(const struct http_server *srv, struct http_server_stats *st)
{
	if (srv == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = srv->st;
}

/* Requests and responses. */

struct http_req *
http_req_new(struct http_conn *c, int version)
{
	struct http_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->conn = c;
	r->version = version;
	r->clen = -1;
	r->resp.status = 500;
	return r;
}

void
http_resp_clear(struct http_resp *rs)
{
	size_t i;

	server_blk_free(rs->blk);
	free(rs->hdrs);
	for (i = 0; i < rs->nsegs; i++) {
		free(rs->segs[i].own);
		store_image_unref(rs->segs[i].img);
		http_note_unref(rs->segs[i].note);
	}
	free(rs->segs);
	memset(rs, 0, sizeof(*rs));
	rs->status = 500;
}

void
http_resp_simple(struct http_resp *rs, int status)
{
	http_resp_clear(rs);
	rs->status = status;
}

static const char *
server_error_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 408: return "request_timeout";
	case 413: return "too_large";
	case 431: return "header_too_large";
	case 501: return "not_implemented";
	case 505: return "version_not_supported";
	default: return status < 500 ? "bad_request" : "internal";
	}
}

int
http_resp_error(struct http_resp *rs, int status, const char *msg)
{
	const char *code = server_error_code(status);
	size_t i, n = 0, cap;
	char *b;

	http_resp_simple(rs, status);
	if (msg == NULL)
		msg = "";
	if (http_resp_header(rs, "Content-Type", "application/json") == -1 ||
	    http_resp_header(rs, "Cache-Control", "no-store") == -1)
		return -1;
	/* worst case every character escaped as \u00XX */
	cap = strlen(code) + 6 * strlen(msg) + 32;
	if ((b = malloc(cap)) == NULL)
		return -1;
	n = (size_t)snprintf(b, cap, "{\"error\":\"%s\",\"message\":\"", code);
	for (i = 0; msg[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)msg[i];

		if (ch == '"' || ch == '\\') {
			b[n++] = '\\';
			b[n++] = (char)ch;
		} else if (ch < 0x20)
			n += (size_t)snprintf(b + n, cap - n, "\\u%04x", ch);
		else
			b[n++] = (char)ch;
	}
	memcpy(b + n, "\"}", 2);
	n += 2;
	return http_resp_body_take(rs, b, n);
}

void
http_req_body_wait(struct http_req *r, int on)
{
	struct http_conn *c = r->conn;

	if (on == r->body_waiting)
		return;
	r->body_waiting = on;
	if (on) {
		/* appended: the list stays oldest first */
		r->t_body = ev_now_ms();
		r->bw_next = NULL;
		r->bw_prev = c->bw_tail;
		if (c->bw_tail != NULL)
			c->bw_tail->bw_next = r;
		else
			c->bw_head = r;
		c->bw_tail = r;
		return;
	}
	if (r->bw_prev != NULL)
		r->bw_prev->bw_next = r->bw_next;
	else
		c->bw_head = r->bw_next;
	if (r->bw_next != NULL)
		r->bw_next->bw_prev = r->bw_prev;
	else
		c->bw_tail = r->bw_prev;
	r->bw_prev = r->bw_next = NULL;
}

/* A body refused or drained, or any buffered one where the listener says. */
static int
server_body_timed(const struct http_req *r)
{
	return r->aborted || r->next == HTTP_RESPOND ||
	    r->conn->srv->lim.body_deadline;
}

struct http_req *
http_conn_body_late(const struct http_conn *c, int64_t now)
{
	int64_t	 head = (int64_t)c->srv->lim.header_timeout_s * 1000;
	struct http_req *r;

	for (r = c->bw_head; r != NULL && now - r->t_body > head;
	    r = r->bw_next)
		if (server_body_timed(r))
			return r;
	return NULL;
}

int
http_req_hold(struct http_req *r, size_t n)
{
	struct http_conn *c = r->conn;
	const struct http_limits *lim = &c->srv->lim;
	size_t	 max = HTTP_CONN_HELD_MAX;

	/* at least one whole request of the largest kind */
	if (lim->max_body + lim->max_header_bytes > max)
		max = lim->max_body + lim->max_header_bytes;
	if (c->held > max || n > max - c->held)
		return -1;
	c->held += n;
	r->held += n;
	return 0;
}

void
http_req_free(struct http_req *r)
{
	const struct http_handler *h;

	if (r == NULL)
		return;
	http_req_body_wait(r, 0);
	r->conn->held -= r->held < r->conn->held ? r->held : r->conn->held;
	if (r->deferred && !r->completed)
		r->conn->deferred--;
	h = http_conn_handler(r->conn);
	if (r->started && h->on_close != NULL)
		h->on_close(h->arg, r);
	free(r->method);
	free(r->path);
	free(r->query);
	server_blk_free(r->blk);
	free(r->hdrs);
	free(r->body);
	http_resp_clear(&r->resp);
	free(r);
}

#define HTTP_BLK	1024

static void
server_blk_free(struct http_blk *b)
{
	struct http_blk *next;

	for (; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
}

/* n bytes from the blocks at *head, a new block when the first is full. */
static char *
server_blk_alloc(struct http_blk **head, size_t n)
{
	struct http_blk *b = *head;
	size_t cap;
	char *p;

	if (b == NULL || b->cap - b->used < n) {
		cap = n > HTTP_BLK ? n : HTTP_BLK;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->cap = cap;
		*head = b;
	}
	p = b->data + b->used;
	b->used += n;
	return p;
}

/*
 * A header is "name\0value\0" in the blocks at *blk, freed with them;
 * the arrays grow by doubling.
 */
static int
server_hdr_add(struct http_hdr **arr, size_t *n, struct http_blk **blk,
    const char *name, size_t nl, const char *value, size_t vl)
{
	struct http_hdr *h;
	size_t ncap;
	char *b;

	/* capacity: 8, then the next power of two */
	if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) {
		ncap = *n ? *n * 2 : 8;
		if ((h = reallocarray(*arr, ncap, sizeof(*h))) == NULL)
			return -1;
		*arr = h;
	}
	if (nl > SIZE_MAX / 2 - 2 || vl > SIZE_MAX / 2 ||
	    (b = server_blk_alloc(blk, nl + vl + 2)) == NULL)
		return -1;
	memcpy(b, name, nl);
	b[nl] = '\0';
	memcpy(b + nl + 1, value, vl);
	b[nl + 1 + vl] = '\0';
	h = &(*arr)[(*n)++];
	h->name = b;
	h->value = b + nl + 1;
	return 0;
}

int
http_req_add_header(struct http_req *r, const char *n, size_t nl,
    const char *v, size_t vl)
{
	struct http_hdr *h;
	size_t i;

	if (server_hdr_add(&r->hdrs, &r->nhdrs, &r->blk, n, nl, v, vl) == -1)
		return -1;
	h = &r->hdrs[r->nhdrs - 1];
	for (i = 0; h->name[i] != '\0'; i++)
		if (h->name[i] >= 'A' && h->name[i] <= 'Z')
			h->name[i] += 'a' - 'A';
	if (r->clen == -1 && strcmp(h->name, "content-length") == 0) {
		char *end;
		unsigned long long v2;

		errno = 0;
		v2 = strtoull(h->value, &end, 10);
		if (errno == 0 && end != h->value && *end == '\0' &&
		    h->value[0] != '-')
			r->clen = (int64_t)v2;
	}
	return 0;
}

int
http_req_set_method(struct http_req *r, const char *m, size_t len)
{
	free(r->method);
	if ((r->method = strndup(m, len)) == NULL)
		return -1;
	r->is_head = strcmp(r->method, "HEAD") == 0;
	return 0;
}

int
http_req_set_target(struct http_req *r, const char *t, size_t len)
{
	const char *q = memchr(t, '?', len);
	size_t pl = q ? (size_t)(q - t) : len;

	free(r->path);
	free(r->query);
	r->path = strndup(t, pl);
	r->query = q ? strndup(q + 1, len - pl - 1) : strdup("");
	return r->path != NULL && r->query != NULL ? 0 : -1;
}

int
http_req_body_add(struct http_req *r, const uint8_t *p, size_t len)
{
	size_t max = http_conn_limits(r->conn)->max_body, ncap;
	uint8_t *n;

	if (r->too_big || len > max || r->body_len > max - len) {
		r->too_big = 1;
		return -1;
	}
	if (r->body_len + len > r->body_cap) {
		ncap = r->body_cap ? r->body_cap : 4096;
		while (ncap < r->body_len + len)
			ncap *= 2;
		if (ncap > max)
			ncap = max;
		if ((n = realloc(r->body, ncap)) == NULL)
			return -1;
		r->body = n;
		r->body_cap = ncap;
	}
	memcpy(r->body + r->body_len, p, len);
	r->body_len += len;
	return 0;
}

/* How many fields named name (lowercase) the request has. */
static size_t
server_hdr_count(const struct http_req *r, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < r->nhdrs; i++)
		if (strcmp(r->hdrs[i].name, name) == 0)
			n++;
	return n;
}

int
http_req_begin(struct http_req *r)
{
	const struct http_handler *h = http_conn_handler(r->conn);
	int next = HTTP_BUFFER;

	r->started = 1;
	http_conn_count_request(r->conn);
	/* which one would authenticate?  (h1.c refuses it first) */
	if (server_hdr_count(r, "authorization") > 1) {
		http_resp_error(&r->resp, 400, "more than one Authorization "
		    "field");
		r->next = HTTP_RESPOND;
		return HTTP_RESPOND;
	}
	if (h->on_headers != NULL)
		next = h->on_headers(h->arg, r, &r->resp);
	if (next == HTTP_BUFFER && r->clen >= 0 &&
	    (uint64_t)r->clen > http_conn_limits(r->conn)->max_body) {
		r->too_big = 1;
		http_resp_simple(&r->resp, 413);
		next = HTTP_RESPOND;
	}
	r->next = next;
	return next;
}

void
http_req_finish(struct http_req *r)
{
	const struct http_handler *h = http_conn_handler(r->conn);

	if (r->next == HTTP_RESPOND)
		return;
	if (r->too_big) {
		http_resp_simple(&r->resp, 413);
		return;
	}
	h->on_request(h->arg, r, &r->resp);
}

/* Deferred responses. */

void
http_req_defer(struct http_req *r)
{
	if (r->deferred)
		return;
	r->deferred = 1;
	r->conn->deferred++;
}

struct http_resp *
http_req_resp(struct http_req *r)
{
	return &r->resp;
}

/*
 * The answer is queued by the protocol's produce step (h1_produce,
 * h2_produce), from the connection's own callback, which a timer of no
 * delay starts: so on_close never runs inside http_req_complete, and the
 * output goes through the connection's usual path.
 */
void
http_req_complete(struct http_req *r)
{
	struct http_conn *c = r->conn;

	if (!r->deferred || r->completed)
		return;
	r->completed = 1;
	c->deferred--;
	c->completions++;
	c->t_activity = ev_now_ms();
	if (c->fd != -1 && c->kick == NULL)
		c->kick = ev_timer_add(c->srv->ev, 0, server_conn_kick_cb, c);
}

/* Public accessors. */

int
http_req_version(const struct http_req *r)
{
	return r->version;
}

const char *
http_req_method(const struct http_req *r)
{
	return r->method ? r->method : "";
}

const char *
http_req_path(const struct http_req *r)
{
	return r->path ? r->path : "";
}

const char *
http_req_query(const struct http_req *r)
{
	return r->query ? r->query : "";
}

const char *
http_req_header(const struct http_req *r, const char *name)
{
	size_t i, len = strlen(name);

	/* a field is "name\0value\0": the name's length is free */
	for (i = 0; i < r->nhdrs; i++)
		if ((size_t)(r->hdrs[i].value - r->hdrs[i].name) == len + 1 &&
		    strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value;
	return NULL;
}

const char *
http_req_peer_cn(const struct http_req *r)
{
	return http_conn_peer_cn(r->conn);
}

const uint8_t *
http_req_body(const struct http_req *r, size_t *len)
{
	if (len != NULL)
		*len = r->body_len;
	return r->body ? r->body : (const uint8_t *)"";
}

int64_t
http_req_content_length(const struct http_req *r)
{
	return r->clen;
}

uint64_t
http_req_conn_id(const struct http_req *r)
{
	return r->conn->id;
}

int
http_req_local_authority(const struct http_req *r, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char	 a[INET6_ADDRSTRLEN];
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
	struct in_addr v4;
	int	 n;

	if (r->conn->fd < 0 ||
	    getsockname(r->conn->fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		n = snprintf(out, size, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		memcpy(&v4, &in6->sin6_addr.s6_addr[12], 4);
		inet_ntop(AF_INET, &v4, a, sizeof(a));
		n = snprintf(out, size, "%s:%u", a, ntohs(in6->sin6_port));
	} else if (ss.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) {
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		n = snprintf(out, size, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else
		return -1;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

void
http_req_set_user(struct http_req *r, void *u)
{
	r->user = u;
}

void *
http_req_user(const struct http_req *r)
{
	return r->user;
}

void
http_resp_status(struct http_resp *rs, int status)
{
	rs->status = status;
}

int
http_resp_header(struct http_resp *rs, const char *name, const char *value)
{
	return server_hdr_add(&rs->hdrs, &rs->nhdrs, &rs->blk, name,
	    strlen(name), value, strlen(value));
}

static struct http_seg *
resp_seg_add(struct http_resp *rs)
{
	struct http_seg *s;

	if ((s = reallocarray(rs->segs, rs->nsegs + 1, sizeof(*s))) == NULL)
		return NULL;
	rs->segs = s;
	s = &rs->segs[rs->nsegs++];
	memset(s, 0, sizeof(*s));
	return s;
}

int
http_resp_body_take(struct http_resp *rs, void *buf, size_t len)
{
	struct http_seg *s;

	if (len == 0) {
		free(buf);
		return 0;
	}
	if ((s = resp_seg_add(rs)) == NULL) {
		free(buf);
		return -1;
	}
	s->own = buf;
	s->data = buf;
	s->len = len;
	rs->body_len += len;
	return 0;
}

int
http_resp_body_copy(struct http_resp *rs, const void *p, size_t len)
{
	void *b;

	if (len == 0)
		return 0;
	if ((b = malloc(len)) == NULL)
		return -1;
	memcpy(b, p, len);
	return http_resp_body_take(rs, b, len);
}

int
http_resp_body_image(struct http_resp *rs, const struct store_image *img,
    uint64_t off, uint64_t len)
{
	return http_resp_body_image_noted(rs, img, off, len, NULL);
}

int
http_resp_body_image_noted(struct http_resp *rs,
    const struct store_image *img, uint64_t off, uint64_t len,
    struct http_note *note)
{
	struct http_seg *s;

	if (img == NULL || off > img->size || len > img->size - off)
		return -1;
	if (len == 0)
		return 0;
	if ((s = resp_seg_add(rs)) == NULL)
		return -1;
	store_image_ref(img);
	s->img = img;
	s->data = img->data + off;
	s->len = len;
	if ((s->note = note) != NULL)
		http_note_ref(note);
	rs->body_len += len;
	return 0;
}

void
http_resp_head_length(struct http_resp *rs, uint64_t len)
{
	rs->has_head_len = 1;
	rs->head_len = len;
}
