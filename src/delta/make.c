/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make.c: the patch maker (delta_make), after the method of Colin
 * Percival's bsdiff ("Naive differences of executable code", 2003).
 *
 * 1. Sort the suffixes of OLD at even offsets (sais.c: 2 bytes per byte
 *    of OLD); a match at an odd offset is found from the next byte of
 *    NEW, and the backward extension below takes the byte back.
 * 2. Walk NEW.  At each position find, by binary search in the suffix
 *    array, the longest string of OLD that NEW continues with; keep
 *    walking while that match is not clearly better (8 bytes) than what
 *    simply carrying on with the previous alignment would give.  When it
 *    is, close the previous region: extend the previous alignment
 *    forward and the new match backward as far as at least half the
 *    bytes agree, split any overlap where it loses least, and record a
 *    control triple (bytes to add to OLD, bytes to insert, seek in OLD).
 * 3. The suffix array is freed; the triples, the differences NEW - OLD
 *    along each aligned region, and the inserted bytes are compressed
 *    with bzip2 into the patch's three streams, one after the other, so
 *    one compressor is alive at a time.
 *
 * Peak memory: the two images (mapped by the caller), 2 bytes per byte
 * of OLD during the search, 24 bytes per control triple, and one bzip2
 * compressor (about 7.6 MB at block size 9) while writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bzlib.h>

#include "delta/delta_int.h"

#define MK_TICK		(1 << 20)	/* progress and cancel every MiB */

struct trip {
	int64_t	 add;		/* bytes of OLD + diff */
	int64_t	 insert;	/* bytes from the extra stream */
	int64_t	 seek;		/* then move in OLD by this much */
};

struct mk {
	const uint8_t *old;
	const uint8_t *new;
	int64_t	 oldlen;
	int64_t	 newlen;
	int32_t	*sa;		/* the even suffixes of OLD, sorted */
	int64_t	 nsa;
	struct trip *t;
	size_t	 nt;
	size_t	 cap;
	const struct delta_opts *o;
	struct delta_err *err;
	int64_t	 next_tick;
	int64_t	 done;		/* bytes of NEW compressed so far */
	int64_t	 scan_mark;	/* the search told o->release up to here */
};

/*
 * Where compressed bytes go: a file at an offset (pwrite), a writer, or
 * memory.
 */
enum sink_kind { SINK_PWRITE, SINK_WRITE, SINK_MEM };

struct sink {
	enum sink_kind kind;
	int	 fd;
	off_t	 off;
	int	(*write)(void *, const void *, size_t);
	void	*arg;
	uint8_t	*mem;
	size_t	 len;
	size_t	 cap;
};

/* One bzip2 stream being written. */
struct bzw {
	bz_stream s;
	int	 live;
	struct sink *to;
	uint64_t len;		/* compressed bytes written */
	char	 buf[DELTA_CHUNK];
};

static int
sink_put(struct sink *k, const void *p, size_t n)
{
	const char *c = p;
	ssize_t	 w;
	uint8_t	*m;

	switch (k->kind) {
	case SINK_PWRITE:
		while (n > 0) {
			w = pwrite(k->fd, c, n, k->off);
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1)
				return -1;
			c += w;
			n -= (size_t)w;
			k->off += w;
		}
		return 0;
	case SINK_WRITE:
		return k->write(k->arg, p, n);
	case SINK_MEM:
		if (n > k->cap - k->len) {
			size_t cap = k->cap ? k->cap : 4096;

			while (n > cap - k->len)
				cap *= 2;
			if ((m = realloc(k->mem, cap)) == NULL)
				return -1;
			k->mem = m;
			k->cap = cap;
		}
		memcpy(k->mem + k->len, p, n);
		k->len += n;
		return 0;
	}
	return -1;
}

static int
bzw_start(struct bzw *z, int block, struct sink *to, struct delta_err *err)
{
	memset(&z->s, 0, sizeof(z->s));
	z->to = to;
	z->len = 0;
	z->live = 0;
	switch (BZ2_bzCompressInit(&z->s, block, 0, 0)) {
	case BZ_OK:
		z->live = 1;
		return 0;
	case BZ_MEM_ERROR:
		return delta_fail(err, DELTA_ENOMEM, "no memory for bzip2");
	}
	return delta_fail(err, DELTA_EBZIP, "bzip2 would not start");
}

