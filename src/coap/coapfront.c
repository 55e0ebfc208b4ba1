/*
 * coapfront.c: the CoAP (UDP) and CoAP-over-DTLS (PSK) front end.
 *
 * This is the only file that includes libcoap.  It owns one libcoap context
 * with an endpoint per enabled listener, and plugs it into the daemon's
 * event loop: libcoap's own epoll descriptor is watched for input, and when
 * it is readable the ready events are handed to coap_io_do_epoll(), which
 * reads one datagram per socket event, runs the handlers and then re-arms
 * libcoap's timer (a timerfd inside that same epoll set), so
 * retransmissions, DTLS timers and session expiry wake the loop by
 * themselves.  This is what coap_io_process(ctx, COAP_IO_NO_WAIT) does,
 * minus a second scan of every session and timer re-arm per pass.  The
 * per-block cost matters, all the more with thousands of idle sessions:
 * libcoap's endpoint sockets are read and written through dgram (one
 * recvmmsg and one sendmmsg per pass instead of a system call per
 * datagram), and one pass, with its scan of every session, serves every
 * datagram read (see coapfront_io_cb).  A prepare hook re-arms the timer
 * once after start-up and at most once a second when the loop wakes for
 * other reasons.
 *
 * Requests are routed by their Uri-Path segments, with no allocation:
 *
 *   POST /ota/{device}/check      -> core_check
 *   POST /ota/{device}/progress   -> core_progress
 *   GET  /fw/{firmware}           -> core_download, served block-wise
 *
 * Everything else is 4.04, a known path with another method 4.05.  The
 * translation to core calls is thin: the peer is the session's PSK identity
 * (coaps) or nobody (plain coap), and core statuses map to CoAP codes as in
 * core.h.  Authorization, validation and storage all happen in core.
 *
 * Downloads hand the store's shared memory map of the image to
 * coap_add_data_large_response(), with one image reference per call that
 * the release callback drops.  While a session walks an image from block
 * 0, libcoap serves the following blocks itself without calling us; a
 * device that resumes at block N on a new session gets the handler for
 * every block ("random access"), and there libcoap adds neither ETag nor
 * Size2, so they are added here on every response.  What core_download
 * allowed is remembered per session for COAPFRONT_GRANT_MS (see struct
 * coapfront_grant), which spares a resuming device a store transaction per
 * block.  A new session always asks core, so an operator's cancel holds
 * for it at once, and for a session already downloading within
 * COAPFRONT_GRANT_MS (blocks that libcoap serves by itself never asked
 * core at all).  Each firmware that has been
 * served gets its own libcoap resource ("fw/<id>"), so that libcoap's
 * per-session transfer state, which is keyed by resource, never serves the
 * blocks of one image for another's path.
 *
 * DTLS keys are looked up per identity through core_device_psk when a
 * handshake asks for them; the key is lent to libcoap for the duration of
 * the callback's caller and wiped after each processing pass.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

#include "coap/coapfront.h"
#include "admin/metrics.h"
#include "coap/dgram.h"
#include "config.h"
#include "core/core.h"
#include "ev.h"
#include "log.h"
#include "model.h"
#include "store/store.h"
#include "util/validate.h"

/* Events taken from libcoap's epoll set per round. */
#define COAPFRONT_EPOLL_EVENTS	32
/*
 * Rounds per wake-up: libcoap reads one datagram per ready socket and
 * round, so under load several rounds share one wake-up of the loop.
 */
#define COAPFRONT_ROUNDS	16
/* Socket events handed to one coap_io_do_epoll() call (see the io cb). */
#define COAPFRONT_BATCH		64
/* Endpoint sockets batched (one per listening address). */
#define COAPFRONT_ENDPOINTS	DGRAM_SOCKETS
/* Download grants remembered per session (see coapfront_grant_find). */
#define COAPFRONT_GRANTS	256
/* How long a grant stands before core is asked again, ms. */
#define COAPFRONT_GRANT_MS	2000
/* Firmware resources registered at most; beyond, the unknown resource. */
#define COAPFRONT_FW_RES_MAX	4096
/* Most Uri-Path segments a routed request has. */
#define COAPFRONT_SEGS_MAX	4
/* Request body cap when the configuration gives none (as core does). */
#define COAPFRONT_DEFAULT_BODY	16384
/* A core diagnostic longer than this is replaced by a short phrase. */
#define COAPFRONT_DIAG_MAX	256
/* libcoap log lines let through per second (the rest are counted). */
#define COAPFRONT_LOG_BURST	20
/* Largest body libcoap can serve block-wise (2^20 blocks of 1 KiB). */
#define COAPFRONT_BODY_MAX	((((uint64_t)1 << 20) - 1) * 1024)

/*
 * A download core allowed on one session: while it stands, later requests
 * of that session for the same firmware (a device that resumed at block N
 * on a new session gets the handler for every block) skip core_download's
 * store transaction.  The session's app data holds the slot number + 1;
 * libcoap zeroes it in every new session, and a slot that has since gone
 * to another session no longer names this one, so nothing is freed when
 * libcoap frees a session.  The grant holds an image reference.
 */
struct coapfront_grant {
	const coap_session_t	*session;	/* NULL: free slot */
	const struct store_image *img;
	int64_t		 until;		/* ev_now_ms() expiry */
	uint64_t	 etag;
	char		 fwid[OTA_ID_MAX + 1];
};

/*
 * An endpoint socket of libcoap's: its descriptor, and the pointer libcoap
 * registered it with in its epoll set (the data its events carry).
 */
