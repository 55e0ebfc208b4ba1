/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * source.c: open connections per source address, for the HTTPS listeners'
 * max_connections_per_source (see conn.h).
 *
 * A source is an IPv4 address, or the /64 prefix of an IPv6 address (one
 * host or one site usually holds a whole /64, and can pick any address
 * in it); an IPv4-mapped IPv6 address counts as its IPv4 address.  Each
 * source with at least one open connection has an entry in a chained hash
 * table, found at accept time and kept by the connection until it closes,
 * so taking and releasing cost O(1) whatever the number of connections.
 * The table never grows: its bucket count is fixed from the expected
 * number of connections at creation, and entries are freed with their
 * last connection, so its memory follows the connections it counts.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"

#define SOURCE_KEY	9	/* family, then 4 or 8 address bytes */

struct http_source {
	struct http_source *next;
	uint8_t	 key[SOURCE_KEY];
	unsigned n;		/* open connections */
};

struct http_sources {
	struct http_source **tab;
	size_t	 mask;
};

/* The source key of an address: 0, or -1 for a family not counted. */
static int
source_key(const struct sockaddr *sa, uint8_t key[SOURCE_KEY])
{
	static const uint8_t mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	const uint8_t *a;

	memset(key, 0, SOURCE_KEY);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		key[0] = 4;
		memcpy(key + 1, a + 12, 4);
	} else {
		key[0] = 6;
		memcpy(key + 1, a, 8);
	}
	return 0;
}

/* FNV-1a */
static size_t
source_hash(const uint8_t key[SOURCE_KEY])
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < SOURCE_KEY; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

struct http_sources *
http_sources_new(size_t expected)
{
	struct http_sources *ss;
	size_t n = 64;

	while (n < expected / 2 && n < 65536)
		n *= 2;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	if ((ss->tab = calloc(n, sizeof(*ss->tab))) == NULL) {
		free(ss);
		return NULL;
	}
	ss->mask = n - 1;
	return ss;
}

void
http_sources_free(struct http_sources *ss)
{
	struct http_source *e, *next;
	size_t i;

	if (ss == NULL)
		return;
	for (i = 0; i <= ss->mask; i++) {
		for (e = ss->tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(ss->tab);
	free(ss);
}

int
http_sources_take(struct http_sources *ss, const struct sockaddr *sa,
    unsigned max, struct http_source **out)
{
	struct http_source *e;
	uint8_t	 key[SOURCE_KEY];
	size_t	 b;

	*out = NULL;
	if (source_key(sa, key) == -1)
		return 0;	/* not counted (AF_UNIX...) */
	b = source_hash(key) & ss->mask;
	for (e = ss->tab[b]; e != NULL; e = e->next)
		if (memcmp(e->key, key, SOURCE_KEY) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -1;
		memcpy(e->key, key, SOURCE_KEY);
		e->next = ss->tab[b];
		ss->tab[b] = e;
	}
	if (max > 0 && e->n >= max)
		return 1;
	e->n++;
	*out = e;
	return 0;
}

void
http_sources_release(struct http_sources *ss, struct http_source *e)
{
	struct http_source **pp;

	if (e == NULL || --e->n > 0)
		return;
	for (pp = &ss->tab[source_hash(e->key) & ss->mask]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
	}
}

unsigned
http_sources_count(const struct http_sources *ss, const struct sockaddr *sa)
{
	const struct http_source *e;
	uint8_t	 key[SOURCE_KEY];

	if (source_key(sa, key) == -1)
		return 0;
	for (e = ss->tab[source_hash(key) & ss->mask]; e != NULL; e = e->next)
		if (memcmp(e->key, key, SOURCE_KEY) == 0)
			return e->n;
	return 0;
}
