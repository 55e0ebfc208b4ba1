/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_coaphandler.c: what otagw answers to a CoAP request
 * (src/coap/handler.c), through coaphandler_request, with a real core and
 * store (corefix.h), as the message layer calls it and as fuzz_coap does.
 *
 * Each request is built with coapbuf and read back by libcoap's parser
 * (coapmsg_parse), and each answer is parsed the same way, so what is
 * checked is what would go on the wire: routes (4.04, 4.05), options
 * (4.02 for an unknown critical or a repeated option and for too many,
 * 5.05 for proxying, 4.06 for Accept, 4.15 for Content-Format), check and
 * progress over CoAP and coaps (the notice, 2.04, 4.01 without an
 * identity, 4.03 for another device's identity), the notice sliced by
 * Block2 and put back together, Block1 bodies with and without Size1
 * (2.31 for each block, then the answer), a block out of order or after
 * the body's time (4.08), a retransmitted block, bodies over the limit
 * (4.13 with Size1, and Block1 when a datagram was cut), the session's
 * body given back on release, the bound on bodies held at once (5.03),
 * in all, per source address and per PSK identity, bodies held by what
 * they announced or received, bodies dropped by the timer,
 * downloads at every SZX put back together and compared with the image
 * (ETag, Size2, Block2 on every block), a block past the end (4.02), 2.03
 * for a matching ETag, every prefix of a request datagram answered with
 * a well-formed message or refused by the parser, and observations of
 * /ota/{device}/notice (src/coap/observe.c) with the message layer
 * replaced by a list of what was sent: registration, the notification a
 * new job brings, ACK, deregistration, replacement, the limits, resets,
 * retransmissions until the observation ends, sessions ending, drain.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/handler.h"
#include "coap/msg.h"
#include "coap/observe.h"
#include "coap/session.h"
#include "core/watch.h"
#include "log.h"
#include "corefix.h"
#include "t.h"

#define IMG	5000
#define MAX_BODY 300

static struct corefix f;
static struct coaphandler h;
static struct coapmsg_parser *parser;
static struct firmware_rec fw1;
static uint64_t serial;
static int64_t now_ms = 1000000;
static unsigned overflows;	/* requests or answers that did not fit */

/* Requests and answers ----------------------------------------------------- */

/* An option of a request: a string, or a uint when val is NULL. */
struct opt {
	uint16_t	 num;
	const char	*val;
	size_t		 len;
	uint32_t	 uint;
};

#define O_UINT(n, v)	{ (n), NULL, 0, (v) }
#define O_STR(n, s)	{ (n), (s), sizeof(s) - 1, 0 }
#define O_BLOCK(n, num, m, szx) \
	{ (n), NULL, 0, (uint32_t)(num) << 4 | (m) << 3 | (szx) }

/* The answer, parsed. */
struct ans {
	uint8_t		 code;
	uint8_t		 type;
	uint8_t		 token[8];
	uint8_t		 tkl;
	uint8_t		 payload[2048];
	size_t		 len;
	struct coapmsg	 m;		/* its options (valid until next ask) */
	int		 ok;		/* it parsed */
};

static void
sess_init(struct coapsess *s, const char *identity)
{
	memset(s, 0, sizeof(*s));
	s->state = COAPSESS_OPEN;
	s->serial = ++serial;
	if (identity != NULL) {
		s->dtls_ep = 1;
		snprintf(s->identity, sizeof(s->identity), "%s", identity);
	}
}

/* Orders opts by number (stably), as the encoding needs. */
static void
opts_sort(struct opt *o, size_t n)
{
	struct opt t;
	size_t	 i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && o[j - 1].num > o[j].num; j--) {
			t = o[j];
			o[j] = o[j - 1];
			o[j - 1] = t;
		}
}

/* Builds a request datagram: path "a/b/c" as Uri-Path, then opts. */
static size_t
build(uint8_t *buf, size_t cap, uint8_t code, const char *path,
    const struct opt *opts, size_t nopts, const void *payload, size_t plen)
{
	static const uint8_t token[] = { 0xca, 0xfe, 0x01 };
	struct opt all[48];
	struct coapbuf b;
	const char *p = path, *e;
	size_t	 n = 0, i;

	while (p != NULL && *p != '\0' && n < 16) {
		e = strchr(p, '/');
		all[n].num = COAPOPT_URI_PATH;
		all[n].val = p;
		all[n].len = e ? (size_t)(e - p) : strlen(p);
		n++;
		p = e ? e + 1 : NULL;
		if (p != NULL && *p == '\0') {	/* a trailing "/": "" */
			all[n].num = COAPOPT_URI_PATH;
			all[n].val = p;
			all[n].len = 0;
			n++;
		}
	}
	for (i = 0; i < nopts && n < sizeof(all) / sizeof(all[0]); i++)
		all[n++] = opts[i];
	opts_sort(all, n);
	coapbuf_init(&b, buf, cap, COAPMSG_CON, code, 0x1234, token,
	    sizeof(token));
	for (i = 0; i < n; i++) {
		if (all[i].val != NULL)
			coapbuf_opt(&b, all[i].num, all[i].val, all[i].len);
		else
			coapbuf_opt_uint(&b, all[i].num, all[i].uint);
	}
	coapbuf_payload(&b, payload, plen);
	if (b.overflow)
		overflows++;
	return b.len;
}

/*
 * Sends one request on session s and parses the answer into a.  Returns
 * the answer's code (0 when something did not parse).
 */
static uint8_t
ask_cut(struct coapsess *s, uint8_t code, const char *path,
    const struct opt *opts, size_t nopts, const void *payload, size_t plen,
    size_t truncated, struct ans *a)
{
	static uint8_t in[4096], out[1280];
	struct coapmsg m;
	struct coapbuf r;
	size_t	 len;

	memset(a, 0, sizeof(*a));
	len = build(in, sizeof(in), code, path, opts, nopts, payload, plen);
	if (coapmsg_parse(parser, in, len, &m) != 0)
		return 0;
	coapbuf_init(&r, out, sizeof(out), COAPMSG_ACK, COAPMSG_CODE(5, 0),
	    m.mid, m.token, m.tkl);
	coaphandler_request(&h, s, &m, truncated, now_ms, &r);
	if (r.overflow)
		overflows++;
	if (coapmsg_parse(parser, out, r.len, &a->m) != 0)
		return 0;
	a->ok = 1;
	a->code = a->m.code;
	a->type = a->m.type;
	a->tkl = a->m.tkl;
	memcpy(a->token, a->m.token, sizeof(a->token));
	a->len = a->m.payload_len < sizeof(a->payload) ? a->m.payload_len :
	    sizeof(a->payload);
	if (a->len > 0)
		memcpy(a->payload, a->m.payload, a->len);
	return a->code;
}

static uint8_t
ask(struct coapsess *s, uint8_t code, const char *path,
    const struct opt *opts, size_t nopts, const char *payload,
    struct ans *a)
{
	return ask_cut(s, code, path, opts, nopts, payload,
	    payload != NULL ? strlen(payload) : 0, 0, a);
}

/* A uint option of the answer, or -1. */
static int64_t
ans_uint(const struct ans *a, uint16_t num)
{
	const struct coapmsg_opt *o = coapmsg_opt(&a->m, num);
	uint32_t v;

	if (o == NULL || coapmsg_opt_uint(o, &v) != 0)
		return -1;
	return v;
}

static int
ans_block(const struct ans *a, uint16_t num, struct coapmsg_block *b)
{
	return coapmsg_block(&a->m, num, b);
}

static int
ans_says(const struct ans *a, const char *text)
{
	return a->len == strlen(text) && memcmp(a->payload, text,
	    a->len) == 0;
}

#define C(c, d)	COAPMSG_CODE(c, d)
#define GET	COAPMSG_GET
#define POST	COAPMSG_POST

/* Fixture ----------------------------------------------------------------- */

static void
setup(void)
{
	static const char *const devs[] = { "d1", "d2", NULL };

	corefix_up(&f, "coaphandler");
	corefix_device(&f, "d1", "key-1", NULL);
	corefix_device(&f, "d2", "key-2", NULL);
	corefix_device(&f, "d3", "key-3", NULL);
	corefix_firmware(&f, "fw-1", "2.0.0", IMG, &fw1);
	corefix_firmware(&f, "fw-2", "3.0.0", 100, NULL);
	corefix_job(&f, "j-1", "fw-1", devs);
	coaphandler_init(&h, f.core, MAX_BODY);
}

static void
teardown(void)
{
	T_EQ_INT(h.body_bytes, 0);
	T_EQ_INT(overflows, 0);
	corefix_down(&f);
}

/* Tests -------------------------------------------------------------------- */

