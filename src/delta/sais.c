/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sais.c: the sorted even suffixes of an image (delta_sort_even), the
 * index the patch maker searches.
 *
 * The patch maker needs, for any string of NEW, the suffixes of OLD
 * that share most with it.  Indexing only the suffixes at even offsets
 * halves the index (2 bytes per byte of OLD instead of 4) and loses
 * almost nothing: a match at an odd offset is found one byte later, and
 * the backward extension of the region takes the byte back (patches
 * within 1 % of those from the full array on real pairs, docs/delta.md).
 *
 * The even suffixes of a string of bytes are the suffixes of the
 * string of its byte pairs, and a pair compares as its two bytes do, a
 * missing second byte (odd length) first.  So they are sorted by
 * suffix-array induced sorting (SA-IS: Nong, Zhang and Chan, "Two
 * efficient algorithms for linear time suffix array construction",
 * 2011) over an alphabet of 256 * 257 pair values, in the space of the
 * result plus a bit per pair for its type and one bucket array at a
 * time: 257 kB at the top level, and below it the free part of the
 * result or, when that is too small, up to 1 byte per byte of the image
 * (on inputs built for it; 4 MB for a random 64 MiB image).
 * libdivsufsort, which sorts bytes only, cannot do this; the unit tests
 * check every result against it.
 *
 * Terms: suffix i is S-type when it is smaller than suffix i + 1, L-type
 * when larger; the last is L (the end of the string sorts first).  An
 * LMS position is an S-type one after an L-type one.  Sorting the LMS
 * suffixes is enough: the others are induced from them in two passes.
 * The LMS suffixes are sorted by naming the LMS substrings (from one LMS
 * position to the next) and, when names repeat, sorting the string of
 * names the same way, recursively; each level is at most half as long.
 */
#include <stdlib.h>
#include <string.h>

#include "delta/delta_int.h"

#define PAIR_SYMBOLS	(256 * 257)
#define PAIR_WORDS	((PAIR_SYMBOLS + 63) / 64)

/* A string: byte pairs of an image (level 0) or names (the levels below). */
struct str {
	const uint8_t *b;	/* level 0: the bytes */
	int64_t	 blen;
	const uint64_t *seen;	/* level 0, small images: pair values used */
	const int32_t *below;	/* how many are used below each word of it */
	const int32_t *s;	/* below: the names */
	int32_t	 n;		/* symbols */
	int32_t	 k;		/* alphabet: symbols are 0 .. k - 1 */
	uint8_t	*type;		/* a bit per symbol: 1 for S-type */
	int32_t	*bkt;		/* k bucket pointers */
};

/* The value of pair i, a missing second byte first. */
static inline int32_t
pair(const struct str *x, int32_t i)
{
	int64_t	 o = 2 * (int64_t)i;

	if (o + 1 < x->blen)
		return x->b[o] * 257 + x->b[o + 1] + 1;
	return x->b[o] * 257;
}

/*
 * Symbol i.  A small image uses few of the 65,792 pair values: its
 * symbols are then their ranks among the values used, so that each
 * pass over the buckets is as short as the image.
 */
static inline int32_t
sym(const struct str *x, int32_t i)
{
	int32_t	 v;

	if (x->s != NULL)
		return x->s[i];
	v = pair(x, i);
	if (x->seen == NULL)
		return v;
	return x->below[v >> 6] + __builtin_popcountll(x->seen[v >> 6] &
	    ((UINT64_C(1) << (v & 63)) - 1));
}

static inline int
is_s(const struct str *x, int32_t i)
{
	return (x->type[i >> 3] >> (i & 7)) & 1;
}

static inline int
is_lms(const struct str *x, int32_t i)
{
	return i > 0 && is_s(x, i) && !is_s(x, i - 1);
}

static void
classify(struct str *x)
{
	int32_t	 i, c, next;
	int	 s = 0;

	next = sym(x, x->n - 1);
	for (i = x->n - 2; i >= 0; i--) {
		c = sym(x, i);
		s = c < next || (c == next && s);
		if (s)
			x->type[i >> 3] |= (uint8_t)(1u << (i & 7));
		next = c;
	}
}

