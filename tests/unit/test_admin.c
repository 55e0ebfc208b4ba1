/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_admin.c: the admin API (src/admin) end to end, on detached
 * connections (src/http/conn.h) of a listener made with admin_new and no
 * TLS (admin_server), with a real store and core (corefix.h) and the
 * token in a file of a temporary directory.
 *
 * Requests go in as HTTP/1.1 bytes (and a few as HTTP/2 frames from an
 * nghttp2 client, h2peer.h) and the answers are read back and parsed,
 * and what a call changed is read back from the store:
 *
 *   - the token: none, a wrong one, another scheme, one with the
 *     wrong case of "Bearer" and spaces around it; 401 with
 *     WWW-Authenticate also for a path that names no call; /healthz
 *     (GET and HEAD) without one;
 *   - routing: 404 for an unknown path, 405 with Allow, in that order
 *     after 401;
 *   - devices: PUT (201, then 200 with versions merged; secret and PSK
 *     stored, never sent back), GET, DELETE, the list with a filter and
 *     pages, a new device without a product, bad JSON and unknown members
 *     (400, nothing stored);
 *   - the CSV import: created and updated, a bad line named in the 400
 *     with nothing stored, the wrong Content-Type;
 *   - firmware: an upload whose digests and stored image are compared
 *     with what was sent, GET and list, the same version again (409), a
 *     missing version, an image over firmware_max_size (413, no file
 *     left), PATCH, fetch by URL refused before any thread starts;
 *   - jobs: create (201 with the selection), list, show, rows, bad
 *     bodies, a batch on an unverified firmware (409), terminate;
 *   - a device's history after the terminate, in pages, and a product's
 *     version distribution, with their bad queries;
 *   - /metrics with the admin's and the store's figures.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin/admin.h"
#include "ev.h"
#include "http/conn.h"
#include "http/http.h"
#include "log.h"
#include "metrics/metrics.h"
#include "store/image.h"
#include "store/store.h"
#include "corefix.h"
#include "h2peer.h"
#include "t.h"

#define TOKEN		"adm1n-t0ken"
#define AUTH		"Authorization: Bearer " TOKEN "\r\n"
#define JSON		"Content-Type: application/json\r\n"
#define IMG		6000

static struct corefix f;
static struct ev *ev;
static struct metrics *mx;
static struct admin *adm;
static struct http_server *srv;
static char fwid[80];		/* the uploaded firmware's id */
static char jobid[80];		/* the job made by test_jobs */

/* HTTP/1.1 on a detached connection --------------------------------------- */

struct dresp {
	int	 status;
	char	 head[4096];	/* status line and fields */
	char	 body[65536];	/* NUL-terminated too */
	size_t	 body_len;
};

/* Sends one request on a connection of its own and reads its answer. */
static int
send_raw(const void *req, size_t len, struct dresp *r)
{
	static uint8_t out[131072];
	struct http_conn *c;
	const char *end;
	size_t	 n, hl, off;
	int	 i;

	memset(r, 0, sizeof(*r));
	if ((c = http_conn_new_detached(srv, 0)) == NULL)
		return 0;
	/* in pieces a socket could give, each parsed before the next */
	for (off = 0; off < len; off += n) {
		n = len - off < 16384 ? len - off : 16384;
		if (h1_recv(c, (const uint8_t *)req + off, n) != 0)
			goto out;
		for (i = 0; i < 8; i++)
			(void)h1_produce(c);
	}
	/* a call that runs off the loop is answered when it ends */
	admin_works_wait(adm);
	for (i = 0; i < 8; i++)
		(void)h1_produce(c);
	n = h2peer_conn_bytes(c, out, sizeof(out) - 1);
	out[n] = '\0';
	end = strstr((char *)out, "\r\n\r\n");
	if (end == NULL || sscanf((char *)out, "HTTP/1.1 %d ",
	    &r->status) != 1)
		goto out;
	hl = (size_t)(end + 2 - (char *)out);
	if (hl >= sizeof(r->head))
		hl = sizeof(r->head) - 1;
	memcpy(r->head, out, hl);
	r->body_len = n - (size_t)(end + 4 - (char *)out);
	if (r->body_len >= sizeof(r->body))
		r->body_len = sizeof(r->body) - 1;
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = '\0';
out:
	http_conn_free_detached(c);
	return r->status;
}