static void
test_routes(void)
{
	static const struct {
		const char *what;
		uint8_t	 code;
		const char *path;
		uint8_t	 want;
	} cases[] = {
		{ "GET check", GET, "ota/d1/check", C(4, 5) },
		{ "GET progress", GET, "ota/d1/progress", C(4, 5) },
		{ "POST fw", POST, "fw/fw-1", C(4, 5) },
		{ "PUT check", COAPMSG_CODE(0, 3), "ota/d1/check", C(4, 5) },
		{ "DELETE fw", COAPMSG_CODE(0, 4), "fw/fw-1", C(4, 5) },
		{ "FETCH fw", COAPMSG_CODE(0, 5), "fw/fw-1", C(4, 5) },
		{ "unknown verb", POST, "ota/d1/reboot", C(4, 4) },
		{ "unknown root", GET, "nope", C(4, 4) },
		{ "no path", GET, "", C(4, 4) },
		{ "ota alone", POST, "ota", C(4, 4) },
		{ "one too deep", POST, "ota/d1/check/x", C(4, 4) },
		{ "five segments", POST, "ota/d1/check/x/y", C(4, 4) },
		{ "fw too deep", GET, "fw/fw-1/x", C(4, 4) },
		{ "empty device", POST, "ota//check", C(4, 4) },
		{ "empty firmware", GET, "fw/", C(4, 4) },
		{ "unknown device", POST, "ota/d9/check", C(4, 4) },
		{ "unknown firmware", GET, "fw/fw-9", C(4, 4) },
		{ "bad device id", POST, "ota/d 1/check", C(4, 0) },
		{ "bad firmware id", GET, "fw/..", C(4, 0) },
		{ "case matters", POST, "OTA/d1/check", C(4, 4) },
	};
	struct coapsess s;
	struct ans a;
	size_t	 i;

	sess_init(&s, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ask(&s, cases[i].code, cases[i].path, NULL, 0, NULL, &a);
		if (a.code != cases[i].want)
			fprintf(stderr, "route %s: %d.%02d\n", cases[i].what,
			    a.code >> 5, a.code & 31);
		T_EQ_INT(a.code, cases[i].want);
		/* the answer keeps the request's token */
		T_CHECK(a.tkl == 3 && a.token[0] == 0xca && a.token[2] == 1);
		T_EQ_INT(a.type, COAPMSG_ACK);
		T_CHECK(a.len > 0);	/* a diagnostic */
	}
	/* a NUL in an id */
	{
		static const char nul[] = "d\0" "1";
		struct opt o[] = {
			{ COAPOPT_URI_PATH, "ota", 3, 0 },
			{ COAPOPT_URI_PATH, nul, 3, 0 },
			{ COAPOPT_URI_PATH, "check", 5, 0 },
		};

		T_EQ_INT(ask(&s, POST, NULL, o, 3, NULL, &a), C(4, 4));
	}
	/* an id longer than any */
	{
		char	 path[200];

		snprintf(path, sizeof(path), "ota/%0100d/check", 1);
		T_EQ_INT(ask(&s, POST, path, NULL, 0, NULL, &a), C(4, 4));
	}
}

static void
test_options(void)
{
	static const struct {
		const char *what;
		uint8_t	 code;
		const char *path;
		struct opt o[2];
		size_t	 n;
		uint8_t	 want;
		const char *diag;
	} cases[] = {
		{ "unknown critical", POST, "ota/d3/check",
		  { O_UINT(9, 1) }, 1, C(4, 2),
		  "unsupported critical option 9" },
		{ "If-Match", GET, "fw/fw-1", { O_STR(COAPOPT_IF_MATCH, "x") },
		  1, C(4, 2), "unsupported critical option 1" },
		{ "If-None-Match", POST, "ota/d3/check",
		  { O_STR(COAPOPT_IF_NONE_MATCH, "") }, 1, C(4, 2), NULL },
		{ "critical past 255", POST, "ota/d3/check",
		  { O_UINT(2049, 1) }, 1, C(4, 2), NULL },
		{ "Proxy-Uri", GET, "fw/fw-1",
		  { O_STR(COAPOPT_PROXY_URI, "coap://x/fw/fw-1") }, 1, C(5, 5),
		  "proxying not supported" },
		{ "Proxy-Scheme", GET, "fw/fw-1",
		  { O_STR(COAPOPT_PROXY_SCHEME, "coap") }, 1, C(5, 5), NULL },
		{ "repeated Content-Format", POST, "ota/d3/check",
		  { O_UINT(COAPOPT_CONTENT_FORMAT, 50),
		    O_UINT(COAPOPT_CONTENT_FORMAT, 50) }, 2, C(4, 2),
		  "repeated option 12" },
		{ "repeated Block2", GET, "fw/fw-1",
		  { O_BLOCK(COAPOPT_BLOCK2, 0, 0, 6),
		    O_BLOCK(COAPOPT_BLOCK2, 1, 0, 6) }, 2, C(4, 2), NULL },
		{ "repeated Request-Tag", POST, "ota/d3/check",
		  { O_STR(COAPOPT_REQUEST_TAG, "a"),
		    O_STR(COAPOPT_REQUEST_TAG, "b") }, 2, C(4, 2), NULL },
		{ "Accept text on check", POST, "ota/d3/check",
		  { O_UINT(COAPOPT_ACCEPT, COAPFMT_TEXT) }, 1, C(4, 6),
		  "only JSON answers" },
		{ "Accept JSON on fw", GET, "fw/fw-1",
		  { O_UINT(COAPOPT_ACCEPT, COAPFMT_JSON) }, 1, C(4, 6),
		  "only octet streams" },
		{ "Content-Format octets on check", POST, "ota/d3/check",
		  { O_UINT(COAPOPT_CONTENT_FORMAT, COAPFMT_OCTETS) }, 1,
		  C(4, 15), NULL },
		{ "Block2 SZX 7", GET, "fw/fw-1",
		  { O_BLOCK(COAPOPT_BLOCK2, 0, 0, 7) }, 1, C(4, 2),
		  "bad Block2 option" },
		/* accepted and ignored */
		{ "Uri-Host, Uri-Port", POST, "ota/d3/check",
		  { O_STR(COAPOPT_URI_HOST, "gw"),
		    O_UINT(COAPOPT_URI_PORT, 5683) }, 2, C(2, 4), NULL },
		{ "Uri-Query", POST, "ota/d3/check",
		  { O_STR(COAPOPT_URI_QUERY, "a=b"),
		    O_STR(COAPOPT_URI_QUERY, "c") }, 2, C(2, 4), NULL },
		{ "Observe (elective)", POST, "ota/d3/check",
		  { O_UINT(COAPOPT_OBSERVE, 0) }, 1, C(2, 4), NULL },
		{ "No-Response (elective)", POST, "ota/d3/check",
		  { O_UINT(COAPOPT_NO_RESPONSE, 0) }, 1, C(2, 4), NULL },
		{ "elective past 2000", POST, "ota/d3/check",
		  { O_STR(2050, "zz") }, 1, C(2, 4), NULL },
		{ "Accept JSON, text body", POST, "ota/d3/check",
		  { O_UINT(COAPOPT_ACCEPT, COAPFMT_JSON),
		    O_UINT(COAPOPT_CONTENT_FORMAT, COAPFMT_TEXT) }, 2, C(2, 4),
		  NULL },
	};
	struct coapsess s;
	struct ans a;
	size_t	 i;

	sess_init(&s, "d3");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ask(&s, cases[i].code, cases[i].path, cases[i].o, cases[i].n,
		    NULL, &a);
		if (a.code != cases[i].want)
			fprintf(stderr, "options %s: %d.%02d %.*s\n",
			    cases[i].what, a.code >> 5, a.code & 31,
			    (int)a.len, a.payload);
		T_EQ_INT(a.code, cases[i].want);
		if (cases[i].diag != NULL)
			T_CHECK(ans_says(&a, cases[i].diag));
	}
	/* more options than a message keeps */
	{
		struct opt many[40];

		for (i = 0; i < 40; i++) {
			many[i].num = COAPOPT_URI_QUERY;
			many[i].val = "q";
			many[i].len = 1;
		}
		T_EQ_INT(ask(&s, POST, "ota/d3/check", many, 40, NULL, &a),
		    C(4, 2));
		T_CHECK(ans_says(&a, "too many options"));
	}
}

/*
 * Option values libcoap's parser refuses (it checks the lengths of the
 * options it knows), so the handler never meets them from the network;
 * it must still answer them sanely if it does: the option is put in a
 * parsed request by hand.
 */
