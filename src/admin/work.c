/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * work.c: admin calls that may take long (creating or terminating a job
 * over many devices, a job's counts, a CSV import) run off the event loop,
 * so that devices are answered meanwhile.
 *
 * The handler checks what it can on the loop, then admin_work_start
 * defers the HTTP answer (http_req_defer) and starts a thread with its own
 * struct ops, which runs the operation (`run') and stores its outcome in
 * the work's context.  The operation writes in its own store transactions
 * (bounded ones for the long operations, see src/ops/job.c), as otactl
 * --state would from another process.  When it ends, the thread wakes the
 * loop through a->wake_fd; there the work is joined and `answer' builds
 * the response from the context, which http_req_complete sends: the
 * answer is the one the call always had, only later.
 *
 * A client that goes away meanwhile (on_close) leaves the operation
 * running to its end (it is a change the operator asked for); its answer
 * is then dropped.  Only `done' and the list are shared with the thread,
 * under a->lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/admin_priv.h"
#include "log.h"

#define ADMIN_WORK_MAX	8	/* operations running at once */

struct admin_work {
	struct admin_work *next;
	struct admin	*admin;
	struct http_req	*req;		/* NULL once the client left */
	struct admin_req *ar;
	pthread_t	 thread;
	int		 done;		/* under admin->lock */
	struct ops	 ops;		/* the thread's own */
	admin_work_run	*run;
	admin_work_answer *answer;
	void		*ctx;
	void		(*ctx_free)(void *);
};

static void *
work_thread(void *arg)
{
	struct admin_work *w = arg;
	uint64_t one = 1;

	w->run(&w->ops, w->ctx);
	pthread_mutex_lock(&w->admin->lock);
	w->done = 1;
	pthread_mutex_unlock(&w->admin->lock);
	if (write(w->admin->wake_fd, &one, sizeof(one)) == -1)
		log_debug("admin: eventfd write: %s", strerror(errno));
	return NULL;
}

static unsigned
work_count(struct admin *a)
{
	struct admin_work *w;
	unsigned n = 0;

	for (w = a->works; w != NULL; w = w->next)
		n++;
	return n;
}

int
admin_work_start(struct admin *a, struct admin_req *ar, struct http_req *req,
    struct http_resp *resp, admin_work_run *run, admin_work_answer *answer,
    void *ctx, void (*ctx_free)(void *))
{
	struct admin_work *w;

	if (work_count(a) >= ADMIN_WORK_MAX) {
		ctx_free(ctx);
		http_resp_header(resp, "Retry-After", "1");
		return admin_error(resp, 503, "busy", "%d long operations "
		    "are running: try again when one has ended",
		    ADMIN_WORK_MAX);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		ctx_free(ctx);
		return admin_error(resp, 500, "internal", "out of memory");
	}
	w->admin = a;
	w->req = req;
	w->ar = ar;
	w->ops = a->ops;
	w->run = run;
	w->answer = answer;
	w->ctx = ctx;
	w->ctx_free = ctx_free;
	if (pthread_create(&w->thread, NULL, work_thread, w) != 0) {
		log_warnx("admin: cannot start a thread for %s",
		    http_req_path(req));
		ctx_free(ctx);
		free(w);
		return admin_error(resp, 500, "internal", "cannot start the "
		    "operation");
	}
	ar->work = w;
	http_req_defer(req);
	w->next = a->works;
	a->works = w;
	return ADMIN_DEFERRED;
}

/* The client of w went away: its operation goes on, unanswered. */
void
admin_work_orphan(struct admin_work *w)
{
	if (w == NULL)
		return;
	w->req = NULL;
	w->ar = NULL;
}

void
admin_works_wait(struct admin *a)
{
	struct timespec ts = { 0, 1000000 };

	while (a != NULL && a->works != NULL) {
		admin_work_reap(a, 0);
		if (a->works != NULL)
			nanosleep(&ts, NULL);
	}
}

/* Answers and forgets the works that ended (all: waits for every one). */
void
admin_work_reap(struct admin *a, int all)
{
	struct admin_work **pp, *w;
	int	 done, status;

	for (pp = &a->works; (w = *pp) != NULL;) {
		pthread_mutex_lock(&a->lock);
		done = w->done;
		pthread_mutex_unlock(&a->lock);
		if (!done && !all) {
			pp = &w->next;
			continue;
		}
		pthread_join(w->thread, NULL);
		*pp = w->next;
		if (w->req != NULL && !all) {
			status = w->answer(w->ctx, http_req_resp(w->req));
			w->ar->work = NULL;
			admin_answered(a, w->ar, w->req, status);
			http_req_complete(w->req);
		} else if (w->ar != NULL)
			w->ar->work = NULL;
		w->ctx_free(w->ctx);
		free(w);
	}
}
