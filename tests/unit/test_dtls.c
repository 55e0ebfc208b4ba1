/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_dtls.c: DTLS-PSK connections (src/tls/dtls.h), through their own
 * interface.
 *
 * A DTLS 1.2 PSK client made with OpenSSL here, on a BIO of its own that
 * keeps datagrams whole, exchanges datagrams with dtls_accept and
 * dtls_conn_input through two in-memory queues: the cookie exchange (no
 * connection before a valid cookie, none for a cookie made for another
 * address), the handshake and identity, application data both ways,
 * close_notify, an unknown identity and a wrong key, datagrams forged
 * into an established connection (dropped, never its end), every prefix
 * of a ClientHello, and the retransmission timer (which needs a second of
 * real time: the server's first timeout is OpenSSL's one second).
 *
 * Established AEAD connections run on dtlsrec.c's record layer (the SSL
 * object is gone), so every exchange after a handshake here tests it;
 * also: the server's final flight sent again when the client repeats its
 * own, the memory an established connection keeps, and a CBC suite,
 * which stays with OpenSSL and frees its buffers between datagrams.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls/dtls.h"
#include "t.h"

/* Datagram queues and a client --------------------------------------------- */

#define DQ_MAX	64

/* Datagrams in order, each kept whole. */
struct dq {
	uint8_t	*d[DQ_MAX];
	size_t	 len[DQ_MAX];
	size_t	 head, n;
};

static void
dq_push(struct dq *q, const uint8_t *data, size_t len)
{
	if (q->head + q->n >= DQ_MAX) {
		fprintf(stderr, "dq: full\n");
		return;
	}
	q->d[q->head + q->n] = malloc(len ? len : 1);
	memcpy(q->d[q->head + q->n], data, len);
	q->len[q->head + q->n] = len;
	q->n++;
}

/* The oldest datagram, the caller frees it; NULL when empty. */
static uint8_t *
dq_pop(struct dq *q, size_t *len)
{
	uint8_t	*d;

	if (q->n == 0)
		return NULL;
	d = q->d[q->head];
	*len = q->len[q->head];
	q->d[q->head] = NULL;
	q->head++;
	q->n--;
	if (q->n == 0)
		q->head = 0;
	return d;
}

static void
dq_clear(struct dq *q)
{
	size_t	 len;

	while (q->n > 0)
		free(dq_pop(q, &len));
}

/* Server to client and client to server. */
static struct dq s2c, c2s;

static void
srv_send_cb(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	dq_push(&s2c, data, len);
}

/* What the server decrypted. */
static uint8_t got_app[4096];
static size_t got_app_len;
static unsigned got_app_records;

static void
srv_recv_cb(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	got_app_records++;
	if (len <= sizeof(got_app) - got_app_len) {
		memcpy(got_app + got_app_len, data, len);
		got_app_len += len;
	}
}

/* The client's BIO: writes to c2s, reads from s2c, a datagram each. */
static int
cbio_write(BIO *b, const char *data, int len)
{
	(void)b;
	dq_push(&c2s, (const uint8_t *)data, (size_t)len);
	return len;
}

static int
cbio_read(BIO *b, char *buf, int size)
{
	uint8_t	*d;
	size_t	 len;

	BIO_clear_retry_flags(b);
	if ((d = dq_pop(&s2c, &len)) == NULL) {
		BIO_set_retry_read(b);
		return -1;
	}
	if (len > (size_t)size)
		len = (size_t)size;
	memcpy(buf, d, len);
	free(d);
	return (int)len;
}

static long
cbio_ctrl(BIO *b, int cmd, long num, void *ptr)
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
		return 1400;
	case BIO_CTRL_DGRAM_SET_MTU:
		return num;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return 28;
	default:
		return 0;
	}
}

static int
cbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *cbio_meth;
static SSL_CTX *dtls_cctx;
static const char *psk_identity = "dev-1";
static uint8_t psk_key[16] = "0123456789abcdef";

static unsigned int
client_psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id,
    unsigned char *psk, unsigned int max_psk)
{
	(void)ssl;
	(void)hint;
	if (strlen(psk_identity) + 1 > max_id || sizeof(psk_key) > max_psk)
		return 0;
	memcpy(id, psk_identity, strlen(psk_identity) + 1);
	memcpy(psk, psk_key, sizeof(psk_key));
	return sizeof(psk_key);
}

/* The server's keys: dev-1 and dev-2 have keys, nobody else. */
static int
srv_psk_cb(void *arg, const char *identity, uint8_t *key, size_t *len,
    size_t max)
{
	static const uint8_t k1[16] = "0123456789abcdef";
	static const uint8_t k2[5] = "short";

	(void)arg;
	if (strcmp(identity, "dev-1") == 0 && max >= sizeof(k1)) {
		memcpy(key, k1, sizeof(k1));
		*len = sizeof(k1);
		return 0;
	}
	if (strcmp(identity, "dev-2") == 0 && max >= sizeof(k2)) {
		memcpy(key, k2, sizeof(k2));
		*len = sizeof(k2);
		return 0;
	}
	return -1;
}

