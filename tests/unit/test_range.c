/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_range.c: unit tests of src/http/range.c, the RFC 9110 range and
 * conditional decisions of HTTPS downloads.
 *
 * Tables of Range values against image sizes (single, open, suffix,
 * several, whitespace, clamping, unsatisfiable, bad syntax, huge numbers),
 * every truncated prefix of valid headers, If-Range and If-None-Match, and
 * the multipart/byteranges framing, whose computed length must equal the
 * bytes actually framed.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/range.h"
#include "t.h"

#define MAXR	4	/* a small max, so that the limit is reached */

struct rcase {
	const char *value;
	uint64_t size;
	int	 want;
	size_t	 n;
	struct range r[MAXR];
};

static const struct rcase rcases[] = {
	/* absent */
	{ NULL, 100, RANGE_ABSENT, 0, { { 0, 0 } } },
	/* single a-b */
	{ "bytes=0-0", 100, RANGE_PARTIAL, 1, { { 0, 0 } } },
	{ "bytes=0-99", 100, RANGE_PARTIAL, 1, { { 0, 99 } } },
	{ "bytes=10-19", 100, RANGE_PARTIAL, 1, { { 10, 19 } } },
	{ "bytes=99-99", 100, RANGE_PARTIAL, 1, { { 99, 99 } } },
	/* past the end: clamped (esp_https_ota asks for size, not size-1) */
	{ "bytes=90-100", 100, RANGE_PARTIAL, 1, { { 90, 99 } } },
	{ "bytes=0-1000000", 100, RANGE_PARTIAL, 1, { { 0, 99 } } },
	/* open a- */
	{ "bytes=0-", 100, RANGE_PARTIAL, 1, { { 0, 99 } } },
	{ "bytes=42-", 100, RANGE_PARTIAL, 1, { { 42, 99 } } },
	{ "bytes=99-", 100, RANGE_PARTIAL, 1, { { 99, 99 } } },
	/* suffix -n */
	{ "bytes=-1", 100, RANGE_PARTIAL, 1, { { 99, 99 } } },
	{ "bytes=-10", 100, RANGE_PARTIAL, 1, { { 90, 99 } } },
	{ "bytes=-100", 100, RANGE_PARTIAL, 1, { { 0, 99 } } },
	{ "bytes=-500", 100, RANGE_PARTIAL, 1, { { 0, 99 } } },
	/* unit case, whitespace, empty elements, leading zeros */
	{ "Bytes=1-2", 100, RANGE_PARTIAL, 1, { { 1, 2 } } },
	{ "BYTES=1-2", 100, RANGE_PARTIAL, 1, { { 1, 2 } } },
	{ "  bytes= 1-2 ", 100, RANGE_PARTIAL, 1, { { 1, 2 } } },
	{ "bytes=\t1-2\t,\t5-6", 100, RANGE_PARTIAL, 2,
	    { { 1, 2 }, { 5, 6 } } },
	{ "bytes=1-2,,5-6,", 100, RANGE_PARTIAL, 2, { { 1, 2 }, { 5, 6 } } },
	{ "bytes=,1-2", 100, RANGE_PARTIAL, 1, { { 1, 2 } } },
	{ "bytes=0001-0002", 100, RANGE_PARTIAL, 1, { { 1, 2 } } },
	/* several ranges, kept in the order asked */
	{ "bytes=0-9,20-29,-5", 100, RANGE_PARTIAL, 3,
	    { { 0, 9 }, { 20, 29 }, { 95, 99 } } },
	{ "bytes=50-59,0-9", 100, RANGE_PARTIAL, 2, { { 50, 59 }, { 0, 9 } } },
	{ "bytes=0-0,1-1,2-2,3-3", 100, RANGE_PARTIAL, 4,
	    { { 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 3 } } },
	/* an unsatisfiable one among others is dropped */
	{ "bytes=0-9,200-300", 100, RANGE_PARTIAL, 1, { { 0, 9 } } },
	{ "bytes=-0,5-5", 100, RANGE_PARTIAL, 1, { { 5, 5 } } },
	/* more than MAXR listed */
	{ "bytes=0-0,1-1,2-2,3-3,4-4", 100, RANGE_TOO_MANY, 0, { { 0, 0 } } },
	{ "bytes=0-0,1-1,2-2,3-3,200-", 100, RANGE_TOO_MANY, 0, { { 0, 0 } } },
	/* overlapping */
	{ "bytes=0-10,5-20", 100, RANGE_OVERLAP, 0, { { 0, 0 } } },
	{ "bytes=0-,-1", 100, RANGE_OVERLAP, 0, { { 0, 0 } } },
	{ "bytes=5-5,5-5", 100, RANGE_OVERLAP, 0, { { 0, 0 } } },
	/* unsatisfiable */
	{ "bytes=100-", 100, RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	{ "bytes=100-200", 100, RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	{ "bytes=-0", 100, RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	{ "bytes=100-,200-", 100, RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	{ "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	{ "bytes=-5", 0, RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	/* huge numbers saturate, never wrap */
	{ "bytes=0-99999999999999999999999999999", 100, RANGE_PARTIAL, 1,
	    { { 0, 99 } } },
	{ "bytes=18446744073709551615-", 100, RANGE_UNSATISFIABLE, 0,
	    { { 0, 0 } } },
	{ "bytes=18446744073709551616-", 100, RANGE_UNSATISFIABLE, 0,
	    { { 0, 0 } } },
	{ "bytes=-99999999999999999999999999999", 100, RANGE_PARTIAL, 1,
	    { { 0, 99 } } },
	{ "bytes=99999999999999999999-99999999999999999999", 100,
	    RANGE_UNSATISFIABLE, 0, { { 0, 0 } } },
	{ "bytes=18446744073709551614-18446744073709551615", UINT64_MAX,
	    RANGE_PARTIAL, 1, { { UINT64_MAX - 1, UINT64_MAX - 1 } } },
	{ "bytes=-1", UINT64_MAX, RANGE_PARTIAL, 1,
	    { { UINT64_MAX - 1, UINT64_MAX - 1 } } },
	/* bad syntax: ignored (whole image) */
	{ "", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes= , ,", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=-", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=5", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=a-b", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1-a", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=+1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1--2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=--2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=-1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1 -2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1- 2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1-2 3-4", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1-2;3-4", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=5-4", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=0-1,5-4", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes =1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes:1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "byte=1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytesx=1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "items=1-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=0x10-20", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1.5-2", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=\xff-1", 100, RANGE_INVALID, 0, { { 0, 0 } } },
	{ "bytes=1-2\r\nX: y", 100, RANGE_INVALID, 0, { { 0, 0 } } },
};

static void
test_parse_table(void)
{
	struct range out[MAXR];
	size_t	 i, j, n;
	int	 rc;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];

		memset(out, 0xa5, sizeof(out));
		rc = range_parse(c->value, c->size, out, MAXR, &n);
		if (rc != c->want || n != c->n)
			fprintf(stderr, "case %zu: \"%s\" size %" PRIu64
			    ": got %s n=%zu, want %s n=%zu\n", i,
			    c->value ? c->value : "(null)", c->size,
			    range_result_name(rc), n,
			    range_result_name(c->want), c->n);
		T_EQ_INT(rc, c->want);
		T_EQ_INT(n, c->n);
		for (j = 0; j < c->n && j < n; j++) {
			T_CHECK(out[j].first == c->r[j].first);
			T_CHECK(out[j].last == c->r[j].last);
		}
	}
}

/* max is honoured exactly: RANGE_MAX ranges pass, one more does not. */
static void
test_parse_max(void)
{
	struct range out[RANGE_MAX + 1];
	char	 buf[1024];
	size_t	 n, i, len;

	len = (size_t)snprintf(buf, sizeof(buf), "bytes=");
	for (i = 0; i < RANGE_MAX; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "%s%zu-%zu", i ? "," : "", i * 10, i * 10 + 4);
	T_EQ_INT(range_parse(buf, 1000, out, RANGE_MAX, &n), RANGE_PARTIAL);
	T_EQ_INT(n, RANGE_MAX);
	T_CHECK(out[RANGE_MAX - 1].first == (RANGE_MAX - 1) * 10);
	snprintf(buf + len, sizeof(buf) - len, ",900-901");
	T_EQ_INT(range_parse(buf, 1000, out, RANGE_MAX, &n), RANGE_TOO_MANY);
	T_EQ_INT(n, 0);
	/* max 0 is refused rather than written past */
	T_EQ_INT(range_parse("bytes=0-1", 1000, out, 0, &n), RANGE_INVALID);
}

/*
 * Every truncated prefix of valid headers parses to some defined result and
 * never reads past its end (the copy is exactly as long as the prefix, so
 * AddressSanitizer catches an over-read).
 */
static void
test_parse_truncated(void)
{
	static const char *const full[] = {
		"bytes=0-9,20-29,-5",
		"bytes=18446744073709551614-18446744073709551615",
		" Bytes = 1-2",
		"bytes=\t100-\t,\t-0",
	};
	struct range out[MAXR];
	size_t	 i, k, n;
	char	*p;
	int	 rc;

	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
		for (k = 0; k <= strlen(full[i]); k++) {
			p = malloc(k + 1);
			T_CHECK(p != NULL);
			if (p == NULL)
				return;
			memcpy(p, full[i], k);
			p[k] = '\0';
			rc = range_parse(p, 50, out, MAXR, &n);
			T_CHECK(rc >= RANGE_INVALID &&
			    rc <= RANGE_UNSATISFIABLE);
			T_CHECK(rc == RANGE_PARTIAL ? n >= 1 && n <= MAXR :
			    n == 0);
			for (size_t j = 0; rc == RANGE_PARTIAL && j < n; j++)
				T_CHECK(out[j].first <= out[j].last &&
				    out[j].last < 50);
			free(p);
		}
	}
	/* "bytes=0-9,20-2" is a valid prefix that happens to be invalid */
	T_EQ_INT(range_parse("bytes=0-9,20-2", 50, out, MAXR, &n),
	    RANGE_INVALID);
	T_EQ_INT(range_parse("bytes=0-9,2", 50, out, MAXR, &n),
	    RANGE_INVALID);
	T_EQ_INT(range_parse("bytes=0-9,", 50, out, MAXR, &n),
	    RANGE_PARTIAL);
}

/* A long header of digits and a long list of empty elements. */
static void
test_parse_long(void)
{
	struct range out[MAXR];
	size_t	 n, len = 100000;
	char	*p;

	p = malloc(len + 16);
	T_CHECK(p != NULL);
	if (p == NULL)
		return;
	memcpy(p, "bytes=0-", 8);
	memset(p + 8, '9', len);
	p[8 + len] = '\0';
	T_EQ_INT(range_parse(p, 10, out, MAXR, &n), RANGE_PARTIAL);
	T_CHECK(n == 1 && out[0].first == 0 && out[0].last == 9);
	memset(p + 6, ',', len);
	memcpy(p + 6 + len, "1-1", 4);
	T_EQ_INT(range_parse(p, 10, out, MAXR, &n), RANGE_PARTIAL);
	T_CHECK(n == 1 && out[0].first == 1 && out[0].last == 1);
	free(p);
}

#define ET	"\"0123abcd\""

struct ccase {
	const char *value;
	int	 want;
};

static void
test_if_range(void)
{
	static const struct ccase c[] = {
		{ NULL, 1 },
		{ ET, 1 },
		{ " " ET " ", 1 },
		{ "W/" ET, 0 },			/* strong comparison only */
		{ "\"0123abce\"", 0 },
		{ "\"0123abcd", 0 },
		{ "0123abcd", 0 },
		{ "\"\"", 0 },
		{ "", 0 },
		{ ET ", " ET, 0 },		/* one tag, not a list */
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 0 },	/* dates: whole */
		{ "Mon, 23 Nov 2026 20:00:00 GMT", 0 },
		{ "\"0123abcd\"x", 0 },
		{ "\"0123 abcd\"", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (range_if_range(c[i].value, ET) != c[i].want)
			fprintf(stderr, "If-Range case %zu: %s\n", i,
			    c[i].value ? c[i].value : "(null)");
		T_EQ_INT(range_if_range(c[i].value, ET), c[i].want);
	}
}

static void
test_if_none_match(void)
{
	static const struct ccase c[] = {
		{ NULL, 0 },
		{ ET, 1 },
		{ "W/" ET, 1 },			/* weak comparison */
		{ "*", 1 },
		{ " * ", 1 },
		{ "*, " ET, 0 },		/* malformed: "*" alone */
		{ "\"x\", " ET, 1 },
		{ "\"x\",W/" ET, 1 },
		{ "\"x\" ,\t" ET "  ", 1 },
		{ ",,\"x\",," ET, 1 },
		{ "\"x\", \"y\"", 0 },
		{ "\"0123ABCD\"", 0 },	/* opaque tags: case-sensitive */
		{ "", 0 },
		{ "w/" ET, 0 },
		{ "\"x\" garbage " ET, 0 },
		{ "garbage, " ET, 0 },
		{ "\"unterminated, " ET, 0 },
		{ ET "x", 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (range_if_none_match(c[i].value, ET) != c[i].want)
			fprintf(stderr, "If-None-Match case %zu: %s\n", i,
			    c[i].value ? c[i].value : "(null)");
		T_EQ_INT(range_if_none_match(c[i].value, ET), c[i].want);
	}
	/* every prefix of a list: defined, and only a whole tag matches */
	{
		const char *list = "\"aa\", W/\"0123abcd\"";
		char	 buf[64];
		size_t	 k;

		for (k = 0; k <= strlen(list); k++) {
			memcpy(buf, list, k);
			buf[k] = '\0';
			T_EQ_INT(range_if_none_match(buf, ET),
			    k == strlen(list));
		}
	}
}

static void
test_format(void)
{
	struct range r = { 10, 19 };
	struct range big = { 0, UINT64_MAX - 1 };
	char	 buf[64];

	T_EQ_INT(range_content_range(buf, sizeof(buf), &r, 100), 15);
	T_EQ_STR(buf, "bytes 10-19/100");
	T_EQ_INT(range_content_range(buf, 15, &r, 100), -1);	/* no room */
	T_CHECK(range_content_range(buf, sizeof(buf), &big, UINT64_MAX) > 0);
	T_EQ_STR(buf, "bytes 0-18446744073709551614/18446744073709551615");
	T_EQ_INT(range_unsatisfied(buf, sizeof(buf), 1234), 12);
	T_EQ_STR(buf, "bytes */1234");
	T_EQ_INT(range_unsatisfied(buf, 5, 1234), -1);
}

/* The length computed for a multipart body is the length framed. */
static void
test_multipart(void)
{
	struct range r[3] = { { 0, 9 }, { 50, 59 }, { 95, 99 } };
	const char *b = "otagw-0123456789abcdef";
	const char *ct = "application/octet-stream";
	char	 head[RANGE_PART_HEAD_MAX], want[160];
	int64_t	 total;
	int	 len, sum = 0;
	size_t	 i;

	len = range_part_head(head, sizeof(head), 0, b, ct, &r[0], 100);
	snprintf(want, sizeof(want), "--%s\r\nContent-Type: %s\r\n"
	    "Content-Range: bytes 0-9/100\r\n\r\n", b, ct);
	T_EQ_STR(head, want);
	T_EQ_INT(len, (int)strlen(want));
	len = range_part_head(head, sizeof(head), 1, b, ct, &r[1], 100);
	T_CHECK(len > 2 && memcmp(head, "\r\n--", 4) == 0);
	len = range_part_tail(head, sizeof(head), b);
	snprintf(want, sizeof(want), "\r\n--%s--\r\n", b);
	T_EQ_STR(head, want);

	for (i = 0; i < 3; i++) {
		len = range_part_head(head, sizeof(head), i, b, ct, &r[i], 100);
		T_CHECK(len > 0);
		sum += len + (int)(r[i].last - r[i].first + 1);
	}
	sum += range_part_tail(head, sizeof(head), b);
	total = range_multipart_length(r, 3, b, ct, 100);
	T_EQ_INT(total, sum);

	/* the longest boundary fits RANGE_PART_HEAD_MAX */
	{
		char	 lb[RANGE_BOUNDARY_MAX + 2];
		struct range w = { 0, UINT64_MAX - 2 };

		memset(lb, 'b', RANGE_BOUNDARY_MAX);
		lb[RANGE_BOUNDARY_MAX] = '\0';
		T_CHECK(range_part_head(head, sizeof(head), 1, lb, ct, &w,
		    UINT64_MAX - 1) > 0);
		T_CHECK(range_multipart_length(&w, 1, lb, ct,
		    UINT64_MAX - 1) < 0);	/* over INT64_MAX */
		lb[RANGE_BOUNDARY_MAX] = 'b';
		lb[RANGE_BOUNDARY_MAX + 1] = '\0';
		T_EQ_INT(range_multipart_length(r, 1, lb, ct, 100), -1);
	}
	/* ranges out of bounds are refused */
	{
		struct range bad = { 5, 100 };

		T_EQ_INT(range_multipart_length(&bad, 1, b, ct, 100), -1);
		bad.first = 6;
		bad.last = 5;
		T_EQ_INT(range_multipart_length(&bad, 1, b, ct, 100), -1);
	}
	T_EQ_STR(range_result_name(RANGE_PARTIAL), "partial");
	T_EQ_STR(range_result_name(99), "?");
}

int
main(void)
{
	T_RUN(test_parse_table);
	T_RUN(test_parse_max);
	T_RUN(test_parse_truncated);
	T_RUN(test_parse_long);
	T_RUN(test_if_range);
	T_RUN(test_if_none_match);
	T_RUN(test_format);
	T_RUN(test_multipart);
	return t_done();
}
