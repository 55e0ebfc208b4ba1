/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * validate.c: the name and value rules of the wire contract, and the small
 * text helpers every module needs (UTF-8 length, hex, RFC 3339 times).
 *
 * Everything here is a pure function over caller memory: no allocation,
 * no global state, no locale.  The character classes are spelled out as
 * ASCII tests rather than <ctype.h> calls so that a locale can never widen
 * what a name may contain.
 *
 * Firmware names count characters, not bytes: "CJK" means the CJK Unified
 * Ideographs blocks (U+4E00..U+9FFF, extension A U+3400..U+4DBF, extensions
 * B..I in planes 2 and 3) and the CJK Compatibility Ideographs (U+F900..
 * U+FAFF, U+2F800..U+2FA1F).  Letters and digits are ASCII.
 *
 * Free text (firmware descriptions, progress "desc") must be valid UTF-8
 * without control characters other than tab, CR and LF.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "util/validate.h"

#define NAME_MAX_CHARS	32
#define DESC_MAX_CHARS	100
#define PDESC_MAX_CHARS	128
#define ID_MAX_CHARS	64

static int
is_alnum(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* 1..64 characters, each alphanumeric or one of extra. */
static int
valid_token(const char *s, const char *extra)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= ID_MAX_CHARS)
			return 0;
		if (!is_alnum((unsigned char)s[i]) &&
		    strchr(extra, s[i]) == NULL)
			return 0;
	}
	return i > 0;
}

int
valid_product(const char *s)
{
	return valid_token(s, "_-");
}

int
valid_device_id(const char *s)
{
	return valid_token(s, "_.:@-");
}

int
valid_module(const char *s)
{
	return valid_token(s, "._-");
}

int
valid_version(const char *s)
{
	return valid_token(s, "._-");
}

int
valid_id(const char *s)
{
	return valid_token(s, "_-");
}

/* ":port" with 1..5 digits, 1-65535, or "" (no port). */
static int
valid_port_suffix(const char *s)
{
	unsigned long v = 0;
	size_t	 i;

	if (*s == '\0')
		return 1;
	if (*s++ != ':')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 5 || !is_digit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return i > 0 && v >= 1 && v <= 65535;
}

int
valid_authority(const char *s)
{
	const char *end;
	size_t	 i, label = 0, n;
	int	 colons = 0;

	if (s == NULL || *s == '\0')
		return 0;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end - s < 3 ||
		    end - s > 46)
			return 0;
		for (i = 1; s + i < end; i++) {
			if (s[i] == ':')
				colons++;
			else if (hex_digit((unsigned char)s[i]) < 0 &&
			    s[i] != '.')
				return 0;
		}
		return colons >= 2 && valid_port_suffix(end + 1);
	}
	end = strchr(s, ':');
	n = end != NULL ? (size_t)(end - s) : strlen(s);
	if (n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (is_alnum((unsigned char)s[i]) ||
		    (s[i] == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	if (label == 0 || s[n - 1] == '-')
		return 0;
	return valid_port_suffix(s + n);
}

/*
 * Decodes one UTF-8 sequence from s (at most len bytes).  Returns its
 * length in bytes and sets *cp, or 0 when the bytes are not a well-formed
 * sequence: a stray continuation byte, a truncated sequence, an overlong
 * form, a surrogate, or a code point above U+10FFFF.
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int
is_cjk(uint32_t c)
{
	return (c >= 0x4e00 && c <= 0x9fff) ||	/* unified */
	    (c >= 0x3400 && c <= 0x4dbf) ||	/* extension A */
	    (c >= 0xf900 && c <= 0xfaff) ||	/* compatibility */
	    (c >= 0x20000 && c <= 0x2a6df) ||	/* extension B */
	    (c >= 0x2a700 && c <= 0x2ee5f) ||	/* extensions C, D, E, F, I */
	    (c >= 0x2f800 && c <= 0x2fa1f) ||	/* compatibility supplement */
	    (c >= 0x30000 && c <= 0x323af);	/* extensions G, H */
}

/*
 * Walks len bytes of s as UTF-8, each character through ok(c, n) (n counts
 * from 1; NULL: any character).  Returns how many characters there are,
 * or -1 for invalid UTF-8, a character ok refuses, or more than max.
 */
static long
utf8_walk(const char *s, size_t len, long max, int (*ok)(uint32_t, long))
{
	const unsigned char *p = (const unsigned char *)s;
	size_t off = 0, n;
	long count = 0;
	uint32_t c;

	if (s == NULL && len > 0)
		return -1;
	while (off < len) {
		if ((n = utf8_decode(p + off, len - off, &c)) == 0)
			return -1;
		if (++count > max || (ok != NULL && !ok(c, count)))
			return -1;
		off += n;
	}
	return count;
}

long
utf8_length(const char *s, size_t len)
{
	return utf8_walk(s, len, LONG_MAX, NULL);
}

/* Letters, digits, CJK; then also _ - ( ). */
static int
fw_name_char(uint32_t c, long n)
{
	if (is_cjk(c) || (c < 0x80 && is_alnum((int)c)))
		return 1;
	return n > 1 && (c == '_' || c == '-' || c == '(' || c == ')');
}

int
valid_filename(const char *s)
{
	size_t	 i;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= OTA_FILENAME_MAX || (!is_alnum((unsigned char)s[i]) &&
		    strchr("._-", s[i]) == NULL))
			return 0;
	return 1;
}

int
valid_fw_name(const char *s)
{
	return s != NULL &&
	    utf8_walk(s, strlen(s), NAME_MAX_CHARS, fw_name_char) > 0;
}

