/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * route.c: the admin API's router.  admin_routes is the one list of its
 * calls, as (method, path pattern, handler); the HTTP server's callbacks
 * here find a request's call, check its token, and hand it to the
 * handler, then count the answer and log it.
 *
 * A request is routed in on_headers, before its body: the token is
 * checked first (401, also for a path that names no call), then the path
 * (404) and the method (405 with Allow).  A refused request is answered
 * after its body has been read and dropped (src/http).  The body of a
 * call is buffered up to ADMIN_MAX_BODY (413 past it), except the
 * firmware upload, which is streamed to ops (firmware.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "log.h"

#define ADMIN_REALM		"Bearer realm=\"otagw-admin\""
#define ADMIN_PATH_SEGS		6	/* segments after ADMIN_PREFIX */

/* The response counters of /metrics, by class, and the 401s. */
static void
admin_count(struct admin *a, int status)
{
	if (status >= 200 && status < 300)
		a->responses[CLASS_2XX]++;
	else if (status >= 300 && status < 400)
		a->responses[CLASS_3XX]++;
	else if (status >= 400 && status < 500)
		a->responses[CLASS_4XX]++;
	else
		a->responses[CLASS_5XX]++;
	if (status == 401)
		a->auth_failures++;
}

static void
admin_log(struct http_req *req, int status)
{
	const char *m = http_req_method(req);

	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		log_debug("admin: %s %s -> %d", m, http_req_path(req), status);
	else
		log_info("admin: %s %s -> %d", m, http_req_path(req), status);
}

/* Splits path (after the prefix) into decoded segments; count or -1. */
static int
path_split(const char *path, char seg[][OTA_ID_MAX + 1], int max)
{
	const char *p = path, *slash;
	size_t	 n;
	int	 count = 0;

	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0) {
			if (slash == NULL)
				break;
			return -1;	/* "//" */
		}
		if (count == max ||
		    admin_pct_decode(p, n, seg[count], OTA_ID_MAX + 1, 0) == -1)
			return -1;
		count++;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return count;
}

/* A request's path, split once for matching it against the routes. */
struct admin_path {
	const char *raw;		/* as it came, without the query */
	int	 nseg;			/* segments after ADMIN_PREFIX, or -1 */
	char	 seg[ADMIN_PATH_SEGS][OTA_ID_MAX + 1];	/* decoded */
};

static void
admin_path_split(const char *path, struct admin_path *ap)
{
	ap->raw = path;
	ap->nseg = -1;
	if (strncmp(path, ADMIN_PREFIX, sizeof(ADMIN_PREFIX) - 1) == 0)
		ap->nseg = path_split(path + sizeof(ADMIN_PREFIX) - 1,
		    ap->seg, ADMIN_PATH_SEGS);
}

/*
 * Does the path match a route's pattern?  A pattern under ADMIN_PREFIX is
 * matched segment by segment against the decoded path, where "{id}" and
 * "{dev}" match any segment (their values go into ar, when it is not
 * NULL); any other pattern ("/healthz") only matches the path as it is.
 */
static int
pattern_match(const char *pattern, const struct admin_path *ap,
    struct admin_req *ar)
{
	const char *p, *slash;
	size_t	 n;
	int	 i;

	if (strncmp(pattern, ADMIN_PREFIX, sizeof(ADMIN_PREFIX) - 1) != 0)
		return strcmp(pattern, ap->raw) == 0;
	if (ap->nseg <= 0)
		return 0;
	p = pattern + sizeof(ADMIN_PREFIX) - 1;
	for (i = 0; i < ap->nseg; i++) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return 0;	/* the pattern has fewer segments */
		if (p[0] == '{') {
			if (ar != NULL && n == 4 && memcmp(p, "{id}", 4) == 0)
				snprintf(ar->id, sizeof(ar->id), "%s",
				    ap->seg[i]);
			else if (ar != NULL && n == 5 &&
			    memcmp(p, "{dev}", 5) == 0)
				snprintf(ar->dev, sizeof(ar->dev), "%s",
				    ap->seg[i]);
		} else if (strlen(ap->seg[i]) != n ||
		    memcmp(ap->seg[i], p, n) != 0)
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return *p == '\0';	/* and not more segments in the pattern */
}

