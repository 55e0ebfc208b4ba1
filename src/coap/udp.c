/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp.c: batched datagram I/O for the CoAP listeners (see udp.h).
 *
 * Each socket keeps two fixed arrays of UDP_BATCH slots, one for reading
 * and one for the send queue, so no datagram is ever allocated.  Reading
 * asks the kernel for true lengths (MSG_TRUNC), so the caller can tell a
 * datagram that did not fit from one that ended there.  A datagram the
 * kernel refuses to send is counted and dropped, as a lost datagram would
 * be: CoAP's and DTLS's retransmissions cover it.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coap/udp.h"
#include "log.h"
#include "util/share.h"

/* Control bytes per slot: IPv4 and IPv6 packet info together. */
#define UDP_CTL		128

struct udp_slot {
	union udp_sa	 name;
	uint8_t		 ctl[UDP_CTL];
	uint8_t		 data[UDP_DGRAM_MAX];
};

struct udp_sock {
	int		 fd;
	int		 family;
	int		 wildcard;	/* learn and use packet info */
	union udp_sa	 bound;
	struct mmsghdr	 rmsg[UDP_BATCH];
	struct iovec	 riov[UDP_BATCH];
	struct udp_slot	 rslot[UDP_BATCH];
	size_t		 nsend;
	struct mmsghdr	 smsg[UDP_BATCH];
	struct iovec	 siov[UDP_BATCH];
	struct udp_slot	 sslot[UDP_BATCH];
	struct udp_stats st;
};

static int
udp_is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

struct udp_sock *
udp_open(const struct sockaddr *sa, socklen_t len, int share)
{
	struct udp_sock *s;
	int on = 1, off = 0, saved;

	if (len > sizeof(union udp_sa) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->family = sa->sa_family;
	s->wildcard = udp_is_wildcard(sa);
	s->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (s->fd == -1)
		goto fail;
	if (s->family == AF_INET6 && s->wildcard &&
	    setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
	    sizeof(off)) == -1)
		goto fail;
	if (s->wildcard) {
		/* A dual-stack socket gets IPv4 packet info for IPv4. */
		if (setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &on,
		    sizeof(on)) == -1)
			goto fail;
		if (s->family == AF_INET6 && setsockopt(s->fd, IPPROTO_IPV6,
		    IPV6_RECVPKTINFO, &on, sizeof(on)) == -1)
			goto fail;
	}
	if (listen_share_prepare(s->fd, SOCK_DGRAM, sa, len, share) == -1 ||
	    bind(s->fd, sa, len) == -1)
		goto fail;
	len = sizeof(s->bound);
	if (getsockname(s->fd, &s->bound.sa, &len) == -1)
		goto fail;
	return s;

fail:
	saved = errno;
	if (s->fd != -1)
		close(s->fd);
	free(s);
	errno = saved;
	return NULL;
}

void
udp_close(struct udp_sock *s)
{
	if (s == NULL)
		return;
	udp_flush(s);
	close(s->fd);
	free(s);
}

int
udp_fd(const struct udp_sock *s)
{
	return s->fd;
}

const union udp_sa *
udp_bound(const struct udp_sock *s)
{
	return &s->bound;
}

int
udp_local_authority(const struct udp_sock *s, const struct udp_local *l,
    char *out, size_t size)
{
	char	 a[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 4] = "";
	struct in_addr v4;
	struct in6_addr v6;
	unsigned port;
	int	 family, n;

	if (l != NULL && l->family != 0) {
		family = l->family;
		v4 = l->a.v4;
		v6 = l->a.v6;
	} else if (s->wildcard)
		return -1;
	else {
		family = s->bound.sa.sa_family;
		v4 = s->bound.in.sin_addr;
		v6 = s->bound.in6.sin6_addr;
	}
	if (s->bound.sa.sa_family == AF_INET)
		port = ntohs(s->bound.in.sin_port);
	else
		port = ntohs(s->bound.in6.sin6_port);
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6)) {
		family = AF_INET;
		memcpy(&v4, &v6.s6_addr[12], 4);
	}
	if (family == AF_INET) {
		inet_ntop(AF_INET, &v4, a, sizeof(a));
		n = snprintf(out, size, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, &v6, a, sizeof(a));
		/* a link-local address needs its zone (RFC 6874) */
		if (IN6_IS_ADDR_LINKLOCAL(&v6) && l != NULL &&
		    l->ifindex > 0) {
			memcpy(zone, "%25", 4);
			if (if_indextoname((unsigned)l->ifindex, zone + 3) ==
			    NULL)
				return -1;
		}
		n = snprintf(out, size, "[%s%s]:%u", a, zone, port);
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The local address of a received datagram, from its packet info. */
static void
udp_local_of(const struct msghdr *h, struct udp_local *l)
{
	struct cmsghdr *c;

	memset(l, 0, sizeof(*l));
	for (c = CMSG_FIRSTHDR(h); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			l->family = AF_INET;
			l->ifindex = pi.ipi_ifindex;
			l->a.v4 = pi.ipi_addr;
			return;	/* IPv4 wins on a dual-stack socket */
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			l->family = AF_INET6;
			l->ifindex = (int)pi.ipi6_ifindex;
			l->a.v6 = pi.ipi6_addr;
		}
	}
}