static void
dtls_client_setup(void)
{
	if ((cbio_meth = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK, "test-dgram")) == NULL ||
	    (dtls_cctx = SSL_CTX_new(DTLS_client_method())) == NULL) {
		fprintf(stderr, "dtls client set-up failed\n");
		exit(1);
	}
	BIO_meth_set_write(cbio_meth, cbio_write);
	BIO_meth_set_read(cbio_meth, cbio_read);
	BIO_meth_set_ctrl(cbio_meth, cbio_ctrl);
	BIO_meth_set_create(cbio_meth, cbio_create);
	SSL_CTX_set_min_proto_version(dtls_cctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(dtls_cctx, DTLS1_2_VERSION);
	SSL_CTX_set_cipher_list(dtls_cctx, "PSK");
	SSL_CTX_set_options(dtls_cctx, SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_psk_client_callback(dtls_cctx, client_psk_cb);
}

static SSL *
dtls_client_new(void)
{
	SSL	*ssl = SSL_new(dtls_cctx);
	BIO	*bio = BIO_new(cbio_meth);

	SSL_set_bio(ssl, bio, bio);
	SSL_set_mtu(ssl, 1400);
	SSL_set_connect_state(ssl);
	return ssl;
}

/* The client's handshake step: 1 done, 0 waiting, -1 failed. */
static int
dtls_client_step(SSL *ssl)
{
	int	 rc = SSL_do_handshake(ssl);

	if (rc == 1)
		return 1;
	rc = SSL_get_error(ssl, rc);
	ERR_clear_error();
	return rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE ? 0 :
	    -1;
}

static void
peer_addr(struct sockaddr_in *sin, const char *addr, unsigned port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, addr, &sin->sin_addr);
}

/* The handshake message type of a datagram's first record, or -1. */
static int
dg_hs_type(const uint8_t *d, size_t len)
{
	return len >= 14 && d[0] == 22 ? d[13] : -1;
}

/*
 * Runs the cookie exchange and makes the connection for client ssl from
 * sin.  Returns the connection (the server's first flight in s2c).
 */
static struct dtls_conn *
dtls_open(struct dtls_server *srv, SSL *ssl, const struct sockaddr_in *sin)
{
	struct dtls_conn *c;
	uint8_t	*d;
	size_t	 len;
	int	 result;

	T_EQ_INT(dtls_client_step(ssl), 0);
	if ((d = dq_pop(&c2s, &len)) == NULL)
		return NULL;
	c = dtls_accept(srv, (const struct sockaddr *)sin, sizeof(*sin), d,
	    len, srv_send_cb, NULL, &result);
	free(d);
	T_CHECK(c == NULL);
	T_EQ_INT(result, DTLS_ACCEPT_VERIFY);
	T_EQ_INT(dtls_client_step(ssl), 0);
	if ((d = dq_pop(&c2s, &len)) == NULL)
		return NULL;
	c = dtls_accept(srv, (const struct sockaddr *)sin, sizeof(*sin), d,
	    len, srv_send_cb, NULL, &result);
	free(d);
	T_EQ_INT(result, DTLS_ACCEPT_NEW);
	return c;
}

/*
 * Runs the rest of the handshake: client steps, and every datagram it
 * sends fed to c.  Returns the client's last step (1 done).
 */
static int
dtls_finish(struct dtls_conn *c, SSL *ssl, int *srv_rc)
{
	uint8_t	*d;
	size_t	 len;
	int	 i, rc = 0;

	*srv_rc = 0;
	for (i = 0; i < 16; i++) {
		rc = dtls_client_step(ssl);
		while ((d = dq_pop(&c2s, &len)) != NULL) {
			if (dtls_conn_input(c, d, len, srv_recv_cb,
			    NULL) == -1)
				*srv_rc = -1;
			free(d);
		}
		if (rc != 0 || *srv_rc == -1 || s2c.n == 0)
			break;
	}
	return rc;
}

/* Tests -------------------------------------------------------------------- */

/*
 * Application data both ways on an established connection, then the
 * client's close_notify ends it.  Frees c and ssl.
 */
