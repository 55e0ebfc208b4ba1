/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_fetch.c: firmware by URL (src/ops/fetch.c), through fetch_firmware,
 * against an HTTP/2 server run by the test, with a real store.
 *
 * fetch_firmware blocks, so the server runs in a thread of its own: a
 * tls_server (src/tls, certificates from certs.h) and an nghttp2 server
 * session on 127.0.0.1, one connection at a time, as in test_h2client.
 * It answers by path, and the first request of a path may be cut after
 * CUT bytes of the body: the connection closed (after the bytes, so that
 * they arrive), the stream reset, or the transfer stalled.  Later
 * requests of that path are answered with Range as asked (206 with
 * Content-Range), or with a Range ignored (200), or with a Content-Range
 * that does not start where asked.  Every request is logged (path, Range,
 * Authorization) for the test to read.
 *
 * Covered: a good fetch (the image stored byte for byte, its digests, the
 * progress callback, the bearer token sent), a SHA-256 that does not
 * match (refused, nothing stored), 404, 401 and 503 (no retry for the
 * first two, giving up after the attempts for the third), an image over
 * firmware_max_size, a URL that is not https and a server certificate
 * from another CA, and the resumption fetch.c promises: after a closed
 * connection, a reset stream and a stall, the next request asks for
 * "bytes=CUT-" and the image is complete without a byte sent twice; a
 * server that ignores Range makes the upload start over; a Content-Range
 * that does not start at CUT is not used; a server that goes away after
 * a partial transfer is given up after the attempts.  "Nothing stored"
 * means no firmware record and no file (temporary ones included) in
 * DIR/images.
 *
 * Every fetch ends: a server that answers 200 to each Range and breaks
 * off after CUT bytes each time runs out of attempts (a start over is no
 * progress), with pauses of a second or more between them; a stalled
 * transfer ends at the deadline, or at once when the cancel flag is
 * raised; bad parameters are refused before any connection.  URLs are
 * shown without their query or user name (fetch_url_redact), and the
 * error messages never carry the query.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "log.h"
#include "ops/fetch.h"
#include "ops/ops.h"
#include "store/image.h"
#include "tls/tls.h"
#include "certs.h"
#include "corefix.h"
#include "t.h"

#define IMG		60000		/* the image served */
#define CUT		20000		/* bytes before an interruption */
#define BIG		120000		/* over firmware_max_size */
#define MAX_SIZE	100000

static struct corefix f;
static struct ops ops;
static char dir[256];
static struct tls_server *tls_srv;
static uint8_t big[BIG];

/* The server --------------------------------------------------------------- */

enum cut {
	CUT_NONE = 0,
	CUT_CLOSE,		/* the connection ends (FIN after the bytes) */
	CUT_RESET,		/* RST_STREAM(INTERNAL_ERROR) */
	CUT_STALL,		/* nothing more, the connection stays */
	CUT_DIE,		/* the connection ends and nobody listens */
};

/* What a later request of the path gets. */
enum again {
	AGAIN_RANGE = 0,	/* 206 from the offset asked for */
	AGAIN_FULL,		/* 200, the whole image: Range ignored */
	AGAIN_BAD_RANGE,	/* 206, but from 0 */
	AGAIN_CUT,		/* 200 from 0 and the same cut, every time */
};

/* The paths: their status and body, how the first request ends. */
static const struct route {
	const char *path;
	int	 status;
	int	 cut;		/* enum cut, for the first request */
	int	 again;		/* enum again */
	int	 token;		/* 401 without "Bearer tok" */
} routes[] = {
	{ "/fw.bin", 200, CUT_NONE, AGAIN_RANGE, 0 },
	{ "/close.bin", 200, CUT_CLOSE, AGAIN_RANGE, 0 },
	{ "/reset.bin", 200, CUT_RESET, AGAIN_RANGE, 0 },
	{ "/stall.bin", 200, CUT_STALL, AGAIN_RANGE, 0 },
	{ "/norange.bin", 200, CUT_CLOSE, AGAIN_FULL, 0 },
	{ "/badrange.bin", 200, CUT_CLOSE, AGAIN_BAD_RANGE, 0 },
	{ "/die.bin", 200, CUT_DIE, AGAIN_RANGE, 0 },
	{ "/auth.bin", 200, CUT_NONE, AGAIN_RANGE, 1 },
	{ "/big.bin", 200, CUT_NONE, AGAIN_RANGE, 0 },
	{ "/busy.bin", 503, CUT_NONE, AGAIN_RANGE, 0 },
	{ "/restart.bin", 200, CUT_RESET, AGAIN_CUT, 0 },
};