/* The buckets' first slots (ends == 0) or one past their last. */
static void
buckets(struct str *x, int ends)
{
	int32_t	 i, sum = 0, c;

	memset(x->bkt, 0, (size_t)x->k * sizeof(*x->bkt));
	for (i = 0; i < x->n; i++)
		x->bkt[sym(x, i)]++;
	for (i = 0; i < x->k; i++) {
		c = x->bkt[i];
		x->bkt[i] = ends ? sum + c : sum;
		sum += c;
	}
}

/*
 * From the LMS suffixes in place, the L-type ones left to right, then
 * the S-type ones right to left.  The end of the string, smaller than
 * every suffix, would come first and give the last suffix (L-type): it
 * is put first by hand.
 */
static void
induce(struct str *x, int32_t *sa)
{
	int32_t	 i, j, n = x->n;

	buckets(x, 0);
	sa[x->bkt[sym(x, n - 1)]++] = n - 1;
	for (i = 0; i < n; i++) {
		j = sa[i] - 1;
		if (j >= 0 && !is_s(x, j))
			sa[x->bkt[sym(x, j)]++] = j;
	}
	buckets(x, 1);
	for (i = n - 1; i >= 0; i--) {
		j = sa[i] - 1;
		if (j >= 0 && is_s(x, j))
			sa[--x->bkt[sym(x, j)]] = j;
	}
}

/* 1 when the LMS substrings at a and b differ (symbols or types). */
static int
lms_differ(const struct str *x, int32_t a, int32_t b)
{
	int32_t	 d;

	for (d = 0;; d++) {
		if (a + d == x->n || b + d == x->n)
			return 1;	/* only one runs to the end */
		if (sym(x, a + d) != sym(x, b + d) ||
		    is_s(x, a + d) != is_s(x, b + d))
			return 1;
		if (d > 0 && is_lms(x, a + d))
			return 0;	/* types agree: b ends here too */
	}
}

/*
 * Names the sorted LMS substrings in sa[0 .. n1) and writes the string
 * of names, in text order, to the last n1 slots of sa[0 .. room).
 * Returns the number of distinct names.
 */
static int32_t
name_lms(const struct str *x, int32_t *sa, int32_t n1, int32_t room)
{
	int32_t	 i, j, pos, prev = -1, names = 0;

	for (i = n1; i < x->n; i++)
		sa[i] = -1;
	for (i = 0; i < n1; i++) {
		pos = sa[i];
		if (prev == -1 || lms_differ(x, pos, prev))
			names++;
		prev = pos;
		sa[n1 + pos / 2] = names - 1;	/* LMS positions are 2 apart */
	}
	for (i = x->n - 1, j = room - 1; i >= n1; i--)
		if (sa[i] >= 0)
			sa[j--] = sa[i];
	return names;
}

static int sais(struct str *, int32_t *, int32_t);

/*
 * Bucket space for x: the free slots of sa past x->n when they are
 * enough, else an array of its own (*own, for the caller to free).
 */
static int
bkt_get(struct str *x, int32_t *sa, int32_t room, int32_t **own)
{
	if (room - x->n >= x->k) {
		x->bkt = sa + x->n;
		return 0;
	}
	*own = x->bkt = malloc((size_t)x->k * sizeof(int32_t));
	return *own == NULL ? -1 : 0;
}

/*
 * Sorts the LMS suffixes from the order of their substrings: the names
 * are sorted by a level below (or placed, all distinct), then mapped
 * back to positions.  Leaves them sorted in sa[0 .. n1).
 */
static int
sort_lms(struct str *x, int32_t *sa, int32_t n1, int32_t room)
{
	struct str y;
	int32_t	*s1 = sa + room - n1;
	int32_t	 i, j, names;

	names = name_lms(x, sa, n1, room);
	if (names < n1) {
		memset(&y, 0, sizeof(y));
		y.s = s1;
		y.n = n1;
		y.k = names;
		if (sais(&y, sa, room - n1) == -1)
			return -1;
	} else {
		for (i = 0; i < n1; i++)
			sa[s1[i]] = i;
	}
	for (i = 1, j = 0; i < x->n; i++)
		if (is_lms(x, i))
			s1[j++] = i;
	for (i = 0; i < n1; i++)
		sa[i] = s1[sa[i]];
	return 0;
}

