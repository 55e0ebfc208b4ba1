/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * device.c: the HTTPS device front end (CONTRACT §2, docs/https.md).
 *
 * A thin translation layer between the HTTPS server (src/http/http.h) and
 * the protocol-neutral request core (src/core/core.h), the same core the
 * CoAP front end uses:
 *
 *   POST /ota/{device}/check      -> core_check     200 notice | 204
 *   POST .../check?wait=SECONDS   -> core_watch_*   a long poll: 200 as
 *                                                   soon as a notice
 *                                                   exists, 204 when the
 *                                                   wait ends
 *   POST /ota/{device}/progress   -> core_progress  204
 *   GET|HEAD /fw/{firmware}       -> core_download  200 | 206 | 304 | 416
 *
 * Authentication comes first for every request: either
 * "Authorization: Bearer <secret>", checked with core_device_auth for the
 * device the request names (the path for check/progress; X-Device-Id or
 * ?device= for downloads), or a client certificate verified by the TLS
 * layer against the device CA, whose CN is the device id.  The core then
 * enforces that the authenticated device is the one in the path and that
 * it downloads only firmware it was offered.
 *
 * Downloads are answered from on_headers (HTTP_RESPOND): the range and
 * conditional decisions come from range.c, and the body is one or more
 * slices of the store's memory map (http_resp_body_image), so an image is
 * never copied, whatever its size.  Check and progress bodies are buffered
 * by the server up to max_body (more: 413) and handled in on_request.
 *
 * A long poll runs the check at once; with nothing pending it holds a
 * core watch (core/watch.h) and defers its answer (http_req_defer): the
 * watch's callback answers it when a check would give a notice, or when
 * the wait is over, through a real check either way.  A client that goes
 * away ends the watch (on_close); on SIGTERM every waiting poll is
 * answered 503 with Retry-After (httpdev_drain).
 *
 * One debug line is logged per request; secrets never are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "metrics/metrics.h"
#include "codec/codec.h"
#include "config.h"
#include "core/capability.h"
#include "core/core.h"
#include "core/watch.h"
#include "crypto/crypto.h"
#include "ev.h"
#include "http/device.h"
#include "http/device_int.h"
#include "http/http.h"
#include "http/range.h"
#include "log.h"
#include "model.h"
#include "store/image.h"
#include "util/validate.h"

#define DEV_CTYPE_IMAGE	"application/octet-stream"
#define DEV_CTYPE_JSON	"application/json"
#define DEV_CTYPE_JWS	"application/jose+json"	/* RFC 7515 section 9.2 */
#define DEV_REALM	"Bearer realm=\"otagw\""
#define DEV_SECRET_MAX	512	/* longest bearer token looked at */
#define DEV_ORIGIN_MAX	(sizeof("https://") + 260)	/* a notice's url */
#define DEV_DRAIN_RETRY	5	/* Retry-After of a poll cut by a stop */

/* Server limits of the device listener (docs/https.md). */
#define DEV_MAX_HEADER_BYTES	16384
#define DEV_MAX_CONNECTIONS	HTTPDEV_MAX_CONNECTIONS
#define DEV_MAX_STREAMS		100
#define DEV_IDLE_TIMEOUT	60
#define DEV_STALL_TIMEOUT	30
#define DEV_HANDSHAKE_TIMEOUT	10

enum dev_route {
	ROUTE_NONE = 0,
	ROUTE_CHECK,
	ROUTE_PROGRESS,
	ROUTE_FW,
};

/* Response classes counted for /metrics. */
enum dev_class {
	CLASS_2XX = 0,
	CLASS_3XX,
	CLASS_4XX,
	CLASS_5XX,
	CLASS_N,
};

/* The validators of a firmware's responses, formatted once. */
struct dev_tags {
	char	 etag[2 * 32 + 3];	/* "<sha-256 hex>" */
	char	 digest[64];		/* sha-256=:<base64>: */
	char	 date[40];		/* Last-Modified, or "" */
};

/* How a long poll ended (counted for /metrics). */
enum dev_poll_outcome {
	POLL_AT_ONCE = 0,	/* a notice (or an error) at once */
	POLL_NOTICE,		/* a notice pushed while it waited */
	POLL_TIMEOUT,		/* the wait ended: 204 (or the notice) */
	POLL_GONE,		/* the client went away */
	POLL_DRAIN,		/* the daemon stopped: 503 */
	POLL_ERROR,		/* the check failed while it waited */
	POLL_REFUSED,		/* not held (push_max_watchers): a check */
	POLL_N,
};

static const char *const dev_poll_outcome[POLL_N] = {
	"at_once", "notice", "timeout", "gone", "drain", "error", "refused",
};

struct httpdev;

/* A long poll that waits: the request's user until on_close. */
struct dev_poll {
	int		 kind;		/* HTTPDEV_USER_POLL */
	struct httpdev	*hd;
	struct http_req	*req;
	struct core_watch *w;		/* NULL once answered */
	struct dev_poll	*prev, *next;	/* waiting polls */
	char		 device[OTA_ID_MAX + 1];
	int64_t		 started;
};

struct httpdev {
	const struct config *cfg;
	struct core	*core;
	struct http_server *srv;
	struct http_handler handler;	/* outlives srv */
	struct metrics	*metrics;
	uint64_t	 boundary_seq;
	uint64_t	 responses[CLASS_N];
	uint64_t	 downloads;	/* 200 and 206 on /fw/, GET only */
	uint64_t	 auth_failures;	/* 401 and 403 */
	struct dev_poll	*polls;		/* long polls waiting */
	size_t		 npolls;
	uint64_t	 polls_done[POLL_N];
	int		 draining;
	/* The validators of the image downloaded last (dev_tags_of). */
	char		 tags_fw[OTA_ID_MAX + 1];
	uint8_t		 tags_sha[32];
	int64_t		 tags_created;
	struct dev_tags	 tags;
};

