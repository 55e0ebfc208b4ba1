/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ddi.c: hawkBit's Direct Device Integration API on the HTTPS device
 * listener (docs/hawkbit.md), for SWUpdate and rauc-hawkbit-updater.
 *
 * Under /{ddi_tenant}/controller/v1/{device}:
 *
 *   GET  ""                                  the controller base: a check,
 *                                            then links (core_ddi_base)
 *   GET  deploymentBase/{action}             one chunk, one artifact
 *   POST deploymentBase/{action}/feedback    progress on the job row
 *   GET  cancelAction/{action}               {"id","cancelAction":{stopId}}
 *   POST cancelAction/{action}/feedback      the cancel acknowledged
 *   PUT  configData                          the device's attributes
 *   GET|HEAD softwaremodules/{fw}/artifacts/{filename}[.MD5SUM]
 *                                            the image, with ranges, as
 *                                            GET /fw/{fw}
 *
 * The device authenticates with "Authorization: TargetToken <secret>"
 * (its bearer secret) or a client certificate whose CN is its id; else
 * 401 with an empty body, as hawkBit answers.  Answers follow hawkBit's:
 * 200 with an empty body for feedback and configData, 410 for feedback
 * on a closed action, 404 with hawkBit's error body for an action that
 * is not the device's, 404 empty for a canceled deployment or a resource
 * otagw does not serve, 400 with hawkBit's error body for a body it
 * cannot read.  Bodies are streamed into a buffer of DDI_BODY_MAX bytes
 * (SWUpdate sends up to 48 lines of its log in one feedback), past which
 * the answer is 413.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ddi.h"
#include "config.h"
#include "core/core.h"
#include "core/ddi.h"
#include "crypto/crypto.h"
#include "http/device_int.h"
#include "http/http.h"
#include "log.h"
#include "store/image.h"
#include "util/validate.h"

#define DDI_BODY_MAX	65536
#define DDI_TOKEN_MAX	512	/* as httpdev_auth_param's bound */
#define DDI_HREF_MAX	(8 + 260 + 3 * 64 + 32)
#define DDI_CTYPE_HAL	"application/hal+json"
#define DDI_CTYPE_JSON	"application/json"
#define DDI_EXC_NOTFOUND \
	"org.eclipse.hawkbit.repository.exception.EntityNotFoundException"
#define DDI_ERR_NOTFOUND	"hawkbit.server.error.repo.entitiyNotFound"
#define DDI_EXC_UNREADABLE \
	"org.eclipse.hawkbit.rest.exception.MessageNotReadableException"
#define DDI_ERR_UNREADABLE	"hawkbit.server.error.rest.body.notReadable"
#define DDI_EXC_ATTRS	"org.eclipse.hawkbit.repository.exception." \
	"InvalidTargetAttributeException"
#define DDI_ERR_ATTRS	"hawkbit.server.error.repo.invalidTargetAttributes"

enum ddi_route {
	DDI_NONE = 0,		/* not served: 404, empty */
	DDI_BASE,
	DDI_DEPLOY,
	DDI_DEPLOY_FEEDBACK,
	DDI_CANCEL,
	DDI_CANCEL_FEEDBACK,
	DDI_CONFIG,
	DDI_ARTIFACT,
	DDI_MD5SUM,
};

/* A request's path, parsed. */
struct ddi_path {
	int	 route;
	char	 device[OTA_ID_MAX + 1];
	uint32_t action;
	char	 fwid[OTA_ID_MAX + 1];
	char	 filename[OTA_FILENAME_MAX + 1];
};

/* A body being read: the request's user until on_close. */
struct ddi_body {
	int	 kind;		/* HTTPDEV_USER_DDI */
	uint8_t	*buf;
	size_t	 len;
};

/* The methods each route takes ("Allow"). */
static const char *
ddi_allow(int route)
{
	switch (route) {
	case DDI_DEPLOY_FEEDBACK:
	case DDI_CANCEL_FEEDBACK:
		return "POST";
	case DDI_CONFIG:
		return "PUT";
	case DDI_ARTIFACT:
	case DDI_MD5SUM:
		return "GET, HEAD";
	default:
		return "GET";
	}
}

/*
 * The length of path's "/{tenant}/controller/v1/", or 0 when it does not
 * begin with it.  Every device request asks: no formatting, no copy.
 */
