/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_tls.c: TLS connections (src/tls/tls.h), through their own
 * interface.
 *
 * A tls_server and a client talk over a non-blocking socketpair, in one
 * thread, each side's handshake called in turn until both are done.  The
 * client is either tls_client (what the relay and otactl use) or a plain
 * OpenSSL client made here, for what tls_client cannot do: present a
 * client certificate, offer no ALPN or a foreign protocol.  The
 * certificates are made by the openssl command line in a temporary
 * directory (certs.h).  Covered: ALPN h2 / http/1.1 / none, server and
 * host name verification (a wrong CA and a wrong name are refused, and
 * say why), client certificates (CN reported only when verified), reads,
 * writes and what is pending in the engine, buffered writes and flush
 * against a full socket (and the handshake's last records held for the
 * first answer), close_notify (none written to a peer whose TCP side has
 * closed), and hostile openings: every
 * truncated prefix of a real ClientHello, and bytes that are no TLS.
 * DTLS is test_dtls.c.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls/tls.h"
#include "certs.h"
#include "tmpdir.h"
#include "t.h"

static char dir[256];
static struct tls_server *srv_plain;	/* asks for no client certificate */
static struct tls_server *srv_verify;	/* verifies them against ca.pem */

/* TLS: a socketpair and what runs on each end ------------------------------ */

/* One end: a tls_conn, or a plain OpenSSL SSL made by the test. */
struct end {
	struct tls_conn	*tc;
	SSL		*raw;
	int		 hs;		/* last handshake result */
	int		 waits;		/* TLS_WANT_* seen */
};

struct pair {
	int		 fd[2];		/* [0] client, [1] server */
	struct end	 cli, srv;
	SSL_CTX		*raw_ctx;
};

static void
pair_open(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    p->fd) == -1) {
		perror("socketpair");
		exit(1);
	}
}

static void
pair_close(struct pair *p)
{
	tls_conn_free(p->cli.tc);
	tls_conn_free(p->srv.tc);
	SSL_free(p->cli.raw);
	SSL_free(p->srv.raw);
	SSL_CTX_free(p->raw_ctx);
	if (p->fd[0] != -1)
		close(p->fd[0]);
	if (p->fd[1] != -1)
		close(p->fd[1]);
	memset(p, 0, sizeof(*p));
}

/* Maps a plain SSL call's result as tls.c does. */
static int
raw_result(SSL *ssl, int rc)
{
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_CLOSED;
	default:
		ERR_clear_error();
		return TLS_ERROR;
	}
}

static int
end_handshake(struct end *e)
{
	int	 rc;

	if (e->tc != NULL)
		rc = tls_conn_handshake(e->tc);
	else {
		rc = SSL_do_handshake(e->raw);
		rc = rc == 1 ? 1 : raw_result(e->raw, rc);
	}
	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE)
		e->waits++;
	return rc;
}

static int
hs_final(int rc)
{
	return rc == 1 || rc == TLS_ERROR || rc == TLS_CLOSED;
}

/*
 * Both handshakes, in turn, until both are over (done or failed).
 * Returns 1 when both completed.
 */
static int
pair_handshake(struct pair *p)
{
	int	 i;

	p->cli.hs = p->srv.hs = TLS_WANT_READ;
	for (i = 0; i < 64; i++) {
		if (!hs_final(p->cli.hs))
			p->cli.hs = end_handshake(&p->cli);
		if (!hs_final(p->srv.hs))
			p->srv.hs = end_handshake(&p->srv);
		if (hs_final(p->cli.hs) && hs_final(p->srv.hs))
			break;
	}
	return p->cli.hs == 1 && p->srv.hs == 1;
}

/* tls_client to srv, verifying host. */
static int
pair_tls(struct pair *p, const char *ca, int h2, const char *host,
    struct tls_server *srv)
{
	struct tls_client *tc;
	int	 ok;

	pair_open(p);
	if ((tc = tls_client_new(ca, h2)) == NULL)
		return -1;
	p->cli.tc = tls_conn_connect(tc, p->fd[0], host);
	p->srv.tc = tls_conn_accept(srv, p->fd[1]);
	tls_client_free(tc);	/* the SSL keeps its context */
	if (p->cli.tc == NULL || p->srv.tc == NULL)
		return -1;
	ok = pair_handshake(p);
	return ok;
}

