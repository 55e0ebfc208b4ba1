/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_httpdev.c: the HTTPS device front end (src/http/device.c) end to
 * end, on detached connections (src/http/conn.h) of a listener made with
 * httpdev_new and no event loop, with a real core and store (corefix.h).
 *
 * Requests go in as HTTP/1.1 bytes (and a few as HTTP/2 frames from an
 * nghttp2 client, h2peer.h) and the answers are read back and parsed:
 * check (the notice, 204, 401 with and without a token, 400, 404, 405,
 * 413), progress, and downloads: the whole image compared byte for byte,
 * HEAD, Range (one range, several as multipart/byteranges, past the end),
 * If-Range with the right and a wrong validator, If-None-Match, the
 * device named by X-Device-Id or ?device=, the bearer secret checked by
 * core_download (a wrong one is 401 on a connection that was granted a
 * moment ago too), 403 for a firmware not offered to the device, 404 for
 * an unknown one, and the grant: a download allowed a moment ago is
 * served again on the same connection, with the same secret, for two
 * seconds after the device stopped being allowed, and on no other.
 *
 * Client certificates are not covered: a detached connection has no TLS,
 * so it has no peer certificate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/watch.h"
#include "http/conn.h"
#include "http/device.h"
#include "http/http.h"
#include "log.h"
#include "corefix.h"
#include "h2peer.h"
#include "t.h"

#define IMG1	5000

static struct corefix f;
static struct httpdev *hd;
static struct http_server *srv;
static char etag[80];		/* fw-1's, with its quotes */

/* HTTP/1.1 on a detached connection --------------------------------------- */

struct dconn {
	struct http_conn *c;
	size_t	 seen;		/* output bytes read already */
};

struct dresp {
	int	 status;
	char	 head[4096];	/* status line and fields */
	uint8_t	 body[16384];
	size_t	 body_len;
};

static void
dconn_open(struct dconn *d)
{
	d->c = http_conn_new_detached(srv, 0);
	d->seen = 0;
	T_CHECK(d->c != NULL);
}

static void
dconn_close(struct dconn *d)
{
	http_conn_free_detached(d->c);
	d->c = NULL;
}

/* Sends one request, reads its answer. */
static void
dconn_do(struct dconn *d, const char *req, struct dresp *r)
{
	static uint8_t out[65536];
	const char *end;
	size_t	 len, hl;
	int	 i;

	memset(r, 0, sizeof(*r));
	if (req[0] != '\0' &&
	    h1_recv(d->c, (const uint8_t *)req, strlen(req)) != 0)
		return;
	for (i = 0; i < 8; i++)
		(void)h1_produce(d->c);
	len = h2peer_conn_bytes(d->c, out, sizeof(out) - 1);
	if (len <= d->seen)
		return;
	out[len] = '\0';
	end = strstr((char *)out + d->seen, "\r\n\r\n");
	if (end == NULL || sscanf((char *)out + d->seen, "HTTP/1.1 %d ",
	    &r->status) != 1)
		return;
	hl = (size_t)(end + 2 - ((char *)out + d->seen));
	if (hl >= sizeof(r->head))
		hl = sizeof(r->head) - 1;
	memcpy(r->head, out + d->seen, hl);
	r->head[hl] = '\0';
	r->body_len = len - (size_t)(end + 4 - (char *)out);
	if (r->body_len > sizeof(r->body))
		r->body_len = sizeof(r->body);
	memcpy(r->body, end + 4, r->body_len);
	d->seen = len;
}

/*
 * The next answer queued on d, without sending anything (a deferred one
 * that came later): its status, 0 when there is none yet.
 */
static int
dconn_next(struct dconn *d, struct dresp *r)
{
	dconn_do(d, "", r);
	return r->status;
}

/* One request on a connection of its own. */
static int
do1(const char *req, struct dresp *r)
{
	struct dconn d;

	dconn_open(&d);
	dconn_do(&d, req, r);
	dconn_close(&d);
	return r->status;
}

/* The value of field name (case-insensitive), or NULL. */
static const char *
field(const struct dresp *r, const char *name)
{
	static char val[512];
	const char *p = r->head, *e;
	size_t	 n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			e = strstr(p, "\r\n");
			snprintf(val, sizeof(val), "%.*s", e ? (int)(e - p) :
			    (int)strlen(p), p);
			return val;
		}
	}
	return NULL;
}

