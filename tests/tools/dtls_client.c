/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dtls_client.c: a DTLS-PSK client for the integration tests, with OpenSSL.
 *
 * coap-client-openssl cannot send hand-made CoAP messages or stop half
 * way through a handshake; the hostile-input tests need both.
 *
 *   dtls_client [-b ADDR] HOST PORT IDENTITY KEYHEX send HEX...
 *       handshake, then send each HEX datagram in turn and print every
 *       datagram that comes back within a second as one hex line
 *       ("-" when nothing came); exit 0 when the handshake completed
 *   dtls_client [-b ADDR] HOST PORT IDENTITY KEYHEX halfopen N SECONDS
 *       open N handshakes from N source ports, each stopping right after
 *       its ClientHello with a cookie (the server is left waiting), keep
 *       them silent for SECONDS, and print how many got the server's
 *       first flight ("flights N")
 *   dtls_client [-b ADDR] HOST PORT IDENTITY KEYHEX idle N SECONDS HEX
 *       open N sessions from N source ports one after another, each a
 *       whole handshake and the HEX datagram sent once; print how many
 *       got an answer within a second ("answered N"); then forget the
 *       DTLS state (no close_notify) and keep the sockets open and silent
 *       for SECONDS: N idle sessions on the server
 *
 * -b binds the source address (another loopback address is another host).
 * Exit status 2 on usage errors, 1 when the handshake failed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static const char *identity;
static unsigned char key[64];
static size_t keylen;

static unsigned int
psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id,
    unsigned char *psk, unsigned int max_psk)
{
	(void)ssl;
	(void)hint;
	if (strlen(identity) + 1 > max_id || keylen > max_psk)
		return 0;
	memcpy(id, identity, strlen(identity) + 1);
	memcpy(psk, key, keylen);
	return (unsigned int)keylen;
}

static int
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s), i;
	unsigned int b;

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	return (int)(n / 2);
}

/* A UDP socket bound to bind_addr (or any) and connected to host:port. */
static int
udp_connect(const char *host, const char *port, const char *bind_addr)
{
	struct addrinfo hints, *res;
	int fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_DGRAM, 0);
	if (fd != -1 && bind_addr != NULL) {
		struct addrinfo *b;

		if (getaddrinfo(bind_addr, "0", &hints, &b) != 0 ||
		    bind(fd, b->ai_addr, b->ai_addrlen) == -1) {
			close(fd);
			fd = -1;
		} else
			freeaddrinfo(b);
	}
	if (fd != -1 && connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static SSL *
dtls_new(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
	BIO_ADDR *peer = BIO_ADDR_new();
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	/* The socket is connected: tell the BIO who the peer is. */
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			BIO_ADDR_rawmake(peer, AF_INET, &in->sin_addr, 4,
			    in->sin_port);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			BIO_ADDR_rawmake(peer, AF_INET6, &in6->sin6_addr, 16,
			    in6->sin6_port);
		}
		BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, peer);
	}
	BIO_ADDR_free(peer);
	SSL_set_bio(ssl, bio, bio);
	SSL_set_connect_state(ssl);
	return ssl;
}

static int
wait_readable(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) > 0;
}

static int
cmd_send(SSL_CTX *ctx, int fd, int argc, char **argv)
{
	unsigned char buf[70000];
	SSL *ssl = dtls_new(ctx, fd);
	struct timeval tv = { 5, 0 };
	int i, n, got;

	BIO_ctrl(SSL_get_rbio(ssl), BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
	if ((n = SSL_connect(ssl)) != 1) {
		fprintf(stderr, "handshake failed (%d, %s)\n",
		    SSL_get_error(ssl, n), strerror(errno));
		ERR_print_errors_fp(stderr);
		return 1;
	}
	tv.tv_sec = 1;
	BIO_ctrl(SSL_get_rbio(ssl), BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
	for (i = 0; i < argc; i++) {
		n = unhex(argv[i], buf, sizeof(buf));
		if (n <= 0 || SSL_write(ssl, buf, n) != n) {
			fprintf(stderr, "cannot send datagram %d\n", i);
			return 1;
		}
		got = 0;
		while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
			int j;

			for (j = 0; j < n; j++)
				printf("%02x", buf[j]);
			printf("\n");
			got = 1;
			/* One answer per request; stop waiting after it. */
			break;
		}
		if (!got)
			printf("-\n");
		fflush(stdout);
		ERR_clear_error();
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	return 0;
}

/* Is a ServerHello (handshake type 2) waiting on fd? */
static int
got_server_hello(int fd)
{
	unsigned char b[32];
	ssize_t n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);

	return n >= 14 && b[0] == 22 && b[13] == 2;
}

/* Waits until every socket in fds has a datagram, or ms pass. */
static void
wait_all(int *fds, int n, int ms)
{
	struct timespec t0, t;
	int i, left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return;
		(void)wait_readable(fds[i], left);
	}
}

