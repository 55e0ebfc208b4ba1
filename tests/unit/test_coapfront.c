/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_coapfront.c: the CoAP message layer (src/coap/coapfront.c) through
 * its own interface, on a real event loop (src/ev.h), with a real core
 * and store (corefix.h).
 *
 * coapfront_new binds the coap and coaps listeners on 127.0.0.1, port 0
 * (coapfront_port tells which ports they got); the test speaks to them
 * from plain UDP sockets with datagrams built by coapbuf and reads the
 * answers back with libcoap's parser (coap/msg.h), running the loop until
 * an answer is there or a deadline passes.  Where nothing must come back,
 * a ping follows and its reset must be the next datagram: the listener
 * reads one socket in order, so that needs no sleeping.
 *
 * Covered: piggy-backed ACKs with the request's message id and token
 * (2.05 with the notice, 2.04, 4.04, 4.05), a NON request answered by a
 * NON, a confirmable POST sent again with the same message id answered
 * with the same bytes and no second core call (the device's last_seen and
 * the outbox stay as they were, the retransmission counter moves), the
 * same message id from another peer answered on its own, a ping and a
 * response sent to the server answered with RST, ACK, RST, NON pings and
 * garbage ignored and counted as malformed (a confirmable message that
 * does not parse gets RST), a datagram over the read buffer (4.13), a
 * Block2 download compared byte for byte, the session timer forgetting
 * an idle peer (coapfront_set_config), DTLS-PSK on coaps (an OpenSSL
 * client here: the handshake, a check with the notice's coaps URL, a
 * wrong key refused and counted, plain CoAP on the coaps port ignored),
 * observations of /ota/{device}/notice (the notification a new job
 * brings, its ACK, a reset ending one, a retransmission, over DTLS, the
 * session's timeout ending them), and coapfront_drain closing the
 * sockets.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "coap/coapfront.h"
#include "coap/msg.h"
#include "ev.h"
#include "log.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "core/watch.h"
#include "corefix.h"
#include "t.h"

#define IMG		5000
#define WAIT_MS		3000	/* for an answer that must come */
#define C(c, d)		COAPMSG_CODE(c, d)
#define POST		COAPMSG_POST
#define GET		COAPMSG_GET
#define CON		COAPMSG_CON
#define NON		COAPMSG_NON

static struct corefix f;
static struct ev *ev;
static struct metrics *mx;
static struct coapfront *cf;
static struct coapmsg_parser *parser;
static struct firmware_rec fw1;
static unsigned coap_port, coaps_port;

/* The event loop, run for the test's sockets ------------------------------ */

static void
stop_cb(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	ev_stop(ev);
}

static void
deadline_cb(void *arg)
{
	*(struct ev_timer **)arg = NULL;
	ev_stop(ev);
}

static int
readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1;
}

/*
 * Runs the loop until fd (registered with stop_cb) can be read, or ms
 * pass.  1 readable, 0 not.
 */
static int
wait_readable(int fd, int ms)
{
	struct ev_timer *t;
	int64_t	 end = ev_now_ms() + ms, left;

	while (!readable(fd)) {
		if ((left = end - ev_now_ms()) <= 0)
			return 0;
		t = ev_timer_add(ev, left, deadline_cb, &t);
		ev_run(ev);
		if (t != NULL)
			ev_timer_cancel(ev, t);
	}
	return 1;
}

/* Runs the loop for about ms (the session timer). */
static void
run_for(int ms)
{
	struct ev_timer *t = ev_timer_add(ev, ms, deadline_cb, &t);

	ev_run(ev);
	if (t != NULL)
		ev_timer_cancel(ev, t);
}

/* A UDP socket connected to 127.0.0.1:port, registered with the loop. */
static int
peer_open(unsigned port)
{
	struct sockaddr_in sin;
	int	 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || ev_fd_add(ev, fd, EPOLLIN, stop_cb,
	    NULL) == -1) {
		perror("peer_open");
		exit(1);
	}
	return fd;
}

static void
peer_close(int fd)
{
	ev_fd_del(ev, fd);
	close(fd);
}

/*
 * The next datagram for fd, within ms: its length, or -1 (none, or an
 * error such as ECONNREFUSED in errno).
 */
static ssize_t
peer_recv(int fd, uint8_t *buf, size_t cap, int ms)
{
	ssize_t	 n;

	errno = 0;
	if (!wait_readable(fd, ms)) {
		errno = ETIMEDOUT;
		return -1;
	}
	n = recv(fd, buf, cap, MSG_DONTWAIT);
	return n;
}

static void
peer_send(int fd, const void *d, size_t len)
{
	if (send(fd, d, len, 0) != (ssize_t)len)
		perror("send");
}

/* Metrics ------------------------------------------------------------------ */

/* The value of a sample ("name" or "name{labels}"), or -1. */
static double
metric(const char *sample)
{
	char	*text, *p, key[160];
	size_t	 len;
	double	 v = -1;

	if ((text = metrics_render(mx, &len)) == NULL)
		return -1;
	snprintf(key, sizeof(key), "\n%s ", sample);
	if ((p = strstr(text, key)) != NULL)
		v = strtod(p + strlen(key), NULL);
	free(text);
	return v;
}

/* Requests and answers ----------------------------------------------------- */

struct creq {
	uint8_t	 type;
	uint8_t	 code;
	uint16_t mid;
	const char *path;	/* "a/b/c": Uri-Path options */
	const char *body;	/* JSON (Content-Format 50), or NULL */
	int	 block2;	/* ask for block num of size 16 << szx */
	uint32_t num;
	unsigned szx;
};

struct cans {
	int	 ok;		/* it parsed */
	uint8_t	 type, code, tkl;
	uint16_t mid;
	uint8_t	 token[8];
	uint8_t	 raw[2048];
	size_t	 rawlen;
	uint8_t	 payload[2048];
	size_t	 len;
	struct coapmsg m;	/* options: valid until the next parse */
};

