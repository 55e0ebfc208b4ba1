/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * range.c: Range, If-Range and If-None-Match decisions (RFC 9110 §13, §14)
 * and the framing of multipart/byteranges, without any I/O.
 *
 * The device front end (device.c) calls these with the header values it
 * received and the image's size and entity tag, and turns the answers into
 * 200, 206, 304 or 416.  Parsers walk the string with a cursor and never
 * read past its NUL; numbers saturate at UINT64_MAX so that a hostile
 * "bytes=99999999999999999999999-" is simply past the end, never wrapped
 * around.  See range.h for the contracts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/range.h"

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
skip_ows(const char *p)
{
	while (is_ows(*p))
		p++;
	return p;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads 1*DIGIT at *pp, saturating at UINT64_MAX.  Returns 0 and advances,
 * or -1 when there is no digit.
 */
static int
parse_uint(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;
	unsigned d;

	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + d;
	}
	*v = n;
	*pp = p;
	return 0;
}

/*
 * One range-spec at *pp, ending before ',', OWS or NUL.  Returns 1 with r
 * set (satisfiable, clamped), 0 for a well-formed but unsatisfiable spec,
 * or -1 for bad syntax.
 */
static int
parse_spec(const char **pp, uint64_t size, struct range *r)
{
	const char *p = *pp;
	uint64_t a, b;
	int has_last = 0;

	if (*p == '-') {
		/* suffix-range: the last n bytes */
		p++;
		if (parse_uint(&p, &b) != 0)
			return -1;
		*pp = p;
		if (b == 0 || size == 0)
			return 0;
		r->first = b >= size ? 0 : size - b;
		r->last = size - 1;
		return 1;
	}
	if (parse_uint(&p, &a) != 0 || *p != '-')
		return -1;
	p++;
	if (is_digit(*p)) {
		if (parse_uint(&p, &b) != 0)
			return -1;
		if (b < a)
			return -1;
		has_last = 1;
	}
	*pp = p;
	if (a >= size)
		return 0;
	r->first = a;
	r->last = !has_last || b >= size ? size - 1 : b;
	return 1;
}

static int
ranges_overlap(const struct range *out, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (out[i].first <= out[j].last &&
			    out[j].first <= out[i].last)
				return 1;
	return 0;
}

