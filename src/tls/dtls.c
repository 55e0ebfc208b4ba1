/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dtls.c: DTLS 1.2 server connections with pre-shared keys (see dtls.h).
 *
 * OpenSSL never touches a socket here.  Every SSL object reads and writes
 * through a small BIO of our own ("otagw-dgram"): a read returns the one
 * datagram the caller is feeding (then "retry"), a write hands one
 * datagram to the connection's send callback.  Datagram boundaries are
 * kept, which DTLS needs, and the caller decides where and when datagrams
 * actually leave (it batches them).
 *
 * New peers meet a shared listener SSL object: DTLSv1_listen() answers a
 * ClientHello without a valid cookie with a HelloVerifyRequest and keeps
 * nothing.  When a ClientHello carries a valid cookie, the listener object
 * becomes that peer's connection (OpenSSL has buffered the ClientHello in
 * it), a fresh listener takes its place, and SSL_accept() sends the
 * server's first flight.  This is the pattern OpenSSL's DTLS examples and
 * libcoap use; what differs is that the caller decides, before any state
 * exists, whether a peer may open another handshake at all.
 *
 * Cookies are the first 16 bytes of HMAC-SHA256 over the peer's address
 * family, port and address, keyed with a random secret that is replaced
 * every DTLS_COOKIE_ROTATE_S seconds; the previous secret is still
 * accepted, so a cookie stays good for at least one period.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls/dtls.h"
#include "tls/dtlsrec.h"

#define DTLS_COOKIE_LEN		16
#define DTLS_COOKIE_ROTATE_S	300
/* Longest PSK identity kept (OpenSSL allows 128 bytes). */
#define DTLS_IDENTITY_MAX	128
/* Application data in one record, at most. */
#define DTLS_RECORD_MAX		16384

/* What a BIO reads from and writes to. */
struct dtls_io {
	const uint8_t	*in;		/* the datagram being fed, or NULL */
	size_t		 inlen;
	dtls_send_cb	 send;
	void		*arg;
	unsigned	 sent;		/* datagrams written so far */
	/* While a handshake step runs: where its flight is kept. */
	struct dtls_server *capture;
};

struct dtls_server {
	SSL_CTX		*ctx;
	BIO_METHOD	*meth;
	SSL		*listener;
	struct dtls_io	 lio;		/* the listener's BIO data */
	BIO_ADDR	*client;
	dtls_psk_cb	 psk;
	void		*psk_arg;
	/* Cookie secrets: [cur] signs, both verify. */
	uint8_t		 secret[2][32];
	int		 cur;
	/* HMAC-SHA256 keyed with each secret, made once per secret. */
	EVP_MAC		*hmac;
	EVP_MAC_CTX	*mac[2];
	int		 keyed[2];
	time_t		 rotated;
	/* The peer DTLSv1_listen is looking at (for the cookie callbacks). */
	const struct sockaddr *peer;
	socklen_t	 peerlen;
	/* The flight a handshake step wrote (2-byte length, datagram). */
	uint8_t		 cap[DTLS_REC_FLIGHT_MAX];
	size_t		 caplen;
	int		 capover;	/* did not fit */
};

struct dtls_conn {
	struct dtls_server *srv;
	SSL		*ssl;		/* NULL once rec took over */
	struct dtls_rec	*rec;		/* established, AEAD: dtlsrec.h */
	struct dtls_io	 io;
	int		 established;
	char		 identity[DTLS_IDENTITY_MAX + 1];
};

/* The BIO --------------------------------------------------------------- */

/* Keeps a datagram of the flight being written (see struct dtls_server). */
static void
dtls_capture(struct dtls_server *srv, const uint8_t *data, size_t len)
{
	/* caplen <= sizeof(cap) always; caplen + 2 may not be */
	if (len + 2 > sizeof(srv->cap) - srv->caplen) {
		srv->capover = 1;
		return;
	}
	srv->cap[srv->caplen] = (uint8_t)(len >> 8);
	srv->cap[srv->caplen + 1] = (uint8_t)len;
	memcpy(srv->cap + srv->caplen + 2, data, len);
	srv->caplen += 2 + len;
}

