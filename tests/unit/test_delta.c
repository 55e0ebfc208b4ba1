/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_delta.c: src/delta, the BSDIFF40 maker and applier.
 *
 * Every pair is made into a patch twice (to a seekable file, and to a
 * writer callback, which must give the same bytes), applied, and checked
 * by size and SHA-256: empty, 1-byte, identical, unrelated, shorter and
 * longer images, and a 64 MiB pair.  Then hostile patches: every
 * truncation of a small patch, every byte of it flipped, and patches
 * built here by hand (with libbz2) that lie in their header or their
 * control triples.  Debian's bspatch applies the same patches in
 * tests/integration/test_delta.py.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>

#include "crypto/crypto.h"
#include "delta/delta.h"
#include "t.h"

struct buf {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
};

static int
buf_write(void *arg, const void *p, size_t n)
{
	struct buf *b = arg;

	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;

		while (n > cap - b->len)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Deterministic bytes: xorshift, seeded. */
static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t	 i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 32);
	}
}

/* The patch through a writer; checks the seekable file gives the same. */
static int
make_patch(const uint8_t *old, size_t oldlen, const uint8_t *new,
    size_t newlen, int block, struct buf *out, struct delta_stats *st)
{
	struct delta_opts o;
	struct delta_out w;
	struct delta_err err;
	struct delta_stats st2;
	FILE	*f;
	uint8_t	*p2;
	int	 rc;

	memset(out, 0, sizeof(*out));
	memset(&o, 0, sizeof(o));
	o.block = block;
	memset(&w, 0, sizeof(w));
	w.fd = -1;
	w.write = buf_write;
	w.arg = out;
	if ((rc = delta_make(old, oldlen, new, newlen, &w, &o, st,
	    &err)) != 0) {
		fprintf(stderr, "delta_make: %s\n", err.msg);
		return rc;
	}
	T_EQ_INT(st->patch_len, out->len);
	if ((f = tmpfile()) == NULL)
		abort();
	w.fd = fileno(f);
	w.write = NULL;
	rc = delta_make(old, oldlen, new, newlen, &w, &o, &st2, &err);
	T_EQ_INT(rc, 0);
	T_EQ_INT(st2.patch_len, out->len);
	T_EQ_INT(lseek(w.fd, 0, SEEK_CUR), (long long)out->len);
	if ((p2 = malloc(out->len + 1)) == NULL)
		abort();
	T_EQ_INT(pread(w.fd, p2, out->len + 1, 0), (long long)out->len);
	T_CHECK(memcmp(p2, out->p, out->len) == 0);
	free(p2);
	fclose(f);
	return 0;
}

