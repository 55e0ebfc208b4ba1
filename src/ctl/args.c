/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * args.c: what every otactl command uses to talk to its user: error and
 * usage messages, the command's help, and the helpers that read options,
 * numbers and input files.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/otactl.h"

static const struct ctl_cmd *cur_cmd;	/* the command being run */

/*
 * Messages.
 */

void
ctl_err(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("otactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error in the current command: message, its usage line, exit 2. */
int
ctl_usage_err(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("otactl: ", stderr);
	if (cur_cmd != NULL)
		fprintf(stderr, "%s %s: ", cur_cmd->group, cur_cmd->verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_cmd != NULL)
		fprintf(stderr, "usage: otactl %s %s %s\n", cur_cmd->group,
		    cur_cmd->verb, cur_cmd->usage);
	else
		fputs("run `otactl --help' for the commands\n", stderr);
	return EXIT_USAGE;
}

int
ctl_op_fail(const struct ops_err *err)
{
	ctl_err("%s", err->msg[0] != '\0' ? err->msg : "operation failed");
	return EXIT_OP;
}

void
ctl_set_cmd(const struct ctl_cmd *c)
{
	cur_cmd = c;
}

void
ctl_help(void)
{
	printf("usage: otactl %s %s %s\n", cur_cmd->group, cur_cmd->verb,
	    cur_cmd->usage);
	if (cur_cmd->help != NULL && *cur_cmd->help != '\0')
		printf("\n%s", cur_cmd->help);
}

/*
 * Argument helpers.
 */

/* Parses a whole decimal number in [min, max]; 0 or -1. */
int
ctl_parse_num(const char *s, long long min, long long max, long long *out)
{
	char	*end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * getopt_long over a command's own arguments (argv[0] is the verb).  On a
 * bad option prints the usage error and returns '?'.
 */
int
ctl_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts)
{
	int	 ch;

	char	 opts[16];

	opterr = 0;
	/* a leading ':' tells a missing value apart from an unknown option */
	snprintf(opts, sizeof(opts), ":%s", shortopts);
	ch = getopt_long(argc, argv, opts, longopts, NULL);
	if (ch == ':') {
		ctl_usage_err("option %s needs a value", argv[optind - 1]);
		return '?';
	}
	if (ch == '?') {
		ctl_usage_err("unknown option %s", argv[optind - 1]);
		return '?';
	}
	return ch;
}

/* Reads a whole file (at most max bytes); NUL-terminated, *len set. */
char *
ctl_read_file(const char *path, size_t max, size_t *len)
{
	FILE	*f;
	char	*buf = NULL, *p;
	size_t	 n = 0, cap = 0, r;

	if ((f = fopen(path, "rb")) == NULL) {
		ctl_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 2)
				cap = max + 2;
			if ((p = realloc(buf, cap)) == NULL) {
				ctl_err("out of memory");
				goto fail;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (n > max) {
			ctl_err("%s: larger than %zu bytes", path, max);
			goto fail;
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		ctl_err("%s: read error", path);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/*
 * Options of a command that takes only --help and nargs arguments: 0 to
 * go on, -1 when the help was printed, or EXIT_USAGE.
 */
int
ctl_plain_args(int argc, char **argv, int nargs, const char *what)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch != 'h')
			return EXIT_USAGE;
		ctl_help();
		return -1;
	}
	if (nargs == 0 && argc != optind)
		return ctl_usage_err("unexpected argument %s", argv[optind]);
	if (argc - optind != nargs)
		return ctl_usage_err("want %s", what);
	return 0;
}

int
ctl_one_id_args(int argc, char **argv, const char *what)
{
	return ctl_plain_args(argc, argv, 1, what);
}


int
ctl_page_args(int argc, char **argv, struct ops_page *pg)
{
	static const struct option lo[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long n;
	int	 ch;

	memset(pg, 0, sizeof(*pg));
	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'a':
			pg->after = optarg;
			break;
		case 'l':
			if (ctl_parse_num(optarg, 1, LLONG_MAX, &n) == -1)
				return ctl_usage_err("--limit wants a number");
			pg->limit = (size_t)n;
			break;
		case 'h':
			ctl_help();
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc != optind)
		return ctl_usage_err("unexpected argument %s", argv[optind]);
	return 0;
}