static void
test_options_unparsed(void)
{
	static const struct {
		const char *what;
		uint8_t	 code;
		const char *path;
		uint16_t num;
		const char *val;
		size_t	 len;
		uint8_t	 want;
		const char *diag;
	} cases[] = {
		{ "Size1 of 5 bytes", POST, "ota/d3/check", COAPOPT_SIZE1,
		  "\1\0\0\0\0", 5, C(4, 2), "bad option value" },
		{ "Accept of 5 bytes", POST, "ota/d3/check", COAPOPT_ACCEPT,
		  "\0\0\0\0\x32", 5, C(4, 2), "bad option value" },
		{ "Block1 of 4 bytes", POST, "ota/d3/check", COAPOPT_BLOCK1,
		  "\0\0\0\0", 4, C(4, 2), "bad Block1 option" },
		{ "Block2 of 4 bytes", GET, "fw/fw-1", COAPOPT_BLOCK2,
		  "\0\0\0\0", 4, C(4, 2), "bad Block2 option" },
		{ "Accept of 5 bytes on fw", GET, "fw/fw-1", COAPOPT_ACCEPT,
		  "\0\0\0\0\x2a", 5, C(4, 6), NULL },
	};
	static uint8_t in[512], out[1280], val[16];
	struct coapsess s;
	struct coapmsg m;
	struct coapbuf r;
	struct ans a;
	size_t	 i, k, len;

	sess_init(&s, "d3");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct opt o[] = { { cases[i].num, NULL, 0, 1 } };

		len = build(in, sizeof(in), cases[i].code, cases[i].path, o, 1,
		    NULL, 0);
		T_EQ_INT(coapmsg_parse(parser, in, len, &m), 0);
		memcpy(val, cases[i].val, cases[i].len);
		for (k = 0; k < m.nopts; k++)
			if (m.opts[k].num == cases[i].num) {
				m.opts[k].val = val;
				m.opts[k].len = (uint16_t)cases[i].len;
			}
		coapbuf_init(&r, out, sizeof(out), COAPMSG_ACK,
		    COAPMSG_CODE(5, 0), m.mid, m.token, m.tkl);
		coaphandler_request(&h, &s, &m, 0, now_ms, &r);
		memset(&a, 0, sizeof(a));
		T_EQ_INT(coapmsg_parse(parser, out, r.len, &a.m), 0);
		a.len = a.m.payload_len;
		if (a.len > 0)
			memcpy(a.payload, a.m.payload, a.len);
		if (a.m.code != cases[i].want)
			fprintf(stderr, "unparsed %s: %d.%02d\n", cases[i].what,
			    a.m.code >> 5, a.m.code & 31);
		T_EQ_INT(a.m.code, cases[i].want);
		if (cases[i].diag != NULL)
			T_CHECK(ans_says(&a, cases[i].diag));
	}
	/* and libcoap does refuse them */
	{
		struct opt o[] = { O_STR(COAPOPT_BLOCK1, "\0\0\0\0") };

		len = build(in, sizeof(in), POST, "ota/d3/check", o, 1, NULL,
		    0);
		T_EQ_INT(coapmsg_parse(parser, in, len, &m), -1);
	}
}

static void
test_check_progress(void)
{
	struct coapsess coap, d1, d2, anon;
	struct ans a;
	char	 body[2048];

	sess_init(&coap, NULL);
	sess_init(&d1, "d1");
	sess_init(&d2, "d2");
	sess_init(&anon, "");
	anon.identity[0] = '\0';

	/* the notice, over coaps, to the device itself */
	T_EQ_INT(ask(&d1, POST, "ota/d1/check", NULL, 0,
	    "{\"version\":\"1.0.0\"}", &a), C(2, 5));
	T_EQ_INT(ans_uint(&a, COAPOPT_CONTENT_FORMAT), COAPFMT_JSON);
	T_EQ_INT(ans_uint(&a, COAPOPT_MAX_AGE), f.cfg.busy_interval);
	T_CHECK(coapmsg_opt(&a.m, COAPOPT_BLOCK2) == NULL);
	snprintf(body, sizeof(body), "%.*s", (int)a.len, a.payload);
	T_CHECK(strstr(body, "\"job\":\"j-1\",\"firmware\":\"fw-1\"") !=
	    NULL);
	T_CHECK(strstr(body, "\"url\":\"coaps://gw.test:5684/fw/fw-1\"") !=
	    NULL);
	/* over plain CoAP: the same notice, with a coap URL */
	T_EQ_INT(ask(&coap, POST, "ota/d1/check", NULL, 0, NULL, &a),
	    C(2, 5));
	snprintf(body, sizeof(body), "%.*s", (int)a.len, a.payload);
	T_CHECK(strstr(body, "\"url\":\"coap://") != NULL);
	/* another device's identity: 4.03 with core's diagnostic */
	T_EQ_INT(ask(&d2, POST, "ota/d1/check", NULL, 0, NULL, &a), C(4, 3));
	T_EQ_INT(ans_uint(&a, COAPOPT_CONTENT_FORMAT), COAPFMT_JSON);
	T_CHECK(a.len > 0 && a.payload[0] == '{');
	T_EQ_INT(ask(&d2, POST, "ota/d1/progress", NULL, 0,
	    "{\"job\":\"j-1\",\"step\":5}", &a), C(4, 3));
	/* coaps without an identity */
	T_EQ_INT(ask(&anon, POST, "ota/d1/check", NULL, 0, NULL, &a),
	    C(4, 1));
	T_EQ_INT(ask(&anon, GET, "fw/fw-1", NULL, 0, NULL, &a), C(4, 1));
	/* a device with nothing to do: 2.04, Max-Age the check interval */
	T_EQ_INT(ask(&coap, POST, "ota/d3/check", NULL, 0, "{}", &a),
	    C(2, 4));
	T_EQ_INT(ans_uint(&a, COAPOPT_MAX_AGE), f.cfg.check_interval);
	T_EQ_INT(a.len, 0);
	/* bad JSON */
	T_EQ_INT(ask(&d1, POST, "ota/d1/check", NULL, 0, "{\"version\":",
	    &a), C(4, 0));
	/* progress */
	T_EQ_INT(ask(&d1, POST, "ota/d1/progress", NULL, 0,
	    "{\"job\":\"j-1\",\"step\":5}", &a), C(2, 4));
	T_CHECK(ans_uint(&a, COAPOPT_MAX_AGE) >= 0);
	T_EQ_INT(ask(&d1, POST, "ota/d1/progress", NULL, 0,
	    "{\"job\":\"j-1\",\"step\":500}", &a), C(4, 0));
	T_EQ_INT(ask(&d1, POST, "ota/d1/progress", NULL, 0,
	    "{\"job\":\"j-7\",\"step\":5}", &a), C(4, 4));
}

/* The notice asked for in Block2 slices of every size, put back. */
static void
test_notice_block2(void)
{
	struct coapsess d1;
	struct coapmsg_block b;
	struct ans a;
	uint8_t	 whole[2048], got[2048], etag[8];
	size_t	 wlen, glen, etaglen = 0;
	unsigned szx, num;
	int	 bad;

	sess_init(&d1, "d1");
	T_EQ_INT(ask(&d1, POST, "ota/d1/check", NULL, 0, NULL, &a), C(2, 5));
	wlen = a.len;
	memcpy(whole, a.payload, wlen);
	T_CHECK(wlen > 64);
	for (szx = 0; szx <= 6; szx++) {
		glen = 0;
		bad = 0;
		for (num = 0; num < 200; num++) {
			struct opt o[] = {
				O_BLOCK(COAPOPT_BLOCK2, num, 0, szx),
			};
			const struct coapmsg_opt *e;

			if (ask(&d1, POST, "ota/d1/check", o, 1, NULL, &a) !=
			    C(2, 5) || ans_block(&a, COAPOPT_BLOCK2, &b) != 1 ||
			    b.num != num || b.szx != szx ||
			    ans_uint(&a, COAPOPT_SIZE2) != (int64_t)wlen ||
			    (e = coapmsg_opt(&a.m, COAPOPT_ETAG)) == NULL) {
				bad++;
				break;
			}
			/* the same ETag on every block */
			if (num == 0) {
				etaglen = e->len;
				memcpy(etag, e->val, e->len);
			} else if (e->len != etaglen ||
			    memcmp(e->val, etag, etaglen) != 0)
				bad++;
			if (glen + a.len > sizeof(got) || (b.m &&
			    a.len != (size_t)16 << szx)) {
				bad++;
				break;
			}
			memcpy(got + glen, a.payload, a.len);
			glen += a.len;
			if (!b.m)
				break;
		}
		if (bad != 0 || glen != wlen)
			fprintf(stderr, "notice at SZX %u: %zu of %zu bytes\n",
			    szx, glen, wlen);
		T_EQ_INT(bad, 0);
		T_CHECK(glen == wlen && memcmp(got, whole, wlen) == 0);
	}
	T_EQ_INT(etaglen, 4);
	/* a block past the end */
	{
		struct opt o[] = { O_BLOCK(COAPOPT_BLOCK2, 100, 0, 0) };

		T_EQ_INT(ask(&d1, POST, "ota/d1/check", o, 1, NULL, &a),
		    C(4, 2));
	}
}

