/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin.h: the admin API (CONTRACT §4) on its own HTTPS listener.
 *
 * Bearer-token authentication (token read from admin_token_file), JSON
 * in and out, each call mapped onto one src/ops operation, so the admin
 * API and `otactl --state' share every rule.  Also GET /metrics and
 * GET /healthz.
 */
#ifndef OTAGW_ADMIN_H
#define OTAGW_ADMIN_H

#include <stddef.h>

struct config;
struct store;
struct core;
struct ev;
struct tls_server;
struct metrics;
struct relay;
struct http_server;

struct admin;

/*
 * Binds cfg->admin; NULL with the reason logged. relay may be NULL.  With
 * tls NULL nothing is bound: unit tests make detached connections
 * (src/http/conn.h) on admin_server() and feed them requests.
 */
struct admin *admin_new(const struct config *, struct store *,
	    struct core *, struct ev *, struct tls_server *, struct metrics *,
	    struct relay *);
void	 admin_free(struct admin *);	/* NULL ok */
/* SIGHUP: re-read the token file and the limits. */
void	 admin_set_config(struct admin *, const struct config *);
/*
 * The daemon stops (see http_server_drain): no new connection, requests
 * under way are answered.  Returns the connections still open.
 */
size_t	 admin_drain(struct admin *);
size_t	 admin_connections(const struct admin *);	/* NULL: 0 */
/* New handshakes use tls (SIGHUP: a renewed certificate). */
void	 admin_set_tls(struct admin *, struct tls_server *);
/* The listener's server (for detached connections in unit tests). */
struct http_server *admin_server(const struct admin *);

/*
 * Waits for the long operations running off the loop (work.c) and
 * answers them, without the event loop: for the unit tests.
 */
void	 admin_works_wait(struct admin *);

#endif