/* What routing and authentication found out about one request. */
struct dev_ctx {
	int	 route;
	char	 target[OTA_ID_MAX + 1];	/* {device} or {firmware} */
	char	 peer[OTA_ID_MAX + 1];		/* authenticated device */
	const char *how;			/* "bearer", "cert" */
	int	 has_token;			/* bearer, on /fw/: */
	char	 token[DEV_SECRET_MAX + 1];	/* checked by core_download */
	int	 has_cap;			/* a URL's credential, */
	char	 cap_sig[CAP_SIG_LEN + 1];	/* checked by core_download */
	int64_t	 cap_expires;
};

struct core *
httpdev_core(struct httpdev *hd)
{
	return hd->core;
}

const struct config *
httpdev_cfg(struct httpdev *hd)
{
	return hd->cfg;
}

/*
 * Copies s into buf (size bytes), cut to fit: snprintf(buf, size, "%s", s)
 * without printf, on the path of every download request.
 */
static void
dev_copy(char *buf, size_t size, const char *s)
{
	size_t	 n = strnlen(s, size - 1);

	memcpy(buf, s, n);
	buf[n] = '\0';
}

/*
 * Responses.
 */

void
httpdev_count(struct httpdev *hd, int status)
{
	if (status >= 200 && status < 300)
		hd->responses[CLASS_2XX]++;
	else if (status >= 300 && status < 400)
		hd->responses[CLASS_3XX]++;
	else if (status >= 400 && status < 500)
		hd->responses[CLASS_4XX]++;
	else
		hd->responses[CLASS_5XX]++;
	if (status == 401 || status == 403)
		hd->auth_failures++;
}

/* A JSON error body {"error","message"} with its status; returns it. */
static int
dev_error(struct http_resp *resp, int status, const char *code,
    const char *message)
{
	char	*body;
	size_t	 len;

	http_resp_status(resp, status);
	if ((body = codec_error_encode(code, message, &len)) == NULL)
		return status;
	http_resp_header(resp, "Content-Type", DEV_CTYPE_JSON);
	(void)http_resp_body_take(resp, body, len);	/* frees it on error */
	return status;
}

static int
dev_unauthorized(struct http_resp *resp, int bad_token, const char *message)
{
	dev_error(resp, 401, "unauthorized", message);
	http_resp_header(resp, "WWW-Authenticate", bad_token ?
	    DEV_REALM ", error=\"invalid_token\"" : DEV_REALM);
	return 401;
}

static void
dev_retry_after(struct http_resp *resp, unsigned seconds)
{
	char	 buf[16];

	snprintf(buf, sizeof(buf), "%u", seconds);
	http_resp_header(resp, "Retry-After", buf);
}

static int
dev_status_http(int status)
{
	switch (status) {
	case CORE_OK:
		return 200;
	case CORE_NO_CONTENT:
		return 204;
	case CORE_BAD_REQUEST:
		return 400;
	case CORE_UNAUTHORIZED:
		return 401;
	case CORE_FORBIDDEN:
		return 403;
	case CORE_NOT_FOUND:
		return 404;
	case CORE_TOO_LARGE:
		return 413;
	case CORE_UNAVAILABLE:
		return 503;
	}
	return 500;
}

/* The error body core_download does not give, for its status. */
static void
dev_core_error(struct http_resp *resp, int cstatus)
{
	static const struct {
		int	 status;
		const char *code;
		const char *message;
	} map[] = {
		{ CORE_BAD_REQUEST, "bad_request", "invalid firmware id" },
		{ CORE_UNAUTHORIZED, "unauthorized", "authentication needed" },
		{ CORE_FORBIDDEN, "forbidden",
		    "this firmware is not offered to this device" },
		{ CORE_NOT_FOUND, "not_found", "unknown firmware" },
		{ CORE_UNAVAILABLE, "unavailable", "try again later" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].status == cstatus) {
			dev_error(resp, dev_status_http(cstatus), map[i].code,
			    map[i].message);
			if (cstatus == CORE_UNAVAILABLE)
				dev_retry_after(resp, 5);
			return;
		}
	dev_error(resp, 500, "internal", "internal error");
}

/*
 * Requests.
 */

/* Percent-decodes src into dst (size bytes); 0, or -1 if bad or too long. */
static int
dev_unescape(const char *src, size_t len, char *dst, size_t size)
{
	size_t	 i, o = 0;
	uint8_t	 b;
	size_t	 blen;
	char	 hex[3];

	for (i = 0; i < len; i++) {
		if (o + 1 >= size)
			return -1;
		if (src[i] != '%') {
			dst[o++] = src[i];
			continue;
		}
		if (len - i < 3)
			return -1;
		hex[0] = src[i + 1];
		hex[1] = src[i + 2];
		hex[2] = '\0';
		if (hex_decode(hex, &b, 1, &blen) != 0 || blen != 1 || b == 0)
			return -1;
		dst[o++] = (char)b;
		i += 2;
	}
	dst[o] = '\0';
	return 0;
}

/*
 * The route and its {device} or {firmware} segment.  Returns the route,
 * ROUTE_NONE for an unknown path, or -1 for a known path with a bad
 * segment (400).
 */
static int
dev_route(const char *path, char *target, size_t size)
{
	const char *seg, *slash, *rest;
	size_t	 len;
	int	 route;

	if (strncmp(path, "/fw/", 4) == 0) {
		seg = path + 4;
		len = strlen(seg);
		if (len == 0 || strchr(seg, '/') != NULL)
			return ROUTE_NONE;
		if (dev_unescape(seg, len, target, size) != 0 ||
		    !valid_id(target))
			return -1;
		return ROUTE_FW;
	}
	if (strncmp(path, "/ota/", 5) != 0)
		return ROUTE_NONE;
	seg = path + 5;
	if ((slash = strchr(seg, '/')) == NULL || slash == seg)
		return ROUTE_NONE;
	rest = slash + 1;
	if (strcmp(rest, "check") == 0)
		route = ROUTE_CHECK;
	else if (strcmp(rest, "progress") == 0)
		route = ROUTE_PROGRESS;
	else
		return ROUTE_NONE;
	if (dev_unescape(seg, (size_t)(slash - seg), target, size) != 0 ||
	    !valid_device_id(target))
		return -1;
	return route;
}

