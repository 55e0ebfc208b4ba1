/*
 * admin.c: the admin API (CONTRACT §4, docs/admin-api.md) on its own HTTPS
 * listener, plus GET /metrics and GET /healthz.
 *
 * A translation layer like src/http/device.c, but towards src/ops: every
 * call is one ops function, so the API and `otactl --state' share every
 * rule and every message.  This file only routes (one table of method,
 * path pattern and handler: admin_routes), authenticates, turns query
 * strings and JSON bodies into ops parameters (src/codec does the JSON),
 * and ops results into JSON views and status codes:
 *
 *   enum ops_status -> ops_status_http() and {"error":ops_status_name(),
 *   "message":<the ops message>}
 *
 * Authentication: "Authorization: Bearer <token>", the token read from
 * admin_token_file at start and on SIGHUP.  Only its SHA-256 is kept; a
 * request's token is hashed and the digests compared with crypto_memcmp,
 * so the comparison takes the same time whatever the token and its length.
 * The token is never logged.  GET /healthz needs no token (liveness
 * probes); everything else does.
 *
 * The listener's limits are the ADMIN_* constants, with header_timeout
 * and max_connections_per_source from the configuration; the latter never
 * above half of ADMIN_MAX_CONNECTIONS, so that one peer cannot take every
 * slot and lock the operator out (admin_limits).
 *
 * Firmware uploads are streamed: the route's on_headers validates the
 * query and the announced size (ops_firmware_upload_begin: 413 before a
 * byte is read), on_body feeds ops_firmware_upload_write (MD5 and SHA-256
 * on the way; a body growing past firmware_max_size aborts with 413 and
 * the temporary image is removed), on_request stores it.  A client that
 * goes away mid-upload leaves nothing behind (on_close aborts).
 *
 * Firmware by URL (?url=&sha256=) runs fetch_firmware (src/relay/fetch.h)
 * on a worker thread with its own struct ops (the store is safe across
 * threads: MDB_NOTLS, one transaction per thread).  The HTTP server
 * answers every request from its callbacks, so the POST answers 202 with
 * a Location to poll; GET /api/v1/firmware/fetches/{id} answers 202 while
 * the fetch runs, then 201 with the firmware or the fetch's error.  The
 * thread wakes the event loop through an eventfd when it ends, and is
 * joined there.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin/admin.h"
#include "metrics/metrics.h"
#include "codec/codec.h"
#include "config.h"
#include "crypto/crypto.h"
#include "ev.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "log.h"
#include "ops/ops.h"
#include "relay/fetch.h"
#include "relay/relay.h"
#include "store/store.h"
#include "util/validate.h"

#define ADMIN_PREFIX		"/api/v1/"
#define ADMIN_CTYPE_JSON	"application/json"
#define ADMIN_CTYPE_METRICS	"text/plain; version=0.0.4; charset=utf-8"
#define ADMIN_REALM		"Bearer realm=\"otagw-admin\""
#define ADMIN_TOKEN_MAX		4096	/* bytes in the token file */
#define ADMIN_AUTH_MAX		8192	/* Authorization value looked at */

/* Server limits of the admin listener. */
#define ADMIN_MAX_BODY		(8u << 20)	/* JSON and CSV bodies */
#define ADMIN_MAX_HEADER_BYTES	16384
#define ADMIN_MAX_CONNECTIONS	64
#define ADMIN_MAX_STREAMS	32
#define ADMIN_IDLE_TIMEOUT	120
#define ADMIN_STALL_TIMEOUT	60
#define ADMIN_HANDSHAKE_TIMEOUT	10

/* Listing pages. */
#define ADMIN_LIMIT_DEFAULT	1000
#define ADMIN_LIMIT_MAX		10000
#define ADMIN_LIST_MAX		(256u << 20)	/* one list answer, bytes */

/* Fetches by URL. */
#define ADMIN_FETCH_RUNNING_MAX	4
#define ADMIN_FETCH_KEEP_MAX	32
#define ADMIN_FETCH_KEEP_MS	(15 * 60 * 1000)
#define ADMIN_URL_MAX		2048

#define ADMIN_PARAM_MAX		512	/* one decoded query value */

#define ADMIN_PATH_SEGS		6	/* segments after ADMIN_PREFIX */

enum admin_class {
	CLASS_2XX = 0,
	CLASS_3XX,
	CLASS_4XX,
	CLASS_5XX,
	CLASS_N,
};

struct admin;

/* One fetch by URL, shared between the loop and its worker thread. */
struct admin_fetch {
	struct admin_fetch *next;
	struct admin	*admin;
	char		 id[32];
	pthread_t	 thread;
	int		 started;	/* thread created */
	int		 joined;
	/* the thread's own copies */
	struct ops	 ops;
	char		 product[OTA_ID_MAX + 1];
	char		 version[OTA_ID_MAX + 1];
	char		 module[OTA_ID_MAX + 1];
	char		 name[OTA_UTF8_SIZE(OTA_NAME_MAX)];
	char		 description[OTA_UTF8_SIZE(OTA_DESC_MAX)];
	char		 sign[16];
	int		 has_name, has_description;
	char		 url[ADMIN_URL_MAX + 1];
	uint8_t		 sha256[32];
	char		 ca[CONFIG_PATH];
	/* written by the thread under admin->lock */
	int		 done;
	int		 status;	/* enum ops_status */
	struct ops_err	 err;
	struct firmware_rec fw;
	uint64_t	 got;
	uint64_t	 total;
	int64_t		 finished_ms;
};

struct admin {
	const struct config *cfg;
	struct store	*st;
	struct core	*core;
	struct ev	*ev;
	struct metrics	*metrics;
	struct relay	*relay;
	struct ops	 ops;
	struct http_server *srv;
	struct http_handler handler;	/* outlives srv */
	uint8_t		 token_hash[32];
	uint64_t	 responses[CLASS_N];
	uint64_t	 auth_failures;
	uint64_t	 uploads;
	/* fetches by URL */
	pthread_mutex_t	 lock;
	struct admin_fetch *fetches;
	unsigned	 fetch_seq;
	int		 wake_fd;
};

struct admin_route;

/* What on_headers found out about a request, kept until on_close. */
struct admin_req {
	const struct admin_route *route;	/* the call: path and method */
	char		 id[OTA_ID_MAX + 1];	/* {id} of the path */
	char		 dev[OTA_ID_MAX + 1];	/* {dev} of a job row */
	struct ops_upload *up;			/* streaming upload */
	struct http_resp *resp;			/* this request's answer */
	int		 status;		/* for the log line */
};

/*
 * Small helpers.
 */

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