/* A body in Block1 blocks of 16 << szx bytes; the last answer's code. */
static uint8_t
send_blocks(struct coapsess *s, const char *path, const char *body,
    unsigned szx, int with_size1, struct ans *a, unsigned *continues)
{
	size_t	 len = strlen(body), bs = (size_t)16 << szx, off;
	unsigned num;
	uint8_t	 code = 0;

	*continues = 0;
	for (num = 0, off = 0; off < len || num == 0; num++, off += bs) {
		int	 m = off + bs < len;
		size_t	 n = m ? bs : len - off;
		struct opt o[] = {
			O_BLOCK(COAPOPT_BLOCK1, num, m, szx),
			O_UINT(COAPOPT_SIZE1, (uint32_t)len),
		};
		struct coapmsg_block b;

		code = ask_cut(s, POST, path, o, with_size1 ? 2 : 1,
		    body + off, n, 0, a);
		if (code != (m ? C(2, 31) : code))
			break;
		if (m) {
			(*continues)++;
			/* 2.31 echoes the block, and carries nothing else */
			if (ans_block(a, COAPOPT_BLOCK1, &b) != 1 ||
			    b.num != num || b.szx != szx || a->len != 0)
				return 0;
		}
		if (!m)
			break;
	}
	return code;
}

static void
test_block1(void)
{
	char	 body[MAX_BODY + 64];
	struct coapsess d1, d3;
	struct coapmsg_block b;
	struct ans a;
	unsigned cont, szx;

	sess_init(&d1, "d1");
	sess_init(&d3, "d3");
	/* a check with padding: 200 bytes of JSON */
	snprintf(body, sizeof(body), "{\"version\":\"1.0.0\",\"pad\":\"%0*d\"}",
	    200 - 28, 0);
	T_EQ_INT(strlen(body), 200);
	for (szx = 0; szx <= 4; szx++) {
		/* with Size1 and without */
		T_EQ_INT(send_blocks(&d1, "ota/d1/check", body, szx, 1, &a,
		    &cont), C(2, 5));
		T_EQ_INT(cont, (200 + (16u << szx) - 1) / (16u << szx) - 1);
		/* the last answer echoes the last block, and has the notice */
		T_EQ_INT(ans_block(&a, COAPOPT_BLOCK1, &b), 1);
		T_CHECK(b.m == 0 && b.szx == szx);
		T_CHECK(a.len > 0 && a.payload[0] == '{');
		T_EQ_INT(send_blocks(&d3, "ota/d3/check", body, szx, 0, &a,
		    &cont), C(2, 4));
		T_EQ_INT(ans_block(&a, COAPOPT_BLOCK1, &b), 1);
		T_EQ_INT(h.body_bytes, 0);
	}
	/* one block is the whole body */
	T_EQ_INT(send_blocks(&d3, "ota/d3/check", "{}", 6, 1, &a, &cont),
	    C(2, 4));
	T_EQ_INT(cont, 0);
	/* the Request-Tag ties blocks together */
	{
		struct opt o0[] = {
			O_BLOCK(COAPOPT_BLOCK1, 0, 1, 0),
			O_STR(COAPOPT_REQUEST_TAG, "t1"),
		};
		struct opt o1[] = {
			O_BLOCK(COAPOPT_BLOCK1, 1, 0, 0),
			O_STR(COAPOPT_REQUEST_TAG, "t2"),
		};
		struct opt o1b[] = {
			O_BLOCK(COAPOPT_BLOCK1, 1, 0, 0),
			O_STR(COAPOPT_REQUEST_TAG, "t1"),
		};

		T_EQ_INT(ask_cut(&d3, POST, "ota/d3/check", o0, 2, body, 16,
		    0, &a), C(2, 31));
		T_EQ_INT(ask_cut(&d3, POST, "ota/d3/check", o1b, 2, "}", 1,
		    0, &a), C(4, 0));	/* "{\"version\":\"1.0" + "}" */
		T_EQ_INT(ask_cut(&d3, POST, "ota/d3/check", o0, 2, body, 16,
		    0, &a), C(2, 31));
		T_EQ_INT(ask_cut(&d3, POST, "ota/d3/check", o1, 2, "}", 1,
		    0, &a), C(4, 8));
		T_CHECK(ans_says(&a, "incomplete body"));
		T_EQ_INT(h.body_bytes, 0);
	}
}

#define BLK(num, m, szx)	O_BLOCK(COAPOPT_BLOCK1, num, m, szx)

/* Block1 blocks out of order (4.08), repeated, cut short or late. */
static void
block1_order(struct coapsess *s, const char *body)
{
	struct opt b0[] = { BLK(0, 1, 0) }, b1[] = { BLK(1, 1, 0) };
	struct opt b2[] = { BLK(2, 1, 0) }, b3[] = { BLK(3, 0, 0) };
	struct coapmsg_block b;
	struct ans a;

	/* a block skipped */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b0, 1, body, 16, 0,
	    &a), C(2, 31));
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b2, 1, body, 16, 0,
	    &a), C(4, 8));
	T_CHECK(s->body == NULL);
	/* a body that never began */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b1, 1, body, 16, 0,
	    &a), C(4, 8));
	/* the last block again (its answer was lost): same answer */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b0, 1, body, 16, 0,
	    &a), C(2, 31));
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b1, 1, body, 16, 0,
	    &a), C(2, 31));
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b1, 1, body, 16, 0,
	    &a), C(2, 31));
	T_EQ_INT(ans_block(&a, COAPOPT_BLOCK1, &b), 1);
	T_EQ_INT(b.num, 1);
	/* but an older one is no retransmission */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b0, 1, body, 16, 0,
	    &a), C(2, 31));	/* block 0 starts a new body */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b1, 1, body, 16, 0,
	    &a), C(2, 31));
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b3, 1, "}", 1, 0,
	    &a), C(4, 8));
	/* a block whose payload is not the block size */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b0, 1, body, 15, 0,
	    &a), C(4, 0));
	/* a body left too long: the next block is out of order */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b0, 1, body, 16, 0,
	    &a), C(2, 31));
	now_ms += COAPHANDLER_BODY_MS + 1;
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b1, 1, body, 16, 0,
	    &a), C(4, 8));
	/* another route on the same session: out of order too */
	T_EQ_INT(ask_cut(s, POST, "ota/d3/check", b0, 1, body, 16, 0,
	    &a), C(2, 31));
	T_EQ_INT(ask_cut(s, POST, "ota/d3/progress", b1, 1, body,
	    16, 0, &a), C(4, 8));
}

