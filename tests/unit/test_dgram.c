/*
 * test_dgram.c: batched datagram I/O on real loopback sockets: reads
 * served from one recvmmsg keep order, source address, packet info and
 * truncation; held writes leave in order and only at the flush; sockets
 * that are not registered, and calls with flags, go straight through.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coap/dgram.h"
#include "t.h"

/* A non-blocking UDP socket on 127.0.0.1 with a free port. */
static int
udp_socket(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd, on = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	return fd;
}

/* Reads one datagram the way libcoap does; returns its length. */
static ssize_t
read_one(int fd, char *buf, size_t size, struct sockaddr_in *from,
    int *pktinfo, int *flags)
{
	char ctl[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct iovec iov = { buf, size };
	struct msghdr m;
	struct cmsghdr *c;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.msg_name = from;
	m.msg_namelen = sizeof(*from);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	n = recvmsg(fd, &m, 0);
	*pktinfo = 0;
	*flags = m.msg_flags;
	if (n >= 0)
		for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_PKTINFO)
				*pktinfo = 1;
	return n;
}

static ssize_t
send_one(int fd, const struct sockaddr_in *to, const char *data, size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)data, len };
	struct msghdr m;

	memset(&m, 0, sizeof(m));
	m.msg_name = (void *)(uintptr_t)to;
	m.msg_namelen = sizeof(*to);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	return sendmsg(fd, &m, 0);
}

/* Waits (briefly) until fd has something to read. */
static void
settle(void)
{
	usleep(20000);
}