/* A request with these fields and a text body ("" for none). */
static int
do1(const char *method, const char *target, const char *fields,
    const char *body, struct dresp *r)
{
	static char buf[65536];
	int	 n;

	if (body[0] == '\0' && strcmp(method, "POST") != 0 &&
	    strcmp(method, "PUT") != 0 && strcmp(method, "PATCH") != 0)
		n = snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\n"
		    "Host: gw.test\r\n%s\r\n", method, target, fields);
	else
		n = snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\n"
		    "Host: gw.test\r\n%sContent-Length: %zu\r\n\r\n%s", method,
		    target, fields, strlen(body), body);
	return send_raw(buf, (size_t)n, r);
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

static int
has(const struct dresp *r, const char *text)
{
	if (strstr(r->body, text) != NULL)
		return 1;
	fprintf(stderr, "no %s in %s\n", text, r->body);
	return 0;
}

/* An error answer with this code. */
static int
is_error(const struct dresp *r, const char *code)
{
	char	 want[64];

	snprintf(want, sizeof(want), "{\"error\":\"%s\",\"message\":\"", code);
	return field_is(r, "Content-Type", "application/json") &&
	    strncmp(r->body, want, strlen(want)) == 0;
}

/* The string member name of a JSON answer into out ("" when absent). */
static const char *
member(const struct dresp *r, const char *name, char *out, size_t size)
{
	char	 key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\"%s\":\"", name);
	out[0] = '\0';
	if ((p = strstr(r->body, key)) != NULL) {
		p += strlen(key);
		if ((e = strchr(p, '"')) != NULL)
			snprintf(out, size, "%.*s", (int)(e - p), p);
	}
	return out;
}

/* The store ---------------------------------------------------------------- */

static int
device_get(const char *id, struct device_rec *d)
{
	struct store_txn *txn;
	int	 rc;

	if (store_txn_begin(f.st, 1, &txn) != 0)
		return -1;
	rc = store_device_get(txn, id, d);
	store_txn_abort(txn);
	return rc;
}