/* Makes, applies and verifies one pair; returns the patch length. */
static size_t
roundtrip(const char *what, const uint8_t *old, size_t oldlen,
    const uint8_t *new, size_t newlen, int block)
{
	struct delta_stats st;
	struct delta_result res;
	struct delta_err err;
	struct buf p, r;
	struct delta_out w;
	uint8_t	 sha[32], bad[32];
	int	 rc;

	if (make_patch(old, oldlen, new, newlen, block, &p, &st) != 0) {
		T_CHECK(!what);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	memset(&w, 0, sizeof(w));
	w.fd = -1;
	w.write = buf_write;
	w.arg = &r;
	crypto_sha256(new, newlen, sha);
	rc = delta_apply(old, oldlen, p.p, p.len, 0, &w, NULL, &res, &err);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", what, err.msg);
	T_EQ_INT(rc, 0);
	T_EQ_INT(res.new_len, newlen);
	T_EQ_INT(r.len, newlen);
	T_CHECK(newlen == 0 || memcmp(r.p, new, newlen) == 0);
	T_CHECK(memcmp(res.sha256, sha, 32) == 0);
	T_EQ_INT(delta_verify(old, oldlen, p.p, p.len, newlen, sha, NULL,
	    &err), 0);
	if (newlen > (4 << 20))
		goto out;	/* the refusals below cost a whole apply each */
	memcpy(bad, sha, 32);
	bad[31] ^= 1;
	T_EQ_INT(delta_verify(old, oldlen, p.p, p.len, newlen, bad, NULL,
	    &err), DELTA_EMISMATCH);
	T_EQ_INT(delta_verify(old, oldlen, p.p, p.len, newlen + 1, sha, NULL,
	    &err), DELTA_EMISMATCH);
	if (newlen > 0) {
		rc = delta_verify(old, oldlen, p.p, p.len, newlen - 1, sha,
		    NULL, &err);
		T_CHECK(rc == DELTA_ECORRUPT || rc == DELTA_EMISMATCH);
	}
out:
	fprintf(stderr, "  %s: old %zu new %zu patch %zu (%llu triples)\n",
	    what, oldlen, newlen, p.len, (unsigned long long)st.triples);
	free(p.p);
	free(r.p);
	return st.patch_len;
}

static void
test_small_pairs(void)
{
	uint8_t	 a[1] = { 'a' }, b[1] = { 'b' };
	uint8_t	*r1, *r2;
	size_t	 n;

	roundtrip("empty to empty", NULL, 0, NULL, 0, 9);
	roundtrip("empty to 1 byte", NULL, 0, a, 1, 9);
	roundtrip("1 byte to empty", a, 1, NULL, 0, 9);
	roundtrip("1 byte to itself", a, 1, a, 1, 9);
	roundtrip("1 byte to another", a, 1, b, 1, 9);
	r1 = malloc(200000);
	r2 = malloc(300000);
	fill_random(r1, 200000, 1);
	fill_random(r2, 300000, 2);
	roundtrip("unrelated, old shorter", r1, 200000, r2, 300000, 9);
	roundtrip("unrelated, old longer", r2, 300000, r1, 200000, 9);
	roundtrip("unrelated, block 1", r2, 300000, r1, 200000, 1);
	roundtrip("empty to random", NULL, 0, r1, 200000, 9);
	roundtrip("random to empty", r1, 200000, NULL, 0, 9);
	/* an empty difference: one triple, a patch of a few hundred bytes */
	n = roundtrip("identical", r2, 300000, r2, 300000, 9);
	T_CHECK(n > 0 && n < 1000);
	/* new is old's head, then old's tail: both found */
	n = roundtrip("old longer than new", r2, 300000, r2 + 1000, 150000, 9);
	T_CHECK(n > 0 && n < 1000);
	/* 1000 + 149000 bytes new, the rest found */
	n = roundtrip("new longer than old", r2 + 1000, 150000, r2, 300000, 9);
	T_CHECK(n > 150000 && n < 152000);
	free(r1);
	free(r2);
}

/*
 * A pair with small edits: a byte changed every `every` bytes and 8
 * bytes inserted after every other change; most of the bytes saved.
 */
static void
test_edited(size_t size, size_t every, const char *what)
{
	uint8_t	*old, *new;
	size_t	 i, n, newlen = size + size / every * 4 + 8;

	old = malloc(size);
	new = malloc(newlen);
	if (old == NULL || new == NULL)
		abort();
	fill_random(old, size, 7);
	for (i = n = 0; i < size && n < newlen; i++) {
		new[n++] = old[i];
		if (i % every == 100)
			new[n - 1] ^= 0x5a;
		if (i % (every * 2) == 7 && n + 8 <= newlen) {
			memcpy(new + n, "inserted", 8);
			n += 8;
		}
	}
	n = roundtrip(what, old, size, new, n, 9);
	T_CHECK(n > 0 && n < size / 20);
	free(old);
	free(new);
}

/*
 * 64 MiB with an edit every 64 KiB: the size issue 15 names.  Dense
 * edits (every 4 KiB) on 1 MiB, where each costs a search; on 64 MiB
 * those take minutes under --enable-sanitizers.
 */
static void
test_edited_pairs(void)
{
	test_edited(1 << 20, 4096, "1 MiB, edited every 4 KiB");
	test_edited((size_t)64 << 20, 65536, "64 MiB, edited every 64 KiB");
}

/* A small patch of a real difference, for the hostile tests. */
static void
small_patch(struct buf *p, uint8_t **old, size_t *oldlen, uint8_t **new,
    size_t *newlen)
{
	struct delta_stats st;

	*oldlen = 3000;
	*newlen = 3100;
	*old = malloc(*oldlen);
	*new = malloc(*newlen);
	fill_random(*old, *oldlen, 3);
	memcpy(*new, *old, 1000);
	fill_random(*new + 1000, 100, 4);
	memcpy(*new + 1100, *old + 1000, 2000);
	(*new)[2000] ^= 1;
	if (make_patch(*old, *oldlen, *new, *newlen, 9, p, &st) != 0)
		abort();
	T_CHECK(st.triples >= 2);
}

static void
test_truncated(void)
{
	struct delta_result res;
	struct delta_err err;
	struct buf p;
	uint8_t	*old, *new;
	size_t	 oldlen, newlen, n;
	int	 bad = 0;

	small_patch(&p, &old, &oldlen, &new, &newlen);
	for (n = 0; n < p.len; n++) {
		err.code = 0;
		if (delta_apply(old, oldlen, p.p, n, 0, NULL, NULL, &res,
		    &err) != DELTA_ECORRUPT || err.code != DELTA_ECORRUPT) {
			fprintf(stderr, "truncated to %zu: accepted\n", n);
			bad++;
		}
	}
	T_EQ_INT(bad, 0);
	/* one byte more, after the extra stream */
	p.p = realloc(p.p, p.len + 1);
	p.p[p.len] = 0;
	T_EQ_INT(delta_apply(old, oldlen, p.p, p.len + 1, 0, NULL, NULL, &res,
	    &err), DELTA_ECORRUPT);
	T_EQ_STR_PREFIX(err.msg, "corrupt patch: 1 bytes follow");
	free(p.p);
	free(old);
	free(new);
}

/* Every byte flipped: refused, or (a padding bit) the same result. */
static void
test_flipped(void)
{
	struct delta_result res;
	struct delta_err err;
	struct buf p;
	uint8_t	*old, *new, sha[32];
	size_t	 oldlen, newlen, i;
	int	 refused = 0, wrong = 0, rc;

	small_patch(&p, &old, &oldlen, &new, &newlen);
	crypto_sha256(new, newlen, sha);
	for (i = 0; i < p.len; i++) {
		p.p[i] ^= 0xff;
		rc = delta_apply(old, oldlen, p.p, p.len, 0, NULL, NULL, &res,
		    &err);
		if (rc != 0)
			refused++;
		else if (res.new_len != newlen ||
		    memcmp(res.sha256, sha, 32) != 0)
			wrong++;
		T_CHECK(rc == 0 || rc == DELTA_ECORRUPT);
		T_CHECK(delta_verify(old, oldlen, p.p, p.len, newlen, sha,
		    NULL, &err) == 0 || rc != 0 || wrong > 0);
		p.p[i] ^= 0xff;
	}
	fprintf(stderr, "  %zu bytes flipped: %d refused, %d made another "
	    "image\n", p.len, refused, wrong);
	/* a flipped byte in a stream fails its CRC; the header's lengths */
	T_CHECK(refused >= (int)p.len - 2);
	T_EQ_INT(wrong, 0);
	free(p.p);
	free(old);
	free(new);
}

/* One bzip2 stream of n bytes. */
static void
bz(struct buf *out, const void *p, size_t n)
{
	unsigned cap = (unsigned)(n + n / 100 + 700), len = cap;

	out->p = realloc(out->p, out->len + cap);
	if (BZ2_bzBuffToBuffCompress((char *)out->p + out->len, &len,
	    (char *)(uintptr_t)p, (unsigned)n, 9, 0, 0) != BZ_OK)
		abort();
	out->len += len;
}

static void
put_off(uint8_t *b, int64_t v, int neg)
{
	uint64_t m = v < 0 ? (uint64_t)-v : (uint64_t)v;
	int	 i;

	for (i = 0; i < 8; i++, m >>= 8)
		b[i] = (uint8_t)m;
	if (v < 0 || neg)
		b[7] |= 0x80;
}

/* A patch from triples (3 per), diff and extra bytes, by hand. */
static void
hand_patch(struct buf *p, const int64_t *t, size_t nt, const uint8_t *diff,
    size_t difflen, const uint8_t *extra, size_t extralen, int64_t newlen)
{
	uint8_t	 ctrl[24 * 8];
	size_t	 i, c0, d0, e0;

	memset(p, 0, sizeof(*p));
	p->p = calloc(1, 32);
	p->len = 32;
	for (i = 0; i < nt * 3; i++)
		put_off(ctrl + i * 8, t[i], 0);
	c0 = p->len;
	bz(p, ctrl, nt * 24);
	d0 = p->len;
	bz(p, diff, difflen);
	e0 = p->len;
	bz(p, extra, extralen);
	memcpy(p->p, "BSDIFF40", 8);
	put_off(p->p + 8, (int64_t)(d0 - c0), 0);
	put_off(p->p + 16, (int64_t)(e0 - d0), 0);
	put_off(p->p + 24, newlen, 0);
}

static int
apply_hand(struct buf *p, const uint8_t *old, size_t oldlen,
    struct delta_err *err, struct delta_result *res)
{
	int	 rc;

	rc = delta_apply(old, oldlen, p->p, p->len, 0, NULL, NULL, res, err);
	free(p->p);
	memset(p, 0, sizeof(*p));
	return rc;
}

static void
test_hand_made(void)
{
	static const uint8_t old[4] = { 1, 2, 3, 4 }, zero[8];
	static const uint8_t extra[8] = "ABCDEFGH";
	struct delta_result res;
	struct delta_err err;
	struct buf p;
	int64_t	 t[6];

	/* a good one: 4 bytes of old, 2 extra, seek back to 0, 2 more */
	t[0] = 4; t[1] = 2; t[2] = -4; t[3] = 2; t[4] = 0; t[5] = 0;
	hand_patch(&p, t, 2, zero, 6, extra, 2, 8);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), 0);
	T_EQ_INT(res.new_len, 8);

	/* a seek before OLD's start adds nothing there (as bspatch) */
	t[0] = 0; t[1] = 0; t[2] = -2; t[3] = 4; t[4] = 0; t[5] = 0;
	hand_patch(&p, t, 2, zero, 4, extra, 0, 4);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), 0);

	/* negative lengths in a triple */
	t[0] = -1; t[1] = 5; t[2] = 0;
	hand_patch(&p, t, 1, zero, 0, extra, 5, 4);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "corrupt patch: a control triple has a negative "
	    "length");
	t[0] = 4; t[1] = -1; t[2] = 0;
	hand_patch(&p, t, 1, zero, 4, extra, 0, 4);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);

	/* past the new size */
	t[0] = 5; t[1] = 0; t[2] = 0;
	hand_patch(&p, t, 1, zero, 5, extra, 0, 4);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR_PREFIX(err.msg, "corrupt patch: a control triple runs past");
	t[0] = 2; t[1] = INT64_MAX; t[2] = 0;
	hand_patch(&p, t, 1, zero, 2, extra, 2, 4);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);

	/* seeks that would overflow */
	t[0] = 1; t[1] = 0; t[2] = INT64_MAX; t[3] = 1; t[4] = 0; t[5] = 0;
	hand_patch(&p, t, 2, zero, 2, extra, 0, 2);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "corrupt patch: a control triple seeks out of "
	    "range");
	t[0] = 1; t[1] = 0; t[2] = -INT64_MAX; t[3] = 1; t[4] = 0; t[5] = 0;
	hand_patch(&p, t, 2, zero, 2, extra, 0, 2);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);

	/* more diff bytes than the triples use; one triple too many */
	t[0] = 2; t[1] = 0; t[2] = 0;
	hand_patch(&p, t, 1, zero, 3, extra, 0, 2);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "corrupt patch: the diff stream holds more than "
	    "the control triples use");
	t[0] = 2; t[1] = 0; t[2] = 0; t[3] = 0; t[4] = 0; t[5] = 0;
	hand_patch(&p, t, 2, zero, 2, extra, 0, 2);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	/* too few extra bytes */
	t[0] = 0; t[1] = 4; t[2] = 0;
	hand_patch(&p, t, 1, zero, 0, extra, 3, 4);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "corrupt patch: the extra stream ends too early");

	/* the header */
	t[0] = 2; t[1] = 0; t[2] = 0;
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	p.p[0] = 'X';
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "not a BSDIFF40 patch");
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	p.p[15] |= 0x80;	/* control length negative */
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "corrupt patch: a negative length in the header");
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	p.p[31] |= 0x80;	/* "-0": negative zero... of 2, really -2 */
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	put_off(p.p + 8, 1000, 0);	/* past the end */
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR(err.msg, "corrupt patch: the header's stream lengths run "
	    "past its end");
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	put_off(p.p + 16, INT64_MAX, 0);
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	put_off(p.p + 24, (int64_t)1 << 40, 0);	/* 1 TiB: a bomb */
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	T_EQ_STR_PREFIX(err.msg, "corrupt patch: it makes 1099511627776");
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	put_off(p.p + 24, 0, 1);	/* -0 */
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
	/* a damaged control stream (its block CRC) */
	hand_patch(&p, t, 1, zero, 2, extra, 0, 2);
	p.p[32 + 20] ^= 0x10;
	T_EQ_INT(apply_hand(&p, old, 4, &err, &res), DELTA_ECORRUPT);
}