struct coapfront_endpoint {
	int		 fd;
	void		*ptr;
};

struct coapfront {
	coap_context_t	*ctx;
	struct core	*core;
	struct ev	*ev;
	int		 fd;		/* libcoap's epoll fd, or -1 */
	size_t		 max_body;
	coap_resource_t	*unknown;
	unsigned	 nfwres;
	/* The key lent to libcoap by the PSK callback; wiped after use. */
	uint8_t		 psk[OTA_PSK_MAX];
	coap_bin_const_t psk_bin;
	int		 psk_lent;
	int64_t		 prepared_at;	/* last coap_io_prepare_epoll, ms */
	/* libcoap's endpoint sockets, as registered in its epoll set. */
	struct coapfront_endpoint endpoints[COAPFRONT_ENDPOINTS];
	size_t		 nendpoints;
	struct coapfront_grant grants[COAPFRONT_GRANTS];
	unsigned	 grant_next;	/* next slot to reuse */
	unsigned	 ngrants;	/* slots holding an image */
	int64_t		 grant_swept;	/* last sweep of expired grants, ms */
};

enum coapfront_route {
	ROUTE_NONE = 0,
	ROUTE_CHECK,
	ROUTE_PROGRESS,
	ROUTE_FW,
	ROUTE_HIDDEN,		/* .well-known/core: not offered */
};

struct coapfront_seg {
	const uint8_t	*s;
	size_t		 len;
};

/* libcoap's log handler has no argument: its rate limit lives here. */
static int64_t	 coapfront_log_second;
static unsigned	 coapfront_log_count;
static unsigned	 coapfront_log_dropped;

static void	 coapfront_request_cb(coap_resource_t *, coap_session_t *,
		    const coap_pdu_t *, const coap_string_t *, coap_pdu_t *);

/* Logging --------------------------------------------------------------- */

/*
 * A peer can make libcoap warn at will (a bad handshake is one warning), so
 * the lines are limited to a burst per second and the rest counted.
 */
static int
coapfront_log_allow(void)
{
	int64_t now = ev_now_ms() / 1000;

	if (now != coapfront_log_second) {
		if (coapfront_log_dropped > 0)
			log_warnx("coap: %u log lines suppressed",
			    coapfront_log_dropped);
		coapfront_log_second = now;
		coapfront_log_count = 0;
		coapfront_log_dropped = 0;
	}
	if (coapfront_log_count >= COAPFRONT_LOG_BURST) {
		coapfront_log_dropped++;
		return 0;
	}
	coapfront_log_count++;
	return 1;
}