/* Sends a malloc'd JSON text (taken) with status; 500 when json is NULL. */
static int
admin_json(struct http_resp *resp, int status, char *json)
{
	size_t	 len;

	if (json == NULL) {
		http_resp_status(resp, 500);
		return 500;
	}
	len = strlen(json);
	http_resp_status(resp, status);
	if (http_resp_header(resp, "Content-Type", ADMIN_CTYPE_JSON) == -1 ||
	    http_resp_header(resp, "Cache-Control", "no-store") == -1 ||
	    http_resp_body_take(resp, json, len) == -1) {
		http_resp_status(resp, 500);
		return 500;
	}
	return status;
}

static int	 admin_error(struct http_resp *, int, const char *, const char *,
    ...) __attribute__((format(printf, 4, 5)));

/* {"error":code,"message":...} with status. */
static int
admin_error(struct http_resp *resp, int status, const char *code,
    const char *fmt, ...)
{
	char	 msg[OPS_ERR_MAX + 64];
	char	*json;
	size_t	 len;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json = codec_error_encode(code, msg, &len);
	return admin_json(resp, status, json);
}

static int
admin_ops_error(struct http_resp *resp, const struct ops_err *err)
{
	return admin_error(resp, ops_status_http(err->status),
	    ops_status_name(err->status), "%s", err->msg[0] != '\0' ?
	    err->msg : "operation failed");
}

static int
admin_bad(struct http_resp *resp, const char *msg)
{
	return admin_error(resp, 400, "bad_request", "%s", msg);
}

/* A growing text buffer for list answers, capped. */
struct abuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 failed;
};

