/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * handler.c: routing, options, block-wise transfer and core calls for one
 * CoAP request (see handler.h).
 *
 * Options are checked before anything else: a critical option otagw does
 * not implement, or a non-repeatable one given twice, is 4.02 (RFC 7252
 * 5.4.1); Proxy-Uri and Proxy-Scheme are 5.05.  Uri-Host, Uri-Port and
 * Uri-Query are accepted and ignored.
 *
 * Answers write their options in ascending number order, as the encoding
 * requires: ETag (4), Observe (6), Content-Format (12), Max-Age (14),
 * Block2 (23), Block1 (27), Size2 (28), Size1 (60).  Observe, elective,
 * means something on GET /ota/{device}/notice only and is ignored
 * elsewhere; repeated, the first one counts (RFC 7252 5.4.5).
 *
 * Downloads pass the session's serial number to core_download as the
 * connection, so core's download grant (core/grant.h) spares a device
 * walking an image a store transaction per block.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/handler.h"
#include "coap/msg.h"
#include "coap/observe.h"
#include "coap/session.h"
#include "coap/udp.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "log.h"
#include "model.h"
#include "store/image.h"

/* Largest body served block-wise (2^20 blocks of 1 KiB). */
#define COAPHANDLER_IMAGE_MAX	((((uint64_t)1 << 20) - 1) * 1024)
/* Block size when a request names none. */
#define COAPHANDLER_SZX		6
/* Most Uri-Path segments a routed request has. */
#define COAPHANDLER_SEGS	4
/* A core diagnostic longer than this is replaced by a short phrase. */
#define COAPHANDLER_DIAG_MAX	256
/* "coaps://[" an IPv6 address "%25" an interface name "]:" a port */
#define COAPHANDLER_ORIGIN_MAX	80

enum coaphandler_route {
	ROUTE_NONE = 0,
	ROUTE_CHECK,
	ROUTE_PROGRESS,
	ROUTE_FW,
	ROUTE_NOTICE,
};

struct coaphandler_seg {
	const uint8_t	*s;
	size_t		 len;
};

void
coaphandler_init(struct coaphandler *h, struct core *core, size_t max_body)
{
	memset(h, 0, sizeof(*h));
	h->core = core;
	h->max_body = max_body;
}

/* Answers ------------------------------------------------------------------ */

static void
coaphandler_fail(struct coapbuf *r, uint8_t code, const char *diag)
{
	coapbuf_reset(r);
	coapbuf_code(r, code);
	if (diag != NULL)
		coapbuf_payload(r, diag, strlen(diag));
}

static uint8_t
coaphandler_code(int status)
{
	switch (status) {
	case CORE_OK:
		return COAPMSG_CODE(2, 5);
	case CORE_NO_CONTENT:
		return COAPMSG_CODE(2, 4);
	case CORE_BAD_REQUEST:
		return COAPMSG_CODE(4, 0);
	case CORE_UNAUTHORIZED:
		return COAPMSG_CODE(4, 1);
	case CORE_FORBIDDEN:
		return COAPMSG_CODE(4, 3);
	case CORE_NOT_FOUND:
		return COAPMSG_CODE(4, 4);
	case CORE_TOO_LARGE:
		return COAPMSG_CODE(4, 13);
	case CORE_UNAVAILABLE:
		return COAPMSG_CODE(5, 3);
	default:
		return COAPMSG_CODE(5, 0);
	}
}

static const char *
coaphandler_phrase(int status)
{
	switch (status) {
	case CORE_BAD_REQUEST:
		return "bad request";
	case CORE_UNAUTHORIZED:
		return "not authenticated";
	case CORE_FORBIDDEN:
		return "forbidden";
	case CORE_NOT_FOUND:
		return "not found";
	case CORE_TOO_LARGE:
		return "body too large";
	case CORE_UNAVAILABLE:
		return "unavailable, retry later";
	default:
		return "internal error";
	}
}

/* An error from core: its JSON diagnostic when short, else a phrase. */
static void
coaphandler_fail_core(struct coapbuf *r, int status, const char *body,
    size_t len, unsigned retry_after)
{
	int json = body != NULL && len > 0 && len <= COAPHANDLER_DIAG_MAX &&
	    body[0] == '{';
	const char *p = coaphandler_phrase(status);

	coapbuf_reset(r);
	coapbuf_code(r, coaphandler_code(status));
	if (json)
		coapbuf_opt_uint(r, COAPOPT_CONTENT_FORMAT, COAPFMT_JSON);
	if (status == CORE_UNAVAILABLE)
		coapbuf_opt_uint(r, COAPOPT_MAX_AGE, retry_after);
	if (json)
		coapbuf_payload(r, body, len);
	else
		coapbuf_payload(r, p, strlen(p));
}

