/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * share.c: SO_REUSEPORT for the workers' listening sockets (share.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/share.h"

/* Binds a socket like fd's, without sharing, and lets it go.  0 or -1. */
static int
share_probe(int fd, int type, const struct sockaddr *sa, socklen_t len)
{
	int p, v6only = 0, one = 1, saved;
	socklen_t ol = sizeof(v6only);

	if ((p = socket(sa->sa_family, type | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* the same address family rules as the real socket */
	if (sa->sa_family == AF_INET6 && getsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, &ol) == 0)
		(void)setsockopt(p, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	/* TIME_WAIT connections of an earlier otagw are no owner */
	if (type == SOCK_STREAM)
		(void)setsockopt(p, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	if (bind(p, sa, len) == -1) {
		saved = errno;
		close(p);
		errno = saved;
		return -1;
	}
	close(p);
	return 0;
}

int
listen_share_prepare(int fd, int type, const struct sockaddr *sa,
    socklen_t len, int share)
{
	int one = 1;

	if (share == LISTEN_ALONE)
		return 0;
	if (share == LISTEN_SHARE_FIRST && share_probe(fd, type, sa,
	    len) == -1)
		return -1;
	return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
}
