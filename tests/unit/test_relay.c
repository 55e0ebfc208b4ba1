/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_relay.c: the relay's decisions without sockets: which answers
 * delete, retry or park a batch, the backoff's jitter bounds, batches
 * bounded in count and bytes, and https URL parsing for the client.
 * The network side is tests/integration/test_relay.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h2client.h"
#include "relay/relay.h"
#include "t.h"

static void
test_verdict(void)
{
	T_EQ_INT(relay_verdict(200), RELAY_DONE);
	T_EQ_INT(relay_verdict(201), RELAY_DONE);
	T_EQ_INT(relay_verdict(204), RELAY_DONE);
	T_EQ_INT(relay_verdict(0), RELAY_RETRY);
	T_EQ_INT(relay_verdict(408), RELAY_RETRY);
	T_EQ_INT(relay_verdict(429), RELAY_RETRY);
	T_EQ_INT(relay_verdict(500), RELAY_RETRY);
	T_EQ_INT(relay_verdict(503), RELAY_RETRY);
	T_EQ_INT(relay_verdict(599), RELAY_RETRY);
	T_EQ_INT(relay_verdict(400), RELAY_PARK);
	T_EQ_INT(relay_verdict(401), RELAY_PARK);
	T_EQ_INT(relay_verdict(413), RELAY_PARK);
	T_EQ_INT(relay_verdict(422), RELAY_PARK);
	T_EQ_INT(relay_verdict(301), RELAY_PARK);
}