/* 4.13 with the largest body otagw takes; Block1 invites block-wise. */
static void
coaphandler_too_large(struct coaphandler *h, struct coapbuf *r,
    int suggest_blocks)
{
	struct coapmsg_block b = { 0, 0, COAPHANDLER_SZX };

	coapbuf_reset(r);
	coapbuf_code(r, COAPMSG_CODE(4, 13));
	if (suggest_blocks)
		coapbuf_opt_block(r, COAPOPT_BLOCK1, &b);
	coapbuf_opt_uint(r, COAPOPT_SIZE1, (uint32_t)h->max_body);
	coapbuf_payload(r, "body too large", 14);
}

/* An ETag as libcoap encoded them: a CoAP uint, no leading zero bytes. */
static void
coaphandler_opt_etag(struct coapbuf *r, uint64_t etag)
{
	uint8_t buf[8];
	size_t n = 0;
	int i;

	for (i = 7; i >= 0; i--)
		if (etag >> (8 * i) != 0 || n > 0)
			buf[n++] = (uint8_t)(etag >> (8 * i));
	coapbuf_opt(r, COAPOPT_ETAG, buf, n);
}

/* Options ------------------------------------------------------------------ */

/*
 * 0 when every option of req is one otagw may act on or ignore; else the
 * answer is written and -1 returned.
 */
static int
coaphandler_options(const struct coapmsg *req, struct coapbuf *r)
{
	char diag[64];
	size_t i;

	if (req->too_many) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "too many options");
		return -1;
	}
	for (i = 0; i < req->nopts; i++) {
		uint16_t num = req->opts[i].num;
		int repeated = i > 0 && req->opts[i - 1].num == num;

		switch (num) {
		case COAPOPT_URI_PATH:
		case COAPOPT_URI_QUERY:
		case COAPOPT_ETAG:
			continue;	/* repeatable */
		case COAPOPT_PROXY_URI:
		case COAPOPT_PROXY_SCHEME:
			coaphandler_fail(r, COAPMSG_CODE(5, 5),
			    "proxying not supported");
			return -1;
		case COAPOPT_URI_HOST:
		case COAPOPT_URI_PORT:
		case COAPOPT_CONTENT_FORMAT:
		case COAPOPT_ACCEPT:
		case COAPOPT_BLOCK2:
		case COAPOPT_BLOCK1:
		case COAPOPT_SIZE1:
		case COAPOPT_SIZE2:
		case COAPOPT_REQUEST_TAG:
			if (!repeated)
				continue;
			break;
		default:
			if ((num & 1) == 0)
				continue;	/* elective: ignored */
			break;
		}
		snprintf(diag, sizeof(diag), "%s option %u",
		    repeated ? "repeated" : "unsupported critical", num);
		coaphandler_fail(r, COAPMSG_CODE(4, 2), diag);
		return -1;
	}
	return 0;
}

/* The Uri-Path segments, or -1 when there are too many. */
static int
coaphandler_segments(const struct coapmsg *req, struct coaphandler_seg *segs)
{
	size_t i;
	int n = 0;

	for (i = 0; i < req->nopts; i++) {
		if (req->opts[i].num != COAPOPT_URI_PATH)
			continue;
		if (n == COAPHANDLER_SEGS)
			return -1;
		segs[n].s = req->opts[i].val;
		segs[n].len = req->opts[i].len;
		n++;
	}
	return n;
}

static int
coaphandler_seg_is(const struct coaphandler_seg *seg, const char *lit)
{
	size_t n = strlen(lit);

	return seg->len == n && memcmp(seg->s, lit, n) == 0;
}

static int
coaphandler_route(const struct coaphandler_seg *segs, int n)
{
	if (n == 3 && coaphandler_seg_is(&segs[0], "ota")) {
		if (coaphandler_seg_is(&segs[2], "check"))
			return ROUTE_CHECK;
		if (coaphandler_seg_is(&segs[2], "progress"))
			return ROUTE_PROGRESS;
		if (coaphandler_seg_is(&segs[2], "notice"))
			return ROUTE_NOTICE;
		return ROUTE_NONE;
	}
	if (n == 2 && coaphandler_seg_is(&segs[0], "fw"))
		return ROUTE_FW;
	return ROUTE_NONE;
}

/* Copies a path segment into a C string if it could be an id at all. */
static int
coaphandler_copy_id(char *dst, size_t size, const struct coaphandler_seg *seg)
{
	if (seg->len == 0 || seg->len >= size ||
	    memchr(seg->s, '\0', seg->len) != NULL)
		return -1;
	memcpy(dst, seg->s, seg->len);
	dst[seg->len] = '\0';
	return 0;
}

/* The uint value of option num, or def when absent; -1 when malformed. */
static int
coaphandler_uint(const struct coapmsg *req, uint16_t num, uint32_t def,
    uint32_t *v)
{
	const struct coapmsg_opt *o = coapmsg_opt(req, num);

	*v = def;
	if (o == NULL)
		return 0;
	return coapmsg_opt_uint(o, v);
}