/*
 * The request's token: two bytes of its message id, one of its code.
 * observe: the Observe option's value, -1 for none.
 */
static size_t
build_obs(const struct creq *q, int64_t observe, uint8_t *buf, size_t cap)
{
	uint8_t	 token[3] = { q->mid >> 8, q->mid & 0xff, q->code };
	struct coapmsg_block b;
	struct coapbuf r;
	const char *p = q->path, *e;

	coapbuf_init(&r, buf, cap, q->type, q->code, q->mid, token,
	    sizeof(token));
	if (observe >= 0)
		coapbuf_opt_uint(&r, COAPOPT_OBSERVE, (uint32_t)observe);
	while (p != NULL && *p != '\0') {
		e = strchr(p, '/');
		coapbuf_opt(&r, COAPOPT_URI_PATH, p, e ? (size_t)(e - p) :
		    strlen(p));
		p = e ? e + 1 : NULL;
	}
	if (q->body != NULL)
		coapbuf_opt_uint(&r, COAPOPT_CONTENT_FORMAT, COAPFMT_JSON);
	if (q->block2) {
		b.num = q->num;
		b.m = 0;
		b.szx = q->szx;
		coapbuf_opt_block(&r, COAPOPT_BLOCK2, &b);
	}
	if (q->body != NULL)
		coapbuf_payload(&r, q->body, strlen(q->body));
	T_CHECK(!r.overflow);
	return r.len;
}

static size_t
build(const struct creq *q, uint8_t *buf, size_t cap)
{
	return build_obs(q, -1, buf, cap);
}

/* Parses a datagram into a: 1, or 0 when it is no CoAP message. */
static int
parse_ans(const uint8_t *d, size_t len, struct cans *a)
{
	memset(a, 0, sizeof(*a));
	if (len > sizeof(a->raw))
		return 0;
	memcpy(a->raw, d, len);
	a->rawlen = len;
	if (coapmsg_parse(parser, a->raw, len, &a->m) != 0)
		return 0;
	a->ok = 1;
	a->type = a->m.type;
	a->code = a->m.code;
	a->mid = a->m.mid;
	a->tkl = a->m.tkl;
	memcpy(a->token, a->m.token, sizeof(a->token));
	a->len = a->m.payload_len;
	if (a->len > 0)
		memcpy(a->payload, a->m.payload, a->len);
	return 1;
}

/* The next answer on fd: 1 with a parsed, 0 when none came. */
static int
recv_ans(int fd, struct cans *a)
{
	uint8_t	 buf[2048];
	ssize_t	 n;

	memset(a, 0, sizeof(*a));
	if ((n = peer_recv(fd, buf, sizeof(buf), WAIT_MS)) < 0)
		return 0;
	return parse_ans(buf, (size_t)n, a);
}

/* Sends q from fd and reads its answer: the answer's code, 0 for none. */
static uint8_t
ask(int fd, const struct creq *q, struct cans *a)
{
	uint8_t	 buf[2048];

	peer_send(fd, buf, build(q, buf, sizeof(buf)));
	if (!recv_ans(fd, a))
		return 0;
	return a->code;
}

/* The answer carries the request's token. */
static int
same_token(const struct creq *q, const struct cans *a)
{
	return a->tkl == 3 && a->token[0] == q->mid >> 8 &&
	    a->token[1] == (q->mid & 0xff) && a->token[2] == q->code;
}

static int64_t
ans_uint(const struct cans *a, uint16_t num)
{
	const struct coapmsg_opt *o = coapmsg_opt(&a->m, num);
	uint32_t v;

	if (o == NULL || coapmsg_opt_uint(o, &v) != 0)
		return -1;
	return v;
}

/* A ping with mid; 1 when its RST is the next datagram on fd. */
static int
ping_is_next(int fd, uint16_t mid)
{
	uint8_t	 buf[4];
	struct coapbuf b;
	struct cans a;

	coapbuf_init(&b, buf, sizeof(buf), CON, COAPMSG_EMPTY, mid, NULL, 0);
	peer_send(fd, b.buf, b.len);
	if (!recv_ans(fd, &a))
		return 0;
	return a.type == COAPMSG_RST && a.code == COAPMSG_EMPTY &&
	    a.mid == mid && a.tkl == 0 && a.len == 0;
}

/* The store ---------------------------------------------------------------- */

static int64_t
last_seen(const char *dev)
{
	struct store_txn *txn;
	struct device_rec d;
	int64_t	 v = -1;

	if (store_txn_begin(f.st, 1, &txn) != 0)
		return -1;
	if (store_device_get(txn, dev, &d) == 0)
		v = d.last_seen;
	store_txn_abort(txn);
	return v;
}

static int64_t
outbox_last(void)
{
	struct store_txn *txn;
	struct outbox_stats s;
	int64_t	 v = -1;

	if (store_txn_begin(f.st, 1, &txn) != 0)
		return -1;
	if (store_outbox_stats(txn, &s) == 0)
		v = (int64_t)s.last_seq;
	store_txn_abort(txn);
	return v;
}

/* Fixture ------------------------------------------------------------------ */