static size_t
ddi_prefix_len(const struct config *cfg, const char *path)
{
	static const char rest[] = "/controller/v1/";
	size_t	 n = strlen(cfg->ddi_tenant);

	if (n == 0 || path[0] != '/' ||
	    strncmp(path + 1, cfg->ddi_tenant, n) != 0 ||
	    strncmp(path + 1 + n, rest, sizeof(rest) - 1) != 0)
		return 0;
	return 1 + n + sizeof(rest) - 1;
}

int
ddi_match(const struct config *cfg, const char *path)
{
	return ddi_prefix_len(cfg, path) != 0;
}

/* A decimal action id, 1..2^31-1; 0 when s is not one. */
static uint32_t
ddi_action_parse(const char *s, size_t len)
{
	uint64_t v = 0;
	size_t	 i;

	if (len == 0 || len > 10 || s[0] == '0')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v <= 0x7fffffffU ? (uint32_t)v : 0;
}

/* The segments after the device; splits rest at '/' into seg (max n). */
static size_t
ddi_split(const char *rest, const char **seg, size_t *len, size_t n)
{
	size_t	 k = 0;
	const char *slash;

	while (*rest != '\0' && k < n) {
		slash = strchr(rest, '/');
		seg[k] = rest;
		len[k] = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
		k++;
		if (slash == NULL)
			return k;
		rest = slash + 1;
		if (*rest == '\0')
			return n + 1;	/* a trailing slash */
	}
	return *rest == '\0' ? k : n + 1;
}

static int
ddi_seg_is(const char *seg, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(seg, name, len) == 0;
}

/* The route after the device, from its segments. */
static void
ddi_route_of(const char **seg, size_t *len, size_t n, struct ddi_path *p)
{
	int	 deploy;

	if (n == 0) {
		p->route = DDI_BASE;
		return;
	}
	if (n == 1 && ddi_seg_is(seg[0], len[0], "configData")) {
		p->route = DDI_CONFIG;
		return;
	}
	deploy = ddi_seg_is(seg[0], len[0], "deploymentBase");
	if ((deploy || ddi_seg_is(seg[0], len[0], "cancelAction")) &&
	    (n == 2 || (n == 3 && ddi_seg_is(seg[2], len[2], "feedback"))) &&
	    (p->action = ddi_action_parse(seg[1], len[1])) != 0) {
		p->route = deploy ? (n == 2 ? DDI_DEPLOY :
		    DDI_DEPLOY_FEEDBACK) : (n == 2 ? DDI_CANCEL :
		    DDI_CANCEL_FEEDBACK);
		return;
	}
	if (n == 4 && ddi_seg_is(seg[0], len[0], "softwaremodules") &&
	    ddi_seg_is(seg[2], len[2], "artifacts") &&
	    len[1] < sizeof(p->fwid) && len[3] < sizeof(p->filename) + 7) {
		memcpy(p->fwid, seg[1], len[1]);
		p->fwid[len[1]] = '\0';
		p->route = DDI_ARTIFACT;
		if (len[3] > 7 && memcmp(seg[3] + len[3] - 7, ".MD5SUM", 7) ==
		    0) {
			p->route = DDI_MD5SUM;
			len[3] -= 7;
		}
		if (len[3] >= sizeof(p->filename) || !valid_id(p->fwid)) {
			p->route = DDI_NONE;
			return;
		}
		memcpy(p->filename, seg[3], len[3]);
		p->filename[len[3]] = '\0';
		if (!valid_filename(p->filename))
			p->route = DDI_NONE;
	}
}

/* Parses path (ddi_match'ed) into p; p->route DDI_NONE if not served. */
static void
ddi_parse(const struct config *cfg, const char *path, struct ddi_path *p)
{
	const char *seg[5], *dev, *slash;
	size_t	 len[5], n, dlen;

	memset(p, 0, sizeof(*p));
	if ((n = ddi_prefix_len(cfg, path)) == 0)
		return;
	dev = path + n;
	slash = strchr(dev, '/');
	dlen = slash != NULL ? (size_t)(slash - dev) : strlen(dev);
	if (dlen == 0 || dlen >= sizeof(p->device))
		return;
	memcpy(p->device, dev, dlen);
	p->device[dlen] = '\0';
	if (!valid_device_id(p->device))
		return;
	n = slash == NULL ? 0 : ddi_split(slash + 1, seg, len, 4);
	if (n > 4)
		return;
	ddi_route_of(seg, len, n, p);
}