/*
 * "coap://" or "coaps://" and the address the session's datagrams were
 * sent to, for a notice's url; NULL when it is not known.
 */
static const char *
coaphandler_origin(const struct coapsess *s, char *out, size_t size)
{
	const char *scheme = s->dtls_ep ? "coaps://" : "coap://";
	size_t	 n = strlen(scheme);

	if (s->sock == NULL || size <= n)
		return NULL;
	memcpy(out, scheme, n);
	if (udp_local_authority(s->sock, &s->local, out + n, size - n) != 0)
		return NULL;
	return out;
}

/* Fills proto and peer of a core request from the session. */
static int
coaphandler_peer(const struct coapsess *s, struct core_req *cr)
{
	memset(cr, 0, sizeof(*cr));
	if (!s->dtls_ep) {
		cr->proto = CORE_PROTO_COAP;
		return 0;
	}
	cr->proto = CORE_PROTO_COAPS;
	if (s->identity[0] == '\0')
		return -1;
	cr->peer = s->identity;
	return 0;
}

/* Block1 bodies ------------------------------------------------------------ */

/* Key kinds of the body counts. */
#define COAPHANDLER_KEY_SOURCE	1
#define COAPHANDLER_KEY_ID	2
/* kind, then 4 (IPv4) or 8 (IPv6 /64) address bytes, or the identity */
#define COAPHANDLER_KEY		(2 + OTA_ID_MAX)

/*
 * Bodies in progress from one source, or of one PSK identity (then n is
 * 0 or 1 and sess is the session whose body it is).  An entry exists
 * only while its count is above zero.
 */
struct coaphandler_count {
	struct coaphandler_count *next;
	uint8_t		 key[COAPHANDLER_KEY];
	unsigned	 n;
	struct coapsess	*sess;
};

/*
 * The count key of s's source or identity: 0, or -1 when it has none (a
 * family not counted, plain CoAP for an identity).
 */
static int
coaphandler_key(const struct coapsess *s, int kind, uint8_t *key)
{
	const union udp_sa *sa = &s->peer;
	const uint8_t *a;

	memset(key, 0, COAPHANDLER_KEY);
	key[0] = (uint8_t)kind;
	if (kind == COAPHANDLER_KEY_ID) {
		if (s->identity[0] == '\0')
			return -1;
		memcpy(key + 1, s->identity, strlen(s->identity));
		return 0;
	}
	if (sa->sa.sa_family == AF_INET) {
		key[1] = 4;
		memcpy(key + 2, &sa->in.sin_addr, 4);
		return 0;
	}
	if (sa->sa.sa_family != AF_INET6)
		return -1;
	a = sa->in6.sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr)) {
		key[1] = 4;
		memcpy(key + 2, a + 12, 4);
	} else {
		key[1] = 6;
		memcpy(key + 2, a, 8);	/* the /64 */
	}
	return 0;
}

/* The slot of key (FNV-1a): where its entry is, or would go. */
static struct coaphandler_count **
coaphandler_count_slot(struct coaphandler *h, const uint8_t *key)
{
	struct coaphandler_count **pp;
	uint32_t hash = 2166136261u;
	size_t	 i;

	for (i = 0; i < COAPHANDLER_KEY; i++) {
		hash ^= key[i];
		hash *= 16777619u;
	}
	pp = &h->counts[hash % COAPHANDLER_COUNT_BUCKETS];
	while (*pp != NULL && memcmp((*pp)->key, key, COAPHANDLER_KEY) != 0)
		pp = &(*pp)->next;
	return pp;
}

static struct coaphandler_count *
coaphandler_count_get(struct coaphandler *h, const struct coapsess *s,
    int kind)
{
	uint8_t	 key[COAPHANDLER_KEY];

	if (coaphandler_key(s, kind, key) == -1)
		return NULL;
	return *coaphandler_count_slot(h, key);
}

/* Counts b's body in (delta 1) or out (-1) under kind. */
static void
coaphandler_count_add(struct coaphandler *h, struct coapsess_body *b,
    int kind, int delta)
{
	uint8_t	 key[COAPHANDLER_KEY];
	struct coaphandler_count **pp, *c;

	if (delta < 0 && (b->counted & (1u << kind)) == 0)
		return;
	if (coaphandler_key(b->owner, kind, key) == -1)
		return;
	pp = coaphandler_count_slot(h, key);
	if ((c = *pp) == NULL) {
		if (delta < 0 || (c = calloc(1, sizeof(*c))) == NULL)
			return;	/* uncounted: errs on the open side */
		memcpy(c->key, key, COAPHANDLER_KEY);
		*pp = c;
	}
	if (delta > 0) {
		c->n++;
		c->sess = b->owner;
		b->counted |= 1u << kind;
		return;
	}
	b->counted &= ~(1u << kind);
	if (c->sess == b->owner)
		c->sess = NULL;
	if (--c->n == 0) {
		*pp = c->next;
		free(c);
	}
}

