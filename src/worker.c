/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker.c: a thread that answers devices (worker.h).
 *
 * A worker owns everything it creates (event loop, core, CoAP front end,
 * HTTPS listener) and is the only thread that touches them while it
 * runs.  Main's requests wait in the mailbox under w->lock and an
 * eventfd wakes the worker's loop, which applies them there.  What main
 * reads back (the reload applied, the connections still busy) is in
 * atomics.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coap/coapfront.h"
#include "config.h"
#include "core/core.h"
#include "core/watch.h"
#include "ev.h"
#include "http/device.h"
#include "log.h"
#include "metrics/metrics.h"
#include "util/share.h"
#include "util/validate.h"
#include "worker.h"

#define WORKER_TICK_MS	1000
#define WORKER_PUSH_MS	250	/* as main's: long polls end on time */
#define WORKER_BUSY_MS	100	/* draining: connections counted */
#define WORKER_SNAP_MS	500	/* a scrape waits this long for a worker */

struct worker {
	unsigned	 id;
	pthread_t	 thread;
	int		 started;
	struct config	 cfg;		/* the worker's own, worker_config */
	struct ev	*ev;
	struct core	*core;
	struct coapfront *cf;
	struct httpdev	*httpdev;
	struct metrics	*metrics;	/* its own front ends' collectors */
	struct ev_timer	*tick, *push, *busy_timer;
	int		 wake_fd;	/* eventfd: the mailbox has mail */

	pthread_mutex_t	 lock;		/* the mailbox */
	int		 m_reload;
	struct config	 m_cfg;
	struct tls_server *m_tls;
	int		 m_drain;
	int		 m_stop;
	uint64_t	 m_snap_asked;	/* scrapes that asked for a snapshot */
	uint64_t	 m_snap_done;	/* the one snap answers */
	struct metrics_snap *snap;	/* the latest, under lock */

	int		 applied;	/* atomic: the last reload is in */
	int		 drained;	/* atomic: listeners closed */
	size_t		 busy;		/* atomic: connections, draining */
	int		 draining;	/* the worker's own */
};

unsigned
worker_count(const struct config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (unsigned)n;
}

/* x divided among n, rounded up; 0 stays 0 (off). */
static unsigned
share_of(unsigned x, unsigned n)
{
	return x == 0 ? 0 : (x + n - 1) / n;
}

void
worker_config(const struct config *cfg, unsigned n, struct config *out)
{
	*out = *cfg;
	if (n <= 1)
		return;
	out->coap_max_sessions = share_of(cfg->coap_max_sessions, n);
	out->coap_max_handshakes = share_of(cfg->coap_max_handshakes, n);
	out->push_max_watchers = share_of(cfg->push_max_watchers, n);
	/*
	 * The kernel spreads one source's connections and sessions over
	 * the workers by port: each takes its share of the source's limit.
	 */
	out->coap_handshakes_per_source = share_of(
	    cfg->coap_handshakes_per_source, n);
	out->coap_handshakes_per_net = share_of(cfg->coap_handshakes_per_net,
	    n);
	out->coap_sessions_per_source = share_of(
	    cfg->coap_sessions_per_source, n);
	out->max_conns_per_source = share_of(cfg->max_conns_per_source, n);
}

/* The worker's thread --------------------------------------------------- */

static void
worker_tick_cb(void *arg)
{
	struct worker *w = arg;

	w->tick = NULL;
	core_tick_worker(w->core);
	if ((w->tick = ev_timer_add(w->ev, WORKER_TICK_MS, worker_tick_cb,
	    w)) == NULL)
		log_warnx("worker %u: no tick timer", w->id);
}

static void
worker_push_cb(void *arg)
{
	struct worker *w = arg;

	w->push = NULL;
	core_watch_poll(w->core, time_now_ms());
	if ((w->push = ev_timer_add(w->ev, WORKER_PUSH_MS, worker_push_cb,
	    w)) == NULL)
		log_warnx("worker %u: no push timer", w->id);
}

