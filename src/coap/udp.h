/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp.h: the CoAP listeners' UDP sockets, read and written in batches.
 *
 * One struct udp_sock per bound address.  udp_recv() reads up to
 * UDP_BATCH datagrams with one recvmmsg(); udp_send() queues a datagram
 * and udp_flush() sends the queue with one sendmmsg().  A socket bound to
 * a wildcard address learns each datagram's local address (IP_PKTINFO,
 * IPV6_PKTINFO) and answers from that same address, so a multi-homed
 * gateway replies from the address a device sent to.  A datagram longer
 * than UDP_DGRAM_MAX is delivered truncated, with its true length.
 */
#ifndef OTAGW_COAP_UDP_H
#define OTAGW_COAP_UDP_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

/* Datagrams per recvmmsg and per sendmmsg. */
#define UDP_BATCH	32
/* Bytes of a datagram kept (a 1 KiB block in DTLS with room to spare). */
#define UDP_DGRAM_MAX	2048

union udp_sa {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

/* The local end of a datagram: where it was sent to. */
struct udp_local {
	int		 family;	/* 0: unknown (socket not wildcard) */
	int		 ifindex;
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} a;
};

struct udp_dgram {
	union udp_sa	 peer;
	socklen_t	 peerlen;
	struct udp_local local;
	const uint8_t	*data;		/* valid until the next udp_recv */
	size_t		 len;		/* bytes in data */
	size_t		 full_len;	/* the datagram's length (>= len) */
};

struct udp_stats {
	unsigned long long	 recv_calls;
	unsigned long long	 recv_dgrams;
	unsigned long long	 send_calls;
	unsigned long long	 send_dgrams;
	unsigned long long	 send_errors;	/* refused by the kernel */
	unsigned long long	 truncated;	/* longer than UDP_DGRAM_MAX */
};

struct udp_sock;

/*
 * Binds a non-blocking socket to addr (a v6 wildcard accepts IPv4 too),
 * shared with other workers' as share says (enum listen_share).  NULL
 * with errno set when it fails.
 */
struct udp_sock *udp_open(const struct sockaddr *, socklen_t, int share);
void	 udp_close(struct udp_sock *);		/* accepts NULL */
int	 udp_fd(const struct udp_sock *);
/* The bound address (for logs and URLs). */
const union udp_sa *udp_bound(const struct udp_sock *);
/*
 * The address a peer sent to, as the authority of a URL ("192.0.2.1:5683",
 * "[2001:db8::1]:5684", a link-local one with its zone): local is the
 * datagram's (NULL or family 0: the socket's own address).  0, or -1 when
 * it is not known or does not fit.
 */
int	 udp_local_authority(const struct udp_sock *,
	    const struct udp_local *, char *out, size_t size);

/*
 * Reads what is waiting, up to max (at most UDP_BATCH) datagrams, into
 * out: their count, 0 when none is waiting, -1 on a socket error.
 */
int	 udp_recv(struct udp_sock *, struct udp_dgram *out, size_t max);
/*
 * Queues a datagram to peer, from local (NULL or family 0: the bound
 * address); sends the queue first when it is full.
 */
void	 udp_send(struct udp_sock *, const union udp_sa *, socklen_t,
	    const struct udp_local *, const uint8_t *, size_t);
/* Sends what is queued: one sendmmsg per UDP_BATCH datagrams. */
void	 udp_flush(struct udp_sock *);
void	 udp_get_stats(const struct udp_sock *, struct udp_stats *);

#endif