static void
abuf_add(struct abuf *b, const char *s, size_t n)
{
	size_t	 ncap;
	char	*np;

	if (b->failed)
		return;
	if (n > ADMIN_LIST_MAX || b->len + n + 1 > ADMIN_LIST_MAX) {
		b->failed = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
abuf_str(struct abuf *b, const char *s)
{
	abuf_add(b, s, strlen(s));
}

/* Adds one encoded item (taken) to an "items" array being built. */
static void
abuf_item(struct abuf *b, size_t *n, char *json)
{
	if (json == NULL) {
		b->failed = 1;
		return;
	}
	if ((*n)++ > 0)
		abuf_add(b, ",", 1);
	abuf_str(b, json);
	free(json);
}

/* Closes {"items":[... with "next" (ids need no escaping) and sends it. */
static int
abuf_send_list(struct http_resp *resp, struct abuf *b, const char *next)
{
	abuf_str(b, "],\"next\":");
	if (next != NULL && next[0] != '\0') {
		abuf_str(b, "\"");
		abuf_str(b, next);
		abuf_str(b, "\"}");
	} else
		abuf_str(b, "null}");
	if (b->failed) {
		free(b->p);
		return admin_error(resp, 500, "internal", "the list is too "
		    "large or memory ran out; page it with limit");
	}
	return admin_json(resp, 200, b->p);
}

/*
 * Query strings and paths.
 */

/*
 * Percent-decodes s[0..n) into out (size bytes); '+' is a space when plus
 * is set (query strings).  0, or -1 (bad escape, %00, too long).
 */
static int
pct_decode(const char *s, size_t n, char *out, size_t size, int plus)
{
	size_t	 i, o = 0;
	int	 h, l;

	for (i = 0; i < n; i++) {
		char	 c = s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			h = hex_digit((unsigned char)s[i + 1]);
			l = hex_digit((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The value of name in the query: 1 found (decoded into out), 0 absent,
 * -1 malformed, too long or given twice.
 */
static int
query_get(const char *query, const char *name, char *out, size_t size)
{
	const char *p = query, *amp, *eq;
	size_t	 nlen = strlen(name), klen;
	int	 found = 0;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		klen = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', klen);
		if ((eq != NULL ? (size_t)(eq - p) : klen) == nlen &&
		    strncmp(p, name, nlen) == 0) {
			if (found)
				return -1;
			found = 1;
			if (eq == NULL)
				out[0] = '\0';
			else if (pct_decode(eq + 1, klen - nlen - 1, out, size,
			    1) == -1)
				return -1;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return found;
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
		    pct_decode(p, n, seg[count], OTA_ID_MAX + 1, 0) == -1)
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
 * The token.
 */

/* Reads and hashes the token file; 0, or -1 with the reason logged. */
static int
admin_token_load(const char *path, uint8_t hash[32])
{
	char	 buf[ADMIN_TOKEN_MAX + 1];
	struct stat sb;
	ssize_t	 n;
	size_t	 len = 0, start = 0, i;
	int	 fd, rc = -1;

	if (path == NULL || path[0] == '\0') {
		log_warnx("admin: admin_token_file is not set");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warnx("admin: admin_token_file %s: %s (./quickstart.sh run "
		    "makes certs/admin.token)", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warnx("admin: admin_token_file %s can be read by other "
		    "users (chmod 600 it)", path);
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warnx("admin: admin_token_file %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == sizeof(buf) - 1) {
		log_warnx("admin: admin_token_file %s: longer than %d bytes",
		    path, ADMIN_TOKEN_MAX);
		goto out;
	}
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	if (start == len) {
		log_warnx("admin: admin_token_file %s is empty: the admin API "
		    "needs a token (e.g. openssl rand -hex 32 > %s)", path,
		    path);
		goto out;
	}
	for (i = start; i < len; i++)
		if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f) {
			log_warnx("admin: admin_token_file %s: the token must "
			    "be one word of printable characters", path);
			goto out;
		}
	crypto_sha256(buf + start, len - start, hash);
	rc = 0;
out:
	crypto_wipe(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* 1 when the request carries the admin token. */
static int
admin_authorized(struct admin *a, struct http_req *req)
{
	const char *h = http_req_header(req, "authorization");
	uint8_t	 got[32];
	size_t	 n;
	int	 ok;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && h[n - 1] == ' ')
		n--;
	if (n == 0 || n > ADMIN_AUTH_MAX)
		return 0;
	crypto_sha256(h, n, got);
	ok = crypto_memcmp(got, a->token_hash, sizeof(got)) == 0;
	crypto_wipe(got, sizeof(got));
	return ok;
}

/*
 * Devices.
 */

static int
admin_device_put(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct codec_device_put body;
	struct ops_device_params p;
	struct device_rec dev;
	struct ops_err err;
	char	 vstr[OTA_MODULES_MAX][2 * OTA_ID_MAX + 2];
	const char *versions[OTA_MODULES_MAX];
	const uint8_t *b;
	char	 msg[160];
	size_t	 len;
	unsigned i;
	int	 created = 0, status;

	b = http_req_body(req, &len);
	if (codec_device_put_decode(b, len, &body, msg, sizeof(msg)) != 0)
		return admin_bad(resp, msg);
	memset(&p, 0, sizeof(p));
	p.id = ar->id;
	p.product = body.has_product ? body.product : NULL;
	p.secret = body.has_secret ? body.secret : NULL;
	p.psk_hex = body.has_psk ? body.psk_hex : NULL;
	for (i = 0; i < body.nversions; i++) {
		snprintf(vstr[i], sizeof(vstr[i]), "%s=%s",
		    body.versions[i].module, body.versions[i].version);
		versions[i] = vstr[i];
	}
	p.nversions = body.nversions;
	p.versions = versions;
	if (ops_device_put(&a->ops, &p, &dev, &created, &err) != OPS_OK)
		status = admin_ops_error(resp, &err);
	else
		status = admin_json(resp, created ? 201 : 200,
		    codec_device_encode_api(&dev, NULL));
	crypto_wipe(&body, sizeof(body));
	crypto_wipe(&dev, sizeof(dev));
	return status;
}

static int
admin_device_import(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_import_result res;
	struct ops_err err;
	const char *ct = http_req_header(req, "content-type");
	const uint8_t *b;
	char	 out[128];
	size_t	 len;

	if (ct == NULL || strncasecmp(ct, "text/csv", 8) != 0 ||
	    (ct[8] != '\0' && ct[8] != ';' && ct[8] != ' '))
		return admin_bad(resp, "the import wants Content-Type: "
		    "text/csv (product,device,secret,psk per line)");
	b = http_req_body(req, &len);
	if (ops_device_import(&a->ops, (const char *)b, len, &res, &err) !=
	    OPS_OK)
		return admin_ops_error(resp, &err);
	len = (size_t)snprintf(out, sizeof(out), "{\"lines\":%zu,\"created\":"
	    "%zu,\"updated\":%zu}", res.lines, res.created, res.updated);
	return admin_json(resp, 200, strdup(out));
}

/* Parses limit= (default, at most ADMIN_LIMIT_MAX); 0 or -1. */
static int
query_limit(const char *q, size_t *limit)
{
	char	 v[32], *end;
	unsigned long long n;
	int	 r;

	*limit = ADMIN_LIMIT_DEFAULT;
	if ((r = query_get(q, "limit", v, sizeof(v))) == -1)
		return -1;
	if (r == 0)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] == '\0' || !isdigit((unsigned char)v[0]) || *end != '\0' ||
	    errno != 0 || n == 0)
		return -1;
	*limit = n > ADMIN_LIMIT_MAX ? ADMIN_LIMIT_MAX : (size_t)n;
	return 0;
}

struct devlist_ctx {
	struct abuf b;
	size_t	 n;
};

static int
devlist_cb(const struct device_rec *d, void *arg)
{
	struct devlist_ctx *c = arg;

	abuf_item(&c->b, &c->n, codec_device_encode_api(d, NULL));
	return c->b.failed;
}

static int
admin_device_list(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	const char *q = http_req_query(req);
	char	 product[OTA_ID_MAX + 1], module[OTA_ID_MAX + 1];
	char	 version[OTA_ID_MAX + 1], after[OTA_ID_MAX + 1];
	char	 next[OTA_ID_MAX + 1];
	struct ops_device_filter f;
	struct devlist_ctx c;
	struct ops_err err;
	int	 rp, rm, rv, ra;

	memset(&f, 0, sizeof(f));
	if ((rp = query_get(q, "product", product, sizeof(product))) == -1 ||
	    (rm = query_get(q, "module", module, sizeof(module))) == -1 ||
	    (rv = query_get(q, "version", version, sizeof(version))) == -1 ||
	    (ra = query_get(q, "after", after, sizeof(after))) == -1)
		return admin_bad(resp, "bad query: product, module, version, "
		    "after (each at most once, percent-encoded)");
	if (query_limit(q, &f.limit) == -1)
		return admin_bad(resp, "limit must be a number from 1");
	f.product = rp ? product : NULL;
	f.module = rm ? module : NULL;
	f.version = rv ? version : NULL;
	f.after = ra ? after : NULL;
	memset(&c, 0, sizeof(c));
	abuf_str(&c.b, "{\"items\":[");
	if (ops_device_list(&a->ops, &f, devlist_cb, &c, next, &err) !=
	    OPS_OK) {
		free(c.b.p);
		return admin_ops_error(resp, &err);
	}
	return abuf_send_list(resp, &c.b, next);
}

static int
admin_device_rm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_err err;

	if (ops_device_rm(&a->ops, ar->id, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	http_resp_status(resp, 204);
	return 204;
}

static int
admin_device_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct device_rec d;
	struct ops_err err;
	int	 status;

	if (ops_device_show(&a->ops, ar->id, &d, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	status = admin_json(resp, 200, codec_device_encode_api(&d, NULL));
	crypto_wipe(&d, sizeof(d));
	return status;
}

/*
 * Firmware.
 */

/* The upload's parameters from the query; NULL members when absent. */
struct fw_query {
	char	 product[OTA_ID_MAX + 1];
	char	 version[OTA_ID_MAX + 1];
	char	 module[OTA_ID_MAX + 1];
	char	 name[OTA_UTF8_SIZE(OTA_NAME_MAX)];
	char	 description[OTA_UTF8_SIZE(OTA_DESC_MAX)];
	char	 sign[16];
	char	 url[ADMIN_URL_MAX + 1];
	char	 sha256[72];
	int	 has[8];
};

static int
fw_query_parse(const char *q, struct fw_query *fq, struct ops_fw_params *p,
    char *msg, size_t msglen)
{
	static const char *const names[8] = { "product", "version", "module",
	    "name", "description", "signMethod", "url", "sha256" };
	char	*dst[8];
	size_t	 size[8];
	int	 i, r;

	memset(fq, 0, sizeof(*fq));
	dst[0] = fq->product, size[0] = sizeof(fq->product);
	dst[1] = fq->version, size[1] = sizeof(fq->version);
	dst[2] = fq->module, size[2] = sizeof(fq->module);
	dst[3] = fq->name, size[3] = sizeof(fq->name);
	dst[4] = fq->description, size[4] = sizeof(fq->description);
	dst[5] = fq->sign, size[5] = sizeof(fq->sign);
	dst[6] = fq->url, size[6] = sizeof(fq->url);
	dst[7] = fq->sha256, size[7] = sizeof(fq->sha256);
	for (i = 0; i < 8; i++) {
		if ((r = query_get(q, names[i], dst[i], size[i])) == -1) {
			snprintf(msg, msglen, "bad query parameter %s "
			    "(repeated, badly percent-encoded or too long)",
			    names[i]);
			return -1;
		}
		fq->has[i] = r;
	}
	if (!fq->has[0] || !fq->has[1]) {
		snprintf(msg, msglen, "product= and version= are required");
		return -1;
	}
	memset(p, 0, sizeof(*p));
	p->product = fq->product;
	p->version = fq->version;
	p->module = fq->has[2] ? fq->module : NULL;
	p->name = fq->has[3] ? fq->name : NULL;
	p->description = fq->has[4] ? fq->description : NULL;
	p->sign_method = fq->has[5] ? fq->sign : NULL;
	if (fq->has[3] && fq->name[0] == '\0') {
		snprintf(msg, msglen, "name= must not be empty");
		return -1;
	}
	return 0;
}

static int
fw_send(struct http_resp *resp, int status, const struct firmware_rec *fw,
    const struct jobs_counts *counts)
{

	return admin_json(resp, status, codec_firmware_encode(fw, counts,
	    NULL));
}

static int
admin_firmware_list(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_fw_item *items = NULL;
	struct ops_err err;
	struct abuf b;
	size_t	 i, n, k = 0;

	if (ops_firmware_list(&a->ops, &items, &n, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	memset(&b, 0, sizeof(b));
	abuf_str(&b, "{\"items\":[");
	for (i = 0; i < n; i++)
		abuf_item(&b, &k, codec_firmware_encode(&items[i].fw,
		    &items[i].counts, NULL));
	free(items);
	return abuf_send_list(resp, &b, NULL);
}

static int
admin_firmware_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_fw_item it;
	struct ops_err err;

	if (ops_firmware_show(&a->ops, ar->id, &it, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return fw_send(resp, 200, &it.fw, &it.counts);
}

/* PATCH: the name or the description; answers the firmware as GET. */
static int
admin_firmware_edit(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct codec_fw_edit e;
	struct ops_err err;
	const uint8_t *b;
	char	 msg[160];
	size_t	 len;

	b = http_req_body(req, &len);
	if (codec_fw_edit_decode(b, len, &e, msg, sizeof(msg)) != 0)
		return admin_bad(resp, msg);
	if (ops_firmware_edit(&a->ops, ar->id, e.has_name ? e.name : NULL,
	    e.has_description ? e.description : NULL, NULL, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_firmware_show(a, ar, req, resp);
}

static int
admin_firmware_rm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_err err;

	if (ops_firmware_rm(&a->ops, ar->id, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	http_resp_status(resp, 204);
	return 204;
}

/*
 * Firmware by URL: worker threads.
 */

static void
fetch_progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct admin_fetch *f = arg;

	pthread_mutex_lock(&f->admin->lock);
	f->got = done;
	f->total = total;
	pthread_mutex_unlock(&f->admin->lock);
}

static void *
fetch_thread(void *arg)
{
	struct admin_fetch *f = arg;
	struct ops_fw_params p;
	struct fetch_opts fo;
	struct firmware_rec fw;
	struct ops_err err;
	uint64_t one = 1;
	int	 rc;

	memset(&p, 0, sizeof(p));
	p.product = f->product;
	p.version = f->version;
	p.module = f->module[0] != '\0' ? f->module : NULL;
	p.name = f->has_name ? f->name : NULL;
	p.description = f->has_description ? f->description : NULL;
	p.sign_method = f->sign[0] != '\0' ? f->sign : NULL;
	memset(&fo, 0, sizeof(fo));
	fo.ca_file = f->ca;
	fo.progress = fetch_progress_cb;
	fo.arg = f;
	memset(&err, 0, sizeof(err));
	memset(&fw, 0, sizeof(fw));
	rc = fetch_firmware(&f->ops, &p, f->url, f->sha256, &fo, &fw, &err);
	if (rc == OPS_OK)
		log_info("admin: fetch %s: firmware %s from %s", f->id, fw.id,
		    f->url);
	else
		log_warnx("admin: fetch %s from %s failed: %s", f->id, f->url,
		    err.msg);
	pthread_mutex_lock(&f->admin->lock);
	f->status = rc;
	f->err = err;
	f->fw = fw;
	f->done = 1;
	f->finished_ms = time_now_ms();
	pthread_mutex_unlock(&f->admin->lock);
	/* wake the loop to join this thread */
	if (write(f->admin->wake_fd, &one, sizeof(one)) == -1)
		log_debug("admin: eventfd write: %s", strerror(errno));
	return NULL;
}

/* Joins finished threads and forgets fetches nobody asked about. */
static void
fetch_reap(struct admin *a, int all)
{
	struct admin_fetch **pp, *f;
	int64_t	 now = time_now_ms();
	int	 done;

	for (pp = &a->fetches; (f = *pp) != NULL;) {
		pthread_mutex_lock(&a->lock);
		done = f->done;
		pthread_mutex_unlock(&a->lock);
		if (f->started && !f->joined && (done || all)) {
			pthread_join(f->thread, NULL);
			f->joined = 1;
		}
		if (f->joined && (all || now - f->finished_ms >
		    ADMIN_FETCH_KEEP_MS)) {
			*pp = f->next;
			free(f);
			continue;
		}
		pp = &f->next;
	}
}

static void
fetch_wake_cb(int fd, uint32_t events, void *arg)
{
	struct admin *a = arg;
	uint64_t v;

	(void)events;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	fetch_reap(a, 0);
}

static void
fetch_counts(struct admin *a, unsigned *running, unsigned *kept)
{
	struct admin_fetch *f;

	*running = *kept = 0;
	pthread_mutex_lock(&a->lock);
	for (f = a->fetches; f != NULL; f = f->next) {
		if (!f->done)
			(*running)++;
		(*kept)++;
	}
	pthread_mutex_unlock(&a->lock);
}

static int
fetch_running_answer(struct http_resp *resp, const struct admin_fetch *f,
    uint64_t got, uint64_t total)
{
	char	 loc[96], body[256];

	snprintf(loc, sizeof(loc), ADMIN_PREFIX "firmware/fetches/%s", f->id);
	http_resp_header(resp, "Location", loc);
	http_resp_header(resp, "Retry-After", "1");
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"state\":"
	    "\"running\",\"done\":%" PRIu64 ",\"total\":%" PRIu64 ","
	    "\"location\":\"%s\"}", f->id, got, total, loc);
	return admin_json(resp, 202, strdup(body));
}

static int
fetch_start(struct admin *a, const struct fw_query *fq,
    struct http_resp *resp)
{
	struct admin_fetch *f;
	size_t	 n;
	unsigned running, kept;

	if (!fq->has[7] || !fq->has[6] || fq->url[0] == '\0')
		return admin_bad(resp, "a fetch needs url= and sha256=");
	if (strncmp(fq->url, "https://", 8) != 0)
		return admin_bad(resp, "url= must be an https:// URL");
	fetch_reap(a, 0);
	fetch_counts(a, &running, &kept);
	if (running >= ADMIN_FETCH_RUNNING_MAX)
		return admin_error(resp, 409, "conflict", "%u firmware fetches "
		    "are running already; try again when one ends", running);
	if (kept >= ADMIN_FETCH_KEEP_MAX)
		return admin_error(resp, 409, "conflict", "too many finished "
		    "fetches kept; try again in a few minutes");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return admin_error(resp, 500, "internal", "out of memory");
	f->admin = a;
	if (hex_decode(fq->sha256, f->sha256, sizeof(f->sha256), &n) != 0 ||
	    n != sizeof(f->sha256)) {
		free(f);
		return admin_bad(resp, "sha256= must be 64 hex digits");
	}
	ops_init(&f->ops, a->st, a->cfg);	/* the thread's own */
	snprintf(f->product, sizeof(f->product), "%s", fq->product);
	snprintf(f->version, sizeof(f->version), "%s", fq->version);
	snprintf(f->module, sizeof(f->module), "%s", fq->module);
	snprintf(f->name, sizeof(f->name), "%s", fq->name);
	snprintf(f->description, sizeof(f->description), "%s",
	    fq->description);
	snprintf(f->sign, sizeof(f->sign), "%s", fq->sign);
	f->has_name = fq->has[3];
	f->has_description = fq->has[4];
	snprintf(f->url, sizeof(f->url), "%s", fq->url);
	snprintf(f->ca, sizeof(f->ca), "%s", a->cfg->upstream_ca);
	snprintf(f->id, sizeof(f->id), "fetch-%u", ++a->fetch_seq);
	pthread_mutex_lock(&a->lock);
	f->next = a->fetches;
	a->fetches = f;
	pthread_mutex_unlock(&a->lock);
	if (pthread_create(&f->thread, NULL, fetch_thread, f) != 0) {
		pthread_mutex_lock(&a->lock);
		a->fetches = f->next;
		pthread_mutex_unlock(&a->lock);
		free(f);
		return admin_error(resp, 500, "internal", "cannot start the "
		    "fetch");
	}
	f->started = 1;
	log_info("admin: fetch %s started: %s", f->id, f->url);
	return fetch_running_answer(resp, f, 0, 0);
}

static int
admin_fetch_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct admin_fetch *f;
	struct firmware_rec fw;
	struct ops_err err;
	uint64_t got, total;
	int	 done, status;

	fetch_reap(a, 0);
	for (f = a->fetches; f != NULL; f = f->next)
		if (strcmp(f->id, ar->id) == 0)
			break;
	if (f == NULL)
		return admin_error(resp, 404, "not_found", "no fetch %s (kept "
		    "for %d minutes after it ends)", ar->id,
		    ADMIN_FETCH_KEEP_MS / 60000);
	pthread_mutex_lock(&a->lock);
	done = f->done;
	got = f->got;
	total = f->total;
	status = f->status;
	err = f->err;
	fw = f->fw;
	pthread_mutex_unlock(&a->lock);
	if (!done)
		return fetch_running_answer(resp, f, got, total);
	if (status != OPS_OK)
		return admin_ops_error(resp, &err);
	return fw_send(resp, 201, &fw, NULL);
}

/*
 * Firmware uploads, streamed: admin_firmware_upload_begin runs when the
 * head is in (query and announced size checked, 413 before a byte is
 * read; a fetch by URL answers at once), admin_on_body feeds the image to
 * ops, admin_firmware_upload_end stores it.
 */

/*
 * POST /api/v1/firmware, head: HTTP_STREAM for the body, or HTTP_RESPOND
 * with the answer made and its status in ar->status.
 */
static int
admin_firmware_upload_begin(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_fw_params p;
	struct fw_query fq;
	struct ops_err err;
	char	 msg[160];

	if (fw_query_parse(http_req_query(req), &fq, &p, msg,
	    sizeof(msg)) != 0) {
		ar->status = admin_bad(resp, msg);
		return HTTP_RESPOND;
	}
	if (fq.has[6] || fq.has[7]) {
		/* by URL: the body is ignored */
		ar->status = fetch_start(a, &fq, resp);
		return HTTP_RESPOND;
	}
	if (ops_firmware_upload_begin(&a->ops, &p,
	    http_req_content_length(req), &ar->up, &err) != OPS_OK) {
		ar->status = admin_ops_error(resp, &err);
		return HTTP_RESPOND;
	}
	return HTTP_STREAM;
}

/* POST /api/v1/firmware, the whole image in: stores it. */
static int
admin_firmware_upload_end(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct firmware_rec fw;
	struct ops_err err;
	int	 rc;

	if (ar->up == NULL)
		return admin_error(resp, 500, "internal", "upload lost");
	rc = ops_firmware_upload_finish(ar->up, &fw, &err);
	ar->up = NULL;
	if (rc != OPS_OK)
		return admin_ops_error(resp, &err);
	a->uploads++;
	return fw_send(resp, 201, &fw, NULL);
}

/*
 * Jobs.
 */

static int
job_send(struct http_resp *resp, int status, const struct ops_job_item *it,
    const struct codec_job_sel *sel)
{

	return admin_json(resp, status, codec_job_encode_api(&it->job,
	    &it->counts, sel, NULL));
}

static int
admin_job_create(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_job_result res;
	struct ops_job_item out;
	struct codec_job_sel sel;
	struct ops_err err;
	struct job_rec job;
	codec_id *devs = NULL;
	const char **v = NULL;
	const uint8_t *b;
	char	 msg[160];
	size_t	 len, n = 0, i;
	int	 status;

	b = http_req_body(req, &len);
	jobs_job_defaults(&job);
	if (codec_job_body_decode(b, len, &job, &devs, &n, msg,
	    sizeof(msg)) != 0)
		return admin_bad(resp, msg);
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		free(devs);
		return admin_error(resp, 500, "internal", "out of memory");
	}
	for (i = 0; i < n; i++)
		v[i] = devs[i];
	if (ops_job_create(&a->ops, &job, v, n, &out, &res, &err) != OPS_OK)
		status = admin_ops_error(resp, &err);
	else {
		sel.added = res.added;
		sel.skipped = res.skipped;
		sel.left_out = res.left_out;
		sel.superseded = res.superseded;
		status = job_send(resp, 201, &out, &sel);
	}
	free(v);
	free(devs);
	return status;
}

static int
admin_job_list(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_job_item *items = NULL;
	struct ops_err err;
	struct abuf b;
	size_t	 i, n, k = 0;

	if (ops_job_list(&a->ops, &items, &n, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	memset(&b, 0, sizeof(b));
	abuf_str(&b, "{\"items\":[");
	for (i = 0; i < n; i++)
		abuf_item(&b, &k, codec_job_encode_api(&items[i].job,
		    &items[i].counts, NULL, NULL));
	free(items);
	return abuf_send_list(resp, &b, NULL);
}

static int
admin_job_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct ops_job_item it;
	struct ops_err err;

	if (ops_job_show(&a->ops, ar->id, &it, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return job_send(resp, 200, &it, NULL);
}

static int
jdlist_cb(const struct jobdev_rec *jd, void *arg)
{
	struct devlist_ctx *c = arg;

	abuf_item(&c->b, &c->n, codec_jobdev_encode(jd, NULL));
	return c->b.failed;
}

static int
admin_job_devices(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	const char *q = http_req_query(req);
	char	 state[32], after[OTA_ID_MAX + 1], next[OTA_ID_MAX + 1];
	struct ops_jobdev_filter f;
	struct devlist_ctx c;
	struct ops_err err;
	size_t	 i;
	int	 rs, ra;

	memset(&f, 0, sizeof(f));
	f.state = -1;
	if ((rs = query_get(q, "state", state, sizeof(state))) == -1 ||
	    (ra = query_get(q, "after", after, sizeof(after))) == -1)
		return admin_bad(resp, "bad query: state, after (each at most "
		    "once)");
	if (query_limit(q, &f.limit) == -1)
		return admin_bad(resp, "limit must be a number from 1");
	if (rs && state[0] != '\0') {
		for (i = 0; state[i] != '\0'; i++)
			state[i] = state[i] == '-' ? '_' :
			    (char)toupper((unsigned char)state[i]);
		if (jobs_jd_state_parse(state, &f.state) == -1)
			return admin_bad(resp, "unknown state (want "
			    "WAIT_CONFIRM, QUEUED, NOTIFIED, UPGRADING, "
			    "SUCCEEDED, FAILED, RETRY_WAIT or CANCELED)");
	}
	f.after = ra ? after : NULL;
	memset(&c, 0, sizeof(c));
	abuf_str(&c.b, "{\"items\":[");
	if (ops_job_devices(&a->ops, ar->id, &f, jdlist_cb, &c, next, &err) !=
	    OPS_OK) {
		free(c.b.p);
		return admin_ops_error(resp, &err);
	}
	return abuf_send_list(resp, &c.b, next);
}

static int
admin_job_terminate(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	struct ops_job_item it;
	struct ops_err err;

	if (ops_job_terminate(&a->ops, ar->id, &it, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return job_send(resp, 200, &it, NULL);
}

/* One row of a job: cancel, retry or confirm, as fn does it. */
static int
job_row(struct admin *a, struct admin_req *ar, struct http_resp *resp,
    int (*fn)(struct ops *, const char *, const char *, struct jobdev_rec *,
    struct ops_err *))
{
	struct jobdev_rec jd;
	struct ops_err err;

	if (fn(&a->ops, ar->id, ar->dev, &jd, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	return admin_json(resp, 200, codec_jobdev_encode(&jd, NULL));
}

static int
admin_job_cancel(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, resp, ops_job_cancel);
}

static int
admin_job_retry(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, resp, ops_job_retry);
}

static int
admin_job_confirm(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	return job_row(a, ar, resp, ops_job_confirm);
}

/*
 * Relay status, health and metrics.
 */

static int
admin_relay_show(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct outbox_stats s;
	struct ops_err err;
	char	 body[512], agebuf[24];
	int64_t	 age = -1;
	int	 n;

	if (ops_relay_status(&a->ops, &s, &err) != OPS_OK)
		return admin_ops_error(resp, &err);
	if (s.depth > 0 && s.oldest_ts > 0) {
		age = (time_now_ms() - s.oldest_ts) / 1000;
		if (age < 0)
			age = 0;
	}
	if (age >= 0)
		snprintf(agebuf, sizeof(agebuf), "%" PRId64, age);
	else
		snprintf(agebuf, sizeof(agebuf), "null");
	n = snprintf(body, sizeof(body), "{\"depth\":%zu,\"oldestSeq\":%" PRIu64
	    ",\"oldestTs\":%" PRId64 ",\"oldestAgeSeconds\":%s,"
	    "\"lastSeq\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"parkedBatches\":"
	    "%" PRIu64 ",\"parkedEvents\":%zu,\"sent\":%" PRIu64 ",\"retries\":"
	    "%" PRIu64 "}", s.depth, s.oldest_seq, s.oldest_ts,
	    agebuf, s.last_seq, s.dropped, s.parked_batches, s.parked_events,
	    s.sent, s.retries);
	(void)n;
	return admin_json(resp, 200, strdup(body));
}

static int
admin_healthz(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp)
{
	struct store_txn *txn;
	size_t	 n = 0;
	int	 rc;

	if ((rc = store_txn_begin(a->st, 1, &txn)) == 0) {
		rc = store_device_count(txn, &n);
		store_txn_abort(txn);
	}
	if (rc != 0)
		return admin_json(resp, 503, strdup("{\"status\":"
		    "\"unavailable\",\"message\":\"the store cannot be read\"}"));
	return admin_json(resp, 200, strdup("{\"status\":\"ok\"}"));
}

static int
admin_metrics_show(struct admin *a, struct admin_req *ar,
    struct http_req *req, struct http_resp *resp)
{
	char	*text;
	size_t	 len;

	if ((text = metrics_render(a->metrics, &len)) == NULL)
		return admin_error(resp, 500, "internal", "metrics unavailable");
	http_resp_status(resp, 200);
	if (http_resp_header(resp, "Content-Type", ADMIN_CTYPE_METRICS) ==
	    -1 || http_resp_body_take(resp, text, len) == -1) {
		http_resp_status(resp, 500);
		return 500;
	}
	return 200;
}

/* Store figures, gathered in one read transaction. */
struct scrape {
	struct store_txn *txn;
	size_t	 fw[3];
	size_t	 jobs[5];
	size_t	 rows[JD_NSTATES];
	size_t	 nopen;
	char	 (*open)[OTA_ID_MAX + 1];
	size_t	 cap;
};

static int
scrape_fw_cb(const struct firmware_rec *fw, void *arg)
{
	struct scrape *s = arg;

	if (fw->state >= 0 && fw->state < 3)
		s->fw[fw->state]++;
	return 0;
}

static int
scrape_job_cb(const struct job_rec *j, void *arg)
{
	struct scrape *s = arg;
	char	 (*p)[OTA_ID_MAX + 1];

	if (j->state >= 0 && j->state < 5)
		s->jobs[j->state]++;
	if (j->state == JOB_COMPLETED || j->state == JOB_TERMINATED)
		return 0;
	if (s->nopen == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		if ((p = realloc(s->open, s->cap * sizeof(*p))) == NULL)
			return 1;
		s->open = p;
	}
	snprintf(s->open[s->nopen++], OTA_ID_MAX + 1, "%s", j->id);
	return 0;
}

static int
scrape_row_cb(const struct jobdev_rec *jd, void *arg)
{
	struct scrape *s = arg;

	if (jd->state >= 0 && jd->state < JD_NSTATES)
		s->rows[jd->state]++;
	return 0;
}

static void
admin_metrics_cb(void *arg, struct metrics_out *out)
{
	static const char *const cls[CLASS_N] = {
		"code=\"2xx\"", "code=\"3xx\"", "code=\"4xx\"", "code=\"5xx\"",
	};
	static const char *const fwst[3] = { "UNVERIFIED", "VERIFIED",
	    "VERIFY_FAILED" };
	struct admin *a = arg;
	struct http_server_stats hs;
	struct outbox_stats os;
	struct scrape s;
	char	 label[64];
	size_t	 ndev = 0, i;
	unsigned running, kept;
	double	 age = 0;
	int	 ok;

	memset(&s, 0, sizeof(s));
	memset(&os, 0, sizeof(os));
	ok = store_txn_begin(a->st, 1, &s.txn) == 0;
	if (ok) {
		ok = store_device_count(s.txn, &ndev) == 0 &&
		    store_firmware_iter(s.txn, scrape_fw_cb, &s) == 0 &&
		    store_job_iter(s.txn, scrape_job_cb, &s) == 0 &&
		    store_outbox_stats(s.txn, &os) == 0;
		/* rows of open jobs only: closed ones no longer move */
		for (i = 0; ok && i < s.nopen; i++)
			ok = store_jobdev_iter(s.txn, s.open[i], scrape_row_cb,
			    &s) == 0;
		store_txn_abort(s.txn);
	}
	free(s.open);
	metrics_gauge(out, "otagw_store_up", "1 when the store could be read "
	    "for this scrape.", "", ok ? 1 : 0);
	if (ok) {
		metrics_gauge(out, "otagw_devices", "Provisioned devices.", "",
		    (double)ndev);
		for (i = 0; i < 3; i++) {
			snprintf(label, sizeof(label), "state=\"%s\"",
			    fwst[i]);
			metrics_gauge(out, "otagw_firmware", "Firmware images "
			    "by state.", label, (double)s.fw[i]);
		}
		for (i = 0; i < 5; i++) {
			snprintf(label, sizeof(label), "state=\"%s\"",
			    jobs_state_name((int)i));
			metrics_gauge(out, "otagw_jobs", "Upgrade jobs by "
			    "state.", label, (double)s.jobs[i]);
		}
		for (i = 0; i < JD_NSTATES; i++) {
			snprintf(label, sizeof(label), "state=\"%s\"",
			    jobs_jd_state_name((int)i));
			metrics_gauge(out, "otagw_open_job_devices", "Devices "
			    "of open (scheduled, running, paused) jobs by "
			    "state.", label, (double)s.rows[i]);
		}
		metrics_gauge(out, "otagw_outbox_last_seq", "Last sequence "
		    "number handed out to an upstream event.", "",
		    (double)os.last_seq);
		if (a->relay == NULL) {
			/* the relay reports these itself when it runs */
			if (os.depth > 0 && os.oldest_ts > 0) {
				age = (double)(time_now_ms() - os.oldest_ts) /
				    1000.0;
				if (age < 0)
					age = 0;
			}
			metrics_gauge(out, "otagw_outbox_depth", "Events "
			    "waiting in the outbox.", "", (double)os.depth);
			metrics_gauge(out, "otagw_outbox_oldest_age_seconds",
			    "Age of the oldest event in the outbox.", "", age);
		}
	}
	for (i = 0; i < CLASS_N; i++)
		metrics_counter(out, "otagw_admin_responses_total", "Admin API "
		    "responses by status class.", cls[i],
		    (double)a->responses[i]);
	metrics_counter(out, "otagw_admin_auth_failures_total", "Admin API "
	    "requests refused with 401.", "", (double)a->auth_failures);
	metrics_counter(out, "otagw_admin_uploads_total", "Firmware images "
	    "uploaded through the admin API.", "", (double)a->uploads);
	fetch_counts(a, &running, &kept);
	metrics_gauge(out, "otagw_admin_fetches_running", "Firmware fetches by "
	    "URL running now.", "", (double)running);
	if (a->srv != NULL) {
		memset(&hs, 0, sizeof(hs));
		http_server_stats(a->srv, &hs);
		metrics_gauge(out, "otagw_admin_connections", "Open admin API "
		    "connections.", "", (double)hs.connections);
		metrics_gauge(out, "otagw_admin_h2_connections", "Open admin "
		    "API connections speaking HTTP/2.", "",
		    (double)hs.h2_connections);
		metrics_counter(out, "otagw_admin_accepted_total", "Admin API "
		    "connections accepted.", "", (double)hs.accepted);
		metrics_counter(out, "otagw_admin_requests_total", "Admin API "
		    "requests.", "", (double)hs.requests);
		metrics_counter(out, "otagw_admin_bytes_out_total", "Bytes sent "
		    "by the admin API.", "", (double)hs.bytes_out);
		metrics_counter(out, "otagw_admin_refused_total", "Admin API "
		    "connections closed at accept.", "reason=\"per_source\"",
		    (double)hs.refused_source);
		metrics_counter(out, "otagw_admin_refused_total", "Admin API "
		    "connections closed at accept.",
		    "reason=\"max_connections\"", (double)hs.refused_limit);
		metrics_counter(out, "otagw_admin_timeouts_total", "Admin API "
		    "connections closed for a slow handshake or request head.",
		    "phase=\"handshake\"", (double)hs.handshake_timeouts);
		metrics_counter(out, "otagw_admin_timeouts_total", "Admin API "
		    "connections closed for a slow handshake or request head.",
		    "phase=\"head\"", (double)hs.head_timeouts);
	}
}

/*
 * The HTTP handler.
 */

static void
admin_log(struct http_req *req, int status)
{
	const char *m = http_req_method(req);

	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		log_debug("admin: %s %s -> %d", m, http_req_path(req), status);
	else
		log_info("admin: %s %s -> %d", m, http_req_path(req), status);
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

typedef int admin_handler_fn(struct admin *, struct admin_req *,
    struct http_req *, struct http_resp *);

struct admin_route {
	const char	*method;
	const char	*pattern;
	int		 flags;
	admin_handler_fn *on_headers;	/* NULL: buffer the body */
	admin_handler_fn *handler;
};

static const struct admin_route admin_routes[] = {
	{ "GET", "/healthz", ROUTE_PUBLIC, NULL, admin_healthz },
	{ "GET", "/metrics", 0, NULL, admin_metrics_show },
	{ "GET", "/api/v1/devices", 0, NULL, admin_device_list },
	{ "POST", "/api/v1/devices/import", 0, NULL, admin_device_import },
	{ "GET", "/api/v1/devices/{id}", 0, NULL, admin_device_show },
	{ "PUT", "/api/v1/devices/{id}", 0, NULL, admin_device_put },
	{ "DELETE", "/api/v1/devices/{id}", 0, NULL, admin_device_rm },
	{ "GET", "/api/v1/firmware", 0, NULL, admin_firmware_list },
	{ "POST", "/api/v1/firmware", 0, admin_firmware_upload_begin,
	    admin_firmware_upload_end },
	{ "GET", "/api/v1/firmware/fetches/{id}", 0, NULL, admin_fetch_show },
	{ "GET", "/api/v1/firmware/{id}", 0, NULL, admin_firmware_show },
	{ "PATCH", "/api/v1/firmware/{id}", 0, NULL, admin_firmware_edit },
	{ "DELETE", "/api/v1/firmware/{id}", 0, NULL, admin_firmware_rm },
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
	return HTTP_RESPOND;
}

static int
admin_on_body(void *arg, struct http_req *req, const uint8_t *p, size_t n)
{
	struct admin *a = arg;
	struct admin_req *ar = http_req_user(req);
	struct ops_err err;

	if (ar == NULL || ar->up == NULL)
		return -1;
	if (ops_firmware_upload_write(ar->up, p, n, &err) == OPS_OK)
		return 0;
	ops_firmware_upload_abort(ar->up);	/* nothing left behind */
	ar->up = NULL;
	ar->status = admin_ops_error(ar->resp, &err);
	admin_count(a, ar->status);
	admin_log(req, ar->status);
	log_warnx("admin: firmware upload refused: %s", err.msg);
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
	if (ar->up != NULL) {
		/* the client went away mid-upload */
		log_info("admin: firmware upload abandoned");
		ops_firmware_upload_abort(ar->up);
	}
	http_req_set_user(req, NULL);
	free(ar);
}

/*
 * Life cycle.
 */

static int
admin_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/*
 * The admin listener's limits.  max_connections_per_source applies, but
 * never above half of its ADMIN_MAX_CONNECTIONS: one peer must not be
 * able to lock the operator out.
 */
static void
admin_limits(const struct config *cfg, struct http_limits *lim)
{
	unsigned per = cfg->max_conns_per_source;

	if (per == 0 || per > ADMIN_MAX_CONNECTIONS / 2)
		per = ADMIN_MAX_CONNECTIONS / 2;
	memset(lim, 0, sizeof(*lim));
	lim->max_body = ADMIN_MAX_BODY;
	lim->max_header_bytes = ADMIN_MAX_HEADER_BYTES;
	lim->max_connections = ADMIN_MAX_CONNECTIONS;
	lim->max_per_source = per;
	lim->max_streams = ADMIN_MAX_STREAMS;
	lim->idle_timeout_s = ADMIN_IDLE_TIMEOUT;
	lim->stall_timeout_s = ADMIN_STALL_TIMEOUT;
	lim->handshake_timeout_s = ADMIN_HANDSHAKE_TIMEOUT;
	lim->header_timeout_s = cfg->header_timeout;
}

struct admin *
admin_new(const struct config *cfg, struct store *st, struct core *core,
    struct ev *ev, struct tls_server *tls, struct metrics *metrics,
    struct relay *relay)
{
	struct admin *a;
	struct http_limits lim;

	if (!cfg->admin.enabled) {
		log_warnx("admin_listen is off");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("admin_new");
		return NULL;
	}
	a->wake_fd = -1;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		log_warnx("admin: mutex");
		free(a);
		return NULL;
	}
	a->cfg = cfg;
	a->st = st;
	a->core = core;
	a->ev = ev;
	a->metrics = metrics;
	a->relay = relay;
	ops_init(&a->ops, st, cfg);
	if (admin_token_load(cfg->admin_token_file, a->token_hash) == -1) {
		log_warnx("admin: not starting the admin API without a token");
		goto fail;
	}
	if (!admin_is_loopback(cfg->admin.host))
		log_warnx("admin: WARNING: admin_listen %s:%u is not a loopback "
		    "address: the admin API (full control of the gateway) is "
		    "reachable from the network, guarded only by its token",
		    cfg->admin.host[0] ? cfg->admin.host : "*",
		    cfg->admin.port);
	if ((a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("admin: eventfd");
		goto fail;
	}
	if (ev_fd_add(ev, a->wake_fd, EPOLLIN, fetch_wake_cb,
	    a) == -1) {
		log_warn("admin: ev_fd_add");
		close(a->wake_fd);
		a->wake_fd = -1;
		goto fail;
	}
	a->handler.on_headers = admin_on_headers;
	a->handler.on_body = admin_on_body;
	a->handler.on_request = admin_on_request;
	a->handler.on_close = admin_on_close;
	a->handler.arg = a;
	admin_limits(cfg, &lim);
	a->srv = http_server_new(ev, cfg->admin.host, cfg->admin.port, tls,
	    &lim, &a->handler, "admin");
	if (a->srv == NULL)
		goto fail;
	if (metrics != NULL && metrics_register(metrics, admin_metrics_cb,
	    a) == -1)
		log_warnx("admin: cannot register metrics");
	log_info("admin: API on %s:%u", cfg->admin.host[0] ? cfg->admin.host :
	    "*", cfg->admin.port);
	return a;
fail:
	admin_free(a);
	return NULL;
}

void
admin_free(struct admin *a)
{
	unsigned running, kept;

	if (a == NULL)
		return;
	http_server_free(a->srv);
	a->srv = NULL;
	fetch_counts(a, &running, &kept);
	if (running > 0)
		log_info("admin: waiting for %u firmware fetch%s to end",
		    running, running == 1 ? "" : "es");
	fetch_reap(a, 1);
	if (a->wake_fd != -1) {
		ev_fd_del(a->ev, a->wake_fd);
		close(a->wake_fd);
	}
	pthread_mutex_destroy(&a->lock);
	crypto_wipe(a->token_hash, sizeof(a->token_hash));
	free(a);
}

void
admin_set_config(struct admin *a, const struct config *cfg)
{
	struct http_limits lim;
	uint8_t	 h[32];

	if (a == NULL)
		return;
	a->cfg = cfg;
	ops_init(&a->ops, a->st, cfg);
	admin_limits(cfg, &lim);
	http_server_set_limits(a->srv, &lim);
	if (admin_token_load(cfg->admin_token_file, h) == 0) {
		memcpy(a->token_hash, h, sizeof(h));
		log_info("admin: token re-read from %s",
		    cfg->admin_token_file);
	} else
		log_warnx("admin: keeping the previous token");
	crypto_wipe(h, sizeof(h));
}
