/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * coapfront.c: the CoAP (UDP) and CoAP-over-DTLS (PSK) front end.
 *
 * otagw runs its own CoAP server loop on top of four small pieces:
 *
 *   udp.c       the listening sockets, read and written in batches
 *   session.c   what is remembered per peer, and handshake admission
 *   dtls.c      DTLS 1.2 with pre-shared keys (in src/tls, with OpenSSL)
 *   msg.c       CoAP messages, parsed and encoded by libcoap
 *   handler.c   what each request means: routes, block-wise, core calls
 *   observe.c   observations of notices (RFC 7641): notifications
 *
 * This file is the message layer between them (RFC 7252 section 4): a
 * confirmable request is answered in a piggy-backed ACK with its message
 * id, a non-confirmable one with a NON; the answer to a confirmable POST
 * is kept on the session and sent again, unchanged, when the same message
 * id comes again (a retransmission: the device did not hear the first
 * answer); an empty confirmable message (a ping) and a confirmable
 * message otagw cannot parse get a reset; responses sent to otagw are
 * ignored.  otagw's only confirmable messages are the notifications of
 * observations (observe.c): an empty ACK or reset from a session's peer
 * goes there, any other is ignored.
 *
 * On a coaps listener a datagram from a peer without a session goes to
 * dtls_accept(), but only if the peer may open one more half-open
 * handshake (session.c counts them per address, per /24 or /64, and in
 * total); the cookie exchange in front of it is stateless.  A ClientHello
 * with a valid cookie from a peer whose session is open replaces that
 * session (the device restarted on the same address and port, RFC 6347
 * 4.2.8).  Half-open sessions have coap_handshake_timeout to complete.
 *
 * One timer (every COAPFRONT_TICK_MS while handshakes are open, else
 * every second) drives DTLS retransmissions and expires sessions and
 * Block1 bodies left unfinished (handler.c); nothing
 * is done per session on a pass over the loop, so the cost of a datagram
 * does not depend on how many sessions are held.  A second timer, armed
 * only while a notification waits for its ACK, retransmits them.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "coap/coapfront.h"
#include "coap/handler.h"
#include "coap/msg.h"
#include "coap/observe.h"
#include "coap/session.h"
#include "coap/udp.h"
#include "config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "ev.h"
#include "log.h"
#include "tls/dtls.h"
#include "util/validate.h"

/* Listening sockets at most (addresses of the two listeners). */
#define COAPFRONT_EPS		8
/* Batches read from one socket per wake-up, at most. */
#define COAPFRONT_ROUNDS	8
/* Timer period while handshakes are open, ms (DTLS retransmissions). */
#define COAPFRONT_TICK_MS	100
/* Timer period otherwise, ms. */
#define COAPFRONT_IDLE_TICK_MS	1000
/* An answer: a 1 KiB block with options, or a notice block. */
#define COAPFRONT_OUT		1280
/* Log lines about refused handshakes per second. */
#define COAPFRONT_LOG_BURST	5
/* Max-Age of the 5.03 that tells observers the gateway stops, s. */
#define COAPFRONT_DRAIN_MAX_AGE	5
/* Sessions expired before their memory is handed back to the system. */
#define COAPFRONT_TRIM_SESSIONS	256

struct coapfront;

struct coapfront_ep {
	struct coapfront *cf;
	struct udp_sock	*sock;
	unsigned	 idx;
	int		 dtls;		/* a coaps listener */
	uint16_t	 next_mid;	/* for NON answers */
};

struct coapfront_stats {
	unsigned long long	 requests;
	unsigned long long	 retransmissions;	/* answered again */
	unsigned long long	 malformed;
	unsigned long long	 resets;
	unsigned long long	 handshakes;		/* completed */
	unsigned long long	 handshake_timeouts;
	unsigned long long	 refused[4];	/* enum coapsess_refusal */
	unsigned long long	 dtls_failures;
	unsigned long long	 dtls_truncated;
};