static void
setup(void)
{
	static const char *const devs[] = { "d1", "d2", NULL };

	corefix_up(&f, "coapfront");
	corefix_device(&f, "d1", "key-1", NULL);
	corefix_device(&f, "d2", "key-2", NULL);
	corefix_device(&f, "d3", "key-3", NULL);
	corefix_firmware(&f, "fw-1", "2.0.0", IMG, &fw1);
	corefix_job(&f, "j-1", "fw-1", devs);
	snprintf(f.cfg.coap.host, sizeof(f.cfg.coap.host), "127.0.0.1");
	snprintf(f.cfg.coaps.host, sizeof(f.cfg.coaps.host), "127.0.0.1");
	f.cfg.coap.port = 0;
	f.cfg.coaps.port = 0;
	if ((ev = ev_new()) == NULL || (mx = metrics_new()) == NULL ||
	    (parser = coapmsg_parser_new()) == NULL ||
	    (cf = coapfront_new(&f.cfg, f.core, ev, mx, 0)) == NULL) {
		fprintf(stderr, "set-up failed\n");
		exit(1);
	}
	coap_port = coapfront_port(cf, 0);
	coaps_port = coapfront_port(cf, 1);
}

static void
teardown(void)
{
	coapfront_free(cf);
	metrics_free(mx);
	coapmsg_parser_free(parser);
	ev_free(ev);
	corefix_down(&f);
}

/* Tests -------------------------------------------------------------------- */

static void
test_bound(void)
{
	T_CHECK(coap_port != 0);
	T_CHECK(coaps_port != 0);
	T_CHECK(coap_port != coaps_port);
	T_EQ_INT(metric("otagw_coap_endpoints"), 2);
	T_EQ_INT(metric("otagw_coap_sessions"), 0);
}

static void
test_requests(void)
{
	static const struct {
		const char *what;
		struct creq q;
		uint8_t	 type, code;
		const char *has;	/* in the payload, or NULL */
	} cases[] = {
		{ "check, CON", { CON, POST, 0x100, "ota/d1/check",
		  "{\"version\":\"1.0.0\"}", 0, 0, 0 }, COAPMSG_ACK, C(2, 5),
		  "\"firmware\":\"fw-1\"" },
		{ "check, no body", { CON, POST, 0x101, "ota/d1/check", NULL,
		  0, 0, 0 }, COAPMSG_ACK, C(2, 5), "\"url\":\"coap://" },
		{ "nothing to do", { CON, POST, 0x102, "ota/d3/check", "{}",
		  0, 0, 0 }, COAPMSG_ACK, C(2, 4), NULL },
		{ "unknown device", { CON, POST, 0x103, "ota/d9/check", "{}",
		  0, 0, 0 }, COAPMSG_ACK, C(4, 4), NULL },
		{ "GET check", { CON, GET, 0x104, "ota/d1/check", NULL, 0, 0,
		  0 }, COAPMSG_ACK, C(4, 5), NULL },
		{ "no such route", { CON, GET, 0x105, "nothing", NULL, 0, 0,
		  0 }, COAPMSG_ACK, C(4, 4), NULL },
		{ "bad JSON", { CON, POST, 0x106, "ota/d1/check",
		  "{\"version\":", 0, 0, 0 }, COAPMSG_ACK, C(4, 0), NULL },
		{ "check, NON", { NON, POST, 0x107, "ota/d1/check", NULL, 0, 0,
		  0 }, NON, C(2, 5), "\"job\":\"j-1\"" },
		{ "nothing to do, NON", { NON, POST, 0x108, "ota/d3/check",
		  NULL, 0, 0, 0 }, NON, C(2, 4), NULL },
	};
	struct cans a;
	char	 text[2048];
	size_t	 i;
	int	 fd = peer_open(coap_port);
	double	 before = metric("otagw_coap_requests_total");
	uint16_t non_mid = 0;
	int	 nnon = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct creq *q = &cases[i].q;

		if (ask(fd, q, &a) != cases[i].code || a.type !=
		    cases[i].type)
			fprintf(stderr, "%s: type %u code %u.%02u\n",
			    cases[i].what, a.type, a.code >> 5, a.code & 31);
		T_EQ_INT(a.code, cases[i].code);
		T_EQ_INT(a.type, cases[i].type);
		T_CHECK(same_token(q, &a));
		if (q->type == CON)
			T_EQ_INT(a.mid, q->mid);
		else {
			/* a NON answer has a message id of its own */
			if (nnon++ > 0)
				T_CHECK(a.mid != non_mid);
			non_mid = a.mid;
		}
		if (a.code == C(2, 5)) {
			T_EQ_INT(ans_uint(&a, COAPOPT_CONTENT_FORMAT),
			    COAPFMT_JSON);
			T_EQ_INT(ans_uint(&a, COAPOPT_MAX_AGE),
			    f.cfg.busy_interval);
		}
		if (a.code == C(2, 4)) {
			T_EQ_INT(a.len, 0);
			T_EQ_INT(ans_uint(&a, COAPOPT_MAX_AGE),
			    f.cfg.check_interval);
		}
		if (cases[i].has != NULL) {
			snprintf(text, sizeof(text), "%.*s", (int)a.len,
			    a.payload);
			T_CHECK(strstr(text, cases[i].has) != NULL);
		}
	}
	T_EQ_INT(metric("otagw_coap_requests_total") - before, i);
	T_EQ_INT(metric("otagw_coap_sessions"), 1);
	peer_close(fd);
}

/*
 * A confirmable POST that comes again with its message id is answered
 * with the very same bytes, and core does not see it again: the clock
 * moved on by minutes, so a second check would write the device's
 * last_seen and a second progress report would add to the outbox.
 */