static void
test_reads(void)
{
	struct sockaddr_in a, b, from;
	char buf[64], msg[16];
	int fa, fb, pi, fl, i;
	ssize_t n;

	fa = udp_socket(&a);
	fb = udp_socket(&b);
	T_CHECK(fa != -1 && fb != -1);
	T_EQ_INT(dgram_watch(fb), 0);
	T_EQ_INT(dgram_fill(fb), 0);	/* nothing there: no datagram */
	for (i = 0; i < 5; i++) {
		snprintf(msg, sizeof(msg), "dgram-%d", i);
		T_EQ_INT(send_one(fa, &b, msg, strlen(msg)), strlen(msg));
	}
	settle();
	T_EQ_INT(dgram_fill(fb), 5);
	T_EQ_INT(dgram_queued(fb), 5);
	for (i = 0; i < 5; i++) {
		memset(&from, 0, sizeof(from));
		n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
		snprintf(msg, sizeof(msg), "dgram-%d", i);
		T_EQ_INT(n, strlen(msg));
		T_CHECK(n > 0 && memcmp(buf, msg, (size_t)n) == 0);
		T_EQ_INT(from.sin_port, a.sin_port);
		T_EQ_INT(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
		T_EQ_INT(pi, 1);	/* packet info survives the queue */
		T_EQ_INT(fl & MSG_TRUNC, 0);
	}
	T_EQ_INT(dgram_queued(fb), 0);
	/* Empty queue: the kernel answers, as recvmsg(2) would. */
	n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
	T_EQ_INT(n, -1);
	T_EQ_INT(errno, EAGAIN);

	/* A reader with a small buffer gets the head and MSG_TRUNC. */
	T_EQ_INT(send_one(fa, &b, "0123456789", 10), 10);
	settle();
	T_EQ_INT(dgram_fill(fb), 1);
	n = read_one(fb, buf, 4, &from, &pi, &fl);
	T_EQ_INT(n, 4);
	T_CHECK(memcmp(buf, "0123", 4) == 0);
	T_CHECK((fl & MSG_TRUNC) != 0);

	/* A fill tops up: queued datagrams stay first. */
	T_EQ_INT(send_one(fa, &b, "one", 3), 3);
	settle();
	T_EQ_INT(dgram_fill(fb), 1);
	T_EQ_INT(send_one(fa, &b, "two", 3), 3);
	settle();
	T_EQ_INT(dgram_fill(fb), 2);
	n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
	T_CHECK(n == 3 && memcmp(buf, "one", 3) == 0);
	n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
	T_CHECK(n == 3 && memcmp(buf, "two", 3) == 0);

	/* Not registered: straight to the kernel. */
	T_EQ_INT(send_one(fb, &a, "back", 4), 4);
	settle();
	T_EQ_INT(dgram_fill(fa), 0);
	n = read_one(fa, buf, sizeof(buf), &from, &pi, &fl);
	T_CHECK(n == 4 && memcmp(buf, "back", 4) == 0);

	/* More than a batch: the rest stays in the kernel for the next. */
	for (i = 0; i < 40; i++)
		send_one(fa, &b, "x", 1);
	settle();
	T_EQ_INT(dgram_fill(fb), 32);
	for (i = 0; i < 32; i++)
		read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
	T_EQ_INT(dgram_fill(fb), 8);
	dgram_unwatch_all();
	/* Forgotten: the queue is gone and reads go to the kernel again. */
	T_EQ_INT(dgram_queued(fb), 0);
	close(fa);
	close(fb);
}

static void
test_writes(void)
{
	struct sockaddr_in a, b, from;
	char buf[64], msg[16];
	int fa, fb, pi, fl, i;
	struct dgram_stats st0, st1;
	ssize_t n;

	fa = udp_socket(&a);
	fb = udp_socket(&b);
	T_CHECK(fa != -1 && fb != -1);
	T_EQ_INT(dgram_watch(fa), 0);
	dgram_stats(&st0);

	/* Not held: sent at once. */
	T_EQ_INT(send_one(fa, &b, "now", 3), 3);
	settle();
	n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
	T_CHECK(n == 3 && memcmp(buf, "now", 3) == 0);

	/* Held: reported sent, on the wire only after the flush, in order. */
	dgram_hold();
	for (i = 0; i < 40; i++) {
		snprintf(msg, sizeof(msg), "held-%d", i);
		T_EQ_INT(send_one(fa, &b, msg, strlen(msg)), strlen(msg));
		if (i == 2) {
			settle();
			n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
			T_EQ_INT(n, -1);	/* nothing sent yet */
		}
	}
	dgram_flush();
	settle();
	for (i = 0; i < 40; i++) {
		n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
		snprintf(msg, sizeof(msg), "held-%d", i);
		T_CHECK(n == (ssize_t)strlen(msg) &&
		    memcmp(buf, msg, (size_t)n) == 0);
		T_EQ_INT(from.sin_port, a.sin_port);
	}
	dgram_stats(&st1);
	/* 40 held: a full queue of 32 went on the way, then 8 at the flush. */
	T_EQ_INT(st1.write_dgrams - st0.write_dgrams, 40);
	T_EQ_INT(st1.writes - st0.writes, 2);
	T_EQ_INT(st1.write_errors - st0.write_errors, 0);

	/* After the flush the hold is over: sent at once again. */
	T_EQ_INT(send_one(fa, &b, "after", 5), 5);
	settle();
	n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
	T_CHECK(n == 5 && memcmp(buf, "after", 5) == 0);

	/* Too big for a slot: the queue goes first, then the big one. */
	{
		static char big[4000];

		memset(big, 'B', sizeof(big));
		dgram_hold();
		send_one(fa, &b, "small", 5);
		T_EQ_INT(send_one(fa, &b, big, sizeof(big)), sizeof(big));
		dgram_flush();
		settle();
		n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
		T_CHECK(n == 5 && memcmp(buf, "small", 5) == 0);
		n = read_one(fb, buf, sizeof(buf), &from, &pi, &fl);
		T_EQ_INT(n, sizeof(buf));	/* the big one, truncated */
		T_CHECK((fl & MSG_TRUNC) != 0);
	}
	dgram_unwatch_all();
	close(fa);
	close(fb);
}

int
main(void)
{
	T_RUN(test_reads);
	T_RUN(test_writes);
	return t_done();
}