static void
dtls_talk_and_close(struct dtls_conn *c, SSL *ssl)
{
	uint8_t	*d, buf[64];
	size_t	 len;
	int	 n;

	/* application data both ways */
	got_app_len = 0;
	got_app_records = 0;
	T_EQ_INT(SSL_write(ssl, "hello", 5), 5);
	T_EQ_INT(SSL_write(ssl, "again", 5), 5);
	T_EQ_INT(c2s.n, 2);
	while ((d = dq_pop(&c2s, &len)) != NULL) {
		T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb, NULL), 0);
		free(d);
	}
	T_EQ_INT(got_app_records, 2);
	T_EQ_INT(got_app_len, 10);
	T_CHECK(memcmp(got_app, "helloagain", 10) == 0);
	T_EQ_INT(dtls_conn_write(c, (const uint8_t *)"world", 5), 0);
	T_EQ_INT(s2c.n, 1);
	n = SSL_read(ssl, buf, sizeof(buf));
	T_EQ_INT(n, 5);
	T_CHECK(n == 5 && memcmp(buf, "world", 5) == 0);
	T_EQ_INT(dtls_conn_write(c, buf, 0), -1);
	{
		static uint8_t big[16385];

		T_EQ_INT(dtls_conn_write(c, big, sizeof(big)), -1);
	}

	/* close_notify ends it */
	dq_clear(&s2c);
	SSL_shutdown(ssl);
	T_EQ_INT(c2s.n, 1);
	d = dq_pop(&c2s, &len);
	T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb, NULL), -1);
	free(d);
	dtls_conn_close(c);
	dtls_conn_free(c);
	SSL_free(ssl);
}

/* A second client, and the server closes first. */
static void
dtls_server_closes(struct dtls_server *srv, const struct sockaddr_in *sin)
{
	struct dtls_conn *c;
	SSL	*ssl;
	uint8_t	 buf[64];
	int	 srv_rc;

	ssl = dtls_client_new();
	c = dtls_open(srv, ssl, sin);
	T_CHECK(c != NULL);
	T_EQ_INT(dtls_finish(c, ssl, &srv_rc), 1);
	T_EQ_INT(dtls_conn_established(c), 1);
	dq_clear(&s2c);
	dtls_conn_close(c);
	T_EQ_INT(s2c.n, 1);
	T_EQ_INT(SSL_read(ssl, buf, sizeof(buf)), 0);
	T_EQ_INT(SSL_get_error(ssl, 0), SSL_ERROR_ZERO_RETURN);
	dtls_conn_free(c);
	SSL_free(ssl);
}

static void
test_dtls_handshake(void)
{
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin, other;
	SSL	*ssl;
	uint8_t	*d, hello[2048];
	size_t	 len, hvr_len, hello_len;
	int	 result, srv_rc;

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	peer_addr(&sin, "192.0.2.1", 40000);
	peer_addr(&other, "192.0.2.2", 40000);
	ssl = dtls_client_new();

	/* the first ClientHello: a HelloVerifyRequest, no connection */
	T_EQ_INT(dtls_client_step(ssl), 0);
	T_EQ_INT(c2s.n, 1);
	d = dq_pop(&c2s, &len);
	T_EQ_INT(dtls_is_client_hello(d, len), 1);
	T_EQ_INT(dtls_hello_has_cookie(d, len), 0);
	c = dtls_accept(srv, (struct sockaddr *)&sin, sizeof(sin), d, len,
	    srv_send_cb, NULL, &result);
	free(d);
	T_CHECK(c == NULL);
	T_EQ_INT(result, DTLS_ACCEPT_VERIFY);
	T_EQ_INT(s2c.n, 1);
	T_EQ_INT(dg_hs_type(s2c.d[s2c.head], s2c.len[s2c.head]), 3);
	hvr_len = s2c.len[s2c.head];
	T_CHECK(hvr_len < 100);	/* small: no amplification */

	/* the ClientHello with the cookie */
	T_EQ_INT(dtls_client_step(ssl), 0);
	T_EQ_INT(c2s.n, 1);
	d = dq_pop(&c2s, &len);
	T_EQ_INT(dtls_is_client_hello(d, len), 1);
	T_EQ_INT(dtls_hello_has_cookie(d, len), 1);
	hello_len = len < sizeof(hello) ? len : sizeof(hello);
	memcpy(hello, d, hello_len);
	/* from another address the cookie is no good: asked again */
	c = dtls_accept(srv, (struct sockaddr *)&other, sizeof(other), d, len,
	    srv_send_cb, NULL, &result);
	T_CHECK(c == NULL);
	T_EQ_INT(result, DTLS_ACCEPT_VERIFY);
	T_EQ_INT(s2c.n, 1);
	dq_clear(&s2c);
	/* an address of no known family: dropped */
	{
		struct sockaddr sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_family = AF_UNIX;
		c = dtls_accept(srv, &sa, sizeof(sa), d, len, srv_send_cb,
		    NULL, &result);
		T_CHECK(c == NULL);
		T_CHECK(result != DTLS_ACCEPT_NEW);
		dq_clear(&s2c);
	}
	c = dtls_accept(srv, (struct sockaddr *)&sin, sizeof(sin), d, len,
	    srv_send_cb, NULL, &result);
	free(d);
	T_CHECK(c != NULL);
	T_EQ_INT(result, DTLS_ACCEPT_NEW);
	T_CHECK(s2c.n > 0);
	T_EQ_INT(dg_hs_type(s2c.d[s2c.head], s2c.len[s2c.head]), 2);
	T_EQ_INT(dtls_conn_established(c), 0);
	T_CHECK(dtls_conn_identity(c) == NULL);
	T_CHECK(dtls_conn_timer_ms(c) >= 0);
	/* the rest of the handshake */
	T_EQ_INT(dtls_finish(c, ssl, &srv_rc), 1);
	T_EQ_INT(srv_rc, 0);
	T_EQ_INT(dtls_conn_established(c), 1);
	T_EQ_STR(dtls_conn_identity(c), "dev-1");
	T_EQ_INT(dtls_conn_timer_ms(c), -1);

	dtls_talk_and_close(c, ssl);
	dtls_server_closes(srv, &sin);
	dq_clear(&s2c);
	dq_clear(&c2s);
	dtls_server_free(srv);
	dtls_server_free(NULL);
	dtls_conn_free(NULL);
	dtls_conn_close(NULL);
}

