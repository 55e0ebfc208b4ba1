/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session.h: the CoAP peers otagw remembers, and who may open a handshake.
 *
 * A session is what otagw keeps about one peer (address and port) on one
 * listener: its DTLS connection (coaps), the last answer to a confirmable
 * POST (to answer a retransmission the same way), a request body being
 * received block by block, a download allowed a moment ago, and its
 * observations of notices (observe.h).  Sessions
 * are found by a keyed hash of endpoint and address (so a peer cannot
 * choose colliding addresses), kept in three lists, and never walked
 * whole:
 *
 *   - open plain CoAP sessions and open DTLS sessions, each in
 *     least-recently-used order, each with its own quota: when one is
 *     full its oldest session is dropped, never one of the other kind
 *     (anyone can make plain CoAP sessions from spoofed addresses, for
 *     free); those idle for the session timeout are dropped from the
 *     heads;
 *   - half-open DTLS sessions (cookie checked, handshake not done) in
 *     creation order: each has the handshake timeout to complete.
 *
 * Open sessions are also counted per source (IPv4 address, IPv6 /64) and
 * kind: a source at its limit that opens one more loses its own least
 * recently used session of that kind, not another host's.  Likewise a PSK
 * identity at its limit (one session by default) that opens one more
 * loses its own least recently used DTLS session: a device that
 * reconnects replaces its session, whatever its address and port.
 *
 * Admission of half-open sessions is counted per source address (IPv4
 * address, IPv6 address), per network (IPv4 /24, IPv6 /64) and in total,
 * so that a handful of hosts cannot hold every handshake slot.
 */
#ifndef OTAGW_COAP_SESSION_H
#define OTAGW_COAP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "coap/udp.h"
#include "model.h"

struct coapobs;
struct coapsess_count;
struct dtls_conn;

enum coapsess_state {
	COAPSESS_HANDSHAKE = 1,	/* DTLS, cookie checked, not yet done */
	COAPSESS_OPEN,		/* plain CoAP, or DTLS established */
};

/* A request body arriving in Block1 blocks (RFC 7959 2.5). */
struct coapsess_body {
	int		 route;		/* which request it is for */
	char		 device[OTA_ID_MAX + 1];
	int		 fmt;		/* Content-Format, -1: none */
	uint8_t		 rtag[8];	/* Request-Tag */
	uint8_t		 rtaglen;
	int		 has_rtag;
	size_t		 len;		/* bytes received, in order */
	size_t		 cap;
	int64_t		 started;
	uint8_t		*buf;
	/* The bodies in progress, in start order (handler.c). */
	struct coapsess	*owner;
	struct coapsess_body *prev, *next;
	unsigned	 counted;	/* per source, per identity (bits) */
};

/* A session's place in a group of open sessions (session.c). */
struct coapsess_member {
	struct coapsess	*prev, *next;	/* least recently used first */
	struct coapsess_count *c;	/* NULL: in none */
};

struct coapsess {
	struct coapsess	*hnext;		/* hash chain */
	struct coapsess	*prev, *next;	/* LRU or handshake list */
	/* Open: in its source's group, and its identity's (session.c). */
	struct coapsess_member src, idn;
	uint64_t	 hash;
	unsigned	 ep;		/* endpoint index */
	int		 dtls_ep;	/* on a coaps endpoint */
	struct udp_sock	*sock;		/* the endpoint's socket */
	union udp_sa	 peer;
	socklen_t	 peerlen;
	struct udp_local local;		/* where the peer sends to */
	int		 state;		/* enum coapsess_state */
	struct dtls_conn *dtls;
	int64_t		 created;
	int64_t		 last;
	char		 identity[OTA_ID_MAX + 1];	/* PSK identity */
	/* Last answer to a confirmable POST: resent on a retransmission. */
	uint8_t		*last_resp;
	uint16_t	 last_len;
	uint16_t	 last_mid;
	struct coapsess_body *body;
	/* Unique to this session in the process: core's download grants. */
	uint64_t	 serial;
	/* Observations of /ota/{device}/notice (observe.h). */
	struct coapobs	*obs;
};

struct coapsess_limits {
	size_t		 max_sessions;	/* DTLS, open and half-open */
	size_t		 max_plain;	/* plain CoAP */
	size_t		 max_handshakes;
	unsigned	 per_source;	/* half-open per address */
	unsigned	 per_net;	/* half-open per /24 or /64 */
	unsigned	 open_per_source;	/* open, per /32, /64; 0 any */
	unsigned	 per_identity;	/* DTLS per PSK identity; 0: any */
	int64_t		 idle_ms;	/* open sessions */
	int64_t		 handshake_ms;	/* half-open sessions */
};

/* Why a handshake was not admitted. */
enum coapsess_refusal {
	COAPSESS_ADMIT = 0,
	COAPSESS_REFUSE_SOURCE,
	COAPSESS_REFUSE_NET,
	COAPSESS_REFUSE_TOTAL,
};

struct coapsess_table;

/*
 * release is called for every session the table frees (expiry, eviction,
 * coapsess_free, coapsess_table_free), before its memory goes: it drops
 * what the caller hung on it (DTLS connection, image reference).
 */
struct coapsess_table *coapsess_table_new(const struct coapsess_limits *,
	    void (*release)(void *, struct coapsess *), void *arg);
void	 coapsess_table_free(struct coapsess_table *);	/* accepts NULL */
void	 coapsess_set_limits(struct coapsess_table *,
	    const struct coapsess_limits *);

struct coapsess *coapsess_find(struct coapsess_table *, unsigned ep,
	    const union udp_sa *, socklen_t);
/*
 * Whether peer may open one more half-open session now (enum
 * coapsess_refusal).  Counts nothing.
 */
int	 coapsess_admit(struct coapsess_table *, const union udp_sa *);
/*
 * A new session, OPEN (plain CoAP) or HANDSHAKE (DTLS); evicts the least
 * recently used open session of the same kind when that kind is at its
 * quota, and the source's own least recently used one when the source is
 * at open_per_source.  NULL when nothing can be evicted or memory is
 * short.  A HANDSHAKE session must have been admitted.
 */
struct coapsess *coapsess_new(struct coapsess_table *, unsigned ep,
	    int dtls_ep, const union udp_sa *, socklen_t, int state,
	    int64_t now);
/* The peer was heard from: moves it to the end of its list. */
void	 coapsess_touch(struct coapsess_table *, struct coapsess *, int64_t);
/*
 * A half-open session completed its handshake (s->identity set): the
 * identity's least recently used open session is freed when it holds
 * per_identity, and the source's when it holds open_per_source DTLS
 * sessions.
 */
void	 coapsess_opened(struct coapsess_table *, struct coapsess *, int64_t);
void	 coapsess_free(struct coapsess_table *, struct coapsess *);
/*
 * Frees half-open sessions past the handshake timeout and open ones idle
 * past the idle timeout.  Returns how many half-open ones timed out.
 */
size_t	 coapsess_expire(struct coapsess_table *, int64_t now);
/* Calls fn for each half-open session (there are at most max_handshakes). */
void	 coapsess_each_handshake(struct coapsess_table *,
	    void (*fn)(void *, struct coapsess *), void *arg);

struct coapsess_counts {
	size_t		 open;		/* plain and DTLS */
	size_t		 plain;
	size_t		 handshakes;
};
void	 coapsess_counts(const struct coapsess_table *,
	    struct coapsess_counts *);

/* Drops a session's block-wise body (freeing its buffer). */
void	 coapsess_body_drop(struct coapsess *);
/* Drops the cached answer. */
void	 coapsess_last_drop(struct coapsess *);

#endif
