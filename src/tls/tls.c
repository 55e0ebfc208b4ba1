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
 *
 * Resumption on the server side: a session-id cache and tickets whose
 * keys live here (tls_ticket_cb), current and previous, replaced when the
 * current one is older than the rotation interval; the check is made on
 * each ticket operation, so no timer is needed.  A TCP close without
 * close_notify is an ordinary end (SSL_OP_IGNORE_UNEXPECTED_EOF): OpenSSL
 * would otherwise drop the session, and keep-alive clients such as
 * esp_http_client never resume.  The session id context is a digest of
 * the device CA file, so a session verified under one CA never resumes
 * under another after a reload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls/tls.h"

/* One session ticket key: its name in the ticket, AES and HMAC keys. */
struct tls_ticket_key {
	unsigned char	 name[16];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
	int64_t		 born;		/* CLOCK_MONOTONIC seconds */
	int		 valid;
};

struct tls_server {
	SSL_CTX	*ctx;
	int	 verify_clients;
	EVP_CIPHER *aes;		/* AES-256-CBC, fetched once */
	unsigned rotate_s;		/* ticket key rotation interval */
	/*
	 * Worker threads share a server (OpenSSL's context and session
	 * cache lock themselves): the keys and the sweep's time are
	 * under lock.
	 */
	pthread_mutex_t lock;
	struct tls_ticket_key keys[2];	/* current, previous */
	int64_t	 flushed;		/* last sweep of expired sessions */
};

/*
 * OpenSSL 3.0 sweeps its whole session cache for expired sessions every
 * 255 handshakes, which with tens of thousands of sessions costs more
 * than a resumed handshake; we sweep every TLS_FLUSH_S seconds instead
 * (a full cache still drops its oldest session for a new one).
 */
#define TLS_FLUSH_S	30

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

/* Ticket keys ----------------------------------------------------------- */

static int64_t
tls_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* A fresh random key, or -1 (then the old ones stay). */
static int
tls_ticket_key_make(struct tls_ticket_key *k, int64_t now)
{
	struct tls_ticket_key n;

	if (RAND_bytes(n.name, sizeof(n.name)) != 1 ||
	    RAND_bytes(n.aes, sizeof(n.aes)) != 1 ||
	    RAND_bytes(n.hmac, sizeof(n.hmac)) != 1) {
		OPENSSL_cleanse(&n, sizeof(n));
		return -1;
	}
	n.born = now;
	n.valid = 1;
	*k = n;
	OPENSSL_cleanse(&n, sizeof(n));
	return 0;
}

/*
 * Once the current key is rotate_s old it becomes the previous one and a
 * new current one is made; a previous key older than two intervals (no
 * ticket work for a long time) is dropped.  -1 when no current key can
 * be had.
 */
static int
tls_ticket_rotate(struct tls_server *ts)
{
	struct tls_ticket_key *cur = &ts->keys[0], *prev = &ts->keys[1];
	int64_t now = tls_mono_s(), r = ts->rotate_s;

	if (prev->valid && now - prev->born >= 2 * r)
		OPENSSL_cleanse(prev, sizeof(*prev));
	if (cur->valid && now - cur->born < r)
		return 0;
	if (cur->valid && now - cur->born < 2 * r)
		*prev = *cur;
	if (tls_ticket_key_make(cur, now) == -1) {
		log_warnx("tls: no randomness for a session ticket key");
		return cur->valid && now - cur->born < 2 * r ? 0 : -1;
	}
	return 0;
}

/* Points the ticket's cipher and MAC at key k.  0 or -1. */
static int
tls_ticket_key_use(struct tls_server *ts, struct tls_ticket_key *k,
    unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(cctx, ts->aes, NULL, k->aes,
		    iv) == 1 ? 0 : -1;
	return EVP_DecryptInit_ex(cctx, ts->aes, NULL, k->aes, iv) == 1 ?
	    0 : -1;
}

