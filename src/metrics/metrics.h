/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.h: a registry of collectors rendered as Prometheus text.
 *
 * Modules register a collector callback once; GET /metrics calls every
 * collector, which writes its samples through metrics_counter and
 * metrics_gauge.  Nothing is stored here: values come from their owners
 * at scrape time.
 */
#ifndef OTAGW_METRICS_H
#define OTAGW_METRICS_H

#include <stddef.h>

struct metrics;
struct metrics_out;

typedef void (*metrics_collect_cb)(void *arg, struct metrics_out *);

struct metrics *metrics_new(void);
void	 metrics_free(struct metrics *);	/* NULL ok */
int	 metrics_register(struct metrics *, metrics_collect_cb, void *arg);

/*
 * One sample.  name like "otagw_http_requests_total"; labels "" or
 * 'listener="device"'.  HELP and TYPE lines are written once per name.
 */
void	 metrics_counter(struct metrics_out *, const char *name,
	    const char *help, const char *labels, double value);
void	 metrics_gauge(struct metrics_out *, const char *name,
	    const char *help, const char *labels, double value);

/* The whole exposition; malloc'd, free with free(). */
char	*metrics_render(struct metrics *, size_t *len);

/*
 * A registry's samples as they are now, to be added to another scrape:
 * a worker thread (worker.c) takes a snapshot of its own front ends'
 * collectors in its own thread, and main's scrape adds it, so that no
 * thread reads counters another one writes.  NULL when out of memory.
 */
struct metrics_snap;
struct metrics_snap *metrics_snapshot(struct metrics *);
void	 metrics_snap_free(struct metrics_snap *);	/* NULL ok */
void	 metrics_add_snap(struct metrics_out *, const struct metrics_snap *);

#endif