static void
worker_busy_cb(void *arg)
{
	struct worker *w = arg;

	w->busy_timer = NULL;
	__atomic_store_n(&w->busy, httpdev_connections(w->httpdev),
	    __ATOMIC_RELEASE);
	w->busy_timer = ev_timer_add(w->ev, WORKER_BUSY_MS, worker_busy_cb,
	    w);
}

/* Applies the mail main left, in the worker's thread. */
static void
worker_mail_cb(int fd, uint32_t events, void *arg)
{
	struct worker *w = arg;
	struct tls_server *tls = NULL;
	struct metrics_snap *snap = NULL, *old = NULL;
	uint64_t n, asked;
	int reload, drain, stop;

	(void)events;
	while (read(fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&w->lock);
	if ((reload = w->m_reload)) {
		w->cfg = w->m_cfg;
		tls = w->m_tls;
		w->m_reload = 0;
		w->m_tls = NULL;
	}
	drain = w->m_drain;
	stop = w->m_stop;
	asked = w->m_snap_asked;
	pthread_mutex_unlock(&w->lock);
	if (asked > __atomic_load_n(&w->m_snap_done, __ATOMIC_ACQUIRE)) {
		/* the collectors run here, in the thread that owns them */
		snap = metrics_snapshot(w->metrics);
		pthread_mutex_lock(&w->lock);
		if (snap != NULL) {
			old = w->snap;
			w->snap = snap;
		}
		__atomic_store_n(&w->m_snap_done, asked, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&w->lock);
		metrics_snap_free(old);
	}
	if (reload) {
		core_set_config(w->core, &w->cfg);
		coapfront_set_config(w->cf, &w->cfg);
		httpdev_set_config(w->httpdev, &w->cfg);
		if (tls != NULL)
			httpdev_set_tls(w->httpdev, tls);
		__atomic_store_n(&w->applied, 1, __ATOMIC_RELEASE);
	}
	if (drain && !w->draining) {
		w->draining = 1;
		coapfront_drain(w->cf);
		__atomic_store_n(&w->busy, httpdev_drain(w->httpdev),
		    __ATOMIC_RELEASE);
		__atomic_store_n(&w->drained, 1, __ATOMIC_RELEASE);
		w->busy_timer = ev_timer_add(w->ev, WORKER_BUSY_MS,
		    worker_busy_cb, w);
	}
	if (stop)
		ev_stop(w->ev);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	/* what ps -L and top -H show */
	snprintf(name, sizeof(name), "otagw/w%u", w->id);
	(void)pthread_setname_np(pthread_self(), name);
	if (ev_run(w->ev) == -1)
		log_warnx("worker %u: event loop failed", w->id);
	return NULL;
}

/* Main's side ------------------------------------------------------------ */

static void
worker_cpu_cb(void *arg, struct metrics_out *o)
{
	struct worker *w = arg;
	struct timespec ts;
	clockid_t clk;
	char labels[32];

	if (!w->started || pthread_getcpuclockid(w->thread, &clk) != 0 ||
	    clock_gettime(clk, &ts) == -1)
		return;
	snprintf(labels, sizeof(labels), "worker=\"%u\"", w->id);
	metrics_counter(o, "otagw_worker_cpu_seconds_total", "CPU time of "
	    "each worker thread (worker 0 is the main thread, which also "
	    "runs the admin API and the relay).", labels,
	    (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
worker_post(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wake_fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("worker %u: eventfd", w->id);
}

/*
 * A scrape on main's thread: the worker takes a snapshot of its own
 * collectors in its thread, main adds it.  A worker that does not answer
 * within WORKER_SNAP_MS gives its previous snapshot.
 */
static void
worker_metrics_cb(void *arg, struct metrics_out *o)
{
	struct worker *w = arg;
	struct timespec tenth = { 0, 100000 };
	uint64_t asked;
	unsigned waited;

	worker_cpu_cb(w, o);
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	asked = ++w->m_snap_asked;
	pthread_mutex_unlock(&w->lock);
	worker_post(w);
	for (waited = 0; waited < WORKER_SNAP_MS * 10 &&
	    __atomic_load_n(&w->m_snap_done, __ATOMIC_ACQUIRE) < asked;
	    waited++)
		nanosleep(&tenth, NULL);
	pthread_mutex_lock(&w->lock);
	metrics_add_snap(o, w->snap);
	pthread_mutex_unlock(&w->lock);
}

struct worker *
worker_new(unsigned id, const struct config *wcfg, struct core *main,
    struct tls_server *tls, struct metrics *metrics)
{
	struct worker *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("worker_new");
		return NULL;
	}
	w->id = id;
	w->cfg = *wcfg;
	w->wake_fd = -1;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		return NULL;
	}
	if ((w->ev = ev_new()) == NULL ||
	    (w->metrics = metrics_new()) == NULL ||
	    (w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    ev_fd_add(w->ev, w->wake_fd, EPOLLIN, worker_mail_cb, w) == -1 ||
	    (w->core = core_new_worker(main, &w->cfg)) == NULL ||
	    core_watch_metrics(w->core, w->metrics) == -1 ||
	    (w->cf = coapfront_new(&w->cfg, w->core, w->ev, w->metrics,
	    LISTEN_SHARE_JOIN)) == NULL ||
	    (tls != NULL && (w->httpdev = httpdev_new(&w->cfg, w->core,
	    w->ev, tls, w->metrics, LISTEN_SHARE_JOIN)) == NULL) ||
	    (w->tick = ev_timer_add(w->ev, WORKER_TICK_MS, worker_tick_cb,
	    w)) == NULL ||
	    (w->push = ev_timer_add(w->ev, WORKER_PUSH_MS, worker_push_cb,
	    w)) == NULL) {
		log_warnx("worker %u: cannot start", id);
		worker_free(w);
		return NULL;
	}
	if (metrics_register(metrics, worker_metrics_cb, w) == -1)
		log_warnx("worker %u: cannot register metrics", id);
	return w;
}

int
worker_start(struct worker *w)
{
	int rc;

	if ((rc = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		log_warnx("worker %u: cannot start its thread: %s", w->id,
		    strerror(rc));
		return -1;
	}
	w->started = 1;
	return 0;
}

void
worker_reload(struct worker *w, const struct config *wcfg,
    struct tls_server *tls)
{
	__atomic_store_n(&w->applied, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&w->lock);
	w->m_cfg = *wcfg;
	w->m_tls = tls;
	w->m_reload = 1;
	pthread_mutex_unlock(&w->lock);
	worker_post(w);
}

int
worker_applied(struct worker *w)
{
	return !w->started || __atomic_load_n(&w->applied, __ATOMIC_ACQUIRE);
}

void
worker_drain(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->m_drain = 1;
	pthread_mutex_unlock(&w->lock);
	/* until the worker has counted them: maybe some */
	__atomic_store_n(&w->busy, 1, __ATOMIC_RELEASE);
	worker_post(w);
}

int
worker_drained(struct worker *w)
{
	return !w->started || __atomic_load_n(&w->drained, __ATOMIC_ACQUIRE);
}

size_t
worker_busy(struct worker *w)
{
	return w->started ? __atomic_load_n(&w->busy, __ATOMIC_ACQUIRE) : 0;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->m_stop = 1;
		pthread_mutex_unlock(&w->lock);
		worker_post(w);
		pthread_join(w->thread, NULL);
		w->started = 0;
	}
	/* as main's: the front ends before the core, the core before st */
	coapfront_free(w->cf);
	httpdev_free(w->httpdev);
	core_free(w->core);
	metrics_snap_free(w->snap);
	metrics_free(w->metrics);
	if (w->wake_fd != -1)
		close(w->wake_fd);
	ev_free(w->ev);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Main's own line: worker 0, and how many there are. */
static struct worker worker_zero;
static unsigned worker_n;

static void
worker_main_cb(void *arg, struct metrics_out *o)
{
	(void)arg;
	metrics_gauge(o, "otagw_workers", "Worker threads answering devices "
	    "(the workers setting).", "", (double)worker_n);
	worker_cpu_cb(&worker_zero, o);
}

int
worker_metrics_main(struct metrics *metrics, unsigned nworkers)
{
	worker_zero.id = 0;
	worker_zero.thread = pthread_self();
	worker_zero.started = 1;
	worker_n = nworkers;
	return metrics_register(metrics, worker_main_cb, NULL);
}
