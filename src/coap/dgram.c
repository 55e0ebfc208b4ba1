/*
 * dgram.c: batched datagram I/O underneath libcoap (see dgram.h).
 *
 * The program's recvmsg() and sendmsg() are defined here.  A dynamically
 * linked executable's own definitions come first in symbol lookup, so
 * libcoap's calls land here too; for a descriptor that is not registered
 * they make the system call directly, exactly as the C library would.
 *
 * Reading.  Each registered socket has a ring of DGRAM_BATCH slots.
 * dgram_fill() tops it up with one recvmmsg(MSG_DONTWAIT); recvmsg() then
 * copies the oldest slot out (payload, source address, control messages
 * and flags, truncating as the kernel would).  With an empty ring recvmsg()
 * goes to the kernel, so a caller that reads without filling first sees
 * the usual behaviour.
 *
 * Writing.  While a hold is on, sendmsg() on a registered socket with no
 * flags copies the datagram into the send queue and reports it sent; the
 * queue leaves with one sendmmsg() per run of datagrams for the same
 * socket, in order.  A datagram the kernel refuses is counted and dropped,
 * as a lost datagram would be: CoAP's own retransmission covers it.  What
 * does not fit a slot (payload, address or control data) first sends the
 * queue, then goes straight to the kernel, so the order on the wire is
 * always the order of the calls.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coap/dgram.h"

/* Payload bytes a slot holds: a CoAP block of 1024 with headers, or a
 * DTLS record carrying one, fits with room to spare. */
#define DGRAM_DATA	2048
/*
 * Control bytes a slot holds: room for IPv6 and IPv4 packet info together
 * (a dual-stack socket may get both for an IPv4 datagram).
 */
#define DGRAM_CTL	128

struct dgram_slot {
	struct sockaddr_storage	 name;
	socklen_t		 namelen;
	int			 flags;		/* msg_flags */
	size_t			 ctllen;
	size_t			 len;		/* payload bytes */
	unsigned char		 ctl[DGRAM_CTL];
	unsigned char		 data[DGRAM_DATA];
};

struct dgram_sock {
	int			 fd;
	size_t			 head;		/* oldest queued slot */
	size_t			 count;		/* queued slots */
	struct dgram_slot	 ring[DGRAM_BATCH];
};

static struct dgram_sock	*socks[DGRAM_SOCKETS];
static size_t			 nsocks;

static struct {
	int			 held;
	size_t			 n;
	int			 fd[DGRAM_BATCH];
	struct dgram_slot	 slot[DGRAM_BATCH];
} out;

static struct dgram_stats	 stats;

static ssize_t
dgram_sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return syscall(SYS_recvmsg, fd, msg, flags);
}

static ssize_t
dgram_sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return syscall(SYS_sendmsg, fd, msg, flags);
}

static struct dgram_sock *
dgram_find(int fd)
{
	size_t i;

	for (i = 0; i < nsocks; i++)
		if (socks[i]->fd == fd)
			return socks[i];
	return NULL;
}

int
dgram_watch(int fd)
{
	struct dgram_sock *s;

	if (fd < 0 || nsocks == DGRAM_SOCKETS)
		return -1;
	if (dgram_find(fd) != NULL)
		return 0;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	s->fd = fd;
	socks[nsocks++] = s;
	return 0;
}

void
dgram_unwatch_all(void)
{
	dgram_flush();
	while (nsocks > 0)
		free(socks[--nsocks]);
}

static void
dgram_set_msg(struct msghdr *h, struct iovec *iov, struct dgram_slot *sl,
    size_t len)
{
	iov->iov_base = sl->data;
	iov->iov_len = len;
	memset(h, 0, sizeof(*h));
	h->msg_name = &sl->name;
	h->msg_namelen = sizeof(sl->name);
	h->msg_iov = iov;
	h->msg_iovlen = 1;
	h->msg_control = sl->ctl;
	h->msg_controllen = sizeof(sl->ctl);
}

size_t
dgram_fill(int fd)
{
	struct dgram_sock *s = dgram_find(fd);
	struct mmsghdr vec[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH];
	struct dgram_slot *sl;
	size_t free_slots, i, at;
	int n;

	if (s == NULL)
		return 0;
	free_slots = DGRAM_BATCH - s->count;
	if (free_slots == 0)
		return s->count;
	for (i = 0; i < free_slots; i++) {
		at = (s->head + s->count + i) % DGRAM_BATCH;
		dgram_set_msg(&vec[i].msg_hdr, &iov[i], &s->ring[at],
		    DGRAM_DATA);
		vec[i].msg_len = 0;
	}
	do
		n = recvmmsg(fd, vec, (unsigned)free_slots, MSG_DONTWAIT, NULL);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return s->count;
	stats.reads++;
	stats.read_dgrams += (unsigned)n;
	for (i = 0; i < (size_t)n; i++) {
		at = (s->head + s->count + i) % DGRAM_BATCH;
		sl = &s->ring[at];
		sl->len = vec[i].msg_len;
		sl->namelen = vec[i].msg_hdr.msg_namelen;
		sl->ctllen = vec[i].msg_hdr.msg_controllen;
		sl->flags = vec[i].msg_hdr.msg_flags;
	}
	s->count += (size_t)n;
	return s->count;
}

size_t
dgram_queued(int fd)
{
	struct dgram_sock *s = dgram_find(fd);

	return s != NULL ? s->count : 0;
}

