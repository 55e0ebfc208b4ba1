/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_metrics.c: the registry behind /metrics and the listeners worker
 * threads share.
 *
 * - samples of one name and labels from several collectors are one sample
 *   with their sum, grouped by name with HELP and TYPE once;
 * - a snapshot taken from one registry adds to another scrape as if its
 *   collectors had run there (what a worker thread hands main);
 * - more collectors than the old fixed table held all run;
 * - listen_share_prepare: the first socket's probe refuses an address a
 *   plain socket holds, two sockets share one with SO_REUSEPORT, and a
 *   probe refuses an address that sharing sockets hold.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "util/share.h"
#include "t.h"

struct front {
	double	 sent;
	const char *listener;
};

static void
front_cb(void *arg, struct metrics_out *o)
{
	struct front *f = arg;
	char	 labels[64];

	snprintf(labels, sizeof(labels), "listener=\"%s\"", f->listener);
	metrics_counter(o, "t_sent_total", "Things sent.", labels, f->sent);
	metrics_gauge(o, "t_open", "Things open.", "", 1);
}

static void
other_cb(void *arg, struct metrics_out *o)
{
	(void)arg;
	metrics_gauge(o, "t_other", "Another.", "", 7);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t	 n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void
test_sum(void)
{
	struct front a = { 3, "coap" }, b = { 4, "coap" }, c = { 5, "coaps" };
	struct metrics *m = metrics_new();
	char	*text;
	size_t	 len;

	T_CHECK(m != NULL);
	T_EQ_INT(metrics_register(m, front_cb, &a), 0);
	T_EQ_INT(metrics_register(m, other_cb, NULL), 0);
	T_EQ_INT(metrics_register(m, front_cb, &b), 0);
	T_EQ_INT(metrics_register(m, front_cb, &c), 0);
	text = metrics_render(m, &len);
	T_CHECK(text != NULL);
	T_EQ_INT(len, strlen(text));
	T_CHECK(strstr(text, "t_sent_total{listener=\"coap\"} 7\n") != NULL);
	T_CHECK(strstr(text, "t_sent_total{listener=\"coaps\"} 5\n") != NULL);
	T_CHECK(strstr(text, "t_open 3\n") != NULL);
	T_EQ_INT(count(text, "# TYPE t_sent_total counter\n"), 1);
	T_EQ_INT(count(text, "# HELP t_open Things open.\n"), 1);
	/* grouped: both t_sent_total lines come before t_open's HELP */
	T_CHECK(strstr(text, "listener=\"coaps\"") < strstr(text,
	    "# HELP t_open"));
	T_CHECK(strstr(text, "t_other 7\n") != NULL);
	free(text);
	metrics_free(m);
}

/* What main's collector for a worker does with its snapshot. */
static void
snap_cb(void *arg, struct metrics_out *o)
{
	metrics_add_snap(o, arg);
}

static void
test_snapshot(void)
{
	struct front a = { 10, "coap" }, w = { 32, "coap" };
	struct metrics *mm = metrics_new(), *worker = metrics_new();
	struct metrics_snap *snap;
	char	*text;
	size_t	 len;

	T_EQ_INT(metrics_register(mm, front_cb, &a), 0);
	T_EQ_INT(metrics_register(worker, front_cb, &w), 0);
	snap = metrics_snapshot(worker);
	T_CHECK(snap != NULL);
	w.sent = 1000;		/* later changes are not in the snapshot */
	T_EQ_INT(metrics_register(mm, snap_cb, snap), 0);
	text = metrics_render(mm, &len);
	T_CHECK(text != NULL && strstr(text,
	    "t_sent_total{listener=\"coap\"} 42\n") != NULL);
	T_CHECK(text != NULL && strstr(text, "t_open 2\n") != NULL);
	free(text);
	metrics_snap_free(snap);
	metrics_snap_free(NULL);
	metrics_free(mm);
	metrics_free(worker);
}

static void
test_many_collectors(void)
{
	struct front f[100];
	struct metrics *m = metrics_new();
	char	*text;
	size_t	 i, len;

	for (i = 0; i < 100; i++) {
		f[i].sent = 1;
		f[i].listener = "x";
		T_EQ_INT(metrics_register(m, front_cb, &f[i]), 0);
	}
	text = metrics_render(m, &len);
	T_CHECK(text != NULL && strstr(text,
	    "t_sent_total{listener=\"x\"} 100\n") != NULL);
	free(text);
	metrics_free(m);
}

/* A UDP or TCP socket bound to 127.0.0.1:port as share says, or -1. */
static int
bound(int type, unsigned port, int share)
{
	struct sockaddr_in sin;
	int	 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, type, 0)) == -1)
		return -1;
	if (listen_share_prepare(fd, type, (struct sockaddr *)&sin,
	    sizeof(sin), share) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned
port_of(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return 0;
	return ntohs(sin.sin_port);
}

static void
test_share(int type)
{
	int	 plain, first, join, again;
	unsigned port;

	/* a port a plain socket holds: the probe refuses it */
	plain = bound(type, 0, LISTEN_ALONE);
	T_CHECK(plain != -1);
	port = port_of(plain);
	errno = 0;
	T_EQ_INT(bound(type, port, LISTEN_SHARE_FIRST), -1);
	T_EQ_INT(errno, EADDRINUSE);
	close(plain);

	/* free again: the first worker binds it, a second joins */
	first = bound(type, port, LISTEN_SHARE_FIRST);
	T_CHECK(first != -1);
	join = bound(type, port, LISTEN_SHARE_JOIN);
	T_CHECK(join != -1);
	/* another program's probe (or plain socket) finds it taken */
	T_EQ_INT(bound(type, port, LISTEN_SHARE_FIRST), -1);
	T_EQ_INT(bound(type, port, LISTEN_ALONE), -1);
	close(first);
	close(join);
	again = bound(type, port, LISTEN_ALONE);
	T_CHECK(again != -1);
	close(again);
}

static void
test_share_udp(void)
{
	test_share(SOCK_DGRAM);
}

static void
test_share_tcp(void)
{
	test_share(SOCK_STREAM);
}

int
main(void)
{
	T_RUN(test_sum);
	T_RUN(test_snapshot);
	T_RUN(test_many_collectors);
	T_RUN(test_share_udp);
	T_RUN(test_share_tcp);
	return t_done();
}