/*
 * In phases, so that N handshakes take about a second: every ClientHello,
 * every HelloVerifyRequest answered, then a count of who got the server's
 * first flight.  OpenSSL reads from a memory BIO that gets only the
 * HelloVerifyRequest, so it never sees the server's flight and the
 * handshake stays half-open however fast the server answers.
 */
static int
cmd_halfopen(SSL_CTX *ctx, const char *host, const char *port,
    const char *bind_addr, int n, int seconds)
{
	int *fds = calloc((size_t)n, sizeof(int));
	SSL **ssls = calloc((size_t)n, sizeof(SSL *));
	BIO **mems = calloc((size_t)n, sizeof(BIO *));
	unsigned char buf[2048];
	ssize_t len;
	int i, flights = 0;

	for (i = 0; i < n; i++) {
		fds[i] = udp_connect(host, port, bind_addr);
		if (fds[i] == -1) {
			perror("socket");
			return 1;
		}
		(void)fcntl(fds[i], F_SETFL, O_NONBLOCK);
		ssls[i] = dtls_new(ctx, fds[i]);
		mems[i] = BIO_new(BIO_s_mem());
		BIO_set_mem_eof_return(mems[i], -1);
		SSL_set0_rbio(ssls[i], mems[i]);
		(void)SSL_connect(ssls[i]);		/* ClientHello */
	}
	wait_all(fds, n, 3000);
	for (i = 0; i < n; i++) {
		len = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
		if (len <= 0)
			continue;
		BIO_write(mems[i], buf, (int)len);	/* the HVR only */
		(void)SSL_connect(ssls[i]);	/* ClientHello with cookie */
	}
	ERR_clear_error();
	wait_all(fds, n, 1000);
	for (i = 0; i < n; i++)
		if (got_server_hello(fds[i]))
			flights++;		/* left unread */
	printf("flights %d\n", flights);
	fflush(stdout);
	sleep((unsigned)seconds);
	for (i = 0; i < n; i++) {
		SSL_free(ssls[i]);		/* and mems[i] with it */
		close(fds[i]);
	}
	free(fds);
	free(ssls);
	free(mems);
	return 0;
}

/*
 * N established sessions, each with one request answered, then silent.
 * The client's SSL objects are freed (the sockets stay), so that holding
 * thousands costs this process little.
 */
static int
cmd_idle(SSL_CTX *ctx, const char *host, const char *port,
    const char *bind_addr, int n, int seconds, const char *hex)
{
	unsigned char req[2048], buf[4096];
	struct timeval tv = { 1, 0 };
	int i, fd, len, answered = 0;
	SSL *ssl;

	if ((len = unhex(hex, req, sizeof(req))) <= 0)
		return 2;
	for (i = 0; i < n; i++) {
		if ((fd = udp_connect(host, port, bind_addr)) == -1) {
			perror("socket");
			return 1;
		}
		ssl = dtls_new(ctx, fd);
		BIO_ctrl(SSL_get_rbio(ssl), BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0,
		    &tv);
		if (SSL_connect(ssl) == 1 && SSL_write(ssl, req, len) == len &&
		    SSL_read(ssl, buf, sizeof(buf)) > 0)
			answered++;
		ERR_clear_error();
		SSL_free(ssl);		/* the socket stays open */
	}
	printf("answered %d\n", answered);
	fflush(stdout);
	sleep((unsigned)seconds);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *bind_addr = NULL;
	SSL_CTX *ctx;
	int fd, n, rc;

	if (argc > 2 && strcmp(argv[1], "-b") == 0) {
		bind_addr = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: dtls_client [-b ADDR] HOST PORT ID "
		    "KEYHEX send HEX... | halfopen N SECONDS | "
		    "idle N SECONDS HEX\n");
		return 2;
	}
	identity = argv[3];
	if ((n = unhex(argv[4], key, sizeof(key))) <= 0)
		return 2;
	keylen = (size_t)n;
	ctx = SSL_CTX_new(DTLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_cipher_list(ctx, "PSK");
	SSL_CTX_set_psk_client_callback(ctx, psk_cb);
	/* each command's objects and the context are freed, for ASan runs */
	if (strcmp(argv[5], "halfopen") == 0 && argc == 8)
		rc = cmd_halfopen(ctx, argv[1], argv[2], bind_addr,
		    atoi(argv[6]), atoi(argv[7]));
	else if (strcmp(argv[5], "idle") == 0 && argc == 9)
		rc = cmd_idle(ctx, argv[1], argv[2], bind_addr,
		    atoi(argv[6]), atoi(argv[7]), argv[8]);
	else if (strcmp(argv[5], "send") != 0)
		rc = 2;
	else if ((fd = udp_connect(argv[1], argv[2], bind_addr)) == -1) {
		perror("socket");
		rc = 1;
	} else {
		rc = cmd_send(ctx, fd, argc - 6, argv + 6);
		close(fd);
	}
	SSL_CTX_free(ctx);
	return rc;
}