/* Copies the oldest queued datagram of s into msg, as recvmsg(2) would. */
static ssize_t
dgram_pop(struct dgram_sock *s, struct msghdr *msg)
{
	struct dgram_slot *sl = &s->ring[s->head];
	size_t done = 0, n, i;
	int flags = sl->flags;

	for (i = 0; i < (size_t)msg->msg_iovlen && done < sl->len; i++) {
		n = msg->msg_iov[i].iov_len;
		if (n > sl->len - done)
			n = sl->len - done;
		memcpy(msg->msg_iov[i].iov_base, sl->data + done, n);
		done += n;
	}
	if (done < sl->len)
		flags |= MSG_TRUNC;
	if (msg->msg_name != NULL) {
		n = sl->namelen;
		if (n > msg->msg_namelen)
			n = msg->msg_namelen;
		memcpy(msg->msg_name, &sl->name, n);
		msg->msg_namelen = sl->namelen;
	}
	if (msg->msg_control != NULL) {
		n = sl->ctllen;
		if (n > msg->msg_controllen) {
			n = msg->msg_controllen;
			flags |= MSG_CTRUNC;
		}
		memcpy(msg->msg_control, sl->ctl, n);
		msg->msg_controllen = n;
	} else {
		if (sl->ctllen > 0)
			flags |= MSG_CTRUNC;
		msg->msg_controllen = 0;
	}
	msg->msg_flags = flags;
	s->head = (s->head + 1) % DGRAM_BATCH;
	s->count--;
	return (ssize_t)done;
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct dgram_sock *s;

	if (nsocks > 0 && (flags & ~MSG_DONTWAIT) == 0 &&
	    (s = dgram_find(fd)) != NULL && s->count > 0)
		return dgram_pop(s, msg);
	return dgram_sys_recvmsg(fd, msg, flags);
}

/* Sends out.slot[from, to) of one socket; refused datagrams are counted. */
static void
dgram_send_run(int fd, size_t from, size_t to)
{
	struct mmsghdr vec[DGRAM_BATCH];
	struct iovec iov[DGRAM_BATCH];
	struct dgram_slot *sl;
	size_t i, n = to - from, at = 0;
	int r;

	for (i = 0; i < n; i++) {
		sl = &out.slot[from + i];
		dgram_set_msg(&vec[i].msg_hdr, &iov[i], sl, sl->len);
		vec[i].msg_hdr.msg_namelen = sl->namelen;
		if (sl->ctllen > 0)
			vec[i].msg_hdr.msg_controllen = sl->ctllen;
		else {
			vec[i].msg_hdr.msg_control = NULL;
			vec[i].msg_hdr.msg_controllen = 0;
		}
		vec[i].msg_len = 0;
	}
	while (at < n) {
		r = sendmmsg(fd, vec + at, (unsigned)(n - at), 0);
		if (r == -1 && errno == EINTR)
			continue;
		stats.writes++;
		if (r <= 0) {
			/* The datagram at `at' was refused: drop it. */
			stats.write_errors++;
			at++;
			continue;
		}
		stats.write_dgrams += (unsigned)r;
		at += (size_t)r;
	}
}

/* Sends the queue, one sendmmsg per run of one socket; the hold stays. */
static void
dgram_send_queue(void)
{
	size_t i, from = 0;

	for (i = 1; i <= out.n; i++)
		if (i == out.n || out.fd[i] != out.fd[from]) {
			dgram_send_run(out.fd[from], from, i);
			from = i;
		}
	out.n = 0;
}

void
dgram_flush(void)
{
	dgram_send_queue();
	out.held = 0;
}

void
dgram_hold(void)
{
	out.held = 1;
}

/* Queues msg for fd; 0 when it does not fit a slot. */
static int
dgram_queue(int fd, const struct msghdr *msg, size_t *lenp)
{
	struct dgram_slot *sl;
	size_t len = 0, i;

	for (i = 0; i < (size_t)msg->msg_iovlen; i++)
		len += msg->msg_iov[i].iov_len;
	if (len > DGRAM_DATA || msg->msg_controllen > DGRAM_CTL ||
	    msg->msg_namelen > sizeof(sl->name))
		return 0;
	if (out.n == DGRAM_BATCH)
		dgram_send_queue();
	sl = &out.slot[out.n];
	len = 0;
	for (i = 0; i < (size_t)msg->msg_iovlen; i++) {
		memcpy(sl->data + len, msg->msg_iov[i].iov_base,
		    msg->msg_iov[i].iov_len);
		len += msg->msg_iov[i].iov_len;
	}
	sl->len = len;
	sl->namelen = msg->msg_namelen;
	if (msg->msg_name != NULL && msg->msg_namelen > 0)
		memcpy(&sl->name, msg->msg_name, msg->msg_namelen);
	sl->ctllen = msg->msg_control != NULL ? msg->msg_controllen : 0;
	if (sl->ctllen > 0)
		memcpy(sl->ctl, msg->msg_control, sl->ctllen);
	out.fd[out.n++] = fd;
	*lenp = len;
	return 1;
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	size_t len;

	if (flags == 0 && dgram_find(fd) != NULL && out.held) {
		if (dgram_queue(fd, msg, &len))
			return (ssize_t)len;
		/* Too big for a slot: keep the order on the wire. */
		dgram_send_queue();
	}
	return dgram_sys_sendmsg(fd, msg, flags);
}

void
dgram_stats(struct dgram_stats *st)
{
	*st = stats;
}
