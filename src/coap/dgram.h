/*
 * dgram.h: batched datagram I/O underneath libcoap.
 *
 * libcoap 4.3.1 reads one datagram per recvmsg(2) and writes one per
 * sendmsg(2), and has no call that takes a datagram from its caller.  On a
 * busy gateway those two system calls per block are most of the CPU a
 * block costs.  This module supplies recvmsg() and sendmsg() to the
 * process: for the sockets the CoAP front end registers (libcoap's
 * endpoint sockets), reads come from a queue that one recvmmsg(2) fills,
 * and writes made while a hold is on are queued and leave in one
 * sendmmsg(2).  Every other descriptor goes straight to the kernel, so the
 * rest of the program (and libcoap's other sockets) sees the usual calls.
 *
 * Single-threaded: only the event loop's thread may use a registered
 * socket.  Nothing here includes libcoap.
 */
#ifndef OTAGW_DGRAM_H
#define OTAGW_DGRAM_H

#include <stddef.h>

/* Datagrams a socket's read queue holds; per recvmmsg and sendmmsg. */
#define DGRAM_BATCH	32
/* Most sockets registered at once (one per CoAP endpoint). */
#define DGRAM_SOCKETS	8

/* Registers fd for batching; -1 when the table is full or fd is bad. */
int	 dgram_watch(int fd);
/* Forgets every registered socket (their queues are dropped). */
void	 dgram_unwatch_all(void);
/*
 * Tops up fd's read queue with what the kernel holds, without blocking,
 * and returns how many datagrams the queue holds (0 for a socket that is
 * not registered).  Each later recvmsg() on fd takes one of them.
 */
size_t	 dgram_fill(int fd);
/* Datagrams queued for reading on fd. */
size_t	 dgram_queued(int fd);
/*
 * From dgram_hold() to dgram_flush(), sendmsg() on a registered socket
 * queues the datagram (reporting it sent) and dgram_flush() sends the
 * queue; a full queue is sent on the way.  Outside a hold, sendmsg() goes
 * straight to the kernel.
 */
void	 dgram_hold(void);
void	 dgram_flush(void);

/* Counters for the metrics page and the tests. */
struct dgram_stats {
	unsigned long long	 reads;		/* recvmmsg calls */
	unsigned long long	 read_dgrams;	/* datagrams they gave */
	unsigned long long	 writes;	/* sendmmsg calls */
	unsigned long long	 write_dgrams;	/* datagrams they sent */
	unsigned long long	 write_errors;	/* datagrams the kernel refused */
};
void	 dgram_stats(struct dgram_stats *);

#endif
