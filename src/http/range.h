/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * range.h: RFC 9110 range requests and conditionals, as pure functions.
 *
 * The HTTPS device front end (src/http/device.c) asks these functions what
 * to answer to a download: which byte ranges of an image of a given size a
 * Range header selects, whether If-Range lets the Range apply, whether
 * If-None-Match matches the image's entity tag (304), and how the
 * Content-Range values and multipart/byteranges part headers read.  Nothing
 * here knows about sockets, nghttp2 or the store, so every decision is unit
 * tested with tables (tests/unit/test_range.c), hostile input included.
 *
 * Header values are NUL-terminated strings as received (the server has
 * already capped their length).  Entity tags are passed with their quotes:
 * "\"<sha256 hex>\"".
 */
#ifndef OTAGW_HTTP_RANGE_H
#define OTAGW_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* Most ranges served as multipart/byteranges; more: the whole image. */
#define RANGE_MAX	16

/* One satisfiable range, inclusive, already clamped to the image. */
struct range {
	uint64_t first;
	uint64_t last;
};

enum range_result {
	RANGE_ABSENT = 0,	/* no Range header: 200, whole image */
	RANGE_INVALID,		/* bad syntax or not "bytes": ignored, 200 */
	RANGE_TOO_MANY,		/* more than max ranges: ignored, 200 */
	RANGE_OVERLAP,		/* several ranges that overlap: ignored, 200 */
	RANGE_PARTIAL,		/* 206: n ranges in out[] */
	RANGE_UNSATISFIABLE,	/* 416 with Content-Range: bytes * / size */
};

/*
 * Parses a Range header value (NULL: absent) against an image of size
 * bytes.  Syntax: "bytes=" then a comma-separated list of "a-b", "a-" and
 * "-n", with optional whitespace around the commas and after '='; the unit
 * is case-insensitive; empty list elements are skipped.  Numbers of any
 * length saturate instead of overflowing.  A range that starts at or past
 * the end, or a suffix "-0", is unsatisfiable and dropped; "a-b" with b at
 * or past the end is clamped to the last byte.  When no range is left the
 * answer is RANGE_UNSATISFIABLE.  "a-b" with b < a makes the whole header
 * invalid.  With RANGE_PARTIAL, out[0..*n-1] hold the ranges in the order
 * asked (max must be at least 1; more than max ranges listed gives
 * RANGE_TOO_MANY, and several ranges that overlap give RANGE_OVERLAP,
 * since a client asking for those is better served by the whole image).
 */
int	 range_parse(const char *value, uint64_t size, struct range *out,
	    size_t max, size_t *n);

/* A short word for a result, for logs: "absent", "partial", ... */
const char *range_result_name(int);

/*
 * If-Range (RFC 9110 §13.1.5): 1 when the Range applies, 0 when the whole
 * image must be sent instead.  NULL (absent) gives 1.  Only a strong entity
 * tag equal to etag matches; a weak tag, an HTTP date or anything else
 * gives 0.
 */
int	 range_if_range(const char *if_range, const char *etag);

/*
 * If-None-Match for GET and HEAD (RFC 9110 §13.1.2): 1 when it matches
 * (answer 304), 0 when not or when absent (NULL).  "*" matches; otherwise
 * a comma-separated list of entity tags compared weakly ("W/" ignored on
 * both sides).  A malformed list matches only up to the first bad element.
 */
int	 range_if_none_match(const char *inm, const char *etag);

/*
 * Header values, written into buf (NUL-terminated).  Return the length, or
 * -1 when buf is too small.
 *   range_content_range:   "bytes a-b/size"
 *   range_unsatisfied:     "bytes * /size" (without the space)
 */
int	 range_content_range(char *buf, size_t size, const struct range *,
	    uint64_t total);
int	 range_unsatisfied(char *buf, size_t size, uint64_t total);

/*
 * multipart/byteranges framing (RFC 9110 §14.6).  The body is, for each
 * range i: range_part_head(i), then the bytes of the range; and at the end
 * range_part_tail.  The head of part 0 starts with the boundary line, the
 * others with CRLF and the boundary line.  Return the length written, or
 * -1 when buf is too small.  RANGE_PART_HEAD_MAX holds any head with a
 * boundary of up to RANGE_BOUNDARY_MAX characters and a content type of up
 * to 64.
 */
#define RANGE_BOUNDARY_MAX	70
#define RANGE_PART_HEAD_MAX	256
int	 range_part_head(char *buf, size_t size, size_t index,
	    const char *boundary, const char *ctype, const struct range *,
	    uint64_t total);
int	 range_part_tail(char *buf, size_t size, const char *boundary);

/*
 * The Content-Length of a whole multipart body: the heads, the ranges and
 * the tail.  -1 when an argument is out of bounds.
 */
int64_t	 range_multipart_length(const struct range *, size_t n,
	    const char *boundary, const char *ctype, uint64_t total);

#endif
