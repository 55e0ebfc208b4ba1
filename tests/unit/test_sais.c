/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_sais.c: src/delta/sais.c, the sorted even suffixes the patch
 * maker searches, checked against libdivsufsort: its full suffix array
 * of the same bytes, with the odd offsets left out, must be exactly
 * delta_sort_even's.
 *
 * Every length from 0 to 300 over strings that stress the sort (random,
 * one byte repeated, two symbols, short periods, runs of 0xff as in
 * erased flash, descending), then long ones: 4 MiB random, 2 MiB of
 * zeros, a Fibonacci string (the deepest recursion for its length),
 * firmware-like blocks repeated with edits, every pair value once, and
 * a 16 MiB random image.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <divsufsort.h>

#include "delta/delta_int.h"
#include "t.h"

static uint64_t rng = 88172645463325252ULL;

/*
 * The heap the sort holds at most, beyond its result: malloc, calloc
 * and free of src/delta (linked in statically) go through these
 * (-Wl,--wrap in Makefile.am); libdivsufsort's do not.
 */
static size_t heap_now, heap_peak;
static int counting;

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	 __real_free(void *);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	 __wrap_free(void *);

static void *
counted(void *p)
{
	if (p != NULL && counting) {
		heap_now += malloc_usable_size(p);
		if (heap_now > heap_peak)
			heap_peak = heap_now;
	}
	return p;
}

void *
__wrap_malloc(size_t n)
{
	return counted(__real_malloc(n));
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return counted(__real_calloc(n, size));
}

void
__wrap_free(void *p)
{
	if (p != NULL && counting)
		heap_now -= malloc_usable_size(p);
	__real_free(p);
}

static uint8_t
next_byte(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 40);
}

/* 1 when delta_sort_even gives the even entries of divsufsort's array. */
static int
same_as_divsufsort(const uint8_t *b, int64_t n)
{
	int32_t	*full, *even;
	int64_t	 i, j = 0;
	int	 ok = 1;

	full = malloc((size_t)(n + 1) * sizeof(*full));
	even = malloc((size_t)(n / 2 + 1) * sizeof(*even));
	if (full == NULL || even == NULL)
		abort();
	if (n > 0 && divsufsort(b, full, (saidx_t)n) != 0)
		abort();
	if (delta_sort_even(b, n, even) != 0)
		ok = 0;
	for (i = 0; ok && i < n; i++) {
		if (full[i] % 2 != 0)
			continue;
		if (even[j] != full[i]) {
			fprintf(stderr, "length %lld: entry %lld is %d, "
			    "divsufsort says %d\n", (long long)n,
			    (long long)j, even[j], full[i]);
			ok = 0;
		}
		j++;
	}
	free(full);
	free(even);
	return ok;
}

enum kind { RANDOM, ZEROS, TWO, PERIOD3, ERASED, DESCENDING, KINDS };

static void
fill(uint8_t *b, int64_t n, enum kind k)
{
	int64_t	 i;

	for (i = 0; i < n; i++) {
		switch (k) {
		case RANDOM:
			b[i] = next_byte();
			break;
		case ZEROS:
			b[i] = 0;
			break;
		case TWO:
			b[i] = next_byte() & 1 ? 'a' : 'b';
			break;
		case PERIOD3:
			b[i] = "aab"[i % 3];
			break;
		case ERASED:
			b[i] = i % 97 < 60 ? 0xff : next_byte();
			break;
		default:
			b[i] = (uint8_t)(255 - i);
			break;
		}
	}
}

static void
test_short(void)
{
	uint8_t	 b[300];
	int64_t	 n;
	int	 k, bad = 0;

	for (n = 0; n <= (int64_t)sizeof(b); n++)
		for (k = 0; k < KINDS; k++) {
			fill(b, n, (enum kind)k);
			if (!same_as_divsufsort(b, n))
				bad++;
		}
	T_EQ_INT(bad, 0);
}

/* The Fibonacci word: a, ab, aba, abaab, ... */
static void
fill_fibonacci(uint8_t *b, int64_t n)
{
	int64_t	 a = 1, len = 2, i, k;

	b[0] = 'a';
	b[1] = 'b';
	while (len < n) {
		k = len + a <= n ? a : n - len;
		for (i = 0; i < k; i++)
			b[len + i] = b[i];
		a = len;
		len += k;
	}
}