#define NLOG	16

struct srv_stream {
	int32_t	 id;
	char	 path[64];
	char	 range[64];
	char	 auth[64];
	const uint8_t *out;	/* the body */
	size_t	 out_len, out_off;
	size_t	 cut_at;	/* defer the body here (0: never) */
	int	 cut;		/* enum cut */
	int	 cut_done;
};

static struct {
	pthread_t thread;
	pthread_mutex_t lock;	/* everything here, while a step runs */
	int	 stop;
	int	 lfd;
	unsigned port;
	int	 fd;
	struct tls_conn *tls;
	int	 tls_done;
	int	 half;		/* shut for writing: read until the end */
	nghttp2_session *s;
	struct srv_stream st[8];
	size_t	 nst;
	uint8_t	 pend[65536];
	size_t	 pend_len;
	/* the log, reset by each test */
	struct srv_stream log[NLOG];
	size_t	 nlog;
	uint64_t body_bytes;	/* body bytes handed to nghttp2 */
	unsigned connections;
} sv;

static const struct route *
route_of(const char *path)
{
	size_t	 i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(routes[i].path, path) == 0)
			return &routes[i];
	return NULL;
}

/* Requests of path logged before this one. */
static size_t
seen_before(const char *path)
{
	size_t	 i, n = 0;

	for (i = 0; i + 1 < sv.nlog; i++)
		if (strcmp(sv.log[i].path, path) == 0)
			n++;
	return n;
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
	size_t	 end = st->out_len, n;

	(void)s;
	(void)id;
	(void)arg;
	if (st->cut_at > 0 && !st->cut_done)
		end = st->cut_at;
	if (st->out_off == end) {
		st->cut_done = 1;
		return NGHTTP2_ERR_DEFERRED;
	}
	n = end - st->out_off;
	if (n > len)
		n = len;
	memcpy(buf, st->out + st->out_off, n);
	st->out_off += n;
	sv.body_bytes += n;
	if (st->out_off == st->out_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void
sv_respond(struct srv_stream *st, int status, const uint8_t *body,
    size_t off, size_t len, size_t total)
{
	char	 code[8], clen[24], crange[80];
	nghttp2_nv nv[3];
	nghttp2_data_provider prd;
	size_t	 n = 0;

#define NV(k, v) do {							\
	nv[n].name = (uint8_t *)(k);					\
	nv[n].namelen = strlen(k);					\
	nv[n].value = (uint8_t *)(v);					\
	nv[n].valuelen = strlen(v);					\
	nv[n].flags = NGHTTP2_NV_FLAG_NONE;				\
	n++;								\
} while (0)
	snprintf(code, sizeof(code), "%d", status);
	NV(":status", code);
	snprintf(clen, sizeof(clen), "%zu", len);
	NV("content-length", clen);
	if (status == 206) {
		snprintf(crange, sizeof(crange), "bytes %zu-%zu/%zu", off,
		    off + len - 1, total);
		NV("content-range", crange);
	}
#undef NV
	st->out = body + off;
	st->out_len = len;
	st->out_off = 0;
	prd.source.ptr = st;
	prd.read_callback = sv_body_cb;
	nghttp2_submit_response(sv.s, st->id, nv, n, len > 0 ? &prd : NULL);
}

/* The request is in: log it, answer by path. */
static void
sv_request(struct srv_stream *st)
{
	const struct route *r = route_of(st->path);
	const uint8_t *body = r != NULL && strcmp(r->path, "/big.bin") == 0 ?
	    big : f.image;
	size_t	 total = body == big ? BIG : IMG;
	unsigned long long from;

	if (sv.nlog < NLOG)
		sv.log[sv.nlog++] = *st;
	if (r == NULL) {
		sv_respond(st, 404, NULL, 0, 0, 0);
		return;
	}
	if (r->status != 200 || (r->token && strcmp(st->auth,
	    "Bearer tok") != 0)) {
		sv_respond(st, r->status != 200 ? r->status : 401,
		    (const uint8_t *)"no", 0, 2, 2);
		return;
	}
	if ((seen_before(st->path) == 0 || r->again == AGAIN_CUT) &&
	    r->cut != CUT_NONE) {
		st->cut = r->cut;
		st->cut_at = CUT;
		sv_respond(st, 200, body, 0, total, total);
		return;
	}
	if (st->range[0] == '\0' || r->again == AGAIN_FULL ||
	    sscanf(st->range, "bytes=%llu-", &from) != 1 || from >= total) {
		sv_respond(st, 200, body, 0, total, total);
		return;
	}
	if (r->again == AGAIN_BAD_RANGE)
		from = 0;
	sv_respond(st, 206, body, (size_t)from, total - (size_t)from, total);
}

static int
sv_header_cb(nghttp2_session *s, const nghttp2_frame *frame,
    const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen,
    uint8_t flags, void *arg)
{
	struct srv_stream *st;
	char	*to = NULL;

	(void)s;
	(void)flags;
	(void)arg;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    (st = sv_stream(frame->hd.stream_id)) == NULL)
		return 0;
	if (nlen == 5 && memcmp(name, ":path", 5) == 0)
		to = st->path;
	else if (nlen == 5 && memcmp(name, "range", 5) == 0)
		to = st->range;
	else if (nlen == 13 && memcmp(name, "authorization", 13) == 0)
		to = st->auth;
	if (to != NULL)
		snprintf(to, 64, "%.*s", (int)vlen, value);
	return 0;
}