/* The secret of "Authorization: TargetToken <secret>"; 0, or -1. */
static int
ddi_token(struct http_req *req, char *token, size_t tsize)
{
	const char *v;
	size_t	 n;

	token[0] = '\0';
	v = httpdev_auth_param(req, "TargetToken", &n);
	if (v == NULL || n == 0 || n >= tsize)
		return -1;
	memcpy(token, v, n);
	token[n] = '\0';
	return 0;
}

/*
 * Authentication: a client certificate naming the device, or its
 * TargetToken (GatewayToken is not taken); 0 when it is the device's.
 */
static int
ddi_authenticate(struct httpdev *hd, struct http_req *req, const char *dev,
    char *token, size_t tsize)
{
	const char *cn = http_req_peer_cn(req);

	if (cn != NULL && strcmp(cn, dev) == 0)
		return 0;
	if (ddi_token(req, token, tsize) != 0)
		return -1;
	return core_device_auth(httpdev_core(hd), dev, token);
}

/* An empty answer with status; returns it. */
static int
ddi_empty(struct http_resp *resp, int status)
{
	http_resp_status(resp, status);
	if (status == 503)
		http_resp_header(resp, "Retry-After", "5");
	return status;
}

/* A JSON answer (takes body); 500 when body is NULL. */
static int
ddi_json(struct http_req *req, struct http_resp *resp, int status,
    char *body, size_t len)
{
	const char *accept = http_req_header(req, "Accept");

	if (body == NULL)
		return ddi_empty(resp, 500);
	http_resp_status(resp, status);
	/* hal+json unless the client asks for plain JSON (SWUpdate does) */
	http_resp_header(resp, "Content-Type", accept != NULL &&
	    strstr(accept, "application/json") != NULL &&
	    strstr(accept, "hal+json") == NULL ? DDI_CTYPE_JSON :
	    DDI_CTYPE_HAL);
	http_resp_header(resp, "Cache-Control", "no-store");
	if (http_resp_body_take(resp, body, len) == -1)	/* frees body */
		return ddi_empty(resp, 500);
	return status;
}

/* hawkBit's error body. */
static int
ddi_error(struct http_req *req, struct http_resp *resp, int status,
    const char *cls, const char *code, const char *message)
{
	char	*body;
	size_t	 len = 0;

	body = codec_ddi_error_encode(cls, code, message, &len);
	return ddi_json(req, resp, status, body, len);
}

static int
ddi_unknown_action(struct http_req *req, struct http_resp *resp,
    const struct ddi_path *p)
{
	char	 msg[160];

	snprintf(msg, sizeof(msg), "Action with given identifier {%lu} does "
	    "not exist for target %s.", (unsigned long)p->action, p->device);
	return ddi_error(req, resp, 404, DDI_EXC_NOTFOUND, DDI_ERR_NOTFOUND,
	    msg);
}

/*
 * The controller's absolute URL, for links: https_public_url when set,
 * else the address the device reached (as a notice's url); 0 or -1.
 */
static int
ddi_href(struct httpdev *hd, struct http_req *req, const char *device,
    char *buf, size_t size)
{
	const char *pub = httpdev_cfg(hd)->https_public;
	char	 origin[DDI_HREF_MAX];
	size_t	 n;

	if (pub[0] != '\0') {
		n = strlen(pub);
		while (n > 0 && pub[n - 1] == '/')
			n--;
		if (n >= sizeof(origin))
			return -1;
		memcpy(origin, pub, n);
		origin[n] = '\0';
	} else if (httpdev_origin(req, origin, sizeof(origin)) != 0)
		return -1;
	n = (size_t)snprintf(buf, size, "%s/%s/controller/v1/%s", origin,
	    httpdev_cfg(hd)->ddi_tenant, device);
	return n < size ? 0 : -1;
}

static void
ddi_core_req(struct http_req *req, const struct ddi_path *p,
    struct core_req *creq, char *origin, size_t size)
{
	memset(creq, 0, sizeof(*creq));
	creq->proto = CORE_PROTO_HTTPS;
	creq->peer = p->device;
	creq->device = p->device;
	creq->conn = http_req_conn_id(req);
	creq->no_delta = 1;	/* one artifact: the full image */
	if (httpdev_origin(req, origin, size) == 0)
		creq->origin = origin;
}

static int
ddi_core_status(struct http_resp *resp, int cs)
{
	switch (cs) {
	case CORE_UNAUTHORIZED:
	case CORE_FORBIDDEN:
	case CORE_NOT_FOUND:
		return ddi_empty(resp, 401);
	case CORE_UNAVAILABLE:
		return ddi_empty(resp, 503);
	case CORE_BAD_REQUEST:
		return ddi_empty(resp, 400);
	}
	return ddi_empty(resp, 500);
}

