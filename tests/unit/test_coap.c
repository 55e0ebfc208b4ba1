/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_coap.c: the CoAP message codec (coap/msg.c) and the session table
 * (coap/session.c), through their own interfaces.
 *
 * Messages: what the builder writes is what the parser (libcoap's) reads
 * back, options with every delta and length encoding; every truncated
 * prefix of a valid message either fails cleanly or parses; malformed
 * headers are refused.  Sessions: lookup across table growth, IPv4-mapped
 * addresses, LRU eviction, expiry, half-open admission per address, per
 * network and in total, plain CoAP and DTLS quotas apart, and open
 * sessions per source and per PSK identity.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "coap/msg.h"
#include "coap/session.h"
#include "t.h"

/* Messages -------------------------------------------------------------- */

static size_t
build_sample(uint8_t *buf, size_t cap)
{
	static const uint8_t token[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct coapmsg_block b = { 123456, 1, 6 };
	struct coapbuf r;
	uint8_t big[300];

	memset(big, 'x', sizeof(big));
	coapbuf_init(&r, buf, cap, COAPMSG_CON, COAPMSG_POST, 0xbeef, token,
	    sizeof(token));
	coapbuf_opt(&r, COAPOPT_URI_PATH, "ota", 3);
	coapbuf_opt(&r, COAPOPT_URI_PATH, "dev-1", 5);
	coapbuf_opt(&r, COAPOPT_URI_PATH, "check", 5);
	coapbuf_opt_uint(&r, COAPOPT_CONTENT_FORMAT, COAPFMT_JSON);
	coapbuf_opt(&r, COAPOPT_URI_QUERY, big, 20);	/* length 13..268 */
	coapbuf_opt_block(&r, COAPOPT_BLOCK1, &b);
	coapbuf_opt_uint(&r, COAPOPT_SIZE1, 70000);
	coapbuf_opt(&r, COAPOPT_NO_RESPONSE, "", 0);	/* delta over 269 */
	coapbuf_opt(&r, COAPOPT_REQUEST_TAG, big, 8);
	coapbuf_opt(&r, 2000, big, sizeof(big));	/* length over 268 */
	coapbuf_payload(&r, "{\"version\":\"1\"}", 15);
	T_CHECK(!r.overflow);
	return r.len;
}

static void
test_roundtrip(void)
{
	struct coapmsg_parser *p = coapmsg_parser_new();
	struct coapmsg_block b;
	const struct coapmsg_opt *o;
	struct coapmsg m;
	uint8_t buf[1024];
	uint32_t v;
	size_t len = build_sample(buf, sizeof(buf));

	T_CHECK(p != NULL);
	T_EQ_INT(coapmsg_parse(p, buf, len, &m), 0);
	T_EQ_INT(m.type, COAPMSG_CON);
	T_EQ_INT(m.code, COAPMSG_POST);
	T_EQ_INT(m.mid, 0xbeef);
	T_EQ_INT(m.tkl, 8);
	T_EQ_INT(m.token[7], 8);
	T_EQ_INT(m.nopts, 10);
	T_EQ_INT(m.opts[2].len, 5);
	T_CHECK(memcmp(m.opts[2].val, "check", 5) == 0);
	o = coapmsg_opt(&m, COAPOPT_CONTENT_FORMAT);
	T_CHECK(o != NULL && coapmsg_opt_uint(o, &v) == 0 && v == 50);
	o = coapmsg_opt(&m, COAPOPT_SIZE1);
	T_CHECK(o != NULL && coapmsg_opt_uint(o, &v) == 0 && v == 70000);
	T_EQ_INT(coapmsg_block(&m, COAPOPT_BLOCK1, &b), 1);
	T_EQ_INT(b.num, 123456);
	T_EQ_INT(b.m, 1);
	T_EQ_INT(b.szx, 6);
	T_EQ_INT(coapmsg_block(&m, COAPOPT_BLOCK2, &b), 0);
	T_CHECK(coapmsg_opt(&m, COAPOPT_NO_RESPONSE) != NULL);
	o = coapmsg_opt(&m, 2000);
	T_CHECK(o != NULL && o->len == 300);
	T_EQ_INT(m.payload_len, 15);
	T_CHECK(m.payload != NULL &&
	    memcmp(m.payload, "{\"version\"", 10) == 0);
	coapmsg_parser_free(p);
}

static void
test_prefixes(void)
{
	struct coapmsg_parser *p = coapmsg_parser_new();
	struct coapmsg m;
	uint8_t buf[1024];
	size_t len = build_sample(buf, sizeof(buf)), i;
	int parsed = 0;

	/* Every prefix parses or fails; none reads past its end (ASan). */
	for (i = 0; i < len; i++) {
		uint8_t *copy = malloc(i + 1);

		memcpy(copy, buf, i);
		if (coapmsg_parse(p, copy, i, &m) == 0)
			parsed++;
		free(copy);
	}
	T_CHECK(parsed > 0 && parsed < (int)len);
	coapmsg_parser_free(p);
}

static void
test_malformed(void)
{
	static const struct {
		const char	*what;
		const uint8_t	 d[8];
		size_t		 len;
	} cases[] = {
		{ "short", { 0x40, 0x01, 0x00 }, 3 },
		{ "version 2", { 0x80, 0x01, 0x00, 0x01 }, 4 },
		{ "token length 9", { 0x49, 0x01, 0x00, 0x01 }, 4 },
		{ "token runs off", { 0x44, 0x01, 0x00, 0x01, 1 }, 5 },
		{ "empty with token", { 0x41, 0x00, 0x00, 0x01, 7 }, 5 },
		{ "option delta 15", { 0x40, 0x01, 0x00, 0x01, 0xf0 }, 5 },
		{ "option runs off", { 0x40, 0x01, 0x00, 0x01, 0xd1 }, 5 },
		{ "marker, no payload", { 0x40, 0x01, 0x00, 0x01, 0xff }, 5 },
	};
	struct coapmsg_parser *p = coapmsg_parser_new();
	struct coapmsg m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = coapmsg_parse(p, cases[i].d, cases[i].len, &m);

		if (rc != -1)
			fprintf(stderr, "parsed: %s\n", cases[i].what);
		T_EQ_INT(rc, -1);
	}
	/* The header of a message with a bad option is still readable. */
	T_EQ_INT(coapmsg_header(cases[6].d, cases[6].len, &m), 0);
	T_EQ_INT(m.mid, 1);
	coapmsg_parser_free(p);
}

static void
test_builder_limits(void)
{
	struct coapbuf r;
	uint8_t buf[16];

	coapbuf_init(&r, buf, sizeof(buf), COAPMSG_ACK, COAPMSG_CODE(2, 5), 1,
	    NULL, 0);
	coapbuf_opt_uint(&r, COAPOPT_MAX_AGE, 60);
	/* out of order */
	coapbuf_opt_uint(&r, COAPOPT_CONTENT_FORMAT, 50);
	T_CHECK(r.overflow);
	coapbuf_reset(&r);
	T_CHECK(!r.overflow);
	T_EQ_INT(r.len, 4);
	coapbuf_payload(&r, "0123456789abcdef", 16);	/* does not fit */
	T_CHECK(r.overflow);
	coapbuf_reset(&r);
	coapbuf_opt_uint(&r, COAPOPT_MAX_AGE, 0);	/* zero: no bytes */
	T_EQ_INT(r.len, 6);
	T_EQ_INT(r.buf[4], 0xd0);	/* delta 13 + 1 extended, length 0 */
	T_EQ_INT(r.buf[5], 1);
	coapbuf_code(&r, COAPMSG_CODE(4, 4));
	T_EQ_INT(coapbuf_get_code(&r), COAPMSG_CODE(4, 4));
}

static void
test_block_option(void)
{
	struct coapmsg_parser *p = coapmsg_parser_new();
	struct coapmsg_block b;
	struct coapmsg m;
	uint8_t d[16] = { 0x40, 0x01, 0x00, 0x01 };

	/* Block2 (23) with SZX 7: invalid. */
	d[4] = 0xd1;
	d[5] = 23 - 13;
	d[6] = 0x17;
	T_EQ_INT(coapmsg_parse(p, d, 7, &m), 0);
	T_EQ_INT(coapmsg_block(&m, COAPOPT_BLOCK2, &b), -1);
	/* Empty Block2: block 0, 16 bytes. */
	d[4] = 0xd0;
	T_EQ_INT(coapmsg_parse(p, d, 6, &m), 0);
	T_EQ_INT(coapmsg_block(&m, COAPOPT_BLOCK2, &b), 1);
	T_EQ_INT(b.num, 0);
	T_EQ_INT(b.szx, 0);
	coapmsg_parser_free(p);
}

/* Sessions ----------------------------------------------------------------- */

static int released;

static void
count_release(void *arg, struct coapsess *s)
{
	(void)arg;
	(void)s;
	released++;
}

static void
v4(union udp_sa *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->in.sin_family = AF_INET;
	sa->in.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &sa->in.sin_addr);
}

