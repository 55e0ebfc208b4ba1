/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * coapfront.h: the CoAP and CoAP-over-DTLS front end (RFC 7252, RFC 7959).
 *
 * The only module that includes libcoap.  It binds the configured `coap'
 * and `coaps' listeners, registers libcoap's descriptor and timers with the
 * event loop, translates requests for /ota/{device}/check,
 * /ota/{device}/progress, /ota/{device}/notice (with Observe, RFC 7641)
 * and /fw/{firmware} into core calls, and serves images block-wise
 * straight from the store's shared memory maps.
 */
#ifndef OTAGW_COAPFRONT_H
#define OTAGW_COAPFRONT_H

struct config;
struct core;
struct ev;
struct metrics;

struct coapfront;

/*
 * Binds every enabled CoAP listener and hooks into ev; registers the
 * datagram counters with metrics (NULL: none).  Returns NULL (with the
 * reason logged) when a listener cannot be set up.  A configuration with
 * no CoAP listener gives a valid, idle front end.  share (enum
 * listen_share, util/share.h) says whether other workers bind the same
 * addresses; each worker has a front end of its own.
 */
struct coapfront *coapfront_new(const struct config *, struct core *,
	    struct ev *, struct metrics *, int share);
/*
 * Accepts NULL.  Call it after ev_run has returned (the event loop has no
 * way to drop the prepare hook) and before core_free and store_close:
 * freeing the sessions releases the image references they still hold.
 */
void	 coapfront_free(struct coapfront *);
/*
 * The daemon stops: observers get a 5.03 notification (which ends their
 * observation), and the listening sockets close (a CoAP exchange is one
 * datagram each way; devices carry on with the next otagw).
 */
void	 coapfront_drain(struct coapfront *);
/* SIGHUP: apply reloadable settings (session limits and timeouts). */
void	 coapfront_set_config(struct coapfront *, const struct config *);
/*
 * The local port of the first socket of the coap (dtls 0) or coaps (dtls
 * 1) listener, 0 when there is none (off, or drained): what a listener
 * configured with port 0 was given.  For unit tests, which bind port 0.
 */
unsigned coapfront_port(const struct coapfront *, int dtls);

#endif