static int
dtls_bio_write(BIO *b, const char *data, int len)
{
	struct dtls_io *io = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (io == NULL || len < 0)
		return -1;
	if (io->send != NULL && len > 0)
		io->send(io->arg, (const uint8_t *)data, (size_t)len);
	if (io->capture != NULL && len > 0)
		dtls_capture(io->capture, (const uint8_t *)data, (size_t)len);
	io->sent++;
	return len;
}

static int
dtls_bio_read(BIO *b, char *buf, int size)
{
	struct dtls_io *io = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (io == NULL || io->in == NULL) {
		BIO_set_retry_read(b);
		return -1;
	}
	n = io->inlen;
	if (size >= 0 && n > (size_t)size)
		n = (size_t)size;	/* truncated, as a socket would */
	memcpy(buf, io->in, n);
	io->in = NULL;
	io->inlen = 0;
	return (int)n;
}

static int
dtls_bio_puts(BIO *b, const char *s)
{
	return dtls_bio_write(b, s, (int)strlen(s));
}

static long
dtls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DGRAM_SET_CONNECTED:
	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return DTLS_MTU;
	case BIO_CTRL_DGRAM_SET_MTU:
		return num;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return 48;	/* IPv6 and UDP headers */
	default:
		return 0;
	}
}

static int
dtls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	BIO_set_data(b, NULL);
	return 1;
}

static int
dtls_bio_destroy(BIO *b)
{
	if (b != NULL)
		BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *
dtls_bio_method(void)
{
	BIO_METHOD *m;

	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "otagw-dgram");
	if (m == NULL)
		return NULL;
	BIO_meth_set_write(m, dtls_bio_write);
	BIO_meth_set_read(m, dtls_bio_read);
	BIO_meth_set_puts(m, dtls_bio_puts);
	BIO_meth_set_ctrl(m, dtls_bio_ctrl);
	BIO_meth_set_create(m, dtls_bio_create);
	BIO_meth_set_destroy(m, dtls_bio_destroy);
	return m;
}

/* Cookies ----------------------------------------------------------------- */

static void
dtls_rotate(struct dtls_server *srv)
{
	time_t now = time(NULL);

	if (srv->rotated != 0 && now - srv->rotated < DTLS_COOKIE_ROTATE_S &&
	    now >= srv->rotated)
		return;
	if (srv->rotated != 0)
		srv->cur ^= 1;
	if (RAND_bytes(srv->secret[srv->cur], sizeof(srv->secret[0])) != 1)
		log_warnx("dtls: cannot draw a cookie secret");
	srv->keyed[srv->cur] = 0;
	srv->rotated = now;
}

/* The peer's family, port and address, as the cookie covers them. */
static size_t
dtls_peer_bytes(const struct dtls_server *srv, uint8_t *buf)
{
	const struct sockaddr *sa = srv->peer;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET &&
	    srv->peerlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		buf[0] = 4;
		memcpy(buf + 1, &in->sin_port, 2);
		memcpy(buf + 3, &in->sin_addr, 4);
		return 7;
	}
	if (sa->sa_family == AF_INET6 &&
	    srv->peerlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		buf[0] = 6;
		memcpy(buf + 1, &in6->sin6_port, 2);
		memcpy(buf + 3, &in6->sin6_addr, 16);
		return 19;
	}
	return 0;
}

/*
 * A cookie is computed three times per handshake (HelloVerifyRequest, the
 * second ClientHello, SSL_accept again): the MAC is fetched once and each
 * secret's context keyed once, then only re-initialised.
 */
