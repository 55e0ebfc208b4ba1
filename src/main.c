/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main.c: otagw, the daemon's entry point.  The only file that knows the
 * start-up order:
 *
 *   options -> configuration (-n stops here) -> logging -> detach (fork,
 *   the parent waits) -> state directory and its lock -> store -> core
 *   -> event loop -> signals -> 1 s tick and the push poll -> CoAP front
 *   end -> HTTPS devices -> relay -> admin API -> drop root (`user') ->
 *   "otagw ready" (the parent exits 0, the service manager hears
 *   READY=1) -> ev_run
 *
 * One struct otagw holds everything the daemon owns; the shutdown path
 * frees it in the reverse order.  Signals arrive through a signalfd in the
 * event loop, so handlers never run in signal context: SIGTERM and SIGINT
 * stop the loop cleanly, SIGHUP re-reads the configuration file and applies
 * what can change at run time.  Detaching forks before the store is opened
 * (an LMDB environment must not cross a fork), but the parent exits only
 * when the child says it serves, or with status 1 when it fails: a start
 * is honest either way, and its errors reach the terminal.  The state
 * directory is locked (otagw.pid) for the life of the process, so two
 * daemons never share a store.
 */
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coap/coapfront.h"
#include "admin/admin.h"
#include "metrics/metrics.h"
#include "config.h"
#include "core/core.h"
#include "core/watch.h"
#include "ev.h"
#include "http/device.h"
#include "http/http.h"
#include "log.h"
#include "notify.h"
#include "privs.h"
#include "relay/relay.h"
#include "store/store.h"
#include "tls/tls.h"
#include "util/share.h"
#include "util/validate.h"
#include "worker.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define OTAGW_CONF	CONFIG_DEFAULT_PATH
#define TICK_MS		1000
#define PUSH_MS		250
/* descriptors besides device connections: store, sockets, logs, admin */
#define OTAGW_FILES_SPARE 256

struct otagw {
	const char	*conf_path;
	int		 foreground;
	int		 verbose;	/* number of -v */
	struct config	 cfg;		/* running configuration */
	struct config	 wcfg;		/* cfg as each worker applies it */
	unsigned	 nworkers;	/* main's thread is worker 0 */
	struct worker	*workers[CONFIG_WORKERS_MAX];	/* 1..nworkers-1 */

	struct store	*st;
	struct core	*core;
	struct ev	*ev;
	struct coapfront *cf;
	struct tls_server *tls;		/* device listener's TLS context */
	struct httpdev	*httpdev;	/* HTTPS devices, or NULL when off */
	struct relay	*relay;	/* upstream relay (idle without a URL) */
	struct metrics	*metrics;	/* collectors behind GET /metrics */
	struct tls_server *admin_tls;	/* admin listener's TLS context */
	struct tls_server **retired;	/* replaced by SIGHUP: freed at exit */
	size_t		 nretired;
	struct admin	*admin;		/* admin API, or NULL when off */
	struct ev_timer	*tick;
	struct ev_timer	*push;		/* core_watch_poll */
	struct ev_timer	*drain;		/* stopping: transfers finish */
	int64_t		 drain_until;
	int		 sigfd;
	int		 lockfd;	/* state_dir/otagw.pid, locked */
	int		 ready_fd;	/* detached: tells the parent, or -1 */
};

static void	otagw_detach(struct otagw *);
static void	otagw_ready(struct otagw *);
static void	otagw_stop(struct otagw *, const char *);
static void	otagw_retire_tls(struct otagw *, struct tls_server *);

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: otagw [-dnv] [-c file]\n"
	    "       otagw -h | --help | -V | --version\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
"otagw is an edge gateway for over-the-air firmware updates: devices check\n"
"for updates and download images over CoAP (RFC 7252, block-wise), CoAP\n"
"over DTLS with a pre-shared key per device, and HTTPS (HTTP/2 and\n"
"HTTP/1.1, range downloads; bearer secrets or client certificates),\n"
"on which SWUpdate and rauc-hawkbit-updater also poll hawkBit's device API\n"
"(/ddi_tenant/controller/v1/device).\n"
"Upgrade notices wait in the store until the device next asks.  Every\n"
"version report, state change and progress report is relayed to the\n"
"platform at upstream_url, in order, across outages.  Operators use the\n"
"admin API (HTTPS on 127.0.0.1:8444 by default, bearer token from\n"
"admin_token_file) or otactl.\n"
"\n"
"Options:\n"
"  -c file  read the configuration from file\n"
"           (default " OTAGW_CONF ")\n"
"  -d       stay in the foreground and log to stderr; without -d otagw\n"
"           detaches once it is serving (a failed start exits 1 with the\n"
"           reason on stderr) and logs to syslog, facility daemon; the\n"
"           systemd unit runs otagw -d (stderr goes to the journal) and\n"
"           otagw tells it READY=1 through NOTIFY_SOCKET\n"
"  -n       only check the configuration, the files and user it names and\n"
"           that its listen addresses resolve:\n"
"           print \"configuration OK\" and exit 0, or print each error\n"
"           (file:line: message) and exit 1;\n"
"           with -v also print the effective configuration\n"
"  -v       more verbose logging (info, then debug); may be repeated\n"
"  -h, --help     print this help and exit\n"
"  -V, --version  print the version and exit\n"
"\n"
"State: devices, firmware images and jobs live in the directory named by\n"
"state_dir (default " CONFIG_DEFAULT_STATE_DIR "); it is created with\n"
"mode 0700 when missing, and one otagw at a time may use it.  Relative\n"
"paths in the configuration are taken from the directory of that file.\n"
"Operators manage the state with otactl, also while otagw runs.\n"
"\n"
"Signals:\n"
"  SIGTERM, SIGINT  stop: listeners close, HTTPS transfers under way finish\n"
"                   for up to shutdown_timeout (exit status 0); a second\n"
"                   one stops at once\n"
"  SIGHUP           re-read the configuration file; settings that can change\n"
"                   at run time (log_level, intervals, limits, public URLs,\n"
"                   certificates)\n"
"                   take effect, others are logged as needing a restart; a\n"
"                   file with errors is refused and the running settings kept\n"
"\n"
"Documentation: otagw(8), otagw.conf(5), otactl(1); docs/ in the source\n"
"tree (installed under share/doc/otagw); every setting is described in\n"
"the shipped otagw.conf.\n");
}

static int
level_for(const struct otagw *gw)
{
	int level = gw->cfg.log_level + gw->verbose;

	return level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : level;
}

static void
listen_text(const struct config_listen *l, char *out, size_t size)
{
	if (!l->enabled)
		snprintf(out, size, "off");
	else if (strchr(l->host, ':') != NULL)
		snprintf(out, size, "[%s]:%u", l->host, l->port);
	else
		snprintf(out, size, "%s:%u", l->host[0] ? l->host : "*",
		    l->port);
}

/*
 * The files the configuration names that otagw needs to start, and the
 * user it is to run as, for -n: each one missing or unreadable is an
 * error (exit 1), with the setting that names it.  Returns how many.
 */
static int
otagw_check_files(const struct config *cfg)
{
	const struct {
		const char	*key;
		const char	*path;
		int		 needed;
	} f[] = {
		{ "tls_cert", cfg->tls_cert, cfg->https.enabled ||
		    cfg->admin.enabled },
		{ "tls_key", cfg->tls_key, cfg->https.enabled ||
		    cfg->admin.enabled },
		{ "device_ca", cfg->device_ca, cfg->https.enabled &&
		    cfg->device_ca[0] != '\0' },
		{ "admin_token_file", cfg->admin_token_file,
		    cfg->admin.enabled },
		{ "upstream_token_file", cfg->upstream_token_file,
		    cfg->upstream_url[0] != '\0' &&
		    cfg->upstream_token_file[0] != '\0' },
		{ "upstream_ca", cfg->upstream_ca, cfg->upstream_url[0] !=
		    '\0' && cfg->upstream_ca[0] != '\0' },
	};
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i].needed || access(f[i].path, R_OK) == 0)
			continue;
		fprintf(stderr, "otagw: %s %s: %s%s\n", f[i].key, f[i].path,
		    strerror(errno), i < 2 || i == 3 ? " (./quickstart.sh "
		    "run makes development certificates and the admin token "
		    "in certs/)" : "");
		bad++;
	}
	if (cfg->user[0] != '\0' && getpwnam(cfg->user) == NULL) {
		fprintf(stderr, "otagw: user %s: no such user\n", cfg->user);
		bad++;
	}
	return bad;
}

/*
 * The listeners' host names, for -n: each that does not resolve (as the
 * listener will ask: passive, numeric port) is an error with its
 * setting, since the daemon would stop on it.  Returns how many.
 */
static int
otagw_check_listeners(const struct config *cfg)
{
	const struct {
		const char	*key;
		const struct config_listen *l;
		int		 socktype;
	} f[] = {
		{ "coap_listen", &cfg->coap, SOCK_DGRAM },
		{ "coaps_listen", &cfg->coaps, SOCK_DGRAM },
		{ "https_listen", &cfg->https, SOCK_STREAM },
		{ "admin_listen", &cfg->admin, SOCK_STREAM },
	};
	struct addrinfo hints, *res;
	size_t	 i;
	int	 bad = 0, rc;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i].l->enabled || f[i].l->host[0] == '\0' ||
		    strcmp(f[i].l->host, "*") == 0)
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = f[i].socktype;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((rc = getaddrinfo(f[i].l->host, "1", &hints, &res)) != 0) {
			fprintf(stderr, "otagw: %s %s: %s\n", f[i].key,
			    f[i].l->host, gai_strerror(rc));
			bad++;
			continue;
		}
		freeaddrinfo(res);
	}
	return bad;
}

/*
 * A server TLS context from the configuration: certificate, key, device
 * CA (or NULL) and the resumption settings.  NULL when the files do not
 * load (logged).
 */
static struct tls_server *
otagw_tls_new(const struct config *cfg, const char *device_ca)
{
	struct tls_server *ts;

	if ((ts = tls_server_new(cfg->tls_cert, cfg->tls_key,
	    device_ca)) == NULL)
		return NULL;
	if (tls_server_set_resumption(ts, cfg->tls_session_cache,
	    cfg->tls_session_timeout, cfg->tls_ticket_key_rotate) == -1) {
		log_warnx("tls: bad session resumption settings");
		tls_server_free(ts);
		return NULL;
	}
	return ts;
}

/* How main's listeners share their addresses with the other workers'. */
static int
otagw_share(const struct otagw *gw)
{
	return gw->nworkers > 1 ? LISTEN_SHARE_FIRST : LISTEN_ALONE;
}

/* HTTPS devices: the TLS context, then the listener.  0 or -1. */
static int
otagw_start_https(struct otagw *gw)
{
	const struct config *cfg = &gw->cfg;

	if (!cfg->https.enabled)
		return 0;
	if ((gw->tls = otagw_tls_new(cfg, cfg->device_ca)) == NULL) {
		log_warnx("https_listen: cannot load tls_cert %s, tls_key"
		    " %s%s%s (./quickstart.sh run makes development"
		    " certificates)",
		    cfg->tls_cert, cfg->tls_key, cfg->device_ca[0] ?
		    " or device_ca " : "", cfg->device_ca);
		return -1;
	}
	if ((gw->httpdev = httpdev_new(&gw->wcfg, gw->core, gw->ev, gw->tls,
	    gw->metrics, otagw_share(gw))) == NULL) {
		log_warnx("cannot start the HTTPS device listener");
		return -1;
	}
	return 0;
}

/*
 * The admin API: its own TLS context (same certificate, no client
 * certificates), then the listener, which refuses to start without its
 * token.  0 or -1.
 */
static int
otagw_start_admin(struct otagw *gw)
{
	const struct config *cfg = &gw->cfg;

	if (!cfg->admin.enabled)
		return 0;
	if ((gw->admin_tls = otagw_tls_new(cfg, NULL)) == NULL) {
		log_warnx("admin_listen: cannot load tls_cert %s, tls_key %s"
		    " (./quickstart.sh run makes development certificates)",
		    cfg->tls_cert, cfg->tls_key);
		return -1;
	}
	if ((gw->admin = admin_new(cfg, gw->st, gw->core, gw->ev,
	    gw->admin_tls, gw->metrics, gw->relay)) == NULL) {
		log_warnx("cannot start the admin API listener (admin_listen"
		    " off turns it off)");
		return -1;
	}
	return 0;
}

/* SIGHUP --------------------------------------------------------------- */

/*
 * The certificate, key and device CA are read again: new handshakes use
 * them, connections already open keep theirs.  Files that do not load
 * leave the running ones in place.
 */
static struct tls_server *
otagw_reload_tls(struct otagw *gw)
{
	const struct config *cfg = &gw->cfg;
	struct tls_server *tls, *old = NULL;

	if (gw->tls != NULL) {
		if ((tls = otagw_tls_new(cfg, cfg->device_ca)) == NULL)
			log_warnx("SIGHUP: tls_cert %s, tls_key %s or "
			    "device_ca %s do not load: the device listener "
			    "keeps the running ones",
			    cfg->tls_cert, cfg->tls_key,
			    cfg->device_ca[0] ? cfg->device_ca : "(none)");
		else {
			tls_server_take_ticket_keys(tls, gw->tls);
			httpdev_set_tls(gw->httpdev, tls);
			old = gw->tls;	/* the workers may still use it */
			gw->tls = tls;
		}
	}
	if (gw->admin_tls != NULL) {
		if ((tls = otagw_tls_new(cfg, NULL)) == NULL)
			log_warnx("SIGHUP: tls_cert %s or tls_key %s do not "
			    "load: the admin listener keeps the running ones",
			    cfg->tls_cert, cfg->tls_key);
		else {
			tls_server_take_ticket_keys(tls, gw->admin_tls);
			admin_set_tls(gw->admin, tls);
			otagw_retire_tls(gw, gw->admin_tls);
			gw->admin_tls = tls;
		}
	}
	return old;
}

/*
 * A TLS context SIGHUP replaced: its OpenSSL context goes with the last
 * connection opened on it, and the rest at exit, when no connection can
 * call back into it any more (tls.h, tls_server_retire).
 */
static void
otagw_retire_tls(struct otagw *gw, struct tls_server *ts)
{
	struct tls_server **n;

	tls_server_retire(ts);
	if ((n = reallocarray(gw->retired, gw->nretired + 1,
	    sizeof(*n))) == NULL) {
		/* never freed, rather than freed under a connection */
		log_warn("SIGHUP: the old TLS context");
		return;
	}
	gw->retired = n;
	gw->retired[gw->nretired++] = ts;
}

/*
 * The workers apply the new configuration and TLS context (when not
 * NULL) in their threads; the context they used before is freed once all
 * of them have switched (they answer their mailbox within milliseconds;
 * one that does not within two seconds keeps the old one, which is then
 * never freed rather than freed under it).
 */
/* Waits up to ms for done() of every worker; the workers not done. */
static unsigned
otagw_wait_workers(struct otagw *gw, int (*done)(struct worker *),
    unsigned ms)
{
	struct timespec one = { 0, 1000000 };
	unsigned i, waited, left = 0;

	for (waited = 0; waited <= ms; waited++) {
		for (i = 1, left = 0; i < gw->nworkers; i++)
			left += !done(gw->workers[i]);
		if (left == 0)
			break;
		nanosleep(&one, NULL);
	}
	return left;
}

static void
otagw_reload_workers(struct otagw *gw, struct tls_server *old)
{
	unsigned i, left;

	for (i = 1; i < gw->nworkers; i++)
		worker_reload(gw->workers[i], &gw->wcfg, old != NULL ?
		    gw->tls : NULL);
	left = otagw_wait_workers(gw, worker_applied, 2000);
	if (left > 0)
		log_warnx("SIGHUP: %u worker%s still busy after 2 s; the old "
		    "TLS context stays in memory", left, left == 1 ? "" :
		    "s");
	else if (old != NULL)
		otagw_retire_tls(gw, old);
}

static void
otagw_reload(struct otagw *gw)
{
	struct config next;
	struct tls_server *old;
	char *errs = NULL, *line, *save = NULL;
	size_t errlen = 0;
	FILE *fp;
	int rc, ignored;

	log_info("SIGHUP: reloading %s", gw->conf_path);
	/* Collect the parser's messages to log them (stderr may be gone). */
	if ((fp = open_memstream(&errs, &errlen)) != NULL)
		config_set_error_stream(fp);
	rc = config_load(gw->conf_path, &next);
	config_set_error_stream(NULL);
	if (fp != NULL) {
		fclose(fp);
		for (line = strtok_r(errs, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("%s", line);
		free(errs);
	}
	if (rc == -1) {
		log_warnx("reload failed: %s has errors, keeping the running"
		    " configuration", gw->conf_path);
		return;
	}
	ignored = config_reload(&gw->cfg, &next);
	worker_config(&gw->cfg, gw->nworkers, &gw->wcfg);
	old = otagw_reload_tls(gw);
	log_set_level(level_for(gw));
	store_set_map_max(gw->st, (size_t)gw->cfg.map_size_max);
	core_set_config(gw->core, &gw->wcfg);
	coapfront_set_config(gw->cf, &gw->wcfg);
	httpdev_set_config(gw->httpdev, &gw->wcfg);
	otagw_reload_workers(gw, old);
	relay_set_config(gw->relay, &gw->cfg);
	admin_set_config(gw->admin, &gw->cfg);
	if (ignored > 0)
		log_info("configuration reloaded; %d changed setting%s need%s"
		    " a restart", ignored, ignored == 1 ? "" : "s",
		    ignored == 1 ? "s" : "");
	else
		log_info("configuration reloaded");
}

static void
otagw_signal_cb(int fd, uint32_t events, void *arg)
{
	struct otagw *gw = arg;
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(fd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			otagw_stop(gw, si.ssi_signo == SIGTERM ? "SIGTERM" :
			    "SIGINT");
			break;
		case SIGHUP:
			notify_send("RELOADING=1");
			otagw_reload(gw);
			notify_send("READY=1");
			break;
		}
	}
}

/* Connections still carrying something; 0 when everything is done. */
static size_t
otagw_busy(const struct otagw *gw)
{
	size_t n = httpdev_connections(gw->httpdev) +
	    admin_connections(gw->admin);
	unsigned i;

	for (i = 1; i < gw->nworkers; i++)
		n += worker_busy(gw->workers[i]);
	return n;
}

static void
otagw_drain_cb(void *arg)
{
	struct otagw *gw = arg;
	size_t busy = otagw_busy(gw);

	gw->drain = NULL;
	if (busy == 0) {
		ev_stop(gw->ev);
		return;
	}
	if (ev_now_ms() >= gw->drain_until) {
		log_warnx("shutdown_timeout (%us) reached: %zu connection%s "
		    "cut", gw->cfg.shutdown_timeout, busy, busy == 1 ? "" :
		    "s");
		ev_stop(gw->ev);
		return;
	}
	if ((gw->drain = ev_timer_add(gw->ev, 100, otagw_drain_cb, gw)) ==
	    NULL)
		ev_stop(gw->ev);
}

/*
 * SIGTERM or SIGINT.  The first one stops taking new work (listening
 * sockets closed, GOAWAY on HTTP/2, HTTP/1.1 answers its request in
 * progress with Connection: close) and lets transfers under way finish
 * for up to shutdown_timeout; the second one stops at once.
 */
static void
otagw_stop(struct otagw *gw, const char *sig)
{
	size_t busy;
	unsigned i;

	if (gw->drain_until != 0) {
		log_info("%s again: stopping at once", sig);
		ev_stop(gw->ev);
		return;
	}
	notify_send("STOPPING=1");
	gw->drain_until = ev_now_ms() + (int64_t)gw->cfg.shutdown_timeout *
	    1000;
	/*
	 * Every listener closes before any GOAWAY goes out: a client that
	 * hears one finds no listener left (the workers close theirs before
	 * they tell their own connections).
	 */
	httpdev_stop_accepting(gw->httpdev);
	coapfront_drain(gw->cf);
	for (i = 1; i < gw->nworkers; i++)
		worker_drain(gw->workers[i]);
	if (otagw_wait_workers(gw, worker_drained, 1000) > 0)
		log_warnx("%s: a worker has not closed its listeners after 1 s",
		    sig);
	busy = httpdev_drain(gw->httpdev) + admin_drain(gw->admin);
	for (i = 1; i < gw->nworkers; i++)
		busy += worker_busy(gw->workers[i]);
	if (busy == 0 || gw->cfg.shutdown_timeout == 0) {
		log_info("%s: stopping", sig);
		ev_stop(gw->ev);
		return;
	}
	log_info("%s: stopping; %zu connection%s may finish for up to %us "
	    "(another %s stops at once)", sig, busy, busy == 1 ? "" : "s",
	    gw->cfg.shutdown_timeout, sig);
	if ((gw->drain = ev_timer_add(gw->ev, 100, otagw_drain_cb, gw)) ==
	    NULL)
		ev_stop(gw->ev);
}

static int
otagw_signals(struct otagw *gw)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1) {
		log_warn("sigprocmask");
		return -1;
	}
	if ((gw->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1) {
		log_warn("signalfd");
		return -1;
	}
	if (ev_fd_add(gw->ev, gw->sigfd, EPOLLIN, otagw_signal_cb, gw) == -1) {
		log_warn("ev_fd_add(signalfd)");
		return -1;
	}
	return 0;
}

static void
otagw_tick_cb(void *arg)
{
	struct otagw *gw = arg;

	gw->tick = NULL;	/* this timer is spent */
	core_tick(gw->core, time_now_ms());
	relay_kick(gw->relay);
	if ((gw->tick = ev_timer_add(gw->ev, TICK_MS, otagw_tick_cb, gw)) ==
	    NULL)
		fatal("ev_timer_add(tick)");
}

/*
 * Devices awake and waiting (CoAP observations, HTTPS long polls): a
 * notice that now exists goes out, a wait that is over is answered.  Core
 * runs the check rules at most once a second, and only when the store
 * changed; between, a poll only looks at the waits' ends, so running it
 * four times a second keeps a long poll's end within a quarter second.
 */
static void
otagw_push_cb(void *arg)
{
	struct otagw *gw = arg;

	gw->push = NULL;
	core_watch_poll(gw->core, time_now_ms());
	if ((gw->push = ev_timer_add(gw->ev, PUSH_MS, otagw_push_cb, gw)) ==
	    NULL)
		fatal("ev_timer_add(push)");
}

/* Start-up and shutdown ------------------------------------------------ */

/*
 * Workers 1..nworkers-1 (worker.h), bound to the addresses main's
 * listeners have (a port 0 in the configuration means the one main was
 * given), their threads not started yet.  0 or -1.
 */
static int
otagw_start_workers(struct otagw *gw)
{
	struct config wcfg = gw->wcfg;
	unsigned i;

	if (worker_metrics_main(gw->metrics, gw->nworkers) == -1)
		log_warnx("workers: cannot register metrics");
	if (gw->nworkers <= 1)
		return 0;
	if (wcfg.coap.enabled && wcfg.coap.port == 0)
		wcfg.coap.port = coapfront_port(gw->cf, 0);
	if (wcfg.coaps.enabled && wcfg.coaps.port == 0)
		wcfg.coaps.port = coapfront_port(gw->cf, 1);
	if (wcfg.https.enabled && wcfg.https.port == 0)
		wcfg.https.port = http_server_port(httpdev_server(gw->httpdev));
	for (i = 1; i < gw->nworkers; i++)
		if ((gw->workers[i] = worker_new(i, &wcfg, gw->core, gw->tls,
		    gw->metrics)) == NULL)
			return -1;
	return 0;
}

static int
otagw_state_dir(const char *dir)
{
	struct stat sb;

	if (mkdir(dir, 0700) == 0) {
		log_info("created state directory %s", dir);
		return 0;
	}
	if (errno != EEXIST) {
		log_warn("state directory %s", dir);
		return -1;
	}
	if (stat(dir, &sb) == -1) {
		log_warn("state directory %s", dir);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_warnx("state directory %s: not a directory", dir);
		return -1;
	}
	return privs_check_dir(dir);
}

/*
 * One otagw per state directory: an exclusive lock on DIR/otagw.pid,
 * held as long as the process lives (the kernel drops it however the
 * process ends), with the pid written in it for the message a second
 * otagw prints.  otactl does not take it: it may work beside the daemon.
 */
static int
otagw_lock(struct otagw *gw, const char *dir)
{
	char path[CONFIG_PATH + 16], buf[32];
	ssize_t n;
	long pid;

	snprintf(path, sizeof(path), "%s/otagw.pid", dir);
	if ((gw->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) ==
	    -1) {
		log_warn("state directory %s: %s", dir, path);
		return -1;
	}
	if (flock(gw->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("state directory %s: lock", dir);
			return -1;
		}
		n = pread(gw->lockfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		pid = strtol(buf, NULL, 10);
		if (pid > 0)
			log_warnx("state directory %s is in use by otagw (pid "
			    "%ld)", dir, pid);
		else
			log_warnx("state directory %s is in use by another "
			    "otagw", dir);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(gw->lockfd, 0) == -1 ||
	    pwrite(gw->lockfd, buf, (size_t)n, 0) != n)
		log_warn("%s", path);
	return 0;
}

/*
 * Every HTTPS connection is a descriptor.  The soft limit goes up to the
 * hard one (a shell gives 1024 and allows far more; systemd's unit sets
 * LimitNOFILE=).  A limit still below what the device listeners may hold
 * is told at the start: connections past it wait in the listen queue.
 */
static void
otagw_files_limit(const struct otagw *gw)
{
	struct rlimit rl;
	unsigned long long want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
	}
	want = (unsigned long long)gw->nworkers * HTTPDEV_MAX_CONNECTIONS +
	    OTAGW_FILES_SPARE;
	if (gw->cfg.https.enabled && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < want)
		log_info("descriptor limit %llu is below the %llu that %llu "
		    "HTTPS device connections (%u worker%s) and otagw's own "
		    "files may take: raise it to hold them all (LimitNOFILE= "
		    "in the service, ulimit -n in a shell)",
		    (unsigned long long)rl.rlim_cur, want,
		    want - OTAGW_FILES_SPARE, gw->nworkers,
		    gw->nworkers == 1 ? "" : "s");
}

static int
otagw_start(struct otagw *gw)
{
	char coap[CONFIG_STR + 16], coaps[CONFIG_STR + 16];
	char https[CONFIG_STR + 16], admin[CONFIG_STR + 16];
	unsigned i;
	int rc;

	if ((rc = store_open(gw->cfg.state_dir, (size_t)gw->cfg.map_size,
	    &gw->st)) != 0) {
		log_warnx("cannot open the store in %s: %s",
		    gw->cfg.state_dir, store_strerror(rc));
		return -1;
	}
	store_set_map_max(gw->st, (size_t)gw->cfg.map_size_max);
	gw->nworkers = worker_count(&gw->cfg);
	worker_config(&gw->cfg, gw->nworkers, &gw->wcfg);
	otagw_files_limit(gw);
	if ((gw->core = core_new(gw->st, &gw->wcfg)) == NULL) {
		log_warnx("cannot set up the request core");
		return -1;
	}
	if ((gw->ev = ev_new()) == NULL)
		return -1;
	if (otagw_signals(gw) == -1)
		return -1;
	if ((gw->tick = ev_timer_add(gw->ev, TICK_MS, otagw_tick_cb, gw)) ==
	    NULL || (gw->push = ev_timer_add(gw->ev, PUSH_MS, otagw_push_cb,
	    gw)) == NULL) {
		log_warn("ev_timer_add");
		return -1;
	}
	if ((gw->metrics = metrics_new()) == NULL)
		return -1;
	if (core_watch_metrics(gw->core, gw->metrics) == -1)
		log_warnx("push: cannot register metrics");
	if ((gw->cf = coapfront_new(&gw->wcfg, gw->core, gw->ev,
	    gw->metrics, otagw_share(gw))) == NULL) {
		log_warnx("cannot start the CoAP listeners");
		return -1;
	}
	if (otagw_start_https(gw) == -1)
		return -1;
	if ((gw->relay = relay_new(&gw->cfg, gw->st, gw->ev,
	    gw->metrics)) == NULL) {
		log_warnx("cannot set up the upstream relay");
		return -1;
	}
	if (otagw_start_admin(gw) == -1)
		return -1;
	if (otagw_start_workers(gw) == -1)
		return -1;
	/* Everything that may need root is done: give it up. */
	if (privs_drop(gw->cfg.user, gw->cfg.state_dir) == -1)
		return -1;
	for (i = 1; i < gw->nworkers; i++)
		if (worker_start(gw->workers[i]) == -1)
			return -1;
	listen_text(&gw->cfg.coap, coap, sizeof(coap));
	listen_text(&gw->cfg.coaps, coaps, sizeof(coaps));
	listen_text(&gw->cfg.https, https, sizeof(https));
	listen_text(&gw->cfg.admin, admin, sizeof(admin));
	log_info("otagw ready: coap %s, coaps %s, https %s, admin %s, state %s,"
	    " gateway %s, %u worker%s", coap, coaps, https, admin,
	    gw->cfg.state_dir, gw->cfg.gateway_id, gw->nworkers,
	    gw->nworkers == 1 ? "" : "s");
	return 0;
}

static void
otagw_cleanup(struct otagw *gw)
{
	unsigned i;

	admin_free(gw->admin);
	gw->admin = NULL;
	/* the workers' threads end before anything they share goes */
	for (i = 1; i < gw->nworkers; i++) {
		worker_free(gw->workers[i]);
		gw->workers[i] = NULL;
	}
	if (gw->admin_tls != NULL)
		tls_server_free(gw->admin_tls);
	gw->admin_tls = NULL;
	httpdev_free(gw->httpdev);
	gw->httpdev = NULL;
	if (gw->tls != NULL)
		tls_server_free(gw->tls);
	gw->tls = NULL;
	/* no connection is left to call back into them */
	while (gw->nretired > 0)
		tls_server_free(gw->retired[--gw->nretired]);
	free(gw->retired);
	gw->retired = NULL;
	relay_free(gw->relay);
	gw->relay = NULL;
	coapfront_free(gw->cf);
	gw->cf = NULL;
	metrics_free(gw->metrics);
	gw->metrics = NULL;
	if (gw->ev != NULL) {
		ev_timer_cancel(gw->ev, gw->tick);
		gw->tick = NULL;
		ev_timer_cancel(gw->ev, gw->push);
		gw->push = NULL;
		ev_timer_cancel(gw->ev, gw->drain);
		gw->drain = NULL;
		if (gw->sigfd != -1)
			ev_fd_del(gw->ev, gw->sigfd);
	}
	if (gw->sigfd != -1)
		close(gw->sigfd);
	gw->sigfd = -1;
	core_free(gw->core);
	gw->core = NULL;
	store_close(gw->st);
	gw->st = NULL;
	ev_free(gw->ev);
	gw->ev = NULL;
	if (gw->lockfd != -1)
		close(gw->lockfd);	/* the lock goes with it */
	gw->lockfd = -1;
}

/*
 * Detaching, honestly: the parent forks at once (an LMDB environment must
 * not cross a fork, so the child does all the work), then waits until
 * the child says it serves, and exits 0; if the child fails first, its
 * reason is already on the terminal (stderr is shared until then) and
 * the parent exits 1.  Returns in the child only.
 */
static void
otagw_detach(struct otagw *gw)
{
	char c;
	pid_t pid;
	int p[2], st;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(p[0]);
		gw->ready_fd = p[1];
		if (setsid() == -1)
			fatal("setsid");
		return;
	}
	close(p[1]);
	do
		n = read(p[0], &c, 1);
	while (n == -1 && errno == EINTR);
	if (n == 1)
		exit(0);
	/* No word: the child failed (and said why) or died. */
	if (waitpid(pid, &st, 0) == pid && WIFSIGNALED(st))
		fprintf(stderr, "otagw: the daemon died of signal %d while "
		    "starting\n", WTERMSIG(st));
	exit(1);
}

/*
 * Every listener is up: tell the parent (detached) or the service
 * manager, and from then on log to syslog when detached.
 */
static void
otagw_ready(struct otagw *gw)
{
	int fd;

	notify_send("READY=1\nSTATUS=serving");
	if (gw->ready_fd == -1)
		return;
	log_init("otagw", 0, level_for(gw));
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(gw->ready_fd, "R", 1) != 1)
		log_warn("telling the parent");
	close(gw->ready_fd);
	gw->ready_fd = -1;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct otagw gw;
	int ch, checkonly = 0, status = 1;

	memset(&gw, 0, sizeof(gw));
	gw.conf_path = OTAGW_CONF;
	gw.sigfd = -1;
	gw.lockfd = -1;
	gw.ready_fd = -1;

	while ((ch = getopt_long(argc, argv, "c:dhnvV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			gw.conf_path = optarg;
			break;
		case 'd':
			gw.foreground = 1;
			break;
		case 'h':
			help();
			return 0;
		case 'n':
			checkonly = 1;
			break;
		case 'v':
			gw.verbose++;
			break;
		case 'V':
			printf("otagw %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "otagw: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}

	/* Until the configuration is known, messages go to stderr. */
	log_init("otagw", 1, LOG_LEVEL_INFO);
	if (config_load(gw.conf_path, &gw.cfg) == -1) {
		if (!checkonly)
			fprintf(stderr, "otagw: %s: configuration has errors,"
			    " not starting\n", gw.conf_path);
		return 1;
	}
	if (checkonly) {
		if (gw.verbose > 0)
			config_dump(&gw.cfg, stdout);
		fflush(stdout);
		if (otagw_check_files(&gw.cfg) + otagw_check_listeners(
		    &gw.cfg) > 0) {
			fprintf(stderr, "otagw: %s: otagw would not start "
			    "(a file, the user or a listen address above)\n",
			    gw.conf_path);
			return 1;
		}
		fprintf(stderr, "configuration OK\n");
		return 0;
	}

	/* Start-up problems reach the terminal, detached or not. */
	log_init("otagw", 1, level_for(&gw));
	if (!gw.foreground)
		otagw_detach(&gw);	/* returns in the child only */
	log_info("otagw %s starting, configuration %s", PACKAGE_VERSION,
	    gw.conf_path);

	if (otagw_state_dir(gw.cfg.state_dir) == 0 &&
	    otagw_lock(&gw, gw.cfg.state_dir) == 0 && otagw_start(&gw) == 0) {
		otagw_ready(&gw);
		if (ev_run(gw.ev) == 0)
			status = 0;
	}
	otagw_cleanup(&gw);
	if (status == 0)
		log_info("otagw stopped");
	else
		log_warnx("otagw exiting on errors");
	return status;
}