/* Runs the compressor over what it holds (action BZ_RUN or BZ_FINISH). */
static int
bzw_pump(struct bzw *z, int action, struct delta_err *err)
{
	size_t	 n;
	int	 rc;

	for (;;) {
		z->s.next_out = z->buf;
		z->s.avail_out = sizeof(z->buf);
		rc = BZ2_bzCompress(&z->s, action);
		if (rc != BZ_RUN_OK && rc != BZ_FINISH_OK &&
		    rc != BZ_STREAM_END)
			return delta_fail(err, DELTA_EBZIP,
			    "bzip2 compression failed (%d)", rc);
		n = sizeof(z->buf) - z->s.avail_out;
		if (n > 0 && sink_put(z->to, z->buf, n) == -1)
			return delta_fail(err, DELTA_EIO,
			    "cannot write the patch: %s", strerror(errno));
		z->len += n;
		if (action == BZ_RUN && z->s.avail_in == 0)
			return 0;
		if (rc == BZ_STREAM_END)
			return 0;
	}
}

static int
bzw_put(struct bzw *z, const void *p, size_t n, struct delta_err *err)
{
	const char *c = p;
	unsigned part;
	int	 rc;

	while (n > 0) {
		part = n > (1u << 30) ? (1u << 30) : (unsigned)n;
		/* libbz2 reads next_in only; its type lacks the const */
		z->s.next_in = (char *)(uintptr_t)c;
		z->s.avail_in = part;
		if ((rc = bzw_pump(z, BZ_RUN, err)) != 0)
			return rc;
		c += part;
		n -= part;
	}
	return 0;
}

static int
bzw_finish(struct bzw *z, struct delta_err *err)
{
	int	 rc;

	z->s.next_in = NULL;
	z->s.avail_in = 0;
	rc = bzw_pump(z, BZ_FINISH, err);
	BZ2_bzCompressEnd(&z->s);
	z->live = 0;
	return rc;
}

static void
bzw_drop(struct bzw *z)
{
	if (z->live)
		BZ2_bzCompressEnd(&z->s);
	z->live = 0;
}

/* Progress and the cancel flag, every MK_TICK bytes of work. */
static int
mk_tick(struct mk *m, int64_t done)
{
	if (done < m->next_tick)
		return 0;
	m->next_tick = done + MK_TICK;
	if (m->o != NULL && m->o->progress != NULL)
		m->o->progress(m->o->progress_arg, (uint64_t)done,
		    (uint64_t)m->newlen * 2);
	if (delta_canceled(m->o))
		return delta_fail(m->err, DELTA_ECANCELED, "canceled");
	return 0;
}

/*
 * NEW before pos is not needed for now: o->release may drop its pages.
 * Each pass over NEW (the search, the forward extension of a region, the
 * diff and the extra streams) reads it in order and keeps its own mark.
 */
static void
mk_release(const struct mk *m, int64_t *mark, int64_t pos)
{
	if (m->o == NULL || m->o->release == NULL || pos < *mark + MK_TICK)
		return;
	m->o->release(m->o->progress_arg, (uint64_t)*mark, (uint64_t)pos);
	*mark = pos;
}

/* As mk_release, for a range read out of order; ignores small ones. */
static void
mk_drop(const struct mk *m, int64_t from, int64_t to)
{
	if (m->o != NULL && m->o->release != NULL && to - from >= MK_TICK / 4)
		m->o->release(m->o->progress_arg, (uint64_t)from,
		    (uint64_t)to);
}

/*
 * memcmp of n bytes, 4 KiB at a time: the strings usually differ early,
 * and a sanitizer's memcmp checks all n bytes it is given first (with
 * n up to the whole image, minutes for a 64 MiB pair).
 */
static int
mk_cmp(const uint8_t *a, const uint8_t *b, int64_t n)
{
	int64_t	 k, c;
	int	 d;

	for (k = 0; k < n; k += c) {
		c = n - k < 4096 ? n - k : 4096;
		if ((d = memcmp(a + k, b + k, (size_t)c)) != 0)
			return d;
	}
	return 0;
}

/* Length of the common prefix of a and b. */
static int64_t
mk_prefix(const uint8_t *a, int64_t alen, const uint8_t *b, int64_t blen)
{
	int64_t	 i, n = alen < blen ? alen : blen;

	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	return i;
}