int
udp_recv(struct udp_sock *s, struct udp_dgram *out, size_t max)
{
	struct msghdr *h;
	size_t i;
	int n;

	if (max > UDP_BATCH)
		max = UDP_BATCH;
	if (max == 0)
		return 0;
	for (i = 0; i < max; i++) {
		h = &s->rmsg[i].msg_hdr;
		s->riov[i].iov_base = s->rslot[i].data;
		s->riov[i].iov_len = UDP_DGRAM_MAX;
		memset(h, 0, sizeof(*h));
		h->msg_name = &s->rslot[i].name;
		h->msg_namelen = sizeof(s->rslot[i].name);
		h->msg_iov = &s->riov[i];
		h->msg_iovlen = 1;
		if (s->wildcard) {
			h->msg_control = s->rslot[i].ctl;
			h->msg_controllen = UDP_CTL;
		}
		s->rmsg[i].msg_len = 0;
	}
	do
		n = recvmmsg(s->fd, s->rmsg, (unsigned)max,
		    MSG_DONTWAIT | MSG_TRUNC, NULL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	s->st.recv_calls++;
	s->st.recv_dgrams += (unsigned)n;
	for (i = 0; i < (size_t)n; i++) {
		h = &s->rmsg[i].msg_hdr;
		memcpy(&out[i].peer, &s->rslot[i].name, sizeof(out[i].peer));
		out[i].peerlen = h->msg_namelen;
		out[i].data = s->rslot[i].data;
		out[i].full_len = s->rmsg[i].msg_len;
		out[i].len = out[i].full_len > UDP_DGRAM_MAX ? UDP_DGRAM_MAX :
		    out[i].full_len;
		if (out[i].full_len > UDP_DGRAM_MAX)
			s->st.truncated++;
		if (s->wildcard)
			udp_local_of(h, &out[i].local);
		else
			memset(&out[i].local, 0, sizeof(out[i].local));
	}
	return n;
}

/* Packet info that makes a datagram leave from local. */
static size_t
udp_set_local(struct udp_sock *s, struct udp_slot *sl,
    const union udp_sa *peer, const struct udp_local *local)
{
	struct cmsghdr *c = (struct cmsghdr *)(void *)sl->ctl;
	int v4peer;

	if (!s->wildcard || local == NULL || local->family == 0)
		return 0;
	v4peer = peer->sa.sa_family == AF_INET ||
	    (peer->sa.sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&peer->in6.sin6_addr));
	memset(sl->ctl, 0, sizeof(sl->ctl));
	if (v4peer && local->family == AF_INET) {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = local->a.v4;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (!v4peer && local->family == AF_INET6) {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = local->a.v6;
		pi.ipi6_ifindex = (unsigned)local->ifindex;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

void
udp_send(struct udp_sock *s, const union udp_sa *peer, socklen_t peerlen,
    const struct udp_local *local, const uint8_t *data, size_t len)
{
	struct udp_slot *sl;
	struct msghdr *h;
	size_t ctl;

	if (len > UDP_DGRAM_MAX || peerlen > sizeof(*peer)) {
		s->st.send_errors++;
		return;
	}
	if (s->nsend == UDP_BATCH)
		udp_flush(s);
	sl = &s->sslot[s->nsend];
	h = &s->smsg[s->nsend].msg_hdr;
	memcpy(&sl->name, peer, peerlen);
	memcpy(sl->data, data, len);
	ctl = udp_set_local(s, sl, peer, local);
	s->siov[s->nsend].iov_base = sl->data;
	s->siov[s->nsend].iov_len = len;
	memset(h, 0, sizeof(*h));
	h->msg_name = &sl->name;
	h->msg_namelen = peerlen;
	h->msg_iov = &s->siov[s->nsend];
	h->msg_iovlen = 1;
	h->msg_control = ctl > 0 ? sl->ctl : NULL;
	h->msg_controllen = ctl;
	s->nsend++;
}

void
udp_flush(struct udp_sock *s)
{
	size_t done = 0;
	int n;

	while (done < s->nsend) {
		n = sendmmsg(s->fd, s->smsg + done, (unsigned)(s->nsend - done),
		    MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		s->st.send_calls++;
		if (n <= 0) {
			/* The first one was refused: drop it, go on. */
			s->st.send_errors++;
			done++;
			continue;
		}
		s->st.send_dgrams += (unsigned)n;
		done += (size_t)n;
	}
	s->nsend = 0;
}

void
udp_get_stats(const struct udp_sock *s, struct udp_stats *st)
{
	*st = s->st;
}