static void
test_retransmission(void)
{
	struct creq check = { CON, POST, 0x200, "ota/d2/check", NULL, 0, 0,
	    0 };
	struct creq prog = { CON, POST, 0x201, "ota/d2/progress",
	    "{\"job\":\"j-1\",\"step\":5}", 0, 0, 0 };
	struct creq prog2 = { CON, POST, 0x202, "ota/d2/progress",
	    "{\"job\":\"j-1\",\"step\":6}", 0, 0, 0 };
	struct cans a, b;
	int	 fd = peer_open(coap_port), other = peer_open(coap_port);
	int64_t	 seen, seq;
	double	 rt = metric("otagw_coap_retransmissions_total");

	T_EQ_INT(ask(fd, &check, &a), C(2, 5));
	seen = last_seen("d2");
	T_EQ_INT(seen, f.now);
	f.now += 5 * 60 * 1000;
	T_EQ_INT(ask(fd, &check, &b), C(2, 5));
	T_CHECK(a.rawlen == b.rawlen && memcmp(a.raw, b.raw, a.rawlen) == 0);
	T_EQ_INT(last_seen("d2"), seen);
	T_EQ_INT(metric("otagw_coap_retransmissions_total") - rt, 1);

	/* the same message id from another peer is a request of its own */
	T_EQ_INT(ask(other, &check, &b), C(2, 5));
	T_EQ_INT(last_seen("d2"), f.now);
	T_EQ_INT(metric("otagw_coap_retransmissions_total") - rt, 1);

	/* a progress report, then the same datagram again */
	T_EQ_INT(ask(fd, &prog, &a), C(2, 4));
	seq = outbox_last();
	T_CHECK(seq > 0);
	f.now += 60 * 1000;
	T_EQ_INT(ask(fd, &prog, &b), C(2, 4));
	T_CHECK(a.rawlen == b.rawlen && memcmp(a.raw, b.raw, a.rawlen) == 0);
	T_EQ_INT(outbox_last(), seq);
	T_EQ_INT(metric("otagw_coap_retransmissions_total") - rt, 2);
	/* a new message id is a new report */
	T_EQ_INT(ask(fd, &prog2, &a), C(2, 4));
	T_CHECK(outbox_last() > seq);
	T_EQ_INT(a.mid, prog2.mid);
	T_EQ_INT(metric("otagw_coap_retransmissions_total") - rt, 2);
	peer_close(fd);
	peer_close(other);
}

/*
 * Messages that are no request: a ping and a response get RST, the rest
 * nothing; what does not parse is counted, and only a confirmable one
 * that does not parse gets RST.  "Nothing" is checked by a ping sent
 * right after, whose RST must be the next datagram.
 */
static void
test_not_requests(void)
{
	/* a CON POST whose option has the reserved length nibble 15 */
	static const uint8_t badopt_con[] = { 0x40, 0x02, 0x03, 0x01,
	    0xbf, 'x' };
	static const uint8_t badopt_non[] = { 0x50, 0x02, 0x03, 0x02,
	    0xbf, 'x' };
	static const uint8_t resp_con[] = { 0x40, C(2, 5), 0x03, 0x03 };
	static const uint8_t resp_non[] = { 0x50, C(2, 5), 0x03, 0x04 };
	static const uint8_t ack[] = { 0x60, 0x00, 0x03, 0x05 };
	static const uint8_t rst[] = { 0x70, 0x00, 0x03, 0x06 };
	static const uint8_t non_ping[] = { 0x50, 0x00, 0x03, 0x07 };
	static const uint8_t version2[] = { 0x80, 0x01, 0x03, 0x08 };
	static const uint8_t short1[] = { 0x40 };
	static const uint8_t tkl9[] = { 0x49, 0x01, 0x03, 0x09, 1, 2, 3, 4,
	    5, 6, 7, 8, 9 };
	static const uint8_t ping_token[] = { 0x41, 0x00, 0x03, 0x0a, 0x77 };
	static const struct {
		const char *what;
		const uint8_t *d;
		size_t	 len;
		int	 rst;		/* RST with the datagram's mid */
		int	 malformed;
	} cases[] = {
		{ "CON, bad option", badopt_con, sizeof(badopt_con), 1, 1 },
		{ "NON, bad option", badopt_non, sizeof(badopt_non), 0, 1 },
		{ "CON response", resp_con, sizeof(resp_con), 1, 0 },
		{ "NON response", resp_non, sizeof(resp_non), 0, 0 },
		{ "ACK", ack, sizeof(ack), 0, 0 },
		{ "RST", rst, sizeof(rst), 0, 0 },
		{ "NON ping", non_ping, sizeof(non_ping), 0, 0 },
		{ "version 2", version2, sizeof(version2), 0, 1 },
		{ "one byte", short1, sizeof(short1), 0, 1 },
		{ "empty datagram", short1, 0, 0, 1 },
		{ "token length 9", tkl9, sizeof(tkl9), 0, 1 },
		/* RFC 7252 4.1: an empty message with a token is an error */
		{ "ping with a token", ping_token, sizeof(ping_token), 1, 1 },
	};
	struct cans a;
	size_t	 i;
	int	 fd = peer_open(coap_port);
	double	 mal = metric("otagw_coap_malformed_total");
	double	 rsts = metric("otagw_coap_resets_total");
	double	 req = metric("otagw_coap_requests_total");
	unsigned want_mal = 0, want_rst = 0;
	int	 ok;

	/* a ping: RST, same message id, no token */
	T_CHECK(ping_is_next(fd, 0x300));
	want_rst++;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t mid = cases[i].len >= 4 ? (uint16_t)(cases[i].d[2] <<
		    8 | cases[i].d[3]) : 0;

		peer_send(fd, cases[i].d, cases[i].len);
		if (cases[i].rst) {
			T_CHECK(recv_ans(fd, &a));
			if (a.type != COAPMSG_RST || a.mid != mid)
				fprintf(stderr, "%s: no RST\n", cases[i].what);
			T_EQ_INT(a.type, COAPMSG_RST);
			T_EQ_INT(a.code, COAPMSG_EMPTY);
			T_EQ_INT(a.mid, mid);
			want_rst++;
		}
		ok = ping_is_next(fd, (uint16_t)(0x310 + i));
		if (!ok)
			fprintf(stderr, "%s: answered\n", cases[i].what);
		T_CHECK(ok);
		want_rst++;
		want_mal += cases[i].malformed;
	}
	T_EQ_INT(metric("otagw_coap_malformed_total") - mal, want_mal);
	T_EQ_INT(metric("otagw_coap_resets_total") - rsts, want_rst);
	T_EQ_INT(metric("otagw_coap_requests_total") - req, 0);
	peer_close(fd);
}