/*
 * The longest match in OLD for NEW from scan on: its length, and its
 * position in *pos.  The suffix array is sorted, so the suffixes that
 * share most with NEW surround the place where NEW would sort.
 */
static int64_t
mk_search(const struct mk *m, int64_t scan, int64_t *pos)
{
	const uint8_t *p = m->new + scan;
	int64_t	 plen = m->newlen - scan, lo = 0, hi = m->nsa - 1;
	int64_t	 mid, off, n, x, y;

	*pos = 0;
	if (m->oldlen == 0)
		return 0;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		off = m->sa[mid];
		n = m->oldlen - off < plen ? m->oldlen - off : plen;
		if (mk_cmp(m->old + off, p, n) < 0)
			lo = mid;
		else
			hi = mid;
	}
	x = mk_prefix(m->old + m->sa[lo], m->oldlen - m->sa[lo], p, plen);
	y = mk_prefix(m->old + m->sa[hi], m->oldlen - m->sa[hi], p, plen);
	*pos = x >= y ? m->sa[lo] : m->sa[hi];
	return x >= y ? x : y;
}

/* 1 when NEW at i and OLD at i + off hold the same byte. */
static inline int
mk_same(const struct mk *m, int64_t i, int64_t off)
{
	return i + off >= 0 && i + off < m->oldlen && i < m->newlen &&
	    m->old[i + off] == m->new[i];
}

/*
 * How far the region from (lscan, lpos) may run on before scan: the
 * length where matches minus mismatches is highest.
 */
static int64_t
mk_forward(const struct mk *m, int64_t lscan, int64_t lpos, int64_t scan)
{
	int64_t	 i, s = 0, best = 0, len = 0;

	for (i = 0; lscan + i < scan && lpos + i < m->oldlen;) {
		if (m->old[lpos + i] == m->new[lscan + i])
			s++;
		i++;
		if ((i & (MK_TICK - 1)) == 0)
			mk_drop(m, lscan + i - MK_TICK, lscan + i);
		if (s * 2 - i > best * 2 - len) {
			best = s;
			len = i;
		}
	}
	return len;
}

/* How far the match at (scan, pos) may reach back, down to lscan. */
static int64_t
mk_backward(const struct mk *m, int64_t lscan, int64_t scan, int64_t pos)
{
	int64_t	 i, s = 0, best = 0, len = 0;

	for (i = 1; scan >= lscan + i && pos >= i; i++) {
		if (m->old[pos - i] == m->new[scan - i])
			s++;
		if ((i & (MK_TICK - 1)) == 0)
			mk_drop(m, scan - i, scan - i + MK_TICK);
		if (s * 2 - i > best * 2 - len) {
			best = s;
			len = i;
		}
	}
	return len;
}

/*
 * Closes the region that began at (*lscan, *lpos) because a better
 * match starts at (scan, pos): one control triple.
 */
static int
mk_emit(struct mk *m, int64_t scan, int64_t pos, int64_t *lscan,
    int64_t *lpos)
{
	int64_t	 lenf, lenb = 0, over, i, s, best, cut;
	struct trip *t;

	lenf = mk_forward(m, *lscan, *lpos, scan);
	if (scan < m->newlen)
		lenb = mk_backward(m, *lscan, scan, pos);
	if (*lscan + lenf > scan - lenb) {
		/* the two claim the same bytes: cut where it costs least */
		over = *lscan + lenf - (scan - lenb);
		s = best = cut = 0;
		for (i = 0; i < over; i++) {
			if (mk_same(m, *lscan + lenf - over + i,
			    *lpos - *lscan))
				s++;
			if (mk_same(m, scan - lenb + i, pos - scan))
				s--;
			if (s > best) {
				best = s;
				cut = i + 1;
			}
		}
		lenf += cut - over;
		lenb -= cut;
	}
	if (m->nt == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;

		if ((t = realloc(m->t, cap * sizeof(*t))) == NULL)
			return delta_fail(m->err, DELTA_ENOMEM,
			    "no memory for %zu control triples", cap);
		m->t = t;
		m->cap = cap;
	}
	/* both extensions read the region again */
	mk_drop(m, *lscan, scan);
	t = &m->t[m->nt++];
	t->add = lenf;
	t->insert = (scan - lenb) - (*lscan + lenf);
	t->seek = (pos - lenb) - (*lpos + lenf);
	*lscan = scan - lenb;
	*lpos = pos - lenb;
	return 0;
}