static int
count_firmware_cb(const struct firmware_rec *fw, void *arg)
{
	(void)fw;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
count_firmware(void)
{
	struct store_txn *txn;
	size_t	 n = 0;

	if (store_txn_begin(f.st, 1, &txn) != 0)
		return (size_t)-1;
	(void)store_firmware_iter(txn, count_firmware_cb, &n);
	store_txn_abort(txn);
	return n;
}

/* Files in DIR/images, temporary ones included. */
static size_t
count_images(void)
{
	char	 path[512];
	struct dirent *de;
	DIR	*d;
	size_t	 n = 0;

	snprintf(path, sizeof(path), "%s/images", f.dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Fixture ------------------------------------------------------------------ */

static void
setup(void)
{
	char	 path[512];
	int	 fd;

	corefix_up(&f, "admin");
	corefix_device(&f, "d1", NULL, NULL);
	corefix_device(&f, "d2", NULL, NULL);
	corefix_device(&f, "d3", NULL, NULL);
	snprintf(path, sizeof(path), "%s/admin.token", f.dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, "  " TOKEN "\n", strlen(TOKEN) + 3) !=
	    (ssize_t)strlen(TOKEN) + 3) {
		perror(path);
		exit(1);
	}
	close(fd);
	snprintf(f.cfg.admin_token_file, sizeof(f.cfg.admin_token_file),
	    "%s", path);
	f.cfg.admin.enabled = 1;
	f.cfg.firmware_max_size = 100000;
	if ((ev = ev_new()) == NULL || (mx = metrics_new()) == NULL ||
	    (adm = admin_new(&f.cfg, f.st, f.core, ev, NULL, mx,
	    NULL)) == NULL || (srv = admin_server(adm)) == NULL) {
		fprintf(stderr, "admin_new failed\n");
		exit(1);
	}
}

static void
teardown(void)
{
	admin_free(adm);
	metrics_free(mx);
	ev_free(ev);
	corefix_down(&f);
}

/* Tests -------------------------------------------------------------------- */

static void
test_auth_and_routes(void)
{
	static const struct {
		const char *what, *method, *target, *fields;
		int	 status;
		const char *allow;	/* for 405 */
	} cases[] = {
		{ "no token", "GET", "/api/v1/devices", "", 401, NULL },
		{ "wrong token", "GET", "/api/v1/devices",
		  "Authorization: Bearer nope\r\n", 401, NULL },
		{ "a longer token", "GET", "/api/v1/devices",
		  "Authorization: Bearer " TOKEN "x\r\n", 401, NULL },
		{ "Basic", "GET", "/api/v1/devices",
		  "Authorization: Basic YWRtaW46eA==\r\n", 401, NULL },
		{ "no token, no call", "GET", "/nothing", "", 401, NULL },
		{ "no token, metrics", "GET", "/metrics", "", 401, NULL },
		{ "bearer, spaces", "GET", "/api/v1/devices",
		  "Authorization: bearer   " TOKEN "  \r\n", 200, NULL },
		{ "unknown path", "GET", "/nothing", AUTH, 404, NULL },
		{ "unknown call", "GET", "/api/v1/gadgets", AUTH, 404, NULL },
		{ "too deep", "GET", "/api/v1/devices/d1/x", AUTH, 404, NULL },
		{ "POST devices", "POST", "/api/v1/devices", AUTH, 405,
		  "GET" },
		{ "PATCH device", "PATCH", "/api/v1/devices/d1", AUTH, 405,
		  "GET, PUT, DELETE" },
		{ "DELETE healthz", "DELETE", "/healthz", "", 405,
		  "GET, HEAD" },
		{ "healthz", "GET", "/healthz", "", 200, NULL },
		{ "healthz, wrong token", "GET", "/healthz",
		  "Authorization: Bearer nope\r\n", 200, NULL },
	};
	struct dresp r;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		do1(cases[i].method, cases[i].target, cases[i].fields, "",
		    &r);
		if (r.status != cases[i].status)
			fprintf(stderr, "%s: %d\n", cases[i].what, r.status);
		T_EQ_INT(r.status, cases[i].status);
		T_CHECK(field_is(&r, "Content-Type", "application/json"));
		T_CHECK(field_is(&r, "Cache-Control", "no-store"));
		if (r.status == 401) {
			T_CHECK(is_error(&r, "unauthorized"));
			T_CHECK(field_is(&r, "WWW-Authenticate",
			    "Bearer realm=\"otagw-admin\""));
		}
		if (r.status == 404)
			T_CHECK(is_error(&r, "not_found"));
		if (r.status == 405) {
			T_CHECK(is_error(&r, "method_not_allowed"));
			T_CHECK(field_is(&r, "Allow", cases[i].allow));
		}
	}
	T_EQ_INT(do1("GET", "/healthz", "", "", &r), 200);
	T_EQ_STR(r.body, "{\"status\":\"ok\"}");
	/* HEAD: the length of the GET, no body */
	T_EQ_INT(do1("HEAD", "/healthz", "", "", &r), 200);
	T_EQ_INT(r.body_len, 0);
	T_CHECK(field_is(&r, "Content-Length", "15"));
}

static void
test_devices(void)
{
	struct device_rec d;
	struct dresp r;

	T_EQ_INT(do1("PUT", "/api/v1/devices/dev-a", AUTH JSON,
	    "{\"product\":\"lamp\",\"secret\":\"hush-hush\",\"psk\":"
	    "\"00112233\",\"versions\":{\"default\":\"1.0.0\"}}", &r), 201);
	T_CHECK(has(&r, "\"id\":\"dev-a\",\"product\":\"lamp\""));
	T_CHECK(has(&r, "\"psk\":true"));
	T_CHECK(has(&r, "\"secret\":true"));
	T_CHECK(strstr(r.body, "hush") == NULL);
	T_CHECK(strstr(r.body, "00112233") == NULL);
	T_EQ_INT(device_get("dev-a", &d), 0);
	T_CHECK(d.psk_len == 4 && memcmp(d.psk, "\x00\x11\x22\x33", 4) == 0);
	T_EQ_INT(d.has_secret, 1);
	/* an update: versions merged, the rest kept */
	T_EQ_INT(do1("PUT", "/api/v1/devices/dev-a", AUTH JSON,
	    "{\"versions\":{\"boot\":\"0.9\"}}", &r), 200);
	T_CHECK(has(&r, "\"default\":\"1.0.0\""));
	T_CHECK(has(&r, "\"boot\":\"0.9\""));
	T_CHECK(has(&r, "\"psk\":true"));
	T_EQ_INT(do1("GET", "/api/v1/devices/dev-a", AUTH, "", &r), 200);
	T_CHECK(has(&r, "\"id\":\"dev-a\""));
	T_CHECK(has(&r, "\"boot\":\"0.9\""));
	/* refused: nothing stored */
	T_EQ_INT(do1("PUT", "/api/v1/devices/dev-b", AUTH JSON,
	    "{\"secret\":\"x\"}", &r), 400);
	T_CHECK(is_error(&r, "bad_request"));
	T_CHECK(has(&r, "product"));
	T_EQ_INT(do1("PUT", "/api/v1/devices/dev-b", AUTH JSON,
	    "{\"product\":\"lamp\",", &r), 400);
	T_EQ_INT(do1("PUT", "/api/v1/devices/dev-b", AUTH JSON,
	    "{\"product\":\"lamp\",\"colour\":\"red\"}", &r), 400);
	T_EQ_INT(do1("PUT", "/api/v1/devices/dev-b", AUTH JSON,
	    "{\"product\":\"lamp\",\"psk\":\"xyz\"}", &r), 400);
	T_EQ_INT(do1("PUT", "/api/v1/devices/bad%20id", AUTH JSON,
	    "{\"product\":\"lamp\"}", &r), 400);
	T_CHECK(device_get("dev-b", &d) != 0);
	T_EQ_INT(do1("GET", "/api/v1/devices/dev-b", AUTH, "", &r), 404);
	T_CHECK(is_error(&r, "not_found"));

	/* the list: d1, d2, d3, dev-a; in pages of two */
	T_EQ_INT(do1("GET", "/api/v1/devices?product=lamp&limit=2", AUTH,
	    "", &r), 200);
	T_CHECK(has(&r, "{\"items\":[{\"id\":\"d1\""));
	T_CHECK(has(&r, "\"next\":\"d2\"}"));
	T_EQ_INT(do1("GET", "/api/v1/devices?product=lamp&after=d2", AUTH,
	    "", &r), 200);
	T_CHECK(has(&r, "{\"items\":[{\"id\":\"d3\""));
	T_CHECK(has(&r, "\"id\":\"dev-a\""));
	T_CHECK(has(&r, "\"next\":null}"));
	T_EQ_INT(do1("GET", "/api/v1/devices?module=boot&version=0.9", AUTH,
	    "", &r), 200);
	T_CHECK(has(&r, "\"id\":\"dev-a\""));
	T_CHECK(strstr(r.body, "\"id\":\"d1\"") == NULL);
	T_EQ_INT(do1("GET", "/api/v1/devices?product=x&product=y", AUTH, "",
	    &r), 400);
	T_EQ_INT(do1("GET", "/api/v1/devices?limit=0", AUTH, "", &r), 400);

	/* removal */
	T_EQ_INT(do1("DELETE", "/api/v1/devices/dev-a", AUTH, "", &r), 204);
	T_EQ_INT(r.body_len, 0);
	T_CHECK(device_get("dev-a", &d) != 0);
	T_EQ_INT(do1("GET", "/api/v1/devices/dev-a", AUTH, "", &r), 404);
	T_EQ_INT(do1("DELETE", "/api/v1/devices/dev-a", AUTH, "", &r), 404);
}

#define CSV	"Content-Type: text/csv\r\n"

static void
test_import(void)
{
	struct device_rec d;
	struct dresp r;

	T_EQ_INT(do1("POST", "/api/v1/devices/import", AUTH CSV,
	    "product,device,secret,psk\n"
	    "lamp,imp-1,s1,\n"
	    "lamp,\"imp-2\",,00ff\n"
	    "\n"
	    "lamp,d1,,\n", &r), 200);
	T_EQ_STR(r.body, "{\"lines\":3,\"created\":2,\"updated\":1}");
	T_EQ_INT(device_get("imp-1", &d), 0);
	T_EQ_INT(d.has_secret, 1);
	T_EQ_INT(device_get("imp-2", &d), 0);
	T_CHECK(d.psk_len == 2 && d.psk[0] == 0 && d.psk[1] == 0xff);

	/* a bad line: 400 naming it, and nothing of the rest stored */
	T_EQ_INT(do1("POST", "/api/v1/devices/import", AUTH CSV,
	    "lamp,imp-3,,\n"
	    "lamp,imp-4,,\n"
	    "lamp,bad id!,,\n", &r), 400);
	T_CHECK(is_error(&r, "bad_request"));
	T_CHECK(has(&r, "line 3"));
	T_CHECK(device_get("imp-3", &d) != 0);
	T_CHECK(device_get("imp-4", &d) != 0);
	T_EQ_INT(do1("POST", "/api/v1/devices/import", AUTH CSV,
	    "lamp,imp-3,,\n\nlamp\n", &r), 400);
	T_CHECK(has(&r, "line 3"));
	T_EQ_INT(do1("POST", "/api/v1/devices/import", AUTH CSV,
	    "lamp,imp-3,,zz\n", &r), 400);
	T_CHECK(has(&r, "line 1"));
	/* not CSV */
	T_EQ_INT(do1("POST", "/api/v1/devices/import", AUTH JSON,
	    "lamp,imp-3,,\n", &r), 400);
	T_CHECK(has(&r, "text/csv"));
	T_CHECK(device_get("imp-3", &d) != 0);
	T_EQ_INT(do1("GET", "/api/v1/devices/import", AUTH, "", &r), 405);
	T_CHECK(field_is(&r, "Allow", "POST"));
}

/* POST /api/v1/firmware?query with len bytes of the image as the body. */
static int
upload(const char *query, size_t len, struct dresp *r)
{
	static char buf[IMG + 1024];
	int	 n;

	n = snprintf(buf, sizeof(buf), "POST /api/v1/firmware?%s HTTP/1.1\r\n"
	    "Host: gw.test\r\n" AUTH "Content-Type: application/octet-stream"
	    "\r\nContent-Length: %zu\r\n\r\n", query, len);
	if (len > IMG || (size_t)n + len > sizeof(buf))
		return 0;
	memcpy(buf + n, f.image, len);
	return send_raw(buf, (size_t)n + len, r);
}

/*
 * An image over firmware_max_size (100,000 bytes here): announced by
 * Content-Length, or in chunks that grow past it.
 */
static int
upload_big(int chunked, struct dresp *r)
{
	static const char head[] = "POST /api/v1/firmware?product=lamp&"
	    "version=4.0.0 HTTP/1.1\r\nHost: gw.test\r\n" AUTH;
	size_t	 len = 0, i, chunk = 10000, size = 150000;
	char	*buf;
	int	 status;

	if ((buf = malloc(size + 4096)) == NULL)
		return 0;
	len = (size_t)snprintf(buf, 4096, "%s%s", head, chunked ?
	    "Transfer-Encoding: chunked\r\n\r\n" :
	    "Content-Length: 150000\r\n\r\n");
	for (i = 0; i < size; i += chunk) {
		if (chunked)
			len += (size_t)sprintf(buf + len, "%zx\r\n", chunk);
		memset(buf + len, 0x5a, chunk);
		len += chunk;
		if (chunked)
			len += (size_t)sprintf(buf + len, "\r\n");
	}
	if (chunked)
		len += (size_t)sprintf(buf + len, "0\r\n\r\n");
	status = send_raw(buf, len, r);
	free(buf);
	return status;
}

static void
test_firmware(void)
{
	struct store_txn *txn;
	struct firmware_rec fw;
	const struct store_image *img;
	struct dresp r;
	uint8_t	 md5[16], sha[32];
	char	 hex[65], got[80], path[160];
	struct digest *dg;
	size_t	 i, nfw, nimg;

	dg = digest_new();
	digest_update(dg, f.image, IMG);
	digest_final(dg, md5, sha);
	digest_free(dg);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);

	T_EQ_INT(upload("product=lamp&version=3.0.0&name=lamp%2D3&"
	    "description=the+third", IMG, &r), 201);
	T_CHECK(has(&r, "\"product\":\"lamp\",\"module\":\"default\","
	    "\"version\":\"3.0.0\",\"name\":\"lamp-3\",\"description\":"
	    "\"the third\""));
	T_CHECK(has(&r, "\"size\":6000"));
	T_EQ_STR(member(&r, "sha256", got, sizeof(got)), hex);
	T_CHECK(has(&r, "\"state\":\"UNVERIFIED\""));
	snprintf(fwid, sizeof(fwid), "%s", member(&r, "id", got,
	    sizeof(got)));
	T_CHECK(fwid[0] != '\0');
	/* what is stored is what was sent */
	T_EQ_INT(store_txn_begin(f.st, 1, &txn), 0);
	T_EQ_INT(store_firmware_get(txn, fwid, &fw), 0);
	store_txn_abort(txn);
	T_EQ_INT(fw.size, IMG);
	T_CHECK(memcmp(fw.sha256, sha, 32) == 0);
	T_CHECK(memcmp(fw.md5, md5, 16) == 0);
	T_EQ_INT(store_image_open(f.st, fwid, &img), 0);
	T_CHECK(img != NULL && img->size == IMG &&
	    memcmp(img->data, f.image, IMG) == 0);
	store_image_unref(img);

	snprintf(path, sizeof(path), "/api/v1/firmware/%s", fwid);
	T_EQ_INT(do1("GET", path, AUTH, "", &r), 200);
	T_CHECK(has(&r, "\"counts\":"));
	T_CHECK(has(&r, "\"version\":\"3.0.0\""));
	T_EQ_INT(do1("GET", "/api/v1/firmware", AUTH, "", &r), 200);
	T_CHECK(has(&r, fwid));
	T_CHECK(has(&r, "\"next\":null}"));
	T_EQ_INT(do1("GET", "/api/v1/firmware/fw-none", AUTH, "", &r), 404);
	T_EQ_INT(do1("PATCH", path, AUTH JSON, "{\"name\":\"lamp-three\"}",
	    &r), 200);
	T_CHECK(has(&r, "\"name\":\"lamp-three\""));
	T_EQ_INT(do1("PATCH", path, AUTH JSON, "{\"size\":1}", &r), 400);

	/* refused uploads leave nothing behind */
	nfw = count_firmware();
	nimg = count_images();
	T_EQ_INT(upload("product=lamp&version=3.0.0", 100, &r), 409);
	T_CHECK(is_error(&r, "conflict"));
	T_EQ_INT(upload("product=lamp", 100, &r), 400);
	T_CHECK(has(&r, "version="));
	T_EQ_INT(upload("product=lamp&version=4.0.0&name=", 100, &r), 400);
	T_EQ_INT(upload("product=lamp&version=4.0.0&signMethod=CRC", 100,
	    &r), 400);
	T_EQ_INT(upload("product=lamp&version=4.0.0", 0, &r), 400);
	T_EQ_INT(upload_big(0, &r), 413);
	T_CHECK(is_error(&r, "too_large"));
	T_EQ_INT(upload_big(1, &r), 413);
	T_CHECK(is_error(&r, "too_large"));
	T_EQ_INT(count_firmware(), nfw);
	T_EQ_INT(count_images(), nimg);
	/* by URL: refused before any thread starts */
	T_EQ_INT(do1("POST", "/api/v1/firmware?product=lamp&version=4.0.0&"
	    "url=http%3A%2F%2Fexample.org%2Ffw", AUTH, "", &r), 400);
	T_EQ_INT(do1("POST", "/api/v1/firmware?product=lamp&version=4.0.0&"
	    "url=https%3A%2F%2Fexample.org%2Ffw&sha256=abc", AUTH, "", &r),
	    400);
	T_CHECK(has(&r, "64 hex digits"));
	T_EQ_INT(do1("GET", "/api/v1/firmware/fetches/fetch-1", AUTH, "",
	    &r), 404);
	T_EQ_INT(count_firmware(), nfw);
}