/* GET the controller base. */
static int
ddi_base(struct httpdev *hd, struct http_req *req, struct http_resp *resp,
    const struct ddi_path *p)
{
	struct core_req creq;
	struct core_ddi_base b;
	struct ddi_base_out o;
	char	 origin[DDI_HREF_MAX], href[DDI_HREF_MAX];
	char	*body;
	size_t	 len = 0;
	int	 cs;

	ddi_core_req(req, p, &creq, origin, sizeof(origin));
	if ((cs = core_ddi_base(httpdev_core(hd), &creq, &b)) != CORE_OK)
		return ddi_core_status(resp, cs);
	if (ddi_href(hd, req, p->device, href, sizeof(href)) != 0)
		return ddi_empty(resp, 400);
	memset(&o, 0, sizeof(o));
	o.href = href;
	o.sleep_s = b.sleep_s;
	o.link = b.link;
	o.action = b.action;
	o.config = b.config;
	body = codec_ddi_base_encode(&o, &len);
	return ddi_json(req, resp, 200, body, len);
}

/* The file name hawkBit clients see for fw. */
static void
ddi_filename(const struct firmware_rec *fw, char *buf, size_t size)
{
	if (fw->filename[0] != '\0')
		snprintf(buf, size, "%s", fw->filename);
	else
		snprintf(buf, size, "%s.bin", fw->id);
}

/* GET deploymentBase/{action}. */
static int
ddi_deployment(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const struct ddi_path *p)
{
	struct core_req creq;
	struct core_ddi_deploy d;
	struct ddi_deploy_out o;
	char	 origin[DDI_HREF_MAX], href[DDI_HREF_MAX];
	char	 fname[OTA_FILENAME_MAX + 8];
	char	*body;
	size_t	 len = 0;
	int	 what;

	ddi_core_req(req, p, &creq, origin, sizeof(origin));
	what = core_ddi_deployment(httpdev_core(hd), &creq, p->action, &d);
	if (what == CORE_DDI_UNKNOWN)
		return ddi_unknown_action(req, resp, p);
	if (what == CORE_DDI_CANCELED)
		return ddi_empty(resp, 404);
	if (what != CORE_DDI_ACTIVE && what != CORE_DDI_CLOSED)
		return ddi_empty(resp, 503);
	if (ddi_href(hd, req, p->device, href, sizeof(href)) != 0)
		return ddi_empty(resp, 400);
	ddi_filename(&d.fw, fname, sizeof(fname));
	memset(&o, 0, sizeof(o));
	o.href = href;
	o.action = p->action;
	o.forced = d.forced;
	o.fw = &d.fw;
	o.filename = fname;
	body = codec_ddi_deployment_encode(&o, &len);
	return ddi_json(req, resp, 200, body, len);
}

/* POST .../feedback (deployment or cancel). */
static int
ddi_feedback(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const struct ddi_path *p,
    const struct ddi_body *b)
{
	struct core_req creq;
	struct ddi_feedback fb;
	char	 origin[DDI_HREF_MAX], err[160];
	int	 what;

	if (codec_ddi_feedback_decode(b != NULL ? b->buf : NULL,
	    b != NULL ? b->len : 0, &fb, err, sizeof(err)) != 0)
		return ddi_error(req, resp, 400, DDI_EXC_UNREADABLE,
		    DDI_ERR_UNREADABLE, err);
	ddi_core_req(req, p, &creq, origin, sizeof(origin));
	if (p->route == DDI_CANCEL_FEEDBACK) {
		what = core_ddi_cancel(httpdev_core(hd), &creq, p->action,
		    &fb);
		if (what == CORE_DDI_CANCELED)
			return ddi_empty(resp, 200);
		if (what == CORE_DDI_ERROR)
			return ddi_empty(resp, 503);
		if (what == CORE_DDI_UNKNOWN)
			return ddi_unknown_action(req, resp, p);
		return ddi_empty(resp, 410);	/* not canceled: closed */
	}
	what = core_ddi_feedback(httpdev_core(hd), &creq, p->action, &fb);
	switch (what) {
	case CORE_DDI_ACTIVE:
		return ddi_empty(resp, 200);
	case CORE_DDI_CLOSED:
		return ddi_empty(resp, 410);
	case CORE_DDI_UNKNOWN:
		return ddi_unknown_action(req, resp, p);
	}
	return ddi_empty(resp, 503);
}