/*
 * OpenSSL's ticket callback.  Issuing: the current key, a random IV; 1,
 * or 0 for no ticket.  Opening: 1 with the current key, 2 with the
 * previous one (OpenSSL then issues a fresh ticket), 0 for a key we no
 * longer have (a full handshake follows), -1 on an error.
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_server *ts = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct tls_ticket_key k;
	int i, found = -1, rc;

	if (ts == NULL)
		return enc ? 0 : -1;
	pthread_mutex_lock(&ts->lock);
	if (tls_ticket_rotate(ts) == -1) {
		pthread_mutex_unlock(&ts->lock);
		return enc ? 0 : -1;
	}
	for (i = 0; i < 2 && found == -1; i++)
		if (ts->keys[i].valid && (enc ||
		    memcmp(name, ts->keys[i].name, 16) == 0))
			found = i;
	if (found != -1)
		k = ts->keys[found];
	pthread_mutex_unlock(&ts->lock);
	if (found == -1)
		return 0;	/* a key we no longer have */
	if (enc) {
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ts->aes)) != 1)
			rc = 0;
		else {
			memcpy(name, k.name, 16);
			rc = tls_ticket_key_use(ts, &k, iv, cctx, hctx, 1) ==
			    0 ? 1 : 0;
		}
	} else if (tls_ticket_key_use(ts, &k, iv, cctx, hctx, 0) == -1)
		rc = -1;
	else
		rc = found == 0 ? 1 : 2;
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

/*
 * The session id context: a digest of which listener kind this is and
 * of the device CA file's bytes, so that a session whose client
 * certificate was verified under one CA does not resume under another
 * (a reload that changed device_ca).  0 or -1.
 */
static int
tls_sid_context(SSL_CTX *ctx, const char *client_ca)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[4096];
	unsigned int mdlen = 0;
	EVP_MD_CTX *m;
	FILE *fp = NULL;
	size_t n;
	int ok = 0, verify = client_ca != NULL && client_ca[0] != '\0';

	if ((m = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(m, verify ? "otagw-ca" : "otagw", verify ? 8 :
	    5) != 1)
		goto out;
	if (verify) {
		if ((fp = fopen(client_ca, "rb")) == NULL)
			goto out;
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			if (EVP_DigestUpdate(m, buf, n) != 1)
				goto out;
		if (ferror(fp))
			goto out;
	}
	if (EVP_DigestFinal_ex(m, md, &mdlen) != 1 ||
	    mdlen > SSL_MAX_SID_CTX_LENGTH)
		goto out;
	ok = SSL_CTX_set_session_id_context(ctx, md, mdlen) == 1;
out:
	if (fp != NULL)
		fclose(fp);
	EVP_MD_CTX_free(m);
	return ok ? 0 : -1;
}

/*
 * Resumption of a new server context: the defaults of tls.h, our ticket
 * callback with a first key, the session id context, and one TLS 1.3
 * ticket per handshake (a device that wakes, checks and leaves uses one;
 * OpenSSL's default of two costs an encryption and a record each).
 * 0 or -1.
 */
static int
tls_server_resumption_init(struct tls_server *ts, const char *client_ca)
{
	if ((ts->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) == NULL) {
		tls_log_errors("tls: AES-256-CBC for session tickets");
		return -1;
	}
	if (tls_sid_context(ts->ctx, client_ca) == -1) {
		tls_log_errors("tls: session id context");
		return -1;
	}
	(void)tls_server_set_resumption(ts, TLS_SESSION_CACHE_DEFAULT,
	    TLS_SESSION_TIMEOUT_DEFAULT, TLS_TICKET_ROTATE_DEFAULT);
	if (tls_ticket_rotate(ts) == -1)
		return -1;
	SSL_CTX_set_app_data(ts->ctx, ts);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ts->ctx,
	    tls_ticket_cb) != 1 || SSL_CTX_set_num_tickets(ts->ctx, 1) != 1) {
		tls_log_errors("tls: session tickets");
		return -1;
	}
	/* a TCP close without close_notify keeps the session resumable */
	SSL_CTX_set_options(ts->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	return 0;
}

