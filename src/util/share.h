/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * share.h: listening sockets that worker threads share (SO_REUSEPORT).
 *
 * With more than one worker (main.c, worker.c), each worker binds its own
 * socket to every listening address, and the kernel hands each new TCP
 * connection, and each UDP datagram by its source and destination, to one
 * of them.  SO_REUSEPORT alone would also let another program of the same
 * user bind the same port, and take half the devices: the first worker
 * therefore first binds a plain probe socket, which fails when anything
 * holds the address, so a taken port is refused as with one worker.
 */
#ifndef OTAGW_UTIL_SHARE_H
#define OTAGW_UTIL_SHARE_H

#include <sys/socket.h>

enum listen_share {
	LISTEN_ALONE = 0,	/* one worker: a socket of its own */
	LISTEN_SHARE_FIRST,	/* the first of several: probe, then share */
	LISTEN_SHARE_JOIN,	/* a later worker: join the first one's */
};

/*
 * Call on fd (socket of type type, unbound) before bind(sa).  0, or -1
 * with errno set (EADDRINUSE when the probe found the address taken).
 */
int	 listen_share_prepare(int fd, int type, const struct sockaddr *sa,
	    socklen_t len, int share);

#endif
