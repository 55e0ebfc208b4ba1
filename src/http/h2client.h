/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * h2client.h: a small HTTP/2 client over TLS (libnghttp2 + src/tls).
 *
 * One object is one connection to one https origin.  It never blocks:
 * h2c_new starts a non-blocking connect, and the owner drives it by
 * calling h2c_io whenever the descriptor h2c_fd is ready for the events
 * h2c_events asks for, either from the daemon's event loop or, for a
 * blocking caller (otactl), through h2c_wait which polls for it.
 *
 * Requests may be submitted at once; they go out when the TLS handshake
 * is done and the server chose "h2" by ALPN.  Responses come back through
 * per-request callbacks.  A connection that fails makes h2c_io return -1:
 * its requests get no further callbacks, and the owner frees it.
 */
#ifndef OTAGW_H2CLIENT_H
#define OTAGW_H2CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct tls_client;
struct h2c;

/* An https URL split up; path includes the query ("/" when absent). */
#define H2C_HOST_MAX	256
#define H2C_PATH_MAX	1024
struct h2c_url {
	char	 host[H2C_HOST_MAX];	/* without brackets */
	unsigned port;
	char	 path[H2C_PATH_MAX];
	char	 authority[H2C_HOST_MAX + 8];	/* host[:port] as sent */
};
/* 0, or -1 when url is not an https URL this client can use. */
int	 h2c_url_parse(const char *url, struct h2c_url *out);

struct h2c_header {
	const char *name;	/* lower case */
	const char *value;
};

struct h2c_req_cb {
	/* The response's status and headers (called once per header). */
	void	(*on_header)(void *arg, const char *name, const char *value);
	/* Body bytes; a non-zero return cancels the stream. */
	int	(*on_data)(void *arg, const uint8_t *, size_t);
	/* The stream ended: status is the :status (0 if none came); err is
	 * 0 for a complete response (the server ended it), or non-zero
	 * (reset, refused, closed before the end of the response). */
	void	(*on_done)(void *arg, int status, int err);
	void	*arg;
};

/* Starts connecting to url's host and port; NULL (logged) on failure. */
struct h2c *h2c_new(struct tls_client *, const struct h2c_url *);
void	 h2c_free(struct h2c *);	/* NULL ok; closes the socket */

int	 h2c_fd(const struct h2c *);
/* EPOLLIN / EPOLLOUT (equal to POLLIN / POLLOUT) the connection waits for. */
uint32_t h2c_events(const struct h2c *);
/* Does what can be done now.  0, or -1 when the connection is dead. */
int	 h2c_io(struct h2c *);
/* 1 once TLS and the HTTP/2 preface are through. */
int	 h2c_ready(const struct h2c *);
/* Why the connection died, for logs. */
const char *h2c_error(const struct h2c *);

/*
 * Submits a request (body may be NULL).  The body is not copied: it must
 * stay valid until on_done or until the connection is freed.  Returns the
 * stream id, or -1.
 */
int32_t	 h2c_request(struct h2c *, const char *method, const char *path,
	    const struct h2c_header *, size_t nheaders, const void *body,
	    size_t len, const struct h2c_req_cb *);
/* Cancels a stream (no more callbacks for it). */
void	 h2c_cancel(struct h2c *, int32_t stream);

/*
 * Blocking use: waits up to timeout_ms for the descriptor and runs
 * h2c_io.  1 when something happened, 0 on timeout, -1 dead.
 */
int	 h2c_wait(struct h2c *, int timeout_ms);

#endif
