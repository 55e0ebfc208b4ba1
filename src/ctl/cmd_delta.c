/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_delta.c: otactl delta make OLD NEW PATCH and otactl delta apply OLD
 * PATCH OUT, the BSDIFF40 patch maker and applier of src/delta on local
 * files (docs/delta.md).  They are offline: no configuration, no state
 * directory, no daemon.  The inputs are memory maps; the output is
 * written to a temporary name beside it, flushed and renamed, so a
 * failure leaves no file behind and never a partial one ("-" writes to
 * standard output instead).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "ctl/otactl.h"
#include "delta/delta.h"
#include "util/validate.h"

/* A file mapped read-only; an empty file has p NULL. */
struct map {
	const uint8_t *p;
	size_t	 len;
};

/* An output file: written as tmp, renamed to path when done. */
struct outfile {
	const char *path;
	char	 dst[4096];	/* what the temporary file becomes */
	char	 tmp[4096];
	int	 fd;
	int	 direct;	/* written in place: not a regular file */
};

static const char help_delta_make[] =
"Makes a BSDIFF40 patch that turns OLD into NEW, as Debian's bsdiff\n"
"does (bspatch applies it); images up to 2 GiB - 1.  Prints the sizes\n"
"and the share of NEW's bytes the patch saves.\n"
"  --block N                bzip2 block size 1-9 (x 100 kB, default 9):\n"
"                           a device decompresses with about 4 x N x 100\n"
"                           kB per stream (docs/delta.md)\n"
"  --verify                 apply the patch once written and compare the\n"
"                           result with NEW (size and SHA-256)\n";

static const char help_delta_apply[] =
"Applies a BSDIFF40 patch to OLD and writes the result to OUT (\"-\":\n"
"standard output), refusing a damaged or malformed patch.  Prints the\n"
"result's size and SHA-256.\n"
"  --sha256 HEX             the result must have this SHA-256, or OUT is\n"
"                           not written\n"
"  --size N                 the result must have N bytes\n";

