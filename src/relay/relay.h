/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relay.h: the upstream relay (CONTRACT §5).
 *
 * Sends the store's outbox to upstream_url as JSON arrays over one HTTP/2
 * connection (src/http/h2client), in sequence order, at least once,
 * removing a batch only after a 2xx.  Retries back off with jitter; a
 * batch refused with another 4xx is parked (kept, counted) so it does not
 * block what follows.  (Firmware images fetched from upstream URLs are an
 * operator operation: src/ops/fetch.h.)
 */
#ifndef OTAGW_RELAY_H
#define OTAGW_RELAY_H

#include <stdint.h>

struct config;
struct store;
struct ev;
struct metrics;

struct relay;

/* An idle relay when cfg has no upstream_url.  NULL on a fatal setup
 * error (logged). */
struct relay *relay_new(const struct config *, struct store *, struct ev *,
	    struct metrics *);
void	 relay_free(struct relay *);	/* NULL ok */
void	 relay_set_config(struct relay *, const struct config *);
/* New events are in the outbox: send soon. */
void	 relay_kick(struct relay *);

struct relay_stats {
	uint64_t sent;		/* events acknowledged by the upstream */
	uint64_t batches;
	uint64_t retries;
	uint64_t parked;	/* batches moved aside after a 4xx */
	uint64_t dropped;	/* events dropped at the outbox limit */
	int	 connected;
};
void	 relay_stats(const struct relay *, struct relay_stats *);

/*
 * The relay's decisions, pure functions exposed for tests/unit/test_relay.
 */
enum relay_verdict {
	RELAY_DONE,		/* 2xx: remove the batch from the outbox */
	RELAY_RETRY,		/* no answer, 408, 429, 5xx: same batch later */
	RELAY_PARK,		/* other answers: move the batch aside */
};
int	 relay_verdict(int status);	/* status 0: no answer */
/*
 * Delay before retry number `attempt' (1, 2, ...): "full jitter", a value
 * drawn by rnd from [0, min(max_ms, base_ms * 2^(attempt-1))].
 */
uint64_t relay_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms,
	    uint64_t rnd);

/* A JSON array of stamped events, bounded in count and bytes. */
struct relay_batch {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 count;
	uint64_t first;		/* sequence numbers, 0 when empty */
	uint64_t last;
	size_t	 max_count;
	size_t	 max_bytes;
};
void	 relay_batch_init(struct relay_batch *, size_t max_count,
	    size_t max_bytes);
/*
 * Adds one event (already stamped).  0 added, 1 full (not added: send
 * what is there; an event alone over max_bytes is still taken when the
 * batch is empty), -1 out of memory.
 */
int	 relay_batch_add(struct relay_batch *, uint64_t seq, const char *,
	    size_t);
/* Closes the array; buf/len is then the body.  0, or -1. */
int	 relay_batch_close(struct relay_batch *);
/* Empties the batch; its limits stay. */
void	 relay_batch_reset(struct relay_batch *);
void	 relay_batch_free(struct relay_batch *);

#endif