/* An established connection for the default client; NULL on failure. */
static struct dtls_conn *
dtls_established(struct dtls_server *srv, const struct sockaddr_in *sin,
    SSL **ssl)
{
	struct dtls_conn *c;
	int	 srv_rc;

	*ssl = dtls_client_new();
	if ((c = dtls_open(srv, *ssl, sin)) == NULL)
		return NULL;
	if (dtls_finish(c, *ssl, &srv_rc) != 1 || !dtls_conn_established(c)) {
		dtls_conn_free(c);
		return NULL;
	}
	dq_clear(&s2c);
	return c;
}

/*
 * Datagrams that are no record of the connection (anyone can send them
 * from the peer's address) are dropped: the connection goes on.  With
 * every AEAD suite a device may choose, since what is "too short" depends
 * on the suite's nonce and tag; the shortest real records (one byte of
 * data, a close_notify) still count.  Long because of its table of junk
 * and the switch that makes the junk only a live connection can (a real
 * record flipped or replayed, fake records of every length).
 */
static void
test_dtls_junk(void)
{
	static const char *const suites[] = {
		"PSK-CHACHA20-POLY1305", "PSK-AES128-GCM-SHA256",
		"PSK-AES128-CCM", "PSK-AES128-CCM8",
	};
	static const uint8_t cut[] = {
		23, 254, 253, 0, 1, 0, 0, 0, 0, 0, 9, 0, 30, 1, 2, 3,
	};
	static const uint8_t epoch9[] = {
		23, 254, 253, 0, 9, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3,
	};
	static const uint8_t hs0[] = {
		22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3,
	};
	static const uint8_t onebyte[] = { 23 };
	static const uint8_t zeros[16] = { 0 };
	enum { JUNK_FLIP = 1, JUNK_REPLAY, JUNK_SHORT, JUNK_GARBAGE };
	static const struct {
		const char *what;
		const uint8_t *d;
		size_t	 len;
		int	 kind;	/* made here */
	} cases[] = {
		{ "record longer than the datagram", cut, sizeof(cut), 0 },
		{ "unknown epoch", epoch9, sizeof(epoch9), 0 },
		{ "plaintext handshake", hs0, sizeof(hs0), 0 },
		{ "one byte", onebyte, sizeof(onebyte), 0 },
		{ "zeros", zeros, sizeof(zeros), 0 },
		{ "an empty datagram", zeros, 0, 0 },
		{ "a record with a flipped bit", NULL, 0, JUNK_FLIP },
		{ "a record again (replay)", NULL, 0, JUNK_REPLAY },
		{ "every record too short to decrypt", NULL, 0, JUNK_SHORT },
		{ "long records of garbage", NULL, 0, JUNK_GARBAGE },
	};
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin;
	SSL	*ssl;
	uint8_t	*d, *rec, fake[13 + 64];
	size_t	 i, k, n, len, reclen;
	int	 rc;

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	peer_addr(&sin, "192.0.2.77", 5684);
	for (k = 0; k < sizeof(suites) / sizeof(suites[0]); k++)
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL_CTX_set_cipher_list(dtls_cctx, suites[k]);
		if ((c = dtls_established(srv, &sin, &ssl)) == NULL) {
			fprintf(stderr, "%s: no handshake\n", suites[k]);
			T_CHECK(!"handshake");
			SSL_free(ssl);
			continue;
		}
		got_app_records = 0;
		got_app_len = 0;
		rec = NULL;
		reclen = 0;
		rc = 0;
		switch (cases[i].kind) {
		case JUNK_FLIP:
		case JUNK_REPLAY:
			T_EQ_INT(SSL_write(ssl, "first", 5), 5);
			rec = dq_pop(&c2s, &reclen);
			if (cases[i].kind == JUNK_REPLAY)
				T_EQ_INT(dtls_conn_input(c, rec, reclen,
				    srv_recv_cb, NULL), 0);
			else
				rec[reclen - 3] ^= 0x10;
			rc = dtls_conn_input(c, rec, reclen, srv_recv_cb,
			    NULL);
			break;
		case JUNK_SHORT:
		case JUNK_GARBAGE:
			/* epoch 1, a sequence number ahead, n bytes */
			for (n = cases[i].kind == JUNK_SHORT ? 1 : 24;
			    n < (cases[i].kind == JUNK_SHORT ? 24 : 64) &&
			    rc == 0; n++) {
				memset(fake, 0xa5, sizeof(fake));
				memcpy(fake, epoch9, 11);
				fake[4] = 1;
				fake[10] = (uint8_t)(100 + n);
				fake[11] = 0;
				fake[12] = (uint8_t)n;
				rc = dtls_conn_input(c, fake, 13 + n,
				    srv_recv_cb, NULL);
			}
			break;
		default:
			rc = dtls_conn_input(c, cases[i].d, cases[i].len,
			    srv_recv_cb, NULL);
			break;
		}
		free(rec);
		if (rc != 0)
			fprintf(stderr, "junk: %s: %s: %d\n", suites[k],
			    cases[i].what, rc);
		T_EQ_INT(rc, 0);
		T_EQ_INT(got_app_records, cases[i].kind == JUNK_REPLAY);
		/* the connection still works, for the shortest records too */
		T_EQ_INT(SSL_write(ssl, "s", 1), 1);
		len = 0;
		d = dq_pop(&c2s, &len);
		T_CHECK(d != NULL);
		if (d != NULL)
			T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb,
			    NULL), 0);
		free(d);
		T_CHECK(got_app_len >= 1 && got_app[got_app_len - 1] == 's');
		SSL_shutdown(ssl);
		d = dq_pop(&c2s, &len);
		T_CHECK(d != NULL);
		if (d != NULL)
			T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb,
			    NULL), -1);
		free(d);
		dtls_conn_free(c);
		SSL_free(ssl);
		dq_clear(&s2c);
		dq_clear(&c2s);
	}
	SSL_CTX_set_cipher_list(dtls_cctx, "PSK");
	dtls_server_free(srv);
}