/* GET cancelAction/{action}. */
static int
ddi_cancel(struct httpdev *hd, struct http_req *req, struct http_resp *resp,
    const struct ddi_path *p)
{
	struct core_req creq;
	char	 origin[DDI_HREF_MAX];
	char	*body;
	size_t	 len = 0;
	int	 what;

	ddi_core_req(req, p, &creq, origin, sizeof(origin));
	what = core_ddi_cancel(httpdev_core(hd), &creq, p->action, NULL);
	if (what == CORE_DDI_UNKNOWN)
		return ddi_unknown_action(req, resp, p);
	if (what == CORE_DDI_ERROR)
		return ddi_empty(resp, 503);
	if (what != CORE_DDI_CANCELED)
		return ddi_empty(resp, 404);
	body = codec_ddi_cancel_encode(p->action, &len);
	return ddi_json(req, resp, 200, body, len);
}

/* PUT configData. */
static int
ddi_config(struct httpdev *hd, struct http_req *req, struct http_resp *resp,
    const struct ddi_path *p, const struct ddi_body *b)
{
	struct core_req creq;
	char	 origin[DDI_HREF_MAX], err[160];
	int	 cs, bad_attrs = 0;

	ddi_core_req(req, p, &creq, origin, sizeof(origin));
	err[0] = '\0';
	cs = core_ddi_config(httpdev_core(hd), &creq, b != NULL ? b->buf :
	    NULL, b != NULL ? b->len : 0, &bad_attrs, err, sizeof(err));
	if (cs == CORE_OK)
		return ddi_empty(resp, 200);
	if (cs == CORE_BAD_REQUEST && bad_attrs)
		return ddi_error(req, resp, 400, DDI_EXC_ATTRS, DDI_ERR_ATTRS,
		    err);
	if (cs == CORE_BAD_REQUEST)
		return ddi_error(req, resp, 400, DDI_EXC_UNREADABLE,
		    DDI_ERR_UNREADABLE, err);
	return ddi_core_status(resp, cs);
}

/*
 * GET|HEAD softwaremodules/{fw}/artifacts/{filename}[.MD5SUM]: core
 * checks the token (or takes the certificate's word) and that the
 * device was offered fw, as for GET /fw/{fw}.
 */
static int
ddi_artifact(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp, const struct ddi_path *p, const char *token,
    char *extra, size_t esize)
{
	const struct store_image *img = NULL;
	struct firmware_rec fw;
	struct core_req creq;
	char	 origin[DDI_HREF_MAX], fname[OTA_FILENAME_MAX + 8];
	char	 md5[33], line[OTA_FILENAME_MAX + 48];
	int	 cs;

	ddi_core_req(req, p, &creq, origin, sizeof(origin));
	creq.secret = token[0] != '\0' ? token : NULL;
	cs = core_download(httpdev_core(hd), &creq, p->fwid, &img, &fw);
	if (cs == CORE_UNAUTHORIZED)
		return ddi_empty(resp, 401);
	if (cs == CORE_FORBIDDEN || cs == CORE_NOT_FOUND)
		return ddi_empty(resp, 404);
	if (cs != CORE_OK)
		return ddi_core_status(resp, cs);
	ddi_filename(&fw, fname, sizeof(fname));
	if (strcmp(fname, p->filename) != 0) {
		store_image_unref(img);
		return ddi_empty(resp, 404);
	}
	if (p->route == DDI_ARTIFACT)
		return httpdev_send_image(hd, req, resp, p->device, img, &fw,
		    extra, esize);
	store_image_unref(img);
	hex_encode(fw.md5, sizeof(fw.md5), md5);
	snprintf(line, sizeof(line), "%s  %s\n", md5, fname);
	http_resp_status(resp, 200);
	http_resp_header(resp, "Content-Type", "text/plain");
	if (strcmp(http_req_method(req), "HEAD") == 0)
		http_resp_head_length(resp, strlen(line));
	else if (http_resp_body_copy(resp, line, strlen(line)) == -1)
		return ddi_empty(resp, 500);
	return 200;
}

static void
ddi_log(struct http_req *req, int status, const char *extra)
{
	if (log_get_level() < LOG_LEVEL_DEBUG)
		return;
	log_debug("https: ddi %s %s %s -> %d%s%s", http_req_version(req) ==
	    2 ? "h2" : "h1", http_req_method(req), http_req_path(req), status,
	    extra[0] != '\0' ? " " : "", extra);
}