static void
coaphandler_body_drop(struct coaphandler *h, struct coapsess *s)
{
	struct coapsess_body *b = s->body;

	if (b == NULL)
		return;
	coaphandler_count_add(h, b, COAPHANDLER_KEY_SOURCE, -1);
	coaphandler_count_add(h, b, COAPHANDLER_KEY_ID, -1);
	if (b->prev != NULL)
		b->prev->next = b->next;
	else if (h->first == b)
		h->first = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else if (h->last == b)
		h->last = b->prev;
	h->body_bytes -= b->cap;
	h->bodies--;
	coapsess_body_drop(s);
}

/* 5.03 with Max-Age 1: no room for one more body now. */
static void
coaphandler_busy(struct coapbuf *r)
{
	coapbuf_reset(r);
	coapbuf_code(r, COAPMSG_CODE(5, 3));
	coapbuf_opt_uint(r, COAPOPT_MAX_AGE, 1);
	coapbuf_payload(r, "busy, retry later", 17);
}

/*
 * Room for a body of want bytes, at most: its size announced in Size1,
 * else two blocks; it grows as blocks come (coaphandler_body_grow).
 */
static size_t
coaphandler_body_want(const struct coaphandler *h, uint32_t size1, size_t bs)
{
	size_t	 want = size1 > 0 ? size1 : 2 * bs;

	return want < h->max_body ? want : h->max_body;
}

/*
 * Starts a body for this request on s: 0, or -1 (answer written).  The
 * identity's body on another session ends (a device uploads one body at
 * a time); a source over its share, or a budget spent, is 5.03.
 */
static int
coaphandler_body_start(struct coaphandler *h, struct coapsess *s,
    const struct coapmsg *req, int route, const char *device, int fmt,
    size_t want, int64_t now, struct coapbuf *r)
{
	const struct coapmsg_opt *tag = coapmsg_opt(req, COAPOPT_REQUEST_TAG);
	struct coaphandler_count *c;
	struct coapsess_body *b;

	coaphandler_body_drop(h, s);
	if ((c = coaphandler_count_get(h, s, COAPHANDLER_KEY_ID)) != NULL &&
	    c->sess != NULL)
		coaphandler_body_drop(h, c->sess);
	c = coaphandler_count_get(h, s, COAPHANDLER_KEY_SOURCE);
	if ((c != NULL && c->n >= COAPHANDLER_BODIES_PER_SOURCE) ||
	    h->body_bytes + want > COAPHANDLER_BODY_BUDGET) {
		coaphandler_busy(r);
		return -1;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->buf = malloc(want)) == NULL) {
		free(b);
		coaphandler_fail(r, COAPMSG_CODE(5, 0), "out of memory");
		return -1;
	}
	b->cap = want;
	b->route = route;
	snprintf(b->device, sizeof(b->device), "%s", device);
	b->fmt = fmt;
	b->started = now;
	if (tag != NULL && tag->len <= sizeof(b->rtag)) {
		memcpy(b->rtag, tag->val, tag->len);
		b->rtaglen = (uint8_t)tag->len;
		b->has_rtag = 1;
	}
	b->owner = s;
	s->body = b;
	b->prev = h->last;
	if (h->last != NULL)
		h->last->next = b;
	else
		h->first = b;
	h->last = b;
	h->bodies++;
	h->body_bytes += b->cap;
	coaphandler_count_add(h, b, COAPHANDLER_KEY_SOURCE, 1);
	coaphandler_count_add(h, b, COAPHANDLER_KEY_ID, 1);
	return 0;
}

/*
 * Room in b for need bytes (at most max_body): doubles it, or more.
 * -1 when the budget has no room or memory is short.
 */
static int
coaphandler_body_grow(struct coaphandler *h, struct coapsess_body *b,
    size_t need)
{
	size_t	 cap = b->cap * 2 > need ? b->cap * 2 : need;
	uint8_t	*buf;

	if (need <= b->cap)
		return 0;
	if (cap > h->max_body)
		cap = h->max_body;
	if (cap < need)
		return -1;	/* never shrink under what is needed */
	if (h->body_bytes - b->cap + cap > COAPHANDLER_BODY_BUDGET ||
	    (buf = realloc(b->buf, cap)) == NULL)
		return -1;
	b->buf = buf;
	h->body_bytes += cap - b->cap;
	b->cap = cap;
	return 0;
}

