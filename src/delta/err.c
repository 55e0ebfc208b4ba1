/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * err.c: what the maker and the applier share: error messages, the
 * cancel flag, BSDIFF40's sign-magnitude integers, writing to a file
 * descriptor.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "delta/delta_int.h"

int
delta_fail(struct delta_err *err, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
delta_canceled(const struct delta_opts *o)
{
	return o != NULL && o->cancel != NULL && atomic_load(o->cancel) != 0;
}

void
delta_put_off(uint8_t out[8], int64_t v)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int	 i;

	for (i = 0; i < 8; i++) {
		out[i] = (uint8_t)(mag & 0xff);
		mag >>= 8;
	}
	if (v < 0)
		out[7] |= 0x80;
}

int64_t
delta_get_off(const uint8_t in[8], int *negative)
{
	uint64_t mag = 0;
	int	 i;

	for (i = 7; i >= 0; i--)
		mag = (mag << 8) | (i == 7 ? in[i] & 0x7f : in[i]);
	*negative = (in[7] & 0x80) != 0;
	/* 63 bits: the magnitude always fits an int64_t */
	return *negative ? -(int64_t)mag : (int64_t)mag;
}

int
delta_write_fd(void *fdp, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t	 w;
	int	 fd = *(int *)fdp;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

const char *
delta_code_str(int code)
{
	switch (code) {
	case DELTA_OK:
		return "done";
	case DELTA_EINVAL:
		return "bad argument";
	case DELTA_ETOOBIG:
		return "image too big";
	case DELTA_ENOMEM:
		return "out of memory";
	case DELTA_EIO:
		return "input/output error";
	case DELTA_ECANCELED:
		return "canceled";
	case DELTA_EBZIP:
		return "bzip2 error";
	case DELTA_ECORRUPT:
		return "corrupt patch";
	case DELTA_EMISMATCH:
		return "result differs";
	}
	return "unknown error";
}