static void
test_block1_order_and_limits(void)
{
	char	 body[2 * MAX_BODY];
	struct coapsess s;
	struct coapmsg_block b;
	struct ans a;
	unsigned num;

	sess_init(&s, "d3");
	memset(body, 'x', sizeof(body));
	block1_order(&s, body);
	/* Size1 over the limit: 4.13 with Size1 = max_body, at once */
	{
		struct opt o[] = {
			BLK(0, 1, 4), O_UINT(COAPOPT_SIZE1, MAX_BODY + 1),
		};

		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", o, 2, body, 256, 0,
		    &a), C(4, 13));
		T_EQ_INT(ans_uint(&a, COAPOPT_SIZE1), MAX_BODY);
		T_CHECK(coapmsg_opt(&a.m, COAPOPT_BLOCK1) == NULL);
		T_CHECK(s.body == NULL);
	}
	/* blocks that grow past it, without Size1 */
	for (num = 0; num < 8; num++) {
		struct opt o[] = { BLK(num, 1, 2) };

		if (ask_cut(&s, POST, "ota/d3/check", o, 1, body, 64, 0,
		    &a) != C(2, 31))
			break;
	}
	T_EQ_INT(num, MAX_BODY / 64);
	T_EQ_INT(a.code, C(4, 13));
	T_EQ_INT(ans_uint(&a, COAPOPT_SIZE1), MAX_BODY);
	T_CHECK(s.body == NULL);
	/* no blocks: a payload over the limit */
	T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", NULL, 0, body,
	    MAX_BODY + 1, 0, &a), C(4, 13));
	T_EQ_INT(ans_uint(&a, COAPOPT_SIZE1), MAX_BODY);
	/* a payload cut by the read buffer, over the limit in all */
	T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", NULL, 0, body, 100,
	    MAX_BODY, &a), C(4, 13));
	T_CHECK(coapmsg_opt(&a.m, COAPOPT_BLOCK1) == NULL);
	/* ... and under it: 4.13 that invites Block1 */
	T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", NULL, 0, body, 100, 50,
	    &a), C(4, 13));
	T_EQ_INT(ans_block(&a, COAPOPT_BLOCK1, &b), 1);
	T_CHECK(b.num == 0 && b.szx == 6);
	T_EQ_INT(ans_uint(&a, COAPOPT_SIZE1), MAX_BODY);
	/* exactly max_body is fine */
	body[0] = '{';
	memcpy(body + 1, "\"x\":\"", 5);
	memset(body + 6, 'y', MAX_BODY - 8);
	memcpy(body + MAX_BODY - 2, "\"}", 2);
	T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", NULL, 0, body, MAX_BODY,
	    0, &a), C(2, 4));

	/*
	 * A block cut by the read buffer is no block: 4.13 with the largest
	 * block size, not a body that silently ends where the cut fell.
	 */
	{
		struct opt b0[] = { BLK(0, 1, 0) }, last[] = { BLK(1, 0, 0) };
		struct opt only[] = { BLK(0, 0, 6) };

		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", b0, 1, body, 16, 0,
		    &a), C(2, 31));
		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", last, 1, "  }", 3,
		    40, &a), C(4, 13));
		T_EQ_INT(ans_block(&a, COAPOPT_BLOCK1, &b), 1);
		T_CHECK(b.num == 0 && b.szx == 6);
		T_EQ_INT(ans_uint(&a, COAPOPT_SIZE1), MAX_BODY);
		T_CHECK(s.body == NULL);
		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", only, 1, "{}", 2,
		    100, &a), C(4, 13));
	}

	/* a session let go of half way gives its body back */
	{
		struct opt o[] = { BLK(0, 1, 0) };

		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", o, 1, body, 16, 0,
		    &a), C(2, 31));
		T_EQ_INT(h.body_bytes, 2 * 16);	/* two blocks, not max_body */
		coaphandler_release(&h, &s);
		T_EQ_INT(h.body_bytes, 0);
		T_CHECK(s.body == NULL);
		coaphandler_release(&h, &s);
	}
#undef BLK
}

/*
 * max_body lowered (SIGHUP) under what a body in progress holds: its
 * next block is 4.13, never a copy past a buffer cut down to the new
 * limit.
 */
static void
test_block1_reload(void)
{
	char	 body[64];
	struct coapsess s;
	struct ans a;
	unsigned num;

	sess_init(&s, "d3");
	memset(body, 'x', sizeof(body));
#define BLK(num, m, szx)	O_BLOCK(COAPOPT_BLOCK1, num, m, szx)
	for (num = 0; num < 4; num++) {
		struct opt o[] = { BLK(num, 1, 2) };

		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", o, 1, body, 64, 0,
		    &a), C(2, 31));
	}
	h.max_body = 128;
	{
		struct opt o[] = { BLK(4, 1, 2) };

		T_EQ_INT(ask_cut(&s, POST, "ota/d3/check", o, 1, body, 64, 0,
		    &a), C(4, 13));
		T_CHECK(s.body == NULL);
	}
	h.max_body = MAX_BODY;
	coaphandler_release(&h, &s);
#undef BLK
}

/*
 * The bodies held across sessions are bounded: with max_body 1 MiB, four
 * sessions that announce 1 MiB bodies (Size1) hold the whole budget; a
 * fifth is told to come back (5.03 with Max-Age 1) until one is let go
 * of.  Without Size1 a body holds two blocks, then doubles as blocks come.
 */
