/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * apply.c: the patch applier and verifier (delta_apply, delta_verify).
 *
 * The patch is bytes in memory (a map of the patch file, in the daemon)
 * and is trusted in nothing.  The header's lengths must be non-negative
 * and fit the patch; each control triple's lengths must be
 * non-negative and stay inside the new size it declares; seeks may go
 * anywhere (bspatch adds nothing where OLD has no byte, and so does
 * this) but never overflow.  The three bzip2 streams are read side by
 * side in DELTA_CHUNK pieces, and each must end exactly where the last
 * triple leaves it, with the diff and extra streams filling the patch to
 * its last byte: a patch cut short anywhere, or carrying anything more,
 * is refused.  NEW is never held whole: each piece goes to the SHA-256
 * and to the writer, if any.  Memory: three bzip2 decompressors (about
 * 3.7 MB each at block size 9) and one chunk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>

#include "crypto/crypto.h"
#include "delta/delta_int.h"

/* One bzip2 stream being read. */
struct bzr {
	bz_stream s;
	int	 live;
	int	 ended;
	const char *what;
};

struct ap {
	const uint8_t *old;
	int64_t	 oldlen;
	int64_t	 newlen;
	const struct delta_out *out;
	const struct delta_opts *o;
	struct delta_err *err;
	struct digest *dg;
	struct bzr r[3];	/* control, diff, extra */
	uint8_t	*buf;
	int64_t	 next_tick;
};

static int
bzr_open(struct bzr *r, const uint8_t *p, uint64_t n, const char *what,
    struct delta_err *err)
{
	memset(r, 0, sizeof(*r));
	r->what = what;
	if (BZ2_bzDecompressInit(&r->s, 0, 0) != BZ_OK)
		return delta_fail(err, DELTA_ENOMEM, "no memory for bzip2");
	r->live = 1;
	/* libbz2 reads next_in only; its type lacks the const */
	r->s.next_in = (char *)(uintptr_t)p;
	r->s.avail_in = (unsigned)n;
	return 0;
}

static void
bzr_close(struct bzr *r)
{
	if (r->live)
		BZ2_bzDecompressEnd(&r->s);
	r->live = 0;
}

/* Exactly n bytes of the stream into buf. */
static int
bzr_read(struct bzr *r, uint8_t *buf, size_t n, struct delta_err *err)
{
	unsigned in, out;
	int	 rc;

	r->s.next_out = (char *)buf;
	r->s.avail_out = (unsigned)n;
	while (r->s.avail_out > 0) {
		if (r->ended)
			return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: "
			    "the %s stream ends too early", r->what);
		in = r->s.avail_in;
		out = r->s.avail_out;
		rc = BZ2_bzDecompress(&r->s);
		if (rc == BZ_STREAM_END)
			r->ended = 1;
		else if (rc == BZ_MEM_ERROR)
			return delta_fail(err, DELTA_ENOMEM,
			    "no memory for bzip2");
		else if (rc != BZ_OK)
			return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: "
			    "the %s stream is damaged (bzip2 error %d)",
			    r->what, rc);
		if (!r->ended && in == r->s.avail_in && out == r->s.avail_out)
			return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: "
			    "the %s stream is cut short", r->what);
	}
	return 0;
}

/* The stream must end here, with its last byte. */
static int
bzr_end(struct bzr *r, struct delta_err *err)
{
	uint8_t	 b;
	unsigned in;
	int	 rc;

	while (!r->ended) {
		in = r->s.avail_in;
		r->s.next_out = (char *)&b;
		r->s.avail_out = 1;
		rc = BZ2_bzDecompress(&r->s);
		if ((rc == BZ_OK || rc == BZ_STREAM_END) &&
		    r->s.avail_out == 0)
			return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: "
			    "the %s stream holds more than the control "
			    "triples use", r->what);
		if (rc == BZ_STREAM_END)
			r->ended = 1;
		else if (rc != BZ_OK)
			return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: "
			    "the %s stream is damaged (bzip2 error %d)",
			    r->what, rc);
		else if (in == r->s.avail_in)
			return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: "
			    "the %s stream is cut short", r->what);
	}
	if (r->s.avail_in != 0)
		return delta_fail(err, DELTA_ECORRUPT, "corrupt patch: %u "
		    "bytes follow the %s stream", r->s.avail_in, r->what);
	return 0;
}