/*
 * The routes: every call of the API, as method, path pattern and handler
 * (docs/admin-api.md has the same list).  The first pattern that matches
 * a request's path (pattern_match) names its resource; the rows with that
 * same pattern are the methods it answers, in the order Allow lists them,
 * so "/api/v1/devices/import" must come before "/api/v1/devices/{id}".
 * A path no pattern matches is 404, a method its resource lacks 405.
 *
 * Every call needs the token, except those of a ROUTE_PUBLIC resource
 * (the flag of the path's first row counts).  A handler answers a whole
 * request; on_headers, when a row has one, runs when the head is in
 * instead of buffering the body (the streamed firmware upload).
 */
#define ROUTE_PUBLIC	0x1	/* no token needed (liveness probes) */

struct admin_route {
	const char	*method;
	const char	*pattern;
	int		 flags;
	admin_handler_fn *on_headers;	/* NULL: buffer the body */
	admin_handler_fn *handler;
};

static const struct admin_route admin_routes[] = {
	{ "GET", "/healthz", ROUTE_PUBLIC, NULL, admin_healthz },
	{ "HEAD", "/healthz", ROUTE_PUBLIC, NULL, admin_healthz },
	{ "GET", "/metrics", 0, NULL, admin_metrics_show },
	{ "GET", "/api/v1/devices", 0, NULL, admin_device_list },
	{ "POST", "/api/v1/devices/import", 0, NULL, admin_device_import },
	{ "GET", "/api/v1/devices/{id}", 0, NULL, admin_device_show },
	{ "PUT", "/api/v1/devices/{id}", 0, NULL, admin_device_put },
	{ "DELETE", "/api/v1/devices/{id}", 0, NULL, admin_device_rm },
	{ "GET", "/api/v1/devices/{id}/history", 0, NULL,
	    admin_device_history },
	{ "GET", "/api/v1/products/{id}/versions", 0, NULL,
	    admin_product_versions },
	{ "GET", "/api/v1/products/{id}/author-key", 0, NULL,
	    admin_product_key_show },
	{ "PUT", "/api/v1/products/{id}/author-key", 0, NULL,
	    admin_product_key_set },
	{ "DELETE", "/api/v1/products/{id}/author-key", 0, NULL,
	    admin_product_key_clear },
	{ "GET", "/api/v1/firmware", 0, NULL, admin_firmware_list },
	{ "POST", "/api/v1/firmware", 0, admin_firmware_upload_begin,
	    admin_firmware_upload_end },
	{ "GET", "/api/v1/firmware/fetches/{id}", 0, NULL, admin_fetch_show },
	{ "GET", "/api/v1/firmware/{id}", 0, NULL, admin_firmware_show },
	{ "PATCH", "/api/v1/firmware/{id}", 0, NULL, admin_firmware_edit },
	{ "DELETE", "/api/v1/firmware/{id}", 0, NULL, admin_firmware_rm },
	{ "POST", "/api/v1/patches", 0, admin_patch_upload_begin,
	    admin_patch_upload_end },
	{ "GET", "/api/v1/patches", 0, NULL, admin_patch_list },
	{ "POST", "/api/v1/patches/make", 0, NULL, admin_patch_make },
	{ "GET", "/api/v1/patches/{id}", 0, NULL, admin_patch_show },
	{ "DELETE", "/api/v1/patches/{id}", 0, NULL, admin_patch_rm },
	{ "GET", "/api/v1/jobs", 0, NULL, admin_job_list },
	{ "POST", "/api/v1/jobs", 0, NULL, admin_job_create },
	{ "GET", "/api/v1/jobs/{id}", 0, NULL, admin_job_show },
	{ "GET", "/api/v1/jobs/{id}/devices", 0, NULL, admin_job_devices },
	{ "POST", "/api/v1/jobs/{id}/terminate", 0, NULL,
	    admin_job_terminate },
	{ "POST", "/api/v1/jobs/{id}/devices/{dev}/cancel", 0, NULL,
	    admin_job_cancel },
	{ "POST", "/api/v1/jobs/{id}/devices/{dev}/retry", 0, NULL,
	    admin_job_retry },
	{ "POST", "/api/v1/jobs/{id}/devices/{dev}/confirm", 0, NULL,
	    admin_job_confirm },
	{ "GET", "/api/v1/relay", 0, NULL, admin_relay_show },
	{ "POST", "/api/v1/url-key/rotate", 0, NULL, admin_url_key_rotate },
	{ "GET", "/api/v1/keys", 0, NULL, admin_sign_key_list },
	{ "POST", "/api/v1/keys", 0, NULL, admin_sign_key_create },
	{ "GET", "/api/v1/keys/{id}", 0, NULL, admin_sign_key_show },
	{ "POST", "/api/v1/keys/{id}/activate", 0, NULL,
	    admin_sign_key_activate },
	{ "DELETE", "/api/v1/keys/{id}", 0, NULL, admin_sign_key_delete },
};

