/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls.h: OpenSSL 3 for the HTTPS listeners and the upstream client.
 *
 * The only module (besides src/crypto) that includes OpenSSL headers.
 * Server side: a context from a certificate and key (TLS 1.2 and 1.3
 * only, ALPN "h2" and "http/1.1"), optionally verifying client
 * certificates against a device CA.  Client side: a context that verifies
 * the peer against a CA file and host name, offering ALPN "h2".
 * Connections are non-blocking; the caller owns the socket and the event
 * loop, and asks this module what the TLS engine wants (read or write).
 *
 * Resumption (server side): a session-id cache and session tickets.  A
 * client that closes TCP without close_notify keeps its session.  Ticket
 * keys are random, in memory only, and rotate: a current key issues
 * tickets, the previous one still opens them (and gets the client a new
 * ticket), so a ticket opens for at least one rotation interval and at
 * most two.
 */
#ifndef OTAGW_TLS_H
#define OTAGW_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_server;
struct tls_client;
struct tls_conn;

enum tls_alpn {
	TLS_ALPN_NONE = 0,	/* no ALPN: treat as HTTP/1.1 */
	TLS_ALPN_HTTP11,
	TLS_ALPN_H2,
};

/* Return values of the I/O calls besides a byte count. */
#define TLS_WANT_READ	(-2)
#define TLS_WANT_WRITE	(-3)
#define TLS_ERROR	(-1)
#define TLS_CLOSED	0	/* orderly close (reads) */

/* cert/key PEM files; ca: device CA for client certificates or NULL/"". */
struct tls_server *tls_server_new(const char *cert, const char *key,
	    const char *client_ca);
void	 tls_server_free(struct tls_server *);
/*
 * SIGHUP replaced it: drops its OpenSSL context, which lives on (with its
 * session cache) only as long as connections opened on it.  Those may
 * still call back into the server (session tickets), so the struct itself
 * stays until tls_server_free, once no connection is left.  A retired
 * server accepts nothing.
 */
void	 tls_server_retire(struct tls_server *);

/* Defaults of tls_server_set_resumption (what otagw.conf says too). */
#define TLS_SESSION_CACHE_DEFAULT	50000	/* sessions */
#define TLS_SESSION_TIMEOUT_DEFAULT	7200	/* seconds */
#define TLS_TICKET_ROTATE_DEFAULT	7200	/* seconds */

/*
 * cache: most sessions in the session-id cache (0: no cache);
 * timeout_s: how long a session resumes (cache and tickets);
 * rotate_s: age of the ticket key that issues tickets when a new one
 * takes over (at least 1).  0 or -1.
 */
int	 tls_server_set_resumption(struct tls_server *, size_t cache,
	    unsigned timeout_s, unsigned rotate_s);
/*
 * A new context for the same listener (SIGHUP) takes over the ticket
 * keys of the old one, so tickets issued before a reload still resume.
 */
void	 tls_server_take_ticket_keys(struct tls_server *to,
	    const struct tls_server *from);

/* ca: PEM bundle ("" or NULL: the system's); alpn_h2: offer "h2" only. */
struct tls_client *tls_client_new(const char *ca, int alpn_h2);
void	 tls_client_free(struct tls_client *);

struct tls_conn *tls_conn_accept(struct tls_server *, int fd);
struct tls_conn *tls_conn_connect(struct tls_client *, int fd,
	    const char *host);
void	 tls_conn_free(struct tls_conn *);	/* does not close fd */

/* 1 done, TLS_WANT_READ / TLS_WANT_WRITE, or TLS_ERROR. */
int	 tls_conn_handshake(struct tls_conn *);
ssize_t	 tls_conn_read(struct tls_conn *, void *, size_t);
ssize_t	 tls_conn_write(struct tls_conn *, const void *, size_t);
/* Sends close_notify, best effort. */
void	 tls_conn_shutdown(struct tls_conn *);
int	 tls_conn_alpn(const struct tls_conn *);	/* enum tls_alpn */
/*
 * Client side, after a failed handshake: why the server's certificate was
 * refused, or NULL when verification did not fail (the peer closed, or
 * the handshake failed for another reason).
 */
const char *tls_conn_verify_error(const struct tls_conn *);
/* The verified client certificate's subject CN, or NULL. */
const char *tls_conn_peer_cn(const struct tls_conn *);
/* Bytes decrypted and buffered inside the TLS engine, not yet read. */
size_t	 tls_conn_pending(const struct tls_conn *);
/* Anything buffered inside the engine (decrypted or read ahead)? 0 or 1. */
int	 tls_conn_has_pending(const struct tls_conn *);

/*
 * Write coalescing: after tls_conn_buffer_writes, records from
 * tls_conn_write gather in a buffer of size bytes (allocated when the
 * first record comes) and reach the socket when it fills or on
 * tls_conn_flush, so several records leave in one
 * system call.  The caller flushes at the end of each turn.  0 or -1.
 */
int	 tls_conn_buffer_writes(struct tls_conn *, size_t size);
/* 0 all sent, TLS_WANT_WRITE (socket full: flush again), or TLS_ERROR. */
int	 tls_conn_flush(struct tls_conn *);
/* Bytes written but not yet flushed to the socket. */
size_t	 tls_conn_unflushed(const struct tls_conn *);
/*
 * Gives back the write buffer of an idle connection (nothing unflushed);
 * the next write allocates it again.  1 when there was one, else 0.
 * OpenSSL's own buffers go back by themselves (SSL_MODE_RELEASE_BUFFERS).
 */
int	 tls_conn_trim(struct tls_conn *);

#endif