/* A datagram longer than the read buffer: 4.13, to be sent in blocks. */
static void
test_truncated(void)
{
	static char body[3000];
	struct creq q = { CON, POST, 0x400, "ota/d3/check", body, 0, 0, 0 };
	struct coapmsg_block b;
	struct cans a;
	int	 fd = peer_open(coap_port);
	double	 tr = metric("otagw_coap_datagrams_truncated_total");
	static uint8_t buf[4096];
	size_t	 len;

	memset(body, ' ', sizeof(body) - 1);
	body[0] = '{';
	body[sizeof(body) - 2] = '}';
	len = build(&q, buf, sizeof(buf));
	T_CHECK(len > 2048);
	peer_send(fd, buf, len);
	T_CHECK(recv_ans(fd, &a));
	T_EQ_INT(a.code, C(4, 13));
	T_EQ_INT(a.mid, q.mid);
	T_EQ_INT(coapmsg_block(&a.m, COAPOPT_BLOCK1, &b), 1);
	T_EQ_INT(b.szx, 6);
	T_EQ_INT(metric("otagw_coap_datagrams_truncated_total") - tr, 1);
	peer_close(fd);
}

/* The image, block by block, at two block sizes, put back together. */
static void
test_download(void)
{
	static uint8_t got[IMG];
	struct creq q = { CON, GET, 0, "fw/fw-1", NULL, 1, 0, 0 };
	struct coapmsg_block b;
	const struct coapmsg_opt *etag;
	struct cans a;
	unsigned szx, bad, blocks;
	size_t	 glen;
	uint16_t mid = 0x500;
	int	 fd = peer_open(coap_port);
	static const unsigned sizes[] = { 6, 4 };
	size_t	 i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		szx = sizes[i];
		glen = 0;
		bad = 0;
		for (blocks = 0; blocks < 1000; blocks++) {
			q.mid = mid++;
			q.num = blocks;
			q.szx = szx;
			if (ask(fd, &q, &a) != C(2, 5) ||
			    coapmsg_block(&a.m, COAPOPT_BLOCK2, &b) != 1 ||
			    b.num != blocks || b.szx != szx ||
			    ans_uint(&a, COAPOPT_SIZE2) != IMG ||
			    ans_uint(&a, COAPOPT_CONTENT_FORMAT) !=
			    COAPFMT_OCTETS || a.mid != q.mid ||
			    (etag = coapmsg_opt(&a.m, COAPOPT_ETAG)) ==
			    NULL || etag->len != 8 ||
			    memcmp(etag->val, fw1.sha256, 8) != 0 ||
			    glen + a.len > IMG) {
				bad++;
				break;
			}
			memcpy(got + glen, a.payload, a.len);
			glen += a.len;
			if (!b.m)
				break;
		}
		T_EQ_INT(bad, 0);
		T_EQ_INT(blocks + 1, (IMG + (16u << szx) - 1) / (16u << szx));
		T_CHECK(glen == IMG && memcmp(got, f.image, IMG) == 0);
		/* the block after the last */
		q.mid = mid++;
		q.num = blocks + 1;
		T_EQ_INT(ask(fd, &q, &a), C(4, 2));
	}
	/*
	 * Only answers to POST are kept: the message id of that 4.02 again,
	 * now for block 1, is answered anew.
	 */
	q.num = 1;
	q.szx = 6;
	T_EQ_INT(ask(fd, &q, &a), C(2, 5));
	T_EQ_INT(coapmsg_block(&a.m, COAPOPT_BLOCK2, &b), 1);
	T_EQ_INT(b.num, 1);
	T_CHECK(a.len == 1024 && memcmp(a.payload, f.image + 1024, 1024) ==
	    0);
	peer_close(fd);
}

/*
 * The session timer forgets a peer idle past coap_session_timeout (made
 * 1 s with coapfront_set_config): its cached answer goes with it, so the
 * same message id is a new request.
 */
static void
test_session_timer(void)
{
	struct creq check = { CON, POST, 0x600, "ota/d1/check", NULL, 0, 0,
	    0 };
	struct cans a;
	int64_t	 end;
	int	 fd = peer_open(coap_port);
	double	 rt;

	f.cfg.coap_session_timeout = 1;
	coapfront_set_config(cf, &f.cfg);
	T_EQ_INT(ask(fd, &check, &a), C(2, 5));
	T_CHECK(metric("otagw_coap_sessions") >= 1);
	end = ev_now_ms() + 5000;
	while (metric("otagw_coap_sessions") > 0 && ev_now_ms() < end)
		run_for(100);
	T_EQ_INT(metric("otagw_coap_sessions"), 0);
	f.now += 2 * 60 * 1000;
	rt = metric("otagw_coap_retransmissions_total");
	T_EQ_INT(ask(fd, &check, &a), C(2, 5));
	T_EQ_INT(metric("otagw_coap_retransmissions_total"), rt);
	T_EQ_INT(last_seen("d1"), f.now);
	f.cfg.coap_session_timeout = 60;
	coapfront_set_config(cf, &f.cfg);
	peer_close(fd);
}

/* DTLS --------------------------------------------------------------------- */

static const char *psk_identity;
static const char *psk_key;

static unsigned int
client_psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id,
    unsigned char *psk, unsigned int max_psk)
{
	size_t	 il = strlen(psk_identity), kl = strlen(psk_key);

	(void)ssl;
	(void)hint;
	if (il + 1 > max_id || kl > max_psk)
		return 0;
	memcpy(id, psk_identity, il + 1);
	memcpy(psk, psk_key, kl);
	return (unsigned int)kl;
}