/*
 * A plain OpenSSL client: an optional certificate, the ALPN list given
 * in wire format (NULL: no ALPN extension), verifying the server by ca.
 */
static int
pair_raw_client(struct pair *p, const char *cert, const unsigned char *alpn,
    size_t alpnlen, struct tls_server *srv)
{
	SSL_CTX *ctx;

	pair_open(p);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	p->raw_ctx = ctx;
	if (SSL_CTX_load_verify_locations(ctx, certs_path(dir, "ca.pem"),
	    NULL) != 1)
		return -1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert != NULL) {
		char	 pem[64], key[64];

		snprintf(pem, sizeof(pem), "%s.pem", cert);
		snprintf(key, sizeof(key), "%s.key", cert);
		if (SSL_CTX_use_certificate_file(ctx, certs_path(dir, pem),
		    SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, certs_path(dir, key),
		    SSL_FILETYPE_PEM) != 1)
			return -1;
	}
	if (alpn != NULL && SSL_CTX_set_alpn_protos(ctx, alpn,
	    (unsigned)alpnlen) != 0)
		return -1;
	if ((p->cli.raw = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(p->cli.raw, p->fd[0]) != 1)
		return -1;
	SSL_set_connect_state(p->cli.raw);
	if ((p->srv.tc = tls_conn_accept(srv, p->fd[1])) == NULL)
		return -1;
	return pair_handshake(p);
}

/* A plain OpenSSL server without ALPN, facing tls_client. */
static int
pair_raw_server(struct pair *p, int h2)
{
	struct tls_client *tc;
	SSL_CTX *ctx;

	pair_open(p);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return -1;
	p->raw_ctx = ctx;
	if (SSL_CTX_use_certificate_file(ctx, certs_path(dir, "server.pem"),
	    SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, certs_path(dir, "server.key"),
	    SSL_FILETYPE_PEM) != 1)
		return -1;
	if ((p->srv.raw = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(p->srv.raw, p->fd[1]) != 1)
		return -1;
	SSL_set_accept_state(p->srv.raw);
	if ((tc = tls_client_new(certs_path(dir, "ca.pem"), h2)) == NULL)
		return -1;
	p->cli.tc = tls_conn_connect(tc, p->fd[0], "localhost");
	tls_client_free(tc);
	if (p->cli.tc == NULL)
		return -1;
	return pair_handshake(p);
}

/* Reads exactly len bytes from c, or fails after too many empty reads. */
static ssize_t
read_full(struct tls_conn *c, uint8_t *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;
	int	 idle = 0;

	while (got < len && idle < 4) {
		n = tls_conn_read(c, buf + got, len - got);
		if (n > 0) {
			got += (size_t)n;
			idle = 0;
		} else if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
			idle++;
		else
			return n;
	}
	return (ssize_t)got;
}

static void
pattern(uint8_t *buf, size_t len, unsigned seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + seed + i / 253);
}

/* Tests: contexts ---------------------------------------------------------- */