/*
 * Step 2: walks NEW and records the control triples.  off is the
 * alignment of the current region (OLD position minus NEW position);
 * score counts the bytes of the candidate match that the current
 * alignment already gets right.
 */
static int
mk_scan(struct mk *m)
{
	int64_t	 scan = 0, len = 0, pos = 0, lscan = 0, lpos = 0, off = 0;
	int64_t	 score, sc;
	int	 rc;

	while (scan < m->newlen) {
		score = 0;
		scan += len;
		for (sc = scan; scan < m->newlen; scan++) {
			if (scan >= m->next_tick) {
				mk_release(m, &m->scan_mark, scan);
				if ((rc = mk_tick(m, scan)) != 0)
					return rc;
			}
			len = mk_search(m, scan, &pos);
			for (; sc < scan + len; sc++)
				if (mk_same(m, sc, off))
					score++;
			if ((len == score && len != 0) || len > score + 8)
				break;
			if (mk_same(m, scan, off))
				score--;
		}
		if (len == score && scan != m->newlen)
			continue;
		if ((rc = mk_emit(m, scan, pos, &lscan, &lpos)) != 0)
			return rc;
		off = pos - scan;
	}
	return 0;
}

/* The control stream: each triple as three sign-magnitude integers. */
static int
mk_put_ctrl(struct mk *m, struct bzw *z)
{
	uint8_t	 b[24 * 64];
	size_t	 i, k = 0;
	int	 rc;

	for (i = 0; i < m->nt; i++) {
		delta_put_off(b + k, m->t[i].add);
		delta_put_off(b + k + 8, m->t[i].insert);
		delta_put_off(b + k + 16, m->t[i].seek);
		k += 24;
		if (k == sizeof(b) || i + 1 == m->nt) {
			if ((rc = bzw_put(z, b, k, m->err)) != 0)
				return rc;
			k = 0;
		}
	}
	return 0;
}

/* The diff stream: NEW - OLD, byte by byte, along each aligned region. */
static int
mk_put_diff(struct mk *m, struct bzw *z)
{
	uint8_t	*b;
	int64_t	 np = 0, op = 0, i, mark = 0;
	size_t	 t, k = 0;
	int	 rc = 0;

	if ((b = malloc(DELTA_CHUNK)) == NULL)
		return delta_fail(m->err, DELTA_ENOMEM, "no memory");
	for (t = 0; t < m->nt && rc == 0; t++) {
		for (i = 0; i < m->t[t].add && rc == 0; i++) {
			b[k] = m->new[np + i];
			if (op + i >= 0 && op + i < m->oldlen)
				b[k] -= m->old[op + i];
			if (++k == DELTA_CHUNK) {
				rc = bzw_put(z, b, k, m->err);
				m->done += (int64_t)k;
				k = 0;
				mk_release(m, &mark, np + i);
				if (rc == 0)
					rc = mk_tick(m, m->newlen + m->done);
			}
		}
		np += m->t[t].add + m->t[t].insert;
		op += m->t[t].add + m->t[t].seek;
	}
	if (rc == 0 && k > 0)
		rc = bzw_put(z, b, k, m->err);
	m->done += (int64_t)k;
	free(b);
	return rc;
}

/* The extra stream: the inserted bytes, straight from NEW. */
static int
mk_put_extra(struct mk *m, struct bzw *z)
{
	int64_t	 np = 0, mark = 0;
	size_t	 t;
	int	 rc;

	for (t = 0; t < m->nt; t++) {
		np += m->t[t].add;
		mk_release(m, &mark, np);
		if ((rc = bzw_put(z, m->new + np, (size_t)m->t[t].insert,
		    m->err)) != 0)
			return rc;
		np += m->t[t].insert;
		m->done += m->t[t].insert;
		if ((rc = mk_tick(m, m->newlen + m->done)) != 0)
			return rc;
	}
	return 0;
}

