/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_bspatch.c: a BSDIFF40 patch from outside, applied by delta_apply
 * (src/delta/apply.c) to a fixed 4 KiB old image, as the daemon will
 * verify an uploaded patch before it offers it.
 *
 * The input is the patch.  The result may have at most 1 MiB, so that a
 * small input that decompresses to much cannot make a run slow.  Beyond
 * "no crash": the answer is one of the codes delta.h names, with a
 * message; a patch that is accepted gave exactly new_len bytes to the
 * writer, at most the limit, and the SHA-256 res reports is theirs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "delta/delta.h"
#include "fuzz.h"

#define OLD_LEN		4096
#define NEW_MAX		(1 << 20)

struct sink {
	uint8_t	*p;
	size_t	 len;
};

static int
sink_write(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	FUZZ_ASSERT(n <= NEW_MAX - s->len);
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

FUZZ_TARGET(bspatch)
{
	static uint8_t old[OLD_LEN];
	struct delta_result res;
	struct delta_err err;
	struct delta_out out;
	struct sink s;
	uint8_t	 sha[32];
	size_t	 i;
	int	 rc;

	for (i = 0; i < OLD_LEN; i++)
		old[i] = (uint8_t)(i * 31 + (i >> 8));
	s.p = malloc(NEW_MAX);
	s.len = 0;
	FUZZ_ASSERT(s.p != NULL);
	memset(&out, 0, sizeof(out));
	out.fd = -1;
	out.write = sink_write;
	out.arg = &s;
	memset(&err, 0, sizeof(err));
	rc = delta_apply(old, OLD_LEN, data, size, NEW_MAX, &out, NULL, &res,
	    &err);
	if (rc == 0) {
		FUZZ_ASSERT(res.new_len == s.len && s.len <= NEW_MAX);
		crypto_sha256(s.p, s.len, sha);
		FUZZ_ASSERT(memcmp(sha, res.sha256, 32) == 0);
	} else {
		FUZZ_ASSERT(rc == DELTA_ECORRUPT || rc == DELTA_ENOMEM);
		FUZZ_ASSERT(err.code == rc && err.msg[0] != '\0');
	}
	free(s.p);
	return 0;
}