static int
sv_frame_cb(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
	struct srv_stream *st;

	(void)s;
	(void)arg;
	if ((frame->hd.type == NGHTTP2_HEADERS ||
	    frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    (st = sv_stream(frame->hd.stream_id)) != NULL)
		sv_request(st);
	return 0;
}

static void
sv_listen(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

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
	sv.half = 0;
	sv.pend_len = 0;
	sv.nst = 0;
}

static void
sv_session(void)
{
	nghttp2_session_callbacks *cb;

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, sv_header_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, sv_frame_cb);
	nghttp2_session_server_new(&sv.s, cb, NULL);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(sv.s, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* A stream has sent its bytes up to the cut, and they are out: act. */
static void
sv_cut(void)
{
	size_t	 i;

	if (sv.pend_len > 0 || nghttp2_session_want_write(sv.s))
		return;
	for (i = 0; i < sv.nst; i++) {
		struct srv_stream *st = &sv.st[i];

		if (st->cut == CUT_NONE || !st->cut_done)
			continue;
		switch (st->cut) {
		case CUT_DIE:
			close(sv.lfd);
			sv.lfd = -1;
			/* FALLTHROUGH */
		case CUT_CLOSE:
			shutdown(sv.fd, SHUT_WR);
			sv.half = 1;
			break;
		case CUT_RESET:
			nghttp2_submit_rst_stream(sv.s, NGHTTP2_FLAG_NONE,
			    st->id, NGHTTP2_INTERNAL_ERROR);
			break;
		default:
			break;		/* CUT_STALL: wait */
		}
		st->cut = CUT_NONE;
	}
}

/* Writes what nghttp2 has, as far as TLS takes it. */
static void
sv_write(void)
{
	const uint8_t *d;
	ssize_t	 n;

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
		if (n <= 0 || (size_t)n > sizeof(sv.pend))
			return;
		memcpy(sv.pend, d, (size_t)n);
		sv.pend_len = (size_t)n;
	}
}

/* Moves what can move now: accept, handshake, read, answer, write. */
static void
sv_step(void)
{
	uint8_t	 buf[16384];
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
		if (n != 1) {
			if (n == TLS_ERROR)
				sv_drop();
			return;
		}
		sv.tls_done = 1;
		sv_session();
	}
	while ((n = tls_conn_read(sv.tls, buf, sizeof(buf))) > 0)
		if (!sv.half && nghttp2_session_mem_recv(sv.s, buf,
		    (size_t)n) < 0) {
			sv_drop();
			return;
		}
	if (n == TLS_CLOSED || n == TLS_ERROR) {
		sv_drop();
		return;
	}
	if (sv.half)
		return;
	sv_write();
	sv_cut();
	sv_write();
}