#define ADMIN_NROUTES	(sizeof(admin_routes) / sizeof(admin_routes[0]))

/*
 * The first route whose pattern matches path, with the path's ids in ar;
 * NULL when none does.
 */
static const struct admin_route *
route_find(const char *path, struct admin_req *ar)
{
	struct admin_path ap;
	size_t	 i;

	admin_path_split(path, &ap);
	for (i = 0; i < ADMIN_NROUTES; i++)
		if (pattern_match(admin_routes[i].pattern, &ap, NULL)) {
			pattern_match(admin_routes[i].pattern, &ap, ar);
			return &admin_routes[i];
		}
	return NULL;
}

/* The row of res's resource for method, or NULL. */
static const struct admin_route *
route_method(const struct admin_route *res, const char *method)
{
	size_t	 i;

	for (i = 0; i < ADMIN_NROUTES; i++)
		if (strcmp(admin_routes[i].pattern, res->pattern) == 0 &&
		    strcmp(admin_routes[i].method, method) == 0)
			return &admin_routes[i];
	return NULL;
}

/* The methods of res's resource, "GET, POST", for 405 and Allow. */
static void
route_allow(const struct admin_route *res, char *out, size_t size)
{
	size_t	 i, o = 0;
	int	 n;

	out[0] = '\0';
	for (i = 0; i < ADMIN_NROUTES; i++) {
		if (strcmp(admin_routes[i].pattern, res->pattern) != 0)
			continue;
		n = snprintf(out + o, size - o, "%s%s", o ? ", " : "",
		    admin_routes[i].method);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
}

/*
 * A request's head is in: find its route, check the token and the method
 * (401, 404, 405 as docs/admin-api.md says, in that order), then let the
 * route stream the body or have it buffered (413 over ADMIN_MAX_BODY).
 */
/* A body sent to a public call: 413, counted and logged. */
static int
admin_public_body(struct admin *a, struct admin_req *ar,
    struct http_req *req)
{
	ar->status = admin_error(ar->resp, 413, "too_large", "%s takes no "
	    "request body", http_req_path(req));
	admin_count(a, ar->status);
	admin_log(req, ar->status);
	return ar->status;
}

static int
admin_on_headers(void *arg, struct http_req *req, struct http_resp *resp)
{
	struct admin *a = arg;
	struct admin_req *ar;
	const struct admin_route *res;
	const char *m = http_req_method(req);
	char	 allow[64];
	int	 status, next;

	if ((ar = calloc(1, sizeof(*ar))) == NULL) {
		http_resp_status(resp, 500);
		admin_count(a, 500);
		return HTTP_RESPOND;
	}
	http_req_set_user(req, ar);
	ar->resp = resp;
	res = route_find(http_req_path(req), ar);
	if ((res == NULL || !(res->flags & ROUTE_PUBLIC)) &&
	    !admin_authorized(a, req)) {
		http_resp_header(resp, "WWW-Authenticate", ADMIN_REALM);
		status = admin_error(resp, 401, "unauthorized", "this call "
		    "needs Authorization: Bearer <admin token>");
		goto respond;
	}
	if (res == NULL) {
		status = admin_error(resp, 404, "not_found", "no such call: %s",
		    http_req_path(req));
		goto respond;
	}
	if ((ar->route = route_method(res, m)) == NULL) {
		route_allow(res, allow, sizeof(allow));
		http_resp_header(resp, "Allow", allow);
		status = admin_error(resp, 405, "method_not_allowed", "%s is "
		    "not allowed here (allowed: %s)", m, allow);
		goto respond;
	}
	if (res->flags & ROUTE_PUBLIC) {
		/*
		 * No token was asked: nothing is buffered either, or anyone
		 * could make the daemon hold ADMIN_MAX_BODY per stream.
		 */
		ar->no_body = 1;
		if (http_req_content_length(req) > 0) {
			status = admin_public_body(a, ar, req);
			goto respond_logged;
		}
		return HTTP_STREAM;
	}
	if (ar->route->on_headers != NULL) {
		if ((next = ar->route->on_headers(a, ar, req, resp)) !=
		    HTTP_RESPOND)
			return next;
		status = ar->status;
		goto respond;
	}
	if (http_req_content_length(req) > (int64_t)ADMIN_MAX_BODY) {
		status = admin_error(resp, 413, "too_large", "request bodies "
		    "are limited to %u bytes", ADMIN_MAX_BODY);
		goto respond;
	}
	return HTTP_BUFFER;
respond:
	ar->status = status;
	admin_count(a, status);
	admin_log(req, status);
respond_logged:
	return HTTP_RESPOND;
}

static int
admin_on_body(void *arg, struct http_req *req, const uint8_t *p, size_t n)
{
	struct admin *a = arg;
	struct admin_req *ar = http_req_user(req);
	struct ops_err err;

	if (ar != NULL && ar->no_body) {
		if (n == 0)
			return 0;
		(void)admin_public_body(a, ar, req);
		return -1;
	}
	if (ar == NULL || (ar->up == NULL && ar->dup == NULL))
		return -1;
	if (ar->dup != NULL) {
		if (ops_delta_upload_write(ar->dup, p, n, &err) == OPS_OK)
			return 0;
	} else if (ops_firmware_upload_write(ar->up, p, n, &err) == OPS_OK)
		return 0;
	/* nothing left behind */
	ops_firmware_upload_abort(ar->up);
	ops_delta_upload_abort(ar->dup);
	ar->up = NULL;
	ar->dup = NULL;
	ar->status = admin_ops_error(ar->resp, &err);
	admin_count(a, ar->status);
	admin_log(req, ar->status);
	log_warnx("admin: upload refused: %s", err.msg);
	return -1;
}

/* The whole request is in: its route's handler answers it. */
static void
admin_on_request(void *arg, struct http_req *req, struct http_resp *resp)
{
	struct admin *a = arg;
	struct admin_req *ar = http_req_user(req);
	int	 status;

	if (ar == NULL) {
		http_resp_status(resp, 500);
		return;
	}
	if (ar->route != NULL)
		status = ar->route->handler(a, ar, req, resp);
	else
		status = admin_error(resp, 404, "not_found", "no such call");
	if (status == ADMIN_DEFERRED)
		return;		/* answered when its work ends (work.c) */
	admin_answered(a, ar, req, status);
}

void
admin_answered(struct admin *a, struct admin_req *ar, struct http_req *req,
    int status)
{
	ar->status = status;
	admin_count(a, status);
	admin_log(req, status);
}

static void
admin_on_close(void *arg, struct http_req *req)
{
	struct admin_req *ar = http_req_user(req);

	(void)arg;
	if (ar == NULL)
		return;
	if (ar->up != NULL || ar->dup != NULL) {
		/* the client went away mid-upload */
		log_info("admin: upload abandoned");
		ops_firmware_upload_abort(ar->up);
		ops_delta_upload_abort(ar->dup);
	}
	free(ar->pq);
	if (ar->work != NULL) {
		log_info("admin: the client of %s went away; the operation "
		    "goes on", http_req_path(req));
		admin_work_orphan(ar->work);
	}
	http_req_set_user(req, NULL);
	free(ar);
}

void
admin_route_handler(struct admin *a, struct http_handler *h)
{
	h->on_headers = admin_on_headers;
	h->on_body = admin_on_body;
	h->on_request = admin_on_request;
	h->on_close = admin_on_close;
	h->arg = a;
}