struct tls_server *
tls_server_new(const char *cert, const char *key, const char *client_ca)
{
	struct tls_server *ts;

	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		log_warn("tls: server");
		return NULL;
	}
	if (pthread_mutex_init(&ts->lock, NULL) != 0) {
		free(ts);
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
	if (tls_server_resumption_init(ts, client_ca) == -1)
		goto fail;
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
tls_server_retire(struct tls_server *ts)
{
	SSL_CTX *ctx;

	if (ts == NULL)
		return;
	ctx = ts->ctx;
	ts->ctx = NULL;
	SSL_CTX_free(ctx);
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx);
	EVP_CIPHER_free(ts->aes);
	OPENSSL_cleanse(ts->keys, sizeof(ts->keys));
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

int
tls_server_set_resumption(struct tls_server *ts, size_t cache,
    unsigned timeout_s, unsigned rotate_s)
{
	if (timeout_s == 0 || rotate_s == 0 || cache > LONG_MAX)
		return -1;
	if (cache == 0)
		SSL_CTX_set_session_cache_mode(ts->ctx, SSL_SESS_CACHE_OFF);
	else {
		SSL_CTX_set_session_cache_mode(ts->ctx, SSL_SESS_CACHE_SERVER |
		    SSL_SESS_CACHE_NO_AUTO_CLEAR);
		SSL_CTX_sess_set_cache_size(ts->ctx, (long)cache);
	}
	SSL_CTX_set_timeout(ts->ctx, (long)timeout_s);
	ts->rotate_s = rotate_s;
	return 0;
}

void
tls_server_take_ticket_keys(struct tls_server *to,
    const struct tls_server *from)
{
	struct tls_server *f = (struct tls_server *)from;

	if (to == NULL || from == NULL || to == from)
		return;
	pthread_mutex_lock(&f->lock);
	pthread_mutex_lock(&to->lock);
	memcpy(to->keys, from->keys, sizeof(to->keys));
	pthread_mutex_unlock(&to->lock);
	pthread_mutex_unlock(&f->lock);
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
	int64_t	 now = tls_mono_s();
	int	 sweep;

	if (ts->ctx == NULL)
		return NULL;	/* retired */
	pthread_mutex_lock(&ts->lock);
	if ((sweep = now - ts->flushed >= TLS_FLUSH_S))
		ts->flushed = now;
	pthread_mutex_unlock(&ts->lock);
	if (sweep)
		SSL_CTX_flush_sessions(ts->ctx, (long)time(NULL));
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
	/* done: what it wrote leaves with the first answer */
	if ((rc = SSL_do_handshake(c->ssl)) == 1)
		return 1;
	rc = tls_result(c, rc);
	if (rc == TLS_CLOSED)
		return TLS_ERROR;
	/* the flight must be out before waiting for the peer's answer */
	if (rc == TLS_WANT_READ && (rc = tls_conn_flush(c)) == 0)
		return TLS_WANT_READ;
	return rc;
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

/*
 * A peer whose TCP side has closed (it read its answer and left, with or
 * without close_notify) gets no close_notify: it cannot read one, and the
 * write would cost a system call per connection.  Marking the shutdown
 * as sent still keeps the session resumable.
 */
void
tls_conn_shutdown(struct tls_conn *c)
{
	BIO	*rb;

	if (c == NULL)
		return;
	ERR_clear_error();
	if ((rb = SSL_get_rbio(c->ssl)) != NULL && BIO_eof(rb) == 1 &&
	    SSL_is_init_finished(c->ssl)) {
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN |
		    SSL_RECEIVED_SHUTDOWN);
		return;
	}
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

/*
 * The gather filter: the write side of a server connection.  It holds
 * the records OpenSSL writes in a buffer of cap bytes and swallows
 * OpenSSL's own flushes, so the records of a handshake flight, a TLS 1.3
 * session ticket and the first answer leave in one write(2) when the
 * caller flushes (tls_conn_flush, and tls_conn_handshake before it waits
 * to read).  When a record does not fit, what is held is written first;
 * a record as big as the buffer goes straight through.  The buffer is
 * allocated at the first record held and given back by tls_conn_trim,
 * so an idle keep-alive connection holds none.
 */
struct tls_gather {
	uint8_t	*buf;
	size_t	 cap;
	size_t	 off, len;	/* buf[off..len) is held, not yet written */
};

/* Writes what is held.  1: all of it; -1: the socket's retry or error. */
static int
tls_gather_drain(BIO *b, struct tls_gather *g)
{
	BIO	*next = BIO_next(b);
	size_t	 n;
	int	 rc;

	/* a retry from an earlier drain must not outlive it */
	BIO_clear_retry_flags(b);
	while (g->off < g->len) {
		n = g->len - g->off;
		rc = BIO_write(next, g->buf + g->off,
		    n > INT_MAX ? INT_MAX : (int)n);
		if (rc <= 0) {
			BIO_copy_next_retry(b);
			return -1;
		}
		g->off += (size_t)rc;
	}
	g->off = g->len = 0;
	return 1;
}

static int
tls_gather_write(BIO *b, const char *p, int n)
{
	struct tls_gather *g = BIO_get_data(b);
	BIO	*next = BIO_next(b);
	int	 rc;

	BIO_clear_retry_flags(b);
	if (n <= 0 || next == NULL)
		return 0;
	if (g->len > 0 && g->len + (size_t)n > g->cap &&
	    tls_gather_drain(b, g) == -1)
		return -1;
	if (g->len == 0 && (size_t)n >= g->cap) {
		rc = BIO_write(next, p, n);
		BIO_copy_next_retry(b);
		return rc;
	}
	if (g->buf == NULL && (g->buf = malloc(g->cap)) == NULL)
		return -1;
	memcpy(g->buf + g->len, p, (size_t)n);
	g->len += (size_t)n;
	return n;
}

static long
tls_gather_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_gather *g = BIO_get_data(b);
	BIO	*next = BIO_next(b);
	long	 rc;

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;	/* the caller flushes: tls_conn_flush */
	case BIO_CTRL_WPENDING:
		rc = next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
		return (long)(g->len - g->off) + (rc > 0 ? rc : 0);
	default:
		break;
	}
	if (next == NULL)
		return 0;
	BIO_clear_retry_flags(b);
	rc = BIO_ctrl(next, cmd, num, ptr);
	BIO_copy_next_retry(b);
	return rc;
}

