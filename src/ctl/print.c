/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * print.c: otactl's output, shared by the commands.  For people: aligned
 * tables (whose widths count East Asian wide characters twice, as
 * terminals draw them), "key: value" lines, times as RFC 3339 or "-".
 * For --json: the codec's texts as they are, each command one JSON
 * document; lists as {"items":[...],"next":...}, the items one per line,
 * kept until the list is complete so that a failure prints no half
 * document.  What each command prints is next to the command;
 * these are its pieces.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/otactl.h"
#include "util/validate.h"

void
ctl_fmt_time(int64_t ms, char out[32])
{
	if (ms <= 0)
		snprintf(out, 32, "-");
	else
		time_format_rfc3339(ms, out);
}

/* Display width of UTF-8 text: East Asian wide characters count twice. */
static size_t
text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t	 w = 0;
	int	 n;

	while (*p != '\0') {
		if (*p < 0x80) {
			w++;
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			n = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			n = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			n = 3;
		} else {
			w++;
			p++;
			continue;
		}
		p++;
		while (n-- > 0 && (*p & 0xc0) == 0x80)
			cp = (cp << 6) | (*p++ & 0x3f);
		if ((cp >= 0x1100 && cp <= 0x115f) ||
		    (cp >= 0x2e80 && cp <= 0xa4cf) ||
		    (cp >= 0xac00 && cp <= 0xd7a3) ||
		    (cp >= 0xf900 && cp <= 0xfaff) ||
		    (cp >= 0xfe30 && cp <= 0xfe4f) ||
		    (cp >= 0xff00 && cp <= 0xff60) ||
		    (cp >= 0xffe0 && cp <= 0xffe6) ||
		    (cp >= 0x20000 && cp <= 0x3fffd))
			w += 2;
		else
			w++;
	}
	return w;
}

void
ctl_table_init(struct ctl_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

int
ctl_table_add(struct ctl_table *t, const char *const *row)
{
	size_t	 i, ncap;
	char	**p;

	if (t->nrows == t->cap) {
		ncap = t->cap ? t->cap * 2 : 32;
		if (ncap > SIZE_MAX / t->ncols / sizeof(char *))
			return -1;
		p = realloc(t->cells, ncap * t->ncols * sizeof(char *));
		if (p == NULL)
			return -1;
		t->cells = p;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		p = &t->cells[t->nrows * t->ncols + i];
		if ((*p = strdup(row[i] != NULL ? row[i] : "")) == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

void
ctl_table_print(const struct ctl_table *t)
{
	size_t	*w, r, c, cw, last;
	const char *s;

	if ((w = calloc(t->ncols, sizeof(*w))) == NULL)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			cw = text_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (r = 0; r < t->nrows; r++) {
		/* no padding after the last cell that has text */
		for (last = t->ncols; last > 1; last--)
			if (t->cells[r * t->ncols + last - 1][0] != '\0')
				break;
		for (c = 0; c < last; c++) {
			s = t->cells[r * t->ncols + c];
			fputs(s, stdout);
			if (c + 1 == last)
				break;
			for (cw = text_width(s); cw < w[c] + 2; cw++)
				putchar(' ');
		}
		putchar('\n');
	}
	free(w);
}

void
ctl_table_free(struct ctl_table *t)
{
	size_t	 i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* Prints one malloc'd JSON text (from the codec) and frees it. */
int
ctl_json_put(char *json)
{
	if (json == NULL) {
		ctl_err("out of memory");
		return -1;
	}
	fputs(json, stdout);
	free(json);
	return 0;
}

/* Appends n bytes to the list's buffer; a failure marks the list. */
static void
jlist_add(struct ctl_jlist *jl, const char *s, size_t n)
{
	size_t	 ncap;
	char	*np;

	if (jl->failed)
		return;
	if (jl->len + n + 1 > jl->cap) {
		ncap = jl->cap ? jl->cap : 4096;
		while (ncap < jl->len + n + 1) {
			if (ncap > SIZE_MAX / 2) {
				jl->failed = 1;
				return;
			}
			ncap *= 2;
		}
		if ((np = realloc(jl->p, ncap)) == NULL) {
			jl->failed = 1;
			return;
		}
		jl->p = np;
		jl->cap = ncap;
	}
	memcpy(jl->p + jl->len, s, n);
	jl->len += n;
	jl->p[jl->len] = '\0';
}

void
ctl_jlist_item(struct ctl_jlist *jl, char *json)
{
	if (json == NULL) {
		jl->failed = 1;
		return;
	}
	if (jl->n++ > 0)
		jlist_add(jl, ",\n", 2);
	jlist_add(jl, json, strlen(json));
	free(json);
}

/* A JSON string: ids need no escaping, but an answer is not trusted. */
static void
jlist_str(struct ctl_jlist *jl, const char *s)
{
	char	 e[8];

	jlist_add(jl, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) {
			snprintf(e, sizeof(e), "\\u%04x", (unsigned char)*s);
			jlist_add(jl, e, strlen(e));
		} else
			jlist_add(jl, s, 1);
	}
	jlist_add(jl, "\"", 1);
}

int
ctl_jlist_put(struct ctl_jlist *jl, const char *next)
{
	int	 rc = 0;

	jlist_add(jl, "],\"next\":", 9);
	if (next != NULL && next[0] != '\0')
		jlist_str(jl, next);
	else
		jlist_add(jl, "null", 4);
	jlist_add(jl, "}\n", 2);
	if (jl->failed) {
		ctl_err("out of memory");
		rc = -1;
	} else {
		fputs("{\"items\":[", stdout);
		fputs(jl->p, stdout);
	}
	ctl_jlist_free(jl);
	return rc;
}

void
ctl_jlist_free(struct ctl_jlist *jl)
{
	free(jl->p);
	memset(jl, 0, sizeof(*jl));
}

void
ctl_progress(void *arg, const char *what, size_t done, size_t total)
{
	static int64_t last;
	struct ctl *ctl = arg;
	int64_t	 now = time_now_ms();
	int	 tty = isatty(STDERR_FILENO);
	unsigned pct = total > 0 ? (unsigned)(done * 100 / total) : 100;

	(void)ctl;
	if (!tty && done != 0 && done < total && now - last < 1000)
		return;
	last = now;
	fprintf(stderr, "%s%s: %zu of %zu (%u%%)%s", tty ? "\r" : "", what,
	    done, total, pct, tty && done < total ? "" : "\n");
	fflush(stderr);
}

/* "key:   value" with the values aligned. */
void
ctl_kv(const char *key, const char *fmt, ...)
{
	va_list	 ap;

	printf("%s:%*s", key, (int)(14 - strlen(key)), "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void
ctl_versions_str(const struct device_rec *d, char *out, size_t size)
{
	size_t	 o = 0;
	unsigned i;
	int	 n;

	out[0] = '\0';
	for (i = 0; i < d->nversions && i < OTA_MODULES_MAX; i++) {
		n = snprintf(out + o, size - o, "%s%s=%s", i ? " " : "",
		    d->versions[i].module, d->versions[i].version);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, size, "-");
}

void
ctl_counts_line(const struct jobs_counts *c, char *out, size_t size)
{
	size_t	 o = 0;
	int	 s, n;

	out[0] = '\0';
	for (s = 0; s < JD_NSTATES; s++) {
		if (c->n[s] == 0)
			continue;
		n = snprintf(out + o, size - o, "%s%s %zu", o ? ", " : "",
		    jobs_jd_state_name(s), c->n[s]);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, size, "none");
}

