/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * handler.h: what otagw answers to a CoAP request.
 *
 * One call per request: the message layer (coapfront.c) has parsed it,
 * found its session and chosen the answer's type, message id and token;
 * coaphandler_request() routes it, checks its options, reassembles Block1
 * bodies, calls core and writes the answer's code, options and payload.
 * No I/O and no libcoap here, so the same code runs under the fuzzer.
 *
 *   POST /ota/{device}/check      -> core_check
 *   POST /ota/{device}/progress   -> core_progress
 *   GET  /ota/{device}/notice     -> core_check with an empty body; with
 *                                    Observe 0 an observation (observe.h)
 *   GET  /fw/{firmware}           -> core_download, one block per request
 *
 * Block-wise transfer (RFC 7959) is done here, not by libcoap:
 *   - Block2 on downloads is stateless: every request names its block, any
 *     SZX 0..6, at any offset, on any session; a block past the end is
 *     4.02.  ETag and Size2 are on every block.
 *   - Block1 request bodies (check, progress) are reassembled per session,
 *     with or without Size1: 2.31 Continue for each block but the last,
 *     then the answer.  A block out of order is 4.08; a body, or a Size1,
 *     over max_body is 4.13 with Size1 = max_body.  A request cut by the
 *     read buffer (truncated), a block included, is 4.13 with Block1
 *     SZX 6 as well: it is to be sent in blocks of at most 1 KiB.
 */
#ifndef OTAGW_COAP_HANDLER_H
#define OTAGW_COAP_HANDLER_H

#include <stddef.h>
#include <stdint.h>

struct coapbuf;
struct coapmsg;
struct coapmsg_block;
struct coapobs_table;
struct coapsess;
struct core;

/* Bytes of Block1 bodies held across all sessions, at most. */
#define COAPHANDLER_BODY_BUDGET	(4u * 1024 * 1024)
/* A Block1 body not completed in this time is dropped. */
#define COAPHANDLER_BODY_MS	60000
/* Block1 bodies in progress from one IPv4 address or IPv6 /64, at most. */
#define COAPHANDLER_BODIES_PER_SOURCE	16
/* Buckets of the per-source and per-identity body counts. */
#define COAPHANDLER_COUNT_BUCKETS	256

/* The representation of /ota/{device}/notice when nothing is pending. */
#define COAPHANDLER_NO_NOTICE	"{}"

struct coaphandler_count;
struct coapsess_body;

/*
 * Block1 bodies: each holds what it announced (Size1) or has received
 * (growing by doubling), not max_body; all of them together at most
 * COAPHANDLER_BODY_BUDGET bytes, at most COAPHANDLER_BODIES_PER_SOURCE
 * from one source, and one per PSK identity (a device's new body ends its
 * older one, on whatever session).  Beyond the budget or the source's
 * share a first block is 5.03 with Max-Age 1.
 */
struct coaphandler {
	struct core	*core;
	size_t		 max_body;
	size_t		 body_bytes;	/* held in Block1 bodies */
	size_t		 bodies;	/* Block1 bodies in progress */
	struct coapsess_body *first, *last;	/* by start time */
	struct coaphandler_count *counts[COAPHANDLER_COUNT_BUCKETS];
	struct coapobs_table *obs;	/* NULL: no Observe (a plain GET) */
};

void	 coaphandler_init(struct coaphandler *, struct core *,
	    size_t max_body);
/*
 * A 2.05 answer with a notice (len bytes of JSON, or "{}" when body is
 * NULL) into r, whose header is written: all of it, or when it is over
 * 1 KiB or a block is asked (b2), that block (the first when b2 is NULL)
 * with ETag, Block2 and Size2.  Observe when observe >= 0 (its low 24
 * bits), Content-Format 50, Max-Age max_age, and Block1 b1 (the last
 * block of a request body) when not NULL.  A block past the end is 4.02.
 */
void	 coaphandler_notice_answer(struct coapbuf *, const char *body,
	    size_t len, unsigned max_age, const struct coapmsg_block *b2,
	    const struct coapmsg_block *b1, int64_t observe);
/*
 * Answers req, which arrived on session s at now (ms, monotonic), into
 * resp (initialized with type, message id and token).  truncated: bytes
 * of the datagram that did not fit the read buffer (its payload is then
 * incomplete).
 */
void	 coaphandler_request(struct coaphandler *, struct coapsess *,
	    const struct coapmsg *, size_t truncated, int64_t now,
	    struct coapbuf *);
/* Drops what the handler hung on a session (a Block1 body). */
void	 coaphandler_release(struct coaphandler *, struct coapsess *);
/*
 * Drops the Block1 bodies started COAPHANDLER_BODY_MS or longer before
 * now, on whatever session (the session timer calls it).
 */
void	 coaphandler_expire(struct coaphandler *, int64_t now);

#endif
