/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * core.h: the protocol-neutral device requests: check, progress, download.
 *
 * Every front end (CoAP, CoAP over DTLS, HTTP/2, HTTP/1.1) parses its own
 * wire format, authenticates the peer as far as its transport can, and then
 * hands the same request to these functions.  Authorization, validation,
 * job rules and the store transaction all live here, once.
 *
 * A front end maps enum core_status to its own codes:
 *
 *   status            CoAP   HTTP
 *   CORE_OK           2.05   200 (check: notice), 204 (progress)
 *   CORE_NO_CONTENT   2.04   204
 *   CORE_BAD_REQUEST  4.00   400
 *   CORE_UNAUTHORIZED 4.01   401
 *   CORE_FORBIDDEN    4.03   403
 *   CORE_NOT_FOUND    4.04   404
 *   CORE_TOO_LARGE    4.13   413
 *   CORE_UNAVAILABLE  5.03   503 (store full or failing: retry later)
 *   CORE_INTERNAL     5.00   500
 */
#ifndef OTAGW_CORE_H
#define OTAGW_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct store;
struct store_image;
struct config;

/* Answers: 0 or positive for success, negative for an error. */
enum core_status {
	CORE_OK = 0,
	CORE_NO_CONTENT = 1,
	CORE_BAD_REQUEST = -1,
	CORE_UNAUTHORIZED = -2,
	CORE_FORBIDDEN = -3,
	CORE_NOT_FOUND = -4,
	CORE_TOO_LARGE = -5,
	CORE_UNAVAILABLE = -6,
	CORE_INTERNAL = -7,
};

enum core_proto {
	CORE_PROTO_COAP = 0,	/* plain UDP: no peer identity */
	CORE_PROTO_COAPS,	/* DTLS-PSK: identity = PSK identity */
	CORE_PROTO_HTTPS,	/* bearer secret or client certificate */
};

struct core_req {
	int	proto;		/* enum core_proto */
	/*
	 * The device the transport has authenticated (PSK identity, client
	 * certificate CN, or bearer secret already checked), or NULL when
	 * the transport proves nothing (plain CoAP).
	 */
	const char *peer;
	const char *device;	/* {device} from the path, for check/progress */
	const uint8_t *body;
	size_t	body_len;
	/*
	 * Downloads only.  conn: the front end's connection or session, a
	 * number unique to it while it lasts (0: none).  secret: the bearer
	 * secret that names peer, not yet checked, or NULL when the
	 * transport proved peer itself (PSK, client certificate) or proves
	 * nothing (plain CoAP).  What core_download allows is remembered for
	 * a couple of seconds for that very connection, peer, secret and
	 * firmware (core/grant.h).
	 */
	uint64_t conn;
	const char *secret;
	/*
	 * Downloads by a URL that carries its own credential
	 * (core/capability.h): the signature and expiry from the URL, for
	 * the device in peer.  cap_sig NULL: none.
	 */
	const char *cap_sig;
	int64_t	cap_expires;
	/*
	 * Checks: where the device reached the gateway, as
	 * "scheme://host[:port]" (the local address of a CoAP session, an
	 * HTTPS request's Host), for the notice's url when no public URL is
	 * configured.  NULL: made from the listen address.
	 */
	const char *origin;
	/*
	 * Checks: the device takes the full image only (hawkBit clients:
	 * a deployment has one artifact), so no patch is offered.
	 */
	int	 no_delta;
};

struct core_resp {
	int	status;		/* enum core_status */
	char	*body;	/* malloc'd JSON (notice or diagnostic) or NULL */
	size_t	body_len;
	int	is_signed;	/* body is a notice as a JWS (core/signer.h) */
	unsigned retry_after;	/* seconds: Max-Age / Retry-After */
};

struct core;

/*
 * cfg and st must outlive the core.  core_new, and core_set_config when
 * it changed, record history_max_per_device in the store
 * (store_history_max_set), where every process writing to it finds it.
 */
struct core *core_new(struct store *st, const struct config *cfg);
void	 core_free(struct core *);	/* accepts NULL */
/*
 * The core of a worker thread (main.c, worker.c), used by that thread
 * only: it shares main's store and transfer table, and main must outlive
 * it.  Its tick is core_tick_worker; core_tick runs on main's alone.
 */
struct core *core_new_worker(struct core *main, const struct config *cfg);
/* The configuration changed (SIGHUP): reread what is reloadable. */
void	 core_set_config(struct core *, const struct config *);

/* POST /ota/{device}/check.  resp->body is freed with core_resp_cleanup. */
void	 core_check(struct core *, const struct core_req *, struct core_resp *);
/* POST /ota/{device}/progress. */
void	 core_progress(struct core *, const struct core_req *,
	    struct core_resp *);
void	 core_resp_cleanup(struct core_resp *);

/*
 * GET /fw/{firmware}: checks req->secret when there is one (else
 * CORE_UNAUTHORIZED) or req->cap_sig (else CORE_FORBIDDEN: expired,
 * altered or signed by a dropped key), authorizes the download (the
 * device has an open row of a job for that firmware, else
 * CORE_FORBIDDEN) and returns the image (one
 * reference, released with store_image_unref) and its metadata.  Returns a
 * core_status; on CORE_OK *img and *fw are set.  A request that repeats
 * one allowed within the last couple of seconds on the same connection,
 * with the same peer, secret and firmware, is answered from memory.
 */
int	 core_download(struct core *, const struct core_req *, const char *fwid,
	    const struct store_image **img, struct firmware_rec *fw);

/*
 * Bytes off..off+len of firmware fwid (of size bytes) left for device: a
 * CoAP block sent, an HTTPS body slice written (core/transfer.h).
 */
void	 core_transferred(struct core *, const char *device, const char *fwid,
	    uint64_t off, uint64_t len, uint64_t size);

/*
 * The DTLS key of a device, for the PSK callback.  Returns 0 and fills
 * key/len, or -1 (unknown device or no PSK).
 */
int	 core_device_psk(struct core *, const char *identity, uint8_t *key,
	    size_t *len, size_t max);

/* Device secret check for HTTPS bearer tokens: 0 ok, -1 not. */
int	 core_device_auth(struct core *, const char *device,
	    const char *secret);

/* Time-driven rules (timeouts, retries, windows); call about once a second. */
void	 core_tick(struct core *, int64_t now);
/* A worker core's second: old grants dropped, dynamic jobs read again. */
void	 core_tick_worker(struct core *);

/* Clock, injectable for tests (NULL restores the real clock). */
void	 core_set_clock(struct core *, int64_t (*now)(void *), void *arg);

#endif