static void
coapfront_log_cb(coap_log_t level, const char *message)
{
	size_t len;

	if (message == NULL)
		return;
	len = strlen(message);
	while (len > 0 && (message[len - 1] == '\n' ||
	    message[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	if (level >= LOG_DEBUG) {
		log_debug("libcoap: %.*s", (int)len, message);
		return;
	}
	if (!coapfront_log_allow())
		return;
	if (level <= LOG_WARNING)
		log_warnx("libcoap: %.*s", (int)len, message);
	else
		log_info("libcoap: %.*s", (int)len, message);
}

static void
coapfront_log_level(void)
{
	coap_log_t level;

	level = log_get_level() >= LOG_LEVEL_DEBUG ? LOG_DEBUG : LOG_WARNING;
	coap_set_log_level(level);
	coap_dtls_set_log_level(level);
}

/* Small helpers ----------------------------------------------------------- */

/* Copies a path segment or identity into a C string if it is a plausible id. */
static int
coapfront_copy_id(char *dst, size_t size, const uint8_t *s, size_t len)
{
	if (len == 0 || len >= size || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int
coapfront_seg_is(const struct coapfront_seg *seg, const char *lit)
{
	size_t n = strlen(lit);

	return seg->len == n && memcmp(seg->s, lit, n) == 0;
}

/* The Uri-Path segments of req, or -1 when there are too many. */
static int
coapfront_segments(const coap_pdu_t *req, struct coapfront_seg *segs, int max)
{
	coap_opt_filter_t filter;
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	int n = 0;

	coap_option_filter_clear(&filter);
	coap_option_filter_set(&filter, COAP_OPTION_URI_PATH);
	if (coap_option_iterator_init(req, &it, &filter) == NULL)
		return 0;
	while ((opt = coap_option_next(&it)) != NULL) {
		if (n == max)
			return -1;
		segs[n].s = coap_opt_value(opt);
		segs[n].len = coap_opt_length(opt);
		n++;
	}
	return n;
}

static enum coapfront_route
coapfront_route(const struct coapfront_seg *segs, int n)
{
	if (n == 3 && coapfront_seg_is(&segs[0], "ota")) {
		if (coapfront_seg_is(&segs[2], "check"))
			return ROUTE_CHECK;
		if (coapfront_seg_is(&segs[2], "progress"))
			return ROUTE_PROGRESS;
		return ROUTE_NONE;
	}
	if (n == 2 && coapfront_seg_is(&segs[0], "fw"))
		return ROUTE_FW;
	if (n == 2 && coapfront_seg_is(&segs[0], ".well-known") &&
	    coapfront_seg_is(&segs[1], "core"))
		return ROUTE_HIDDEN;
	return ROUTE_NONE;
}

static coap_pdu_code_t
coapfront_code(int status)
{
	switch (status) {
	case CORE_OK:
		return COAP_RESPONSE_CODE_CONTENT;
	case CORE_NO_CONTENT:
		return COAP_RESPONSE_CODE_CHANGED;
	case CORE_BAD_REQUEST:
		return COAP_RESPONSE_CODE_BAD_REQUEST;
	case CORE_UNAUTHORIZED:
		return COAP_RESPONSE_CODE_UNAUTHORIZED;
	case CORE_FORBIDDEN:
		return COAP_RESPONSE_CODE_FORBIDDEN;
	case CORE_NOT_FOUND:
		return COAP_RESPONSE_CODE_NOT_FOUND;
	case CORE_TOO_LARGE:
		return COAP_RESPONSE_CODE_REQUEST_TOO_LARGE;
	case CORE_UNAVAILABLE:
		return COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
	default:
		return COAP_RESPONSE_CODE_INTERNAL_ERROR;
	}
}

static const char *
coapfront_phrase(int status)
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

static void
coapfront_add_uint_option(coap_pdu_t *resp, coap_option_num_t num,
    unsigned int value)
{
	uint8_t buf[4];

	coap_add_option(resp, num, coap_encode_var_safe(buf, sizeof(buf),
	    value), buf);
}

/* An error response with a short text diagnostic. */
static void
coapfront_fail(coap_pdu_t *resp, coap_pdu_code_t code, const char *diag)
{
	coap_pdu_set_code(resp, code);
	if (diag != NULL)
		coap_add_data(resp, strlen(diag), (const uint8_t *)diag);
}

/*
 * An error from core: its JSON diagnostic when it has a short one, else a
 * text phrase.
 */
static void
coapfront_fail_core(coap_pdu_t *resp, const struct core_resp *cr)
{
	int json = cr->body != NULL && cr->body_len > 0 &&
	    cr->body_len <= COAPFRONT_DIAG_MAX && cr->body[0] == '{';
	const char *p = coapfront_phrase(cr->status);

	/* Options in number order: Content-Format (12), Max-Age (14). */
	coap_pdu_set_code(resp, coapfront_code(cr->status));
	if (json)
		coapfront_add_uint_option(resp, COAP_OPTION_CONTENT_FORMAT,
		    COAP_MEDIATYPE_APPLICATION_JSON);
	if (cr->status == CORE_UNAVAILABLE)
		coapfront_add_uint_option(resp, COAP_OPTION_MAXAGE,
		    cr->retry_after);
	if (json)
		coap_add_data(resp, cr->body_len, (const uint8_t *)cr->body);
	else
		coap_add_data(resp, strlen(p), (const uint8_t *)p);
}

/* Fills proto and peer of a core request from the session. */
static int
coapfront_peer(coap_session_t *session, struct core_req *cr, char *buf,
    size_t size)
{
	const coap_bin_const_t *id;

	memset(cr, 0, sizeof(*cr));
	if (coap_session_get_proto(session) != COAP_PROTO_DTLS) {
		cr->proto = CORE_PROTO_COAP;
		cr->peer = NULL;
		return 0;
	}
	cr->proto = CORE_PROTO_COAPS;
	id = coap_session_get_psk_identity(session);
	if (id == NULL || coapfront_copy_id(buf, size, id->s, id->length) == -1)
		return -1;
	cr->peer = buf;
	return 0;
}

/* Check and progress -------------------------------------------------------- */

static void
coapfront_free_cb(coap_session_t *session, void *arg)
{
	(void)session;
	free(arg);
}

static void
coapfront_post(struct coapfront *cf, coap_resource_t *res,
    coap_session_t *session, const coap_pdu_t *req, const coap_string_t *query,
    coap_pdu_t *resp, const struct coapfront_seg *devseg, int progress)
{
	char peer[OTA_ID_MAX + 1], device[OTA_ID_MAX + 1];
	struct core_req creq;
	struct core_resp cresp;
	coap_opt_iterator_t it;
	coap_opt_t *opt;
	const uint8_t *data = NULL;
	size_t len = 0, offset = 0, total = 0;

	memset(&cresp, 0, sizeof(cresp));
	if (!coap_get_data_large(req, &len, &data, &offset, &total)) {
		len = total = offset = 0;
		data = NULL;
	}
	/* Refuse before anything parses it. */
	if (len > cf->max_body || total > cf->max_body) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE);
		coapfront_add_uint_option(resp, COAP_OPTION_SIZE1,
		    (unsigned int)cf->max_body);
		coap_add_data(resp, 14, (const uint8_t *)"body too large");
		return;
	}
	/* A lone later block (random access): no whole body to act on. */
	if (offset != 0 || total != len) {
		coapfront_fail(resp, COAP_RESPONSE_CODE_INCOMPLETE,
		    "incomplete body");
		return;
	}
	opt = coap_check_option(req, COAP_OPTION_CONTENT_FORMAT, &it);
	if (opt != NULL) {
		unsigned int fmt = coap_decode_var_bytes(coap_opt_value(opt),
		    coap_opt_length(opt));

		if (fmt != COAP_MEDIATYPE_APPLICATION_JSON &&
		    fmt != COAP_MEDIATYPE_TEXT_PLAIN) {
			coapfront_fail(resp,
			    COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT,
			    "JSON expected");
			return;
		}
	}
	if (coapfront_peer(session, &creq, peer, sizeof(peer)) == -1) {
		coapfront_fail(resp, COAP_RESPONSE_CODE_UNAUTHORIZED,
		    "no identity");
		return;
	}
	if (coapfront_copy_id(device, sizeof(device), devseg->s,
	    devseg->len) == -1) {
		coapfront_fail(resp, COAP_RESPONSE_CODE_NOT_FOUND,
		    "unknown device");
		return;
	}
	creq.device = device;
	creq.body = data;
	creq.body_len = len;

	if (progress)
		core_progress(cf->core, &creq, &cresp);
	else
		core_check(cf->core, &creq, &cresp);

	if (cresp.status == CORE_OK && !progress && cresp.body != NULL) {
		char *body = cresp.body;

		/* The notice; libcoap frees it (and splits it if need be). */
		cresp.body = NULL;
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
		coap_add_data_large_response(res, session, req, resp, query,
		    COAP_MEDIATYPE_APPLICATION_JSON,
		    (int)(cresp.retry_after > INT_MAX ? INT_MAX :
		    cresp.retry_after), 0, cresp.body_len,
		    (const uint8_t *)body, coapfront_free_cb, body);
	} else if (cresp.status == CORE_OK || cresp.status == CORE_NO_CONTENT) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CHANGED);
		coapfront_add_uint_option(resp, COAP_OPTION_MAXAGE,
		    cresp.retry_after);
	} else {
		coapfront_fail_core(resp, &cresp);
		log_debug("coap: %s %s from %s: %s", progress ? "progress" :
		    "check", device, creq.peer ? creq.peer : "coap",
		    coapfront_phrase(cresp.status));
	}
	core_resp_cleanup(&cresp);
}

/* Downloads ---------------------------------------------------------------- */

static void
coapfront_image_release_cb(coap_session_t *session, void *arg)
{
	(void)session;
	store_image_unref(arg);
}

/*
 * The resource that carries libcoap's transfer state for one firmware:
 * res itself when the request came in on it, else "fw/<id>", created the
 * first time that firmware is served (only after core allowed it, so a
 * peer cannot make us create resources for made-up ids).
 */
static coap_resource_t *
coapfront_fw_resource(struct coapfront *cf, coap_resource_t *res,
    const char *fwid)
{
	char path[OTA_ID_MAX + 4];
	coap_str_const_t *uri;
	coap_str_const_t key;
	coap_resource_t *r;
	int n;

	if (res != cf->unknown)
		return res;
	n = snprintf(path, sizeof(path), "fw/%s", fwid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return res;
	key.s = (const uint8_t *)path;
	key.length = (size_t)n;
	r = coap_get_resource_from_uri_path(cf->ctx, &key);
	if (r != NULL)
		return r;
	if (cf->nfwres >= COAPFRONT_FW_RES_MAX)
		return res;
	uri = coap_new_str_const((const uint8_t *)path, (size_t)n);
	if (uri == NULL)
		return res;
	r = coap_resource_init(uri, COAP_RESOURCE_FLAGS_RELEASE_URI);
	if (r == NULL) {
		coap_delete_str_const(uri);
		return res;
	}
	coap_resource_set_userdata(r, cf);
	coap_register_request_handler(r, COAP_REQUEST_GET,
	    coapfront_request_cb);
	coap_add_resource(cf->ctx, r);
	cf->nfwres++;
	return r;
}

static void
coapfront_grant_drop(struct coapfront *cf, struct coapfront_grant *g)
{
	if (g->img == NULL)
		return;
	store_image_unref(g->img);
	memset(g, 0, sizeof(*g));
	cf->ngrants--;
}

/* Drops the grants that expired, at most once a second. */
static void
coapfront_grant_sweep(struct coapfront *cf, int64_t now, int all)
{
	unsigned i;

	if (cf->ngrants == 0 || (!all && now - cf->grant_swept < 1000))
		return;
	cf->grant_swept = now;
	for (i = 0; i < COAPFRONT_GRANTS; i++)
		if (all || cf->grants[i].until <= now)
			coapfront_grant_drop(cf, &cf->grants[i]);
}

/*
 * The image of a standing grant of this session for fwid, with one more
 * reference for the caller, or NULL.
 */
static const struct store_image *
coapfront_grant_find(struct coapfront *cf, coap_session_t *session,
    const char *fwid, uint64_t *etag)
{
	uintptr_t slot = (uintptr_t)coap_session_get_app_data(session);
	struct coapfront_grant *g;

	if (slot == 0 || slot > COAPFRONT_GRANTS)
		return NULL;
	g = &cf->grants[slot - 1];
	if (g->session != session || g->img == NULL ||
	    g->until <= ev_now_ms() || strcmp(g->fwid, fwid) != 0)
		return NULL;
	store_image_ref(g->img);
	*etag = g->etag;
	return g->img;
}

/* Remembers that core allowed this session to download fwid. */
static void
coapfront_grant_add(struct coapfront *cf, coap_session_t *session,
    const char *fwid, const struct store_image *img, uint64_t etag)
{
	uintptr_t slot = (uintptr_t)coap_session_get_app_data(session);
	struct coapfront_grant *g;

	if (slot == 0 || slot > COAPFRONT_GRANTS ||
	    cf->grants[slot - 1].session != session) {
		slot = cf->grant_next + 1;
		cf->grant_next = (cf->grant_next + 1) % COAPFRONT_GRANTS;
	}
	g = &cf->grants[slot - 1];
	coapfront_grant_drop(cf, g);
	store_image_ref(img);
	g->session = session;
	g->img = img;
	g->until = ev_now_ms() + COAPFRONT_GRANT_MS;
	g->etag = etag;
	snprintf(g->fwid, sizeof(g->fwid), "%s", fwid);
	cf->ngrants++;
	coap_session_set_app_data(session, (void *)slot);
}

static void
coapfront_download(struct coapfront *cf, coap_resource_t *res,
    coap_session_t *session, const coap_pdu_t *req, const coap_string_t *query,
    coap_pdu_t *resp, const struct coapfront_seg *fwseg)
{
	char peer[OTA_ID_MAX + 1], fwid[OTA_ID_MAX + 1];
	struct core_req creq;
	struct firmware_rec fw;
	const struct store_image *img = NULL;
	coap_resource_t *target;
	coap_block_b_t block;
	uint8_t buf[8];
	uint64_t etag = 0;
	int i, status;

	if (coapfront_copy_id(fwid, sizeof(fwid), fwseg->s, fwseg->len) == -1) {
		coapfront_fail(resp, COAP_RESPONSE_CODE_NOT_FOUND,
		    "unknown firmware");
		return;
	}
	if (coapfront_peer(session, &creq, peer, sizeof(peer)) == -1) {
		coapfront_fail(resp, COAP_RESPONSE_CODE_UNAUTHORIZED,
		    "no identity");
		return;
	}
	img = coapfront_grant_find(cf, session, fwid, &etag);
	if (img == NULL) {
		status = core_download(cf->core, &creq, fwid, &img, &fw);
		if (status != CORE_OK) {
			struct core_resp cr;

			memset(&cr, 0, sizeof(cr));
			cr.status = status;
			coapfront_fail_core(resp, &cr);
			return;
		}
		/*
		 * ETag: the first 8 bytes of the SHA-256, encoded as libcoap
		 * encodes the etag it is given (a CoAP uint), so that
		 * responses built here and those libcoap builds for later
		 * blocks carry the same bytes.
		 */
		for (i = 0; i < 8; i++)
			etag = etag << 8 | fw.sha256[i];
		if (etag == 0)
			etag = 1;	/* 0 would make libcoap invent one */
		if (img->size <= COAPFRONT_BODY_MAX)
			coapfront_grant_add(cf, session, fwid, img, etag);
	}
	if (img->size > COAPFRONT_BODY_MAX) {
		store_image_unref(img);
		log_warnx("coap: firmware %s is too large for block-wise "
		    "transfer", fwid);
		coapfront_fail(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR,
		    "image too large for CoAP");
		return;
	}
	/* libcoap would say 4.00; a block past the end is a bad option. */
	if (coap_get_block_b(session, req, COAP_OPTION_BLOCK2, &block) &&
	    block.num != 0 &&
	    ((uint64_t)block.num << (block.szx + 4)) >= img->size) {
		store_image_unref(img);
		coapfront_fail(resp, COAP_RESPONSE_CODE_BAD_OPTION,
		    "block past the end");
		return;
	}

	coap_add_option(resp, COAP_OPTION_ETAG,
	    coap_encode_var_safe8(buf, sizeof(buf), etag), buf);
	coapfront_add_uint_option(resp, COAP_OPTION_SIZE2,
	    (unsigned int)img->size);

	target = coapfront_fw_resource(cf, res, fwid);
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
	/* On failure libcoap has set the code and released the image. */
	coap_add_data_large_response(target, session, req, resp, query,
	    COAP_MEDIATYPE_APPLICATION_OCTET_STREAM, -1, etag,
	    (size_t)img->size, img->data, coapfront_image_release_cb,
	    (void *)(uintptr_t)img);
}

/* Dispatch ------------------------------------------------------------------- */

static void
coapfront_request_cb(coap_resource_t *res, coap_session_t *session,
    const coap_pdu_t *req, const coap_string_t *query, coap_pdu_t *resp)
{
	struct coapfront *cf = coap_resource_get_userdata(res);
	struct coapfront_seg segs[COAPFRONT_SEGS_MAX];
	coap_pdu_code_t method = coap_pdu_get_code(req);
	enum coapfront_route route;
	int n;

	if (cf == NULL) {
		coapfront_fail(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR,
		    "internal error");
		return;
	}
	n = coapfront_segments(req, segs, COAPFRONT_SEGS_MAX);
	route = n < 0 ? ROUTE_NONE : coapfront_route(segs, n);
	switch (route) {
	case ROUTE_CHECK:
	case ROUTE_PROGRESS:
		if (method != COAP_REQUEST_CODE_POST)
			break;
		coapfront_post(cf, res, session, req, query, resp, &segs[1],
		    route == ROUTE_PROGRESS);
		return;
	case ROUTE_FW:
		if (method != COAP_REQUEST_CODE_GET)
			break;
		coapfront_download(cf, res, session, req, query, resp,
		    &segs[1]);
		return;
	case ROUTE_HIDDEN:
	case ROUTE_NONE:
	default:
		coapfront_fail(resp, COAP_RESPONSE_CODE_NOT_FOUND, "not found");
		return;
	}
	coapfront_fail(resp, COAP_RESPONSE_CODE_NOT_ALLOWED,
	    "method not allowed");
}

/* DTLS PSK -------------------------------------------------------------------- */

static void
coapfront_psk_wipe(struct coapfront *cf)
{
	if (!cf->psk_lent)
		return;
	explicit_bzero(cf->psk, sizeof(cf->psk));
	cf->psk_bin.length = 0;
	cf->psk_lent = 0;
}

/*
 * libcoap copies the key into the session as soon as we return, but still
 * reads our buffer once more before the handshake step ends: the buffer is
 * wiped after the processing pass instead of here.
 */
static const coap_bin_const_t *
coapfront_psk_cb(coap_bin_const_t *identity, coap_session_t *session,
    void *arg)
{
	struct coapfront *cf = arg;
	char id[OTA_ID_MAX + 1];
	size_t len = 0;

	(void)session;
	coapfront_psk_wipe(cf);
	if (identity == NULL || identity->s == NULL ||
	    coapfront_copy_id(id, sizeof(id), identity->s,
	    identity->length) == -1 || !valid_device_id(id)) {
		if (coapfront_log_allow())
			log_info("coaps: handshake refused: malformed identity");
		return NULL;
	}
	if (core_device_psk(cf->core, id, cf->psk, &len, sizeof(cf->psk)) ==
	    -1 || len == 0 || len > sizeof(cf->psk)) {
		explicit_bzero(cf->psk, sizeof(cf->psk));
		if (coapfront_log_allow())
			log_info("coaps: handshake refused: no key for %s", id);
		return NULL;
	}
	cf->psk_bin.s = cf->psk;
	cf->psk_bin.length = len;
	cf->psk_lent = 1;
	return &cf->psk_bin;
}

/* Event loop --------------------------------------------------------------- */

/* Which endpoint an epoll event of libcoap's is for; nendpoints if none. */
static size_t
coapfront_endpoint_of(const struct coapfront *cf, const void *ptr)
{
	size_t e;

	if (ptr == NULL)
		return cf->nendpoints;
	for (e = 0; e < cf->nendpoints; e++)
		if (cf->endpoints[e].ptr == ptr)
			break;
	return e;
}

/* Datagrams read ahead and not yet handed to libcoap. */
static size_t
coapfront_queued(const struct coapfront *cf)
{
	size_t e, n = 0;

	for (e = 0; e < cf->nendpoints; e++)
		n += dgram_queued(cf->endpoints[e].fd);
	return n;
}

/*
 * Finds libcoap's endpoint sockets and registers them with dgram.  libcoap
 * keeps no accessor for them, but the kernel lists every registration of
 * an epoll set in /proc/self/fdinfo/<epoll fd>, one "tfd: <fd> events:
 * <mask> data: <hex>" line each: the datagram sockets there with a non-null
 * pointer are the endpoints (the timer is registered with none).  Without
 * that list, libcoap reads and writes unbatched, which works the same.
 */
static void
coapfront_find_endpoints(struct coapfront *cf)
{
	char path[64], line[256];
	unsigned long long data;
	unsigned events;
	int fd, type;
	socklen_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", cf->fd);
	if ((f = fopen(path, "re")) == NULL) {
		log_info("coap: %s: %s; datagrams are not batched", path,
		    strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "tfd: %d events: %x data: %llx", &fd, &events,
		    &data) != 3 || data == 0)
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_DGRAM)
			continue;
		if (cf->nendpoints == COAPFRONT_ENDPOINTS ||
		    dgram_watch(fd) == -1) {
			log_info("coap: more than %d endpoints; the rest are "
			    "not batched", COAPFRONT_ENDPOINTS);
			break;
		}
		cf->endpoints[cf->nendpoints].fd = fd;
		cf->endpoints[cf->nendpoints++].ptr =
		    (void *)(uintptr_t)data;
	}
	fclose(f);
	log_debug("coap: %zu endpoint sockets batched", cf->nendpoints);
}