/* n rebuilt bytes of NEW: digested and written. */
static int
ap_emit(struct ap *a, const uint8_t *p, size_t n)
{
	const struct delta_out *out = a->out;
	int	 rc = 0;

	digest_update(a->dg, p, n);
	if (out == NULL)
		return 0;
	if (out->fd >= 0)
		rc = delta_write_fd((void *)&out->fd, p, n);
	else if (out->write != NULL)
		rc = out->write(out->arg, p, n);
	if (rc == -1)
		return delta_fail(a->err, DELTA_EIO, "cannot write the result: "
		    "%s", strerror(errno));
	return 0;
}

static int
ap_tick(struct ap *a, int64_t done)
{
	if (done < a->next_tick)
		return 0;
	a->next_tick = done + (1 << 20);
	if (a->o != NULL && a->o->progress != NULL)
		a->o->progress(a->o->progress_arg, (uint64_t)done,
		    (uint64_t)a->newlen);
	if (delta_canceled(a->o))
		return delta_fail(a->err, DELTA_ECANCELED, "canceled");
	return 0;
}

/* len bytes: the diff stream plus OLD from op on (add), or extra. */
static int
ap_copy(struct ap *a, int add, int64_t len, int64_t op, int64_t np)
{
	int64_t	 i, k, n;
	int	 rc;

	for (k = 0; k < len; k += n) {
		n = len - k < DELTA_CHUNK ? len - k : DELTA_CHUNK;
		if ((rc = bzr_read(&a->r[add ? 1 : 2], a->buf, (size_t)n,
		    a->err)) != 0)
			return rc;
		for (i = 0; add && i < n; i++)
			if (op + k + i >= 0 && op + k + i < a->oldlen)
				a->buf[i] += a->old[op + k + i];
		if ((rc = ap_emit(a, a->buf, (size_t)n)) != 0 ||
		    (rc = ap_tick(a, np + k + n)) != 0)
			return rc;
	}
	return 0;
}

/* The control triples, until NEW is whole. */
static int
ap_run(struct ap *a)
{
	uint8_t	 c[24];
	int64_t	 np = 0, op = 0, add, ins, seek;
	int	 neg[3], rc;

	while (np < a->newlen) {
		if ((rc = bzr_read(&a->r[0], c, sizeof(c), a->err)) != 0)
			return rc;
		add = delta_get_off(c, &neg[0]);
		ins = delta_get_off(c + 8, &neg[1]);
		seek = delta_get_off(c + 16, &neg[2]);
		if (neg[0] || neg[1])
			return delta_fail(a->err, DELTA_ECORRUPT, "corrupt "
			    "patch: a control triple has a negative length");
		if (add > a->newlen - np || ins > a->newlen - np - add)
			return delta_fail(a->err, DELTA_ECORRUPT, "corrupt "
			    "patch: a control triple runs past the new size "
			    "(%lld bytes)", (long long)a->newlen);
		/* op stays within +-2^62: no sum below can overflow */
		if ((rc = ap_copy(a, 1, add, op, np)) != 0)
			return rc;
		np += add;
		op += add;
		if ((rc = ap_copy(a, 0, ins, 0, np)) != 0)
			return rc;
		np += ins;
		if (seek > ((int64_t)1 << 62) || seek < -((int64_t)1 << 62) ||
		    op + seek > ((int64_t)1 << 62) ||
		    op + seek < -((int64_t)1 << 62))
			return delta_fail(a->err, DELTA_ECORRUPT, "corrupt "
			    "patch: a control triple seeks out of range");
		op += seek;
	}
	return 0;
}