struct dclient {
	int	 fd;
	SSL	*ssl;
	unsigned foreign;	/* datagrams that were no DTLS record */
};

static SSL_CTX *dtls_ctx;

/* A DTLS record's content type: change_cipher_spec .. application_data. */
static int
is_dtls_record(const uint8_t *d, size_t len)
{
	return len >= 13 && d[0] >= 20 && d[0] <= 23 && d[1] == 0xfe;
}

/*
 * Waits up to ms for the next datagram and looks at it without taking it:
 * OpenSSL reads it from the socket.  1 when one is there.
 */
static int
dclient_wait(struct dclient *c, int ms)
{
	uint8_t	 buf[2048];
	int64_t	 end = ev_now_ms() + ms;
	ssize_t	 n;

	for (;;) {
		if (!wait_readable(c->fd, (int)(end - ev_now_ms())))
			return 0;
		n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n < 0)
			return 0;
		if (is_dtls_record(buf, (size_t)n))
			return 1;
		c->foreign++;
		(void)recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	}
}

/* A handshake as identity with key within ms: 1 done, 0 failed. */
static int
dclient_open(struct dclient *c, int fd, const char *identity,
    const char *key, int ms)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	BIO	*bio;
	int64_t	 end = ev_now_ms() + ms, left;
	int	 rc, e;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	psk_identity = identity;
	psk_key = key;
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    (c->ssl = SSL_new(dtls_ctx)) == NULL ||
	    (bio = BIO_new_dgram(fd, BIO_NOCLOSE)) == NULL)
		return 0;
	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &ss);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_mtu(c->ssl, 1400);
	SSL_set_connect_state(c->ssl);
	while ((left = end - ev_now_ms()) > 0) {
		if ((rc = SSL_do_handshake(c->ssl)) == 1)
			return 1;
		e = SSL_get_error(c->ssl, rc);
		ERR_clear_error();
		if (e != SSL_ERROR_WANT_READ)
			return 0;
		/* nothing for a while: the client's retransmission */
		if (!dclient_wait(c, left < 200 ? (int)left : 200))
			(void)DTLSv1_handle_timeout(c->ssl);
	}
	return 0;
}

static void
dclient_close(struct dclient *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}

/*
 * q (with Observe observe, -1 for none) over the DTLS session, its
 * answer into a: the code, 0 for none.
 */
static uint8_t
dclient_ask_obs(struct dclient *c, const struct creq *q, int64_t observe,
    struct cans *a)
{
	uint8_t	 buf[2048];
	size_t	 len = build_obs(q, observe, buf, sizeof(buf));
	int	 n, i;

	memset(a, 0, sizeof(*a));
	if (SSL_write(c->ssl, buf, (int)len) != (int)len)
		return 0;
	for (i = 0; i < 8; i++) {
		if (!dclient_wait(c, WAIT_MS))
			return 0;
		if ((n = SSL_read(c->ssl, buf, sizeof(buf))) > 0)
			return parse_ans(buf, (size_t)n, a) ? a->code : 0;
		ERR_clear_error();
	}
	return 0;
}

static uint8_t
dclient_ask(struct dclient *c, const struct creq *q, struct cans *a)
{
	return dclient_ask_obs(c, q, -1, a);
}

static void
test_dtls(void)
{
	struct creq check = { CON, POST, 0x700, "ota/d1/check", NULL, 0, 0,
	    0 };
	struct creq other = { CON, POST, 0x701, "ota/d2/check", NULL, 0, 0,
	    0 };
	uint8_t	 ping[4] = { 0x40, 0x00, 0x07, 0x02 };
	struct dclient c;
	struct cans a;
	char	 text[2048];
	double	 hs = metric("otagw_coap_handshakes_total");
	double	 fail = metric("otagw_coap_dtls_failures_total");
	double	 to = metric("otagw_coap_handshake_timeouts_total");
	int64_t	 end;
	int	 fd = peer_open(coaps_port);

	/* plain CoAP on the coaps port: not a ClientHello, ignored */
	peer_send(fd, ping, sizeof(ping));
	T_EQ_INT(dclient_open(&c, fd, "d1", "key-1", WAIT_MS), 1);
	T_EQ_INT(c.foreign, 0);
	T_EQ_INT(metric("otagw_coap_handshakes_total") - hs, 1);
	T_EQ_INT(dclient_ask(&c, &check, &a), C(2, 5));
	T_EQ_INT(a.type, COAPMSG_ACK);
	T_EQ_INT(a.mid, check.mid);
	T_CHECK(same_token(&check, &a));
	snprintf(text, sizeof(text), "%.*s", (int)a.len, a.payload);
	T_CHECK(strstr(text, "\"url\":\"coaps://gw.test:5684/fw/fw-1\"") !=
	    NULL);
	/* the identity is d1's: d2's check is not for it */
	T_EQ_INT(dclient_ask(&c, &other, &a), C(4, 3));
	/* a ping inside the session: RST, encrypted */
	if (SSL_write(c.ssl, ping, sizeof(ping)) == sizeof(ping) &&
	    dclient_wait(&c, WAIT_MS)) {
		uint8_t	 buf[64];
		int	 n = SSL_read(c.ssl, buf, sizeof(buf));

		T_CHECK(n > 0 && parse_ans(buf, (size_t)n, &a) &&
		    a.type == COAPMSG_RST && a.mid == 0x0702);
	} else
		T_CHECK(0);
	T_EQ_INT(c.foreign, 0);
	dclient_close(&c);
	peer_close(fd);

	/* an identity otagw has no key for: a fatal alert, counted */
	fd = peer_open(coaps_port);
	T_EQ_INT(dclient_open(&c, fd, "d9", "key-9", WAIT_MS), 0);
	dclient_close(&c);
	peer_close(fd);
	T_EQ_INT(metric("otagw_coap_dtls_failures_total") - fail, 1);
	T_EQ_INT(metric("otagw_coap_handshakes_total") - hs, 1);
	T_EQ_INT(metric("otagw_coap_handshakes_open"), 0);

	/*
	 * A wrong key: the client's Finished does not decrypt and is
	 * dropped, so the handshake hangs until coap_handshake_timeout
	 * (1 s here) and the session timer ends it.
	 */
	f.cfg.coap_handshake_timeout = 1;
	coapfront_set_config(cf, &f.cfg);
	fd = peer_open(coaps_port);
	T_EQ_INT(dclient_open(&c, fd, "d2", "key-X", 500), 0);
	dclient_close(&c);
	peer_close(fd);
	end = ev_now_ms() + 5000;
	while (metric("otagw_coap_handshake_timeouts_total") - to < 1 &&
	    ev_now_ms() < end)
		run_for(100);
	T_EQ_INT(metric("otagw_coap_handshake_timeouts_total") - to, 1);
	T_EQ_INT(metric("otagw_coap_handshakes_open"), 0);
	T_EQ_INT(metric("otagw_coap_handshakes_total") - hs, 1);
	f.cfg.coap_handshake_timeout = 5;
	coapfront_set_config(cf, &f.cfg);
}