/* The value of "device" in a query string, decoded; 1 found, 0 not, -1 bad. */
static int
dev_query_device(const char *query, char *out, size_t size)
{
	const char *p = query, *amp, *val;
	size_t	 len;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 7 && strncmp(p, "device=", 7) == 0) {
			val = p + 7;
			if (dev_unescape(val, len - 7, out, size) != 0 ||
			    !valid_device_id(out))
				return -1;
			return 1;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

const char *
httpdev_auth_param(const struct http_req *req, const char *scheme,
    size_t *len)
{
	const char *v, *t, *e;
	size_t	 n = strlen(scheme);

	*len = 0;
	if ((v = http_req_header(req, "Authorization")) == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, scheme, n) != 0 || (v[n] != ' ' && v[n] != '\t'))
		return "";
	t = v + n;
	while (*t == ' ' || *t == '\t')
		t++;
	e = t + strlen(t);
	while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == t || (size_t)(e - t) > DEV_SECRET_MAX)
		return "";
	*len = (size_t)(e - t);
	return t;
}

/*
 * A download with neither a bearer token nor a client certificate: the
 * URL of a notice, which carries its own credential (core/capability.h),
 * checked by core_download.  One that is malformed is refused like one
 * that is altered: 403, and nothing more is said.
 */
static int
dev_authenticate_url(struct http_req *req, struct http_resp *resp,
    struct dev_ctx *ctx)
{
	int	 rc;

	rc = cap_parse_query(http_req_query(req), ctx->peer,
	    sizeof(ctx->peer), &ctx->cap_expires, ctx->cap_sig);
	if (rc == 0) {
		ctx->peer[0] = '\0';
		return dev_unauthorized(resp, 0, "a bearer token, a client "
		    "certificate or the url of a notice is needed");
	}
	if (rc < 0) {
		ctx->peer[0] = '\0';
		return dev_error(resp, 403, "forbidden", "this download URL "
		    "is not valid");
	}
	ctx->has_cap = 1;
	ctx->how = "url";
	return 0;
}

/*
 * Authenticates the request; on success fills ctx->peer and returns 0.
 * Otherwise fills resp (400, 401 or 403) and returns -1.
 *
 * The device a bearer token speaks for: the path's for check/progress;
 * X-Device-Id or ?device= for downloads.  A verified client certificate
 * names its device by its CN.  Both may be given; they must then agree.
 */
static int
dev_authenticate(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, struct dev_ctx *ctx)
{
	char	 qdev[OTA_ID_MAX + 1], secret[DEV_SECRET_MAX + 1];
	const char *cn, *token, *hdr, *claimed = NULL;
	size_t	 tlen;
	int	 rc, q;

	cn = http_req_peer_cn(req);
	if (cn != NULL && !valid_device_id(cn))
		return dev_error(resp, 403, "forbidden", "the client "
		    "certificate's CN is not a valid device id");
	if (ctx->route == ROUTE_FW) {
		hdr = http_req_header(req, "X-Device-Id");
		q = dev_query_device(http_req_query(req), qdev, sizeof(qdev));
		if (q < 0 || (hdr != NULL && !valid_device_id(hdr)))
			return dev_error(resp, 400, "bad_request",
			    "invalid device id");
		if (hdr != NULL && q == 1 && strcmp(hdr, qdev) != 0)
			return dev_error(resp, 400, "bad_request",
			    "X-Device-Id and ?device= name different devices");
		claimed = hdr != NULL ? hdr : q == 1 ? qdev : NULL;
	} else
		claimed = ctx->target;

	if ((token = httpdev_auth_param(req, "Bearer", &tlen)) == NULL) {
		if (cn == NULL && ctx->route == ROUTE_FW)
			return dev_authenticate_url(req, resp, ctx);
		if (cn == NULL)
			return dev_unauthorized(resp, 0, "a bearer token or a "
			    "client certificate is needed");
		if (ctx->route == ROUTE_FW && claimed != NULL &&
		    strcmp(claimed, cn) != 0)
			return dev_error(resp, 403, "forbidden", "the device "
			    "named is not the client certificate's");
		/* check/progress: the core compares the path with the CN */
		dev_copy(ctx->peer, sizeof(ctx->peer), cn);
		ctx->how = "cert";
		return 0;
	}
	if (tlen == 0)
		return dev_unauthorized(resp, 1, "malformed Authorization: "
		    "expected Bearer <secret>");
	if (claimed == NULL)
		return dev_unauthorized(resp, 1, "a bearer token on /fw/ needs "
		    "the device: X-Device-Id header or ?device= query");
	if (cn != NULL && strcmp(cn, claimed) != 0)
		return dev_error(resp, 403, "forbidden", "the device named is "
		    "not the client certificate's");
	if (ctx->route == ROUTE_FW) {
		/* core_download checks it (and remembers it passed) */
		ctx->has_token = 1;
		memcpy(ctx->token, token, tlen);
		ctx->token[tlen] = '\0';
	} else {
		memcpy(secret, token, tlen);
		secret[tlen] = '\0';
		rc = core_device_auth(hd->core, claimed, secret);
		crypto_wipe(secret, sizeof(secret));
		if (rc != 0)
			return dev_unauthorized(resp, 1,
			    "wrong device or secret");
	}
	dev_copy(ctx->peer, sizeof(ctx->peer), claimed);
	ctx->how = "bearer";
	return 0;
}

static void
dev_log(const struct http_req *req, const struct dev_ctx *ctx, int status,
    const char *extra)
{
	if (log_get_level() < LOG_LEVEL_DEBUG)
		return;
	log_debug("https: %s %s %s -> %d%s%s%s%s", http_req_version(req) == 2 ?
	    "h2" : "h1", http_req_method(req), http_req_path(req), status,
	    ctx->peer[0] ? " device " : "", ctx->peer,
	    ctx->how ? " by " : "", ctx->how ? ctx->how : "");
	if (extra != NULL && extra[0] != '\0')
		log_debug("https: ... %s", extra);
}

