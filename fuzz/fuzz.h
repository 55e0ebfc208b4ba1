/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz.h: what every fuzz target includes (docs/fuzzing.md).
 *
 * A target is one file, fuzz/fuzz_NAME.c, whose entry is written
 *
 *	FUZZ_TARGET(NAME)
 *	{
 *		... use data[0..size-1] ...
 *		return 0;
 *	}
 *
 * In a --enable-fuzz build that is LLVMFuzzerTestOneInput, and libFuzzer
 * supplies main().  Compiled with -DFUZZ_REPLAY (every build, for
 * tests/unit/test_fuzz_replay) the entry is a static function that
 * registers itself under NAME before main() runs, so that one program
 * holds every target and replays fuzz/corpus/NAME and fuzz/regress/NAME.
 *
 * A target must not keep state that changes what a later input does,
 * beyond caches it sets up on its first call (a store in a temporary
 * directory, for instance).  It must abort() when it finds an invariant
 * broken: libFuzzer and the replay test both count that as a crash.
 * Everything here is static inline, so a target includes what it uses.
 */
#ifndef OTAGW_FUZZ_H
#define OTAGW_FUZZ_H

#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

typedef int (*fuzz_entry_fn)(const uint8_t *, size_t);

#ifdef FUZZ_REPLAY
/* In tests/unit/test_fuzz_replay.c. */
void	 fuzz_register(const char *name, fuzz_entry_fn);

#define FUZZ_TARGET(name)						\
static int fuzz_entry(const uint8_t *, size_t);				\
static void fuzz_register_self(void) __attribute__((constructor));	\
static void								\
fuzz_register_self(void)						\
{									\
	fuzz_register(#name, fuzz_entry);				\
}									\
static int								\
fuzz_entry(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name)						\
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);			\
int									\
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

/* Reports a broken invariant and stops, which the fuzzer records. */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * An HTTP token (RFC 9110 5.6.2): what a method and a header name must be;
 * lower: no capital letter either (HTTP/2 field names).
 */
static inline int
fuzz_is_token(const char *s, int lower)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s >= 0x7f || strchr("()<>@,;:\\\"/[]?={}",
		    *s) != NULL)
			return 0;
		if (lower && *s >= 'A' && *s <= 'Z')
			return 0;
	}
	return 1;
}

/*
 * Silences the daemon's log: at the rate of a fuzzer a log line per
 * input would be most of the run.  The messages are still built where
 * the code builds them before calling log_*.
 */
static inline void
fuzz_quiet(void)
{
	log_set_level(-1);
}

/* A copy of the input with a NUL after it (malloc'd; abort on ENOMEM). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char	*s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static inline int
fuzz_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes a directory tree; the calling target's own temporary one. */
static inline void
fuzz_rmtree(const char *dir)
{
	nftw(dir, fuzz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A new empty directory for a target's state, in $TMPDIR, else in
 * /dev/shm (memory: LMDB's syncs cost nothing there), else in /tmp.
 * The caller removes it (fuzz_rmtree) from an atexit handler.  0, or -1.
 */
static inline int
fuzz_mkdtemp(char *out, size_t size, const char *tag)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(out, size, "%s/otagw-fuzz-%s-XXXXXX", base,
	    tag) >= size)
		return -1;
	return mkdtemp(out) != NULL ? 0 : -1;
}

#endif
