/*
 * relay.h: the upstream relay (CONTRACT §5).
 *
 * Sends the store's outbox to upstream_url as JSON arrays over one HTTP/2
 * connection (src/relay/h2client), in sequence order, at least once,
 * removing a batch only after a 2xx.  Retries back off with jitter; a
 * batch refused with another 4xx is parked (kept, counted) so it does not
 * block what follows.  Also fetches firmware images from upstream URLs
 * (src/relay/fetch).
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
	uint64_t dropped;	/* progress events dropped at the limit */
	int	 connected;
};
void	 relay_stats(const struct relay *, struct relay_stats *);

#endif