static void
test_contexts(void)
{
	static const struct {
		const char *what, *cert, *key, *ca;
		int	 ok;
	} servers[] = {
		{ "no CA", "server.pem", "server.key", NULL, 1 },
		{ "empty CA", "server.pem", "server.key", "", 1 },
		{ "device CA", "server.pem", "server.key", "ca.pem", 1 },
		{ "missing cert", "none.pem", "server.key", NULL, 0 },
		{ "missing key", "server.pem", "none.key", NULL, 0 },
		{ "key of another", "server.pem", "dev-1.key", NULL, 0 },
		{ "key as cert", "server.key", "server.key", NULL, 0 },
		{ "missing CA", "server.pem", "server.key", "none.pem", 0 },
		{ "key as CA", "server.pem", "server.key", "server.key", 0 },
	};
	struct tls_server *ts;
	struct tls_client *tc;
	size_t	 i;

	for (i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		char	 ca[512];

		if (servers[i].ca == NULL || servers[i].ca[0] == '\0')
			snprintf(ca, sizeof(ca), "%s", servers[i].ca ?
			    servers[i].ca : "");
		else
			snprintf(ca, sizeof(ca), "%s",
			    certs_path(dir, servers[i].ca));
		ts = tls_server_new(certs_path(dir, servers[i].cert),
		    certs_path(dir, servers[i].key),
		    servers[i].ca == NULL ? NULL : ca);
		if ((ts != NULL) != servers[i].ok)
			fprintf(stderr, "tls_server_new: %s\n",
			    servers[i].what);
		T_EQ_INT(ts != NULL, servers[i].ok);
		tls_server_free(ts);
	}
	tls_server_free(NULL);

	T_CHECK((tc = tls_client_new(certs_path(dir, "ca.pem"), 1)) != NULL);
	tls_client_free(tc);
	T_CHECK(tls_client_new(certs_path(dir, "none.pem"), 1) == NULL);
	T_CHECK(tls_client_new(certs_path(dir, "server.key"), 0) == NULL);
	/* the system's CA store */
	T_CHECK((tc = tls_client_new(NULL, 0)) != NULL);
	tls_client_free(tc);
	tls_client_free(NULL);
	tls_conn_free(NULL);
	tls_conn_shutdown(NULL);
}

/* Tests: handshakes and ALPN ----------------------------------------------- */

static void
test_alpn(void)
{
	static const unsigned char h2_h11[] = {
		2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1',
	};
	static const unsigned char h11_h2[] = {
		8, 'h', 't', 't', 'p', '/', '1', '.', '1', 2, 'h', '2',
	};
	static const unsigned char spdy[] = {
		6, 's', 'p', 'd', 'y', '/', '3',
	};
	static const struct {
		const char *what;
		int	 tls_client;	/* 1: tls_client; 0: plain */
		int	 h2;		/* tls_client's alpn_h2 */
		const unsigned char *alpn;	/* plain client's list */
		size_t	 alpnlen;
		int	 want;
	} cases[] = {
		{ "tls_client h2", 1, 1, NULL, 0, TLS_ALPN_H2 },
		{ "tls_client http/1.1", 1, 0, NULL, 0, TLS_ALPN_HTTP11 },
		{ "h2 first", 0, 0, h2_h11, sizeof(h2_h11), TLS_ALPN_H2 },
		{ "http/1.1 first: the server's order", 0, 0, h11_h2,
		  sizeof(h11_h2), TLS_ALPN_H2 },
		{ "no ALPN", 0, 0, NULL, 0, TLS_ALPN_NONE },
		{ "no overlap", 0, 0, spdy, sizeof(spdy), TLS_ALPN_NONE },
	};
	struct pair p;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int	 ok;

		if (cases[i].tls_client)
			ok = pair_tls(&p, certs_path(dir, "ca.pem"),
			    cases[i].h2, "localhost", srv_plain);
		else
			ok = pair_raw_client(&p, NULL, cases[i].alpn,
			    cases[i].alpnlen, srv_plain);
		if (ok != 1)
			fprintf(stderr, "handshake failed: %s\n",
			    cases[i].what);
		T_EQ_INT(ok, 1);
		/* non-blocking: each side waited for the other */
		T_CHECK(p.cli.waits > 0 && p.srv.waits > 0);
		T_EQ_INT(tls_conn_alpn(p.srv.tc), cases[i].want);
		if (cases[i].tls_client) {
			T_EQ_INT(tls_conn_alpn(p.cli.tc), cases[i].want);
			T_CHECK(tls_conn_verify_error(p.cli.tc) == NULL);
		}
		T_CHECK(tls_conn_peer_cn(p.srv.tc) == NULL);
		pair_close(&p);
	}

	/* a server that chooses nothing: tls_client sees no ALPN */
	T_EQ_INT(pair_raw_server(&p, 1), 1);
	T_EQ_INT(tls_conn_alpn(p.cli.tc), TLS_ALPN_NONE);
	pair_close(&p);
}