static int
field_is(const struct dresp *r, const char *name, const char *want)
{
	const char *v = field(r, name);

	if (v == NULL || strcmp(v, want) != 0) {
		fprintf(stderr, "%s: \"%s\", expected \"%s\"\n", name,
		    v ? v : "(none)", want);
		return 0;
	}
	return 1;
}

/* A request with these fields and body ("" for none). */
static const char *
req(const char *method, const char *target, const char *fields,
    const char *body)
{
	static char buf[8192];

	if (body[0] == '\0')
		snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: gw.test\r\n"
		    "%s\r\n", method, target, fields);
	else
		snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: gw.test\r\n"
		    "%sContent-Length: %zu\r\n\r\n%s", method, target, fields,
		    strlen(body), body);
	return buf;
}

#define AUTH1	"Authorization: Bearer s3cret-1\r\n"
#define AUTH2	"Authorization: Bearer s3cret-2\r\n"
#define DEV1	"X-Device-Id: d1\r\n"

/* Fixture ----------------------------------------------------------------- */

static void
setup(void)
{
	static const char *const devs[] = { "d1", "d2", NULL };
	struct firmware_rec fw;
	size_t	 i;

	corefix_up(&f, "httpdev");
	corefix_device(&f, "d1", NULL, "s3cret-1");
	corefix_device(&f, "d2", NULL, "s3cret-2");
	corefix_device(&f, "d3", NULL, "s3cret-3");
	corefix_firmware(&f, "fw-1", "2.0.0", IMG1, &fw);
	corefix_firmware(&f, "fw-2", "3.0.0", 3000, NULL);
	corefix_job(&f, "j-1", "fw-1", devs);
	etag[0] = '"';
	for (i = 0; i < 32; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", fw.sha256[i]);
	strcat(etag, "\"");
	hd = httpdev_new(&f.cfg, f.core, NULL, NULL, NULL, 0);
	if (hd == NULL || (srv = httpdev_server(hd)) == NULL) {
		fprintf(stderr, "httpdev_new failed\n");
		exit(1);
	}
}

static void
teardown(void)
{
	httpdev_free(hd);
	corefix_down(&f);
}

/* Check and progress ------------------------------------------------------- */

static void
test_check(void)
{
	static const struct {
		const char *what, *method, *target, *fields, *body;
		int	 status;
		const char *www;	/* WWW-Authenticate, or NULL */
	} cases[] = {
		{ "no credentials", "POST", "/ota/d1/check", "", "{}", 401,
		  "Bearer realm=\"otagw\"" },
		{ "wrong secret", "POST", "/ota/d1/check",
		  "Authorization: Bearer nope\r\n", "{}", 401,
		  "Bearer realm=\"otagw\", error=\"invalid_token\"" },
		{ "another device's secret", "POST", "/ota/d1/check", AUTH2,
		  "{}", 401,
		  "Bearer realm=\"otagw\", error=\"invalid_token\"" },
		{ "Basic", "POST", "/ota/d1/check",
		  "Authorization: Basic ZDE6eA==\r\n", "{}", 401,
		  "Bearer realm=\"otagw\", error=\"invalid_token\"" },
		{ "Bearer, no token", "POST", "/ota/d1/check",
		  "Authorization: Bearer \r\n", "{}", 401,
		  "Bearer realm=\"otagw\", error=\"invalid_token\"" },
		{ "unknown device", "POST", "/ota/d9/check",
		  "Authorization: Bearer s3cret-9\r\n", "{}", 401, NULL },
		{ "GET", "GET", "/ota/d1/check", AUTH1, "", 405, NULL },
		{ "unknown route", "POST", "/ota/d1/reboot", AUTH1, "{}", 404,
		  NULL },
		{ "no device", "POST", "/ota//check", AUTH1, "{}", 404, NULL },
		{ "root", "GET", "/", AUTH1, "", 404, NULL },
		{ "bad device id", "POST", "/ota/d%2F1/check", AUTH1, "{}", 400,
		  NULL },
		{ "bad escape", "POST", "/ota/d%zz/check", AUTH1, "{}", 400,
		  NULL },
		{ "NUL escape", "POST", "/ota/d%001/check", AUTH1, "{}", 400,
		  NULL },
		{ "malformed JSON", "POST", "/ota/d1/check", AUTH1,
		  "{\"version\":", 400, NULL },
		{ "not an object", "POST", "/ota/d1/check", AUTH1, "[1,2]", 400,
		  NULL },
	};
	struct dresp r;
	size_t	 i;
	char	 big[5000];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		do1(req(cases[i].method, cases[i].target, cases[i].fields,
		    cases[i].body), &r);
		if (r.status != cases[i].status)
			fprintf(stderr, "check: %s: %d\n", cases[i].what,
			    r.status);
		T_EQ_INT(r.status, cases[i].status);
		T_CHECK(field_is(&r, "Content-Type", "application/json"));
		T_CHECK(r.body_len > 0 && r.body[0] == '{');
		if (cases[i].www != NULL)
			T_CHECK(field_is(&r, "WWW-Authenticate",
			    cases[i].www));
		if (cases[i].status == 405)
			T_CHECK(field_is(&r, "Allow", "POST"));
	}
	/* a body over max_body */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	T_EQ_INT(do1(req("POST", "/ota/d1/check", AUTH1, big), &r), 413);

	/* the device's check: the notice */
	T_EQ_INT(do1(req("POST", "/ota/d1/check", AUTH1,
	    "{\"version\":\"1.0.0\"}"), &r), 200);
	T_CHECK(field_is(&r, "Content-Type", "application/json"));
	T_CHECK(field_is(&r, "Cache-Control", "no-store"));
	r.body[r.body_len < sizeof(r.body) ? r.body_len : 0] = '\0';
	T_CHECK(strstr((char *)r.body, "\"job\":\"j-1\",\"firmware\":\"fw-1\"")
	    != NULL);
	T_CHECK(strstr((char *)r.body, "\"url\":\"https://") != NULL);
	T_CHECK(field(&r, "Content-Length") != NULL &&
	    (size_t)atoi(field(&r, "Content-Length")) == r.body_len);
	/* no body at all is a check too */
	T_EQ_INT(do1(req("POST", "/ota/d1/check", AUTH1, ""), &r), 200);
	/* a device with nothing to do: 204 */
	T_EQ_INT(do1(req("POST", "/ota/d3/check",
	    "Authorization: Bearer s3cret-3\r\n", "{\"version\":\"1.0.0\"}"),
	    &r), 204);
	T_EQ_INT(r.body_len, 0);
	T_CHECK(field(&r, "Content-Length") == NULL);
}