struct coapfront {
	struct core	*core;
	struct ev	*ev;
	int		 share;		/* enum listen_share */
	struct coapfront_ep eps[COAPFRONT_EPS];
	size_t		 neps;
	struct coapsess_table *sessions;
	struct dtls_server *dtls;
	struct coapmsg_parser *parser;
	struct coaphandler handler;
	struct coapobs_table obs;	/* observations of notices */
	struct ev_timer	*obs_timer;	/* their retransmissions */
	int64_t		 obs_due;	/* when obs_timer fires, 0: off */
	struct ev_timer	*timer;
	size_t		 expired;	/* since the last trim */
	struct coapfront_stats st;
	int64_t		 now;
	/* The peer a DTLS accept is talking to (hello send callback). */
	struct coapfront_ep *hello_ep;
	const struct udp_dgram *hello_dgram;
	/* While a DTLS record is handled: its session and endpoint. */
	struct coapsess	*cur;
	struct coapfront_ep *cur_ep;
	/* Log rate limit for refused handshakes. */
	int64_t		 log_second;
	unsigned	 log_count;
	struct udp_dgram in[UDP_BATCH];
	uint8_t		 out[COAPFRONT_OUT];
};

static void	coapfront_arm(struct coapfront *);

static int
coapfront_log_allow(struct coapfront *cf)
{
	int64_t sec = cf->now / 1000;

	if (sec != cf->log_second) {
		cf->log_second = sec;
		cf->log_count = 0;
	}
	return cf->log_count++ < COAPFRONT_LOG_BURST;
}

static const char *
coapfront_peer_text(const union udp_sa *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &sa->in.sin_addr, host, sizeof(host));
	else if (sa->sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &sa->in6.sin6_addr, host, sizeof(host));
	else
		snprintf(host, sizeof(host), "?");
	snprintf(buf, size, "%s", host);
	return buf;
}

/* Sending ------------------------------------------------------------------ */

static void
coapfront_sess_send_cb(void *arg, const uint8_t *data, size_t len)
{
	struct coapsess *s = arg;

	udp_send(s->sock, &s->peer, s->peerlen, &s->local, data, len);
}

static void
coapfront_hello_send_cb(void *arg, const uint8_t *data, size_t len)
{
	struct coapfront *cf = arg;
	const struct udp_dgram *d = cf->hello_dgram;

	if (d != NULL && cf->hello_ep != NULL)
		udp_send(cf->hello_ep->sock, &d->peer, d->peerlen, &d->local,
		    data, len);
}

/* One CoAP message to the peer of s, encrypted on coaps. */
static void
coapfront_send(struct coapfront *cf, struct coapsess *s, const uint8_t *data,
    size_t len)
{
	if (s->dtls == NULL) {
		coapfront_sess_send_cb(s, data, len);
		return;
	}
	if (dtls_conn_write(s->dtls, data, len) == -1)
		cf->st.dtls_failures++;
}

/* A reset for message id mid, to a peer that may have no session. */
static void
coapfront_reset(struct coapfront *cf, struct coapfront_ep *ep,
    struct coapsess *s, const struct udp_dgram *d, uint16_t mid)
{
	uint8_t buf[4];
	struct coapbuf b;

	coapbuf_init(&b, buf, sizeof(buf), COAPMSG_RST, COAPMSG_EMPTY, mid,
	    NULL, 0);
	cf->st.resets++;
	if (s != NULL)
		coapfront_send(cf, s, b.buf, b.len);
	else if (d != NULL)
		udp_send(ep->sock, &d->peer, d->peerlen, &d->local, b.buf,
		    b.len);
}

/* Observations ------------------------------------------------------------- */

static void
coapfront_obs_send(void *arg, struct coapsess *s, const uint8_t *data,
    size_t len)
{
	struct coapfront *cf = arg;

	coapfront_send(cf, s, data, len);
	if (s->sock != NULL)
		udp_flush(s->sock);
}

/* Message ids of messages otagw starts: its endpoint's counter. */
static uint16_t
coapfront_obs_mid(void *arg, struct coapsess *s)
{
	struct coapfront *cf = arg;

	if (s->ep < cf->neps)
		return cf->eps[s->ep].next_mid++;
	return 0;
}

static int64_t
coapfront_obs_clock(void *arg)
{
	(void)arg;
	return ev_now_ms();
}

static void	coapfront_obs_arm(void *);

static void
coapfront_obs_timer_cb(void *arg)
{
	struct coapfront *cf = arg;

	cf->obs_timer = NULL;
	cf->obs_due = 0;
	cf->now = ev_now_ms();
	coapobs_timer(&cf->obs, cf->now);
	coapfront_obs_arm(cf);
}

