/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_fuzz_replay.c: every seed and every regression input of every fuzz
 * target, run once, in every build (docs/fuzzing.md).
 *
 * The targets of fuzz/ are compiled into this program with FUZZ_REPLAY,
 * which turns each FUZZ_TARGET(NAME) into a function that registers
 * itself here before main() runs.  For each target, each file of
 * fuzz/corpus/NAME and fuzz/regress/NAME (names starting with '.' aside)
 * is read and given to the target in a child process, so that a crash is
 * one failed check naming the file rather than the end of the program,
 * and so that each child sets up its own state (a forked LMDB environment
 * may not be used).  A gcc build without libFuzzer thus still checks that
 * every crash ever found stays fixed; a --enable-sanitizers build checks
 * it under ASan and UBSan.
 *
 * It also checks that the registered targets and the corpus directories
 * match, so that a target cannot be added without seeds or left out of
 * the build.  The sources are found through OTAGW_SRCDIR (make check sets
 * it), else the current directory.  The children get a TMPDIR of their
 * own, removed at the end, so that a child that crashes before removing
 * its state leaves nothing behind.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "t.h"

#define REPLAY_TARGETS_MAX	32
#define REPLAY_FILES_MAX	4096
#define REPLAY_INPUT_MAX	(1024 * 1024)

struct replay_target {
	const char	*name;
	fuzz_entry_fn	 entry;
};

static struct replay_target targets[REPLAY_TARGETS_MAX];
static size_t ntargets;

void
fuzz_register(const char *name, fuzz_entry_fn entry)
{
	if (ntargets == REPLAY_TARGETS_MAX) {
		fprintf(stderr, "fuzz_register: more than %d targets\n",
		    REPLAY_TARGETS_MAX);
		abort();
	}
	targets[ntargets].name = name;
	targets[ntargets].entry = entry;
	ntargets++;
}

static int
target_cmp(const void *a, const void *b)
{
	const struct replay_target *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The names in dir, sorted, dot files left out (malloc'd array of
 * malloc'd strings).  -1 when dir cannot be read.
 */
static int
list_dir(const char *dir, char ***out, size_t *n)
{
	struct dirent *de;
	char	**v;
	DIR	*d;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	if ((v = calloc(REPLAY_FILES_MAX, sizeof(*v))) == NULL) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL && *n < REPLAY_FILES_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if ((v[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), name_cmp);
	*out = v;
	return 0;
}

static void
free_list(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The whole file (malloc'd), or NULL. */
static uint8_t *
read_file(const char *path, size_t *len)
{
	uint8_t	*buf;
	size_t	 n = 0;
	FILE	*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if ((buf = malloc(REPLAY_INPUT_MAX)) != NULL)
		n = fread(buf, 1, REPLAY_INPUT_MAX, fp);
	if (buf != NULL && (ferror(fp) || !feof(fp))) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

/* Runs one input in a child: 0 when it returned, -1 (reported) if not. */
static int
replay_one(const struct replay_target *t, const char *path)
{
	uint8_t	*data;
	size_t	 len;
	pid_t	 pid;
	int	 status;

	if ((data = read_file(path, &len)) == NULL) {
		fprintf(stderr, "%s: cannot read (or over %d bytes)\n", path,
		    REPLAY_INPUT_MAX);
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		perror("fork");
		free(data);
		return -1;
	}
	if (pid == 0) {
		t->entry(data, len);
		free(data);
		exit(0);	/* atexit handlers remove the target's state */
	}
	free(data);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			perror("waitpid");
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: %s: killed by signal %d\n", t->name, path,
		    WTERMSIG(status));
	else
		fprintf(stderr, "%s: %s: exit status %d\n", t->name, path,
		    WEXITSTATUS(status));
	return -1;
}

/* Every file of srcdir/fuzz/sub/NAME; the number of files, or -1. */
static long
replay_dir(const char *srcdir, const char *sub,
    const struct replay_target *t)
{
	char	 dir[4096], path[8192], **names;
	size_t	 n, i;

	snprintf(dir, sizeof(dir), "%s/fuzz/%s/%s", srcdir, sub, t->name);
	if (list_dir(dir, &names, &n) == -1) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		T_CHECK(replay_one(t, path) == 0);
	}
	free_list(names, n);
	return (long)n;
}

/* Each corpus directory belongs to a target that was compiled in. */
static void
check_dirs(const char *srcdir)
{
	char	 dir[4096], **names;
	size_t	 n, i, j;

	snprintf(dir, sizeof(dir), "%s/fuzz/corpus", srcdir);
	T_CHECK(list_dir(dir, &names, &n) == 0);
	for (i = 0; i < n; i++) {
		for (j = 0; j < ntargets; j++)
			if (strcmp(names[i], targets[j].name) == 0)
				break;
		if (j == ntargets)
			fprintf(stderr, "fuzz/corpus/%s: no such target in "
			    "FUZZ_TARGETS (Makefile.am)\n", names[i]);
		T_CHECK(j < ntargets);
	}
	T_EQ_INT(n, ntargets);
	free_list(names, n);
}

int
main(void)
{
	const char *srcdir = getenv("OTAGW_SRCDIR");
	const char *tmp = getenv("TMPDIR");
	char	 tmpdir[4096];
	long	 seeds, crashes;
	size_t	 i;

	if (srcdir == NULL || *srcdir == '\0')
		srcdir = ".";
	if (tmp == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/otagw-fuzz-replay-XXXXXX", tmp);
	if (mkdtemp(tmpdir) == NULL || setenv("TMPDIR", tmpdir, 1) == -1) {
		perror(tmpdir);
		return 1;
	}
	qsort(targets, ntargets, sizeof(targets[0]), target_cmp);
	check_dirs(srcdir);
	for (i = 0; i < ntargets; i++) {
		seeds = replay_dir(srcdir, "corpus", &targets[i]);
		crashes = replay_dir(srcdir, "regress", &targets[i]);
		/* a target without seeds would start from nothing */
		T_CHECK(seeds > 0);
		T_CHECK(crashes >= 0);
		fprintf(stderr, "%-12s %ld seeds, %ld regression inputs\n",
		    targets[i].name, seeds, crashes);
	}
	T_CHECK(ntargets > 0);
	fuzz_rmtree(tmpdir);
	return t_done();
}
