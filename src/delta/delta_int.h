/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * delta_int.h: what make.c and apply.c share; private to src/delta.
 */
#ifndef OTAGW_DELTA_INT_H
#define OTAGW_DELTA_INT_H

#include <stdint.h>

#include "delta/delta.h"

/* Chunk of the buffers that carry bytes to and from libbz2. */
#define DELTA_CHUNK	65536

/* Fills err (may be NULL) with code and the message; returns code. */
int	 delta_fail(struct delta_err *, int code, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* 1 when opts asks to stop. */
int	 delta_canceled(const struct delta_opts *);
/*
 * BSDIFF40's integers: 8 bytes, little-endian magnitude, the sign in
 * the top bit of the last byte.
 */
void	 delta_put_off(uint8_t out[8], int64_t);
/* The value (sign applied) and whether the sign bit was set. */
int64_t	 delta_get_off(const uint8_t in[8], int *negative);
/*
 * Sorts the suffixes of b[0 .. len) that start at even offsets into sa
 * ((len + 1) / 2 entries), a proper prefix before the longer string
 * (sais.c).  0, or -1 when out of memory or len > INT32_MAX.
 */
int	 delta_sort_even(const uint8_t *b, int64_t len, int32_t *sa);
/* Writes all of buf to fd (write(2), retried); 0, or -1 with errno. */
int	 delta_write_fd(void *fdp, const void *buf, size_t n);

#endif