static void *
sv_main(void *arg)
{
	struct pollfd p;
	int	 stop = 0;

	(void)arg;
	while (!stop) {
		pthread_mutex_lock(&sv.lock);
		p.fd = sv.fd != -1 ? sv.fd : sv.lfd;
		p.events = POLLIN | (sv.pend_len > 0 ? POLLOUT : 0);
		pthread_mutex_unlock(&sv.lock);
		(void)poll(&p, p.fd != -1 ? 1 : 0, 5);
		pthread_mutex_lock(&sv.lock);
		sv_step();
		stop = sv.stop;
		pthread_mutex_unlock(&sv.lock);
	}
	return NULL;
}

static void
sv_start(void)
{
	sv.fd = -1;
	sv_listen();
	pthread_mutex_init(&sv.lock, NULL);
	if (pthread_create(&sv.thread, NULL, sv_main, NULL) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		exit(1);
	}
}

static void
sv_stop(void)
{
	pthread_mutex_lock(&sv.lock);
	sv.stop = 1;
	pthread_mutex_unlock(&sv.lock);
	pthread_join(sv.thread, NULL);
	sv_drop();
	if (sv.lfd != -1)
		close(sv.lfd);
	pthread_mutex_destroy(&sv.lock);
}

/* A new log (and a listener again, after /die.bin). */
static void
sv_reset(void)
{
	pthread_mutex_lock(&sv.lock);
	sv.nlog = 0;
	sv.body_bytes = 0;
	sv.connections = 0;
	if (sv.lfd == -1)
		sv_listen();
	pthread_mutex_unlock(&sv.lock);
}

/* The client's side -------------------------------------------------------- */

static uint8_t sha_img[32], sha_big[32];
static uint64_t prog_done, prog_total;
static unsigned prog_calls, prog_backwards;

static void
progress_cb(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	if (done < prog_done)
		prog_backwards++;	/* the upload started over */
	prog_done = done;
	prog_total = total;
	prog_calls++;
}

static size_t
count_firmware(void)
{
	struct ops_fw_item *items = NULL;
	struct ops_err err;
	size_t	 n = 0;

	if (ops_firmware_list(&ops, NULL, &items, &n, NULL, &err) != OPS_OK)
		return (size_t)-1;
	free(items);
	return n;
}