static void
progress_cb(void *arg, uint64_t done, uint64_t total)
{
	uint64_t *last = arg;

	T_CHECK(done >= last[0] && done <= total);
	last[0] = done;
	last[1] = total;
	last[2]++;
}

/* The release hint: ranges inside NEW, counted in last[3]. */
static void
release_cb(void *arg, uint64_t from, uint64_t to)
{
	uint64_t *last = arg;

	T_CHECK(from < to && to <= (3 << 20) - 10);
	last[3]++;
}

static void
cancel_cb(void *arg, uint64_t done, uint64_t total)
{
	atomic_int *c = arg;

	(void)done;
	(void)total;
	atomic_store(c, 1);
}

static void
test_api(void)
{
	static atomic_int cancel;
	struct delta_opts o;
	struct delta_out w;
	struct delta_stats st;
	struct delta_err err;
	struct buf b;
	uint64_t last[4] = { 0, 0, 0, 0 };
	uint8_t	*img, x = 0;

	memset(&b, 0, sizeof(b));
	memset(&w, 0, sizeof(w));
	w.fd = -1;
	w.write = buf_write;
	w.arg = &b;
	memset(&o, 0, sizeof(o));
	/* sizes past 2 GiB - 1 are refused before anything is read */
	T_EQ_INT(delta_make(&x, DELTA_MAX_IMAGE + 1, &x, 1, &w, NULL, &st,
	    &err), DELTA_ETOOBIG);
	T_EQ_STR_PREFIX(err.msg, "the old image has 2147483648 bytes");
	T_EQ_INT(delta_make(&x, 1, &x, DELTA_MAX_IMAGE + 1, &w, NULL, &st,
	    &err), DELTA_ETOOBIG);
	o.block = 10;
	T_EQ_INT(delta_make(&x, 1, &x, 1, &w, &o, &st, &err), DELTA_EINVAL);
	w.write = NULL;
	T_EQ_INT(delta_make(&x, 1, &x, 1, &w, NULL, &st, &err), DELTA_EINVAL);
	w.write = buf_write;

	img = malloc(3 << 20);
	fill_random(img, 3 << 20, 9);
	memset(&o, 0, sizeof(o));
	o.progress = progress_cb;
	o.release = release_cb;
	o.progress_arg = last;
	T_EQ_INT(delta_make(img, 3 << 20, img + 10, (3 << 20) - 10, &w, &o,
	    &st, &err), 0);
	/* the search, the forward extension, the diff stream: each releases */
	T_CHECK(last[3] >= 3);
	o.release = NULL;
	T_EQ_INT(last[0], last[1]);
	T_EQ_INT(last[1], ((3 << 20) - 10) * 2);
	T_CHECK(last[2] >= 4);
	/* the cancel flag, raised by the first progress call */
	o.progress = cancel_cb;
	o.progress_arg = &cancel;
	o.cancel = &cancel;
	b.len = 0;
	T_EQ_INT(delta_make(img, 3 << 20, img + 10, (3 << 20) - 10, &w, &o,
	    &st, &err), DELTA_ECANCELED);
	atomic_store(&cancel, 0);
	T_EQ_STR(delta_code_str(DELTA_ECORRUPT), "corrupt patch");
	free(img);
	free(b.p);
}

int
main(void)
{
	T_RUN(test_api);
	T_RUN(test_small_pairs);
	T_RUN(test_truncated);
	T_RUN(test_flipped);
	T_RUN(test_hand_made);
	T_RUN(test_edited_pairs);
	return t_done();
}