/* (Re)arms the retransmission timer for the earliest notification due. */
static void
coapfront_obs_arm(void *arg)
{
	struct coapfront *cf = arg;
	int64_t due = coapobs_next_due(&cf->obs), now = ev_now_ms();

	if (cf->obs_timer != NULL && due != 0 && cf->obs_due <= due)
		return;
	if (cf->obs_timer != NULL)
		ev_timer_cancel(cf->ev, cf->obs_timer);
	cf->obs_timer = NULL;
	cf->obs_due = 0;
	if (due == 0)
		return;
	cf->obs_timer = ev_timer_add(cf->ev, due > now ? due - now : 0,
	    coapfront_obs_timer_cb, cf);
	if (cf->obs_timer != NULL)
		cf->obs_due = due;
	else
		log_warnx("coap: cannot arm the notification timer");
}

static const struct coapobs_ops coapfront_obs_ops = {
	.send = coapfront_obs_send,
	.next_mid = coapfront_obs_mid,
	.arm = coapfront_obs_arm,
	.clock = coapfront_obs_clock,
};

/* The message layer -------------------------------------------------------- */

/*
 * One CoAP message (plain, or decrypted) from the peer of s, or of d when
 * there is no session yet (plain CoAP).
 */
static void
coapfront_message(struct coapfront *cf, struct coapfront_ep *ep,
    struct coapsess *s, const struct udp_dgram *d, const uint8_t *data,
    size_t len, size_t truncated)
{
	struct coapsess tmp;
	struct coapmsg m;
	struct coapbuf r;
	uint16_t mid;

	if (coapmsg_parse(cf->parser, data, len, &m) == -1) {
		cf->st.malformed++;
		/* A confirmable message we cannot read is rejected. */
		if (coapmsg_header(data, len, &m) == 0 &&
		    m.type == COAPMSG_CON)
			coapfront_reset(cf, ep, s, d, m.mid);
		return;
	}
	if (m.type == COAPMSG_ACK || m.type == COAPMSG_RST) {
		/* otagw's only confirmable messages: notifications */
		if (s != NULL && s->obs != NULL && m.code == COAPMSG_EMPTY)
			coapobs_reply(&cf->obs, s, m.mid,
			    m.type == COAPMSG_RST, cf->now);
		return;
	}
	if (m.code == COAPMSG_EMPTY || m.code >> 5 != 0) {
		/* A ping, or a response sent to a server: reset. */
		if (m.type == COAPMSG_CON)
			coapfront_reset(cf, ep, s, d, m.mid);
		return;
	}
	if (s == NULL) {
		s = coapsess_new(cf->sessions, ep->idx, 0, &d->peer,
		    d->peerlen, COAPSESS_OPEN, cf->now);
		if (s != NULL) {
			s->sock = ep->sock;
			s->local = d->local;
		} else {
			/* Table full of half-open sessions: answer anyway. */
			memset(&tmp, 0, sizeof(tmp));
			memcpy(&tmp.peer, &d->peer, d->peerlen);
			tmp.peerlen = d->peerlen;
			tmp.local = d->local;
			tmp.sock = ep->sock;
			s = &tmp;
		}
	}
	cf->st.requests++;
	if (m.type == COAPMSG_CON && s->last_resp != NULL &&
	    s->last_mid == m.mid) {
		cf->st.retransmissions++;
		coapfront_send(cf, s, s->last_resp, s->last_len);
		return;
	}
	mid = m.type == COAPMSG_CON ? m.mid : ep->next_mid++;
	coapbuf_init(&r, cf->out, sizeof(cf->out), m.type == COAPMSG_CON ?
	    COAPMSG_ACK : COAPMSG_NON, COAPMSG_CODE(5, 0), mid, m.token, m.tkl);
	coaphandler_request(&cf->handler, s, &m, truncated, cf->now, &r);
	if (r.overflow) {
		coapbuf_reset(&r);
		coapbuf_code(&r, COAPMSG_CODE(5, 0));
		coapbuf_payload(&r, "answer too large", 16);
	}
	coapfront_send(cf, s, r.buf, r.len);
	if (m.type == COAPMSG_CON && m.code == COAPMSG_POST && s != &tmp) {
		uint8_t *copy = realloc(s->last_resp, r.len);

		if (copy != NULL) {
			memcpy(copy, r.buf, r.len);
			s->last_resp = copy;
			s->last_len = (uint16_t)r.len;
			s->last_mid = m.mid;
		}
	}
	if (s == &tmp)
		coaphandler_release(&cf->handler, &tmp);
}

/* DTLS --------------------------------------------------------------------- */

static void
coapfront_dtls_recv_cb(void *arg, const uint8_t *data, size_t len)
{
	struct coapfront *cf = arg;

	if (cf->cur == NULL || cf->cur->state != COAPSESS_OPEN)
		return;
	coapfront_message(cf, cf->cur_ep, cf->cur, NULL, data, len, 0);
}

