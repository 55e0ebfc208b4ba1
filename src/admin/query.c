/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * query.c: the admin API's query strings.  Values are percent-decoded
 * ('+' is a space; %00 is refused), each into a buffer of the caller's
 * size, and a parameter given twice is an error, so a request cannot say
 * two things at once.  Paths are decoded with the same admin_pct_decode,
 * without the '+' rule (route.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin_priv.h"
#include "util/validate.h"

#define ADMIN_LIMIT_DEFAULT	1000
#define ADMIN_LIMIT_MAX		10000

/*
 * Percent-decodes s[0..n) into out (size bytes); '+' is a space when plus
 * is set (query strings).  0, or -1 (bad escape, %00, too long).
 */
int
admin_pct_decode(const char *s, size_t n, char *out, size_t size, int plus)
{
	size_t	 i, o = 0;
	int	 h, l;

	for (i = 0; i < n; i++) {
		char	 c = s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			h = hex_digit((unsigned char)s[i + 1]);
			l = hex_digit((unsigned char)s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The value of name in the query: 1 found (decoded into out), 0 absent,
 * -1 malformed, too long or given twice.
 */
int
admin_query_get(const char *query, const char *name, char *out, size_t size)
{
	const char *p = query, *amp, *eq;
	size_t	 nlen = strlen(name), klen;
	int	 found = 0;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		klen = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', klen);
		if ((eq != NULL ? (size_t)(eq - p) : klen) == nlen &&
		    strncmp(p, name, nlen) == 0) {
			if (found)
				return -1;
			found = 1;
			if (eq == NULL)
				out[0] = '\0';
			else if (admin_pct_decode(eq + 1, klen - nlen - 1, out,
			    size, 1) == -1)
				return -1;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return found;
}

/* Parses limit= (default, at most ADMIN_LIMIT_MAX); 0 or -1. */
int
admin_query_limit(const char *q, size_t *limit)
{
	char	 v[32], *end;
	unsigned long long n;
	int	 r;

	*limit = ADMIN_LIMIT_DEFAULT;
	if ((r = admin_query_get(q, "limit", v, sizeof(v))) == -1)
		return -1;
	if (r == 0)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] == '\0' || !isdigit((unsigned char)v[0]) || *end != '\0' ||
	    errno != 0 || n == 0)
		return -1;
	*limit = n > ADMIN_LIMIT_MAX ? ADMIN_LIMIT_MAX : (size_t)n;
	return 0;
}


int
admin_query_page(const char *q, struct ops_page *pg,
    char after[OTA_ID_MAX + 1], struct http_resp *resp)
{
	int	 ra;

	memset(pg, 0, sizeof(*pg));
	if ((ra = admin_query_get(q, "after", after, OTA_ID_MAX + 1)) == -1)
		return admin_bad(resp, "bad query: after (at most once, "
		    "percent-encoded, an id)");
	if (admin_query_limit(q, &pg->limit) == -1)
		return admin_bad(resp, "limit must be a number from 1");
	pg->after = ra ? after : NULL;
	return 0;
}

int
admin_query_fields(const char *query, struct admin_qfield *f, size_t n,
    char *msg, size_t msglen)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((f[i].has = admin_query_get(query, f[i].name, f[i].out,
		    f[i].size)) == -1) {
			snprintf(msg, msglen, "bad query parameter %s "
			    "(repeated, badly percent-encoded or too long)",
			    f[i].name);
			return -1;
		}
	return 0;
}