/* Is s's body the one this block continues? */
static int
coaphandler_body_matches(const struct coapsess *s, const struct coapmsg *req,
    int route, const char *device, int fmt, int64_t now)
{
	const struct coapmsg_opt *tag = coapmsg_opt(req, COAPOPT_REQUEST_TAG);
	const struct coapsess_body *b = s->body;

	if (b == NULL || b->route != route || strcmp(b->device, device) != 0 ||
	    b->fmt != fmt || now - b->started > COAPHANDLER_BODY_MS)
		return 0;
	if ((tag != NULL) != b->has_rtag)
		return 0;
	return tag == NULL || (tag->len == b->rtaglen &&
	    memcmp(tag->val, b->rtag, tag->len) == 0);
}

/*
 * Takes one Block1 block.  Returns 1 when the body is complete (in
 * s->body), 0 when an answer (2.31 or an error) has been written.
 */
static int
coaphandler_block1(struct coaphandler *h, struct coapsess *s,
    const struct coapmsg *req, const struct coapmsg_block *b1, int route,
    const char *device, int fmt, uint32_t size1, int64_t now,
    struct coapbuf *r)
{
	size_t bs = (size_t)16 << b1->szx;
	uint64_t off = (uint64_t)b1->num * bs;
	struct coapsess_body *b;

	if (b1->m && req->payload_len != bs) {
		coaphandler_fail(r, COAPMSG_CODE(4, 0),
		    "Block1 payload is not the block size");
		return 0;
	}
	if (b1->num == 0) {
		if (coaphandler_body_start(h, s, req, route, device, fmt,
		    coaphandler_body_want(h, size1, bs), now, r) == -1)
			return 0;
	} else if (!coaphandler_body_matches(s, req, route, device, fmt,
	    now) || off > s->body->len) {
		coaphandler_body_drop(h, s);
		coaphandler_fail(r, COAPMSG_CODE(4, 8), "incomplete body");
		return 0;
	} else if (off < s->body->len) {
		/* The last block again (its answer was lost): same answer. */
		if (b1->m && off + req->payload_len == s->body->len) {
			coapbuf_code(r, COAPMSG_CODE(2, 31));
			coapbuf_opt_block(r, COAPOPT_BLOCK1, b1);
			return 0;
		}
		coaphandler_body_drop(h, s);
		coaphandler_fail(r, COAPMSG_CODE(4, 8), "incomplete body");
		return 0;
	}
	b = s->body;
	/* max_body may have dropped under b->len since (SIGHUP) */
	if (b->len > h->max_body || req->payload_len > h->max_body - b->len) {
		coaphandler_body_drop(h, s);
		coaphandler_too_large(h, r, 0);
		return 0;
	}
	if (coaphandler_body_grow(h, b, b->len + req->payload_len) == -1) {
		coaphandler_body_drop(h, s);
		coaphandler_busy(r);
		return 0;
	}
	if (req->payload_len > 0)
		memcpy(b->buf + b->len, req->payload, req->payload_len);
	b->len += req->payload_len;
	if (!b1->m)
		return 1;
	coapbuf_code(r, COAPMSG_CODE(2, 31));
	coapbuf_opt_block(r, COAPOPT_BLOCK1, b1);
	return 0;
}

/* Check and progress ------------------------------------------------------- */

void
coaphandler_notice_answer(struct coapbuf *r, const char *body, size_t len,
    unsigned max_age, const struct coapmsg_block *asked,
    const struct coapmsg_block *b1, int64_t observe)
{
	struct coapmsg_block b2;
	uint8_t md[32];
	size_t bs, off, chunk;

	if (body == NULL) {
		body = COAPHANDLER_NO_NOTICE;
		len = sizeof(COAPHANDLER_NO_NOTICE) - 1;
	}
	coapbuf_code(r, COAPMSG_CODE(2, 5));
	if (asked == NULL && len <= ((size_t)16 << COAPHANDLER_SZX)) {
		if (observe >= 0)
			coapbuf_opt_uint(r, COAPOPT_OBSERVE,
			    (uint32_t)observe & 0xffffff);
		coapbuf_opt_uint(r, COAPOPT_CONTENT_FORMAT, COAPFMT_JSON);
		coapbuf_opt_uint(r, COAPOPT_MAX_AGE, max_age);
		if (b1 != NULL)
			coapbuf_opt_block(r, COAPOPT_BLOCK1, b1);
		coapbuf_payload(r, body, len);
		return;
	}
	if (asked != NULL)
		b2 = *asked;
	else {
		b2.num = 0;
		b2.szx = COAPHANDLER_SZX;
	}
	bs = (size_t)16 << b2.szx;
	off = (size_t)b2.num * bs;
	if (off >= len && b2.num != 0) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "block past the end");
		return;
	}
	chunk = len - off < bs ? len - off : bs;
	b2.m = off + chunk < len;
	crypto_sha256(body, len, md);
	coapbuf_opt(r, COAPOPT_ETAG, md, 4);
	if (observe >= 0)
		coapbuf_opt_uint(r, COAPOPT_OBSERVE,
		    (uint32_t)observe & 0xffffff);
	coapbuf_opt_uint(r, COAPOPT_CONTENT_FORMAT, COAPFMT_JSON);
	coapbuf_opt_uint(r, COAPOPT_MAX_AGE, max_age);
	coapbuf_opt_block(r, COAPOPT_BLOCK2, &b2);
	if (b1 != NULL)
		coapbuf_opt_block(r, COAPOPT_BLOCK1, b1);
	coapbuf_opt_uint(r, COAPOPT_SIZE2, (uint32_t)len);
	coapbuf_payload(r, body + off, chunk);
}