static void
test_server_verify(void)
{
	static const struct {
		const char *what, *ca, *host;
		int	 ok;
		const char *why;	/* in tls_conn_verify_error */
	} cases[] = {
		{ "name", "ca.pem", "localhost", 1, NULL },
		{ "address", "ca.pem", "127.0.0.1", 1, NULL },
		{ "no host check", "ca.pem", NULL, 1, NULL },
		{ "wrong CA", "other-ca.pem", "localhost", 0, "issuer" },
		{ "wrong name", "ca.pem", "example.org", 0, "hostname" },
		{ "wrong address", "ca.pem", "127.0.0.2", 0, "IP address" },
		{ "server cert as CA", "server.pem", "localhost", 0, "issuer" },
	};
	struct pair p;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why;
		int	 ok;

		ok = pair_tls(&p, certs_path(dir, cases[i].ca), 1,
		    cases[i].host, srv_plain);
		if (ok != cases[i].ok)
			fprintf(stderr, "server verify: %s\n", cases[i].what);
		T_EQ_INT(ok, cases[i].ok);
		why = tls_conn_verify_error(p.cli.tc);
		if (cases[i].why == NULL)
			T_CHECK(why == NULL);
		else {
			T_EQ_INT(p.cli.hs, TLS_ERROR);
			T_EQ_INT(p.srv.hs, TLS_ERROR);	/* the alert */
			T_CHECK(why != NULL && strstr(why, cases[i].why));
			if (why == NULL || !strstr(why, cases[i].why))
				fprintf(stderr, "%s: %s\n", cases[i].what,
				    why ? why : "(null)");
		}
		pair_close(&p);
	}
}

static void
test_client_cert(void)
{
	static const struct {
		const char *what;
		const char *cert;	/* NULL: none */
		int	 verify;	/* srv_verify, else srv_plain */
		int	 srv_ok;
		const char *cn;
	} cases[] = {
		{ "verified", "dev-1", 1, 1, "dev-1" },
		{ "none offered", NULL, 1, 1, NULL },
		{ "another CA", "rogue", 1, 0, NULL },
		{ "no CN", "nocn", 1, 1, NULL },
		{ "not asked for", "dev-1", 0, 1, NULL },
	};
	struct pair p;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pair_raw_client(&p, cases[i].cert, NULL, 0,
		    cases[i].verify ? srv_verify : srv_plain);
		if ((p.srv.hs == 1) != cases[i].srv_ok)
			fprintf(stderr, "client cert: %s\n", cases[i].what);
		T_EQ_INT(p.srv.hs == 1, cases[i].srv_ok);
		if (cases[i].srv_ok) {
			T_EQ_STR(tls_conn_peer_cn(p.srv.tc), cases[i].cn);
			/* asked again: the same answer */
			T_EQ_STR(tls_conn_peer_cn(p.srv.tc), cases[i].cn);
		} else
			T_EQ_INT(p.srv.hs, TLS_ERROR);
		pair_close(&p);
	}
}

/* Tests: data -------------------------------------------------------------- */

