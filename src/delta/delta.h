/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * delta.h: binary patches in bsdiff's BSDIFF40 format (docs/delta.md),
 * made from two images in memory and checked by applying them.
 *
 * delta_make finds, with a suffix array of OLD (libdivsufsort), the
 * regions NEW shares with OLD and writes a patch that Debian's bspatch
 * reads: a 32-byte header, then three bzip2 streams (control triples,
 * byte-wise differences, extra bytes).  delta_apply rebuilds NEW from OLD
 * and a patch, feeding the result to a SHA-256 and optionally to a
 * writer, and refuses any patch that is not exactly well formed.  Both
 * take a progress callback and a cancel flag, so a caller may run them
 * on a worker thread; neither touches any global state.
 *
 * Errors: a negative enum delta_code, with a sentence in struct
 * delta_err.  Images are limited to DELTA_MAX_IMAGE bytes (the suffix
 * array has 32-bit entries).
 */
#ifndef OTAGW_DELTA_H
#define OTAGW_DELTA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* 2 GiB - 1: libdivsufsort's saidx_t is an int32_t. */
#define DELTA_MAX_IMAGE		((uint64_t)INT32_MAX)
/* The header: "BSDIFF40", control length, diff length, new size. */
#define DELTA_HEADER_LEN	32

enum delta_code {
	DELTA_OK = 0,
	DELTA_EINVAL = -1,	/* a bad argument (block size, NULL) */
	DELTA_ETOOBIG = -2,	/* an image over DELTA_MAX_IMAGE */
	DELTA_ENOMEM = -3,
	DELTA_EIO = -4,		/* writing the patch or the result failed */
	DELTA_ECANCELED = -5,	/* the cancel flag was raised */
	DELTA_EBZIP = -6,	/* libbz2 refused to compress */
	DELTA_ECORRUPT = -7,	/* the patch is not well formed */
	DELTA_EMISMATCH = -8,	/* the result's size or SHA-256 differs */
};

struct delta_err {
	int	 code;		/* enum delta_code */
	char	 msg[160];	/* a sentence, without "error:" */
};

/*
 * Output: a file descriptor, or a writer callback.  A seekable fd (not
 * O_APPEND) is written from its current offset in one pass, the header
 * last with pwrite, and left at the patch's end; a pipe or a callback
 * gets the patch in order (the diff stream then waits in an unlinked
 * temporary file under $TMPDIR).  write returns 0, or -1 with errno
 * set.
 */
struct delta_out {
	int	 fd;		/* -1: use write */
	int	(*write)(void *arg, const void *, size_t);
	void	*arg;
};

struct delta_opts {
	int	 block;		/* bzip2 block size, 1..9 (x 100 kB); 0: 9 */
	/* bytes of NEW done (made or rebuilt) of total; may be NULL */
	void	(*progress)(void *arg, uint64_t done, uint64_t total);
	void	*progress_arg;
	/* stop with DELTA_ECANCELED soon after it becomes non-zero */
	const atomic_int *cancel;
	/*
	 * delta_make's hint, may be NULL: NEW's bytes from..to-1 are not
	 * needed for now (each pass over NEW reads it in order; a later
	 * pass may read them again).  A caller whose NEW is a read-only
	 * file map may drop those pages (madvise MADV_DONTNEED), which
	 * keeps the resident memory of the search to the suffix array and
	 * OLD; a page read again comes back from the page cache.  Called
	 * with progress_arg.
	 */
	void	(*release)(void *arg, uint64_t from, uint64_t to);
};

/* What delta_make wrote. */
struct delta_stats {
	uint64_t patch_len;	/* header and the three streams */
	uint64_t ctrl_len;	/* compressed lengths */
	uint64_t diff_len;
	uint64_t extra_len;
	uint64_t triples;	/* control triples */
	uint64_t copied;	/* bytes of NEW taken from OLD (diff bytes) */
};

/*
 * Writes the patch from old to new to out.  opts may be NULL.  0, or a
 * negative enum delta_code with err filled; on an error, what was
 * written is not a patch.
 */
int	 delta_make(const uint8_t *old, size_t oldlen, const uint8_t *new,
	    size_t newlen, const struct delta_out *out,
	    const struct delta_opts *opts, struct delta_stats *st,
	    struct delta_err *err);

/* What delta_apply produced. */
struct delta_result {
	uint64_t new_len;
	uint8_t	 sha256[32];
};

/*
 * Applies patch to old: the result goes to out (NULL: only digested) and
 * its size and SHA-256 to res.  A patch whose new size exceeds max_new
 * is refused before any work (0: DELTA_MAX_IMAGE).  Refused as
 * DELTA_ECORRUPT: a bad header, negative or out-of-range lengths and
 * control values, bzip2 streams that are damaged, truncated, longer
 * than the control triples need, or followed by anything.  0, or a
 * negative enum delta_code with err filled.
 */
int	 delta_apply(const uint8_t *old, size_t oldlen, const uint8_t *patch,
	    size_t patchlen, uint64_t max_new, const struct delta_out *out,
	    const struct delta_opts *opts, struct delta_result *res,
	    struct delta_err *err);

/*
 * delta_apply without output, then compares the result with the size
 * and SHA-256 the patch must produce: DELTA_EMISMATCH when they differ.
 */
int	 delta_verify(const uint8_t *old, size_t oldlen, const uint8_t *patch,
	    size_t patchlen, uint64_t want_len, const uint8_t want_sha256[32],
	    const struct delta_opts *opts, struct delta_err *err);

/* The name of a code ("corrupt patch", ...), for messages. */
const char *delta_code_str(int);

#endif