/* One whole stream (0 ctrl, 1 diff, 2 extra) into sink; its length. */
static int
mk_stream(struct mk *m, int which, int block, struct sink *to,
    uint64_t *len)
{
	struct bzw *z;
	int	 rc;

	if ((z = malloc(sizeof(*z))) == NULL)
		return delta_fail(m->err, DELTA_ENOMEM, "no memory");
	if ((rc = bzw_start(z, block, to, m->err)) == 0) {
		if (which == 0)
			rc = mk_put_ctrl(m, z);
		else if (which == 1)
			rc = mk_put_diff(m, z);
		else
			rc = mk_put_extra(m, z);
	}
	if (rc == 0)
		rc = bzw_finish(z, m->err);
	bzw_drop(z);
	*len = z->len;
	free(z);
	return rc;
}

static void
mk_header(uint8_t h[DELTA_HEADER_LEN], const struct delta_stats *st,
    int64_t newlen)
{
	memcpy(h, "BSDIFF40", 8);
	delta_put_off(h + 8, (int64_t)st->ctrl_len);
	delta_put_off(h + 16, (int64_t)st->diff_len);
	delta_put_off(h + 24, newlen);
}

/* A seekable fd: the streams in place, then the header. */
static int
mk_out_seek(struct mk *m, int fd, off_t start, int block,
    struct delta_stats *st)
{
	struct sink k;
	uint8_t	 h[DELTA_HEADER_LEN];
	int	 rc;

	memset(&k, 0, sizeof(k));
	k.kind = SINK_PWRITE;
	k.fd = fd;
	k.off = start + DELTA_HEADER_LEN;
	if ((rc = mk_stream(m, 0, block, &k, &st->ctrl_len)) != 0 ||
	    (rc = mk_stream(m, 1, block, &k, &st->diff_len)) != 0 ||
	    (rc = mk_stream(m, 2, block, &k, &st->extra_len)) != 0)
		return rc;
	mk_header(h, st, m->newlen);
	k.off = start;
	if (sink_put(&k, h, sizeof(h)) == -1 ||
	    lseek(fd, start + (off_t)DELTA_HEADER_LEN + (off_t)st->ctrl_len +
	    (off_t)(st->diff_len + st->extra_len), SEEK_SET) == -1)
		return delta_fail(m->err, DELTA_EIO,
		    "cannot write the patch: %s", strerror(errno));
	return 0;
}

/* An unlinked temporary file under $TMPDIR (or /tmp); -1 with errno. */
static int
mk_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char	 path[4096];
	int	 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		return fd;
	if (snprintf(path, sizeof(path), "%s/otagw-delta.XXXXXX", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(path)) != -1)
		unlink(path);
	return fd;
}

/* Copies len bytes of fd from offset 0 to the writer of k. */
static int
mk_copy(struct mk *m, int fd, uint64_t len, struct sink *k)
{
	uint8_t	*b;
	off_t	 off = 0;
	ssize_t	 r;
	int	 rc = 0;

	if ((b = malloc(DELTA_CHUNK)) == NULL)
		return delta_fail(m->err, DELTA_ENOMEM, "no memory");
	while ((uint64_t)off < len && rc == 0) {
		r = pread(fd, b, DELTA_CHUNK, off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0 || sink_put(k, b, (size_t)r) == -1)
			rc = delta_fail(m->err, DELTA_EIO, "cannot copy the "
			    "diff stream: %s", r == 0 ? "short file" :
			    strerror(errno));
		else
			off += r;
	}
	free(b);
	return rc;
}

/*
 * A writer: the control stream in memory, the diff stream in a
 * temporary file, then header, control, diff and extra in order.
 */
static int
mk_out_stream(struct mk *m, struct sink *w, int block,
    struct delta_stats *st)
{
	struct sink mem, tmp;
	uint8_t	 h[DELTA_HEADER_LEN];
	int	 rc;

	memset(&mem, 0, sizeof(mem));
	mem.kind = SINK_MEM;
	memset(&tmp, 0, sizeof(tmp));
	tmp.kind = SINK_PWRITE;
	if ((tmp.fd = mk_tmpfile()) == -1)
		return delta_fail(m->err, DELTA_EIO, "cannot make a temporary "
		    "file: %s", strerror(errno));
	if ((rc = mk_stream(m, 0, block, &mem, &st->ctrl_len)) != 0 ||
	    (rc = mk_stream(m, 1, block, &tmp, &st->diff_len)) != 0)
		goto out;
	mk_header(h, st, m->newlen);
	if (sink_put(w, h, sizeof(h)) == -1 ||
	    sink_put(w, mem.mem, mem.len) == -1) {
		rc = delta_fail(m->err, DELTA_EIO, "cannot write the patch: "
		    "%s", strerror(errno));
		goto out;
	}
	if ((rc = mk_copy(m, tmp.fd, st->diff_len, w)) != 0)
		goto out;
	rc = mk_stream(m, 2, block, w, &st->extra_len);
out:
	free(mem.mem);
	close(tmp.fd);
	return rc;
}

