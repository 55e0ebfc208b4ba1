/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * device.h: the HTTPS device front end (CONTRACT §2).
 *
 * Routes POST /ota/{device}/check (with ?wait=SECONDS a long poll),
 * POST /ota/{device}/progress and GET/HEAD /fw/{firmware} on the
 * `https_listen' listener to the request core, after authenticating the
 * device (bearer secret or client certificate).  Downloads follow RFC
 * 9110 ranges and conditionals (src/http/range.h) and are written
 * straight from the image map.
 */
#ifndef OTAGW_HTTP_DEVICE_H
#define OTAGW_HTTP_DEVICE_H

#include <stddef.h>

struct config;
struct core;
struct ev;
struct tls_server;
struct metrics;
struct http_server;

struct httpdev;

/* Open connections one worker's device listener holds at most. */
#define HTTPDEV_MAX_CONNECTIONS	10000

/*
 * Binds cfg->https; NULL with the reason logged.  With ev NULL nothing is
 * bound: unit tests make detached connections (src/http/conn.h) on
 * httpdev_server() and feed them requests.  share (enum listen_share,
 * util/share.h) says whether other workers bind the same address.
 */
struct httpdev *httpdev_new(const struct config *, struct core *,
	    struct ev *, struct tls_server *, struct metrics *, int share);
void	 httpdev_free(struct httpdev *);	/* NULL ok */
void	 httpdev_set_config(struct httpdev *, const struct config *);
/*
 * The daemon stops (see http_server_drain): no new connection, downloads
 * under way finish, long polls that wait are answered 503 at once.
 * Returns the connections still open.
 */
size_t	 httpdev_drain(struct httpdev *);
/*
 * The listener closes, nothing else yet: main closes its own before the
 * other workers drain, so that no GOAWAY goes out while one of the
 * workers' listeners still takes connections.  NULL ok.
 */
void	 httpdev_stop_accepting(struct httpdev *);
size_t	 httpdev_connections(const struct httpdev *);	/* NULL: 0 */
/* New handshakes use tls (see http_server_set_tls). */
void	 httpdev_set_tls(struct httpdev *, struct tls_server *);
struct http_server *httpdev_server(const struct httpdev *);

#endif
