/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls.c: OpenSSL 3 contexts and non-blocking connections for otagw.
 *
 * The HTTPS listeners (device and admin) share the server side: TLS 1.2
 * and 1.3 only, ALPN "h2" preferred over "http/1.1", and optional
 * client-certificate verification against a device CA.  A device without
 * a certificate is still let in (it may carry a bearer secret); the CN is
 * reported only for a certificate that verified.  The client side (relay,
 * firmware fetch, otactl --url) verifies the peer against a CA bundle and
 * the host name, sends SNI and offers one ALPN protocol.
 *
 * Sockets belong to the caller; this module only wraps SSL objects around
 * them and translates SSL_ERROR_WANT_* into TLS_WANT_* so the caller's
 * event loop knows what to wait for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls/tls.h"

struct tls_server {
	SSL_CTX	*ctx;
	int	 verify_clients;
};

struct tls_client {
	SSL_CTX	*ctx;
};

struct tls_conn {
	SSL	*ssl;
	int	 verify_clients;
	int	 cn_done;
	int	 buffered;	/* tls_conn_buffer_writes */
	char	 cn[65];
};

/* "h2" then "http/1.1", in ALPN wire format. */
static const unsigned char alpn_server[] = {
	2, 'h', '2',
	8, 'h', 't', 't', 'p', '/', '1', '.', '1',
};
static const unsigned char alpn_h2[] = { 2, 'h', '2' };
static const unsigned char alpn_h11[] = {
	8, 'h', 't', 't', 'p', '/', '1', '.', '1',
};

/* Logs the OpenSSL error queue under one heading, then clears it. */
static void
tls_log_errors(const char *what)
{
	unsigned long e;
	char	 buf[256];
	int	 n = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
		n++;
	}
	if (n == 0)
		log_warnx("%s: failed", what);
}

/*
 * Server-side ALPN choice: the first of our protocols the client offers,
 * h2 first.  No overlap is not fatal: the connection goes on as HTTP/1.1.
 */
static int
tls_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, alpn_server,
	    sizeof(alpn_server), in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Accept connections without a certificate; refuse bad certificates. */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	return ok;
}

static SSL_CTX *
tls_ctx_common(const SSL_METHOD *method)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* one read(2) per burst of records instead of two per record */
	SSL_CTX_set_read_ahead(ctx, 1);
	return ctx;
}

struct tls_server *
tls_server_new(const char *cert, const char *key, const char *client_ca)
{
	struct tls_server *ts;

	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		log_warn("tls: server");
		return NULL;
	}
	if ((ts->ctx = tls_ctx_common(TLS_server_method())) == NULL) {
		tls_log_errors("tls: server context");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ts->ctx, cert) != 1) {
		tls_log_errors("tls: certificate");
		log_warnx("tls: cannot use certificate file %s", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ts->ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_log_errors("tls: key");
		log_warnx("tls: cannot use key file %s", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ts->ctx) != 1) {
		log_warnx("tls: key %s does not match certificate %s", key,
		    cert);
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ts->ctx, tls_alpn_select_cb, NULL);
	SSL_CTX_set_session_cache_mode(ts->ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ts->ctx, (const unsigned char *)"otagw",
	    5);
	if (client_ca != NULL && client_ca[0] != '\0') {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ts->ctx, client_ca,
		    NULL) != 1) {
			tls_log_errors("tls: device CA");
			log_warnx("tls: cannot load device CA %s", client_ca);
			goto fail;
		}
		if ((names = SSL_load_client_CA_file(client_ca)) != NULL)
			SSL_CTX_set_client_CA_list(ts->ctx, names);
		SSL_CTX_set_verify(ts->ctx, SSL_VERIFY_PEER, tls_verify_cb);
		SSL_CTX_set_verify_depth(ts->ctx, 4);
		ts->verify_clients = 1;
	}
	return ts;
fail:
	tls_server_free(ts);
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx);
	free(ts);
}

struct tls_client *
tls_client_new(const char *ca, int alpn)
{
	struct tls_client *tc;

	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		log_warn("tls: client");
		return NULL;
	}
	if ((tc->ctx = tls_ctx_common(TLS_client_method())) == NULL) {
		tls_log_errors("tls: client context");
		goto fail;
	}
	if (ca != NULL && ca[0] != '\0') {
		if (SSL_CTX_load_verify_locations(tc->ctx, ca, NULL) != 1) {
			tls_log_errors("tls: CA");
			log_warnx("tls: cannot load CA file %s", ca);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(tc->ctx) != 1) {
		tls_log_errors("tls: system CA store");
		goto fail;
	}
	SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_PEER, NULL);
	if (alpn)
		SSL_CTX_set_alpn_protos(tc->ctx, alpn_h2, sizeof(alpn_h2));
	else
		SSL_CTX_set_alpn_protos(tc->ctx, alpn_h11, sizeof(alpn_h11));
	return tc;
fail:
	tls_client_free(tc);
	return NULL;
}

void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

static struct tls_conn *
tls_conn_new(SSL_CTX *ctx, int fd)
{
	struct tls_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		tls_log_errors("tls: connection");
		tls_conn_free(c);
		return NULL;
	}
	return c;
}

struct tls_conn *
tls_conn_accept(struct tls_server *ts, int fd)
{
	struct tls_conn *c;

	if ((c = tls_conn_new(ts->ctx, fd)) == NULL)
		return NULL;
	c->verify_clients = ts->verify_clients;
	SSL_set_accept_state(c->ssl);
	return c;
}