/*
 * Downloads.
 */

/* IMF-fixdate (RFC 9110 §5.6.7) of ms since the epoch. */
static void
dev_http_date(int64_t ms, char *buf, size_t size)
{
	time_t	 t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		buf[0] = '\0';
}

static void
dev_boundary(struct httpdev *hd, char *buf, size_t size)
{
	uint8_t	 rnd[8];
	char	 hex[17];

	if (crypto_random(rnd, sizeof(rnd)) != 0) {
		hd->boundary_seq++;
		memcpy(rnd, &hd->boundary_seq, sizeof(rnd));
	}
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(buf, size, "otagw-%s", hex);
}

/* multipart/byteranges of n ranges; 0, or -1 (out of memory). */
static int
dev_multipart(struct httpdev *hd, struct http_resp *resp,
    const struct store_image *img, const struct range *r, size_t n,
    struct http_note *note)
{
	char	 boundary[40], head[RANGE_PART_HEAD_MAX], ctype[80];
	size_t	 i;
	int	 len;

	dev_boundary(hd, boundary, sizeof(boundary));
	snprintf(ctype, sizeof(ctype), "multipart/byteranges; boundary=%s",
	    boundary);
	http_resp_header(resp, "Content-Type", ctype);
	for (i = 0; i < n; i++) {
		len = range_part_head(head, sizeof(head), i, boundary,
		    DEV_CTYPE_IMAGE, &r[i], img->size);
		if (len < 0 || http_resp_body_copy(resp, head, (size_t)len) ==
		    -1 || http_resp_body_image_noted(resp, img, r[i].first,
		    r[i].last - r[i].first + 1, note) == -1)
			return -1;
	}
	len = range_part_tail(head, sizeof(head), boundary);
	if (len < 0 || http_resp_body_copy(resp, head, (size_t)len) == -1)
		return -1;
	return 0;
}

/*
 * Builds the download answer for an authorized request.  Returns the
 * status sent.  extra gets a few words for the log line.
 */
static void
dev_tags_make(const struct firmware_rec *fw, struct dev_tags *t)
{
	char	 hex[2 * 32 + 1], b64[48];

	hex_encode(fw->sha256, sizeof(fw->sha256), hex);
	snprintf(t->etag, sizeof(t->etag), "\"%s\"", hex);
	crypto_base64(fw->sha256, sizeof(fw->sha256), b64);
	snprintf(t->digest, sizeof(t->digest), "sha-256=:%s:", b64);
	dev_http_date(fw->created, t->date, sizeof(t->date));
}

static int
dev_download_resp(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const struct store_image *img,
    const struct firmware_rec *fw, const struct dev_tags *tags, char *extra,
    size_t esize, struct http_note *note)
{
	struct range r[RANGE_MAX];
	const char *etag = tags->etag, *digest = tags->digest;
	const char *date = tags->date;
	char	 buf[96];
	const char *range, *ifr;
	size_t	 n = 0;
	int	 head, rr;

	head = strcmp(http_req_method(req), "HEAD") == 0;

	http_resp_header(resp, "ETag", etag);
	if (date[0] != '\0')
		http_resp_header(resp, "Last-Modified", date);
	http_resp_header(resp, "Accept-Ranges", "bytes");

	if (range_if_none_match(http_req_header(req, "If-None-Match"), etag)) {
		http_resp_status(resp, 304);
		snprintf(extra, esize, "If-None-Match matched");
		return 304;
	}
	http_resp_header(resp, "Repr-Digest", digest);

	/* Range applies to GET only (RFC 9110 §14.2); HEAD gets 200. */
	range = head ? NULL : http_req_header(req, "Range");
	ifr = http_req_header(req, "If-Range");
	if (range != NULL && !range_if_range(ifr, etag)) {
		snprintf(extra, esize, "If-Range mismatch: whole image");
		range = NULL;
	}
	rr = range_parse(range, img->size, r, RANGE_MAX, &n);
	if (rr != RANGE_ABSENT && rr != RANGE_PARTIAL)
		snprintf(extra, esize, "Range %s", range_result_name(rr));

	if (rr == RANGE_UNSATISFIABLE) {
		range_unsatisfied(buf, sizeof(buf), img->size);
		dev_error(resp, 416, "range_not_satisfiable",
		    "the range starts past the end of the image");
		http_resp_header(resp, "Content-Range", buf);
		return 416;
	}
	if (rr == RANGE_PARTIAL && n == 1) {
		range_content_range(buf, sizeof(buf), &r[0], img->size);
		http_resp_status(resp, 206);
		http_resp_header(resp, "Content-Type", DEV_CTYPE_IMAGE);
		http_resp_header(resp, "Content-Range", buf);
		dev_copy(extra, esize, buf);
		if (http_resp_body_image_noted(resp, img, r[0].first,
		    r[0].last - r[0].first + 1, note) == -1)
			goto nomem;
		hd->downloads++;
		return 206;
	}
	if (rr == RANGE_PARTIAL) {
		http_resp_status(resp, 206);
		snprintf(extra, esize, "%zu ranges, multipart", n);
		if (dev_multipart(hd, resp, img, r, n, note) == -1)
			goto nomem;
		hd->downloads++;
		return 206;
	}
	http_resp_status(resp, 200);
	http_resp_header(resp, "Content-Type", DEV_CTYPE_IMAGE);
	if (head) {
		http_resp_head_length(resp, img->size);
		return 200;
	}
	if (http_resp_body_image_noted(resp, img, 0, img->size, note) == -1)
		goto nomem;
	hd->downloads++;
	return 200;
nomem:
	log_warnx("https: download %s: out of memory", fw->id);
	dev_error(resp, 500, "internal", "out of memory");
	return 500;
}

/*
 * The validators of fw: formatted once and kept while the same image is
 * downloaded again and again (they are a function of its record).
 */