int
range_parse(const char *value, uint64_t size, struct range *out, size_t max,
    size_t *n)
{
	const char *p;
	struct range r;
	size_t listed = 0, kept = 0;
	int rc;

	*n = 0;
	if (value == NULL)
		return RANGE_ABSENT;
	if (max == 0)
		return RANGE_INVALID;
	p = skip_ows(value);
	if (strncasecmp(p, "bytes", 5) != 0)
		return RANGE_INVALID;
	p += 5;
	if (*p != '=')
		return RANGE_INVALID;
	p++;
	for (;;) {
		p = skip_ows(p);
		if (*p == ',') {		/* empty list element */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		rc = parse_spec(&p, size, &r);
		if (rc < 0)
			return RANGE_INVALID;
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return RANGE_INVALID;
		/* Count before storing: out[] never takes more than max. */
		if (++listed > max)
			return RANGE_TOO_MANY;
		if (rc == 1)
			out[kept++] = r;
	}
	if (listed == 0)
		return RANGE_INVALID;
	if (kept == 0)
		return RANGE_UNSATISFIABLE;
	if (kept > 1 && ranges_overlap(out, kept))
		return RANGE_OVERLAP;
	*n = kept;
	return RANGE_PARTIAL;
}

const char *
range_result_name(int rc)
{
	switch (rc) {
	case RANGE_ABSENT:
		return "absent";
	case RANGE_INVALID:
		return "invalid";
	case RANGE_TOO_MANY:
		return "too-many";
	case RANGE_OVERLAP:
		return "overlap";
	case RANGE_PARTIAL:
		return "partial";
	case RANGE_UNSATISFIABLE:
		return "unsatisfiable";
	}
	return "?";
}

/* etagc = %x21 / %x23-7E / obs-text */
static int
is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/*
 * One entity-tag at *pp: [W/] DQUOTE *etagc DQUOTE.  Returns 0 with the
 * opaque tag (quotes included) in *tag and *len, *weak set, and advances;
 * -1 on bad syntax.
 */
static int
parse_etag(const char **pp, const char **tag, size_t *len, int *weak)
{
	const char *p = *pp, *start;

	*weak = 0;
	if (p[0] == 'W' && p[1] == '/') {
		*weak = 1;
		p += 2;
	}
	if (*p != '"')
		return -1;
	start = p++;
	while (is_etagc((unsigned char)*p))
		p++;
	if (*p != '"')
		return -1;
	p++;
	*tag = start;
	*len = (size_t)(p - start);
	*pp = p;
	return 0;
}

static int
tag_equal(const char *tag, size_t len, const char *etag)
{
	return strlen(etag) == len && memcmp(tag, etag, len) == 0;
}

int
range_if_range(const char *if_range, const char *etag)
{
	const char *p, *tag;
	size_t len;
	int weak;

	if (if_range == NULL)
		return 1;
	p = skip_ows(if_range);
	if (parse_etag(&p, &tag, &len, &weak) != 0)
		return 0;		/* an HTTP date, or garbage */
	p = skip_ows(p);
	if (*p != '\0' || weak)
		return 0;
	return tag_equal(tag, len, etag);
}

int
range_if_none_match(const char *inm, const char *etag)
{
	const char *p, *tag;
	size_t len;
	int weak;

	if (inm == NULL)
		return 0;
	p = skip_ows(inm);
	if (*p == '*')
		return *skip_ows(p + 1) == '\0';
	for (;;) {
		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			return 0;
		if (parse_etag(&p, &tag, &len, &weak) != 0)
			return 0;
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return 0;
		/* weak comparison: the W/ prefix does not matter */
		if (tag_equal(tag, len, etag))
			return 1;
	}
}

static int
fit(int len, size_t size)
{
	return len < 0 || (size_t)len >= size ? -1 : len;
}

/* Appends the decimal digits of v at p; returns the end. */
static char *
put_u64(char *p, uint64_t v)
{
	char	 d[20];
	size_t	 i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(p, d + i, sizeof(d) - i);
	return p + (sizeof(d) - i);
}

/*
 * "bytes FIRST-LAST/TOTAL", as snprintf would write it (cut to fit, -1
 * when cut) but without printf: a range answer makes one.
 */
int
range_content_range(char *buf, size_t size, const struct range *r,
    uint64_t total)
{
	char	 t[6 + 3 * 20 + 2 + 1], *p = t;
	size_t	 len;

	memcpy(p, "bytes ", 6);
	p = put_u64(p + 6, r->first);
	*p++ = '-';
	p = put_u64(p, r->last);
	*p++ = '/';
	p = put_u64(p, total);
	len = (size_t)(p - t);
	if (size > 0) {
		memcpy(buf, t, len < size ? len : size - 1);
		buf[len < size ? len : size - 1] = '\0';
	}
	return len < size ? (int)len : -1;
}

int
range_unsatisfied(char *buf, size_t size, uint64_t total)
{
	return fit(snprintf(buf, size, "bytes */%" PRIu64, total), size);
}

int
range_part_head(char *buf, size_t size, size_t index, const char *boundary,
    const char *ctype, const struct range *r, uint64_t total)
{
	return fit(snprintf(buf, size, "%s--%s\r\nContent-Type: %s\r\n"
	    "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
	    index == 0 ? "" : "\r\n", boundary, ctype, r->first, r->last,
	    total), size);
}

int
range_part_tail(char *buf, size_t size, const char *boundary)
{
	return fit(snprintf(buf, size, "\r\n--%s--\r\n", boundary), size);
}

int64_t
range_multipart_length(const struct range *r, size_t n, const char *boundary,
    const char *ctype, uint64_t total)
{
	char	 buf[RANGE_PART_HEAD_MAX];
	uint64_t sum = 0, part;
	size_t	 i;
	int	 len;

	if (strlen(boundary) > RANGE_BOUNDARY_MAX || strlen(ctype) > 64)
		return -1;
	for (i = 0; i < n; i++) {
		if (r[i].first > r[i].last || r[i].last >= total)
			return -1;
		if ((len = range_part_head(buf, sizeof(buf), i, boundary,
		    ctype, &r[i], total)) < 0)
			return -1;
		if (r[i].last - r[i].first >= (uint64_t)INT64_MAX)
			return -1;
		part = (uint64_t)len + (r[i].last - r[i].first);
		if (part >= (uint64_t)INT64_MAX - sum)
			return -1;
		sum += part + 1;
	}
	if ((len = range_part_tail(buf, sizeof(buf), boundary)) < 0)
		return -1;
	if ((uint64_t)len >= (uint64_t)INT64_MAX - sum)
		return -1;
	return (int64_t)(sum + (uint64_t)len);
}