static void
test_read_write(void)
{
	uint8_t	 a[100], b[100], buf[256];
	struct pair p;
	ssize_t	 n;

	T_EQ_INT(pair_tls(&p, certs_path(dir, "ca.pem"), 1, "localhost",
	    srv_plain), 1);
	T_EQ_INT(tls_conn_write(p.cli.tc, "ping", 4), 4);
	T_EQ_INT(tls_conn_write(p.cli.tc, "", 0), 0);
	T_EQ_INT(read_full(p.srv.tc, buf, 4), 4);
	T_CHECK(memcmp(buf, "ping", 4) == 0);
	T_EQ_INT(tls_conn_read(p.srv.tc, buf, sizeof(buf)), TLS_WANT_READ);
	T_EQ_INT(tls_conn_pending(p.srv.tc), 0);
	T_EQ_INT(tls_conn_has_pending(p.srv.tc), 0);

	/* two records; the client takes 10 bytes, then the rest */
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	T_EQ_INT(tls_conn_write(p.srv.tc, a, sizeof(a)), sizeof(a));
	T_EQ_INT(tls_conn_write(p.srv.tc, b, sizeof(b)), sizeof(b));
	do
		n = tls_conn_read(p.cli.tc, buf, 10);
	while (n == TLS_WANT_READ);	/* session tickets come first */
	T_EQ_INT(n, 10);
	T_EQ_INT(tls_conn_pending(p.cli.tc), 90);
	T_EQ_INT(tls_conn_has_pending(p.cli.tc), 1);
	T_EQ_INT(tls_conn_read(p.cli.tc, buf + 10, sizeof(buf) - 10), 90);
	/* the second record is read ahead but not decrypted yet */
	T_EQ_INT(tls_conn_pending(p.cli.tc), 0);
	T_EQ_INT(tls_conn_has_pending(p.cli.tc), 1);
	T_EQ_INT(tls_conn_read(p.cli.tc, buf + 100, sizeof(buf) - 100), 100);
	T_CHECK(memcmp(buf, a, 100) == 0 && memcmp(buf + 100, b, 100) == 0);
	T_EQ_INT(tls_conn_has_pending(p.cli.tc), 0);
	T_EQ_INT(tls_conn_read(p.cli.tc, buf, sizeof(buf)), TLS_WANT_READ);
	pair_close(&p);
}

/* A megabyte through a full socket: partial writes, all in order. */
static void
test_bulk(void)
{
	enum { BULK = 1024 * 1024 };
	uint8_t	*src = malloc(BULK), *dst = malloc(BULK);
	size_t	 off = 0, got = 0;
	struct pair p;
	int	 blocked = 0, rounds;
	ssize_t	 n;

	T_EQ_INT(pair_tls(&p, certs_path(dir, "ca.pem"), 0, "localhost",
	    srv_plain), 1);
	pattern(src, BULK, 7);
	for (rounds = 0; got < BULK && rounds < 100000; rounds++) {
		/* write until the socket is full, then read what came */
		while (off < BULK) {
			n = tls_conn_write(p.srv.tc, src + off, BULK - off);
			if (n <= 0) {
				if (n == TLS_WANT_WRITE)
					blocked++;
				break;
			}
			off += (size_t)n;
		}
		while ((n = tls_conn_read(p.cli.tc, dst + got,
		    BULK - got)) > 0)
			got += (size_t)n;
		if (n != TLS_WANT_READ)
			break;
	}
	T_EQ_INT(got, BULK);
	T_CHECK(blocked > 0);
	T_CHECK(memcmp(src, dst, BULK) == 0);
	pair_close(&p);
	free(src);
	free(dst);
}

