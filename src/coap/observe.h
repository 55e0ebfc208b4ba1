/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * observe.h: CoAP Observe (RFC 7641) on /ota/{device}/notice.
 *
 * A device that stays awake registers (GET with Observe 0) and hears of a
 * notice as soon as one exists for it, instead of at its next check.  An
 * observation is one core watch (core/watch.h) hung on the CoAP session;
 * it lasts as long as the session, at most one per device on a session (a
 * new registration replaces it), at most COAPOBS_PER_SESSION per session,
 * and push_max_watchers in all.
 *
 * When core says a notice exists, the check is run for real
 * (core_watch_check: the row becomes NOTIFIED, as on any check) and the
 * notice goes out as a confirmable notification: a fresh message id, the
 * registration's token, an Observe value above every one sent before
 * (24 bits, from one counter), Content-Format 50, Max-Age as on a check.
 * It is retransmitted as RFC 7252 4.2 says (ACK_TIMEOUT 2 s, random
 * factor 1.5, doubling, MAX_RETRANSMIT 4).  The observation ends with a
 * reset to a notification, with the last retransmission unanswered, with
 * a registration of Observe 1 (deregistration), or with the session (idle
 * timeout, eviction, a new DTLS handshake, the daemon stopping).
 *
 * Like handler.c this file does no I/O: the message layer gives it a
 * function that sends a datagram on a session and one that hands out
 * message ids, calls coapobs_reply for the ACKs and resets that arrive
 * and coapobs_timer when coapobs_next_due says.
 */
#ifndef OTAGW_COAP_OBSERVE_H
#define OTAGW_COAP_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

struct coapsess;
struct core;
struct core_req;
struct core_resp;

/* Observations one session may hold (plain CoAP: several devices). */
#define COAPOBS_PER_SESSION	8
/* RFC 7252 4.8 */
#define COAPOBS_ACK_TIMEOUT_MS	2000
#define COAPOBS_MAX_RETRANSMIT	4

/* Why observations ended, counted. */
enum coapobs_end {
	COAPOBS_END_DEREGISTER = 0,	/* GET with Observe 1 */
	COAPOBS_END_RESET,		/* RST to a notification */
	COAPOBS_END_TIMEOUT,		/* retransmissions exhausted */
	COAPOBS_END_SESSION,		/* the session ended */
	COAPOBS_END_ERROR,		/* an error notification */
	COAPOBS_END_REPLACED,		/* the device observes elsewhere */
	COAPOBS_END_N,
};

struct coapobs_stats {
	uint64_t observations;		/* held now */
	uint64_t registrations;		/* accepted, replacements included */
	uint64_t refused;		/* answered without Observe */
	uint64_t notifications;		/* first transmissions */
	uint64_t retransmissions;
	uint64_t acked;
	uint64_t ended[COAPOBS_END_N];
};

struct coapobs;

/* What the message layer does for observations. */
struct coapobs_ops {
	/* Sends one CoAP message to the peer of s (encrypted on coaps). */
	void	(*send)(void *, struct coapsess *s, const uint8_t *, size_t);
	/* A message id for a new message to the peer of s. */
	uint16_t (*next_mid)(void *, struct coapsess *s);
	/* coapobs_next_due may have moved earlier: look again. */
	void	(*arm)(void *);
	/* The time, ms, as the message layer counts it. */
	int64_t	(*clock)(void *);
};

struct coapobs_table {
	struct core	*core;
	const struct coapobs_ops *ops;
	void		*arg;
	int64_t		 ack_timeout_ms;	/* COAPOBS_ACK_TIMEOUT_MS */
	uint32_t	 seq;			/* the last Observe value */
	uint64_t	 rng;			/* xorshift: the ACK timeouts */
	struct coapobs	*all;			/* every observation */
	size_t		 inflight;		/* notifications unanswered */
	struct coapobs_stats st;
};

void	 coapobs_init(struct coapobs_table *, struct core *,
	    const struct coapobs_ops *, void *arg);
/* Ends every observation (no message is sent), frees them. */
void	 coapobs_cleanup(struct coapobs_table *);

/*
 * GET /ota/{device}/notice with Observe 0 on s, for req (device, peer,
 * proto, origin), with the request's token: registers, or replaces the
 * session's observation of that device, and runs the check for the first
 * answer into resp.  Returns 0 with *observe the Observe value for the
 * answer, or -1 when nothing is observed: resp then holds the answer to
 * give (core's error, or a plain check when at a limit: the answer then
 * goes without Observe, as RFC 7641 4.1 says).
 */
int	 coapobs_register(struct coapobs_table *, struct coapsess *,
	    const struct core_req *, const uint8_t *token, size_t tkl,
	    int64_t now, struct core_resp *, uint32_t *observe);
/* Observe 1: the session's observation of device ends.  1 if there was. */
int	 coapobs_deregister(struct coapobs_table *, struct coapsess *,
	    const char *device);
/*
 * An ACK (rst 0) or a reset (rst 1) with message id mid from the peer of
 * s: 1 when it answered a notification (a reset ends its observation).
 */
int	 coapobs_reply(struct coapobs_table *, struct coapsess *,
	    uint16_t mid, int rst, int64_t now);
/* Retransmits what is due at now; observations out of tries end. */
void	 coapobs_timer(struct coapobs_table *, int64_t now);
/* When coapobs_timer has work next (ms), 0 for never. */
int64_t	 coapobs_next_due(const struct coapobs_table *);
/* The session goes (released by the table): its observations end. */
void	 coapobs_session_gone(struct coapobs_table *, struct coapsess *);
/*
 * The daemon stops: every observer gets a non-confirmable 5.03 with
 * Max-Age max_age (an error notification ends an observation, RFC 7641
 * 3.2, so the device registers again with the next gateway), and every
 * observation ends.
 */
void	 coapobs_drain(struct coapobs_table *, unsigned max_age);
/* How many observations s holds. */
size_t	 coapobs_count(const struct coapsess *);

#endif