static const struct dev_tags *
dev_tags_of(struct httpdev *hd, const struct firmware_rec *fw)
{
	if (strcmp(hd->tags_fw, fw->id) != 0 ||
	    memcmp(hd->tags_sha, fw->sha256, sizeof(hd->tags_sha)) != 0 ||
	    hd->tags_created != fw->created) {
		dev_tags_make(fw, &hd->tags);
		snprintf(hd->tags_fw, sizeof(hd->tags_fw), "%s", fw->id);
		memcpy(hd->tags_sha, fw->sha256, sizeof(hd->tags_sha));
		hd->tags_created = fw->created;
	}
	return &hd->tags;
}

/*
 * What a download's note tells core as its bytes are written: the
 * gateway sees the transfer (core/transfer.h) whatever the client.
 */
struct dev_note {
	struct http_note base;		/* first: the server sees this */
	struct core	*core;
	char		 device[OTA_ID_MAX + 1];
	char		 fwid[OTA_ID_MAX + 1];
	uint64_t	 size;
};

static void
dev_note_sent(struct http_note *n, uint64_t off, uint64_t len)
{
	struct dev_note *d = (struct dev_note *)n;

	core_transferred(d->core, d->device, d->fwid, off, len, d->size);
}

static void
dev_note_free(struct http_note *n)
{
	free(n);
}