/* Checks the arguments; 0 or an error. */
static int
mk_args(size_t oldlen, size_t newlen, const struct delta_out *out,
    const struct delta_opts *o, struct delta_err *err)
{
	if (out == NULL || (out->fd < 0 && out->write == NULL))
		return delta_fail(err, DELTA_EINVAL, "no output for the patch");
	if (o != NULL && (o->block < 0 || o->block > 9))
		return delta_fail(err, DELTA_EINVAL, "bzip2 block size %d is "
		    "not 1 to 9", o->block);
	if (oldlen > DELTA_MAX_IMAGE || newlen > DELTA_MAX_IMAGE)
		return delta_fail(err, DELTA_ETOOBIG, "the %s image has %zu "
		    "bytes; patches are made for images up to %llu bytes "
		    "(2 GiB - 1)", oldlen > DELTA_MAX_IMAGE ? "old" : "new",
		    oldlen > DELTA_MAX_IMAGE ? oldlen : newlen,
		    (unsigned long long)DELTA_MAX_IMAGE);
	return 0;
}

/* Step 1 and 2: the suffix array, the triples; the array is freed. */
static int
mk_find(struct mk *m)
{
	int	 rc;

	if (m->oldlen > 0) {
		m->nsa = (m->oldlen + 1) / 2;
		m->sa = malloc((size_t)m->nsa * sizeof(*m->sa));
		if (m->sa == NULL)
			return delta_fail(m->err, DELTA_ENOMEM, "no memory for "
			    "the suffix array (%lld bytes)",
			    (long long)m->nsa * 4);
		if (delta_sort_even(m->old, m->oldlen, m->sa) != 0) {
			free(m->sa);
			m->sa = NULL;
			return delta_fail(m->err, DELTA_ENOMEM, "no memory to "
			    "sort the suffixes of the old image");
		}
	}
	rc = delta_canceled(m->o) ?
	    delta_fail(m->err, DELTA_ECANCELED, "canceled") : mk_scan(m);
	free(m->sa);
	m->sa = NULL;
	return rc;
}

int
delta_make(const uint8_t *old, size_t oldlen, const uint8_t *new,
    size_t newlen, const struct delta_out *out,
    const struct delta_opts *opts, struct delta_stats *st,
    struct delta_err *err)
{
	struct delta_stats sst;
	struct sink w;
	struct mk m;
	off_t	 start;
	size_t	 i;
	int	 rc, block;

	if (st == NULL)
		st = &sst;
	memset(st, 0, sizeof(*st));
	if ((rc = mk_args(oldlen, newlen, out, opts, err)) != 0)
		return rc;
	block = opts != NULL && opts->block != 0 ? opts->block : 9;
	memset(&m, 0, sizeof(m));
	m.old = old;
	m.new = new;
	m.oldlen = (int64_t)oldlen;
	m.newlen = (int64_t)newlen;
	m.o = opts;
	m.err = err;
	if ((rc = mk_find(&m)) != 0)
		goto out;
	start = out->fd >= 0 ? lseek(out->fd, 0, SEEK_CUR) : -1;
	if (start != -1)
		rc = mk_out_seek(&m, out->fd, start, block, st);
	else {
		memset(&w, 0, sizeof(w));
		w.kind = SINK_WRITE;
		w.write = out->fd >= 0 ? delta_write_fd : out->write;
		w.arg = out->fd >= 0 ? (void *)&out->fd : out->arg;
		rc = mk_out_stream(&m, &w, block, st);
	}
	if (rc == 0) {
		st->patch_len = DELTA_HEADER_LEN + st->ctrl_len +
		    st->diff_len + st->extra_len;
		st->triples = m.nt;
		for (i = 0; i < m.nt; i++)
			st->copied += (uint64_t)m.t[i].add;
		if (opts != NULL && opts->progress != NULL)
			opts->progress(opts->progress_arg, (uint64_t)newlen * 2,
			    (uint64_t)newlen * 2);
	}
out:
	free(m.t);
	return rc;
}