static void
test_buffered(void)
{
	enum { BIG = 2 * 1024 * 1024, RECORD = 16384 };
	uint8_t	*src = malloc(BIG), *dst = malloc(BIG), buf[64];
	size_t	 off = 0, got = 0, before;
	struct pair p;
	int	 full = 0, rounds, rc;
	ssize_t	 n;

	T_EQ_INT(pair_tls(&p, certs_path(dir, "ca.pem"), 1, "localhost",
	    srv_plain), 1);
	/* an unbuffered connection has nothing to flush */
	T_EQ_INT(tls_conn_unflushed(p.srv.tc), 0);
	T_EQ_INT(tls_conn_flush(p.srv.tc), 0);
	T_EQ_INT(tls_conn_buffer_writes(p.srv.tc, 3 * (RECORD + 64)), 0);

	/* records gather until the flush */
	T_EQ_INT(tls_conn_write(p.srv.tc, "one ", 4), 4);
	before = tls_conn_unflushed(p.srv.tc);
	T_CHECK(before > 4);
	T_EQ_INT(tls_conn_write(p.srv.tc, "two ", 4), 4);
	T_EQ_INT(tls_conn_write(p.srv.tc, "three", 5), 5);
	T_CHECK(tls_conn_unflushed(p.srv.tc) > 2 * before);
	do
		n = tls_conn_read(p.cli.tc, buf, sizeof(buf));
	while (n == TLS_WANT_READ && tls_conn_has_pending(p.cli.tc));
	T_EQ_INT(n, TLS_WANT_READ);	/* nothing reached the socket */
	T_EQ_INT(tls_conn_flush(p.srv.tc), 0);
	T_EQ_INT(tls_conn_unflushed(p.srv.tc), 0);
	T_EQ_INT(read_full(p.cli.tc, buf, 13), 13);
	T_CHECK(memcmp(buf, "one two three", 13) == 0);

	/* fill the socket: flush says so, then everything arrives */
	pattern(src, BIG, 3);
	for (rounds = 0; off < BIG && rounds < 10000 && !full; rounds++) {
		n = tls_conn_write(p.srv.tc, src + off, RECORD);
		if (n > 0)
			off += (size_t)n;
		else if (n == TLS_WANT_WRITE)
			full = 1;
		else
			break;
		if (!full && tls_conn_flush(p.srv.tc) == TLS_WANT_WRITE)
			full = 2;
	}
	T_CHECK(full != 0);
	T_CHECK(tls_conn_unflushed(p.srv.tc) > 0 || full == 1);
	for (rounds = 0; got < off && rounds < 100000; rounds++) {
		rc = tls_conn_flush(p.srv.tc);
		T_CHECK(rc == 0 || rc == TLS_WANT_WRITE);
		if (rc == TLS_ERROR)
			break;
		n = tls_conn_read(p.cli.tc, dst + got, BIG - got);
		if (n > 0)
			got += (size_t)n;
		else if (n != TLS_WANT_READ)
			break;
		if (got == off && off < BIG) {
			/* the socket drained: write the rest */
			n = tls_conn_write(p.srv.tc, src + off,
			    BIG - off < RECORD ? BIG - off : RECORD);
			if (n > 0)
				off += (size_t)n;
		}
	}
	T_EQ_INT(got, BIG);
	T_CHECK(memcmp(src, dst, BIG) == 0);
	T_EQ_INT(tls_conn_unflushed(p.srv.tc), 0);

	/* close_notify goes through the buffer too */
	tls_conn_shutdown(p.srv.tc);
	T_EQ_INT(tls_conn_unflushed(p.srv.tc), 0);
	do
		n = tls_conn_read(p.cli.tc, buf, sizeof(buf));
	while (n == TLS_WANT_READ && tls_conn_has_pending(p.cli.tc));
	T_EQ_INT(n, TLS_CLOSED);
	pair_close(&p);
	free(src);
	free(dst);
}

static void
test_close(void)
{
	uint8_t	 buf[16];
	struct pair p;

	/* close_notify from the client: the server reads an orderly end */
	T_EQ_INT(pair_tls(&p, certs_path(dir, "ca.pem"), 1, "localhost",
	    srv_plain), 1);
	T_EQ_INT(tls_conn_write(p.cli.tc, "bye", 3), 3);
	tls_conn_shutdown(p.cli.tc);
	T_EQ_INT(read_full(p.srv.tc, buf, 3), 3);
	T_EQ_INT(tls_conn_read(p.srv.tc, buf, sizeof(buf)), TLS_CLOSED);
	/* and from the server */
	tls_conn_shutdown(p.srv.tc);
	T_EQ_INT(read_full(p.cli.tc, buf, sizeof(buf)), TLS_CLOSED);
	pair_close(&p);

	/*
	 * The peer vanishes without close_notify: an end all the same,
	 * never data or a wait.  (OpenSSL 3 calls it an unexpected EOF.)
	 */
	T_EQ_INT(pair_tls(&p, certs_path(dir, "ca.pem"), 1, "localhost",
	    srv_plain), 1);
	close(p.fd[0]);
	p.fd[0] = -1;
	{
		ssize_t	 n = read_full(p.srv.tc, buf, sizeof(buf));

		T_CHECK(n == TLS_CLOSED || n == TLS_ERROR);
	}
	pair_close(&p);

	/*
	 * A server-side peer that closed its TCP side without close_notify
	 * (esp_http_client) is an orderly end, and the server writes no
	 * close_notify it could not read.
	 */
	T_EQ_INT(pair_tls(&p, certs_path(dir, "ca.pem"), 1, "localhost",
	    srv_plain), 1);
	/* what the handshake left (a TLS 1.3 ticket) is not the point */
	while (recv(p.fd[0], buf, sizeof(buf), 0) > 0)
		continue;
	T_EQ_INT(shutdown(p.fd[0], SHUT_WR), 0);
	T_EQ_INT(read_full(p.srv.tc, buf, sizeof(buf)), TLS_CLOSED);
	tls_conn_shutdown(p.srv.tc);
	errno = 0;
	T_EQ_INT(recv(p.fd[0], buf, sizeof(buf), 0), -1);
	T_EQ_INT(errno, EAGAIN);
	pair_close(&p);
}