static void
test_dtls_keys(void)
{
	static const struct {
		const char *what, *identity;
		const char *key;	/* the client's, 16 bytes */
	} cases[] = {
		{ "unknown identity", "dev-9", "0123456789abcdef" },
		{ "wrong key", "dev-1", "0123456789abcdeX" },
		{ "key of another device", "dev-2", "0123456789abcdef" },
	};
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin;
	size_t	 i;
	uint8_t	*d;
	size_t	 len;
	int	 srv_rc, cli;

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	peer_addr(&sin, "2.0.0.1", 5684);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		SSL	*ssl;

		psk_identity = cases[i].identity;
		memcpy(psk_key, cases[i].key, sizeof(psk_key));
		ssl = dtls_client_new();
		c = dtls_open(srv, ssl, &sin);
		T_CHECK(c != NULL);
		if (c == NULL) {
			SSL_free(ssl);
			continue;
		}
		cli = dtls_finish(c, ssl, &srv_rc);
		/*
		 * An unknown identity is a fatal alert.  A wrong key shows
		 * as a Finished that does not decrypt, which DTLS drops as
		 * it drops any bad record: the handshake never completes.
		 */
		T_CHECK(cli != 1);
		T_EQ_INT(dtls_conn_established(c), 0);
		T_CHECK(dtls_conn_identity(c) == NULL);
		T_EQ_INT(dtls_conn_write(c, (const uint8_t *)"x", 1), -1);
		if (srv_rc == 0)
			T_CHECK(dtls_conn_timer_ms(c) >= 0);
		/* application data from the client goes nowhere */
		got_app_records = 0;
		if (SSL_write(ssl, "data", 4) > 0)
			while ((d = dq_pop(&c2s, &len)) != NULL) {
				dtls_conn_input(c, d, len, srv_recv_cb, NULL);
				free(d);
			}
		T_EQ_INT(got_app_records, 0);
		if (i == 0)
			T_EQ_INT(srv_rc, -1);
		dtls_conn_free(c);
		SSL_free(ssl);
		dq_clear(&s2c);
		dq_clear(&c2s);
	}
	psk_identity = "dev-1";
	memcpy(psk_key, "0123456789abcdef", sizeof(psk_key));
	dtls_server_free(srv);
}

/*
 * Every prefix of a ClientHello with a cookie: never a connection; only
 * whole ones show a cookie.
 */
static void
hello_prefixes(struct dtls_server *srv, const struct sockaddr_in *sin,
    const uint8_t *hello, size_t hl)
{
	struct dtls_conn *c;
	uint8_t	*copy;
	size_t	 i, bad = 0, with_cookie = 0;
	int	 result;

	for (i = 0; i < hl; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, hello, i);
		if (dtls_hello_has_cookie(copy, i))
			with_cookie++;
		c = dtls_accept(srv, (const struct sockaddr *)sin,
		    sizeof(*sin), copy, i, srv_send_cb, NULL, &result);
		if (c != NULL || result == DTLS_ACCEPT_NEW) {
			fprintf(stderr, "prefix %zu: a connection\n", i);
			bad++;
		}
		dtls_conn_free(c);
		free(copy);
		dq_clear(&s2c);
	}
	T_EQ_INT(bad, 0);
	/* the cookie's length byte is 60 bytes in; its first byte after */
	T_CHECK(with_cookie > 0 && with_cookie < hl - 60);
	T_EQ_INT(dtls_hello_has_cookie(hello, 60), 0);
}