static void
test_backoff(void)
{
	uint64_t v, max;
	unsigned a, i;

	T_EQ_INT(relay_backoff_ms(0, 500, 300000, 12345), 0);
	/* rnd 0 gives 0, the largest rnd the cap */
	T_EQ_INT(relay_backoff_ms(1, 500, 300000, 0), 0);
	T_EQ_INT(relay_backoff_ms(1, 500, 300000, 500), 500);
	T_EQ_INT(relay_backoff_ms(1, 500, 300000, 501), 0);
	T_EQ_INT(relay_backoff_ms(2, 500, 300000, 1000), 1000);
	T_EQ_INT(relay_backoff_ms(3, 500, 300000, 2000), 2000);
	T_EQ_INT(relay_backoff_ms(3, 500, 300000, 2001), 0);
	/* the ceiling holds however many attempts */
	T_EQ_INT(relay_backoff_ms(40, 500, 300000, 300000), 300000);
	T_EQ_INT(relay_backoff_ms(1000, 500, 300000, UINT64_MAX),
	    UINT64_MAX % 300001);
	T_EQ_INT(relay_backoff_ms(70, 500, UINT64_MAX, 7), 7);
	/* a ceiling below the base */
	T_EQ_INT(relay_backoff_ms(1, 500, 100, 100), 100);
	/* random draws stay inside [0, cap] and spread over it */
	srand(7);
	for (a = 1; a <= 12; a++) {
		uint64_t lo = UINT64_MAX, hi = 0;

		max = 500ULL << (a - 1);
		if (max > 60000)
			max = 60000;
		for (i = 0; i < 2000; i++) {
			v = relay_backoff_ms(a, 500, 60000,
			    ((uint64_t)rand() << 31) ^ (uint64_t)rand());
			if (v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
		T_CHECK(hi <= max);
		T_CHECK(lo < max / 4);
		T_CHECK(hi > max / 2);
	}
}

static void
test_batch(void)
{
	struct relay_batch b;
	char ev[64];
	int i, n;

	relay_batch_init(&b, 3, 1024);
	T_EQ_INT(relay_batch_close(&b), -1);	/* nothing to send */
	T_EQ_INT(relay_batch_add(&b, 5, "{\"seq\":5}", 9), 0);
	T_EQ_INT(relay_batch_add(&b, 7, "{\"seq\":7}", 9), 0);
	T_EQ_INT(relay_batch_add(&b, 8, "{\"seq\":8}", 9), 0);
	/* count bound */
	T_EQ_INT(relay_batch_add(&b, 9, "{\"seq\":9}", 9), 1);
	T_EQ_INT(b.count, 3);
	T_EQ_INT(b.first, 5);
	T_EQ_INT(b.last, 8);
	T_EQ_INT(relay_batch_close(&b), 0);
	T_EQ_INT(b.len, 31);
	T_CHECK(memcmp(b.buf, "[{\"seq\":5},{\"seq\":7},{\"seq\":8}]", 31) ==
	    0);

	/* byte bound: the array with brackets stays within max_bytes */
	relay_batch_reset(&b);
	T_EQ_INT(b.count, 0);
	T_EQ_INT(b.first, 0);
	b.max_count = 1000;
	b.max_bytes = 100;
	for (i = 1, n = 0; i < 100; i++) {
		int len = snprintf(ev, sizeof(ev), "{\"seq\":%d,\"x\":\"abc\"}",
		    i);
		int rc = relay_batch_add(&b, (uint64_t)i, ev, (size_t)len);

		if (rc == 1)
			break;
		T_EQ_INT(rc, 0);
		n++;
	}
	T_CHECK(n >= 1);
	T_EQ_INT(relay_batch_close(&b), 0);
	T_CHECK(b.len <= 100);
	T_EQ_INT(b.count, n);
	T_EQ_INT(b.buf[0], '[');
	T_EQ_INT(b.buf[b.len - 1], ']');

	/* an event alone over the byte bound still goes, alone */
	relay_batch_reset(&b);
	b.max_bytes = 10;
	T_EQ_INT(relay_batch_add(&b, 1, "{\"a\":\"0123456789\"}", 18), 0);
	T_EQ_INT(relay_batch_add(&b, 2, "{}", 2), 1);
	T_EQ_INT(relay_batch_close(&b), 0);
	T_EQ_INT(b.len, 20);
	relay_batch_free(&b);
	relay_batch_free(&b);	/* twice is fine */
}

static void
test_url(void)
{
	struct h2c_url u;

	T_EQ_INT(h2c_url_parse("https://up.example.com/v1/events", &u), 0);
	T_EQ_STR(u.host, "up.example.com");
	T_EQ_INT(u.port, 443);
	T_EQ_STR(u.path, "/v1/events");
	T_EQ_STR(u.authority, "up.example.com");
	T_EQ_INT(h2c_url_parse("https://localhost:8443", &u), 0);
	T_EQ_STR(u.path, "/");
	T_EQ_STR(u.authority, "localhost:8443");
	T_EQ_INT(u.port, 8443);
	T_EQ_INT(h2c_url_parse("https://[::1]:9/a?b=c#frag", &u), 0);
	T_EQ_STR(u.host, "::1");
	T_EQ_STR(u.authority, "[::1]:9");
	T_EQ_STR(u.path, "/a?b=c");
	T_EQ_INT(h2c_url_parse("https://h?x=1", &u), 0);
	T_EQ_STR(u.path, "/?x=1");
	T_EQ_INT(h2c_url_parse("HTTPS://H/", &u), 0);
	T_EQ_INT(h2c_url_parse("http://h/", &u), -1);
	T_EQ_INT(h2c_url_parse("https://", &u), -1);
	T_EQ_INT(h2c_url_parse("https://:443/", &u), -1);
	T_EQ_INT(h2c_url_parse("https://h:0/", &u), -1);
	T_EQ_INT(h2c_url_parse("https://h:65536/", &u), -1);
	T_EQ_INT(h2c_url_parse("https://h:12x/", &u), -1);
	T_EQ_INT(h2c_url_parse("https://user@h/", &u), -1);
	T_EQ_INT(h2c_url_parse("https://[::1/", &u), -1);
	T_EQ_INT(h2c_url_parse(NULL, &u), -1);
}

int
main(void)
{
	T_RUN(test_verdict);
	T_RUN(test_backoff);
	T_RUN(test_batch);
	T_RUN(test_url);
	return t_done();
}