static void
test_block1_budget(void)
{
	static const char *const ids[] = { "b0", "b1", "b2", "b3", "b4" };
	struct coaphandler small = h;
	struct coapsess s[5];
	struct opt b0[] = {
		O_BLOCK(COAPOPT_BLOCK1, 0, 1, 0),
		O_UINT(COAPOPT_SIZE1, 1024 * 1024),
	};
	struct opt bn[] = { O_BLOCK(COAPOPT_BLOCK1, 0, 1, 0) };
	struct ans a;
	size_t	 i;

	coaphandler_init(&h, f.core, 1024 * 1024);
	for (i = 0; i < 5; i++)
		sess_init(&s[i], ids[i]);
	for (i = 0; i < 4; i++)
		T_EQ_INT(ask_cut(&s[i], POST, "ota/d3/check", b0, 2,
		    "0123456789abcdef", 16, 0, &a), C(2, 31));
	T_EQ_INT(h.body_bytes, COAPHANDLER_BODY_BUDGET);
	T_EQ_INT(ask_cut(&s[4], POST, "ota/d3/check", b0, 2,
	    "0123456789abcdef", 16, 0, &a), C(5, 3));
	T_EQ_INT(ans_uint(&a, COAPOPT_MAX_AGE), 1);
	T_CHECK(s[4].body == NULL);
	/* a session starting its body again reuses its own share */
	T_EQ_INT(ask_cut(&s[0], POST, "ota/d3/check", b0, 2,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	coaphandler_release(&h, &s[1]);
	T_EQ_INT(ask_cut(&s[4], POST, "ota/d3/check", b0, 2,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	for (i = 0; i < 5; i++)
		coaphandler_release(&h, &s[i]);
	T_EQ_INT(h.body_bytes, 0);
	/* no Size1: what came, not max_body; 2 blocks, 4, 8 */
	for (i = 0; i < 8; i++) {
		bn[0].uint = (uint32_t)i << 4 | 1 << 3;
		T_EQ_INT(ask_cut(&s[0], POST, "ota/d3/check", bn, 1,
		    "0123456789abcdef", 16, 0, &a), C(2, 31));
		T_EQ_INT(h.body_bytes, i < 2 ? 32 : i < 4 ? 64 : 128);
	}
	coaphandler_release(&h, &s[0]);
	T_EQ_INT(h.body_bytes, 0);
	T_EQ_INT(h.bodies, 0);
	h = small;
}

/* A session from addr (IPv4 or IPv6) and port, plain CoAP. */
static void
sess_from(struct coapsess *s, const char *addr, unsigned port)
{
	sess_init(s, NULL);
	if (strchr(addr, ':') != NULL) {
		s->peer.in6.sin6_family = AF_INET6;
		s->peer.in6.sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &s->peer.in6.sin6_addr);
		s->peerlen = sizeof(s->peer.in6);
	} else {
		s->peer.in.sin_family = AF_INET;
		s->peer.in.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &s->peer.in.sin_addr);
		s->peerlen = sizeof(s->peer.in);
	}
}

/*
 * One host cannot hold every body: at most COAPHANDLER_BODIES_PER_SOURCE
 * from an IPv4 address (or an IPv6 /64, any address in it), whatever the
 * ports; others are still served.  One PSK identity holds one body: a
 * new one on another session ends the older.  Bodies left unfinished go
 * when coaphandler_expire runs COAPHANDLER_BODY_MS after their start,
 * not only when their session ends.
 */
static void
test_block1_sources(void)
{
	enum { N = COAPHANDLER_BODIES_PER_SOURCE };
	static struct coapsess s4[N + 1], s6[N + 1];
	struct coapsess other, v6other, d1, d1b;
	struct opt b0[] = { O_BLOCK(COAPOPT_BLOCK1, 0, 1, 0) };
	struct opt b1[] = { O_BLOCK(COAPOPT_BLOCK1, 1, 1, 0) };
	struct ans a;
	char	 addr[64];
	size_t	 i;

	for (i = 0; i <= N; i++) {
		sess_from(&s4[i], "192.0.2.1", 1000 + (unsigned)i);
		snprintf(addr, sizeof(addr), "2001:db8:1:2::%zx", i + 1);
		sess_from(&s6[i], addr, 1000);
	}
	sess_from(&other, "192.0.2.2", 1000);
	sess_from(&v6other, "2001:db8:1:3::1", 1000);
	for (i = 0; i < N; i++) {
		T_EQ_INT(ask_cut(&s4[i], POST, "ota/d3/check", b0, 1,
		    "0123456789abcdef", 16, 0, &a), C(2, 31));
		T_EQ_INT(ask_cut(&s6[i], POST, "ota/d3/check", b0, 1,
		    "0123456789abcdef", 16, 0, &a), C(2, 31));
	}
	T_EQ_INT(ask_cut(&s4[N], POST, "ota/d3/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(5, 3));
	T_EQ_INT(ask_cut(&s6[N], POST, "ota/d3/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(5, 3));
	T_EQ_INT(ask_cut(&other, POST, "ota/d3/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	T_EQ_INT(ask_cut(&v6other, POST, "ota/d3/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	/* a body ended makes room for its source */
	coaphandler_release(&h, &s4[0]);
	T_EQ_INT(ask_cut(&s4[N], POST, "ota/d3/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	T_EQ_INT(h.bodies, 2 * N + 2);

	/* one body per identity: the newer session's */
	sess_init(&d1, "d1");
	sess_init(&d1b, "d1");
	T_EQ_INT(ask_cut(&d1, POST, "ota/d1/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	T_EQ_INT(ask_cut(&d1b, POST, "ota/d1/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	T_CHECK(d1.body == NULL && d1b.body != NULL);
	T_EQ_INT(ask_cut(&d1, POST, "ota/d1/check", b1, 1,
	    "0123456789abcdef", 16, 0, &a), C(4, 8));
	T_EQ_INT(ask_cut(&d1b, POST, "ota/d1/check", b1, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	T_EQ_INT(h.bodies, 2 * N + 3);

	/* the timer frees bodies past their time, sessions or not */
	now_ms += 1000;
	T_EQ_INT(ask_cut(&d1, POST, "ota/d1/check", b0, 1,
	    "0123456789abcdef", 16, 0, &a), C(2, 31));
	coaphandler_expire(&h, now_ms - 1000 + COAPHANDLER_BODY_MS - 1);
	T_EQ_INT(h.bodies, 2 * N + 3);
	coaphandler_expire(&h, now_ms - 1000 + COAPHANDLER_BODY_MS);
	T_EQ_INT(h.bodies, 1);
	T_CHECK(d1.body != NULL && s4[1].body == NULL && d1b.body == NULL);
	T_EQ_INT(ask_cut(&s4[N], POST, "ota/d3/check", b1, 1,
	    "0123456789abcdef", 16, 0, &a), C(4, 8));
	coaphandler_expire(&h, now_ms + COAPHANDLER_BODY_MS);
	T_EQ_INT(h.bodies, 0);
	T_EQ_INT(h.body_bytes, 0);
	T_CHECK(d1.body == NULL);
	for (i = 0; i < COAPHANDLER_COUNT_BUCKETS; i++)
		T_CHECK(h.counts[i] == NULL);
}

/*
 * Every block of the image at block size szx, put back together in got;
 * the block after the last is past the end.
 */
static void
download_at(struct coapsess *d1, unsigned szx, const uint8_t *etag,
    size_t etaglen, uint8_t *got)
{
	struct coapmsg_block b;
	struct ans a;
	size_t	 glen = 0;
	unsigned num, requests = 0;
	int	 bad = 0;

	for (num = 0; num < 1000; num++) {
		struct opt o[] = {
			O_BLOCK(COAPOPT_BLOCK2, num, 0, szx),
		};
		const struct coapmsg_opt *e;

		requests++;
		if (ask(d1, GET, "fw/fw-1", o, 1, NULL, &a) != C(2, 5) ||
		    ans_block(&a, COAPOPT_BLOCK2, &b) != 1 ||
		    b.num != num || b.szx != szx ||
		    ans_uint(&a, COAPOPT_SIZE2) != IMG ||
		    ans_uint(&a, COAPOPT_CONTENT_FORMAT) !=
		    COAPFMT_OCTETS ||
		    (e = coapmsg_opt(&a.m, COAPOPT_ETAG)) == NULL ||
		    e->len != etaglen ||
		    memcmp(e->val, etag, etaglen) != 0 ||
		    glen + a.len > IMG) {
			bad++;
			break;
		}
		if (b.m && a.len != (size_t)16 << szx)
			bad++;
		memcpy(got + glen, a.payload, a.len);
		glen += a.len;
		if (!b.m)
			break;
	}
	if (bad != 0 || glen != IMG)
		fprintf(stderr, "download at SZX %u: %zu bytes\n", szx, glen);
	T_EQ_INT(bad, 0);
	T_EQ_INT(requests, (IMG + (16u << szx) - 1) / (16u << szx));
	T_CHECK(glen == IMG && memcmp(got, f.image, IMG) == 0);
	/* the block after the last is past the end */
	{
		struct opt o[] = {
			O_BLOCK(COAPOPT_BLOCK2, requests, 0, szx),
		};

		T_EQ_INT(ask(d1, GET, "fw/fw-1", o, 1, NULL, &a), C(4, 2));
		T_CHECK(ans_says(&a, "block past the end"));
	}
}

/* Every block of the image at every size, put back together. */
static void
test_download(void)
{
	struct coapsess d1, coap, d3;
	struct coapmsg_block b;
	struct ans a;
	uint8_t	*got = malloc(IMG), etag[8];
	uint64_t want_etag = 0;
	size_t	 i, etaglen;
	unsigned szx;

	sess_init(&d1, "d1");
	sess_init(&coap, NULL);
	sess_init(&d3, "d3");
	for (i = 0; i < 8; i++)
		want_etag = want_etag << 8 | fw1.sha256[i];
	for (i = 0, etaglen = 0; i < 8; i++)
		if (want_etag >> (8 * (7 - i)) != 0 || etaglen > 0)
			etag[etaglen++] = (uint8_t)(want_etag >> (8 * (7 - i)));

	/* not offered until the device checked */
	T_EQ_INT(ask(&d1, GET, "fw/fw-1", NULL, 0, NULL, &a), C(4, 3));
	T_EQ_INT(ask(&d1, POST, "ota/d1/check", NULL, 0, NULL, &a), C(2, 5));

	for (szx = 0; szx <= 6; szx++)
		download_at(&d1, szx, etag, etaglen, got);
	/* no Block2 asked: the first block of the default size, with M */
	T_EQ_INT(ask(&d1, GET, "fw/fw-1", NULL, 0, NULL, &a), C(2, 5));
	T_EQ_INT(ans_block(&a, COAPOPT_BLOCK2, &b), 1);
	T_CHECK(b.num == 0 && b.m == 1 && b.szx == 6 && a.len == 1024);
	/* a block far past the end, a NUM at the limit */
	{
		struct opt o[] = {
			O_BLOCK(COAPOPT_BLOCK2, 0xfffff, 0, 6),
		};

		T_EQ_INT(ask(&d1, GET, "fw/fw-1", o, 1, NULL, &a), C(4, 2));
	}
	/* the device has the image already: 2.03, no payload */
	{
		struct opt o[] = {
			O_STR(COAPOPT_ETAG, "old"),
			{ COAPOPT_ETAG, (const char *)etag, etaglen, 0 },
			O_BLOCK(COAPOPT_BLOCK2, 3, 0, 6),
		};

		T_EQ_INT(ask(&d1, GET, "fw/fw-1", o, 3, NULL, &a), C(2, 3));
		T_EQ_INT(a.len, 0);
		T_CHECK(coapmsg_opt(&a.m, COAPOPT_ETAG) != NULL);
		/* another ETag only: the block */
		T_EQ_INT(ask(&d1, GET, "fw/fw-1", o, 1, NULL, &a), C(2, 5));
	}
	/* plain CoAP may download what a running job offers */
	T_EQ_INT(ask(&coap, GET, "fw/fw-1", NULL, 0, NULL, &a), C(2, 5));
	T_EQ_INT(ask(&coap, GET, "fw/fw-2", NULL, 0, NULL, &a), C(4, 3));
	/* a device in no job: 4.03 */
	T_EQ_INT(ask(&d3, GET, "fw/fw-1", NULL, 0, NULL, &a), C(4, 3));
	T_EQ_INT(ask(&d1, GET, "fw/fw-9", NULL, 0, NULL, &a), C(4, 4));
	free(got);
}

/* A small image: one block, no Block2 unless asked. */
static void
test_download_small(void)
{
	struct coapsess coap;
	struct coapmsg_block b;
	struct ans a;
	static const char *const d1[] = { "d1", NULL };

	corefix_job(&f, "j-2", "fw-2", d1);
	sess_init(&coap, NULL);
	T_EQ_INT(ask(&coap, GET, "fw/fw-2", NULL, 0, NULL, &a), C(2, 5));
	T_CHECK(coapmsg_opt(&a.m, COAPOPT_BLOCK2) == NULL);
	T_EQ_INT(ans_uint(&a, COAPOPT_SIZE2), 100);
	T_CHECK(a.len == 100 && memcmp(a.payload, f.image, 100) == 0);
	{
		struct opt o[] = { O_BLOCK(COAPOPT_BLOCK2, 1, 0, 2) };

		T_EQ_INT(ask(&coap, GET, "fw/fw-2", o, 1, NULL, &a), C(2, 5));
		T_EQ_INT(ans_block(&a, COAPOPT_BLOCK2, &b), 1);
		T_CHECK(b.num == 1 && b.m == 0 && a.len == 36);
		T_CHECK(memcmp(a.payload, f.image + 64, 36) == 0);
	}
}

/* Every prefix of a request datagram: parsed or refused, never more. */
static void
test_truncated(void)
{
	struct opt o[] = {
		O_BLOCK(COAPOPT_BLOCK1, 0, 1, 1),
		O_UINT(COAPOPT_SIZE1, 40),
		O_UINT(COAPOPT_CONTENT_FORMAT, COAPFMT_JSON),
		O_STR(COAPOPT_REQUEST_TAG, "tag"),
	};
	static uint8_t full[512], out[1280];
	struct coapsess s;
	struct coapmsg m, back;
	struct coapbuf r;
	uint8_t	*copy;
	size_t	 len, i, answered = 0, bad = 0;

	sess_init(&s, "d3");
	len = build(full, sizeof(full), POST, "ota/d3/check", o, 4,
	    "{\"version\":\"1.0.0\",\"x\":1}       ", 32);
	for (i = 0; i <= len; i++) {
		copy = malloc(i + 1);
		memcpy(copy, full, i);
		if (coapmsg_parse(parser, copy, i, &m) == 0 &&
		    m.code >> 5 == 0 && m.code != 0) {
			coapbuf_init(&r, out, sizeof(out), COAPMSG_ACK,
			    COAPMSG_CODE(5, 0), m.mid, m.token, m.tkl);
			coaphandler_request(&h, &s, &m, 0, now_ms, &r);
			answered++;
			if (r.overflow || coapmsg_parse(parser, out, r.len,
			    &back) != 0 || back.code >> 5 < 2)
				bad++;
		}
		free(copy);
	}
	T_EQ_INT(bad, 0);
	T_CHECK(answered > 0);
	coaphandler_release(&h, &s);
	T_EQ_INT(h.body_bytes, 0);
}

/* Observe ------------------------------------------------------------------ */

/* What the observations sent, as the message layer would have. */
struct sent {
	struct coapsess *s;
	uint8_t	 d[1280];
	size_t	 len;
};

static struct coapobs_table obs;
static struct sent sent[32];
static size_t nsent;
static uint16_t obs_mid = 0x7000;

static void
obs_send(void *arg, struct coapsess *s, const uint8_t *d, size_t len)
{
	(void)arg;
	T_CHECK(len <= sizeof(sent[0].d));
	if (nsent == sizeof(sent) / sizeof(sent[0]) || len > sizeof(sent[0].d))
		return;
	sent[nsent].s = s;
	memcpy(sent[nsent].d, d, len);
	sent[nsent].len = len;
	nsent++;
}

static uint16_t
obs_next_mid(void *arg, struct coapsess *s)
{
	(void)arg;
	(void)s;
	return obs_mid++;
}

static int64_t
obs_clock(void *arg)
{
	(void)arg;
	return now_ms;
}

static const struct coapobs_ops obs_ops = {
	.send = obs_send,
	.next_mid = obs_next_mid,
	.clock = obs_clock,
};

/* The i-th datagram sent, parsed into a: 1, or 0. */
static int
sent_ans(size_t i, struct ans *a)
{
	memset(a, 0, sizeof(*a));
	if (i >= nsent || coapmsg_parse(parser, sent[i].d, sent[i].len,
	    &a->m) != 0)
		return 0;
	a->ok = 1;
	a->code = a->m.code;
	a->type = a->m.type;
	a->tkl = a->m.tkl;
	memcpy(a->token, a->m.token, sizeof(a->token));
	a->len = a->m.payload_len;
	memcpy(a->payload, a->m.payload, a->len);
	return 1;
}

static int
ans_has(const struct ans *a, const char *text)
{
	char	 buf[2100];

	snprintf(buf, sizeof(buf), "%.*s", (int)a->len, a->payload);
	return strstr(buf, text) != NULL;
}

static size_t
watchers(void)
{
	struct core_watch_stats ws;

	core_watch_stats(f.core, &ws);
	return ws.watchers;
}

/* Lets core see the store's news, and the watches call back. */
static void
push_poll(void)
{
	f.now += 1000;
	core_watch_poll(f.core, f.now);
}

static const struct opt OBS0[] = { O_UINT(COAPOPT_OBSERVE, 0) };
static const struct opt OBS1[] = { O_UINT(COAPOPT_OBSERVE, 1) };

/*
 * Registration, the notification a new job brings, its ACK, a plain GET
 * beside it, deregistration, a registration that replaces one, and what
 * is refused.  Long because it is one story: each step depends on the
 * rows and observations the steps before it left.
 */
static void
test_observe(void)
{
	static const char *const D3[] = { "d3", NULL };
	struct coapsess s3, s1, plain;
	struct ans a, n;
	uint32_t seq0;
	char	 dev[16];
	int	 i;

	coapobs_init(&obs, f.core, &obs_ops, NULL);
	h.obs = &obs;
	f.cfg.push_max_watchers = 100;
	nsent = 0;

	/* nothing pending: 2.05 "{}", with Observe */
	sess_init(&s3, "d3");
	T_EQ_INT(ask(&s3, GET, "ota/d3/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_CHECK(ans_says(&a, "{}"));
	T_CHECK(ans_uint(&a, COAPOPT_OBSERVE) >= 0);
	seq0 = (uint32_t)ans_uint(&a, COAPOPT_OBSERVE);
	T_EQ_INT(ans_uint(&a, COAPOPT_CONTENT_FORMAT), COAPFMT_JSON);
	T_EQ_INT(ans_uint(&a, COAPOPT_MAX_AGE), f.cfg.check_interval);
	T_EQ_INT(coapobs_count(&s3), 1);
	T_EQ_INT(obs.st.observations, 1);
	T_EQ_INT(watchers(), 1);
	/* a plain GET beside it: no Observe, the observation stays */
	T_EQ_INT(ask(&s3, GET, "ota/d3/notice", NULL, 0, NULL, &a), C(2, 5));
	T_CHECK(ans_says(&a, "{}"));
	T_EQ_INT(ans_uint(&a, COAPOPT_OBSERVE), -1);
	T_EQ_INT(coapobs_count(&s3), 1);
	push_poll();
	T_EQ_INT(nsent, 0);

	/* a job for d3: one confirmable notification at the next poll */
	corefix_job(&f, "j-3", "fw-2", D3);
	push_poll();
	T_EQ_INT(nsent, 1);
	T_CHECK(sent_ans(0, &n));
	T_CHECK(sent[0].s == &s3);
	T_EQ_INT(n.type, COAPMSG_CON);
	T_EQ_INT(n.code, C(2, 5));
	T_EQ_INT(n.m.mid, 0x7000);
	T_CHECK(n.tkl == 3 && n.token[0] == 0xca && n.token[1] == 0xfe);
	T_CHECK((uint32_t)ans_uint(&n, COAPOPT_OBSERVE) ==
	    ((seq0 + 1) & 0xffffff));
	T_EQ_INT(ans_uint(&n, COAPOPT_CONTENT_FORMAT), COAPFMT_JSON);
	T_EQ_INT(ans_uint(&n, COAPOPT_MAX_AGE), f.cfg.busy_interval);
	T_CHECK(ans_has(&n, "\"job\":\"j-3\""));
	T_CHECK(ans_has(&n, "\"url\":\"coaps://gw.test:5684/fw/fw-2\""));
	T_EQ_INT(obs.st.notifications, 1);
	T_EQ_INT(obs.inflight, 1);
	T_EQ_INT(coapobs_next_due(&obs) >= now_ms + COAPOBS_ACK_TIMEOUT_MS,
	    1);
	T_EQ_INT(coapobs_next_due(&obs) <= now_ms +
	    COAPOBS_ACK_TIMEOUT_MS * 3 / 2, 1);
	/* the ACK: nothing more in flight, nothing sent again */
	T_EQ_INT(coapobs_reply(&obs, &s3, 0x6fff, 0, now_ms), 0);
	T_EQ_INT(coapobs_reply(&obs, &s3, 0x7000, 0, now_ms), 1);
	T_EQ_INT(obs.inflight, 0);
	T_EQ_INT(coapobs_next_due(&obs), 0);
	push_poll();
	push_poll();
	T_EQ_INT(nsent, 1);
	/* a plain GET now gives the same notice, and nothing is sent */
	T_EQ_INT(ask(&s3, GET, "ota/d3/notice", NULL, 0, NULL, &a), C(2, 5));
	T_CHECK(ans_has(&a, "\"job\":\"j-3\""));
	push_poll();
	T_EQ_INT(nsent, 1);

	/* registered again: replaced, the notice at once, Observe grows */
	T_EQ_INT(ask(&s3, GET, "ota/d3/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_CHECK(ans_has(&a, "\"job\":\"j-3\""));
	T_CHECK((uint32_t)ans_uint(&a, COAPOPT_OBSERVE) ==
	    ((seq0 + 2) & 0xffffff));
	T_EQ_INT(coapobs_count(&s3), 1);
	T_EQ_INT(watchers(), 1);
	/* Observe 1: it ends, the answer is a plain one */
	T_EQ_INT(ask(&s3, GET, "ota/d3/notice", OBS1, 1, NULL, &a), C(2, 5));
	T_CHECK(ans_has(&a, "\"job\":\"j-3\""));
	T_EQ_INT(ans_uint(&a, COAPOPT_OBSERVE), -1);
	T_EQ_INT(coapobs_count(&s3), 0);
	T_EQ_INT(watchers(), 0);
	T_EQ_INT(obs.st.ended[COAPOBS_END_DEREGISTER], 1);

	/* refused: another device's notice over DTLS, an unknown device */
	sess_init(&s1, "d1");
	T_EQ_INT(ask(&s1, GET, "ota/d2/notice", OBS0, 1, NULL, &a), C(4, 3));
	T_EQ_INT(ans_uint(&a, COAPOPT_OBSERVE), -1);
	sess_init(&plain, NULL);
	T_EQ_INT(ask(&plain, GET, "ota/d9/notice", OBS0, 1, NULL, &a),
	    C(4, 4));
	T_EQ_INT(ans_uint(&a, COAPOPT_OBSERVE), -1);
	T_EQ_INT(ask(&s1, POST, "ota/d1/notice", NULL, 0, NULL, &a), C(4, 5));
	T_EQ_INT(watchers(), 0);
	T_EQ_INT(obs.st.observations, 0);

	/* a notice pending: the registration hands it out */
	T_EQ_INT(ask(&s1, GET, "ota/d1/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_CHECK(ans_has(&a, "\"job\":\"j-1\""));
	T_CHECK(ans_uint(&a, COAPOPT_OBSERVE) >= 0);
	push_poll();
	T_EQ_INT(nsent, 1);	/* told already: nothing pushed */

	/* plain CoAP: eight devices on one session, not nine */
	for (i = 0; i < 9; i++) {
		char	 path[40];

		snprintf(dev, sizeof(dev), "n%d", i);
		corefix_device(&f, dev, NULL, NULL);
		snprintf(path, sizeof(path), "ota/%s/notice", dev);
		T_EQ_INT(ask(&plain, GET, path, OBS0, 1, NULL, &a), C(2, 5));
		T_EQ_INT(ans_uint(&a, COAPOPT_OBSERVE) >= 0,
		    i < COAPOBS_PER_SESSION);
	}
	T_EQ_INT(coapobs_count(&plain), COAPOBS_PER_SESSION);
	T_EQ_INT(obs.st.refused, 1);
	/* push_max_watchers: answered without Observe */
	f.cfg.push_max_watchers = (unsigned)watchers();
	T_EQ_INT(ask(&s3, GET, "ota/d3/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_EQ_INT(ans_uint(&a, COAPOPT_OBSERVE), -1);
	T_EQ_INT(obs.st.refused, 2);
	f.cfg.push_max_watchers = 100;

	/* sessions that end take their observations along */
	coaphandler_release(&h, &plain);
	coaphandler_release(&h, &s1);
	coaphandler_release(&h, &s3);
	T_EQ_INT(obs.st.observations, 0);
	T_EQ_INT(watchers(), 0);
	T_EQ_INT(obs.st.ended[COAPOBS_END_SESSION], COAPOBS_PER_SESSION + 1);
	coapobs_cleanup(&obs);
	h.obs = NULL;
}

/*
 * A notification nobody acknowledges: sent again after 2-3 s, then 4-6,
 * 8-12, 16-24 s (the same bytes), and the observation ends when the last
 * try goes unanswered; a reset ends one at once; the drain says 5.03.
 */
static void
test_observe_retransmit(void)
{
	static const char *const D45[] = { "d4", "d5", NULL };
	struct coapsess s4, s5, s6;
	struct ans a, n;
	int64_t	 due, prev;
	size_t	 i;
	uint16_t mid5 = 0;

	coapobs_init(&obs, f.core, &obs_ops, NULL);
	h.obs = &obs;
	f.cfg.push_max_watchers = 100;
	nsent = 0;
	corefix_device(&f, "d4", "key-4", NULL);
	corefix_device(&f, "d5", "key-5", NULL);
	corefix_device(&f, "d6", "key-6", NULL);
	sess_init(&s4, "d4");
	sess_init(&s5, "d5");
	sess_init(&s6, "d6");
	T_EQ_INT(ask(&s4, GET, "ota/d4/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_EQ_INT(ask(&s5, GET, "ota/d5/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_EQ_INT(ask(&s6, GET, "ota/d6/notice", OBS0, 1, NULL, &a), C(2, 5));
	T_EQ_INT(watchers(), 3);
	corefix_job(&f, "j-45", "fw-2", D45);
	push_poll();
	T_EQ_INT(nsent, 2);
	T_EQ_INT(obs.inflight, 2);
	for (i = 0; i < nsent; i++)
		if (sent[i].s == &s5 && sent_ans(i, &n))
			mid5 = n.m.mid;
	/* d5 says reset: its observation ends */
	T_EQ_INT(coapobs_reply(&obs, &s5, mid5, 1, now_ms), 1);
	T_EQ_INT(coapobs_count(&s5), 0);
	T_EQ_INT(obs.st.ended[COAPOBS_END_RESET], 1);
	T_EQ_INT(obs.inflight, 1);

	/* d4 never answers */
	nsent = 0;
	prev = now_ms;
	for (i = 0; i < COAPOBS_MAX_RETRANSMIT; i++) {
		due = coapobs_next_due(&obs);
		T_CHECK(due - prev >= (COAPOBS_ACK_TIMEOUT_MS << i));
		T_CHECK(due - prev <= (COAPOBS_ACK_TIMEOUT_MS << i) * 3 / 2);
		now_ms = due - 1;
		coapobs_timer(&obs, now_ms);
		T_EQ_INT(nsent, i);	/* not yet */
		now_ms = due;
		prev = due;
		coapobs_timer(&obs, now_ms);
		T_EQ_INT(nsent, i + 1);
	}
	T_EQ_INT(obs.st.retransmissions, COAPOBS_MAX_RETRANSMIT);
	for (i = 1; i < nsent; i++)
		T_CHECK(sent[i].len == sent[0].len &&
		    memcmp(sent[i].d, sent[0].d, sent[0].len) == 0);
	now_ms = coapobs_next_due(&obs);
	coapobs_timer(&obs, now_ms);
	T_EQ_INT(nsent, COAPOBS_MAX_RETRANSMIT);
	T_EQ_INT(coapobs_count(&s4), 0);
	T_EQ_INT(obs.st.ended[COAPOBS_END_TIMEOUT], 1);
	T_EQ_INT(obs.inflight, 0);
	T_EQ_INT(coapobs_next_due(&obs), 0);
	T_EQ_INT(watchers(), 1);

	/* stopping: d6 hears 5.03, Max-Age 5, with its token */
	nsent = 0;
	coapobs_drain(&obs, 5);
	T_EQ_INT(nsent, 1);
	T_CHECK(sent_ans(0, &n));
	T_EQ_INT(n.type, COAPMSG_NON);
	T_EQ_INT(n.code, C(5, 3));
	T_EQ_INT(ans_uint(&n, COAPOPT_MAX_AGE), 5);
	T_CHECK(n.tkl == 3 && n.token[0] == 0xca);
	T_EQ_INT(coapobs_count(&s6), 0);
	T_EQ_INT(watchers(), 0);
	T_EQ_INT(obs.st.observations, 0);
	coapobs_cleanup(&obs);
	h.obs = NULL;
}

int
main(void)
{
	log_init("test_coaphandler", 1, LOG_LEVEL_WARN);
	if ((parser = coapmsg_parser_new()) == NULL)
		return 1;

	setup();
	T_RUN(test_routes);
	T_RUN(test_options);
	T_RUN(test_options_unparsed);
	T_RUN(test_check_progress);
	teardown();
	setup();
	T_RUN(test_notice_block2);
	T_RUN(test_block1);
	T_RUN(test_block1_order_and_limits);
	T_RUN(test_block1_reload);
	T_RUN(test_block1_budget);
	T_RUN(test_block1_sources);
	teardown();
	setup();
	T_RUN(test_download);
	T_RUN(test_download_small);
	T_RUN(test_truncated);
	teardown();
	setup();
	T_RUN(test_observe);
	T_RUN(test_observe_retransmit);
	teardown();

	coapmsg_parser_free(parser);
	return t_done();
}