/*
 * libcoap's descriptor is readable.  coap_io_process() would prepare (scan
 * every session and re-arm libcoap's timer) before its own epoll_wait and
 * again inside coap_io_do_epoll(); since we already know there is input,
 * the first pass is skipped: ask libcoap's epoll set what is ready and let
 * coap_io_do_epoll() handle it, which prepares once at its end.
 *
 * coap_io_do_epoll() reads one datagram per socket event it is given, and
 * then pays for a whole prepare pass: a walk over every session (costly
 * with thousands of idle devices) and a timerfd_settime().  So a ready
 * endpoint socket is first drained into its dgram queue (one recvmmsg) and
 * its event handed over once per queued datagram: libcoap's reads come
 * from the queue, one prepare pass serves them all, and no read finds the
 * socket empty.  The answers libcoap writes meanwhile are held and leave
 * together (one sendmmsg) when the call returns.  Another round follows
 * while a read filled a whole queue (the kernel may hold more), up to
 * COAPFRONT_ROUNDS, and until the queues are empty (a queued datagram
 * would not wake the loop again); a drained socket is left to the loop's
 * own wait.  (coap_io_process also expires cache entries and runs async
 * requests: neither is used here.)
 */
static void
coapfront_io_cb(int fd, uint32_t events, void *arg)
{
	struct coapfront *cf = arg;
	struct epoll_event evs[COAPFRONT_EPOLL_EVENTS];
	struct epoll_event batch[COAPFRONT_BATCH];
	int ready[COAPFRONT_ENDPOINTS];
	size_t m, e, k, copies, before, left;
	int i, n, rounds = 0, more;

	(void)events;
	n = epoll_wait(fd, evs, COAPFRONT_EPOLL_EVENTS, 0);
	while (n > 0 || coapfront_queued(cf) > 0) {
		m = 0;
		more = 0;
		memset(ready, 0, sizeof(ready));
		for (i = 0; i < n; i++) {
			e = coapfront_endpoint_of(cf, evs[i].data.ptr);
			if (e < cf->nendpoints && (evs[i].events & EPOLLIN))
				ready[e] = 1;
			else if (m < COAPFRONT_BATCH)
				batch[m++] = evs[i];	/* timer, or unknown */
		}
		for (e = 0; e < cf->nendpoints; e++) {
			copies = ready[e] ? dgram_fill(cf->endpoints[e].fd) :
			    dgram_queued(cf->endpoints[e].fd);
			/* A full queue may have left more in the kernel. */
			if (copies == DGRAM_BATCH)
				more = 1;
			if (copies > COAPFRONT_BATCH - m)
				copies = COAPFRONT_BATCH - m;
			for (k = 0; k < copies; k++) {
				batch[m].events = EPOLLIN;
				batch[m++].data.ptr = cf->endpoints[e].ptr;
			}
		}
		if (m == 0)
			break;
		before = coapfront_queued(cf);
		dgram_hold();
		coap_io_do_epoll(cf->ctx, batch, m);
		dgram_flush();
		left = coapfront_queued(cf);
		if (left > 0 && left >= before)
			break;	/* libcoap took none: keep them for later */
		/*
		 * A socket that was drained needs no second look: whatever
		 * came since wakes the loop again.
		 */
		n = 0;
		if (more && ++rounds < COAPFRONT_ROUNDS)
			n = epoll_wait(fd, evs, COAPFRONT_EPOLL_EVENTS, 0);
	}
	coapfront_psk_wipe(cf);
	cf->prepared_at = ev_now_ms();
}

