/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tmpdir.h: a temporary directory per test, header only.
 *
 *   t_tmpdir_make(buf, size, "tls")   mkdtemp under $TMPDIR (or /tmp),
 *                                      exits when it cannot
 *   t_tmpdir_remove(dir)              removes it and all it holds
 */
#ifndef OTAGW_T_TMPDIR_H
#define OTAGW_T_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int
t_tmpdir_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
t_tmpdir_make(char *buf, size_t size, const char *name)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t == '\0' || strlen(t) + strlen(name) + 32 > size)
		t = "/tmp";
	snprintf(buf, size, "%s/otagw-test-%s-XXXXXX", t, name);
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static inline void
t_tmpdir_remove(const char *dir)
{
	if (dir != NULL && dir[0] != '\0')
		nftw(dir, t_tmpdir_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