/* The header: the three streams' slices; 0 or DELTA_ECORRUPT. */
static int
ap_header(struct ap *a, const uint8_t *p, size_t len, uint64_t max_new,
    uint64_t *ctrl, uint64_t *diff)
{
	int64_t	 c, d, n;
	int	 neg[3];

	if (len < DELTA_HEADER_LEN)
		return delta_fail(a->err, DELTA_ECORRUPT, "corrupt patch: %zu "
		    "bytes, shorter than the header", len);
	if (memcmp(p, "BSDIFF40", 8) != 0)
		return delta_fail(a->err, DELTA_ECORRUPT,
		    "not a BSDIFF40 patch");
	c = delta_get_off(p + 8, &neg[0]);
	d = delta_get_off(p + 16, &neg[1]);
	n = delta_get_off(p + 24, &neg[2]);
	if (neg[0] || neg[1] || neg[2])
		return delta_fail(a->err, DELTA_ECORRUPT, "corrupt patch: a "
		    "negative length in the header");
	if ((uint64_t)n > max_new)
		return delta_fail(a->err, DELTA_ECORRUPT, "corrupt patch: it "
		    "makes %lld bytes, more than the %llu allowed",
		    (long long)n, (unsigned long long)max_new);
	len -= DELTA_HEADER_LEN;
	if ((uint64_t)c > len || (uint64_t)d > len - (uint64_t)c)
		return delta_fail(a->err, DELTA_ECORRUPT, "corrupt patch: the "
		    "header's stream lengths run past its end");
	if (len - (uint64_t)c - (uint64_t)d > UINT32_MAX ||
	    (uint64_t)c > UINT32_MAX || (uint64_t)d > UINT32_MAX)
		return delta_fail(a->err, DELTA_ECORRUPT, "corrupt patch: a "
		    "stream over 4 GiB");
	*ctrl = (uint64_t)c;
	*diff = (uint64_t)d;
	a->newlen = n;
	return 0;
}

int
delta_apply(const uint8_t *old, size_t oldlen, const uint8_t *patch,
    size_t patchlen, uint64_t max_new, const struct delta_out *out,
    const struct delta_opts *opts, struct delta_result *res,
    struct delta_err *err)
{
	static const char *const what[3] = { "control", "diff", "extra" };
	struct ap a;
	uint64_t off[4] = { 0, 0, 0, 0 };
	uint8_t	 md5[16];
	int	 i, rc;

	memset(&a, 0, sizeof(a));
	memset(res, 0, sizeof(*res));
	a.old = old;
	a.oldlen = (int64_t)oldlen;
	a.out = out;
	a.o = opts;
	a.err = err;
	if (oldlen > DELTA_MAX_IMAGE)
		return delta_fail(err, DELTA_ETOOBIG, "the old image has %zu "
		    "bytes, more than %llu", oldlen,
		    (unsigned long long)DELTA_MAX_IMAGE);
	if (max_new == 0 || max_new > DELTA_MAX_IMAGE)
		max_new = DELTA_MAX_IMAGE;
	if ((rc = ap_header(&a, patch, patchlen, max_new, &off[1],
	    &off[2])) != 0)
		return rc;
	off[0] = DELTA_HEADER_LEN;
	off[1] += off[0];
	off[2] += off[1];
	off[3] = patchlen;
	if ((a.buf = malloc(DELTA_CHUNK)) == NULL ||
	    (a.dg = digest_new()) == NULL) {
		rc = delta_fail(err, DELTA_ENOMEM, "no memory");
		goto out;
	}
	for (i = 0; i < 3; i++)
		if ((rc = bzr_open(&a.r[i], patch + off[i], off[i + 1] - off[i],
		    what[i], err)) != 0)
			goto out;
	if ((rc = ap_run(&a)) != 0)
		goto out;
	for (i = 0; i < 3; i++)
		if ((rc = bzr_end(&a.r[i], err)) != 0)
			goto out;
	digest_final(a.dg, md5, res->sha256);
	res->new_len = (uint64_t)a.newlen;
	if (opts != NULL && opts->progress != NULL)
		opts->progress(opts->progress_arg, res->new_len, res->new_len);
out:
	for (i = 0; i < 3; i++)
		bzr_close(&a.r[i]);
	digest_free(a.dg);
	free(a.buf);
	return rc;
}

int
delta_verify(const uint8_t *old, size_t oldlen, const uint8_t *patch,
    size_t patchlen, uint64_t want_len, const uint8_t want_sha256[32],
    const struct delta_opts *opts, struct delta_err *err)
{
	struct delta_result res;
	int	 rc;

	if ((rc = delta_apply(old, oldlen, patch, patchlen, want_len, NULL,
	    opts, &res, err)) != 0)
		return rc;
	if (res.new_len != want_len)
		return delta_fail(err, DELTA_EMISMATCH, "the patch makes %llu "
		    "bytes, not %llu", (unsigned long long)res.new_len,
		    (unsigned long long)want_len);
	if (crypto_memcmp(res.sha256, want_sha256, 32) != 0)
		return delta_fail(err, DELTA_EMISMATCH, "the patch makes an "
		    "image of the right size but another SHA-256");
	return 0;
}