/* Files in DIR/images, temporary ones included. */
static size_t
count_images(void)
{
	char	 path[512];
	struct dirent *de;
	DIR	*d;
	size_t	 n = 0;

	snprintf(path, sizeof(path), "%s/images", f.dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

struct try {
	const char *path;	/* on the test server */
	const char *ca;		/* "ca.pem" when NULL */
	const char *token;
	unsigned attempts;	/* 0: the default */
	unsigned timeout_s;
	const uint8_t *sha;	/* sha_img when NULL */
};

/* For the next fetch only: its deadline (0: the default), its product. */
static unsigned next_deadline_s;
static const char *next_product;
static atomic_int cancel_flag;

/*
 * Fetches t's path as firmware lamp/version: the ops status, the
 * firmware in *out, the message in err.
 */
static int
fetch(const struct try *t, const char *version, struct firmware_rec *out,
    struct ops_err *err)
{
	struct ops_fw_params p;
	struct fetch_opts o;
	char	 url[128];

	memset(&p, 0, sizeof(p));
	p.product = next_product != NULL ? next_product : "lamp";
	p.version = version;
	memset(&o, 0, sizeof(o));
	o.deadline_s = next_deadline_s;
	o.cancel = &cancel_flag;
	next_product = NULL;
	next_deadline_s = 0;
	o.ca_file = certs_path(dir, t->ca != NULL ? t->ca : "ca.pem");
	o.token = t->token;
	o.attempts = t->attempts;
	o.timeout_s = t->timeout_s;
	o.progress = progress_cb;
	prog_done = prog_total = 0;
	prog_calls = prog_backwards = 0;
	pthread_mutex_lock(&sv.lock);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", sv.port,
	    t->path);
	pthread_mutex_unlock(&sv.lock);
	memset(out, 0, sizeof(*out));
	return fetch_firmware(&ops, &p, url, t->sha != NULL ? t->sha :
	    sha_img, &o, out, err);
}

/* The firmware is stored, and its image is f.image's first IMG bytes. */
static int
stored_ok(const struct firmware_rec *fw)
{
	const struct store_image *img = NULL;
	struct ops_fw_item it;
	struct ops_err err;
	int	 ok;

	if (ops_firmware_show(&ops, fw->id, &it, &err) != OPS_OK ||
	    it.fw.size != IMG || memcmp(it.fw.sha256, sha_img, 32) != 0 ||
	    store_image_open(f.st, fw->id, &img) != 0)
		return 0;
	ok = img->size == IMG && memcmp(img->data, f.image, IMG) == 0;
	store_image_unref(img);
	return ok;
}

/* The i-th request's Range ("" for none). */
static const char *
logged_range(size_t i)
{
	static char r[64];

	pthread_mutex_lock(&sv.lock);
	snprintf(r, sizeof(r), "%s", i < sv.nlog ? sv.log[i].range : "?");
	pthread_mutex_unlock(&sv.lock);
	return r;
}

static size_t
logged(void)
{
	size_t	 n;

	pthread_mutex_lock(&sv.lock);
	n = sv.nlog;
	pthread_mutex_unlock(&sv.lock);
	return n;
}

static uint64_t
served(void)
{
	uint64_t n;

	pthread_mutex_lock(&sv.lock);
	n = sv.body_bytes;
	pthread_mutex_unlock(&sv.lock);
	return n;
}

/* Tests -------------------------------------------------------------------- */

static void
test_good(void)
{
	struct try t = { "/fw.bin", NULL, NULL, 0, 0, NULL };
	struct try ta = { "/auth.bin", NULL, "tok", 0, 0, NULL };
	struct firmware_rec fw;
	struct ops_err err;
	size_t	 nfw = count_firmware(), nimg = count_images();

	sv_reset();
	T_EQ_INT(fetch(&t, "5.0.1", &fw, &err), OPS_OK);
	T_EQ_STR(err.msg, "");
	T_CHECK(stored_ok(&fw));
	T_EQ_STR(fw.version, "5.0.1");
	T_EQ_INT(count_firmware(), nfw + 1);
	T_EQ_INT(count_images(), nimg + 1);
	T_EQ_INT(logged(), 1);
	T_EQ_STR(logged_range(0), "");
	T_EQ_INT(served(), IMG);
	T_CHECK(prog_calls > 0);
	T_EQ_INT(prog_done, IMG);
	T_EQ_INT(prog_total, IMG);
	T_EQ_INT(prog_backwards, 0);
	/* with the bearer token the server wants */
	sv_reset();
	T_EQ_INT(fetch(&ta, "5.0.2", &fw, &err), OPS_OK);
	T_CHECK(stored_ok(&fw));
	pthread_mutex_lock(&sv.lock);
	T_EQ_STR(sv.log[0].auth, "Bearer tok");
	pthread_mutex_unlock(&sv.lock);
}

/* Refused fetches: their status, their message, nothing stored. */
static void
test_refused(void)
{
	static const uint8_t zero[32];
	static const struct {
		const char *what;
		struct try t;
		int	 status;
		const char *msg;
		size_t	 requests;
	} cases[] = {
		{ "wrong SHA-256", { "/fw.bin", NULL, NULL, 0, 0, zero },
		  OPS_EINVAL, "does not match", 1 },
		{ "404", { "/missing.bin", NULL, NULL, 0, 0, NULL },
		  OPS_EIO, "answered 404", 1 },
		{ "401", { "/auth.bin", NULL, NULL, 0, 0, NULL },
		  OPS_EIO, "answered 401", 1 },
		{ "wrong token", { "/auth.bin", NULL, "kot", 0, 0, NULL },
		  OPS_EIO, "answered 401", 1 },
		{ "503, once", { "/busy.bin", NULL, NULL, 1, 0, NULL },
		  OPS_EIO, "giving up after 1 attempts", 1 },
		{ "too large", { "/big.bin", NULL, NULL, 0, 0, sha_big },
		  OPS_ETOOLARGE, "firmware_max_size", 1 },
		{ "another CA", { "/fw.bin", "other-ca.pem", NULL, 1, 0,
		  NULL }, OPS_EIO, "giving up after 1 attempts", 0 },
	};
	struct firmware_rec fw;
	struct ops_err err;
	size_t	 i, nfw = count_firmware(), nimg = count_images();
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sv_reset();
		rc = fetch(&cases[i].t, "6.0.0", &fw, &err);
		if (rc != cases[i].status || strstr(err.msg,
		    cases[i].msg) == NULL)
			fprintf(stderr, "%s: %d %s\n", cases[i].what, rc,
			    err.msg);
		T_EQ_INT(rc, cases[i].status);
		T_EQ_INT(err.status, cases[i].status);
		T_CHECK(strstr(err.msg, cases[i].msg) != NULL);
		T_EQ_INT(logged(), cases[i].requests);
		T_EQ_INT(count_firmware(), nfw);
		T_EQ_INT(count_images(), nimg);
	}
	/* not an https URL: refused before any connection */
	{
		struct ops_fw_params p = { .product = "lamp",
		    .version = "6.0.0" };

		sv_reset();
		T_EQ_INT(fetch_firmware(&ops, &p, "http://127.0.0.1/fw.bin",
		    sha_img, NULL, &fw, &err), OPS_EINVAL);
		T_CHECK(strstr(err.msg, "not an https URL") != NULL);
		T_EQ_INT(logged(), 0);
	}
	T_EQ_INT(count_firmware(), nfw);
}