static int
map_open(const char *path, struct map *m)
{
	struct stat sb;
	void	*p;
	int	 fd;

	memset(m, 0, sizeof(*m));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1) {
		ctl_err("%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > DELTA_MAX_IMAGE) {
		ctl_err("%s: %s", path, !S_ISREG(sb.st_mode) ?
		    "not a regular file" : "over 2 GiB - 1 bytes, the limit "
		    "of delta patches");
		close(fd);
		return -1;
	}
	if (sb.st_size > 0) {
		p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd,
		    0);
		if (p == MAP_FAILED) {
			ctl_err("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		m->p = p;
		m->len = (size_t)sb.st_size;
	}
	close(fd);
	return 0;
}

static void
map_close(struct map *m)
{
	if (m->p != NULL)
		munmap((void *)(uintptr_t)m->p, m->len);
	memset(m, 0, sizeof(*m));
}

/*
 * OUT is written whole or not at all: into a temporary file beside it,
 * renamed over it at the end (over the file a symbolic link names, so
 * that the link stays a link).  "-" is standard output.  An OUT that
 * exists and is not a regular file (/dev/null, a FIFO) is written in
 * place: a rename would put a regular file where the device was.
 */
static int
out_in_place(const char *path)
{
	struct stat sb;

	return strcmp(path, "-") != 0 && stat(path, &sb) == 0 &&
	    !S_ISREG(sb.st_mode);
}

static int
out_open(struct outfile *o, const char *path)
{
	struct stat sb;
	char	*real = NULL;
	const char *dst = path;
	int	 n;

	memset(o, 0, sizeof(*o));
	o->path = path;
	if (strcmp(path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		return 0;
	}
	if (out_in_place(path)) {
		if ((o->fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
			ctl_err("%s: %s", path, strerror(errno));
			return -1;
		}
		o->direct = 1;
		return 0;
	}
	if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode) &&
	    (real = realpath(path, NULL)) != NULL)
		dst = real;
	n = snprintf(o->dst, sizeof(o->dst), "%s", dst);
	if (n >= 0 && (size_t)n < sizeof(o->dst))
		n = snprintf(o->tmp, sizeof(o->tmp), "%s.XXXXXX", dst);
	free(real);
	if (n < 0 || (size_t)n >= sizeof(o->tmp)) {
		ctl_err("%s: name too long", path);
		return -1;
	}
	if ((o->fd = mkstemp(o->tmp)) == -1) {
		ctl_err("%s: %s", o->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * ok: flush and rename (or close, in place); otherwise remove the
 * temporary file.  0 or -1.
 */
static int
out_close(struct outfile *o, int ok)
{
	if (o->fd == STDOUT_FILENO)
		return 0;
	if (o->direct) {
		if (close(o->fd) == -1 && ok) {
			ctl_err("%s: %s", o->path, strerror(errno));
			return -1;
		}
		return ok ? 0 : -1;
	}
	if (ok && (fchmod(o->fd, 0644) == -1 || fsync(o->fd) == -1 ||
	    rename(o->tmp, o->dst) == -1)) {
		ctl_err("%s: %s", o->path, strerror(errno));
		ok = 0;
	}
	if (!ok)
		unlink(o->tmp);
	close(o->fd);
	return ok ? 0 : -1;
}

/* The maker's progress on stderr (on a terminal, or with --progress). */
static void
delta_progress(void *arg, uint64_t done, uint64_t total)
{
	ctl_progress(arg, "delta", (size_t)done, (size_t)total);
}

/* What the progress and release callbacks of make need. */
struct make_cb {
	struct ctl *ctl;
	int	 show;		/* progress on stderr */
	const struct map *new;
};

static void
make_progress(void *arg, uint64_t done, uint64_t total)
{
	struct make_cb *cb = arg;

	if (cb->show)
		ctl_progress(cb->ctl, "delta", (size_t)done, (size_t)total);
}

/*
 * The maker does not need NEW's bytes from..to-1 for now: their whole
 * pages leave the resident set.  The map is a read-only map of the file,
 * so a page read again faults back in from the page cache, unchanged.
 */
static void
make_release(void *arg, uint64_t from, uint64_t to)
{
	struct make_cb *cb = arg;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	from = (from + page - 1) / page * page;
	to = to / page * page;
	if (cb->new->p == NULL || to <= from || to > cb->new->len)
		return;
	madvise((void *)(uintptr_t)(cb->new->p + from), (size_t)(to - from),
	    MADV_DONTNEED);
}

static void
delta_opts_init(struct ctl *ctl, struct delta_opts *o, int block)
{
	memset(o, 0, sizeof(*o));
	o->block = block;
	if (ctl->progress || isatty(STDERR_FILENO)) {
		o->progress = delta_progress;
		o->progress_arg = ctl;
	}
}

/* make --verify: the patch as written, applied to OLD. */
static int
make_verify(struct ctl *ctl, const struct map *old, const struct map *new,
    const char *path)
{
	struct delta_opts o;
	struct delta_err err;
	struct map patch;
	uint8_t	 sha[32];
	int	 rc;

	if (map_open(path, &patch) == -1)
		return EXIT_OP;
	crypto_sha256(new->p, new->len, sha);
	delta_opts_init(ctl, &o, 0);
	rc = delta_verify(old->p, old->len, patch.p, patch.len, new->len, sha,
	    &o, &err);
	map_close(&patch);
	if (rc != 0) {
		ctl_err("%s: the patch does not verify: %s", path, err.msg);
		unlink(path);
		return EXIT_OP;
	}
	return 0;
}

static void
make_print(struct ctl *ctl, const char *path, const struct map *old,
    const struct map *new, const struct delta_stats *st)
{
	double	 saved = new->len > 0 ?
	    100.0 * (1.0 - (double)st->patch_len / (double)new->len) : 0.0;

	if (ctl->json) {
		printf("{\"oldSize\":%zu,\"newSize\":%zu,\"patchSize\":%llu,"
		    "\"ctrlSize\":%llu,\"diffSize\":%llu,\"extraSize\":%llu,"
		    "\"triples\":%llu,\"copied\":%llu,\"savedPercent\":%.2f}\n",
		    old->len, new->len, (unsigned long long)st->patch_len,
		    (unsigned long long)st->ctrl_len,
		    (unsigned long long)st->diff_len,
		    (unsigned long long)st->extra_len,
		    (unsigned long long)st->triples,
		    (unsigned long long)st->copied, saved);
		return;
	}
	ctl_kv("old", "%zu bytes", old->len);
	ctl_kv("new", "%zu bytes", new->len);
	ctl_kv("patch", "%llu bytes (control %llu, diff %llu, extra %llu)",
	    (unsigned long long)st->patch_len,
	    (unsigned long long)st->ctrl_len,
	    (unsigned long long)st->diff_len,
	    (unsigned long long)st->extra_len);
	ctl_kv("saved", "%.1f%% of the new image", saved);
	ctl_kv("triples", "%llu (%llu bytes from the old image)",
	    (unsigned long long)st->triples, (unsigned long long)st->copied);
	printf("%s\n", path);
}

static int
cmd_delta_make(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "block", required_argument, NULL, 'b' },
		{ "verify", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct map old, new;
	struct outfile of;
	struct delta_opts o;
	struct delta_out out;
	struct delta_stats st;
	struct delta_err err;
	struct make_cb cb;
	long long block = 9;
	int	 ch, rc, verify = 0;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch == 'b') {
			if (ctl_parse_num(optarg, 1, 9, &block) == -1)
				return ctl_usage_err("--block wants 1 to 9");
		} else if (ch == 'v')
			verify = 1;
		else if (ch == 'h') {
			ctl_help();
			return 0;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind != 3)
		return ctl_usage_err("want OLD NEW PATCH");
	if (verify && strcmp(argv[optind + 2], "-") == 0)
		return ctl_usage_err("--verify needs a PATCH file, not -");
	if (map_open(argv[optind], &old) == -1)
		return EXIT_OP;
	if (map_open(argv[optind + 1], &new) == -1) {
		map_close(&old);
		return EXIT_OP;
	}
	rc = EXIT_OP;
	if (verify && out_in_place(argv[optind + 2])) {
		rc = ctl_usage_err("--verify reads PATCH back: %s is not a "
		    "regular file", argv[optind + 2]);
		goto done;
	}
	if (out_open(&of, argv[optind + 2]) == -1)
		goto done;
	delta_opts_init(ctl, &o, (int)block);
	memset(&cb, 0, sizeof(cb));
	cb.ctl = ctl;
	cb.show = o.progress != NULL;
	cb.new = &new;
	o.progress = make_progress;
	o.progress_arg = &cb;
	o.release = make_release;
	memset(&out, 0, sizeof(out));
	out.fd = of.fd;
	if (delta_make(old.p, old.len, new.p, new.len, &out, &o, &st,
	    &err) != 0) {
		ctl_err("%s: %s", argv[optind + 2], err.msg);
		out_close(&of, 0);
		goto done;
	}
	if (out_close(&of, 1) == -1)
		goto done;
	if (verify && (rc = make_verify(ctl, &old, &new,
	    argv[optind + 2])) != 0)
		goto done;
	if (of.fd != STDOUT_FILENO)
		make_print(ctl, argv[optind + 2], &old, &new, &st);
	rc = 0;
done:
	map_close(&old);
	map_close(&new);
	return rc;
}

/* apply's --sha256 and --size; 0 or EXIT_USAGE. */
static int
apply_args(int argc, char **argv, uint8_t sha[32], int *has_sha,
    long long *size)
{
	static const struct option lo[] = {
		{ "sha256", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t	 len;
	int	 ch;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch == 's') {
			if (hex_decode(optarg, sha, 32, &len) == -1 ||
			    len != 32)
				return ctl_usage_err("--sha256 needs 64 hex "
				    "digits");
			*has_sha = 1;
		} else if (ch == 'n') {
			if (ctl_parse_num(optarg, 0, (long long)DELTA_MAX_IMAGE,
			    size) == -1)
				return ctl_usage_err("--size wants 0 to %llu",
				    (unsigned long long)DELTA_MAX_IMAGE);
		} else if (ch == 'h') {
			ctl_help();
			return -1;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind != 3)
		return ctl_usage_err("want OLD PATCH OUT");
	return 0;
}

/* The result against --sha256 and --size; 0 or -1 with it said. */
static int
apply_check(const struct delta_result *res, const uint8_t sha[32],
    int has_sha, long long size)
{
	if (size >= 0 && res->new_len != (uint64_t)size) {
		ctl_err("the result has %llu bytes, not %lld",
		    (unsigned long long)res->new_len, size);
		return -1;
	}
	if (has_sha && memcmp(res->sha256, sha, 32) != 0) {
		ctl_err("the result's SHA-256 is not the one given");
		return -1;
	}
	return 0;
}

static int
cmd_delta_apply(struct ctl *ctl, int argc, char **argv)
{
	struct map old, patch;
	struct outfile of;
	struct delta_opts o;
	struct delta_out out;
	struct delta_result res;
	struct delta_err err;
	uint8_t	 sha[32];
	char	 hex[65];
	long long size = -1;
	int	 rc, has_sha = 0;

	if ((rc = apply_args(argc, argv, sha, &has_sha, &size)) != 0)
		return rc == -1 ? 0 : rc;
	if (map_open(argv[optind], &old) == -1)
		return EXIT_OP;
	if (map_open(argv[optind + 1], &patch) == -1) {
		map_close(&old);
		return EXIT_OP;
	}
	rc = EXIT_OP;
	if (out_open(&of, argv[optind + 2]) == -1)
		goto done;
	delta_opts_init(ctl, &o, 0);
	memset(&out, 0, sizeof(out));
	out.fd = of.fd;
	if (delta_apply(old.p, old.len, patch.p, patch.len,
	    size >= 0 ? (uint64_t)size : 0, &out, &o, &res, &err) != 0) {
		ctl_err("%s: %s", argv[optind + 1], err.msg);
		out_close(&of, 0);
		goto done;
	}
	if (apply_check(&res, sha, has_sha, size) == -1) {
		out_close(&of, 0);
		goto done;
	}
	if (out_close(&of, 1) == -1)
		goto done;
	hex_encode(res.sha256, 32, hex);
	if (ctl->json)
		fprintf(of.fd == STDOUT_FILENO ? stderr : stdout,
		    "{\"size\":%llu,\"sha256\":\"%s\"}\n",
		    (unsigned long long)res.new_len, hex);
	else
		fprintf(of.fd == STDOUT_FILENO ? stderr : stdout,
		    "%llu bytes, sha256 %s\n",
		    (unsigned long long)res.new_len, hex);
	rc = 0;
done:
	map_close(&old);
	map_close(&patch);
	return rc;
}

const struct ctl_cmd ctl_cmd_delta_make = {
	"delta", "make", cmd_delta_make,
	"OLD NEW PATCH [--block N] [--verify]",
	help_delta_make,
};

const struct ctl_cmd ctl_cmd_delta_apply = {
	"delta", "apply", cmd_delta_apply,
	"OLD PATCH OUT [--sha256 HEX] [--size N]",
	help_delta_apply,
};