/*
 * Buffered writes set before the handshake: each flight leaves when the
 * server waits for its peer, and the TLS 1.3 session ticket that ends the
 * handshake waits for the first answer, to leave with it.
 */
static void
test_held_flush(void)
{
	struct tls_client *tc;
	uint8_t	 buf[16];
	struct pair p;

	pair_open(&p);
	T_CHECK((tc = tls_client_new(certs_path(dir, "ca.pem"), 1)) != NULL);
	p.cli.tc = tls_conn_connect(tc, p.fd[0], "localhost");
	tls_client_free(tc);
	p.srv.tc = tls_conn_accept(srv_plain, p.fd[1]);
	T_CHECK(p.cli.tc != NULL && p.srv.tc != NULL);
	T_EQ_INT(tls_conn_buffer_writes(p.srv.tc, 3 * (16384 + 64)), 0);
	T_EQ_INT(pair_handshake(&p), 1);
	T_CHECK(tls_conn_unflushed(p.srv.tc) > 0);
	T_EQ_INT(tls_conn_write(p.srv.tc, "hello", 5), 5);
	T_EQ_INT(tls_conn_flush(p.srv.tc), 0);
	T_EQ_INT(tls_conn_unflushed(p.srv.tc), 0);
	T_EQ_INT(read_full(p.cli.tc, buf, 5), 5);
	T_CHECK(memcmp(buf, "hello", 5) == 0);
	pair_close(&p);
}

/* Tests: hostile openings -------------------------------------------------- */

/* Feeds raw bytes to a fresh server connection; its handshake result. */
static int
server_fed(const uint8_t *data, size_t len, int eof, int *before_eof)
{
	struct pair p;
	int	 rc;

	pair_open(&p);
	p.srv.tc = tls_conn_accept(srv_verify, p.fd[1]);
	if (len > 0 && write(p.fd[0], data, len) != (ssize_t)len) {
		pair_close(&p);
		return -99;
	}
	rc = tls_conn_handshake(p.srv.tc);
	if (before_eof != NULL)
		*before_eof = rc;
	if (eof && rc != TLS_ERROR) {
		shutdown(p.fd[0], SHUT_WR);
		rc = tls_conn_handshake(p.srv.tc);
	}
	pair_close(&p);
	return rc;
}

static void
test_truncated_hello(void)
{
	struct tls_client *tc;
	struct pair p;
	uint8_t	 hello[4096];
	ssize_t	 len;
	size_t	 i, waited = 0, failed = 0;
	int	 rc, first;

	/* a real ClientHello, as tls_client sends it */
	pair_open(&p);
	tc = tls_client_new(certs_path(dir, "ca.pem"), 1);
	p.cli.tc = tls_conn_connect(tc, p.fd[0], "localhost");
	tls_client_free(tc);
	T_EQ_INT(tls_conn_handshake(p.cli.tc), TLS_WANT_READ);
	len = read(p.fd[1], hello, sizeof(hello));
	pair_close(&p);
	T_CHECK(len > 100 && hello[0] == 22);
	if (len <= 0)
		return;

	/* every prefix waits for more, and fails at the end of input */
	for (i = 0; i < (size_t)len; i++) {
		rc = server_fed(hello, i, 1, &first);
		if (first == TLS_WANT_READ)
			waited++;
		else
			fprintf(stderr, "prefix %zu: %d\n", i, first);
		if (rc == TLS_ERROR)
			failed++;
	}
	T_EQ_INT(waited, (size_t)len);
	T_EQ_INT(failed, (size_t)len);
	/* the whole of it gets an answer, and waits for the client */
	T_EQ_INT(server_fed(hello, (size_t)len, 0, NULL), TLS_WANT_READ);
}