static int
tls_gather_destroy(BIO *b)
{
	struct tls_gather *g = BIO_get_data(b);

	if (g != NULL) {
		free(g->buf);
		free(g);
		BIO_set_data(b, NULL);
	}
	return 1;
}

static BIO_METHOD *
tls_gather_method_new(void)
{
	BIO_METHOD *m;
	int	 type;

	if ((type = BIO_get_new_index()) == -1 ||
	    (m = BIO_meth_new(type | BIO_TYPE_FILTER, "otagw gather")) == NULL)
		return NULL;
	if (BIO_meth_set_write(m, tls_gather_write) != 1 ||
	    BIO_meth_set_ctrl(m, tls_gather_ctrl) != 1 ||
	    BIO_meth_set_destroy(m, tls_gather_destroy) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/*
 * The filter's method, made once whichever worker asks first; a failure
 * (memory) is logged and tried again at the next connection.
 */
static BIO_METHOD *
tls_gather_method(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static BIO_METHOD *meth;
	BIO_METHOD *m;

	pthread_mutex_lock(&lock);
	if (meth == NULL && (meth = tls_gather_method_new()) == NULL)
		tls_log_errors("tls: the write filter");
	m = meth;
	pthread_mutex_unlock(&lock);
	return m;
}

/* The connection's filter state, or NULL when writes are not gathered. */
static struct tls_gather *
tls_conn_gather(const struct tls_conn *c)
{
	BIO	*b;

	if (!c->buffered || (b = SSL_get_wbio(c->ssl)) == NULL)
		return NULL;
	return BIO_get_data(b);
}

int
tls_conn_buffer_writes(struct tls_conn *c, size_t size)
{
	BIO_METHOD *gm;
	BIO	*sock, *b;
	struct tls_gather *g;

	if (c->buffered)
		return 0;
	if ((gm = tls_gather_method()) == NULL ||
	    (sock = SSL_get_wbio(c->ssl)) == NULL ||
	    (g = calloc(1, sizeof(*g))) == NULL)
		return -1;
	if ((b = BIO_new(gm)) == NULL) {
		free(g);
		return -1;
	}
	g->cap = size;
	BIO_set_data(b, g);
	BIO_set_init(b, 1);
	if (BIO_up_ref(sock) != 1) {
		BIO_free(b);
		return -1;
	}
	/* rbio keeps the socket BIO; writes go through the filter */
	BIO_push(b, sock);
	SSL_set0_wbio(c->ssl, b);
	c->buffered = 1;
	return 0;
}

int
tls_conn_flush(struct tls_conn *c)
{
	struct tls_gather *g = tls_conn_gather(c);
	BIO	*b;

	if (g == NULL || g->off == g->len)
		return 0;
	b = SSL_get_wbio(c->ssl);
	errno = 0;
	if (tls_gather_drain(b, g) == 1)
		return 0;
	if (BIO_should_retry(b))
		return TLS_WANT_WRITE;
	return TLS_ERROR;
}

size_t
tls_conn_unflushed(const struct tls_conn *c)
{
	const struct tls_gather *g = tls_conn_gather(c);

	return g != NULL ? g->len - g->off : 0;
}

int
tls_conn_trim(struct tls_conn *c)
{
	struct tls_gather *g;

	if (c == NULL || (g = tls_conn_gather(c)) == NULL || g->buf == NULL ||
	    g->len > 0)
		return 0;
	free(g->buf);
	g->buf = NULL;
	return 1;
}

size_t
tls_conn_pending(const struct tls_conn *c)
{
	int	 n = SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}