/* Observe ------------------------------------------------------------------ */

/* q with Observe 0 from fd: the answer's code, 0 for none. */
static uint8_t
ask_obs(int fd, const struct creq *q, struct cans *a)
{
	uint8_t	 buf[2048];

	peer_send(fd, buf, build_obs(q, 0, buf, sizeof(buf)));
	if (!recv_ans(fd, a))
		return 0;
	return a->code;
}

/* A job for one device, and the poll that tells its observers. */
static void
job_for(const char *job, const char *dev)
{
	const char *devs[] = { dev, NULL };

	corefix_job(&f, job, "fw-1", devs);
	f.now += 1000;
	core_watch_poll(f.core, f.now);
}

static void
send_empty(int fd, uint8_t type, uint16_t mid)
{
	uint8_t	 buf[4];
	struct coapbuf b;

	coapbuf_init(&b, buf, sizeof(buf), type, COAPMSG_EMPTY, mid, NULL, 0);
	peer_send(fd, b.buf, b.len);
}

/*
 * Over the wire: a registration, the notification a new job brings
 * (confirmable, the registration's token, Observe above the answer's),
 * its ACK; a reset that ends an observation; a notification sent again
 * when no ACK comes; over DTLS; and the session's end ending them all.
 * Long because each step builds on the observations the ones before it
 * left open: the session timeout at the end must end all of them.
 */