static int
coapfront_psk_cb(void *arg, const char *identity, uint8_t *key, size_t *len,
    size_t max)
{
	struct coapfront *cf = arg;

	if (!valid_device_id(identity)) {
		if (coapfront_log_allow(cf))
			log_info("coaps: handshake refused: malformed "
			    "identity");
		return -1;
	}
	if (core_device_psk(cf->core, identity, key, len, max) == -1 ||
	    *len == 0) {
		if (coapfront_log_allow(cf))
			log_info("coaps: handshake refused: no key for %s",
			    identity);
		return -1;
	}
	return 0;
}

static const char *
coapfront_refusal_text(int why)
{
	switch (why) {
	case COAPSESS_REFUSE_SOURCE:
		return "its address";
	case COAPSESS_REFUSE_NET:
		return "its network";
	default:
		return "all peers";
	}
}

/* A datagram on coaps from a peer with no session, or a new ClientHello. */
static void
coapfront_dtls_hello(struct coapfront *cf, struct coapfront_ep *ep,
    struct coapsess *old, const struct udp_dgram *d)
{
	struct dtls_conn *conn;
	struct coapsess *s;
	char peer[INET6_ADDRSTRLEN];
	int why, result;

	if (!dtls_is_client_hello(d->data, d->len))
		return;		/* a late record of a session we dropped */
	/*
	 * Only a ClientHello with a cookie can open a handshake: count the
	 * peer's half-open ones before OpenSSL checks the cookie and
	 * starts one.  Without a cookie it gets a HelloVerifyRequest,
	 * which costs no state.
	 */
	if (dtls_hello_has_cookie(d->data, d->len) &&
	    (why = coapsess_admit(cf->sessions, &d->peer)) != COAPSESS_ADMIT) {
		cf->st.refused[why]++;
		if (coapfront_log_allow(cf))
			log_info("coaps: handshake from %s ignored: too many "
			    "open handshakes for %s",
			    coapfront_peer_text(&d->peer, peer, sizeof(peer)),
			    coapfront_refusal_text(why));
		return;
	}
	cf->hello_ep = ep;
	cf->hello_dgram = d;
	conn = dtls_accept(cf->dtls, &d->peer.sa, d->peerlen, d->data, d->len,
	    coapfront_hello_send_cb, cf, &result);
	cf->hello_ep = NULL;
	cf->hello_dgram = NULL;
	if (conn == NULL)
		return;
	if (old != NULL)
		coapsess_free(cf->sessions, old);
	s = coapsess_new(cf->sessions, ep->idx, 1, &d->peer, d->peerlen,
	    COAPSESS_HANDSHAKE, cf->now);
	if (s == NULL) {
		dtls_conn_free(conn);
		return;
	}
	s->sock = ep->sock;
	s->local = d->local;
	s->dtls = conn;
	dtls_conn_set_send(conn, coapfront_sess_send_cb, s);
	coapfront_arm(cf);
}

static void
coapfront_dtls_datagram(struct coapfront *cf, struct coapfront_ep *ep,
    struct coapsess *s, const struct udp_dgram *d)
{
	const char *id;
	int rc;

	if (d->full_len > d->len) {
		cf->st.dtls_truncated++;	/* cannot be decrypted */
		return;
	}
	if (s == NULL || (s->state == COAPSESS_OPEN &&
	    dtls_is_client_hello(d->data, d->len))) {
		coapfront_dtls_hello(cf, ep, s, d);
		return;
	}
	s->local = d->local;
	cf->cur = s;
	cf->cur_ep = ep;
	rc = dtls_conn_input(s->dtls, d->data, d->len, coapfront_dtls_recv_cb,
	    cf);
	if (rc == 0 && s->state == COAPSESS_HANDSHAKE &&
	    dtls_conn_established(s->dtls)) {
		id = dtls_conn_identity(s->dtls);
		snprintf(s->identity, sizeof(s->identity), "%s",
		    id != NULL ? id : "");
		coapsess_opened(cf->sessions, s, cf->now);
		cf->st.handshakes++;
	}
	cf->cur = NULL;
	cf->cur_ep = NULL;
	if (rc == -1) {
		if (s->state == COAPSESS_HANDSHAKE)
			cf->st.dtls_failures++;
		coapsess_free(cf->sessions, s);
		return;
	}
	coapsess_touch(cf->sessions, s, cf->now);
}

/* Input -------------------------------------------------------------------- */