/*
 * Interrupted transfers resume with Range from where they stopped: the
 * second request asks for "bytes=CUT-", the server sends each byte once,
 * and the progress never goes back.
 */
static void
test_resume(void)
{
	static const struct {
		const char *what;
		struct try t;
	} cases[] = {
		{ "connection closed", { "/close.bin", NULL, NULL, 0, 0,
		  NULL } },
		{ "stream reset", { "/reset.bin", NULL, NULL, 0, 0, NULL } },
		{ "stalled", { "/stall.bin", NULL, NULL, 0, 1, NULL } },
	};
	struct firmware_rec fw;
	struct ops_err err;
	char	 version[16], want[32];
	size_t	 i;

	snprintf(want, sizeof(want), "bytes=%d-", CUT);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sv_reset();
		snprintf(version, sizeof(version), "7.0.%zu", i);
		if (fetch(&cases[i].t, version, &fw, &err) != OPS_OK)
			fprintf(stderr, "%s: %s\n", cases[i].what, err.msg);
		T_EQ_INT(err.status, OPS_OK);
		T_CHECK(stored_ok(&fw));
		T_EQ_INT(logged(), 2);
		T_EQ_STR(logged_range(0), "");
		T_EQ_STR(logged_range(1), want);
		T_EQ_INT(served(), IMG);
		T_EQ_INT(prog_done, IMG);
		T_EQ_INT(prog_backwards, 0);
	}
}

/*
 * A server that ignores Range (200 again): the upload starts over.  One
 * whose Content-Range does not start at the offset asked for: that
 * answer is dropped and the next request asks for the whole image.
 */
static void
test_resume_refused(void)
{
	struct try nr = { "/norange.bin", NULL, NULL, 0, 0, NULL };
	struct try br = { "/badrange.bin", NULL, NULL, 0, 0, NULL };
	struct firmware_rec fw;
	struct ops_err err;
	char	 want[32];

	snprintf(want, sizeof(want), "bytes=%d-", CUT);
	sv_reset();
	T_EQ_INT(fetch(&nr, "8.0.0", &fw, &err), OPS_OK);
	T_CHECK(stored_ok(&fw));
	T_EQ_INT(logged(), 2);
	T_EQ_STR(logged_range(1), want);
	T_EQ_INT(served(), CUT + IMG);
	T_EQ_INT(prog_backwards, 1);
	T_EQ_INT(prog_done, IMG);

	sv_reset();
	T_EQ_INT(fetch(&br, "8.0.1", &fw, &err), OPS_OK);
	T_CHECK(stored_ok(&fw));
	T_EQ_INT(logged(), 3);
	T_EQ_STR(logged_range(0), "");
	T_EQ_STR(logged_range(1), want);
	T_EQ_STR(logged_range(2), "");
	T_EQ_INT(prog_done, IMG);
}

/*
 * The server goes away after part of the image: the connections that
 * follow are refused, and fetch gives up after its attempts, leaving
 * nothing behind.
 */