static void
test_progress(void)
{
	struct dresp r;

	T_EQ_INT(do1(req("POST", "/ota/d2/check", AUTH2, ""), &r), 200);
	T_EQ_INT(do1(req("POST", "/ota/d2/progress", AUTH2,
	    "{\"job\":\"j-1\",\"step\":10}"), &r), 204);
	T_CHECK(field_is(&r, "Cache-Control", "no-store"));
	T_EQ_INT(do1(req("POST", "/ota/d2/progress", AUTH2,
	    "{\"job\":\"j-1\",\"step\":101}"), &r), 400);
	T_EQ_INT(do1(req("POST", "/ota/d2/progress", AUTH2,
	    "{\"job\":\"j-9\",\"step\":5}"), &r), 404);
	T_EQ_INT(do1(req("POST", "/ota/d2/progress", AUTH1,
	    "{\"job\":\"j-1\",\"step\":20}"), &r), 401);
	T_EQ_INT(do1(req("GET", "/ota/d2/progress", AUTH2, ""), &r), 405);
}

/* Downloads ---------------------------------------------------------------- */

static void
test_download(void)
{
	char	 fields[512];
	struct dresp r;
	const char *ct;

	T_EQ_INT(do1(req("POST", "/ota/d1/check", AUTH1, ""), &r), 200);

	/* the whole image */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1, ""), &r), 200);
	T_EQ_INT(r.body_len, IMG1);
	T_CHECK(memcmp(r.body, f.image, IMG1) == 0);
	T_CHECK(field_is(&r, "Content-Length", "5000"));
	T_CHECK(field_is(&r, "Content-Type", "application/octet-stream"));
	T_CHECK(field_is(&r, "ETag", etag));
	T_CHECK(field_is(&r, "Accept-Ranges", "bytes"));
	T_CHECK(field(&r, "Repr-Digest") != NULL &&
	    strncmp(field(&r, "Repr-Digest"), "sha-256=:", 9) == 0);
	T_CHECK(field(&r, "Last-Modified") != NULL);
	/* the device named in the query instead */
	T_EQ_INT(do1(req("GET", "/fw/fw-1?device=d1", AUTH1, ""), &r), 200);
	T_EQ_INT(r.body_len, IMG1);
	/* HEAD: the length, no body */
	T_EQ_INT(do1(req("HEAD", "/fw/fw-1", AUTH1 DEV1, ""), &r), 200);
	T_CHECK(field_is(&r, "Content-Length", "5000"));
	T_EQ_INT(r.body_len, 0);

	/* one range */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=100-199\r\n", ""), &r), 206);
	T_CHECK(field_is(&r, "Content-Range", "bytes 100-199/5000"));
	T_EQ_INT(r.body_len, 100);
	T_CHECK(memcmp(r.body, f.image + 100, 100) == 0);
	/* the tail */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=-10\r\n", ""), &r), 206);
	T_CHECK(field_is(&r, "Content-Range", "bytes 4990-4999/5000"));
	T_CHECK(r.body_len == 10 && memcmp(r.body, f.image + 4990, 10) == 0);
	/* If-Range with the image's ETag: the range */
	snprintf(fields, sizeof(fields), AUTH1 DEV1 "Range: bytes=10-19\r\n"
	    "If-Range: %s\r\n", etag);
	T_EQ_INT(do1(req("GET", "/fw/fw-1", fields, ""), &r), 206);
	T_CHECK(r.body_len == 10 && memcmp(r.body, f.image + 10, 10) == 0);
	/* with another validator (a tag, weak, a date): the whole image */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=10-19\r\nIf-Range: \"other\"\r\n", ""), &r), 200);
	T_EQ_INT(r.body_len, IMG1);
	snprintf(fields, sizeof(fields), AUTH1 DEV1 "Range: bytes=10-19\r\n"
	    "If-Range: W/%s\r\n", etag);
	T_EQ_INT(do1(req("GET", "/fw/fw-1", fields, ""), &r), 200);
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1 "Range: bytes=10-19"
	    "\r\nIf-Range: Sat, 01 Jan 2050 00:00:00 GMT\r\n", ""), &r), 200);
	/* several ranges: multipart/byteranges */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=0-9,20-29\r\n", ""), &r), 206);
	ct = field(&r, "Content-Type");
	T_CHECK(ct != NULL && strncmp(ct, "multipart/byteranges; boundary=",
	    31) == 0);
	T_CHECK(memmem(r.body, r.body_len, "Content-Range: bytes 0-9/5000",
	    29) != NULL);
	T_CHECK(memmem(r.body, r.body_len, "Content-Range: bytes 20-29/5000",
	    31) != NULL);
	T_CHECK(memmem(r.body, r.body_len, f.image + 20, 10) != NULL);
	/* past the end */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=6000-\r\n", ""), &r), 416);
	T_CHECK(field_is(&r, "Content-Range", "bytes */5000"));
	/* a Range that is no range: ignored */
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: lines=1-2\r\n", ""), &r), 200);
	/* HEAD ignores Range */
	T_EQ_INT(do1(req("HEAD", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=0-1\r\n", ""), &r), 200);
	/* If-None-Match with the ETag: 304, no body */
	snprintf(fields, sizeof(fields), AUTH1 DEV1 "If-None-Match: %s\r\n",
	    etag);
	T_EQ_INT(do1(req("GET", "/fw/fw-1", fields, ""), &r), 304);
	T_EQ_INT(r.body_len, 0);
	T_CHECK(field_is(&r, "ETag", etag));
	T_EQ_INT(do1(req("GET", "/fw/fw-1", AUTH1 DEV1
	    "If-None-Match: \"other\"\r\n", ""), &r), 200);
}

static void
test_download_refused(void)
{
	static const struct {
		const char *what, *method, *target, *fields;
		int	 status;
	} cases[] = {
		{ "no credentials", "GET", "/fw/fw-1", DEV1, 401 },
		{ "no credentials, no device", "GET", "/fw/fw-1", "", 401 },
		{ "a token, no device", "GET", "/fw/fw-1", AUTH1, 401 },
		{ "wrong secret", "GET", "/fw/fw-1",
		  "Authorization: Bearer s3cret-2\r\n" DEV1, 401 },
		{ "Basic", "GET", "/fw/fw-1", "Authorization: Basic eA==\r\n"
		  DEV1, 401 },
		{ "unknown device", "GET", "/fw/fw-1?device=d9",
		  "Authorization: Bearer s3cret-9\r\n", 401 },
		{ "not offered yet (d2 has not checked)", "GET", "/fw/fw-1",
		  AUTH2 "X-Device-Id: d2\r\n", 403 },
		{ "another firmware", "GET", "/fw/fw-2", AUTH1 DEV1, 403 },
		{ "no job for d3", "GET", "/fw/fw-1",
		  "Authorization: Bearer s3cret-3\r\nX-Device-Id: d3\r\n",
		  403 },
		{ "unknown firmware", "GET", "/fw/fw-9", AUTH1 DEV1, 404 },
		{ "no firmware", "GET", "/fw/", AUTH1 DEV1, 404 },
		{ "a path below", "GET", "/fw/fw-1/x", AUTH1 DEV1, 404 },
		{ "bad firmware id", "GET", "/fw/..%2Ffw-1", AUTH1 DEV1, 400 },
		{ "bad device id", "GET", "/fw/fw-1", AUTH1
		  "X-Device-Id: d 1\r\n", 400 },
		{ "bad query device", "GET", "/fw/fw-1?device=%zz", AUTH1,
		  400 },
		{ "header and query differ", "GET", "/fw/fw-1?device=d2",
		  AUTH1 DEV1, 400 },
		{ "POST", "POST", "/fw/fw-1", AUTH1 DEV1, 405 },
	};
	struct dresp r;
	size_t	 i;

	T_EQ_INT(do1(req("POST", "/ota/d1/check", AUTH1, ""), &r), 200);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		do1(req(cases[i].method, cases[i].target, cases[i].fields,
		    ""), &r);
		if (r.status != cases[i].status)
			fprintf(stderr, "download: %s: %d\n", cases[i].what,
			    r.status);
		T_EQ_INT(r.status, cases[i].status);
		T_CHECK(field_is(&r, "Content-Type", "application/json"));
		T_CHECK(r.body_len > 0 && r.body[0] == '{');
		if (cases[i].status == 401)
			T_CHECK(field(&r, "WWW-Authenticate") != NULL);
		if (cases[i].status == 405)
			T_CHECK(field_is(&r, "Allow", "GET, HEAD"));
	}
}

/*
 * The grant: after d1's row fails, the connection that downloaded a
 * moment ago goes on for two seconds, with the same secret only; any
 * other connection is refused at once.
 */
static void
test_grant(void)
{
	struct dconn a, b;
	struct dresp r;
	const char *get = req("GET", "/fw/fw-1", AUTH1 DEV1
	    "Range: bytes=0-99\r\n", "");
	char	 get_copy[1024];

	snprintf(get_copy, sizeof(get_copy), "%s", get);
	T_EQ_INT(do1(req("POST", "/ota/d1/check", AUTH1, ""), &r), 200);
	dconn_open(&a);
	dconn_do(&a, get_copy, &r);
	T_EQ_INT(r.status, 206);
	/* the device gives up: no longer allowed */
	T_EQ_INT(do1(req("POST", "/ota/d1/progress", AUTH1,
	    "{\"job\":\"j-1\",\"step\":-2}"), &r), 204);
	T_EQ_INT(do1(get_copy, &r), 403);
	/* the same connection, a second later: the grant */
	f.now += 1000;
	dconn_do(&a, get_copy, &r);
	T_EQ_INT(r.status, 206);
	T_CHECK(r.body_len == 100 && memcmp(r.body, f.image, 100) == 0);
	/* but not with another secret */
	dconn_do(&a, req("GET", "/fw/fw-1", "Authorization: Bearer "
	    "wrong\r\n" DEV1 "Range: bytes=0-99\r\n", ""), &r);
	T_EQ_INT(r.status, 401);
	/* nor on another connection */
	dconn_open(&b);
	dconn_do(&b, get_copy, &r);
	T_EQ_INT(r.status, 403);
	dconn_close(&b);
	/* and not once it expired */
	f.now += 1500;
	dconn_do(&a, get_copy, &r);
	T_EQ_INT(r.status, 403);
	dconn_close(&a);
}

/* HTTP/2: a check and a download with the image's bytes in DATA frames. */
static void
test_h2(void)
{
	struct h2peer p;
	struct h2stream *st;
	nghttp2_nv nv[3];

	h2peer_open(&p, srv);
	nv[0] = h2peer_nv("authorization", "Bearer s3cret-2");
	nv[1] = h2peer_nv("x-device-id", "d2");
	st = h2peer_req(&p, "POST", "/ota/d2/check", nv, 1, "{}", 2, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_CHECK(st->body_len > 0 && st->body[0] == '{');
	st = h2peer_req(&p, "GET", "/fw/fw-1", nv, 2, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_EQ_INT(st->body_len, IMG1);
	T_CHECK(memcmp(st->body, f.image, IMG1) == 0);
	nv[2] = h2peer_nv("range", "bytes=4000-");
	st = h2peer_req(&p, "GET", "/fw/fw-1", nv, 3, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 206);
	T_CHECK(strstr(st->hdrs, "content-range: bytes 4000-4999/5000\n") !=
	    NULL);
	T_CHECK(st->body_len == 1000 &&
	    memcmp(st->body, f.image + 4000, 1000) == 0);
	st = h2peer_req(&p, "GET", "/fw/fw-1", nv + 1, 1, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 401);
	T_EQ_INT(p.srv_rc, 0);
	h2peer_close(&p);
}

/* Long polls --------------------------------------------------------------- */

static size_t
watchers(void)
{
	struct core_watch_stats ws;

	core_watch_stats(f.core, &ws);
	return ws.watchers;
}

/* A second of core's time, and the poll that answers waiting devices. */
static void
tick(void)
{
	f.now += 1000;
	core_watch_poll(f.core, f.now);
}

#define AUTH(n)	"Authorization: Bearer s3cret-" n "\r\n"

/*
 * POST /ota/{device}/check?wait=N: bad waits, a notice at once, a poll
 * answered when a job comes, one answered 204 when its wait ends, one
 * whose client goes away, one over HTTP/2, one not held at the limit.
 * Long because each poll is a short story of its own.
 */
static void
test_long_poll(void)
{
	static const char *const bad[] = {
		"wait=0", "wait=301", "wait=abc", "wait=", "wait", "wait=-1",
		"wait=1.5", "wait=5&wait=6", "wait=%35", "wait=99999999999",
	};
	static const char *const D3[] = { "d3", NULL };
	static const char *const D6[] = { "d6", NULL };
	struct dconn d;
	struct dresp r;
	struct h2peer p;
	struct h2stream *st;
	nghttp2_nv nv;
	char	 target[64];
	size_t	 i;

	for (i = 4; i <= 7; i++) {
		char	 id[8], secret[16];

		snprintf(id, sizeof(id), "d%zu", i);
		snprintf(secret, sizeof(secret), "s3cret-%zu", i);
		corefix_device(&f, id, NULL, secret);
	}
	/* bad waits: 400 at once, after authentication */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(target, sizeof(target), "/ota/d3/check?%s", bad[i]);
		if (do1(req("POST", target, AUTH("3"), "{}"), &r) != 400)
			fprintf(stderr, "long poll %s: %d\n", bad[i],
			    r.status);
		T_EQ_INT(r.status, 400);
		T_CHECK(r.body_len > 0 && strstr((char *)r.body,
		    "from 1 to 300") != NULL);
	}
	T_EQ_INT(do1(req("POST", "/ota/d3/check?wait=abc", "", "{}"), &r),
	    401);
	T_EQ_INT(watchers(), 0);

	/* a notice pending: answered at once */
	T_EQ_INT(do1(req("POST", "/ota/d1/check?x=1&wait=30", AUTH("1"),
	    "{}"), &r), 200);
	T_CHECK(strstr((char *)r.body, "\"job\":\"j-1\"") != NULL);
	T_EQ_INT(watchers(), 0);

	/* nothing pending: it waits; a job comes: 200 with the notice */
	dconn_open(&d);
	dconn_do(&d, req("POST", "/ota/d3/check?wait=30", AUTH("3"),
	    "{\"version\":\"1.0.0\"}"), &r);
	T_EQ_INT(r.status, 0);
	T_EQ_INT(watchers(), 1);
	tick();
	T_EQ_INT(dconn_next(&d, &r), 0);
	corefix_job(&f, "j-3", "fw-2", D3);
	tick();
	T_EQ_INT(watchers(), 0);
	T_EQ_INT(dconn_next(&d, &r), 200);
	T_CHECK(strstr((char *)r.body, "\"job\":\"j-3\"") != NULL);
	T_CHECK(field_is(&r, "Retry-After", "60"));
	T_CHECK(field_is(&r, "Cache-Control", "no-store"));
	T_CHECK(field_is(&r, "Content-Type", "application/json"));
	/* the connection goes on */
	dconn_do(&d, req("POST", "/ota/d3/check", AUTH("3"), "{}"), &r);
	T_EQ_INT(r.status, 200);
	dconn_close(&d);

	/* the wait ends: 204 with Retry-After */
	dconn_open(&d);
	dconn_do(&d, req("POST", "/ota/d4/check?wait=2", AUTH("4"), ""), &r);
	T_EQ_INT(r.status, 0);
	tick();
	T_EQ_INT(dconn_next(&d, &r), 0);
	tick();
	T_EQ_INT(dconn_next(&d, &r), 204);
	T_CHECK(field_is(&r, "Retry-After", "3600"));
	T_EQ_INT(watchers(), 0);
	dconn_close(&d);

	/* the client goes away: no watch is left */
	dconn_open(&d);
	dconn_do(&d, req("POST", "/ota/d5/check?wait=30", AUTH("5"), "{}"),
	    &r);
	T_EQ_INT(watchers(), 1);
	dconn_close(&d);
	T_EQ_INT(watchers(), 0);
	tick();

	/* HTTP/2: the stream waits, the others go on */
	h2peer_open(&p, srv);
	nv = h2peer_nv("authorization", "Bearer s3cret-6");
	st = h2peer_req(&p, "POST", "/ota/d6/check?wait=30", &nv, 1, "{}", 2,
	    1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 0);
	T_EQ_INT(watchers(), 1);
	corefix_job(&f, "j-6", "fw-2", D6);
	tick();
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_CHECK(st->body_len > 0 && memmem(st->body, st->body_len,
	    "\"job\":\"j-6\"", 11) != NULL);
	T_CHECK(strstr(st->hdrs, "retry-after: 60\n") != NULL);
	T_EQ_INT(watchers(), 0);
	h2peer_close(&p);

	/* push_max_watchers reached: a plain check, at once */
	f.cfg.push_max_watchers = 0;
	T_EQ_INT(do1(req("POST", "/ota/d7/check?wait=30", AUTH("7"), "{}"),
	    &r), 204);
	T_CHECK(field_is(&r, "Retry-After", "3600"));
	f.cfg.push_max_watchers = 10000;
}

/* The daemon stops: a waiting poll is answered 503 with Retry-After. */
static void
test_long_poll_drain(void)
{
	struct dconn d;
	struct dresp r;

	dconn_open(&d);
	dconn_do(&d, req("POST", "/ota/d5/check?wait=60", AUTH("5"), "{}"),
	    &r);
	T_EQ_INT(r.status, 0);
	T_EQ_INT(watchers(), 1);
	httpdev_drain(hd);
	T_EQ_INT(watchers(), 0);
	T_EQ_INT(dconn_next(&d, &r), 503);
	T_CHECK(field_is(&r, "Retry-After", "5"));
	T_CHECK(field_is(&r, "Connection", "close"));
	T_CHECK(strstr((char *)r.body, "\"error\":\"unavailable\"") != NULL);
	dconn_close(&d);
	/* a poll that comes while it stops is answered at once */
	T_EQ_INT(do1(req("POST", "/ota/d5/check?wait=60", AUTH("5"), "{}"),
	    &r), 204);
	T_EQ_INT(watchers(), 0);
}

int
main(void)
{
	log_init("test_httpdev", 1, LOG_LEVEL_WARN);

	setup();
	T_RUN(test_check);
	T_RUN(test_progress);
	teardown();
	setup();
	T_RUN(test_download);
	T_RUN(test_download_refused);
	teardown();
	setup();
	T_RUN(test_grant);
	teardown();
	setup();
	T_RUN(test_h2);
	teardown();
	setup();
	T_RUN(test_long_poll);
	T_RUN(test_long_poll_drain);
	teardown();
	return t_done();
}