/*
 * Before each wait.  coap_io_do_epoll() ends by sending what is due and
 * arming libcoap's timer, whose expiry makes the descriptor readable, so
 * right after a pass there is nothing to do.  Otherwise (start-up, or a
 * long quiet spell) prepare here, at most once a second, as a safety net
 * for session expiry.
 */
static int
coapfront_prepare_cb(void *arg)
{
	struct coapfront *cf = arg;
	coap_tick_t now;
	int64_t ms = ev_now_ms();

	coapfront_grant_sweep(cf, ms, 0);
	if (cf->ctx == NULL || ms - cf->prepared_at < 1000)
		return -1;
	coap_ticks(&now);
	coap_io_prepare_epoll(cf->ctx, now);
	coapfront_psk_wipe(cf);
	cf->prepared_at = ms;
	return 1000;
}

/* Metrics ------------------------------------------------------------------------ */

static void
coapfront_metrics_cb(void *arg, struct metrics_out *out)
{
	struct coapfront *cf = arg;
	struct dgram_stats st;

	dgram_stats(&st);
	metrics_gauge(out, "otagw_coap_endpoints_batched",
	    "CoAP endpoint sockets read and written in batches.", "",
	    (double)cf->nendpoints);
	metrics_counter(out, "otagw_coap_datagrams_received_total",
	    "Datagrams read from CoAP endpoint sockets in batches.", "",
	    (double)st.read_dgrams);
	metrics_counter(out, "otagw_coap_receive_calls_total",
	    "recvmmsg calls that read CoAP datagrams.", "",
	    (double)st.reads);
	metrics_counter(out, "otagw_coap_datagrams_sent_total",
	    "Datagrams sent from CoAP endpoint sockets in batches.", "",
	    (double)st.write_dgrams);
	metrics_counter(out, "otagw_coap_send_calls_total",
	    "sendmmsg calls that sent CoAP datagrams.", "",
	    (double)st.writes);
	metrics_counter(out, "otagw_coap_send_errors_total",
	    "Datagrams the kernel refused to send (dropped; CoAP "
	    "retransmission covers them).", "", (double)st.write_errors);
}