static int
dtls_cookie_make(struct dtls_server *srv, int which, uint8_t *out)
{
	uint8_t peer[32], md[EVP_MAX_MD_SIZE];
	OSSL_PARAM params[2];
	size_t n, mdlen = 0;
	int ok;

	if ((n = dtls_peer_bytes(srv, peer)) == 0)
		return -1;
	if (srv->hmac == NULL &&
	    (srv->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	if (srv->mac[which] == NULL &&
	    (srv->mac[which] = EVP_MAC_CTX_new(srv->hmac)) == NULL)
		return -1;
	if (!srv->keyed[which]) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		ok = EVP_MAC_init(srv->mac[which], srv->secret[which],
		    sizeof(srv->secret[0]), params);
	} else
		ok = EVP_MAC_init(srv->mac[which], NULL, 0, NULL);
	if (ok != 1)
		return -1;
	srv->keyed[which] = 1;
	if (EVP_MAC_update(srv->mac[which], peer, n) != 1 ||
	    EVP_MAC_final(srv->mac[which], md, &mdlen, sizeof(md)) != 1 ||
	    mdlen < DTLS_COOKIE_LEN)
		return -1;
	memcpy(out, md, DTLS_COOKIE_LEN);
	return 0;
}

static struct dtls_server *
dtls_server_of(SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

static int
dtls_cookie_generate_cb(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	struct dtls_server *srv = dtls_server_of(ssl);

	if (srv == NULL || dtls_cookie_make(srv, srv->cur, cookie) == -1)
		return 0;
	*len = DTLS_COOKIE_LEN;
	return 1;
}

static int
dtls_cookie_verify_cb(SSL *ssl, const unsigned char *cookie,
    unsigned int len)
{
	struct dtls_server *srv = dtls_server_of(ssl);
	uint8_t want[DTLS_COOKIE_LEN];
	int i;

	if (srv == NULL || len != DTLS_COOKIE_LEN)
		return 0;
	for (i = 0; i < 2; i++) {
		int which = i == 0 ? srv->cur : srv->cur ^ 1;

		if (dtls_cookie_make(srv, which, want) == 0 &&
		    CRYPTO_memcmp(want, cookie, DTLS_COOKIE_LEN) == 0)
			return 1;
	}
	return 0;
}

/* Keys --------------------------------------------------------------------- */

static unsigned int
dtls_psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
    unsigned int max)
{
	struct dtls_server *srv = dtls_server_of(ssl);
	size_t len = 0;

	if (srv == NULL || srv->psk == NULL || identity == NULL ||
	    strlen(identity) > DTLS_IDENTITY_MAX)
		return 0;
	if (srv->psk(srv->psk_arg, identity, psk, &len, max) == -1 ||
	    len == 0 || len > max) {
		OPENSSL_cleanse(psk, max);
		return 0;
	}
	return (unsigned int)len;
}

/* The server --------------------------------------------------------------- */

static SSL *
dtls_ssl_new(struct dtls_server *srv, struct dtls_io *io)
{
	SSL *ssl;
	BIO *bio;

	if ((ssl = SSL_new(srv->ctx)) == NULL)
		return NULL;
	if ((bio = BIO_new(srv->meth)) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	BIO_set_data(bio, io);
	SSL_set_bio(ssl, bio, bio);
	SSL_set_options(ssl, SSL_OP_COOKIE_EXCHANGE);
	SSL_set_mtu(ssl, DTLS_MTU);
	return ssl;
}

struct dtls_server *
dtls_server_new(dtls_psk_cb psk, void *arg)
{
	struct dtls_server *srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		log_warn("dtls_server_new");
		return NULL;
	}
	srv->psk = psk;
	srv->psk_arg = arg;
	dtls_rotate(srv);
	if ((srv->meth = dtls_bio_method()) == NULL ||
	    (srv->ctx = SSL_CTX_new(DTLS_server_method())) == NULL ||
	    (srv->client = BIO_ADDR_new()) == NULL)
		goto fail;
	SSL_CTX_set_app_data(srv->ctx, srv);
	if (SSL_CTX_set_min_proto_version(srv->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(srv->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(srv->ctx, DTLS_CIPHERS_DEFAULT) != 1)
		goto fail;
	SSL_CTX_set_options(srv->ctx, SSL_OP_NO_QUERY_MTU |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_COOKIE_EXCHANGE);
	SSL_CTX_set_mode(srv->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(srv->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(srv->ctx, 1);
	SSL_CTX_set_cookie_generate_cb(srv->ctx, dtls_cookie_generate_cb);
	SSL_CTX_set_cookie_verify_cb(srv->ctx, dtls_cookie_verify_cb);
	SSL_CTX_set_psk_server_callback(srv->ctx, dtls_psk_server_cb);
	if ((srv->listener = dtls_ssl_new(srv, &srv->lio)) == NULL)
		goto fail;
	return srv;

fail:
	log_warnx("dtls: cannot set up the DTLS context");
	ERR_clear_error();
	dtls_server_free(srv);
	return NULL;
}

int
dtls_server_set_ciphers(struct dtls_server *srv, const char *list)
{
	SSL *next;

	if (SSL_CTX_set_cipher_list(srv->ctx, list) != 1) {
		ERR_clear_error();
		return -1;
	}
	/* the listener copied the old list when it was made */
	if ((next = dtls_ssl_new(srv, &srv->lio)) != NULL) {
		SSL_free(srv->listener);
		srv->listener = next;
	}
	return 0;
}

void
dtls_server_free(struct dtls_server *srv)
{
	if (srv == NULL)
		return;
	SSL_free(srv->listener);
	SSL_CTX_free(srv->ctx);
	BIO_meth_free(srv->meth);
	BIO_ADDR_free(srv->client);
	EVP_MAC_CTX_free(srv->mac[0]);
	EVP_MAC_CTX_free(srv->mac[1]);
	EVP_MAC_free(srv->hmac);
	OPENSSL_cleanse(srv->secret, sizeof(srv->secret));
	free(srv);
}

int
dtls_is_client_hello(const uint8_t *p, size_t len)
{
	/*
	 * Record header: type (22 = handshake), version (2), epoch (2),
	 * sequence (6), length (2); then the handshake message type
	 * (1 = ClientHello).
	 */
	return len >= 14 && p[0] == 22 && p[3] == 0 && p[4] == 0 &&
	    p[13] == 1;
}

int
dtls_hello_has_cookie(const uint8_t *p, size_t len)
{
	size_t at;

	/*
	 * After the record header (13 bytes) and the handshake header (12):
	 * client_version (2), random (32), session_id (1 + n), cookie (1 + n).
	 */
	if (!dtls_is_client_hello(p, len))
		return 0;
	at = 13 + 12 + 2 + 32;
	if (at >= len)
		return 0;
	at += 1 + (size_t)p[at];
	return at < len && p[at] > 0;
}

struct dtls_conn *
dtls_accept(struct dtls_server *srv, const struct sockaddr *peer,
    socklen_t peerlen, const uint8_t *data, size_t len, dtls_send_cb send,
    void *arg, int *result)
{
	struct dtls_conn *c = NULL;
	SSL *ssl, *next;
	int r;

	*result = DTLS_ACCEPT_DROP;
	if (!dtls_is_client_hello(data, len))
		return NULL;
	dtls_rotate(srv);
	srv->peer = peer;
	srv->peerlen = peerlen;
	srv->lio.in = data;
	srv->lio.inlen = len;
	srv->lio.send = send;
	srv->lio.arg = arg;
	srv->lio.sent = 0;
	r = DTLSv1_listen(srv->listener, srv->client);
	srv->lio.in = NULL;
	srv->lio.send = NULL;
	if (r <= 0) {
		srv->peer = NULL;
		if (srv->lio.sent > 0)
			*result = DTLS_ACCEPT_VERIFY;
		if (r < 0) {
			/* The listener is in an unknown state: replace it. */
			if ((next = dtls_ssl_new(srv, &srv->lio)) != NULL) {
				SSL_free(srv->listener);
				srv->listener = next;
			}
		}
		ERR_clear_error();
		return NULL;
	}

	/* The listener holds the ClientHello: it becomes the connection. */
	if ((next = dtls_ssl_new(srv, &srv->lio)) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("dtls: out of memory for a new connection");
		SSL_free(next);
		SSL_clear(srv->listener);
		ERR_clear_error();
		srv->peer = NULL;
		return NULL;
	}
	ssl = srv->listener;
	srv->listener = next;
	c->srv = srv;
	c->ssl = ssl;
	c->io.send = send;
	c->io.arg = arg;
	BIO_set_data(SSL_get_rbio(ssl), &c->io);
	/* SSL_accept checks the cookie again: the peer must still be set. */
	r = SSL_accept(ssl);
	srv->peer = NULL;
	if (r <= 0 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
		ERR_clear_error();
		dtls_conn_free(c);
		return NULL;
	}
	if (r == 1)
		c->established = 1;
	*result = DTLS_ACCEPT_NEW;
	return c;
}

/* Connections -------------------------------------------------------------- */

/*
 * The smallest protected record the connection's cipher can make: its
 * explicit nonce and tag.  0 when there is no AEAD cipher yet.
 */
static size_t
dtls_record_min(const struct dtls_conn *c)
{
	const SSL_CIPHER *ci;

	if (c->ssl == NULL)
		return 0;
	ci = SSL_get_current_cipher(c->ssl);
	if (ci == NULL || !SSL_CIPHER_is_aead(ci))
		return 0;
	if (SSL_CIPHER_get_cipher_nid(ci) == NID_chacha20_poly1305)
		return 16;		/* implicit nonce, 16-byte tag */
	if (strstr(SSL_CIPHER_get_name(ci), "CCM8") != NULL)
		return 8 + 8;		/* explicit nonce, 8-byte tag */
	return 8 + 16;			/* GCM, CCM */
}

/*
 * Could the datagram hold records of c?  Invalid records are to be
 * dropped (RFC 6347 4.1.2.7), and anyone can send a datagram from a
 * device's address, but two kinds end an OpenSSL 3.0 connection: an
 * empty datagram (the BIO's read of 0 bytes is taken for the end of the
 * stream) and a protected record too short for its cipher's nonce and tag
 * (openssl/openssl#25389).  Such datagrams are dropped here, so that 16
 * forged bytes do not end a device's session.  (With a CBC suite OpenSSL
 * fails the connection on any record whose MAC does not verify, which no
 * check here can tell from a real record.)
 */
static int
dtls_datagram_plausible(const struct dtls_conn *c, const uint8_t *p,
    size_t len)
{
	size_t min, off = 0, rl;

	if (len == 0)
		return 0;
	if ((min = dtls_record_min(c)) == 0)
		return 1;
	/* Records: type (1), version (2), epoch (2), seq (6), length (2). */
	while (len - off >= 13) {
		rl = (size_t)p[off + 11] << 8 | p[off + 12];
		if ((p[off + 3] != 0 || p[off + 4] != 0) && rl < min)
			return 0;
		if (rl > len - off - 13)
			break;		/* OpenSSL drops what is cut short */
		off += 13 + rl;
	}
	return 1;
}

/*
 * The handshake just completed: for an AEAD suite, the record layer of
 * dtlsrec.c takes over and the SSL object goes (see dtlsrec.h).  The
 * flight captured is the one the completing step wrote (CCS, Finished).
 */
static void
dtls_conn_take_over(struct dtls_conn *c)
{
	struct dtls_server *srv = c->srv;

	if (srv->capover || srv->caplen == 0 ||
	    (c->rec = dtls_rec_new(c->ssl, srv->cap, srv->caplen)) == NULL)
		return;		/* stays with OpenSSL's record layer */
	SSL_free(c->ssl);
	c->ssl = NULL;
}

static void
dtls_conn_learn_identity(struct dtls_conn *c)
{
	const char *id = SSL_get_psk_identity(c->ssl);

	c->established = 1;
	if (id != NULL)
		snprintf(c->identity, sizeof(c->identity), "%s", id);
}

/* Where dtlsrec.c's datagrams go: the connection's send callback. */
static void
dtls_conn_send(void *arg, const uint8_t *data, size_t len)
{
	struct dtls_conn *c = arg;

	if (c->io.send != NULL)
		c->io.send(c->io.arg, data, len);
}

int
dtls_conn_input(struct dtls_conn *c, const uint8_t *data, size_t len,
    dtls_recv_cb recv, void *arg)
{
	uint8_t buf[DTLS_RECORD_MAX];
	int r, err, rc = 0;

	if (c->rec != NULL)
		return dtls_rec_input(c->rec, data, len, recv, arg,
		    dtls_conn_send, c);
	if (!dtls_datagram_plausible(c, data, len))
		return 0;
	c->io.in = data;
	c->io.inlen = len;
	if (!c->established) {
		c->srv->caplen = 0;
		c->srv->capover = 0;
		c->io.capture = c->srv;
		r = SSL_do_handshake(c->ssl);
		c->io.capture = NULL;
		if (r != 1) {
			err = SSL_get_error(c->ssl, r);
			rc = err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE ? 0 : -1;
			goto out;
		}
		dtls_conn_learn_identity(c);
		dtls_conn_take_over(c);
		if (c->rec != NULL)
			goto out;
	}
	for (;;) {
		r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0) {
			if (recv != NULL)
				recv(arg, buf, (size_t)r);
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			rc = -1;	/* close_notify, or a fatal alert */
		break;
	}
out:
	c->io.in = NULL;
	c->io.inlen = 0;
	ERR_clear_error();
	return rc;
}

int
dtls_conn_write(struct dtls_conn *c, const uint8_t *data, size_t len)
{
	int r;

	if (!c->established || len == 0 || len > DTLS_RECORD_MAX)
		return -1;
	if (c->rec != NULL)
		return dtls_rec_write(c->rec, 23, data, len, dtls_conn_send,
		    c);
	r = SSL_write(c->ssl, data, (int)len);
	if (r != (int)len) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

void
dtls_conn_set_send(struct dtls_conn *c, dtls_send_cb send, void *arg)
{
	c->io.send = send;
	c->io.arg = arg;
}

int
dtls_conn_established(const struct dtls_conn *c)
{
	return c->established;
}

const char *
dtls_conn_identity(const struct dtls_conn *c)
{
	return c->established && c->identity[0] != '\0' ? c->identity : NULL;
}

int64_t
dtls_conn_timer_ms(struct dtls_conn *c)
{
	struct timeval tv;

	if (c->established || DTLSv1_get_timeout(c->ssl, &tv) != 1)
		return -1;
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int
dtls_conn_timer(struct dtls_conn *c)
{
	int r;

	if (c->ssl == NULL)
		return 0;
	c->io.in = NULL;
	r = DTLSv1_handle_timeout(c->ssl);
	ERR_clear_error();
	return r < 0 ? -1 : 0;
}

void
dtls_conn_close(struct dtls_conn *c)
{
	static const uint8_t close_notify[2] = { 1, 0 };

	if (c == NULL || !c->established)
		return;
	if (c->rec != NULL) {
		(void)dtls_rec_write(c->rec, 21, close_notify,
		    sizeof(close_notify), dtls_conn_send, c);
		return;
	}
	c->io.in = NULL;
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

void
dtls_conn_free(struct dtls_conn *c)
{
	if (c == NULL)
		return;
	dtls_rec_free(c->rec);
	SSL_free(c->ssl);
	OPENSSL_cleanse(c->identity, sizeof(c->identity));
	free(c);
}