static void
test_observe(void)
{
	struct creq reg5 = { CON, GET, 0x900, "ota/d5/notice", NULL, 0, 0, 0
	    };
	struct creq reg6 = { CON, GET, 0x901, "ota/d6/notice", NULL, 0, 0, 0
	    };
	struct creq reg7 = { NON, GET, 0x902, "ota/d7/notice", NULL, 0, 0, 0
	    };
	struct creq reg8 = { CON, GET, 0x903, "ota/d8/notice", NULL, 0, 0, 0
	    };
	struct cans a, n, again;
	struct dclient c;
	uint8_t	 buf[2048];
	char	 text[2048];
	int	 fd = peer_open(coap_port), fd6 = peer_open(coap_port);
	int	 fd7 = peer_open(coap_port), dfd, got;
	int64_t	 end, seq;
	double	 sent0 = metric("otagw_coap_notifications_total");

	corefix_device(&f, "d5", NULL, NULL);
	corefix_device(&f, "d6", NULL, NULL);
	corefix_device(&f, "d7", NULL, NULL);
	corefix_device(&f, "d8", "key-8", NULL);

	/* registered: 2.05 "{}" with Observe */
	T_EQ_INT(ask_obs(fd, &reg5, &a), C(2, 5));
	T_EQ_INT(a.type, COAPMSG_ACK);
	T_CHECK(same_token(&reg5, &a));
	T_CHECK(a.len == 2 && memcmp(a.payload, "{}", 2) == 0);
	seq = ans_uint(&a, COAPOPT_OBSERVE);
	T_CHECK(seq >= 0);
	T_EQ_INT(metric("otagw_coap_observations"), 1);

	/* a job: the notification, then the ACK */
	job_for("j-5", "d5");
	T_CHECK(recv_ans(fd, &n));
	T_EQ_INT(n.type, CON);
	T_EQ_INT(n.code, C(2, 5));
	T_CHECK(same_token(&reg5, &n));
	T_EQ_INT(ans_uint(&n, COAPOPT_OBSERVE), (seq + 1) & 0xffffff);
	snprintf(text, sizeof(text), "%.*s", (int)n.len, n.payload);
	T_CHECK(strstr(text, "\"job\":\"j-5\"") != NULL);
	T_CHECK(strstr(text, "\"url\":\"coap://127.0.0.1:") != NULL);
	send_empty(fd, COAPMSG_ACK, n.mid);
	T_CHECK(ping_is_next(fd, 0x990));
	T_EQ_INT(metric("otagw_coap_notifications_total") - sent0, 1);
	T_EQ_INT(metric("otagw_coap_notifications_acked_total"), 1);

	/* a reset to a notification ends its observation */
	T_EQ_INT(ask_obs(fd6, &reg6, &a), C(2, 5));
	T_EQ_INT(metric("otagw_coap_observations"), 2);
	job_for("j-6", "d6");
	T_CHECK(recv_ans(fd6, &n));
	T_EQ_INT(n.type, CON);
	send_empty(fd6, COAPMSG_RST, n.mid);
	T_CHECK(ping_is_next(fd6, 0x991));
	T_EQ_INT(metric("otagw_coap_observations"), 1);
	T_EQ_INT(metric("otagw_coap_observations_ended_total"
	    "{reason=\"reset\"}"), 1);

	/* a NON registration; no ACK: the same notification again */
	T_EQ_INT(ask_obs(fd7, &reg7, &a), C(2, 5));
	T_EQ_INT(a.type, NON);
	T_CHECK(ans_uint(&a, COAPOPT_OBSERVE) >= 0);
	job_for("j-7", "d7");
	T_CHECK(recv_ans(fd7, &n));
	T_EQ_INT(n.type, CON);
	T_CHECK(recv_ans(fd7, &again));	/* within 3 s */
	T_CHECK(again.rawlen == n.rawlen &&
	    memcmp(again.raw, n.raw, n.rawlen) == 0);
	T_EQ_INT(metric("otagw_coap_notification_retransmissions_total"), 1);
	send_empty(fd7, COAPMSG_ACK, n.mid);
	T_CHECK(ping_is_next(fd7, 0x992));
	T_EQ_INT(metric("otagw_coap_notifications_acked_total"), 2);

	/* over DTLS */
	dfd = peer_open(coaps_port);
	T_EQ_INT(dclient_open(&c, dfd, "d8", "key-8", WAIT_MS), 1);
	T_EQ_INT(dclient_ask_obs(&c, &reg8, 0, &a), C(2, 5));
	T_CHECK(ans_uint(&a, COAPOPT_OBSERVE) >= 0);
	job_for("j-8", "d8");
	got = 0;
	end = ev_now_ms() + WAIT_MS;
	while (!got && ev_now_ms() < end && dclient_wait(&c, WAIT_MS)) {
		int	 r = SSL_read(c.ssl, buf, sizeof(buf));

		if (r > 0)
			got = parse_ans(buf, (size_t)r, &n);
		ERR_clear_error();
	}
	T_CHECK(got);
	T_EQ_INT(n.type, CON);
	T_CHECK(same_token(&reg8, &n));
	snprintf(text, sizeof(text), "%.*s", (int)n.len, n.payload);
	T_CHECK(strstr(text, "\"url\":\"coaps://gw.test:5684/fw/fw-1\"") !=
	    NULL);
	{
		uint8_t	 ackd[4] = { 0x60, 0x00, (uint8_t)(n.mid >> 8),
		    (uint8_t)n.mid };

		T_EQ_INT(SSL_write(c.ssl, ackd, sizeof(ackd)), 4);
	}
	end = ev_now_ms() + WAIT_MS;
	while (metric("otagw_coap_notifications_acked_total") < 3 &&
	    ev_now_ms() < end)
		run_for(50);
	T_EQ_INT(metric("otagw_coap_notifications_acked_total"), 3);
	T_EQ_INT(metric("otagw_coap_observations"), 3);
	dclient_close(&c);
	peer_close(dfd);

	/* the sessions time out: their observations end with them */
	f.cfg.coap_session_timeout = 1;
	coapfront_set_config(cf, &f.cfg);
	end = ev_now_ms() + 5000;
	while (metric("otagw_coap_observations") > 0 && ev_now_ms() < end)
		run_for(100);
	T_EQ_INT(metric("otagw_coap_observations"), 0);
	T_EQ_INT(metric("otagw_coap_observations_ended_total"
	    "{reason=\"session\"}"), 3);
	f.cfg.coap_session_timeout = 60;
	coapfront_set_config(cf, &f.cfg);
	peer_close(fd);
	peer_close(fd6);
	peer_close(fd7);
}

/* Drain -------------------------------------------------------------------- */

static void
test_drain(void)
{
	struct creq check = { CON, POST, 0x800, "ota/d3/check", NULL, 0, 0,
	    0 };
	struct cans a;
	uint8_t	 buf[2048];
	size_t	 len;
	ssize_t	 n;
	int	 fd = peer_open(coap_port), refused = 0, i;

	T_EQ_INT(ask(fd, &check, &a), C(2, 4));
	coapfront_drain(cf);
	T_EQ_INT(coapfront_port(cf, 0), 0);
	T_EQ_INT(coapfront_port(cf, 1), 0);
	/*
	 * Nobody listens: the kernel answers with ICMP port unreachable,
	 * which a connected socket reports as ECONNREFUSED.
	 */
	check.mid++;
	len = build(&check, buf, sizeof(buf));
	for (i = 0; i < 50 && !refused; i++) {
		(void)send(fd, buf, len, 0);
		n = peer_recv(fd, buf + 1024, 1024, 100);
		if (n < 0 && errno == ECONNREFUSED)
			refused = 1;
		T_CHECK(n < 0);
	}
	T_EQ_INT(refused, 1);
	coapfront_drain(cf);	/* twice: nothing more */
	peer_close(fd);
}

int
main(void)
{
	log_init("test_coapfront", 1, LOG_LEVEL_WARN);
	if ((dtls_ctx = SSL_CTX_new(DTLS_client_method())) == NULL)
		return 1;
	SSL_CTX_set_min_proto_version(dtls_ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(dtls_ctx, DTLS1_2_VERSION);
	SSL_CTX_set_cipher_list(dtls_ctx, "PSK");
	SSL_CTX_set_options(dtls_ctx, SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_psk_client_callback(dtls_ctx, client_psk_cb);

	setup();
	T_RUN(test_bound);
	T_RUN(test_requests);
	T_RUN(test_retransmission);
	T_RUN(test_not_requests);
	T_RUN(test_truncated);
	T_RUN(test_download);
	T_RUN(test_dtls);
	T_RUN(test_session_timer);
	T_RUN(test_observe);
	T_RUN(test_drain);
	teardown();

	SSL_CTX_free(dtls_ctx);
	return t_done();
}
