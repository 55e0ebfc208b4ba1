/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ev.h: a small epoll event loop with millisecond timers.
 *
 * Single-threaded.  File descriptors get a callback on readiness; timers
 * fire once (re-arm from the callback for periodic work).  A "prepare"
 * hook runs before each wait and may shorten the wait (libcoap uses it to
 * get its retransmission timers serviced).
 */
#ifndef OTAGW_EV_H
#define OTAGW_EV_H

#include <stdint.h>

struct ev;
struct ev_timer;

typedef void (*ev_fd_cb)(int fd, uint32_t events, void *arg);
typedef void (*ev_timer_cb)(void *arg);
/* Returns the longest the loop may wait, in ms (-1: no limit). */
typedef int (*ev_prepare_cb)(void *arg);

struct ev *ev_new(void);
void	 ev_free(struct ev *);	/* accepts NULL */

/* events: EPOLLIN/EPOLLOUT bits.  0 or -1. */
int	 ev_fd_add(struct ev *, int fd, uint32_t events, ev_fd_cb, void *arg);
int	 ev_fd_mod(struct ev *, int fd, uint32_t events);
int	 ev_fd_del(struct ev *, int fd);
/*
 * For a descriptor about to be closed that has no duplicate: forgets it
 * without a system call (its close takes it out of epoll).  0 or -1.
 */
int	 ev_fd_forget(struct ev *, int fd);

/* One-shot timer after ms milliseconds. */
struct ev_timer *ev_timer_add(struct ev *, int64_t ms, ev_timer_cb, void *arg);
void	 ev_timer_cancel(struct ev *, struct ev_timer *);	/* NULL ok */

int	 ev_prepare_add(struct ev *, ev_prepare_cb, void *arg);

/* Runs until ev_stop; 0, or -1 on an epoll failure. */
int	 ev_run(struct ev *);
void	 ev_stop(struct ev *);

/* Monotonic clock, ms. */
int64_t	 ev_now_ms(void);

#endif