/* The route and method check; 0 to go on, else the status answered. */
static int
ddi_admit(struct httpdev *hd, struct http_req *req, struct http_resp *resp,
    struct ddi_path *p)
{
	const char *m = http_req_method(req), *allow, *a;
	size_t	 n = strlen(m);

	ddi_parse(httpdev_cfg(hd), http_req_path(req), p);
	if (p->route == DDI_NONE)
		return ddi_empty(resp, 404);
	allow = ddi_allow(p->route);
	for (a = allow; (a = strstr(a, m)) != NULL; a += n)
		if ((a == allow || a[-1] == ' ') &&
		    (a[n] == '\0' || a[n] == ','))
			return 0;
	http_resp_header(resp, "Allow", allow);
	return ddi_empty(resp, 405);
}

int
ddi_on_headers(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp)
{
	struct ddi_path p;
	struct ddi_body *b;
	char	 token[DDI_TOKEN_MAX + 1] = "", extra[96] = "";
	const char *cn;
	int	 status;

	if ((status = ddi_admit(hd, req, resp, &p)) != 0)
		goto out;
	if (p.route == DDI_ARTIFACT || p.route == DDI_MD5SUM) {
		/* core_download checks the token, or takes the CN's word */
		cn = http_req_peer_cn(req);
		if ((cn == NULL || strcmp(cn, p.device) != 0) &&
		    ddi_token(req, token, sizeof(token)) != 0) {
			status = ddi_empty(resp, 401);
			goto out;
		}
		status = ddi_artifact(hd, req, resp, &p, token, extra,
		    sizeof(extra));
		goto out;
	}
	if (ddi_authenticate(hd, req, p.device, token, sizeof(token)) != 0) {
		status = ddi_empty(resp, 401);
		goto out;
	}
	crypto_wipe(token, sizeof(token));
	if (p.route == DDI_BASE)
		status = ddi_base(hd, req, resp, &p);
	else if (p.route == DDI_DEPLOY)
		status = ddi_deployment(hd, req, resp, &p);
	else if (p.route == DDI_CANCEL)
		status = ddi_cancel(hd, req, resp, &p);
	else {
		/* feedback and configData: their body first */
		if ((b = calloc(1, sizeof(*b))) == NULL) {
			status = ddi_empty(resp, 500);
			goto out;
		}
		b->kind = HTTPDEV_USER_DDI;
		http_req_set_user(req, b);
		return HTTP_STREAM;
	}
out:
	crypto_wipe(token, sizeof(token));
	ddi_log(req, status, extra);
	httpdev_count(hd, status);
	return HTTP_RESPOND;
}

int
ddi_on_body(struct httpdev *hd, struct http_req *req, const uint8_t *buf,
    size_t len)
{
	struct ddi_body *b = http_req_user(req);
	const char *why = NULL;
	uint8_t	*nb = NULL;
	int	 status = 413;

	if (b == NULL)
		return -1;
	/* the body stays in memory: it counts against the connection's cap */
	if (len > DDI_BODY_MAX - b->len)
		why = "a body over the limit";
	else if (http_req_hold(req, len) == -1)
		why = "the connection holds too many bodies";
	else if ((nb = realloc(b->buf, b->len + len)) == NULL) {
		why = "out of memory";
		status = 500;
	}
	if (why != NULL) {
		/* on_request is not called: this is the answer */
		status = ddi_empty(http_req_resp(req), status);
		log_debug("https: ddi %s %s -> %d (%s, %d bytes at most)",
		    http_req_method(req), http_req_path(req), status, why,
		    DDI_BODY_MAX);
		httpdev_count(hd, status);
		return -1;
	}
	b->buf = nb;
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	return 0;
}

void
ddi_on_request(struct httpdev *hd, struct http_req *req,
    struct http_resp *resp)
{
	struct ddi_path p;
	struct ddi_body *b = http_req_user(req);
	int	 status;

	if ((status = ddi_admit(hd, req, resp, &p)) != 0)
		goto out;
	if (p.route == DDI_CONFIG)
		status = ddi_config(hd, req, resp, &p, b);
	else
		status = ddi_feedback(hd, req, resp, &p, b);
out:
	ddi_log(req, status, "");
	httpdev_count(hd, status);
}

void
ddi_on_close(struct httpdev *hd, struct http_req *req)
{
	struct ddi_body *b = http_req_user(req);

	(void)hd;
	if (b == NULL)
		return;
	http_req_set_user(req, NULL);
	free(b->buf);
	free(b);
}