static void
v6(union udp_sa *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->in6.sin6_family = AF_INET6;
	sa->in6.sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, ip, &sa->in6.sin6_addr);
}

static struct coapsess_limits
limits(void)
{
	struct coapsess_limits l;

	memset(&l, 0, sizeof(l));
	l.max_sessions = 100000;
	l.max_plain = 100000;
	l.max_handshakes = 10;
	l.per_source = 3;
	l.per_net = 5;
	l.idle_ms = 60000;
	l.handshake_ms = 5000;
	return l;
}

static void
test_lookup(void)
{
	struct coapsess_limits l = limits();
	struct coapsess_table *t = coapsess_table_new(&l, count_release, NULL);
	struct coapsess_counts c;
	union udp_sa a, b;
	int i, found = 0;

	for (i = 0; i < 5000; i++) {
		v4(&a, "10.0.0.1", 1000 + i);
		T_CHECK(coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN,
		    0) != NULL || i < 0);
	}
	for (i = 0; i < 5000; i++) {
		v4(&a, "10.0.0.1", 1000 + i);
		if (coapsess_find(t, 0, &a, sizeof(a.in)) != NULL)
			found++;
	}
	T_EQ_INT(found, 5000);
	/* Another endpoint is another session. */
	v4(&a, "10.0.0.1", 1000);
	T_CHECK(coapsess_find(t, 1, &a, sizeof(a.in)) == NULL);
	/* An IPv4-mapped address is the same peer. */
	v6(&b, "::ffff:10.0.0.1", 1000);
	T_CHECK(coapsess_find(t, 0, &b, sizeof(b.in6)) ==
	    coapsess_find(t, 0, &a, sizeof(a.in)));
	coapsess_counts(t, &c);
	T_EQ_INT(c.open, 5000);
	released = 0;
	coapsess_table_free(t);
	T_EQ_INT(released, 5000);
}