static void
test_jobs(void)
{
	struct dresp r;
	char	 body[512], path[160], got[80];

	/* an unverified firmware: a batch needs force */
	snprintf(body, sizeof(body), "{\"firmware\":\"%s\",\"kind\":\"batch\""
	    ",\"srcVersions\":[\"1.0.0\"]}", fwid);
	T_EQ_INT(do1("POST", "/api/v1/jobs", AUTH JSON, body, &r), 409);
	T_CHECK(is_error(&r, "conflict"));
	T_EQ_INT(do1("POST", "/api/v1/jobs", AUTH JSON, "{\"firmware\":", &r),
	    400);
	T_EQ_INT(do1("POST", "/api/v1/jobs", AUTH JSON,
	    "{\"firmware\":\"fw-none\",\"kind\":\"verify\"}", &r), 404);
	snprintf(body, sizeof(body), "{\"firmware\":\"%s\",\"kind\":\"verify\""
	    ",\"color\":1}", fwid);
	T_EQ_INT(do1("POST", "/api/v1/jobs", AUTH JSON, body, &r), 400);
	snprintf(body, sizeof(body), "{\"firmware\":\"%s\",\"kind\":\"verify\""
	    ",\"timeoutMinutes\":1}", fwid);
	T_EQ_INT(do1("POST", "/api/v1/jobs", AUTH JSON, body, &r), 400);
	T_EQ_INT(do1("GET", "/api/v1/jobs", AUTH, "", &r), 200);
	T_EQ_STR(r.body, "{\"items\":[],\"next\":null}");

	snprintf(body, sizeof(body), "{\"firmware\":\"%s\",\"kind\":\"verify\""
	    ",\"scope\":\"devices\",\"devices\":[\"d1\",\"d2\"]}", fwid);
	T_EQ_INT(do1("POST", "/api/v1/jobs", AUTH JSON, body, &r), 201);
	T_CHECK(has(&r, "\"selection\":{\"added\":2,"));
	T_CHECK(has(&r, "\"state\":\"RUNNING\""));
	snprintf(jobid, sizeof(jobid), "%s", member(&r, "id", got,
	    sizeof(got)));
	T_CHECK(jobid[0] != '\0');

	T_EQ_INT(do1("GET", "/api/v1/jobs", AUTH, "", &r), 200);
	T_CHECK(has(&r, jobid));
	snprintf(path, sizeof(path), "/api/v1/jobs/%s", jobid);
	T_EQ_INT(do1("GET", path, AUTH, "", &r), 200);
	T_CHECK(has(&r, "\"counts\":"));
	T_CHECK(strstr(r.body, "\"selection\"") == NULL);
	snprintf(path, sizeof(path), "/api/v1/jobs/%s/devices", jobid);
	T_EQ_INT(do1("GET", path, AUTH, "", &r), 200);
	T_CHECK(has(&r, "\"d1\""));
	T_CHECK(has(&r, "\"d2\""));
	T_CHECK(strstr(r.body, "\"d3\"") == NULL);
	snprintf(path, sizeof(path), "/api/v1/jobs/%s/devices?state=failed",
	    jobid);
	T_EQ_INT(do1("GET", path, AUTH, "", &r), 200);
	T_EQ_STR(r.body, "{\"items\":[],\"next\":null}");
	T_EQ_INT(do1("GET", "/api/v1/jobs/j-none", AUTH, "", &r), 404);
	/* a firmware in use by an open job stays */
	snprintf(path, sizeof(path), "/api/v1/firmware/%s", fwid);
	T_EQ_INT(do1("DELETE", path, AUTH, "", &r), 409);
	snprintf(path, sizeof(path), "/api/v1/jobs/%s/terminate", jobid);
	T_EQ_INT(do1("POST", path, AUTH, "", &r), 200);
	T_CHECK(has(&r, "\"state\":\"TERMINATED\""));
	T_EQ_INT(do1("GET", path, AUTH, "", &r), 405);
	T_EQ_INT(do1("POST", path, AUTH, "", &r), 409);
}