static void
test_dtls_hostile(void)
{
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin;
	SSL	*ssl;
	uint8_t	*d, hello[2048];
	size_t	 len, hl, i;
	int	 result;

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	peer_addr(&sin, "198.51.100.7", 1234);
	/* a ClientHello with a cookie, kept for its prefixes */
	ssl = dtls_client_new();
	T_EQ_INT(dtls_client_step(ssl), 0);
	d = dq_pop(&c2s, &len);
	c = dtls_accept(srv, (struct sockaddr *)&sin, sizeof(sin), d, len,
	    srv_send_cb, NULL, &result);
	free(d);
	T_EQ_INT(dtls_client_step(ssl), 0);
	d = dq_pop(&c2s, &hl);
	T_CHECK(d != NULL && hl <= sizeof(hello));
	if (d == NULL || hl > sizeof(hello))
		return;
	memcpy(hello, d, hl);
	free(d);
	SSL_free(ssl);
	dq_clear(&s2c);

	hello_prefixes(srv, &sin, hello, hl);

	/* not a ClientHello at all: dropped without an answer */
	{
		static const uint8_t junk[][14] = {
			{ 23, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1 },
			{ 22, 254, 253, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1 },
			{ 22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2 },
		};

		for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
			T_EQ_INT(dtls_is_client_hello(junk[i],
			    sizeof(junk[i])), 0);
			c = dtls_accept(srv, (struct sockaddr *)&sin,
			    sizeof(sin), junk[i], sizeof(junk[i]),
			    srv_send_cb, NULL, &result);
			T_CHECK(c == NULL);
			T_EQ_INT(result, DTLS_ACCEPT_DROP);
		}
		T_EQ_INT(s2c.n, 0);
	}
	/* a ClientHello header over nothing: no answer either */
	{
		uint8_t	 h[14];

		memcpy(h, hello, sizeof(h));
		T_EQ_INT(dtls_is_client_hello(h, sizeof(h)), 1);
		T_EQ_INT(dtls_hello_has_cookie(h, sizeof(h)), 0);
		c = dtls_accept(srv, (struct sockaddr *)&sin, sizeof(sin), h,
		    sizeof(h), srv_send_cb, NULL, &result);
		T_CHECK(c == NULL);
		T_EQ_INT(result, DTLS_ACCEPT_DROP);
	}
	/*
	 * The whole hello, twice: a connection each time.  dtls_accept keeps
	 * no table; the caller's session table sees a retransmitted hello
	 * first (coapfront.c).
	 */
	for (i = 0; i < 2; i++) {
		c = dtls_accept(srv, (struct sockaddr *)&sin, sizeof(sin),
		    hello, hl, srv_send_cb, NULL, &result);
		T_CHECK(c != NULL);
		T_EQ_INT(result, DTLS_ACCEPT_NEW);
		dtls_conn_free(c);
		dq_clear(&s2c);
	}
	/* the listener still works after all that */
	ssl = dtls_client_new();
	c = dtls_open(srv, ssl, &sin);
	T_CHECK(c != NULL);
	if (c != NULL) {
		int	 srv_rc;

		T_EQ_INT(dtls_finish(c, ssl, &srv_rc), 1);
		T_EQ_STR(dtls_conn_identity(c), "dev-1");
	}
	dtls_conn_free(c);
	SSL_free(ssl);
	dq_clear(&s2c);
	dq_clear(&c2s);
	dtls_server_free(srv);
}

/*
 * The records of a datagram without their headers' epoch and sequence
 * number: type, then payload, for each.  Returns the bytes written.
 */