static void
test_lru_and_expiry(void)
{
	struct coapsess_limits l = limits();
	struct coapsess_table *t;
	struct coapsess *s1, *s2, *s3;
	union udp_sa a;

	l.max_plain = 2;
	t = coapsess_table_new(&l, count_release, NULL);
	v4(&a, "10.0.0.1", 1);
	s1 = coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN, 0);
	v4(&a, "10.0.0.1", 2);
	s2 = coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN, 10);
	coapsess_touch(t, s1, 20);		/* s2 is now the oldest */
	released = 0;
	v4(&a, "10.0.0.1", 3);
	s3 = coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN, 30);
	T_CHECK(s1 != NULL && s2 != NULL && s3 != NULL);
	T_EQ_INT(released, 1);
	v4(&a, "10.0.0.1", 2);
	T_CHECK(coapsess_find(t, 0, &a, sizeof(a.in)) == NULL);
	/* Idle expiry from the head: s1 (20) goes at 60020, s3 stays. */
	coapsess_expire(t, 60025);
	v4(&a, "10.0.0.1", 1);
	T_CHECK(coapsess_find(t, 0, &a, sizeof(a.in)) == NULL);
	v4(&a, "10.0.0.1", 3);
	T_CHECK(coapsess_find(t, 0, &a, sizeof(a.in)) == s3);
	coapsess_table_free(t);
}