static void
test_long(void)
{
	int64_t	 n = 1 << 22, i, j;
	uint8_t	*b = malloc((size_t)(16 << 20));

	if (b == NULL)
		abort();
	fill(b, n, RANDOM);			/* 4 MiB of random bytes */
	T_CHECK(same_as_divsufsort(b, n));
	fill(b, n / 2 + 1, ZEROS);		/* 2 MiB + 1 of zeros */
	T_CHECK(same_as_divsufsort(b, n / 2 + 1));
	fill_fibonacci(b, n);
	T_CHECK(same_as_divsufsort(b, n));
	/* a 64 KiB block repeated, each copy with a few bytes changed */
	fill(b, 65536, ERASED);
	for (i = 65536; i < n; i++)
		b[i] = b[i - 65536];
	for (i = 65536; i < n; i += 4099)
		b[i] ^= 0x5a;
	T_CHECK(same_as_divsufsort(b, n));
	/* every pair value once, in a scrambled order; odd length */
	for (i = 0, j = 0; i < 65536; i++, j += 2) {
		b[j] = (uint8_t)(i * 40503u >> 8);
		b[j + 1] = (uint8_t)(i * 40503u);
	}
	T_CHECK(same_as_divsufsort(b, 131071));
	fill(b, 16 << 20, RANDOM);
	T_CHECK(same_as_divsufsort(b, 16 << 20));
	free(b);
}

/* The heap delta_sort_even held at most while sorting b. */
static size_t
sort_heap(const uint8_t *b, int64_t n)
{
	int32_t	*sa = malloc((size_t)(n / 2 + 1) * sizeof(*sa));

	if (sa == NULL)
		abort();
	heap_now = heap_peak = 0;
	counting = 1;
	T_EQ_INT(delta_sort_even(b, n, sa), 0);
	counting = 0;
	free(sa);
	return heap_peak;
}

/*
 * The workspace stays within its bounds: a bit per pair and 257 kB of
 * buckets on random bytes; at most 1 byte per byte more on an image
 * built so that no level below has free room for its buckets (pair p
 * holds 31 less the trailing ones of p, shifted, over 11 random bits,
 * which puts LMS positions at every other symbol on every level, and
 * a copied eighth makes the names repeat).  Before the buckets were let
 * go around each level below, the second took 1.85 bytes per byte.
 */
static void
test_workspace(void)
{
	int64_t	 n = 1 << 22, p;
	uint8_t	*b = malloc((size_t)n);
	unsigned v;
	int	 ones;

	if (b == NULL)
		abort();
	fill(b, n, RANDOM);
	T_CHECK(sort_heap(b, n) <= (size_t)n / 8 + 300 * 1024);
	for (p = 0; p < n / 2; p++) {
		ones = __builtin_ctzll(~(uint64_t)p);
		v = (unsigned)(31 - (ones > 31 ? 31 : ones)) << 11 |
		    (unsigned)((next_byte() << 8 | next_byte()) & 0x7ff);
		b[2 * p] = (uint8_t)(v >> 8);
		b[2 * p + 1] = (uint8_t)v;
	}
	memcpy(b + n / 2, b, (size_t)n / 8);
	T_CHECK(sort_heap(b, n) <= (size_t)n + 300 * 1024);
	T_CHECK(same_as_divsufsort(b, n));
	free(b);
}

static void
test_limits(void)
{
	int32_t	 sa[1] = { 7 };
	uint8_t	 b[1] = { 0 };

	T_EQ_INT(delta_sort_even(b, 0, sa), 0);	/* empty: nothing written */
	T_EQ_INT(sa[0], 7);
	T_EQ_INT(delta_sort_even(b, 1, sa), 0);
	T_EQ_INT(sa[0], 0);
	/* 2 GiB is refused before anything is read */
	T_EQ_INT(delta_sort_even(b, (int64_t)INT32_MAX + 1, sa), -1);
}

int
main(void)
{
	T_RUN(test_limits);
	T_RUN(test_short);
	T_RUN(test_long);
	T_RUN(test_workspace);
	return t_done();
}
