/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * apiclient.c: otactl's client of the admin API (see apiclient.h and
 * docs/admin-api.md).
 *
 * Every call builds one request (a path with a percent-encoded query, and
 * a JSON, CSV or image body), sends it over a fresh TLS connection
 * (src/tls with ALPN http/1.1, verified against --ca or the system's CA
 * store and the URL's host), reads the answer whole (capped), and decodes
 * it with the codec's view decoders into the very records src/ops fills.
 * Error answers {"error","message"} become the ops status of their HTTP
 * status and the daemon's message.  Lists are paged: the client asks for
 * pages of at most 1000 and follows "next" until the caller's limit.
 *
 * One connection per request keeps this simple and is cheap next to the
 * work behind each call; `job show --watch' makes two requests a second.
 * A connection that breaks (otactl ignores SIGPIPE, see otactl.c) is an
 * OPS_EIO whose message says where it broke and why: during the TLS
 * handshake, while sending, or before the answer was complete.  A write
 * that fails is followed by a read, since the daemon may have answered
 * (413) before closing.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ctl/apiclient.h"
#include "crypto/sigkey.h"
#include "jobs/jobs.h"
#include "tls/tls.h"
#include "util/validate.h"

#define API_TOKEN_MAX	4096
#define API_HEAD_MAX	65536		/* response head */
#define API_BODY_MAX	(512u << 20)	/* response body */
#define API_TIMEOUT_MS	120000		/* no progress for this long */
#define API_PAGE	1000		/* list page size asked for */
#define API_PATH_MAX	8192
#define API_IO_CHUNK	65536

struct api {
	char	 host[256];		/* without brackets */
	char	 port[8];
	char	 hosthdr[300];		/* Host: value */
	char	 prefix[512];		/* path before /api/v1, no trailing / */
	char	*token;
	struct tls_client *tls;
};

/* One connection. */
struct aconn {
	int	 fd;
	struct tls_conn *tls;
	const char *peer;		/* host:port, for messages */
	int	 err;			/* errno of the last failure, or 0 */
};

/* An answer. */
struct aresp {
	int	 status;
	char	*body;
	size_t	 len;
	char	 location[512];
};

static int	 efail(struct ops_err *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
efail(struct ops_err *err, int status, const char *fmt, ...)
{
	va_list	 ap;

	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return status;
}

static int
eok(struct ops_err *err)
{
	err->status = OPS_OK;
	err->msg[0] = '\0';
	return OPS_OK;
}

/*
 * Set-up.
 */

static char *
token_read(const char *path, char *err, size_t errlen)
{
	char	 buf[API_TOKEN_MAX + 1], *tok = NULL;
	size_t	 len = 0, start = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "--token-file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	for (n = (ssize_t)start; n < (ssize_t)len; n++)
		if ((unsigned char)buf[n] <= 0x20 || buf[n] == 0x7f)
			break;
	if (start == len)
		snprintf(err, errlen, "--token-file %s is empty", path);
	else if (n < (ssize_t)len)
		snprintf(err, errlen, "--token-file %s: the token must be one "
		    "word of printable characters", path);
	else if (len == sizeof(buf) - 1)
		snprintf(err, errlen, "--token-file %s: too long", path);
	else if ((tok = strndup(buf + start, len - start)) == NULL)
		snprintf(err, errlen, "out of memory");
	crypto_wipe(buf, sizeof(buf));
	return tok;
}

/* https://host[:port][/prefix] */
static int
url_parse(struct api *a, const char *url, char *err, size_t errlen)
{
	const char *p, *h, *he, *slash;
	size_t	 n;
	long	 port = 443;
	char	*end;

	if (strncasecmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "--url must be https://HOST[:PORT]");
		return -1;
	}
	p = url + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (*p == '[') {
		h = p + 1;
		if ((he = memchr(h, ']', (size_t)(slash - h))) == NULL)
			goto bad;
		p = he + 1;
	} else {
		h = p;
		he = memchr(p, ':', (size_t)(slash - p));
		if (he == NULL)
			he = slash;
		p = he;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= sizeof(a->host))
		goto bad;
	memcpy(a->host, h, n);
	a->host[n] = '\0';
	if (*p == ':') {
		errno = 0;
		port = strtol(p + 1, &end, 10);
		if (end != slash || errno != 0 || port < 1 || port > 65535)
			goto bad;
	} else if (p != slash)
		goto bad;
	snprintf(a->port, sizeof(a->port), "%ld", port);
	if (strchr(a->host, ':') != NULL)
		snprintf(a->hosthdr, sizeof(a->hosthdr), "[%s]:%ld", a->host,
		    port);
	else
		snprintf(a->hosthdr, sizeof(a->hosthdr), "%s:%ld", a->host,
		    port);
	n = strlen(slash);
	while (n > 0 && slash[n - 1] == '/')
		n--;
	if (n >= sizeof(a->prefix) || memchr(slash, '?', n) != NULL)
		goto bad;
	memcpy(a->prefix, slash, n);
	a->prefix[n] = '\0';
	return 0;
bad:
	snprintf(err, errlen, "--url %s: want https://HOST[:PORT][/PATH]",
	    url);
	return -1;
}

struct api *
api_new(const char *url, const char *token_file, const char *ca, char *err,
    size_t errlen)
{
	struct api *a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (url_parse(a, url, err, errlen) == -1)
		goto fail;
	if ((a->token = token_read(token_file, err, errlen)) == NULL)
		goto fail;
	if ((a->tls = tls_client_new(ca, 0)) == NULL) {
		snprintf(err, errlen, "cannot set up TLS%s%s", ca != NULL &&
		    *ca != '\0' ? " with --ca " : "", ca != NULL ? ca : "");
		goto fail;
	}
	return a;
fail:
	api_free(a);
	return NULL;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	if (a->token != NULL) {
		crypto_wipe(a->token, strlen(a->token));
		free(a->token);
	}
	if (a->tls != NULL)
		tls_client_free(a->tls);
	free(a);
}

/*
 * The connection: blocking socket, TLS calls retried on WANT_* after
 * poll(), each wait bounded by API_TIMEOUT_MS.
 */

static int
conn_wait(struct aconn *c, int want)
{
	struct pollfd pfd;
	int	 rc;

	pfd.fd = c->fd;
	pfd.events = want == TLS_WANT_WRITE ? POLLOUT : POLLIN;
	do
		rc = poll(&pfd, 1, API_TIMEOUT_MS);
	while (rc == -1 && errno == EINTR);
	return rc == 1 ? 0 : -1;
}

static void
conn_close(struct aconn *c)
{
	if (c->tls != NULL) {
		tls_conn_shutdown(c->tls);
		tls_conn_free(c->tls);
	}
	if (c->fd != -1)
		close(c->fd);
	c->tls = NULL;
	c->fd = -1;
}

static int
conn_open(struct api *a, struct aconn *c, struct ops_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *why;
	int	 rc, e = 0;

	c->fd = -1;
	c->tls = NULL;
	c->peer = a->hosthdr;
	c->err = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(a->host, a->port, &hints, &res)) != 0)
		return efail(err, OPS_EIO, "cannot resolve %s: %s", a->host,
		    gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (c->fd == -1) {
			e = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd == -1)
		return efail(err, OPS_EIO, "cannot connect to %s: %s (is otagw "
		    "running with admin_listen on?)", a->hosthdr, strerror(e));
	if ((c->tls = tls_conn_connect(a->tls, c->fd, a->host)) == NULL) {
		conn_close(c);
		return efail(err, OPS_EIO, "TLS set-up failed");
	}
	for (;;) {
		errno = 0;
		rc = tls_conn_handshake(c->tls);
		if (rc == 1)
			break;
		if ((rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) &&
		    conn_wait(c, rc) == 0)
			continue;
		e = errno;
		why = tls_conn_verify_error(c->tls);
		if (why != NULL)
			rc = efail(err, OPS_EIO, "TLS handshake with %s "
			    "failed: %s (wrong --ca, or a certificate for "
			    "another name?)", a->hosthdr, why);
		else
			rc = efail(err, OPS_EIO, "%s closed the connection "
			    "during the TLS handshake%s%s (not the admin API, "
			    "or too many connections from this address?)",
			    a->hosthdr, e != 0 ? ": " : "",
			    e != 0 ? strerror(e) : "");
		conn_close(c);
		return rc;
	}
	c->peer = a->hosthdr;
	return eok(err);
}

static int
conn_write(struct aconn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t	 n;

	while (len > 0) {
		errno = 0;
		n = tls_conn_write(c->tls, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if ((n == TLS_WANT_READ || n == TLS_WANT_WRITE) &&
		    conn_wait(c, (int)n) == 0)
			continue;
		c->err = errno;
		return -1;
	}
	return 0;
}

/* Bytes read, 0 at the end, -1 on an error. */
static ssize_t
conn_read(struct aconn *c, void *buf, size_t len)
{
	ssize_t	 n;

	for (;;) {
		errno = 0;
		n = tls_conn_read(c->tls, buf, len);
		if (n >= 0)
			return n;
		if ((n == TLS_WANT_READ || n == TLS_WANT_WRITE) &&
		    conn_wait(c, (int)n) == 0)
			continue;
		c->err = errno;
		return -1;
	}
}

/*
 * One exchange.
 */

/* The response head: status, Content-Length (-1), Location. */
static int
head_parse(char *head, struct aresp *r, int64_t *clen, int *chunked)
{
	char	*line, *save = NULL, *colon, *v;
	int	 first = 1;

	*clen = -1;
	*chunked = 0;
	for (line = strtok_r(head, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (first) {
			if (strncmp(line, "HTTP/1.", 7) != 0 ||
			    strlen(line) < 12)
				return -1;
			r->status = atoi(line + 9);
			first = 0;
			continue;
		}
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcasecmp(line, "content-length") == 0)
			*clen = strtoll(v, NULL, 10);
		else if (strcasecmp(line, "transfer-encoding") == 0 &&
		    strcasestr(v, "chunked") != NULL)
			*chunked = 1;
		else if (strcasecmp(line, "location") == 0)
			snprintf(r->location, sizeof(r->location), "%s", v);
	}
	return first ? -1 : 0;
}

/* Reads the whole answer into r (body NUL-terminated). */
static int
resp_read(struct aconn *c, struct aresp *r, struct ops_err *err)
{
	char	*buf = NULL, *p, *eoh;
	size_t	 len = 0, cap = 0, hlen;
	int64_t	 clen;
	ssize_t	 n;
	int	 chunked;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if (len + API_IO_CHUNK + 1 > cap) {
			cap = cap ? cap * 2 : 2 * API_IO_CHUNK;
			if ((p = realloc(buf, cap)) == NULL)
				goto nomem;
			buf = p;
		}
		if ((n = conn_read(c, buf + len, cap - len - 1)) < 0)
			goto ioerr;
		len += (size_t)n;
		buf[len] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (n == 0 || len > API_HEAD_MAX)
			goto proto;
	}
	hlen = (size_t)(eoh - buf) + 4;
	*eoh = '\0';
	if (head_parse(buf, r, &clen, &chunked) == -1 || chunked)
		goto proto;
	/* the body: what came after the head, then the rest */
	memmove(buf, buf + hlen, len - hlen);
	len -= hlen;
	if (clen > (int64_t)API_BODY_MAX)
		goto proto;
	while (clen < 0 || (int64_t)len < clen) {
		if (len + API_IO_CHUNK + 1 > cap) {
			if (cap > API_BODY_MAX)
				goto proto;
			cap *= 2;
			if ((p = realloc(buf, cap)) == NULL)
				goto nomem;
			buf = p;
		}
		if ((n = conn_read(c, buf + len, cap - len - 1)) < 0) {
			if (clen < 0)
				break;
			goto ioerr;
		}
		if (n == 0) {
			if (clen < 0)
				break;
			goto ioerr;
		}
		len += (size_t)n;
	}
	if (clen >= 0 && (int64_t)len > clen)
		len = (size_t)clen;
	buf[len] = '\0';
	r->body = buf;
	r->len = len;
	return eok(err);
nomem:
	free(buf);
	return efail(err, OPS_EIO, "out of memory");
ioerr:
	free(buf);
	return efail(err, OPS_EIO, "the admin API at %s closed the connection "
	    "before its answer was complete%s%s", c->peer, c->err != 0 ?
	    ": " : "", c->err != 0 ? strerror(c->err) : "");
proto:
	free(buf);
	return efail(err, OPS_EIO, "the admin API's answer is not HTTP/1.1 "
	    "otactl understands");
}

/*
 * Sends a request: body from memory (body, len) or, when fd != -1, len
 * bytes streamed from fd.  Fills r.
 */
static int
api_exchange(struct api *a, const char *method, const char *path,
    const char *ctype, const void *body, size_t len, int fd, struct aresp *r,
    struct ops_err *err)
{
	struct aconn c;
	char	*head = NULL, *buf = NULL;
	size_t	 left;
	ssize_t	 n;
	int	 hn, rc, e;

	memset(r, 0, sizeof(*r));
	if ((rc = conn_open(a, &c, err)) != OPS_OK)
		return rc;
	hn = asprintf(&head, "%s %s%s HTTP/1.1\r\nHost: %s\r\n"
	    "Authorization: Bearer %s\r\nUser-Agent: otactl\r\n"
	    "Accept: application/json\r\nConnection: close\r\n"
	    "%s%s%sContent-Length: %zu\r\n\r\n", method, a->prefix, path,
	    a->hosthdr, a->token, ctype ? "Content-Type: " : "",
	    ctype ? ctype : "", ctype ? "\r\n" : "", len);
	if (hn < 0) {
		head = NULL;
		rc = efail(err, OPS_EIO, "out of memory");
		goto out;
	}
	/*
	 * A write that fails may follow an answer the daemon sent before it
	 * closed (413, 400): read it, and report the broken write only when
	 * there is none.
	 */
	if (conn_write(&c, head, (size_t)hn) == -1)
		goto broken;
	if (fd == -1) {
		if (len > 0 && conn_write(&c, body, len) == -1)
			goto broken;
	} else {
		if ((buf = malloc(API_IO_CHUNK)) == NULL) {
			rc = efail(err, OPS_EIO, "out of memory");
			goto out;
		}
		for (left = len; left > 0; left -= (size_t)n) {
			n = read(fd, buf, left < API_IO_CHUNK ? left :
			    API_IO_CHUNK);
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n <= 0) {
				rc = efail(err, OPS_EIO,
				    "reading the image: %s",
				    n == 0 ? "it got shorter" :
				    strerror(errno));
				goto out;
			}
			if (conn_write(&c, buf, (size_t)n) == -1)
				goto broken;
		}
	}
	rc = resp_read(&c, r, err);
	goto out;
broken:
	e = c.err;
	if ((rc = resp_read(&c, r, err)) != OPS_OK)
		rc = efail(err, OPS_EIO, "the connection to the admin API at "
		    "%s broke while sending the request: %s", a->hosthdr,
		    e != 0 ? strerror(e) : "closed by the other end");
out:
	if (head != NULL) {
		crypto_wipe(head, strlen(head));
		free(head);
	}
	free(buf);
	conn_close(&c);
	return rc;
}

/* Turns a non-2xx answer into an ops status with the daemon's message. */
static int
resp_error(const struct aresp *r, struct ops_err *err)
{
	char	 code[64], msg[OPS_ERR_MAX];
	int	 status;

	switch (r->status) {
	case 400:
	case 405:
		status = OPS_EINVAL;
		break;
	case 401:
	case 403:
		status = OPS_EINVAL;
		break;
	case 404:
		status = OPS_ENOTFOUND;
		break;
	case 409:
		status = OPS_ECONFLICT;
		break;
	case 413:
		status = OPS_ETOOLARGE;
		break;
	case 422:
		status = OPS_EUNPROC;
		break;
	case 507:
		status = OPS_EFULL;
		break;
	default:
		status = OPS_EIO;
		break;
	}
	if (r->body != NULL && codec_error_decode(r->body, r->len, code,
	    sizeof(code), msg, sizeof(msg)) == 0) {
		if (r->status == 401)
			return efail(err, status, "the admin API refused the "
			    "token (401): %s", msg);
		return efail(err, status, "%s", msg);
	}
	return efail(err, status, "the admin API answered %d", r->status);
}

/* Does a request and wants one of two statuses (ok2 may be 0). */
static int
api_call(struct api *a, const char *method, const char *path,
    const char *ctype, const void *body, size_t len, int ok1, int ok2,
    struct aresp *r, struct ops_err *err)
{
	int	 rc;

	if ((rc = api_exchange(a, method, path, ctype, body, len, -1, r,
	    err)) != OPS_OK)
		return rc;
	if (r->status != ok1 && (ok2 == 0 || r->status != ok2)) {
		rc = resp_error(r, err);
		free(r->body);
		r->body = NULL;
		return rc;
	}
	return eok(err);
}

static int
bad_answer(struct aresp *r, struct ops_err *err, const char *what)
{
	free(r->body);
	r->body = NULL;
	return efail(err, OPS_EIO, "the admin API's answer is not %s", what);
}

/*
 * Paths and queries.
 */

struct pbuf {
	char	 s[API_PATH_MAX];
	size_t	 len;
	int	 nparams;
	int	 failed;
};

static void
pb_raw(struct pbuf *b, const char *s)
{
	size_t	 n = strlen(s);

	if (b->len + n + 1 > sizeof(b->s)) {
		b->failed = 1;
		return;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* Percent-encodes everything but the unreserved characters. */
static void
pb_enc(struct pbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char	 e[4];
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			e[0] = (char)c;
			e[1] = '\0';
		} else {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			e[3] = '\0';
		}
		pb_raw(b, e);
	}
}

static void
pb_param(struct pbuf *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	pb_raw(b, b->nparams++ == 0 ? "?" : "&");
	pb_raw(b, name);
	pb_raw(b, "=");
	pb_enc(b, value);
}

static void
pb_init(struct pbuf *b, const char *p1, const char *id, const char *p2)
{
	memset(b, 0, sizeof(*b));
	pb_raw(b, "/api/v1/");
	pb_raw(b, p1);
	if (id != NULL) {
		pb_raw(b, "/");
		pb_enc(b, id);
	}
	if (p2 != NULL) {
		pb_raw(b, "/");
		pb_raw(b, p2);
	}
}

static int
pb_check(const struct pbuf *b, struct ops_err *err)
{
	if (b->failed)
		return efail(err, OPS_EINVAL, "request too long");
	return OPS_OK;
}

/* GET of the path in pb, answered 200: r holds the body. */
static int
api_get(struct api *a, const struct pbuf *pb, struct aresp *r,
    struct ops_err *err)
{
	int	 rc;

	if ((rc = pb_check(pb, err)) != OPS_OK)
		return rc;
	return api_call(a, "GET", pb->s, NULL, NULL, 0, 200, 0, r, err);
}

/* DELETE of the path in pb, answered 204 (or 200). */
static int
api_delete(struct api *a, const struct pbuf *pb, struct ops_err *err)
{
	struct aresp r;
	int	 rc;

	if ((rc = pb_check(pb, err)) != OPS_OK ||
	    (rc = api_call(a, "DELETE", pb->s, NULL, NULL, 0, 204, 200, &r,
	    err)) != OPS_OK)
		return rc;
	free(r.body);
	return OPS_OK;
}

/*
 * Devices.
 */

int
api_device_put(struct api *a, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	struct codec_device_put body;
	struct module_version mv;
	struct aresp r;
	struct pbuf pb;
	char	*json = NULL, msg[160];
	size_t	 i, len = 0;
	unsigned k;
	int	 rc;

	if (p->id == NULL || !valid_device_id(p->id))
		return efail(err, OPS_EINVAL, "invalid device id (1-64 of "
		    "A-Z a-z 0-9 _ . : @ -)");
	memset(&body, 0, sizeof(body));
	if (p->product != NULL) {
		if (str_copy(body.product, sizeof(body.product),
		    p->product) == -1)
			return efail(err, OPS_EINVAL, "invalid product");
		body.has_product = 1;
	}
	if (p->secret != NULL) {
		if (str_copy(body.secret, sizeof(body.secret), p->secret) ==
		    -1) {
			rc = efail(err, OPS_EINVAL, "the secret is longer than "
			    "%d bytes", CODEC_SECRET_MAX);
			goto out;
		}
		body.has_secret = 1;
	}
	if (p->psk_hex != NULL) {
		if (str_copy(body.psk_hex, sizeof(body.psk_hex), p->psk_hex) ==
		    -1) {
			rc = efail(err, OPS_EINVAL, "the PSK must be 1-%d "
			    "bytes in hex", OTA_PSK_MAX);
			goto out;
		}
		body.has_psk = 1;
	}
	for (i = 0; i < p->nversions; i++) {
		if (ops_parse_module_version(p->versions[i], &mv) == -1) {
			rc = efail(err, OPS_EINVAL, "invalid version \"%s\" "
			    "(want [MODULE=]VERSION)", p->versions[i]);
			goto out;
		}
		for (k = 0; k < body.nversions; k++)
			if (strcmp(body.versions[k].module, mv.module) == 0)
				break;
		if (k == OTA_MODULES_MAX) {
			rc = efail(err, OPS_EINVAL, "more than %d modules",
			    OTA_MODULES_MAX);
			goto out;
		}
		body.versions[k] = mv;
		if (k == body.nversions)
			body.nversions++;
	}
	if ((json = codec_device_put_encode(&body, &len)) == NULL) {
		rc = efail(err, OPS_EIO, "out of memory");
		goto out;
	}
	pb_init(&pb, "devices", p->id, NULL);
	if ((rc = pb_check(&pb, err)) != OPS_OK)
		goto out;
	if ((rc = api_call(a, "PUT", pb.s, "application/json", json, len,
	    200, 201, &r, err)) != OPS_OK)
		goto out;
	if (created != NULL)
		*created = r.status == 201;
	if (codec_device_view_decode(r.body, r.len, out, msg,
	    sizeof(msg)) != 0)
		rc = bad_answer(&r, err, "a device");
	free(r.body);
out:
	if (json != NULL) {
		crypto_wipe(json, len);
		free(json);
	}
	crypto_wipe(&body, sizeof(body));
	return rc;
}

int
api_device_show(struct api *a, const char *id, struct device_rec *out,
    struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	char	 msg[160];
	int	 rc;

	pb_init(&pb, "devices", id, NULL);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	if (codec_device_view_decode(r.body, r.len, out, msg,
	    sizeof(msg)) != 0)
		return bad_answer(&r, err, "a device");
	free(r.body);
	return OPS_OK;
}

int
api_device_attrs(struct api *a, const char *id, char *buf, size_t size,
    struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	pb_init(&pb, "devices", id, NULL);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	if (codec_device_attrs_get(r.body, r.len, buf, size) != 0)
		return bad_answer(&r, err, "a device's attributes");
	free(r.body);
	return OPS_OK;
}

int
api_device_rm(struct api *a, const char *id, struct ops_err *err)
{
	struct pbuf pb;

	pb_init(&pb, "devices", id, NULL);
	return api_delete(a, &pb, err);
}

/*
 * A page of a list: the user's callback (one of the three, as the view
 * has it), counting what it was given.
 */
struct page {
	int	(*dev_cb)(const struct device_rec *, void *);
	int	(*jd_cb)(const struct jobdev_rec *, void *);
	int	(*hist_cb)(const struct history_rec *, void *);
	int	(*any_cb)(const void *, const struct jobs_counts *, void *);
	void	*arg;
	size_t	 n;
};

static int
page_cb(const void *rec, const struct jobs_counts *c, void *arg)
{
	struct page *pg = arg;

	pg->n++;
	if (pg->any_cb != NULL)
		return pg->any_cb(rec, c, pg->arg);
	if (pg->dev_cb != NULL)
		return pg->dev_cb(rec, pg->arg);
	if (pg->hist_cb != NULL)
		return pg->hist_cb(rec, pg->arg);
	return pg->jd_cb(rec, pg->arg);
}

/*
 * Walks a paged list: base is the path with its query so far; limit 0 is
 * no limit.
 */
static int
api_pages(struct api *a, const struct pbuf *base, const char *after,
    size_t limit, int view, struct page *pg, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	char	 cur[OTA_ID_MAX + 1], pnext[OTA_ID_MAX + 1], msg[160];
	char	 num[24];
	struct aresp r;
	struct pbuf pb;
	size_t	 left = limit, ask;
	int	 rc, d;

	/* after may be the caller's next buffer */
	snprintf(cur, sizeof(cur), "%s", after != NULL ? after : "");
	if (next != NULL)
		next[0] = '\0';
	for (;;) {
		ask = left > 0 && left < API_PAGE ? left : API_PAGE;
		pb = *base;
		snprintf(num, sizeof(num), "%zu", ask);
		pb_param(&pb, "limit", num);
		if (cur[0] != '\0')
			pb_param(&pb, "after", cur);
		if ((rc = pb_check(&pb, err)) != OPS_OK ||
		    (rc = api_call(a, "GET", pb.s, NULL, NULL, 0, 200, 0, &r,
		    err)) != OPS_OK)
			return rc;
		pg->n = 0;
		d = codec_list_decode(r.body, r.len, view, page_cb, pg, pnext,
		    msg, sizeof(msg));
		if (d == -1)
			return bad_answer(&r, err, "a list");
		free(r.body);
		if (d == 1)
			return eok(err);	/* the caller stopped */
		if (left > 0) {
			left -= pg->n < left ? pg->n : left;
			if (left == 0) {
				if (next != NULL)
					snprintf(next, OTA_ID_MAX + 1, "%s",
					    pnext);
				return eok(err);
			}
		}
		if (pnext[0] == '\0')
			return eok(err);
		snprintf(cur, sizeof(cur), "%s", pnext);
	}
}

int
api_device_list(struct api *a, const struct ops_device_filter *f,
    int (*cb)(const struct device_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct page pg;
	struct pbuf pb;

	pb_init(&pb, "devices", NULL, NULL);
	if (f != NULL) {
		if (f->product != NULL && *f->product != '\0')
			pb_param(&pb, "product", f->product);
		if (f->module != NULL && *f->module != '\0')
			pb_param(&pb, "module", f->module);
		if (f->version != NULL && *f->version != '\0')
			pb_param(&pb, "version", f->version);
	}
	memset(&pg, 0, sizeof(pg));
	pg.dev_cb = cb;
	pg.arg = arg;
	return api_pages(a, &pb, f != NULL ? f->after : NULL, f != NULL ?
	    f->limit : 0, CODEC_VIEW_DEVICE, &pg, next, err);
}

int
api_device_history(struct api *a, const char *id, const struct ops_page *opg,
    int (*cb)(const struct history_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct page pg;
	struct pbuf pb;

	pb_init(&pb, "devices", id, "history");
	memset(&pg, 0, sizeof(pg));
	pg.hist_cb = cb;
	pg.arg = arg;
	return api_pages(a, &pb, opg != NULL ? opg->after : NULL, opg != NULL ?
	    opg->limit : 0, CODEC_VIEW_HISTORY, &pg, next, err);
}

int
api_product_versions(struct api *a, const char *product, const char *module,
    struct ops_versions *vs, struct ops_err *err)
{
	struct codec_versions cv;
	struct aresp r;
	struct pbuf pb;
	char	 msg[160];
	int	 rc;

	memset(vs, 0, sizeof(*vs));
	pb_init(&pb, "products", product, "versions");
	if (module != NULL && *module != '\0')
		pb_param(&pb, "module", module);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	if (codec_versions_decode(r.body, r.len, &cv, msg, sizeof(msg)) != 0)
		return bad_answer(&r, err, "a version distribution");
	free(r.body);
	snprintf(vs->product, sizeof(vs->product), "%s", cv.product);
	snprintf(vs->module, sizeof(vs->module), "%s", cv.module);
	vs->items = cv.items;
	vs->n = cv.n;
	vs->unreported = cv.unreported;
	vs->total = cv.total;
	return OPS_OK;
}

int
api_product_author_key(struct api *a, const char *product, int op,
    const char *pem, size_t len, struct product_rec *out, struct ops_err *err)
{
	static const char *const methods[] = { "GET", "PUT", "DELETE" };
	struct aresp r;
	struct pbuf pb;
	char	 msg[160];
	int	 rc;

	if (op < 0 || op > 2)
		return OPS_EINVAL;
	pb_init(&pb, "products", product, "author-key");
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, methods[op], pb.s, op == 1 ?
	    "application/x-pem-file" : NULL, op == 1 ? pem : NULL,
	    op == 1 ? len : 0, 200, 0, &r, err)) != OPS_OK)
		return rc;
	if (codec_product_view_decode(r.body, r.len, out, msg,
	    sizeof(msg)) != 0)
		return bad_answer(&r, err, "a product");
	free(r.body);
	return eok(err);
}

/* One bad line of a refused import's answer into the result. */
static int
bad_line_cb(unsigned line, const char *message, void *arg)
{
	struct ops_import_result *res = arg;
	struct ops_import_bad *b;

	res->nbad++;
	if (res->nlisted == OPS_IMPORT_BAD_MAX)
		return 0;
	b = &res->bad[res->nlisted++];
	b->line = line;
	snprintf(b->msg, sizeof(b->msg), "%s", message);
	return 0;
}

int
api_device_import(struct api *a, const char *csv, size_t len,
    const char *product, struct ops_import_result *res, struct ops_err *err)
{
	static const char *const names[] = { "lines", "created", "updated" };
	int64_t	 v[3];
	int	 present[3], rc;
	struct aresp r;
	struct pbuf pb;
	size_t	 more;
	char	 msg[160];

	memset(res, 0, sizeof(*res));
	pb_init(&pb, "devices", NULL, "import");
	if (product != NULL && *product != '\0')
		pb_param(&pb, "product", product);
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_exchange(a, "POST", pb.s, "text/csv", csv, len, -1, &r,
	    err)) != OPS_OK)
		return rc;
	if (r.status != 200) {
		rc = resp_error(&r, err);
		/* a 400 that lists the bad lines */
		if (r.status == 400 && r.body != NULL &&
		    codec_import_error_decode(r.body, r.len, bad_line_cb, res,
		    &more, msg, sizeof(msg)) == 0)
			res->nbad += more;
		else
			res->nbad = res->nlisted = 0;
		free(r.body);
		return rc;
	}
	if (codec_numbers_decode(r.body, r.len, names, 3, v, present, msg,
	    sizeof(msg)) != 0)
		return bad_answer(&r, err, "an import result");
	free(r.body);
	res->lines = (size_t)v[0];
	res->created = (size_t)v[1];
	res->updated = (size_t)v[2];
	return OPS_OK;
}

/*
 * Firmware.
 */

static void
fw_query(struct pbuf *pb, const struct ops_fw_params *p)
{
	char	 num[16], sig[(4 * OTA_SIG_MAX + 2) / 3 + 1];

	pb_init(pb, "firmware", NULL, NULL);
	pb_param(pb, "product", p->product);
	pb_param(pb, "version", p->version);
	if (p->module != NULL && *p->module != '\0')
		pb_param(pb, "module", p->module);
	if (p->name != NULL && *p->name != '\0')
		pb_param(pb, "name", p->name);
	if (p->description != NULL)
		pb_param(pb, "description", p->description);
	if (p->sign_method != NULL && *p->sign_method != '\0')
		pb_param(pb, "signMethod", p->sign_method);
	if (p->seq != 0) {
		snprintf(num, sizeof(num), "%lu", (unsigned long)p->seq);
		pb_param(pb, "seq", num);
	}
	if (p->author_sig_len > 0 && p->author_sig_len <= OTA_SIG_MAX) {
		crypto_base64url(p->author_sig, p->author_sig_len, sig);
		pb_param(pb, "signature", sig);
	}
	if (p->filename != NULL && *p->filename != '\0')
		pb_param(pb, "filename", p->filename);
}

static int
fw_answer(struct aresp *r, struct firmware_rec *out, struct ops_err *err)
{
	char	 msg[160];

	if (codec_firmware_view_decode(r->body, r->len, out, NULL, msg,
	    sizeof(msg)) != 0)
		return bad_answer(r, err, "a firmware");
	free(r->body);
	return eok(err);
}

/* Streams a regular file's len bytes from its current offset. */
static int
fw_upload(struct api *a, const struct ops_fw_params *p, int fd, size_t len,
    struct firmware_rec *out, struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	fw_query(&pb, p);
	if ((rc = pb_check(&pb, err)) != OPS_OK)
		return rc;
	if ((rc = api_exchange(a, "POST", pb.s, "application/octet-stream",
	    NULL, len, fd, &r, err)) != OPS_OK)
		return rc;
	if (r.status != 201) {
		rc = resp_error(&r, err);
		free(r.body);
		return rc;
	}
	return fw_answer(&r, out, err);
}

int
api_firmware_add_fd(struct api *a, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	struct stat sb;
	FILE	*tmp = NULL;
	char	*buf = NULL;
	off_t	 off;
	ssize_t	 n;
	int	 rc, tfd = fd;

	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (off = lseek(fd, 0, SEEK_CUR)) != -1)
		return fw_upload(a, p, fd, (size_t)(sb.st_size - off), out,
		    err);
	/* a pipe: keep it in a temporary file first, for Content-Length */
	if ((tmp = tmpfile()) == NULL || (buf = malloc(API_IO_CHUNK)) ==
	    NULL) {
		rc = efail(err, OPS_EIO, "temporary file: %s", strerror(errno));
		goto out;
	}
	tfd = fileno(tmp);
	for (;;) {
		n = read(fd, buf, API_IO_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = efail(err, OPS_EIO, "reading the image: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (write(tfd, buf, (size_t)n) != n) {
			rc = efail(err, OPS_EIO, "temporary file: %s",
			    strerror(errno));
			goto out;
		}
	}
	if (fstat(tfd, &sb) == -1 || lseek(tfd, 0, SEEK_SET) == -1) {
		rc = efail(err, OPS_EIO, "temporary file: %s", strerror(errno));
		goto out;
	}
	rc = fw_upload(a, p, tfd, (size_t)sb.st_size, out, err);
out:
	free(buf);
	if (tmp != NULL)
		fclose(tmp);
	return rc;
}

int
api_firmware_fetch(struct api *a, const struct ops_fw_params *p,
    const char *url, const char *sha256_hex,
    void (*progress)(void *, uint64_t, uint64_t), void *arg,
    struct firmware_rec *out, struct ops_err *err)
{
	static const char *const names[] = { "done", "total" };
	struct timespec ts;
	struct aresp r;
	struct pbuf pb;
	char	 loc[512], msg[160];
	int64_t	 v[2];
	int	 present[2], rc;

	fw_query(&pb, p);
	pb_param(&pb, "url", url);
	pb_param(&pb, "sha256", sha256_hex);
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, "POST", pb.s, NULL, NULL, 0, 202, 201, &r,
	    err)) != OPS_OK)
		return rc;
	for (;;) {
		if (r.status != 202)
			return fw_answer(&r, out, err);
		if (progress != NULL && codec_numbers_decode(r.body, r.len,
		    names, 2, v, present, msg, sizeof(msg)) == 0)
			progress(arg, (uint64_t)v[0], (uint64_t)v[1]);
		if (r.location[0] != '\0')
			snprintf(loc, sizeof(loc), "%s", r.location);
		free(r.body);
		if (strncmp(loc, "/api/v1/", 8) != 0)
			return efail(err, OPS_EIO, "the admin API gave no "
			    "Location to follow the fetch");
		ts.tv_sec = 0;
		ts.tv_nsec = 500 * 1000 * 1000;
		nanosleep(&ts, NULL);
		if ((rc = api_call(a, "GET", loc, NULL, NULL, 0, 202, 201, &r,
		    err)) != OPS_OK)
			return rc;
	}
}

int
api_firmware_show(struct api *a, const char *id, struct ops_fw_item *it,
    struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	char	 msg[160];
	int	 rc;

	pb_init(&pb, "firmware", id, NULL);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	if (codec_firmware_view_decode(r.body, r.len, &it->fw, &it->devices,
	    msg, sizeof(msg)) != 0)
		return bad_answer(&r, err, "a firmware");
	free(r.body);
	return OPS_OK;
}

/* Collects list items into a growing array. */
struct collect {
	void	*v;
	size_t	 n;
	size_t	 cap;
	size_t	 size;
	int	 view;
	int	 failed;
};

static int
collect_cb(const void *rec, const struct jobs_counts *c, void *arg)
{
	struct collect *co = arg;
	struct ops_fw_item *fi;
	struct ops_job_item *ji;
	void	*p;
	size_t	 ncap;

	if (co->n == co->cap) {
		ncap = co->cap ? co->cap * 2 : 64;
		if ((p = realloc(co->v, ncap * co->size)) == NULL) {
			co->failed = 1;
			return 1;
		}
		co->v = p;
		co->cap = ncap;
	}
	if (co->view == CODEC_VIEW_FIRMWARE) {
		fi = (struct ops_fw_item *)co->v + co->n;
		fi->fw = *(const struct firmware_rec *)rec;
		fi->devices = *c;
	} else {
		ji = (struct ops_job_item *)co->v + co->n;
		ji->job = *(const struct job_rec *)rec;
		ji->counts = *c;
	}
	co->n++;
	return 0;
}

/* A firmware or job list, page after page, into a malloc'd array. */
static int
api_collect(struct api *a, const char *what, const struct ops_page *opg,
    int view, size_t size, void **items, size_t *n,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct collect co;
	struct page pg;
	struct pbuf pb;
	int	 rc;

	*items = NULL;
	*n = 0;
	memset(&co, 0, sizeof(co));
	co.size = size;
	co.view = view;
	memset(&pg, 0, sizeof(pg));
	pg.any_cb = collect_cb;
	pg.arg = &co;
	pb_init(&pb, what, NULL, NULL);
	rc = api_pages(a, &pb, opg != NULL ? opg->after : NULL, opg != NULL ?
	    opg->limit : 0, view, &pg, next, err);
	if (rc == OPS_OK && co.failed)
		rc = efail(err, OPS_EIO, "out of memory");
	if (rc != OPS_OK) {
		free(co.v);
		return rc;
	}
	*items = co.v;
	*n = co.n;
	return eok(err);
}

int
api_firmware_list(struct api *a, const struct ops_page *pg,
    struct ops_fw_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	void	*v;
	int	 rc;

	rc = api_collect(a, "firmware", pg, CODEC_VIEW_FIRMWARE,
	    sizeof(struct ops_fw_item), &v, n, next, err);
	*items = v;
	return rc;
}

int
api_firmware_edit(struct api *a, const char *id, const char *name,
    const char *description, struct firmware_rec *out, struct ops_err *err)
{
	struct codec_fw_edit e;
	struct aresp r;
	struct pbuf pb;
	char	*json;
	size_t	 len;
	int	 rc;

	memset(&e, 0, sizeof(e));
	if (name != NULL) {
		if (str_copy(e.name, sizeof(e.name), name) == -1)
			return efail(err, OPS_EINVAL, "invalid name: 1-32 "
			    "characters of CJK, letters, digits and _-(), "
			    "starting with CJK, a letter or a digit");
		e.has_name = 1;
	}
	if (description != NULL) {
		if (str_copy(e.description, sizeof(e.description),
		    description) == -1)
			return efail(err, OPS_EINVAL, "invalid description: "
			    "at most %d characters of UTF-8", OTA_DESC_MAX);
		e.has_description = 1;
	}
	if ((json = codec_fw_edit_encode(&e, &len)) == NULL)
		return efail(err, OPS_EIO, "out of memory");
	pb_init(&pb, "firmware", id, NULL);
	rc = pb_check(&pb, err);
	if (rc == OPS_OK)
		rc = api_call(a, "PATCH", pb.s, "application/json", json, len,
		    200, 0, &r, err);
	free(json);
	if (rc != OPS_OK)
		return rc;
	if (out == NULL) {
		free(r.body);
		return OPS_OK;
	}
	return fw_answer(&r, out, err);
}

int
api_firmware_rm(struct api *a, const char *id, struct ops_err *err)
{
	struct pbuf pb;

	pb_init(&pb, "firmware", id, NULL);
	return api_delete(a, &pb, err);
}

/*
 * Jobs.
 */

static int
job_answer(struct aresp *r, struct ops_job_item *it,
    struct codec_job_sel *sel, struct ops_err *err)
{
	char	 msg[160];

	if (codec_job_view_decode(r->body, r->len, &it->job, &it->counts, sel,
	    msg, sizeof(msg)) != 0)
		return bad_answer(r, err, "a job");
	free(r->body);
	return eok(err);
}

int
api_job_create(struct api *a, const struct job_rec *params,
    const char *const *devices, size_t ndevices, struct ops_job_item *out,
    struct ops_job_result *res, struct ops_err *err)
{
	struct ops_job_item tmp;
	struct codec_job_sel sel;
	struct aresp r;
	char	*json;
	size_t	 len;
	int	 rc;

	if ((json = codec_job_body_encode(params, devices, ndevices,
	    &len)) == NULL)
		return efail(err, OPS_EIO, "out of memory");
	rc = api_call(a, "POST", "/api/v1/jobs", "application/json", json,
	    len, 201, 0, &r, err);
	free(json);
	if (rc != OPS_OK)
		return rc;
	if ((rc = job_answer(&r, out != NULL ? out : &tmp, &sel, err)) !=
	    OPS_OK)
		return rc;
	if (res != NULL) {
		res->added = sel.added;
		res->skipped = sel.skipped;
		res->left_out = sel.left_out;
		res->superseded = sel.superseded;
	}
	return OPS_OK;
}

int
api_job_show(struct api *a, const char *id, struct ops_job_item *it,
    struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	pb_init(&pb, "jobs", id, NULL);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	return job_answer(&r, it, NULL, err);
}

int
api_job_list(struct api *a, const struct ops_page *pg,
    struct ops_job_item **items, size_t *n, char next[OTA_ID_MAX + 1],
    struct ops_err *err)
{
	void	*v;
	int	 rc;

	rc = api_collect(a, "jobs", pg, CODEC_VIEW_JOB,
	    sizeof(struct ops_job_item), &v, n, next, err);
	*items = v;
	return rc;
}

int
api_job_devices(struct api *a, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	struct page pg;
	struct pbuf pb;

	pb_init(&pb, "jobs", id, "devices");
	if (f != NULL && f->state >= 0)
		pb_param(&pb, "state", jobs_jd_state_name(f->state));
	memset(&pg, 0, sizeof(pg));
	pg.jd_cb = cb;
	pg.arg = arg;
	return api_pages(a, &pb, f != NULL ? f->after : NULL, f != NULL ?
	    f->limit : 0, CODEC_VIEW_JOBDEV, &pg, next, err);
}

int
api_job_terminate(struct api *a, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	struct ops_job_item tmp;
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	pb_init(&pb, "jobs", id, "terminate");
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, "POST", pb.s, NULL, NULL, 0, 200, 0, &r,
	    err)) != OPS_OK)
		return rc;
	return job_answer(&r, out != NULL ? out : &tmp, NULL, err);
}

int
api_job_rowop(struct api *a, const char *op, const char *job,
    const char *device, struct jobdev_rec *out, struct ops_err *err)
{
	struct jobdev_rec tmp;
	struct aresp r;
	struct pbuf pb;
	char	 msg[160];
	int	 rc;

	pb_init(&pb, "jobs", job, "devices/");
	pb_enc(&pb, device);
	pb_raw(&pb, "/");
	pb_raw(&pb, op);
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, "POST", pb.s, NULL, NULL, 0, 200, 0, &r,
	    err)) != OPS_OK)
		return rc;
	if (codec_jobdev_view_decode(r.body, r.len, out != NULL ? out : &tmp,
	    msg, sizeof(msg)) != 0)
		return bad_answer(&r, err, "a job device");
	free(r.body);
	return OPS_OK;
}

int
api_relay_status(struct api *a, struct outbox_stats *s, struct ops_err *err)
{
	static const char *const names[] = { "depth", "oldestSeq", "oldestTs",
	    "lastSeq", "dropped", "parkedBatches", "parkedEvents", "sent",
	    "retries" };
	int64_t	 v[9];
	int	 present[9], rc;
	struct aresp r;
	char	 msg[160];

	if ((rc = api_call(a, "GET", "/api/v1/relay", NULL, NULL, 0, 200, 0,
	    &r, err)) != OPS_OK)
		return rc;
	if (codec_numbers_decode(r.body, r.len, names, 9, v, present, msg,
	    sizeof(msg)) != 0)
		return bad_answer(&r, err, "a relay status");
	free(r.body);
	memset(s, 0, sizeof(*s));
	s->depth = (size_t)v[0];
	s->oldest_seq = (uint64_t)v[1];
	s->oldest_ts = v[2];
	s->last_seq = (uint64_t)v[3];
	s->dropped = (uint64_t)v[4];
	s->parked_batches = (uint64_t)v[5];
	s->parked_events = (size_t)v[6];
	s->sent = (uint64_t)v[7];
	s->retries = (uint64_t)v[8];
	return OPS_OK;
}

int
api_url_key_rotate(struct api *a, int drop, int64_t *rotated, int *previous,
    struct ops_err *err)
{
	static const char *const names[] = { "rotatedTs", "previousKeys" };
	int64_t	 v[2];
	int	 present[2], rc;
	struct aresp r;
	char	 msg[160];

	if ((rc = api_call(a, "POST", drop ? "/api/v1/url-key/rotate?"
	    "dropPrevious=true" : "/api/v1/url-key/rotate", NULL, NULL, 0,
	    200, 0, &r, err)) != OPS_OK)
		return rc;
	if (codec_numbers_decode(r.body, r.len, names, 2, v, present, msg,
	    sizeof(msg)) != 0 || !present[0] || !present[1])
		return bad_answer(&r, err, "a url key rotation");
	free(r.body);
	*rotated = v[0];
	*previous = (int)v[1];
	return OPS_OK;
}

/*
 * Notice-signing keys: /api/v1/keys.
 */

static int
keys_answer(struct aresp *r, struct sign_key_info *k, size_t max, size_t *n,
    struct ops_err *err)
{
	char	 msg[160];
	size_t	 got;

	if (codec_sign_keys_decode(r->body, r->len, k, max, &got, msg,
	    sizeof(msg)) != 0)
		return bad_answer(r, err, "a signing key");
	free(r->body);
	if (n != NULL)
		*n = got;
	return OPS_OK;
}

int
api_sign_key_create(struct api *a, int alg, int activate,
    struct sign_key_info *out, struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	pb_init(&pb, "keys", NULL, NULL);
	pb_param(&pb, "alg", sigkey_alg_name(alg));
	pb_param(&pb, "activate", activate ? "true" : NULL);
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, "POST", pb.s, NULL, NULL, 0, 201, 200, &r,
	    err)) != OPS_OK)
		return rc;
	return keys_answer(&r, out, 1, NULL, err);
}

int
api_sign_key_list(struct api *a, struct sign_key_info *out, size_t *n,
    struct ops_err *err)
{
	struct aresp r;
	int	 rc;

	if ((rc = api_call(a, "GET", "/api/v1/keys", NULL, NULL, 0, 200, 0,
	    &r, err)) != OPS_OK)
		return rc;
	return keys_answer(&r, out, STORE_SIGN_KEYS, n, err);
}

int
api_sign_key_activate(struct api *a, const char *kid, struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	pb_init(&pb, "keys", kid, "activate");
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, "POST", pb.s, NULL, NULL, 0, 200, 204, &r,
	    err)) != OPS_OK)
		return rc;
	free(r.body);
	return OPS_OK;
}

int
api_sign_key_delete(struct api *a, const char *kid, int force,
    struct ops_err *err)
{
	struct pbuf pb;

	pb_init(&pb, "keys", kid, NULL);
	pb_param(&pb, "force", force ? "true" : NULL);
	return api_delete(a, &pb, err);
}

/*
 * Patches: /api/v1/patches.
 */

/* A patch in an answer into out; frees the body. */
static int
patch_answer(struct aresp *r, struct delta_rec *out, struct ops_err *err)
{
	char	 msg[160];

	if (codec_delta_view_decode(r->body, r->len, out, msg,
	    sizeof(msg)) != 0)
		return bad_answer(r, err, "a patch");
	free(r->body);
	return OPS_OK;
}

int
api_patch_add_fd(struct api *a, const struct ops_delta_params *p, int fd,
    struct delta_rec *out, struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	struct stat sb;
	char	 n[24];
	off_t	 off;
	int	 rc;

	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (off = lseek(fd, 0, SEEK_CUR)) == -1)
		return efail(err, OPS_EINVAL, "a patch is sent from a file");
	pb_init(&pb, "patches", NULL, NULL);
	pb_param(&pb, "from", p->from);
	pb_param(&pb, "to", p->to);
	pb_param(&pb, "toVersion", p->to_version);
	pb_param(&pb, "format", p->format);
	if (p->to_sha256 != NULL && *p->to_sha256 != '\0')
		pb_param(&pb, "toSha256", p->to_sha256);
	if (p->to_size >= 0) {
		snprintf(n, sizeof(n), "%lld", (long long)p->to_size);
		pb_param(&pb, "toSize", n);
	}
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_exchange(a, "POST", pb.s, "application/octet-stream",
	    NULL, (size_t)(sb.st_size - off), fd, &r, err)) != OPS_OK)
		return rc;
	if (r.status != 201) {
		rc = resp_error(&r, err);
		free(r.body);
		return rc;
	}
	return patch_answer(&r, out, err);
}

struct patch_acc {
	struct delta_rec *items;
	size_t	 n, cap;
};

static int
patch_acc_cb(const struct delta_rec *d, void *arg)
{
	struct patch_acc *acc = arg;
	struct delta_rec *p;

	if (acc->n == acc->cap) {
		acc->cap = acc->cap ? acc->cap * 2 : 16;
		if ((p = reallocarray(acc->items, acc->cap, sizeof(*p))) ==
		    NULL)
			return -1;
		acc->items = p;
	}
	acc->items[acc->n++] = *d;
	return 0;
}

int
api_patch_list(struct api *a, const char *firmware, struct delta_rec **items,
    size_t *n, struct ops_err *err)
{
	struct patch_acc acc;
	struct aresp r;
	struct pbuf pb;
	char	 msg[160];
	int	 rc;

	memset(&acc, 0, sizeof(acc));
	*items = NULL;
	*n = 0;
	pb_init(&pb, "patches", NULL, NULL);
	pb_param(&pb, "firmware", firmware);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	if (codec_delta_list_decode(r.body, r.len, patch_acc_cb, &acc, msg,
	    sizeof(msg)) != 0) {
		free(acc.items);
		return bad_answer(&r, err, "a list of patches");
	}
	free(r.body);
	*items = acc.items;
	*n = acc.n;
	return OPS_OK;
}

int
api_patch_show(struct api *a, const char *id, struct delta_rec *out,
    struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	int	 rc;

	pb_init(&pb, "patches", id, NULL);
	if ((rc = api_get(a, &pb, &r, err)) != OPS_OK)
		return rc;
	return patch_answer(&r, out, err);
}

int
api_patch_rm(struct api *a, const char *id, struct ops_err *err)
{
	struct pbuf pb;

	pb_init(&pb, "patches", id, NULL);
	return api_delete(a, &pb, err);
}

int
api_patch_make(struct api *a, const struct ops_delta_make *m,
    struct delta_rec *out, struct ops_err *err)
{
	struct aresp r;
	struct pbuf pb;
	char	 b[16];
	int	 rc;

	pb_init(&pb, "patches", "make", NULL);
	pb_param(&pb, "from", m->from);
	pb_param(&pb, "to", m->to);
	pb_param(&pb, "toVersion", m->to_version);
	if (m->block > 0) {
		snprintf(b, sizeof(b), "%d", m->block);
		pb_param(&pb, "block", b);
	}
	if ((rc = pb_check(&pb, err)) != OPS_OK ||
	    (rc = api_call(a, "POST", pb.s, NULL, NULL, 0, 201, 0, &r,
	    err)) != OPS_OK)
		return rc;
	return patch_answer(&r, out, err);
}