static void
test_admission(void)
{
	struct coapsess_limits l = limits();
	struct coapsess_table *t = coapsess_table_new(&l, NULL, NULL);
	struct coapsess *hs[10];
	union udp_sa a;
	int i, n = 0;

	/* Three per address. */
	for (i = 0; i < 4; i++) {
		v4(&a, "192.0.2.1", 5000 + i);
		if (coapsess_admit(t, &a) == COAPSESS_ADMIT)
			hs[n++] = coapsess_new(t, 1, 1, &a, sizeof(a.in),
			    COAPSESS_HANDSHAKE, 0);
		else
			T_EQ_INT(coapsess_admit(t, &a),
			    COAPSESS_REFUSE_SOURCE);
	}
	T_EQ_INT(n, 3);
	/* Five per /24: two more from a neighbour, then the network. */
	v4(&a, "192.0.2.2", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_ADMIT);
	hs[n++] = coapsess_new(t, 1, 1, &a, sizeof(a.in), COAPSESS_HANDSHAKE,
	    0);
	v4(&a, "192.0.2.2", 2);
	hs[n++] = coapsess_new(t, 1, 1, &a, sizeof(a.in), COAPSESS_HANDSHAKE,
	    0);
	v4(&a, "192.0.2.3", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_REFUSE_NET);
	/* Another network is fine; an IPv6 /64 counts as one network. */
	v4(&a, "198.51.100.1", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_ADMIT);
	v6(&a, "2001:db8:0:1::1", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_ADMIT);
	/* A completed handshake frees its slot. */
	coapsess_opened(t, hs[0], 1);
	v4(&a, "192.0.2.1", 6000);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_ADMIT);
	/* So does a timeout: the rest are half-open since 0. */
	T_EQ_INT(coapsess_expire(t, 4999), 0);
	T_EQ_INT(coapsess_expire(t, 5000), 4);
	v4(&a, "192.0.2.3", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_ADMIT);
	/* The total. */
	for (i = 0; i < 10; i++) {
		v4(&a, "203.0.113.1", 1);
		a.in.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)i << 8);
		T_CHECK(coapsess_new(t, 1, 1, &a, sizeof(a.in),
		    COAPSESS_HANDSHAKE, 10) != NULL);
	}
	v4(&a, "203.0.113.9", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_REFUSE_TOTAL);
	coapsess_table_free(t);

	/*
	 * Open plain CoAP sessions of an IPv6 /64 are not half-open
	 * handshakes of that /64: each kind of counter has keys of its own
	 * (their key bytes once ran into each other for IPv6).
	 */
	t = coapsess_table_new(&l, NULL, NULL);
	for (i = 0; i < 8; i++) {
		v6(&a, "2001:db8:1:2::7", 7000 + i);
		T_CHECK(coapsess_new(t, 0, 0, &a, sizeof(a.in6),
		    COAPSESS_OPEN, 0) != NULL);
	}
	v6(&a, "2001:db8:1:2::8", 1);
	T_EQ_INT(coapsess_admit(t, &a), COAPSESS_ADMIT);
	coapsess_table_free(t);
}

/* A DTLS session from a (port p) that completes its handshake as id. */
static struct coapsess *
dtls_open(struct coapsess_table *t, const char *ip, int p, const char *id,
    int64_t now)
{
	struct coapsess *s;
	union udp_sa a;

	v4(&a, ip, p);
	if ((s = coapsess_new(t, 1, 1, &a, sizeof(a.in), COAPSESS_HANDSHAKE,
	    now)) == NULL)
		return NULL;
	snprintf(s->identity, sizeof(s->identity), "%s", id);
	coapsess_opened(t, s, now);
	return s;
}

static int
has(struct coapsess_table *t, unsigned ep, const char *ip, int p)
{
	union udp_sa a;

	if (strchr(ip, ':') != NULL)
		v6(&a, ip, p);
	else
		v4(&a, ip, p);
	return coapsess_find(t, ep, &a, sizeof(a)) != NULL;
}

/*
 * Plain CoAP (anyone, from any address, for free) evicts only plain CoAP
 * sessions: a flood of new peers leaves DTLS sessions where they are.
 */
static void
test_kinds(void)
{
	struct coapsess_limits l = limits();
	struct coapsess_table *t;
	struct coapsess_counts c;
	union udp_sa a;
	int i;

	l.max_sessions = 3;
	l.max_plain = 3;
	t = coapsess_table_new(&l, count_release, NULL);
	T_CHECK(dtls_open(t, "192.0.2.1", 1, "d1", 0) != NULL);
	T_CHECK(dtls_open(t, "192.0.2.2", 1, "d2", 0) != NULL);
	released = 0;
	for (i = 0; i < 400; i++) {
		v4(&a, "10.0.0.1", 1000 + i);
		a.in.sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i);
		T_CHECK(coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN,
		    1 + i) != NULL);
	}
	T_EQ_INT(released, 397);
	T_CHECK(has(t, 1, "192.0.2.1", 1) && has(t, 1, "192.0.2.2", 1));
	coapsess_counts(t, &c);
	T_EQ_INT(c.open, 5);
	T_EQ_INT(c.plain, 3);
	/* DTLS at its quota evicts its own least recently used */
	T_CHECK(dtls_open(t, "192.0.2.3", 1, "d3", 500) != NULL);
	T_CHECK(dtls_open(t, "192.0.2.4", 1, "d4", 501) != NULL);
	T_CHECK(!has(t, 1, "192.0.2.1", 1) && has(t, 1, "192.0.2.2", 1));
	coapsess_counts(t, &c);
	T_EQ_INT(c.plain, 3);
	coapsess_table_free(t);
}

/*
 * One source (IPv4 address, IPv6 /64) holds at most open_per_source open
 * sessions of each kind: one more replaces its own least recently used,
 * never another host's.  A PSK identity holds per_identity DTLS sessions
 * (0: any): one more replaces its least recently used, from whatever
 * address and port.
 */