/*
 * The notice, or the block of it the device asked for.  Options in
 * order: ETag, Observe, Content-Format, Max-Age, Block2, Block1, Size2.
 */
static void
coaphandler_notice(struct coapbuf *r, const struct coapmsg *req,
    const char *body, size_t len, unsigned max_age,
    const struct coapmsg_block *b1, int64_t observe)
{
	struct coapmsg_block b2;
	int has_b2 = coapmsg_block(req, COAPOPT_BLOCK2, &b2);

	if (has_b2 < 0) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "bad Block2 option");
		return;
	}
	coaphandler_notice_answer(r, body, len, max_age, has_b2 ? &b2 : NULL,
	    b1, observe);
}

static void
coaphandler_post(struct coaphandler *h, struct coapsess *s,
    const struct coapmsg *req, size_t truncated, int route,
    const struct coaphandler_seg *devseg, int64_t now, struct coapbuf *r)
{
	char device[OTA_ID_MAX + 1], origin[COAPHANDLER_ORIGIN_MAX];
	struct coapmsg_block b1;
	struct core_req creq;
	struct core_resp cresp;
	uint32_t fmt, size1, accept;
	int has_b1, fmtv;

	if ((has_b1 = coapmsg_block(req, COAPOPT_BLOCK1, &b1)) < 0) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "bad Block1 option");
		return;
	}
	if (coaphandler_uint(req, COAPOPT_SIZE1, 0, &size1) == -1 ||
	    coaphandler_uint(req, COAPOPT_CONTENT_FORMAT, UINT32_MAX,
	    &fmt) == -1 ||
	    coaphandler_uint(req, COAPOPT_ACCEPT, COAPFMT_JSON,
	    &accept) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "bad option value");
		return;
	}
	/* Refuse what is too big before reading any of it. */
	if (size1 > h->max_body || (!has_b1 &&
	    req->payload_len + truncated > h->max_body)) {
		coaphandler_body_drop(h, s);
		coaphandler_too_large(h, r, 0);
		return;
	}
	if (truncated > 0) {
		/*
		 * Under the limit, but longer than a datagram we read: to be
		 * sent in blocks.  A Block1 block cut short is no block
		 * either (taken as it is, a last block would end the body
		 * where the cut fell), and ends the body it belonged to.
		 */
		if (has_b1)
			coaphandler_body_drop(h, s);
		coaphandler_too_large(h, r, 1);
		return;
	}
	if (fmt != UINT32_MAX && fmt != COAPFMT_JSON && fmt != COAPFMT_TEXT) {
		coaphandler_fail(r, COAPMSG_CODE(4, 15), "JSON expected");
		return;
	}
	if (route == ROUTE_CHECK && accept != COAPFMT_JSON) {
		coaphandler_fail(r, COAPMSG_CODE(4, 6), "only JSON answers");
		return;
	}
	if (coaphandler_copy_id(device, sizeof(device), devseg) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 4), "unknown device");
		return;
	}
	if (coaphandler_peer(s, &creq) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 1), "no identity");
		return;
	}
	fmtv = fmt == UINT32_MAX ? -1 : (int)fmt;
	creq.device = device;
	if (route == ROUTE_CHECK)
		creq.origin = coaphandler_origin(s, origin, sizeof(origin));
	if (has_b1) {
		if (!coaphandler_block1(h, s, req, &b1, route, device, fmtv,
		    size1, now, r))
			return;
		creq.body = s->body->buf;
		creq.body_len = s->body->len;
	} else {
		creq.body = req->payload;
		creq.body_len = req->payload_len;
	}

	memset(&cresp, 0, sizeof(cresp));
	if (route == ROUTE_PROGRESS)
		core_progress(h->core, &creq, &cresp);
	else
		core_check(h->core, &creq, &cresp);
	coaphandler_body_drop(h, s);

	if (cresp.status == CORE_OK && route == ROUTE_CHECK &&
	    cresp.body != NULL)
		coaphandler_notice(r, req, cresp.body, cresp.body_len,
		    cresp.retry_after, has_b1 ? &b1 : NULL, -1);
	else if (cresp.status == CORE_OK || cresp.status == CORE_NO_CONTENT) {
		coapbuf_code(r, COAPMSG_CODE(2, 4));
		coapbuf_opt_uint(r, COAPOPT_MAX_AGE, cresp.retry_after);
		if (has_b1)
			coapbuf_opt_block(r, COAPOPT_BLOCK1, &b1);
	} else {
		coaphandler_fail_core(r, cresp.status, cresp.body,
		    cresp.body_len, cresp.retry_after);
		log_debug("coap: %s %s from %s: %s", route == ROUTE_PROGRESS ?
		    "progress" : "check", device, creq.peer ? creq.peer :
		    "coap", coaphandler_phrase(cresp.status));
	}
	core_resp_cleanup(&cresp);
}