/* Set-up ---------------------------------------------------------------------- */

static void
coapfront_apply_limits(struct coapfront *cf, const struct config *cfg)
{
	cf->max_body = cfg->max_body > 0 ? cfg->max_body :
	    COAPFRONT_DEFAULT_BODY;
	coapfront_log_level();
	if (cf->ctx == NULL)
		return;
	coap_context_set_max_idle_sessions(cf->ctx, cfg->coap_max_sessions);
	coap_context_set_max_handshake_sessions(cf->ctx,
	    cfg->coap_max_handshakes);
	coap_context_set_session_timeout(cf->ctx, cfg->coap_session_timeout);
}

/* Binds one listener: every address of host, or the wildcard (dual stack). */
static int
coapfront_listen(struct coapfront *cf, const struct config_listen *l,
    coap_proto_t proto, const char *what)
{
	struct addrinfo hints, *res = NULL, *ai;
	coap_address_t addr;
	char host[CONFIG_STR], port[16];
	const char *node;
	size_t hl;
	int rc, bound = 0, wildcard;

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
	node = wildcard ? "::" : host;
	rc = getaddrinfo(node, port, &hints, &res);
	if (rc != 0 && wildcard) {
		node = "0.0.0.0";
		rc = getaddrinfo(node, port, &hints, &res);
	}
	if (rc != 0) {
		log_warnx("%s: cannot resolve %s: %s", what, l->host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((size_t)ai->ai_addrlen > sizeof(addr.addr))
			continue;
		coap_address_init(&addr);
		memcpy(&addr.addr, ai->ai_addr, ai->ai_addrlen);
		addr.size = ai->ai_addrlen;
		if (coap_new_endpoint(cf->ctx, &addr, proto) != NULL) {
			bound++;
			continue;
		}
		if (wildcard && ai->ai_family == AF_INET6 && ai->ai_next == NULL) {
			/* No IPv6 here: fall back to IPv4 only. */
			struct addrinfo *res4 = NULL;

			if (getaddrinfo("0.0.0.0", port, &hints, &res4) == 0) {
				coap_address_init(&addr);
				memcpy(&addr.addr, res4->ai_addr,
				    res4->ai_addrlen);
				addr.size = res4->ai_addrlen;
				if (coap_new_endpoint(cf->ctx, &addr, proto))
					bound++;
				freeaddrinfo(res4);
			}
		}
	}
	freeaddrinfo(res);
	if (bound == 0) {
		log_warnx("%s: cannot listen on %s:%u", what,
		    l->host[0] ? l->host : "*", l->port);
		return -1;
	}
	log_info("%s: listening on %s:%u", what, l->host[0] ? l->host : "*",
	    l->port);
	return 0;
}

static int
coapfront_resources(struct coapfront *cf)
{
	static const coap_request_t methods[] = {
		COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_PUT,
		COAP_REQUEST_DELETE, COAP_REQUEST_FETCH, COAP_REQUEST_PATCH,
		COAP_REQUEST_IPATCH,
	};
	static const char wellknown[] = ".well-known/core";
	coap_str_const_t *uri;
	coap_resource_t *wk;
	size_t i;

	cf->unknown = coap_resource_unknown_init(coapfront_request_cb);
	if (cf->unknown == NULL)
		return -1;
	coap_resource_set_userdata(cf->unknown, cf);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		coap_register_request_handler(cf->unknown, methods[i],
		    coapfront_request_cb);
	coap_add_resource(cf->ctx, cf->unknown);

	/* Do not list the firmware resources to anyone who asks. */
	uri = coap_new_str_const((const uint8_t *)wellknown,
	    sizeof(wellknown) - 1);
	if (uri == NULL)
		return -1;
	wk = coap_resource_init(uri, COAP_RESOURCE_FLAGS_RELEASE_URI);
	if (wk == NULL) {
		coap_delete_str_const(uri);
		return -1;
	}
	coap_resource_set_userdata(wk, cf);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		coap_register_request_handler(wk, methods[i],
		    coapfront_request_cb);
	coap_add_resource(cf->ctx, wk);
	return 0;
}

struct coapfront *
coapfront_new(const struct config *cfg, struct core *core, struct ev *ev,
    struct metrics *metrics)
{
	struct coapfront *cf;
	coap_dtls_spsk_t spsk;

	cf = calloc(1, sizeof(*cf));
	if (cf == NULL) {
		log_warn("coapfront_new");
		return NULL;
	}
	cf->core = core;
	cf->ev = ev;
	cf->fd = -1;

	coap_startup();
	coap_set_log_handler(coapfront_log_cb);
	coapfront_apply_limits(cf, cfg);	/* no context yet: log, body */
	if (!cfg->coap.enabled && !cfg->coaps.enabled)
		return cf;	/* idle: no context at all */

	cf->ctx = coap_new_context(NULL);
	if (cf->ctx == NULL) {
		log_warnx("coap: cannot create a context");
		goto fail;
	}
	coap_context_set_block_mode(cf->ctx,
	    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coapfront_apply_limits(cf, cfg);
	if (coapfront_resources(cf) == -1) {
		log_warnx("coap: cannot set up resources");
		goto fail;
	}

	if (cfg->coaps.enabled) {
		if (!coap_dtls_is_supported()) {
			log_warnx("coaps: libcoap has no DTLS support");
			goto fail;
		}
		memset(&spsk, 0, sizeof(spsk));
		spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
		spsk.validate_id_call_back = coapfront_psk_cb;
		spsk.id_call_back_arg = cf;
		if (!coap_context_set_psk2(cf->ctx, &spsk)) {
			log_warnx("coaps: cannot set up PSK");
			goto fail;
		}
		if (coapfront_listen(cf, &cfg->coaps, COAP_PROTO_DTLS,
		    "coaps") == -1)
			goto fail;
	}
	if (cfg->coap.enabled &&
	    coapfront_listen(cf, &cfg->coap, COAP_PROTO_UDP, "coap") == -1)
		goto fail;

	cf->fd = coap_context_get_coap_fd(cf->ctx);
	if (cf->fd == -1) {
		log_warnx("coap: libcoap was built without epoll support");
		goto fail;
	}
	coapfront_find_endpoints(cf);
	if (ev_fd_add(ev, cf->fd, EPOLLIN, coapfront_io_cb, cf) == -1) {
		log_warnx("coap: cannot watch libcoap's descriptor");
		cf->fd = -1;
		goto fail;
	}
	if (ev_prepare_add(ev, coapfront_prepare_cb, cf) == -1) {
		log_warnx("coap: cannot add the prepare hook");
		goto fail;
	}
	if (metrics != NULL && metrics_register(metrics, coapfront_metrics_cb,
	    cf) == -1)
		log_warnx("coap: cannot register metrics");
	return cf;

fail:
	coapfront_free(cf);
	return NULL;
}

void
coapfront_set_config(struct coapfront *cf, const struct config *cfg)
{
	if (cf == NULL)
		return;
	coapfront_apply_limits(cf, cfg);
}

void
coapfront_free(struct coapfront *cf)
{
	if (cf == NULL)
		return;
	if (cf->fd != -1)
		ev_fd_del(cf->ev, cf->fd);
	if (cf->ctx != NULL) {
		/* Frees every session: pending image references are dropped. */
		dgram_unwatch_all();
		coap_free_context(cf->ctx);
		cf->ctx = NULL;
	}
	coapfront_grant_sweep(cf, 0, 1);
	coapfront_psk_wipe(cf);
	explicit_bzero(cf->psk, sizeof(cf->psk));
	coap_cleanup();
	free(cf);
}
