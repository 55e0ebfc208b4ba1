/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.c: the Prometheus registry behind GET /metrics.
 *
 * Owners register a collector once; a scrape runs every collector in
 * registration order and each writes its samples here.  Samples are kept
 * until every collector has run, then written grouped by name in the
 * order the names first appeared, with HELP and TYPE once per name, so a
 * collector may emit several labelled samples of one metric (one per
 * listener, one per state).  Two samples of one name and the same labels
 * are one sample with their sum: every worker thread has its own CoAP and
 * HTTPS front ends, each registering the same collectors, and /metrics
 * shows the gateway's totals.  The text goes into one growing buffer,
 * capped so a runaway collector cannot eat the daemon's memory.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "log.h"

#define METRICS_MAX_SAMPLES	4096	/* distinct ones in a scrape */
#define METRICS_MAX_TEXT	(4u << 20)

struct collector {
	metrics_collect_cb cb;
	void	*arg;
};

struct metrics {
	struct collector *c;
	size_t	 n, cap;
};

struct sample {
	const char *name;		/* the collector's constants */
	const char *help;
	const char *type;
	char	*labels;		/* a copy; "" for none */
	double	 value;
	size_t	 group;			/* first sample of this name */
};

struct metrics_out {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 failed;
	struct sample *s;		/* in the order they came */
	size_t	 ns, caps;
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
	if (m != NULL)
		free(m->c);
	free(m);
}

int
metrics_register(struct metrics *m, metrics_collect_cb cb, void *arg)
{
	if (m == NULL || cb == NULL)
		return -1;
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 32;
		struct collector *nc;

		if ((nc = reallocarray(m->c, ncap, sizeof(*nc))) == NULL) {
			log_warn("metrics_register");
			return -1;
		}
		m->c = nc;
		m->cap = ncap;
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

/*
 * Adds value to the sample of this name and labels, or keeps a new one.
 * The name of an earlier sample is found by a linear walk: a scrape has
 * a few hundred samples at most.
 */
static void
out_sample(struct metrics_out *o, const char *name, const char *help,
    const char *type, const char *labels, double value)
{
	struct sample *n;
	size_t	 i, group = SIZE_MAX, ncap;

	if (labels == NULL)
		labels = "";
	for (i = 0; i < o->ns && !o->failed; i++) {
		if (strcmp(o->s[i].name, name) != 0)
			continue;
		group = o->s[i].group;
		if (strcmp(o->s[i].labels, labels) == 0) {
			o->s[i].value += value;
			return;
		}
	}
	if (o->failed)
		return;
	if (o->ns == o->caps) {
		ncap = o->caps ? o->caps * 2 : 64;
		if (ncap > METRICS_MAX_SAMPLES || (n = reallocarray(o->s,
		    ncap, sizeof(*n))) == NULL) {
			o->failed = 1;
			return;
		}
		o->s = n;
		o->caps = ncap;
	}
	n = &o->s[o->ns];
	if ((n->labels = strdup(labels)) == NULL) {
		o->failed = 1;
		return;
	}
	n->name = name;
	n->help = help;
	n->type = type;
	n->value = value;
	n->group = group == SIZE_MAX ? o->ns : group;
	o->ns++;
}

/* The samples, grouped by name, HELP and TYPE first. */
static void
out_write(struct metrics_out *o)
{
	const struct sample *s;
	size_t	 g, i;

	for (g = 0; g < o->ns; g++) {
		if (o->s[g].group != g)
			continue;	/* written with its group */
		s = &o->s[g];
		out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", s->name,
		    s->help, s->name, s->type);
		for (i = g; i < o->ns; i++) {
			s = &o->s[i];
			if (s->group != g)
				continue;
			if (s->labels[0] != '\0')
				out_printf(o, "%s{%s} %.17g\n", s->name,
				    s->labels, s->value);
			else
				out_printf(o, "%s %.17g\n", s->name, s->value);
		}
	}
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

struct metrics_snap {
	struct sample *s;
	size_t	 n;
};

struct metrics_snap *
metrics_snapshot(struct metrics *m)
{
	struct metrics_out o;
	struct metrics_snap *snap;
	size_t	 i;

	memset(&o, 0, sizeof(o));
	for (i = 0; m != NULL && i < m->n; i++)
		m->c[i].cb(m->c[i].arg, &o);
	if (o.failed || (snap = calloc(1, sizeof(*snap))) == NULL) {
		for (i = 0; i < o.ns; i++)
			free(o.s[i].labels);
		free(o.s);
		return NULL;
	}
	snap->s = o.s;
	snap->n = o.ns;
	return snap;
}

void
metrics_snap_free(struct metrics_snap *snap)
{
	size_t	 i;

	if (snap == NULL)
		return;
	for (i = 0; i < snap->n; i++)
		free(snap->s[i].labels);
	free(snap->s);
	free(snap);
}

void
metrics_add_snap(struct metrics_out *o, const struct metrics_snap *snap)
{
	const struct sample *s;
	size_t	 i;

	for (i = 0; snap != NULL && i < snap->n; i++) {
		s = &snap->s[i];
		out_sample(o, s->name, s->help, s->type, s->labels, s->value);
	}
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
	out_write(&o);
	for (i = 0; i < o.ns; i++)
		free(o.s[i].labels);
	free(o.s);
	if (o.failed) {
		log_warnx("metrics: exposition too large or out of memory");
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