/* The notice resource ------------------------------------------------------ */

/*
 * GET /ota/{device}/notice: a check with an empty body, answered 2.05
 * with the notice, or with "{}" when nothing is pending.  With Observe 0
 * the session observes it (observe.h) and the answer carries Observe;
 * when the observation cannot be held the answer is the same without
 * Observe (RFC 7641 4.1).  Observe 1 ends the session's observation of
 * the device, then answers as a plain GET.
 */
static void
coaphandler_get_notice(struct coaphandler *h, struct coapsess *s,
    const struct coapmsg *req, const struct coaphandler_seg *devseg,
    int64_t now, struct coapbuf *r)
{
	const struct coapmsg_opt *o = coapmsg_opt(req, COAPOPT_OBSERVE);
	char	 device[OTA_ID_MAX + 1], origin[COAPHANDLER_ORIGIN_MAX];
	struct core_req creq;
	struct core_resp cresp;
	uint32_t accept, obs = 2, seq;
	int64_t	 observe = -1;

	if (coaphandler_uint(req, COAPOPT_ACCEPT, COAPFMT_JSON,
	    &accept) == -1 || (o != NULL && coapmsg_opt_uint(o, &obs) == -1)) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "bad option value");
		return;
	}
	if (accept != COAPFMT_JSON) {
		coaphandler_fail(r, COAPMSG_CODE(4, 6), "only JSON answers");
		return;
	}
	if (coaphandler_copy_id(device, sizeof(device), devseg) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 4), "unknown device");
		return;
	}
	if (coaphandler_peer(s, &creq) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 1), "no identity");
		return;
	}
	creq.device = device;
	creq.origin = coaphandler_origin(s, origin, sizeof(origin));
	if (o != NULL && obs == 0 && h->obs != NULL) {
		if (coapobs_register(h->obs, s, &creq, req->token, req->tkl,
		    now, &cresp, &seq) == 0)
			observe = seq;
	} else {
		if (o != NULL && obs == 1 && h->obs != NULL)
			coapobs_deregister(h->obs, s, device);
		core_check(h->core, &creq, &cresp);
	}
	if (cresp.status == CORE_OK || cresp.status == CORE_NO_CONTENT)
		coaphandler_notice(r, req, cresp.status == CORE_OK ?
		    cresp.body : NULL, cresp.body_len, cresp.retry_after, NULL,
		    observe);
	else {
		coaphandler_fail_core(r, cresp.status, cresp.body,
		    cresp.body_len, cresp.retry_after);
		log_debug("coap: notice %s from %s: %s", device,
		    creq.peer ? creq.peer : "coap",
		    coaphandler_phrase(cresp.status));
	}
	core_resp_cleanup(&cresp);
}

/* Downloads ---------------------------------------------------------------- */

/* Does a request ETag name the current image? */
static int
coaphandler_etag_matches(const struct coapmsg *req, uint64_t etag)
{
	uint64_t v;
	size_t i;
	uint16_t j;

	for (i = 0; i < req->nopts; i++) {
		const struct coapmsg_opt *o = &req->opts[i];

		if (o->num != COAPOPT_ETAG || o->len > 8)
			continue;
		for (v = 0, j = 0; j < o->len; j++)
			v = v << 8 | o->val[j];
		if (v == etag)
			return 1;
	}
	return 0;
}

/*
 * One block of img, or 2.03 when the request's ETag is the image's.
 * ETag: the first 8 bytes of the SHA-256, never 0.  Returns the bytes of
 * the image put in the answer, from *off.
 */
