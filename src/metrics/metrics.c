/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.c: the Prometheus registry behind GET /metrics.
 *
 * Owners register a collector once; a scrape runs every collector in
 * registration order and each writes its samples here.  HELP and TYPE
 * are written the first time a name appears in a scrape, so a collector
 * may emit several labelled samples of one metric (one per listener, one
 * per state) without repeating them.  The text goes into one growing
 * buffer, capped so a runaway collector cannot eat the daemon's memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "log.h"

#define METRICS_MAX_COLLECTORS	32
#define METRICS_MAX_NAMES	256
#define METRICS_MAX_TEXT	(4u << 20)

struct collector {
	metrics_collect_cb cb;
	void	*arg;
};

struct metrics {
	struct collector c[METRICS_MAX_COLLECTORS];
	size_t	 n;
};

struct metrics_out {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;
	const char *names[METRICS_MAX_NAMES];	/* seen in this scrape */
	size_t	 nnames;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		log_warn("metrics");
	return m;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

int
metrics_register(struct metrics *m, metrics_collect_cb cb, void *arg)
{
	if (m == NULL || cb == NULL)
		return -1;
	if (m->n == METRICS_MAX_COLLECTORS) {
		log_warnx("metrics: too many collectors");
		return -1;
	}
	m->c[m->n].cb = cb;
	m->c[m->n].arg = arg;
	m->n++;
	return 0;
}

static void
out_printf(struct metrics_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct metrics_out *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	size_t	 ncap;
	char	*nbuf;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		ncap = o->cap * 2;
		if (ncap > METRICS_MAX_TEXT || (nbuf = realloc(o->buf,
		    ncap)) == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = nbuf;
		o->cap = ncap;
	}
}

/* Writes HELP and TYPE the first time a name is used in this scrape. */
static void
out_describe(struct metrics_out *o, const char *name, const char *help,
    const char *type)
{
	size_t	 i;

	for (i = 0; i < o->nnames; i++)
		if (strcmp(o->names[i], name) == 0)
			return;
	if (o->nnames < METRICS_MAX_NAMES)
		o->names[o->nnames++] = name;
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
out_sample(struct metrics_out *o, const char *name, const char *help,
    const char *type, const char *labels, double value)
{
	out_describe(o, name, help, type);
	if (labels != NULL && labels[0] != '\0')
		out_printf(o, "%s{%s} %.17g\n", name, labels, value);
	else
		out_printf(o, "%s %.17g\n", name, value);
}

void
metrics_counter(struct metrics_out *o, const char *name, const char *help,
    const char *labels, double value)
{
	out_sample(o, name, help, "counter", labels, value);
}

void
metrics_gauge(struct metrics_out *o, const char *name, const char *help,
    const char *labels, double value)
{
	out_sample(o, name, help, "gauge", labels, value);
}

char *
metrics_render(struct metrics *m, size_t *len)
{
	struct metrics_out o;
	size_t	 i;

	memset(&o, 0, sizeof(o));
	o.cap = 4096;
	if ((o.buf = malloc(o.cap)) == NULL)
		return NULL;
	o.buf[0] = '\0';
	for (i = 0; m != NULL && i < m->n; i++)
		m->c[i].cb(m->c[i].arg, &o);
	if (o.failed) {
		log_warnx("metrics: exposition too large or out of memory");
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
