/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ev.c: the daemon's event loop, one epoll set plus millisecond timers.
 *
 * Single-threaded, in the spirit of Redis' ae.c.  Each pass of ev_run:
 *
 *   1. asks every prepare hook how long it may wait (libcoap wants its
 *      retransmissions serviced), and takes the soonest timer into account;
 *   2. waits in epoll_wait (EINTR just starts a new pass);
 *   3. calls the callback of every ready descriptor;
 *   4. fires the timers that are due, oldest first.
 *
 * Descriptors are kept in a table indexed by fd.  The epoll cookie carries
 * the fd and a generation number, so an event for a descriptor that a
 * callback earlier in the same batch deleted (or deleted and re-added) is
 * dropped instead of reaching the wrong callback.
 *
 * Timers live in a binary min-heap ordered by (due time, sequence number);
 * the sequence keeps timers with the same due time in the order they were
 * added.  A timer is freed after its callback returns: the handle is
 * invalid from then on, so owners clear their pointer in the callback.
 * Timers added while due timers are firing wait for the next pass, so a
 * callback that re-arms itself with 0 ms cannot starve the descriptors.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

#define EV_BATCH	64

struct ev_fd {
	ev_fd_cb	 cb;
	void		*arg;
	uint32_t	 events;
	uint32_t	 gen;		/* bumped on every add */
	int		 active;
};

struct ev_timer {
	int64_t		 when;		/* ev_now_ms() due time */
	uint64_t	 seq;
	ev_timer_cb	 cb;
	void		*arg;
	size_t		 idx;	/* position in the heap, or NOT_QUEUED */
};

#define NOT_QUEUED	SIZE_MAX

struct ev_prepare {
	ev_prepare_cb	 cb;
	void		*arg;
};

struct ev {
	int		 epfd;
	int		 stop;
	uint32_t	 gen;

	struct ev_fd	*fds;
	size_t		 nfds;		/* table size (max fd + 1) */

	struct ev_timer	**heap;
	size_t		 nheap, heapcap;
	uint64_t	 seq;

	struct ev_prepare *prep;
	size_t		 nprep;
};

int64_t
ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ev *
ev_new(void)
{
	struct ev *ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL) {
		log_warn("ev_new");
		return NULL;
	}
	if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("ev_new: epoll_create1");
		free(ev);
		return NULL;
	}
	return ev;
}

void
ev_free(struct ev *ev)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->nheap; i++)
		free(ev->heap[i]);
	free(ev->heap);
	free(ev->fds);
	free(ev->prep);
	close(ev->epfd);
	free(ev);
}

/* Descriptors ----------------------------------------------------------- */

static uint64_t
ev_cookie(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

int
ev_fd_add(struct ev *ev, int fd, uint32_t events, ev_fd_cb cb, void *arg)
{
	struct epoll_event ee;
	struct ev_fd *f;

	if (fd < 0 || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)fd >= ev->nfds) {
		size_t n = ev->nfds ? ev->nfds : 64;

		while (n <= (size_t)fd)
			n *= 2;
		if ((f = reallocarray(ev->fds, n, sizeof(*f))) == NULL)
			return -1;
		memset(f + ev->nfds, 0, (n - ev->nfds) * sizeof(*f));
		ev->fds = f;
		ev->nfds = n;
	}
	f = &ev->fds[fd];
	if (f->active) {
		errno = EEXIST;
		return -1;
	}
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.u64 = ev_cookie(fd, ++ev->gen);
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) == -1)
		return -1;
	f->cb = cb;
	f->arg = arg;
	f->events = events;
	f->gen = ev->gen;
	f->active = 1;
	return 0;
}

int
ev_fd_mod(struct ev *ev, int fd, uint32_t events)
{
	struct epoll_event ee;
	struct ev_fd *f;

	if (fd < 0 || (size_t)fd >= ev->nfds || !ev->fds[fd].active) {
		errno = ENOENT;
		return -1;
	}
	f = &ev->fds[fd];
	if (f->events == events)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.u64 = ev_cookie(fd, f->gen);
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &ee) == -1)
		return -1;
	f->events = events;
	return 0;
}

int
ev_fd_del(struct ev *ev, int fd)
{
	struct epoll_event ee;

	if (fd < 0 || (size_t)fd >= ev->nfds || !ev->fds[fd].active) {
		errno = ENOENT;
		return -1;
	}
	ev->fds[fd].active = 0;
	ev->fds[fd].cb = NULL;
	ev->fds[fd].arg = NULL;
	memset(&ee, 0, sizeof(ee));
	/* The fd may already be closed: the entry is gone from epoll then. */
	if (epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, &ee) == -1 &&
	    errno != EBADF && errno != ENOENT)
		return -1;
	return 0;
}

int
ev_fd_forget(struct ev *ev, int fd)
{
	if (fd < 0 || (size_t)fd >= ev->nfds || !ev->fds[fd].active) {
		errno = ENOENT;
		return -1;
	}
	ev->fds[fd].active = 0;
	ev->fds[fd].cb = NULL;
	ev->fds[fd].arg = NULL;
	return 0;
}