/* A note for the download of fwid by device; NULL when no device. */
static struct http_note *
dev_note_new(struct httpdev *hd, const char *device, const char *fwid,
    uint64_t size)
{
	struct dev_note *d;

	if (device == NULL || device[0] == '\0' ||
	    (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base.sent = dev_note_sent;
	d->base.free = dev_note_free;
	d->base.refs = 1;
	d->core = hd->core;
	dev_copy(d->device, sizeof(d->device), device);
	dev_copy(d->fwid, sizeof(d->fwid), fwid);
	d->size = size;
	return &d->base;
}

/*
 * GET or HEAD /fw/{firmware}: core decides, and checks the bearer token
 * (a range request that repeats one allowed a moment ago on the same
 * connection, with the same token, is answered from core's grant).
 */
static int
dev_download(struct httpdev *hd, struct http_req *req, struct http_resp *resp,
    struct dev_ctx *ctx, char *extra, size_t esize)
{
	const struct store_image *img = NULL;
	struct firmware_rec fw;
	struct core_req creq;
	int	 cs;

	memset(&creq, 0, sizeof(creq));
	creq.proto = CORE_PROTO_HTTPS;
	creq.peer = ctx->peer;
	creq.conn = http_req_conn_id(req);
	creq.secret = ctx->has_token ? ctx->token : NULL;
	if (ctx->has_cap) {
		creq.cap_sig = ctx->cap_sig;
		creq.cap_expires = ctx->cap_expires;
	}
	cs = core_download(hd->core, &creq, ctx->target, &img, &fw);
	crypto_wipe(ctx->token, sizeof(ctx->token));
	if (cs == CORE_FORBIDDEN && ctx->has_cap) {
		dev_error(resp, 403, "forbidden", "this download URL is not "
		    "valid");
		return 403;
	}
	if (cs == CORE_UNAUTHORIZED && ctx->has_token) {
		ctx->peer[0] = '\0';	/* not authenticated after all */
		ctx->how = NULL;
		return dev_unauthorized(resp, 1, "wrong device or secret");
	}
	if (cs != CORE_OK) {
		dev_core_error(resp, cs);
		return dev_status_http(cs);
	}
	return httpdev_send_image(hd, req, resp, ctx->peer, img, &fw, extra,
	    esize);
}

int
httpdev_send_image(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const char *device,
    const struct store_image *img, const struct firmware_rec *fw,
    char *extra, size_t esize)
{
	struct http_note *note;
	int	 status;

	note = dev_note_new(hd, device, fw->id, img->size);
	status = dev_download_resp(hd, req, resp, img, fw,
	    dev_tags_of(hd, fw), extra, esize, note);
	http_note_unref(note);		/* the response holds its own */
	store_image_unref(img);
	return status;
}

/*
 * Check and progress.
 */

int
httpdev_origin(struct http_req *req, char *origin, size_t size)
{
	const char *host;

	/* the Host the device asked for, else the address it reached */
	host = http_req_header(req, "Host");
	if (host != NULL && valid_authority(host) &&
	    (size_t)snprintf(origin, size, "https://%s", host) < size)
		return 0;
	if (size > 8) {
		memcpy(origin, "https://", 8);
		if (http_req_local_authority(req, origin + 8, size - 8) == 0)
			return 0;
	}
	return -1;
}

/* The core request of a check or progress; origin (size bytes) its url. */
static void
dev_core_req(struct http_req *req, const struct dev_ctx *ctx,
    struct core_req *creq, char *origin, size_t size)
{
	size_t	 len = 0;

	memset(creq, 0, sizeof(*creq));
	creq->proto = CORE_PROTO_HTTPS;
	creq->peer = ctx->peer;
	creq->device = ctx->target;
	if (httpdev_origin(req, origin, size) == 0)
		creq->origin = origin;
	creq->body = http_req_body(req, &len);
	creq->body_len = len;
}

/* The answer to a check or progress from core's; returns its status. */
static int
dev_core_answer(struct http_resp *resp, int route, struct core_resp *cresp)
{
	int	 status;

	status = dev_status_http(cresp->status);
	if (route == ROUTE_PROGRESS && status == 200)
		status = 204;
	if (status == 200 && cresp->body == NULL)
		status = 204;
	http_resp_status(resp, status);
	if (cresp->retry_after > 0)
		dev_retry_after(resp, cresp->retry_after);
	else if (status == 503)
		dev_retry_after(resp, 5);
	if (status != 204 && cresp->body != NULL) {
		http_resp_header(resp, "Content-Type", cresp->is_signed ?
		    DEV_CTYPE_JWS : DEV_CTYPE_JSON);
		/* taken, or freed when it fails: never the caller's again */
		(void)http_resp_body_take(resp, cresp->body, cresp->body_len);
		cresp->body = NULL;
	}
	http_resp_header(resp, "Cache-Control", "no-store");
	core_resp_cleanup(cresp);
	return status;
}

static int
dev_core_call(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const struct dev_ctx *ctx)
{
	struct core_req creq;
	struct core_resp cresp;
	char	 origin[DEV_ORIGIN_MAX];

	dev_core_req(req, ctx, &creq, origin, sizeof(origin));
	if (ctx->route == ROUTE_CHECK)
		core_check(hd->core, &creq, &cresp);
	else
		core_progress(hd->core, &creq, &cresp);
	return dev_core_answer(resp, ctx->route, &cresp);
}

/*
 * Long polls: POST /ota/{device}/check?wait=SECONDS.
 */

/*
 * The wait of a check's query: 0 and *wait set (0 without one), or 400
 * with resp set.  wait=N, N a whole number of seconds from 1 to
 * long_poll_max_wait; other parameters are ignored.
 */
static int
dev_wait_param(const struct httpdev *hd, const struct http_req *req,
    struct http_resp *resp, unsigned *wait)
{
	const char *p = http_req_query(req), *amp, *v;
	char	 msg[96];
	size_t	 len, i;
	unsigned long n;
	int	 seen = 0;

	*wait = 0;
	for (; p != NULL && *p != '\0'; p = amp != NULL ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len < 4 || strncmp(p, "wait", 4) != 0 ||
		    (len > 4 && p[4] != '='))
			continue;
		v = p + 5;
		len = len > 5 ? len - 5 : 0;
		for (i = 0, n = 0; i < len && i < 8 && v[i] >= '0' &&
		    v[i] <= '9'; i++)
			n = n * 10 + (unsigned long)(v[i] - '0');
		if (seen++ || len == 0 || i != len || n < 1 ||
		    n > hd->cfg->long_poll_max_wait) {
			snprintf(msg, sizeof(msg), "wait must be given once, "
			    "as whole seconds from 1 to %u",
			    hd->cfg->long_poll_max_wait);
			return dev_error(resp, 400, "bad_request", msg);
		}
		*wait = (unsigned)n;
	}
	return 0;
}

static void
dev_poll_unlink(struct httpdev *hd, struct dev_poll *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		hd->polls = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	hd->npolls--;
}

/*
 * A poll is answered (its response filled with status): its watch ends,
 * and the server sends the answer.  The request stays the poll's user
 * until on_close.
 */
static void
dev_poll_end(struct dev_poll *p, int outcome, int status)
{
	struct httpdev *hd = p->hd;

	core_watch_del(hd->core, p->w);
	p->w = NULL;
	dev_poll_unlink(hd, p);
	hd->polls_done[outcome]++;
	httpdev_count(hd, status);
	log_debug("https: long poll of %s -> %d after %lld ms (%s)",
	    p->device, status, (long long)(ev_now_ms() - p->started),
	    dev_poll_outcome[outcome]);
	http_req_complete(p->req);
}

/* Core says a check would now give a notice, or the wait is over. */
static void
dev_poll_cb(void *arg, struct core_watch *w, int event)
{
	struct dev_poll *p = arg;
	struct httpdev *hd = p->hd;
	struct core_resp cresp;
	int	 status;

	core_watch_check(hd->core, w, &cresp);
	if (event == CORE_WATCH_NOTICE && cresp.status == CORE_NO_CONTENT) {
		/* gone again (another device took the rate slot): wait on */
		core_resp_cleanup(&cresp);
		return;
	}
	status = dev_core_answer(http_req_resp(p->req), ROUTE_CHECK, &cresp);
	dev_poll_end(p, event == CORE_WATCH_EXPIRED ? POLL_TIMEOUT :
	    status == 200 ? POLL_NOTICE : POLL_ERROR, status);
}

/*
 * A check with a wait: answered at once when a notice is there (or when
 * the poll cannot be held: push_max_watchers, stopping), else deferred
 * until core says a notice exists or the wait is over.  Returns the
 * status answered, or 0 when the answer is deferred.
 */
static int
dev_long_poll(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const struct dev_ctx *ctx, unsigned wait)
{
	struct core_req creq;
	struct core_resp cresp;
	struct dev_poll *p;
	char	 origin[DEV_ORIGIN_MAX];
	int	 rc;

	dev_core_req(req, ctx, &creq, origin, sizeof(origin));
	if (hd->draining || (p = calloc(1, sizeof(*p))) == NULL) {
		hd->polls_done[POLL_REFUSED]++;
		return dev_core_call(hd, req, resp, ctx);
	}
	p->w = core_watch_add(hd->core, &creq, (int64_t)wait * 1000,
	    dev_poll_cb, p, &rc);
	if (p->w == NULL) {
		free(p);
		if (rc == CORE_UNAVAILABLE || rc == CORE_INTERNAL)
			hd->polls_done[POLL_REFUSED]++;
		/* a plain check: its answer, or the error core finds */
		return dev_core_call(hd, req, resp, ctx);
	}
	core_watch_check(hd->core, p->w, &cresp);
	if (cresp.status != CORE_NO_CONTENT) {
		core_watch_del(hd->core, p->w);
		free(p);
		hd->polls_done[POLL_AT_ONCE]++;
		return dev_core_answer(resp, ROUTE_CHECK, &cresp);
	}
	core_resp_cleanup(&cresp);
	p->kind = HTTPDEV_USER_POLL;
	p->hd = hd;
	p->req = req;
	p->started = ev_now_ms();
	snprintf(p->device, sizeof(p->device), "%s", ctx->target);
	p->next = hd->polls;
	if (hd->polls != NULL)
		hd->polls->prev = p;
	hd->polls = p;
	hd->npolls++;
	http_req_set_user(req, p);
	http_req_defer(req);
	log_debug("https: long poll of %s waits up to %us", p->device, wait);
	return 0;
}

/*
 * Server callbacks.
 */

/* Routes the request into ctx; 0, or the error status with resp set. */
static int
dev_route_request(struct http_req *req, struct http_resp *resp,
    struct dev_ctx *ctx)
{
	const char *m = http_req_method(req);
	int	 route;

	memset(ctx, 0, sizeof(*ctx));
	route = dev_route(http_req_path(req), ctx->target,
	    sizeof(ctx->target));
	if (route == ROUTE_NONE)
		return dev_error(resp, 404, "not_found", "no such resource");
	if (route < 0)
		return dev_error(resp, 400, "bad_request",
		    "invalid id in the path");
	ctx->route = route;
	if (route == ROUTE_FW && strcmp(m, "GET") != 0 &&
	    strcmp(m, "HEAD") != 0) {
		http_resp_header(resp, "Allow", "GET, HEAD");
		return dev_error(resp, 405, "method_not_allowed",
		    "use GET or HEAD");
	}
	if (route != ROUTE_FW && strcmp(m, "POST") != 0) {
		http_resp_header(resp, "Allow", "POST");
		return dev_error(resp, 405, "method_not_allowed", "use POST");
	}
	return 0;
}

/*
 * Downloads (GET and HEAD, no body) are answered here, before any body.
 * Everything else may carry a body: it is buffered (up to max_body) and
 * answered in on_request, also when it is refused, so that the answer
 * never races a request body still on its way.
 */
static int
dev_on_headers(void *arg, struct http_req *req, struct http_resp *resp)
{
	struct httpdev *hd = arg;
	struct dev_ctx ctx;
	char	 extra[96] = "";
	int	 status;

	if (ddi_match(hd->cfg, http_req_path(req)))
		return ddi_on_headers(hd, req, resp);
	if (strncmp(http_req_path(req), "/fw/", 4) != 0 ||
	    (strcmp(http_req_method(req), "GET") != 0 &&
	    strcmp(http_req_method(req), "HEAD") != 0))
		return HTTP_BUFFER;
	if ((status = dev_route_request(req, resp, &ctx)) != 0 ||
	    (status = dev_authenticate(hd, req, resp, &ctx)) != 0)
		goto out;
	status = dev_download(hd, req, resp, &ctx, extra, sizeof(extra));
out:
	dev_log(req, &ctx, status, extra);
	httpdev_count(hd, status);
	return HTTP_RESPOND;
}

/* Check, progress, and every request on_headers did not answer. */
static void
dev_on_request(void *arg, struct http_req *req, struct http_resp *resp)
{
	struct httpdev *hd = arg;
	struct dev_ctx ctx;
	char	 extra[96] = "";
	const int *user = http_req_user(req);
	unsigned wait = 0;
	int	 status;

	if (user != NULL && *user == HTTPDEV_USER_DDI) {
		ddi_on_request(hd, req, resp);
		return;
	}
	if ((status = dev_route_request(req, resp, &ctx)) != 0 ||
	    (status = dev_authenticate(hd, req, resp, &ctx)) != 0)
		goto out;
	if (ctx.route == ROUTE_CHECK &&
	    (status = dev_wait_param(hd, req, resp, &wait)) != 0)
		goto out;
	if (ctx.route == ROUTE_FW)	/* not reached: on_headers has it */
		status = dev_download(hd, req, resp, &ctx, extra,
		    sizeof(extra));
	else if (wait > 0) {
		if ((status = dev_long_poll(hd, req, resp, &ctx, wait)) == 0)
			return;		/* deferred: counted when answered */
	} else
		status = dev_core_call(hd, req, resp, &ctx);
out:
	dev_log(req, &ctx, status, extra);
	httpdev_count(hd, status);
}

/* Only hawkBit's feedback and configData stream their bodies. */
static int
dev_on_body(void *arg, struct http_req *req, const uint8_t *buf, size_t len)
{
	return ddi_on_body(arg, req, buf, len);
}

/* A request ends; a long poll still waiting lost its client. */
static void
dev_on_close(void *arg, struct http_req *req)
{
	struct httpdev *hd = arg;
	struct dev_poll *p = http_req_user(req);

	if (p == NULL)
		return;
	if (p->kind == HTTPDEV_USER_DDI) {
		ddi_on_close(hd, req);
		return;
	}
	http_req_set_user(req, NULL);
	if (p->w != NULL) {
		core_watch_del(hd->core, p->w);
		dev_poll_unlink(hd, p);
		hd->polls_done[POLL_GONE]++;
		log_debug("https: long poll of %s: the client went away",
		    p->device);
	}
	free(p);
}

static void
dev_metrics_cb(void *arg, struct metrics_out *out)
{
	static const char *const labels[CLASS_N] = {
		"listener=\"device\",code=\"2xx\"",
		"listener=\"device\",code=\"3xx\"",
		"listener=\"device\",code=\"4xx\"",
		"listener=\"device\",code=\"5xx\"",
	};
	struct httpdev *hd = arg;
	struct http_server_stats st;
	char	 label[40];
	size_t	 i;

	for (i = 0; i < CLASS_N; i++)
		metrics_counter(out, "otagw_https_device_responses_total",
		    "Device HTTPS responses by status class.", labels[i],
		    (double)hd->responses[i]);
	metrics_counter(out, "otagw_https_device_downloads_total",
	    "Firmware downloads (200 and 206 answers to GET) over HTTPS.", "",
	    (double)hd->downloads);
	metrics_counter(out, "otagw_https_device_auth_failures_total",
	    "Device HTTPS requests refused with 401 or 403.", "",
	    (double)hd->auth_failures);
	metrics_gauge(out, "otagw_https_device_long_polls",
	    "Long polls (check?wait=N) waiting for a notice.", "",
	    (double)hd->npolls);
	for (i = 0; i < POLL_N; i++) {
		snprintf(label, sizeof(label), "outcome=\"%s\"",
		    dev_poll_outcome[i]);
		metrics_counter(out, "otagw_https_device_long_polls_total",
		    "Long polls by how they ended.", label,
		    (double)hd->polls_done[i]);
	}
	if (hd->srv == NULL)
		return;
	memset(&st, 0, sizeof(st));
	http_server_stats(hd->srv, &st);
	metrics_gauge(out, "otagw_https_device_connections",
	    "Open device HTTPS connections.", "", (double)st.connections);
	metrics_gauge(out, "otagw_https_device_h2_connections",
	    "Open device HTTPS connections speaking HTTP/2.", "",
	    (double)st.h2_connections);
	metrics_counter(out, "otagw_https_device_accepted_total",
	    "Device HTTPS connections accepted.", "", (double)st.accepted);
	metrics_counter(out, "otagw_https_device_requests_total",
	    "Device HTTPS requests.", "", (double)st.requests);
	metrics_counter(out, "otagw_https_device_bytes_out_total",
	    "Bytes sent to devices over HTTPS.", "", (double)st.bytes_out);
	metrics_counter(out, "otagw_https_device_refused_total",
	    "Device HTTPS connections closed at accept.",
	    "reason=\"per_source\"", (double)st.refused_source);
	metrics_counter(out, "otagw_https_device_refused_total",
	    "Device HTTPS connections closed at accept.",
	    "reason=\"max_connections\"", (double)st.refused_limit);
	metrics_counter(out, "otagw_https_device_timeouts_total",
	    "Device HTTPS connections closed for a slow handshake, "
	    "request head or request body.", "phase=\"handshake\"",
	    (double)st.handshake_timeouts);
	metrics_counter(out, "otagw_https_device_timeouts_total",
	    "Device HTTPS connections closed for a slow handshake, "
	    "request head or request body.", "phase=\"head\"",
	    (double)st.head_timeouts);
	metrics_counter(out, "otagw_https_device_timeouts_total",
	    "Device HTTPS connections closed for a slow handshake, "
	    "request head or request body.", "phase=\"body\"",
	    (double)st.body_timeouts);
	metrics_counter(out, "otagw_https_device_accept_pauses_total",
	    "Times the device listener rested 100 ms: accept(2) was out of "
	    "descriptors or memory.", "", (double)st.accept_pauses);
}

/*
 * Life cycle.
 */

static void
dev_limits(const struct config *cfg, struct http_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_body = cfg->max_body;
	lim->max_header_bytes = DEV_MAX_HEADER_BYTES;
	lim->max_connections = DEV_MAX_CONNECTIONS;
	lim->max_per_source = cfg->max_conns_per_source;
	lim->max_streams = DEV_MAX_STREAMS;
	lim->idle_timeout_s = DEV_IDLE_TIMEOUT;
	lim->stall_timeout_s = DEV_STALL_TIMEOUT;
	lim->handshake_timeout_s = DEV_HANDSHAKE_TIMEOUT;
	lim->header_timeout_s = cfg->header_timeout;
	/* bodies are buffered before the credentials are checked */
	lim->body_deadline = 1;
}

struct httpdev *
httpdev_new(const struct config *cfg, struct core *core, struct ev *ev,
    struct tls_server *tls, struct metrics *metrics, int share)
{
	struct httpdev *hd;
	struct http_limits lim;

	if (!cfg->https.enabled) {
		log_warnx("https_listen is off");
		return NULL;
	}
	if ((hd = calloc(1, sizeof(*hd))) == NULL) {
		log_warn("httpdev_new");
		return NULL;
	}
	hd->handler.on_headers = dev_on_headers;
	hd->handler.on_body = dev_on_body;
	hd->handler.on_request = dev_on_request;
	hd->handler.on_close = dev_on_close;
	hd->handler.arg = hd;
	hd->cfg = cfg;
	hd->core = core;
	hd->metrics = metrics;
	dev_limits(cfg, &lim);
	lim.share = share;
	hd->srv = http_server_new(ev, ev != NULL ? cfg->https.host : NULL,
	    cfg->https.port, tls, &lim, &hd->handler, "https");
	if (hd->srv == NULL) {
		free(hd);
		return NULL;
	}
	if (metrics != NULL && metrics_register(metrics, dev_metrics_cb,
	    hd) == -1)
		log_warnx("https: cannot register metrics");
	return hd;
}

void
httpdev_free(struct httpdev *hd)
{
	if (hd == NULL)
		return;
	http_server_free(hd->srv);
	free(hd);
}

/*
 * The daemon stops: polls that wait are answered at once, 503 with
 * Retry-After, so that their devices come back to the next gateway soon
 * rather than sleep a check_interval on a 204 that meant nothing.
 */
size_t
httpdev_drain(struct httpdev *hd)
{
	struct http_resp *resp;

	if (hd == NULL || hd->srv == NULL)
		return 0;
	hd->draining = 1;
	while (hd->polls != NULL) {
		resp = http_req_resp(hd->polls->req);
		dev_error(resp, 503, "unavailable", "the gateway is stopping; "
		    "poll again");
		dev_retry_after(resp, DEV_DRAIN_RETRY);
		http_resp_header(resp, "Cache-Control", "no-store");
		dev_poll_end(hd->polls, POLL_DRAIN, 503);
	}
	return http_server_drain(hd->srv);
}

void
httpdev_stop_accepting(struct httpdev *hd)
{
	if (hd != NULL && hd->srv != NULL)
		http_server_close_listener(hd->srv);
}

void
httpdev_set_tls(struct httpdev *hd, struct tls_server *tls)
{
	if (hd != NULL && hd->srv != NULL)
		http_server_set_tls(hd->srv, tls);
}

size_t
httpdev_connections(const struct httpdev *hd)
{
	return hd != NULL ? http_server_connections(hd->srv) : 0;
}

struct http_server *
httpdev_server(const struct httpdev *hd)
{
	return hd->srv;
}

void
httpdev_set_config(struct httpdev *hd, const struct config *cfg)
{
	struct http_limits lim;

	if (hd == NULL)
		return;
	hd->cfg = cfg;
	dev_limits(cfg, &lim);
	http_server_set_limits(hd->srv, &lim);
}