/* No control characters but tab, LF and CR. */
static int
text_char(uint32_t c, long n)
{
	(void)n;
	return !((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
	    c == 0x7f);
}

/* Valid UTF-8, text characters only, <= max chars. */
static int
valid_text(const char *s, long max)
{
	return s != NULL && utf8_walk(s, strlen(s), max, text_char) >= 0;
}

int
valid_fw_description(const char *s)
{
	return valid_text(s, DESC_MAX_CHARS);
}

int
valid_progress_desc(const char *s)
{
	return valid_text(s, PDESC_MAX_CHARS);
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *hex, uint8_t *out, size_t max, size_t *len)
{
	size_t n, i;
	int hi, lo;

	if (hex == NULL)
		return -1;
	n = strlen(hex);
	if (n % 2 != 0 || n / 2 > max)
		return -1;
	/* Check everything first: nothing is written for bad input. */
	for (i = 0; i < n; i++)
		if (hex_digit((unsigned char)hex[i]) < 0)
			return -1;
	for (i = 0; i < n / 2; i++) {
		hi = hex_digit((unsigned char)hex[2 * i]);
		lo = hex_digit((unsigned char)hex[2 * i + 1]);
		out[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
	}
	if (len != NULL)
		*len = n / 2;
	return 0;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back.  Eras of
 * 400 years (146097 days) make both directions exact for any year.
 */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned days[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Exactly n decimal digits at *p; advances *p. */
static int
parse_digits(const char **p, int n, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/*
 * date-time per RFC 3339 section 5.6: YYYY-MM-DDTHH:MM:SS[.frac] then Z or
 * +hh:mm / -hh:mm.  'T' and 'Z' may be lowercase.  Fractions are truncated
 * to milliseconds; a leap second (:60) counts as the next second.
 */
int
time_parse_rfc3339(const char *s, int64_t *ms)
{
	unsigned year, mon, mday, hour, min, sec, oh, om, frac = 0;
	const char *p = s;
	int64_t days, t, off = 0;
	int digits = 0;

	if (s == NULL)
		return -1;
	if (parse_digits(&p, 4, &year) == -1 || *p++ != '-' ||
	    parse_digits(&p, 2, &mon) == -1 || *p++ != '-' ||
	    parse_digits(&p, 2, &mday) == -1 || (*p != 'T' && *p != 't'))
		return -1;
	p++;
	if (parse_digits(&p, 2, &hour) == -1 || *p++ != ':' ||
	    parse_digits(&p, 2, &min) == -1 || *p++ != ':' ||
	    parse_digits(&p, 2, &sec) == -1)
		return -1;
	if (mon < 1 || mon > 12 || mday < 1 || mday > month_days(year, mon) ||
	    hour > 23 || min > 59 || sec > 60)
		return -1;
	if (*p == '.') {
		p++;
		if (!is_digit((unsigned char)*p))
			return -1;
		for (; is_digit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (unsigned)(*p - '0');
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;

		p++;
		if (parse_digits(&p, 2, &oh) == -1 || *p++ != ':' ||
		    parse_digits(&p, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		off = sign * (int64_t)(oh * 60 + om) * 60;
	} else
		return -1;
	if (*p != '\0')
		return -1;

	days = days_from_civil(year, mon, mday);
	t = days * 86400 + hour * 3600 + min * 60 + sec - off;
	if (ms != NULL)
		*ms = t * 1000 + frac;
	return 0;
}

void
time_format_rfc3339(int64_t ms, char out[32])
{
	int64_t secs, days, rem, year;
	unsigned mon, mday, msec;

	/* Floor division, so that times before 1970 format correctly. */
	secs = ms / 1000;
	if (ms % 1000 < 0)
		secs--;
	msec = (unsigned)(ms - secs * 1000);
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &year, &mon, &mday);
	/* Years of int64 ms have at most 12 digits: this fits in 32 bytes. */
	snprintf(out, 32, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
	    (long long)year, mon, mday, (unsigned)(rem / 3600),
	    (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), msec);
}

int64_t
time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Splits an id into its prefix (*plen bytes) and the digits of its number
 * (*nlen bytes, 0 when it has none): "j-10" is "j" and "10".  A number is
 * the digits after the last '-', at least one, the first not a '0'.
 */
static void
id_split(const unsigned char *p, size_t len, size_t *plen, size_t *nlen)
{
	size_t	 i = len;

	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	if (i > 0 && i < len && p[i - 1] == '-' && p[i] != '0') {
		*plen = i - 1;
		*nlen = len - i;
	} else {
		*plen = len;
		*nlen = 0;
	}
}

/* Bytes in order, a shorter string before its extensions. */
static int
bytes_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	int	 c;

	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/*
 * Compares (prefix, has a number, number of digits, digits): without
 * leading zeros, more digits is a larger number.  The mapping from an id
 * to that tuple is one to one, so this is a total order.
 */
int
id_cmp_n(const void *va, size_t alen, const void *vb, size_t blen)
{
	const unsigned char *a = va, *b = vb;
	size_t	 ap, an, bp, bn;
	int	 c;

	id_split(a, alen, &ap, &an);
	id_split(b, blen, &bp, &bn);
	if ((c = bytes_cmp(a, ap, b, bp)) != 0)
		return c;
	if ((an > 0) != (bn > 0))
		return an > 0 ? 1 : -1;
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp(a + alen - an, b + blen - bn, an);
}

int
id_cmp(const char *a, const char *b)
{
	return id_cmp_n(a, strlen(a), b, strlen(b));
}

int
str_copy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (dst == NULL || src == NULL || size == 0)
		return -1;
	n = strlen(src);
	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}