static size_t
dg_payloads(const uint8_t *d, size_t len, uint8_t *out, size_t max)
{
	size_t	 off = 0, n = 0, rl;

	while (len - off >= 13) {
		rl = (size_t)d[off + 11] << 8 | d[off + 12];
		if (rl > len - off - 13 || n + 1 + rl > max)
			break;
		out[n++] = d[off];
		memcpy(out + n, d + off + 13, rl);
		n += rl;
		off += 13 + rl;
	}
	return n;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The server's first flight is lost: when the timer fires, the same
 * flight goes again (the same messages; only record sequence numbers
 * change), and the handshake then completes from the retransmission.
 */
static void
test_dtls_timer(void)
{
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin;
	SSL	*ssl;
	uint8_t	*first[8];
	size_t	 first_len[8], nfirst = 0, i, len;
	int64_t	 ms, deadline;
	int	 srv_rc, same = 1;
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	peer_addr(&sin, "203.0.113.5", 7777);
	ssl = dtls_client_new();
	c = dtls_open(srv, ssl, &sin);
	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	/* the flight is lost */
	while (nfirst < 8 && (first[nfirst] = dq_pop(&s2c,
	    &first_len[nfirst])) != NULL)
		nfirst++;
	T_CHECK(nfirst > 0);
	ms = dtls_conn_timer_ms(c);
	T_CHECK(ms > 0 && ms <= 1000);
	/* early: nothing is sent again */
	T_EQ_INT(dtls_conn_timer(c), 0);
	T_EQ_INT(s2c.n, 0);
	/* wait (with a deadline) until it is due */
	deadline = mono_ms() + 5000;
	while ((ms = dtls_conn_timer_ms(c)) > 0 && mono_ms() < deadline)
		nanosleep(&tick, NULL);
	T_EQ_INT(ms, 0);
	T_EQ_INT(dtls_conn_timer(c), 0);
	/* the same records, though perhaps not packed the same way */
	{
		uint8_t	 a[4096], b[4096];
		size_t	 alen = 0, blen = 0;

		for (i = 0; i < nfirst; i++)
			alen += dg_payloads(first[i], first_len[i], a + alen,
			    sizeof(a) - alen);
		for (i = 0; i < s2c.n; i++)
			blen += dg_payloads(s2c.d[s2c.head + i],
			    s2c.len[s2c.head + i], b + blen, sizeof(b) - blen);
		same = alen > 0 && alen == blen && memcmp(a, b, alen) == 0;
	}
	T_CHECK(same);
	/* the timer backs off: about two seconds now */
	ms = dtls_conn_timer_ms(c);
	T_CHECK(ms > 1000 && ms <= 2000);
	/* the client completes from the retransmitted flight */
	T_EQ_INT(dtls_finish(c, ssl, &srv_rc), 1);
	T_EQ_INT(dtls_conn_established(c), 1);
	T_EQ_INT(dtls_conn_timer_ms(c), -1);
	for (i = 0; i < nfirst; i++)
		free(first[i]);
	(void)len;
	dtls_conn_free(c);
	SSL_free(ssl);
	dq_clear(&s2c);
	dq_clear(&c2s);
	dtls_server_free(srv);
}

/*
 * The server's final flight (ChangeCipherSpec, Finished) is lost: the
 * client repeats its last flight, and the server, which already dropped
 * its SSL object, sends its own again, whole; the client completes from
 * it.  Once the client's first record has arrived, a repeated flight gets
 * nothing.
 */
static void
test_dtls_final_flight(void)
{
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin;
	SSL	*ssl;
	uint8_t	*cf[8], buf[64];
	size_t	 cflen[8], ncf = 0, i, lost, len;
	uint8_t	*d;

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	peer_addr(&sin, "198.51.100.9", 5555);
	ssl = dtls_client_new();
	c = dtls_open(srv, ssl, &sin);
	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	/* the client's last flight, kept to be sent twice */
	T_EQ_INT(dtls_client_step(ssl), 0);
	while (ncf < 8 && (cf[ncf] = dq_pop(&c2s, &cflen[ncf])) != NULL)
		ncf++;
	T_CHECK(ncf > 0);
	for (i = 0; i < ncf; i++)
		T_EQ_INT(dtls_conn_input(c, cf[i], cflen[i], srv_recv_cb,
		    NULL), 0);
	T_EQ_INT(dtls_conn_established(c), 1);
	lost = s2c.n;
	T_CHECK(lost > 0);
	dq_clear(&s2c);
	/* the client repeats its flight: ours comes again */
	for (i = 0; i < ncf; i++)
		T_EQ_INT(dtls_conn_input(c, cf[i], cflen[i], srv_recv_cb,
		    NULL), 0);
	T_EQ_INT(s2c.n, lost);
	T_EQ_INT(dtls_client_step(ssl), 1);
	/* data both ways */
	got_app_len = 0;
	T_EQ_INT(SSL_write(ssl, "ping", 4), 4);
	while ((d = dq_pop(&c2s, &len)) != NULL) {
		T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb, NULL), 0);
		free(d);
	}
	T_CHECK(got_app_len == 4 && memcmp(got_app, "ping", 4) == 0);
	/* the client has our Finished: a repeat gets nothing now */
	dq_clear(&s2c);
	for (i = 0; i < ncf; i++)
		T_EQ_INT(dtls_conn_input(c, cf[i], cflen[i], srv_recv_cb,
		    NULL), 0);
	T_EQ_INT(s2c.n, 0);
	T_EQ_INT(dtls_conn_write(c, (const uint8_t *)"pong", 4), 0);
	T_EQ_INT(SSL_read(ssl, buf, sizeof(buf)), 4);
	T_CHECK(memcmp(buf, "pong", 4) == 0);
	for (i = 0; i < ncf; i++)
		free(cf[i]);
	dtls_conn_free(c);
	SSL_free(ssl);
	dq_clear(&s2c);
	dq_clear(&c2s);
	dtls_server_free(srv);
}

/*
 * A CBC suite (a coaps_ciphers that allows one) stays with OpenSSL's
 * record layer, which frees its buffers between datagrams: data goes
 * both ways, again and again, and close_notify still ends it.
 */