struct tls_conn *
tls_conn_connect(struct tls_client *tc, int fd, const char *host)
{
	struct tls_conn *c;

	if ((c = tls_conn_new(tc->ctx, fd)) == NULL)
		return NULL;
	/* SNI only for names; the host check works for names and IPs */
	if (host != NULL && host[0] != '\0') {
		unsigned char addr[16];

		/* SNI carries names only, never addresses (RFC 6066) */
		if (inet_pton(AF_INET, host, addr) != 1 &&
		    inet_pton(AF_INET6, host, addr) != 1)
			SSL_set_tlsext_host_name(c->ssl, host);
		if (SSL_set1_host(c->ssl, host) != 1) {
			tls_log_errors("tls: host name");
			tls_conn_free(c);
			return NULL;
		}
	}
	SSL_set_connect_state(c->ssl);
	return c;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c);
}

/* Maps the result of an SSL call to TLS_WANT_* or TLS_ERROR. */
static int
tls_result(struct tls_conn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			/* EOF without close_notify, or a socket error */
			ERR_clear_error();
			return errno == 0 ? TLS_CLOSED : TLS_ERROR;
		}
		/* FALLTHROUGH */
	default:
		if (log_get_level() >= LOG_LEVEL_DEBUG) {
			unsigned long e;
			char buf[256];

			while ((e = ERR_get_error()) != 0) {
				ERR_error_string_n(e, buf, sizeof(buf));
				log_debug("tls: %s", buf);
			}
		}
		ERR_clear_error();
		return TLS_ERROR;
	}
}

int
tls_conn_handshake(struct tls_conn *c)
{
	int	 rc;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_do_handshake(c->ssl)) == 1)
		return 1;
	rc = tls_result(c, rc);
	return rc == TLS_CLOSED ? TLS_ERROR : rc;
}

ssize_t
tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
	size_t	 n = 0;
	int	 rc;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_read_ex(c->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return tls_result(c, rc);
}

ssize_t
tls_conn_write(struct tls_conn *c, const void *buf, size_t len)
{
	size_t	 n = 0;
	int	 rc;

	if (len == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_write_ex(c->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	rc = tls_result(c, rc);
	return rc == TLS_CLOSED ? TLS_ERROR : rc;
}

void
tls_conn_shutdown(struct tls_conn *c)
{
	if (c == NULL)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	(void)tls_conn_flush(c);
	ERR_clear_error();
}

int
tls_conn_alpn(const struct tls_conn *c)
{
	const unsigned char *p = NULL;
	unsigned int len = 0;

	SSL_get0_alpn_selected(c->ssl, &p, &len);
	if (len == 2 && memcmp(p, "h2", 2) == 0)
		return TLS_ALPN_H2;
	if (len == 8 && memcmp(p, "http/1.1", 8) == 0)
		return TLS_ALPN_HTTP11;
	return TLS_ALPN_NONE;
}

const char *
tls_conn_verify_error(const struct tls_conn *c)
{
	long	 v = SSL_get_verify_result(c->ssl);

	return v == X509_V_OK ? NULL : X509_verify_cert_error_string(v);
}

const char *
tls_conn_peer_cn(const struct tls_conn *cc)
{
	struct tls_conn *c = (struct tls_conn *)cc;
	X509	*x;
	int	 n;

	if (c->cn_done)
		return c->cn[0] != '\0' ? c->cn : NULL;
	c->cn_done = 1;
	c->cn[0] = '\0';
	if (!c->verify_clients)
		return NULL;
	if ((x = SSL_get0_peer_certificate(c->ssl)) == NULL)
		return NULL;
	if (SSL_get_verify_result(c->ssl) != X509_V_OK)
		return NULL;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, c->cn, sizeof(c->cn));
	/* a CN that is empty, too long or has an embedded NUL is no identity */
	if (n <= 0 || (size_t)n >= sizeof(c->cn) || strlen(c->cn) != (size_t)n)
		c->cn[0] = '\0';
	return c->cn[0] != '\0' ? c->cn : NULL;
}

int
tls_conn_has_pending(const struct tls_conn *c)
{
	return SSL_has_pending(c->ssl);
}

int
tls_conn_buffer_writes(struct tls_conn *c, size_t size)
{
	BIO	*sock, *buf;

	if ((sock = SSL_get_wbio(c->ssl)) == NULL ||
	    (buf = BIO_new(BIO_f_buffer())) == NULL)
		return -1;
	if (BIO_set_write_buffer_size(buf, (long)size) != 1 ||
	    BIO_up_ref(sock) != 1) {
		BIO_free(buf);
		return -1;
	}
	/* rbio keeps the socket BIO; the write side goes through buf */
	BIO_push(buf, sock);
	SSL_set0_wbio(c->ssl, buf);
	c->buffered = 1;
	return 0;
}

int
tls_conn_flush(struct tls_conn *c)
{
	BIO	*b = SSL_get_wbio(c->ssl);

	if (!c->buffered || b == NULL || BIO_wpending(b) == 0)
		return 0;
	errno = 0;
	if (BIO_flush(b) == 1)
		return 0;
	if (BIO_should_retry(b))
		return TLS_WANT_WRITE;
	return TLS_ERROR;
}

size_t
tls_conn_unflushed(const struct tls_conn *c)
{
	BIO	*b;
	long	 n;

	if (!c->buffered || (b = SSL_get_wbio(c->ssl)) == NULL)
		return 0;
	n = BIO_wpending(b);
	return n > 0 ? (size_t)n : 0;
}

size_t
tls_conn_pending(const struct tls_conn *c)
{
	int	 n = SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}