static void
coapfront_datagram(struct coapfront *cf, struct coapfront_ep *ep,
    const struct udp_dgram *d)
{
	struct coapsess *s;

	s = coapsess_find(cf->sessions, ep->idx, &d->peer, d->peerlen);
	if (ep->dtls) {
		coapfront_dtls_datagram(cf, ep, s, d);
		return;
	}
	if (s != NULL) {
		s->local = d->local;
		coapsess_touch(cf->sessions, s, cf->now);
	}
	coapfront_message(cf, ep, s, d, d->data, d->len, d->full_len - d->len);
}

static void
coapfront_io_cb(int fd, uint32_t events, void *arg)
{
	struct coapfront_ep *ep = arg;
	struct coapfront *cf = ep->cf;
	int i, n, rounds;

	(void)fd;
	(void)events;
	for (rounds = 0; rounds < COAPFRONT_ROUNDS; rounds++) {
		n = udp_recv(ep->sock, cf->in, UDP_BATCH);
		if (n <= 0)
			break;
		cf->now = ev_now_ms();
		for (i = 0; i < n; i++)
			coapfront_datagram(cf, ep, &cf->in[i]);
		udp_flush(ep->sock);
		if (n < UDP_BATCH)
			break;
	}
}

/* Timers ------------------------------------------------------------------- */

static void
coapfront_hs_timer(void *arg, struct coapsess *s)
{
	struct coapfront *cf = arg;

	if (s->dtls == NULL || dtls_conn_timer_ms(s->dtls) != 0)
		return;
	if (dtls_conn_timer(s->dtls) == -1) {
		cf->st.dtls_failures++;
		coapsess_free(cf->sessions, s);
	}
}

/*
 * Many sessions expired: hands the memory they held back to the system.
 * glibc returns only the top of its heap by itself, and sessions freed
 * amid live ones would otherwise stay resident until sessions come
 * again (a fleet that sleeps after an update wave leaves the gateway
 * with the wave's peak).  At most once a tick, after
 * COAPFRONT_TRIM_SESSIONS expiries.
 */