static void
test_dtls_cbc(void)
{
	struct dtls_server *srv;
	struct dtls_conn *c;
	struct sockaddr_in sin;
	SSL	*ssl;
	uint8_t	*d, buf[64];
	size_t	 len;
	int	 i;

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	T_EQ_INT(dtls_server_set_ciphers(srv, "PSK-AES128-CBC-SHA256"), 0);
	SSL_CTX_set_cipher_list(dtls_cctx, "PSK-AES128-CBC-SHA256");
	peer_addr(&sin, "198.51.100.10", 5556);
	c = dtls_established(srv, &sin, &ssl);
	T_CHECK(c != NULL);
	for (i = 0; c != NULL && i < 3; i++) {
		got_app_len = 0;
		T_EQ_INT(SSL_write(ssl, "tick", 4), 4);
		while ((d = dq_pop(&c2s, &len)) != NULL) {
			T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb,
			    NULL), 0);
			free(d);
		}
		T_CHECK(got_app_len == 4 && memcmp(got_app, "tick", 4) == 0);
		T_EQ_INT(dtls_conn_write(c, (const uint8_t *)"tock", 4), 0);
		T_EQ_INT(SSL_read(ssl, buf, sizeof(buf)), 4);
		T_CHECK(memcmp(buf, "tock", 4) == 0);
	}
	if (c != NULL) {
		SSL_shutdown(ssl);
		d = dq_pop(&c2s, &len);
		T_CHECK(d != NULL);
		if (d != NULL)
			T_EQ_INT(dtls_conn_input(c, d, len, srv_recv_cb,
			    NULL), -1);
		free(d);
	}
	dtls_conn_free(c);
	SSL_free(ssl);
	dq_clear(&s2c);
	dq_clear(&c2s);
	SSL_CTX_set_cipher_list(dtls_cctx, "PSK");
	dtls_server_free(srv);
}

/* Bytes malloc has handed out, or 0 where it cannot tell. */
static size_t
heap_used(void)
{
#ifdef __GLIBC__
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

#define SMALL_CONNS	200
/* What an established AEAD connection may keep (it was 40 KB). */
#define SMALL_MAX	4096

/*
 * The memory SMALL_CONNS established connections keep on the server side,
 * with each suite: at most SMALL_MAX bytes each.  (A sanitizer's malloc
 * does not count in mallinfo2: then the figure is printed, not checked.)
 */
static void
test_dtls_small(void)
{
	static const char *const suites[] = {
		"PSK-AES128-GCM-SHA256", "PSK-AES128-CCM8",
		"PSK-CHACHA20-POLY1305",
	};
	static struct dtls_conn *cs[SMALL_CONNS];
	struct dtls_server *srv;
	struct sockaddr_in sin;
	SSL	*ssl;
	size_t	 before, after, k, i, n;
	char	 addr[32];

	T_CHECK((srv = dtls_server_new(srv_psk_cb, NULL)) != NULL);
	for (k = 0; k < sizeof(suites) / sizeof(suites[0]); k++) {
		SSL_CTX_set_cipher_list(dtls_cctx, suites[k]);
		/* one first, for what OpenSSL sets up once */
		peer_addr(&sin, "10.9.0.1", 1);
		dtls_conn_free(dtls_established(srv, &sin, &ssl));
		SSL_free(ssl);
		dq_clear(&c2s);
		before = heap_used();
		for (i = n = 0; i < SMALL_CONNS; i++) {
			snprintf(addr, sizeof(addr), "10.9.%zu.%zu", k + 1,
			    i + 1);
			peer_addr(&sin, addr, 4000);
			cs[i] = dtls_established(srv, &sin, &ssl);
			SSL_free(ssl);
			dq_clear(&c2s);
			n += cs[i] != NULL;
		}
		after = heap_used();
		T_EQ_INT(n, SMALL_CONNS);
		if (after > before) {
			n = (after - before) / SMALL_CONNS;
			fprintf(stderr, "%s: %zu bytes a connection\n",
			    suites[k], n);
			T_CHECK(n <= SMALL_MAX);
		} else
			fprintf(stderr, "%s: mallinfo2 counts nothing here\n",
			    suites[k]);
		for (i = 0; i < SMALL_CONNS; i++)
			dtls_conn_free(cs[i]);
	}
	SSL_CTX_set_cipher_list(dtls_cctx, "PSK");
	dtls_server_free(srv);
}

int
main(void)
{
	log_init("test_dtls", 1, LOG_LEVEL_WARN);
	dtls_client_setup();

	T_RUN(test_dtls_handshake);
	T_RUN(test_dtls_junk);
	T_RUN(test_dtls_keys);
	T_RUN(test_dtls_hostile);
	T_RUN(test_dtls_timer);
	T_RUN(test_dtls_final_flight);
	T_RUN(test_dtls_cbc);
	T_RUN(test_dtls_small);

	SSL_CTX_free(dtls_cctx);
	BIO_meth_free(cbio_meth);
	return t_done();
}
