/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin.c: the admin API (CONTRACT §4, docs/admin-api.md) on its own HTTPS
 * listener, plus GET /metrics and GET /healthz: its life cycle, its
 * limits and its token.
 *
 * A translation layer like src/http/device.c, but towards src/ops: every
 * call is one ops function, so the API and `otactl --state' share every
 * rule and every message.  The files of src/admin only route (route.c:
 * one table of method, path pattern and handler), authenticate (here),
 * turn query strings and JSON bodies into ops parameters (src/codec does
 * the JSON), and ops results into JSON views and status codes (reply.c):
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
 * Firmware uploads are streamed (firmware.c), and firmware by URL is
 * fetched on worker threads (fetch.c); admin_free waits for those.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/admin_priv.h"
#include "crypto/crypto.h"
#include "ev.h"
#include "log.h"
#include "metrics/metrics.h"

#define ADMIN_TOKEN_MAX		4096	/* bytes in the token file */
#define ADMIN_AUTH_MAX		8192	/* Authorization value looked at */

/* Server limits of the admin listener (ADMIN_MAX_BODY: admin_priv.h). */
#define ADMIN_MAX_HEADER_BYTES	16384
#define ADMIN_MAX_CONNECTIONS	64
#define ADMIN_MAX_STREAMS	32
#define ADMIN_IDLE_TIMEOUT	120
#define ADMIN_STALL_TIMEOUT	60
#define ADMIN_HANDSHAKE_TIMEOUT	10

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
int
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
	/* the token is checked at the head: uploads may be slow */
	lim->body_deadline = 0;
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
		log_warnx("admin: WARNING: admin_listen %s:%u is not a "
		    "loopback address: the admin API (full control of the "
		    "gateway) is reachable from the network, guarded only by "
		    "its token",
		    cfg->admin.host[0] ? cfg->admin.host : "*",
		    cfg->admin.port);
	if ((a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("admin: eventfd");
		goto fail;
	}
	if (ev_fd_add(ev, a->wake_fd, EPOLLIN, admin_fetch_wake_cb,
	    a) == -1) {
		log_warn("admin: ev_fd_add");
		close(a->wake_fd);
		a->wake_fd = -1;
		goto fail;
	}
	admin_route_handler(a, &a->handler);
	admin_limits(cfg, &lim);
	a->srv = http_server_new(ev, tls != NULL ? cfg->admin.host : NULL,
	    cfg->admin.port, tls, &lim, &a->handler, "admin");
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
	/* fetches and a patch being made stop at once; the others end */
	atomic_store(&a->stopping, 1);
	admin_fetch_counts(a, &running, &kept);
	if (running > 0)
		log_info("admin: cancelling %u firmware fetch%s",
		    running, running == 1 ? "" : "es");
	admin_fetch_reap(a, 1);
	if (a->works != NULL)
		log_info("admin: waiting for the long operations to end");
	admin_work_reap(a, 1);
	if (a->wake_fd != -1) {
		ev_fd_del(a->ev, a->wake_fd);
		close(a->wake_fd);
	}
	pthread_mutex_destroy(&a->lock);
	crypto_wipe(a->token_hash, sizeof(a->token_hash));
	free(a);
}

size_t
admin_drain(struct admin *a)
{
	return a != NULL && a->srv != NULL ? http_server_drain(a->srv) : 0;
}

size_t
admin_connections(const struct admin *a)
{
	return a != NULL ? http_server_connections(a->srv) : 0;
}

void
admin_set_tls(struct admin *a, struct tls_server *tls)
{
	if (a != NULL && a->srv != NULL)
		http_server_set_tls(a->srv, tls);
}

struct http_server *
admin_server(const struct admin *a)
{
	return a != NULL ? a->srv : NULL;
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