static void
test_server_gone(void)
{
	struct try t = { "/die.bin", NULL, NULL, 2, 1, NULL };
	struct firmware_rec fw;
	struct ops_err err;
	size_t	 nfw = count_firmware(), nimg = count_images();

	sv_reset();
	alarm(30);	/* a fetch that never gives up fails the test */
	T_EQ_INT(fetch(&t, "9.0.0", &fw, &err), OPS_EIO);
	alarm(0);
	T_CHECK(strstr(err.msg, "giving up after 2 attempts without "
	    "progress") != NULL);
	T_EQ_INT(logged(), 1);
	T_EQ_INT(prog_done, CUT);
	T_EQ_INT(count_firmware(), nfw);
	T_EQ_INT(count_images(), nimg);
	sv_reset();	/* listening again */
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A server that ignores Range and resets the stream after CUT bytes,
 * every time: each answer after the first starts over, which is no
 * progress, so the fetch gives up after its attempts (it used to retry
 * for ever), at least a second apart.
 */
static void
test_restarts_bounded(void)
{
	struct try t = { "/restart.bin", NULL, NULL, 2, 5, NULL };
	struct firmware_rec fw;
	struct ops_err err;
	size_t	 nfw = count_firmware(), nimg = count_images();
	int64_t	 t0;

	sv_reset();
	alarm(30);	/* a fetch that never gives up fails the test */
	t0 = mono_ms();
	T_EQ_INT(fetch(&t, "10.0.0", &fw, &err), OPS_EIO);
	alarm(0);
	T_CHECK(strstr(err.msg, "giving up after 2 attempts without "
	    "progress (3 in all") != NULL);
	T_CHECK(strstr(err.msg, "Range ignored") != NULL);
	T_EQ_INT(logged(), 3);
	T_CHECK(mono_ms() - t0 >= 2000);	/* two pauses of 1 s */
	T_EQ_INT(count_firmware(), nfw);
	T_EQ_INT(count_images(), nimg);
}

/* A stalled transfer (timeout 30 s) ends at a deadline of 1 s. */
static void
test_deadline(void)
{
	struct try t = { "/stall.bin", NULL, NULL, 0, 30, NULL };
	struct firmware_rec fw;
	struct ops_err err;
	size_t	 nfw = count_firmware(), nimg = count_images();
	int64_t	 t0, ms;

	sv_reset();
	t0 = mono_ms();
	next_deadline_s = 1;
	T_EQ_INT(fetch(&t, "11.0.0", &fw, &err), OPS_EIO);
	ms = mono_ms() - t0;
	T_CHECK(strstr(err.msg, "time limit (1s)") != NULL);
	T_CHECK(ms >= 1000 && ms < 3000);
	T_EQ_INT(logged(), 1);
	T_EQ_INT(count_firmware(), nfw);
	T_EQ_INT(count_images(), nimg);
}

static void *
cancel_later(void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	(void)arg;
	nanosleep(&ts, NULL);
	atomic_store(&cancel_flag, 1);
	return NULL;
}

/* The cancel flag ends a stalled transfer at once, nothing stored. */
static void
test_cancel(void)
{
	struct try t = { "/stall.bin", NULL, NULL, 0, 30, NULL };
	struct firmware_rec fw;
	struct ops_err err;
	size_t	 nfw = count_firmware(), nimg = count_images();
	pthread_t th;
	int64_t	 t0, ms;

	sv_reset();
	atomic_store(&cancel_flag, 0);
	t0 = mono_ms();
	T_EQ_INT(pthread_create(&th, NULL, cancel_later, NULL), 0);
	T_EQ_INT(fetch(&t, "12.0.0", &fw, &err), OPS_EIO);
	ms = mono_ms() - t0;
	pthread_join(th, NULL);
	atomic_store(&cancel_flag, 0);
	T_CHECK(strstr(err.msg, "cancelled") != NULL);
	T_CHECK(ms < 1500);
	T_EQ_INT(count_firmware(), nfw);
	T_EQ_INT(count_images(), nimg);
}

/*
 * Bad parameters are refused before any connection; a URL's query (a
 * pre-signed URL's credentials) is in no message.
 */
static void
test_early_refusals(void)
{
	struct try t = { "/fw.bin", NULL, NULL, 0, 0, NULL };
	struct try q = { "/missing.bin?X-Amz-Signature=s3cr3t", NULL, NULL, 0,
	    0, NULL };
	struct ops_fw_params p = { .product = "lamp", .version = "13.0.0" };
	struct firmware_rec fw;
	struct ops_err err;

	sv_reset();
	next_product = "bad prod";
	T_EQ_INT(fetch(&t, "13.0.0", &fw, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "invalid product") != NULL);
	T_EQ_INT(fetch(&t, "../../etc", &fw, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "invalid version") != NULL);
	T_EQ_INT(logged(), 0);
	T_EQ_INT(fetch(&q, "13.0.0", &fw, &err), OPS_EIO);
	T_CHECK(strstr(err.msg, "answered 404") != NULL);
	T_CHECK(strstr(err.msg, "s3cr3t") == NULL);
	T_EQ_INT(fetch_firmware(&ops, &p, "http://h/x?X-Amz-Signature=s3cr3t",
	    sha_img, NULL, &fw, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "not an https URL") != NULL);
	T_CHECK(strstr(err.msg, "s3cr3t") == NULL);
	T_EQ_INT(fetch_firmware(&ops, &p, "https://u:s3cr3t@h/x", sha_img,
	    NULL, &fw, &err), OPS_EINVAL);
	T_CHECK(strstr(err.msg, "s3cr3t") == NULL);
}

static void
test_redact(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "https://h.example/a/b.bin", "https://h.example/a/b.bin" },
		{ "https://h.example:8443/b.bin?X-Amz-Signature=abc&x=1",
		  "https://h.example:8443/b.bin?..." },
		{ "https://u:pw@h.example/b.bin#frag",
		  "https://h.example/b.bin?..." },
		{ "https://[::1]:9/p?q", "https://[::1]:9/p?..." },
		{ "https://h.example?sig=1", "https://h.example?..." },
		{ "https://u@h.example", "https://h.example" },
		/* unencoded '/' and '?' in a password: nothing of it shown */
		{ "https://user:pa/ss@h.example/x", "https://h.example/x" },
		{ "https://u:p?w@h.example/x", "https://u:p?..." },
		{ "h.example/p?sig=1", "h.example/p?..." },
		{ "", "" },
	};
	char	 out[64], tiny[8];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fetch_url_redact(cases[i].in, out, sizeof(out));
		T_EQ_STR(out, cases[i].out);
	}
	fetch_url_redact("https://h.example/p?sig=1", tiny, sizeof(tiny));
	T_EQ_STR(tiny, "https:/");
	fetch_url_redact(NULL, out, sizeof(out));
	T_EQ_STR(out, "");
}

