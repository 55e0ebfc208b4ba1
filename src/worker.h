/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker.h: the threads that answer devices.
 *
 * With `workers N', main.c's own thread is worker 0 and N-1 more threads
 * each run an event loop of their own, with their own core (core.h,
 * core_new_worker), CoAP front end and HTTPS device listener, bound to
 * the same addresses with SO_REUSEPORT (util/share.h): the kernel hands
 * each new TCP connection to one worker and each UDP datagram to the
 * worker that has its source and destination, so a DTLS session, a CoAP
 * block-wise transfer, an observation and an HTTPS connection each live
 * on one thread from start to end.  All of them share the store (LMDB:
 * readers run side by side, writers one at a time), the HTTPS TLS
 * context (its session cache and ticket keys) and the record of bytes
 * delivered; main alone runs the admin API, the relay, the core's tick
 * and the signals.
 *
 * Main talks to a worker through its mailbox: a new configuration and
 * TLS context after SIGHUP, drain on SIGTERM, stop; each is applied by
 * the worker's own thread.  Limits meant for the whole gateway
 * (coap_max_sessions, coap_max_handshakes, push_max_watchers, and the
 * per-source ones, since the kernel spreads one address's connections
 * over the workers by port) are divided among them (worker_config).
 */
#ifndef OTAGW_WORKER_H
#define OTAGW_WORKER_H

#include <stddef.h>

struct config;
struct core;
struct metrics;
struct tls_server;
struct worker;

/* workers as configured: 0 is one per CPU online; 1..CONFIG_WORKERS_MAX. */
unsigned worker_count(const struct config *);

/* cfg as each of n workers applies it: the gateway's limits divided. */
void	 worker_config(const struct config *cfg, unsigned n,
	    struct config *out);

/*
 * Worker id (1..), configured with wcfg (worker_config's; copied),
 * sharing main's core, the device TLS context tls (NULL: HTTPS off) and
 * metrics: binds its listeners, joining the first worker's sockets.
 * NULL with the reason logged.  Call in main's thread, before
 * worker_start.
 */
struct worker *worker_new(unsigned id, const struct config *wcfg,
	    struct core *main, struct tls_server *tls, struct metrics *);
/* Starts its thread.  0 or -1. */
int	 worker_start(struct worker *);

/*
 * SIGHUP: the worker applies wcfg (copied) and, when not NULL, tls for
 * its new connections.  Returns at once; worker_applied tells when the
 * worker has done it.
 */
void	 worker_reload(struct worker *, const struct config *wcfg,
	    struct tls_server *tls);
int	 worker_applied(struct worker *);

/* SIGTERM: the worker stops taking new work, as main's listeners do. */
void	 worker_drain(struct worker *);
/* Whether it has: its listeners are closed. */
int	 worker_drained(struct worker *);
/* Its connections still carrying something (published every 100 ms). */
size_t	 worker_busy(struct worker *);

/* Stops the thread, waits for it and frees everything.  NULL ok. */
void	 worker_free(struct worker *);

/*
 * The metrics main's thread adds for all of them: the number of workers
 * and main's own CPU time, as worker 0.  Each worker registers its own.
 */
int	 worker_metrics_main(struct metrics *, unsigned nworkers);

#endif