static void
coapfront_trim(struct coapfront *cf, size_t expired)
{
	cf->expired += expired;
	if (cf->expired < COAPFRONT_TRIM_SESSIONS)
		return;
	cf->expired = 0;
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

static void
coapfront_timer_cb(void *arg)
{
	struct coapfront *cf = arg;
	struct coapsess_counts a, b;
	size_t i;

	cf->timer = NULL;
	cf->now = ev_now_ms();
	coapsess_each_handshake(cf->sessions, coapfront_hs_timer, cf);
	coaphandler_expire(&cf->handler, cf->now);
	coapsess_counts(cf->sessions, &b);
	cf->st.handshake_timeouts += coapsess_expire(cf->sessions, cf->now);
	coapsess_counts(cf->sessions, &a);
	coapfront_trim(cf, b.open + b.handshakes - a.open - a.handshakes);
	for (i = 0; i < cf->neps; i++)
		udp_flush(cf->eps[i].sock);
	coapfront_arm(cf);
}

/* (Re)arms the timer: soon while handshakes are open. */
static void
coapfront_arm(struct coapfront *cf)
{
	struct coapsess_counts c;
	int64_t ms;

	coapsess_counts(cf->sessions, &c);
	ms = c.handshakes > 0 ? COAPFRONT_TICK_MS : COAPFRONT_IDLE_TICK_MS;
	if (cf->timer != NULL) {
		if (ms == COAPFRONT_IDLE_TICK_MS)
			return;
		ev_timer_cancel(cf->ev, cf->timer);
	}
	cf->timer = ev_timer_add(cf->ev, ms, coapfront_timer_cb, cf);
	if (cf->timer == NULL)
		log_warnx("coap: cannot arm the session timer");
}

/* Metrics ------------------------------------------------------------------ */

static void
coapfront_obs_metrics(struct coapfront *cf, struct metrics_out *out)
{
	static const char *const why[COAPOBS_END_N] = {
		"reason=\"deregistered\"", "reason=\"reset\"",
		"reason=\"timeout\"", "reason=\"session\"",
		"reason=\"error\"", "reason=\"replaced\"",
	};
	const struct coapobs_stats *o = &cf->obs.st;
	int i;

	metrics_gauge(out, "otagw_coap_observations",
	    "Observations of /ota/{device}/notice held (RFC 7641).", "",
	    (double)o->observations);
	metrics_counter(out, "otagw_coap_observe_registrations_total",
	    "Observe registrations accepted (replacements included).", "",
	    (double)o->registrations);
	metrics_counter(out, "otagw_coap_observe_refused_total",
	    "Observe registrations answered without Observe: "
	    "push_max_watchers or the per-session limit reached.", "",
	    (double)o->refused);
	metrics_counter(out, "otagw_coap_notifications_total",
	    "Confirmable notifications sent with a new notice (first "
	    "transmissions).", "", (double)o->notifications);
	metrics_counter(out, "otagw_coap_notification_retransmissions_total",
	    "Notifications sent again for want of an ACK.", "",
	    (double)o->retransmissions);
	metrics_counter(out, "otagw_coap_notifications_acked_total",
	    "Notifications the device acknowledged.", "", (double)o->acked);
	for (i = 0; i < COAPOBS_END_N; i++)
		metrics_counter(out, "otagw_coap_observations_ended_total",
		    "Observations ended, by why.", why[i],
		    (double)o->ended[i]);
}

static void
coapfront_metrics_cb(void *arg, struct metrics_out *out)
{
	struct coapfront *cf = arg;
	struct coapsess_counts c;
	struct udp_stats u, t;
	size_t i;

	if (cf->sessions == NULL)
		return;		/* stopping, or idle */
	memset(&t, 0, sizeof(t));
	for (i = 0; i < cf->neps; i++) {
		udp_get_stats(cf->eps[i].sock, &u);
		t.recv_calls += u.recv_calls;
		t.recv_dgrams += u.recv_dgrams;
		t.send_calls += u.send_calls;
		t.send_dgrams += u.send_dgrams;
		t.send_errors += u.send_errors;
		t.truncated += u.truncated;
	}
	coapsess_counts(cf->sessions, &c);
	metrics_gauge(out, "otagw_coap_endpoints",
	    "CoAP listening sockets (read and written in batches).", "",
	    (double)cf->neps);
	metrics_counter(out, "otagw_coap_datagrams_received_total",
	    "Datagrams read from CoAP sockets.", "", (double)t.recv_dgrams);
	metrics_counter(out, "otagw_coap_receive_calls_total",
	    "recvmmsg calls that read CoAP datagrams.", "",
	    (double)t.recv_calls);
	metrics_counter(out, "otagw_coap_datagrams_sent_total",
	    "Datagrams sent from CoAP sockets.", "", (double)t.send_dgrams);
	metrics_counter(out, "otagw_coap_send_calls_total",
	    "sendmmsg calls that sent CoAP datagrams.", "",
	    (double)t.send_calls);
	metrics_counter(out, "otagw_coap_send_errors_total",
	    "Datagrams the kernel refused to send (dropped; retransmission "
	    "covers them).", "", (double)t.send_errors);
	metrics_counter(out, "otagw_coap_datagrams_truncated_total",
	    "Datagrams longer than the read buffer.", "",
	    (double)t.truncated);
	metrics_counter(out, "otagw_coap_requests_total",
	    "CoAP requests answered.", "", (double)cf->st.requests);
	metrics_counter(out, "otagw_coap_retransmissions_total",
	    "Confirmable requests received again and answered as before.",
	    "", (double)cf->st.retransmissions);
	metrics_counter(out, "otagw_coap_malformed_total",
	    "CoAP messages that could not be parsed.", "",
	    (double)cf->st.malformed);
	metrics_counter(out, "otagw_coap_resets_total",
	    "Reset messages sent.", "", (double)cf->st.resets);
	metrics_gauge(out, "otagw_coap_sessions",
	    "CoAP sessions held (plain peers and DTLS sessions).", "",
	    (double)c.open);
	metrics_gauge(out, "otagw_coap_handshakes_open",
	    "DTLS handshakes under way (cookie checked).", "",
	    (double)c.handshakes);
	metrics_counter(out, "otagw_coap_handshakes_total",
	    "DTLS handshakes completed.", "", (double)cf->st.handshakes);
	metrics_counter(out, "otagw_coap_handshake_timeouts_total",
	    "DTLS handshakes dropped for taking too long.", "",
	    (double)cf->st.handshake_timeouts);
	metrics_counter(out, "otagw_coap_handshakes_refused_total",
	    "New DTLS handshakes ignored: too many open for one address.",
	    "limit=\"source\"", (double)cf->st.refused[COAPSESS_REFUSE_SOURCE]);
	metrics_counter(out, "otagw_coap_handshakes_refused_total",
	    "New DTLS handshakes ignored: too many open for one address.",
	    "limit=\"network\"", (double)cf->st.refused[COAPSESS_REFUSE_NET]);
	metrics_counter(out, "otagw_coap_handshakes_refused_total",
	    "New DTLS handshakes ignored: too many open for one address.",
	    "limit=\"total\"", (double)cf->st.refused[COAPSESS_REFUSE_TOTAL]);
	metrics_counter(out, "otagw_coap_dtls_failures_total",
	    "DTLS handshakes or sessions that failed.", "",
	    (double)cf->st.dtls_failures);
	coapfront_obs_metrics(cf, out);
}

/* Set-up ------------------------------------------------------------------- */

static void
coapfront_limits(const struct config *cfg, struct coapsess_limits *l)
{
	memset(l, 0, sizeof(*l));
	/* plain CoAP and DTLS each have coap_max_sessions */
	l->max_sessions = cfg->coap_max_sessions + cfg->coap_max_handshakes;
	l->max_plain = cfg->coap_max_sessions;
	l->max_handshakes = cfg->coap_max_handshakes;
	l->per_source = cfg->coap_handshakes_per_source;
	l->per_net = cfg->coap_handshakes_per_net;
	l->open_per_source = cfg->coap_sessions_per_source;
	l->per_identity = cfg->coap_sessions_per_device;
	l->idle_ms = (int64_t)cfg->coap_session_timeout * 1000;
	l->handshake_ms = (int64_t)cfg->coap_handshake_timeout * 1000;
}

static void
coapfront_session_release_cb(void *arg, struct coapsess *s)
{
	struct coapfront *cf = arg;

	coaphandler_release(&cf->handler, s);
	if (s->dtls != NULL) {
		dtls_conn_free(s->dtls);
		s->dtls = NULL;
	}
}

static int
coapfront_bind(struct coapfront *cf, const struct sockaddr *sa,
    socklen_t len, int dtls)
{
	struct coapfront_ep *ep;

	if (cf->neps == COAPFRONT_EPS) {
		errno = ENOSPC;
		return -1;
	}
	ep = &cf->eps[cf->neps];
	if ((ep->sock = udp_open(sa, len, cf->share)) == NULL)
		return -1;
	ep->cf = cf;
	ep->idx = (unsigned)cf->neps;
	ep->dtls = dtls;
	/* message ids otagw starts from: not guessable (RFC 7252 4.4) */
	if (crypto_random(&ep->next_mid, sizeof(ep->next_mid)) == -1)
		ep->next_mid = (uint16_t)ev_now_ms();
	if (ev_fd_add(cf->ev, udp_fd(ep->sock), EPOLLIN, coapfront_io_cb,
	    ep) == -1) {
		udp_close(ep->sock);
		ep->sock = NULL;
		return -1;
	}
	cf->neps++;
	return 0;
}

/* Binds one listener: every address of host, or the wildcard (dual stack). */
static int
coapfront_listen(struct coapfront *cf, const struct config_listen *l,
    int dtls, const char *what)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[CONFIG_STR], port[16];
	size_t hl;
	int rc, bound = 0, wildcard, err = 0;

	snprintf(port, sizeof(port), "%u", l->port);
	hl = strlen(l->host);
	if (hl >= 2 && l->host[0] == '[' && l->host[hl - 1] == ']') {
		memcpy(host, l->host + 1, hl - 2);
		host[hl - 2] = '\0';
	} else
		snprintf(host, sizeof(host), "%s", l->host);
	wildcard = host[0] == '\0' || strcmp(host, "*") == 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(wildcard ? "::" : host, port, &hints, &res);
	if (rc != 0) {
		log_warnx("%s: cannot resolve %s: %s", what, l->host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (coapfront_bind(cf, ai->ai_addr, ai->ai_addrlen,
		    dtls) == 0) {
			bound++;
			continue;
		}
		err = errno;
		if (wildcard && err == EAFNOSUPPORT) {
			/* No IPv6 here: IPv4 only. */
			struct sockaddr_in in;

			memset(&in, 0, sizeof(in));
			in.sin_family = AF_INET;
			in.sin_port = htons((uint16_t)l->port);
			if (coapfront_bind(cf, (struct sockaddr *)&in,
			    sizeof(in), dtls) == 0) {
				bound++;
				continue;
			}
			err = errno;
		}
		break;
	}
	freeaddrinfo(res);
	if (bound == 0 || ai != NULL) {
		log_warnx("%s: cannot listen on %s:%u: %s", what,
		    l->host[0] ? l->host : "*", l->port, strerror(err));
		return -1;
	}
	log_info("%s: listening on %s:%u", what, l->host[0] ? l->host : "*",
	    l->port);
	return 0;
}

struct coapfront *
coapfront_new(const struct config *cfg, struct core *core, struct ev *ev,
    struct metrics *metrics, int share)
{
	struct coapfront *cf;
	struct coapsess_limits lim;

	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		log_warn("coapfront_new");
		return NULL;
	}
	cf->core = core;
	cf->ev = ev;
	cf->share = share;
	cf->now = ev_now_ms();
	coapmsg_log_setup();
	coaphandler_init(&cf->handler, core, cfg->max_body);
	coapobs_init(&cf->obs, core, &coapfront_obs_ops, cf);
	cf->handler.obs = &cf->obs;
	if (!cfg->coap.enabled && !cfg->coaps.enabled)
		return cf;	/* idle */

	coapfront_limits(cfg, &lim);
	if ((cf->parser = coapmsg_parser_new()) == NULL ||
	    (cf->sessions = coapsess_table_new(&lim,
	    coapfront_session_release_cb, cf)) == NULL) {
		log_warnx("coap: out of memory");
		goto fail;
	}
	if (cfg->coaps.enabled) {
		if ((cf->dtls = dtls_server_new(coapfront_psk_cb, cf)) == NULL)
			goto fail;
		if (dtls_server_set_ciphers(cf->dtls, cfg->coaps_ciphers) ==
		    -1) {
			log_warnx("coaps_ciphers \"%s\": OpenSSL knows no "
			    "cipher suite in it", cfg->coaps_ciphers);
			goto fail;
		}
		if (coapfront_listen(cf, &cfg->coaps, 1, "coaps") == -1)
			goto fail;
	}
	if (cfg->coap.enabled &&
	    coapfront_listen(cf, &cfg->coap, 0, "coap") == -1)
		goto fail;
	coapfront_arm(cf);
	if (metrics != NULL && metrics_register(metrics, coapfront_metrics_cb,
	    cf) == -1)
		log_warnx("coap: cannot register metrics");
	return cf;

fail:
	coapfront_free(cf);
	return NULL;
}