/* After test_jobs: d1 and d2 failed as terminated; the versions. */
static void
test_history_versions(void)
{
	struct dresp r;
	char	 want[512];

	T_EQ_INT(do1("GET", "/api/v1/devices/d1/history", AUTH, "", &r), 200);
	snprintf(want, sizeof(want), "{\"items\":[{\"seq\":1,"
	    "\"device\":\"d1\",\"job\":\"%s\",\"firmware\":\"%s\","
	    "\"module\":\"default\",\"from\":\"1.0.0\",\"to\":\"3.0.0\","
	    "\"state\":\"FAILED\",\"reason\":\"terminated\"", jobid, fwid);
	T_CHECK(strncmp(r.body, want, strlen(want)) == 0);
	T_CHECK(has(&r, "\"next\":null}"));
	T_EQ_INT(do1("GET", "/api/v1/devices/d3/history", AUTH, "", &r), 200);
	T_EQ_STR(r.body, "{\"items\":[],\"next\":null}");
	T_EQ_INT(do1("GET", "/api/v1/devices/d1/history?after=1", AUTH, "",
	    &r), 200);
	T_EQ_STR(r.body, "{\"items\":[],\"next\":null}");
	T_EQ_INT(do1("GET", "/api/v1/devices/d1/history?after=x", AUTH, "",
	    &r), 400);
	T_EQ_INT(do1("GET", "/api/v1/devices/d1/history?limit=0", AUTH, "",
	    &r), 400);
	T_EQ_INT(do1("GET", "/api/v1/devices/none/history", AUTH, "", &r),
	    404);
	T_EQ_INT(do1("DELETE", "/api/v1/devices/d1/history", AUTH, "", &r),
	    405);
	T_CHECK(field_is(&r, "Allow", "GET"));

	T_EQ_INT(do1("GET", "/api/v1/products/lamp/versions", AUTH, "", &r),
	    200);
	T_CHECK(has(&r, "{\"product\":\"lamp\",\"module\":\"default\","
	    "\"versions\":[{\"version\":\"1.0.0\",\"devices\":3}]"));
	T_EQ_INT(do1("GET", "/api/v1/products/lamp/versions?module=boot",
	    AUTH, "", &r), 200);
	T_CHECK(has(&r, "\"module\":\"boot\",\"versions\":[]"));
	T_EQ_INT(do1("GET", "/api/v1/products/none/versions", AUTH, "", &r),
	    200);
	T_EQ_STR(r.body, "{\"product\":\"none\",\"module\":\"default\","
	    "\"versions\":[],\"unreported\":0,\"total\":0}");
	T_EQ_INT(do1("GET", "/api/v1/products/lamp/versions?module=a%2Fb",
	    AUTH, "", &r), 400);
	T_EQ_INT(do1("GET", "/api/v1/products/bad%20p/versions", AUTH, "",
	    &r), 400);
	T_EQ_INT(do1("GET", "/api/v1/products/lamp", AUTH, "", &r), 404);
}

