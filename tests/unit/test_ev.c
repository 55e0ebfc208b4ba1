/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_ev.c: the event loop: timer order, cancellation, re-arming from a
 * callback, descriptor readiness and deletion, prepare hooks and stop.
 */
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ev.h"
#include "t.h"

struct rec {
	struct ev *ev;
	char	 order[64];
	size_t	 n;
	int	 rearm;
	int	 fired;
};

static void
rec_push(struct rec *r, char c)
{
	if (r->n + 1 < sizeof(r->order))
		r->order[r->n++] = c;
	r->order[r->n] = '\0';
}

static struct rec *cur;

static void
timer_a(void *arg)
{
	(void)arg;
	rec_push(cur, 'a');
}

static void
timer_b(void *arg)
{
	(void)arg;
	rec_push(cur, 'b');
}

static void
timer_c(void *arg)
{
	(void)arg;
	rec_push(cur, 'c');
}

static void
timer_stop(void *arg)
{
	struct rec *r = arg;

	rec_push(r, '.');
	ev_stop(r->ev);
}

static void
test_timer_order(void)
{
	struct rec r = { 0 };

	cur = &r;
	r.ev = ev_new();
	T_CHECK(r.ev != NULL);
	/* same due time keeps insertion order; earlier due first */
	T_CHECK(ev_timer_add(r.ev, 20, timer_c, NULL) != NULL);
	T_CHECK(ev_timer_add(r.ev, 5, timer_a, NULL) != NULL);
	T_CHECK(ev_timer_add(r.ev, 5, timer_b, NULL) != NULL);
	T_CHECK(ev_timer_add(r.ev, 40, timer_stop, &r) != NULL);
	T_EQ_INT(ev_run(r.ev), 0);
	T_EQ_STR(r.order, "abc.");
	ev_free(r.ev);
}

static void
test_timer_cancel(void)
{
	struct rec r = { 0 };
	struct ev_timer *t;

	cur = &r;
	r.ev = ev_new();
	t = ev_timer_add(r.ev, 5, timer_a, NULL);
	T_CHECK(ev_timer_add(r.ev, 10, timer_b, NULL) != NULL);
	T_CHECK(ev_timer_add(r.ev, 30, timer_stop, &r) != NULL);
	ev_timer_cancel(r.ev, t);
	ev_timer_cancel(r.ev, NULL);
	T_EQ_INT(ev_run(r.ev), 0);
	T_EQ_STR(r.order, "b.");
	ev_free(r.ev);
}

static void
timer_rearm(void *arg)
{
	struct rec *r = arg;

	r->fired++;
	if (r->fired < r->rearm)
		T_CHECK(ev_timer_add(r->ev, 0, timer_rearm, r) != NULL);
	else
		ev_stop(r->ev);
}

static void
test_timer_rearm(void)
{
	struct rec r = { 0 };

	r.ev = ev_new();
	r.rearm = 500;
	T_CHECK(ev_timer_add(r.ev, 0, timer_rearm, &r) != NULL);
	T_EQ_INT(ev_run(r.ev), 0);
	T_EQ_INT(r.fired, 500);
	ev_free(r.ev);
}

struct fdrec {
	struct ev *ev;
	int	 rfd;
	int	 reads;
	char	 got[16];
};

static void
fd_read(int fd, uint32_t events, void *arg)
{
	struct fdrec *f = arg;
	ssize_t n;

	T_CHECK(events & EPOLLIN);
	n = read(fd, f->got, sizeof(f->got) - 1);
	if (n > 0)
		f->got[n] = '\0';
	f->reads++;
	ev_fd_del(f->ev, fd);
	ev_stop(f->ev);
}

static int
prep_short(void *arg)
{
	int *calls = arg;

	(*calls)++;
	return 5;
}

static void
test_fd_and_prepare(void)
{
	struct fdrec f = { 0 };
	int p[2], calls = 0;

	T_EQ_INT(pipe(p), 0);
	f.ev = ev_new();
	f.rfd = p[0];
	T_EQ_INT(ev_fd_add(f.ev, p[0], EPOLLIN, fd_read, &f), 0);
	T_EQ_INT(ev_prepare_add(f.ev, prep_short, &calls), 0);
	T_EQ_INT(write(p[1], "ping", 4), 4);
	T_EQ_INT(ev_run(f.ev), 0);
	T_EQ_INT(f.reads, 1);
	T_EQ_STR(f.got, "ping");
	T_CHECK(calls >= 1);
	/* deleting an unknown or already deleted fd fails cleanly */
	T_CHECK(ev_fd_del(f.ev, p[0]) != 0);
	ev_free(f.ev);
	close(p[0]);
	close(p[1]);
}

static void
test_free_null(void)
{
	ev_free(NULL);
	T_CHECK(ev_now_ms() > 0);
}

int
main(void)
{
	T_RUN(test_timer_order);
	T_RUN(test_timer_cancel);
	T_RUN(test_timer_rearm);
	T_RUN(test_fd_and_prepare);
	T_RUN(test_free_null);
	return t_done();
}