void
coapfront_drain(struct coapfront *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	if (cf->timer != NULL)
		ev_timer_cancel(cf->ev, cf->timer);
	cf->timer = NULL;
	/* observers hear that this gateway stops (a 5.03 notification) */
	coapobs_drain(&cf->obs, COAPFRONT_DRAIN_MAX_AGE);
	if (cf->obs_timer != NULL)
		ev_timer_cancel(cf->ev, cf->obs_timer);
	cf->obs_timer = NULL;
	/* sessions send through the sockets: they go first */
	coapsess_table_free(cf->sessions);
	cf->sessions = NULL;
	for (i = 0; i < cf->neps; i++) {
		ev_fd_del(cf->ev, udp_fd(cf->eps[i].sock));
		udp_close(cf->eps[i].sock);
	}
	cf->neps = 0;
}

void
coapfront_set_config(struct coapfront *cf, const struct config *cfg)
{
	struct coapsess_limits lim;

	if (cf == NULL)
		return;
	coapmsg_log_setup();
	cf->handler.max_body = cfg->max_body;
	if (cf->sessions == NULL)
		return;
	coapfront_limits(cfg, &lim);
	coapsess_set_limits(cf->sessions, &lim);
}

unsigned
coapfront_port(const struct coapfront *cf, int dtls)
{
	const union udp_sa *sa;
	size_t i;

	if (cf == NULL)
		return 0;
	for (i = 0; i < cf->neps; i++) {
		if (cf->eps[i].dtls != dtls)
			continue;
		sa = udp_bound(cf->eps[i].sock);
		return ntohs(sa->sa.sa_family == AF_INET6 ?
		    sa->in6.sin6_port : sa->in.sin_port);
	}
	return 0;
}

void
coapfront_free(struct coapfront *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	if (cf->timer != NULL)
		ev_timer_cancel(cf->ev, cf->timer);
	if (cf->obs_timer != NULL)
		ev_timer_cancel(cf->ev, cf->obs_timer);
	/* Frees every session: image references and DTLS state go. */
	coapsess_table_free(cf->sessions);
	coapobs_cleanup(&cf->obs);
	for (i = 0; i < cf->neps; i++) {
		ev_fd_del(cf->ev, udp_fd(cf->eps[i].sock));
		udp_close(cf->eps[i].sock);
	}
	dtls_server_free(cf->dtls);
	coapmsg_parser_free(cf->parser);
	free(cf);
}