/*
 * The sorted suffixes of x into sa[0 .. x->n); sa has room slots (room
 * >= x->n), the ones past x->n free for the bucket array when it fits.
 */
static int
sais(struct str *x, int32_t *sa, int32_t room)
{
	int32_t	*own = NULL;
	int32_t	 i, j, n1;
	int	 rc = -1;

	if (x->n == 1) {
		sa[0] = 0;
		return 0;
	}
	if ((x->type = calloc((size_t)x->n / 8 + 1, 1)) == NULL)
		return -1;
	classify(x);
	if (bkt_get(x, sa, room, &own) == -1)
		goto out;
	/* 1: the LMS substrings, sorted by one induction from any order */
	for (i = 0; i < x->n; i++)
		sa[i] = -1;
	buckets(x, 1);
	for (i = 1; i < x->n; i++)
		if (is_lms(x, i))
			sa[--x->bkt[sym(x, i)]] = i;
	induce(x, sa);
	for (i = 0, n1 = 0; i < x->n; i++)
		if (is_lms(x, sa[i]))
			sa[n1++] = sa[i];
	/*
	 * 2: the LMS suffixes.  The buckets are let go meanwhile, so that
	 * the levels below never hold theirs all at once (each level's are
	 * at most 4 bytes a name, and a level has at most half the
	 * symbols of the one above: at most 1 byte per byte of the image).
	 */
	free(own);
	own = x->bkt = NULL;
	if (sort_lms(x, sa, n1, room) == -1 ||
	    bkt_get(x, sa, room, &own) == -1)
		goto out;
	/* 3: all suffixes, induced from the LMS ones at their buckets' ends */
	buckets(x, 1);
	for (i = n1; i < x->n; i++)
		sa[i] = -1;
	for (i = n1 - 1; i >= 0; i--) {
		j = sa[i];
		sa[i] = -1;
		sa[--x->bkt[sym(x, j)]] = j;
	}
	induce(x, sa);
	rc = 0;
out:
	free(own);
	free(x->type);
	x->type = NULL;
	return rc;
}

/* The pair values a small image uses, and their ranks: x->k of them. */
static int
rank_pairs(struct str *x)
{
	uint64_t *seen;
	int32_t	*below, i, v, sum = 0;

	seen = calloc(PAIR_WORDS, sizeof(*seen));
	below = malloc(PAIR_WORDS * sizeof(*below));
	if (seen == NULL || below == NULL) {
		free(seen);
		free(below);
		return -1;
	}
	for (i = 0; i < x->n; i++) {
		v = pair(x, i);
		seen[v >> 6] |= UINT64_C(1) << (v & 63);
	}
	for (i = 0; i < PAIR_WORDS; i++) {
		below[i] = sum;
		sum += __builtin_popcountll(seen[i]);
	}
	x->seen = seen;
	x->below = below;
	x->k = sum;
	return 0;
}

int
delta_sort_even(const uint8_t *b, int64_t len, int32_t *sa)
{
	struct str x;
	int32_t	 i;
	int	 rc;

	if (len <= 0)
		return 0;
	if (len > INT32_MAX)
		return -1;
	memset(&x, 0, sizeof(x));
	x.b = b;
	x.blen = len;
	x.n = (int32_t)((len + 1) / 2);
	x.k = PAIR_SYMBOLS;
	if (x.n < PAIR_SYMBOLS && rank_pairs(&x) == -1)
		return -1;
	rc = sais(&x, sa, x.n);
	free((void *)x.seen);
	free((void *)x.below);
	if (rc == -1)
		return -1;
	for (i = 0; i < x.n; i++)
		sa[i] *= 2;
	return 0;
}