static void
test_per_source(void)
{
	struct coapsess_limits l = limits();
	struct coapsess_table *t;
	struct coapsess *s[3], *d;
	union udp_sa a;
	int i;

	l.open_per_source = 2;
	l.per_identity = 1;
	t = coapsess_table_new(&l, count_release, NULL);
	v4(&a, "10.0.0.9", 1);
	T_CHECK(coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN, 0) !=
	    NULL);
	for (i = 0; i < 3; i++) {
		v4(&a, "10.0.0.1", 1 + i);
		s[i] = coapsess_new(t, 0, 0, &a, sizeof(a.in), COAPSESS_OPEN,
		    i);
		T_CHECK(s[i] != NULL);
		if (i == 1)
			coapsess_touch(t, s[0], 5);	/* s[1] is older */
	}
	T_CHECK(has(t, 0, "10.0.0.1", 1) && !has(t, 0, "10.0.0.1", 2) &&
	    has(t, 0, "10.0.0.1", 3) && has(t, 0, "10.0.0.9", 1));
	/* a /64 is one source; another /64 is another */
	for (i = 0; i < 3; i++) {
		v6(&a, "2001:db8:0:1::1", 1);
		a.in6.sin6_addr.s6_addr[15] = (uint8_t)(1 + i);
		T_CHECK(coapsess_new(t, 0, 0, &a, sizeof(a.in6),
		    COAPSESS_OPEN, 10 + i) != NULL);
	}
	T_CHECK(!has(t, 0, "2001:db8:0:1::1", 1) &&
	    has(t, 0, "2001:db8:0:1::3", 1));
	v6(&a, "2001:db8:0:2::1", 1);
	T_CHECK(coapsess_new(t, 0, 0, &a, sizeof(a.in6), COAPSESS_OPEN,
	    20) != NULL);
	T_CHECK(has(t, 0, "2001:db8:0:1::2", 1));
	/* DTLS sessions count apart from plain ones of the same source */
	T_CHECK(dtls_open(t, "10.0.0.1", 100, "d1", 30) != NULL);
	T_CHECK(dtls_open(t, "10.0.0.1", 101, "d2", 31) != NULL);
	T_CHECK(has(t, 0, "10.0.0.1", 1) && has(t, 0, "10.0.0.1", 3));
	T_CHECK(dtls_open(t, "10.0.0.1", 102, "d3", 32) != NULL);
	T_CHECK(!has(t, 1, "10.0.0.1", 100) && has(t, 1, "10.0.0.1", 101));
	/* one session per identity: a reconnection replaces the old one */
	released = 0;
	d = dtls_open(t, "192.0.2.7", 5, "d2", 40);
	T_CHECK(d != NULL);
	T_EQ_INT(released, 1);
	T_CHECK(!has(t, 1, "10.0.0.1", 101) && has(t, 1, "10.0.0.1", 102));
	T_CHECK(dtls_open(t, "192.0.2.8", 5, "d2", 41) != NULL);
	T_CHECK(!has(t, 1, "192.0.2.7", 5));
	coapsess_table_free(t);

	/* per_identity 2: the least recently used of the device's goes */
	l.per_identity = 2;
	t = coapsess_table_new(&l, count_release, NULL);
	d = dtls_open(t, "192.0.2.1", 1, "d7", 0);
	T_CHECK(dtls_open(t, "192.0.2.1", 2, "d7", 1) != NULL);
	coapsess_touch(t, d, 2);
	T_CHECK(dtls_open(t, "192.0.2.1", 3, "d7", 3) != NULL);
	T_CHECK(has(t, 1, "192.0.2.1", 1) && !has(t, 1, "192.0.2.1", 2) &&
	    has(t, 1, "192.0.2.1", 3));
	coapsess_table_free(t);
	/* 0: any number */
	l.per_identity = 0;
	l.open_per_source = 0;
	t = coapsess_table_new(&l, count_release, NULL);
	for (i = 0; i < 5; i++)
		T_CHECK(dtls_open(t, "192.0.2.1", 10 + i, "d7", i) != NULL);
	for (i = 0; i < 5; i++)
		T_CHECK(has(t, 1, "192.0.2.1", 10 + i));
	coapsess_table_free(t);
}

int
main(void)
{
	T_RUN(test_roundtrip);
	T_RUN(test_prefixes);
	T_RUN(test_malformed);
	T_RUN(test_builder_limits);
	T_RUN(test_block_option);
	T_RUN(test_lookup);
	T_RUN(test_lru_and_expiry);
	T_RUN(test_admission);
	T_RUN(test_kinds);
	T_RUN(test_per_source);
	return t_done();
}
