/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * h2client.c: an HTTP/2 client connection over TLS, for the upstream
 * relay (src/relay/relay.c) and firmware fetches (src/ops/fetch.c).  See
 * h2client.h.
 *
 * A connection goes through CONNECT (non-blocking connect(2), trying each
 * address the name resolves to), HANDSHAKE (TLS, which must pick "h2" by
 * ALPN) and OPEN, where nghttp2 runs on memory buffers: bytes read from
 * TLS go to nghttp2_session_mem_recv, and what nghttp2_session_mem_send
 * produces is written to TLS, kept in `out' while TLS cannot take it.
 * Nothing here blocks: a URL that names a host rather than an address is
 * resolved on a thread of its own first (RESOLVE, below), since
 * getaddrinfo(3) may wait as long as resolv.conf's timeouts allow for a
 * resolver that does not answer (the uplink down), and the relay runs on
 * the loop that also answers devices.  Sizes coming from the peer are
 * bounded by nghttp2 (header list) and by the callers (bodies).
 */
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "http/h2client.h"
#include "tls/tls.h"

#define H2C_READ_BUF	16384
#define H2C_WINDOW	(1 << 20)	/* per stream and connection */
#define H2C_HDR_MAX	65536		/* response header list */

enum h2c_state {
	ST_RESOLVE,
	ST_CONNECT,
	ST_HANDSHAKE,
	ST_OPEN,
	ST_DEAD,
};

struct h2c_stream {
	struct h2c_stream *next;	/* h2c's list, to free them all */
	struct h2c_req_cb cb;
	const uint8_t	*body;
	size_t		 len;
	size_t		 off;
	int		 status;
	int		 canceled;
	int		 ended;		/* the server's END_STREAM came */
};

/*
 * A name being resolved.  The thread signals efd when done; the
 * connection waits on efd meanwhile (as its fd).  Shared by the two,
 * reference counted: a connection freed first leaves the job to the
 * thread, and the last one out frees it and closes efd.
 */
struct h2c_resolve {
	pthread_mutex_t	 lock;
	int		 refs;
	int		 done;
	int		 efd;
	int		 rc;		/* getaddrinfo's */
	struct addrinfo	*ai;
	char		 host[H2C_HOST_MAX];
	char		 port[8];
};

struct h2c {
	int		 state;
	int		 fd;		/* the socket, or res->efd */
	struct h2c_resolve *res;	/* RESOLVE */
	struct tls_client *tc;
	struct tls_conn	*tls;
	nghttp2_session	*sess;
	struct addrinfo	*ai;		/* resolved addresses */
	struct addrinfo	*cur;		/* the one being tried */
	int		 tls_want;	/* TLS_WANT_READ / TLS_WANT_WRITE */
	struct h2c_stream *streams;
	uint8_t		*out;		/* bytes for TLS not yet taken */
	size_t		 outlen;
	size_t		 outoff;
	size_t		 outcap;
	struct h2c_url	 url;
	char		 err[160];
};

static void
h2c_fail(struct h2c *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
h2c_fail(struct h2c *c, const char *fmt, ...)
{
	va_list ap;

	if (c->state == ST_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->state = ST_DEAD;
}

/* URLs ------------------------------------------------------------------ */

int
h2c_url_parse(const char *url, struct h2c_url *out)
{
	const char *p, *hend, *pstart;
	size_t hlen;
	char *end;
	unsigned long port = 443;
	int n;

	memset(out, 0, sizeof(*out));
	if (url == NULL || strncasecmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	pstart = p + strcspn(p, "/?#");
	if (*p == '[') {
		if ((hend = memchr(p, ']', (size_t)(pstart - p))) == NULL)
			return -1;
		hlen = (size_t)(hend - p - 1);
		memcpy(out->host, p + 1, hlen < H2C_HOST_MAX ? hlen : 0);
		p = hend + 1;
	} else {
		hend = p + strcspn(p, ":/?#");
		hlen = (size_t)(hend - p);
		if (hlen >= H2C_HOST_MAX)
			return -1;
		memcpy(out->host, p, hlen);
		p = hend;
	}
	if (hlen == 0 || hlen >= H2C_HOST_MAX || memchr(out->host, '@',
	    hlen) != NULL)
		return -1;
	if (*p == ':') {
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (end == p + 1 || end != pstart || port == 0 ||
		    port > 65535 || errno != 0)
			return -1;
	} else if (p != pstart)
		return -1;
	out->port = (unsigned)port;
	if (*pstart == '\0' || *pstart == '#')
		snprintf(out->path, sizeof(out->path), "/");
	else if (*pstart == '?')
		snprintf(out->path, sizeof(out->path), "/%.*s",
		    (int)strcspn(pstart, "#"), pstart);
	else {
		n = snprintf(out->path, sizeof(out->path), "%.*s",
		    (int)strcspn(pstart, "#"), pstart);
		if (n < 0 || (size_t)n >= sizeof(out->path))
			return -1;
	}
	if (strchr(out->host, ':') != NULL)
		n = snprintf(out->authority, sizeof(out->authority), "[%s]",
		    out->host);
	else
		n = snprintf(out->authority, sizeof(out->authority), "%s",
		    out->host);
	if (out->port != 443)
		snprintf(out->authority + n, sizeof(out->authority) - (size_t)n,
		    ":%u", out->port);
	return 0;
}

/* nghttp2 callbacks ------------------------------------------------------ */

static int
cb_on_header(nghttp2_session *s, const nghttp2_frame *frame,
    const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    uint8_t flags, void *user)
{
	struct h2c_stream *st;
	char nbuf[128], vbuf[1024];

	(void)flags;
	(void)user;
	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (st == NULL || st->canceled)
		return 0;
	if (nlen >= sizeof(nbuf) || vlen >= sizeof(vbuf))
		return 0;	/* not one the callers look at */
	memcpy(nbuf, name, nlen);
	nbuf[nlen] = '\0';
	memcpy(vbuf, value, vlen);
	vbuf[vlen] = '\0';
	if (strcmp(nbuf, ":status") == 0) {
		if (vlen != 3 || strspn(vbuf, "0123456789") != 3)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		/* 1xx are interim: the final status replaces it */
		st->status = atoi(vbuf);
	}
	if (st->cb.on_header != NULL)
		st->cb.on_header(st->cb.arg, nbuf, vbuf);
	return 0;
}

static int
cb_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
    size_t len, void *user)
{
	struct h2c_stream *st;

	(void)flags;
	(void)user;
	st = nghttp2_session_get_stream_user_data(s, id);
	if (st == NULL || st->canceled || st->cb.on_data == NULL)
		return 0;
	if (st->cb.on_data(st->cb.arg, data, len) != 0) {
		st->canceled = 1;
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id,
		    NGHTTP2_CANCEL);
	}
	return 0;
}

/*
 * A response is complete with the server's END_STREAM only: one that is
 * closed without it (RST_STREAM(NO_ERROR) in the middle of a body, which
 * RFC 9113 8.1 allows only after a complete response) is not.
 */
static int
cb_on_frame(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct h2c_stream *st;

	(void)user;
	if ((frame->hd.type != NGHTTP2_HEADERS &&
	    frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
	if (st != NULL)
		st->ended = 1;
	return 0;
}

static void
h2c_stream_unlink(struct h2c *c, struct h2c_stream *st)
{
	struct h2c_stream **pp;

	for (pp = &c->streams; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			return;
		}
	}
}

static int
cb_on_close(nghttp2_session *s, int32_t id, uint32_t error, void *user)
{
	struct h2c_stream *st;

	st = nghttp2_session_get_stream_user_data(s, id);
	if (st == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	h2c_stream_unlink(user, st);
	if (!st->canceled && st->cb.on_done != NULL)
		st->cb.on_done(st->cb.arg, st->status,
		    error != 0 || !st->ended ? 1 : 0);
	free(st);
	return 0;
}

static ssize_t
cb_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct h2c_stream *st = src->ptr;
	size_t n;

	(void)s;
	(void)id;
	(void)user;
	n = st->len - st->off;
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(buf, st->body + st->off, n);
	st->off += n;
	if (st->off == st->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int
h2c_session_new(struct h2c *c)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2C_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2C_HDR_MAX },
	};
	int rc = -1;

	if (nghttp2_session_callbacks_new(&cbs) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_header_callback(cbs, cb_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    cb_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    cb_on_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_on_frame);
	nghttp2_option_set_max_send_header_block_length(opt, H2C_HDR_MAX);
	if (nghttp2_session_client_new2(&c->sess, cbs, c, opt) != 0)
		goto out;
	if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv,
	    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE,
	    0, H2C_WINDOW) != 0)
		goto out;
	rc = 0;
out:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	return rc;
}

/* Connecting ------------------------------------------------------------ */

/* Starts a connect to c->cur; a new socket, opened before the old one
 * closes so that the owner sees the descriptor change. */
static int
h2c_connect_next(struct h2c *c)
{
	int fd, one = 1;

	for (; c->cur != NULL; c->cur = c->cur->ai_next) {
		fd = socket(c->cur->ai_family, c->cur->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, c->cur->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, c->cur->ai_addr, c->cur->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		if (c->fd != -1)
			close(c->fd);
		c->fd = fd;
		c->state = ST_CONNECT;
		return 0;
	}
	return -1;
}

/* Resolving ------------------------------------------------------------- */

static int
h2c_lookup(const char *host, const char *port, int flags,
    struct addrinfo **out)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG | flags;
	return getaddrinfo(host, port, &hints, out);
}

static void
h2c_resolve_unref(struct h2c_resolve *j)
{
	int last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	if (j->ai != NULL)
		freeaddrinfo(j->ai);
	close(j->efd);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *
h2c_resolve_thread(void *arg)
{
	struct h2c_resolve *j = arg;
	struct addrinfo *ai = NULL;
	uint64_t one = 1;
	int rc;

	rc = h2c_lookup(j->host, j->port, 0, &ai);
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->ai = ai;
	j->done = 1;
	pthread_mutex_unlock(&j->lock);
	if (write(j->efd, &one, sizeof(one)) == -1)
		log_debug("h2c: eventfd: %s", strerror(errno));
	h2c_resolve_unref(j);
	return NULL;
}

/* Starts resolving c->url.host on a thread: RESOLVE.  0 or -1. */
static int
h2c_resolve_start(struct h2c *c, const char *port)
{
	struct h2c_resolve *j;
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(j);
		return -1;
	}
	pthread_mutex_init(&j->lock, NULL);
	snprintf(j->host, sizeof(j->host), "%s", c->url.host);
	snprintf(j->port, sizeof(j->port), "%s", port);
	j->refs = 2;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, h2c_resolve_thread, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		j->refs = 1;
		h2c_resolve_unref(j);
		return -1;
	}
	c->res = j;
	c->fd = j->efd;
	c->state = ST_RESOLVE;
	return 0;
}

/* RESOLVE: 1 when resolved and connecting, 0 to wait, -1 on failure. */
static int
h2c_step_resolve(struct h2c *c)
{
	struct h2c_resolve *j = c->res;
	int done, rc = 0;

	pthread_mutex_lock(&j->lock);
	if ((done = j->done)) {
		rc = j->rc;
		c->ai = j->ai;
		j->ai = NULL;
	}
	pthread_mutex_unlock(&j->lock);
	if (!done)
		return 0;
	/* the job keeps efd open until the new socket is made: a new fd */
	c->fd = -1;
	c->cur = c->ai;
	if (rc == 0 && h2c_connect_next(c) == -1)
		h2c_fail(c, "connect %s: %s", c->url.authority,
		    strerror(errno));
	else if (rc != 0)
		h2c_fail(c, "%s: %s", c->url.host, gai_strerror(rc));
	c->res = NULL;
	h2c_resolve_unref(j);
	return c->state == ST_DEAD ? -1 : 1;
}

struct h2c *
h2c_new(struct tls_client *tc, const struct h2c_url *url)
{
	struct h2c *c;
	char port[8];
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = -1;
	c->tc = tc;
	c->url = *url;
	snprintf(port, sizeof(port), "%u", url->port);
	if (h2c_session_new(c) == -1) {
		log_warnx("h2c: out of memory");
		goto fail;
	}
	/* an address at once; a name on a thread of its own */
	rc = h2c_lookup(url->host, port, AI_NUMERICHOST, &c->ai);
	if (rc == EAI_NONAME) {
		if (h2c_resolve_start(c, port) == -1) {
			log_warn("h2c: cannot resolve %s", url->host);
			goto fail;
		}
		return c;
	}
	if (rc != 0) {
		log_warnx("h2c: %s: %s", url->host, gai_strerror(rc));
		goto fail;
	}
	c->cur = c->ai;
	if (h2c_connect_next(c) == -1) {
		log_warn("h2c: connect %s", url->authority);
		goto fail;
	}
	return c;
fail:
	h2c_free(c);
	return NULL;
}

void
h2c_free(struct h2c *c)
{
	struct h2c_stream *st;

	if (c == NULL)
		return;
	/* streams still open are freed without callbacks */
	c->state = ST_DEAD;
	nghttp2_session_del(c->sess);
	while ((st = c->streams) != NULL) {
		c->streams = st->next;
		free(st);
	}
	if (c->tls != NULL)
		tls_conn_free(c->tls);
	if (c->res != NULL)
		h2c_resolve_unref(c->res);	/* its efd is c->fd */
	else if (c->fd != -1)
		close(c->fd);
	if (c->ai != NULL)
		freeaddrinfo(c->ai);
	free(c->out);
	free(c);
}

int
h2c_fd(const struct h2c *c)
{
	return c->fd;
}

int
h2c_ready(const struct h2c *c)
{
	return c->state == ST_OPEN;
}

const char *
h2c_error(const struct h2c *c)
{
	return c->err[0] != '\0' ? c->err : "no error";
}

uint32_t
h2c_events(const struct h2c *c)
{
	switch (c->state) {
	case ST_RESOLVE:
		return EPOLLIN;
	case ST_CONNECT:
		return EPOLLOUT;
	case ST_HANDSHAKE:
		return c->tls_want == TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;
	case ST_OPEN:
		if (c->outoff < c->outlen)
			return c->tls_want == TLS_WANT_READ ? EPOLLIN :
			    EPOLLIN | EPOLLOUT;
		/* a read may need a write first (TLS key update) */
		return c->tls_want == TLS_WANT_WRITE ? EPOLLIN | EPOLLOUT :
		    EPOLLIN;
	default:
		return 0;
	}
}

/* Moves what nghttp2 has to send into TLS.  0, or -1 (dead). */
static int
h2c_flush(struct h2c *c)
{
	const uint8_t *data;
	ssize_t n;
	size_t need;
	uint8_t *p;

	if (c->state != ST_OPEN)
		return c->state == ST_DEAD ? -1 : 0;
	for (;;) {
		if (c->outoff < c->outlen) {
			n = tls_conn_write(c->tls, c->out + c->outoff,
			    c->outlen - c->outoff);
			if (n > 0) {
				c->outoff += (size_t)n;
				continue;
			}
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
				c->tls_want = (int)n;
				return 0;
			}
			h2c_fail(c, "TLS write failed");
			return -1;
		}
		c->outoff = c->outlen = 0;
		n = nghttp2_session_mem_send(c->sess, &data);
		if (n < 0) {
			h2c_fail(c, "HTTP/2: %s", nghttp2_strerror((int)n));
			return -1;
		}
		if (n == 0)
			break;
		need = (size_t)n;
		if (need > c->outcap) {
			if ((p = realloc(c->out, need)) == NULL) {
				h2c_fail(c, "out of memory");
				return -1;
			}
			c->out = p;
			c->outcap = need;
		}
		memcpy(c->out, data, need);
		c->outlen = need;
	}
	if (!nghttp2_session_want_read(c->sess) &&
	    !nghttp2_session_want_write(c->sess)) {
		h2c_fail(c, "connection closed (GOAWAY)");
		return -1;
	}
	return 0;
}

static int
h2c_read(struct h2c *c)
{
	uint8_t buf[H2C_READ_BUF];
	ssize_t n, m;

	for (;;) {
		n = tls_conn_read(c->tls, buf, sizeof(buf));
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
			c->tls_want = (int)n;
			return 0;
		}
		if (n == TLS_CLOSED) {
			h2c_fail(c, "closed by the server");
			return -1;
		}
		if (n < 0) {
			h2c_fail(c, "TLS read failed");
			return -1;
		}
		m = nghttp2_session_mem_recv(c->sess, buf, (size_t)n);
		if (m < 0) {
			h2c_fail(c, "HTTP/2: %s", nghttp2_strerror((int)m));
			return -1;
		}
		if (c->state == ST_DEAD)
			return -1;
	}
}

static int
h2c_step_connect(struct h2c *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return 0;
	if (err != 0) {
		c->cur = c->cur->ai_next;
		if (h2c_connect_next(c) == 0)
			return 0;
		h2c_fail(c, "connect %s: %s", c->url.authority,
		    strerror(err));
		return -1;
	}
	if ((c->tls = tls_conn_connect(c->tc, c->fd, c->url.host)) == NULL) {
		h2c_fail(c, "TLS setup failed");
		return -1;
	}
	c->state = ST_HANDSHAKE;
	c->tls_want = TLS_WANT_WRITE;
	return 1;
}

static int
h2c_step_handshake(struct h2c *c)
{
	int rc = tls_conn_handshake(c->tls);

	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
		c->tls_want = rc;
		return 0;
	}
	if (rc != 1) {
		h2c_fail(c, "TLS handshake with %s failed (certificate or "
		    "protocol)", c->url.authority);
		return -1;
	}
	if (tls_conn_alpn(c->tls) != TLS_ALPN_H2) {
		h2c_fail(c, "%s does not speak HTTP/2 (ALPN)",
		    c->url.authority);
		return -1;
	}
	c->state = ST_OPEN;
	c->tls_want = 0;
	return 1;
}

int
h2c_io(struct h2c *c)
{
	int rc;

	if (c->state == ST_RESOLVE) {
		/* the socket is new: the owner watches it from now on */
		if ((rc = h2c_step_resolve(c)) <= 0)
			return rc;
		return 0;
	}
	if (c->state == ST_CONNECT) {
		if ((rc = h2c_step_connect(c)) <= 0)
			return rc;
	}
	if (c->state == ST_HANDSHAKE) {
		if ((rc = h2c_step_handshake(c)) <= 0)
			return rc;
	}
	if (c->state != ST_OPEN)
		return -1;
	if (h2c_flush(c) == -1 || h2c_read(c) == -1 || h2c_flush(c) == -1)
		return -1;
	return 0;
}

int32_t
h2c_request(struct h2c *c, const char *method, const char *path,
    const struct h2c_header *hdrs, size_t nhdrs, const void *body,
    size_t len, const struct h2c_req_cb *cb)
{
	nghttp2_nv nv[16];
	nghttp2_data_provider prov;
	struct h2c_stream *st;
	const char *scheme = "https";
	size_t n = 0, i;
	int32_t id;

	if (c->state == ST_DEAD || nhdrs > 12)
		return -1;
#define NV(k, v) do {							\
	nv[n].name = (uint8_t *)(k);					\
	nv[n].namelen = strlen(k);					\
	nv[n].value = (uint8_t *)(v);					\
	nv[n].valuelen = strlen(v);					\
	nv[n].flags = NGHTTP2_NV_FLAG_NONE;				\
	n++;								\
} while (0)
	NV(":method", method);
	NV(":scheme", scheme);
	NV(":authority", c->url.authority);
	NV(":path", path);
	for (i = 0; i < nhdrs; i++)
		NV(hdrs[i].name, hdrs[i].value);
#undef NV
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->cb = *cb;
	st->body = body;
	st->len = len;
	prov.source.ptr = st;
	prov.read_callback = cb_read_body;
	id = nghttp2_submit_request(c->sess, NULL, nv, n,
	    body != NULL ? &prov : NULL, st);
	if (id < 0) {
		free(st);
		return -1;
	}
	st->next = c->streams;
	c->streams = st;
	if (h2c_flush(c) == -1)
		return -1;	/* the stream is freed with the session */
	return id;
}

void
h2c_cancel(struct h2c *c, int32_t id)
{
	struct h2c_stream *st;

	if (c == NULL || id <= 0 || c->state == ST_DEAD)
		return;
	st = nghttp2_session_get_stream_user_data(c->sess, id);
	if (st == NULL)
		return;
	st->canceled = 1;
	nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, id,
	    NGHTTP2_CANCEL);
	h2c_flush(c);
}

int
h2c_wait(struct h2c *c, int timeout_ms)
{
	struct pollfd pfd;
	uint32_t ev;
	int rc;

	if (c->state == ST_DEAD)
		return -1;
	ev = h2c_events(c);
	pfd.fd = c->fd;
	pfd.events = (short)((ev & EPOLLIN ? POLLIN : 0) |
	    (ev & EPOLLOUT ? POLLOUT : 0));
	pfd.revents = 0;
	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc == -1 && errno == EINTR);
	if (rc == -1) {
		h2c_fail(c, "poll: %s", strerror(errno));
		return -1;
	}
	if (rc == 0)
		return 0;
	return h2c_io(c) == -1 ? -1 : 1;
}
