/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_source.c: unit tests of src/http/source.c, the per-source
 * connection counts behind max_connections_per_source.
 *
 * A table of addresses with the source each counts against (an IPv4
 * address; an IPv6 /64; IPv4-mapped IPv6 as IPv4; other families not
 * counted), the limit refusing the connection past it and counting
 * nothing, releases freeing a source's slots one by one, and a table much
 * smaller than its load (every source in a few buckets).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"
#include "t.h"

/* An address from text ("1.2.3.4" or an IPv6 address). */
static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		fprintf(stderr, "bad test address %s\n", text);
	return ss;
}

static int
take(struct http_sources *ss, const char *text, unsigned max,
    struct http_source **out)
{
	struct sockaddr_storage sa = addr(text);

	return http_sources_take(ss, (struct sockaddr *)&sa, max, out);
}

static unsigned
count(struct http_sources *ss, const char *text)
{
	struct sockaddr_storage sa = addr(text);

	return http_sources_count(ss, (struct sockaddr *)&sa);
}

/* Pairs of addresses, and whether they are one source. */
static const struct {
	const char *a, *b;
	int	 same;
} pairs[] = {
	{ "127.0.0.1", "127.0.0.1", 1 },
	{ "127.0.0.1", "127.0.0.2", 0 },
	{ "10.0.0.1", "10.0.1.1", 0 },
	{ "2001:db8:1:2::1", "2001:db8:1:2::2", 1 },
	{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 1 },
	{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
	{ "2001:db8::1", "2001:db9::1", 0 },
	{ "::ffff:192.0.2.7", "192.0.2.7", 1 },
	{ "::ffff:192.0.2.7", "::ffff:192.0.2.8", 0 },
	/* the v4 key must not meet a v6 prefix with the same bytes */
	{ "192.0.2.7", "c000:207::1", 0 },
	{ "::1", "::2", 1 },
};

static void
test_pairs(void)
{
	struct http_sources *ss;
	struct http_source *x, *y;
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		ss = http_sources_new(16);
		T_CHECK(ss != NULL);
		if (ss == NULL)
			return;
		T_EQ_INT(take(ss, pairs[i].a, 0, &x), 0);
		T_EQ_INT(take(ss, pairs[i].b, 0, &y), 0);
		T_CHECK(x != NULL && y != NULL);
		if ((x == y) != pairs[i].same)
			fprintf(stderr, "pair %zu: %s %s\n", i, pairs[i].a,
			    pairs[i].b);
		T_EQ_INT(x == y, pairs[i].same);
		T_EQ_INT(count(ss, pairs[i].a), pairs[i].same ? 2 : 1);
		http_sources_release(ss, x);
		http_sources_release(ss, y);
		T_EQ_INT(count(ss, pairs[i].a), 0);
		T_EQ_INT(count(ss, pairs[i].b), 0);
		http_sources_free(ss);
	}
}

static void
test_limit(void)
{
	struct http_sources *ss = http_sources_new(64);
	struct http_source *held[4], *e;
	int	 i;

	T_CHECK(ss != NULL);
	if (ss == NULL)
		return;
	for (i = 0; i < 3; i++)
		T_EQ_INT(take(ss, "198.51.100.9", 3, &held[i]), 0);
	/* the fourth is refused and counts nothing */
	T_EQ_INT(take(ss, "198.51.100.9", 3, &e), 1);
	T_CHECK(e == NULL);
	T_EQ_INT(count(ss, "198.51.100.9"), 3);
	/* another source is not affected */
	T_EQ_INT(take(ss, "198.51.100.10", 3, &held[3]), 0);
	/* one released: one more fits, and no more */
	http_sources_release(ss, held[0]);
	T_EQ_INT(take(ss, "198.51.100.9", 3, &held[0]), 0);
	T_EQ_INT(take(ss, "198.51.100.9", 3, &e), 1);
	/* 0 is no limit */
	T_EQ_INT(take(ss, "198.51.100.9", 0, &e), 0);
	T_EQ_INT(count(ss, "198.51.100.9"), 4);
	http_sources_release(ss, e);
	for (i = 0; i < 4; i++)
		http_sources_release(ss, held[i]);
	http_sources_release(ss, NULL);
	T_EQ_INT(count(ss, "198.51.100.9"), 0);
	T_EQ_INT(count(ss, "198.51.100.10"), 0);
	http_sources_free(ss);
	http_sources_free(NULL);
}

static void
test_other_family(void)
{
	struct http_sources *ss = http_sources_new(1);
	struct sockaddr_un su;
	struct http_source *e = (struct http_source *)&su;

	T_CHECK(ss != NULL);
	if (ss == NULL)
		return;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	T_EQ_INT(http_sources_take(ss, (struct sockaddr *)&su, 1, &e), 0);
	T_CHECK(e == NULL);
	T_EQ_INT(http_sources_count(ss, (struct sockaddr *)&su), 0);
	http_sources_free(ss);
}

/* 5,000 sources in a 64-bucket table, released in another order. */
static void
test_crowded(void)
{
	struct http_sources *ss = http_sources_new(1);
	static struct http_source *held[5000];
	struct http_source *e;
	char	 text[32];
	int	 i, ok = 1;

	T_CHECK(ss != NULL);
	if (ss == NULL)
		return;
	for (i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 250, i % 250);
		if (take(ss, text, 1, &held[i]) != 0 || held[i] == NULL)
			ok = 0;
		if (take(ss, text, 1, &e) != 1 || e != NULL)
			ok = 0;
	}
	T_CHECK(ok);
	for (i = 0; i < 5000; i += 2)
		http_sources_release(ss, held[i]);
	for (i = 1; i < 5000; i += 2)
		http_sources_release(ss, held[i]);
	for (i = 0, ok = 1; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 250, i % 250);
		if (count(ss, text) != 0)
			ok = 0;
	}
	T_CHECK(ok);
	http_sources_free(ss);
}

int
main(void)
{
	T_RUN(test_pairs);
	T_RUN(test_limit);
	T_RUN(test_other_family);
	T_RUN(test_crowded);
	return t_done();
}
