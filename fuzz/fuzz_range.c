/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_range.c: Range, If-Range and If-None-Match as a device sends them
 * (src/http/range.c), decided the way the HTTPS download path does.
 *
 * The input is text, one item per line:
 *
 *	line 1	the image size, decimal (empty or junk: 0; saturates)
 *	line 2	the Range value       (no line: the header is absent)
 *	line 3	the If-Range value    (no line: absent)
 *	line 4	the If-None-Match value (no line: absent)
 *	line 5	the most ranges allowed (default RANGE_MAX)
 *
 * The target follows dev_download_resp (src/http/device.c): If-None-Match
 * against the image's strong entity tag, If-Range, then range_parse, and
 * formats what each answer would carry.  Beyond "no crash" it checks what
 * range.h promises: a partial answer has 1 to max ranges, each inside the
 * image, none overlapping another; no other answer has ranges; the
 * Content-Range values fit the buffers device.c gives them; a part head
 * with the longest boundary and content type fits RANGE_PART_HEAD_MAX;
 * and a multipart length, when there is one, covers the ranges' bytes.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "http/range.h"

/* The strong tag of an image, as dev_tags_make writes it. */
static const char etag[] =
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"";

/*
 * The first n lines of the input, NUL-terminated in place; NULL for the
 * lines it does not have.  A newline ends a line: "a\n" is one line,
 * "a\n\n" two, the second empty.  s has a NUL at s[len].
 */
static void
split_lines(char *s, size_t len, char **lines, size_t n)
{
	char	*end = s + len, *nl;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s >= end) {
			lines[i] = NULL;
			continue;
		}
		lines[i] = s;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		*nl = '\0';
		s = nl + 1;
	}
}

static uint64_t
number(const char *s, uint64_t dflt)
{
	uint64_t v = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return dflt;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX :
		    v * 10 + (uint64_t)(*s - '0');
	return v;
}

static void
check_partial(const struct range *r, size_t n, size_t max, uint64_t size)
{
	char	 buf[96], head[RANGE_PART_HEAD_MAX];
	char	 boundary[RANGE_BOUNDARY_MAX + 1], ctype[65];
	uint64_t bytes = 0;
	int64_t	 ml;
	size_t	 i, j;
	int	 overflow = 0;

	FUZZ_ASSERT(n >= 1 && n <= max);
	memset(boundary, 'b', RANGE_BOUNDARY_MAX);
	boundary[RANGE_BOUNDARY_MAX] = '\0';
	memset(ctype, 'c', 64);
	ctype[64] = '\0';
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(r[i].first <= r[i].last);
		FUZZ_ASSERT(r[i].last < size);
		for (j = i + 1; j < n; j++)
			FUZZ_ASSERT(r[i].last < r[j].first ||
			    r[j].last < r[i].first);
		/* device.c's buffer for Content-Range */
		FUZZ_ASSERT(range_content_range(buf, sizeof(buf), &r[i],
		    size) > 0);
		FUZZ_ASSERT(range_part_head(head, sizeof(head), i, boundary,
		    ctype, &r[i], size) > 0);
		if (r[i].last - r[i].first + 1 > UINT64_MAX - bytes)
			overflow = 1;
		else
			bytes += r[i].last - r[i].first + 1;
	}
	FUZZ_ASSERT(range_part_tail(head, sizeof(head), boundary) > 0);
	ml = range_multipart_length(r, n, boundary, ctype, size);
	if (ml >= 0)
		FUZZ_ASSERT(!overflow && (uint64_t)ml > bytes);
}

FUZZ_TARGET(range)
{
	struct range r[RANGE_MAX + 1];
	char	*s, *lines[5], buf[96];
	const char *range, *ifr, *inm;
	uint64_t imgsize;
	size_t	 max, n = 0;
	int	 rc, inm_match, ifr_ok;

	s = fuzz_strndup(data, size);
	split_lines(s, size, lines, 5);
	imgsize = number(lines[0], 0);
	range = lines[1];
	ifr = lines[2];
	inm = lines[3];
	max = (size_t)(number(lines[4], RANGE_MAX) % (RANGE_MAX + 1));

	inm_match = range_if_none_match(inm, etag);
	FUZZ_ASSERT(inm_match == 0 || inm_match == 1);
	FUZZ_ASSERT(inm == NULL ? inm_match == 0 : 1);
	ifr_ok = range_if_range(ifr, etag);
	FUZZ_ASSERT(ifr_ok == 0 || ifr_ok == 1);
	FUZZ_ASSERT(ifr == NULL ? ifr_ok == 1 : 1);
	if (!ifr_ok)
		range = NULL;

	memset(r, 0, sizeof(r));
	rc = range_parse(range, imgsize, r, max, &n);
	FUZZ_ASSERT(range_result_name(rc)[0] != '?');
	FUZZ_ASSERT(range != NULL || rc == RANGE_ABSENT);
	if (rc == RANGE_PARTIAL)
		check_partial(r, n, max, imgsize);
	else
		FUZZ_ASSERT(n == 0);
	/* out[] holds at most max ranges, whatever was listed */
	FUZZ_ASSERT(r[max].first == 0 && r[max].last == 0);
	if (rc == RANGE_UNSATISFIABLE)
		FUZZ_ASSERT(range_unsatisfied(buf, sizeof(buf), imgsize) > 0);
	free(s);
	return 0;
}
