/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_sort.c: the even suffixes sorted by delta_sort_even
 * (src/delta/sais.c), checked against libdivsufsort's full suffix array
 * of the same bytes with the odd offsets left out.
 *
 * The input is the old image, at most 64 KiB; beyond "no crash", every
 * entry must be the one divsufsort puts in its place.
 */
#include <stdint.h>
#include <stdlib.h>

#include <divsufsort.h>

#include "delta/delta_int.h"
#include "fuzz.h"

#define IMAGE_MAX	65536

FUZZ_TARGET(sort)
{
	static int32_t full[IMAGE_MAX], even[IMAGE_MAX / 2];
	size_t	 i, j = 0;

	if (size > IMAGE_MAX)
		size = IMAGE_MAX;
	if (size > 0)
		FUZZ_ASSERT(divsufsort(data, full, (saidx_t)size) == 0);
	FUZZ_ASSERT(delta_sort_even(data, (int64_t)size, even) == 0);
	for (i = 0; i < size; i++) {
		if (full[i] % 2 != 0)
			continue;
		FUZZ_ASSERT(even[j] == full[i]);
		j++;
	}
	FUZZ_ASSERT(j == (size + 1) / 2);
	return 0;
}