int
main(void)
{
	struct digest *dg;
	uint8_t	 md5[16];
	size_t	 i;

	log_init("test_fetch", 1, LOG_LEVEL_WARN);
	signal(SIGPIPE, SIG_IGN);
	corefix_up(&f, "fetch");
	f.cfg.firmware_max_size = MAX_SIZE;
	ops_init(&ops, f.st, &f.cfg);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	dg = digest_new();
	digest_update(dg, f.image, IMG);
	digest_final(dg, md5, sha_img);
	digest_free(dg);
	dg = digest_new();
	digest_update(dg, big, BIG);
	digest_final(dg, md5, sha_big);
	digest_free(dg);
	t_tmpdir_make(dir, sizeof(dir), "fetch");
	if (certs_make(dir) == -1 || (tls_srv = tls_server_new(
	    certs_path(dir, "server.pem"), certs_path(dir, "server.key"),
	    NULL)) == NULL) {
		t_tmpdir_remove(dir);
		corefix_down(&f);
		return 1;
	}
	sv_start();

	T_RUN(test_good);
	T_RUN(test_refused);
	T_RUN(test_resume);
	T_RUN(test_resume_refused);
	T_RUN(test_server_gone);
	T_RUN(test_restarts_bounded);
	T_RUN(test_deadline);
	T_RUN(test_cancel);
	T_RUN(test_early_refusals);
	T_RUN(test_redact);

	sv_stop();
	tls_server_free(tls_srv);
	t_tmpdir_remove(dir);
	corefix_down(&f);
	return t_done();
}