static uint64_t
coaphandler_block2(struct coapbuf *r, const struct coapmsg *req,
    const struct store_image *img, const struct firmware_rec *fw,
    const struct coapmsg_block *asked, uint64_t *offp)
{
	struct coapmsg_block b2;
	uint64_t etag, off, chunk;
	size_t bs;
	int i;

	for (etag = 0, i = 0; i < 8; i++)
		etag = etag << 8 | fw->sha256[i];
	if (etag == 0)
		etag = 1;
	if (img->size > COAPHANDLER_IMAGE_MAX) {
		log_warnx("coap: firmware %s is too large for block-wise "
		    "transfer", fw->id);
		coaphandler_fail(r, COAPMSG_CODE(5, 0),
		    "image too large for CoAP");
		return 0;
	}
	if (asked != NULL)
		b2 = *asked;
	else {
		b2.num = 0;
		b2.szx = COAPHANDLER_SZX;
	}
	bs = (size_t)16 << b2.szx;
	off = (uint64_t)b2.num * bs;
	if (b2.num != 0 && off >= img->size) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "block past the end");
		return 0;
	}
	if (coaphandler_etag_matches(req, etag)) {
		coapbuf_code(r, COAPMSG_CODE(2, 3));
		coaphandler_opt_etag(r, etag);
		return 0;
	}
	chunk = img->size - off < bs ? img->size - off : bs;
	b2.m = off + chunk < img->size;
	coapbuf_code(r, COAPMSG_CODE(2, 5));
	coaphandler_opt_etag(r, etag);
	coapbuf_opt_uint(r, COAPOPT_CONTENT_FORMAT, COAPFMT_OCTETS);
	if (asked != NULL || img->size > bs)
		coapbuf_opt_block(r, COAPOPT_BLOCK2, &b2);
	coapbuf_opt_uint(r, COAPOPT_SIZE2, (uint32_t)img->size);
	coapbuf_payload(r, img->data + off, (size_t)chunk);
	*offp = off;
	return chunk;
}

static void
coaphandler_download(struct coaphandler *h, struct coapsess *s,
    const struct coapmsg *req, const struct coaphandler_seg *fwseg,
    struct coapbuf *r)
{
	char fwid[OTA_ID_MAX + 1];
	struct core_req creq;
	struct firmware_rec fw;
	struct coapmsg_block b2;
	const struct store_image *img;
	uint64_t off = 0, n;
	uint32_t accept;
	int has_b2, status;

	if ((has_b2 = coapmsg_block(req, COAPOPT_BLOCK2, &b2)) < 0) {
		coaphandler_fail(r, COAPMSG_CODE(4, 2), "bad Block2 option");
		return;
	}
	if (coaphandler_uint(req, COAPOPT_ACCEPT, COAPFMT_OCTETS,
	    &accept) == -1 || accept != COAPFMT_OCTETS) {
		coaphandler_fail(r, COAPMSG_CODE(4, 6), "only octet streams");
		return;
	}
	if (coaphandler_copy_id(fwid, sizeof(fwid), fwseg) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 4), "unknown firmware");
		return;
	}
	if (coaphandler_peer(s, &creq) == -1) {
		coaphandler_fail(r, COAPMSG_CODE(4, 1), "no identity");
		return;
	}
	creq.conn = s->serial;
	status = core_download(h->core, &creq, fwid, &img, &fw);
	if (status != CORE_OK) {
		coaphandler_fail_core(r, status, NULL, 0, 1);
		return;
	}
	n = coaphandler_block2(r, req, img, &fw, has_b2 ? &b2 : NULL, &off);
	/* over DTLS the device is known: the gateway sees its download */
	if (n > 0 && creq.peer != NULL)
		core_transferred(h->core, creq.peer, fw.id, off, n,
		    img->size);
	store_image_unref(img);
}

/* Dispatch ----------------------------------------------------------------- */

void
coaphandler_request(struct coaphandler *h, struct coapsess *s,
    const struct coapmsg *req, size_t truncated, int64_t now,
    struct coapbuf *r)
{
	struct coaphandler_seg segs[COAPHANDLER_SEGS];
	int n, route;

	if (coaphandler_options(req, r) == -1)
		return;
	n = coaphandler_segments(req, segs);
	route = n < 0 ? ROUTE_NONE : coaphandler_route(segs, n);
	switch (route) {
	case ROUTE_CHECK:
	case ROUTE_PROGRESS:
		if (req->code != COAPMSG_POST)
			break;
		coaphandler_post(h, s, req, truncated, route, &segs[1], now, r);
		return;
	case ROUTE_FW:
		if (req->code != COAPMSG_GET)
			break;
		coaphandler_download(h, s, req, &segs[1], r);
		return;
	case ROUTE_NOTICE:
		if (req->code != COAPMSG_GET)
			break;
		coaphandler_get_notice(h, s, req, &segs[1], now, r);
		return;
	default:
		coaphandler_fail(r, COAPMSG_CODE(4, 4), "not found");
		return;
	}
	coaphandler_fail(r, COAPMSG_CODE(4, 5), "method not allowed");
}

void
coaphandler_expire(struct coaphandler *h, int64_t now)
{
	while (h->first != NULL &&
	    now - h->first->started >= COAPHANDLER_BODY_MS)
		coaphandler_body_drop(h, h->first->owner);
}

void
coaphandler_release(struct coaphandler *h, struct coapsess *s)
{
	coaphandler_body_drop(h, s);
	if (h->obs != NULL)
		coapobs_session_gone(h->obs, s);
}