/* The value of a sample line "name value" in r's body, or -1. */
static double
sample(const struct dresp *r, const char *name)
{
	char	 key[160];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	if ((p = strstr(r->body, key)) == NULL)
		return -1;
	return strtod(p + strlen(key), NULL);
}

static void
test_metrics(void)
{
	struct dresp r;

	T_EQ_INT(do1("GET", "/metrics", AUTH, "", &r), 200);
	T_CHECK(field_is(&r, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8"));
	T_CHECK(has(&r, "# TYPE otagw_store_up gauge\n"));
	T_EQ_INT(sample(&r, "otagw_store_up"), 1);
	/* d1, d2, d3, imp-1, imp-2 */
	T_EQ_INT(sample(&r, "otagw_devices"), 5);
	/* the verify job was terminated: its firmware failed verification */
	T_EQ_INT(sample(&r, "otagw_firmware{state=\"VERIFY_FAILED\"}"), 1);
	T_EQ_INT(sample(&r, "otagw_firmware{state=\"UNVERIFIED\"}"), 0);
	T_EQ_INT(sample(&r, "otagw_jobs{state=\"TERMINATED\"}"), 1);
	/* the 401s of test_auth_and_routes */
	T_EQ_INT(sample(&r, "otagw_admin_auth_failures_total"), 6);
	T_CHECK(sample(&r, "otagw_admin_responses_total{code=\"2xx\"}") >
	    10);
	T_EQ_INT(sample(&r, "otagw_admin_uploads_total"), 1);
	T_CHECK(has(&r, "# HELP otagw_admin_fetches_running "));
}

/* HTTP/2 on the same listener: the token, a call, /healthz. */
static void
test_h2(void)
{
	struct h2peer p;
	struct h2stream *st;
	nghttp2_nv nv[2];

	h2peer_open(&p, srv);
	nv[0] = h2peer_nv("authorization", "Bearer " TOKEN);
	st = h2peer_req(&p, "GET", "/api/v1/devices/d1", nv, 1, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	T_CHECK(st->body_len > 0 && memmem(st->body, st->body_len,
	    "\"id\":\"d1\"", 9) != NULL);
	st = h2peer_req(&p, "GET", "/api/v1/devices/d1", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 401);
	T_CHECK(strstr(st->hdrs, "www-authenticate: Bearer "
	    "realm=\"otagw-admin\"\n") != NULL);
	st = h2peer_req(&p, "GET", "/healthz", NULL, 0, NULL, 0, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 200);
	nv[1] = h2peer_nv("content-type", "application/json");
	st = h2peer_req(&p, "PUT", "/api/v1/devices/h2-dev", nv, 2,
	    "{\"product\":\"lamp\"}", 18, 1);
	h2peer_pump(&p);
	T_EQ_INT(st->status, 201);
	T_EQ_INT(p.srv_rc, 0);
	h2peer_close(&p);
}

int
main(void)
{
	log_init("test_admin", 1, LOG_LEVEL_WARN);

	setup();
	T_RUN(test_auth_and_routes);
	T_RUN(test_devices);
	T_RUN(test_import);
	T_RUN(test_firmware);
	T_RUN(test_jobs);
	T_RUN(test_history_versions);
	T_RUN(test_metrics);
	T_RUN(test_h2);
	teardown();
	return t_done();
}