/* Timers ---------------------------------------------------------------- */

static int
timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
heap_set(struct ev *ev, size_t i, struct ev_timer *t)
{
	ev->heap[i] = t;
	t->idx = i;
}

static void
heap_up(struct ev *ev, size_t i)
{
	struct ev_timer *t = ev->heap[i];

	while (i > 0 && timer_before(t, ev->heap[(i - 1) / 2])) {
		heap_set(ev, i, ev->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(ev, i, t);
}

static void
heap_down(struct ev *ev, size_t i)
{
	struct ev_timer *t = ev->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= ev->nheap)
			break;
		if (c + 1 < ev->nheap &&
		    timer_before(ev->heap[c + 1], ev->heap[c]))
			c++;
		if (!timer_before(ev->heap[c], t))
			break;
		heap_set(ev, i, ev->heap[c]);
		i = c;
	}
	heap_set(ev, i, t);
}

static void
heap_remove(struct ev *ev, struct ev_timer *t)
{
	size_t i = t->idx;
	struct ev_timer *last;

	last = ev->heap[--ev->nheap];
	t->idx = NOT_QUEUED;
	if (last == t)
		return;
	heap_set(ev, i, last);
	if (i > 0 && timer_before(last, ev->heap[(i - 1) / 2]))
		heap_up(ev, i);
	else
		heap_down(ev, i);
}

struct ev_timer *
ev_timer_add(struct ev *ev, int64_t ms, ev_timer_cb cb, void *arg)
{
	struct ev_timer *t, **h;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (ev->nheap == ev->heapcap) {
		size_t n = ev->heapcap ? ev->heapcap * 2 : 16;

		if ((h = reallocarray(ev->heap, n, sizeof(*h))) == NULL)
			return NULL;
		ev->heap = h;
		ev->heapcap = n;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (ms < 0)
		ms = 0;
	t->when = ev_now_ms() + ms;
	t->seq = ev->seq++;
	t->cb = cb;
	t->arg = arg;
	heap_set(ev, ev->nheap++, t);
	heap_up(ev, t->idx);
	return t;
}

void
ev_timer_cancel(struct ev *ev, struct ev_timer *t)
{
	if (t == NULL || t->idx == NOT_QUEUED)
		return;	/* firing right now: freed when its callback returns */
	heap_remove(ev, t);
	free(t);
}

int
ev_prepare_add(struct ev *ev, ev_prepare_cb cb, void *arg)
{
	struct ev_prepare *p;

	if (cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((p = reallocarray(ev->prep, ev->nprep + 1, sizeof(*p))) == NULL)
		return -1;
	ev->prep = p;
	ev->prep[ev->nprep].cb = cb;
	ev->prep[ev->nprep].arg = arg;
	ev->nprep++;
	return 0;
}

/* The loop -------------------------------------------------------------- */

/* How long the next epoll_wait may sleep: -1 (forever) or ms. */
static int
ev_wait_ms(struct ev *ev)
{
	int64_t wait = -1, d;
	size_t i;
	int r;

	for (i = 0; i < ev->nprep; i++) {
		r = ev->prep[i].cb(ev->prep[i].arg);
		if (r >= 0 && (wait < 0 || r < wait))
			wait = r;
	}
	if (ev->nheap > 0) {
		d = ev->heap[0]->when - ev_now_ms();
		if (d < 0)
			d = 0;
		if (wait < 0 || d < wait)
			wait = d;
	}
	if (wait > INT_MAX)
		wait = INT_MAX;
	return (int)wait;
}

static void
ev_run_timers(struct ev *ev)
{
	uint64_t cutoff = ev->seq;
	int64_t now = ev_now_ms();
	struct ev_timer *t;

	while (!ev->stop && ev->nheap > 0) {
		t = ev->heap[0];
		if (t->when > now || t->seq >= cutoff)
			break;
		heap_remove(ev, t);
		t->cb(t->arg);
		free(t);
	}
}

int
ev_run(struct ev *ev)
{
	struct epoll_event evs[EV_BATCH];
	struct ev_fd *f;
	int n, i, fd;

	ev->stop = 0;
	while (!ev->stop) {
		n = epoll_wait(ev->epfd, evs, EV_BATCH, ev_wait_ms(ev));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return -1;
		}
		for (i = 0; i < n && !ev->stop; i++) {
			fd = (int)(uint32_t)evs[i].data.u64;
			if ((size_t)fd >= ev->nfds)
				continue;
			f = &ev->fds[fd];
			if (!f->active || f->gen != evs[i].data.u64 >> 32)
				continue;
			f->cb(fd, evs[i].events, f->arg);
		}
		ev_run_timers(ev);
	}
	return 0;
}

void
ev_stop(struct ev *ev)
{
	ev->stop = 1;
}