static void
test_not_tls(void)
{
	static const uint8_t sslv2[] = {
		0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00,
		0x10, 0x07, 0x00, 0xc0, 0x05, 0x00, 0x80, 0x03, 0x00, 0x80,
		0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02,
		0x00, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	};
	static const uint8_t huge[] = { 22, 3, 1, 0xff, 0xff, 1, 0, 0xff };
	static const uint8_t alert[] = { 21, 3, 3, 0, 2, 2, 40 };
	static const uint8_t appdata[] = { 23, 3, 3, 0, 3, 'a', 'b', 'c' };
	static const uint8_t empty_hs[] = { 22, 3, 1, 0, 0 };
	static const uint8_t short_hs[] = {
		22, 3, 1, 0, 4, 1, 0, 0, 0,	/* ClientHello of length 0 */
	};
	static const struct {
		const char *what;
		const uint8_t *d;
		size_t	 len;
	} cases[] = {
#define BYTES(x) (const uint8_t *)(x), sizeof(x) - 1
		{ "HTTP/1.1", BYTES("GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
		{ "HTTP/2 preface", BYTES("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") },
#undef BYTES
		{ "SSLv2 hello", sslv2, sizeof(sslv2) },
		{ "record over 2^14", huge, sizeof(huge) },
		{ "alert first", alert, sizeof(alert) },
		{ "data first", appdata, sizeof(appdata) },
		{ "empty handshake record", empty_hs, sizeof(empty_hs) },
		{ "empty ClientHello", short_hs, sizeof(short_hs) },
	};
	struct pair p;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = server_fed(cases[i].d, cases[i].len, 1, NULL);
		if (rc != TLS_ERROR)
			fprintf(stderr, "not TLS: %s: %d\n", cases[i].what, rc);
		T_EQ_INT(rc, TLS_ERROR);
	}

	/* a client facing a server that is not TLS: no verify error */
	pair_open(&p);
	{
		struct tls_client *tc = tls_client_new(certs_path(dir,
		    "ca.pem"), 1);

		p.cli.tc = tls_conn_connect(tc, p.fd[0], "localhost");
		tls_client_free(tc);
	}
	T_EQ_INT(tls_conn_handshake(p.cli.tc), TLS_WANT_READ);
	T_CHECK(write(p.fd[1], "HTTP/1.1 400 Bad Request\r\n\r\n", 28) == 28);
	T_EQ_INT(tls_conn_handshake(p.cli.tc), TLS_ERROR);
	T_CHECK(tls_conn_verify_error(p.cli.tc) == NULL);
	pair_close(&p);
}

int
main(void)
{
	log_init("test_tls", 1, LOG_LEVEL_WARN);
	t_tmpdir_make(dir, sizeof(dir), "tls");
	if (certs_make(dir) == -1) {
		t_tmpdir_remove(dir);
		return 1;
	}
	srv_plain = tls_server_new(certs_path(dir, "server.pem"),
	    certs_path(dir, "server.key"), NULL);
	srv_verify = tls_server_new(certs_path(dir, "server.pem"),
	    certs_path(dir, "server.key"), certs_path(dir, "ca.pem"));
	if (srv_plain == NULL || srv_verify == NULL) {
		fprintf(stderr, "cannot make the TLS servers\n");
		t_tmpdir_remove(dir);
		return 1;
	}

	T_RUN(test_contexts);
	T_RUN(test_alpn);
	T_RUN(test_server_verify);
	T_RUN(test_client_cert);
	T_RUN(test_read_write);
	T_RUN(test_bulk);
	T_RUN(test_buffered);
	T_RUN(test_close);
	T_RUN(test_held_flush);
	T_RUN(test_truncated_hello);
	T_RUN(test_not_tls);

	tls_server_free(srv_plain);
	tls_server_free(srv_verify);
	t_tmpdir_remove(dir);
	return t_done();
}
